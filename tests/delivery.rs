//! The exporter side of the real `hush` binary: OTLP/HTTP with gzip and
//! headers, gRPC over TLS with a client certificate, the downstream's retry
//! hints, partial success, batching, and the reply to a request that finds the queue
//! full.
//!
//! Every downstream here is started by the test on 127.0.0.1, scripted to
//! answer as a real collector can, and records what it received.

mod common;

use std::collections::VecDeque;
use std::io::Read as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{
    Downstream, HushProcess, free_port, log_records_of, logs_request, string_body, write_config,
};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

const WAIT: Duration = Duration::from_secs(30);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------
// Requests and the hush process
// ---------------------------------------------------------------------------

fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix} {i}")).collect()
}

async fn send_logs(port: u16, bodies: &[String]) -> Result<(), tonic::Status> {
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .map_err(|err| tonic::Status::unavailable(err.to_string()))?;
    client.export(logs_request(bodies)).await.map(|_| ())
}

/// Starts hush receiving OTLP/gRPC on a free port, with `exporter` as the
/// `exporter` section (YAML, indented by two spaces) and metrics served on
/// `metrics_port`.
fn start_hush(
    root: &Path,
    exporter: &str,
    metrics_port: u16,
    env: &[(&str, &str)],
) -> (HushProcess, u16) {
    let port = free_port();
    let yaml = format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{port}, http: null }}\n\
         telemetry: {{ listen: 127.0.0.1:{metrics_port} }}\n\
         exporter:\n{exporter}",
        state = root.join("state").display(),
    );
    let config = write_config(root, &yaml);
    let mut agent = HushProcess::start_with_env(&config, env);
    agent.wait_ready(WAIT);
    (agent, port)
}

/// Reads one counter or gauge from hush's `/metrics`.
async fn metric(metrics_port: u16, name: &str) -> u64 {
    let text = common::fetch_metrics(metrics_port).await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
        .parse()
        .expect("metric value is a number")
}

// ---------------------------------------------------------------------------
// A scripted OTLP/HTTP downstream
// ---------------------------------------------------------------------------

struct HttpRequest {
    path: String,
    headers: HeaderMap,
    /// The body after gzip decoding, when it was compressed.
    body: Vec<u8>,
    at: Instant,
}

/// One reply of the HTTP downstream: a status, an optional `Retry-After`
/// value, and a protobuf body.
struct HttpAnswer {
    status: u16,
    retry_after: Option<&'static str>,
    body: Vec<u8>,
}

#[derive(Default)]
struct HttpDownstreamState {
    requests: Mutex<Vec<HttpRequest>>,
    /// Replies to give, in order. Once the script is empty, every request
    /// gets 200 with an empty body.
    script: Mutex<VecDeque<HttpAnswer>>,
}

struct HttpDownstream {
    port: u16,
    state: Arc<HttpDownstreamState>,
}

impl HttpDownstream {
    async fn start(script: Vec<HttpAnswer>) -> HttpDownstream {
        let state = Arc::new(HttpDownstreamState::default());
        lock(&state.script).extend(script);
        let app = axum::Router::new()
            .fallback(record_http_request)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        HttpDownstream { port, state }
    }

    async fn wait_for_requests(&self, count: usize) {
        let deadline = Instant::now() + WAIT;
        while lock(&self.state.requests).len() < count {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} HTTP requests, got {}",
                lock(&self.state.requests).len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn record_http_request(
    State(state): State<Arc<HttpDownstreamState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let gzipped = headers
        .get("content-encoding")
        .is_some_and(|value| value == "gzip");
    let body = match gzipped {
        true => {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut decoded)
                .expect("the body is valid gzip");
            decoded
        }
        false => body.to_vec(),
    };
    lock(&state.requests).push(HttpRequest {
        path: uri.path().to_string(),
        headers,
        body,
        at: Instant::now(),
    });

    let answer = lock(&state.script).pop_front();
    let Some(answer) = answer else {
        return (StatusCode::OK, [("content-type", "application/x-protobuf")]).into_response();
    };
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        [("content-type", "application/x-protobuf")],
        answer.body,
    )
        .into_response();
    if let Some(retry_after) = answer.retry_after {
        response
            .headers_mut()
            .insert("retry-after", retry_after.parse().unwrap());
    }
    response
}

