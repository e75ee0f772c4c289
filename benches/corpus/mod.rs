//! The log lines the benchmarks run on: the loghub samples in
//! `../shared/corpus/loghub` (relative to the crate root), or generated
//! lines when that folder is missing.

use std::path::Path;

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/loghub");

/// Reads every `*.log` file of the corpus folder, one string per line.
pub fn load_corpus() -> Vec<String> {
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
