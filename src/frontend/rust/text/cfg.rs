//! `cfg` predicates as text: one canonical spelling whichever reader found them, conjunction, and what a
//! `cfg_attr(predicate, cfg(..))` makes of an item.
//!
//! Both readers hand the text between an attribute's parentheses to [`canonical`]: its tokens joined
//! without spaces, comments dropped (`all(unix, feature = "x")` is `all(unix,feature="x")`), which is
//! what `cfg-expr` parses later and what the readers' comparison test compares.

use super::lexer::{Lexer, Token};

/// The tokens of `predicate` joined without spaces; `None` when it does not lex or its delimiters do
/// not balance.
pub(crate) fn canonical(predicate: &str) -> Option<String> {
    let mut lexer = Lexer::new(predicate.as_bytes());
    let mut out = String::with_capacity(predicate.len());
    let mut depth = 0usize;
    while let Some((token, start)) = lexer.next() {
        match token {
            Token::Error => return None,
            Token::Open(_) => depth += 1,
            Token::Close(_) => depth = depth.checked_sub(1)?,
            _ => {}
        }
        out.push_str(&predicate[start..lexer.position()]);
    }
    (depth == 0 && !out.is_empty()).then_some(out)
}

/// The conjunction of canonical predicates: none, the one, or `all(a,b,..)`.
pub(crate) fn all_of(predicates: &[String]) -> Option<String> {
    match predicates {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(format!("all({})", many.join(","))),
    }
}

/// The predicate a `#[cfg_attr(..)]` puts on its item, from the canonical text between its parentheses:
/// `cfg_attr(p, cfg(x))` compiles the item where `any(not(p),x)` holds. `None` when it holds no `cfg`.
pub(crate) fn of_cfg_attr(canonical_inner: &str) -> Option<String> {
    let parts = top_level_parts(canonical_inner);
    let (condition, attributes) = parts.split_first()?;
    let inner: Vec<String> = attributes
        .iter()
        .filter_map(|a| a.strip_prefix("cfg(").and_then(|rest| rest.strip_suffix(')')))
        .map(str::to_owned)
        .collect();
    let required = all_of(&inner)?;
    Some(format!("any(not({condition}),{required})"))
}

/// The `path = ".."` a `#[cfg_attr(..)]` gives a `mod` declaration, with the predicate under which it
/// does (from the canonical text between its parentheses). Only a plain string is taken.
pub(crate) fn path_of_cfg_attr(canonical_inner: &str) -> Option<(String, String)> {
    let parts = top_level_parts(canonical_inner);
    let (condition, attributes) = parts.split_first()?;
    attributes.iter().find_map(|a| {
        let value = a.strip_prefix("path=\"")?.strip_suffix('"')?;
        (!value.contains('\\')).then(|| (condition.to_string(), value.to_owned()))
    })
}

/// `a,b(c,d),e` split at its top-level commas.
fn top_level_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut in_string) = (0usize, 0, false);
    let mut previous = 0u8;
    for (at, byte) in text.bytes().enumerate() {
        match byte {
            b'"' if previous != b'\\' => in_string = !in_string,
            b'(' | b'[' | b'{' if !in_string => depth += 1,
            b')' | b']' | b'}' if !in_string => depth = depth.saturating_sub(1),
            b',' if depth == 0 && !in_string => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
        previous = byte;
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_predicate_are_one_text() {
        assert_eq!(
            canonical(r#"all( unix , feature = "x" /* note */ )"#).as_deref(),
            Some(r#"all(unix,feature="x")"#)
        );
        assert_eq!(canonical("not(windows)"), canonical("not ( windows )"));
        assert_eq!(canonical("all(unix"), None);
    }

    #[test]
    fn predicates_combine() {
        assert_eq!(all_of(&[]), None);
        assert_eq!(all_of(&["unix".into()]).as_deref(), Some("unix"));
        assert_eq!(
            all_of(&["unix".into(), "test".into()]).as_deref(),
            Some("all(unix,test)")
        );
        assert_eq!(
            of_cfg_attr(r#"feature="a",cfg(unix),derive(Debug)"#).as_deref(),
            Some(r#"any(not(feature="a"),unix)"#)
        );
        assert_eq!(of_cfg_attr(r#"feature="a,b",derive(Debug)"#), None);
        assert_eq!(
            path_of_cfg_attr(r#"any(unix,target_os="wasi"),path="sys/unix.rs""#),
            Some((r#"any(unix,target_os="wasi")"#.to_owned(), "sys/unix.rs".to_owned()))
        );
        assert_eq!(path_of_cfg_attr("docsrs,doc(cfg(x))"), None);
    }
}
