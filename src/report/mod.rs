//! Turning an [`Outcome`] into output: people read the human format, machines the JSON.

pub mod github;
pub mod history;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use std::collections::{BTreeMap, BTreeSet};

use crate::check::Outcome;
use crate::rules;

/// Counts behind the summary line and the JSON summary.
#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Source files analyzed.
    pub files_checked: usize,
    /// Distinct files named by any finding.
    pub files_with_findings: usize,
    /// Rules that ran.
    pub rules_run: usize,
    /// All findings.
    pub findings: usize,
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Findings per rule kind (built-in checks included).
    pub by_kind: BTreeMap<String, usize>,
    /// Findings per rule id.
    pub by_rule: BTreeMap<String, usize>,
    /// Findings covered by an inline suppression (not counted above).
    pub suppressed: usize,
    /// Findings accepted by the baseline (not counted above).
    pub baselined: usize,
    /// Baseline entries that no longer occur.
    pub stale_baseline_entries: usize,
    /// Per rule, a rule with no unsuppressed finding is compliant.
    pub compliance: Compliance,
    /// Paths a rule could have matched that could not be resolved (findings about them may be missing).
    pub unresolved_paths: usize,
    /// Macro invocations in item position whose output was not seen (procedural macros, macros from
    /// outside the scanned tree, expansions that failed).
    pub unexpanded_macro_invocations: usize,
}

/// How many rules have no unsuppressed finding.
#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct Compliance {
    /// Rules with no unsuppressed finding (baselined findings still count against a rule).
    pub compliant_rules: usize,
    /// Rules loaded that apply to the files checked.
    pub rules: usize,
    /// `compliant_rules / rules` in percent, one decimal; 100 when no rule applies.
    pub percent: f64,
    /// Rules loaded that had nothing to check here (a contract whose modules are not in the files
    /// checked): counted neither as kept nor as broken.
    pub not_applicable: usize,
}

impl Compliance {
    /// `SSOT compliance: 7/9 rules (77.8%)`.
    pub fn line(&self) -> String {
        let line = format!(
            "SSOT compliance: {}/{} rules ({:.1}%)",
            self.compliant_rules, self.rules, self.percent
        );
        match self.not_applicable {
            0 => line,
            1 => format!("{line}; 1 rule not applicable (its modules are not in the files checked)"),
            n => format!(
                "{line}; {n} rules not applicable (their modules or their language are not in the files checked)"
            ),
        }
    }
}

impl Summary {
    /// Counts an outcome.
    pub fn of(outcome: &Outcome) -> Self {
        let (compliant_rules, rules) = outcome.compliance();
        let percent = if rules == 0 {
            100.0
        } else {
            (compliant_rules as f64 * 1000.0 / rules as f64).round() / 10.0
        };
        let mut summary = Summary {
            files_checked: outcome.files_checked,
            rules_run: outcome.rules.len(),
            suppressed: outcome.findings.iter().filter(|f| f.suppression.is_some()).count(),
            baselined: outcome
                .findings
                .iter()
                .filter(|f| f.suppression.is_none() && f.baselined)
                .count(),
            stale_baseline_entries: outcome.stale.len(),
            unresolved_paths: outcome.unresolved.len(),
            unexpanded_macro_invocations: outcome.unexpanded_macros.values().sum(),
            compliance: Compliance {
                compliant_rules,
                rules,
                percent,
                not_applicable: outcome.not_applicable.len(),
            },
            ..Summary::default()
        };
        let mut files = BTreeSet::new();
        for f in outcome.active() {
            summary.findings += 1;
            match f.severity {
                crate::finding::Severity::Error => summary.errors += 1,
                crate::finding::Severity::Warning => summary.warnings += 1,
            }
            *summary.by_kind.entry(f.kind.clone()).or_default() += 1;
            *summary.by_rule.entry(f.rule.clone()).or_default() += 1;
            files.insert(f.primary.path.as_str());
            files.extend(f.related.iter().map(|l| l.path.as_str()));
        }
        summary.files_with_findings = files.len();
        summary
    }

    /// The closing lines: what was found, what was set aside, and the compliance figure.
    pub fn lines(&self) -> String {
        let mut text = self.line();
        let mut aside = Vec::new();
        if self.suppressed > 0 {
            aside.push(format!("{} suppressed", self.suppressed));
        }
        if self.baselined > 0 {
            aside.push(format!("{} accepted by the baseline", self.baselined));
        }
        if self.stale_baseline_entries > 0 {
            let s = if self.stale_baseline_entries == 1 {
                "entry"
            } else {
                "entries"
            };
            aside.push(format!("{} stale baseline {s}", self.stale_baseline_entries));
        }
        if !aside.is_empty() {
            text.push_str(&format!("\nNot counted: {}", aside.join(", ")));
        }
        text.push('\n');
        text.push_str(&self.compliance.line());
        text.push('\n');
        match self.unexpanded_macro_invocations {
            0 => {}
            1 => text.push_str(
                "Not seen into: 1 macro invocation in item position (procedural, or from outside the scanned tree)\n",
            ),
            n => text.push_str(&format!(
                "Not seen into: {n} macro invocations in item position (procedural, or from outside the scanned tree)\n"
            )),
        }
        match self.unresolved_paths {
            0 => {}
            1 => text.push_str("1 path a rule could match was not resolved: findings about it may be missing\n"),
            n => text.push_str(&format!(
                "{n} paths a rule could match were not resolved: findings about them may be missing\n"
            )),
        }
        text
    }

    /// `Found 6 duplicate implementations, 22 banned imports and 1 removed module still present, in 21 files (312 files checked)`.
    pub fn line(&self) -> String {
        if self.findings == 0 {
            return format!(
                "No findings ({} files checked, {} rules)",
                self.files_checked, self.rules_run
            );
        }
        let mut kinds: Vec<(&str, &str, &str)> = rules::KINDS.iter().map(|k| (k.name, k.noun.0, k.noun.1)).collect();
        kinds.extend(
            crate::built_in::BuiltIn::ALL
                .iter()
                .map(|b| (b.name(), b.noun().0, b.noun().1)),
        );
        let mut parts: Vec<String> = kinds
            .iter()
            .filter_map(|(name, one, many)| {
                self.by_kind
                    .get(*name)
                    .map(|n| format!("{n} {}", if *n == 1 { one } else { many }))
            })
            .collect();
        let known: BTreeSet<&str> = kinds.iter().map(|k| k.0).collect();
        parts.extend(
            self.by_kind
                .iter()
                .filter(|(k, _)| !known.contains(k.as_str()))
                .map(|(k, n)| format!("{n} {k}")),
        );
        let listed = match parts.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        let files = if self.files_with_findings == 1 { "file" } else { "files" };
        format!(
            "Found {listed}, in {} {files} ({} files checked)",
            self.files_with_findings, self.files_checked
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_lists_kinds_in_registry_order() {
        let mut summary = Summary {
            files_checked: 312,
            files_with_findings: 21,
            findings: 29,
            ..Summary::default()
        };
        summary.by_kind.insert("removed-module".into(), 1);
        summary.by_kind.insert("banned-import".into(), 22);
        summary.by_kind.insert("single-definition".into(), 6);
        assert_eq!(
            summary.line(),
            "Found 6 duplicate implementations, 22 banned imports and 1 removed module still present, in 21 files (312 files checked)"
        );
    }

    #[test]
    fn a_clean_run_says_so() {
        let summary = Summary {
            files_checked: 3,
            rules_run: 2,
            ..Summary::default()
        };
        assert_eq!(summary.line(), "No findings (3 files checked, 2 rules)");
    }
}
