//! `in = [...]`: the part of the workspace a rule looks at, whatever its kind.
//!
//! A rule scoped to `tokio::runtime::**` sees only the facts that lie there: definitions whose path it
//! covers, and imports, module declarations and uses of paths written in a module it covers. What they
//! name may lie anywhere (a dispatch rule scoped to the app still matches the protocol's enum).

use crate::facts::FileFacts;
use crate::pattern::PathPattern;

/// The modules a rule is limited to.
#[derive(Clone, Debug)]
pub struct Scope {
    patterns: Vec<PathPattern>,
}

impl Scope {
    /// A scope of the modules (and items) the patterns cover.
    pub fn new(patterns: Vec<PathPattern>) -> Self {
        Scope { patterns }
    }

    /// Whether the path, or a module it lies in, is in scope.
    pub fn covers(&self, path: &str) -> bool {
        self.patterns.iter().any(|p| p.covers(path))
    }

    /// The facts a rule with this scope sees: every file, with only the facts that lie in scope.
    pub fn select(&self, files: &[FileFacts]) -> Vec<FileFacts> {
        files.iter().map(|file| self.select_file(file)).collect()
    }

    fn select_file(&self, file: &FileFacts) -> FileFacts {
        // A declaration is written in its parent module.
        let parent = |path: &str| path.rsplit_once("::").map_or("", |(parent, _)| parent).to_owned();
        FileFacts {
            definitions: file
                .definitions
                .iter()
                .filter(|d| self.covers(&d.path))
                .cloned()
                .collect(),
            imports: file
                .imports
                .iter()
                .filter(|i| self.covers(&i.module))
                .cloned()
                .collect(),
            references: file
                .references
                .iter()
                .filter(|r| self.covers(&r.enclosing))
                .cloned()
                .collect(),
            modules: file
                .modules
                .iter()
                .filter(|m| self.covers(&parent(&m.path)))
                .cloned()
                .collect(),
            ..file.clone()
        }
    }

    /// The patterns, as written.
    pub fn describe(&self) -> String {
        self.patterns
            .iter()
            .map(PathPattern::as_str)
            .collect::<Vec<_>>()
            .join("`, `")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::facts;

    #[test]
    fn only_the_facts_that_lie_in_scope_are_seen() {
        let files = facts(&[
            ("src/lib.rs", "pub mod web; pub mod store; pub enum Msg { A }"),
            (
                "src/web.rs",
                "use crate::store::Db; pub struct Handler; fn f(m: crate::Msg) { match m { crate::Msg::A => {} } }",
            ),
            ("src/store.rs", "use crate::Msg; pub struct Db; pub struct Handler;"),
        ]);
        let scope = Scope::new(vec![PathPattern::new("app::web").expect("pattern")]);
        let seen = scope.select(&files);
        let all = |pick: fn(&FileFacts) -> Vec<String>| seen.iter().flat_map(pick).collect::<Vec<_>>();
        assert_eq!(
            all(|f| f.definitions.iter().map(|d| d.path.clone()).collect()),
            ["app::web::Handler", "app::web::f"]
        );
        assert_eq!(
            all(|f| f.imports.iter().map(|i| i.path.clone()).collect()),
            ["app::store::Db"]
        );
        // What a use names lies anywhere: the match on `crate::Msg::A` in `web` is in scope.
        assert!(all(|f| f.references.iter().map(|r| r.path.clone()).collect()).contains(&"app::Msg::A".to_owned()));
        assert!(all(|f| f.modules.iter().map(|m| m.path.clone()).collect()).is_empty());
        assert_eq!(
            seen.len(),
            files.len(),
            "every file is still there, for its problems and suppressions"
        );
    }
}
