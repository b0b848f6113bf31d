//! The second pass: make every path absolute, the way rustc's name resolution would for these cases.
//!
//! `crate::`, `self::`, `super::` and `Self` are rewritten from the file's module; a first segment is
//! looked up in the enclosing scopes (items, then `use` bindings, then glob imports of workspace modules),
//! then among the workspace's crates; anything else (std, external crates, the prelude) stays as written.
//! Imports that land on a `pub use` re-export inside the workspace are followed to what it re-exports.
//!
//! Layer invariant: reads `modules` and `raw`; nothing here reads text or parses.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cell::RefCell;

use super::modules::FileModule;
use super::raw::{MACRO_FLAG, ParsedFile, RawPath, ScopeKind};
use super::text::cfg;
use crate::facts::{Definition, Fact, FileFacts, Import, ModuleDecl, Reference, StaticFacts, join_path};

/// How deep an import may lead through other imports before it is left as written (cycles end here).
const MAX_DEPTH: usize = 16;

/// What resolution needs to know about the whole workspace.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct WorkspaceIndex {
    /// Crate names the workspace defines.
    pub crates: HashSet<String>,
    /// The names its crates give their dependencies.
    pub dependencies: HashSet<String>,
    /// The workspace's `macro_rules!` that can be expanded: an invocation of one in a file read without
    /// expanding was judged unable to matter, so it is not counted as unseen.
    pub macro_names: HashSet<String>,
    /// The names a glob import of a module (or enum) brings in, as [`name_key`]s of module and name: a
    /// set of numbers is a fraction of the size of the strings, and quick to store and load.
    pub names: HashSet<u64>,
    /// `module::name` of a `pub use` re-export -> the path it re-exports.
    pub reexports: HashMap<String, String>,
    /// The first segments (crates) of the re-exports' keys.
    pub reexport_roots: HashSet<String>,
    /// Every module of the workspace (from files and inline `mod`s): a path under a module goes through
    /// the module, even where a `pub use` binds a function or constant of the same name beside it.
    pub modules: HashSet<String>,
    /// Module -> the modules (or enums) it re-exports everything of (`pub use a::*;`).
    pub glob_reexports: HashMap<String, Vec<String>>,
    /// Modules that a descendant module glob-imports (`use super::*;`, `use crate::a::*;` below `a`).
    pub globbed_by_children: HashSet<String>,
    /// `module::binding` -> path, of the private `use`s of those modules: a descendant's glob of its
    /// ancestor brings them too (they are visible to it), which no other glob does. A private glob of
    /// such a module is kept as `module::*`, and followed the same way.
    pub private_uses: HashMap<String, String>,
    /// `crate::macro` -> the `cfg` that item macro puts on the items it wraps (see
    /// [`ParsedFile::item_wrappers`]): `all()` for none, [`UNKNOWN_WRAPPER`] when two differ.
    pub item_wrappers: HashMap<String, String>,
}

/// The `cfg` of a macro defined twice in a crate with different ones: not known, so taken as true.
const UNKNOWN_WRAPPER: &str = "all()";

/// Identifies `name` declared in `module` by a 64-bit hash: with a quarter of a million names in a set,
/// a lookup matches a different name by chance about once in 10^14 lookups.
pub(crate) fn name_key(module: &str, name: &str) -> u64 {
    // One hash over the joined text (the same value as hashing the parts in a stream), joined on the
    // stack when it fits: this runs for every name of the workspace.
    let length = module.len() + 2 + name.len();
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let joined: &mut [u8] = match length <= stack.len() {
        true => &mut stack[..length],
        false => {
            heap.resize(length, 0);
            &mut heap
        }
    };
    joined[..module.len()].copy_from_slice(module.as_bytes());
    joined[module.len()..module.len() + 2].copy_from_slice(b"::");
    joined[module.len() + 2..].copy_from_slice(name.as_bytes());
    xxhash_rust::xxh3::xxh3_64(joined)
}

/// One file being resolved: its syntax facts and module, and the imports resolved so far.
struct FileResolver<'a> {
    file: &'a ParsedFile,
    module: &'a str,
    index: &'a WorkspaceIndex,
    imports: RefCell<Vec<ImportState>>,
    /// The file's glob imports of enums from outside the workspace, by scope: found once, on first use.
    outside_enum_globs: std::cell::OnceCell<Vec<(usize, String)>>,
    /// What the glob imports of a scope bring under a name (see [`FileResolver::through_globs`]), once
    /// asked: a file names the same few things many times.
    glob_lookups: RefCell<HashMap<(usize, String), Option<Found>>>,
}

/// What a name was found as: its path, and the path of the import it came through, if any.
type Found = (String, Option<String>);

/// Where an import's resolution stands.
#[derive(Clone, Debug)]
enum ImportState {
    Unresolved,
    InProgress,
    Done(String),
}

/// The result of resolving a path.
struct Resolved {
    path: String,
    via_import: Option<String>,
    /// Found as something the workspace defines or imports, not left as written.
    known: bool,
}

impl<'a> FileResolver<'a> {
    fn new(file: &'a ParsedFile, module: &'a str, index: &'a WorkspaceIndex) -> Self {
        let resolver = FileResolver {
            file,
            module,
            index,
            imports: RefCell::new(vec![ImportState::Unresolved; file.imports.len()]),
            outside_enum_globs: std::cell::OnceCell::new(),
            glob_lookups: RefCell::new(HashMap::default()),
        };
        for i in 0..file.imports.len() {
            resolver.resolve_import(i, 0);
        }
        resolver
    }

