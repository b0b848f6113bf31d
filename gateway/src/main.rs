//! The `gateway` binary: `gateway [serve]` serves the protocol; `gateway token --user NAME` mints a JWT.

use std::process::ExitCode;

use clap::Parser;
use gateway::AppState;
use gateway::agent::Agents;
use gateway::auth::Authenticator;
use gateway::config::{Cli, Command, Settings};
use gateway::store::Store;
use gateway::tools::Tools;

/// Every event allocates its JSON, its frame and its messages between threads, freed on other threads
/// than the ones that allocated them; mimalloc's thread-local free lists take that better than glibc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Colors only on a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    let result = match cli.command {
        Some(Command::Token {
            user,
            ttl_seconds,
            settings,
        }) => mint(&settings, &user, ttl_seconds),
        Some(Command::Serve(settings)) => serve(settings),
        None => serve(cli.settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

fn mint(settings: &Settings, user: &str, ttl_seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    let config = settings.resolve()?;
    let token = Authenticator::new(&config)?.mint(user, ttl_seconds)?;
    println!("{token}");
    Ok(())
}

fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let config = settings.resolve()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = Store::connect(&config).await?;
        let bind = config.bind;
        let state = AppState::new(config, store, Agents::standard(), Tools::standard())?;
        let listener = tokio::net::TcpListener::bind(bind).await?;
        tracing::info!(address = %listener.local_addr()?, "listening; WebSocket at /v1/ws");
        gateway::serve(listener, state, shutdown_signal()).await?;
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
