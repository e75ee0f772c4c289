//! Tests of the tailer steps on real files in a temporary directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::Ordering;

use super::*;
use crate::config::{GlobPattern, MultilineConfig, StartPattern};
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
            watch: false,
            rotate_wait_ms: 0,
            ..TailConfig::default()
        }
    }

    fn tailer(&self, start_at: StartAt) -> Tailer {
        self.tailer_with(self.config(start_at))
    }

    fn tailer_with(&self, config: TailConfig) -> Tailer {
        let signal = Arc::new(RescanSignal::default());
        Tailer::new(config, &self.data_dir, self.metrics.clone(), signal).unwrap()
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

/// Cuts the file at `path` to length 0 in place, as copytruncate does.
fn truncate(path: &Path) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

/// Runs [`read_and_commit`] `rounds` times and returns all bodies in order.
fn read_rounds(tailer: &mut Tailer, rounds: usize) -> Vec<String> {
    (0..rounds).flat_map(|_| read_and_commit(tailer)).collect()
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

    truncate(&path);
    append(&path, b"c\n");

    // The first round finds the truncation and sends what was read before
    // it (nothing here), the second restarts the file.
    assert_eq!(read_rounds(&mut tailer, 2), vec!["c"]);
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
    let mut tailer = setup.tailer_with(config);

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
fn acknowledged_offsets_saved_at_next_step() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"a\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    let snapshot_path = setup.data_dir.join("checkpoints.json");
    let id = FileId::of(&fs::metadata(&path).unwrap());
    let start = Instant::now();

    let batch = tailer.step(start);
    assert_eq!(batch.bodies(), vec!["a"]);
    // The file was recorded before its first line was sent.
    assert_eq!(
        CheckpointStore::load(&setup.data_dir)
            .unwrap()
            .get(id)
            .unwrap()
            .offset,
        0
    );
    let first_snapshot = fs::read_to_string(&snapshot_path).unwrap();

    tailer.commit(batch.offsets());
    tailer.step(start + Duration::from_millis(10));
    let saved = CheckpointStore::load(&setup.data_dir).unwrap();
    assert_eq!(saved.get(id).unwrap().offset, 2);
    assert_eq!(
        fs::read_to_string(&snapshot_path).unwrap(),
        first_snapshot,
        "the snapshot was rewritten before its interval passed"
    );

    tailer.step(start + SNAPSHOT_INTERVAL + Duration::from_millis(10));
    assert_ne!(fs::read_to_string(&snapshot_path).unwrap(), first_snapshot);
    assert_eq!(
        setup
            .metrics
            .checkpoint_write_errors_total
            .load(Ordering::Relaxed),
        0
    );
}

#[test]
fn renamed_out_of_globs_while_stopped_finished() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"1\n2\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer), vec!["1", "2"]);
    assert!(tailer.write_checkpoints());
    drop(tailer);

    // While stopped: more lines, then a rename to a name no glob matches,
    // the writer's last lines, and a new file.
    append(&path, b"3\n");
    let rotated = setup.path("app.log.1");
    fs::rename(&path, &rotated).unwrap();
    append(&rotated, b"4\n");
    append(&path, b"new\n");
    let mut restarted = setup.tailer(StartAt::End);

    // The rotated file resumes at its checkpoint whatever the start_at
    // setting is, while the new file, seen for the first time, starts at
    // its end.
    let mut bodies = read_and_commit(&mut restarted);
    bodies.sort();
    assert_eq!(bodies, vec!["3", "4"]);
    assert!(read_and_commit(&mut restarted).is_empty());
    assert_eq!(
        restarted.open_file_count(),
        1,
        "the rotated file was not closed"
    );
    append(&path, b"after restart\n");
    assert_eq!(read_and_commit(&mut restarted), vec!["after restart"]);
}

