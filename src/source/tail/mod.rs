//! The file tailing source: follows log files matched by globs, sends their
//! lines to the pipeline as OTLP log records, and saves how far each file
//! was delivered, so a restart neither loses nor repeats a line. The one
//! exception: where a container's stdout and stderr records overlap, a
//! restart can send whole records again (see [`assemble`]).
//!
//! Parts:
//! - [`discover`] finds the files matching the include and exclude globs,
//!   and [`sources`] chooses the settings each one is read with;
//! - [`file`] identifies a file (device, inode, fingerprint) and reads it;
//! - [`framer`] cuts the bytes into lines;
//! - [`assemble`] turns lines into records: it parses CRI and Docker lines
//!   ([`format`]), merges the parts of split lines, and joins multiline
//!   records ([`multiline`]);
//! - [`batch`] builds the OTLP request, with the Kubernetes resource
//!   attributes of container logs ([`kubernetes`]);
//! - [`checkpoint`] saves the acknowledged offsets;
//! - [`watch`] turns file system events into rescan requests;
//! - [`tailer`] ties them into the steps of one turn of the loop below.
//!
//! Delivery is at least once. One batch is in flight for the whole tailer,
//! and while it is, one more batch is read ahead and then waits, so a slow
//! downstream slows reading and memory stays bounded by two batches plus
//! one read buffer per open file. A file's offset advances only when its
//! batch is acknowledged, and the new offsets are journaled before the next
//! batch is sent. A crash (even SIGKILL) therefore sends again at most the
//! one batch that was in flight or just acknowledged. The batch read ahead
//! was never sent, so it is not sent twice either.
//!
//! Threads: reading files, listing directories and writing checkpoints are
//! blocking `std::fs` calls. They run on tokio's blocking thread pool, one
//! `spawn_blocking` call per batch, which moves the whole tailer state to
//! that thread and back. The async task only waits for the pipeline and the
//! poll timer, so a slow disk never stalls the runtime's worker threads, and
//! the cost of a thread hand-off is paid once per batch rather than per
//! read.
//!
//! New data is found by polling every `poll_interval_ms`, while a file that
//! has more data than one batch is read again at once. New, renamed and
//! deleted files are announced by file system events, which wake the loop
//! for a rescan; a periodic rescan catches what events miss.
//!
//! This source never logs line content, only paths, offsets and counts.

pub mod assemble;
pub mod batch;
pub mod checkpoint;
pub mod discover;
pub mod file;
pub mod format;
pub mod framer;
pub mod kubernetes;
pub mod multiline;
pub mod sources;
pub mod tailer;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use self::batch::Batch;
use self::file::FileId;
use self::tailer::Tailer;
use self::watch::RescanSignal;
use crate::config::TailConfig;
use crate::pipeline::{DeliveryError, Pipeline};
use crate::telemetry::Metrics;

