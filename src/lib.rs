//! `ssot-check`: finds what must exist once but exists twice in a Rust workspace, banned imports,
//! removed modules that came back, and global state where per-user state belongs.
//!
//! The pipeline: [`workspace`] finds files and crates, a [`frontend`] turns each file into [`facts`],
//! the [`rules`] read the facts and produce [`finding`]s, and [`report`] prints them.

pub mod check;
pub mod cli;
pub mod config;
pub mod facts;
pub mod finding;
pub mod frontend;
pub mod pattern;
pub mod report;
pub mod rules;
pub mod workspace;

use std::io::Write;
use std::path::PathBuf;

use cli::{CheckArgs, Cli, Color, Command, Format, RulesArgs};

/// How a run ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// No error findings.
    Success = 0,
    /// At least one error finding.
    Findings = 1,
}

/// Why the tool could not do its job (exit 2).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// The rules could not be loaded.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] config::ConfigError),
    /// A path to check could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Workspace(#[from] workspace::WorkspaceError),
    /// `explain` was asked about a kind that does not exist.
    #[error("unknown rule kind `{0}`")]
    #[diagnostic(code(ssot_check::explain), help("known kinds: {}", rules::KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")))]
    UnknownKind(String),
    /// The worker threads could not be started.
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// What a run needs from its surroundings.
#[derive(Clone, Debug)]
pub struct Env {
    /// The directory paths are resolved against and reported relative to.
    pub cwd: PathBuf,
    /// Whether standard output is a terminal (for `--color auto`).
    pub terminal: bool,
}

/// Worker threads get a large stack: syn recurses once per nesting level of the code it parses.
pub(crate) const WORKER_STACK: usize = 64 * 1024 * 1024;

/// Runs a parsed command line, writing the report to `out`.
pub fn run(cli: Cli, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    match cli.command {
        None => check(cli.check, env, out),
        Some(Command::Check(args)) => check(args, env, out),
        Some(Command::Explain { kind }) => explain(kind.as_deref(), out),
        Some(Command::Rules(args)) => list_rules(&args, env, out),
    }
}

fn load_config(args: &RulesArgs, env: &Env) -> Result<config::Config, Error> {
    let paths = if args.rules.is_empty() {
        let found =
            config::discover(&env.cwd).ok_or_else(|| config::ConfigError::NotFound(env.cwd.display().to_string()))?;
        vec![found]
    } else {
        args.rules.iter().map(|p| env.cwd.join(p)).collect()
    };
    Ok(config::load(&paths, &env.cwd)?)
}

fn check(args: CheckArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    let config = load_config(&args.rules, env)?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK);
    if let Some(threads) = args.threads {
        pool = pool.num_threads(usize::from(threads));
    }
    let outcome = pool.build()?.install(|| check::run(&env.cwd, &paths, &config))?;
    let text = match args.format {
        Format::Human => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => env.terminal && std::env::var_os("NO_COLOR").is_none(),
            };
            report::human::render(&outcome, &env.cwd, color)
        }
        Format::Json => report::json::render(&outcome),
    };
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if outcome.has_errors() {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}

fn explain(kind: Option<&str>, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    match kind {
        None => {
            writeln!(out, "Rule kinds (`ssot-check explain KIND` for one):\n")?;
            for kind in rules::KINDS {
                writeln!(out, "  {:<18} {}", kind.name, kind.summary)?;
            }
        }
        Some(name) => {
            let kind = rules::kind(name).ok_or_else(|| Error::UnknownKind(name.to_owned()))?;
            writeln!(out, "# {}\n\n{}.\n\n{}", kind.name, kind.summary, kind.docs.trim_end())?;
        }
    }
    Ok(ExitStatus::Success)
}

fn list_rules(args: &RulesArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    let config = load_config(args, env)?;
    for rule in &config.rules {
        let at = workspace::display_path(&env.cwd, std::path::Path::new(&rule.defined_at));
        writeln!(
            out,
            "{:<36} {:<18} {:<8} {}",
            rule.meta.id,
            rule.meta.kind,
            rule.meta.severity.as_str(),
            at
        )?;
        writeln!(out, "    {}", rule.meta.message)?;
    }
    writeln!(out, "{} rules", config.rules.len())?;
    Ok(ExitStatus::Success)
}
