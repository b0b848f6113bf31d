//! The first pass over one Rust file: syn's syntax tree to raw facts whose paths are still as written.
//!
//! Paths cannot be made absolute yet: that needs the file's module path, which is only known once every
//! file's `mod` declarations have been read. So this pass records, for each path, the lexical scope it was
//! written in, and `resolve` finishes the job. The syntax tree is dropped when this pass returns.

use rayon::prelude::*;
use rustc_hash::FxHashSet as HashSet;

use proc_macro2::Span as TokenSpan;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::facts::{DefinitionKind, FileProblem, ReferenceContext, Span};

/// A path as written: `::a::b` has a leading colon, `Self`, `self`, `super` and `crate` are kept as segments.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct RawPath {
    /// Written with a leading `::` (an external crate in edition 2018+).
    pub leading_colon: bool,
    /// The segments, raw identifiers unescaped.
    pub segments: Vec<String>,
}

impl RawPath {
    fn from_syn(path: &syn::Path) -> Self {
        RawPath {
            leading_colon: path.leading_colon.is_some(),
            segments: path.segments.iter().map(|s| s.ident.unraw().to_string()).collect(),
        }
    }
}

/// What opened a lexical scope.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// The file itself, or an inline `mod name { }` (with its name).
    Module(Option<String>),
    /// A block with items or `use`s in it; names declared there are visible only inside it.
    Block,
    /// An `impl` or `trait` block: it gives `Self` a meaning and nothing else.
    SelfType(RawPath),
}

/// One lexical scope of the file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Scope {
    /// The enclosing scope; `None` only for the file's root.
    pub parent: Option<usize>,
    /// What opened it.
    pub kind: ScopeKind,
    /// Path of the scope relative to the file's module (inline modules, functions, impl types).
    pub rel_path: Vec<String>,
    /// Names of items and modules declared directly in it.
    pub items: HashSet<String>,
}

/// A definition before its path is resolved.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawDefinition {
    pub scope: usize,
    pub kind: DefinitionKind,
    pub name: String,
    pub span: Span,
    pub attributes: Vec<String>,
    pub in_test: bool,
    pub local: bool,
    pub implements: Option<RawPath>,
    pub self_type: Option<RawPath>,
    pub variants: Vec<String>,
    /// For statics: `static mut`, and every path named in the type.
    pub static_type: Option<(bool, Vec<RawPath>)>,
}

/// A `use` leaf or `extern crate` before resolution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawImport {
    pub scope: usize,
    pub path: RawPath,
    pub binding: Option<String>,
    pub glob: bool,
    pub reexport: bool,
    pub extern_crate: bool,
    pub span: Span,
    pub in_test: bool,
}

impl RawImport {
    /// `extern crate name as binding;` in `scope` (a binding `_` binds nothing), neither a re-export nor in
    /// a test until said otherwise.
    pub fn extern_crate(scope: usize, name: String, binding: String, span: Span) -> Self {
        RawImport {
            scope,
            path: RawPath {
                leading_colon: true,
                segments: vec![name],
            },
            binding: Some(binding).filter(|b| b != "_"),
            glob: false,
            reexport: false,
            extern_crate: true,
            span,
            in_test: false,
        }
    }
}

/// A path used in code before resolution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawReference {
    pub scope: usize,
    pub path: RawPath,
    pub context: ReferenceContext,
    /// A lone identifier in a pattern: a binding unless an import says it is a unit variant or constant.
    pub maybe_binding: bool,
    /// Innermost enclosing item: an index into [`ParsedFile::enclosings`].
    pub enclosing: u32,
    pub span: Span,
    pub in_test: bool,
}

/// A `mod` declaration before resolution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawModule {
    pub scope: usize,
    pub name: String,
    pub inline: bool,
    /// The `#[path = "..."]` attribute, if any.
    pub path_attr: Option<String>,
    pub span: Span,
    pub in_test: bool,
}

/// Everything the first pass learns about a file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct ParsedFile {
    pub scopes: Vec<Scope>,
    /// Enclosing item paths, relative to the file's module, shared by the references inside them.
    pub enclosings: Vec<Vec<String>>,
    pub definitions: Vec<RawDefinition>,
    pub imports: Vec<RawImport>,
    pub references: Vec<RawReference>,
    pub modules: Vec<RawModule>,
    pub suppressions: Vec<crate::facts::Suppression>,
    pub problem: Option<FileProblem>,
    /// Some function bodies were skimmed over (they mentioned none of the words).
    pub skipped_bodies: bool,
}

impl ParsedFile {
    /// Nothing yet: only the root scope.
    pub fn empty() -> Self {
        ParsedFile {
            scopes: vec![root_scope()],
            ..ParsedFile::default()
        }
    }

    /// A file that could not be parsed at all: it has a root scope and a problem, nothing else.
    pub fn unparsable(problem: FileProblem) -> Self {
        ParsedFile {
            scopes: vec![root_scope()],
            problem: Some(problem),
            ..ParsedFile::default()
        }
    }
}

fn root_scope() -> Scope {
    Scope {
        parent: None,
        kind: ScopeKind::Module(None),
        rel_path: Vec::new(),
        items: HashSet::default(),
    }
}

/// Text that makes [`parse`] panic in unit tests.
#[cfg(test)]
pub(crate) const PANIC_FOR_TESTS: &str = "ssot-check test: panic here";

/// Parses one file's text and extracts its raw facts, skipping the function bodies that contain none of
/// `words`.
pub(crate) fn parse(text: &str, words: &crate::frontend::BodyWords) -> ParsedFile {
    parse_reading(text, words, true)
}

