//! The remediation scenario: the shipped rule pack fails the legacy gateway with the duplicates the
//! scenario describes, and passes the repository itself (the dogfood gate CI runs).

mod common;

#[test]
fn the_legacy_gateway_fails_with_every_violation_of_the_scenario() {
    let (code, human) = common::run(&["fixtures/legacy-gateway", "--color", "never"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("legacy_gateway_human", human);
}

#[test]
fn the_legacy_gateway_json_report_is_pinned() {
    let (code, json) = common::run(&["fixtures/legacy-gateway", "--format", "json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(report["schema_version"], 1);
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().expect("rule"))
        .collect();
    for expected in [
        "one-message-handler",
        "one-message-router",
        "one-notifier",
        "one-websocket-manager-constructor",
        "client-messages-dispatched-once",
        "websocket-manager-factory-removed",
        "no-websocket-manager-factory-imports",
        "no-global-user-state",
    ] {
        assert!(rules.contains(&expected), "no finding of {expected}");
    }
    insta::assert_snapshot!("legacy_gateway_json", json);
}

#[test]
fn the_router_count_is_real_definitions_only() {
    // Four MessageRouter definitions: not the re-export, the alias, the test doubles, or MessageRouterConfig.
    let (_, json) = common::run(&["fixtures/legacy-gateway", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let router = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "one-message-router")
        .expect("a router finding");
    assert_eq!(
        router["message"],
        "`MessageRouter` is defined 4 times; at most 1 allowed"
    );
    assert_eq!(router["related"].as_array().expect("related").len(), 3);
}

#[test]
fn the_repository_itself_passes_its_own_rules() {
    let (code, human) = common::run(&["--color", "never"]);
    assert_eq!(code, 0, "{human}");
    assert!(human.starts_with("No findings"), "{human}");
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let (_, one) = common::run(&["fixtures", "--format", "json", "--threads", "1"]);
    let (_, many) = common::run(&["fixtures", "--format", "json", "--threads", "7"]);
    assert_eq!(one, many);
}
