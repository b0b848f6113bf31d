//! A mutation fuzzer for the Rust frontend that runs on the stable toolchain: it takes seed files,
//! mutates them (bit flips, byte insertions and deletions, splices of two seeds, deep nesting, invalid
//! UTF-8), and analyzes each result, counting executions and any panic (a crash).
//!
//! `cargo run --release --example fuzz_frontend -- SECONDS SEED_PATH...`

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// A small xorshift generator: reproducible runs from a fixed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(
                at,
                b"{}()[]<>;:,.#!'\"\\/*-=&|rb"
                    .get(rng.below(25))
                    .copied()
                    .unwrap_or(b'x'),
            ),
            2 if !data.is_empty() => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(512)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied()).for_each(drop);
            }
            4 => {
                let depth = rng.below(400);
                let nest: Vec<u8> = std::iter::repeat_n(b'(', depth)
                    .chain(std::iter::repeat_n(b')', depth))
                    .collect();
                data.splice(at..at, nest).for_each(drop);
            }
            5 => data.splice(at..at, [0xff, 0xfe, 0xc3]).for_each(drop),
            _ => data
                .splice(
                    at..at,
                    b"\n// ssot-check: allow(x) reason: y\nuse a::{b::*, c as d};\n"
                        .iter()
                        .copied(),
                )
                .for_each(drop),
        }
    }
    data
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut seeds = Vec::new();
    for root in args {
        for entry in ignore::WalkBuilder::new(root).build().flatten() {
            if entry.path().extension().is_some_and(|e| e == "rs")
                && let Ok(bytes) = std::fs::read(entry.path())
                && bytes.len() < 64 * 1024
            {
                seeds.push(bytes);
            }
        }
    }
    if seeds.is_empty() {
        seeds.push(b"fn main() {}".to_vec());
    }
    std::panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(0x005e_ed0f_5507);
    let (mut executions, mut crashes) = (0u64, 0u64);
    // Every body parsed; bodies skipped unless they mention a word; and the outline of a file that
    // mentions no word: each path of the skimmer gets inputs.
    let word_sets = [
        ssot_check::frontend::BodyWords::default(),
        ssot_check::frontend::BodyWords::new(Some(vec!["Msg".into(), "legacy".into(), "static".into()])),
        ssot_check::frontend::BodyWords::new(Some(vec!["zzz_never_there".into()])),
    ];
    while Instant::now() < deadline {
        let input = mutate(&mut rng, &seeds);
        let words = &word_sets[(executions % 3) as usize];
        // The frontend catches its own panics and reports them as an internal error: either is a crash.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            ssot_check::frontend::rust::analyze_source(&input, words)
        }));
        let internal = outcome.as_ref().map_or(true, |facts| {
            facts
                .problem
                .as_ref()
                .is_some_and(|p| p.kind == ssot_check::facts::ProblemKind::InternalError)
        });
        if internal {
            crashes += 1;
            let name = format!("target/fuzz-crash-{crashes}.rs");
            let _ = std::fs::write(&name, &input);
            eprintln!("crash saved to {name}");
        }
        executions += 1;
    }
    println!(
        "{executions} executions in {seconds} s from {} seeds, {crashes} crashes",
        seeds.len()
    );
}
