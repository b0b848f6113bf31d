//! The router: the only place a client message is decoded and matched. Legacy names are resolved here,
//! once: `chat`, `message` and `chat_message` are `user_message`; `execute_agent` and `run_agent` are
//! `start_agent`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ConnectionContext;
use super::handler::{MessageHandler, Reject, RunMessage};
use super::hub::Outbound;
use crate::engine::ExecutionEngine;
use crate::metrics::Metrics;
use crate::protocol::{self, ErrorCode};

/// A client message, aliases resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Start a run of the named (or default) agent.
    StartAgent(RunMessage),
    /// Start a run of the default agent.
    UserMessage(RunMessage),
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

/// The canonical message type for a type name, legacy aliases included.
fn canonical_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "start_agent" | "execute_agent" | "run_agent" => "start_agent",
        "user_message" | "chat" | "message" | "chat_message" => "user_message",
        "resume" => "resume",
        "ack" => "ack",
        "cancel" => "cancel",
        "ping" => "ping",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct StartAgentFields {
    text: String,
    thread_id: Option<String>,
    agent: Option<String>,
}

#[derive(Deserialize)]
struct UserMessageFields {
    text: String,
    thread_id: Option<String>,
}

#[derive(Deserialize)]
struct ResumeFields {
    thread_id: String,
    after_seq: u64,
}

#[derive(Deserialize)]
struct AckFields {
    thread_id: String,
    seq: u64,
}

#[derive(Deserialize)]
struct CancelFields {
    run_id: String,
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
        Some(Value::String(kind)) => kind.as_str(),
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
    let Some(canonical) = canonical_type(kind) else {
        let shown: String = kind.chars().take(64).collect();
        return Err(fail(
            ErrorCode::UnknownMessageType,
            format!("unknown message type `{shown}`"),
            request_id,
        ));
    };
    fn fields<T: DeserializeOwned>(value: &Value, kind: &str, request_id: &Option<String>) -> Result<T, Undecodable> {
        T::deserialize(value).map_err(|e| Undecodable {
            reject: Reject::new(ErrorCode::InvalidMessage, format!("invalid `{kind}`: {e}")),
            request_id: request_id.clone(),
        })
    }
    let message = match canonical {
        "start_agent" => {
            let f: StartAgentFields = fields(&value, canonical, &request_id)?;
            ClientMessage::StartAgent(RunMessage {
                text: f.text,
                thread_id: f.thread_id,
                agent: f.agent,
                request_id: request_id.clone(),
            })
        }
        "user_message" => {
            let f: UserMessageFields = fields(&value, canonical, &request_id)?;
            ClientMessage::UserMessage(RunMessage {
                text: f.text,
                thread_id: f.thread_id,
                agent: None,
                request_id: request_id.clone(),
            })
        }
        "resume" => {
            let f: ResumeFields = fields(&value, canonical, &request_id)?;
            ClientMessage::Resume {
                thread_id: f.thread_id,
                after_seq: f.after_seq,
            }
        }
        "ack" => {
            let f: AckFields = fields(&value, canonical, &request_id)?;
            ClientMessage::Ack {
                thread_id: f.thread_id,
                seq: f.seq,
            }
        }
        "cancel" => {
            let f: CancelFields = fields(&value, canonical, &request_id)?;
            ClientMessage::Cancel { run_id: f.run_id }
        }
        _ => ClientMessage::Ping,
    };
    Ok((message, request_id))
}

/// Routes decoded messages to the handler, the engine or the connection's writer.
#[derive(Clone)]
pub struct MessageRouter {
    handler: MessageHandler,
    engine: ExecutionEngine,
    metrics: Metrics,
}

impl MessageRouter {
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
            ClientMessage::StartAgent(run) | ClientMessage::UserMessage(run) => {
                self.handler.handle(connection, run).await
            }
            ClientMessage::Resume { thread_id, after_seq } => {
                match self.handler.owned_thread(&connection.user_id, thread_id).await {
                    Ok(thread_id) => {
                        connection.send(Outbound::Replay { thread_id, after_seq }).await;
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
            ClientMessage::Cancel { run_id } => {
                if self.engine.cancel(&connection.user_id, &run_id) {
                    Ok(())
                } else {
                    Err(Reject::new(ErrorCode::RunNotFound, "no such running run"))
                }
            }
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
                None,
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
            assert!(matches!(message, ClientMessage::UserMessage(_)), "{alias}");
        }
        for alias in ["start_agent", "execute_agent"] {
            let (message, _) =
                decode(&format!(r#"{{"type":"{alias}","text":"hi","agent":"supervisor"}}"#)).expect("decodes");
            assert!(
                matches!(message, ClientMessage::StartAgent(RunMessage { agent: Some(_), .. })),
                "{alias}"
            );
        }
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
