//! Tests of the OTLP walker with the real detectors and tokenizer.

use std::sync::LazyLock;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Summary, SummaryDataPoint, metric::Data,
};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::{OtlpOptions, redact_metrics_request, redact_traces_request};
use crate::detect::{Engine, EngineOptions};
use crate::redact::Redactor;
use crate::token::{Key, Tokenizer};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn redactor() -> &'static Redactor {
    static REDACTOR: LazyLock<Redactor> = LazyLock::new(|| {
        let engine = Engine::builtin(&EngineOptions::default()).unwrap();
        Redactor::new(
            engine,
            Tokenizer::new(Key::from_text(KEY_HEX, "k1").unwrap()),
        )
    });
    &REDACTOR
}

fn string(text: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(text.to_string())),
    })
}

fn strings(texts: &[&str]) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::ArrayValue(ArrayValue {
            values: texts.iter().map(|text| string(text).unwrap()).collect(),
        })),
    })
}

fn attribute(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value,
        ..Default::default()
    }
}

fn string_of<'a>(attributes: &'a [KeyValue], key: &str) -> &'a str {
    let value = attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref());
    match value {
        Some(Value::StringValue(text)) => text,
        other => panic!("{key} is not a string: {other:?}"),
    }
}

fn strings_of(attributes: &[KeyValue], key: &str) -> Vec<String> {
    let value = attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| value.value.as_ref());
    match value {
        Some(Value::ArrayValue(array)) => array
            .values
            .iter()
            .map(|item| match &item.value {
                Some(Value::StringValue(text)) => text.clone(),
                other => panic!("{key} holds a non-string: {other:?}"),
            })
            .collect(),
        other => panic!("{key} is not an array: {other:?}"),
    }
}

fn is_token(text: &str) -> bool {
    crate::token::Tokenizer::is_token(text)
}

fn traces_request(span: Span) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span_with(attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "GET /users/{id}".to_string(),
        kind: 2,
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        attributes,
        ..Default::default()
    }
}

fn redacted_span(attributes: Vec<KeyValue>) -> Span {
    let mut request = traces_request(span_with(attributes));
    assert_eq!(redact_traces_request(redactor(), &mut request), 0);
    request.resource_spans[0].scope_spans[0].spans[0].clone()
}

#[test]
fn sql_literals_become_tokens() {
    let statement =
        "SELECT id FROM users WHERE email = 'alice@example.com' AND plan = 'gold' LIMIT 10";
    let span = redacted_span(vec![attribute("db.query.text", string(statement))]);
    let redacted = string_of(&span.attributes, "db.query.text");

    assert!(!redacted.contains("alice@example.com"), "{redacted}");
    assert!(!redacted.contains("gold"), "{redacted}");
    assert!(
        redacted.starts_with("SELECT id FROM users WHERE email = 'EMAIL_k1_"),
        "the e-mail literal gets its e-mail token: {redacted}"
    );
    let words: Vec<&str> = redacted.split(' ').collect();
    assert_eq!(words.len(), 14, "{redacted}");
    assert_eq!(
        words[..7],
        ["SELECT", "id", "FROM", "users", "WHERE", "email", "="]
    );
    assert_eq!(words[8..11], ["AND", "plan", "="]);
    assert!(words[11].starts_with("'SQL_LITERAL_k1_"), "{redacted}");
    assert_eq!(words[12], "LIMIT");
    assert!(is_token(words[13]), "{redacted}");
}

#[test]
fn url_query_values_decoded_and_redacted() {
    let span = redacted_span(vec![
        attribute(
            "url.full",
            string(
                "https://shop.example/search?q=shoes&email=alice%40example.com&access_token=abc123#top",
            ),
        ),
        attribute("url.query", string("page=2&password=hunter2")),
    ]);

    let full = string_of(&span.attributes, "url.full");
    assert!(
        full.starts_with("https://shop.example/search?q=shoes&email=EMAIL_k1_"),
        "{full}"
    );
    assert!(!full.contains("alice"), "{full}");
    assert!(
        !full.contains("abc123"),
        "a sensitive parameter name keeps no value: {full}"
    );
    assert!(full.contains("&access_token=SECRET_k1_"), "{full}");
    assert!(full.ends_with("#top"), "{full}");

    let query = string_of(&span.attributes, "url.query");
    assert!(query.starts_with("page=2&password=PASSWORD_k1_"), "{query}");
}

