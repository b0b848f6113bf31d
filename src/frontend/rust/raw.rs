//! The raw fact model: what a reader learns of one file, with paths still as written.
//!
//! Paths cannot be made absolute yet: that needs the file's module path, which is only known once every
//! file's `mod` declarations have been read. So each fact records the lexical scope it was written in,
//! and `resolve` finishes the job. Both readers (the fast one in `fast/`, syn's in `syn_reader/`) fill
//! this model, and everything above them reads only it.
//!
//! Layer invariant: imports nothing of the frontend but `text`; knows no parser.

use rustc_hash::FxHashSet as HashSet;

use crate::facts::{DefinitionKind, FileProblem, ReferenceContext, Span, join_path};

/// A path as written: `::a::b` has a leading colon, `Self`, `self`, `super` and `crate` are kept as segments.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct RawPath {
    /// Written with a leading `::` (an external crate in edition 2018+).
    pub leading_colon: bool,
    /// The segments, raw identifiers unescaped.
    pub segments: Vec<String>,
}

/// What opened a lexical scope.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// The file itself, or an inline `mod name { }` (with its name).
    Module(Option<String>),
    /// A block with items or `use`s in it; names declared there are visible only inside it.
    Block,
    /// An `impl` or `trait` block: it gives `Self` a meaning and nothing else.
    SelfType(RawPath),
}

/// One lexical scope of the file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Scope {
    /// The enclosing scope; `None` only for the file's root.
    pub parent: Option<usize>,
    /// What opened it.
    pub kind: ScopeKind,
    /// Path of the scope relative to the file's module (inline modules, functions, impl types).
    pub rel_path: Vec<String>,
    /// Names of items and modules declared directly in it.
    pub items: HashSet<String>,
}

/// A definition before its path is resolved.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawDefinition {
    pub scope: usize,
    pub kind: DefinitionKind,
    pub name: String,
    pub span: Span,
    pub attributes: Vec<String>,
    pub in_test: bool,
    pub local: bool,
    pub implements: Option<RawPath>,
    pub self_type: Option<RawPath>,
    pub variants: Vec<String>,
    /// For statics: `static mut`, and every path named in the type.
    pub static_type: Option<(bool, Vec<RawPath>)>,
    /// The `cfg` under which the item is compiled, within the file (its own and its enclosing items'),
    /// as canonical text (see `text::cfg`).
    pub cfg: Option<String>,
    /// Made by expanding a workspace macro: which, and where it is defined.
    #[serde(default)]
    pub generated_by: Option<String>,
}

/// A `use` leaf or `extern crate` before resolution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawImport {
    pub scope: usize,
    pub path: RawPath,
    pub binding: Option<String>,
    pub glob: bool,
    pub reexport: bool,
    pub extern_crate: bool,
    pub span: Span,
    pub in_test: bool,
    /// See [`RawDefinition::cfg`].
    pub cfg: Option<String>,
}

impl RawImport {
    /// `extern crate name as binding;` in `scope` (a binding `_` binds nothing), neither a re-export nor in
    /// a test until said otherwise.
    pub fn extern_crate(scope: usize, name: String, binding: String, span: Span) -> Self {
        RawImport {
            scope,
            path: RawPath {
                leading_colon: true,
                segments: vec![name],
            },
            binding: Some(binding).filter(|b| b != "_"),
            glob: false,
            reexport: false,
            extern_crate: true,
            span,
            in_test: false,
            cfg: None,
        }
    }
}

/// A path used in code before resolution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawReference {
    pub scope: usize,
    pub path: RawPath,
    pub context: ReferenceContext,
    /// A lone identifier in a pattern: a binding unless an import says it is a unit variant or constant.
    pub maybe_binding: bool,
    /// Innermost enclosing item: an index into [`ParsedFile::enclosings`].
    pub enclosing: u32,
    pub span: Span,
    pub in_test: bool,
}

