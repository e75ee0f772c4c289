//! Walks OTLP logs, traces and metrics and redacts every string that can
//! carry personal data.
//!
//! Redacted: log bodies, including strings inside arrays and maps at any
//! depth. Attribute keys and values of resources, scopes, log records,
//! spans, span events, span links, metric data points, exemplars (their
//! filtered attributes) and metric metadata. Severity texts, log event
//! names, scope names and versions, span and link trace states (vendors put
//! user ids there), and span status messages. Span and span event names
//! unless [`OtlpOptions::redact_span_names`] is off.
//! Never touched: ids, timestamps, severity numbers, flags, kinds, counts,
//! metric names, descriptions and units, numeric values, schema URLs, and
//! the structure of the request.
//!
//! An attribute's key is read as context for its string value, so an
//! attribute `nhs` = `4010232137` is found as `nhs=4010232137` is in text.
//!
//! An attribute whose key is sensitive (`user.email`, `enduser.id`,
//! `http.request.header.authorization`, see `detectors/keys.yaml`) has its
//! whole value replaced by one token, whatever it looks like; a number or
//! byte value there becomes a token string. Below a sensitive map or array
//! key, every scalar is replaced. Header attributes
//! (`http.request.header.*`) are arrays of strings, and each of their
//! strings is handled like this.
//!
//! Some top-level attributes have a form that plain text detection would
//! miss: in `db.query.text` (and the older `db.statement`) every SQL string
//! and number literal becomes a token, and `url.full`, `url.query`,
//! `http.url` and `http.target` are redacted one decoded query parameter at
//! a time.
//!
//! A byte value (`bytesValue`) that is valid UTF-8 is redacted as text and
//! stays a byte value. NOTE: other byte values pass unchanged, because no
//! detector reads binary data.
//!
//! Fail closed: each log record, span and metric data point is redacted
//! under `catch_unwind`. If redacting one panics, it is removed from the
//! request and counted. A resource or scope that fails takes every record
//! under it along. So a record is either fully redacted or not sent.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::Redactor;
use crate::detect::KindId;

/// Redaction choices that apply to OTLP records only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpOptions {
    /// Whether span names and span event names are redacted. Names built
    /// from URL paths (`GET /users/alice@example.com`) are common, so the
    /// default is on.
    pub redact_span_names: bool,
}

impl Default for OtlpOptions {
    fn default() -> Self {
        OtlpOptions {
            redact_span_names: true,
        }
    }
}

/// Redacts a logs request in place and returns how many log records were
/// dropped because redacting them (or their resource or scope) failed.
pub fn redact_logs_request(redactor: &Redactor, request: &mut ExportLogsServiceRequest) -> usize {
    let mut dropped = 0;
    request.resource_logs.retain_mut(|resource_logs| {
        let scopes = &mut resource_logs.scope_logs;
        if !redacts(&mut resource_logs.resource, visit_resource, redactor) {
            dropped += scopes
                .iter()
                .map(|scope| scope.log_records.len())
                .sum::<usize>();
            return false;
        }
        scopes.retain_mut(|scope_logs| {
            if !redacts(&mut scope_logs.scope, visit_scope, redactor) {
                dropped += scope_logs.log_records.len();
                return false;
            }
            dropped += retain_redacted(&mut scope_logs.log_records, visit_log_record, redactor);
            true
        });
        true
    });
    dropped
}

/// Redacts a traces request in place and returns how many spans were
/// dropped because redacting them (or their resource or scope) failed.
pub fn redact_traces_request(
    redactor: &Redactor,
    request: &mut ExportTraceServiceRequest,
) -> usize {
    let options = redactor.otlp_options().clone();
    let visit = |span: &mut Span, edit: &mut dyn Edit| visit_span(span, &options, edit);
    let mut dropped = 0;
    request.resource_spans.retain_mut(|resource_spans| {
        let scopes = &mut resource_spans.scope_spans;
        if !redacts(&mut resource_spans.resource, visit_resource, redactor) {
            dropped += scopes.iter().map(|scope| scope.spans.len()).sum::<usize>();
            return false;
        }
        scopes.retain_mut(|scope_spans| {
            if !redacts(&mut scope_spans.scope, visit_scope, redactor) {
                dropped += scope_spans.spans.len();
                return false;
            }
            dropped += retain_redacted(&mut scope_spans.spans, visit, redactor);
            true
        });
        true
    });
    dropped
}

