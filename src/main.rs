//! The `ssot-check` binary: parse the command line, run, map the result to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// Parsing allocates and frees millions of small nodes; mimalloc does that markedly faster than the
/// system allocator (see the benchmark in bench/).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use ssot_check::{Env, Error, cli::Cli};

fn main() -> ExitCode {
    // A bug must not greet the user with a backtrace: one line, and exit 2 below.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("ssot-check: internal error: {info}\nThis is a bug in ssot-check; please report it.");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            eprintln!("ssot-check: cannot read the current directory: {error}");
            return ExitCode::from(2);
        }
    };
    let env = Env {
        cwd,
        terminal: std::io::stdout().is_terminal(),
    };
    let stdout = std::io::stdout();
    let result = std::panic::catch_unwind(|| ssot_check::run(cli, &env, &mut stdout.lock()));
    match result {
        Ok(Ok(status)) => ExitCode::from(status as u8),
        Ok(Err(Error::Output(error))) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("{:?}", miette::Report::new(error));
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}
