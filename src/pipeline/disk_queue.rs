//! A queue of redacted batches in segment files, so that batches survive a
//! restart or a crash of the agent while the downstream is away.
//!
//! # Layout
//!
//! The queue directory contains numbered segment files (`00000000000000000001.seg`,
//! ...), a `cursor` file and a `lock` file. Each batch is one record in a
//! segment: a 4-byte little-endian length, a 4-byte CRC-32 of the body,
//! then the body (a signal byte and the protobuf export request, see
//! [`Payload::encode_tagged`]). Records are appended to the newest segment
//! and read in order from the oldest. The cursor names the first byte not
//! yet accepted by the downstream. A segment is deleted once the cursor has
//! passed all of it, and that is the only way disk space is freed.
//!
//! # Durability (the fsync policy)
//!
//! - A batch is acknowledged to its source only after its record was
//!   written and `fdatasync`ed. Batches appended at the same time share one
//!   sync (group commit).
//! - A new segment file is followed by an `fsync` of the directory, so its
//!   name survives a power loss.
//! - The cursor is replaced by write and rename, without a sync. After a
//!   crash the cursor can be older than the last acknowledgement from the
//!   downstream, so batches may be sent a second time. Delivery is at
//!   least once, never at most once, provided the disk keeps what was
//!   synced.
//! - After a restart, writing continues in a new segment. A record torn by
//!   a crash therefore stays at the end of an old segment. It fails the
//!   length or checksum check, and it is skipped and counted in
//!   `hush_queue_frames_corrupt_total`. Its source was never acknowledged,
//!   so the source sends it again.
//!
//! Only redacted batches reach this module: the pipeline redacts before it
//! appends. The queue never decides what is retried; it hands records to
//! the exporter in order and forgets them when told to.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::payload::Payload;
use super::{DeliveryError, Entry, Ticket};
use crate::telemetry::Metrics;

/// Bytes before each record body: its length and its CRC-32.
const HEADER_BYTES: u64 = 8;

/// Records appended together and synced once, at most.
const MAX_GROUP: usize = 256;

/// How often a reader with nothing to read checks whether the agent is
/// stopping.
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// Decoded batches the reader may hold ready for the exporter.
const READ_AHEAD: usize = 2;

/// A place in the queue: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// The writing side of an open disk queue. Reading happens on a thread
/// that feeds the channel returned by [`DiskQueue::open`].
pub struct DiskQueue {
    shared: Arc<Shared>,
    /// `None` only while the queue is dropped.
    appends: Option<std::sync::mpsc::Sender<Append>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    state: Mutex<State>,
    /// Signalled when records become readable or the queue closes.
    data_written: Condvar,
    /// Signalled when segments were deleted and appenders may fit.
    space_freed: Notify,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

struct State {
    /// Size of each segment file on disk, by segment number.
    segments: BTreeMap<u64, u64>,
    /// Bytes of all segments plus space reserved by appends in progress.
    used: u64,
    /// End of the records that are written and synced.
    committed: Position,
    /// Records appended and not yet acknowledged.
    pending: u64,
}

struct Append {
    record: Vec<u8>,
    done: oneshot::Sender<Result<(), DeliveryError>>,
}

/// The behaviour of an append when the queue has no room for its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait until the exporter frees space, or the agent stops.
    Wait,
    /// Fail at once with [`DeliveryError::QueueFull`].
    Reject,
}

impl DiskQueue {
    /// Opens (or creates) the queue in `dir` and starts its writer and
    /// reader threads. The returned channel yields every record not yet
    /// acknowledged, oldest first, and then each new record.
    ///
    /// # Errors
    ///
    /// Fails when the directory cannot be created or read, or when another
    /// process holds its lock.
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(DiskQueue, mpsc::Receiver<Entry>)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create the queue directory {}", dir.display()))?;
        let lock = lock_directory(dir)?;
        let mut segments = list_segments(dir)?;
        let cursor = read_cursor(dir);

