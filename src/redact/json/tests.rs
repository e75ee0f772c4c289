use super::*;
use crate::detect::{Engine, EngineOptions};
use crate::token::{Key, Tokenizer};

/// Returns the redactor shared by every test, because building the engine
/// is the slow part of a debug-build test.
pub(super) fn redactor() -> &'static Redactor {
    static REDACTOR: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    REDACTOR.get_or_init(|| {
        let key = Key::from_text(&"ab".repeat(32), "k1").unwrap();
        Redactor::new(
            Engine::builtin(&EngineOptions::default()).unwrap(),
            Tokenizer::new(key),
        )
    })
}

fn redact(text: &str) -> String {
    redactor().redact(text).into_owned()
}

pub(super) fn parse(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("invalid JSON {text}: {err}"))
}

#[test]
fn formatting_outside_values_kept() {
    let input = r#"{ "level":"info",  "msg" : "login from 10.1.2.3 ok", "n": 1.50e3 }"#;
    let output = redact(input);
    assert!(
        output.starts_with(r#"{ "level":"info",  "msg" : "login from IPV4_k1_"#),
        "{output}"
    );
    assert!(output.ends_with(r#" ok", "n": 1.50e3 }"#), "{output}");
    parse(&output);
}

#[test]
fn sensitive_key_value_replaced_whole() {
    let output =
        redact(r#"{"user":{"email":"not an address","id":42},"order":{"id":7},"ssn":123456789}"#);
    let value = parse(&output);
    let email = value["user"]["email"].as_str().unwrap();
    assert!(email.starts_with("EMAIL_k1_"), "{output}");
    assert!(
        value["user"]["id"]
            .as_str()
            .unwrap()
            .starts_with("USER_k1_"),
        "{output}"
    );
    assert_eq!(value["order"]["id"], 7, "order.id is not a listed key");
    assert!(
        value["ssn"].as_str().unwrap().starts_with("US_SSN_k1_"),
        "{output}"
    );
}

#[test]
fn dotted_key_matches_nested_path() {
    let output = redact(r#"{"enduser":{"id":"u-981"},"other":{"id":"x"}}"#);
    let value = parse(&output);
    assert!(
        value["enduser"]["id"]
            .as_str()
            .unwrap()
            .starts_with("USER_k1_"),
        "{output}"
    );
    assert_eq!(value["other"]["id"], "x");
}

#[test]
fn sensitive_object_replaces_every_leaf() {
    let output = redact(r#"{"password":{"old":"a1","new":"b2","changed":true,"n":[7]}}"#);
    let value = parse(&output);
    let password = &value["password"];
    assert!(
        password["old"]
            .as_str()
            .unwrap()
            .starts_with("PASSWORD_k1_")
    );
    assert!(
        password["new"]
            .as_str()
            .unwrap()
            .starts_with("PASSWORD_k1_")
    );
    assert_eq!(password["changed"], true);
    assert!(
        password["n"][0]
            .as_str()
            .unwrap()
            .starts_with("PASSWORD_k1_")
    );
}

#[test]
fn escaped_string_decoded_and_reencoded() {
    let output = redact(r#"{"msg":"say \"hi\" to carol\u0040example.com"}"#);
    let value = parse(&output);
    let message = value["msg"].as_str().unwrap();
    assert!(message.starts_with("say \"hi\" to EMAIL_k1_"), "{output}");
    assert!(!output.contains("example.com"), "{output}");
}

#[test]
fn array_document_and_key_with_escape() {
    let output = redact(r#"[{"e\u006dail":"x"},"dave@example.com",null]"#);
    let value = parse(&output);
    assert!(
        value[0]["email"].as_str().unwrap().starts_with("EMAIL_k1_"),
        "{output}"
    );
    assert!(
        value[1].as_str().unwrap().starts_with("EMAIL_k1_"),
        "{output}"
    );
    assert!(value[2].is_null());
}

#[test]
fn clean_document_borrowed() {
    let input = r#"{"level":"info","msg":"started","port":8080}"#;
    assert!(matches!(redactor().redact(input), Cow::Borrowed(_)));
}

#[test]
fn invalid_json_falls_back_to_text() {
    let output = redact(r#"{"msg": "truncated from 10.0.0.9"#);
    assert!(!output.contains("10.0.0.9"), "{output}");
    let output = redact("{not json, mail erin@example.com}");
    assert!(!output.contains("erin@example.com"), "{output}");
}

#[test]
fn deep_nesting_falls_back_to_text() {
    let depth = 1000;
    let input = format!(
        "{}\"frank@example.com\"{}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let output = redact(&input);
    assert!(!output.contains("frank@example.com"));
    assert_eq!(
        output.len(),
        input.len() - "frank@example.com".len() + output.matches("EMAIL_k1_").count() * 25
    );
}

#[test]
fn redacting_twice_changes_nothing() {
    let input =
        r#"{"email":"Grace@Example.com","msg":"from 192.0.2.7","card":"4111 1111 1111 1111"}"#;
    let once = redact(input);
    let twice = redact(&once);
    assert_eq!(once, twice);
}

#[test]
fn key_in_message_text_same_token_as_field() {
    let field = redact(r#"{"email":"Heidi@Example.com"}"#);
    let text = redact("mail to heidi@example.com");
    let field_token = parse(&field)["email"].as_str().unwrap().to_string();
    assert!(text.ends_with(&field_token), "{field} vs {text}");
}

#[test]
fn key_is_context_for_bare_id() {
    let cases = [
        (r#"{"routing_number": "021000021"}"#, "ABA_ROUTING"),
        (r#"{"nhs":"4010232137"}"#, "UK_NHS"),
        (r#"{"device":{"imei":"490154203237518"}}"#, "IMEI"),
        (r#"{"bsn": "111222333"}"#, "NL_BSN"),
        (r#"{"cpf": "52998224725"}"#, "BR_CPF"),
        (r#"{"aadhaar": "234567890124"}"#, "IN_AADHAAR"),
        (r#"{"steuer_id": "86095742719"}"#, "DE_TAX_ID"),
        (r#"{"tax_id": "86095742719"}"#, "DE_TAX_ID"),
        (r#"{"nir": "185057800608491"}"#, "FR_NIR"),
        (r#"{"insee": "185057800608491"}"#, "FR_NIR"),
        (
            r#"{"document": {"type": "cpf", "number": "52998224725"}}"#,
            "BR_CPF",
        ),
    ];
    for (input, kind) in cases {
        let output = redact(input);
        assert!(
            output.contains(&format!("\"{kind}_k1_")),
            "{input} gave {output}"
        );
        parse(&output);
    }
}

#[test]
fn bare_id_without_key_context_kept() {
    let plain = redact(r#"{"order": "021000021"}"#);
    assert_eq!(parse(&plain)["order"], "021000021", "no key names it");

    // Another number between the key and the value belongs to the key.
    let numbered = redact(r#"{"routing_number": "021000021", "order": "021000021"}"#);
    let value = parse(&numbered);
    assert!(
        value["routing_number"]
            .as_str()
            .unwrap()
            .starts_with("ABA_ROUTING_k1_")
    );
    assert_eq!(value["order"], "021000021", "{numbered}");

    let listed = redact(r#"{"nhs": ["4010232137", "111"], "ref": "4010232137"}"#);
    let value = parse(&listed);
    assert!(value["nhs"][0].as_str().unwrap().starts_with("UK_NHS_k1_"));
    assert_eq!(value["ref"], "4010232137", "{listed}");
}

#[test]
fn key_context_same_token_as_text() {
    let field = redact(r#"{"bsn":"111222333"}"#);
    let text = redact("bsn=111222333");
    let field_token = parse(&field)["bsn"].as_str().unwrap().to_string();
    assert_eq!(text, format!("bsn={field_token}"));
}

#[test]
fn authorization_keeps_scheme_and_kind() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXBhcnQ";
    let cases = [
        (format!("Bearer {jwt}"), "Bearer JWT_k1_"),
        (
            "Bearer opaqueValue123".to_owned(),
            "Bearer BEARER_TOKEN_k1_",
        ),
        (
            "Basic dXNlcjpwYXNzd29yZA==".to_owned(),
            "Basic BASIC_AUTH_k1_",
        ),
        ("opaqueValue123".to_owned(), "SECRET_k1_"),
    ];
    for (value, prefix) in cases {
        let input = format!(r#"{{"authorization":"{value}"}}"#);
        let output = redact(&input);
        let redacted = parse(&output)["authorization"].as_str().unwrap().to_owned();
        assert!(redacted.starts_with(prefix), "{input} gave {output}");
    }
}

#[test]
fn keyed_value_same_token_in_text_and_json() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXBhcnQ";
    let cases = [
        (format!("Bearer {jwt}"), "authorization"),
        ("Bearer opaqueValue123".to_owned(), "authorization"),
        ("203.0.113.9".to_owned(), "client.address"),
    ];
    for (value, key) in cases {
        let json = redact(&format!(r#"{{"{key}":"{value}"}}"#));
        let text = redact(&format!(r#"{key}="{value}""#));
        let json_value = parse(&json)[key].as_str().unwrap().to_owned();
        assert_eq!(text, format!(r#"{key}="{json_value}""#), "{value}");
    }
}

#[test]
fn allowed_values_pass() {
    let options = EngineOptions {
        allow_values: vec!["noreply@example.com".to_string()],
        allow_patterns: vec![r"^10\.0\.0\.[0-9]+$".to_string()],
        ..EngineOptions::default()
    };
    let key = Key::from_text(&"ab".repeat(32), "k1").unwrap();
    let redactor = Redactor::new(Engine::builtin(&options).unwrap(), Tokenizer::new(key));

    let input = r#"{"email":"NoReply@Example.com","msg":"from 10.0.0.4 and 10.0.1.4"}"#;
    let output = redactor.redact(input).into_owned();
    let value = parse(&output);
    assert_eq!(value["email"], "NoReply@Example.com");
    assert!(
        value["msg"]
            .as_str()
            .unwrap()
            .starts_with("from 10.0.0.4 and IPV4_k1_"),
        "{output}"
    );
}

mod properties {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::{parse, redactor};

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            prop_oneof![
                Just("ivan@example.com".to_string()),
                Just("from 198.51.100.4:443".to_string()),
                Just("card 4111 1111 1111 1111 ok".to_string()),
                Just("say \"hi\"\n\tto judy@example.org".to_string()),
                "[a-z é0-9.@:-]{0,24}",
            ]
            .prop_map(Value::String),
        ]
    }

    fn document() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("email".to_string()),
            Just("msg".to_string()),
            Just("user".to_string()),
            Just("id".to_string()),
            "[a-z_]{1,8}",
        ];
        scalar().prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..4)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// Replaces every string and number with a placeholder, so documents
    /// can be compared by shape alone.
    fn shape(value: &Value) -> Value {
        match value {
            Value::String(_) | Value::Number(_) => Value::Null,
            Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
            Value::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.clone(), shape(value)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    proptest! {
        #[test]
        fn json_stays_valid_with_same_shape(value in document(), pretty in any::<bool>()) {
            let wrapped = Value::Array(vec![value]);
            let text = match pretty {
                true => serde_json::to_string_pretty(&wrapped).unwrap(),
                false => serde_json::to_string(&wrapped).unwrap(),
            };
            let redacted = redactor().redact(&text).into_owned();
            let parsed = parse(&redacted);
            prop_assert_eq!(shape(&parsed), shape(&wrapped));
            prop_assert!(!redacted.contains("@example."), "{}", redacted);
            prop_assert!(!redacted.contains("198.51.100.4"), "{}", redacted);
            let twice = redactor().redact(&redacted).into_owned();
            prop_assert_eq!(twice, redacted);
        }
    }
}