#[test]
fn renamed_file_finished_over_two_restarts() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"1\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer), vec!["1"]);
    assert!(tailer.write_checkpoints());
    drop(tailer);

    append(&path, b"2\n3\n");
    fs::rename(&path, setup.path("app.log.1")).unwrap();
    // One line per batch, so the agent stops with the rotated file half
    // read and checkpointed.
    let config = TailConfig {
        max_batch_lines: 1,
        ..setup.config(StartAt::Beginning)
    };
    let mut restarted = setup.tailer_with(config.clone());
    assert_eq!(read_and_commit(&mut restarted), vec!["2"]);
    assert!(restarted.write_checkpoints());
    drop(restarted);

    // The checkpoint still names the path the globs matched, so the second
    // restart finds settings for the rotated file and reads its rest.
    let mut restarted_again = setup.tailer_with(config);
    assert_eq!(read_and_commit(&mut restarted_again), vec!["3"]);
    assert!(read_and_commit(&mut restarted_again).is_empty());
}

#[test]
fn finished_renamed_file_not_read_again() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"1\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer), vec!["1"]);
    assert!(tailer.write_checkpoints());
    drop(tailer);

    fs::rename(&path, setup.path("app.log.1")).unwrap();
    let mut restarted = setup.tailer(StartAt::Beginning);

    assert!(read_and_commit(&mut restarted).is_empty());
    assert_eq!(restarted.open_file_count(), 0);
}

#[test]
fn renamed_file_with_other_content_ignored() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"abcd\nefgh\n");
    // A checkpoint for this inode, but of a file with other content.
    save_checkpoint(&setup, &path, Fingerprint::of_bytes(b"zzzz\n"), 5);
    fs::rename(&path, setup.path("app.log.1")).unwrap();
    let mut tailer = setup.tailer(StartAt::Beginning);

    assert!(read_and_commit(&mut tailer).is_empty());
    assert_eq!(tailer.open_file_count(), 0);
}

#[test]
fn empty_file_read_once_it_grows() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert!(read_and_commit(&mut tailer).is_empty());
    assert_eq!(tailer.open_file_count(), 1);

    append(&path, b"first\n");

    assert_eq!(read_and_commit(&mut tailer), vec!["first"]);
}

#[test]
fn short_file_renamed_away_finished() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"ab\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer), vec!["ab"]);

    // A file shorter than the fingerprint gets its last line after the
    // rename and never grows again.
    let rotated = setup.path("app.log.1");
    fs::rename(&path, &rotated).unwrap();
    append(&rotated, b"c\n");

    assert_eq!(read_and_commit(&mut tailer), vec!["c"]);
    assert!(read_and_commit(&mut tailer).is_empty());
    assert_eq!(tailer.open_file_count(), 0);
}

#[test]
fn recreated_file_with_same_content_read_again() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"hello\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer), vec!["hello"]);

    fs::remove_file(&path).unwrap();
    append(&path, b"hello\n");

    assert_eq!(read_and_commit(&mut tailer), vec!["hello"]);
    assert!(read_and_commit(&mut tailer).is_empty());
    assert_eq!(tailer.open_file_count(), 1);
}

#[test]
fn files_with_same_header_both_read() {
    let setup = Setup::new();
    let header = b"# generated by the same logger, version 1\n";
    for name in ["a.log", "b.log"] {
        append(&setup.path(name), header);
    }
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer).len(), 2);
    assert!(tailer.write_checkpoints());
    drop(tailer);

    append(&setup.path("a.log"), b"a2\n");
    append(&setup.path("b.log"), b"b2\n");
    let mut restarted = setup.tailer(StartAt::Beginning);

    let mut bodies = read_and_commit(&mut restarted);
    bodies.sort();
    assert_eq!(bodies, vec!["a2", "b2"]);
}

#[test]
fn reused_inode_same_bytes_new_birth() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"same start\nnew file\n");
    let metadata = fs::metadata(&path).unwrap();
    let Ok(created) = metadata.created() else {
        eprintln!("skipped: this file system reports no birth time");
        return;
    };
    let born = created.duration_since(std::time::UNIX_EPOCH).unwrap();
    // An old file at this inode with the same first bytes, born earlier.
    let mut old = Fingerprint::of_bytes(b"same start\n");
    old.created_unix_nanos = Some(born.as_nanos() as u64 - 1_000_000_000);
    save_checkpoint(&setup, &path, old, 11);
    let mut tailer = setup.tailer(StartAt::Beginning);

    assert_eq!(read_and_commit(&mut tailer), vec!["same start", "new file"]);
}