        // Segments before the cursor were fully acknowledged; a crash can
        // leave them behind between the cursor write and the deletion.
        let consumed: Vec<u64> = segments
            .range(..cursor.segment)
            .map(|(&id, _)| id)
            .collect();
        for id in consumed {
            remove_segment(dir, id);
            segments.remove(&id);
        }

        let newest = segments.keys().next_back().copied().unwrap_or(0);
        let writing = newest.max(cursor.segment) + 1;
        let writer = SegmentWriter::create(dir, writing)?;
        segments.insert(writing, 0);

        let start = match segments.contains_key(&cursor.segment) {
            true => cursor,
            false => Position {
                segment: *segments
                    .range(cursor.segment..)
                    .next()
                    .map(|(id, _)| id)
                    .expect("the new segment is listed"),
                offset: 0,
            },
        };
        let pending = count_records(dir, &segments, start, max_bytes);
        let used = segments.values().sum();
        let segment_bytes = (max_bytes / 16).clamp(1024 * 1024, 64 * 1024 * 1024);
        let state = State {
            segments,
            used,
            committed: Position {
                segment: writing,
                offset: 0,
            },
            pending,
        };
        Metrics::set(&metrics.gauges.queue_max_bytes, max_bytes);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes,
            state: Mutex::new(state),
            data_written: Condvar::new(),
            space_freed: Notify::new(),
            metrics,
            shutdown,
        });
        shared.update_gauges(&shared.lock());
        if pending > 0 {
            tracing::info!(
                dir = %crate::telemetry::LogPath(dir),
                batches = pending,
                "replaying batches from the disk queue"
            );
        }

        let (appends, append_receiver) = std::sync::mpsc::channel();
        let writer_shared = shared.clone();
        let writer_thread = std::thread::Builder::new()
            .name("hush-queue-writer".to_string())
            .spawn(move || {
                // The lock lives as long as the writer, which lives as long
                // as any handle that can append.
                let _lock = lock;
                run_writer(&writer_shared, writer, &append_receiver);
            })
            .context("failed to start the queue writer thread")?;

        let (entries, entry_receiver) = mpsc::channel(READ_AHEAD);
        let reader_shared = shared.clone();
        std::thread::Builder::new()
            .name("hush-queue-reader".to_string())
            .spawn(move || run_reader(&reader_shared, start, &entries))
            .context("failed to start the queue reader thread")?;

        let queue = DiskQueue {
            shared,
            appends: Some(appends),
            writer: Some(writer_thread),
        };
        Ok((queue, entry_receiver))
    }

    /// Appends one encoded batch and returns once it is synced to disk.
    ///
    /// # Errors
    ///
    /// - [`DeliveryError::Rejected`] when the batch alone is larger than the
    ///   queue.
    /// - [`DeliveryError::QueueFull`] when there is no room and `when_full`
    ///   is [`WhenFull::Reject`].
    /// - [`DeliveryError::ShuttingDown`] when the agent stops while the
    ///   caller waits for room.
    /// - [`DeliveryError::StorageFailed`] when the write or the sync failed.
    pub async fn append(&self, record: Vec<u8>, when_full: WhenFull) -> Result<(), DeliveryError> {
        let frame_bytes = HEADER_BYTES + record.len() as u64;
        if frame_bytes > self.shared.max_bytes {
            return Err(DeliveryError::Rejected(format!(
                "the batch takes {frame_bytes} bytes, more than the whole disk queue \
                 (exporter.queue.max_bytes = {})",
                self.shared.max_bytes
            )));
        }
        self.reserve(frame_bytes, when_full).await?;

        let (done, result) = oneshot::channel();
        let sent = match &self.appends {
            Some(appends) => appends.send(Append { record, done }).is_ok(),
            None => false,
        };
        if !sent {
            self.shared.release(frame_bytes);
            return Err(DeliveryError::ShuttingDown);
        }
        result.await.unwrap_or(Err(DeliveryError::ShuttingDown))
    }

    /// Takes `bytes` of the space budget, waiting for room when allowed.
    async fn reserve(&self, bytes: u64, when_full: WhenFull) -> Result<(), DeliveryError> {
        let mut counted_full = false;
        loop {
            // Registered before the check, so a deletion between the check
            // and the wait still wakes this caller.
            let freed = self.shared.space_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if state.used + bytes <= self.shared.max_bytes {
                    state.used += bytes;
                    self.shared.update_gauges(&state);
                    return Ok(());
                }
            }
            if !counted_full {
                Metrics::inc(&self.shared.metrics.queue_full_total);
                counted_full = true;
            }
            if when_full == WhenFull::Reject {
                return Err(DeliveryError::QueueFull);
            }
            tokio::select! {
                () = freed => {}
                () = self.shared.shutdown.cancelled() => return Err(DeliveryError::ShuttingDown),
            }
        }
    }

    /// Forgets every record before `end`: the downstream accepted (or
    /// rejected for good) `batches` records ending there. Deletes the
    /// segments that are then fully consumed and moves the cursor.
    pub fn acknowledge(&self, end: Position, batches: u64) {
        let shared = &self.shared;
        let mut state = shared.lock();
        state.pending = state.pending.saturating_sub(batches);
        let writing = state.committed.segment;
        let removable: Vec<(u64, u64)> = state
            .segments
            .iter()
            .filter(|&(&id, &size)| {
                id < end.segment || (id == end.segment && end.offset >= size && id != writing)
            })
            .map(|(&id, &size)| (id, size))
            .collect();
        for (id, size) in &removable {
            remove_segment(&shared.dir, *id);
            state.segments.remove(id);
            state.used = state.used.saturating_sub(*size);
        }
        shared.update_gauges(&state);
        drop(state);

        if let Err(err) = write_cursor(&shared.dir, end) {
            Metrics::inc(&shared.metrics.queue_write_errors_total);
            tracing::warn!(error = %err, "failed to write the disk queue cursor");
        }
        if !removable.is_empty() {
            shared.space_freed.notify_waiters();
        }
    }
}

