//! Checks the test harness itself, without hush in between: the
//! `Downstream` receiver with a tonic client, and the OpenTelemetry Python
//! SDK client sending straight to the `Downstream`.

mod common;

use std::net::TcpStream;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use common::{Downstream, any_value_to_json, attribute, attributes_to_json, hex, string_body};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn logs_request(bodies: &[&str]) -> ExportLogsServiceRequest {
    let log_records = bodies
        .iter()
        .map(|body| LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.to_string())),
            }),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn traces_request(span_names: &[&str]) -> ExportTraceServiceRequest {
    let spans = span_names
        .iter()
        .map(|name| Span {
            name: name.to_string(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn downstream_records_logs() {
    let downstream = Downstream::start();
    let mut client = LogsServiceClient::connect(downstream.endpoint())
        .await
        .expect("connect to the downstream");

    client
        .export(logs_request(&["first", "second"]))
        .await
        .expect("first export");
    client
        .export(logs_request(&["third"]))
        .await
        .expect("second export");

    let records = downstream.wait_for_log_records_async(3, WAIT).await;
    assert_eq!(records.len(), 3, "record count");
    assert_eq!(downstream.logs().len(), 2, "request count");
    assert_eq!(
        downstream.log_bodies(),
        ["first", "second", "third"],
        "bodies in arrival order"
    );
    assert_eq!(string_body(&records[2]), Some("third"), "last record body");
}

#[tokio::test]
async fn downstream_records_traces() {
    let downstream = Downstream::start();
    let mut client = TraceServiceClient::connect(downstream.endpoint())
        .await
        .expect("connect to the downstream");

    client
        .export(traces_request(&["parent", "child"]))
        .await
        .expect("export");

    assert_eq!(downstream.traces().len(), 1, "request count");
    let names: Vec<String> = downstream
        .wait_for_spans(2, WAIT)
        .into_iter()
        .map(|span| span.name)
        .collect();
    assert_eq!(names, ["parent", "child"], "span names");
    assert!(downstream.logs().is_empty(), "no logs requests");
}

#[tokio::test]
async fn downstream_unavailable_switch() {
    let downstream = Downstream::start();
    let mut logs_client = LogsServiceClient::connect(downstream.endpoint())
        .await
        .expect("connect logs client");
    let mut traces_client = TraceServiceClient::connect(downstream.endpoint())
        .await
        .expect("connect traces client");

    downstream.set_unavailable(true);
    let logs_status = logs_client
        .export(logs_request(&["rejected"]))
        .await
        .expect_err("logs export while unavailable");
    assert_eq!(logs_status.code(), tonic::Code::Unavailable, "logs code");
    let traces_status = traces_client
        .export(traces_request(&["rejected"]))
        .await
        .expect_err("traces export while unavailable");
    assert_eq!(
        traces_status.code(),
        tonic::Code::Unavailable,
        "traces code"
    );
    assert_eq!(downstream.rejected_requests(), 2, "rejected count");
    assert!(downstream.logs().is_empty(), "rejected logs not recorded");
    assert!(
        downstream.traces().is_empty(),
        "rejected traces not recorded"
    );

    downstream.set_unavailable(false);
    logs_client
        .export(logs_request(&["accepted"]))
        .await
        .expect("export after the switch is off");
    assert_eq!(
        downstream.log_bodies(),
        ["accepted"],
        "bodies after switch off"
    );
}

#[tokio::test]
async fn downstream_unavailable_for_duration() {
    let downstream = Downstream::start();
    let mut client = LogsServiceClient::connect(downstream.endpoint())
        .await
        .expect("connect to the downstream");

    downstream.unavailable_for(Duration::from_millis(300));
    let status = client
        .export(logs_request(&["early"]))
        .await
        .expect_err("export during the outage");
    assert_eq!(
        status.code(),
        tonic::Code::Unavailable,
        "code during outage"
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    client
        .export(logs_request(&["late"]))
        .await
        .expect("export after the outage");
    assert_eq!(downstream.log_bodies(), ["late"], "only the late record");
    assert_eq!(downstream.rejected_requests(), 1, "rejected count");
}

/// A plain `#[test]`, because `Downstream` must work without a runtime of
/// the caller's; the client gets its own.
#[test]
fn downstream_restart_same_port() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let mut downstream = Downstream::start();
    let endpoint = downstream.endpoint();
    let address = downstream.address();

    let mut client = runtime
        .block_on(LogsServiceClient::connect(endpoint.clone()))
        .expect("connect to the downstream");
    runtime
        .block_on(client.export(logs_request(&["before"])))
        .expect("export before the stop");

    downstream.stop();
    assert!(!downstream.is_running(), "stopped");
    let connect = TcpStream::connect_timeout(&address, Duration::from_secs(1));
    assert!(connect.is_err(), "{address} still accepts connections");
    // The status code depends on whether tonic notices the closed
    // connection before or while sending, so only the failure is checked.
    let result = runtime.block_on(client.export(logs_request(&["during"])));
    assert!(result.is_err(), "export while stopped succeeded");

    downstream.restart();
    assert_eq!(downstream.endpoint(), endpoint, "same endpoint");
    let mut new_client = runtime
        .block_on(LogsServiceClient::connect(endpoint))
        .expect("connect after the restart");
    runtime
        .block_on(new_client.export(logs_request(&["after"])))
        .expect("export after the restart");

    let records = downstream.wait_for_log_records(2, WAIT);
    assert_eq!(records.len(), 2, "records kept across the restart");
    assert_eq!(downstream.log_bodies(), ["before", "after"], "bodies");
}

#[test]
fn downstream_wait_names_count() {
    let downstream = Downstream::start();
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        downstream.wait_for_log_records(1, Duration::from_millis(100));
    }))
    .expect_err("waiting for a record that never comes panics");
    let message = panic
        .downcast_ref::<String>()
        .expect("panic message is a String");
    assert!(message.contains("0 arrived"), "{message}");
    assert!(message.contains("waiting for 1 log records"), "{message}");
}

/// Runs the OpenTelemetry Python SDK against the downstream directly and
/// checks that what arrives matches what the script reports it sent.
#[test]
fn python_client_reaches_downstream() {
    let downstream = Downstream::start();
    let run = common::run_python_client(&downstream.endpoint(), "logs,traces");
    let summary = &run.summary;
    eprintln!("python client took {:?}", run.duration);

    let sent_logs = summary["logs"].as_array().expect("summary lists logs");
    assert_eq!(sent_logs.len(), 2, "summary log count");
    let sent_spans = summary["spans"].as_array().expect("summary lists spans");
    assert_eq!(sent_spans.len(), 3, "summary span count");

    // The script exits only after its exporters reported success, so
    // everything is already here.
    let records = downstream.log_records();
    assert_eq!(records.len(), 2, "log records received");
    let spans = downstream.spans();
    assert_eq!(spans.len(), 3, "spans received");

    check_python_logs(&downstream, sent_logs);
    check_python_spans(&downstream, sent_spans);
    check_python_resources(&downstream, &summary["resource_attributes"]);
}

fn check_python_logs(downstream: &Downstream, sent_logs: &[serde_json::Value]) {
    let records = downstream.log_records();
    for sent in sent_logs {
        let body = sent["body"].as_str().expect("sent body is a string");
        let received = records
            .iter()
            .find(|record| string_body(record) == Some(body))
            .unwrap_or_else(|| {
                panic!(
                    "no record with body {body:?}, bodies: {:?}",
                    downstream.log_bodies()
                )
            });
        let sent_attributes = sent["attributes"].as_object().expect("sent attributes");
        for (key, value) in sent_attributes {
            let received_value = attribute(&received.attributes, key)
                .map(any_value_to_json)
                .unwrap_or_else(|| {
                    panic!(
                        "record {body:?} lacks attribute {key}, has {}",
                        attributes_to_json(&received.attributes)
                    )
                });
            assert_eq!(&received_value, value, "attribute {key} of record {body:?}");
        }
    }

    let api_record = records
        .iter()
        .find(|record| attribute(&record.attributes, "session").is_some())
        .expect("the logs API record carries the nested session attribute");
    let session = any_value_to_json(attribute(&api_record.attributes, "session").unwrap());
    assert_eq!(
        session["owner"]["email"],
        json!("carol@example.net"),
        "map inside a map"
    );
    assert_eq!(
        session["tags"][1],
        json!("dave@example.com"),
        "list inside a map"
    );
}

fn check_python_spans(downstream: &Downstream, sent_spans: &[serde_json::Value]) {
    let spans = downstream.spans();
    for sent in sent_spans {
        let name = sent["name"].as_str().expect("sent span name");
        let received = spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no span named {name}"));
        assert_eq!(
            hex(&received.trace_id),
            sent["trace_id"].as_str().unwrap(),
            "trace id of {name}"
        );
        assert_eq!(
            hex(&received.span_id),
            sent["span_id"].as_str().unwrap(),
            "span id of {name}"
        );
        let received_attributes = attributes_to_json(&received.attributes);
        assert_eq!(
            received_attributes, sent["attributes"],
            "attributes of span {name}"
        );

        let sent_events = sent["events"].as_array().expect("sent events");
        assert_eq!(
            received.events.len(),
            sent_events.len(),
            "event count of {name}"
        );
        for (received_event, sent_event) in received.events.iter().zip(sent_events) {
            assert_eq!(
                received_event.name, sent_event["name"],
                "event name of {name}"
            );
            // The summary leaves out the attributes the SDK writes itself,
            // such as an exception's stack trace.
            if let Some(sent_attributes) = sent_event.get("attributes") {
                assert_eq!(
                    &attributes_to_json(&received_event.attributes),
                    sent_attributes,
                    "event attributes of {name}"
                );
            }
        }
    }

    let checkout = spans.iter().find(|span| span.name == "checkout").unwrap();
    let charge = spans.iter().find(|span| span.name == "charge").unwrap();
    assert_eq!(charge.parent_span_id, checkout.span_id, "charge parent");
}

fn check_python_resources(downstream: &Downstream, sent_resource: &serde_json::Value) {
    let log_resources = downstream
        .logs()
        .into_iter()
        .flat_map(|request| request.resource_logs)
        .map(|resource_logs| resource_logs.resource.unwrap_or_default());
    let span_resources = downstream
        .traces()
        .into_iter()
        .flat_map(|request| request.resource_spans)
        .map(|resource_spans| resource_spans.resource.unwrap_or_default());

    for resource in log_resources.chain(span_resources) {
        let received = attributes_to_json(&resource.attributes);
        assert_eq!(&received, sent_resource, "resource attributes");
    }
}
