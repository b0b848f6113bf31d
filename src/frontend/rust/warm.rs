//! The last analysis kept in memory by a process that checks again and again (the language server),
//! and the check after an edit made from it.
//!
//! Files are known unchanged by their stamps (see [`crate::workspace::FileTree::stamp`]) without being
//! read. A changed file whose structure is the same is parsed and resolved again, alone. A changed file
//! that only declares other names than before (a struct added, a function renamed) changes the
//! index's names, which resolution looks up by the identifiers a path is written with, or by those the
//! index's re-export and private-use maps substitute for them. So the re-exports and private uses that
//! files give the index are gathered again where they could change (in files whose text holds an
//! identifier added or removed); when they are what they were, the changed files and every file whose
//! text holds one of those identifiers, or the name of a map entry leading to one, are resolved again.
//! A macro whose rules write such an identifier brings it into files that only write the macro's name:
//! those are resolved again too. A change this cannot follow exactly sends the caller to a full
//! analysis (`Err`, saying why): other re-exports, a change to the names re-exports give the rules'
//! words, and every structural change besides names (imports, modules, scopes, macros).
//!
//! Layer invariant: above every layer of the frontend (it drives parsing, expansion, index and
//! resolution for the files that changed); below the driver only.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128_with_seed};

use super::aliases::{self, Widening};
use super::expand::{self, MacroTable};
use super::load::{self, Loaded, read_and_parse};
use super::modules::FileModule;
use super::raw::ParsedFile;
use super::resolve::{self, WorkspaceIndex};
use super::snapshot;
use super::unreadable::ShortcutReading;
use crate::facts::FileFacts;
use crate::frontend::{BodyWords, Keep, ParseCache};
use crate::workspace::{FileTree, SourceFile, Workspace};

/// What a full analysis leaves for the checks after it, in memory.
pub(super) struct Warm {
    /// The run (words, rules, roots) and the layout (crates, files) it is for.
    pub run: String,
    pub layout: u64,
    /// Per file, in the workspace's order: its stamp when last seen, its content key, its parse, its
    /// module, its declared names' index keys, the identifiers its text holds (hashed, sorted), and its
    /// resolved facts.
    stamps: Vec<Option<u64>>,
    keys: Vec<Option<u128>>,
    loaded: Vec<Loaded>,
    modules: Vec<FileModule>,
    name_keys: Vec<Vec<u64>>,
    identifiers: Vec<Vec<u64>>,
    facts: Vec<FileFacts>,
    /// How many files declare each name key (the index's set holds those with a count).
    name_counts: HashMap<u64, u32>,
    index: WorkspaceIndex,
    aliases: Vec<String>,
    alias_crates: Option<HashSet<usize>>,
    macros: MacroTable,
    /// The index as re-exports and private uses were gathered against (before they were added), and
    /// what each file gave.
    pre_gather: WorkspaceIndex,
    gathered: Vec<Option<Gathered>>,
    /// Each `macro_rules!` of the workspace: its name and the identifiers its rules hold (an expansion
    /// brings them into files that only write the macro's name).
    macro_bodies: Vec<(String, Vec<u64>)>,
}

/// What a file gives the index: its re-exports and its private uses (see `resolve`).
pub(super) type Gathered = (Vec<(String, String)>, Vec<(String, String)>);

/// What `file` gives the index (`None`: nothing to gather, it neither re-exports nor is globbed).
pub(super) fn gather(file: &Loaded, module: &FileModule, index: &WorkspaceIndex) -> Option<Gathered> {
    gather_parsed(file, None, module, index)
}

fn gather_parsed(
    file: &Loaded,
    parsed: Option<&ParsedFile>,
    module: &FileModule,
    index: &WorkspaceIndex,
) -> Option<Gathered> {
    if !(file.reexports || index.has_globbed_module(&file.skeleton, module)) {
        return None;
    }
    let decoded;
    let parsed = match parsed {
        Some(parsed) => parsed,
        None => {
            decoded = file.decode();
            &decoded
        }
    };
    let reexports = file.reexports.then(|| resolve::reexports(parsed, module, index));
    Some((
        reexports.unwrap_or_default(),
        resolve::private_uses(parsed, module, index),
    ))
}

