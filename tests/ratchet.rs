//! The baseline ratchet and inline suppressions, as a CI gate uses them: write the baseline, stay green,
//! fail on exactly the new finding, report (and with --strict-baseline fail on) fixed ones.

mod common;

use std::path::Path;

use serde_json::Value;

use common::{ROUTER_AND_LEGACY_RULES as RULES, write};

/// A project with two routers and one banned import.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "Cargo.toml", "[package]\nname = \"app\"\n");
    write(dir.path(), "rules.toml", RULES);
    write(dir.path(), "src/lib.rs", "pub mod a;\npub mod b;\npub mod legacy;\n");
    write(dir.path(), "src/a.rs", "pub struct MessageRouter;\n");
    write(
        dir.path(),
        "src/b.rs",
        "use crate::legacy::Old;\n\npub struct MessageRouter;\n",
    );
    write(dir.path(), "src/legacy.rs", "pub struct Old;\n");
    dir
}

fn run(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["src", "--rules", "rules.toml", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out) = common::run_in(dir, &args);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("JSON: {out}")),
    )
}

fn active(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["suppression"].is_null() && f["baseline_state"] != "unchanged")
        .map(|f| f["message"].as_str().expect("message").to_owned())
        .collect()
}

#[test]
fn baseline_round_trip() {
    let dir = project();
    let root = dir.path();
    let (code, out) = common::run_in(root, &["baseline", "write", "src", "--rules", "rules.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Wrote 3 baseline entries to .ssot-baseline.toml"), "{out}");
    let text = std::fs::read_to_string(root.join(".ssot-baseline.toml")).expect("baseline");
    let entries: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("{ rule")).collect();
    assert_eq!(entries.len(), 3, "one line per entry:\n{text}");
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "sorted, for clean merges");
    assert!(
        !text.contains("line =") && !text.contains("column"),
        "no line numbers in a baseline:\n{text}"
    );

    // Clean against its own baseline.
    let (code, report) = run(root, &["--baseline", ".ssot-baseline.toml"]);
    assert_eq!(code, 0);
    assert!(active(&report).is_empty());
    assert_eq!(report["summary"]["baselined"], 2);

    // Edits above the findings and moving code within a file change nothing.
    write(
        root,
        "src/b.rs",
        "// a comment\n\n\npub struct MessageRouter;\n\n// moved below\nuse crate::legacy::Old;\n",
    );
    let (code, report) = run(root, &["--baseline", ".ssot-baseline.toml"]);
    assert_eq!(
        (
            code,
            active(&report).len(),
            report["stale_baseline_entries"].as_array().map(Vec::len)
        ),
        (0, 0, Some(0))
    );

    // A third router fails the run on exactly that one.
    write(
        root,
        "src/lib.rs",
        "pub mod a;\npub mod b;\npub mod c;\npub mod legacy;\n",
    );
    write(root, "src/c.rs", "pub struct MessageRouter;\n");
    let (code, report) = run(root, &["--baseline", ".ssot-baseline.toml"]);
    assert_eq!(code, 1);
    let new = active(&report);
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(
        new[0].contains("new since the baseline: `app::c::MessageRouter`"),
        "{new:?}"
    );

    // A new router cannot take the place of a fixed one: remove b's router, keep c's.
    write(root, "src/b.rs", "use crate::legacy::Old;\n");
    let (code, report) = run(root, &["--baseline", ".ssot-baseline.toml"]);
    assert_eq!(code, 1, "c's router is new even though b's is gone");
    assert_eq!(report["stale_baseline_entries"][0]["symbol"], "app::b::MessageRouter");

    // Fixing an old one: stale is a warning, and a failure with --strict-baseline.
    write(root, "src/lib.rs", "pub mod a;\npub mod b;\npub mod legacy;\n");
    std::fs::remove_file(root.join("src/c.rs")).expect("remove");
    let (code, report) = run(root, &["--baseline", ".ssot-baseline.toml"]);
    assert_eq!(code, 0);
    assert_eq!(
        report["summary"]["stale_baseline_entries"], 2,
        "both members of the fixed duplicate are stale"
    );
    let (code, human) = common::run_in(
        root,
        &[
            "src",
            "--rules",
            "rules.toml",
            "--baseline",
            ".ssot-baseline.toml",
            "--strict-baseline",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        human.contains("error[stale-baseline]: `app::b::MessageRouter`"),
        "{human}"
    );

    // `baseline update` only removes; the file shrinks and strict mode is green again.
    let (code, out) = common::run_in(root, &["baseline", "update", "src", "--rules", "rules.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Removed 2 stale baseline entries"), "{out}");
    let (code, _) = run(root, &["--baseline", ".ssot-baseline.toml", "--strict-baseline"]);
    assert_eq!(code, 0);

    // A new finding is not added by `update` unless asked.
    write(root, "src/a.rs", "use crate::legacy::Old;\npub struct MessageRouter;\n");
    let (_, out) = common::run_in(root, &["baseline", "update", "src", "--rules", "rules.toml"]);
    assert!(
        out.contains("1 findings are not in the baseline and were not added"),
        "{out}"
    );
    assert_eq!(run(root, &["--baseline", ".ssot-baseline.toml"]).0, 1);
    let (_, out) = common::run_in(
        root,
        &["baseline", "update", "--accept-new", "src", "--rules", "rules.toml"],
    );
    assert!(out.contains("Added 1 new entries"), "{out}");
    assert_eq!(run(root, &["--baseline", ".ssot-baseline.toml"]).0, 0);
}

