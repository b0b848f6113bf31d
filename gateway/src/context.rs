//! The execution-context factory: the one place a run's per-user context is made. A context carries the
//! run's identity and its own cancellation; nothing in it is shared with another user's run.

use tokio_util::sync::CancellationToken;

use crate::notifier::EventTarget;

/// Everything one run knows about who and what it is for.
#[derive(Clone, Debug)]
pub struct ExecutionContext {
    /// The user the run belongs to.
    pub user_id: String,
    /// The thread it writes to.
    pub thread_id: String,
    /// Its own id.
    pub run_id: String,
    /// The request that started it, echoed on its events.
    pub request_id: Option<String>,
    /// The connection it was started from (runs outlive connections; this is for logs).
    pub connection_id: String,
    /// The agent to run.
    pub agent: String,
    /// The user's text.
    pub task: String,
    /// Cancelled by `cancel` or by shutdown.
    pub cancel: CancellationToken,
}

impl ExecutionContext {
    /// Where this run's events go.
    pub fn target(&self) -> EventTarget {
        EventTarget {
            thread_id: self.thread_id.clone(),
            run_id: self.run_id.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// What a run is asked to do, as the handler received it.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The authenticated user.
    pub user_id: String,
    /// The (owned, existing) thread.
    pub thread_id: String,
    /// The request id, if the client sent one.
    pub request_id: Option<String>,
    /// The connection it came from.
    pub connection_id: String,
    /// The agent's name.
    pub agent: String,
    /// The user's text.
    pub task: String,
}

/// Makes execution contexts. Its only state is the parent of every run's cancellation, which shutdown
/// cancels.
#[derive(Clone, Debug)]
pub struct ExecutionContextFactory {
    runs: CancellationToken,
}

impl ExecutionContextFactory {
    /// A factory whose contexts are cancelled when `runs` is.
    pub fn new(runs: CancellationToken) -> Self {
        ExecutionContextFactory { runs }
    }

    /// A fresh context for one run.
    pub fn create(&self, request: RunRequest) -> ExecutionContext {
        ExecutionContext {
            user_id: request.user_id,
            thread_id: request.thread_id,
            run_id: uuid::Uuid::new_v4().to_string(),
            request_id: request.request_id,
            connection_id: request.connection_id,
            agent: request.agent,
            task: request.task,
            cancel: self.runs.child_token(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user: &str) -> RunRequest {
        RunRequest {
            user_id: user.into(),
            thread_id: "t".into(),
            request_id: None,
            connection_id: "c".into(),
            agent: "supervisor".into(),
            task: "hi".into(),
        }
    }

    #[test]
    fn contexts_are_independent_and_cancelled_by_shutdown() {
        let runs = CancellationToken::new();
        let factory = ExecutionContextFactory::new(runs.clone());
        let a = factory.create(request("alice"));
        let b = factory.create(request("bob"));
        assert_ne!(a.run_id, b.run_id);
        a.cancel.cancel();
        assert!(!b.cancel.is_cancelled(), "cancelling one run leaves the others");
        runs.cancel();
        assert!(b.cancel.is_cancelled());
    }
}