impl Drop for DiskQueue {
    fn drop(&mut self) {
        // The writer ends once every append is written and the sender is
        // gone. Waiting for it releases the directory lock before the
        // queue can be opened again.
        self.appends = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        self.shared.data_written.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, bytes: u64) {
        let mut state = self.lock();
        state.used = state.used.saturating_sub(bytes);
        self.update_gauges(&state);
        drop(state);
        self.space_freed.notify_waiters();
    }

    fn update_gauges(&self, state: &State) {
        Metrics::set(&self.metrics.gauges.queue_bytes, state.used);
        Metrics::set(&self.metrics.gauges.queue_batches, state.pending);
    }
}

/// The segment file being appended to.
struct SegmentWriter {
    id: u64,
    file: File,
    len: u64,
}

impl SegmentWriter {
    fn create(dir: &Path, id: u64) -> anyhow::Result<SegmentWriter> {
        let path = segment_path(dir, id);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("failed to create the queue segment {}", path.display()))?;
        sync_directory(dir)?;
        Ok(SegmentWriter { id, file, len: 0 })
    }

    /// Writes the records and syncs them. On an error, some of them may be
    /// on disk in part.
    fn write_group(&mut self, group: &[Append]) -> std::io::Result<u64> {
        let mut buffer = Vec::new();
        for append in group {
            let record = &append.record;
            buffer.extend_from_slice(&(record.len() as u32).to_le_bytes());
            buffer.extend_from_slice(&crc32fast::hash(record).to_le_bytes());
            buffer.extend_from_slice(record);
        }
        self.file.write_all(&buffer)?;
        self.file.sync_data()?;
        self.len += buffer.len() as u64;
        Ok(buffer.len() as u64)
    }
}

