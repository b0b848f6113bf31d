//! The Rust frontend: syn parses each file in parallel, `mod` declarations give each file its module,
//! and name resolution makes every path absolute.

mod modules;
mod resolve;
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
    ) -> Vec<FileFacts> {
        let parsed: Vec<Arc<ParsedFile>> = files
            .par_iter()
            .map(|file| cache.get_or_parse(tree.content_id(&file.abs).as_deref(), || parse_file(file, tree)))
            .collect();
        let parsed: Vec<&ParsedFile> = parsed.iter().map(Arc::as_ref).collect();
        let modules = modules::assign(workspace, files, &parsed);

        let mut index = resolve::WorkspaceIndex {
            crates: workspace
                .crates
                .iter()
                .flat_map(|c| c.targets.iter().map(|t| t.crate_name.clone()))
                .collect(),
            ..Default::default()
        };
        for (file, module) in parsed.iter().zip(&modules) {
            resolve::index_entries(file, module, &mut index);
        }

        parsed
            .par_iter()
            .zip(&modules)
            .zip(files)
            .map(|((file, module), source)| {
                let resolved = catch_unwind(AssertUnwindSafe(|| resolve::resolve_file(file, module, &index)));
                let mut facts = resolved.unwrap_or_else(|_| internal_error(module.path.clone()));
                facts.path = source.display.clone();
                facts
            })
            .collect()
    }
}

/// Reads and parses one file; a panic inside syn or the collector is that file's problem, not the run's.
fn parse_file(file: &SourceFile, tree: &dyn FileTree) -> ParsedFile {
    let bytes = match tree.read(&file.abs) {
        Ok(bytes) => bytes,
        Err(error) => {
            return ParsedFile::unparsable(FileProblem::parse(format!("cannot read file: {error}"), None));
        }
    };
    let text = match std::str::from_utf8(&bytes) {
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
    catch_unwind(AssertUnwindSafe(|| syntax::parse(text))).unwrap_or_else(|_| {
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
