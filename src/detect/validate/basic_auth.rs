//! HTTP Basic credentials (RFC 7617): base64 that decodes to
//! `user-id:password` in printable text.

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    // Credentials end at a delimiter. Text such as `.0.0.1` glued on means
    // the base64 run took the start of another value, which would be cut.
    if haystack
        .get(end)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
    {
        return None;
    }
    let value = &haystack[start..end];
    let unpadded = value
        .strip_suffix(b"==")
        .or_else(|| value.strip_suffix(b"="));
    let text = unpadded.unwrap_or(value);
    if unpadded.is_some() && !value.len().is_multiple_of(4) {
        return None;
    }
    // One leftover character carries only 6 bits, less than a byte.
    if text.len() % 4 == 1 {
        return None;
    }

    let mut bits = 0u32;
    let mut bit_count = 0;
    let mut has_colon = false;
    for &byte in text {
        bits = (bits << 6) | u32::from(sextet(byte)?);
        bit_count += 6;
        if bit_count >= 8 {
            bit_count -= 8;
            let decoded = (bits >> bit_count) as u8;
            bits &= (1 << bit_count) - 1;
            if decoded.is_ascii_control() {
                return None;
            }
            has_colon |= decoded == b':';
        }
    }
    has_colon.then_some((start, end))
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    fn basic(text: &str) -> bool {
        check(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn basic_accepts_user_password() {
        // "Aladdin:open sesame", "user:pa55", "a:b" unpadded.
        for text in ["QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "dXNlcjpwYTU1", "YTpi"] {
            assert!(basic(text), "expected credentials: {text}");
        }
    }

    #[test]
    fn basic_rejects_other_base64() {
        // "no colon here", bad padding, a lone sixth bit group.
        for text in ["bm8gY29sb24gaGVyZQ==", "YTpi=", "YTpiY"] {
            assert!(!basic(text), "expected no credentials: {text}");
        }
    }

    #[test]
    fn basic_rejects_glued_text() {
        let text = b"dXNlcjpwYTU110.0.0.1";
        assert_eq!(check(text, 0, 14), None);
    }
}
