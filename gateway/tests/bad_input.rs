//! PROTOCOL.md guarantee 4: bad input is answered, not fatal. Every row: malformed JSON, unknown types,
//! bad fields, binary frames, oversized frames, invalid UTF-8, floods, foreign threads and runs.

mod common;

use std::time::Duration;

use common::TestGateway;
use futures_util::SinkExt;
use gateway::agent::Agents;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Sends raw text, expects an `error` with `code`, then proves the connection still works.
async fn answered(client: &mut common::Client, raw: Message, code: &str) -> Value {
    client.ws.send(raw).await.expect("sends");
    let error = client.recv().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], code, "{error}");
    assert!(
        error["message"].is_string() && error["retryable"].is_boolean(),
        "{error}"
    );
    client.send(json!({"type": "ping"})).await;
    assert_eq!(
        client.recv().await["type"],
        "pong",
        "the connection stays open after {code}"
    );
    error
}

fn text(s: &str) -> Message {
    Message::Text(s.to_owned().into())
}

#[tokio::test]
async fn malformed_unknown_and_mistyped_messages_get_errors_and_the_connection_stays_open() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("alice").await;
    answered(&mut client, text("{not json"), "JSON_PARSE_ERROR").await;
    answered(&mut client, text("\"just a string\""), "INVALID_MESSAGE").await;
    answered(&mut client, text(r#"{"text": "no type"}"#), "INVALID_MESSAGE").await;
    let unknown = answered(
        &mut client,
        text(r#"{"type": "teleport", "request_id": "r7"}"#),
        "UNKNOWN_MESSAGE_TYPE",
    )
    .await;
    assert_eq!(unknown["request_id"], "r7", "the request id is echoed");
    answered(
        &mut client,
        text(r#"{"type": "user_message", "text": 42}"#),
        "INVALID_MESSAGE",
    )
    .await;
    answered(
        &mut client,
        text(r#"{"type": "user_message", "text": "   "}"#),
        "INVALID_MESSAGE",
    )
    .await;
    answered(
        &mut client,
        text(r#"{"type": "resume", "thread_id": "t", "after_seq": "x"}"#),
        "INVALID_MESSAGE",
    )
    .await;
    answered(
        &mut client,
        text(r#"{"type": "start_agent", "text": "hi", "agent": "nobody"}"#),
        "INVALID_MESSAGE",
    )
    .await;
    answered(&mut client, Message::Binary(vec![1u8, 2, 3].into()), "INVALID_MESSAGE").await;
    gateway.stop().await;
}

#[tokio::test]
async fn foreign_and_missing_threads_and_runs_are_indistinguishable() {
    let gateway = TestGateway::start().await;
    let mut alice = gateway.connect("alice").await;
    alice
        .send(json!({"type": "user_message", "text": "what is 6 * 7?"}))
        .await;
    let events = alice.run_events().await;
    let thread = events[0]["thread_id"].as_str().expect("thread").to_owned();
    let run = events[0]["run_id"].as_str().expect("run").to_owned();

    let mut mallory = gateway.connect("mallory").await;
    for message in [
        json!({"type": "resume", "thread_id": thread, "after_seq": 0}),
        json!({"type": "user_message", "text": "hi", "thread_id": thread}),
        json!({"type": "ack", "thread_id": thread, "seq": 1}),
    ] {
        let foreign = answered(&mut mallory, text(&message.to_string()), "THREAD_NOT_FOUND").await;
        let mut missing = message.clone();
        missing["thread_id"] = json!("no-such-thread");
        let absent = answered(&mut mallory, text(&missing.to_string()), "THREAD_NOT_FOUND").await;
        assert_eq!(foreign["message"], absent["message"], "the two cases read the same");
    }
    answered(
        &mut mallory,
        text(&json!({"type": "cancel", "run_id": run}).to_string()),
        "RUN_NOT_FOUND",
    )
    .await;
    answered(
        &mut mallory,
        text(r#"{"type": "cancel", "run_id": "nope"}"#),
        "RUN_NOT_FOUND",
    )
    .await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_resume_cursor_beyond_the_history_is_refused_and_loses_nothing_later() {
    let gateway = TestGateway::start().await;
    let mut alice = gateway.connect("alice").await;
    alice
        .send(json!({"type": "user_message", "text": "what is 6 * 7?"}))
        .await;
    let events = alice.run_events().await;
    let thread = events[0]["thread_id"].as_str().expect("thread").to_owned();
    let latest = events.last().expect("events")["seq"].as_u64().expect("seq");

    let ahead = json!({"type": "resume", "thread_id": thread, "after_seq": latest + 100});
    let error = answered(&mut alice, text(&ahead.to_string()), "CURSOR_AHEAD").await;
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains(&latest.to_string()),
        "the error names the latest seq: {error}"
    );

    // The refused cursor must not hide the thread's next run from this connection.
    alice
        .send(json!({"type": "user_message", "text": "and 2 + 2?", "thread_id": thread}))
        .await;
    let next = alice.run_events().await;
    assert_eq!(next[0]["seq"].as_u64(), Some(latest + 1));

    // The latest seq itself is a valid cursor: nothing to replay, no error.
    let at_end = json!({"type": "resume", "thread_id": thread, "after_seq": latest + next.len() as u64});
    alice.send(at_end).await;
    alice.send(json!({"type": "ping"})).await;
    assert_eq!(alice.recv().await["type"], "pong", "nothing precedes the pong");
    gateway.stop().await;
}

#[tokio::test]
async fn a_second_message_while_a_run_is_active_is_refused() {
    let (mut config, dir) = common::config();
    config.agent_step_delay = Duration::from_millis(300);
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 1 + 2?"}))
        .await;
    let started = client.recv().await;
    assert_eq!(started["type"], "agent_started");
    let thread = started["thread_id"].clone();
    client
        .send(json!({"type": "user_message", "text": "again", "thread_id": thread, "request_id": "second"}))
        .await;
    let refusal = loop {
        let message = client.recv().await;
        if message["type"] == "error" {
            break message;
        }
    };
    assert_eq!(refusal["code"], "RUN_ALREADY_ACTIVE");
    assert_eq!(refusal["request_id"], "second");
    assert_eq!(refusal["retryable"], true);
    gateway.stop().await;
}

#[tokio::test]
async fn a_ping_over_125_bytes_is_a_protocol_error_1002_not_a_size_limit() {
    use tokio::io::AsyncWriteExt;
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("alice").await;
    // Written by hand: a client library refuses to build a control frame this long. FIN + ping, masked,
    // a 16-bit length of 126, the mask, the masked payload.
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x89, 0x80 | 126, 0, 126];
    frame.extend_from_slice(&mask);
    frame.extend((0..126).map(|i| b'p' ^ mask[i % 4]));
    match client.ws.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(socket) => socket.write_all(&frame).await.expect("writes"),
        _ => unreachable!("the test connects without TLS"),
    }
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1002, "{frame:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let (mut config, dir) = common::config();
    config.max_frame_bytes = 1024;
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    let big = json!({"type": "user_message", "text": "x".repeat(4096)}).to_string();
    client.ws.send(text(&big)).await.expect("sends");
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);
    // Far beyond even the read buffer: still a clean 1009, not a dropped socket.
    let mut client = gateway.connect("alice").await;
    let _ = client.ws.send(text(&"y".repeat(8 << 20))).await;
    let frame = client.closed().await;
    assert!(frame.as_ref().is_none_or(|f| u16::from(f.code) == 1009), "{frame:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("alice").await;
    let frame = Frame::message(vec![0x7b, 0xff, 0xfe, 0x7d], OpCode::Data(Data::Text), true);
    client.ws.send(Message::Frame(frame)).await.expect("sends");
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1007);
    gateway.stop().await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_and_the_connection_survives() {
    let (mut config, dir) = common::config();
    config.rate_limit_per_second = 1;
    config.rate_limit_burst = 5;
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    for _ in 0..20 {
        client.send(json!({"type": "ping"})).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    for _ in 0..20 {
        let message = client.recv().await;
        match message["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") if message["code"] == "RATE_LIMITED" => limited += 1,
            _ => panic!("unexpected {message}"),
        }
    }
    assert_eq!(pongs + limited, 20);
    assert!((5..=7).contains(&pongs), "the burst passes and little more: {pongs}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await["type"], "pong", "tokens come back");
    gateway.stop().await;
}

#[tokio::test]
async fn a_flood_spread_over_many_connections_is_limited_per_user() {
    let (mut config, dir) = common::config();
    config.rate_limit_per_second = 1;
    config.rate_limit_burst = 5;
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(gateway.connect("alice").await);
    }
    for client in &mut clients {
        for _ in 0..4 {
            client.send(json!({"type": "ping"})).await;
        }
    }
    let mut pongs = 0;
    for client in &mut clients {
        for _ in 0..4 {
            let message = client.recv().await;
            match message["type"].as_str() {
                Some("pong") => pongs += 1,
                Some("error") if message["code"] == "RATE_LIMITED" => {}
                _ => panic!("unexpected {message}"),
            }
        }
    }
    assert!(
        (5..=7).contains(&pongs),
        "one budget for all of alice's connections: {pongs} of 20 passed"
    );
    let mut bob = gateway.connect("bob").await;
    bob.send(json!({"type": "ping"})).await;
    assert_eq!(bob.recv().await["type"], "pong", "another user is not limited by alice");
    gateway.stop().await;
}

#[tokio::test]
async fn heartbeats_arrive_at_the_configured_interval() {
    let (mut config, dir) = common::config();
    config.heartbeat = Duration::from_millis(200);
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    use futures_util::StreamExt;
    let message = tokio::time::timeout(Duration::from_secs(5), client.ws.next())
        .await
        .expect("in time");
    let value: Value =
        serde_json::from_str(message.expect("a message").expect("ok").to_text().expect("text")).expect("JSON");
    assert_eq!(value["type"], "heartbeat");
    gateway.stop().await;
}

#[tokio::test]
async fn one_user_holds_at_most_the_connection_limit_and_others_are_unaffected() {
    let (mut config, dir) = common::config();
    config.max_connections_per_user = 3;
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(gateway.connect("mallory").await);
    }
    match tokio_tungstenite::connect_async(gateway.request("mallory")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("JSON");
            assert_eq!(body["code"], "TOO_MANY_CONNECTIONS", "{body}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // Another user connects as usual; a closed connection gives its slot back.
    gateway.connect("alice").await;
    let mut first = held.remove(0);
    first.ws.close(None).await.expect("closes");
    drop(first);
    let mut reconnected = None;
    for _ in 0..50 {
        // The slot returns once the server has seen the close.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(gateway.request("mallory")).await {
            reconnected = Some(ws);
            break;
        }
    }
    assert!(reconnected.is_some(), "the slot came back");
    gateway.stop().await;
}

#[tokio::test]
async fn one_user_runs_at_most_the_run_limit_at_once_and_others_are_unaffected() {
    let (mut config, dir) = common::config();
    config.max_runs_per_user = 2;
    config.agent_step_delay = Duration::from_millis(300);
    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut alice = gateway.connect("alice").await;
    for _ in 0..2 {
        // Each on a new thread: the limit is the user's, not the thread's.
        alice
            .send(json!({"type": "user_message", "text": "what is 6 * 7?"}))
            .await;
        // The first run's events may come in between.
        while alice.recv().await["type"] != "agent_started" {}
    }
    let third = json!({"type": "user_message", "text": "and 2 + 2?"});
    alice.send(third).await;
    let refused = loop {
        let message = alice.recv().await;
        if message["type"] == "error" {
            break message;
        }
    };
    assert_eq!(refused["code"], "TOO_MANY_RUNS", "{refused}");
    assert_eq!(refused["retryable"], true, "{refused}");
    let mut bob = gateway.connect("bob").await;
    bob.send(json!({"type": "user_message", "text": "what is 1 + 1?"}))
        .await;
    assert_eq!(
        bob.recv().await["type"],
        "agent_started",
        "another user is not limited by alice"
    );
    gateway.stop().await;
}
