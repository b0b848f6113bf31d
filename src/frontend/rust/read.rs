//! Reading one file: the per-file pipeline that chooses, item by item, between the fast reader and
//! syn's, and puts their raw facts together with the file's suppressions.
//!
//! Layer invariant: reads `text`, `raw`, `fast`, `syn_reader` and the shared `frontend::suppressions`;
//! nothing here parses
//! Rust itself.

use rayon::prelude::*;

use super::fast::quick_items::{self, Part, Plan};
use super::fast::skim::{self, Skim};
use super::raw::{PIECE_BYTES, ParsedFile, append_piece};
use super::syn_reader;
use super::text::blank::blank_preamble;
use crate::frontend::BodyWords;
use crate::frontend::lines::{LineTable, shifted};
use crate::frontend::suppressions;

/// Text that makes [`parse`] panic in unit tests.
#[cfg(test)]
pub(crate) const PANIC_FOR_TESTS: &str = "ssot-check test: panic here";

/// Parses one file's text and extracts its raw facts, skipping the function bodies that contain none of
/// `words`.
pub(crate) fn parse(text: &str, words: &BodyWords) -> ParsedFile {
    parse_reading(text, words, true)
}

/// The file read again, all of it by syn, with the workspace's `macro_rules!` expanded where it invokes
/// them (expansion needs the syntax tree); the suppressions are those `first` found. With `skipping`,
/// the function bodies that mention none of its words are left out as the first reading left them
/// out, but for those inside its ranges (the invocations: what a macro is given is its to read).
pub(crate) fn parse_expanding(
    text: &str,
    macros: &dyn syn_reader::MacroSource,
    first: &ParsedFile,
    skipping: Option<(&BodyWords, &[std::ops::Range<usize>])>,
) -> ParsedFile {
    let (text, offset) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, '\u{feff}'.len_utf8()),
        None => (text, 0),
    };
    let prepared = blank_preamble(text);
    let blanked = skipping.and_then(|(words, invoked)| {
        let mut skim = skim::skim_at(&prepared, words, words.positions(prepared.as_bytes()));
        // Invocation ranges count from the start of the file as read, byte-order mark included.
        let outside = |at: usize| !invoked.iter().any(|range| range.contains(&(at + offset)));
        skim.bodies.retain(|body| {
            outside(body.start) && outside(body.end.saturating_sub(1)) && !encloses(body, invoked, offset)
        });
        skim.docs.retain(|&at| outside(at));
        (!skim.is_empty()).then(|| skim::blank(&prepared, &skim)).flatten()
    });
    let source = blanked.as_deref().unwrap_or(&prepared);
    let mut parsed = syn_reader::parse_whole_expanding(source, offset, macros);
    syn_reader::release_spans();
    parsed.suppressions = first.suppressions.clone();
    // The items syn cannot read are those the first reading reported: read again with bodies it left
    // out, syn would report more or fewer depending on what the run skips (see `unreadable`).
    if parsed.partly_read() {
        parsed.problem = first.problem.clone();
    }
    parsed.macros_expanded = true;
    // Generated bodies are left out under the same condition (see `syn_reader::MacroSource`).
    parsed.skipped_bodies = skipping.is_some();
    parsed
}

/// Whether `body` (a range of the text without its byte-order mark, `offset` bytes long) holds one
/// of `ranges` (of the text with it).
fn encloses(body: &std::ops::Range<usize>, ranges: &[std::ops::Range<usize>], offset: usize) -> bool {
    ranges
        .iter()
        .any(|range| body.start + offset <= range.start && range.end <= body.end + offset)
}

