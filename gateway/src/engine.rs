//! The execution engine: the one path that runs an agent. It emits `agent_started`, serves the agent's
//! requests (each `think` is an `agent_thinking`; each tool call a `tool_executing`, the call, and its
//! `tool_completed`), and always ends the run with exactly one `agent_completed`: after an answer, a
//! failing tool or agent, a panic (the agent runs in its own task), a cancel, or shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::agent::{AgentError, AgentSession, AgentTask, Agents, SessionRequest};
use crate::context::ExecutionContext;
use crate::emitter::Emitter;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::notifier::{EventTarget, Notifier};
use crate::protocol::{self, EventType, RunStatus};
use crate::store::{AcceptedRequest, InterruptedRun, RunProgress, RunStart, RunningHere, Store, StoreError};
use crate::tools::{ToolContext, Tools};

/// How long a cancelled agent may take to stop on its own before its task is aborted.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The thread already has a running run.
    #[error("this thread already has a running run")]
    AlreadyActive,
    /// No agent by that name.
    #[error("no agent named `{0}`")]
    UnknownAgent(String),
    /// The gateway is shutting down.
    #[error("the gateway is shutting down")]
    Draining,
    /// The user has as many runs going as allowed.
    #[error("at most {0} runs per user at a time; wait for one to end")]
    TooManyRuns(usize),
    /// The request was accepted before: this is a retry of that run.
    #[error("request already accepted as run {}", .0.run_id)]
    AlreadyAccepted(AcceptedRequest),
    /// The run could not be recorded.
    #[error(transparent)]
    Store(StoreError),
}

/// A run in progress, for `cancel` and the one-run-per-thread rule.
struct ActiveRun {
    user_id: String,
    thread_id: String,
    cancel: tokio_util::sync::CancellationToken,
}

/// The runs in progress, indexed so that starting a run costs the same with one run going or thousands.
#[derive(Default)]
struct ActiveRuns {
    by_run: HashMap<String, ActiveRun>,
    busy_threads: HashSet<String>,
    per_user: HashMap<String, usize>,
}

impl ActiveRuns {
    /// Records a run, unless its thread has one going or its user has `max_per_user` going.
    fn start(&mut self, run_id: &str, run: ActiveRun, max_per_user: usize) -> Result<(), StartError> {
        if self.busy_threads.contains(&run.thread_id) {
            return Err(StartError::AlreadyActive);
        }
        let going = self.per_user.get(&run.user_id).copied().unwrap_or(0);
        if going >= max_per_user {
            return Err(StartError::TooManyRuns(max_per_user));
        }
        self.per_user.insert(run.user_id.clone(), going + 1);
        self.busy_threads.insert(run.thread_id.clone());
        self.by_run.insert(run_id.to_owned(), run);
        Ok(())
    }

    /// Forgets a run (its thread may take another).
    fn end(&mut self, run_id: &str) {
        let Some(run) = self.by_run.remove(run_id) else {
            return;
        };
        self.busy_threads.remove(&run.thread_id);
        if let Some(going) = self.per_user.get_mut(&run.user_id) {
            *going -= 1;
            if *going == 0 {
                self.per_user.remove(&run.user_id);
            }
        }
    }

    fn get(&self, run_id: &str) -> Option<&ActiveRun> {
        self.by_run.get(run_id)
    }
}

/// Runs agents.
#[derive(Clone)]
pub struct ExecutionEngine {
    store: Store,
    notifier: Notifier,
    agents: Agents,
    tools: Tools,
    metrics: Metrics,
    lifecycle: Lifecycle,
    step_delay: Duration,
    max_runs_per_user: usize,
    active: Arc<Mutex<ActiveRuns>>,
}

/// What an engine is made of: the one store, notifier, agents and tools of the gateway.
pub struct EngineParts {
    /// The event store.
    pub store: Store,
    /// Stamps, stores and sends each event.
    pub notifier: Notifier,
    /// The agents runs may name.
    pub agents: Agents,
    /// The tools agents may call.
    pub tools: Tools,
    /// Run counts and durations.
    pub metrics: Metrics,
    /// Draining and the runs in flight.
    pub lifecycle: Lifecycle,
    /// The pause an agent takes between its steps.
    pub step_delay: Duration,
    /// Runs one user may have going at once (one user must not take every worker and the store).
    pub max_runs_per_user: usize,
}

/// How a run ended, before it is reported.
enum Outcome {
    Answered(String),
    Failed(String),
    Cancelled,
}

