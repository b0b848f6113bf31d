//! Startup and shutdown state shared by the server, the engine and every connection.
//!
//! Shutdown drains in order: stop accepting, let runs finish (or cancel them after the grace period, each
//! still ending with `agent_completed`), then close every socket with 1001 once its queued events are
//! written. axum's graceful shutdown does not wait for upgraded sockets, hence the task trackers.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Tokens and trackers for an orderly shutdown.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    /// Cancelled when the gateway stops accepting connections and new runs.
    pub stop_accepting: CancellationToken,
    /// The parent of every run's cancellation.
    pub runs: CancellationToken,
    /// Cancelled when connections must close (1001).
    pub close_connections: CancellationToken,
    /// Every run task.
    pub run_tasks: TaskTracker,
    /// Every connection task.
    pub connection_tasks: TaskTracker,
}

impl Lifecycle {
    /// Whether the gateway is shutting down.
    pub fn is_draining(&self) -> bool {
        self.stop_accepting.is_cancelled()
    }

    /// Drains: stop accepting, wait up to `grace` for runs, cancel the rest, then close connections.
    pub async fn shut_down(&self, grace: std::time::Duration) {
        self.stop_accepting.cancel();
        self.run_tasks.close();
        if tokio::time::timeout(grace, self.run_tasks.wait()).await.is_err() {
            tracing::info!("grace period over; cancelling the remaining runs");
            self.runs.cancel();
            self.run_tasks.wait().await;
        }
        self.close_connections.cancel();
        self.connection_tasks.close();
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.connection_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close in time");
        }
    }
}
