//! The fast reader: what other files need of an item (the names it declares, enum variants, `use`s and
//! `mod`s), read from the byte lexer's tokens without a syntax tree, and the skim that finds the bodies
//! no rule needs.
//!
//! Layer invariant: imports `text` and `raw` only; never `syn` or `proc_macro2`.

pub(crate) mod quick_items;
pub(crate) mod skim;
