//! The GitHub Action's check step (`action/check.sh`), run as the Action runs it: SARIF written,
//! annotations printed, the human report in the step summary, the exit status in the step outputs.

use std::path::Path;
use std::process::Command;

mod common;

/// Runs the step on `paths` with GitHub's files in a temporary folder: (status, stdout, outputs,
/// summary, SARIF).
fn run_step(paths: &str, dir: &Path) -> (i32, String, String, String, String) {
    let (outputs, summary, sarif) = (dir.join("outputs"), dir.join("summary.md"), dir.join("report.sarif"));
    let ran = Command::new("bash")
        .arg(common::root().join("action/check.sh"))
        .current_dir(common::root())
        .env("SSOT_CHECK", env!("CARGO_BIN_EXE_ssot-check"))
        .env("SSOT_CHECK_CACHE_DIR", dir.join("cache"))
        .env("INPUT_PATHS", paths)
        .env("INPUT_SARIF", &sarif)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("runs bash");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    (
        ran.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&ran.stdout).into_owned(),
        read(&outputs),
        read(&summary),
        read(&sarif),
    )
}

#[test]
fn the_action_step_reports_the_legacy_scenario_everywhere_github_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, stdout, outputs, summary, sarif) = run_step("fixtures/legacy-gateway", dir.path());
    assert_eq!(status, 1, "{stdout}");
    assert_eq!(outputs.trim(), "exit-code=1");
    assert!(stdout.contains("::error file=fixtures/legacy-gateway/"), "{stdout}");
    assert!(summary.starts_with("## ssot-check"), "{summary}");
    assert!(summary.contains("one-message-handler"), "{summary}");
    let report: serde_json::Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    assert_eq!(report["version"], "2.1.0");
    assert!(!report["runs"][0]["results"].as_array().expect("results").is_empty());
}

#[test]
fn the_action_step_passes_a_clean_tree_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, stdout, outputs, summary, _) = run_step("gateway", dir.path());
    assert_eq!(status, 0, "{stdout}");
    assert_eq!(outputs.trim(), "exit-code=0");
    assert!(summary.contains("No findings"), "{summary}");
}
