//! Turns the lines of one file into log records, in three steps:
//!
//! 1. decode: a line of a CRI or Docker file is parsed into its stream,
//!    time and text (see [`super::format`]). With `format: auto` the layout
//!    is chosen from the first line. A line that does not parse is passed
//!    on as raw text and counted as malformed; it never stops the file;
//! 2. merge: the parts of a line that the runtime split (CRI `P` lines,
//!    Docker entries without `\n`) or that the framer cut are put back
//!    together, up to `max_line_bytes`. A longer line is cut there, once
//!    at each part boundary while parts fit and with [`split_point`] inside a
//!    part that alone is too long, and the cut is counted;
//! 3. join: with `multiline` set, continuation lines are joined to the
//!    record they continue (see [`super::multiline`]).
//!
//! Merging and joining are kept per stream, so the stdout and stderr lines
//! of one container never mix.
//!
//! Checkpoints: a record's [`Record::end_offset`] is where reading resumes
//! once it is acknowledged. It is the end of the record's last line, or of
//! a later line already sent in an earlier record, with two exceptions.
//! It is never past the start of a line still being merged or joined, in
//! any stream, so a restart skips nothing. And it never falls inside
//! another record, because reading from there would send that record's
//! tail as a record of its own. Where the stdout and stderr records of a
//! container overlap, it moves back to the start of the overlapping record,
//! so a restart can send whole records again, but never pieces of one.
//!
//! Nothing here reads the file or the clock: lines and the time they were
//! read come from the caller.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::format::{self, Entry, Stream};
use super::framer::{Line, split_point};
use super::multiline::{JoinLine, Joined, Joiner};
use crate::config::{LogFormat, MultilineConfig};

/// How far past `max_line_bytes` the framer reads a line of a CRI or Docker
/// file before cutting it, as a factor. Such a line carries a header or
/// JSON escapes around its text (Go's JSON encoder writes `<` as six bytes),
/// and a line cut before its end no longer parses.
const CONTAINER_LINE_FACTOR: usize = 4;

/// The settings that turn one file's lines into records.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    pub format: LogFormat,
    pub max_line_bytes: usize,
    pub partial_line_timeout: Duration,
    pub multiline: Option<MultilineConfig>,
}

impl ReadSettings {
    /// Returns the longest line the framer passes on whole.
    pub fn framer_line_cap(&self) -> usize {
        match self.format {
            LogFormat::Raw => self.max_line_bytes,
            LogFormat::Auto | LogFormat::Cri | LogFormat::Docker => {
                self.max_line_bytes.saturating_mul(CONTAINER_LINE_FACTOR)
            }
        }
    }
}

/// One log record ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The text, converted lossily if it was not valid UTF-8.
    pub body: String,
    pub invalid_utf8: bool,
    /// The runtime's time of the record's first line, in nanoseconds since
    /// the Unix epoch; 0 for raw lines, whose time is unknown.
    pub time_unix_nano: u64,
    /// The container stream of a CRI or Docker line.
    pub stream: Option<Stream>,
    /// Offset where reading resumes once this record and every record
    /// before it are acknowledged.
    pub end_offset: u64,
}

/// Events counted since the last [`Assembler::take_counts`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Lines read, each counted once however many pieces the framer cut.
    pub lines: u64,
    /// Lines of CRI or Docker files that did not parse.
    pub malformed: u64,
    /// Lines longer than `max_line_bytes` that were cut.
    pub split: u64,
    /// Joined records sent early because they reached a multiline limit.
    pub multiline_cut: u64,
}

/// The layout of a file's lines, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `format: auto` before the first line. `container_log` is true for
    /// a path in the kubelet's layout, whose lines are never raw, so
    /// detection goes on until a line parses.
    Detecting {
        container_log: bool,
    },
    Raw,
    Cri,
    Docker,
}

/// Merge and join state is kept per slot: raw text, stdout, stderr.
const SLOTS: usize = 3;

/// Records per slot whose offsets are remembered to keep a resume point out
/// of them (see [`SentSpans`]).
const MAX_SENT_SPANS: usize = 1024;

