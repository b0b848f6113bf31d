//! The gateway's state: its one auth, store, hub, engine, execution-context factory, metrics and
//! lifecycle, wired together once and shared by every request. The transport (`ws`) reads it; it knows
//! nothing of the transport.

use std::sync::Arc;

use crate::agent::Agents;
use crate::auth::{AuthError, Authenticator};
use crate::config::Config;
use crate::context::ExecutionContextFactory;
use crate::engine::{EngineParts, ExecutionEngine};
use crate::hub::Hub;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::notifier::Notifier;
use crate::quota::ConnectionQuota;
use crate::store::Store;
use crate::tools::Tools;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// Token verification.
    pub auth: Authenticator,
    /// The event store.
    pub store: Store,
    /// Thread subscriptions.
    pub hub: Hub,
    /// Makes each run's per-user execution context.
    pub factory: ExecutionContextFactory,
    /// The execution engine.
    pub engine: ExecutionEngine,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown state.
    pub lifecycle: Lifecycle,
    /// Open connections per user, against the configured limit.
    pub connections: ConnectionQuota,
}

impl AppState {
    /// Wires the gateway's components together: one of each.
    pub fn new(config: Config, store: Store, agents: Agents, tools: Tools) -> Result<Self, AuthError> {
        let auth = Authenticator::new(&config)?;
        let hub = Hub::default();
        let metrics = Metrics::new();
        let lifecycle = Lifecycle::default();
        let notifier = Notifier::new(store.clone(), hub.clone());
        let engine = ExecutionEngine::new(EngineParts {
            store: store.clone(),
            notifier,
            agents,
            tools,
            metrics: metrics.clone(),
            lifecycle: lifecycle.clone(),
            step_delay: config.agent_step_delay,
            max_runs_per_user: config.max_runs_per_user,
        });
        let factory = ExecutionContextFactory::new(lifecycle.runs.clone());
        let connections = ConnectionQuota::new(
            config.max_connections_per_user,
            config.rate_limit_per_second,
            config.rate_limit_burst,
        );
        Ok(AppState {
            config: Arc::new(config),
            auth,
            store,
            hub,
            factory,
            engine,
            metrics,
            lifecycle,
            connections,
        })
    }
}
