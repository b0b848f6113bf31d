//! PROTOCOL.md guarantees 1 and 5 on the failure paths: a failing tool, a panicking agent, an agent that
//! ignores cancellation, a cancel, and a shutdown mid-run each still end the run with exactly one
//! `agent_completed` with the right status, after a complete event sequence.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestGateway, assert_run_contract};
use futures_util::future::BoxFuture;
use gateway::agent::{Agent, AgentError, AgentSession, Agents};
use serde_json::json;

/// Reasons once, then panics.
struct PanicsAfterThinking;

impl Agent for PanicsAfterThinking {
    fn name(&self) -> &'static str {
        "panics-after-thinking"
    }
    fn run(self: Arc<Self>, session: AgentSession) -> BoxFuture<'static, Result<String, AgentError>> {
        Box::pin(async move {
            session.think("about to fail").await?;
            panic!("the agent crashed");
        })
    }
}

/// Panics before doing anything.
struct PanicsAtOnce;

impl Agent for PanicsAtOnce {
    fn name(&self) -> &'static str {
        "panics-at-once"
    }
    fn run(self: Arc<Self>, _: AgentSession) -> BoxFuture<'static, Result<String, AgentError>> {
        Box::pin(async move { panic!("the agent crashed at once") })
    }
}

/// Calls a tool, then ignores cancellation entirely.
struct Stubborn;

impl Agent for Stubborn {
    fn name(&self) -> &'static str {
        "stubborn"
    }
    fn run(self: Arc<Self>, session: AgentSession) -> BoxFuture<'static, Result<String, AgentError>> {
        Box::pin(async move {
            session.think("working").await?;
            session.call_tool("clock", json!({})).await?;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok("never".into())
        })
    }
}

/// Fails with an error of its own.
struct Fails;

impl Agent for Fails {
    fn name(&self) -> &'static str {
        "fails"
    }
    fn run(self: Arc<Self>, session: AgentSession) -> BoxFuture<'static, Result<String, AgentError>> {
        Box::pin(async move {
            session.think("trying").await?;
            Err(AgentError::Failed("the model is unavailable".into()))
        })
    }
}

async fn gateway(step_ms: u64) -> TestGateway {
    gateway_with(step_ms, 200, Duration::from_secs(5)).await
}

async fn gateway_with_grace(step_ms: u64, grace_ms: u64) -> TestGateway {
    gateway_with(step_ms, grace_ms, Duration::from_secs(5)).await
}

async fn gateway_with(step_ms: u64, grace_ms: u64, busy_timeout: Duration) -> TestGateway {
    let (mut config, dir) = common::config();
    config.agent_step_delay = Duration::from_millis(step_ms);
    config.shutdown_grace = Duration::from_millis(grace_ms);
    config.store_busy_timeout = busy_timeout;
    let agents = Agents::standard()
        .with(Arc::new(PanicsAfterThinking))
        .with(Arc::new(PanicsAtOnce))
        .with(Arc::new(Stubborn))
        .with(Arc::new(Fails));
    TestGateway::start_with(config, agents, Some(dir)).await
}

async fn run_agent(client: &mut common::Client, agent: &str, text: &str) -> Vec<serde_json::Value> {
    client
        .send(json!({"type": "start_agent", "agent": agent, "text": text}))
        .await;
    client.run_events().await
}

#[tokio::test]
async fn a_failing_tool_fails_the_run_after_its_tool_completed() {
    let gateway = gateway(0).await;
    let mut client = gateway.connect("alice").await;
    let events = run_agent(&mut client, "supervisor", "what is 1 / 0?").await;
    let completed = assert_run_contract(&events);
    let tool = events
        .iter()
        .find(|e| e["type"] == "tool_completed")
        .expect("tool_completed");
    assert_eq!(tool["data"]["success"], false);
    assert_eq!(tool["data"]["results"]["error"], "division by zero");
    assert_eq!(completed["status"], "failed");
    gateway.stop().await;
}

#[tokio::test]
async fn failing_and_panicking_agents_end_with_failed() {
    let gateway = gateway(0).await;
    let mut client = gateway.connect("alice").await;
    for agent in ["panics-after-thinking", "panics-at-once", "fails"] {
        let events = run_agent(&mut client, agent, "go").await;
        let completed = assert_run_contract(&events);
        assert_eq!(completed["status"], "failed", "{agent}");
    }
    // The gateway is unharmed.
    let events = run_agent(&mut client, "supervisor", "what is 3 * 3?").await;
    assert_eq!(assert_run_contract(&events)["status"], "completed");
    gateway.stop().await;
}

#[tokio::test]
async fn cancel_ends_the_run_with_cancelled() {
    let gateway = gateway(300).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 5 + 5 and the time now?"}))
        .await;
    let started = client.recv().await;
    assert_eq!(started["type"], "agent_started");
    client
        .send(json!({"type": "cancel", "run_id": started["run_id"]}))
        .await;
    let mut events = vec![started];
    events.extend(client.run_events().await);
    assert_eq!(assert_run_contract(&events)["status"], "cancelled");
    gateway.stop().await;
}

