//! Every speed shortcut is invisible: for rule packs drawn at random from what a tree defines, the
//! findings with every shortcut on (bodies skipped, items read without syn, facts pruned, the cache cold
//! and warm) equal the findings with none (`--no-shortcuts`).
//!
//! It runs on this repository's own code and fixtures. With `SSOT_CHECK_CORPUS=<dir>` it also runs on
//! samples of the crates in that folder (CI points it at the vendored benchmark corpus):
//! `SSOT_CHECK_CORPUS_ROUNDS` samples of `SSOT_CHECK_CORPUS_SAMPLE` crates each. `SSOT_CHECK_SHORTCUT_PACKS`
//! sets how many packs are drawn per tree, `SSOT_CHECK_SHORTCUT_SEED` the seed (a failure prints both).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::Draw;
use ssot_check::check::{self, RunOptions};
use ssot_check::facts::{DefinitionKind, FileFacts};

/// What a tree defines, to draw patterns from.
struct Names {
    definitions: Vec<(DefinitionKind, String, String)>,
    modules: Vec<String>,
    enums: Vec<String>,
    imports: Vec<String>,
}

impl Names {
    fn of(facts: &[FileFacts]) -> Self {
        let mut definitions = BTreeSet::new();
        let mut modules = BTreeSet::new();
        let mut enums = BTreeSet::new();
        let mut imports = BTreeSet::new();
        for file in facts {
            modules.insert(file.module.clone());
            modules.extend(file.modules.iter().map(|m| m.path.clone()));
            for d in &file.definitions {
                definitions.insert((d.kind, d.name.clone(), d.path.clone()));
                if d.kind == DefinitionKind::Enum {
                    enums.insert(d.name.clone());
                }
            }
            imports.extend(file.imports.iter().map(|i| i.path.clone()));
        }
        Names {
            definitions: definitions.into_iter().filter(|d| d.1.chars().all(is_word)).collect(),
            modules: modules
                .into_iter()
                .filter(|m| m.chars().all(|c| is_word(c) || c == ':'))
                .collect(),
            enums: enums.into_iter().collect(),
            imports: imports
                .into_iter()
                .filter(|i| i.chars().all(|c| is_word(c) || c == ':'))
                .collect(),
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn parent(path: &str) -> &str {
    path.rsplit_once("::").map_or(path, |(p, _)| p)
}

fn last(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// A pattern that selects `path` (a definition's or a module's), drawn among the shapes rule writers use.
fn path_pattern(draw: &mut Draw, path: &str) -> String {
    let name = last(path);
    match draw.below(6) {
        0 => name.to_owned(),
        1 if name.len() > 3 => format!("*{}", &name[name.len() - 3..]),
        2 => format!("{}::**", path.split("::").next().unwrap_or(path)),
        3 => format!("{}::*", parent(path)),
        4 => format!("**::{}::{name}", last(parent(path))),
        _ => path.to_owned(),
    }
}

/// One rule of a random kind, as TOML.
fn rule(draw: &mut Draw, names: &Names, id: usize) -> Option<String> {
    let head = |kind: &str| format!("[[rule]]\nid = \"r{id}\"\nkind = \"{kind}\"\nmessage = \"drawn\"\n");
    Some(match draw.below(6) {
        0 | 1 => {
            let (kind, _, path) = draw.pick(&names.definitions)?;
            let mut text = head("single-definition");
            text += &format!("name = {:?}\n", path_pattern(draw, path));
            if draw.chance(50) {
                text += &format!("item-kind = [{:?}]\n", kind.as_str());
            }
            if draw.chance(50) {
                text += "group-by = \"name\"\n";
            }
            if draw.chance(20) {
                text += "include-tests = true\n";
            }
            text
        }
        2 => {
            let target = match draw.chance(50) {
                true => draw.pick(&names.modules)?,
                false => draw.pick(&names.imports)?,
            };
            let pattern = match draw.below(3) {
                0 => target.clone(),
                1 => format!("**::{}", last(target)),
                _ => format!("{target}::*"),
            };
            head("banned-import") + &format!("paths = [{pattern:?}]\n")
        }
        3 => {
            let module = draw.pick(&names.modules)?;
            let pattern = match draw.chance(50) {
                true => format!("**::{}", last(module)),
                false => format!("{}::*", parent(module)),
            };
            head("removed-module") + &format!("modules = [{pattern:?}]\n")
        }
        4 => {
            let name = draw.pick(&names.enums)?;
            let router = draw.pick(&names.modules)?;
            head("single-dispatch") + &format!("enum = {name:?}\nrouter = {:?}\n", format!("**::{}", last(router)))
        }
        _ => {
            let module = draw.pick(&names.modules)?;
            let root = module.split("::").next().unwrap_or(module);
            head("no-global-state") + &format!("modules = [{root:?}]\n")
        }
    })
}

/// Checks `paths` under `base` with a drawn pack, every shortcut on (cold and warm cache) and off.
fn compare(base: &Path, paths: &[PathBuf], pack: &str, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, pack).expect("rules");
    let config = ssot_check::config::load(&[rules], base).expect("a drawn pack is valid");
    let run = |options: &RunOptions| check::run(base, paths, &config, options).expect("runs").findings;
    let exhaustive = run(&RunOptions {
        no_shortcuts: true,
        ..RunOptions::default()
    });
    let cached = RunOptions {
        cache_dir: Some(dir.path().join("cache")),
        ..RunOptions::default()
    };
    for (label, findings) in [
        ("no cache", run(&RunOptions::default())),
        ("cold cache", run(&cached)),
        ("warm cache", run(&cached)),
    ] {
        assert!(
            findings == exhaustive,
            "{what}: with shortcuts ({label}) the findings differ from --no-shortcuts for this pack:\n{pack}\n\
             with: {:#?}\nwithout: {:#?}",
            findings.iter().map(|f| (&f.rule, &f.message)).collect::<Vec<_>>(),
            exhaustive.iter().map(|f| (&f.rule, &f.message)).collect::<Vec<_>>()
        );
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Draws `packs` packs over the tree at `base`/`paths` and compares each, on worker threads with the
/// large stack the binary gives them (syn recurses once per nesting level).
fn check_tree(base: &Path, paths: &[PathBuf], packs: u64, what: &str) {
    rayon::ThreadPoolBuilder::new()
        .stack_size(64 * 1024 * 1024)
        .build()
        .expect("worker threads")
        .install(|| check_tree_here(base, paths, packs, what));
}

fn check_tree_here(base: &Path, paths: &[PathBuf], packs: u64, what: &str) {
    let seed = setting("SSOT_CHECK_SHORTCUT_SEED", 0x5eed_0001);
    let workspace = ssot_check::workspace::scan(base, paths, &[]).expect("scan");
    let names = Names::of(&ssot_check::frontend::analyze(&workspace));
    let mut draw = Draw(seed | 1);
    for n in 0..packs {
        let pack: String = (0..4)
            .filter_map(|id| rule(&mut draw, &names, id))
            .collect::<Vec<_>>()
            .join("\n");
        compare(base, paths, &pack, &format!("{what}, pack {n} of seed {seed:#x}"));
    }
}

#[test]
fn shortcuts_change_no_finding_on_this_repository() {
    let root = common::root();
    let paths = [
        PathBuf::from("src"),
        PathBuf::from("gateway"),
        PathBuf::from("fixtures"),
    ];
    check_tree(
        &root,
        &paths,
        setting("SSOT_CHECK_SHORTCUT_PACKS", 40),
        "this repository",
    );
}

#[test]
fn shortcuts_change_no_finding_on_the_corpus() {
    let Some(corpus) = std::env::var_os("SSOT_CHECK_CORPUS") else {
        eprintln!("SSOT_CHECK_CORPUS is not set: the corpus is not checked (CI sets it)");
        return;
    };
    let corpus = PathBuf::from(corpus);
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("the corpus folder")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| PathBuf::from(entry.file_name()))
        .collect();
    crates.sort();
    assert!(!crates.is_empty(), "no crate in {}", corpus.display());
    // A sample of crates per round keeps the run short; each round draws another sample and other packs.
    let sample = setting("SSOT_CHECK_CORPUS_SAMPLE", 12) as usize;
    let rounds = setting("SSOT_CHECK_CORPUS_ROUNDS", 4);
    let mut draw = Draw(setting("SSOT_CHECK_SHORTCUT_SEED", 0x5eed_0001) | 1);
    for round in 0..rounds {
        let mut chosen: Vec<PathBuf> = Vec::new();
        while chosen.len() < sample.min(crates.len()) {
            let pick = crates[draw.below(crates.len())].clone();
            if !chosen.contains(&pick) {
                chosen.push(pick);
            }
        }
        chosen.sort();
        let what = format!(
            "the corpus, round {round} ({})",
            chosen
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        check_tree(&corpus, &chosen, setting("SSOT_CHECK_SHORTCUT_PACKS", 3), &what);
    }
}

#[test]
fn a_module_declared_in_a_function_body_is_seen_with_shortcuts() {
    // unicode-ident's tests declare `#[path = "tables/mod.rs"] mod tables;` inside a test function: a
    // skipped body lost the declaration, and the file it reaches got a module from where it lies.
    let dir = common::workspace(&[
        ("Cargo.toml", "[package]\nname = \"ut\"\nversion = \"0.1.0\"\n"),
        ("src/lib.rs", "pub fn f() {}\n"),
        (
            "tests/static_size.rs",
            "#[test]\nfn size() {\n    #[path = \"tables/mod.rs\"]\n    mod tables;\n    let _ = tables::X;\n}\n",
        ),
        ("tests/tables/mod.rs", "pub const X: u8 = 1;\n"),
    ]);
    let pack = "[[rule]]\nid = \"r\"\nkind = \"removed-module\"\nmessage = \"m\"\nmodules = [\"**::tests\"]\n";
    compare(dir.path(), &[PathBuf::from(".")], pack, "a module declared in a body");
}

#[test]
fn what_item_macros_put_on_their_modules_is_seen_with_shortcuts() {
    // tokio declares `mod histogram;` in `cfg_unstable_metrics! { .. }` and its twin `mod mock;` in
    // `cfg_not_unstable_metrics! { .. }`, macros defined in a file that mentions no rule's word: the
    // shortcuts blanked the macros' rules there (so the twins lost their cfg and became duplicates),
    // and an item macro written after an `impl` block (so the modules it declares were lost).
    let wrapper = |name: &str, cfg: &str| {
        format!("macro_rules! {name} {{\n    ($($item:item)*) => {{ $( #[cfg({cfg})] $item )* }}\n}}\n")
    };
    let macros = wrapper("cfg_unstable", "tokio_unstable") + &wrapper("cfg_not_unstable", "not(tokio_unstable)");
    let dir = common::workspace(&[
        ("Cargo.toml", "[package]\nname = \"tw\"\nversion = \"0.1.0\"\n"),
        ("src/lib.rs", "#[macro_use]\nmod macros;\nmod metrics;\nmod other;\n"),
        ("src/macros.rs", &macros),
        (
            "src/metrics/mod.rs",
            "cfg_unstable! { mod histogram; }\ncfg_not_unstable! { mod mock; }\n",
        ),
        ("src/metrics/histogram.rs", "pub struct HistogramBuilder;\n"),
        ("src/metrics/mock.rs", "pub struct HistogramBuilder;\n"),
        (
            "src/other.rs",
            "pub struct S;\nimpl S { fn f() {} }\ncfg_unstable! { mod late; }\n",
        ),
        ("src/other/late.rs", "pub struct LateBuilder;\nmod deprecated {}\n"),
    ]);
    let pack = "[[rule]]\nid = \"b\"\nkind = \"single-definition\"\nmessage = \"m\"\nname = \"*Builder\"\n\
                group-by = \"name\"\n\n[[rule]]\nid = \"r\"\nkind = \"removed-module\"\nmessage = \"m\"\n\
                modules = [\"**::deprecated\"]\n";
    compare(
        dir.path(),
        &[PathBuf::from(".")],
        pack,
        "item macros defined in a file without words",
    );
    let config = {
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, pack).expect("rules");
        ssot_check::config::load(&[rules], dir.path()).expect("valid")
    };
    let findings = check::run(dir.path(), &[PathBuf::from(".")], &config, &RunOptions::default())
        .expect("runs")
        .findings;
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["r"],
        "the twins are apart, the late module is seen: {findings:#?}"
    );
}

#[test]
fn names_a_glob_re_export_brings_and_modules_a_macro_is_given_are_seen_with_shortcuts() {
    // libc: `pub use linux::types::*;` in `new`, `pub use new::*;` at the root, and a struct elsewhere
    // naming `crate::__u16` (a banned module's item, no word said). tokio: a table macro given a `mod`
    // (`cfg_signal_internal_and_unix! { mod signal; }`) puts its cfg on it.
    let dir = common::workspace(&[
        ("Cargo.toml", "[package]\nname = \"gl\"\nversion = \"0.1.0\"\n"),
        (
            "src/lib.rs",
            "#[macro_use]\nmod macros;\npub use new::*;\nmod new;\nmod fuchsia;\nmod runtime;\n",
        ),
        ("src/new/mod.rs", "mod linux;\npub use linux::types::*;\n"),
        ("src/new/linux/mod.rs", "pub mod types;\n"),
        ("src/new/linux/types.rs", "pub type __u16 = u16;\n"),
        ("src/fuchsia.rs", "pub struct S {\n    pub x: crate::__u16,\n}\n"),
        (
            "src/macros.rs",
            "macro_rules! wrap { ($($i:item)*) => { $( #[cfg(feature = \"signal\")] $i )* } }\n\
             macro_rules! wrap_unix { ($($i:item)*) => { #[cfg(unix)] wrap! { $($i)* } } }\n\
             macro_rules! wrap_not { ($($i:item)*) => { $( #[cfg(not(all(unix, feature = \"signal\")))] $i )* } }\n",
        ),
        (
            "src/runtime/mod.rs",
            "wrap_unix! { mod signal; }\nwrap_not! { mod mock; }\n",
        ),
        ("src/runtime/signal.rs", "pub struct Handle;\n"),
        ("src/runtime/mock.rs", "pub struct Handle;\n"),
    ]);
    let pack = "[[rule]]\nid = \"b\"\nkind = \"banned-import\"\nmessage = \"m\"\npaths = [\"**::linux::types\"]\n\n\
                [[rule]]\nid = \"h\"\nkind = \"single-definition\"\nmessage = \"m\"\nname = \"Handle\"\n";
    compare(
        dir.path(),
        &[PathBuf::from(".")],
        pack,
        "a glob re-export and a macro given a module",
    );
}