fn slot_of(stream: Option<Stream>) -> usize {
    match stream {
        None => 0,
        Some(Stream::Stdout) => 1,
        Some(Stream::Stderr) => 2,
    }
}

fn stream_of(slot: usize) -> Option<Stream> {
    match slot {
        1 => Some(Stream::Stdout),
        2 => Some(Stream::Stderr),
        _ => None,
    }
}

/// A framer piece whose line goes on in the next piece, and what the next
/// piece belongs to.
#[derive(Debug, Clone, Copy)]
struct CutLine {
    slot: usize,
    time_unix_nano: u64,
    /// True if the runtime marked the line as partial, so it goes on after
    /// its last piece too.
    partial: bool,
}

/// Record assembly for one file.
#[derive(Debug)]
pub struct Assembler {
    settings: Arc<ReadSettings>,
    container_log: bool,
    layout: Layout,
    mergers: [Merger; SLOTS],
    joiners: [Joiner; SLOTS],
    cut_line: Option<CutLine>,
    /// Highest end offset of a record made so far.
    emitted_end: u64,
    sent_spans: SentSpans,
    ready: VecDeque<Record>,
    /// Chunks made by the merger in one step, kept to reuse the allocation.
    chunks: Vec<Chunk>,
    counts: Counts,
}

impl Assembler {
    /// Creates the assembler of a file whose next line starts at `offset`.
    /// `container_log` is true if the file's path is in the kubelet's
    /// layout.
    pub fn new(settings: Arc<ReadSettings>, container_log: bool, offset: u64) -> Assembler {
        let layout = match settings.format {
            LogFormat::Auto => Layout::Detecting { container_log },
            LogFormat::Raw => Layout::Raw,
            LogFormat::Cri => Layout::Cri,
            LogFormat::Docker => Layout::Docker,
        };
        Assembler {
            settings,
            container_log,
            layout,
            mergers: Default::default(),
            joiners: Default::default(),
            cut_line: None,
            emitted_end: offset,
            sent_spans: SentSpans::default(),
            ready: VecDeque::new(),
            chunks: Vec::new(),
            counts: Counts::default(),
        }
    }

    pub fn settings(&self) -> &ReadSettings {
        &self.settings
    }

    /// Forgets every pending line and continues at `offset`, after a
    /// truncation. Counts not yet taken are kept.
    pub fn reset(&mut self, offset: u64) {
        let counts = std::mem::take(&mut self.counts);
        *self = Assembler::new(self.settings.clone(), self.container_log, offset);
        self.counts = counts;
    }

