//! Where redacted batches go: a downstream OTLP/gRPC collector, or standard
//! output when none is configured.
//!
//! A sink reports each failure as transient (worth retrying) or permanent
//! (the downstream will never take this batch); retrying is the pipeline's
//! job. A sink only ever receives batches that were already redacted.

mod otlp;
mod stdout;

use std::time::Duration;

pub use otlp::OtlpSink;
pub use stdout::StdoutSink;

use crate::config::ExporterConfig;
use crate::pipeline::Payload;

/// The reason an export failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// The downstream may accept the batch later: it is unreachable, busy or
    /// timed out. `retry_after` is the downstream's own hint, if it gave one.
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The downstream rejected the batch itself; retrying cannot succeed.
    Permanent(String),
    /// The sink can take no batch at all any more, such as standard output
    /// after its reader went away. The agent stops rather than drop data.
    Fatal(String),
}

/// The configured sink.
pub enum Sink {
    Otlp(Box<OtlpSink>),
    Stdout(StdoutSink),
}

impl Sink {
    /// Builds the sink the exporter configuration names. Connecting to a
    /// downstream is lazy, so an unreachable downstream does not stop the
    /// agent from starting.
    pub fn from_config(config: &ExporterConfig) -> anyhow::Result<Sink> {
        match &config.otlp {
            Some(otlp) => Ok(Sink::Otlp(Box::new(OtlpSink::new(otlp)?))),
            None => Ok(Sink::Stdout(StdoutSink::new())),
        }
    }

    /// Sends one batch.
    pub async fn export(&mut self, payload: &Payload) -> Result<(), ExportError> {
        match self {
            Sink::Otlp(sink) => sink.export(payload).await,
            Sink::Stdout(sink) => sink.export(payload),
        }
    }

    /// Flushes anything buffered, at shutdown.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Otlp(_) => Ok(()),
            Sink::Stdout(sink) => sink.flush(),
        }
    }
}
