//! Blanking: text replaced by spaces, keeping every byte offset and line, so that what a reader skips
//! is still where it was for everything after it.

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

/// Appends `text` blanked: each character becomes whitespace of the same length in bytes, line breaks
/// stay. `None` for a character no whitespace has the width of (four bytes).
pub(crate) fn blank_into(text: &str, out: &mut Vec<u8>) -> Option<()> {
    for c in text.chars() {
        match c.len_utf8() {
            1 if c == '\n' || c == '\r' => out.push(c as u8),
            1 => out.push(b' '),
            // NEXT LINE and LEFT-TO-RIGHT MARK: whitespace to the lexer, and not line breaks.
            2 => out.extend_from_slice("\u{85}".as_bytes()),
            3 => out.extend_from_slice("\u{200e}".as_bytes()),
            _ => return None,
        }
    }
    Some(())
}
