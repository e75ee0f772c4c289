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
fn ipv4_in_host_name_found() {
    assert_finds(&[
        (
            "rhost=host129.206.196.21.maximumasp.com user=",
            "IPV4",
            "129.206.196.21",
        ),
        (
            "(dsl-Chn-static-059.45.101.203.touchtelindia.net) at",
            "IPV4",
            "059.45.101.203",
        ),
        (
            "from dsl-082-083-227-067.arcor-ip.net",
            "IPV4",
            "082-083-227-067",
        ),
        (
            "rhost=ip-216-69-169-168.ip.secureserver.net",
            "IPV4",
            "216-69-169-168",
        ),
        (
            "Jul  3 17:10:11 calvisitor-10-105-160-184 kernel[0]: wake",
            "IPV4",
            "10-105-160-184",
        ),
        (
            "customer-187-141-143-180-sta.example.com.mx",
            "IPV4",
            "187-141-143-180",
        ),
        ("node ip-10-0-1-23.ec2.internal.", "IPV4", "10-0-1-23"),
        ("from x-10.0.0.1.example.com", "IPV4", "10.0.0.1"),
    ]);
}

#[test]
fn ipv4_in_host_name_same_token_as_address() {
    let engine = engine();
    let (ipv4, _) = engine
        .kind_names()
        .find(|&(_, name)| name == "IPV4")
        .unwrap();
    assert_eq!(engine.normalize(ipv4, "082-083-227-067"), "82.83.227.67");
    assert_eq!(engine.normalize(ipv4, "059.45.101.203"), "59.45.101.203");
}

