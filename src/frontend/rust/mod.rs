//! The Rust frontend: syn parses each file in parallel, `mod` declarations give each file its module,
//! and name resolution makes every path absolute.

mod aliases;
mod lex;
mod modules;
mod resolve;
mod skim;
mod suppressions;
mod syntax;

use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use std::sync::Arc;

use super::{Frontend, ParseCache};
use crate::facts::{FileFacts, FileProblem, Span};
use crate::workspace::{FileTree, SourceFile, Workspace};
use syntax::ParsedFile;

/// Reads `.rs` files with syn.
pub struct RustFrontend;

impl Frontend for RustFrontend {
    fn handles(&self, file: &SourceFile) -> bool {
        file.abs.extension().is_some_and(|e| e == "rs")
    }

    fn analyze(
        &self,
        workspace: &Workspace,
        files: &[SourceFile],
        tree: &dyn FileTree,
        cache: &ParseCache,
        prune: &super::Prune<'_>,
    ) -> Vec<FileFacts> {
        let loading = crate::timings::phase("load/parse");
        let words = cache.words();
        let mut parsed: Vec<Arc<ParsedFile>> = files.par_iter().map(|file| load(file, tree, cache, words)).collect();
        drop(loading);
        let indexing = crate::timings::phase("modules+index");
        let modules = modules::assign(workspace, files, &parsed.iter().map(Arc::as_ref).collect::<Vec<_>>());
        reparse_through_aliases(&mut parsed, &modules, files, tree, cache);
        let borrowed: Vec<&ParsedFile> = parsed.iter().map(Arc::as_ref).collect();

        let crates = workspace
            .crates
            .iter()
            .flat_map(|c| c.targets.iter().map(|t| t.crate_name.clone()));
        let mut index = resolve::WorkspaceIndex {
            crates: crates.collect(),
            ..Default::default()
        };
        let names: Vec<_> = borrowed
            .par_iter()
            .zip(&modules)
            .map(|(file, module)| resolve::declared_names(file, module))
            .collect();
        names.into_iter().for_each(|names| index.add_names(names));
        let reexports: Vec<_> = borrowed
            .par_iter()
            .zip(&modules)
            .map(|(file, module)| resolve::reexports(file, module, &index))
            .collect();
        index.add_reexports(reexports.into_iter().flatten());
        drop(borrowed);
        drop(indexing);
        let _resolving = crate::timings::phase("resolve");

        // Each parse is dropped as soon as its file is resolved: only one form of a file is kept at a time.
        parsed
            .into_par_iter()
            .zip(modules)
            .zip(files)
            .map(|((file, module), source)| {
                let resolved = catch_unwind(AssertUnwindSafe(|| resolve::resolve_file(&file, &module, &index)));
                drop(file);
                let mut facts = resolved.unwrap_or_else(|_| internal_error(module.path.clone()));
                facts.path = source.display.clone();
                prune(&mut facts);
                facts
            })
            .collect()
    }
}

/// Skimming left out the bodies that mention none of the words; a body can still reach an interesting item
/// through another file's re-export under a new name. Files with skipped bodies that mention such a name
/// are parsed again, with the names added to the words.
fn reparse_through_aliases(
    parsed: &mut [Arc<ParsedFile>],
    modules: &[modules::FileModule],
    files: &[SourceFile],
    tree: &dyn FileTree,
    cache: &ParseCache,
) {
    let words = cache.words();
    if !words.skips_bodies() {
        return;
    }
    let borrowed: Vec<&ParsedFile> = parsed.iter().map(Arc::as_ref).collect();
    let names = aliases::reexported_names(&borrowed, modules, words.followed());
    drop(borrowed);
    if names.is_empty() {
        return;
    }
    let Ok(finder) = aho_corasick::AhoCorasick::new(&names) else {
        return;
    };
    let wider = super::BodyWords::new(Some(
        words.words().iter().cloned().chain(names.iter().cloned()).collect(),
    ))
    .following(words.followed().iter().cloned().chain(names).collect());
    // The names are whole identifiers: a match inside a longer one does not count.
    let mentions = |bytes: &[u8]| {
        let ident = |at: Option<&u8>| at.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80);
        finder
            .find_overlapping_iter(bytes)
            .any(|m| !ident(m.start().checked_sub(1).and_then(|at| bytes.get(at))) && !ident(bytes.get(m.end())))
    };
    parsed.par_iter_mut().zip(files).for_each(|(file, source)| {
        if file.skipped_bodies && tree.read(&source.abs).is_ok_and(|bytes| mentions(&bytes)) {
            *file = load(source, tree, cache, &wider);
        }
    });
}

