//! `clock`: the current time, UTC.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Tool, ToolContext};
use crate::protocol::timestamp_now;

/// The clock tool: `{}` -> `{"utc": "2026-01-01T00:00:00.000Z"}`.
pub struct Clock;

impl Tool for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn call<'a>(&'a self, _: &'a Value, _: &'a ToolContext) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move { Ok(json!({ "utc": timestamp_now() })) })
    }
}
