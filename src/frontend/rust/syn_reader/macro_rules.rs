//! Declarative macros, expanded the way rustc does for what this tool reads: a `macro_rules!`
//! definition's rules are tried in order against an invocation's tokens; the first whose matcher takes
//! them all is transcribed. Matchers have fragments (`$name:ident`, `ty`, `path`, `expr`, `item`, `tt`,
//! `literal`, `vis`, `lifetime`, `meta`, `block`, `pat`, `pat_param`, `stmt`) and repetitions (`$(..)*`,
//! `+`, `?`, with a separator, nested), matched greedily as rustc's rules for unambiguous macros allow.
//! Fragments other than single tokens are measured with syn's own parsers.
//!
//! Tokens the definition writes are given the invocation's span (a definition it makes is found where
//! the macro is invoked); tokens passed in keep their own, so `handler!(UserMessageHandler)` puts the
//! struct's name exactly where it is written. Hygiene is not modelled: items are not hygienic in rustc
//! either, and local variables are not facts here.

use std::collections::HashMap;

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};

/// The most tokens one expansion may produce before it is given up (a blow-up is a warning, not a hang).
pub(crate) const MAX_OUTPUT_TOKENS: usize = 200_000;

/// One `macro_rules!` definition, compiled.
#[derive(Debug)]
pub(crate) struct MacroRules {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    matcher: Vec<Matcher>,
    transcriber: Vec<Transcribed>,
}

#[derive(Debug)]
enum Matcher {
    Token(TokenTree),
    Group(Delimiter, Vec<Matcher>),
    Fragment(String, Fragment),
    Repeat {
        inner: Vec<Matcher>,
        separator: Vec<TokenTree>,
        op: char,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fragment {
    Ident,
    Tt,
    Lifetime,
    Literal,
    Vis,
    Ty,
    Path,
    Expr,
    Item,
    Block,
    Pat,
    PatParam,
    Stmt,
    Meta,
}

#[derive(Debug)]
enum Transcribed {
    Token(TokenTree),
    Group(Delimiter, Vec<Transcribed>),
    Var(String),
    Crate,
    Repeat {
        inner: Vec<Transcribed>,
        separator: Vec<TokenTree>,
    },
}

/// What a fragment matched: its tokens, or one match per repetition.
#[derive(Clone, Debug)]
enum Binding {
    One(Vec<TokenTree>),
    Many(Vec<Binding>),
}

type Bindings = HashMap<String, Binding>;

/// Why an invocation was not expanded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// No rule matches the tokens.
    NoRuleMatches,
    /// The definition uses something this expander does not (a `$$`, a metavariable expression).
    Unsupported(String),
    /// The expansion grew past [`MAX_OUTPUT_TOKENS`].
    TooLarge,
}

impl MacroRules {
    /// Compiles a definition from the tokens inside `macro_rules! name { .. }`.
    pub(crate) fn parse(body: TokenStream) -> Result<Self, ExpandError> {
        let tokens: Vec<TokenTree> = body.into_iter().collect();
        let mut rules = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let (
                TokenTree::Group(matcher),
                Some(TokenTree::Punct(eq)),
                Some(TokenTree::Punct(gt)),
                Some(TokenTree::Group(transcriber)),
            ) = (&tokens[i], tokens.get(i + 1), tokens.get(i + 2), tokens.get(i + 3))
            else {
                return Err(ExpandError::Unsupported("a rule that is not `(..) => {..}`".into()));
            };
            if eq.as_char() != '=' || gt.as_char() != '>' {
                return Err(ExpandError::Unsupported("a rule without `=>`".into()));
            }
            rules.push(Rule {
                matcher: parse_matcher(matcher.stream())?,
                transcriber: parse_transcriber(transcriber.stream())?,
            });
            i += 4;
            if matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
                i += 1;
            }
        }
        Ok(MacroRules { rules })
    }

    /// Expands an invocation's tokens: the definition's tokens take `span`, `$crate` becomes `krate`.
    pub(crate) fn expand(&self, input: TokenStream, span: Span, krate: &str) -> Result<TokenStream, ExpandError> {
        let input: Vec<TokenTree> = input.into_iter().collect();
        for rule in &self.rules {
            let mut bindings = Bindings::new();
            if match_sequence(&rule.matcher, &input, 0, &mut bindings) == Some(input.len()) {
                let mut out = Vec::new();
                let context = Transcription { span, krate };
                context.transcribe(&rule.transcriber, &bindings, &mut Vec::new(), &mut out)?;
                return Ok(out.into_iter().collect());
            }
        }
        Err(ExpandError::NoRuleMatches)
    }
}

