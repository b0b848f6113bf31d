//! JUnit XML for CI systems that show test reports: one test case per rule (and per built-in check that
//! found something), failed when the rule has a counted error finding.

use std::collections::BTreeMap;

use crate::check::Outcome;
use crate::finding::{Finding, Severity};

/// Renders the outcome as JUnit XML.
pub fn render(outcome: &Outcome) -> String {
    let mut cases: BTreeMap<&str, (&str, Vec<&Finding>)> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for rule in &outcome.rules {
        cases.insert(&rule.id, (rule.kind, Vec::new()));
        order.push(&rule.id);
    }
    for finding in outcome.active() {
        if !cases.contains_key(finding.rule.as_str()) {
            order.push(&finding.rule);
        }
        cases
            .entry(&finding.rule)
            .or_insert((&finding.kind, Vec::new()))
            .1
            .push(finding);
    }
    let failed = |findings: &[&Finding]| findings.iter().any(|f| f.severity == Severity::Error);
    let failures = cases.values().filter(|(_, f)| failed(f)).count();
    let skipped = outcome.not_applicable.len();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"ssot-check\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"ssot-check\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n",
        order.len(),
        order.len()
    ));
    for id in order {
        let (kind, findings) = &cases[id];
        xml.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"ssot-check.{}\"",
            escape(id),
            escape(kind)
        ));
        if findings.is_empty() && outcome.not_applicable.iter().any(|n| n == id) {
            xml.push_str(">\n      <skipped message=\"its modules are not in the files checked\"/>\n    </testcase>\n");
            continue;
        }
        if findings.is_empty() {
            xml.push_str("/>\n");
            continue;
        }
        xml.push_str(">\n");
        let details: Vec<String> = findings
            .iter()
            .map(|f| {
                let at = f
                    .primary
                    .span
                    .map(|s| format!(":{}:{}", s.line, s.column))
                    .unwrap_or_default();
                format!("{}{at}: {}", f.primary.path, f.message)
            })
            .collect();
        let count = findings.len();
        let noun = if count == 1 { "finding" } else { "findings" };
        if failed(findings) {
            xml.push_str(&format!(
                "      <failure message=\"{count} {noun}\" type=\"{}\">{}</failure>\n",
                escape(kind),
                escape(&details.join("\n"))
            ));
        } else {
            xml.push_str(&format!(
                "      <system-out>{}</system-out>\n",
                escape(&details.join("\n"))
            ));
        }
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Escapes text for XML attributes and content.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            // XML 1.0 cannot carry other control characters at all, escaped or not.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => "\u{fffd}".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
