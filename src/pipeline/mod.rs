//! Carries batches from the sources to the sink, redacting them on the way,
//! and carries each batch's acknowledgement back.
//!
//! A source calls [`Pipeline::deliver`] (or [`Pipeline::try_deliver`]) and
//! awaits the result. The batch is redacted on tokio's blocking pool, then
//! queued:
//!
//! - In the memory queue (the default), a bounded channel, the batch is
//!   acknowledged only when the downstream has accepted it.
//! - In the disk queue ([`disk_queue`]), the batch is acknowledged once its
//!   record is synced to disk, and the exporter sends it from there, also
//!   after a restart.
//!
//! The single exporter task ([`exporter`]) combines queued batches into
//! export requests within the configured limits, splits batches that are
//! too large, and retries failures with backoff and the downstream's own
//! hints. Because both queues are bounded and every source waits for its
//! acknowledgement, a slow downstream slows the sources instead of growing
//! memory. When a queue is full, [`Pipeline::deliver`] waits for room (the
//! tail sources use it) and [`Pipeline::try_deliver`] fails at once with
//! [`DeliveryError::QueueFull`], which receivers turn into a retryable
//! error for their client.
//!
//! Records are never queued unredacted, in memory or on disk: redaction
//! happens before the batch enters a queue, and a record whose redaction
//! fails is dropped and counted (see [`crate::redact::otlp`]).

mod disk_queue;
mod exporter;
mod payload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use disk_queue::WhenFull;
pub use payload::{Nested, Payload, Signal, SizeLimits};

use crate::config::{ExporterConfig, QueueConfig};
use crate::redact::Redactor;
use crate::redact::otlp::{redact_logs_request, redact_metrics_request, redact_traces_request};
use crate::sink::Sink;
use crate::telemetry::Metrics;
use disk_queue::DiskQueue;
use exporter::{Exporter, RetryPolicy};

/// The outcome of a batch that the sink accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivered {
    /// Records (log records, spans or data points) left out because
    /// redacting them failed.
    pub dropped_records: usize,
}

/// The reason a batch was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The agent is shutting down; the batch may be sent again later.
    #[error("the agent is shutting down")]
    ShuttingDown,
    /// The queue has no room now; the batch may be sent again later. Only
    /// [`Pipeline::try_deliver`] returns it.
    #[error("the delivery queue is full; retry later")]
    QueueFull,
    /// The disk queue failed to store the batch; it may be sent again
    /// later.
    #[error("the delivery queue failed to store the batch: {0}")]
    StorageFailed(String),
    /// The downstream rejected the batch as invalid, or the batch can never
    /// fit the queue; sending it again will not help.
    #[error("the downstream rejected the batch: {0}")]
    Rejected(String),
}

impl DeliveryError {
    /// Reports whether sending the same batch again later can succeed, so
    /// a receiver can reply to its client with a retryable error.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, DeliveryError::Rejected(_))
    }
}

/// A batch in a queue, with what its source is waiting for.
pub(crate) struct Entry {
    pub payload: Payload,
    pub records: usize,
    /// Encoded size, the measure of the batch limits.
    pub bytes: usize,
    pub ticket: Ticket,
}

/// The route by which an export's result reaches the batch's source.
pub(crate) enum Ticket {
    /// The source waits for the downstream's reply.
    Waiting(oneshot::Sender<Result<(), DeliveryError>>),
    /// The source was acknowledged when the batch reached the disk queue.
    /// The queue forgets the batch, which ends at this position, once the
    /// downstream has replied.
    Stored(disk_queue::Position),
}

/// Queue, batch and retry settings, built from the `exporter` section of
/// the configuration.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    pub limits: SizeLimits,
    pub max_delay: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub queue: QueueOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOptions {
    Memory { max_batches: usize },
    Disk { dir: PathBuf, max_bytes: u64 },
}

