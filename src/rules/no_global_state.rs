//! `no-global-state`: no process-wide mutable state in modules that must keep state per user.

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::{Check, OneOrMany, ParamError, Params, RuleKind, RuleMeta, location, patterns};
use crate::facts::{Definition, DefinitionKind, FileFacts, Reference, ReferenceContext};
use crate::finding::Finding;
use crate::pattern::PathPattern;

/// The `no-global-state` kind.
pub const KIND: RuleKind = RuleKind {
    name: "no-global-state",
    summary: "no static holding interior mutability, no `static mut`, no `thread_local!`/`lazy_static!`",
    docs: DOCS,
    noun: ("global state item", "global state items"),
    build,
};

const DOCS: &str = r#"## What it does
In the named modules (and everything under them), reports:
- a `static` whose value can change through a shared reference: its type names a type with interior
  mutability anywhere inside it (`Mutex`, `RwLock`, `RefCell`, `Cell`, `UnsafeCell`, the atomics,
  `DashMap`, `DashSet`, `ArcSwap`, and any name listed in `types`), resolved through imports. A value
  initialized once (`LazyLock`, `LazyCell`, `Lazy`, `OnceLock`, `OnceCell`) is state only when what it
  holds is: `LazyLock<Regex>` is a constant computed late, `LazyLock<Mutex<..>>` is state, and so is
  `OnceLock<Globals>` for a type of the workspace (whose fields this rule does not read);
- every `static mut`;
- every `thread_local!` and `lazy_static!` invocation.
In Python: a module-level dict, list, set, `defaultdict`, `OrderedDict`, `Counter` or `deque` changed in
place anywhere in the module; a module global rebound through `global` in a function (a lazy
singleton); a module-level instance of a class of the scanned tree.
A `const` is not state (each use is a fresh value) and is never reported. Test code is left out unless
`include-tests = true`; `allow` lists item paths that may stay (a metrics registry, say).

## Why is this bad?
Process-wide state is shared by every user: one user's run can read or overwrite another's. Per-user state
must come from the per-user execution-context factory.

## Example
```rust
static USER_REGISTRY: LazyLock<Mutex<HashMap<UserId, Session>>> = ...;   // reported
static VERSION: &str = "1";                                               // fine
```

## Configuration
```toml
[[rule]]
id = "no-global-user-state"
kind = "no-global-state"
message = "Per-user state comes from the execution-context factory."
modules = ["gateway", "**::ws"]   # module path patterns; each covers everything under it
types = ["Registry"]              # more interior-mutability type names
allow = ["gateway::metrics::RECORDER"]
include-tests = false
```
"#;

/// Type names whose value can change through a shared reference. The once-initialized wrappers
/// (`LazyLock`, `OnceLock`, ...) are not among them: after their first use they never change, so they are
/// state only when what they hold is.
const INTERIOR_MUTABILITY: &[&str] = &[
    "Mutex",
    "RwLock",
    "RefCell",
    "Cell",
    "UnsafeCell",
    "DashMap",
    "DashSet",
    "ArcSwap",
    "ArcSwapOption",
    "ReentrantMutex",
    "SyncUnsafeCell",
];

/// Wrappers initialized once: they hold state only when what they hold can change.
const ONCE: &[&str] = &["OnceCell", "OnceLock", "LazyLock", "LazyCell", "Lazy"];

/// Macros that declare global or thread-global state.
const STATE_MACROS: &[&str] = &["thread_local", "lazy_static"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    modules: Spanned<OneOrMany>,
    types: Option<OneOrMany>,
    allow: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    include_tests: bool,
}

/// A validated `no-global-state` rule.
#[derive(Debug)]
struct NoGlobalState {
    modules: Vec<PathPattern>,
    types: Vec<String>,
    allow: Vec<PathPattern>,
    include_tests: bool,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    let modules = patterns(&raw.modules)?;
    if modules.is_empty() {
        return Err(ParamError::at(
            raw.modules.span(),
            "`modules` needs at least one module path",
        ));
    }
    Ok(Box::new(NoGlobalState {
        modules,
        types: raw.types.map(|t| t.0).unwrap_or_default(),
        allow: raw.allow.as_ref().map(patterns).transpose()?.unwrap_or_default(),
        include_tests: raw.include_tests,
    }))
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

impl NoGlobalState {
    fn applies(&self, path: &str, in_test: bool) -> bool {
        (self.include_tests || !in_test)
            && self.modules.iter().any(|m| m.covers(path))
            && !self.allow.iter().any(|a| a.matches(path))
    }

    /// What is wrong with a definition, if it is global mutable state this rule covers. A value
    /// initialized once is state only when what it holds can change; a type of the workspace (`crates`)
    /// may (its fields are not read), a type from elsewhere without interior mutability does not.
    /// Without `crates` (when facts are pruned, before the workspace is known) any such static may be.
    fn state_message(&self, d: &Definition, crates: Option<&HashSet<&str>>) -> Option<String> {
        let (DefinitionKind::Static, Some(facts)) = (d.kind, &d.static_facts) else {
            return None;
        };
        if !self.applies(&d.path, d.in_test) {
            return None;
        }
        if let Some(described) = &facts.described {
            return Some(described.clone());
        }
        if facts.mutable {
            return Some(format!("`static mut {}` is global mutable state", d.name));
        }
        if let Some(ty) = self.interior_mutable(&facts.type_paths) {
            return Some(format!(
                "static `{}` holds `{ty}`, which can change through a shared reference: global mutable state",
                d.name
            ));
        }
        let wrapper = facts
            .type_paths
            .iter()
            .map(|p| last_segment(p))
            .find(|n| ONCE.contains(n))?;
        let own = facts.type_paths.iter().find(|p| {
            !ONCE.contains(&last_segment(p))
                && crates.is_none_or(|crates| crates.contains(p.split("::").next().unwrap_or(p)))
        })?;
        Some(format!(
            "static `{}` holds `{wrapper}` of `{}`, a type of this workspace whose fields may change: global \
             mutable state",
            d.name,
            last_segment(own)
        ))
    }

