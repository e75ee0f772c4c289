//! The tailer's state: which files are followed, the read position of each, and
//! the steps of one turn of the run loop (save checkpoints, rescan, fill a
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
//! acknowledged and no new line came for `rotate_wait_ms`. A new identity under the same name is a new file, read
//! from offset 0.
//!
//! A checkpointed file can lose its matching path while the agent is
//! stopped or the file is closed, by a rename out of the include globs.
//! Such a file is looked for by identity in the directory it was last seen
//! in, and read from its checkpoint to its end.
//!
//! At most `max_open_files` files are open. When more match, the file idle
//! longest, read to its end with every line acknowledged, is closed
//! ("parked"); its checkpoint stays, and it is opened again by identity
//! when its size or modification time changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::resource::v1::Resource;

use super::assemble::Assembler;
use super::batch::{Batch, FileAttributes, host_resource, unix_nanos_now};
use super::checkpoint::CheckpointStore;
use super::discover::{Discovery, find_by_identity};
use super::file::{
    ContentChange, FileId, Fingerprint, FollowedFile, PathStatus, hash_before, open_with_identity,
};
use super::kubernetes::is_container_log_path;
use super::sources::Sources;
use super::watch::{DirectoryWatcher, RescanSignal};
use crate::config::{StartAt, TailConfig};
use crate::telemetry::{LogPath, Metrics};

/// Minimum time between two snapshots of the checkpoints while running.
/// Between snapshots, every acknowledged batch is appended to the journal.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);

struct Tracked {
    file: FollowedFile,
    attributes: FileAttributes,
    /// The matching path saved in the file's checkpoint, which chooses its
    /// settings. It is `file.path`, except for a file found by identity
    /// after a rename out of the globs. Such a file keeps the path of its
    /// checkpoint, because its new name matches no source, so a restart
    /// before it is finished would find no settings for it.
    checkpoint_path: PathBuf,
}

/// A file closed while idle to stay under `max_open_files`, and what it
/// looked like then, so that a change can be noticed without opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParkedFile {
    path: PathBuf,
    size: u64,
    modified: Option<SystemTime>,
}

/// A matching path found by a rescan, with the identity and state of the
/// file it named.
#[derive(Debug)]
struct ScannedFile {
    path: PathBuf,
    size: u64,
    modified: Option<SystemTime>,
}

/// The reason a file is opened, which decides where it starts.
#[derive(Debug, Clone, Copy)]
enum OpenReason {
    /// Found by a rescan under a matching path, as identity `listed`.
    Matched { listed: FileId },
    /// Found by identity after it was renamed out of the globs. It is opened
    /// only if it is still the checkpointed file `expected`, and is read to
    /// its end.
    Renamed { expected: FileId },
}

/// All followed files and their checkpoints.
pub struct Tailer {
    config: TailConfig,
    discovery: Discovery,
    sources: Sources,
    /// The resource of every file that is not a container log.
    host_resource: Arc<Resource>,
    store: CheckpointStore,
    watcher: DirectoryWatcher,
    files: BTreeMap<FileId, Tracked>,
    parked: HashMap<FileId, ParkedFile>,
    /// Matching files not opened yet because of `max_open_files`. Each has
    /// a checkpoint at its start offset, so that a file rotated away while
    /// it waits is still found by identity and read.
    waiting: HashSet<FileId>,
    /// Checkpointed files to look for by identity if no matching path names
    /// them: every checkpoint at startup, and files that left their path
    /// while closed.
    unresolved: HashSet<FileId>,
    /// The file the next batch starts with, so that one busy file cannot
    /// keep the others waiting.
    next_file: Option<FileId>,
    /// False until the first scan. Files new in the first scan start at
    /// `config.start_at`, and files that appear later are read from offset
    /// 0, because all their lines were written while the agent was running.
    scanned_once: bool,
    last_scan_at: Option<Instant>,
    last_snapshot_at: Option<Instant>,
    /// Paths whose last error was logged, so a lasting error is logged once
    /// instead of at every scan; every occurrence is still counted.
    logged_errors: HashSet<PathBuf>,
    open_limit_logged: bool,
    /// True when the last rescan left matching files unopened because of
    /// `max_open_files`. Rescans then come every `poll_interval_ms`, so that
    /// those files are opened as soon as open files become idle rather than
    /// one batch of `max_open_files` per `rescan_interval_ms`.
    files_waiting: bool,
    /// Whether the last snapshot write failed and was logged. Kept apart
    /// from journal appends, which can go on succeeding while every
    /// snapshot fails (a read-only directory, no free inodes), so that
    /// neither resets the other's log limit.
    snapshot_error_logged: bool,
    /// Whether the last journal append failed and was logged.
    journal_error_logged: bool,
    metrics: Arc<Metrics>,
}

