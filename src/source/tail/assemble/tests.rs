use super::*;
use crate::config::StartPattern;
use crate::source::tail::framer::LineFramer;

const T0: &str = "2024-05-01T10:00:00.000000001Z";
const T1: &str = "2024-05-01T10:00:01.5Z";
const T0_NANOS: u64 = 1_714_557_600_000_000_001;
const T1_NANOS: u64 = 1_714_557_601_500_000_000;

fn settings(format: LogFormat, max_line_bytes: usize) -> ReadSettings {
    ReadSettings {
        format,
        max_line_bytes,
        partial_line_timeout: Duration::from_millis(100),
        multiline: None,
    }
}

fn java_multiline() -> MultilineConfig {
    MultilineConfig {
        start_pattern: StartPattern::try_from(r"^\d{4}-\d{2}-\d{2} ".to_string()).unwrap(),
        timeout_ms: 500,
        max_lines: 100,
        max_bytes: 64 * 1024,
    }
}

/// A framer and an assembler fed the way a followed file feeds them.
struct Reader {
    framer: LineFramer,
    assembler: Assembler,
    start: Instant,
}

impl Reader {
    fn new(settings: ReadSettings, container_log: bool) -> Reader {
        Reader::at_offset(settings, container_log, 0)
    }

    fn at_offset(settings: ReadSettings, container_log: bool, offset: u64) -> Reader {
        let framer = LineFramer::new(settings.framer_line_cap(), offset);
        Reader {
            framer,
            assembler: Assembler::new(Arc::new(settings), container_log, offset),
            start: Instant::now(),
        }
    }

    /// Reads `bytes` at the start instant and returns the records ready.
    fn feed(&mut self, bytes: &[u8]) -> Vec<Record> {
        let mut reader = bytes;
        while self.framer.read_from(&mut reader).unwrap() > 0 {
            while let Some(line) = self.framer.next_line() {
                self.assembler.push_line(line, self.start);
            }
        }
        self.drain()
    }

