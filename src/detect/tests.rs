//! Engine tests over the built-in pack: what each detector finds in context
//! and which look-alikes it leaves alone.

use std::io::Write;

use super::*;

fn engine() -> Engine {
    Engine::builtin(&EngineOptions::default()).unwrap()
}

/// Returns (kind, value) for every hit in `text`.
fn found(engine: &Engine, text: &str) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    engine.find(text, &mut hits);
    hits.iter()
        .map(|hit| {
            (
                engine.kind_name(hit.kind).to_owned(),
                text[hit.start..hit.end].to_owned(),
            )
        })
        .collect()
}

fn assert_finds(cases: &[(&str, &str, &str)]) {
    let engine = engine();
    for &(text, kind, value) in cases {
        let hits = found(&engine, text);
        assert_eq!(
            hits,
            vec![(kind.to_owned(), value.to_owned())],
            "text: {text}"
        );
    }
}

fn assert_clean(texts: &[&str]) {
    let engine = engine();
    for text in texts {
        let hits = found(&engine, text);
        assert!(
            hits.is_empty(),
            "expected no hits in {text:?}, found {hits:?}"
        );
    }
}

#[test]
fn builtin_pack_builds() {
    let engine = engine();
    let names: Vec<&str> = engine.kind_names().map(|(_, name)| name).collect();
    assert!(names.contains(&"EMAIL"));
    assert!(names.contains(&"IBAN"));
    assert!(engine.rule_ids().count() >= 14);
}

#[test]
fn email_found() {
    assert_finds(&[
        (
            "user=ann.lee@example.com ok",
            "EMAIL",
            "ann.lee@example.com",
        ),
        (
            "<a href=\"mailto:bob@mail.example.org\">",
            "EMAIL",
            "bob@mail.example.org",
        ),
        (
            "GET /p?email=x.y+tag@corp.io&a=1",
            "EMAIL",
            "x.y+tag@corp.io",
        ),
        (
            "'BERG.J@STUDENTS.UNI-EXAMPLE.EDU'",
            "EMAIL",
            "BERG.J@STUDENTS.UNI-EXAMPLE.EDU",
        ),
    ]);
}

#[test]
fn email_rejects_look_alikes() {
    let engine = engine();
    for text in [
        "akka.tcp://sparkDriver@10.10.34.11:54300",
        "java.lang.Object@1a2b3c4d",
        "git@github",
    ] {
        let hits = found(&engine, text);
        assert!(
            hits.iter().all(|(kind, _)| kind != "EMAIL"),
            "{text}: {hits:?}"
        );
    }
}

#[test]
fn ipv4_found() {
    assert_finds(&[
        ("from 170.25.232.143 port 3306", "IPV4", "170.25.232.143"),
        ("connect 10.0.0.1:8080 failed", "IPV4", "10.0.0.1"),
        ("\"remote\":\"34.100.163.208\"}", "IPV4", "34.100.163.208"),
    ]);
}

#[test]
fn ipv4_rejects_versions() {
    assert_clean(&[
        "oid 1.2.3.4.5 set",
        "release v1.2.3.4 out",
        "fw=24.1.2.255 build=bdd4cded",
        "fw=10.5.4.8-beta.2 build=x",
        "\"version\":\"17.21.41.3\"",
        "999.1.1.1",
        "1.2.3",
    ]);
}

#[test]
fn ipv6_found() {
    assert_finds(&[
        ("from 2001:db8::1 port 22", "IPV6", "2001:db8::1"),
        (
            "peer [fe80::a528:ea5e:99ad:c054]:443",
            "IPV6",
            "fe80::a528:ea5e:99ad:c054",
        ),
        ("src ::ffff:192.0.2.1 ok", "IPV6", "::ffff:192.0.2.1"),
        (
            "ip=2001:84db:ef80:0000:0000:0000:1bce:859a end",
            "IPV6",
            "2001:84db:ef80:0000:0000:0000:1bce:859a",
        ),
        ("lo ::1 up", "IPV6", "::1"),
    ]);
}

#[test]
fn ipv6_rejects_look_alikes() {
    assert_clean(&[
        "at 12:34:56 done",
        "2024-07-09T10:01:17.069110918Z",
        "std::vector<int> x; hush::detect::Engine",
        "hash deadbeef:: x",
        "sha 6cf6838ffc5666720af0626a63d0f6f8b8d9bcac",
        "uuid 57cc3368-5cca-40af-bcad-ec3d4dfd4e13",
    ]);
}