fn is_dollar(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Punct(p) if p.as_char() == '$')
}

/// After `$( .. )`: an optional separator (one token, or punctuation written joined, like `::` or
/// `=>`) and the operator (`*`, `+` or `?`), and how many tokens that took.
fn repetition_tail(rest: &[TokenTree]) -> Result<(Vec<TokenTree>, char, usize), ExpandError> {
    let op = |token: Option<&TokenTree>| match token {
        Some(TokenTree::Punct(p)) if matches!(p.as_char(), '*' | '+' | '?') => Some(p.as_char()),
        _ => None,
    };
    if let Some(op) = op(rest.first()) {
        return Ok((Vec::new(), op, 1));
    }
    // The shortest separator after which an operator comes: `,` in `$(..),*`, `::` in `$(..)::+`
    // (punctuation the writer joined, up to three characters).
    for length in 1..=3 {
        let joined = length == 1
            || rest[..length.min(rest.len())]
                .iter()
                .enumerate()
                .all(|(i, t)| matches!(t, TokenTree::Punct(p) if i + 1 == length || p.spacing() == Spacing::Joint));
        if !joined {
            break;
        }
        if let (Some(separator), Some(op)) = (rest.get(..length), op(rest.get(length))) {
            return Ok((separator.to_vec(), op, length + 1));
        }
    }
    Err(ExpandError::Unsupported("a repetition without `*`, `+` or `?`".into()))
}

fn parse_matcher(stream: TokenStream) -> Result<Vec<Matcher>, ExpandError> {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_dollar(&tokens[i]) {
            match (tokens.get(i + 1), tokens.get(i + 2), tokens.get(i + 3)) {
                (Some(TokenTree::Ident(name)), Some(TokenTree::Punct(colon)), Some(TokenTree::Ident(kind)))
                    if colon.as_char() == ':' =>
                {
                    let fragment = fragment(&kind.to_string())?;
                    out.push(Matcher::Fragment(name.to_string(), fragment));
                    i += 4;
                    continue;
                }
                (Some(TokenTree::Group(group)), ..) if group.delimiter() == Delimiter::Parenthesis => {
                    let (separator, op, used) = repetition_tail(&tokens[i + 2..])?;
                    out.push(Matcher::Repeat {
                        inner: parse_matcher(group.stream())?,
                        separator,
                        op,
                    });
                    i += 2 + used;
                    continue;
                }
                _ => return Err(ExpandError::Unsupported("a `$` the matcher cannot read".into())),
            }
        }
        out.push(match &tokens[i] {
            TokenTree::Group(group) => Matcher::Group(group.delimiter(), parse_matcher(group.stream())?),
            token => Matcher::Token(token.clone()),
        });
        i += 1;
    }
    Ok(out)
}

fn fragment(kind: &str) -> Result<Fragment, ExpandError> {
    Ok(match kind {
        "ident" => Fragment::Ident,
        "tt" => Fragment::Tt,
        "lifetime" => Fragment::Lifetime,
        "literal" => Fragment::Literal,
        "vis" => Fragment::Vis,
        "ty" => Fragment::Ty,
        "path" => Fragment::Path,
        "expr" | "expr_2021" => Fragment::Expr,
        "item" => Fragment::Item,
        "block" => Fragment::Block,
        "pat" => Fragment::Pat,
        "pat_param" => Fragment::PatParam,
        "stmt" => Fragment::Stmt,
        "meta" => Fragment::Meta,
        other => return Err(ExpandError::Unsupported(format!("the fragment `{other}`"))),
    })
}