/// A `mod` declaration before resolution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawModule {
    pub scope: usize,
    pub name: String,
    pub inline: bool,
    /// The `#[path = "..."]` attribute, if any.
    pub path_attr: Option<String>,
    /// `#[cfg_attr(predicate, path = "...")]` attributes: the file the module is where the predicate
    /// holds (canonical predicate, path).
    pub cfg_paths: Vec<(String, String)>,
    pub span: Span,
    pub in_test: bool,
    /// See [`RawDefinition::cfg`]: the module and everything in it are compiled under it.
    pub cfg: Option<String>,
}

/// Everything the first pass learns about a file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct ParsedFile {
    pub scopes: Vec<Scope>,
    /// Enclosing item paths, relative to the file's module, shared by the references inside them.
    pub enclosings: Vec<Vec<String>>,
    pub definitions: Vec<RawDefinition>,
    pub imports: Vec<RawImport>,
    pub references: Vec<RawReference>,
    pub modules: Vec<RawModule>,
    pub suppressions: Vec<crate::facts::Suppression>,
    pub problem: Option<FileProblem>,
    /// Some function bodies were skimmed over (they mentioned none of the words).
    pub skipped_bodies: bool,
    /// The file's inner `#![cfg(..)]`: its whole module is compiled under it.
    pub inner_cfg: Option<String>,
    /// The `macro_rules!` of the file that wrap items in attributes (`($($item:item)*) => { $(
    /// #[cfg(feature = "rt")] $item )* }`), each with the `cfg` it puts on them (`None`: none).
    pub item_wrappers: Vec<(String, Option<String>)>,
    /// The file's `macro_rules!` definitions: their invocations anywhere in the crate (or, exported,
    /// anywhere) are expanded with them.
    pub macro_rules: Vec<RawMacroRules>,
    /// The macros invoked in item position (the last segment of the path), each once: a file that
    /// invokes a macro the workspace defines is read again with it expanded.
    pub item_macro_calls: Vec<String>,
    /// Every item-position invocation, with where it is: when the workspace's macros are invoked only
    /// at the top level, just those items are read again, expanded.
    pub invocations: Vec<RawInvocation>,
    /// The macros invoked in item position whose output was not read (not the workspace's, not items):
    /// one entry per invocation, with where it starts.
    pub opaque_macro_calls: Vec<(String, usize)>,
    /// Read with the workspace's macros expanded (see `expand`).
    pub macros_expanded: bool,
}

/// Macros that make no items wherever they are invoked: never counted as not seen into.
pub(crate) const ITEMLESS_MACROS: &[&str] = &["compile_error"];

/// One `macro_rules!` definition, kept as the text of its rules.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct RawMacroRules {
    pub name: String,
    /// The tokens of its rules, as text (`(..) => { .. }; ..`).
    pub rules: String,
    /// `#[macro_export]`: invocable from other crates.
    pub exported: bool,
    pub span: Span,
}

/// A macro invoked in item position.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct RawInvocation {
    pub name: String,
    /// The bytes of its item in the file, attributes included; for one below the top level as the fast
    /// reader reads it, those of the top-level item around it.
    pub range: std::ops::Range<usize>,
    /// At the file's top level (not in an inline module or a block).
    pub top_level: bool,
    /// Its item mentions none of the words the file was read with (the fast reader reads only such).
    pub quiet: bool,
    /// In test code within the file (`#[cfg(test)]`, `#[test]`).
    pub in_test: bool,
}

/// The range of an invocation whose bounds the fast reader learns only once the top-level item is read.
pub(crate) const PENDING_RANGE: std::ops::Range<usize> = usize::MAX..usize::MAX;

impl ParsedFile {
    /// Whether some of its items could not be parsed (the file is partially analyzed).
    pub fn partly_read(&self) -> bool {
        self.problem
            .as_ref()
            .is_some_and(|p| p.kind == crate::facts::ProblemKind::PartiallyAnalyzed)
    }

