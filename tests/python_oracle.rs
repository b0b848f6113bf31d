//! The Python frontend against an independent truth: CPython's own `ast` module, read by
//! `tests/oracle/python_facts.py`. For every file both list the module path, the classes and functions
//! (qualified path, kind, line and column of the name) and the imports (absolute path, bound name, star,
//! position, and where the import leads through the tree's re-exports).
//!
//! The committed trees' truth is committed (`tests/data/python-oracle/*.json`), so the suite needs no
//! Python; where `python3` is present, the committed truth is checked against a fresh run of the oracle.
//! Real packages (Django, SQLAlchemy) are compared when `SSOT_CHECK_PYTHON_CORPUS` names their folders
//! (`.ci/run` downloads the sdists); every difference must be one of the explained kinds below.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One file as either side sees it.
#[derive(Debug, Default, PartialEq, Eq)]
struct FileView {
    module: String,
    error: bool,
    definitions: BTreeSet<(String, String, u64, u64)>,
    imports: BTreeSet<(String, Option<String>, bool, u64, u64, String)>,
}

type TreeView = BTreeMap<String, FileView>;

/// What ssot-check's Python frontend reads of `tree`.
fn frontend_view(tree: &Path) -> TreeView {
    let workspace = ssot_check::workspace::scan(tree, &[tree.to_path_buf()], &[]).expect("scans");
    let mut view = TreeView::new();
    for facts in ssot_check::frontend::analyze(&workspace) {
        if !facts.path.ends_with(".py") {
            continue;
        }
        let file = FileView {
            module: facts.module.clone(),
            error: facts.problem.is_some(),
            definitions: facts
                .definitions
                .iter()
                // Global state is a fact of ssot-check's own, which CPython's AST has no word for.
                .filter(|d| d.kind != ssot_check::facts::DefinitionKind::Static)
                .map(|d| {
                    (
                        d.kind.as_str().to_owned(),
                        d.path.clone(),
                        d.span.line.into(),
                        d.span.column.into(),
                    )
                })
                .collect(),
            imports: facts
                .imports
                .iter()
                .map(|i| {
                    (
                        i.path.clone(),
                        i.binding.clone(),
                        i.glob,
                        i.span.line.into(),
                        i.span.column.into(),
                        i.target.clone(),
                    )
                })
                .collect(),
        };
        view.insert(facts.path, file);
    }
    view
}

/// The oracle's JSON as a view.
fn oracle_view(json: &serde_json::Value) -> TreeView {
    let text = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
    let number = |v: &serde_json::Value| v.as_u64().expect("a number");
    let mut view = TreeView::new();
    for (path, file) in json["files"].as_object().expect("files") {
        let list = |key: &str| file[key].as_array().cloned().unwrap_or_default();
        view.insert(
            path.clone(),
            FileView {
                module: text(&file["module"]),
                error: file.get("error").is_some(),
                definitions: list("definitions")
                    .iter()
                    .map(|d| (text(&d[0]), text(&d[1]), number(&d[2]), number(&d[3])))
                    .collect(),
                imports: list("imports")
                    .iter()
                    .map(|i| {
                        (
                            text(&i[0]),
                            i[1].as_str().map(str::to_owned),
                            i[2].as_bool().expect("a bool"),
                            number(&i[3]),
                            number(&i[4]),
                            text(&i[5]),
                        )
                    })
                    .collect(),
            },
        );
    }
    view
}

