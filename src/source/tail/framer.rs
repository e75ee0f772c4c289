//! Splits the bytes of a file into lines, and remembers where each line ends
//! in the file so that a checkpoint can resume right after it.
//!
//! Rules:
//! - a line ends at `\n`, which is not part of the line. One `\r` right
//!   before it is dropped too (CRLF), and a `\r` anywhere else is kept;
//! - a line longer than `max_line_bytes` is cut into pieces of at most that
//!   size (see [`split_point`]); every piece but the last is marked
//!   [`Line::cut`], so the caller can tell a piece from a whole line;
//! - bytes after the last `\n` are held until the line is completed, or
//!   until the caller gives up waiting and calls [`LineFramer::flush_partial`].
//!
//! The framer reads straight into its own buffer, so bytes are copied once
//! from the kernel and framing needs no allocation per line. It never decodes
//! text: lines come out as bytes, and UTF-8 handling is the caller's choice.

use std::io::{self, Read};

/// Bytes requested from the file per read. Large reads keep the number of
/// system calls low at high throughput.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Bytes requested from a file whose last read reached its end. Idle files
/// then keep a small buffer, so many open files cost little memory.
const IDLE_READ_BYTES: usize = 4 * 1024;

/// How far back from the cap a long line is searched for whitespace to cut
/// at, in bytes.
const SPLIT_SEARCH_BYTES: usize = 256;

/// One line, or one piece of a long line, and where it lies in the file.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub bytes: &'a [u8],
    /// Offset of the first byte of this line or piece.
    pub start_offset: u64,
    /// Offset of the first byte after this line or piece, newline included:
    /// where reading resumes once it is acknowledged.
    pub end_offset: u64,
    /// True if this is a piece of a line longer than the cap and the line
    /// goes on in the next piece.
    pub cut: bool,
}

/// Line splitter over a file read in chunks.
#[derive(Debug)]
pub struct LineFramer {
    max_line_bytes: usize,
    /// Bytes read from the file; `buf[start..]` are not framed yet.
    buf: Vec<u8>,
    start: usize,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    /// `buf[start..scanned]` is known to contain no `\n`, so a long partial
    /// line is not searched again after every read.
    scanned: usize,
    /// True after a partial line was flushed: when its `\n` arrives later,
    /// the empty rest of that line is skipped instead of sent as a record.
    partial_flushed: bool,
    /// True after a read returned end of file, until one returns bytes.
    idle: bool,
}

impl LineFramer {
    /// Creates a framer whose next byte comes from file offset `offset`.
    pub fn new(max_line_bytes: usize, offset: u64) -> LineFramer {
        LineFramer {
            max_line_bytes: max_line_bytes.max(1),
            buf: Vec::new(),
            start: 0,
            buf_offset: offset,
            scanned: 0,
            partial_flushed: false,
            idle: false,
        }
    }

    /// Marks that the next byte continues a line whose start was already
    /// sent, after a restart at an offset that is not a line start: that
    /// line's ending alone then makes no empty record.
    pub fn resume_mid_line(&mut self) {
        self.partial_flushed = true;
    }

    /// Forgets everything buffered and continues at `offset`, after a
    /// truncation or a seek.
    pub fn reset(&mut self, offset: u64) {
        let max_line_bytes = self.max_line_bytes;
        let buf = std::mem::take(&mut self.buf);
        *self = LineFramer::new(max_line_bytes, offset);
        self.buf = buf;
        self.buf.clear();
    }

