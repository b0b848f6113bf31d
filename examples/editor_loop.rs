//! The editor-loop benchmark: `ssot-check server` on a workspace, one file edited in the editor's
//! buffer (a duplicate definition added, then removed, again and again), and the time from the change
//! notification to the diagnostics published for that file. Prints p50 and p95 of each, beside the
//! warm command-line run on the same workspace, measured in the same run.
//!
//! Usage: editor_loop BINARY WORKSPACE RULES FILE LINE [EDITS]
//! (FILE relative to WORKSPACE; LINE, appended to FILE, must make a new finding in FILE.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "../tests/common/lsp_client.rs"]
mod lsp_client;

use lsp_client::{LspClient, uri};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, binary, workspace, rules, file, line, rest @ ..] = args.as_slice() else {
        eprintln!("usage: editor_loop BINARY WORKSPACE RULES FILE LINE [EDITS]");
        std::process::exit(2);
    };
    let edits: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(40);
    let binary = std::fs::canonicalize(binary).expect("the binary");
    let workspace = std::fs::canonicalize(workspace).expect("the workspace");
    let rules = std::fs::canonicalize(rules).expect("the rules");
    let path = workspace.join(file);
    let cache = tempfile::tempdir().expect("a cache folder");

    let cli = warm_cli(&binary, &workspace, &rules, cache.path());
    let mut client = LspClient::start(
        &binary,
        &workspace,
        &["--rules", rules.to_str().expect("UTF-8")],
        cache.path(),
    );
    let started = Instant::now();
    client
        .request(
            "initialize",
            json!({ "processId": null, "rootUri": uri(&workspace), "capabilities": {} }),
        )
        .expect("initializes");
    client.notify("initialized", json!({}));
    let original = std::fs::read_to_string(&path).expect("the file");
    let edited = format!("{original}\n{line}\n");
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri(&path), "languageId": "rust", "version": 0, "text": original } }),
    );
    // A request is answered after the check its earlier messages asked for: the first check is done.
    let _ = client.request(
        "textDocument/hover",
        json!({
            "textDocument": { "uri": uri(&path) }, "position": { "line": 0, "character": 0 },
        }),
    );
    let first = started.elapsed();
    let baseline = count_for(&mut client, &path, Duration::from_secs(5)).unwrap_or(0);

    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for edit in 0..edits {
        let adding = edit % 2 == 0;
        let text = if adding { &edited } else { &original };
        let sent = Instant::now();
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri(&path), "version": edit + 1 }, "contentChanges": [{ "text": text }] }),
        );
        let wanted = if adding { baseline + 1 } else { baseline };
        let shown = client.diagnostics(&uri(&path), Duration::from_secs(60), |d| d.len() == wanted);
        assert!(
            shown.is_some(),
            "edit {edit}: no diagnostics with {wanted} findings for the file"
        );
        let took = sent.elapsed();
        if adding { added.push(took) } else { removed.push(took) }
    }
    let _ = client.shutdown();

    let all: Vec<Duration> = added.iter().chain(&removed).copied().collect();
    println!("editor loop on {} ({} edits of {file})", workspace.display(), edits);
    println!("  server start to first check:  {:>7.1} ms", ms(first));
    println!(
        "  duplicate added:   p50 {:>6.1} ms  p95 {:>6.1} ms",
        ms(pct(&added, 50)),
        ms(pct(&added, 95))
    );
    println!(
        "  duplicate removed: p50 {:>6.1} ms  p95 {:>6.1} ms",
        ms(pct(&removed, 50)),
        ms(pct(&removed, 95))
    );
    println!(
        "  every edit:        p50 {:>6.1} ms  p95 {:>6.1} ms",
        ms(pct(&all, 50)),
        ms(pct(&all, 95))
    );
    println!("  warm CLI run:      median {:>6.1} ms", ms(cli));
    let p95 = pct(&all, 95);
    println!(
        "  target p95 <= 50 ms: {} ({:.2}x the warm CLI run)",
        if p95 <= Duration::from_millis(50) {
            "met"
        } else {
            "missed"
        },
        p95.as_secs_f64() / cli.as_secs_f64()
    );
}

/// How many diagnostics the file shows now (those last published for it).
fn count_for(client: &mut LspClient, path: &Path, wait: Duration) -> Option<usize> {
    let mut last = None;
    while let Some(list) = client.diagnostics(
        &uri(path),
        if last.is_none() {
            wait
        } else {
            Duration::from_millis(200)
        },
        |_| true,
    ) {
        last = Some(list.len());
    }
    last
}

/// The median of seven warm command-line runs (after one that fills the cache).
fn warm_cli(binary: &PathBuf, workspace: &Path, rules: &Path, cache: &Path) -> Duration {
    let run = || {
        let started = Instant::now();
        let _ = Command::new(binary)
            .args(["--format", "json", "--rules"])
            .arg(rules)
            .arg(".")
            .current_dir(workspace)
            .env("SSOT_CHECK_CACHE_DIR", cache)
            .output()
            .expect("runs the CLI");
        started.elapsed()
    };
    run();
    let mut times: Vec<Duration> = (0..7).map(|_| run()).collect();
    times.sort();
    times[times.len() / 2]
}

fn pct(times: &[Duration], percent: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[((sorted.len() * percent).div_ceil(100))
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
