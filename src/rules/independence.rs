//! `independence`: the listed modules do not import each other, directly or (optionally) through others.

use serde::Deserialize;
use toml::Spanned;

use super::contract::{IgnoreImports, RawIgnore, chain_finding};
use super::{Check, Fact, OneOrMany, ParamError, Params, RuleKind, RuleMeta};
use crate::facts::FileFacts;
use crate::finding::Finding;
use crate::graph::ModuleGraph;
use crate::pattern::PathPattern;

/// The `independence` kind.
pub const KIND: RuleKind = RuleKind {
    name: "independence",
    summary: "the listed modules do not import each other, directly or through other modules",
    docs: DOCS,
    noun: (
        "dependency between independent modules",
        "dependencies between independent modules",
    ),
    build,
};

const DOCS: &str = r#"## What it does
Each module a pattern of `modules` matches is independent of every other: none of its code imports
(with `use`, or names in a qualified path) anything of another, resolved through re-exports and globs.
With `transitive = true`, a chain through modules outside the list counts too (`a -> shared -> b`), and
the finding shows the shortest chain, every edge with its sites. A chain through another listed module
is not reported again: its first step already is. Test code is left out unless `include-tests = true`.

## Why is this bad?
Independent parts (plugins, agents, storage back-ends, the old and the new implementation during a
migration) can be changed, removed or released alone only while nothing couples them; one import is
enough to make the old path reachable from the new one.

## Example
```rust
// modules = ["app::agents::*"]
// src/agents/search.rs
use crate::agents::calculator::parse;   // reported: app::agents::search imports app::agents::calculator
```

## Configuration
```toml
[[rule]]
id = "agents-independent"
kind = "independence"
message = "Agents share nothing but the session they are given."
modules = ["app::agents::*", "app::legacy"]
transitive = false     # default; `true` also reports chains through other modules
include-tests = false
ignore-imports = [{ import = "app::agents::a -> app::agents::b::Shared", reason = "moved in #31" }]
```
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    modules: Spanned<OneOrMany>,
    #[serde(default)]
    transitive: bool,
    #[serde(default)]
    include_tests: bool,
    #[serde(default)]
    ignore_imports: Vec<RawIgnore>,
}

/// A validated `independence` rule.
#[derive(Debug)]
struct Independence {
    modules: Vec<PathPattern>,
    transitive: bool,
    include_tests: bool,
    ignore: IgnoreImports,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    Ok(Box::new(Independence {
        modules: super::module_patterns(&raw.modules)?,
        transitive: raw.transitive,
        include_tests: raw.include_tests,
        ignore: IgnoreImports::new(&raw.ignore_imports)?,
    }))
}

/// A dependency of one listed module on another: the chain of edges from the first to the second.
struct Coupling {
    from: String,
    to: String,
    chain: Vec<(String, String)>,
}

impl Independence {
    /// The listed module `module` is, or lies in.
    fn member<'m>(&self, module: &'m str) -> Option<&'m str> {
        self.modules
            .iter()
            .filter_map(|p| p.covering_prefix(module))
            .max_by_key(|prefix| prefix.len())
    }

    fn couplings(&self, graph: &ModuleGraph) -> Vec<Coupling> {
        let mut found = Vec::new();
        if !self.transitive {
            for (from, to, _) in graph.edges() {
                if let (Some(a), Some(b)) = (self.member(from), self.member(to))
                    && a != b
                {
                    found.push(Coupling {
                        from: a.to_owned(),
                        to: b.to_owned(),
                        chain: vec![(from.to_owned(), to.to_owned())],
                    });
                }
            }
            return found;
        }
        let mut members: Vec<&str> = graph.modules().filter_map(|m| self.member(m)).collect();
        members.sort_unstable();
        members.dedup();
        for &member in &members {
            // Chains start in the member and stop at the first other member they reach.
            let inside: Vec<&str> = graph.modules().filter(|m| self.member(m) == Some(member)).collect();
            let other = |m: &str| self.member(m).is_some_and(|o| o != member);
            let pruned = graph.without(|from, _, _| other(from));
            let reached = pruned.reachable(&inside);
            let mut seen = std::collections::BTreeSet::new();
            for target in reached.keys() {
                let Some(target_member) = self.member(target).filter(|&o| o != member) else {
                    continue;
                };
                if !seen.insert(target_member) {
                    continue;
                }
                let mut chain = Vec::new();
                let mut at = target.as_str();
                while let Some((prev, next)) = reached.get(at) {
                    chain.push((prev.clone(), next.clone()));
                    at = prev;
                }
                chain.reverse();
                found.push(Coupling {
                    from: member.to_owned(),
                    to: target_member.to_owned(),
                    chain,
                });
            }
        }
        found
    }
}

