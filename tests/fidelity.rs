//! The fidelity benchmark: what ssot-check sees of real crates, against what rustc compiles.
//!
//! The ground truth is in bench/fidelity/truth/, one file per crate of the benchmark corpus, made by
//! bench/fidelity/extract from `rustc -Zunpretty=expanded` (one configuration: the target and the
//! features the corpus resolves, every macro expanded, every `cfg` decided). For each crate this prints
//! precision and recall of
//! - the items ssot-check finds compiled in that configuration, per item kind (its `cfg` evaluated, and,
//!   for comparison, with `cfg` ignored as before), and
//! - the duplicate groups of the `single-definition` kind (types by name, as a team's pack would ask) over
//!   the module-level items, against the names the truth defines twice; its findings cover every
//!   configuration, so a group that only another configuration compiles counts against precision here;
//!   and the same rule checking the truth's one build exactly (`--target`, `--features`),
//!
//! and fails when a figure drops below bench/fidelity/expected.txt. It runs when `SSOT_CHECK_CORPUS`
//! names the vendored corpus (CI sets it); `SSOT_CHECK_FIDELITY_MISSES=<crate>` also lists that crate's
//! misses and extras.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ssot_check::configurations::compiled_in;
use ssot_check::facts::{DefinitionKind, FileFacts};

/// One crate's ground truth.
struct Truth {
    name: String,
    dir: String,
    target: String,
    features: Vec<String>,
    items: BTreeSet<(String, String)>,
}

fn read_truth(path: &Path) -> Truth {
    let text = std::fs::read_to_string(path).expect("truth file");
    let mut truth = Truth {
        name: String::new(),
        dir: String::new(),
        target: String::new(),
        features: Vec::new(),
        items: BTreeSet::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# crate ") {
            let mut words = rest.split_whitespace();
            let (name, version) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            truth.name = name.to_owned();
            truth.dir = format!("{name}-{version}");
        } else if let Some(target) = line.strip_prefix("# target ") {
            truth.target = target.to_owned();
        } else if let Some(features) = line.strip_prefix("# features ") {
            truth.features = features.split(',').filter(|f| *f != "-").map(str::to_owned).collect();
        } else if !line.starts_with('#')
            && let Some((kind, path)) = line.split_once(' ')
        {
            truth.items.insert((kind.to_owned(), path.to_owned()));
        }
    }
    truth
}

/// The module-level items ssot-check finds in a crate's facts, compiled in the truth's configuration
/// (or in any, when `evaluate_cfg` is off).
fn seen(facts: &[FileFacts], truth: &Truth, evaluate_cfg: bool) -> BTreeSet<(String, String)> {
    let compiled = |cfg: &Option<String>| {
        !evaluate_cfg || compiled_in(cfg.as_deref(), &truth.target, &truth.features).unwrap_or(true)
    };
    let mut items = BTreeSet::new();
    for file in facts.iter().filter(|f| !f.in_test) {
        for d in file
            .definitions
            .iter()
            .filter(|d| !d.in_test && !d.local && compiled(&d.cfg))
        {
            let kind = match d.kind {
                DefinitionKind::Method | DefinitionKind::Impl | DefinitionKind::Module | DefinitionKind::Macro => {
                    continue;
                }
                kind => kind.as_str(),
            };
            items.insert((kind.to_owned(), d.path.clone()));
        }
        for m in file.modules.iter().filter(|m| !m.in_test && compiled(&m.cfg)) {
            items.insert(("mod".to_owned(), m.path.clone()));
        }
    }
    items
}

/// Precision and recall of `found` against `truth`.
fn score<T: Ord>(found: &BTreeSet<T>, truth: &BTreeSet<T>) -> (f64, f64, usize, usize) {
    let hits = found.intersection(truth).count();
    let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    (
        ratio(hits, found.len()),
        ratio(hits, truth.len()),
        found.len(),
        truth.len(),
    )
}

/// Type names defined more than once, from (kind, path) items.
fn duplicate_names(items: &BTreeSet<(String, String)>) -> BTreeSet<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, path) in items {
        if matches!(kind.as_str(), "struct" | "enum" | "trait" | "union") {
            *count.entry(path.rsplit("::").next().unwrap_or(path)).or_default() += 1;
        }
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The names of the duplicate groups `single-definition` reports on the crate's module-level items (the
/// truth lists no item local to a function body).
fn reported_groups(facts: &[FileFacts]) -> BTreeSet<String> {
    let rules = tempfile::tempdir().expect("tempdir");
    let path = rules.path().join("rules.toml");
    std::fs::write(
        &path,
        "[[rule]]\nid = \"types-once\"\nkind = \"single-definition\"\nmessage = \"m\"\n\
         item-kind = [\"struct\", \"enum\", \"trait\", \"union\"]\nname = \"**\"\ngroup-by = \"name\"\n",
    )
    .expect("rules");
    let config = ssot_check::config::load(&[path], rules.path()).expect("the pack loads");
    let module_level: Vec<FileFacts> = facts
        .iter()
        .map(|file| FileFacts {
            definitions: file.definitions.iter().filter(|d| !d.local).cloned().collect(),
            ..file.clone()
        })
        .collect();
    ssot_check::check::evaluate(&module_level, &config, false)
        .into_iter()
        .filter(|f| f.rule == "types-once")
        .map(|f| f.symbol)
        .collect()
}

/// The committed floors: `crate measure precision recall` per line.
fn expected() -> BTreeMap<(String, String), (f64, f64)> {
    let text = std::fs::read_to_string(common::root().join("bench/fidelity/expected.txt")).expect("expected.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            Some((
                (w.first()?.to_string(), w.get(1)?.to_string()),
                (w.get(2)?.parse().ok()?, w.get(3)?.parse().ok()?),
            ))
        })
        .collect()
}