/// [`parse`], reading the items that mention no word without the parser only if `reading` (tests
/// compare both ways).
pub(crate) fn parse_reading(text: &str, words: &crate::frontend::BodyWords, reading: bool) -> ParsedFile {
    // Fault injection for the test that proves a panic stays inside its file.
    #[cfg(test)]
    if text.contains(PANIC_FOR_TESTS) {
        panic!("injected by a test");
    }
    // Offsets stay relative to the file as read, byte-order mark included.
    let (text, offset) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, '\u{feff}'.len_utf8()),
        None => (text, 0),
    };
    // Literal spans are only needed to tell a suppression comment from text inside a string.
    let mut literals = text.contains(super::suppressions::MARKER).then(Vec::new);
    let prepared = super::lex::blank_preamble(text);
    // Suppressions need every literal's span, which a skipped body would hide: such files are parsed whole.
    let positions = match literals {
        None => words.positions(prepared.as_bytes()),
        Some(_) => Vec::new(),
    };
    // A file that mentions no word is read without skimming first: most are read whole that way.
    let wordless = reading && literals.is_none() && words.skips_bodies() && positions.is_empty();
    let mut parts = wordless.then(|| super::quick_items::plan(&prepared, offset, &|_| false));
    let all_read = parts.as_ref().is_some_and(|parts| {
        parts
            .iter()
            .all(|part| matches!(part, super::quick_items::Part::Read(_)))
    });
    // Skimming is for what syn will see: bodies to blank, and the words items mention.
    let skim = match !all_read && literals.is_none() {
        true => super::skim::skim_at(&prepared, words, positions),
        false => super::skim::Skim::default(),
    };
    if parts.is_none() && reading && literals.is_none() && skim.items_readable {
        let mentions = |range| super::skim::any_within(&skim.words_at, range);
        parts = Some(super::quick_items::plan(&prepared, offset, &mentions));
    }
    let read = parts.and_then(|parts| assemble(&prepared, parts, &skim, offset));
    let mut parsed = match read {
        Some(parsed) => parsed,
        None => {
            let blanked = (!skim.is_empty())
                .then(|| super::skim::blank(&prepared, &skim))
                .flatten();
            let source = blanked.as_deref().unwrap_or(&prepared);
            let pieces = (literals.is_none() && source.len() > PIECE_BYTES)
                .then(|| collect_pieces(source, &skim.cuts, offset))
                .flatten();
            let mut parsed = match pieces {
                Some(parsed) => parsed,
                None => parse_whole(source, literals.as_mut(), skim.balanced, offset),
            };
            parsed.skipped_bodies = blanked.is_some() && !skim.bodies.is_empty();
            parsed
        }
    };
    // proc-macro2 keeps every parsed file's text for span lookups on this thread; nothing needs it now.
    proc_macro2::extra::invalidate_current_thread_spans();
    parsed.suppressions = super::suppressions::find(text, literals.as_deref().unwrap_or_default())
        .into_iter()
        .map(|s| crate::facts::Suppression {
            span: shifted(s.span, offset),
            ..s
        })
        .collect();
    parsed
}

/// Files larger than this are parsed in pieces of about this size, cut between top-level items: the
/// tokens of a whole generated file take dozens of times its size.
pub(super) const PIECE_BYTES: usize = 64 * 1024;

/// The facts of a file planned by `quick_items::plan`: the items read, and the others parsed in pieces
/// (with the bodies `skim` found blanked). `None` when no item was read, or a piece does not parse on its
/// own: the file is then parsed as usual (which also reports the error).
fn assemble(
    prepared: &str,
    parts: Vec<super::quick_items::Part>,
    skim: &super::skim::Skim,
    offset: usize,
) -> Option<ParsedFile> {
    use super::quick_items::Part;
    if !parts.iter().any(|part| matches!(part, Part::Read(_))) {
        return None;
    }
    let blanked = match parts.iter().any(|part| matches!(part, Part::Parse(_))) {
        true => Some(super::skim::blank(prepared, skim)?),
        false => None,
    };
    let source = blanked.as_deref().unwrap_or(prepared);
    let line_starts: Vec<usize> = match blanked {
        Some(_) => line_starts(source),
        None => Vec::new(),
    };
    let to_facts = |part: Part| match part {
        Part::Read(facts) => Some(*facts),
        Part::Parse(range) => {
            let line = line_starts.partition_point(|&at| at <= range.start) - 1;
            parse_piece(source, range, line_starts[line], line as u32, offset)
        }
    };
    let pieces: Vec<Option<ParsedFile>> = match prepared.len() > PIECE_BYTES {
        true => parts.into_par_iter().map(to_facts).collect(),
        false => parts.into_iter().map(to_facts).collect(),
    };
    let mut pieces = pieces.into_iter();
    let mut whole = pieces.next()??;
    for piece in pieces {
        append_piece(&mut whole, piece?);
    }
    whole.skipped_bodies = true;
    Some(whole)
}

/// Parses the items of `source[range]` on their own, as a piece of the file (its root scope is the
/// file's), given where the line of its start begins and how many lines come before. `None` if the
/// piece does not lex or parse on its own.
fn parse_piece(
    source: &str,
    range: std::ops::Range<usize>,
    line_start: usize,
    lines_before: u32,
    offset: usize,
) -> Option<ParsedFile> {
    // A piece that starts inside a line is given that line's start blanked, so columns stay right.
    let text: std::borrow::Cow<'_, str> = match line_start == range.start {
        true => std::borrow::Cow::Borrowed(&source[range]),
        false => {
            let mut padded = Vec::with_capacity(range.end - line_start);
            super::skim::blank_into(&source[line_start..range.start], &mut padded)?;
            padded.extend_from_slice(&source.as_bytes()[range]);
            std::borrow::Cow::Owned(String::from_utf8(padded).ok()?)
        }
    };
    let tokens: proc_macro2::TokenStream = text.parse().ok()?;
    let mut collector = Collector::new(&text, offset + line_start);
    collector.line_offset = lines_before;
    let collected = collect_into(&mut collector, tokens);
    // Nothing holds a span of this piece any more (another piece or file may run on this thread).
    proc_macro2::extra::invalidate_current_thread_spans();
    collected.ok().map(|()| collector.out)
}

/// Parses `source` in pieces cut at `cuts` (see `skim`), into one collector. `None` if a piece does
/// not lex or parse on its own: the whole file is then parsed at once, which also reports the error.
fn collect_pieces(source: &str, cuts: &[usize], offset: usize) -> Option<ParsedFile> {
    let mut bounds = vec![0];
    for &cut in cuts {
        if cut - bounds.last().copied().unwrap_or(0) >= PIECE_BYTES {
            bounds.push(cut);
        }
    }
    if bounds.len() < 2 {
        return None;
    }
    bounds.push(source.len());
    // Pieces are parsed in parallel, each into its own collector (they all start at the file's top
    // level), and merged in order.
    let mut starts = Vec::with_capacity(bounds.len() - 1);
    let mut lines = 0u32;
    for piece in bounds.windows(2) {
        starts.push((piece[0], piece[1], lines));
        lines += memchr::memchr_iter(b'\n', &source.as_bytes()[piece[0]..piece[1]]).count() as u32;
    }
    let pieces: Vec<Option<ParsedFile>> = starts
        .into_par_iter()
        .map(|(start, end, lines)| parse_piece(source, start..end, start, lines, offset))
        .collect();
    let mut pieces = pieces.into_iter();
    let mut whole = pieces.next()??;
    for piece in pieces {
        append_piece(&mut whole, piece?);
    }
    Some(whole)
}

