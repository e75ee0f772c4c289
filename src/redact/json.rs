//! Redacts JSON documents in text. A log line or attribute value that is a
//! whole JSON object or array is parsed, and its values are redacted where
//! they stand. The result is still valid JSON, and every byte outside the
//! replaced values is kept as it was: key order, spacing, number formats.
//!
//! Two things differ from plain text redaction:
//!
//! - A value under a sensitive key (`"email"`, `"user": {"id": ...}`, see
//!   `detectors/keys.yaml`) is replaced whole by one token, whatever it looks
//!   like. Numbers become token strings, and every string and number inside
//!   a sensitive object or array is replaced.
//! - Other strings go through the detectors one by one, so a hit never spans
//!   two JSON values and never swallows a quote. Context words still see
//!   the document text before a string, its key included, so
//!   `"routing_number": "021000021"` is found as it is in text.
//!
//! A string that contains escapes (`\"`, `\u00e9`) is decoded, redacted and
//! written back with `serde_json`'s escaping, so the escapes in it may be
//! written differently (`\u00e9` becomes `é`); the JSON stays equivalent.
//! Text that does not parse as JSON is left to plain text redaction.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::Redactor;
use crate::detect::KindId;

/// Returns the redacted document, or `None` when `text` is not a JSON
/// object or array (it is then redacted as plain text).
pub(super) fn redact_document<'a>(redactor: &Redactor, text: &'a str) -> Option<Cow<'a, str>> {
    if !looks_like_document(text) {
        return None;
    }
    let root: &RawValue = serde_json::from_str(text).ok()?;

    let mut edits = Vec::new();
    let mut path = String::new();
    walk(redactor, text, root, &mut path, None, &mut edits).ok()?;
    if edits.is_empty() {
        return Some(Cow::Borrowed(text));
    }

    let mut out = String::with_capacity(text.len() + edits.len() * 32);
    let mut copied = 0;
    for edit in &edits {
        out.push_str(&text[copied..edit.start]);
        out.push_str(&edit.replacement);
        copied = edit.end;
    }
    out.push_str(&text[copied..]);
    Some(Cow::Owned(out))
}

/// Checks cheaply, before parsing, that the first and last non-space
/// characters are `{` and `}`, or `[` and `]`.
fn looks_like_document(text: &str) -> bool {
    let trimmed = text.trim_ascii();
    matches!(
        (trimmed.as_bytes().first(), trimmed.as_bytes().last()),
        (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']'))
    )
}

/// A replacement of `text[start..end]`.
struct Edit {
    start: usize,
    end: usize,
    replacement: String,
}

/// The reason a walk stopped: the document did not parse as the kind of
/// value its first byte promised.
struct Malformed;

fn walk(
    redactor: &Redactor,
    text: &str,
    raw: &RawValue,
    path: &mut String,
    sensitive: Option<KindId>,
    edits: &mut Vec<Edit>,
) -> Result<(), Malformed> {
    let value = raw.get();
    let start = offset_in(text, value);
    let end = start + value.len();

    match value.as_bytes().first() {
        Some(b'{') => {
            let entries: Entries = serde_json::from_str(value).map_err(|_| Malformed)?;
            for (key, child) in entries.0 {
                let parent_len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let kind = sensitive.or_else(|| redactor.engine().sensitive_key_kind(path));
                let walked = walk(redactor, text, child, path, kind, edits);
                path.truncate(parent_len);
                walked?;
            }
        }
        Some(b'[') => {
            let items: Items = serde_json::from_str(value).map_err(|_| Malformed)?;
            for child in items.0 {
                walk(redactor, text, child, path, sensitive, edits)?;
            }
        }
        Some(b'"') => {
            let replacement = match sensitive {
                Some(kind) => {
                    let decoded = decode(value)?;
                    match redactor.keeps_whole_value(&decoded) {
                        true => None,
                        false => Some(quoted_token(redactor, kind, &decoded)),
                    }
                }
                // The document up to the value, key included, is read for
                // context words, as it would be in the same line as text.
                None => redact_string(redactor, &text[..start + 1], value)?,
            };
            if let Some(replacement) = replacement {
                edits.push(Edit {
                    start,
                    end,
                    replacement,
                });
            }
        }
        Some(b'-' | b'0'..=b'9') => {
            if let Some(kind) = sensitive
                && !redactor.keeps_whole_value(value)
            {
                edits.push(Edit {
                    start,
                    end,
                    replacement: quoted_token(redactor, kind, value),
                });
            }
        }
        // true, false and null carry no personal data, even under a
        // sensitive key.
        _ => {}
    }
    Ok(())
}

/// Redacts the contents of the JSON string literal `literal`, returning the
/// new literal, or `None` when nothing was found. `lead` is the document
/// text before the literal's contents.
fn redact_string(
    redactor: &Redactor,
    lead: &str,
    literal: &str,
) -> Result<Option<String>, Malformed> {
    let interior = &literal[1..literal.len() - 1];

    // Without escapes the literal's bytes are the string itself, so hits
    // can be replaced in place and everything else stays byte for byte.
    if !interior.contains('\\') {
        return Ok(match redactor.redact_text(lead, interior) {
            Cow::Borrowed(_) => None,
            Cow::Owned(redacted) => Some(format!("\"{redacted}\"")),
        });
    }

    let decoded = decode(literal)?;
    Ok(match redactor.redact_text(lead, &decoded) {
        Cow::Borrowed(_) => None,
        Cow::Owned(redacted) => Some(serde_json::to_string(&redacted).map_err(|_| Malformed)?),
    })
}

fn decode(literal: &str) -> Result<String, Malformed> {
    serde_json::from_str(literal).map_err(|_| Malformed)
}

fn quoted_token(redactor: &Redactor, kind: KindId, value: &str) -> String {
    let mut out = String::with_capacity(40);
    out.push('"');
    redactor.push_whole_value_token(kind, value, &mut out);
    out.push('"');
    out
}

/// Returns the byte offset of `part` inside `text`. `part` is a slice of
/// `text`, because `RawValue` borrows from the input it was parsed from.
fn offset_in(text: &str, part: &str) -> usize {
    part.as_ptr() as usize - text.as_ptr() as usize
}

/// An object's entries in document order, values left unparsed.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for EntriesVisitor<'a> {
            type Value = Entries<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'a>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<KeyText<'a>>()? {
                    let value: &'a RawValue = map.next_value()?;
                    entries.push((key.0, value));
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

/// A key, borrowed from the input unless it had escapes.
struct KeyText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for KeyText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = KeyText<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<KeyText<'a>, E> {
                Ok(KeyText(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<KeyText<'a>, E> {
                Ok(KeyText(Cow::Owned(key.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

/// An array's items, left unparsed.
struct Items<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for ItemsVisitor<'a> {
            type Value = Items<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items<'a>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<&'a RawValue>()? {
                    items.push(item);
                }
                Ok(Items(items))
            }
        }

        deserializer.deserialize_seq(ItemsVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests;
