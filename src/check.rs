//! One run of the checker: scan, extract facts, run every rule, sort the findings.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
use crate::facts::FileFacts;
use crate::finding::{self, Finding, Location, Severity};
use crate::workspace::{self, WorkspaceError};

/// The built-in check for files that could not be parsed or read.
pub const PARSE_ERROR: &str = "parse-error";

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every finding, in report order.
    pub findings: Vec<Finding>,
    /// How many source files were analyzed.
    pub files_checked: usize,
    /// How many rules ran.
    pub rules_run: usize,
}

impl Outcome {
    /// Whether any finding is an error (the run fails).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Checks `paths` (relative to `base`) against the configured rules.
pub fn run(base: &Path, paths: &[PathBuf], config: &Config) -> Result<Outcome, WorkspaceError> {
    let workspace = workspace::scan(base, paths, &config.excludes)?;
    let facts = crate::frontend::analyze(&workspace);

    let mut findings: Vec<Finding> = workspace
        .problems
        .iter()
        .map(|p| {
            built_in(
                p.kind,
                p.message.clone(),
                Location {
                    path: p.path.clone(),
                    span: None,
                    label: String::new(),
                },
            )
        })
        .collect();
    findings.extend(facts.iter().filter_map(problem_finding));
    let rule_findings: Vec<Vec<Finding>> = config
        .rules
        .par_iter()
        .map(|rule| {
            let mut out = Vec::new();
            rule.check.check(&rule.meta, &facts, &mut out);
            out
        })
        .collect();
    findings.extend(rule_findings.into_iter().flatten());
    finding::sort(&mut findings);
    Ok(Outcome {
        findings,
        files_checked: facts.len(),
        rules_run: config.rules.len(),
    })
}

/// A file that could not be parsed is a finding: a second handler must not hide in an unparsable file.
fn problem_finding(file: &FileFacts) -> Option<Finding> {
    let problem = file.problem.as_ref()?;
    Some(built_in(
        PARSE_ERROR,
        format!("`{}` could not be analyzed: {}", file.path, problem.message),
        Location {
            path: file.path.clone(),
            span: problem.span,
            label: "analysis stopped here".into(),
        },
    ))
}

fn built_in(kind: &str, message: String, primary: Location) -> Finding {
    Finding {
        rule: kind.to_owned(),
        kind: kind.to_owned(),
        severity: Severity::Error,
        symbol: primary.path.clone(),
        message,
        help: Some("fix the file so it can be analyzed: definitions in it are not counted until then".into()),
        primary,
        related: Vec::new(),
    }
}