impl ExecutionEngine {
    /// An engine over the given parts.
    pub fn new(parts: EngineParts) -> Self {
        let EngineParts {
            store,
            notifier,
            agents,
            tools,
            metrics,
            lifecycle,
            step_delay,
            max_runs_per_user,
        } = parts;
        ExecutionEngine {
            store,
            notifier,
            agents,
            tools,
            metrics,
            lifecycle,
            step_delay,
            max_runs_per_user,
            active: Arc::default(),
        }
    }

    fn active(&self) -> std::sync::MutexGuard<'_, ActiveRuns> {
        // Entries are inserted and removed whole; a panic elsewhere cannot leave one half-made.
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The agents this engine runs.
    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// Starts a run in the background; its events flow through the notifier. Returns the `seq` of its
    /// `agent_started`.
    pub async fn start(&self, context: ExecutionContext) -> Result<u64, StartError> {
        if self.lifecycle.is_draining() {
            return Err(StartError::Draining);
        }
        let agent = self
            .agents
            .get(&context.agent)
            .ok_or_else(|| StartError::UnknownAgent(context.agent.clone()))?;
        self.active().start(
            &context.run_id,
            ActiveRun {
                user_id: context.user_id.clone(),
                thread_id: context.thread_id.clone(),
                cancel: context.cancel.clone(),
            },
            self.max_runs_per_user,
        )?;
        let run = RunStart {
            run_id: context.run_id.clone(),
            user_id: context.user_id.clone(),
            thread_id: context.thread_id.clone(),
            request_id: context.request_id.clone(),
            agent: agent.name().to_owned(),
            task: context.task.clone(),
            user_run_limit: self.max_runs_per_user,
        };
        let started = json!({ "agent_name": agent.name(), "task_description": context.task });
        let started = match self.notifier.accept(run, started).await {
            Ok(started) => started,
            Err(error) => {
                self.active().end(&context.run_id);
                return Err(match error {
                    StoreError::AlreadyAccepted(accepted) => StartError::AlreadyAccepted(accepted),
                    StoreError::ThreadBusy => StartError::AlreadyActive,
                    StoreError::TooManyRuns(limit) => StartError::TooManyRuns(limit),
                    other => StartError::Store(other),
                });
            }
        };
        let engine = self.clone();
        self.lifecycle
            .run_tasks
            .spawn(async move { engine.execute(context, agent).await });
        Ok(started.seq)
    }

    /// Cancels a run of `user_id`, here or (through the store) on the node running it; false if there
    /// is no such running run of that user.
    pub async fn cancel(&self, user_id: &str, run_id: &str) -> Result<bool, StoreError> {
        let local = match self.active().get(run_id) {
            Some(run) if run.user_id == user_id => {
                run.cancel.cancel();
                true
            }
            Some(_) => return Ok(false),
            None => false,
        };
        if local {
            return Ok(true);
        }
        self.store.request_cancel(user_id, run_id).await
    }

    /// Cancels a run of this node that a client asked to cancel on another node (which checked that it
    /// is the client's run); false if no such run runs here.
    pub fn cancel_here(&self, run_id: &str) -> bool {
        self.active().get(run_id).map(|run| run.cancel.cancel()).is_some()
    }

    /// Ends runs a previous process left running (it stopped without draining), or, with several nodes,
    /// runs of a node whose lease expired, once this node has claimed them: a tool call left open gets
    /// its `tool_completed`, and the run a reasoning step and its `agent_completed` with status
    /// `failed`, so every stored run keeps the five-event contract.
    pub async fn recover_interrupted_runs(&self) -> Result<usize, StoreError> {
        // A run is listed here before its `agent_started` is stamped: one stamped before `listed_at`
        // and not listed is not executing here.
        let listed_at = protocol::timestamp_now();
        let runs = self.active().by_run.keys().cloned().collect();
        let interrupted = self
            .store
            .claim_interrupted_runs(&RunningHere { runs, listed_at })
            .await?;
        self.metrics.runs_taken_over(interrupted.len());
        // Each run is ended on its own: one that cannot be ended now (the store refuses, or another
        // node took it over meanwhile) does not keep the others from ending. A run left owned by this
        // node and not ended is claimed again at the next call.
        let mut first_failure = None;
        for run in &interrupted {
            match self.end_interrupted(run).await {
                Ok(()) => {}
                Err(StoreError::Fenced(_)) => {
                    tracing::info!(run_id = %run.run_id, "another node ends this run");
                }
                Err(error) => {
                    tracing::warn!(run_id = %run.run_id, %error, "cannot end an interrupted run now");
                    first_failure.get_or_insert(error);
                }
            }
        }
        match first_failure {
            None => Ok(interrupted.len()),
            Some(error) => Err(error),
        }
    }