/// Appends the facts of a later piece of the same file: its root scope is the file's root, its other
/// scopes and enclosing items are numbered after those already there.
pub(super) fn append_piece(whole: &mut ParsedFile, piece: ParsedFile) {
    let base = whole.scopes.len() - 1;
    let scope = |id: usize| if id == 0 { 0 } else { base + id };
    let enclosings = whole.enclosings.len() as u32;
    let mut scopes = piece.scopes.into_iter();
    if let Some(root) = scopes.next() {
        whole.scopes[0].items.extend(root.items);
    }
    whole.scopes.extend(scopes.map(|s| Scope {
        parent: s.parent.map(scope),
        ..s
    }));
    whole.enclosings.extend(piece.enclosings);
    whole
        .definitions
        .extend(piece.definitions.into_iter().map(|d| RawDefinition {
            scope: scope(d.scope),
            ..d
        }));
    whole.imports.extend(piece.imports.into_iter().map(|i| RawImport {
        scope: scope(i.scope),
        ..i
    }));
    whole
        .references
        .extend(piece.references.into_iter().map(|r| RawReference {
            scope: scope(r.scope),
            enclosing: r.enclosing + enclosings,
            ..r
        }));
    whole.modules.extend(piece.modules.into_iter().map(|m| RawModule {
        scope: scope(m.scope),
        ..m
    }));
}

/// Parses a whole file's text at once; a file that does not parse as a whole is recovered item by item.
fn parse_whole(
    source: &str,
    literals: Option<&mut Vec<std::ops::Range<usize>>>,
    balanced: bool,
    offset: usize,
) -> ParsedFile {
    match super::lex::tokenize(source, literals, !balanced) {
        // The stream goes to syn unshared: a second handle would make syn copy every token.
        Ok(tokens) => match collect_items(source, tokens, offset) {
            Ok(parsed) => parsed,
            Err(error) => match super::lex::tokenize(source, None, false) {
                Ok(tokens) => recover_items(source, tokens, &error, offset),
                Err(problem) => ParsedFile::unparsable(problem),
            },
        },
        Err(problem) => ParsedFile::unparsable(FileProblem {
            span: problem.span.map(|span| shifted(span, offset)),
            ..problem
        }),
    }
}

/// Parses and collects one item at a time, so only one item's syntax tree is alive at once (a generated
/// file's whole tree can take dozens of times its size).
fn collect_items(source: &str, tokens: proc_macro2::TokenStream, offset: usize) -> syn::Result<ParsedFile> {
    let mut collector = Collector::new(source, offset);
    collect_into(&mut collector, tokens)?;
    Ok(collector.out)
}

/// Parses the items of `tokens` (after any inner attributes) one at a time into `collector`.
fn collect_into(collector: &mut Collector<'_>, tokens: proc_macro2::TokenStream) -> syn::Result<()> {
    let parser = |input: syn::parse::ParseStream<'_>| -> syn::Result<()> {
        for attribute in input.call(syn::Attribute::parse_inner)? {
            collector.visit_attribute(&attribute);
        }
        while !input.is_empty() {
            let item: syn::Item = input.parse()?;
            collector.visit_item(&item);
        }
        Ok(())
    };
    syn::parse::Parser::parse2(parser, tokens)
}

/// When the file as a whole does not parse (code the compiler accepts but syn does not, such as
/// edition-2015 bare trait objects or nightly `const trait`), each top-level item is parsed on its own:
/// the items that parse are analyzed, and the file is reported as partially analyzed with the first error.
fn recover_items(source: &str, tokens: proc_macro2::TokenStream, error: &syn::Error, offset: usize) -> ParsedFile {
    use proc_macro2::{Delimiter, TokenTree};
    let mut chunks: Vec<Vec<TokenTree>> = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let ends = match &token {
            TokenTree::Punct(p) => p.as_char() == ';',
            // `struct S { .. }` ends at its brace; `const C: S = S { .. };` at the semicolon after it.
            TokenTree::Group(g) => {
                g.delimiter() == Delimiter::Brace
                    && !matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ';' || p.as_char() == '.')
            }
            _ => false,
        };
        current.push(token);
        if ends {
            chunks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let mut collector = Collector::new(source, offset);
    let mut failed = 0;
    let mut first_error: Option<syn::Error> = None;
    for mut chunk in chunks {
        // Inner attributes (`#![..]`) belong to the file, not to the item after them.
        while matches!(chunk.as_slice(), [TokenTree::Punct(h), TokenTree::Punct(b), TokenTree::Group(_), ..] if h.as_char() == '#' && b.as_char() == '!')
        {
            chunk.drain(..3);
        }
        if chunk.is_empty() {
            continue;
        }
        match syn::parse2::<syn::Item>(chunk.into_iter().collect()) {
            Ok(item) => collector.visit_item(&item),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    let error = first_error.unwrap_or_else(|| error.clone());
    let mut out = collector.out;
    out.problem = Some(FileProblem {
        kind: crate::facts::ProblemKind::PartiallyAnalyzed,
        message: format!("{failed} top-level item(s) could not be parsed and were skipped; the first: {error}"),
        span: Some(shifted(span_of(error.span()), offset)),
    });
    out
}

/// Converts a token span to a fact span (1-based line and column).
pub(crate) fn span_of(span: TokenSpan) -> Span {
    let start = span.start();
    let range = span.byte_range();
    Span {
        line: start.line as u32,
        column: start.column as u32 + 1,
        start: range.start,
        end: range.end,
    }
}

fn shifted(span: Span, offset: usize) -> Span {
    Span {
        start: span.start + offset,
        end: span.end + offset,
        ..span
    }
}

/// The byte offset where each line of `text` starts (the first is 0).
pub(super) fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|at| at + 1))
        .collect()
}