    /// File offset of the first byte not yet returned in a record.
    pub fn framed_offset(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// File offset of the next byte to read.
    pub fn read_offset(&self) -> u64 {
        self.buf_offset + self.buf.len() as u64
    }

    /// Returns true if bytes of an incomplete line are held.
    pub fn has_partial(&self) -> bool {
        self.start < self.buf.len()
    }

    /// Reads one chunk from `reader` into the buffer and returns the number
    /// of bytes read; 0 means end of file.
    ///
    /// Call it only after [`Self::next_line`] returned `None`, so that the
    /// buffer contains at most one partial line before the read.
    pub fn read_from(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        self.compact();

        let filled = self.buf.len();
        let chunk = if self.idle {
            IDLE_READ_BYTES
        } else {
            READ_CHUNK_BYTES
        };
        self.buf.resize(filled + chunk, 0);
        let result = loop {
            match reader.read(&mut self.buf[filled..]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let read = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(filled + read);

        self.idle = read == 0;
        if self.idle {
            self.buf.shrink_to(filled + IDLE_READ_BYTES);
        }
        result
    }

    /// Moves the unframed bytes to the front of the buffer.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.copy_within(self.start.., 0);
        self.buf.truncate(self.buf.len() - self.start);
        self.buf_offset += self.start as u64;
        self.scanned -= self.start;
        self.start = 0;
    }

    /// Returns the next complete line or line piece from the buffered bytes,
    /// or `None` if more bytes must be read first.
    pub fn next_line(&mut self) -> Option<Line<'_>> {
        loop {
            let search_from = self.scanned.max(self.start);
            let newline = memchr::memchr(b'\n', &self.buf[search_from..]).map(|i| search_from + i);

            let Some(newline) = newline else {
                self.scanned = self.buf.len();
                return self.next_piece_of_unterminated_line();
            };
            self.scanned = newline;

            let mut content_end = newline;
            if content_end > self.start && self.buf[content_end - 1] == b'\r' {
                content_end -= 1;
            }
            let content_len = content_end - self.start;

            if content_len > self.max_line_bytes {
                return Some(self.emit_piece(content_end));
            }

            let line_start = self.start;
            self.start = newline + 1;
            self.scanned = self.start;

            // The rest of a flushed partial line is only its line ending.
            if std::mem::take(&mut self.partial_flushed) && content_len == 0 {
                continue;
            }

            return Some(Line {
                bytes: &self.buf[line_start..content_end],
                start_offset: self.buf_offset + line_start as u64,
                end_offset: self.framed_offset(),
                cut: false,
            });
        }
    }

    /// Cuts a piece off a line whose content, ending at `content_end`, is
    /// longer than the cap.
    fn emit_piece(&mut self, content_end: usize) -> Line<'_> {
        self.partial_flushed = false;

        let piece_start = self.start;
        let cut = split_point(&self.buf[piece_start..content_end], self.max_line_bytes);
        self.start += cut;
        Line {
            bytes: &self.buf[piece_start..piece_start + cut],
            start_offset: self.buf_offset + piece_start as u64,
            end_offset: self.framed_offset(),
            cut: true,
        }
    }

    /// Emits a piece of a line not yet terminated only once it is certain to
    /// be longer than the cap: one extra byte may still be the `\r` of a
    /// CRLF, so a line of exactly `max_line_bytes` plus `\r` waits.
    fn next_piece_of_unterminated_line(&mut self) -> Option<Line<'_>> {
        let pending = self.buf.len() - self.start;
        let certain_overflow = pending > self.max_line_bytes + 1
            || (pending == self.max_line_bytes + 1 && self.buf.last() != Some(&b'\r'));
        if !certain_overflow {
            return None;
        }
        let content_end = self.buf.len();
        Some(self.emit_piece(content_end))
    }

    /// Returns the held bytes of an incomplete line as a whole line, as
    /// they are, or `None` if there are none. The caller decides when the
    /// line has waited long enough. Bytes that complete it later make a new
    /// line.
    pub fn flush_partial(&mut self) -> Option<Line<'_>> {
        if !self.has_partial() {
            return None;
        }
        let piece_start = self.start;
        self.start = self.buf.len();
        self.scanned = self.start;
        self.partial_flushed = true;
        Some(Line {
            bytes: &self.buf[piece_start..],
            start_offset: self.buf_offset + piece_start as u64,
            end_offset: self.framed_offset(),
            cut: false,
        })
    }
}

