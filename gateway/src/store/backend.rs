//! What a store backend does: the operations of [`super::Store`], each keeping the store's promises
//! (a gapless `seq` per thread, a run accepted and completed in one transaction, each at most once).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{AcceptedRequest, History, InterruptedRun, Pruned, RunStart, RunningHere, StoreError};
use crate::config::HistoryLimits;
use crate::protocol::{Event, EventType, RunStatus};

/// What another node sharing the store says to this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Another node stored the event `seq` of this thread: it goes to this node's subscribers of the
    /// thread, read from the store.
    Stored {
        /// The thread.
        thread_id: String,
        /// The event's `seq`.
        seq: u64,
    },
    /// A client on another node asked to cancel this run (of this node, maybe).
    Cancel(String),
    /// Signals may have been lost (the channel to the other nodes was cut, a node could not announce
    /// its events, or died before it did): every subscriber reads what it missed from the store.
    CatchUp,
}

/// A store backend. See [`super::Store`] for what each operation promises.
#[async_trait]
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;
    /// This node's id among the nodes sharing the store.
    fn node_id(&self) -> &str;
    /// How long one statement waits for a lock held elsewhere.
    async fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError>;
    /// Whether the engine answers.
    async fn ping(&self) -> bool;
    /// Creates a thread owned by `owner`.
    async fn create_thread(&self, owner: &str) -> Result<String, StoreError>;
    /// The owner of a thread.
    async fn thread_owner(&self, thread_id: &str) -> Result<Option<String>, StoreError>;
    /// Accepts a run with its `agent_started`, in one transaction.
    async fn accept_run(&self, run: RunStart, started: Value) -> Result<Event, StoreError>;
    /// The run a request started, if it was accepted.
    async fn accepted_request(
        &self,
        user_id: &str,
        request_id: &str,
        task: &str,
    ) -> Result<Option<AcceptedRequest>, StoreError>;
    /// Completes a run with its `agent_completed`, in one transaction.
    async fn complete_run(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        status: RunStatus,
        data: Value,
    ) -> Result<Event, StoreError>;
    /// Records how a run ended.
    async fn finish_run(&self, run_id: &str, status: RunStatus) -> Result<(), StoreError>;
    /// Takes over runs whose process is gone (never one of `running_here`, executing on this node).
    async fn claim_interrupted_runs(&self, running_here: &RunningHere) -> Result<Vec<InterruptedRun>, StoreError>;
    /// Renews this node's lease; the runs of this node asked to cancel elsewhere.
    async fn renew_lease(&self) -> Result<Vec<String>, StoreError>;
    /// Gives up this node's lease.
    async fn release_lease(&self) -> Result<(), StoreError>;
    /// The nodes whose lease expired (they died, or stalled) and that have not come back.
    async fn expired_nodes(&self) -> Result<Vec<String>, StoreError>;
    /// Asks the node running `run_id` (of `user_id`) to cancel it.
    async fn request_cancel(&self, user_id: &str, run_id: &str) -> Result<bool, StoreError>;
    /// What the other nodes say, once.
    fn take_signals(&self) -> Option<mpsc::Receiver<Signal>>;
    /// Appends a conversation message.
    async fn add_message(&self, thread_id: &str, role: &str, text: &str) -> Result<(), StoreError>;
    /// The last messages of a conversation, oldest first.
    async fn messages(&self, thread_id: &str, last: usize) -> Result<Vec<(String, String)>, StoreError>;
    /// Stores an event with the thread's next `seq`.
    async fn append_event(
        &self,
        thread_id: &str,
        run_id: &str,
        request_id: Option<&str>,
        kind: EventType,
        data: Value,
    ) -> Result<Event, StoreError>;
    /// The bounds of a thread's history.
    async fn history(&self, thread_id: &str) -> Result<History, StoreError>;
    /// Applies the history limits.
    async fn prune(&self, limits: HistoryLimits) -> Result<Pruned, StoreError>;
    /// A page of a thread's events after `after_seq`.
    async fn events_page(&self, thread_id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError>;
}
