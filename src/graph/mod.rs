//! The module import graph: which workspace module depends on which, and where it says so.
//!
//! An edge `a -> b` is one or more sites in module `a` (a resolved `use`, followed through re-exports and
//! globs, or a qualified path in code) that lead to an item of module `b`. Only modules of the scanned
//! workspace are nodes: what leads outside it (`std`, dependencies) is no edge. The graph is built from
//! facts alone, so the contract rules and `ssot-check graph` read the same edges.
//!
//! Layer invariant: reads [`crate::facts`] and [`crate::pattern`], nothing above them.

pub mod cycles;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use crate::facts::{FileFacts, ReferenceContext, Span, path_is_under};

/// One place in the code that makes a module depend on another.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// The module the code is in (in a collapsed graph, a module inside the edge's first node).
    pub module: String,
    /// The file, as reported.
    pub file: String,
    /// Where in the file.
    pub span: Span,
    /// The path the code imports or names, resolved (`app::store::EventStore`).
    pub target: String,
    /// A `use` (or `extern crate`) rather than a path in code.
    pub import: bool,
}

/// The dependencies between the workspace's modules.
#[derive(Clone, Debug, Default)]
pub struct ModuleGraph {
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), Vec<Site>>,
}

impl ModuleGraph {
    /// The graph of `files`: test code (test targets, `#[cfg(test)]`) is left out unless `include_tests`.
    pub fn build(files: &[FileFacts], include_tests: bool) -> Self {
        let files: Vec<&FileFacts> = files.iter().filter(|f| include_tests || !f.in_test).collect();
        let mut modules = BTreeSet::new();
        for file in &files {
            modules.insert(file.module.clone());
            for module in file.modules.iter().filter(|m| include_tests || !m.in_test) {
                modules.insert(module.path.clone());
            }
        }
        let mut edges: BTreeMap<(String, String), Vec<Site>> = BTreeMap::new();
        let mut add = |from: &str, to: Option<&str>, site: Site| {
            if let Some(to) = to.filter(|&to| to != from) {
                edges.entry((from.to_owned(), to.to_owned())).or_default().push(site);
            }
        };
        let site = |module: &str, file: &FileFacts, target: &str, span: Span, import: bool| Site {
            module: module.to_owned(),
            file: file.path.clone(),
            span,
            target: target.to_owned(),
            import,
        };
        for file in &files {
            for import in file.imports.iter().filter(|i| include_tests || !i.in_test) {
                // A re-export chain is followed to where it ends.
                let to = innermost(&modules, &import.target);
                add(
                    &import.module,
                    to,
                    site(&import.module, file, &import.target, import.span, true),
                );
            }
            // Code lies in the file's module or in an inline module written in the file. Its enclosing
            // item names it, but a function may share its name with a module (`fn check` beside
            // `mod check`), so only those modules are candidates.
            let inline: Vec<&str> = file
                .modules
                .iter()
                .filter(|m| m.inline)
                .map(|m| m.path.as_str())
                .collect();
            for reference in file.references.iter().filter(|r| include_tests || !r.in_test) {
                // A name that came through an import leads where the import does, an edge already
                // counted; one that came through a glob or a module import may lead further.
                let to = innermost(&modules, &reference.path);
                let via = reference.via_import.as_deref();
                if via.is_some_and(|via| innermost(&modules, via) == to) {
                    continue;
                }
                // A module is never a value: a call of `crate::check` is the function beside `mod check`.
                let value = matches!(reference.context, ReferenceContext::Expr | ReferenceContext::Pattern);
                let to = match to {
                    Some(module) if value && module == reference.path => reference
                        .path
                        .rsplit_once("::")
                        .and_then(|(parent, _)| innermost(&modules, parent)),
                    to => to,
                };
                let from = inline
                    .iter()
                    .copied()
                    .filter(|m| path_is_under(&reference.enclosing, m))
                    .max_by_key(|m| m.len())
                    .unwrap_or(file.module.as_str());
                add(from, to, site(from, file, &reference.path, reference.span, false));
            }
        }
        for sites in edges.values_mut() {
            sites.sort();
            sites.dedup();
        }
        ModuleGraph { modules, edges }
    }

    /// The innermost workspace module that `path` is, or lies in.
    pub fn module_of(&self, path: &str) -> Option<&str> {
        innermost(&self.modules, path)
    }

