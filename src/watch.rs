//! `--watch`: what to wait for and what to say. The watcher waits for a change to a Rust, Python or TOML
//! file under the checked paths (debounced, so a save that writes several times is one change, and an
//! event for a file that still holds what was last reported is none); the
//! comparison says which findings a re-check added and which it resolved, so a developer sees what the
//! edit did instead of the whole report again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::finding::Finding;

/// How long the file system must be quiet before a change is acted on.
const QUIET: Duration = Duration::from_millis(200);

/// Why watching stopped.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WatchError {
    /// The system's file watcher refused.
    #[error("cannot watch {path}: {message}")]
    Watch {
        /// What was to be watched.
        path: String,
        /// What the watcher said.
        message: String,
    },
    /// The watcher stopped sending events.
    #[error("the file watcher stopped")]
    Stopped,
}

/// Waits for changes to the files a check reads.
pub struct ChangeWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    events: mpsc::Receiver<DebounceEventResult>,
    /// What each changed file held when it was last reported (`None`: absent): an event for a file
    /// that still holds it (a save's second write reported late, under load) is not a change.
    reported: std::collections::HashMap<PathBuf, Option<u64>>,
}

impl ChangeWatcher {
    /// Watches `paths` (files or folders, recursively).
    pub fn start(paths: &[PathBuf]) -> Result<Self, WatchError> {
        let (sender, events) = mpsc::channel();
        let failed = |path: &Path, error: &dyn std::fmt::Display| WatchError::Watch {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        let mut debouncer = new_debouncer(QUIET, None, sender).map_err(|e| failed(Path::new("."), &e))?;
        for path in paths {
            debouncer
                .watch(path, RecursiveMode::Recursive)
                .map_err(|e| failed(path, &e))?;
        }
        Ok(ChangeWatcher {
            _debouncer: debouncer,
            events,
            reported: std::collections::HashMap::new(),
        })
    }

    /// Blocks until Rust, Python or TOML files change (build output and VCS folders ignored); the files
    /// that did.
    pub fn next_change(&mut self) -> Result<Vec<PathBuf>, WatchError> {
        loop {
            let events = match self.events.recv().map_err(|_| WatchError::Stopped)? {
                Ok(events) => events,
                // A lost event (the system's queue overflowed) is a change of unknown files.
                Err(_) => return Ok(Vec::new()),
            };
            // Opening and reading a file is an event too (a check reads every file): only changes count.
            let changed: BTreeSet<PathBuf> = events
                .into_iter()
                .filter(|event| !matches!(event.event.kind, EventKind::Access(_)))
                .flat_map(|event| event.event.paths)
                .filter(|path| is_checked_input(path))
                .filter(|path| {
                    let content = std::fs::read(path).ok().map(|bytes| xxhash_rust::xxh3::xxh3_64(&bytes));
                    self.reported.insert(path.clone(), content) != Some(content)
                })
                .collect();
            if !changed.is_empty() {
                return Ok(changed.into_iter().collect());
            }
        }
    }
}

/// Whether a changed file can change a check: Rust and Python sources, rule files, manifests and
/// Python project files, outside build output and version control.
fn is_checked_input(path: &Path) -> bool {
    let ignored = path
        .components()
        .any(|c| matches!(c.as_os_str().to_str(), Some("target" | ".git" | ".jj")));
    let input = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("rs" | "py" | "toml" | "cfg")
    );
    input && !ignored
}

/// Which active findings a re-check added and which it resolved. A finding is the same when its rule,
/// its subject and its file are: moving it within its file (an edit above it) changes nothing.
#[derive(Debug, Default)]
pub struct Changes {
    /// Active now, not before.
    pub new: Vec<Finding>,
    /// Active before, not now.
    pub resolved: Vec<Finding>,
}

impl Changes {
    /// Compares the findings of two runs.
    pub fn between(before: &[Finding], after: &[Finding]) -> Self {
        let identity = |f: &Finding| (f.rule.clone(), f.symbol.clone(), f.primary.path.clone());
        let active =
            |findings: &[Finding]| -> BTreeSet<_> { findings.iter().filter(|f| f.is_active()).map(identity).collect() };
        let (was, is) = (active(before), active(after));
        Changes {
            new: after
                .iter()
                .filter(|f| f.is_active() && !was.contains(&identity(f)))
                .cloned()
                .collect(),
            resolved: before
                .iter()
                .filter(|f| f.is_active() && !is.contains(&identity(f)))
                .cloned()
                .collect(),
        }
    }

    /// Whether the re-check changed nothing.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.resolved.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Severity};

    fn finding(symbol: &str, path: &str, line: u32, baselined: bool) -> Finding {
        Finding {
            rule: "one-message-handler".into(),
            kind: "single-definition".into(),
            severity: Severity::Error,
            message: format!("{symbol} twice"),
            help: None,
            symbol: symbol.into(),
            primary: Location {
                path: path.into(),
                span: None,
                label: format!("line {line}"),
                member: None,
            },
            related: Vec::new(),
            suppression: None,
            baselined,
            fix: None,
        }
    }

    /// A finding that only moved in its file is the same finding; accepted ones are never news.
    #[test]
    fn changes_are_new_and_resolved_active_findings() {
        let before = [
            finding("a::H", "src/a.rs", 3, false),
            finding("b::H", "src/b.rs", 1, false),
        ];
        let after = [
            finding("a::H", "src/a.rs", 9, false),
            finding("c::H", "src/c.rs", 1, false),
            finding("d::H", "src/d.rs", 1, true),
        ];
        let changes = Changes::between(&before, &after);
        let symbols = |findings: &[Finding]| findings.iter().map(|f| f.symbol.clone()).collect::<Vec<_>>();
        assert_eq!(symbols(&changes.new), ["c::H"]);
        assert_eq!(symbols(&changes.resolved), ["b::H"]);
        assert!(Changes::between(&after, &after).is_empty());
    }

    #[test]
    fn only_rust_and_toml_files_outside_build_output_count() {
        assert!(is_checked_input(Path::new("src/lib.rs")));
        assert!(is_checked_input(Path::new("app/ws/router.py")));
        assert!(is_checked_input(Path::new("rules/handlers.toml")));
        assert!(!is_checked_input(Path::new("target/debug/build/x.rs")));
        assert!(!is_checked_input(Path::new(".git/config.toml")));
        assert!(!is_checked_input(Path::new("README.md")));
    }
}
