//! The errors clients see: the HTTP error (a status and `{"code": "...", "message": "..."}`) and a
//! refused WebSocket request (an `error` event's code and message). Neither ever carries internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::protocol::ErrorCode;

/// An HTTP error response.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl AppError {
    /// A 503 for `/readyz` while the store is unreachable or the gateway drains.
    pub fn unavailable(message: &str) -> Self {
        AppError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: ErrorCode::Internal,
            message: message.to_owned(),
        }
    }

    /// A 429 for an upgrade by a user who holds `limit` connections already.
    pub fn too_many_connections(limit: usize) -> Self {
        AppError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::TooManyConnections,
            message: format!("at most {limit} connections per user; close one first"),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(error: AuthError) -> Self {
        match error {
            // A server-side key problem is the server's fault; say nothing more to the client.
            AuthError::Key(_) => AppError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: ErrorCode::Internal,
                message: "internal error".into(),
            },
            other => AppError {
                status: StatusCode::UNAUTHORIZED,
                code: ErrorCode::Unauthorized,
                message: other.to_string(),
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "code": self.code, "message": self.message }))).into_response()
    }
}

/// A request refused, with the error code the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The protocol error code.
    pub code: ErrorCode,
    /// What to tell the client (never internals).
    pub message: String,
    /// Facts the client acts on (the `details` of the `error`), when the code has any.
    pub details: Option<serde_json::Value>,
}

impl Reject {
    /// A refusal.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Reject {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// The refusal with `details` for the client.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// An internal failure: logged in full, answered with nothing but `INTERNAL`.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error while handling a message");
        Reject::new(ErrorCode::Internal, "internal error")
    }
}
