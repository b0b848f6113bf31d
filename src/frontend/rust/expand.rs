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

use rayon::prelude::*;

use super::load::Loaded;
use super::raw::{ParsedFile, RawInvocation, RawMacroRules};
use super::read;
use super::syn_reader::{FoundMacro, MacroSource, declares_module_or_import};
use super::text::lexer::{Lexer, Token};
use crate::frontend::BodyWords;
use crate::workspace::{FileTree, SourceFile, Workspace};

/// One definition in the table.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    name: String,
    rules: String,
    origin: String,
    krate: Option<usize>,
    file: usize,
    /// Its rules, or those of a table macro they invoke, mention a rule's word, `mod` or `use`: what it
    /// makes can matter whatever it is given.
    matters: bool,
    /// The same, for the rules that read test code: what it makes in test code can matter.
    matters_in_tests: bool,
    /// The macros its rules invoke (needed only while the table is made).
    #[serde(skip)]
    invoked: Vec<String>,
}

impl Entry {
    /// Whether what it makes can matter in test code (`in_tests`) or elsewhere.
    fn matters_in(&self, in_tests: bool) -> bool {
        if in_tests { self.matters_in_tests } else { self.matters }
    }
}

/// The workspace's `macro_rules!`, by crate and name, and the exported ones by name. Kept with a run's
/// snapshot: a file changed later is expanded with the same table.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct MacroTable {
    local: HashMap<(Option<usize>, String), Vec<Entry>>,
    exported: HashMap<String, Vec<(Option<usize>, String)>>,
    crate_names: Vec<String>,
    /// Each crate's folder, by crate index.
    crate_dirs: Vec<std::path::PathBuf>,
    /// Every macro name in the table.
    names: std::collections::HashSet<String>,
}

impl MacroTable {
    /// The table of what `loaded` (the parses of `files`) define, with what `words` say matters.
    pub(super) fn of(loaded: &[Loaded], files: &[SourceFile], workspace: &Workspace, words: &BodyWords) -> Self {
        let mut table = MacroTable {
            crate_names: workspace.crates.iter().map(|c| c.name.clone()).collect(),
            crate_dirs: workspace.crates.iter().map(|c| c.dir.clone()).collect(),
            ..MacroTable::default()
        };
        let definitions: Vec<(usize, &SourceFile, &RawMacroRules)> = loaded
            .iter()
            .zip(files)
            .enumerate()
            .flat_map(|(index, (file, source))| {
                let wrappers = &file.skeleton.item_wrappers;
                // `cfg_if!` (a crate's copy of it too) is read natively, branch by branch under its cfgs.
                file.skeleton
                    .macro_rules
                    .iter()
                    .filter(|d| d.name != "cfg_if" && !wrappers.iter().any(|(name, _)| *name == d.name))
                    .map(move |definition| (index, source, definition))
            })
            .collect();
        let readings: Vec<Reading> = definitions
            .par_iter()
            .map(|(_, _, definition)| Reading::of(&definition.rules, words))
            .collect();
        for ((index, source, definition), reading) in definitions.into_iter().zip(readings) {
            let key = (source.krate, definition.name.clone());
            if definition.exported {
                let exporters = table.exported.entry(definition.name.clone()).or_default();
                if !exporters.contains(&key) {
                    exporters.push(key.clone());
                }
            }
            table.local.entry(key).or_default().push(Entry {
                name: definition.name.clone(),
                matters: reading.matters,
                matters_in_tests: reading.matters_in_tests,
                invoked: reading.invoked,
                rules: definition.rules.clone(),
                origin: format!(
                    "`{}!` (defined at {}:{})",
                    definition.name, source.display, definition.span.line
                ),
                krate: source.krate,
                file: index,
            });
        }
        table.names = table.local.keys().map(|(_, name)| name.clone()).collect();
        table.spread_matters();
        table
    }

