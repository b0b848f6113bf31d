//! The checks the tool makes itself rather than a configured rule: files it could not read or parse,
//! manifests it could not use, and suppression comments that are malformed, unknown or unused.
//!
//! Layer invariant: reads [`crate::facts`] only; the scan, the run and the reports name these checks
//! through this one enum.

use crate::facts::ProblemKind;

/// A built-in check: its name is the rule id and kind of its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltIn {
    /// A file that could not be read, decoded or parsed at all.
    ParseError,
    /// A file of which some items could not be parsed.
    PartiallyAnalyzed,
    /// The analyzer failed on a file or a rule (a bug).
    InternalError,
    /// A `Cargo.toml` that could not be used.
    ManifestError,
    /// A path that could not be read.
    IoError,
    /// A suppression comment without a reason or a rule, or malformed.
    InvalidSuppression,
    /// A suppression naming a rule that is not loaded.
    UnknownSuppression,
    /// A suppression that suppresses nothing.
    UnusedSuppression,
}

const FIX_THE_FILE: &str = "fix the file so it can be analyzed: definitions in it are not counted until then";
const HOW_TO_SUPPRESS: &str =
    "write suppressions as `// ssot-check: allow(rule-id) reason: <why>` on or above the item";

impl BuiltIn {
    /// Every built-in check, in the order the summary names them.
    pub const ALL: [BuiltIn; 8] = [
        Self::ParseError,
        Self::PartiallyAnalyzed,
        Self::InternalError,
        Self::ManifestError,
        Self::IoError,
        Self::InvalidSuppression,
        Self::UnknownSuppression,
        Self::UnusedSuppression,
    ];

    /// The rule id and kind of its findings.
    pub fn name(self) -> &'static str {
        match self {
            Self::ParseError => "parse-error",
            Self::PartiallyAnalyzed => "partially-analyzed",
            Self::InternalError => "internal-error",
            Self::ManifestError => "manifest-error",
            Self::IoError => "io-error",
            Self::InvalidSuppression => "invalid-suppression",
            Self::UnknownSuppression => "unknown-suppression",
            Self::UnusedSuppression => "unused-suppression",
        }
    }

    /// The check of this name.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Singular and plural, for the summary line.
    pub fn noun(self) -> (&'static str, &'static str) {
        match self {
            Self::ParseError => ("unparsable file", "unparsable files"),
            Self::PartiallyAnalyzed => ("partially analyzed file", "partially analyzed files"),
            Self::InternalError => ("internal error", "internal errors"),
            Self::ManifestError => ("invalid manifest", "invalid manifests"),
            Self::IoError => ("unreadable path", "unreadable paths"),
            Self::InvalidSuppression => ("invalid suppression", "invalid suppressions"),
            Self::UnknownSuppression => ("suppression of an unknown rule", "suppressions of unknown rules"),
            Self::UnusedSuppression => ("unused suppression", "unused suppressions"),
        }
    }

    /// What to do about a finding.
    pub fn help(self) -> &'static str {
        match self {
            Self::ParseError | Self::ManifestError | Self::IoError => FIX_THE_FILE,
            Self::PartiallyAnalyzed => "items that could not be parsed are not counted; `--strict` makes this an error",
            Self::InternalError => "this is a bug in ssot-check; the rest of the report stands",
            Self::InvalidSuppression | Self::UnknownSuppression | Self::UnusedSuppression => HOW_TO_SUPPRESS,
        }
    }

    /// Whether `allow(...)` may name it: the suppression checks themselves cannot be suppressed.
    pub fn suppressible(self) -> bool {
        !matches!(
            self,
            Self::InvalidSuppression | Self::UnknownSuppression | Self::UnusedSuppression
        )
    }
}

impl From<ProblemKind> for BuiltIn {
    fn from(kind: ProblemKind) -> Self {
        match kind {
            ProblemKind::ParseError => Self::ParseError,
            ProblemKind::PartiallyAnalyzed => Self::PartiallyAnalyzed,
            ProblemKind::InternalError => Self::InternalError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_suppression_checks_cannot_be_suppressed() {
        for check in BuiltIn::ALL {
            assert_eq!(BuiltIn::named(check.name()), Some(check));
            assert!(!check.help().is_empty());
        }
        assert_eq!(BuiltIn::named("single-definition"), None);
        assert!(!BuiltIn::UnusedSuppression.suppressible());
        assert!(BuiltIn::ParseError.suppressible());
    }
}