fn run_writer(
    shared: &Shared,
    mut writer: SegmentWriter,
    appends: &std::sync::mpsc::Receiver<Append>,
) {
    while let Ok(first) = appends.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match appends.try_recv() {
                Ok(append) => group.push(append),
                Err(_) => break,
            }
        }

        if writer.len >= shared.segment_bytes {
            match SegmentWriter::create(&shared.dir, writer.id + 1) {
                Ok(next) => {
                    writer = next;
                    let mut state = shared.lock();
                    state.segments.insert(writer.id, 0);
                    state.committed = Position {
                        segment: writer.id,
                        offset: 0,
                    };
                }
                // The current segment takes the group instead; it only
                // grows past its target size.
                Err(err) => {
                    Metrics::inc(&shared.metrics.queue_write_errors_total);
                    tracing::warn!(error = %format!("{err:#}"), "failed to start a new queue segment");
                }
            }
        }

        let reserved: u64 = group
            .iter()
            .map(|append| HEADER_BYTES + append.record.len() as u64)
            .sum();
        match writer.write_group(&group) {
            Ok(written) => {
                let mut state = shared.lock();
                *state.segments.entry(writer.id).or_default() += written;
                state.committed = Position {
                    segment: writer.id,
                    offset: writer.len,
                };
                state.pending += group.len() as u64;
                shared.update_gauges(&state);
                drop(state);
                shared.data_written.notify_all();
                for append in group {
                    let _ = append.done.send(Ok(()));
                }
            }
            Err(err) => {
                Metrics::inc(&shared.metrics.queue_write_errors_total);
                tracing::error!(error = %err, batches = group.len(), "failed to write to the disk queue");
                writer = recover_from_write_error(shared, writer, reserved);
                let message = format!("failed to write to the disk queue: {err}");
                for append in group {
                    let _ = append
                        .done
                        .send(Err(DeliveryError::StorageFailed(message.clone())));
                }
            }
        }
    }
}

/// Gives back the space of a failed group and moves to a new segment, so
/// whatever part of the group reached the disk stays a torn end of the old
/// one and later records are not appended behind it.
fn recover_from_write_error(
    shared: &Shared,
    writer: SegmentWriter,
    reserved: u64,
) -> SegmentWriter {
    let on_disk = writer
        .file
        .metadata()
        .map(|metadata| metadata.len())
        .unwrap_or(writer.len);
    let mut state = shared.lock();
    let listed = state.segments.entry(writer.id).or_default();
    let grown = on_disk.saturating_sub(*listed);
    *listed = on_disk;
    state.used = state.used.saturating_sub(reserved) + grown;
    shared.update_gauges(&state);
    drop(state);
    shared.space_freed.notify_waiters();

    match SegmentWriter::create(&shared.dir, writer.id + 1) {
        Ok(next) => {
            let mut state = shared.lock();
            state.segments.insert(next.id, 0);
            state.committed = Position {
                segment: next.id,
                offset: 0,
            };
            drop(state);
            shared.data_written.notify_all();
            next
        }
        // Keep appending to the old segment: its synced records stay
        // readable, and the reader skips the torn part as corrupt.
        Err(_) => SegmentWriter {
            len: on_disk,
            ..writer
        },
    }
}

/// The outcome of reading at one position.
enum Found {
    Record {
        body: Vec<u8>,
        next: u64,
    },
    /// The record at this offset fails its checksum; the next one starts
    /// at `next`.
    Corrupt {
        next: u64,
    },
    /// Nothing more can be read from this segment: its end, or a torn or
    /// garbled length that hides where the next record starts.
    End {
        torn: bool,
    },
}