fn http_exporter(port: u16, extra: &str) -> String {
    format!(
        "  otlp:\n    endpoint: http://127.0.0.1:{port}/collector\n    protocol: http/protobuf\n{extra}  \
         retry: {{ initial_backoff_ms: 50, max_backoff_ms: 200 }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_export_sends_gzip_protobuf_with_headers() {
    let root = tempfile::tempdir().unwrap();
    let downstream = HttpDownstream::start(Vec::new()).await;
    let token_file = root.path().join("token");
    std::fs::write(&token_file, "Bearer file-secret-7Qx\n").unwrap();
    let extra = format!(
        "    compression: gzip\n    headers:\n      - name: authorization\n        value_file: {}\n      \
         - name: x-tenant\n        value_env: TEST_TENANT\n",
        token_file.display()
    );
    let metrics_port = free_port();
    let (mut agent, port) = start_hush(
        root.path(),
        &http_exporter(downstream.port, &extra),
        metrics_port,
        &[("TEST_TENANT", "tenant-from-env")],
    );

    send_logs(port, &["mail alice@example.com please".to_string()])
        .await
        .expect("hush accepts the logs");
    let mut spans = TraceServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "checkout".to_string(),
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    spans.export(traces).await.expect("hush accepts the spans");
    downstream.wait_for_requests(2).await;

    let requests: Vec<HttpRequest> = std::mem::take(&mut *lock(&downstream.state.requests));
    let paths: Vec<&str> = requests
        .iter()
        .map(|request| request.path.as_str())
        .collect();
    assert_eq!(paths, ["/collector/v1/logs", "/collector/v1/traces"]);
    for request in requests.iter() {
        assert_eq!(request.headers["content-type"], "application/x-protobuf");
        assert_eq!(request.headers["content-encoding"], "gzip");
        assert_eq!(request.headers["authorization"], "Bearer file-secret-7Qx");
        assert_eq!(request.headers["x-tenant"], "tenant-from-env");
    }
    let logs = ExportLogsServiceRequest::decode(&requests[0].body[..]).unwrap();
    let bodies: Vec<String> = log_records_of(&[logs])
        .iter()
        .filter_map(|record| string_body(record).map(str::to_string))
        .collect();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].starts_with("mail "), "{}", bodies[0]);
    assert!(!bodies[0].contains("alice@example.com"), "{}", bodies[0]);
    let traces = ExportTraceServiceRequest::decode(&requests[1].body[..]).unwrap();
    assert_eq!(
        traces.resource_spans[0].scope_spans[0].spans[0].name,
        "checkout"
    );

    assert_eq!(metric(metrics_port, "hush_export_batches_total").await, 2);
    agent.stop();
    assert!(
        !agent.stderr().contains("file-secret"),
        "{}",
        agent.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_retry_after_is_honoured() {
    let root = tempfile::tempdir().unwrap();
    let downstream = HttpDownstream::start(vec![HttpAnswer {
        status: 503,
        retry_after: Some("2"),
        body: Vec::new(),
    }])
    .await;
    let (_agent, port) = start_hush(
        root.path(),
        &http_exporter(downstream.port, ""),
        free_port(),
        &[],
    );

    send_logs(port, &numbered("retry", 3))
        .await
        .expect("hush delivers after the retry");

    let requests = lock(&downstream.state.requests);
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(10), "retried after {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_partial_success_counted_not_retried() {
    let root = tempfile::tempdir().unwrap();
    let partial = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: 2,
            error_message: "records too old".to_string(),
        }),
    };
    let downstream = HttpDownstream::start(vec![HttpAnswer {
        status: 200,
        retry_after: None,
        body: partial.encode_to_vec(),
    }])
    .await;
    let metrics_port = free_port();
    let (agent, port) = start_hush(
        root.path(),
        &http_exporter(downstream.port, ""),
        metrics_port,
        &[],
    );

    send_logs(port, &numbered("partial", 5))
        .await
        .expect("a partial success is a success for the client");

    assert_eq!(lock(&downstream.state.requests).len(), 1);
    assert_eq!(
        metric(metrics_port, "hush_export_records_rejected_total").await,
        2
    );
    assert_eq!(metric(metrics_port, "hush_export_records_total").await, 3);
    assert!(
        agent.stderr().contains("records too old"),
        "{}",
        agent.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bad_request_not_retried() {
    let root = tempfile::tempdir().unwrap();
    let status = tonic_types::pb::Status {
        code: 3,
        message: "unknown field".to_string(),
        details: Vec::new(),
    };
    let downstream = HttpDownstream::start(vec![HttpAnswer {
        status: 400,
        retry_after: None,
        body: status.encode_to_vec(),
    }])
    .await;
    let metrics_port = free_port();
    let (_agent, port) = start_hush(
        root.path(),
        &http_exporter(downstream.port, ""),
        metrics_port,
        &[],
    );

    let result = send_logs(port, &numbered("bad", 1)).await;

    let status = result.expect_err("the client learns of the rejection");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("unknown field"), "{status:?}");
    assert_eq!(lock(&downstream.state.requests).len(), 1);
    assert_eq!(
        metric(metrics_port, "hush_export_batches_dropped_total").await,
        1
    );
}

