//! What one run read of each Python file, kept in the blob folder for the next: a file whose disk stamp
//! (modification time and size) and module place are unchanged is not read or parsed again, and a tree
//! none of whose files changed, checked with the same rules, is not even resolved again.
//!
//! Two blobs per set of scanned roots: the reads, each file's encoded on its own (so they are encoded in
//! parallel, decoded only when reused, and written out one after the other without a copy of the
//! whole), and the facts the last run's rules kept, with the stamps of the tree they were made from. A file too recently written has no stamp and is always read (see
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
const READ_FORMAT: u32 = 6;

/// One file as the last run read it: where its encoded read lies in the blob.
struct Entry {
    stamp: u64,
    in_test: bool,
    /// The read, postcard-encoded and compressed: a range of [`Snapshot::blob`].
    read: std::ops::Range<usize>,
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
    /// The blob as read: entries, one after the other (see [`Snapshot::store`]).
    blob: Vec<u8>,
    files: HashMap<PathBuf, Entry>,
}

impl Snapshot {
    /// The last run's reads for the roots `files` were found under (empty without a blob folder, or
    /// when the blob is not whole).
    pub fn load(cache: &ParseCache, files: &[SourceFile]) -> Self {
        let name = format!("python-{READ_FORMAT}-{:016x}.reads", roots_key(files));
        let blob = cache.disk().and_then(|disk| disk.load_blob(&name)).unwrap_or_default();
        let files = entries(&blob).unwrap_or_default();
        Snapshot { name, blob, files }
    }

    /// The file as the last run read it, if its stamp, place and test status are unchanged.
    pub fn reuse(&self, path: &Path, stamp: Option<u64>, place: &ModulePlace, in_test: bool) -> Option<Arc<ReadFile>> {
        let entry = self.files.get(path)?;
        if Some(entry.stamp) != stamp || entry.in_test != in_test {
            return None;
        }
        let file: ReadFile = lz4_flex::decompress_size_prepended(self.blob.get(entry.read.clone())?)
            .ok()
            .and_then(|raw| postcard::from_bytes(&raw).ok())?;
        let same_place = file.package == place.package && file.module == place.segments.join("::");
        same_place.then(|| Arc::new(file))
    }

    /// Keeps this run's reads for the next run, unless all were the last run's. Each entry is the
    /// file's path (length-prefixed), stamp, test flag and encoded read (length-prefixed), in
    /// little-endian; a reused file's read is copied from the last blob as it is.
    pub fn store(&self, cache: &ParseCache, files: &[SourceFile], run: &[ThisRun]) {
        let Some(disk) = cache.disk() else {
            return;
        };
        if files.len() == self.files.len() && run.iter().all(|r| r.reused) {
            return;
        }
        let encoded: Vec<Option<Vec<u8>>> = run
            .par_iter()
            .map(|this| match this.reused {
                true => None,
                false => postcard::to_stdvec(this.read.as_ref())
                    .ok()
                    .map(|raw| lz4_flex::compress_prepend_size(&raw)),
            })
            .collect();
        disk.store_with(&self.name, &mut |out| {
            for ((file, this), fresh) in files.iter().zip(run).zip(&encoded) {
                // Only files with a stamp can be recognized next time.
                let Some(stamp) = this.stamp else {
                    continue;
                };
                let read: &[u8] = match (fresh, self.files.get(&file.abs)) {
                    (Some(fresh), _) => fresh,
                    (None, Some(kept)) => self.blob.get(kept.read.clone()).unwrap_or_default(),
                    (None, None) => continue,
                };
                let path = file.abs.as_os_str().as_encoded_bytes();
                out.write_all(&(path.len() as u64).to_le_bytes())?;
                out.write_all(path)?;
                out.write_all(&stamp.to_le_bytes())?;
                out.write_all(&[u8::from(this.in_test)])?;
                out.write_all(&(read.len() as u64).to_le_bytes())?;
                out.write_all(read)?;
            }
            Ok(())
        });
    }
}

/// The entries of a reads blob, by path; `None` if it is cut short or malformed (it is then ignored).
fn entries(blob: &[u8]) -> Option<HashMap<PathBuf, Entry>> {
    /// Takes the next `n` bytes of the blob.
    fn take(blob: &[u8], at: &mut usize, n: usize) -> Option<std::ops::Range<usize>> {
        let range = *at..at.checked_add(n)?;
        blob.get(range.clone())?;
        *at = range.end;
        Some(range)
    }
    fn number(blob: &[u8], at: &mut usize) -> Option<u64> {
        let range = take(blob, at, 8)?;
        Some(u64::from_le_bytes(blob[range].try_into().ok()?))
    }
    let mut entries = HashMap::new();
    let mut at = 0usize;
    while at < blob.len() {
        let length = usize::try_from(number(blob, &mut at)?).ok()?;
        let path = take(blob, &mut at, length)?;
        // The bytes were written from this platform's own encoding of the path (UTF-8 here).
        let path = PathBuf::from(String::from_utf8(blob[path].to_vec()).ok()?);
        let stamp = number(blob, &mut at)?;
        let in_test = blob[take(blob, &mut at, 1)?.start] == 1;
        let length = usize::try_from(number(blob, &mut at)?).ok()?;
        let read = take(blob, &mut at, length)?;
        entries.insert(path, Entry { stamp, in_test, read });
    }
    Some(entries)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, name: &str) -> SourceFile {
        SourceFile {
            abs: dir.join(name),
            display: name.to_owned(),
            root: dir.to_path_buf(),
            krate: None,
        }
    }

    #[test]
    fn reads_round_trip_and_a_cut_blob_is_ignored() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = ParseCache::with_disk(crate::blob_folder::BlobFolder::open(&dir.path().join("cache")));
        let files = [source(dir.path(), "a.py"), source(dir.path(), "b.py")];
        let place = ModulePlace {
            segments: vec!["a".to_owned()],
            package: false,
        };
        let read = Arc::new(super::super::read::read("class A: pass\n", &place, false));
        let run = [
            ThisRun {
                read: read.clone(),
                stamp: Some(7),
                in_test: false,
                reused: false,
            },
            // No stamp: not kept.
            ThisRun {
                read,
                stamp: None,
                in_test: false,
                reused: false,
            },
        ];
        Snapshot::load(&cache, &files).store(&cache, &files, &run);
        let loaded = Snapshot::load(&cache, &files);
        assert_eq!(loaded.files.len(), 1);
        let again = loaded
            .reuse(&files[0].abs, Some(7), &place, false)
            .unwrap_or_else(|| panic!("reused"));
        assert_eq!(again.definitions[0].path, "a::A");
        assert!(
            loaded.reuse(&files[0].abs, Some(8), &place, false).is_none(),
            "another stamp"
        );
        assert!(
            loaded.reuse(&files[0].abs, Some(7), &place, true).is_none(),
            "now a test"
        );
        assert!(entries(&loaded.blob[..loaded.blob.len() - 3]).is_none(), "cut short");
        assert!(entries(&[]).is_some_and(|e| e.is_empty()));
    }
}
