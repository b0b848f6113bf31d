//! Reading items without syn: what a top-level item that mentions none of the rules' words declares.
//!
//! Such an item holds nothing a rule looks for (the reasoning of `skim`, applied to whole items): other
//! files need of it only what it declares (item names, enum variants, `use`s, `mod`s), to resolve their
//! own paths. Those are read here from the skimming lexer's tokens, at a fraction of the cost of lexing
//! with proc-macro2 and parsing with syn. The facts are those syn's pass records for the same item,
//! less the paths used inside it, the methods and `impl` blocks it holds, the scopes of its functions
//! and `impl` blocks (none of them declares a name another file can see), and its definitions other than
//! enums (no rule can select them: see [`Reader::define`]). An item of a shape not recognised here goes
//! to syn, so an unusual item costs time, never a fact.

use std::ops::Range;

use super::super::raw::{
    self, ITEMLESS_MACROS, PIECE_BYTES, ParsedFile, RawDefinition, RawImport, RawModule, RawPath, Scope, ScopeKind,
};
use super::super::text::cfg;
use super::super::text::lexer::{Lexer, Token};
use crate::facts::{DefinitionKind, Span};
use crate::frontend::lines::LineTable;

/// Words that cannot name an item (written raw, `r#type`, they can).
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "gen", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A run of a file's top-level items.
#[derive(Debug)]
pub(crate) enum Part {
    /// Items read here: their facts, as a piece of the file (its root scope is the file's).
    Read(Box<ParsedFile>),
    /// Items that mention a word, or of a shape not recognised here: for syn, by byte range.
    Parse(Range<usize>),
}

/// A file split into runs of items, and its inner `#![cfg(..)]` (which no run holds).
pub(crate) struct Plan {
    /// The runs, in order.
    pub parts: Vec<Part>,
    /// See `ParsedFile::inner_cfg`.
    pub inner_cfg: Option<String>,
}

/// Splits `text` (the whole file) into runs of top-level items, reading those that do not `mention`
/// a word. `offset` is added to every byte offset (a byte-order mark before `text`).
pub(crate) fn plan(text: &str, offset: usize, mentions: &dyn Fn(Range<usize>) -> bool) -> Plan {
    let mut reader = Reader::new(text, offset);
    // The file's inner attributes (`#![...]`): only a `cfg` among them is recorded.
    let Some(inner) = reader.inner_attributes() else {
        return Plan {
            parts: vec![Part::Parse(0..text.len())],
            inner_cfg: None,
        };
    };
    let mut parts: Vec<Part> = Vec::new();
    let mut at = reader.position();
    while reader.peek().is_some() {
        let read = reader.item();
        let mut end = reader.position();
        let mut facts = std::mem::replace(&mut reader.out, ParsedFile::empty());
        if read.is_some() && !mentions(at..end) {
            for invocation in facts.invocations.iter_mut().filter(|i| i.range == raw::PENDING_RANGE) {
                invocation.range = offset + at..offset + end;
            }
            match parts.last_mut() {
                Some(Part::Read(run)) => raw::append_piece(run, facts),
                _ => parts.push(Part::Read(Box::new(facts))),
            }
        } else {
            if read.is_none() {
                reader.rewind(at);
                end = item_end(&mut reader.tokens).unwrap_or(text.len());
                reader.rewind(end);
            }
            // Runs are kept short: a syntax tree takes dozens of times the size of its text.
            match parts.last_mut() {
                Some(Part::Parse(run)) if run.len() < PIECE_BYTES => run.end = end,
                _ => parts.push(Part::Parse(at..end)),
            }
        }
        at = end;
    }
    Plan {
        parts,
        inner_cfg: cfg::all_of(&inner.cfg),
    }
}

/// The leaves of the `use` item `text` (from `use` to its `;`): each path as written and the name it
/// binds (`None` for a glob or `_`). `None` when the item is of a shape not recognised here.
pub(crate) fn use_leaves(text: &str) -> Option<Vec<(Vec<String>, Option<String>)>> {
    let mut reader = Reader::new(text, 0);
    if reader.word()?.0 != "use" {
        return None;
    }
    reader.use_item(&Attributes::default(), false)?;
    Some(
        reader
            .out
            .imports
            .into_iter()
            .map(|i| (i.path.segments, i.binding))
            .collect(),
    )
}

/// Where an item not recognised here most likely ends: after a `;`, or after a brace group that no `;`
/// or `.` follows, outside any group. `None` when the tokens end or go wrong first. A wrong guess only
/// makes syn fail on the pieces around it, and the file is then parsed whole.
fn item_end(lexer: &mut Lexer<'_>) -> Option<usize> {
    loop {
        let (token, _) = lexer.next()?;
        match token {
            Token::Punct(b';') => return Some(lexer.position()),
            Token::Open(open) => {
                lexer.skip_group()?;
                let continues = matches!(lexer.peek_token(), Some((Token::Punct(b';' | b'.'), _, _)));
                if open == b'{' && !continues {
                    return Some(lexer.position());
                }
            }
            Token::Close(_) | Token::Error => return None,
            _ => {}
        }
    }
}

