//! Docker's json-file log format: one JSON object a line, such as
//! `{"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.1Z"}`.
//! `log` contains the text with its `\n`. Docker cuts a long line into
//! entries whose `log` lacks the `\n`, and the entry that ends with it
//! completes the line. Other fields, such as `attrs`, are ignored.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Entry, Stream, parse_time, strip_carriage_return};

/// The fields of one json-file line. The strings borrow from the line when
/// they contain no escapes.
#[derive(Deserialize)]
struct JsonFileLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
}

/// Parses one json-file line, or returns `None` if it is not one.
pub fn parse(line: &[u8]) -> Option<Entry<'_>> {
    // Most lines of a raw log are not JSON, and this skips the parser for
    // them.
    if line.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let fields: JsonFileLine<'_> = serde_json::from_slice(line).ok()?;
    let stream = Stream::parse(fields.stream.as_bytes())?;
    let time_unix_nano = parse_time(fields.time.as_bytes())?;

    let partial = !fields.log.ends_with('\n');
    let text = match fields.log {
        Cow::Borrowed(log) => Cow::Borrowed(complete_line_text(log.as_bytes(), partial)),
        Cow::Owned(log) => {
            let length = complete_line_text(log.as_bytes(), partial).len();
            let mut bytes = log.into_bytes();
            bytes.truncate(length);
            Cow::Owned(bytes)
        }
    };

    Some(Entry {
        stream,
        time_unix_nano,
        text,
        partial,
    })
}

/// Drops the `\n` (and a `\r` before it) that ends a complete line.
fn complete_line_text(log: &[u8], partial: bool) -> &[u8] {
    if partial {
        return log;
    }
    strip_carriage_return(&log[..log.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(line: &str) -> String {
        let entry = parse(line.as_bytes()).expect("a json-file line");
        String::from_utf8(entry.text.into_owned()).unwrap()
    }

    #[test]
    fn full_line_parsed() {
        let entry = parse(
            br#"{"log":"hello world\n","stream":"stderr","time":"2024-05-01T10:00:00.123456789Z"}"#,
        )
        .unwrap();

        assert_eq!(entry.stream, Stream::Stderr);
        assert_eq!(entry.time_unix_nano, 1_714_557_600_123_456_789);
        assert_eq!(&*entry.text, b"hello world");
        assert!(!entry.partial);
    }

    #[test]
    fn text_without_newline_is_partial() {
        let entry =
            parse(br#"{"log":"first half ","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#)
                .unwrap();

        assert!(entry.partial);
        assert_eq!(&*entry.text, b"first half ");
    }

    #[test]
    fn escapes_and_unicode_decoded() {
        assert_eq!(
            text_of(
                r#"{"log":"tab\there \"q\" \u003cb\u003e caf\u00e9 🙂 Grüße\r\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#
            ),
            "tab\there \"q\" <b> café 🙂 Grüße"
        );
        assert_eq!(
            text_of(r#"{"log":"\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#),
            ""
        );
    }

    #[test]
    fn field_order_and_extra_fields_ignored() {
        assert_eq!(
            text_of(
                r#" {"time":"2024-05-01T10:00:00Z","attrs":{"tag":"web"},"stream":"stdout","log":"x\n"}"#
            ),
            "x"
        );
    }

    #[test]
    fn malformed_lines_rejected() {
        for line in [
            "",
            "plain text",
            "2024-05-01T10:00:00Z stdout F text",
            r#"{"log":"x\n","stream":"stdout"}"#,
            r#"{"log":"x\n","time":"2024-05-01T10:00:00Z"}"#,
            r#"{"stream":"stdout","time":"2024-05-01T10:00:00Z"}"#,
            r#"{"log":"x\n","stream":"stdin","time":"2024-05-01T10:00:00Z"}"#,
            r#"{"log":"x\n","stream":"stdout","time":"soon"}"#,
            r#"{"log":7,"stream":"stdout","time":"2024-05-01T10:00:00Z"}"#,
            r#"{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z""#,
            r#"{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"} trailing"#,
            r#"["log","x"]"#,
        ] {
            assert_eq!(parse(line.as_bytes()), None, "{line}");
        }
    }

    #[test]
    fn invalid_utf8_rejected() {
        let line =
            b"{\"log\":\"bad \xff\\n\",\"stream\":\"stdout\",\"time\":\"2024-05-01T10:00:00Z\"}";

        assert_eq!(parse(line), None);
    }

    #[test]
    fn huge_text_parsed() {
        let text = "y".repeat(1 << 20);
        let line =
            format!(r#"{{"log":"{text}\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}}"#);

        assert_eq!(text_of(&line), text);
    }
}