/// Runs the oracle on `tree`, if `python3` is here.
fn run_oracle(tree: &Path) -> Option<serde_json::Value> {
    let script = common::root().join("tests/oracle/python_facts.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(tree)
        .output()
        .ok()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    Some(serde_json::from_slice(&output.stdout).expect("the oracle writes JSON"))
}

/// How the two sides compare.
#[derive(Default)]
struct Agreement {
    definitions: (usize, usize),
    imports: (usize, usize),
    differences: Vec<String>,
}

/// Compares file by file; a file that only one side could parse is one difference.
fn compare(ours: &TreeView, truth: &TreeView) -> Agreement {
    let mut agreement = Agreement::default();
    let files: BTreeSet<&String> = ours.keys().chain(truth.keys()).collect();
    for path in files {
        let (Some(mine), Some(theirs)) = (ours.get(path), truth.get(path)) else {
            agreement.differences.push(format!("{path}: listed by one side only"));
            continue;
        };
        if mine.module != theirs.module {
            agreement.differences.push(format!(
                "{path}: module `{}` vs CPython's `{}`",
                mine.module, theirs.module
            ));
        }
        if mine.error != theirs.error {
            agreement.differences.push(format!(
                "{path}: parse error on {} side only",
                if mine.error { "ssot-check's" } else { "CPython's" }
            ));
            continue;
        }
        agreement.definitions.1 += theirs.definitions.len();
        agreement.definitions.0 += theirs.definitions.intersection(&mine.definitions).count();
        agreement.imports.1 += theirs.imports.len();
        agreement.imports.0 += theirs.imports.intersection(&mine.imports).count();
        for missing in theirs.definitions.difference(&mine.definitions) {
            agreement
                .differences
                .push(format!("{path}: definition missed {missing:?}"));
        }
        for extra in mine.definitions.difference(&theirs.definitions) {
            agreement
                .differences
                .push(format!("{path}: definition extra {extra:?}"));
        }
        for missing in theirs.imports.difference(&mine.imports) {
            agreement.differences.push(format!("{path}: import missed {missing:?}"));
        }
        for extra in mine.imports.difference(&theirs.imports) {
            agreement.differences.push(format!("{path}: import extra {extra:?}"));
        }
    }
    agreement
}

/// The committed trees, each with its committed truth.
const COMMITTED: [(&str, &str); 4] = [
    ("tests/data/python-oracle/zoo", "zoo"),
    ("fixtures/legacy-gateway-py", "legacy-gateway-py"),
    ("fixtures/python-remediated", "python-remediated"),
    ("fixtures/mixed-languages/rust-and-python", "mixed-languages"),
];

/// What CPython 3.11 (the oracle on our machines) cannot parse and ssot-check reads: Python 3.12 syntax.
const NEWER_SYNTAX: [&str; 1] = ["pkg/modern.py: parse error on CPython's side only"];

#[test]
fn the_committed_trees_agree_with_cpython() {
    for (tree, name) in COMMITTED {
        let truth_file = common::root().join(format!("tests/data/python-oracle/{name}.json"));
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&truth_file).expect("committed truth")).expect("JSON");
        let agreement = compare(&frontend_view(&common::root().join(tree)), &oracle_view(&truth));
        let unexplained: Vec<&String> = agreement
            .differences
            .iter()
            .filter(|d| !NEWER_SYNTAX.contains(&d.as_str()))
            .collect();
        assert!(unexplained.is_empty(), "{tree}: {unexplained:#?}");
        assert!(agreement.definitions.1 > 0, "{tree}: nothing compared");
    }
}

#[test]
fn the_committed_truth_is_what_the_oracle_says() {
    for (tree, name) in COMMITTED {
        let Some(fresh) = run_oracle(&common::root().join(tree)) else {
            eprintln!("python3 is not here: the committed truth is not checked again");
            return;
        };
        let committed = common::root().join(format!("tests/data/python-oracle/{name}.json"));
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&committed).expect("committed truth")).expect("JSON");
        assert_eq!(
            oracle_view(&fresh),
            oracle_view(&committed),
            "tests/data/python-oracle/{name}.json is stale: run tests/oracle/python_facts.py {tree}"
        );
    }
}

/// Differences on real code that are understood, each with its cause (see the README's Python section).
fn explained(difference: &str) -> Option<&'static str> {
    if difference.ends_with("parse error on CPython's side only") {
        return Some("Python 3.12+ syntax, which CPython 3.11 refuses");
    }
    None
}

#[test]
fn real_packages_agree_with_cpython() {
    let Some(corpus) = std::env::var_os("SSOT_CHECK_PYTHON_CORPUS") else {
        assert!(
            std::env::var_os("SSOT_CHECK_REQUIRE_PYTHON_CORPUS").is_none(),
            "SSOT_CHECK_PYTHON_CORPUS must name the unpacked sdists"
        );
        eprintln!("SSOT_CHECK_PYTHON_CORPUS is not set: no real package compared");
        return;
    };
    for tree in std::env::split_paths(&corpus) {
        let truth = run_oracle(&tree).expect("python3 runs the oracle");
        let agreement = compare(&frontend_view(&tree), &oracle_view(&truth));
        let (unexplained, understood): (Vec<&String>, Vec<&String>) =
            agreement.differences.iter().partition(|d| explained(d).is_none());
        let rate = |(agree, all): (usize, usize)| 100.0 * agree as f64 / all.max(1) as f64;
        eprintln!(
            "{}: definitions {}/{} ({:.3}%), imports {}/{} ({:.3}%), {} explained differences",
            tree.display(),
            agreement.definitions.0,
            agreement.definitions.1,
            rate(agreement.definitions),
            agreement.imports.0,
            agreement.imports.1,
            rate(agreement.imports),
            understood.len()
        );
        for difference in &understood {
            eprintln!(
                "  explained: {difference} ({})",
                explained(difference).unwrap_or_default()
            );
        }
        assert!(unexplained.is_empty(), "{}: {unexplained:#?}", tree.display());
    }
}
