//! US social security numbers in the `ddd-dd-dddd` form. The Social Security
//! Administration never issues area 000, 666 or 900 to 999, group 00 or
//! serial 0000.

use super::{continues_with, preceded_by_number};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    if candidate.len() != 11 {
        return None;
    }
    let area = &candidate[0..3];
    let group = &candidate[4..6];
    let serial = &candidate[7..11];
    if area == b"000" || area == b"666" || area[0] == b'9' {
        return None;
    }
    if group == b"00" || serial == b"0000" {
        return None;
    }

    // Part of a longer dashed number such as a phone or a date-like id.
    if preceded_by_number(haystack, start, b'-') || continues_with(haystack, end, b'-') {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::check;

    fn ssn(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn ssn_accepts_valid() {
        assert!(ssn("208-20-5634"));
        assert!(ssn("826-86-4665"));
    }

    #[test]
    fn ssn_rejects_unissued() {
        for number in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert!(!ssn(number), "expected no SSN: {number}");
        }
    }

    #[test]
    fn ssn_rejects_longer_number() {
        let text = b"555-123-45-6789";
        assert_eq!(check(text, 4, 15), None);
    }
}
