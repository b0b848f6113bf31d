//! A real editor: Neovim (headless, its built-in LSP client) starts `ssot-check server` on a scratch
//! copy of the legacy scenario, receives the diagnostics of a file, applies the quick fix of its banned
//! import and sees that diagnostic cleared (tests/data/neovim_lsp.lua does the editor's part).
//!
//! Neovim is a Debian package `.ci/run` installs; where it is missing the test says so and passes,
//! unless `SSOT_CHECK_REQUIRE_NVIM` is set (as `.ci/run` sets it), when it fails.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;

#[test]
fn neovim_receives_diagnostics_and_applies_the_quick_fix() {
    let Ok(version) = Command::new("nvim").arg("--version").output() else {
        assert!(
            std::env::var_os("SSOT_CHECK_REQUIRE_NVIM").is_none(),
            "nvim is required (SSOT_CHECK_REQUIRE_NVIM) but not installed"
        );
        eprintln!("nvim is not installed: the Neovim test did not run");
        return;
    };
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("NVIM v"));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical").join("ws");
    common::copy_tree(&common::root().join("fixtures/legacy-gateway"), &root);
    common::copy_tree(&common::root().join("rules"), &root.join("rules"));
    let report = dir.path().join("report.jsonl");
    let script = common::root().join("tests/data/neovim_lsp.lua");
    let arguments = [
        env!("CARGO_BIN_EXE_ssot-check"),
        root.to_str().expect("UTF-8"),
        "src/agent_handler.rs",
        report.to_str().expect("UTF-8"),
    ]
    .join("\n");
    let ran = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script.display()))
        .current_dir(&root)
        .env("SSOT_NVIM_ARGS", arguments)
        .env("SSOT_CHECK_CACHE_DIR", dir.path().join("cache"))
        // Neovim's own files (its LSP log) stay in the scratch folder.
        .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
        .env("XDG_STATE_HOME", dir.path().join("xdg-state"))
        .output()
        .expect("runs nvim");
    assert!(ran.status.success(), "nvim: {}", String::from_utf8_lossy(&ran.stderr));
    let facts = read_report(&report);
    let of = |kind: &str| -> Vec<&Value> {
        facts
            .iter()
            .filter(|f| f["kind"] == kind)
            .map(|f| &f["value"])
            .collect()
    };
    assert!(of("error").is_empty(), "{facts:#?}");
    assert_eq!(of("received"), [&Value::Bool(true)], "{facts:#?}");
    let banned = of("diagnostic")
        .into_iter()
        .find(|d| d["code"] == "no-websocket-manager-factory-imports")
        .expect("the banned import's diagnostic");
    assert_eq!((banned["lnum"].as_u64(), banned["col"].as_u64()), (Some(3), Some(38)));
    assert_eq!(banned["source"], "ssot-check");
    assert!(of("diagnostic").iter().any(|d| d["code"] == "one-message-handler"));
    assert!(
        of("action")
            .iter()
            .any(|a| a.as_str().is_some_and(|t| t.starts_with("Suppress")))
    );
    assert_eq!(
        of("line 4"),
        [&Value::from("use crate::ws::manager::create_websocket_manager;")]
    );
    assert_eq!(of("cleared"), [&Value::Bool(true)], "{facts:#?}");
    let after = of("codes after");
    assert!(
        after[0]
            .as_array()
            .is_some_and(|codes| codes.iter().any(|c| c == "one-message-handler"))
    );
}

fn read_report(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("nvim wrote its report")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}
