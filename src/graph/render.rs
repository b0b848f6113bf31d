//! The module graph drawn as text: Graphviz DOT, Mermaid (for READMEs) and JSON, with the edges that
//! break a contract in red.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use super::ModuleGraph;

/// The edges that break a contract, as `(from, to)` modules of the drawn graph.
pub type Broken = BTreeSet<(String, String)>;

/// The graph in Graphviz DOT; each edge is labelled with its number of sites.
pub fn dot(graph: &ModuleGraph, broken: &Broken) -> String {
    let mut out = String::from("digraph modules {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
    for module in graph.modules() {
        let _ = writeln!(out, "  {};", quoted(module));
    }
    for (from, to, sites) in graph.edges() {
        let style = if broken.contains(&(from.to_owned(), to.to_owned())) {
            ", color=red, fontcolor=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\"{style}];",
            quoted(from),
            quoted(to),
            sites.len()
        );
    }
    out.push_str("}\n");
    out
}

/// The graph as a Mermaid flowchart (GitHub renders it in Markdown).
pub fn mermaid(graph: &ModuleGraph, broken: &Broken) -> String {
    let ids: Vec<&str> = graph.modules().collect();
    let id = |module: &str| ids.binary_search(&module).map_or(usize::MAX, |i| i);
    let mut out = String::from("flowchart TD\n");
    for (i, module) in ids.iter().enumerate() {
        let _ = writeln!(out, "  m{i}[\"{}\"]", module.replace('"', "#quot;"));
    }
    let mut red = Vec::new();
    for (n, (from, to, _)) in graph.edges().enumerate() {
        let _ = writeln!(out, "  m{} --> m{}", id(from), id(to));
        if broken.contains(&(from.to_owned(), to.to_owned())) {
            red.push(n.to_string());
        }
    }
    if !red.is_empty() {
        let _ = writeln!(out, "  linkStyle {} stroke:red,stroke-width:3px", red.join(","));
    }
    out
}

/// The graph as JSON: `{"modules": [...], "edges": [{"from", "to", "broken", "sites": [...]}]}`.
pub fn json(graph: &ModuleGraph, broken: &Broken) -> String {
    #[derive(Serialize)]
    struct Doc<'g> {
        modules: Vec<&'g str>,
        edges: Vec<Edge<'g>>,
    }
    #[derive(Serialize)]
    struct Edge<'g> {
        from: &'g str,
        to: &'g str,
        broken: bool,
        sites: Vec<SiteDoc<'g>>,
    }
    #[derive(Serialize)]
    struct SiteDoc<'g> {
        file: &'g str,
        line: u32,
        column: u32,
        target: &'g str,
        kind: &'static str,
    }
    let doc = Doc {
        modules: graph.modules().collect(),
        edges: graph
            .edges()
            .map(|(from, to, sites)| Edge {
                from,
                to,
                broken: broken.contains(&(from.to_owned(), to.to_owned())),
                sites: sites
                    .iter()
                    .map(|s| SiteDoc {
                        file: &s.file,
                        line: s.span.line,
                        column: s.span.column,
                        target: &s.target,
                        kind: if s.import { "import" } else { "path" },
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `module` cut to its first `depth` segments: the graph drawn at that depth.
pub fn at_depth(module: &str, depth: usize) -> &str {
    match module.match_indices("::").nth(depth.saturating_sub(1)) {
        Some((end, _)) if depth > 0 => &module[..end],
        _ => module,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::facts;

    fn sample() -> ModuleGraph {
        ModuleGraph::build(
            &facts(&[
                ("src/lib.rs", "pub mod a; pub mod b;"),
                ("src/a.rs", "use crate::b::B;"),
                ("src/b.rs", "pub struct B; fn f() { crate::a::g(); }"),
            ]),
            false,
        )
    }

    #[test]
    fn dot_and_mermaid_draw_every_module_and_broken_edges_in_red() {
        let broken: Broken = [("app::b".to_owned(), "app::a".to_owned())].into();
        let graph = sample();
        assert_eq!(
            dot(&graph, &broken),
            "digraph modules {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n  \"app\";\n  \"app::a\";\n  \"app::b\";\n  \"app::a\" -> \"app::b\" [label=\"1\"];\n  \"app::b\" -> \"app::a\" [label=\"1\", color=red, fontcolor=red, penwidth=2];\n}\n"
        );
        assert_eq!(
            mermaid(&graph, &broken),
            "flowchart TD\n  m0[\"app\"]\n  m1[\"app::a\"]\n  m2[\"app::b\"]\n  m1 --> m2\n  m2 --> m1\n  linkStyle 1 stroke:red,stroke-width:3px\n"
        );
        let json: serde_json::Value = serde_json::from_str(&json(&graph, &broken)).expect("valid JSON");
        assert_eq!(json["edges"][1]["broken"], true);
        assert_eq!(json["edges"][1]["sites"][0]["kind"], "path");
    }

    #[test]
    fn depth_keeps_leading_segments() {
        assert_eq!(at_depth("a::b::c", 2), "a::b");
        assert_eq!(at_depth("a::b::c", 5), "a::b::c");
        assert_eq!(at_depth("a::b::c", 1), "a");
    }
}
