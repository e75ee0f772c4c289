//! Runs the real `hush` binary over a fake kubelet log tree and a real
//! OTLP/gRPC downstream: a CRI file with split lines, a Java stack trace
//! and a malformed line, a Docker json-file file, and a plain node log. The
//! downstream must get the merged and joined bodies with personal data
//! replaced, each container's resource attributes in its own
//! `ResourceLogs`, the stream attribute and the runtime's timestamps. Then
//! the agent is restarted while a stack trace is half written, and the
//! trace must still arrive whole and once.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Downstream, HushProcess, attribute, free_port, string_body, write_config};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

const WAIT: Duration = Duration::from_secs(30);

const SHOP_UID: &str = "6f1b2a3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c";
const WEB_UID: &str = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

// Runtime times of the lines, and the same instants in nanoseconds since
// the Unix epoch.
const T1: &str = "2024-05-01T10:00:00.100000000Z";
const T1_NANOS: u64 = 1_714_557_600_100_000_000;
const T2: &str = "2024-05-01T10:00:01.2Z";
const T2_NANOS: u64 = 1_714_557_601_200_000_000;
const T3: &str = "2024-05-01T12:00:02.3+02:00";
const T4: &str = "2024-05-01T10:00:04.000000001Z";
const T4_NANOS: u64 = 1_714_557_604_000_000_001;
const T5: &str = "2024-05-01T10:00:05.5Z";
const T5_NANOS: u64 = 1_714_557_605_500_000_000;
const T6: &str = "2024-05-01T10:00:06Z";
const T6_NANOS: u64 = 1_714_557_606_000_000_000;
const T7: &str = "2024-05-01T10:00:07Z";

/// The paths of the fake node's log files under a temporary root.
struct LogTree {
    root: PathBuf,
    cri: PathBuf,
    docker: PathBuf,
    node: PathBuf,
}

impl LogTree {
    fn create(root: &Path) -> LogTree {
        let pods = root.join("var/log/pods");
        let cri = pods
            .join(format!("shop_checkout-7d9f8b6c5-x2x4z_{SHOP_UID}"))
            .join("server/0.log");
        let docker = pods
            .join(format!("legacy_web-1_{WEB_UID}"))
            .join("nginx/2.log");
        for file in [&cri, &docker] {
            fs::create_dir_all(file.parent().unwrap()).expect("create a pod log directory");
        }
        LogTree {
            root: root.to_path_buf(),
            cri,
            docker,
            node: root.join("var/log/node.log"),
        }
    }
}

/// Tails the node logs and every pod with `format: auto`, and the `shop`
/// namespace's pods as CRI with Java-style multiline joining. The multiline
/// timeout is long, so records are sent only when the next one starts and
/// the test never races a timer.
fn config_yaml(tree: &LogTree, downstream_endpoint: &str) -> String {
    let logs = tree.root.join("var/log");
    format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         tail:\n\
         \x20 include: [\"{logs}/*.log\", \"{logs}/pods/*/*/*.log\"]\n\
         \x20 poll_interval_ms: 50\n\
         \x20 partial_line_timeout_ms: 200\n\
         \x20 sources:\n\
         \x20   - include: [\"{logs}/pods/shop_*/*/*.log\"]\n\
         \x20     format: cri\n\
         \x20     multiline:\n\
         \x20       start_pattern: '^\\d{{4}}-\\d{{2}}-\\d{{2}} '\n\
         \x20       timeout_ms: 60000\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{port}, http: null }}\n\
         telemetry: {{ listen: null }}\n\
         exporter: {{ otlp: {{ endpoint: \"{downstream_endpoint}\" }} }}\n",
        state = tree.root.join("state").display(),
        logs = logs.display(),
        port = free_port(),
    )
}

fn cri(time: &str, stream: &str, tag: &str, text: &str) -> String {
    format!("{time} {stream} {tag} {text}\n")
}

fn docker(time: &str, stream: &str, log: &str) -> String {
    let line = serde_json::json!({ "log": log, "stream": stream, "time": time });
    format!("{line}\n")
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|err| panic!("failed to open {}: {err}", path.display()));
    file.write_all(text.as_bytes()).expect("append to a log");
    file.sync_all().expect("sync a log");
}

/// A record as the downstream got it, with the attributes of its resource.
struct Received {
    resource: Vec<KeyValue>,
    record: LogRecord,
}

