//! One connection: a reader that checks and routes each frame, and a writer that alone writes to the
//! socket, in queue order. Generic over the socket's halves, so tests can drive it with channels.
//!
//! The writer keeps, per thread, the last `seq` it sent: an event is sent once, even when it arrives both
//! live and in a `resume` replay, and a replay subscribes before it reads the store, so nothing stored
//! in between is missed.

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ConnectionContext;
use super::router::MessageRouter;
use crate::auth::Principal;
use crate::hub::Outbound;
use crate::protocol::{self, ErrorCode, Event};
use crate::quota::ConnectionSlot;
use crate::state::AppState;

/// Queued messages per connection before it counts as too slow and is closed (it can resume).
const QUEUE: usize = 1024;

/// Events read from the store per page of a replay.
const REPLAY_PAGE: usize = 256;

/// Close codes (RFC 6455).
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const TOO_BIG: u16 = 1009;
    pub const POLICY: u16 = 1008;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Serves one authenticated socket until it closes.
pub async fn serve<W, R>(sink: W, stream: R, state: AppState, principal: Principal, slot: ConnectionSlot)
where
    W: Sink<Message> + Unpin + Send + 'static,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin + Send + 'static,
{
    let (outbound, queue) = mpsc::channel(QUEUE);
    let token_lifetime = principal.remaining();
    let connection = ConnectionContext {
        connection_id: uuid::Uuid::new_v4().to_string(),
        user_id: principal.user_id,
        outbound,
        overflow: CancellationToken::new(),
    };
    state.metrics.connection_opened();
    // Per-connection lines are debug: /metrics counts connections, and at thousands a second the lines
    // would cost more than they tell.
    tracing::debug!(connection_id = %connection.connection_id, user_id = %connection.user_id, "connected");
    let ready = protocol::connection_ready(
        &connection.connection_id,
        &connection.user_id,
        state.config.heartbeat.as_secs(),
    );
    connection.send(Outbound::Text(ready)).await;

    let writer_done = CancellationToken::new();
    let reader_done = CancellationToken::new();
    let expires = tokio::time::Instant::now() + token_lifetime;
    let writer = tokio::spawn(write_loop(
        sink,
        queue,
        expires,
        connection.clone(),
        state.clone(),
        reader_done.clone(),
        writer_done.clone(),
    ));
    let router = MessageRouter::for_state(&state);
    read_loop(stream, &connection, &slot, &state, &router, &writer_done).await;
    reader_done.cancel();
    state.hub.unsubscribe_connection(&connection.connection_id);
    let _ = writer.await;
    state.metrics.connection_closed();
    tracing::debug!(connection_id = %connection.connection_id, "disconnected");
}

async fn read_loop<R>(
    mut stream: R,
    connection: &ConnectionContext,
    slot: &ConnectionSlot,
    state: &AppState,
    router: &MessageRouter,
    writer_done: &CancellationToken,
) where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let limit = state.config.max_frame_bytes;
    loop {
        let frame = tokio::select! {
            biased;
            _ = writer_done.cancelled() => return,
            _ = state.lifecycle.close_connections.cancelled() => return,
            frame = stream.next() => frame,
        };
        let error = |code: ErrorCode, message: &str| {
            state.metrics.error(code);
            Outbound::Text(protocol::error(code, message, None, None))
        };
        match frame {
            None | Some(Ok(Message::Close(_))) => return,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Text(text))) if text.len() > limit => {
                state.metrics.error(ErrorCode::MessageTooLarge);
                connection
                    .send(Outbound::Close(close::TOO_BIG, "message too large"))
                    .await;
                return;
            }
            Some(Ok(Message::Binary(bytes))) if bytes.len() > limit => {
                state.metrics.error(ErrorCode::MessageTooLarge);
                connection
                    .send(Outbound::Close(close::TOO_BIG, "message too large"))
                    .await;
                return;
            }
            Some(Ok(_)) if !slot.try_take_message() => {
                connection
                    .send(error(ErrorCode::RateLimited, "too many messages; slow down"))
                    .await;
            }
            Some(Ok(Message::Binary(_))) => {
                connection
                    .send(error(
                        ErrorCode::InvalidMessage,
                        "binary frames are not accepted; send JSON text",
                    ))
                    .await;
            }
            Some(Ok(Message::Text(text))) => router.route(connection, text.as_str()).await,
            Some(Err(error)) => {
                let (code, reason) = close_for(&error);
                tracing::info!(connection_id = %connection.connection_id, %error, "protocol violation");
                connection.send(Outbound::Close(code, reason)).await;
                return;
            }
        }
    }
}

/// The close code for a read error. The socket library's error types are not public through axum, so
/// the error's text is what tells a size limit from bad UTF-8 from any other violation.
fn close_for(error: &axum::Error) -> (u16, &'static str) {
    let text = error.to_string();
    // A control frame over 125 bytes breaks the framing rules (RFC 6455 5.5); it is not a size limit.
    if text.contains("Control frame too big") {
        (close::PROTOCOL_ERROR, "control frame over 125 bytes")
    } else if text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big") {
        (close::TOO_BIG, "message too large")
    } else if text.to_lowercase().contains("utf-8") || text.contains("utf8") {
        (close::INVALID_PAYLOAD, "text frame is not valid UTF-8")
    } else {
        (close::PROTOCOL_ERROR, "protocol error")
    }
}

