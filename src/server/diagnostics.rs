//! Findings, and mistakes in rule files, as editor diagnostics, by file. A finding about several places
//! (the definitions of a duplicate, the places handling one variant) is shown at each of them, each
//! pointing at the others, so whichever file is open shows it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_types::{
    CodeDescription, Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Range,
};

use super::lines::{Encoding, Lines};
use super::uris::uri_of;
use crate::config::{ConfigError, InvalidRules};
use crate::finding::{self, Finding, Fix, Severity};
use crate::rules::RuleMeta;

/// What a diagnostic says of itself as `source`.
pub const SOURCE: &str = "ssot-check";

/// Diagnostics by absolute path.
pub type ByFile = HashMap<PathBuf, Vec<Diagnostic>>;

/// Which finding, and which of its places, a diagnostic shows (its `data`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// 0 for the primary place, `n` for the `n`th related one.
    pub place: usize,
}

/// A finding's places: the primary one and each other member of the group, with its place number.
pub fn places(finding: &Finding) -> impl Iterator<Item = (usize, &finding::Location)> {
    std::iter::once((0, &finding.primary)).chain(
        finding
            .related
            .iter()
            .enumerate()
            .filter(|(_, location)| location.member.is_some())
            .map(|(i, location)| (i + 1, location)),
    )
}

/// The diagnostics of each finding (in order): one at each place it involves, with that place's file.
/// `root` is what reported paths are relative to, `text` gives a file's text (to place ranges in the
/// editor's encoding).
pub fn of_findings(
    active: &[&Finding],
    rules: &[RuleMeta],
    root: &Path,
    text: &dyn Fn(&Path) -> Option<String>,
    encoding: Encoding,
) -> Vec<Vec<(PathBuf, Diagnostic)>> {
    // Each file is read, and its lines indexed, once.
    let mut texts: HashMap<PathBuf, Option<String>> = HashMap::new();
    for finding in active {
        for (_, location) in places(finding) {
            let path = root.join(&location.path);
            if location.span.is_some() && !texts.contains_key(&path) {
                let read = text(&path);
                texts.insert(path, read);
            }
        }
    }
    let lines: HashMap<&Path, Lines<'_>> = texts
        .iter()
        .filter_map(|(path, text)| Some((path.as_path(), Lines::new(text.as_deref()?, encoding))))
        .collect();
    let range_of = |location: &finding::Location| -> (PathBuf, Range) {
        let path = root.join(&location.path);
        let Some(span) = location.span else {
            return (path, Range::default());
        };
        let range = match lines.get(path.as_path()) {
            Some(lines) => lines.range(span.start..span.end),
            // Unreadable now: the line and column the analyzer counted.
            None => {
                let at = lsp_types::Position::new(span.line.saturating_sub(1), span.column.saturating_sub(1));
                Range::new(at, at)
            }
        };
        (path, range)
    };
    let mut uris: HashMap<PathBuf, Option<lsp_types::Uri>> = HashMap::new();
    let mut uri_of = |path: &Path| uris.entry(path.to_path_buf()).or_insert_with(|| uri_of(path)).clone();
    let mut converted = Vec::with_capacity(active.len());
    for finding in active {
        let mut diagnostics = Vec::new();
        let fingerprint = finding.fingerprint();
        let located: Vec<(usize, &finding::Location, PathBuf, Range)> = places(finding)
            .map(|(place, location)| {
                let (path, range) = range_of(location);
                (place, location, path, range)
            })
            .collect();
        let canonical = match &finding.fix {
            Some(Fix::KeepDefinition { path, span, .. }) => Some((path.as_str(), span.start)),
            _ => None,
        };
        let href = rules
            .iter()
            .find(|r| r.id == finding.rule)
            .and_then(|r| uri_of(&root.join(r.defined_at.rsplit_once(':').map_or(&*r.defined_at, |(file, _)| file))))
            .map(|href| CodeDescription { href });
        let located: Vec<(usize, &finding::Location, PathBuf, Range, Option<lsp_types::Uri>)> = located
            .into_iter()
            .map(|(place, location, path, range)| {
                let uri = uri_of(&path);
                (place, location, path, range, uri)
            })
            .collect();
        for (place, _, path, range, _) in &located {
            let related = located
                .iter()
                .filter(|(other, ..)| other != place)
                .filter_map(|(_, other, _, other_range, other_uri)| {
                    let is_canonical = canonical
                        .is_some_and(|(p, start)| other.path == p && other.span.is_some_and(|s| s.start == start));
                    let message = match is_canonical {
                        true => format!("{} (canonical: keep this one)", other.label),
                        false => other.label.clone(),
                    };
                    Some(DiagnosticRelatedInformation {
                        location: Location::new(other_uri.clone()?, *other_range),
                        message,
                    })
                })
                .collect::<Vec<_>>();
            let message = match &finding.help {
                Some(help) => format!("{}\n{help}", finding.message),
                None => finding.message.clone(),
            };
            diagnostics.push((
                path.clone(),
                Diagnostic {
                    range: *range,
                    severity: Some(match finding.severity {
                        Severity::Error => DiagnosticSeverity::ERROR,
                        Severity::Warning => DiagnosticSeverity::WARNING,
                    }),
                    code: Some(NumberOrString::String(finding.rule.clone())),
                    code_description: href.clone(),
                    source: Some(SOURCE.to_owned()),
                    message,
                    related_information: (!related.is_empty()).then_some(related),
                    tags: None,
                    data: serde_json::to_value(Origin {
                        fingerprint: fingerprint.clone(),
                        place: *place,
                    })
                    .ok(),
                },
            ));
        }
        converted.push(diagnostics);
    }
    converted
}

/// The diagnostics of a rule set that does not load, on the rule files themselves (a mistake with no
/// place, such as a missing file, on `fallback`).
pub fn of_config_error(error: &ConfigError, root: &Path, fallback: &Path, encoding: Encoding) -> ByFile {
    let mut by_file = ByFile::new();
    let mistakes: Vec<&InvalidRules> = match error {
        ConfigError::Invalid(one) => vec![one],
        ConfigError::Several(set) => set.mistakes.iter().collect(),
        other => {
            by_file.entry(fallback.to_path_buf()).or_default().push(Diagnostic {
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some(SOURCE.to_owned()),
                message: other.to_string(),
                ..Diagnostic::default()
            });
            return by_file;
        }
    };
    for mistake in mistakes {
        let text = mistake.src.inner();
        let start = mistake.span.offset();
        let range = Lines::new(text, encoding).range(start..start + mistake.span.len());
        let message = match &mistake.help {
            Some(help) => format!("{}: {}\nhelp: {help}", mistake.message, mistake.label),
            None => format!("{}: {}", mistake.message, mistake.label),
        };
        by_file
            .entry(root.join(mistake.src.name()))
            .or_default()
            .push(Diagnostic {
                range,
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some(SOURCE.to_owned()),
                message,
                ..Diagnostic::default()
            });
    }
    by_file
}
