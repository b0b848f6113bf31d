//! The message handler: the one place `start_agent`, `user_message` and `chat` become a run.

use crate::context::{ExecutionContextFactory, RunRequest};
use crate::engine::{ExecutionEngine, StartError};
use crate::error::Reject;
use crate::hub::Hub;
use crate::protocol::ErrorCode;
use crate::store::Store;
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
    hub: Hub,
    engine: ExecutionEngine,
    factory: ExecutionContextFactory,
}

impl MessageHandler {
    /// A handler over the given parts.
    pub fn new(store: Store, hub: Hub, engine: ExecutionEngine, factory: ExecutionContextFactory) -> Self {
        MessageHandler {
            store,
            hub,
            engine,
            factory,
        }
    }

    /// Checks the thread, subscribes the connection to it, and starts the run.
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
        let thread_id = match message.thread_id {
            Some(thread_id) => self.owned_thread(&connection.user_id, thread_id).await?,
            None => self
                .store
                .create_thread(&connection.user_id)
                .await
                .map_err(|e| Reject::internal(&e))?,
        };
        // Subscribed before the run starts, so its first event already has somewhere to go.
        self.hub.subscribe(&thread_id, &connection.subscriber());
        let context = self.factory.create(RunRequest {
            user_id: connection.user_id.clone(),
            thread_id,
            request_id: message.request_id,
            connection_id: connection.connection_id.clone(),
            agent,
            task: message.text,
        });
        self.engine.start(context).await.map_err(|error| match error {
            StartError::AlreadyActive => Reject::new(ErrorCode::RunAlreadyActive, error.to_string()),
            StartError::UnknownAgent(_) => Reject::new(ErrorCode::InvalidMessage, error.to_string()),
            StartError::Draining => Reject::new(ErrorCode::Draining, error.to_string()),
            StartError::TooManyRuns(_) => Reject::new(ErrorCode::TooManyRuns, error.to_string()),
            StartError::Store(store) => Reject::internal(&store),
        })
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
        let latest = self
            .store
            .latest_seq(&thread_id)
            .await
            .map_err(|e| Reject::internal(&e))?;
        if after_seq > latest {
            return Err(Reject::new(
                ErrorCode::CursorAhead,
                format!("after_seq {after_seq} is beyond the thread's latest seq {latest}"),
            ));
        }
        Ok(thread_id)
    }
}
