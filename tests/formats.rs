//! Every output format on the legacy scenario, pinned by a reviewed snapshot; SARIF is also validated
//! against the SARIF 2.1.0 JSON schema.

mod common;

use serde_json::Value;

fn report(format: &str) -> String {
    let (code, text) = common::run(&["fixtures/legacy-gateway", "--format", format, "--color", "never"]);
    assert_eq!(code, 1, "{format}");
    text
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_fingerprints_and_related_locations() {
    let text = report("sarif");
    let sarif: Value = serde_json::from_str(&text).expect("JSON");
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema violations:\n{}", errors.join("\n"));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(
        results
            .iter()
            .all(|r| r["partialFingerprints"]["ssotCheck/v1"].is_string())
    );
    let router = results
        .iter()
        .find(|r| r["ruleId"] == "one-message-router")
        .expect("router result");
    assert_eq!(
        router["relatedLocations"].as_array().map(Vec::len),
        Some(3),
        "every other definition"
    );
    insta::assert_snapshot!("legacy_gateway_sarif", text);
}

#[test]
fn github_annotations_are_pinned() {
    let text = report("github");
    assert!(
        text.lines()
            .all(|l| l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice ")),
        "{text}"
    );
    insta::assert_snapshot!("legacy_gateway_github", text);
}

#[test]
fn junit_has_one_test_case_per_rule() {
    let text = report("junit");
    assert_eq!(text.matches("<testcase ").count(), 24, "{text}");
    assert_eq!(text.matches("<failure ").count(), 9, "{text}");
    // The architecture contracts of this repository name no module of the legacy fixture, and the
    // Python rules have no Python file to read in it.
    assert_eq!(text.matches("<skipped ").count(), 11, "{text}");
    insta::assert_snapshot!("legacy_gateway_junit", text);
}

#[test]
fn output_writes_the_report_to_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.sarif");
    let (code, printed) = common::run(&[
        "fixtures/legacy-gateway",
        "--format",
        "sarif",
        "--output",
        file.to_str().expect("UTF-8"),
    ]);
    assert_eq!(code, 1);
    assert!(printed.is_empty(), "nothing on stdout: {printed}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    assert_eq!(written["version"], "2.1.0");
    let (code, error) = common::run(&["fixtures/legacy-gateway", "--output", "/nonexistent/dir/report.txt"]);
    assert_eq!(code, 2);
    assert!(error.contains("cannot write"), "{error}");
}

#[test]
fn the_summary_carries_the_compliance_figure() {
    let human = report("human");
    assert!(
        human.ends_with(
            "SSOT compliance: 4/13 rules (30.8%); 11 rules not applicable (their modules or their language are not in the files checked)\n"
        ),
        "{human}"
    );
    let json: Value = serde_json::from_str(&report("json")).expect("JSON");
    assert_eq!(json["summary"]["compliance"]["compliant_rules"], 4);
    assert_eq!(json["summary"]["compliance"]["rules"], 13);
    assert_eq!(json["summary"]["compliance"]["percent"], 30.8);
    assert_eq!(json["summary"]["compliance"]["not_applicable"], 11);
}
