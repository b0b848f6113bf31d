//! Patterns over `::`-separated symbol paths and over names, as written in rule files.
//!
//! `gateway::legacy` is exact; `*` matches within one segment (`*Router`, `gateway::*::handler`) and
//! `**` matches any number of segments (`**::ws::router`). The glob engine is globset's, with `::`
//! playing the part of `/`. Python paths are written in Python's notation (`netra.app.ws.*Router`,
//! `**.websocket_manager_factory`): a pattern with dots and no `::` is dotted, and matches the same
//! paths as its `::` spelling, which is how every frontend's facts are joined.

use globset::{GlobBuilder, GlobMatcher};

use crate::facts::path_is_under;

/// A compiled path or name pattern.
#[derive(Clone, Debug)]
pub struct PathPattern {
    /// As written in the rule file.
    written: String,
    /// In the facts' notation (`::`-joined).
    text: String,
    glob: Option<GlobMatcher>,
    /// The longest run of the pattern without wildcards: a path that does not contain it cannot match,
    /// which saves running the glob on nearly every path.
    literal: String,
}

impl PathPattern {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn new(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("a path pattern cannot be empty".to_owned());
        }
        if text.contains('/') {
            return Err(format!(
                "`{text}` is not a symbol path: separate segments with `::` (Rust) or `.` (Python), not `/`"
            ));
        }
        let written = text;
        let dotted = is_dotted(text).then(|| text.replace('.', "::"));
        let text = dotted.as_deref().unwrap_or(text);
        let glob = if text.contains(['*', '?', '[', '{']) {
            let glob = GlobBuilder::new(&text.replace("::", "/"))
                .literal_separator(true)
                .build()
                .map_err(|e| format!("`{text}` is not a valid pattern: {}", e.kind()))?;
            Some(glob.compile_matcher())
        } else {
            None
        };
        // Alternations and classes can match text that is not in the pattern; only `*` leaves literals.
        let literal = if text.contains(['?', '[', '{']) {
            String::new()
        } else {
            text.split('*')
                .max_by_key(|part| part.len())
                .unwrap_or("")
                .trim_matches(':')
                .to_owned()
        };
        Ok(PathPattern {
            written: written.to_owned(),
            text: text.to_owned(),
            glob,
            literal,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Whether the pattern names a path (it has segments) rather than a bare name.
    pub fn is_path(&self) -> bool {
        self.text.contains("::")
    }

    /// A word that an item this pattern selects must contain, and that code naming such an item must
    /// contain once renames and re-exports are followed: the longest run without wildcards in the *last*
    /// segment, the item's own name. No other segment will do: a module's name is not written in its
    /// items (`fn spawn` in `tokio/src/task.rs` says neither `tokio` nor `task`), nor in code that reaches
    /// it as `crate::`, `super::` or `self::`. So a pattern whose last segment is all wildcards
    /// (`tokio::**`, `app::pool::*`) has no word: anything may match.
    pub fn word(&self) -> Option<&str> {
        if self.text.contains(['?', '[', '{']) {
            return None;
        }
        let last = self.text.rsplit("::").next().unwrap_or(&self.text);
        last.split('*')
            .filter(|run| !run.is_empty())
            .max_by_key(|run| run.len())
    }

    /// Whether the whole path matches.
    pub fn matches(&self, path: &str) -> bool {
        if !path.contains(&self.literal) {
            return false;
        }
        match &self.glob {
            Some(glob) => glob.is_match(path.replace("::", "/")),
            None => self.text == path,
        }
    }

    /// Whether the path, or a module it lies in, matches: a pattern for a module covers everything in it.
    pub fn covers(&self, path: &str) -> bool {
        self.covering_prefix(path).is_some()
    }

    /// The longest prefix of `path` (whole segments) that the pattern matches.
    pub fn covering_prefix<'p>(&self, path: &'p str) -> Option<&'p str> {
        if !path.contains(&self.literal) {
            return None;
        }
        if self.glob.is_none() {
            return path_is_under(path, &self.text).then(|| &path[..self.text.len()]);
        }
        let mut end = path.len();
        loop {
            if self.matches(&path[..end]) {
                return Some(&path[..end]);
            }
            end = path[..end].rfind("::")?;
        }
    }
}

/// Whether `text` is a path in Python's dotted notation: dots between segments and no `::` (a glob's
/// `{a,b}` or `[ab]` may hold no dot, so dots inside them do not count).
pub fn is_dotted(text: &str) -> bool {
    !text.contains("::") && text.contains('.') && !text.starts_with('.') && !text.ends_with('.') && !text.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        PathPattern::new(text).expect("a valid pattern")
    }

    #[test]
    fn exact_patterns_cover_whole_segments_only() {
        let p = pattern("app::legacy");
        assert!(p.matches("app::legacy"));
        assert!(p.covers("app::legacy::make"));
        assert!(!p.covers("app::legacy_two"));
    }

    #[test]
    fn star_stays_in_one_segment_and_double_star_spans_many() {
        assert!(pattern("*Router").matches("MessageRouter"));
        assert!(!pattern("app::*").matches("app::a::b"));
        assert!(pattern("**::ws::router").matches("gateway::ws::router"));
        assert!(pattern("**::ws::router").covers("gateway::ws::router::MessageRouter"));
        assert!(!pattern("**::ws::router").covers("gateway::ws::routers"));
    }

    #[test]
    fn alternations_and_classes_still_match() {
        assert!(pattern("app::{legacy,old}").covers("app::old::x"));
        assert!(pattern("app::[lo]egacy").matches("app::legacy"));
        assert!(!pattern("**::legacy").covers("app::modern::x"));
    }

    #[test]
    fn the_word_comes_from_the_last_segment_only() {
        assert_eq!(pattern("std::sync::mpsc").word(), Some("mpsc"));
        assert_eq!(pattern("**::ws::router::MessageRouter").word(), Some("MessageRouter"));
        assert_eq!(pattern("*Builder").word(), Some("Builder"));
        assert_eq!(pattern("tokio").word(), Some("tokio"));
        assert_eq!(pattern("app::*::handle_*").word(), Some("handle_"));
        // Code under `app::legacy` names it `super::`, a crate's own code names it `crate::`.
        assert_eq!(pattern("app::legacy::*").word(), None);
        assert_eq!(pattern("contracts::*").word(), None);
        assert_eq!(pattern("tokio::**").word(), None);
        assert_eq!(pattern("**").word(), None);
        assert_eq!(pattern("app::{legacy,old}").word(), None);
    }

    #[test]
    fn dotted_patterns_are_python_paths() {
        let p = pattern("netra.app.ws.*Router");
        assert!(p.matches("netra::app::ws::MessageRouter"));
        assert!(p.is_path());
        assert_eq!(p.as_str(), "netra.app.ws.*Router");
        assert!(pattern("**.websocket_manager_factory").covers("app::services::websocket_manager_factory::get"));
        assert_eq!(pattern("app.legacy.make_manager").word(), Some("make_manager"));
        assert!(!pattern("MessageRouter").is_path());
    }

    #[test]
    fn bad_patterns_say_why() {
        assert!(PathPattern::new("a/b").expect_err("slash").contains("::"));
        assert!(
            PathPattern::new("a::[b")
                .expect_err("class")
                .contains("not a valid pattern")
        );
        assert!(PathPattern::new(" ").is_err());
    }
}
