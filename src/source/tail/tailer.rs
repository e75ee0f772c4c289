//! The tailer's state: which files are followed, the read position of each, and
//! the steps of one turn of the run loop (write checkpoints, rescan, fill a
//! batch, commit an acknowledged batch).
//!
//! Every method here does blocking file IO and never waits for the
//! pipeline. The run loop calls them on a blocking thread and does the
//! waiting itself.
//!
//! Rotation is handled by identity, not by name. A rescan maps every
//! matching path to its device and inode. A followed file whose identity is
//! no longer found under any matching path was renamed away or deleted: it
//! stays open, is read to its end, and is closed once all its lines are
//! acknowledged. A new identity under the same name is a new file, read
//! from offset 0.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::resource::v1::Resource;

use super::assemble::Assembler;
use super::batch::{Batch, FileAttributes, host_resource, unix_nanos_now};
use super::checkpoint::CheckpointStore;
use super::discover::Discovery;
use super::file::{ContentChange, FileId, FollowedFile, PathStatus, open_with_identity};
use super::kubernetes::is_container_log_path;
use super::sources::Sources;
use crate::config::{StartAt, TailConfig};
use crate::telemetry::{LogPath, Metrics};

/// Most files kept open at once. Files found beyond it wait until a
/// followed file is closed.
// NOTE: a fixed guess below the common soft limit of 1024 descriptors; not configurable yet.
pub const MAX_OPEN_FILES: usize = 512;

/// Minimum time between two checkpoint writes while running.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

struct Tracked {
    file: FollowedFile,
    attributes: FileAttributes,
}

/// All followed files and their checkpoints.
pub struct Tailer {
    config: TailConfig,
    discovery: Discovery,
    sources: Sources,
    /// The resource of every file that is not a container log.
    host_resource: Arc<Resource>,
    store: CheckpointStore,
    files: BTreeMap<FileId, Tracked>,
    /// The file the next batch starts with, so that one busy file cannot
    /// keep the others waiting.
    next_file: Option<FileId>,
    /// False until the first scan. Files new in the first scan start at
    /// `config.start_at`, and files that appear later are read from offset
    /// 0, because all their lines were written while the agent was running.
    scanned_once: bool,
    last_scan_at: Option<Instant>,
    last_checkpoint_write_at: Option<Instant>,
    /// Paths whose last error was logged, so a lasting error is logged once
    /// instead of at every scan; every occurrence is still counted.
    logged_errors: HashSet<PathBuf>,
    open_limit_logged: bool,
    metrics: Arc<Metrics>,
}

