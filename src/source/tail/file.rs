//! A followed file: its identity, its open handle, its read position, and
//! the assembly of its lines into records.
//!
//! A file is identified by its device and inode number plus a fingerprint
//! of its first bytes. The inode alone is not enough, because the file
//! system reuses the inode of a deleted file for the next one created, and a
//! reused inode must never resume at the old file's offset.
//!
//! The fingerprint is a hash of the first [`FINGERPRINT_MAX_BYTES`] bytes,
//! or of all bytes while the file is shorter than that. It records how many
//! bytes it covers, so a file that was short when it was last seen is
//! checked against that many bytes, and the fingerprint is extended as the
//! file grows. An empty file has an empty fingerprint, which matches any
//! content: nothing was read from it, so nothing can be skipped by mistake.
//!
//! The fingerprint also records the file's birth time (`statx` `btime`)
//! where the file system reports one, as ext4, XFS, Btrfs and tmpfs do. A
//! new file at a reused inode has a new birth time, which distinguishes it
//! from the old file even when both start with the same bytes, such as a
//! fixed header or a file shorter than the fingerprint.
//!
//! All IO here is blocking `std::fs`; the caller runs it off the async
//! runtime's worker threads.

use std::fs::{File, Metadata};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::assemble::{Assembler, Counts, Record};
use super::framer::LineFramer;

/// Largest prefix of a file that its fingerprint covers, in bytes.
pub const FINGERPRINT_MAX_BYTES: usize = 1024;

/// Bytes before the read offset that each content check compares with the
/// last check, to notice a file rewritten in place.
const GUARD_BYTES: usize = 64;

/// Device and inode number: which file a path pointed to when it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(metadata: &Metadata) -> FileId {
        FileId {
            dev: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// Hash of a file's first `len` bytes (the first 8 bytes of their
/// SHA-256), and the file's birth time if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
    /// Birth time in nanoseconds since the Unix epoch; `None` where the file
    /// system does not report it.
    pub created_unix_nanos: Option<u64>,
}

impl Fingerprint {
    /// Computes the fingerprint of `prefix`, which is at most
    /// [`FINGERPRINT_MAX_BYTES`] long.
    pub fn of_bytes(prefix: &[u8]) -> Fingerprint {
        let digest = Sha256::digest(prefix);
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Fingerprint {
            len: prefix.len() as u32,
            hash: u64::from_be_bytes(first),
            created_unix_nanos: None,
        }
    }

    /// Reads up to `len` bytes from the start of `file`, without moving its
    /// read position, and fingerprints them with the file's birth time.
    pub fn read(file: &File, len: usize) -> io::Result<Fingerprint> {
        let mut prefix = [0u8; FINGERPRINT_MAX_BYTES];
        let len = len.min(FINGERPRINT_MAX_BYTES);
        let mut filled = 0;
        while filled < len {
            match file.read_at(&mut prefix[filled..len], filled as u64) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        let mut fingerprint = Fingerprint::of_bytes(&prefix[..filled]);
        fingerprint.created_unix_nanos = birth_time(&file.metadata()?);
        Ok(fingerprint)
    }

    /// Returns true if `file` starts with the bytes this fingerprint covers
    /// and, when both birth times are known, was born at the same time. A
    /// file now shorter than the fingerprint does not match.
    // NOTE: without a birth time, a new file at a reused inode that starts with the same bytes as
    // the old one is taken for the old file. Birth times are missing on some file systems and in
    // checkpoints written before they were recorded.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let current = Fingerprint::read(file, self.len as usize)?;
        Ok(self.same_birth(&current) && current.len == self.len && current.hash == self.hash)
    }

    /// Reports whether both fingerprints were taken of a file born at the
    /// same time, or at least one birth time is unknown.
    pub fn same_birth(&self, other: &Fingerprint) -> bool {
        match (self.created_unix_nanos, other.created_unix_nanos) {
            (Some(expected), Some(actual)) => expected == actual,
            _ => true,
        }
    }

    /// Returns the fingerprint of a file that was listed but not read yet.
    /// It covers no bytes, so it matches the file whatever it contains, and
    /// carries the birth time from `metadata`, which distinguishes the file
    /// from a later one at the same inode.
    pub fn unread(metadata: &Metadata) -> Fingerprint {
        let mut fingerprint = Fingerprint::of_bytes(&[]);
        fingerprint.created_unix_nanos = birth_time(metadata);
        fingerprint
    }

