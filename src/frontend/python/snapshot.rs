//! What one run read of each Python file, kept in the blob folder for the next: a file whose disk stamp
//! (modification time and size) and module place are unchanged is not read or parsed again.
//!
//! One blob per set of scanned roots. A file too recently written has no stamp and is always read
//! (see `workspace::disk_stamp`), so an edit within the clock's resolution is never missed.
//!
//! Layer invariant: reads `read`'s model and the blob folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::layout::ModulePlace;
use super::read::ReadFile;
use crate::frontend::ParseCache;
use crate::workspace::SourceFile;

/// What `read` produces, in this blob's layout: a change to either makes earlier snapshots unusable, so
/// it is part of the blob's name (bump it with any change to what a file's read holds).
const READ_FORMAT: u32 = 1;

/// One file as the last run read it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    path: PathBuf,
    stamp: u64,
    in_test: bool,
    file: ReadFile,
}

/// The files the last run read, by absolute path.
#[derive(Default)]
pub(crate) struct Snapshot {
    name: Option<String>,
    files: HashMap<PathBuf, (u64, bool, Arc<ReadFile>)>,
}

impl Snapshot {
    /// The last run's snapshot for the roots `files` were found under (empty without a blob folder).
    pub fn load(cache: &ParseCache, files: &[SourceFile]) -> Self {
        let name = blob_name(files);
        let Some(bytes) = cache.disk().and_then(|disk| disk.load_blob(&name)) else {
            return Snapshot {
                name: Some(name),
                files: HashMap::new(),
            };
        };
        let entries: Vec<Entry> = lz4_flex::decompress_size_prepended(&bytes)
            .ok()
            .and_then(|raw| postcard::from_bytes(&raw).ok())
            .unwrap_or_default();
        Snapshot {
            name: Some(name),
            files: entries
                .into_iter()
                .map(|e| (e.path, (e.stamp, e.in_test, Arc::new(e.file))))
                .collect(),
        }
    }

    /// The file as the last run read it, if its stamp, place and test status are unchanged.
    pub fn reuse(&self, path: &Path, stamp: Option<u64>, place: &ModulePlace, in_test: bool) -> Option<Arc<ReadFile>> {
        let (kept_stamp, kept_test, file) = self.files.get(path)?;
        let same_place = file.package == place.package && file.module == place.segments.join("::");
        (Some(*kept_stamp) == stamp && *kept_test == in_test && same_place).then(|| file.clone())
    }

    /// Keeps this run's reads for the next run, unless they are what the last run kept.
    pub fn store(&self, cache: &ParseCache, files: &[SourceFile], read: &[(Arc<ReadFile>, Option<u64>, bool)]) {
        let (Some(disk), Some(name)) = (cache.disk(), &self.name) else {
            return;
        };
        let unchanged = files.len() == self.files.len()
            && files.iter().zip(read).all(|(file, (now, _, _))| {
                self.files
                    .get(&file.abs)
                    .is_some_and(|(_, _, kept)| Arc::ptr_eq(kept, now))
            });
        if unchanged {
            return;
        }
        // Only files with a stamp can be recognized next time.
        let entries: Vec<Entry> = files
            .iter()
            .zip(read)
            .filter_map(|(file, (read, stamp, in_test))| {
                Some(Entry {
                    path: file.abs.clone(),
                    stamp: (*stamp)?,
                    in_test: *in_test,
                    file: ReadFile::clone(read),
                })
            })
            .collect();
        if let Ok(raw) = postcard::to_stdvec(&entries) {
            disk.store_blob(name, &lz4_flex::compress_prepend_size(&raw));
        }
    }
}

/// The blob of the runs over the same roots.
fn blob_name(files: &[SourceFile]) -> String {
    let mut roots: Vec<&Path> = files.iter().map(|f| f.root.as_path()).collect();
    roots.sort();
    roots.dedup();
    let mut key = Vec::new();
    for root in roots {
        key.extend_from_slice(root.as_os_str().as_encoded_bytes());
        key.push(0);
    }
    format!(
        "python-{READ_FORMAT}-{:016x}.snapshot",
        xxhash_rust::xxh3::xxh3_64(&key)
    )
}
