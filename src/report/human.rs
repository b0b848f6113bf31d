//! The human format: one miette diagnostic per finding, with the source snippet and a label at every
//! location (other files' locations as related diagnostics with their own snippets), then the summary.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use super::Summary;
use crate::check::Outcome;
use crate::finding::{Finding, Location, Severity};

/// Renders findings and the summary line; `color` picks the themed or the plain renderer.
pub fn render(outcome: &Outcome, base: &Path, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(110)
        .with_links(false);
    let mut sources = Sources {
        base,
        texts: HashMap::new(),
    };
    let mut out = String::new();
    for finding in outcome.active() {
        let diagnostic = FindingDiagnostic::new(finding, &mut sources);
        if handler.render_report(&mut out, &diagnostic).is_err() {
            out.push_str(&format!("{}: {}\n", finding.primary.path, finding.message));
        }
        out.push('\n');
    }
    for key in &outcome.stale {
        let level = outcome.stale_level();
        out.push_str(&format!(
            "{level}[stale-baseline]: `{}` in {} ({}) no longer occurs; remove it with `ssot-check baseline update`\n",
            key.symbol, key.path, key.rule
        ));
    }
    if !outcome.stale.is_empty() {
        out.push('\n');
    }
    for gap in outcome.unresolved.iter().take(SHOWN_UNRESOLVED) {
        out.push_str(&format!(
            "note[unresolved-path]: `{}` at {}:{} names nothing known in scope\n",
            gap.path, gap.file, gap.line
        ));
    }
    if outcome.unresolved.len() > SHOWN_UNRESOLVED {
        out.push_str(&format!(
            "note[unresolved-path]: and {} more (all in `--format json`)\n",
            outcome.unresolved.len() - SHOWN_UNRESOLVED
        ));
    }
    let mut unexpanded: Vec<(&String, &usize)> = outcome.unexpanded_macros.iter().collect();
    unexpanded.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = unexpanded
        .iter()
        .take(SHOWN_UNEXPANDED)
        .map(|(name, count)| format!("`{name}!` ×{count}"))
        .collect();
    if !shown.is_empty() {
        let more = match unexpanded.len().saturating_sub(SHOWN_UNEXPANDED) {
            0 => String::new(),
            n => format!(" and {n} more macros (all in `--format json`)"),
        };
        out.push_str(&format!(
            "note[unexpanded-macro]: not seen into: {}{more}\n",
            shown.join(", ")
        ));
    }
    out.push_str(&Summary::of(outcome).lines());
    out
}

/// How many macros not seen into the human format names before counting the rest.
const SHOWN_UNEXPANDED: usize = 8;

/// How many unresolved paths the human format lists before counting the rest.
const SHOWN_UNRESOLVED: usize = 5;

/// Source texts, read once per file when a finding needs a snippet.
struct Sources<'b> {
    base: &'b Path,
    texts: HashMap<String, Option<String>>,
}

impl Sources<'_> {
    fn get(&mut self, path: &str) -> Option<String> {
        self.texts
            .entry(path.to_owned())
            .or_insert_with(|| {
                std::fs::read(self.base.join(path))
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .clone()
    }
}

/// A finding (or the part of it in one file) as a miette diagnostic.
#[derive(Debug)]
struct FindingDiagnostic {
    message: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<FindingDiagnostic>,
}

impl FindingDiagnostic {
    fn new(finding: &Finding, sources: &mut Sources<'_>) -> Self {
        let severity = match finding.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let mut primary = Self::for_file(&finding.primary.path, finding.message.clone(), severity, sources);
        primary.code = Some(finding.rule.clone());
        primary.help = finding.help.clone();
        primary.add(&finding.primary, true);
        let mut others: Vec<FindingDiagnostic> = Vec::new();
        for location in &finding.related {
            if location.path == finding.primary.path {
                primary.add(location, false);
                continue;
            }
            let position = others
                .iter()
                .position(|o| o.source.as_ref().is_some_and(|s| s.name() == location.path));
            let other = match position {
                Some(i) => &mut others[i],
                None => {
                    let message = format!("also in {}", location.path);
                    others.push(Self::for_file(
                        &location.path,
                        message,
                        miette::Severity::Advice,
                        sources,
                    ));
                    others.last_mut().expect("just pushed")
                }
            };
            other.add(location, false);
        }
        primary.related = others;
        primary
    }

    fn for_file(path: &str, message: String, severity: miette::Severity, sources: &mut Sources<'_>) -> Self {
        FindingDiagnostic {
            message,
            code: None,
            severity,
            help: None,
            source: sources.get(path).map(|text| NamedSource::new(path, text)),
            labels: Vec::new(),
            related: Vec::new(),
        }
    }

    fn add(&mut self, location: &Location, primary: bool) {
        let (Some(span), Some(source)) = (location.span, &self.source) else {
            // A whole file (a module file, an unreadable path): say so instead of pointing into it.
            if !primary && !location.label.is_empty() {
                self.message = format!("{}: {}", location.label, location.path);
            }
            return;
        };
        let text = source.inner();
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(span.start)).max(start);
        let label = Some(location.label.clone()).filter(|l| !l.is_empty());
        self.labels.push(if primary {
            LabeledSpan::new_primary_with_span(label, (start, end - start))
        } else {
            LabeledSpan::new_with_span(label, (start, end - start))
        });
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

impl fmt::Display for FindingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FindingDiagnostic {}

impl Diagnostic for FindingDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.as_ref().map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        (!self.related.is_empty()).then(|| {
            Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)) as Box<dyn Iterator<Item = &dyn Diagnostic>>
        })
    }
}