    /// The resolved path of import `import`, resolved once: imports that lead to each other (or to
    /// themselves) end the cycle as written instead of recursing again.
    fn resolve_import(&self, import: usize, depth: usize) -> String {
        let raw = &self.file.imports[import];
        match &self.imports.borrow()[import] {
            ImportState::Done(path) => return path.clone(),
            ImportState::InProgress => return raw.path.segments.join("::"),
            ImportState::Unresolved => {}
        }
        self.imports.borrow_mut()[import] = ImportState::InProgress;
        let path = if raw.extern_crate {
            raw.path.segments.join("::")
        } else {
            self.resolve(raw.scope, &raw.path, Some(import), depth).path
        };
        self.imports.borrow_mut()[import] = ImportState::Done(path.clone());
        path
    }

    /// The resolved path of an import, once [`FileResolver::new`] has run.
    fn import_path(&self, import: usize) -> String {
        match &self.imports.borrow()[import] {
            ImportState::Done(path) => path.clone(),
            _ => self.file.imports[import].path.segments.join("::"),
        }
    }

    /// Absolute path of scope `scope` (the file's module plus inline modules, functions and impl types).
    fn scope_path(&self, scope: usize) -> String {
        self.file.scope_path(self.module, scope)
    }

    /// Absolute path of the module a scope is in.
    fn module_of(&self, scope: usize) -> String {
        self.file.module_of_scope(self.module, scope)
    }

    fn resolve(&self, scope: usize, raw: &RawPath, skip: Option<usize>, depth: usize) -> Resolved {
        let as_written = |known| Resolved {
            path: raw.segments.join("::"),
            via_import: None,
            known,
        };
        let Some(first) = raw.segments.first() else {
            return as_written(false);
        };
        let rest = &raw.segments[1..];
        if raw.leading_colon || depth > MAX_DEPTH {
            return as_written(self.index.crates.contains(first));
        }
        let with_rest = |base: String, via_import: Option<String>| Resolved {
            path: rest.iter().fold(base, |p, s| join_path(&p, s)),
            via_import,
            known: true,
        };
        match first.as_str() {
            "crate" | "$crate" => with_rest(crate_root(self.module).to_owned(), None),
            "self" => with_rest(self.module_of(scope), None),
            "super" => {
                let supers = raw.segments.iter().take_while(|s| *s == "super").count();
                let mut module = self.module_of(scope);
                for _ in 0..supers {
                    module = match module.rfind("::") {
                        Some(at) => module[..at].to_owned(),
                        None => module,
                    };
                }
                Resolved {
                    path: raw.segments[supers..].iter().fold(module, |p, s| join_path(&p, s)),
                    via_import: None,
                    known: true,
                }
            }
            "Self" => match self.self_type(scope) {
                Some((self_scope, self_path)) if self_path.segments.first().is_none_or(|s| s != "Self") => {
                    let base = self.resolve(self_scope, self_path, None, depth + 1);
                    with_rest(base.path, base.via_import)
                }
                _ => as_written(false),
            },
            name => match self.lookup(scope, name, skip, depth) {
                Some((base, via_import)) => with_rest(base, via_import),
                None => as_written(self.index.crates.contains(name)),
            },
        }
    }

    /// The nearest `impl`/`trait` self type around a scope, and the scope it is written in.
    fn self_type(&self, mut scope: usize) -> Option<(usize, &'a RawPath)> {
        loop {
            let s = &self.file.scopes[scope];
            if let ScopeKind::SelfType(path) = &s.kind {
                return Some((s.parent.unwrap_or(0), path));
            }
            scope = s.parent?;
        }
    }

