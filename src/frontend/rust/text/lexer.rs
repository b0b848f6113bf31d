//! The skimming lexer: tells identifiers, delimiters, punctuation and literals apart, skipping
//! whitespace and comments, at memchr speed and without allocating. Enough to find items, bodies and
//! matching delimiters; the real lexing is proc-macro2's.

/// How deeply delimiters may nest before a file is refused. Real code stays far below; the limit keeps
/// syn's recursive descent (and the drop of its tree) within the worker's stack on generated input.
pub(crate) const MAX_NESTING: usize = 256;

/// What the skimming lexer tells apart: enough to find items and match delimiters, nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// An identifier or keyword (raw identifiers included).
    Ident,
    /// `(`, `[` or `{`.
    Open(u8),
    /// `)`, `]` or `}`.
    Close(u8),
    /// Any other single punctuation byte.
    Punct(u8),
    /// A string, character or number literal, or a lifetime.
    Literal,
    /// Something the real lexer will reject (an unterminated literal or comment).
    Error,
}

/// A lexer over bytes; it never fails, an [`Token::Error`] says where the real lexer will.
pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    /// Where the next token (or trivia) starts.
    at: usize,
    /// The third character of each doc comment seen.
    docs: Vec<usize>,
}

/// How deeply delimiters are open, refusing (with `None`) a closer too many or nesting deeper than
/// [`MAX_NESTING`], which the parser's recursion could not take.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Nesting(usize);

impl Nesting {
    /// Opens one level.
    pub fn enter(&mut self) -> Option<()> {
        self.0 += 1;
        (self.0 <= MAX_NESTING).then_some(())
    }

    /// Closes one level.
    pub fn leave(&mut self) -> Option<()> {
        self.0 = self.0.checked_sub(1)?;
        Some(())
    }

    /// How many levels are open.
    pub fn depth(self) -> usize {
        self.0
    }
}

