//! The event store: threads (with their owner), runs, user messages and events, behind one handle.
//!
//! Events get their `seq` inside the insert's transaction, so a thread's sequence has no gaps and no
//! repeats whoever writes. Two backends keep that promise (`backend`): SQLite, embedded, for one
//! gateway process (`sqlite`); PostgreSQL, shared, for several gateway nodes (`postgres`), which adds
//! run leases, fencing and fan-out of events and cancels between nodes.

mod backend;
mod cut;
mod postgres;
mod sqlite;

pub use backend::{Backend, Signal};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::config::{Config, HistoryLimits, StoreLocation};
use crate::protocol::{Event, EventType, RunStatus};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error, or could not be reached.
    #[error("database error: {0}")]
    Postgres(String),
    /// The request was accepted before (a retry): the run it started.
    #[error("request already accepted as run {}", .0.run_id)]
    AlreadyAccepted(AcceptedRequest),
    /// The thread has a running run (on this node or another).
    #[error("this thread already has a running run")]
    ThreadBusy,
    /// The user has as many runs going as allowed, across every node.
    #[error("at most {0} runs per user at a time; wait for one to end")]
    TooManyRuns(usize),
    /// This node no longer owns the run: its lease expired and another node took the run over (and
    /// ends it). Nothing more of the run may be written from here.
    #[error("run {0} is no longer owned by this node (its lease was taken over)")]
    Fenced(String),
    /// The transaction this write was committed in failed as a whole.
    #[error("database write failed: {0}")]
    Batch(String),
    /// The writer, a reader or the checkpoint thread is gone or could not start.
    #[error("database thread: {0}")]
    Thread(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Another gateway process has the database: two would complete each other's runs.
    #[error(
        "the database {0} is in use by another gateway process; stop it (it drains its runs) before starting this one"
    )]
    InUse(String),
    /// The lock file beside the database could not be opened.
    #[error("cannot use the lock file {path}: {source}")]
    Lock {
        /// The lock file.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the engine itself failed (unreachable, refusing, corrupt), as opposed to an answer about
    /// the request (a retry, a busy thread, a limit, a run taken over).
    pub fn is_engine_failure(&self) -> bool {
        !matches!(
            self,
            StoreError::AlreadyAccepted(_)
                | StoreError::ThreadBusy
                | StoreError::TooManyRuns(_)
                | StoreError::Fenced(_)
        )
    }
}

/// The bounds of a thread's stored history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    /// The latest `seq` (0 when the thread has no events yet).
    pub latest: u64,
    /// Events with `seq` up to this one were removed by retention (0 when none were).
    pub removed_through: u64,
}

/// The run a request started, found when the request is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedRequest {
    /// The run.
    pub run_id: String,
    /// Its thread.
    pub thread_id: String,
    /// The `seq` of its `agent_started`.
    pub started_seq: u64,
}

/// A run left running by a gateway that stopped (or, with several nodes, whose node's lease expired),
/// now owned by this process to be ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterruptedRun {
    /// The run.
    pub run_id: String,
    /// Its thread.
    pub thread_id: String,
    /// The request that started it.
    pub request_id: Option<String>,
    /// The status its stored `agent_completed` gives, when it has one (a process stopped between the
    /// two writes of an older version): only the run's status is left to record.
    pub completed: Option<String>,
}

/// What a run is accepted with (see [`Store::accept_run`]).
#[derive(Clone, Debug)]
pub struct RunStart {
    /// The run.
    pub run_id: String,
    /// The user it runs for (a retried request is looked up among this user's runs).
    pub user_id: String,
    /// Its thread.
    pub thread_id: String,
    /// The request that started it.
    pub request_id: Option<String>,
    /// The agent that runs it.
    pub agent: String,
    /// The user's message, added to the thread's conversation.
    pub task: String,
    /// Runs the user may have going at once, counted across every node sharing the store.
    pub user_run_limit: usize,
}

/// The runs this node executes, listed at `listed_at` (a protocol timestamp taken just before the list:
/// a run started after it may be missing from the list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunningHere {
    /// The runs.
    pub runs: Vec<String>,
    /// When the list was begun.
    pub listed_at: String,
}

/// How far a run got, as stored: what ending it must add to keep its contract.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunProgress {
    /// The data of its `tool_executing` stored without a `tool_completed`, if one is.
    pub open_call: Option<Value>,
    /// Its stored reasoning steps (`agent_thinking`).
    pub steps: u64,
}

