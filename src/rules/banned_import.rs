//! `banned-import`: module or item paths that no code may import or name.

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::{Check, OneOrMany, ParamError, Params, RuleKind, RuleMeta, StringOrTable, location};
use crate::facts::{FileFacts, Reference, Span, path_is_under};
use crate::finding::{Finding, Fix};
use crate::pattern::PathPattern;

/// The `banned-import` kind.
pub const KIND: RuleKind = RuleKind {
    name: "banned-import",
    summary: "banned module or item paths are neither imported nor named anywhere",
    docs: DOCS,
    noun: ("banned import", "banned imports"),
    build,
};

const DOCS: &str = r#"## What it does
Reports every `use` (including globs, renames, `pub use` re-exports and `extern crate`) and every qualified
path in code (types, expressions, patterns, macro paths) that resolves to a banned path or anything under
it. Paths are resolved first: `use super::factory::create`, `crate::factory::create()` and an import of a
`pub use` re-export of a banned item are all caught. A use of a name that came from an import is not
reported again: the import is the finding. Code inside the banned module itself is exempt, and so are
files matching `allow-in`. Macro bodies are not expanded; those that read as expression lists
(`vec![..]`, `println!(..)`, `assert_eq!(..)`) are checked.

In Python, every import form is caught (`import a.b`, `import a.b as c`, `from a import b`, `from a.b import
c as d`, `from a.b import *`, relative imports at any level), and so are dotted names in code that lead
to a banned module through the imports (`legacy.create()` after `import app.legacy as legacy`), and
imports of an `__init__.py` re-export of a banned item. Comments and strings never count. Write Python
paths dotted: `paths = ["**.websocket_manager_factory"]`.

## Why is this bad?
A deprecated path that is still imported keeps a second initialization path alive: the migration is not
done while anything depends on it.

## Example
```rust
use crate::websocket_manager_factory::create_websocket_manager;   // reported
use crate::ws::manager::create_websocket_manager;                  // fine
```

## Configuration
```toml
[[rule]]
id = "no-websocket-manager-factory"
kind = "banned-import"
message = "The websocket manager factory is deprecated."
paths = [
  "**::websocket_manager_factory",     # a path pattern: bans the module and everything in it
  { path = "app::legacy::notify", reason = "sends events without a seq", use-instead = "app::notifier::Notifier" },
]
reason = "..."          # default reason for entries without one
use-instead = "..."     # default replacement
allow-in = ["tests/**"] # file globs, relative to this rule file
```
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    paths: Spanned<Vec<Spanned<StringOrTable<EntryTable>>>>,
    reason: Option<String>,
    use_instead: Option<String>,
    allow_in: Option<Spanned<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EntryTable {
    path: String,
    reason: Option<String>,
    use_instead: Option<String>,
}

impl From<String> for EntryTable {
    fn from(path: String) -> Self {
        EntryTable {
            path,
            reason: None,
            use_instead: None,
        }
    }
}

#[derive(Debug)]
struct Banned {
    pattern: PathPattern,
    reason: Option<String>,
    use_instead: Option<String>,
}

/// A validated `banned-import` rule.
#[derive(Debug)]
struct BannedImport {
    banned: Vec<Banned>,
    allow_in: super::file_globs::FileGlobs,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    if raw.paths.get_ref().is_empty() {
        return Err(ParamError::at(raw.paths.span(), "`paths` needs at least one path"));
    }
    let banned = raw
        .paths
        .get_ref()
        .iter()
        .map(|entry| {
            let table = &entry.get_ref().0;
            Ok(Banned {
                pattern: PathPattern::new(&table.path).map_err(|e| ParamError::at(entry.span(), e))?,
                reason: table.reason.clone().or_else(|| raw.reason.clone()),
                use_instead: table.use_instead.clone().or_else(|| raw.use_instead.clone()),
            })
        })
        .collect::<Result<Vec<_>, ParamError>>()?;
    Ok(Box::new(BannedImport {
        banned,
        allow_in: params.file_globs(raw.allow_in.as_ref())?,
    }))
}

