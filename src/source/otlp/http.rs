//! The OTLP/HTTP receiver: `POST /v1/logs`, `/v1/traces` and `/v1/metrics`
//! with binary protobuf (`application/x-protobuf`) or the OTLP JSON mapping
//! (`application/json`), optionally gzip-compressed.
//!
//! Responses use the request's encoding. Errors carry a `google.rpc.Status`
//! body in that encoding, except 401 and 415, which are plain text because
//! the request's encoding is unknown or not to be trusted.
//!
//! JSON is read with the `serde` support of `opentelemetry-proto`: trace and
//! span ids as hex strings, enums as integers, 64-bit integers as strings or
//! numbers, and `bytesValue` as base64, as the OTLP specification requires.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use super::body::{BodyError, BoundedBody, read_bounded, take_permits};
use super::signal::{Logs, Metrics, Signal, Traces};
use super::{Intake, ReceiverSettings, bind_listener, tls};
use crate::config::ListenAddress;
use crate::pipeline::DeliveryError;
use crate::pipeline::Pipeline;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The wait a client is asked to keep before retrying a request that was
/// turned away because the agent was busy.
const RETRY_AFTER_BUSY: Duration = Duration::from_secs(1);

/// A bound OTLP/HTTP listener, ready to serve.
pub struct HttpReceiver {
    listener: tokio::net::TcpListener,
}

impl HttpReceiver {
    /// Binds `address`, so that a port already in use is reported at
    /// startup.
    pub async fn bind(address: ListenAddress) -> anyhow::Result<HttpReceiver> {
        let listener = bind_listener(address, "OTLP/HTTP", "otlp_receiver.http").await?;
        Ok(HttpReceiver { listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and lets
    /// requests in progress finish.
    pub async fn serve(
        self,
        settings: Arc<ReceiverSettings>,
        pipeline: Pipeline,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let intake = Intake::new(&settings, pipeline);
        let app = Router::new()
            .route(Logs::HTTP_PATH, post(export::<Logs>))
            .route(Traces::HTTP_PATH, post(export::<Traces>))
            .route(Metrics::HTTP_PATH, post(export::<Metrics>))
            .with_state(intake);

        let stopped = shutdown.clone().cancelled_owned();
        let served = match &settings.tls {
            None => {
                axum::serve(self.listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
            Some(tls) => {
                let local_address = self.listener.local_addr()?;
                let config = tls.server_config(&[b"http/1.1"])?;
                let connections = tls::accept_tls(self.listener, config, shutdown);
                let listener = TlsListener {
                    connections,
                    local_address,
                };
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
        };
        served.context("the OTLP/HTTP server failed")
    }
}

/// Connections whose TLS handshake finished, as an axum listener.
struct TlsListener {
    connections: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_address: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The accept loop ends only at shutdown, and the server stops
            // taking connections then, so waiting forever is never seen.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_address)
    }
}

/// The body encoding of a request, and so of its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// A response to a failed request, with its `google.rpc.Status` body.
struct Failure {
    status: StatusCode,
    /// The `google.rpc.Code` that matches `status`.
    code: i32,
    message: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn bad_request(message: String) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: 3, // INVALID_ARGUMENT
            message,
            retry_after: None,
        }
    }

    fn too_large(limit: usize) -> Failure {
        Failure {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: 8, // RESOURCE_EXHAUSTED
            message: format!(
                "the request is larger than otlp_receiver.max_request_bytes ({limit} bytes)"
            ),
            retry_after: None,
        }
    }

    fn unavailable(message: String) -> Failure {
        Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: 14, // UNAVAILABLE
            message,
            retry_after: Some(RETRY_AFTER_BUSY),
        }
    }

    fn into_response(self, encoding: Encoding) -> Response {
        let status = RpcStatus {
            code: self.code,
            message: self.message,
        };
        let mut response = encode(encoding, &status).into_response();
        *response.status_mut() = self.status;
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        response
    }
}

/// `google.rpc.Status` without details, the error body OTLP/HTTP uses.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn encode<M: prost::Message + serde::Serialize>(encoding: Encoding, message: &M) -> Response {
    match encoding {
        Encoding::Protobuf => ([(CONTENT_TYPE, PROTOBUF)], message.encode_to_vec()).into_response(),
        Encoding::Json => match serde_json::to_value(message) {
            Ok(json) => {
                let json = without_nulls(json);
                ([(CONTENT_TYPE, JSON)], json.to_string()).into_response()
            }
            Err(err) => {
                tracing::error!(error = %err, "failed to encode an OTLP/HTTP response as JSON");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
    }
}

/// Removes object members whose value is `null`, which is how the
/// generated `serde` code writes an absent message field. Clients read an
/// absent member and a `null` alike, but absent is what collectors send.
fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => members
            .into_iter()
            .filter(|(_, member)| !member.is_null())
            .map(|(name, member)| (name, without_nulls(member)))
            .collect(),
        serde_json::Value::Array(items) => items.into_iter().map(without_nulls).collect(),
        other => other,
    }
}

async fn export<S: Signal>(State(intake): State<Intake>, request: Request) -> Response {
    if !intake.admit(request.headers()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer")],
            "missing or invalid bearer token\n",
        )
            .into_response();
    }
    let (encoding, gzip) = match request_format(request.headers()) {
        Ok(format) => format,
        Err(message) => {
            intake.count_rejected();
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response();
        }
    };

