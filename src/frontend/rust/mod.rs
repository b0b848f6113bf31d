//! The Rust frontend: each file is read in parallel (by the fast reader, or by syn where an item
//! mentions a rule's word), `mod` declarations give each file its module, and name resolution makes
//! every path absolute.
//!
//! The modules below form layers, each importing only those under it (checked by this repository's
//! `rules/architecture.toml`): `text` -> `raw` -> `fast`, `syn_reader` -> `read` (with the suppression
//! comments of `frontend::suppressions`) ->
//! `pack` -> `load` -> `modules` -> `resolve` -> `snapshot` -> `aliases` -> `unreadable` -> `warm` -> this
//! driver.

mod aliases;
mod expand;
mod fast;
mod load;
mod modules;
mod pack;
mod raw;
mod read;
mod resolve;
mod snapshot;
mod std_library;
mod syn_reader;
mod text;
mod unreadable;
mod warm;

use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use super::{Frontend, ParseCache, Reading};
use crate::facts::{FileFacts, FileProblem};
use crate::workspace::{FileTree, SourceFile, Workspace};
use aliases::Widening;
use load::{Loaded, load, parse_bytes};
use pack::ParsePack;
use raw::ParsedFile;
use snapshot::{BorrowedSnapshot, BorrowedSnapshotFile, Snapshot};
use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Reads `.rs` files with syn.
pub struct RustFrontend;

impl Frontend for RustFrontend {
    fn handles(&self, file: &SourceFile) -> bool {
        file.abs.extension().is_some_and(|e| e == "rs")
    }

    fn analyze(
        &self,
        workspace: &Workspace,
        files: &[SourceFile],
        tree: &dyn FileTree,
        cache: &ParseCache,
        reading: &Reading,
        keep: &super::Keep<'_>,
    ) -> Vec<FileFacts> {
        if cache.keeps_warm() {
            return analyze_warm(workspace, files, tree, cache, reading, keep);
        }
        let Some(disk) = cache.disk() else {
            return analyze_all(
                workspace,
                files,
                tree,
                cache,
                &reading.words,
                keep,
                &ParsePack::default(),
            )
            .facts;
        };
        let (run, layout) = run_and_layout(workspace, files, reading);
        let previous = {
            let _loading = crate::timings::phase("snapshot load");
            disk.load_blob(&format!("{run}.snapshot"))
                .and_then(|bytes| postcard::from_bytes::<Snapshot>(&bytes).ok())
                .filter(|snapshot| snapshot.layout == layout && snapshot.files.len() == files.len())
        };
        if let Some(previous) = previous
            && let Some(facts) = analyze_changed(previous, files, tree, cache, &reading.words, keep, &run)
        {
            return facts;
        }
        let pack = {
            let _loading = crate::timings::phase("parse pack load");
            disk.load_blob(&format!("{run}.parses"))
                .map(ParsePack::read)
                .unwrap_or_default()
        };
        let mut analysis = analyze_all(workspace, files, tree, cache, &reading.words, keep, &pack);
        drop(pack);
        store_run(disk, &run, layout, &mut analysis);
        analysis.facts
    }
}

/// The run's name (its words, rules and roots: where its snapshot is kept) and its layout's key.
fn run_and_layout(workspace: &Workspace, files: &[SourceFile], reading: &Reading) -> (String, u64) {
    let run = format!("{:016x}", snapshot::run_key(files, reading.settings()));
    (run, snapshot::layout_key(&workspace.crates, files))
}

/// The name a warm cache keeps this frontend's analysis under.
const WARM: &str = "rust";

