//! Fault test of file tailing: the real `hush` binary tails many files
//! while a writer appends numbered lines and rotates, truncates and
//! recreates the files, and the agent is killed with SIGKILL and restarted
//! at random moments. At the end every line written must have reached the
//! downstream, and lines may arrive twice only from the batch that was in
//! flight at a kill: at most `max_batch_lines` per kill.
//!
//! The writer is one thread. Each step is drawn from a seeded RNG:
//! - append 1 to 10 lines to a file;
//! - rename rotation: rename `f3.log` to `f3.log.N`, outside the glob, write
//!   a few late lines to the renamed file as a logger does before it
//!   reopens, and create a new `f3.log`;
//! - copytruncate: copy the file to `f3.log.N` and truncate it;
//! - truncate the file in place;
//! - recreate: delete the file and create it anew;
//! - kill the agent with SIGKILL 0 to 2 s after it started, and start it
//!   again after 0 to 400 ms.
//!
//! What the writer avoids, because no tailing agent can deliver it, so that
//! the test measures the agent and not the scenario:
//! - copytruncate, truncate and delete destroy the bytes they remove. The
//!   writer does them only once the downstream received every line of that
//!   file, as an operator who rotates between reads would. The copy of a
//!   copytruncate is outside the glob and never read. With a real
//!   copytruncate, lines written between the copy and the truncation are
//!   lost by the rotator itself; this writer writes nothing in between.
//! - A file renamed out of the glob is found again only by the identity
//!   the agent checkpointed. So a file is renamed only if it is empty or
//!   its first line reached the downstream, which proves the agent saw it
//!   (it journals a file before it sends any of its lines). Otherwise a file
//!   created and rotated away while the agent is stopped would be missed.
//! - Late lines go to a renamed file right after the rename, well within
//!   `rotate_wait_ms`.
//!
//! Parameters (environment variables, defaults in brackets): `HUSH_FAULT_SEED`
//! [1], `HUSH_FAULT_FILES` [6], `HUSH_FAULT_KILLS` [20],
//! `HUSH_FAULT_ROTATIONS` [100], `HUSH_FAULT_MAX_OPEN_FILES` [512]. The
//! writer runs until both the kill and the rotation counts are reached.
//! `scripts/tail-fault-test` runs longer versions. The counts are printed on
//! stderr (`cargo test --test tail_faults -- --nocapture`).

mod common;

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Downstream, HushProcess, string_body, write_config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Lines per batch the agent sends, which bounds the duplicates of a kill.
const MAX_BATCH_LINES: usize = 100;

/// How long the final delivery of every line may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("invalid {name} {text:?}: expected a whole number")),
        Err(_) => default,
    }
}

struct Parameters {
    seed: u64,
    files: usize,
    kills: usize,
    rotations: usize,
    max_open_files: usize,
}

impl Parameters {
    fn from_env() -> Parameters {
        Parameters {
            seed: env_number("HUSH_FAULT_SEED", 1),
            files: env_number("HUSH_FAULT_FILES", 6) as usize,
            kills: env_number("HUSH_FAULT_KILLS", 20) as usize,
            rotations: env_number("HUSH_FAULT_ROTATIONS", 100) as usize,
            max_open_files: env_number("HUSH_FAULT_MAX_OPEN_FILES", 512) as usize,
        }
    }
}

fn config_yaml(root: &Path, downstream_endpoint: &str, max_open_files: usize) -> String {
    format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         tail:\n\
         \x20 include: [\"{logs}/*.log\"]\n\
         \x20 poll_interval_ms: 50\n\
         \x20 rescan_interval_ms: 2000\n\
         \x20 partial_line_timeout_ms: 1000\n\
         \x20 max_batch_lines: {MAX_BATCH_LINES}\n\
         \x20 max_open_files: {max_open_files}\n\
         otlp_receiver: {{ grpc: null, http: null }}\n\
         telemetry: {{ listen: null }}\n\
         exporter: {{ otlp: {{ endpoint: \"{downstream_endpoint}\" }} }}\n",
        state = root.join("state").display(),
        logs = root.join("logs").display(),
    )
}

/// One log file, with what its writer wrote to it.
struct LogFile {
    path: PathBuf,
    /// The writer's handle, opened for appending as loggers do.
    handle: File,
    /// First line written since the file was created or truncated.
    first_line: Option<u64>,
    /// Lines written since then that the downstream has not received.
    unreceived: HashSet<u64>,
    rotated_copies: usize,
}

impl LogFile {
    fn create(path: PathBuf) -> LogFile {
        let handle = open_append(&path);
        LogFile {
            path,
            handle,
            first_line: None,
            unreceived: HashSet::new(),
            rotated_copies: 0,
        }
    }

    fn next_rotated_path(&mut self) -> PathBuf {
        self.rotated_copies += 1;
        let mut name = self.path.as_os_str().to_os_string();
        name.push(format!(".{}", self.rotated_copies));
        PathBuf::from(name)
    }

