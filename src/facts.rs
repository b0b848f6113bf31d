//! The language-neutral fact model: what a frontend extracts from a source file and every rule reads.
//!
//! Facts are plain data with absolute, `::`-joined symbol paths (`gateway::ws::router::MessageRouter`).
//! Rules never see a syntax tree, so a second source language is one new frontend, and facts can be
//! cached by file content.

use serde::{Deserialize, Serialize};

/// A region of a source file: byte offsets for rendering, 1-based line and column (in characters) for people.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    /// Line of the first character, 1-based.
    pub line: u32,
    /// Column of the first character, 1-based, counted in characters.
    pub column: u32,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

/// What sort of item a definition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefinitionKind {
    /// A struct.
    Struct,
    /// An enum.
    Enum,
    /// A union.
    Union,
    /// A trait.
    Trait,
    /// A type alias: a second name, never a second definition of what it names.
    TypeAlias,
    /// A free function.
    Fn,
    /// A function inside an `impl` or `trait` block.
    Method,
    /// A `const` item.
    Const,
    /// A `static` item.
    Static,
    /// An `impl Trait for Type` block (inherent impls are not recorded as definitions).
    Impl,
    /// A module, inline or declared from a file.
    Module,
    /// A `macro_rules!` macro.
    Macro,
    /// A Python `class` (one deriving from `enum.Enum` is an [`DefinitionKind::Enum`]).
    Class,
}

impl DefinitionKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [DefinitionKind; 13] = [
        Self::Struct,
        Self::Enum,
        Self::Union,
        Self::Trait,
        Self::TypeAlias,
        Self::Fn,
        Self::Method,
        Self::Const,
        Self::Static,
        Self::Impl,
        Self::Module,
        Self::Macro,
        Self::Class,
    ];

    /// The name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Struct => "struct",
            Self::Enum => "enum",
            Self::Union => "union",
            Self::Trait => "trait",
            Self::TypeAlias => "type-alias",
            Self::Fn => "fn",
            Self::Method => "method",
            Self::Const => "const",
            Self::Static => "static",
            Self::Impl => "impl",
            Self::Module => "mod",
            Self::Macro => "macro",
            Self::Class => "class",
        }
    }

    /// Parses the name used in rule files.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Facts about a `static` item, for the rules about global state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticFacts {
    /// `static mut`.
    pub mutable: bool,
    /// The resolved path of every type named anywhere in the static's type, outermost first.
    pub type_paths: Vec<String>,
    /// The frontend's own account of why this binding is state, when its language has no `static`
    /// (Python: a module-level dict mutated by a function, a global rebound through `global`).
    #[serde(default)]
    pub described: Option<String>,
}

/// One item definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// What sort of item.
    pub kind: DefinitionKind,
    /// The item's own name (for an impl, the name of the implementing type).
    pub name: String,
    /// Absolute path of the item (for an impl, `module::Type as Trait`).
    pub path: String,
    /// The span of the item's name.
    pub span: Span,
    /// The path of every attribute on the item, as written (`derive`, `tokio::main`, `cfg`).
    pub attributes: Vec<String>,
    /// Under `#[cfg(test)]`, a `#[test]` function, or in a test target.
    pub in_test: bool,
    /// Defined inside a function body.
    pub local: bool,
    /// For an impl: the resolved path of the implemented trait.
    pub implements: Option<String>,
    /// For an impl or method: the resolved path of the implementing type.
    pub self_type: Option<String>,
    /// For an enum: the names of its variants.
    pub variants: Vec<String>,
    /// For a static: what it holds.
    pub static_facts: Option<StaticFacts>,
    /// The `cfg` predicate under which it is compiled (its own, its enclosing items' and modules'), as
    /// canonical text (`all(unix,feature="x")`); `None` when always compiled.
    pub cfg: Option<String>,
    /// Made by expanding a macro of the workspace: which, and where it is defined ("`handler!`
    /// (defined at src/lib.rs:4)"); the span is then in the invocation.
    #[serde(default)]
    pub generated_by: Option<String>,
}

/// One name brought into scope by a `use` leaf or `extern crate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// Absolute path of what is imported, as written but resolved (`crate::`, `self::`, `super::` removed).
    pub path: String,
    /// Where the import finally leads when `path` is itself a re-export inside the workspace.
    pub target: String,
    /// The name bound in scope: the rename, the last segment, or `None` for a glob.
    pub binding: Option<String>,
    /// A `*` import.
    pub glob: bool,
    /// A `pub use` (any visibility other than private): a re-export.
    pub reexport: bool,
    /// An `extern crate` item.
    pub extern_crate: bool,
    /// The module the import is written in.
    pub module: String,
    /// The span of the imported path's leaf.
    pub span: Span,
    /// Under `#[cfg(test)]` or in a test target.
    pub in_test: bool,
    /// See [`Definition::cfg`].
    pub cfg: Option<String>,
}

/// Where in the code a path is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceContext {
    /// In a type.
    Type,
    /// In an expression (a call, a constructor, a value).
    Expr,
    /// In a pattern: the code matches on this path (`match`, `if let`, `let else`).
    Pattern,
    /// The path of a macro invocation.
    Macro,
    /// The path of an attribute or derive.
    Attribute,
}

/// One use of a path in code, outside `use` items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// Absolute path of what is named.
    pub path: String,
    /// Where it is used.
    pub context: ReferenceContext,
    /// The path of the import the first segment came through, if it came through one (the import is
    /// its own fact).
    pub via_import: Option<String>,
    /// Absolute path of the innermost item containing the use (a function, an impl, or the module).
    pub enclosing: String,
    /// The span of the path as written.
    pub span: Span,
    /// Under `#[cfg(test)]` or in a test target.
    pub in_test: bool,
    /// A path `a::b` whose first segment names nothing known: no item, import, module, workspace
    /// crate, dependency or std crate in scope (a name from a glob of another crate, or one a macro
    /// made). Its path stays as written, so a rule about where it really leads cannot match it.
    #[serde(default)]
    pub unresolved: bool,
}

