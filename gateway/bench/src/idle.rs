//! Idle connections: many users each hold one connection open and send nothing; the gateway's resident
//! memory is read from `/proc` before and after.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::Target;
use crate::client::Client;

/// Arguments of `loadgen idle`.
#[derive(Args)]
pub struct IdleArgs {
    #[command(flatten)]
    target: Target,
    /// Connections to open (one user each).
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// The gateway's process id, to read its resident memory.
    #[arg(long)]
    server_pid: u32,
    /// Seconds to hold the connections open before measuring.
    #[arg(long, default_value_t = 2)]
    settle_seconds: u64,
}

/// Opens the connections, measures, and prints the figures (a last `RESULT` line holds them as JSON).
pub async fn run(args: IdleArgs) -> Result<(), String> {
    let before = rss_kib(args.server_pid)?;
    let target = Arc::new(args.target);
    let handshakes = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let (target, handshakes) = (Arc::clone(&target), Arc::clone(&handshakes));
        tasks.push(tokio::spawn(async move {
            let _permit = handshakes.acquire_owned().await.map_err(|e| e.to_string())?;
            Client::connect(&target, &format!("idle-{index}"), index).await
        }));
    }
    let mut clients = Vec::with_capacity(args.connections);
    for task in tasks {
        clients.push(task.await.map_err(|e| e.to_string())??);
    }
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let after = rss_kib(args.server_pid)?;
    let per_connection = (after.saturating_sub(before)) as f64 / clients.len().max(1) as f64;
    println!("idle connections:        {}", clients.len());
    println!("gateway RSS before:      {:.1} MiB", before as f64 / 1024.0);
    println!("gateway RSS with them:   {:.1} MiB", after as f64 / 1024.0);
    println!("per idle connection:     {per_connection:.1} KiB");
    let result = json!({
        "connections": clients.len(),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_connection_kib": per_connection,
    });
    println!("RESULT {result}");
    drop(clients);
    Ok(())
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read process {pid}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no VmRSS for process {pid}"))
}
