//! The language server's shortcut is invisible: after every edit, the facts and findings a warm cache
//! gives (its last analysis brought up to date: only the changed files parsed, only the files an edit
//! can reach resolved again) equal those of a cold analysis of the same texts from nothing.
//!
//! Edits are made in memory, as unsaved buffers are: names declared and removed (plain, re-exported,
//! reached through a glob, written only in a macro's rules), bodies changed, imports added. A test
//! also checks that the warm cache really took its shortcut for the edits it is meant to follow. With
//! `SSOT_CHECK_CORPUS=<dir>` it also edits files of a sample of the crates there at random.

mod common;

use std::path::{Path, PathBuf};

use common::Draw;
use ssot_check::check::{self, Needs};
use ssot_check::config::{self, Config};
use ssot_check::frontend::ParseCache;
use ssot_check::workspace::{self, Overlay, Workspace};

/// One workspace checked warm and cold after each edit.
struct Session {
    workspace: Workspace,
    config: Config,
    buffers: Overlay,
    warm: ParseCache,
}

impl Session {
    fn new(root: &Path, rules: &Path) -> Self {
        let config = config::load(&[rules.to_path_buf()], root).expect("rules load");
        let workspace = workspace::scan(root, &[root.to_path_buf()], &config.excludes).expect("scan");
        let session = Session {
            workspace,
            config,
            buffers: Overlay::default(),
            warm: ParseCache::default().keeping_warm(),
        };
        session.compare("the first check");
        session
    }

    /// Replaces `needle` by `replacement` in the buffer of `file`, checks, and returns how many files
    /// the warm check parsed.
    fn edit(&mut self, file: &Path, needle: &str, replacement: &str, what: &str) -> usize {
        let text = self.text(file);
        assert!(text.contains(needle), "{what}: `{needle}` is not in {}", file.display());
        self.change(file, text.replacen(needle, replacement, 1), what)
    }

    /// Appends `addition` to the buffer of `file` (nothing before it moves); see [`Session::edit`].
    fn append(&mut self, file: &Path, addition: &str, what: &str) -> usize {
        let text = self.text(file);
        self.change(file, text + addition, what)
    }

    fn text(&self, file: &Path) -> String {
        match self.buffers.get(file) {
            Some(text) => text.to_owned(),
            None => std::fs::read_to_string(file).expect("reads"),
        }
    }

    fn change(&mut self, file: &Path, text: String, what: &str) -> usize {
        self.buffers.set(file.to_path_buf(), text);
        let before = self.warm.parsed();
        self.compare(what);
        self.warm.parsed() - before
    }

    fn compare(&self, what: &str) {
        let cold_cache = ParseCache::default();
        let run = |cache: &ParseCache| check::facts(&self.workspace, &self.buffers, cache, &self.config, Needs::Rules);
        let (warm, cold) = pool().install(|| (run(&self.warm), run(&cold_cache)));
        assert_eq!(warm.len(), cold.len(), "{what}: file count");
        for (w, c) in warm.iter().zip(&cold) {
            assert_eq!(w, c, "{what}: the facts of {} differ warm and cold", c.path);
        }
        let findings = |facts| check::findings(&self.workspace, facts, &self.config, false);
        assert_eq!(
            findings(&warm),
            findings(&cold),
            "{what}: findings differ warm and cold"
        );
    }
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .stack_size(64 * 1024 * 1024)
        .build()
        .expect("worker threads")
}

#[test]
fn warm_checks_equal_cold_ones_on_the_legacy_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    common::copy_tree(&common::root().join("fixtures/legacy-gateway"), &root);
    let mut session = Session::new(&root, &common::root().join("rules"));
    let src = root.join("src");
    // Names only: the warm check parses the one file.
    let parsed = session.append(
        &src.join("events.rs"),
        "pub struct SecondMessageHandler;\n",
        "a second handler added",
    );
    assert_eq!(parsed, 1, "a name added is followed without a full analysis");
    session.edit(
        &src.join("events.rs"),
        "SecondMessageHandler",
        "SecondRunner",
        "the handler renamed",
    );
    // A name the index re-exports (`pub use ws::router::MessageRouter as CanonicalRouter`).
    session.edit(
        &src.join("events.rs"),
        "pub struct SecondRunner;",
        "pub struct MessageRouter;",
        "a second router",
    );
    session.edit(
        &src.join("events.rs"),
        "pub struct MessageRouter;",
        "",
        "the second router removed",
    );
    session.edit(
        &src.join("agent_handler.rs"),
        "pub struct AgentMessageHandler;",
        "",
        "a handler removed",
    );
    session.edit(
        &src.join("agent_handler.rs"),
        "impl",
        "pub struct AgentMessageHandler;\nimpl",
        "the handler back",
    );
    // A body edit, and an import added (a structural change: the full path).
    session.edit(&src.join("handlers.rs"), "{", "{ let _edited = 1;", "a body changed");
    session.edit(
        &src.join("events.rs"),
        "\n",
        "\nuse crate::websocket_manager_factory::create_websocket_manager;\n",
        "a banned import added",
    );
}

