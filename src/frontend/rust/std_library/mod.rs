//! What std's modules declare: every module, item, re-export and enum variant, extracted from the
//! toolchain's own documentation by `extract` (beside this file) and committed as `names.txt`. It is
//! what a glob of a std module brings into scope (`use std::sync::*;` then `mpsc::channel()`), which
//! the workspace's sources alone cannot say.
//!
//! Layer invariant: data only; reads nothing of this crate.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// `module<TAB>name name ...` lines (see `extract`).
const NAMES: &str = include_str!("names.txt");

static DECLARED: LazyLock<HashMap<&'static str, HashSet<&'static str>>> = LazyLock::new(|| {
    NAMES
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .map(|(module, names)| (module, names.split(' ').collect()))
        .collect()
});

/// Whether the std module (or enum) `module`, written `std::...`, declares `name`.
pub(crate) fn declares(module: &str, name: &str) -> bool {
    DECLARED.get(module).is_some_and(|names| names.contains(name))
}

#[cfg(test)]
mod tests {
    use super::declares;

    #[test]
    fn knows_modules_items_reexports_and_variants() {
        assert!(declares("std::sync", "mpsc"));
        assert!(declares("std::sync", "Mutex"));
        assert!(declares("std::sync::mpsc", "channel"));
        assert!(declares("std::cmp::Ordering", "Less"));
        assert!(declares("std::prelude::v1", "Option"));
        assert!(!declares("std::sync", "HashMap"));
        assert!(!declares("std::nowhere", "Mutex"));
    }
}
