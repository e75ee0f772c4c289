//! Redacts every line of the loghub samples (real logs from ten systems, in
//! `../shared/corpus/loghub` next to the repository) and checks that no
//! IPv4 address survives: no dotted quad anywhere, and no dashed quad in a
//! host name such as `dsl-082-083-227-067.example.net`. It also checks that
//! no e-mail address survives, and that none of the many long digit runs
//! in these logs (block ids, timestamps, counters) is taken for a card,
//! IBAN or national id.
//!
//! The one exception is listed in [`NOT_ADDRESSES`] with its reason. Each
//! exception must still occur, so a stale entry fails the test too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hush::detect::{Engine, EngineOptions};
use hush::redact::Redactor;
use hush::token::{Key, Tokenizer};
use regex::Regex;

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/loghub");

/// Dotted quads in loghub that are not addresses: (file, text right before
/// the quad, the quad).
const NOT_ADDRESSES: &[(&str, &str, &str)] = &[
    // Google Keystone's own version, written after a `version=` key.
    ("Mac_2k.log", "version=", "1.2.8.57"),
];

/// An address left in redacted output.
struct Survivor {
    file: String,
    line: String,
    quad: String,
}

fn redactor() -> Redactor {
    let key = Key::from_text(&"5a".repeat(32), "lh").unwrap();
    let engine = Engine::builtin(&EngineOptions::default()).unwrap();
    Redactor::new(engine, Tokenizer::new(key))
}