/// A check of a process that keeps its last analysis in memory: brought up to date from it when the
/// run and layout are the same and the change is one it follows exactly, else analyzed in full (from
/// the disk's parse pack when there is one) and kept.
fn analyze_warm(
    workspace: &Workspace,
    files: &[SourceFile],
    tree: &dyn FileTree,
    cache: &ParseCache,
    reading: &Reading,
    keep: &super::Keep<'_>,
) -> Vec<FileFacts> {
    let (run, layout) = run_and_layout(workspace, files, reading);
    if let Some(mut kept) = cache.take_warm::<warm::Warm>(WARM)
        && kept.run == run
        && kept.layout == layout
    {
        let updating = crate::timings::phase("warm update");
        match kept.update(workspace, files, tree, cache, &reading.words, keep) {
            Ok(()) => {
                drop(updating);
                let facts = kept.facts().to_vec();
                cache.put_warm(WARM, *kept);
                return facts;
            }
            Err(reason) => crate::timings::note(|| format!("full analysis: {reason}")),
        }
    }
    let pack = cache
        .disk()
        .and_then(|disk| disk.load_blob(&format!("{run}.parses")))
        .map(ParsePack::read)
        .unwrap_or_default();
    let mut analysis = analyze_all(workspace, files, tree, cache, &reading.words, keep, &pack);
    drop(pack);
    if let Some(disk) = cache.disk() {
        store_run(disk, &run, layout, &mut analysis);
    }
    let _keeping = crate::timings::phase("warm keep");
    let full = warm::FullAnalysis {
        keys: analysis.keys,
        loaded: analysis.loaded,
        modules: analysis.modules,
        name_keys: analysis.name_keys,
        facts: analysis.facts,
        index: analysis.index,
        aliases: analysis.aliases,
        alias_crates: analysis.alias_crates,
        macros: analysis.macros,
        gathered: analysis.gathered.unwrap_or_default(),
    };
    let kept = warm::Warm::new(run, layout, files, tree, full);
    let facts = kept.facts().to_vec();
    cache.put_warm(WARM, kept);
    facts
}

/// Keeps what a full run learned for the next run: the parses (streamed), the index, and the snapshot,
/// which names the index by its hash and is written last.
fn store_run(disk: &crate::blob_folder::BlobFolder, run: &str, layout: u64, analysis: &mut Analysis) {
    let _storing = crate::timings::phase("snapshot store");
    let encoded = std::mem::take(&mut analysis.encoded);
    let parses = analysis
        .keys
        .iter()
        .zip(&encoded)
        .filter_map(|(key, encoded)| Some(((*key)?, encoded.as_deref()?)));
    // The parses are written while the rest is encoded; the rest is written after, the snapshot last.
    let analysis = &*analysis;
    let (_, blobs) = rayon::join(
        || {
            disk.store_with(&format!("{run}.parses"), &mut |out| {
                ParsePack::write(out, parses.clone())
            })
        },
        || -> Option<[Vec<u8>; 3]> {
            let index = snapshot::encode_index(&analysis.index)?;
            let snapshot = BorrowedSnapshot {
                layout,
                files: analysis
                    .keys
                    .iter()
                    .zip(&analysis.modules)
                    .zip(&analysis.structures)
                    .zip(&analysis.facts)
                    .map(|(((key, module), structure), facts)| BorrowedSnapshotFile {
                        key: *key,
                        module,
                        structure: *structure,
                        facts,
                    })
                    .collect(),
                aliases: &analysis.aliases,
                alias_crates: analysis.alias_crates.as_ref().map(|crates| {
                    let mut crates: Vec<usize> = crates.iter().copied().collect();
                    crates.sort_unstable();
                    crates
                }),
                index: snapshot::index_hash(&index),
            };
            let macros = postcard::to_stdvec(&analysis.macros).ok()?;
            let snapshot = postcard::to_stdvec(&snapshot).ok()?;
            Some([macros, index, snapshot])
        },
    );
    drop(encoded);
    if let Some([macros, index, snapshot]) = blobs {
        disk.store_blob(&format!("{run}.macros"), &macros);
        disk.store_blob(&format!("{run}.index"), &index);
        disk.store_blob(&format!("{run}.snapshot"), &snapshot);
    }
}