/// A module declaration: `mod name;` or `mod name { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleDecl {
    /// Absolute path of the declared module.
    pub path: String,
    /// `mod name { ... }` rather than `mod name;`.
    pub inline: bool,
    /// The span of the module's name.
    pub span: Span,
    /// Under `#[cfg(test)]` or in a test target.
    pub in_test: bool,
    /// See [`Definition::cfg`].
    pub cfg: Option<String>,
}

/// An inline suppression comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Where the comment is.
    pub span: Span,
    /// The line it covers (its own, after code; else the next line of code), if any.
    pub target_line: Option<u32>,
    /// The rule ids it allows.
    pub rules: Vec<String>,
    /// The justification.
    pub reason: Option<String>,
    /// What is wrong with it (no reason, no rule, bad syntax); such a suppression suppresses nothing.
    pub problem: Option<String>,
}

/// Why a file could not be analyzed (in full or at all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProblem {
    /// What sort of problem.
    pub kind: ProblemKind,
    /// What went wrong, for people.
    pub message: String,
    /// Where, when known.
    pub span: Option<Span>,
}

/// How much of a file could be analyzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// Nothing: the file could not be read, decoded or parsed at all.
    ParseError,
    /// The items that parse were analyzed; some could not be.
    PartiallyAnalyzed,
    /// The analyzer itself failed on this file (a bug); the rest of the report stands.
    InternalError,
}

impl FileProblem {
    /// A file that could not be analyzed at all.
    pub fn parse(message: impl Into<String>, span: Option<Span>) -> Self {
        FileProblem {
            kind: ProblemKind::ParseError,
            message: message.into(),
            span,
        }
    }

    /// A failure of the analyzer itself.
    pub fn internal(message: impl Into<String>) -> Self {
        FileProblem {
            kind: ProblemKind::InternalError,
            message: message.into(),
            span: None,
        }
    }
}

/// Everything known about one source file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Path relative to the directory the scan reports against, with `/` separators.
    pub path: String,
    /// Absolute module path of the file (`gateway::ws::handler`).
    pub module: String,
    /// The crate whose package holds the file, as messages name it (`syn`, or `syn@2` when the tree
    /// holds several versions); empty outside any package.
    pub krate: String,
    /// The file belongs to a test target or a `tests/` folder.
    pub in_test: bool,
    /// Item definitions, in source order.
    pub definitions: Vec<Definition>,
    /// `use` leaves and `extern crate` items, in source order.
    pub imports: Vec<Import>,
    /// Qualified paths used in types, expressions, patterns and macro invocations.
    pub references: Vec<Reference>,
    /// Module declarations written in this file.
    pub modules: Vec<ModuleDecl>,
    /// Inline suppression comments.
    pub suppressions: Vec<Suppression>,
    /// The file could not be parsed.
    pub problem: Option<FileProblem>,
    /// Macros invoked where items may be whose output was not seen (a procedural macro, one from
    /// outside the scanned tree, an expansion that failed): one entry per invocation, by name.
    #[serde(default)]
    pub unexpanded_macros: Vec<String>,
}

/// One fact of a file, as rules are asked whether they use it (facts no rule uses are not kept).
#[derive(Clone, Copy, Debug)]
pub enum Fact<'a> {
    /// An item definition.
    Definition(&'a Definition),
    /// A `use` leaf or `extern crate`.
    Import(&'a Import),
    /// A path used in code.
    Reference(&'a Reference),
    /// A module declaration.
    Module(&'a ModuleDecl),
}

/// A source language, as a file's name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// `.rs` files.
    Rust,
    /// `.py` files.
    Python,
}

impl Language {
    /// The language of the file at `path`, if it is a source file.
    pub fn of_path(path: &str) -> Option<Language> {
        if path.ends_with(".rs") {
            Some(Language::Rust)
        } else if path.ends_with(".py") {
            Some(Language::Python)
        } else {
            None
        }
    }

    /// Parses the name used in rule files (`rust`, `python`).
    pub fn parse(name: &str) -> Option<Language> {
        match name {
            "rust" => Some(Language::Rust),
            "python" => Some(Language::Python),
            _ => None,
        }
    }

    /// `path` written in this language's notation: Python's dotted, Rust's `::`.
    pub fn notation(self, path: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Language::Rust => std::borrow::Cow::Borrowed(path),
            Language::Python => std::borrow::Cow::Owned(path.replace("::", ".")),
        }
    }
}

/// Joins two path parts with `::`, treating an empty prefix as the root.
pub fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else if name.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}::{name}")
    }
}

/// Whether `path` is `prefix` or lies under it (`a::b` is under `a`, `a::bc` is not).
pub fn path_is_under(path: &str, prefix: &str) -> bool {
    path == prefix || (path.len() > prefix.len() && path.starts_with(prefix) && path[prefix.len()..].starts_with("::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_by_whole_segments() {
        assert!(path_is_under("a::b::c", "a::b"));
        assert!(path_is_under("a::b", "a::b"));
        assert!(!path_is_under("a::bc", "a::b"));
        assert!(!path_is_under("a", "a::b"));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in DefinitionKind::ALL {
            assert_eq!(DefinitionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(DefinitionKind::parse("klass"), None);
    }

    #[test]
    fn join_treats_empty_as_root() {
        assert_eq!(join_path("", "a"), "a");
        assert_eq!(join_path("a", "b"), "a::b");
    }
}
