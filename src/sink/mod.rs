//! Where redacted batches go: a downstream OTLP collector over gRPC or
//! OTLP/HTTP, or standard output when none is configured.
//!
//! A sink reports each failure as transient (worth retrying, with the
//! downstream's hint of when), permanent (the downstream will never take
//! this batch) or fatal (the sink can take nothing any more); retrying is
//! the pipeline's job. A sink only ever receives batches that were already
//! redacted.

mod http;
mod otlp;
mod secure;
mod stdout;

use std::time::Duration;

pub use http::HttpSink;
pub use otlp::OtlpSink;
pub use stdout::StdoutSink;

use crate::config::{ExporterConfig, Protocol};
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

/// A downstream's answer to a batch it took: in full, or with some records
/// rejected (an OTLP partial success), which are not to be sent again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    pub rejected_records: u64,
    /// The downstream's explanation; empty when it gave none.
    pub message: String,
}

/// The configured sink.
pub enum Sink {
    Otlp(Box<OtlpSink>),
    Http(Box<HttpSink>),
    Stdout(StdoutSink),
}

impl Sink {
    /// Builds the sink the exporter configuration names, reading its
    /// certificates and header values. Connecting to a downstream is lazy,
    /// so an unreachable downstream does not stop the agent from starting.
    ///
    /// # Errors
    ///
    /// Fails when a certificate, key or header value cannot be read or is
    /// invalid. The message names the file or variable, never its content.
    pub fn from_config(config: &ExporterConfig) -> anyhow::Result<Sink> {
        let Some(otlp) = &config.otlp else {
            return Ok(Sink::Stdout(StdoutSink::new()));
        };
        match otlp.protocol {
            Protocol::Grpc => Ok(Sink::Otlp(Box::new(OtlpSink::new(otlp)?))),
            Protocol::HttpProtobuf => Ok(Sink::Http(Box::new(HttpSink::new(otlp)?))),
        }
    }

    /// Sends one batch.
    pub async fn export(&mut self, payload: &Payload) -> Result<Accepted, ExportError> {
        match self {
            Sink::Otlp(sink) => sink.export(payload).await,
            Sink::Http(sink) => sink.export(payload).await,
            Sink::Stdout(sink) => sink.export(payload),
        }
    }

    /// Flushes anything buffered, at shutdown.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Otlp(_) | Sink::Http(_) => Ok(()),
            Sink::Stdout(sink) => sink.flush(),
        }
    }
}
