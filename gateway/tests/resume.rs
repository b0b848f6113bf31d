//! PROTOCOL.md guarantee 2: a client that disconnects mid-run and resumes with the last `seq` it saw gets
//! every missed event exactly once, in order, then live events; also after a gateway restart, and for
//! runs a crashed gateway left unfinished.

mod common;

use std::time::Duration;

use common::{TestGateway, assert_run_contract};
use gateway::agent::Agents;
use gateway::protocol::EventType;
use gateway::store::{RunStart, Store};
use serde_json::{Value, json};

const QUESTION: &str = "what is 2 + 2, and what time is it now?";

async fn slow_gateway(step_ms: u64, dir: Option<tempfile::TempDir>) -> TestGateway {
    let (mut config, fresh) = common::config();
    config.agent_step_delay = Duration::from_millis(step_ms);
    config.shutdown_grace = Duration::from_millis(100);
    let dir = dir.unwrap_or(fresh);
    config.database = dir.path().join("gateway.db");
    TestGateway::start_with(config, Agents::standard(), Some(dir)).await
}

/// Reads `n` run events (skipping nothing else: a fresh connection gets only its run's events).
async fn first_events(client: &mut common::Client, n: usize) -> Vec<Value> {
    let mut events = Vec::new();
    while events.len() < n {
        events.push(client.recv().await);
    }
    events
}

/// After a resume: events until `agent_completed`, then proof that nothing else (no duplicate) follows.
async fn resumed_events(client: &mut common::Client) -> Vec<Value> {
    let events = client.run_events().await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(
        client.recv().await["type"],
        "pong",
        "nothing after agent_completed: no duplicates"
    );
    events
}

/// Starts a run as alice, reads its first `n` events, and drops the connection: returns the events seen.
async fn start_and_disconnect(gateway: &TestGateway, n: usize) -> Vec<Value> {
    let mut client = gateway.connect("alice").await;
    client.send(json!({"type": "user_message", "text": QUESTION})).await;
    first_events(&mut client, n).await
}

/// Reconnects as alice and resumes the thread of `seen` after its last event: the client and what it
/// received up to `agent_completed`.
async fn reconnect_and_resume(gateway: &TestGateway, seen: &[Value]) -> (common::Client, Vec<Value>) {
    let thread = seen[0]["thread_id"].as_str().expect("thread").to_owned();
    let after = seen.last().and_then(|e| e["seq"].as_u64()).expect("a seq");
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": after}))
        .await;
    let missed = resumed_events(&mut client).await;
    (client, missed)
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect()
}

#[tokio::test]
async fn reconnecting_after_the_run_replays_exactly_what_was_missed() {
    let gateway = slow_gateway(100, None).await;
    let seen = start_and_disconnect(&gateway, 3).await;
    // The run goes on without a connection; wait until it has finished.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, missed) = reconnect_and_resume(&gateway, &seen).await;
    assert_eq!(seqs(&missed).first(), Some(&4));
    let mut all = seen;
    all.extend(missed);
    assert_eq!(assert_run_contract(&all)["status"], "completed");
    gateway.stop().await;
}

#[tokio::test]
async fn resuming_mid_run_replays_then_continues_live_without_gaps_or_repeats() {
    let gateway = slow_gateway(200, None).await;
    let seen = start_and_disconnect(&gateway, 2).await;
    let thread = seen[0]["thread_id"].as_str().expect("thread").to_owned();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (mut client, rest) = reconnect_and_resume(&gateway, &seen).await;
    let mut all = seen;
    all.extend(rest);
    assert_eq!(seqs(&all), (1..=all.len() as u64).collect::<Vec<_>>());
    assert_eq!(assert_run_contract(&all)["status"], "completed");

    // Resuming from 0 on the same connection replays the whole thread once more, exactly once.
    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": 0}))
        .await;
    let replay = resumed_events(&mut client).await;
    assert_eq!(seqs(&replay), seqs(&all));
    gateway.stop().await;
}

#[tokio::test]
async fn events_survive_a_gateway_restart_on_the_same_database() {
    let gateway = slow_gateway(300, None).await;
    let seen = start_and_disconnect(&gateway, 2).await;
    // SIGTERM mid-run: after the (short) grace period the run is cancelled, still ending properly.
    let dir = gateway.stop().await;

    let gateway = slow_gateway(300, dir).await;
    let (_, rest) = reconnect_and_resume(&gateway, &seen).await;
    let mut all = seen;
    all.extend(rest);
    assert_eq!(assert_run_contract(&all)["status"], "cancelled");
    gateway.stop().await;
}

