use std::io::Write as _;
use std::sync::atomic::Ordering;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

use super::*;

const MAX_BYTES: u64 = crate::config::MIN_DISK_QUEUE_BYTES;

/// A logs batch of one record whose body is `body`.
fn batch(body: &str) -> Payload {
    Payload::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(body.to_string())),
                    }),
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    })
}

fn body_of(entry: &Entry) -> String {
    let Payload::Logs(request) = &entry.payload else {
        panic!("expected a logs batch");
    };
    let record = &request.resource_logs[0].scope_logs[0].log_records[0];
    match record.body.as_ref().and_then(|body| body.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        other => panic!("unexpected body {other:?}"),
    }
}

struct Opened {
    queue: DiskQueue,
    entries: mpsc::Receiver<Entry>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

fn open(dir: &Path) -> Opened {
    open_with_limit(dir, MAX_BYTES)
}

fn open_with_limit(dir: &Path, max_bytes: u64) -> Opened {
    let metrics = Arc::new(Metrics::default());
    let shutdown = CancellationToken::new();
    let (queue, entries) = DiskQueue::open(dir, max_bytes, metrics.clone(), shutdown.clone())
        .expect("the queue opens");
    Opened {
        queue,
        entries,
        metrics,
        shutdown,
    }
}

impl Opened {
    async fn append(&self, body: &str) {
        self.queue
            .append(batch(body).encode_tagged(), WhenFull::Reject)
            .await
            .expect("the append succeeds");
    }

    async fn next(&mut self) -> Entry {
        tokio::time::timeout(Duration::from_secs(5), self.entries.recv())
            .await
            .expect("timed out waiting for a queued batch")
            .expect("the reader stopped")
    }

    async fn expect_empty(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(300), self.entries.recv()).await;
        if let Ok(Some(entry)) = next {
            panic!("expected no batch, got {:?}", body_of(&entry));
        }
    }

    /// Stops the reader and closes the queue, as a stopping agent does.
    fn close(self) {
        self.shutdown.cancel();
        drop(self.entries);
        drop(self.queue);
    }

    fn corrupt_count(&self) -> u64 {
        self.metrics
            .queue_frames_corrupt_total
            .load(Ordering::Relaxed)
    }
}

fn end_of(entry: &Entry) -> Position {
    match entry.ticket {
        Ticket::Stored(end) => end,
        Ticket::Waiting(_) => panic!("a disk queue entry has a stored ticket"),
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "seg"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn batches_come_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = open(dir.path());

    for number in 0..5 {
        queue.append(&format!("batch {number}")).await;
    }

    for number in 0..5 {
        assert_eq!(body_of(&queue.next().await), format!("batch {number}"));
    }
    queue.expect_empty().await;
    assert_eq!(
        queue.metrics.gauges.queue_batches.load(Ordering::Relaxed),
        5
    );
}

#[tokio::test]
async fn unacknowledged_batches_replay_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = open(dir.path());
    for number in 0..4 {
        queue.append(&format!("batch {number}")).await;
    }
    let first = queue.next().await;
    let second = queue.next().await;
    queue.queue.acknowledge(end_of(&second), 2);
    assert_eq!(body_of(&first), "batch 0");
    queue.close();

    let mut reopened = open(dir.path());

    assert_eq!(body_of(&reopened.next().await), "batch 2");
    assert_eq!(body_of(&reopened.next().await), "batch 3");
    reopened.expect_empty().await;
    assert_eq!(
        reopened
            .metrics
            .gauges
            .queue_batches
            .load(Ordering::Relaxed),
        2
    );
}

#[tokio::test]
async fn acknowledged_queue_replays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = open(dir.path());
    queue.append("only").await;
    let entry = queue.next().await;
    queue.queue.acknowledge(end_of(&entry), 1);
    queue.close();

    let mut reopened = open(dir.path());

    reopened.expect_empty().await;
    reopened.append("after restart").await;
    assert_eq!(body_of(&reopened.next().await), "after restart");
}

#[tokio::test]
async fn torn_tail_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    queue.append("whole 1").await;
    queue.append("whole 2").await;
    queue.close();

    // What a crash in the middle of a write leaves: a header that promises
    // more bytes than follow it.
    let segment = segment_files(dir.path()).pop().unwrap();
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&100u32.to_le_bytes()).unwrap();
    file.write_all(&[0xab; 4 + 30]).unwrap();
    drop(file);

    let mut reopened = open(dir.path());

    assert_eq!(body_of(&reopened.next().await), "whole 1");
    assert_eq!(body_of(&reopened.next().await), "whole 2");
    reopened.append("new").await;
    assert_eq!(body_of(&reopened.next().await), "new");
    assert_eq!(reopened.corrupt_count(), 1);
}

