//! One run of the checker: scan, extract facts, run every rule, apply inline suppressions and the
//! baseline, sort the findings.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::baseline::Baseline;
use crate::built_in::BuiltIn;
use crate::config::Config;
use crate::facts::{FileFacts, ProblemKind};
use crate::finding::{self, BaselineKey, Finding, Location, Severity};
use crate::frontend::{ParseCache, Reading};
use crate::workspace::{self, WorkspaceError};

/// How a run treats accepted findings.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Accept the findings of this baseline.
    pub baseline: Option<Baseline>,
    /// Fail when baseline entries no longer occur.
    pub strict_baseline: bool,
    /// Partially analyzed files are errors, not warnings.
    pub strict: bool,
    /// Keep each file's parse in this folder, keyed by content (no cache when `None`).
    pub cache_dir: Option<PathBuf>,
    /// Take no shortcut: every file read in full by syn, every fact kept, no cache. Findings must be the
    /// same as with the shortcuts; this is how that is checked.
    pub no_shortcuts: bool,
    /// Check one build exactly (`--target`, `--features`): what it does not compile is left out.
    pub build: Option<crate::configurations::Build>,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every finding, in report order, suppressed and baselined ones included (and marked).
    pub findings: Vec<Finding>,
    /// How many source files were analyzed.
    pub files_checked: usize,
    /// The rules that ran.
    pub rules: Vec<crate::rules::RuleMeta>,
    /// The ids of the rules that had nothing to check (see [`crate::rules::Check::applies`]).
    pub not_applicable: Vec<String>,
    /// Baseline entries that no longer occur.
    pub stale: Vec<BaselineKey>,
    /// Whether a baseline was in use.
    pub baseline_used: bool,
    /// Whether stale entries fail the run.
    pub strict_baseline: bool,
    /// Paths outside test code that could not be resolved and that a rule could have matched: findings
    /// about them may be missing.
    pub unresolved: Vec<UnresolvedPath>,
    /// Macro invocations in item position whose output was not seen, by macro name: how many.
    pub unexpanded_macros: std::collections::BTreeMap<String, usize>,
}

/// How many item-position invocations of each macro were not seen into.
pub fn unexpanded_macros(facts: &[FileFacts]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for name in facts.iter().filter(|f| !f.in_test).flat_map(|f| &f.unexpanded_macros) {
        *counts.entry(name.clone()).or_insert(0) += 1;
    }
    counts
}

/// A path written in code that resolution could not follow (see [`crate::facts::Reference::unresolved`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UnresolvedPath {
    /// The path as written.
    pub path: String,
    /// The file, as reported.
    pub file: String,
    /// Its line.
    pub line: u32,
}

/// The unresolved paths of non-test code that a rule could match, in file order.
pub fn unresolved_paths(facts: &[FileFacts], config: &Config) -> Vec<UnresolvedPath> {
    let words = config.body_words();
    facts
        .iter()
        .flat_map(|file| {
            file.references
                .iter()
                .filter(|r| r.unresolved && !r.in_test && crate::config::could_match(&words, &r.path))
                .map(|r| UnresolvedPath {
                    path: r.path.clone(),
                    file: file.path.clone(),
                    line: r.span.line,
                })
        })
        .collect()
}

impl Outcome {
    /// Whether the run fails: an active error finding, or stale entries under `--strict-baseline`.
    pub fn failed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.is_active() && f.severity == Severity::Error)
            || (self.strict_baseline && !self.stale.is_empty())
    }

    /// How stale baseline entries are reported: errors under `--strict-baseline`, else warnings.
    pub fn stale_level(&self) -> &'static str {
        if self.strict_baseline { "error" } else { "warning" }
    }

    /// Findings that count: neither suppressed nor in the baseline.
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_active())
    }

    /// Applicable rules with no unsuppressed finding, and the number of applicable rules.
    pub fn compliance(&self) -> (usize, usize) {
        let failing: HashSet<&str> = self
            .findings
            .iter()
            .filter(|f| f.suppression.is_none())
            .map(|f| f.rule.as_str())
            .collect();
        let applicable: Vec<&crate::rules::RuleMeta> = self
            .rules
            .iter()
            .filter(|r| !self.not_applicable.contains(&r.id))
            .collect();
        let compliant = applicable.iter().filter(|r| !failing.contains(r.id.as_str())).count();
        (compliant, applicable.len())
    }
}

