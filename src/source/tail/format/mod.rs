//! Parsers for the line layouts of container runtimes: the CRI log format
//! of containerd and CRI-O ([`cri`]), and Docker's json-file format
//! ([`docker`]).
//!
//! A parser turns one physical line into an [`Entry`]: the text the
//! container wrote, its stream, the runtime's time, and whether the runtime
//! split the line and more of it follows. A line that does not parse
//! returns `None`, and the caller passes it on as raw text. The CRI parser
//! borrows the text from the line; the Docker parser allocates it, because
//! the `\n` at its end is always an escape. Parsers never log line content.

pub mod cri;
pub mod docker;

use std::borrow::Cow;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The output stream of a container that a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// Returns the name used by the runtimes and by the OpenTelemetry
    /// attribute `log.iostream`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn parse(name: &[u8]) -> Option<Stream> {
        match name {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// One parsed line of a container log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub stream: Stream,
    /// The runtime's time of the line, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The text the container wrote, without the line ending. It is not
    /// checked to be UTF-8.
    pub text: Cow<'a, [u8]>,
    /// True if the runtime split a long line here and the next entry of the
    /// same stream continues it.
    pub partial: bool,
}

/// Parses an RFC 3339 time, such as `2024-05-01T10:00:00.123456789Z` or
/// `2024-05-01T12:00:00+02:00`, into nanoseconds since the Unix epoch.
/// Times before the epoch are rejected, because no runtime writes them.
fn parse_time(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let time = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    u64::try_from(time.unix_timestamp_nanos()).ok()
}

/// Drops one `\r` at the end of a complete line, as the raw line framer
/// drops the `\r` of a CRLF line ending.
fn strip_carriage_return(text: &[u8]) -> &[u8] {
    text.strip_suffix(b"\r").unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_with_nanoseconds_and_offsets() {
        let utc = parse_time(b"2024-05-01T10:00:00.123456789Z").unwrap();
        assert_eq!(utc, 1_714_557_600_123_456_789);

        let offset = parse_time(b"2024-05-01T12:00:00.123456789+02:00").unwrap();
        assert_eq!(offset, utc);

        let whole_seconds = parse_time(b"2024-05-01T10:00:00Z").unwrap();
        assert_eq!(whole_seconds, 1_714_557_600_000_000_000);
    }

    #[test]
    fn time_rejects_other_text() {
        for text in [
            &b"2024-05-01T10:00:00"[..],
            b"1969-12-31T23:59:59Z",
            b"yesterday",
            b"",
            b"2024-05-01T10:00:00\xffZ",
        ] {
            assert_eq!(
                parse_time(text),
                None,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }
}
