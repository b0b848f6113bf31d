//! Three real `gateway` processes on one PostgreSQL database: a run started on one node is watched from
//! the others; a client moves between nodes mid-run; cancel and the per-user limits work from any node;
//! a node killed with SIGKILL mid-run has its runs ended exactly once by another; a rolling restart with
//! runs in flight ends every run once. Each watcher must receive every event of the run once, in order.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{
    Process, Socket, assert_seen_is_stored, connect, kill, next_json, replay, start, token, user_load,
    users_with_tokens,
};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A node's lease in these tests: short, so a killed node's runs are taken over within seconds.
const LEASE_MS: &str = "1000";

/// Starts a node on the database at `url` with `extra` flags.
fn node(url: &str, extra: &[&str]) -> Process {
    let mut args = vec!["--store", url, "--lease-ms", LEASE_MS];
    args.extend_from_slice(extra);
    start(args)
}

/// Starts three nodes.
fn three_nodes(url: &str, extra: &[&str]) -> Vec<Process> {
    (0..3).map(|_| node(url, extra)).collect()
}

/// A connected client of `user` on `addr`, past its `connection_ready`.
async fn client(addr: SocketAddr, token: &str) -> Socket {
    let mut ws = connect(addr, token).await.expect("connects");
    let ready = next_json(&mut ws).await.expect("ready");
    assert_eq!(ready["type"], "connection_ready", "{ready}");
    ws
}

async fn send(ws: &mut Socket, value: Value) {
    ws.send(Message::Text(value.to_string().into())).await.expect("sends");
}

/// Reads run events until `agent_completed`; panics on anything else than an event.
async fn events_until_completed(ws: &mut Socket, into: &mut Vec<Value>) {
    loop {
        let value = next_json(ws).await.expect("the run's events arrive");
        assert!(value["seq"].is_u64(), "an event, got {value}");
        let done = value["type"] == "agent_completed";
        into.push(value);
        if done {
            return;
        }
    }
}

/// The `seq`s of a stream of events.
fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect()
}

