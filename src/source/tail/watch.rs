//! File system events that make the tailer list its directories again at
//! once, instead of at the next periodic rescan.
//!
//! The directories the include globs start from are watched with the
//! `notify` crate (inotify on Linux): a pattern limited to one directory
//! level is watched without recursion, and one that reaches deeper is
//! watched recursively. Only events that change which files exist (create,
//! remove, rename), and notices that events were lost, request a rescan.
//! Writes to files raise no request, so a busy writer does not wake the
//! tailer for every line. New data is found by the poll timer.
//!
//! Events are a shortcut, never the only way. The tailer still lists the
//! directories every `rescan_interval_ms`, and every `poll_interval_ms`
//! while a directory is not watched: it does not exist yet, it could not be
//! watched (the inotify watch limit was reached), or watching is off.
//!
//! This module never reads files and never lists directories.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::event::ModifyKind;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::file::FileId;
use crate::telemetry::LogText;

/// Shared between the event thread of `notify` and the tail loop: whether
/// a rescan was requested, and the wake-up of the waiting loop.
#[derive(Debug, Default)]
pub struct RescanSignal {
    requested: AtomicBool,
    wakeup: tokio::sync::Notify,
}

impl RescanSignal {
    /// Requests a rescan and wakes the loop, or lets its next wait return
    /// at once if it is not waiting now.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.wakeup.notify_one();
    }

    /// Returns whether a rescan was requested since the last call, and
    /// clears the request.
    pub fn take(&self) -> bool {
        self.requested.swap(false, Ordering::SeqCst)
    }

    /// Waits until [`Self::request`] is called.
    pub async fn requested(&self) {
        self.wakeup.notified().await;
    }
}

/// One watched directory: what it is and how it is watched.
#[derive(Debug)]
struct WatchedDir {
    id: FileId,
    /// Kept open so that the directory's inode cannot be reused by a new
    /// directory under the same name, which would hide the replacement.
    _handle: fs::File,
}

/// The watcher and the directories it watches.
pub struct DirectoryWatcher {
    watcher: Option<RecommendedWatcher>,
    signal: Arc<RescanSignal>,
    /// Directories to watch, with whether the pattern reaches below them.
    targets: Vec<(PathBuf, bool)>,
    watched: HashMap<PathBuf, WatchedDir>,
    /// Directories whose last watch attempt failed, so a lasting failure is
    /// logged once.
    failed_logged: HashMap<PathBuf, String>,
}

impl DirectoryWatcher {
    /// Creates a watcher for `dirs` (directory, and whether the pattern
    /// reaches below it) that signals `signal`. With `enabled` false, or when
    /// the watcher cannot be created, nothing is watched and
    /// [`Self::is_complete`] stays false, so the tailer polls.
    pub fn new(dirs: Vec<(PathBuf, bool)>, enabled: bool, signal: Arc<RescanSignal>) -> Self {
        let watcher = if enabled {
            let handler_signal = signal.clone();
            let handler = move |event: notify::Result<Event>| {
                let rescan = match &event {
                    Ok(event) => changes_listing(event),
                    // An error can mean lost events: look again.
                    Err(_) => true,
                };
                if rescan {
                    handler_signal.request();
                }
            };
            match notify::recommended_watcher(handler) {
                Ok(watcher) => Some(watcher),
                Err(err) => {
                    tracing::warn!(
                        error = %LogText(&err.to_string()),
                        "failed to start watching for file system events, polling instead"
                    );
                    None
                }
            }
        } else {
            None
        };

        // Patterns that start from the same directory share one watch, which
        // is recursive if any of them reaches below it. An empty directory
        // stands for a relative pattern such as `*.log`.
        let mut merged: BTreeMap<PathBuf, bool> = BTreeMap::new();
        for (dir, recursive) in dirs {
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            *merged.entry(dir).or_default() |= recursive;
        }
        let targets = merged.into_iter().collect();
        DirectoryWatcher {
            watcher,
            signal,
            targets,
            watched: HashMap::new(),
            failed_logged: HashMap::new(),
        }
    }

    pub fn signal(&self) -> &Arc<RescanSignal> {
        &self.signal
    }

    /// Reports whether every target directory is watched now, so events
    /// can be trusted to announce changes between periodic rescans.
    pub fn is_complete(&self) -> bool {
        self.watcher.is_some() && self.watched.len() == self.targets.len()
    }

