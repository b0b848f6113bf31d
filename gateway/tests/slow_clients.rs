//! Clients that do not keep up: one that stops reading is closed after the write timeout instead of
//! holding its connection (and its replay) forever.

mod common;

use std::time::Duration;

use common::TestGateway;
use futures_util::StreamExt;
use gateway::protocol::EventType;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Events stored in the long thread: far more than socket buffers hold.
const LONG_HISTORY: u64 = 3000;

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    let (mut config, dir) = common::config();
    config.write_timeout = Duration::from_millis(300);
    let gateway = TestGateway::start_with(config, gateway::agent::Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 6 * 7?"}))
        .await;
    let events = client.run_events().await;
    let thread = events[0]["thread_id"].as_str().expect("thread").to_owned();
    let run = events[0]["run_id"].as_str().expect("run").to_owned();
    let filler = "x".repeat(8 * 1024);
    for step in 0..LONG_HISTORY {
        gateway
            .state
            .store
            .append_event(
                &thread,
                &run,
                None,
                EventType::AgentThinking,
                json!({ "reasoning": filler, "step": step }),
            )
            .await
            .expect("stores");
    }

    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": 0}))
        .await;
    // Not reading: the gateway's writes block once the socket buffers are full.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut received = 0u64;
    let ended = loop {
        match tokio::time::timeout(common::PATIENCE, client.ws.next()).await {
            Err(_) => break false,
            Ok(Some(Ok(Message::Text(_)))) => received += 1,
            Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => break true,
            Ok(Some(Ok(_))) => {}
        }
    };
    assert!(
        ended,
        "the connection is closed, not left open ({received} messages read)"
    );
    assert!(
        received < LONG_HISTORY,
        "closed before the whole history went out: {received} of {LONG_HISTORY}"
    );
    gateway.stop().await;
}
