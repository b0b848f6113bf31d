//! `ssot-check server` driven over JSON-RPC, as an editor drives it, on a scratch copy of the legacy
//! scenario with the shipped rules: diagnostics with related information, a quick fix applied and its
//! diagnostic cleared, a duplicate resolved in an unsaved buffer clearing another file, fix-all, a
//! suppression added and hovered, pull diagnostics, rule files reloaded with their mistakes shown, and
//! bad requests answered with errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

mod common;
#[path = "common/lsp_client.rs"]
mod lsp_client;

use lsp_client::{LspClient, apply_edits, uri};

const WAIT: Duration = Duration::from_secs(60);
const BANNED: &str = "no-websocket-manager-factory-imports";
const DUPLICATE: &str = "one-message-handler";

/// A scratch copy of the legacy gateway with the shipped rules in its `rules/`: (its root, the cache).
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    common::copy_tree(&common::root().join("fixtures/legacy-gateway"), &root.join("ws"));
    common::copy_tree(&common::root().join("rules"), &root.join("ws/rules"));
    (dir, root.join("ws"))
}

fn start(root: &Path, capabilities: Value) -> LspClient {
    let mut client = LspClient::start(
        Path::new(env!("CARGO_BIN_EXE_ssot-check")),
        root,
        &[],
        &root.join("../cache"),
    );
    let init = client
        .request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri(root),
                "workspaceFolders": [{ "uri": uri(root), "name": "ws" }],
                "capabilities": capabilities,
            }),
        )
        .expect("initializes");
    assert_eq!(init["serverInfo"]["name"], "ssot-check");
    client.notify("initialized", json!({}));
    client
}

fn open(client: &mut LspClient, path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("reads");
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri(path), "languageId": "rust", "version": 1, "text": text } }),
    );
    text
}

fn change(client: &mut LspClient, path: &Path, version: u32, text: &str) {
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri(path), "version": version }, "contentChanges": [{ "text": text }] }),
    );
}

fn has_code(diagnostics: &[Value], code: &str) -> bool {
    diagnostics.iter().any(|d| d["code"] == code)
}

fn with_code<'d>(diagnostics: &'d [Value], code: &str) -> &'d Value {
    diagnostics
        .iter()
        .find(|d| d["code"] == code)
        .expect("diagnostic with the code")
}

fn code_actions(client: &mut LspClient, path: &Path, diagnostic: &Value, only: &[&str]) -> Vec<Value> {
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": uri(path) },
                "range": diagnostic["range"],
                "context": { "diagnostics": [diagnostic], "only": only },
            }),
        )
        .expect("code actions");
    actions.as_array().cloned().unwrap_or_default()
}

fn titled<'a>(actions: &'a [Value], start: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["title"].as_str().is_some_and(|t| t.starts_with(start)))
        .unwrap_or_else(|| panic!("no action `{start}` in {actions:#?}"))
}

fn edits_for<'a>(action: &'a Value, path: &Path) -> &'a [Value] {
    action["edit"]["changes"][uri(path)]
        .as_array()
        .expect("edits for the file")
}

