//! The baseline ratchet: the findings accepted on the day it was written, keyed by identity (rule, file,
//! symbol), never by line. A run with a baseline fails only on what is not in it, and reports entries
//! that no longer occur as stale, so the file can only shrink.
//!
//! The file holds one entry per line, sorted, so parallel branches that each fix something merge cleanly.
//! `.toml` (the default) or `.json`, by extension.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::finding::{BaselineKey, Finding};

/// The default baseline file.
pub const DEFAULT_FILE: &str = ".ssot-baseline.toml";

/// The baseline file's format version.
const VERSION: u32 = 1;

/// Why a baseline file could not be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BaselineError {
    /// The file could not be read or written.
    #[error("cannot use baseline file `{path}`: {source}")]
    #[diagnostic(code(ssot_check::baseline::io), help("write one with `ssot-check baseline write`"))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The file is not a baseline.
    #[error("`{path}` is not a valid baseline: {message}")]
    #[diagnostic(code(ssot_check::baseline::invalid))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A set of accepted findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// The accepted keys.
    pub entries: BTreeSet<BaselineKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    entries: Vec<BaselineKey>,
}

/// What applying a baseline found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Entries that no longer occur (fixed, or moved to another file).
    pub stale: Vec<BaselineKey>,
    /// Keys of findings that are not in the baseline.
    pub new: Vec<BaselineKey>,
}

impl Baseline {
    /// The baseline accepting every unsuppressed finding.
    pub fn of(findings: &[Finding]) -> Self {
        Baseline {
            entries: current_keys(findings),
        }
    }

    /// Reads a baseline file (`.json` by extension, else TOML).
    pub fn read(path: &Path) -> Result<Self, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| BaselineError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: File = if is_json(path) {
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| invalid(e.to_string()))?
        };
        if file.version != VERSION {
            return Err(invalid(format!(
                "version {} is not supported (expected {VERSION})",
                file.version
            )));
        }
        Ok(Baseline {
            entries: file.entries.into_iter().collect(),
        })
    }

    /// Writes the baseline, one sorted entry per line.
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let text = if is_json(path) { self.to_json() } else { self.to_toml() };
        std::fs::write(path, text).map_err(|source| BaselineError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    fn to_toml(&self) -> String {
        let mut text = String::from(
            "# ssot-check baseline: findings accepted when it was written. `ssot-check --baseline` fails only\n\
             # on findings not listed here; `ssot-check baseline update` removes entries that were fixed.\n",
        );
        text.push_str(&format!("version = {VERSION}\nentries = [\n"));
        for key in &self.entries {
            let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
            text.push_str(&format!(
                "  {{ rule = {}, path = {}, symbol = {} }},\n",
                quote(&key.rule),
                quote(&key.path),
                quote(&key.symbol)
            ));
        }
        text.push_str("]\n");
        text
    }

    fn to_json(&self) -> String {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|k| format!("    {}", serde_json::json!(k)))
            .collect();
        let separator = if lines.is_empty() { "" } else { "\n" };
        format!(
            "{{\n  \"version\": {VERSION},\n  \"entries\": [{separator}{}{separator}  ]\n}}\n",
            lines.join(",\n")
        )
    }

    /// Marks findings whose every key is accepted as baselined, and compares.
    pub fn apply(&self, findings: &mut [Finding]) -> Comparison {
        let current = current_keys(findings);
        let mut new = Vec::new();
        for finding in findings.iter_mut().filter(|f| f.suppression.is_none()) {
            let keys = finding.baseline_keys();
            let missing: Vec<&BaselineKey> = keys.iter().filter(|k| !self.entries.contains(k)).collect();
            finding.baselined = missing.is_empty();
            if !finding.baselined && missing.len() < keys.len() {
                let members: Vec<&str> = missing.iter().map(|k| k.symbol.as_str()).collect();
                finding.message = format!(
                    "{} (new since the baseline: `{}`)",
                    finding.message,
                    members.join("`, `")
                );
            }
            new.extend(missing.into_iter().cloned());
        }
        new.sort();
        new.dedup();
        let stale = self.entries.difference(&current).cloned().collect();
        Comparison { stale, new }
    }
}

fn current_keys(findings: &[Finding]) -> BTreeSet<BaselineKey> {
    findings
        .iter()
        .filter(|f| f.suppression.is_none())
        .flat_map(Finding::baseline_keys)
        .collect()
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Severity};

    fn finding(rule: &str, symbol: &str, members: &[&str]) -> Finding {
        let location = |member: Option<&str>| Location {
            path: "src/a.rs".into(),
            span: None,
            label: String::new(),
            member: member.map(str::to_owned),
        };
        let mut locations = members.iter().map(|m| location(Some(m)));
        Finding {
            rule: rule.into(),
            kind: "k".into(),
            severity: Severity::Error,
            message: "m".into(),
            help: None,
            symbol: symbol.into(),
            primary: locations.next().unwrap_or_else(|| location(None)),
            related: locations.collect(),
            suppression: None,
            baselined: false,
            fix: None,
        }
    }

    #[test]
    fn round_trips_in_both_formats_one_entry_per_line() {
        let baseline = Baseline::of(&[finding("r", "a::X in b", &[]), finding("dup", "dup", &["a::R", "b::R"])]);
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["b.toml", "b.json"] {
            let path = dir.path().join(name);
            baseline.write(&path).expect("writes");
            assert_eq!(Baseline::read(&path).expect("reads"), baseline, "{name}");
            let text = std::fs::read_to_string(&path).expect("text");
            assert_eq!(
                text.lines()
                    .filter(|l| l.contains("\"rule\"") || l.contains("rule ="))
                    .count(),
                3,
                "{text}"
            );
        }
    }

    #[test]
    fn a_new_member_is_not_hidden_by_a_fixed_one() {
        let baseline = Baseline::of(&[finding("dup", "dup", &["a::R", "b::R", "c::R"])]);
        let mut now = [finding("dup", "dup", &["a::R", "b::R", "d::R"])];
        let comparison = baseline.apply(&mut now);
        assert!(!now[0].baselined);
        assert!(
            now[0].message.contains("new since the baseline: `d::R`"),
            "{}",
            now[0].message
        );
        assert_eq!(
            comparison.stale.iter().map(|k| k.symbol.as_str()).collect::<Vec<_>>(),
            vec!["c::R"]
        );
        assert_eq!(comparison.new.len(), 1);
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.toml");
        std::fs::write(&path, "version = 9\n").expect("write");
        assert!(
            Baseline::read(&path)
                .expect_err("version")
                .to_string()
                .contains("version 9")
        );
        std::fs::write(&path, "entries = 3\n").expect("write");
        assert!(Baseline::read(&path).is_err());
        assert!(Baseline::read(&dir.path().join("missing.toml")).is_err());
    }
}
