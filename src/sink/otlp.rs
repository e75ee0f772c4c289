//! Exports batches to a downstream collector over OTLP/gRPC, in plain text
//! or TLS (rustls), with optional gzip and headers sent as metadata.
//!
//! Status codes are sorted as the OTLP specification sorts them. `CANCELLED`,
//! `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE` and
//! `DATA_LOSS` are retryable, `RESOURCE_EXHAUSTED` only when the downstream
//! sent a `google.rpc.RetryInfo`, and all others are permanent. The delay
//! in a `RetryInfo` is passed on as the retry hint. A failure that the
//! client's transport made up locally, such as a refused connection, is
//! transient whatever its code: the downstream never saw the batch. A
//! partial success is returned to the pipeline, which counts and logs it
//! and does not retry it.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_types::StatusExt;

use super::secure::{load_headers, load_tls};
use super::{Accepted, ExportError};
use crate::config::{Compression, OtlpExporterConfig};
use crate::pipeline::Payload;

/// Maximum response size the agent decodes from the downstream, in bytes.
/// An export response contains at most a partial success message.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

pub struct OtlpSink {
    endpoint: String,
    metadata: MetadataMap,
    logs: LogsServiceClient<Channel>,
    traces: TraceServiceClient<Channel>,
    metrics: MetricsServiceClient<Channel>,
}

impl OtlpSink {
    /// Prepares the client; the connection is made on first use and remade
    /// after a failure.
    ///
    /// # Errors
    ///
    /// Fails when the endpoint is not a valid URI, or a TLS file or header
    /// value cannot be read.
    pub fn new(config: &OtlpExporterConfig) -> anyhow::Result<OtlpSink> {
        let endpoint = config.endpoint.as_str().to_string();
        let mut channel = Endpoint::from_shared(endpoint.clone())
            .map_err(|err| anyhow::anyhow!("invalid exporter endpoint {endpoint}: {err}"))?
            .timeout(config.timeout())
            .connect_timeout(config.timeout().min(std::time::Duration::from_secs(5)));
        if config.endpoint.is_https() {
            let tls = client_tls(config)?;
            channel = channel
                .tls_config(tls)
                .map_err(|err| anyhow::anyhow!("failed to set up TLS for {endpoint}: {err}"))?;
        }
        let channel = channel.connect_lazy();

        let mut metadata = MetadataMap::new();
        for header in load_headers(&config.headers)? {
            let key = AsciiMetadataKey::from_bytes(header.name.as_bytes())
                .map_err(|_| anyhow::anyhow!("invalid header name {}", header.name))?;
            let mut value = AsciiMetadataValue::try_from(header.value.as_str())
                .map_err(|_| anyhow::anyhow!("invalid value of header {}", header.name))?;
            value.set_sensitive(true);
            metadata.insert(key, value);
        }

        let mut logs = LogsServiceClient::new(channel.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(usize::MAX);
        let mut traces = TraceServiceClient::new(channel.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(usize::MAX);
        let mut metrics = MetricsServiceClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(usize::MAX);
        if config.compression == Compression::Gzip {
            logs = logs
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
            traces = traces
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
            metrics = metrics
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        Ok(OtlpSink {
            endpoint,
            metadata,
            logs,
            traces,
            metrics,
        })
    }

    pub async fn export(&mut self, payload: &Payload) -> Result<Accepted, ExportError> {
        match payload {
            Payload::Logs(request) => {
                let response = self
                    .logs
                    .export(self.request(request.clone()))
                    .await
                    .map_err(|status| classify(&self.endpoint, &status))?;
                let partial = response.into_inner().partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected_records: u64::try_from(partial.rejected_log_records).unwrap_or(0),
                    message: partial.error_message,
                })
            }
            Payload::Traces(request) => {
                let response = self
                    .traces
                    .export(self.request(request.clone()))
                    .await
                    .map_err(|status| classify(&self.endpoint, &status))?;
                let partial = response.into_inner().partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected_records: u64::try_from(partial.rejected_spans).unwrap_or(0),
                    message: partial.error_message,
                })
            }
            Payload::Metrics(request) => {
                let response = self
                    .metrics
                    .export(self.request(request.clone()))
                    .await
                    .map_err(|status| classify(&self.endpoint, &status))?;
                let partial = response.into_inner().partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected_records: u64::try_from(partial.rejected_data_points).unwrap_or(0),
                    message: partial.error_message,
                })
            }
        }
    }

    /// Wraps `message` with the configured headers.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        request
    }
}

fn client_tls(config: &OtlpExporterConfig) -> anyhow::Result<ClientTlsConfig> {
    let mut tls = ClientTlsConfig::new().domain_name(config.endpoint.host());
    let files = match &config.tls {
        Some(settings) => Some(load_tls(settings)?),
        None => None,
    };
    match files.as_ref().and_then(|files| files.ca_pem.as_ref()) {
        Some(ca) => tls = tls.ca_certificate(Certificate::from_pem(ca)),
        None => tls = tls.with_native_roots(),
    }
    if let Some((cert, key)) = files.as_ref().and_then(|files| files.identity_pem.as_ref()) {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Ok(tls)
}

/// Sorts a failed call into transient and permanent, as described in the
/// module documentation.
fn classify(endpoint: &str, status: &tonic::Status) -> ExportError {
    let message = format!(
        "export to {endpoint} failed: {:?}: {}",
        status.code(),
        status.message()
    );
    let retry_after = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);

    // tonic sets a source only on statuses it made from a local transport
    // error; a status the downstream sent has none.
    let local = std::error::Error::source(status).is_some();
    let retryable = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => retry_after.is_some(),
        _ => local,
    };
    match retryable {
        true => ExportError::Transient {
            message,
            retry_after,
        },
        false => ExportError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    fn transient_hint(error: &ExportError) -> Option<Option<Duration>> {
        match error {
            ExportError::Transient { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    #[test]
    fn retryable_codes_follow_otlp() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            let error = classify("e", &tonic::Status::new(code, "x"));
            assert_eq!(transient_hint(&error), Some(None), "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::Unknown,
            Code::Internal,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::NotFound,
            Code::Unimplemented,
            Code::ResourceExhausted,
        ] {
            let error = classify("e", &tonic::Status::new(code, "x"));
            assert!(matches!(error, ExportError::Permanent(_)), "{code:?}");
        }
    }

    #[test]
    fn resource_exhausted_with_retry_info_is_retried() {
        let details = ErrorDetails::with_retry_info(Some(Duration::from_millis(1500)));
        let status =
            tonic::Status::with_error_details(Code::ResourceExhausted, "slow down", details);

        let error = classify("e", &status);

        assert_eq!(
            transient_hint(&error),
            Some(Some(Duration::from_millis(1500)))
        );
    }

    #[test]
    fn unavailable_passes_retry_delay_on() {
        let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(2)));
        let status = tonic::Status::with_error_details(Code::Unavailable, "busy", details);

        let error = classify("e", &status);

        assert_eq!(transient_hint(&error), Some(Some(Duration::from_secs(2))));
    }
}
