use super::*;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn tokenizer() -> Tokenizer {
    Tokenizer::new(Key::from_text(KEY_HEX, "k1").unwrap())
}

fn token(tokenizer: &Tokenizer, kind: &str, value: &str) -> String {
    let mut out = String::new();
    tokenizer.push_token(kind, value, &mut out);
    out
}

#[test]
fn token_shape() {
    let rendered = token(&tokenizer(), "EMAIL", "ann@example.com");
    let mac = rendered.strip_prefix("EMAIL_k1_").unwrap();
    assert_eq!(mac.len(), 16);
    assert!(
        mac.bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    );
    assert!(Tokenizer::is_token(&rendered));
}

#[test]
fn token_matches_hmac_prefix() {
    // HMAC-SHA256 computed independently with Python's hmac module for this
    // key and value; the first 10 bytes in lower-case base32.
    let rendered = token(&tokenizer(), "EMAIL", "ann@example.com");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(
        &data_encoding::HEXLOWER.decode(KEY_HEX.as_bytes()).unwrap(),
    )
    .unwrap();
    mac.update(b"ann@example.com");
    let digest = mac.finalize().into_bytes();
    let expected = data_encoding::BASE32_NOPAD
        .encode(&digest[..10])
        .to_ascii_lowercase();
    assert_eq!(rendered, format!("EMAIL_k1_{expected}"));
}

#[test]
fn token_stable_and_keyed() {
    let first = tokenizer();
    let second = tokenizer();
    assert_eq!(
        token(&first, "IPV4", "10.0.0.1"),
        token(&second, "IPV4", "10.0.0.1")
    );
    assert_ne!(
        token(&first, "IPV4", "10.0.0.1"),
        token(&first, "IPV4", "10.0.0.2")
    );

    let other_key = Tokenizer::new(Key::generate("k2"));
    let a = token(&first, "IPV4", "10.0.0.1");
    let b = token(&other_key, "IPV4", "10.0.0.1");
    assert_ne!(a["IPV4_k1_".len()..], b["IPV4_k2_".len()..]);
}

#[test]
fn token_mac_ignores_kind() {
    let tokenizer = tokenizer();
    let as_email = token(&tokenizer, "EMAIL", "ann");
    let as_name = token(&tokenizer, "PERSON_NAME", "ann");
    assert_eq!(as_email.rsplit('_').next(), as_name.rsplit('_').next());
}

#[test]
fn is_token_cases() {
    assert!(Tokenizer::is_token("EMAIL_k1_mfrggzdfmztwq2lk"));
    assert!(Tokenizer::is_token("US_SSN_abcdefgh_mfrggzdfmztwq2lk"));
    let rejects = [
        "",
        "EMAIL_k1_mfrggzdfmztwq2l",
        "EMAIL_k1_mfrggzdfmztwq2lkk",
        "email_k1_mfrggzdfmztwq2lk",
        "EMAIL_K1_mfrggzdfmztwq2lk",
        "EMAIL_k1_mfrggzdfmztwq2l1",
        "EMAIL__mfrggzdfmztwq2lk",
        "_k1_mfrggzdfmztwq2lk",
        "EMAIL_abcdefghi_mfrggzdfmztwq2lk",
        " EMAIL_k1_mfrggzdfmztwq2lk",
    ];
    for text in rejects {
        assert!(!Tokenizer::is_token(text), "expected no token: {text:?}");
    }
}

#[test]
fn key_text_round_trip() {
    let key = Key::generate("k1");
    let text = key.to_text();
    assert!(text.ends_with('\n'));
    assert_eq!(text.trim().len(), 64);
    let parsed = Key::from_text(&text, "k1").unwrap();
    assert_eq!(parsed.secret, key.secret);
}

#[test]
fn key_rejects_bad_text() {
    assert!(matches!(
        Key::from_text("abcd", "k1"),
        Err(KeyError::TooShort { bytes: 2, .. })
    ));
    assert!(matches!(
        Key::from_text("zz", "k1"),
        Err(KeyError::NotHex { offset: 0 })
    ));
    assert!(matches!(
        Key::from_text("abc", "k1"),
        Err(KeyError::OddLength { digits: 3 })
    ));
    assert!(matches!(
        Key::from_text(KEY_HEX, "K1"),
        Err(KeyError::InvalidId { .. })
    ));
    assert!(matches!(
        Key::from_text(KEY_HEX, "toolongid"),
        Err(KeyError::InvalidId { .. })
    ));
    assert!(Key::from_text(&KEY_HEX[..32], "k1").is_ok());
}

#[test]
fn key_from_file_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hush.key");
    std::fs::write(&path, format!("{KEY_HEX}\n")).unwrap();
    let key = Key::from_file(&path, "k1").unwrap();
    assert_eq!(key.id(), "k1");
    let missing = Key::from_file(&dir.path().join("missing.key"), "k1");
    assert!(matches!(missing, Err(KeyError::Read { .. })));
}

#[test]
fn key_debug_hides_secret() {
    let key = Key::from_text(KEY_HEX, "k1").unwrap();
    for rendered in [format!("{key:?}"), format!("{key}")] {
        assert!(
            !rendered.contains("0001020304"),
            "secret leaked: {rendered}"
        );
        assert!(rendered.contains("k1"));
    }
}

#[test]
fn token_prefix_glued() {
    let glued = "BEARER_TOKEN_k1_6c2z6qzlrfcgysjvEMAIL_k1_7bwbhdcnguvjlulw";
    assert_eq!(
        token_prefix_len(glued),
        Some("BEARER_TOKEN_k1_6c2z6qzlrfcgysjv".len())
    );
    assert_eq!(token_prefix_len("EMAIL_k1_mfrggzdfmztwq2lk-x"), Some(25));
    assert_eq!(token_prefix_len("hunter2"), None);
    assert_eq!(token_prefix_len("AB_k1_short"), None);
}

/// Renders the token the slow way, without the per-thread MAC cache.
fn uncached_token(tokenizer: &Tokenizer, kind: &str, value: &str) -> String {
    let mac = tokenizer.compute_mac(value.as_bytes());
    format!(
        "{kind}_{}_{}",
        tokenizer.key_id,
        std::str::from_utf8(&mac).unwrap()
    )
}

#[test]
fn mac_cache_matches_uncached() {
    let first = tokenizer();
    let other_key = Tokenizer::new(Key::generate("k2"));
    let long = "x".repeat(MAC_CACHE_MAX_VALUE + 1);
    let mut values: Vec<String> = (0..2 * MAC_CACHE_ENTRIES)
        .map(|index| format!("10.0.{}.{}", index / 256, index % 256))
        .collect();
    values.push(String::new());
    values.push("x".repeat(MAC_CACHE_MAX_VALUE));
    values.push(long);

    // Two rounds, so the second one reads entries the first one wrote and
    // slots that another value or the other key has taken since.
    for _ in 0..2 {
        for value in &values {
            for tokenizer in [&first, &other_key] {
                assert_eq!(
                    token(tokenizer, "IPV4", value),
                    uncached_token(tokenizer, "IPV4", value),
                    "value {value:?}"
                );
            }
        }
    }
}