/// What the outer attributes of an item say (see the syn collector's `attribute_paths`, `is_test_item`
/// and `cfg_predicates`).
#[derive(Debug, Default)]
struct Attributes {
    paths: Vec<String>,
    test: bool,
    /// The value of `#[path = "..."]`.
    path: Option<String>,
    /// The canonical predicates of `#[cfg]` and of the `cfg`s in `#[cfg_attr]`.
    cfg: Vec<String>,
    /// The `path`s in `#[cfg_attr]`, with their predicates.
    cfg_paths: Vec<(String, String)>,
}

/// Reads items from tokens into facts; every method returns `None` on a shape it does not recognise.
struct Reader<'t> {
    text: &'t str,
    tokens: Lexer<'t>,
    /// The next token when looked at already (see [`Reader::peek`]), and where the lexer was before it.
    peeked: Option<(Token, usize, usize)>,
    peeked_from: usize,
    /// Where each line starts, for line and column numbers.
    lines: LineTable<'t>,
    offset: usize,
    out: ParsedFile,
    scope: usize,
    in_test: bool,
    /// The `cfg` predicates of the inline modules being read, outermost first.
    cfg: Vec<String>,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str, offset: usize) -> Self {
        Reader {
            text,
            tokens: Lexer::new(text.as_bytes()),
            peeked: None,
            peeked_from: 0,
            lines: LineTable::new(text),
            offset,
            out: ParsedFile::empty(),
            scope: 0,
            in_test: false,
            cfg: Vec::new(),
        }
    }

    /// The span of `start..end`, with the line and column (in characters) of `start`.
    fn span(&self, start: usize, end: usize) -> Span {
        let (line, column) = self.lines.position(start);
        Span {
            line,
            column,
            start: self.offset + start,
            end: self.offset + end,
        }
    }

    /// The next token if it is `token` (consumed).
    fn eat(&mut self, token: Token) -> Option<usize> {
        match self.peek() {
            Some((next, start, end)) if next == token => {
                self.rewind(end);
                Some(start)
            }
            _ => None,
        }
    }

    /// The next token if it is the keyword or name `word` (consumed).
    fn eat_word(&mut self, word: &str) -> bool {
        match self.peek() {
            Some((Token::Ident, start, end)) if &self.text[start..end] == word => {
                self.rewind(end);
                true
            }
            _ => false,
        }
    }

    /// `::` (two adjacent colons), consumed.
    fn path_separator(&mut self) -> bool {
        match self.peek() {
            Some((Token::Punct(b':'), start, _)) if self.text.as_bytes().get(start + 1) == Some(&b':') => {
                self.rewind(start + 2);
                true
            }
            _ => false,
        }
    }

    /// The next token as a keyword or name as written (raw identifiers keep their `r#`).
    fn word(&mut self) -> Option<(&'t str, usize)> {
        match self.next()? {
            (Token::Ident, start) => Some((&self.text[start..self.position()], start)),
            _ => None,
        }
    }

    /// The next token as a name: unraw, ASCII only (anything else is left to the real lexer), with
    /// its start and end.
    fn name(&mut self) -> Option<(String, usize, usize)> {
        let (word, start) = self.word()?;
        word.is_ascii().then(|| {
            (
                word.strip_prefix("r#").unwrap_or(word).to_owned(),
                start,
                start + word.len(),
            )
        })
    }

    /// After an opening delimiter: past its closer.
    fn skip_group(&mut self) -> Option<()> {
        if self.peeked.is_some() {
            self.rewind(self.peeked_from);
        }
        self.tokens.skip_group().map(|_| ())
    }

    /// The next token with its start and end, lexed once however often it is looked at.
    fn peek(&mut self) -> Option<(Token, usize, usize)> {
        if self.peeked.is_none() {
            self.peeked_from = self.tokens.position();
            self.peeked = self
                .tokens
                .next()
                .map(|(token, start)| (token, start, self.tokens.position()));
        }
        self.peeked
    }

    /// The next token and its start, consumed.
    fn next(&mut self) -> Option<(Token, usize)> {
        match self.peeked.take() {
            Some((token, start, _)) => Some((token, start)),
            None => self.tokens.next(),
        }
    }

    /// Just past the last token consumed.
    fn position(&self) -> usize {
        match self.peeked {
            Some(_) => self.peeked_from,
            None => self.tokens.position(),
        }
    }

    /// Moves back (or on) to byte `at`, a token boundary.
    fn rewind(&mut self, at: usize) {
        self.peeked = None;
        self.tokens.rewind(at);
    }

    /// `#![...]` attributes: only their `cfg` matters (a module's inner `cfg` compiles all of it).
    fn inner_attributes(&mut self) -> Option<Attributes> {
        let mut attributes = Attributes::default();
        while let Some((Token::Punct(b'#'), start, _)) = self.peek() {
            if self.text.as_bytes()[start + 1..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                != Some(&b'!')
            {
                break;
            }
            self.next();
            self.eat(Token::Punct(b'!'))?;
            self.attribute(&mut attributes)?;
        }
        Some(attributes)
    }

    /// `#[...]` attributes: their paths, whether they make the item a test item, a `path` value and
    /// their `cfg` predicates.
    fn outer_attributes(&mut self) -> Option<Attributes> {
        let mut attributes = Attributes::default();
        while self.eat(Token::Punct(b'#')).is_some() {
            self.attribute(&mut attributes)?;
        }
        Some(attributes)
    }

    /// One attribute's `[...]`, noted in `attributes`.
    fn attribute(&mut self, attributes: &mut Attributes) -> Option<()> {
        self.eat(Token::Open(b'['))?;
        let mut segments = Vec::new();
        loop {
            segments.push(self.name()?.0);
            if !self.path_separator() {
                break;
            }
        }
        let path = segments.join("::");
        attributes.test |= segments.last().is_some_and(|s| s == "test");
        match self.peek() {
            Some((Token::Open(_), _, inside)) if path == "cfg" => {
                self.next();
                attributes.test |= self.cfg_mentions_test()?;
                let close = self.position() - 1;
                attributes.cfg.push(cfg::canonical(&self.text[inside..close])?);
            }
            Some((Token::Open(_), _, inside)) if path == "cfg_attr" => {
                self.next();
                self.skip_group()?;
                let close = self.position() - 1;
                attributes
                    .cfg
                    .extend(cfg::of_cfg_attr(&cfg::canonical(&self.text[inside..close])?));
            }
            Some((Token::Punct(b'='), _, _)) if path == "path" => {
                self.next();
                let (token, start) = self.next()?;
                let literal = &self.text[start..self.position()];
                // Only a plain string: escapes and raw strings are left to syn.
                let value = literal.strip_prefix('"').and_then(|l| l.strip_suffix('"'));
                match value {
                    Some(value) if token == Token::Literal && !value.contains('\\') => {
                        attributes.path = Some(value.to_owned());
                    }
                    _ => return None,
                }
            }
            _ => {}
        }
        loop {
            match self.next()?.0 {
                Token::Open(_) => self.skip_group()?,
                Token::Close(b']') => break,
                Token::Close(_) | Token::Error => return None,
                _ => {}
            }
        }
        attributes.paths.push(path);
        Some(())
    }

    /// Inside `cfg(...)`, up to and past its closer: whether `test` is named other than under `not`.
    fn cfg_mentions_test(&mut self) -> Option<bool> {
        let mut found = false;
        let mut previous_was_not = false;
        loop {
            let (token, start) = self.next()?;
            match token {
                Token::Ident => {
                    let word = &self.text[start..self.position()];
                    found |= word == "test";
                    previous_was_not = word == "not";
                }
                Token::Open(_) if !previous_was_not => {
                    found |= self.cfg_mentions_test()?;
                    previous_was_not = false;
                }
                Token::Open(_) => {
                    self.skip_group()?;
                    previous_was_not = false;
                }
                Token::Close(_) => return Some(found),
                Token::Error => return None,
                _ => {}
            }
        }
    }

    /// `pub`, `pub(crate)`, `pub(in path)`: whether the item is visible outside its module.
    fn visibility(&mut self) -> Option<bool> {
        if !self.eat_word("pub") {
            return Some(false);
        }
        if self.eat(Token::Open(b'(')).is_some() {
            self.skip_group()?;
        }
        Some(true)
    }

    /// One item, attributes first.
    fn item(&mut self) -> Option<()> {
        let attributes = self.outer_attributes()?;
        let public = self.visibility()?;
        let mut qualified = false;
        loop {
            let (word, _) = self.word()?;
            match word {
                "async" | "unsafe" | "safe" => {}
                "const" if self.peek_any(&["fn", "async", "unsafe", "extern", "safe"]) => {}
                "auto" if self.peek_any(&["trait"]) => {}
                "extern" if !qualified && self.eat_word("crate") => return self.extern_crate(&attributes, public),
                "extern" => {
                    self.eat(Token::Literal);
                    if self.eat(Token::Open(b'{')).is_some() {
                        // Foreign items declare nothing syn's pass records.
                        return self.skip_group();
                    }
                }
                "fn" => return self.function(&attributes),
                "trait" => return self.trait_item(&attributes),
                "impl" => return self.impl_item(),
                _ if qualified => return None,
                "use" => return self.use_item(&attributes, public),
                "mod" => return self.module(&attributes),
                "struct" => return self.structure(DefinitionKind::Struct, &attributes),
                "union" if matches!(self.peek(), Some((Token::Ident, _, _))) => {
                    return self.structure(DefinitionKind::Union, &attributes);
                }
                "enum" => return self.enumeration(&attributes),
                "type" => return self.up_to_semicolon(DefinitionKind::TypeAlias, &attributes),
                "const" => return self.up_to_semicolon(DefinitionKind::Const, &attributes),
                "macro_rules" if self.eat(Token::Punct(b'!')).is_some() => return self.macro_rules(&attributes),
                // Statics carry the paths of their type, read by syn.
                "static" => return None,
                _ if public => return None,
                first => {
                    let first = first.strip_prefix("r#").unwrap_or(first).to_owned();
                    return self.macro_call(first, &attributes);
                }
            }
            qualified = true;
        }
    }

    /// Whether the next token is one of `words`.
    fn peek_any(&mut self, words: &[&str]) -> bool {
        match self.peek() {
            Some((Token::Ident, start, end)) => words.contains(&&self.text[start..end]),
            _ => false,
        }
    }

    /// The next token as the name of an item, module or variant: not a keyword.
    /// `_` only where `underscore` allows it (a `const`).
    fn item_name(&mut self, underscore: bool) -> Option<(String, usize, usize)> {
        let name = self.name()?;
        let raw = &self.text[name.1..name.2];
        (!KEYWORDS.contains(&raw) && (underscore || raw != "_")).then_some(name)
    }

    /// Declares `name` in the current scope. Only an enum is recorded as a definition too (its variants
    /// are names other files use): no rule can select a definition whose item mentions none of its
    /// words, so the others would only be dropped once resolved.
    fn define(&mut self, kind: DefinitionKind, (name, start, end): (String, usize, usize), attributes: &Attributes) {
        self.out.scopes[self.scope].items.insert(name.clone());
        if kind != DefinitionKind::Enum {
            return;
        }
        let span = self.span(start, end);
        self.out.definitions.push(RawDefinition {
            scope: self.scope,
            kind,
            name,
            span,
            attributes: attributes.paths.clone(),
            in_test: self.in_test || attributes.test,
            local: false,
            implements: None,
            self_type: None,
            variants: Vec::new(),
            static_type: None,
            cfg: self.cfg_with(attributes),
            generated_by: None,
        });
    }

    /// The `cfg` of an item with `attributes` here: the inline modules' and its own.
    fn cfg_with(&self, attributes: &Attributes) -> Option<String> {
        let all: Vec<String> = self.cfg.iter().chain(&attributes.cfg).cloned().collect();
        cfg::all_of(&all)
    }

    /// Skips a header (generics, parameters, bounds, `where` clauses) up to one of `ends` outside angle
    /// brackets, which it consumes and returns (a group it opens is not skipped).
    fn header(&mut self, ends: &[Token]) -> Option<Token> {
        let mut angles = 0usize;
        let mut arrow_at = None;
        loop {
            let (token, start) = self.next()?;
            match token {
                _ if angles == 0 && ends.contains(&token) => return Some(token),
                Token::Open(_) => self.skip_group()?,
                Token::Punct(b'<') => angles += 1,
                // `->` is not a closing angle bracket.
                Token::Punct(b'>') if arrow_at != Some(start) => angles = angles.checked_sub(1)?,
                Token::Punct(b'-') => arrow_at = Some(start + 1),
                Token::Punct(b'=') if angles == 0 => return None,
                Token::Punct(b';') | Token::Close(_) | Token::Error => return None,
                _ => {}
            }
        }
    }

    /// A function with a body (one without is left to syn: it records nothing for one outside a trait).
    fn function(&mut self, attributes: &Attributes) -> Option<()> {
        let name = self.item_name(false)?;
        self.header(&[Token::Open(b'{')])?;
        self.skip_body()?;
        self.define(DefinitionKind::Fn, name, attributes);
        Some(())
    }

    /// A trait (a trait alias, `trait A = B;`, is left to syn).
    fn trait_item(&mut self, attributes: &Attributes) -> Option<()> {
        let name = self.item_name(false)?;
        self.header(&[Token::Open(b'{')])?;
        self.skip_body()?;
        self.define(DefinitionKind::Trait, name, attributes);
        Some(())
    }

    /// An `impl` block: syn's pass records its methods and trait, nothing another file can name.
    fn impl_item(&mut self) -> Option<()> {
        self.header(&[Token::Open(b'{')])?;
        self.skip_body()
    }

    /// Skips the group just opened, which holds code: one that declares a module (a test's
    /// `#[path = ".."] mod tables;` in a function body) is syn's, the module tree goes through it.
    fn skip_body(&mut self) -> Option<()> {
        let mut depth = 1usize;
        while depth > 0 {
            let (token, start) = self.next()?;
            match token {
                // Nesting too deep for the parser is the parser's to report.
                Token::Open(_) if depth >= super::super::text::lexer::MAX_NESTING => return None,
                Token::Open(_) => depth += 1,
                Token::Close(_) => depth -= 1,
                Token::Ident if &self.text[start..self.position()] == "mod" => return None,
                Token::Error => return None,
                _ => {}
            }
        }
        Some(())
    }

    /// A struct or union: fields in braces, in parentheses before a `;`, or none.
    fn structure(&mut self, kind: DefinitionKind, attributes: &Attributes) -> Option<()> {
        let name = self.item_name(false)?;
        if self.header(&[Token::Punct(b';'), Token::Open(b'{')])? == Token::Open(b'{') {
            self.skip_group()?;
        }
        self.define(kind, name, attributes);
        Some(())
    }

    /// An enum and the names of its variants.
    fn enumeration(&mut self, attributes: &Attributes) -> Option<()> {
        let name = self.item_name(false)?;
        self.header(&[Token::Open(b'{')])?;
        let mut variants = Vec::new();
        loop {
            self.outer_attributes()?;
            if self.eat(Token::Close(b'}')).is_some() {
                break;
            }
            let (variant, _, _) = self.item_name(false)?;
            if variant == "pub" {
                return None;
            }
            variants.push(variant);
            if let Some((Token::Open(b'(' | b'{'), _, _)) = self.peek() {
                self.next();
                self.skip_group()?;
            }
            if self.eat(Token::Punct(b'=')).is_some() {
                // A discriminant: an expression up to the `,` (a `<` might be a generic's, whose
                // commas do not end it: left to syn).
                while !matches!(self.peek()?.0, Token::Punct(b',') | Token::Close(b'}')) {
                    match self.next()?.0 {
                        Token::Open(_) => self.skip_group()?,
                        Token::Punct(b'<') | Token::Close(_) | Token::Error => return None,
                        _ => {}
                    }
                }
            }
            match self.next()?.0 {
                Token::Punct(b',') => {}
                Token::Close(b'}') => break,
                _ => return None,
            }
        }
        self.define(DefinitionKind::Enum, name, attributes);
        if let Some(definition) = self.out.definitions.last_mut() {
            definition.variants = variants;
        }
        Some(())
    }

    /// `type` and `const` items: a name (or `_`), then anything up to the `;` outside groups.
    fn up_to_semicolon(&mut self, kind: DefinitionKind, attributes: &Attributes) -> Option<()> {
        let name = self.item_name(kind == DefinitionKind::Const)?;
        loop {
            match self.next()?.0 {
                Token::Punct(b';') => break,
                Token::Open(_) => self.skip_group()?,
                Token::Close(_) | Token::Error => return None,
                _ => {}
            }
        }
        self.define(kind, name, attributes);
        Some(())
    }

    /// `macro_rules! name { rules }`: kept with the text of its rules, for expanding its invocations.
    /// One that may wrap items in attributes (`$item:item`) is syn's, which reads what it puts on them.
    fn macro_rules(&mut self, attributes: &Attributes) -> Option<()> {
        let (name, start, end) = self.item_name(false)?;
        let (Token::Open(delimiter), open) = self.next()? else {
            return None;
        };
        self.skip_group()?;
        let rules = &self.text[open + 1..self.position() - 1];
        if delimiter != b'{' {
            self.eat(Token::Punct(b';'))?;
        }
        let compact: String = rules.split_whitespace().collect();
        if compact.contains(":item") {
            return None;
        }
        self.out.scopes[self.scope].items.insert(name.clone());
        let span = self.span(start, end);
        self.out.macro_rules.push(raw::RawMacroRules {
            name,
            rules: rules.to_owned(),
            exported: attributes.paths.iter().any(|p| p == "macro_export"),
            span,
        });
        Some(())
    }

    /// `path!(...);`, `path![...];` or `path! {...}` in item position (the first segment already read).
    /// A body that may hold items (`cfg_rt! { pub struct .. }`, `cfg_net!( impl .. );`) is read as items
    /// in place, as syn's pass reads it (an item not read here leaves it all to syn); any other is read
    /// past, not seen into. Every `cfg_if!` is syn's, which reads its branches under their predicates.
    fn macro_call(&mut self, first: String, attributes: &Attributes) -> Option<()> {
        let mut name = first;
        while self.path_separator() {
            name = self.name()?.0;
        }
        self.eat(Token::Punct(b'!'))?;
        let Token::Open(delimiter) = self.next()?.0 else {
            return None;
        };
        if name == "cfg_if" {
            return None;
        }
        let body = self.position();
        // A body that starts with a literal is not items (`link!("kernel32.dll" "system" fn ..);`): syn
        // reads it as expressions, as nothing a rule finds in an item that mentions no word.
        let starts_with_literal = matches!(self.peek(), Some((Token::Literal, _, _)));
        let holds_items = !starts_with_literal && self.group_holds_item_keyword()?;
        if starts_with_literal {
            self.rewind(body);
            self.skip_group()?;
        }
        let in_test = self.in_test || attributes.test;
        if holds_items {
            // Read in place under the macro's flag, as syn's pass reads a body that parses as items
            // (`cfg_rt! { .. }`, libc's `s! { .. }`); a body with an item not read here is syn's.
            self.rewind(body);
            self.macro_items(&name, delimiter, attributes, in_test)?;
        }
        if delimiter != b'{' {
            self.eat(Token::Punct(b';'))?;
        }
        self.out.note_item_macro_call(raw::RawInvocation {
            name: name.clone(),
            range: raw::PENDING_RANGE,
            top_level: self.scope == 0,
            quiet: !holds_items,
            in_test,
        });
        // Test code is not counted, so what it does not show is not either.
        if !holds_items && !in_test && !ITEMLESS_MACROS.contains(&name.as_str()) {
            self.out.opaque_macro_calls.push((name, self.offset + self.position()));
        }
        Some(())
    }

    /// The items of an item macro's body (its `delimiter` just read), to the closing delimiter, under
    /// the invocation's `cfg` and the macro's flag (see `raw::macro_flag`); `None` at an item not read
    /// here.
    fn macro_items(&mut self, name: &str, delimiter: u8, attributes: &Attributes, in_test: bool) -> Option<()> {
        let close = match delimiter {
            b'(' => b')',
            b'[' => b']',
            _ => b'}',
        };
        let saved = (self.in_test, self.cfg.len());
        self.in_test = in_test;
        self.cfg.extend(attributes.cfg.iter().cloned());
        self.cfg.push(raw::macro_flag(name));
        let read = loop {
            if self.eat(Token::Close(close)).is_some() {
                break Some(());
            }
            if self.item().is_none() {
                break None;
            }
        };
        self.in_test = saved.0;
        self.cfg.truncate(saved.1);
        read
    }

    /// Reads to the end of the group just opened: whether an item keyword occurs in it.
    fn group_holds_item_keyword(&mut self) -> Option<bool> {
        const ITEM_KEYWORDS: &[&str] = &[
            "struct",
            "enum",
            "union",
            "trait",
            "fn",
            "mod",
            "use",
            "impl",
            "type",
            "const",
            "static",
            "macro_rules",
            "extern",
        ];
        let mut depth = 1usize;
        let mut found = false;
        while depth > 0 {
            let (token, start) = self.next()?;
            match token {
                Token::Open(_) => depth += 1,
                Token::Close(_) => depth -= 1,
                Token::Ident => found |= ITEM_KEYWORDS.contains(&&self.text[start..self.position()]),
                Token::Error => return None,
                _ => {}
            }
        }
        Some(found)
    }

    fn extern_crate(&mut self, attributes: &Attributes, public: bool) -> Option<()> {
        let (name, start, end) = self.name()?;
        let binding = if self.eat_word("as") {
            self.name()?.0
        } else {
            name.clone()
        };
        self.eat(Token::Punct(b';'))?;
        let span = self.span(start, end);
        self.out.imports.push(RawImport {
            reexport: public,
            in_test: self.in_test || attributes.test,
            cfg: self.cfg_with(attributes),
            ..RawImport::extern_crate(self.scope, name, binding, span)
        });
        Some(())
    }

    fn use_item(&mut self, attributes: &Attributes, public: bool) -> Option<()> {
        let in_test = self.in_test || attributes.test;
        let leading_colon = self.path_separator();
        let mut tree = UseTree {
            leading_colon,
            reexport: public,
            in_test,
            cfg: self.cfg_with(attributes),
            prefix: Vec::new(),
        };
        self.use_tree(&mut tree)?;
        self.eat(Token::Punct(b';')).map(|_| ())
    }

    fn use_tree(&mut self, tree: &mut UseTree) -> Option<()> {
        match self.peek()? {
            (Token::Open(b'{'), _, _) => {
                self.next();
                loop {
                    if self.eat(Token::Close(b'}')).is_some() {
                        return Some(());
                    }
                    self.use_tree(tree)?;
                    match self.next()?.0 {
                        Token::Punct(b',') => {}
                        Token::Close(b'}') => return Some(()),
                        _ => return None,
                    }
                }
            }
            (Token::Punct(b'*'), start, _) => {
                self.next();
                let segments = tree.prefix.clone();
                self.import(tree, segments, None, true, start, start + 1);
                Some(())
            }
            (Token::Ident, _, _) => {
                let (name, start, end) = self.name()?;
                if self.path_separator() {
                    tree.prefix.push(name);
                    let read = self.use_tree(tree);
                    tree.prefix.pop();
                    return read;
                }
                let (segments, binding) = raw::leaf_segments(&tree.prefix, name);
                if self.eat_word("as") {
                    let (rename, start, end) = self.name()?;
                    let binding = Some(rename).filter(|b| b != "_");
                    self.import(tree, segments, binding, false, start, end);
                } else {
                    self.import(tree, segments, binding, false, start, end);
                }
                Some(())
            }
            _ => None,
        }
    }

    fn import(
        &mut self,
        tree: &UseTree,
        segments: Vec<String>,
        binding: Option<String>,
        glob: bool,
        start: usize,
        end: usize,
    ) {
        let span = self.span(start, end);
        self.out.imports.push(RawImport {
            scope: self.scope,
            path: RawPath {
                leading_colon: tree.leading_colon,
                segments,
            },
            binding,
            glob,
            reexport: tree.reexport,
            extern_crate: false,
            span,
            in_test: tree.in_test,
            cfg: tree.cfg.clone(),
        });
    }

    fn module(&mut self, attributes: &Attributes) -> Option<()> {
        let (name, start, end) = self.item_name(false)?;
        let in_test = self.in_test || attributes.test;
        let inline = match self.next()?.0 {
            Token::Punct(b';') => false,
            Token::Open(b'{') => true,
            _ => return None,
        };
        // An inline module's inner `#![cfg(..)]` is the module's as much as its outer one (syn keeps
        // both on the item).
        let mut own = Attributes::default();
        own.cfg.clone_from(&attributes.cfg);
        if inline {
            own.cfg.extend(self.inner_attributes()?.cfg);
        }
        self.out.scopes[self.scope].items.insert(name.clone());
        let span = self.span(start, end);
        self.out.modules.push(RawModule {
            scope: self.scope,
            name: name.clone(),
            inline,
            path_attr: attributes.path.clone(),
            cfg_paths: attributes.cfg_paths.clone(),
            span,
            in_test,
            cfg: self.cfg_with(&own),
        });
        if !inline {
            return Some(());
        }
        let mut rel_path = self.out.scopes[self.scope].rel_path.clone();
        rel_path.push(name.clone());
        self.out.scopes.push(Scope {
            parent: Some(self.scope),
            kind: ScopeKind::Module(Some(name)),
            rel_path,
            items: Default::default(),
        });
        let saved = (self.scope, self.in_test, self.cfg.len());
        self.scope = self.out.scopes.len() - 1;
        self.in_test = in_test;
        self.cfg.extend(own.cfg);
        let read = loop {
            if self.eat(Token::Close(b'}')).is_some() {
                break Some(());
            }
            if self.item().is_none() {
                break None;
            }
        };
        (self.scope, self.in_test) = (saved.0, saved.1);
        self.cfg.truncate(saved.2);
        read
    }
}

