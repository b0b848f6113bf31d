//! Bad code of every kind is a finding or a skip, never a crash or a hang, and never loses the report.

mod common;

use std::path::Path;

use serde_json::Value;

const RULES: &str = "[[rule]]\nid = \"one-router\"\nkind = \"single-definition\"\nmessage = \"One router.\"\nname = \"MessageRouter\"\n";

fn write(dir: &Path, path: &str, text: &[u8]) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn check(dir: &Path) -> (i32, Value) {
    let (code, out) = common::run_in(dir, &[".", "--rules", "rules.toml", "--format", "json"]);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("JSON: {out}")),
    )
}

fn rules_found(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().expect("rule").to_owned())
        .collect()
}

#[test]
fn empty_files_symlink_loops_and_fifos_are_skipped_or_checked_without_hanging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "rules.toml", RULES.as_bytes());
    write(root, "src/empty.rs", b"");
    write(root, "src/a.rs", b"pub struct MessageRouter;\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("src"), root.join("src/loop")).expect("symlink");
        std::os::unix::fs::symlink(root.join("src/missing.rs"), root.join("src/dangling.rs")).expect("symlink");
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("src/pipe.rs"))
            .status()
            .expect("mkfifo");
        assert!(status.success());
    }
    let (code, report) = check(root);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["summary"]["files_checked"], 2,
        "empty.rs and a.rs; links and the FIFO are not followed"
    );
}

#[test]
fn non_utf8_and_unparsable_files_are_findings_and_the_rest_of_the_report_stands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "rules.toml", RULES.as_bytes());
    write(root, "a.rs", b"pub struct MessageRouter;\n");
    write(root, "b.rs", b"pub struct MessageRouter;\n");
    write(root, "latin1.rs", b"// caf\xe9\npub struct X;\n");
    write(root, "broken.rs", b"fn f( {\n");
    write(
        root,
        "deep.rs",
        format!("fn f() {{ {}1{} }}", "(".repeat(10_000), ")".repeat(10_000)).as_bytes(),
    );
    let (code, report) = check(root);
    assert_eq!(code, 1);
    let mut rules = rules_found(&report);
    rules.sort();
    assert_eq!(rules, vec!["one-router", "parse-error", "parse-error", "parse-error"]);
}

#[test]
fn a_100k_line_generated_file_is_analyzed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "rules.toml", RULES.as_bytes());
    let mut text = String::new();
    for i in 0..100_000 {
        text.push_str(&format!("pub fn f{i}() -> u32 {{ {i} }}\n"));
    }
    text.push_str("pub struct MessageRouter;\n");
    write(root, "generated.rs", text.as_bytes());
    write(root, "other.rs", b"pub struct MessageRouter;\n");
    let (code, report) = check(root);
    assert_eq!(code, 1);
    assert_eq!(rules_found(&report), vec!["one-router"]);
    assert_eq!(report["findings"][0]["line"], 100_001);
}

