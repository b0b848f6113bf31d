//! Where a Python file sits in the module namespace: its dotted module path, from the package layout.
//!
//! A file's import root is its project's source folder when it belongs to a project (the nearest folder
//! above it with `pyproject.toml`, `setup.py` or `setup.cfg`): the folder a setuptools
//! `packages.find.where` or `package-dir` names (in `pyproject.toml` or `setup.cfg`), or a Poetry
//! `packages` entry's `from`, else `src/` when the file is under it, else the project folder itself. Below that root every folder is a package,
//! regular (`__init__.py`) or namespace (PEP 420). A file outside any project is imported the classic
//! way: its root is the folder above the topmost `__init__.py` package holding it.
//!
//! Layer invariant: reads the file tree only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::workspace::FileTree;

/// The files that mark a project folder.
const PROJECT_FILES: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// A file's place in the module namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ModulePlace {
    /// The module's segments (`["netra", "app", "ws"]`).
    pub segments: Vec<String>,
    /// An `__init__.py`: the module is a package, and relative imports start from itself.
    pub package: bool,
}

impl ModulePlace {
    /// The package relative imports of this module start from (`from . import x`).
    pub fn anchor(&self) -> &[String] {
        match self.package {
            true => &self.segments,
            false => &self.segments[..self.segments.len().saturating_sub(1)],
        }
    }
}

/// Finds module places, remembering what it learned of each folder.
pub(crate) struct Layout<'t> {
    tree: &'t dyn FileTree,
    /// Folder -> the import roots of the project it is the folder of (`None`: not a project).
    projects: Mutex<HashMap<PathBuf, Option<Vec<PathBuf>>>>,
}

impl<'t> Layout<'t> {
    /// A layout reading project files through `tree`.
    pub fn new(tree: &'t dyn FileTree) -> Self {
        Layout {
            tree,
            projects: Mutex::new(HashMap::new()),
        }
    }

