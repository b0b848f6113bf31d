//! Load generator for the agent gateway, run in its own process so the gateway's memory and file
//! descriptors are measured alone: `loadgen idle` holds many idle connections and reports the gateway's
//! resident memory per connection; `loadgen runs` has many users each start runs back to back and
//! reports throughput and the latency from a message to its `agent_started`; `loadgen bystander` has a
//! few users run heavy searches while another pings, and reports what that costs the bystander.

mod bystander;
mod client;
mod idle;
mod runs;
mod stats;
mod token;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Command line of the load generator.
#[derive(Parser)]
#[command(about = "Load generator for the agent gateway (idle connections, back-to-back runs)")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

/// What to measure.
#[derive(Subcommand)]
enum Scenario {
    /// Open many connections that stay idle; report the gateway's resident memory per connection.
    Idle(idle::IdleArgs),
    /// Have many users each start runs back to back; report runs/s, events/s and latencies.
    Runs(runs::RunsArgs),
    /// Have a few users run heavy searches while another pings; report the bystander's latency.
    Bystander(bystander::BystanderArgs),
}

/// Where the gateway is and how to sign in to it.
#[derive(Args, Clone)]
pub struct Target {
    /// The gateway's WebSocket URL; several (comma-separated) for several nodes of one cluster, each
    /// user connecting to the next in turn, as a load balancer spreads them.
    #[arg(long, default_value = "ws://127.0.0.1:8080/v1/ws", value_delimiter = ',')]
    url: Vec<String>,
    /// The gateway's HS256 secret, to mint a token per user.
    #[arg(long)]
    secret: String,
    /// Handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadgen: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.scenario {
            Scenario::Idle(args) => idle::run(args).await,
            Scenario::Runs(args) => runs::run(args).await,
            Scenario::Bystander(args) => bystander::run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}
