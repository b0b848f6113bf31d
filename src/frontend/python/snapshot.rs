//! What one run read of each Python file, kept in the blob folder for the next: a file whose disk stamp
//! (modification time and size) and module place are unchanged is not read or parsed again, and a tree
//! none of whose files changed, checked with the same rules, is not even resolved again.
//!
//! Two blobs per set of scanned roots: the reads, each file's encoded on its own (so they are encoded in
//! parallel, and decoded only when reused), and the facts the last run's rules kept, with the stamps of
//! the tree they were made from. A file too recently written has no stamp and is always read (see
//! `workspace::disk_stamp`), so an edit within the clock's resolution is never missed.
//!
//! Layer invariant: reads `read`'s model and the blob folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::layout::ModulePlace;
use super::read::ReadFile;
use crate::facts::FileFacts;
use crate::frontend::ParseCache;
use crate::workspace::SourceFile;

/// What `read` produces, in this blob's layout: a change to either makes earlier snapshots unusable, so
/// it is part of the blobs' names (bump it with any change to what a file's read holds).
const READ_FORMAT: u32 = 5;

/// One file as the last run read it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    path: PathBuf,
    stamp: u64,
    in_test: bool,
    /// The read, postcard-encoded and compressed.
    read: Vec<u8>,
}

/// The facts a run kept, and the tree they are of.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptFacts {
    tree: u64,
    facts: Vec<FileFacts>,
}

/// One file's read this run, and whether it came from the snapshot.
pub(crate) struct ThisRun {
    /// What was read.
    pub read: Arc<ReadFile>,
    /// The file's disk stamp, if it has one.
    pub stamp: Option<u64>,
    /// A test file.
    pub in_test: bool,
    /// Taken from the last run's snapshot (its encoding can be kept as it is).
    pub reused: bool,
}

/// The files the last run read, by absolute path.
#[derive(Default)]
pub(crate) struct Snapshot {
    name: String,
    files: HashMap<PathBuf, Entry>,
}

impl Snapshot {
    /// The last run's reads for the roots `files` were found under (empty without a blob folder).
    pub fn load(cache: &ParseCache, files: &[SourceFile]) -> Self {
        let name = format!("python-{READ_FORMAT}-{:016x}.reads", roots_key(files));
        let entries: Vec<Entry> = cache
            .disk()
            .and_then(|disk| disk.load_blob(&name))
            .and_then(|bytes| postcard::from_bytes(&bytes).ok())
            .unwrap_or_default();
        Snapshot {
            name,
            files: entries.into_iter().map(|e| (e.path.clone(), e)).collect(),
        }
    }

    /// The file as the last run read it, if its stamp, place and test status are unchanged.
    pub fn reuse(&self, path: &Path, stamp: Option<u64>, place: &ModulePlace, in_test: bool) -> Option<Arc<ReadFile>> {
        let entry = self.files.get(path)?;
        if Some(entry.stamp) != stamp || entry.in_test != in_test {
            return None;
        }
        let file: ReadFile = lz4_flex::decompress_size_prepended(&entry.read)
            .ok()
            .and_then(|raw| postcard::from_bytes(&raw).ok())?;
        let same_place = file.package == place.package && file.module == place.segments.join("::");
        same_place.then(|| Arc::new(file))
    }

    /// Keeps this run's reads for the next run, unless all were the last run's.
    pub fn store(&self, cache: &ParseCache, files: &[SourceFile], run: &[ThisRun]) {
        let Some(disk) = cache.disk() else {
            return;
        };
        if files.len() == self.files.len() && run.iter().all(|r| r.reused) {
            return;
        }
        // Only files with a stamp can be recognized next time.
        let entries: Vec<Entry> = files
            .par_iter()
            .zip(run)
            .filter_map(|(file, this)| {
                let stamp = this.stamp?;
                let read = match (this.reused, self.files.get(&file.abs)) {
                    (true, Some(kept)) => kept.read.clone(),
                    _ => lz4_flex::compress_prepend_size(&postcard::to_stdvec(this.read.as_ref()).ok()?),
                };
                Some(Entry {
                    path: file.abs.clone(),
                    stamp,
                    in_test: this.in_test,
                    read,
                })
            })
            .collect();
        if let Ok(bytes) = postcard::to_stdvec(&entries) {
            disk.store_blob(&self.name, &bytes);
        }
    }
}

/// The stamps of a whole tree, as one number (`None` when a file has no stamp: it may have changed).
pub(crate) fn tree_stamp(files: &[SourceFile], stamps: &[Option<u64>]) -> Option<u64> {
    let mut key = Vec::with_capacity(files.len() * 64);
    for (file, stamp) in files.iter().zip(stamps) {
        key.extend_from_slice(file.display.as_bytes());
        key.push(0);
        key.extend_from_slice(file.abs.as_os_str().as_encoded_bytes());
        key.push(0);
        key.extend_from_slice(&(*stamp)?.to_le_bytes());
    }
    Some(xxhash_rust::xxh3::xxh3_64(&key))
}

/// The facts the last run with the same rules kept, if it was over this very tree.
pub(crate) fn kept_facts(cache: &ParseCache, files: &[SourceFile], settings: u64, tree: u64) -> Option<Vec<FileFacts>> {
    let bytes = cache.disk()?.load_blob(&facts_name(files, settings))?;
    let kept: KeptFacts = postcard::from_bytes(&lz4_flex::decompress_size_prepended(&bytes).ok()?).ok()?;
    (kept.tree == tree && kept.facts.len() == files.len()).then_some(kept.facts)
}

/// Keeps the facts this run's rules kept, for a next run over an unchanged tree.
pub(crate) fn keep_facts(cache: &ParseCache, files: &[SourceFile], settings: u64, tree: u64, facts: &[FileFacts]) {
    let Some(disk) = cache.disk() else {
        return;
    };
    #[derive(serde::Serialize)]
    struct Borrowed<'f> {
        tree: u64,
        facts: &'f [FileFacts],
    }
    if let Ok(raw) = postcard::to_stdvec(&Borrowed { tree, facts }) {
        disk.store_blob(&facts_name(files, settings), &lz4_flex::compress_prepend_size(&raw));
    }
}

fn facts_name(files: &[SourceFile], settings: u64) -> String {
    format!("python-{READ_FORMAT}-{:016x}-{settings:016x}.facts", roots_key(files))
}

/// What names the blobs of the runs over the same roots.
fn roots_key(files: &[SourceFile]) -> u64 {
    let mut roots: Vec<&Path> = files.iter().map(|f| f.root.as_path()).collect();
    roots.sort();
    roots.dedup();
    let mut key = Vec::new();
    for root in roots {
        key.extend_from_slice(root.as_os_str().as_encoded_bytes());
        key.push(0);
    }
    xxhash_rust::xxh3::xxh3_64(&key)
}