#[test]
fn url_query_value_read_after_its_name() {
    let span = redacted_span(vec![
        attribute(
            "url.full",
            string("https://api.example/v1/items?token=abc123secret&version=1.2.3.4"),
        ),
        attribute("url.query", string("token=abc123secret")),
    ]);

    let full = string_of(&span.attributes, "url.full");
    assert!(!full.contains("abc123secret"), "{full}");
    assert!(full.contains("?token=BEARER_TOKEN_k1_"), "{full}");
    assert!(
        full.ends_with("&version=1.2.3.4"),
        "a dotted quad after a version key is a version: {full}"
    );
    let query = string_of(&span.attributes, "url.query");
    assert!(query.starts_with("token=BEARER_TOKEN_k1_"), "{query}");
}

#[test]
fn header_attributes_redacted() {
    let span = redacted_span(vec![
        attribute(
            "http.request.header.cookie",
            strings(&["sid=opaque-session-value"]),
        ),
        attribute(
            "http.request.header.x-forwarded-for",
            strings(&["203.0.113.9"]),
        ),
        attribute(
            "http.request.header.content-type",
            strings(&["application/json"]),
        ),
        attribute(
            "http.response.header.set-cookie",
            strings(&["sid=other-value; Path=/"]),
        ),
    ]);

    let cookie = strings_of(&span.attributes, "http.request.header.cookie");
    assert!(cookie[0].starts_with("SECRET_k1_"), "{cookie:?}");
    let forwarded = strings_of(&span.attributes, "http.request.header.x-forwarded-for");
    assert!(is_token(&forwarded[0]), "{forwarded:?}");
    assert_eq!(
        strings_of(&span.attributes, "http.request.header.content-type"),
        ["application/json"]
    );
    let set_cookie = strings_of(&span.attributes, "http.response.header.set-cookie");
    assert!(set_cookie[0].starts_with("SECRET_k1_"), "{set_cookie:?}");
}

#[test]
fn exception_and_link_attributes_redacted() {
    let mut span = span_with(vec![]);
    span.events = vec![Event {
        name: "exception".to_string(),
        time_unix_nano: 15,
        attributes: vec![
            attribute("exception.type", string("ValueError")),
            attribute(
                "exception.message",
                string("no account for bob@example.org"),
            ),
            attribute(
                "exception.stacktrace",
                string(
                    "Traceback:\n  File \"app.py\", line 3, in login\nValueError: bob@example.org",
                ),
            ),
        ],
        dropped_attributes_count: 0,
    }];
    span.links = vec![Link {
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        attributes: vec![attribute("peer.owner", string("carol@example.net"))],
        ..Default::default()
    }];
    let mut request = traces_request(span.clone());

    assert_eq!(redact_traces_request(redactor(), &mut request), 0);

    let redacted = &request.resource_spans[0].scope_spans[0].spans[0];
    let event = &redacted.events[0];
    assert_eq!(string_of(&event.attributes, "exception.type"), "ValueError");
    let message = string_of(&event.attributes, "exception.message");
    assert!(message.starts_with("no account for EMAIL_k1_"), "{message}");
    let stacktrace = string_of(&event.attributes, "exception.stacktrace");
    assert!(!stacktrace.contains("bob@"), "{stacktrace}");
    assert!(
        stacktrace.starts_with("Traceback:\n  File \"app.py\", line 3"),
        "{stacktrace}"
    );
    let link = &redacted.links[0];
    assert!(string_of(&link.attributes, "peer.owner").starts_with("EMAIL_k1_"));

    // Ids, times, kinds and names are as they were.
    assert_eq!(redacted.trace_id, span.trace_id);
    assert_eq!(redacted.span_id, span.span_id);
    assert_eq!(redacted.kind, span.kind);
    assert_eq!(redacted.start_time_unix_nano, span.start_time_unix_nano);
    assert_eq!(redacted.name, span.name);
    assert_eq!(event.time_unix_nano, 15);
    assert_eq!(link.trace_id, vec![3; 16]);
}