    /// Lets `millis` pass with no new data and returns what was flushed.
    fn wait(&mut self, millis: u64) -> Vec<Record> {
        let now = self.start + Duration::from_millis(millis);
        if now.duration_since(self.start) >= self.assembler.settings().partial_line_timeout
            && let Some(line) = self.framer.flush_partial()
        {
            self.assembler.push_line(line, now);
        }
        self.assembler.flush_expired(now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Record> {
        std::iter::from_fn(|| self.assembler.pop()).collect()
    }
}

fn bodies(records: &[Record]) -> Vec<&str> {
    records.iter().map(|record| record.body.as_str()).collect()
}

fn cri(time: &str, stream: &str, tag: &str, text: &str) -> String {
    format!("{time} {stream} {tag} {text}\n")
}

fn docker(time: &str, stream: &str, log: &str) -> String {
    let line = serde_json::json!({ "log": log, "stream": stream, "time": time });
    format!("{line}\n")
}

#[test]
fn cri_partial_lines_merged() {
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let input = [
        cri(T0, "stdout", "P", "first "),
        cri(T1, "stdout", "P", "second "),
        cri(T1, "stdout", "F", "last"),
    ]
    .concat();

    let records = reader.feed(input.as_bytes());

    assert_eq!(bodies(&records), vec!["first second last"]);
    assert_eq!(records[0].time_unix_nano, T0_NANOS);
    assert_eq!(records[0].stream, Some(Stream::Stdout));
    assert_eq!(records[0].end_offset, input.len() as u64);
    assert!(reader.assembler.is_empty());
}

#[test]
fn cri_streams_merged_apart() {
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let out_part = cri(T0, "stdout", "P", "out ");
    let err_line = cri(T0, "stderr", "F", "err");
    let out_end = cri(T1, "stdout", "F", "done");

    let records = reader.feed([out_part.clone(), err_line, out_end].concat().as_bytes());

    assert_eq!(bodies(&records), vec!["err", "out done"]);
    assert_eq!(records[0].stream, Some(Stream::Stderr));
    // The stderr line is acknowledged only up to the unfinished stdout
    // line, so a restart reads that one again.
    assert_eq!(records[0].end_offset, 0);
    assert_eq!(records[1].stream, Some(Stream::Stdout));
    assert!(records[1].end_offset > out_part.len() as u64);
}

#[test]
fn docker_partial_entries_merged() {
    let mut reader = Reader::new(settings(LogFormat::Docker, 1024), true);
    let input = [
        docker(T0, "stderr", "part one, "),
        docker(T1, "stderr", "part two\r\n"),
        docker(T1, "stdout", "whole\n"),
    ]
    .concat();

    let records = reader.feed(input.as_bytes());

    assert_eq!(bodies(&records), vec!["part one, part two", "whole"]);
    assert_eq!(records[0].time_unix_nano, T0_NANOS);
    assert_eq!(records[0].stream, Some(Stream::Stderr));
    assert_eq!(records[1].time_unix_nano, T1_NANOS);
}

#[test]
fn merged_line_cut_at_cap_and_counted() {
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let part = "abcdefghi ".repeat(40);
    let mut input = String::new();
    for _ in 0..5 {
        input.push_str(&cri(T0, "stdout", "P", &part));
    }
    input.push_str(&cri(T0, "stdout", "F", "end"));

    let records = reader.feed(input.as_bytes());

    assert!(records.len() > 1);
    assert!(records.iter().all(|record| record.body.len() <= 1024));
    assert_eq!(records.concat_bodies(), format!("{}end", part.repeat(5)));
    assert_eq!(reader.assembler.take_counts().split, 1);
    // Cuts fall between the runtime's parts, so no part is read twice
    // after a restart at a record's end offset.
    for pair in records.windows(2) {
        assert!(pair[0].end_offset < pair[1].end_offset);
    }
}

trait ConcatBodies {
    fn concat_bodies(&self) -> String;
}

impl ConcatBodies for Vec<Record> {
    fn concat_bodies(&self) -> String {
        self.iter().map(|record| record.body.as_str()).collect()
    }
}

#[test]
fn huge_single_part_cut_inside() {
    let mut reader = Reader::new(settings(LogFormat::Docker, 1024), true);
    let text = "é".repeat(1500);
    let input = docker(T0, "stdout", &format!("{text}\n"));

    let records = reader.feed(input.as_bytes());

    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|record| record.body.len() <= 1024));
    assert!(records.iter().all(|record| !record.invalid_utf8));
    assert_eq!(records.concat_bodies(), text);
    assert_eq!(reader.assembler.take_counts().split, 1);
}

#[test]
fn line_longer_than_framer_cap_kept_whole() {
    // Past 4 x max_line_bytes the framer cuts the line itself; the pieces
    // after the first carry no header but still belong to the entry.
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let text = "0123456789".repeat(500);
    let input = [
        cri(T0, "stderr", "F", &text),
        cri(T1, "stderr", "F", "next"),
    ]
    .concat();

    let records = reader.feed(input.as_bytes());

    let (long, next) = records.split_at(records.len() - 1);
    assert_eq!(long.to_vec().concat_bodies(), text);
    assert!(
        long.iter()
            .all(|record| record.stream == Some(Stream::Stderr))
    );
    assert!(long.iter().all(|record| record.time_unix_nano == T0_NANOS));
    assert_eq!(bodies(next), vec!["next"]);
    let counts = reader.assembler.take_counts();
    assert_eq!(counts.lines, 2);
    assert_eq!(counts.split, 1);
    assert_eq!(counts.malformed, 0);
}

#[test]
fn malformed_line_passed_raw_and_counted() {
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let input = [
        cri(T0, "stdout", "F", "before"),
        "garbage from alice@example.com\n".to_string(),
        cri(T0, "stdout", "F", "after"),
    ]
    .concat();

    let records = reader.feed(input.as_bytes());

    assert_eq!(
        bodies(&records),
        vec!["before", "garbage from alice@example.com", "after"]
    );
    assert_eq!(records[1].stream, None);
    assert_eq!(records[1].time_unix_nano, 0);
    assert_eq!(reader.assembler.take_counts().malformed, 1);
}