/// Where each line of a text starts, to turn a token position (line, column in characters) into a byte
/// offset: proc-macro2's own conversion keeps a map per file and costs more than the parse's lookups.
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        Lines {
            text,
            starts: line_starts(text),
        }
    }

    /// The byte offset of a position (1-based line, 0-based column in characters).
    fn byte(&self, at: proc_macro2::LineColumn) -> usize {
        let Some(&start) = self.starts.get(at.line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let prefix = line.as_bytes().get(..at.column).unwrap_or(line.as_bytes());
        if prefix.is_ascii() {
            return start + prefix.len();
        }
        start + line.char_indices().nth(at.column).map_or(line.len(), |(byte, _)| byte)
    }
}

/// Walks the syntax tree, keeping the scope, enclosing item and test context it is in.
struct Collector<'t> {
    out: ParsedFile,
    /// The text syn saw (this piece of it), for byte offsets.
    lines: Lines<'t>,
    /// Index in `out.enclosings` of `enclosing`, once some reference needed it.
    enclosing_index: Option<u32>,
    /// Bytes before the text syn saw (a byte-order mark, and the pieces before this one).
    offset: usize,
    /// Lines before the text syn saw (the pieces before this one).
    line_offset: u32,
    scope: usize,
    enclosing: Vec<String>,
    in_test: bool,
}

impl<'t> Collector<'t> {
    fn new(text: &'t str, offset: usize) -> Self {
        Collector {
            lines: Lines::new(text),
            enclosing_index: None,
            offset,
            line_offset: 0,
            out: ParsedFile {
                scopes: vec![root_scope()],
                ..ParsedFile::default()
            },
            scope: 0,
            enclosing: Vec::new(),
            in_test: false,
        }
    }

    fn span(&self, span: TokenSpan) -> Span {
        let (start, end) = (span.start(), span.end());
        Span {
            line: start.line as u32 + self.line_offset,
            column: start.column as u32 + 1,
            start: self.offset + self.lines.byte(start),
            end: self.offset + self.lines.byte(end),
        }
    }

    fn open_scope(&mut self, kind: ScopeKind, name: Option<&str>) -> usize {
        let mut rel_path = self.out.scopes[self.scope].rel_path.clone();
        rel_path.extend(name.map(str::to_owned));
        self.out.scopes.push(Scope {
            parent: Some(self.scope),
            kind,
            rel_path,
            items: HashSet::default(),
        });
        self.out.scopes.len() - 1
    }

    /// Runs `body` inside scope `scope` with `name` pushed on the enclosing item path.
    fn within(&mut self, scope: usize, name: Option<&str>, in_test: bool, body: impl FnOnce(&mut Self)) {
        let saved = (self.scope, self.in_test, self.enclosing.len(), self.enclosing_index);
        self.scope = scope;
        self.in_test = in_test;
        if let Some(name) = name {
            self.enclosing.push(name.to_owned());
            self.enclosing_index = None;
        }
        body(self);
        self.scope = saved.0;
        self.in_test = saved.1;
        self.enclosing.truncate(saved.2);
        self.enclosing_index = saved.3;
    }

    fn local(&self) -> bool {
        let mut scope = Some(self.scope);
        while let Some(id) = scope {
            match self.out.scopes[id].kind {
                ScopeKind::Block => return true,
                ScopeKind::Module(_) => return false,
                ScopeKind::SelfType(_) => scope = self.out.scopes[id].parent,
            }
        }
        false
    }

    fn define(&mut self, kind: DefinitionKind, ident: &syn::Ident, attrs: &[syn::Attribute]) -> &mut RawDefinition {
        self.define_named(kind, ident.unraw().to_string(), ident.span(), attrs)
    }

    fn define_named(
        &mut self,
        kind: DefinitionKind,
        name: String,
        span: TokenSpan,
        attrs: &[syn::Attribute],
    ) -> &mut RawDefinition {
        if !matches!(kind, DefinitionKind::Method | DefinitionKind::Impl) {
            self.out.scopes[self.scope].items.insert(name.clone());
        }
        let definition = RawDefinition {
            scope: self.scope,
            kind,
            name,
            span: self.span(span),
            attributes: attribute_paths(attrs),
            in_test: self.in_test || is_test_item(attrs),
            local: self.local(),
            implements: None,
            self_type: None,
            variants: Vec::new(),
            static_type: None,
        };
        self.out.definitions.push(definition);
        self.out.definitions.last_mut().expect("just pushed")
    }

    /// The index of the current enclosing item path, added to the table on first use.
    fn enclosing_id(&mut self) -> u32 {
        if let Some(index) = self.enclosing_index {
            return index;
        }
        self.out.enclosings.push(self.enclosing.clone());
        let index = u32::try_from(self.out.enclosings.len() - 1).unwrap_or(u32::MAX);
        self.enclosing_index = Some(index);
        index
    }

