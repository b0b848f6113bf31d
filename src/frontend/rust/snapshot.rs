//! The last run's result, kept for the next one: each file's content key, module, structure and resolved
//! (pruned) facts, and the workspace index they were resolved against.
//!
//! A run over an unchanged tree reads the snapshot and nothing else. A run after some files changed
//! parses only those; when their structure (what they declare, import, re-export and what modules they
//! declare) is unchanged, the modules and the index are too, so only they are resolved again and every
//! other file's facts are reused. Anything else (files added or removed, a structural change, other
//! manifests, rules or tool version) takes the full path, which writes a new snapshot.
//!
//! Layer invariant: above resolution (it keeps resolved facts and the index); reads `modules`,
//! `resolve` and the facts, never a reader.

use serde::{Deserialize, Serialize};

use super::modules::FileModule;
use super::resolve::{self, WorkspaceIndex};
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
    /// The crates (by index) whose files may name what they name; `None`: any (see `Widening::reaching`).
    /// A changed file is read again with wider words exactly when a full run would.
    pub alias_crates: Option<Vec<usize>>,
    /// The hash of the index these files were resolved against: the index is stored beside the
    /// snapshot, and a concurrent run may have replaced one and not yet the other.
    pub index: u64,
}

/// A [`Snapshot`] to store, borrowing what the run holds: it is encoded exactly as the snapshot it
/// stands for (postcard writes a reference as the value), without copying every file's facts first.
#[derive(Serialize)]
pub(crate) struct BorrowedSnapshot<'a> {
    /// See [`Snapshot::layout`].
    pub layout: u64,
    /// See [`Snapshot::files`].
    pub files: Vec<BorrowedSnapshotFile<'a>>,
    /// See [`Snapshot::aliases`].
    pub aliases: &'a [String],
    /// See [`Snapshot::alias_crates`].
    pub alias_crates: Option<Vec<usize>>,
    /// See [`Snapshot::index`].
    pub index: u64,
}

/// A [`SnapshotFile`] to store (see [`BorrowedSnapshot`]).
#[derive(Serialize)]
pub(crate) struct BorrowedSnapshotFile<'a> {
    /// See [`SnapshotFile::key`].
    pub key: Option<u128>,
    /// See [`SnapshotFile::module`].
    pub module: &'a FileModule,
    /// See [`SnapshotFile::structure`].
    pub structure: u64,
    /// See [`SnapshotFile::facts`].
    pub facts: &'a FileFacts,
}

/// Names the runs over the same scanned folders with the same settings (words and rules): where their
/// snapshot is kept. Files may come and go between such runs.
pub(crate) fn run_key(files: &[SourceFile], settings: u64) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(settings);
    hasher.update(SNAPSHOT_VERSION.as_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(&build_fingerprint().to_le_bytes());
    let mut roots: Vec<&std::path::Path> = files.iter().map(|f| f.root.as_path()).collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        hasher.update(root.as_os_str().as_encoded_bytes());
        hasher.update(&[0]);
    }
    hasher.digest()
}

/// Identifies the running build (its executable's path, size and modification time): a snapshot left
/// by another build of the same version, which may parse differently, is not this build's.
fn build_fingerprint() -> u64 {
    let Ok(exe) = std::env::current_exe() else {
        return 0;
    };
    let Ok(metadata) = std::fs::metadata(&exe) else {
        return 0;
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(exe.as_os_str().as_encoded_bytes());
    hasher.update(&metadata.len().to_le_bytes());
    hasher.update(&modified.to_le_bytes());
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

/// Bumped whenever the snapshot layout or what it depends on changes (4: items read without syn; 5:
/// parses compressed; 6: the index knows the workspace's modules; 7: cfg predicates on facts and modules; 8: glob re-exports in the index; 9: items in item macros, cfg_attr paths; 10: the cfgs item macros put on items; 11: macros matter by definition, not by name).
const SNAPSHOT_VERSION: &str = "snapshot-11";

/// The index keys of names written by [`relative_names`] for a file in `module`.
pub(crate) fn relative_name_keys(module: &FileModule, names: &str) -> Vec<u64> {
    let mut keys = Vec::new();
    // Names come grouped by module: each module path is joined once.
    let mut last: Option<(&str, String)> = None;
    for (relative, name) in names.lines().filter_map(|line| line.split_once('\t')) {
        let absolute = match &last {
            Some((seen, absolute)) if *seen == relative => absolute,
            _ => {
                &last
                    .insert((relative, crate::facts::join_path(&module.path, relative)))
                    .1
            }
        };
        keys.push(resolve::name_key(absolute, name));
    }
    keys
}

/// Serializes the index, for a later incremental run.
pub(crate) fn encode_index(index: &WorkspaceIndex) -> Option<Vec<u8>> {
    postcard::to_stdvec(index).ok()
}

/// Reads an index written by [`encode_index`], if it is the one with hash `expected`.
pub(crate) fn decode_index(bytes: &[u8], expected: u64) -> Option<WorkspaceIndex> {
    (index_hash(bytes) == expected)
        .then(|| postcard::from_bytes(bytes).ok())
        .flatten()
}

/// Identifies an encoded index.
pub(crate) fn index_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_to_store_reads_back_as_the_snapshot() {
        let module = FileModule {
            path: "app::a".to_owned(),
            in_test: false,
            cfg: Some("unix".to_owned()),
        };
        let facts = FileFacts {
            module: "app::a".to_owned(),
            ..FileFacts::default()
        };
        let aliases = vec!["old".to_owned()];
        let stored = BorrowedSnapshot {
            layout: 7,
            files: vec![BorrowedSnapshotFile {
                key: Some(42),
                module: &module,
                structure: 9,
                facts: &facts,
            }],
            aliases: &aliases,
            alias_crates: Some(vec![3]),
            index: 11,
        };
        let bytes = postcard::to_stdvec(&stored).expect("encodes");
        let read: Snapshot = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(
            (read.layout, read.index, read.aliases, read.alias_crates),
            (7, 11, aliases, Some(vec![3]))
        );
        let [file] = read.files.as_slice() else {
            panic!("one file");
        };
        assert_eq!(
            (file.key, &file.module, file.structure, &file.facts),
            (Some(42), &module, 9, &facts)
        );
    }
}
