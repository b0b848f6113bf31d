//! Agents: the trait an agent implements, and the session through which it reasons and calls tools.
//!
//! An agent never emits events itself. It asks its session to think or to call a tool, and the engine,
//! which serves the session, emits the events; so no agent, however broken, can skip or reorder them.

mod supervisor;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use supervisor::Supervisor;

/// What an agent is asked to do.
#[derive(Clone, Debug)]
pub struct AgentTask {
    /// The user's text.
    pub text: String,
    /// The user the run belongs to.
    pub user_id: String,
    /// The thread.
    pub thread_id: String,
}

/// Why an agent stopped without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A tool call failed.
    #[error("tool `{tool}` failed: {message}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its error.
        message: String,
    },
    /// The agent failed on its own.
    #[error("{0}")]
    Failed(String),
    /// The engine serving the session is gone.
    #[error("the engine stopped serving this run")]
    Detached,
}

/// A request from an agent to the engine serving its run.
#[derive(Debug)]
pub enum SessionRequest {
    /// Record a reasoning step (`agent_thinking`).
    Think {
        /// The reasoning.
        reasoning: String,
        /// Answered once the event is stored and sent.
        reply: oneshot::Sender<()>,
    },
    /// Call a tool (`tool_executing`, the call, `tool_completed`).
    Tool {
        /// The tool's name.
        name: String,
        /// Its parameters.
        params: Value,
        /// The tool's result or error.
        reply: oneshot::Sender<Result<Value, String>>,
    },
}

/// An agent's handle on its run.
pub struct AgentSession {
    task: AgentTask,
    requests: mpsc::Sender<SessionRequest>,
    cancel: CancellationToken,
    step_delay: Duration,
}

impl AgentSession {
    /// A session whose requests go to `requests`.
    pub fn new(
        task: AgentTask,
        requests: mpsc::Sender<SessionRequest>,
        cancel: CancellationToken,
        step_delay: Duration,
    ) -> Self {
        AgentSession {
            task,
            requests,
            cancel,
            step_delay,
        }
    }

    /// The task.
    pub fn task(&self) -> &AgentTask {
        &self.task
    }

    /// Records a reasoning step.
    pub async fn think(&self, reasoning: impl Into<String>) -> Result<(), AgentError> {
        self.check_cancelled()?;
        let (reply, done) = oneshot::channel();
        self.requests
            .send(SessionRequest::Think {
                reasoning: reasoning.into(),
                reply,
            })
            .await
            .map_err(|_| AgentError::Detached)?;
        done.await.map_err(|_| AgentError::Detached)
    }

    /// Calls a tool through the engine; a tool error is returned as [`AgentError::Tool`].
    pub async fn call_tool(&self, name: &str, params: Value) -> Result<Value, AgentError> {
        self.check_cancelled()?;
        let (reply, done) = oneshot::channel();
        let request = SessionRequest::Tool {
            name: name.to_owned(),
            params,
            reply,
        };
        self.requests.send(request).await.map_err(|_| AgentError::Detached)?;
        let result = done.await.map_err(|_| AgentError::Detached)?;
        self.check_cancelled()?;
        result.map_err(|message| AgentError::Tool {
            tool: name.to_owned(),
            message,
        })
    }

    /// Waits the configured pause between steps, or returns early when cancelled.
    pub async fn pause(&self) -> Result<(), AgentError> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(AgentError::Cancelled),
            _ = tokio::time::sleep(self.step_delay) => Ok(()),
        }
    }

    fn check_cancelled(&self) -> Result<(), AgentError> {
        if self.cancel.is_cancelled() {
            Err(AgentError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// An agent: given a session, reasons, calls tools, and returns the final response.
pub trait Agent: Send + Sync {
    /// The name clients select it by (`start_agent`'s `agent`).
    fn name(&self) -> &'static str;
    /// Runs the agent to its final response.
    fn run(self: Arc<Self>, session: AgentSession) -> BoxFuture<'static, Result<String, AgentError>>;
}

/// The agents a gateway offers, and the default one.
#[derive(Clone)]
pub struct Agents {
    agents: BTreeMap<&'static str, Arc<dyn Agent>>,
    default: &'static str,
}

impl Agents {
    /// Only the default supervisor agent.
    pub fn standard() -> Self {
        let supervisor: Arc<dyn Agent> = Arc::new(Supervisor);
        Agents {
            default: supervisor.name(),
            agents: BTreeMap::from([(supervisor.name(), supervisor)]),
        }
    }

    /// Adds (or replaces) an agent.
    pub fn with(mut self, agent: Arc<dyn Agent>) -> Self {
        self.agents.insert(agent.name(), agent);
        self
    }

    /// The default agent's name.
    pub fn default_name(&self) -> &'static str {
        self.default
    }

    /// Finds an agent by name.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Agent>> {
        self.agents.get(name).cloned()
    }
}
