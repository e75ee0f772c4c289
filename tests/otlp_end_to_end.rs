//! Puts the real `hush` binary between OTLP clients and a real OTLP/gRPC
//! downstream: the Python OpenTelemetry SDK sends logs and spans with
//! personal data, a tonic client sends hand-built requests and malformed
//! ones, and the downstream checks what arrives.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Downstream, HushProcess, free_port, run_python_client, to_json, write_config};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

const WAIT: Duration = Duration::from_secs(30);

/// A token as `docs/tokens.md` describes it: `KIND_keyid_mac`, read from
/// the right because kind names contain `_`.
fn is_token(text: &str) -> bool {
    let mut parts = text.rsplitn(3, '_');
    let mac = parts.next().unwrap_or("");
    let key_id = parts.next().unwrap_or("");
    let kind = parts.next().unwrap_or("");
    !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && key_id == "k1"
        && mac.len() == 16
        && mac
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

fn start_hop(root: &Path, downstream: &Downstream) -> (HushProcess, u16) {
    let port = free_port();
    let yaml = format!(
        "data_dir: {state}\n\
         key: {{ env: HUSH_KEY, id: k1 }}\n\
         otlp_receiver: {{ grpc: 127.0.0.1:{port}, http: null }}\n\
         telemetry: {{ listen: null }}\n\
         exporter: {{ otlp: {{ endpoint: \"{endpoint}\" }} }}\n",
        state = root.join("state").display(),
        endpoint = downstream.endpoint(),
    );
    let config = write_config(root, &yaml);
    let mut agent = HushProcess::start(&config);
    agent.wait_ready(WAIT);
    (agent, port)
}

fn string(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(value.to_string())),
    })
}

fn key_value(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value,
        ..Default::default()
    }
}

