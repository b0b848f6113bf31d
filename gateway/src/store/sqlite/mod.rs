//! The SQLite backend: one database file in WAL mode, for one gateway process.
//!
//! Writes go to one writer thread that commits the writes waiting together (`writer`); reads run on a
//! few reader threads with a connection each (`readers`); WAL checkpoints run on a thread of their own
//! (`checkpoint`); retention cuts old history (`retention`). A lock file beside the database keeps a
//! second process out, so this process owns every run it finds running when it opens.

mod checkpoint;
mod readers;
mod retention;
mod writer;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use tokio::sync::mpsc;

use super::backend::{Backend, Signal};
use super::{AcceptedRequest, History, InterruptedRun, Pruned, RunStart, RunningHere, StoreError, unstored};
use crate::config::HistoryLimits;
use crate::protocol::{Event, EventType, RunStatus, timestamp_now};

/// The SQLite backend. Its writer and read connections live as long as it does.
pub(super) struct SqliteBackend {
    writer: writer::Writer,
    /// Read connections (`None` in memory, where reads go to the writer's connection).
    readers: Option<readers::Readers>,
    /// Keeps the checkpoint thread going (`None` in memory).
    _checkpointer: Option<checkpoint::Checkpointer>,
    /// The held lock on the database's lock file (`None` in memory).
    _owner: Option<Arc<std::fs::File>>,
    /// The runs the previous process left running, once read: every other running run is this
    /// process's own.
    left_running: Mutex<Option<HashSet<String>>>,
}

