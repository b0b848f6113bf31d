//! Shell completions and the man page are generated from the command line: every subcommand and flag
//! is in them, and the scripts are valid for their shells.

mod common;

use std::process::Command;

#[test]
fn bash_completions_know_every_subcommand_and_flag_and_load_in_bash() {
    let (code, script) = common::run(&["completions", "bash"]);
    assert_eq!(code, 0, "{script}");
    for word in [
        "check",
        "explain",
        "baseline",
        "graph",
        "history",
        "--baseline",
        "--format",
        "sarif",
        "--no-shortcuts",
    ] {
        assert!(script.contains(word), "no {word} in the bash completions");
    }
    // The script must load in bash and register its completion function.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ssot-check.bash");
    std::fs::write(&file, &script).expect("writes");
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p ssot-check", file.display()))
        .output()
        .expect("runs bash");
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("ssot-check"));
}

#[test]
fn completions_exist_for_the_common_shells_and_an_unknown_shell_is_refused() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script) = common::run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {script}");
        assert!(script.contains("ssot-check"), "{shell}");
    }
    let (code, said) = common::run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{said}");
}

#[test]
fn the_man_page_documents_every_subcommand_and_flag() {
    let (code, page) = common::run(&["man"]);
    assert_eq!(code, 0, "{page}");
    for word in [
        ".TH ssot-check",
        ".SH NAME",
        ".SH \"SSOT-CHECK BASELINE\"",
        ".SH \"SSOT-CHECK GRAPH\"",
        "\\-\\-strict\\-baseline",
        "\\-\\-no\\-shortcuts",
        "\\-\\-with\\-neighbours",
    ] {
        assert!(page.contains(word), "no {word} in the man page");
    }
    // Where groff is installed, the page must render without a warning.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ssot-check.1");
    std::fs::write(&file, &page).expect("writes");
    if let Ok(rendered) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&file)
        .output()
    {
        assert!(rendered.status.success(), "groff failed");
        assert!(
            rendered.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
}