impl Tailer {
    /// Loads the checkpoints from `data_dir`, compiles the globs and starts
    /// watching their directories, with events sent to `signal`.
    pub fn new(
        config: TailConfig,
        data_dir: &Path,
        metrics: Arc<Metrics>,
        signal: Arc<RescanSignal>,
    ) -> anyhow::Result<Tailer> {
        let sources = Sources::new(&config)?;
        let discovery = Discovery::new(&Sources::include_patterns(&config), &config.exclude)?;
        let store = CheckpointStore::load(data_dir)?;
        tracing::info!(
            checkpoints = %store.path().display(),
            known_files = store.len(),
            "loaded tail checkpoints"
        );
        let watcher = DirectoryWatcher::new(discovery.watch_dirs(), config.watch, signal);
        let unresolved = store.ids().collect();
        Ok(Tailer {
            config,
            discovery,
            sources,
            host_resource: Arc::new(host_resource()),
            store,
            watcher,
            files: BTreeMap::new(),
            parked: HashMap::new(),
            waiting: HashSet::new(),
            unresolved,
            next_file: None,
            scanned_once: false,
            last_scan_at: None,
            last_snapshot_at: None,
            logged_errors: HashSet::new(),
            open_limit_logged: false,
            files_waiting: false,
            snapshot_error_logged: false,
            journal_error_logged: false,
            metrics,
        })
    }

    pub fn open_file_count(&self) -> usize {
        self.files.len()
    }

    pub fn parked_file_count(&self) -> usize {
        self.parked.len()
    }

    /// Runs one turn: saves the checkpoints, rescans if due or checks the
    /// followed files, then reads up to `max_batch_lines` records.
    pub fn step(&mut self, now: Instant) -> Batch {
        self.save_checkpoints(now);

        if self.rescan_due(now) {
            self.rescan(now);
        } else {
            self.refresh(now);
        }

        // A file opened just now is journaled before any of its lines is
        // sent, so that after a crash it can still be found by identity if
        // it is renamed out of the globs meanwhile.
        self.save_checkpoints(now);

        self.collect(now)
    }

    /// Reports whether the directories must be listed again: an event
    /// requested it, or the rescan interval passed. The interval is
    /// `rescan_interval_ms` while events cover every directory and no file
    /// waits for room under `max_open_files`, and `poll_interval_ms`
    /// otherwise.
    fn rescan_due(&mut self, now: Instant) -> bool {
        let requested = self.watcher.signal().take();
        let interval = if self.watcher.is_complete() && !self.files_waiting {
            self.config.rescan_interval()
        } else {
            self.config.poll_interval()
        };
        let elapsed = self
            .last_scan_at
            .is_none_or(|at| now.duration_since(at) >= interval);
        requested || elapsed
    }

    /// Checks the followed files for truncation, closes finished ones, and
    /// rescans at once if a parked file changed.
    fn refresh(&mut self, now: Instant) {
        self.check_followed_content();
        self.close_finished_files(now);
        if self.parked_file_changed() {
            self.rescan(now);
        }
    }

    /// Finds new files, notices renamed, deleted and truncated ones, finishes
    /// files renamed out of the globs, and closes those read to the end.
    pub fn rescan(&mut self, now: Instant) {
        self.last_scan_at = Some(now);
        self.watcher.refresh();
        let current = self.scan_paths();
        self.files_waiting = false;

        self.update_path_status(&current);
        self.check_followed_content();
        self.close_finished_files(now);
        self.release_moved_parked_files(&current);
        self.release_moved_waiting_files(&current);
        self.recover_renamed_files(&current, now);
        self.open_new_files(&current, now);

        let wall_clock = SystemTime::now();
        for id in current.keys().chain(self.files.keys()) {
            self.store.touch(*id, wall_clock);
        }
        self.store.expire(wall_clock);
        self.scanned_once = true;
    }

