//! Violation counts over a repository's history, and what a branch adds or removes against a base.
//!
//! Each commit's files are read from git objects (the working tree is never touched), and a file's parse
//! is reused for every commit that has the same blob, so an unchanged file is parsed once.
//!
//! A count is of violations, not of findings: one per finding, or one per definition (or handling
//! place) of a finding about several, the same entries a baseline records. Four `MessageRouter`s count 4,
//! so removing one shows as progress before the last duplicate is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use crate::check::Needs;
use crate::config::Config;
use crate::finding::{BaselineKey, Finding};
use crate::frontend::ParseCache;
use crate::git::{BlobReader, Commit, CommitTree, GitError, Repo};
use crate::workspace::FileRole;

/// The counts of one commit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommitCounts {
    /// The commit.
    pub commit: Commit,
    /// Violations per rule id (every loaded rule, zero included; built-in checks when they occur).
    pub counts: BTreeMap<String, usize>,
    /// All violations.
    pub total: usize,
}

/// Counts per commit, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct History {
    /// The rule ids, in the order of the columns.
    pub rules: Vec<String>,
    /// One entry per first-parent commit.
    pub commits: Vec<CommitCounts>,
    /// Distinct files parsed (each blob once, however many commits hold it).
    pub files_parsed: usize,
}

/// What HEAD adds and removes against a base.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    /// The merge base of the base revision and HEAD.
    pub base: Commit,
    /// HEAD.
    pub head: Commit,
    /// Violations per rule at the base.
    pub before: BTreeMap<String, usize>,
    /// Violations per rule at HEAD.
    pub after: BTreeMap<String, usize>,
    /// Violations HEAD has and the base has not.
    pub added: Vec<BaselineKey>,
    /// Violations the base has and HEAD has not.
    pub removed: Vec<BaselineKey>,
}

/// Reads commits and checks them.
struct Checker<'a> {
    repo: Repo,
    config: &'a Config,
    cwd: &'a Path,
    reader: Mutex<BlobReader>,
    cache: ParseCache,
}

impl<'a> Checker<'a> {
    fn new(cwd: &'a Path, config: &'a Config) -> Result<Self, GitError> {
        let repo = Repo::discover(cwd)?;
        let reader = Mutex::new(repo.blobs()?);
        Ok(Checker {
            repo,
            config,
            cwd,
            reader,
            cache: ParseCache::default(),
        })
    }

    /// The findings of one commit, as the default scan of the repository would report them.
    fn findings(&self, commit: &str) -> Result<Vec<Finding>, GitError> {
        let mut blobs = HashMap::new();
        let mut files = Vec::new();
        let mut manifests = Vec::new();
        for (path, oid) in self.repo.tree(commit)? {
            let abs = self.repo.root.join(&path);
            let Some(role) = crate::workspace::role_of(&path) else {
                continue;
            };
            if self.config.excludes.iter().any(|e| e.matches(&abs)) {
                continue;
            }
            match role {
                FileRole::Source => files.push((abs.clone(), self.repo.root.clone())),
                FileRole::Manifest => manifests.push(abs.clone()),
                // Read by the Python frontend through the tree, for module paths.
                FileRole::PythonProject => {}
            }
            blobs.insert(abs, oid);
        }
        let tree = CommitTree::new(blobs, &self.reader);
        let workspace = crate::workspace::assemble(self.cwd, files, manifests, &tree, Vec::new());
        let facts = crate::check::facts(&workspace, &tree, &self.cache, self.config, Needs::Rules);
        Ok(crate::check::findings(&workspace, &facts, self.config, false))
    }
}

/// Violation keys of unsuppressed findings.
fn violations(findings: &[Finding]) -> BTreeSet<BaselineKey> {
    crate::baseline::Baseline::of(findings).entries
}

fn counts(rules: &[String], keys: &BTreeSet<BaselineKey>) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> = rules.iter().map(|r| (r.clone(), 0)).collect();
    for key in keys {
        *counts.entry(key.rule.clone()).or_default() += 1;
    }
    counts
}

/// Counts for each first-parent commit of HEAD (optionally since a date, or only the last `n`).
pub fn history(cwd: &Path, config: &Config, since: Option<&str>, last: Option<usize>) -> Result<History, GitError> {
    let checker = Checker::new(cwd, config)?;
    let mut rules: Vec<String> = config.rules.iter().map(|r| r.meta.id.clone()).collect();
    let mut commits = Vec::new();
    for commit in checker.repo.first_parent_log(since, last)? {
        let keys = violations(&checker.findings(&commit.id)?);
        let counts = counts(&rules, &keys);
        for rule in counts.keys() {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
        commits.push(CommitCounts {
            commit,
            total: keys.len(),
            counts,
        });
    }
    for entry in &mut commits {
        for rule in &rules {
            entry.counts.entry(rule.clone()).or_insert(0);
        }
    }
    Ok(History {
        rules,
        commits,
        files_parsed: checker.cache.parsed(),
    })
}

/// What HEAD adds and removes against the merge base of `base` and HEAD.
pub fn diff(cwd: &Path, config: &Config, base: &str) -> Result<Diff, GitError> {
    let checker = Checker::new(cwd, config)?;
    let head = checker.repo.commit("HEAD")?;
    let base = checker.repo.commit(&checker.repo.merge_base(base, "HEAD")?)?;
    let before_keys = violations(&checker.findings(&base.id)?);
    let after_keys = violations(&checker.findings(&head.id)?);
    let rules: Vec<String> = config.rules.iter().map(|r| r.meta.id.clone()).collect();
    Ok(Diff {
        before: counts(&rules, &before_keys),
        after: counts(&rules, &after_keys),
        added: after_keys.difference(&before_keys).cloned().collect(),
        removed: before_keys.difference(&after_keys).cloned().collect(),
        base,
        head,
    })
}