    /// Finds what a single name means in a scope: an item, a `use` binding, or a name from a glob import;
    /// with the path of the import it came through, if any.
    fn lookup(&self, scope: usize, name: &str, skip: Option<usize>, depth: usize) -> Option<(String, Option<String>)> {
        let chain = self.scope_chain(scope);
        for &s in &chain {
            if self.file.scopes[s].items.contains(name) {
                return Some((join_path(&self.scope_path(s), name), None));
            }
            let binding = self.file.imports.iter().enumerate().find(|(i, import)| {
                import.scope == s && Some(*i) != skip && !import.glob && import.binding.as_deref() == Some(name)
            });
            if let Some((i, _)) = binding {
                let path = self.resolve_import(i, depth + 1);
                return Some((path.clone(), Some(path)));
            }
        }
        for &s in &chain {
            // With no import left out, what a scope's globs bring depends on the scope and name alone:
            // such lookups come only once `new` has resolved every import (resolving one leaves itself
            // out), so no half-resolved import is remembered.
            let found = match skip {
                Some(_) => self.through_globs(s, name, skip, depth),
                None => {
                    let key = (s, name.to_owned());
                    let known = self.glob_lookups.borrow().get(&key).cloned();
                    known.unwrap_or_else(|| {
                        let found = self.through_globs(s, name, None, depth);
                        self.glob_lookups.borrow_mut().insert(key, found.clone());
                        found
                    })
                }
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// What the glob imports written in scope `s` bring under `name` (the first that brings it), with
    /// the path of the glob's module.
    fn through_globs(&self, s: usize, name: &str, skip: Option<usize>, depth: usize) -> Option<Found> {
        for (i, import) in self.file.imports.iter().enumerate() {
            if import.scope != s || !import.glob || Some(i) == skip {
                continue;
            }
            let target = self.resolve_import(i, depth + 1);
            let target = self.index.reexports.get(&target).cloned().unwrap_or(target);
            if let Some(source) = self.index.glob_source(&target, name) {
                return Some((join_path(&source, name), Some(target)));
            }
            // What a glob of a std module brings is known from std's documentation.
            let std_target = through_std(self.index, &target);
            if crate::facts::path_is_under(&std_target, "std") && super::std_library::declares(&std_target, name) {
                return Some((join_path(&std_target, name), Some(target)));
            }
            let module = self.module_of(s);
            if module.len() > target.len()
                && crate::facts::path_is_under(&module, &target)
                && let Some(path) = self.index.through_private_uses(&target, name)
            {
                return Some((path, Some(target)));
            }
        }
        None
    }

    /// A lone capitalized name in a pattern that nothing declares, as a variant of the one enum from
    /// outside the workspace whose variants a glob brings in (`use std::cmp::Ordering::*;` then `Less`):
    /// such an enum's variants are not known here. `None` when no such glob, or more than one, is in
    /// scope (the name is then a binding).
    fn external_variant(&self, scope: usize, raw: &RawPath) -> Option<Resolved> {
        let [name] = raw.segments.as_slice() else {
            return None;
        };
        if raw.leading_colon || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            return None;
        }
        let globs = self.outside_enum_globs.get_or_init(|| {
            self.file
                .imports
                .iter()
                .enumerate()
                .filter(|(_, import)| import.glob)
                .filter_map(|(i, import)| {
                    let target = self.resolve_import(i, 1);
                    let last = target.rsplit("::").next().unwrap_or(&target);
                    let outside = !self.index.crates.contains(target.split("::").next().unwrap_or(&target));
                    (outside && last.starts_with(|c: char| c.is_ascii_uppercase())).then_some((import.scope, target))
                })
                .collect()
        });
        if globs.is_empty() {
            return None;
        }
        let chain = self.scope_chain(scope);
        let mut enums = globs
            .iter()
            .filter(|(at, _)| chain.contains(at))
            .map(|(_, target)| target.clone());
        let target = enums.next()?;
        if enums.next().is_some() {
            return None;
        }
        Some(Resolved {
            path: join_path(&target, name),
            via_import: Some(target),
            known: true,
        })
    }

    /// A scope and its parents up to and including the nearest module: where a name may be declared.
    fn scope_chain(&self, scope: usize) -> Vec<usize> {
        let mut chain = vec![scope];
        let mut current = scope;
        while !matches!(self.file.scopes[current].kind, ScopeKind::Module(_)) {
            let Some(parent) = self.file.scopes[current].parent else {
                break;
            };
            chain.push(parent);
            current = parent;
        }
        chain
    }
}

/// The crate part of a module path.
fn crate_root(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Follows `pub use` re-exports inside the workspace to the path they finally name; a path under a
/// re-exported name (`compat::Thing::Variant`) follows it too.
fn follow_reexports(index: &WorkspaceIndex, path: &str) -> String {
    let path = &*through_std(index, path);
    // Re-exports live in workspace modules: a path into std or another dependency has none to follow.
    let root = path.split("::").next().unwrap_or(path);
    if (index.reexports.is_empty() && index.glob_reexports.is_empty()) || !index.reexport_roots.contains(root) {
        return path.to_owned();
    }
    let mut current = path.to_owned();
    for _ in 0..MAX_DEPTH {
        let next = match longest_reexported_prefix(index, &current) {
            Some((prefix_len, target)) => format!("{target}{}", &current[prefix_len..]),
            None => match through_glob_reexport(index, &current) {
                Some(next) => next,
                None => break,
            },
        };
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// `module::name::rest` as the path it leads to when `module` does not declare `name` but a glob
/// re-export of it brings `name` from another module (`pub use crate::inner::*;`).
fn through_glob_reexport(index: &WorkspaceIndex, path: &str) -> Option<String> {
    if index.glob_reexports.is_empty() {
        return None;
    }
    let mut end = path.len();
    loop {
        end = path[..end].rfind("::")?;
        let module = &path[..end];
        let Some(targets) = index.glob_reexports.get(module) else {
            continue;
        };
        let rest = &path[end + 2..];
        let name = rest.split("::").next().unwrap_or(rest);
        if index.names.contains(&name_key(module, name)) {
            return None;
        }
        let source = targets.iter().find_map(|target| {
            let target = index.reexports.get(target).map_or(target.as_str(), String::as_str);
            index.glob_source(target, name)
        })?;
        return Some(join_path(&source, rest));
    }
}

/// `core::` and `alloc::` paths as `std::` names them: std re-exports both crates at the same paths
/// (`core::cmp::Ordering` is `std::cmp::Ordering`), so a rule about one is about the other. A workspace
/// crate of that name keeps its own paths.
fn through_std<'p>(index: &WorkspaceIndex, path: &'p str) -> std::borrow::Cow<'p, str> {
    let (root, rest) = path.split_once("::").unwrap_or((path, ""));
    match root {
        "core" | "alloc" if !index.crates.contains(root) => match rest {
            "" => "std".into(),
            rest => format!("std::{rest}").into(),
        },
        _ => path.into(),
    }
}

fn longest_reexported_prefix<'i>(index: &'i WorkspaceIndex, path: &str) -> Option<(usize, &'i String)> {
    let mut end = path.len();
    loop {
        // Modules and values have namespaces of their own: `pub use self::m::m;` binds the function `m`
        // at the module's own path. What lies under a module is reached through the module (and so is
        // everything under its parents, which are modules too).
        if end < path.len() && index.modules.contains(&path[..end]) {
            return None;
        }
        if let Some(target) = index.reexports.get(&path[..end]) {
            return Some((end, target));
        }
        end = path[..end].rfind("::")?;
    }
}

/// The file's `pub use` re-exports, `(module::binding, what it re-exports)`, resolved against an index
/// that already holds every declared name (so the result does not depend on the order of files).
pub(crate) fn reexports(file: &ParsedFile, module: &FileModule, index: &WorkspaceIndex) -> Vec<(String, String)> {
    let resolver = FileResolver::new(file, &module.path, index);
    file.imports
        .iter()
        .enumerate()
        .filter(|(_, import)| import.reexport)
        .filter_map(|(i, import)| {
            let module = resolver.module_of(import.scope);
            let to = resolver.import_path(i);
            // A glob re-export is keyed `module::*` (see [`WorkspaceIndex::add_reexports`]).
            let from = match (&import.binding, import.glob) {
                (_, true) => join_path(&module, "*"),
                (Some(binding), false) => join_path(&module, binding),
                (None, false) => return None,
            };
            (from != to).then_some((from, to))
        })
        .collect()
}

/// The file's private, non-glob `use`s in the modules a child glob-imports, `(module::binding, path)`.
pub(crate) fn private_uses(file: &ParsedFile, module: &FileModule, index: &WorkspaceIndex) -> Vec<(String, String)> {
    if index.globbed_by_children.is_empty() {
        return Vec::new();
    }
    let resolver = FileResolver::new(file, &module.path, index);
    file.imports
        .iter()
        .enumerate()
        .filter(|(_, import)| !import.reexport)
        .filter_map(|(i, import)| {
            let module = resolver.module_of(import.scope);
            let binding = match import.glob {
                true => "*",
                false => import.binding.as_deref()?,
            };
            index
                .globbed_by_children
                .contains(&module)
                .then(|| (join_path(&module, binding), resolver.import_path(i)))
        })
        .collect()
}

/// Crates every build can name without declaring them, and the primitive types (`u32::MAX`).
const ALWAYS_IN_SCOPE: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "bool",
    "char",
    "str",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f16",
    "f32",
    "f64",
    "f128",
];

impl WorkspaceIndex {
    /// Whether a path that found nothing in scope is a real gap: `a::b` with a module-like first segment
    /// that is no crate the workspace knows (a type-like one may be a generic parameter, a lone name a
    /// local binding).
    fn leaves_unresolved(&self, raw: &RawPath) -> bool {
        let [first, _, ..] = raw.segments.as_slice() else {
            return false;
        };
        !raw.leading_colon
            && first.starts_with(|c: char| c.is_ascii_lowercase())
            && !first.starts_with('$')
            && !ALWAYS_IN_SCOPE.contains(&first.as_str())
            && !self.crates.contains(first)
            && !self.dependencies.contains(first)
    }

