//! Cost of turning tailed bytes into records, per line layout, without
//! redaction or export.
//!
//! Run with `cargo bench --bench tail_formats`. Every case reads the same
//! generated log (20,000 events, a Java stack trace every 50th) from memory.
//! The log is laid out as raw lines, as CRI lines or as Docker json-file
//! lines. Criterion reports throughput in bytes of the raw layout, so the
//! cases compare per byte of log text. Compare numbers only within one run.
//!
//! - `framer`: splits the raw bytes into lines, the floor of every case;
//! - `framer_to_string`: also copies each line into a `String`, checking
//!   UTF-8, which is how raw lines became records before record assembly;
//! - `raw`: framer and record assembly of raw lines;
//! - `raw_multiline`: the same, joining stack traces with a start pattern;
//! - `cri`: parses CRI lines and merges the `P` parts of long lines;
//! - `cri_multiline`: the same, joining stack traces per stream;
//! - `docker`: parses Docker json-file lines and merges partial entries.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hush::config::{LogFormat, MultilineConfig, StartPattern};
use hush::source::tail::assemble::{Assembler, ReadSettings};
use hush::source::tail::framer::LineFramer;

const EVENTS: usize = 20_000;
const TIME: &str = "2024-05-01T10:00:00.123456789Z";
/// Maximum text bytes of one CRI or Docker line: containerd and Docker cut
/// longer lines into parts of this size.
const RUNTIME_LINE_BYTES: usize = 16 * 1024;

/// One line of the log and the stream it was written to.
struct LogLine {
    text: String,
    stderr: bool,
}

/// Generates the log: mostly single-line events of about 110 bytes, a
/// 14-line stack trace every 50th event, and a 40 KB line every 500th.
fn generated_log() -> Vec<LogLine> {
    let mut lines = Vec::new();
    for event in 0..EVENTS {
        let stamp = format!(
            "2024-05-01 10:{:02}:{:02}.{:03}",
            event / 3600 % 60,
            event / 60 % 60,
            event % 1000
        );
        if event % 50 == 49 {
            lines.push(LogLine {
                text: format!(
                    "{stamp} ERROR [worker-{}] com.shop.Payment - charge {event} failed",
                    event % 16
                ),
                stderr: true,
            });
            lines.push(LogLine {
                text: "java.lang.IllegalStateException: card declined".to_string(),
                stderr: true,
            });
            for depth in 0..12 {
                lines.push(LogLine {
                    text: format!(
                        "\tat com.shop.layer{depth}.Handler.call(Handler.java:{})",
                        40 + depth
                    ),
                    stderr: true,
                });
            }
        } else if event % 500 == 499 {
            lines.push(LogLine {
                text: format!(
                    "{stamp} DEBUG payload {}",
                    "{\"sku\":\"A-1\",\"qty\":2},".repeat(1600)
                ),
                stderr: false,
            });
        } else {
            lines.push(LogLine {
                text: format!(
                    "{stamp} INFO [worker-{}] com.shop.Orders - processed order {event} for user{event}@example.com in {}ms",
                    event % 16,
                    event % 900
                ),
                stderr: false,
            });
        }
    }
    lines
}

fn raw_layout(lines: &[LogLine]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line.text.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

/// Cuts `text` into the parts a runtime writes, at character boundaries.
fn runtime_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > RUNTIME_LINE_BYTES {
        let mut cut = RUNTIME_LINE_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    parts.push(rest);
    parts
}

fn stream_name(line: &LogLine) -> &'static str {
    if line.stderr { "stderr" } else { "stdout" }
}

fn cri_layout(lines: &[LogLine]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        let parts = runtime_parts(&line.text);
        for (index, part) in parts.iter().enumerate() {
            let tag = if index + 1 < parts.len() { "P" } else { "F" };
            let cri_line = format!("{TIME} {} {tag} {part}\n", stream_name(line));
            bytes.extend_from_slice(cri_line.as_bytes());
        }
    }
    bytes
}