// Bound values in a WHERE clause are written `+?N`: with the bundled SQLite's STAT4 a bare `?N` makes every
// new value re-prepare the statement (the plan may depend on it), which defeated the statement cache on
// the hot path; the unary plus keeps the index and the cached plan.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES threads(id),
    request_id TEXT,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_by_request ON runs(request_id) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, position)
);
CREATE TABLE IF NOT EXISTS events (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    seq INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    request_id TEXT,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
";

impl SqliteBackend {
    /// Opens (or creates) the database file, in WAL mode with the schema in place, for this process
    /// alone: the lock file beside it (`<database>.lock`) is held while the store lives, and the system
    /// releases it when the process ends, however it ends. A second process is refused, so recovery at
    /// startup never completes runs another live process is executing.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let lock = owner_lock(path)?;
        let conn = Connection::open(path)?;
        init(&conn)?;
        // The checkpoint thread copies the WAL back; the writer's commits never wait for it.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        Ok(SqliteBackend {
            writer: writer::Writer::start(conn)?,
            readers: Some(readers::Readers::start(path)?),
            _checkpointer: Some(checkpoint::Checkpointer::start(path)?),
            _owner: Some(Arc::new(lock)),
            left_running: Mutex::new(None),
        })
    }

    /// An in-memory store, for tests: one connection, reads and writes both on the writer's thread.
    pub(super) fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        init(&conn)?;
        Ok(SqliteBackend {
            writer: writer::Writer::start(conn)?,
            readers: None,
            _checkpointer: None,
            _owner: None,
            left_running: Mutex::new(None),
        })
    }

    /// Runs a write on the writer thread, committed with the writes waiting beside it (`work` may run
    /// again, in a fresh transaction, when another write of its batch fails).
    async fn write<T: Send + 'static>(
        &self,
        work: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer.write(work).await
    }

    /// Runs a read on a read connection.
    async fn read<T: Send + 'static>(
        &self,
        work: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(readers) => readers.read(work).await,
            None => self.writer.write(work).await,
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn node_id(&self) -> &str {
        "local"
    }

    /// How long one statement waits for a write lock another connection holds before failing (5 s
    /// unless set); the notifier's retries come on top of it.
    async fn set_busy_timeout(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        self.write(move |c| Ok(c.busy_timeout(timeout)?)).await
    }

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> bool {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
            .is_ok()
    }

    /// Creates a thread owned by `owner` and returns its id.
    async fn create_thread(&self, owner: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (thread, owner) = (id.clone(), owner.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO threads (id, owner, created_at) VALUES (?1, ?2, ?3)",
                params![thread, owner, timestamp_now()],
            )?;
            Ok(())
        })
        .await?;
        Ok(id)
    }

    /// The owner of a thread, or `None` if it does not exist.
    async fn thread_owner(&self, thread_id: &str) -> Result<Option<String>, StoreError> {
        let thread = thread_id.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached("SELECT owner FROM threads WHERE id = +?1")?
                .query_row(params![thread], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    /// Accepts a run, in one transaction: the run recorded as running, the user's message added to the
    /// thread's conversation, and `agent_started` stored with the thread's next `seq`. A process stopped
    /// at any point leaves all of it or none of it.
    async fn accept_run(&self, run: RunStart, started: Value) -> Result<Event, StoreError> {
        let event = unstored(
            EventType::AgentStarted,
            &run.thread_id,
            &run.run_id,
            run.request_id.as_deref(),
            started,
        );
        self.write(move |c| {
            if let Some(request_id) = &run.request_id
                && let Some(accepted) = accepted_request(c, &run.user_id, request_id, &run.task)?
            {
                return Err(StoreError::AlreadyAccepted(accepted));
            }
            c.prepare_cached(
                "INSERT INTO runs (id, thread_id, request_id, agent, status, started_at, task)
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6)",
            )?
            .execute(params![
                run.run_id,
                run.thread_id,
                run.request_id,
                run.agent,
                event.timestamp,
                run.task
            ])?;
            insert_message(c, &run.thread_id, "user", &run.task)?;
            let seq = insert_event(c, &event)?;
            Ok(Event { seq, ..event.clone() })
        })
        .await
    }

    /// The run `user_id` started with this `request_id` and text, if one was accepted: a retry is that
    /// run, not a new one.
    async fn accepted_request(
        &self,
        user_id: &str,
        request_id: &str,
        task: &str,
    ) -> Result<Option<AcceptedRequest>, StoreError> {
        let (user, request, task) = (user_id.to_owned(), request_id.to_owned(), task.to_owned());
        self.read(move |c| accepted_request(c, &user, &request, &task)).await
    }

    /// Completes a run, in one transaction: `agent_completed` stored with the thread's next `seq`, the
    /// run's final status, and for a completed run its answer (`final_response`) added to the thread's
    /// conversation. A process stopped at any point leaves both or neither, so recovery never
    /// completes a run twice.
    async fn complete_run(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        status: RunStatus,
        data: Value,
    ) -> Result<Event, StoreError> {
        let event = unstored(EventType::AgentCompleted, thread_id, run_id, request_id, data);
        self.write(move |c| {
            let seq = insert_event(c, &event)?;
            c.prepare_cached("UPDATE runs SET status = ?2, ended_at = ?3 WHERE id = +?1")?
                .execute(params![event.run_id, status.as_str(), event.timestamp])?;
            if status == RunStatus::Completed
                && let Some(answer) = event.data["final_response"].as_str()
            {
                insert_message(c, &event.thread_id, "agent", answer)?;
            }
            Ok(Event { seq, ..event.clone() })
        })
        .await
    }

    /// Records how a run ended.
    async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), StoreError> {
        let run = run_id.to_owned();
        self.write(move |c| {
            c.execute(
                "UPDATE runs SET status = ?2, ended_at = ?3 WHERE id = +?1",
                params![run, status.as_str(), timestamp_now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Runs left `running` by a gateway that stopped without finishing them.
    /// The previous process's runs are never among `running_here` (this process's own).
    async fn claim_interrupted_runs(&self, _running_here: &RunningHere) -> Result<Vec<InterruptedRun>, StoreError> {
        let runs = self
            .read(|c| {
                let mut statement = c.prepare(
                    "SELECT id, thread_id, request_id,
                        (SELECT json_extract(data, '$.status') FROM events
                          WHERE events.run_id = runs.id AND type = 'agent_completed' LIMIT 1)
                   FROM runs WHERE status = 'running' ORDER BY started_at",
                )?;
                let rows = statement.query_map([], |row| {
                    Ok(InterruptedRun {
                        run_id: row.get(0)?,
                        thread_id: row.get(1)?,
                        request_id: row.get(2)?,
                        completed: row.get(3)?,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        // Runs found running at the first call were the previous process's; any other found later was
        // started by this process, which holds the database, and is not interrupted. A recovery that
        // failed halfway finds the rest of the previous process's runs again.
        let mut left = self.left_running.lock().unwrap_or_else(PoisonError::into_inner);
        let left = left.get_or_insert_with(|| runs.iter().map(|run| run.run_id.clone()).collect());
        Ok(runs.into_iter().filter(|run| left.contains(&run.run_id)).collect())
    }

    /// One process holds the database: no lease to renew, no other node to hear from.
    async fn renew_lease(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    async fn release_lease(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn expired_nodes(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// Every running run is this process's: one it does not run is not running.
    async fn request_cancel(&self, _user_id: &str, _run_id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    fn take_signals(&self) -> Option<mpsc::Receiver<Signal>> {
        None
    }

    /// Appends a message of the thread's conversation (`user` or `agent`).
    async fn add_message(&self, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
        let (thread, role, text) = (thread_id.to_owned(), role.to_owned(), text.to_owned());
        self.write(move |c| insert_message(c, &thread, &role, &text)).await
    }

    /// The last `last` messages of the thread's conversation, oldest first: `(role, text)`. Read from
    /// the end of the thread's key, so a long thread costs only what is asked for.
    async fn messages(&self, thread_id: &str, last: usize) -> Result<Vec<(String, String)>, StoreError> {
        let thread = thread_id.to_owned();
        let limit = i64::try_from(last).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT role, text FROM messages WHERE thread_id = +?1 ORDER BY position DESC LIMIT ?2",
            )?;
            let rows = statement.query_map(params![thread, limit], |row| Ok((row.get(0)?, row.get(1)?)))?;
            let mut newest_first = rows.collect::<Result<Vec<_>, _>>()?;
            newest_first.reverse();
            Ok(newest_first)
        })
        .await
    }

    /// Stores an event with the thread's next `seq` and returns it as sent.
    async fn append_event(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        kind: EventType,
        data: Value,
    ) -> Result<Event, StoreError> {
        let event = unstored(kind, thread_id, run_id, request_id, data);
        self.write(move |c| {
            let seq = insert_event(c, &event)?;
            Ok(Event { seq, ..event.clone() })
        })
        .await
    }

    /// What the thread's history holds: its latest `seq` (0 with no events yet) and the `seq` through
    /// which retention removed it (0 when nothing was removed).
    async fn history(&self, thread_id: &str) -> Result<History, StoreError> {
        let thread = thread_id.to_owned();
        self.read(move |c| {
            let (latest, removed): (i64, i64) = c
                .prepare_cached("SELECT last_seq, removed_through FROM threads WHERE id = +?1")?
                .query_row(params![thread], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?
                .unwrap_or((0, 0));
            let seq = |value: i64| u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("seq {value}")));
            Ok(History {
                latest: seq(latest)?,
                removed_through: seq(removed)?,
            })
        })
        .await
    }

    /// Removes what the limits say is too old or too much (see [`HistoryLimits`]), a few threads per
    /// transaction, and says what was removed.
    async fn prune(&self, limits: HistoryLimits) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        let mut after = String::new();
        loop {
            let (batch, last) = self.write(move |c| retention::prune_some(c, &limits, &after)).await?;
            pruned.add(&batch);
            match last {
                Some(last) => after = last,
                None => return Ok(pruned),
            }
        }
    }

    /// At most `limit` of the thread's stored events with `seq > after_seq`, in order: a long history
    /// is read a page at a time, never whole.
    async fn events_page(&self, thread_id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let thread = thread_id.to_owned();
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT seq, run_id, request_id, type, data, timestamp FROM events WHERE thread_id = +?1 AND seq > +?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = statement.query_map(params![thread, after, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (seq, run_id, request_id, kind, data, timestamp) = row?;
                events.push(Event {
                    kind: EventType::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("event type {kind}")))?,
                    seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("seq {seq}")))?,
                    thread_id: thread.clone(),
                    run_id,
                    request_id,
                    timestamp,
                    data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                });
            }
            Ok(events)
        })
        .await
    }
}

/// Sets up a new connection to the database: WAL, the pragmas, and the schema in place.
fn init(conn: &Connection) -> Result<(), StoreError> {
    // WAL survives a crash with every committed event; NORMAL sync is durable across process death.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    // Savepoints (one per write of a batch) keep their pages in memory, not in a temporary file.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;",
    )?;
    conn.execute_batch(SCHEMA)?;
    // Columns added since the first schema, added in place to an older database. A run without its
    // text never matches a retry; a thread's counters start from what it holds.
    add_column(conn, "runs", "task", "TEXT", None)?;
    add_column(
        conn,
        "threads",
        "last_seq",
        "INTEGER NOT NULL DEFAULT 0",
        Some("(SELECT COALESCE(MAX(seq), 0) FROM events WHERE events.thread_id = threads.id)"),
    )?;
    add_column(
        conn,
        "threads",
        "stored_bytes",
        "INTEGER NOT NULL DEFAULT 0",
        Some("(SELECT COALESCE(SUM(length(CAST(data AS BLOB))), 0) FROM events WHERE events.thread_id = threads.id)"),
    )?;
    add_column(conn, "threads", "removed_through", "INTEGER NOT NULL DEFAULT 0", None)?;
    Ok(())
}

/// Adds `column` to `table` unless it is there, filled with `initial` (an expression over the row).
fn add_column(
    conn: &Connection,
    table: &str,
    column: &str,
    declaration: &str,
    initial: Option<&str>,
) -> Result<(), StoreError> {
    let present = conn
        .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
        .exists(params![table, column])?;
    if !present {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {declaration}"))?;
        if let Some(initial) = initial {
            conn.execute_batch(&format!("UPDATE {table} SET {column} = {initial}"))?;
        }
    }
    Ok(())
}

/// The run already accepted for a request: the same `request_id` and text from the same user.
fn accepted_request(
    c: &Connection,
    user_id: &str,
    request_id: &str,
    task: &str,
) -> Result<Option<AcceptedRequest>, StoreError> {
    let found = c
        .prepare_cached(
            "SELECT runs.id, runs.thread_id,
                    (SELECT seq FROM events WHERE events.thread_id = runs.thread_id
                       AND events.run_id = runs.id AND events.type = 'agent_started')
               FROM runs JOIN threads ON threads.id = runs.thread_id
              WHERE runs.request_id = +?2 AND runs.task = +?3
                AND threads.owner = +?1
              LIMIT 1",
        )?
        .query_row(params![user_id, request_id, task], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    found
        .map(|(run_id, thread_id, seq)| {
            let started_seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("seq {seq}")))?;
            Ok(AcceptedRequest {
                run_id,
                thread_id,
                started_seq,
            })
        })
        .transpose()
}

/// Takes the exclusive lock on `<database>.lock`, or says who has it.
fn owner_lock(database: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let error = |source| StoreError::Lock {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(error)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(database.display().to_string())),
        Err(std::fs::TryLockError::Error(source)) => Err(error(source)),
    }
}

/// Adds a message at the end of a thread's conversation.
fn insert_message(c: &Connection, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO messages (thread_id, position, role, text, created_at)
         VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM messages WHERE thread_id = +?1), ?2, ?3, ?4)",
    )?
    .execute(params![thread_id, role, text, timestamp_now()])?;
    Ok(())
}