#[test]
fn python_sdk_logs_and_spans_redacted() {
    let root = tempfile::tempdir().expect("temp dir");
    let downstream = Downstream::start();
    let (mut agent, port) = start_hop(root.path(), &downstream);

    let run = run_python_client(&format!("http://127.0.0.1:{port}"), "logs,traces");
    let records = downstream.wait_for_log_records(2, WAIT);
    let spans = downstream.wait_for_spans(3, WAIT);
    agent.stop();

    // No personal value the client sent reaches the downstream, anywhere.
    let received = serde_json::json!({
        "logs": downstream.logs().iter().map(to_json).collect::<Vec<_>>(),
        "traces": downstream.traces().iter().map(to_json).collect::<Vec<_>>(),
    })
    .to_string();
    let personal = &run.summary["personal_data"];
    for group in ["emails", "ipv4", "cards"] {
        for value in personal[group].as_array().expect("personal data list") {
            let value = value.as_str().expect("string value");
            assert!(!received.contains(value), "{value} reached the downstream");
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if group == "cards" {
                assert!(
                    !received.contains(&digits),
                    "card digits reached the downstream"
                );
            }
        }
    }

    // Bodies keep their literal text around the tokens.
    let bodies: Vec<String> = records
        .iter()
        .filter_map(|record| common::string_body(record).map(str::to_string))
        .collect();
    let login = bodies
        .iter()
        .find(|body| body.starts_with("user "))
        .expect("the logging record arrived");
    let words: Vec<&str> = login.split(' ').collect();
    assert_eq!(words.len(), 6, "{login}");
    assert_eq!(words[2..5], ["logged", "in", "from"], "{login}");
    assert!(is_token(words[1]), "not a token: {}", words[1]);
    assert!(is_token(words[5]), "not a token: {}", words[5]);

    // Nested map and list values in attributes are redacted too.
    let api_record = records
        .iter()
        .find(|record| common::string_body(record).is_some_and(|b| b.starts_with("payment")))
        .expect("the logs API record arrived");
    let session = common::attribute(&api_record.attributes, "session").expect("session attribute");
    let session = common::any_value_to_json(session).to_string();
    assert!(!session.contains("@example"), "{session}");
    assert!(
        session.contains("checkout"),
        "non-personal list item changed: {session}"
    );

    // Span ids, names and structure pass unchanged.
    let sent_spans = run.summary["spans"].as_array().expect("spans in summary");
    for sent in sent_spans {
        let span = spans
            .iter()
            .find(|span| common::hex(&span.span_id) == sent["span_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("span {} did not arrive", sent["span_id"]));
        assert_eq!(
            common::hex(&span.trace_id),
            sent["trace_id"].as_str().unwrap()
        );
        assert_eq!(span.name, sent["name"].as_str().unwrap());
        assert_eq!(span.events.len(), sent["events"].as_array().unwrap().len());
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }

    // Resource attributes: personal values replaced, others untouched.
    let resource = downstream.traces()[0].resource_spans[0]
        .resource
        .clone()
        .expect("resource");
    let service = common::attribute(&resource.attributes, "service.name").expect("service.name");
    assert_eq!(
        common::any_value_to_json(service),
        serde_json::json!("hush-it-client")
    );
}

fn sample_request() -> ExportLogsServiceRequest {
    let nested = AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![
                key_value("owner", string("owner is erin@example.com")),
                key_value(
                    "hosts",
                    Some(AnyValue {
                        value: Some(Value::ArrayValue(ArrayValue {
                            values: vec![string("192.0.2.10").unwrap(), string("plain").unwrap()],
                        })),
                    }),
                ),
                key_value(
                    "count",
                    Some(AnyValue {
                        value: Some(Value::IntValue(7)),
                    }),
                ),
            ],
        })),
    };
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_123_456_789,
        observed_time_unix_nano: 1_700_000_000_223_456_789,
        severity_number: 9,
        severity_text: "INFO".to_string(),
        body: string("card 4111-1111-1111-1111 used by frank@example.org"),
        attributes: vec![
            key_value("client.ip", string("203.0.113.9")),
            key_value("details", Some(nested)),
            key_value(
                "retries",
                Some(AnyValue {
                    value: Some(Value::IntValue(3)),
                }),
            ),
        ],
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: vec![7; 16],
        span_id: vec![9; 8],
        event_name: "checkout".to_string(),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    key_value("service.name", string("shop")),
                    key_value("host.owner", string("grace@example.com")),
                ],
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "shop.checkout".to_string(),
                    version: "1.2.3".to_string(),
                    attributes: vec![key_value("scope.owner", string("heidi@example.com"))],
                    dropped_attributes_count: 0,
                }),
                log_records: vec![record],
                schema_url: "https://opentelemetry.io/schemas/1.30.0".to_string(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn tonic_request_only_personal_data_changes() {
    let root = tempfile::tempdir().expect("temp dir");
    let downstream = Downstream::start();
    let (mut agent, port) = start_hop(root.path(), &downstream);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let sent = sample_request();
    runtime.block_on(async {
        let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .expect("connect to hush");
        client
            .export(sent.clone())
            .await
            .expect("hush accepted the request");
    });
    downstream.wait_for_log_records(1, WAIT);
    agent.stop();

    let received = downstream.logs().remove(0);
    let sent_json = to_json(&sent).to_string();
    let received_json = to_json(&received).to_string();
    for value in [
        "4111-1111-1111-1111",
        "frank@example.org",
        "203.0.113.9",
        "erin@example.com",
        "192.0.2.10",
        "grace@example.com",
        "heidi@example.com",
    ] {
        assert!(sent_json.contains(value), "the test request lacks {value}");
        assert!(
            !received_json.contains(value),
            "{value} reached the downstream"
        );
    }

    // Everything but the personal values is as it was sent.
    let record = &received.resource_logs[0].scope_logs[0].log_records[0];
    let sent_record = &sent.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(record.time_unix_nano, sent_record.time_unix_nano);
    assert_eq!(
        record.observed_time_unix_nano,
        sent_record.observed_time_unix_nano
    );
    assert_eq!(record.severity_number, sent_record.severity_number);
    assert_eq!(record.severity_text, sent_record.severity_text);
    assert_eq!(record.trace_id, sent_record.trace_id);
    assert_eq!(record.span_id, sent_record.span_id);
    assert_eq!(record.flags, sent_record.flags);
    assert_eq!(record.dropped_attributes_count, 2);
    assert_eq!(record.event_name, "checkout");
    assert_eq!(record.attributes[2], sent_record.attributes[2]);
    let scope = received.resource_logs[0].scope_logs[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(scope.name, "shop.checkout");
    assert_eq!(scope.version, "1.2.3");
    assert_eq!(
        received.resource_logs[0].scope_logs[0].schema_url,
        "https://opentelemetry.io/schemas/1.30.0"
    );
    let body = common::string_body(record).expect("string body");
    let words: Vec<&str> = body.split(' ').collect();
    assert_eq!(words[0], "card");
    assert!(is_token(words[1]), "{body}");
    assert_eq!(words[2..4], ["used", "by"], "{body}");
    assert!(is_token(words[4]), "{body}");
    let details = common::any_value_to_json(record.attributes[1].value.as_ref().unwrap());
    assert_eq!(details["hosts"][1], "plain");
    assert_eq!(details["count"], 7);
}

#[test]
fn malformed_request_gets_error_agent_survives() {
    let root = tempfile::tempdir().expect("temp dir");
    let downstream = Downstream::start();
    let (mut agent, port) = start_hop(root.path(), &downstream);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let status = runtime.block_on(common::send_raw_logs_request(
        port,
        // Field 1 (resource_logs) declared as 5 bytes long, then cut short.
        vec![0x0a, 0x05, 0x0a, 0x03],
    ));
    let status = status.expect_err("a malformed request was accepted");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

    runtime.block_on(async {
        let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .expect("connect to hush");
        client
            .export(sample_request())
            .await
            .expect("hush still accepts a valid request");
    });
    downstream.wait_for_log_records(1, WAIT);
    assert!(
        agent.try_wait().is_none(),
        "hush exited after a malformed request"
    );
    agent.stop();
}
