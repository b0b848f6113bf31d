//! The JSON format, schema version 1 (documented in docs/json-report.md). Fields are only ever added
//! within a version; a removal or change of meaning bumps `schema_version`.

use serde::Serialize;

use super::Summary;
use crate::check::Outcome;
use crate::finding::{Finding, Location, Severity};

/// The version of the JSON report's schema.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    tool: Tool,
    summary: Summary,
    findings: Vec<JsonFinding<'a>>,
    stale_baseline_entries: &'a [crate::finding::BaselineKey],
    unresolved_paths: &'a [crate::check::UnresolvedPath],
    unexpanded_macros: &'a std::collections::BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    kind: &'a str,
    severity: Severity,
    message: &'a str,
    help: Option<&'a str>,
    symbol: &'a str,
    fingerprint: String,
    path: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    label: &'a str,
    related: Vec<JsonLocation<'a>>,
    suppression: Option<Suppression<'a>>,
    baseline_state: Option<&'static str>,
}

#[derive(Serialize)]
struct Suppression<'a> {
    kind: &'static str,
    justification: &'a str,
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    path: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    label: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
}

impl<'a> From<&'a Location> for JsonLocation<'a> {
    fn from(l: &'a Location) -> Self {
        JsonLocation {
            path: &l.path,
            line: l.span.map(|s| s.line),
            column: l.span.map(|s| s.column),
            label: &l.label,
            member: l.member.as_deref(),
        }
    }
}

impl<'a> JsonFinding<'a> {
    fn new(f: &'a Finding, baseline_used: bool) -> Self {
        let at = JsonLocation::from(&f.primary);
        JsonFinding {
            rule: &f.rule,
            kind: &f.kind,
            severity: f.severity,
            message: &f.message,
            help: f.help.as_deref(),
            symbol: &f.symbol,
            fingerprint: f.fingerprint(),
            path: at.path,
            line: at.line,
            column: at.column,
            label: at.label,
            related: f.related.iter().map(JsonLocation::from).collect(),
            suppression: f.suppression.as_deref().map(|justification| Suppression {
                kind: "in-source",
                justification,
            }),
            baseline_state: match (baseline_used, f.baselined) {
                (false, _) => None,
                (true, true) => Some("unchanged"),
                (true, false) => Some("new"),
            },
        }
    }
}

/// Renders the outcome as pretty-printed JSON with a trailing newline.
pub fn render(outcome: &Outcome) -> String {
    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        summary: Summary::of(outcome),
        findings: outcome
            .findings
            .iter()
            .map(|f| JsonFinding::new(f, outcome.baseline_used))
            .collect(),
        stale_baseline_entries: &outcome.stale,
        unresolved_paths: &outcome.unresolved,
        unexpanded_macros: &outcome.unexpanded_macros,
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
