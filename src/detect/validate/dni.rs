//! Spanish national identity numbers (DNI) and foreigner identity numbers
//! (NIE). A DNI is 8 digits and a check letter, written `12345678Z`,
//! `12345678-Z` or `12.345.678-Z`. A NIE is X, Y or Z, 7 digits and a check
//! letter, written `X1234567L` or `X-1234567-L`. The check letter is the
//! entry for n mod 23 in `TRWAGMYFPDXBNJZSQVHLCKE`, where n is the DNI
//! number, or the NIE number with X, Y and Z read as the digits 0, 1 and 2.
//!
//! Rejects a wrong check letter, lower-case letters, and any other layout.

use super::is_part_of_longer_number;

const CHECK_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

pub(super) fn check_dni(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let (&letter, body) = candidate.split_last()?;
    let body = body.strip_suffix(b"-").unwrap_or(body);
    let number = match body.len() {
        8 => decimal(body)?,
        10 if body[2] == b'.' && body[6] == b'.' => {
            decimal(&body[..2])? * 1_000_000 + decimal(&body[3..6])? * 1000 + decimal(&body[7..])?
        }
        _ => return None,
    };
    if !letter_ok(number, letter) || is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

pub(super) fn check_nie(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let (&prefix, rest) = candidate.split_first()?;
    let (&letter, body) = rest.split_last()?;
    let body = body.strip_prefix(b"-").unwrap_or(body);
    let body = body.strip_suffix(b"-").unwrap_or(body);
    let leading = match prefix {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return None,
    };
    if body.len() != 7 {
        return None;
    }
    let number = leading * 10_000_000 + decimal(body)?;
    if !letter_ok(number, letter) || is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

fn letter_ok(number: u32, letter: u8) -> bool {
    CHECK_LETTERS[(number % 23) as usize] == letter
}

/// Reads ASCII digits as a number, or `None` if any byte is not a digit.
fn decimal(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + u32::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::{check_dni, check_nie};

    fn dni(text: &str) -> bool {
        check_dni(text.as_bytes(), 0, text.len()).is_some()
    }

    fn nie(text: &str) -> bool {
        check_nie(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn dni_accepts_valid() {
        // Generated from the mod 23 table.
        let valid = [
            "12345678Z",
            "12345678-Z",
            "12.345.678-Z",
            "12.345.678Z",
            "87654321X",
            "00000001R",
            "01234567L",
        ];
        for number in valid {
            assert!(dni(number), "expected DNI: {number}");
        }
    }

    #[test]
    fn dni_rejects_invalid() {
        let invalid = [
            // Wrong letter, lower case, a letter never used (I).
            "12345678A",
            "12345678z",
            "12345678I",
            // Wrong length or grouping.
            "1234567Z",
            "123456789Z",
            "123.456.78-Z",
            "12345678--Z",
        ];
        for number in invalid {
            assert!(!dni(number), "expected no DNI: {number}");
        }
    }

    #[test]
    fn nie_accepts_valid() {
        let valid = [
            "X1234567L",
            "X-1234567-L",
            "X1234567-L",
            "Y1234567X",
            "Z7654321H",
        ];
        for number in valid {
            assert!(nie(number), "expected NIE: {number}");
        }
    }

    #[test]
    fn nie_rejects_invalid() {
        let invalid = [
            // X and Y give different letters for the same digits.
            "Y1234567L",
            "X1234567X",
            // Another prefix, wrong length.
            "W1234567L",
            "X123456L",
            "X12345678L",
        ];
        for number in invalid {
            assert!(!nie(number), "expected no NIE: {number}");
        }
    }
}
