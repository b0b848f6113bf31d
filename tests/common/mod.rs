//! Running `ssot-check` in-process from the repository root, as the integration tests do.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ssot_check::{Env, ExitStatus, cli::Cli};

/// The repository root, where the shipped `ssot.toml` is.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs with `args` from `cwd` and returns the exit code (2 for a tool error) and what was printed
/// (the rendered error, for a tool error).
pub fn run_in(cwd: &Path, args: &[&str]) -> (i32, String) {
    let parse = |args: &[&str]| Cli::parse_from_args(std::iter::once("ssot-check").chain(args.iter().copied()));
    // Unless the test chooses, runs use this process's own cache folder: the default one outlives the
    // code that wrote it, and a test must not pass on what an older build left there.
    let own_cache = cache_dir();
    let chooses = args.iter().any(|a| *a == "--no-cache" || *a == "--cache-dir");
    let with_cache: Vec<&str> = args.iter().copied().chain(["--cache-dir", &own_cache]).collect();
    let parsed = match chooses {
        true => parse(args),
        // Subcommands without a cache are parsed as given.
        false => parse(&with_cache).or_else(|_| parse(args)),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => return (2, error.to_string()),
    };
    let env = Env {
        cwd: cwd.to_path_buf(),
        terminal: false,
    };
    let mut out = Vec::new();
    match ssot_check::run(cli, &env, &mut out) {
        Ok(status) => (
            if status == ExitStatus::Success { 0 } else { 1 },
            String::from_utf8(out).expect("UTF-8 output"),
        ),
        Err(error) => {
            let mut text = String::new();
            let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
            handler.render_report(&mut text, &error).expect("renders");
            (2, text)
        }
    }
}

/// A cache folder for this test process, empty when the process starts using it.
pub fn cache_dir() -> String {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.to_string_lossy().into_owned()
    })
    .clone()
}

/// Runs from the repository root.
pub fn run(args: &[&str]) -> (i32, String) {
    run_in(&root(), args)
}

/// Writes `text` to `path` under `dir`, creating folders.
pub fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// The rule ids of a JSON report's findings, in report order.
pub fn rule_ids(report: &serde_json::Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect()
}

/// A pack of two rules the baseline and history tests share: one router, no legacy imports.
pub const ROUTER_AND_LEGACY_RULES: &str = r#"
[[rule]]
id = "one-router"
kind = "single-definition"
message = "One MessageRouter."
name = "MessageRouter"

[[rule]]
id = "no-legacy"
kind = "banned-import"
message = "The legacy module is going away."
paths = ["app::legacy"]
"#;

/// Copies a folder tree (without build output) to a scratch place.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let (path, name) = (entry.path(), entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            if name != "target" {
                copy_tree(&path, &to.join(&name));
            }
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copies");
        }
    }
}

/// A workspace of `files` (path, text) in a temporary folder.
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// A small deterministic generator (xorshift64*): the same seed draws the same (rule packs, edits).
pub struct Draw(pub u64);

impl Draw {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}