    match receive::<S>(&intake, request, encoding, gzip).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(encoding),
    }
}

/// Reads, decodes and delivers one request.
async fn receive<S: Signal>(
    intake: &Intake,
    request: Request,
    encoding: Encoding,
    gzip: bool,
) -> Result<Response, Failure> {
    let limit = intake.max_request_bytes;
    let declared_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let body = read_bounded(
        request.into_body(),
        declared_length,
        limit,
        &intake.in_flight_bytes,
    )
    .await
    .map_err(|err| body_failure(intake, err, limit))?;

    let (request, _permits) = decode::<S>(intake, body, encoding, gzip).await?;

    match intake.submit(S::into_payload(request)).await {
        Ok(delivered) => Ok(encode(encoding, &S::response(delivered.dropped_records))),
        Err(
            err @ (DeliveryError::QueueFull
            | DeliveryError::StorageFailed(_)
            | DeliveryError::ShuttingDown),
        ) => Err(Failure::unavailable(err.to_string())),
        Err(err @ DeliveryError::Rejected(_)) => Err(Failure::bad_request(err.to_string())),
    }
}

fn body_failure(intake: &Intake, err: BodyError, limit: usize) -> Failure {
    match err {
        BodyError::TooLarge => {
            intake.count_rejected();
            Failure::too_large(limit)
        }
        BodyError::Busy => {
            intake.count_throttled();
            Failure::unavailable(
                "the agent holds too many request bytes in flight; retry later".to_string(),
            )
        }
        BodyError::Read(message) => {
            intake.count_rejected();
            Failure::bad_request(format!("failed to read the request body: {message}"))
        }
    }
}

/// Decompresses and decodes a body on the blocking pool, because both take
/// CPU time in proportion to the body. The decompressed bytes count
/// against the in-flight bound too; the returned permits hold them.
async fn decode<S: Signal>(
    intake: &Intake,
    body: BoundedBody,
    encoding: Encoding,
    gzip: bool,
) -> Result<(S::Request, BoundedBody), Failure> {
    let limit = intake.max_request_bytes;
    let mut body = body;
    let bytes = body.bytes.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let plain = match gzip {
            true => gunzip(&bytes, limit)?,
            false => bytes,
        };
        let request = parse::<S>(&plain, encoding)?;
        Ok::<_, DecodeError>((request, plain.len()))
    })
    .await;

    let result = match decoded {
        Ok(result) => result,
        Err(err) => {
            tracing::error!(error = %err, "decoding an OTLP/HTTP request failed");
            Err(DecodeError::Invalid(
                "the request could not be decoded".to_string(),
            ))
        }
    };
    let (request, plain_length) = result.map_err(|err| {
        intake.count_rejected();
        match err {
            DecodeError::TooLarge => Failure::too_large(limit),
            DecodeError::Invalid(message) => Failure::bad_request(message),
        }
    })?;

    if gzip {
        let permits = take_permits(&intake.in_flight_bytes, plain_length)
            .map_err(|err| body_failure(intake, err, limit))?;
        body.permit.merge(permits);
    }
    Ok((request, body))
}

enum DecodeError {
    TooLarge,
    Invalid(String),
}

/// Decompresses a gzip body, refusing output longer than `limit` bytes so
/// that a small compressed body cannot expand without bound.
fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes, DecodeError> {
    use std::io::Read;

    let mut plain = Vec::new();
    let decoder = flate2::read::GzDecoder::new(compressed);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|err| DecodeError::Invalid(format!("the gzip body is invalid: {err}")))?;
    if plain.len() > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(Bytes::from(plain))
}

