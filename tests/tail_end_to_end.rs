//! Runs the real `hush` binary over real files and a real OTLP/gRPC
//! downstream: lines are appended, the file is renamed away and recreated,
//! the agent is restarted, and every line must arrive exactly once, with its
//! personal data replaced by tokens.

mod common;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{Downstream, HushProcess, free_port, string_body, write_config};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

const WAIT: Duration = Duration::from_secs(30);

fn config_yaml(root: &Path, downstream_endpoint: &str) -> String {
    format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         tail:\n\
         \x20 include: [\"{logs}/*.log\"]\n\
         \x20 poll_interval_ms: 50\n\
         \x20 partial_line_timeout_ms: 200\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{port}, http: null }}\n\
         telemetry: {{ listen: null }}\n\
         exporter: {{ otlp: {{ endpoint: \"{downstream_endpoint}\" }} }}\n",
        state = root.join("state").display(),
        logs = root.join("logs").display(),
        port = free_port(),
    )
}

/// The line with number `n`: a fresh e-mail and IP per line, plus one
/// e-mail that repeats on every line, so token stability can be checked.
fn numbered_line(n: usize) -> String {
    format!(
        "seq={n} login user{n}@example.com from 10.1.{}.{} shared=alice.smith@example.org",
        n / 250,
        n % 250 + 1
    )
}

fn append_lines(path: &Path, lines: std::ops::Range<usize>) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|err| panic!("failed to open {}: {err}", path.display()));
    for n in lines {
        writeln!(file, "{}", numbered_line(n)).expect("append a line");
    }
    file.sync_all().expect("sync the log file");
}

fn attribute<'a>(record: &'a LogRecord, key: &str) -> Option<&'a str> {
    record
        .attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| match &value.value {
            Some(Value::StringValue(text)) => Some(text.as_str()),
            _ => None,
        })
}

/// Parses `seq=N` out of a redacted body.
fn sequence_number(body: &str) -> usize {
    let rest = body
        .strip_prefix("seq=")
        .unwrap_or_else(|| panic!("body does not start with seq=: {body}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no sequence number in {body}"))
}

#[test]
fn tail_rotation_restart_exactly_once() {
    let root = tempfile::tempdir().expect("temp dir");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("create logs dir");
    let downstream = Downstream::start();
    let config = write_config(
        root.path(),
        &config_yaml(root.path(), &downstream.endpoint()),
    );
    let live = logs.join("app.log");

    // Lines written before the agent starts, then appended while it runs.
    append_lines(&live, 0..100);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    downstream.wait_for_log_records(100, WAIT);
    append_lines(&live, 100..200);
    downstream.wait_for_log_records(200, WAIT);

    // Rename away and recreate; the writer still appends a few lines to the
    // renamed file before it reopens, as real loggers do.
    let rotated = logs.join("app.log.1");
    std::fs::rename(&live, &rotated).expect("rename the log");
    append_lines(&rotated, 200..220);
    File::create(&live).expect("recreate the log");
    append_lines(&live, 220..300);
    downstream.wait_for_log_records(300, WAIT);

    // Restart: lines written while the agent is down arrive after it is back.
    let status = agent.stop();
    assert!(
        status.success(),
        "hush exited with {status}\n{}",
        agent.stderr()
    );
    append_lines(&live, 300..400);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    let records = downstream.wait_for_log_records(400, WAIT);

    // Give a late duplicate the chance to show up before counting.
    std::thread::sleep(Duration::from_millis(500));
    let records = if downstream.log_records().len() > records.len() {
        downstream.log_records()
    } else {
        records
    };
    let stderr = agent.stderr();
    agent.stop();

    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let mut shared_tokens = std::collections::BTreeSet::new();
    for record in &records {
        let body = string_body(record).expect("tailed records have string bodies");
        *seen.entry(sequence_number(body)).or_default() += 1;

        assert!(!body.contains("@example"), "an e-mail survived: {body}");
        assert!(!body.contains("10.1."), "an IP address survived: {body}");
        let shared = body
            .split("shared=")
            .nth(1)
            .unwrap_or_else(|| panic!("the literal text around hits changed: {body}"));
        shared_tokens.insert(shared.to_string());

        let path = attribute(record, "log.file.path").expect("log.file.path attribute");
        assert!(
            path.ends_with("app.log") || path.ends_with("app.log.1"),
            "{path}"
        );
        let name = attribute(record, "log.file.name").expect("log.file.name attribute");
        assert!(
            path.ends_with(name),
            "log.file.name {name} is not the end of {path}"
        );
    }

    let missing: Vec<usize> = (0..400).filter(|n| !seen.contains_key(n)).collect();
    let repeated: Vec<(&usize, &usize)> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(missing.is_empty(), "lost lines: {missing:?}\n{stderr}");
    assert!(
        repeated.is_empty(),
        "repeated lines: {repeated:?}\n{stderr}"
    );
    assert_eq!(seen.len(), 400, "unexpected line numbers: {seen:?}");
    assert_eq!(
        shared_tokens.len(),
        1,
        "the same e-mail got different tokens: {shared_tokens:?}"
    );
}

