//! Throughput and latency of the whole hop: an OTLP/gRPC client sends log
//! records to the release `hush` binary, which redacts them and exports
//! them to an OTLP/gRPC downstream in this process.
//!
//! Run with `cargo bench --bench hop` (or `scripts/bench-hop`). hush is
//! pinned to one core (the last one) and this process, which plays both
//! client and downstream, to the others. Two configurations of the same
//! binary run in alternation, `ROUNDS` times each:
//!
//! - `pass_through`: every detector kind disabled, so records cross the hop
//!   unchanged. It is the baseline.
//! - `redact`: the built-in detectors.
//!
//! Each run measures:
//!
//! - latency: `LATENCY_REQUESTS` requests of 100 log records sent one at a
//!   time; the time from sending a request to hush's `OK`, which hush sends
//!   after the downstream accepted the records. p50 and p99.
//! - throughput: `CLIENTS` clients sending 100-record requests for
//!   `THROUGHPUT_TIME`; records acknowledged per second.
//!
//! Before measuring, each run checks one request end to end: unchanged by
//! `pass_through`, and changed by `redact`. The batch delay is
//! 0 (`exporter.batch.max_delay_ms`), so latency is the hop's own work.
//! Records are consecutive lines of the loghub samples (see
//! `benches/corpus`).

mod corpus;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

const RECORDS_PER_REQUEST: usize = 100;
const ROUNDS: usize = 3;
const WARM_UP_REQUESTS: usize = 50;
const LATENCY_REQUESTS: usize = 500;
const CLIENTS: usize = 8;
const THROUGHPUT_TIME: Duration = Duration::from_secs(5);
const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    PassThrough,
    Redact,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::PassThrough => "pass_through",
            Mode::Redact => "redact",
        }
    }
}

struct RunResult {
    p50: Duration,
    p99: Duration,
    records_per_second: f64,
}

/// The downstream: accepts every request, counts records and keeps the
/// last request for the end-to-end check.
#[derive(Default)]
struct Sink {
    records: AtomicU64,
    last: std::sync::Mutex<Option<ExportLogsServiceRequest>>,
}

#[derive(Clone)]
struct SinkService(Arc<Sink>);

