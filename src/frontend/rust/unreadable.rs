//! What a run without shortcuts says of the items syn cannot read: what a run with them says.
//!
//! A run with shortcuts never parses an item no rule can see (the fast reader reads it, or its body is
//! left out), so it cannot tell whether syn reads it; a run without them parses everything. For their
//! findings to be equal, the second reports a file as partially analyzed exactly when the first would:
//! reading it with the words the first reads it with (the rules', or the wider ones of a file the
//! widening reads again, see [`Widening`]). An expanded reading keeps what its first reading said (see
//! `read::parse_expanding`), in both runs.
//!
//! Layer invariant: reads `aliases` and `load`; used by the driver for runs without shortcuts only.

use super::aliases::Widening;
use super::load::parse_bytes;
use crate::facts::FileProblem;
use crate::frontend::BodyWords;
use crate::workspace::{FileTree, SourceFile};

/// How a run with shortcuts reads a file, as far as its unreadable items go.
pub(super) struct ShortcutReading<'w> {
    words: &'w BodyWords,
    widening: Option<Widening>,
}

impl<'w> ShortcutReading<'w> {
    /// A run with shortcuts that reads with `words`, widened by `widening` where it applies.
    pub fn new(words: &'w BodyWords, widening: Option<Widening>) -> Self {
        ShortcutReading { words, widening }
    }

    /// The problem that run finds in `source` (`None`: it reads every item it parses).
    pub fn problem(&self, source: &SourceFile, tree: &dyn FileTree) -> Option<FileProblem> {
        let bytes = tree.read(&source.abs).ok()?;
        let first = parse_bytes(&bytes, self.words);
        match &self.widening {
            Some(widening) if widening.wanted(first.skipped_bodies, source, tree) => {
                parse_bytes(&bytes, widening.wider()).problem
            }
            _ => first.problem,
        }
    }
}