fn parse<S: Signal>(plain: &[u8], encoding: Encoding) -> Result<S::Request, DecodeError> {
    match encoding {
        Encoding::Protobuf => <S::Request as prost::Message>::decode(plain).map_err(|err| {
            DecodeError::Invalid(format!(
                "the request is not a valid OTLP protobuf message: {err}"
            ))
        }),
        Encoding::Json => serde_json::from_slice(plain).map_err(|err| {
            // serde_json's own message quotes the offending value
            // (`invalid type: string "ann@example.com"`), which would send
            // personal data back to the client and into its logs, so only
            // the error's category and position are named.
            let problem = match err.classify() {
                serde_json::error::Category::Syntax => "a syntax error",
                serde_json::error::Category::Data => "a value of the wrong type or form",
                serde_json::error::Category::Eof => "an unexpected end of input",
                serde_json::error::Category::Io => "a read error",
            };
            DecodeError::Invalid(format!(
                "the request is not valid OTLP JSON: {problem} at line {}, column {}",
                err.line(),
                err.column()
            ))
        }),
    }
}

/// Returns the encoding and whether the body is gzip-compressed, or the
/// message of a 415 response.
fn request_format(headers: &HeaderMap) -> Result<(Encoding, bool), String> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let encoding = if media_type.eq_ignore_ascii_case(PROTOBUF) {
        Encoding::Protobuf
    } else if media_type.eq_ignore_ascii_case(JSON) {
        Encoding::Json
    } else {
        return Err(format!(
            "unsupported content-type {content_type:?}: send {PROTOBUF} or {JSON}\n"
        ));
    };

    let content_encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim();
    let gzip = if content_encoding.eq_ignore_ascii_case("gzip") {
        true
    } else if content_encoding.eq_ignore_ascii_case("identity") || content_encoding.is_empty() {
        false
    } else {
        return Err(format!(
            "unsupported content-encoding {content_encoding:?}: send gzip or an uncompressed body\n"
        ));
    };
    Ok((encoding, gzip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_omits_values() {
        let body = br#"{"resourceLogs":[{"resource":"ann@example.com"}]}"#;

        let Err(DecodeError::Invalid(message)) =
            parse::<crate::source::otlp::signal::Logs>(body, Encoding::Json)
        else {
            panic!("expected an invalid request");
        };

        assert!(!message.contains("ann@example.com"), "{message}");
        assert!(message.contains("line 1, column"), "{message}");
        assert!(message.contains("wrong type"), "{message}");
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn content_types_accepted() {
        let cases = [
            (
                headers(&[("content-type", PROTOBUF)]),
                (Encoding::Protobuf, false),
            ),
            (
                headers(&[("content-type", "application/json; charset=utf-8")]),
                (Encoding::Json, false),
            ),
            (
                headers(&[
                    ("content-type", "Application/X-Protobuf"),
                    ("content-encoding", "gzip"),
                ]),
                (Encoding::Protobuf, true),
            ),
        ];
        for (headers, expected) in cases {
            assert_eq!(request_format(&headers), Ok(expected), "{headers:?}");
        }
    }

    #[test]
    fn unsupported_formats_rejected() {
        for headers in [
            headers(&[("content-type", "text/plain")]),
            headers(&[]),
            headers(&[("content-type", JSON), ("content-encoding", "br")]),
        ] {
            assert!(request_format(&headers).is_err(), "{headers:?}");
        }
    }

    #[test]
    fn json_mapping_read() {
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{
            "timeUnixNano": 1700000000000000002,
            "observedTimeUnixNano": "1700000000000000003",
            "severityNumber": 17,
            "traceId": "0102030405060708090a0b0c0d0e0f10",
            "body": {"bytesValue": "aGk="},
            "attributes": [
                {"key": "as_number", "value": {"intValue": 7}},
                {"key": "as_string", "value": {"intValue": "-8"}}
            ],
            "unknownField": true
        }]}]}]}"#;

        let request = parse::<Logs>(json, Encoding::Json)
            .ok()
            .expect("valid OTLP JSON");

        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_002);
        assert_eq!(record.observed_time_unix_nano, 1_700_000_000_000_000_003);
        assert_eq!(record.severity_number, 17);
        assert_eq!(record.trace_id, (1..=16).collect::<Vec<u8>>());
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        let body = record.body.as_ref().and_then(|body| body.value.clone());
        assert_eq!(body, Some(Value::BytesValue(b"hi".to_vec())));
        let numbers: Vec<_> = record
            .attributes
            .iter()
            .map(|attribute| {
                attribute
                    .value
                    .as_ref()
                    .and_then(|value| value.value.clone())
            })
            .collect();
        assert_eq!(
            numbers,
            [Some(Value::IntValue(7)), Some(Value::IntValue(-8))]
        );
    }

    #[test]
    fn gunzip_bounded() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&[b'a'; 10_000]).unwrap();
        let compressed = encoder.finish().unwrap();

        assert_eq!(
            gunzip(&compressed, 10_000).ok().map(|b| b.len()),
            Some(10_000)
        );
        assert!(matches!(
            gunzip(&compressed, 9_999),
            Err(DecodeError::TooLarge)
        ));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(DecodeError::Invalid(_))
        ));
    }
}
