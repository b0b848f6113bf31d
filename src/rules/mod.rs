//! The rule kinds: the one list of them, and what every kind has in common.
//!
//! A kind is one file: its parameters (read from the `[[rule]]` table), its documentation (what
//! `ssot-check explain KIND` prints), its check over the workspace's facts, and its unit tests.

pub mod acyclic;
pub mod banned_import;
mod contract;
mod file_globs;
pub mod independence;
pub mod layers;
pub mod no_global_state;
pub mod removed_module;
pub mod scope;
pub mod single_definition;
pub mod single_dispatch;

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::facts::FileFacts;
use crate::finding::{Finding, Location, Severity};
use crate::pattern::PathPattern;

/// Every rule kind, in the order `explain` and the docs list them.
pub const KINDS: &[&RuleKind] = &[
    &single_definition::KIND,
    &banned_import::KIND,
    &removed_module::KIND,
    &single_dispatch::KIND,
    &no_global_state::KIND,
    &layers::KIND,
    &independence::KIND,
    &acyclic::KIND,
];

/// Finds a rule kind by name.
pub fn kind(name: &str) -> Option<&'static RuleKind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// A rule kind: its name, its docs, how its findings are counted, and how to build its check.
pub struct RuleKind {
    /// The `kind = "..."` value.
    pub name: &'static str,
    /// One line for `ssot-check rules` and `explain` listings.
    pub summary: &'static str,
    /// Markdown: `## What it does`, `## Why is this bad?`, `## Example`, `## Configuration`.
    pub docs: &'static str,
    /// How the summary line counts this kind's findings: singular and plural.
    pub noun: (&'static str, &'static str),
    /// Validates the kind's own keys and builds its check.
    pub build: fn(Params<'_>) -> Result<Box<dyn Check>, ParamError>,
}

/// A configured rule's check over the facts of the whole workspace.
pub trait Check: Send + Sync + fmt::Debug {
    /// Appends a finding for every violation.
    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>);

    /// Words one of which a function body must contain for this rule to find anything in it (bodies
    /// with none are not parsed); `None` when any body may matter.
    fn body_words(&self) -> Option<Vec<String>>;

    /// Whether the rule can find anything in `fact`: facts no rule uses are dropped once resolved, so
    /// they cost neither memory nor cache space. Must hold for every fact [`Check::check`] reads.
    fn uses(&self, fact: Fact<'_>) -> bool;

    /// Whether the rule reads paths used in code (references and imports), which can reach what its
    /// words name through a re-export under another name.
    fn reads_references(&self) -> bool;

    /// Whether the rule selects items by their attributes (a word inside `#[..]` can then matter).
    fn reads_attributes(&self) -> bool {
        false
    }

    /// Whether the rule can find anything in test code (what a macro makes there matters to it).
    fn reads_tests(&self) -> bool {
        true
    }

    /// For a contract over the module import graph: the edges (`from`, `to` modules) that break it, which
    /// `ssot-check graph` draws in red. Other kinds have none.
    fn broken_edges(&self, _files: &[FileFacts]) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether the rule has anything to check in these files. A contract whose modules are all absent
    /// (the architecture of another workspace, a scan of one folder) says nothing about them: it is not
    /// applicable, and left out of the compliance figure rather than counted as kept.
    fn applies(&self, _files: &[FileFacts]) -> bool {
        true
    }
}

pub use crate::facts::Fact;

/// The words of every pattern (see [`PathPattern::word`]), or `None` if one of them has none.
pub(crate) fn pattern_words<'p>(patterns: impl IntoIterator<Item = &'p PathPattern>) -> Option<Vec<String>> {
    patterns.into_iter().map(|p| p.word().map(str::to_owned)).collect()
}

/// What every rule has besides its kind's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// The rule's unique id.
    pub id: String,
    /// Its kind's name.
    pub kind: &'static str,
    /// Why the rule exists, shown as help on each finding.
    pub message: String,
    /// Error (fails the run) or warning.
    pub severity: Severity,
    /// Where the rule is defined (`rules/routing.toml:3`).
    pub defined_at: String,
}

impl RuleMeta {
    /// A finding of this rule, with the rule's message (and an optional extra) as help.
    pub fn finding(&self, message: String, symbol: String, primary: Location, extra_help: Option<String>) -> Finding {
        let help = match extra_help {
            Some(extra) => format!("{} ({extra})", self.message),
            None => self.message.clone(),
        };
        Finding {
            rule: self.id.clone(),
            kind: self.kind.to_owned(),
            severity: self.severity,
            message,
            help: Some(help),
            symbol,
            primary,
            related: Vec::new(),
            suppression: None,
            baselined: false,
            fix: None,
        }
    }
}

/// A kind's own keys, as the spanned TOML table they were written in, and where the rule file is.
pub struct Params<'a> {
    value: toml::Spanned<toml::de::DeValue<'a>>,
    /// The folder of the rule file (file globs are relative to it).
    dir: std::path::PathBuf,
    /// The folder reported paths are relative to.
    base: std::path::PathBuf,
}

impl<'a> Params<'a> {
    /// Wraps a rule table whose common keys (`id`, `kind`, `message`, `severity`) are already removed,
    /// written in a rule file in `dir`, for a run reporting paths relative to `base`.
    pub fn new(value: toml::Spanned<toml::de::DeValue<'a>>, dir: &std::path::Path, base: &std::path::Path) -> Self {
        Params {
            value,
            dir: dir.to_path_buf(),
            base: base.to_path_buf(),
        }
    }

