//! Redaction throughput over real logs, line by line, as the agent receives them.
//!
//! Run with `cargo bench --bench engine` (all cases) or, for one case,
//! `cargo bench --bench engine -- loghub/redact$`. Criterion reports
//! throughput in bytes of input: the corpus with one `\n` per line. Compare
//! numbers only within one run, because other work on the machine moves them
//! by tens of percent.
//!
//! Reads every `*.log` file in `../shared/corpus/loghub` (relative to the
//! crate root) and falls back to generated lines when that folder is
//! missing. The cases in group `loghub`:
//!
//! - `lines`: splits the corpus bytes on `\n` with memchr and validates each
//!   line as UTF-8, the least work any line redactor does;
//! - `regex_alternation`: one `regex::bytes::Regex` alternation of simple
//!   e-mail, IPv4 and card shapes run over every line, without validators,
//!   normalization or tokens;
//! - `detect_only`: `Engine::find` per line with the built-in pack, no
//!   tokens;
//! - `redact_first_pack`: `Redactor::redact` per line with the first,
//!   smaller detector pack kept in `benches/data/first-pack.yaml`, so the
//!   cost of the full pack shows as a ratio within one run;
//! - `redact`: `Redactor::redact` per line with the built-in pack;
//! - `redact_without_names`: the same with PERSON_NAME disabled, so the
//!   cost of the name rules (given-name list included) shows as a ratio;
//! - `redact_dict_100k`: the same with a generated 100,000-term word list.

use std::hint::black_box;
use std::io::Write;

mod corpus;

use corpus::load_corpus;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hush::detect::{DictionarySpec, Engine, EngineOptions};
use hush::redact::Redactor;
use hush::token::{Key, Tokenizer};

const DICTIONARY_TERMS: usize = 100_000;
const FIRST_PACK: &str = include_str!("data/first-pack.yaml");

/// Simple shapes of the three most common kinds, the kind of single pass
/// other redactors are compared with.
const ALTERNATION: &str = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b|\b(?:[0-9][ -]?){13,19}\b";

fn redactor(options: &EngineOptions) -> Redactor {
    let engine = Engine::builtin(options).expect("built-in pack builds");
    Redactor::new(engine, Tokenizer::new(Key::generate("bench")))
}

/// Writes a word list of name-like terms (one or two words of 4 to 10
/// letters) from a fixed-seed generator, so every run uses the same list.
fn write_dictionary(file: &mut impl Write) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let word = |next: &mut dyn FnMut() -> u64| {
        let len = 4 + (next() % 7) as usize;
        let mut word = String::with_capacity(len);
        for index in 0..len {
            let letter = b'a' + (next() % 26) as u8;
            word.push(if index == 0 {
                letter.to_ascii_uppercase()
            } else {
                letter
            } as char);
        }
        word
    };
    for index in 0..DICTIONARY_TERMS {
        let term = if index % 3 == 0 {
            format!("{} {}", word(&mut next), word(&mut next))
        } else {
            word(&mut next)
        };
        writeln!(file, "{term}").expect("writing the word list");
    }
}

fn benchmarks(c: &mut Criterion) {
    let lines = load_corpus();
    let mut corpus = Vec::new();
    for line in &lines {
        corpus.extend_from_slice(line.as_bytes());
        corpus.push(b'\n');
    }
    eprintln!("corpus: {} lines, {} bytes", lines.len(), corpus.len());
    let alternation = regex::bytes::Regex::new(ALTERNATION).expect("alternation builds");

    let plain = redactor(&EngineOptions::default());
    let first_pack = Redactor::new(
        Engine::from_pack_yaml(FIRST_PACK, &EngineOptions::default()).expect("first pack builds"),
        Tokenizer::new(Key::generate("bench")),
    );

    let without_names = redactor(&EngineOptions {
        disabled_kinds: vec!["PERSON_NAME".into()],
        ..EngineOptions::default()
    });

    let mut list = tempfile::NamedTempFile::new().expect("temporary word list");
    write_dictionary(&mut list);
    list.flush().expect("flushing the word list");
    let with_dictionary = redactor(&EngineOptions {
        dictionaries: vec![DictionarySpec {
            kind: "PERSON_NAME".into(),
            path: list.path().to_path_buf(),
        }],
        ..EngineOptions::default()
    });

    let mut group = c.benchmark_group("loghub");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.sample_size(20);

    group.bench_function("lines", |b| {
        b.iter(|| {
            let mut valid = 0;
            let mut start = 0;
            let haystack = black_box(corpus.as_slice());
            for end in memchr::memchr_iter(b'\n', haystack) {
                valid += usize::from(std::str::from_utf8(&haystack[start..end]).is_ok());
                start = end + 1;
            }
            valid
        })
    });
    group.bench_function("regex_alternation", |b| {
        b.iter(|| {
            let mut found = 0;
            for line in &lines {
                found += alternation.find_iter(line.as_bytes()).count();
            }
            found
        })
    });
    group.bench_function("detect_only", |b| {
        let mut hits = Vec::new();
        b.iter(|| {
            let mut found = 0;
            for line in &lines {
                plain.engine().find(black_box(line), &mut hits);
                found += hits.len();
            }
            found
        })
    });
    group.bench_function("redact_first_pack", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(first_pack.redact(black_box(line)));
            }
        })
    });
    group.bench_function("redact", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(plain.redact(black_box(line)));
            }
        })
    });
    group.bench_function("redact_without_names", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(without_names.redact(black_box(line)));
            }
        })
    });
    group.bench_function("redact_dict_100k", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(with_dictionary.redact(black_box(line)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