    /// Notes an item-position invocation.
    pub fn note_item_macro_call(&mut self, invocation: RawInvocation) {
        if !self.item_macro_calls.contains(&invocation.name) {
            self.item_macro_calls.push(invocation.name.clone());
        }
        self.invocations.push(invocation);
    }
}

/// The `cfg` flag standing for what an item macro puts on the items it is given: `cfg_rt! { .. }`
/// wraps its items in `__ssot_macro_cfg_rt`, which resolution replaces by the predicate of the
/// workspace's `cfg_rt` (see [`ParsedFile::item_wrappers`]), or by `all()` for a macro it does not know.
pub(crate) fn macro_flag(name: &str) -> String {
    format!("{MACRO_FLAG}{name}")
}

/// The prefix of [`macro_flag`]s.
pub(crate) const MACRO_FLAG: &str = "__ssot_macro_";

impl ParsedFile {
    /// Nothing yet: only the root scope.
    pub fn empty() -> Self {
        ParsedFile {
            scopes: vec![root_scope()],
            ..ParsedFile::default()
        }
    }

    /// Absolute path of a scope, for a file whose module is `module`.
    pub fn scope_path(&self, module: &str, scope: usize) -> String {
        self.scopes[scope]
            .rel_path
            .iter()
            .fold(module.to_owned(), |p, s| join_path(&p, s))
    }

    /// Absolute path of the module a scope is in (the scope itself, or an inline module around it).
    pub fn module_of_scope(&self, module: &str, mut scope: usize) -> String {
        loop {
            let s = &self.scopes[scope];
            match (&s.kind, s.parent) {
                (ScopeKind::Module(_), _) | (_, None) => return self.scope_path(module, scope),
                (_, Some(parent)) => scope = parent,
            }
        }
    }

    /// The names the file declares, as `(module or enum path, name)` for a file whose module is
    /// `module`: items and modules of each module scope, each enum's variants, and the names its
    /// `pub use` items bind. Needs no resolution: what a glob import of a module brings in.
    pub fn declared_names(&self, module: &str) -> Vec<(String, String)> {
        let mut names: Vec<(String, String)> = Vec::new();
        for (id, scope) in self.scopes.iter().enumerate() {
            if matches!(scope.kind, ScopeKind::Module(_)) {
                let path = self.scope_path(module, id);
                // In a fixed order: two parses of one file must digest the same (see `load::structure`),
                // whatever order the set took its items in.
                let mut items: Vec<&String> = scope.items.iter().collect();
                items.sort_unstable();
                names.extend(items.into_iter().map(|item| (path.clone(), item.clone())));
            }
        }
        for definition in self.definitions.iter().filter(|d| d.kind == DefinitionKind::Enum) {
            let path = join_path(&self.scope_path(module, definition.scope), &definition.name);
            names.extend(definition.variants.iter().map(|v| (path.clone(), v.clone())));
        }
        for import in self.imports.iter().filter(|i| i.reexport) {
            if let Some(binding) = &import.binding {
                names.push((self.module_of_scope(module, import.scope), binding.clone()));
            }
        }
        names
    }

    /// Its glob imports that may be of an ancestor module (`use super::*;`, `use crate::a::*;`), as
    /// (scope, path as written): see [`ParsedFile::globbed_ancestor`].
    pub fn ancestor_globs(&self) -> Vec<(usize, Vec<String>)> {
        self.imports
            .iter()
            .filter(|i| i.glob && !i.path.leading_colon)
            .filter(|i| matches!(i.path.segments.first().map(String::as_str), Some("super" | "crate")))
            .map(|i| (i.scope, i.path.segments.clone()))
            .collect()
    }