    /// Ends one interrupted run: its open tool call, a reasoning step, and `agent_completed(failed)`.
    async fn end_interrupted(&self, run: &InterruptedRun) -> Result<(), StoreError> {
        if let Some(status) = &run.completed {
            // Its `agent_completed` is stored (by a version that wrote the status apart): a second
            // one would break the contract; only the status is missing.
            let status = RunStatus::parse(status).unwrap_or(RunStatus::Failed);
            return self.store.finish_run(&run.run_id, status).await;
        }
        let target = EventTarget {
            thread_id: run.thread_id.clone(),
            run_id: run.run_id.clone(),
            request_id: run.request_id.clone(),
        };
        let RunProgress { open_call, steps } = self.store.run_progress(&run.thread_id, &run.run_id).await?;
        if let Some(call) = open_call {
            let data = protocol::unfinished_call(&call, "interrupted: the gateway stopped");
            self.notifier.emit(&target, EventType::ToolCompleted, data).await?;
        }
        let reasoning = "The gateway stopped while this run was in progress; it cannot continue.";
        self.notifier
            .emit(
                &target,
                EventType::AgentThinking,
                json!({ "reasoning": reasoning, "step": steps + 1 }),
            )
            .await?;
        let data = json!({
            "status": RunStatus::Failed,
            "final_response": "The gateway stopped before this run finished.",
            "execution_time_ms": 0,
        });
        self.notifier.complete(&target, RunStatus::Failed, data, || ()).await?;
        Ok(())
    }

    /// One run, once accepted (`agent_started` is stored and sent): the agent's steps and tool calls, then
    /// `agent_completed`.
    async fn execute(&self, context: ExecutionContext, agent: Arc<dyn crate::agent::Agent>) {
        let started = Instant::now();
        let target = context.target();
        let emitter = Emitter::new(&self.notifier, &target, &context.cancel, &self.lifecycle.runs);
        let (outcome, steps) = self.drive(&emitter, &context, agent).await;
        self.complete(&emitter, &context, outcome, steps, started).await;
    }

    /// Runs the agent, answering its requests to think and to call tools, until it ends or is cancelled
    /// (aborted after a grace period): how it ended, and how many steps it reasoned.
    async fn drive(
        &self,
        emitter: &Emitter<'_>,
        context: &ExecutionContext,
        agent: Arc<dyn crate::agent::Agent>,
    ) -> (Outcome, u64) {
        let (requests, mut incoming) = mpsc::channel(8);
        let task = AgentTask {
            text: context.task.clone(),
            user_id: context.user_id.clone(),
            thread_id: context.thread_id.clone(),
        };
        let session = AgentSession::new(task, requests, context.cancel.clone(), self.step_delay);
        let mut agent_task = tokio::spawn(agent.run(session));
        let tool_context = ToolContext {
            thread_id: context.thread_id.clone(),
            store: self.store.clone(),
        };
        let mut steps = 0u64;
        let mut abort_at: Option<tokio::time::Instant> = None;
        let outcome = loop {
            tokio::select! {
                biased;
                Some(request) = incoming.recv() => match request {
                    SessionRequest::Think { reasoning, reply } => {
                        steps += 1;
                        emitter.emit(EventType::AgentThinking, json!({ "reasoning": reasoning, "step": steps })).await;
                        let _ = reply.send(());
                    }
                    SessionRequest::Tool { name, params, reply } => {
                        let result = self.call_tool(emitter, &tool_context, context, &name, params).await;
                        let _ = reply.send(result);
                    }
                },
                joined = &mut agent_task => break match joined {
                    Ok(Ok(answer)) => Outcome::Answered(answer),
                    Ok(Err(AgentError::Cancelled)) => Outcome::Cancelled,
                    Ok(Err(error)) => Outcome::Failed(error.to_string()),
                    Err(join) if join.is_panic() => Outcome::Failed("the agent panicked".into()),
                    Err(_) => Outcome::Cancelled,
                },
                _ = context.cancel.cancelled(), if abort_at.is_none() => {
                    abort_at = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                }
                _ = tokio::time::sleep_until(abort_at.unwrap_or_else(tokio::time::Instant::now)), if abort_at.is_some() => {
                    agent_task.abort();
                    break Outcome::Cancelled;
                }
            }
        };
        (outcome, steps)
    }

