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
    /// The hash of the index these files were resolved against: the index is stored beside the
    /// snapshot, and a concurrent run may have replaced one and not yet the other.
    pub index: u64,
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
/// parses compressed).
const SNAPSHOT_VERSION: &str = "snapshot-5";

/// The parses of the last full run, by content key, each still encoded: a later full run (after a
/// structural change) decodes those of unchanged files instead of parsing them again.
///
/// Stored as `PACK_MAGIC`, then per parse its key (16 bytes), length (4 bytes, little-endian) and
/// encoding: written as a stream (no second copy of tens of megabytes) and read as one buffer indexed
/// in place.
#[derive(Debug, Default)]
pub(crate) struct ParsePack {
    bytes: Vec<u8>,
    /// Key and where its encoding lies in `bytes`, sorted by key.
    entries: Vec<(u128, std::ops::Range<usize>)>,
}

const PACK_MAGIC: &[u8; 8] = b"ssotpk01";

impl ParsePack {
    /// Reads a pack written by [`ParsePack::write`]; an empty pack if it is damaged.
    pub fn read(bytes: Vec<u8>) -> Self {
        let Some(mut rest) = bytes.strip_prefix(PACK_MAGIC) else {
            return ParsePack::default();
        };
        let mut entries = Vec::new();
        while !rest.is_empty() {
            let (Some(key), Some(length)) = (rest.get(..16), rest.get(16..20)) else {
                return ParsePack::default();
            };
            let key = u128::from_le_bytes(key.try_into().unwrap_or_default());
            let length = u32::from_le_bytes(length.try_into().unwrap_or_default()) as usize;
            let start = bytes.len() - rest.len() + 20;
            if rest.len() < 20 + length {
                return ParsePack::default();
            }
            entries.push((key, start..start + length));
            rest = &rest[20 + length..];
        }
        entries.sort_by_key(|(key, _)| *key);
        entries.dedup_by_key(|(key, _)| *key);
        ParsePack { bytes, entries }
    }

    /// Writes parses (content key and encoding) in the pack's format.
    pub fn write<'p>(
        out: &mut dyn std::io::Write,
        parses: impl Iterator<Item = (u128, &'p [u8])>,
    ) -> std::io::Result<()> {
        out.write_all(PACK_MAGIC)?;
        for (key, encoded) in parses {
            let length = u32::try_from(encoded.len()).map_err(std::io::Error::other)?;
            out.write_all(&key.to_le_bytes())?;
            out.write_all(&length.to_le_bytes())?;
            out.write_all(encoded)?;
        }
        Ok(())
    }

    /// The parse for `key`, and its encoding, if the pack has it and it decodes.
    pub fn get(&self, key: u128) -> Option<(ParsedFile, &[u8])> {
        let at = self.entries.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        let encoded = &self.bytes[self.entries[at].1.clone()];
        Some((super::load::decode(encoded)?, encoded))
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
    fn a_pack_round_trips_and_a_damaged_one_is_empty() {
        let parsed = super::super::syntax::parse("pub struct A;", &crate::frontend::BodyWords::default());
        let encoded = super::super::load::encode(&parsed);
        let mut bytes = Vec::new();
        ParsePack::write(
            &mut bytes,
            [(7u128, encoded.as_slice()), (3, b"x".as_slice())].into_iter(),
        )
        .expect("writes");
        let pack = ParsePack::read(bytes.clone());
        let (hit, raw) = pack.get(7).expect("present");
        assert_eq!(hit.definitions.len(), 1);
        assert_eq!(raw, encoded.as_slice());
        assert!(pack.get(3).is_none(), "an entry that does not decode is a miss");
        assert!(pack.get(9).is_none());
        bytes.truncate(bytes.len() - 1);
        assert!(ParsePack::read(bytes).get(7).is_none(), "a truncated pack is empty");
        assert!(ParsePack::read(b"garbage".to_vec()).get(7).is_none());
    }
}
