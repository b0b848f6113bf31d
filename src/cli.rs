//! The command line: `ssot-check [PATHS]` checks; `explain` and `rules` document what is checked.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps a Rust workspace on a single source of truth: what must exist once is defined once, deprecated
/// paths stay unused, removed modules stay removed, and per-user state stays out of globals.
///
/// Exit status: 0 no error findings, 1 error findings, 2 the tool could not run (bad flag, rule file or path).
#[derive(Debug, Parser)]
#[command(name = "ssot-check", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; checking is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for the default `check`.
    #[command(flatten)]
    pub check: CheckArgs,
}

impl Cli {
    /// Parses a command line in which flags may come before or after the subcommand: `ssot-check --rules
    /// r.toml baseline write` is `ssot-check baseline write --rules r.toml`. Without a subcommand it is a
    /// check, as before.
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Cli::try_parse_from(subcommand_first(args.into_iter().map(Into::into).collect()))
    }
}

/// The flags that take a value (`--rules PATH`): their values are not subcommand names.
const FLAGS_WITH_VALUES: &[&str] = &[
    "--rules",
    "--format",
    "--color",
    "-j",
    "--threads",
    "--baseline",
    "-o",
    "--output",
    "--cache-dir",
    "--since",
    "--last",
    "--diff",
    "--depth",
    "--module",
];

/// Subcommands, with the actions that follow them (`baseline write`).
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("check", &[]),
    ("explain", &[]),
    ("rules", &[]),
    ("baseline", &["write", "update"]),
    ("history", &[]),
    ("graph", &[]),
    ("completions", &[]),
    ("man", &[]),
    ("server", &[]),
];

/// Moves flags written before the subcommand (and its action) to after it.
fn subcommand_first(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let text = |i: usize| args.get(i).and_then(|a| a.to_str());
    let mut at = 1;
    while let Some(arg) = text(at) {
        if !arg.starts_with('-') || arg == "--" {
            break;
        }
        at += if FLAGS_WITH_VALUES.contains(&arg) { 2 } else { 1 };
    }
    let Some((_, actions)) = text(at).and_then(|arg| SUBCOMMANDS.iter().find(|(name, _)| *name == arg)) else {
        return args;
    };
    if at == 1 {
        return args;
    }
    let end = if text(at + 1).is_some_and(|next| actions.contains(&next)) {
        at + 2
    } else {
        at + 1
    };
    let mut reordered = vec![args[0].clone()];
    reordered.extend_from_slice(&args[at..end]);
    reordered.extend_from_slice(&args[1..at]);
    reordered.extend_from_slice(&args[end..]);
    reordered
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check files and folders against the rules (the default).
    Check(CheckArgs),
    /// Print the documentation of a rule kind, or list the kinds.
    Explain {
        /// The rule kind, such as `single-definition`.
        kind: Option<String>,
    },
    /// List the rules the configuration loads.
    Rules(RulesArgs),
    /// Write or update the baseline of accepted findings.
    Baseline(BaselineArgs),
    /// Findings per rule for each commit of the current git repository (first-parent).
    History(HistoryArgs),
    /// The module import graph (DOT, Mermaid or JSON), with the edges that break a contract in red.
    Graph(GraphArgs),
    /// Print the completion script for a shell (`ssot-check completions bash > /etc/bash_completion.d/ssot-check`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (`ssot-check man > ssot-check.1 && man -l ssot-check.1`).
    Man,
    /// Run the language server on standard input and output (for editors; see the README).
    Server(ServerArgs),
}

/// Options for `server`.
#[derive(Debug, Default, Args)]
pub struct ServerArgs {
    /// Rule files or folders, relative to the workspace root (default: `ssot.toml` or `rules/` found
    /// from the root upwards).
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Do not show the findings accepted in this baseline file (relative to the workspace root).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Keep parses in this folder instead of the default cache.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Files or folders to draw. Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where the rules come from (their `layers`, `independence` and `acyclic` contracts mark edges red).
    /// Without rules found, the graph is drawn plain.
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Draw modules only this many path segments deep (`--depth 2`: `app::web`, not `app::web::auth`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub depth: Option<u16>,
    /// Only the modules a path pattern covers (`app::store`, `**::legacy`).
    #[arg(long, value_name = "PATTERN")]
    pub module: Option<String>,
    /// With `--module`, also the modules they import or are imported by (who still reaches `legacy`).
    #[arg(long, requires = "module")]
    pub with_neighbours: bool,
    /// Draw the imports of test code too.
    #[arg(long)]
    pub include_tests: bool,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Parse every file, neither reading nor writing the fact cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Where the fact cache lives [default: $SSOT_CHECK_CACHE_DIR, else ~/.cache/ssot-check].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
}

/// Graph output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`dot -Tsvg`).
    #[default]
    Dot,
    /// A Mermaid flowchart, which GitHub renders in Markdown.
    Mermaid,
    /// JSON: modules, and edges with every site.
    Json,
}

/// `baseline write` / `baseline update`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// What to do with the baseline.
    #[command(subcommand)]
    pub action: BaselineAction,
}

