//! NHS numbers of England, Wales and the Isle of Man, with the CHI numbers
//! of Scotland and the H&C numbers of Northern Ireland, which share the
//! format: ten digits, usually written 3-3-4 with spaces, where the last is
//! a modulus 11 check digit: weights 10 down to 2, the check digit is 11
//! minus the remainder, 11 becomes 0, and a result of 10 means the number
//! is never issued.
//!
//! Rejects a failed check, mixed separators, and the ranges that no service
//! allocates: numbers starting 000 to 009, 500 to 599 and 800 to 999. The
//! last of those holds 999 000 0000 to 999 999 9999, reserved for test data.

use super::{collect_digits, is_part_of_longer_number};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let digits = collect_digits(&haystack[start..end])?;
    if digits.len != 10 {
        return None;
    }
    // CHI numbers start 010 to 311, Northern Ireland uses 320 to 399, and
    // England, Wales and the Isle of Man use 3xx, 400 to 499 and 600 to 799.
    let allocated = matches!(digits.number(0..3), 10..=499 | 600..=799);
    if !allocated || !check_digit_ok(digits.as_slice()) {
        return None;
    }
    if is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

fn check_digit_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(&digit, weight)| u32::from(digit) * weight)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        check => check,
    };
    u32::from(digits[9]) == check
}

#[cfg(test)]
mod tests {
    use super::check;

    fn nhs(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn nhs_accepts_valid() {
        // Generated from the algorithm, one per allocated range.
        let valid = [
            "401 023 2137",
            "450 557 7104",
            "600 000 0006",
            "712 345 6785",
            "310 101 0012",
            "321 987 6544",
            "4010232137",
            "401-023-2137",
        ];
        for number in valid {
            assert!(nhs(number), "expected NHS number: {number}");
        }
    }

    #[test]
    fn nhs_rejects_invalid() {
        let invalid = [
            // Check digit off by one.
            "401 023 2138",
            "600 000 0007",
            // 943 476 5919, the worked example of the English Wikipedia
            // article, passes the check, but 9xx is never allocated.
            "943 476 5919",
            // The check digit would be 10.
            "999 000 0000",
            // Mixed separators, wrong grouping length.
            "401 023-2137",
            "401 023 213",
        ];
        for number in invalid {
            assert!(!nhs(number), "expected no NHS number: {number}");
        }
    }

    #[test]
    fn nhs_rejects_longer_number() {
        let text = b"+44 401 023 2137";
        assert_eq!(check(text, 4, text.len()), None);
        let text = b"401 023 2137 99";
        assert_eq!(check(text, 0, 12), None);
    }
}
