//! The WebSocket endpoint: authentication before the upgrade, then one connection loop per socket.

pub mod connection;
pub mod handler;
pub mod router;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::AppError;
use crate::hub::{Outbound, Subscriber};
use crate::protocol::SUBPROTOCOL;
use crate::state::AppState;

/// The read buffer each connection starts with.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// One authenticated connection, as the router and handler see it.
#[derive(Clone, Debug)]
pub struct ConnectionContext {
    /// The connection's id.
    pub connection_id: String,
    /// The authenticated user.
    pub user_id: String,
    /// The connection's writer queue.
    pub outbound: mpsc::Sender<Outbound>,
    /// Cancelled when the queue overflows.
    pub overflow: CancellationToken,
}

impl ConnectionContext {
    /// This connection as a subscriber of threads.
    pub fn subscriber(&self) -> Subscriber {
        Subscriber {
            connection_id: self.connection_id.clone(),
            sender: self.outbound.clone(),
            overflow: self.overflow.clone(),
        }
    }

    /// Queues a connection-level message (dropped if the connection is gone).
    pub async fn send(&self, message: Outbound) {
        let _ = self.outbound.send(message).await;
    }
}

/// `GET /v1/ws`: 401 without a valid token, else the upgrade (selecting `agent-gateway.v1` if offered).
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    if state.lifecycle.is_draining() {
        return Err(AppError::unavailable("the gateway is shutting down"));
    }
    let principal = state.auth.authenticate(&headers).inspect_err(|error| {
        state.metrics.error(crate::protocol::ErrorCode::Unauthorized);
        tracing::info!(reason = %error, "refused an upgrade");
    })?;
    let Some(slot) = state.connections.acquire(&principal.user_id) else {
        state.metrics.error(crate::protocol::ErrorCode::TooManyConnections);
        return Err(AppError::too_many_connections(state.connections.limit()));
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let offered = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    // Frames up to four times the limit are read and refused with 1009 by the connection loop itself.
    let read_limit = state.config.max_frame_bytes.saturating_mul(4).max(1 << 20);
    let mut upgrade = upgrade
        .max_message_size(read_limit)
        .max_frame_size(read_limit)
        // An idle connection should cost little: the library's default buffers are 128 KiB each, sized
        // for bulk transfer, while client messages are small and every event is flushed as it is sent.
        // A larger frame grows the read buffer as it arrives.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0);
    if offered {
        upgrade = upgrade.protocols([SUBPROTOCOL]);
    }
    let tracker = state.lifecycle.connection_tasks.clone();
    Ok(upgrade.on_upgrade(move |socket| {
        let (sink, stream) = futures_util::StreamExt::split(socket);
        tracker.track_future(connection::serve(sink, stream, state, principal, slot))
    }))
}