#[tokio::test]
async fn a_run_left_unfinished_by_a_crash_is_completed_at_startup() {
    let (config, dir) = common::config();
    let store = Store::open(&config.database).expect("store");
    let thread = store.create_thread("alice").await.expect("thread");
    let started = json!({"agent_name": "supervisor", "task_description": "what is 1 + 1?"});
    let run = RunStart {
        run_id: "crashed-run".into(),
        user_id: "alice".into(),
        thread_id: thread.clone(),
        request_id: Some("q".into()),
        agent: "supervisor".into(),
        task: "what is 1 + 1?".into(),
        user_run_limit: 16,
    };
    store.accept_run(run, started).await.expect("run");
    let executing = json!({"call_id": "c1", "tool_name": "calculator", "parameters": {"expression": "1 + 1"}});
    store
        .append_event(&thread, "crashed-run", Some("q"), EventType::ToolExecuting, executing)
        .await
        .expect("event");
    drop(store);

    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": 0}))
        .await;
    let events = resumed_events(&mut client).await;
    let completed = assert_run_contract(&events);
    assert_eq!(completed["status"], "failed");
    let closed = events
        .iter()
        .find(|e| e["type"] == "tool_completed")
        .expect("the open tool call is closed");
    assert_eq!(closed["data"]["call_id"], "c1");
    gateway.stop().await;
}

/// The crash window between storing `agent_completed` and recording the run's status (two writes in
/// earlier versions): recovery must not append a second `agent_completed`.
#[tokio::test]
async fn a_run_completed_but_not_marked_is_not_completed_twice() {
    let (config, dir) = common::config();
    let store = Store::open(&config.database).expect("store");
    let thread = store.create_thread("alice").await.expect("thread");
    let run = RunStart {
        run_id: "finished-run".into(),
        user_id: "alice".into(),
        thread_id: thread.clone(),
        request_id: None,
        agent: "supervisor".into(),
        task: "hello".into(),
        user_run_limit: 16,
    };
    let started = json!({"agent_name": "supervisor", "task_description": "hello"});
    store.accept_run(run, started).await.expect("run");
    let thinking = json!({"reasoning": "done", "step": 1});
    store
        .append_event(&thread, "finished-run", None, EventType::AgentThinking, thinking)
        .await
        .expect("event");
    let completed = json!({"status": "completed", "final_response": "hi", "execution_time_ms": 1});
    store
        .append_event(&thread, "finished-run", None, EventType::AgentCompleted, completed)
        .await
        .expect("event");
    drop(store);

    let gateway = TestGateway::start_with(config, Agents::standard(), Some(dir)).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": 0}))
        .await;
    let events = resumed_events(&mut client).await;
    assert_eq!(assert_run_contract(&events)["status"], "completed");
    gateway.stop().await;
}

/// A resume from before the history retention removed is told so (`HISTORY_TRUNCATED`, with where the
/// kept history starts), never handed a silent gap; resuming from there gets the kept runs whole.
#[tokio::test]
async fn a_resume_from_before_the_retained_history_is_told_it_was_truncated() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 1 + 1?"}))
        .await;
    let first = client.run_events().await;
    let thread = first[0]["thread_id"].as_str().expect("thread").to_owned();
    for text in ["what is 2 + 2?", "what is 3 + 3?"] {
        client
            .send(json!({"type": "user_message", "text": text, "thread_id": thread}))
            .await;
        client.run_events().await;
    }
    let limits = gateway::config::HistoryLimits {
        bytes_per_thread: 1,
        max_age: None,
    };
    let pruned = gateway.state.store.prune(limits).await.expect("prunes");
    assert_eq!(pruned.threads, 1, "{pruned:?}");

    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": 2}))
        .await;
    let refused = client.recv().await;
    assert_eq!(refused["code"], "HISTORY_TRUNCATED", "{refused}");
    assert_eq!(refused["retryable"], false, "{refused}");
    let removed = refused["details"]["removed_through"].as_u64().expect("removed_through");
    assert!(removed >= first.len() as u64, "{refused}");

    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": removed}))
        .await;
    let kept = client.run_events().await;
    assert_eq!(kept[0]["seq"].as_u64(), Some(removed + 1));
    assert_eq!(kept[0]["type"], "agent_started");
    assert_run_contract(&kept);
    gateway.stop().await;
}