fn parse_transcriber(stream: TokenStream) -> Result<Vec<Transcribed>, ExpandError> {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_dollar(&tokens[i]) {
            match tokens.get(i + 1) {
                Some(TokenTree::Ident(name)) if name == "crate" => {
                    out.push(Transcribed::Crate);
                    i += 2;
                    continue;
                }
                Some(TokenTree::Ident(name)) => {
                    out.push(Transcribed::Var(name.to_string()));
                    i += 2;
                    continue;
                }
                Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis => {
                    let (separator, _, used) = repetition_tail(&tokens[i + 2..])?;
                    out.push(Transcribed::Repeat {
                        inner: parse_transcriber(group.stream())?,
                        separator,
                    });
                    i += 2 + used;
                    continue;
                }
                _ => return Err(ExpandError::Unsupported("a `$` the transcriber cannot read".into())),
            }
        }
        out.push(match &tokens[i] {
            TokenTree::Group(group) => Transcribed::Group(group.delimiter(), parse_transcriber(group.stream())?),
            token => Transcribed::Token(token.clone()),
        });
        i += 1;
    }
    Ok(out)
}

fn same_token(a: &TokenTree, b: &TokenTree) -> bool {
    match (a, b) {
        (TokenTree::Punct(a), TokenTree::Punct(b)) => a.as_char() == b.as_char(),
        (TokenTree::Ident(a), TokenTree::Ident(b)) => a == b,
        (TokenTree::Literal(a), TokenTree::Literal(b)) => a.to_string() == b.to_string(),
        _ => false,
    }
}

/// Matches `matchers` against `input` from `at`; the position after the match.
fn match_sequence(matchers: &[Matcher], input: &[TokenTree], mut at: usize, bindings: &mut Bindings) -> Option<usize> {
    for matcher in matchers {
        at = match matcher {
            Matcher::Token(token) => {
                let next = input.get(at)?;
                same_token(token, next).then_some(at + 1)?
            }
            Matcher::Group(delimiter, inner) => {
                let TokenTree::Group(group) = input.get(at)? else {
                    return None;
                };
                if group.delimiter() != *delimiter {
                    return None;
                }
                let tokens: Vec<TokenTree> = group.stream().into_iter().collect();
                if match_sequence(inner, &tokens, 0, bindings)? != tokens.len() {
                    return None;
                }
                at + 1
            }
            Matcher::Fragment(name, fragment) => {
                let used = fragment_length(*fragment, &input[at..])?;
                let tokens = &input[at..at + used];
                // An expression or a type stays one operand where it is put, as rustc keeps it (`$op(x)`
                // with `$op` a closure calls the closure): wrapped in an invisible group.
                let tokens = match fragment {
                    Fragment::Expr | Fragment::Ty => {
                        let group = Group::new(Delimiter::None, tokens.iter().cloned().collect());
                        vec![TokenTree::Group(group)]
                    }
                    _ => tokens.to_vec(),
                };
                bindings.insert(name.clone(), Binding::One(tokens));
                at + used
            }
            Matcher::Repeat { inner, separator, op } => {
                let mut matches: Vec<Bindings> = Vec::new();
                let mut position = at;
                loop {
                    let mut next = position;
                    if !separator.is_empty() && !matches.is_empty() {
                        let written = input.get(next..next + separator.len());
                        match written {
                            Some(written) if written.iter().zip(separator).all(|(a, b)| same_token(a, b)) => {
                                next += separator.len();
                            }
                            _ => break,
                        }
                    }
                    let mut found = Bindings::new();
                    match match_sequence(inner, input, next, &mut found) {
                        // A repetition that takes nothing would repeat forever.
                        Some(end) if end > position => {
                            matches.push(found);
                            position = end;
                        }
                        _ => break,
                    }
                    if *op == '?' {
                        break;
                    }
                }
                if *op == '+' && matches.is_empty() {
                    return None;
                }
                for name in matcher_names(inner) {
                    let each = matches
                        .iter()
                        .map(|m| m.get(&name).cloned().unwrap_or(Binding::Many(Vec::new())))
                        .collect();
                    bindings.insert(name, Binding::Many(each));
                }
                position
            }
        };
    }
    Some(at)
}

