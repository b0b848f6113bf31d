//! The store's one writer: a dedicated thread owning the one write connection. Writes from every run
//! queue to it; it takes all that are waiting (up to a batch), runs them in one transaction and commits
//! them together (group commit). A write is answered only after the commit, so an event is never sent
//! before it is durable. A write that fails rolls the transaction back; it is answered with its error
//! and the others are run again without it, so one failing write never costs another its write (and
//! the common case pays for no savepoint).

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::StoreError;

/// Most writes committed in one transaction: bounds how long the first of them waits for the last.
const MAX_BATCH: usize = 512;

/// One queued write: run inside the batch's transaction (again if the batch is rolled back because of
/// another write), then answered with its own outcome or with why the batch as a whole failed.
trait Write: Send {
    /// Runs the write, keeping its outcome; whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: `batch_failure` is `None` when the batch was committed.
    fn answer(self: Box<Self>, batch_failure: Option<&str>);
}

/// A write of some work returning `T`, with the channel its caller waits on.
struct Pending<T, F> {
    work: F,
    outcome: Option<Result<T, StoreError>>,
    caller: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = (self.work)(conn);
        let succeeded = outcome.is_ok();
        self.outcome = Some(outcome);
        succeeded
    }

    fn answer(self: Box<Self>, batch_failure: Option<&str>) {
        let result = match (self.outcome, batch_failure) {
            (Some(Err(error)), _) => Err(error),
            (_, Some(reason)) => Err(StoreError::Batch(reason.to_owned())),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(StoreError::Thread("a write was committed without running".into())),
        };
        // The caller may have stopped waiting (its task was cancelled): nothing to tell then.
        let _ = self.caller.send(result);
    }
}

/// The handle to the writer thread; cloning shares it. The thread ends when the last handle is dropped.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Write>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Write>>();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_batches(&conn, &queue))
            .map_err(|e| StoreError::Thread(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` on the write connection, in a transaction shared with the other writes waiting now,
    /// and returns its result once that transaction is committed. `work` may run more than once (when
    /// another write of its batch fails), each time in a fresh transaction: it must not depend on
    /// having run before.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        work: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (caller, answered) = oneshot::channel();
        let pending = Pending {
            work,
            outcome: None,
            caller,
        };
        self.jobs
            .send(Box::new(pending))
            .map_err(|_| StoreError::Thread("the writer thread has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Thread("the writer thread stopped before answering".into()))?
    }
}

/// The writer thread's loop: one transaction per batch of waiting writes, until every handle is gone.
fn write_batches(conn: &Connection, queue: &mpsc::Receiver<Box<dyn Write>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(conn, batch);
    }
}

/// Runs a batch in one transaction and answers every write. A write that fails is taken out and the
/// rest run again in a new transaction, until a transaction holds only writes that succeeded.
fn commit_batch(conn: &Connection, mut batch: Vec<Box<dyn Write>>) {
    let statement = |sql: &str| conn.prepare_cached(sql).and_then(|mut statement| statement.execute([]));
    while !batch.is_empty() {
        // IMMEDIATE takes the write lock now, waiting up to the busy timeout for another connection's.
        if let Err(error) = statement("BEGIN IMMEDIATE") {
            let reason = error.to_string();
            for write in batch {
                write.answer(Some(&reason));
            }
            return;
        }
        let failed = batch.iter_mut().position(|write| !write.run(conn));
        if let Some(index) = failed {
            // Nothing of this transaction is kept: the failed write is answered with its error, and
            // the others run again without it.
            let _ = statement("ROLLBACK");
            batch.remove(index).answer(None);
            continue;
        }
        let failure = statement("COMMIT").err().map(|error| {
            // A failed COMMIT can leave the transaction open; end it so the next batch can begin.
            let _ = statement("ROLLBACK");
            error.to_string()
        });
        for write in batch {
            write.answer(failure.as_deref());
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_on(conn: Connection) -> Writer {
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .expect("table");
        Writer::start(conn).expect("starts")
    }

    fn count(writer: &Writer) -> impl std::future::Future<Output = Result<i64, StoreError>> + '_ {
        writer.write(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))?))
    }

    /// Writes queued together share a transaction, but a failing one takes back only its own rows: the
    /// others are run again without it.
    #[tokio::test]
    async fn a_failing_write_rolls_back_only_itself() {
        let writer = writer_on(Connection::open_in_memory().expect("opens"));
        let writes: Vec<_> = (0..100)
            .map(|k| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(move |c| {
                            c.execute("INSERT INTO t (k) VALUES (?1)", [k * 10])?;
                            if k % 7 == 0 {
                                // Its first row is in; the duplicate fails the write.
                                c.execute("INSERT INTO t (k) VALUES (?1)", [k * 10])?;
                            }
                            Ok(k)
                        })
                        .await
                })
            })
            .collect();
        let mut failed = 0;
        for write in writes {
            if write.await.expect("joins").is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 15, "multiples of 7 below 100");
        assert_eq!(count(&writer).await.expect("counts"), 85);
    }

    /// A write lock held by another connection beyond the busy timeout fails every write of the batch
    /// with SQLite's reason, and the writer goes on once the lock is gone.
    #[tokio::test]
    async fn a_locked_database_fails_the_batch_and_the_writer_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("locked.db");
        let conn = Connection::open(&path).expect("opens");
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .expect("wal");
        conn.busy_timeout(std::time::Duration::from_millis(20))
            .expect("timeout");
        let writer = writer_on(conn);
        let other = Connection::open(&path).expect("opens");
        other.execute_batch("BEGIN IMMEDIATE").expect("locks");
        let refused = writer
            .write(|c| Ok(c.execute("INSERT INTO t (k) VALUES (1)", [])?))
            .await
            .expect_err("locked");
        assert!(matches!(refused, StoreError::Batch(_)), "{refused}");
        assert!(refused.to_string().contains("locked"), "{refused}");
        other.execute_batch("ROLLBACK").expect("unlocks");
        writer
            .write(|c| Ok(c.execute("INSERT INTO t (k) VALUES (1)", [])?))
            .await
            .expect("written once the lock is gone");
        assert_eq!(count(&writer).await.expect("counts"), 1);
    }
}
