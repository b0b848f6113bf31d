//! Back-to-back runs: many users, each on its own connection and thread, start a run, read its events to
//! `agent_completed`, and start the next. Every run's events are checked as they arrive (`agent_started`
//! first, `seq` one more each time, `agent_completed` last), so a figure never counts a broken run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tokio::sync::{Barrier, Semaphore};

use crate::Target;
use crate::client::Client;
use crate::stats::Latencies;

/// Arguments of `loadgen runs`.
#[derive(Args)]
pub struct RunsArgs {
    #[command(flatten)]
    target: Target,
    /// Users, each with one connection.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Runs each user starts, one after another.
    #[arg(long, default_value_t = 10)]
    runs_per_user: usize,
    /// The text of every run (arithmetic makes the default agent call a tool).
    #[arg(long, default_value = "what is 2 + 3 * 4?")]
    text: String,
}

/// What one user measured.
#[derive(Default)]
struct UserReport {
    to_started: Vec<Duration>,
    to_completed: Vec<Duration>,
    events: usize,
    failed_runs: usize,
    errors: Vec<String>,
}

/// Connects every user, starts them together, and prints the figures (a last `RESULT` line holds them
/// as JSON).
pub async fn run(args: RunsArgs) -> Result<(), String> {
    let target = Arc::new(args.target);
    let handshakes = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let start_line = Arc::new(Barrier::new(args.users + 1));
    let text = Arc::new(args.text);
    let mut tasks = Vec::with_capacity(args.users);
    for index in 0..args.users {
        let (target, handshakes, start_line, text) = (
            Arc::clone(&target),
            Arc::clone(&handshakes),
            Arc::clone(&start_line),
            Arc::clone(&text),
        );
        let runs = args.runs_per_user;
        tasks.push(tokio::spawn(async move {
            let connected = {
                let _permit = handshakes.acquire_owned().await.map_err(|e| e.to_string());
                Client::connect(&target, &format!("load-{index}"), index).await
            };
            start_line.wait().await;
            match connected {
                Ok(client) => user(client, index, runs, &text).await,
                Err(error) => UserReport {
                    errors: vec![error],
                    ..UserReport::default()
                },
            }
        }));
    }
    start_line.wait().await;
    let began = Instant::now();
    let mut total = UserReport::default();
    for task in tasks {
        let report = task.await.map_err(|e| e.to_string())?;
        total.to_started.extend(report.to_started);
        total.to_completed.extend(report.to_completed);
        total.events += report.events;
        total.failed_runs += report.failed_runs;
        total.errors.extend(report.errors);
    }
    let wall = began.elapsed().as_secs_f64();
    let completed = total.to_completed.len();
    let started = Latencies::new(total.to_started);
    let finished = Latencies::new(total.to_completed);
    println!("users x runs:            {} x {}", args.users, args.runs_per_user);
    println!(
        "runs completed:          {completed} in {wall:.2} s ({:.0} runs/s)",
        completed as f64 / wall
    );
    println!(
        "events received:         {} ({:.0} events/s)",
        total.events,
        total.events as f64 / wall
    );
    println!(
        "message -> agent_started:   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        started.percentile_ms(50.0),
        started.percentile_ms(99.0),
        started.percentile_ms(100.0)
    );
    println!(
        "message -> agent_completed: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        finished.percentile_ms(50.0),
        finished.percentile_ms(99.0),
        finished.percentile_ms(100.0)
    );
    println!("runs not completed:      {}", total.failed_runs);
    for error in total.errors.iter().take(5) {
        println!("error: {error}");
    }
    let result = json!({
        "users": args.users,
        "runs_per_user": args.runs_per_user,
        "runs_completed": completed,
        "wall_seconds": wall,
        "runs_per_second": completed as f64 / wall,
        "events": total.events,
        "events_per_second": total.events as f64 / wall,
        "started_p50_ms": started.percentile_ms(50.0),
        "started_p99_ms": started.percentile_ms(99.0),
        "completed_p50_ms": finished.percentile_ms(50.0),
        "completed_p99_ms": finished.percentile_ms(99.0),
        "failed_runs": total.failed_runs,
        "errors": total.errors.len(),
    });
    println!("RESULT {result}");
    if total.errors.is_empty() && total.failed_runs == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} error(s), {} run(s) not completed",
            total.errors.len(),
            total.failed_runs
        ))
    }
}

/// One user's runs, one after another on one thread.
async fn user(mut client: Client, index: usize, runs: usize, text: &str) -> UserReport {
    let mut report = UserReport::default();
    let mut thread: Option<String> = None;
    for run in 0..runs {
        let mut request = json!({"type": "start_agent", "text": text, "request_id": format!("{index}-{run}")});
        if let Some(thread) = &thread {
            request["thread_id"] = json!(thread);
        }
        let sent = Instant::now();
        if let Err(error) = client.send(&request).await {
            report.errors.push(error);
            return report;
        }
        match one_run(&mut client, sent, &mut report).await {
            Ok(thread_id) => thread = Some(thread_id),
            Err(error) => {
                report.failed_runs += 1;
                report.errors.push(format!("user {index} run {run}: {error}"));
                return report;
            }
        }
    }
    client.close().await;
    report
}

/// Reads one run's events, checking their order; returns the run's thread.
async fn one_run(client: &mut Client, sent: Instant, report: &mut UserReport) -> Result<String, String> {
    let mut expected_seq: Option<u64> = None;
    loop {
        let message = client.recv().await?;
        let kind = message["type"].as_str().unwrap_or_default();
        match kind {
            "heartbeat" | "pong" => continue,
            "error" => return Err(format!("error {}", message["code"])),
            _ => {}
        }
        let seq = message["seq"].as_u64().ok_or_else(|| format!("no seq in {message}"))?;
        match expected_seq {
            None if kind == "agent_started" => report.to_started.push(sent.elapsed()),
            None => return Err(format!("the run began with {kind}")),
            Some(expected) if seq != expected => return Err(format!("seq {seq} where {expected} was due")),
            Some(_) => {}
        }
        expected_seq = Some(seq + 1);
        report.events += 1;
        if kind == "agent_completed" {
            report.to_completed.push(sent.elapsed());
            if message["data"]["status"] != "completed" {
                report.failed_runs += 1;
            }
            return thread_of(&message);
        }
    }
}

/// The thread an event belongs to.
fn thread_of(event: &Value) -> Result<String, String> {
    event["thread_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no thread_id in {event}"))
}
