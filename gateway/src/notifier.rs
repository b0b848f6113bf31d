//! The notifier: the one component that sends run events. It stamps `seq` and stores each event (in the
//! store's transaction), then publishes it to the thread's subscribed connections. Stored before sent, so
//! a client that missed it gets it on `resume`.

use std::sync::Arc;

use serde_json::Value;

use crate::hub::Hub;
use crate::protocol::{Event, EventType, RunStatus};
use crate::store::{RunProgress, RunStart, Store, StoreError};

/// Where a run's events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventTarget {
    /// The thread.
    pub thread_id: String,
    /// The run.
    pub run_id: String,
    /// The request that started the run.
    pub request_id: Option<String>,
}

/// Stamps, stores, then sends.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    hub: Hub,
}

impl Notifier {
    /// A notifier writing to `store` and publishing through `hub`.
    pub fn new(store: Store, hub: Hub) -> Self {
        Notifier { store, hub }
    }

    /// Stores the event with the thread's next `seq`, then publishes it.
    pub async fn emit(&self, target: &EventTarget, kind: EventType, data: Value) -> Result<Arc<Event>, StoreError> {
        let request_id = target.request_id.as_deref();
        let event = self
            .store
            .append_event(&target.thread_id, &target.run_id, request_id, kind, data)
            .await?;
        Ok(self.publish(event))
    }

    /// Accepts a run (see [`Store::accept_run`]: the run, the user's message and `agent_started` in one
    /// transaction), then publishes `agent_started`.
    pub async fn accept(&self, run: RunStart, started: Value) -> Result<Arc<Event>, StoreError> {
        let event = self.store.accept_run(run, started).await?;
        Ok(self.publish(event))
    }

    /// Completes a run (see [`Store::complete_run`]: `agent_completed` and the run's status in one
    /// transaction), runs `stored`, then publishes `agent_completed`: the engine releases the run's
    /// thread in `stored`, so a client reacting to `agent_completed` can start the next run at once.
    pub async fn complete(
        &self,
        target: &EventTarget,
        status: RunStatus,
        data: Value,
        stored: impl FnOnce(),
    ) -> Result<Arc<Event>, StoreError> {
        let request_id = target.request_id.as_deref();
        let event = self
            .store
            .complete_run(&target.thread_id, &target.run_id, request_id, status, data)
            .await?;
        stored();
        Ok(self.publish(event))
    }

    /// How far the run got, as stored (see [`Store::run_progress`]).
    pub async fn progress(&self, target: &EventTarget) -> Result<RunProgress, StoreError> {
        self.store.run_progress(&target.thread_id, &target.run_id).await
    }

    /// Queues a stored event for the thread's subscribers.
    fn publish(&self, event: Event) -> Arc<Event> {
        let event = Arc::new(event);
        self.hub.publish(&event);
        event
    }

    /// Closes the thread's connections with "try again later" (see [`Hub::ask_to_resume_later`]).
    pub fn ask_to_resume_later(&self, thread_id: &str) {
        self.hub.ask_to_resume_later(thread_id);
    }
}
