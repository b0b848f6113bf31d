//! Which module each Rust file is: follow `mod` declarations from every crate root, the way rustc does.
//!
//! `mod foo;` in `src/a.rs` is `src/a/foo.rs` or `src/a/foo/mod.rs`; in `lib.rs`, `main.rs` or `mod.rs`
//! it is a sibling. `#[path]` overrides both, and inline `mod x { mod y; }` adds `x/` to the directory.
//! A file no crate root reaches gets a module path from where it lies.
//!
//! Layer invariant: reads the raw model's `mod` declarations and the workspace's crates; no parser, no
//! resolution.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::raw::{ParsedFile, ScopeKind};
use super::text::cfg;
use crate::workspace::{SourceFile, Workspace};

/// The module a file is, and whether it is test code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileModule {
    /// Absolute module path (`gateway::ws::router`).
    pub path: String,
    /// In a test target or reached only through `#[cfg(test)]` modules.
    pub in_test: bool,
    /// The `cfg` under which the module is compiled: those of the `mod` declarations that reach it
    /// and its file's inner `#![cfg(..)]` (canonical text, see `text::cfg`).
    pub cfg: Option<String>,
}

/// Assigns a module to every file.
pub(crate) fn assign(workspace: &Workspace, files: &[SourceFile], parsed: &[&ParsedFile]) -> Vec<FileModule> {
    let by_path: HashMap<&Path, usize> = files.iter().enumerate().map(|(i, f)| (f.abs.as_path(), i)).collect();
    let mut modules: Vec<Option<FileModule>> = vec![None; files.len()];
    let mut queue: Vec<(usize, PathBuf)> = Vec::new();
    // Every declaration that reaches a file as the module it was given: (parent, declaration's cfg,
    // child). A file declared in several `cfg_if!` branches is compiled when any of them is taken.
    let mut reaching: Vec<(usize, Option<String>, usize)> = Vec::new();

    // The library and binaries first: a file they compile is theirs even when a test target also
    // includes it (`#[path = "../src/lexical/mod.rs"] mod lexical;` in a test).
    for test_targets in [false, true] {
        for krate in &workspace.crates {
            for root in krate.targets.iter().filter(|t| t.test == test_targets) {
                let Some(&index) = by_path.get(root.file.as_path()) else {
                    continue;
                };
                if modules[index].is_some() {
                    continue;
                }
                modules[index] = Some(FileModule {
                    path: root.crate_name.clone(),
                    in_test: root.test,
                    cfg: parsed[index].inner_cfg.clone(),
                });
                queue.push((index, parent_dir(&root.file)));
            }
        }
        follow_declarations(files, parsed, &by_path, &mut modules, &mut queue, &mut reaching);
    }
    settle_cfgs(&mut modules, parsed, &reaching);

    modules
        .into_iter()
        .zip(files)
        .zip(parsed)
        .map(|((module, file), parsed)| {
            module.unwrap_or_else(|| FileModule {
                cfg: parsed.inner_cfg.clone(),
                ..module_from_location(workspace, file)
            })
        })
        .collect()
}

/// Follows the `mod` declarations of the queued files (and of the files they reach) to the files they
/// declare, giving each its module.
fn follow_declarations(
    files: &[SourceFile],
    parsed: &[&ParsedFile],
    by_path: &HashMap<&Path, usize>,
    modules: &mut [Option<FileModule>],
    queue: &mut Vec<(usize, PathBuf)>,
    reaching: &mut Vec<(usize, Option<String>, usize)>,
) {
    while let Some((index, dir)) = queue.pop() {
        let parent = modules[index].clone().expect("queued files have a module");
        let file = parsed[index];
        for decl in file.modules.iter().filter(|m| !m.inline) {
            let chain = inline_chain(file, decl.scope);
            let base = chain.iter().fold(dir.clone(), |d, name| d.join(name));
            let at_path = |path: &str| match chain.is_empty() {
                true => parent_dir(&files[index].abs).join(path),
                false => base.join(path),
            };
            // Where the module's file is, and under which extra predicate: `#[path]`, or each
            // `#[cfg_attr(p, path = ..)]` and the usual places where none of those predicates holds.
            let mut alternatives: Vec<(Vec<PathBuf>, Option<String>, bool)> = Vec::new();
            match &decl.path_attr {
                Some(path) => alternatives.push((vec![at_path(path)], None, true)),
                None => {
                    for (predicate, path) in &decl.cfg_paths {
                        alternatives.push((vec![at_path(path)], Some(predicate.clone()), true));
                    }
                    let otherwise = (!decl.cfg_paths.is_empty()).then(|| {
                        let any: Vec<&str> = decl.cfg_paths.iter().map(|(p, _)| p.as_str()).collect();
                        format!("not(any({}))", any.join(","))
                    });
                    let usual = vec![
                        base.join(format!("{}.rs", decl.name)),
                        base.join(&decl.name).join("mod.rs"),
                    ];
                    alternatives.push((usual, otherwise, false));
                }
            }
            let mut path = parent.path.clone();
            for segment in chain.iter().chain(std::iter::once(&decl.name)) {
                path.push_str("::");
                path.push_str(segment);
            }
            for (candidates, extra, by_attribute) in alternatives {
                let Some(&child) = candidates.iter().find_map(|c| by_path.get(normalize(c).as_path())) else {
                    continue;
                };
                let decl_cfg = cfg::all_of(&[decl.cfg.clone(), extra].into_iter().flatten().collect::<Vec<_>>());
                if let Some(known) = &modules[child] {
                    if known.path == path {
                        reaching.push((index, decl_cfg, child));
                    }
                    continue;
                }
                reaching.push((index, decl_cfg.clone(), child));
                let reached: Vec<String> = [&parent.cfg, &decl_cfg, &parsed[child].inner_cfg]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                modules[child] = Some(FileModule {
                    path: path.clone(),
                    in_test: parent.in_test || decl.in_test,
                    cfg: cfg::all_of(&reached),
                });
                let child_file = &files[child].abs;
                let child_dir = if by_attribute || child_file.file_name().is_some_and(|n| n == "mod.rs") {
                    parent_dir(child_file)
                } else {
                    parent_dir(child_file).join(child_file.file_stem().unwrap_or_default())
                };
                queue.push((child, child_dir));
            }
        }
    }
}