/// What one pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Threads whose history was cut.
    pub threads: usize,
    /// Events removed.
    pub events: u64,
    /// Bytes of event data removed.
    pub bytes: u64,
    /// Conversation messages removed with their runs.
    pub messages: u64,
}

impl Pruned {
    /// Adds what another pruning removed.
    pub fn add(&mut self, other: &Pruned) {
        self.threads += other.threads;
        self.events += other.events;
        self.bytes += other.bytes;
        self.messages += other.messages;
    }
}

/// The event store handle. Cloning shares the backend.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// Engine failures seen, for `/metrics`.
    failures: Arc<AtomicU64>,
}

impl Store {
    /// Opens the SQLite database file, for this process alone (see the `sqlite` backend).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Store::over(Arc::new(sqlite::SqliteBackend::open(path)?)))
    }

    /// An in-memory SQLite store, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Store::over(Arc::new(sqlite::SqliteBackend::in_memory()?)))
    }

    /// Connects to the configured store: the SQLite file, or a PostgreSQL server this node shares with
    /// others, holding its runs under a lease of `config.lease`.
    pub async fn connect(config: &Config) -> Result<Self, StoreError> {
        match &config.store {
            StoreLocation::Sqlite => Store::open(&config.database),
            StoreLocation::Postgres(url) => Ok(Store::over(Arc::new(
                postgres::PostgresBackend::connect(url, config.lease).await?,
            ))),
        }
    }

    fn over(backend: Arc<dyn Backend>) -> Self {
        Store {
            backend,
            failures: Arc::default(),
        }
    }

    /// Counts an engine failure before handing the result on.
    fn seen<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(error) = &result
            && error.is_engine_failure()
        {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Engine failures seen since the store opened.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The backend's name (`sqlite` or `postgres`), for logs and `/readyz`.
    pub fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// This node's id among the nodes sharing the store.
    pub fn node_id(&self) -> &str {
        self.backend.node_id()
    }

    /// How long one statement waits for a write lock another connection holds before failing.
    pub async fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        let result = self.backend.set_busy_timeout(timeout).await;
        self.seen(result)
    }

    /// Whether the engine answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        let answered = self.backend.ping().await;
        if !answered {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        answered
    }

    /// Creates a thread owned by `owner` and returns its id.
    pub async fn create_thread(&self, owner: &str) -> Result<String, StoreError> {
        let result = self.backend.create_thread(owner).await;
        self.seen(result)
    }

    /// The owner of a thread, or `None` if it does not exist.
    pub async fn thread_owner(&self, thread_id: &str) -> Result<Option<String>, StoreError> {
        let result = self.backend.thread_owner(thread_id).await;
        self.seen(result)
    }

    /// Accepts a run, in one transaction: the run recorded as running (owned by this node), the user's
    /// message added to the thread's conversation, and `agent_started` stored with the thread's next
    /// `seq`. A process stopped at any point leaves all of it or none of it.
    pub async fn accept_run(&self, run: RunStart, started: Value) -> Result<Event, StoreError> {
        let result = self.backend.accept_run(run, started).await;
        self.seen(result)
    }

    /// The run `user_id` started with this `request_id` and text, if one was accepted: a retry is that
    /// run, not a new one.
    pub async fn accepted_request(
        &self,
        user_id: &str,
        request_id: &str,
        task: &str,
    ) -> Result<Option<AcceptedRequest>, StoreError> {
        let result = self.backend.accepted_request(user_id, request_id, task).await;
        self.seen(result)
    }

    /// Completes a run, in one transaction: `agent_completed` stored with the thread's next `seq`, the
    /// run's final status, and for a completed run its answer added to the thread's conversation. Both
    /// or neither, and only by the run's owner, so no run is completed twice.
    pub async fn complete_run(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        status: RunStatus,
        data: Value,
    ) -> Result<Event, StoreError> {
        let result = self
            .backend
            .complete_run(thread_id, run_id, request_id, status, data)
            .await;
        self.seen(result)
    }

    /// Records how a run ended.
    pub async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), StoreError> {
        let result = self.backend.finish_run(run_id, status).await;
        self.seen(result)
    }

    /// Takes over the runs left running by a process that is gone, to be ended by this one: with
    /// SQLite, the runs the previous process left (the database is this process's alone); with
    /// PostgreSQL, the runs of every node whose lease expired, and this node's own runs that it no
    /// longer executes. Never one of `running_here`, the runs this node executes.
    pub async fn claim_interrupted_runs(&self, running_here: &RunningHere) -> Result<Vec<InterruptedRun>, StoreError> {
        let result = self.backend.claim_interrupted_runs(running_here).await;
        self.seen(result)
    }

    /// Renews this node's lease on its runs; returns the runs of this node whose cancel was asked
    /// on another node (in case that node's signal was missed).
    pub async fn renew_lease(&self) -> Result<Vec<String>, StoreError> {
        let result = self.backend.renew_lease().await;
        self.seen(result)
    }

    /// The nodes whose lease expired and that have not come back (none with SQLite).
    pub async fn expired_nodes(&self) -> Result<Vec<String>, StoreError> {
        let result = self.backend.expired_nodes().await;
        self.seen(result)
    }

    /// Asks the node running `run_id` to cancel it, if it is a running run of `user_id`: whether it is.
    pub async fn request_cancel(&self, user_id: &str, run_id: &str) -> Result<bool, StoreError> {
        let result = self.backend.request_cancel(user_id, run_id).await;
        self.seen(result)
    }

    /// Gives up this node's lease at a clean shutdown (its runs are ended by then).
    pub async fn release_lease(&self) -> Result<(), StoreError> {
        let result = self.backend.release_lease().await;
        self.seen(result)
    }

    /// What the other nodes say (their events, cancels), once: `None` for a store no other node shares,
    /// or when already taken.
    pub fn take_signals(&self) -> Option<mpsc::Receiver<Signal>> {
        self.backend.take_signals()
    }

    /// Appends a message of the thread's conversation (`user` or `agent`).
    pub async fn add_message(&self, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError> {
        let result = self.backend.add_message(thread_id, role, text).await;
        self.seen(result)
    }

    /// The last `last` messages of the thread's conversation, oldest first: `(role, text)`.
    pub async fn messages(&self, thread_id: &str, last: usize) -> Result<Vec<(String, String)>, StoreError> {
        let result = self.backend.messages(thread_id, last).await;
        self.seen(result)
    }

    /// Stores an event of a running run with the thread's next `seq` and returns it as sent.
    pub async fn append_event(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        kind: EventType,
        data: Value,
    ) -> Result<Event, StoreError> {
        let result = self
            .backend
            .append_event(thread_id, run_id, request_id, kind, data)
            .await;
        self.seen(result)
    }

    /// What the thread's history holds: its latest `seq` (0 with no events yet) and the `seq` through
    /// which retention removed it (0 when nothing was removed).
    pub async fn history(&self, thread_id: &str) -> Result<History, StoreError> {
        let result = self.backend.history(thread_id).await;
        self.seen(result)
    }

    /// Removes what the limits say is too old or too much (see [`HistoryLimits`]), and says what.
    pub async fn prune(&self, limits: HistoryLimits) -> Result<Pruned, StoreError> {
        let result = self.backend.prune(limits).await;
        self.seen(result)
    }

    /// How far a run of the thread got, read from its stored events.
    pub async fn run_progress(&self, thread_id: &str, run_id: &str) -> Result<RunProgress, StoreError> {
        let mut progress = RunProgress::default();
        for event in self.events_after(thread_id, 0).await? {
            if event.run_id != run_id {
                continue;
            }
            match event.kind {
                EventType::ToolExecuting => progress.open_call = Some(event.data),
                EventType::ToolCompleted => progress.open_call = None,
                EventType::AgentThinking => progress.steps += 1,
                _ => {}
            }
        }
        Ok(progress)
    }

    /// The thread's stored events with `seq > after_seq`, in order.
    pub async fn events_after(&self, thread_id: &str, after_seq: u64) -> Result<Vec<Event>, StoreError> {
        self.events_page(thread_id, after_seq, usize::MAX).await
    }

    /// At most `limit` of the thread's stored events with `seq > after_seq`, in order: a long history
    /// is read a page at a time, never whole.
    pub async fn events_page(&self, thread_id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let result = self.backend.events_page(thread_id, after_seq, limit).await;
        self.seen(result)
    }
}

/// An event as it is before it is stored: stamped now, its `seq` given by the backend.
fn unstored(kind: EventType, thread_id: &str, run_id: &str, request_id: Option<&str>, data: Value) -> Event {
    Event {
        kind,
        seq: 0,
        thread_id: thread_id.to_owned(),
        run_id: run_id.to_owned(),
        request_id: request_id.map(str::to_owned),
        timestamp: crate::protocol::timestamp_now(),
        data,
    }
}
