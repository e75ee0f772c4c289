//! Measures detection quality on labeled JSON Lines corpora. For each file
//! it prints, per kind, the labeled count, the values found, recall, hits,
//! false positives and precision, with a few examples of misses and false
//! positives. It also prints the share of each decoy kind that survived and
//! the lines whose text changed outside the replaced values.
//!
//! The record format and the scoring rule (exact span and kind through
//! `Redactor::redact`, false positive = a hit overlapping no label) are
//! described in `tests/support/scoring.rs`, which `tests/detection_quality.rs`
//! uses too.
//!
//! Usage: `cargo run --release --example measure -- [FILE...]`. Without
//! files it reads `tests/corpus/labeled.jsonl`,
//! `tests/corpus/labeled_extended.jsonl` and, when it exists, the
//! development corpus `pii_dev_A.jsonl` in the shared corpus folder next to
//! the repository.

// Only the test aligns single lines.
#[allow(dead_code)]
#[path = "../tests/support/scoring.rs"]
mod scoring;

use std::path::{Path, PathBuf};

use scoring::{Report, Scorer};

const OWN_FILES: &[&str] = &[
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/labeled.jsonl"),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/labeled_extended.jsonl"
    ),
];
const DEVELOPMENT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/pii_dev_A.jsonl"
);
/// Examples printed per kind.
const SHOWN_EXAMPLES: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        files = OWN_FILES.iter().map(PathBuf::from).collect();
        let development = PathBuf::from(DEVELOPMENT_FILE);
        if development.exists() {
            files.push(development);
        } else {
            println!("note: {DEVELOPMENT_FILE} not found, skipped\n");
        }
    }

    let scorer = Scorer::builtin()?;
    for file in &files {
        let records = scoring::load(file)?;
        let mut report = Report::default();
        scorer.score(&records, &mut report);
        print_report(&scorer, file, &report);
    }
    Ok(())
}

fn print_report(scorer: &Scorer, file: &Path, report: &Report) {
    println!("== {} ({} lines)", file.display(), report.lines);
    println!(
        "{:<18} {:>7} {:>7} {:>8} {:>7} {:>6} {:>9}",
        "kind", "labeled", "found", "recall", "hits", "fp", "precision"
    );
    for (kind, score) in &report.kinds {
        let note = match scorer.has_kind(kind) {
            true => "",
            false => "  (no detector)",
        };
        println!(
            "{kind:<18} {:>7} {:>7} {:>7.2}% {:>7} {:>6} {:>8.2}%{note}",
            score.labeled,
            score.found,
            100.0 * score.recall(),
            score.hits,
            score.false_positives,
            100.0 * score.precision(),
        );
    }

    println!();
    println!("{:<26} {:>7} {:>9}", "decoy", "count", "survived");
    for (kind, score) in &report.decoys {
        println!(
            "{kind:<26} {:>7} {:>8.2}%",
            score.total,
            100.0 * score.survival()
        );
    }

    println!();
    println!(
        "lines changed outside replaced values: {} of {}",
        report.changed_lines, report.lines
    );
    print_examples(&report.changed_examples);
    println!(
        "non-JSON lines where Engine::find and the redacted output disagree: {}",
        report.find_disagreements
    );
    print_examples(&report.find_disagreement_examples);

    for (kind, score) in &report.kinds {
        if score.found < score.labeled && scorer.has_kind(kind) {
            println!("\nmissed {kind} ({}):", score.labeled - score.found);
            print_examples(&score.missed_examples);
        }
        if score.false_positives > 0 {
            println!("\nfalse positives {kind} ({}):", score.false_positives);
            print_examples(&score.false_positive_examples);
        }
    }
    for (kind, score) in &report.decoys {
        if score.survived < score.total {
            println!(
                "\ndecoys replaced {kind} ({}):",
                score.total - score.survived
            );
            print_examples(&score.replaced_examples);
        }
    }
    println!();
}

fn print_examples(examples: &[String]) {
    for example in examples.iter().take(SHOWN_EXAMPLES) {
        println!("    {example}");
    }
}