/// Redacts a metrics request in place and returns how many data points
/// were dropped because redacting them (or their metric's metadata,
/// resource or scope) failed.
pub fn redact_metrics_request(
    redactor: &Redactor,
    request: &mut ExportMetricsServiceRequest,
) -> usize {
    let mut dropped = 0;
    request.resource_metrics.retain_mut(|resource_metrics| {
        let scopes = &mut resource_metrics.scope_metrics;
        if !redacts(&mut resource_metrics.resource, visit_resource, redactor) {
            dropped += scopes
                .iter()
                .flat_map(|scope| &scope.metrics)
                .map(data_point_count)
                .sum::<usize>();
            return false;
        }
        scopes.retain_mut(|scope_metrics| {
            if !redacts(&mut scope_metrics.scope, visit_scope, redactor) {
                dropped += scope_metrics
                    .metrics
                    .iter()
                    .map(data_point_count)
                    .sum::<usize>();
                return false;
            }
            scope_metrics.metrics.retain_mut(|metric| {
                let visit_metadata = |metadata: &mut Vec<KeyValue>, edit: &mut dyn Edit| {
                    visit_top_attributes(metadata, edit)
                };
                if !redacts(&mut metric.metadata, visit_metadata, redactor) {
                    dropped += data_point_count(metric);
                    return false;
                }
                dropped += redact_data_points(metric, redactor);
                true
            });
            true
        });
        true
    });
    dropped
}

/// Counts the data points of a metric, whatever its type.
pub fn data_point_count(metric: &Metric) -> usize {
    match &metric.data {
        None => 0,
        Some(Data::Gauge(gauge)) => gauge.data_points.len(),
        Some(Data::Sum(sum)) => sum.data_points.len(),
        Some(Data::Histogram(histogram)) => histogram.data_points.len(),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
        Some(Data::Summary(summary)) => summary.data_points.len(),
    }
}

fn redact_data_points(metric: &mut Metric, redactor: &Redactor) -> usize {
    match &mut metric.data {
        None => 0,
        Some(Data::Gauge(gauge)) => {
            retain_redacted(&mut gauge.data_points, visit_number_point, redactor)
        }
        Some(Data::Sum(sum)) => retain_redacted(&mut sum.data_points, visit_number_point, redactor),
        Some(Data::Histogram(histogram)) => {
            retain_redacted(&mut histogram.data_points, visit_histogram_point, redactor)
        }
        Some(Data::ExponentialHistogram(histogram)) => retain_redacted(
            &mut histogram.data_points,
            visit_exponential_histogram_point,
            redactor,
        ),
        Some(Data::Summary(summary)) => {
            retain_redacted(&mut summary.data_points, visit_summary_point, redactor)
        }
    }
}

/// The special form of a top-level attribute's string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextForm {
    /// A SQL statement whose literals are replaced.
    SqlStatement,
    /// A URL, or a path with a query, redacted one query parameter at a time.
    Url,
    /// A query string without its `?`.
    Query,
}

/// Returns the special form of the top-level attribute `key`, as the
/// OpenTelemetry semantic conventions define it.
fn text_form(key: &str) -> Option<TextForm> {
    match key {
        "db.query.text" | "db.statement" => Some(TextForm::SqlStatement),
        "url.full" | "http.url" | "http.target" => Some(TextForm::Url),
        "url.query" => Some(TextForm::Query),
        _ => None,
    }
}

/// The action the walker applies to each value it reaches.
trait Edit {
    /// Handles a string that is not under a sensitive key.
    fn text(&mut self, text: &mut String);

    /// Handles an attribute's string value that is not under a sensitive
    /// key; `path` is the attribute's dotted key, empty for a log body.
    fn field_text(&mut self, _path: &str, text: &mut String) {
        self.text(text);
    }

