//! Inline suppressions: `// ssot-check: allow(rule-id, other-id) reason: why this is accepted` in Rust,
//! `# ssot-check: ...` in Python.
//!
//! Parsers drop comments, so they are read from the text (a comment opener inside a string literal is
//! not a comment: each frontend says where its comments are). A comment with code before it on its line
//! covers that line; a comment on a line of its own covers the next line that is not blank, a comment or
//! an attribute or decorator (the item it stands above).
//!
//! Layer invariant: reads text only.

use crate::facts::{Span, Suppression};

/// The marker that starts a suppression comment.
pub(crate) const MARKER: &str = "ssot-check:";

/// How a language writes comments, as far as suppressions care.
pub(crate) struct CommentSyntax {
    /// What opens a line comment.
    pub opener: &'static str,
    /// Characters after the opener that still belong to it (`///`, `//!`).
    pub opener_tail: &'static [char],
    /// How lines start that a suppression above an item skips (comments, attributes, decorators).
    pub skipped: &'static [&'static str],
}

/// Rust: `//` comments, above attributes.
pub(crate) const RUST: CommentSyntax = CommentSyntax {
    opener: "//",
    opener_tail: &['/', '!'],
    skipped: &["//", "#["],
};

/// Python: `#` comments, above decorators.
pub(crate) const PYTHON: CommentSyntax = CommentSyntax {
    opener: "#",
    opener_tail: &[],
    skipped: &["#", "@"],
};

/// Finds every suppression comment in a Rust text; `literals` are the byte ranges of its literals.
pub(crate) fn find(text: &str, literals: &[std::ops::Range<usize>]) -> Vec<Suppression> {
    find_with(text, &RUST, &|at| !literals.iter().any(|r| r.contains(&at)))
}

/// Finds every suppression comment in the text: `opens_comment(at)` says whether the opener at byte `at`
/// really starts a comment (it is not inside a string literal).
pub(crate) fn find_with(text: &str, syntax: &CommentSyntax, opens_comment: &dyn Fn(usize) -> bool) -> Vec<Suppression> {
    if !text.contains(MARKER) {
        return Vec::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut offset = 0;
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let line_start = offset;
        offset += line.len() + 1;
        let Some(comment_at) = line
            .match_indices(syntax.opener)
            .map(|(at, _)| at)
            .find(|at| opens_comment(line_start + at))
        else {
            continue;
        };
        let comment = line[comment_at + syntax.opener.len()..]
            .trim_start_matches(syntax.opener_tail)
            .trim();
        let Some(body) = comment.strip_prefix(MARKER) else {
            continue;
        };
        let code_before = !line[..comment_at].trim().is_empty();
        let target = if code_before {
            Some(index)
        } else {
            (index + 1..lines.len()).find(|&i| {
                let next = lines[i].trim();
                !(next.is_empty() || syntax.skipped.iter().any(|s| next.starts_with(s)))
            })
        };
        let (rules, reason, problem) = parse_body(body.trim());
        let start = line_start + comment_at;
        found.push(Suppression {
            span: Span {
                line: index as u32 + 1,
                column: line[..comment_at].chars().count() as u32 + 1,
                start,
                end: line_start + line.len(),
            },
            target_line: target.map(|t| t as u32 + 1),
            rules,
            reason,
            problem,
        });
    }
    found
}

/// `allow(a, b) reason: text` -> rules, reason, and what is wrong with it.
fn parse_body(body: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let Some(rest) = body.strip_prefix("allow(") else {
        return (Vec::new(), None, Some("expected `allow(rule-id) reason: ...`".into()));
    };
    let Some((list, after)) = rest.split_once(')') else {
        return (Vec::new(), None, Some("`allow(` is not closed".into()));
    };
    let rules: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if rules.is_empty() {
        return (rules, None, Some("`allow()` names no rule".into()));
    }
    let reason = after
        .trim()
        .strip_prefix("reason:")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let problem = reason
        .is_none()
        .then(|| "a suppression needs a reason: `reason: <why this is accepted>`".to_owned());
    (rules, reason, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_above_cover_the_item_and_trailing_comments_their_line() {
        let text = "// ssot-check: allow(one-router) reason: removed in the next release\n#[derive(Debug)]\n\npub struct MessageRouter;\nstruct B; // ssot-check: allow(a, b) reason: shim\n";
        let found = find(text, &[]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].target_line, Some(4));
        assert_eq!(found[0].rules, vec!["one-router"]);
        assert_eq!(found[0].reason.as_deref(), Some("removed in the next release"));
        assert_eq!(found[1].target_line, Some(5));
        assert_eq!(found[1].rules, vec!["a", "b"]);
        assert!(found.iter().all(|s| s.problem.is_none()));
    }

    #[test]
    fn a_suppression_without_a_reason_or_rule_is_a_problem() {
        let found = find(
            "// ssot-check: allow(x)\nfn f() {}\n// ssot-check: allow() reason: r\n// ssot-check: deny(x)\n",
            &[],
        );
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|s| s.problem.is_some()), "{found:?}");
    }

    #[test]
    fn ordinary_comments_are_not_suppressions() {
        assert!(
            find(
                "// ssot check: allow(x) reason: y\n/* ssot-check: allow(x) reason: y */\n",
                &[]
            )
            .is_empty()
        );
        let text = "let s = \"// ssot-check: allow(x) reason: y\";\n";
        let literal = 8..text.len() - 2;
        assert!(
            find(text, std::slice::from_ref(&literal)).is_empty(),
            "inside a string literal"
        );
    }
}