/// Where a `use` tree is being read.
struct UseTree {
    leading_colon: bool,
    reexport: bool,
    /// The `cfg` of the `use` item.
    cfg: Option<String>,
    in_test: bool,
    prefix: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::BodyWords;

    /// Words no test text contains: every item may be read without the parser.
    fn no_words() -> BodyWords {
        BodyWords::new(Some(vec!["ssot_check_no_such_word".to_owned()]))
    }

    /// What other files can see of a parse, scopes named by their path: module scopes and their items,
    /// enums (with their variants), imports and `mod` declarations.
    fn declared(parsed: &ParsedFile) -> Vec<String> {
        // The path of a module scope that only modules enclose (items inside a function are its own).
        let module = |id: usize| {
            let mut scope = Some(id);
            while let Some(at) = scope {
                if !matches!(parsed.scopes[at].kind, ScopeKind::Module(_)) {
                    return None;
                }
                scope = parsed.scopes[at].parent;
            }
            Some(parsed.scopes[id].rel_path.join("::"))
        };
        let mut out = vec![format!("inner cfg {:?}", parsed.inner_cfg)];
        for (id, scope) in parsed.scopes.iter().enumerate() {
            if let Some(path) = module(id) {
                let mut items: Vec<&String> = scope.items.iter().collect();
                items.sort();
                out.push(format!(
                    "scope {path:?} in {:?}: {items:?}",
                    scope.parent.and_then(module)
                ));
            }
        }
        for d in &parsed.definitions {
            if d.kind != DefinitionKind::Enum || module(d.scope).is_none() {
                continue;
            }
            let RawDefinition {
                kind,
                name,
                span,
                in_test,
                local,
                variants,
                cfg,
                ..
            } = d;
            let at = module(d.scope);
            // Doc comments are attributes to syn unless skimming made them plain comments, which a
            // character it cannot blank prevents; nothing reads documentation.
            let attributes: Vec<&String> = d.attributes.iter().filter(|a| *a != "doc").collect();
            out.push(format!(
                "def {at:?} {kind:?} {name} {span:?} {attributes:?} {in_test} {local} {variants:?} {cfg:?}"
            ));
        }
        for i in parsed.imports.iter().filter(|i| module(i.scope).is_some()) {
            let RawImport {
                path,
                binding,
                glob,
                reexport,
                extern_crate,
                span,
                in_test,
                cfg,
                ..
            } = i;
            let at = module(i.scope);
            out.push(format!(
                "use {at:?} {path:?} {binding:?} {glob} {reexport} {extern_crate} {span:?} {in_test} {cfg:?}"
            ));
        }
        for m in parsed.modules.iter().filter(|m| module(m.scope).is_some()) {
            let RawModule {
                name,
                inline,
                path_attr,
                span,
                in_test,
                cfg,
                ..
            } = m;
            let at = module(m.scope);
            out.push(format!(
                "mod {at:?} {name} {inline} {path_attr:?} {span:?} {in_test} {cfg:?}"
            ));
        }
        out
    }