impl Received {
    fn body(&self) -> &str {
        string_body(&self.record).expect("tailed records have string bodies")
    }

    fn record_string(&self, key: &str) -> Option<&str> {
        string_value(attribute(&self.record.attributes, key)?.value.as_ref()?)
    }

    fn resource_string(&self, key: &str) -> Option<&str> {
        string_value(attribute(&self.resource, key)?.value.as_ref()?)
    }
}

fn string_value(value: &Value) -> Option<&str> {
    match value {
        Value::StringValue(text) => Some(text),
        _ => None,
    }
}

/// Returns every record received so far with its resource. Checks that no
/// two `ResourceLogs` of a request share a resource, and that a container's
/// `ResourceLogs` contains the records of one file only.
fn received(downstream: &Downstream) -> Vec<Received> {
    let mut all = Vec::new();
    for request in downstream.logs() {
        let mut resources_seen = Vec::new();
        for resource_logs in &request.resource_logs {
            let resource = resource_logs
                .resource
                .as_ref()
                .map(|resource| resource.attributes.clone())
                .unwrap_or_default();
            assert!(
                !resources_seen.contains(&resource),
                "two ResourceLogs of one request share a resource: {resource:?}"
            );
            resources_seen.push(resource.clone());

            let records: Vec<&LogRecord> = resource_logs
                .scope_logs
                .iter()
                .flat_map(|scope| &scope.log_records)
                .collect();
            let is_container = resource.iter().any(|kv| kv.key.starts_with("k8s."));
            if is_container {
                let paths: Vec<_> = records
                    .iter()
                    .map(|record| attribute(&record.attributes, "log.file.path"))
                    .collect();
                assert!(
                    paths.windows(2).all(|pair| pair[0] == pair[1]),
                    "records of several files in one container resource: {paths:?}"
                );
            }
            for record in records {
                all.push(Received {
                    resource: resource.clone(),
                    record: record.clone(),
                });
            }
        }
    }
    all
}

/// Waits until a record whose body starts with each of `prefixes` arrived.
fn wait_for_bodies(downstream: &Downstream, prefixes: &[&str]) -> Vec<Received> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let records = received(downstream);
        let missing: Vec<&&str> = prefixes
            .iter()
            .filter(|prefix| !records.iter().any(|seen| seen.body().starts_with(**prefix)))
            .collect();
        if missing.is_empty() {
            return records;
        }
        if std::time::Instant::now() >= deadline {
            let bodies: Vec<&str> = records.iter().map(Received::body).collect();
            panic!("timed out waiting for records starting with {missing:?}; got {bodies:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Returns the one record whose body starts with `prefix`.
fn only<'a>(records: &'a [Received], prefix: &str) -> &'a Received {
    let matching: Vec<&Received> = records
        .iter()
        .filter(|seen| seen.body().starts_with(prefix))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "records starting with {prefix:?}: {:?}",
        matching.iter().map(|seen| seen.body()).collect::<Vec<_>>()
    );
    matching[0]
}

fn check_resource(
    seen: &Received,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
    restarts: i64,
) {
    assert_eq!(seen.resource_string("k8s.namespace.name"), Some(namespace));
    assert_eq!(seen.resource_string("k8s.pod.name"), Some(pod));
    assert_eq!(seen.resource_string("k8s.pod.uid"), Some(uid));
    assert_eq!(seen.resource_string("k8s.container.name"), Some(container));
    let restart_count = attribute(&seen.resource, "k8s.container.restart_count")
        .and_then(|value| value.value.as_ref());
    assert_eq!(restart_count, Some(&Value::IntValue(restarts)));
    assert!(
        seen.resource_string("host.name").is_some(),
        "{:?}",
        seen.resource
    );
}

/// Splits `body` at the e-mail token that replaced an address, and returns
/// the text before and after it.
fn around_token(body: &str) -> (&str, &str) {
    assert!(!body.contains("@example.com"), "an e-mail survived: {body}");
    let start = body
        .find("EMAIL_k1_")
        .unwrap_or_else(|| panic!("no e-mail token in {body:?}"));
    let token_end = start + "EMAIL_k1_".len() + 16;
    (&body[..start], &body[token_end..])
}

