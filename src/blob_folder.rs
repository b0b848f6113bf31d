//! The blob folder: where each run keeps what the next one can reuse (the run's snapshot, its
//! index and its parses; see `frontend::rust::snapshot`), under a folder named for this tool's version.
//! Blobs are written to a temporary file and renamed into place, so concurrent runs see an old blob or a
//! new one, never half of one; a blob that cannot be read or decoded only costs the speed it would give.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What makes the cache's contents valid: the tool's version and the cache layout.
const VERSION: &str = concat!(env!("CARGO_PKG_NAME"), "-", env!("CARGO_PKG_VERSION"), "-runs-1");

/// A folder of named blobs.
#[derive(Debug)]
pub struct BlobFolder {
    dir: PathBuf,
    counter: AtomicU64,
}

impl BlobFolder {
    /// Opens (creating) the cache folder; `None` if it cannot be created (the run goes on uncached).
    pub fn open(dir: &Path) -> Option<Self> {
        let dir = dir.join(VERSION);
        std::fs::create_dir_all(&dir).ok()?;
        Some(BlobFolder {
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

    /// A named blob, if present.
    pub fn load_blob(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(name)).ok()
    }

    /// Stores a named blob, replacing it whole (best effort: a cache that cannot be written only costs
    /// speed).
    pub fn store_blob(&self, name: &str, bytes: &[u8]) {
        self.store_with(name, &mut |out| out.write_all(bytes));
    }

    /// Stores a named blob that `write` streams out, replacing it whole once complete (best effort).
    pub fn store_with(&self, name: &str, write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>) {
        let path = self.dir.join(name);
        let unique = self.counter.fetch_add(1, Ordering::Relaxed);
        let temporary = self.dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
        let written = std::fs::File::create(&temporary).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            write(&mut out)?;
            out.flush()
        });
        if written.is_err() || std::fs::rename(&temporary, &path).is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_replace_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = BlobFolder::open(dir.path()).expect("opens");
        assert_eq!(cache.load_blob("run.snapshot"), None);
        cache.store_blob("run.snapshot", b"first");
        cache.store_blob("run.snapshot", b"second");
        assert_eq!(cache.load_blob("run.snapshot").as_deref(), Some(&b"second"[..]));
        let names: Vec<_> = std::fs::read_dir(dir.path().join(VERSION)).expect("folder").collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