impl BannedImport {
    /// The banned entry covering `path`, unless `from` (where the code is) is exempt: inside the banned
    /// module, or, for a banned item, inside the module that defines it.
    fn banned_for(&self, path: &str, from: &str, modules: &HashSet<&str>) -> Option<&Banned> {
        self.banned.iter().find(|b| {
            let Some(prefix) = b.pattern.covering_prefix(path) else {
                return false;
            };
            let home = if modules.contains(prefix) {
                prefix
            } else {
                prefix.rsplit_once("::").map_or(prefix, |(m, _)| m)
            };
            !path_is_under(from, home)
        })
    }
}

/// The safe fix of an import of `leaf` written in module `from`: the rule's `use-instead` names an item
/// of the same name that the workspace defines (written relative to the crate root, or absolute), and
/// the file imports it from there. A replacement in the importing crate is written `crate::...`.
fn import_fix(banned: &Banned, leaf: &str, from: &str, defined: &HashSet<&str>) -> Option<Fix> {
    let instead = banned.use_instead.as_deref()?.trim_start_matches("crate::");
    if instead.rsplit("::").next() != Some(leaf) {
        return None;
    }
    let own_crate = from.split("::").next()?;
    let in_own_crate = format!("{own_crate}::{instead}");
    if defined.contains(in_own_crate.as_str()) {
        return Some(Fix::Import {
            replacement: format!("crate::{instead}"),
        });
    }
    defined.contains(instead).then(|| Fix::Import {
        replacement: match instead.strip_prefix(&format!("{own_crate}::")) {
            Some(rest) => format!("crate::{rest}"),
            None => instead.to_owned(),
        },
    })
}

