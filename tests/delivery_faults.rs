//! Delivery through faults: a client keeps sending numbered log records to
//! the real `hush` binary over gRPC while the downstream goes away and
//! comes back, and hush is stopped with SIGTERM and killed with SIGKILL in
//! between and started again each time.
//!
//! The client behaves like an OTLP SDK: it resends a request that failed or
//! timed out, and counts a record as sent only when hush answered `OK`.
//! Each run prints how many records were sent, received downstream, lost
//! (sent but never received) and duplicated. Lost must be zero with both
//! queues: the memory queue answers `OK` only after the downstream
//! accepted, and the disk queue only after the batch was synced to disk.
//!
//! Run with `cargo test --test delivery_faults -- --nocapture` to see the
//! counts.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Downstream, HushProcess, free_port, logs_request, string_body, write_config};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;

const WAIT: Duration = Duration::from_secs(30);

/// Records in one client request.
const RECORDS_PER_REQUEST: u64 = 10;

/// Time between the steps of the fault sequence.
const STEP: Duration = Duration::from_millis(1500);

/// What the client saw.
struct ClientCounts {
    /// Numbers of the records hush acknowledged with `OK`.
    acknowledged: BTreeSet<u64>,
    /// Records acknowledged while the downstream was away.
    acknowledged_in_outage: usize,
    attempts: u64,
    failed_attempts: u64,
}

/// What arrived downstream, and how it compares with what was sent.
struct Tally {
    sent: usize,
    /// Records acknowledged while the downstream was away.
    sent_in_outage: usize,
    received: usize,
    lost: usize,
    duplicates: usize,
}

fn request_of(first: u64) -> ExportLogsServiceRequest {
    let bodies: Vec<String> = (first..first + RECORDS_PER_REQUEST)
        .map(|number| format!("record {number} for bob@example.com"))
        .collect();
    logs_request(&bodies)
}

/// Sends numbered records until `stop` is set, one request at a time,
/// resending each request until hush replies `OK`.
fn run_client(port: u16, stop: Arc<AtomicBool>, outage: Arc<AtomicBool>) -> ClientCounts {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("valid endpoint")
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_millis(500))
            .connect_lazy();
        let mut client = LogsServiceClient::new(channel);
        let mut counts = ClientCounts {
            acknowledged: BTreeSet::new(),
            acknowledged_in_outage: 0,
            attempts: 0,
            failed_attempts: 0,
        };
        let mut next = 0u64;
        while !stop.load(Ordering::SeqCst) {
            counts.attempts += 1;
            match client.export(request_of(next)).await {
                Ok(_) => {
                    if outage.load(Ordering::SeqCst) {
                        counts.acknowledged_in_outage += RECORDS_PER_REQUEST as usize;
                    }
                    counts.acknowledged.extend(next..next + RECORDS_PER_REQUEST);
                    next += RECORDS_PER_REQUEST;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(_) => {
                    counts.failed_attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        counts
    })
}

/// Reads the record number out of each body that arrived downstream.
fn received_numbers(downstream: &Downstream) -> Vec<u64> {
    downstream
        .log_records()
        .iter()
        .filter_map(string_body)
        .map(|body| {
            assert!(
                !body.contains("bob@example.com"),
                "an e-mail address reached the downstream: {body}"
            );
            body.split_whitespace()
                .nth(1)
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("unexpected body {body:?}"))
        })
        .collect()
}

fn tally(counts: &ClientCounts, received: &[u64]) -> Tally {
    let acknowledged = &counts.acknowledged;
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for number in received {
        *seen.entry(*number).or_default() += 1;
    }
    Tally {
        sent: acknowledged.len(),
        sent_in_outage: counts.acknowledged_in_outage,
        received: seen.len(),
        lost: acknowledged
            .iter()
            .filter(|number| !seen.contains_key(number))
            .count(),
        duplicates: seen.values().map(|count| count - 1).sum(),
    }
}

fn config_yaml(root: &Path, port: u16, downstream: &Downstream, queue: &str) -> String {
    format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{port}, http: null }}\n\
         telemetry: {{ listen: null }}\n\
         exporter:\n  otlp: {{ endpoint: \"{endpoint}\" }}\n  batch: {{ max_delay_ms: 20 }}\n  \
         retry: {{ initial_backoff_ms: 50, max_backoff_ms: 500 }}\n  queue: {queue}\n",
        state = root.join("state").display(),
        endpoint = downstream.endpoint(),
    )
}

/// Runs the fault sequence with the given `exporter.queue` section and
/// returns the tally.
fn run_fault_sequence(queue: &str, label: &str) -> Tally {
    let root = tempfile::tempdir().expect("temp dir");
    let mut downstream = Downstream::start();
    let port = free_port();
    let config = write_config(
        root.path(),
        &config_yaml(root.path(), port, &downstream, queue),
    );
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);

    let stop = Arc::new(AtomicBool::new(false));
    let outage = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        let outage = outage.clone();
        std::thread::spawn(move || run_client(port, stop, outage))
    };

    std::thread::sleep(STEP);
    downstream.stop();
    outage.store(true, Ordering::SeqCst);
    std::thread::sleep(STEP);

    let status = agent.stop();
    assert!(
        status.success(),
        "hush exited with {status} after SIGTERM\n{}",
        agent.stderr()
    );
    agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    std::thread::sleep(STEP);

    agent.kill();
    agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    std::thread::sleep(STEP);

    outage.store(false, Ordering::SeqCst);
    downstream.restart();
    std::thread::sleep(STEP);
    stop.store(true, Ordering::SeqCst);
    let counts = client.join().expect("the client thread finished");

    // Everything acknowledged must arrive; give the queue time to drain.
    let deadline = Instant::now() + WAIT;
    let mut result = tally(&counts, &received_numbers(&downstream));
    while result.lost > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        result = tally(&counts, &received_numbers(&downstream));
    }
    println!(
        "{label}: sent {} (acknowledged; {} while the downstream was away), received {} \
         distinct, lost {}, duplicates {}; client attempts {}, failed {}",
        result.sent,
        result.sent_in_outage,
        result.received,
        result.lost,
        result.duplicates,
        counts.attempts,
        counts.failed_attempts
    );
    assert!(
        result.sent > 0,
        "{label}: the client got no acknowledgement at all\n{}",
        agent.stderr()
    );
    agent.stop();
    result
}

#[test]
fn disk_queue_loses_nothing_through_faults() {
    let tally = run_fault_sequence("{ kind: disk, max_bytes: 67108864 }", "disk queue");

    assert_eq!(tally.lost, 0, "records acknowledged by hush were lost");
    assert!(tally.received >= tally.sent);
    // The disk queue acknowledges while the downstream is away, and those
    // records went through both restarts on disk.
    assert!(
        tally.sent_in_outage > 0,
        "nothing was acknowledged during the outage"
    );
}

#[test]
fn memory_queue_loses_nothing_through_faults() {
    let tally = run_fault_sequence("{ kind: memory, max_batches: 16 }", "memory queue");

    assert_eq!(tally.lost, 0, "records acknowledged by hush were lost");
    assert!(tally.received >= tally.sent);
}