    /// What `name` is in `module` through its private `use`s, as a descendant's glob of it sees them:
    /// a private `use` binding it, else what the module's own private glob brings (a std module's
    /// names, a module's declared names, or again its private `use`s), a few globs deep.
    fn through_private_uses(&self, module: &str, name: &str) -> Option<String> {
        let mut current = module.to_owned();
        for _ in 0..MAX_DEPTH / 4 {
            if let Some(path) = self.private_uses.get(&join_path(&current, name)) {
                return Some(path.clone());
            }
            let globbed = self.private_uses.get(&join_path(&current, "*"))?;
            let globbed = self.reexports.get(globbed).unwrap_or(globbed);
            if let Some(source) = self.glob_source(globbed, name) {
                return Some(join_path(&source, name));
            }
            let std_module = through_std(self, globbed);
            if crate::facts::path_is_under(&std_module, "std") && super::std_library::declares(&std_module, name) {
                return Some(join_path(&std_module, name));
            }
            current = globbed.clone();
        }
        None
    }

    /// Whether one of the file's modules is glob-imported by a child (its private `use`s are then needed).
    pub(crate) fn has_globbed_module(&self, skeleton: &ParsedFile, module: &FileModule) -> bool {
        !self.globbed_by_children.is_empty()
            && (0..skeleton.scopes.len()).any(|scope| {
                matches!(skeleton.scopes[scope].kind, ScopeKind::Module(_))
                    && self
                        .globbed_by_children
                        .contains(&skeleton.scope_path(&module.path, scope))
            })
    }

    /// Adds re-exports: `module::binding` -> path, and `module::*` -> the module it re-exports all of.
    pub(crate) fn add_reexports(&mut self, reexports: impl IntoIterator<Item = (String, String)>) {
        for (from, to) in reexports {
            let root = from.split("::").next().unwrap_or(&from).to_owned();
            self.reexport_roots.insert(root);
            match from.strip_suffix("::*") {
                Some(module) => {
                    let targets = self.glob_reexports.entry(module.to_owned()).or_default();
                    if !targets.contains(&to) {
                        targets.push(to);
                    }
                }
                None => {
                    self.reexports.insert(from, to);
                }
            }
        }
    }

