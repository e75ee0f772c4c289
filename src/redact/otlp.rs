//! Walks OTLP logs and traces and redacts every string that can carry
//! personal data.
//!
//! Redacted: log bodies, including strings inside arrays and maps at any
//! depth. Attribute keys and values of resources, scopes, log records,
//! spans, span events and span links. Span names, span event names, log
//! event names, severity texts, scope names and versions, span and link
//! trace states (vendors put user ids there), and span status messages.
//! Never touched: ids, timestamps, severity numbers, flags, kinds, counts,
//! schema URLs, and the structure of the request.
//!
//! An attribute's key is read as context for its string value, so an
//! attribute `nhs` = `4010232137` is found as `nhs=4010232137` is in text.
//!
//! An attribute whose key is sensitive (`user.email`, `enduser.id`,
//! `http.request.header.authorization`, see `detectors/keys.yaml`) has its
//! whole value replaced by one token, whatever it looks like; a number or
//! byte value there becomes a token string. Below a sensitive map or array
//! key, every scalar is replaced.
//!
//! A byte value (`bytesValue`) that is valid UTF-8 is redacted as text and
//! stays a byte value. NOTE: other byte values pass unchanged, because no
//! detector reads binary data.
//!
//! Fail closed: a record is redacted under `catch_unwind`. If redacting it
//! panics, every string in that record is replaced whole by
//! [`REDACTION_FAILED`], so the record keeps its shape and ids but can no
//! longer carry the value that broke the detector.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::Redactor;
use crate::detect::KindId;

/// The text that replaces every string of a record whose redaction failed.
pub const REDACTION_FAILED: &str = "[hush: redaction failed]";

/// Redacts a logs request in place and returns how many records (log
/// records, or a resource or scope) failed and were replaced whole.
pub fn redact_logs_request(redactor: &Redactor, request: &mut ExportLogsServiceRequest) -> usize {
    let mut failed = 0;
    for resource_logs in &mut request.resource_logs {
        failed += guarded(
            &mut resource_logs.resource,
            |resource, edit| visit_resource(resource, edit),
            redactor,
        );
        for scope_logs in &mut resource_logs.scope_logs {
            failed += guarded(
                &mut scope_logs.scope,
                |scope, edit| visit_scope(scope, edit),
                redactor,
            );
            for record in &mut scope_logs.log_records {
                failed += guarded(record, visit_log_record, redactor);
            }
        }
    }
    failed
}

/// Redacts a traces request in place and returns how many spans (or
/// resources or scopes) failed and were replaced whole.
pub fn redact_traces_request(
    redactor: &Redactor,
    request: &mut ExportTraceServiceRequest,
) -> usize {
    let mut failed = 0;
    for resource_spans in &mut request.resource_spans {
        failed += guarded(
            &mut resource_spans.resource,
            |resource, edit| visit_resource(resource, edit),
            redactor,
        );
        for scope_spans in &mut resource_spans.scope_spans {
            failed += guarded(
                &mut scope_spans.scope,
                |scope, edit| visit_scope(scope, edit),
                redactor,
            );
            for span in &mut scope_spans.spans {
                failed += guarded(span, visit_span, redactor);
            }
        }
    }
    failed
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

    /// Handles a scalar under a sensitive key of `kind`.
    fn whole(&mut self, kind: KindId, value: &mut Value);

    /// Returns the kind of a sensitive attribute key, by its dotted path.
    fn key_kind(&self, path: &str) -> Option<KindId>;
}

/// Redacts strings and replaces the values of sensitive keys by tokens.
struct RedactEdit<'a> {
    redactor: &'a Redactor,
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
    }

    fn key_kind(&self, path: &str) -> Option<KindId> {
        self.redactor.engine().sensitive_key_kind(path)
    }
}

/// Replaces every string, and every value under a sensitive key, with
/// [`REDACTION_FAILED`]; used after redacting the same item panicked.
struct FailEdit<'a> {
    redactor: &'a Redactor,
}

impl Edit for FailEdit<'_> {
    fn text(&mut self, text: &mut String) {
        *text = REDACTION_FAILED.to_string();
    }

    fn whole(&mut self, _kind: KindId, value: &mut Value) {
        if !matches!(value, Value::BoolValue(_)) {
            *value = Value::StringValue(REDACTION_FAILED.to_string());
        }
    }

    fn key_kind(&self, path: &str) -> Option<KindId> {
        // The key table is a plain lookup, but this runs after a panic, so
        // a second one here must not escape either.
        catch_unwind(AssertUnwindSafe(|| {
            self.redactor.engine().sensitive_key_kind(path)
        }))
        .unwrap_or(None)
    }
}