/// The items at `ranges` of a file's text (its top-level macro invocations) read again, expanding the
/// workspace's macros, in place of what `parsed` took from them. A range that does not parse on its
/// own is left as it was read.
pub(crate) fn expand_items(
    text: &str,
    ranges: &[std::ops::Range<usize>],
    macros: &dyn syn_reader::MacroSource,
    parsed: &mut ParsedFile,
) {
    let lines = LineTable::new(text);
    for range in ranges.iter().filter(|range| range.end <= text.len()) {
        let (line, line_start) = lines.line_of(range.start);
        let Some(piece) = syn_reader::parse_piece(text, range.clone(), (line_start, line as u32), 0, Some(macros))
        else {
            continue;
        };
        let inside = |at: usize| range.contains(&at);
        parsed.definitions.retain(|d| !inside(d.span.start));
        parsed.imports.retain(|i| !inside(i.span.start));
        parsed.references.retain(|r| !inside(r.span.start));
        parsed.modules.retain(|m| !inside(m.span.start));
        parsed.opaque_macro_calls.retain(|(_, at)| !inside(*at));
        parsed.invocations.retain(|i| i.range != *range);
        crate::frontend::rust::raw::append_piece(parsed, piece);
    }
    syn_reader::release_spans();
    parsed.macros_expanded = true;
}

/// How a file is read: the one decision [`parse_reading`] makes before reading anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// The file has suppression comments: syn reads all of it, keeping every literal's span so that a
    /// marker inside a string is not taken for a comment (a skipped body would hide literals).
    WholeWithLiterals,
    /// No rule word occurs anywhere: items are planned at once, most of them read without syn, and
    /// the file is skimmed only if some item is left to syn.
    Wordless,
    /// Rule words occur: skim first (bodies to blank, where the words are), then plan the items that
    /// mention none when `read_items` (tests turn it off to compare the readers).
    Skimmed {
        /// Whether items that mention no word may be read without syn.
        read_items: bool,
    },
}

impl Route {
    fn of(has_suppressions: bool, reading: bool, words: &BodyWords, positions: &[usize]) -> Self {
        if has_suppressions {
            Route::WholeWithLiterals
        } else if reading && words.skips_bodies() && positions.is_empty() {
            Route::Wordless
        } else {
            Route::Skimmed { read_items: reading }
        }
    }
}

/// [`parse`], reading the items that mention no word without the parser only if `reading` (tests
/// compare both ways).
pub(crate) fn parse_reading(text: &str, words: &BodyWords, reading: bool) -> ParsedFile {
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
    let has_suppressions = text.contains(suppressions::MARKER);
    let prepared = blank_preamble(text);
    let positions = match has_suppressions {
        false => words.positions(prepared.as_bytes()),
        true => Vec::new(),
    };
    let route = Route::of(has_suppressions, reading, words, &positions);
    let mut literals = (route == Route::WholeWithLiterals).then(Vec::new);
    let (skim, parts) = match route {
        Route::WholeWithLiterals => (Skim::default(), None),
        Route::Wordless => {
            let plan = quick_items::plan(&prepared, offset, &|_| false);
            let all_read = plan.parts.iter().all(|part| matches!(part, Part::Read(_)));
            let skim = match all_read {
                true => Skim::default(),
                false => skim::skim_at(&prepared, words, positions),
            };
            (skim, Some(plan))
        }
        Route::Skimmed { read_items } => {
            let skim = skim::skim_at(&prepared, words, positions);
            let parts = (read_items && skim.items_readable).then(|| {
                let mentions = |range| skim::any_within(&skim.words_at, range);
                quick_items::plan(&prepared, offset, &mentions)
            });
            (skim, parts)
        }
    };
    let read = parts.and_then(|plan| assemble(&prepared, plan, &skim, offset));
    let mut parsed = match read {
        Some(parsed) => parsed,
        None => {
            let blanked = (!skim.is_empty()).then(|| skim::blank(&prepared, &skim)).flatten();
            let source = blanked.as_deref().unwrap_or(&prepared);
            let pieces = (literals.is_none() && source.len() > PIECE_BYTES)
                .then(|| syn_reader::collect_pieces(source, &skim.cuts, offset))
                .flatten();
            let mut parsed = match pieces {
                Some(parsed) => parsed,
                None => syn_reader::parse_whole(source, literals.as_mut(), skim.balanced, offset),
            };
            parsed.skipped_bodies = blanked.is_some() && !skim.bodies.is_empty();
            parsed
        }
    };
    syn_reader::release_spans();
    parsed.suppressions = suppressions::find(text, literals.as_deref().unwrap_or_default())
        .into_iter()
        .map(|s| crate::facts::Suppression {
            span: shifted(s.span, offset),
            ..s
        })
        .collect();
    parsed
}