/// The one task that writes to the socket.
struct Writer<W> {
    sink: W,
    connection: ConnectionContext,
    state: AppState,
    last_sent: HashMap<String, u64>,
}

enum Written {
    Continue,
    Stop,
}

impl<W: Sink<Message> + Unpin> Writer<W> {
    async fn send_text(&mut self, text: String) -> Written {
        let send = self.sink.send(Message::Text(Utf8Bytes::from(text)));
        match tokio::time::timeout(self.state.config.write_timeout, send).await {
            Ok(Ok(())) => Written::Continue,
            Ok(Err(_)) => Written::Stop,
            Err(_) => {
                // A client that stopped reading: closing frees what it holds; it can resume later.
                tracing::info!(connection_id = %self.connection.connection_id, "a write timed out; closing the connection");
                Written::Stop
            }
        }
    }

    /// Sends a live event: once, and never after a later one of its thread. An event that comes
    /// before the ones preceding it (with several nodes, a run taken over while this node still
    /// delivers the old owner's last events) is sent after them, read from the store, where they are:
    /// `seq` is stamped in commit order.
    async fn send_event(&mut self, event: &Event) -> Written {
        match self.last_sent.get(&event.thread_id) {
            Some(&last) if event.seq <= last => Written::Continue,
            Some(&last) if event.seq > last + 1 => self.replay(&event.thread_id, last).await,
            _ => self.send_next(event).await,
        }
    }

    /// Sends the next event of its thread.
    async fn send_next(&mut self, event: &Event) -> Written {
        if self
            .last_sent
            .get(&event.thread_id)
            .is_some_and(|&last| event.seq <= last)
        {
            return Written::Continue;
        }
        self.last_sent.insert(event.thread_id.clone(), event.seq);
        self.state.metrics.event_sent();
        self.send_text(event.to_json()).await
    }

    /// Sends the thread's stored events after `after_seq`, a page at a time, so a long history never
    /// sits whole in memory and a client that stops reading stops the reads too.
    async fn replay(&mut self, thread_id: &str, mut after_seq: u64) -> Written {
        loop {
            let page = match self.state.store.events_page(thread_id, after_seq, REPLAY_PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "cannot read events for resume");
                    self.state.metrics.error(ErrorCode::Internal);
                    return self
                        .send_text(protocol::error(ErrorCode::Internal, "internal error", None, None))
                        .await;
                }
            };
            let complete = page.len() < REPLAY_PAGE;
            for event in page {
                after_seq = event.seq;
                if let Written::Stop = self.send_next(&event).await {
                    return Written::Stop;
                }
            }
            if complete {
                return Written::Continue;
            }
        }
    }

    async fn handle(&mut self, item: Outbound) -> Written {
        match item {
            Outbound::Event(event) => self.send_event(&event).await,
            Outbound::Text(text) => self.send_text(text).await,
            Outbound::Replay {
                thread_id,
                after_seq,
                resend,
            } => {
                self.state.hub.subscribe(&thread_id, &self.connection.subscriber());
                // A connection already subscribed has sent the thread's events in order, without a
                // gap, up to its last: following a run from earlier must not send them twice.
                let from = match self.last_sent.get(&thread_id) {
                    Some(&sent) if !resend => sent.max(after_seq),
                    _ => after_seq,
                };
                self.last_sent.insert(thread_id.clone(), from);
                self.replay(&thread_id, from).await
            }
            Outbound::Close(code, reason) => {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                };
                let close = self.sink.send(Message::Close(Some(frame)));
                let _ = tokio::time::timeout(self.state.config.write_timeout, close).await;
                Written::Stop
            }
        }
    }
}

async fn write_loop<W>(
    sink: W,
    mut queue: mpsc::Receiver<Outbound>,
    token_expires: tokio::time::Instant,
    connection: ConnectionContext,
    state: AppState,
    reader_done: CancellationToken,
    writer_done: CancellationToken,
) where
    W: Sink<Message> + Unpin,
{
    let mut heartbeat = tokio::time::interval(state.config.heartbeat);
    heartbeat.tick().await;
    let shutdown = state.lifecycle.close_connections.clone();
    let overflow = connection.overflow.clone();
    let mut writer = Writer {
        sink,
        connection,
        state,
        last_sent: HashMap::new(),
    };
    loop {
        let item = tokio::select! {
            biased;
            item = queue.recv() => match item {
                Some(item) => item,
                None => break,
            },
            _ = overflow.cancelled() => Outbound::Close(close::TRY_AGAIN_LATER, "reconnect later and resume"),
            _ = shutdown.cancelled() => Outbound::Close(close::GOING_AWAY, "the gateway is shutting down"),
            _ = reader_done.cancelled() => Outbound::Close(close::NORMAL, "closing"),
            () = tokio::time::sleep_until(token_expires) => Outbound::Close(close::POLICY, "token expired; reconnect with a fresh token"),
            _ = heartbeat.tick() => Outbound::Text(protocol::heartbeat()),
        };
        if let Written::Stop = writer.handle(item).await {
            break;
        }
    }
    let _ = tokio::time::timeout(writer.state.config.write_timeout, writer.sink.close()).await;
    writer_done.cancel();
}
