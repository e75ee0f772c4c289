//! The checkpoint store: for each file, the offset up to which its lines
//! were acknowledged downstream, kept under the data directory so a restart
//! resumes where delivery stopped.
//!
//! Two files hold the state:
//! - `checkpoints.json`, a snapshot of every checkpoint. It is replaced
//!   atomically: the new content is written to a temporary file in the same
//!   directory, synced, and renamed over the old one, and then the directory
//!   is synced. A crash therefore leaves either the old or the new snapshot,
//!   never a torn file.
//! - `checkpoints.journal`, the checkpoints changed since that snapshot, one
//!   JSON line per change, appended with one `write` call after every
//!   acknowledged batch. Appending costs one small write per batch, where a
//!   snapshot rewrites every file's entry, so progress is recorded after
//!   every batch and the snapshot is rewritten only about once a second.
//!
//! Both files carry a generation number. A snapshot raises it, and the
//! journal is then restarted with a header line naming the new generation.
//! Loading replays the journal only when its generation equals the
//! snapshot's, so a crash between writing the snapshot and restarting the
//! journal never applies stale journal lines over a newer snapshot.
//!
//! Journal appends are not synced. A process crash (SIGKILL, panic, OOM
//! kill) loses no completed append, because the data is in the kernel's
//! page cache already. A crash during an append, or a power loss, can leave
//! a torn last line, which loading ignores, and a power loss can also lose
//! the lines appended since the last snapshot. Either way an offset can
//! only fall back to an earlier acknowledged one, so lines are sent again,
//! never skipped.
//!
//! Entries are keyed by device and inode, and carry the fingerprint that
//! proves the file at that inode is still the same one. An entry whose file
//! is no longer seen is kept for [`RETENTION`], so a file that is renamed
//! out of the include globs and back, or that is briefly missing during a
//! rotation, resumes instead of being read again.
//!
//! The store never reads or writes log files, only its own files.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::file::{FileId, Fingerprint};

/// Name of the snapshot file inside the data directory.
pub const CHECKPOINT_FILE_NAME: &str = "checkpoints.json";

/// Name of the journal file inside the data directory.
pub const JOURNAL_FILE_NAME: &str = "checkpoints.journal";

/// How long the checkpoint of a file that is no longer seen is kept.
pub const RETENTION: Duration = Duration::from_secs(5 * 60);

/// Version of the snapshot format, raised on any incompatible change.
/// Version 1 had no generation and no birth times, and version 2 no guard
/// hashes. Both are still read.
const FORMAT_VERSION: u32 = 3;

/// Read position of one file: the offset after its last acknowledged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub fingerprint: Fingerprint,
    /// Offset just past the last acknowledged record.
    pub offset: u64,
    /// Hash of the up to 64 bytes before `offset`, where known. A file
    /// whose bytes there differ was rewritten since, even if its first
    /// bytes match the fingerprint.
    pub guard: Option<u64>,
    /// The last path matching the include globs that the file was seen
    /// under. After the file is renamed out of the globs, the file is looked
    /// for in this path's directory and read with this path's settings.
    pub path: PathBuf,
    /// When the file was last seen, in seconds since the Unix epoch.
    pub last_seen_unix_secs: u64,
}

/// A checkpoint file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("failed to read checkpoint file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("checkpoint file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "checkpoint file {path} has format version {version}, newer than the {FORMAT_VERSION} \
         this hush reads; run the newer hush, or move the file away to read every file again \
         from its beginning"
    )]
    NewerVersion { path: PathBuf, version: u32 },
}

/// The on-disk form of the snapshot: a versioned list, so the file is
/// readable by people and by `jq`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    version: u32,
    /// Absent in version 1 files, which had no journal.
    #[serde(default)]
    generation: u64,
    files: Vec<CheckpointEntry>,
}

/// First line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalHeader {
    generation: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointEntry {
    dev: u64,
    inode: u64,
    /// Number of leading bytes the fingerprint hash covers.
    fingerprint_bytes: u32,
    /// Hex of the first 8 bytes of the SHA-256 of those bytes.
    fingerprint: String,
    /// Birth time of the file in nanoseconds since the Unix epoch, where
    /// the file system reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_unix_nanos: Option<u64>,
    offset: u64,
    /// Hex of the guard hash of the bytes before `offset`, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guard: Option<String>,
    path: String,
    last_seen_unix_secs: u64,
}

