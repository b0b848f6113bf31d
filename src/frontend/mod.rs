//! Source languages to facts. Each frontend turns the files it handles into [`FileFacts`]; rules only
//! ever read facts, so supporting a new language is one new module here and one line in [`FRONTENDS`].

mod body_words;
pub mod rust;

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
        keep: &Keep<'_>,
    ) -> Vec<FileFacts>;
}

/// Whether a fact is wanted (facts nothing will read are dropped as soon as they are resolved).
pub type Keep<'a> = dyn Fn(crate::facts::Fact<'_>) -> bool + Sync + 'a;

/// Per-file parse results kept by content identity (a git blob id), so content seen before is never
/// parsed again. Each frontend stores its own type of result.
#[derive(Default)]
pub struct ParseCache {
    entries: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    parsed: AtomicUsize,
    disk: Option<crate::cache::FactCache>,
    words: BodyWords,
    settings: u64,
}

impl ParseCache {
    /// A cache that also keeps parses on disk, across runs.
    pub fn with_disk(disk: Option<crate::cache::FactCache>) -> Self {
        ParseCache {
            disk,
            ..ParseCache::default()
        }
    }

    /// Parses skip the function bodies that contain none of `words`.
    pub fn with_words(self, words: BodyWords) -> Self {
        ParseCache { words, ..self }
    }

    /// Facts are pruned by the rules `rules` identifies (a fingerprint): a run snapshot is only reused by
    /// runs with the same words and rules.
    pub fn with_rules(self, rules: u64) -> Self {
        ParseCache {
            settings: rules,
            ..self
        }
    }

    /// What identifies the shape of a run's facts: the words and the rules that pruned them.
    pub fn settings(&self) -> u64 {
        self.settings ^ self.words.fingerprint().rotate_left(17)
    }

    /// What a function body must contain to be parsed.
    pub fn words(&self) -> &BodyWords {
        &self.words
    }

    /// The on-disk cache, if any.
    pub fn disk(&self) -> Option<&crate::cache::FactCache> {
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
pub const FRONTENDS: &[&dyn Frontend] = &[&rust::RustFrontend];

/// Runs every frontend over the workspace's files (read from disk) and returns the facts, sorted by path.
pub fn analyze(workspace: &Workspace) -> Vec<FileFacts> {
    analyze_tree(workspace, &crate::workspace::Disk, &ParseCache::default(), &|_| true)
}

/// Like [`analyze`], reading files through `tree`, reusing `cache`, and keeping of each file's facts
/// what `keep` wants.
pub fn analyze_tree(workspace: &Workspace, tree: &dyn FileTree, cache: &ParseCache, keep: &Keep<'_>) -> Vec<FileFacts> {
    let mut facts = Vec::with_capacity(workspace.files.len());
    for frontend in FRONTENDS {
        let files: Vec<SourceFile> = workspace
            .files
            .iter()
            .filter(|f| frontend.handles(f))
            .cloned()
            .collect();
        facts.extend(frontend.analyze(workspace, &files, tree, cache, keep));
    }
    facts.sort_by(|a, b| a.path.cmp(&b.path));
    facts
}