    /// The state macro a reference invokes, if this rule covers where it is.
    fn state_macro<'r>(&self, r: &'r Reference) -> Option<&'r str> {
        let name = last_segment(&r.path);
        (r.context == ReferenceContext::Macro && STATE_MACROS.contains(&name) && self.applies(&r.enclosing, r.in_test))
            .then_some(name)
    }

    fn interior_mutable<'p>(&self, type_paths: &'p [String]) -> Option<&'p str> {
        type_paths.iter().map(|p| last_segment(p)).find(|name| {
            INTERIOR_MUTABILITY.contains(name)
                || self.types.iter().any(|t| t == name)
                || (name.starts_with("Atomic") && name.len() > "Atomic".len())
        })
    }
}

impl Check for NoGlobalState {
    fn uses(&self, fact: super::Fact<'_>) -> bool {
        match fact {
            super::Fact::Definition(d) => self.state_message(d, None).is_some(),
            super::Fact::Reference(r) => self.state_macro(r).is_some(),
            _ => false,
        }
    }

    fn reads_tests(&self) -> bool {
        self.include_tests
    }

    fn reads_references(&self) -> bool {
        // Statics are found where they are written; the state macros by the name they are invoked with
        // in the file (a `use` renaming one mentions it and keeps the file's bodies).
        false
    }

    fn body_words(&self) -> Option<Vec<String>> {
        // Global state inside a function body is a `static` item or one of the state macros.
        Some(
            std::iter::once("static")
                .chain(STATE_MACROS.iter().copied())
                .map(str::to_owned)
                .collect(),
        )
    }

    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let crates: HashSet<&str> = files
            .iter()
            .map(|f| f.module.split("::").next().unwrap_or(&f.module))
            .collect();
        for file in files {
            for d in &file.definitions {
                if let Some(message) = self.state_message(d, Some(&crates)) {
                    out.push(rule.finding(message, d.path.clone(), location(file, d.span, "global state"), None));
                }
            }
            for r in &file.references {
                if let Some(name) = self.state_macro(r) {
                    out.push(rule.finding(
                        format!("`{name}!` in `{}` declares global state", r.enclosing),
                        format!("{name}! in {}", r.enclosing),
                        location(file, r.span, "global state"),
                        None,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    #[test]
    fn reports_interior_mutability_static_mut_and_state_macros() {
        let findings = run(
            &KIND,
            r#"modules = ["app::state"], types = ["Registry"], allow = ["app::state::ALLOWED"]"#,
            &[
                (
                    "src/lib.rs",
                    "pub mod state; pub mod other; static OUTSIDE: std::sync::Mutex<u8> = std::sync::Mutex::new(0);",
                ),
                (
                    "src/state.rs",
                    "use std::sync::{LazyLock, Mutex, atomic::AtomicUsize}; use std::collections::HashMap;
                     static USERS: LazyLock<Mutex<HashMap<u32, String>>> = LazyLock::new(Default::default);
                     static COUNT: AtomicUsize = AtomicUsize::new(0);
                     static mut RAW: u8 = 0;
                     static NAME: &str = \"fine\";
                     static PATTERN: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(\"x\"));
                     static CONFIG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                     pub struct Globals; static GLOBALS: std::sync::OnceLock<Globals> = std::sync::OnceLock::new();
                     const NOT_STATE: Mutex<u8> = Mutex::new(0);
                     static REG: Registry = Registry;
                     static ALLOWED: Mutex<u8> = Mutex::new(0);
                     thread_local! { static LOCAL: std::cell::RefCell<u8> = std::cell::RefCell::new(0); }
                     fn f() { lazy_static::lazy_static! { static ref X: u8 = 0; } }
                     #[cfg(test)] static TEST_ONLY: Mutex<u8> = Mutex::new(0);",
                ),
            ],
        );
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                // A lazily built constant (`PATTERN`) or a value set once (`CONFIG`) is not state.
                "static `USERS` holds `Mutex`, which can change through a shared reference: global mutable state",
                "static `COUNT` holds `AtomicUsize`, which can change through a shared reference: global mutable state",
                "`static mut RAW` is global mutable state",
                "static `GLOBALS` holds `OnceLock` of `Globals`, a type of this workspace whose fields may change: global mutable state",
                "static `REG` holds `Registry`, which can change through a shared reference: global mutable state",
                "`thread_local!` in `app::state` declares global state",
                "`lazy_static!` in `app::state::f` declares global state",
            ]
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, "modules = []").contains("at least one"));
        assert!(build_error(&KIND, "types = []").contains("missing field `modules`"));
    }
}