/// Tails the files `config` selects until `shutdown` is cancelled, then
/// writes the checkpoints of everything acknowledged and returns.
///
/// With no include pattern, it only waits for `shutdown`.
///
/// # Errors
///
/// Only at startup: `data_dir` cannot be created, the checkpoint file is
/// unreadable or corrupt, or a glob does not compile. Errors with single
/// files while running are logged and counted, and tailing goes on.
///
/// # Cancel safety
///
/// Cancelling `shutdown` is the way to stop it. A batch already handed to
/// the pipeline is waited for, and the pipeline returns promptly once it is
/// shutting down too. Dropping the future instead skips the last
/// checkpoint save, so the last acknowledged batch is sent again after a
/// restart.
pub async fn run(
    config: TailConfig,
    data_dir: PathBuf,
    pipeline: Pipeline,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if config.include_pattern_count() == 0 {
        tracing::info!("no tail.include or tail.sources patterns, file tailing is off");
        shutdown.cancelled().await;
        return Ok(());
    }

    let metrics = pipeline.metrics().clone();
    let poll_interval = config.poll_interval();
    let signal = Arc::new(RescanSignal::default());
    let tailer_signal = signal.clone();
    let mut tailer =
        on_blocking_thread(move || Tailer::new(config, &data_dir, metrics, tailer_signal))
            .await
            .and_then(|result| result)?;

    // Offsets of the last acknowledged batch, committed and journaled by
    // the next blocking call.
    let mut acknowledged: Vec<(FileId, u64)> = Vec::new();
    // A batch read ahead while the one before it was being delivered.
    let mut read_ahead: Option<Batch> = None;

    while !shutdown.is_cancelled() {
        let batch = match read_ahead.take() {
            Some(batch) => batch,
            None => {
                let (saved, _) = oneshot::channel();
                let (returned, batch) = read_batch(tailer, &mut acknowledged, saved).await?;
                tailer = returned;
                batch
            }
        };

        if batch.is_empty() {
            // Saved now rather than after the wait, so a crash during the
            // wait repeats nothing.
            if !acknowledged.is_empty() {
                let offsets = std::mem::take(&mut acknowledged);
                tailer = on_blocking_thread(move || {
                    tailer.commit(&offsets);
                    tailer.save_checkpoints(Instant::now());
                    tailer
                })
                .await?;
            }
            tokio::select! {
                () = tokio::time::sleep(poll_interval) => {}
                () = signal.requested() => {}
                () = shutdown.cancelled() => {}
            }
            continue;
        }

        // The next batch is read while this one is redacted and exported,
        // so the wait for the downstream and the file reading overlap. This
        // batch is sent only once the one before it is journaled, so a crash
        // never finds two batches sent and unjournaled.
        let offsets = batch.offsets().to_vec();
        let (saved, journaled) = oneshot::channel();
        let send = async {
            // An error means the blocking task failed, which the join
            // below reports.
            let _ = journaled.await;
            deliver(&pipeline, batch).await
        };
        let (delivered, next) = tokio::join!(send, read_batch(tailer, &mut acknowledged, saved));
        let (returned, next) = next?;
        tailer = returned;
        if !delivered {
            // The batch read ahead was never sent, so its offsets are not
            // committed and its lines are read again after a restart.
            break;
        }
        acknowledged = offsets;
        read_ahead = Some(next);
    }

    let (_, written) = on_blocking_thread(move || {
        tailer.commit(&acknowledged);
        let written = tailer.write_checkpoints();
        (tailer, written)
    })
    .await?;
    tracing::info!(checkpoints_written = written, "file tailing stopped");
    Ok(())
}

/// Commits and saves the `acknowledged` offsets, signals `saved`, and runs
/// one tailer step, all on the blocking pool.
async fn read_batch(
    mut tailer: Tailer,
    acknowledged: &mut Vec<(FileId, u64)>,
    saved: oneshot::Sender<()>,
) -> anyhow::Result<(Tailer, Batch)> {
    let offsets = std::mem::take(acknowledged);
    on_blocking_thread(move || {
        tailer.commit(&offsets);
        tailer.save_checkpoints(Instant::now());
        // The receiver is gone only if the send side was dropped, which
        // happens when the loop stops.
        let _ = saved.send(());
        let batch = tailer.step(Instant::now());
        (tailer, batch)
    })
    .await
}

/// Sends one batch. Returns true if its offsets may be committed: it was
/// acknowledged, or rejected for good. Returns false if the agent is
/// shutting down and the loop must stop.
async fn deliver(pipeline: &Pipeline, batch: Batch) -> bool {
    let lines = batch.len() as u64;

    match pipeline.deliver(batch.into_payload()).await {
        Ok(()) => true,
        Err(DeliveryError::Rejected(message)) => {
            // Sending the same lines again would be rejected again and stall
            // every file behind them, so they are skipped.
            Metrics::add(&pipeline.metrics().tail_lines_dropped_total, lines);
            tracing::warn!(error = %message, lines, "downstream rejected tailed lines, skipping them");
            true
        }
        // `deliver` waits through a full or failing queue, so these come
        // only when the agent stops.
        Err(
            DeliveryError::ShuttingDown
            | DeliveryError::QueueFull
            | DeliveryError::StorageFailed(_),
        ) => false,
    }
}

