//! The words that make a function body worth parsing: what the loaded rules can find inside one.

use aho_corasick::AhoCorasick;

/// The words function bodies are searched for. `None` inside means every body matters.
#[derive(Clone, Debug, Default)]
pub struct BodyWords {
    searcher: Option<AhoCorasick>,
    words: Vec<String>,
    /// The words that name what code refers to (paths, not keywords or definitions): a re-export under
    /// another name makes that name worth a body too.
    followed: Vec<String>,
    /// Some rule selects items by their attributes, so a word inside `#[..]` counts.
    attributes: bool,
    /// The words of the rules that read test code, when not all rules do.
    tests: Option<Box<BodyWords>>,
    /// For a reading without shortcuts (every body matters), the words a run with them reads with:
    /// what it says of the items syn cannot read is what that run says (see the Rust frontend's `unreadable`).
    shortcuts: Option<Box<BodyWords>>,
}

impl BodyWords {
    /// Bodies matter when they contain one of `words`; `None` makes every body matter.
    pub fn new(words: Option<Vec<String>>) -> Self {
        let Some(mut words) = words else {
            return BodyWords::default();
        };
        words.retain(|w| !w.is_empty());
        words.sort();
        words.dedup();
        BodyWords {
            // Leftmost-first lets the searcher use its fast prefilters; words are identifier pieces, so a
            // match never straddles a brace and no body loses a word to an overlapping one.
            searcher: AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(&words)
                .ok(),
            words,
            followed: Vec::new(),
            attributes: false,
            tests: None,
            shortcuts: None,
        }
    }

    /// Every body matters, as with `new(None)`; `shortcuts` are the words a run with shortcuts reads with.
    pub fn without_shortcuts(shortcuts: BodyWords) -> Self {
        BodyWords {
            shortcuts: Some(Box::new(shortcuts)),
            ..BodyWords::default()
        }
    }

    /// The words a run with shortcuts reads with, when this reading takes none. Such a run never parses
    /// an item no rule can see, so it cannot tell whether syn reads it: a reading without shortcuts
    /// reports the unreadable items that run would report, or its findings would differ.
    pub fn shortcut_words(&self) -> Option<&BodyWords> {
        self.shortcuts.as_deref()
    }

    /// The same words, of which only `tests` matter in test code.
    pub fn with_test_words(self, tests: BodyWords) -> Self {
        BodyWords {
            tests: Some(Box::new(tests)),
            ..self
        }
    }

    /// The words that matter in test code.
    pub fn in_tests(&self) -> &BodyWords {
        self.tests.as_deref().unwrap_or(self)
    }

    /// The same words, of which `followed` name what code refers to (see [`BodyWords::followed`]).
    pub fn following(self, mut followed: Vec<String>) -> Self {
        followed.retain(|w| !w.is_empty());
        followed.sort();
        followed.dedup();
        BodyWords { followed, ..self }
    }

    /// The same words, counted inside attributes too when `attributes` (a rule selects by attribute).
    pub fn reading_attributes(self, attributes: bool) -> Self {
        BodyWords { attributes, ..self }
    }

    /// Whether a word inside an attribute can matter.
    pub fn reads_attributes(&self) -> bool {
        self.attributes || self.searcher.is_none()
    }

    /// The words whose re-exports under other names are followed.
    pub fn followed(&self) -> &[String] {
        &self.followed
    }

    /// Whether any body can be skipped at all.
    pub fn skips_bodies(&self) -> bool {
        self.searcher.is_some()
    }

    /// Identifies the words, for cache keys: parses made with other words are other entries.
    pub fn fingerprint(&self) -> u64 {
        match (&self.searcher, &self.shortcuts) {
            (Some(_), _) => xxhash_rust::xxh3::xxh3_64(self.words.join("\0").as_bytes()) | 1,
            // Even, and apart from 0: a reading without shortcuts for these rules.
            (None, Some(shortcuts)) => (shortcuts.fingerprint().rotate_left(17) | 2) & !1,
            (None, None) => 0,
        }
    }

    /// The words, sorted.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether a word occurs in `text`.
    pub(crate) fn mentioned_in(&self, text: &str) -> bool {
        !self.positions(text.as_bytes()).is_empty()
    }

    /// Where the words start in `text`, ascending. A match right after `'` is a lifetime (`'static`).
    pub(crate) fn positions(&self, text: &[u8]) -> Vec<usize> {
        let Some(searcher) = &self.searcher else {
            return Vec::new();
        };
        searcher
            .find_iter(text)
            .map(|m| m.start())
            .filter(|&at| at == 0 || text[at - 1] != b'\'')
            .collect()
    }
}
