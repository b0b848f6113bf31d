//! Import cycles: each one with every edge, and the cheapest edge to cut.
//!
//! Cycles are found one at a time: the shortest cycle left in the graph is reported, its cheapest edge
//! (the fewest sites to rewrite; ties go to the first in path order) is cut, and the search goes on until
//! no cycle is left. Every reported cycle is a real cycle of the graph, and cutting every suggested edge
//! leaves the graph acyclic, so the list is a plan, not only a complaint.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::ModuleGraph;

/// One import cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The modules in cycle order, starting from the smallest name; the last imports the first.
    pub modules: Vec<String>,
    /// The index in `modules` of the edge to cut: `modules[cut] -> modules[cut + 1]` (wrapping).
    pub cut: usize,
}

impl Cycle {
    /// The edges in cycle order.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        let n = self.modules.len();
        (0..n).map(move |i| (self.modules[i].as_str(), self.modules[(i + 1) % n].as_str()))
    }

    /// The edge to cut.
    pub fn cut_edge(&self) -> (&str, &str) {
        let n = self.modules.len();
        (
            self.modules[self.cut].as_str(),
            self.modules[(self.cut + 1) % n].as_str(),
        )
    }

    /// `a -> b -> c -> a`.
    pub fn describe(&self) -> String {
        let mut names: Vec<&str> = self.modules.iter().map(String::as_str).collect();
        names.push(&self.modules[0]);
        names.join(" -> ")
    }
}

/// Every cycle of `graph`, found as the module docs say, in the order they were found.
pub fn cycles(graph: &ModuleGraph) -> Vec<Cycle> {
    let mut weights: BTreeMap<(String, String), usize> = graph
        .edges()
        .map(|(a, b, sites)| ((a.to_owned(), b.to_owned()), sites.len()))
        .collect();
    let mut found = Vec::new();
    while let Some(modules) = shortest_cycle(&weights) {
        let n = modules.len();
        let weight = |i: usize| weights[&(modules[i].clone(), modules[(i + 1) % n].clone())];
        let cut = (0..n).min_by_key(|&i| (weight(i), i)).unwrap_or(0);
        weights.remove(&(modules[cut].clone(), modules[(cut + 1) % n].clone()));
        found.push(Cycle { modules, cut });
    }
    found
}

/// The shortest cycle of the graph (ties: the one through the smallest module, then the first found),
/// rotated to start at its smallest module.
fn shortest_cycle(weights: &BTreeMap<(String, String), usize>) -> Option<Vec<String>> {
    let mut outgoing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in weights.keys() {
        outgoing.entry(a.as_str()).or_default().push(b.as_str());
    }
    let nodes: BTreeSet<&str> = outgoing.keys().copied().collect();
    let mut best: Option<Vec<&str>> = None;
    for &start in &nodes {
        // Breadth-first from `start` back to `start`: the shortest cycle through it.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(node) = queue.pop_front() {
            for &next in outgoing.get(node).into_iter().flatten() {
                if next == start {
                    closing = Some(node);
                    break 'search;
                }
                if next < start || parent.contains_key(next) {
                    // Cycles through a smaller module were already searched from it.
                    continue;
                }
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
        let Some(mut node) = closing else {
            continue;
        };
        let mut cycle = vec![node];
        while node != start {
            node = parent[node];
            cycle.push(node);
        }
        cycle.reverse();
        if best.as_ref().is_none_or(|b| cycle.len() < b.len()) {
            best = Some(cycle);
        }
    }
    best.map(|cycle| cycle.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::facts;

    fn found(files: &[(&str, &str)], parent: &str) -> Vec<String> {
        let graph = ModuleGraph::build(&facts(files), false).children_of(parent);
        cycles(&graph)
            .iter()
            .map(|c| {
                let (a, b) = c.cut_edge();
                format!("{} (cut {a} -> {b})", c.describe())
            })
            .collect()
    }

    #[test]
    fn a_two_cycle_and_a_three_cycle_each_with_the_edge_of_fewest_sites() {
        let cycles = found(
            &[
                ("src/lib.rs", "mod a; mod b; mod c; mod d; mod e;"),
                ("src/a.rs", "use crate::b::X; use crate::b::Y; pub struct A;"),
                ("src/b.rs", "pub struct X; pub struct Y; use crate::a::A;"),
                ("src/c.rs", "pub struct C; use crate::d::D; use crate::d::D2;"),
                (
                    "src/d.rs",
                    "pub struct D; pub struct D2; use crate::e::E; use crate::e::E2;",
                ),
                ("src/e.rs", "pub struct E; pub struct E2; use crate::c::C;"),
            ],
            "app",
        );
        assert_eq!(
            cycles,
            vec![
                "app::a -> app::b -> app::a (cut app::b -> app::a)",
                "app::c -> app::d -> app::e -> app::c (cut app::e -> app::c)",
            ]
        );
    }

    #[test]
    fn cutting_every_suggested_edge_leaves_no_cycle() {
        let cycles = found(
            &[
                ("src/lib.rs", "mod a; mod b; mod c;"),
                ("src/a.rs", "pub struct A; use crate::b::B; use crate::c::C;"),
                ("src/b.rs", "pub struct B; use crate::a::A; use crate::c::C;"),
                ("src/c.rs", "pub struct C; use crate::a::A; use crate::b::B;"),
            ],
            "app",
        );
        // Six edges, all in both directions: three two-cycles cover them.
        assert_eq!(cycles.len(), 3, "{cycles:?}");
    }

    #[test]
    fn an_acyclic_graph_has_none() {
        let cycles = found(
            &[
                ("src/lib.rs", "mod a; mod b;"),
                ("src/a.rs", "use crate::b::B;"),
                ("src/b.rs", "pub struct B;"),
            ],
            "app",
        );
        assert!(cycles.is_empty());
    }
}