    /// Compiles file globs written in this rule (relative to its rule file).
    pub(crate) fn file_globs(
        &self,
        list: Option<&toml::Spanned<OneOrMany>>,
    ) -> Result<file_globs::FileGlobs, ParamError> {
        file_globs::FileGlobs::new(list, &self.dir, &self.base)
    }

    /// Deserializes the keys into the kind's parameter struct (which denies unknown fields).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ParamError> {
        let whole = self.value.span();
        T::deserialize(toml::de::ValueDeserializer::from(self.value.clone())).map_err(|error| ParamError {
            message: error.message().to_owned(),
            span: error.span().unwrap_or(whole),
        })
    }
}

/// A mistake in a kind's keys, at the TOML span it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// What is wrong.
    pub message: String,
    /// Where, as a byte range of the rule file.
    pub span: Range<usize>,
}

impl ParamError {
    /// An error about the value at `span`.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        ParamError {
            message: message.into(),
            span,
        }
    }
}

/// A key that takes one string or a list of them: `name = "A"` or `name = ["A", "B"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![value.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// A list entry written as a string or a table: `"a::b"` is shorthand for `{ path = "a::b" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringOrTable<T>(pub T);

impl<'de, T: Deserialize<'de> + From<String>> Deserialize<'de> for StringOrTable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + From<String>> Visitor<'de> for EntryVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path string or a table with a `path` key")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
                Ok(T::from(value.to_owned()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_any(EntryVisitor(std::marker::PhantomData))
            .map(StringOrTable)
    }
}

/// Compiles every pattern of a spanned list, pointing at the list when one is invalid.
pub fn patterns(list: &toml::Spanned<OneOrMany>) -> Result<Vec<crate::pattern::PathPattern>, ParamError> {
    list.get_ref()
        .0
        .iter()
        .map(|text| crate::pattern::PathPattern::new(text).map_err(|e| ParamError::at(list.span(), e)))
        .collect()
}

/// Parses `modules`, which must name at least one pattern (an empty list would make the rule vacuous).
pub fn module_patterns(list: &toml::Spanned<OneOrMany>) -> Result<Vec<crate::pattern::PathPattern>, ParamError> {
    if list.get_ref().0.is_empty() {
        return Err(ParamError::at(list.span(), "`modules` needs at least one pattern"));
    }
    patterns(list)
}

/// Location of a fact in a file.
pub fn location(file: &FileFacts, span: crate::facts::Span, label: impl Into<String>) -> Location {
    Location {
        path: file.path.clone(),
        span: Some(span),
        label: label.into(),
        member: None,
    }
}

/// The valid suppression of `rule` that covers the line of `span` in `file`. A member of a multi-place
/// finding (one definition of a duplicate, one place handling a variant) that carries one is left out
/// of the finding: the others are still counted, and a new member is still reported.
pub(crate) fn suppression_of<'f>(
    file: &'f FileFacts,
    span: crate::facts::Span,
    rule: &str,
) -> Option<&'f crate::facts::Suppression> {
    file.suppressions
        .iter()
        .find(|s| s.problem.is_none() && s.target_line == Some(span.line) && s.rules.iter().any(|r| r == rule))
}

/// Location of a member left out of a finding by its suppression (listed, not a baseline entry).
pub fn suppressed_member(
    file: &FileFacts,
    span: crate::facts::Span,
    label: &str,
    suppression: &crate::facts::Suppression,
) -> Location {
    location(
        file,
        span,
        format!(
            "{label} (suppressed: {})",
            suppression.reason.as_deref().unwrap_or("no reason")
        ),
    )
}

/// Location of one member of a multi-place finding, with the member's identity.
pub fn member(file: &FileFacts, span: crate::facts::Span, label: impl Into<String>, member: &str) -> Location {
    Location {
        member: Some(member.to_owned()),
        path: file.path.clone(),
        span: Some(span),
        label: label.into(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the rule kinds' unit tests: build facts from inline Rust files and run a rule over them.

    use std::path::PathBuf;

    use super::*;

    /// Facts for files given as `(path, text)`, all in one crate named `app` rooted at `src/lib.rs`.
    pub fn facts(files: &[(&str, &str)]) -> Vec<FileFacts> {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"app\"\n").expect("manifest");
        for (path, text) in files {
            let abs = root.join(path);
            std::fs::create_dir_all(abs.parent().expect("parent")).expect("mkdir");
            std::fs::write(abs, text).expect("write");
        }
        let workspace = crate::workspace::scan(&root, &[PathBuf::from(".")], &[]).expect("scan");
        crate::frontend::analyze(&workspace)
    }

    /// Runs a rule of `kind` configured by the TOML `params` over `files`.
    pub fn run(kind: &RuleKind, params: &str, files: &[(&str, &str)]) -> Vec<Finding> {
        let text = format!("{{ {params} }}");
        let value = toml::de::DeValue::parse(&text).expect("valid TOML");
        let check = (kind.build)(Params::new(value, std::path::Path::new("/"), std::path::Path::new("/")))
            .expect("valid params");
        let meta = RuleMeta {
            id: "test-rule".into(),
            kind: kind.name,
            message: "rule message".into(),
            severity: Severity::Error,
            defined_at: "rules.toml:1".into(),
        };
        let mut out = Vec::new();
        check.check(&meta, &facts(files), &mut out);
        crate::finding::sort(&mut out);
        out
    }

    /// Builds a rule and returns the parameter error it gives.
    pub fn build_error(kind: &RuleKind, params: &str) -> String {
        let text = format!("{{ {params} }}");
        let value = toml::de::DeValue::parse(&text).expect("valid TOML");
        match (kind.build)(Params::new(value, std::path::Path::new("/"), std::path::Path::new("/"))) {
            Ok(_) => panic!("expected an error"),
            Err(error) => error.message,
        }
    }
}
