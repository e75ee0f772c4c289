//! Engine tests for the national and financial id rules: the grouped forms
//! taken alone, the bare forms taken only after a context word, and the
//! look-alikes that must stay untouched.

use super::*;

#[test]
fn grouped_ids_found() {
    assert_finds(&[
        ("imei 35-209900-176148-1 ok", "IMEI", "35-209900-176148-1"),
        ("device 35209900-176148-1", "IMEI", "35209900-176148-1"),
        ("taxpayer 912-70-1234 filed", "US_ITIN", "912-70-1234"),
        ("id 130 692 544 ok", "CA_SIN", "130 692 544"),
        ("id 111-222-333 ok", "NL_BSN", "111-222-333"),
        ("id 1112.22.333 ok", "NL_BSN", "1112.22.333"),
        ("patient 401 023 2137 seen", "UK_NHS", "401 023 2137"),
        ("id 86 095 742 719 ok", "DE_TAX_ID", "86 095 742 719"),
        ("doc=529.982.247-25&x=1", "BR_CPF", "529.982.247-25"),
        ("uid 2345 6789 0124 ok", "IN_AADHAAR", "2345 6789 0124"),
        ("uid 2345-6789-0124 ok", "IN_AADHAAR", "2345-6789-0124"),
        (
            "assure 1 85 05 78 006 084 91 ok",
            "FR_NIR",
            "1 85 05 78 006 084 91",
        ),
        (
            "assure 1 85 05 2A 006 084 35 ok",
            "FR_NIR",
            "1 85 05 2A 006 084 35",
        ),
        ("person 811218-9876 ok", "SE_PERSONNUMMER", "811218-9876"),
        ("person 121212+1212 ok", "SE_PERSONNUMMER", "121212+1212"),
        ("person 19811218-9876", "SE_PERSONNUMMER", "19811218-9876"),
        (
            "personnummer: 20000229-1235",
            "SE_PERSONNUMMER",
            "20000229-1235",
        ),
        ("dni=12345678Z;", "ES_DNI", "12345678Z"),
        ("dni 12.345.678-Z", "ES_DNI", "12.345.678-Z"),
        ("nie X-1234567-L ok", "ES_NIE", "X-1234567-L"),
        (
            "cf RSSMRA85T10A562S ok",
            "IT_CODICE_FISCALE",
            "RSSMRA85T10A562S",
        ),
        (
            "\"cf\":\"bnclra70a41h501b\"",
            "IT_CODICE_FISCALE",
            "bnclra70a41h501b",
        ),
        (
            "id 11010519491231002X",
            "CN_RESIDENT_ID",
            "11010519491231002X",
        ),
        (
            "id 440308199003071235 ok",
            "CN_RESIDENT_ID",
            "440308199003071235",
        ),
    ]);
}

#[test]
fn bare_ids_found_after_key() {
    assert_finds(&[
        ("imei=352099001761481", "IMEI", "352099001761481"),
        ("\"IMEI\": \"490154203237518\"", "IMEI", "490154203237518"),
        ("itin: 912701234", "US_ITIN", "912701234"),
        ("routing_number=021000021", "ABA_ROUTING", "021000021"),
        ("ABA 121000248 acct", "ABA_ROUTING", "121000248"),
        (
            "{\"routingNumber\":\"026009593\"}",
            "ABA_ROUTING",
            "026009593",
        ),
        ("sin=130692544", "CA_SIN", "130692544"),
        ("customer_sin: 192837466", "CA_SIN", "192837466"),
        ("bsn=111222333", "NL_BSN", "111222333"),
        ("Burgerservicenummer: 123456708", "NL_BSN", "123456708"),
        ("nhs_number=4010232137", "UK_NHS", "4010232137"),
        ("NHS No: 401-023-2137", "UK_NHS", "401-023-2137"),
        ("steuer_id=86095742719", "DE_TAX_ID", "86095742719"),
        ("IdNr. 12345678995", "DE_TAX_ID", "12345678995"),
        ("cpf=52998224725", "BR_CPF", "52998224725"),
        ("aadhaar: 234567890124", "IN_AADHAAR", "234567890124"),
        ("nir=185057800608491", "FR_NIR", "185057800608491"),
        (
            "personnummer=198112189876",
            "SE_PERSONNUMMER",
            "198112189876",
        ),
        ("pnr 8112189876", "SE_PERSONNUMMER", "8112189876"),
    ]);
}

#[test]
fn key_settles_shared_shape() {
    // 123 456 782 passes both the Luhn check of a SIN and the 11-proof of
    // a BSN, so without a key it is reported as the rule listed first.
    assert_finds(&[
        ("bsn: 123 456 782", "NL_BSN", "123 456 782"),
        ("sin: 123 456 782", "CA_SIN", "123 456 782"),
        ("bsn=123456782", "NL_BSN", "123456782"),
        ("sin=123456782", "CA_SIN", "123456782"),
        ("id 123 456 782", "CA_SIN", "123 456 782"),
    ]);
}

