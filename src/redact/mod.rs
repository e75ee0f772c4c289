//! Redaction: runs the detection engine over text and replaces each hit with
//! its keyed token. Text redaction lives in `text`; structured records
//! (OTLP attribute values) are walked elsewhere and call
//! [`Redactor::redact`] per string value.

mod json;
pub mod otlp;
mod text;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::detect::{Engine, KindId};
use crate::token::Tokenizer;

/// An engine, a tokenizer and hit counters. Shared by reference across
/// threads.
pub struct Redactor {
    engine: Engine,
    tokenizer: Tokenizer,
    /// Hits since start, indexed like `Engine::kind_names`.
    hit_counts: Vec<AtomicU64>,
}

impl Redactor {
    pub fn new(engine: Engine, tokenizer: Tokenizer) -> Redactor {
        let hit_counts = engine.kind_names().map(|_| AtomicU64::new(0)).collect();
        Redactor {
            engine,
            tokenizer,
            hit_counts,
        }
    }

    /// Returns the total hits per kind name since start, for every kind.
    pub fn hit_counts(&self) -> Vec<(String, u64)> {
        self.engine
            .kind_names()
            .zip(&self.hit_counts)
            .map(|((_, name), count)| (name.to_owned(), count.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Appends the token of a whole value of a sensitive field whose key
    /// names `kind`, and counts it as a hit. A value that a detector finds
    /// whole (an e-mail under `username`) keeps the detector's kind, so it
    /// gets the same token as in free text. A value shaped like a personal
    /// name under a key such as `user.name` is reported as PERSON_NAME (see
    /// [`Engine::key_value_kind`]).
    ///
    /// An HTTP authentication scheme in front of the credential
    /// (`Bearer <token>`, `Basic <b64>`) is kept, so an `authorization` field
    /// still shows its scheme and the token joins the same credential found
    /// in a header line.
    pub(crate) fn push_whole_value_token(&self, kind: KindId, value: &str, out: &mut String) {
        let (scheme, value) = split_auth_scheme(value);
        out.push_str(scheme);
        let engine = &self.engine;
        let kind = self
            .whole_value_kind(value)
            .unwrap_or_else(|| engine.key_value_kind(kind, value));
        let normalized = engine.normalize(kind, value);
        self.tokenizer
            .push_token(engine.kind_name(kind), &normalized, out);
        self.count_hit(engine.kind_index(kind));
    }

    /// Reports whether a whole value under a sensitive key must stay as it
    /// is: it is on the allow list, or it is already a token.
    pub(crate) fn keeps_whole_value(&self, value: &str) -> bool {
        crate::token::Tokenizer::is_token(value) || self.engine.is_allowed(value)
    }

    fn count_hit(&self, kind_index: usize) {
        self.hit_counts[kind_index].fetch_add(1, Ordering::Relaxed);
    }
}

/// Splits `Bearer ` or `Basic ` (any ASCII case, one or more spaces) off the
/// front of a credential, when a credential follows.
fn split_auth_scheme(value: &str) -> (&str, &str) {
    for scheme in ["bearer", "basic"] {
        let Some(head) = value.get(..scheme.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(scheme) {
            continue;
        }
        let rest = &value[scheme.len()..];
        let credential = rest.trim_start_matches(' ');
        if credential.len() < rest.len() && !credential.is_empty() {
            return value.split_at(value.len() - credential.len());
        }
    }
    ("", value)
}

#[cfg(test)]
mod person_name_tests;

#[cfg(test)]
mod scheme_tests {
    use super::split_auth_scheme;

    #[test]
    fn auth_scheme_split() {
        assert_eq!(split_auth_scheme("Bearer abc"), ("Bearer ", "abc"));
        assert_eq!(
            split_auth_scheme("basic  dXNlcjpw"),
            ("basic  ", "dXNlcjpw")
        );
        assert_eq!(split_auth_scheme("Bearer "), ("", "Bearer "));
        assert_eq!(split_auth_scheme("Bearerabc"), ("", "Bearerabc"));
        assert_eq!(split_auth_scheme("secret"), ("", "secret"));
        assert_eq!(split_auth_scheme("é"), ("", "é"));
    }
}
