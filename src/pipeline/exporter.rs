//! The exporter task: takes queued batches in order, combines them into
//! export requests within the batch limits, sends each request with
//! retries, and replies to every batch's source.
//!
//! Retries follow the OTLP specification: only failures the sink reports
//! as transient are retried, with exponential backoff and jitter, and never
//! sooner than the downstream's own hint (gRPC `RetryInfo`, HTTP
//! `Retry-After`). There is no retry limit: a batch is retried until the
//! downstream answers or the agent stops, because dropping it would lose
//! data that a source was told is on its way.
//!
//! Batches of different signals are never combined; a batch of another
//! signal closes the request being filled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::disk_queue::{DiskQueue, Position};
use super::payload::{Payload, SizeLimits};
use super::{DeliveryError, Entry, Ticket};
use crate::sink::{Accepted, ExportError, Sink};
use crate::telemetry::Metrics;

/// Maximum wait the exporter takes from a downstream's hint. A longer hint
/// is shortened to this, so a wrong hint cannot stall delivery for hours.
const MAX_HINTED_DELAY: Duration = Duration::from_secs(300);

/// Maximum length of a downstream message quoted in a log line, in bytes.
const MAX_QUOTED_MESSAGE: usize = 256;

#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
}

pub(super) struct Exporter {
    pub sink: Sink,
    pub limits: SizeLimits,
    pub max_delay: Duration,
    pub retry: RetryPolicy,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    /// The disk queue whose records the entries come from, if any.
    pub disk: Option<Arc<DiskQueue>>,
}

/// The reason an export ended without success.
enum ExportOutcome {
    Delivery(DeliveryError),
    Fatal(String),
}