    /// Every module, sorted.
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(String::as_str)
    }

    /// Every edge with its sites, sorted by its two modules.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str, &[Site])> {
        self.edges
            .iter()
            .map(|((from, to), sites)| (from.as_str(), to.as_str(), sites.as_slice()))
    }

    /// The sites of the edge `from -> to`, if there is one.
    pub fn sites(&self, from: &str, to: &str) -> Option<&[Site]> {
        self.edges.get(&(from.to_owned(), to.to_owned())).map(Vec::as_slice)
    }

    /// The graph without the sites `drop` rejects (edges left with no site disappear).
    pub fn without(&self, drop: impl Fn(&str, &str, &Site) -> bool) -> Self {
        let edges = self
            .edges
            .iter()
            .filter_map(|((from, to), sites)| {
                let kept: Vec<Site> = sites.iter().filter(|s| !drop(from, to, s)).cloned().collect();
                (!kept.is_empty()).then(|| ((from.clone(), to.clone()), kept))
            })
            .collect();
        ModuleGraph {
            modules: self.modules.clone(),
            edges,
        }
    }

    /// The graph with each module replaced by what `group` maps it to (modules mapped to `None` drop out,
    /// with their edges); edges inside one group disappear and parallel ones merge their sites.
    pub fn collapse(&self, group: impl Fn(&str) -> Option<String>) -> Self {
        let mut collapsed = ModuleGraph {
            modules: self.modules.iter().filter_map(|m| group(m)).collect(),
            edges: BTreeMap::new(),
        };
        for ((from, to), sites) in &self.edges {
            let (Some(from), Some(to)) = (group(from), group(to)) else {
                continue;
            };
            if from != to {
                collapsed
                    .edges
                    .entry((from, to))
                    .or_default()
                    .extend(sites.iter().cloned());
            }
        }
        for sites in collapsed.edges.values_mut() {
            sites.sort();
            sites.dedup();
        }
        collapsed
    }

    /// The graph of the direct children of `parent`: a module below a child counts as that child.
    pub fn children_of(&self, parent: &str) -> Self {
        self.collapse(|module| child_of(parent, module).map(str::to_owned))
    }

    /// The modules reachable from `from` (itself excluded), each with the edge that first reached it,
    /// in breadth-first order: the shortest chains.
    pub fn reachable(&self, from: &[&str]) -> BTreeMap<String, (String, String)> {
        let mut outgoing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, b) in self.edges.keys() {
            outgoing.entry(a.as_str()).or_default().push(b.as_str());
        }
        let mut reached: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut queue: std::collections::VecDeque<&str> = from.iter().copied().collect();
        let start: BTreeSet<&str> = from.iter().copied().collect();
        while let Some(node) = queue.pop_front() {
            for &next in outgoing.get(node).into_iter().flatten() {
                if start.contains(next) || reached.contains_key(next) {
                    continue;
                }
                reached.insert(next.to_owned(), (node.to_owned(), next.to_owned()));
                queue.push_back(next);
            }
        }
        reached
    }
}

/// The longest of `modules` that `path` is or lies in (whole segments).
fn innermost<'m>(modules: &'m BTreeSet<String>, path: &str) -> Option<&'m str> {
    let mut found = None;
    for (end, _) in path.match_indices("::").chain(std::iter::once((path.len(), ""))) {
        if let Some(module) = modules.get(&path[..end]) {
            found = Some(module.as_str());
        }
    }
    found
}

/// The direct child of `parent` that `module` is or lies in; `None` for `parent` itself and outside it.
pub fn child_of<'m>(parent: &str, module: &'m str) -> Option<&'m str> {
    if parent.is_empty() {
        return Some(module.split("::").next().unwrap_or(module));
    }
    if module == parent || !path_is_under(module, parent) {
        return None;
    }
    let rest = &module[parent.len() + 2..];
    let end = rest.find("::").map_or(module.len(), |i| parent.len() + 2 + i);
    Some(&module[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::facts;

    fn graph(files: &[(&str, &str)]) -> ModuleGraph {
        ModuleGraph::build(&facts(files), false)
    }

    fn edges(graph: &ModuleGraph) -> Vec<String> {
        graph
            .edges()
            .map(|(a, b, sites)| format!("{a} -> {b} ({})", sites.len()))
            .collect()
    }

    #[test]
    fn imports_and_qualified_paths_are_edges_and_outside_paths_are_not() {
        let g = graph(&[
            ("src/lib.rs", "pub mod a; pub mod b; pub mod c;"),
            (
                "src/a.rs",
                "use crate::b::B; use std::fmt; fn f() { crate::c::run(); B; }",
            ),
            ("src/b.rs", "pub struct B; pub fn own() { own(); }"),
            ("src/c.rs", "pub fn run() {} #[cfg(test)] mod tests { use crate::a; }"),
        ]);
        assert_eq!(edges(&g), vec!["app::a -> app::b (1)", "app::a -> app::c (1)"]);
        assert_eq!(g.module_of("app::b::B"), Some("app::b"));
        assert_eq!(g.module_of("std::fmt"), None);
    }

    #[test]
    fn a_function_named_like_a_module_is_not_that_module() {
        // `fn check` in the crate root calls the report; `mod check` is imported by the report.
        let g = graph(&[
            (
                "src/lib.rs",
                "pub mod check; pub mod report; fn check() { report::render(); crate::check(); }",
            ),
            ("src/check.rs", "pub struct Outcome;"),
            ("src/report.rs", "use crate::check::Outcome; pub fn render() {}"),
        ]);
        assert_eq!(
            edges(&g),
            vec!["app -> app::report (1)", "app::report -> app::check (1)"]
        );
    }

    #[test]
    fn reexports_lead_to_where_the_item_lives() {
        let g = graph(&[
            ("src/lib.rs", "pub mod a; pub mod facade; mod inner;"),
            ("src/facade.rs", "pub use crate::inner::Thing;"),
            ("src/inner.rs", "pub struct Thing;"),
            ("src/a.rs", "use crate::facade::Thing;"),
        ]);
        assert_eq!(
            edges(&g),
            vec!["app::a -> app::inner (1)", "app::facade -> app::inner (1)"]
        );
    }

    #[test]
    fn children_collapse_deeper_modules_and_drop_inner_edges() {
        let g = graph(&[
            ("src/lib.rs", "pub mod x; pub mod y;"),
            ("src/x/mod.rs", "pub mod deep; pub mod other;"),
            ("src/x/deep.rs", "use crate::y::Y; use super::other::O;"),
            ("src/x/other.rs", "pub struct O;"),
            ("src/y.rs", "pub struct Y;"),
        ]);
        assert_eq!(edges(&g.children_of("app")), vec!["app::x -> app::y (1)"]);
        assert_eq!(
            edges(&g.children_of("app::x")),
            vec!["app::x::deep -> app::x::other (1)"]
        );
        assert_eq!(child_of("app", "app::x::deep"), Some("app::x"));
        assert_eq!(child_of("app", "app"), None);
        assert_eq!(child_of("app", "application::x"), None);
    }
}