#[tokio::test]
async fn an_agent_that_ignores_cancel_is_stopped_and_still_completes() {
    let gateway = gateway(0).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "start_agent", "agent": "stubborn", "text": "go"}))
        .await;
    let mut events = Vec::new();
    while events
        .last()
        .is_none_or(|e: &serde_json::Value| e["type"] != "tool_completed")
    {
        events.push(client.recv().await);
    }
    client
        .send(json!({"type": "cancel", "run_id": events[0]["run_id"]}))
        .await;
    events.extend(client.run_events().await);
    assert_eq!(assert_run_contract(&events)["status"], "cancelled");
    gateway.stop().await;
}

#[tokio::test]
async fn shutdown_mid_run_cancels_after_the_grace_period_and_closes_with_1001() {
    let gateway = gateway(400).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 8 * 8 and what time is it?"}))
        .await;
    let started = client.recv().await;
    assert_eq!(started["type"], "agent_started");
    let stopping = tokio::spawn(gateway.stop());
    let mut events = vec![started];
    events.extend(client.run_events().await);
    assert_eq!(assert_run_contract(&events)["status"], "cancelled");
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001);
    stopping.await.expect("the gateway stopped");
}

#[tokio::test]
async fn a_run_that_finishes_within_the_grace_period_completes_on_shutdown() {
    // A generous grace period: the run (four 50 ms steps) must finish inside it even on a loaded machine.
    let gateway = gateway_with_grace(50, 10_000).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 2 ^ 10?"}))
        .await;
    let started = client.recv().await;
    let stopping = tokio::spawn(gateway.stop());
    let mut events = vec![started];
    events.extend(client.run_events().await);
    assert_eq!(assert_run_contract(&events)["status"], "completed");
    assert_eq!(u16::from(client.closed().await.expect("a close frame").code), 1001);
    stopping.await.expect("the gateway stopped");
}

/// Holds the database's write lock from another connection (an operator's `sqlite3`, a backup) for
/// `held`, on a blocking thread.
fn hold_write_lock(database: std::path::PathBuf, held: Duration) -> tokio::task::JoinHandle<()> {
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = tokio::task::spawn_blocking(move || {
        let connection = rusqlite::Connection::open(database).expect("opens the database");
        connection
            .execute_batch("BEGIN IMMEDIATE")
            .expect("takes the write lock");
        locked.send(()).expect("reports the lock");
        std::thread::sleep(held);
        connection.execute_batch("ROLLBACK").expect("releases the lock");
    });
    is_locked.recv().expect("the lock is taken");
    holder
}

#[tokio::test]
async fn a_store_locked_elsewhere_fails_the_run_visibly_and_loses_no_event() {
    // The busy timeout the gateway sets when it starts serving: short, so the test is quick.
    let gateway = gateway_with(150, 200, Duration::from_millis(50)).await;
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "user_message", "text": "what is 6 * 7, and what time is it?"}))
        .await;
    let mut seen = vec![client.recv().await];
    assert_eq!(seen[0]["type"], "agent_started");
    // Longer than the busy timeout and every quick retry: the run's next event, then its end, fail.
    let holder = hold_write_lock(gateway.database.clone(), Duration::from_secs(3));

    // The client is not left waiting on a run that cannot go on: it is told to come back later.
    let close = loop {
        match tokio::time::timeout(common::PATIENCE, futures_util::StreamExt::next(&mut client.ws))
            .await
            .expect("a close in time")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                if value["type"] != "heartbeat" {
                    seen.push(value);
                }
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => break frame,
            other => panic!("expected events then a close, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.expect("a close frame").code), 1013, "try again later");
    holder.await.expect("the lock holder ends");

    // Once the store is back, the run's end is stored; resuming shows a whole run that failed.
    let thread = seen[0]["thread_id"].as_str().expect("thread").to_owned();
    let after = seen.last().expect("seen")["seq"].as_u64().expect("seq");
    let mut client = gateway.connect("alice").await;
    client
        .send(json!({"type": "resume", "thread_id": thread, "after_seq": after}))
        .await;
    seen.extend(client.run_events().await);
    let completed = assert_run_contract(&seen);
    assert_eq!(completed["status"], "failed", "{completed}");
    assert!(
        completed["final_response"]
            .as_str()
            .expect("final_response")
            .contains("could not be stored"),
        "{completed}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn during_a_drain_readyz_says_503_and_a_new_run_is_refused_with_draining() {
    // A long grace period and slow steps: the drain lasts while the checks run.
    let gateway = gateway_with_grace(300, 10_000).await;
    let addr = gateway.addr;
    let mut alice = gateway.connect("alice").await;
    let mut bob = gateway.connect("bob").await;
    alice
        .send(json!({"type": "user_message", "text": "what is 2 ^ 10?"}))
        .await;
    let started = alice.recv().await;
    assert_eq!(started["type"], "agent_started");
    let stopping = tokio::spawn(gateway.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (status, body) = common::http_get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("draining"), "{body}");
    bob.send(json!({"type": "user_message", "text": "hi"})).await;
    let refused = bob.recv().await;
    assert_eq!(refused["code"], "DRAINING", "{refused}");
    assert_eq!(refused["retryable"], true, "{refused}");

    // The run in flight still ends properly before the sockets close.
    let mut events = vec![started];
    events.extend(alice.run_events().await);
    assert_eq!(assert_run_contract(&events)["status"], "completed");
    assert_eq!(u16::from(alice.closed().await.expect("a close frame").code), 1001);
    stopping.await.expect("the gateway stopped");
}