    /// Starts a new incarnation: nothing written to it yet.
    fn reset(&mut self) {
        self.first_line = None;
        self.unreceived.clear();
    }
}

fn open_append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|err| panic!("failed to open {}: {err}", path.display()))
}

/// What was done, for the summary.
#[derive(Debug, Default)]
struct Counts {
    lines_written: u64,
    kills: usize,
    rename_rotations: usize,
    copytruncate_rotations: usize,
    truncations: usize,
    recreations: usize,
}

impl Counts {
    fn rotations(&self) -> usize {
        self.rename_rotations + self.copytruncate_rotations
    }
}

/// The writer, the agent and what the downstream received so far.
struct Run {
    rng: StdRng,
    files: Vec<LogFile>,
    next_line: u64,
    /// Times each line number was received.
    received: HashMap<u64, u32>,
    /// Records whose body did not parse as a line of this test.
    malformed: Vec<String>,
    requests_seen: usize,
    counts: Counts,
}

impl Run {
    /// Writes lines to file `index`, one `write` call for all of them.
    fn append(&mut self, index: usize, count: usize) {
        let mut text = String::new();
        let mut numbers = Vec::with_capacity(count);
        for _ in 0..count {
            let n = self.next_line;
            self.next_line += 1;
            text.push_str(&format!(
                "f={index} n={n} login user{n}@example.com took {}ms\n",
                n % 997
            ));
            numbers.push(n);
        }
        let file = &mut self.files[index];
        file.handle
            .write_all(text.as_bytes())
            .expect("append lines");
        file.first_line = file.first_line.or(numbers.first().copied());
        file.unreceived.extend(numbers);
        self.counts.lines_written += count as u64;
    }

    /// Takes in the requests the downstream accepted since the last call.
    fn absorb(&mut self, downstream: &Downstream) {
        let requests = downstream.logs_after(self.requests_seen);
        self.requests_seen += requests.len();
        for request in requests {
            for resource in &request.resource_logs {
                for scope in &resource.scope_logs {
                    for record in &scope.log_records {
                        let body = string_body(record).unwrap_or("");
                        match parse_line(body) {
                            Some((index, n)) => {
                                *self.received.entry(n).or_default() += 1;
                                if let Some(file) = self.files.get_mut(index) {
                                    file.unreceived.remove(&n);
                                }
                            }
                            None => self.malformed.push(body.to_string()),
                        }
                    }
                }
            }
        }
    }

    fn all_received(&self, index: usize) -> bool {
        self.files[index].unreceived.is_empty()
    }

    fn first_line_received(&self, index: usize) -> bool {
        self.files[index]
            .first_line
            .is_none_or(|n| self.received.contains_key(&n))
    }

    /// Renames the file out of the glob, writes late lines to the renamed
    /// file if the agent saw it, and creates the file anew.
    fn rotate_by_rename(&mut self, index: usize) {
        let rotated = self.files[index].next_rotated_path();
        let path = self.files[index].path.clone();
        std::fs::rename(&path, &rotated).expect("rename the log");
        if self.files[index].first_line.is_some() {
            let late = self.rng.random_range(0..4);
            self.append(index, late);
        }
        let file = &mut self.files[index];
        file.handle = open_append(&path);
        file.reset();
        self.counts.rename_rotations += 1;
    }

    fn rotate_by_copytruncate(&mut self, index: usize) {
        let rotated = self.files[index].next_rotated_path();
        let file = &mut self.files[index];
        std::fs::copy(&file.path, &rotated).expect("copy the log");
        file.handle.set_len(0).expect("truncate the log");
        file.reset();
        self.counts.copytruncate_rotations += 1;
    }

    fn truncate(&mut self, index: usize) {
        let file = &mut self.files[index];
        file.handle.set_len(0).expect("truncate the log");
        file.reset();
        self.counts.truncations += 1;
    }

    fn recreate(&mut self, index: usize) {
        let file = &mut self.files[index];
        std::fs::remove_file(&file.path).expect("delete the log");
        file.handle = open_append(&file.path);
        file.reset();
        self.counts.recreations += 1;
    }

    /// Does one random writer step.
    fn step(&mut self) {
        let index = self.rng.random_range(0..self.files.len());
        let choice = self.rng.random_range(0..100);
        match choice {
            0..=79 => {
                let count = self.rng.random_range(1..=10);
                self.append(index, count);
            }
            80..=87 if self.first_line_received(index) => self.rotate_by_rename(index),
            88..=93 if self.all_received(index) => self.rotate_by_copytruncate(index),
            94..=96 if self.all_received(index) => self.truncate(index),
            97..=99 if self.all_received(index) => self.recreate(index),
            _ => {}
        }
    }
}

