//! Property: the report does not depend on the number of threads, on the order files are analyzed in, or
//! on skipping the bodies and facts no rule needs.
//! Random small workspaces mixing duplicates, dispatch, banned imports and global state (bounded cases).

mod common;

use proptest::prelude::*;

const RULES: &str = r#"
[[rule]]
id = "one-router"
kind = "single-definition"
message = "One router."
name = "*Router"
group-by = "name"

[[rule]]
id = "dispatch"
kind = "single-dispatch"
message = "Only the router matches."
enum = "Msg"
router = "app::m0"

[[rule]]
id = "no-legacy"
kind = "banned-import"
message = "No legacy."
paths = ["app::m1"]

[[rule]]
id = "no-globals"
kind = "no-global-state"
message = "No globals."
modules = ["app"]
"#;

/// One item of a generated module.
fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["ARouter", "BRouter", "CRouter"]).prop_map(|n| format!("pub struct {n};")),
        Just("pub fn handle(m: crate::Msg) { match m { crate::Msg::A => {}, crate::Msg::B => {} } }".to_owned()),
        Just("pub fn peek(m: &crate::Msg) -> bool { matches!(m, crate::Msg::A) }".to_owned()),
        (0..4usize).prop_map(|m| format!("pub use crate::m{m} as alias_{m};")),
        Just("static S: std::sync::Mutex<u8> = std::sync::Mutex::new(0);".to_owned()),
        Just("fn local() { struct BRouter; }".to_owned()),
        (0..4usize, 0..4usize).prop_map(|(m, a)| format!("pub fn via() {{ crate::m{m}::alias_{a}::helper(); }}")),
        Just("pub fn renamed() { crate::renamed::helper(); }".to_owned()),
        Just("pub fn direct() { crate::m1::helper(); }".to_owned()),
        Just("fn inner() { use crate::m1 as x; x::helper(); }".to_owned()),
        Just("impl crate::Msg { fn is_a(&self) -> bool { matches!(self, Self::A) } }".to_owned()),
        Just("this is not rust {".to_owned()),
    ]
}

fn workspace() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec(item(), 0..5), 4)
}

fn write(dir: &std::path::Path, modules: &[Vec<String>]) {
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"app\"\n").expect("write");
    std::fs::write(dir.join("rules.toml"), RULES).expect("write");
    let mut lib = String::from("pub enum Msg { A, B }\npub use crate::m1 as renamed;\n");
    for (i, items) in modules.iter().enumerate() {
        lib.push_str(&format!("pub mod m{i};\n"));
        let text = format!("pub fn helper() {{}}\n{}", items.join("\n"));
        std::fs::write(dir.join(format!("src/m{i}.rs")), text).expect("write");
    }
    std::fs::write(dir.join("src/lib.rs"), lib).expect("write");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn findings_are_the_same_for_any_thread_count_and_file_order(modules in workspace()) {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &modules);
        let args = |threads: &'static str| vec![".", "--rules", "rules.toml", "--format", "json", "--threads", threads];
        let (_, one) = common::run_in(dir.path(), &args("1"));
        let (_, many) = common::run_in(dir.path(), &args("4"));
        prop_assert_eq!(&one, &many);

        let config = ssot_check::config::load(&[dir.path().join("rules.toml")], dir.path()).expect("rules");
        let workspace = ssot_check::workspace::scan(dir.path(), &[std::path::PathBuf::from(".")], &[]).expect("scan");
        let facts = ssot_check::frontend::analyze(&workspace);
        let mut reversed = facts.clone();
        reversed.reverse();
        let forward = ssot_check::check::evaluate(&facts, &config, false);
        let backward = ssot_check::check::evaluate(&reversed, &config, false);
        prop_assert_eq!(&forward, &backward);

        // Skipping the bodies that mention no rule's words, and dropping the facts no rule uses, change
        // nothing in the findings.
        let cache = ssot_check::frontend::ParseCache::default();
        let tree = ssot_check::workspace::Disk;
        let lean = ssot_check::check::facts(&workspace, &tree, &cache, &config, ssot_check::check::Needs::Rules);
        prop_assert_eq!(&forward, &ssot_check::check::evaluate(&lean, &config, false));
    }
}

/// Rust-looking fragments that arbitrary inputs are assembled from, so cases reach deep into the parser.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::sample::select(vec![
            "fn f() {",
            "}",
            "use a::{b::*, c as d};",
            "struct S;",
            "impl T for S {",
            "match x { A::B => {} }",
            "mod m;",
            "#[cfg(test)]",
            "// ssot-check: allow(r) reason: x",
            "static X: Mutex<u8> = Mutex::new(0);",
            "type A = Fn(&u8) + Send;",
            "'a",
            "\"",
            "r#\"",
            "((((",
            "))))",
            "\u{feff}",
            "#!/bin/sh\n",
            "---\n",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_give_facts_or_a_problem_never_a_panic(parts in prop::collection::vec(fragment(), 0..24)) {
        let bytes: Vec<u8> = parts.concat();
        let word_sets = [
            ssot_check::frontend::BodyWords::default(),
            ssot_check::frontend::BodyWords::new(Some(vec!["Mutex".into(), "legacy".into()])),
            ssot_check::frontend::BodyWords::new(Some(vec!["zzz_never_there".into()])),
        ];
        for words in &word_sets {
            let facts = ssot_check::frontend::rust::analyze_source(&bytes, words);
            let internal = facts.problem.as_ref().is_some_and(|p| p.kind == ssot_check::facts::ProblemKind::InternalError);
            prop_assert!(!internal, "the analyzer panicked on {:?}", String::from_utf8_lossy(&bytes));
        }
    }
}
