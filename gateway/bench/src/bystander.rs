//! One user must not freeze everyone: a few heavy users fill their threads with long messages, then run
//! searches over them back to back, while a bystander pings. The bystander's ping latency before and
//! during the searches is what a CPU-heavy tool costs everyone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};

use crate::Target;
use crate::client::Client;
use crate::stats::Latencies;

/// Arguments of `loadgen bystander`.
#[derive(Args)]
pub struct BystanderArgs {
    #[command(flatten)]
    target: Target,
    /// Users that search.
    #[arg(long, default_value_t = 3)]
    heavy_users: usize,
    /// Messages each heavy user first writes to its thread.
    #[arg(long, default_value_t = 300)]
    messages: usize,
    /// Bytes of each of those messages.
    #[arg(long, default_value_t = 30_000)]
    message_bytes: usize,
    /// Searches each heavy user then runs, back to back.
    #[arg(long, default_value_t = 20)]
    searches: usize,
    /// Pause between two of the bystander's pings, in milliseconds.
    #[arg(long, default_value_t = 20)]
    ping_every_ms: u64,
}

/// Fills the threads, then measures the bystander's pings while nobody searches and while the heavy
/// users do; prints the figures (a last `RESULT` line holds them as JSON).
pub async fn run(args: BystanderArgs) -> Result<(), String> {
    let target = Arc::new(args.target);
    let mut heavy = Vec::new();
    for index in 0..args.heavy_users {
        let mut client = Client::connect(&target, &format!("heavy-{index}"), index).await?;
        let thread = fill(&mut client, index, args.messages, args.message_bytes).await?;
        heavy.push((client, thread));
    }
    let bystander = Client::connect(&target, "bystander", 0).await?;
    let pause = Duration::from_millis(args.ping_every_ms);
    let (bystander, quiet) = pings_while(bystander, pause, async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(())
    })
    .await?;
    let searching = async {
        let tasks: Vec<_> = heavy
            .into_iter()
            .map(|(mut client, thread)| {
                let searches = args.searches;
                tokio::spawn(async move {
                    for _ in 0..searches {
                        let request = json!({"type": "start_agent", "thread_id": thread,
                            "text": "search what was said earlier about word17 word4242 and word99"});
                        client.send(&request).await?;
                        until_completed(&mut client).await?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.map_err(|e| e.to_string())??;
        }
        Ok::<(), String>(())
    };
    let searched = Instant::now();
    let (_, busy) = pings_while(bystander, pause, searching).await?;
    let searching_for = searched.elapsed();
    println!(
        "heavy users x messages:  {} x {} of {} bytes",
        args.heavy_users, args.messages, args.message_bytes
    );
    println!(
        "searches:                {} each, done in {:.2} s",
        args.searches,
        searching_for.as_secs_f64()
    );
    println!(
        "bystander ping, quiet:      p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quiet.percentile_ms(50.0),
        quiet.percentile_ms(99.0),
        quiet.percentile_ms(100.0)
    );
    println!(
        "bystander ping, searching:  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        busy.percentile_ms(50.0),
        busy.percentile_ms(99.0),
        busy.percentile_ms(100.0)
    );
    let result = json!({
        "quiet_p99_ms": quiet.percentile_ms(99.0),
        "searching_p50_ms": busy.percentile_ms(50.0),
        "searching_p99_ms": busy.percentile_ms(99.0),
        "searching_max_ms": busy.percentile_ms(100.0),
        "searching_seconds": searching_for.as_secs_f64(),
    });
    println!("RESULT {result}");
    Ok(())
}

/// Writes `messages` long messages to a new thread of the user's, one run each; returns the thread.
async fn fill(client: &mut Client, user: usize, messages: usize, bytes: usize) -> Result<String, String> {
    let mut thread: Option<String> = None;
    for message in 0..messages {
        let words: String = (0..)
            .map(|w| format!("word{} ", (w * 31 + message * 7 + user) % 5000))
            .take_while({
                let mut length = 0;
                move |word: &String| {
                    length += word.len();
                    length <= bytes
                }
            })
            .collect();
        let mut request = json!({"type": "user_message", "text": words});
        if let Some(thread) = &thread {
            request["thread_id"] = json!(thread);
        }
        client.send(&request).await?;
        let completed = until_completed(client).await?;
        thread = completed["thread_id"].as_str().map(str::to_owned);
    }
    thread.ok_or_else(|| "no thread was made".into())
}

/// Reads to the run's `agent_completed` and returns it.
async fn until_completed(client: &mut Client) -> Result<Value, String> {
    loop {
        let message = client.recv().await?;
        match message["type"].as_str() {
            Some("agent_completed") => return Ok(message),
            Some("error") => return Err(format!("error {}", message["code"])),
            _ => {}
        }
    }
}

/// Pings every `pause` until `work` ends; the client back, and the round trips.
async fn pings_while(
    mut client: Client,
    pause: Duration,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(Client, Latencies), String> {
    let done = Arc::new(AtomicBool::new(false));
    let pinging = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut round_trips = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let sent = Instant::now();
                client.send(&json!({"type": "ping"})).await?;
                loop {
                    if client.recv().await?["type"] == "pong" {
                        break;
                    }
                }
                round_trips.push(sent.elapsed());
                tokio::time::sleep(pause).await;
            }
            Ok::<_, String>((client, round_trips))
        })
    };
    let outcome = work.await;
    done.store(true, Ordering::Relaxed);
    let (client, round_trips) = pinging.await.map_err(|e| e.to_string())??;
    outcome?;
    Ok((client, Latencies::new(round_trips)))
}
