//! Cluster chaos: three real `gateway` nodes on one PostgreSQL database under load, a node killed with
//! SIGKILL (and restarted) at random moments, at least twenty times, and now and then a node stalled
//! (SIGSTOP) past its lease, so its runs are taken over while it still believes it owns them.
//!
//! Every client follows its runs to their end whatever happens: when its node dies it connects to the
//! next one and resumes from the last `seq` it has (or retries its request with the same
//! `request_id`), and checks that each event it receives is the next of its thread: nothing lost,
//! nothing repeated, in order. Afterwards every thread is replayed: every run has exactly one
//! `agent_completed`, `seq` is gapless, and every event a client saw is stored as it was sent.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{
    Process, Socket, assert_seen_is_stored, connect_next, kill, next_json, start, users_with_tokens,
};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Users sending runs at the same time.
const USERS: usize = 30;
/// SIGKILLs per test.
const KILLS: usize = 20;
/// A node's lease.
const LEASE_MS: u64 = 1000;

fn node(url: &str) -> Process {
    let lease = LEASE_MS.to_string();
    start([
        "--store",
        url,
        "--lease-ms",
        &lease,
        "--agent-step-delay-ms",
        "25",
        "--store-busy-timeout-ms",
        "2000",
    ])
}

/// What one client saw, and what it found wrong.
#[derive(Default)]
struct Seen {
    events: Vec<Value>,
    /// Events that were not the next of their thread (lost or repeated ones), described.
    wrong: Vec<String>,
    /// Runs the client followed to their `agent_completed`.
    followed: usize,
    /// Times the client had to move to another node mid-run.
    moves: usize,
}

/// The run a client is following: its thread, the last `seq` it has of it, the request it sent (until
/// the run ends) and whether it has the run's `agent_started`.
struct Following {
    thread: Option<String>,
    last_seq: u64,
    request: Option<(String, String)>,
    started: bool,
}

