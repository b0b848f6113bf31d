//! Declarative macros across files: every `macro_rules!` the files define forms a table, and a file that
//! invokes one of them in item position is read again with the invocations expanded (by syn's reader,
//! which expands as it visits, nested invocations included).
//!
//! Which definition an invocation means follows rustc's rules as far as files alone tell: a macro of
//! the invoking crate by its name (the one in the same file first), else one another crate exports
//! (`#[macro_export]`), by `krate::name!` or, when only one crate exports that name, by the bare name.
//! Macros that only wrap items in attributes (`cfg_rt!`) are not in the table: their items are read
//! in place with the attributes' `cfg` (see `ParsedFile::item_wrappers`), which is the same result.
//!
//! Layer invariant: reads `load`, `read` and `raw`; knows nothing of modules or resolution.

use std::collections::HashMap;

use super::load::Loaded;
use super::raw::ParsedFile;
use super::read;
use super::syn_reader::{FoundMacro, MacroSource};
use crate::workspace::{FileTree, SourceFile, Workspace};

/// One definition in the table.
#[derive(Debug)]
struct Entry {
    rules: String,
    origin: String,
    krate: Option<usize>,
    file: usize,
}

/// The workspace's `macro_rules!`, by crate and name, and the exported ones by name.
#[derive(Debug, Default)]
pub(super) struct MacroTable {
    local: HashMap<(Option<usize>, String), Vec<Entry>>,
    exported: HashMap<String, Vec<(Option<usize>, String)>>,
    crate_names: Vec<String>,
}

impl MacroTable {
    /// The table of what `loaded` (the parses of `files`) define.
    pub(super) fn of(loaded: &[Loaded], files: &[SourceFile], workspace: &Workspace) -> Self {
        let mut table = MacroTable {
            crate_names: workspace.crates.iter().map(|c| c.name.clone()).collect(),
            ..MacroTable::default()
        };
        for (index, (file, source)) in loaded.iter().zip(files).enumerate() {
            let wrappers = &file.skeleton.item_wrappers;
            for definition in &file.skeleton.macro_rules {
                if wrappers.iter().any(|(name, _)| *name == definition.name) {
                    continue;
                }
                let key = (source.krate, definition.name.clone());
                if definition.exported {
                    let exporters = table.exported.entry(definition.name.clone()).or_default();
                    if !exporters.contains(&key) {
                        exporters.push(key.clone());
                    }
                }
                table.local.entry(key).or_default().push(Entry {
                    rules: definition.rules.clone(),
                    origin: format!(
                        "`{}!` (defined at {}:{})",
                        definition.name, source.display, definition.span.line
                    ),
                    krate: source.krate,
                    file: index,
                });
            }
        }
        table
    }

    /// Whether the workspace defines no macro to expand.
    pub(super) fn is_empty(&self) -> bool {
        self.local.is_empty()
    }

    /// Whether a file invokes a macro of the table (by name; which one is decided when it is expanded).
    pub(super) fn invoked_by(&self, file: &ParsedFile) -> bool {
        file.item_macro_calls
            .iter()
            .any(|name| self.exported.contains_key(name) || self.local.keys().any(|(_, n)| n == name))
    }

    fn entry<'t>(&'t self, path: &[String], krate: Option<usize>, file: usize) -> Option<&'t Entry> {
        let (name, qualifier) = match path {
            [name] => (name, None),
            [qualifier, name] => (name, Some(qualifier.as_str())),
            _ => return None,
        };
        let pick = |entries: &'t Vec<Entry>| -> Option<&'t Entry> {
            entries.iter().find(|e| e.file == file).or_else(|| entries.first())
        };
        let own = || self.local.get(&(krate, name.clone())).and_then(pick);
        match qualifier {
            None => own().or_else(|| match self.exported.get(name).map(Vec::as_slice) {
                Some([only]) => self.local.get(only).and_then(pick),
                _ => None,
            }),
            Some("crate" | "$crate" | "self") => own(),
            Some(other) => {
                let exporter = self
                    .exported
                    .get(name)?
                    .iter()
                    .find(|(k, _)| k.and_then(|k| self.crate_names.get(k)).is_some_and(|n| n == other))?;
                self.local.get(exporter).and_then(pick)
            }
        }
    }
}

/// The table as one file of one crate sees it.
struct Seen<'t> {
    table: &'t MacroTable,
    krate: Option<usize>,
    file: usize,
}

impl MacroSource for Seen<'_> {
    fn find(&self, path: &[String]) -> Option<FoundMacro<'_>> {
        let entry = self.table.entry(path, self.krate, self.file)?;
        let dollar_crate = match entry.krate {
            Some(k) if entry.krate != self.krate => self.table.crate_names.get(k).map_or("crate", String::as_str),
            _ => "crate",
        };
        Some(FoundMacro {
            rules: &entry.rules,
            origin: &entry.origin,
            dollar_crate,
        })
    }
}

/// Reads again, with the table's macros expanded, each file that invokes one of them. An expanded
/// parse is not kept for later runs: it depends on other files' macros, not only on its own text.
pub(super) fn expand_invocations(loaded: &mut [Loaded], files: &[SourceFile], tree: &dyn FileTree, table: &MacroTable) {
    use rayon::prelude::*;
    loaded.par_iter_mut().enumerate().for_each(|(index, file)| {
        if !table.invoked_by(&file.skeleton) {
            return;
        }
        let Ok(bytes) = tree.read(&files[index].abs) else {
            return;
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return;
        };
        let seen = Seen {
            table,
            krate: files[index].krate,
            file: index,
        };
        let first = file.decode();
        let expanded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read::parse_expanding(text, &seen, &first)
        }));
        if let Ok(expanded) = expanded {
            let key = file.key;
            *file = Loaded::new(&expanded, key, None);
            file.keep = false;
        }
    });
}