/// Whether a byte continues an identifier (any non-ASCII byte does: Unicode identifiers).
fn is_ident_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Lexer {
            bytes,
            at: 0,
            docs: Vec::new(),
        }
    }

    /// Where the next token (or trivia) starts: just past the last token returned.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The third character of each doc comment passed so far (see `skim::Skim::docs`).
    pub fn into_docs(self) -> Vec<usize> {
        self.docs
    }

    /// The next token with its start and end, without moving past it.
    pub fn peek_token(&mut self) -> Option<(Token, usize, usize)> {
        let (at, docs) = (self.at, self.docs.len());
        let next = self.next().map(|(token, start)| (token, start, self.at));
        self.at = at;
        self.docs.truncate(docs);
        next
    }

    /// Moves back (or on) to byte `at`, a token boundary seen before.
    pub fn rewind(&mut self, at: usize) {
        self.at = at;
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.at + ahead).copied().unwrap_or(0)
    }

    /// After an opening delimiter: skips to its matching closer and returns where that closer starts;
    /// `None` if the group is malformed, unclosed or nests too deeply.
    pub fn skip_group(&mut self) -> Option<usize> {
        let mut nesting = Nesting::default();
        nesting.enter()?;
        while let Some((token, start)) = self.next() {
            match token {
                Token::Open(_) => nesting.enter()?,
                Token::Close(_) => {
                    nesting.leave()?;
                    if nesting.depth() == 0 {
                        return Some(start);
                    }
                }
                Token::Error => return None,
                _ => {}
            }
        }
        None
    }

    /// Skips whitespace and comments (doc comments included: they hold nothing this pass needs).
    fn skip_trivia(&mut self) -> Result<(), ()> {
        loop {
            while self.at < self.bytes.len() && self.bytes[self.at].is_ascii_whitespace() {
                self.at += 1;
            }
            match (self.peek(0), self.peek(1)) {
                (b'/', b'/') => {
                    if self.peek(2) == b'!' || (self.peek(2) == b'/' && self.peek(3) != b'/') {
                        self.docs.push(self.at + 2);
                    }
                    self.at = memchr::memchr(b'\n', &self.bytes[self.at..]).map_or(self.bytes.len(), |n| self.at + n);
                }
                (b'/', b'*') => {
                    if self.peek(2) == b'!' || (self.peek(2) == b'*' && !matches!(self.peek(3), b'*' | b'/')) {
                        self.docs.push(self.at + 2);
                    }
                    self.at += 2;
                    let mut depth = 1;
                    while depth > 0 {
                        let next = memchr::memchr2(b'*', b'/', &self.bytes[self.at..]).ok_or(())?;
                        self.at += next;
                        match (self.peek(0), self.peek(1)) {
                            (b'*', b'/') => {
                                depth -= 1;
                                self.at += 2;
                            }
                            (b'/', b'*') => {
                                depth += 1;
                                self.at += 2;
                            }
                            _ => self.at += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    pub fn next(&mut self) -> Option<(Token, usize)> {
        if self.skip_trivia().is_err() {
            return Some((Token::Error, self.at));
        }
        let start = self.at;
        let byte = *self.bytes.get(start)?;
        self.at += 1;
        let token = match byte {
            b'(' | b'[' | b'{' => Token::Open(byte),
            b')' | b']' | b'}' => Token::Close(byte),
            b'"' => self.string(),
            b'\'' => self.quote(),
            b'0'..=b'9' => {
                while is_ident_byte(self.peek(0)) || (self.peek(0) == b'.' && self.peek(1).is_ascii_digit()) {
                    self.at += 1;
                }
                Token::Literal
            }
            _ if is_ident_byte(byte) => self.word(start),
            _ => Token::Punct(byte),
        };
        Some((token, start))
    }

    /// An identifier, or the prefix of a raw, byte or C string, a byte character, or a raw identifier.
    fn word(&mut self, start: usize) -> Token {
        while is_ident_byte(self.peek(0)) {
            self.at += 1;
        }
        match (&self.bytes[start..self.at], self.peek(0)) {
            (b"r" | b"br" | b"cr", b'#' | b'"') if self.peek(0) == b'"' || matches!(self.peek(1), b'#' | b'"') => {
                self.raw_string()
            }
            (b"r", b'#') => {
                self.at += 1;
                while is_ident_byte(self.peek(0)) {
                    self.at += 1;
                }
                Token::Ident
            }
            (b"b" | b"c", b'"') => {
                self.at += 1;
                self.string()
            }
            (b"b", b'\'') => {
                self.at += 1;
                self.quote()
            }
            _ => Token::Ident,
        }
    }

    /// The rest of a string after its opening quote.
    fn string(&mut self) -> Token {
        loop {
            let Some(next) = memchr::memchr2(b'"', b'\\', &self.bytes[self.at..]) else {
                self.at = self.bytes.len();
                return Token::Error;
            };
            self.at += next + 1;
            if self.bytes[self.at - 1] == b'"' {
                return Token::Literal;
            }
            // Past the escaped character, which a backslash ending the text does not have.
            self.at = (self.at + 1).min(self.bytes.len());
        }
    }

    /// `r#"..."#` after its prefix letters.
    fn raw_string(&mut self) -> Token {
        let hashes = self.bytes[self.at..].iter().take_while(|b| **b == b'#').count();
        self.at += hashes;
        if self.peek(0) != b'"' {
            return Token::Error;
        }
        self.at += 1;
        loop {
            let Some(next) = memchr::memchr(b'"', &self.bytes[self.at..]) else {
                self.at = self.bytes.len();
                return Token::Error;
            };
            self.at += next + 1;
            let closing = &self.bytes[self.at..];
            if closing.len() >= hashes && closing[..hashes].iter().all(|b| *b == b'#') {
                self.at += hashes;
                return Token::Literal;
            }
        }
    }

    /// After `'`: a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime or label (`'a`).
    fn quote(&mut self) -> Token {
        if self.peek(0) == b'\\' {
            self.at += 2;
            return match memchr::memchr(b'\'', &self.bytes[self.at.min(self.bytes.len())..]) {
                Some(next) => {
                    self.at += next + 1;
                    Token::Literal
                }
                None => {
                    self.at = self.bytes.len();
                    Token::Error
                }
            };
        }
        let width = match self.peek(0) {
            0..0x80 => 1,
            0xc0..0xe0 => 2,
            0xe0..0xf0 => 3,
            _ => 4,
        };
        if self.peek(width) == b'\'' {
            self.at += width + 1;
            return Token::Literal;
        }
        while is_ident_byte(self.peek(0)) {
            self.at += 1;
        }
        Token::Literal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token of `text`, as `(token, start)`.
    fn tokens(text: &str) -> Vec<(Token, usize)> {
        let mut lexer = Lexer::new(text.as_bytes());
        std::iter::from_fn(|| lexer.next()).collect()
    }

    #[test]
    fn unterminated_literals_and_comments_are_errors_not_panics() {
        // Found by the fuzzer: a string whose last byte is a backslash read past the end.
        for text in ["mod \"a\\", "\"\\", "'\\", "b'\\", "r#\"x", "/* x", "\"x"] {
            let found = tokens(text);
            assert!(found.iter().any(|t| t.0 == Token::Error), "{text:?}: {found:?}");
        }
    }

    #[test]
    fn tokens_are_told_apart_and_trivia_skipped() {
        let found: Vec<Token> = tokens("fn r#a(x: 'b) { \"}\" /* } */ 1.5 } // x")
            .into_iter()
            .map(|t| t.0)
            .collect();
        use Token::*;
        assert_eq!(
            found,
            [
                Ident,
                Ident,
                Open(b'('),
                Ident,
                Punct(b':'),
                Literal,
                Close(b')'),
                Open(b'{'),
                Literal,
                Literal,
                Close(b'}')
            ]
        );
    }
}