/// Checks `paths` (relative to `base`) against the configured rules.
pub fn run(base: &Path, paths: &[PathBuf], config: &Config, options: &RunOptions) -> Result<Outcome, WorkspaceError> {
    run_with(base, paths, config, options, &open_cache(options))
}

/// [`run`] through a cache the caller keeps (`--watch` keeps its last analysis in it between checks).
pub fn run_with(
    base: &Path,
    paths: &[PathBuf],
    config: &Config,
    options: &RunOptions,
    cache: &ParseCache,
) -> Result<Outcome, WorkspaceError> {
    let workspace = scan(base, paths, config)?;
    Ok(run_scanned(&workspace, &workspace::Disk, cache, config, options))
}

/// The run's cache: its folder when it has one.
fn open_cache(options: &RunOptions) -> ParseCache {
    ParseCache::with_disk(
        options
            .cache_dir
            .as_deref()
            .and_then(crate::blob_folder::BlobFolder::open),
    )
}

/// Scans `paths` with the rules' excludes.
fn scan(base: &Path, paths: &[PathBuf], config: &Config) -> Result<workspace::Workspace, WorkspaceError> {
    let _scanning = crate::timings::phase("scan");
    workspace::scan(base, paths, &config.excludes)
}

/// Checks a workspace scanned before, its files read through `tree` (the language server's open
/// buffers over the disk) and `cache`.
pub fn run_scanned(
    workspace: &workspace::Workspace,
    tree: &dyn workspace::FileTree,
    cache: &ParseCache,
    config: &Config,
    options: &RunOptions,
) -> Outcome {
    let needs = if options.no_shortcuts {
        Needs::Everything
    } else {
        Needs::Rules
    };
    let mut facts = facts(workspace, tree, cache, config, needs);
    if let Some(build) = &options.build {
        keep_compiled(&mut facts, workspace, build);
    }
    let rules_phase = crate::timings::phase("rules");
    let findings = findings(workspace, &facts, config, options.strict);
    drop(rules_phase);
    let rules = config.rules.iter().map(|r| r.meta.clone()).collect();
    let not_applicable = config
        .rules
        .iter()
        .filter(|rule| !rule.reads_a_file_of(&facts) || !rule.check.applies(&rule.facts_seen(&facts)))
        .map(|rule| rule.meta.id.clone())
        .collect();
    let mut outcome = Outcome {
        findings,
        files_checked: facts.len(),
        rules,
        not_applicable,
        unresolved: unresolved_paths(&facts, config),
        unexpanded_macros: unexpanded_macros(&facts),
        ..Outcome::default()
    };
    if let Some(baseline) = &options.baseline {
        outcome.stale = baseline.apply(&mut outcome.findings).stale;
        outcome.baseline_used = true;
        outcome.strict_baseline = options.strict_baseline;
    }
    outcome
}

/// Which facts a run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// What the rules use: bodies and facts no rule can find anything in are skipped.
    Rules,
    /// What the rules use and every import and path besides: the whole module graph.
    Graph,
    /// Everything, read the slow way: no body skipped, no item read without syn, no fact dropped.
    Everything,
}

/// Leaves out of `facts` what `build` does not compile (definitions, imports and `mod` declarations
/// whose `cfg` fails for its target and each crate's features); what stays is compiled, so it has no
/// `cfg` left to weigh.
pub fn keep_compiled(facts: &mut [FileFacts], workspace: &workspace::Workspace, build: &crate::configurations::Build) {
    let mut features: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    for krate in &workspace.crates {
        let enabled = build.enabled(&krate.features);
        for target in &krate.targets {
            features
                .entry(target.crate_name.as_str())
                .or_insert_with(|| enabled.clone());
        }
    }
    let no_features = Vec::new();
    for file in facts.iter_mut() {
        let root = file.module.split("::").next().unwrap_or(&file.module);
        let on = features.get(root).unwrap_or(&no_features);
        let compiled = |cfg: &mut Option<String>| {
            let kept = crate::configurations::compiled_in(cfg.as_deref(), &build.target, on).unwrap_or(true);
            *cfg = None;
            kept
        };
        file.definitions.retain_mut(|d| compiled(&mut d.cfg));
        file.imports.retain_mut(|i| compiled(&mut i.cfg));
        file.modules.retain_mut(|m| compiled(&mut m.cfg));
    }
}