/// Everything a full analysis learns, for the facts and for the snapshot.
struct Analysis {
    facts: Vec<FileFacts>,
    /// Each file's content key (`None` if it could not be read) and encoded parse (for the parse pack).
    keys: Vec<Option<u128>>,
    encoded: Vec<Option<Vec<u8>>>,
    modules: Vec<modules::FileModule>,
    structures: Vec<u64>,
    aliases: Vec<String>,
    /// See `Snapshot::alias_crates`.
    alias_crates: Option<std::collections::HashSet<usize>>,
    index: resolve::WorkspaceIndex,
    /// The workspace's macros, for expanding a file that changes before the next full run.
    macros: expand::MacroTable,
    /// Each file's parse, and its declared names' index keys (kept by a warm cache).
    loaded: Vec<Loaded>,
    name_keys: Vec<Vec<u64>>,
    /// For a warm cache: the index re-exports were gathered against, and what each file gave.
    gathered: Option<(resolve::WorkspaceIndex, Vec<Option<warm::Gathered>>)>,
}

/// Parses every file (or decodes its parse from `pack`), assigns modules, builds the index and resolves.
/// Parses are kept encoded between these phases and decoded one file at a time where a phase needs
/// all of one: decoded, every file's parse at once would take several times the memory.
fn analyze_all(
    workspace: &Workspace,
    files: &[SourceFile],
    tree: &dyn FileTree,
    cache: &ParseCache,
    words: &super::BodyWords,
    keep: &super::Keep<'_>,
    pack: &ParsePack,
) -> Analysis {
    let loading = crate::timings::phase("load/parse");
    let mut loaded: Vec<Loaded> = files
        .par_iter()
        .map(|file| load(file, tree, cache, words, pack))
        .collect();
    drop(loading);
    let expanding = crate::timings::phase("expand macros");
    let tabling = crate::timings::phase("expand: table");
    let macros = expand::MacroTable::of(&loaded, files, workspace, words);
    drop(tabling);
    if !macros.is_empty() {
        expand::expand_invocations(&mut loaded, files, tree, &macros, words);
    }
    drop(expanding);
    let indexing = crate::timings::phase("modules+index");
    let skeletons: Vec<&ParsedFile> = loaded.iter().map(|l| &l.skeleton).collect();
    let assigning = crate::timings::phase("index: modules");
    let modules = modules::assign(workspace, files, &skeletons);
    drop(assigning);
    let naming = crate::timings::phase("index: re-exported names");
    // A run without shortcuts reports unreadable items as one with them would, widening included (and
    // keeps that run's names, for its incremental runs to do the same).
    let shortcut_words = words.shortcut_words();
    let (aliases, reaching) = match shortcut_words.unwrap_or(words) {
        read_with if read_with.skips_bodies() => {
            let declared: Vec<&str> = loaded.iter().map(|file| file.names.as_str()).collect();
            aliases::reexported_names(read_with, &skeletons, &modules, &declared, files, workspace)
        }
        _ => (Vec::new(), None),
    };
    drop(naming);
    drop(skeletons);
    let widening_phase = crate::timings::phase("index: widening");
    if let Some(shortcut_words) = shortcut_words {
        let widening = Widening::new(shortcut_words, &aliases).map(|w| w.reaching(reaching.clone()));
        let reading = unreadable::ShortcutReading::new(shortcut_words, widening);
        loaded
            .par_iter_mut()
            .zip(files)
            .filter(|(file, _)| file.partly_read)
            .for_each(|(file, source)| {
                let mut parsed = file.decode();
                parsed.problem = reading.problem(source, tree);
                let (key, keep) = (file.key, file.keep);
                *file = Loaded::new(&parsed, key, None);
                file.keep = keep;
            });
    }
    if let Some(widening) = Widening::new(words, &aliases).map(|w| w.reaching(reaching.clone())) {
        loaded
            .par_iter_mut()
            .zip(files)
            .enumerate()
            .for_each(|(index, (file, source))| {
                // Read again, the file's macros are expanded again, with the words it is now read with.
                if widening.apply(file, source, tree, cache, pack) && !macros.is_empty() {
                    expand::expand_loaded(file, index, source, tree, &macros, widening.wider());
                }
            });
    }
    let crates = workspace
        .crates
        .iter()
        .flat_map(|c| c.targets.iter().map(|t| t.crate_name.clone()));
    let mut index = resolve::WorkspaceIndex {
        macro_names: macros.names().cloned().collect(),
        crates: crates.collect(),
        dependencies: workspace
            .crates
            .iter()
            .flat_map(|c| c.dependencies.iter().cloned())
            .collect(),
        ..Default::default()
    };
    drop(widening_phase);
    let names_phase = crate::timings::phase("index: names");
    let name_keys: Vec<Vec<u64>> = loaded
        .par_iter()
        .zip(&modules)
        .map(|(file, module)| snapshot::relative_name_keys(module, &file.names))
        .collect();
    index.add_name_keys(&name_keys);
    for (file, module) in loaded.iter().zip(&modules) {
        index.add_modules(&file.skeleton, module);
        index.add_item_wrappers(&file.skeleton, module);
    }
    drop(names_phase);
    let reexports_phase = crate::timings::phase("index: re-exports");
    index.globbed_by_children = loaded
        .iter()
        .zip(&modules)
        .flat_map(|(file, module)| {
            file.ancestor_globs
                .iter()
                .filter_map(|glob| file.skeleton.globbed_ancestor(&module.path, glob))
        })
        .collect();
    let gathered: Vec<Option<warm::Gathered>> = loaded
        .par_iter()
        .zip(&modules)
        .map(|(file, module)| warm::gather(file, module, &index))
        .collect();
    // A warm cache keeps the index as the re-exports were gathered against, and what each file gave.
    let pre_gather = cache.keeps_warm().then(|| index.clone());
    for (reexports, private_uses) in gathered.iter().flatten() {
        index.add_reexports(reexports.iter().cloned());
        index.private_uses.extend(private_uses.iter().cloned());
    }
    let structures = loaded.iter().map(|file| file.structure).collect();
    drop(reexports_phase);
    drop(indexing);
    let _resolving = crate::timings::phase("resolve");
    let results: Vec<(FileFacts, Option<u128>, Option<Vec<u8>>)> = loaded
        .par_iter()
        .zip(&modules)
        .zip(files)
        .map(|((file, module), source)| {
            let facts = resolve_one(&file.decode(), module, source, &index, keep);
            (facts, file.key, file.keep.then(|| file.encoded.clone()))
        })
        .collect();
    let mut facts = Vec::with_capacity(results.len());
    let mut keys = Vec::with_capacity(results.len());
    let mut encoded = Vec::with_capacity(results.len());
    for (file_facts, key, bytes) in results {
        facts.push(file_facts);
        keys.push(key);
        encoded.push(bytes);
    }
    Analysis {
        facts,
        keys,
        encoded,
        modules,
        structures,
        aliases,
        alias_crates: reaching,
        index,
        macros,
        loaded,
        name_keys,
        gathered: pre_gather.map(|index| (index, gathered)),
    }
}

