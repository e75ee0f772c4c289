//! Redacts every file in a folder line by line and prints, per file, the
//! line count and the hits per kind with a few example values, so false hits
//! can be spotted by eye.
//!
//! Usage: `cargo run --release --example scan_corpus -- [DIR] [EXAMPLES]`
//! (DIR defaults to `../shared/corpus/loghub`, EXAMPLES to 5 values a kind).

use std::collections::BTreeMap;
use std::path::PathBuf;

use hush::detect::{Engine, EngineOptions};

const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/loghub");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| DEFAULT_DIR.to_owned()));
    let examples: usize = match args.next() {
        Some(text) => text.parse()?,
        None => 5,
    };

    let engine = Engine::builtin(&EngineOptions::default())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|error| format!("failed to read folder {}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();

    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut hits = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path)?;
        let text = String::from_utf8_lossy(&bytes);

        let mut counts: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
        let mut lines = 0;
        for line in text.lines() {
            lines += 1;
            engine.find(line, &mut hits);
            for hit in &hits {
                let entry = counts
                    .entry(engine.kind_name(hit.kind).to_owned())
                    .or_default();
                entry.0 += 1;
                let value = &line[hit.start..hit.end];
                if entry.1.len() < examples && !entry.1.iter().any(|seen| seen == value) {
                    entry.1.push(value.to_owned());
                }
            }
        }

        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!("{name}: {lines} lines");
        for (kind, (count, values)) in &counts {
            println!("  {kind:<15} {count:>6}  e.g. {}", values.join(" | "));
            *totals.entry(kind.clone()).or_default() += count;
        }
    }

    println!("total:");
    for (kind, count) in &totals {
        println!("  {kind:<15} {count:>6}");
    }
    Ok(())
}
