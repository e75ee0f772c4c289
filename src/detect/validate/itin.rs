//! US Individual Taxpayer Identification Numbers: nine digits, written like
//! an SSN as `9xx-xx-xxxx` or bare. The IRS issues them with area 900 to
//! 999 and a group (fourth and fifth digits) of 50 to 65, 70 to 88, 90 to
//! 92 or 94 to 99. Rejects any other area or group, mixed separators, and
//! pieces of longer dashed numbers. ITINs carry no check digit.

use super::{collect_digits, is_part_of_longer_number};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let digits = collect_digits(&haystack[start..end])?;
    if digits.len != 9 || digits.values[0] != 9 {
        return None;
    }
    let group = digits.number(3..5);
    let issued = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
    if !issued || is_part_of_longer_number(haystack, start, end) {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::check;

    fn itin(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn itin_accepts_issued_groups() {
        let valid = [
            "900-50-0000",
            "912-65-1234",
            "923-70-4567",
            "987-88-0001",
            "955-90-1111",
            "999-92-9999",
            "940-94-2468",
            "901-99-1357",
            "912701234",
        ];
        for number in valid {
            assert!(itin(number), "expected ITIN: {number}");
        }
    }

    #[test]
    fn itin_rejects_invalid() {
        let invalid = [
            // Not area 9xx: an SSN shape.
            "812-70-1234",
            // Groups the IRS does not issue.
            "912-49-1234",
            "912-66-1234",
            "912-89-1234",
            "912-93-1234",
            "912-00-1234",
            // Mixed separators and wrong length.
            "912-70 1234",
            "912-70-123",
        ];
        for number in invalid {
            assert!(!itin(number), "expected no ITIN: {number}");
        }
    }

    #[test]
    fn itin_rejects_longer_number() {
        let text = b"555-912-70-1234";
        assert_eq!(check(text, 4, text.len()), None);
    }
}
