//! `layers`: modules import only the layers below them.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::contract::{IgnoreImports, RawIgnore, chain_finding};
use super::{Check, Fact, OneOrMany, ParamError, Params, RuleKind, RuleMeta};
use crate::facts::FileFacts;
use crate::finding::Finding;
use crate::graph::ModuleGraph;
use crate::pattern::PathPattern;

/// The `layers` kind.
pub const KIND: RuleKind = RuleKind {
    name: "layers",
    summary: "modules import only the layers below them, never above, and never past a closed layer",
    docs: DOCS,
    noun: ("layer violation", "layer violations"),
    build,
};

const DOCS: &str = r#"## What it does
Takes an ordered list of layers, highest first. A module in a layer may import (with `use`, or name in
a qualified path) modules of the layers below it; an import of a layer above is reported. A layer marked
`closed = true` may not be skipped: a module above it may not import a layer below it directly. Modules
listed together in one layer are siblings: by default they must not import each other (an `independent`
layer); `independent = false` lets them. Imports are resolved first, through re-exports and globs, so a
`pub use` in a lower layer does not hide an import of a higher one. A module in no layer is not checked,
nor are imports of it. With `containers`, the same layers apply inside each container module, written
relative to it. Test code is left out unless `include-tests = true`. Each finding is one pair of modules,
with every site that makes the import.

## Why is this bad?
Layers are how a codebase stays understandable: each layer can be read, tested and replaced knowing
only those below it. An import from a lower layer into a higher one makes a circle of knowledge, and a
deprecated or inner layer reached past a closed facade is still a dependency the migration must undo.

## Example
```rust
// layers = ["app::web", "app::service", "app::store"]
// src/store.rs
use crate::web::Session;        // reported: app::store imports app::web, a higher layer
// src/web.rs
use crate::store::EventStore;   // fine unless `app::service` is closed
```

## Configuration
```toml
[[rule]]
id = "app-layers"
kind = "layers"
message = "The web layer calls services; services call the store; nothing calls upward."
layers = [
  "app::web",                                   # the highest layer
  ["app::api", "app::cli"],                     # siblings: independent of each other
  { modules = ["app::service"], closed = true }, # nothing above may reach past it
  { modules = ["app::store", "app::cache"], independent = false },
  "app::util",                                  # the lowest layer
]
containers = ["app::plugins::*"]   # optional: layers written relative to each container module
include-tests = false
ignore-imports = [{ import = "app::store -> app::web::Session", reason = "serialized sessions, until #12" }]
```
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    layers: Spanned<Vec<LayerEntry>>,
    containers: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    include_tests: bool,
    #[serde(default)]
    ignore_imports: Vec<RawIgnore>,
}