fn run_reader(shared: &Shared, start: Position, entries: &mpsc::Sender<Entry>) {
    let mut position = start;
    let mut open: Option<(u64, File)> = None;
    loop {
        if shared.shutdown.is_cancelled() || entries.is_closed() {
            return;
        }

        // Older segments are complete and read to their end; the one being
        // written is read only up to what is synced.
        let (limit, next_segment) = {
            let state = shared.lock();
            if position.segment < state.committed.segment {
                let next = state
                    .segments
                    .range(position.segment + 1..)
                    .next()
                    .map(|(&id, _)| id);
                (None, next)
            } else if position.offset < state.committed.offset {
                (Some(state.committed.offset), None)
            } else {
                let _ = shared
                    .data_written
                    .wait_timeout(state, IDLE_CHECK)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
        };

        let file = match open.as_mut() {
            Some((id, file)) if *id == position.segment => file,
            _ => match File::open(segment_path(&shared.dir, position.segment)) {
                Ok(file) => &mut open.insert((position.segment, file)).1,
                Err(err) => {
                    tracing::error!(error = %err, segment = position.segment, "failed to open a queue segment, skipping it");
                    Metrics::inc(&shared.metrics.queue_frames_corrupt_total);
                    position = next_start(position, next_segment, limit);
                    continue;
                }
            },
        };

        match read_record(file, position.offset, limit, shared.max_bytes) {
            Ok(Found::Record { body, next }) => {
                let end = Position {
                    segment: position.segment,
                    offset: next,
                };
                position = end;
                match Payload::decode_tagged(&body) {
                    Ok(payload) => {
                        let entry = Entry {
                            bytes: body.len(),
                            records: payload.record_count(),
                            payload,
                            ticket: Ticket::Stored(end),
                        };
                        if entries.blocking_send(entry).is_err() {
                            return;
                        }
                    }
                    Err(message) => {
                        Metrics::inc(&shared.metrics.queue_frames_corrupt_total);
                        tracing::warn!(error = %message, segment = end.segment, "skipping an undecodable record in the disk queue");
                    }
                }
            }
            Ok(Found::Corrupt { next }) => {
                Metrics::inc(&shared.metrics.queue_frames_corrupt_total);
                tracing::warn!(
                    segment = position.segment,
                    offset = position.offset,
                    "skipping a record with a bad checksum in the disk queue"
                );
                position.offset = next;
            }
            Ok(Found::End { torn }) => {
                if torn {
                    Metrics::inc(&shared.metrics.queue_frames_corrupt_total);
                    tracing::warn!(
                        segment = position.segment,
                        offset = position.offset,
                        "skipping a torn end of a disk queue segment"
                    );
                }
                position = next_start(position, next_segment, limit);
                open = None;
            }
            Err(err) => {
                tracing::error!(error = %err, segment = position.segment, "failed to read the disk queue, retrying");
                open = None;
                std::thread::sleep(IDLE_CHECK);
            }
        }
    }
}

/// Returns where reading goes on after the segment at `position` ended:
/// the next segment, or for the segment being written, the synced end.
fn next_start(position: Position, next_segment: Option<u64>, limit: Option<u64>) -> Position {
    match (next_segment, limit) {
        (Some(segment), _) => Position { segment, offset: 0 },
        (None, Some(limit)) => Position {
            segment: position.segment,
            offset: limit,
        },
        (None, None) => position,
    }
}

/// Reads the record at `offset`, reading no further than `limit` (the
/// synced end) when it is given.
fn read_record(
    file: &mut File,
    offset: u64,
    limit: Option<u64>,
    max_record_bytes: u64,
) -> std::io::Result<Found> {
    let end = match limit {
        Some(limit) => limit,
        None => file.metadata()?.len(),
    };
    if offset >= end {
        return Ok(Found::End { torn: false });
    }
    if end - offset < HEADER_BYTES {
        return Ok(Found::End { torn: true });
    }

    let mut header = [0u8; HEADER_BYTES as usize];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut header)?;
    let length = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4 bytes")));
    let checksum = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));

    // A crash can leave zeros where the file was extended but never
    // written. A length past the end means the record was cut short.
    let next = offset + HEADER_BYTES + length;
    if length == 0 || length > max_record_bytes || next > end {
        return Ok(Found::End { torn: true });
    }
    let mut body = vec![0u8; length as usize];
    file.read_exact(&mut body)?;
    if crc32fast::hash(&body) != checksum {
        return Ok(Found::Corrupt { next });
    }
    Ok(Found::Record { body, next })
}

