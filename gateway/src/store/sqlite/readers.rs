//! The store's readers: a few threads of their own, each with one read-only connection, taking reads
//! from one queue. Reads never wait for the writer (WAL lets readers and one writer go together), keep
//! their prepared statements from one read to the next, and cost no thread or connection per read.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::StoreError;

/// Reader threads: reads are short, but a page of a long replay should not hold up a thread's owner check.
const THREADS: usize = 3;

/// One queued read: runs on a reader's connection and answers its caller itself.
type Read = Box<dyn FnOnce(&Connection) + Send>;

/// The handle to the reader threads; cloning shares them. They end when the last handle is dropped.
#[derive(Clone)]
pub(super) struct Readers {
    reads: mpsc::Sender<Read>,
}

impl Readers {
    /// Opens the read connections to the database at `path` and starts a thread for each.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let (reads, queue) = mpsc::channel::<Read>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..THREADS {
            let conn =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("store-reader-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next read, never while running one.
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok(read) => read(&conn),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| StoreError::Thread(format!("cannot start a reader thread: {e}")))?;
        }
        Ok(Readers { reads })
    }

    /// Runs `work` on a read connection and returns its result.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (caller, answered) = oneshot::channel();
        let read: Read = Box::new(move |conn| {
            // The caller may have stopped waiting (its task was cancelled): nothing to tell then.
            let _ = caller.send(work(conn));
        });
        self.reads
            .send(read)
            .map_err(|_| StoreError::Thread("the reader threads have stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Thread("a reader thread stopped before answering".into()))?
    }
}
