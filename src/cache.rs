//! The fact cache: each file's parse, stored under a hash of its content and of this tool's version, so
//! a file that did not change is not parsed again on the next run. Entries are written to a temporary
//! file and renamed into place, so concurrent runs never see half an entry; an entry that cannot be
//! read is simply parsed again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What makes a cache entry valid: the tool's version and the entry layout.
const VERSION: &str = concat!(env!("CARGO_PKG_NAME"), "-", env!("CARGO_PKG_VERSION"), "-facts-4");

/// A folder of cache entries.
#[derive(Debug)]
pub struct FactCache {
    dir: PathBuf,
    counter: AtomicU64,
}

impl FactCache {
    /// Opens (creating) the cache folder; `None` if it cannot be created (the run goes on uncached).
    pub fn open(dir: &Path) -> Option<Self> {
        let dir = dir.join(VERSION);
        std::fs::create_dir_all(&dir).ok()?;
        Some(FactCache {
            dir,
            counter: AtomicU64::new(0),
        })
    }

    /// The default folder: `$SSOT_CHECK_CACHE_DIR`, else the user cache folder (`$XDG_CACHE_HOME` or
    /// `~/.cache`) under `ssot-check`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("SSOT_CHECK_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("ssot-check"))
    }

    /// The key of a file's content, parsed with the settings `salt` stands for.
    pub fn key(content: &[u8], salt: u64) -> String {
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128_with_seed(content, salt))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(key)
    }

    /// The entry for `key`, if present and readable.
    pub fn load<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        postcard::from_bytes(&bytes).ok()
    }

    /// A named blob (a run snapshot), if present.
    pub fn load_blob(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join("runs").join(name)).ok()
    }

    /// Stores a named blob, replacing it whole (concurrent runs each see an old or a new one).
    pub fn store_blob(&self, name: &str, bytes: &[u8]) {
        self.write_atomically(&self.dir.join("runs").join(name), bytes);
    }

    /// Stores an entry (best effort: a cache that cannot be written only costs speed).
    pub fn store<T: Serialize>(&self, key: &str, value: &T) {
        let Ok(bytes) = postcard::to_stdvec(value) else { return };
        self.write_atomically(&self.path(key), &bytes);
    }

    /// Writes to a temporary file beside `path` and renames it into place (best effort).
    fn write_atomically(&self, path: &Path, bytes: &[u8]) {
        let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        if std::fs::create_dir_all(folder).is_err() {
            return;
        }
        let unique = self.counter.fetch_add(1, Ordering::Relaxed);
        let temporary = folder.join(format!(
            ".{}.{}.{unique}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        if std::fs::write(&temporary, bytes).is_ok() && std::fs::rename(&temporary, path).is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_entries_are_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = FactCache::open(dir.path()).expect("opens");
        let key = FactCache::key(b"struct A;", 0);
        assert_eq!(cache.load::<Vec<String>>(&key), None);
        cache.store(&key, &vec!["a".to_owned()]);
        assert_eq!(cache.load::<Vec<String>>(&key), Some(vec!["a".to_owned()]));
        std::fs::write(cache.path(&key), b"\xff\xff\xff").expect("corrupt");
        assert_eq!(cache.load::<Vec<String>>(&key), None);
        assert_ne!(FactCache::key(b"a", 0), FactCache::key(b"b", 0));
        assert_ne!(FactCache::key(b"a", 0), FactCache::key(b"a", 1));
    }
}
