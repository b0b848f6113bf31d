//! `acyclic`: no import cycle among the children of a module.

use serde::Deserialize;
use toml::Spanned;

use super::contract::{IgnoreImports, RawIgnore, chain_finding};
use super::{Check, Fact, OneOrMany, ParamError, Params, RuleKind, RuleMeta};
use crate::facts::FileFacts;
use crate::finding::Finding;
use crate::graph::{ModuleGraph, cycles};
use crate::pattern::PathPattern;

/// The `acyclic` kind.
pub const KIND: RuleKind = RuleKind {
    name: "acyclic",
    summary: "no import cycle among the children of a module",
    docs: DOCS,
    noun: ("import cycle", "import cycles"),
    build,
};

const DOCS: &str = r#"## What it does
For every module a pattern of `modules` matches, looks at the imports between its direct children (a
module deeper down counts as the child it lies in; imports are resolved through re-exports and globs)
and reports each import cycle among them. A finding shows the whole cycle, every edge with the file and
line of each import, and the cheapest edge to cut (the one with the fewest imports). Cycles are found
one at a time: after each, its cheapest edge is taken as cut and the search goes on, so cutting every
suggested edge leaves no cycle. Test code is left out unless `include-tests = true`.

## Why is this bad?
Modules in a cycle cannot be understood, tested or moved one at a time: each needs all the others.
Cycles grow quietly, one convenient import at a time, and are expensive to undo later.

## Example
```rust
// modules = ["app"]
// src/lex.rs
use crate::syntax::Token;      // app::lex -> app::syntax
// src/syntax.rs
use crate::lex::lex;           // reported: app::lex -> app::syntax -> app::lex
```

## Configuration
```toml
[[rule]]
id = "no-import-cycles"
kind = "acyclic"
message = "Modules import in one direction."
modules = ["app", "app::**"]   # the parents whose children must not form a cycle
include-tests = false
ignore-imports = [{ import = "app::a -> app::b", reason = "split in #44" }]
```
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    modules: Spanned<OneOrMany>,
    #[serde(default)]
    include_tests: bool,
    #[serde(default)]
    ignore_imports: Vec<RawIgnore>,
}

/// A validated `acyclic` rule.
#[derive(Debug)]
struct Acyclic {
    parents: Vec<PathPattern>,
    include_tests: bool,
    ignore: IgnoreImports,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    Ok(Box::new(Acyclic {
        parents: super::module_patterns(&raw.modules)?,
        include_tests: raw.include_tests,
        ignore: IgnoreImports::new(&raw.ignore_imports)?,
    }))
}

impl Acyclic {
    /// Each parent's children graph with its cycles.
    fn cycles(&self, graph: &ModuleGraph) -> Vec<(String, ModuleGraph, Vec<cycles::Cycle>)> {
        graph
            .modules()
            .filter(|m| self.parents.iter().any(|p| p.matches(m)))
            .filter_map(|parent| {
                let children = graph.children_of(parent);
                let found = cycles::cycles(&children);
                (!found.is_empty()).then(|| (parent.to_owned(), children, found))
            })
            .collect()
    }
}

impl Check for Acyclic {
    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let (graph, unused) = self.ignore.apply(&ModuleGraph::build(files, self.include_tests));
        for (parent, children, found) in self.cycles(&graph) {
            for cycle in found {
                let chain: Vec<(&str, &str)> = cycle.edges().collect();
                let (cut_from, cut_to) = cycle.cut_edge();
                let sites = children.sites(cut_from, cut_to).map_or(0, <[_]>::len);
                let message = format!("import cycle among the children of `{parent}`: {}", cycle.describe());
                let help = format!(
                    "the cheapest edge to cut is `{cut_from} -> {cut_to}` ({sites} site{})",
                    if sites == 1 { "" } else { "s" }
                );
                let symbol = format!("cycle {}", cycle.describe());
                out.extend(chain_finding(
                    rule,
                    &children,
                    &chain,
                    cycle.cut,
                    message,
                    symbol,
                    Some(help),
                ));
            }
        }
        IgnoreImports::report_unused(&unused, rule, out);
    }

    fn broken_edges(&self, files: &[FileFacts]) -> Vec<(String, String)> {
        let (graph, _) = self.ignore.apply(&ModuleGraph::build(files, self.include_tests));
        let mut broken = Vec::new();
        for (_, children, found) in self.cycles(&graph) {
            for cycle in &found {
                for (a, b) in cycle.edges() {
                    // The modules of the full graph behind each edge of the children's graph.
                    broken.extend(
                        graph
                            .edges()
                            .filter(|(from, to, _)| under(from, a) && under(to, b))
                            .map(|(from, to, _)| (from.to_owned(), to.to_owned())),
                    );
                }
            }
            drop(children);
        }
        broken
    }

    fn applies(&self, files: &[FileFacts]) -> bool {
        super::contract::any_module(files, |module| self.parents.iter().any(|p| p.matches(module)))
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

fn under(module: &str, child: &str) -> bool {
    crate::facts::path_is_under(module, child)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    #[test]
    fn a_cycle_through_a_reexport_and_a_glob_is_found_with_every_edge() {
        let findings = run(
            &KIND,
            r#"modules = ["app", "app::**"]"#,
            &[
                (
                    "src/lib.rs",
                    "pub mod lex; pub mod syntax; pub mod prelude; pub mod clean;",
                ),
                (
                    "src/lex.rs",
                    "use crate::prelude::*; pub struct Token; fn f() { let _ = Tree::new(); }",
                ),
                ("src/prelude.rs", "pub use crate::syntax::Tree;"),
                (
                    "src/syntax.rs",
                    "pub struct Tree; use crate::lex::Token; fn g() { crate::lex::Token; }",
                ),
                ("src/clean.rs", "use crate::lex::Token;"),
            ],
        );
        let shown: Vec<String> = findings
            .iter()
            .map(|f| {
                format!(
                    "{} | {} | {} related",
                    f.message,
                    f.help.as_deref().unwrap_or(""),
                    f.related.len()
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                "import cycle among the children of `app`: app::lex -> app::prelude -> app::syntax -> app::lex | rule message (the cheapest edge to cut is `app::lex -> app::prelude` (1 site)) | 3 related",
                // Through the glob: `Tree` is the re-export's, so `lex` reaches `syntax` directly too.
                "import cycle among the children of `app`: app::lex -> app::syntax -> app::lex | rule message (the cheapest edge to cut is `app::lex -> app::syntax` (1 site)) | 2 related",
            ]
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, "modules = []").contains("at least one"));
        assert!(build_error(&KIND, r#"modules = "a/b""#).contains("::"));
    }
}
