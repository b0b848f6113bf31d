//! WAL checkpoints off the write path: the writer never checkpoints (the database's automatic
//! checkpoint is turned off on its connection); a thread of its own copies the WAL back into the
//! database now and then, on its own connection. With `synchronous = NORMAL` the checkpoint is where
//! SQLite syncs to disk, so the writer's commits never wait for a sync.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often the WAL is checkpointed.
const EVERY: Duration = Duration::from_millis(500);

/// Keeps the checkpoint thread going; dropping the last clone stops it.
#[derive(Clone)]
pub(super) struct Checkpointer {
    _running: std::sync::Arc<mpsc::Sender<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (running, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // PASSIVE never waits for readers or the writer; what it cannot copy now waits for the next.
                    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(%error, "WAL checkpoint failed; retried later");
                    }
                }
            })
            .map_err(|e| StoreError::Thread(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            _running: std::sync::Arc::new(running),
        })
    }
}