impl Tailer {
    /// Loads the checkpoints from `data_dir` and compiles the globs.
    pub fn new(
        config: TailConfig,
        data_dir: &Path,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Tailer> {
        let sources = Sources::new(&config)?;
        let discovery = Discovery::new(&Sources::include_patterns(&config), &config.exclude)?;
        let store = CheckpointStore::load(data_dir)?;
        tracing::info!(
            checkpoints = %store.path().display(),
            known_files = store.len(),
            "loaded tail checkpoints"
        );
        Ok(Tailer {
            config,
            discovery,
            sources,
            host_resource: Arc::new(host_resource()),
            store,
            files: BTreeMap::new(),
            next_file: None,
            scanned_once: false,
            last_scan_at: None,
            last_checkpoint_write_at: None,
            logged_errors: HashSet::new(),
            open_limit_logged: false,
            metrics,
        })
    }

    pub fn open_file_count(&self) -> usize {
        self.files.len()
    }

    /// Runs one turn: writes checkpoints and rescans if they are due, then
    /// reads up to `max_batch_lines` records.
    pub fn step(&mut self, now: Instant) -> Batch {
        self.write_checkpoints_if_due(now);

        let scan_due = self
            .last_scan_at
            .is_none_or(|at| now.duration_since(at) >= self.config.poll_interval());
        if scan_due {
            self.rescan(now);
        }

        self.collect(now)
    }

    /// Finds new files, notices renamed, deleted and truncated ones, and
    /// closes those read to the end.
    pub fn rescan(&mut self, now: Instant) {
        self.last_scan_at = Some(now);
        let current = self.scan_paths();

        self.update_followed_files(&current);
        self.close_finished_files();
        self.open_new_files(&current, now);

        let wall_clock = SystemTime::now();
        for id in current.keys().chain(self.files.keys()) {
            self.store.touch(*id, wall_clock);
        }
        self.store.expire(wall_clock);
        self.scanned_once = true;
    }

    /// Lists the matching paths by the identity each one points to now.
    fn scan_paths(&mut self) -> HashMap<FileId, PathBuf> {
        let mut errors = Vec::new();
        let found = self.discovery.scan(&mut errors);
        for error in errors {
            self.report_error(&error.path, &error.error, "failed to list a directory");
        }

        let mut current = HashMap::with_capacity(found.len());
        for path in found {
            // Every source that includes this path also excludes it.
            if self.sources.settings_for(&path).is_none() {
                continue;
            }
            // The file may vanish between the listing and the stat.
            let Ok(metadata) = fs::metadata(&path) else {
                continue;
            };
            // Two matching paths for one file (hard links, or a rotation that
            // keeps the old name matching): the first one found is kept.
            current.entry(FileId::of(&metadata)).or_insert(path);
        }
        current
    }

    fn update_followed_files(&mut self, current: &HashMap<FileId, PathBuf>) {
        let mut truncated = Vec::new();
        let mut failed = Vec::new();

        for (id, tracked) in &mut self.files {
            let file = &mut tracked.file;
            let found = current.contains_key(id);
            if found {
                file.status = PathStatus::Current;
            } else if file.status == PathStatus::Current {
                file.status = PathStatus::Detached;
                // Bytes may have been written since the last read returned
                // end of file, so the end must be reached once more.
                file.at_eof = false;
                Metrics::inc(&self.metrics.tail_files_rotated_total);
                tracing::info!(
                    path = %LogPath(&file.path),
                    "file renamed away or deleted, reading it to the end"
                );
            }

            match file.check_content() {
                Ok(ContentChange::Unchanged) => {}
                Ok(ContentChange::Truncated) => truncated.push(*id),
                Err(err) => failed.push((*id, err)),
            }
        }

        for id in truncated {
            self.restart_truncated(id);
        }
        for (id, err) in failed {
            self.drop_after_error(id, &err);
        }
    }

    fn restart_truncated(&mut self, id: FileId) {
        let Some(tracked) = self.files.get_mut(&id) else {
            return;
        };
        let file = &mut tracked.file;
        Metrics::inc(&self.metrics.tail_files_rotated_total);
        tracing::info!(
            path = %LogPath(&file.path),
            offset = file.read_offset(),
            "file truncated, reading it again from the start"
        );
        match file.restart_from_beginning() {
            Ok(()) => {
                self.store.set(id, file.fingerprint, 0, &file.path);
            }
            Err(err) => self.drop_after_error(id, &err),
        }
    }

    /// Closes a file after an IO error. Its checkpoint stays, so the next
    /// scan reopens it and resumes at the last acknowledged line.
    fn drop_after_error(&mut self, id: FileId, err: &std::io::Error) {
        if let Some(tracked) = self.files.remove(&id) {
            let path = tracked.file.path;
            self.report_error(&path, err, "failed to read a file, closing it");
        }
    }

    fn close_finished_files(&mut self) {
        self.files.retain(|_, tracked| {
            let file = &tracked.file;
            let finished = file.status == PathStatus::Detached
                && file.at_eof
                && file.is_drained()
                && file.size().is_ok_and(|size| size <= file.read_offset());
            if finished {
                tracing::debug!(path = %LogPath(&file.path), "closed a file read to its end");
            }
            !finished
        });
    }

    fn open_new_files(&mut self, current: &HashMap<FileId, PathBuf>, now: Instant) {
        let mut new_files: Vec<(&FileId, &PathBuf)> = current
            .iter()
            .filter(|(id, _)| !self.files.contains_key(*id))
            .collect();
        new_files.sort_by(|a, b| a.1.cmp(b.1));

        for (_, path) in new_files {
            if self.files.len() >= MAX_OPEN_FILES {
                if !self.open_limit_logged {
                    self.open_limit_logged = true;
                    tracing::warn!(
                        limit = MAX_OPEN_FILES,
                        "too many matching files, some are not read until others are closed"
                    );
                }
                return;
            }
            self.open_file(path, now);
        }
        self.open_limit_logged = false;
    }

    fn open_file(&mut self, path: &Path, now: Instant) {
        let opened = match open_with_identity(path) {
            Ok(Some(opened)) => opened,
            Ok(None) => return,
            Err(err) => {
                self.report_error(path, &err, "failed to open a file");
                return;
            }
        };
        let (file, id, fingerprint) = opened;
        // A rename between the scan and the open can make this path name a
        // file that is followed already.
        if self.files.contains_key(&id) {
            return;
        }

        let size = match file.metadata() {
            Ok(metadata) => metadata.len(),
            Err(err) => {
                self.report_error(path, &err, "failed to open a file");
                return;
            }
        };
        let offset = self.start_offset(id, &file, size, path);
        let Some(settings) = self.sources.settings_for(path) else {
            return;
        };
        let assembler = Assembler::new(settings.clone(), is_container_log_path(path), offset);

        match FollowedFile::open(
            path.to_path_buf(),
            file,
            id,
            fingerprint,
            offset,
            assembler,
            now,
        ) {
            Ok(followed) => {
                self.logged_errors.remove(path);
                Metrics::inc(&self.metrics.tail_files_opened_total);
                tracing::info!(path = %LogPath(path), offset, "following a file");
                self.store.set(id, fingerprint, offset, path);
                let attributes = FileAttributes::new(path, &self.host_resource);
                self.files.insert(
                    id,
                    Tracked {
                        file: followed,
                        attributes,
                    },
                );
            }
            Err(err) => self.report_error(path, &err, "failed to open a file"),
        }
    }

    /// Chooses where a newly opened file starts: at its checkpoint if the
    /// checkpoint is for this very file, else per `start_at` on the first
    /// scan and at 0 afterwards.
    fn start_offset(&mut self, id: FileId, file: &fs::File, size: u64, path: &Path) -> u64 {
        if let Some(checkpoint) = self.store.get(id) {
            match checkpoint.fingerprint.matches(file) {
                Ok(true) if size >= checkpoint.offset => return checkpoint.offset,
                Ok(true) => {
                    Metrics::inc(&self.metrics.tail_files_rotated_total);
                    tracing::info!(
                        path = %LogPath(path),
                        "file shorter than its checkpoint, reading it again from the start"
                    );
                    return 0;
                }
                Ok(false) => {
                    tracing::debug!(
                        path = %LogPath(path),
                        "inode reused by a different file, ignoring the old checkpoint"
                    );
                }
                Err(err) => self.report_error(path, &err, "failed to read a file fingerprint"),
            }
        }

        match (self.scanned_once, self.config.start_at) {
            (false, StartAt::End) => size,
            _ => 0,
        }
    }

    /// Reads records into a batch until it has `max_batch_lines` records or
    /// [`super::batch::MAX_BATCH_BYTES`] of text, or every file is at its
    /// end. Lines that waited longer than their timeout to be completed,
    /// merged or joined are sent as they are.
    pub fn collect(&mut self, now: Instant) -> Batch {
        let max_lines = self.config.max_batch_lines.max(1);
        let mut batch = Batch::default();
        let observed = unix_nanos_now();

        let ids = self.visit_order();
        let mut failed = Vec::new();
        for (position, id) in ids.iter().enumerate() {
            let Some(tracked) = self.files.get_mut(id) else {
                continue;
            };
            let result = fill_from_file(tracked, *id, &mut batch, max_lines, now, observed);
            Metrics::add(
                &self.metrics.tail_bytes_total,
                tracked.file.take_bytes_read(),
            );
            let counts = tracked.file.take_counts();
            Metrics::add(&self.metrics.tail_lines_total, counts.lines);
            Metrics::add(&self.metrics.tail_lines_split_total, counts.split);
            Metrics::add(&self.metrics.tail_lines_malformed_total, counts.malformed);
            Metrics::add(
                &self.metrics.tail_multiline_records_cut_total,
                counts.multiline_cut,
            );
            if let Err(err) = result {
                failed.push((*id, err));
            }

            if batch.is_full(max_lines) {
                self.next_file = ids.get(position + 1).or(ids.first()).copied();
                break;
            }
        }

        for (id, err) in failed {
            self.drop_after_error(id, &err);
        }
        Metrics::add(
            &self.metrics.tail_lines_invalid_utf8_total,
            batch.invalid_utf8_count(),
        );
        batch
    }

    /// Lists the followed files starting with `next_file`, wrapping around.
    fn visit_order(&self) -> Vec<FileId> {
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        let start = self
            .next_file
            .and_then(|next| ids.iter().position(|id| *id >= next))
            .unwrap_or(0);
        let mut ordered = ids[start..].to_vec();
        ordered.extend_from_slice(&ids[..start]);
        ordered
    }

    /// Advances the committed offsets after the batch that ended at
    /// `offsets` was acknowledged, or rejected for good.
    pub fn commit(&mut self, offsets: &[(FileId, u64)]) {
        for &(id, offset) in offsets {
            // A file closed after a read error since the batch was read
            // keeps its checkpoint, which must still advance.
            let Some(tracked) = self.files.get_mut(&id) else {
                self.store.set_offset(id, offset);
                continue;
            };
            let file = &mut tracked.file;
            file.committed_offset = offset;
            self.store.set(id, file.fingerprint, offset, &file.path);
        }
    }

    /// Writes the checkpoint file if it changed and the last write was at
    /// least [`CHECKPOINT_INTERVAL`] ago.
    pub fn write_checkpoints_if_due(&mut self, now: Instant) {
        let due = self
            .last_checkpoint_write_at
            .is_none_or(|at| now.duration_since(at) >= CHECKPOINT_INTERVAL);
        if due && self.store.is_dirty() {
            self.last_checkpoint_write_at = Some(now);
            self.write_checkpoints();
        }
    }

    /// Writes the checkpoint file now. A failure is logged and counted, and
    /// the next write tries again.
    pub fn write_checkpoints(&mut self) -> bool {
        match self.store.write() {
            Ok(()) => true,
            Err(err) => {
                Metrics::inc(&self.metrics.checkpoint_write_errors_total);
                tracing::error!(
                    path = %self.store.path().display(),
                    error = %err,
                    "failed to write tail checkpoints"
                );
                false
            }
        }
    }

    fn report_error(&mut self, path: &Path, err: &std::io::Error, message: &'static str) {
        Metrics::inc(&self.metrics.tail_read_errors_total);
        if self.logged_errors.insert(path.to_path_buf()) {
            tracing::warn!(path = %LogPath(path), error = %err, "{message}");
        }
    }
}

/// Moves records from one file into `batch` until the batch is full or the
/// file has no record ready, even after sending what waited too long.
fn fill_from_file(
    tracked: &mut Tracked,
    id: FileId,
    batch: &mut Batch,
    max_lines: usize,
    now: Instant,
    observed_unix_nanos: u64,
) -> std::io::Result<()> {
    let Tracked { file, attributes } = tracked;
    while !batch.is_full(max_lines) {
        let record = match file.next_record(now)? {
            Some(record) => record,
            None => match file.next_expired_record(now) {
                Some(record) => record,
                None => break,
            },
        };
        batch.push(id, attributes, record, observed_unix_nanos);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::config::GlobPattern;
    use crate::source::tail::checkpoint::CheckpointStore;
    use crate::source::tail::file::Fingerprint;

    struct Setup {
        _temp: tempfile::TempDir,
        logs: PathBuf,
        data_dir: PathBuf,
        metrics: Arc<Metrics>,
    }

    impl Setup {
        fn new() -> Setup {
            let temp = tempfile::tempdir().unwrap();
            let logs = temp.path().join("logs");
            let data_dir = temp.path().join("data");
            fs::create_dir_all(&logs).unwrap();
            Setup {
                logs,
                data_dir,
                _temp: temp,
                metrics: Arc::new(Metrics::default()),
            }
        }

        fn config(&self, start_at: StartAt) -> TailConfig {
            let include = format!("{}/*.log", self.logs.display());
            TailConfig {
                include: vec![GlobPattern::try_from(include).unwrap()],
                start_at,
                poll_interval_ms: 10,
                max_line_bytes: 1024,
                max_batch_lines: 100,
                partial_line_timeout_ms: 50,
                ..TailConfig::default()
            }
        }

        fn tailer(&self, start_at: StartAt) -> Tailer {
            Tailer::new(self.config(start_at), &self.data_dir, self.metrics.clone()).unwrap()
        }

        fn path(&self, name: &str) -> PathBuf {
            self.logs.join(name)
        }

        fn counter(&self, name: &str) -> u64 {
            let snapshot = self.metrics.snapshot();
            snapshot.iter().find(|(n, _)| *n == name).unwrap().1
        }
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    /// Rescans, reads one batch, and acknowledges it.
    fn read_and_commit(tailer: &mut Tailer) -> Vec<String> {
        let now = Instant::now();
        tailer.rescan(now);
        let batch = tailer.collect(now);
        let offsets = batch.offsets().to_vec();
        let bodies = batch.bodies();
        tailer.commit(&offsets);
        bodies
    }

    #[test]
    fn appended_lines_followed() {
        let setup = Setup::new();
        append(&setup.path("app.log"), b"a\nb\n");
        let mut tailer = setup.tailer(StartAt::Beginning);

        assert_eq!(read_and_commit(&mut tailer), vec!["a", "b"]);
        append(&setup.path("app.log"), b"c\n");

        assert_eq!(read_and_commit(&mut tailer), vec!["c"]);
        assert!(read_and_commit(&mut tailer).is_empty());
        assert_eq!(setup.counter("tail_lines_total"), 3);
        assert_eq!(setup.counter("tail_bytes_total"), 6);
        assert_eq!(setup.counter("tail_files_opened_total"), 1);
    }

    #[test]
    fn restart_resumes_at_checkpoint() {
        let setup = Setup::new();
        append(&setup.path("app.log"), b"a\nb\n");
        let mut tailer = setup.tailer(StartAt::Beginning);
        assert_eq!(read_and_commit(&mut tailer), vec!["a", "b"]);
        assert!(tailer.write_checkpoints());
        drop(tailer);

        append(&setup.path("app.log"), b"c\n");
        let mut restarted = setup.tailer(StartAt::Beginning);

        assert_eq!(read_and_commit(&mut restarted), vec!["c"]);
    }

    #[test]
    fn unacknowledged_lines_sent_again() {
        let setup = Setup::new();
        append(&setup.path("app.log"), b"a\nb\n");
        let mut tailer = setup.tailer(StartAt::Beginning);
        assert_eq!(read_and_commit(&mut tailer), vec!["a", "b"]);
        append(&setup.path("app.log"), b"c\n");

        // Read but never acknowledged, as when the agent crashes.
        let now = Instant::now();
        tailer.rescan(now);
        assert_eq!(tailer.collect(now).bodies(), vec!["c"]);
        assert!(tailer.write_checkpoints());
        drop(tailer);
        let mut restarted = setup.tailer(StartAt::Beginning);

        assert_eq!(read_and_commit(&mut restarted), vec!["c"]);
    }

    #[test]
    fn rename_and_recreate_reads_both() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"1\n2\n");
        let mut tailer = setup.tailer(StartAt::Beginning);
        assert_eq!(read_and_commit(&mut tailer), vec!["1", "2"]);

        // The writer logs once more to the old file after the rename.
        let rotated = setup.path("app.log.1");
        fs::rename(&path, &rotated).unwrap();
        append(&rotated, b"3\n");
        append(&path, b"new\n");

        let mut bodies = read_and_commit(&mut tailer);
        bodies.sort();
        assert_eq!(bodies, vec!["3", "new"]);
        assert_eq!(setup.counter("tail_files_rotated_total"), 1);

        // The old file, read to its end and acknowledged, is closed.
        assert!(read_and_commit(&mut tailer).is_empty());
        assert_eq!(tailer.open_file_count(), 1);
    }

    #[test]
    fn truncated_file_read_from_start() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"aaa\nbbb\n");
        let mut tailer = setup.tailer(StartAt::Beginning);
        assert_eq!(read_and_commit(&mut tailer), vec!["aaa", "bbb"]);

        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, b"c\n");

        assert_eq!(read_and_commit(&mut tailer), vec!["c"]);
        assert_eq!(setup.counter("tail_files_rotated_total"), 1);
        assert!(tailer.write_checkpoints());
        let store = CheckpointStore::load(&setup.data_dir).unwrap();
        let id = FileId::of(&fs::metadata(&path).unwrap());
        assert_eq!(store.get(id).unwrap().offset, 2);
    }

    #[test]
    fn deleted_file_read_to_end() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"a\n");
        let mut tailer = setup.tailer(StartAt::Beginning);
        tailer.rescan(Instant::now());

        append(&path, b"b\n");
        fs::remove_file(&path).unwrap();

        assert_eq!(read_and_commit(&mut tailer), vec!["a", "b"]);
        assert!(read_and_commit(&mut tailer).is_empty());
        assert_eq!(tailer.open_file_count(), 0);
    }

    #[test]
    fn start_at_end_only_for_first_scan() {
        let setup = Setup::new();
        append(&setup.path("old.log"), b"before start\n");
        let mut tailer = setup.tailer(StartAt::End);

        assert!(read_and_commit(&mut tailer).is_empty());
        append(&setup.path("old.log"), b"after start\n");
        append(&setup.path("late.log"), b"late file\n");

        let mut bodies = read_and_commit(&mut tailer);
        bodies.sort();
        assert_eq!(bodies, vec!["after start", "late file"]);
    }

    /// Saves a checkpoint for the file at `path` with `fingerprint` and
    /// `offset`, as if an earlier run had left it.
    fn save_checkpoint(setup: &Setup, path: &Path, fingerprint: Fingerprint, offset: u64) {
        let id = FileId::of(&fs::metadata(path).unwrap());
        let mut store = CheckpointStore::load(&setup.data_dir).unwrap();
        store.set(id, fingerprint, offset, path);
        store.write().unwrap();
    }

    #[test]
    fn checkpoint_of_same_file_resumes() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"abcd\nefgh\n");
        save_checkpoint(&setup, &path, Fingerprint::of_bytes(b"abcd\n"), 5);
        let mut tailer = setup.tailer(StartAt::Beginning);

        assert_eq!(read_and_commit(&mut tailer), vec!["efgh"]);
    }

    #[test]
    fn reused_inode_detected_by_fingerprint() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"abcd\nefgh\n");
        // A checkpoint left at this inode by a file with other content.
        save_checkpoint(&setup, &path, Fingerprint::of_bytes(b"zzzz\n"), 5);
        let mut tailer = setup.tailer(StartAt::Beginning);

        assert_eq!(read_and_commit(&mut tailer), vec!["abcd", "efgh"]);
    }

    #[test]
    fn file_shorter_than_checkpoint_restarts() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"ab\n");
        save_checkpoint(&setup, &path, Fingerprint::of_bytes(b"ab"), 50);
        let mut tailer = setup.tailer(StartAt::Beginning);

        assert_eq!(read_and_commit(&mut tailer), vec!["ab"]);
        assert_eq!(setup.counter("tail_files_rotated_total"), 1);
    }

    #[test]
    fn partial_line_flushed_after_timeout() {
        let setup = Setup::new();
        let path = setup.path("app.log");
        append(&path, b"par");
        let mut tailer = setup.tailer(StartAt::Beginning);
        let start = Instant::now();
        tailer.rescan(start);

        assert!(tailer.collect(start).is_empty());
        assert!(tailer.collect(start + Duration::from_millis(20)).is_empty());
        let batch = tailer.collect(start + Duration::from_millis(60));
        assert_eq!(batch.bodies(), vec!["par"]);
        tailer.commit(batch.offsets());

        append(&path, b"tial\nnext\n");
        assert_eq!(read_and_commit(&mut tailer), vec!["tial", "next"]);
    }

    #[test]
    fn batches_capped_and_shared_between_files() {
        let setup = Setup::new();
        append(&setup.path("a.log"), b"a1\na2\na3\na4\na5\n");
        append(&setup.path("b.log"), b"b1\nb2\nb3\nb4\nb5\n");
        let mut config = setup.config(StartAt::Beginning);
        config.max_batch_lines = 4;
        let mut tailer = Tailer::new(config, &setup.data_dir, setup.metrics.clone()).unwrap();

        let first = read_and_commit(&mut tailer);
        let second = read_and_commit(&mut tailer);
        let third = read_and_commit(&mut tailer);

        assert_eq!(first.len(), 4);
        assert_eq!(second.len(), 4);
        // The second batch starts with the file the first one did not reach.
        assert!(second[0].starts_with('b'), "{second:?}");
        let mut all = [first, second, third].concat();
        all.sort();
        let mut expected: Vec<String> = ["a", "b"]
            .iter()
            .flat_map(|file| (1..=5).map(move |n| format!("{file}{n}")))
            .collect();
        expected.sort();
        assert_eq!(all, expected);
    }

    #[test]
    fn invalid_utf8_and_splits_counted() {
        let setup = Setup::new();
        let mut content = b"bad \xff\n".to_vec();
        content.extend(b"x".repeat(2000));
        content.push(b'\n');
        append(&setup.path("app.log"), &content);
        let mut tailer = setup.tailer(StartAt::Beginning);

        let bodies = read_and_commit(&mut tailer);

        assert_eq!(bodies.len(), 3);
        assert_eq!(bodies[0], "bad \u{FFFD}");
        assert_eq!(bodies[1].len(), 1024);
        assert_eq!(bodies[2].len(), 976);
        assert_eq!(setup.counter("tail_lines_invalid_utf8_total"), 1);
        assert_eq!(setup.counter("tail_lines_split_total"), 1);
    }

    #[test]
    fn checkpoint_written_at_most_each_interval() {
        let setup = Setup::new();
        append(&setup.path("app.log"), b"a\n");
        let mut tailer = setup.tailer(StartAt::Beginning);
        let checkpoint_path = setup.data_dir.join("checkpoints.json");
        let start = Instant::now();

        tailer.step(start);
        assert!(!checkpoint_path.exists());
        tailer.step(start + Duration::from_millis(10));
        assert!(checkpoint_path.exists());
        let written = fs::read_to_string(&checkpoint_path).unwrap();

        tailer.commit(&[(FileId::of(&fs::metadata(setup.path("app.log")).unwrap()), 2)]);
        tailer.step(start + Duration::from_millis(20));
        assert_eq!(fs::read_to_string(&checkpoint_path).unwrap(), written);
        tailer.step(start + Duration::from_millis(1100));
        assert_ne!(fs::read_to_string(&checkpoint_path).unwrap(), written);
        assert_eq!(
            setup
                .metrics
                .checkpoint_write_errors_total
                .load(Ordering::Relaxed),
            0
        );
    }
}
