//! The real-time AI-agent gateway (PROTOCOL.md): JWT auth before one WebSocket per client, one router,
//! one message handler, one execution-context factory, one engine, one notifier, and an event store
//! (SQLite for one node, PostgreSQL shared by several), so every run's five critical events reach the
//! right user, in order, durably, whichever node the user is connected to.

pub mod agent;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod context;
pub mod emitter;
pub mod engine;
pub mod error;
pub mod hub;
pub mod lifecycle;
pub mod metrics;
pub mod notifier;
pub mod protocol;
pub mod quota;
pub mod rate_limit;
pub mod state;
pub mod store;
pub mod tools;
pub mod ws;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use serde_json::json;
use tokio::net::TcpListener;

use error::AppError;
pub use state::AppState;

/// The HTTP routes: `/v1/ws`, `/healthz`, `/readyz`, `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    if state.lifecycle.is_draining() {
        return Err(AppError::unavailable("draining"));
    }
    if !state.store.ping().await {
        return Err(AppError::unavailable("the event store is unreachable"));
    }
    Ok(axum::Json(
        json!({ "status": "ready", "store": state.store.kind(), "node": state.store.node_id() }),
    ))
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.store_failures(state.store.failures());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// Serves until `shutdown` resolves, then drains: stop accepting, finish or cancel runs after the grace
/// period, close sockets with 1001. Runs a previous process left unfinished are completed first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Err(error) = state.store.set_busy_timeout(state.config.store_busy_timeout).await {
        tracing::error!(%error, "cannot set the database's busy timeout");
    }
    let mut shutdown = std::pin::pin!(shutdown);
    if !recover_before_serving(&state, shutdown.as_mut()).await {
        return Ok(());
    }
    // HTTP is answered through the drain (`/readyz` says 503, an upgrade is refused with 503) and
    // stops only once every socket is closed.
    let stop = tokio_util::sync::CancellationToken::new();
    let stop_serving = stop.clone();
    // Events go out as small frames one after another; with Nagle's algorithm each would wait for the
    // previous one's acknowledgement, which a client's delayed ACK holds back.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot disable Nagle's algorithm on a connection");
        }
    });
    let server =
        axum::serve(listener, app(state.clone())).with_graceful_shutdown(async move { stop.cancelled().await });
    let server = tokio::spawn(async move { server.await });
    let pruning = tokio::spawn(prune_periodically(state.clone()));
    let cluster = cluster::Cluster {
        store: state.store.clone(),
        hub: state.hub.clone(),
        engine: state.engine.clone(),
        metrics: state.metrics.clone(),
        lease: state.config.lease,
    };
    if let Some(signals) = state.store.take_signals() {
        tokio::spawn(cluster.clone().follow(signals));
    }
    let lease = tokio::spawn(cluster.clone().keep_lease());
    let takeover = tokio::spawn(cluster.take_over());
    let lifecycle = state.lifecycle.clone();
    tokio::select! {
        () = shutdown => {}
        () = lifecycle.stop_accepting.cancelled() => {}
    }
    tracing::info!("shutting down");
    pruning.abort();
    // A draining node takes over nothing more; what it claimed and had not ended yet is claimed again
    // by another node once this one's lease is gone.
    takeover.abort();
    lifecycle.shut_down(state.config.shutdown_grace).await;
    // Every run of this node has ended (or was left to recovery): the lease goes at once, so another
    // node takes over what is left without waiting for it to expire.
    lease.abort();
    if let Err(error) = state.store.release_lease().await {
        tracing::warn!(%error, "cannot give up this node's lease; it expires on its own");
    }
    stop_serving.cancel();
    server.await.map_err(std::io::Error::other)?
}

/// Applies the history limits now and then, for as long as the gateway serves. A failed pruning (the
/// database locked elsewhere) is logged and tried again at the next interval: nothing depends on it
/// being on time.
async fn prune_periodically(state: AppState) {
    let mut interval = tokio::time::interval(state.config.prune_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match state.store.prune(state.config.history).await {
            Ok(pruned) if pruned.threads > 0 => tracing::info!(
                threads = pruned.threads,
                events = pruned.events,
                bytes = pruned.bytes,
                messages = pruned.messages,
                "removed history beyond the limits"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot prune the history now; trying again later"),
        }
    }
}

/// Completes the runs a previous process left unfinished, retrying while the database refuses writes:
/// no run may start first, or a thread's new run could interleave with an old run's end. False when
/// shutdown came before the database did.
async fn recover_before_serving(state: &AppState, mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
    let mut pause = Duration::from_millis(100);
    loop {
        match state.engine.recover_interrupted_runs().await {
            Ok(0) => return true,
            Ok(n) => {
                tracing::warn!(runs = n, "completed runs left unfinished by the previous process");
                return true;
            }
            Err(error) => {
                tracing::error!(%error, retry_in_ms = pause.as_millis() as u64, "cannot recover unfinished runs yet; not serving until they are");
            }
        }
        tokio::select! {
            () = shutdown.as_mut() => return false,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}