#[test]
fn phone_found() {
    assert_finds(&[
        ("SMS to +31611482498: failed", "PHONE", "+31611482498"),
        ("\"phone\":\"+49 30 406151\",", "PHONE", "+49 30 406151"),
        ("call +1 201-857-7114 now", "PHONE", "+1 201-857-7114"),
        (
            "owner_phone=\"06 11 63 90 36\" fw",
            "PHONE",
            "06 11 63 90 36",
        ),
        ("tel: (201) 651-3205", "PHONE", "(201) 651-3205"),
    ]);
}

#[test]
fn phone_rejects_look_alikes() {
    assert_clean(&[
        "[09/Sep/2024:09:42:51 +0000]",
        "offset +12345 bytes",
        "t=2024-07-09T10:01:17+02:00",
    ]);
}

#[test]
fn ssn_found() {
    assert_finds(&[("name=Keeva ssn=148-72-1234 ok", "US_SSN", "148-72-1234")]);
}

#[test]
fn ssn_rejects_invalid() {
    assert_clean(&[
        "id 000-12-3456",
        "id 666-12-3456",
        "id 923-12-3456",
        "id 123-00-4567",
        "2024-01-02",
    ]);
}

#[test]
fn card_found() {
    assert_finds(&[
        (
            "card 4590954269375677 (customer",
            "CREDIT_CARD",
            "4590954269375677",
        ),
        (
            "card=\"5396-0987-5212-6511\"",
            "CREDIT_CARD",
            "5396-0987-5212-6511",
        ),
        (
            "card_number='3405-728262-43286'",
            "CREDIT_CARD",
            "3405-728262-43286",
        ),
        (
            "pan 4111 1111 1111 1111.",
            "CREDIT_CARD",
            "4111 1111 1111 1111",
        ),
    ]);
}

#[test]
fn card_rejects_look_alikes() {
    assert_clean(&[
        "ts=1700000000000 ms",
        "Receiving block blk_-1608999687919862906 src",
        "blk_6813749678041219716",
        "order_id=2475918238700104",
        "id 12345678901234567890123",
        "4111111111111111234",
        "epoch 1728931883.880252",
    ]);
}

#[test]
fn iban_found() {
    assert_finds(&[
        (
            "iban=\"DE89370400440532013000\" amount",
            "IBAN",
            "DE89370400440532013000",
        ),
        (
            "iban = 'AT61 1904 3002 3457 3201' AND",
            "IBAN",
            "AT61 1904 3002 3457 3201",
        ),
        (
            "GET /v2/accounts/ES1815780823521356989043/balance",
            "IBAN",
            "ES1815780823521356989043",
        ),
    ]);
}

#[test]
fn iban_rejects_bad_checksum() {
    assert_clean(&[
        "to ES7138067460491519431779: checksum mismatch",
        "to ES93 2861 3552 5648 9267 9465: checksum mismatch",
        "to IT96B92612883227H5QKKWOPCXY: checksum mismatch",
    ]);
}

#[test]
fn jwt_found() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let engine = engine();
    for text in [
        format!("jwt={jwt} ok"),
        format!("Authorization: Bearer {jwt}"),
    ] {
        assert_eq!(
            found(&engine, &text),
            vec![("JWT".to_owned(), jwt.to_owned())],
            "text: {text}"
        );
    }
}

#[test]
fn bearer_keeps_header() {
    assert_finds(&[
        (
            "Authorization: Bearer abcDEF123456.xyz",
            "BEARER_TOKEN",
            "abcDEF123456.xyz",
        ),
        (
            "{\"authorization\":\"Bearer gho_juCxAbquHaYLEJ0S7IBPvzs9Y8x6\"}",
            "BEARER_TOKEN",
            "gho_juCxAbquHaYLEJ0S7IBPvzs9Y8x6",
        ),
        (
            "GET /reset?token=nKmVr6vT2U6onSKW.FHWDVOjqz5&uid=7",
            "BEARER_TOKEN",
            "nKmVr6vT2U6onSKW.FHWDVOjqz5",
        ),
        (
            "/cb?code=zPebqCDk0E64Kk4F0k5BRSq7Ki&state=1",
            "BEARER_TOKEN",
            "zPebqCDk0E64Kk4F0k5BRSq7Ki",
        ),
    ]);
}