    /// Where `name` comes from when a glob import or re-export of `module` brings it: `module` itself
    /// when it declares the name, else the nearest module its glob re-exports (followed breadth-first,
    /// each module once, so cycles and diamonds of globs cost nothing) bring it from.
    pub(crate) fn glob_source(&self, module: &str, name: &str) -> Option<String> {
        // Most modules declare the name or re-export no glob: nothing to follow.
        if self.names.contains(&name_key(module, name)) {
            return Some(module.to_owned());
        }
        if !self.glob_reexports.contains_key(module) {
            return None;
        }
        let mut queue = std::collections::VecDeque::from([module.to_owned()]);
        let mut seen: HashSet<String> = HashSet::default();
        while let Some(current) = queue.pop_front() {
            if self.names.contains(&name_key(&current, name)) {
                return Some(current);
            }
            if seen.len() >= 4 * MAX_DEPTH || !seen.insert(current.clone()) {
                continue;
            }
            for target in self.glob_reexports.get(&current).into_iter().flatten() {
                let target = self.reexports.get(target).unwrap_or(target);
                if !seen.contains(target) {
                    queue.push_back(target.clone());
                }
            }
        }
        None
    }

    /// Adds declared names by their keys (see [`name_key`]), in groups (one per file).
    pub(crate) fn add_name_keys(&mut self, groups: &[Vec<u64>]) {
        self.names.reserve(groups.iter().map(Vec::len).sum());
        for keys in groups {
            self.names.extend(keys);
        }
    }

    /// Adds everything one file contributes (its names, modules and re-exports): the index of a file
    /// analyzed on its own.
    pub(crate) fn add_file(&mut self, file: &ParsedFile, module: &FileModule) {
        self.add_names(file.declared_names(&module.path));
        self.add_modules(file, module);
        self.add_item_wrappers(file, module);
        for glob in file.ancestor_globs() {
            self.globbed_by_children
                .extend(file.globbed_ancestor(&module.path, &glob));
        }
        let private_uses = private_uses(file, module, self);
        self.private_uses.extend(private_uses);
        let reexports = reexports(file, module, self);
        self.add_reexports(reexports);
    }

    /// Adds the item macros a file defines (under its crate).
    pub(crate) fn add_item_wrappers(&mut self, file: &ParsedFile, module: &FileModule) {
        let root = module.path.split("::").next().unwrap_or(&module.path);
        for (name, cfg) in &file.item_wrappers {
            let cfg = cfg.clone().unwrap_or_else(|| "all()".to_owned());
            let key = format!("{root}::{name}");
            match self.item_wrappers.get(&key) {
                Some(known) if *known != cfg => {
                    self.item_wrappers.insert(key, UNKNOWN_WRAPPER.to_owned());
                }
                _ => {
                    self.item_wrappers.insert(key, cfg);
                }
            }
        }
    }

    /// `cfg` with each item macro's flag replaced by what that macro of `krate` puts on its items
    /// (`all()`, always true, for a macro not known here).
    pub(crate) fn with_macro_cfgs(&self, cfg: String, krate: &str) -> String {
        if !cfg.contains(MACRO_FLAG) {
            return cfg;
        }
        let mut out = String::with_capacity(cfg.len());
        let mut rest = cfg.as_str();
        while let Some(at) = rest.find(MACRO_FLAG) {
            out.push_str(&rest[..at]);
            let after = &rest[at + MACRO_FLAG.len()..];
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..end];
            let predicate = self.item_wrappers.get(&format!("{krate}::{name}"));
            out.push_str(predicate.map_or("all()", String::as_str));
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }

    /// Adds the modules of a file: its own, and the inline `mod`s written in it.
    pub(crate) fn add_modules(&mut self, file: &ParsedFile, module: &FileModule) {
        self.modules.insert(module.path.clone());
        for (id, scope) in file.scopes.iter().enumerate() {
            if matches!(scope.kind, ScopeKind::Module(Some(_))) {
                self.modules.insert(file.scope_path(&module.path, id));
            }
        }
    }