    /// The module place of the Python file at `file` (absolute).
    pub fn place(&self, file: &Path) -> ModulePlace {
        let folder = file.parent().unwrap_or(Path::new(""));
        let root = self
            .project_root(folder, file)
            .unwrap_or_else(|| self.classic_root(folder));
        let relative = file
            .strip_prefix(&root)
            .unwrap_or(Path::new(file.file_name().unwrap_or_default()));
        let mut segments: Vec<String> = relative
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        let last = segments.pop().unwrap_or_default();
        let stem = last.strip_suffix(".py").unwrap_or(&last).to_owned();
        let package = stem == "__init__";
        if !package {
            segments.push(stem);
        } else if segments.is_empty() {
            // An `__init__.py` at the root itself: the package is its folder.
            segments.push(
                folder
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
        ModulePlace { segments, package }
    }

    /// The import root of the nearest project above `folder` that holds `file`.
    fn project_root(&self, folder: &Path, file: &Path) -> Option<PathBuf> {
        folder.ancestors().find_map(|dir| {
            let roots = self.project_roots(dir)?;
            // The deepest root holding the file (a project's `src/` over the project itself).
            let holding = roots
                .iter()
                .filter(|root| file.starts_with(root))
                .max_by_key(|root| root.components().count())
                .cloned();
            Some(holding.unwrap_or_else(|| dir.to_path_buf()))
        })
    }

    /// The import roots of the project whose folder is `dir`, or `None` when it is not a project folder.
    fn project_roots(&self, dir: &Path) -> Option<Vec<PathBuf>> {
        let lock = || self.projects.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = lock().get(dir) {
            return known.clone();
        }
        let found = PROJECT_FILES
            .iter()
            .any(|name| self.tree.is_file(&dir.join(name)))
            .then(|| {
                let mut roots = configured_roots(self.tree, dir);
                roots.extend(setup_cfg_roots(self.tree, dir));
                roots.push(dir.join("src"));
                roots.push(dir.to_path_buf());
                roots
            });
        lock().insert(dir.to_path_buf(), found.clone());
        found
    }

    /// The folder above the topmost regular package holding `folder` (or `folder` itself).
    fn classic_root(&self, folder: &Path) -> PathBuf {
        let mut root = folder;
        while self.tree.is_file(&root.join("__init__.py")) {
            match root.parent() {
                Some(parent) => root = parent,
                None => break,
            }
        }
        root.to_path_buf()
    }
}

/// The source folders a project's `pyproject.toml` names: setuptools' `packages.find.where` and
/// `package-dir` root, Poetry's `packages[].from`.
fn configured_roots(tree: &dyn FileTree, dir: &Path) -> Vec<PathBuf> {
    let Ok(bytes) = tree.read(&dir.join("pyproject.toml")) else {
        return Vec::new();
    };
    let Ok(table) = String::from_utf8_lossy(&bytes).parse::<toml::Table>() else {
        return Vec::new();
    };
    let at = |path: &[&str]| -> Option<&toml::Value> {
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(table.get(*first)?, |value, key| value.get(key))
    };
    let mut roots = Vec::new();
    let strings = |value: Option<&toml::Value>| -> Vec<String> {
        match value {
            Some(toml::Value::String(s)) => vec![s.clone()],
            Some(toml::Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    roots.extend(strings(at(&["tool", "setuptools", "packages", "find", "where"])));
    roots.extend(strings(at(&["tool", "setuptools", "package-dir", ""])));
    if let Some(toml::Value::Array(packages)) = at(&["tool", "poetry", "packages"]) {
        roots.extend(
            packages
                .iter()
                .filter_map(|p| p.get("from")?.as_str().map(str::to_owned)),
        );
    }
    roots
        .into_iter()
        .filter(|r| !r.is_empty() && r != ".")
        .map(|r| dir.join(r))
        .collect()
}

/// The source folders a project's `setup.cfg` names: `[options.packages.find] where` and the root entry
/// of `[options] package_dir` (`=lib`).
fn setup_cfg_roots(tree: &dyn FileTree, dir: &Path) -> Vec<PathBuf> {
    let Ok(bytes) = tree.read(&dir.join("setup.cfg")) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut section = String::new();
    let mut key = String::new();
    let mut roots = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_owned();
            key.clear();
            continue;
        }
        // An indented line continues the last key's value.
        let value = if line.starts_with([' ', '\t']) && !key.is_empty() {
            trimmed.to_owned()
        } else {
            let Some((k, v)) = trimmed.split_once(['=', ':']) else {
                continue;
            };
            key = k.trim().to_owned();
            v.trim().to_owned()
        };
        match (section.as_str(), key.as_str()) {
            ("options.packages.find", "where") if !value.is_empty() => roots.push(value),
            ("options", "package_dir") => {
                if let Some(("", folder)) = value.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                    roots.push(folder.to_owned());
                }
            }
            _ => {}
        }
    }
    roots
        .into_iter()
        .filter(|r| !r.is_empty() && r != ".")
        .map(|r| dir.join(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::Disk;

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).ok();
        std::fs::write(path, text).ok();
    }

    fn place(dir: &Path, file: &str) -> (String, bool) {
        let place = Layout::new(&Disk).place(&dir.join(file));
        (place.segments.join("."), place.package)
    }

    #[test]
    fn a_project_roots_its_modules_at_src_or_at_itself() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        write(root, "one/pyproject.toml", "[project]\nname = 'one'\n");
        write(root, "one/src/pkg/__init__.py", "");
        write(root, "one/src/pkg/mod.py", "");
        write(root, "one/tests/test_mod.py", "");
        write(root, "two/setup.py", "");
        write(root, "two/ns/inner/deep.py", "");
        assert_eq!(place(root, "one/src/pkg/__init__.py"), ("pkg".into(), true));
        assert_eq!(place(root, "one/src/pkg/mod.py"), ("pkg.mod".into(), false));
        assert_eq!(place(root, "one/tests/test_mod.py"), ("tests.test_mod".into(), false));
        // A namespace package (no `__init__.py`) below the project root.
        assert_eq!(place(root, "two/ns/inner/deep.py"), ("ns.inner.deep".into(), false));
    }

    #[test]
    fn configured_source_folders_are_roots() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        write(
            root,
            "pyproject.toml",
            "[tool.setuptools.packages.find]\nwhere = [\"lib\"]\n",
        );
        write(root, "lib/app/core.py", "");
        assert_eq!(place(root, "lib/app/core.py"), ("app.core".into(), false));
        write(root, "other/setup.cfg", "[options]\npackage_dir =\n    =code\n");
        write(root, "other/code/thing/part.py", "");
        assert_eq!(place(root, "other/code/thing/part.py"), ("thing.part".into(), false));
    }

    #[test]
    fn outside_a_project_the_topmost_package_decides() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        write(root, "code/app/__init__.py", "");
        write(root, "code/app/ws/__init__.py", "");
        write(root, "code/app/ws/router.py", "");
        write(root, "code/script.py", "");
        assert_eq!(place(root, "code/app/ws/router.py"), ("app.ws.router".into(), false));
        assert_eq!(place(root, "code/app/ws/__init__.py"), ("app.ws".into(), true));
        assert_eq!(place(root, "code/script.py"), ("script".into(), false));
        let anchor = Layout::new(&Disk).place(&root.join("code/app/ws/router.py"));
        assert_eq!(anchor.anchor(), ["app", "ws"]);
    }
}
