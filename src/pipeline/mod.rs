//! Carries batches from the sources to the sink, redacting them on the way,
//! and carries each batch's acknowledgement back.
//!
//! A source calls [`Pipeline::deliver`] and awaits the result. The batch is
//! redacted on tokio's blocking pool, queued on a bounded channel, exported by
//! the single exporter task, and acknowledged only when the sink has
//! accepted it. Because the queue is bounded and every source waits for its
//! acknowledgement, a slow downstream slows the sources instead of growing
//! memory.
//!
//! Records are never queued unredacted: redaction happens before the batch
//! enters the queue, and a record whose redaction fails is dropped and
//! counted (see [`crate::redact::otlp`]).
//!
//! Sources that can tell their client to come back later (the OTLP
//! receivers) use [`Pipeline::try_deliver`], which fails at once with
//! [`DeliveryError::Busy`] when the queue is full instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::redact::Redactor;
use crate::redact::otlp::{
    data_point_count, redact_logs_request, redact_metrics_request, redact_traces_request,
};
use crate::sink::{ExportError, Sink};
use crate::telemetry::Metrics;

/// Batches waiting for the exporter. Each source waits for its own batch,
/// so this bounds memory to this many batches plus one per source.
const QUEUE_CAPACITY: usize = 16;

/// First wait before a failed export is retried; it doubles up to
/// [`MAX_RETRY_DELAY`], with up to 50% random jitter added.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// A batch of telemetry in OTLP form.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Logs(ExportLogsServiceRequest),
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl Payload {
    /// Counts the log records, spans or metric data points in the batch.
    pub fn record_count(&self) -> usize {
        match self {
            Payload::Logs(request) => request
                .resource_logs
                .iter()
                .flat_map(|resource| &resource.scope_logs)
                .map(|scope| scope.log_records.len())
                .sum(),
            Payload::Traces(request) => request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum(),
            Payload::Metrics(request) => request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
                .map(data_point_count)
                .sum(),
        }
    }
}

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
    /// The downstream rejected the batch as invalid; sending it again will
    /// not help.
    #[error("the downstream rejected the batch: {0}")]
    Rejected(String),
    /// The queue was full, so the batch may be sent again later. Only
    /// [`Pipeline::try_deliver`] returns this.
    #[error("the export queue is full")]
    Busy,
}

struct Job {
    payload: Payload,
    acknowledgement: oneshot::Sender<Result<(), DeliveryError>>,
}

impl Job {
    fn new(payload: Payload) -> (Job, oneshot::Receiver<Result<(), DeliveryError>>) {
        let (acknowledgement, acknowledged) = oneshot::channel();
        let job = Job {
            payload,
            acknowledgement,
        };
        (job, acknowledged)
    }
}

/// The sending side of the pipeline, shared by all sources.
#[derive(Clone)]
pub struct Pipeline {
    queue: mpsc::Sender<Job>,
    redactor: Arc<Redactor>,
    metrics: Arc<Metrics>,
}

