//! German tax identification numbers (Steuerliche Identifikationsnummer,
//! IdNr): eleven digits, often written 2-3-3-3 with spaces, where the first
//! is not 0 and the last is a check digit computed over the first ten with
//! ISO/IEC 7064 MOD 11,10. Among the first ten digits exactly one digit
//! occurs twice or three times and every other digit at most once, and a
//! digit that occurs three times may not fill three adjacent positions.
//!
//! Rejects a failed check, numbers that break the repetition rule (so most
//! counters and timestamps), a leading 0, mixed separators and pieces of
//! longer numbers.

use super::{collect_digits, is_part_of_longer_number};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let digits = collect_digits(&haystack[start..end])?;
    let digits = digits.as_slice();
    if digits.len() != 11 || digits[0] == 0 {
        return None;
    }
    if !repetition_ok(&digits[..10]) || mod_11_10_check_digit(&digits[..10]) != digits[10] {
        return None;
    }
    if is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

/// Checks the digit-repetition rule on the ten digits before the check
/// digit.
fn repetition_ok(digits: &[u8]) -> bool {
    let mut counts = [0u8; 10];
    for &digit in digits {
        counts[usize::from(digit)] += 1;
    }
    let mut repeated = counts.iter().enumerate().filter(|&(_, &count)| count > 1);
    let Some((digit, &count)) = repeated.next() else {
        return false;
    };
    if repeated.next().is_some() || count > 3 {
        return false;
    }
    let digit = digit as u8;
    let three_adjacent = digits
        .windows(3)
        .any(|window| window.iter().all(|&d| d == digit));
    !three_adjacent
}

/// Computes the ISO/IEC 7064 MOD 11,10 check digit (the hybrid system with
/// modulus 10 and 11) of decimal digit values.
fn mod_11_10_check_digit(digits: &[u8]) -> u8 {
    let mut product = 10u8;
    for &digit in digits {
        let mut sum = (digit + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (2 * sum) % 11;
    }
    match 11 - product {
        10 => 0,
        check => check,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    fn tax_id(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn tax_id_accepts_valid() {
        // 12345678995 is the worked example of kryptografie.de's page on
        // the Steuer-ID check digit; the others were generated.
        let valid = [
            "12345678995",
            "12 345 678 995",
            "86095742719",
            "11234567890",
            // A digit three times, never three in a row.
            "11214567891",
            "12113456784",
            "98765432198",
        ];
        for number in valid {
            assert!(tax_id(number), "expected tax id: {number}");
        }
    }

    #[test]
    fn tax_id_rejects_invalid() {
        let invalid = [
            // Check digit off by one.
            "12345678996",
            "86095742718",
            // Correct check digit, broken repetition rule: no digit twice,
            // three adjacent, two digits repeated, one digit four times.
            "12345678903",
            "11134567891",
            "11224567894",
            "55551234568",
            // Leading zero.
            "01123456782",
            // Mixed separators and wrong length.
            "12 345-678 995",
            "1234567899",
        ];
        for number in invalid {
            assert!(!tax_id(number), "expected no tax id: {number}");
        }
    }
}
