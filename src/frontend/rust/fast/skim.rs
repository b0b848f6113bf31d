//! Skimming: a fast byte-level pass that finds the function bodies no rule needs, so the full parser
//! never sees them.
//!
//! Most of a Rust file is function bodies, and most bodies mention nothing any rule asks about. A rule
//! tells, through the words it needs ([`BodyWords`]), what a body must contain to matter to it: a body
//! that contains none of them is skipped, keeping its braces and every offset. A body is kept when the
//! words occur in it, in the header of the `impl` or `trait` block around it (`Self::` stands for that
//! type inside), or anywhere in the file's `use` items (a rename or glob can bring an interesting
//! name in under another one); names that other files re-export under a new name are handled one level
//! up, by parsing in full every file that mentions them.

use std::ops::Range;

use super::super::text::blank::blank_into;
use super::super::text::lexer::{Lexer, Nesting, Token};
use crate::frontend::BodyWords;

/// What the full parser can be spared in one file.
#[derive(Debug, Default)]
pub(crate) struct Skim {
    /// The interiors (between the braces) of function bodies that contain none of the words.
    pub bodies: Vec<Range<usize>>,
    /// Where doc comments have their third character (`///`, `//!`, `/**`, `/*!`): turned into plain
    /// comments, they are not attributes to parse. Nothing reads documentation.
    pub docs: Vec<usize>,
    /// The delimiters balance and nest no deeper than the parser allows (checked here, so the lexer
    /// need not walk the tokens again).
    pub balanced: bool,
    /// Line starts where a top-level item begins (after the previous one ended, with nothing but
    /// indentation before it on its line): a large file can be parsed in pieces cut there.
    pub cuts: Vec<usize>,
    /// Where the words occur, ascending.
    pub words_at: Vec<usize>,
    /// Whether items that mention no word may be read without the parser (see `quick_items`): the
    /// words are known, the file is well formed, and no `use` item brings a word in under another name.
    pub items_readable: bool,
}

impl Skim {
    /// Whether there is nothing to spare.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty() && self.docs.is_empty()
    }
}

/// Skims `text`: nothing to spare when the file is malformed or nests too deeply (the parser should say
/// so), and no bodies when a `use` item mentions a word or every body matters.
#[cfg(test)]
pub(crate) fn skim(text: &str, words: &BodyWords) -> Skim {
    skim_at(text, words, words.positions(text.as_bytes()))
}

/// [`skim`], given where the words occur in `text` (ascending).
pub(crate) fn skim_at(text: &str, words: &BodyWords, positions: Vec<usize>) -> Skim {
    let bytes = text.as_bytes();
    let mentions = |range: Range<usize>| any_within(&positions, range);
    // A `use` item hides a word when a leaf whose path mentions one binds a name that does not (a glob,
    // a rename, `use std::sync::mpsc::Sender;`): code can then name what the word names without saying
    // it. A use that is not understood is taken to hide one.
    let hides = |range: Range<usize>| {
        mentions(range.clone())
            && super::quick_items::use_leaves(&text[range]).is_none_or(|leaves| {
                leaves.iter().any(|(path, binding)| {
                    path.iter().any(|segment| words.mentioned_in(segment))
                        && !binding.as_ref().is_some_and(|name| words.mentioned_in(name))
                })
            })
    };
    let Some(mut skim) = scan(bytes, &mentions, &hides) else {
        return Skim::default();
    };
    if !words.skips_bodies() {
        skim.bodies.clear();
        skim.items_readable = false;
    } else if positions.is_empty() {
        // Nothing in the file is any rule's business: what other files need of it is its outline.
        match outline(bytes) {
            Some(groups) => skim.bodies = groups,
            None => return Skim::default(),
        }
    }
    skim.words_at = positions;
    skim
}

/// Whether one of `positions` (ascending) lies within `range`.
pub(crate) fn any_within(positions: &[usize], range: Range<usize>) -> bool {
    let first = positions.partition_point(|&p| p < range.start);
    positions.get(first).is_some_and(|&p| p < range.end)
}