    /// Lists the matching paths by the identity each one points to now.
    fn scan_paths(&mut self) -> HashMap<FileId, ScannedFile> {
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
            let scanned = ScannedFile {
                size: metadata.len(),
                modified: metadata.modified().ok(),
                path,
            };
            // Two matching paths for one file (hard links, or a rotation that
            // keeps the old name matching): the first one found is kept.
            current.entry(FileId::of(&metadata)).or_insert(scanned);
        }
        current
    }

    /// Marks followed files that no matching path names any more as
    /// detached, so they are closed once read to their end.
    fn update_path_status(&mut self, current: &HashMap<FileId, ScannedFile>) {
        for (id, tracked) in &mut self.files {
            let file = &mut tracked.file;
            if current.contains_key(id) {
                // A file found again under a matching path, such as one that
                // was renamed back, is followed as before.
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
        }
    }

    /// Restarts truncated files from offset 0, and closes files that fail.
    /// A truncated file restarts only once the records read before the
    /// truncation were sent and acknowledged, because their offsets belong
    /// to the old content.
    fn check_followed_content(&mut self) {
        let mut truncated = Vec::new();
        let mut failed = Vec::new();
        for (id, tracked) in &mut self.files {
            let file = &mut tracked.file;
            if !file.truncation_pending {
                match file.check_content() {
                    Ok(ContentChange::Unchanged) => continue,
                    Ok(ContentChange::Truncated) => file.truncation_pending = true,
                    Err(err) => {
                        failed.push((*id, err));
                        continue;
                    }
                }
            }
            if file.is_ready_to_restart() {
                truncated.push(*id);
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
                self.store
                    .set(id, file.fingerprint, 0, &tracked.checkpoint_path);
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

    /// Closes detached files that were read to their end, with every line
    /// acknowledged, and got no new data for `rotate_wait_ms`.
    fn close_finished_files(&mut self, now: Instant) {
        let rotate_wait = self.config.rotate_wait();
        self.files.retain(|_, tracked| {
            let file = &tracked.file;
            let finished = file.status == PathStatus::Detached
                && file.at_eof
                && file.is_drained()
                && now.saturating_duration_since(file.last_data_at) >= rotate_wait
                && file.size().is_ok_and(|size| size <= file.read_offset());
            if finished {
                tracing::debug!(path = %LogPath(&file.path), "closed a file read to its end");
            }
            !finished
        });
    }

    /// Returns true if the path of a parked file no longer names it
    /// unchanged: it grew, was rewritten, renamed or deleted.
    fn parked_file_changed(&self) -> bool {
        self.parked.iter().any(|(id, parked)| {
            let Ok(metadata) = fs::metadata(&parked.path) else {
                return true;
            };
            FileId::of(&metadata) != *id
                || metadata.len() != parked.size
                || metadata.modified().ok() != parked.modified
        })
    }

    /// Forgets parked files that no matching path names any more, and
    /// marks them for a search by identity, because lines written after
    /// they were parked must still be read if they were renamed out of the
    /// globs.
    fn release_moved_parked_files(&mut self, current: &HashMap<FileId, ScannedFile>) {
        let moved: Vec<FileId> = self
            .parked
            .keys()
            .filter(|id| !current.contains_key(id))
            .copied()
            .collect();
        for id in moved {
            self.parked.remove(&id);
            self.unresolved.insert(id);
        }
    }

    /// Marks waiting files that no matching path names any more for a
    /// search by identity, because they may have been renamed out of the
    /// globs before they were ever opened.
    fn release_moved_waiting_files(&mut self, current: &HashMap<FileId, ScannedFile>) {
        for id in self.waiting.drain() {
            if !current.contains_key(&id) && !self.files.contains_key(&id) {
                self.unresolved.insert(id);
            }
        }
    }

    /// Looks for unresolved checkpointed files in the directories they were
    /// last seen in, and reads those found from their checkpoint to their
    /// end. Each file is looked for once; a file not found is not searched
    /// again.
    fn recover_renamed_files(&mut self, current: &HashMap<FileId, ScannedFile>, now: Instant) {
        // Files named by a matching path or already open are resolved.
        let missing: HashSet<FileId> = self
            .unresolved
            .iter()
            .filter(|id| !current.contains_key(id) && !self.files.contains_key(id))
            .copied()
            .collect();
        self.unresolved.clear();
        if missing.is_empty() {
            return;
        }

        let dirs: BTreeSet<PathBuf> = missing
            .iter()
            .filter_map(|id| self.store.get(*id)?.path.parent().map(Path::to_path_buf))
            .collect();
        let found = find_by_identity(&dirs, &missing);

        let mut found: Vec<(FileId, PathBuf)> = found.into_iter().collect();
        found.sort_by(|a, b| a.1.cmp(&b.1));
        for (id, path) in found {
            let Some(checkpoint) = self.store.get(id) else {
                continue;
            };
            let unread =
                fs::metadata(&path).is_ok_and(|metadata| metadata.len() > checkpoint.offset);
            if !unread {
                continue;
            }
            if !self.make_room() {
                // Tried again at the next rescan.
                self.unresolved.insert(id);
                self.files_waiting = true;
                continue;
            }
            self.open_file(&path, now, OpenReason::Renamed { expected: id });
        }
    }

    fn open_new_files(&mut self, current: &HashMap<FileId, ScannedFile>, now: Instant) {
        let mut new_files: Vec<(FileId, &PathBuf)> = current
            .iter()
            .filter(|(id, _)| !self.files.contains_key(*id))
            .filter(|(id, scanned)| !self.is_parked_unchanged(**id, scanned))
            .map(|(id, scanned)| (*id, &scanned.path))
            .collect();
        new_files.sort_by(|a, b| a.1.cmp(b.1));

        let mut pending = new_files.into_iter();
        while let Some((id, path)) = pending.next() {
            if !self.make_room() {
                self.files_waiting = true;
                self.register_waiting(id, path);
                for (id, path) in pending {
                    self.register_waiting(id, path);
                }
                if !self.open_limit_logged {
                    self.open_limit_logged = true;
                    tracing::warn!(
                        limit = self.config.max_open_files,
                        "tail.max_open_files reached and no open file is idle, some files \
                         are not read until one is"
                    );
                }
                return;
            }
            self.parked.remove(&id);
            self.open_file(path, now, OpenReason::Matched { listed: id });
        }
        self.open_limit_logged = false;
    }

    /// Records a file that waits for room under `max_open_files`, with a
    /// checkpoint at the offset it will start at unless it already has one,
    /// so that it can be found by identity if it is renamed away first.
    fn register_waiting(&mut self, id: FileId, path: &Path) {
        let Ok(metadata) = fs::metadata(path) else {
            return;
        };
        if FileId::of(&metadata) != id {
            return;
        }
        self.waiting.insert(id);

        let fingerprint = Fingerprint::unread(&metadata);
        // A checkpoint of an older file at a reused inode is replaced.
        let known = self
            .store
            .get(id)
            .is_some_and(|checkpoint| checkpoint.fingerprint.same_birth(&fingerprint));
        if known {
            return;
        }
        let offset = self.offset_without_checkpoint(metadata.len());
        self.store.set(id, fingerprint, offset, path);
    }

    fn is_parked_unchanged(&self, id: FileId, scanned: &ScannedFile) -> bool {
        self.parked.get(&id).is_some_and(|parked| {
            parked.size == scanned.size && parked.modified == scanned.modified
        })
    }

    /// Makes room for one more open file under `max_open_files`, parking
    /// the idle file whose last data is oldest if needed. Returns false if
    /// the limit is reached and no file is idle.
    fn make_room(&mut self) -> bool {
        if self.files.len() < self.config.max_open_files {
            return true;
        }

        // Idle: named by its path, read to the end, every line acknowledged,
        // and no byte written since. Only such a file can be closed without
        // losing or delaying a line.
        let idlest = self
            .files
            .iter()
            .filter(|(_, tracked)| {
                let file = &tracked.file;
                file.status == PathStatus::Current
                    && file.at_eof
                    && file.is_drained()
                    && file.size().is_ok_and(|size| size == file.read_offset())
            })
            .min_by_key(|(_, tracked)| tracked.file.last_data_at)
            .map(|(id, _)| *id);
        let Some(id) = idlest else {
            return false;
        };

        let Some(tracked) = self.files.remove(&id) else {
            return false;
        };
        let file = tracked.file;
        let Ok(metadata) = fs::metadata(&file.path) else {
            // Gone from its path: the next rescan looks for it by identity.
            self.unresolved.insert(id);
            return true;
        };
        let parked = ParkedFile {
            size: metadata.len(),
            modified: metadata.modified().ok(),
            path: file.path,
        };
        Metrics::inc(&self.metrics.tail_files_parked_total);
        tracing::debug!(path = %LogPath(&parked.path), "closed an idle file to stay under tail.max_open_files");
        self.parked.insert(id, parked);
        true
    }

    fn open_file(&mut self, path: &Path, now: Instant, reason: OpenReason) {
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
        let offset = match reason {
            OpenReason::Matched { listed } => {
                if listed != id {
                    // The listed file left this path after the listing; it
                    // may have been renamed out of the globs.
                    self.unresolved.insert(listed);
                }
                self.start_offset(id, &file, size, path)
            }
            OpenReason::Renamed { expected } => match self.renamed_offset(expected, id, &file) {
                Some(offset) => offset,
                None => return,
            },
        };
        // A file renamed out of the globs is read as the group of the path
        // it had when it was checkpointed, which the new path may match no
        // longer.
        let settings_path = match reason {
            OpenReason::Renamed { .. } => self
                .store
                .get(id)
                .map_or_else(|| path.to_path_buf(), |checkpoint| checkpoint.path.clone()),
            OpenReason::Matched { .. } => path.to_path_buf(),
        };
        let Some(settings) = self.sources.settings_for(&settings_path) else {
            return;
        };
        let assembler = Assembler::new(
            settings.clone(),
            is_container_log_path(&settings_path),
            offset,
        );

        match FollowedFile::open(
            path.to_path_buf(),
            file,
            id,
            fingerprint,
            offset,
            assembler,
            now,
        ) {
            Ok(mut followed) => {
                self.logged_errors.remove(path);
                Metrics::inc(&self.metrics.tail_files_opened_total);
                if let OpenReason::Renamed { .. } = reason {
                    followed.status = PathStatus::Detached;
                    tracing::info!(
                        path = %LogPath(path),
                        offset,
                        "finishing a file renamed out of the include patterns"
                    );
                } else {
                    tracing::info!(path = %LogPath(path), offset, "following a file");
                }
                self.store.set(id, fingerprint, offset, &settings_path);
                self.store
                    .set_guard(id, followed.guard_at(offset).ok().flatten());
                let attributes = FileAttributes::new(path, &self.host_resource);
                self.files.insert(
                    id,
                    Tracked {
                        file: followed,
                        attributes,
                        checkpoint_path: settings_path,
                    },
                );
            }
            Err(err) => self.report_error(path, &err, "failed to open a file"),
        }
    }

    /// Returns the checkpoint offset of a file found by identity outside the
    /// globs, or `None` if the opened file is not the checkpointed one.
    fn renamed_offset(&mut self, expected: FileId, id: FileId, file: &fs::File) -> Option<u64> {
        if id != expected {
            return None;
        }
        let checkpoint = self.store.get(id)?;
        let offset = checkpoint.offset;
        if !guard_matches(checkpoint, file) {
            return None;
        }
        match checkpoint.fingerprint.matches(file) {
            Ok(true) => Some(offset),
            Ok(false) => None,
            Err(err) => {
                let path = checkpoint.path.clone();
                self.report_error(&path, &err, "failed to read a file fingerprint");
                None
            }
        }
    }

    /// Chooses where a newly opened file starts: at its checkpoint if the
    /// checkpoint is for this very file, else per `start_at` on the first
    /// scan and at 0 afterwards. After a corrupt checkpoint file was set
    /// aside, the first scan starts at 0 too.
    fn start_offset(&mut self, id: FileId, file: &fs::File, size: u64, path: &Path) -> u64 {
        if let Some(checkpoint) = self.store.get(id) {
            match checkpoint.fingerprint.matches(file) {
                Ok(true) if size >= checkpoint.offset && !guard_matches(checkpoint, file) => {
                    Metrics::inc(&self.metrics.tail_files_rotated_total);
                    tracing::info!(
                        path = %LogPath(path),
                        "file rewritten since its checkpoint, reading it again from the start"
                    );
                    return 0;
                }
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

        self.offset_without_checkpoint(size)
    }

    /// Returns where a file of `size` bytes with no checkpoint starts: at
    /// its end on the first scan with `start_at: end`, else at 0. After a
    /// corrupt checkpoint file was set aside, always at 0.
    fn offset_without_checkpoint(&self, size: u64) -> u64 {
        match (self.scanned_once, self.config.start_at) {
            (false, StartAt::End) if !self.store.state_lost() => size,
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
            self.store
                .set(id, file.fingerprint, offset, &tracked.checkpoint_path);
            // A read error leaves no guard, which only skips its check.
            self.store
                .set_guard(id, file.guard_at(offset).ok().flatten());
        }
    }

    /// Saves the checkpoints: a snapshot if one is due and anything changed
    /// since the last, else the changed checkpoints appended to the journal.
    /// A failure is logged and counted, and the next call tries again.
    pub fn save_checkpoints(&mut self, now: Instant) {
        let snapshot_due = self
            .last_snapshot_at
            .is_none_or(|at| now.duration_since(at) >= SNAPSHOT_INTERVAL);
        if snapshot_due && self.store.is_dirty() {
            self.last_snapshot_at = Some(now);
            self.write_checkpoints();
        } else {
            let result = self.store.append_journal();
            let path = self.store.journal_path().to_path_buf();
            let logged = &mut self.journal_error_logged;
            report_checkpoint_result(&self.metrics, logged, &path, result);
        }
    }

    /// Writes a snapshot of the checkpoints now. Returns false on failure,
    /// which is logged and counted.
    pub fn write_checkpoints(&mut self) -> bool {
        let result = self.store.write();
        let written = result.is_ok();
        let path = self.store.path().to_path_buf();
        let logged = &mut self.snapshot_error_logged;
        report_checkpoint_result(&self.metrics, logged, &path, result);
        written
    }

    fn report_error(&mut self, path: &Path, err: &std::io::Error, message: &'static str) {
        Metrics::inc(&self.metrics.tail_read_errors_total);
        if self.logged_errors.insert(path.to_path_buf()) {
            tracing::warn!(path = %LogPath(path), error = %err, "{message}");
        }
    }
}

/// Returns false if the bytes of `file` before the checkpoint offset differ
/// from the checkpoint's guard, or are gone. A checkpoint without a guard
/// matches.
fn guard_matches(checkpoint: &super::checkpoint::Checkpoint, file: &fs::File) -> bool {
    let Some(guard) = checkpoint.guard else {
        return true;
    };
    // A read error counts as a match, as if the checkpoint had no guard.
    hash_before(file, checkpoint.offset).map_or(true, |hash| hash == Some(guard))
}

/// Counts a failed checkpoint write to `path` and logs it, once until a
/// write of the same kind succeeds again, because a full or read-only disk
/// fails every write.
fn report_checkpoint_result(
    metrics: &Metrics,
    logged: &mut bool,
    path: &Path,
    result: std::io::Result<()>,
) {
    match result {
        Ok(()) => *logged = false,
        Err(err) => {
            Metrics::inc(&metrics.checkpoint_write_errors_total);
            if !*logged {
                *logged = true;
                tracing::error!(
                    path = %path.display(),
                    error = %err,
                    "failed to write tail checkpoints"
                );
            }
        }
    }
}

/// Moves records from one file into `batch` until the batch is full or the
/// file has no record ready, even after sending what waited too long. From a
/// truncated file it moves only what was read before the truncation.
fn fill_from_file(
    tracked: &mut Tracked,
    id: FileId,
    batch: &mut Batch,
    max_lines: usize,
    now: Instant,
    observed_unix_nanos: u64,
) -> std::io::Result<()> {
    let Tracked {
        file, attributes, ..
    } = tracked;
    if file.truncation_pending {
        while !batch.is_full(max_lines)
            && let Some(record) = file.next_record_before_restart(now)
        {
            batch.push(id, attributes, record, observed_unix_nanos);
        }
        return Ok(());
    }

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
mod tests;
