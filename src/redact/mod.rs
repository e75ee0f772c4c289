//! Redaction: runs the detection engine over text and replaces each hit with
//! its keyed token. Text redaction lives in `text`; structured records
//! (OTLP attribute values) are walked elsewhere and call
//! [`Redactor::redact`] per string value.

mod json;
pub mod otlp;
mod sql;
mod text;
mod url;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::detect::{Engine, KindId};
use crate::token::Tokenizer;

/// The kind, declared in `detectors/keys.yaml`, of the tokens that replace
/// SQL literals.
const SQL_LITERAL_KIND: &str = "SQL_LITERAL";

/// An engine, a tokenizer and hit counters. Shared by reference across
/// threads.
pub struct Redactor {
    engine: Engine,
    tokenizer: Tokenizer,
    /// Hits since start, indexed like `Engine::kind_names`.
    hit_counts: Vec<AtomicU64>,
    otlp_options: otlp::OtlpOptions,
    /// The kind of SQL literal tokens, `None` when the engine lacks it.
    sql_literal_kind: Option<KindId>,
}

impl Redactor {
    pub fn new(engine: Engine, tokenizer: Tokenizer) -> Redactor {
        let hit_counts = engine.kind_names().map(|_| AtomicU64::new(0)).collect();
        let sql_literal_kind = engine
            .kind_names()
            .find(|(_, name)| *name == SQL_LITERAL_KIND)
            .map(|(kind, _)| kind);
        Redactor {
            engine,
            tokenizer,
            hit_counts,
            otlp_options: otlp::OtlpOptions::default(),
            sql_literal_kind,
        }
    }

    /// Replaces the choices that apply to OTLP records only.
    pub fn with_otlp_options(mut self, options: otlp::OtlpOptions) -> Redactor {
        self.otlp_options = options;
        self
    }

    pub fn otlp_options(&self) -> &otlp::OtlpOptions {
        &self.otlp_options
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
    /// names `kind`, and counts it as a hit. An HTTP authentication scheme
    /// in front of the credential (`Bearer <token>`) is kept, and the
    /// credential gets the kind a detector finds for it alone, else the
    /// kind the scheme names, else `kind` or PERSON_NAME for a full name
    /// under a key such as `user.name` (see
    /// [`Engine::classify_whole_value`]). So an `authorization` field shows
    /// its scheme, and its token joins the same credential found in a
    /// header line.
    pub(crate) fn push_whole_value_token(&self, kind: KindId, value: &str, out: &mut String) {
        let engine = &self.engine;
        let whole = engine.classify_whole_value(value, kind);
        let (scheme, credential) = value.split_at(whole.scheme_len);
        out.push_str(scheme);
        let normalized = engine.normalize(whole.kind, credential);
        self.tokenizer
            .push_token(engine.kind_name(whole.kind), &normalized, out);
        self.count_hit(engine.kind_index(whole.kind));
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

#[cfg(test)]
mod person_name_tests;
