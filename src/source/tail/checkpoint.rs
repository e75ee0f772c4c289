//! The checkpoint store: for each file, the offset up to which its lines
//! were acknowledged downstream, kept in `checkpoints.json` under the data
//! directory so a restart resumes where delivery stopped.
//!
//! The file is replaced atomically. The new content is written to a
//! temporary file in the same directory, synced, and renamed over the old
//! one, and then the directory is synced. A crash therefore leaves either
//! the old or the new checkpoints, never a torn file.
//!
//! Entries are keyed by device and inode, and carry the fingerprint that
//! proves the file at that inode is still the same one. An entry whose file
//! is no longer seen is kept for [`RETENTION`], so a file that is renamed
//! out of the include globs and back, or that is briefly missing during a
//! rotation, resumes instead of being read again.
//!
//! The store never reads or writes log files, only its own file.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::file::{FileId, Fingerprint};

/// Name of the checkpoint file inside the data directory.
pub const CHECKPOINT_FILE_NAME: &str = "checkpoints.json";

/// How long the checkpoint of a file that is no longer seen is kept.
pub const RETENTION: Duration = Duration::from_secs(5 * 60);

/// Version of the on-disk format, raised on any incompatible change.
const FORMAT_VERSION: u32 = 1;

/// Read position of one file: the offset after its last acknowledged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub fingerprint: Fingerprint,
    /// Offset just past the last acknowledged record.
    pub offset: u64,
    /// The path the file was last seen under, for people reading the file.
    pub path: PathBuf,
    /// When the file was last seen, in seconds since the Unix epoch.
    pub last_seen_unix_secs: u64,
}

/// A checkpoint file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("failed to read checkpoint file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "checkpoint file {path} is corrupt: {reason}; move it away to start over, \
         which reads every file again according to tail.start_at"
    )]
    Corrupt { path: PathBuf, reason: String },
}

/// The on-disk form: a versioned list, so the file is readable by people
/// and by `jq`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    version: u32,
    files: Vec<CheckpointEntry>,
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
    offset: u64,
    path: String,
    last_seen_unix_secs: u64,
}

/// Checkpoints of all files, in memory, with the file they are saved to.
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    entries: HashMap<FileId, Checkpoint>,
    /// True when `entries` changed since the last successful write.
    dirty: bool,
}