    /// Adds declared names.
    pub(crate) fn add_names(&mut self, names: Vec<(String, String)>) {
        for (module, name) in names {
            self.names.insert(name_key(&module, &name));
        }
    }
}

/// Resolves one file's raw facts into language-neutral facts.
pub(crate) fn resolve_file(
    file: &ParsedFile,
    module: &FileModule,
    index: &WorkspaceIndex,
    keep: &crate::frontend::Keep<'_>,
) -> FileFacts {
    let resolver = FileResolver::new(file, &module.path, index);
    let in_test = module.in_test;
    let resolve_in = |scope: usize, raw: &RawPath| resolver.resolve(scope, raw, None, 0).path;
    // A file follows the same few paths many times (`libc::c_int`), some through long glob chains.
    let followed: RefCell<HashMap<String, String>> = RefCell::new(HashMap::default());
    let follow = |path: &str| -> String {
        if let Some(known) = followed.borrow().get(path) {
            return known.clone();
        }
        let target = follow_reexports(index, path);
        followed.borrow_mut().insert(path.to_owned(), target.clone());
        target
    };
    // What is written in the file is compiled under the module's `cfg` and its own.
    let krate = module.path.split("::").next().unwrap_or(&module.path);
    let cfg_of = |own: &Option<String>| {
        let joined = match (&module.cfg, own) {
            (None, own) => own.clone(),
            (module_cfg, None) => module_cfg.clone(),
            (Some(m), Some(o)) => cfg::all_of(&[m.clone(), o.clone()]),
        };
        joined.map(|cfg| index.with_macro_cfgs(cfg, krate))
    };

    let definitions = file
        .definitions
        .iter()
        .map(|d| Definition {
            kind: d.kind,
            name: d.name.clone(),
            path: join_path(&resolver.scope_path(d.scope), &d.name),
            span: d.span,
            attributes: d.attributes.clone(),
            in_test: in_test || d.in_test,
            local: d.local,
            implements: d.implements.as_ref().map(|p| follow(&resolve_in(d.scope, p))),
            self_type: d.self_type.as_ref().map(|p| follow(&resolve_in(d.scope, p))),
            variants: d.variants.clone(),
            static_facts: d.static_type.as_ref().map(|(mutable, types)| StaticFacts {
                mutable: *mutable,
                type_paths: types
                    .iter()
                    .map(|p| through_std(index, &resolve_in(d.scope, p)).into_owned())
                    .collect(),
                described: None,
            }),
            cfg: cfg_of(&d.cfg),
            generated_by: d.generated_by.clone(),
        })
        .filter(|d| keep(Fact::Definition(d)))
        .collect();

    let imports = file
        .imports
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let path = resolver.import_path(i);
            Import {
                target: follow(&path),
                path,
                binding: raw.binding.clone(),
                glob: raw.glob,
                reexport: raw.reexport,
                extern_crate: raw.extern_crate,
                module: resolver.module_of(raw.scope),
                span: raw.span,
                in_test: in_test || raw.in_test,
                cfg: cfg_of(&raw.cfg),
            }
        })
        .filter(|i| keep(Fact::Import(i)))
        .collect();

    let enclosings: Vec<String> = file
        .enclosings
        .iter()
        .map(|e| e.iter().fold(module.path.clone(), |p, s| join_path(&p, s)))
        .collect();
    let references = file
        .references
        .iter()
        .filter_map(|raw| {
            let mut resolved = resolver.resolve(raw.scope, &raw.path, None, 0);
            if raw.maybe_binding && !(resolved.known && resolved.path.contains("::")) {
                resolved = resolver.external_variant(raw.scope, &raw.path)?;
            }
            let enclosing = enclosings
                .get(raw.enclosing as usize)
                .cloned()
                .unwrap_or_else(|| module.path.clone());
            let reference = Reference {
                unresolved: !resolved.known && index.leaves_unresolved(&raw.path),
                path: follow(&resolved.path),
                context: raw.context,
                via_import: resolved.via_import.map(|via| follow(&via)),
                enclosing,
                span: raw.span,
                in_test: in_test || raw.in_test,
            };
            keep(Fact::Reference(&reference)).then_some(reference)
        })
        .collect();

    let modules = file
        .modules
        .iter()
        .map(|m| ModuleDecl {
            path: join_path(&resolver.scope_path(m.scope), &m.name),
            inline: m.inline,
            span: m.span,
            in_test: in_test || m.in_test,
            cfg: cfg_of(&m.cfg),
        })
        .filter(|m| keep(Fact::Module(m)))
        .collect();

    FileFacts {
        path: String::new(),
        module: module.path.clone(),
        krate: String::new(),
        in_test,
        definitions,
        imports,
        references,
        modules,
        suppressions: file.suppressions.clone(),
        problem: file.problem.clone(),
        unexpanded_macros: file
            .opaque_macro_calls
            .iter()
            .filter(|(name, _)| file.macros_expanded || !index.macro_names.contains(name))
            .map(|(name, _)| name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_key_is_the_hash_of_the_joined_path_short_or_long() {
        for module in ["", "a::b", &"m".repeat(300)] {
            let mut streamed = xxhash_rust::xxh3::Xxh3::new();
            streamed.update(module.as_bytes());
            streamed.update(b"::");
            streamed.update(b"Name");
            assert_eq!(super::name_key(module, "Name"), streamed.digest());
        }
    }

    use super::super::read::parse;
    use super::*;
    use crate::facts::ReferenceContext;

    fn facts(module: &str, text: &str, crates: &[&str]) -> FileFacts {
        let parsed = parse(text, &crate::frontend::BodyWords::default());
        let module = FileModule {
            path: module.to_owned(),
            in_test: false,
            cfg: None,
        };
        let mut index = WorkspaceIndex {
            crates: crates.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        };
        index.add_file(&parsed, &module);
        resolve_file(&parsed, &module, &index, &|_| true)
    }

    fn pattern_paths(facts: &FileFacts) -> Vec<&str> {
        facts
            .references
            .iter()
            .filter(|r| r.context == ReferenceContext::Pattern)
            .map(|r| r.path.as_str())
            .collect()
    }

    fn import_paths(facts: &FileFacts) -> Vec<&str> {
        facts.imports.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn a_glob_of_a_std_module_brings_what_std_declares_there() {
        let f = facts(
            "app",
            "use std::sync::*; use core::cmp::Ordering::*;
             fn f(o: std::cmp::Ordering) { let (tx, _) = mpsc::channel::<u8>(); match o { Less => {} _ => {} } }",
            &["app"],
        );
        let used: Vec<&str> = f.references.iter().map(|r| r.path.as_str()).collect();
        assert!(used.contains(&"std::sync::mpsc::channel"), "{used:?}");
        assert!(used.contains(&"std::cmp::Ordering::Less"), "{used:?}");
    }

    #[test]
    fn a_glob_of_the_parent_brings_its_private_uses() {
        let f = facts(
            "app",
            "use crate::old::Legacy; use std::collections::HashMap;
             mod tests { use super::*; fn t() { Legacy::new(); HashMap::<u8, u8>::new(); } }
             mod deeper { mod inner { use super::super::*; fn u() { Legacy::old(); } } }
             mod other { use crate::deeper::*; fn v() { Legacy::make(); } }",
            &["app"],
        );
        let used: Vec<&str> = f.references.iter().map(|r| r.path.as_str()).collect();
        assert!(used.contains(&"app::old::Legacy::new"), "{used:?}");
        assert!(used.contains(&"std::collections::HashMap::new"), "{used:?}");
        assert!(used.contains(&"app::old::Legacy::old"), "{used:?}");
        // A glob of a module that is not an ancestor brings only what it declares or re-exports.
        assert!(used.contains(&"Legacy::make"), "{used:?}");

        // h2's chain: `recv` globs `streams`, which globs its ancestor `proto` as `crate::proto::*`,
        // which imports `frame` privately.
        let f = facts(
            "app",
            "pub mod frame { pub fn x() {} }
             mod proto { use crate::frame::{self}; mod streams { use crate::proto::*;
                 mod recv { use super::*; fn f() { frame::x(); } } } }",
            &["app"],
        );
        let used: Vec<&str> = f.references.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(used, ["app::frame::x"]);
        assert!(f.references.iter().all(|r| !r.unresolved));
    }

    #[test]
    fn a_path_that_names_nothing_known_is_marked_unresolved() {
        let f = facts(
            "app",
            "use other::*; fn f() { frame::x(); u32::from(1u8); serde::de::y(); Local::z(); }",
            &["app"],
        );
        let unresolved: Vec<&str> = f
            .references
            .iter()
            .filter(|r| r.unresolved)
            .map(|r| r.path.as_str())
            .collect();
        // `serde` is unknown here too (no manifest names it); a type-like `Local` may be a generic.
        assert_eq!(unresolved, ["frame::x", "serde::de::y"]);
    }

    #[test]
    fn crate_self_and_super_chains_resolve_from_the_module() {
        let f = facts(
            "app::a::b",
            "use crate::x; use self::y; use super::z; use super::super::w; mod inner { use super::v; }",
            &["app"],
        );
        assert_eq!(
            import_paths(&f),
            vec!["app::x", "app::a::b::y", "app::a::z", "app::w", "app::a::b::v"]
        );
    }

    #[test]
    fn a_first_segment_found_in_scope_is_relative_to_the_module() {
        let f = facts(
            "app",
            "mod child; use child::Thing; use other_crate::X; use std::sync::Mutex;",
            &["app", "other_crate"],
        );
        assert_eq!(
            import_paths(&f),
            vec!["app::child::Thing", "other_crate::X", "std::sync::Mutex"]
        );
    }

    #[test]
    fn imports_through_other_imports_resolve_transitively() {
        let f = facts("app::m", "use crate::legacy; use legacy::factory::create;", &["app"]);
        assert_eq!(import_paths(&f), vec!["app::legacy", "app::legacy::factory::create"]);
    }

    #[test]
    fn a_function_reexported_at_its_modules_path_does_not_capture_the_module() {
        // axum's `pub use self::from_extractor::from_extractor;`: the function and the module share a path.
        let f = facts(
            "app",
            "pub use self::m::m; pub mod m { pub fn m() {} pub struct Thing; } fn f() { let _ = crate::m::Thing; m(); }",
            &["app"],
        );
        let paths: Vec<&str> = f.references.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, vec!["app::m::Thing"]);
    }

    #[test]
    fn core_and_alloc_paths_are_the_std_paths_they_are_reexported_as() {
        let f = facts(
            "app",
            "use core::cmp::Ordering; use alloc::vec::Vec; fn f() { let _ = core::mem::swap; }",
            &["app"],
        );
        let targets: Vec<&str> = f.imports.iter().map(|i| i.target.as_str()).collect();
        assert_eq!(targets, vec!["std::cmp::Ordering", "std::vec::Vec"]);
        assert_eq!(f.references[0].path, "std::mem::swap");
        // A workspace crate named `core` keeps its paths.
        let own = facts("app", "use core::Thing;", &["app", "core"]);
        assert_eq!(own.imports[0].target, "core::Thing");
    }

    #[test]
    fn glob_reexport_chains_are_followed() {
        let f = facts(
            "app",
            "pub mod inner { pub fn x() {} pub struct Y; }
             pub mod middle { pub use crate::inner::*; }
             pub mod outer { pub use crate::middle::*; }
             pub mod loop_a { pub use crate::loop_b::*; } pub mod loop_b { pub use crate::loop_a::*; }
             use crate::outer::x; use crate::outer::Y as Z; use crate::loop_a::nothing;
             fn f() { let _ = crate::middle::Y; }",
            &["app"],
        );
        let targets: Vec<&str> = f
            .imports
            .iter()
            .filter(|i| !i.reexport)
            .map(|i| i.target.as_str())
            .collect();
        assert_eq!(targets, vec!["app::inner::x", "app::inner::Y", "app::loop_a::nothing"]);
        assert_eq!(f.references[0].path, "app::inner::Y");
    }

    #[test]
    fn a_glob_of_an_outside_enum_brings_its_variants_into_patterns() {
        let f = facts(
            "app",
            "use std::cmp::Ordering::*; fn f(o: std::cmp::Ordering) { match o { Less => {}, Equal | Greater => {}, other => {} } }",
            &["app"],
        );
        assert_eq!(
            pattern_paths(&f),
            vec![
                "std::cmp::Ordering::Less",
                "std::cmp::Ordering::Equal",
                "std::cmp::Ordering::Greater"
            ]
        );
    }

    #[test]
    fn an_item_macro_of_the_crate_puts_its_cfg_on_what_it_wraps() {
        let f = facts(
            "app",
            "macro_rules! cfg_rt { ($($item:item)*) => { $( #[cfg(feature = \"rt\")] #[cfg_attr(docsrs, doc(cfg(feature = \"rt\")))] $item )* } }
             macro_rules! plain { ($($item:item)*) => { $( #[doc(hidden)] $item )* } }
             cfg_rt! { pub struct Runtime; #[cfg(unix)] pub mod blocking {} }
             plain! { pub struct Plain; }
             pin_project_lite::pin_project! { pub struct Pinned { f: u8 } }",
            &["app"],
        );
        let cfgs: Vec<(&str, Option<&str>)> = f
            .definitions
            .iter()
            .map(|d| (d.name.as_str(), d.cfg.as_deref()))
            .collect();
        assert_eq!(
            cfgs,
            vec![
                ("cfg_rt", None),
                ("plain", None),
                ("Runtime", Some("feature=\"rt\"")),
                ("Plain", Some("all()")),
                ("Pinned", Some("all()")),
            ]
        );
        assert_eq!(f.modules[0].cfg.as_deref(), Some("all(feature=\"rt\",unix)"));
    }

    #[test]
    fn self_referencing_imports_do_not_loop() {
        let f = facts("app", "use a::b as a; use b::c as b;", &["app"]);
        assert_eq!(f.imports.len(), 2);
    }

    #[test]
    fn references_go_through_imports_and_self() {
        let f = facts(
            "app::router",
            "use crate::protocol::ClientMessage; struct Router; impl Router { fn route(m: ClientMessage) { match m { Self::X => {}, ClientMessage::Chat { .. } => {} } } }",
            &["app"],
        );
        let patterns: Vec<(&str, bool, &str)> = f
            .references
            .iter()
            .filter(|r| r.context == ReferenceContext::Pattern)
            .map(|r| (r.path.as_str(), r.via_import.is_some(), r.enclosing.as_str()))
            .collect();
        assert_eq!(
            patterns,
            vec![
                ("app::router::Router::X", false, "app::router::Router::route"),
                ("app::protocol::ClientMessage::Chat", true, "app::router::Router::route"),
            ]
        );
    }

    #[test]
    fn unit_variant_patterns_through_imports_are_references_and_bindings_are_not() {
        let f = facts(
            "app",
            "use crate::protocol::Msg::Ping; fn f(m: Msg) { match m { Ping => {}, other => {} } }",
            &["app"],
        );
        let patterns = pattern_paths(&f);
        assert_eq!(patterns, vec!["app::protocol::Msg::Ping"]);
    }

    #[test]
    fn glob_imports_of_enums_resolve_variant_patterns() {
        let f = facts(
            "app",
            "pub enum Msg { Start, Stop } fn f(m: Msg) { use Msg::*; match m { Start => {}, _ => {} } }",
            &["app"],
        );
        let patterns = pattern_paths(&f);
        assert_eq!(patterns, vec!["app::Msg::Start"]);
    }

    #[test]
    fn reexports_are_followed_to_their_target() {
        let f = facts(
            "app",
            "mod old { pub fn make() {} } pub use old::make as build; use crate::build;",
            &["app"],
        );
        let last = f.imports.last().expect("an import");
        assert_eq!(
            (last.path.as_str(), last.target.as_str()),
            ("app::build", "app::old::make")
        );
    }

    #[test]
    fn local_items_get_a_path_under_their_function() {
        let f = facts(
            "app",
            "fn outer(x: u8) { struct Inner; match x { Inner => {} } }",
            &["app"],
        );
        let inner = f.definitions.iter().find(|d| d.name == "Inner").expect("Inner");
        assert_eq!(inner.path, "app::outer::Inner");
        assert!(inner.local);
        let reference = f
            .references
            .iter()
            .find(|r| r.path.ends_with("Inner"))
            .expect("a reference");
        assert_eq!(reference.path, "app::outer::Inner");
    }

    #[test]
    fn static_types_are_resolved() {
        let f = facts(
            "app",
            "use std::sync::{Mutex, LazyLock}; static R: LazyLock<Mutex<u8>> = LazyLock::new(|| Mutex::new(0));",
            &["app"],
        );
        let statics = f.definitions[0].static_facts.clone().expect("static facts");
        assert_eq!(
            statics.type_paths,
            vec!["std::sync::LazyLock", "std::sync::Mutex", "u8"]
        );
    }
}
