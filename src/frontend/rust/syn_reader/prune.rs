//! Generated function bodies that no rule needs, emptied before syn reads them: the skim's shortcut
//! (see `fast::skim`) for the code a macro makes, which has no text to skim.
//!
//! A body is emptied under the skim's own conditions: it mentions none of the words (as code: an
//! identifier), declares no module, and the `impl` or `trait` header around it mentions none either
//! (`Self::` stands for that type inside); and nothing is emptied when a generated `use` mentions a
//! word (a rename or a glob can bring a word's item in under another name). Macro invocations are
//! left as they are: what they are given is matched against their rules token by token.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};

use crate::frontend::BodyWords;

/// Whether `tokens` mention one of `words` as code (an identifier, at any depth).
fn mentions(tokens: &TokenStream, words: &BodyWords) -> bool {
    words.mentioned_in(&idents(tokens))
}

/// Whether what a macro is given (`tokens`) can matter to a rule with `words` whatever the macro does
/// with it: it mentions a word as code (an identifier, at any depth), or declares a module or imports
/// (what the macro puts on them, a `cfg`, decides where the module tree goes and what a name means).
pub(crate) fn may_matter(tokens: &TokenStream, words: &BodyWords) -> bool {
    let idents = idents(tokens);
    words.mentioned_in(&idents) || declares_module_or_import(&idents)
}

/// Whether space-separated identifiers include `mod` or `use`.
pub(crate) fn declares_module_or_import(idents: &str) -> bool {
    idents.split(' ').any(|ident| ident == "mod" || ident == "use")
}

/// `tokens` with the bodies of the functions no rule with `words` needs emptied (see the module's
/// documentation); as they are when every body matters.
pub(crate) fn prune_bodies(tokens: TokenStream, words: &BodyWords) -> TokenStream {
    if !words.skips_bodies() || a_use_mentions(&tokens, words) {
        return tokens;
    }
    prune_level(tokens, words, false)
}

/// The identifiers of `tokens` at any depth, space-separated.
fn idents(tokens: &TokenStream) -> String {
    let mut idents = String::new();
    collect_idents(tokens, &mut idents);
    idents
}

fn collect_idents(tokens: &TokenStream, out: &mut String) {
    for tree in tokens.clone() {
        match tree {
            TokenTree::Ident(ident) => {
                out.push_str(&ident.to_string());
                out.push(' ');
            }
            TokenTree::Group(group) => collect_idents(&group.stream(), out),
            _ => {}
        }
    }
}

fn is_punct(tree: &TokenTree, c: char) -> bool {
    matches!(tree, TokenTree::Punct(p) if p.as_char() == c)
}

/// Whether a `use` anywhere in `tokens` mentions a word: it may bind a name that does not.
fn a_use_mentions(tokens: &TokenStream, words: &BodyWords) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut at = 0;
    while at < trees.len() {
        match &trees[at] {
            TokenTree::Ident(ident) if ident == "use" => {
                let end = trees[at..]
                    .iter()
                    .position(|t| is_punct(t, ';'))
                    .map_or(trees.len(), |length| at + length);
                let item: TokenStream = trees[at..end].iter().cloned().collect();
                if mentions(&item, words) {
                    return true;
                }
                at = end;
            }
            TokenTree::Group(group) if a_use_mentions(&group.stream(), words) => return true,
            _ => {}
        }
        at += 1;
    }
    false
}

