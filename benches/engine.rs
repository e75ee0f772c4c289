//! Redaction throughput over real logs, line by line, as the agent sees them.
//!
//! Reads every `*.log` file in `../shared/corpus/loghub` (relative to the
//! crate root) and falls back to generated lines when that folder is
//! missing. Three benchmarks run in one go so their ratios can be compared:
//!
//! - `baseline`: iterating the lines and touching each one, no detection;
//! - `redact`: `Redactor::redact` per line with the built-in pack;
//! - `redact_dict_100k`: the same with a generated 100,000-term word list.
//!
//! Run with `cargo bench --bench engine`. Throughput is in bytes of input.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hush::detect::{DictionarySpec, Engine, EngineOptions};
use hush::redact::Redactor;
use hush::token::{Key, Tokenizer};

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/loghub");
const DICTIONARY_TERMS: usize = 100_000;

fn load_corpus() -> Vec<String> {
    let dir = Path::new(CORPUS_DIR);
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .collect(),
        Err(error) => {
            eprintln!(
                "corpus folder {} not readable ({error}); using generated lines",
                dir.display()
            );
            return generated_corpus();
        }
    };
    if files.is_empty() {
        eprintln!("no *.log files in {}; using generated lines", dir.display());
        return generated_corpus();
    }
    files.sort();

    let mut lines = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// Log-like lines with a few personal values, for machines without the
/// loghub corpus.
fn generated_corpus() -> Vec<String> {
    (0..20_000u32)
        .map(|i| match i % 10 {
            0 => format!("2024-05-01 12:00:{:02} INFO sshd[{i}]: Accepted password for u{i} from 10.{}.{}.7 port 22", i % 60, i % 250, i % 200),
            1 => format!("081109 2035{:02} {i} INFO dfs.DataNode: Receiving block blk_-16089996879198{i:05} src: /10.250.19.102:54106", i % 60),
            2 => format!("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties {i}"),
            3 => format!("user u{i}@example.com logged in, session {i:08x}-aaaa-bbbb-cccc-0123456789ab"),
            _ => format!("2024-05-01T12:00:00.{i:06}Z INFO worker-{} processed {} records in {}ms", i % 16, i * 7, i % 900),
        })
        .collect()
}

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
    let bytes: usize = lines.iter().map(String::len).sum();
    eprintln!("corpus: {} lines, {} bytes", lines.len(), bytes);

    let plain = redactor(&EngineOptions::default());

    let mut list = tempfile::NamedTempFile::new().expect("temporary word list");
    write_dictionary(&mut list);
    list.flush().expect("flushing the word list");
    let with_dictionary = redactor(&EngineOptions {
        sensitive_keys: Vec::new(),
        allow_values: Vec::new(),
        allow_patterns: Vec::new(),
        disabled_kinds: Vec::new(),
        dictionaries: vec![DictionarySpec {
            kind: "PERSON_NAME".into(),
            path: list.path().to_path_buf(),
        }],
    });

    let mut group = c.benchmark_group("loghub");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);

    group.bench_function("baseline", |b| {
        b.iter(|| {
            let mut total = 0;
            for line in &lines {
                total += black_box(line.as_str()).len();
            }
            total
        })
    });
    group.bench_function("redact", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(plain.redact(line));
            }
        })
    });
    group.bench_function("redact_dict_100k", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(with_dictionary.redact(line));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
