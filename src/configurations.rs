//! Build configurations: which items one configuration compiles together.
//!
//! An item's `cfg` predicate (canonical text, see the facts) is evaluated with `cfg-expr` against
//! rustc's built-in targets, with every other predicate (features, custom `--cfg` flags,
//! `debug_assertions`, ...) a free boolean and `test` false. Two items count together only if some
//! configuration compiles both: `#[cfg(unix)]` and `#[cfg(windows)]` twins never do.
//!
//! Layer invariant: reads nothing of this crate; rules ask it about the predicates of their facts.

use std::collections::BTreeSet;
use std::fmt;

use cfg_expr::targets::{ALL_BUILTINS, TargetInfo};
use cfg_expr::{Expression, Predicate, TargetPredicate};

/// More free predicates than this are not all enumerated (2^n assignments); beyond it, assignments
/// with all of them on or off, and each alone on, are tried.
const MAX_ENUMERATED: usize = 10;

/// Targets named first in messages, when they witness a collision: the ones readers know best.
const PREFERRED: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "x86_64-pc-windows-msvc",
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "wasm32-unknown-unknown",
];

/// A configuration that compiles a set of items together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// The target triple.
    pub target: &'static str,
    /// Free predicates turned on (`feature = "rt"` as `feature `rt``, a custom flag as `cfg `x``).
    pub enabled: Vec<String>,
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.target)?;
        if !self.enabled.is_empty() {
            write!(f, " with {}", self.enabled.join(", "))?;
        }
        Ok(())
    }
}

/// The items (by index) that some configuration compiles more than `max` of at once, as the distinct
/// largest such sets, each with a configuration that compiles it. `None` for an item's predicate means
/// always compiled; a predicate that does not parse counts as always compiled too (reporting too much
/// rather than missing a duplicate). The configuration is `None` when no item has a predicate.
pub fn compiled_together(predicates: &[Option<&str>], max: usize) -> Vec<(Vec<usize>, Option<Configuration>)> {
    let expressions: Vec<Option<Expression>> = predicates
        .iter()
        .map(|p| p.and_then(|text| Expression::parse(text).ok()))
        .collect();
    if expressions.iter().all(Option::is_none) {
        return match predicates.len() > max {
            true => vec![((0..predicates.len()).collect(), None)],
            false => Vec::new(),
        };
    }
    let mut target_predicates: Vec<TargetPredicate> = Vec::new();
    let mut free: Vec<String> = Vec::new();
    for expression in expressions.iter().flatten() {
        for predicate in expression.predicates() {
            match predicate {
                Predicate::Target(target) if !target_predicates.contains(&target) => target_predicates.push(target),
                Predicate::Target(_) | Predicate::Test => {}
                other => {
                    let key = free_key(&other);
                    if !free.contains(&key) {
                        free.push(key);
                    }
                }
            }
        }
    }
    // In a fixed order, not the order the predicates are written in: equivalent cfgs written
    // differently (`all(a, b)`, `all(b, a)`) name the same configuration, in the same words.
    free.sort();
    let mut found: Vec<(Vec<usize>, Configuration)> = Vec::new();
    for target in distinct_targets(&target_predicates) {
        for enabled in assignments(free.len()) {
            let compiled: Vec<usize> = expressions
                .iter()
                .enumerate()
                .filter(|(_, e)| e.as_ref().is_none_or(|e| holds(e, target, &free, &enabled)))
                .map(|(i, _)| i)
                .collect();
            if compiled.len() > max && !found.iter().any(|(set, _)| is_subset(&compiled, set)) {
                found.retain(|(set, _)| !is_subset(set, &compiled));
                let on = free.iter().zip(&enabled).filter(|(_, on)| **on).map(|(k, _)| k.clone());
                found.push((
                    compiled,
                    Configuration {
                        target: target.triple.as_str(),
                        enabled: on.collect(),
                    },
                ));
            }
        }
    }
    found.into_iter().map(|(set, config)| (set, Some(config))).collect()
}

