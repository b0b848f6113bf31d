//! The syn reader: proc-macro2 tokens and syn's syntax tree to the raw fact model, for a whole file,
//! a piece of one, or item by item when the whole does not parse.
//!
//! Layer invariant: the only module of the crate that imports `syn` or `proc_macro2`; it reads `text`
//! and fills `raw`, and knows nothing of the fast reader or the pipeline that chooses between them.

mod collect;
mod macro_rules;
mod prune;
mod refusal;
mod tokens;

use rayon::prelude::*;
use syn::visit::Visit;

use super::raw::{PIECE_BYTES, ParsedFile, append_piece};
use super::text::blank::blank_into;
use crate::facts::FileProblem;
use crate::frontend::lines::shifted;
use collect::Collector;
pub(crate) use collect::{FoundMacro, MacroSource};
pub(crate) use prune::declares_module_or_import;
use tokens::span_of;

/// Lets proc-macro2 drop the text it keeps of every file parsed on this thread for span lookups, once
/// nothing holds a span of it any more.
pub(crate) fn release_spans() {
    proc_macro2::extra::invalidate_current_thread_spans();
}

/// Parses the items of `source[range]` on their own, as a piece of the file (its root scope is the
/// file's), given where the line of its start begins and how many lines come before, expanding the
/// invocations of `macros` when given. `None` if the piece does not lex or parse on its own.
pub(crate) fn parse_piece(
    source: &str,
    range: std::ops::Range<usize>,
    (line_start, lines_before): (usize, u32),
    offset: usize,
    macros: Option<&dyn MacroSource>,
) -> Option<ParsedFile> {
    // A piece that starts inside a line is given that line's start blanked, so columns stay right.
    let text: std::borrow::Cow<'_, str> = match line_start == range.start {
        true => std::borrow::Cow::Borrowed(&source[range]),
        false => {
            let mut padded = Vec::with_capacity(range.end - line_start);
            blank_into(&source[line_start..range.start], &mut padded)?;
            padded.extend_from_slice(&source.as_bytes()[range]);
            std::borrow::Cow::Owned(String::from_utf8(padded).ok()?)
        }
    };
    let tokens: proc_macro2::TokenStream = text.parse().ok()?;
    let mut collector = Collector::new(&text, offset + line_start);
    if let Some(macros) = macros {
        collector = collector.expanding(macros);
    }
    collector.set_line_offset(lines_before);
    let collected = collect_into(&mut collector, tokens);
    // Nothing holds a span of this piece any more (another piece or file may run on this thread).
    proc_macro2::extra::invalidate_current_thread_spans();
    collected.ok().map(|()| collector.finish())
}

/// Parses `source` in pieces cut at `cuts` (see `skim`), into one collector. `None` if a piece does
/// not lex or parse on its own: the whole file is then parsed at once, which also reports the error.
pub(crate) fn collect_pieces(source: &str, cuts: &[usize], offset: usize) -> Option<ParsedFile> {
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
        .map(|(start, end, lines)| parse_piece(source, start..end, (start, lines), offset, None))
        .collect();
    let mut pieces = pieces.into_iter();
    let mut whole = pieces.next()??;
    for piece in pieces {
        append_piece(&mut whole, piece?);
    }
    Some(whole)
}

/// Parses a whole file's text at once; a file that does not parse as a whole is recovered item by item.
pub(crate) fn parse_whole(
    source: &str,
    literals: Option<&mut Vec<std::ops::Range<usize>>>,
    balanced: bool,
    offset: usize,
) -> ParsedFile {
    match tokens::tokenize(source, literals, !balanced) {
        // The stream goes to syn unshared: a second handle would make syn copy every token.
        Ok(tokens) => match collect_items(source, tokens, offset) {
            Ok(parsed) => parsed,
            Err(error) => match tokens::tokenize(source, None, false) {
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

/// Parses a whole file's text with the workspace's `macro_rules!` expanded where it invokes them; a
/// file that does not parse as a whole is read as [`parse_whole`] reads it.
pub(crate) fn parse_whole_expanding(source: &str, offset: usize, macros: &dyn MacroSource) -> ParsedFile {
    let expanded = tokens::tokenize(source, None, true).ok().and_then(|tokens| {
        let mut collector = Collector::new(source, offset).expanding(macros);
        collect_into(&mut collector, tokens).ok()?;
        Some(collector.finish())
    });
    expanded.unwrap_or_else(|| parse_whole(source, None, false, offset))
}

/// Parses and collects one item at a time, so only one item's syntax tree is alive at once (a generated
/// file's whole tree can take dozens of times its size).
pub(crate) fn collect_items(source: &str, tokens: proc_macro2::TokenStream, offset: usize) -> syn::Result<ParsedFile> {
    let mut collector = Collector::new(source, offset);
    collect_into(&mut collector, tokens)?;
    Ok(collector.finish())
}

/// Parses the items of `tokens` (after any inner attributes) one at a time into `collector`.
fn collect_into(collector: &mut Collector<'_>, tokens: proc_macro2::TokenStream) -> syn::Result<()> {
    let parser = |input: syn::parse::ParseStream<'_>| -> syn::Result<()> {
        let inner = input.call(syn::Attribute::parse_inner)?;
        if !inner.is_empty() {
            collector.inner_attributes(&inner);
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
    let mut first_error: Option<(syn::Error, String)> = None;
    for mut chunk in chunks {
        // Inner attributes (`#![..]`) belong to the file, not to the item after them.
        let mut inner: Vec<TokenTree> = Vec::new();
        while matches!(chunk.as_slice(), [TokenTree::Punct(h), TokenTree::Punct(b), TokenTree::Group(_), ..] if h.as_char() == '#' && b.as_char() == '!')
        {
            inner.extend(chunk.drain(..3));
        }
        if !inner.is_empty() {
            let parse_inner = |input: syn::parse::ParseStream<'_>| input.call(syn::Attribute::parse_inner);
            if let Ok(attributes) = syn::parse::Parser::parse2(parse_inner, inner.into_iter().collect()) {
                collector.inner_attributes(&attributes);
            }
        }
        if chunk.is_empty() {
            continue;
        }
        match syn::parse2::<syn::Item>(chunk.iter().cloned().collect()) {
            Ok(item) => collector.visit_item(&item),
            Err(error) => {
                failed += 1;
                if first_error.is_none() {
                    let why = refusal::describe(&chunk, &error, source);
                    first_error = Some((error, why));
                }
            }
        }
    }
    let (error, why) = first_error.unwrap_or_else(|| (error.clone(), error.to_string()));
    let mut out = collector.finish();
    out.problem = Some(FileProblem {
        kind: crate::facts::ProblemKind::PartiallyAnalyzed,
        message: format!("{failed} top-level item(s) could not be parsed and were skipped; the first, {why}"),
        span: Some(shifted(span_of(error.span()), offset)),
    });
    out
}
