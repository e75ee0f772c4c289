//! Writes each batch to standard output as one line of OTLP JSON, so the
//! agent is useful with nothing else installed and its output can be piped
//! into `jq`.
//!
//! The JSON is the `serde` form of the OTLP protobuf messages from
//! `opentelemetry-proto`: camelCase field names, trace and span ids in hex.

use std::io::Write;

use super::{Accepted, ExportError};
use crate::pipeline::Payload;

pub struct StdoutSink {
    out: std::io::Stdout,
}

impl Default for StdoutSink {
    fn default() -> Self {
        StdoutSink::new()
    }
}

impl StdoutSink {
    pub fn new() -> StdoutSink {
        StdoutSink {
            out: std::io::stdout(),
        }
    }

    pub fn export(&mut self, payload: &Payload) -> Result<Accepted, ExportError> {
        let mut line = match payload {
            Payload::Logs(request) => serde_json::to_vec(request),
            Payload::Traces(request) => serde_json::to_vec(request),
            Payload::Metrics(request) => serde_json::to_vec(request),
        }
        .map_err(|err| {
            ExportError::Permanent(format!("failed to encode the batch as JSON: {err}"))
        })?;
        line.push(b'\n');

        // A closed pipe (`hush run | head`) cannot take this batch or any
        // later one, so the agent stops instead of committing offsets.
        let mut out = self.out.lock();
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|err| {
                ExportError::Fatal(format!("failed to write to standard output: {err}"))
            })?;
        Ok(Accepted::default())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.lock().flush()
    }
}