#[tonic::async_trait]
impl LogsService for SinkService {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let records: usize = request
            .resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .map(|scope| scope.log_records.len())
            .sum();
        self.0.records.fetch_add(records as u64, Ordering::Relaxed);
        *self.0.last.lock().unwrap() = Some(request);
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then this only checks that it builds.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hush_core = cores - 1;
    if cores > 1 {
        pin_to_cores(&(0..hush_core).collect::<Vec<_>>()).expect("pin the bench process");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("bench runtime");
    runtime.block_on(run(hush_core));
}

async fn run(hush_core: usize) {
    let lines = corpus::load_corpus();
    let requests: Arc<Vec<ExportLogsServiceRequest>> = Arc::new(
        lines
            .chunks(RECORDS_PER_REQUEST)
            .filter(|chunk| chunk.len() == RECORDS_PER_REQUEST)
            .map(request_of)
            .collect(),
    );
    let sink = Arc::new(Sink::default());
    let downstream_port = start_downstream(sink.clone()).await;
    let work = tempfile::tempdir().expect("temp dir");
    let disabled = all_kinds();

    eprintln!(
        "hop bench: {} requests of {RECORDS_PER_REQUEST} records, hush on core {hush_core}",
        requests.len()
    );
    let mut results: Vec<(Mode, RunResult)> = Vec::new();
    for round in 0..ROUNDS {
        for mode in [Mode::PassThrough, Mode::Redact] {
            let config = write_config(work.path(), mode, downstream_port, &disabled);
            let (mut hush, port) = start_hush(&config, hush_core, work.path());
            check_end_to_end(port, &sink, &check_request(&lines), mode).await;
            let result = measure(port, &requests).await;
            eprintln!(
                "round {round} {:>12}: p50 {:>8.3} ms  p99 {:>8.3} ms  {:>9.0} records/s",
                mode.name(),
                millis(result.p50),
                millis(result.p99),
                result.records_per_second
            );
            stop(&mut hush);
            results.push((mode, result));
        }
    }
    print_summary(&results);
}

fn request_of(lines: &[String]) -> ExportLogsServiceRequest {
    let log_records = lines
        .iter()
        .map(|line| LogRecord {
            body: Some(AnyValue {
                value: Some(Value::StringValue(line.clone())),
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

/// Builds the check request: the first lines of the corpus and one line
/// with an e-mail address, so there is something to redact in any corpus.
fn check_request(lines: &[String]) -> ExportLogsServiceRequest {
    let mut sample: Vec<String> = lines
        .iter()
        .take(RECORDS_PER_REQUEST - 1)
        .cloned()
        .collect();
    sample.push("password reset sent to alice@example.com".to_string());
    request_of(&sample)
}

/// Lists every kind of the built-in detectors and key lists, to disable
/// them all.
fn all_kinds() -> Vec<String> {
    let engine = hush::detect::Engine::builtin(&Default::default()).expect("built-in pack");
    engine
        .kind_names()
        .map(|(_, name)| name.to_string())
        .collect()
}

async fn start_downstream(sink: Arc<Sink>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the downstream");
    let port = listener.local_addr().unwrap().port();
    let server = tonic::transport::Server::builder()
        .add_service(LogsServiceServer::new(SinkService(sink)).max_decoding_message_size(64 << 20))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    port
}

fn write_config(dir: &Path, mode: Mode, downstream_port: u16, disabled: &[String]) -> String {
    let disable = match mode {
        Mode::PassThrough => format!("[{}]", disabled.join(", ")),
        Mode::Redact => "[]".to_string(),
    };
    let receiver_port = free_port();
    let yaml = format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         tail: {{ include: [] }}\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{receiver_port}, http: null }}\n\
         telemetry: {{ listen: null }}\n\
         detect: {{ disable: {disable} }}\n\
         exporter:\n  otlp: {{ endpoint: \"http://127.0.0.1:{downstream_port}\" }}\n  \
         batch: {{ max_delay_ms: 0 }}\n",
        state = dir.join("state").display(),
    );
    let path = dir.join(format!("{}.yaml", mode.name()));
    std::fs::write(&path, yaml).expect("write the config");
    path.display().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Starts hush pinned to `core` and waits until its receiver accepts
/// connections.
fn start_hush(config: &str, core: usize, dir: &Path) -> (Child, u16) {
    let text = std::fs::read_to_string(config).unwrap();
    let port: u16 = text
        .split("grpc: 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .expect("the config names the receiver port");
    let stderr = std::fs::File::create(dir.join("hush.stderr")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hush"));
    command
        .args(["run", "--config", config])
        .env("HUSH_KEY", KEY_HEX)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls sched_setaffinity, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || pin_to_cores(&[core]));
    }
    let mut child = command.spawn().expect("start hush");

    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "hush exited with {status}:\n{}",
                std::fs::read_to_string(dir.join("hush.stderr")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "hush did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

fn stop(child: &mut Child) {
    // SAFETY: kill(2) takes plain integers; the child is not yet reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
}

fn pin_to_cores(cores: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data, set up by CPU_ZERO and CPU_SET, and
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &core in cores {
            libc::CPU_SET(core, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

async fn connect(port: u16) -> LogsServiceClient<tonic::transport::Channel> {
    LogsServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to hush")
        .max_decoding_message_size(64 << 20)
}

/// Sends one request and checks what reaches the downstream: the same
/// bodies for `pass_through`, bodies with tokens for `redact`.
async fn check_end_to_end(port: u16, sink: &Sink, request: &ExportLogsServiceRequest, mode: Mode) {
    let mut client = connect(port).await;
    client
        .export(request.clone())
        .await
        .expect("hush accepts the request");
    let received = sink
        .last
        .lock()
        .unwrap()
        .take()
        .expect("the downstream got it");
    let bodies = |request: &ExportLogsServiceRequest| -> Vec<String> {
        request.resource_logs[0].scope_logs[0]
            .log_records
            .iter()
            .map(|record| format!("{:?}", record.body))
            .collect()
    };
    let changed = bodies(request)
        .iter()
        .zip(bodies(&received))
        .filter(|(sent, arrived)| *sent != arrived)
        .count();
    match mode {
        Mode::PassThrough => assert_eq!(changed, 0, "pass_through changed records"),
        Mode::Redact => assert!(changed > 0, "redact changed no record of the first request"),
    }
}

async fn measure(port: u16, requests: &Arc<Vec<ExportLogsServiceRequest>>) -> RunResult {
    let mut client = connect(port).await;
    for request in requests.iter().cycle().take(WARM_UP_REQUESTS) {
        client
            .export(request.clone())
            .await
            .expect("warm-up request");
    }

    let mut latencies = Vec::with_capacity(LATENCY_REQUESTS);
    for request in requests.iter().cycle().take(LATENCY_REQUESTS) {
        let request = request.clone();
        let started = Instant::now();
        client.export(request).await.expect("latency request");
        latencies.push(started.elapsed());
    }
    latencies.sort();

    let records = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let mut clients = Vec::new();
    for offset in 0..CLIENTS {
        let requests = requests.clone();
        let records = records.clone();
        let running = running.clone();
        clients.push(tokio::spawn(async move {
            let mut client = connect(port).await;
            let mut index = offset;
            while running.load(Ordering::Relaxed) {
                let request = requests[index % requests.len()].clone();
                client.export(request).await.expect("throughput request");
                records.fetch_add(RECORDS_PER_REQUEST as u64, Ordering::Relaxed);
                index += CLIENTS;
            }
        }));
    }
    tokio::time::sleep(THROUGHPUT_TIME).await;
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    let elapsed = started.elapsed().as_secs_f64();

    RunResult {
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        records_per_second: records.load(Ordering::Relaxed) as f64 / elapsed,
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn print_summary(results: &[(Mode, RunResult)]) {
    let of = |mode: Mode, pick: &dyn Fn(&RunResult) -> f64| -> f64 {
        median(
            results
                .iter()
                .filter(|(m, _)| *m == mode)
                .map(|(_, result)| pick(result))
                .collect(),
        )
    };
    let p50 = |result: &RunResult| millis(result.p50);
    let p99 = |result: &RunResult| millis(result.p99);
    let rate = |result: &RunResult| result.records_per_second;

    println!("\nmedians of {ROUNDS} rounds:");
    println!(
        "{:>12} | {:>10} | {:>10} | {:>12}",
        "case", "p50 ms", "p99 ms", "records/s"
    );
    for mode in [Mode::PassThrough, Mode::Redact] {
        println!(
            "{:>12} | {:>10.3} | {:>10.3} | {:>12.0}",
            mode.name(),
            of(mode, &p50),
            of(mode, &p99),
            of(mode, &rate)
        );
    }
    let base = Mode::PassThrough;
    println!(
        "redact vs pass_through: p50 +{:.3} ms ({:.2}x), p99 +{:.3} ms ({:.2}x), throughput {:.2}x",
        of(Mode::Redact, &p50) - of(base, &p50),
        of(Mode::Redact, &p50) / of(base, &p50),
        of(Mode::Redact, &p99) - of(base, &p99),
        of(Mode::Redact, &p99) / of(base, &p99),
        of(Mode::Redact, &rate) / of(base, &rate),
    );
}