/// Gives each file reached by several declarations of its module the cfg of any of them, and passes
/// that on to the files below it: a file is compiled when some declaration that reaches it is.
fn settle_cfgs(
    modules: &mut [Option<FileModule>],
    parsed: &[&ParsedFile],
    reaching: &[(usize, Option<String>, usize)],
) {
    let mut several = vec![0usize; modules.len()];
    for (_, _, child) in reaching {
        several[*child] += 1;
    }
    if several.iter().all(|n| *n <= 1) {
        return;
    }
    // Each round widens a file by the declarations that reach it; the module tree is shallow, and the
    // rounds stop when nothing changes (or after a bound, should declarations form a cycle).
    for _ in 0..16 {
        let mut changed = false;
        for (parent, decl_cfg, child) in reaching {
            let (Some(parent_cfg), Some(child_module)) =
                (modules[*parent].as_ref().map(|m| m.cfg.clone()), &modules[*child])
            else {
                continue;
            };
            let reached: Vec<String> = [&parent_cfg, decl_cfg, &parsed[*child].inner_cfg]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let through_this = cfg::all_of(&reached);
            let widened = match (&child_module.cfg, &through_this) {
                (None, _) | (_, None) => None,
                (Some(known), Some(this)) if known == this || known.contains(this.as_str()) => Some(known.clone()),
                (Some(known), Some(this)) => Some(format!("any({known},{this})")),
            };
            if widened != child_module.cfg {
                if let Some(module) = modules[*child].as_mut() {
                    module.cfg = widened;
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Names of the inline modules around a scope, outermost first.
fn inline_chain(file: &ParsedFile, scope: usize) -> Vec<String> {
    let mut chain = Vec::new();
    let mut current = Some(scope);
    while let Some(id) = current {
        let scope = &file.scopes[id];
        if let ScopeKind::Module(Some(name)) = &scope.kind {
            chain.push(name.clone());
        }
        current = scope.parent;
    }
    chain.reverse();
    chain
}

fn parent_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Removes `.` and `..` components without touching the file system (`#[path = "../x.rs"]`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A module path for a file no crate root reaches: its place under the crate (or the scanned root).
fn module_from_location(workspace: &Workspace, file: &SourceFile) -> FileModule {
    let (prefix, relative) = match file.krate.map(|k| &workspace.crates[k]) {
        Some(krate) => {
            let relative = file.abs.strip_prefix(&krate.dir).unwrap_or(&file.abs);
            let relative = relative.strip_prefix("src").unwrap_or(relative);
            (Some(krate.name.clone()), relative.to_path_buf())
        }
        None => (
            None,
            file.abs.strip_prefix(&file.root).unwrap_or(&file.abs).to_path_buf(),
        ),
    };
    let mut segments: Vec<String> = prefix.into_iter().collect();
    let components: Vec<String> = relative
        .with_extension("")
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .map(|c| c.replace('-', "_"))
        .collect();
    let in_test = components.iter().any(|c| c == "tests" || c == "benches");
    segments.extend(components);
    if segments.len() > 1 && matches!(segments.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        segments.pop();
    }
    FileModule {
        path: segments.join("::"),
        in_test,
        cfg: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_parent_components() {
        assert_eq!(normalize(Path::new("/a/b/../c/./d.rs")), PathBuf::from("/a/c/d.rs"));
    }
}