    /// Handles the string value of a top-level attribute of a special form.
    fn text_in_form(&mut self, _form: TextForm, text: &mut String) {
        self.text(text);
    }

    /// Handles a scalar under a sensitive key of `kind`.
    fn whole(&mut self, kind: KindId, value: &mut Value);

    /// Returns the kind of a sensitive attribute key, by its dotted path.
    fn key_kind(&self, path: &str) -> Option<KindId>;

    /// Returns how many values this edit has changed so far.
    fn change_count(&self) -> usize {
        0
    }

    /// Reports whether the top-level string attribute `key` = `value` was
    /// seen before and left unchanged, so handling it again can be skipped.
    fn is_known_unchanged(&self, _key: &str, _value: &str) -> bool {
        false
    }

    /// Notes that the top-level string attribute `key` = `value` was left
    /// unchanged.
    fn remember_unchanged(&mut self, _key: &str, _value: &str) {}
}

/// Redacts strings and replaces the values of sensitive keys by tokens.
///
/// Records of one source tend to repeat the same attributes (a tailed
/// file's `log.file.path`, an SDK's `code.namespace`), so the edit keeps
/// the last few top-level string attributes that came out unchanged and
/// skips them when they come again. Redaction depends only on the key and
/// the value, so a pair that was clean once is clean every time.
struct RedactEdit<'a> {
    redactor: &'a Redactor,
    changes: usize,
    /// Top-level string attributes found clean, oldest first.
    unchanged: Vec<(String, String)>,
}

/// Clean attributes an edit remembers: enough for the file attributes of
/// tailed records and a typical SDK's per-record attributes, few enough
/// that a linear search stays cheaper than one scan.
const REMEMBERED_ATTRIBUTES: usize = 8;

impl<'a> RedactEdit<'a> {
    fn new(redactor: &'a Redactor) -> RedactEdit<'a> {
        RedactEdit {
            redactor,
            changes: 0,
            unchanged: Vec::new(),
        }
    }
}

impl Edit for RedactEdit<'_> {
    fn text(&mut self, text: &mut String) {
        self.field_text("", text);
    }

    /// The key is read for context words, so `aadhaar` = `234567890123`
    /// is found like `aadhaar=234567890123` in a text line.
    fn field_text(&mut self, path: &str, text: &mut String) {
        let redacted = match self.redactor.redact_field(path, text) {
            Cow::Borrowed(_) => return,
            Cow::Owned(redacted) => redacted,
        };
        *text = redacted;
        self.changes += 1;
    }

    fn text_in_form(&mut self, form: TextForm, text: &mut String) {
        let redacted = match form {
            TextForm::SqlStatement => self.redactor.redact_sql(text),
            TextForm::Url => self.redactor.redact_url(text),
            TextForm::Query => self.redactor.redact_query(text),
        };
        if let Some(redacted) = redacted {
            *text = redacted;
            self.changes += 1;
        }
    }

    fn whole(&mut self, kind: KindId, value: &mut Value) {
        let mut token = String::new();
        match value {
            Value::StringValue(text) if self.redactor.keeps_whole_value(text) => return,
            Value::StringValue(text) => {
                self.redactor.push_whole_value_token(kind, text, &mut token)
            }
            Value::IntValue(number) => {
                let text = number.to_string();
                self.redactor
                    .push_whole_value_token(kind, &text, &mut token)
            }
            Value::DoubleValue(number) => {
                let text = number.to_string();
                self.redactor
                    .push_whole_value_token(kind, &text, &mut token)
            }
            Value::BytesValue(bytes) => {
                let text = data_encoding::HEXLOWER.encode(bytes);
                self.redactor
                    .push_whole_value_token(kind, &text, &mut token)
            }
            Value::BoolValue(_)
            | Value::StringValueStrindex(_)
            | Value::ArrayValue(_)
            | Value::KvlistValue(_) => return,
        }
        *value = Value::StringValue(token);
        self.changes += 1;
    }

    fn key_kind(&self, path: &str) -> Option<KindId> {
        self.redactor.engine().sensitive_key_kind(path)
    }