    /// Records a qualified path. A lone identifier in a type or an expression (a local variable, a
    /// name brought in by a `use`) is not recorded: the item or import it names is its own fact, and
    /// such identifiers are most of a program's paths.
    fn reference(&mut self, path: &syn::Path, context: ReferenceContext) {
        let lone = path.leading_colon.is_none() && path.segments.len() == 1;
        if lone && matches!(context, ReferenceContext::Expr | ReferenceContext::Type) {
            return;
        }
        let enclosing = self.enclosing_id();
        self.out.references.push(RawReference {
            scope: self.scope,
            path: RawPath::from_syn(path),
            context,
            maybe_binding: false,
            enclosing,
            span: self.span(path.span()),
            in_test: self.in_test,
        });
    }

    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>, leading_colon: bool, reexport: bool) {
        let push = |this: &mut Self, segments: Vec<String>, binding: Option<String>, glob: bool, span: TokenSpan| {
            this.out.imports.push(RawImport {
                scope: this.scope,
                path: RawPath {
                    leading_colon,
                    segments,
                },
                binding,
                glob,
                reexport,
                extern_crate: false,
                span: this.span(span),
                in_test: this.in_test,
            });
        };
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.unraw().to_string());
                self.use_tree(&path.tree, prefix, leading_colon, reexport);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let ident = name.ident.unraw().to_string();
                let (segments, binding) = leaf_segments(prefix, ident);
                push(self, segments, binding, false, name.ident.span());
            }
            syn::UseTree::Rename(rename) => {
                let (segments, _) = leaf_segments(prefix, rename.ident.unraw().to_string());
                let binding = Some(rename.rename.unraw().to_string()).filter(|b| b != "_");
                push(self, segments, binding, false, rename.rename.span());
            }
            syn::UseTree::Glob(glob) => push(self, prefix.clone(), None, true, glob.star_token.span()),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, prefix, leading_colon, reexport);
                }
            }
        }
    }

    /// Visits a function's signature and body, the body in a block scope of its own.
    fn function(&mut self, name: &str, attrs: &[syn::Attribute], sig: &syn::Signature, block: Option<&syn::Block>) {
        let in_test = self.in_test || is_test_item(attrs);
        let scope = self.open_scope(ScopeKind::Block, Some(name));
        self.within(scope, Some(name), in_test, |this| {
            this.visit_signature(sig);
            if let Some(block) = block {
                this.declare_block_items(block);
                for stmt in &block.stmts {
                    this.visit_stmt(stmt);
                }
            }
        });
    }

    /// Items in a block are visible in the whole block, so their names are known before its statements.
    fn declare_block_items(&mut self, block: &syn::Block) {
        for stmt in &block.stmts {
            if let syn::Stmt::Item(item) = stmt
                && let Some(ident) = item_ident(item)
            {
                self.out.scopes[self.scope].items.insert(ident);
            }
        }
    }

    /// Macro bodies are not expanded; those that read as a list of expressions (`vec!`, `println!`,
    /// `assert_eq!`, ...) are visited as such, so a path inside them still counts.
    fn macro_body(&mut self, mac: &syn::Macro) {
        self.reference(&mac.path, ReferenceContext::Macro);
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if matches!(name.as_str(), "matches" | "assert_matches" | "debug_assert_matches")
            && let Ok((expr, pat, guard)) = mac.parse_body_with(parse_matches_body)
        {
            self.visit_expr(&expr);
            self.visit_pat(&pat);
            if let Some(guard) = &guard {
                self.visit_expr(guard);
            }
            return;
        }
        if let Ok(exprs) = mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated) {
            for expr in &exprs {
                self.visit_expr(expr);
            }
        }
    }
}

/// The body of `matches!(expr, pattern if guard)`: the pattern is a pattern, not an expression.
fn parse_matches_body(input: syn::parse::ParseStream<'_>) -> syn::Result<(syn::Expr, syn::Pat, Option<syn::Expr>)> {
    let expr: syn::Expr = input.parse()?;
    input.parse::<syn::Token![,]>()?;
    let pat = syn::Pat::parse_multi_with_leading_vert(input)?;
    let guard = if input.peek(syn::Token![if]) {
        input.parse::<syn::Token![if]>()?;
        Some(input.parse()?)
    } else {
        None
    };
    input.parse::<Option<syn::Token![,]>>()?;
    Ok((expr, pat, guard))
}

pub(super) fn leaf_segments(prefix: &[String], ident: String) -> (Vec<String>, Option<String>) {
    if ident == "self" {
        let binding = prefix.last().cloned();
        (prefix.to_vec(), binding)
    } else {
        let mut segments = prefix.to_vec();
        segments.push(ident.clone());
        (segments, Some(ident))
    }
}

fn item_ident(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.unraw().to_string())
}

/// The path of every attribute, as written (`cfg`, `derive`, `tokio::main`).
fn attribute_paths(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .map(|attr| {
            let segments: Vec<String> = attr
                .path()
                .segments
                .iter()
                .map(|s| s.ident.unraw().to_string())
                .collect();
            segments.join("::")
        })
        .collect()
}

/// `#[cfg(test)]` (also inside `all(...)`/`any(...)`, not under `not(...)`), or a test function
/// attribute such as `#[test]` or `#[tokio::test]`.
fn is_test_item(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        if !path.is_ident("cfg") {
            return false;
        }
        let syn::Meta::List(list) = &attr.meta else {
            return false;
        };
        cfg_mentions_test(list.tokens.clone())
    })
}

fn cfg_mentions_test(tokens: proc_macro2::TokenStream) -> bool {
    let mut previous_was_not = false;
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => {
                if ident == "test" {
                    return true;
                }
                previous_was_not = ident == "not";
            }
            proc_macro2::TokenTree::Group(group) => {
                if !previous_was_not && cfg_mentions_test(group.stream()) {
                    return true;
                }
                previous_was_not = false;
            }
            _ => {}
        }
    }
    false
}

fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// Every path named in a type (`LazyLock<Mutex<HashMap<K, V>>>` names four), outermost first.
fn type_paths(ty: &syn::Type) -> Vec<RawPath> {
    struct Paths(Vec<RawPath>);
    impl<'ast> Visit<'ast> for Paths {
        fn visit_type_path(&mut self, node: &'ast syn::TypePath) {
            self.0.push(RawPath::from_syn(&node.path));
            visit::visit_type_path(self, node);
        }
    }
    let mut paths = Paths(Vec::new());
    paths.visit_type(ty);
    paths.0
}