impl Check for Independence {
    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let (graph, unused) = self.ignore.apply(&ModuleGraph::build(files, self.include_tests));
        for coupling in self.couplings(&graph) {
            let chain: Vec<(&str, &str)> = coupling.chain.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let (first, last) = (chain[0], chain[chain.len() - 1]);
            let message = if chain.len() == 1 {
                format!(
                    "`{}` imports `{}`; `{}` and `{}` must be independent",
                    first.0, first.1, coupling.from, coupling.to
                )
            } else {
                let path: Vec<&str> = std::iter::once(first.0).chain(chain.iter().map(|e| e.1)).collect();
                let between = chain.len() - 1;
                format!(
                    "`{}` depends on `{}` through {between} other module{}: {}",
                    coupling.from,
                    coupling.to,
                    if between == 1 { "" } else { "s" },
                    path.join(" -> ")
                )
            };
            let symbol = format!("{} -> {}", first.0, last.1);
            out.extend(chain_finding(rule, &graph, &chain, 0, message, symbol, None));
        }
        IgnoreImports::report_unused(&unused, rule, out);
    }

    fn broken_edges(&self, files: &[FileFacts]) -> Vec<(String, String)> {
        let (graph, _) = self.ignore.apply(&ModuleGraph::build(files, self.include_tests));
        self.couplings(&graph).into_iter().flat_map(|c| c.chain).collect()
    }

    fn applies(&self, files: &[FileFacts]) -> bool {
        super::contract::any_module(files, |module| self.member(module).is_some())
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
        ("src/lib.rs", "pub mod agents; pub mod shared;"),
        ("src/agents/mod.rs", "pub mod calc; pub mod search; pub mod clock;"),
        ("src/agents/calc.rs", "pub fn parse() {} use crate::shared::Util;"),
        ("src/agents/search.rs", "fn f() { crate::agents::calc::parse(); }"),
        ("src/agents/clock.rs", "pub struct Clock;"),
        ("src/shared.rs", "pub struct Util; use crate::agents::clock::Clock;"),
    ];

    fn messages(params: &str) -> Vec<String> {
        run(&KIND, params, &FILES).into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn direct_imports_between_listed_modules() {
        assert_eq!(
            messages(r#"modules = "app::agents::*""#),
            vec![
                "`app::agents::search` imports `app::agents::calc`; `app::agents::search` and `app::agents::calc` must be independent"
            ]
        );
    }

    #[test]
    fn transitive_chains_through_other_modules() {
        assert_eq!(
            messages(r#"modules = "app::agents::*", transitive = true"#),
            vec![
                "`app::agents::calc` depends on `app::agents::clock` through 1 other module: app::agents::calc -> app::shared -> app::agents::clock",
                "`app::agents::search` imports `app::agents::calc`; `app::agents::search` and `app::agents::calc` must be independent",
            ]
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, "modules = []").contains("at least one"));
        assert!(build_error(&KIND, r#"modules = "a", transitve = true"#).contains("unknown field"));
    }
}