/// What a run reads of each file for what it `needs`.
pub fn reading(config: &Config, needs: Needs) -> Reading {
    match needs {
        Needs::Rules => Reading {
            words: config.body_words(),
            rules: config.fingerprint(),
        },
        // Every body matters to the graph; other settings keep its snapshot apart from the rules' one.
        // Without words no body is skipped and no item is read without syn.
        Needs::Graph => Reading {
            words: crate::frontend::BodyWords::new(None),
            rules: !config.fingerprint(),
        },
        Needs::Everything => Reading {
            words: crate::frontend::BodyWords::without_shortcuts(config.body_words()),
            rules: !config.fingerprint(),
        },
    }
}

/// The facts of an assembled workspace that `needs` asks for, its files read through `tree` and
/// `cache`: the one way `check`, `graph` and `history` get facts.
pub fn facts(
    workspace: &workspace::Workspace,
    tree: &dyn workspace::FileTree,
    cache: &ParseCache,
    config: &Config,
    needs: Needs,
) -> Vec<FileFacts> {
    let words = config.body_words();
    let keep = |fact: crate::facts::Fact<'_>| match needs {
        Needs::Rules => config.uses(fact, &words),
        Needs::Graph => config.uses(fact, &words) || !matches!(fact, crate::facts::Fact::Definition(_)),
        Needs::Everything => true,
    };
    crate::frontend::analyze_tree(workspace, tree, cache, &reading(config, needs), &keep)
}

/// Scans `paths` and extracts the facts `needs` asks for, through the run's cache.
pub fn analyze(
    base: &Path,
    paths: &[PathBuf],
    config: &Config,
    options: &RunOptions,
    needs: Needs,
) -> Result<(workspace::Workspace, Vec<FileFacts>), WorkspaceError> {
    let workspace = scan(base, paths, config)?;
    let cache = open_cache(options);
    let facts = facts(&workspace, &workspace::Disk, &cache, config, needs);
    Ok((workspace, facts))
}

/// Every finding of a workspace and its facts, sorted: what the scan could not use, the files that could
/// not be analyzed, and the rules' findings with inline suppressions applied. What `check` and
/// `history` both report.
pub fn findings(workspace: &workspace::Workspace, facts: &[FileFacts], config: &Config, strict: bool) -> Vec<Finding> {
    let mut findings: Vec<Finding> = workspace
        .problems
        .iter()
        .map(|p| {
            let location = Location {
                path: p.path.clone(),
                span: None,
                label: String::new(),
                member: None,
            };
            built_in(p.kind, Severity::Error, p.message.clone(), location)
        })
        .collect();
    findings.extend(evaluate(facts, config, strict));
    finding::sort(&mut findings);
    findings
}

/// Runs the rules over facts and applies inline suppressions: the findings, sorted.
pub fn evaluate(facts: &[FileFacts], config: &Config, strict: bool) -> Vec<Finding> {
    let mut findings: Vec<Finding> = facts.iter().filter_map(|file| problem_finding(file, strict)).collect();
    let rule_findings: Vec<Vec<Finding>> = config
        .rules
        .par_iter()
        .map(|rule| {
            // A bug in one rule costs that rule's findings, not the report.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut out = Vec::new();
                rule.check.check(&rule.meta, &rule.facts_seen(facts), &mut out);
                out
            }));
            run.unwrap_or_else(|_| {
                let at = Location {
                    path: rule.meta.defined_at.clone(),
                    span: None,
                    label: String::new(),
                    member: None,
                };
                vec![built_in(
                    BuiltIn::InternalError,
                    Severity::Error,
                    format!("rule `{}` failed; its findings are missing", rule.meta.id),
                    at,
                )]
            })
        })
        .collect();
    findings.extend(rule_findings.into_iter().flatten());
    findings.iter_mut().for_each(finding::in_file_notation);
    let known: HashSet<&str> = config.rules.iter().map(|r| r.meta.id.as_str()).collect();
    findings = suppress(facts, findings, &known);
    finding::sort(&mut findings);
    findings
}

