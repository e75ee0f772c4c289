//! A minimal OTLP/gRPC logs receiver for benchmarks. It accepts every logs
//! export request on 127.0.0.1, counts the log records, and exits once the
//! expected number has arrived. A script can then time a `hush run` from
//! its start to its last delivered record.
//!
//! Usage: `otlp_sink PORT EXPECTED_RECORDS [TIMEOUT_SECONDS]`
//!
//! PORT 0 takes a free port. Either way the sink prints `port=N` on
//! standard output once it listens, so a script learns the port from the
//! sink that bound it rather than guessing a free one. It prints
//! `records=N` on standard output and exits 0 when at least
//! EXPECTED_RECORDS arrived, or exits 1 after TIMEOUT_SECONDS (default 600).
//! It listens on 127.0.0.1 only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

struct CountingReceiver {
    records: Arc<AtomicU64>,
    expected: u64,
    done: Arc<tokio::sync::Notify>,
}

#[tonic::async_trait]
impl LogsService for CountingReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let count: usize = request
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .map(|scope| scope.log_records.len())
            .sum();
        let total = self.records.fetch_add(count as u64, Ordering::SeqCst) + count as u64;
        if total >= self.expected {
            self.done.notify_one();
        }
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

fn argument(position: usize, name: &str, default: Option<u64>) -> u64 {
    match std::env::args().nth(position) {
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("invalid {name} {text:?}: expected a whole number");
            std::process::exit(2);
        }),
        None => default.unwrap_or_else(|| {
            eprintln!("usage: otlp_sink PORT EXPECTED_RECORDS [TIMEOUT_SECONDS]");
            std::process::exit(2);
        }),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port = argument(1, "PORT", None);
    let expected = argument(2, "EXPECTED_RECORDS", None);
    let timeout = Duration::from_secs(argument(3, "TIMEOUT_SECONDS", Some(600)));
    let Ok(port) = u16::try_from(port) else {
        eprintln!("invalid PORT {port}: expected 0 to 65535");
        std::process::exit(2);
    };

    let records = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let receiver = CountingReceiver {
        records: records.clone(),
        expected,
        done: done.clone(),
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("failed to listen on 127.0.0.1:{port}: {err}");
            std::process::exit(1);
        }
    };
    match listener.local_addr() {
        Ok(address) => println!("port={}", address.port()),
        Err(err) => {
            eprintln!("failed to read the listening address: {err}");
            std::process::exit(1);
        }
    }
    // Without TCP_NODELAY, Nagle's algorithm holds back the small frames of
    // each response until the agent's delayed ACK, which adds tens of
    // milliseconds to every batch and would be measured as the agent's.
    let connections = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|stream| {
        let stream = stream?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    });
    let server = tonic::transport::Server::builder()
        .add_service(LogsServiceServer::new(receiver))
        .serve_with_incoming(connections);

    let finished = tokio::select! {
        result = server => {
            eprintln!("the server stopped: {result:?}");
            false
        }
        () = done.notified() => true,
        () = tokio::time::sleep(timeout) => false,
    };
    println!("records={}", records.load(Ordering::SeqCst));
    if !finished {
        eprintln!("timed out after {timeout:?} waiting for {expected} records");
        std::process::exit(1);
    }
}
