//! MAC addresses: six hex pairs with one separator (`:` or `-`) throughout,
//! or the dotted form `0011.2233.4455`.

use super::{byte_at, byte_before};

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    if candidate.len() == 17 {
        let separator = candidate[2];
        let consistent = (2..17)
            .step_by(3)
            .all(|index| candidate[index] == separator);
        if !consistent {
            return None;
        }
        // A seventh pair or a preceding pair means a longer hex run.
        if byte_at(haystack, end) == Some(separator)
            || byte_before(haystack, start) == Some(separator)
        {
            return None;
        }
    } else if candidate.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        // `1234.5678.9012` is a number with dots, not a dotted MAC.
        return None;
    }
    if byte_at(haystack, end) == Some(b'.') || byte_before(haystack, start) == Some(b'.') {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::check;

    fn mac(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn mac_accepts_forms() {
        for text in ["44:B1:64:DD:A8:42", "7E-25-EE-AC-25-0F", "9643.f0ce.0cd6"] {
            assert!(mac(text), "expected MAC: {text}");
        }
    }

    #[test]
    fn mac_rejects_look_alikes() {
        for text in ["44:B1-64:DD:A8:42", "1234.5678.9012"] {
            assert!(!mac(text), "expected no MAC: {text}");
        }
        let longer = b"00:11:22:33:44:55:66";
        assert_eq!(check(longer, 0, 17), None);
    }
}