/// Stores an event with the thread's next `seq` (inside the caller's transaction) and returns the seq.
fn insert_event(c: &Connection, event: &Event) -> Result<u64, StoreError> {
    let data = event.data.to_string();
    // The thread keeps its last seq (history removed by retention must not make seq start over) and
    // how much it stores (what retention measures).
    let seq: i64 = c
        .prepare_cached(
            "UPDATE threads SET last_seq = last_seq + 1, stored_bytes = stored_bytes + ?2
              WHERE id = +?1 RETURNING last_seq",
        )?
        .query_row(params![event.thread_id, data.len() as i64], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("no thread {}", event.thread_id)))?;
    c.prepare_cached(
        "INSERT INTO events (thread_id, seq, run_id, request_id, type, data, timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        event.thread_id,
        seq,
        event.run_id,
        event.request_id,
        event.kind.as_str(),
        data,
        event.timestamp
    ])?;
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("negative seq {seq}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    #[tokio::test]
    async fn seq_is_per_thread_gapless_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let store = Store::open(&path).expect("opens");
        let a = store.create_thread("alice").await.expect("thread");
        let b = store.create_thread("bob").await.expect("thread");
        store.accept_run(run("r1", &a), json!({})).await.expect("run");
        for _ in 0..2 {
            store
                .append_event(&a, "r1", Some("q1"), EventType::AgentThinking, json!({}))
                .await
                .expect("event");
        }
        let first_b = store
            .append_event(&b, "r2", None, EventType::AgentStarted, json!({}))
            .await
            .expect("event");
        assert_eq!(first_b.seq, 1);
        drop(store);

        let store = Store::open(&path).expect("reopens");
        let events = store.events_after(&a, 1).await.expect("events");
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(
            store.messages(&a, usize::MAX).await.expect("messages"),
            vec![("user".to_owned(), "task".to_owned())]
        );
        assert_eq!(events[0].request_id.as_deref(), Some("q1"));
        assert_eq!(store.thread_owner(&a).await.expect("owner").as_deref(), Some("alice"));
        assert_eq!(store.thread_owner("nope").await.expect("owner"), None);
        let interrupted = store
            .claim_interrupted_runs(&RunningHere::default())
            .await
            .expect("runs");
        assert_eq!(
            interrupted,
            vec![InterruptedRun {
                run_id: "r1".into(),
                thread_id: a.clone(),
                request_id: Some("q1".into()),
                completed: None,
            }]
        );
        let done = store
            .complete_run(
                &a,
                "r1",
                Some("q1"),
                RunStatus::Completed,
                json!({"status": "completed"}),
            )
            .await
            .expect("complete");
        assert_eq!(done.seq, 4);
        assert!(
            store
                .claim_interrupted_runs(&RunningHere::default())
                .await
                .expect("runs")
                .is_empty()
        );
    }

    fn run(run_id: &str, thread_id: &str) -> RunStart {
        RunStart {
            run_id: run_id.into(),
            user_id: "alice".into(),
            thread_id: thread_id.into(),
            request_id: Some("q1".into()),
            agent: "supervisor".into(),
            task: "task".into(),
            user_run_limit: 16,
        }
    }

    /// A request retried with the same `request_id` and text by the same user is the run already
    /// accepted, never a second one; another text, or another user, is a new run.
    #[tokio::test]
    async fn a_retried_request_is_the_run_already_accepted() {
        let store = Store::in_memory().expect("store");
        let a = store.create_thread("alice").await.expect("thread");
        let started = store.accept_run(run("r1", &a), json!({})).await.expect("accepted");
        let b = store.create_thread("alice").await.expect("thread");
        let retry = store.accept_run(run("r2", &b), json!({})).await.expect_err("a retry");
        let StoreError::AlreadyAccepted(accepted) = retry else {
            panic!("{retry}");
        };
        let expected = AcceptedRequest {
            run_id: "r1".into(),
            thread_id: a.clone(),
            started_seq: started.seq,
        };
        assert_eq!(accepted, expected);
        let found = store.accepted_request("alice", "q1", "task").await.expect("reads");
        assert_eq!(found, Some(expected));
        assert_eq!(
            store.events_after(&b, 0).await.expect("events").len(),
            0,
            "nothing stored"
        );

        let mut other_text = run("r3", &b);
        other_text.task = "another task".into();
        store.accept_run(other_text, json!({})).await.expect("a new request");
        let bob = store.create_thread("bob").await.expect("thread");
        let mut bobs = run("r4", &bob);
        bobs.user_id = "bob".into();
        store.accept_run(bobs, json!({})).await.expect("another user's request");
        assert_eq!(
            store.accepted_request("carol", "q1", "task").await.expect("reads"),
            None
        );
    }

    /// A database written before runs kept their text is opened as it is and gains the column.
    #[tokio::test]
    async fn a_database_without_run_texts_is_upgraded_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).expect("opens");
        // The schema as it was written before: the later columns are added by `init`, never by SCHEMA.
        old.execute_batch(SCHEMA).expect("old schema");
        old.execute_batch(
            "INSERT INTO threads (id, owner, created_at) VALUES ('t', 'alice', 'then');
             INSERT INTO events VALUES ('t', 1, 'r0', NULL, 'agent_started', '{}', 'then');
             INSERT INTO events VALUES ('t', 2, 'r0', NULL, 'agent_completed', '{\"x\":\"é\"}', 'then');",
        )
        .expect("old rows");
        let columns: i64 = old
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'task'",
                [],
                |r| r.get(0),
            )
            .expect("columns");
        assert_eq!(columns, 0, "the old schema has no task column");
        drop(old);
        let store = Store::open(&path).expect("opens the old database");
        let history = store.history("t").await.expect("history");
        assert_eq!(
            (history.latest, history.removed_through),
            (2, 0),
            "counted from the stored events"
        );
        let next = store
            .append_event("t", "r1", None, EventType::AgentStarted, json!({}))
            .await
            .expect("appends");
        assert_eq!(next.seq, 3);
        let a = store.create_thread("alice").await.expect("thread");
        store.accept_run(run("r1", &a), json!({})).await.expect("accepted");
        assert!(
            store
                .accepted_request("alice", "q1", "task")
                .await
                .expect("reads")
                .is_some()
        );
    }

    /// A run accepted whole or not at all: a failure inside the transaction (here a second run with the
    /// same id) leaves no message and no `agent_started` behind.
    #[tokio::test]
    async fn accepting_a_run_is_one_transaction() {
        let store = Store::in_memory().expect("store");
        let a = store.create_thread("alice").await.expect("thread");
        let started = store.accept_run(run("r1", &a), json!({})).await.expect("accepted");
        assert_eq!((started.seq, started.kind), (1, EventType::AgentStarted));
        assert!(
            store.accept_run(run("r1", &a), json!({})).await.is_err(),
            "the same run twice"
        );
        assert_eq!(store.events_after(&a, 0).await.expect("events").len(), 1);
        assert_eq!(store.messages(&a, usize::MAX).await.expect("messages").len(), 1);
    }

    /// A run whose `agent_completed` is stored but whose status is not (a crash between the two writes of
    /// an older version) is reported with that status, so recovery does not complete it a second time.
    #[tokio::test]
    async fn a_stored_completion_is_seen_by_recovery() {
        let store = Store::in_memory().expect("store");
        let a = store.create_thread("alice").await.expect("thread");
        store.accept_run(run("r1", &a), json!({})).await.expect("accepted");
        store
            .append_event(
                &a,
                "r1",
                None,
                EventType::AgentCompleted,
                json!({"status": "cancelled"}),
            )
            .await
            .expect("event");
        let interrupted = store
            .claim_interrupted_runs(&RunningHere::default())
            .await
            .expect("runs");
        assert_eq!(interrupted[0].completed.as_deref(), Some("cancelled"));
    }

    #[tokio::test]
    async fn a_second_owner_of_the_database_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let first = Store::open(&path).expect("opens");
        let second = Store::open(&path).err().expect("refused");
        assert!(matches!(second, StoreError::InUse(_)), "{second}");
        assert!(second.to_string().contains("in use by another gateway process"));
        drop(first);
        Store::open(&path).expect("opens once the first is gone");
    }

    #[tokio::test]
    async fn concurrent_appends_never_share_a_seq() {
        let store = Store::in_memory().expect("store");
        let thread = store.create_thread("alice").await.expect("thread");
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (store, thread) = (store.clone(), thread.clone());
                tokio::spawn(async move {
                    store
                        .append_event(&thread, "r", None, EventType::AgentThinking, json!({}))
                        .await
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.expect("joins").expect("appends").seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn messages_keep_their_order() {
        let store = Store::in_memory().expect("store");
        let thread = store.create_thread("alice").await.expect("thread");
        store.add_message(&thread, "user", "hello").await.expect("add");
        store.add_message(&thread, "agent", "hi").await.expect("add");
        let messages = store.messages(&thread, usize::MAX).await.expect("messages");
        assert_eq!(
            messages,
            vec![("user".into(), "hello".into()), ("agent".into(), "hi".into())]
        );
        store.add_message(&thread, "user", "again").await.expect("add");
        let last_two = store.messages(&thread, 2).await.expect("messages");
        assert_eq!(
            last_two,
            vec![("agent".into(), "hi".into()), ("user".into(), "again".into())]
        );
    }

    /// The hot statements find a thread's rows through its key, whatever `+?N` does to the value.
    #[test]
    fn thread_queries_use_the_key() {
        let conn = Connection::open_in_memory().expect("opens");
        init(&conn).expect("schema");
        let queries: [(&str, &[&dyn rusqlite::ToSql]); 3] = [
            (
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE thread_id = +?1",
                params!["t"],
            ),
            (
                "SELECT seq FROM events WHERE thread_id = +?1 AND seq > +?2 ORDER BY seq LIMIT ?3",
                params!["t", 0, 1],
            ),
            (
                "SELECT role FROM messages WHERE thread_id = +?1 ORDER BY position DESC LIMIT ?2",
                params!["t", 1],
            ),
        ];
        for (query, values) in queries {
            let plan: String = conn
                .query_row(&format!("EXPLAIN QUERY PLAN {query}"), values, |row| row.get(3))
                .expect("plan");
            assert!(plan.contains("USING") && plan.contains("INDEX"), "{query}: {plan}");
            assert!(plan.contains("thread_id=?"), "{query}: {plan}");
        }
    }
}
