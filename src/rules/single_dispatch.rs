//! `single-dispatch`: each variant of a message enum is matched in one place, inside the router.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::{Check, ParamError, Params, RuleKind, RuleMeta, member};
use crate::facts::{FileFacts, Reference, ReferenceContext};
use crate::finding::Finding;
use crate::pattern::PathPattern;

/// The `single-dispatch` kind.
pub const KIND: RuleKind = RuleKind {
    name: "single-dispatch",
    summary: "each variant of a message enum is handled in one place, inside the canonical router",
    docs: DOCS,
    noun: ("duplicate dispatch", "duplicate dispatches"),
    build,
};

const DOCS: &str = r#"## What it does
Finds every pattern that matches a variant of the named enum (`match` arms, `if let`, `let else`,
`while let`, `matches!(..)`), resolved through imports, `Self` and `use Enum::*`. A place is the
innermost function (or item) holding the pattern; several arms in one function are one place. A variant
handled in more than `max-places` places, or anywhere outside the `router` modules, is one finding that
lists every place. Constructing a variant is not handling it and is never reported. Test code is left out
unless `include-tests = true`.

In Python, a member of an `Enum` class (`MessageType.START_AGENT`) is handled where it appears in a
`case` pattern, an `==`, `!=`, `is`, `is not`, `in` or `not in` comparison, or a collection literal (a
list, tuple or set element, a dict key): the ways handlers register the types they take.

## Why is this bad?
When two handlers match `StartAgent`, a message is answered twice, or by whichever handler happens to
run first; routing is only predictable when one router decides.

## Example
```rust
// src/ws/router.rs: the one place
match message { ClientMessage::StartAgent { .. } => handler.start(..), .. }
// src/agent_handler.rs: reported, a second place handles StartAgent
if let ClientMessage::StartAgent { text, .. } = message { .. }
```

## Configuration
```toml
[[rule]]
id = "client-messages-dispatched-once"
kind = "single-dispatch"
message = "Only the router matches ClientMessage."
enum = "ClientMessage"        # a name, or a path pattern with `::`
router = "**::ws::router"     # module pattern(s) where handling is allowed
max-places = 1                # default 1
include-tests = false
```
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    #[serde(rename = "enum")]
    enum_: Spanned<String>,
    router: Option<Spanned<super::OneOrMany>>,
    max_places: Option<Spanned<i64>>,
    #[serde(default)]
    include_tests: bool,
}

/// A validated `single-dispatch` rule.
#[derive(Debug)]
struct SingleDispatch {
    enum_pattern: PathPattern,
    router: Vec<PathPattern>,
    max_places: usize,
    include_tests: bool,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    let enum_pattern = PathPattern::new(raw.enum_.get_ref()).map_err(|e| ParamError::at(raw.enum_.span(), e))?;
    let max_places = match &raw.max_places {
        Some(max) if *max.get_ref() < 1 => return Err(ParamError::at(max.span(), "`max-places` must be at least 1")),
        Some(max) => usize::try_from(*max.get_ref()).unwrap_or(usize::MAX),
        None => 1,
    };
    let router = raw
        .router
        .as_ref()
        .map(super::patterns)
        .transpose()?
        .unwrap_or_default();
    Ok(Box::new(SingleDispatch {
        enum_pattern,
        router,
        max_places,
        include_tests: raw.include_tests,
    }))
}

impl SingleDispatch {
    /// The variant path if the reference is a pattern on a variant of the enum.
    fn variant<'r>(&self, reference: &'r Reference) -> Option<&'r str> {
        if reference.context != ReferenceContext::Pattern || (reference.in_test && !self.include_tests) {
            return None;
        }
        let (enum_path, _) = reference.path.rsplit_once("::")?;
        let enum_name = enum_path.rsplit("::").next().unwrap_or(enum_path);
        let matched = if self.enum_pattern.is_path() {
            self.enum_pattern.matches(enum_path)
        } else {
            self.enum_pattern.matches(enum_name)
        };
        matched.then_some(reference.path.as_str())
    }

    fn in_router(&self, place: &str) -> bool {
        self.router.iter().any(|r| r.covers(place))
    }
}

/// Where a variant is handled: enclosing item -> each pattern, with its file.
type Places<'f> = BTreeMap<&'f str, Vec<(&'f FileFacts, &'f Reference)>>;

/// The suppression of `rule` on one of a place's lines, if any.
fn place_suppression<'f>(uses: &[(&'f FileFacts, &'f Reference)], rule: &str) -> Option<&'f crate::facts::Suppression> {
    uses.iter()
        .find_map(|(file, r)| super::suppression_of(file, r.span, rule))
}

impl Check for SingleDispatch {
    fn uses(&self, fact: super::Fact<'_>) -> bool {
        matches!(fact, super::Fact::Reference(r) if self.variant(r).is_some())
    }

    fn reads_tests(&self) -> bool {
        self.include_tests
    }

    fn reads_references(&self) -> bool {
        true
    }

    fn body_words(&self) -> Option<Vec<String>> {
        // A pattern names the enum, or a variant brought in by a `use` that names it (which keeps every
        // body of its file), or `Self` in an `impl` of it (which keeps that block's bodies).
        super::pattern_words([&self.enum_pattern])
    }

