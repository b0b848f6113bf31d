//! The benchmark's floor for anything that must look at tokens: walk the same files as `ssot-check`
//! (the same walker, in parallel), read each, and tokenize it with proc-macro2. Prints the token count.
//!
//! `cargo run --release --example tokenize_floor -- PATH...`

use std::str::FromStr;

use rayon::prelude::*;

/// The same allocator as `ssot-check`, so the floor is not slower for a reason the tool does not share.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let mut files = Vec::new();
    for path in &paths {
        for entry in ignore::WalkBuilder::new(path).require_git(false).build().flatten() {
            if entry.file_type().is_some_and(|t| t.is_file()) && entry.path().extension().is_some_and(|e| e == "rs") {
                files.push(entry.into_path());
            }
        }
    }
    let tokens: usize = files
        .par_iter()
        .map(|file| {
            let Ok(text) = std::fs::read_to_string(file) else {
                return 0;
            };
            let count = proc_macro2::TokenStream::from_str(&text).map(count_tokens).unwrap_or(0);
            proc_macro2::extra::invalidate_current_thread_spans();
            count
        })
        .sum();
    println!("{} files, {tokens} tokens", files.len());
}

/// Counts tokens by moving them out of the stream: no token is copied (iterating a shared stream would
/// copy it first), so the floor is the lexing itself.
fn count_tokens(stream: proc_macro2::TokenStream) -> usize {
    let mut stack = vec![stream.into_iter()];
    let mut count = 0;
    while let Some(mut iter) = stack.pop() {
        if let Some(token) = iter.next() {
            count += 1;
            stack.push(iter);
            if let proc_macro2::TokenTree::Group(group) = token {
                let inner = group.stream();
                drop(group);
                stack.push(inner.into_iter());
            }
        }
    }
    count
}