    /// Returns true if no line is pending and no record is waiting.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
            && self.mergers.iter().all(|merger| merger.pending.is_none())
            && self
                .joiners
                .iter()
                .all(|joiner| joiner.pending_start().is_none())
    }

    /// Returns the next record ready to send.
    pub fn pop(&mut self) -> Option<Record> {
        self.ready.pop_front()
    }

    pub fn take_counts(&mut self) -> Counts {
        std::mem::take(&mut self.counts)
    }

    /// Adds one line or framer piece, read at `now`.
    pub fn push_line(&mut self, line: Line<'_>, now: Instant) {
        let (slot, text, time_unix_nano, runtime_partial) = match self.cut_line.take() {
            Some(cut) => (
                cut.slot,
                Cow::Borrowed(line.bytes),
                cut.time_unix_nano,
                cut.partial,
            ),
            None => {
                self.counts.lines += 1;
                self.decode(line.bytes)
            }
        };
        if line.cut {
            self.cut_line = Some(CutLine {
                slot,
                time_unix_nano,
                partial: runtime_partial,
            });
        }

        let part = Part {
            text,
            time_unix_nano,
            partial: line.cut || runtime_partial,
            start_offset: line.start_offset,
            end_offset: line.end_offset,
        };
        let mut chunks = std::mem::take(&mut self.chunks);
        self.mergers[slot].push(
            part,
            self.settings.max_line_bytes,
            now,
            &mut chunks,
            &mut self.counts,
        );
        for chunk in chunks.drain(..) {
            self.dispatch(slot, chunk);
        }
        self.chunks = chunks;
    }

    /// Sends what waited too long at `now`: lines still being merged after
    /// `partial_line_timeout`, and joined records after the multiline
    /// timeout. Call it only when the file has no more data for now, so a
    /// backlog is never mistaken for a pause.
    pub fn flush_expired(&mut self, now: Instant) {
        let multiline_timeout = self.settings.multiline.as_ref().map(|m| m.timeout());
        self.flush_older_than(now, self.settings.partial_line_timeout, multiline_timeout);
    }

    /// Sends every line still being merged or joined as it is, after a
    /// truncation, when no later line can complete it.
    pub fn flush_all(&mut self, now: Instant) {
        let multiline_timeout = self.settings.multiline.as_ref().map(|_| Duration::ZERO);
        self.flush_older_than(now, Duration::ZERO, multiline_timeout);
    }

    fn flush_older_than(
        &mut self,
        now: Instant,
        partial_line_timeout: Duration,
        multiline_timeout: Option<Duration>,
    ) {
        for slot in 0..SLOTS {
            if let Some(chunk) = self.mergers[slot].take_expired(now, partial_line_timeout) {
                self.dispatch(slot, chunk);
            }
        }

        // `None` when the file has no multiline settings, so no joiner
        // has lines pending.
        if let Some(timeout) = multiline_timeout {
            for slot in 0..SLOTS {
                if let Some(joined) = self.joiners[slot].take_expired(now, timeout) {
                    self.emit_joined(slot, joined);
                }
            }
        }
    }

    /// Parses a whole line, or the first piece of a cut one, and returns
    /// its slot, text, time and whether the runtime marked it partial.
    fn decode<'a>(&mut self, bytes: &'a [u8]) -> (usize, Cow<'a, [u8]>, u64, bool) {
        let parsed = match self.layout {
            Layout::Raw => return (slot_of(None), Cow::Borrowed(bytes), 0, false),
            Layout::Cri => format::cri::parse(bytes),
            Layout::Docker => format::docker::parse(bytes),
            Layout::Detecting { container_log } => self.detect(bytes, container_log),
        };

        match parsed {
            Some(Entry {
                stream,
                time_unix_nano,
                text,
                partial,
            }) => (slot_of(Some(stream)), text, time_unix_nano, partial),
            None => {
                if self.layout != Layout::Raw {
                    self.counts.malformed += 1;
                }
                (slot_of(None), Cow::Borrowed(bytes), 0, false)
            }
        }
    }

    /// Chooses the layout from `bytes`, the first line of a file read with
    /// `format: auto`, and parses it.
    fn detect<'a>(&mut self, bytes: &'a [u8], container_log: bool) -> Option<Entry<'a>> {
        if let Some(entry) = format::docker::parse(bytes) {
            self.layout = Layout::Docker;
            return Some(entry);
        }
        if let Some(entry) = format::cri::parse(bytes) {
            self.layout = Layout::Cri;
            return Some(entry);
        }
        if !container_log {
            self.layout = Layout::Raw;
        }
        None
    }

    /// Hands a merged line to the joiner of its slot, or makes it a record.
    fn dispatch(&mut self, slot: usize, chunk: Chunk) {
        let (text, invalid_utf8) = into_string(chunk.text);
        // Malformed lines of a CRI or Docker file are never joined, because
        // the start pattern is written for the container's own lines.
        let joins = slot != slot_of(None) || self.layout == Layout::Raw;

        match &self.settings.multiline {
            Some(multiline) if joins => {
                let line = JoinLine {
                    text,
                    invalid_utf8,
                    time_unix_nano: chunk.time_unix_nano,
                    start_offset: chunk.start_offset,
                    end_offset: chunk.end_offset,
                    after_cut: chunk.after_cut,
                };
                // The wait for more lines counts from when this one was
                // read, also when it comes late from a timed-out merge.
                let pushed = self.joiners[slot].push(line, multiline, chunk.last_part_at);
                if pushed.limit_reached {
                    self.counts.multiline_cut += 1;
                }
                if let Some(joined) = pushed.finished {
                    self.emit_joined(slot, joined);
                }
            }
            _ => {
                let record = Record {
                    body: text,
                    invalid_utf8,
                    time_unix_nano: chunk.time_unix_nano,
                    stream: stream_of(slot),
                    end_offset: chunk.end_offset,
                };
                self.emit(slot, record, chunk.start_offset);
            }
        }
    }

    fn emit_joined(&mut self, slot: usize, joined: Joined) {
        let record = Record {
            body: joined.body,
            invalid_utf8: joined.invalid_utf8,
            time_unix_nano: joined.time_unix_nano,
            stream: stream_of(slot),
            end_offset: joined.end_offset,
        };
        self.emit(slot, record, joined.start_offset);
    }

    /// Queues `record`, which spans from `start_offset` to its end offset,
    /// and moves its end offset to where a restart must resume.
    fn emit(&mut self, slot: usize, mut record: Record, start_offset: u64) {
        // Every line before the highest end offset sent so far was read, so
        // it is in a record made already, or still pending.
        self.emitted_end = self.emitted_end.max(record.end_offset);
        self.sent_spans.add(slot, start_offset, record.end_offset);

        let merging = self.mergers.iter().filter_map(Merger::pending_start);
        let joining = self.joiners.iter().filter_map(Joiner::pending_start);
        let before_pending = merging.chain(joining).fold(self.emitted_end, u64::min);
        record.end_offset = self.sent_spans.resume_point(before_pending);
        self.ready.push_back(record);
    }
}

