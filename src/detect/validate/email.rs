//! E-mail addresses: the pattern finds the shape, and this check drops file
//! name extensions that the pattern takes for a top-level domain, so
//! `grace@example.com.log` is the address `grace@example.com` followed by
//! `.log`. It never checks the domain against the list of real top-level
//! domains, which changes every year.

/// Last labels that are file name extensions and no top-level domain.
/// Extensions that are also domains (`.zip`, `.mov`, `.app`) are not here.
const FILE_EXTENSIONS: &[&str] = &[
    "bak", "cfg", "conf", "csv", "err", "gz", "ini", "json", "lock", "log", "out", "pid", "sock",
    "tar", "tmp", "txt", "xml", "xz", "yaml", "yml",
];

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let at = start + haystack[start..end].iter().position(|&byte| byte == b'@')?;

    let mut end = end;
    loop {
        let candidate = &haystack[at + 1..end];
        let last_dot = candidate.iter().rposition(|&byte| byte == b'.')?;
        let label = &candidate[last_dot + 1..];
        if !is_file_extension(label) {
            return Some((start, end));
        }
        // The domain left must still have a dot before its own last label.
        if !candidate[..last_dot].contains(&b'.') {
            return None;
        }
        end = at + 1 + last_dot;
    }
}

fn is_file_extension(label: &[u8]) -> bool {
    FILE_EXTENSIONS
        .iter()
        .any(|extension| label.eq_ignore_ascii_case(extension.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::check;

    fn address(text: &str) -> Option<&str> {
        check(text.as_bytes(), 0, text.len()).map(|(start, end)| &text[start..end])
    }

    #[test]
    fn email_keeps_addresses() {
        for text in [
            "grace@example.com",
            "ops+alerts@mail.example.co.uk",
            "A.B@EXAMPLE.ORG",
            "shop@example.zip",
        ] {
            assert_eq!(address(text), Some(text));
        }
    }

    #[test]
    fn email_drops_file_extensions() {
        assert_eq!(address("grace@example.com.log"), Some("grace@example.com"));
        assert_eq!(
            address("grace@example.com.log.gz"),
            Some("grace@example.com")
        );
        assert_eq!(address("grace@example.com.JSON"), Some("grace@example.com"));
    }

    #[test]
    fn email_rejects_file_names() {
        assert_eq!(address("backup@server.log"), None);
        assert_eq!(address("core@host.tar.gz"), None);
    }
}