#[test]
fn same_birth_time_and_bytes_resumes() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"same start\nnext\n");
    let file = fs::File::open(&path).unwrap();
    let fingerprint = Fingerprint::read(&file, 11).unwrap();
    save_checkpoint(&setup, &path, fingerprint, 11);
    let mut tailer = setup.tailer(StartAt::Beginning);

    assert_eq!(read_and_commit(&mut tailer), vec!["next"]);
}

fn limited_config(setup: &Setup, max_open_files: usize) -> TailConfig {
    TailConfig {
        max_open_files,
        ..setup.config(StartAt::Beginning)
    }
}

#[test]
fn idle_files_parked_over_open_limit() {
    let setup = Setup::new();
    for name in ["a.log", "b.log", "c.log"] {
        append(&setup.path(name), format!("{name} 1\n").as_bytes());
    }
    let mut tailer = setup.tailer_with(limited_config(&setup, 2));

    let mut bodies = read_and_commit(&mut tailer);
    assert_eq!(tailer.open_file_count(), 2);
    bodies.extend(read_and_commit(&mut tailer));
    bodies.sort();
    assert_eq!(bodies, vec!["a.log 1", "b.log 1", "c.log 1"]);
    assert_eq!(tailer.open_file_count(), 2);
    assert_eq!(tailer.parked_file_count(), 1);

    // A parked file that grows is opened again at its checkpoint.
    append(&setup.path("a.log"), b"a.log 2\n");
    let later = read_rounds(&mut tailer, 3);
    assert_eq!(later, vec!["a.log 2"]);
    assert!(tailer.open_file_count() <= 2);
    assert!(setup.counter("tail_files_parked_total") >= 2);
}

#[test]
fn waiting_files_opened_before_rescan_interval() {
    let setup = Setup::new();
    for n in 0..8 {
        append(
            &setup.path(&format!("f{n}.log")),
            format!("f{n} 1\n").as_bytes(),
        );
    }
    // Events work, so without waiting files the next listing would come only
    // after the rescan interval.
    let config = TailConfig {
        watch: true,
        rescan_interval_ms: 60_000,
        ..limited_config(&setup, 2)
    };
    let mut tailer = setup.tailer_with(config);

    let mut now = Instant::now();
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let batch = tailer.step(now);
        let offsets = batch.offsets().to_vec();
        bodies.extend(batch.bodies());
        tailer.commit(&offsets);
        now += Duration::from_millis(20);
    }
    bodies.sort();

    let expected: Vec<String> = (0..8).map(|n| format!("f{n} 1")).collect();
    assert_eq!(bodies, expected);
    assert!(tailer.open_file_count() <= 2);
}

#[test]
fn busy_files_not_parked() {
    let setup = Setup::new();
    append(&setup.path("a.log"), b"a 1\n");
    append(&setup.path("b.log"), b"b 1\n");
    let mut tailer = setup.tailer_with(limited_config(&setup, 1));
    let now = Instant::now();
    tailer.rescan(now);

    // a.log has unsent lines, so b.log waits.
    tailer.rescan(now);
    assert_eq!(tailer.open_file_count(), 1);
    assert_eq!(tailer.parked_file_count(), 0);

    let bodies = read_rounds(&mut tailer, 3);
    assert_eq!(bodies, vec!["a 1", "b 1"]);
}

#[test]
fn waiting_file_renamed_out_of_globs_read() {
    let setup = Setup::new();
    append(&setup.path("a.log"), b"a 1\n");
    append(&setup.path("b.log"), b"b 1\n");
    let mut tailer = setup.tailer_with(limited_config(&setup, 1));
    let now = Instant::now();
    tailer.rescan(now);
    let batch = tailer.collect(now);
    assert_eq!(batch.bodies(), vec!["a 1"]);

    // b.log waits for a.log, whose batch is in flight, and is rotated away
    // before it was ever opened.
    append(&setup.path("b.log"), b"b 2\n");
    fs::rename(setup.path("b.log"), setup.path("b.log.1")).unwrap();
    tailer.rescan(now);
    tailer.commit(batch.offsets());
    let later = read_rounds(&mut tailer, 4);

    assert_eq!(later, vec!["b 1", "b 2"]);
}