    /// Ends the run: a reasoning step if there was none, then exactly one `agent_completed`, the run's
    /// status, the answer in the conversation, and the metrics.
    async fn complete(
        &self,
        emitter: &Emitter<'_>,
        context: &ExecutionContext,
        outcome: Outcome,
        steps: u64,
        started: Instant,
    ) {
        let (status, final_response) = match (outcome, emitter.lost()) {
            (_, Some(lost)) => (RunStatus::Failed, format!("The run failed: {lost}.")),
            (Outcome::Answered(answer), None) => (RunStatus::Completed, answer),
            (Outcome::Failed(reason), None) => (RunStatus::Failed, format!("The run failed: {reason}")),
            (Outcome::Cancelled, None) => (RunStatus::Cancelled, "The run was cancelled.".to_owned()),
        };
        let took = started.elapsed();
        // Every run has at least one reasoning step, even one that ended before its agent reasoned.
        let closing_step = || {
            let reasoning = format!("The run ended ({}) before the agent reasoned.", status.as_str());
            json!({ "reasoning": reasoning, "step": steps + 1 })
        };
        let data = json!({
            "status": status,
            "final_response": final_response,
            "execution_time_ms": u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        });
        let release = || {
            self.active().end(&context.run_id);
        };
        if !emitter.end(closing_step, status, data, release).await {
            if emitter.taken_over() {
                // Another node ends it (its lease here expired); nothing of it is this node's now.
                tracing::warn!(run_id = %context.run_id, "run taken over by another node");
                self.active().end(&context.run_id);
            } else {
                // Only a shutdown gives up on the end: the thread stays busy until the next start's
                // recovery stores it.
                tracing::error!(run_id = %context.run_id, "run left unfinished in the store");
            }
        }
        self.metrics.run_finished(status, took);
        // A run that completed is counted by /metrics; only the others are worth a line at the default level.
        if status == RunStatus::Completed {
            tracing::debug!(run_id = %context.run_id, user_id = %context.user_id, ms = took.as_millis() as u64, "run finished");
        } else {
            tracing::info!(run_id = %context.run_id, user_id = %context.user_id, status = status.as_str(), ms = took.as_millis() as u64, "run finished");
        }
    }

    /// One tool call: `tool_executing`, the call (interrupted by cancellation), `tool_completed`.
    async fn call_tool(
        &self,
        emitter: &Emitter<'_>,
        tool_context: &ToolContext,
        context: &ExecutionContext,
        name: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let call_id = uuid::Uuid::new_v4().to_string();
        emitter
            .emit(
                EventType::ToolExecuting,
                json!({ "call_id": call_id, "tool_name": name, "parameters": params }),
            )
            .await;
        let started = Instant::now();
        let result = match self.tools.get(name) {
            None => Err(format!("no tool named `{name}`")),
            Some(tool) => {
                // In its own task, so a panicking tool fails its call, not the run.
                let (params, tool_context) = (params.clone(), tool_context.clone());
                let mut call = tokio::spawn(async move { tool.call(&params, &tool_context).await });
                tokio::select! {
                    joined = &mut call => joined.unwrap_or_else(|_| Err("the tool panicked".into())),
                    _ = context.cancel.cancelled() => {
                        call.abort();
                        Err("cancelled".into())
                    }
                }
            }
        };
        let (success, results) = match &result {
            Ok(value) => (true, value.clone()),
            Err(message) => (false, json!({ "error": message })),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        emitter
            .emit(
                EventType::ToolCompleted,
                json!({ "call_id": call_id, "tool_name": name, "success": success, "results": results, "duration_ms": duration_ms }),
            )
            .await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(user: &str, thread: &str) -> ActiveRun {
        ActiveRun {
            user_id: user.into(),
            thread_id: thread.into(),
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// One run per thread, at most so many per user, and an ended run frees both.
    #[test]
    fn active_runs_hold_one_run_per_thread_and_a_limit_per_user() {
        let mut active = ActiveRuns::default();
        active.start("r1", run("alice", "t1"), 2).expect("starts");
        assert!(matches!(
            active.start("r2", run("alice", "t1"), 2),
            Err(StartError::AlreadyActive)
        ));
        active.start("r3", run("alice", "t2"), 2).expect("another thread");
        assert!(matches!(
            active.start("r4", run("alice", "t3"), 2),
            Err(StartError::TooManyRuns(2))
        ));
        active.start("r5", run("bob", "t4"), 2).expect("another user");
        active.end("r1");
        active
            .start("r6", run("alice", "t1"), 2)
            .expect("the thread and a slot are free again");
        active.end("unknown");
        assert!(active.get("r6").is_some() && active.get("r1").is_none());
        for run in ["r3", "r5", "r6"] {
            active.end(run);
        }
        assert!(active.per_user.is_empty() && active.busy_threads.is_empty());
    }
}