/// One build to check exactly, the way cargo would build it: a target, and features asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Build {
    /// The target triple (one rustc knows).
    pub target: String,
    /// Features asked for (`--features a,b`).
    pub features: Vec<String>,
    /// Every feature on (`--all-features`).
    pub all_features: bool,
    /// The `default` feature off (`--no-default-features`).
    pub no_default_features: bool,
}

impl Build {
    /// Whether rustc knows the target.
    pub fn knows_target(&self) -> bool {
        ALL_BUILTINS.iter().any(|t| t.triple.as_str() == self.target)
    }

    /// The features on for a crate whose `[features]` table is `table`: `default` (unless turned off)
    /// and the ones asked for, with every feature they turn on in turn.
    pub fn enabled(&self, table: &std::collections::BTreeMap<String, Vec<String>>) -> Vec<String> {
        let mut enabled: BTreeSet<String> = BTreeSet::new();
        let mut pending: Vec<String> = match self.all_features {
            true => table.keys().cloned().collect(),
            false => self.features.clone(),
        };
        if !self.no_default_features && table.contains_key("default") {
            pending.push("default".to_owned());
        }
        while let Some(feature) = pending.pop() {
            // `dep:x` and `x/y` turn on dependencies and their features, not this crate's.
            if feature.starts_with("dep:") || feature.contains('/') || !enabled.insert(feature.clone()) {
                continue;
            }
            pending.extend(table.get(&feature).into_iter().flatten().cloned());
        }
        enabled.into_iter().collect()
    }
}

/// Whether `predicate` holds in one exact configuration: `target` (a triple rustc knows), the crate's
/// `features` on, a development build (`debug_assertions` on), no custom `--cfg` flag, `test` off.
/// `None` when the target is not one rustc knows; a predicate that does not parse holds.
pub fn compiled_in(predicate: Option<&str>, target: &str, features: &[String]) -> Option<bool> {
    let info = ALL_BUILTINS.iter().find(|t| t.triple.as_str() == target)?;
    let Some(expression) = predicate.and_then(|text| Expression::parse(text).ok()) else {
        return Some(true);
    };
    Some(expression.eval(|predicate| match predicate {
        Predicate::Target(t) => t.matches(info),
        Predicate::Feature(name) => features.iter().any(|f| f == name),
        Predicate::DebugAssertions => true,
        // The baseline features of x86-64 and AArch64, which every build of them has.
        Predicate::TargetFeature(name) => matches!(
            (info.arch.as_str(), *name),
            ("x86_64", "sse" | "sse2" | "fxsr") | ("aarch64", "neon" | "fp-armv8")
        ),
        _ => false,
    }))
}

/// A free predicate as people read it: `feature `rt``, `cfg `tokio_unstable``.
fn free_key(predicate: &Predicate<'_>) -> String {
    match predicate {
        Predicate::Feature(name) => format!("feature `{name}`"),
        Predicate::Flag(name) => format!("cfg `{name}`"),
        Predicate::KeyValue { key, val } => format!("cfg `{key} = \"{val}\"`"),
        Predicate::TargetFeature(name) => format!("target feature `{name}`"),
        Predicate::DebugAssertions => "cfg `debug_assertions`".to_owned(),
        Predicate::ProcMacro => "cfg `proc_macro`".to_owned(),
        other => format!("cfg `{other:?}`"),
    }
}

fn holds(expression: &Expression, target: &TargetInfo, free: &[String], enabled: &[bool]) -> bool {
    expression.eval(|predicate| match predicate {
        Predicate::Target(t) => t.matches(target),
        Predicate::Test => false,
        other => {
            let key = free_key(other);
            free.iter().position(|k| *k == key).is_some_and(|i| enabled[i])
        }
    })
}

/// One target for each distinct way the target predicates come out, preferred targets first.
fn distinct_targets(predicates: &[TargetPredicate]) -> Vec<&'static TargetInfo> {
    let preferred = PREFERRED
        .iter()
        .filter_map(|triple| ALL_BUILTINS.iter().find(|t| t.triple.as_str() == *triple));
    let mut seen: BTreeSet<Vec<bool>> = BTreeSet::new();
    preferred
        .chain(ALL_BUILTINS.iter())
        .filter(|target| seen.insert(predicates.iter().map(|p| p.matches(*target)).collect()))
        .collect()
}

