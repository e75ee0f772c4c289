//! Whole values of sensitive keys (`authorization`, `client.address`, see
//! `detectors/keys.yaml`): which part of the value is tokenized and as
//! which kind. JSON fields, OTLP attributes and `key=value` text all go
//! through here, so one value gets one token wherever it is written.
//!
//! An HTTP authentication scheme in front of the credential (`Bearer `,
//! `Basic `) stays readable. A credential after a scheme gets the kind the
//! scheme names (`BEARER_TOKEN`, `BASIC_AUTH`) unless it is a JWT, since an
//! `Authorization: Bearer …` header line in free text is reported that way
//! too, whatever provider issued the token; one value thus gets one token
//! in text and in fields. Any other value gets the kind that a detector
//! finds for it alone (an IPv4 address, a GitHub token), else the key's
//! kind, turned into PERSON_NAME where the key holds logins (`user.name`)
//! and the value is shaped like a full name. This module never changes
//! text.

use std::cell::RefCell;

use super::{Engine, Hit, KindId};

thread_local! {
    /// Hits of a credential scanned alone, kept per thread so that
    /// classifying allocates only on first use in a thread.
    static CREDENTIAL_HITS: RefCell<Vec<Hit>> = const { RefCell::new(Vec::new()) };
}

/// The part of a whole value to tokenize and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WholeValue {
    /// Bytes of authentication scheme at the start of the value, kept as
    /// they are.
    pub(crate) scheme_len: usize,
    pub(crate) kind: KindId,
}

/// An HTTP authentication scheme that can stand in front of a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthScheme {
    Bearer,
    Basic,
}

impl Engine {
    /// Classifies `value`, the whole value of a field whose key names
    /// `key_kind`.
    pub(crate) fn classify_whole_value(&self, value: &str, key_kind: KindId) -> WholeValue {
        let (scheme, credential) = split_auth_scheme(value);
        let scheme_kind = scheme.and_then(|(scheme, _)| match scheme {
            AuthScheme::Bearer => self.bearer_kind,
            AuthScheme::Basic => self.basic_auth_kind,
        });
        let detected = self.detected_kind(credential);
        let kind = match scheme_kind {
            Some(scheme_kind) if detected.is_none() || detected != self.jwt_kind => scheme_kind,
            _ => detected.unwrap_or_else(|| self.key_value_kind(key_kind, credential)),
        };
        WholeValue {
            scheme_len: scheme.map_or(0, |(_, len)| len),
            kind,
        }
    }

    /// Returns the kind of the one hit that covers all of `value`, if the
    /// detectors find exactly that, so a field's value gets the same kind
    /// (and token) as the same value in free text.
    fn detected_kind(&self, value: &str) -> Option<KindId> {
        let find = |hits: &mut Vec<Hit>| {
            self.find(value, hits);
            match hits.as_slice() {
                [hit] if hit.start == 0 && hit.end == value.len() => Some(hit.kind),
                _ => None,
            }
        };
        CREDENTIAL_HITS.with(|hits| match hits.try_borrow_mut() {
            Ok(mut hits) => find(&mut hits),
            // Reached when a credential contains a keyed value itself, whose
            // credential is then classified with this one still borrowed.
            Err(_) => find(&mut Vec::new()),
        })
    }

    /// Classifies the hits of key rules in `text` like whole values of
    /// their keys: each loses its scheme and may change its kind.
    ///
    /// An unquoted value in text ends at the first space, so for a key whose
    /// full-name-shaped value is a person (`user.name=John Smith`), the name
    /// words after it are taken in and the hit becomes a PERSON_NAME.
    pub(crate) fn classify_key_hits(&self, text: &str, hits: &mut [Hit]) {
        // Hits are sorted and do not overlap, and a name taken in stops
        // before the next hit.
        for index in 0..hits.len() {
            let next_start = hits.get(index + 1).map_or(text.len(), |next| next.start);
            let hit = &mut hits[index];
            if hit.from_key {
                let whole = self.classify_whole_value(&text[hit.start..hit.end], hit.kind);
                hit.start += whole.scheme_len;
                hit.kind = whole.kind;
                hit.from_key = false;
                if let Some(person_name) = self.person_name
                    && self.full_name_kinds.contains(&hit.kind)
                    && let Some(end) = super::validate::full_name_end(text, hit.start)
                    && end > hit.end
                    && end <= next_start
                {
                    hit.end = end;
                    hit.kind = person_name;
                }
            }
        }
    }
}

/// Splits `Bearer ` or `Basic ` (any ASCII case, one or more spaces) off the
/// front of a credential, when a credential follows. Returns the scheme
/// with its length in bytes, spaces included, and the credential.
pub(crate) fn split_auth_scheme(value: &str) -> (Option<(AuthScheme, usize)>, &str) {
    for (name, scheme) in [("bearer", AuthScheme::Bearer), ("basic", AuthScheme::Basic)] {
        let Some(head) = value.get(..name.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(name) {
            continue;
        }
        let rest = &value[name.len()..];
        let credential = rest.trim_start_matches(' ');
        if credential.len() < rest.len() && !credential.is_empty() {
            let scheme_len = value.len() - credential.len();
            return (Some((scheme, scheme_len)), credential);
        }
    }
    (None, value)
}

#[cfg(test)]
mod tests {
    use super::{AuthScheme, split_auth_scheme};
    use crate::detect::Engine;

    #[test]
    fn scheme_names_credential_kind_unless_jwt() {
        let engine = Engine::builtin(&Default::default()).unwrap();
        let key = engine.sensitive_key_kind("authorization").unwrap();
        let kind_of = |value: &str| {
            let whole = engine.classify_whole_value(value, key);
            (whole.scheme_len, engine.kind_name(whole.kind).to_string())
        };

        let github = "Bearer gho_juCxAbquHaYLEJ0S7IBPvzs9Y8x6";
        assert_eq!(kind_of(github), (7, "BEARER_TOKEN".to_string()));
        let jwt = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_abc";
        assert_eq!(kind_of(jwt), (7, "JWT".to_string()));
        let basic = "Basic dXNlcjpwYXNzd29yZA==";
        assert_eq!(kind_of(basic), (6, "BASIC_AUTH".to_string()));
        let bare = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
        assert_eq!(kind_of(bare), (0, "GITHUB_TOKEN".to_string()));
    }

    #[test]
    fn auth_scheme_split() {
        assert_eq!(
            split_auth_scheme("Bearer abc"),
            (Some((AuthScheme::Bearer, 7)), "abc")
        );
        assert_eq!(
            split_auth_scheme("basic  dXNlcjpw"),
            (Some((AuthScheme::Basic, 7)), "dXNlcjpw")
        );
        assert_eq!(split_auth_scheme("Bearer "), (None, "Bearer "));
        assert_eq!(split_auth_scheme("Bearerabc"), (None, "Bearerabc"));
        assert_eq!(split_auth_scheme("secret"), (None, "secret"));
        assert_eq!(split_auth_scheme("é"), (None, "é"));
    }
}