/// The facts of one file on its own (module `main`, no workspace around it): what fuzzing and property
/// tests drive. Never panics: a failure is the file's problem.
pub fn analyze_source(bytes: &[u8]) -> FileFacts {
    let parsed = parse_bytes(bytes, &super::BodyWords::default());
    let module = modules::FileModule {
        path: "main".to_owned(),
        in_test: false,
    };
    let mut index = resolve::WorkspaceIndex::default();
    let resolved = catch_unwind(AssertUnwindSafe(|| {
        index.add_names(resolve::declared_names(&parsed, &module));
        let reexports = resolve::reexports(&parsed, &module, &index);
        index.add_reexports(reexports);
        resolve::resolve_file(&parsed, &module, &index)
    }));
    resolved.unwrap_or_else(|_| internal_error(module.path.clone()))
}

/// A file's parse with `words`: from the in-memory cache by content id (git blobs), else from the disk
/// cache by content hash, else parsed (and stored).
fn load(file: &SourceFile, tree: &dyn FileTree, cache: &ParseCache, words: &super::BodyWords) -> Arc<ParsedFile> {
    if let Some(id) = tree.content_id(&file.abs) {
        let id = format!("{id}/{:x}", words.fingerprint());
        return cache.get_or_parse(Some(&id), || read_and_parse(file, tree, words));
    }
    let bytes = match tree.read(&file.abs) {
        Ok(bytes) => bytes,
        Err(error) => return Arc::new(unreadable(&error)),
    };
    let key = cache
        .disk()
        .map(|_| crate::cache::FactCache::key(&bytes, words.fingerprint()));
    if let (Some(disk), Some(key)) = (cache.disk(), &key)
        && let Some(hit) = disk.load::<ParsedFile>(key)
    {
        return Arc::new(hit);
    }
    cache.count_parse();
    let parsed = parse_bytes(&bytes, words);
    let internal = parsed
        .problem
        .as_ref()
        .is_some_and(|p| p.kind == crate::facts::ProblemKind::InternalError);
    if let (Some(disk), Some(key), false) = (cache.disk(), &key, internal) {
        disk.store(key, &parsed);
    }
    Arc::new(parsed)
}

fn unreadable(error: &std::io::Error) -> ParsedFile {
    ParsedFile::unparsable(FileProblem::parse(format!("cannot read file: {error}"), None))
}

fn read_and_parse(file: &SourceFile, tree: &dyn FileTree, words: &super::BodyWords) -> ParsedFile {
    match tree.read(&file.abs) {
        Ok(bytes) => parse_bytes(&bytes, words),
        Err(error) => unreadable(&error),
    }
}

/// Decodes and parses one file; a panic inside syn or the collector is that file's problem, not the run's.
fn parse_bytes(bytes: &[u8], words: &super::BodyWords) -> ParsedFile {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let at = error.valid_up_to();
            let line = bytes[..at].iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let column = bytes[..at].iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            let span = Span {
                line,
                column,
                start: at,
                end: at + 1,
            };
            let message = format!("file is not valid UTF-8 (invalid byte at offset {at})");
            return ParsedFile::unparsable(FileProblem::parse(message, Some(span)));
        }
    };
    catch_unwind(AssertUnwindSafe(|| syntax::parse(text, words))).unwrap_or_else(|_| {
        ParsedFile::unparsable(FileProblem::internal("the analyzer failed while parsing this file"))
    })
}

fn internal_error(module: String) -> FileFacts {
    FileFacts {
        module,
        problem: Some(FileProblem::internal("the analyzer failed while resolving this file")),
        ..FileFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_parsing_one_file_is_that_files_internal_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("bad.rs"), format!("// {}\n", syntax::PANIC_FOR_TESTS)).expect("write");
        std::fs::write(dir.path().join("good.rs"), "pub struct Fine;\n").expect("write");
        let workspace = crate::workspace::scan(dir.path(), &[std::path::PathBuf::from(".")], &[]).expect("scan");
        let facts = crate::frontend::analyze(&workspace);
        let bad = facts.iter().find(|f| f.path == "bad.rs").expect("bad.rs");
        assert_eq!(
            bad.problem.as_ref().map(|p| p.kind),
            Some(crate::facts::ProblemKind::InternalError)
        );
        let good = facts.iter().find(|f| f.path == "good.rs").expect("good.rs");
        assert_eq!(good.definitions.len(), 1, "the rest of the report stands");
    }
}