/// What an item's keyword says about the groups of the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outline {
    /// `mod`, `enum`, `extern`, `use`: what is inside is names other files see (items, variants,
    /// foreign items, imports).
    Open,
    /// `fn`: its parameters and body are its own.
    Function,
    /// `struct`, `union`, `impl`, `trait`: its braces hold nothing other files see (fields, methods),
    /// and end it.
    Closed,
    /// `const`, `static`, `type`: braces in it hold nothing other files see (initializers), and it goes
    /// on to its `;` (`const C: S = S {};`).
    Valued,
    /// `macro_rules!`: its rules are kept as written, never walked into. What a macro puts on the items
    /// it wraps (`cfg_rt!`'s cfg) and what it expands to are read from them, whatever words they mention.
    Rules,
}

/// For a file that mentions none of the words, the interiors of the groups that hold nothing another
/// file can see: function parameters and bodies, struct and union fields, `impl` and `trait` blocks,
/// initializers and macro invocations in expressions. Kept: module, enum, `extern` and `use` groups
/// (walked into), attributes, an item macro's braces whole (`cfg_rt! { .. }` may hold items) and a
/// macro definition's rules. Blanking them leaves valid syntax (`fn f() {}`, `struct S {}`,
/// `impl T for S {}`). `None` when the tokens are malformed (the parser reports it).
fn outline(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut lexer = Lexer::new(bytes);
    let mut groups = Vec::new();
    let mut item: Option<Outline> = None;
    let mut parameters_seen = false;
    let mut previous = [Token::Punct(0); 2];
    // Inside a `use` item: every brace group in it is walked into (`use a::{b::{c, d}, e};`).
    let mut in_use = false;
    // Only the groups walked into (module, enum, `extern`, `use`, attributes): blanked ones are skipped whole.
    let mut open_groups = Nesting::default();
    // For each group walked into, whether it is an item's body (its end ends the item), not an attribute's
    // or a generic default's (`enum E<T = ()> {`).
    let mut bodies: Vec<bool> = Vec::new();
    // For each group walked into, whether it is an item macro's braces (or a brace group in them, such as
    // a `cfg_if!` branch): items are read in them like in a module.
    let mut in_macro: Vec<bool> = Vec::new();
    while let Some((token, start)) = lexer.next() {
        let blank = match token {
            Token::Error => return None,
            Token::Ident if in_use => false,
            Token::Ident => {
                in_use = &bytes[start..lexer.position()] == b"use" && item != Some(Outline::Function);
                item = match &bytes[start..lexer.position()] {
                    b"mod" | b"enum" | b"extern" | b"use" if item != Some(Outline::Function) => Some(Outline::Open),
                    b"fn" => Some(Outline::Function),
                    b"macro_rules" if item.is_none() => Some(Outline::Rules),
                    b"struct" | b"union" | b"impl" | b"trait" if item.is_none() => Some(Outline::Closed),
                    b"const" | b"static" | b"type" if item.is_none() => Some(Outline::Valued),
                    _ => item,
                };
                false
            }
            Token::Punct(b';') => {
                item = None;
                parameters_seen = false;
                in_use = false;
                false
            }
            Token::Close(_) => {
                // Only the groups walked into close here: the end of a module, enum or `use` group.
                open_groups.leave()?;
                in_macro.pop();
                if bodies.pop()? && !in_use {
                    item = None;
                    parameters_seen = false;
                }
                false
            }
            Token::Open(_) if item == Some(Outline::Rules) => {
                lexer.skip_group()?;
                item = None;
                false
            }
            Token::Open(b'{') if in_use => {
                open_groups.enter()?;
                bodies.push(false);
                in_macro.push(false);
                false
            }
            Token::Open(b'{') if item == Some(Outline::Open) => {
                open_groups.enter()?;
                bodies.push(true);
                in_macro.push(false);
                item = None;
                false
            }
            // An item macro's body (`cfg_rt! { .. }`, `cfg_net!( .. );`), and brace groups in it that no
            // item opens (`cfg_if!`'s branches), may hold items other files see: walked into like a module.
            // One that starts with a literal holds none (`link!("kernel32.dll" "system" fn ..);`).
            Token::Open(delimiter)
                if item.is_none()
                    && !matches!(lexer.peek_token(), Some((Token::Literal, _, _)))
                    && ((previous[1] == Token::Punct(b'!') && previous[0] != Token::Punct(b'#'))
                        || (delimiter == b'{' && in_macro.last() == Some(&true))) =>
            {
                open_groups.enter()?;
                bodies.push(true);
                in_macro.push(true);
                false
            }
            Token::Open(b'{') => true,
            Token::Open(b'(') if previous[1] == Token::Punct(b'!') && previous[0] != Token::Punct(b'#') => true,
            Token::Open(b'(') if item == Some(Outline::Function) && !parameters_seen => {
                parameters_seen = true;
                true
            }
            Token::Open(b'[') if previous[1] == Token::Punct(b'!') && previous[0] != Token::Punct(b'#') => true,
            Token::Open(_) => {
                open_groups.enter()?;
                bodies.push(false);
                in_macro.push(false);
                false
            }
            _ => false,
        };
        previous = [previous[1], token];
        if blank {
            let close = lexer.skip_group()?;
            // A body that declares a module (a test's `#[path = ".."] mod tables;`) is kept: the module
            // tree goes through it.
            let body = item == Some(Outline::Function) && token == Token::Open(b'{');
            if !(body && mentions_module(&bytes[start + 1..close])) {
                groups.push(start + 1..close);
            }
            previous = [previous[1], Token::Close(0)];
            if token == Token::Open(b'{') && item != Some(Outline::Valued) {
                // A brace group ends a function, a closed item or an item macro; a valued item goes on
                // (`const C: S = S {};`): what follows is read as items again (`cfg_rt! { .. }` after
                // an `impl` block holds items).
                item = None;
                parameters_seen = false;
            }
        }
    }
    (open_groups.depth() == 0).then_some(groups)
}

