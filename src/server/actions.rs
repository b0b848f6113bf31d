//! Code actions on findings: a finding's fix as a quick fix (the unsafe one labelled so), every safe
//! fix of a file as `source.fixAll.ssot-check`, a suppression comment with a reason to fill in, and a
//! way to the canonical definition of a duplicate.

use std::collections::HashMap;
use std::path::Path;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Command, Diagnostic, Range, TextEdit, Uri, WorkspaceEdit,
};

use super::diagnostics::{Origin, places};
use super::lines::{Encoding, Lines};
use crate::finding::{Finding, Fix};
use crate::fix;

/// The kind of the action that applies every safe fix of a file.
pub const FIX_ALL: &str = "source.fixAll.ssot-check";
/// The command that shows the canonical definition (arguments: its URI and range).
pub const SHOW_CANONICAL: &str = "ssot-check.showCanonical";
/// What a new suppression says until its author writes the reason.
pub const REASON_PLACEHOLDER: &str = "<why this is accepted>";

/// What a code action request is about.
pub struct Request<'a> {
    /// The file, absolute.
    pub path: &'a Path,
    /// Its URI, as the client named it.
    pub uri: &'a Uri,
    /// Its text now.
    pub text: &'a str,
    /// The range asked about.
    pub range: Range,
    /// The kinds asked for (`None`: all).
    pub only: Option<&'a [CodeActionKind]>,
    /// The diagnostics the client shows in the range.
    pub diagnostics: &'a [Diagnostic],
}

/// The code actions for `request`, given the run's findings; `root` is what reported paths are
/// relative to; `uri_of` names another file.
pub fn actions(
    request: &Request<'_>,
    findings: &[Finding],
    root: &Path,
    encoding: Encoding,
    uri_of: &dyn Fn(&Path) -> Option<Uri>,
) -> Vec<CodeActionOrCommand> {
    let lines = Lines::new(request.text, encoding);
    let wanted = |kind: &CodeActionKind| {
        request.only.is_none_or(|only| {
            only.iter().any(|asked| {
                kind.as_str() == asked.as_str() || kind.as_str().starts_with(&format!("{}.", asked.as_str()))
            })
        })
    };
    let in_file: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.is_active() && root.join(&f.primary.path) == request.path)
        .collect();
    let mut actions = Vec::new();
    for finding in findings.iter().filter(|f| f.is_active()) {
        for (place, location) in places(finding) {
            let Some(span) = location.span.filter(|_| root.join(&location.path) == request.path) else {
                continue;
            };
            let range = lines.range(span.start..span.end);
            if !touches(range, request.range) {
                continue;
            }
            let shown: Vec<Diagnostic> = request
                .diagnostics
                .iter()
                .filter(|d| {
                    d.data
                        .clone()
                        .and_then(|data| serde_json::from_value::<Origin>(data).ok())
                        .is_some_and(|o| o.fingerprint == finding.fingerprint() && o.place == place)
                })
                .cloned()
                .collect();
            let action = |title: String, edits: Vec<TextEdit>, preferred: bool| {
                CodeActionOrCommand::CodeAction(CodeAction {
                    title,
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: (!shown.is_empty()).then(|| shown.clone()),
                    edit: Some(edit_of(request.uri, edits)),
                    is_preferred: preferred.then_some(true),
                    ..CodeAction::default()
                })
            };
            if !wanted(&CodeActionKind::QUICKFIX) {
                continue;
            }
            if place == 0
                && let Some(Ok(edit)) = fix::edit_of(request.text, finding)
            {
                let title = match &finding.fix {
                    Some(Fix::Import { replacement }) => format!("Import from `{replacement}` instead"),
                    Some(Fix::ModuleImport { replacement, item }) => {
                        format!("Import `{replacement}` and name `{item}` alone instead of through this module")
                    }
                    _ => {
                        "Delete this `mod` declaration (unsafe: what still uses the module stops compiling)".to_owned()
                    }
                };
                let safe = finding.fix.as_ref().is_some_and(Fix::is_safe);
                actions.push(action(title, vec![text_edit(&lines, edit)], safe));
            }
            let line = lines.line(range.start.line).unwrap_or(0..0);
            let indent: String = request.text[line.clone()]
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            let comment = format!(
                "{indent}// ssot-check: allow({}) reason: {REASON_PLACEHOLDER}\n",
                finding.rule
            );
            actions.push(action(
                format!("Suppress `{}` here (write the reason)", finding.rule),
                vec![TextEdit::new(
                    Range::new(lines.position(line.start), lines.position(line.start)),
                    comment,
                )],
                false,
            ));
            if let Some(Fix::KeepDefinition { keep, path, span }) = &finding.fix
                && !(location.path == *path && span.start == location.span.map_or(usize::MAX, |s| s.start))
            {
                let target = root.join(path);
                let target_range = std::fs::read_to_string(&target)
                    .ok()
                    .map(|text| Lines::new(&text, encoding).range(span.start..span.end))
                    .unwrap_or_default();
                if let Some(target_uri) = uri_of(&target) {
                    actions.push(CodeActionOrCommand::Command(Command {
                        title: format!("Go to the canonical definition: {keep}"),
                        command: SHOW_CANONICAL.to_owned(),
                        arguments: Some(vec![
                            serde_json::json!(target_uri.as_str()),
                            serde_json::to_value(target_range).unwrap_or_default(),
                        ]),
                    }));
                }
            }
        }
    }
    let fix_all = CodeActionKind::from(FIX_ALL);
    if wanted(&fix_all) {
        let safe: Vec<&Finding> = in_file
            .into_iter()
            .filter(|f| f.fix.as_ref().is_some_and(Fix::is_safe))
            .collect();
        let (edits, _) = fix::edits_in(request.text, &safe);
        if !edits.is_empty() {
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Apply every safe ssot-check fix ({})", edits.len()),
                kind: Some(fix_all),
                edit: Some(edit_of(
                    request.uri,
                    edits.into_iter().map(|e| text_edit(&lines, e)).collect(),
                )),
                ..CodeAction::default()
            }));
        }
    }
    actions
}

/// Whether two ranges overlap or touch (a cursor at a diagnostic's edge is on it).
fn touches(a: Range, b: Range) -> bool {
    a.start <= b.end && b.start <= a.end
}

fn text_edit(lines: &Lines<'_>, edit: fix::Edit) -> TextEdit {
    TextEdit::new(lines.range(edit.range), edit.text)
}

fn edit_of(uri: &Uri, edits: Vec<TextEdit>) -> WorkspaceEdit {
    WorkspaceEdit {
        changes: Some(HashMap::from([(uri.clone(), edits)])),
        ..WorkspaceEdit::default()
    }
}