/// One layer as written: a pattern, a list of sibling patterns, or a table.
#[derive(Debug)]
struct LayerEntry {
    modules: Vec<String>,
    closed: bool,
    independent: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LayerTable {
    modules: OneOrMany,
    #[serde(default)]
    closed: bool,
    independent: Option<bool>,
}

impl<'de> Deserialize<'de> for LayerEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = LayerEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a module pattern, an array of sibling patterns, or a table with `modules`")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<LayerEntry, E> {
                Ok(LayerEntry {
                    modules: vec![value.to_owned()],
                    closed: false,
                    independent: true,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LayerEntry, A::Error> {
                let mut modules = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    modules.push(item);
                }
                Ok(LayerEntry {
                    modules,
                    closed: false,
                    independent: true,
                })
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<LayerEntry, M::Error> {
                let table = LayerTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(LayerEntry {
                    modules: table.modules.0,
                    closed: table.closed,
                    independent: table.independent.unwrap_or(true),
                })
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// One validated layer.
#[derive(Debug)]
struct Layer {
    patterns: Vec<String>,
    closed: bool,
    independent: bool,
}

/// A validated `layers` rule.
#[derive(Debug)]
struct Layers {
    layers: Vec<Layer>,
    containers: Vec<PathPattern>,
    include_tests: bool,
    ignore: IgnoreImports,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    let span = raw.layers.span();
    if raw.layers.get_ref().len() < 2 {
        return Err(ParamError::at(
            span,
            "`layers` needs at least two layers, highest first",
        ));
    }
    let mut layers = Vec::new();
    for entry in raw.layers.into_inner() {
        if entry.modules.is_empty() {
            return Err(ParamError::at(span, "a layer needs at least one module pattern"));
        }
        for pattern in &entry.modules {
            PathPattern::new(pattern).map_err(|e| ParamError::at(span.clone(), e))?;
        }
        layers.push(Layer {
            patterns: entry.modules,
            closed: entry.closed,
            independent: entry.independent,
        });
    }
    let containers = match &raw.containers {
        Some(list) => super::patterns(list)?,
        None => Vec::new(),
    };
    Ok(Box::new(Layers {
        layers,
        containers,
        include_tests: raw.include_tests,
        ignore: IgnoreImports::new(&raw.ignore_imports)?,
    }))
}

/// Where a module sits: its layer, and the module its layer's pattern matched (its member).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Place {
    layer: usize,
    member: String,
}

/// The layers as patterns over absolute module paths, for one container (or none).
struct Placed<'r> {
    rule: &'r Layers,
    compiled: Vec<Vec<PathPattern>>,
}

impl<'r> Placed<'r> {
    fn new(rule: &'r Layers, container: Option<&str>) -> Self {
        let compiled = rule
            .layers
            .iter()
            .map(|layer| {
                layer
                    .patterns
                    .iter()
                    .filter_map(|p| {
                        let full = container.map_or_else(|| p.clone(), |c| format!("{c}::{p}"));
                        PathPattern::new(&full).ok()
                    })
                    .collect()
            })
            .collect();
        Placed { rule, compiled }
    }

    /// The layer and member of `module`: the most specific pattern covering it.
    fn place(&self, module: &str) -> Option<Place> {
        let mut best: Option<Place> = None;
        for (layer, patterns) in self.compiled.iter().enumerate() {
            for pattern in patterns {
                if let Some(prefix) = pattern.covering_prefix(module)
                    && best.as_ref().is_none_or(|b| prefix.len() > b.member.len())
                {
                    best = Some(Place {
                        layer,
                        member: prefix.to_owned(),
                    });
                }
            }
        }
        best
    }

    /// Why `from -> to` breaks the layers, if it does.
    fn breach(&self, from: &str, to: &str) -> Option<String> {
        let (a, b) = (self.place(from)?, self.place(to)?);
        let layers = &self.rule.layers;
        if a.layer > b.layer {
            return Some(format!(
                "`{from}` (layer {}) imports `{to}`, in layer {} above it",
                a.layer + 1,
                b.layer + 1
            ));
        }
        if a.layer == b.layer {
            return (a.member != b.member && layers[a.layer].independent).then(|| {
                format!(
                    "`{from}` imports `{to}`: `{}` and `{}` are independent siblings in layer {}",
                    a.member,
                    b.member,
                    a.layer + 1
                )
            });
        }
        let skipped = (a.layer + 1..b.layer).find(|&k| layers[k].closed)?;
        Some(format!(
            "`{from}` (layer {}) imports `{to}` (layer {}) past the closed layer {} (`{}`)",
            a.layer + 1,
            b.layer + 1,
            skipped + 1,
            layers[skipped].patterns.join("`, `")
        ))
    }

    fn containers(rule: &'r Layers, graph: &ModuleGraph) -> Vec<Self> {
        if rule.containers.is_empty() {
            return vec![Placed::new(rule, None)];
        }
        graph
            .modules()
            .filter(|m| rule.containers.iter().any(|c| c.matches(m)))
            .map(|container| Placed::new(rule, Some(container)))
            .collect()
    }
}

impl Layers {
    /// Every edge that breaks the layers, with why.
    fn breaches(&self, graph: &ModuleGraph) -> Vec<(String, String, String)> {
        let placed = Placed::containers(self, graph);
        graph
            .edges()
            .filter_map(|(from, to, _)| {
                let why = placed.iter().find_map(|p| p.breach(from, to))?;
                Some((from.to_owned(), to.to_owned(), why))
            })
            .collect()
    }
}

impl Check for Layers {
    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let (graph, unused) = self.ignore.apply(&ModuleGraph::build(files, self.include_tests));
        for (from, to, why) in self.breaches(&graph) {
            let symbol = format!("{from} -> {to}");
            out.extend(chain_finding(rule, &graph, &[(&from, &to)], 0, why, symbol, None));
        }
        IgnoreImports::report_unused(&unused, rule, out);
    }

    fn broken_edges(&self, files: &[FileFacts]) -> Vec<(String, String)> {
        let (graph, _) = self.ignore.apply(&ModuleGraph::build(files, self.include_tests));
        self.breaches(&graph).into_iter().map(|(a, b, _)| (a, b)).collect()
    }

    fn applies(&self, files: &[FileFacts]) -> bool {
        if !self.containers.is_empty() {
            return super::contract::any_module(files, |module| self.containers.iter().any(|c| c.matches(module)));
        }
        let patterns: Vec<PathPattern> = self
            .layers
            .iter()
            .flat_map(|layer| &layer.patterns)
            .filter_map(|p| PathPattern::new(p).ok())
            .collect();
        super::contract::any_module(files, |module| patterns.iter().any(|p| p.covers(module)))
    }

    fn body_words(&self) -> Option<Vec<String>> {
        None
    }

    fn uses(&self, fact: Fact<'_>) -> bool {
        super::contract::uses(fact)
    }

    fn reads_tests(&self) -> bool {
        self.include_tests
    }

    fn reads_references(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    const FILES: [(&str, &str); 6] = [
        (
            "src/lib.rs",
            "pub mod web; pub mod service; pub mod store; pub mod util; pub mod api;",
        ),
        (
            "src/web.rs",
            "use crate::service::Service; use crate::store::Store; pub struct Session;",
        ),
        ("src/api.rs", "use crate::web::Session; use crate::service::Service;"),
        ("src/service.rs", "use crate::store::Store; pub struct Service;"),
        (
            "src/store.rs",
            "pub struct Store; fn f() { let _ = crate::web::Session; }",
        ),
        ("src/util.rs", "pub fn helper() {}"),
    ];

    fn messages(params: &str) -> Vec<String> {
        run(&KIND, params, &FILES).into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn an_import_of_a_higher_layer_is_reported_and_lower_ones_are_fine() {
        assert_eq!(
            messages(r#"layers = [["app::web", "app::api"], "app::service", "app::store"]"#),
            vec![
                "`app::api` imports `app::web`: `app::api` and `app::web` are independent siblings in layer 1",
                "`app::store` (layer 3) imports `app::web`, in layer 1 above it",
            ]
        );
        // Siblings that may import each other.
        assert_eq!(
            messages(
                r#"layers = [{ modules = ["app::web", "app::api"], independent = false }, "app::service", "app::store"]"#
            ),
            vec!["`app::store` (layer 3) imports `app::web`, in layer 1 above it"]
        );
    }

    #[test]
    fn a_closed_layer_cannot_be_skipped() {
        assert_eq!(
            messages(
                r#"layers = ["app::web", { modules = "app::service", closed = true }, "app::store"], ignore-imports = [{ import = "app::store -> app::web", reason = "r" }]"#
            ),
            vec!["`app::web` (layer 1) imports `app::store` (layer 3) past the closed layer 2 (`app::service`)"]
        );
    }

    #[test]
    fn ignored_imports_drop_sites_and_unused_ones_are_warnings() {
        let findings = run(
            &KIND,
            r#"layers = ["app::service", "app::store"], ignore-imports = [{ import = "app::util -> app::web", reason = "none" }]"#,
            &FILES,
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, crate::finding::Severity::Warning);
        assert!(
            findings[0].message.contains("matches no import"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn containers_apply_the_layers_inside_each() {
        let findings = run(
            &KIND,
            r#"layers = ["high", "low"], containers = ["app::*"]"#,
            &[
                ("src/lib.rs", "pub mod p; pub mod q;"),
                ("src/p/mod.rs", "pub mod high; pub mod low;"),
                ("src/p/high.rs", "use super::low::L; pub struct H;"),
                ("src/p/low.rs", "pub struct L;"),
                ("src/q/mod.rs", "pub mod high; pub mod low;"),
                ("src/q/high.rs", "pub struct H;"),
                ("src/q/low.rs", "use crate::q::high::H;"),
            ],
        );
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["`app::q::low` (layer 2) imports `app::q::high`, in layer 1 above it"]
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, r#"layers = ["a"]"#).contains("at least two layers"));
        assert!(build_error(&KIND, r#"layers = ["a", 3]"#).contains("module pattern"));
        assert!(build_error(&KIND, r#"layers = ["a", { modules = "b", shut = true }]"#).contains("unknown field"));
        assert!(
            build_error(
                &KIND,
                r#"layers = ["a", "b"], ignore-imports = [{ import = "a", reason = "r" }]"#
            )
            .contains("from -> to")
        );
        assert!(
            build_error(
                &KIND,
                r#"layers = ["a", "b"], ignore-imports = [{ import = "a -> b" }]"#
            )
            .contains("reason")
        );
    }
}
