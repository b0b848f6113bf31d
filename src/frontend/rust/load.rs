//! Getting one file's parse: from the in-memory cache (commits), the last run's parse pack, or the
//! parser; and keeping it encoded, with the little the phases over every file need of it.
//!
//! Layer invariant: storage of one file's parse; reads `read` (the pipeline), `pack` and `raw`, and
//! knows nothing of modules or resolution.

use std::panic::{AssertUnwindSafe, catch_unwind};

use xxhash_rust::xxh3::xxh3_128_with_seed;

use super::pack::{ParsePack, decode, encode};
use super::raw::{ParsedFile, Scope, ScopeKind};
use super::read;
use crate::facts::{FileProblem, Span};
use crate::frontend::{BodyWords, ParseCache};
use crate::workspace::{FileTree, SourceFile};

/// One file's parse, kept encoded between the phases of a full run, with the little that the phases
/// over every file need of it.
pub(super) struct Loaded {
    /// The content key (with the words); `None` when unread or read from a commit.
    pub key: Option<u128>,
    /// The parse, encoded.
    pub encoded: Vec<u8>,
    /// Whether the parse may be kept for later runs (an internal error is tried again instead).
    pub keep: bool,
    /// What module assignment and re-export naming read: the scopes (without their names), the `mod`
    /// declarations and the `pub use` imports.
    pub skeleton: ParsedFile,
    /// The names the file declares, relative to its module (see [`relative_names`]).
    pub names: String,
    /// See [`structure`].
    pub structure: u64,
    /// The file has `pub use` items: the index's re-exports need its whole parse.
    pub reexports: bool,
    /// Some of its items could not be parsed (see `unreadable`).
    pub partly_read: bool,
    /// Its glob imports that may be of an ancestor module (see [`ParsedFile::ancestor_globs`]): such a
    /// glob brings the ancestor's private `use`s too, which the index then needs.
    pub ancestor_globs: Vec<(usize, Vec<String>)>,
}

impl Loaded {
    /// Digests a parse; `encoded` is its encoding when already at hand.
    pub fn new(parsed: &ParsedFile, key: Option<u128>, encoded: Option<Vec<u8>>) -> Self {
        let names = relative_names(parsed);
        let skeleton = ParsedFile {
            // Only module scopes matter to module assignment and re-export naming; the others stay as
            // placeholders so that scope numbers keep their meaning.
            scopes: parsed
                .scopes
                .iter()
                .map(|scope| Scope {
                    parent: scope.parent,
                    kind: match &scope.kind {
                        ScopeKind::Module(name) => ScopeKind::Module(name.clone()),
                        _ => ScopeKind::Block,
                    },
                    rel_path: match scope.kind {
                        ScopeKind::Module(_) => scope.rel_path.clone(),
                        _ => Vec::new(),
                    },
                    items: Default::default(),
                })
                .collect(),
            modules: parsed.modules.clone(),
            imports: parsed.imports.iter().filter(|i| i.reexport).cloned().collect(),
            skipped_bodies: parsed.skipped_bodies,
            inner_cfg: parsed.inner_cfg.clone(),
            item_wrappers: parsed.item_wrappers.clone(),
            macro_rules: parsed.macro_rules.clone(),
            item_macro_calls: parsed.item_macro_calls.clone(),
            invocations: parsed.invocations.clone(),
            ..ParsedFile::default()
        };
        let internal = parsed
            .problem
            .as_ref()
            .is_some_and(|p| p.kind == crate::facts::ProblemKind::InternalError);
        let mut encoded = encoded.unwrap_or_else(|| encode(parsed));
        // Growing the encoding leaves up to half of it unused; all files' encodings are kept at once.
        encoded.shrink_to_fit();
        let ancestor_globs = parsed.ancestor_globs();
        Loaded {
            key,
            partly_read: parsed.partly_read(),
            keep: !internal && !encoded.is_empty(),
            ancestor_globs,
            reexports: !skeleton.imports.is_empty(),
            structure: structure(parsed, &names),
            encoded,
            skeleton,
            names,
        }
    }

    /// The parse, decoded again (an encoding that does not decode is the file's internal error).
    pub fn decode(&self) -> ParsedFile {
        decode(&self.encoded).unwrap_or_else(|| {
            ParsedFile::unparsable(FileProblem::internal(
                "the analyzer failed while keeping this file's parse",
            ))
        })
    }
}

