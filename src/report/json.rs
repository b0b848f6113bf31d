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
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    path: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    label: &'a str,
}

impl<'a> From<&'a Location> for JsonLocation<'a> {
    fn from(l: &'a Location) -> Self {
        JsonLocation {
            path: &l.path,
            line: l.span.map(|s| s.line),
            column: l.span.map(|s| s.column),
            label: &l.label,
        }
    }
}

impl<'a> From<&'a Finding> for JsonFinding<'a> {
    fn from(f: &'a Finding) -> Self {
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
        findings: outcome.findings.iter().map(JsonFinding::from).collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