/// Marks findings covered by a valid suppression and reports malformed, unknown and unused suppressions.
fn suppress(facts: &[FileFacts], mut findings: Vec<Finding>, known: &HashSet<&str>) -> Vec<Finding> {
    let mut extra = Vec::new();
    for file in facts {
        for suppression in &file.suppressions {
            let at = Location {
                path: file.path.clone(),
                span: Some(suppression.span),
                label: "this suppression".into(),
                member: None,
            };
            if let Some(problem) = &suppression.problem {
                extra.push(built_in(
                    BuiltIn::InvalidSuppression,
                    Severity::Error,
                    format!("invalid suppression: {problem}"),
                    at,
                ));
                continue;
            }
            let mut used = false;
            let mut names_unknown = false;
            for rule in &suppression.rules {
                if !known.contains(rule.as_str()) && !is_built_in(rule) {
                    names_unknown = true;
                    let message = format!("suppression names unknown rule `{rule}`");
                    extra.push(built_in(
                        BuiltIn::UnknownSuppression,
                        Severity::Warning,
                        message,
                        at.clone(),
                    ));
                    continue;
                }
                let on_its_line = |l: &Location| {
                    l.path == file.path && l.span.is_some_and(|s| Some(s.line) == suppression.target_line)
                };
                for finding in findings.iter_mut().filter(|f| &f.rule == rule) {
                    if finding.has_members() {
                        // A finding about several places left out the members its rule saw suppressed
                        // (or is suppressed as a whole when too few were left): those are this
                        // suppression's doing, and nothing more is hidden.
                        used |= std::iter::once(&finding.primary)
                            .chain(&finding.related)
                            .any(on_its_line);
                    } else if finding.suppression.is_none() && on_its_line(&finding.primary) {
                        finding.suppression = suppression.reason.clone();
                        used = true;
                    }
                }
            }
            // A suppression naming an unknown rule is already reported as such.
            if !used && !names_unknown {
                let message = "this suppression suppresses nothing".to_owned();
                extra.push(built_in(BuiltIn::UnusedSuppression, Severity::Warning, message, at));
            }
        }
    }
    findings.extend(extra);
    findings
}

fn is_built_in(rule: &str) -> bool {
    BuiltIn::named(rule).is_some_and(BuiltIn::suppressible)
}

/// A file that could not be parsed is a finding: a second handler must not hide in an unparsable file.
/// One that was analyzed in part is a warning (an error with `strict`).
fn problem_finding(file: &FileFacts, strict: bool) -> Option<Finding> {
    let problem = file.problem.as_ref()?;
    let (severity, what) = match problem.kind {
        ProblemKind::PartiallyAnalyzed if !strict => (Severity::Warning, "was analyzed in part"),
        ProblemKind::PartiallyAnalyzed => (Severity::Error, "was analyzed in part"),
        ProblemKind::ParseError | ProblemKind::InternalError => (Severity::Error, "could not be analyzed"),
    };
    Some(built_in(
        BuiltIn::from(problem.kind),
        severity,
        format!("`{}` {what}: {}", file.path, problem.message),
        Location {
            path: file.path.clone(),
            span: problem.span,
            label: "analysis stopped here".into(),
            member: None,
        },
    ))
}

fn built_in(check: BuiltIn, severity: Severity, message: String, primary: Location) -> Finding {
    Finding {
        rule: check.name().to_owned(),
        kind: check.name().to_owned(),
        severity,
        symbol: primary.path.clone(),
        message,
        help: Some(check.help().into()),
        primary,
        related: Vec::new(),
        suppression: None,
        baselined: false,
        fix: None,
    }
}
