//! `ssot-check`: finds what must exist once but exists twice in a Rust workspace, banned imports,
//! removed modules that came back, and global state where per-user state belongs.
//!
//! The pipeline: [`workspace`] finds files and crates, a [`frontend`] turns each file into [`facts`],
//! the [`rules`] read the facts and produce [`finding`]s, and [`report`] prints them.

pub mod baseline;
pub mod blob_folder;
pub mod built_in;
pub mod check;
pub mod cli;
pub mod config;
pub mod configurations;
pub mod facts;
pub mod finding;
pub mod fix;
pub mod frontend;
pub mod git;
pub mod graph;
pub mod history;
pub mod manual;
pub mod pattern;
pub mod report;
pub mod rules;
pub mod server;
pub mod timings;
pub mod watch;
pub mod workspace;

use std::io::Write;
use std::path::PathBuf;

use cli::{
    BaselineAction, CheckArgs, Cli, Color, Command, Format, GraphArgs, GraphFormat, HistoryArgs, HistoryFormat,
    RulesArgs,
};

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
    /// The git history could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] git::GitError),
    /// The baseline file could not be used.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Baseline(#[from] baseline::BaselineError),
    /// `--watch` could not watch.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Watch(#[from] watch::WatchError),
    /// The language server stopped on a protocol error.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Server(#[from] server::ServerError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// `--target` names a target rustc does not know.
    #[error("unknown target `{0}`")]
    #[diagnostic(
        code(ssot_check::target),
        help(
            "use a triple rustc knows, such as x86_64-unknown-linux-gnu or aarch64-apple-darwin (`rustc --print target-list`)"
        )
    )]
    UnknownTarget(String),
    /// A path pattern given as a flag is not valid.
    #[error("invalid `{flag}`: {message}")]
    #[diagnostic(code(ssot_check::pattern))]
    Pattern {
        /// The flag.
        flag: &'static str,
        /// What is wrong with the pattern.
        message: String,
    },
    /// The `--output` file could not be written.
    #[error("cannot write `{path}`: {source}")]
    #[diagnostic(code(ssot_check::output))]
    OutputFile {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
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
        Some(Command::Baseline(args)) => match args.action {
            BaselineAction::Write(check) => write_baseline(check, false, true, env, out),
            BaselineAction::Update { accept_new, check } => write_baseline(check, accept_new, false, env, out),
        },
        Some(Command::History(args)) => history(&args, env, out),
        Some(Command::Graph(args)) => draw_graph(&args, env, out),
        Some(Command::Completions { shell }) => {
            manual::completions(shell, out)?;
            Ok(ExitStatus::Success)
        }
        Some(Command::Man) => {
            manual::man_page(out)?;
            Ok(ExitStatus::Success)
        }
        Some(Command::Server(args)) => {
            let settings = server::Settings {
                rules: args.rules.rules,
                baseline: args.baseline,
                cache_dir: args.cache_dir,
            };
            let pool = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK).build()?;
            server::serve(settings, &env.cwd, pool)?;
            Ok(ExitStatus::Success)
        }
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

/// Loads the rules and runs the checker over the arguments' paths, with the arguments' strictness and
/// cache, and the given baseline.
fn run_check(args: &CheckArgs, env: &Env, baseline: Option<baseline::Baseline>) -> Result<check::Outcome, Error> {
    run_check_with(args, env, baseline, None)
}

/// [`run_check`], through `warm` when given: a cache kept between checks (`--watch`).
fn run_check_with(
    args: &CheckArgs,
    env: &Env,
    baseline: Option<baseline::Baseline>,
    warm: Option<&frontend::ParseCache>,
) -> Result<check::Outcome, Error> {
    let config = load_config(&args.rules, env)?;
    let options = run_options(args, &config, baseline);
    if let Some(build) = &options.build
        && !build.knows_target()
    {
        return Err(Error::UnknownTarget(build.target.clone()));
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK);
    if let Some(threads) = args.threads {
        pool = pool.num_threads(usize::from(threads));
    }
    Ok(pool.build()?.install(|| match warm {
        Some(cache) => check::run_with(&env.cwd, &paths, &config, &options, cache),
        None => check::run(&env.cwd, &paths, &config, &options),
    })?)
}

