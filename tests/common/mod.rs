//! Helpers shared by the integration tests.
//!
//! - [`Downstream`]: an OTLP/gRPC receiver that records every logs, traces
//!   and metrics request, can reject requests with `UNAVAILABLE`, and can be stopped and restarted on
//!   the same port.
//! - [`HushProcess`]: the `hush` binary started with `run --config FILE`, its
//!   output captured to files.
//! - [`run_python_client`]: runs `tests/support/otlp_client.py` with the
//!   OpenTelemetry Python SDK from `<repo>/.venv`.
//! - [`free_port`], [`write_config`] and [`basic_config`] for test setup.
//!
//! Every server here listens on 127.0.0.1 and every client sends only to
//! 127.0.0.1.

// Each test crate compiles this module and uses only part of it.
#![allow(dead_code)]

use std::fs::File;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// Token key given to every `hush` started by the tests, as 64 hex digits.
pub const TEST_KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Interval between checks in the `wait_*` helpers.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Largest request the downstream decodes, in bytes. It is far above what
/// the tests send, so that the limit under test is always the agent's own.
const DOWNSTREAM_MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Downstream
// ---------------------------------------------------------------------------

/// Requests received by a [`Downstream`] and its failure switch, shared
/// with the gRPC services.
#[derive(Default)]
struct DownstreamState {
    logs: Mutex<Vec<ExportLogsServiceRequest>>,
    traces: Mutex<Vec<ExportTraceServiceRequest>>,
    metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    /// Reject every request with `UNAVAILABLE` while this is set.
    unavailable: AtomicBool,
    /// Reject every request with `UNAVAILABLE` until this instant.
    unavailable_until: Mutex<Option<Instant>>,
    rejected_requests: AtomicUsize,
}

impl DownstreamState {
    /// Returns an `UNAVAILABLE` status when the failure switch is on, and
    /// counts the rejection.
    fn check_available(&self) -> Result<(), Status> {
        let until = *lock(&self.unavailable_until);
        let timed_outage = until.is_some_and(|until| Instant::now() < until);
        if self.unavailable.load(Ordering::SeqCst) || timed_outage {
            self.rejected_requests.fetch_add(1, Ordering::SeqCst);
            return Err(Status::unavailable("test downstream is set to UNAVAILABLE"));
        }
        Ok(())
    }
}

/// Locks a mutex even when a panicking test thread poisoned it, so that one
/// failed assertion does not hide the recorded requests from the next.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct LogsReceiver(Arc<DownstreamState>);

#[tonic::async_trait]
impl LogsService for LogsReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.0.check_available()?;
        lock(&self.0.logs).push(request.into_inner());
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

struct TraceReceiver(Arc<DownstreamState>);

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.check_available()?;
        lock(&self.0.traces).push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

struct MetricsReceiver(Arc<DownstreamState>);

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.check_available()?;
        lock(&self.0.metrics).push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running server: the thread that owns its runtime, and the sender
