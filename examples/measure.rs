//! Measures detection on a labeled JSON Lines file: recall per labeled type
//! and how many decoys survive untouched.
//!
//! Each line is an object with `line`, `pii: [{start, end, type}]` and
//! `decoys: [{start, end, kind}]`, offsets in characters. A labeled value
//! counts as found when one hit covers it exactly ("exact") or when hits
//! cover all of it ("covered"); "typed" also requires the hit's kind to equal
//! the label. A decoy survives when no hit overlaps it.
//!
//! Usage: `cargo run --release --example measure -- [FILE]`
//! (FILE defaults to `../shared/corpus/pii_dev_A.jsonl`).

use std::collections::BTreeMap;

use hush::detect::{Engine, EngineOptions, Hit};
use serde::Deserialize;

const DEFAULT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/pii_dev_A.jsonl"
);

#[derive(Deserialize)]
struct Record {
    line: String,
    pii: Vec<Labeled>,
    decoys: Vec<Decoy>,
}

#[derive(Deserialize)]
struct Labeled {
    start: usize,
    end: usize,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Decoy {
    start: usize,
    end: usize,
    kind: String,
}

#[derive(Default)]
struct Tally {
    total: u64,
    exact: u64,
    typed: u64,
    covered: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_FILE.to_owned());
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("failed to read {path}: {error}"))?;
    let engine = Engine::builtin(&EngineOptions::default())?;

    let mut labeled: BTreeMap<String, Tally> = BTreeMap::new();
    let mut decoys: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut extra_hits: BTreeMap<String, u64> = BTreeMap::new();
    let mut hits = Vec::new();

    for (number, json) in text.lines().enumerate() {
        let record: Record = serde_json::from_str(json)
            .map_err(|error| format!("{path}:{}: {error}", number + 1))?;
        let line = &record.line;
        engine.find(line, &mut hits);

        // Labels use character offsets; hits use byte offsets.
        let byte_offset = |chars: usize| {
            line.char_indices()
                .nth(chars)
                .map_or(line.len(), |(index, _)| index)
        };

        for label in &record.pii {
            let (start, end) = (byte_offset(label.start), byte_offset(label.end));
            let tally = labeled.entry(label.kind.clone()).or_default();
            tally.total += 1;
            let exact = hits.iter().find(|hit| hit.start == start && hit.end == end);
            if let Some(hit) = exact {
                tally.exact += 1;
                if engine.kind_name(hit.kind) == label.kind {
                    tally.typed += 1;
                }
            }
            if covers(&hits, start, end) {
                tally.covered += 1;
            }
        }

        for decoy in &record.decoys {
            let (start, end) = (byte_offset(decoy.start), byte_offset(decoy.end));
            let entry = decoys.entry(decoy.kind.clone()).or_default();
            entry.0 += 1;
            if !hits.iter().any(|hit| hit.start < end && start < hit.end) {
                entry.1 += 1;
            }
        }

        for hit in &hits {
            let matches_label = record.pii.iter().any(|label| {
                let (start, end) = (byte_offset(label.start), byte_offset(label.end));
                hit.start < end && start < hit.end
            });
            if !matches_label {
                *extra_hits
                    .entry(engine.kind_name(hit.kind).to_owned())
                    .or_default() += 1;
            }
        }
    }

    println!(
        "{:<15} {:>6} {:>8} {:>8} {:>8}",
        "type", "count", "exact", "typed", "covered"
    );
    for (kind, tally) in &labeled {
        let percent = |part: u64| 100.0 * part as f64 / tally.total as f64;
        println!(
            "{kind:<15} {:>6} {:>7.1}% {:>7.1}% {:>7.1}%",
            tally.total,
            percent(tally.exact),
            percent(tally.typed),
            percent(tally.covered)
        );
    }
    println!();
    println!("{:<16} {:>6} {:>9}", "decoy", "count", "survived");
    for (kind, (total, kept)) in &decoys {
        println!(
            "{kind:<16} {total:>6} {:>8.1}%",
            100.0 * *kept as f64 / *total as f64
        );
    }
    println!();
    println!("hits that overlap no label, per kind:");
    for (kind, count) in &extra_hits {
        println!("  {kind:<15} {count:>6}");
    }
    Ok(())
}

/// Reports whether the hits together cover every byte of `start..end`.
fn covers(hits: &[Hit], start: usize, end: usize) -> bool {
    let mut position = start;
    for hit in hits {
        if hit.start <= position && hit.end > position {
            position = hit.end;
        }
    }
    position >= end
}
