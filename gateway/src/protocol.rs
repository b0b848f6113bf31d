//! The wire protocol's server-side messages and error codes (PROTOCOL.md, version 1).
//!
//! Client messages are decoded in one place, the router (`ws::router`), which also resolves legacy
//! aliases; this module only holds what the server sends.

use serde::Serialize;
use serde_json::{Value, json};

/// The protocol version announced in `connection_ready`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The subprotocol the server selects for browsers.
pub const SUBPROTOCOL: &str = "agent-gateway.v1";

/// Error codes of `error` messages and of HTTP error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The frame is not JSON.
    JsonParseError,
    /// A known message with missing or mistyped fields, or a binary frame.
    InvalidMessage,
    /// A `type` the protocol does not define.
    UnknownMessageType,
    /// A frame over the configured size limit.
    MessageTooLarge,
    /// Too many messages too fast.
    RateLimited,
    /// The thread does not exist or belongs to another user.
    ThreadNotFound,
    /// The run does not exist, belongs to another user, or has ended.
    RunNotFound,
    /// The thread already has a running run.
    RunAlreadyActive,
    /// Something went wrong on the server; nothing internal is disclosed.
    Internal,
    /// The token is missing, malformed, expired, wrongly signed or for another issuer or audience.
    Unauthorized,
    /// A `resume` cursor beyond the thread's latest stored `seq`: the client holds a position the
    /// server never gave, so it must resume from its last delivered `seq` (or 0).
    CursorAhead,
    /// The gateway is draining for a restart: no new runs here; retry on another instance or later.
    Draining,
    /// The user already holds as many connections as allowed; close one first.
    TooManyConnections,
    /// The user has as many runs going as allowed; retry when one ends.
    TooManyRuns,
    /// A `resume` cursor before the thread's retained history: retention removed the events after it
    /// up to `details.removed_through`, so the client resumes from there, knowing it has a gap.
    HistoryTruncated,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JsonParseError => "JSON_PARSE_ERROR",
            Self::InvalidMessage => "INVALID_MESSAGE",
            Self::UnknownMessageType => "UNKNOWN_MESSAGE_TYPE",
            Self::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Self::RateLimited => "RATE_LIMITED",
            Self::ThreadNotFound => "THREAD_NOT_FOUND",
            Self::RunNotFound => "RUN_NOT_FOUND",
            Self::RunAlreadyActive => "RUN_ALREADY_ACTIVE",
            Self::Internal => "INTERNAL",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::CursorAhead => "CURSOR_AHEAD",
            Self::Draining => "DRAINING",
            Self::TooManyConnections => "TOO_MANY_CONNECTIONS",
            Self::TooManyRuns => "TOO_MANY_RUNS",
            Self::HistoryTruncated => "HISTORY_TRUNCATED",
        }
    }

    /// Whether the client may retry the same request later.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::RunAlreadyActive
                | Self::Internal
                | Self::Draining
                | Self::TooManyConnections
                | Self::TooManyRuns
        )
    }
}

/// The five critical run events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The run began.
    AgentStarted,
    /// A reasoning step.
    AgentThinking,
    /// A tool call began.
    ToolExecuting,
    /// A tool call ended.
    ToolCompleted,
    /// The run ended; always the last event of a run, exactly once.
    AgentCompleted,
}

impl EventType {
    /// The type as it appears on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentStarted => "agent_started",
            Self::AgentThinking => "agent_thinking",
            Self::ToolExecuting => "tool_executing",
            Self::ToolCompleted => "tool_completed",
            Self::AgentCompleted => "agent_completed",
        }
    }

    /// Parses a stored type name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::AgentStarted,
            Self::AgentThinking,
            Self::ToolExecuting,
            Self::ToolCompleted,
            Self::AgentCompleted,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The agent answered.
    Completed,
    /// A tool or the agent failed, or the agent panicked.
    Failed,
    /// Cancelled by the user or by shutdown.
    Cancelled,
}

impl RunStatus {
    /// The status as it appears on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status of a name as [`RunStatus::as_str`] gives it.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Completed, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

/// A stored run event, as sent to clients.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// One of the five critical event types.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Per-thread sequence number: starts at 1, increases by exactly one per stored event.
    pub seq: u64,
    /// The thread.
    pub thread_id: String,
    /// The run.
    pub run_id: String,
    /// The request that started the run, if it had an id.
    pub request_id: Option<String>,
    /// RFC 3339 with milliseconds, UTC.
    pub timestamp: String,
    /// The event's fields (PROTOCOL.md).
    pub data: Value,
}

impl Event {
    /// The JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The `tool_completed` data for a call that will never return (`call` is its `tool_executing` data):
/// failed, with `why`, so the run's tool events stay paired.
pub fn unfinished_call(call: &Value, why: &str) -> Value {
    serde_json::json!({
        "call_id": call["call_id"],
        "tool_name": call["tool_name"],
        "success": false,
        "results": { "error": why },
        "duration_ms": 0,
    })
}

/// The current time as the protocol writes it.
pub fn timestamp_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `connection_ready`.
pub fn connection_ready(connection_id: &str, user_id: &str, heartbeat_s: u64) -> String {
    json!({
        "type": "connection_ready",
        "connection_id": connection_id,
        "user_id": user_id,
        "protocol_version": PROTOCOL_VERSION,
        "heartbeat_s": heartbeat_s,
    })
    .to_string()
}

/// `pong`.
pub fn pong(request_id: Option<&str>) -> String {
    let mut message = json!({ "type": "pong", "timestamp": timestamp_now() });
    if let Some(id) = request_id {
        message["request_id"] = json!(id);
    }
    message.to_string()
}

/// `heartbeat`.
pub fn heartbeat() -> String {
    json!({ "type": "heartbeat", "timestamp": timestamp_now() }).to_string()
}

/// An `error` message; `request_id` is echoed when the request had one.
pub fn error(code: ErrorCode, message: &str, request_id: Option<&str>, details: Option<Value>) -> String {
    let mut error = json!({
        "type": "error",
        "code": code,
        "message": message,
        "retryable": code.retryable(),
    });
    if let Some(id) = request_id {
        error["request_id"] = json!(id);
    }
    if let Some(details) = details {
        error["details"] = details;
    }
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_on_the_wire() {
        for code in [
            ErrorCode::JsonParseError,
            ErrorCode::RunAlreadyActive,
            ErrorCode::Unauthorized,
        ] {
            assert_eq!(serde_json::to_value(code).expect("serializes"), json!(code.as_str()));
        }
    }

    #[test]
    fn errors_echo_the_request_id() {
        let text = error(ErrorCode::ThreadNotFound, "no such thread", Some("r1"), None);
        let value: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(value["code"], "THREAD_NOT_FOUND");
        assert_eq!(value["request_id"], "r1");
        assert_eq!(value["retryable"], false);
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let ts = timestamp_now();
        assert!(
            ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000Z".len(),
            "{ts}"
        );
    }
}
