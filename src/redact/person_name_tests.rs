//! Redaction of personal names through the whole path: whole values under
//! name keys in JSON and OTLP, `user.name` values that hold a full name,
//! and one token for spellings of one name.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

use super::Redactor;
use crate::detect::{Engine, EngineOptions};
use crate::token::{Key, Tokenizer};

fn redactor() -> Redactor {
    let key = Key::from_text(&"cd".repeat(32), "k1").unwrap();
    Redactor::new(
        Engine::builtin(&EngineOptions::default()).unwrap(),
        Tokenizer::new(key),
    )
}

/// Returns the token that `text` became, which must be all of `output`
/// between `before` and `after`.
fn token_between<'a>(output: &'a str, before: &str, after: &str) -> &'a str {
    let start = output
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} not in {output}"))
        + before.len();
    let end = start
        + output[start..]
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} not in {output}"));
    &output[start..end]
}

#[test]
fn json_person_keys_tokenized() {
    let redactor = redactor();
    let line = r#"{"user":{"id":7,"name":"Maks Pleśniak"},"actor":{"name":"Siglinde Schmidtke"},"service":{"name":"Payment Service"}}"#;
    let output = redactor.redact(line);

    let user = token_between(&output, r#""name":""#, r#""}"#);
    assert!(user.starts_with("PERSON_NAME_k1_"), "{output}");
    let actor = token_between(&output, r#""actor":{"name":""#, r#""}"#);
    assert!(actor.starts_with("PERSON_NAME_k1_"), "{output}");
    assert!(
        output.ends_with(r#""service":{"name":"Payment Service"}}"#),
        "a service name is no person: {output}"
    );
}

#[test]
fn json_user_login_stays_user() {
    let redactor = redactor();
    let output = redactor.redact(r#"{"user":{"name":"mpleśniak"}}"#);
    assert!(output.contains(r#""name":"USER_k1_"#), "{output}");
}

#[test]
fn name_spellings_share_token() {
    let redactor = redactor();
    let spaced = redactor.redact("name=Conor  Fisher card=1");
    let json = redactor.redact(r#"{"holder":"conor fisher"}"#);
    let sql = redactor.redact("update t set holder='CONOR FISHER' where id=1");

    let first = token_between(&spaced, "name=", " card=");
    assert!(first.starts_with("PERSON_NAME_k1_"), "{spaced}");
    assert_eq!(token_between(&json, r#""holder":""#, r#"""#), first);
    assert_eq!(token_between(&sql, "holder='", "'"), first);
}

#[test]
fn otlp_user_name_attribute_tokenized() {
    let redactor = redactor();
    let attribute = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    };
    let record = LogRecord {
        attributes: vec![
            attribute("user.name", "Inaya van Oostendorp"),
            attribute("service.name", "Payment Service"),
        ],
        ..LogRecord::default()
    };
    let mut request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };

    super::otlp::redact_logs_request(&redactor, &mut request);

    let attributes = &request.resource_logs[0].scope_logs[0].log_records[0].attributes;
    let text = |index: usize| match &attributes[index].value {
        Some(AnyValue {
            value: Some(Value::StringValue(text)),
        }) => text.clone(),
        other => panic!("not a string: {other:?}"),
    };
    assert!(text(0).starts_with("PERSON_NAME_k1_"), "{}", text(0));
    assert_eq!(text(1), "Payment Service");
}
