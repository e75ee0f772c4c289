//! Phone numbers. International numbers (`+` or `00`, then the country
//! calling code) must fit the national number lengths of their country.
//! National numbers are only taken after a phone key (see the pack), in the
//! North American shape, or in a phone column of an SQL insert.

use super::{byte_before, continues_with, preceded_by_number};

/// E.164 allows at most 15 digits, country code included.
const MAX_DIGITS: usize = 15;

/// National significant number lengths (digits after the country code) for
/// common country calling codes. The ranges are estimates of each national
/// numbering plan, lenient where a plan mixes lengths (Germany, Austria,
/// Italy). Other codes fall back to 7 to 15 digits in total.
/// NOTE: the ranges were not checked against the ITU's published plans, so
/// a country with a wrong range here has valid numbers rejected.
#[rustfmt::skip]
const NATIONAL_LENGTHS: &[(u16, u8, u8)] = &[
    (1, 10, 10), (7, 10, 10), (20, 8, 10), (27, 9, 9), (30, 10, 10), (31, 9, 9),
    (32, 8, 9), (33, 9, 9), (34, 9, 9), (36, 8, 9), (39, 6, 11), (40, 9, 9),
    (41, 9, 9), (43, 7, 13), (44, 9, 10), (45, 8, 8), (46, 7, 10), (47, 8, 8),
    (48, 9, 9), (49, 6, 13), (51, 8, 9), (52, 10, 10), (54, 10, 11), (55, 10, 11),
    (56, 9, 9), (57, 8, 10), (60, 8, 10), (61, 9, 9), (62, 8, 12), (63, 8, 10),
    (64, 8, 10), (65, 8, 8), (66, 8, 9), (81, 9, 10), (82, 8, 10), (84, 9, 10),
    (86, 9, 11), (90, 10, 10), (91, 10, 10), (92, 9, 10), (234, 8, 10),
    (254, 9, 9), (351, 9, 9), (353, 7, 9), (358, 6, 11), (380, 9, 9), (420, 9, 9),
    (852, 8, 8), (886, 8, 9), (966, 8, 9), (971, 8, 9), (972, 8, 9),
];

/// Checks a value found after a phone key: 7 to 15 digits, or the country
/// rules when it is written in international form.
pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    if candidate.starts_with(b"+") {
        return check_international(haystack, start, end);
    }
    let digits = candidate.iter().filter(|b| b.is_ascii_digit()).count();
    if !(7..=MAX_DIGITS).contains(&digits) {
        return None;
    }
    if byte_before(haystack, start).is_some_and(is_word_byte) {
        return None;
    }
    brackets_balanced(candidate).then_some((start, end))
}

/// Checks `+<country code><number>` or `00 <country code><number>`.
pub(super) fn check_international(
    haystack: &[u8],
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let before = byte_before(haystack, start);
    if before.is_some_and(|b| is_word_byte(b) || b == b'+') {
        return None;
    }
    let rest = match candidate {
        [b'+', rest @ ..] => rest,
        [b'0', b'0', rest @ ..] => {
            // `12:00 33 …` is a time, `ff 00 33 …` a hex dump, and
            // `08:22.002392371` the fraction of a second.
            if before == Some(b':')
                || preceded_by_number(haystack, start, b' ')
                || preceded_by_number(haystack, start, b'.')
            {
                return None;
            }
            rest.strip_prefix(b" ").unwrap_or(rest)
        }
        _ => return None,
    };
    if continues_with(haystack, end, b'-') || continues_with(haystack, end, b'.') {
        return None;
    }
    if !brackets_balanced(rest) {
        return None;
    }

    let mut digits = [0u8; MAX_DIGITS];
    let count = collect_digits(rest, &mut digits)?;
    fits_numbering_plan(&digits[..count]).then_some((start, end))
}

/// Checks the North American shape: consistent separators and no number
/// glued on either side.
pub(super) fn check_north_american(
    haystack: &[u8],
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let before = byte_before(haystack, start);
    if before.is_some_and(|b| is_word_byte(b) || b == b'+') {
        return None;
    }
    if candidate[0] != b'(' && candidate[3] != candidate[7] {
        return None;
    }
    for separator in [b'-', b'.'] {
        if preceded_by_number(haystack, start, separator)
            || continues_with(haystack, end, separator)
        {
            return None;
        }
    }
    Some((start, end))
}

