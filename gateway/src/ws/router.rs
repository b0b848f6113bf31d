//! The router: the only place a client message is decoded and matched. Legacy names are resolved here,
//! once: `chat`, `message` and `chat_message` are `user_message`; `execute_agent` and `run_agent` are
//! `start_agent`.

use serde::Deserialize;
use serde_json::Value;

use super::ConnectionContext;
use super::handler::{MessageHandler, RunMessage};
use crate::engine::ExecutionEngine;
use crate::error::Reject;
use crate::hub::Outbound;
use crate::metrics::Metrics;
use crate::protocol::{self, ErrorCode};
use crate::state::AppState;

/// A client message. Legacy names are serde aliases of the canonical ones, so an unknown `type` is a
/// decoding error by construction: no second table of names can drift from this one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Start a run of the named (or default) agent.
    #[serde(alias = "execute_agent", alias = "run_agent")]
    StartAgent {
        /// The user's text.
        text: String,
        /// An existing thread, or a new one.
        thread_id: Option<String>,
        /// The agent; the default one when absent.
        agent: Option<String>,
    },
    /// Start a run of the default agent.
    #[serde(alias = "chat", alias = "message", alias = "chat_message")]
    UserMessage {
        /// The user's text.
        text: String,
        /// An existing thread, or a new one.
        thread_id: Option<String>,
    },
    /// Replay a thread's events after `after_seq`, then continue live.
    Resume {
        /// The thread.
        thread_id: String,
        /// The last `seq` the client has.
        after_seq: u64,
    },
    /// The client has everything up to `seq`.
    Ack {
        /// The thread.
        thread_id: String,
        /// The acknowledged `seq`.
        seq: u64,
    },
    /// Stop a running run.
    Cancel {
        /// The run.
        run_id: String,
    },
    /// Answered by `pong`.
    Ping,
}

/// A frame that is not a valid message: the rejection and the request id, if one could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    /// Why.
    pub reject: Reject,
    /// The frame's `request_id`, when it had a readable one.
    pub request_id: Option<String>,
}

/// Decodes a text frame into a message and its request id.
pub fn decode(text: &str) -> Result<(ClientMessage, Option<String>), Undecodable> {
    let fail = |code, message: String, request_id: Option<String>| Undecodable {
        reject: Reject::new(code, message),
        request_id,
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| fail(ErrorCode::JsonParseError, format!("not valid JSON: {e}"), None))?;
    let Value::Object(object) = &value else {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "a message is a JSON object".into(),
            None,
        ));
    };
    let request_id = match object.get("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            return Err(fail(
                ErrorCode::InvalidMessage,
                "`request_id` must be a string".into(),
                None,
            ));
        }
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.chars().take(64).collect::<String>(),
        Some(_) => {
            return Err(fail(
                ErrorCode::InvalidMessage,
                "`type` must be a string".into(),
                request_id,
            ));
        }
        None => {
            return Err(fail(
                ErrorCode::InvalidMessage,
                "a message needs a `type`".into(),
                request_id,
            ));
        }
    };
    match ClientMessage::deserialize(&value) {
        Ok(message) => Ok((message, request_id)),
        // The tag is the only enum in a message, so an unknown variant is an unknown type.
        Err(error) if error.to_string().starts_with("unknown variant") => Err(fail(
            ErrorCode::UnknownMessageType,
            format!("unknown message type `{kind}`"),
            request_id,
        )),
        Err(error) => Err(fail(
            ErrorCode::InvalidMessage,
            format!("invalid `{kind}`: {error}"),
            request_id,
        )),
    }
}

/// Routes decoded messages to the handler, the engine or the connection's writer.
#[derive(Clone)]
pub struct MessageRouter {
    handler: MessageHandler,
    engine: ExecutionEngine,
    metrics: Metrics,
}

impl MessageRouter {
    /// The router over the gateway's one handler, engine and metrics.
    pub fn for_state(state: &AppState) -> Self {
        let handler = MessageHandler::new(state.store.clone(), state.engine.clone(), state.factory.clone());
        MessageRouter::new(handler, state.engine.clone(), state.metrics.clone())
    }

    /// A router over the given parts.
    pub fn new(handler: MessageHandler, engine: ExecutionEngine, metrics: Metrics) -> Self {
        MessageRouter {
            handler,
            engine,
            metrics,
        }
    }

