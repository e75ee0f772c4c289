//! The CRI log format, written by containerd and CRI-O under
//! `/var/log/pods`: `<time> <stream> <tags> <text>`, where the time is RFC
//! 3339 with nanoseconds, the stream is `stdout` or `stderr`, and the tags
//! are `:`-separated with `P` (partial) or `F` (full) first. The runtime
//! cuts a long line into `P` lines followed by one `F` line.

use std::borrow::Cow;

use super::{Entry, Stream, parse_time, strip_carriage_return};

/// Parses one CRI line, or returns `None` if it is not one.
pub fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let (time, rest) = split_at_space(line)?;
    let (stream, rest) = split_at_space(rest)?;
    // The runtime writes a space after the tags even when the text is
    // empty. A line that ends right after the tags has empty text too.
    let (tags, text) = split_at_space(rest).unwrap_or((rest, &[]));

    let partial = match tags.split(|&byte| byte == b':').next() {
        Some(b"P") => true,
        Some(b"F") => false,
        _ => return None,
    };
    let stream = Stream::parse(stream)?;
    let time_unix_nano = parse_time(time)?;
    let text = if partial {
        text
    } else {
        strip_carriage_return(text)
    };

    Some(Entry {
        stream,
        time_unix_nano,
        text: Cow::Borrowed(text),
        partial,
    })
}

fn split_at_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = memchr::memchr(b' ', bytes)?;
    Some((&bytes[..space], &bytes[space + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIME: u64 = 1_714_557_600_123_456_789;

    fn text_of(line: &[u8]) -> Vec<u8> {
        parse(line).expect("a CRI line").text.into_owned()
    }

    #[test]
    fn full_line_parsed() {
        let entry = parse(b"2024-05-01T10:00:00.123456789Z stdout F hello world").unwrap();

        assert_eq!(entry.stream, Stream::Stdout);
        assert_eq!(entry.time_unix_nano, TIME);
        assert_eq!(&*entry.text, b"hello world");
        assert!(!entry.partial);
    }

    #[test]
    fn partial_line_and_stderr() {
        let entry = parse(b"2024-05-01T10:00:00.123456789Z stderr P first half ").unwrap();

        assert_eq!(entry.stream, Stream::Stderr);
        assert_eq!(&*entry.text, b"first half ");
        assert!(entry.partial);
    }

    #[test]
    fn text_kept_byte_for_byte() {
        // Spaces inside and around the text, a tab, non-ASCII text and
        // bytes that are not UTF-8 all pass unchanged.
        assert_eq!(
            text_of(b"2024-05-01T10:00:00Z stdout F   padded  \t"),
            b"  padded  \t"
        );
        assert_eq!(
            text_of("2024-05-01T10:00:00Z stdout F Grüße, 世界 🙂".as_bytes()),
            "Grüße, 世界 🙂".as_bytes()
        );
        assert_eq!(
            text_of(b"2024-05-01T10:00:00Z stdout F bad \xff\xfe"),
            b"bad \xff\xfe"
        );
    }

    #[test]
    fn empty_text_with_or_without_space() {
        assert_eq!(text_of(b"2024-05-01T10:00:00Z stdout F "), b"");
        assert_eq!(text_of(b"2024-05-01T10:00:00Z stdout F"), b"");
    }

    #[test]
    fn carriage_return_dropped_from_full_lines_only() {
        assert_eq!(text_of(b"2024-05-01T10:00:00Z stdout F crlf\r"), b"crlf");
        assert_eq!(text_of(b"2024-05-01T10:00:00Z stdout P cr\r"), b"cr\r");
    }

    #[test]
    fn extra_tags_allowed() {
        let entry = parse(b"2024-05-01T10:00:00Z stdout P:x text").unwrap();
        assert!(entry.partial);
        let entry = parse(b"2024-05-01T10:00:00Z stdout F:x text").unwrap();
        assert!(!entry.partial);
    }

    #[test]
    fn malformed_lines_rejected() {
        for line in [
            &b""[..],
            b"plain text from an application",
            b"2024-05-01T10:00:00Z",
            b"2024-05-01T10:00:00Z stdout",
            b"2024-05-01T10:00:00Z stdin F text",
            b"2024-05-01T10:00:00Z stdout X text",
            b"2024-05-01T10:00:00Z stdout PF text",
            b"2024-05-01T10:00:00Z stdout  F text",
            b"not-a-time stdout F text",
            b"2024-05-01T10:00:00 stdout F text",
            br#"{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#,
        ] {
            assert_eq!(parse(line), None, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn huge_text_borrowed_whole() {
        let mut line = b"2024-05-01T10:00:00Z stdout F ".to_vec();
        line.extend(b"x".repeat(1 << 20));

        let entry = parse(&line).unwrap();

        assert!(matches!(entry.text, Cow::Borrowed(_)));
        assert_eq!(entry.text.len(), 1 << 20);
    }
}