/// What other files' facts depend on in this one: the names it declares (relative to its module, as
/// [`relative_names`] gives them), its imports (re-exports are resolved through them), its scopes'
/// shape and its `mod` declarations. Edits inside function bodies and comments leave it unchanged.
pub(crate) fn structure(file: &ParsedFile, names: &str) -> u64 {
    let scopes: Vec<_> = file.scopes.iter().map(|s| (s.parent, &s.kind, &s.rel_path)).collect();
    let shape = (
        names,
        &scopes,
        &file.imports,
        &file.modules,
        &file.problem.as_ref().map(|p| p.kind),
        // Every file below this one's module is compiled under it, and every use of its macros.
        &file.inner_cfg,
        &file.item_wrappers,
        // Invocations of the workspace's macros are expanded with the macros' rules.
        &file.macro_rules,
        &file.item_macro_calls,
    );
    postcard::to_stdvec(&shape).map_or(0, |bytes| xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// The names a file declares (see [`ParsedFile::declared_names`]), relative to the file's module, one
/// `relative module path TAB name` per line: compact, and known before modules are assigned.
pub(crate) fn relative_names(file: &ParsedFile) -> String {
    let mut names = String::new();
    for (module, name) in file.declared_names("") {
        names.push_str(&module);
        names.push('\t');
        names.push_str(&name);
        names.push('\n');
    }
    // Every file's names are kept at once: growing leaves up to half of each unused.
    names.shrink_to_fit();
    names
}

/// A file's parse with `words`: from the in-memory cache by content id (git blobs), else from the last
/// run's parse pack by content key, else parsed.
pub(super) fn load(
    file: &SourceFile,
    tree: &dyn FileTree,
    cache: &ParseCache,
    words: &BodyWords,
    pack: &ParsePack,
) -> Loaded {
    if let Some(id) = tree.content_id(&file.abs) {
        let id = format!("{id}/{:x}", words.fingerprint());
        let parsed = cache.get_or_parse(Some(&id), || read_and_parse(file, tree, words));
        return Loaded::new(&parsed, None, None);
    }
    let bytes = match tree.read(&file.abs) {
        Ok(bytes) => bytes,
        Err(error) => return Loaded::new(&unreadable(&error), None, None),
    };
    let key = xxh3_128_with_seed(&bytes, words.fingerprint());
    if let Some((hit, encoded)) = pack.get(key) {
        return Loaded::new(&hit, Some(key), Some(encoded.to_vec()));
    }
    cache.count_parse();
    Loaded::new(&parse_bytes(&bytes, words), Some(key), None)
}

fn unreadable(error: &std::io::Error) -> ParsedFile {
    ParsedFile::unparsable(FileProblem::parse(format!("cannot read file: {error}"), None))
}

/// Reads and parses one file (an unreadable file is that file's problem).
pub(super) fn read_and_parse(file: &SourceFile, tree: &dyn FileTree, words: &BodyWords) -> ParsedFile {
    match tree.read(&file.abs) {
        Ok(bytes) => parse_bytes(&bytes, words),
        Err(error) => unreadable(&error),
    }
}

/// Decodes and parses one file; a panic inside syn or the collector is that file's problem, not the run's.
pub(super) fn parse_bytes(bytes: &[u8], words: &BodyWords) -> ParsedFile {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let at = error.valid_up_to();
            let line = bytes[..at].iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let column = bytes[..at].iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            let span = Span {
                line,
                column,
                start: at,
                end: at + 1,
            };
            let message = format!("file is not valid UTF-8 (invalid byte at offset {at})");
            return ParsedFile::unparsable(FileProblem::parse(message, Some(span)));
        }
    };
    catch_unwind(AssertUnwindSafe(|| read::parse(text, words))).unwrap_or_else(|_| {
        ParsedFile::unparsable(FileProblem::internal("the analyzer failed while parsing this file"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_come_in_one_order_whatever_order_they_were_read_in() {
        // The incremental path compares a changed file's digest with the full run's: a set's order
        // (which depends on how it was filled) made a file read twice look changed.
        let names = |text: &str| relative_names(&read::parse(text, &BodyWords::default()));
        let expected = "\tA\n\tB\n\tC\n\tm\nm\tX\nm\tY\n";
        assert_eq!(
            names("struct C; struct A; struct B; mod m { struct Y; struct X; }"),
            expected
        );
        assert_eq!(
            names("mod m { struct X; struct Y; } struct B; struct C; struct A;"),
            expected
        );
    }

    #[test]
    fn an_encoded_parse_round_trips_and_damage_is_refused() {
        let parsed = read::parse("pub struct A;\nfn f() { a::b(); }", &BodyWords::default());
        let encoded = encode(&parsed);
        let decoded = decode(&encoded).expect("decodes");
        assert_eq!(postcard::to_stdvec(&decoded).ok(), postcard::to_stdvec(&parsed).ok());
        // A length no LZ4 block of this size can expand to is refused before anything is allocated.
        let mut claims_too_much = encoded.clone();
        claims_too_much[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&claims_too_much).is_none());
        assert!(decode(&encoded[..encoded.len() / 2]).is_none());
        assert!(decode(&[]).is_none());
    }
}
