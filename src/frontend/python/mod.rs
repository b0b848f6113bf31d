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

/// Whether a file is test code by where it is and what it is called: under a `tests` or `test` folder,
/// `test_*.py`, `*_test.py`, or `conftest.py`.
fn is_test_file(display: &str) -> bool {
    let mut parts = display.split('/');
    let name = parts.next_back().unwrap_or(display);
    parts.any(|p| p == "tests" || p == "test")
        || name.starts_with("test_")
        || name.ends_with("_test.py")
        || name == "conftest.py"
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
        _reading: &Reading,
        keep: &Keep<'_>,
    ) -> Vec<FileFacts> {
        if files.is_empty() {
            return Vec::new();
        }
        let layout = layout::Layout::new(tree);
        let earlier = snapshot::Snapshot::load(cache, files);
        let read: Vec<(Arc<read::ReadFile>, Option<u64>, bool)> = files
            .par_iter()
            .map(|file| {
                let place = layout.place(&file.abs);
                let in_test = is_test_file(&file.display);
                let stamp = tree.stamp(&file.abs);
                if let Some(kept) = earlier.reuse(&file.abs, stamp, &place, in_test) {
                    return (kept, stamp, in_test);
                }
                let read = match tree.read(&file.abs).map(String::from_utf8) {
                    Ok(Ok(text)) => cache.get_or_parse(tree.content_id(&file.abs).as_deref(), || {
                        read::read(&text, &place, in_test)
                    }),
                    Ok(Err(_)) => Arc::new(unreadable(&place, "the file is not UTF-8 text")),
                    Err(error) => Arc::new(unreadable(&place, &format!("cannot read the file: {error}"))),
                };
                (read, stamp, in_test)
            })
            .collect();
        earlier.store(cache, files, &read);
        let refs: Vec<&read::ReadFile> = read.iter().map(|(r, _, _)| r.as_ref()).collect();
        let index = resolve::Index::new(&refs);
        (0..files.len())
            .into_par_iter()
            .map(|i| {
                let mut facts = index.facts(i, keep);
                facts.path = files[i].display.clone();
                facts.in_test = read[i].2;
                facts
            })
            .collect()
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
    fn test_files_are_known_by_folder_and_name() {
        assert!(is_test_file("tests/test_router.py"));
        assert!(is_test_file("app/ws/router_test.py"));
        assert!(is_test_file("app/conftest.py"));
        assert!(!is_test_file("app/ws/router.py"));
        assert!(!is_test_file("app/contest.py"));
    }
}