    pub fn is_complete(&self) -> bool {
        self.len as usize >= FINGERPRINT_MAX_BYTES
    }
}

/// Relation between a followed file and the path it was found under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStatus {
    /// The path still names this file.
    Current,
    /// The file was renamed away, replaced or deleted. It is read to its end
    /// and then closed.
    Detached,
}

/// An open file being tailed.
#[derive(Debug)]
pub struct FollowedFile {
    /// The path under which the file was found.
    pub path: PathBuf,
    pub id: FileId,
    pub fingerprint: Fingerprint,
    /// Offset up to which every record was acknowledged downstream.
    pub committed_offset: u64,
    /// End offset of the last record taken from the file: the committed
    /// offset once every record taken is acknowledged. It can stay below
    /// the framed offset, because the line ending of a flushed partial line
    /// makes no record.
    taken_offset: u64,
    pub status: PathStatus,
    /// When bytes last arrived, which starts the wait for a partial line.
    pub last_data_at: Instant,
    /// True once a read returned no bytes and nothing arrived since.
    pub at_eof: bool,
    /// True once the file was found truncated while records taken from it
    /// were unacknowledged. It is not read until they are, and then starts
    /// over at 0, so that no offset of the old content is committed for the
    /// new one.
    pub truncation_pending: bool,
    /// Set once everything read before a pending truncation was taken.
    drained_before_restart: bool,
    file: File,
    framer: LineFramer,
    assembler: Assembler,
    bytes_read: u64,
    /// Size and modification time at the last content check that found the
    /// fingerprint intact, so an unchanged file is not read again.
    last_checked: Option<(u64, Option<SystemTime>)>,
    /// The read offset at the last content check and a hash of the
    /// [`GUARD_BYTES`] before it, which were already read. Appending never
    /// changes those bytes, so a change means the file was rewritten. This
    /// catches a truncation that the fingerprint misses because the new
    /// content starts with the same bytes. A writer that fills
    /// preallocated space in place also changes them, and its file is then
    /// read again from the start.
    guard: Option<(u64, u64)>,
}

/// Change to a file's content since it was last checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentChange {
    /// Nothing, or bytes were appended.
    Unchanged,
    /// The file is shorter than what was read, or its first bytes differ:
    /// it was truncated (and maybe written again), and is read from 0.
    Truncated,
}

impl FollowedFile {
    /// Starts following `file`, found at `path`, from `offset`, turning
    /// its lines into records with `assembler`.
    pub fn open(
        path: PathBuf,
        mut file: File,
        id: FileId,
        fingerprint: Fingerprint,
        offset: u64,
        assembler: Assembler,
        now: Instant,
    ) -> io::Result<FollowedFile> {
        file.seek(SeekFrom::Start(offset))?;
        let mut framer = LineFramer::new(assembler.settings().framer_line_cap(), offset);
        if offset > 0 && !follows_newline(&file, offset)? {
            framer.resume_mid_line();
        }
        Ok(FollowedFile {
            path,
            id,
            fingerprint,
            committed_offset: offset,
            taken_offset: offset,
            status: PathStatus::Current,
            last_data_at: now,
            at_eof: false,
            truncation_pending: false,
            drained_before_restart: false,
            file,
            framer,
            assembler,
            bytes_read: 0,
            last_checked: None,
            guard: None,
        })
    }

    /// Offset of the next byte to read from the file.
    pub fn read_offset(&self) -> u64 {
        self.framer.read_offset()
    }

    /// Returns the guard hash of the bytes before `offset` for a checkpoint
    /// at `offset`, or `None` if the file is shorter.
    pub fn guard_at(&self, offset: u64) -> io::Result<Option<u64>> {
        hash_before(&self.file, offset)
    }

    /// Returns the current size of the open file, which may differ from the
    /// size of whatever its path names now.
    pub fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Returns true if every byte read was framed into a record and
    /// acknowledged, so closing the file loses nothing.
    pub fn is_drained(&self) -> bool {
        !self.framer.has_partial() && self.assembler.is_empty() && !self.has_unacknowledged()
    }

    /// Returns true if records were taken from the file that are not
    /// acknowledged yet: they are in a batch in flight or read ahead.
    pub fn has_unacknowledged(&self) -> bool {
        self.committed_offset != self.taken_offset
    }

    /// Returns the lines, malformed lines and cuts counted since the last
    /// call, and resets them.
    pub fn take_counts(&mut self) -> Counts {
        self.assembler.take_counts()
    }

