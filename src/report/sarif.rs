//! SARIF 2.1.0 for code-scanning dashboards: one result per finding, `relatedLocations` for every other
//! place of a duplicate, `partialFingerprints` from the line-independent fingerprint, in-source
//! suppressions with their justification, and `baselineState` when a baseline is in use.

use serde_json::{Value, json};

use crate::check::Outcome;
use crate::finding::{Finding, Location, Severity};

/// Renders the outcome as SARIF 2.1.0.
pub fn render(outcome: &Outcome) -> String {
    let mut rules: Vec<Value> = outcome
        .rules
        .iter()
        .map(|r| rule(&r.id, r.kind, &r.message, r.severity))
        .collect();
    let mut ids: Vec<String> = outcome.rules.iter().map(|r| r.id.clone()).collect();
    for finding in &outcome.findings {
        if !ids.contains(&finding.rule) {
            ids.push(finding.rule.clone());
            rules.push(rule(
                &finding.rule,
                &finding.kind,
                finding.help.as_deref().unwrap_or(""),
                finding.severity,
            ));
        }
    }
    let results: Vec<Value> = outcome
        .findings
        .iter()
        .map(|f| {
            result(
                f,
                ids.iter().position(|id| *id == f.rule).unwrap_or(0),
                outcome.baseline_used,
            )
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": env!("CARGO_PKG_NAME"),
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn rule(id: &str, kind: &str, message: &str, severity: Severity) -> Value {
    json!({
        "id": id,
        "name": kind,
        "shortDescription": { "text": if message.is_empty() { kind } else { message } },
        "help": { "text": format!("ssot-check explain {kind}") },
        "defaultConfiguration": { "level": level(severity) },
        "properties": { "kind": kind },
    })
}

fn result(finding: &Finding, rule_index: usize, baseline_used: bool) -> Value {
    let mut text = finding.message.clone();
    if let Some(help) = &finding.help {
        text.push_str(&format!("\n{help}"));
    }
    let mut result = json!({
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": text },
        "locations": [{ "physicalLocation": physical(&finding.primary) }],
        "partialFingerprints": { "ssotCheck/v1": finding.fingerprint() },
    });
    if !finding.related.is_empty() {
        result["relatedLocations"] = finding
            .related
            .iter()
            .enumerate()
            .map(|(i, l)| json!({ "id": i + 1, "message": { "text": l.label }, "physicalLocation": physical(l) }))
            .collect();
    }
    if let Some(justification) = &finding.suppression {
        result["suppressions"] = json!([{ "kind": "inSource", "justification": justification }]);
    }
    if baseline_used {
        result["baselineState"] = json!(if finding.baselined { "unchanged" } else { "new" });
    }
    result
}

fn physical(location: &Location) -> Value {
    let mut physical = json!({ "artifactLocation": { "uri": uri(&location.path) } });
    if let Some(span) = location.span {
        physical["region"] = json!({ "startLine": span.line.max(1), "startColumn": span.column.max(1) });
    }
    physical
}

/// A relative URI reference for a `/`-separated path.
fn uri(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '%' => "%25".to_owned(),
            ' ' => "%20".to_owned(),
            '#' => "%23".to_owned(),
            '?' => "%3F".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