/// Checks a national number found near a phone key: 9 to 12 digits, one
/// kind of separator (a bracketed area code may be followed by a space),
/// and no date-like or dotted number continuing after it.
pub(super) fn check_national(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let digits = candidate.iter().filter(|b| b.is_ascii_digit()).count();
    if !(9..=12).contains(&digits) {
        return None;
    }
    for separator in [b'-', b'.', b'/', b':'] {
        if continues_with(haystack, end, separator) {
            return None;
        }
    }
    let groups = match candidate.iter().position(|&b| b == b')') {
        Some(close) => {
            let after = &candidate[close + 1..];
            after.strip_prefix(b" ").unwrap_or(after)
        }
        None => candidate,
    };
    let mut separators = groups.iter().filter(|b| !b.is_ascii_digit());
    let first = separators.next();
    if separators.any(|b| Some(b) != first) {
        return None;
    }
    Some((start, end))
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Reports whether the value has at most one bracket pair, properly closed.
fn brackets_balanced(candidate: &[u8]) -> bool {
    let opens = candidate.iter().filter(|&&b| b == b'(').count();
    let closes = candidate.iter().filter(|&&b| b == b')').count();
    let ordered = match (
        candidate.iter().position(|&b| b == b'('),
        candidate.iter().position(|&b| b == b')'),
    ) {
        (Some(open), Some(close)) => open < close,
        (None, None) => true,
        _ => false,
    };
    opens == closes && opens <= 2 && ordered
}

/// Copies the digits of an international number into `out`, leaving out a
/// `(0)` trunk mark such as in `+44 (0)20 7946 0958`, which is not dialed
/// from abroad. Returns `None` above 15 digits.
fn collect_digits(number: &[u8], out: &mut [u8; MAX_DIGITS]) -> Option<usize> {
    let mut count = 0;
    let mut index = 0;
    while index < number.len() {
        if number[index..].starts_with(b"(0)") {
            index += 3;
            continue;
        }
        let byte = number[index];
        index += 1;
        if !byte.is_ascii_digit() {
            continue;
        }
        if count == MAX_DIGITS {
            return None;
        }
        out[count] = byte - b'0';
        count += 1;
    }
    Some(count)
}

/// Checks the digits after `+` against the country table, or against the
/// general 7 to 15 digit rule for a code the table does not list.
fn fits_numbering_plan(digits: &[u8]) -> bool {
    let code_of = |len: usize| {
        digits[..len]
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d))
    };
    for code_len in 1..=3.min(digits.len()) {
        let code = code_of(code_len);
        let Some(&(_, min, max)) = NATIONAL_LENGTHS.iter().find(|entry| entry.0 == code) else {
            continue;
        };
        let national = &digits[code_len..];
        if !(usize::from(min)..=usize::from(max)).contains(&national.len()) {
            return false;
        }
        // North American area codes and exchanges start with 2 to 9.
        if code == 1 {
            return national[0] >= 2 && national[3] >= 2;
        }
        return true;
    }
    (7..=MAX_DIGITS).contains(&digits.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    fn international(text: &str) -> bool {
        check_international(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn phone_digit_count() {
        assert!(phone("+4930406151"));
        assert!(phone("+1 201-857-7114"));
        assert!(phone("(201) 651-3205"));
        assert!(!phone("+123456"));
        assert!(!phone("+1234567890123456"));
    }

    #[test]
    fn phone_rejects_glued_word() {
        let text = b"a+4930406151";
        assert_eq!(check(text, 1, text.len()), None);
    }

    #[test]
    fn international_fits_country() {
        for number in [
            "+1 (415) 555-0132",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "+49 30 901820",
            "00 33 1 42 68 53 00",
            "+33 6 12 34 56 78",
            "+81 3-1234-5678",
            "+5511962809048",
            // 299 (Greenland) is not in the table: 7 to 15 digits in total.
            "+299 32 10 00",
        ] {
            assert!(international(number), "expected phone: {number}");
        }
    }

    #[test]
    fn international_rejects_wrong_length() {
        for number in [
            // North America needs 10 digits, starting with 2 to 9.
            "+1234567",
            "+1 015 555 0132",
            "+44 20 7946 09581",
            "+33 1 42 68 53",
            "+49 30 9018201234567",
        ] {
            assert!(!international(number), "expected no phone: {number}");
        }
    }

    #[test]
    fn international_rejects_time_and_dump() {
        let time = b"12:00 33 1 42 68 53 00";
        assert_eq!(check_international(time, 3, time.len()), None);
        let dump = b"12 00 33 1 42 68 53 00";
        assert_eq!(check_international(dump, 3, dump.len()), None);
    }

    #[test]
    fn north_american_separators() {
        let check = |text: &str| check_north_american(text.as_bytes(), 0, text.len());
        assert!(check("415-555-0132").is_some());
        assert!(check("415.555.0132").is_some());
        assert!(check("(415) 555-0132").is_some());
        assert!(check("415-555.0132").is_none());
        let longer = b"415-555-0132-7";
        assert_eq!(check_north_american(longer, 0, 12), None);
    }

    #[test]
    fn national_groups() {
        let check = |text: &str| check_national(text.as_bytes(), 0, text.len());
        for number in [
            "06 11 63 90 36",
            "0121 614 1366",
            "(11) 96452-2072",
            "616 27 66 35",
        ] {
            assert!(check(number).is_some(), "expected phone: {number}");
        }
        // A date, mixed separators, too few digits.
        for text in ["2024-06-12", "2024-06-12 1030", "030 9018"] {
            assert!(check(text).is_none(), "expected no phone: {text}");
        }
    }
}