    /// Returns the bytes read from the file since the last call, and resets
    /// the count.
    pub fn take_bytes_read(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_read)
    }

    /// Returns the next record, reading more of the file when no record is
    /// ready. Returns `Ok(None)` at the end of the data available now; lines
    /// still being merged or joined then wait for
    /// [`Self::next_expired_record`].
    pub fn next_record(&mut self, now: Instant) -> io::Result<Option<Record>> {
        loop {
            if let Some(record) = self.pop_record() {
                return Ok(Some(record));
            }
            if let Some(line) = self.framer.next_line() {
                self.assembler.push_line(line, now);
                continue;
            }

            let read = self.framer.read_from(&mut self.file)?;
            if read == 0 {
                self.at_eof = true;
                return Ok(None);
            }
            self.at_eof = false;
            self.last_data_at = now;
            self.bytes_read += read as u64;
        }
    }

    /// Returns a record of what waited too long at `now`: a last line
    /// without a newline after `partial_line_timeout`, or a line still being
    /// merged or joined after its timeout. Call it only after
    /// [`Self::next_record`] returned `Ok(None)`.
    pub fn next_expired_record(&mut self, now: Instant) -> Option<Record> {
        if let Some(record) = self.pop_record() {
            return Some(record);
        }

        let waited = now.saturating_duration_since(self.last_data_at);
        if waited >= self.assembler.settings().partial_line_timeout
            && let Some(line) = self.framer.flush_partial()
        {
            self.assembler.push_line(line, now);
        }
        self.assembler.flush_expired(now);
        self.pop_record()
    }

    /// Returns the next record of what was read before a truncation:
    /// complete lines still in the read buffer, then lines held for merging
    /// or joining, sent as they are. Reads nothing more, because the file's
    /// bytes are new content now. Returns `None` once all of it was taken,
    /// which lets the file restart once it is acknowledged.
    pub fn next_record_before_restart(&mut self, now: Instant) -> Option<Record> {
        // All buffered lines go in before the flush, so that a stack trace
        // split across them is joined whole.
        while let Some(line) = self.framer.next_line() {
            self.assembler.push_line(line, now);
        }
        if let Some(record) = self.pop_record() {
            return Some(record);
        }
        self.assembler.flush_all(now);
        let record = self.pop_record();
        self.drained_before_restart = record.is_none();
        record
    }

    /// Reports whether a truncated file may start over at offset 0: what was
    /// read before the truncation was taken and acknowledged.
    pub fn is_ready_to_restart(&self) -> bool {
        self.drained_before_restart && !self.has_unacknowledged()
    }

    fn pop_record(&mut self) -> Option<Record> {
        let record = self.assembler.pop()?;
        self.taken_offset = record.end_offset;
        Some(record)
    }

    /// Checks whether the file was truncated in place: its size dropped below
    /// the read offset, its first bytes no longer match the fingerprint, or
    /// the bytes before the read offset of the last check changed. Extends
    /// an incomplete fingerprint as the file grows.
    ///
    /// The file is read only when the size or the modification time changed
    /// since the last check, because rewriting a file changes its
    /// modification time.
    // NOTE: a truncation still goes unnoticed if the file is written past the read offset between
    // a read and the next check, and starts with the same first 1 KiB as before (a long fixed
    // header). Reading then goes on in the middle of the new content.
    pub fn check_content(&mut self) -> io::Result<ContentChange> {
        let metadata = self.file.metadata()?;
        let size = metadata.len();
        if size < self.read_offset() {
            return Ok(ContentChange::Truncated);
        }
        let state = (size, metadata.modified().ok());
        if self.last_checked == Some(state) {
            return Ok(ContentChange::Unchanged);
        }

        if !self.fingerprint.matches(&self.file)? {
            return Ok(ContentChange::Truncated);
        }
        if let Some((end, hash)) = self.guard
            && hash_before(&self.file, end)? != Some(hash)
        {
            return Ok(ContentChange::Truncated);
        }
        if !self.fingerprint.is_complete() && size > u64::from(self.fingerprint.len) {
            self.fingerprint = Fingerprint::read(&self.file, FINGERPRINT_MAX_BYTES)?;
        }
        let end = self.read_offset();
        let Some(hash) = hash_before(&self.file, end)? else {
            // Shorter than what was read, just now.
            return Ok(ContentChange::Truncated);
        };
        self.guard = Some((end, hash));
        self.last_checked = Some(state);
        Ok(ContentChange::Unchanged)
    }

    /// Starts over at offset 0 after a truncation. Held bytes of a partial
    /// line without its newline are dropped, because they belong to the
    /// content that was cut and may continue in bytes that are gone.
    pub fn restart_from_beginning(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.framer.reset(0);
        self.assembler.reset(0);
        self.committed_offset = 0;
        self.taken_offset = 0;
        self.at_eof = false;
        self.truncation_pending = false;
        self.drained_before_restart = false;
        self.last_checked = None;
        self.guard = None;
        self.fingerprint = Fingerprint::read(&self.file, FINGERPRINT_MAX_BYTES)?;
        Ok(())
    }
}

