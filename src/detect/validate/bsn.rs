//! Dutch citizen service numbers (burgerservicenummer, BSN): nine digits
//! that pass the 11-proof ("elfproef"): 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is
//! a multiple of 11. Accepts the bare form, 3-3-3 groups with one separator throughout, and the
//! dotted 4-2-3 form `1234.56.782`. Rejects a failed proof, all zeros, and
//! pieces of longer numbers.
//!
//! NOTE: a BSN written with its leading zero dropped has 8 digits and is
//! not matched.

use super::{collect_digits, is_part_of_longer_number};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let digits = collect_digits(&haystack[start..end])?;
    if digits.len != 9 || digits.as_slice().iter().all(|&digit| digit == 0) {
        return None;
    }
    if !eleven_proof_ok(digits.as_slice()) || is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

fn eleven_proof_ok(digits: &[u8]) -> bool {
    let weighted: i32 = digits[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(&digit, weight)| i32::from(digit) * weight)
        .sum();
    (weighted - i32::from(digits[8])).rem_euclid(11) == 0
}

#[cfg(test)]
mod tests {
    use super::check;

    fn bsn(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn bsn_accepts_valid() {
        // Generated from the 11-proof.
        let valid = [
            "111222333",
            "123456782",
            "234567892",
            "102030406",
            "123 456 782",
            "123-456-782",
            "1234.56.782",
        ];
        for number in valid {
            assert!(bsn(number), "expected BSN: {number}");
        }
    }

    #[test]
    fn bsn_rejects_invalid() {
        let invalid = [
            // Last digit off by one.
            "123456783",
            "111222334",
            // All zeros passes the proof but is no number.
            "000000000",
            // Mixed separators and wrong length.
            "123 456-782",
            "12345678",
            "1234567820",
        ];
        for number in invalid {
            assert!(!bsn(number), "expected no BSN: {number}");
        }
    }

    #[test]
    fn bsn_rejects_decimal() {
        let text = b"0.123456782";
        assert_eq!(check(text, 2, text.len()), None);
    }
}
