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

use std::marker::PhantomData;

use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::Code;
use tonic::codec::{Codec, CompressionEncoding, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_prost::ProstDecoder;
use tonic_types::StatusExt;

use super::secure::{load_headers, load_tls};
use super::{Accepted, ExportError};
use crate::config::{Compression, OtlpExporterConfig};
use crate::pipeline::Payload;

/// Maximum response size the agent decodes from the downstream, in bytes.
/// An export response contains at most a partial success message.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// gRPC methods of the OTLP collector services.
const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const TRACES_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// Sends each request encoded by the agent rather than by a generated
/// client. A generated client takes the request by value, so keeping a
/// batch for a retry meant a deep copy of every record before each attempt.
/// Encoding from a reference makes one buffer instead.
pub struct OtlpSink {
    endpoint: String,
    metadata: MetadataMap,
    client: tonic::client::Grpc<Channel>,
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

        let mut client = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(usize::MAX);
        if config.compression == Compression::Gzip {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        Ok(OtlpSink {
            endpoint,
            metadata,
            client,
        })
    }

    pub async fn export(&mut self, payload: &Payload) -> Result<Accepted, ExportError> {
        match payload {
            Payload::Logs(request) => {
                let response: ExportLogsServiceResponse =
                    self.call(LOGS_EXPORT, request.encode_to_vec()).await?;
                let partial = response.partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected_records: u64::try_from(partial.rejected_log_records).unwrap_or(0),
                    message: partial.error_message,
                })
            }
            Payload::Traces(request) => {
                let response: ExportTraceServiceResponse =
                    self.call(TRACES_EXPORT, request.encode_to_vec()).await?;
                let partial = response.partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected_records: u64::try_from(partial.rejected_spans).unwrap_or(0),
                    message: partial.error_message,
                })
            }
            Payload::Metrics(request) => {
                let response: ExportMetricsServiceResponse =
                    self.call(METRICS_EXPORT, request.encode_to_vec()).await?;
                let partial = response.partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected_records: u64::try_from(partial.rejected_data_points).unwrap_or(0),
                    message: partial.error_message,
                })
            }
        }
    }

    /// Sends one encoded request to `method` with the configured headers,
    /// and decodes the response.
    async fn call<Response: Message + Default + Send + 'static>(
        &mut self,
        method: &'static str,
        encoded: Vec<u8>,
    ) -> Result<Response, ExportError> {
        // The channel reports not ready only when its connection task is
        // gone, which a later attempt may not find, so it is transient.
        self.client
            .ready()
            .await
            .map_err(|err| ExportError::Transient {
                message: format!(
                    "export to {} failed: the channel is not ready: {err}",
                    self.endpoint
                ),
                retry_after: None,
            })?;

        let mut request = tonic::Request::new(Bytes::from(encoded));
        *request.metadata_mut() = self.metadata.clone();
        let codec = EncodedCodec::<Response>(PhantomData);
        let response = self
            .client
            .unary(request, PathAndQuery::from_static(method), codec)
            .await
            .map_err(|status| classify(&self.endpoint, &status))?;
        Ok(response.into_inner())
    }
}

/// Writes a request the agent encoded, and decodes the response with prost.
struct EncodedCodec<Response>(PhantomData<Response>);

impl<Response: Message + Default + Send + 'static> Codec for EncodedCodec<Response> {
    type Encode = Bytes;
    type Decode = Response;
    type Encoder = EncodedEncoder;
    type Decoder = ProstDecoder<Response>;

    fn encoder(&mut self) -> EncodedEncoder {
        EncodedEncoder
    }

    fn decoder(&mut self) -> ProstDecoder<Response> {
        ProstDecoder::default()
    }
}

struct EncodedEncoder;

impl Encoder for EncodedEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, buffer: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buffer.put(item);
        Ok(())
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
