//! The file tailing source: follows log files matched by globs, sends their
//! lines to the pipeline as OTLP log records, and saves how far each file
//! was delivered, so a restart neither loses nor repeats a line.
//!
//! Parts:
//! - [`discover`] finds the files matching the include and exclude globs;
//! - [`file`] identifies a file (device, inode, fingerprint) and reads it;
//! - [`framer`] cuts the bytes into lines;
//! - [`batch`] builds the OTLP request;
//! - [`checkpoint`] saves the acknowledged offsets;
//! - [`tailer`] ties them into the steps of one turn of the loop below.
//!
//! Delivery is at least once. One batch is in flight for the whole tailer,
//! and nothing more is read until the pipeline answers, so a slow
//! downstream slows reading and memory stays bounded by one batch plus one
//! read buffer per open file. A file's offset advances only when its batch
//! is acknowledged, so only the batch in flight at a crash is sent again.
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
//! has more data than one batch is read again at once.
//!
//! This source never logs line content, only paths, offsets and counts.

pub mod batch;
pub mod checkpoint;
pub mod discover;
pub mod file;
pub mod framer;
pub mod tailer;

use std::path::PathBuf;
use std::time::Instant;

use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio_util::sync::CancellationToken;

use self::tailer::Tailer;
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
/// the pipeline is waited for, which the pipeline answers promptly once it
/// is shutting down itself; dropping the future instead skips the last
/// checkpoint write, so up to the last second of lines is sent again after
/// a restart.
pub async fn run(
    config: TailConfig,
    data_dir: PathBuf,
    pipeline: Pipeline,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if config.include.is_empty() {
        tracing::info!("no tail.include patterns, file tailing is off");
        shutdown.cancelled().await;
        return Ok(());
    }

    let metrics = pipeline.metrics().clone();
    let poll_interval = config.poll_interval();
    let max_batch_lines = config.max_batch_lines.max(1);
    let mut tailer = on_blocking_thread(move || Tailer::new(config, &data_dir, metrics))
        .await
        .and_then(|result| result)?;
    let resource = batch::host_resource();

    while !shutdown.is_cancelled() {
        let (returned, batch) = on_blocking_thread(move || {
            let batch = tailer.step(Instant::now());
            (tailer, batch)
        })
        .await?;
        tailer = returned;

        let full = batch.len() >= max_batch_lines;
        if !batch.is_empty() {
            let delivered = deliver(&pipeline, &resource, &mut tailer, batch).await;
            if !delivered {
                break;
            }
        }

        if !full {
            tokio::select! {
                () = tokio::time::sleep(poll_interval) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    let (_, written) = on_blocking_thread(move || {
        let written = tailer.write_checkpoints();
        (tailer, written)
    })
    .await?;
    tracing::info!(checkpoints_written = written, "file tailing stopped");
    Ok(())
}

/// Sends one batch and commits its offsets unless the agent is shutting
/// down. Returns false if the loop must stop.
async fn deliver(
    pipeline: &Pipeline,
    resource: &Resource,
    tailer: &mut Tailer,
    batch: batch::Batch,
) -> bool {
    let offsets = batch.offsets().to_vec();
    let lines = batch.len() as u64;

    match pipeline.deliver(batch.into_payload(resource)).await {
        Ok(()) => {
            tailer.commit(&offsets);
            true
        }
        Err(DeliveryError::Rejected(message)) => {
            // Sending the same lines again would be rejected again and stall
            // every file behind them, so they are skipped.
            Metrics::add(&pipeline.metrics().tail_lines_dropped_total, lines);
            tracing::warn!(error = %message, lines, "downstream rejected tailed lines, skipping them");
            tailer.commit(&offsets);
            true
        }
        Err(DeliveryError::ShuttingDown) => false,
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