    fn change_count(&self) -> usize {
        self.changes
    }

    fn is_known_unchanged(&self, key: &str, value: &str) -> bool {
        self.unchanged
            .iter()
            .any(|(known_key, known_value)| known_key == key && known_value == value)
    }

    fn remember_unchanged(&mut self, key: &str, value: &str) {
        if self.unchanged.len() == REMEMBERED_ATTRIBUTES {
            self.unchanged.remove(0);
        }
        self.unchanged.push((key.to_string(), value.to_string()));
    }
}

/// Applies `visit` to `item` with an edit that redacts, and reports whether
/// it finished without a panic.
fn redacts<T>(item: &mut T, visit: impl Fn(&mut T, &mut dyn Edit), redactor: &Redactor) -> bool {
    redacts_with(item, visit, &mut RedactEdit::new(redactor))
}

fn redacts_with<T>(
    item: &mut T,
    visit: impl Fn(&mut T, &mut dyn Edit),
    edit: &mut dyn Edit,
) -> bool {
    catch_unwind(AssertUnwindSafe(|| visit(item, edit))).is_ok()
}

/// Redacts every item of `items`, removes those whose redaction panicked,
/// and returns how many were removed.
fn retain_redacted<T>(
    items: &mut Vec<T>,
    visit: impl Fn(&mut T, &mut dyn Edit),
    redactor: &Redactor,
) -> usize {
    retain_redacted_with(items, visit, &mut RedactEdit::new(redactor))
}

fn retain_redacted_with<T>(
    items: &mut Vec<T>,
    visit: impl Fn(&mut T, &mut dyn Edit),
    edit: &mut dyn Edit,
) -> usize {
    let before = items.len();
    items.retain_mut(|item| redacts_with(item, &visit, edit));
    before - items.len()
}

fn visit_resource(resource: &mut Option<Resource>, edit: &mut dyn Edit) {
    if let Some(resource) = resource {
        visit_top_attributes(&mut resource.attributes, edit);
    }
}

fn visit_scope(scope: &mut Option<InstrumentationScope>, edit: &mut dyn Edit) {
    if let Some(scope) = scope {
        edit.text(&mut scope.name);
        edit.text(&mut scope.version);
        visit_top_attributes(&mut scope.attributes, edit);
    }
}

fn visit_log_record(record: &mut LogRecord, edit: &mut dyn Edit) {
    if let Some(body) = &mut record.body {
        visit_any_value(body, "", None, edit);
    }
    edit.text(&mut record.severity_text);
    edit.text(&mut record.event_name);
    visit_top_attributes(&mut record.attributes, edit);
}

fn visit_span(span: &mut Span, options: &OtlpOptions, edit: &mut dyn Edit) {
    if options.redact_span_names {
        edit.text(&mut span.name);
    }
    edit.text(&mut span.trace_state);
    visit_top_attributes(&mut span.attributes, edit);
    for event in &mut span.events {
        if options.redact_span_names {
            edit.text(&mut event.name);
        }
        visit_top_attributes(&mut event.attributes, edit);
    }
    for link in &mut span.links {
        edit.text(&mut link.trace_state);
        visit_top_attributes(&mut link.attributes, edit);
    }
    if let Some(status) = &mut span.status {
        edit.text(&mut status.message);
    }
}

fn visit_number_point(point: &mut NumberDataPoint, edit: &mut dyn Edit) {
    visit_top_attributes(&mut point.attributes, edit);
    visit_exemplars(&mut point.exemplars, edit);
}

fn visit_histogram_point(point: &mut HistogramDataPoint, edit: &mut dyn Edit) {
    visit_top_attributes(&mut point.attributes, edit);
    visit_exemplars(&mut point.exemplars, edit);
}

fn visit_exponential_histogram_point(
    point: &mut ExponentialHistogramDataPoint,
    edit: &mut dyn Edit,
) {
    visit_top_attributes(&mut point.attributes, edit);
    visit_exemplars(&mut point.exemplars, edit);
}

fn visit_summary_point(point: &mut SummaryDataPoint, edit: &mut dyn Edit) {
    visit_top_attributes(&mut point.attributes, edit);
}

