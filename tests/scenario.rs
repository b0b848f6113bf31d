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

/// Copies `gateway/` (manifest and sources) into a temporary folder, applies `edit` to one of its files,
/// and checks the copy with the shipped rules.
fn check_edited_gateway(file: &str, addition: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("gateway");
    common::copy_tree(&common::root().join("gateway"), &copy);
    let target = copy.join(file);
    let mut text = std::fs::read_to_string(&target).expect("readable");
    text.push_str(addition);
    std::fs::write(&target, text).expect("writable");
    let rules = common::root().join("rules");
    let (code, json) = common::run_in(
        dir.path(),
        &["gateway", "--rules", rules.to_str().expect("UTF-8"), "--format", "json"],
    );
    assert_eq!(code, 1, "adding {addition:?} to {file} must fail the gate:\n{json}");
    serde_json::from_str(&json).expect("JSON")
}

#[test]
fn the_gateway_passes_and_a_second_of_anything_fails_the_gate() {
    let (code, human) = common::run(&["gateway", "--color", "never"]);
    assert_eq!(code, 0, "{human}");
    let cases: [(&str, &str, &[&str]); 9] = [
        (
            "src/engine.rs",
            "\npub struct MessageRouter;\n",
            &["one-message-router"],
        ),
        (
            "src/agent/supervisor.rs",
            "\npub struct LegacyMessageHandler;\n",
            &["one-message-handler"],
        ),
        (
            "src/store/mod.rs",
            "\npub struct WebSocketNotifier;\n",
            &["one-notifier"],
        ),
        (
            "src/context.rs",
            "\npub struct AgentExecutionContextFactory;\n",
            &["one-execution-context-factory"],
        ),
        (
            "src/ws/handler.rs",
            "\npub struct ExecutionEngine;\n",
            &["one-execution-engine"],
        ),
        (
            "src/ws/connection.rs",
            "\npub struct ReplayStore;\n",
            &["one-event-store"],
        ),
        (
            "src/engine.rs",
            "\npub fn authenticate_again(token: &str) -> bool { token.is_empty() }\n",
            &["one-auth-path"],
        ),
        (
            "src/ws/handler.rs",
            "\nfn sneaky(m: crate::ws::router::ClientMessage) { if let crate::ws::router::ClientMessage::Ping = m {} }\n",
            // The handler naming the router, which imports the handler, is an import cycle too.
            &["no-import-cycles", "client-messages-dispatched-once"],
        ),
        (
            "src/metrics.rs",
            "\nstatic SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());\n",
            &["no-global-user-state"],
        ),
    ];
    for (file, addition, rules) in cases {
        let report = check_edited_gateway(file, addition);
        assert_eq!(common::rule_ids(&report), rules, "{file}: {addition}");
    }
}