#[test]
fn diagnostics_fixes_and_suppressions_over_json_rpc() {
    let (_dir, root) = scratch();
    let mut client = start(
        &root,
        json!({ "textDocument": { "publishDiagnostics": { "relatedInformation": true } } }),
    );
    let handler = root.join("src/agent_handler.rs");
    let other = root.join("src/services/websocket/message_handler.rs");
    let mut text = open(&mut client, &handler);

    // Both findings of the file, the duplicate pointing at its other members, the canonical one named.
    let shown = client
        .diagnostics(&uri(&handler), WAIT, |d| has_code(d, BANNED) && has_code(d, DUPLICATE))
        .expect("the file's findings");
    let duplicate = with_code(&shown, DUPLICATE);
    let related = duplicate["relatedInformation"].as_array().expect("related information");
    assert!(
        related.iter().any(|r| r["location"]["uri"] == uri(&other)),
        "{related:#?}"
    );
    assert!(
        related
            .iter()
            .any(|r| r["message"].as_str().is_some_and(|m| m.contains("canonical"))
                && r["location"]["uri"] == uri(&root.join("src/ws/handler.rs"))),
        "{related:#?}"
    );
    assert_eq!(duplicate["source"], "ssot-check");
    assert!(
        duplicate["codeDescription"]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with("rules/handlers.toml"))
    );
    assert_eq!(
        shown.iter().find(|d| d["code"] == BANNED).expect("banned")["range"]["start"],
        json!({ "line": 3, "character": 38 })
    );

    // The quick fix of the banned import, applied as an editor applies it, clears its diagnostic.
    let banned = with_code(&shown, BANNED).clone();
    let actions = code_actions(&mut client, &handler, &banned, &["quickfix"]);
    let fix = titled(
        &actions,
        "Import from `crate::ws::manager::create_websocket_manager` instead",
    );
    assert_eq!(fix["isPreferred"], true);
    assert_eq!(fix["diagnostics"][0]["code"], BANNED);
    text = apply_edits(&text, edits_for(fix, &handler));
    assert!(
        text.contains("use crate::ws::manager::create_websocket_manager;\n"),
        "{text}"
    );
    change(&mut client, &handler, 2, &text);
    client
        .diagnostics(&uri(&handler), WAIT, |d| !has_code(d, BANNED) && has_code(d, DUPLICATE))
        .expect("the banned import cleared, unsaved");
    assert!(
        std::fs::read_to_string(&handler)
            .expect("reads")
            .contains("websocket_manager_factory::")
    );

    // Renaming the handler in the unsaved buffer takes it out of the duplicate: the diagnostics of
    // another file, never opened, lose it too.
    let before = client
        .diagnostics(&uri(&other), Duration::ZERO, |_| true)
        .unwrap_or_default();
    let renamed = text.replace("AgentMessageHandler", "AgentRunner");
    change(&mut client, &handler, 3, &renamed);
    client
        .diagnostics(&uri(&handler), WAIT, |d| !has_code(d, DUPLICATE))
        .expect("the handler's duplicate cleared");
    let after = client
        .diagnostics(&uri(&other), WAIT, |d| {
            has_code(d, DUPLICATE)
                && !with_code(d, DUPLICATE)["relatedInformation"]
                    .to_string()
                    .contains("agent_handler.rs")
        })
        .expect("the other member's diagnostic no longer points at the renamed one");
    assert_ne!(before, after);

    // Back to the duplicate; suppress it with a reason to fill in, and hover the rule it names.
    change(&mut client, &handler, 4, &text);
    let shown = client
        .diagnostics(&uri(&handler), WAIT, |d| has_code(d, DUPLICATE))
        .expect("the duplicate again");
    let duplicate = with_code(&shown, DUPLICATE).clone();
    let actions = code_actions(&mut client, &handler, &duplicate, &["quickfix"]);
    let suppress = titled(&actions, &format!("Suppress `{DUPLICATE}` here"));
    text = apply_edits(&text, edits_for(suppress, &handler));
    let comment =
        format!("// ssot-check: allow({DUPLICATE}) reason: <why this is accepted>\npub struct AgentMessageHandler;");
    assert!(text.contains(&comment), "{text}");
    let canonical = titled(&actions, "Go to the canonical definition");
    assert_eq!(canonical["command"], "ssot-check.showCanonical");
    assert_eq!(canonical["arguments"][0], uri(&root.join("src/ws/handler.rs")));
    change(&mut client, &handler, 5, &text);
    client
        .diagnostics(&uri(&handler), WAIT, |d| !has_code(d, DUPLICATE))
        .expect("the suppressed duplicate is not shown");
    let line = text.lines().position(|l| l.contains("allow(")).expect("the comment");
    let character = text.lines().nth(line).expect("line").find("one-message").expect("id") + 4;
    let hover = client
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri(&handler) }, "position": { "line": line, "character": character } }),
        )
        .expect("hover");
    let shown = hover["contents"]["value"].as_str().expect("markdown");
    assert!(
        shown.starts_with(&format!("**{DUPLICATE}** (single-definition, error)")),
        "{shown}"
    );

    // Fix-all in another file: the import leaf taken out of its group, the rename kept.
    let group_text = open(&mut client, &other);
    let shown = client
        .diagnostics(&uri(&other), WAIT, |d| has_code(d, BANNED))
        .expect("the group import's finding");
    let any = with_code(&shown, BANNED).clone();
    let actions = code_actions(&mut client, &other, &any, &["source.fixAll"]);
    let all = titled(&actions, "Apply every safe ssot-check fix");
    assert_eq!(all["kind"], "source.fixAll.ssot-check");
    let fixed = apply_edits(&group_text, edits_for(all, &other));
    assert!(
        fixed.contains("use crate::ws::manager::create_websocket_manager as make_manager;"),
        "{fixed}"
    );

    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn rule_files_are_reloaded_and_their_mistakes_shown_on_them() {
    let (_dir, root) = scratch();
    let mut client = start(&root, json!({}));
    let handler = root.join("src/agent_handler.rs");
    open(&mut client, &handler);
    client
        .diagnostics(&uri(&handler), WAIT, |d| has_code(d, DUPLICATE))
        .expect("findings");
    // A mistake in a rule file: shown on it; the rules loaded before stay in use.
    let broken = root.join("rules/extra.toml");
    std::fs::write(
        &broken,
        "[[rule]]\nid = \"x\"\nkind = \"single-definitoin\"\nmessage = \"m\"\n",
    )
    .expect("writes");
    let shown = client
        .diagnostics(&uri(&broken), WAIT, |d| !d.is_empty())
        .expect("the mistake on the rule file");
    assert_eq!(shown[0]["range"]["start"]["line"], 2, "{shown:#?}");
    assert!(
        shown[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("single-definitoin")),
        "{shown:#?}"
    );
    // Corrected into a rule that removes a finding's rule... by adding one: a new rule's findings show.
    std::fs::write(
        &broken,
        "[[rule]]\nid = \"no-agent-handler\"\nkind = \"removed-module\"\nmessage = \"m\"\nmodules = [\"**::agent_handler\"]\n",
    )
    .expect("writes");
    client
        .diagnostics(&uri(&broken), WAIT, |d| d.is_empty())
        .expect("the mistake cleared");
    client
        .diagnostics(&uri(&root.join("src/lib.rs")), WAIT, |d| {
            has_code(d, "no-agent-handler")
        })
        .expect("the new rule's finding");
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn pull_diagnostics_are_answered_and_refreshed() {
    let (_dir, root) = scratch();
    let capabilities = json!({
        "textDocument": { "diagnostic": { "dynamicRegistration": false } },
        "workspace": { "diagnostics": { "refreshSupport": true } },
    });
    let mut client = start(&root, capabilities);
    let handler = root.join("src/agent_handler.rs");
    let text = open(&mut client, &handler);
    let pull = |client: &mut LspClient, previous: Value| {
        client
            .request(
                "textDocument/diagnostic",
                json!({ "textDocument": { "uri": uri(&handler) }, "previousResultId": previous }),
            )
            .expect("a report")
    };
    let report = pull(&mut client, Value::Null);
    assert_eq!(report["kind"], "full");
    assert!(
        has_code(report["items"].as_array().expect("items"), DUPLICATE),
        "{report:#}"
    );
    let unchanged = pull(&mut client, report["resultId"].clone());
    assert_eq!(unchanged["kind"], "unchanged");
    change(
        &mut client,
        &handler,
        2,
        &text.replace("AgentMessageHandler", "AgentRunner"),
    );
    let report = pull(&mut client, report["resultId"].clone());
    assert_eq!(report["kind"], "full");
    assert!(
        !has_code(report["items"].as_array().expect("items"), DUPLICATE),
        "{report:#}"
    );
    assert!(
        client
            .server_requests
            .iter()
            .any(|r| r["method"] == "workspace/diagnostic/refresh")
    );
    // The whole workspace: every file with findings, once.
    let all = client
        .request("workspace/diagnostic", json!({ "previousResultIds": [] }))
        .expect("a workspace report");
    let files: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["uri"].as_str())
        .collect();
    assert!(
        files.contains(&uri(&root.join("src/handlers.rs")).as_str()),
        "{files:#?}"
    );
    assert!(
        !client
            .server_requests
            .iter()
            .any(|r| r["method"] == "textDocument/publishDiagnostics")
    );
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn bad_requests_get_errors_and_the_server_goes_on() {
    let (_dir, root) = scratch();
    let mut client = start(&root, json!({}));
    let error = client
        .request("textDocument/hover", json!({ "textDocument": 7 }))
        .expect_err("bad params");
    assert_eq!(error["code"], -32602);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("textDocument/hover")),
        "{error}"
    );
    let error = client
        .request("textDocument/definition", json!({}))
        .expect_err("not handled");
    assert_eq!(error["code"], -32601);
    let error = client
        .request(
            "workspace/executeCommand",
            json!({ "command": "ssot-check.showCanonical", "arguments": [] }),
        )
        .expect_err("no arguments");
    assert_eq!(error["code"], -32602);
    let hover = client
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri(&root.join("src/lib.rs")) }, "position": { "line": 0, "character": 0 } }),
        )
        .expect("still answering");
    assert_eq!(hover, Value::Null);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn files_changed_on_disk_outside_the_editor_are_checked_again() {
    let (_dir, root) = scratch();
    let mut client = start(&root, json!({}));
    let events = root.join("src/events.rs");
    let text = std::fs::read_to_string(&events).expect("reads");
    client
        .diagnostics(&uri(&root.join("src/agent_handler.rs")), WAIT, |d| {
            has_code(d, DUPLICATE)
        })
        .expect("the first check");
    // Written by another program (a checkout, a formatter): the watcher reports it.
    std::fs::write(&events, format!("{text}pub struct ThirdMessageHandler;\n")).expect("writes");
    client
        .diagnostics(&uri(&events), WAIT, |d| has_code(d, DUPLICATE))
        .expect("the new duplicate, never opened in the editor");
    // Once settled, a file's stamp is remembered; a later write is still seen through the watcher.
    std::thread::sleep(Duration::from_millis(2500));
    open(&mut client, &root.join("src/lib.rs"));
    client
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri(&events) }, "position": { "line": 0, "character": 0 } }),
        )
        .expect("answered after the check the open asked for");
    let renamed = format!("{text}pub struct ThirdRunner;\n");
    std::fs::write(&events, &renamed).expect("writes");
    client
        .diagnostics(&uri(&events), WAIT, |d| !has_code(d, DUPLICATE))
        .expect("the duplicate gone again");
    assert_eq!(client.shutdown(), Some(0));
}
