//! File globs written in a rule file (`allow-in`): relative to the folder of the rule file that states
//! them, like `[scan] exclude`, so the same rules select the same files from any working directory and
//! whether the paths to check are given relative or absolute.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use toml::Spanned;

use super::{OneOrMany, ParamError};

/// Compiled file globs and the folder they are relative to.
#[derive(Debug, Default)]
pub(crate) struct FileGlobs {
    /// The rule file's folder.
    dir: PathBuf,
    /// The folder reported paths are relative to.
    base: PathBuf,
    globs: GlobSet,
}

impl FileGlobs {
    /// Compiles `list`, written in a rule file in `dir`, for paths reported relative to `base`; points at
    /// the list when a glob is invalid.
    pub(crate) fn new(list: Option<&Spanned<OneOrMany>>, dir: &Path, base: &Path) -> Result<Self, ParamError> {
        let mut builder = GlobSetBuilder::new();
        if let Some(list) = list {
            for text in &list.get_ref().0 {
                let glob = Glob::new(text).map_err(|e| {
                    ParamError::at(list.span(), format!("`{text}` is not a valid file glob: {}", e.kind()))
                })?;
                builder.add(glob);
            }
        }
        let globs = builder
            .build()
            .map_err(|e| ParamError::at(list.map(Spanned::span).unwrap_or(0..0), e.to_string()))?;
        Ok(FileGlobs {
            dir: dir.to_path_buf(),
            base: base.to_path_buf(),
            globs,
        })
    }

    /// Whether a reported path (relative to the base, or absolute) matches, relative to the rule file
    /// (`../src/**` reaches the rule folder's parent).
    pub(crate) fn is_match(&self, path: &str) -> bool {
        !self.globs.is_empty() && self.globs.is_match(relative_to(&self.base.join(path), &self.dir))
    }
}

/// `path` relative to `dir` (both absolute), going up with `..` where it lies outside it.
fn relative_to(path: &Path, dir: &Path) -> PathBuf {
    let path: Vec<_> = path.components().collect();
    let dir: Vec<_> = dir.components().collect();
    let common = path.iter().zip(&dir).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in common..dir.len() {
        relative.push("..");
    }
    relative.extend(&path[common..]);
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(list: &[&str], dir: &str, base: &str) -> FileGlobs {
        let list = Spanned::new(0..0, OneOrMany(list.iter().map(|s| s.to_string()).collect()));
        FileGlobs::new(Some(&list), Path::new(dir), Path::new(base)).expect("valid globs")
    }

    #[test]
    fn globs_are_relative_to_the_rule_file_wherever_the_run_starts() {
        let from_root = globs(&["crates/utils/**"], "/repo", "/repo");
        let from_elsewhere = globs(&["crates/utils/**"], "/repo", "/home/me");
        let from_inside = globs(&["crates/utils/**"], "/repo", "/repo/crates");
        assert!(from_root.is_match("crates/utils/src/lib.rs"));
        assert!(from_elsewhere.is_match("/repo/crates/utils/src/lib.rs"));
        assert!(from_inside.is_match("utils/src/lib.rs"));
        assert!(!from_root.is_match("crates/api/src/lib.rs"));
        assert!(!from_elsewhere.is_match("/other/crates/utils/src/lib.rs"));
        let above = globs(&["../src/reader/**"], "/repo/rules", "/repo");
        assert!(above.is_match("src/reader/mod.rs"));
        assert!(!above.is_match("rules/src/reader/mod.rs"));
    }
}
