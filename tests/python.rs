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

#[test]
fn the_python_caches_change_no_finding() {
    // Cold (empty cache), warm (tree unchanged: the kept facts), and after an edit (the reads of the
    // other files reused) must each report what a run without any cache reports.
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    common::copy_tree(&common::root().join("fixtures/legacy-gateway-py"), &tree);
    let cache = dir.path().join("cache");
    let tree_arg = tree.to_string_lossy().into_owned();
    let rules = common::root().join("rules").to_string_lossy().into_owned();
    let cached = || {
        common::run(&[
            &tree_arg,
            "--rules",
            &rules,
            "--format",
            "json",
            "--cache-dir",
            cache.to_str().expect("UTF-8"),
        ])
        .1
    };
    let uncached = || common::run(&[&tree_arg, "--rules", &rules, "--format", "json", "--no-cache"]).1;
    // Files written this very moment have no stamp yet; age them so the caches are used.
    let age = |path: &std::path::Path| {
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let file = std::fs::File::options().write(true).open(path).expect("opens");
        file.set_modified(old).expect("sets the time");
    };
    let sources: Vec<std::path::PathBuf> = walk(&tree);
    sources.iter().for_each(|p| age(p));
    let truth = uncached();
    assert_eq!(cached(), truth, "cold");
    assert_eq!(cached(), truth, "warm");
    let blobs: Vec<String> = walk_all(&cache)
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    assert!(
        blobs.iter().any(|b| b.starts_with("python-") && b.ends_with(".reads")),
        "{blobs:?}"
    );
    assert!(
        blobs.iter().any(|b| b.starts_with("python-") && b.ends_with(".facts")),
        "{blobs:?}"
    );
    let edited = tree.join("netra_backend/app/auth.py");
    let mut text = std::fs::read_to_string(&edited).expect("readable");
    text.push_str("\n\nclass MessageRouter:\n    pass\n");
    std::fs::write(&edited, text).expect("writes");
    age(&edited);
    let truth = uncached();
    assert!(truth.contains("`MessageRouter` is defined 4 times"), "{truth}");
    assert_eq!(cached(), truth, "after an edit");
    assert_eq!(cached(), truth, "warm again");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk_all(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect()
}

fn walk_all(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk_all(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_banned_module_is_found_in_every_form_it_is_imported_or_named() {
    let rules = "[[rule]]\nid = \"no-legacy\"\nkind = \"banned-import\"\nmessage = \"m\"\npaths = [\"pkg.legacy\"]\n";
    let dir = common::workspace(&[
        ("pyproject.toml", "[project]\nname = 'pkg'\n"),
        ("rules.toml", rules),
        ("pkg/__init__.py", ""),
        ("pkg/legacy.py", "def make(): ...\n"),
        ("pkg/api.py", "from pkg.legacy import make\n"),
        ("pkg/a_plain.py", "import pkg.legacy\n"),
        ("pkg/b_as.py", "import pkg.legacy as old\n"),
        ("pkg/c_from.py", "from pkg import legacy\n"),
        ("pkg/d_name.py", "from pkg.legacy import make as build\n"),
        ("pkg/e_star.py", "from pkg.legacy import *\n"),
        ("pkg/f_relative.py", "from . import legacy\n"),
        ("pkg/g_relative_name.py", "from .legacy import make\n"),
        (
            "pkg/h_attribute.py",
            "import pkg\n\ndef f():\n    return pkg.legacy.make()\n",
        ),
        ("pkg/i_reexport.py", "from pkg.api import make\n"),
        (
            "pkg/j_clean.py",
            "# from pkg.legacy import make\nNOTE = 'pkg.legacy is deprecated'\nimport pkg.legacy_two\n",
        ),
    ]);
    let path = dir.path().to_string_lossy().into_owned();
    let rules = dir.path().join("rules.toml").to_string_lossy().into_owned();
    let (code, json) = common::run(&[&path, "--rules", &rules, "--format", "json"]);
    assert_eq!(code, 1, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let mut files: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap_or_default();
            path.rsplit('/').next().unwrap_or(path).to_owned()
        })
        .collect();
    files.sort();
    files.dedup();
    assert_eq!(
        files,
        [
            "a_plain.py",
            "api.py",
            "b_as.py",
            "c_from.py",
            "d_name.py",
            "e_star.py",
            "f_relative.py",
            "g_relative_name.py",
            "h_attribute.py",
            "i_reexport.py",
        ],
        "{json}"
    );
}

#[test]
fn mangled_python_never_breaks_the_frontend() {
    // Deterministic mutations of the fixture's files (bytes cut, repeated, swapped): each file either
    // parses or is a parse error; none is an internal error, and the run never fails.
    let originals: Vec<(String, Vec<u8>)> = walk(&common::root().join("fixtures/legacy-gateway-py"))
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect();
    let mut draw = common::Draw(0x5eed_0f17);
    for round in 0..40 {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = 'x'\n").expect("writes");
        std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
        for (i, (name, bytes)) in originals.iter().enumerate() {
            let mut bytes = bytes.clone();
            for _ in 0..1 + draw.below(4) {
                let at = draw.below(bytes.len() + 1);
                let end = (at + draw.below(40)).min(bytes.len());
                match draw.below(3) {
                    0 => drop(bytes.drain(at..end)),
                    1 => {
                        let piece: Vec<u8> = bytes[at..end].to_vec();
                        bytes.splice(at..at, piece);
                    }
                    _ => bytes.insert(at, *draw.pick(b"([{:\"'\\\n\t #@.=").unwrap_or(&b'(')),
                }
            }
            std::fs::write(dir.path().join(format!("app/m{i}_{name}")), bytes).expect("writes");
        }
        let workspace = ssot_check::workspace::scan(dir.path(), &[dir.path().to_path_buf()], &[]).expect("scans");
        for facts in ssot_check::frontend::analyze(&workspace) {
            if let Some(problem) = &facts.problem {
                assert_eq!(
                    problem.kind,
                    ssot_check::facts::ProblemKind::ParseError,
                    "round {round}, {}: {problem:?}",
                    facts.path
                );
            }
        }
    }
}