/// that stops it.
struct ServerThread {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// An OTLP/gRPC collector for tests that records every logs and traces
/// request it accepts.
///
/// The server runs on its own thread with its own Tokio runtime, so the
/// type works the same from `#[test]` and `#[tokio::test]`. The methods
/// block the calling thread, so an async test that must keep its own
/// runtime running while it waits uses `wait_for_log_records_async`.
/// Requests rejected with `UNAVAILABLE` are not recorded.
pub struct Downstream {
    address: SocketAddr,
    state: Arc<DownstreamState>,
    server: Option<ServerThread>,
}

impl Downstream {
    /// Starts a downstream on a free port of 127.0.0.1.
    pub fn start() -> Downstream {
        Downstream::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts a downstream on `address`, which must be on 127.0.0.1.
    pub fn start_on(address: SocketAddr) -> Downstream {
        assert_eq!(
            address.ip().to_string(),
            "127.0.0.1",
            "the test downstream listens only on 127.0.0.1"
        );
        let state = Arc::new(DownstreamState::default());
        let (server, address) = spawn_server(address, state.clone());
        Downstream {
            address,
            state,
            server: Some(server),
        }
    }

    /// Returns the URL for OTLP clients, such as `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Returns a copy of every logs request accepted so far, in arrival
    /// order.
    pub fn logs(&self) -> Vec<ExportLogsServiceRequest> {
        lock(&self.state.logs).clone()
    }

    /// Returns a copy of the logs requests accepted after the first `skip`
    /// ones, in arrival order, so a caller can follow a long run without
    /// copying everything each time.
    pub fn logs_after(&self, skip: usize) -> Vec<ExportLogsServiceRequest> {
        let logs = lock(&self.state.logs);
        logs.get(skip..).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// Returns a copy of every traces request accepted so far, in arrival
    /// order.
    pub fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        lock(&self.state.traces).clone()
    }

    /// Returns a copy of every metrics request accepted so far, in arrival
    /// order.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        lock(&self.state.metrics).clone()
    }

    /// Waits until `accepted(requests)` holds for the requests of one
    /// signal, and returns them. Panics after `timeout`.
    pub fn wait_until<T: Clone>(
        &self,
        what: &str,
        requests: impl Fn() -> Vec<T>,
        accepted: impl Fn(&[T]) -> bool,
        timeout: Duration,
    ) -> Vec<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let current = requests();
            if accepted(&current) {
                return current;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} at the downstream {} \
                     ({} requests of that signal arrived, {} requests rejected with UNAVAILABLE)",
                    self.endpoint(),
                    current.len(),
                    self.rejected_requests(),
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Returns every log record accepted so far, in arrival order.
    pub fn log_records(&self) -> Vec<LogRecord> {
        log_records_of(&lock(&self.state.logs))
    }

    /// Returns every span accepted so far, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
        spans_of(&lock(&self.state.traces))
    }

    /// Returns the bodies of the log records that are strings, in arrival
    /// order. Records with another body type or no body are left out.
    pub fn log_bodies(&self) -> Vec<String> {
        self.log_records()
            .iter()
            .filter_map(string_body)
            .map(str::to_string)
            .collect()
    }

