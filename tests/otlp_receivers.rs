//! Puts the real `hush` binary between OTLP clients and a real OTLP/gRPC
//! downstream, with both receivers on. The Python OpenTelemetry SDK sends
//! logs, spans and metrics over gRPC, HTTP/protobuf and HTTP/JSON, with and
//! without TLS, client certificates and a bearer token. A raw HTTP client
//! checks the status codes of bad, oversized and excess requests.
//!
//! What arrives is compared with what the SDK sent, as encoded protobuf:
//! each record must arrive exactly once and equal the sent record redacted
//! with the test key, and no personal value may arrive anywhere.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Downstream, HushProcess, TEST_KEY_HEX, free_port, run_python_client_with, to_json};
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use tokio::io::{AsyncRead, AsyncWrite};

const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// The agent under test
// ---------------------------------------------------------------------------

/// A running `hush` with both receivers, and the files it was given.
struct Hop {
    agent: HushProcess,
    grpc_port: u16,
    http_port: u16,
    _root: tempfile::TempDir,
}

/// Starts hush exporting to `downstream`, with `receiver_yaml` (lines
/// indented by two spaces) added to its `otlp_receiver` section.
fn start_hop(downstream: &Downstream, receiver_yaml: &str) -> Hop {
    start_hop_with_metrics(downstream, receiver_yaml, None)
}

/// Starts hush like [`start_hop`], serving its metrics on
/// `127.0.0.1:metrics_port` when that is given.
fn start_hop_with_metrics(
    downstream: &Downstream,
    receiver_yaml: &str,
    metrics_port: Option<u16>,
) -> Hop {
    start_hop_with_exporter(downstream, receiver_yaml, metrics_port, "")
}

