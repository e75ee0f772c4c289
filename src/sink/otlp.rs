//! Exports batches to a downstream collector over OTLP/gRPC.
//!
//! Status codes are sorted as the OTLP specification sorts them: codes that
//! mean "try again" (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`,
//! ...) are transient, all others permanent. A partial success is logged and
//! not retried, as the specification requires.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use super::ExportError;
use crate::config::OtlpExporterConfig;
use crate::pipeline::Payload;

pub struct OtlpSink {
    endpoint: String,
    logs: LogsServiceClient<Channel>,
    traces: TraceServiceClient<Channel>,
    metrics: MetricsServiceClient<Channel>,
}

impl OtlpSink {
    /// Prepares the client; the connection is made on first use and remade
    /// after a failure.
    pub fn new(config: &OtlpExporterConfig) -> anyhow::Result<OtlpSink> {
        let endpoint = config.endpoint.as_str().to_string();
        let channel = Endpoint::from_shared(endpoint.clone())
            .map_err(|err| anyhow::anyhow!("invalid exporter endpoint {endpoint}: {err}"))?
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(OtlpSink {
            endpoint,
            logs: LogsServiceClient::new(channel.clone()),
            traces: TraceServiceClient::new(channel.clone()),
            metrics: MetricsServiceClient::new(channel),
        })
    }

    pub async fn export(&mut self, payload: &Payload) -> Result<(), ExportError> {
        let (rejected, message) = match payload {
            Payload::Logs(request) => {
                let response = self
                    .logs
                    .export(request.clone())
                    .await
                    .map_err(|status| classify(&self.endpoint, &status))?;
                response
                    .into_inner()
                    .partial_success
                    .map(|partial| (partial.rejected_log_records, partial.error_message))
                    .unwrap_or_default()
            }
            Payload::Traces(request) => {
                let response = self
                    .traces
                    .export(request.clone())
                    .await
                    .map_err(|status| classify(&self.endpoint, &status))?;
                response
                    .into_inner()
                    .partial_success
                    .map(|partial| (partial.rejected_spans, partial.error_message))
                    .unwrap_or_default()
            }
            Payload::Metrics(request) => {
                let response = self
                    .metrics
                    .export(request.clone())
                    .await
                    .map_err(|status| classify(&self.endpoint, &status))?;
                response
                    .into_inner()
                    .partial_success
                    .map(|partial| (partial.rejected_data_points, partial.error_message))
                    .unwrap_or_default()
            }
        };

        if rejected > 0 {
            tracing::warn!(
                endpoint = %self.endpoint,
                rejected,
                message = %message,
                "downstream accepted the batch only in part"
            );
        }
        Ok(())
    }
}

fn classify(endpoint: &str, status: &tonic::Status) -> ExportError {
    let message = format!(
        "export to {endpoint} failed: {:?}: {}",
        status.code(),
        status.message()
    );
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss
        | Code::Unknown => ExportError::Transient {
            message,
            retry_after: None,
        },
        _ => ExportError::Permanent(message),
    }
}