#[test]
fn auto_detects_each_layout() {
    let cases = [
        (cri(T0, "stdout", "F", "hello"), Some(Stream::Stdout)),
        (docker(T0, "stdout", "hello\n"), Some(Stream::Stdout)),
        ("hello\n".to_string(), None),
    ];
    for (input, stream) in cases {
        let mut reader = Reader::new(settings(LogFormat::Auto, 1024), false);

        let records = reader.feed(input.as_bytes());

        assert_eq!(bodies(&records), vec!["hello"], "{input}");
        assert_eq!(records[0].stream, stream, "{input}");
        assert_eq!(reader.assembler.take_counts().malformed, 0, "{input}");
    }
}

#[test]
fn auto_keeps_first_choice() {
    // Outside the kubelet's layout a raw first line makes the whole file
    // raw, even if a later line looks like CRI.
    let mut reader = Reader::new(settings(LogFormat::Auto, 1024), false);
    let input = ["plain\n".to_string(), cri(T0, "stdout", "F", "x")].concat();

    let records = reader.feed(input.as_bytes());

    assert_eq!(records[1].body, cri(T0, "stdout", "F", "x").trim_end());
}

#[test]
fn auto_in_container_path_waits_for_parsable_line() {
    let mut reader = Reader::new(settings(LogFormat::Auto, 1024), true);
    let input = [
        "truncated junk\n".to_string(),
        cri(T0, "stdout", "P", "a"),
        cri(T0, "stdout", "F", "b"),
    ]
    .concat();

    let records = reader.feed(input.as_bytes());

    assert_eq!(bodies(&records), vec!["truncated junk", "ab"]);
    assert_eq!(reader.assembler.take_counts().malformed, 1);
}

#[test]
fn unfinished_partial_flushed_after_timeout() {
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let partial = cri(T0, "stdout", "P", "no end yet");

    assert!(reader.feed(partial.as_bytes()).is_empty());
    assert!(reader.wait(50).is_empty());
    let records = reader.wait(100);

    assert_eq!(bodies(&records), vec!["no end yet"]);
    assert_eq!(records[0].end_offset, partial.len() as u64);
    assert!(reader.assembler.is_empty());
}

#[test]
fn raw_long_line_cut_like_framer() {
    let mut reader = Reader::new(settings(LogFormat::Raw, 1024), false);
    let input = format!("{}\nshort\n", "x".repeat(2000));

    let records = reader.feed(input.as_bytes());

    let lengths: Vec<usize> = records.iter().map(|record| record.body.len()).collect();
    assert_eq!(lengths, vec![1024, 976, 5]);
    assert_eq!(records[0].end_offset, 1024);
    let counts = reader.assembler.take_counts();
    assert_eq!(counts.split, 1);
    assert_eq!(counts.lines, 2);
}

#[test]
fn invalid_utf8_flagged() {
    let mut reader = Reader::new(settings(LogFormat::Cri, 1024), true);
    let mut input = format!("{T0} stdout F bad ").into_bytes();
    input.extend(b"\xff\n");

    let records = reader.feed(&input);

    assert_eq!(records[0].body, "bad \u{FFFD}");
    assert!(records[0].invalid_utf8);
}

fn java_trace_cri() -> String {
    [
        cri(
            T0,
            "stderr",
            "F",
            "2024-05-01 10:00:00 ERROR payment failed for bob@example.com",
        ),
        cri(
            T0,
            "stderr",
            "F",
            "java.lang.IllegalStateException: card declined",
        ),
        cri(T0, "stdout", "F", "2024-05-01 10:00:00 INFO health ok"),
        cri(T0, "stderr", "P", "\tat com.shop.Pay"),
        cri(T0, "stderr", "F", "ment.charge(Payment.java:42)"),
        cri(T0, "stderr", "F", "\tat com.shop.Api.handle(Api.java:7)"),
        cri(T1, "stderr", "F", "2024-05-01 10:00:01 INFO retry"),
    ]
    .concat()
}

