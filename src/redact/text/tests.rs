use std::borrow::Cow;
use std::sync::LazyLock;

use proptest::prelude::*;

use crate::detect::{Engine, EngineOptions};
use crate::redact::Redactor;
use crate::token::{Key, Tokenizer};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Returns the redactor shared by all cases, because building the engine
/// dominates the cost of a property case.
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

fn fresh_redactor() -> Redactor {
    let engine = Engine::builtin(&EngineOptions::default()).unwrap();
    Redactor::new(
        engine,
        Tokenizer::new(Key::from_text(KEY_HEX, "k1").unwrap()),
    )
}

#[test]
fn clean_text_borrowed() {
    let redactor = redactor();
    let text = "2024-08-25 07:31:26,571 INFO took 374.196ms";
    assert!(matches!(redactor.redact(text), Cow::Borrowed(_)));
}

#[test]
fn redact_keeps_context() {
    let redactor = redactor();
    let out = redactor.redact("Authorization: Bearer abcDEF123456.xyz from 10.0.0.1:22");
    let parts: Vec<&str> = out.split(' ').collect();
    assert_eq!(parts[0], "Authorization:");
    assert_eq!(parts[1], "Bearer");
    assert!(parts[2].starts_with("BEARER_TOKEN_k1_"), "{out}");
    assert!(
        parts[4].starts_with("IPV4_k1_") && parts[4].ends_with(":22"),
        "{out}"
    );

    let json = redactor.redact("{\"password\": \"hunter2\"}");
    assert!(
        json.starts_with("{\"password\": \"PASSWORD_k1_") && json.ends_with("\"}"),
        "{json}"
    );
}

#[test]
fn same_identity_same_token() {
    let redactor = redactor();
    let pairs = [
        ("ann@example.com", "ANN@Example.com"),
        ("4111 1111 1111 1111", "4111-1111-1111-1111"),
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("2001:DB8::1", "2001:0db8:0:0:0:0:0:1"),
        ("+49 30 406151", "+4930406151"),
    ];
    for (a, b) in pairs {
        assert_eq!(redactor.redact(a), redactor.redact(b), "{a} vs {b}");
    }
}

#[test]
fn hit_counts_per_kind() {
    let redactor = fresh_redactor();
    redactor.redact("a@b.io c@d.io 10.0.0.1");
    let counts = redactor.hit_counts();
    let count = |name: &str| {
        counts
            .iter()
            .find(|(kind, _)| kind == name)
            .map(|(_, n)| *n)
    };
    assert_eq!(count("EMAIL"), Some(2));
    assert_eq!(count("IPV4"), Some(1));
    assert_eq!(count("IBAN"), Some(0));
}

#[test]
fn redactor_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Redactor>();
}

/// Text made of log-like pieces, personal values and look-alikes, so that
/// properties see hits next to each other and next to punctuation.
fn log_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("ann.lee@example.com".to_owned()),
        Just("10.0.0.1".to_owned()),
        Just("2001:db8::1".to_owned()),
        Just("4111 1111 1111 1111".to_owned()),
        Just("DE89370400440532013000".to_owned()),
        Just("+4930406151".to_owned()),
        Just("password=".to_owned()),
        Just("token: ".to_owned()),
        Just("Authorization: Bearer ".to_owned()),
        Just("148-72-1234".to_owned()),
        Just("44:B1:64:DD:A8:42".to_owned()),
        Just("12:34:56".to_owned()),
        Just("blk_-1608999687919862906".to_owned()),
        Just("EMAIL_k1_mfrggzdfmztwq2lk".to_owned()),
        Just("Authorization: Basic dXNlcjpwYTU1".to_owned()),
        Just("https://app:".to_owned()),
        Just("@db.example.com".to_owned()),
        Just("Cookie: session=".to_owned()),
        Just("phone ".to_owned()),
        Just("06 11 63 90 36".to_owned()),
        Just("+1 (415) 555-0132".to_owned()),
        "[ -~]{0,12}",
        "[0-9.:@+ -]{0,10}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn redact_idempotent(text in log_text()) {
        let redactor = redactor();
        let once = redactor.redact(&text).into_owned();
        let twice = redactor.redact(&once).into_owned();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn output_has_no_hits(text in log_text()) {
        let redactor = redactor();
        let once = redactor.redact(&text).into_owned();
        let mut hits = Vec::new();
        redactor.engine().find(&once, &mut hits);
        prop_assert!(hits.is_empty(), "hits left in {:?}: {:?}", once, hits);
    }

    #[test]
    fn text_around_hits_kept(text in log_text()) {
        let redactor = redactor();
        let engine = redactor.engine();
        let mut hits = Vec::new();
        engine.find(&text, &mut hits);
        let out = redactor.redact(&text).into_owned();

        // Walk the output: each gap between hits must appear verbatim, and
        // each hit must become exactly one token.
        let mut rest = out.as_str();
        let mut copied = 0;
        for hit in &hits {
            let gap = &text[copied..hit.start];
            prop_assert!(rest.starts_with(gap), "gap {:?} missing in {:?}", gap, rest);
            rest = &rest[gap.len()..];
            let kind = engine.kind_name(hit.kind);
            let token_len = kind.len() + "_k1_".len() + 16;
            prop_assert!(rest.starts_with(kind), "no {} token at {:?}", kind, rest);
            prop_assert!(Tokenizer::is_token(&rest[..token_len]), "not a token: {:?}", &rest[..token_len]);
            rest = &rest[token_len..];
            copied = hit.end;
        }
        prop_assert_eq!(rest, &text[copied..]);
    }

    #[test]
    fn utf8_in_utf8_out(text in "\\PC{0,64}") {
        let redactor = redactor();
        let out = redactor.redact(&text);
        prop_assert!(std::str::from_utf8(out.as_bytes()).is_ok());
    }
}
