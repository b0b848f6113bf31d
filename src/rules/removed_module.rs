//! `removed-module`: modules that must not exist any more.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Check, ParamError, Params, RuleKind, RuleMeta, StringOrTable, location};
use crate::facts::FileFacts;
use crate::finding::{Finding, Fix, Location};
use crate::pattern::PathPattern;

/// The `removed-module` kind.
pub const KIND: RuleKind = RuleKind {
    name: "removed-module",
    summary: "modules that were removed stay removed: no file and no `mod` declaration",
    docs: DOCS,
    noun: ("removed module still present", "removed modules still present"),
    build,
};

const DOCS: &str = r#"## What it does
Reports a module that must be gone but is still there: its `mod` declaration (inline or from a file) is
the finding, and its files are listed with it. A file no `mod` declaration reaches is reported on its own.
One finding per module, naming the replacement.

## Why is this bad?
A deprecated module that still compiles keeps being imported; removing it is the end of the migration,
and this rule keeps it from coming back.

## Example
```rust
// src/lib.rs
pub mod websocket_manager_factory;   // reported: removed, use `ws::manager` instead
```

## Configuration
```toml
[[rule]]
id = "websocket-manager-factory-removed"
kind = "removed-module"
message = "The deprecated websocket manager factory was removed."
modules = [
  "**::websocket_manager_factory",                                     # a path pattern
  { path = "app::legacy::events", use-instead = "app::notifier" },
]
use-instead = "the per-user factory in ws::manager"   # default replacement
```
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    modules: Spanned<Vec<Spanned<StringOrTable<EntryTable>>>>,
    use_instead: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EntryTable {
    path: String,
    use_instead: Option<String>,
}

impl From<String> for EntryTable {
    fn from(path: String) -> Self {
        EntryTable {
            path,
            use_instead: None,
        }
    }
}

/// A validated `removed-module` rule.
#[derive(Debug)]
struct RemovedModule {
    modules: Vec<(PathPattern, Option<String>)>,
}

fn build(params: Params<'_>) -> Result<Box<dyn Check>, ParamError> {
    let raw: Raw = params.parse()?;
    if raw.modules.get_ref().is_empty() {
        return Err(ParamError::at(
            raw.modules.span(),
            "`modules` needs at least one module path",
        ));
    }
    let modules = raw
        .modules
        .get_ref()
        .iter()
        .map(|entry| {
            let table = &entry.get_ref().0;
            let pattern = PathPattern::new(&table.path).map_err(|e| ParamError::at(entry.span(), e))?;
            Ok((pattern, table.use_instead.clone().or_else(|| raw.use_instead.clone())))
        })
        .collect::<Result<Vec<_>, ParamError>>()?;
    Ok(Box::new(RemovedModule { modules }))
}

/// What was found of one removed module: its declarations and its files.
#[derive(Default)]
struct Remains {
    declarations: Vec<Location>,
    files: Vec<Location>,
    use_instead: Option<String>,
    /// The first declaration is `mod name;` (its body in a file of its own), not `mod name { .. }`.
    declared_apart: bool,
}

impl Check for RemovedModule {
    fn uses(&self, fact: super::Fact<'_>) -> bool {
        matches!(fact, super::Fact::Module(m) if self.modules.iter().any(|(p, _)| p.matches(&m.path)))
    }

    fn reads_references(&self) -> bool {
        // Module declarations and files are found where they are written.
        false
    }

    fn body_words(&self) -> Option<Vec<String>> {
        super::pattern_words(self.modules.iter().map(|(pattern, _)| pattern))
    }

    fn check(&self, rule: &RuleMeta, files: &[FileFacts], out: &mut Vec<Finding>) {
        let mut found: BTreeMap<String, Remains> = BTreeMap::new();
        let removed = |path: &str| self.modules.iter().find(|(p, _)| p.matches(path));
        for file in files {
            for decl in &file.modules {
                if let Some((_, use_instead)) = removed(&decl.path) {
                    let remains = found.entry(decl.path.clone()).or_default();
                    if remains.declarations.is_empty() {
                        remains.declared_apart = !decl.inline;
                    }
                    remains.declarations.push(location(file, decl.span, "declared here"));
                    remains.use_instead.clone_from(use_instead);
                }
            }
            // A file of the module or of any module under it goes with it.
            let covering = self
                .modules
                .iter()
                .find_map(|(p, u)| p.covering_prefix(&file.module).map(|m| (m, u)));
            if let Some((module, use_instead)) = covering {
                let remains = found.entry(module.to_owned()).or_default();
                remains.files.push(Location {
                    path: file.path.clone(),
                    span: None,
                    label: "module file".into(),
                    member: None,
                });
                remains.use_instead.clone_from(use_instead);
            }
        }
        for (module, remains) in found {
            let mut places = remains.declarations.into_iter().chain(remains.files);
            let Some(primary) = places.next() else { continue };
            let mut finding = rule.finding(
                format!("module `{module}` was removed but is still present"),
                module,
                primary,
                remains.use_instead.map(|u| format!("use `{u}` instead")),
            );
            // A `mod name;` declaration can go (unsafe: whatever still uses the module breaks).
            if remains.declared_apart {
                finding.fix = Some(Fix::DeleteModDeclaration);
            }
            finding.related = places.collect();
            out.push(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build_error, run};
    use super::*;

    #[test]
    fn a_declared_module_is_one_finding_with_its_file() {
        let findings = run(
            &KIND,
            r#"modules = [{ path = "app::old", use-instead = "app::new" }]"#,
            &[
                ("src/lib.rs", "pub mod old; pub mod new;"),
                ("src/old.rs", "pub fn f() {}"),
                ("src/new.rs", ""),
            ],
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "module `app::old` was removed but is still present"
        );
        assert_eq!(findings[0].primary.path, "src/lib.rs");
        assert_eq!(findings[0].related[0].path, "src/old.rs");
        assert_eq!(
            findings[0].help.as_deref(),
            Some("rule message (use `app::new` instead)")
        );
    }

    #[test]
    fn inline_modules_and_orphan_files_are_found_by_pattern() {
        let findings = run(
            &KIND,
            r#"modules = ["**::legacy"]"#,
            &[("src/lib.rs", "mod a { mod legacy {} }"), ("src/b/legacy.rs", "")],
        );
        let modules: Vec<&str> = findings.iter().map(|f| f.symbol.as_str()).collect();
        assert_eq!(modules, vec!["app::b::legacy", "app::a::legacy"]);
    }

    #[test]
    fn bad_parameters_are_explained() {
        assert!(build_error(&KIND, "modules = []").contains("at least one"));
        assert!(build_error(&KIND, r#"module = ["a"]"#).contains("unknown field `module`"));
    }
}