#[test]
fn stack_trace_joined_after_merge() {
    let mut settings = settings(LogFormat::Cri, 1024);
    settings.multiline = Some(java_multiline());
    let mut reader = Reader::new(settings, true);

    let mut records = reader.feed(java_trace_cri().as_bytes());
    records.extend(reader.wait(1000));

    // The trace is sent when the next stderr record starts; the stdout
    // record waits for its timeout, as nothing follows it.
    assert_eq!(
        bodies(&records),
        vec![
            "2024-05-01 10:00:00 ERROR payment failed for bob@example.com\n\
             java.lang.IllegalStateException: card declined\n\
             \tat com.shop.Payment.charge(Payment.java:42)\n\
             \tat com.shop.Api.handle(Api.java:7)",
            "2024-05-01 10:00:00 INFO health ok",
            "2024-05-01 10:00:01 INFO retry",
        ]
    );
    assert_eq!(records[0].stream, Some(Stream::Stderr));
    assert_eq!(records[0].time_unix_nano, T0_NANOS);
    assert_eq!(records[1].stream, Some(Stream::Stdout));
    assert_eq!(records[2].time_unix_nano, T1_NANOS);
}

#[test]
fn joined_record_waits_for_timeout() {
    let mut settings = settings(LogFormat::Raw, 1024);
    settings.multiline = Some(java_multiline());
    let mut reader = Reader::new(settings, false);

    assert!(
        reader
            .feed(b"2024-05-01 10:00:00 ERROR x\n\tat a\n")
            .is_empty()
    );
    assert!(reader.wait(400).is_empty());
    let records = reader.wait(600);

    assert_eq!(
        bodies(&records),
        vec!["2024-05-01 10:00:00 ERROR x\n\tat a"]
    );
    assert_eq!(records[0].end_offset, 34);
}

#[test]
fn multiline_limit_counted() {
    let mut multiline = java_multiline();
    multiline.max_lines = 2;
    let mut settings = settings(LogFormat::Raw, 1024);
    settings.multiline = Some(multiline);
    let mut reader = Reader::new(settings, false);

    let mut records = reader.feed(b"2024-05-01 a\nb\nc\n");
    records.extend(reader.wait(1000));

    assert_eq!(bodies(&records), vec!["2024-05-01 a\nb", "c"]);
    assert_eq!(reader.assembler.take_counts().multiline_cut, 1);
}

#[test]
fn malformed_lines_not_joined() {
    let mut settings = settings(LogFormat::Cri, 1024);
    settings.multiline = Some(java_multiline());
    let mut reader = Reader::new(settings, true);
    let input = [
        cri(T0, "stdout", "F", "2024-05-01 start"),
        "junk one\n".to_string(),
        "junk two\n".to_string(),
        cri(T0, "stdout", "F", "continued"),
    ]
    .concat();

    let mut records = reader.feed(input.as_bytes());
    records.extend(reader.wait(1000));

    assert_eq!(
        bodies(&records),
        vec!["junk one", "junk two", "2024-05-01 start\ncontinued"]
    );
}

/// Reads `input` whole, then again from the end offset of each record as
/// after a restart, and checks that the records sent before the restart and
/// those read after it hold every record of the whole read, each one whole.
/// Also checks that end offsets never decrease and that the last one is the
/// end of the input.
fn check_restarts(settings: ReadSettings, input: &[u8]) {
    let mut whole = Reader::new(settings.clone(), true);
    let mut expected = whole.feed(input);
    expected.extend(whole.wait(10_000));
    assert!(!expected.is_empty());
    for pair in expected.windows(2) {
        assert!(pair[0].end_offset <= pair[1].end_offset, "{pair:?}");
    }
    assert_eq!(expected.last().unwrap().end_offset, input.len() as u64);

    for (index, record) in expected.iter().enumerate() {
        let offset = record.end_offset as usize;
        let mut restarted = Reader::at_offset(settings.clone(), true, offset as u64);
        let mut after = restarted.feed(&input[offset..]);
        after.extend(restarted.wait(10_000));

        let sent_before = &expected[..=index];
        for record in &expected {
            let found = sent_before
                .iter()
                .chain(&after)
                .any(|seen| seen.body == record.body);
            assert!(
                found,
                "after a restart at {offset}, {:?} was lost",
                record.body
            );
        }
        for record in &after {
            let whole_record = expected.iter().any(|seen| seen.body == record.body);
            assert!(
                whole_record,
                "after a restart at {offset}, {:?} is not a whole record",
                record.body
            );
        }
    }
}

