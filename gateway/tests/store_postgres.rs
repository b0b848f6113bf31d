//! The PostgreSQL store itself, two nodes on one database: `seq` gapless under concurrent appends, a
//! run written only by its node (fencing), a completion retried after a lost answer stored once, the
//! limits across nodes, a gone node's runs claimed once, and retention.

mod common;

use std::time::Duration;

use gateway::config::{Config, HistoryLimits, StoreLocation};
use gateway::protocol::{EventType, RunStatus};
use gateway::store::{RunStart, RunningHere, Store, StoreError};
use serde_json::json;

/// A node's store on the database at `url`, with a lease of `lease`.
async fn node(url: &str, lease: Duration) -> Store {
    let (mut config, _dir) = common::config();
    config.store = StoreLocation::Postgres(url.to_owned());
    config.lease = lease;
    store(&config).await
}

async fn store(config: &Config) -> Store {
    Store::connect(config).await.expect("connects")
}

fn run(run_id: &str, user: &str, thread: &str, limit: usize) -> RunStart {
    RunStart {
        run_id: run_id.into(),
        user_id: user.into(),
        thread_id: thread.into(),
        request_id: None,
        agent: "supervisor".into(),
        task: "task".into(),
        user_run_limit: limit,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_keep_seq_ownership_and_limits() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "store").await;
    let a = node(&url, Duration::from_secs(30)).await;
    let b = node(&url, Duration::from_secs(30)).await;
    assert_ne!(a.node_id(), b.node_id());

    let thread = a.create_thread("alice").await.expect("thread");
    let started = a
        .accept_run(run("r1", "alice", &thread, 2), json!({}))
        .await
        .expect("accepted");
    assert_eq!(started.seq, 1);
    // Concurrent appends of one run: every seq once, no gap.
    let appends: Vec<_> = (0..40)
        .map(|step| {
            let (a, thread) = (a.clone(), thread.clone());
            tokio::spawn(async move {
                a.append_event(&thread, "r1", None, EventType::AgentThinking, json!({ "step": step }))
                    .await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for append in appends {
        seqs.push(append.await.expect("joins").expect("appends").seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=41).collect::<Vec<_>>());

    // Node B may not write A's run; it finds the thread busy and alice's limit counted across nodes.
    let refused = b
        .append_event(&thread, "r1", None, EventType::AgentThinking, json!({}))
        .await
        .expect_err("fenced");
    assert!(
        matches!(refused, StoreError::Fenced(ref run) if run == "r1"),
        "{refused}"
    );
    let busy = b
        .accept_run(run("r2", "alice", &thread, 2), json!({}))
        .await
        .expect_err("busy");
    assert!(matches!(busy, StoreError::ThreadBusy), "{busy}");
    let other = b.create_thread("alice").await.expect("thread");
    b.accept_run(run("r3", "alice", &other, 2), json!({}))
        .await
        .expect("a second run");
    let third = b.create_thread("alice").await.expect("thread");
    let limited = b
        .accept_run(run("r4", "alice", &third, 2), json!({}))
        .await
        .expect_err("limit");
    assert!(matches!(limited, StoreError::TooManyRuns(2)), "{limited}");
    // A live node's runs are not claimed.
    let claimed = b.claim_interrupted_runs(&RunningHere::default()).await.expect("claims");
    assert!(claimed.iter().all(|r| r.run_id != "r1"), "{claimed:?}");

    // A completion retried (its answer lost) is the stored one, not a second.
    let data = json!({"status": "completed", "final_response": "42"});
    let done = a
        .complete_run(&thread, "r1", None, RunStatus::Completed, data.clone())
        .await
        .expect("completes");
    let again = a
        .complete_run(&thread, "r1", None, RunStatus::Completed, data)
        .await
        .expect("the same completion");
    assert_eq!(again.seq, done.seq);
    let ends = a.events_after(&thread, 0).await.expect("events");
    assert_eq!(ends.iter().filter(|e| e.kind == EventType::AgentCompleted).count(), 1);
    assert_eq!(
        a.messages(&thread, 10).await.expect("messages"),
        vec![
            ("user".to_owned(), "task".to_owned()),
            ("agent".to_owned(), "42".to_owned())
        ]
    );
    let ended = b
        .complete_run(&thread, "r1", None, RunStatus::Failed, json!({"status": "failed"}))
        .await
        .expect_err("B cannot end A's run");
    assert!(matches!(ended, StoreError::Fenced(_)), "{ended}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_nodes_runs_are_claimed_once_and_its_writes_refused() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "claim").await;
    let short = Duration::from_millis(300);
    let gone = node(&url, short).await;
    let thread = gone.create_thread("alice").await.expect("thread");
    gone.accept_run(run("r1", "alice", &thread, 4), json!({}))
        .await
        .expect("accepted");
    // The node stops renewing; once its lease is over, two nodes claim at once: one gets the run.
    tokio::time::sleep(short * 2).await;
    let (b, c) = (node(&url, short).await, node(&url, short).await);
    let nothing_here = RunningHere::default();
    let (by_b, by_c) = tokio::join!(
        b.claim_interrupted_runs(&nothing_here),
        c.claim_interrupted_runs(&nothing_here)
    );
    let claims = by_b.expect("claims").len() + by_c.expect("claims").len();
    assert_eq!(claims, 1, "claimed once");
    let refused = gone
        .append_event(&thread, "r1", None, EventType::AgentThinking, json!({}))
        .await
        .expect_err("the gone node is fenced off");
    assert!(matches!(refused, StoreError::Fenced(_)), "{refused}");
    assert!(!b.expired_nodes().await.expect("reads").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_cuts_whole_runs_oldest_first() {
    let Some(server) = common::postgres::server() else {
        return;
    };
    let url = common::postgres::fresh_database(&server, "retention").await;
    let store = node(&url, Duration::from_secs(30)).await;
    let thread = store.create_thread("alice").await.expect("thread");
    let mut ends = Vec::new();
    for name in ["r1", "r2", "r3", "r4"] {
        store
            .accept_run(run(name, "alice", &thread, 4), json!({}))
            .await
            .expect("accepted");
        store
            .append_event(
                &thread,
                name,
                None,
                EventType::AgentThinking,
                json!({"reasoning": "x".repeat(1000)}),
            )
            .await
            .expect("thinking");
        let end = store
            .complete_run(
                &thread,
                name,
                None,
                RunStatus::Completed,
                json!({"status": "completed"}),
            )
            .await
            .expect("completed");
        ends.push(end.seq);
    }
    let limits = HistoryLimits {
        bytes_per_thread: 2500,
        max_age: None,
    };
    let pruned = store.prune(limits).await.expect("prunes");
    assert_eq!((pruned.threads, pruned.events), (1, 6), "{pruned:?}");
    let history = store.history(&thread).await.expect("history");
    assert_eq!((history.removed_through, history.latest), (ends[1], ends[3]));
    let kept = store.events_after(&thread, 0).await.expect("events");
    assert_eq!(kept.first().map(|e| e.seq), Some(ends[1] + 1));
    assert_eq!(
        store.prune(limits).await.expect("prunes").threads,
        0,
        "nothing more to do"
    );
}
