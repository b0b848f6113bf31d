//! One run's way of emitting events: every event is stored before it is sent, a store failure is
//! retried a bounded number of times, and a run that still cannot store an event stops emitting (a
//! later event stored after a lost one would hide the loss behind a gapless `seq`) and is failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::notifier::{EventTarget, Notifier};
use crate::protocol::{self, EventType, RunStatus};
use crate::store::StoreError;

/// The pauses between attempts to store one event (after the store's own busy timeout each time).
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// Pauses between attempts to store a run's end once clients were told to resume later: the end is
/// what every client waits for, so it is tried for longer, then every [`LAST_PAUSE`] for as long as
/// the gateway runs (the thread stays busy until then: a new run must not start before this one's
/// end); only a shutdown leaves it to the next start's recovery.
const COMPLETION_PAUSES: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(8),
    Duration::from_secs(8),
];

/// The pause between attempts to store a run's end once [`COMPLETION_PAUSES`] are spent.
const LAST_PAUSE: Duration = Duration::from_secs(8);

/// Emits one run's events through the notifier.
pub struct Emitter<'a> {
    /// Stores and publishes.
    notifier: &'a Notifier,
    /// Where the run's events go.
    target: &'a EventTarget,
    /// Cancelled when an event is lost, so the agent stops.
    cancel: &'a CancellationToken,
    /// Cancelled when the gateway stops waiting for runs (the end of a shutdown's grace period).
    shutdown: &'a CancellationToken,
    /// Why the run lost an event, once it has.
    lost: OnceLock<String>,
    /// The `tool_executing` stored without its `tool_completed` yet.
    open_call: Mutex<Option<Value>>,
    /// Whether a reasoning step of the run is stored.
    reasoned: AtomicBool,
    /// Whether the thread's clients were already told to resume later.
    asked_to_resume: AtomicBool,
    /// Whether another node took the run over (this node's lease expired): nothing more is written.
    taken_over: AtomicBool,
}

impl<'a> Emitter<'a> {
    /// An emitter for one run.
    pub fn new(
        notifier: &'a Notifier,
        target: &'a EventTarget,
        cancel: &'a CancellationToken,
        shutdown: &'a CancellationToken,
    ) -> Self {
        Emitter {
            notifier,
            target,
            cancel,
            shutdown,
            lost: OnceLock::new(),
            open_call: Mutex::new(None),
            reasoned: AtomicBool::new(false),
            asked_to_resume: AtomicBool::new(false),
            taken_over: AtomicBool::new(false),
        }
    }

    /// Why an event of this run could not be stored, if one could not.
    pub fn lost(&self) -> Option<&str> {
        self.lost.get().map(String::as_str)
    }

    /// Whether another node took the run over: it ends the run, and this node must write nothing more.
    pub fn taken_over(&self) -> bool {
        self.taken_over.load(Ordering::Relaxed)
    }

    /// Stores and sends an event of the running run; after a lost event, nothing more is emitted and
    /// the run is cancelled, to be completed as failed.
    pub async fn emit(&self, kind: EventType, data: Value) {
        if self.lost.get().is_some() || self.taken_over() {
            return;
        }
        if let Err(error) = self.store_with_retries(kind, data).await {
            if let StoreError::Fenced(_) = error {
                self.taken_over.store(true, Ordering::Relaxed);
            }
            tracing::error!(run_id = %self.target.run_id, event = kind.as_str(), %error, "cannot store an event; failing the run");
            let _ = self
                .lost
                .set(format!("an event could not be stored ({})", kind.as_str()));
            self.cancel.cancel();
        }
    }