#[test]
fn restart_never_skips_or_splits_joined() {
    let mut settings = settings(LogFormat::Cri, 1024);
    settings.multiline = Some(java_multiline());

    check_restarts(settings, java_trace_cri().as_bytes());
}

#[test]
fn restart_never_skips_merged_parts() {
    let input = [
        cri(T0, "stdout", "P", "a1 "),
        cri(T0, "stderr", "F", "e1"),
        cri(T0, "stdout", "P", "a2 "),
        cri(T0, "stderr", "P", "e2 "),
        cri(T0, "stdout", "F", "a3"),
        cri(T0, "stderr", "F", "e3"),
        cri(T0, "stdout", "F", "b"),
    ]
    .concat();

    check_restarts(settings(LogFormat::Cri, 1024), input.as_bytes());
}

#[test]
fn end_offsets_never_decrease() {
    let mut settings = settings(LogFormat::Cri, 1024);
    settings.multiline = Some(java_multiline());
    let mut reader = Reader::new(settings, true);
    let input = [java_trace_cri(), java_trace_cri()].concat();

    let mut records = reader.feed(input.as_bytes());
    records.extend(reader.wait(10_000));

    for pair in records.windows(2) {
        assert!(pair[0].end_offset <= pair[1].end_offset, "{pair:?}");
    }
    assert_eq!(records.last().unwrap().end_offset, input.len() as u64);
}

/// One generated CRI line: its stream, whether it is a runtime part (`P`),
/// and whether its text starts a multiline record; or a malformed line.
#[derive(Debug, Clone)]
enum GeneratedLine {
    Container {
        stderr: bool,
        part: bool,
        starts_record: bool,
    },
    Malformed,
}

fn generated_line() -> impl proptest::strategy::Strategy<Value = GeneratedLine> {
    use proptest::prelude::*;
    prop_oneof![
        8 => (any::<bool>(), prop::bool::weighted(0.3), prop::bool::weighted(0.4)).prop_map(
            |(stderr, part, starts_record)| GeneratedLine::Container {
                stderr,
                part,
                starts_record,
            }
        ),
        1 => Just(GeneratedLine::Malformed),
    ]
}

/// Renders the lines as a CRI file; every text is unique, so records can be
/// told apart by body.
fn render(lines: &[GeneratedLine]) -> String {
    let mut file = String::new();
    for (number, line) in lines.iter().enumerate() {
        match line {
            GeneratedLine::Container {
                stderr,
                part,
                starts_record,
            } => {
                let stream = if *stderr { "stderr" } else { "stdout" };
                let tag = if *part { "P" } else { "F" };
                let text = if *starts_record {
                    format!("2024-05-01 00:00:00 line {number} ")
                } else {
                    format!("\tat line {number} ")
                };
                file.push_str(&cri(T0, stream, tag, &text));
            }
            GeneratedLine::Malformed => file.push_str(&format!("junk {number}\n")),
        }
    }
    file
}

proptest::proptest! {
    // Each case reads its file once per record, so fewer cases than the
    // default 256 keep the test quick.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn restarts_keep_interleaved_records_whole(
        lines in proptest::collection::vec(generated_line(), 1..40),
        joined in proptest::bool::ANY,
    ) {
        let mut settings = settings(LogFormat::Cri, 1024);
        if joined {
            settings.multiline = Some(java_multiline());
        }

        check_restarts(settings, render(&lines).as_bytes());
    }
}