#[test]
fn aws_key_found() {
    assert_finds(&[
        (
            "aws_access_key_id=AKIAIOSFODNN7EXAMPLE status=200",
            "AWS_ACCESS_KEY",
            "AKIAIOSFODNN7EXAMPLE",
        ),
        (
            "\"access_key_id\":\"ASIAIQG5GREQ2ZD7JUEP\"",
            "AWS_ACCESS_KEY",
            "ASIAIQG5GREQ2ZD7JUEP",
        ),
    ]);
    assert_clean(&["AKIAIOSFODNN7EXAMPL", "XAKIAIOSFODNN7EXAMPLE"]);
}

#[test]
fn password_value_only() {
    assert_finds(&[
        ("login password=hunter2 ok", "PASSWORD", "hunter2"),
        ("passwd: s3cr3t!", "PASSWORD", "s3cr3t!"),
        (
            "{\"user\":\"app\",\"password\":\"summer 108*\"}",
            "PASSWORD",
            "summer 108*",
        ),
        ("{\"password\": \"9THGG7ZI^oK\"}", "PASSWORD", "9THGG7ZI^oK"),
        ("db_password='x y'", "PASSWORD", "x y"),
        ("secret=abc123&x=1", "PASSWORD", "abc123"),
        ("api_key=AbC123dEf", "PASSWORD", "AbC123dEf"),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG",
            "PASSWORD",
            "wJalrXUtnFEMI/K7MDENG",
        ),
    ]);
    assert_clean(&[
        "password=null",
        "password=***",
        "Failed password for root",
        "token=\"\"",
    ]);
}

#[test]
fn mac_found() {
    assert_finds(&[
        (
            "DHCPACK(br0) 44:B1:64:DD:A8:42 printer",
            "MAC_ADDRESS",
            "44:B1:64:DD:A8:42",
        ),
        (
            "mac=7E-25-EE-AC-25-0F x",
            "MAC_ADDRESS",
            "7E-25-EE-AC-25-0F",
        ),
        (
            "\"mac\":\"9643.f0ce.0cd6\"",
            "MAC_ADDRESS",
            "9643.f0ce.0cd6",
        ),
    ]);
}

#[test]
fn decoys_survive() {
    assert_clean(&[
        "2024-08-25 07:31:26,571 INFO took 374.196ms",
        "took 1025.840 ms, wrote 747899 bytes, status 200",
        "trace_id=87b6f24791a0902aad130437ecf61279 span_id=88dc54e98bd26346",
        "version 8.28.194 build v23.35.92",
        "host:8080 and localhost:443",
        "Jul  8 17:12:55 combo sshd[1234]: session opened",
    ]);
}

#[test]
fn tokens_not_detected() {
    assert_clean(&[
        "password=PASSWORD_k1_mfrggzdfmztwq2lk",
        "\"password\": \"PASSWORD_k1_mfrggzdfmztwq2lk\"",
        "Authorization: Bearer BEARER_TOKEN_k1_mfrggzdfmztwq2lk",
        "phone=PHONE_k1_mfrggzdfmztwq2lk",
        "from IPV4_k1_mfrggzdfmztwq2lk port 22",
        "Authorization: Bearer BEARER_TOKEN_k1_66t24e3ny7svykqi-",
        "Authorization: Bearer BEARER_TOKEN_k1_6c2z6qzlrfcgysjvEMAIL_k1_7bwbhdcnguvjlulw",
    ]);
}

#[test]
fn hits_sorted_disjoint() {
    let engine = engine();
    let text = "a@b.io 10.0.0.1 password=pw1 4111111111111111 ::1 +4930406151 c@d.io";
    let mut hits = Vec::new();
    engine.find(text, &mut hits);
    assert_eq!(hits.len(), 7, "{:?}", found(&engine, text));
    for pair in hits.windows(2) {
        assert!(pair[0].end <= pair[1].start, "overlap: {pair:?}");
    }
}

#[test]
fn non_ascii_text_safe() {
    let engine = engine();
    let text = "Grüße an jürgen.müller@example.de und 10.1.2.3 ✓";
    let hits = found(&engine, text);
    assert!(hits.contains(&("IPV4".to_owned(), "10.1.2.3".to_owned())));
    for (_, value) in &hits {
        assert!(text.contains(value.as_str()));
    }
}

fn word_list(terms: &[&str]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for term in terms {
        writeln!(file, "{term}").unwrap();
    }
    file
}

