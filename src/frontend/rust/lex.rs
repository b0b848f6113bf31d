//! Lexing: the text to proc-macro2 tokens, after blanking what the compiler accepts before the first
//! token (a shebang line, cargo-script frontmatter), refusing pathological nesting before syn recurses,
//! and noting where literals are (so `//` inside a string is not taken for a comment).

use crate::facts::FileProblem;

use super::syntax::span_of;

/// How deeply delimiters may nest before a file is refused. Real code stays far below; the limit keeps
/// syn's recursive descent (and the drop of its tree) within the worker's stack on generated input.
pub(crate) const MAX_NESTING: usize = 256;

/// Blanks out (keeping every offset) what the compiler accepts before the first token but the lexer does
/// not: a shebang line, and cargo-script frontmatter (`---` fenced lines at the top of the file).
pub(crate) fn blank_preamble(text: &str) -> std::borrow::Cow<'_, str> {
    let mut end = 0;
    if text.starts_with("#!") && !text.starts_with("#![") {
        end = text.find('\n').map_or(text.len(), |at| at + 1);
    }
    let rest = &text[end..];
    let first_line = rest.lines().next().unwrap_or("");
    if first_line.starts_with("---") {
        let fence = first_line.chars().take_while(|c| *c == '-').count();
        let mut at = end + first_line.len() + 1;
        for line in text[at.min(text.len())..].split_inclusive('\n') {
            at += line.len();
            let trimmed = line.trim_end();
            if trimmed.len() >= fence && trimmed.chars().all(|c| c == '-') {
                end = at.min(text.len());
                break;
            }
        }
    }
    if end == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    // Multi-byte characters become several spaces so byte offsets stay put.
    let blank: String = text[..end]
        .chars()
        .flat_map(|c| if c == '\n' { vec!['\n'] } else { vec![' '; c.len_utf8()] })
        .collect();
    std::borrow::Cow::Owned(format!("{blank}{}", &text[end..]))
}

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
