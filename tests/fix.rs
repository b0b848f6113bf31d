//! `--fix` and `--diff` on a scratch copy of the legacy scenario, built by cargo before and after: the
//! imports of the deprecated factory's `create_websocket_manager` are rewritten to `ws::manager` (the
//! group's rename kept), the crate still builds, and a re-run no longer reports them.

use std::path::Path;
use std::process::Command;

mod common;

/// Copies the legacy gateway with the dependency it needs to build.
fn scratch_copy(dir: &Path) {
    common::copy_tree(&common::root().join("fixtures/legacy-gateway"), dir);
    let manifest = dir.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).expect("manifest");
    text.push_str("\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n\n[workspace]\n");
    std::fs::write(&manifest, text).expect("writes");
}

/// `cargo build` of the copy, offline (serde is in the local registry: the workspace depends on it).
fn builds(dir: &Path) -> Result<(), String> {
    let built = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("runs cargo");
    match built.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&built.stderr).into_owned()),
    }
}

/// ssot-check in `dir` with the shipped rules: (exit status, stdout).
fn ssot_check(dir: &Path, args: &[&str]) -> (i32, String) {
    let rules = common::root().join("rules");
    let ran = Command::new(env!("CARGO_BIN_EXE_ssot-check"))
        .args(["src", "--rules", rules.to_str().expect("UTF-8"), "--color", "never"])
        .args(args)
        .current_dir(dir)
        .env("SSOT_CHECK_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("runs ssot-check");
    (
        ran.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&ran.stdout).into_owned(),
    )
}

/// The places of the findings about importing `create_websocket_manager` from the deprecated factory.
fn factory_imports(dir: &Path) -> Vec<String> {
    let (_, json) = ssot_check(dir, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "no-websocket-manager-factory-imports")
        .filter(|f| {
            f["symbol"]
                .as_str()
                .is_some_and(|s| s.contains("::create_websocket_manager"))
        })
        .map(|f| format!("{}:{}", f["path"].as_str().unwrap_or_default(), f["line"]))
        .collect()
}

#[test]
fn fix_rewrites_the_deprecated_factory_imports_and_the_crate_still_builds() {
    let dir = tempfile::tempdir().expect("tempdir");
    scratch_copy(dir.path());
    builds(dir.path()).expect("the scratch copy builds before the fix");
    assert_eq!(
        factory_imports(dir.path()),
        ["src/agent_handler.rs:4", "src/services/websocket/message_handler.rs:6"]
    );
    let handler = dir.path().join("src/services/websocket/message_handler.rs");
    let before = std::fs::read_to_string(&handler).expect("readable");

    // --diff prints the change and writes nothing.
    let (status, diff) = ssot_check(dir.path(), &["--diff"]);
    assert_eq!(status, 1, "other findings remain: {diff}");
    assert!(
        diff.contains("+use crate::ws::manager::create_websocket_manager as make_manager;"),
        "{diff}"
    );
    assert!(
        diff.contains("+use crate::ws::manager::create_websocket_manager;"),
        "{diff}"
    );
    // The module imported whole, used only for the item: the qualified call names the replacement.
    assert!(
        diff.contains("-use crate::websocket_manager_factory;\n+use crate::ws::manager::create_websocket_manager;"),
        "{diff}"
    );
    assert!(
        diff.contains("+    let manager = create_websocket_manager(user_id);"),
        "{diff}"
    );
    assert!(
        diff.contains("Would fix 3 finding(s) in 3 file(s); nothing written."),
        "{diff}"
    );
    // Which duplicate to keep is shown, never applied.
    assert!(
        diff.contains(
            "src/agent_handler.rs:6: keep src/ws/handler.rs:3 (struct `legacy_gateway::ws::handler::UserMessageHandler`)"
        ),
        "{diff}"
    );
    assert_eq!(std::fs::read_to_string(&handler).expect("readable"), before);

    // --fix writes the same change, reports what is left, and the crate still builds.
    let (status, report) = ssot_check(dir.path(), &["--fix"]);
    assert_eq!(status, 1, "{report}");
    assert!(report.contains("Fixed 3 finding(s) in 3 file(s)."), "{report}");
    let after = std::fs::read_to_string(&handler).expect("readable");
    assert!(after.contains("use crate::websocket_manager_factory::{WebSocketManagerFactory};\nuse crate::ws::manager::create_websocket_manager as make_manager;\n"), "{after}");
    builds(dir.path()).expect("the scratch copy still builds after the fix");
    assert!(factory_imports(dir.path()).is_empty());
    let handlers = std::fs::read_to_string(dir.path().join("src/handlers.rs")).expect("readable");
    assert!(!handlers.contains("websocket_manager_factory"), "{handlers}");
    // Nothing more to fix safely: a second run changes nothing, and says the unsafe fix was left.
    let (_, again) = ssot_check(dir.path(), &["--fix"]);
    assert!(again.contains("Fixed 0 finding(s) in 0 file(s)."), "{again}");
    assert!(
        again.contains("src/lib.rs:11: unsafe (it breaks what still uses the module): --unsafe-fixes applies it"),
        "{again}"
    );
    // The unsafe fix deletes the removed module's declaration; shown here, not applied.
    let (_, unsafe_diff) = ssot_check(dir.path(), &["--diff", "--unsafe-fixes"]);
    assert!(
        unsafe_diff.contains("\n-pub mod websocket_manager_factory;\n"),
        "{unsafe_diff}"
    );
    assert!(
        unsafe_diff.contains("Would fix 1 finding(s) in 1 file(s); nothing written."),
        "{unsafe_diff}"
    );
}