    /// Waits until at least `count` log records have arrived and returns all
    /// of them. Panics after `timeout`, naming how many arrived.
    pub fn wait_for_log_records(&self, count: usize, timeout: Duration) -> Vec<LogRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let records = self.log_records();
            if records.len() >= count {
                return records;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    self.shortfall_message("log records", count, records.len(), timeout)
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Async variant of [`Downstream::wait_for_log_records`] that sleeps on
    /// the caller's Tokio runtime instead of blocking its thread.
    pub async fn wait_for_log_records_async(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<LogRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let records = self.log_records();
            if records.len() >= count {
                return records;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    self.shortfall_message("log records", count, records.len(), timeout)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until at least `count` spans have arrived and returns all of
    /// them. Panics after `timeout`, naming how many arrived.
    pub fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<Span> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    self.shortfall_message("spans", count, spans.len(), timeout)
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn shortfall_message(
        &self,
        item_kind: &str,
        expected: usize,
        arrived: usize,
        timeout: Duration,
    ) -> String {
        format!(
            "timed out after {timeout:?} waiting for {expected} {item_kind} at the downstream \
             {}: {arrived} arrived ({} logs requests and {} traces requests accepted, \
             {} requests rejected with UNAVAILABLE)",
            self.endpoint(),
            lock(&self.state.logs).len(),
            lock(&self.state.traces).len(),
            self.rejected_requests(),
        )
    }

    /// Forgets every request received so far.
    pub fn clear(&self) {
        lock(&self.state.logs).clear();
        lock(&self.state.traces).clear();
        lock(&self.state.metrics).clear();
    }

    /// Makes the downstream reject every request with `UNAVAILABLE` (when
    /// `true`) until it is called again with `false`.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.state.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Makes the downstream reject every request with `UNAVAILABLE` for
    /// `duration` from now.
    pub fn unavailable_for(&self, duration: Duration) {
        *lock(&self.state.unavailable_until) = Some(Instant::now() + duration);
    }

    /// Returns how many requests were rejected with `UNAVAILABLE`.
    pub fn rejected_requests(&self) -> usize {
        self.state.rejected_requests.load(Ordering::SeqCst)
    }

    /// Stops the server and closes its listener and every open connection,
    /// as a crashed collector would. The port then refuses connections
    /// until [`Downstream::restart`]. Recorded requests are kept.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            // The receiver is gone only if the server thread already ended,
            // and the join below reports why.
            let _ = server.stop.send(());
            if let Err(panic) = server.thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Starts the server again on the same port after [`Downstream::stop`].
    /// Recorded requests and the `UNAVAILABLE` switch are kept.
    pub fn restart(&mut self) {
        assert!(
            self.server.is_none(),
            "Downstream::restart called while the downstream at {} is running",
            self.endpoint()
        );
        let (server, _) = spawn_server(self.address, self.state.clone());
        self.server = Some(server);
    }

    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            // A panic on the server thread is already printed on stderr, and
            // re-raising it here while a test unwinds would abort the process.
            let _ = server.thread.join();
        }
    }
}

/// Binds `address` and serves the logs and traces services on a new
/// thread. Returns once the listener is bound, with the bound address.
fn spawn_server(address: SocketAddr, state: Arc<DownstreamState>) -> (ServerThread, SocketAddr) {
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let (bound_sender, bound_receiver) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();

    let thread = std::thread::Builder::new()
        .name(format!("downstream-{}", address.port()))
        .spawn(move || {
            // A current-thread runtime runs the accept loop and every
            // connection task on this thread. Dropping it at the end of the
            // thread drops those tasks, which closes every connection.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("failed to build the downstream's Tokio runtime");
            runtime.block_on(async move {
                let listener = match bind_reusable(address) {
                    Ok(listener) => listener,
                    Err(err) => {
                        let _ = bound_sender.send(Err(err));
                        return;
                    }
                };
                let _ = bound_sender.send(listener.local_addr());
                serve(listener, state, stop_receiver).await;
            });
        })
        .expect("failed to spawn the downstream thread");

    let bound = bound_receiver
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|err| panic!("the downstream on {address} did not start: {err}"))
        .unwrap_or_else(|err| panic!("failed to bind the downstream on {address}: {err}"));
    let server = ServerThread {
        stop: stop_sender,
        thread,
    };
    (server, bound)
}

/// Binds a listener with `SO_REUSEADDR`, so a restarted downstream can take
/// its port back while connections of the stopped one are in `TIME_WAIT`.
fn bind_reusable(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(128)
}