/// What a full analysis hands over to become the warm state.
pub(super) struct FullAnalysis {
    pub keys: Vec<Option<u128>>,
    pub loaded: Vec<Loaded>,
    pub modules: Vec<FileModule>,
    pub name_keys: Vec<Vec<u64>>,
    pub facts: Vec<FileFacts>,
    pub index: WorkspaceIndex,
    pub aliases: Vec<String>,
    pub alias_crates: Option<HashSet<usize>>,
    pub macros: MacroTable,
    pub gathered: (WorkspaceIndex, Vec<Option<Gathered>>),
}

impl Warm {
    /// Keeps a full analysis of `files` (read through `tree`) for run `run` and layout `layout`.
    pub fn new(run: String, layout: u64, files: &[SourceFile], tree: &dyn FileTree, full: FullAnalysis) -> Self {
        let (stamps, identifiers): (Vec<Option<u64>>, Vec<Vec<u64>>) = files
            .par_iter()
            .map(|file| {
                // The stamp is taken before the text is read: a write in between changes it again.
                let stamp = tree.stamp(&file.abs);
                (
                    stamp,
                    tree.read(&file.abs).map(|b| identifiers_of(&b)).unwrap_or_default(),
                )
            })
            .unzip();
        let mut name_counts: HashMap<u64, u32> = HashMap::new();
        for key in full.name_keys.iter().flatten() {
            *name_counts.entry(*key).or_default() += 1;
        }
        let mut warm = Warm {
            run,
            layout,
            stamps,
            keys: full.keys,
            loaded: full.loaded,
            modules: full.modules,
            name_keys: full.name_keys,
            identifiers,
            facts: full.facts,
            name_counts,
            index: full.index,
            aliases: full.aliases,
            alias_crates: full.alias_crates,
            macros: full.macros,
            pre_gather: full.gathered.0,
            gathered: full.gathered.1,
            macro_bodies: Vec::new(),
        };
        warm.macro_bodies = warm
            .loaded
            .iter()
            .flat_map(|loaded| &loaded.skeleton.macro_rules)
            .map(|m| (m.name.clone(), identifiers_of(m.rules.as_bytes())))
            .collect();
        warm
    }

    /// The facts of every file.
    pub fn facts(&self) -> &[FileFacts] {
        &self.facts
    }