/// The incremental path: only the files whose content changed since `previous` are parsed. `None` when
/// the change reaches other files (a file's structure changed, or the index is gone) and a full analysis
/// is needed.
fn analyze_changed(
    mut previous: Snapshot,
    files: &[SourceFile],
    tree: &dyn FileTree,
    cache: &ParseCache,
    words: &super::BodyWords,
    keep: &super::Keep<'_>,
    run: &str,
) -> Option<Vec<FileFacts>> {
    let seed = words.fingerprint();
    let hashing = crate::timings::phase("read+hash");
    let keys: Vec<Option<u128>> = files
        .par_iter()
        .map(|file| tree.read(&file.abs).ok().map(|bytes| xxh3_128_with_seed(&bytes, seed)))
        .collect();
    drop(hashing);
    let changed: Vec<usize> = (0..files.len())
        .filter(|&i| keys[i].is_none() || keys[i] != previous.files[i].key)
        .collect();
    if changed.is_empty() {
        return Some(previous.files.into_iter().map(|file| file.facts).collect());
    }
    let _incremental = crate::timings::phase("incremental");
    let reaching: Option<std::collections::HashSet<usize>> = previous
        .alias_crates
        .as_ref()
        .map(|crates| crates.iter().copied().collect());
    let rereading = warm::Rereading::new(words, &previous.aliases, reaching.as_ref());
    let disk = cache.disk()?;
    let macros: expand::MacroTable = postcard::from_bytes(&disk.load_blob(&format!("{run}.macros"))?).ok()?;
    // The index is read while the changed files are parsed: most incremental runs need it.
    // Changed files are parsed and resolved directly: unlike a full run's, their parses are not kept.
    // The index is read meanwhile: most incremental runs need it.
    let (parsed, index) = rayon::join(
        || -> Vec<(usize, ParsedFile, u64)> {
            changed
                .par_iter()
                .map(|&i| {
                    let parsed = rereading.parse(i, files, tree, cache, &macros);
                    let structure = load::structure(&parsed, &load::relative_names(&parsed));
                    (i, parsed, structure)
                })
                .collect()
        },
        || snapshot::decode_index(&disk.load_blob(&format!("{run}.index"))?, previous.index),
    );
    if parsed
        .iter()
        .any(|(i, _, structure)| *structure != previous.files[*i].structure)
    {
        return None;
    }
    let index = index?;
    let resolved: Vec<(usize, FileFacts)> = parsed
        .into_par_iter()
        .map(|(i, file, _)| {
            (
                i,
                resolve_one(&file, &previous.files[i].module, &files[i], &index, keep),
            )
        })
        .collect();
    for (i, facts) in resolved {
        previous.files[i].facts = facts;
        previous.files[i].key = keys[i];
    }
    if let Ok(bytes) = postcard::to_stdvec(&previous) {
        disk.store_blob(&format!("{run}.snapshot"), &bytes);
    }
    Some(previous.files.into_iter().map(|file| file.facts).collect())
}

