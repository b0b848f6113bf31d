//! The same tree and rules give the same findings from any working directory, with the tree named by a
//! relative or an absolute path: file globs (`allow-in`, `[scan] exclude`) are relative to the rule file
//! that states them, never to where the run starts.

mod common;

use std::path::{Path, PathBuf};

/// A workspace with rules in `rules/`, an `allow-in` and a `[scan] exclude`, and violations on both sides.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("Cargo.toml", "[package]\nname = \"app\"\n"),
        ("ssot.toml", "rules = [\"rules\"]\n[scan]\nexclude = [\"vendor/\"]\n"),
        (
            "rules/app.toml",
            r#"[[rule]]
id = "no-legacy"
kind = "banned-import"
message = "legacy is going"
paths = ["app::legacy"]
allow-in = ["../src/compat/**"]

[[rule]]
id = "one-router"
kind = "single-definition"
message = "one router"
name = "*Router"
"#,
        ),
        (
            "src/lib.rs",
            "pub mod a; pub mod compat; pub mod legacy; pub mod routers;",
        ),
        ("src/legacy.rs", "pub fn old() {}"),
        ("src/a.rs", "use crate::legacy::old; pub fn f() { old(); }"),
        ("src/compat/mod.rs", "pub use crate::legacy::old as shim;"),
        ("src/routers.rs", "pub struct MessageRouter; pub struct OtherRouter;"),
        ("vendor/copy.rs", "pub struct ThirdRouter; use crate::legacy::old;"),
    ];
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// The findings as (rule, absolute file, line, column, message), whatever the paths were relative to.
fn findings(cwd: &Path, args: &[&str]) -> Vec<(String, PathBuf, u64, u64, String)> {
    let mut all = args.to_vec();
    all.extend(["--format", "json", "--no-cache"]);
    let (code, text) = common::run_in(cwd, &all);
    assert_eq!(code, 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut found: Vec<_> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let path = std::fs::canonicalize(cwd.join(f["path"].as_str().expect("path"))).expect("exists");
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                path,
                f["line"].as_u64().unwrap_or_default(),
                f["column"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn the_same_findings_from_any_working_directory() {
    let dir = workspace();
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let root_text = root.to_str().expect("UTF-8");
    let rules = root.join("ssot.toml");
    let rules_text = rules.to_str().expect("UTF-8");

    let from_root = findings(&root, &[]);
    // The imports of `legacy` in `a.rs` and in the excluded `vendor/` differ: one is reported, the
    // other not scanned; the re-export in `compat/` is allowed by the rule file's own glob.
    let rules_hit: Vec<(&str, u64)> = from_root.iter().map(|f| (f.0.as_str(), f.2)).collect();
    assert_eq!(rules_hit, vec![("no-legacy", 1), ("one-router", 1)], "{from_root:#?}");
    assert!(from_root.iter().all(|f| !f.1.starts_with(root.join("vendor"))));

    assert_eq!(findings(&root, &["."]), from_root, "`.` from the root");
    assert_eq!(findings(&root.join("src"), &[".."]), from_root, "`..` from src/");
    assert_eq!(
        findings(elsewhere.path(), &[root_text, "--rules", rules_text]),
        from_root,
        "an absolute path from elsewhere"
    );
    let parent = root.parent().expect("parent");
    let name = root.file_name().and_then(|n| n.to_str()).expect("name");
    assert_eq!(
        findings(parent, &[name, "--rules", &format!("{name}/ssot.toml")]),
        from_root,
        "a relative path from the parent"
    );
}