/// One level of token trees: `keep` when an enclosing header mentions a word.
fn prune_level(tokens: TokenStream, words: &BodyWords, keep: bool) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    // After `fn name`, the first brace group at this level is the body (a `;` or `=` first: none).
    let mut in_signature = false;
    // In an `impl`/`trait` header: whether it mentions a word so far.
    let mut header: Option<bool> = None;
    for (at, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) => {
                if ident == "fn" && matches!(trees.get(at + 1), Some(TokenTree::Ident(_))) {
                    in_signature = true;
                } else if (ident == "impl" || ident == "trait") && !in_signature {
                    header = Some(false);
                } else if let Some(mentioned) = &mut header {
                    *mentioned |= words.mentioned_in(&ident.to_string());
                }
                out.push(tree.clone());
            }
            TokenTree::Punct(p) if matches!(p.as_char(), ';' | '=') && header.is_none() => {
                in_signature = false;
                out.push(tree.clone());
            }
            TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
                // `name! { .. }`, or `macro_rules! name { .. }`.
                let invoked = match at.checked_sub(1).map(|p| &trees[p]) {
                    Some(TokenTree::Ident(_)) => at >= 2 && is_punct(&trees[at - 2], '!'),
                    Some(previous) => is_punct(previous, '!'),
                    None => false,
                };
                let replaced = if invoked {
                    tree.clone()
                } else if in_signature {
                    in_signature = false;
                    let body = group.stream();
                    if keep || needed(&body, words) {
                        tree.clone()
                    } else {
                        let mut empty = Group::new(Delimiter::Brace, TokenStream::new());
                        empty.set_span(group.span());
                        TokenTree::Group(empty)
                    }
                } else {
                    let inner_keep = keep || header.unwrap_or(false);
                    header = None;
                    let mut inner = Group::new(Delimiter::Brace, prune_level(group.stream(), words, inner_keep));
                    inner.set_span(group.span());
                    TokenTree::Group(inner)
                };
                out.push(replaced);
            }
            TokenTree::Group(group) => {
                if let Some(mentioned) = &mut header {
                    *mentioned |= mentions(&group.stream(), words);
                }
                out.push(tree.clone());
            }
            _ => out.push(tree.clone()),
        }
    }
    out.into_iter().collect()
}

/// Whether a body is needed: it mentions a word or declares a module (the module tree goes through it).
fn needed(body: &TokenStream, words: &BodyWords) -> bool {
    let idents = idents(body);
    idents.split(' ').any(|ident| ident == "mod") || words.mentioned_in(&idents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pruned(code: &str, words: &[&str]) -> String {
        let words = BodyWords::new(Some(words.iter().map(|w| (*w).to_owned()).collect()));
        prune_bodies(code.parse().expect("lexes"), &words).to_string()
    }

    #[test]
    fn bodies_without_the_words_are_emptied() {
        assert_eq!(
            pruned("fn a() { one() } fn b() -> u8 { legacy::two() }", &["legacy"]),
            "fn a () { } fn b () -> u8 { legacy :: two () }"
        );
    }

    #[test]
    fn methods_are_emptied_unless_the_header_mentions_a_word() {
        assert_eq!(
            pruned(
                "impl S { fn a(&self) { x() } } impl Legacy for T { fn b() { y() } }",
                &["Legacy"]
            ),
            "impl S { fn a (& self) { } } impl Legacy for T { fn b () { y () } }"
        );
    }

    #[test]
    fn modules_macros_and_non_bodies_are_left() {
        let code = "fn a() { mod m {} } m! { fn b() { z() } } macro_rules! n { () => { fn c() { z() } } } \
                    struct S { f: fn(u8) } static F: fn() = f;";
        assert_eq!(
            pruned(code, &["legacy"]),
            code.parse::<TokenStream>().expect("lexes").to_string()
        );
    }

    #[test]
    fn a_use_that_mentions_a_word_keeps_every_body() {
        let code = "use crate::legacy as old; fn a() { old::f() }";
        assert_eq!(
            pruned(code, &["legacy"]),
            code.parse::<TokenStream>().expect("lexes").to_string()
        );
    }

    #[test]
    fn identifiers_count_literals_do_not() {
        let words = BodyWords::new(Some(vec!["legacy".to_owned()]));
        assert!(mentions(&"{ a::legacy() }".parse().expect("lexes"), &words));
        assert!(!mentions(&"{ \"legacy\" }".parse().expect("lexes"), &words));
    }
}