impl CheckpointStore {
    /// Loads the checkpoints saved in `data_dir`, creating the directory if
    /// it is missing. A missing checkpoint file means no file was read yet.
    pub fn load(data_dir: &Path) -> anyhow::Result<CheckpointStore> {
        fs::create_dir_all(data_dir).map_err(|err| {
            anyhow::anyhow!(
                "failed to create data directory {}: {err}; create it or set data_dir \
                 to a writable directory",
                data_dir.display()
            )
        })?;

        let path = data_dir.join(CHECKPOINT_FILE_NAME);
        let entries = match fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => HashMap::new(),
            Err(source) => return Err(CheckpointError::Read { path, source }.into()),
        };
        Ok(CheckpointStore {
            path,
            entries,
            dirty: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// Records where reading of the file `id` stopped, replacing any
    /// checkpoint of an older file that had the same inode.
    pub fn set(&mut self, id: FileId, fingerprint: Fingerprint, offset: u64, path: &Path) {
        let checkpoint = Checkpoint {
            fingerprint,
            offset,
            path: path.to_path_buf(),
            last_seen_unix_secs: unix_secs(SystemTime::now()),
        };
        let changed = self.entries.get(&id).is_none_or(|old| {
            old.fingerprint != checkpoint.fingerprint
                || old.offset != checkpoint.offset
                || old.path != checkpoint.path
        });
        if changed {
            self.dirty = true;
        }
        self.entries.insert(id, checkpoint);
    }

    /// Moves the checkpoint of the file `id`, if it has one, to `offset`.
    pub fn set_offset(&mut self, id: FileId, offset: u64) {
        if let Some(checkpoint) = self.entries.get_mut(&id)
            && checkpoint.offset != offset
        {
            checkpoint.offset = offset;
            self.dirty = true;
        }
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

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes all checkpoints to the checkpoint file atomically.
    pub fn write(&mut self) -> io::Result<()> {
        let mut files: Vec<CheckpointEntry> = self
            .entries
            .iter()
            .map(|(id, checkpoint)| CheckpointEntry {
                dev: id.dev,
                inode: id.inode,
                fingerprint_bytes: checkpoint.fingerprint.len,
                fingerprint: format!("{:016x}", checkpoint.fingerprint.hash),
                offset: checkpoint.offset,
                path: checkpoint.path.to_string_lossy().into_owned(),
                last_seen_unix_secs: checkpoint.last_seen_unix_secs,
            })
            .collect();
        // A stable order keeps successive files comparable with `diff`.
        files.sort_by_key(|entry| (entry.dev, entry.inode));

        let document = CheckpointFile {
            version: FORMAT_VERSION,
            files,
        };
        let mut bytes = serde_json::to_vec_pretty(&document).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<HashMap<FileId, Checkpoint>, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };

    let document: CheckpointFile =
        serde_json::from_slice(bytes).map_err(|err| corrupt(err.to_string()))?;
    if document.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "unsupported version {}, expected {FORMAT_VERSION}",
            document.version
        )));
    }

    let mut entries = HashMap::with_capacity(document.files.len());
    for entry in document.files {
        let hash = u64::from_str_radix(&entry.fingerprint, 16).map_err(|_| {
            corrupt(format!(
                "invalid fingerprint {:?} for inode {}: expected 16 hex digits",
                entry.fingerprint, entry.inode
            ))
        })?;
        let id = FileId {
            dev: entry.dev,
            inode: entry.inode,
        };
        let checkpoint = Checkpoint {
            fingerprint: Fingerprint {
                len: entry.fingerprint_bytes,
                hash,
            },
            offset: entry.offset,
            path: PathBuf::from(entry.path),
            last_seen_unix_secs: entry.last_seen_unix_secs,
        };
        entries.insert(id, checkpoint);
    }
    Ok(entries)
}

/// Replaces `path` with `bytes` so that readers and crashes see either the
/// old content or the new, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
    temp_name.push(".tmp");
    let temp_path = dir.join(temp_name);

    let mut temp = File::create(&temp_path)?;
    temp.write_all(bytes)?;
    temp.sync_all()?;
    drop(temp);

    fs::rename(&temp_path, path)?;

    // The rename is durable only once the directory entry is synced.
    File::open(dir)?.sync_all()
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

        let names: Vec<_> = fs::read_dir(temp.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![CHECKPOINT_FILE_NAME]);
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
    fn corrupt_file_names_path_and_fix() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(CHECKPOINT_FILE_NAME);
        fs::write(&path, "{\"version\": 1, \"files\": [").unwrap();

        let message = CheckpointStore::load(temp.path()).unwrap_err().to_string();

        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("corrupt"), "{message}");
        assert!(message.contains("move it away"), "{message}");
    }

    #[test]
    fn unknown_version_rejected() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(CHECKPOINT_FILE_NAME);
        fs::write(&path, "{\"version\": 9, \"files\": []}").unwrap();

        let message = CheckpointStore::load(temp.path()).unwrap_err().to_string();

        assert!(message.contains("unsupported version 9"), "{message}");
    }

    #[test]
    fn bad_fingerprint_rejected() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(CHECKPOINT_FILE_NAME);
        let text = r#"{"version": 1, "files": [{"dev": 1, "inode": 2,
            "fingerprint_bytes": 3, "fingerprint": "zz", "offset": 4,
            "path": "/a", "last_seen_unix_secs": 5}]}"#;
        fs::write(&path, text).unwrap();

        let message = CheckpointStore::load(temp.path()).unwrap_err().to_string();

        assert!(message.contains("invalid fingerprint"), "{message}");
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
}
