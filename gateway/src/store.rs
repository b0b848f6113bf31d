//! The event store: SQLite in WAL mode, holding threads (with their owner), runs, user messages and events.
//!
//! Events get their `seq` here, inside the insert's transaction, so a thread's sequence has no gaps and no
//! repeats whoever writes. SQLite is synchronous; every call runs on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::protocol::{Event, EventType, RunStatus, timestamp_now};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The blocking task running the query was lost.
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A run the gateway was executing when it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterruptedRun {
    /// The run.
    pub run_id: String,
    /// Its thread.
    pub thread_id: String,
    /// The request that started it.
    pub request_id: Option<String>,
}

/// The SQLite event store. Cloning shares the connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

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

impl Store {
    /// Opens (or creates) the database file, in WAL mode with the schema in place.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        // WAL survives a crash with every committed event; NORMAL sync is durable across process death.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-written row: every write is one transaction.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await?
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.with(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
            .is_ok()
    }

    /// Creates a thread owned by `owner` and returns its id.
    pub async fn create_thread(&self, owner: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (thread, owner) = (id.clone(), owner.to_owned());
        self.with(move |c| {
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
    pub async fn thread_owner(&self, thread_id: &str) -> Result<Option<String>, StoreError> {
        let thread = thread_id.to_owned();
        self.with(move |c| {
            Ok(
                c.query_row("SELECT owner FROM threads WHERE id = ?1", params![thread], |row| {
                    row.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    /// Records a run as running.
    pub async fn start_run(
        &self,
        run_id: &str,
        thread_id: &str,
        request_id: Option<&str>,
        agent: &str,
    ) -> Result<(), StoreError> {
        let (run, thread, request, agent) = (
            run_id.to_owned(),
            thread_id.to_owned(),
            request_id.map(str::to_owned),
            agent.to_owned(),
        );
        self.with(move |c| {
            c.execute(
                "INSERT INTO runs (id, thread_id, request_id, agent, status, started_at) VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
                params![run, thread, request, agent, timestamp_now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Records how a run ended.
    pub async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), StoreError> {
        let run = run_id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE runs SET status = ?2, ended_at = ?3 WHERE id = ?1",
                params![run, status.as_str(), timestamp_now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Runs left `running` by a gateway that stopped without finishing them.
    pub async fn interrupted_runs(&self) -> Result<Vec<InterruptedRun>, StoreError> {
        self.with(|c| {
            let mut statement =
                c.prepare("SELECT id, thread_id, request_id FROM runs WHERE status = 'running' ORDER BY started_at")?;
            let rows = statement.query_map([], |row| {
                Ok(InterruptedRun {
                    run_id: row.get(0)?,
                    thread_id: row.get(1)?,
                    request_id: row.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Appends a message of the thread's conversation (`user` or `agent`).
    pub async fn add_message(&self, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
        let (thread, role, text) = (thread_id.to_owned(), role.to_owned(), text.to_owned());
        self.with(move |c| {
            c.execute(
                "INSERT INTO messages (thread_id, position, role, text, created_at)
                 VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM messages WHERE thread_id = ?1), ?2, ?3, ?4)",
                params![thread, role, text, timestamp_now()],
            )?;
            Ok(())
        })
        .await
    }

    /// The thread's conversation so far, oldest first: `(role, text)`.
    pub async fn messages(&self, thread_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let thread = thread_id.to_owned();
        self.with(move |c| {
            let mut statement = c.prepare("SELECT role, text FROM messages WHERE thread_id = ?1 ORDER BY position")?;
            let rows = statement.query_map(params![thread], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Stores an event with the thread's next `seq` and returns it as sent.
    pub async fn append_event(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        kind: EventType,
        data: Value,
    ) -> Result<Event, StoreError> {
        let mut event = Event {
            kind,
            seq: 0,
            thread_id: thread_id.to_owned(),
            run_id: run_id.to_owned(),
            request_id: request_id.map(str::to_owned),
            timestamp: timestamp_now(),
            data,
        };
        self.with(move |c| {
            let tx = c.transaction()?;
            let seq: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE thread_id = ?1",
                params![event.thread_id],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO events (thread_id, seq, run_id, request_id, type, data, timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    event.thread_id,
                    seq,
                    event.run_id,
                    event.request_id,
                    event.kind.as_str(),
                    event.data.to_string(),
                    event.timestamp
                ],
            )?;
            tx.commit()?;
            event.seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("negative seq {seq}")))?;
            Ok(event)
        })
        .await
    }

    /// The thread's stored events with `seq > after_seq`, in order.
    pub async fn events_after(&self, thread_id: &str, after_seq: u64) -> Result<Vec<Event>, StoreError> {
        let thread = thread_id.to_owned();
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        self.with(move |c| {
            let mut statement = c.prepare(
                "SELECT seq, run_id, request_id, type, data, timestamp FROM events WHERE thread_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows = statement.query_map(params![thread, after], |row| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn seq_is_per_thread_gapless_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let store = Store::open(&path).expect("opens");
        let a = store.create_thread("alice").await.expect("thread");
        let b = store.create_thread("bob").await.expect("thread");
        store.start_run("r1", &a, Some("q1"), "supervisor").await.expect("run");
        for _ in 0..3 {
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
        assert_eq!(events[0].request_id.as_deref(), Some("q1"));
        assert_eq!(store.thread_owner(&a).await.expect("owner").as_deref(), Some("alice"));
        assert_eq!(store.thread_owner("nope").await.expect("owner"), None);
        let interrupted = store.interrupted_runs().await.expect("runs");
        assert_eq!(
            interrupted,
            vec![InterruptedRun {
                run_id: "r1".into(),
                thread_id: a.clone(),
                request_id: Some("q1".into())
            }]
        );
        store.finish_run("r1", RunStatus::Completed).await.expect("finish");
        assert!(store.interrupted_runs().await.expect("runs").is_empty());
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
        let messages = store.messages(&thread).await.expect("messages");
        assert_eq!(
            messages,
            vec![("user".into(), "hello".into()), ("agent".into(), "hi".into())]
        );
    }
}