impl CheckpointEntry {
    fn new(id: FileId, checkpoint: &Checkpoint) -> CheckpointEntry {
        CheckpointEntry {
            dev: id.dev,
            inode: id.inode,
            fingerprint_bytes: checkpoint.fingerprint.len,
            fingerprint: format!("{:016x}", checkpoint.fingerprint.hash),
            created_unix_nanos: checkpoint.fingerprint.created_unix_nanos,
            offset: checkpoint.offset,
            guard: checkpoint.guard.map(|guard| format!("{guard:016x}")),
            path: checkpoint.path.to_string_lossy().into_owned(),
            last_seen_unix_secs: checkpoint.last_seen_unix_secs,
        }
    }

    /// Converts the entry back, or returns the reason it is invalid.
    fn into_checkpoint(self) -> Result<(FileId, Checkpoint), String> {
        let hash = u64::from_str_radix(&self.fingerprint, 16).map_err(|_| {
            format!(
                "invalid fingerprint {:?} for inode {}: expected 16 hex digits",
                self.fingerprint, self.inode
            )
        })?;
        let guard = match &self.guard {
            Some(text) => Some(u64::from_str_radix(text, 16).map_err(|_| {
                format!(
                    "invalid guard {text:?} for inode {}: expected 16 hex digits",
                    self.inode
                )
            })?),
            None => None,
        };
        let id = FileId {
            dev: self.dev,
            inode: self.inode,
        };
        let checkpoint = Checkpoint {
            fingerprint: Fingerprint {
                len: self.fingerprint_bytes,
                hash,
                created_unix_nanos: self.created_unix_nanos,
            },
            offset: self.offset,
            guard,
            path: PathBuf::from(self.path),
            last_seen_unix_secs: self.last_seen_unix_secs,
        };
        Ok((id, checkpoint))
    }
}

/// Checkpoints of all files, in memory, with the files they are saved to.
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    journal_path: PathBuf,
    entries: HashMap<FileId, Checkpoint>,
    /// Generation of the last snapshot written or loaded.
    generation: u64,
    /// Open append handle of the journal, once the first line was appended
    /// in this generation.
    journal: Option<File>,
    /// Entries changed since they were last appended to the journal or
    /// written in a snapshot.
    unjournaled: BTreeSet<FileId>,
    /// True when `entries` changed since the last successful snapshot.
    dirty: bool,
    /// True when the snapshot was corrupt and set aside at load.
    state_lost: bool,
}

impl CheckpointStore {
    /// Loads the checkpoints saved in `data_dir`, creating the directory if
    /// it is missing. A missing snapshot means no file was read yet.
    ///
    /// Journal lines of the snapshot's generation are applied in order. A
    /// line that does not parse ends the replay, because it can only be a
    /// torn last line left by a crash or a power loss. It and any lines after
    /// it are ignored with a warning, and a new snapshot is written.
    pub fn load(data_dir: &Path) -> anyhow::Result<CheckpointStore> {
        fs::create_dir_all(data_dir).map_err(|err| {
            anyhow::anyhow!(
                "failed to create data directory {}: {err}; create it or set data_dir \
                 to a writable directory",
                data_dir.display()
            )
        })?;

        let path = data_dir.join(CHECKPOINT_FILE_NAME);
        let mut state_lost = false;
        let (generation, entries) = match fs::read(&path) {
            Ok(bytes) => match parse(&path, &bytes) {
                Ok(parsed) => parsed,
                Err(err @ CheckpointError::Corrupt { .. }) => {
                    set_aside_corrupt(&path, &err)?;
                    state_lost = true;
                    (0, HashMap::new())
                }
                Err(err) => return Err(err.into()),
            },
            Err(err) if err.kind() == io::ErrorKind::NotFound => (0, HashMap::new()),
            Err(source) => return Err(CheckpointError::Read { path, source }.into()),
        };
        let mut store = CheckpointStore {
            path,
            journal_path: data_dir.join(JOURNAL_FILE_NAME),
            entries,
            generation,
            journal: None,
            unjournaled: BTreeSet::new(),
            dirty: false,
            state_lost,
        };
        store.replay_journal()?;
        Ok(store)
    }

