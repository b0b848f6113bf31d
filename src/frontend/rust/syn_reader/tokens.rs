//! Lexing for syn: the text to proc-macro2 tokens, after blanking what the compiler accepts before the
//! first token (a shebang line, cargo-script frontmatter), refusing pathological nesting before syn
//! recurses, and noting where literals are (so `//` inside a string is not taken for a comment).

use crate::facts::FileProblem;

use proc_macro2::Span as TokenSpan;

use super::super::text::blank::blank_preamble;
use super::super::text::lexer::MAX_NESTING;
use crate::facts::Span;

/// Lexes the text (a shebang line is blanked out, keeping offsets) and, unless skimming already did,
/// refuses pathological nesting. The byte ranges of literals are collected when asked for, so that `//`
/// inside a string is not taken for a comment.
pub(crate) fn tokenize(
    text: &str,
    mut literals: Option<&mut Vec<std::ops::Range<usize>>>,
    check_nesting: bool,
) -> Result<proc_macro2::TokenStream, FileProblem> {
    let text = blank_preamble(text);
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|error: proc_macro2::LexError| {
        let message = format!("not valid Rust tokens (an unbalanced delimiter or a malformed literal): {error}");
        FileProblem::parse(message, Some(span_of(error.span())))
    })?;
    if !check_nesting && literals.is_none() {
        return Ok(tokens);
    }
    let mut stack: Vec<(proc_macro2::token_stream::IntoIter, usize)> = vec![(tokens.clone().into_iter(), 0)];
    while let Some((mut iter, depth)) = stack.pop() {
        if let Some(token) = iter.next() {
            stack.push((iter, depth));
            if let (proc_macro2::TokenTree::Literal(literal), Some(literals)) = (&token, literals.as_deref_mut()) {
                literals.push(literal.span().byte_range());
            }
            if let proc_macro2::TokenTree::Group(group) = token {
                if depth + 1 > MAX_NESTING {
                    let message = format!("delimiters nest deeper than {MAX_NESTING} levels; the file is not analyzed");
                    return Err(FileProblem::parse(message, Some(span_of(group.span_open()))));
                }
                stack.push((group.stream().into_iter(), depth + 1));
            }
        }
    }
    Ok(tokens)
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