/// Counts the readable records from `start`, for the queue size gauge.
fn count_records(
    dir: &Path,
    segments: &BTreeMap<u64, u64>,
    start: Position,
    max_bytes: u64,
) -> u64 {
    let mut count = 0;
    for &id in segments.range(start.segment..).map(|(id, _)| id) {
        let Ok(mut file) = File::open(segment_path(dir, id)) else {
            continue;
        };
        let mut offset = if id == start.segment { start.offset } else { 0 };
        while let Ok(Found::Record { next, .. } | Found::Corrupt { next }) =
            read_record(&mut file, offset, None, max_bytes)
        {
            count += 1;
            offset = next;
        }
    }
    count
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// Lists the segment files and their sizes. Other files are left alone.
fn list_segments(dir: &Path) -> anyhow::Result<BTreeMap<u64, u64>> {
    let mut segments = BTreeMap::new();
    let listing = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list the queue directory {}", dir.display()))?;
    for entry in listing {
        let entry = entry
            .with_context(|| format!("failed to list the queue directory {}", dir.display()))?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|name| name.strip_suffix(".seg"))
            .and_then(|stem| stem.parse::<u64>().ok())
        else {
            continue;
        };
        let size = entry
            .metadata()
            .with_context(|| format!("failed to read {}", entry.path().display()))?
            .len();
        segments.insert(id, size);
    }
    Ok(segments)
}

fn remove_segment(dir: &Path, id: u64) {
    let path = segment_path(dir, id);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => {
            tracing::warn!(error = %err, segment = id, "failed to delete a consumed queue segment")
        }
    }
}

/// Bytes of the cursor file: segment, offset, and a CRC-32 of both.
const CURSOR_BYTES: usize = 20;

/// Reads the cursor; a missing or damaged cursor means "from the oldest
/// segment", which can only repeat batches, never skip one.
fn read_cursor(dir: &Path) -> Position {
    let Ok(bytes) = std::fs::read(dir.join("cursor")) else {
        return Position::default();
    };
    if bytes.len() != CURSOR_BYTES {
        tracing::warn!("the disk queue cursor is damaged; replaying from the oldest segment");
        return Position::default();
    }
    let checksum = u32::from_le_bytes(bytes[16..].try_into().expect("4 bytes"));
    if crc32fast::hash(&bytes[..16]) != checksum {
        tracing::warn!("the disk queue cursor is damaged; replaying from the oldest segment");
        return Position::default();
    }
    Position {
        segment: u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
        offset: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
    }
}

fn write_cursor(dir: &Path, position: Position) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(CURSOR_BYTES);
    bytes.extend_from_slice(&position.segment.to_le_bytes());
    bytes.extend_from_slice(&position.offset.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
    let temporary = dir.join("cursor.tmp");
    std::fs::write(&temporary, &bytes)?;
    std::fs::rename(&temporary, dir.join("cursor"))
}

fn sync_directory(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .with_context(|| format!("failed to sync the queue directory {}", dir.display()))
}

/// Takes an exclusive lock on `dir/lock`, so two agents never share a
/// queue. The lock is released when the returned file is closed, also
/// when the process is killed.
fn lock_directory(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open the queue lock {}", path.display()))?;
    // SAFETY: flock takes a file descriptor that `file` owns and keeps open
    // for the duration of the call; it touches no memory.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result != 0 {
        let err = std::io::Error::last_os_error();
        anyhow::bail!(
            "failed to lock the queue directory {}: {err}; is another hush process using it? \
             Give each agent its own exporter.queue.dir",
            dir.display()
        );
    }
    Ok(file)
}

#[cfg(test)]
mod tests;
