//! Byte offsets to editor positions and back. The analyzer counts bytes; an editor counts lines and,
//! within a line, UTF-16 code units (the protocol's default) or bytes (when both sides agree on UTF-8).

use lsp_types::{Position, Range};

/// How a position counts within its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Bytes of UTF-8.
    Utf8,
    /// UTF-16 code units.
    Utf16,
}

/// Where each line of a text starts.
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
    encoding: Encoding,
}

impl<'t> Lines<'t> {
    /// Indexes `text`.
    pub fn new(text: &'t str, encoding: Encoding) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Lines { text, starts, encoding }
    }

    /// The position of a byte offset (clamped to the text, and back to a character boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let before = &self.text[self.starts[line]..offset];
        let character = match self.encoding {
            Encoding::Utf8 => before.len(),
            Encoding::Utf16 => before.encode_utf16().count(),
        };
        Position::new(line as u32, character as u32)
    }

    /// The range of a byte range.
    pub fn range(&self, bytes: std::ops::Range<usize>) -> Range {
        Range::new(self.position(bytes.start), self.position(bytes.end))
    }

    /// The byte offset of a position (a position past its line's end is the line's end; past the last
    /// line, the text's end).
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |next| next - 1);
        let line = &self.text[start..end];
        let mut units = 0;
        for (at, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + at;
            }
            units += match self.encoding {
                Encoding::Utf8 => c.len_utf8(),
                Encoding::Utf16 => c.len_utf16(),
            };
        }
        end
    }

    /// The byte range of a line, without its line break (`None` past the end).
    pub fn line(&self, line: u32) -> Option<std::ops::Range<usize>> {
        let start = *self.starts.get(line as usize)?;
        let end = self
            .starts
            .get(line as usize + 1)
            .map_or(self.text.len(), |next| next - 1);
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `é` is two bytes and one UTF-16 unit; `𝄞` four bytes and two units.
    #[test]
    fn positions_count_in_the_agreed_encoding() {
        let text = "ab\né𝄞x\n";
        let x = text.find('x').expect("x");
        let utf16 = Lines::new(text, Encoding::Utf16);
        assert_eq!(utf16.position(x), Position::new(1, 3));
        assert_eq!(utf16.offset(Position::new(1, 3)), x);
        let utf8 = Lines::new(text, Encoding::Utf8);
        assert_eq!(utf8.position(x), Position::new(1, 6));
        assert_eq!(utf8.offset(Position::new(1, 6)), x);
    }

    #[test]
    fn positions_outside_the_text_are_clamped() {
        let text = "ab\ncd";
        let lines = Lines::new(text, Encoding::Utf16);
        assert_eq!(lines.offset(Position::new(0, 99)), 2);
        assert_eq!(lines.offset(Position::new(7, 0)), text.len());
        assert_eq!(lines.position(99), Position::new(1, 2));
        assert_eq!(lines.line(1), Some(3..5));
        assert_eq!(lines.line(2), None);
    }
}
