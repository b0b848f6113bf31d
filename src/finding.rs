//! Findings: what a rule reports, as data. Reports render them; the exit code counts them.

use serde::Serialize;

use crate::facts::Span;

/// How much a finding matters: errors fail the run (exit 1), warnings are reported only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the run.
    #[default]
    Error,
    /// Reported, does not fail the run.
    Warning,
}

impl Severity {
    /// The name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A place in a file, with what it has to do with the finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// File path as reported (relative, `/`-separated).
    pub path: String,
    /// Where in the file; `None` for the file as a whole.
    pub span: Option<Span>,
    /// What this place is ("canonical definition", "also defined here").
    pub label: String,
    /// For a finding about several things (the definitions of a duplicate, the places handling a
    /// variant): which one this is. Each is its own baseline entry, so a new one is never hidden by a
    /// fixed one.
    pub member: Option<String>,
}

/// One violation of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The id of the rule (or of the built-in check, such as `parse-error`).
    pub rule: String,
    /// The rule kind.
    pub kind: String,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, specifically.
    pub message: String,
    /// What to do about it: the rule's own message and any replacement it names.
    pub help: Option<String>,
    /// The identity of what is wrong (a definition path, an import path and its module), without lines.
    pub symbol: String,
    /// Where to look first.
    pub primary: Location,
    /// Every other place involved (the other definitions of a duplicate).
    pub related: Vec<Location>,
    /// The justification of an inline suppression that covers this finding.
    pub suppression: Option<String>,
    /// Every baseline key of this finding is in the baseline in use.
    pub baselined: bool,
    /// A rewrite that resolves the finding, when the rule can name one (`--fix`).
    #[serde(skip)]
    pub fix: Option<Fix>,
}

/// A rewrite that resolves a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fix {
    /// Safe: the banned import at the finding's primary span is imported from `replacement` instead,
    /// under the same name (a rename is kept). `replacement` is written as the file should write it
    /// (`crate::ws::manager::create_websocket_manager`).
    Import {
        /// The replacement's path.
        replacement: String,
    },
    /// Safe: the banned module imported at the finding's primary span is used in the file only to
    /// name `item` (`module::item(..)`), which `replacement` is: the `use` imports the replacement, and
    /// each `module::item` becomes `item`.
    ModuleImport {
        /// The replacement's path, written as the file should write it.
        replacement: String,
        /// The item's name (the replacement's last segment).
        item: String,
    },
    /// Unsafe (`--unsafe-fixes`): the `mod` declaration at the finding's primary span is deleted. The
    /// code that still uses the module stops compiling until it is moved to the replacement.
    DeleteModDeclaration,
    /// Display only, never applied: which definition of a duplicate to keep (the canonical one); which
    /// callers to move is a judgement the tool leaves to a person.
    KeepDefinition {
        /// The definition to keep, as `path:line` and what it is.
        keep: String,
        /// Its file, as reported.
        path: String,
        /// Where it is in the file.
        span: crate::facts::Span,
    },
}

impl Fix {
    /// Whether `--fix` applies it without `--unsafe-fixes`.
    pub fn is_safe(&self) -> bool {
        matches!(self, Fix::Import { .. } | Fix::ModuleImport { .. })
    }
}

/// What identifies one accepted finding (or one member of a multi-place finding) in a baseline: never a
/// line number, so edits above a finding change nothing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct BaselineKey {
    /// The rule id.
    pub rule: String,
    /// The file.
    pub path: String,
    /// The symbol identity (a definition path, `import in module`, a place handling a variant).
    pub symbol: String,
}

impl Finding {
    /// A fingerprint that survives edits elsewhere in the file: rule, symbol and file, never lines.
    pub fn fingerprint(&self) -> String {
        let key = format!("{}\0{}\0{}", self.rule, self.symbol, self.primary.path);
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
    }

    /// Whether the finding is about several things (the definitions of a duplicate, the places handling
    /// a variant), each its own member.
    pub fn has_members(&self) -> bool {
        std::iter::once(&self.primary)
            .chain(&self.related)
            .any(|l| l.member.is_some())
    }

    /// The baseline keys: one per member location if the finding has members, else one for the finding.
    pub fn baseline_keys(&self) -> Vec<BaselineKey> {
        let members: Vec<BaselineKey> = std::iter::once(&self.primary)
            .chain(&self.related)
            .filter_map(|l| {
                let member = l.member.as_ref()?;
                Some(BaselineKey {
                    rule: self.rule.clone(),
                    path: l.path.clone(),
                    symbol: member.clone(),
                })
            })
            .collect();
        if members.is_empty() {
            vec![BaselineKey {
                rule: self.rule.clone(),
                path: self.primary.path.clone(),
                symbol: self.symbol.clone(),
            }]
        } else {
            members
        }
    }

    /// Whether the finding counts: not suppressed and not accepted by the baseline.
    pub fn is_active(&self) -> bool {
        self.suppression.is_none() && !self.baselined
    }

    /// The order findings are reported in: path, line, column, rule, then the rest for ties.
    pub fn sort_key(&self) -> (&str, u32, u32, &str, &str) {
        let span = self.primary.span.unwrap_or_default();
        (&self.primary.path, span.line, span.column, &self.rule, &self.symbol)
    }
}

/// Sorts findings into report order, so output is the same whatever the thread count.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()).then_with(|| a.message.cmp(&b.message)));
}

/// Writes a finding's paths in the notation of the language of their files: Python's dotted paths in
/// what is said of a `.py` file (facts are `::`-joined whatever the language); the message follows the
/// primary location's file. A Python finding has no automatic fix: the rewrites are Rust's.
pub fn in_file_notation(finding: &mut Finding) {
    use crate::facts::Language;
    let write = |path: &str, text: &mut String| {
        if let Some(language @ Language::Python) = Language::of_path(path)
            && text.contains("::")
        {
            *text = language.notation(text).into_owned();
        }
    };
    let primary = finding.primary.path.clone();
    write(&primary, &mut finding.message);
    write(&primary, &mut finding.symbol);
    for location in std::iter::once(&mut finding.primary).chain(finding.related.iter_mut()) {
        write(&location.path, &mut location.label);
        if let Some(member) = &mut location.member {
            write(&location.path, member);
        }
    }
    if Language::of_path(&primary) == Some(Language::Python) {
        finding.fix = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u32) -> Finding {
        Finding {
            rule: "r".into(),
            kind: "k".into(),
            severity: Severity::Error,
            message: "m".into(),
            help: None,
            symbol: "a::B".into(),
            primary: Location {
                path: "src/a.rs".into(),
                span: Some(Span {
                    line,
                    column: 1,
                    start: 0,
                    end: 1,
                }),
                label: String::new(),
                member: None,
            },
            related: Vec::new(),
            suppression: None,
            baselined: false,
            fix: None,
        }
    }

    #[test]
    fn fingerprints_ignore_lines() {
        assert_eq!(finding(1).fingerprint(), finding(40).fingerprint());
        let mut other = finding(1);
        other.symbol = "a::C".into();
        assert_ne!(finding(1).fingerprint(), other.fingerprint());
    }
}