#[test]
fn warm_checks_equal_cold_ones_through_globs_reexports_and_macros() {
    let dir = common::workspace(&[
        (
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "src/lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub mod reexp {\n    pub use crate::a::*;\n}\n\
             #[macro_export]\nmacro_rules! make {\n    () => {\n        pub fn made() { let _ = crate::reexp::Target; }\n    };\n}\n",
        ),
        ("src/a.rs", "pub struct Existing;\n"),
        ("src/b.rs", "use crate::a::*;\npub fn f() { let _ = Target; }\n"),
        ("src/c.rs", "crate::make!();\npub use crate::a::Existing as Renamed;\n"),
        ("src/d.rs", "use crate::c::Renamed;\npub fn g() { let _ = Renamed; }\n"),
        (
            "rules.toml",
            "[[rule]]\nid = \"no-target\"\nkind = \"banned-import\"\nmessage = \"m\"\npaths = [\"**::a::Target\", \"**::a::Existing\"]\n\n\
             [[rule]]\nid = \"one-each\"\nkind = \"single-definition\"\nmessage = \"m\"\nname = \"*\"\nitem-kind = [\"struct\"]\ngroup-by = \"name\"\n",
        ),
    ]);
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let mut session = Session::new(&root, &root.join("rules.toml"));
    let a = root.join("src/a.rs");
    // `Target` appears in a: b (glob) and c (the macro's rules, through a glob re-export) now resolve to it.
    let parsed = session.append(&a, "pub struct Target;\n", "Target declared");
    assert_eq!(
        parsed, 1,
        "a name reached through a glob and a macro is followed without a full analysis"
    );
    session.edit(&a, "pub struct Target;\n", "", "Target removed");
    // `Existing` is re-exported as `Renamed`, which d uses without writing `Existing`.
    session.edit(&a, "pub struct Existing;", "pub struct Other;", "Existing renamed");
    session.edit(&a, "pub struct Other;", "pub struct Existing;", "Existing back");
    session.edit(
        &root.join("src/d.rs"),
        "pub fn g",
        "pub struct Existing;\npub fn g",
        "a duplicate in d",
    );
}

#[test]
fn warm_checks_equal_cold_ones_on_random_edits_of_the_corpus() {
    let Some(corpus) = std::env::var_os("SSOT_CHECK_CORPUS") else {
        eprintln!("SSOT_CHECK_CORPUS is not set: the corpus is not edited (CI sets it)");
        return;
    };
    let corpus = std::fs::canonicalize(corpus).expect("the corpus");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("the corpus folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    let seed = std::env::var("SSOT_CHECK_WARM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0002_u64);
    let mut draw = Draw(seed | 1);
    for round in 0..3 {
        edit_a_sample(&crates, &mut draw, &format!("seed {seed:#x}, round {round}"));
    }
}

/// Copies six crates drawn from `crates` and makes twenty edits in their files: names the sample
/// declares (so duplicates and shadowing arise) added as structs and enums, and comments.
fn edit_a_sample(crates: &[PathBuf], draw: &mut Draw, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let mut chosen = Vec::new();
    while chosen.len() < 6 {
        let krate = &crates[draw.below(crates.len())];
        if !chosen.contains(krate) {
            common::copy_tree(krate, &root.join(krate.file_name().expect("name")));
            chosen.push(krate.clone());
        }
    }
    std::fs::copy(common::root().join("bench/rules.toml"), root.join("rules.toml")).expect("rules");
    let mut session = Session::new(&root, &root.join("rules.toml"));
    let files: Vec<PathBuf> = session.workspace.files.iter().map(|f| f.abs.clone()).collect();
    let mut names: Vec<String> = ["Builder", "Ordering", "Inner", "Error", "State"]
        .map(str::to_owned)
        .to_vec();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for keyword in ["struct ", "enum ", "trait ", "fn "] {
            for (at, _) in text.match_indices(keyword).take(3) {
                let name: String = text[at + keyword.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name.chars().next().is_some_and(char::is_alphabetic) {
                    names.push(name);
                }
            }
        }
    }
    eprintln!("{what}: {} files, {} names, of {chosen:?}", files.len(), names.len());
    let mut followed = 0;
    for edit in 0..20 {
        let file = &files[draw.below(files.len())];
        let name = &names[draw.below(names.len())];
        let what = format!("{what}, edit {edit}: {}", file.display());
        let parsed = match draw.below(3) {
            0 => session.append(
                file,
                &format!("\npub struct {name};\n"),
                &format!("{what}: {name} added"),
            ),
            1 => session.append(
                file,
                &format!("\npub enum {name} {{ A }}\n"),
                &format!("{what}: enum {name}"),
            ),
            _ => session.edit(file, "\n", "\n// an edit in a comment\n", &format!("{what}: a comment")),
        };
        followed += usize::from(parsed == 1);
    }
    eprintln!("{what}: {followed} of 20 edits followed without a full analysis");
    assert!(
        followed > 0,
        "{what}: no edit took the warm shortcut: the comparison proved nothing about it"
    );
}
