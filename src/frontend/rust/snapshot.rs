//! The last run's result, kept for the next one: each file's content key, module, structure and resolved
//! (pruned) facts, and the workspace index they were resolved against.
//!
//! A run over an unchanged tree reads the snapshot and nothing else. A run after some files changed
//! parses only those; when their structure (what they declare, import, re-export and what modules they
//! declare) is unchanged, the modules and the index are too, so only they are resolved again and every
//! other file's facts are reused. Anything else (files added or removed, a structural change, other
//! manifests, rules or tool version) takes the full path, which writes a new snapshot.

use serde::{Deserialize, Serialize};

use super::modules::FileModule;
use super::resolve::{self, WorkspaceIndex};
use super::syntax::ParsedFile;
use crate::facts::FileFacts;
use crate::workspace::{CrateInfo, SourceFile};

/// One file as the last run left it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SnapshotFile {
    /// The key of the content (and words) the facts come from; `None` if it could not be read.
    pub key: Option<u128>,
    /// The module it was assigned.
    pub module: FileModule,
    /// See [`structure`].
    pub structure: u64,
    /// Its resolved facts, pruned.
    pub facts: FileFacts,
}

/// The last run over one workspace.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// See [`layout_key`]: the snapshot's files are only reused when it is the same.
    pub layout: u64,
    /// In the order of the workspace's files.
    pub files: Vec<SnapshotFile>,
    /// Names re-exports give to what the words name (see `aliases`).
    pub aliases: Vec<String>,
}

/// Names the runs over the same scanned folders with the same settings (words and rules): where their
/// snapshot is kept. Files may come and go between such runs.
pub(crate) fn run_key(files: &[SourceFile], settings: u64) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(settings);
    hasher.update(SNAPSHOT_VERSION.as_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    let mut roots: Vec<&std::path::Path> = files.iter().map(|f| f.root.as_path()).collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        hasher.update(root.as_os_str().as_encoded_bytes());
        hasher.update(&[0]);
    }
    hasher.digest()
}

/// Identifies the workspace's layout: its crates and its files (by path). Modules and the index can only
/// be reused when it is unchanged.
pub(crate) fn layout_key(crates: &[CrateInfo], files: &[SourceFile]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(format!("{crates:?}").as_bytes());
    for file in files {
        hasher.update(file.abs.as_os_str().as_encoded_bytes());
        hasher.update(&[0]);
        hasher.update(file.display.as_bytes());
        hasher.update(&[0]);
    }
    hasher.digest()
}

/// Bumped whenever the snapshot layout or what it depends on changes.
const SNAPSHOT_VERSION: &str = "snapshot-2";

/// The parses of the last full run, by content key, each still encoded: a later full run (after a
/// structural change) decodes those of unchanged files instead of parsing them again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ParsePack {
    /// Content key and encoded [`ParsedFile`].
    pub parses: Vec<(u128, Vec<u8>)>,
}

impl ParsePack {
    /// The parse for `key`, and its encoding, if the pack has it and it decodes.
    pub fn get(&self, key: u128) -> Option<(ParsedFile, &[u8])> {
        let at = self.parses.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        let encoded = &self.parses[at].1;
        Some((postcard::from_bytes(encoded).ok()?, encoded))
    }

    /// Sorts by key (and drops duplicates), so [`ParsePack::get`] can search.
    pub fn sorted(mut self) -> Self {
        self.parses.sort_by_key(|(key, _)| *key);
        self.parses.dedup_by_key(|(key, _)| *key);
        self
    }
}

/// What other files' facts depend on in this one: the names it declares (relative to its module, as
/// [`relative_names`] gives them), its imports (re-exports are resolved through them), its scopes'
/// shape and its `mod` declarations. Edits inside function bodies and comments leave it unchanged.
pub(crate) fn structure(file: &ParsedFile, names: &str) -> u64 {
    let scopes: Vec<_> = file.scopes.iter().map(|s| (s.parent, &s.kind, &s.rel_path)).collect();
    let shape = (
        names,
        &scopes,
        &file.imports,
        &file.modules,
        &file.problem.as_ref().map(|p| p.kind),
    );
    postcard::to_stdvec(&shape).map_or(0, |bytes| xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// The names a file declares (see [`resolve::declared_names`]), relative to the file's module, one
/// `relative module path TAB name` per line: compact, and known before modules are assigned.
pub(crate) fn relative_names(file: &ParsedFile) -> String {
    let here = FileModule {
        path: String::new(),
        in_test: false,
    };
    let mut names = String::new();
    for (module, name) in resolve::declared_names(file, &here) {
        names.push_str(&module);
        names.push('\t');
        names.push_str(&name);
        names.push('\n');
    }
    names
}

/// Adds names written by [`relative_names`] for a file in `module` to the index.
pub(crate) fn add_relative_names(index: &mut WorkspaceIndex, module: &FileModule, names: &str) {
    let absolute = names.lines().filter_map(|line| {
        let (relative, name) = line.split_once('\t')?;
        Some((crate::facts::join_path(&module.path, relative), name.to_owned()))
    });
    index.add_names(absolute.collect());
}

/// Serializes the index, for a later incremental run.
pub(crate) fn encode_index(index: &WorkspaceIndex) -> Option<Vec<u8>> {
    postcard::to_stdvec(index).ok()
}

/// Reads an index written by [`encode_index`].
pub(crate) fn decode_index(bytes: &[u8]) -> Option<WorkspaceIndex> {
    postcard::from_bytes(bytes).ok()
}
