//! The Python frontend: `.py` files to the same facts as Rust's, so every rule kind works unchanged.
//!
//! Parsing is Astral's `ruff_python_parser` (pinned: its newer releases need a newer Rust), which reads
//! current Python (3.13 syntax, PEP 695 type parameters, PEP 701 f-strings) with exact byte ranges.
//! Each file is read on its own, in parallel (`read`), its module path taken from the package layout
//! (`layout`); then names are resolved across files (`resolve`). Symbol paths are `::`-joined like
//! Rust's (`netra::app::ws::MessageRouter`); reports write them back in Python's dotted notation.
//!
//! Layers, each importing only those below: `resolve` -> `snapshot` -> `read` -> `layout`.

mod layout;
mod read;
mod resolve;
mod snapshot;

use std::sync::Arc;

use rayon::prelude::*;

use super::{Frontend, Keep, ParseCache, Reading};
use crate::facts::{FileFacts, FileProblem};
use crate::workspace::{FileTree, SourceFile, Workspace};

/// The Python frontend.
pub struct PythonFrontend;

/// Whether `path` (as reported) is a Python source file.
pub fn is_python(path: &str) -> bool {
    path.ends_with(".py")
}

/// Whether a module is test code by where it is and what it is called: in a `tests` or `test` package,
/// `test_*`, `*_test`, or `conftest` (its module path, not the file's path on disk, decides: the same
/// tree is test code or not wherever it is checked from).
fn is_test_module(segments: &[String]) -> bool {
    let Some((name, packages)) = segments.split_last() else {
        return false;
    };
    packages.iter().any(|p| p == "tests" || p == "test")
        || name.starts_with("test_")
        || name.ends_with("_test")
        || name == "conftest"
        || name == "tests"
}

impl Frontend for PythonFrontend {
    fn handles(&self, file: &SourceFile) -> bool {
        file.abs.extension().is_some_and(|e| e == "py")
    }

    fn analyze(
        &self,
        _workspace: &Workspace,
        files: &[SourceFile],
        tree: &dyn FileTree,
        cache: &ParseCache,
        reading: &Reading,
        keep: &Keep<'_>,
    ) -> Vec<FileFacts> {
        if files.is_empty() {
            return Vec::new();
        }
        // Stamps only serve the blob folder: a run without one does not ask the disk for them.
        let stamps: Vec<Option<u64>> = match cache.disk() {
            Some(_) => files.par_iter().map(|file| tree.stamp(&file.abs)).collect(),
            None => vec![None; files.len()],
        };
        let whole_tree = snapshot::tree_stamp(files, &stamps);
        // Same tree, same rules: the facts they kept last time are these facts.
        if let Some(tree_stamp) = whole_tree
            && let Some(facts) = snapshot::kept_facts(cache, files, reading.settings(), tree_stamp)
        {
            return facts;
        }
        let layout = layout::Layout::new(tree);
        let loading = crate::timings::phase("python: snapshot load");
        let earlier = snapshot::Snapshot::load(cache, files);
        drop(loading);
        let reading_files = crate::timings::phase("python: read");
        let run: Vec<snapshot::ThisRun> = files
            .par_iter()
            .zip(&stamps)
            .map(|(file, &stamp)| {
                let place = layout.place(&file.abs);
                let in_test = is_test_module(&place.segments);
                if let Some(read) = earlier.reuse(&file.abs, stamp, &place, in_test) {
                    return snapshot::ThisRun {
                        read,
                        stamp,
                        in_test,
                        reused: true,
                    };
                }
                let key = tree
                    .content_id(&file.abs)
                    .map(|id| format!("python:{id}:{}:{}:{in_test}", place.segments.join("."), place.package));
                let read = match tree.read(&file.abs).map(String::from_utf8) {
                    // What a file says depends on its module as well as its content (two identical
                    // files in two modules define two things): both make the key.
                    Ok(Ok(text)) => cache.get_or_parse(key.as_deref(), || {
                        // A bug met in one file costs that file, reported, not the run.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read::read(&text, &place, in_test)))
                            .unwrap_or_else(|_| read::ReadFile {
                                problem: Some(FileProblem::internal("the Python frontend failed on this file")),
                                ..unreadable(&place, "")
                            })
                    }),
                    Ok(Err(_)) => Arc::new(unreadable(&place, "the file is not UTF-8 text")),
                    Err(error) => Arc::new(unreadable(&place, &format!("cannot read the file: {error}"))),
                };
                snapshot::ThisRun {
                    read,
                    stamp,
                    in_test,
                    reused: false,
                }
            })
            .collect();
        drop(reading_files);
        let resolving = crate::timings::phase("python: resolve");
        let refs: Vec<&read::ReadFile> = run.iter().map(|r| r.read.as_ref()).collect();
        let index = resolve::Index::new(&refs);
        let facts: Vec<FileFacts> = (0..files.len())
            .into_par_iter()
            .map(|i| {
                let mut facts = index.facts(i, keep);
                facts.path = files[i].display.clone();
                facts.in_test = run[i].in_test;
                facts
            })
            .collect();
        drop(resolving);
        let _storing = crate::timings::phase("python: snapshot store");
        earlier.store(cache, files, &run);
        if let Some(tree_stamp) = whole_tree {
            snapshot::keep_facts(cache, files, reading.settings(), tree_stamp, &facts);
        }
        facts
    }
}

/// What is known of a file that could not be read: its module, and why.
fn unreadable(place: &layout::ModulePlace, why: &str) -> read::ReadFile {
    read::ReadFile {
        module: place.segments.join("::"),
        package: place.package,
        problem: Some(FileProblem::parse(why, None)),
        ..read::ReadFile::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_modules_are_known_by_package_and_name() {
        let test = |module: &str| is_test_module(&module.split('.').map(str::to_owned).collect::<Vec<_>>());
        assert!(test("tests.test_router"));
        assert!(test("app.ws.router_test"));
        assert!(test("app.conftest"));
        assert!(!test("app.ws.router"));
        assert!(!test("app.contest"));
        assert!(!test("app.testing.fixtures"));
    }
}
