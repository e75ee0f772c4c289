//! Per-kind identity normalization: different spellings of one identity
//! (upper and lower case e-mail, a card with or without dashes) map to one
//! string, so they get one token. Normalization never fails: a value it
//! cannot parse is returned unchanged.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Normalizer {
    /// The value as found.
    None,
    /// ASCII lower case.
    Lowercase,
    /// Decimal digits only.
    Digits,
    /// A leading `+` (also for a `00` prefix) and decimal digits, without a
    /// `(0)` trunk mark.
    Phone,
    /// ASCII upper case without spaces.
    Iban,
    /// Rendered as `std::net::Ipv4Addr` does. Octets with leading zeros and
    /// dashes for dots, as host names write an address
    /// (`dsl-082-083-227-067`), are read as decimal.
    Ipv4,
    /// Parsed and rendered by `std::net::Ipv6Addr`, which writes the
    /// RFC 5952 form (lower case, longest zero run as `::`).
    Ipv6,
    /// Six lower-case hex pairs joined by `:`.
    Mac,
    /// ASCII letters in upper case and digits, nothing else, for ids with
    /// letters such as `12.345.678-z` and `12345678Z`.
    AlphanumericUpper,
    /// The last ten digits, YYMMDDNNNC, so that a Swedish personnummer
    /// written with and without its century gets one token.
    Personnummer,
    /// Unicode NFC and lower case, with each run of whitespace made one
    /// space and none at either end, so `Conor  Fisher` and `conor fisher`
    /// get one token.
    PersonName,
}

impl Normalizer {
    pub(crate) fn apply<'a>(self, value: &'a str) -> Cow<'a, str> {
        match self {
            Normalizer::None => Cow::Borrowed(value),
            Normalizer::Lowercase => lowercase(value),
            Normalizer::Digits => keep_bytes(value, |b| b.is_ascii_digit()),
            Normalizer::Phone => phone(value),
            Normalizer::Iban => iban(value),
            Normalizer::Ipv4 if is_canonical_ipv4(value) => Cow::Borrowed(value),
            Normalizer::Ipv4 => match padded_ipv4(value) {
                Some(address) => Cow::Owned(address.to_string()),
                None => reparse::<Ipv4Addr>(value),
            },
            Normalizer::Ipv6 => reparse::<Ipv6Addr>(value),
            Normalizer::Mac => mac(value),
            Normalizer::AlphanumericUpper => alphanumeric_upper(value),
            Normalizer::Personnummer => last_ten_digits(value),
            Normalizer::PersonName => person_name(value),
        }
    }
}

fn lowercase(value: &str) -> Cow<'_, str> {
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(value.to_ascii_lowercase())
    } else {
        Cow::Borrowed(value)
    }
}

fn keep_bytes(value: &str, keep: impl Fn(u8) -> bool) -> Cow<'_, str> {
    if value.bytes().all(&keep) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .chars()
            .filter(|&c| c.is_ascii() && keep(c as u8))
            .collect(),
    )
}

fn phone(value: &str) -> Cow<'_, str> {
    // `00` is the international call prefix in most countries, and a `(0)`
    // trunk mark is not dialed from abroad, so `00 44 (0)20 …` and
    // `+44 20 …` normalize to the same `+` and digits.
    let Some(number) = value.strip_prefix('+').or_else(|| value.strip_prefix("00")) else {
        return keep_bytes(value, |b| b.is_ascii_digit());
    };
    if value.starts_with('+') && number.bytes().all(|b| b.is_ascii_digit()) {
        return Cow::Borrowed(value);
    }
    let digits: String = number
        .replacen("(0)", "", 1)
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .collect();
    Cow::Owned(format!("+{digits}"))
}

fn iban(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    )
}

fn alphanumeric_upper(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    )
}

fn person_name(value: &str) -> Cow<'_, str> {
    let lower: String = value.nfc().flat_map(char::to_lowercase).collect();
    let joined = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined == value {
        true => Cow::Borrowed(value),
        false => Cow::Owned(joined),
    }
}

fn last_ten_digits(value: &str) -> Cow<'_, str> {
    let digits = keep_bytes(value, |b| b.is_ascii_digit());
    match digits.len().checked_sub(10) {
        Some(0) | None => digits,
        Some(skip) => Cow::Owned(digits[skip..].to_owned()),
    }
}

/// Reports whether `value` is a dotted quad exactly as `Ipv4Addr` renders
/// it: four decimal octets up to 255 without leading zeros. Nearly every
/// IPv4 hit is, and this check skips parsing and formatting for those.
fn is_canonical_ipv4(value: &str) -> bool {
    let mut octets = 0;
    for octet in value.split('.') {
        let bytes = octet.as_bytes();
        let valid = match bytes {
            [digit] => digit.is_ascii_digit(),
            [b'1'..=b'9', rest @ ..] if rest.len() <= 2 => {
                rest.iter().all(u8::is_ascii_digit)
                    && octet.parse::<u16>().is_ok_and(|number| number <= 255)
            }
            _ => false,
        };
        if !valid {
            return false;
        }
        octets += 1;
    }
    octets == 4
}

/// Reads four decimal octets of one to three digits, leading zeros
/// allowed, joined by dots or by dashes throughout. `std::net` rejects
/// leading zeros because some parsers read them as octal, but a host name
/// pads octets in decimal.
fn padded_ipv4(value: &str) -> Option<Ipv4Addr> {
    let separator = if value.contains('-') { '-' } else { '.' };
    let mut octets = [0u8; 4];
    let mut count = 0;
    for part in value.split(separator) {
        let valid = (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
        if !valid || count == octets.len() {
            return None;
        }
        octets[count] = part.parse().ok()?;
        count += 1;
    }
    (count == octets.len()).then(|| Ipv4Addr::from(octets))
}

fn reparse<T>(value: &str) -> Cow<'_, str>
where
    T: std::str::FromStr + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(address) => {
            let rendered = address.to_string();
            if rendered == value {
                Cow::Borrowed(value)
            } else {
                Cow::Owned(rendered)
            }
        }
        Err(_) => Cow::Borrowed(value),
    }
}

