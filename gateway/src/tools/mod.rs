//! Tools an agent may call through the engine: each call is announced with `tool_executing` and ended
//! with `tool_completed`, by the engine, whatever the tool does.

mod calculator;
mod clock;
mod search;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::store::Store;

pub use calculator::{Calculator, evaluate};
pub use clock::Clock;
pub use search::ThreadSearch;

/// What a tool may know about the run calling it.
#[derive(Clone)]
pub struct ToolContext {
    /// The run's thread (a tool only ever sees its own user's thread).
    pub thread_id: String,
    /// The store, for tools that read the thread.
    pub store: Store,
}

/// A tool: a name and an async call from JSON parameters to a JSON result, or an error message.
pub trait Tool: Send + Sync {
    /// The name agents call it by.
    fn name(&self) -> &'static str;
    /// Runs the tool.
    fn call<'a>(&'a self, params: &'a Value, context: &'a ToolContext) -> BoxFuture<'a, Result<Value, String>>;
}

/// The tools available to agents, by name.
#[derive(Clone, Default)]
pub struct Tools {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
}

impl Tools {
    /// The default agent's tools: calculator, clock, thread search.
    pub fn standard() -> Self {
        Tools::default()
            .with(Arc::new(Calculator))
            .with(Arc::new(Clock))
            .with(Arc::new(ThreadSearch))
    }

    /// Adds (or replaces) a tool.
    pub fn with(mut self, tool: Arc<dyn Tool>) -> Self {
        self.tools.insert(tool.name(), tool);
        self
    }

    /// Finds a tool by name.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).cloned()
    }
}
