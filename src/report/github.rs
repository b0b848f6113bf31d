//! GitHub Actions workflow commands: one `::error` or `::warning` annotation per counted finding, shown on
//! the pull request's diff, then a `::notice` with the summary.

use super::Summary;
use crate::check::Outcome;
use crate::finding::Severity;

/// Renders the outcome as workflow commands.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    for finding in outcome.active() {
        let level = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = vec![format!("file={}", property(&finding.primary.path))];
        if let Some(span) = finding.primary.span {
            properties.push(format!("line={}", span.line));
            properties.push(format!("col={}", span.column));
        }
        properties.push(format!("title={}", property(&format!("ssot-check {}", finding.rule))));
        let mut message = finding.message.clone();
        for related in &finding.related {
            let line = related.span.map(|s| format!(":{}", s.line)).unwrap_or_default();
            message.push_str(&format!("\n  also {}{line}: {}", related.path, related.label));
        }
        if let Some(help) = &finding.help {
            message.push_str(&format!("\n{help}"));
        }
        out.push_str(&format!("::{level} {}::{}\n", properties.join(","), data(&message)));
    }
    for key in &outcome.stale {
        let level = outcome.stale_level();
        let message = format!(
            "baseline entry `{}` ({}) no longer occurs; run `ssot-check baseline update`",
            key.symbol, key.rule
        );
        out.push_str(&format!(
            "::{level} file={},title=ssot-check stale baseline::{}\n",
            property(&key.path),
            data(&message)
        ));
    }
    let summary = Summary::of(outcome);
    out.push_str(&format!(
        "::notice title=ssot-check::{}\n",
        data(&format!("{}\n{}", summary.line(), summary.compliance.line()))
    ));
    out
}

/// Escapes a command's message.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a command's property value.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_expects() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
