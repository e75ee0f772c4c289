//! Text redaction: the string is copied only when it has hits, and the hit
//! buffer is kept per thread, so clean text costs one scan and no
//! allocation.

use std::borrow::Cow;
use std::cell::RefCell;

use super::Redactor;
use crate::detect::Hit;

/// Hit buffers start this large so most strings never grow them.
const INITIAL_HITS: usize = 16;

thread_local! {
    static HITS: RefCell<Vec<Hit>> = RefCell::new(Vec::with_capacity(INITIAL_HITS));
}

impl Redactor {
    /// Replaces every hit in `text` with its token, returning `text` itself
    /// (borrowed) when nothing was found. Everything between hits is kept
    /// byte for byte. Text that is a whole JSON object or array is redacted
    /// value by value and stays valid JSON (see `json`).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if let Some(redacted) = super::json::redact_document(self, text) {
            return redacted;
        }
        self.redact_text("", text)
    }

    /// Redacts `text` as plain text, even when it is a JSON document.
    /// `lead` is the text before it in its record, such as a field's key,
    /// read for context words only (see
    /// [`Engine::find_after`](crate::detect::Engine::find_after)); it is
    /// empty for a whole line.
    pub(crate) fn redact_text<'a>(&self, lead: &str, text: &'a str) -> Cow<'a, str> {
        HITS.with(|hits| match hits.try_borrow_mut() {
            Ok(mut hits) => self.redact_with(lead, text, &mut hits),
            // Only reachable if redaction re-enters itself on this thread.
            Err(_) => self.redact_with(lead, text, &mut Vec::new()),
        })
    }

    /// Redacts the value of a field named `key` (an OTLP attribute's dotted
    /// path): a JSON document as in [`Redactor::redact`], other text with
    /// the key read as context, so `nhs` = `4010232137` is found as it is
    /// in `nhs=4010232137`.
    pub fn redact_field<'a>(&self, key: &str, text: &'a str) -> Cow<'a, str> {
        if let Some(redacted) = super::json::redact_document(self, text) {
            return redacted;
        }
        self.redact_text(key, text)
    }

    fn redact_with<'a>(&self, lead: &str, text: &'a str, hits: &mut Vec<Hit>) -> Cow<'a, str> {
        let engine = self.engine();
        engine.find_after(lead, text, hits);
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }

        // Tokens are at most about 30 bytes, so this is usually one
        // allocation.
        let mut out = String::with_capacity(text.len() + hits.len() * 32);
        let mut copied = 0;
        for hit in hits.iter() {
            out.push_str(&text[copied..hit.start]);
            let value = &text[hit.start..hit.end];
            let normalized = engine.normalize(hit.kind, value);
            self.tokenizer
                .push_token(engine.kind_name(hit.kind), &normalized, &mut out);
            self.count_hit(engine.kind_index(hit.kind));
            copied = hit.end;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests;