    /// Asserts that reading without the parser gives what the parser gives, and returns how many of the
    /// top-level items were read that way.
    fn same_as_parser(text: &str) -> usize {
        let read = super::super::super::read::parse_reading(text, &no_words(), true);
        let parsed = super::super::super::read::parse_reading(text, &no_words(), false);
        // An item syn refuses may be read here (`type A = Fn(&u8) + Send;`, edition 2015): the parser's
        // problem is then not the reader's, and its facts are short of that item.
        if parsed.problem.is_none() {
            assert_eq!(read.problem, None, "{text}");
            let (read, parsed) = (declared(&read), declared(&parsed));
            let only_read: Vec<&String> = read.iter().filter(|r| !parsed.contains(r)).collect();
            let only_parsed: Vec<&String> = parsed.iter().filter(|p| !read.contains(p)).collect();
            assert_eq!(
                read, parsed,
                "{text}\nonly read: {only_read:#?}\nonly parsed: {only_parsed:#?}"
            );
        }
        plan(text, 0, &|_| false)
            .parts
            .iter()
            .filter(|part| matches!(part, Part::Read(_)))
            .count()
    }

    #[test]
    fn items_read_without_the_parser_declare_what_the_parser_finds() {
        let text = r#"#![allow(dead_code)]
#![cfg(any( unix, feature = "a" /* why */ ))]
//! Inner doc.
use std::{self, collections::{HashMap as Map, *}, fmt::Write as _};
#[cfg(windows)] #[cfg_attr(docsrs, cfg(feature = "d"))] use std::os::windows as platform;
#[cfg(unix)]
mod imp { #![cfg(not(target_os = "wasi"))] #[cfg(feature = "x")] pub enum Only { A } }
#[cfg_attr(unix, path = "sys/unix.rs")] #[cfg_attr(windows, path = "sys/windows.rs")] mod sys;
#[cfg_attr(feature = "y", cfg(target_os = "linux"), derive(Debug))] pub enum Twin { B }
pub use ::core::r#type::Thing;
pub(crate) extern crate alloc as heap;
extern crate self as this;
#[cfg(all(test, not(miri)))] mod tests;
#[cfg(not(test))] #[path = "other.rs"] pub mod other;
#[cfg_attr(test, derive(Debug))]
pub(in crate::a) struct Generic<'a, T: Fn(u8) -> bool = fn(u8) -> bool, const N: usize = { 3 }> where T: Clone { f: &'a T }
struct Tuple(u8, Vec<u8>) where u8: Copy;
struct Unit;
union U { a: u32, b: f32 }
macro_rules! rules { ($x:expr) => { $x }; }
macro_rules! paren ( () => {} );
#[derive(Clone)]
enum E<T> { #[default] A, B(T), C { x: u8 } = 3, D = { 1 + 2 }, }
pub type Alias<T> = Result<T, [u8; 4]>;
const C: Generic<'static, fn(u8) -> bool> = todo!();
const _: () = { let x = 1; };
pub const unsafe extern "C" fn qualified<T>(x: T) -> impl Fn() -> Vec<T> where T: Copy { todo!() }
async fn run() -> Result<(), Box<dyn std::error::Error>> { Ok(()) }
unsafe impl<T: Send> Send for Generic<'_, T> {}
impl<T> std::fmt::Display for E<T> where T: std::fmt::Display { fn fmt(&self) {} }
pub unsafe trait Marker: Send + Sync { fn method(&self) -> u8 { 1 } }
auto trait Auto {}
extern "C" { fn foreign(x: u8); static GLOBAL: u8; }
unsafe extern "C" { safe fn other(); }
lazy::call! { anything }
call!(a, b);
cfg_rt! { pub struct InMacro; #[cfg(unix)] pub mod hidden; }
#[cfg(feature = "x")] cfg_net!( pub enum InParens { A } use a::b; );
s! { pub struct S1 { f: u8 } pub struct S2(u8); }
windows_targets::link!("kernel32.dll" "system" fn CreateFileW(name: *const u16) -> u32);
cfg_if::cfg_if! { if #[cfg(unix)] { pub enum Sys { A } } else { pub enum Sys { B } } }
cfg_if! { if #[cfg(feature = "core")] { extern crate alloc as a2; } }
pub mod inline {
    #![doc = "inner"]
    use super::*;
    #[test] fn a_test() {}
    mod deeper { pub(super) fn f() {} }
}
#[cfg(test)]
mod unit_tests { use super::*; struct InTest; }
"#;
        assert!(same_as_parser(text) > 0, "most items are read");
    }

    #[test]
    fn shapes_not_recognised_are_left_to_the_parser() {
        // A static (its type's paths are facts), a trait alias, a function without a body, an item
        // macro with a name, a `<` in a discriminant, a non-ASCII name: the parser reads them.
        for text in [
            "static S: Mutex<u8> = Mutex::new(0);\nstruct After;",
            "trait Alias = Send + Sync;\nstruct After;",
            "fn declared();\nstruct After;",
            "m! name { }\nstruct After;",
            "enum E { A = f::<u8, u8>() }\nstruct After;",
            "struct Ünicode;\nstruct After;",
            "#[path = r\"raw.rs\"] mod m;\nstruct After;",
        ] {
            let parts = plan(text, 0, &|_| false).parts;
            assert!(matches!(parts.first(), Some(Part::Parse(_))), "{text}: {parts:?}");
            assert!(matches!(parts.last(), Some(Part::Read(_))), "{text}: {parts:?}");
            same_as_parser(text);
        }
    }

    #[test]
    fn items_that_mention_a_word_are_parsed() {
        let text = "struct A;\nfn legacy() {}\nstruct B;";
        let at = text.find("legacy").unwrap_or(0);
        let parts = plan(text, 0, &|range: Range<usize>| range.contains(&at)).parts;
        let kinds: Vec<&str> = parts
            .iter()
            .map(|part| match part {
                Part::Read(_) => "read",
                Part::Parse(range) => text[range.clone()].trim(),
            })
            .collect();
        assert_eq!(kinds, ["read", "fn legacy() {}", "read"]);
    }

    #[test]
    fn malformed_text_is_left_to_the_parser_whole() {
        for text in ["struct A; }", "struct A; fn f( {}", "#![a] #![", "mod m { struct S; "] {
            let parts = plan(text, 0, &|_| false).parts;
            assert!(
                matches!(parts.last(), Some(Part::Parse(range)) if range.end == text.len()),
                "{text}"
            );
        }
    }

    /// Every Rust file of this repository (and, with `SSOT_CHECK_READ_ITEMS_DIR`, of another tree):
    /// what is read without the parser equals what the parser finds.
    #[test]
    fn every_file_of_the_repository_reads_the_same() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dirs: Vec<std::path::PathBuf> = match std::env::var_os("SSOT_CHECK_READ_ITEMS_DIR") {
            Some(dir) => vec![dir.into()],
            None => ["src", "tests", "examples", "fixtures", "gateway"]
                .iter()
                .map(|d| root.join(d))
                .collect(),
        };
        // The analyzer's stacks: the parser recurses deeply on some files when unoptimized.
        let pool = rayon::ThreadPoolBuilder::new()
            .stack_size(crate::WORKER_STACK)
            .build()
            .expect("pool");
        let (files, read) = pool.install(|| read_the_same(dirs));
        assert!(
            files > 50 && read * 10 > files * 9,
            "{read} of {files} files read without the parser"
        );
    }

    /// How many files are under `dirs`, and how many of them had items read without the parser.
    fn read_the_same(dirs: Vec<std::path::PathBuf>) -> (usize, usize) {
        let (mut files, mut read) = (0, 0);
        for dir in dirs {
            for entry in ignore::WalkBuilder::new(dir)
                .standard_filters(false)
                .build()
                .filter_map(Result::ok)
            {
                if entry.path().extension().is_some_and(|e| e == "rs")
                    && let Ok(text) = std::fs::read_to_string(entry.path())
                    && !text.contains(super::super::super::read::PANIC_FOR_TESTS)
                {
                    files += 1;
                    read += usize::from(same_as_parser(&text) > 0);
                }
            }
        }
        (files, read)
    }
}