#[test]
fn fidelity_against_rustc() {
    let Some(corpus) = std::env::var_os("SSOT_CHECK_CORPUS") else {
        eprintln!("SSOT_CHECK_CORPUS is not set: the fidelity benchmark does not run (CI sets it)");
        return;
    };
    let corpus = PathBuf::from(corpus);
    let mut truths: Vec<PathBuf> = std::fs::read_dir(common::root().join("bench/fidelity/truth"))
        .expect("truth folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    truths.sort();
    let floors = expected();
    let mut failures = Vec::new();
    // Per item kind, over every crate: (found and true, found, true).
    let mut by_kind: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    println!(
        "{:<22} {:<18} {:>9} {:>7} {:>6} {:>6}",
        "crate", "measure", "precision", "recall", "found", "truth"
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(64 * 1024 * 1024)
        .build()
        .expect("worker threads");
    for path in truths {
        let truth = read_truth(&path);
        let workspace = ssot_check::workspace::scan(&corpus, &[PathBuf::from(&truth.dir)], &[])
            .expect("the crate is in the corpus");
        let facts = pool.install(|| ssot_check::frontend::analyze(&workspace));
        let with_cfg = seen(&facts, &truth, true);
        for (kind, _) in with_cfg.iter().chain(&truth.items) {
            by_kind.entry(kind.clone()).or_default();
        }
        for item in &with_cfg {
            let entry = by_kind.entry(item.0.clone()).or_default();
            entry.1 += 1;
            entry.0 += usize::from(truth.items.contains(item));
        }
        for item in &truth.items {
            by_kind.entry(item.0.clone()).or_default().2 += 1;
        }
        // `SSOT_CHECK_FIDELITY_MISSES=tokio` lists what the tool misses and adds there, for reading.
        if std::env::var("SSOT_CHECK_FIDELITY_MISSES").is_ok_and(|name| name == truth.name) {
            for (kind, path) in truth.items.difference(&with_cfg) {
                println!("missed {kind} {path}");
            }
            for (kind, path) in with_cfg.difference(&truth.items) {
                println!("extra {kind} {path}");
            }
        }
        let without_cfg = seen(&facts, &truth, false);
        let groups = reported_groups(&facts);
        // The same rule on the one build the truth is of (`--target` and `--features`).
        let mut exact = facts.clone();
        let build = ssot_check::configurations::Build {
            target: truth.target.clone(),
            features: truth.features.clone(),
            all_features: false,
            no_default_features: true,
        };
        ssot_check::check::keep_compiled(&mut exact, &workspace, &build);
        let exact_groups = reported_groups(&exact);
        let truth_groups = duplicate_names(&truth.items);
        let measures = [
            ("items", score(&with_cfg, &truth.items)),
            ("items, cfg ignored", score(&without_cfg, &truth.items)),
            ("duplicate groups", score(&groups, &truth_groups)),
            ("groups, exact build", score(&exact_groups, &truth_groups)),
        ];
        for (measure, (precision, recall, found, expected_count)) in measures {
            println!(
                "{:<22} {measure:<18} {precision:>9.3} {recall:>7.3} {found:>6} {expected_count:>6}",
                truth.name
            );
            let key = (truth.name.clone(), measure.replace(' ', "_").replace(',', ""));
            if let Some((p, r)) = floors.get(&key)
                && (precision + 1e-9 < *p || recall + 1e-9 < *r)
            {
                failures.push(format!(
                    "{} {measure}: precision {precision:.3} recall {recall:.3}, below {p} {r}",
                    truth.name
                ));
            }
        }
    }
    println!(
        "\n{:<22} {:>9} {:>7} {:>6} {:>6}",
        "item kind, all crates", "precision", "recall", "found", "truth"
    );
    for (kind, (hits, found, truth)) in by_kind {
        let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
        println!(
            "{kind:<22} {:>9.3} {:>7.3} {found:>6} {truth:>6}",
            ratio(hits, found),
            ratio(hits, truth)
        );
    }
    assert!(failures.is_empty(), "fidelity dropped:\n{}", failures.join("\n"));
}
