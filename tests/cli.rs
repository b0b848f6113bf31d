//! The binary as a user meets it: exit codes, and one clear error (never a panic or a backtrace) for
//! every kind of bad input.

use std::path::Path;
use std::process::{Command, Output};

mod common;

fn ssot_check(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssot-check"))
        .args(args)
        .current_dir(cwd)
        .env("SSOT_CHECK_CACHE_DIR", common::cache_dir())
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Asserts a tool error: exit 2, the expected words on stderr, nothing that looks like a crash.
fn assert_tool_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
    for crash in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
        assert!(!stderr.contains(crash), "looks like a crash:\n{stderr}");
    }
}

fn write_rules(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).expect("write rules");
    path
}

#[test]
fn exit_codes_are_0_clean_1_findings() {
    assert_eq!(ssot_check(root(), &[]).status.code(), Some(0));
    let output = ssot_check(root(), &["fixtures/legacy-gateway"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Found 5 duplicate implementations"), "{stdout}");
}

#[test]
fn warnings_alone_do_not_fail_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.rs"), "struct X; mod m { struct X; }").expect("write");
    let rules = write_rules(
        dir.path(),
        "[[rule]]\nid = \"x\"\nkind = \"single-definition\"\nmessage = \"one X\"\nseverity = \"warning\"\nname = \"X\"\n",
    );
    let output = ssot_check(dir.path(), &["--rules", rules.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("`X` is defined 2 times"));
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_tool_error(&ssot_check(root(), &["--format", "xml"]), "invalid value 'xml'");
    assert_tool_error(&ssot_check(root(), &["--threads", "0"]), "--threads");
    assert_tool_error(&ssot_check(root(), &["--no-such-flag"]), "unexpected argument");
}

#[test]
fn a_missing_path_is_one_error() {
    assert_tool_error(
        &ssot_check(root(), &["does/not/exist"]),
        "cannot check `does/not/exist`",
    );
}

#[test]
fn bad_rule_files_point_at_the_mistake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "[[rule]]\nid = \"a\"\nkind = \"single-definition\"\nmessage = \"m\"\nnmae = \"X\"\n",
            "unknown field `nmae`",
        ),
        (
            "[[rule]]\nid = \"a\"\nkind = \"one-of\"\nmessage = \"m\"\n",
            "unknown rule kind `one-of`",
        ),
        (
            "[[rule]]\nid = \"a\"\nkind = \"banned-import\"\nmessage = \"m\"\npaths = [\"a::{b\"]\n",
            "not a valid pattern",
        ),
        (
            "[[rule]]\nid = \"a\"\nkind = \"no-global-state\"\nmessage = \"m\"\nmodules = [\"a\"]\n[[rule]]\nid = \"a\"\nkind = \"no-global-state\"\nmessage = \"m\"\nmodules = [\"a\"]\n",
            "duplicate rule id `a`",
        ),
        ("[[rule]\n", "invalid TOML"),
        ("[[rule]]\nid = \"a\"\n", "this rule has no `kind`"),
    ];
    for (text, expected) in cases {
        let rules = write_rules(dir.path(), text);
        let output = ssot_check(dir.path(), &["--rules", rules.to_str().expect("utf-8")]);
        assert_tool_error(&output, expected);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("rules.toml:"),
            "no location for {expected}"
        );
    }
    assert_tool_error(
        &ssot_check(dir.path(), &["--rules", "missing.toml"]),
        "cannot read rules from `",
    );
    std::fs::write(dir.path().join("bad.toml"), b"id = \"\xff\"\n").expect("write");
    assert_tool_error(&ssot_check(dir.path(), &["--rules", "bad.toml"]), "not valid UTF-8");
}

#[test]
fn no_configuration_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_tool_error(&ssot_check(dir.path(), &[]), "no rules to check");
}

#[test]
fn explain_documents_every_kind() {
    for kind in [
        "single-definition",
        "banned-import",
        "removed-module",
        "single-dispatch",
        "no-global-state",
    ] {
        let output = ssot_check(root(), &["explain", kind]);
        assert_eq!(output.status.code(), Some(0));
        let text = String::from_utf8_lossy(&output.stdout);
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Configuration",
        ] {
            assert!(text.contains(section), "{kind} lacks {section}");
        }
    }
    assert_tool_error(
        &ssot_check(root(), &["explain", "one-of"]),
        "unknown rule kind `one-of`",
    );
}

#[test]
fn rules_lists_what_is_loaded() {
    let output = ssot_check(root(), &["rules"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("one-message-router"), "{text}");
    assert!(text.contains("rules/routing.toml:"), "{text}");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssot-check"))
        .args(["fixtures/legacy-gateway", "--format", "json"])
        .current_dir(root())
        .env("SSOT_CHECK_CACHE_DIR", common::cache_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("waits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{:?} {stderr}",
        output.status
    );
}
