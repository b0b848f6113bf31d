//! The `ssot-check` binary: parse the command line, run, map the result to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

/// Parsing allocates and frees millions of small nodes; mimalloc does that markedly faster than the
/// system allocator (see the benchmark in bench/).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use ssot_check::{Env, Error, cli::Cli};

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_t` (mimalloc.h; retired options keep
/// their places, so the number is stable). The test below checks it against the option's default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds before freed memory goes back to the system. Parsing a file frees nearly all it
/// allocated; mimalloc's default (a second) kept a third of a run's peak memory in freed pages (five
/// cold runs on the bench corpus each: 75-96 MiB at 1000 ms, 61-66 MiB at 50 ms in the same time; 0 ms
/// took about 15% longer).
const PURGE_DELAY_MS: std::ffi::c_long = 50;

/// Sets the allocator's purge delay; called first thing, before any other thread exists.
#[allow(unsafe_code)]
fn return_freed_memory_sooner() {
    // SAFETY: `mi_option_set` takes plain integers and only stores the option's value; an option
    // number mimalloc does not know is ignored by it.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

fn main() -> ExitCode {
    return_freed_memory_sooner();
    // A bug must not greet the user with a backtrace: one line, and exit 2 below.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("ssot-check: internal error: {info}\nThis is a bug in ssot-check; please report it.");
    }));
    let cli = match Cli::parse_from_args(std::env::args_os()) {
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
    // Standard output is locked per write, not for the whole run: the language server writes to it
    // from its own thread.
    let result = std::panic::catch_unwind(|| ssot_check::run(cli, &env, &mut std::io::stdout()));
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

#[cfg(test)]
mod tests {
    /// The option number names the purge delay: the only option whose default is 1000 (ms).
    #[test]
    #[allow(unsafe_code)]
    fn the_option_set_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads an allocator option; no pointers are involved.
            let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
            assert_eq!(default, 1000);
        }
    }
}