/// Resolves one parsed file in its module, keeping the facts `keep` wants (a panic is that file's
/// internal error).
fn resolve_one(
    file: &ParsedFile,
    module: &modules::FileModule,
    source: &SourceFile,
    index: &resolve::WorkspaceIndex,
    keep: &super::Keep<'_>,
) -> FileFacts {
    let resolved = catch_unwind(AssertUnwindSafe(|| resolve::resolve_file(file, module, index, keep)));
    let mut facts = resolved.unwrap_or_else(|_| internal_error(module.path.clone()));
    facts.path = source.display.clone();
    facts
}

/// The facts of one file on its own (module `main`, no workspace around it), skipping the bodies that
/// mention none of `words`: what fuzzing and property tests drive. Never panics: a failure is the
/// file's problem.
pub fn analyze_source(bytes: &[u8], words: &super::BodyWords) -> FileFacts {
    let parsed = parse_bytes(bytes, words);
    let module = modules::FileModule {
        path: "main".to_owned(),
        in_test: false,
        cfg: parsed.inner_cfg.clone(),
    };
    let mut index = resolve::WorkspaceIndex::default();
    let resolved = catch_unwind(AssertUnwindSafe(|| {
        index.add_file(&parsed, &module);
        resolve::resolve_file(&parsed, &module, &index, &|_| true)
    }));
    resolved.unwrap_or_else(|_| internal_error(module.path.clone()))
}

fn internal_error(module: String) -> FileFacts {
    FileFacts {
        module,
        problem: Some(FileProblem::internal("the analyzer failed while resolving this file")),
        ..FileFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_parsing_one_file_is_that_files_internal_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("bad.rs"), format!("// {}\n", read::PANIC_FOR_TESTS)).expect("write");
        std::fs::write(dir.path().join("good.rs"), "pub struct Fine;\n").expect("write");
        let workspace = crate::workspace::scan(dir.path(), &[std::path::PathBuf::from(".")], &[]).expect("scan");
        let facts = crate::frontend::analyze(&workspace);
        let bad = facts.iter().find(|f| f.path == "bad.rs").expect("bad.rs");
        assert_eq!(
            bad.problem.as_ref().map(|p| p.kind),
            Some(crate::facts::ProblemKind::InternalError)
        );
        let good = facts.iter().find(|f| f.path == "good.rs").expect("good.rs");
        assert_eq!(good.definitions.len(), 1, "the rest of the report stands");
    }
}
