//! The golden path: token, connect, message, the five events in order with their fields, the answer.

mod common;

use common::{TestGateway, assert_run_contract};
use serde_json::json;

#[tokio::test]
async fn a_message_gets_all_five_events_in_order_and_an_answer() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 2 + 3 * 4?", "request_id": "req-1"}))
        .await;
    let events = client.run_events().await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap_or_default()).collect();
    for critical in [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ] {
        assert!(types.contains(&critical), "{critical} missing from {types:?}");
    }
    let completed = assert_run_contract(&events);
    assert_eq!(events[0]["seq"], 1, "a new thread starts at seq 1");
    assert!(
        events.iter().all(|e| e["request_id"] == "req-1"),
        "the request id is echoed on every event"
    );
    let tool = events
        .iter()
        .find(|e| e["type"] == "tool_completed")
        .expect("a tool call");
    assert_eq!(tool["data"]["tool_name"], "calculator");
    assert_eq!(tool["data"]["success"], true);
    assert_eq!(tool["data"]["results"]["value"], 14.0);
    assert_eq!(completed["status"], "completed");
    assert!(
        completed["final_response"].as_str().is_some_and(|r| r.contains("14")),
        "{completed}"
    );

    // The same thread continues with the next seq, and the agent can search what was said.
    let thread_id = events[0]["thread_id"].as_str().expect("thread").to_owned();
    client
        .send(json!({"type": "chat", "text": "what did I say earlier about 2 + 3?", "thread_id": thread_id}))
        .await;
    let second = client.run_events().await;
    assert_run_contract(&second);
    assert_eq!(second[0]["seq"].as_u64(), Some(events.len() as u64 + 1));
    let search = second
        .iter()
        .find(|e| e["type"] == "tool_completed" && e["data"]["tool_name"] == "thread_search");
    assert!(
        search.is_some(),
        "the legacy `chat` alias ran the default agent with the search tool"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn start_agent_names_its_agent_and_ping_is_answered() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("bob").await;
    client.send(json!({"type": "ping", "request_id": "p1"})).await;
    let pong = client.recv().await;
    assert_eq!(
        (pong["type"].as_str(), pong["request_id"].as_str()),
        (Some("pong"), Some("p1"))
    );
    client
        .send(json!({"type": "execute_agent", "agent": "supervisor", "text": "what time is it now?"}))
        .await;
    let events = client.run_events().await;
    assert_eq!(events[0]["data"]["agent_name"], "supervisor");
    assert!(events.iter().any(|e| e["data"]["tool_name"] == "clock"));
    assert_eq!(assert_run_contract(&events)["status"], "completed");
    gateway.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_over_http() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("carol").await;
    client
        .send(json!({"type": "user_message", "text": "what is 1 + 1?"}))
        .await;
    client.run_events().await;
    assert_eq!(gateway.get("/healthz").await.0, 200);
    assert_eq!(gateway.get("/readyz").await.0, 200);
    let (status, metrics) = gateway.get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "gateway_connections",
        "gateway_runs_total",
        "gateway_events_sent_total",
        "gateway_run_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    gateway.stop().await;
}