impl Pipeline {
    /// Starts the exporter task and returns the pipeline that feeds it.
    ///
    /// The exporter stops when `shutdown` is cancelled: batches still queued
    /// get [`DeliveryError::ShuttingDown`], so no source
    /// commits them. When the sink fails for good ([`ExportError::Fatal`]),
    /// the exporter cancels `shutdown` itself and its task returns the
    /// error.
    pub fn start(
        sink: Sink,
        redactor: Arc<Redactor>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> (Pipeline, tokio::task::JoinHandle<Result<(), String>>) {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let exporter = tokio::spawn(run_exporter(sink, jobs, metrics.clone(), shutdown));
        let pipeline = Pipeline {
            queue,
            redactor,
            metrics,
        };
        (pipeline, exporter)
    }

    /// Redacts `payload`, queues it for export and waits until the sink has
    /// accepted it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes does not lose the batch if it
    /// was already queued: it is still exported, but no caller learns the result.
    pub async fn deliver(&self, payload: Payload) -> Result<(), DeliveryError> {
        let (payload, _dropped) = self.redact(payload).await?;
        let (job, acknowledged) = Job::new(payload);
        self.queue
            .send(job)
            .await
            .map_err(|_| DeliveryError::ShuttingDown)?;
        acknowledged
            .await
            .unwrap_or(Err(DeliveryError::ShuttingDown))
    }

    /// Like [`Pipeline::deliver`], but returns [`DeliveryError::Busy`] at
    /// once when the queue has no free slot, so the caller can ask its
    /// client to retry later. The slot is reserved before redaction starts.
    /// A batch whose every record failed redaction is not queued.
    pub async fn try_deliver(&self, payload: Payload) -> Result<Delivered, DeliveryError> {
        let slot = self.queue.try_reserve().map_err(|err| match err {
            TrySendError::Full(()) => DeliveryError::Busy,
            TrySendError::Closed(()) => DeliveryError::ShuttingDown,
        })?;

        let (payload, dropped_records) = self.redact(payload).await?;
        let delivered = Delivered { dropped_records };
        if dropped_records > 0 && payload.record_count() == 0 {
            return Ok(delivered);
        }

        let (job, acknowledged) = Job::new(payload);
        slot.send(job);
        acknowledged
            .await
            .unwrap_or(Err(DeliveryError::ShuttingDown))
            .map(|()| delivered)
    }

    /// Redacts a batch and returns it with the number of records dropped
    /// because their redaction failed.
    async fn redact(&self, payload: Payload) -> Result<(Payload, usize), DeliveryError> {
        // Redaction is CPU work that a hostile record can make long, so it
        // runs on the blocking pool, and the runtime's workers stay free for
        // the receivers, the metrics endpoint and the exporter.
        let redactor = self.redactor.clone();
        let redacted = tokio::task::spawn_blocking(move || {
            let mut payload = payload;
            let dropped = match &mut payload {
                Payload::Logs(request) => redact_logs_request(&redactor, request),
                Payload::Traces(request) => redact_traces_request(&redactor, request),
                Payload::Metrics(request) => redact_metrics_request(&redactor, request),
            };
            (payload, dropped)
        })
        .await;
        let Ok((payload, dropped)) = redacted else {
            // The task panicked outside the per-record guards, or the runtime
            // is going away; either way nothing of this batch is sent.
            Metrics::inc(&self.metrics.records_redaction_failed_total);
            return Err(DeliveryError::ShuttingDown);
        };
        let records = payload.record_count() as u64;
        Metrics::add(&self.metrics.records_redacted_total, records);
        Metrics::add(&self.metrics.records_redaction_failed_total, dropped as u64);
        Ok((payload, dropped))
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

async fn run_exporter(
    mut sink: Sink,
    mut jobs: mpsc::Receiver<Job>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let mut fatal = None;
    loop {
        let job = tokio::select! {
            job = jobs.recv() => job,
            () = shutdown.cancelled() => None,
        };
        let Some(job) = job else { break };

        let result = match export_with_retries(&mut sink, &job.payload, &metrics, &shutdown).await {
            Err(ExportOutcome::Fatal(message)) => {
                tracing::error!(error = %message, "the sink failed for good, stopping the agent");
                let _ = job.acknowledgement.send(Err(DeliveryError::ShuttingDown));
                fatal = Some(message);
                shutdown.cancel();
                break;
            }
            Err(ExportOutcome::Delivery(err)) => Err(err),
            Ok(()) => Ok(()),
        };
        if result.is_ok() {
            Metrics::inc(&metrics.export_batches_total);
            Metrics::add(
                &metrics.export_records_total,
                job.payload.record_count() as u64,
            );
        }
        let _ = job.acknowledgement.send(result);
    }

    // Reply to every batch still queued, so its source knows it was not sent.
    jobs.close();
    while let Some(job) = jobs.recv().await {
        let _ = job.acknowledgement.send(Err(DeliveryError::ShuttingDown));
    }
    if let Err(err) = sink.flush().await {
        tracing::warn!(error = %err, "failed to flush the sink at shutdown");
    }
    match fatal {
        Some(message) => Err(message),
        None => Ok(()),
    }
}

/// The reason an export ended without success.
enum ExportOutcome {
    Delivery(DeliveryError),
    Fatal(String),
}

/// Exports one batch, retrying transient failures with exponential backoff
/// until it succeeds, the downstream rejects it, or the agent shuts down.
async fn export_with_retries(
    sink: &mut Sink,
    payload: &Payload,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<(), ExportOutcome> {
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt: u32 = 1;
    loop {
        let error = match sink.export(payload).await {
            Ok(()) => return Ok(()),
            Err(ExportError::Permanent(message)) => {
                Metrics::inc(&metrics.export_batches_dropped_total);
                tracing::error!(error = %message, "downstream rejected a batch, dropping it");
                return Err(ExportOutcome::Delivery(DeliveryError::Rejected(message)));
            }
            Err(ExportError::Fatal(message)) => return Err(ExportOutcome::Fatal(message)),
            Err(ExportError::Transient {
                message,
                retry_after,
            }) => {
                delay = retry_after.unwrap_or(delay).min(MAX_RETRY_DELAY);
                message
            }
        };

        Metrics::inc(&metrics.export_retries_total);
        let wait = with_jitter(delay);
        tracing::warn!(
            error = %error,
            attempt,
            retry_in_ms = wait.as_millis() as u64,
            "export failed, retrying"
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => {
                return Err(ExportOutcome::Delivery(DeliveryError::ShuttingDown));
            }
        }
        delay = (delay * 2).min(MAX_RETRY_DELAY);
        attempt = attempt.saturating_add(1);
    }
}

/// Adds up to 50% random jitter, so agents that lost the same downstream do
/// not all retry at the same instant.
fn with_jitter(delay: Duration) -> Duration {
    let mut bytes = [0u8; 2];
    let random = match getrandom::fill(&mut bytes) {
        Ok(()) => u16::from_le_bytes(bytes),
        Err(_) => 0,
    };
    let fraction = f64::from(random) / f64::from(u16::MAX) / 2.0;
    delay + delay.mul_f64(fraction)
}