/// Runs blocking file work on tokio's blocking pool. A panic there is a bug,
/// reported as an error because the tailer state is lost with it.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| anyhow::anyhow!("file tailing task failed: {err}"))
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
        LogsService, LogsServiceServer,
    };
    use opentelemetry_proto::tonic::collector::logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use tokio::sync::mpsc;
    use tonic::{Request, Response, Status};

    use super::*;
    use crate::config::{EndpointUrl, GlobPattern, OtlpExporterConfig, StartAt};
    use crate::redact::Redactor;
    use crate::sink::{OtlpSink, Sink};

    /// A downstream collector on 127.0.0.1 that forwards every request it
    /// accepts to a channel, and rejects the first `reject_first` requests
    /// as invalid.
    struct Collector {
        accepted: mpsc::UnboundedSender<ExportLogsServiceRequest>,
        reject_first: usize,
        seen: AtomicUsize,
    }

    #[tonic::async_trait]
    impl LogsService for Collector {
        async fn export(
            &self,
            request: Request<ExportLogsServiceRequest>,
        ) -> Result<Response<ExportLogsServiceResponse>, Status> {
            if self.seen.fetch_add(1, Ordering::SeqCst) < self.reject_first {
                return Err(Status::invalid_argument("rejected by the test collector"));
            }
            let _ = self.accepted.send(request.into_inner());
            Ok(Response::new(ExportLogsServiceResponse::default()))
        }
    }

    /// A running `run` call with its collector.
    struct Agent {
        accepted: mpsc::UnboundedReceiver<ExportLogsServiceRequest>,
        shutdown: CancellationToken,
        tail: tokio::task::JoinHandle<anyhow::Result<()>>,
        metrics: Arc<Metrics>,
    }

    async fn start_agent(logs: &Path, data_dir: &Path, reject_first: usize) -> Agent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, accepted) = mpsc::unbounded_channel();
        let collector = Collector {
            accepted: sender,
            reject_first,
            seen: AtomicUsize::new(0),
        };
        let shutdown = CancellationToken::new();
        let server_shutdown = shutdown.clone();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(LogsServiceServer::new(collector))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async move { server_shutdown.cancelled().await },
                ),
        );

        let exporter =
            OtlpExporterConfig::grpc(EndpointUrl::try_from(format!("http://{address}")).unwrap());
        let sink = Sink::Otlp(Box::new(OtlpSink::new(&exporter).unwrap()));
        let metrics = Arc::new(Metrics::default());
        let (pipeline, _exporter) = Pipeline::start(
            sink,
            &crate::pipeline::DeliveryOptions::default(),
            Arc::new(Redactor::new(
                crate::detect::Engine::builtin(&Default::default()).unwrap(),
                crate::token::Tokenizer::new(crate::token::Key::generate("k1")),
            )),
            metrics.clone(),
            shutdown.clone(),
        )
        .unwrap();

        let config = TailConfig {
            include: vec![GlobPattern::try_from(format!("{}/*.log", logs.display())).unwrap()],
            start_at: StartAt::Beginning,
            poll_interval_ms: 20,
            partial_line_timeout_ms: 100,
            ..TailConfig::default()
        };
        let tail = tokio::spawn(run(
            config,
            data_dir.to_path_buf(),
            pipeline,
            shutdown.clone(),
        ));
        Agent {
            accepted,
            shutdown,
            tail,
            metrics,
        }
    }

    impl Agent {
        /// Waits until `count` records arrived and returns their bodies.
        async fn receive(&mut self, count: usize) -> Vec<String> {
            let mut bodies = Vec::new();
            while bodies.len() < count {
                let request = tokio::time::timeout(Duration::from_secs(10), self.accepted.recv())
                    .await
                    .expect("timed out waiting for records")
                    .expect("collector stopped");
                check_request_shape(&request);
                let records = &request.resource_logs[0].scope_logs[0].log_records;
                bodies.extend(
                    records
                        .iter()
                        .map(|record| string_of(&record.body).to_string()),
                );
            }
            bodies
        }

        /// Asserts that nothing more arrives for a while.
        async fn expect_quiet(&mut self) {
            let next = tokio::time::timeout(Duration::from_millis(300), self.accepted.recv()).await;
            if let Ok(Some(request)) = next {
                panic!("unexpected records: {request:?}");
            }
        }

        async fn stop(self) -> Arc<Metrics> {
            self.shutdown.cancel();
            let result = tokio::time::timeout(Duration::from_secs(10), self.tail)
                .await
                .expect("run did not stop after shutdown")
                .unwrap();
            assert!(result.is_ok(), "{result:?}");
            self.metrics
        }
    }

    fn string_of(value: &Option<AnyValue>) -> &str {
        match value.as_ref().and_then(|value| value.value.as_ref()) {
            Some(Value::StringValue(text)) => text,
            other => panic!("expected a string value, got {other:?}"),
        }
    }

    fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> &'a str {
        let found = attributes.iter().find(|attribute| attribute.key == key);
        string_of(
            &found
                .unwrap_or_else(|| panic!("missing attribute {key}"))
                .value,
        )
    }

    fn check_request_shape(request: &ExportLogsServiceRequest) {
        assert_eq!(request.resource_logs.len(), 1);
        let scopes = &request.resource_logs[0].scope_logs;
        assert_eq!(scopes.len(), 1);
        assert_eq!(scopes[0].scope.as_ref().unwrap().name, "hush.tail");
        for record in &scopes[0].log_records {
            assert!(attribute(&record.attributes, "log.file.path").ends_with("/app.log"));
            assert_eq!(attribute(&record.attributes, "log.file.name"), "app.log");
            assert!(record.observed_time_unix_nano > 0);
            assert_eq!(record.time_unix_nano, 0);
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

    fn checkpoint_offsets(data_dir: &Path) -> Vec<u64> {
        let text = fs::read_to_string(data_dir.join(checkpoint::CHECKPOINT_FILE_NAME)).unwrap();
        let document: serde_json::Value = serde_json::from_str(&text).unwrap();
        document["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["offset"].as_u64().unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_delivers_and_resumes_after_restart() {
        let temp = tempfile::tempdir().unwrap();
        let logs = temp.path().join("logs");
        let data_dir = temp.path().join("data");
        fs::create_dir_all(&logs).unwrap();
        let path = logs.join("app.log");
        append(&path, b"one\r\ntwo\n");

        let mut agent = start_agent(&logs, &data_dir, 0).await;
        assert_eq!(agent.receive(2).await, vec!["one", "two"]);
        append(&path, b"three\nhalf");
        assert_eq!(agent.receive(2).await, vec!["three", "half"]);
        agent.expect_quiet().await;
        let metrics = agent.stop().await;

        assert_eq!(metrics.tail_lines_total.load(Ordering::Relaxed), 4);
        let length = fs::metadata(&path).unwrap().len();
        assert_eq!(checkpoint_offsets(&data_dir), vec![length]);

        // A restart sends only what was written since, and the line ending
        // of the flushed partial line makes no empty record.
        append(&path, b"\nfour\n");
        let mut agent = start_agent(&logs, &data_dir, 0).await;
        assert_eq!(agent.receive(1).await, vec!["four"]);
        agent.expect_quiet().await;
        agent.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rejected_batch_skipped_and_committed() {
        let temp = tempfile::tempdir().unwrap();
        let logs = temp.path().join("logs");
        let data_dir = temp.path().join("data");
        fs::create_dir_all(&logs).unwrap();
        let path = logs.join("app.log");
        append(&path, b"refused\n");

        let mut agent = start_agent(&logs, &data_dir, 1).await;
        // Wait until the first batch was rejected before writing more, so the
        // two lines cannot share a batch.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while agent
            .metrics
            .tail_lines_dropped_total
            .load(Ordering::Relaxed)
            == 0
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "batch never rejected"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        append(&path, b"accepted\n");

        assert_eq!(agent.receive(1).await, vec!["accepted"]);
        let metrics = agent.stop().await;
        assert_eq!(metrics.tail_lines_dropped_total.load(Ordering::Relaxed), 1);
        assert_eq!(checkpoint_offsets(&data_dir), vec![17]);
    }
}