async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<DownstreamState>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let logs = LogsServiceServer::new(LogsReceiver(state.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(DOWNSTREAM_MAX_REQUEST_BYTES);
    let traces = TraceServiceServer::new(TraceReceiver(state.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(DOWNSTREAM_MAX_REQUEST_BYTES);
    let metrics = MetricsServiceServer::new(MetricsReceiver(state))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(DOWNSTREAM_MAX_REQUEST_BYTES);
    // TCP_NODELAY as real collectors set it: without it, Nagle's algorithm
    // holds back the small frames of each response until the client's
    // delayed ACK, and every export waits tens of milliseconds.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |stream| {
            let stream = stream?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        },
    );
    let server = tonic::transport::Server::builder()
        .add_service(logs)
        .add_service(traces)
        .add_service(metrics)
        .serve_with_incoming(incoming);

    // No graceful shutdown: the server future is dropped when the stop
    // signal arrives, and the runtime drop closes open connections.
    tokio::select! {
        result = server => {
            if let Err(err) = result {
                panic!("the test downstream failed: {err}");
            }
        }
        _ = stop => {}
    }
}

// ---------------------------------------------------------------------------
// OTLP helpers
// ---------------------------------------------------------------------------

/// Returns a logs request with one record per string in `bodies`, under
/// one resource and one scope.
pub fn logs_request(bodies: &[String]) -> ExportLogsServiceRequest {
    let log_records = bodies
        .iter()
        .map(|body| LogRecord {
            body: Some(AnyValue {
                value: Some(Value::StringValue(body.clone())),
            }),
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

/// Returns every log record of `requests`, in order.
pub fn log_records_of(requests: &[ExportLogsServiceRequest]) -> Vec<LogRecord> {
    requests
        .iter()
        .flat_map(|request| &request.resource_logs)
        .flat_map(|resource_logs| &resource_logs.scope_logs)
        .flat_map(|scope_logs| scope_logs.log_records.iter().cloned())
        .collect()
}

/// Returns every span of `requests`, in order.
pub fn spans_of(requests: &[ExportTraceServiceRequest]) -> Vec<Span> {
    requests
        .iter()
        .flat_map(|request| &request.resource_spans)
        .flat_map(|resource_spans| &resource_spans.scope_spans)
        .flat_map(|scope_spans| scope_spans.spans.iter().cloned())
        .collect()
}

/// Returns the body of `record` when it is a string.
pub fn string_body(record: &LogRecord) -> Option<&str> {
    match record.body.as_ref()?.value.as_ref()? {
        Value::StringValue(text) => Some(text),
        _ => None,
    }
}

/// Returns the value of the attribute named `key`, if present.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
}

/// Converts an OTLP value to plain JSON: strings, numbers and booleans as
/// themselves, arrays as arrays, key-value lists as objects and bytes as
/// lower-case hex. An empty value becomes `null`, and a string table index
/// becomes `{"strindex": N}`.
pub fn any_value_to_json(value: &AnyValue) -> serde_json::Value {
    match &value.value {
        None => serde_json::Value::Null,
        Some(Value::StringValue(text)) => serde_json::Value::from(text.as_str()),
        Some(Value::BoolValue(flag)) => serde_json::Value::from(*flag),
        Some(Value::IntValue(number)) => serde_json::Value::from(*number),
        Some(Value::DoubleValue(number)) => serde_json::Value::from(*number),
        Some(Value::BytesValue(bytes)) => serde_json::Value::from(hex(bytes)),
        Some(Value::ArrayValue(array)) => {
            serde_json::Value::Array(array.values.iter().map(any_value_to_json).collect())
        }
        Some(Value::KvlistValue(list)) => attributes_to_json(&list.values),
        // An index into a profile's string table, which only the profiles
        // signal uses. It is kept distinct from a string value.
        Some(Value::StringValueStrindex(index)) => serde_json::json!({ "strindex": index }),
    }
}

/// Converts OTLP attributes to a JSON object, with [`any_value_to_json`] for
/// each value.
pub fn attributes_to_json(attributes: &[KeyValue]) -> serde_json::Value {
    let object = attributes
        .iter()
        .map(|attribute| {
            let value = attribute
                .value
                .as_ref()
                .map_or(serde_json::Value::Null, any_value_to_json);
            (attribute.key.clone(), value)
        })
        .collect();
    serde_json::Value::Object(object)
}

/// Returns `bytes` as lower-case hex, the form trace and span ids are
/// printed in.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Returns the JSON form of an OTLP message, for assertions that search
/// all of its strings and for failure messages.
pub fn to_json<T: serde::Serialize>(message: &T) -> serde_json::Value {
    serde_json::to_value(message).expect("OTLP messages serialize to JSON")
}

// ---------------------------------------------------------------------------
// Ports and configuration files
// ---------------------------------------------------------------------------

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// NOTE: the port is released before it is returned, so another process can
/// take it before the caller binds it. Bind it soon.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("bound listener has an address")
        .port()
}

/// Writes `yaml` to `dir/hush.yaml` and returns the path.
pub fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("hush.yaml");
    std::fs::write(&path, yaml)
        .unwrap_or_else(|err| panic!("failed to write config {}: {err}", path.display()));
    path
}

/// Returns a configuration that keeps its state in `root/state`, tails
/// `root/logs/*.log`, receives OTLP/gRPC on `127.0.0.1:grpc_port` and
/// exports to `downstream_endpoint`. The metrics endpoint listens on
/// `127.0.0.1:metrics_port`, or is disabled when it is `None`, because its
/// fixed default port would clash between tests running in parallel.
/// Creates `root/logs`.
pub fn basic_config(
    root: &Path,
    grpc_port: u16,
    downstream_endpoint: &str,
    metrics_port: Option<u16>,
) -> String {
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs)
        .unwrap_or_else(|err| panic!("failed to create {}: {err}", logs.display()));
    let metrics_listen = match metrics_port {
        Some(port) => format!("127.0.0.1:{port}"),
        None => "null".to_string(),
    };
    format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         tail: {{ include: [\"{logs}/*.log\"], poll_interval_ms: 50 }}\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{grpc_port}, http: null }}\n\
         exporter: {{ otlp: {{ endpoint: \"{downstream_endpoint}\" }} }}\n\
         telemetry: {{ listen: {metrics_listen} }}\n",
        state = root.join("state").display(),
        logs = logs.display(),
    )
}

// ---------------------------------------------------------------------------
// The hush process
// ---------------------------------------------------------------------------

/// The `hush` binary running `run --config FILE`, with `HUSH_KEY` set to
/// [`TEST_KEY_HEX`] and stdout and stderr captured to files. Dropping it
/// kills the process.
pub struct HushProcess {
    child: Child,
    exit_status: Option<ExitStatus>,
    config_path: PathBuf,
    /// `otlp_receiver.grpc` of the configuration, if it could be read.
    grpc_address: Option<SocketAddr>,
    output_dir: tempfile::TempDir,
}

impl HushProcess {
    /// Starts `hush run --config config_path`.
    pub fn start(config_path: &Path) -> HushProcess {
        HushProcess::start_with_env(config_path, &[])
    }

    /// Starts `hush run --config config_path` with extra environment
    /// variables, such as `RUST_LOG`.
    pub fn start_with_env(config_path: &Path, env: &[(&str, &str)]) -> HushProcess {
        let output_dir = tempfile::Builder::new()
            .prefix("hush-output-")
            .tempdir()
            .expect("failed to create a temporary directory for hush output");
        let stdout = File::create(output_dir.path().join("stdout")).expect("create stdout file");
        let stderr = File::create(output_dir.path().join("stderr")).expect("create stderr file");

        let mut command = Command::new(env!("CARGO_BIN_EXE_hush"));
        command
            .arg("run")
            .arg("--config")
            .arg(config_path)
            .env("HUSH_KEY", TEST_KEY_HEX)
            // Plain log lines are easier to search and to read in a failure
            // message than lines with ANSI color codes.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        remove_outside_targets(&mut command);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("failed to start {}: {err}", env!("CARGO_BIN_EXE_hush")));

        // A test may start hush with an invalid configuration on purpose, so
        // a configuration that does not load only disables the port check.
        let grpc_address = hush::config::Config::load(config_path)
            .ok()
            .and_then(|config| config.otlp_receiver.grpc)
            .map(|address| address.0);

        HushProcess {
            child,
            exit_status: None,
            config_path: config_path.to_path_buf(),
            grpc_address,
            output_dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Returns what the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.read_output("stdout")
    }

    /// Returns what the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.read_output("stderr")
    }

    fn read_output(&self, name: &str) -> String {
        let path = self.output_dir.path().join(name);
        match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => panic!("failed to read hush {name} from {}: {err}", path.display()),
        }
    }

    /// Waits until hush is ready and still running. When the configuration
    /// sets `otlp_receiver.grpc`, ready means that port accepts TCP
    /// connections, because the `hush started` line may come before the
    /// listener is bound. Otherwise ready means stderr contains the line
    /// `hush started`. Panics with the captured stderr when hush exits or
    /// `timeout` passes first.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                panic!(
                    "hush exited with {status} before it was ready\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            let ready = match self.grpc_address {
                Some(address) => {
                    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
                }
                None => self
                    .stderr()
                    .lines()
                    .any(|line| line.contains("hush started")),
            };
            // A process that exits right after it became ready is reported
            // here rather than by the first request of the test.
            if ready && self.try_wait().is_none() {
                return;
            }
            if Instant::now() >= deadline {
                let waited_for = match self.grpc_address {
                    Some(address) => format!("OTLP/gRPC port {address} to accept connections"),
                    None => "the 'hush started' line on stderr".to_string(),
                };
                panic!(
                    "hush was not ready after {timeout:?}: timed out waiting for \
                     {waited_for}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Returns the exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            self.exit_status = self
                .child
                .try_wait()
                .unwrap_or_else(|err| panic!("failed to check hush pid {}: {err}", self.pid()));
        }
        self.exit_status
    }

    /// Sends `signal` to the process, unless it has already exited.
    pub fn signal(&mut self, signal: libc::c_int) {
        if self.try_wait().is_some() {
            return;
        }
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits in pid_t");
        // SAFETY: kill(2) takes plain integers and touches no memory of this
        // process. The child is not yet reaped (try_wait above returned
        // None), so the pid still names it.
        let result = unsafe { libc::kill(pid, signal) };
        if result != 0 {
            let err = std::io::Error::last_os_error();
            panic!("failed to send signal {signal} to hush pid {pid}: {err}");
        }
    }

    /// Sends SIGTERM and waits up to 10 s for the process to exit. Returns
    /// the exit status. Panics with the captured stderr, after SIGKILL, when
    /// the process is still running after 10 s.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match self.wait_exit(Duration::from_secs(10)) {
            Some(status) => status,
            None => {
                self.kill();
                panic!(
                    "hush did not exit within 10 s of SIGTERM and was killed\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// Sends SIGKILL and waits for the process to exit.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.try_wait() {
            return status;
        }
        if let Err(err) = self.child.kill()
            && err.kind() != ErrorKind::InvalidInput
        {
            panic!("failed to kill hush pid {}: {err}", self.pid());
        }
        let status = self
            .child
            .wait()
            .unwrap_or_else(|err| panic!("failed to wait for hush pid {}: {err}", self.pid()));
        self.exit_status = Some(status);
        status
    }

    /// Waits up to `timeout` for the process to exit and returns its status,
    /// or `None` when it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for HushProcess {
    fn drop(&mut self) {
        if self.exit_status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Removes the variables through which a child process could pick a target
/// other than the one the test passes: OpenTelemetry SDK settings and
/// proxies.
fn remove_outside_targets(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let lower = name.to_ascii_lowercase();
        if name.starts_with("OTEL_") || lower.ends_with("_proxy") {
            command.env_remove(name);
        }
    }
}

// ---------------------------------------------------------------------------
// The Python OpenTelemetry SDK client
// ---------------------------------------------------------------------------

/// Returns the root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns `<repo>/.venv/bin/python`. Panics when it is missing, because a
/// test that needs the Python SDK must fail rather than pass without it.
pub fn python_interpreter() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-python-env to create the virtual environment \
         with the OpenTelemetry Python SDK",
        python.display()
    );
    python
}

