//! One build checked exactly (`--target`, `--features`, `--all-features`, `--no-default-features`):
//! what its `cfg`s leave out is not counted; without them, definitions count together when any
//! configuration compiles them both.

mod common;

const TWINS: &str = "fixtures/single-definition/cfg-twins";
const RULES: &str = "fixtures/single-definition/cfg-twins/rules.toml";

/// The messages of the duplicate findings for a build.
fn duplicates(build: &[&str]) -> Vec<String> {
    let mut args = vec![TWINS, "--rules", RULES, "--format", "json"];
    args.extend_from_slice(build);
    let (code, text) = common::run(&args);
    assert!(code <= 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn any_configuration_by_default_and_exactly_one_when_asked() {
    let any = duplicates(&[]);
    assert!(
        any.iter()
            .any(|m| m.starts_with("`Runtime`") && m.contains("compiled together for")),
        "{any:?}"
    );
    // Linux without `rt`: the feature-gated Runtime is not compiled.
    let linux = duplicates(&["--target", "x86_64-unknown-linux-gnu"]);
    assert!(linux.iter().all(|m| !m.starts_with("`Runtime`")), "{linux:?}");
    // With `rt` both are, and the message needs no configuration: there is one.
    let rt = duplicates(&["--target", "x86_64-unknown-linux-gnu", "--features", "rt"]);
    assert!(
        rt.contains(&"`Runtime` is defined 2 times; at most 1 allowed".to_owned()),
        "{rt:?}"
    );
    // On Windows the second Runtime (unix only) is not compiled, whatever the features.
    let windows = duplicates(&["--target", "x86_64-pc-windows-msvc", "--all-features"]);
    assert!(windows.iter().all(|m| !m.starts_with("`Runtime`")), "{windows:?}");
    // The plain duplicate is one in every build.
    for found in [any, linux, rt, windows] {
        assert!(found.iter().any(|m| m.starts_with("`Handle`")), "{found:?}");
    }
}

#[test]
fn an_unknown_target_is_an_error_that_says_what_to_use() {
    let (code, text) = common::run(&[TWINS, "--rules", RULES, "--target", "x86_64-unknown-nowhere"]);
    assert_eq!(code, 2);
    assert!(
        text.contains("unknown target `x86_64-unknown-nowhere`") && text.contains("rustc --print target-list"),
        "{text}"
    );
    let (code, text) = common::run(&[TWINS, "--rules", RULES, "--features", "rt"]);
    assert_eq!(code, 2, "features need a target: {text}");
}

#[test]
fn a_check_table_in_the_rules_is_the_same_build_and_the_command_line_takes_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = std::fs::read_to_string(RULES).expect("rules");
    let with_check = dir.path().join("rules.toml");
    let check = "[check]\ntarget = \"x86_64-unknown-linux-gnu\"\nfeatures = [\"rt\"]\n";
    std::fs::write(&with_check, format!("{check}{rules}")).expect("write");
    let with_check = with_check.to_str().expect("utf-8 path");
    let messages = |extra: &[&str]| {
        let mut args = vec![TWINS, "--rules", with_check, "--format", "json"];
        args.extend_from_slice(extra);
        let (_, text) = common::run(&args);
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let mut found: Vec<String> = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        found.sort();
        found
    };
    let mut flags = duplicates(&["--target", "x86_64-unknown-linux-gnu", "--features", "rt"]);
    flags.sort();
    assert_eq!(messages(&[]), flags);
    let mut windows = duplicates(&["--target", "x86_64-pc-windows-msvc"]);
    windows.sort();
    assert_eq!(messages(&["--target", "x86_64-pc-windows-msvc"]), windows);
}
