//! `single-definition`: what must exist once is defined at most `max` times, optionally only at its
//! canonical path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::{Check, OneOrMany, ParamError, Params, RuleKind, RuleMeta, location, member, patterns};
use crate::configurations::{self, Configuration};
use crate::facts::{self, Definition, DefinitionKind, FileFacts};
use crate::finding::{Finding, Fix};
use crate::pattern::PathPattern;

/// Beyond this many combinations of crate versions, the rest are not tried (a tree would need many
/// crates in several versions each, all defining the selected items).
const MAX_VERSION_WORLDS: usize = 64;

/// The `single-definition` kind.
pub const KIND: RuleKind = RuleKind {
    name: "single-definition",
    summary: "items that must exist once are defined at most `max` times, at their canonical path",
    docs: DOCS,
    noun: ("duplicate implementation", "duplicate implementations"),
    build,
};

const DOCS: &str = r#"## What it does
Counts the definitions of the selected items across the whole scanned tree and reports a group that has
more than `max` (default 1). With `canonical`, a definition anywhere else is reported even when the count
is within bounds. A duplicate is one finding that lists every definition, the canonical one labelled.

Items are selected by `item-kind`, `name` (exact or glob), `implements` (the trait of an
`impl Trait for Type`) and `attribute` (an attribute on the item); every given selector must match.
A `pub use` re-export, a `use`, and a type alias are not definitions and never count. Items under
`#[cfg(test)]`, `#[test]` functions and test targets are left out unless `include-tests = true`.
Items a workspace `macro_rules!` generates are counted where the macro is invoked, naming the
macro; items made by procedural macros or macros from outside the scanned tree are not seen (the
summary counts those invocations).

In Python, `class` and `def` at any depth are definitions (`item-kind` `class`, `enum` for an `Enum`
subclass, `fn`, `method`, `type-alias`), with dotted paths (`app.ws.router.MessageRouter`); an
assignment naming another class (`Manager = UnifiedManager`) and an `__init__.py` re-export are not.
The definitions of one name in the branches of an `if`/`else` or `try`/`except ImportError` share a path
and count once; those under `if TYPE_CHECKING:` do not count.

## Why is this bad?
Two definitions of what must exist once (two message handlers, two routers, two notifiers) mean two
behaviours for the same input: messages answered twice or not at all, events out of order.

## Example
```rust
// src/ws/router.rs
pub struct MessageRouter;      // canonical
// src/routing/legacy.rs
pub struct MessageRouter;      // reported: second definition
pub type Router = crate::ws::router::MessageRouter;   // not a definition
```

## Configuration
```toml
[[rule]]
id = "one-message-router"
kind = "single-definition"
message = "One MessageRouter: the canonical router in ws::router."
item-kind = ["struct", "enum", "trait"]   # default: every kind but impl, method, mod and type-alias (`class` for Python)
name = "MessageRouter"                    # or a glob: "*Router"; with `::` it matches the whole path
implements = "AgentEventSink"             # select `impl AgentEventSink for X` blocks (item-kind defaults to impl)
attribute = "handler"                     # select items carrying #[handler]
max = 1                                   # default 1; 0: must not exist at all
canonical = "**::ws::router::MessageRouter"  # path pattern(s); a module pattern covers its items
group-by = "name"                         # "none" (default): all selected items form one group
include-tests = false
```
Item kinds: struct, enum, union, trait, type-alias, fn, method, const, static, impl, mod, macro.
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    item_kind: Option<Spanned<OneOrMany>>,
    name: Option<Spanned<OneOrMany>>,
    implements: Option<Spanned<OneOrMany>>,
    attribute: Option<Spanned<OneOrMany>>,
    max: Option<Spanned<i64>>,
    canonical: Option<Spanned<OneOrMany>>,
    group_by: Option<Spanned<String>>,
    #[serde(default)]
    include_tests: bool,
}

/// A validated `single-definition` rule.
#[derive(Debug)]
struct SingleDefinition {
    kinds: Vec<DefinitionKind>,
    names: Vec<PathPattern>,
    implements: Vec<PathPattern>,
    attributes: Vec<PathPattern>,
    max: usize,
    canonical: Vec<PathPattern>,
    group_by_name: bool,
    include_tests: bool,
}