/// The offsets that recent records span, per slot, so that a resume point
/// never falls inside one. Records of one slot never overlap, so each list
/// is ordered by start and by end.
///
/// Resume points only grow, so spans that end at or before the last one
/// are forgotten.
// NOTE: past MAX_SENT_SPANS records of one slot without a resume point
// between them (stdout and stderr records that overlap without pause), the
// oldest are forgotten, and a restart may then send a record's tail alone.
#[derive(Debug, Default)]
struct SentSpans {
    per_slot: [VecDeque<(u64, u64)>; SLOTS],
}

impl SentSpans {
    fn add(&mut self, slot: usize, start: u64, end: u64) {
        if end <= start {
            return;
        }
        let spans = &mut self.per_slot[slot];
        if spans.len() == MAX_SENT_SPANS {
            spans.pop_front();
        }
        spans.push_back((start, end));
    }

    /// Returns the highest offset at or below `bound` that no span crosses.
    fn resume_point(&mut self, bound: u64) -> u64 {
        let mut point = bound;
        while let Some(start) = self
            .per_slot
            .iter()
            .filter_map(|spans| crossing_start(spans, point))
            .min()
        {
            point = start;
        }

        for spans in &mut self.per_slot {
            while spans.front().is_some_and(|&(_, end)| end <= point) {
                spans.pop_front();
            }
        }
        point
    }
}

/// Returns the start of the span in `spans` that `point` falls strictly
/// inside, if any.
fn crossing_start(spans: &VecDeque<(u64, u64)>, point: u64) -> Option<u64> {
    let after_last_before = spans.partition_point(|&(start, _)| start < point);
    let &(start, end) = spans.get(after_last_before.checked_sub(1)?)?;
    (point < end).then_some(start)
}

/// Converts bytes to text, lossily if they are not UTF-8, and reports
/// whether they were.
fn into_string(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(err) => (String::from_utf8_lossy(err.as_bytes()).into_owned(), true),
    }
}

/// One part of a line: a whole line, a runtime's partial line, or a framer
/// piece.
struct Part<'a> {
    text: Cow<'a, [u8]>,
    time_unix_nano: u64,
    /// True if the line goes on in a later part.
    partial: bool,
    start_offset: u64,
    end_offset: u64,
}

/// A merged line, or a piece of one cut at `max_line_bytes`.
#[derive(Debug)]
struct Chunk {
    text: Vec<u8>,
    time_unix_nano: u64,
    /// Offset of the first line that contributed to it.
    start_offset: u64,
    /// Offset where reading resumes once it is sent: the end of its last
    /// part, or the start of a part that it holds only the beginning of.
    end_offset: u64,
    /// True if it continues a line whose earlier text was cut off.
    after_cut: bool,
    /// When its last part was read.
    last_part_at: Instant,
}