/// What `tests/support/otlp_client.py` printed: the JSON description of the
/// records and spans it sent.
pub struct PythonClientRun {
    pub summary: serde_json::Value,
    pub stderr: String,
    pub duration: Duration,
}

/// Runs `tests/support/otlp_client.py` against `endpoint` over gRPC,
/// sending the given comma-separated `signals` (`logs`, `traces`,
/// `metrics`). Panics with the script's output when it does not exit 0
/// within 120 s.
pub fn run_python_client(endpoint: &str, signals: &str) -> PythonClientRun {
    run_python_client_with(endpoint, signals, &[])
}

/// Runs the client like [`run_python_client`], with more arguments for the
/// script, such as `--protocol http/json` or `--ca-file PATH`.
pub fn run_python_client_with(
    endpoint: &str,
    signals: &str,
    arguments: &[&str],
) -> PythonClientRun {
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("https://127.0.0.1:"),
        "the Python client sends only to 127.0.0.1, got endpoint {endpoint}"
    );
    let script = repo_root().join("tests/support/otlp_client.py");
    let output_dir = tempfile::Builder::new()
        .prefix("otlp-client-")
        .tempdir()
        .expect("failed to create a temporary directory for the client output");
    let stdout_path = output_dir.path().join("stdout");
    let stderr_path = output_dir.path().join("stderr");

    let mut command = Command::new(python_interpreter());
    command
        .arg(&script)
        .arg("--endpoint")
        .arg(endpoint)
        .arg("--signals")
        .arg(signals)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create client stdout file"))
        .stderr(File::create(&stderr_path).expect("create client stderr file"));
    remove_outside_targets(&mut command);
    // The script replaces OTEL_ variables itself as well; setting them here
    // also covers anything the interpreter imports before main() runs.
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_INSECURE", "true")
        .env("OTEL_TRACES_EXPORTER", "none")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_LOGS_EXPORTER", "none")
        .env("no_proxy", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1");

    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("failed to start {}: {err}", script.display()));
    let limit = Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .expect("failed to wait for the Python client")
        {
            break status;
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the Python client timed out after {limit:?}\n--- stderr ---\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let duration = started.elapsed();

    let stdout = std::fs::read_to_string(&stdout_path).expect("read client stdout");
    let stderr = std::fs::read_to_string(&stderr_path).expect("read client stderr");
    assert!(
        status.success(),
        "the Python client exited with {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    let summary = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("the Python client printed invalid JSON: {err}\n--- stdout ---\n{stdout}")
    });
    PythonClientRun {
        summary,
        stderr,
        duration,
    }
}

