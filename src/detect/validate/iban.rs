//! IBAN (ISO 13616): the country's registered length and the mod-97 check,
//! written either without spaces or in groups of four.

/// Registered IBAN lengths by country code, from the SWIFT IBAN registry.
/// NOTE: the registry changes a few times a year; a country added after this
/// table was written is not detected.
#[rustfmt::skip]
const COUNTRY_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20),
    (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BI", 27), (b"BR", 29), (b"BY", 28),
    (b"CH", 21), (b"CR", 22), (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DJ", 27),
    (b"DK", 18), (b"DO", 28), (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18),
    (b"FK", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23),
    (b"GL", 18), (b"GR", 27), (b"GT", 28), (b"HN", 28), (b"HR", 21), (b"HU", 28),
    (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26), (b"IT", 27), (b"JO", 30),
    (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32), (b"LI", 21), (b"LT", 20),
    (b"LU", 20), (b"LV", 21), (b"LY", 25), (b"MC", 27), (b"MD", 24), (b"ME", 22),
    (b"MK", 19), (b"MN", 20), (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NI", 28),
    (b"NL", 18), (b"NO", 15), (b"OM", 23), (b"PK", 24), (b"PL", 28), (b"PS", 29),
    (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"RU", 33), (b"SA", 24),
    (b"SC", 31), (b"SD", 18), (b"SE", 24), (b"SI", 19), (b"SK", 24), (b"SM", 27),
    (b"SO", 23), (b"ST", 25), (b"SV", 28), (b"TL", 23), (b"TN", 24), (b"TR", 26),
    (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20), (b"YE", 30),
];

fn country_length(code: &[u8]) -> Option<usize> {
    COUNTRY_LENGTHS
        .iter()
        .find(|(country, _)| country.as_slice() == code)
        .map(|&(_, len)| len)
}

/// Checks a candidate and trims it to the country's length, because the
/// pattern may take one more group of four (the next word) than belongs to
/// the IBAN.
pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let expected = country_length(candidate.get(..2)?)?;

    let mut count = 0;
    let mut value_end = None;
    for (offset, &byte) in candidate.iter().enumerate() {
        if byte == b' ' {
            continue;
        }
        count += 1;
        if count == expected {
            value_end = Some(start + offset + 1);
            break;
        }
    }
    let value_end = value_end?;

    // The IBAN must end at a group edge: the end of the candidate or a space.
    if value_end < end && haystack[value_end] != b' ' {
        return None;
    }
    is_valid_iban(&haystack[start..value_end]).then_some((start, value_end))
}

/// Runs the ISO 7064 mod-97 check on an IBAN with optional spaces: the first
/// four characters move to the end, letters become 10 to 35, and the number
/// must leave remainder 1.
pub(crate) fn is_valid_iban(iban: &[u8]) -> bool {
    let compact = iban.iter().copied().filter(|&b| b != b' ');
    let rotated = compact.clone().skip(4).chain(compact.take(4));

    let mut remainder = 0u32;
    let mut chars = 0;
    for byte in rotated {
        chars += 1;
        remainder = match byte {
            b'0'..=b'9' => (remainder * 10 + u32::from(byte - b'0')) % 97,
            b'A'..=b'Z' => (remainder * 100 + u32::from(byte - b'A') + 10) % 97,
            _ => return false,
        };
    }
    chars >= 15 && remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iban(text: &str) -> Option<&str> {
        check(text.as_bytes(), 0, text.len()).map(|(s, e)| &text[s..e])
    }

    #[test]
    fn iban_accepts_valid() {
        let valid = [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB82WEST12345698765432",
            "ES1815780823521356989043",
            "NO9386011117947",
            "MT84MALT011000012345MTLCAST001S",
        ];
        for number in valid {
            assert_eq!(iban(number), Some(number), "expected IBAN: {number}");
        }
    }

    #[test]
    fn iban_rejects_bad_checksum() {
        let invalid = [
            "DE88370400440532013000",
            "ES7138067460491519431779",
            "GB86YCEU78657346660061",
            "ES93 2861 3552 5648 9267 9465",
        ];
        for number in invalid {
            assert_eq!(iban(number), None, "expected no IBAN: {number}");
        }
    }

    #[test]
    fn iban_rejects_wrong_length() {
        assert_eq!(iban("DE8937040044053201300"), None);
        assert_eq!(iban("XX89370400440532013000"), None);
    }

    #[test]
    fn iban_trims_next_group() {
        assert_eq!(
            iban("DE89 3704 0044 0532 0130 00 ABCD"),
            Some("DE89 3704 0044 0532 0130 00")
        );
    }
}