    /// Brings the analysis up to date with `files` as `tree` has them now, or says why it cannot follow
    /// the change exactly (the caller then analyzes in full).
    pub fn update(
        &mut self,
        workspace: &Workspace,
        files: &[SourceFile],
        tree: &dyn FileTree,
        cache: &ParseCache,
        words: &BodyWords,
        keep: &Keep<'_>,
    ) -> Result<(), &'static str> {
        let seed = words.fingerprint();
        let stamping = crate::timings::phase("warm: stamps");
        let stamps: Vec<Option<u64>> = files.par_iter().map(|file| tree.stamp(&file.abs)).collect();
        let candidates: Vec<usize> = (0..files.len())
            .filter(|&i| stamps[i].is_none() || stamps[i] != self.stamps[i])
            .collect();
        // Each candidate is read once: its key, and for a changed one the identifiers its text holds.
        let read: Vec<(usize, Option<u128>, Vec<u64>)> = candidates
            .par_iter()
            .filter_map(|&i| {
                let Ok(bytes) = tree.read(&files[i].abs) else {
                    return Some((i, None, Vec::new()));
                };
                let key = xxh3_128_with_seed(&bytes, seed);
                (Some(key) != self.keys[i]).then(|| (i, Some(key), identifiers_of(&bytes)))
            })
            .collect();
        self.stamps = stamps;
        let changed: Vec<usize> = read.iter().map(|(i, ..)| *i).collect();
        drop(stamping);
        if changed.is_empty() {
            return Ok(());
        }
        let parsing = crate::timings::phase("warm: parse changed");
        let rereading = Rereading::new(words, &self.aliases, self.alias_crates.as_ref());
        let parsed: Vec<(usize, ParsedFile, Loaded, Vec<u64>)> = read
            .into_par_iter()
            .map(|(i, key, identifiers)| {
                let parsed = rereading.parse(i, files, tree, cache, &self.macros);
                let loaded = Loaded::new(&parsed, key, None);
                (i, parsed, loaded, identifiers)
            })
            .collect();
        drop(parsing);
        let _aliasing = crate::timings::phase("warm: names and aliases");
        // Which identifiers the changed files stopped or started declaring, if that is all that changed.
        let mut renamed: HashSet<String> = HashSet::new();
        for (i, parsed, loaded, _) in &parsed {
            let before = &self.loaded[*i];
            if loaded.structure == before.structure {
                continue;
            }
            let same_shape = load::structure(parsed, "") == load::structure(&before.decode(), "");
            if !same_shape {
                return Err("a changed file's imports, modules, scopes or macros changed");
            }
            let (was, is) = (declared_identifiers(&before.names), declared_identifiers(&loaded.names));
            renamed.extend(was.symmetric_difference(&is).cloned());
        }
        let mut affected: HashSet<usize> = changed.iter().copied().collect();
        if !renamed.is_empty() {
            // The names re-exports give to the words must stay what they were (they decide what is read).
            let declared: Vec<&str> = (0..files.len())
                .map(|i| match parsed.iter().find(|(at, ..)| *at == i) {
                    Some((_, _, loaded, _)) => loaded.names.as_str(),
                    None => self.loaded[i].names.as_str(),
                })
                .collect();
            let skeletons: Vec<&ParsedFile> = self.loaded.iter().map(|l| &l.skeleton).collect();
            // The words the full analysis names re-exports with (a run without shortcuts: those of one with).
            let naming = words.shortcut_words().unwrap_or(words);
            if naming.skips_bodies()
                && aliases::reexported_names(naming, &skeletons, &self.modules, &declared, files, workspace)
                    != (self.aliases.clone(), self.alias_crates.clone())
            {
                return Err("the names re-exports give to the rules' words changed");
            }
        }
        for (i, _, loaded, _) in &parsed {
            let keys = snapshot::relative_name_keys(&self.modules[*i], &loaded.names);
            for key in &self.name_keys[*i] {
                if let Some(count) = self.name_counts.get_mut(key) {
                    *count -= 1;
                    if *count == 0 {
                        self.name_counts.remove(key);
                        self.index.names.remove(key);
                        self.pre_gather.names.remove(key);
                    }
                }
            }
            for key in &keys {
                *self.name_counts.entry(*key).or_default() += 1;
                self.index.names.insert(*key);
                self.pre_gather.names.insert(*key);
            }
            self.name_keys[*i] = keys;
        }
        drop(_aliasing);
        let _gathering = crate::timings::phase("warm: re-exports gathered again");
        if !renamed.is_empty() {
            let hashes: HashSet<u64> = renamed.iter().map(|id| xxh3_64(id.as_bytes())).collect();
            let regathered: Vec<bool> = (0..files.len())
                .into_par_iter()
                .filter(|&i| self.gathered[i].is_some())
                .filter(|&i| changed.contains(&i) || mentions(&self.identifiers[i], &hashes))
                .map(|i| {
                    let new = parsed.iter().find(|(at, ..)| *at == i);
                    let again = match new {
                        Some((_, parsed, loaded, _)) => {
                            gather_parsed(loaded, Some(parsed), &self.modules[i], &self.pre_gather)
                        }
                        None => gather(&self.loaded[i], &self.modules[i], &self.pre_gather),
                    };
                    again == self.gathered[i]
                })
                .collect();
            if regathered.contains(&false) {
                return Err("a re-export or private use resolves elsewhere now");
            }
            let reached = self.reaching(renamed);
            affected.extend((0..files.len()).filter(|&i| mentions(&self.identifiers[i], &reached)));
        }
        for (i, _, loaded, identifiers) in parsed {
            self.keys[i] = loaded.key;
            self.loaded[i] = loaded;
            self.identifiers[i] = identifiers;
        }
        drop(_gathering);
        let _resolving = crate::timings::phase("warm: resolve affected");
        crate::timings::note(|| format!("{} changed, {} resolved again", changed.len(), affected.len()));
        let resolved: Vec<(usize, FileFacts)> = affected
            .into_par_iter()
            .map(|i| {
                let facts =
                    super::resolve_one(&self.loaded[i].decode(), &self.modules[i], &files[i], &self.index, keep);
                (i, facts)
            })
            .collect();
        for (i, facts) in resolved {
            self.facts[i] = facts;
        }
        Ok(())
    }

    /// The identifiers (hashed) whose paths can lead to one of `renamed`: those, the names of the
    /// macros whose rules write one, and the names of the index's re-exports and private uses whose
    /// targets can, followed to the end.
    fn reaching(&self, mut renamed: HashSet<String>) -> HashSet<u64> {
        let hashes: HashSet<u64> = renamed.iter().map(|id| xxh3_64(id.as_bytes())).collect();
        for (name, identifiers) in &self.macro_bodies {
            if identifiers.iter().any(|id| hashes.contains(id)) {
                renamed.insert(name.clone());
            }
        }
        // A path reaches an entry by its name (`module::name`, or `name` under a glob of `module`); a
        // glob re-export passes on the very names looked up through it, which are in `renamed` already.
        let index = &self.index;
        let entries: Vec<(&str, &str)> = index
            .reexports
            .iter()
            .chain(&index.private_uses)
            .map(|(key, value)| (key.rsplit("::").next().unwrap_or(key), value.as_str()))
            .collect();
        loop {
            let before = renamed.len();
            for (name, value) in &entries {
                if !renamed.contains(*name) && value.split("::").any(|segment| renamed.contains(segment)) {
                    renamed.insert((*name).to_owned());
                }
            }
            if renamed.len() == before {
                break;
            }
        }
        renamed.iter().map(|id| xxh3_64(id.as_bytes())).collect()
    }
}