#[test]
fn strict_turns_partial_analysis_into_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "rules.toml", RULES.as_bytes());
    write(
        root,
        "old.rs",
        // The item syn refuses names what the rule looks for, so syn must read it.
        b"type Action = Fn(&MessageRouter) + Send;\npub struct MessageRouter;\n",
    );
    let (code, report) = check(root);
    assert_eq!(code, 0, "a warning alone passes: {report}");
    assert_eq!(rules_found(&report), vec!["partially-analyzed"]);
    let (code, _) = common::run_in(root, &[".", "--rules", "rules.toml", "--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn the_fact_cache_changes_nothing_but_speed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache dir");
    let root = dir.path();
    write(root, "rules.toml", RULES.as_bytes());
    write(root, "a.rs", b"pub struct MessageRouter;\n");
    write(root, "b.rs", b"pub struct Other;\nfn body() { let x = 1; }\n");
    let (cached, uncached) = (|| run_cached(root, cache.path()), || run_uncached(root));
    let (_, cold) = cached();
    let mut entries: Vec<String> = walk(cache.path())
        .iter()
        .filter_map(|p| Some(p.extension()?.to_string_lossy().into_owned()))
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["index", "macros", "parses", "snapshot"],
        "the run's snapshot, index, macros and parses"
    );
    let (_, warm) = cached();
    assert_eq!(cold, warm);
    assert_eq!(cold, uncached().1);
    // An edit inside a body leaves the structure: only the file is parsed again (the incremental path).
    write(root, "b.rs", b"pub struct Other;\nfn body() { let y = 2; }\n");
    assert_eq!(cached(), uncached());
    // An index that is not the snapshot's (a concurrent run replaced it) is not used: a full run instead.
    for index in walk(cache.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "index"))
    {
        std::fs::write(index, b"\x00").expect("replace");
    }
    write(root, "b.rs", b"pub struct Other;\nfn body() { let z = 3; }\n");
    assert_eq!(cached(), uncached());
    // A changed file is parsed again: its content has a new key, and its structure changed.
    write(root, "b.rs", b"pub struct MessageRouter;\n");
    let (code, changed) = cached();
    assert_eq!(code, 1, "{changed}");
    assert_eq!((code, changed), uncached());
    // A corrupt entry is a miss, not an error.
    for entry in walk(cache.path()) {
        std::fs::write(entry, b"\x01garbage").expect("corrupt");
    }
    let (code, _) = cached();
    assert_eq!(code, 1);
    // So is a file the snapshot no longer knows.
    write(root, "c.rs", b"pub struct MessageRouter;\n");
    assert_eq!(cached(), uncached());
}

/// The JSON report of `root` with its cache in `cache`.
fn run_cached(root: &Path, cache: &Path) -> (i32, String) {
    let cache = cache.to_str().expect("UTF-8");
    common::run_in(
        root,
        &[".", "--rules", "rules.toml", "--format", "json", "--cache-dir", cache],
    )
}

/// The JSON report of `root` without a cache: what a cached run must equal.
fn run_uncached(root: &Path) -> (i32, String) {
    common::run_in(root, &[".", "--rules", "rules.toml", "--format", "json", "--no-cache"])
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_snapshot_is_only_resolved_against_its_own_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache dir");
    let root = dir.path();
    let rules = "[[rule]]\nid = \"no-legacy\"\nkind = \"banned-import\"\nmessage = \"m\"\npaths = [\"app::legacy\"]\n";
    write(root, "rules.toml", rules.as_bytes());
    write(root, "Cargo.toml", b"[package]\nname = \"app\"\n");
    write(
        root,
        "src/lib.rs",
        b"pub mod a;\npub mod b;\npub mod legacy;\npub mod other;\n",
    );
    write(root, "src/legacy.rs", b"pub fn make() {}\n");
    write(root, "src/other.rs", b"pub fn make() {}\n");
    write(root, "src/a.rs", b"pub use crate::legacy as old;\n");
    // The comment keeps the body parsed whatever `old` stands for.
    write(
        root,
        "src/b.rs",
        b"pub fn run() { crate::a::old::make(); /* not legacy */ }\n",
    );
    let (cached, uncached) = (|| run_cached(root, cache.path()), || run_uncached(root));
    assert_eq!(cached(), uncached());
    let index_of = |dir: &Path| {
        walk(dir)
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "index"))
            .expect("an index")
    };
    let first_index = std::fs::read(index_of(cache.path())).expect("index");
    // A structural change: a full run writes a new snapshot and index, where `old` is `other`.
    write(root, "src/a.rs", b"pub use crate::other as old;\n");
    assert_eq!(cached(), uncached());
    // A concurrent run's index (valid, but not the snapshot's) lands beside the snapshot.
    std::fs::write(index_of(cache.path()), first_index).expect("replace");
    write(
        root,
        "src/b.rs",
        b"pub fn run() { crate::a::old::make(); let _ = 1; /* not legacy */ }\n",
    );
    let (code, report) = cached();
    assert_eq!((code, report), uncached(), "the stale index is not used");
    assert_eq!(code, 0, "`old` is `other` now: nothing banned");
}