fn phase_one_logs(tree: &LogTree) {
    append(
        &tree.cri,
        &[
            cri(
                T1,
                "stdout",
                "P",
                "2024-05-01 10:00:00 INFO charge for alice.",
            ),
            cri(T1, "stdout", "F", "smith@example.com accepted"),
            cri(
                T2,
                "stderr",
                "F",
                "2024-05-01 10:00:01 ERROR payment failed for bob@example.com",
            ),
            cri(
                T2,
                "stderr",
                "F",
                "java.lang.IllegalStateException: card declined",
            ),
            cri(T2, "stdout", "F", "2024-05-01 10:00:01 INFO health ok"),
            cri(T2, "stderr", "P", "\tat com.shop.Payment.ch"),
            cri(T2, "stderr", "F", "arge(Payment.java:42)"),
            cri(T2, "stderr", "F", "\tat com.shop.Api.handle(Api.java:7)"),
            "not a cri line from carol@example.com\n".to_string(),
            cri(T3, "stdout", "F", "2024-05-01 10:00:02 INFO done"),
            cri(T3, "stderr", "F", "2024-05-01 10:00:02 WARN slow"),
        ]
        .concat(),
    );
    append(
        &tree.docker,
        &[
            docker(T4, "stdout", "GET /checkout?email=dave@example.com "),
            docker(T5, "stdout", "200 OK\n"),
            docker(T5, "stderr", "upstream timed out\n"),
        ]
        .concat(),
    );
    append(&tree.node, "kubelet started for erin@example.com\n");
}

fn check_phase_one(records: &[Received]) {
    let charge = only(records, "2024-05-01 10:00:00 INFO charge for ");
    assert_eq!(
        around_token(charge.body()),
        ("2024-05-01 10:00:00 INFO charge for ", " accepted")
    );
    assert_eq!(charge.record.time_unix_nano, T1_NANOS);
    assert_eq!(charge.record_string("log.iostream"), Some("stdout"));
    check_resource(
        charge,
        "shop",
        "checkout-7d9f8b6c5-x2x4z",
        SHOP_UID,
        "server",
        0,
    );
    let path = charge
        .record_string("log.file.path")
        .expect("log.file.path");
    assert!(path.ends_with("/server/0.log"), "{path}");
    assert_eq!(charge.record_string("log.file.name"), Some("0.log"));

    let trace = only(records, "2024-05-01 10:00:01 ERROR");
    let (before, after) = around_token(trace.body());
    assert_eq!(before, "2024-05-01 10:00:01 ERROR payment failed for ");
    assert_eq!(
        after,
        "\njava.lang.IllegalStateException: card declined\n\
         \tat com.shop.Payment.charge(Payment.java:42)\n\
         \tat com.shop.Api.handle(Api.java:7)"
    );
    assert_eq!(trace.record.time_unix_nano, T2_NANOS);
    assert_eq!(trace.record_string("log.iostream"), Some("stderr"));

    let health = only(records, "2024-05-01 10:00:01 INFO health ok");
    assert_eq!(health.body(), "2024-05-01 10:00:01 INFO health ok");
    assert_eq!(health.record_string("log.iostream"), Some("stdout"));

    // A line that is not CRI is sent as it is, redacted, without stream or
    // time, and still with its container's resource.
    let malformed = only(records, "not a cri line from ");
    assert_eq!(around_token(malformed.body()), ("not a cri line from ", ""));
    assert_eq!(malformed.record_string("log.iostream"), None);
    assert_eq!(malformed.record.time_unix_nano, 0);
    check_resource(
        malformed,
        "shop",
        "checkout-7d9f8b6c5-x2x4z",
        SHOP_UID,
        "server",
        0,
    );

    // The Docker file is found by `format: auto`; its two partial entries
    // make one record with the time of the first.
    let request = only(records, "GET /checkout?email=");
    assert_eq!(
        around_token(request.body()),
        ("GET /checkout?email=", " 200 OK")
    );
    assert_eq!(request.record.time_unix_nano, T4_NANOS);
    assert_eq!(request.record_string("log.iostream"), Some("stdout"));
    check_resource(request, "legacy", "web-1", WEB_UID, "nginx", 2);
    let upstream = only(records, "upstream timed out");
    assert_eq!(upstream.body(), "upstream timed out");
    assert_eq!(upstream.record.time_unix_nano, T5_NANOS);
    assert_eq!(upstream.record_string("log.iostream"), Some("stderr"));

    // A plain node log keeps the host resource and no stream or time.
    let node = only(records, "kubelet started for ");
    assert_eq!(around_token(node.body()), ("kubelet started for ", ""));
    assert_eq!(node.record.time_unix_nano, 0);
    assert!(node.record.observed_time_unix_nano > 0);
    assert_eq!(node.record_string("log.iostream"), None);
    assert!(
        node.resource.iter().all(|kv| !kv.key.starts_with("k8s.")),
        "{:?}",
        node.resource
    );
    assert!(node.resource_string("host.name").is_some());
}