fn help(banned: &Banned) -> Option<String> {
    let parts: Vec<String> = [
        banned.reason.clone(),
        banned.use_instead.as_ref().map(|u| format!("use `{u}` instead")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

impl Check for BannedImport {
    fn uses(&self, fact: super::Fact<'_>) -> bool {
        let covered = |path: &str| self.banned.iter().any(|b| b.pattern.covers(path));
        match fact {
            super::Fact::Import(i) => covered(&i.path) || covered(&i.target),
            super::Fact::Reference(r) => covered(&r.path),
            // Whether a banned prefix is a module (the module is exempt from its own ban, not only the
            // item's parent) depends on the declarations the patterns match.
            super::Fact::Module(m) => self.banned.iter().any(|b| b.pattern.matches(&m.path)),
            super::Fact::Definition(_) => false,
        }
    }

    fn reads_references(&self) -> bool {
        true
    }

    fn body_words(&self) -> Option<Vec<String>> {
        super::pattern_words(self.banned.iter().map(|b| &b.pattern))
    }

    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let modules: HashSet<&str> = files
            .iter()
            .flat_map(|f| std::iter::once(f.module.as_str()).chain(f.modules.iter().map(|m| m.path.as_str())))
            .collect();
        // Every definition's path, for the fixes: gathered once, and only when an import is reported
        // whose entry names a replacement.
        let defined: std::cell::OnceCell<HashSet<&str>> = std::cell::OnceCell::new();
        let defined = || {
            defined.get_or_init(|| {
                files
                    .iter()
                    .flat_map(|f| f.definitions.iter().map(|d| d.path.as_str()))
                    .collect()
            })
        };
        for file in files.iter().filter(|f| !self.allow_in.is_match(&f.path)) {
            let report = |path: &str, from: &str, span: Span, verb: &str, shown: String, leaf: Option<&str>| {
                self.banned_for(path, from, &modules).map(|banned| {
                    let mut finding = rule.finding(
                        format!("`{from}` {verb} {shown}"),
                        format!("{path} in {from}"),
                        location(file, span, format!("banned by `{}`", banned.pattern.as_str())),
                        help(banned),
                    );
                    finding.fix = leaf
                        .filter(|_| banned.use_instead.is_some())
                        .and_then(|leaf| import_fix(banned, leaf, from, defined()));
                    finding
                })
            };
            for import in &file.imports {
                let shown = if import.target == import.path {
                    format!("`{}`, which is banned", import.path)
                } else {
                    format!("`{}`, a re-export of banned `{}`", import.path, import.target)
                };
                let verb = if import.reexport { "re-exports" } else { "imports" };
                // A named item imported (not a glob, not a crate) can be imported from its replacement.
                let leaf = (!import.glob && !import.extern_crate)
                    .then(|| import.path.rsplit("::").next())
                    .flatten();
                let reported = if self.banned_for(&import.path, &import.module, &modules).is_some() {
                    report(&import.path, &import.module, import.span, verb, shown, leaf)
                } else {
                    report(&import.target, &import.module, import.span, verb, shown, leaf)
                };
                let Some(mut finding) = reported else { continue };
                // A banned module imported, which defines the item its replacement is: the file's
                // qualified uses of that item can name the replacement instead.
                if finding.fix.is_none()
                    && !import.glob
                    && !import.reexport
                    && modules.contains(import.target.as_str())
                    && let Some(banned) = self.banned_for(&import.target, &import.module, &modules)
                    && let Some(item) = banned.use_instead.as_deref().and_then(|i| i.rsplit("::").next())
                    && defined().contains(format!("{}::{item}", import.target).as_str())
                    && let Some(Fix::Import { replacement }) = import_fix(banned, item, &import.module, defined())
                {
                    finding.fix = Some(Fix::ModuleImport {
                        replacement,
                        item: item.to_owned(),
                    });
                }
                out.push(finding);
            }
            // A use of a name that came through a banned import was reported at the import.
            let through_banned = |r: &&Reference| {
                r.via_import
                    .as_deref()
                    .is_some_and(|via| self.banned_for(via, &r.enclosing, &modules).is_some())
            };
            for reference in file.references.iter().filter(|r| !through_banned(r)) {
                let shown = format!("`{}`, which is banned", reference.path);
                out.extend(report(
                    &reference.path,
                    &reference.enclosing,
                    reference.span,
                    "names",
                    shown,
                    None,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    const FILES: [(&str, &str); 4] = [
        ("src/lib.rs", "pub mod factory; pub mod handler; pub mod compat; pub mod clean;"),
        (
            "src/factory.rs",
            "pub fn create() {} pub struct Factory; fn internal() { create(); crate::factory::create(); }",
        ),
        (
            "src/handler.rs",
            "use crate::factory::{self, create as make}; use super::compat::Old;
             fn run() { make(); factory::create(); crate::factory::Factory; let _: Option<crate::factory::Factory> = None; }",
        ),
        ("src/compat.rs", "pub use crate::factory::Factory as Old; pub use crate::factory::*;"),
    ];

    #[test]
    fn reports_imports_reexports_and_direct_paths_once_each() {
        let findings = run(&KIND, r#"paths = ["app::factory"]"#, &FILES);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`app::compat` re-exports `app::factory::Factory`, which is banned",
                "`app::compat` re-exports `app::factory`, which is banned",
                "`app::handler` imports `app::factory`, which is banned",
                "`app::handler` imports `app::factory::create`, which is banned",
                "`app::handler` imports `app::compat::Old`, a re-export of banned `app::factory::Factory`",
                "`app::handler::run` names `app::factory::Factory`, which is banned",
                "`app::handler::run` names `app::factory::Factory`, which is banned",
            ]
        );
    }

    #[test]
    fn allow_in_and_entry_tables_with_reasons() {
        let findings = run(
            &KIND,
            r#"paths = [{ path = "app::factory::create", reason = "deprecated", use-instead = "app::clean::make" }], allow-in = ["src/compat.rs"]"#,
            &FILES,
        );
        // The import of `create` and the call through the (allowed) import of its module.
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`app::handler` imports `app::factory::create`, which is banned",
                "`app::handler::run` names `app::factory::create`, which is banned",
            ]
        );
        assert_eq!(
            findings[0].help.as_deref(),
            Some("rule message (deprecated; use `app::clean::make` instead)")
        );
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, "paths = []").contains("at least one path"));
        assert!(build_error(&KIND, r#"paths = ["a/b"]"#).contains("::"));
        assert!(build_error(&KIND, r#"paths = [{ path = "a", why = "x" }]"#).contains("unknown field `why`"));
        assert!(build_error(&KIND, r#"paths = ["a"], allow-in = ["[x"]"#).contains("not a valid file glob"));
        assert!(build_error(&KIND, "paths = [1]").contains("path string or a table"));
    }
}