/// Applies `visit` to `item` with an edit that redacts. If that panics,
/// visits again with an edit that replaces each value whole, and returns 1.
fn guarded<T>(item: &mut T, visit: impl Fn(&mut T, &mut dyn Edit), redactor: &Redactor) -> usize {
    guarded_with(
        item,
        visit,
        &mut RedactEdit { redactor },
        &mut FailEdit { redactor },
    )
}

fn guarded_with<T>(
    item: &mut T,
    visit: impl Fn(&mut T, &mut dyn Edit),
    edit: &mut dyn Edit,
    fallback: &mut dyn Edit,
) -> usize {
    let redacted = catch_unwind(AssertUnwindSafe(|| visit(item, edit)));
    if redacted.is_ok() {
        return 0;
    }

    visit(item, fallback);
    1
}

fn visit_resource(resource: &mut Option<Resource>, edit: &mut dyn Edit) {
    if let Some(resource) = resource {
        visit_attributes(&mut resource.attributes, "", None, edit);
    }
}

fn visit_scope(scope: &mut Option<InstrumentationScope>, edit: &mut dyn Edit) {
    if let Some(scope) = scope {
        edit.text(&mut scope.name);
        edit.text(&mut scope.version);
        visit_attributes(&mut scope.attributes, "", None, edit);
    }
}

fn visit_log_record(record: &mut LogRecord, edit: &mut dyn Edit) {
    if let Some(body) = &mut record.body {
        visit_any_value(body, "", None, edit);
    }
    edit.text(&mut record.severity_text);
    edit.text(&mut record.event_name);
    visit_attributes(&mut record.attributes, "", None, edit);
}

fn visit_span(span: &mut Span, edit: &mut dyn Edit) {
    // Span names built from URL paths (`GET /users/alice@example.com`) are
    // common, so names are redacted like any other text.
    edit.text(&mut span.name);
    edit.text(&mut span.trace_state);
    visit_attributes(&mut span.attributes, "", None, edit);
    for event in &mut span.events {
        edit.text(&mut event.name);
        visit_attributes(&mut event.attributes, "", None, edit);
    }
    for link in &mut span.links {
        edit.text(&mut link.trace_state);
        visit_attributes(&mut link.attributes, "", None, edit);
    }
    if let Some(status) = &mut span.status {
        edit.text(&mut status.message);
    }
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
        // Top-level keys, by far the most common, are looked up without
        // building a path.
        let child_path = match path.is_empty() {
            true => Cow::Borrowed(key.as_str()),
            false => Cow::Owned(format!("{path}.{key}")),
        };
        let kind = sensitive.or_else(|| edit.key_kind(&child_path));
        visit_any_value(value, &child_path, kind, edit);
        // A key rarely carries personal data, but one built from a value
        // (`quota.alice@example.com`) must not pass raw either.
        drop(child_path);
        edit.text(key);
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

    struct MarkerEdit;

    impl Edit for MarkerEdit {
        fn text(&mut self, text: &mut String) {
            *text = REDACTION_FAILED.to_string();
        }

        fn whole(&mut self, _kind: KindId, value: &mut Value) {
            *value = Value::StringValue(REDACTION_FAILED.to_string());
        }

        fn key_kind(&self, path: &str) -> Option<KindId> {
            TestEdit.key_kind(path)
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
        let failed = guarded_with(
            &mut record,
            visit_log_record,
            &mut TestEdit,
            &mut MarkerEdit,
        );
        assert_eq!(failed, 0);

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
        visit_span(&mut span, &mut TestEdit);
        assert_eq!(span.name, "GET /USERS/X");
        assert_eq!(span.events[0].name, "RETRY");
    }

    #[test]
    fn sensitive_nested_key_replaced_whole() {
        let mut record = record_with_nested_strings();
        guarded_with(
            &mut record,
            visit_log_record,
            &mut TestEdit,
            &mut MarkerEdit,
        );
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

        visit_log_record(
            &mut record,
            &mut RedactEdit {
                redactor: &redactor,
            },
        );

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
    fn panic_replaces_every_value() {
        let mut record = record_with_nested_strings();
        record.attributes[0].value = string("panic now");
        let failed = guarded_with(
            &mut record,
            visit_log_record,
            &mut TestEdit,
            &mut MarkerEdit,
        );
        assert_eq!(failed, 1);
        let strings = strings_of(&mut record);
        assert!(
            strings
                .iter()
                .all(|text| text == REDACTION_FAILED || text.is_empty()),
            "{strings:?}"
        );
        assert_eq!(record.attributes[0].key, REDACTION_FAILED);
        assert_eq!(record.attributes.len(), 2, "the record keeps its shape");
        assert_eq!(record.span_id, vec![1; 8], "ids must survive a failure");
    }
}