#[test]
fn ipv4_in_host_name_rejects_versions() {
    assert_clean(&[
        "installed app1.2.3.4.jar",
        "python2.7.18.1.el8.x86_64",
        "mirror v1.2.3.4.example.com",
        "see version1.2.3.4.example.com",
        "Chrome/120.0.6099.109 Safari",
        "build-1-2-3-4-5 done",
        "snapshot-300-1-2-3.tar",
        "host1.2.3.4.5.example.com",
        "a1.2.3.4.b",
        "date 2015-10-13 x-2015-10-13-12",
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
        "2025-04-22T09:08:22.002392371+00:00 LOG:",
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
        dictionaries: vec![DictionarySpec {
            kind: "PERSON_NAME".into(),
            path: list.path().into(),
        }],
        ..EngineOptions::default()
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
        dictionaries: vec![DictionarySpec {
            kind: "PERSON_NAME".into(),
            path: list.path().into(),
        }],
        ..EngineOptions::default()
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
        disabled_kinds: vec!["IPV4".into()],
        ..EngineOptions::default()
    };
    let engine = Engine::builtin(&options).unwrap();
    assert!(found(&engine, "from 10.0.0.1").is_empty());

    let unknown = EngineOptions {
        disabled_kinds: vec!["IPV5".into()],
        ..EngineOptions::default()
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
        dictionaries: vec![DictionarySpec {
            kind: "NAME".into(),
            path: "/nonexistent/names.txt".into(),
        }],
        ..EngineOptions::default()
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
mod person_names;

// --- Secrets: credential forms, provider keys and key blocks ---

#[test]
fn basic_auth_credentials_only() {
    assert_finds(&[
        (
            "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== next",
            "BASIC_AUTH",
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        ),
        (
            "{\"authorization\":\"Basic dXNlcjpwYTU1\"}",
            "BASIC_AUTH",
            "dXNlcjpwYTU1",
        ),
    ]);
    assert_clean(&[
        "Authorization: Basic bm8gY29sb24gaGVyZQ==",
        "Authorization: Basic ***",
        "WWW-Authenticate: Basic realm=\"api\"",
    ]);
}

#[test]
fn url_userinfo_password_only() {
    assert_finds(&[
        (
            "dsn=postgres://app:s3cr3t@db.internal:5432/app",
            "PASSWORD",
            "s3cr3t",
        ),
        ("GET https://alice:pa55@example.com/x", "PASSWORD", "pa55"),
        (
            "redis://:hunter2@cache.internal:6379",
            "PASSWORD",
            "hunter2",
        ),
    ]);
    assert_clean(&[
        "http://localhost:8080/path@v2",
        "mongodb://db.internal:27017/app",
        "https://user:***@example.com",
    ]);
}

#[test]
fn aws_secret_key_keyed() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for text in [
        format!("aws_secret_access_key={secret} region=us-east-1"),
        format!("\"SecretAccessKey\": \"{secret}\""),
        format!("AWS_SECRET_ACCESS_KEY: {secret}"),
    ] {
        assert_eq!(
            found(&engine(), &text),
            vec![("AWS_SECRET_KEY".to_owned(), secret.to_owned())],
            "text: {text}"
        );
    }
}

#[test]
fn provider_keys_found() {
    assert_finds(&[
        (
            "push with ghp_16C7e42F292c6912E7710c838347Ae178B4a failed",
            "GITHUB_TOKEN",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ),
        (
            "GH_TOKEN is gho_juCxAbquHaYLEJ0S7IBPvzs9Y8x6Pk7nSRH8.",
            "GITHUB_TOKEN",
            "gho_juCxAbquHaYLEJ0S7IBPvzs9Y8x6Pk7nSRH8",
        ),
        (
            "pat github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijKLMNOPQRS ok",
            "GITHUB_TOKEN",
            "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijKLMNOPQRS",
        ),
        (
            "using glpat-xR4nd0mT0k3nV4lu3zzz for clone",
            "GITLAB_TOKEN",
            "glpat-xR4nd0mT0k3nV4lu3zzz",
        ),
        (
            "slack client xoxb-757893429201-5576473040496-pOwSiCCxPS8c ready",
            "SLACK_TOKEN",
            "xoxb-757893429201-5576473040496-pOwSiCCxPS8c",
        ),
        (
            "post https://hooks.slack.com/services/T0ABCDEFG/B0HIJKLMN/q8sWxZ4yTn2LkVb7RcMe5pAd failed",
            "SLACK_TOKEN",
            "q8sWxZ4yTn2LkVb7RcMe5pAd",
        ),
        (
            "stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc loaded",
            "STRIPE_KEY",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "maps api_key=AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v&q=x",
            "PASSWORD",
            "AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v",
        ),
        (
            "maps AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v loaded",
            "GOOGLE_API_KEY",
            "AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v",
        ),
    ]);
    assert_clean(&[
        // Too short for the provider format.
        "ghp_shortvalue",
        "glpat-short",
        "sk_live_abc",
        "branch xoxb-1",
    ]);
}

#[test]
fn bearer_keeps_provider_tokens() {
    // The header is the stronger evidence, so the kind stays BEARER_TOKEN.
    assert_finds(&[(
        "Authorization: Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "BEARER_TOKEN",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    )]);
}

#[test]
fn pem_block_one_token() {
    let escaped = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAx3f\\nq9w8+/AbC=\\n-----END RSA PRIVATE KEY-----";
    let newlines = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7=\n-----END PRIVATE KEY-----";
    let one_line = "-----BEGIN EC PRIVATE KEY----- MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oLlw -----END EC PRIVATE KEY-----";
    let engine = engine();
    for block in [escaped, newlines, one_line] {
        let text = format!("{{\"key\":\"{block}\",\"kid\":7}}");
        assert_eq!(
            found(&engine, &text),
            vec![("PRIVATE_KEY".to_owned(), block.to_owned())],
            "text: {text}"
        );
    }
    let cut = "key=-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqh";
    assert_eq!(
        found(&engine, cut),
        vec![(
            "PRIVATE_KEY".to_owned(),
            "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqh".to_owned()
        )]
    );
    assert_clean(&["-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"]);
}

#[test]
fn query_and_header_secrets() {
    assert_finds(&[
        (
            "GET /login?password=pa55w0rd&next=/",
            "PASSWORD",
            "pa55w0rd",
        ),
        (
            "GET /cb?x=1&access_token=a1b2c3d4e5&y=2",
            "BEARER_TOKEN",
            "a1b2c3d4e5",
        ),
        (
            "POST /t?client_secret=Zx9yW8vU7t&a=b",
            "PASSWORD",
            "Zx9yW8vU7t",
        ),
        ("GET /v1?api_key=k3yV4lu3&q=1", "PASSWORD", "k3yV4lu3"),
        (
            "X-Api-Key: 0a1b2c3d4e5f6a7b",
            "PASSWORD",
            "0a1b2c3d4e5f6a7b",
        ),
    ]);
}

#[test]
fn session_cookies_only() {
    let engine = engine();
    let cases: &[(&str, &[&str])] = &[
        ("Cookie: session=abc123xyz", &["abc123xyz"]),
        (
            "Cookie: theme=dark; lang=en; JSESSIONID=9F8E7D6C5B4A; _ga=GA1.2.3",
            &["9F8E7D6C5B4A"],
        ),
        (
            "Set-Cookie: sid=s%3Aq1w2e3r4; Path=/; HttpOnly; Secure",
            &["s%3Aq1w2e3r4"],
        ),
        (
            "\"cookie\": \"csrftoken=Kq9; connect.sid=s%3Axyz; theme=dark\"",
            &["Kq9", "s%3Axyz"],
        ),
        ("Cookie: theme=dark; lang=en", &[]),
    ];
    for &(text, expected) in cases {
        let values: Vec<String> = found(&engine, text)
            .into_iter()
            .map(|(kind, value)| {
                assert_eq!(kind, "SECRET", "text: {text}");
                value
            })
            .collect();
        assert_eq!(values, expected, "text: {text}");
    }
}

#[test]
fn keyed_value_takes_detected_kind() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXBhcnQ";
    let logfmt = format!("level=debug authorization=\"Bearer {jwt}\" status=401");
    assert_finds(&[
        (&logfmt, "JWT", jwt),
        ("client.address=203.0.113.9 ok", "IPV4", "203.0.113.9"),
        (
            "authorization=\"Basic dXNlcjpwYXNzd29yZA==\" ok",
            "BASIC_AUTH",
            "dXNlcjpwYXNzd29yZA==",
        ),
        (
            "client.address=kiosk-7.example ok",
            "ADDRESS",
            "kiosk-7.example",
        ),
        (
            "session_id=Zm9vYmFyYmF6cXV4 ok",
            "SECRET",
            "Zm9vYmFyYmF6cXV4",
        ),
    ]);
}

#[test]
fn keyed_scheme_kind_falls_back_to_key() {
    let options = EngineOptions {
        disabled_kinds: vec!["BEARER_TOKEN".into()],
        ..EngineOptions::default()
    };
    let engine = Engine::builtin(&options).unwrap();
    assert_eq!(
        found(&engine, "authorization=\"Bearer opaqueValue123\" ok"),
        vec![("SECRET".to_owned(), "opaqueValue123".to_owned())]
    );
}

#[test]
fn redacted_secrets_not_detected() {
    assert_clean(&[
        "Authorization: Basic BASIC_AUTH_k1_mfrggzdfmztwq2lk",
        "https://app:PASSWORD_k1_mfrggzdfmztwq2lk@db.example.com/x",
        "Cookie: session=BEARER_TOKEN_k1_mfrggzdfmztwq2lk; theme=dark",
        "aws_secret_access_key=AWS_SECRET_KEY_k1_mfrggzdfmztwq2lk",
        "key PRIVATE_KEY_k1_mfrggzdfmztwq2lk end",
        "post https://hooks.slack.com/services/T0ABCDEFG/B0HIJKLMN/SLACK_TOKEN_k1_mfrggzdfmztwq2lk",
        // A stray byte before a token must not make the token part of a
        // new value.
        "Authorization: Bearer +EMAIL_k1_knfku6uld5bycfk4@example.com",
        "https://app:[PHONE_k1_pmpsb5hwuaufa25l@db.example.com",
        "a+IPV6_k1_ygyo3ngb762hp3nq@db.example.com",
    ]);
}

// --- Network: IPv6 forms and MAC address forms ---

#[test]
fn ipv6_textual_forms() {
    assert_finds(&[
        (
            "nat64 64:ff9b::192.0.2.33 ok",
            "IPV6",
            "64:ff9b::192.0.2.33",
        ),
        (
            "full 0:0:0:0:0:ffff:192.0.2.1 ok",
            "IPV6",
            "0:0:0:0:0:ffff:192.0.2.1",
        ),
        // The zone id names a local interface, so it stays readable.
        ("ping fe80::1%eth0 ok", "IPV6", "fe80::1"),
        ("GET http://[fe80::1%25en0]:80/", "IPV6", "fe80::1"),
        ("listen [2001:db8::1]:8080", "IPV6", "2001:db8::1"),
        (
            "from 2001:DB8:0:0:8:800:200C:417A",
            "IPV6",
            "2001:DB8:0:0:8:800:200C:417A",
        ),
        ("src=2001:db8::", "IPV6", "2001:db8::"),
    ]);
    assert_finds(&[("client ip:2001:db8::7 port 22", "IPV6", "2001:db8::7")]);
    assert_clean(&[
        "at 12:34:56.789 done",
        "took 1:02:03 total",
        "std::vec::Vec and Foo::bar",
        "a :: b",
        "zk host:2181 up",
        "port :8080",
        "sha1 a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
    ]);
}

#[test]
fn mac_three_forms() {
    assert_finds(&[
        (
            "link 00:1a:2b:3c:4d:5e up",
            "MAC_ADDRESS",
            "00:1a:2b:3c:4d:5e",
        ),
        (
            "link 00-1A-2B-3C-4D-5E up",
            "MAC_ADDRESS",
            "00-1A-2B-3C-4D-5E",
        ),
        ("link 001a.2b3c.4d5e up", "MAC_ADDRESS", "001a.2b3c.4d5e"),
    ]);
    assert_clean(&["build 2024.0611.1200 ok", "ver 1.2.3"]);
}

// --- Contact: e-mail forms and phone numbers ---

#[test]
fn email_forms() {
    assert_finds(&[
        (
            "<a href=\"mailto:Ann.Lee+news@Mail.Example.COM\">",
            "EMAIL",
            "Ann.Lee+news@Mail.Example.COM",
        ),
        ("From: \"Billing Team\" <ann@b.co>", "EMAIL", "ann@b.co"),
        (
            "GET /u?email=a.b%40example.com&x=1",
            "EMAIL",
            "a.b%40example.com",
        ),
        (
            "GET /u?next=/a&email=bob@sub.example.org&x=1",
            "EMAIL",
            "bob@sub.example.org",
        ),
        (
            "rotated /var/log/mail/grace@example.com.log.gz",
            "EMAIL",
            "grace@example.com",
        ),
    ]);
}

#[test]
fn phone_international_forms() {
    assert_finds(&[
        ("call +1 (415) 555-0132 now", "PHONE", "+1 (415) 555-0132"),
        ("uk +44 20 7946 0958.", "PHONE", "+44 20 7946 0958"),
        ("de +49 30 901820", "PHONE", "+49 30 901820"),
        ("fr 00 33 1 42 68 53 00 ok", "PHONE", "00 33 1 42 68 53 00"),
        ("'+31611482498'", "PHONE", "+31611482498"),
        ("jp +81-3-1234-5678", "PHONE", "+81-3-1234-5678"),
    ]);
}

#[test]
fn phone_national_needs_context() {
    assert_finds(&[
        ("dial (415) 555-0132", "PHONE", "(415) 555-0132"),
        ("dial 415-555-0132", "PHONE", "415-555-0132"),
        (
            "Could not send SMS to 0121 614 1366: timeout",
            "PHONE",
            "0121 614 1366",
        ),
        (
            "{\"field\":\"phone\",\"new\":\"06 11 63 90 36\"}",
            "PHONE",
            "06 11 63 90 36",
        ),
        ("mobile: 020 7946 0958", "PHONE", "020 7946 0958"),
        ("cell_number=06 12 34 56 78", "PHONE", "06 12 34 56 78"),
        (
            "INSERT INTO users (name, phone) VALUES ('Ann', '(11) 96452-2072')",
            "PHONE",
            "(11) 96452-2072",
        ),
    ]);
    assert_clean(&[
        "ref 020 7946 0958 done",
        "took 06 12 34 56 78 steps",
        "INSERT INTO t (name, ref) VALUES ('Ann', '020 7946 0958')",
        "order 4155550132 shipped",
        "id 12345678901 ok",
        "phone updated 2024-06-12 10:22",
        "tel 2024-06-12",
    ]);
}

#[test]
fn phone_look_alikes_survive() {
    assert_clean(&[
        "offset +1234567 bytes",
        "at 12:00 33 1 42 68 53 00",
        "diff +12 -3",
        "ts 2024-06-12T10:22:33+0200",
        "build 415-555-0132-7",
        "v415.555.0132",
    ]);
}

#[test]
fn text_user_name_takes_surname() {
    let engine = engine();
    let found_in = |text: &str| found(&engine, text);

    assert_eq!(
        found_in("login ok user.name=John Smith from 10.0.0.1"),
        [
            ("PERSON_NAME".to_owned(), "John Smith".to_owned()),
            ("IPV4".to_owned(), "10.0.0.1".to_owned()),
        ]
    );
    assert_eq!(
        found_in("user.name=jdoe session opened"),
        [("USER".to_owned(), "jdoe".to_owned())]
    );
    assert_eq!(
        found_in("user.name=John logged in"),
        [("USER".to_owned(), "John".to_owned())]
    );
    assert_eq!(
        found_in("user.name=John Smith2 retried"),
        [("USER".to_owned(), "John".to_owned())],
        "a surname glued to digits is no name"
    );
}