// ---------------------------------------------------------------------------
// Raw gRPC requests
// ---------------------------------------------------------------------------

/// Sends bytes that are already protobuf-encoded (or are meant not to be) as
/// a request body, so tests can check how a server treats malformed input.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;

struct DiscardDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawEncoder;
    type Decoder = DiscardDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DiscardDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for DiscardDecoder {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, Status> {
        use bytes::Buf;
        let remaining = src.remaining();
        src.advance(remaining);
        Ok(Some(()))
    }
}

/// Sends `body` as an OTLP logs export request to `127.0.0.1:port` and
/// returns the gRPC status.
pub async fn send_raw_logs_request(port: u16, body: Vec<u8>) -> Result<(), Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("valid endpoint")
        .connect()
        .await
        .map_err(|err| Status::unavailable(err.to_string()))?;
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|err| Status::unavailable(err.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    );
    client
        .unary(Request::new(body), path, RawCodec)
        .await
        .map(|_| ())
}

// ---------------------------------------------------------------------------
// The metrics endpoint
// ---------------------------------------------------------------------------

/// Returns the text of `GET /metrics` from hush's metrics endpoint on
/// `127.0.0.1:port`, read over a plain HTTP/1.0 connection.
pub async fn fetch_metrics(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|err| panic!("failed to connect to the metrics port {port}: {err}"));
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("failed to send the metrics request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("failed to read the metrics response");
    match response.split_once("\r\n\r\n") {
        Some((head, body))
            if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
        {
            body.to_string()
        }
        _ => panic!("unexpected metrics response:\n{response}"),
    }
}
