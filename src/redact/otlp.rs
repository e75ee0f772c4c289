//! Walks OTLP logs and traces and redacts every string that can carry
//! personal data.
//!
//! Redacted: log bodies (strings, and strings inside arrays and maps at any
//! depth), attributes of resources, scopes, log records, spans, span events
//! and span links, and span status messages. Never touched: ids,
//! timestamps, severities, flags, names of attributes, span names, and the
//! structure of the request.
//!
//! NOTE: byte values (`bytesValue`) pass unchanged, because rewriting them
//! would change their type; a producer that logs text as bytes is not
//! covered.
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

/// Applies `visit` to `item` with an edit that redacts each string. If that
/// panics, visits again with an edit that replaces each string whole, and
/// returns 1.
fn guarded<T>(
    item: &mut T,
    visit: impl Fn(&mut T, &mut dyn FnMut(&mut String)),
    redactor: &Redactor,
) -> usize {
    guarded_with(item, visit, &|text: &mut String| {
        redact_string(redactor, text)
    })
}

fn guarded_with<T>(
    item: &mut T,
    visit: impl Fn(&mut T, &mut dyn FnMut(&mut String)),
    redact: &dyn Fn(&mut String),
) -> usize {
    let redacted = catch_unwind(AssertUnwindSafe(|| {
        visit(item, &mut |text: &mut String| redact(text));
    }));
    if redacted.is_ok() {
        return 0;
    }

    visit(item, &mut |text: &mut String| {
        *text = REDACTION_FAILED.to_string();
    });
    1
}

fn redact_string(redactor: &Redactor, text: &mut String) {
    let redacted = match redactor.redact(text) {
        Cow::Borrowed(_) => return,
        Cow::Owned(redacted) => redacted,
    };
    *text = redacted;
}

fn visit_resource(resource: &mut Option<Resource>, edit: &mut dyn FnMut(&mut String)) {
    if let Some(resource) = resource {
        visit_attributes(&mut resource.attributes, edit);
    }
}

fn visit_scope(scope: &mut Option<InstrumentationScope>, edit: &mut dyn FnMut(&mut String)) {
    if let Some(scope) = scope {
        visit_attributes(&mut scope.attributes, edit);
    }
}

fn visit_log_record(record: &mut LogRecord, edit: &mut dyn FnMut(&mut String)) {
    if let Some(body) = &mut record.body {
        visit_any_value(body, edit);
    }
    visit_attributes(&mut record.attributes, edit);
}

fn visit_span(span: &mut Span, edit: &mut dyn FnMut(&mut String)) {
    visit_attributes(&mut span.attributes, edit);
    for event in &mut span.events {
        visit_attributes(&mut event.attributes, edit);
    }
    for link in &mut span.links {
        visit_attributes(&mut link.attributes, edit);
    }
    if let Some(status) = &mut span.status {
        edit(&mut status.message);
    }
}

fn visit_attributes(attributes: &mut [KeyValue], edit: &mut dyn FnMut(&mut String)) {
    for attribute in attributes {
        if let Some(value) = &mut attribute.value {
            visit_any_value(value, edit);
        }
    }
}

fn visit_any_value(value: &mut AnyValue, edit: &mut dyn FnMut(&mut String)) {
    match &mut value.value {
        Some(Value::StringValue(text)) => edit(text),
        Some(Value::ArrayValue(array)) => {
            for item in &mut array.values {
                visit_any_value(item, edit);
            }
        }
        Some(Value::KvlistValue(list)) => visit_attributes(&mut list.values, edit),
        Some(
            Value::BoolValue(_)
            | Value::IntValue(_)
            | Value::DoubleValue(_)
            | Value::BytesValue(_)
            | Value::StringValueStrindex(_),
        )
        | None => {}
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

    fn record_with_nested_strings() -> LogRecord {
        let nested = AnyValue {
            value: Some(Value::KvlistValue(
                opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![KeyValue {
                        key: "inner".to_string(),
                        value: string("inner text"),
                        ..Default::default()
                    }],
                },
            )),
        };
        LogRecord {
            body: string("body text"),
            attributes: vec![
                KeyValue {
                    key: "plain".to_string(),
                    value: string("attribute text"),
                    ..Default::default()
                },
                KeyValue {
                    key: "nested".to_string(),
                    value: Some(nested),
                    ..Default::default()
                },
            ],
            span_id: vec![1; 8],
            ..Default::default()
        }
    }

    fn strings_of(record: &mut LogRecord) -> Vec<String> {
        let mut strings = Vec::new();
        visit_log_record(record, &mut |text: &mut String| strings.push(text.clone()));
        strings
    }

    #[test]
    fn walker_reaches_nested_strings() {
        let mut record = record_with_nested_strings();
        let failed = guarded_with(&mut record, visit_log_record, &|text: &mut String| {
            text.make_ascii_uppercase()
        });
        assert_eq!(failed, 0);
        assert_eq!(
            strings_of(&mut record),
            ["BODY TEXT", "ATTRIBUTE TEXT", "INNER TEXT"]
        );
        assert_eq!(record.span_id, vec![1; 8]);
    }

    #[test]
    fn panic_replaces_every_string() {
        let mut record = record_with_nested_strings();
        let failed = guarded_with(&mut record, visit_log_record, &|text: &mut String| {
            if text.starts_with("attribute") {
                panic!("detector failure");
            }
            text.make_ascii_uppercase();
        });
        assert_eq!(failed, 1);
        assert_eq!(strings_of(&mut record), [REDACTION_FAILED; 3]);
        assert_eq!(record.attributes[0].key, "plain");
        assert_eq!(record.span_id, vec![1; 8], "ids must survive a failure");
    }
}