/// How a changed file is read again, as a run over it would read it: with the wider words when the
/// re-exported names say so, the unreadable items' problem as a run with shortcuts reports it, and its
/// invocations of the workspace's macros expanded.
pub(super) struct Rereading<'w> {
    words: &'w BodyWords,
    widening: Option<Widening>,
    shortcut_reading: Option<ShortcutReading<'w>>,
}

impl<'w> Rereading<'w> {
    /// The reading of a run with `words`, whose re-exports give `aliases` to them, which files of the
    /// crates in `reaching` (`None`: any) may name.
    pub fn new(words: &'w BodyWords, aliases: &[String], reaching: Option<&HashSet<usize>>) -> Self {
        let widening = Widening::new(words, aliases).map(|w| w.reaching(reaching.cloned()));
        let shortcut_reading = words.shortcut_words().map(|shortcut_words| {
            let widening = Widening::new(shortcut_words, aliases).map(|w| w.reaching(reaching.cloned()));
            ShortcutReading::new(shortcut_words, widening)
        });
        Rereading {
            words,
            widening,
            shortcut_reading,
        }
    }

    /// Parses file `i` of `files` again.
    pub fn parse(
        &self,
        i: usize,
        files: &[SourceFile],
        tree: &dyn FileTree,
        cache: &ParseCache,
        macros: &MacroTable,
    ) -> ParsedFile {
        cache.count_parse();
        let mut parsed = read_and_parse(&files[i], tree, self.words);
        let mut read_with = self.words;
        if let Some(widening) = &self.widening
            && widening.wanted(parsed.skipped_bodies, &files[i], tree)
        {
            read_with = widening.wider();
            parsed = read_and_parse(&files[i], tree, read_with);
        }
        if let Some(reading) = &self.shortcut_reading
            && parsed.partly_read()
        {
            parsed.problem = reading.problem(&files[i], tree);
        }
        let read_again = || parsed.clone();
        if let Some(expanded) = expand::expand_file(&parsed, read_again, i, &files[i], tree, macros, read_with) {
            parsed = expanded;
        }
        parsed
    }
}

/// The identifiers a text holds, hashed, sorted and without repeats (words in comments and strings
/// too: more than the paths hold, never less).
pub(super) fn identifiers_of(bytes: &[u8]) -> Vec<u64> {
    let mut found: Vec<u64> = bytes
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80))
        .filter(|word| word.first().is_some_and(|b| !b.is_ascii_digit()))
        .map(xxh3_64)
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// Whether a file's identifiers (sorted) hold one of `wanted`.
fn mentions(identifiers: &[u64], wanted: &HashSet<u64>) -> bool {
    wanted.iter().any(|id| identifiers.binary_search(id).is_ok())
}

/// The identifiers of a file's declared names (see `load::relative_names`).
fn declared_identifiers(names: &str) -> HashSet<String> {
    names
        .lines()
        .flat_map(|line| line.split(['\t', ':']))
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_whole_words_not_numbers() {
        let found = identifiers_of("pub struct AhoBuilder; // r#type 42 é_x\nfn x2() {}".as_bytes());
        let expected: HashSet<u64> = ["pub", "struct", "AhoBuilder", "r", "type", "é_x", "fn", "x2"]
            .iter()
            .map(|w| xxh3_64(w.as_bytes()))
            .collect();
        assert_eq!(found.iter().copied().collect::<HashSet<u64>>(), expected);
        assert!(found.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn declared_identifiers_are_every_part_of_a_name() {
        let names = "\tHandler\ninner\tRouter::route\n";
        let expected: HashSet<String> = ["Handler", "inner", "Router", "route"].map(str::to_owned).into();
        assert_eq!(declared_identifiers(names), expected);
    }
}