#[test]
fn waiting_file_renamed_while_stopped_read() {
    let setup = Setup::new();
    append(&setup.path("a.log"), b"a 1\n");
    append(&setup.path("b.log"), b"b 1\n");
    let mut tailer = setup.tailer_with(limited_config(&setup, 1));
    let now = Instant::now();
    let batch = tailer.step(now);
    assert_eq!(batch.bodies(), vec!["a 1"]);
    // A crash before a.log's batch is acknowledged, while b.log still waits.
    drop(tailer);

    fs::rename(setup.path("b.log"), setup.path("b.log.1")).unwrap();
    let mut restarted = setup.tailer_with(limited_config(&setup, 1));
    let mut bodies = read_rounds(&mut restarted, 4);
    bodies.sort();

    assert_eq!(bodies, vec!["a 1", "b 1"]);
}

#[test]
fn waiting_file_keeps_start_at_end() {
    let setup = Setup::new();
    append(&setup.path("a.log"), b"a 1\n");
    append(&setup.path("b.log"), b"b 1\n");
    let config = TailConfig {
        max_open_files: 1,
        ..setup.config(StartAt::End)
    };
    let mut tailer = setup.tailer_with(config);
    assert!(read_and_commit(&mut tailer).is_empty());

    append(&setup.path("a.log"), b"a 2\n");
    append(&setup.path("b.log"), b"b 2\n");
    let mut bodies = read_rounds(&mut tailer, 4);
    bodies.sort();

    assert_eq!(bodies, vec!["a 2", "b 2"]);
}

#[test]
fn parked_file_renamed_out_of_globs_finished() {
    let setup = Setup::new();
    append(&setup.path("a.log"), b"a 1\n");
    append(&setup.path("b.log"), b"b 1\n");
    let mut tailer = setup.tailer_with(limited_config(&setup, 1));
    let bodies = read_rounds(&mut tailer, 3);
    assert_eq!(bodies, vec!["a 1", "b 1"]);
    assert_eq!(tailer.parked_file_count(), 1);

    // Lines written to the parked a.log just before it was rotated away.
    append(&setup.path("a.log"), b"a 2\n");
    fs::rename(setup.path("a.log"), setup.path("a.log.1")).unwrap();
    let later = read_rounds(&mut tailer, 3);

    assert_eq!(later, vec!["a 2"]);
    assert!(tailer.open_file_count() <= 1);
}

#[test]
fn file_event_triggers_rescan_before_interval() {
    let setup = Setup::new();
    let config = TailConfig {
        watch: true,
        rescan_interval_ms: 60_000,
        poll_interval_ms: 60_000,
        ..setup.config(StartAt::Beginning)
    };
    let mut tailer = setup.tailer_with(config);
    let start = Instant::now();
    assert!(tailer.step(start).is_empty());
    // The first scan started the watch, which requests one more scan.
    assert!(tailer.step(start).is_empty());

    append(&setup.path("new.log"), b"created\n");
    let mut bodies = Vec::new();
    for _ in 0..200 {
        bodies = tailer.step(start).bodies();
        if !bodies.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    assert_eq!(bodies, vec!["created"]);
}

#[test]
fn renamed_file_kept_open_for_rotate_wait() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"1\n");
    let config = TailConfig {
        rotate_wait_ms: 60_000,
        ..setup.config(StartAt::Beginning)
    };
    let mut tailer = setup.tailer_with(config);
    assert_eq!(read_and_commit(&mut tailer), vec!["1"]);

    let rotated = setup.path("app.log.1");
    fs::rename(&path, &rotated).unwrap();
    assert!(read_and_commit(&mut tailer).is_empty());
    assert!(read_and_commit(&mut tailer).is_empty());
    // A logger that writes to the renamed file a while later.
    append(&rotated, b"late\n");

    assert_eq!(read_and_commit(&mut tailer), vec!["late"]);
    assert_eq!(tailer.open_file_count(), 1);
}

