//! Names that stand for what the rules' words name: re-exports under another name.
//!
//! Skimming keeps a function body when it mentions one of the words, or when its file's `use` items do.
//! A body in another file can still reach an interesting item without ever mentioning the word: through
//! a `pub use` that renames it (`pub use crate::legacy as old;` then `crate::old::make()`), or a glob
//! re-export in a module with another name (`mod compat { pub use crate::legacy::*; }`). Those new names
//! are found here, over every file's imports, until no re-export adds one; files that mention one are
//! then parsed again with the wider set of words.
//!
//! Layer invariant: the top of the per-run passes below `mod.rs`: reads `load`, `modules`, `pack`
//! and `raw`.

use super::load::{Loaded, load};
use super::modules::FileModule;
use super::pack::ParsePack;
use super::raw::{ParsedFile, ScopeKind};
use crate::frontend::{BodyWords, ParseCache};
use crate::workspace::{FileTree, SourceFile, Workspace};

/// The names of [`reexports`], each once, in the order found.
pub(crate) fn names_of(reexports: &[(String, usize)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (name, _) in reexports {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The crates (by index) that may name what a re-export of `reexports` names: those whose code can
/// reach a crate whose files give one (`krates`, by file), itself or through its dependencies, however
/// deep. `None` when that cannot be told (a file outside every crate gives one).
pub(crate) fn crates_reaching(
    reexports: &[(String, usize)],
    krates: &[Option<usize>],
    workspace: &Workspace,
) -> Option<std::collections::HashSet<usize>> {
    let mut reached: std::collections::HashSet<usize> = std::collections::HashSet::new();
    for (_, file) in reexports {
        reached.insert(krates[*file]?);
    }
    // Dependencies by package (every version of one: a crate's own version is not matched); one not
    // scanned holds none of the names. One the manifest does not name (inherited from the workspace)
    // may be any: its crate may reach any.
    let mut by_package: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (index, krate) in workspace.crates.iter().enumerate() {
        by_package.entry(krate.package.as_str()).or_default().push(index);
    }
    let depends: Vec<Option<Vec<usize>>> = workspace
        .crates
        .iter()
        .map(|krate| {
            let packages: Option<Vec<&String>> = krate.dependency_packages.iter().map(Option::as_ref).collect();
            packages.map(|packages| {
                packages
                    .iter()
                    .filter_map(|package| by_package.get(package.as_str()))
                    .flatten()
                    .copied()
                    .collect()
            })
        })
        .collect();
    loop {
        let before = reached.len();
        for (index, dependencies) in depends.iter().enumerate() {
            let reaches = match dependencies {
                Some(dependencies) => dependencies.iter().any(|d| reached.contains(d)),
                None => true,
            };
            if reaches {
                reached.insert(index);
            }
        }
        if reached.len() == before {
            return Some(reached);
        }
    }
}

/// The names re-exports give to what `words` (or a name found before) name, each with a file (by index)
/// whose re-export gives it (every such file: each crate of them is reached through), in the order
/// found; empty when there are none. A glob re-export gives two kinds: the name of the module it is
/// in, and every name the globbed module declares (`pub use linux::types::*` at the crate root makes
/// `crate::__u16` name `types::__u16` without a word said). `declared` are the files' names relative to
/// their modules (see `load::relative_names`).
pub(crate) fn reexports(
    parsed: &[&ParsedFile],
    modules: &[FileModule],
    declared: &[&str],
    words: &[String],
) -> Vec<(String, usize)> {
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut globbed: std::collections::HashMap<Vec<String>, Vec<String>> = std::collections::HashMap::new();
    let said = |text: &str| words.iter().any(|w| text.contains(w.as_str()));
    loop {
        let before = names.len();
        for (index, (file, module)) in parsed.iter().zip(modules).enumerate() {
            for import in file.imports.iter().filter(|i| i.reexport) {
                if !import.path.segments.iter().any(|s| said(s) || known.contains(s)) {
                    continue;
                }
                let given = match import.glob {
                    true => {
                        // Each iteration meets the same globs again.
                        let mut given = globbed
                            .entry(import.path.segments.clone())
                            .or_insert_with(|| globbed_names(&import.path.segments, modules, declared))
                            .clone();
                        given.extend(module_name(file, import.scope, module));
                        given
                    }
                    false => import.binding.clone().into_iter().collect(),
                };
                for name in given {
                    if !said(&name) && known.insert(name.clone()) {
                        names.push((name, index));
                    }
                }
            }
        }
        if names.len() == before {
            return names;
        }
    }
}

/// The names declared in the modules a glob of `segments` may bring (`linux::types::*`): those whose
/// path ends with the segments after any `crate`, `self` or `super` (more than the one meant, never fewer).
/// `declared` are each file's names relative to its module (see `load::relative_names`).
fn globbed_names(segments: &[String], modules: &[FileModule], declared: &[&str]) -> Vec<String> {
    let relative: Vec<&str> = segments
        .iter()
        .map(String::as_str)
        .skip_while(|s| matches!(*s, "crate" | "self" | "super" | "$crate"))
        .collect();
    let Some(last) = relative.last() else {
        return Vec::new();
    };
    let suffix = relative.join("::");
    let finder = memchr::memmem::Finder::new(last.as_bytes());
    let mut names: Vec<String> = Vec::new();
    for (module, lines) in modules.iter().zip(declared) {
        // Most files declare nothing in such a module: their module is another, and no module inside
        // them is named like it (the names are long; a search for the segment rules them out at once).
        let own_module = ends_with_module(&module.path, "", last);
        if !own_module && finder.find(lines.as_bytes()).is_none() {
            continue;
        }
        for (inner, name) in lines.lines().filter_map(|line| line.split_once('\t')) {
            if ends_with_module(&module.path, inner, &suffix) && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Whether the module `outer::inner` (`inner` may be empty) is `suffix` or ends with `::suffix`.
fn ends_with_module(outer: &str, inner: &str, suffix: &str) -> bool {
    let at_boundary = |path: &str, tail: &str| {
        path.strip_suffix(tail)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with("::"))
    };
    if inner.is_empty() {
        return at_boundary(outer, suffix);
    }
    // Within `inner`, or across the `::` that joins the two.
    at_boundary(inner, suffix)
        || suffix
            .strip_suffix(inner)
            .and_then(|head| head.strip_suffix("::"))
            .is_some_and(|head| at_boundary(outer, head))
}

/// The name of the module a scope of `file` is in: its inline `mod`, else the file's module.
fn module_name(file: &ParsedFile, scope: usize, module: &FileModule) -> Option<String> {
    let mut scope = Some(scope);
    while let Some(id) = scope {
        let current = file.scopes.get(id)?;
        if let ScopeKind::Module(Some(name)) = &current.kind {
            return Some(name.clone());
        }
        scope = current.parent;
    }
    module.path.rsplit("::").next().map(str::to_owned)
}

/// Skimming left out the bodies that mention none of the words; a body can still reach an interesting item
/// through another file's re-export under a new name (see [`reexports`]). A file with skipped bodies that
/// mentions such a name is parsed again, with the names added to the words.
pub(super) struct Widening {
    wider: BodyWords,
    finder: aho_corasick::AhoCorasick,
    /// The crates that may name what the names name (see [`crates_reaching`]); `None`: any may.
    reaching: Option<std::collections::HashSet<usize>>,
}

impl Widening {
    /// `None` when there are no names to widen with.
    pub fn new(words: &BodyWords, names: &[String]) -> Option<Self> {
        if names.is_empty() || !words.skips_bodies() {
            return None;
        }
        let finder = aho_corasick::AhoCorasick::new(names).ok()?;
        // A rule that selects by attribute still does in a file read again (its macros' gating says).
        let wider = BodyWords::new(Some(words.words().iter().chain(names).cloned().collect()))
            .following(words.followed().iter().chain(names).cloned().collect())
            .reading_attributes(words.reads_attributes());
        Some(Widening {
            wider,
            finder,
            reaching: None,
        })
    }

    /// The same, wanting only files of the crates in `reaching` (and files outside every crate): code
    /// elsewhere cannot name what a name stands for, so its files need not be read again.
    pub fn reaching(self, reaching: Option<std::collections::HashSet<usize>>) -> Self {
        Widening { reaching, ..self }
    }

    /// Parses `file` again with the wider words if it skipped bodies and mentions one of the names;
    /// whether it did.
    pub fn apply(
        &self,
        file: &mut Loaded,
        source: &SourceFile,
        tree: &dyn FileTree,
        cache: &ParseCache,
        pack: &ParsePack,
    ) -> bool {
        if !self.wanted(file.skeleton.skipped_bodies, source, tree) {
            return false;
        }
        // The file is still known by its content key with the run's own words.
        let key = file.key;
        *file = load(source, tree, cache, &self.wider, pack);
        file.key = key;
        true
    }

    /// Whether a file whose parse skipped bodies (or not) must be parsed again with [`Widening::wider`]:
    /// it did, and it mentions one of the names.
    pub fn wanted(&self, skipped_bodies: bool, source: &SourceFile, tree: &dyn FileTree) -> bool {
        let reached = match (&self.reaching, source.krate) {
            (Some(reaching), Some(krate)) => reaching.contains(&krate),
            _ => true,
        };
        skipped_bodies && reached && tree.read(&source.abs).is_ok_and(|bytes| self.mentions(&bytes))
    }

    /// The run's words with the names added.
    pub fn wider(&self) -> &BodyWords {
        &self.wider
    }

    /// Whether `bytes` holds one of the names as a whole identifier (not inside a longer one).
    fn mentions(&self, bytes: &[u8]) -> bool {
        let ident = |at: Option<&u8>| at.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80);
        self.finder
            .find_overlapping_iter(bytes)
            .any(|m| !ident(m.start().checked_sub(1).and_then(|at| bytes.get(at))) && !ident(bytes.get(m.end())))
    }
}

/// The names re-exported under other names than what `words` name, and the crates that can reach a
/// crate giving one (see [`reexports`], [`names_of`], [`crates_reaching`]).
pub(crate) fn reexported_names(
    words: &BodyWords,
    skeletons: &[&ParsedFile],
    modules: &[FileModule],
    declared: &[&str],
    files: &[SourceFile],
    workspace: &Workspace,
) -> (Vec<String>, Option<std::collections::HashSet<usize>>) {
    let reexports = reexports(skeletons, modules, declared, words.followed());
    let krates: Vec<Option<usize>> = files.iter().map(|f| f.krate).collect();
    (names_of(&reexports), crates_reaching(&reexports, &krates, workspace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(files: &[(&str, &str)], words: &[&str]) -> Vec<String> {
        names_of(&given(files, words))
    }

    /// The re-exports `files` (module path, text) give to what `words` name.
    fn given(files: &[(&str, &str)], words: &[&str]) -> Vec<(String, usize)> {
        let parsed: Vec<ParsedFile> = files
            .iter()
            .map(|(_, text)| super::super::read::parse(text, &crate::frontend::BodyWords::default()))
            .collect();
        let borrowed: Vec<&ParsedFile> = parsed.iter().collect();
        let modules: Vec<FileModule> = files
            .iter()
            .map(|(path, _)| FileModule {
                path: (*path).to_owned(),
                in_test: false,
                cfg: None,
            })
            .collect();
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        let declared: Vec<String> = parsed.iter().map(super::super::load::relative_names).collect();
        let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
        reexports(&borrowed, &modules, &declared, &words)
    }

    #[test]
    fn renames_globs_and_chains_of_them_are_found() {
        let files = [
            (
                "app::a",
                "pub use crate::legacy as old;\nuse crate::legacy as private_name;",
            ),
            ("app::b", "pub use crate::a::old::make as build;"),
            ("app::compat", "pub use crate::legacy::*;"),
            (
                "app::c",
                "mod inner { pub use crate::b::build::*; }\npub use std::fmt as f;",
            ),
        ];
        assert_eq!(names(&files, &["legacy"]), ["old", "build", "compat", "inner"]);
    }

    #[test]
    fn a_module_ends_with_a_path_at_a_segment_boundary() {
        assert!(ends_with_module("libc::new::linux::types", "", "linux::types"));
        assert!(ends_with_module("libc::new", "linux::types", "linux::types"));
        assert!(ends_with_module("libc::new::linux", "types", "linux::types"));
        assert!(ends_with_module("types", "", "types"));
        assert!(!ends_with_module("libc::new::my_linux", "types", "linux::types"));
        assert!(!ends_with_module("libc::new", "xlinux::types", "linux::types"));
        assert!(!ends_with_module("libc::linux::types", "deeper", "linux::types"));
    }

    #[test]
    fn a_glob_re_export_gives_the_names_the_globbed_module_declares() {
        // libc: `pub use linux::types::*;` in `new`, and `pub use new::*;` at the root: `crate::__u16`
        // names `types::__u16` without saying `types` or `new`.
        let files = [
            (
                "libc",
                "pub use new::*;
mod fuchsia { pub struct S { x: crate::__u16 } }",
            ),
            (
                "libc::new",
                "mod linux;
pub use linux::types::*;",
            ),
            (
                "libc::new::linux::types",
                "pub type __u16 = u16;
pub mod deeper { pub struct Not; }",
            ),
            ("libc::other::types", "pub type __u16 = u16;"),
        ];
        assert_eq!(names(&files, &["types"]), ["__u16", "deeper", "new", "linux", "libc"]);
    }

    fn krate(package: &str, dependencies: &[Option<&str>]) -> crate::workspace::CrateInfo {
        crate::workspace::CrateInfo {
            name: package.to_owned(),
            version: None,
            label: package.to_owned(),
            dir: std::path::PathBuf::from(package),
            targets: Vec::new(),
            features: Default::default(),
            dependencies: Vec::new(),
            package: package.to_owned(),
            dependency_packages: dependencies.iter().map(|d| d.map(str::to_owned)).collect(),
        }
    }

    #[test]
    fn only_crates_that_can_reach_a_giver_may_name_what_it_gives() {
        // `lib` renames the word's item; `app` depends on it through `mid` (renamed in its manifest:
        // the package counts, not the key); `other` depends on nothing scanned; `inherits` has a
        // dependency the manifest does not name, so it may reach anything.
        let workspace = Workspace {
            crates: vec![
                krate("lib", &[Some("serde")]),
                krate("mid", &[Some("lib")]),
                krate("app", &[Some("mid")]),
                krate("other", &[Some("serde")]),
                krate("inherits", &[None]),
            ],
            ..Workspace::default()
        };
        let reexports = given(&[("lib", "pub use crate::legacy as old;")], &["legacy"]);
        let reached = crates_reaching(&reexports, &[Some(0)], &workspace).expect("every giver is in a crate");
        let mut reached: Vec<usize> = reached.into_iter().collect();
        reached.sort();
        assert_eq!(reached, [0, 1, 2, 4]);
        assert_eq!(crates_reaching(&reexports, &[None], &workspace), None);
    }

    #[test]
    fn nothing_re_exported_means_nothing_to_add() {
        assert!(names(&[("app", "pub use crate::legacy::Thing;")], &["legacy", "Thing"]).is_empty());
        assert!(names(&[("app", "pub use other::Thing;")], &["legacy"]).is_empty());
    }
}