/// Whether code says `mod` as a word (conservatively: in a comment or string too).
fn mentions_module(code: &[u8]) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    memchr::memmem::find_iter(code, b"mod")
        .any(|at| !(code.get(at + 3).is_some_and(word) || at > 0 && word(&code[at - 1])))
}

/// What the scan is in the middle of.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Items and expressions that are not one of the below.
    Items,
    /// Just after `fn`: a name makes it a function item, anything else a function pointer type.
    AfterFn,
    /// A function's signature, written at `level`.
    Signature { level: usize },
    /// A function's body, opened at byte `open` from `level`.
    /// A function body; `module` once a `mod` item is declared in it (a `#[path]` module a test
    /// declares in its body is part of the module tree, so such a body is never skipped).
    Body { level: usize, open: usize, module: bool },
    /// A `use` item starting at `start`, written at `level`.
    Use { start: usize, level: usize },
    /// An `impl` or `trait` header starting at `start`, written at `level`.
    Header { start: usize, level: usize },
}

/// The scan itself: `None` when the tokens are malformed or nest too deeply (which the parser reports).
fn scan(bytes: &[u8], mentions: &dyn Fn(Range<usize>) -> bool, hides: &dyn Fn(Range<usize>) -> bool) -> Option<Skim> {
    let mut lexer = Lexer::new(bytes);
    let mut skipped = Vec::new();
    // A `use` item hides a word (see `skim_at`): any body of the file may use it unsaid.
    let mut keep_all = false;
    let mut nesting = Nesting::default();
    // Inside an `impl`/`trait` block whose header mentions a word: every body in it is kept.
    let mut kept_block: Option<usize> = None;
    let mut state = State::Items;
    // The last token ended a top-level item (`;` or a closing brace at the top level).
    let mut item_ended = false;
    let mut cuts = Vec::new();
    while let Some((token, start)) = lexer.next() {
        let level = nesting.depth();
        if item_ended && level == 0 && starts_item(bytes, token, start, lexer.position()) {
            let line_start = bytes[..start].iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
            if line_start > 0 && bytes[line_start..start].iter().all(|b| *b == b' ' || *b == b'\t') {
                cuts.push(line_start);
            }
        }
        match token {
            Token::Open(_) => nesting.enter()?,
            Token::Close(_) => {
                nesting.leave()?;
                if kept_block.is_some_and(|inside| nesting.depth() < inside) {
                    kept_block = None;
                }
            }
            Token::Error => return None,
            _ => {}
        }
        let depth = nesting.depth();
        item_ended = match token {
            Token::Punct(b';') => level == 0,
            Token::Close(b'}') => depth == 0,
            _ => false,
        };
        state = match (state, token) {
            (State::Items, Token::Ident) => match &bytes[start..lexer.position()] {
                b"fn" => State::AfterFn,
                b"use" => State::Use { start, level },
                b"impl" | b"trait" => State::Header { start, level },
                _ => State::Items,
            },
            (State::AfterFn, Token::Ident) => State::Signature { level },
            (State::Signature { level: at }, Token::Open(b'{')) if level == at => State::Body {
                level,
                open: start,
                module: false,
            },
            (State::Body { level, open, .. }, Token::Ident) if &bytes[start..lexer.position()] == b"mod" => {
                State::Body {
                    level,
                    open,
                    module: true,
                }
            }
            (State::Signature { level: at }, Token::Punct(b';')) if level == at => State::Items,
            (State::Signature { level: at }, Token::Close(_)) if depth < at => State::Items,
            (
                State::Body {
                    level: at,
                    open,
                    module,
                },
                Token::Close(_),
            ) if depth == at => {
                let interior = open + 1..start;
                if kept_block.is_none() && !module && !mentions(interior.clone()) {
                    skipped.push(interior);
                }
                State::Items
            }
            (State::Use { start: from, level: at }, Token::Punct(b';')) if level == at => {
                keep_all = keep_all || hides(from..start + 1);
                State::Items
            }
            (State::Use { level: at, .. }, Token::Close(_)) if depth < at => State::Items,
            (State::Header { start: from, level: at }, Token::Open(b'{')) if level == at => {
                if kept_block.is_none() && mentions(from..start) {
                    kept_block = Some(depth);
                }
                State::Items
            }
            (State::Header { level: at, .. }, Token::Punct(b';')) if level == at => State::Items,
            (State::Header { level: at, .. }, Token::Close(_)) if depth < at => State::Items,
            (State::AfterFn, _) => State::Items,
            (state, _) => state,
        };
    }
    if keep_all {
        skipped.clear();
    }
    (nesting.depth() == 0).then_some(Skim {
        bodies: skipped,
        docs: lexer.into_docs(),
        balanced: true,
        cuts,
        words_at: Vec::new(),
        items_readable: !keep_all,
    })
}