fn log_files() -> Vec<PathBuf> {
    let dir = Path::new(CORPUS_DIR);
    let entries = std::fs::read_dir(dir).unwrap_or_else(|error| {
        panic!(
            "failed to read the loghub samples in {}: {error}",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.log files in {}", dir.display());
    files
}

/// Reports whether four groups of one to three digits are each at most 255.
fn octets_fit(groups: &str, separator: char) -> bool {
    let octets: Vec<&str> = groups.split(separator).collect();
    octets.len() == 4
        && octets
            .iter()
            .all(|octet| octet.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// Returns the dotted quads in `line` that are addresses by shape: octets up
/// to 255 (leading zeros allowed), not part of a longer dotted number.
/// Each comes with the text before it.
fn dotted_quads<'a>(pattern: &Regex, line: &'a str) -> Vec<(&'a str, &'a str)> {
    let bytes = line.as_bytes();
    let digit_at = |index: usize| bytes.get(index).is_some_and(u8::is_ascii_digit);
    pattern
        .find_iter(line)
        .filter(|found| {
            let (start, end) = (found.start(), found.end());
            let longer_before = start >= 1
                && (digit_at(start - 1)
                    || bytes[start - 1] == b'.' && start >= 2 && digit_at(start - 2));
            let longer_after = digit_at(end) || bytes.get(end) == Some(&b'.') && digit_at(end + 1);
            !longer_before && !longer_after && octets_fit(found.as_str(), '.')
        })
        .map(|found| (&line[..found.start()], found.as_str()))
        .collect()
}

/// Returns the dashed quads in `line` that follow a host name label, as in
/// `ip-10-0-1-23` or `dsl-082-083-227-067.example.net`.
fn dashed_quads<'a>(pattern: &Regex, line: &'a str) -> Vec<(&'a str, &'a str)> {
    let bytes = line.as_bytes();
    pattern
        .captures_iter(line)
        .filter_map(|captures| captures.get(1))
        .filter(|found| {
            let end = found.end();
            let continues = matches!(bytes.get(end), Some(b'-' | b'.'))
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            !continues && octets_fit(found.as_str(), '-')
        })
        .map(|found| (&line[..found.start()], found.as_str()))
        .collect()
}

#[test]
fn loghub_addresses_all_tokenized() {
    let redactor = redactor();
    let dotted = Regex::new(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}").unwrap();
    let dashed = Regex::new(r"[A-Za-z]-([0-9]{1,3}(?:-[0-9]{1,3}){3})\b").unwrap();

    let mut survivors = Vec::new();
    let mut exceptions_seen = vec![0; NOT_ADDRESSES.len()];
    let mut addresses_before: BTreeMap<String, usize> = BTreeMap::new();
    for path in log_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);

        for line in text.lines() {
            let count = dotted_quads(&dotted, line).len() + dashed_quads(&dashed, line).len();
            *addresses_before.entry(file.clone()).or_default() += count;

            let redacted = redactor.redact(line);
            let left = dotted_quads(&dotted, &redacted)
                .into_iter()
                .chain(dashed_quads(&dashed, &redacted));
            for (before, quad) in left {
                let exception = NOT_ADDRESSES.iter().position(|&(name, key, value)| {
                    name == file && before.ends_with(key) && quad == value
                });
                match exception {
                    Some(index) => exceptions_seen[index] += 1,
                    None => survivors.push(Survivor {
                        file: file.clone(),
                        line: redacted.to_string(),
                        quad: quad.to_owned(),
                    }),
                }
            }
        }
    }

    let total: usize = addresses_before.values().sum();
    assert!(
        total > 0,
        "no addresses found in loghub: {addresses_before:?}"
    );
    let examples: Vec<String> = survivors
        .iter()
        .take(10)
        .map(|survivor| format!("{}: {} in {}", survivor.file, survivor.quad, survivor.line))
        .collect();
    assert!(
        survivors.is_empty(),
        "{} of {total} addresses survived redaction, for example:\n  {}",
        survivors.len(),
        examples.join("\n  ")
    );
    for (index, &(file, key, quad)) in NOT_ADDRESSES.iter().enumerate() {
        assert!(
            exceptions_seen[index] > 0,
            "the exception {key}{quad} in {file} no longer occurs; remove it"
        );
    }
}

/// Kinds that these logs do not contain: every hit would be a false one.
const ABSENT_KINDS: &[&str] = &[
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "US_ITIN",
    "IMEI",
    "ABA_ROUTING",
    "UK_NHS",
    "NL_BSN",
    "ES_DNI",
    "ES_NIE",
    "IT_CODICE_FISCALE",
    "FR_NIR",
    "DE_TAX_ID",
    "BR_CPF",
    "CA_SIN",
    "IN_AADHAAR",
    "CN_RESIDENT_ID",
    "SE_PERSONNUMMER",
];

#[test]
fn loghub_no_false_ids() {
    let engine = Engine::builtin(&EngineOptions::default()).unwrap();
    let mut hits = Vec::new();
    let mut false_hits = Vec::new();
    let mut lines = 0;
    for path in log_files() {
        let bytes = std::fs::read(&path).unwrap();
        for line in String::from_utf8_lossy(&bytes).lines() {
            lines += 1;
            engine.find(line, &mut hits);
            for hit in &hits {
                let kind = engine.kind_name(hit.kind);
                if ABSENT_KINDS.contains(&kind) {
                    false_hits.push(format!("{kind} {:?} in {line}", &line[hit.start..hit.end]));
                }
            }
        }
    }

    assert!(lines > 10_000, "only {lines} lines read");
    assert!(
        false_hits.is_empty(),
        "{} card, IBAN or national-id hits, for example:\n  {}",
        false_hits.len(),
        false_hits[..false_hits.len().min(10)].join("\n  ")
    );
}

#[test]
fn loghub_emails_all_tokenized() {
    let redactor = redactor();
    let email =
        Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap();
    let mut before = 0;
    let mut survivors = Vec::new();
    for path in log_files() {
        let bytes = std::fs::read(&path).unwrap();
        for line in String::from_utf8_lossy(&bytes).lines() {
            before += email.find_iter(line).count();
            let redacted = redactor.redact(line);
            survivors.extend(
                email
                    .find_iter(&redacted)
                    .map(|found| found.as_str().to_owned()),
            );
        }
    }

    assert!(before > 0, "no e-mail addresses found in loghub");
    assert!(
        survivors.is_empty(),
        "{} of {before} e-mail addresses survived: {:?}",
        survivors.len(),
        &survivors[..survivors.len().min(10)]
    );
}