/// Puts the parts of one stream's lines back together.
#[derive(Debug, Default)]
struct Merger {
    pending: Option<Merging>,
    /// True once a piece of the current line was sent; the line's other
    /// pieces then never join the record before them, and the line is
    /// counted as split once.
    line_was_cut: bool,
}

#[derive(Debug)]
struct Merging {
    text: Vec<u8>,
    time_unix_nano: u64,
    start_offset: u64,
    end_offset: u64,
    last_part_at: Instant,
}

impl Merger {
    fn push(
        &mut self,
        part: Part<'_>,
        max_bytes: usize,
        now: Instant,
        out: &mut Vec<Chunk>,
        counts: &mut Counts,
    ) {
        // Most lines are whole and fit: they need no merge buffer.
        if self.pending.is_none() && !part.partial && part.text.len() <= max_bytes {
            let merging = Merging {
                text: part.text.into_owned(),
                time_unix_nano: part.time_unix_nano,
                start_offset: part.start_offset,
                end_offset: part.end_offset,
                last_part_at: now,
            };
            out.push(self.chunk(merging, false, counts));
            return;
        }

        // Cutting where the runtime did keeps the offsets exact: the next
        // chunk starts with this part's line.
        let overflows = self.pending.as_ref().is_some_and(|merging| {
            !merging.text.is_empty() && merging.text.len() + part.text.len() > max_bytes
        });
        if overflows && let Some(merging) = self.pending.take() {
            out.push(self.chunk(merging, true, counts));
        }

        let merging = self.pending.get_or_insert_with(|| Merging {
            text: Vec::new(),
            time_unix_nano: part.time_unix_nano,
            start_offset: part.start_offset,
            end_offset: part.end_offset,
            last_part_at: now,
        });
        merging.text.extend_from_slice(&part.text);
        merging.end_offset = part.end_offset;
        merging.last_part_at = now;

        // A single part longer than the cap is cut inside. The rest is
        // pending from this part's line, so a restart reads that line again
        // and may send its first piece twice, but never loses one.
        while merging.text.len() > max_bytes {
            let cut = split_point(&merging.text, max_bytes);
            let rest = merging.text.split_off(cut);
            let piece = std::mem::replace(&mut merging.text, rest);
            let start_offset = std::mem::replace(&mut merging.start_offset, part.start_offset);
            let time_unix_nano = merging.time_unix_nano;
            let after_cut = std::mem::replace(&mut self.line_was_cut, true);
            if !after_cut {
                counts.split += 1;
            }
            out.push(Chunk {
                text: piece,
                time_unix_nano,
                start_offset,
                end_offset: part.start_offset,
                after_cut,
                last_part_at: now,
            });
        }

        if !part.partial
            && let Some(merging) = self.pending.take()
        {
            out.push(self.chunk(merging, false, counts));
        }
    }

    /// Makes a chunk of merged text; `cut` tells whether the line goes on.
    fn chunk(&mut self, merging: Merging, cut: bool, counts: &mut Counts) -> Chunk {
        let after_cut = std::mem::replace(&mut self.line_was_cut, cut);
        if cut && !after_cut {
            counts.split += 1;
        }
        Chunk {
            text: merging.text,
            time_unix_nano: merging.time_unix_nano,
            start_offset: merging.start_offset,
            end_offset: merging.end_offset,
            after_cut,
            last_part_at: merging.last_part_at,
        }
    }

    /// Returns the pending text as a whole line if no part came for
    /// `timeout`.
    fn take_expired(&mut self, now: Instant, timeout: Duration) -> Option<Chunk> {
        let merging = self.pending.as_ref()?;
        if now.saturating_duration_since(merging.last_part_at) < timeout {
            return None;
        }
        let merging = self.pending.take()?;
        Some(self.chunk(merging, false, &mut Counts::default()))
    }

    fn pending_start(&self) -> Option<u64> {
        self.pending.as_ref().map(|merging| merging.start_offset)
    }
}

#[cfg(test)]
mod tests;