    /// Ends the run: a failed `tool_completed` for a call left open (tool events stay paired), a
    /// reasoning step if none was stored (`closing_step` builds it), then `agent_completed` and the
    /// run's status, `stored` running once they are. Each is retried; if the store stays unavailable
    /// the thread's connections are closed with "try again later" (so clients resume rather than wait)
    /// and it is retried for longer. False when the end could not be stored: the run is left, whole up
    /// to there, to the next start's recovery.
    pub async fn end(
        &self,
        closing_step: impl FnOnce() -> Value,
        status: RunStatus,
        data: Value,
        stored: impl FnOnce(),
    ) -> bool {
        let mut open_call = self.open_call.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut reasoned = self.reasoned.load(Ordering::Relaxed);
        if self.lost().is_some() {
            // An event reported lost may be stored all the same (its commit's answer was what got
            // lost): what the run's end must add is read from the store.
            match self.notifier.progress(self.target).await {
                Ok(stored) => (open_call, reasoned) = (stored.open_call, stored.steps > 0),
                Err(error) => {
                    tracing::warn!(run_id = %self.target.run_id, %error, "cannot read how far the run got; ending it from what this node knows");
                }
            }
        }
        if let Some(call) = open_call {
            let data = protocol::unfinished_call(&call, "the call did not complete");
            if !self
                .persist(|| self.notifier.emit(self.target, EventType::ToolCompleted, data.clone()))
                .await
            {
                return false;
            }
        }
        if !reasoned {
            let step = closing_step();
            if !self
                .persist(|| self.notifier.emit(self.target, EventType::AgentThinking, step.clone()))
                .await
            {
                return false;
            }
        }
        // Released once, by whichever attempt stores the end.
        let stored = Mutex::new(Some(stored));
        self.persist(|| {
            self.notifier.complete(self.target, status, data.clone(), || {
                if let Some(stored) = stored.lock().unwrap_or_else(PoisonError::into_inner).take() {
                    stored();
                }
            })
        })
        .await
    }

    /// Stores one event of the run's end: quick retries, then clients told to resume later, then
    /// slower retries. Whether it was stored.
    async fn persist<T, F, Fut>(&self, mut attempt: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut last = match retrying(&mut attempt).await {
            Ok(_) => return true,
            Err(StoreError::Fenced(_)) => {
                // Another node took the run over and ends it: trying again could only fail again.
                self.taken_over.store(true, Ordering::Relaxed);
                return false;
            }
            Err(error) => error,
        };
        if !self.asked_to_resume.swap(true, Ordering::Relaxed) {
            tracing::error!(run_id = %self.target.run_id, error = %last, "cannot store the end of a run; clients are told to resume later");
            self.notifier.ask_to_resume_later(&self.target.thread_id);
        }
        let mut pauses = COMPLETION_PAUSES.into_iter();
        loop {
            let pause = pauses.next().unwrap_or(LAST_PAUSE);
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
            match attempt().await {
                Ok(_) => return true,
                Err(StoreError::Fenced(_)) => {
                    self.taken_over.store(true, Ordering::Relaxed);
                    return false;
                }
                Err(error) => last = error,
            }
            if pauses.len() == 0 {
                tracing::error!(run_id = %self.target.run_id, error = %last, "still cannot store the end of a run; retrying");
            }
        }
        tracing::error!(run_id = %self.target.run_id, error = %last, "the end of a run is left to the next start's recovery");
        false
    }

    async fn store_with_retries(&self, kind: EventType, data: Value) -> Result<(), StoreError> {
        let event = retrying(|| self.notifier.emit(self.target, kind, data.clone())).await?;
        let mut open = self.open_call.lock().unwrap_or_else(PoisonError::into_inner);
        match kind {
            EventType::ToolExecuting => *open = Some(event.data.clone()),
            EventType::ToolCompleted => *open = None,
            EventType::AgentThinking => self.reasoned.store(true, Ordering::Relaxed),
            _ => {}
        }
        Ok(())
    }
}

/// Runs `attempt` until it succeeds or the bounded retries are spent.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut pauses = RETRY_PAUSES.iter();
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            // A refusal (the run taken over, a limit) is the answer: trying again cannot change it.
            Err(error) if !error.is_engine_failure() => return Err(error),
            Err(error) => match pauses.next() {
                Some(pause) => {
                    tracing::warn!(%error, "store failed; retrying");
                    tokio::time::sleep(*pause).await;
                }
                None => return Err(error),
            },
        }
    }
}