#[test]
fn span_names_kept_when_configured() {
    let name = "GET /users/dave@example.com";
    let keep = Redactor::new(
        Engine::builtin(&EngineOptions::default()).unwrap(),
        Tokenizer::new(Key::from_text(KEY_HEX, "k1").unwrap()),
    )
    .with_otlp_options(OtlpOptions {
        redact_span_names: false,
    });
    let mut span = span_with(vec![]);
    span.name = name.to_string();

    let mut kept = traces_request(span.clone());
    redact_traces_request(&keep, &mut kept);
    let mut redacted = traces_request(span);
    redact_traces_request(redactor(), &mut redacted);

    assert_eq!(kept.resource_spans[0].scope_spans[0].spans[0].name, name);
    let redacted_name = &redacted.resource_spans[0].scope_spans[0].spans[0].name;
    assert!(
        redacted_name.starts_with("GET /users/EMAIL_k1_"),
        "{redacted_name}"
    );
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.to_string(),
        description: "requests by user".to_string(),
        unit: "{request}".to_string(),
        metadata: vec![attribute("owner", string("erin@example.com"))],
        data: Some(data),
    }
}

fn metrics_request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![attribute("host.owner", string("frank@example.org"))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn metric_points_and_exemplars_redacted() {
    let exemplar = Exemplar {
        filtered_attributes: vec![attribute("user.email", string("grace@example.com"))],
        time_unix_nano: 5,
        span_id: vec![6; 8],
        trace_id: vec![7; 16],
        value: None,
    };
    let gauge = metric(
        "http.requests",
        Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: vec![
                    attribute("client.address", string("198.51.100.4")),
                    attribute("route", string("/checkout")),
                ],
                time_unix_nano: 9,
                exemplars: vec![exemplar],
                ..Default::default()
            }],
        }),
    );
    let histogram = metric(
        "http.duration",
        Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![attribute("note", string("slow for heidi@example.com"))],
                count: 3,
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![0.5],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        }),
    );
    let summary = metric(
        "queue.wait",
        Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                attributes: vec![attribute("queue", string("ivan@example.com"))],
                count: 1,
                sum: 2.5,
                ..Default::default()
            }],
        }),
    );
    let sent = metrics_request(vec![gauge, histogram, summary]);
    let mut request = sent.clone();

    assert_eq!(redact_metrics_request(redactor(), &mut request), 0);

    let text = serde_json::to_string(&request).unwrap();
    for value in [
        "erin@example.com",
        "frank@example.org",
        "grace@example.com",
        "198.51.100.4",
        "heidi@example.com",
        "ivan@example.com",
    ] {
        assert!(!text.contains(value), "{value} left in {text}");
    }
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    let sent_metrics = &sent.resource_metrics[0].scope_metrics[0].metrics;
    for (metric, sent_metric) in metrics.iter().zip(sent_metrics) {
        assert_eq!(metric.name, sent_metric.name);
        assert_eq!(metric.description, sent_metric.description);
        assert_eq!(metric.unit, sent_metric.unit);
    }
    let Some(Data::Gauge(gauge)) = &metrics[0].data else {
        panic!("the gauge changed type");
    };
    let point = &gauge.data_points[0];
    assert_eq!(string_of(&point.attributes, "route"), "/checkout");
    assert_eq!(point.time_unix_nano, 9);
    assert_eq!(point.exemplars[0].span_id, vec![6; 8]);
    assert_eq!(point.exemplars[0].trace_id, vec![7; 16]);
    let Some(Data::Histogram(histogram)) = &metrics[1].data else {
        panic!("the histogram changed type");
    };
    assert_eq!(histogram.data_points[0].bucket_counts, vec![1, 2]);
    assert_eq!(histogram.aggregation_temporality, 2);
}
