//! Hover: on a rule id in a suppression comment (`// ssot-check: allow(one-router) reason: ...`), the
//! rule it names; on a finding, its rule and what its kind checks (the `explain` text).

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use super::lines::{Encoding, Lines};
use crate::rules::{self, RuleMeta};

/// What is shown on hover at `position` in `text`: a rule named in a suppression comment there, else
/// the rules of the findings whose ranges (`findings_at`: rule ids of the findings there) hold it.
pub fn hover(
    text: &str,
    position: Position,
    encoding: Encoding,
    rules: &[RuleMeta],
    findings_at: &[String],
) -> Option<Hover> {
    let lines = Lines::new(text, encoding);
    let offset = lines.offset(position);
    let line = lines.line(position.line)?;
    let markdown = match suppressed_rule_at(&text[line.clone()], offset - line.start) {
        Some(id) => Some(match rules.iter().find(|r| r.id == id) {
            Some(rule) => describe(rule, false),
            None => format!("`{id}` is not a rule of the loaded rule files (`ssot-check rules` lists them)."),
        }),
        None => {
            let shown: Vec<String> = rules
                .iter()
                .filter(|r| findings_at.contains(&r.id))
                .map(|r| describe(r, true))
                .collect();
            (!shown.is_empty()).then(|| shown.join("\n\n---\n\n"))
        }
    }?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: markdown,
        }),
        range: None,
    })
}

/// The rule id under `at` (a byte offset in `line`) when it is in the `allow(...)` of a suppression
/// comment.
fn suppressed_rule_at(line: &str, at: usize) -> Option<&str> {
    let comment = line.find("//")?;
    let marker = comment + line[comment..].find("ssot-check:")?;
    let open = marker + line[marker..].find("allow(")? + "allow(".len();
    let close = open + line[open..].find(')')?;
    if !(open..=close).contains(&at) {
        return None;
    }
    let mut start = open;
    for id in line[open..close].split(',') {
        let end = start + id.len();
        if (start..=end).contains(&at) && !id.trim().is_empty() {
            return Some(id.trim());
        }
        start = end + 1;
    }
    None
}

/// A rule as Markdown: id, kind, severity, why, where defined; with its kind's documentation when
/// `explain`.
fn describe(rule: &RuleMeta, explain: bool) -> String {
    let mut text = format!(
        "**{}** ({}, {})\n\n{}\n\nDefined at `{}`.",
        rule.id,
        rule.kind,
        rule.severity.as_str(),
        rule.message,
        rule.defined_at
    );
    if let Some(kind) = rules::kind(rule.kind) {
        text.push_str(&format!("\n\n`{}`: {}.", kind.name, kind.summary));
        if explain {
            text.push_str(&format!("\n\n{}", kind.docs.trim_end()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_under_the_cursor_in_an_allow_list() {
        let line = "struct B; // ssot-check: allow(one-router, no-mpsc) reason: shim";
        let at = |needle: &str| line.find(needle).expect("needle");
        assert_eq!(suppressed_rule_at(line, at("router")), Some("one-router"));
        assert_eq!(suppressed_rule_at(line, at("mpsc")), Some("no-mpsc"));
        assert_eq!(suppressed_rule_at(line, at("reason")), None);
        assert_eq!(suppressed_rule_at(line, at("struct")), None);
        assert_eq!(suppressed_rule_at("allow(one-router)", 8), None);
    }
}
