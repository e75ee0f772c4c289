//! Redacts URLs and query strings (`url.full`, `url.query` in OTLP) one
//! query parameter at a time. Percent-encoded values
//! (`email=alice%40example.com`) are decoded before the detectors see them,
//! and a parameter whose name is a sensitive key (`access_token=...`) has
//! its whole value replaced.
//!
//! The text before the query (scheme, user info, host, path) and the
//! fragment go through the detectors as plain text. A parameter that needs
//! no change keeps its original bytes, and a changed value is written back
//! percent-encoded, so the URL stays valid.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::Redactor;

/// Bytes written as they are in a redacted query value: the unreserved
/// characters of RFC 3986. Tokens consist of these only.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Redactor {
    /// Redacts a URL, or a path with a query, returning `None` when nothing
    /// changed.
    pub(crate) fn redact_url(&self, url: &str) -> Option<String> {
        let (before_fragment, fragment) = match url.split_once('#') {
            Some((head, fragment)) => (head, Some(fragment)),
            None => (url, None),
        };
        let (base, query) = match before_fragment.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (before_fragment, None),
        };

        let base = self.redact_text("", base);
        let query = query.map(|query| self.redact_query_pairs(query));
        let fragment = fragment.map(|fragment| self.redact_text("", fragment));
        let changed = matches!(base, Cow::Owned(_))
            || matches!(query, Some(Cow::Owned(_)))
            || matches!(fragment, Some(Cow::Owned(_)));
        if !changed {
            return None;
        }

        let mut out = base.into_owned();
        if let Some(query) = query {
            out.push('?');
            out.push_str(&query);
        }
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(&fragment);
        }
        Some(out)
    }

    /// Redacts a query string without its `?`, returning `None` when
    /// nothing changed.
    pub(crate) fn redact_query(&self, query: &str) -> Option<String> {
        match self.redact_query_pairs(query) {
            Cow::Borrowed(_) => None,
            Cow::Owned(redacted) => Some(redacted),
        }
    }

    fn redact_query_pairs<'a>(&self, query: &'a str) -> Cow<'a, str> {
        let mut out = String::new();
        let mut changed = false;
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            match self.redact_query_pair(pair) {
                Some(redacted) => {
                    changed = true;
                    out.push_str(&redacted);
                }
                None => out.push_str(pair),
            }
        }
        match changed {
            true => Cow::Owned(out),
            false => Cow::Borrowed(query),
        }
    }

    fn redact_query_pair(&self, pair: &str) -> Option<String> {
        let Some((name, value)) = pair.split_once('=') else {
            // A bare word (`?alice@example.com`) is a value too.
            return self.redact_query_value(None, pair);
        };
        let name_text = decode(name);
        let redacted_name = match self.redact_text("", &name_text) {
            Cow::Borrowed(_) => None,
            Cow::Owned(redacted) => Some(encode(&redacted)),
        };
        let redacted_value = self.redact_query_value(Some(&name_text), value);
        if redacted_name.is_none() && redacted_value.is_none() {
            return None;
        }

        let name = redacted_name.unwrap_or_else(|| name.to_string());
        let value = redacted_value.unwrap_or_else(|| value.to_string());
        Some(format!("{name}={value}"))
    }

    /// Redacts one encoded query value: whole when `name` is a sensitive
    /// key, otherwise by the detectors on its decoded text.
    fn redact_query_value(&self, name: Option<&str>, value: &str) -> Option<String> {
        let text = decode(value);
        if text.is_empty() {
            return None;
        }
        let kind = name.and_then(|name| self.engine().sensitive_key_kind(name));
        match kind {
            Some(_) if self.keeps_whole_value(&text) => None,
            Some(kind) => {
                let mut token = String::new();
                self.push_whole_value_token(kind, &text, &mut token);
                Some(encode(&token))
            }
            None => self
                .redact_unkeyed_value(name, &text)
                .map(|value| encode(&value)),
        }
    }

    /// Redacts a decoded value whose name is not a sensitive key. The value
    /// is scanned after its name, as `name=value` reads in a log line, so
    /// rules keyed by a name (`token=...`, `password=...`) find it here too.
    fn redact_unkeyed_value(&self, name: Option<&str>, text: &str) -> Option<String> {
        if let Some(name) = name {
            let pair = format!("{name}={text}");
            let Cow::Owned(redacted) = self.redact_text("", &pair) else {
                return None;
            };
            if let Some(value) = redacted
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                return (value != text).then(|| value.to_string());
            }
            // A hit reached into the name, which is redacted on its own, so
            // the value is scanned alone below.
        }
        match self.redact_text("", text) {
            Cow::Borrowed(_) => None,
            Cow::Owned(redacted) => Some(redacted),
        }
    }
}

/// Decodes `+` and percent escapes, replacing invalid UTF-8 lossily.
fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['+', '%']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}
