//! What syn refused, said the way a reader would look for it: which item, at which token, and, when
//! the construct is one syn is known not to read (edition-2015 syntax), what it is.

use proc_macro2::{Delimiter, TokenTree};

/// Words that may come before an item's keyword without being it.
const QUALIFIERS: &[&str] = &["pub", "unsafe", "async", "const", "extern", "default", "auto"];

/// Item keywords, each followed by the item's name.
const KEYWORDS: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "union",
    "trait",
    "type",
    "mod",
    "static",
    "const",
    "impl",
    "macro_rules",
];

/// Why a top-level item could not be parsed: "`type Action` stops at `+`: expected `;` (...)".
pub(super) fn describe(item: &[TokenTree], error: &syn::Error, source: &str) -> String {
    let at = error.span().byte_range();
    let before = source.get(..at.start).unwrap_or_default().trim_end();
    let token = source.get(at).filter(|t| !t.is_empty() && t.len() <= 40);
    let mut text = match name_of(item) {
        Some(name) => format!("`{name}`"),
        None => "an item".to_owned(),
    };
    if let Some(token) = token {
        text.push_str(&format!(" stops at `{token}`"));
    }
    text.push_str(&format!(": {error}"));
    if let Some(hint) = token.and_then(|token| known_construct(item, before, token)) {
        text.push_str(&format!(" ({hint}, which syn does not read)"));
    }
    text
}

/// The item's keyword and name (`type Action`, `impl Display for X`), attributes and qualifiers left out.
fn name_of(item: &[TokenTree]) -> Option<String> {
    let mut tokens = item.iter().peekable();
    let mut words: Vec<String> = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            // `#[..]` attributes.
            TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next_if(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '!'));
                tokens.next_if(|t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket));
            }
            // `pub(crate)`, `extern "C"`.
            TokenTree::Group(g) if words.is_empty() && g.delimiter() == Delimiter::Parenthesis => {}
            TokenTree::Literal(_) if words.is_empty() => {}
            TokenTree::Ident(word) if words.is_empty() => {
                let word = word.to_string();
                if KEYWORDS.contains(&word.as_str()) && !(word == "const" && next_is_keyword(&mut tokens)) {
                    words.push(word);
                } else if !QUALIFIERS.contains(&word.as_str()) {
                    return None;
                }
            }
            TokenTree::Ident(word) => {
                words.push(word.to_string());
                if words[0] != "impl" || words.len() >= 4 {
                    break;
                }
            }
            _ if words.is_empty() => return None,
            // Generics and punctuation end the name.
            _ => break,
        }
    }
    (!words.is_empty()).then(|| words.join(" "))
}

fn next_is_keyword<'t>(tokens: &mut std::iter::Peekable<impl Iterator<Item = &'t TokenTree>>) -> bool {
    matches!(tokens.peek(), Some(TokenTree::Ident(next)) if KEYWORDS.contains(&next.to_string().as_str()) || QUALIFIERS.contains(&next.to_string().as_str()))
}

/// Edition-2015 syntax that syn (which reads Rust 2018 and later) refuses, recognised by where it stops
/// (`token`, after the text `before`).
fn known_construct(item: &[TokenTree], before: &str, token: &str) -> Option<&'static str> {
    let keyword = name_of(item).and_then(|name| name.split(' ').next().map(str::to_owned));
    let after_closure_trait = ["Fn", "FnMut", "FnOnce"].iter().any(|t| {
        before.strip_suffix(t).is_some_and(|rest| {
            !rest.ends_with(|c: char| c.is_alphanumeric() || c == '_') && !rest.trim_end().ends_with("dyn")
        })
    });
    match token {
        "+" => Some("a trait object without `dyn` (`Trait + Send`, edition 2015)"),
        "(" if after_closure_trait => Some("a trait object without `dyn` (`Fn(..) + Send`, edition 2015)"),
        "async" | "await" | "dyn" | "try" => Some("a keyword of later editions used as a name (edition 2015)"),
        ")" | "," if keyword.as_deref() == Some("trait") => {
            Some("a trait method parameter without a name (`fn f(u8);`, edition 2015)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(text: &str) -> String {
        let tokens: Vec<TokenTree> = text
            .parse::<proc_macro2::TokenStream>()
            .expect("lexes")
            .into_iter()
            .collect();
        let Err(error) = syn::parse2::<syn::Item>(tokens.iter().cloned().collect()) else {
            panic!("syn reads {text}");
        };
        describe(&tokens, &error, text)
    }

    #[test]
    fn names_the_item_the_token_and_the_edition_2015_construct() {
        assert_eq!(
            described("#[allow(bare_trait_objects)]\npub type Action = Fn(&u8) + Send;"),
            "`type Action` stops at `(`: expected `;` (a trait object without `dyn` (`Fn(..) + Send`, \
             edition 2015), which syn does not read)"
        );
        assert!(described("pub trait Old { fn f(u8); }").contains("a trait method parameter without a name"));
        assert!(described("pub(crate) const unsafe fn f(a) {}").starts_with("`fn f`"));
        assert!(described("impl Display for X { fn f() -> ; }").starts_with("`impl Display for X`"));
    }
}