/// Starts hush like [`start_hop_with_metrics`], with `exporter_yaml` (flow
/// style, starting with a comma) added to its `exporter` section.
fn start_hop_with_exporter(
    downstream: &Downstream,
    receiver_yaml: &str,
    metrics_port: Option<u16>,
    exporter_yaml: &str,
) -> Hop {
    let root = tempfile::tempdir().expect("temp dir");
    let grpc_port = free_port();
    let http_port = free_port();
    let metrics_listen = match metrics_port {
        Some(port) => format!("127.0.0.1:{port}"),
        None => "null".to_string(),
    };
    let yaml = format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         otlp_receiver:\n  \
           grpc: 127.0.0.1:{grpc_port}\n  \
           http: 127.0.0.1:{http_port}\n\
         {receiver_yaml}\
         telemetry: {{ listen: {metrics_listen} }}\n\
         exporter: {{ otlp: {{ endpoint: \"{endpoint}\" }}{exporter_yaml} }}\n",
        state = root.path().join("state").display(),
        endpoint = downstream.endpoint(),
    );
    let config = common::write_config(root.path(), &yaml);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    Hop {
        agent,
        grpc_port,
        http_port,
        _root: root,
    }
}

/// Reads one counter from the agent's `/metrics` endpoint.
fn read_counter(metrics_port: u16, name: &str) -> Option<u64> {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

/// Builds a redactor equal to the agent's: the default detectors and the
/// test key.
fn test_redactor() -> hush::redact::Redactor {
    let config = hush::config::Config::default();
    let engine = hush::app::build_engine(&config).expect("detectors build");
    let key = hush::token::Key::from_text(TEST_KEY_HEX, "k1").expect("test key");
    hush::redact::Redactor::new(engine, hush::token::Tokenizer::new(key))
}

// ---------------------------------------------------------------------------
// Comparing what was sent with what arrived
// ---------------------------------------------------------------------------

/// Splits logs requests into one encoded request per log record, with its
/// resource and scope, so requests batched differently compare equal.
fn log_units(requests: &[ExportLogsServiceRequest]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    for request in requests {
        for resource_logs in &request.resource_logs {
            for scope_logs in &resource_logs.scope_logs {
                for record in &scope_logs.log_records {
                    let unit = ExportLogsServiceRequest {
                        resource_logs: vec![ResourceLogs {
                            scope_logs: vec![ScopeLogs {
                                log_records: vec![record.clone()],
                                ..scope_logs.clone()
                            }],
                            ..resource_logs.clone()
                        }],
                    };
                    units.push(unit.encode_to_vec());
                }
            }
        }
    }
    units.sort();
    units
}

/// Splits traces requests like [`log_units`], one unit per span.
fn span_units(requests: &[ExportTraceServiceRequest]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    for request in requests {
        for resource_spans in &request.resource_spans {
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    let unit = ExportTraceServiceRequest {
                        resource_spans: vec![ResourceSpans {
                            scope_spans: vec![ScopeSpans {
                                spans: vec![span.clone()],
                                ..scope_spans.clone()
                            }],
                            ..resource_spans.clone()
                        }],
                    };
                    units.push(unit.encode_to_vec());
                }
            }
        }
    }
    units.sort();
    units
}

/// Splits metrics requests like [`log_units`], one unit per metric with
/// all its data points.
fn metric_units(requests: &[ExportMetricsServiceRequest]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    for request in requests {
        for resource_metrics in &request.resource_metrics {
            for scope_metrics in &resource_metrics.scope_metrics {
                for metric in &scope_metrics.metrics {
                    let unit = ExportMetricsServiceRequest {
                        resource_metrics: vec![ResourceMetrics {
                            scope_metrics: vec![ScopeMetrics {
                                metrics: vec![metric.clone()],
                                ..scope_metrics.clone()
                            }],
                            ..resource_metrics.clone()
                        }],
                    };
                    units.push(unit.encode_to_vec());
                }
            }
        }
    }
    units.sort();
    units
}

/// Decodes the base64 protobuf requests the client recorded for `signal`.
fn sent_requests<M: Message + Default>(summary: &serde_json::Value, signal: &str) -> Vec<M> {
    summary["sent"][signal]
        .as_array()
        .unwrap_or_else(|| panic!("no sent {signal} in the client summary"))
        .iter()
        .map(|encoded| {
            let bytes = data_encoding::BASE64
                .decode(encoded.as_str().expect("base64 string").as_bytes())
                .expect("valid base64");
            M::decode(bytes.as_slice()).expect("the client recorded a valid request")
        })
        .collect()
}

/// Asserts that the units that arrived are exactly the sent units
/// redacted, each once, and shows both sides as JSON when they differ.
fn assert_units_equal<M: Message + Default + serde::Serialize>(
    signal: &str,
    received: Vec<Vec<u8>>,
    expected: Vec<Vec<u8>>,
) {
    if received == expected {
        return;
    }
    let show = |units: &[Vec<u8>]| {
        units
            .iter()
            .map(|unit| to_json(&M::decode(unit.as_slice()).expect("unit decodes")).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "the {signal} that arrived differ from the sent {signal} redacted \
         ({} arrived, {} expected)\n--- arrived ---\n{}\n--- expected ---\n{}",
        received.len(),
        expected.len(),
        show(&received),
        show(&expected),
    );
}

/// Sends all three signals with the Python SDK using `arguments`, and
/// checks that each record arrived once, redacted, and otherwise equal to
/// what was sent.
fn check_sdk_signals(endpoint: &str, downstream: &Downstream, arguments: &[&str]) {
    let run = run_python_client_with(endpoint, "logs,traces,metrics", arguments);
    let summary = &run.summary;
    let redactor = test_redactor();

    // hush responds to a client only after the downstream accepted the
    // batch, so everything the client saw succeed has arrived by now.
    let mut sent_logs: Vec<ExportLogsServiceRequest> = sent_requests(summary, "logs");
    let mut sent_traces: Vec<ExportTraceServiceRequest> = sent_requests(summary, "traces");
    let mut sent_metrics: Vec<ExportMetricsServiceRequest> = sent_requests(summary, "metrics");
    let sent_json = serde_json::json!({
        "logs": sent_logs.iter().map(to_json).collect::<Vec<_>>(),
        "traces": sent_traces.iter().map(to_json).collect::<Vec<_>>(),
        "metrics": sent_metrics.iter().map(to_json).collect::<Vec<_>>(),
    })
    .to_string();
    for request in &mut sent_logs {
        assert_eq!(
            hush::redact::otlp::redact_logs_request(&redactor, request),
            0
        );
    }
    for request in &mut sent_traces {
        assert_eq!(
            hush::redact::otlp::redact_traces_request(&redactor, request),
            0
        );
    }
    for request in &mut sent_metrics {
        assert_eq!(
            hush::redact::otlp::redact_metrics_request(&redactor, request),
            0
        );
    }

    let expected_logs = log_units(&sent_logs);
    let expected_spans = span_units(&sent_traces);
    let expected_metrics = metric_units(&sent_metrics);
    assert_eq!(expected_logs.len(), 2, "the client sends two log records");
    assert_eq!(expected_spans.len(), 3, "the client sends three spans");
    assert_eq!(expected_metrics.len(), 3, "the client sends three metrics");
    assert_units_equal::<ExportLogsServiceRequest>(
        "log records",
        log_units(&downstream.logs()),
        expected_logs,
    );
    assert_units_equal::<ExportTraceServiceRequest>(
        "spans",
        span_units(&downstream.traces()),
        expected_spans,
    );
    assert_units_equal::<ExportMetricsServiceRequest>(
        "metrics",
        metric_units(&downstream.metrics()),
        expected_metrics,
    );

    // Independently of the redactor: no personal value the client sent
    // reaches the downstream, in any form the client used.
    let received = serde_json::json!({
        "logs": downstream.logs().iter().map(to_json).collect::<Vec<_>>(),
        "traces": downstream.traces().iter().map(to_json).collect::<Vec<_>>(),
        "metrics": downstream.metrics().iter().map(to_json).collect::<Vec<_>>(),
    })
    .to_string();
    let personal = &summary["personal_data"];
    for group in ["emails", "ipv4", "cards"] {
        for value in personal[group].as_array().expect("personal data list") {
            let value = value.as_str().expect("string value");
            assert!(sent_json.contains(value), "the client did not send {value}");
            assert!(!received.contains(value), "{value} reached the downstream");
            let encoded = value.replace('@', "%40");
            assert!(
                !received.contains(&encoded),
                "{encoded} reached the downstream"
            );
        }
    }
    assert!(
        !received.contains("opaque-cookie-value"),
        "a cookie header value reached the downstream"
    );
}

#[test]
fn sdk_grpc_signals_redacted() {
    let downstream = Downstream::start();
    let mut hop = start_hop(&downstream, "");
    let endpoint = format!("http://127.0.0.1:{}", hop.grpc_port);
    check_sdk_signals(&endpoint, &downstream, &["--protocol", "grpc", "--gzip"]);
    hop.agent.stop();
}

#[test]
fn sdk_http_protobuf_signals_redacted() {
    let downstream = Downstream::start();
    let mut hop = start_hop(&downstream, "");
    let endpoint = format!("http://127.0.0.1:{}", hop.http_port);
    check_sdk_signals(
        &endpoint,
        &downstream,
        &["--protocol", "http/protobuf", "--gzip"],
    );
    hop.agent.stop();
}

#[test]
fn sdk_http_json_signals_redacted() {
    let downstream = Downstream::start();
    let mut hop = start_hop(&downstream, "");
    let endpoint = format!("http://127.0.0.1:{}", hop.http_port);
    check_sdk_signals(&endpoint, &downstream, &["--protocol", "http/json"]);
    hop.agent.stop();
}

// ---------------------------------------------------------------------------
// TLS and bearer tokens
// ---------------------------------------------------------------------------

/// PEM files of a test CA, a server certificate for 127.0.0.1 and a client
/// certificate, all made for this run.
struct TestCertificates {
    dir: tempfile::TempDir,
}

impl TestCertificates {
    fn generate() -> TestCertificates {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };

        let dir = tempfile::tempdir().expect("temp dir");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Python's urllib3 verifies in OpenSSL's strict mode, which wants key
        // usages on the CA and an authority key id on the leaves.
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "hush test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("server params");
        server_params.use_authority_key_identifier_extension = true;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = server_params
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        let client_key = KeyPair::generate().expect("client key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "hush test client");
        client_params.use_authority_key_identifier_extension = true;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params
            .signed_by(&client_key, &ca)
            .expect("client certificate");

        let files = [
            ("ca.pem", ca.pem()),
            ("server.pem", server.pem()),
            ("server.key", server_key.serialize_pem()),
            ("client.pem", client.pem()),
            ("client.key", client_key.serialize_pem()),
        ];
        for (name, pem) in files {
            std::fs::write(dir.path().join(name), pem).expect("write PEM file");
        }
        TestCertificates { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn path_text(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Returns the `tls` and `auth` lines of the receiver configuration.
    fn receiver_yaml(&self, token_file: &Path) -> String {
        format!(
            "  tls:\n    cert_file: {}\n    key_file: {}\n    client_ca_file: {}\n  \
             auth:\n    bearer_token_file: {}\n",
            self.path_text("server.pem"),
            self.path_text("server.key"),
            self.path_text("ca.pem"),
            token_file.display(),
        )
    }

    /// Builds a rustls client configuration that trusts the test CA and
    /// presents the client certificate when `with_client_certificate` is set.
    fn client_config(
        &self,
        with_client_certificate: bool,
    ) -> Arc<tokio_rustls::rustls::ClientConfig> {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(self.path("ca.pem")).expect("CA PEM"))
            .expect("CA certificate");
        let builder =
            ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots);
        let mut config = match with_client_certificate {
            true => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_file(self.path("client.pem")).expect("PEM")],
                    PrivateKeyDer::from_pem_file(self.path("client.key")).expect("key PEM"),
                )
                .expect("client certificate"),
            false => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

const TEST_BEARER_TOKEN: &str = "test-token-7f3a";

fn start_secured_hop(downstream: &Downstream, certificates: &TestCertificates) -> Hop {
    let token_file = certificates.path("token");
    std::fs::write(&token_file, format!("{TEST_BEARER_TOKEN}\n")).expect("write token file");
    start_hop(downstream, &certificates.receiver_yaml(&token_file))
}

fn tls_arguments(certificates: &TestCertificates) -> Vec<String> {
    vec![
        "--ca-file".to_string(),
        certificates.path_text("ca.pem"),
        "--client-cert".to_string(),
        certificates.path_text("client.pem"),
        "--client-key".to_string(),
        certificates.path_text("client.key"),
        "--bearer-token".to_string(),
        TEST_BEARER_TOKEN.to_string(),
    ]
}

#[test]
fn sdk_tls_client_certificate_and_token() {
    let certificates = TestCertificates::generate();
    let downstream = Downstream::start();
    let mut hop = start_secured_hop(&downstream, &certificates);
    let tls = tls_arguments(&certificates);

    let mut grpc_arguments: Vec<&str> = vec!["--protocol", "grpc"];
    grpc_arguments.extend(tls.iter().map(String::as_str));
    let endpoint = format!("https://127.0.0.1:{}", hop.grpc_port);
    check_sdk_signals(&endpoint, &downstream, &grpc_arguments);

    downstream.clear();
    let mut http_arguments: Vec<&str> = vec!["--protocol", "http/protobuf"];
    http_arguments.extend(tls.iter().map(String::as_str));
    let endpoint = format!("https://127.0.0.1:{}", hop.http_port);
    check_sdk_signals(&endpoint, &downstream, &http_arguments);

    hop.agent.stop();
}

#[test]
fn tls_refuses_missing_certificate_and_token() {
    let certificates = TestCertificates::generate();
    let downstream = Downstream::start();
    let mut hop = start_secured_hop(&downstream, &certificates);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let body = sample_logs_request(1).encode_to_vec();

    let with_certificate = certificates.client_config(true);
    let headers = [("content-type", "application/x-protobuf")];
    let no_token = runtime
        .block_on(post_tls(
            hop.http_port,
            &headers,
            body.clone(),
            with_certificate.clone(),
        ))
        .expect("TLS request with a client certificate");
    assert_eq!(no_token.status, 401, "{no_token:?}");
    assert_eq!(no_token.header("www-authenticate"), Some("Bearer"));

    let wrong = [
        ("content-type", "application/x-protobuf"),
        ("authorization", "Bearer not-the-token"),
    ];
    let wrong_token = runtime
        .block_on(post_tls(
            hop.http_port,
            &wrong,
            body.clone(),
            with_certificate.clone(),
        ))
        .expect("TLS request with a client certificate");
    assert_eq!(wrong_token.status, 401, "{wrong_token:?}");

    let bearer = format!("Bearer {TEST_BEARER_TOKEN}");
    let good = [
        ("content-type", "application/x-protobuf"),
        ("authorization", bearer.as_str()),
    ];
    let accepted = runtime
        .block_on(post_tls(
            hop.http_port,
            &good,
            body.clone(),
            with_certificate,
        ))
        .expect("TLS request with a client certificate");
    assert_eq!(accepted.status, 200, "{accepted:?}");

    let without_certificate = certificates.client_config(false);
    let refused = runtime.block_on(post_tls(hop.http_port, &good, body, without_certificate));
    assert!(
        refused.is_err(),
        "a client without a certificate was served: {refused:?}"
    );

    let plaintext = runtime.block_on(post(hop.http_port, "/v1/logs", &good, Vec::new()));
    assert!(
        plaintext.is_err(),
        "a plaintext client was served: {plaintext:?}"
    );

    assert_eq!(
        downstream.log_records().len(),
        1,
        "only the accepted request arrived"
    );
    hop.agent.stop();
}

// ---------------------------------------------------------------------------
// Raw HTTP requests
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Decodes the `google.rpc.Status` body as protobuf: code (field 1) and
    /// message (field 2).
    fn rpc_status(&self) -> (i32, String) {
        #[derive(Clone, PartialEq, prost::Message)]
        struct RpcStatus {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
        }
        let status = RpcStatus::decode(self.body.as_slice())
            .unwrap_or_else(|err| panic!("the error body is no google.rpc.Status: {err}"));
        (status.code, status.message)
    }
}

async fn send<IO>(
    io: IO,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|err| format!("HTTP handshake failed: {err}"))?;
    tokio::spawn(connection);

    let mut request = http::Request::post(path).header("host", "127.0.0.1");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|err| err.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| format!("HTTP request failed: {err}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| format!("reading the response failed: {err}"))?
        .to_bytes()
        .to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

async fn post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|err| format!("connect failed: {err}"))?;
    send(stream, path, headers, body).await
}

async fn post_tls(
    port: u16,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    config: Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<Reply, String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|err| format!("connect failed: {err}"))?;
    let server_name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1")
        .expect("valid server name");
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, stream)
        .await
        .map_err(|err| format!("TLS handshake failed: {err}"))?;
    send(stream, "/v1/logs", headers, body).await
}

/// Builds a logs request with one record whose body names request `id`
/// and an e-mail address.
fn sample_logs_request(id: usize) -> ExportLogsServiceRequest {
    sample_logs_request_with_body(format!("request {id} from alice@example.com"))
}

fn sample_logs_request_with_body(body: String) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    severity_number: 9,
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(body)),
                    }),
                    trace_id: vec![5; 16],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