/// The facts of a file planned by `quick_items::plan`: the items read, and the others parsed in pieces
/// (with the bodies `skim` found blanked). `None` when no item was read, or a piece does not parse on its
/// own: the file is then parsed as usual (which also reports the error).
fn assemble(prepared: &str, plan: Plan, skim: &Skim, offset: usize) -> Option<ParsedFile> {
    let Plan { parts, inner_cfg } = plan;
    if !parts.iter().any(|part| matches!(part, Part::Read(_))) {
        return None;
    }
    let blanked = match parts.iter().any(|part| matches!(part, Part::Parse(_))) {
        true => Some(skim::blank(prepared, skim)?),
        false => None,
    };
    let source = blanked.as_deref().unwrap_or(prepared);
    let lines = blanked.as_ref().map(|_| LineTable::new(source));
    let to_facts = |part: Part| match part {
        Part::Read(facts) => Some(*facts),
        Part::Parse(range) => {
            let (line, line_start) = lines.as_ref()?.line_of(range.start);
            syn_reader::parse_piece(source, range, (line_start, line as u32), offset, None)
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
    whole.inner_cfg = inner_cfg;
    Some(whole)
}

#[cfg(test)]
mod tests {
    use super::super::raw::RawReference;
    use super::*;
    use crate::facts::{DefinitionKind, ReferenceContext};

    /// Parses with every function body (the words of no rule decide what is skipped here).
    fn parse(text: &str) -> ParsedFile {
        super::parse(text, &crate::frontend::BodyWords::default())
    }

    #[test]
    fn items_in_item_macros_are_read_with_the_cfg_of_their_cfg_if_branch() {
        let text = "cfg_rt! { pub struct Runtime; mod inner; use crate::x::Y; }
            cfg_if::cfg_if! {
                if #[cfg(unix)] { mod unix; pub struct Sys; }
                else if #[cfg(windows)] { mod windows; pub struct Sys; }
                else { pub struct Fallback; }
            }
            thread_local! { static LOCAL: u8 = 0; }
            println!(\"not items\");";
        let parsed = parse(text);
        let definitions: Vec<(String, Option<String>)> = parsed
            .definitions
            .iter()
            .map(|d| (d.name.clone(), d.cfg.clone()))
            .collect();
        assert_eq!(
            definitions,
            vec![
                // What `cfg_rt!` puts on its items is known once every file is read: a flag for now.
                ("Runtime".to_owned(), Some("__ssot_macro_cfg_rt".to_owned())),
                ("Sys".to_owned(), Some("unix".to_owned())),
                ("Sys".to_owned(), Some("all(not(unix),windows)".to_owned())),
                ("Fallback".to_owned(), Some("all(not(unix),not(windows))".to_owned())),
            ]
        );
        let modules: Vec<(&str, Option<&str>)> = parsed
            .modules
            .iter()
            .map(|m| (m.name.as_str(), m.cfg.as_deref()))
            .collect();
        assert_eq!(
            modules,
            vec![
                ("inner", Some("__ssot_macro_cfg_rt")),
                ("unix", Some("unix")),
                ("windows", Some("all(not(unix),windows)"))
            ]
        );
        assert_eq!(parsed.imports.len(), 1);
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
        let lines = LineTable::new(text);
        let at = |line, column| lines.byte(line, column);
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
        let cuts = skim::skim(&text, &crate::frontend::BodyWords::default()).cuts;
        assert!(cuts.len() > 3000, "the file is cut between items");
        let pieces = parse(&text);
        let whole = syn_reader::collect_items(&text, text.parse().expect("lexes"), 0).expect("parses");
        syn_reader::release_spans();
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
            let limit = super::super::text::lexer::MAX_NESTING - 2;
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
        let blanked = blank_preamble(text);
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