#[test]
fn tail_kubernetes_formats_and_restart() {
    let root = tempfile::tempdir().expect("temp dir");
    let tree = LogTree::create(root.path());
    let downstream = Downstream::start();
    let config = write_config(root.path(), &config_yaml(&tree, &downstream.endpoint()));

    phase_one_logs(&tree);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    let records = wait_for_bodies(
        &downstream,
        &[
            "2024-05-01 10:00:00 INFO charge",
            "2024-05-01 10:00:01 ERROR",
            "2024-05-01 10:00:01 INFO health ok",
            "not a cri line",
            "GET /checkout",
            "upstream timed out",
            "kubelet started",
        ],
    );
    check_phase_one(&records);
    // The last record of each stream waits for the next one to start.
    assert_eq!(
        records.len(),
        7,
        "{:?}",
        records.iter().map(Received::body).collect::<Vec<_>>()
    );

    // A second stack trace is half written when the agent stops: the
    // stdout record after it is sent, the trace is not.
    append(
        &tree.cri,
        &[
            cri(
                T6,
                "stderr",
                "F",
                "2024-05-01 10:00:03 ERROR second failure for frank@example.com",
            ),
            cri(T6, "stderr", "F", "java.io.IOException: disk full"),
            cri(T6, "stdout", "F", "2024-05-01 10:00:03 INFO after"),
            cri(T6, "stdout", "F", "2024-05-01 10:00:04 INFO marker"),
        ]
        .concat(),
    );
    wait_for_bodies(&downstream, &["2024-05-01 10:00:03 INFO after"]);
    let status = agent.stop();
    assert!(
        status.success(),
        "hush exited with {status}\n{}",
        agent.stderr()
    );
    let stopped_log = agent.stderr();
    assert!(
        stopped_log.contains("tail_lines_malformed_total=1"),
        "the malformed line was not counted:\n{stopped_log}"
    );

    append(
        &tree.cri,
        &[
            cri(T7, "stderr", "F", "\tat com.shop.Disk.write(Disk.java:9)"),
            cri(T7, "stderr", "F", "2024-05-01 10:00:05 INFO recovered"),
            cri(T7, "stdout", "F", "2024-05-01 10:00:05 INFO end"),
        ]
        .concat(),
    );
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    wait_for_bodies(
        &downstream,
        &[
            "2024-05-01 10:00:03 ERROR",
            "2024-05-01 10:00:04 INFO marker",
        ],
    );
    // Give a late duplicate or fragment the chance to show up.
    std::thread::sleep(Duration::from_millis(500));
    let records = received(&downstream);
    agent.stop();

    let second = only(&records, "2024-05-01 10:00:03 ERROR");
    let (_, after) = around_token(second.body());
    assert_eq!(
        after,
        "\njava.io.IOException: disk full\n\tat com.shop.Disk.write(Disk.java:9)"
    );
    assert_eq!(second.record.time_unix_nano, T6_NANOS);
    only(&records, "2024-05-01 10:00:02 INFO done");
    only(&records, "2024-05-01 10:00:02 WARN slow");
    only(&records, "2024-05-01 10:00:04 INFO marker");
    only(&records, "2024-05-01 10:00:01 ERROR");

    // The restart resumes at the unsent trace, so the stdout record written
    // after its start may arrive twice, but whole: every record starts a
    // record of the log, and nothing was split off one.
    for seen in &records {
        let body = seen.body();
        let starts_record = body.starts_with("2024-05-01 ")
            || body.starts_with("not a cri line")
            || body.starts_with("GET /checkout")
            || body == "upstream timed out"
            || body.starts_with("kubelet started");
        assert!(starts_record, "a piece of a record arrived alone: {body:?}");
        assert!(!body.contains("@example.com"), "an e-mail survived: {body}");
    }
    let after_count = records
        .iter()
        .filter(|seen| seen.body() == "2024-05-01 10:00:03 INFO after")
        .count();
    assert!((1..=2).contains(&after_count), "{after_count}");
}