/// One user: runs one after another (three per thread), following each to its end across node
/// deaths.
async fn resuming_user(
    addresses: Arc<Mutex<Vec<SocketAddr>>>,
    token: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    offset: usize,
) {
    let mut attempt = offset;
    let mut following = Following {
        thread: None,
        last_seq: 0,
        request: None,
        started: false,
    };
    let mut runs_on_thread = 0;
    let mut number = 0;
    while !stop.load(Ordering::Relaxed) || following.request.is_some() {
        let Some((addr, mut ws)) = connect_next(&addresses, &mut attempt, &token).await else {
            continue;
        };
        if next_json(&mut ws)
            .await
            .is_none_or(|ready| ready["type"] != "connection_ready")
        {
            continue;
        }
        loop {
            // Resume the run in flight, or retry its request, or start the next one.
            let message = match (&following.request, &following.thread) {
                (Some(_), Some(thread)) if following.started => {
                    json!({"type": "resume", "thread_id": thread, "after_seq": following.last_seq})
                }
                (Some((request_id, text)), thread) => {
                    let mut message = json!({"type": "user_message", "text": text, "request_id": request_id});
                    if let Some(thread) = thread {
                        message["thread_id"] = json!(thread);
                    }
                    message
                }
                (None, _) if stop.load(Ordering::Relaxed) => return,
                (None, thread) => {
                    number += 1;
                    let request_id = format!("{}-{number}", &token[token.len() - 12..]);
                    let text = "what is 6 * 7, and what time is it?".to_owned();
                    following.request = Some((request_id.clone(), text.clone()));
                    let mut message = json!({"type": "user_message", "text": text, "request_id": request_id});
                    if let Some(thread) = thread {
                        message["thread_id"] = json!(thread);
                    }
                    message
                }
            };
            if ws.send(Message::Text(message.to_string().into())).await.is_err() {
                break;
            }
            let ended = follow_run(&mut ws, &mut following, &seen, addr, &message).await;
            if !ended {
                seen.lock().expect("seen").moves += 1;
                break;
            }
            seen.lock().expect("seen").followed += 1;
            (following.request, following.started) = (None, false);
            runs_on_thread += 1;
            if runs_on_thread == 3 {
                (following.thread, following.last_seq, runs_on_thread) = (None, 0, 0);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the followed run's events until its `agent_completed` (true) or until the connection is lost
/// or refused (false). Each event must be the next of its thread.
async fn follow_run(
    ws: &mut Socket,
    following: &mut Following,
    seen: &Mutex<Seen>,
    addr: SocketAddr,
    asked: &Value,
) -> bool {
    let mut run: Option<String> = None;
    while let Some(value) = next_json(ws).await {
        match value["type"].as_str() {
            Some("error") => return false,
            Some("pong" | "connection_ready") | None => continue,
            Some(kind) => {
                let thread = value["thread_id"].as_str().expect("thread").to_owned();
                let seq = value["seq"].as_u64().expect("seq");
                let mut seen = seen.lock().expect("seen");
                if following.thread.as_deref().is_some_and(|t| t != thread) {
                    seen.wrong.push(format!("an event of another thread: {value}"));
                }
                if seq != following.last_seq + 1 && following.thread.is_some() {
                    seen.wrong.push(format!(
                        "expected seq {} of {thread}, got {value} from {addr} after asking {asked}",
                        following.last_seq + 1
                    ));
                }
                if kind == "agent_started" {
                    run = value["run_id"].as_str().map(str::to_owned);
                    following.started = true;
                }
                following.thread = Some(thread);
                following.last_seq = seq;
                seen.events.push(value.clone());
                if kind == "agent_completed" && (run.is_none() || run.as_deref() == value["run_id"].as_str()) {
                    return true;
                }
            }
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kills_and_stalls_lose_repeat_or_end_twice_nothing() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "chaos").await;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    println!("cluster chaos seed {seed}");
    let mut random = seed | 1;
    let mut next = move |below: u64| {
        random ^= random << 13;
        random ^= random >> 17;
        random ^= random << 5;
        u64::from(random) % below
    };

    let clock = Instant::now();
    let mut nodes: Vec<Process> = (0..3).map(|_| node(&url)).collect();
    let addresses = Arc::new(Mutex::new(nodes.iter().map(|n| n.addr).collect::<Vec<_>>()));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let users = users_with_tokens(USERS);
    let load: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            tokio::spawn(resuming_user(
                addresses.clone(),
                token.clone(),
                stop.clone(),
                seen.clone(),
                i,
            ))
        })
        .collect();

    let mut stalls = 0;
    for round in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(300 + next(600))).await;
        let victim = usize::try_from(next(3)).expect("index");
        let old = nodes[victim].addr;
        addresses.lock().expect("addresses").retain(|addr| *addr != old);
        kill(&mut nodes[victim]);
        nodes[victim] = node(&url);
        addresses.lock().expect("addresses").push(nodes[victim].addr);
        if round % 5 == 2 {
            // A node stalled past its lease: its runs are taken over while it sleeps, and what it
            // writes when it wakes must be refused.
            let stalled = &nodes[(victim + 1) % 3];
            stalled.signal("-STOP");
            tokio::time::sleep(Duration::from_millis(LEASE_MS * 2)).await;
            stalled.signal("-CONT");
            stalls += 1;
        }
        println!("cluster chaos: kill {round} done at {:?}", clock.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let stopping = Instant::now();
    for task in load {
        tokio::time::timeout(Duration::from_secs(90), task)
            .await
            .expect("every client follows its last run to its end")
            .expect("the load does not panic");
    }
    println!("cluster chaos: clients done in {:?}", stopping.elapsed());

    let database = common::postgres::connect(&url).await;
    let running = common::postgres::count(&database, "SELECT COUNT(*) FROM runs WHERE status = 'running'").await;
    assert_eq!(running, 0, "every run ended");
    let tokens: HashMap<String, String> = users.into_iter().collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let (stored, runs) = common::postgres::replay_every_thread(&database, &addrs, &tokens).await;
    let ends = common::postgres::count(
        &database,
        "SELECT COUNT(*) FROM (SELECT run_id FROM events WHERE type = 'agent_completed' GROUP BY run_id HAVING COUNT(*) <> 1) twice",
    )
    .await;
    assert_eq!(ends, 0, "no run ends twice");

    let seen = seen.lock().expect("seen");
    assert!(
        seen.wrong.is_empty(),
        "clients saw a lost or repeated event: {:#?}",
        seen.wrong
    );
    assert_seen_is_stored(&seen.events, &stored);
    let taken_over = stored
        .values()
        .flatten()
        .filter(|e| {
            e["type"] == "agent_completed"
                && e["data"]["final_response"]
                    .as_str()
                    .is_some_and(|r| r.contains("gateway stopped"))
        })
        .count();
    println!(
        "cluster chaos: {KILLS} kills and {stalls} stalls of 3 nodes in {:?}: {runs} runs in {} threads, {} events seen live, {} runs followed to their end by their clients, {} moves to another node mid-run, {taken_over} runs ended by a takeover",
        clock.elapsed(),
        stored.len(),
        seen.events.len(),
        seen.followed,
        seen.moves,
    );
    assert!(runs >= USERS * 3, "the load ran: {runs} runs");
    assert!(taken_over > 0, "no run was taken over: the kills hit no run in flight");
    for node in &mut nodes {
        kill(node);
    }
}