/// Whether a token can start an item (an attribute or a keyword or name), not continue an expression.
fn starts_item(bytes: &[u8], token: Token, start: usize, end: usize) -> bool {
    match token {
        Token::Punct(b'#') => true,
        Token::Ident => !matches!(&bytes[start..end], b"else" | b"as" | b"where"),
        _ => false,
    }
}

/// `text` with the skimmed body interiors blanked and doc comments made plain: each character becomes
/// whitespace of the same length in bytes (line breaks stay), so every byte offset, line and column
/// outside them is unchanged. `None` if a body holds a character no whitespace has the width of (four
/// bytes); the caller then parses the text as it is.
pub(crate) fn blank(text: &str, skim: &Skim) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    for body in &skim.bodies {
        out.extend_from_slice(&text.as_bytes()[copied..body.start]);
        blank_into(&text[body.clone()], &mut out)?;
        copied = body.end;
    }
    out.extend_from_slice(&text.as_bytes()[copied..]);
    for &at in &skim.docs {
        out[at] = b' ';
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bodies skipped in `text`, which mentions the words in a trailing comment (a file that mentions
    /// none is outlined instead, see below).
    fn skipped(text: &str, words: &[&str]) -> Vec<String> {
        let text = &format!("{text}\n// {}", words.join(" "));
        let words = BodyWords::new(Some(words.iter().map(|w| (*w).to_owned()).collect()));
        skim(text, &words)
            .bodies
            .into_iter()
            .map(|r| text[r].trim().to_owned())
            .collect()
    }

    #[test]
    fn bodies_without_the_words_are_skipped() {
        let text = "fn a() { one() }\nfn b() -> [u8; 2] { legacy::two() }\nstruct S { f: fn(u8) }\n";
        assert_eq!(skipped(text, &["legacy"]), ["one()"]);
    }

    #[test]
    fn no_words_means_every_body_matters() {
        let words = BodyWords::new(None);
        assert!(skim("fn a() { b() }", &words).bodies.is_empty());
    }

    #[test]
    fn a_use_that_mentions_a_word_keeps_every_body() {
        assert!(skipped("use legacy::*;\nfn a() { f() }", &["legacy"]).is_empty());
        assert_eq!(skipped("use other::*;\nfn a() { f() }", &["legacy"]), ["f()"]);
    }

    #[test]
    fn a_use_keeps_every_body_only_when_it_hides_a_word() {
        // The name bound says the word: code using it says it too.
        assert_eq!(
            skipped("use std::cmp::Ordering;\nfn a() { f() }", &["Ordering"]),
            ["f()"]
        );
        assert_eq!(
            skipped("use std::sync::{mpsc::{self}, Arc};\nfn a() { f() }", &["mpsc"]),
            ["f()"]
        );
        // The name bound does not: a leaf, a rename, a glob.
        assert!(skipped("use std::sync::mpsc::Sender;\nfn a() { f() }", &["mpsc"]).is_empty());
        assert!(skipped("use std::cmp::Ordering as O;\nfn a() { f() }", &["Ordering"]).is_empty());
        assert!(skipped("use std::cmp::Ordering::*;\nfn a() { f() }", &["Ordering"]).is_empty());
        assert!(skipped("use a::{b, legacy::{c as d}};\nfn a() { f() }", &["legacy"]).is_empty());
    }

    #[test]
    fn an_impl_header_that_mentions_a_word_keeps_its_bodies() {
        let text = "impl Msg { fn a(&self) { Self::A } }\nimpl Other { fn b() { x() } }";
        assert_eq!(skipped(text, &["Msg"]), ["x()"]);
    }

    #[test]
    fn words_in_strings_and_comments_keep_a_body_but_braces_in_them_do_not_confuse() {
        let text = "fn a() { let s = \"}{\"; let c = '}'; /* } */ x() }\nfn b() { r#\"}\"#; 'a: loop {} }";
        assert_eq!(skipped(text, &["zzz"]).len(), 2);
        assert!(skipped("fn a() { // legacy\n }", &["legacy"]).is_empty());
    }

    #[test]
    fn lifetimes_are_not_words() {
        assert_eq!(skipped("fn a() -> &'static str { \"\" }", &["static"]), ["\"\""]);
        assert!(skipped("fn a() { static X: u8 = 0; }", &["static"]).is_empty());
    }

    #[test]
    fn trait_declarations_without_bodies_and_nested_blocks() {
        let text = "trait T { fn a(&self); fn b(&self) { if x { y } } }";
        assert_eq!(skipped(text, &["zzz"]), ["if x { y }"]);
    }

    #[test]
    fn malformed_or_too_deep_files_are_left_to_the_parser() {
        assert!(skipped("fn a() { \"unterminated }", &["zzz"]).is_empty());
        assert!(skipped("fn a() { } }", &["zzz"]).is_empty());
        let deep = format!("fn a() {{ {}{} }}", "(".repeat(300), ")".repeat(300));
        assert!(skipped(&deep, &["zzz"]).is_empty());
    }

    #[test]
    fn blanking_keeps_offsets_lines_and_columns() {
        let text = "fn a() { \"é€\"\n x() }\nstruct S;";
        let skimmed = skim(text, &BodyWords::new(Some(vec!["zzz".into()])));
        let blanked = blank(text, &skimmed).expect("blanks");
        assert_eq!(blanked.len(), text.len());
        assert_eq!(blanked.find("struct S"), text.find("struct S"));
        assert_eq!(blanked.chars().count(), text.chars().count());
        assert_eq!(blanked.lines().count(), text.lines().count());
        let emoji = Skim {
            bodies: std::iter::once(8..14).collect(),
            ..Skim::default()
        };
        assert!(blank("fn a() { \"😀\" }", &emoji).is_none());
    }

    #[test]
    fn items_can_be_cut_at_their_line_starts() {
        let text =
            "use a::b;\nstruct A { x: u8 }\n  #[derive(Debug)]\nstruct B;\nconst C: S = S {};\nfn f() {} fn g() {}\n";
        let cuts = skim(text, &BodyWords::new(None)).cuts;
        let starts: Vec<&str> = cuts.iter().map(|&at| text[at..].lines().next().unwrap_or("")).collect();
        assert_eq!(
            starts,
            [
                "struct A { x: u8 }",
                "  #[derive(Debug)]",
                "const C: S = S {};",
                "fn f() {} fn g() {}"
            ]
        );
    }

    #[test]
    fn a_body_that_declares_a_module_is_never_skipped() {
        let text = "fn t() {\n    #[path = \"tables/mod.rs\"]\n    mod tables;\n}\nfn u() { let model = 1; }\n";
        for words in [vec!["zzz".to_owned()], vec!["model".to_owned()]] {
            let skimmed = skim(text, &BodyWords::new(Some(words)));
            let blanked = blank(text, &skimmed).unwrap_or_else(|| text.to_owned());
            assert!(blanked.contains("mod tables;"), "{blanked}");
        }
    }

    #[test]
    fn a_file_without_the_words_keeps_only_its_outline() {
        let text = "#![allow(x)]\nuse a::{b::{c, d}, e::{f}};\nmod m { pub struct S { f: u8 } fn g(x: u8) -> u8 { x } }\n\
                    enum E<T = ()> { A = { 1 }, B { x: u8 } }\nimpl T for S { fn h() {} }\nconst C: S = S { f: 1 };\n\
                    extern \"C\" { fn ext(a: i32); }\nm!(x y);\n#[cfg(test)]\nfn t() {}\n\
                    macro_rules! wrap { ($($i:item)*) => { $( #[cfg(unix)] $i )* } }\n\
                    impl U { fn u() {} }\ncfg_rt! { mod inside; use z::Z; }\ncfg_net!( mod paren; fn p() { 1 } );\n";
        let skimmed = skim(text, &BodyWords::new(Some(vec!["zzz".to_owned()])));
        let blanked = blank(text, &skimmed).expect("blanks");
        let squeezed = blanked
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("{ }", "{}")
            .replace("( )", "()");
        assert_eq!(
            squeezed,
            "#![allow(x)] use a::{b::{c, d}, e::{f}}; mod m { pub struct S {} fn g() -> u8 {} } enum E<T = ()> { A = {}, B {} } \
             impl T for S {} const C: S = S {}; extern \"C\" { fn ext(); } m!(x y); #[cfg(test)] fn t() {} \
             macro_rules! wrap { ($($i:item)*) => { $( #[cfg(unix)] $i )* } } impl U {} cfg_rt! { mod inside; use z::Z; } \
             cfg_net!( mod paren; fn p() {} );"
        );
    }

    #[test]
    fn doc_comments_become_plain_comments() {
        let text = "/// doc\n//// not doc\n//! inner\n/** block */ /**/ /*** no */ fn a() {}";
        let skimmed = skim(text, &BodyWords::new(None));
        let blanked = blank(text, &skimmed).expect("blanks");
        assert_eq!(
            blanked,
            "//  doc\n//// not doc\n//  inner\n/*  block */ /**/ /*** no */ fn a() {}"
        );
    }
}