fn docker_layout(lines: &[LogLine]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        let parts = runtime_parts(&line.text);
        for (index, part) in parts.iter().enumerate() {
            let log = if index + 1 < parts.len() {
                part.to_string()
            } else {
                format!("{part}\n")
            };
            let entry =
                serde_json::json!({ "log": log, "stream": stream_name(line), "time": TIME });
            bytes.extend_from_slice(entry.to_string().as_bytes());
            bytes.push(b'\n');
        }
    }
    bytes
}

fn settings(format: LogFormat, multiline: bool) -> Arc<ReadSettings> {
    let multiline = multiline.then(|| MultilineConfig {
        start_pattern: StartPattern::try_from(r"^\d{4}-\d{2}-\d{2} ".to_string())
            .expect("the start pattern compiles"),
        timeout_ms: 1000,
        max_lines: 500,
        max_bytes: 256 * 1024,
    });
    Arc::new(ReadSettings {
        format,
        max_line_bytes: 64 * 1024,
        partial_line_timeout: Duration::from_secs(1),
        multiline,
    })
}

/// Reads `bytes` as one file and returns the number of records made.
fn assemble(bytes: &[u8], settings: &Arc<ReadSettings>) -> usize {
    let now = Instant::now();
    let mut framer = LineFramer::new(settings.framer_line_cap(), 0);
    let mut assembler = Assembler::new(settings.clone(), true, 0);
    let mut reader = bytes;
    let mut records = 0;
    while framer.read_from(&mut reader).expect("reading memory") > 0 {
        while let Some(line) = framer.next_line() {
            assembler.push_line(line, now);
            while let Some(record) = assembler.pop() {
                black_box(&record);
                records += 1;
            }
        }
    }
    assembler.flush_expired(now + Duration::from_secs(3600));
    while assembler.pop().is_some() {
        records += 1;
    }
    records
}

fn benchmarks(c: &mut Criterion) {
    let lines = generated_log();
    let raw = raw_layout(&lines);
    let cri = cri_layout(&lines);
    let docker = docker_layout(&lines);
    eprintln!(
        "log: {} lines; raw {} bytes, CRI {} bytes, Docker {} bytes",
        lines.len(),
        raw.len(),
        cri.len(),
        docker.len()
    );

    let mut group = c.benchmark_group("tail_formats");
    group.throughput(Throughput::Bytes(raw.len() as u64));
    group.sample_size(20);

    group.bench_function("framer", |b| {
        b.iter(|| {
            let mut framer = LineFramer::new(64 * 1024, 0);
            let mut reader = raw.as_slice();
            let mut count = 0;
            while framer.read_from(&mut reader).expect("reading memory") > 0 {
                while let Some(line) = framer.next_line() {
                    black_box(line.bytes);
                    count += 1;
                }
            }
            count
        })
    });
    group.bench_function("framer_to_string", |b| {
        b.iter(|| {
            let mut framer = LineFramer::new(64 * 1024, 0);
            let mut reader = raw.as_slice();
            let mut count = 0;
            while framer.read_from(&mut reader).expect("reading memory") > 0 {
                while let Some(line) = framer.next_line() {
                    black_box(String::from_utf8_lossy(line.bytes).into_owned());
                    count += 1;
                }
            }
            count
        })
    });
    let cases = [
        ("raw", &raw, settings(LogFormat::Raw, false)),
        ("raw_multiline", &raw, settings(LogFormat::Raw, true)),
        ("cri", &cri, settings(LogFormat::Cri, false)),
        ("cri_multiline", &cri, settings(LogFormat::Cri, true)),
        ("docker", &docker, settings(LogFormat::Docker, false)),
    ];
    for (name, bytes, settings) in &cases {
        group.bench_function(*name, |b| b.iter(|| assemble(bytes, settings)));
    }
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
