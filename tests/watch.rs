//! `--watch` re-checks on every change and says what changed: a second handler added in another file is
//! one new finding, and taking it out again resolves it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

const RULES: &str = r#"
[[rule]]
id = "one-message-handler"
kind = "single-definition"
message = "One message handler."
item-kind = ["struct"]
name = "*MessageHandler"
"#;

/// The watching process; killed when dropped, so a failing test leaves nothing running.
struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watching {
    /// Reads lines until one contains `wanted`; all the lines read, for the failure message.
    fn wait_for(&self, wanted: &str) -> String {
        let mut seen = String::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if line.contains(wanted) {
                        return seen;
                    }
                }
                Err(_) => panic!("no line with {wanted:?} in time; saw:\n{seen}"),
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_added_duplicate_is_new_and_taking_it_out_resolves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write(dir.path(), "rules.toml", RULES);
    common::write(dir.path(), "src/lib.rs", "mod other;\npub struct UserMessageHandler;\n");
    common::write(dir.path(), "src/other.rs", "pub struct Unrelated;\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssot-check"))
        .args(["--watch", "--rules", "rules.toml", "--color", "never", "src"])
        .current_dir(dir.path())
        .env("SSOT_CHECK_CACHE_DIR", dir.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts ssot-check --watch");
    let stdout = child.stdout.take().expect("stdout");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let watching = Watching { child, lines };
    let first = watching.wait_for("Watching for changes");
    assert!(first.contains("No findings"), "{first}");

    common::write(dir.path(), "src/other.rs", "pub struct LegacyMessageHandler;\n");
    let added = watching.wait_for("Re-checked");
    assert!(added.contains("src/other.rs"), "{added}");
    assert!(added.contains("1 new, 0 resolved, 1 active"), "{added}");
    let report = watching.wait_for("LegacyMessageHandler");
    assert!(report.contains("one-message-handler"), "{added}{report}");

    common::write(dir.path(), "src/other.rs", "pub struct Unrelated;\n");
    let removed = watching.wait_for("Re-checked");
    assert!(removed.contains("0 new, 1 resolved, 0 active"), "{removed}");
    let resolved = watching.wait_for("resolved: [one-message-handler]");
    assert!(!resolved.is_empty());
    // A check reads every file, and reading is not a change: with nothing written, nothing is checked.
    let quiet: Vec<String> = std::iter::from_fn(|| watching.lines.recv_timeout(Duration::from_secs(2)).ok()).collect();
    assert!(
        !quiet.iter().any(|line| line.contains("Re-checked")),
        "checks with no change (a loop on its own reads):\n{}",
        quiet.join("\n")
    );
}
