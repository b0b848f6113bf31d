//! Text: the layer under both readers. A byte lexer that tells tokens apart without allocating, line
//! tables, blanking that keeps offsets, and `cfg` predicates as canonical text.
//!
//! Layer invariant: imports nothing of the frontend, and neither `syn` nor `proc_macro2`.

pub(crate) mod blank;
pub(crate) mod cfg;
pub(crate) mod lexer;