    /// Watches target directories that appeared, and watches again those
    /// that were replaced (removed and created anew) since they were
    /// watched. Called before each rescan.
    pub fn refresh(&mut self) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };

        for (dir, recursive) in &self.targets {
            let opened = fs::File::open(dir).ok().and_then(|handle| {
                let metadata = handle.metadata().ok()?;
                metadata.is_dir().then(|| (FileId::of(&metadata), handle))
            });
            let current = opened.as_ref().map(|(id, _)| *id);
            let previous = self.watched.get(dir).map(|watched| watched.id);
            if current == previous {
                continue;
            }

            if previous.is_some() {
                // The old watch went away with the old directory, so an error
                // from removing it again is expected and ignored.
                let _ = watcher.unwatch(dir);
                self.watched.remove(dir);
            }
            let Some((id, handle)) = opened else {
                continue;
            };

            let mode = if *recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            match watcher.watch(dir, mode) {
                Ok(()) => {
                    self.failed_logged.remove(dir);
                    tracing::debug!(dir = %dir.display(), recursive, "watching a directory");
                    self.watched.insert(
                        dir.clone(),
                        WatchedDir {
                            id,
                            _handle: handle,
                        },
                    );
                    // Files created before the watch started raised no
                    // event, so the listing that follows must not be
                    // skipped.
                    self.signal.request();
                }
                Err(err) => {
                    let message = err.to_string();
                    if self.failed_logged.get(dir) != Some(&message) {
                        // The message names the subdirectories that failed, and
                        // their names can contain personal data.
                        tracing::warn!(
                            dir = %dir.display(),
                            error = %LogText(&message),
                            "failed to watch a directory, polling it instead"
                        );
                        self.failed_logged.insert(dir.clone(), message);
                    }
                }
            }
        }
    }

    /// Lists the watched directories, for tests.
    #[cfg(test)]
    fn watched_dirs(&self) -> Vec<&std::path::Path> {
        let mut dirs: Vec<&std::path::Path> = self.watched.keys().map(PathBuf::as_path).collect();
        dirs.sort();
        dirs
    }
}

/// Returns true for events that can change which files match: a file or
/// directory created, removed or renamed, or an event of unknown kind.
fn changes_listing(event: &Event) -> bool {
    if event.need_rescan() {
        return true;
    }
    matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Modify(ModifyKind::Any)
            | EventKind::Any
            | EventKind::Other
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Waits up to 5 s for a rescan request and clears it.
    fn wait_for_request(signal: &RescanSignal) -> bool {
        for _ in 0..500 {
            if signal.take() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn create_and_rename_request_rescan() {
        let temp = tempfile::tempdir().unwrap();
        let signal = Arc::new(RescanSignal::default());
        let mut watcher = DirectoryWatcher::new(
            vec![(temp.path().to_path_buf(), false)],
            true,
            signal.clone(),
        );
        watcher.refresh();
        assert!(watcher.is_complete());
        signal.take();

        fs::write(temp.path().join("new.log"), "x\n").unwrap();
        assert!(wait_for_request(&signal), "no request after a create");

        fs::rename(temp.path().join("new.log"), temp.path().join("new.log.1")).unwrap();
        assert!(wait_for_request(&signal), "no request after a rename");
    }

    #[test]
    fn appends_do_not_request_rescan() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("app.log");
        fs::write(&path, "x\n").unwrap();
        let signal = Arc::new(RescanSignal::default());
        let mut watcher = DirectoryWatcher::new(
            vec![(temp.path().to_path_buf(), false)],
            true,
            signal.clone(),
        );
        watcher.refresh();
        signal.take();

        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut file, b"more\n").unwrap();
        drop(file);
        std::thread::sleep(Duration::from_millis(200));

        assert!(!signal.take(), "an append requested a rescan");
    }

    #[test]
    fn missing_directory_watched_once_created() {
        let temp = tempfile::tempdir().unwrap();
        let later = temp.path().join("later");
        let signal = Arc::new(RescanSignal::default());
        let mut watcher = DirectoryWatcher::new(vec![(later.clone(), true)], true, signal.clone());

        watcher.refresh();
        assert!(!watcher.is_complete());

        fs::create_dir(&later).unwrap();
        watcher.refresh();
        assert!(watcher.is_complete());
        assert_eq!(watcher.watched_dirs(), vec![later.as_path()]);
        signal.take();

        fs::create_dir(later.join("sub")).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        signal.take();
        fs::write(later.join("sub/deep.log"), "x\n").unwrap();
        assert!(wait_for_request(&signal), "no request from a subdirectory");
    }

    #[test]
    fn replaced_directory_watched_again() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("logs");
        fs::create_dir(&dir).unwrap();
        let signal = Arc::new(RescanSignal::default());
        let mut watcher = DirectoryWatcher::new(vec![(dir.clone(), false)], true, signal.clone());
        watcher.refresh();

        fs::remove_dir(&dir).unwrap();
        fs::create_dir(&dir).unwrap();
        watcher.refresh();
        signal.take();

        fs::write(dir.join("app.log"), "x\n").unwrap();
        assert!(wait_for_request(&signal), "no request in the new directory");
    }

    #[test]
    fn disabled_watcher_never_complete() {
        let temp = tempfile::tempdir().unwrap();
        let signal = Arc::new(RescanSignal::default());
        let mut watcher =
            DirectoryWatcher::new(vec![(temp.path().to_path_buf(), false)], false, signal);

        watcher.refresh();

        assert!(!watcher.is_complete());
    }
}