#[test]
fn json_baselines_work_the_same() {
    let dir = project();
    let (code, _) = common::run_in(
        dir.path(),
        &[
            "baseline",
            "write",
            "src",
            "--rules",
            "rules.toml",
            "--baseline",
            "base.json",
        ],
    );
    assert_eq!(code, 0);
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("base.json")).expect("file")).expect("JSON");
    assert_eq!(value["entries"].as_array().map(Vec::len), Some(3));
    assert_eq!(run(dir.path(), &["--baseline", "base.json"]).0, 0);
}

#[test]
fn a_missing_or_broken_baseline_is_a_tool_error() {
    let dir = project();
    let (code, out) = common::run_in(dir.path(), &["src", "--rules", "rules.toml", "--baseline", "nope.toml"]);
    assert_eq!(code, 2);
    assert!(out.contains("cannot use baseline file"), "{out}");
    write(dir.path(), "bad.toml", "version = 1\nentries = [{ rule = 1 }]\n");
    let (code, out) = common::run_in(dir.path(), &["src", "--rules", "rules.toml", "--baseline", "bad.toml"]);
    assert_eq!(code, 2);
    assert!(out.contains("is not a valid baseline"), "{out}");
}

#[test]
fn suppressions_need_a_reason_and_are_reported_when_unused_or_unknown() {
    let dir = project();
    let root = dir.path();
    write(
        root,
        "src/b.rs",
        "// ssot-check: allow(no-legacy) reason: removed with the legacy module in the next release\nuse crate::legacy::Old;\n\n\
         // ssot-check: allow(one-router)\npub struct MessageRouter;\n",
    );
    let (code, report) = run(root, &[]);
    assert_eq!(code, 1);
    let findings = report["findings"].as_array().expect("findings");
    let banned = findings
        .iter()
        .find(|f| f["rule"] == "no-legacy")
        .expect("the banned import");
    assert_eq!(
        banned["suppression"]["justification"],
        "removed with the legacy module in the next release"
    );
    assert_eq!(banned["suppression"]["kind"], "in-source");
    let invalid = findings
        .iter()
        .find(|f| f["rule"] == "invalid-suppression")
        .expect("the reasonless suppression");
    assert_eq!(invalid["severity"], "error");
    assert_eq!(invalid["line"], 4);
    let router = findings.iter().find(|f| f["rule"] == "one-router").expect("the router");
    assert!(
        router["suppression"].is_null(),
        "a suppression without a reason suppresses nothing"
    );

    write(
        root,
        "src/a.rs",
        "pub struct MessageRouter; // ssot-check: allow(one-router) reason: the old router, going in Q3\n\
         // ssot-check: allow(no-legacy) reason: nothing here to suppress\nfn f() {}\n\
         // ssot-check: allow(not-a-rule) reason: typo\nfn g() {}\n",
    );
    write(root, "src/b.rs", "use crate::legacy::Old;\npub struct MessageRouter;\n");
    let (_, report) = run(root, &[]);
    let rules = common::rule_ids(&report);
    assert!(rules.contains(&"unused-suppression"), "{rules:?}");
    assert!(rules.contains(&"unknown-suppression"), "{rules:?}");
    let router = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "one-router")
        .expect("router");
    assert_eq!(
        router["path"], "src/a.rs",
        "the suppression covers the finding's primary location"
    );
    assert_eq!(router["suppression"]["justification"], "the old router, going in Q3");
    assert_eq!(report["summary"]["suppressed"], 1);
}