#[test]
fn truncation_waits_for_batch_in_flight() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"aaa\nbbb\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    let now = Instant::now();
    tailer.rescan(now);
    let in_flight = tailer.collect(now);
    assert_eq!(in_flight.bodies(), vec!["aaa", "bbb"]);

    // Truncated and written again while that batch is not acknowledged.
    truncate(&path);
    append(&path, b"c\n");
    tailer.rescan(now);
    assert!(tailer.collect(now).is_empty(), "read before the restart");

    // The late acknowledgement moves nothing into the new content.
    tailer.commit(in_flight.offsets());
    assert_eq!(read_and_commit(&mut tailer), vec!["c"]);
    assert!(tailer.write_checkpoints());
    let store = CheckpointStore::load(&setup.data_dir).unwrap();
    let id = FileId::of(&fs::metadata(&path).unwrap());
    assert_eq!(store.get(id).unwrap().offset, 2);
}

#[test]
fn truncation_after_flushed_partial_line() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"par");
    let mut tailer = setup.tailer(StartAt::Beginning);
    let start = Instant::now();
    tailer.rescan(start);
    assert!(tailer.collect(start).is_empty());
    let batch = tailer.collect(start + Duration::from_millis(60));
    assert_eq!(batch.bodies(), vec!["par"]);
    tailer.commit(batch.offsets());

    // The line ending of the flushed line makes no record, so nothing is
    // left to acknowledge and the truncation is handled at once.
    append(&path, b"\n");
    assert!(read_and_commit(&mut tailer).is_empty());
    truncate(&path);
    append(&path, b"new\n");

    assert_eq!(read_rounds(&mut tailer, 3), vec!["new"]);
    assert_eq!(setup.counter("tail_files_rotated_total"), 1);
}

#[test]
fn truncation_sends_lines_read_before_it() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"a\nb\nc\n");
    let config = TailConfig {
        max_batch_lines: 1,
        ..setup.config(StartAt::Beginning)
    };
    let mut tailer = setup.tailer_with(config);
    assert_eq!(read_and_commit(&mut tailer), vec!["a"]);

    // `b` and `c` were read with `a` and wait in the read buffer.
    truncate(&path);
    append(&path, b"new\n");

    assert_eq!(read_rounds(&mut tailer, 6), vec!["b", "c", "new"]);
}

#[test]
fn truncation_sends_pending_multiline_record() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    let config = TailConfig {
        multiline: Some(MultilineConfig {
            start_pattern: StartPattern::try_from(r"^start".to_string()).unwrap(),
            timeout_ms: 60_000,
            max_lines: 100,
            max_bytes: 10_000,
        }),
        ..setup.config(StartAt::Beginning)
    };
    let mut tailer = setup.tailer_with(config);
    append(&path, b"start 1\n  at a\n");
    assert!(
        read_and_commit(&mut tailer).is_empty(),
        "waits for more lines"
    );

    truncate(&path);
    append(&path, b"start 2\nstart 3\n");

    assert_eq!(
        read_rounds(&mut tailer, 4),
        vec!["start 1\n  at a", "start 2"]
    );
}