/// Returns the birth time of a file in nanoseconds since the Unix epoch, or
/// `None` where the file system does not report one.
fn birth_time(metadata: &Metadata) -> Option<u64> {
    let created = metadata.created().ok()?;
    let since_epoch = created.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(since_epoch.as_nanos()).ok()
}

/// Returns the hash of the up to [`GUARD_BYTES`] bytes of `file` that end at
/// `end`, or `None` if the file ends before `end`.
pub fn hash_before(file: &File, end: u64) -> io::Result<Option<u64>> {
    let start = end.saturating_sub(GUARD_BYTES as u64);
    let mut bytes = [0u8; GUARD_BYTES];
    let len = (end - start) as usize;
    match file.read_exact_at(&mut bytes[..len], start) {
        Ok(()) => Ok(Some(Fingerprint::of_bytes(&bytes[..len]).hash)),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(err) => Err(err),
    }
}

/// Returns true if the byte before `offset` is `\n`, so `offset` starts a
/// line.
fn follows_newline(file: &File, offset: u64) -> io::Result<bool> {
    let mut byte = [0u8; 1];
    let read = file.read_at(&mut byte, offset - 1)?;
    Ok(read == 1 && byte[0] == b'\n')
}

/// Opens `path` and returns the file with its identity and fingerprint, or
/// `None` if it is not a regular file.
pub fn open_with_identity(path: &Path) -> io::Result<Option<(File, FileId, Fingerprint)>> {
    // O_NONBLOCK, because a FIFO swapped in under a watched name would
    // otherwise block the open until a writer appears, and it has no effect
    // on reads of a regular file. Anything but a regular file is skipped
    // below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Ok(None);
    }
    let fingerprint = Fingerprint::read(&file, FINGERPRINT_MAX_BYTES)?;
    Ok(Some((file, FileId::of(&metadata), fingerprint)))
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::LogFormat;
    use crate::source::tail::assemble::ReadSettings;

    fn follow(path: &Path, offset: u64) -> FollowedFile {
        let (file, id, fingerprint) = open_with_identity(path).unwrap().unwrap();
        FollowedFile::open(
            path.to_path_buf(),
            file,
            id,
            fingerprint,
            offset,
            raw_assembler(offset),
            Instant::now(),
        )
        .unwrap()
    }

    fn raw_assembler(offset: u64) -> Assembler {
        assembler(LogFormat::Raw, offset)
    }

    fn assembler(format: LogFormat, offset: u64) -> Assembler {
        let settings = ReadSettings {
            format,
            max_line_bytes: 1024,
            partial_line_timeout: Duration::from_millis(100),
            multiline: None,
        };
        Assembler::new(Arc::new(settings), false, offset)
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
    }

    fn read_all(file: &mut FollowedFile) -> Vec<String> {
        let mut bodies = Vec::new();
        while let Some(record) = file.next_record(Instant::now()).unwrap() {
            bodies.push(record.body);
        }
        bodies
    }

    #[test]
    fn fifo_skipped_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe.log");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
        let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(made, 0, "mkfifo failed");

        let opened = open_with_identity(&path).unwrap();
        assert!(opened.is_none(), "a FIFO was opened for tailing");
    }

    #[test]
    fn recreated_file_has_new_identity() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("app.log");
        fs::write(&path, "first\n").unwrap();
        // Holding the old file open keeps its inode from being reused.
        let (_old, old_id, _) = open_with_identity(&path).unwrap().unwrap();

        fs::remove_file(&path).unwrap();
        fs::write(&path, "first\n").unwrap();
        let (_new, new_id, _) = open_with_identity(&path).unwrap().unwrap();

        assert_ne!(old_id, new_id);
    }

    #[test]
    fn fingerprint_rejects_other_content() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, "2024-01-01 started\n").unwrap();
        let fingerprint = Fingerprint::read(&File::open(&path).unwrap(), 1024).unwrap();

        // The same inode reused by a file with other content.
        fs::write(&path, "2025-06-30 started\n").unwrap();
        assert!(!fingerprint.matches(&File::open(&path).unwrap()).unwrap());

        // The same content grown longer still matches.
        fs::write(&path, "2024-01-01 started\nmore\n").unwrap();
        assert!(fingerprint.matches(&File::open(&path).unwrap()).unwrap());

        // A file shorter than the fingerprint does not.
        fs::write(&path, "2024").unwrap();
        assert!(!fingerprint.matches(&File::open(&path).unwrap()).unwrap());
    }

    #[test]
    fn fingerprint_grows_with_file() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, "ab\n").unwrap();
        let mut file = follow(&path, 0);
        assert_eq!(file.fingerprint.len, 3);

        append(&path, &vec![b'x'; 2000]);
        assert_eq!(file.check_content().unwrap(), ContentChange::Unchanged);

        assert_eq!(file.fingerprint.len as usize, FINGERPRINT_MAX_BYTES);
        assert!(file.fingerprint.is_complete());
    }

    #[test]
    fn truncation_detected_by_size() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, "one\ntwo\n").unwrap();
        let mut file = follow(&path, 0);
        assert_eq!(read_all(&mut file), vec!["one", "two"]);

        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, b"3\n");

        assert_eq!(file.check_content().unwrap(), ContentChange::Truncated);
        file.restart_from_beginning().unwrap();
        assert_eq!(file.committed_offset, 0);
        assert_eq!(read_all(&mut file), vec!["3"]);
    }

    #[test]
    fn truncation_detected_by_prefix() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, "one\n").unwrap();
        let mut file = follow(&path, 0);
        assert_eq!(read_all(&mut file), vec!["one"]);

        // Truncated and written again past the old offset between two checks.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, b"new content\n");

        assert_eq!(file.check_content().unwrap(), ContentChange::Truncated);
    }

    #[test]
    fn appends_followed_after_eof() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, "one\n").unwrap();
        let mut file = follow(&path, 0);
        assert_eq!(read_all(&mut file), vec!["one"]);
        assert!(file.at_eof);

        append(&path, b"two\n");

        assert_eq!(read_all(&mut file), vec!["two"]);
        assert_eq!(file.read_offset(), 8);
        assert_eq!(file.take_bytes_read(), 8);
    }

    #[test]
    fn invalid_utf8_converted_and_flagged() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, b"ok\nbad \xff\xfe\n").unwrap();
        let mut file = follow(&path, 0);

        let first = file.next_record(Instant::now()).unwrap().unwrap();
        let second = file.next_record(Instant::now()).unwrap().unwrap();

        assert!(!first.invalid_utf8);
        assert!(second.invalid_utf8);
        assert_eq!(second.body, "bad \u{FFFD}\u{FFFD}");
        assert_eq!(second.end_offset, 10);
    }

    #[test]
    fn merging_line_keeps_file_undrained() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("0.log");
        fs::write(&path, "2024-05-01T10:00:00Z stdout P first part\n").unwrap();
        let (handle, id, fingerprint) = open_with_identity(&path).unwrap().unwrap();
        let start = Instant::now();
        let mut file = FollowedFile::open(
            path.clone(),
            handle,
            id,
            fingerprint,
            0,
            assembler(LogFormat::Cri, 0),
            start,
        )
        .unwrap();

        assert_eq!(file.next_record(start).unwrap(), None);
        assert!(!file.is_drained(), "a line still being merged was lost");
        assert_eq!(file.next_expired_record(start), None);

        let later = start + Duration::from_millis(150);
        let record = file.next_expired_record(later).unwrap();
        assert_eq!(record.body, "first part");
        assert_eq!(record.end_offset, 41);
        file.committed_offset = record.end_offset;
        assert!(file.is_drained());
    }

    #[test]
    fn line_ending_of_flushed_line_drained() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("a.log");
        fs::write(&path, "par").unwrap();
        let mut file = follow(&path, 0);
        assert_eq!(read_all(&mut file), Vec::<String>::new());

        let later = Instant::now() + Duration::from_millis(150);
        let record = file.next_expired_record(later).unwrap();
        assert_eq!(record.body, "par");
        file.committed_offset = record.end_offset;
        append(&path, b"\n");
        assert_eq!(read_all(&mut file), Vec::<String>::new());

        assert_eq!(file.read_offset(), 4);
        assert!(!file.has_unacknowledged(), "the line ending made no record");
        assert!(file.is_drained());
    }
}