    fn check<'f>(&self, rule: &RuleMeta, files: &'f [FileFacts], out: &mut Vec<Finding>) {
        // variant -> place (enclosing item) -> where in which file
        let mut handled: BTreeMap<&str, Places<'_>> = BTreeMap::new();
        for file in files {
            for reference in &file.references {
                if let Some(variant) = self.variant(reference) {
                    handled
                        .entry(variant)
                        .or_default()
                        .entry(&reference.enclosing)
                        .or_default()
                        .push((file, reference));
                }
            }
        }
        let router_text = self
            .router
            .iter()
            .map(PathPattern::as_str)
            .collect::<Vec<_>>()
            .join("`, `");
        for (variant, all) in handled {
            // A place suppressed on one of its lines leaves the count; the other places are still counted.
            let suppression = |uses: &[(&'f FileFacts, &'f Reference)]| place_suppression(uses, &rule.id);
            let (set_aside, places): (Places<'_>, Places<'_>) = all
                .clone()
                .into_iter()
                .partition(|(_, uses)| suppression(uses).is_some());
            let violates = |places: &Places<'_>| {
                let outside = places.keys().any(|p| !self.in_router(p));
                places.len() > self.max_places || (!self.router.is_empty() && outside)
            };
            // When only suppressions make the places acceptable, the finding is still made, as suppressed.
            let whole = !violates(&places) && violates(&all);
            let (places, set_aside) = match whole {
                true => (all, Places::new()),
                false => (places, set_aside),
            };
            if !violates(&places) {
                continue;
            }
            let outside: Vec<&str> = places.keys().copied().filter(|p| !self.in_router(p)).collect();
            let too_many = places.len() > self.max_places;
            // `Enum::Variant`: the last two segments.
            let short = variant
                .rmatch_indices("::")
                .nth(1)
                .map_or(variant, |(at, _)| &variant[at + 2..]);
            let message = if too_many {
                format!(
                    "`{short}` is handled in {} places; at most {} allowed",
                    places.len(),
                    self.max_places
                )
            } else {
                format!("`{short}` is handled outside the router, in `{}`", outside.join("`, `"))
            };
            // Places outside the router first: the primary location is one that should not be there.
            let mut locations: Vec<_> = places
                .iter()
                .flat_map(|(place, uses)| {
                    let in_router = self.in_router(place);
                    let label = if in_router {
                        format!("handled in router `{place}`")
                    } else {
                        format!("handled in `{place}`")
                    };
                    uses.iter()
                        .map(move |(file, r)| (in_router, member(file, r.span, label.clone(), place)))
                })
                .collect();
            locations.sort();
            let mut locations = locations.into_iter().map(|(_, l)| l);
            let Some(primary) = locations.next() else { continue };
            let extra = (!self.router.is_empty()).then(|| format!("router: `{router_text}`"));
            let mut finding = rule.finding(message, variant.to_owned(), primary, extra);
            finding.related = locations.collect();
            for (place, uses) in &set_aside {
                if let (Some((file, r)), Some(suppression)) = (uses.first(), suppression(uses)) {
                    let label = format!("handled in `{place}`");
                    finding
                        .related
                        .push(super::suppressed_member(file, r.span, &label, suppression));
                }
            }
            if whole {
                let reasons: BTreeSet<&str> = places
                    .values()
                    .filter_map(|uses| suppression(uses)?.reason.as_deref())
                    .collect();
                finding.suppression = Some(reasons.into_iter().collect::<Vec<_>>().join("; "));
            }
            out.push(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    const FILES: [(&str, &str); 4] = [
        ("src/lib.rs", "pub mod protocol; pub mod router; pub mod legacy;"),
        (
            "src/protocol.rs",
            "pub enum Msg { Start { text: String }, Chat(String), Ping }",
        ),
        (
            "src/router.rs",
            "use crate::protocol::Msg; pub fn route(m: Msg) { match m { Msg::Start { .. } => {}, Msg::Chat(_) => {}, Msg::Ping => {} } if let Msg::Chat(_) = m {} }",
        ),
        (
            "src/legacy.rs",
            "use crate::protocol::Msg::{self, *};
             fn handle(m: Msg) { let Chat(t) = m else { return }; let _ = Msg::Start { text: t }; }
             #[cfg(test)] mod tests { fn t(m: super::Msg) { if let super::Msg::Ping = m {} } }",
        ),
    ];

    #[test]
    fn a_variant_matched_outside_the_router_is_reported_with_every_place() {
        let findings = run(&KIND, r#"enum = "Msg", router = "app::router""#, &FILES);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.message, "`Msg::Chat` is handled in 2 places; at most 1 allowed");
        assert_eq!(f.symbol, "app::protocol::Msg::Chat");
        assert_eq!(f.primary.path, "src/legacy.rs");
        assert_eq!(f.primary.label, "handled in `app::legacy::handle`");
        assert_eq!(f.related.len(), 2);
        assert!(
            f.related
                .iter()
                .all(|l| l.label == "handled in router `app::router::route`")
        );
    }

    #[test]
    fn tests_opt_in_and_single_places_outside_the_router() {
        let findings = run(
            &KIND,
            r#"enum = "app::protocol::Msg", router = "app::legacy", include-tests = true, max-places = 3"#,
            &FILES,
        );
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`Msg::Start` is handled outside the router, in `app::router::route`",
                "`Msg::Chat` is handled outside the router, in `app::router::route`",
                "`Msg::Ping` is handled outside the router, in `app::router::route`",
            ]
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, r#"router = "x""#).contains("missing field `enum`"));
        assert!(build_error(&KIND, r#"enum = "M", max-places = 0"#).contains("at least 1"));
    }
}