/// Baseline actions.
#[derive(Debug, Subcommand)]
pub enum BaselineAction {
    /// Record every current finding (suppressed ones excepted) as accepted.
    Write(CheckArgs),
    /// Remove entries that no longer occur; add new findings only with `--accept-new`.
    Update {
        /// Also accept findings that are not in the baseline yet.
        #[arg(long)]
        accept_new: bool,
        /// What to check, and the baseline file (`--baseline`).
        #[command(flatten)]
        check: CheckArgs,
    },
}

/// `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only commits after this date (anything `git log --since` accepts, such as 2026-01-31).
    #[arg(long, conflicts_with = "last")]
    pub since: Option<String>,
    /// Only the last N commits.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Instead of a history, what HEAD adds and removes against BASE (a branch, tag or commit).
    #[arg(long, value_name = "BASE", conflicts_with_all = ["since", "last"])]
    pub diff: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where the rules come from.
    #[command(flatten)]
    pub rules: RulesArgs,
}

/// History output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// A table per commit: date, short id, count per rule, total.
    #[default]
    Table,
    /// The same as CSV.
    Csv,
    /// The same as JSON.
    Json,
    /// An SVG line chart of the counts over time.
    Svg,
}

/// Where the rules come from.
#[derive(Debug, Default, Args)]
pub struct RulesArgs {
    /// A rule file or folder of `.toml` files (repeatable). Default: the nearest `ssot.toml` or `rules/`
    /// folder at or above the current directory.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
}

/// Options for checking.
#[derive(Debug, Default, Args)]
pub struct CheckArgs {
    /// Files or folders to check. Default: the current directory. A path named here is checked even
    /// where the configuration's `[scan] exclude` would leave it out.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where the rules come from.
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// When to color human output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Worker threads for parsing (default: one per core). Output is the same for any number.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Accept the findings recorded in this baseline file: fail only on others. For `baseline write`
    /// and `update`, the file to write [default: .ssot-baseline.toml].
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Fail when baseline entries no longer occur (so the baseline must shrink as findings are fixed).
    #[arg(long, requires = "baseline")]
    pub strict_baseline: bool,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Treat partially analyzed files (some items syn cannot parse) as errors, not warnings.
    #[arg(long)]
    pub strict: bool,
    /// Parse every file, neither reading nor writing the fact cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Where the fact cache lives [default: $SSOT_CHECK_CACHE_DIR, else ~/.cache/ssot-check].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Take no speed shortcut: read every file in full with syn, keep every fact, use no cache. Slower;
    /// the findings are the same (that is what it is for: checking the shortcuts).
    #[arg(long)]
    pub no_shortcuts: bool,
    /// Check one build exactly, for this target triple (as rustc names it): code its `cfg`s leave out is
    /// not counted. Without it, definitions count together when any configuration compiles them both.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// With `--target`: features to turn on (comma-separated or repeated), besides `default`.
    #[arg(long, value_name = "FEATURES", value_delimiter = ',', requires = "target")]
    pub features: Vec<String>,
    /// With `--target`: every feature on.
    #[arg(long, requires = "target")]
    pub all_features: bool,
    /// With `--target`: the `default` feature off.
    #[arg(long, requires = "target")]
    pub no_default_features: bool,
    /// Check, then re-check on every change to a Rust or rule file under the paths, printing only what
    /// changed (new and resolved findings). Runs until interrupted (Ctrl-C).
    #[arg(long, conflicts_with = "output")]
    pub watch: bool,
    /// Apply the safe fixes (a banned import whose replacement has the same name is imported from the
    /// replacement), then report what is left.
    #[arg(long, conflicts_with = "watch")]
    pub fix: bool,
    /// Print the fixes as a unified diff and change nothing.
    #[arg(long, conflicts_with_all = ["watch", "fix"])]
    pub diff: bool,
    /// Also apply (or, with `--diff`, show) the unsafe fixes: deleting a removed module's `mod`
    /// declaration, which breaks whatever still uses the module. Without `--diff` it implies `--fix`.
    #[arg(long, conflicts_with = "watch")]
    pub unsafe_fixes: bool,
}

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics with source snippets, then a summary line.
    #[default]
    Human,
    /// The versioned JSON report (docs/json-report.md).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// JUnit XML: one test case per rule.
    Junit,
}

/// Color choices for human output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Color when writing to a terminal.
    #[default]
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reordered(line: &str) -> String {
        let args: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
        subcommand_first(args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn flags_before_a_subcommand_go_after_it() {
        assert_eq!(
            reordered("ssot-check --rules r.toml baseline write src"),
            "ssot-check baseline write --rules r.toml src"
        );
        assert_eq!(
            reordered("ssot-check --no-cache graph --depth 2"),
            "ssot-check graph --no-cache --depth 2"
        );
        // A flag's value named like a subcommand is a value; no subcommand leaves the line as it is.
        assert_eq!(
            reordered("ssot-check --rules graph src"),
            "ssot-check --rules graph src"
        );
        assert_eq!(
            reordered("ssot-check baseline write --rules r.toml"),
            "ssot-check baseline write --rules r.toml"
        );
        let cli = Cli::parse_from_args(["ssot-check", "--rules", "r.toml", "baseline", "write"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Baseline(_))));
    }
}
