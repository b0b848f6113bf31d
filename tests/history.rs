//! `history` and `history --diff` over a small git repository the test builds itself: exact counts per
//! commit, each unchanged blob parsed once, the working tree untouched.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::{ROUTER_AND_LEGACY_RULES as RULES, write};

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// Five commits: one router; two; three and a banned import; two and the import; one and none.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    write(root, "ssot.toml", RULES);
    write(root, "Cargo.toml", "[package]\nname = \"app\"\n");
    write(root, "src/util.rs", "pub fn helper() {}\n");
    write(root, "src/a.rs", "pub struct MessageRouter;\n");
    write(root, "src/lib.rs", "pub mod a;\npub mod util;\n");
    commit(root, "one router");
    write(root, "src/b.rs", "pub struct MessageRouter;\n");
    write(root, "src/lib.rs", "pub mod a;\npub mod b;\npub mod util;\n");
    commit(root, "a second router");
    write(root, "src/c.rs", "use crate::legacy::Old;\npub struct MessageRouter;\n");
    write(root, "src/legacy.rs", "pub struct Old;\n");
    write(
        root,
        "src/lib.rs",
        "pub mod a;\npub mod b;\npub mod c;\npub mod legacy;\npub mod util;\n",
    );
    commit(root, "a third router and a legacy import");
    std::fs::remove_file(root.join("src/b.rs")).expect("rm");
    write(
        root,
        "src/lib.rs",
        "pub mod a;\npub mod c;\npub mod legacy;\npub mod util;\n",
    );
    commit(root, "remove the second router");
    std::fs::remove_file(root.join("src/c.rs")).expect("rm");
    std::fs::remove_file(root.join("src/legacy.rs")).expect("rm");
    write(root, "src/lib.rs", "pub mod a;\npub mod util;\n");
    commit(root, "remove the third router and the legacy module");
    dir
}

#[test]
fn counts_per_commit_parse_each_blob_once_and_leave_the_working_tree_alone() {
    let dir = repository();
    let root = dir.path();
    // An uncommitted duplicate in the working tree must not show up in the history.
    write(root, "src/wip.rs", "pub struct MessageRouter;\n");
    let (code, json) = common::run_in(root, &["history", "--format", "json"]);
    assert_eq!(code, 0, "{json}");
    let history: Value = serde_json::from_str(&json).expect("JSON");
    let column = |rule: &str| -> Vec<u64> {
        history["commits"]
            .as_array()
            .expect("commits")
            .iter()
            .map(|c| c["counts"][rule].as_u64().expect("count"))
            .collect()
    };
    assert_eq!(
        column("one-router"),
        vec![0, 2, 3, 2, 0],
        "each router of a duplicate is a violation"
    );
    assert_eq!(column("no-legacy"), vec![0, 0, 1, 1, 0]);
    let totals: Vec<u64> = history["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["total"].as_u64().expect("total"))
        .collect();
    assert_eq!(totals, vec![0, 2, 4, 3, 0]);
    // 21 file versions over 5 commits, but only 8 distinct blobs: util; a (and b, byte-identical);
    // lib.rs in 4 versions (the last equals the first); c; legacy. Each is parsed once.
    assert_eq!(history["files_parsed"], 8, "unchanged blobs are parsed once");
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(root)
        .output()
        .expect("git");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        "?? src/wip.rs",
        "the working tree is untouched"
    );

    let (_, last_two) = common::run_in(root, &["history", "--last", "2", "--format", "csv"]);
    let lines: Vec<&str> = last_two.lines().collect();
    assert_eq!(lines[0], "date,commit,one-router,no-legacy,total");
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].ends_with(",2,1,3") && lines[2].ends_with(",0,0,0"),
        "{last_two}"
    );

    let (_, table) = common::run_in(root, &["history"]);
    assert!(table.contains("5 commits; 8 distinct files parsed"), "{table}");
    let (_, svg) = common::run_in(root, &["history", "--format", "svg"]);
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains("one-router (0)"),
        "{svg}"
    );
}

#[test]
fn diff_says_what_a_branch_adds_and_removes() {
    let dir = repository();
    let root = dir.path();
    let (code, markdown) = common::run_in(root, &["history", "--diff", "HEAD~2"]);
    assert_eq!(code, 0, "removing violations passes: {markdown}");
    assert!(
        markdown.contains("`one-router`: this change removes 3 of 3"),
        "{markdown}"
    );
    assert!(
        markdown.contains("`no-legacy`: this change removes 1 of 1"),
        "{markdown}"
    );
    assert!(markdown.contains("Violations: 4 -> 0"), "{markdown}");

    git(root, &["checkout", "-q", "-b", "feature"]);
    write(root, "src/lib.rs", "pub mod a;\npub mod d;\npub mod util;\n");
    write(root, "src/d.rs", "pub struct MessageRouter;\n");
    commit(root, "a new router on a branch");
    let (code, markdown) = common::run_in(root, &["history", "--diff", "main"]);
    assert_eq!(code, 1, "adding a violation fails: {markdown}");
    assert!(
        markdown.contains("`one-router`: this change adds 2 (now 2)"),
        "{markdown}"
    );
    let (_, json) = common::run_in(root, &["history", "--diff", "main", "--format", "json"]);
    let diff: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(diff["added"].as_array().map(Vec::len), Some(2));
}

#[test]
fn outside_a_repository_history_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "ssot.toml", RULES);
    let (code, error) = common::run_in(dir.path(), &["history"]);
    assert_eq!(code, 2);
    assert!(error.contains("git"), "{error}");
}

#[test]
fn history_reads_python_with_the_module_paths_a_check_gives_it() {
    // The package lives under `lib/`, as `pyproject.toml` says: a commit's tree must give the Python
    // frontend that file too, or the router would be `ws.MessageRouter`, not the canonical one. The two
    // routers are byte-identical: what a file defines depends on its module too, not only on its content.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    let rules = "rules = [\"rules.toml\"]\n";
    write(root, "ssot.toml", rules);
    write(
        root,
        "rules.toml",
        "[[rule]]\nid = \"one-router\"\nkind = \"single-definition\"\nmessage = \"m\"\nitem-kind = \"class\"\n\
         name = \"MessageRouter\"\ncanonical = \"app.ws.MessageRouter\"\n",
    );
    write(
        root,
        "pyproject.toml",
        "[tool.setuptools.packages.find]\nwhere = [\"lib\"]\n",
    );
    // A namespace package (no `__init__.py`): only the project file says where its import root is.
    write(root, "lib/app/ws.py", "class MessageRouter: pass\n");
    commit(root, "the canonical router");
    write(root, "lib/app/legacy.py", "class MessageRouter: pass\n");
    commit(root, "a second router");
    let (_, live) = common::run_in(root, &["--format", "json"]);
    assert!(live.contains("canonical: class `app.ws.MessageRouter`"), "{live}");
    let (code, json) = common::run_in(root, &["history", "--format", "json"]);
    assert_eq!(code, 0, "{json}");
    let history: Value = serde_json::from_str(&json).expect("JSON");
    let counts: Vec<u64> = history["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["counts"]["one-router"].as_u64().expect("count"))
        .collect();
    assert_eq!(counts, vec![0, 2]);
    let (_, diff) = common::run_in(root, &["history", "--diff", "HEAD~1", "--format", "json"]);
    assert!(diff.contains("app.legacy.MessageRouter"), "{diff}");
    assert!(
        !diff.contains("lib.app"),
        "module paths from the project's source folder: {diff}"
    );
}