/// Assignments of `n` free booleans to try: all of them when few, else all on, all off and each alone on.
fn assignments(n: usize) -> Vec<Vec<bool>> {
    if n <= MAX_ENUMERATED {
        return (0..1u32 << n)
            .map(|bits| (0..n).map(|i| bits & (1 << i) != 0).collect())
            .collect();
    }
    let mut tried = vec![vec![true; n], vec![false; n]];
    tried.extend((0..n).map(|on| (0..n).map(|i| i == on).collect()));
    tried
}

fn is_subset(small: &[usize], large: &[usize]) -> bool {
    small.iter().all(|i| large.contains(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(predicates: &[Option<&str>], max: usize) -> Vec<(Vec<usize>, Option<String>)> {
        compiled_together(predicates, max)
            .into_iter()
            .map(|(set, config)| (set, config.map(|c| c.to_string())))
            .collect()
    }

    #[test]
    fn platform_twins_are_never_compiled_together() {
        assert!(sets(&[Some("unix"), Some("windows")], 1).is_empty());
        assert!(sets(&[Some(r#"feature="x""#), Some(r#"not(feature="x")"#)], 1).is_empty());
        assert!(sets(&[Some(r#"target_os="linux""#), Some(r#"target_os="macos""#)], 1).is_empty());
    }

    #[test]
    fn a_collision_names_a_configuration_that_compiles_both() {
        assert_eq!(
            sets(&[Some("unix"), Some(r#"feature="rt""#)], 1),
            vec![(
                vec![0, 1],
                Some("x86_64-unknown-linux-gnu with feature `rt`".to_owned())
            )]
        );
        assert_eq!(sets(&[None, None], 1), vec![(vec![0, 1], None)]);
        assert_eq!(
            sets(&[None, Some("windows")], 1),
            vec![(vec![0, 1], Some("x86_64-pc-windows-msvc".to_owned()))]
        );
    }

    #[test]
    fn each_configuration_with_too_many_is_its_own_set() {
        // Two per platform: a duplicate on unix and another on windows.
        let found = sets(&[Some("unix"), Some("unix"), Some("windows"), Some("windows")], 1);
        let found: Vec<Vec<usize>> = found.into_iter().map(|(set, _)| set).collect();
        assert_eq!(found, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn features_turn_on_what_they_list_and_default_unless_told_not_to() {
        let table: std::collections::BTreeMap<String, Vec<String>> = [
            ("default", vec!["rt"]),
            ("rt", vec!["sync", "dep:mio"]),
            ("sync", vec![]),
            ("full", vec!["rt", "net", "bytes/std"]),
            ("net", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        let build = |features: &[&str], all: bool, no_default: bool| Build {
            target: "x86_64-unknown-linux-gnu".into(),
            features: features.iter().map(|f| f.to_string()).collect(),
            all_features: all,
            no_default_features: no_default,
        };
        assert_eq!(build(&[], false, false).enabled(&table), vec!["default", "rt", "sync"]);
        assert_eq!(build(&["net"], false, true).enabled(&table), vec!["net"]);
        assert_eq!(build(&[], true, false).enabled(&table).len(), 5);
        assert!(build(&[], false, false).knows_target());
    }

    #[test]
    fn one_exact_configuration() {
        let on = |p: &str, features: &[&str]| {
            let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
            compiled_in(Some(p), "x86_64-unknown-linux-gnu", &features)
        };
        assert_eq!(on(r#"all(unix,feature="rt")"#, &["rt"]), Some(true));
        assert_eq!(on(r#"all(unix,feature="rt")"#, &[]), Some(false));
        assert_eq!(on("windows", &[]), Some(false));
        assert_eq!(on("any(test,tokio_unstable)", &[]), Some(false));
        assert_eq!(compiled_in(None, "x86_64-unknown-linux-gnu", &[]), Some(true));
        assert_eq!(compiled_in(Some("unix"), "no-such-target", &[]), None);
    }

    #[test]
    fn test_is_off_and_unparsable_predicates_count_as_compiled() {
        assert!(sets(&[Some("test"), None], 1).is_empty());
        assert_eq!(sets(&[Some("all(("), None], 1).len(), 1);
    }
}
