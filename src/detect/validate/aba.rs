//! ABA routing transit numbers of US banks: nine digits whose weighted sum
//! with weights 3, 7, 1 repeated is a multiple of 10, and whose first two
//! digits are a Federal Reserve routing symbol: 00 to 12 (banks, 00 for
//! the US government), 21 to 32 (thrift institutions), 61 to 72 (electronic
//! transactions) or 80 (traveler's checks).
//!
//! Rejects other prefixes, a failed checksum, all zeros and numbers of
//! another length. Routing numbers are written bare, so the pack only takes
//! them after a key such as `routing`.

use super::{collect_digits, is_part_of_longer_number};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let digits = collect_digits(&haystack[start..end])?;
    if digits.len != 9 || digits.as_slice().iter().all(|&digit| digit == 0) {
        return None;
    }
    let prefix = digits.number(0..2);
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) {
        return None;
    }
    if !checksum_ok(digits.as_slice()) || is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

fn checksum_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .zip([3, 7, 1].into_iter().cycle())
        .map(|(&digit, weight)| u32::from(digit) * weight)
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::check;

    fn aba(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn aba_accepts_valid() {
        // Generated, or checked, with the 3-7-1 checksum.
        let valid = [
            "021000021",
            "011000015",
            "121000248",
            "026009593",
            "211274450",
            "322271627",
            "610000102",
            "720000005",
            "800000006",
        ];
        for number in valid {
            assert!(aba(number), "expected routing number: {number}");
        }
    }

    #[test]
    fn aba_rejects_invalid() {
        let invalid = [
            // Checksum off by one.
            "021000022",
            "011000016",
            // Checksum passes, but the prefix is no routing symbol.
            "131000018",
            "330000000",
            "400000008",
            "900000003",
            // All zeros passes the checksum but is a placeholder.
            "000000000",
            // Wrong length.
            "02100002",
            "0210000210",
        ];
        for number in invalid {
            assert!(!aba(number), "expected no routing number: {number}");
        }
    }
}
