//! `ssot-check graph`: the module import graph drawn as DOT, Mermaid and JSON, with the edges that break
//! the loaded contracts in red.

mod common;

const CYCLES: &str = "fixtures/acyclic/cycles";
const CYCLE_RULES: &str = "fixtures/acyclic/cycles/rules.toml";

fn graph(args: &[&str]) -> (i32, String) {
    let mut all = vec!["graph"];
    all.extend_from_slice(args);
    common::run_in(&common::root(), &all)
}

#[test]
fn mermaid_draws_every_module_and_the_cycles_in_red() {
    let (code, text) = graph(&[CYCLES, "--rules", CYCLE_RULES, "--format", "mermaid"]);
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!("cycles_mermaid", text);
}

#[test]
fn dot_at_a_depth_merges_deeper_modules() {
    let (code, text) = graph(&[CYCLES, "--rules", CYCLE_RULES, "--depth", "2"]);
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!("cycles_dot_depth_2", text);
    assert!(!text.contains("cycles::parse::lex"), "modules below depth 2 are merged");
}

/// The graph of the cycles fixture as JSON, filtered to `module` (and its neighbours if asked).
fn json_graph(module: &str, with_neighbours: bool) -> serde_json::Value {
    let mut args = vec![CYCLES, "--rules", CYCLE_RULES, "--format", "json", "--module", module];
    if with_neighbours {
        args.push("--with-neighbours");
    }
    let (code, text) = graph(&args);
    assert_eq!(code, 0, "{text}");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn json_filtered_to_a_module_keeps_its_neighbours_and_every_site() {
    let json = json_graph("cycles::check", true);
    let edges: Vec<String> = json["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            format!(
                "{} -> {} broken={}",
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or(""),
                e["broken"]
            )
        })
        .collect();
    assert_eq!(
        edges,
        vec![
            "cycles::check -> cycles::facts broken=false",
            "cycles::check -> cycles::report broken=false",
            "cycles::check -> cycles::rules broken=true",
            "cycles::report -> cycles::check broken=false",
            "cycles::rules -> cycles::check broken=true",
            // Between two neighbours: drawn, since both are.
            "cycles::rules -> cycles::facts broken=false",
        ]
    );
    let site = &json["edges"][2]["sites"][0];
    assert_eq!(site["file"], "fixtures/acyclic/cycles/src/check.rs");
    assert_eq!(site["line"], 2);
}

#[test]
fn a_module_filter_alone_keeps_only_what_lies_in_it() {
    let json = json_graph("cycles::parse", false);
    assert_eq!(
        json["modules"],
        serde_json::json!([
            "cycles::parse",
            "cycles::parse::lex",
            "cycles::parse::spans",
            "cycles::parse::syntax"
        ])
    );
    assert_eq!(json["edges"].as_array().map(Vec::len), Some(4), "{json}");
}

#[test]
fn without_rules_the_graph_is_drawn_plain_and_a_bad_pattern_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"plain\"\n").expect("manifest");
    std::fs::write(src.join("lib.rs"), "mod a; mod b;").expect("lib");
    std::fs::write(src.join("a.rs"), "use crate::b::B;").expect("a");
    std::fs::write(src.join("b.rs"), "pub struct B; use crate::a;").expect("b");
    let (code, text) = common::run_in(dir.path(), &["graph", "--format", "mermaid"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("m1 --> m2") && !text.contains("linkStyle"), "{text}");
    let (code, text) = common::run_in(dir.path(), &["graph", "--module", "a/b"]);
    assert_eq!(code, 2);
    assert!(text.contains("invalid `--module`") && text.contains("::"), "{text}");
}