#[test]
fn tail_invalid_utf8_and_long_lines() {
    let root = tempfile::tempdir().expect("temp dir");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("create logs dir");
    let downstream = Downstream::start();
    let yaml = config_yaml(root.path(), &downstream.endpoint()).replace(
        "  poll_interval_ms: 50\n",
        "  poll_interval_ms: 50\n  max_line_bytes: 1024\n",
    );
    let config = write_config(root.path(), &yaml);

    let mut file = File::create(logs.join("odd.log")).expect("create log");
    file.write_all(b"bad \xff\xfe bytes from bob@example.com\n")
        .expect("write");
    let long_line = format!("{} carol@example.com\n", "word ".repeat(1000));
    file.write_all(long_line.as_bytes()).expect("write");
    file.write_all(b"crlf line dave@example.com\r\n")
        .expect("write");
    file.sync_all().expect("sync");

    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    let records = downstream.wait_for_log_records(4, WAIT);
    agent.stop();

    let bodies: Vec<&str> = records.iter().filter_map(string_body).collect();
    let joined = bodies.join("\n");
    assert!(
        !joined.contains("@example.com"),
        "an e-mail survived: {joined}"
    );
    assert!(
        bodies[0].starts_with("bad \u{fffd}\u{fffd} bytes from "),
        "{}",
        bodies[0]
    );
    assert!(
        bodies.iter().all(|body| body.len() <= 1024 + 64),
        "a split piece is longer than the cap"
    );
    assert!(bodies.last().unwrap().starts_with("crlf line "), "{joined}");
    assert!(!bodies.last().unwrap().ends_with('\r'), "CR of CRLF kept");
    let words: usize = bodies.iter().map(|body| body.matches("word").count()).sum();
    assert_eq!(words, 1000, "a split lost or repeated text");
}

/// Reads a `kB` field such as `VmRSS` from `/proc/PID/status`, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|line| line.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kilobytes: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    kilobytes * 1024
}

/// Reads `rchar` from `/proc/PID/io`: bytes the process read with read
/// calls, files and sockets alike.
fn bytes_read_by(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("read io");
    io.lines()
        .find_map(|line| line.strip_prefix("rchar: "))
        .and_then(|number| number.trim().parse().ok())
        .expect("rchar in /proc/PID/io")
}

#[test]
fn tail_slow_downstream_pauses_reading() {
    let root = tempfile::tempdir().expect("temp dir");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("create logs dir");
    let downstream = Downstream::start();
    downstream.set_unavailable(true);
    let config = write_config(
        root.path(),
        &config_yaml(root.path(), &downstream.endpoint()),
    );
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    let pid = agent.pid();

    // A backlog much larger than a batch, written while every export fails.
    let backlog_lines = 200_000;
    append_lines(&logs.join("app.log"), 0..backlog_lines);
    let backlog_bytes = std::fs::metadata(logs.join("app.log")).unwrap().len();
    let deadline = std::time::Instant::now() + WAIT;
    while downstream.rejected_requests() < 3 {
        assert!(std::time::Instant::now() < deadline, "no export was tried");
        std::thread::sleep(Duration::from_millis(20));
    }
    let read_before = bytes_read_by(pid);
    let rss_before = proc_status_bytes(pid, "VmRSS");
    std::thread::sleep(Duration::from_secs(2));
    let read_during = bytes_read_by(pid) - read_before;
    let peak_rss = proc_status_bytes(pid, "VmHWM");

    // Reading stops one batch ahead of the batch in flight, so neither the
    // bytes read nor the memory follow the backlog.
    assert!(
        read_during < backlog_bytes / 10,
        "read {read_during} bytes of a {backlog_bytes} byte backlog while the downstream \
         was unavailable"
    );
    assert!(
        peak_rss < rss_before + backlog_bytes / 4,
        "peak RSS {peak_rss} grew past {rss_before} by more than a quarter of the \
         {backlog_bytes} byte backlog"
    );

    // Once the downstream is back, lines arrive from the first, in order.
    downstream.set_unavailable(false);
    let records = downstream.wait_for_log_records(5_000, WAIT);
    agent.stop();
    let numbers: Vec<usize> = records
        .iter()
        .take(5_000)
        .map(|record| sequence_number(string_body(record).expect("string body")))
        .collect();
    assert_eq!(numbers, (0..5_000).collect::<Vec<_>>());
}

#[test]
fn tail_file_rotated_while_killed_finished() {
    let root = tempfile::tempdir().expect("temp dir");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("create logs dir");
    let downstream = Downstream::start();
    let config = write_config(
        root.path(),
        &config_yaml(root.path(), &downstream.endpoint()),
    );
    let live = logs.join("app.log");
    append_lines(&live, 0..100);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    downstream.wait_for_log_records(100, WAIT);
    // Time for the agent to get the acknowledgement and journal it; the
    // kill then repeats nothing.
    std::thread::sleep(Duration::from_millis(500));
    agent.kill();

    // While the agent is down, the file gets more lines and is rotated to
    // a name the glob does not match.
    append_lines(&live, 100..150);
    std::fs::rename(&live, logs.join("app.log.1")).expect("rename the log");
    append_lines(&live, 150..200);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    downstream.wait_for_log_records(200, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    let stderr = agent.stderr();
    agent.stop();

    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for record in downstream.log_records() {
        let body = string_body(&record).expect("string body");
        *seen.entry(sequence_number(body)).or_default() += 1;
    }
    let missing: Vec<usize> = (0..200).filter(|n| !seen.contains_key(n)).collect();
    assert!(missing.is_empty(), "lost lines: {missing:?}\n{stderr}");
    let repeated: Vec<(&usize, &usize)> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "repeated lines: {repeated:?}");
}
