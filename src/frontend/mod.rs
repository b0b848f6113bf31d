//! Source languages to facts. Each frontend turns the files it handles into [`FileFacts`]; rules only
//! ever read facts, so supporting a new language is one new module here and one line in [`FRONTENDS`].

mod body_words;
pub(crate) mod lines;
pub mod python;
pub mod rust;
pub(crate) mod suppressions;

pub use body_words::BodyWords;

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::facts::FileFacts;
use crate::workspace::{FileTree, SourceFile, Workspace};

/// A source language.
pub trait Frontend: Sync {
    /// Whether this frontend reads the file.
    fn handles(&self, file: &SourceFile) -> bool;

    /// Extracts facts from `files` (all of which this frontend handles), one result per file, in order,
    /// keeping of each file only the facts `keep` wants.
    ///
    /// Never fails: a file that cannot be read or parsed carries a [`crate::facts::FileProblem`].
    fn analyze(
        &self,
        workspace: &Workspace,
        files: &[SourceFile],
        tree: &dyn FileTree,
        cache: &ParseCache,
        reading: &Reading,
        keep: &Keep<'_>,
    ) -> Vec<FileFacts>;
}

/// Whether a fact is wanted (facts nothing will read are dropped as soon as they are resolved).
pub type Keep<'a> = dyn Fn(crate::facts::Fact<'_>) -> bool + Sync + 'a;

/// What a run reads of each file: the words a function body must mention to be parsed, and the rules
/// that decide which facts are kept. Parses and snapshots made with other settings are other entries.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    /// What a function body must contain to be parsed.
    pub words: BodyWords,
    /// Identifies the rules that pruned the facts (see `Config::fingerprint`).
    pub rules: u64,
}

impl Reading {
    /// What identifies the shape of a run's facts: the words and the rules that pruned them.
    pub fn settings(&self) -> u64 {
        self.rules ^ self.words.fingerprint().rotate_left(17)
    }
}

/// Per-file parse results kept by content identity (a git blob id), so content seen before is never
/// parsed again, and the blob store that keeps them across runs. Each frontend stores its own type of
/// result.
#[derive(Default)]
pub struct ParseCache {
    entries: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    parsed: AtomicUsize,
    disk: Option<crate::blob_folder::BlobFolder>,
    /// Whether each frontend keeps its last analysis in memory for the next check (a process that
    /// checks again and again: the language server).
    keeps_warm: bool,
    warm: Mutex<HashMap<&'static str, Box<dyn Any + Send>>>,
}

impl ParseCache {
    /// A cache that also keeps parses on disk, across runs.
    pub fn with_disk(disk: Option<crate::blob_folder::BlobFolder>) -> Self {
        ParseCache {
            disk,
            ..ParseCache::default()
        }
    }

    /// This cache, keeping each frontend's last analysis in memory for the next check.
    pub fn keeping_warm(mut self) -> Self {
        self.keeps_warm = true;
        self
    }

    /// Whether frontends keep their last analysis here.
    pub fn keeps_warm(&self) -> bool {
        self.keeps_warm
    }

    /// Takes the analysis `frontend` kept (none when it kept another type).
    pub fn take_warm<T: Any + Send>(&self, frontend: &'static str) -> Option<Box<T>> {
        let kept = self
            .warm
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(frontend)?;
        kept.downcast().ok()
    }

    /// Keeps `frontend`'s analysis for the next check.
    pub fn put_warm<T: Any + Send>(&self, frontend: &'static str, state: T) {
        self.warm
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(frontend, Box::new(state));
    }

    /// The blob store, if any.
    pub fn disk(&self) -> Option<&crate::blob_folder::BlobFolder> {
        self.disk.as_ref()
    }

    /// Counts a parse done outside [`ParseCache::get_or_parse`].
    pub fn count_parse(&self) {
        self.parsed.fetch_add(1, Ordering::Relaxed);
    }

    /// The cached result for `id`, or `parse()` (counted, and cached when it has an id).
    pub fn get_or_parse<T: Any + Send + Sync>(&self, id: Option<&str>, parse: impl FnOnce() -> T) -> Arc<T> {
        let lock = || self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = id
            && let Some(hit) = lock().get(id).cloned().and_then(|entry| entry.downcast::<T>().ok())
        {
            return hit;
        }
        self.parsed.fetch_add(1, Ordering::Relaxed);
        let value = Arc::new(parse());
        if let Some(id) = id {
            lock().insert(id.to_owned(), value.clone());
        }
        value
    }

    /// How many files were parsed (cache misses).
    pub fn parsed(&self) -> usize {
        self.parsed.load(Ordering::Relaxed)
    }
}

/// Every frontend, tried in order; the first that handles a file gets it.
pub const FRONTENDS: &[&dyn Frontend] = &[&rust::RustFrontend, &python::PythonFrontend];

/// Runs every frontend over the workspace's files (read from disk) and returns the facts, sorted by path.
pub fn analyze(workspace: &Workspace) -> Vec<FileFacts> {
    analyze_tree(
        workspace,
        &crate::workspace::Disk,
        &ParseCache::default(),
        &Reading::default(),
        &|_| true,
    )
}

/// Like [`analyze`], reading files through `tree`, reusing `cache`, and keeping of each file's facts
/// what `keep` wants.
pub fn analyze_tree(
    workspace: &Workspace,
    tree: &dyn FileTree,
    cache: &ParseCache,
    reading: &Reading,
    keep: &Keep<'_>,
) -> Vec<FileFacts> {
    let mut facts = Vec::with_capacity(workspace.files.len());
    for frontend in FRONTENDS {
        let files: Vec<SourceFile> = workspace
            .files
            .iter()
            .filter(|f| frontend.handles(f))
            .cloned()
            .collect();
        let mut analyzed = frontend.analyze(workspace, &files, tree, cache, reading, keep);
        // The crate is the workspace's knowledge, not the file's: set here, never cached with facts.
        for (file_facts, file) in analyzed.iter_mut().zip(&files) {
            file_facts.krate = file
                .krate
                .map(|i| workspace.crates[i].label.clone())
                .unwrap_or_default();
        }
        facts.extend(analyzed);
    }
    facts.sort_by(|a, b| a.path.cmp(&b.path));
    facts
}