#[test]
fn bare_ids_need_key() {
    assert_clean(&[
        // Each passes its checksum but has no key before it.
        "device 352099001761481 ok",
        "n=912701234",
        "id=021000021",
        "id=130692544",
        "id=111222333",
        "id=4010232137",
        "id=86095742719",
        "id=52998224725",
        "id=234567890124",
        "id=185057800608491",
        "id=8112189876",
        "id=198112189876",
        // A key word inside another word, a key on the previous line, and
        // a key that belongs to another number.
        "processing 130692544",
        "basin=111222333",
        "bsn\n111222333",
        "bsn=999 id=111222333",
        "sin: pending, requestId 0000000000000000000000 130692544",
    ]);
}

#[test]
fn bare_ids_reject_bad_checksum() {
    assert_clean(&[
        "imei=352099001761482",
        "routing=021000022",
        "sin=130692545",
        "bsn=111222334",
        "nhs=4010232138",
        "steuer_id=86095742718",
        "cpf=52998224726",
        "aadhaar=234567890125",
        "nir=185057800608492",
        "personnummer=8112189877",
        "dni 12345678A",
        "cf RSSMRA85T10A562T",
        "id 440308199003071236",
    ]);
}

#[test]
fn id_look_alikes_survive() {
    assert_clean(&[
        // Epoch seconds and milliseconds, durations and counters.
        "ts=1700000000 elapsed=1712345678 at 1700000000123",
        "processed 123456789 rows in 4010232137 ns",
        // Timestamps with dashes and spaces.
        "2024-01-15 12:34:56.789 start",
        "build 20240115-1234 done",
        "2024/01/15 123 456 789 bytes",
        // Lists of numbers.
        "counts 100 200 300 400 500",
        "sizes 401 023 2137 1024",
        // Hex, UUIDs, trace ids, HDFS block ids.
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7",
        "uuid=123e4567-e89b-12d3-a456-426614174000",
        "blk_-1608999687919862906 blk_38865049064139660",
        "sha 86095742719abcdef",
        // Versions and decimals.
        "version 130.692.544",
        "value 0.130692544 and 1.86095742719",
    ]);
}

#[test]
fn phone_not_split_into_id() {
    // The last ten digits form a valid NHS number.
    assert_finds(&[("call +44 401 023 2137 now", "PHONE", "+44 401 023 2137")]);
}

#[test]
fn cards_and_ssn_still_found() {
    assert_finds(&[
        (
            "card 4111 1111 1111 1111 ok",
            "CREDIT_CARD",
            "4111 1111 1111 1111",
        ),
        ("card=4111111111111111", "CREDIT_CARD", "4111111111111111"),
        ("ssn 208-20-5634", "US_SSN", "208-20-5634"),
        (
            "iban DE89 3704 0044 0532 0130 00",
            "IBAN",
            "DE89 3704 0044 0532 0130 00",
        ),
    ]);
}

#[test]
fn id_normalization_merges_spellings() {
    let engine = engine();
    let kind = |name: &str| {
        engine
            .kind_names()
            .find(|&(_, kind_name)| kind_name == name)
            .map(|(kind, _)| kind)
            .unwrap()
    };
    let dni = kind("ES_DNI");
    assert_eq!(engine.normalize(dni, "12.345.678-Z"), "12345678Z");
    let nir = kind("FR_NIR");
    assert_eq!(
        engine.normalize(nir, "1 85 05 2a 006 084 35"),
        "185052A00608435"
    );
    let sin = kind("CA_SIN");
    assert_eq!(engine.normalize(sin, "130-692-544"), "130692544");
    let personnummer = kind("SE_PERSONNUMMER");
    assert_eq!(
        engine.normalize(personnummer, "19811218-9876"),
        engine.normalize(personnummer, "811218-9876")
    );
}

#[test]
fn context_settings_checked() {
    let pack = |extra: &str| {
        format!(
            "kinds:\n  - name: X\n    normalize: digits\nrules:\n  - id: keyed\n    kind: X\n    pattern: '[0-9]+'\n{extra}"
        )
    };
    let window_only = pack("    context_window: 16\n");
    let message = Engine::from_pack_yaml(&window_only, &EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("\"keyed\""), "{message}");
    assert!(message.contains("context_before"), "{message}");

    let too_wide = pack("    context_before: [id]\n    context_window: 100000\n");
    let message = Engine::from_pack_yaml(&too_wide, &EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("100000"), "{message}");

    let narrow = pack("    context_before: [id]\n    context_window: 4\n");
    let engine = Engine::from_pack_yaml(&narrow, &EngineOptions::default()).unwrap();
    assert_eq!(found(&engine, "id=42").len(), 1);
    assert!(found(&engine, "id = 42").is_empty());
}