    /// Handles one text frame; every refusal is answered with an `error` and the connection stays open.
    pub async fn route(&self, connection: &ConnectionContext, text: &str) {
        let (message, request_id) = match decode(text) {
            Ok(decoded) => decoded,
            Err(Undecodable { reject, request_id }) => {
                return self.reply_error(connection, &reject, request_id.as_deref()).await;
            }
        };
        let result = match message {
            ClientMessage::StartAgent { text, thread_id, agent } => {
                let run = RunMessage {
                    text,
                    thread_id,
                    agent,
                    request_id: request_id.clone(),
                };
                self.handler.handle(connection, run).await
            }
            ClientMessage::UserMessage { text, thread_id } => {
                let run = RunMessage {
                    text,
                    thread_id,
                    agent: None,
                    request_id: request_id.clone(),
                };
                self.handler.handle(connection, run).await
            }
            ClientMessage::Resume { thread_id, after_seq } => {
                match self
                    .handler
                    .resumable_thread(&connection.user_id, thread_id, after_seq)
                    .await
                {
                    Ok(thread_id) => {
                        connection
                            .send(Outbound::Replay {
                                thread_id,
                                after_seq,
                                resend: true,
                            })
                            .await;
                        Ok(())
                    }
                    Err(reject) => Err(reject),
                }
            }
            ClientMessage::Ack { thread_id, seq: _ } => self
                .handler
                .owned_thread(&connection.user_id, thread_id)
                .await
                .map(drop),
            ClientMessage::Cancel { run_id } => match self.engine.cancel(&connection.user_id, &run_id).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(Reject::new(ErrorCode::RunNotFound, "no such running run")),
                Err(error) => Err(Reject::internal(&error)),
            },
            ClientMessage::Ping => {
                connection
                    .send(Outbound::Text(protocol::pong(request_id.as_deref())))
                    .await;
                Ok(())
            }
        };
        if let Err(reject) = result {
            self.reply_error(connection, &reject, request_id.as_deref()).await;
        }
    }

    async fn reply_error(&self, connection: &ConnectionContext, reject: &Reject, request_id: Option<&str>) {
        self.metrics.error(reject.code);
        connection
            .send(Outbound::Text(protocol::error(
                reject.code,
                &reject.message,
                request_id,
                reject.details.clone(),
            )))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        decode(text).expect_err("refused").reject.code
    }

    #[test]
    fn legacy_aliases_resolve_to_the_canonical_messages() {
        for alias in ["user_message", "chat", "message", "chat_message"] {
            let (message, _) = decode(&format!(r#"{{"type":"{alias}","text":"hi"}}"#)).expect("decodes");
            assert!(matches!(message, ClientMessage::UserMessage { .. }), "{alias}");
        }
        for alias in ["start_agent", "execute_agent", "run_agent"] {
            let (message, _) =
                decode(&format!(r#"{{"type":"{alias}","text":"hi","agent":"supervisor"}}"#)).expect("decodes");
            assert!(
                matches!(message, ClientMessage::StartAgent { agent: Some(_), .. }),
                "{alias}"
            );
        }
        // A user message names no agent, whatever else the frame holds.
        let (message, _) = decode(r#"{"type":"chat","text":"hi","agent":"other"}"#).expect("decodes");
        assert_eq!(
            message,
            ClientMessage::UserMessage {
                text: "hi".into(),
                thread_id: None
            }
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_request_ids_kept() {
        let (message, request_id) =
            decode(r#"{"type":"resume","thread_id":"t","after_seq":3,"extra":true,"request_id":"r9"}"#)
                .expect("decodes");
        assert_eq!(
            message,
            ClientMessage::Resume {
                thread_id: "t".into(),
                after_seq: 3
            }
        );
        assert_eq!(request_id.as_deref(), Some("r9"));
    }

    #[test]
    fn every_bad_frame_gets_its_code() {
        assert_eq!(code("{not json"), ErrorCode::JsonParseError);
        assert_eq!(code("[1,2]"), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"text":"no type"}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownMessageType);
        // A near miss of a known type is unknown, never a ping.
        assert_eq!(code(r#"{"type":"pong"}"#), ErrorCode::UnknownMessageType);
        assert_eq!(code(r#"{"type":""}"#), ErrorCode::UnknownMessageType);
        assert_eq!(code(r#"{"type":"user_message"}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":"user_message","text":5}"#), ErrorCode::InvalidMessage);
        assert_eq!(
            code(r#"{"type":"resume","thread_id":"t","after_seq":-1}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(code(r#"{"type":"ping","request_id":5}"#), ErrorCode::InvalidMessage);
        let echoed = decode(r#"{"type":"cancel","request_id":"r1"}"#).expect_err("no run_id");
        assert_eq!(echoed.request_id.as_deref(), Some("r1"));
    }
}
