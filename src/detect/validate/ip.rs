//! IP address candidates. IPv4 candidates must not be part of a longer
//! dotted number (`1.2.3.4.5`, `10.5.4.8-beta.2`); IPv6 candidates must parse
//! and must not be code paths (`std::io`, `abc::def`) or hex runs.
//!
//! An IPv4 address inside a host name, as reverse DNS names carry one
//! (`host129.206.196.21.example.com`, `dsl-082-083-227-067.example.net`),
//! is checked apart: there octets may be zero-padded or joined by dashes,
//! and the host name around the address is what sets it apart from a
//! version number.

use std::net::Ipv6Addr;

use super::{byte_at, byte_before, continues_with};

pub(super) fn check_v4(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    // `1.2.3.4.5` and `1.2.3.4.5.6` are OIDs or versions, not addresses.
    if start >= 2 && haystack[start - 1] == b'.' && haystack[start - 2].is_ascii_digit() {
        return None;
    }
    if byte_at(haystack, end) == Some(b'.')
        && byte_at(haystack, end + 1).is_some_and(|b| b.is_ascii_digit())
    {
        return None;
    }

    // A product token before a slash (`Chrome/120.0.0.0` in a user agent)
    // marks a version, as RFC 9110 writes product versions.
    if follows_product_token(haystack, start) {
        return None;
    }

    // A release suffix (`-beta.2`, `-SNAPSHOT`, `-rc1`) marks a version.
    if byte_at(haystack, end) == Some(b'-')
        && byte_at(haystack, end + 1).is_some_and(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    Some((start, end))
}

/// Checks an address glued into a host name: after a letter, or after
/// `-` that follows a label character, and written with dots or with
/// dashes throughout. A dotted address must be followed by at least two
/// more labels, the last of letters only (`.touchtelindia.net`), with no
/// `_` after them, which no host name contains (`n2.7.18.1.el8.x86_64`
/// is a package). A dashed address must end its run of dashed numbers.
/// After a version word (`v1.2.3.4.example.com`) it is a version.
pub(super) fn check_v4_in_host_name(
    haystack: &[u8],
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    let candidate = &haystack[start..end];
    let separator = if candidate.contains(&b'-') {
        b'-'
    } else {
        b'.'
    };
    if !octets_fit(candidate, separator) || follows_version_word(haystack, start) {
        return None;
    }

    let label_before = match byte_before(haystack, start)? {
        b'-' => start >= 2 && haystack[start - 2].is_ascii_alphanumeric(),
        byte => byte.is_ascii_alphabetic(),
    };
    if !label_before {
        return None;
    }

    let host_name_follows = match separator {
        b'.' => domain_follows(&haystack[end..]),
        _ => !(continues_with(haystack, end, b'-') || continues_with(haystack, end, b'.')),
    };
    host_name_follows.then_some((start, end))
}

/// Reports whether `candidate` is four groups of one to three digits, each
/// at most 255, joined by `separator`.
fn octets_fit(candidate: &[u8], separator: u8) -> bool {
    let mut groups = 0;
    for group in candidate.split(|&byte| byte == separator) {
        let digits_only = (1..=3).contains(&group.len()) && group.iter().all(u8::is_ascii_digit);
        let value = group
            .iter()
            .fold(0u32, |acc, &digit| acc * 10 + u32::from(digit - b'0'));
        if !digits_only || value > 255 {
            return false;
        }
        groups += 1;
    }
    groups == 4
}

/// Reports whether `rest`, the text after a dotted address, continues a
/// host name: two or more `.label`s, the last of ASCII letters, ending
/// where the host name ends and not at `_`.
fn domain_follows(rest: &[u8]) -> bool {
    let host_len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        .unwrap_or(rest.len());
    if rest.get(host_len) == Some(&b'_') {
        return false;
    }
    // A host name at the end of a sentence, or written fully qualified,
    // ends with a dot.
    let host = &rest[..host_len];
    let host = host.strip_suffix(b".").unwrap_or(host);
    let Some(labels) = host.strip_prefix(b".") else {
        return false;
    };
    let mut count = 0;
    let mut last: &[u8] = &[];
    for label in labels.split(|&b| b == b'.') {
        if label.is_empty() {
            return false;
        }
        count += 1;
        last = label;
    }
    count >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

/// Reports whether the letters right before `start` are a word that marks
/// a version, such as `v` or `version`.
fn follows_version_word(haystack: &[u8], start: usize) -> bool {
    let before = &haystack[..start];
    let word_len = before
        .iter()
        .rev()
        .take_while(|byte| byte.is_ascii_alphabetic())
        .count();
    let word = &before[before.len() - word_len..];
    ["v", "ver", "version", "rev", "release", "build"]
        .iter()
        .any(|marker| word.eq_ignore_ascii_case(marker.as_bytes()))
}

pub(super) fn check_v6(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let haystack = text.as_bytes();
    if byte_before(haystack, start) == Some(b':') && !after_key(haystack, start - 1) {
        return None;
    }
    if byte_before(haystack, start).is_some_and(is_word_byte) && haystack[start] == b':' {
        return None;
    }
    if byte_at(haystack, end).is_some_and(|b| b == b':' || is_word_byte(b)) {
        return None;
    }

    let candidate = &text[start..end];
    candidate.parse::<Ipv6Addr>().ok()?;

    // `::` alone is the unspecified address, and a compressed form without a
    // decimal digit (`dead::beef`, `abc::def`) is far more often code.
    let has_digit = candidate.bytes().any(|b| b.is_ascii_digit());
    if !has_digit && candidate.contains("::") {
        return None;
    }
    Some((start, end))
}

/// Reports whether `start` follows `Product/`: a slash after a word of
/// letters that starts with an upper-case letter, as in user agents.
fn follows_product_token(haystack: &[u8], start: usize) -> bool {
    if byte_before(haystack, start) != Some(b'/') {
        return false;
    }
    let before_slash = &haystack[..start - 1];
    let word_len = before_slash
        .iter()
        .rev()
        .take_while(|byte| byte.is_ascii_alphabetic())
        .count();
    word_len > 0 && before_slash[before_slash.len() - word_len].is_ascii_uppercase()
}

/// Reports whether the colon at `colon` ends a key such as `ip:` or
/// `en0:`: up to 16 ASCII letters and digits, one of them a letter that is
/// not a hex digit. After a hex word the colon is more likely inside a
/// longer colon-separated run. A rendered token is never a key, because it
/// contains `_`, so redacting the word before the colon cannot turn a
/// rejected address into a hit.
fn after_key(haystack: &[u8], colon: usize) -> bool {
    let word_start = haystack[..colon]
        .iter()
        .rposition(|&b| !is_word_byte(b))
        .map_or(0, |index| index + 1);
    let word = &haystack[word_start..colon];
    word.len() <= 16
        && word.iter().all(u8::is_ascii_alphanumeric)
        && word.iter().any(|&b| !b.is_ascii_hexdigit())
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> bool {
        check_v6(text, 0, text.len()).is_some()
    }

    #[test]
    fn ipv4_rejects_longer_dotted() {
        let text = b"1.2.3.4.5";
        assert_eq!(check_v4(text, 0, 7), None);
        assert_eq!(check_v4(text, 2, 9), None);
        let version = b"10.5.4.8-beta.2";
        assert_eq!(check_v4(version, 0, 8), None);
    }

    #[test]
    fn ipv4_rejects_product_version() {
        let agent = b"Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(check_v4(agent, 7, 16), None);
        let url = b"http://10.0.0.1/x";
        assert_eq!(check_v4(url, 7, 15), Some((7, 15)));
        let path = b"GET /hosts/10.0.0.1";
        assert_eq!(check_v4(path, 11, 19), Some((11, 19)));
    }

    #[test]
    fn ipv4_accepts_with_port() {
        let text = b"10.0.0.1:8080";
        assert_eq!(check_v4(text, 0, 8), Some((0, 8)));
    }

    #[test]
    fn ipv6_accepts_forms() {
        for address in [
            "2001:db8::1",
            "fe80::1",
            "::1",
            "::ffff:1.2.3.4",
            "2a00:65c2:9c81:8433:e9d9:0:9f4b:f110",
            "2001:84db:ef80:0000:0000:0000:1bce:859a",
            "FE80::A528:EA5E:99AD:C054",
        ] {
            assert!(v6(address), "expected IPv6: {address}");
        }
    }

    #[test]
    fn ipv6_rejects_look_alikes() {
        for text in [
            "::",
            "dead::beef",
            "abc::def",
            "12:34:56",
            "deadbeef::",
            "1:2:3",
        ] {
            assert!(!v6(text), "expected no IPv6: {text}");
        }
    }

    #[test]
    fn ipv6_after_key_colon() {
        let keyed = "ip:2001:db8::1";
        assert_eq!(check_v6(keyed, 3, keyed.len()), Some((3, keyed.len())));
        let hex_run = "dead:2001:db8::1";
        assert_eq!(check_v6(hex_run, 5, hex_run.len()), None);
        let token = "BEARER_TOKEN_k1_7t27tzwfnhc6unui:db8::1";
        assert_eq!(check_v6(token, 33, token.len()), None);
    }

    #[test]
    fn ipv6_rejects_code_path() {
        let text = "std::io::Error";
        assert_eq!(check_v6(text, 3, 5), None);
    }
}