const PROTOBUF_HEADERS: [(&str, &str); 1] = [("content-type", "application/x-protobuf")];

const SMALL_LIMITS: &str = "  max_request_bytes: 50000\n  max_in_flight_bytes: 100000\n";

#[test]
fn http_status_codes_follow_spec() {
    let downstream = Downstream::start();
    let mut hop = start_hop(&downstream, SMALL_LIMITS);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let port = hop.http_port;
    let request = |path: &str, headers: &[(&str, &str)], body: Vec<u8>| {
        runtime
            .block_on(post(port, path, headers, body))
            .unwrap_or_else(|err| panic!("POST {path}: {err}"))
    };
    let protobuf = [("content-type", "application/x-protobuf")];
    let json = [("content-type", "application/json")];

    // Protobuf in, protobuf out, with no partial success.
    let reply = request(
        "/v1/logs",
        &protobuf,
        sample_logs_request(1).encode_to_vec(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
    let response = ExportLogsServiceResponse::decode(reply.body.as_slice()).expect("response");
    assert!(response.partial_success.is_none());

    // JSON in (hex ids, 64-bit integers as strings), JSON out, gzip too.
    let json_body = serde_json::json!({
        "resourceLogs": [{
            "scopeLogs": [{
                "logRecords": [{
                    "timeUnixNano": "1700000000000000001",
                    "severityNumber": 9,
                    "traceId": "0102030405060708090a0b0c0d0e0f10",
                    "spanId": "1112131415161718",
                    "body": { "stringValue": "json from bob@example.org" },
                    "attributes": [
                        { "key": "count", "value": { "intValue": "42" } },
                        { "key": "ratio", "value": { "doubleValue": 0.5 } }
                    ]
                }]
            }]
        }]
    })
    .to_string();
    let gzip_json = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let reply = request("/v1/logs", &gzip_json, gzip(json_body.as_bytes()));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let response: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON response");
    assert!(response.get("partialSuccess").is_none(), "{response}");
    let arrived = downstream
        .log_records()
        .into_iter()
        .find(|record| record.time_unix_nano == 1_700_000_000_000_000_001)
        .expect("the JSON record arrived");
    assert_eq!(arrived.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(arrived.span_id, (0x11..=0x18).collect::<Vec<u8>>());
    assert_eq!(arrived.severity_number, 9);
    let body = common::string_body(&arrived).expect("string body");
    assert!(body.starts_with("json from EMAIL_k1_"), "{body}");
    let count = common::attribute(&arrived.attributes, "count").expect("count attribute");
    assert_eq!(count.value, Some(Value::IntValue(42)));

    // Unsupported media types and encodings.
    let reply = request(
        "/v1/logs",
        &[("content-type", "text/plain")],
        b"hello".to_vec(),
    );
    assert_eq!(reply.status, 415, "{reply:?}");
    let brotli = [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "br"),
    ];
    let reply = request("/v1/logs", &brotli, Vec::new());
    assert_eq!(reply.status, 415, "{reply:?}");

    // Malformed bodies: 400 with a google.rpc.Status in the request's encoding.
    let reply = request("/v1/traces", &protobuf, vec![0x0a, 0x05, 0x0a, 0x03]);
    assert_eq!(reply.status, 400, "{reply:?}");
    let (code, message) = reply.rpc_status();
    assert_eq!(code, 3, "INVALID_ARGUMENT");
    assert!(message.contains("protobuf"), "{message}");
    let reply = request("/v1/metrics", &json, b"{\"resourceMetrics\": [".to_vec());
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let status: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON status");
    assert_eq!(status["code"], 3);
    let bad_id = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"xyz\"}]}]}]}";
    let reply = request("/v1/traces", &json, bad_id.as_bytes().to_vec());
    assert_eq!(reply.status, 400, "{reply:?}");
    let reply = request(
        "/v1/logs",
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        b"not gzip".to_vec(),
    );
    assert_eq!(reply.status, 400, "{reply:?}");

    // Too large: by the body, and by a small gzip body that expands.
    let large = sample_logs_request_with_body("x".repeat(70_000)).encode_to_vec();
    let reply = request("/v1/logs", &protobuf, large.clone());
    assert_eq!(reply.status, 413, "{reply:?}");
    let (code, _) = reply.rpc_status();
    assert_eq!(code, 8, "RESOURCE_EXHAUSTED");
    let gzip_protobuf = [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "gzip"),
    ];
    let bomb = gzip(&large);
    assert!(
        bomb.len() < 65536,
        "the compressed body is within the limit"
    );
    let reply = request("/v1/logs", &gzip_protobuf, bomb);
    assert_eq!(reply.status, 413, "{reply:?}");

    // Unknown paths and methods.
    let reply = request("/v1/profiles", &protobuf, Vec::new());
    assert_eq!(reply.status, 404, "{reply:?}");

    assert!(hop.agent.try_wait().is_none(), "hush exited");
    let arrived = downstream.log_records().len();
    assert_eq!(arrived, 2, "only the two valid log requests arrived");
    hop.agent.stop();
}

/// Sends `count` logs requests at once over HTTP, each with its own id, and
/// sends each reply with its id on the returned channel as it arrives.
fn post_many(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    count: usize,
) -> tokio::sync::mpsc::UnboundedReceiver<(usize, Reply)> {
    let (replies, received) = tokio::sync::mpsc::unbounded_channel();
    for id in 0..count {
        let body = sample_logs_request(id).encode_to_vec();
        let replies = replies.clone();
        runtime.spawn(async move {
            let reply = post(port, "/v1/logs", &PROTOBUF_HEADERS, body)
                .await
                .unwrap_or_else(|err| panic!("request {id}: {err}"));
            let _ = replies.send((id, reply));
        });
    }
    received
}

#[test]
fn full_queue_answers_retryable_errors() {
    let downstream = Downstream::start();
    downstream.set_unavailable(true);
    // One record per export request, so the exporter holds one request while
    // it retries and the others wait in the queue of 16.
    let mut hop = start_hop_with_exporter(&downstream, "", None, ", batch: { max_records: 1 }");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let requests = 30;

    // The downstream refuses everything, so accepted requests pile up in the
    // queue until it is full and the rest are turned away.
    let mut received = post_many(&runtime, hop.http_port, requests);
    let mut replies: Vec<Option<Reply>> = (0..requests).map(|_| None).collect();
    let first_busy = runtime.block_on(async {
        let wait_for_busy = async {
            while let Some((id, reply)) = received.recv().await {
                let busy = reply.status == 503;
                replies[id] = Some(reply);
                if busy {
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT, wait_for_busy).await
    });
    assert!(
        first_busy.is_ok(),
        "no request was turned away within {WAIT:?}"
    );

    // The queue is full now, and stays full while the downstream refuses.
    let grpc_status = runtime.block_on(async {
        let endpoint = format!("http://127.0.0.1:{}", hop.grpc_port);
        let mut client = opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient::connect(endpoint)
            .await
            .expect("connect to hush");
        let mut request = tonic::Request::new(sample_logs_request(1000));
        request.set_timeout(Duration::from_secs(10));
        client.export(request).await
    });
    let status = grpc_status.expect_err("a gRPC request was queued past the bound");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    downstream.set_unavailable(false);
    let all_replied = runtime.block_on(async {
        let wait_for_all = async {
            while replies.iter().any(Option::is_none) {
                let Some((id, reply)) = received.recv().await else {
                    return;
                };
                replies[id] = Some(reply);
            }
        };
        tokio::time::timeout(WAIT, wait_for_all).await
    });
    assert!(
        all_replied.is_ok(),
        "not every request got a reply within {WAIT:?}"
    );
    let replies: Vec<Reply> = replies
        .into_iter()
        .map(|reply| reply.expect("every request got a reply"))
        .collect();

    let accepted: Vec<usize> = (0..requests)
        .filter(|id| replies[*id].status == 200)
        .collect();
    let busy: Vec<usize> = (0..requests)
        .filter(|id| replies[*id].status == 503)
        .collect();
    assert_eq!(accepted.len() + busy.len(), requests, "{replies:?}");
    assert!(!accepted.is_empty(), "no request was accepted");
    for id in &busy {
        let reply = &replies[*id];
        assert_eq!(reply.header("retry-after"), Some("1"), "{reply:?}");
        assert_eq!(reply.rpc_status().0, 14, "UNAVAILABLE");
    }

    // Every accepted request arrived exactly once; no turned-away one did.
    let bodies = downstream.log_bodies();
    for id in 0..requests {
        let prefix = format!("request {id} from ");
        let copies = bodies
            .iter()
            .filter(|body| body.starts_with(&prefix))
            .count();
        let expected = usize::from(accepted.contains(&id));
        assert_eq!(copies, expected, "request {id} arrived {copies} times");
    }
    hop.agent.stop();
}

#[test]
fn in_flight_bound_turns_requests_away() {
    let downstream = Downstream::start();
    downstream.set_unavailable(true);
    let metrics_port = free_port();
    let mut hop = start_hop_with_metrics(&downstream, SMALL_LIMITS, Some(metrics_port));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let port = hop.http_port;
    let large = |id: usize| {
        sample_logs_request_with_body(format!("large {id} {}", "y".repeat(45_000))).encode_to_vec()
    };

    // Two large requests keep about 90 000 of the 100 000 bytes until the
    // downstream takes them, so a third one finds too few left. Both were
    // read once their records went through redaction.
    let first = runtime.spawn(post(port, "/v1/logs", &PROTOBUF_HEADERS, large(1)));
    let second = runtime.spawn(post(port, "/v1/logs", &PROTOBUF_HEADERS, large(2)));
    let deadline = std::time::Instant::now() + WAIT;
    while read_counter(metrics_port, "hush_records_redacted_total") != Some(2) {
        assert!(
            std::time::Instant::now() < deadline,
            "the two large requests were not read within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let third = runtime
        .block_on(async {
            let request = post(port, "/v1/logs", &PROTOBUF_HEADERS, large(3));
            tokio::time::timeout(WAIT, request).await
        })
        .expect("the third request got a reply in time")
        .expect("third request");
    assert_eq!(third.status, 503, "{third:?}");
    assert_eq!(third.header("retry-after"), Some("1"));
    let (code, message) = third.rpc_status();
    assert_eq!(code, 14, "UNAVAILABLE");
    assert!(message.contains("in flight"), "{message}");
    let throttled = read_counter(metrics_port, "hush_otlp_requests_throttled_total");
    assert_eq!(throttled, Some(1));

    downstream.set_unavailable(false);
    for pending in [first, second] {
        let reply = runtime.block_on(pending).expect("task").expect("request");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let fourth = runtime
        .block_on(post(port, "/v1/logs", &PROTOBUF_HEADERS, large(4)))
        .expect("fourth request");
    assert_eq!(fourth.status, 200, "the bytes were given back: {fourth:?}");

    let bodies = downstream.log_bodies();
    let mut arrived: Vec<&str> = bodies.iter().map(|body| &body[..7]).collect();
    arrived.sort();
    assert_eq!(arrived, ["large 1", "large 2", "large 4"]);
    hop.agent.stop();
}
