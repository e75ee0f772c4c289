//! hush: a node-level agent that keeps personal data out of logs and
//! telemetry.
//!
//! Records flow one way and acknowledgements the other:
//!
//! ```text
//! source (tail, otlp) -> pipeline (bounded queue, acks) -> sink (otlp, stdout)
//!                             |
//!                          redact (text, OTLP values)
//!                             |
//!                  detect (engine)  +  token (HMAC keys, rendering)
//! ```
//!
//! A source hands a batch to the pipeline and waits for its acknowledgement.
//! The pipeline redacts the batch, hands it to the sink, and acknowledges it
//! only after the sink has accepted it, so a source commits a file offset or
//! answers an OTLP client only for data that is delivered.

pub mod app;
pub mod config;
pub mod detect;
pub mod pipeline;
pub mod redact;
pub mod sink;
pub mod source;
pub mod telemetry;
pub mod token;
