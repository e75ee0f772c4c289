//! Phone numbers: 7 to 15 digits (E.164 allows at most 15), not glued to a
//! preceding word or number.

use super::byte_before;

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let digits = haystack[start..end]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .count();
    if !(7..=15).contains(&digits) {
        return None;
    }
    if byte_before(haystack, start).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }

    // An opening bracket needs its closing one, or the value is cut badly.
    let candidate = &haystack[start..end];
    let opens = candidate.iter().filter(|&&b| b == b'(').count();
    let closes = candidate.iter().filter(|&&b| b == b')').count();
    if opens != closes {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::check;

    fn phone(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
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
}