fn mac(value: &str) -> Cow<'_, str> {
    let hex: Vec<u8> = value
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if hex.len() != 12 {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(17);
    for (index, pair) in hex.chunks(2).enumerate() {
        if index > 0 {
            out.push(':');
        }
        out.push(pair[0] as char);
        out.push(pair[1] as char);
    }
    if out == value {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Normalizer;

    #[test]
    fn email_lowercased() {
        assert_eq!(
            Normalizer::Lowercase.apply("Ann.Lee@Example.COM"),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn card_digits_only() {
        assert_eq!(
            Normalizer::Digits.apply("4111-1111 1111-1111"),
            "4111111111111111"
        );
    }

    #[test]
    fn phone_keeps_plus() {
        assert_eq!(Normalizer::Phone.apply("+49 30 406151"), "+4930406151");
        assert_eq!(Normalizer::Phone.apply("+4930406151"), "+4930406151");
        assert_eq!(Normalizer::Phone.apply("(201) 651-3205"), "2016513205");
    }

    #[test]
    fn phone_international_spellings_equal() {
        for spelling in [
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "00 44 20 7946 0958",
        ] {
            assert_eq!(Normalizer::Phone.apply(spelling), "+442079460958");
        }
    }

    #[test]
    fn iban_upper_without_spaces() {
        assert_eq!(
            Normalizer::Iban.apply("de89 3704 0044 0532 0130 00"),
            "DE89370400440532013000"
        );
    }

    #[test]
    fn ipv4_canonical_matches_std() {
        let cases = [
            "0.0.0.0",
            "10.0.0.1",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.4 ",
            "+1.2.3.4",
            "100.200.250.199",
        ];
        for value in cases {
            let expected = match value.parse::<std::net::Ipv4Addr>() {
                Ok(address) => address.to_string(),
                Err(_) => value.to_owned(),
            };
            assert_eq!(Normalizer::Ipv4.apply(value), expected, "value {value}");
            assert_eq!(
                super::is_canonical_ipv4(value),
                expected == value && value.parse::<std::net::Ipv4Addr>().is_ok(),
                "value {value}"
            );
        }
    }

    #[test]
    fn ipv4_padded_and_dashed_read_as_decimal() {
        let cases = [
            ("059.45.101.203", "59.45.101.203"),
            ("01.2.3.4", "1.2.3.4"),
            ("082-083-227-067", "82.83.227.67"),
            ("10-105-162-105", "10.105.162.105"),
            ("000.000.000.000", "0.0.0.0"),
        ];
        for (value, expected) in cases {
            assert_eq!(Normalizer::Ipv4.apply(value), expected, "value {value}");
        }
        for value in ["256.1.1.1", "1-2.3.4", "0001.2.3.4", "1-2-3", "1.2.3.4.5"] {
            assert_eq!(Normalizer::Ipv4.apply(value), value, "value {value}");
        }
    }

    #[test]
    fn ipv6_canonical() {
        let cases = [
            ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("FE80::A528:EA5E:99AD:C054", "fe80::a528:ea5e:99ad:c054"),
            ("::FFFF:1.2.3.4", "::ffff:1.2.3.4"),
        ];
        for (input, expected) in cases {
            assert_eq!(Normalizer::Ipv6.apply(input), expected, "input {input}");
        }
    }

    #[test]
    fn alphanumeric_upper_drops_punctuation() {
        assert_eq!(
            Normalizer::AlphanumericUpper.apply("12.345.678-z"),
            "12345678Z"
        );
        assert_eq!(
            Normalizer::AlphanumericUpper.apply("1 85 05 2a 006 084 35"),
            "185052A00608435"
        );
        assert_eq!(
            Normalizer::AlphanumericUpper.apply("X1234567L"),
            "X1234567L"
        );
    }

    #[test]
    fn personnummer_drops_century() {
        assert_eq!(
            Normalizer::Personnummer.apply("19811218-9876"),
            "8112189876"
        );
        assert_eq!(Normalizer::Personnummer.apply("811218-9876"), "8112189876");
        assert_eq!(Normalizer::Personnummer.apply("811218+9876"), "8112189876");
        assert_eq!(Normalizer::Personnummer.apply("8112189876"), "8112189876");
    }

    #[test]
    fn mac_colon_lowercase() {
        assert_eq!(
            Normalizer::Mac.apply("7E-25-EE-AC-25-0F"),
            "7e:25:ee:ac:25:0f"
        );
        assert_eq!(Normalizer::Mac.apply("9643.f0ce.0cd6"), "96:43:f0:ce:0c:d6");
    }

    #[test]
    fn person_name_folds_case_and_spaces() {
        let cases = [
            ("Conor Fisher", "conor fisher"),
            ("  conor \t Fisher ", "conor fisher"),
            ("ÉLISE MASSE", "élise masse"),
            // `e` and a combining acute accent compose to `é`.
            ("Rene\u{301} Philippe", "rené philippe"),
        ];
        for (input, expected) in cases {
            assert_eq!(Normalizer::PersonName.apply(input), expected, "{input:?}");
        }
        assert!(matches!(
            Normalizer::PersonName.apply("ana lima"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
