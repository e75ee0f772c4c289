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
    // A dot that joins more hex digits makes a longer dotted run, but a
    // full stop after the address ends a sentence.
    let joins_hex = |dot: Option<u8>, beyond: Option<u8>| {
        dot == Some(b'.') && beyond.is_some_and(|byte| byte.is_ascii_hexdigit())
    };
    if joins_hex(byte_at(haystack, end), byte_at(haystack, end + 1))
        || joins_hex(
            byte_before(haystack, start),
            start
                .checked_sub(1)
                .and_then(|dot| byte_before(haystack, dot)),
        )
    {
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
        let dotted_run = b"00a1.2233.4455.66b7";
        assert_eq!(check(dotted_run, 0, 14), None);
        assert_eq!(check(dotted_run, 5, 19), None);
    }

    #[test]
    fn mac_before_full_stop() {
        let text = b"lookup for a6:95:2a:d1:9f:1e. took 19s";
        assert_eq!(check(text, 11, 28), Some((11, 28)));
        let dotted = b"port 00a1.2233.4455.";
        assert_eq!(check(dotted, 5, 19), Some((5, 19)));
    }
}