#[test]
fn dictionary_word_boundaries() {
    let list = word_list(&["# names", "Ann Lee", "ann", "", "Bob"]);
    let options = EngineOptions {
        sensitive_keys: Vec::new(),
        allow_values: Vec::new(),
        allow_patterns: Vec::new(),
        disabled_kinds: Vec::new(),
        dictionaries: vec![DictionarySpec {
            kind: "PERSON_NAME".into(),
            path: list.path().into(),
        }],
    };
    let engine = Engine::builtin(&options).unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("name=ANN LEE ok", &["ANN LEE"]),
        ("hi ann, hi bob.", &["ann", "bob"]),
        ("channel annex anne bobby ann_x annß", &[]),
        ("xann bob", &["bob"]),
    ];
    for &(text, expected) in cases {
        let values: Vec<String> = found(&engine, text)
            .into_iter()
            .map(|(_, value)| value)
            .collect();
        assert_eq!(values, expected, "text: {text}");
    }
}

#[test]
fn dictionary_overlap_longer_wins() {
    let list = word_list(&["bob@example.com and more", "ann"]);
    let options = EngineOptions {
        sensitive_keys: Vec::new(),
        allow_values: Vec::new(),
        allow_patterns: Vec::new(),
        disabled_kinds: Vec::new(),
        dictionaries: vec![DictionarySpec {
            kind: "PERSON_NAME".into(),
            path: list.path().into(),
        }],
    };
    let engine = Engine::builtin(&options).unwrap();
    let hits = found(&engine, "to bob@example.com and more; ann@example.com");
    assert_eq!(
        hits,
        vec![
            (
                "PERSON_NAME".to_owned(),
                "bob@example.com and more".to_owned()
            ),
            ("EMAIL".to_owned(), "ann@example.com".to_owned()),
        ]
    );
}

#[test]
fn disabled_kind_skipped() {
    let options = EngineOptions {
        sensitive_keys: Vec::new(),
        allow_values: Vec::new(),
        allow_patterns: Vec::new(),
        disabled_kinds: vec!["IPV4".into()],
        dictionaries: Vec::new(),
    };
    let engine = Engine::builtin(&options).unwrap();
    assert!(found(&engine, "from 10.0.0.1").is_empty());

    let unknown = EngineOptions {
        sensitive_keys: Vec::new(),
        allow_values: Vec::new(),
        allow_patterns: Vec::new(),
        disabled_kinds: vec!["IPV5".into()],
        dictionaries: Vec::new(),
    };
    let error = Engine::builtin(&unknown).err().unwrap().to_string();
    assert!(error.contains("IPV5"), "{error}");
}

#[test]
fn pack_errors_name_rule_and_line() {
    let yaml = "kinds:\n  - name: X\n    normalize: none\nrules:\n  - id: good\n    kind: X\n    pattern: 'a'\n  - id: broken\n    kind: X\n    pattern: 'a('\n";
    let error = Engine::from_pack_yaml(yaml, &EngineOptions::default())
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(message.contains("\"broken\""), "{message}");
    assert!(message.contains("line 8"), "{message}");

    let unknown_kind = "kinds: []\nrules:\n  - id: r\n    kind: Y\n    pattern: 'a'\n";
    let message = Engine::from_pack_yaml(unknown_kind, &EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("kind \"Y\""), "{message}");

    let bad_group = "kinds:\n  - name: X\n    normalize: none\nrules:\n  - id: g\n    kind: X\n    pattern: 'a(b)'\n    groups: [2]\n";
    let message = Engine::from_pack_yaml(bad_group, &EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("capture group 2"), "{message}");

    let bad_field =
        "kinds: []\nrules:\n  - id: r\n    kind: X\n    pattern: 'a'\n    colour: red\n";
    let message = Engine::from_pack_yaml(bad_field, &EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn dictionary_missing_file() {
    let options = EngineOptions {
        sensitive_keys: Vec::new(),
        allow_values: Vec::new(),
        allow_patterns: Vec::new(),
        disabled_kinds: Vec::new(),
        dictionaries: vec![DictionarySpec {
            kind: "NAME".into(),
            path: "/nonexistent/names.txt".into(),
        }],
    };
    let message = Engine::builtin(&options).err().unwrap().to_string();
    assert!(message.contains("/nonexistent/names.txt"), "{message}");
}

#[test]
fn engine_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
}

#[test]
fn token_key_forms() {
    assert_finds(&[
        ("token=abc123def", "BEARER_TOKEN", "abc123def"),
        (
            "{\"session_token\": \"abc123def\"}",
            "BEARER_TOKEN",
            "abc123def",
        ),
        ("refresh_token: 'abc123def'", "BEARER_TOKEN", "abc123def"),
    ]);
    assert_clean(&[
        "Could not get event name for stream/token: com.apple.xpc.activity/4505: 132",
        "Executing with tokens: none",
    ]);
}

mod national_ids;