// ---------------------------------------------------------------------------
// A scripted OTLP/gRPC downstream
// ---------------------------------------------------------------------------

#[derive(Default)]
struct GrpcScript {
    answers: Mutex<VecDeque<tonic::Status>>,
    received: Mutex<Vec<(Instant, ExportLogsServiceRequest)>>,
    /// The `x-tenant` header of each request, empty when absent.
    tenants: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct ScriptedLogs(Arc<GrpcScript>);

#[tonic::async_trait]
impl LogsService for ScriptedLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let tenant = request
            .metadata()
            .get("x-tenant")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        lock(&self.0.tenants).push(tenant);
        lock(&self.0.received).push((Instant::now(), request.into_inner()));
        match lock(&self.0.answers).pop_front() {
            Some(status) => Err(status),
            None => Ok(tonic::Response::new(ExportLogsServiceResponse::default())),
        }
    }
}

/// Starts a gRPC logs downstream that fails with `answers` in order, then
/// accepts everything. With `tls`, it serves TLS and requires a client
/// certificate signed by the test CA.
async fn start_grpc_downstream(
    answers: Vec<tonic::Status>,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> (u16, Arc<GrpcScript>) {
    let script = Arc::new(GrpcScript::default());
    lock(&script.answers).extend(answers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).unwrap();
    }
    // Accepting gzip does not require it: plain requests are served too.
    let service = LogsServiceServer::new(ScriptedLogs(script.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let server = builder
        .add_service(service)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    (port, script)
}

fn grpc_exporter(endpoint: &str, extra: &str) -> String {
    format!(
        "  otlp:\n    endpoint: {endpoint}\n{extra}  retry: {{ initial_backoff_ms: 50, \
         max_backoff_ms: 200 }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_with_gzip_and_headers() {
    let root = tempfile::tempdir().unwrap();
    let (downstream_port, script) = start_grpc_downstream(Vec::new(), None).await;
    let extra =
        "    compression: gzip\n    headers:\n      - name: x-tenant\n        value: blue\n";
    let (_agent, port) = start_hush(
        root.path(),
        &grpc_exporter(&format!("http://127.0.0.1:{downstream_port}"), extra),
        free_port(),
        &[],
    );

    send_logs(port, &["mail ann@example.com".to_string()])
        .await
        .expect("hush delivers");

    let received = lock(&script.received);
    assert_eq!(received.len(), 1);
    let records = &received[0].1.resource_logs[0].scope_logs[0].log_records;
    let body = format!("{:?}", records[0].body);
    assert!(body.contains("mail EMAIL_k1_"), "{body}");
    assert!(!body.contains("ann@example.com"), "{body}");
    assert_eq!(*lock(&script.tenants), ["blue"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_retry_info_delays_retry() {
    let root = tempfile::tempdir().unwrap();
    let details = ErrorDetails::with_retry_info(Some(Duration::from_millis(1500)));
    let throttled =
        tonic::Status::with_error_details(Code::ResourceExhausted, "slow down", details);
    let (downstream_port, script) = start_grpc_downstream(vec![throttled], None).await;
    let (_agent, port) = start_hush(
        root.path(),
        &grpc_exporter(&format!("http://127.0.0.1:{downstream_port}"), ""),
        free_port(),
        &[],
    );

    send_logs(port, &numbered("throttled", 2))
        .await
        .expect("hush delivers after the hinted delay");

    let received = lock(&script.received);
    assert_eq!(received.len(), 2);
    let gap = received[1].0 - received[0].0;
    assert!(gap >= Duration::from_millis(1500), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(10), "retried after {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_resource_exhausted_without_hint_dropped() {
    let root = tempfile::tempdir().unwrap();
    let (downstream_port, script) = start_grpc_downstream(
        vec![tonic::Status::resource_exhausted("quota used up")],
        None,
    )
    .await;
    let metrics_port = free_port();
    let (_agent, port) = start_hush(
        root.path(),
        &grpc_exporter(&format!("http://127.0.0.1:{downstream_port}"), ""),
        metrics_port,
        &[],
    );

    let status = send_logs(port, &numbered("quota", 1))
        .await
        .expect_err("the rejection reaches the client");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(lock(&script.received).len(), 1);
    assert_eq!(
        metric(metrics_port, "hush_export_batches_dropped_total").await,
        1
    );
    assert_eq!(metric(metrics_port, "hush_export_retries_total").await, 0);
}

/// PEM files of a test CA, a server certificate for 127.0.0.1 and
/// `localhost`, and a client certificate, all signed by the CA.
struct TestPki {
    ca_cert: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hush test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hush agent");
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    TestPki {
        ca_cert: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_tls_with_client_certificate() {
    let root = tempfile::tempdir().unwrap();
    let pki = test_pki();
    let server_tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            &pki.server_cert,
            &pki.server_key,
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(&pki.ca_cert));
    let (downstream_port, script) = start_grpc_downstream(Vec::new(), Some(server_tls)).await;
    for (name, pem) in [
        ("ca.pem", &pki.ca_cert),
        ("client.pem", &pki.client_cert),
        ("client.key", &pki.client_key),
    ] {
        std::fs::write(root.path().join(name), pem).unwrap();
    }
    let extra = format!(
        "    tls:\n      ca_file: {dir}/ca.pem\n      cert_file: {dir}/client.pem\n      \
         key_file: {dir}/client.key\n",
        dir = root.path().display()
    );
    let (_agent, port) = start_hush(
        root.path(),
        &grpc_exporter(&format!("https://localhost:{downstream_port}"), &extra),
        free_port(),
        &[],
    );

    send_logs(port, &numbered("over tls", 4))
        .await
        .expect("hush delivers over TLS");

    let received = lock(&script.received);
    let records = log_records_of(&[received[0].1.clone()]);
    assert_eq!(records.len(), 4);
}

#[test]
fn missing_tls_file_stops_startup() {
    let root = tempfile::tempdir().unwrap();
    let yaml = format!(
        "data_dir: {state}\nkey: {{ env: HUSH_KEY }}\notlp_receiver: {{ grpc: null, http: null }}\n\
         tail: {{ include: [] }}\ntelemetry: {{ listen: null }}\nexporter:\n  otlp:\n    \
         endpoint: https://localhost:4317\n    tls:\n      ca_file: {dir}/absent-ca.pem\n",
        state = root.path().join("state").display(),
        dir = root.path().display(),
    );
    let config = write_config(root.path(), &yaml);
    let mut agent = HushProcess::start(&config);

    let status = agent.wait_exit(WAIT).expect("hush exits");

    assert!(!status.success());
    assert!(
        agent.stderr().contains("absent-ca.pem"),
        "{}",
        agent.stderr()
    );
}

// ---------------------------------------------------------------------------
// Batching and a full queue
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_combined_and_large_ones_split() {
    let root = tempfile::tempdir().unwrap();
    let downstream = Downstream::start();
    let exporter = format!(
        "  otlp: {{ endpoint: \"{}\" }}\n  batch: {{ max_records: 10, max_delay_ms: 500 }}\n",
        downstream.endpoint()
    );
    let (_agent, port) = start_hush(root.path(), &exporter, free_port(), &[]);

    // Four clients at once, two records each: one request downstream.
    let clients: Vec<_> = (0..4)
        .map(|client| {
            tokio::spawn(async move { send_logs(port, &numbered(&format!("c{client}"), 2)).await })
        })
        .collect();
    for client in clients {
        client.await.unwrap().expect("hush accepts the logs");
    }
    let combined = downstream.logs();
    downstream.clear();

    // One request of 25 records: three requests downstream.
    send_logs(port, &numbered("large", 25)).await.unwrap();
    let split = downstream.logs();

    assert!(combined.len() < 4, "{} requests downstream", combined.len());
    assert_eq!(log_records_of(&combined).len(), 8);
    let sizes: Vec<usize> = split
        .iter()
        .map(|request| log_records_of(std::slice::from_ref(request)).len())
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
    let bodies: Vec<String> = log_records_of(&split)
        .iter()
        .filter_map(|record| string_body(record).map(str::to_string))
        .collect();
    assert_eq!(bodies, numbered("large", 25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_unavailable_at_once() {
    let root = tempfile::tempdir().unwrap();
    let downstream = Downstream::start();
    downstream.set_unavailable(true);
    let exporter = format!(
        "  otlp: {{ endpoint: \"{}\" }}\n  batch: {{ max_delay_ms: 0 }}\n  queue: {{ kind: memory, \
         max_batches: 1 }}\n  retry: {{ initial_backoff_ms: 50, max_backoff_ms: 100 }}\n",
        downstream.endpoint()
    );
    let metrics_port = free_port();
    let (_agent, port) = start_hush(root.path(), &exporter, metrics_port, &[]);

    // The first batch is taken by the exporter, which retries it; the
    // second waits in the queue; the third finds the queue full.
    let first = tokio::spawn(async move { send_logs(port, &numbered("first", 1)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn(async move { send_logs(port, &numbered("second", 1)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let third = send_logs(port, &numbered("third", 1)).await;
    let answered_in = started.elapsed();

    let status = third.expect_err("a full queue turns the request away");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("full"), "{status:?}");
    assert!(answered_in < Duration::from_secs(2), "{answered_in:?}");
    assert_eq!(metric(metrics_port, "hush_queue_full_total").await, 1);

    downstream.set_unavailable(false);
    first.await.unwrap().expect("the first batch is delivered");
    second
        .await
        .unwrap()
        .expect("the second batch is delivered");
    let bodies = downstream.log_bodies();
    assert_eq!(bodies, ["first 0", "second 0"]);
}

// ---------------------------------------------------------------------------
// OTLP/HTTP over TLS
// ---------------------------------------------------------------------------

/// Starts an HTTPS/1.1 server on 127.0.0.1 that requires a client
/// certificate signed by the test CA, answers every request with an empty
/// 200, and records each request's path. Runs on its own thread.
fn start_https_downstream(pki: &TestPki) -> (u16, Arc<Mutex<Vec<String>>>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_cert.as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(pki.server_cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap(),
        )
        .unwrap();
    let config = Arc::new(config);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let paths = Arc::new(Mutex::new(Vec::new()));
    let recorded = paths.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream);
            // A handshake that fails (no client certificate) ends here.
            let Some(path) = read_http_request(&mut tls) else {
                continue;
            };
            lock(&recorded).push(path);
            let _ = std::io::Write::write_all(
                &mut tls,
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            tls.conn.send_close_notify();
            let _ = std::io::Write::flush(&mut tls);
        }
    });
    (port, paths)
}

/// Reads one HTTP/1.1 request with a `content-length` body and returns its
/// path, or `None` when the connection fails first.
fn read_http_request(stream: &mut impl std::io::Read) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        received.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while received.len() < head_end + length {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        received.extend_from_slice(&buffer[..read]);
    }
    head.split_whitespace().nth(1).map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_export_over_tls_with_client_certificate() {
    let root = tempfile::tempdir().unwrap();
    let pki = test_pki();
    let (downstream_port, paths) = start_https_downstream(&pki);
    for (name, pem) in [
        ("ca.pem", &pki.ca_cert),
        ("client.pem", &pki.client_cert),
        ("client.key", &pki.client_key),
    ] {
        std::fs::write(root.path().join(name), pem).unwrap();
    }
    let exporter = format!(
        "  otlp:\n    endpoint: https://localhost:{downstream_port}\n    protocol: http/protobuf\n    \
         tls:\n      ca_file: {dir}/ca.pem\n      cert_file: {dir}/client.pem\n      \
         key_file: {dir}/client.key\n",
        dir = root.path().display()
    );
    let (_agent, port) = start_hush(root.path(), &exporter, free_port(), &[]);

    send_logs(port, &numbered("https", 2))
        .await
        .expect("hush delivers over HTTPS");

    assert_eq!(*lock(&paths), ["/v1/logs"]);
}
