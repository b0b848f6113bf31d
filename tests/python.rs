//! The Python frontend on the scenario's own language: the shipped rules fail the Python rendition of
//! the legacy gateway with the scenario's duplicates, pass the remediated tree, and read a repository
//! of both languages in one run.

mod common;

#[test]
fn the_python_legacy_gateway_fails_with_every_violation_of_the_scenario() {
    let (code, human) = common::run(&["fixtures/legacy-gateway-py", "--color", "never"]);
    assert_eq!(code, 1, "{human}");
    insta::assert_snapshot!("python_legacy_gateway_human", human);
}

#[test]
fn each_violation_is_found_and_nothing_else() {
    let (_, json) = common::run(&["fixtures/legacy-gateway-py", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let findings = report["findings"].as_array().expect("findings");
    let messages: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["rule"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let has = |rule: &str, text: &str| {
        messages
            .iter()
            .any(|m| m.starts_with(&format!("{rule}: ")) && m.contains(text))
    };
    // Three routers: not the re-export, the alias, the nested test double or MessageRouterConfig.
    assert!(
        has("one-python-message-router", "`MessageRouter` is defined 3 times"),
        "{messages:#?}"
    );
    // Conditional twins (if/else) are one notifier; the TYPE_CHECKING handler is not a run-time one.
    assert!(
        has(
            "one-notifier",
            "2 definitions match (AgentEventEmitter, WebSocketNotifier)"
        ),
        "{messages:#?}"
    );
    assert!(
        has("one-python-message-handler", "3 definitions match"),
        "{messages:#?}"
    );
    // Every form of import of the banned module, and never the comment or the string naming it.
    let banned: Vec<&String> = messages
        .iter()
        .filter(|m| m.starts_with("no-python-websocket-manager-factory-imports"))
        .collect();
    assert_eq!(banned.len(), 3, "{banned:#?}");
    assert!(has(
        "python-websocket-manager-factory-removed",
        "netra_backend.app.websocket_manager_factory"
    ));
    // Registration in a list and `in`/`==`/`is` comparisons are dispatch, as `case` patterns are.
    assert!(has(
        "python-message-types-dispatched-once",
        "`MessageType.START_AGENT` is handled in 3 places"
    ));
    assert!(has(
        "python-message-types-dispatched-once",
        "`MessageType.USER_MESSAGE` is handled in 2 places"
    ));
    assert!(
        !messages.iter().any(|m| m.contains("MessageType.RESUME")),
        "handled by the router only"
    );
    assert!(has("no-global-user-state", "`USER_REGISTRY` is a dict"));
    assert!(has("no-global-user-state", "`PENDING` is a defaultdict"));
    assert!(has("no-global-user-state", "`_factory` is rebound through `global`"));
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("MAX_SESSIONS") || m.contains("SUPPORTED")),
        "constants are not state"
    );
    // Rust rules written with `::` paths do not apply to Python files.
    assert!(
        !messages
            .iter()
            .any(|m| m.starts_with("websocket-manager-factory-removed")),
        "{messages:#?}"
    );
    assert_eq!(findings.len(), 16, "{messages:#?}");
}

#[test]
fn the_remediated_python_backend_passes() {
    let (code, human) = common::run(&["fixtures/python-remediated", "--color", "never"]);
    assert_eq!(code, 0, "{human}");
    assert!(human.starts_with("No findings"), "{human}");
}

#[test]
fn a_python_file_that_does_not_parse_fails_closed() {
    let dir = common::workspace(&[
        ("pyproject.toml", "[project]\nname = 'app'\n"),
        ("app/__init__.py", ""),
        ("app/broken.py", "x = 1\nclass = 2\ny = 3\n"),
    ]);
    let path = dir.path().to_string_lossy().into_owned();
    let (code, json) = common::run(&[&path, "--format", "json"]);
    assert_eq!(code, 1, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "parse-error");
    assert_eq!(finding["line"], 2, "{finding}");
}
