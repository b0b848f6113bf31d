//! Lists the items of a crate as rustc compiled it, from `cargo +nightly rustc -- -Zunpretty=expanded`
//! output (every module inline, every macro expanded, every `cfg` decided): one `kind path` per line,
//! sorted. The fidelity benchmark's ground truth (bench/fidelity/extract) is made with it.
//!
//! Usage: `expanded_items CRATE_NAME < expanded.rs`

use std::io::Read;

use syn::ext::IdentExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(krate) = args.next() else {
        eprintln!("usage: expanded_items CRATE_NAME < expanded.rs");
        std::process::exit(2);
    };
    let mut text = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("expanded_items: cannot read standard input: {error}");
        std::process::exit(2);
    }
    let file = match syn::parse_file(&text) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("expanded_items: the expanded crate does not parse: {error}");
            std::process::exit(2);
        }
    };
    let mut out = Vec::new();
    items(&file.items, &krate, &mut out);
    out.sort();
    out.dedup();
    for line in out {
        println!("{line}");
    }
}

/// Module-level items of `items` (in module `module`), inline modules followed.
fn items(list: &[syn::Item], module: &str, out: &mut Vec<String>) {
    for item in list {
        let (kind, ident) = match item {
            syn::Item::Struct(i) => ("struct", &i.ident),
            syn::Item::Enum(i) => ("enum", &i.ident),
            syn::Item::Union(i) => ("union", &i.ident),
            syn::Item::Trait(i) => ("trait", &i.ident),
            syn::Item::Fn(i) => ("fn", &i.sig.ident),
            syn::Item::Const(i) => ("const", &i.ident),
            syn::Item::Static(i) => ("static", &i.ident),
            syn::Item::Type(i) => ("type-alias", &i.ident),
            syn::Item::Mod(i) => {
                let path = format!("{module}::{}", i.ident.unraw());
                out.push(format!("mod {path}"));
                if let Some((_, content)) = &i.content {
                    items(content, &path, out);
                }
                continue;
            }
            _ => continue,
        };
        if ident == "_" {
            continue;
        }
        out.push(format!("{kind} {module}::{}", ident.unraw()));
    }
}