fn visit_exemplars(exemplars: &mut [Exemplar], edit: &mut dyn Edit) {
    for exemplar in exemplars {
        visit_top_attributes(&mut exemplar.filtered_attributes, edit);
    }
}

/// Visits the attributes of a resource, scope, record, span, event, link,
/// data point or exemplar.
fn visit_top_attributes(attributes: &mut [KeyValue], edit: &mut dyn Edit) {
    visit_attributes(attributes, "", None, edit);
}

/// Visits attributes whose keys continue `path`; `sensitive` is the kind of
/// an enclosing sensitive key, which covers everything below it.
fn visit_attributes(
    attributes: &mut [KeyValue],
    path: &str,
    sensitive: Option<KindId>,
    edit: &mut dyn Edit,
) {
    for attribute in attributes {
        let KeyValue { key, value, .. } = attribute;
        let Some(value) = value else {
            continue;
        };
        if plain_top_level_string(path, sensitive, value)
            .is_some_and(|text| edit.is_known_unchanged(key, text))
        {
            continue;
        }
        let changes_before = edit.change_count();

        // Top-level keys, by far the most common, are looked up without
        // building a path.
        let child_path = match path.is_empty() {
            true => Cow::Borrowed(key.as_str()),
            false => Cow::Owned(format!("{path}.{key}")),
        };
        let kind = sensitive.or_else(|| edit.key_kind(&child_path));
        let form = match (path.is_empty(), kind) {
            (true, None) => text_form(key),
            _ => None,
        };
        match (form, &mut value.value) {
            (Some(form), Some(Value::StringValue(text))) => edit.text_in_form(form, text),
            _ => visit_any_value(value, &child_path, kind, edit),
        }
        // A key rarely carries personal data, but one built from a value
        // (`quota.alice@example.com`) must not pass raw either.
        drop(child_path);
        edit.text(key);

        if let Some(text) = plain_top_level_string(path, sensitive, value)
            && edit.change_count() == changes_before
        {
            edit.remember_unchanged(key, text);
        }
    }
}

/// Returns the value of a top-level string attribute under a key that is
/// not sensitive: the attributes whose redaction an edit may remember.
fn plain_top_level_string<'a>(
    path: &str,
    sensitive: Option<KindId>,
    value: &'a AnyValue,
) -> Option<&'a str> {
    match (path.is_empty(), sensitive, &value.value) {
        (true, None, Some(Value::StringValue(text))) => Some(text),
        _ => None,
    }
}

fn visit_any_value(
    value: &mut AnyValue,
    path: &str,
    sensitive: Option<KindId>,
    edit: &mut dyn Edit,
) {
    let Some(inner) = &mut value.value else {
        return;
    };
    match inner {
        Value::ArrayValue(array) => {
            for item in &mut array.values {
                visit_any_value(item, path, sensitive, edit);
            }
        }
        Value::KvlistValue(list) => visit_attributes(&mut list.values, path, sensitive, edit),
        _ => match sensitive {
            Some(kind) => edit.whole(kind, inner),
            None => match inner {
                Value::StringValue(text) => edit.field_text(path, text),
                Value::BytesValue(bytes) => visit_bytes(bytes, path, edit),
                _ => {}
            },
        },
    }
}

/// Redacts a byte value that is valid UTF-8 as text, keeping it bytes.
fn visit_bytes(bytes: &mut Vec<u8>, path: &str, edit: &mut dyn Edit) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let mut text = text.to_owned();
    edit.field_text(path, &mut text);
    if text.as_bytes() != bytes.as_slice() {
        *bytes = text.into_bytes();
    }
}