    fn replay_journal(&mut self) -> anyhow::Result<()> {
        let bytes = match fs::read(&self.journal_path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                let path = self.journal_path.clone();
                return Err(CheckpointError::Read { path, source }.into());
            }
        };

        let mut lines = bytes.split(|byte| *byte == b'\n');
        let header = lines
            .next()
            .and_then(|line| serde_json::from_slice::<JournalHeader>(line).ok());
        if header.is_none_or(|header| header.generation != self.generation) {
            // Left from before the last snapshot, which already contains it.
            return Ok(());
        }

        let mut applied = 0usize;
        let mut ignored = 0usize;
        for line in lines.filter(|line| !line.is_empty()) {
            if ignored > 0 {
                ignored += 1;
                continue;
            }
            let parsed = serde_json::from_slice::<CheckpointEntry>(line)
                .map_err(|err| err.to_string())
                .and_then(CheckpointEntry::into_checkpoint);
            match parsed {
                Ok((id, checkpoint)) => {
                    self.entries.insert(id, checkpoint);
                    applied += 1;
                }
                Err(_) => ignored = 1,
            }
        }
        // The replayed entries are not in the snapshot yet.
        self.dirty = applied > 0;

        if ignored > 0 {
            tracing::warn!(
                path = %self.journal_path.display(),
                ignored_lines = ignored,
                "ignored the torn end of the checkpoint journal; lines after the last \
                 intact entry are sent again"
            );
            // Lines appended after the torn one would be ignored by the next
            // load too, so the journal is replaced before anything is added.
            self.write().map_err(|err| {
                anyhow::anyhow!(
                    "failed to write checkpoint file {}: {err}",
                    self.path.display()
                )
            })?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reports whether the saved positions were lost at load because the
    /// snapshot was corrupt. Every file found then is read from its
    /// beginning, whatever `tail.start_at` is set to, because sending lines again
    /// is better than losing them.
    pub fn state_lost(&self) -> bool {
        self.state_lost
    }

    pub fn journal_path(&self) -> &Path {
        &self.journal_path
    }

    pub fn get(&self, id: FileId) -> Option<&Checkpoint> {
        self.entries.get(&id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lists the identities that have a checkpoint.
    pub fn ids(&self) -> impl Iterator<Item = FileId> + '_ {
        self.entries.keys().copied()
    }

    /// Records where reading of the file `id` stopped, replacing any
    /// checkpoint of an older file that had the same inode.
    pub fn set(&mut self, id: FileId, fingerprint: Fingerprint, offset: u64, path: &Path) {
        // The guard belongs to the offset, so it is kept only while the
        // offset stays.
        let guard = self
            .entries
            .get(&id)
            .filter(|old| old.offset == offset)
            .and_then(|old| old.guard);
        let checkpoint = Checkpoint {
            fingerprint,
            offset,
            guard,
            path: path.to_path_buf(),
            last_seen_unix_secs: unix_secs(SystemTime::now()),
        };
        let changed = self.entries.get(&id).is_none_or(|old| {
            old.fingerprint != checkpoint.fingerprint
                || old.offset != checkpoint.offset
                || old.path != checkpoint.path
        });
        if changed {
            self.mark_changed(id);
        }
        self.entries.insert(id, checkpoint);
    }

    /// Moves the checkpoint of the file `id`, if it has one, to `offset`,
    /// with no guard.
    pub fn set_offset(&mut self, id: FileId, offset: u64) {
        if let Some(checkpoint) = self.entries.get_mut(&id)
            && checkpoint.offset != offset
        {
            checkpoint.offset = offset;
            checkpoint.guard = None;
            self.mark_changed(id);
        }
    }

    /// Records the guard hash of the bytes before the checkpoint offset of
    /// the file `id`, if it has a checkpoint.
    pub fn set_guard(&mut self, id: FileId, guard: Option<u64>) {
        if let Some(checkpoint) = self.entries.get_mut(&id)
            && checkpoint.guard != guard
        {
            checkpoint.guard = guard;
            self.mark_changed(id);
        }
    }

    fn mark_changed(&mut self, id: FileId) {
        self.dirty = true;
        self.unjournaled.insert(id);
    }

    /// Marks the file `id` as seen now, so its checkpoint is not expired.
    pub fn touch(&mut self, id: FileId, now: SystemTime) {
        if let Some(checkpoint) = self.entries.get_mut(&id) {
            checkpoint.last_seen_unix_secs = unix_secs(now);
        }
    }

    /// Removes checkpoints of files not seen for [`RETENTION`].
    pub fn expire(&mut self, now: SystemTime) {
        let cutoff = unix_secs(now).saturating_sub(RETENTION.as_secs());
        let before = self.entries.len();
        self.entries
            .retain(|_, checkpoint| checkpoint.last_seen_unix_secs >= cutoff);
        if self.entries.len() != before {
            self.dirty = true;
        }
    }

    /// Reports whether the snapshot is older than the checkpoints in memory.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Reports whether some change is neither journaled nor in a snapshot.
    pub fn has_unjournaled(&self) -> bool {
        !self.unjournaled.is_empty()
    }

    /// Appends the checkpoints changed since the last append or snapshot to
    /// the journal, with one `write` call. Does nothing if none changed.
    pub fn append_journal(&mut self) -> io::Result<()> {
        if self.unjournaled.is_empty() {
            return Ok(());
        }

        let mut bytes = Vec::with_capacity(self.unjournaled.len() * 200);
        for id in &self.unjournaled {
            // An entry that expired since it changed needs no line.
            let Some(checkpoint) = self.entries.get(id) else {
                continue;
            };
            serde_json::to_writer(&mut bytes, &CheckpointEntry::new(*id, checkpoint))
                .map_err(io::Error::other)?;
            bytes.push(b'\n');
        }

        let journal = match &mut self.journal {
            Some(journal) => journal,
            None => self.journal.insert(self.open_journal()?),
        };
        journal.write_all(&bytes)?;
        self.unjournaled.clear();
        Ok(())
    }

    /// Opens the journal of the current generation for appending, starting
    /// it with its header line if it belongs to another generation.
    fn open_journal(&self) -> io::Result<File> {
        let current = fs::read(&self.journal_path).ok().and_then(|bytes| {
            let header = bytes.split(|byte| *byte == b'\n').next()?;
            serde_json::from_slice::<JournalHeader>(header).ok()
        });
        if current.is_none_or(|header| header.generation != self.generation) {
            self.restart_journal()?;
        }
        OpenOptions::new().append(true).open(&self.journal_path)
    }

    /// Replaces the journal with one holding only the header of the current
    /// generation.
    fn restart_journal(&self) -> io::Result<()> {
        let header = JournalHeader {
            generation: self.generation,
        };
        let mut bytes = serde_json::to_vec(&header).map_err(io::Error::other)?;
        bytes.push(b'\n');
        // Not synced: after a power loss, a journal of an older generation
        // is ignored, and one of this generation holds only this header.
        replace_file(&self.journal_path, &bytes, false)
    }

    /// Writes all checkpoints to a new snapshot of the next generation and
    /// restarts the journal.
    pub fn write(&mut self) -> io::Result<()> {
        let mut files: Vec<CheckpointEntry> = self
            .entries
            .iter()
            .map(|(id, checkpoint)| CheckpointEntry::new(*id, checkpoint))
            .collect();
        // A stable order keeps successive files comparable with `diff`.
        files.sort_by_key(|entry| (entry.dev, entry.inode));

        let generation = self.generation + 1;
        let document = CheckpointFile {
            version: FORMAT_VERSION,
            generation,
            files,
        };
        let mut bytes = serde_json::to_vec_pretty(&document).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes)?;
        self.generation = generation;
        self.dirty = false;
        self.unjournaled.clear();

        // The journal lines so far are all in the snapshot now. A failure
        // below leaves the old journal, which loading ignores because its
        // generation is older.
        self.journal = None;
        self.restart_journal()
    }
}

/// Renames a corrupt snapshot to `<name>.corrupt`, replacing an older one,
/// so that the agent starts and the file stays for inspection.
fn set_aside_corrupt(path: &Path, err: &CheckpointError) -> anyhow::Result<()> {
    let mut aside = path.as_os_str().to_os_string();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    fs::rename(path, &aside).map_err(|rename_err| {
        anyhow::anyhow!(
            "{err}; moving it to {} failed: {rename_err}",
            aside.display()
        )
    })?;
    tracing::error!(
        error = %err,
        moved_to = %aside.display(),
        "tail checkpoints lost: every file found now is read from its beginning"
    );
    Ok(())
}

fn parse(path: &Path, bytes: &[u8]) -> Result<(u64, HashMap<FileId, Checkpoint>), CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };

    // serde_json's message can quote a value, such as a path holding a
    // user name, and this one goes to the agent's log, so only the position
    // is named.
    let document: CheckpointFile = serde_json::from_slice(bytes).map_err(|err| {
        corrupt(format!(
            "invalid JSON or field at line {}, column {}",
            err.line(),
            err.column()
        ))
    })?;
    if document.version > FORMAT_VERSION {
        return Err(CheckpointError::NewerVersion {
            path: path.to_path_buf(),
            version: document.version,
        });
    }
    if document.version == 0 {
        return Err(corrupt("version 0, expected 1 or more".to_string()));
    }

    let mut entries = HashMap::with_capacity(document.files.len());
    for entry in document.files {
        let (id, checkpoint) = entry.into_checkpoint().map_err(corrupt)?;
        entries.insert(id, checkpoint);
    }
    Ok((document.generation, entries))
}

