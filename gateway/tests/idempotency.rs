//! Requests that start runs are idempotent by `request_id`: a client that lost its connection before
//! it saw `agent_started` sends the same request again and gets the run already accepted, never a
//! second one. Old clients that reuse a `request_id` for another text still get a new run.

mod common;

use common::{TestGateway, assert_run_contract};
use serde_json::json;

/// The run ids of a thread's `agent_started` events, read back with `resume` from the start.
async fn runs_of_thread(gateway: &TestGateway, user: &str, thread: &str) -> Vec<String> {
    let mut client = gateway.connect(user).await;
    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": 0}))
        .await;
    let mut runs = Vec::new();
    loop {
        let event = client.recv().await;
        if event["type"] == "agent_started" {
            runs.push(event["run_id"].as_str().expect("run_id").to_owned());
        }
        if event["type"] == "agent_completed" {
            let latest = event["seq"].as_u64().expect("seq");
            // Stop at the thread's last stored event.
            let stored = gateway.state.store.history(thread).await.expect("history").latest;
            if latest == stored {
                return runs;
            }
        }
    }
}

#[tokio::test]
async fn a_request_retried_after_a_lost_connection_is_the_same_run() {
    let gateway = TestGateway::start().await;
    let request = json!({"type": "start_agent", "text": "what is 6 * 7?", "request_id": "req-1"});
    let mut first = gateway.connect("alice").await;
    first.send(request.clone()).await;
    let started = first.recv().await;
    assert_eq!(started["type"], "agent_started", "{started}");
    drop(first);

    // The retry, on a new connection: the same run, from its agent_started, then the rest of it.
    let mut second = gateway.connect("alice").await;
    second.send(request.clone()).await;
    let again = second.recv().await;
    assert_eq!(again, started, "the retry is answered with the stored agent_started");
    let mut events = vec![again];
    events.extend(second.run_events().await);
    assert_eq!(assert_run_contract(&events)["status"], "completed");

    // Retried once more after the run ended: the whole run again, still one run in the thread.
    second.send(request).await;
    let mut replayed = vec![second.recv().await];
    replayed.extend(second.run_events().await);
    assert_eq!(replayed, events, "the same stored events");
    let thread = started["thread_id"].as_str().expect("thread");
    let run = started["run_id"].as_str().expect("run").to_owned();
    assert_eq!(runs_of_thread(&gateway, "alice", thread).await, vec![run]);
    gateway.stop().await;
}

#[tokio::test]
async fn a_reused_request_id_with_another_text_or_user_is_a_new_run() {
    let gateway = TestGateway::start().await;
    let mut alice = gateway.connect("alice").await;
    alice
        .send(json!({"type": "user_message", "text": "hello", "request_id": "1"}))
        .await;
    let first = alice.recv().await;
    alice.run_events().await;
    let thread = first["thread_id"].as_str().expect("thread").to_owned();
    // An old client numbering its requests from 1 on every page load: another text is another run.
    alice
        .send(json!({"type": "user_message", "text": "hello again", "thread_id": thread, "request_id": "1"}))
        .await;
    let second = alice.recv().await;
    assert_eq!(second["type"], "agent_started", "{second}");
    assert_ne!(second["run_id"], first["run_id"]);
    alice.run_events().await;

    // Bob's identical request is Bob's own run.
    let mut bob = gateway.connect("bob").await;
    bob.send(json!({"type": "user_message", "text": "hello", "request_id": "1"}))
        .await;
    let bobs = bob.recv().await;
    assert_eq!(bobs["type"], "agent_started", "{bobs}");
    assert_ne!(bobs["thread_id"], first["thread_id"]);
    bob.run_events().await;
    gateway.stop().await;
}
