//! Counts false hits on generated look-alikes of numeric ids: random 9 to 18
//! digit numbers, epoch seconds, epoch milliseconds and yyyymmdd-hhmm build
//! stamps, each written in a log line with no key. None of them is personal
//! data, so every hit is a false hit. A last family of random 3-3-3 digit
//! groups shows what the grouped SIN and BSN rules take by chance. Prints
//! hits per kind and the rate per 100,000 numbers.
//!
//! Usage: `cargo run --release --example look_alikes -- [COUNT] [SEED]`
//! (COUNT numbers per family, default 100000; SEED default 1).

use std::collections::BTreeMap;

use hush::detect::{Engine, EngineOptions};

/// SplitMix64, a small deterministic generator, so a run can be repeated
/// from its seed without a `rand` dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number in `low..high`.
    fn below(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

fn random_digits(rng: &mut SplitMix64) -> String {
    let len = rng.below(9, 19) as u32;
    let low = 10u64.pow(len - 1);
    rng.below(low, low * 10).to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = match args.next() {
        Some(text) => text.parse()?,
        None => 100_000,
    };
    let seed: u64 = match args.next() {
        Some(text) => text.parse()?,
        None => 1,
    };
    let engine = Engine::builtin(&EngineOptions::default())?;
    let mut rng = SplitMix64(seed);

    // Epoch values between 2001-09-09 (1e9 s) and 2033-05-18 (2e9 s).
    type Generate = fn(&mut SplitMix64) -> String;
    let families: [(&str, Generate); 5] = [
        ("random 9-18 digits", random_digits),
        ("epoch seconds", |rng| {
            rng.below(1_000_000_000, 2_000_000_000).to_string()
        }),
        ("epoch millis", |rng| {
            rng.below(1_000_000_000_000, 2_000_000_000_000).to_string()
        }),
        // Build stamps yyyymmdd-hhmm from 2000 to 2029.
        ("yyyymmdd-hhmm stamps", |rng| {
            format!(
                "20{:02}{:02}{:02}-{:02}{:02}",
                rng.below(0, 30),
                rng.below(1, 13),
                rng.below(1, 29),
                rng.below(0, 24),
                rng.below(0, 60)
            )
        }),
        // Not bare: three groups of three digits, the printed form of a SIN
        // or BSN, to show what the grouped rules take from random numbers.
        ("random 3-3-3 groups", |rng| {
            format!(
                "{:03} {:03} {:03}",
                rng.below(0, 1000),
                rng.below(0, 1000),
                rng.below(0, 1000)
            )
        }),
    ];

    let mut hits = Vec::new();
    for (family, generate) in families {
        let mut per_kind: BTreeMap<String, (u64, String)> = BTreeMap::new();
        for _ in 0..count {
            let number = generate(&mut rng);
            let line = format!("2024-05-01T10:00:00Z INFO processed {number} items");
            engine.find(&line, &mut hits);
            for hit in &hits {
                let entry = per_kind
                    .entry(engine.kind_name(hit.kind).to_owned())
                    .or_default();
                entry.0 += 1;
                entry.1 = line[hit.start..hit.end].to_owned();
            }
        }
        println!("{family}: {count} numbers");
        if per_kind.is_empty() {
            println!("  no hits");
        }
        for (kind, (hits, example)) in per_kind {
            let per_100k = hits as f64 * 100_000.0 / count as f64;
            println!("  {kind:<18} {hits:>6} hits  {per_100k:>8.1} per 100k  e.g. {example}");
        }
    }
    Ok(())
}