/// The path of an impl's self type, if it is a path (`impl Trait for Foo<T>` gives `Foo`).
fn self_type_path(ty: &syn::Type) -> Option<RawPath> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => Some(RawPath::from_syn(&p.path)),
        syn::Type::Reference(r) => self_type_path(&r.elem),
        syn::Type::Paren(p) => self_type_path(&p.elem),
        syn::Type::Group(g) => self_type_path(&g.elem),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        use DefinitionKind as K;
        match item {
            syn::Item::Struct(i) => {
                self.define(K::Struct, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_struct(this, i));
            }
            syn::Item::Enum(i) => {
                let variants = i.variants.iter().map(|v| v.ident.unraw().to_string()).collect();
                self.define(K::Enum, &i.ident, &i.attrs).variants = variants;
                self.with_item_test(&i.attrs, |this| visit::visit_item_enum(this, i));
            }
            syn::Item::Union(i) => {
                self.define(K::Union, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_union(this, i));
            }
            syn::Item::Type(i) => {
                self.define(K::TypeAlias, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_type(this, i));
            }
            syn::Item::Const(i) => {
                self.define(K::Const, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_const(this, i));
            }
            syn::Item::Static(i) => {
                let mutable = matches!(i.mutability, syn::StaticMutability::Mut(_));
                self.define(K::Static, &i.ident, &i.attrs).static_type = Some((mutable, type_paths(&i.ty)));
                self.with_item_test(&i.attrs, |this| visit::visit_item_static(this, i));
            }
            syn::Item::Fn(i) => {
                let name = i.sig.ident.unraw().to_string();
                self.define(K::Fn, &i.sig.ident, &i.attrs);
                self.function(&name, &i.attrs, &i.sig, Some(&i.block));
            }
            syn::Item::Trait(i) => {
                let name = i.ident.unraw().to_string();
                self.define(K::Trait, &i.ident, &i.attrs);
                let in_test = self.in_test || is_test_item(&i.attrs);
                let own = RawPath {
                    leading_colon: false,
                    segments: vec![name.clone()],
                };
                let scope = self.open_scope(ScopeKind::SelfType(own.clone()), Some(&name));
                self.within(scope, Some(&name), in_test, |this| {
                    for bound in &i.supertraits {
                        this.visit_type_param_bound(bound);
                    }
                    for trait_item in &i.items {
                        if let syn::TraitItem::Fn(f) = trait_item {
                            let method = f.sig.ident.unraw().to_string();
                            this.define(K::Method, &f.sig.ident, &f.attrs).self_type = Some(own.clone());
                            this.function(&method, &f.attrs, &f.sig, f.default.as_ref());
                        } else {
                            this.visit_trait_item(trait_item);
                        }
                    }
                });
            }
            syn::Item::Impl(i) => self.visit_impl(i),
            syn::Item::Mod(i) => {
                let name = i.ident.unraw().to_string();
                self.out.scopes[self.scope].items.insert(name.clone());
                let in_test = self.in_test || is_test_item(&i.attrs);
                self.out.modules.push(RawModule {
                    scope: self.scope,
                    name: name.clone(),
                    inline: i.content.is_some(),
                    path_attr: path_attribute(&i.attrs),
                    span: self.span(i.ident.span()),
                    in_test,
                });
                if let Some((_, items)) = &i.content {
                    let scope = self.open_scope(ScopeKind::Module(Some(name.clone())), Some(&name));
                    self.within(scope, Some(&name), in_test, |this| {
                        for item in items {
                            this.visit_item(item);
                        }
                    });
                }
            }
            syn::Item::Use(i) => {
                let reexport = !matches!(i.vis, syn::Visibility::Inherited);
                let in_test = self.in_test;
                self.with_item_test(&i.attrs, |this| {
                    this.use_tree(&i.tree, &mut Vec::new(), i.leading_colon.is_some(), reexport);
                });
                self.in_test = in_test;
            }
            syn::Item::ExternCrate(i) => {
                let name = i.ident.unraw().to_string();
                let binding = match &i.rename {
                    Some((_, rename)) => rename.unraw().to_string(),
                    None => name.clone(),
                };
                let import = RawImport {
                    reexport: !matches!(i.vis, syn::Visibility::Inherited),
                    in_test: self.in_test || is_test_item(&i.attrs),
                    ..RawImport::extern_crate(self.scope, name, binding, self.span(i.ident.span()))
                };
                self.out.imports.push(import);
            }
            syn::Item::Macro(i) => {
                if let Some(ident) = &i.ident
                    && i.mac.path.is_ident("macro_rules")
                {
                    self.define(K::Macro, ident, &i.attrs);
                    return;
                }
                self.with_item_test(&i.attrs, |this| this.macro_body(&i.mac));
            }
            _ => visit::visit_item(self, item),
        }
    }

    fn visit_stmt_macro(&mut self, node: &'ast syn::StmtMacro) {
        self.with_item_test(&node.attrs, |this| this.macro_body(&node.mac));
    }

    fn visit_expr_macro(&mut self, node: &'ast syn::ExprMacro) {
        self.macro_body(&node.mac);
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        if block.stmts.iter().any(|s| matches!(s, syn::Stmt::Item(_))) {
            let scope = self.open_scope(ScopeKind::Block, None);
            self.within(scope, None, self.in_test, |this| {
                this.declare_block_items(block);
                visit::visit_block(this, block);
            });
        } else {
            visit::visit_block(self, block);
        }
    }

    fn visit_type_path(&mut self, node: &'ast syn::TypePath) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Type);
        }
        visit::visit_type_path(self, node);
    }

    fn visit_trait_bound(&mut self, node: &'ast syn::TraitBound) {
        self.reference(&node.path, ReferenceContext::Type);
        visit::visit_trait_bound(self, node);
    }

    fn visit_expr_path(&mut self, node: &'ast syn::ExprPath) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Expr);
        }
        visit::visit_expr_path(self, node);
    }

    fn visit_expr_struct(&mut self, node: &'ast syn::ExprStruct) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Expr);
        }
        visit::visit_expr_struct(self, node);
    }

    fn visit_pat(&mut self, pat: &'ast syn::Pat) {
        match pat {
            syn::Pat::Path(p) if p.qself.is_none() => self.reference(&p.path, ReferenceContext::Pattern),
            syn::Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() && p.mutability.is_none() => {
                let enclosing = self.enclosing_id();
                self.out.references.push(RawReference {
                    scope: self.scope,
                    path: RawPath {
                        leading_colon: false,
                        segments: vec![p.ident.unraw().to_string()],
                    },
                    context: ReferenceContext::Pattern,
                    maybe_binding: true,
                    enclosing,
                    span: self.span(p.ident.span()),
                    in_test: self.in_test,
                });
            }
            _ => visit::visit_pat(self, pat),
        }
    }

    fn visit_pat_tuple_struct(&mut self, node: &'ast syn::PatTupleStruct) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Pattern);
        }
        for elem in &node.elems {
            self.visit_pat(elem);
        }
    }

    fn visit_pat_struct(&mut self, node: &'ast syn::PatStruct) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Pattern);
        }
        for field in &node.fields {
            self.visit_pat(&field.pat);
        }
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Attribute arguments are not code; derives and cfgs are recorded on the definition.
    }
}

