//! Secret values after a key (`password=`, `token:`) or `Bearer`: anything
//! but a placeholder that carries no secret.

/// Values that logs print in place of a secret. Compared ASCII case
/// insensitively.
const PLACEHOLDERS: &[&[u8]] = &[
    b"null",
    b"none",
    b"nil",
    b"true",
    b"false",
    b"undefined",
    b"empty",
    b"redacted",
    b"<redacted>",
    b"[redacted]",
    b"[filtered]",
    b"hidden",
    b"****",
    b"*****",
    b"******",
    b"********",
    b"{}",
    b"[]",
];

pub(super) fn check_value(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let value = &haystack[start..end];
    if value.is_empty() || value.iter().all(|&b| b == b'*' || b == b'x' || b == b'X') {
        return None;
    }
    if PLACEHOLDERS
        .iter()
        .any(|placeholder| placeholder.eq_ignore_ascii_case(value))
    {
        return None;
    }
    Some((start, end))
}

/// Like [`check_value`], but leaves a JWT (`eyJ…` with two dots) to the JWT
/// rule so it is reported with the more specific kind.
pub(super) fn check_bearer(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let value = &haystack[start..end];
    let dots = value.iter().filter(|&&b| b == b'.').count();
    if value.starts_with(b"eyJ") && dots == 2 {
        return None;
    }
    if value.len() < 8 {
        return None;
    }
    check_value(haystack, start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_rejects_placeholders() {
        for text in ["null", "NULL", "***", "********", "xxxx", "<redacted>"] {
            assert_eq!(
                check_value(text.as_bytes(), 0, text.len()),
                None,
                "placeholder {text}"
            );
        }
        assert!(check_value(b"hunter2", 0, 7).is_some());
    }

    #[test]
    fn bearer_leaves_jwt() {
        let jwt = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(check_bearer(jwt, 0, jwt.len()), None);
        let opaque = b"gho_juCxAbquHaYLEJ0S7IBPvzs9Y8x6Pk7nSRH8";
        assert!(check_bearer(opaque, 0, opaque.len()).is_some());
    }
}
