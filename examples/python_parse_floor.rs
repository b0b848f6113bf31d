//! The floor under the Python frontend: reads and parses every `.py` file under the given folders with
//! `ruff_python_parser`, in parallel, and does nothing else. `bench/python/run` times it beside the
//! frontend, so what the frontend adds to parsing is a figure.

use rayon::prelude::*;

fn main() {
    let mut files = Vec::new();
    for root in std::env::args().skip(1) {
        for entry in ignore::WalkBuilder::new(root).standard_filters(false).build().flatten() {
            if entry.path().extension().is_some_and(|e| e == "py") {
                files.push(entry.into_path());
            }
        }
    }
    let parsed: usize = files
        .par_iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            usize::from(ruff_python_parser::parse_module(&text).is_ok())
        })
        .sum();
    println!("{parsed} of {} files parsed", files.len());
}