impl DeliveryOptions {
    /// Reads the options from the configuration. A disk queue without a
    /// `dir` lives in `data_dir/queue`.
    pub fn from_config(config: &ExporterConfig, data_dir: &Path) -> DeliveryOptions {
        let queue = match &config.queue {
            QueueConfig::Memory { max_batches } => QueueOptions::Memory {
                max_batches: *max_batches,
            },
            QueueConfig::Disk { dir, max_bytes } => QueueOptions::Disk {
                dir: dir.clone().unwrap_or_else(|| data_dir.join("queue")),
                max_bytes: *max_bytes,
            },
        };
        DeliveryOptions {
            limits: SizeLimits {
                max_records: config.batch.max_records,
                max_bytes: config.batch.max_bytes,
            },
            max_delay: config.batch.max_delay(),
            first_backoff: Duration::from_millis(config.retry.initial_backoff_ms),
            max_backoff: Duration::from_millis(config.retry.max_backoff_ms),
            queue,
        }
    }
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions::from_config(&ExporterConfig::default(), Path::new("."))
    }
}

#[derive(Clone)]
enum Queue {
    Memory(mpsc::Sender<Entry>),
    Disk(Arc<DiskQueue>),
}

/// The sending side of the pipeline, shared by all sources.
#[derive(Clone)]
pub struct Pipeline {
    queue: Queue,
    redactor: Arc<Redactor>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

impl Pipeline {
    /// Opens the queue, starts the exporter task and returns the pipeline
    /// that feeds it.
    ///
    /// The exporter stops when `shutdown` is cancelled: batches still in
    /// the memory queue get [`DeliveryError::ShuttingDown`], so no source
    /// commits them, and batches in the disk queue stay there for the next
    /// start. When the sink fails for good ([`crate::sink::ExportError::Fatal`]),
    /// the exporter cancels `shutdown` itself and its task returns the
    /// error.
    ///
    /// # Errors
    ///
    /// Fails when the disk queue cannot be opened.
    pub fn start(
        sink: Sink,
        options: &DeliveryOptions,
        redactor: Arc<Redactor>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(Pipeline, tokio::task::JoinHandle<Result<(), String>>)> {
        let (queue, entries, disk) = match &options.queue {
            QueueOptions::Memory { max_batches } => {
                let (sender, entries) = mpsc::channel((*max_batches).max(1));
                (Queue::Memory(sender), entries, None)
            }
            QueueOptions::Disk { dir, max_bytes } => {
                let (queue, entries) =
                    DiskQueue::open(dir, *max_bytes, metrics.clone(), shutdown.clone())?;
                let queue = Arc::new(queue);
                (Queue::Disk(queue.clone()), entries, Some(queue))
            }
        };
        let exporter = Exporter {
            sink,
            limits: options.limits,
            max_delay: options.max_delay,
            retry: RetryPolicy {
                first: options.first_backoff,
                max: options.max_backoff,
            },
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            disk,
        };
        let task = tokio::spawn(exporter.run(entries));
        let pipeline = Pipeline {
            queue,
            redactor,
            metrics,
            shutdown,
        };
        Ok((pipeline, task))
    }

    /// Redacts `payload`, queues it for export and waits until it is
    /// delivered: accepted by the downstream, or stored in the disk queue.
    /// When the queue is full, waits for room.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes does not lose the batch if it
    /// was already queued: it is still exported, but no caller learns the result.
    pub async fn deliver(&self, payload: Payload) -> Result<(), DeliveryError> {
        self.deliver_when_full(payload, WhenFull::Wait)
            .await
            .map(|_| ())
    }

    /// Like [`Pipeline::deliver`], but fails at once with
    /// [`DeliveryError::QueueFull`] when the queue has no room, so that a
    /// receiver can ask its client to retry instead of holding the request.
    /// The result tells how many records were dropped because their
    /// redaction failed, for the receiver's partial-success answer.
    pub async fn try_deliver(&self, payload: Payload) -> Result<Delivered, DeliveryError> {
        self.deliver_when_full(payload, WhenFull::Reject).await
    }

    async fn deliver_when_full(
        &self,
        payload: Payload,
        when_full: WhenFull,
    ) -> Result<Delivered, DeliveryError> {
        let encode = matches!(self.queue, Queue::Disk(_));
        let redacted = self.redact(payload, encode).await?;
        let delivered = Delivered {
            dropped_records: redacted.failed,
        };
        if redacted.failed > 0 && redacted.records == 0 {
            return Ok(delivered);
        }

        let queued = match &self.queue {
            Queue::Memory(sender) => self.queue_in_memory(sender, redacted, when_full).await,
            Queue::Disk(queue) => self.store_on_disk(queue, redacted, when_full).await,
        };
        queued.map(|()| delivered)
    }

    /// Redacts on the blocking pool, and encodes for the disk queue there
    /// too, since both are CPU work.
    async fn redact(&self, payload: Payload, encode: bool) -> Result<Redacted, DeliveryError> {
        // Redaction is CPU work that a hostile record can make long, so it
        // runs on the blocking pool, and the runtime's workers stay free for
        // the receivers, the metrics endpoint and the exporter.
        let redactor = self.redactor.clone();
        let redacted = tokio::task::spawn_blocking(move || {
            let mut payload = payload;
            let failed = match &mut payload {
                Payload::Logs(request) => redact_logs_request(&redactor, request),
                Payload::Traces(request) => redact_traces_request(&redactor, request),
                Payload::Metrics(request) => redact_metrics_request(&redactor, request),
            };
            let encoded = encode.then(|| payload.encode_tagged());
            let bytes = match &encoded {
                Some(encoded) => encoded.len(),
                None => payload.encoded_len(),
            };
            Redacted {
                records: payload.record_count(),
                payload,
                bytes,
                encoded,
                failed,
            }
        })
        .await;
        let Ok(redacted) = redacted else {
            // The task panicked outside the per-record guards, or the runtime
            // is going away; either way nothing of this batch is sent.
            Metrics::inc(&self.metrics.records_redaction_failed_total);
            return Err(DeliveryError::ShuttingDown);
        };
        Metrics::add(
            &self.metrics.records_redacted_total,
            redacted.records as u64,
        );
        Metrics::add(
            &self.metrics.records_redaction_failed_total,
            redacted.failed as u64,
        );
        Ok(redacted)
    }

    async fn queue_in_memory(
        &self,
        sender: &mpsc::Sender<Entry>,
        redacted: Redacted,
        when_full: WhenFull,
    ) -> Result<(), DeliveryError> {
        let (acknowledgement, acknowledged) = oneshot::channel();
        let entry = Entry {
            payload: redacted.payload,
            records: redacted.records,
            bytes: redacted.bytes,
            ticket: Ticket::Waiting(acknowledgement),
        };
        // Counted before the send, because the exporter may take the batch
        // off the gauge as soon as it is queued.
        let waiting = &self.metrics.gauges.queue_batches;
        waiting.fetch_add(1, Ordering::Relaxed);
        let queued = match when_full {
            WhenFull::Wait => sender
                .send(entry)
                .await
                .map_err(|_| DeliveryError::ShuttingDown),
            WhenFull::Reject => sender.try_send(entry).map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => {
                    Metrics::inc(&self.metrics.queue_full_total);
                    DeliveryError::QueueFull
                }
                mpsc::error::TrySendError::Closed(_) => DeliveryError::ShuttingDown,
            }),
        };
        if let Err(err) = queued {
            waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(err);
        }
        acknowledged
            .await
            .unwrap_or(Err(DeliveryError::ShuttingDown))
    }

    async fn store_on_disk(
        &self,
        queue: &DiskQueue,
        redacted: Redacted,
        when_full: WhenFull,
    ) -> Result<(), DeliveryError> {
        let record = redacted
            .encoded
            .expect("batches for the disk queue are encoded");
        if when_full == WhenFull::Reject {
            return queue.append(record, when_full).await;
        }

        // A source that waits (a tail) keeps its batch through storage
        // errors, such as a full file system, until the agent stops.
        let mut wait = Duration::from_millis(100);
        loop {
            match queue.append(record.clone(), when_full).await {
                Err(DeliveryError::StorageFailed(_)) => {}
                result => return result,
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shutdown.cancelled() => return Err(DeliveryError::ShuttingDown),
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

/// A redacted batch with what the queue needs to know about it.
struct Redacted {
    payload: Payload,
    records: usize,
    bytes: usize,
    /// The batch as a disk queue record, when the queue is on disk.
    encoded: Option<Vec<u8>>,
    failed: usize,
}
