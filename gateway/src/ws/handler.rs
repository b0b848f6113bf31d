//! The message handler: the one place `start_agent`, `user_message` and `chat` become a run.

use serde_json::json;

use crate::context::{ExecutionContextFactory, RunRequest};
use crate::engine::{ExecutionEngine, StartError};
use crate::error::Reject;
use crate::hub::Outbound;
use crate::protocol::ErrorCode;
use crate::store::{AcceptedRequest, Store};
use crate::ws::ConnectionContext;

/// A message that starts a run, as the router decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMessage {
    /// The user's text.
    pub text: String,
    /// An existing thread of the user's, or `None` for a new one.
    pub thread_id: Option<String>,
    /// The agent (`start_agent` only); the default agent otherwise.
    pub agent: Option<String>,
    /// Echoed on the run's events.
    pub request_id: Option<String>,
}

/// Turns messages into runs.
#[derive(Clone)]
pub struct MessageHandler {
    store: Store,
    engine: ExecutionEngine,
    factory: ExecutionContextFactory,
}

impl MessageHandler {
    /// A handler over the given parts.
    pub fn new(store: Store, engine: ExecutionEngine, factory: ExecutionContextFactory) -> Self {
        MessageHandler { store, engine, factory }
    }

    /// Checks the thread, starts the run, and has the connection follow it.
    pub async fn handle(&self, connection: &ConnectionContext, message: RunMessage) -> Result<(), Reject> {
        if message.text.trim().is_empty() {
            return Err(Reject::new(ErrorCode::InvalidMessage, "`text` must not be empty"));
        }
        let agents = self.engine.agents();
        let agent = message.agent.unwrap_or_else(|| agents.default_name().to_owned());
        if agents.get(&agent).is_none() {
            return Err(Reject::new(
                ErrorCode::InvalidMessage,
                format!("no agent named `{agent}`"),
            ));
        }
        // A retry of a request already accepted (the client lost its connection before it saw the
        // run's agent_started) is that run again, never a second one.
        if let Some(request_id) = &message.request_id {
            let accepted = self
                .store
                .accepted_request(&connection.user_id, request_id, &message.text)
                .await
                .map_err(|e| Reject::internal(&e))?;
            if let Some(accepted) = accepted {
                self.send_again(connection, accepted).await;
                return Ok(());
            }
        }
        let thread_id = match message.thread_id {
            Some(thread_id) => self.owned_thread(&connection.user_id, thread_id).await?,
            None => self
                .store
                .create_thread(&connection.user_id)
                .await
                .map_err(|e| Reject::internal(&e))?,
        };
        let context = self.factory.create(RunRequest {
            user_id: connection.user_id.clone(),
            thread_id: thread_id.clone(),
            request_id: message.request_id,
            connection_id: connection.connection_id.clone(),
            agent,
            task: message.text,
        });
        let error = match self.engine.start(context).await {
            Ok(started_seq) => {
                // The connection follows the run from its `agent_started` on, read from the store
                // then live, like a retry or a resume: the events stored before it subscribed are
                // read, and none sent out of order.
                connection
                    .send(Outbound::Replay {
                        thread_id,
                        after_seq: started_seq.saturating_sub(1),
                        resend: false,
                    })
                    .await;
                return Ok(());
            }
            Err(StartError::AlreadyAccepted(accepted)) => {
                // The same request retried on two connections at once: the other was accepted first.
                self.send_again(connection, accepted).await;
                return Ok(());
            }
            Err(error) => error,
        };
        let code = match &error {
            StartError::AlreadyActive => ErrorCode::RunAlreadyActive,
            StartError::UnknownAgent(_) => ErrorCode::InvalidMessage,
            StartError::Draining => ErrorCode::Draining,
            StartError::TooManyRuns(_) => ErrorCode::TooManyRuns,
            StartError::AlreadyAccepted(_) | StartError::Store(_) => return Err(Reject::internal(&error)),
        };
        Err(Reject::new(code, error.to_string()))
    }

    /// Answers a retried request with the run it started: the connection follows the run's thread and
    /// is sent the run's events from its `agent_started` on (as `resume` would, even those it sent
    /// before: the client asks again), then the live ones.
    async fn send_again(&self, connection: &ConnectionContext, accepted: AcceptedRequest) {
        connection
            .send(Outbound::Replay {
                thread_id: accepted.thread_id,
                after_seq: accepted.started_seq.saturating_sub(1),
                resend: true,
            })
            .await;
    }

    /// The thread id if the user owns it; `THREAD_NOT_FOUND` alike for missing and foreign threads.
    pub async fn owned_thread(&self, user_id: &str, thread_id: String) -> Result<String, Reject> {
        match self
            .store
            .thread_owner(&thread_id)
            .await
            .map_err(|e| Reject::internal(&e))?
        {
            Some(owner) if owner == user_id => Ok(thread_id),
            _ => Err(Reject::new(ErrorCode::ThreadNotFound, "no such thread")),
        }
    }

    /// The thread to replay after `after_seq`, if the user owns it and the cursor is one the
    /// server could have given (a cursor ahead of the history would silently swallow every
    /// later event, since delivery skips what the client claims to have).
    pub async fn resumable_thread(&self, user_id: &str, thread_id: String, after_seq: u64) -> Result<String, Reject> {
        let thread_id = self.owned_thread(user_id, thread_id).await?;
        let history = self.store.history(&thread_id).await.map_err(|e| Reject::internal(&e))?;
        if after_seq > history.latest {
            return Err(Reject::new(
                ErrorCode::CursorAhead,
                format!(
                    "after_seq {after_seq} is beyond the thread's latest seq {}",
                    history.latest
                ),
            ));
        }
        if after_seq < history.removed_through {
            let removed = history.removed_through;
            return Err(Reject::new(
                ErrorCode::HistoryTruncated,
                format!(
                    "events after seq {after_seq} up to seq {removed} were removed by retention; resume with after_seq {removed}"
                ),
            )
            .with_details(json!({ "removed_through": removed, "latest_seq": history.latest })));
        }
        Ok(thread_id)
    }
}
