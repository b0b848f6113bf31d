//! Read connections of the store, kept in a small pool: reads run on tokio's blocking pool, each on a
//! connection of its own, so they never wait for the writer (WAL lets readers and one writer go
//! together) nor for each other.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// Idle read connections kept for reuse; more are opened when every kept one is busy.
const KEPT: usize = 8;

/// The pool of read connections to one database file. Cloning shares it.
#[derive(Clone)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    /// Read connections to the database at `path` (opened when first needed).
    pub(super) fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `work` on a read connection, on the blocking pool.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = work(&conn);
            pool.give_back(conn);
            result
        })
        .await?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let kept = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match kept {
            Some(conn) => Ok(conn),
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(conn)
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEPT {
            idle.push(conn);
        }
    }
}