/// Parses `f=INDEX n=NUMBER ...`.
fn parse_line(body: &str) -> Option<(usize, u64)> {
    let mut words = body.split(' ');
    let index = words.next()?.strip_prefix("f=")?.parse().ok()?;
    let number = words.next()?.strip_prefix("n=")?.parse().ok()?;
    Some((index, number))
}

#[test]
fn tail_survives_kills_and_rotations() {
    let parameters = Parameters::from_env();
    let started = Instant::now();
    let root = tempfile::tempdir().expect("temp dir");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("create logs dir");
    let downstream = Downstream::start();
    let config = write_config(
        root.path(),
        &config_yaml(
            root.path(),
            &downstream.endpoint(),
            parameters.max_open_files,
        ),
    );

    let files = (0..parameters.files)
        .map(|index| LogFile::create(logs.join(format!("f{index}.log"))))
        .collect();
    let mut run = Run {
        rng: StdRng::seed_from_u64(parameters.seed),
        files,
        next_line: 0,
        received: HashMap::new(),
        malformed: Vec::new(),
        requests_seen: 0,
        counts: Counts::default(),
    };

    // The agent's life: killed 0 to 2 s after it logged `hush started`
    // (counting from the start would spend most kills on the startup of a
    // debug build), and started again after 0 to 400 ms. Both delays come
    // from the same seeded RNG as the writer.
    let mut agent = Some(HushProcess::start(&config));
    let mut kill_at: Option<Instant> = None;
    let mut restart_at = Instant::now();
    let mut stderr_tail = String::new();

    while run.counts.kills < parameters.kills || run.counts.rotations() < parameters.rotations {
        run.absorb(&downstream);
        let now = Instant::now();
        match (agent.as_mut(), kill_at) {
            (Some(process), None) if process.stderr().contains("hush started") => {
                let uptime = Duration::from_millis(run.rng.random_range(0..2000));
                kill_at = Some(now + uptime);
            }
            (Some(process), Some(at)) if now >= at => {
                process.kill();
                stderr_tail = process.stderr();
                agent = None;
                kill_at = None;
                run.counts.kills += 1;
                restart_at = now + Duration::from_millis(run.rng.random_range(0..400));
            }
            (None, _) if now >= restart_at => {
                agent = Some(HushProcess::start(&config));
            }
            _ => {}
        }
        run.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let writing_time = started.elapsed();

    // Let the agent deliver everything, then wait for late duplicates.
    let mut agent = agent.unwrap_or_else(|| HushProcess::start(&config));
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while (run.received.len() as u64) < run.next_line && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        run.absorb(&downstream);
    }
    std::thread::sleep(Duration::from_millis(500));
    run.absorb(&downstream);
    let status = agent.stop();
    let stderr = agent.stderr();

    let lost: Vec<u64> = (0..run.next_line)
        .filter(|n| !run.received.contains_key(n))
        .collect();
    let duplicates: u64 = run
        .received
        .values()
        .map(|count| u64::from(count - 1))
        .sum();
    let duplicate_bound = (run.counts.kills * MAX_BATCH_LINES) as u64;
    eprintln!(
        "tail fault test: seed {seed}, {files} files, {written} lines written, \
         {received} received, {lost} lost, {duplicates} duplicates (bound {duplicate_bound}), \
         {malformed} malformed, {kills} kills, {rotations} rotations ({renames} rename, \
         {copies} copytruncate), {truncations} truncations, {recreations} recreations, \
         writing {writing:.1} s, total {total:.1} s",
        seed = parameters.seed,
        files = parameters.files,
        written = run.counts.lines_written,
        received = run.received.len(),
        lost = lost.len(),
        malformed = run.malformed.len(),
        kills = run.counts.kills,
        rotations = run.counts.rotations(),
        renames = run.counts.rename_rotations,
        copies = run.counts.copytruncate_rotations,
        truncations = run.counts.truncations,
        recreations = run.counts.recreations,
        writing = writing_time.as_secs_f64(),
        total = started.elapsed().as_secs_f64(),
    );

    assert!(
        status.success(),
        "hush exited with {status} after SIGTERM\n{stderr}"
    );
    let first_lost: Vec<&u64> = lost.iter().take(20).collect();
    assert!(
        lost.is_empty(),
        "{} lines lost, first: {first_lost:?}\n--- stderr of the last killed agent ---\n\
         {stderr_tail}\n--- stderr of the final agent ---\n{stderr}",
        lost.len()
    );
    assert!(
        duplicates <= duplicate_bound,
        "{duplicates} duplicate lines, more than one batch of {MAX_BATCH_LINES} per kill"
    );
    assert!(
        run.malformed.is_empty(),
        "records that are no line of this test: {:?}",
        &run.malformed[..run.malformed.len().min(5)]
    );
    assert_eq!(
        run.received.len() as u64,
        run.next_line,
        "line numbers that were never written arrived"
    );
}
