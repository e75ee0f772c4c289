//! Engine tests for PERSON_NAME: names after person keys, after a bare
//! `name=`, in SQL name columns and after a known given name in free text,
//! and the look-alikes (services, classes, hosts) that must stay.

use super::*;

#[test]
fn names_after_keys_found() {
    assert_finds(&[
        (
            "export row: name=Caroline Breton ssn=",
            "PERSON_NAME",
            "Caroline Breton",
        ),
        (
            "name=Inaya van Oostendorp card=",
            "PERSON_NAME",
            "Inaya van Oostendorp",
        ),
        (
            "full_name=Maks Pleśniak age=3",
            "PERSON_NAME",
            "Maks Pleśniak",
        ),
        ("first_name=ana", "PERSON_NAME", "ana"),
        (
            r#"{"cardholder": "Fabian Bzdęga"} as text"#,
            "PERSON_NAME",
            "Fabian Bzdęga",
        ),
        (
            "actor.name=Siglinde Schmidtke",
            "PERSON_NAME",
            "Siglinde Schmidtke",
        ),
    ]);
}

#[test]
fn names_in_sql_found() {
    let engine = engine();
    let insert =
        "INSERT INTO customers (name, email) VALUES ('Inaya van Oostendorp', 'i@example.org')";
    assert_eq!(
        found(&engine, insert),
        vec![
            ("PERSON_NAME".to_owned(), "Inaya van Oostendorp".to_owned()),
            ("EMAIL".to_owned(), "i@example.org".to_owned()),
        ]
    );

    let update =
        "update payment_methods set holder='Conor Fisher', last_name = 'Ó Briain' where id=1";
    assert_eq!(
        found(&engine, update),
        vec![
            ("PERSON_NAME".to_owned(), "Conor Fisher".to_owned()),
            ("PERSON_NAME".to_owned(), "Ó Briain".to_owned()),
        ]
    );
}

#[test]
fn names_in_free_text_found() {
    assert_finds(&[
        (
            "SEPA mandate rejected for Terry Simpson account 1",
            "PERSON_NAME",
            "Terry Simpson",
        ),
        (
            "refund for Stéphanie Marchand queued",
            "PERSON_NAME",
            "Stéphanie Marchand",
        ),
        (
            "ticket from Kevin van den Corput: ok",
            "PERSON_NAME",
            "Kevin van den Corput",
        ),
    ]);
}

#[test]
fn name_look_alikes_survive() {
    assert_clean(&[
        "name=worker-1 state=ready",
        "name=PaymentService",
        "service.name=Payment Service",
        "span name=GET /api/v1/orders",
        "c.a.p.PaymentService - started",
        "Apache Kafka consumer started",
        "Spring Boot Application started",
        "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
        "Will Retry Later",
        "Grace Period Expired",
        "INSERT INTO products (name, sku) VALUES ('Widget', 'AB-1')",
        "update services set name='checkout' where id=1",
        "host mary-smith.example-lab ok",
        "Jobs Done: Terry Service restarted",
    ]);
}

#[test]
fn key_value_kind_turns_full_names() {
    let engine = engine();
    let user = engine.sensitive_key_kind("user.name").unwrap();
    assert_eq!(engine.kind_name(user), "USER");

    let name = engine.key_value_kind(user, "Maks Pleśniak");
    assert_eq!(engine.kind_name(name), "PERSON_NAME");
    assert_eq!(engine.key_value_kind(user, "mpleśniak"), user);
    assert_eq!(engine.key_value_kind(user, "maks pleśniak"), user);

    let email = engine.sensitive_key_kind("email").unwrap();
    assert_eq!(engine.key_value_kind(email, "Maks Pleśniak"), email);
}

#[test]
fn person_name_keys_listed() {
    let engine = engine();
    for key in [
        "actor.name",
        "changes.actor.name",
        "customer.name",
        "holder",
        "cardholder_name",
        "user.full_name",
    ] {
        let kind = engine
            .sensitive_key_kind(key)
            .map(|kind| engine.kind_name(kind));
        assert_eq!(kind, Some("PERSON_NAME"), "{key}");
    }
    for key in ["name", "service.name", "span.name", "host.name"] {
        assert_eq!(engine.sensitive_key_kind(key), None, "{key}");
    }
}

#[test]
fn person_name_disabled() {
    let options = EngineOptions {
        disabled_kinds: vec!["PERSON_NAME".into()],
        ..EngineOptions::default()
    };
    let engine = Engine::builtin(&options).unwrap();
    assert!(found(&engine, "name=Caroline Breton").is_empty());
    let user = engine.sensitive_key_kind("user.name").unwrap();
    assert_eq!(engine.key_value_kind(user, "Maks Pleśniak"), user);
}