/// Collects everything a test's `tracing` subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn failing_snapshots_logged_once_between_journal_appends() {
    let setup = Setup::new();
    // A directory where the snapshot's temporary file goes makes every
    // snapshot fail, while journal appends still succeed, as in a directory
    // with no free inodes.
    fs::create_dir_all(setup.data_dir.join("checkpoints.json.tmp")).unwrap();
    let mut tailer = setup.tailer(StartAt::Beginning);
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();

    tracing::subscriber::with_default(subscriber, || {
        let mut now = Instant::now();
        for round in 0..4 {
            append(&setup.path("app.log"), format!("{round}\n").as_bytes());
            assert_eq!(read_and_commit(&mut tailer), vec![round.to_string()]);
            tailer.save_checkpoints(now);
            append(&setup.path("app.log"), format!("{round} more\n").as_bytes());
            assert_eq!(read_and_commit(&mut tailer).len(), 1);
            tailer.save_checkpoints(now + Duration::from_millis(1));
            now += SNAPSHOT_INTERVAL;
        }
    });

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("failed to write tail checkpoints").count(),
        1,
        "{text}"
    );
    assert_eq!(setup.counter("checkpoint_write_errors_total"), 4);
    // The journal still contains the acknowledged offsets.
    drop(tailer);
    let store = CheckpointStore::load(&setup.data_dir).unwrap();
    let checkpoint = store.ids().next().and_then(|id| store.get(id)).unwrap();
    assert_eq!(
        checkpoint.offset,
        fs::metadata(setup.path("app.log")).unwrap().len()
    );
}

#[test]
fn rewrite_with_same_header_detected() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    // A fixed header longer than the fingerprint, as W3C-style logs have.
    let header_line = format!("#Fields: {}", "x".repeat(100));
    let header = format!("{header_line}\n").repeat(12);
    append(&path, format!("{header}old 1\nold 2\n").as_bytes());
    let mut tailer = setup.tailer(StartAt::Beginning);
    let first = read_rounds(&mut tailer, 2);
    assert_eq!(first.len(), 14);

    // Truncated and written again, past the old read offset, between two
    // checks.
    truncate(&path);
    append(
        &path,
        format!("{header}new 1 written after the truncation\nnew 2\n").as_bytes(),
    );
    let later = read_rounds(&mut tailer, 4);

    let mut expected = vec![header_line; 12];
    expected.push("new 1 written after the truncation".to_string());
    expected.push("new 2".to_string());
    assert_eq!(later, expected);
    assert_eq!(setup.counter("tail_files_rotated_total"), 1);
}

#[test]
fn rewrite_while_stopped_detected() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    let header_line = format!("#Fields: {}", "x".repeat(100));
    let header = format!("{header_line}\n").repeat(12);
    append(&path, format!("{header}old 1\nold 2\n").as_bytes());
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_rounds(&mut tailer, 2).len(), 14);
    assert!(tailer.write_checkpoints());
    drop(tailer);

    // Truncated and written again past the checkpoint while stopped.
    truncate(&path);
    append(
        &path,
        format!("{header}new 1 written after the truncation\nnew 2\n").as_bytes(),
    );
    let mut restarted = setup.tailer(StartAt::Beginning);
    let later = read_rounds(&mut restarted, 2);

    let mut expected = vec![header_line; 12];
    expected.push("new 1 written after the truncation".to_string());
    expected.push("new 2".to_string());
    assert_eq!(later, expected);
}

#[test]
fn appended_while_stopped_resumes_with_guard() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"a\nb\n");
    let mut tailer = setup.tailer(StartAt::Beginning);
    assert_eq!(read_and_commit(&mut tailer), vec!["a", "b"]);
    assert!(tailer.write_checkpoints());
    drop(tailer);

    append(&path, b"c\n");
    let mut restarted = setup.tailer(StartAt::Beginning);

    assert_eq!(read_and_commit(&mut restarted), vec!["c"]);
    assert_eq!(setup.counter("tail_files_rotated_total"), 0);
}

#[test]
fn corrupt_checkpoints_read_files_from_start() {
    let setup = Setup::new();
    let path = setup.path("app.log");
    append(&path, b"before\n");
    fs::create_dir_all(&setup.data_dir).unwrap();
    fs::write(
        setup.data_dir.join("checkpoints.json"),
        b"{\"version\": 3, \"fil",
    )
    .unwrap();

    let mut tailer = setup.tailer(StartAt::End);

    // The positions are gone, so the file is read from its beginning
    // rather than from its end: lines may repeat, none is lost.
    assert_eq!(read_and_commit(&mut tailer), vec!["before"]);
    assert!(setup.data_dir.join("checkpoints.json.corrupt").exists());
}