    /// A macro that invokes one that matters matters too (to a fixed point; the table is small).
    fn spread_matters(&mut self) {
        let flags: [fn(&mut Entry) -> &mut bool; 2] = [|e| &mut e.matters, |e| &mut e.matters_in_tests];
        for flag in flags {
            loop {
                let mattering: std::collections::HashSet<String> = self
                    .local
                    .values_mut()
                    .flatten()
                    .filter_map(|e| (*flag(e)).then(|| e.name.clone()))
                    .collect();
                let mut changed = false;
                for entry in self.local.values_mut().flatten() {
                    if !*flag(entry) && entry.invoked.iter().any(|name| mattering.contains(name)) {
                        *flag(entry) = true;
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
        }
    }

    /// The names of the table's macros.
    pub(super) fn names(&self) -> impl Iterator<Item = &String> {
        self.names.iter()
    }

    /// Whether a file is a test, bench or example target's by where it lies in its package (cargo's
    /// layout): what it holds counts only for the rules that read test code.
    fn is_test_file(&self, source: &SourceFile) -> bool {
        let Some(dir) = source.krate.and_then(|k| self.crate_dirs.get(k)) else {
            return false;
        };
        source
            .abs
            .strip_prefix(dir)
            .ok()
            .and_then(|path| path.components().next())
            .is_some_and(|first| matches!(first.as_os_str().to_str(), Some("tests" | "benches" | "examples")))
    }

    /// Whether an invocation can make something a rule finds: its macro matters, or what it is given
    /// mentions a rule's word or declares a module or imports (a quiet one's item does none of these;
    /// for another, `text` says, the worst assumed without it).
    fn relevant(
        &self,
        invocation: &RawInvocation,
        (krate, file): (Option<usize>, usize),
        text: Option<&str>,
        words: &BodyWords,
        test_file: bool,
    ) -> bool {
        let in_tests = test_file || invocation.in_test;
        let words = if in_tests { words.in_tests() } else { words };
        self.knows(&invocation.name)
            && (!words.skips_bodies()
                || self.may_matter(&invocation.name, krate, file, in_tests)
                || (!invocation.quiet
                    && text.is_none_or(|t| {
                        // What it is given reaches what it makes only as code: a word in a comment, a
                        // literal or (unless a rule reads them) an attribute cannot make a finding. A
                        // module or an import it is given gets what the macro puts on it (its cfg).
                        t.get(invocation.range.clone()).is_none_or(|item| {
                            // The text first: most items mention no word anywhere.
                            let (wordy, structural) =
                                (words.mentioned_in(item), item.contains("mod") || item.contains("use"));
                            (wordy || structural) && {
                                let code = MacroCode::read(item, words.reads_attributes()).idents;
                                words.mentioned_in(&code) || declares_module_or_import(&code)
                            }
                        })
                    })))
    }

    /// Whether a definition that an invocation of `name` in a crate's file may mean matters (see
    /// [`Entry::matters`]): the one a bare `name!` means there, or any another crate exports under that
    /// name (a path, `krate::name!`, can name one of those).
    fn may_matter(&self, name: &str, krate: Option<usize>, file: usize, in_tests: bool) -> bool {
        let matters = |entry: &Entry| entry.matters_in(in_tests);
        let exported = self.exported.get(name).into_iter().flatten();
        self.entry(&[name.to_owned()], krate, file).is_some_and(matters)
            || exported
                .filter_map(|exporter| self.local.get(exporter))
                .flatten()
                .any(matters)
    }

    /// Whether an invocation of `name` may be one of the table's macros.
    fn knows(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Whether the workspace defines no macro to expand.
    pub(super) fn is_empty(&self) -> bool {
        self.local.is_empty()
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

/// What a macro's rules are made of, read with the byte lexer (comments, literals and lifetimes are
/// not code, so a word in a message or `'static` says nothing).
struct MacroCode {
    /// The identifiers, space-separated; those inside attributes (`#[..]`, `#![..]`) only when asked.
    idents: String,
    /// `mod` or `use` written where items go: outside any block of the output (a `use` in a function
    /// body is that body's alone), the output being the rule's right side, one brace deep in braces.
    item_level_module_or_import: bool,
    /// The macros invoked (`name!`, `path::name!`), each once.
    invoked: Vec<String>,
}

impl MacroCode {
    /// Reads a macro's rules; `attributes`: keep the identifiers inside attributes (a rule selects by
    /// attribute).
    fn read(rules: &str, attributes: bool) -> Self {
        let bytes = rules.as_bytes();
        let mut lexer = Lexer::new(bytes);
        let mut code = MacroCode {
            idents: String::new(),
            item_level_module_or_import: false,
            invoked: Vec::new(),
        };
        let (mut depth, mut last_ident) = (0usize, None);
        let mut previous = [Token::Punct(0); 2];
        while let Some((token, start)) = lexer.next() {
            let attribute = previous[1] == Token::Punct(b'#') || (previous == [Token::Punct(b'#'), Token::Punct(b'!')]);
            match token {
                Token::Open(b'[') if attribute && !attributes => {
                    let Some(_) = lexer.skip_group() else {
                        break;
                    };
                }
                Token::Open(b'{') => depth += 1,
                Token::Close(b'}') => depth = depth.saturating_sub(1),
                Token::Ident => {
                    let word = &rules[start..lexer.position()];
                    if (word == "mod" || word == "use") && depth <= 1 {
                        code.item_level_module_or_import = true;
                    }
                    code.idents.push_str(word);
                    code.idents.push(' ');
                    last_ident = Some(word);
                }
                // `name!`, not `a != b`.
                Token::Punct(b'!') if previous[1] == Token::Ident && bytes.get(lexer.position()) != Some(&b'=') => {
                    if let Some(name) = last_ident.filter(|name| !code.invoked.iter().any(|n| n == name)) {
                        code.invoked.push(name.to_owned());
                    }
                }
                _ => {}
            }
            previous = [previous[1], token];
        }
        code
    }
}

/// What a macro's rules (as written) say of it: whether they can make something a rule finds, for all
/// rules and for those that read test code, and which macros they invoke.
struct Reading {
    matters: bool,
    matters_in_tests: bool,
    invoked: Vec<String>,
}

impl Reading {
    /// A macro's rules can make something a rule with `words` finds when they mention one of its words
    /// (attributes left out unless a rule selects by attribute) or write item-level `mod`/`use`.
    fn of(rules: &str, words: &BodyWords) -> Self {
        let attributes = words.reads_attributes();
        let code = MacroCode::read(rules, attributes);
        let matters = |words: &BodyWords| {
            !words.skips_bodies() || code.item_level_module_or_import || words.mentioned_in(&code.idents)
        };
        Reading {
            matters: matters(words),
            matters_in_tests: matters(words.in_tests()),
            // Invocations are read outside attributes whatever the rules select.
            invoked: match attributes {
                true => MacroCode::read(rules, false).invoked,
                false => code.invoked,
            },
        }
    }
}

/// The table as one file of one crate sees it.
struct Seen<'t> {
    table: &'t MacroTable,
    krate: Option<usize>,
    file: usize,
    words: &'t BodyWords,
    /// The file is a test target's.
    test_file: bool,
    /// The file's first reading left out bodies no rule needs: generated ones may be too.
    prunes_bodies: bool,
}

impl MacroSource for Seen<'_> {
    fn find(&self, path: &[String], in_test: bool) -> Option<FoundMacro<'_>> {
        let entry = self.table.entry(path, self.krate, self.file)?;
        let dollar_crate = match entry.krate {
            Some(k) if entry.krate != self.krate => self.table.crate_names.get(k).map_or("crate", String::as_str),
            _ => "crate",
        };
        Some(FoundMacro {
            rules: &entry.rules,
            origin: &entry.origin,
            dollar_crate,
            matters: entry.matters_in(self.test_file || in_test),
        })
    }

    fn words(&self, in_test: bool) -> &BodyWords {
        match self.test_file || in_test {
            true => self.words.in_tests(),
            false => self.words,
        }
    }

    fn prunes_bodies(&self) -> bool {
        self.prunes_bodies
    }
}

/// Reads again, with the table's macros expanded, each file that invokes one of them. An expanded
/// parse is not kept for later runs: it depends on other files' macros, not only on its own text.
pub(super) fn expand_invocations(
    loaded: &mut [Loaded],
    files: &[SourceFile],
    tree: &dyn FileTree,
    table: &MacroTable,
    words: &BodyWords,
) {
    loaded
        .par_iter_mut()
        .enumerate()
        .for_each(|(index, file)| expand_loaded(file, index, &files[index], tree, table, words));
}

/// [`expand_invocations`] for one file, read with `words`.
pub(super) fn expand_loaded(
    file: &mut Loaded,
    index: usize,
    source: &SourceFile,
    tree: &dyn FileTree,
    table: &MacroTable,
    words: &BodyWords,
) {
    let (skeleton, decode) = (&file.skeleton, || file.decode());
    if let Some(expanded) = expand_file(skeleton, decode, index, source, tree, table, words) {
        let key = file.key;
        *file = Loaded::new(&expanded, key, None);
        file.keep = false;
    }
}

/// One file's parse with the table's macros expanded where it invokes them and a rule can use what
/// they make (`index` is the file's place in the scan); `None` when there is nothing to expand. The
/// parse is asked for (`parse`) only then; `calls` is any parse of the file that knows its invocations.
pub(super) fn expand_file(
    calls: &ParsedFile,
    parse: impl FnOnce() -> ParsedFile,
    index: usize,
    source: &SourceFile,
    tree: &dyn FileTree,
    table: &MacroTable,
    words: &BodyWords,
) -> Option<ParsedFile> {
    // The text is read only when some invocation may be relevant.
    let test_file = table.is_test_file(source);
    if !calls
        .invocations
        .iter()
        .any(|i| table.relevant(i, (source.krate, index), None, words, test_file))
    {
        return None;
    }
    let bytes = tree.read(&source.abs).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let relevant: Vec<&RawInvocation> = calls
        .invocations
        .iter()
        .filter(|i| table.relevant(i, (source.krate, index), Some(text), words, test_file))
        .collect();
    if relevant.is_empty() {
        return None;
    }
    let seen = Seen {
        table,
        krate: source.krate,
        file: index,
        words,
        test_file,
        prunes_bodies: calls.skipped_bodies,
    };
    let parsed = parse();
    // Invocations only at the top level: just their items are read again; else the whole file.
    let ranges: Option<Vec<std::ops::Range<usize>>> =
        relevant.iter().map(|i| i.top_level.then(|| i.range.clone())).collect();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match ranges {
        Some(ranges) => {
            let mut parsed = parsed;
            read::expand_items(text, &ranges, &seen, &mut parsed);
            // The table's invocations left as they were read are ones no rule can use (not unseen, as in
            // a file not read again); those read again say for themselves.
            parsed
                .opaque_macro_calls
                .retain(|(name, at)| !table.knows(name) || ranges.iter().any(|range| range.contains(at)));
            parsed
        }
        None => {
            // The bodies the first reading left out are left out again, but for those in invocations.
            let invoked: Vec<std::ops::Range<usize>> = calls.invocations.iter().map(|i| i.range.clone()).collect();
            let skipping = calls.skipped_bodies.then_some((words, invoked.as_slice()));
            read::parse_expanding(text, &seen, &parsed, skipping)
        }
    }))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::MacroCode;

    #[test]
    fn names_invoked_as_macros() {
        assert_eq!(MacroCode::read("a! (x) b :: c !{} d != e f", false).invoked, ["a", "c"]);
    }

    #[test]
    fn only_item_level_uses_and_modules_count() {
        let items = |rules: &str| MacroCode::read(rules, false).item_level_module_or_import;
        assert!(items("($n:ident) => { use std::fmt; };"));
        assert!(items("($n:ident) => ( mod $n {} );"));
        assert!(!items("($n:ident) => { fn $n() { use std::fmt; } };"));
        assert!(!items("($n:ident) => { const _: () = { use x::y; }; };"));
    }

    #[test]
    fn comments_literals_lifetimes_and_attributes_are_not_code() {
        let rules = r#"() => { #[deprecated(note = "use x")] #![allow(y)] pub struct S<'static>; // mod z
            const Q: char = '"'; fn f() -> &'static str { "mod" } /* use w */ }"#;
        let code = MacroCode::read(rules, false);
        assert_eq!(code.idents, "pub struct S const Q char fn f str ");
        assert!(!code.item_level_module_or_import);
        assert!(MacroCode::read(rules, true).idents.contains("deprecated note allow y"));
    }
}