impl Exporter {
    /// Exports until the agent stops or the sink fails for good.
    pub async fn run(mut self, mut entries: mpsc::Receiver<Entry>) -> Result<(), String> {
        let mut carried: Option<Entry> = None;
        let mut fatal = None;
        loop {
            let first = match carried.take() {
                Some(entry) => entry,
                None => {
                    let next = tokio::select! {
                        entry = entries.recv() => entry,
                        () = self.shutdown.cancelled() => None,
                    };
                    let Some(entry) = next else { break };
                    entry
                }
            };

            let batch = self.collect(first, &mut entries, &mut carried).await;
            match self.export_batch(batch).await {
                Ok(()) => {}
                Err(ExportOutcome::Fatal(message)) => {
                    tracing::error!(error = %message, "the sink failed for good, stopping the agent");
                    fatal = Some(message);
                    self.shutdown.cancel();
                    break;
                }
                Err(ExportOutcome::Delivery(_)) => break,
            }
        }

        // Reply to every batch still queued in memory, so its source learns
        // that it was not sent. Batches from the disk queue stay on disk.
        let mut unsent: Vec<Entry> = carried.into_iter().collect();
        entries.close();
        while let Some(entry) = entries.recv().await {
            unsent.push(entry);
        }
        self.resolve(unsent, Err(DeliveryError::ShuttingDown)).await;
        if let Err(err) = self.sink.flush().await {
            tracing::warn!(error = %err, "failed to flush the sink at shutdown");
        }
        match fatal {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    /// Adds queued batches to `first` until a limit is reached, the batch
    /// has waited `max_delay`, or a batch of another signal comes, which is
    /// put in `carried` for the next request.
    async fn collect(
        &self,
        first: Entry,
        entries: &mut mpsc::Receiver<Entry>,
        carried: &mut Option<Entry>,
    ) -> Vec<Entry> {
        let signal = first.payload.signal();
        let mut records = first.records;
        let mut bytes = first.bytes;
        let mut batch = vec![first];
        let deadline = Instant::now() + self.max_delay;

        while records < self.limits.max_records && bytes < self.limits.max_bytes {
            // Batches already queued are taken without waiting; then the
            // batch waits for more until its deadline.
            let next = match entries.try_recv() {
                Ok(entry) => Some(entry),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) if self.max_delay.is_zero() => None,
                Err(mpsc::error::TryRecvError::Empty) => tokio::select! {
                    entry = entries.recv() => entry,
                    () = tokio::time::sleep_until(deadline) => None,
                    () = self.shutdown.cancelled() => None,
                },
            };
            let Some(entry) = next else { break };

            let fits = entry.payload.signal() == signal
                && records + entry.records <= self.limits.max_records
                && bytes + entry.bytes <= self.limits.max_bytes;
            if !fits {
                *carried = Some(entry);
                break;
            }
            records += entry.records;
            bytes += entry.bytes;
            batch.push(entry);
        }
        batch
    }

    /// Sends the batches of `batch` as one request, or as several when the
    /// batch alone exceeds the limits, and replies to their sources.
    async fn export_batch(&mut self, batch: Vec<Entry>) -> Result<(), ExportOutcome> {
        let records: usize = batch.iter().map(|entry| entry.records).sum();
        let bytes: usize = batch.iter().map(|entry| entry.bytes).sum();
        let mut tickets = Vec::with_capacity(batch.len());
        let mut combined: Option<Payload> = None;
        for entry in batch {
            tickets.push(entry.ticket);
            match &mut combined {
                None => combined = Some(entry.payload),
                Some(payload) => {
                    // `collect` takes only batches of one signal.
                    let _ = payload.append(entry.payload);
                }
            }
        }
        let Some(payload) = combined else {
            return Ok(());
        };

        let over_limits = records > self.limits.max_records || bytes > self.limits.max_bytes;
        let requests = match over_limits {
            true => payload.split(self.limits),
            false => vec![payload],
        };

        // A rejected request does not stop the others: they may be valid,
        // and the sources learn about the rejection either way.
        let mut result = Ok(());
        for request in &requests {
            match self.export_with_retries(request).await {
                Ok(()) => {}
                Err(ExportOutcome::Delivery(DeliveryError::Rejected(message))) => {
                    result = Err(DeliveryError::Rejected(message));
                }
                Err(ExportOutcome::Delivery(err)) => {
                    self.resolve_tickets(tickets, Err(err.clone())).await;
                    return Err(ExportOutcome::Delivery(err));
                }
                Err(ExportOutcome::Fatal(message)) => {
                    self.resolve_tickets(tickets, Err(DeliveryError::ShuttingDown))
                        .await;
                    return Err(ExportOutcome::Fatal(message));
                }
            }
        }
        self.resolve_tickets(tickets, result).await;
        Ok(())
    }

    async fn resolve(&self, entries: Vec<Entry>, result: Result<(), DeliveryError>) {
        let tickets = entries.into_iter().map(|entry| entry.ticket).collect();
        self.resolve_tickets(tickets, result).await;
    }

    /// Replies to the sources waiting in memory, and tells the disk queue to
    /// forget stored batches the downstream has accepted or rejected.
    async fn resolve_tickets(&self, tickets: Vec<Ticket>, result: Result<(), DeliveryError>) {
        let mut stored_end: Option<Position> = None;
        let mut stored = 0u64;
        for ticket in tickets {
            match ticket {
                Ticket::Waiting(sender) => {
                    let _ = sender.send(result.clone());
                    let _ = self.metrics.gauges.queue_batches.fetch_update(
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                        |count| Some(count.saturating_sub(1)),
                    );
                }
                Ticket::Stored(end) => {
                    stored_end = Some(stored_end.map_or(end, |known| known.max(end)));
                    stored += 1;
                }
            }
        }

        // A stored batch the agent failed to send because it is stopping
        // stays on disk and is sent after the next start.
        let answered = !matches!(result, Err(DeliveryError::ShuttingDown));
        if let (Some(end), Some(queue), true) = (stored_end, &self.disk, answered) {
            let queue = queue.clone();
            let _ = tokio::task::spawn_blocking(move || queue.acknowledge(end, stored)).await;
        }
    }

    /// Exports one request, retrying transient failures until it succeeds,
    /// the downstream rejects it, or the agent shuts down.
    async fn export_with_retries(&mut self, payload: &Payload) -> Result<(), ExportOutcome> {
        let mut backoff = self.retry.first;
        let mut attempt: u32 = 1;
        loop {
            let (error, hint) = match self.sink.export(payload).await {
                Ok(accepted) => {
                    self.count_accepted(payload, &accepted);
                    return Ok(());
                }
                Err(ExportError::Permanent(message)) => {
                    Metrics::inc(&self.metrics.export_batches_dropped_total);
                    tracing::error!(
                        error = %quote(&message),
                        records = payload.record_count(),
                        signal = payload.signal().name(),
                        "downstream rejected a batch, dropping it"
                    );
                    return Err(ExportOutcome::Delivery(DeliveryError::Rejected(message)));
                }
                Err(ExportError::Fatal(message)) => return Err(ExportOutcome::Fatal(message)),
                Err(ExportError::Transient {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };

            // Never sooner than the downstream asked, and never sooner than
            // the backoff, so a downstream that hints "now" is not hammered.
            let jittered = with_jitter(backoff);
            let wait = match hint {
                Some(hint) => hint.min(MAX_HINTED_DELAY).max(jittered),
                None => jittered,
            };
            Metrics::inc(&self.metrics.export_retries_total);
            tracing::warn!(
                error = %quote(&error),
                attempt,
                retry_in_ms = wait.as_millis() as u64,
                downstream_hint_ms = hint.map(|hint| hint.as_millis() as u64),
                "export failed, retrying"
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shutdown.cancelled() => {
                    return Err(ExportOutcome::Delivery(DeliveryError::ShuttingDown));
                }
            }
            backoff = (backoff * 2).min(self.retry.max);
            attempt = attempt.saturating_add(1);
        }
    }

    fn count_accepted(&self, payload: &Payload, accepted: &Accepted) {
        let records = payload.record_count() as u64;
        Metrics::inc(&self.metrics.export_batches_total);
        Metrics::add(
            &self.metrics.export_records_total,
            records.saturating_sub(accepted.rejected_records),
        );
        if accepted.rejected_records > 0 || !accepted.message.is_empty() {
            Metrics::add(
                &self.metrics.export_records_rejected_total,
                accepted.rejected_records,
            );
            tracing::warn!(
                rejected = accepted.rejected_records,
                records,
                signal = payload.signal().name(),
                message = %quote(&accepted.message),
                "downstream accepted the batch only in part; the rejected records are not retried"
            );
        }
    }
}

/// Shortens a downstream's message for a log line.
fn quote(message: &str) -> &str {
    if message.len() <= MAX_QUOTED_MESSAGE {
        return message;
    }
    let mut end = MAX_QUOTED_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
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