    /// The module a glob of [`ParsedFile::ancestor_globs`] imports, in a file whose module is `module`,
    /// when it is an ancestor of the module the glob is written in: such a glob brings the ancestor's
    /// private `use`s too.
    pub fn globbed_ancestor(&self, module: &str, (scope, segments): &(usize, Vec<String>)) -> Option<String> {
        let here = self.module_of_scope(module, *scope);
        let target = match segments.first().map(String::as_str) {
            Some("crate") => segments[1..]
                .iter()
                .fold(here.split("::").next().unwrap_or(&here).to_owned(), |p, s| {
                    join_path(&p, s)
                }),
            _ => {
                let supers = segments.iter().take_while(|s| *s == "super").count();
                let mut target = here.clone();
                for _ in 0..supers {
                    if let Some((up, _)) = target.rsplit_once("::") {
                        target.truncate(up.len());
                    }
                }
                segments[supers..].iter().fold(target, |p, s| join_path(&p, s))
            }
        };
        (here.len() > target.len() && crate::facts::path_is_under(&here, &target)).then_some(target)
    }

    /// A file that could not be parsed at all: it has a root scope and a problem, nothing else.
    pub fn unparsable(problem: FileProblem) -> Self {
        ParsedFile {
            scopes: vec![root_scope()],
            problem: Some(problem),
            ..ParsedFile::default()
        }
    }
}

/// The root scope of a file: its module.
pub(crate) fn root_scope() -> Scope {
    Scope {
        parent: None,
        kind: ScopeKind::Module(None),
        rel_path: Vec::new(),
        items: HashSet::default(),
    }
}

/// Files larger than this are parsed in pieces of about this size, cut between top-level items: the
/// tokens of a whole generated file take dozens of times its size.
pub(crate) const PIECE_BYTES: usize = 64 * 1024;

/// Appends the facts of a later piece of the same file: its root scope is the file's root, its other
/// scopes and enclosing items are numbered after those already there.
pub(crate) fn append_piece(whole: &mut ParsedFile, piece: ParsedFile) {
    let base = whole.scopes.len() - 1;
    let scope = |id: usize| if id == 0 { 0 } else { base + id };
    // Only the first piece can start with the file's inner attributes.
    whole.inner_cfg = whole.inner_cfg.take().or(piece.inner_cfg);
    whole.item_wrappers.extend(piece.item_wrappers);
    whole.macro_rules.extend(piece.macro_rules);
    whole.opaque_macro_calls.extend(piece.opaque_macro_calls);
    for name in &piece.item_macro_calls {
        if !whole.item_macro_calls.contains(name) {
            whole.item_macro_calls.push(name.clone());
        }
    }
    whole.invocations.extend(piece.invocations);
    let enclosings = whole.enclosings.len() as u32;
    let mut scopes = piece.scopes.into_iter();
    if let Some(root) = scopes.next() {
        whole.scopes[0].items.extend(root.items);
    }
    whole.scopes.extend(scopes.map(|s| Scope {
        parent: s.parent.map(scope),
        ..s
    }));
    whole.enclosings.extend(piece.enclosings);
    whole
        .definitions
        .extend(piece.definitions.into_iter().map(|d| RawDefinition {
            scope: scope(d.scope),
            ..d
        }));
    whole.imports.extend(piece.imports.into_iter().map(|i| RawImport {
        scope: scope(i.scope),
        ..i
    }));
    whole
        .references
        .extend(piece.references.into_iter().map(|r| RawReference {
            scope: scope(r.scope),
            enclosing: r.enclosing + enclosings,
            ..r
        }));
    whole.modules.extend(piece.modules.into_iter().map(|m| RawModule {
        scope: scope(m.scope),
        ..m
    }));
}

/// The segments and binding of a `use` leaf under `prefix`: `self` names the prefix itself.
pub(crate) fn leaf_segments(prefix: &[String], ident: String) -> (Vec<String>, Option<String>) {
    if ident == "self" {
        let binding = prefix.last().cloned();
        (prefix.to_vec(), binding)
    } else {
        let mut segments = prefix.to_vec();
        segments.push(ident.clone());
        (segments, Some(ident))
    }
}