impl Collector<'_> {
    fn with_item_test(&mut self, attrs: &[syn::Attribute], body: impl FnOnce(&mut Self)) {
        let saved = self.in_test;
        self.in_test = saved || is_test_item(attrs);
        body(self);
        self.in_test = saved;
    }

    fn visit_impl(&mut self, i: &syn::ItemImpl) {
        let self_path = self_type_path(&i.self_ty);
        let type_name = self_path
            .as_ref()
            .and_then(|p| p.segments.last().cloned())
            .unwrap_or_else(|| "_".to_owned());
        let in_test = self.in_test || is_test_item(&i.attrs);
        if let Some((_, trait_path, _)) = &i.trait_ {
            let definition = self.define_named(DefinitionKind::Impl, type_name.clone(), trait_path.span(), &i.attrs);
            definition.implements = Some(RawPath::from_syn(trait_path));
            definition.self_type = self_path.clone();
        }
        let self_kind = ScopeKind::SelfType(self_path.clone().unwrap_or(RawPath {
            leading_colon: false,
            segments: vec![type_name.clone()],
        }));
        let scope = self.open_scope(self_kind, Some(&type_name));
        self.within(scope, Some(&type_name), in_test, |this| {
            this.visit_generics(&i.generics);
            if let Some((_, trait_path, _)) = &i.trait_ {
                this.reference(trait_path, ReferenceContext::Type);
                for segment in &trait_path.segments {
                    this.visit_path_arguments(&segment.arguments);
                }
            }
            this.visit_type(&i.self_ty);
            for item in &i.items {
                match item {
                    syn::ImplItem::Fn(f) => {
                        let method = f.sig.ident.unraw().to_string();
                        this.define(DefinitionKind::Method, &f.sig.ident, &f.attrs).self_type = self_path.clone();
                        this.function(&method, &f.attrs, &f.sig, Some(&f.block));
                    }
                    other => this.with_item_test(impl_item_attrs(other), |this| this.visit_impl_item(other)),
                }
            }
        });
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with every function body (the words of no rule decide what is skipped here).
    fn parse(text: &str) -> ParsedFile {
        super::parse(text, &crate::frontend::BodyWords::default())
    }

    #[test]
    fn bodies_without_the_words_are_not_parsed_and_the_rest_is_unchanged() {
        let text = "use std::fmt;\nfn a() -> fmt::Result { std::sync::mpsc::channel::<u8>(); Ok(()) }\n\
                    fn b() { other::call(); }\nstruct After(fmt::Error, mpsc::Sender<u8>);\nstruct Plain(fmt::Error);";
        let words = crate::frontend::BodyWords::new(Some(vec!["mpsc".to_owned()]));
        let skimmed = super::parse(text, &words);
        let whole = parse(text);
        let paths = |p: &ParsedFile| {
            p.references
                .iter()
                .map(|r| r.path.segments.join("::"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(&skimmed),
            ["fmt::Result", "std::sync::mpsc::channel", "fmt::Error", "mpsc::Sender"],
            "b's body is skipped, and so is all of `Plain` but its name (it mentions no word)"
        );
        assert!(paths(&whole).contains(&"other::call".to_owned()));
        // Items read without the parser declare their names but record no definition (see quick_items).
        assert_eq!(
            skimmed.scopes[0].items, whole.scopes[0].items,
            "the same names are declared"
        );
        for definition in &skimmed.definitions {
            let same = whole.definitions.iter().find(|d| d.name == definition.name);
            assert_eq!(
                same.map(|d| d.span),
                Some(definition.span),
                "spans are unchanged by skipping"
            );
        }
        assert_eq!(skimmed.definitions.len(), 2, "a and After: {:?}", skimmed.definitions);
    }

    #[test]
    fn positions_become_byte_offsets_on_ascii_and_wider_lines() {
        let text = "ab\n«é» x\nlast";
        let lines = Lines::new(text);
        let at = |line, column| lines.byte(proc_macro2::LineColumn { line, column });
        assert_eq!(at(1, 1), 1);
        assert_eq!(&text[at(2, 4)..at(2, 5)], "x");
        assert_eq!(&text[at(3, 0)..], "last");
        assert_eq!(at(9, 0), text.len(), "past the end stays in bounds");
    }

    #[test]
    fn a_large_file_parsed_in_pieces_gives_the_same_facts_as_parsed_whole() {
        let mut text = String::from("//! Generated.\n#![allow(dead_code)]\nuse std::fmt;\n");
        for i in 0..3000 {
            text.push_str(&format!(
                "// Item {i}, «ünïcode».\n#[derive(Debug)]\npub struct S{i} {{ f: fmt::Result }}\n\
                 impl S{i} {{ pub fn m(&self) -> std::sync::Arc<u8> {{ use std::mem; mem::drop(1); a::b() }} }}\n\
                 mod m{i} {{ pub enum E {{ A, B }} fn g() {{ super::S{i}::m; }} }}\nconst C{i}: &str = \"é\";\n"
            ));
        }
        assert!(text.len() > 3 * PIECE_BYTES);
        let cuts = super::super::skim::skim(&text, &crate::frontend::BodyWords::default()).cuts;
        assert!(cuts.len() > 3000, "the file is cut between items");
        let pieces = parse(&text);
        let whole = collect_items(&text, text.parse().expect("lexes"), 0).expect("parses");
        proc_macro2::extra::invalidate_current_thread_spans();
        let facts = |p: &ParsedFile| {
            let scopes: Vec<String> = p
                .scopes
                .iter()
                .map(|s| {
                    let mut items: Vec<&String> = s.items.iter().collect();
                    items.sort();
                    format!("{:?} {:?} {:?} {items:?}", s.parent, s.kind, s.rel_path)
                })
                .collect();
            // Each piece keeps its own table of enclosing items: compare the item each reference is in.
            let references: Vec<String> = p
                .references
                .iter()
                .map(|r| {
                    format!(
                        "{:?} in {:?}",
                        RawReference {
                            enclosing: 0,
                            ..r.clone()
                        },
                        p.enclosings[r.enclosing as usize]
                    )
                })
                .collect();
            format!(
                "{scopes:?}\n{:?}\n{:?}\n{references:?}\n{:?}",
                p.definitions, p.imports, p.modules
            )
        };
        assert!(facts(&pieces) == facts(&whole), "pieces and whole differ");
        assert_eq!(
            pieces.definitions.len(),
            5 * 3000,
            "struct, method, enum, fn and const per round"
        );
        assert_eq!(pieces.references.len(), whole.references.len());
    }

    fn names(parsed: &ParsedFile) -> Vec<(DefinitionKind, String, bool, bool)> {
        parsed
            .definitions
            .iter()
            .map(|d| (d.kind, d.name.clone(), d.in_test, d.local))
            .collect()
    }

    #[test]
    fn records_items_with_test_and_local_context() {
        let parsed = parse(
            "struct A; fn f() { struct Local; } #[cfg(test)] mod tests { struct Mock; #[test] fn t() {} }
             #[cfg(not(test))] struct Real; #[cfg(all(test, unix))] struct Gated;",
        );
        use DefinitionKind as K;
        assert_eq!(
            names(&parsed),
            vec![
                (K::Struct, "A".into(), false, false),
                (K::Fn, "f".into(), false, false),
                (K::Struct, "Local".into(), false, true),
                (K::Struct, "Mock".into(), true, false),
                (K::Fn, "t".into(), true, false),
                (K::Struct, "Real".into(), false, false),
                (K::Struct, "Gated".into(), true, false),
            ]
        );
    }

    #[test]
    fn flattens_nested_use_trees() {
        let parsed = parse("use a::{b::{self, c as d}, e::*}; pub use ::x::y; use r#type::r#match;");
        let leaves: Vec<(Vec<String>, Option<String>, bool, bool)> = parsed
            .imports
            .iter()
            .map(|i| (i.path.segments.clone(), i.binding.clone(), i.glob, i.reexport))
            .collect();
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            leaves,
            vec![
                (s(&["a", "b"]), Some("b".into()), false, false),
                (s(&["a", "b", "c"]), Some("d".into()), false, false),
                (s(&["a", "e"]), None, true, false),
                (s(&["x", "y"]), Some("y".into()), false, true),
                (s(&["type", "match"]), Some("match".into()), false, false),
            ]
        );
        assert!(parsed.imports[3].path.leading_colon);
    }

    #[test]
    fn pattern_paths_are_told_apart_from_constructors() {
        let parsed = parse("fn f(m: M) { match m { M::A(x) => M::B, M::C { .. } | M::D => {}, y => {} } }");
        let patterns: Vec<String> = parsed
            .references
            .iter()
            .filter(|r| r.context == ReferenceContext::Pattern && !r.maybe_binding)
            .map(|r| r.path.segments.join("::"))
            .collect();
        assert_eq!(patterns, vec!["M::A", "M::C", "M::D"]);
    }

    #[test]
    fn macro_bodies_that_are_expressions_are_visited() {
        let parsed = parse("fn f() { println!(\"{}\", crate::a::b()); my_macro!(struct X;); }");
        let exprs: Vec<String> = parsed
            .references
            .iter()
            .filter(|r| r.context == ReferenceContext::Expr)
            .map(|r| r.path.segments.join("::"))
            .collect();
        assert_eq!(exprs, vec!["crate::a::b"]);
        assert!(parsed.definitions.iter().all(|d| d.name != "X"));
    }

    #[test]
    fn spans_are_one_based_with_byte_offsets() {
        let parsed = parse("\nstruct Foo;");
        let span = parsed.definitions[0].span;
        assert_eq!((span.line, span.column, span.start, span.end), (2, 8, 8, 11));
    }

    #[test]
    fn pathological_nesting_is_refused_not_overflowed() {
        // The checker parses on workers with a large stack; so does this test.
        let worker = std::thread::Builder::new().stack_size(crate::WORKER_STACK).spawn(|| {
            let deep = format!("fn f() {{ let x = {}1{}; }}", "(".repeat(10_000), ")".repeat(10_000));
            let problem = parse(&deep).problem.expect("a problem");
            assert!(problem.message.contains("nest deeper than"), "{}", problem.message);
            let limit = super::super::lex::MAX_NESTING - 2;
            let fine = format!("fn f() {{ let x = {}1{}; }}", "(".repeat(limit), ")".repeat(limit));
            assert!(parse(&fine).problem.is_none());
        });
        worker.expect("spawns").join().expect("no panic");
    }

    #[test]
    fn items_syn_refuses_are_skipped_and_the_rest_analyzed() {
        let parsed = parse(
            "#![allow(x)]\ntype A = Fn(&u8) + Send;\nconst C: S = S { a: 1 };\npub const trait T {}\nstruct After;",
        );
        let names: Vec<&str> = parsed.definitions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["C", "After"]);
        let problem = parsed.problem.expect("a problem");
        assert_eq!(problem.kind, crate::facts::ProblemKind::PartiallyAnalyzed);
        assert!(
            problem.message.starts_with("2 top-level item(s)"),
            "{}",
            problem.message
        );
        assert_eq!(problem.span.map(|s| s.line), Some(2));
    }

    #[test]
    fn cargo_script_frontmatter_is_blanked_keeping_offsets() {
        let text = "#!/usr/bin/env cargo\n---cargo\n[package]\nname = \"é\"\n---\nstruct S;\n";
        let blanked = super::super::lex::blank_preamble(text);
        assert_eq!(blanked.len(), text.len());
        let parsed = parse(text);
        assert!(parsed.problem.is_none(), "{:?}", parsed.problem);
        assert_eq!(parsed.definitions[0].span.line, 6);
        assert_eq!(
            &text[parsed.definitions[0].span.start..parsed.definitions[0].span.end],
            "S"
        );
    }

    #[test]
    fn a_shebang_line_is_not_code() {
        let parsed = parse("#!/usr/bin/env run-cargo-script\nstruct A;");
        assert!(parsed.problem.is_none());
        assert_eq!(parsed.definitions[0].span.line, 2);
    }

    #[test]
    fn unparsable_text_is_a_problem_with_a_location() {
        let parsed = parse("fn f( {");
        let problem = parsed.problem.expect("a problem");
        assert!(problem.span.is_some());
    }

    #[test]
    fn impl_trait_for_type_is_a_definition_named_after_the_type() {
        let parsed = parse("impl fmt::Display for Foo<T> { fn fmt(&self) {} } impl Foo { fn new() {} }");
        let impls: Vec<_> = parsed
            .definitions
            .iter()
            .filter(|d| d.kind == DefinitionKind::Impl)
            .collect();
        assert_eq!(impls.len(), 1);
        assert_eq!(impls[0].name, "Foo");
        assert_eq!(
            impls[0].implements.as_ref().map(|p| p.segments.join("::")),
            Some("fmt::Display".into())
        );
    }
}