fn matcher_names(matchers: &[Matcher]) -> Vec<String> {
    let mut names = Vec::new();
    for matcher in matchers {
        match matcher {
            Matcher::Fragment(name, _) => names.push(name.clone()),
            Matcher::Group(_, inner) | Matcher::Repeat { inner, .. } => names.extend(matcher_names(inner)),
            Matcher::Token(_) => {}
        }
    }
    names
}

/// How many of `input`'s token trees the fragment takes, if it matches there.
fn fragment_length(fragment: Fragment, input: &[TokenTree]) -> Option<usize> {
    let first = input.first();
    match fragment {
        // A lifetime is one token tree to rustc, two tokens here (`'` and the name).
        Fragment::Tt => match (first?, input.get(1)) {
            (TokenTree::Punct(p), Some(TokenTree::Ident(_))) if p.as_char() == '\'' => Some(2),
            _ => Some(1),
        },
        Fragment::Ident => matches!(first?, TokenTree::Ident(i) if i != "_").then_some(1),
        Fragment::Lifetime => match (first?, input.get(1)?) {
            (TokenTree::Punct(p), TokenTree::Ident(_)) if p.as_char() == '\'' => Some(2),
            _ => None,
        },
        Fragment::Literal => match first? {
            TokenTree::Literal(_) => Some(1),
            TokenTree::Ident(i) if i == "true" || i == "false" => Some(1),
            TokenTree::Punct(p) if p.as_char() == '-' => matches!(input.get(1)?, TokenTree::Literal(_)).then_some(2),
            _ => None,
        },
        // `pub`, `pub(..)`, or nothing: no parser needed.
        Fragment::Vis => Some(match (first, input.get(1)) {
            (Some(TokenTree::Ident(i)), Some(TokenTree::Group(g)))
                if i == "pub" && g.delimiter() == Delimiter::Parenthesis =>
            {
                2
            }
            (Some(TokenTree::Ident(i)), _) if i == "pub" => 1,
            _ => 0,
        }),
        Fragment::Ty => parsed_length(input, |s| s.parse::<syn::Type>().map(drop)),
        Fragment::Path => parsed_length(input, |s| s.parse::<syn::Path>().map(drop)),
        Fragment::Expr => parsed_length(input, |s| s.parse::<syn::Expr>().map(drop)),
        Fragment::Item => parsed_length(input, |s| s.parse::<syn::Item>().map(drop)),
        Fragment::Block => parsed_length(input, |s| s.parse::<syn::Block>().map(drop)),
        Fragment::Pat => parsed_length(input, |s| syn::Pat::parse_multi_with_leading_vert(s).map(drop)),
        Fragment::PatParam => parsed_length(input, |s| syn::Pat::parse_single(s).map(drop)),
        Fragment::Stmt => parsed_length(input, |s| s.parse::<syn::Stmt>().map(drop)),
        Fragment::Meta => parsed_length(input, |s| s.parse::<syn::Meta>().map(drop)),
    }
}

/// How many token trees syn's `parse` takes from the front of `input`. No fragment but an item runs
/// past a `;` outside a group (an item takes it), so syn is given the tokens up to the first one:
/// token-munching macros match long inputs one piece at a time.
fn parsed_length(input: &[TokenTree], parse: impl Fn(ParseStream<'_>) -> syn::Result<()>) -> Option<usize> {
    let semicolon = input
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
        .map_or(input.len(), |at| at + 1);
    let input = &input[..semicolon];
    let stream: TokenStream = input.iter().cloned().collect();
    let rest = (|s: ParseStream<'_>| {
        parse(s)?;
        s.parse::<TokenStream>()
    })
    .parse2(stream)
    .ok()?;
    Some(input.len() - rest.into_iter().count())
}