#[tokio::test]
async fn bad_checksum_skips_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    queue.append("first").await;
    queue.append("second").await;
    queue.append("third").await;
    queue.close();

    // Flip the last byte of the second record's body.
    let segment = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let second_start = HEADER_BYTES as usize + first_len;
    let second_len =
        u32::from_le_bytes(bytes[second_start..second_start + 4].try_into().unwrap()) as usize;
    bytes[second_start + HEADER_BYTES as usize + second_len - 1] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();

    let mut reopened = open(dir.path());

    assert_eq!(body_of(&reopened.next().await), "first");
    assert_eq!(body_of(&reopened.next().await), "third");
    reopened.expect_empty().await;
    assert_eq!(reopened.corrupt_count(), 1);
}

#[tokio::test]
async fn zero_filled_tail_counts_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    queue.append("kept").await;
    queue.close();

    let segment = segment_files(dir.path()).pop().unwrap();
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&[0u8; 64]).unwrap();
    drop(file);

    let mut reopened = open(dir.path());

    assert_eq!(body_of(&reopened.next().await), "kept");
    reopened.expect_empty().await;
    assert_eq!(reopened.corrupt_count(), 1);
}

#[tokio::test]
async fn full_queue_rejects_then_frees_space() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = open_with_limit(dir.path(), MAX_BYTES);
    let large = "x".repeat(3 * 1024 * 1024);
    queue.append(&large).await;
    queue.append(&large).await;

    let rejected = queue
        .queue
        .append(batch(&large).encode_tagged(), WhenFull::Reject)
        .await;

    assert_eq!(rejected, Err(DeliveryError::QueueFull));
    assert_eq!(queue.metrics.queue_full_total.load(Ordering::Relaxed), 1);

    // A waiting append goes through once the first batch is acknowledged
    // and its segment deleted.
    let first = queue.next().await;
    let waiting = queue
        .queue
        .append(batch(&large).encode_tagged(), WhenFull::Wait);
    let acknowledge = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        queue.queue.acknowledge(end_of(&first), 1);
    };
    let (result, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(5), waiting),
        acknowledge
    );
    assert_eq!(result.expect("the waiting append finished"), Ok(()));
    assert!(queue.metrics.gauges.queue_bytes.load(Ordering::Relaxed) <= MAX_BYTES);
}

#[tokio::test]
async fn batch_larger_than_queue_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let huge = "y".repeat(MAX_BYTES as usize);

    let result = queue
        .queue
        .append(batch(&huge).encode_tagged(), WhenFull::Wait)
        .await;

    assert!(
        matches!(&result, Err(DeliveryError::Rejected(message)) if message.contains("max_bytes")),
        "{result:?}"
    );
}

#[tokio::test]
async fn waiting_append_stops_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let large = "x".repeat(3 * 1024 * 1024);
    queue.append(&large).await;
    queue.append(&large).await;

    let waiting = queue
        .queue
        .append(batch(&large).encode_tagged(), WhenFull::Wait);
    queue.shutdown.cancel();

    assert_eq!(waiting.await, Err(DeliveryError::ShuttingDown));
}

#[tokio::test]
async fn second_open_of_same_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let _queue = open(dir.path());

    let second = DiskQueue::open(
        dir.path(),
        MAX_BYTES,
        Arc::new(Metrics::default()),
        CancellationToken::new(),
    );

    let message = format!("{:#}", second.err().expect("the second open fails"));
    assert!(message.contains("another hush process"), "{message}");
}

#[tokio::test]
async fn consumed_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = open(dir.path());
    let large = "z".repeat(1024 * 1024);
    for _ in 0..4 {
        queue.append(&large).await;
    }
    let segments_before = segment_files(dir.path()).len();
    let mut last = None;
    for _ in 0..4 {
        last = Some(queue.next().await);
    }

    queue.queue.acknowledge(end_of(&last.unwrap()), 4);

    assert!(segments_before >= 4, "{segments_before} segments");
    assert_eq!(segment_files(dir.path()).len(), 1);
    assert_eq!(
        queue.metrics.gauges.queue_batches.load(Ordering::Relaxed),
        0
    );
}

#[test]
fn damaged_cursor_replays_from_start() {
    let dir = tempfile::tempdir().unwrap();
    write_cursor(
        dir.path(),
        Position {
            segment: 3,
            offset: 10,
        },
    )
    .unwrap();
    assert_eq!(
        read_cursor(dir.path()),
        Position {
            segment: 3,
            offset: 10
        }
    );

    let path = dir.path().join("cursor");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&path, &bytes).unwrap();

    assert_eq!(read_cursor(dir.path()), Position::default());
}
