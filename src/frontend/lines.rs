//! Line tables: byte offsets to lines and columns and back, and spans moved by an offset.
//!
//! Columns are counted in characters, as people and editors count them; offsets are bytes.

use crate::facts::Span;

/// Where each line of a text starts.
pub(crate) struct LineTable<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineTable<'t> {
    /// The table of `text`.
    pub fn new(text: &'t str) -> Self {
        LineTable {
            text,
            starts: std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|at| at + 1))
                .collect(),
        }
    }

    /// The text the table is of.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// The 0-based index of the line holding byte `at`, and where that line starts.
    pub fn line_of(&self, at: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&start| start <= at) - 1;
        (line, self.starts[line])
    }

    /// The 1-based line and 1-based column (in characters) of byte `at`. A byte order mark at the start
    /// of the text is not a character anyone sees: it is not counted.
    pub fn position(&self, at: usize) -> (u32, u32) {
        let (line, start) = self.line_of(at);
        let mark = '\u{feff}'.len_utf8();
        let start = match line == 0 && at >= mark && self.text.starts_with('\u{feff}') {
            true => mark,
            false => start,
        };
        let before = &self.text.as_bytes()[start..at];
        let column = if before.is_ascii() {
            before.len()
        } else {
            self.text[start..at].chars().count()
        };
        (line as u32 + 1, column as u32 + 1)
    }

    /// The byte offset of a position given as a 1-based line and a 0-based column in characters (as
    /// token positions are): a converter cheaper than proc-macro2's own, which keeps a map per file.
    pub fn byte(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let prefix = rest.as_bytes().get(..column).unwrap_or(rest.as_bytes());
        if prefix.is_ascii() {
            return start + prefix.len();
        }
        start + rest.char_indices().nth(column).map_or(rest.len(), |(byte, _)| byte)
    }
}

/// `span` moved `offset` bytes later (lines and columns stay: the bytes before are a byte-order mark).
pub(crate) fn shifted(span: Span, offset: usize) -> Span {
    Span {
        start: span.start + offset,
        end: span.end + offset,
        ..span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_not_a_column() {
        let text = "\u{feff}class A: pass\r\nclass B: pass\r\n";
        let lines = LineTable::new(text);
        assert_eq!(lines.position(text.find("A:").unwrap_or(0)), (1, 7));
        assert_eq!(lines.position(text.find("B:").unwrap_or(0)), (2, 7));
        assert_eq!(lines.position(0), (1, 1));
    }

    #[test]
    fn positions_and_bytes_agree_on_multibyte_lines() {
        let text = "ab\né x\n\nz";
        let table = LineTable::new(text);
        assert_eq!(table.position(0), (1, 1));
        assert_eq!(table.position(6), (2, 3));
        assert_eq!(table.position(9), (4, 1));
        assert_eq!(table.byte(2, 2), 6);
        assert_eq!(table.byte(9, 0), text.len());
        assert_eq!(table.line_of(5), (1, 3));
    }
}