/// Replaces `path` with `bytes` so that readers and crashes see either the
/// old content or the new, never a mix, and makes the change durable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, bytes, true)
}

/// Writes `bytes` to a temporary file beside `path` and renames it over
/// `path`. With `durable`, the data and the rename are synced to disk.
fn replace_file(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
    temp_name.push(".tmp");
    let temp_path = dir.join(temp_name);

    let mut temp = File::create(&temp_path)?;
    temp.write_all(bytes)?;
    if durable {
        temp.sync_all()?;
    }
    drop(temp);

    fs::rename(&temp_path, path)?;

    // The rename is durable only once the directory entry is synced.
    if durable {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(inode: u64) -> FileId {
        FileId { dev: 7, inode }
    }

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint::of_bytes(text.as_bytes())
    }

    #[test]
    fn missing_file_loads_empty_and_creates_dir() {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("state/nested");

        let store = CheckpointStore::load(&data_dir).unwrap();

        assert!(store.is_empty());
        assert!(data_dir.is_dir());
        assert!(!store.is_dirty());
    }

    #[test]
    fn write_then_reload_round_trips() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(
            id(1),
            fingerprint("first file"),
            120,
            Path::new("/logs/a.log"),
        );
        store.set(id(2), fingerprint(""), 0, Path::new("/logs/b.log"));
        assert!(store.is_dirty());

        store.write().unwrap();
        assert!(!store.is_dirty());
        let reloaded = CheckpointStore::load(temp.path()).unwrap();

        assert_eq!(reloaded.len(), 2);
        let first = reloaded.get(id(1)).unwrap();
        assert_eq!(first.offset, 120);
        assert_eq!(first.fingerprint, fingerprint("first file"));
        assert_eq!(first.path, Path::new("/logs/a.log"));
        assert_eq!(reloaded.get(id(2)).unwrap().fingerprint.len, 0);
    }

    #[test]
    fn write_leaves_no_temp_file() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("x"), 1, Path::new("/x"));

        store.write().unwrap();
        store.set(id(1), fingerprint("x"), 2, Path::new("/x"));
        store.write().unwrap();

        let mut names: Vec<_> = fs::read_dir(temp.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec![JOURNAL_FILE_NAME, CHECKPOINT_FILE_NAME]);
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"offset\": 2"), "{text}");
    }

    #[test]
    fn atomic_write_replaces_whole_content() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("target.json");
        fs::write(&path, "old content that is longer than the new one").unwrap();

        write_atomically(&path, b"new").unwrap();

        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn corrupt_file_set_aside() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(CHECKPOINT_FILE_NAME);
        let text = "{\"version\": 1, \"files\": [{\"path\": \"/logs/ann@example.com\"";
        fs::write(&path, text).unwrap();

        let store = CheckpointStore::load(temp.path()).unwrap();

        assert!(store.state_lost());
        assert_eq!(store.len(), 0);
        assert!(!path.exists(), "the corrupt file is still in place");
        let aside = temp.path().join(format!("{CHECKPOINT_FILE_NAME}.corrupt"));
        assert_eq!(fs::read_to_string(aside).unwrap(), text);
    }

    #[test]
    fn corrupt_reason_omits_values() {
        let path = Path::new("/state/checkpoints.json");
        let text =
            br#"{"version": 3, "generation": 1, "files": [{"path": 7, "x": "ann@example.com"}]}"#;

        let message = parse(path, text).unwrap_err().to_string();

        assert!(message.contains("corrupt"), "{message}");
        assert!(message.contains("line 1"), "{message}");
        assert!(!message.contains("ann@example.com"), "{message}");
    }

    #[test]
    fn unknown_version_rejected() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(CHECKPOINT_FILE_NAME);
        fs::write(&path, "{\"version\": 9, \"files\": []}").unwrap();

        let message = CheckpointStore::load(temp.path()).unwrap_err().to_string();

        assert!(message.contains("format version 9"), "{message}");
        assert!(message.contains("move the file away"), "{message}");
        assert!(path.exists(), "a newer file must stay for the newer hush");
    }

    #[test]
    fn bad_fingerprint_rejected() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(CHECKPOINT_FILE_NAME);
        let text = r#"{"version": 1, "files": [{"dev": 1, "inode": 2,
            "fingerprint_bytes": 3, "fingerprint": "zz", "offset": 4,
            "path": "/a", "last_seen_unix_secs": 5}]}"#;
        fs::write(&path, text).unwrap();

        let message = parse(&path, text.as_bytes()).unwrap_err().to_string();
        let store = CheckpointStore::load(temp.path()).unwrap();

        assert!(message.contains("invalid fingerprint"), "{message}");
        assert!(store.state_lost());
    }

    #[test]
    fn unseen_entries_expire_after_retention() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 1, Path::new("/a"));
        store.set(id(2), fingerprint("b"), 1, Path::new("/b"));
        store.write().unwrap();

        let later = SystemTime::now() + RETENTION + Duration::from_secs(10);
        store.touch(id(2), later);
        store.expire(later);

        assert!(store.get(id(1)).is_none());
        assert!(store.get(id(2)).is_some());
        assert!(store.is_dirty());
    }

    #[test]
    fn unchanged_set_not_dirty() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 1, Path::new("/a"));
        store.write().unwrap();

        store.set(id(1), fingerprint("a"), 1, Path::new("/a"));

        assert!(!store.is_dirty());
    }

    #[test]
    fn journal_replayed_over_snapshot() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 10, Path::new("/a"));
        store.write().unwrap();

        store.set_offset(id(1), 20);
        store.set(id(2), fingerprint("b"), 5, Path::new("/b"));
        store.append_journal().unwrap();
        assert!(!store.has_unjournaled());
        store.set_offset(id(1), 30);
        store.append_journal().unwrap();
        drop(store);

        let reloaded = CheckpointStore::load(temp.path()).unwrap();
        assert_eq!(reloaded.get(id(1)).unwrap().offset, 30);
        assert_eq!(reloaded.get(id(2)).unwrap().offset, 5);
        assert_eq!(reloaded.get(id(2)).unwrap().path, Path::new("/b"));
        assert!(
            reloaded.is_dirty(),
            "replayed entries are not in the snapshot"
        );
    }

    #[test]
    fn journal_without_snapshot_replayed() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 7, Path::new("/a"));
        store.append_journal().unwrap();
        drop(store);

        let reloaded = CheckpointStore::load(temp.path()).unwrap();

        assert_eq!(reloaded.get(id(1)).unwrap().offset, 7);
    }

    #[test]
    fn torn_journal_line_ignored() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 10, Path::new("/a"));
        store.append_journal().unwrap();
        store.set_offset(id(1), 20);
        store.append_journal().unwrap();
        drop(store);

        // Cut the last line in half, as a power loss during the append can.
        let journal = temp.path().join(JOURNAL_FILE_NAME);
        let bytes = fs::read(&journal).unwrap();
        fs::write(&journal, &bytes[..bytes.len() - 20]).unwrap();
        let mut reloaded = CheckpointStore::load(temp.path()).unwrap();
        assert_eq!(reloaded.get(id(1)).unwrap().offset, 10);

        // Appends after the torn line are read by the next load.
        reloaded.set_offset(id(1), 30);
        reloaded.append_journal().unwrap();
        drop(reloaded);
        let again = CheckpointStore::load(temp.path()).unwrap();
        assert_eq!(again.get(id(1)).unwrap().offset, 30);
    }

    #[test]
    fn journal_of_older_generation_ignored() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 10, Path::new("/a"));
        store.append_journal().unwrap();
        let stale_journal = fs::read(temp.path().join(JOURNAL_FILE_NAME)).unwrap();

        // A truncated file sets the offset back, and the snapshot has it.
        store.set_offset(id(1), 3);
        store.write().unwrap();
        // A crash right after the snapshot leaves the old journal behind.
        fs::write(temp.path().join(JOURNAL_FILE_NAME), stale_journal).unwrap();
        drop(store);

        let reloaded = CheckpointStore::load(temp.path()).unwrap();

        assert_eq!(reloaded.get(id(1)).unwrap().offset, 3);
    }

    #[test]
    fn appends_continue_after_reload() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 10, Path::new("/a"));
        store.write().unwrap();
        store.set_offset(id(1), 11);
        store.append_journal().unwrap();
        drop(store);

        let mut reloaded = CheckpointStore::load(temp.path()).unwrap();
        reloaded.set_offset(id(1), 12);
        reloaded.append_journal().unwrap();
        drop(reloaded);

        let again = CheckpointStore::load(temp.path()).unwrap();
        assert_eq!(again.get(id(1)).unwrap().offset, 12);
    }

    #[test]
    fn version_1_snapshot_read() {
        let temp = tempfile::tempdir().unwrap();
        let text = r#"{"version": 1, "files": [{"dev": 7, "inode": 2,
            "fingerprint_bytes": 1, "fingerprint": "00000000000000ff", "offset": 4,
            "path": "/a", "last_seen_unix_secs": 5}]}"#;
        fs::write(temp.path().join(CHECKPOINT_FILE_NAME), text).unwrap();

        let store = CheckpointStore::load(temp.path()).unwrap();

        let checkpoint = store.get(id(2)).unwrap();
        assert_eq!(checkpoint.offset, 4);
        assert_eq!(checkpoint.fingerprint.hash, 0xff);
        assert_eq!(checkpoint.fingerprint.created_unix_nanos, None);
    }

    #[test]
    fn guard_round_trips_and_follows_offset() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        store.set(id(1), fingerprint("a"), 10, Path::new("/a"));
        store.set_guard(id(1), Some(0xabc));
        store.write().unwrap();
        store.set(id(2), fingerprint("b"), 5, Path::new("/b"));
        store.set_guard(id(2), Some(0xdef));
        store.append_journal().unwrap();
        drop(store);

        let mut reloaded = CheckpointStore::load(temp.path()).unwrap();
        assert_eq!(reloaded.get(id(1)).unwrap().guard, Some(0xabc));
        assert_eq!(reloaded.get(id(2)).unwrap().guard, Some(0xdef));

        // The same offset keeps the guard, a new one drops it.
        reloaded.set(id(1), fingerprint("a"), 10, Path::new("/a"));
        assert_eq!(reloaded.get(id(1)).unwrap().guard, Some(0xabc));
        reloaded.set(id(1), fingerprint("a"), 11, Path::new("/a"));
        assert_eq!(reloaded.get(id(1)).unwrap().guard, None);
        reloaded.set_offset(id(2), 6);
        assert_eq!(reloaded.get(id(2)).unwrap().guard, None);
    }

    #[test]
    fn version_2_snapshot_read_without_guard() {
        let temp = tempfile::tempdir().unwrap();
        let text = r#"{"version": 2, "generation": 3, "files": [{"dev": 7, "inode": 2,
            "fingerprint_bytes": 1, "fingerprint": "00000000000000ff", "offset": 4,
            "path": "/a", "last_seen_unix_secs": 5}]}"#;
        fs::write(temp.path().join(CHECKPOINT_FILE_NAME), text).unwrap();

        let store = CheckpointStore::load(temp.path()).unwrap();

        let checkpoint = store.get(id(2)).unwrap();
        assert_eq!(checkpoint.offset, 4);
        assert_eq!(checkpoint.guard, None);
    }

    #[test]
    fn birth_time_round_trips() {
        let temp = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::load(temp.path()).unwrap();
        let mut born = fingerprint("a");
        born.created_unix_nanos = Some(1_700_000_000_123_456_789);
        store.set(id(1), born, 1, Path::new("/a"));
        store.write().unwrap();

        let reloaded = CheckpointStore::load(temp.path()).unwrap();

        assert_eq!(reloaded.get(id(1)).unwrap().fingerprint, born);
    }
}