/// What an expansion writes with: the invocation's span and the defining crate.
struct Transcription<'k> {
    span: Span,
    krate: &'k str,
}

impl Transcription<'_> {
    fn transcribe(
        &self,
        parts: &[Transcribed],
        bindings: &Bindings,
        indices: &mut Vec<usize>,
        out: &mut Vec<TokenTree>,
    ) -> Result<(), ExpandError> {
        for part in parts {
            if out.len() > MAX_OUTPUT_TOKENS {
                return Err(ExpandError::TooLarge);
            }
            match part {
                Transcribed::Token(token) => {
                    let mut token = token.clone();
                    token.set_span(self.span);
                    out.push(token);
                }
                Transcribed::Group(delimiter, inner) => {
                    let mut tokens = Vec::new();
                    self.transcribe(inner, bindings, indices, &mut tokens)?;
                    let mut group = Group::new(*delimiter, tokens.into_iter().collect());
                    group.set_span(self.span);
                    out.push(TokenTree::Group(group));
                }
                Transcribed::Crate => out.push(TokenTree::Ident(Ident::new(self.krate, self.span))),
                Transcribed::Var(name) => match lookup(bindings.get(name), indices) {
                    Some(tokens) => out.extend(tokens.iter().cloned()),
                    // Not one of this rule's variables (a nested macro's): written as it is.
                    None => {
                        let mut dollar = Punct::new('$', Spacing::Alone);
                        dollar.set_span(self.span);
                        out.push(TokenTree::Punct(dollar));
                        out.push(TokenTree::Ident(Ident::new(name, self.span)));
                    }
                },
                Transcribed::Repeat { inner, separator } => {
                    let count = repeat_count(inner, bindings, indices)
                        .ok_or_else(|| ExpandError::Unsupported("a repetition of no variable".into()))?;
                    for i in 0..count {
                        if i > 0 {
                            for (at, token) in separator.iter().enumerate() {
                                let mut token = match token {
                                    // The last character of `::` was joined to the operator after it.
                                    TokenTree::Punct(p) if at + 1 == separator.len() => {
                                        TokenTree::Punct(Punct::new(p.as_char(), Spacing::Alone))
                                    }
                                    other => other.clone(),
                                };
                                token.set_span(self.span);
                                out.push(token);
                            }
                        }
                        indices.push(i);
                        let done = self.transcribe(inner, bindings, indices, out);
                        indices.pop();
                        done?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A variable's tokens at the current repetition indices.
fn lookup<'b>(mut binding: Option<&'b Binding>, indices: &[usize]) -> Option<&'b [TokenTree]> {
    let mut depth = 0;
    loop {
        match binding? {
            Binding::One(tokens) => return Some(tokens),
            Binding::Many(each) => {
                binding = each.get(*indices.get(depth)?);
                depth += 1;
            }
        }
    }
}

/// How many times a repetition repeats: the length of the repeated variables it uses at this depth.
fn repeat_count(parts: &[Transcribed], bindings: &Bindings, indices: &[usize]) -> Option<usize> {
    let mut count = None;
    for part in parts {
        let found = match part {
            Transcribed::Var(name) => {
                let mut binding = bindings.get(name);
                for &i in indices {
                    binding = match binding {
                        Some(Binding::Many(each)) => each.get(i),
                        other => other,
                    };
                }
                match binding {
                    Some(Binding::Many(each)) => Some(each.len()),
                    _ => None,
                }
            }
            Transcribed::Group(_, inner) | Transcribed::Repeat { inner, .. } => repeat_count(inner, bindings, indices),
            Transcribed::Token(_) | Transcribed::Crate => None,
        };
        count = match (count, found) {
            (Some(a), Some(b)) => Some(usize::min(a, b)),
            (a, b) => a.or(b),
        };
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(definition: &str, input: &str) -> Result<String, ExpandError> {
        let rules = MacroRules::parse(definition.parse().expect("lexes"))?;
        rules
            .expand(input.parse().expect("lexes"), Span::call_site(), "app")
            .map(|tokens| tokens.to_string())
    }

    #[test]
    fn fragments_repetitions_separators_and_crate() {
        let handler = "($name:ident) => { pub struct $name; impl $crate::Handler for $name {} };";
        assert_eq!(
            expand(handler, "UserMessageHandler").expect("expands"),
            "pub struct UserMessageHandler ; impl app :: Handler for UserMessageHandler { }"
        );
        let list = "($($v:vis $name:ident : $t:ty),* $(,)?) => { $( $v struct $name($t); )* };";
        assert_eq!(
            expand(list, "pub A: u8, B: Vec<String>,").expect("expands"),
            "pub struct A (u8) ; struct B (Vec < String >) ;"
        );
        let nested = "($($group:ident { $($item:ident)* })*) => { $( mod $group { $( pub fn $item() {} )* } )* };";
        assert_eq!(
            expand(nested, "a { x y } b { z }").expect("expands"),
            "mod a { pub fn x () { } pub fn y () { } } mod b { pub fn z () { } }"
        );
    }

    #[test]
    fn rules_are_tried_in_order_and_literals_must_match() {
        let two = "(one $e:expr) => { const ONE: u8 = $e; }; ($($t:tt)*) => { fn other() {} };";
        assert_eq!(expand(two, "one 1 + 2").expect("expands"), "const ONE : u8 = 1 + 2 ;");
        assert_eq!(expand(two, "two").expect("expands"), "fn other () { }");
        assert_eq!(expand("(a) => {};", "b"), Err(ExpandError::NoRuleMatches));
        let lifetimes = "($ty:ident $(<$l:tt>)*) => { impl<$($l,)* E> Copy for $ty<$($l,)* E> {} };";
        assert_eq!(
            expand(lifetimes, "Borrowed<'de>").expect("a lifetime is one token tree"),
            "impl <'de , E > Copy for Borrowed <'de , E > { }"
        );
        let joined = "($($path:ident)::+) => { impl Token for $($path)::+ {} };";
        assert_eq!(
            expand(joined, "a::b::C").expect("a `::` separator"),
            "impl Token for a :: b :: C { }"
        );
        assert!(matches!(
            expand("($x:unknown) => {};", "b"),
            Err(ExpandError::Unsupported(_))
        ));
    }

    #[test]
    fn an_expression_stays_one_operand() {
        let call = "($op:expr) => { fn f(x: u8) -> u64 { $op(x) } };";
        let tokens: TokenStream = MacroRules::parse(call.parse().expect("lexes"))
            .expect("rules")
            .expand(
                "|this: u8| this as u64".parse().expect("lexes"),
                Span::call_site(),
                "app",
            )
            .expect("expands");
        let item: syn::ItemFn = syn::parse2(tokens).expect("parses as rustc reads it");
        assert_eq!(item.sig.ident, "f");
    }

    #[test]
    fn a_pass_through_keeps_attributes_on_each_item() {
        let wrapper = r#"($($item:item)*) => { $( #[cfg(feature = "rt")] $item )* }"#;
        assert_eq!(
            expand(wrapper, "pub struct A; fn b() {}").expect("expands"),
            "# [cfg (feature = \"rt\")] pub struct A ; # [cfg (feature = \"rt\")] fn b () { }"
        );
    }

    #[test]
    fn tokens_passed_in_keep_their_spans() {
        let source = "\n\n    UserMessageHandler";
        let input: TokenStream = source.parse().expect("lexes");
        let rules = MacroRules::parse("($name:ident) => { struct $name; }".parse().expect("lexes")).expect("rules");
        let out: Vec<TokenTree> = rules
            .expand(input, Span::call_site(), "app")
            .expect("expands")
            .into_iter()
            .collect();
        assert_eq!(out[1].span().start().line, 3, "the name keeps where it was written");
    }
}