const DEFAULT_KINDS: [DefinitionKind; 9] = [
    DefinitionKind::Struct,
    DefinitionKind::Class,
    DefinitionKind::Enum,
    DefinitionKind::Union,
    DefinitionKind::Trait,
    DefinitionKind::Fn,
    DefinitionKind::Const,
    DefinitionKind::Static,
    DefinitionKind::Macro,
];

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    let optional =
        |list: &Option<Spanned<OneOrMany>>| list.as_ref().map(patterns).transpose().map(Option::unwrap_or_default);
    let names = optional(&raw.name)?;
    let implements = optional(&raw.implements)?;
    let attributes = optional(&raw.attribute)?;
    if names.is_empty() && implements.is_empty() && attributes.is_empty() {
        let span = raw.item_kind.as_ref().map(Spanned::span).unwrap_or(0..0);
        return Err(ParamError::at(
            span,
            "select items with at least one of `name`, `implements` or `attribute`",
        ));
    }
    let kinds = match &raw.item_kind {
        Some(list) => list
            .get_ref()
            .0
            .iter()
            .map(|k| {
                DefinitionKind::parse(k).ok_or_else(|| {
                    let known: Vec<&str> = DefinitionKind::ALL.iter().map(|k| k.as_str()).collect();
                    ParamError::at(
                        list.span(),
                        format!("unknown item kind `{k}`; expected one of: {}", known.join(", ")),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        None if !implements.is_empty() => vec![DefinitionKind::Impl],
        None => DEFAULT_KINDS.to_vec(),
    };
    let max = match &raw.max {
        Some(max) if *max.get_ref() < 0 => {
            return Err(ParamError::at(max.span(), "`max` must be 0 (must not exist) or more"));
        }
        Some(max) => usize::try_from(*max.get_ref()).unwrap_or(usize::MAX),
        None => 1,
    };
    let group_by_name = match &raw.group_by {
        None => false,
        Some(g) if g.get_ref() == "none" => false,
        Some(g) if g.get_ref() == "name" => true,
        Some(g) => {
            return Err(ParamError::at(
                g.span(),
                format!("`group-by` is \"name\" or \"none\", not {:?}", g.get_ref()),
            ));
        }
    };
    Ok(Box::new(SingleDefinition {
        kinds,
        names,
        implements,
        attributes,
        max,
        canonical: optional(&raw.canonical)?,
        group_by_name,
        include_tests: raw.include_tests,
    }))
}

/// A pattern without `::` matches a name (or the last segment of a path); one with `::` the whole path.
fn matches_name_or_path(pattern: &PathPattern, name: &str, path: &str) -> bool {
    if pattern.is_path() {
        pattern.matches(path)
    } else {
        pattern.matches(name)
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

impl SingleDefinition {
    fn selects(&self, d: &Definition) -> bool {
        (self.include_tests || !d.in_test)
            && self.kinds.contains(&d.kind)
            && (self.names.is_empty() || self.names.iter().any(|p| matches_name_or_path(p, &d.name, &d.path)))
            && (self.implements.is_empty()
                || d.implements.as_deref().is_some_and(|t| {
                    self.implements
                        .iter()
                        .any(|p| matches_name_or_path(p, last_segment(t), t))
                }))
            && (self.attributes.is_empty()
                || d.attributes.iter().any(|a| {
                    self.attributes
                        .iter()
                        .any(|p| matches_name_or_path(p, last_segment(a), a))
                }))
    }

    fn is_canonical(&self, d: &Definition) -> bool {
        self.canonical.iter().any(|p| p.covers(&d.path))
    }
}

/// What a definition is, named as a reader would find it: with its crate's version when the tree holds
/// several (`struct `syn@2::Ident``).
fn describe(file: &FileFacts, d: &Definition) -> String {
    let what = match &d.implements {
        Some(t) => format!(
            "impl {} for {}",
            last_segment(t),
            d.self_type.as_deref().unwrap_or(&d.name)
        ),
        None => format!("{} `{}`", d.kind.as_str(), versioned_path(&file.krate, &d.path)),
    };
    match &d.generated_by {
        Some(origin) => format!("{what}, generated by {origin}"),
        None => what,
    }
}

/// `path` with its crate segment replaced by the crate's label when that names a version.
fn versioned_path(label: &str, path: &str) -> String {
    match label.split_once('@') {
        Some((name, _)) if facts::path_is_under(path, name) => format!("{label}{}", &path[name.len()..]),
        _ => path.to_owned(),
    }
}

/// The ways of picking one version of each crate the definitions come from in several versions, as the
/// definitions (by index) each picks: two versions of one package are two builds of it, never one, so
/// their definitions are never counted together. One way, all of them, when no crate comes twice.
fn version_worlds(defs: &[(&FileFacts, &Definition)]) -> (Vec<Vec<usize>>, Vec<bool>) {
    let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (file, _) in defs {
        if let Some((name, _)) = file.krate.split_once('@') {
            versions.entry(name).or_default().insert(file.krate.as_str());
        }
    }
    versions.retain(|_, labels| labels.len() > 1);
    let mut picks: Vec<BTreeSet<&str>> = vec![BTreeSet::new()];
    for labels in versions.values() {
        picks = picks
            .iter()
            .flat_map(|pick| {
                labels.iter().map(move |label| {
                    let mut pick = pick.clone();
                    pick.insert(*label);
                    pick
                })
            })
            .take(MAX_VERSION_WORLDS)
            .collect();
    }
    let contested: Vec<bool> = defs
        .iter()
        .map(|(file, _)| {
            file.krate
                .split_once('@')
                .is_some_and(|(name, _)| versions.contains_key(name))
        })
        .collect();
    let worlds = picks
        .iter()
        .map(|pick| {
            (0..defs.len())
                .filter(|&i| !contested[i] || pick.contains(defs[i].0.krate.as_str()))
                .collect()
        })
        .collect();
    (worlds, contested)
}

/// The crates of `defs` counted apart by version (`syn@1, syn@2`), for messages; empty when none.
fn versions_apart(defs: &[(&FileFacts, &Definition)]) -> String {
    let labels: BTreeSet<&str> = defs
        .iter()
        .map(|(f, _)| f.krate.as_str())
        .filter(|k| k.contains('@'))
        .collect();
    let mut names: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for label in labels {
        names
            .entry(label.split('@').next().unwrap_or(label))
            .or_default()
            .push(label);
    }
    let apart: Vec<String> = names
        .into_values()
        .filter(|l| l.len() > 1)
        .map(|l| l.join(" and "))
        .collect();
    apart.join(", ")
}

impl Check for SingleDefinition {
    fn uses(&self, fact: super::Fact<'_>) -> bool {
        matches!(fact, super::Fact::Definition(d) if self.selects(d))
    }

    fn reads_tests(&self) -> bool {
        self.include_tests
    }

    fn reads_references(&self) -> bool {
        // Definitions are found where they are written, under their own names.
        false
    }

    fn reads_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    fn body_words(&self) -> Option<Vec<String>> {
        // A definition must match every filter given, so the words of any one filter will do.
        [&self.names, &self.implements, &self.attributes]
            .into_iter()
            .find(|patterns| !patterns.is_empty())
            .and_then(super::pattern_words)
    }

    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let mut groups: BTreeMap<&str, Vec<(&FileFacts, &Definition)>> = BTreeMap::new();
        for file in files {
            for d in file.definitions.iter().filter(|d| self.selects(d)) {
                let key = if self.group_by_name { d.name.as_str() } else { "" };
                groups.entry(key).or_default().push((file, d));
            }
        }
        for (key, mut all) in groups {
            all.sort_by(|a, b| (&a.0.path, a.1.span).cmp(&(&b.0.path, b.1.span)));
            // A definition suppressed on its own line leaves the group; the others are still counted.
            let (suppressed, kept): (Vec<_>, Vec<_>) = all
                .iter()
                .copied()
                .partition(|(file, d)| super::suppression_of(file, d.span, &rule.id).is_some());
            let collisions = self.collisions(&kept);
            if !collisions.is_empty() {
                for (members, configuration) in collisions {
                    let group: Vec<_> = members.iter().map(|&i| kept[i]).collect();
                    out.push(self.group_finding(rule, key, &group, configuration.as_ref(), &suppressed, None));
                }
                continue;
            }
            // When only suppressions keep the group within `max`, it is still reported, as suppressed.
            let all_collisions = match suppressed.is_empty() {
                true => Vec::new(),
                false => self.collisions(&all),
            };
            if !all_collisions.is_empty() {
                let reasons: BTreeSet<&str> = suppressed
                    .iter()
                    .filter_map(|(f, d)| super::suppression_of(f, d.span, &rule.id)?.reason.as_deref())
                    .collect();
                let reasons = reasons.into_iter().collect::<Vec<_>>().join("; ");
                for (members, configuration) in all_collisions {
                    let group: Vec<_> = members.iter().map(|&i| all[i]).collect();
                    let finding = self.group_finding(rule, key, &group, configuration.as_ref(), &[], Some(&reasons));
                    out.push(finding);
                }
                continue;
            }
            if !self.canonical.is_empty() {
                for (file, d) in kept.iter().filter(|(_, d)| !self.is_canonical(d)) {
                    out.push(rule.finding(
                        format!("`{}` is defined outside its canonical place", d.name),
                        d.path.clone(),
                        location(file, d.span, describe(file, d)),
                        Some(format!("canonical: `{}`", self.canonical_place())),
                    ));
                }
            }
        }
    }
}

impl SingleDefinition {
    /// The sets of `defs` (by index) that one configuration compiles more than `max` of, with that
    /// configuration. Two definitions at the very same path are never both compiled (rustc would refuse
    /// them), so such twins count once even where their `cfg`s are not seen (macros, build scripts).
    fn collisions(&self, defs: &[(&FileFacts, &Definition)]) -> Vec<(Vec<usize>, Option<Configuration>)> {
        let (worlds, contested) = version_worlds(defs);
        let uncontested = |set: &[usize]| -> Vec<usize> { set.iter().copied().filter(|&i| !contested[i]).collect() };
        let mut sets: Vec<(Vec<usize>, Option<Configuration>)> = Vec::new();
        for world in worlds {
            let predicates: Vec<Option<&str>> = world.iter().map(|&i| defs[i].1.cfg.as_deref()).collect();
            for (set, configuration) in configurations::compiled_together(&predicates, self.max) {
                let mut paths = BTreeSet::new();
                let set: Vec<usize> = set
                    .into_iter()
                    .map(|j| world[j])
                    .filter(|&i| paths.insert(defs[i].1.path.as_str()))
                    .collect();
                if set.len() <= self.max {
                    continue;
                }
                // The same collision with another version of a crate is one finding listing both versions.
                let same = sets
                    .iter_mut()
                    .find(|(s, c)| *c == configuration && uncontested(s) == uncontested(&set));
                if let Some((existing, _)) = same {
                    existing.extend(set.iter().filter(|&&i| contested[i]));
                    existing.sort_unstable();
                    existing.dedup();
                } else if !sets.iter().any(|(s, _)| set.iter().all(|i| s.contains(i))) {
                    sets.retain(|(s, _)| !s.iter().all(|i| set.contains(i)));
                    sets.push((set, configuration));
                }
            }
        }
        sets
    }

    fn canonical_place(&self) -> String {
        self.canonical
            .iter()
            .map(PathPattern::as_str)
            .collect::<Vec<_>>()
            .join("`, `")
    }

    /// The finding for definitions compiled together (under `configuration`, when a `cfg` decides),
    /// listing the suppressed members it left out; suppressed as a whole with `reasons`.
    fn group_finding(
        &self,
        rule: &RuleMeta,
        key: &str,
        defs: &[(&FileFacts, &Definition)],
        configuration: Option<&Configuration>,
        set_aside: &[(&FileFacts, &Definition)],
        reasons: Option<&str>,
    ) -> Finding {
        let primary = defs.iter().position(|(_, d)| !self.is_canonical(d)).unwrap_or(0);
        let label = |file: &FileFacts, d: &Definition| {
            if self.is_canonical(d) {
                format!("canonical: {}", describe(file, d))
            } else {
                describe(file, d)
            }
        };
        let names: Vec<&str> = defs
            .iter()
            .map(|(_, d)| d.name.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let subject = match (&self.implements.is_empty(), names.as_slice()) {
            (false, _) => {
                let traits: Vec<&str> = self.implements.iter().map(PathPattern::as_str).collect();
                format!("`{}` has {} implementations", traits.join("`/`"), defs.len())
            }
            (true, [one]) if defs.len() == 1 => format!("`{one}` is defined once"),
            (true, [one]) => format!("`{one}` is defined {} times", defs.len()),
            (true, _) => format!("{} definitions match ({})", defs.len(), names.join(", ")),
        };
        let limit = match self.max {
            0 => "it must not exist".to_owned(),
            max => format!("at most {max} allowed"),
        };
        let versions = versions_apart(defs);
        let subject = match versions.is_empty() {
            true => subject,
            false => format!("{subject}, counting {versions} apart"),
        };
        let message = match configuration {
            Some(configuration) => format!("{subject}; {limit} (compiled together for {configuration})"),
            None => format!("{subject}; {limit}"),
        };
        let (file, d) = defs[primary];
        let symbol = if key.is_empty() {
            rule.id.clone()
        } else {
            key.to_owned()
        };
        let extra = (!self.canonical.is_empty()).then(|| format!("canonical: `{}`", self.canonical_place()));
        let mut finding = rule.finding(message, symbol, member(file, d.span, label(file, d), &d.path), extra);
        finding.related = defs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != primary)
            .map(|(_, (f, d))| member(f, d.span, label(f, d), &d.path))
            .collect();
        finding.related.extend(set_aside.iter().filter_map(|(f, d)| {
            let suppression = super::suppression_of(f, d.span, &rule.id)?;
            Some(super::suppressed_member(f, d.span, &label(f, d), suppression))
        }));
        finding.suppression = reasons.map(str::to_owned);
        finding.fix = defs
            .iter()
            .find(|(_, d)| self.is_canonical(d))
            .filter(|_| defs.len() > 1)
            .map(|(f, d)| Fix::KeepDefinition {
                keep: format!("{}:{} ({})", f.path, d.span.line, describe(f, d)),
                path: f.path.clone(),
                span: d.span,
            });
        finding
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    const LIB: &str = "pub mod ws; pub mod legacy; pub type Router = ws::MessageRouter; pub use ws::MessageRouter as R;
        #[cfg(test)] mod tests { struct MessageRouter; }";

    #[test]
    fn counts_real_definitions_only() {
        let findings = run(
            &KIND,
            r#"name = "MessageRouter""#,
            &[
                ("src/lib.rs", LIB),
                ("src/ws.rs", "pub struct MessageRouter; pub struct MessageRouterConfig;"),
                (
                    "src/legacy.rs",
                    "pub struct MessageRouter; fn f() { enum MessageRouter {} }",
                ),
            ],
        );
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.message, "`MessageRouter` is defined 3 times; at most 1 allowed");
        assert_eq!(f.primary.path, "src/legacy.rs");
        assert_eq!(f.related.len(), 2);
        assert!(f.related.iter().any(|l| l.label == "struct `app::ws::MessageRouter`"));
        assert!(
            f.related
                .iter()
                .any(|l| l.label == "enum `app::legacy::f::MessageRouter`")
        );
    }

    #[test]
    fn canonical_is_labelled_and_enforced_within_bounds() {
        let files = [
            ("src/lib.rs", "pub mod ws; pub mod legacy;"),
            ("src/ws.rs", "pub struct Handler;"),
            ("src/legacy.rs", "pub struct Handler;"),
        ];
        let dup = run(&KIND, r#"name = "Handler", canonical = "app::ws::Handler""#, &files);
        assert_eq!(dup[0].primary.path, "src/legacy.rs");
        assert_eq!(dup[0].related[0].label, "canonical: struct `app::ws::Handler`");
        let misplaced = run(&KIND, r#"name = "Handler", max = 2, canonical = "app::ws""#, &files);
        assert_eq!(misplaced.len(), 1);
        assert_eq!(misplaced[0].message, "`Handler` is defined outside its canonical place");
    }

    #[test]
    fn group_by_name_and_globs_and_tests_opt_in() {
        let files = [
            (
                "src/lib.rs",
                "pub struct ARouter; pub struct BRouter; mod m { pub struct ARouter; }",
            ),
            ("tests/it.rs", "struct BRouter;"),
        ];
        let grouped = run(&KIND, r#"name = "*Router", group-by = "name""#, &files);
        assert_eq!(grouped.len(), 1);
        assert_eq!(grouped[0].symbol, "ARouter");
        let with_tests = run(
            &KIND,
            r#"name = "*Router", group-by = "name", include-tests = true"#,
            &files,
        );
        assert_eq!(with_tests.len(), 2);
        let one_group = run(&KIND, r#"name = "*Router", max = 2"#, &files);
        assert_eq!(
            one_group[0].message,
            "3 definitions match (ARouter, BRouter); at most 2 allowed"
        );
    }

    #[test]
    fn max_zero_means_must_not_exist() {
        let findings = run(
            &KIND,
            r#"name = "*Factory", max = 0"#,
            &[("src/lib.rs", "pub struct WebSocketManagerFactory; pub struct Router;")],
        );
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["`WebSocketManagerFactory` is defined once; it must not exist"]
        );
    }

    #[test]
    fn selects_impls_by_trait_and_items_by_attribute() {
        let files = [(
            "src/lib.rs",
            "pub trait Sink {} struct A; struct B; impl Sink for A {} impl crate::Sink for B {} impl A {}
             #[handler] fn one() {} #[app::handler] fn two() {} fn three() {}",
        )];
        let impls = run(&KIND, r#"implements = "Sink""#, &files);
        assert_eq!(impls[0].message, "`Sink` has 2 implementations; at most 1 allowed");
        let by_attribute = run(&KIND, r#"attribute = "handler""#, &files);
        assert_eq!(
            by_attribute[0].message,
            "2 definitions match (one, two); at most 1 allowed"
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, r#"item-kind = "struct""#).contains("at least one of"));
        assert!(build_error(&KIND, r#"name = "X", item-kind = "klass""#).contains("unknown item kind `klass`"));
        assert!(build_error(&KIND, r#"name = "X", max = -1"#).contains("must not exist"));
        assert!(build_error(&KIND, r#"name = "X", group-by = "file""#).contains("group-by"));
        assert!(build_error(&KIND, r#"name = "X", nmae = "Y""#).contains("unknown field `nmae`"));
    }

    #[test]
    fn two_versions_of_one_crate_are_never_counted_together() {
        let versions = [
            (
                "vendor/syn-1/Cargo.toml",
                "[package]\nname = \"syn\"\nversion = \"1.0.109\"\n",
            ),
            ("vendor/syn-1/src/lib.rs", "pub mod token { pub struct Group; }"),
            (
                "vendor/syn/Cargo.toml",
                "[package]\nname = \"syn\"\nversion = \"2.0.100\"\n",
            ),
            (
                "vendor/syn/src/lib.rs",
                "pub struct Group; pub mod old { pub struct Group; }",
            ),
            ("src/lib.rs", "pub struct Lone;"),
        ];
        let findings = run(&KIND, r#"name = ["Group", "Lone"], group-by = "name""#, &versions);
        // syn 1's `token::Group` moved in syn 2: not a duplicate; syn 2's own two are.
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let labels: Vec<&str> = std::iter::once(&findings[0].primary)
            .chain(&findings[0].related)
            .map(|l| l.label.as_str())
            .collect();
        assert_eq!(labels, ["struct `syn@2::Group`", "struct `syn@2::old::Group`"]);

        let one_each = [
            versions[0],
            versions[1],
            versions[2],
            ("vendor/syn/src/lib.rs", "pub struct Group;"),
        ];
        assert_eq!(run(&KIND, r#"name = "Group""#, &one_each), []);
    }
}