/// Asks a node for the thread's events from the start; they must be exactly `expected`.
async fn assert_stored(addr: SocketAddr, token: &str, thread: &str, expected: &[Value]) {
    let mut ws = client(addr, token).await;
    let stored = replay(&mut ws, thread).await;
    assert_eq!(stored, expected, "what was sent live is what is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_watched_from_every_node_and_a_client_moves_between_nodes_mid_run() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "watch").await;
    let mut nodes = three_nodes(&url, &["--agent-step-delay-ms", "60"]);
    let (a, b, c) = (nodes[0].addr, nodes[1].addr, nodes[2].addr);
    let alice = token("alice");

    let mut mover = client(a, &alice).await;
    send(
        &mut mover,
        json!({"type": "user_message", "text": "what is 6 * 7, and what time is it?"}),
    )
    .await;
    let started = next_json(&mut mover).await.expect("agent_started");
    assert_eq!(started["type"], "agent_started", "{started}");
    let thread = started["thread_id"].as_str().expect("thread").to_owned();

    // Watchers on the two other nodes, from the start of the thread.
    let mut watchers = Vec::new();
    for addr in [b, c] {
        let mut ws = client(addr, &alice).await;
        send(&mut ws, json!({"type": "resume", "thread_id": thread, "after_seq": 0})).await;
        watchers.push(ws);
    }
    // The mover reads one more event on A, then moves to B and resumes from what it has.
    let mut moved = vec![started];
    moved.push(next_json(&mut mover).await.expect("a second event"));
    drop(mover);
    let mut mover = client(b, &alice).await;
    let last = moved.last().and_then(|e| e["seq"].as_u64()).expect("seq");
    send(
        &mut mover,
        json!({"type": "resume", "thread_id": thread, "after_seq": last}),
    )
    .await;
    events_until_completed(&mut mover, &mut moved).await;

    let mut watched = Vec::new();
    for ws in &mut watchers {
        let mut events = Vec::new();
        events_until_completed(ws, &mut events).await;
        watched.push(events);
    }
    let expected: Vec<u64> = (1..=moved.len() as u64).collect();
    assert_eq!(seqs(&moved), expected, "the mover got every event once, in order");
    common::assert_run_contract(&moved);
    assert!(
        moved.iter().any(|e| e["type"] == "tool_executing"),
        "a run with tool calls"
    );
    for events in &watched {
        assert_eq!(events, &moved, "every watcher got the same events, once, in order");
    }
    assert_stored(c, &alice, &thread, &moved).await;
    for addr in [b, c] {
        let (_, metrics) = common::http_get(addr, "/metrics").await;
        let delivered = metrics
            .lines()
            .find_map(|line| line.strip_prefix("gateway_fanout_lag_seconds_count "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        // How many arrive through fan-out depends on when the watcher subscribed (what was stored
        // before, it reads from the store on resuming): under load, fewer. Every one that did is
        // measured, and some must have (the watchers got every event, asserted above).
        assert!(
            (1..=moved.len() as u64).contains(&delivered),
            "the events A stored reached B and C through fan-out, each measured: {delivered} of {}",
            moved.len()
        );
    }
    for node in &mut nodes {
        kill(node);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_databases_reachability() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "ready").await;
    let mut node = node(&url, &["--store-busy-timeout-ms", "1000"]);
    let (status, body) = common::http_get(node.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"store\":\"postgres\""), "{body}");
    // The database refuses this node's connections, and those it had are cut.
    let database = url.rsplit('/').next().expect("a database name").to_owned();
    let admin = common::postgres::connect(&server).await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}';"
        ))
        .await
        .expect("closes the database");
    let (status, body) = common::http_get(node.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unreachable"), "{body}");
    let (_, metrics) = common::http_get(node.addr, "/metrics").await;
    let errors = metrics
        .lines()
        .find_map(|line| line.strip_prefix("gateway_store_errors_total "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(errors > 0, "the failed checks are counted: {metrics}");
    admin
        .batch_execute(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .await
        .expect("opens the database");
    let mut ready = false;
    for _ in 0..50 {
        if common::http_get(node.addr, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again once the database is back");
    kill(&mut node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_one_run_per_thread_and_the_per_user_limit_hold_across_nodes() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "limits").await;
    let mut nodes = three_nodes(&url, &["--agent-step-delay-ms", "400", "--max-runs-per-user", "2"]);
    let (a, b, c) = (nodes[0].addr, nodes[1].addr, nodes[2].addr);
    let alice = token("alice");

    // Two runs on A, each from a connection of its own (so each connection sees one run's events).
    let mut threads = Vec::new();
    let mut runs = Vec::new();
    let mut on_a = Vec::new();
    for _ in 0..2 {
        let mut ws = client(a, &alice).await;
        send(&mut ws, json!({"type": "user_message", "text": "hello"})).await;
        let started = next_json(&mut ws).await.expect("agent_started");
        assert_eq!(started["type"], "agent_started", "{started}");
        threads.push(started["thread_id"].as_str().expect("thread").to_owned());
        runs.push(started["run_id"].as_str().expect("run").to_owned());
        on_a.push(ws);
    }

    let mut on_b = client(b, &alice).await;
    send(&mut on_b, json!({"type": "user_message", "text": "a third run"})).await;
    let refused = next_json(&mut on_b).await.expect("an answer");
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("TOO_MANY_RUNS")),
        "{refused}"
    );
    let bob = token("bob");
    let mut bob_on_b = client(b, &bob).await;
    send(
        &mut bob_on_b,
        json!({"type": "user_message", "text": "bob is not alice"}),
    )
    .await;
    let bobs = next_json(&mut bob_on_b).await.expect("an answer");
    assert_eq!(bobs["type"], "agent_started", "another user has room: {bobs}");

    // Cancel the first run from C; a second cancel of it and a cancel of bob's run by alice are refused.
    let mut on_c = client(c, &alice).await;
    send(&mut on_c, json!({"type": "cancel", "run_id": bobs["run_id"]})).await;
    send(&mut on_c, json!({"type": "ping"})).await;
    let not_hers = next_json(&mut on_c).await.expect("an answer");
    assert_eq!(not_hers["code"], "RUN_NOT_FOUND", "{not_hers}");
    assert_eq!(next_json(&mut on_c).await.expect("pong")["type"], "pong");
    send(&mut on_c, json!({"type": "cancel", "run_id": runs[0]})).await;
    send(&mut on_c, json!({"type": "ping"})).await;
    let answer = next_json(&mut on_c).await.expect("pong");
    assert_eq!(answer["type"], "pong", "the cancel is accepted: {answer}");

    // A's events of the first run end cancelled; the second run goes on.
    let mut ended = None;
    while ended.is_none() {
        let event = next_json(&mut on_a[0]).await.expect("events");
        if event["type"] == "agent_completed" {
            ended = Some(event);
        }
    }
    let ended = ended.expect("ended");
    assert_eq!(ended["run_id"].as_str(), Some(runs[0].as_str()), "{ended}");
    assert_eq!(ended["data"]["status"], "cancelled", "{ended}");

    // Now the first thread is free and a slot too; but the second thread is still busy, from any node.
    send(
        &mut on_b,
        json!({"type": "user_message", "text": "again", "thread_id": threads[1]}),
    )
    .await;
    let busy = next_json(&mut on_b).await.expect("an answer");
    assert_eq!(busy["code"], "RUN_ALREADY_ACTIVE", "{busy}");
    send(
        &mut on_b,
        json!({"type": "user_message", "text": "again", "thread_id": threads[0]}),
    )
    .await;
    let again = next_json(&mut on_b).await.expect("an answer");
    assert_eq!(again["type"], "agent_started", "{again}");
    for node in &mut nodes {
        kill(node);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_run_has_its_runs_ended_exactly_once_by_another() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "takeover").await;
    let mut nodes = three_nodes(&url, &["--agent-step-delay-ms", "500"]);
    let (a, b, c) = (nodes[0].addr, nodes[1].addr, nodes[2].addr);

    // Six users start a run each on A; each is watched from B and from C.
    let mut watched = Vec::new();
    for i in 0..6 {
        let user = token(&format!("user{i}"));
        let mut on_a = client(a, &user).await;
        send(
            &mut on_a,
            json!({"type": "user_message", "text": "what is 6 * 7, and what time is it?"}),
        )
        .await;
        let started = next_json(&mut on_a).await.expect("agent_started");
        assert_eq!(started["type"], "agent_started", "{started}");
        let thread = started["thread_id"].as_str().expect("thread").to_owned();
        let mut watchers = Vec::new();
        for addr in [b, c] {
            let mut ws = client(addr, &user).await;
            send(&mut ws, json!({"type": "resume", "thread_id": thread, "after_seq": 0})).await;
            watchers.push(ws);
        }
        watched.push((user, thread, watchers, on_a));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    kill(&mut nodes[0]);
    let killed_at = std::time::Instant::now();

    let database = common::postgres::connect(&url).await;
    for (user, thread, watchers, _) in &mut watched {
        let mut streams = Vec::new();
        for ws in watchers.iter_mut() {
            let mut events = Vec::new();
            events_until_completed(ws, &mut events).await;
            streams.push(events);
        }
        let completed = streams[0].last().expect("an end");
        assert_eq!(completed["data"]["status"], "failed", "{completed}");
        assert_eq!(seqs(&streams[0]), (1..=streams[0].len() as u64).collect::<Vec<_>>());
        assert_eq!(streams[0], streams[1], "B and C saw the same run, once, in order");
        common::assert_run_contract(&streams[0]);
        assert_stored(b, user, thread, &streams[0]).await;
    }
    println!(
        "cluster: a killed node's 6 runs ended by another in {:?}",
        killed_at.elapsed()
    );
    let ends = common::postgres::count(&database, "SELECT COUNT(*) FROM events WHERE type = 'agent_completed'").await;
    assert_eq!(ends, 6, "one end per run");
    let running = common::postgres::count(&database, "SELECT COUNT(*) FROM runs WHERE status = 'running'").await;
    assert_eq!(running, 0);
    let mut takeovers = 0.0;
    for addr in [b, c] {
        let (_, metrics) = common::http_get(addr, "/metrics").await;
        takeovers += metrics
            .lines()
            .find_map(|line| line.strip_prefix("gateway_lease_takeovers_total "))
            .and_then(|n| n.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    assert_eq!(
        takeovers, 6.0,
        "the takeovers are counted once, by the nodes that took them"
    );
    for node in &mut nodes[1..] {
        kill(node);
    }
}

/// Stops a node as an orchestrator does (SIGTERM), waiting for it to drain and exit.
fn terminate(process: &mut Process) {
    process.signal("-TERM");
    let exit = process.child.wait().expect("exits");
    assert!(exit.success(), "a drained node exits cleanly: {exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_with_runs_in_flight_ends_every_run_once() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "rolling").await;
    let flags = ["--agent-step-delay-ms", "20", "--shutdown-grace-seconds", "10"];
    let mut nodes = three_nodes(&url, &flags);
    let addresses = Arc::new(Mutex::new(nodes.iter().map(|n| n.addr).collect::<Vec<_>>()));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let users = users_with_tokens(24);
    let load: Vec<_> = users
        .iter()
        .map(|(_, token)| tokio::spawn(user_load(addresses.clone(), token.clone(), stop.clone(), seen.clone())))
        .collect();

    for (index, running) in nodes.iter_mut().enumerate() {
        tokio::time::sleep(Duration::from_millis(700)).await;
        // The load balancer stops sending to the node, then it drains, then its successor joins.
        addresses
            .lock()
            .expect("addresses")
            .retain(|addr| *addr != running.addr);
        terminate(running);
        *running = node(&url, &flags);
        addresses.lock().expect("addresses").push(running.addr);
        println!("cluster: node {index} restarted");
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the load stops")
            .expect("the load does not panic");
    }
    let database = common::postgres::connect(&url).await;
    let mut settled = false;
    for _ in 0..200 {
        if common::postgres::count(&database, "SELECT COUNT(*) FROM runs WHERE status = 'running'").await == 0 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(settled, "every run ends");

    let tokens: HashMap<String, String> = users.into_iter().collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let (stored, runs) = common::postgres::replay_every_thread(&database, &addrs, &tokens).await;
    let failed: Vec<&Value> = stored
        .values()
        .flatten()
        .filter(|e| e["type"] == "agent_completed" && e["data"]["status"] != "completed")
        .collect();
    assert!(
        failed.is_empty(),
        "a drained node lets its runs complete: none fails or is cancelled: {failed:#?}"
    );
    let seen = seen.lock().expect("seen");
    assert_seen_is_stored(&seen, &stored);
    println!(
        "cluster: rolling restart of 3 nodes with {runs} runs, {} events seen live",
        seen.len()
    );
    assert!(runs >= 24, "the load ran: {runs} runs");
    for node in &mut nodes {
        kill(node);
    }
}