/// Chooses where to cut `line`, which is longer than `max`, and returns the
/// length of the first piece, in `1..=max`.
///
/// The cut goes just after the last ASCII whitespace in the final
/// [`SPLIT_SEARCH_BYTES`] before the cap, so a word or value is rarely cut
/// in two. Without whitespace (minified JSON), it goes just after the last
/// JSON or key-value delimiter (`,`, `"`, `;`, `&`, `{`, `}`, `[`, `]`),
/// because the values detectors look for never contain one. Without either,
/// it goes at the last UTF-8 character boundary at or before the cap.
///
/// NOTE: a value that ends up cut in two is redacted in neither piece; the
/// delimiter search makes that rare, not impossible.
pub fn split_point(line: &[u8], max: usize) -> usize {
    debug_assert!(line.len() > max && max > 0);

    let window_start = max.saturating_sub(SPLIT_SEARCH_BYTES);
    let whitespace = line[window_start..max]
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
        .map(|i| window_start + i + 1);
    if let Some(cut) = whitespace {
        return cut;
    }
    let delimiter = line[window_start..max]
        .iter()
        .rposition(|b| matches!(b, b',' | b'"' | b';' | b'&' | b'{' | b'}' | b'[' | b']'))
        .map(|i| window_start + i + 1);
    if let Some(cut) = delimiter {
        return cut;
    }

    // A UTF-8 character is at most 4 bytes long, so at most 3 continuation
    // bytes (0b10xx_xxxx) separate the cap from a boundary. Invalid UTF-8
    // has no boundary to find, and is cut at the cap.
    let mut cut = max;
    while cut > 0 && max - cut < 3 && (line[cut] & 0b1100_0000) == 0b1000_0000 {
        cut -= 1;
    }
    if cut == 0 || (line[cut] & 0b1100_0000) == 0b1000_0000 {
        return max;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to a framer in reads of `chunk` bytes and collects every
    /// line with its end offset, flushing a partial line at the end if
    /// `flush` is set. Also returns the `cut` flag of each line, and checks
    /// that each line starts where the one before it ended.
    fn frame(
        input: &[u8],
        max: usize,
        chunk: usize,
        flush: bool,
    ) -> (Vec<(Vec<u8>, u64)>, Vec<bool>) {
        let mut framer = LineFramer::new(max, 0);
        let mut records = Vec::new();
        let mut cuts = Vec::new();
        let mut expected_start = 0;
        let mut collect = |line: Line<'_>| {
            assert!(line.start_offset >= expected_start, "{line:?}");
            expected_start = line.end_offset;
            records.push((line.bytes.to_vec(), line.end_offset));
            cuts.push(line.cut);
        };
        for piece in input.chunks(chunk.max(1)) {
            let mut reader = piece;
            while framer.read_from(&mut reader).unwrap() > 0 {}
            while let Some(line) = framer.next_line() {
                collect(line);
            }
        }
        if flush && let Some(line) = framer.flush_partial() {
            collect(line);
        }
        (records, cuts)
    }

    fn bodies(records: &[(Vec<u8>, u64)]) -> Vec<&[u8]> {
        records.iter().map(|(bytes, _)| bytes.as_slice()).collect()
    }

    #[test]
    fn lines_split_on_newline_with_offsets() {
        let (records, _) = frame(b"one\ntwo\n\nthree\n", 100, 1000, false);

        assert_eq!(
            records,
            vec![
                (b"one".to_vec(), 4),
                (b"two".to_vec(), 8),
                (b"".to_vec(), 9),
                (b"three".to_vec(), 15),
            ]
        );
    }

    #[test]
    fn crlf_stripped_lone_cr_kept() {
        let (records, _) = frame(b"a\r\nb\rc\n\r\rd\r\r\n", 100, 1000, false);

        assert_eq!(
            bodies(&records),
            vec![&b"a"[..], &b"b\rc"[..], &b"\r\rd\r"[..]]
        );
    }

    #[test]
    fn crlf_split_across_reads() {
        let (records, _) = frame(b"abc\r\ndef\r\n", 100, 4, false);

        assert_eq!(bodies(&records), vec![&b"abc"[..], &b"def"[..]]);
        assert_eq!(records[1].1, 10);
    }

    #[test]
    fn one_byte_reads_match_whole_reads() {
        let input = b"first line\r\nsecond\rline\n\nlast line that is long enough\n";

        let (whole, _) = frame(input, 8, 10_000, false);
        let (bytewise, _) = frame(input, 8, 1, false);

        assert_eq!(whole, bytewise);
    }

    #[test]
    fn partial_line_held_until_completed() {
        let mut framer = LineFramer::new(100, 0);
        let mut reader = &b"done\nhalf"[..];
        framer.read_from(&mut reader).unwrap();

        assert_eq!(framer.next_line().unwrap().bytes, b"done");
        assert!(framer.next_line().is_none());
        assert!(framer.has_partial());
        assert_eq!(framer.framed_offset(), 5);

        let mut reader = &b" more\n"[..];
        framer.read_from(&mut reader).unwrap();
        let line = framer.next_line().unwrap();
        assert_eq!(line.bytes, b"half more");
        assert_eq!(line.end_offset, 15);
    }

    #[test]
    fn flushed_partial_then_rest_of_line() {
        let mut framer = LineFramer::new(100, 0);
        framer.read_from(&mut &b"abc"[..]).unwrap();
        assert!(framer.next_line().is_none());

        let flushed = framer.flush_partial().unwrap();
        assert_eq!(flushed.bytes, b"abc");
        assert_eq!(flushed.end_offset, 3);
        assert!(!framer.has_partial());

        // The newline completing the flushed line makes no empty record.
        framer.read_from(&mut &b"\nnext\n"[..]).unwrap();
        let line = framer.next_line().unwrap();
        assert_eq!(line.bytes, b"next");
        assert_eq!(line.end_offset, 9);
        assert!(framer.next_line().is_none());
    }

    #[test]
    fn flushed_partial_continued_is_new_record() {
        let mut framer = LineFramer::new(100, 0);
        framer.read_from(&mut &b"abc"[..]).unwrap();
        assert!(framer.next_line().is_none());
        framer.flush_partial().unwrap();

        framer.read_from(&mut &b"def\n\n"[..]).unwrap();
        assert_eq!(framer.next_line().unwrap().bytes, b"def");
        // A real empty line after that is kept.
        assert_eq!(framer.next_line().unwrap().bytes, b"");
    }

    #[test]
    fn long_line_cut_after_whitespace() {
        let input = b"aaaa bbbb cccc dddd\n";

        let (records, splits) = frame(input, 12, 1000, false);

        assert_eq!(
            bodies(&records),
            vec![&b"aaaa bbbb "[..], &b"cccc dddd"[..]]
        );
        assert_eq!(records[0].1, 10);
        assert_eq!(records[1].1, 20);
        assert_eq!(splits, vec![true, false]);
    }

    #[test]
    fn long_line_pieces_marked_cut() {
        let input = [b"x".repeat(35), b"\nshort\n".to_vec()].concat();

        let (records, cuts) = frame(&input, 10, 1000, false);

        assert_eq!(records.len(), 5);
        assert_eq!(records[3].0, b"xxxxx");
        assert_eq!(records[4].0, b"short");
        assert_eq!(cuts, vec![true, true, true, false, false]);
    }

    #[test]
    fn line_start_offsets_exact() {
        let mut framer = LineFramer::new(4, 100);
        framer.read_from(&mut &b"ab\r\ncdefgh\n"[..]).unwrap();

        let first = framer.next_line().unwrap();
        assert_eq!((first.start_offset, first.end_offset), (100, 104));
        let piece = framer.next_line().unwrap();
        assert_eq!(
            (piece.start_offset, piece.end_offset, piece.cut),
            (104, 108, true)
        );
        let rest = framer.next_line().unwrap();
        assert_eq!(
            (rest.start_offset, rest.end_offset, rest.cut),
            (108, 111, false)
        );
    }

    #[test]
    fn unterminated_long_line_split_while_reading() {
        let input = b"x".repeat(25);

        let (records, splits) = frame(&input, 10, 3, false);

        // Two full pieces are certain; the last 5 bytes wait for a newline.
        assert_eq!(bodies(&records), vec![&b"xxxxxxxxxx"[..]; 2]);
        assert_eq!(records[1].1, 20);
        assert_eq!(splits, vec![true, true]);
    }

    #[test]
    fn line_at_cap_with_crlf_not_split() {
        let input = b"0123456789\r\n";

        let (records, splits) = frame(input, 10, 1, false);

        assert_eq!(bodies(&records), vec![&b"0123456789"[..]]);
        assert_eq!(splits, vec![false]);
    }

    #[test]
    fn long_line_cut_at_char_boundary() {
        // "é" is two bytes; a cut at byte 5 would fall inside the third one.
        let input = "aéééé\n".as_bytes();

        let (records, _) = frame(input, 6, 1000, false);

        assert_eq!(bodies(&records), vec!["aéé".as_bytes(), "éé".as_bytes()]);
        for (bytes, _) in &records {
            assert!(std::str::from_utf8(bytes).is_ok());
        }
    }

    #[test]
    fn split_point_cases() {
        let cases: &[(&[u8], usize, usize)] = &[
            (b"ab cd", 4, 3),
            (b"abcde", 4, 4),
            (br#"{"a":"bc"}"#, 8, 6),
            (b"a,b c,d", 6, 4),
            (b"a\tbcde", 4, 2),
            ("ab€x".as_bytes(), 4, 2),
            (&[0x80, 0x80, 0x80, 0x80, 0x80], 4, 4),
        ];
        for &(line, max, expected) in cases {
            assert_eq!(split_point(line, max), expected, "line {line:?} max {max}");
        }
    }

    #[test]
    fn whitespace_search_limited_to_window() {
        let mut line = b"a ".to_vec();
        line.extend(b"x".repeat(600));

        assert_eq!(split_point(&line, 500), 500);
    }

    #[test]
    fn idle_framer_releases_buffer() {
        let mut framer = LineFramer::new(100, 0);
        let big = b"x\n".repeat(2 * READ_CHUNK_BYTES);
        let mut reader = &big[..];
        assert_eq!(framer.read_from(&mut reader).unwrap(), READ_CHUNK_BYTES);
        while framer.next_line().is_some() {}

        let mut empty = &b""[..];
        assert_eq!(framer.read_from(&mut empty).unwrap(), 0);

        assert!(framer.buf.capacity() <= 2 * IDLE_READ_BYTES);
        // The first read after idling is small, the next ones full size.
        assert_eq!(framer.read_from(&mut reader).unwrap(), IDLE_READ_BYTES);
        while framer.next_line().is_some() {}
        assert_eq!(framer.read_from(&mut reader).unwrap(), READ_CHUNK_BYTES);
    }

    #[test]
    fn reset_restarts_at_offset() {
        let mut framer = LineFramer::new(100, 0);
        framer.read_from(&mut &b"old\npartial"[..]).unwrap();
        assert!(framer.next_line().is_some());

        framer.reset(0);

        assert!(!framer.has_partial());
        assert_eq!(framer.read_offset(), 0);
        framer.read_from(&mut &b"new\n"[..]).unwrap();
        let line = framer.next_line().unwrap();
        assert_eq!(line.bytes, b"new");
        assert_eq!(line.end_offset, 4);
    }
}
