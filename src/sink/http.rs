//! Exports batches to a downstream collector over OTLP/HTTP with protobuf
//! bodies, as the OpenTelemetry exporters do: each signal is posted to its
//! path (`/v1/logs`, `/v1/traces`, `/v1/metrics`) under the configured
//! base endpoint.
//!
//! Status codes are sorted as the OTLP specification sorts them: 429, 502,
//! 503 and 504 are retryable, with the `Retry-After` header (seconds or an
//! HTTP date) as the retry hint, and every other error status is permanent.
//! A request that got no response at all (refused connection, timeout) is
//! retryable. Redirects are not followed, because a redirect could send
//! the batch somewhere that was never configured.

use std::io::Write;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::secure::{TlsFiles, load_headers, load_tls, rustls_config};
use super::{Accepted, ExportError};
use crate::config::{Compression, OtlpExporterConfig};
use crate::pipeline::{Payload, Signal};

const PROTOBUF: &str = "application/x-protobuf";

pub struct HttpSink {
    client: reqwest::Client,
    /// The endpoint without a trailing `/`; signal paths are appended.
    base: String,
    headers: HeaderMap,
    gzip: bool,
}

impl HttpSink {
    /// Prepares the client; connections are made on first use.
    ///
    /// # Errors
    ///
    /// Fails when a TLS file or header value cannot be read, or the client
    /// cannot be built.
    pub fn new(config: &OtlpExporterConfig) -> anyhow::Result<HttpSink> {
        let tls_files = match (&config.tls, config.endpoint.is_https()) {
            (Some(settings), _) => load_tls(settings)?,
            (None, _) => TlsFiles {
                ca_pem: None,
                identity_pem: None,
            },
        };
        let tls = match config.endpoint.is_https() {
            true => rustls_config(&tls_files)?,
            // reqwest sets up TLS even for a plain-text endpoint; this
            // configuration trusts nothing and is never used.
            false => rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.timeout())
            .connect_timeout(config.timeout().min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|err| anyhow::anyhow!("failed to build the OTLP/HTTP client: {err}"))?;

        let mut headers = HeaderMap::new();
        for header in load_headers(&config.headers)? {
            let name = HeaderName::from_bytes(header.name.as_bytes())
                .map_err(|_| anyhow::anyhow!("invalid header name {}", header.name))?;
            let mut value = HeaderValue::from_str(&header.value)
                .map_err(|_| anyhow::anyhow!("invalid value of header {}", header.name))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
        let gzip = config.compression == Compression::Gzip;
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }

        Ok(HttpSink {
            client,
            base: config.endpoint.as_str().trim_end_matches('/').to_string(),
            headers,
            gzip,
        })
    }

    /// Returns the URL a signal is posted to.
    pub fn url(&self, signal: Signal) -> String {
        format!("{}/v1/{}", self.base, signal.name())
    }

    pub async fn export(&mut self, payload: &Payload) -> Result<Accepted, ExportError> {
        let url = self.url(payload.signal());
        let body = match payload {
            Payload::Logs(request) => request.encode_to_vec(),
            Payload::Traces(request) => request.encode_to_vec(),
            Payload::Metrics(request) => request.encode_to_vec(),
        };
        let body = match self.gzip {
            true => gzip(&body).map_err(|err| {
                ExportError::Permanent(format!("failed to compress the request: {err}"))
            })?,
            false => body,
        };

        let response = self
            .client
            .post(&url)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|err| ExportError::Transient {
                message: format!("export to {url} failed: {}", error_chain(&err)),
                retry_after: None,
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body = response
            .bytes()
            .await
            .map_err(|err| ExportError::Transient {
                message: format!("export to {url} failed while reading the response: {err}"),
                retry_after: None,
            })?;

        if status.is_success() {
            return accepted(payload.signal(), &body).map_err(|message| {
                // The batch arrived; sending it again would duplicate it.
                tracing::warn!(url = %url, error = %message, "downstream sent an unreadable success response");
                ExportError::Permanent(message)
            });
        }
        let message = format!(
            "export to {url} failed: HTTP {}: {}",
            status.as_u16(),
            error_message(&body)
        );
        match is_retryable(status) {
            true => Err(ExportError::Transient {
                message,
                retry_after,
            }),
            false => Err(ExportError::Permanent(message)),
        }
    }
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Reads the partial success of a 2xx response. An empty body is a full
/// success.
fn accepted(signal: Signal, body: &[u8]) -> Result<Accepted, String> {
    let (rejected, message) = match signal {
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .map(|response| response.partial_success.unwrap_or_default())
            .map(|partial| (partial.rejected_log_records, partial.error_message)),
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .map(|response| response.partial_success.unwrap_or_default())
            .map(|partial| (partial.rejected_spans, partial.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .map(|response| response.partial_success.unwrap_or_default())
            .map(|partial| (partial.rejected_data_points, partial.error_message)),
    }
    .map_err(|err| format!("invalid {} export response: {err}", signal.name()))?;
    Ok(Accepted {
        rejected_records: u64::try_from(rejected).unwrap_or(0),
        message,
    })
}

/// Returns the message of a `google.rpc.Status` error body, or a note that
/// the body had none.
fn error_message(body: &[u8]) -> String {
    match tonic_types::pb::Status::decode(body) {
        Ok(status) if !status.message.is_empty() => status.message,
        _ => format!("no status message ({} bytes of body)", body.len()),
    }
}

/// Parses a `Retry-After` value: a number of seconds or an HTTP date.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// Joins an error with its causes, since reqwest's own message ("error
/// sending request") hides the reason, such as a refused connection.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));

        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retryable_statuses_follow_otlp() {
        for code in [429, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 500, 501] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn empty_success_body_is_full_success() {
        assert_eq!(accepted(Signal::Logs, &[]), Ok(Accepted::default()));
    }

    #[test]
    fn partial_success_is_read() {
        let response = ExportTraceServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                    rejected_spans: 3,
                    error_message: "too old".to_string(),
                },
            ),
        };

        let result = accepted(Signal::Traces, &response.encode_to_vec()).unwrap();

        assert_eq!(result.rejected_records, 3);
        assert_eq!(result.message, "too old");
    }

    #[test]
    fn status_body_message_is_quoted() {
        let status = tonic_types::pb::Status {
            code: 3,
            message: "bad record".to_string(),
            details: Vec::new(),
        };

        assert_eq!(error_message(&status.encode_to_vec()), "bad record");
        assert!(error_message(b"\xff\xff").contains("no status message"));
    }
}