#[cfg(test)]
mod redactor_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(Value::StringValue(value.to_string())),
        })
    }

    fn attribute(key: &str, value: Option<AnyValue>) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }
    }

    fn record_with_nested_strings() -> LogRecord {
        let nested = AnyValue {
            value: Some(Value::KvlistValue(
                opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![
                        attribute("inner", string("inner text")),
                        attribute(
                            "secret",
                            Some(AnyValue {
                                value: Some(Value::IntValue(7)),
                            }),
                        ),
                    ],
                },
            )),
        };
        LogRecord {
            body: string("body text"),
            attributes: vec![
                attribute("plain", string("attribute text")),
                attribute("nested", Some(nested)),
            ],
            span_id: vec![1; 8],
            ..Default::default()
        }
    }

    /// Upper-cases text, and writes `KIND<n>` for values under the key
    /// `nested.secret`; panics on text starting with `panic`.
    struct TestEdit;

    impl Edit for TestEdit {
        fn text(&mut self, text: &mut String) {
            if text.starts_with("panic") {
                panic!("detector failure");
            }
            text.make_ascii_uppercase();
        }

        fn whole(&mut self, kind: KindId, value: &mut Value) {
            *value = Value::StringValue(format!("KIND{kind:?}"));
        }

        fn key_kind(&self, path: &str) -> Option<KindId> {
            (path == "nested.secret").then_some(KindId::for_tests(3))
        }
    }

    /// Lists the record's strings in visiting order.
    fn strings_of(record: &mut LogRecord) -> Vec<String> {
        struct Collect(Vec<String>);

        impl Edit for Collect {
            fn text(&mut self, text: &mut String) {
                self.0.push(text.clone());
            }

            fn whole(&mut self, _kind: KindId, value: &mut Value) {
                self.0.push(format!("whole:{value:?}"));
            }

            fn key_kind(&self, _path: &str) -> Option<KindId> {
                None
            }
        }

        let mut collect = Collect(Vec::new());
        visit_log_record(record, &mut collect);
        collect.0
    }

    #[test]
    fn walker_reaches_nested_strings() {
        let mut record = record_with_nested_strings();
        record.severity_text = "warn".to_string();
        record.event_name = "login".to_string();
        assert!(redacts_with(&mut record, visit_log_record, &mut TestEdit));

        let strings = strings_of(&mut record);
        for expected in ["BODY TEXT", "ATTRIBUTE TEXT", "INNER TEXT", "WARN", "LOGIN"] {
            assert!(
                strings.iter().any(|text| text == expected),
                "{expected} in {strings:?}"
            );
        }
        for key in ["PLAIN", "NESTED", "INNER", "SECRET"] {
            assert!(
                strings.iter().any(|text| text == key),
                "key {key} in {strings:?}"
            );
        }
        assert_eq!(record.span_id, vec![1; 8]);
    }

    #[test]
    fn bytes_redacted_when_utf8() {
        let mut utf8 = b"text".to_vec();
        visit_bytes(&mut utf8, "", &mut TestEdit);
        assert_eq!(utf8, b"TEXT");

        let mut binary = vec![0xff, 0x00, b'a'];
        visit_bytes(&mut binary, "", &mut TestEdit);
        assert_eq!(binary, vec![0xff, 0x00, b'a']);
    }

    #[test]
    fn span_and_event_names_redacted() {
        let mut span = Span {
            name: "get /users/x".to_string(),
            events: vec![opentelemetry_proto::tonic::trace::v1::span::Event {
                name: "retry".to_string(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut kept = span.clone();
        visit_span(&mut span, &OtlpOptions::default(), &mut TestEdit);
        assert_eq!(span.name, "GET /USERS/X");
        assert_eq!(span.events[0].name, "RETRY");

        let keep_names = OtlpOptions {
            redact_span_names: false,
        };
        visit_span(&mut kept, &keep_names, &mut TestEdit);
        assert_eq!(kept.name, "get /users/x");
        assert_eq!(kept.events[0].name, "retry");
    }

    #[test]
    fn sensitive_nested_key_replaced_whole() {
        let mut record = record_with_nested_strings();
        assert!(redacts_with(&mut record, visit_log_record, &mut TestEdit));
        let Some(Value::KvlistValue(list)) = &record.attributes[1].value.as_ref().unwrap().value
        else {
            panic!("nested attribute is no longer a map");
        };
        let secret = list.values[1]
            .value
            .as_ref()
            .unwrap()
            .value
            .as_ref()
            .unwrap();
        assert!(matches!(secret, Value::StringValue(text) if text.starts_with("KIND")));
    }

    #[test]
    fn attribute_key_is_context() {
        let key = crate::token::Key::from_text(&"ab".repeat(32), "k1").unwrap();
        let engine = crate::detect::Engine::builtin(&Default::default()).unwrap();
        let redactor = Redactor::new(engine, crate::token::Tokenizer::new(key));
        let patient = AnyValue {
            value: Some(Value::KvlistValue(
                opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![attribute("nhs_number", string("4010232137"))],
                },
            )),
        };
        let mut record = LogRecord {
            body: string("4010232137"),
            attributes: vec![
                attribute("routing_number", string("021000021")),
                attribute("order", string("021000021")),
                attribute("patient", Some(patient)),
            ],
            ..Default::default()
        };

        visit_log_record(&mut record, &mut RedactEdit::new(&redactor));

        let text_of = |value: &Option<AnyValue>| match value.as_ref().and_then(|v| v.value.as_ref())
        {
            Some(Value::StringValue(text)) => text.clone(),
            other => panic!("not a string: {other:?}"),
        };
        assert!(text_of(&record.attributes[0].value).starts_with("ABA_ROUTING_k1_"));
        assert_eq!(text_of(&record.attributes[1].value), "021000021");
        let Some(Value::KvlistValue(list)) = &record.attributes[2].value.as_ref().unwrap().value
        else {
            panic!("patient is no longer a map");
        };
        assert!(text_of(&list.values[0].value).starts_with("UK_NHS_k1_"));
        assert_eq!(text_of(&record.body), "4010232137", "a body has no key");
    }

    #[test]
    fn panicking_record_dropped() {
        let mut failing = record_with_nested_strings();
        failing.attributes[0].value = string("panic now");
        let mut records = vec![record_with_nested_strings(), failing];

        let dropped = retain_redacted_with(&mut records, visit_log_record, &mut TestEdit);

        assert_eq!(dropped, 1);
        assert_eq!(records.len(), 1, "the record that redacted stays");
        assert_eq!(common_body(&records[0]), Some("BODY TEXT"));
    }

    #[test]
    fn repeated_clean_attributes_skipped() {
        let key = crate::token::Key::from_text(&"ab".repeat(32), "k1").unwrap();
        let engine = crate::detect::Engine::builtin(&Default::default()).unwrap();
        let redactor = Redactor::new(engine, crate::token::Tokenizer::new(key));
        let record = |path: &str, user: &str| LogRecord {
            attributes: vec![
                attribute("log.file.path", string(path)),
                attribute("user", string(user)),
            ],
            ..Default::default()
        };
        let mut records = vec![
            record("/var/log/app.log", "alice@example.com"),
            record("/var/log/app.log", "alice@example.com"),
            record("/var/log/bob@example.com.log", "carol"),
        ];
        let mut edit = RedactEdit::new(&redactor);

        let dropped = retain_redacted_with(&mut records, visit_log_record, &mut edit);

        assert_eq!(dropped, 0);
        let values: Vec<String> = records
            .iter()
            .flat_map(|record| &record.attributes)
            .map(
                |attribute| match attribute.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(text)) => text.clone(),
                    other => panic!("not a string: {other:?}"),
                },
            )
            .collect();
        assert_eq!(values[0], "/var/log/app.log");
        assert_eq!(values[2], "/var/log/app.log");
        assert!(values[1].starts_with("EMAIL_k1_"), "{}", values[1]);
        assert_eq!(
            values[1], values[3],
            "a changed value is redacted every time"
        );
        assert!(values[4].starts_with("/var/log/EMAIL_k1_"), "{}", values[4]);
        assert_eq!(values[5], "carol");
        assert!(edit.is_known_unchanged("log.file.path", "/var/log/app.log"));
        assert!(!edit.is_known_unchanged("user", "alice@example.com"));
        assert!(edit.is_known_unchanged("user", "carol"));
    }

    fn common_body(record: &LogRecord) -> Option<&str> {
        match record.body.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text),
            _ => None,
        }
    }
}