/// The run options the arguments ask for (the rule files' `[check]` build unless the command line
/// names one).
fn run_options(args: &CheckArgs, config: &config::Config, baseline: Option<baseline::Baseline>) -> check::RunOptions {
    check::RunOptions {
        baseline,
        strict_baseline: args.strict_baseline,
        strict: args.strict,
        no_shortcuts: args.no_shortcuts,
        // The command line's build, else the rule files' `[check]`.
        build: match &args.target {
            Some(target) => Some(configurations::Build {
                target: target.clone(),
                features: args.features.clone(),
                all_features: args.all_features,
                no_default_features: args.no_default_features,
            }),
            None => config.build.clone(),
        },
        cache_dir: cache_dir(args),
    }
}

/// The folder parses are kept in: `--cache-dir`, else the default one; none with `--no-cache`.
fn cache_dir(args: &CheckArgs) -> Option<PathBuf> {
    match args.no_cache {
        true => None,
        false => args.cache_dir.clone().or_else(blob_folder::BlobFolder::default_dir),
    }
}

fn check(args: CheckArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    if args.watch {
        return watch(&args, env, out);
    }
    if args.fix || args.diff || args.unsafe_fixes {
        return apply_fixes(args, env, out);
    }
    let outcome = run_check(&args, env, read_baseline(&args, env)?)?;
    let _reporting = timings::phase("report");
    let text = match args.format {
        Format::Human => report::human::render(&outcome, &env.cwd, use_color(&args, env)),
        Format::Json => report::json::render(&outcome),
        Format::Sarif => report::sarif::render(&outcome),
        Format::Github => report::github::render(&outcome),
        Format::Junit => report::junit::render(&outcome),
    };
    emit(&text, args.output.as_deref(), env, out)?;
    Ok(if outcome.failed() {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}

/// `--fix` and `--diff`: the safe fixes of a check, written (then the files checked again and reported)
/// or printed as a diff. What was fixed and what was left, and why, follows the report (on standard
/// error for machine-readable formats, so they stay parseable).
fn apply_fixes(mut args: CheckArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    let outcome = run_check(&args, env, read_baseline(&args, env)?)?;
    let plan = fix::plan(&outcome.findings, &env.cwd, args.unsafe_fixes);
    let mut summary = String::new();
    let human = args.format == Format::Human && args.output.is_none();
    let status = if args.diff {
        for file in &plan.files {
            out.write_all(fix::unified_diff(file).as_bytes())?;
        }
        summary.push_str(&format!(
            "Would fix {} finding(s) in {} file(s); nothing written.\n",
            plan.fixed(),
            plan.files.len()
        ));
        if outcome.failed() {
            ExitStatus::Findings
        } else {
            ExitStatus::Success
        }
    } else {
        for file in &plan.files {
            let path = env.cwd.join(&file.path);
            std::fs::write(&path, &file.after).map_err(|source| Error::OutputFile { path, source })?;
        }
        summary.push_str(&format!(
            "Fixed {} finding(s) in {} file(s).\n",
            plan.fixed(),
            plan.files.len()
        ));
        (args.fix, args.unsafe_fixes) = (false, false);
        check(args, env, out)?
    };
    if !plan.shown.is_empty() {
        summary.push_str(&format!(
            "{} duplicate(s) to resolve by hand (shown, never applied):\n",
            plan.shown.len()
        ));
        for shown in &plan.shown {
            summary.push_str(&format!("  {}: {}\n", shown.place, shown.reason));
        }
    }
    if !plan.left.is_empty() {
        summary.push_str(&format!("{} fix(es) left:\n", plan.left.len()));
        for left in &plan.left {
            summary.push_str(&format!("  {}: {}\n", left.place, left.reason));
        }
    }
    match human {
        true => out.write_all(summary.as_bytes())?,
        false => eprint!("{summary}"),
    }
    out.flush()?;
    Ok(status)
}

/// `--watch`: the whole report once, then, after each change, what it added and what it resolved. A
/// check that cannot run (a rule file saved half-edited) is reported and the watch goes on.
fn watch(args: &CheckArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    let color = use_color(args, env);
    // The last analysis is kept in memory between checks: after a save only what it can reach is
    // analyzed again. A run without shortcuts takes none, this one included.
    let disk = cache_dir(args).as_deref().and_then(blob_folder::BlobFolder::open);
    let cache = frontend::ParseCache::with_disk(disk).keeping_warm();
    let warm = (!args.no_shortcuts).then_some(&cache);
    let mut previous = run_check_with(args, env, read_baseline(args, env)?, warm)?;
    out.write_all(report::human::render(&previous, &env.cwd, color).as_bytes())?;
    let paths: Vec<PathBuf> = match args.paths.is_empty() {
        true => vec![env.cwd.clone()],
        false => args.paths.iter().map(|p| env.cwd.join(p)).collect(),
    };
    let mut watcher = watch::ChangeWatcher::start(&paths)?;
    writeln!(out, "Watching for changes (Ctrl-C to stop).")?;
    out.flush()?;
    loop {
        let changed = watcher.next_change()?;
        let started = std::time::Instant::now();
        let outcome = match read_baseline(args, env)
            .map_err(Error::from)
            .and_then(|b| run_check_with(args, env, b, warm))
        {
            Ok(outcome) => outcome,
            Err(error) => {
                writeln!(out, "\nCannot check after this change: {error}")?;
                out.flush()?;
                continue;
            }
        };
        let changes = watch::Changes::between(&previous.findings, &outcome.findings);
        let names: Vec<String> = changed
            .iter()
            .map(|p| p.strip_prefix(&env.cwd).unwrap_or(p).display().to_string())
            .collect();
        writeln!(
            out,
            "\nRe-checked after a change to {} in {} ms: {} new, {} resolved, {} active.",
            if names.is_empty() {
                "some files".to_owned()
            } else {
                names.join(", ")
            },
            started.elapsed().as_millis(),
            changes.new.len(),
            changes.resolved.len(),
            outcome.active().count()
        )?;
        for finding in &changes.resolved {
            writeln!(
                out,
                "resolved: [{}] {} ({})",
                finding.rule, finding.message, finding.primary.path
            )?;
        }
        if !changes.new.is_empty() {
            let shown = check::Outcome {
                findings: changes.new,
                files_checked: outcome.files_checked,
                rules: outcome.rules.clone(),
                ..check::Outcome::default()
            };
            out.write_all(report::human::render(&shown, &env.cwd, color).as_bytes())?;
        }
        out.flush()?;
        previous = outcome;
    }
}

/// Whether human output is colored: `--color`, and for `auto` a terminal without `--output` or `NO_COLOR`.
fn use_color(args: &CheckArgs, env: &Env) -> bool {
    match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => args.output.is_none() && env.terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// The `--baseline` file, read now (a watch reads it again after each change: it may have changed too).
fn read_baseline(args: &CheckArgs, env: &Env) -> Result<Option<baseline::Baseline>, baseline::BaselineError> {
    args.baseline
        .as_ref()
        .map(|path| baseline::Baseline::read(&env.cwd.join(path)))
        .transpose()
}

/// Writes a report to `--output` (relative to the current directory) or to `out`.
fn emit(text: &str, output: Option<&std::path::Path>, env: &Env, out: &mut dyn Write) -> Result<(), Error> {
    match output {
        Some(path) => {
            let path = env.cwd.join(path);
            std::fs::write(&path, text).map_err(|source| Error::OutputFile { path, source })
        }
        None => {
            out.write_all(text.as_bytes())?;
            Ok(out.flush()?)
        }
    }
}

/// `baseline write` (every current finding) and `baseline update` (drop fixed entries; add new ones
/// only when asked).
fn write_baseline(
    args: CheckArgs,
    accept_new: bool,
    fresh: bool,
    env: &Env,
    out: &mut dyn Write,
) -> Result<ExitStatus, Error> {
    let file = env.cwd.join(
        args.baseline
            .clone()
            .unwrap_or_else(|| PathBuf::from(baseline::DEFAULT_FILE)),
    );
    // The baseline file is the output here, not an input.
    let outcome = run_check(&args, env, None)?;
    let current = baseline::Baseline::of(&outcome.findings);
    let shown = workspace::display_path(&env.cwd, &file);
    if fresh {
        current.write(&file)?;
        writeln!(out, "Wrote {} baseline entries to {shown}", current.entries.len())?;
        return Ok(ExitStatus::Success);
    }
    let existing = baseline::Baseline::read(&file)?;
    let kept: std::collections::BTreeSet<_> = existing.entries.intersection(&current.entries).cloned().collect();
    let removed = existing.entries.len() - kept.len();
    let new: Vec<_> = current.entries.difference(&existing.entries).cloned().collect();
    let mut updated = baseline::Baseline { entries: kept };
    if accept_new {
        updated.entries.extend(new.iter().cloned());
    }
    updated.write(&file)?;
    writeln!(out, "Removed {removed} stale baseline entries from {shown}")?;
    match (accept_new, new.len()) {
        (_, 0) => {}
        (true, n) => writeln!(out, "Added {n} new entries (--accept-new)")?,
        (false, n) => writeln!(
            out,
            "{n} findings are not in the baseline and were not added (use --accept-new to accept them)"
        )?,
    }
    Ok(ExitStatus::Success)
}

/// `history` (counts per commit) and `history --diff BASE` (what HEAD adds and removes; exit 1 if it
/// adds anything).
fn history(args: &HistoryArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    let config = load_config(&args.rules, env)?;
    let pool = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK).build()?;
    if let Some(base) = &args.diff {
        let diff = pool.install(|| history::diff(&env.cwd, &config, base))?;
        let text = match args.format {
            HistoryFormat::Json => format!("{}\n", serde_json::to_string_pretty(&diff).unwrap_or_default()),
            _ => report::history::diff_markdown(&diff),
        };
        emit(&text, args.output.as_deref(), env, out)?;
        return Ok(if diff.added.is_empty() {
            ExitStatus::Success
        } else {
            ExitStatus::Findings
        });
    }
    let history = pool.install(|| history::history(&env.cwd, &config, args.since.as_deref(), args.last))?;
    let text = match args.format {
        HistoryFormat::Table => report::history::table(&history),
        HistoryFormat::Csv => report::history::csv(&history),
        HistoryFormat::Json => report::history::json(&history),
        HistoryFormat::Svg => report::history::svg(&history),
    };
    emit(&text, args.output.as_deref(), env, out)?;
    Ok(ExitStatus::Success)
}

/// `graph`: the module import graph of the paths, cut to a depth and a module if asked, with the edges
/// that break the loaded contracts in red.
fn draw_graph(args: &GraphArgs, env: &Env, out: &mut dyn Write) -> Result<ExitStatus, Error> {
    let config = match load_config(&args.rules, env) {
        Err(Error::Config(config::ConfigError::NotFound(_))) if args.rules.rules.is_empty() => {
            config::Config::default()
        }
        loaded => loaded?,
    };
    let focus = args
        .module
        .as_deref()
        .map(pattern::PathPattern::new)
        .transpose()
        .map_err(|message| Error::Pattern {
            flag: "--module",
            message,
        })?;
    let options = check::RunOptions {
        cache_dir: if args.no_cache {
            None
        } else {
            blob_folder::BlobFolder::default_dir()
        },
        ..check::RunOptions::default()
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let pool = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK).build()?;
    let (_, facts) = pool.install(|| check::analyze(&env.cwd, &paths, &config, &options, check::Needs::Graph))?;
    let full = graph::ModuleGraph::build(&facts, args.include_tests);
    let depth = args.depth.map_or(usize::MAX, usize::from);
    let shown = |m: &str| graph::render::at_depth(m, depth).to_owned();
    let focused = |m: &str| focus.as_ref().is_none_or(|p| p.covers(m));
    let neighbours: std::collections::BTreeSet<&str> = full
        .edges()
        .filter(|(from, to, _)| args.with_neighbours && (focused(from) || focused(to)))
        .flat_map(|(from, to, _)| [from, to])
        .collect();
    let drawn = full.collapse(|m| (focused(m) || neighbours.contains(m)).then(|| shown(m)));
    let broken: graph::render::Broken = config
        .rules
        .iter()
        .flat_map(|rule| rule.check.broken_edges(&rule.facts_seen(&facts)))
        .map(|(from, to)| (shown(&from), shown(&to)))
        .filter(|(from, to)| from != to)
        .collect();
    let text = match args.format {
        GraphFormat::Dot => graph::render::dot(&drawn, &broken),
        GraphFormat::Mermaid => graph::render::mermaid(&drawn, &broken),
        GraphFormat::Json => graph::render::json(&drawn, &broken),
    };
    emit(&text, args.output.as_deref(), env, out)?;
    Ok(ExitStatus::Success)
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
        let at = workspace::display_path(&env.cwd, std::path::Path::new(&rule.meta.defined_at));
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
