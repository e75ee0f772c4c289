//! Sensitive field names: keys whose whole value is personal data, whatever
//! the value looks like.
//!
//! The table comes from `detectors/keys.yaml` plus keys from the
//! configuration. It answers one question for structured input (JSON log
//! lines, OTLP attributes): is this field sensitive, and as which kind? For
//! unstructured text it also produces one regex rule per kind that finds
//! `key=value` and `"key": value`, so logfmt and key-value lines are covered
//! by the same combined scan as every other rule, with no extra pass.

use std::collections::HashMap;

use serde::Deserialize;

use super::KindId;
use super::normalize::Normalizer;

/// The embedded key list.
pub(crate) const BUILTIN_KEYS: &str = include_str!("../../detectors/keys.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyList {
    #[serde(default)]
    pub(crate) kinds: Vec<KeyKindSpec>,
    /// Kinds whose whole values are reported as PERSON_NAME when they are
    /// shaped like a personal name.
    #[serde(default)]
    pub(crate) full_name_kinds: Vec<String>,
    /// Kind name to the field names of that kind.
    pub(crate) keys: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyKindSpec {
    pub(crate) name: String,
    pub(crate) normalize: Normalizer,
}

/// Parses the key list, returning the parser's message (with line and
/// column) on failure.
pub(crate) fn parse(yaml: &str) -> Result<KeyList, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawKeyList {
        #[serde(default)]
        kinds: Vec<KeyKindSpec>,
        #[serde(default)]
        full_name_kinds: Vec<String>,
        keys: indexmap_free::OrderedMap,
    }

    let raw: RawKeyList = serde_saphyr::from_str(yaml).map_err(|error| error.to_string())?;
    Ok(KeyList {
        kinds: raw.kinds,
        full_name_kinds: raw.full_name_kinds,
        keys: raw.keys.0,
    })
}

/// A YAML mapping read into a vector, so the kinds keep the order they were
/// written in, which decides their order in the combined scan.
mod indexmap_free {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    pub(crate) struct OrderedMap(pub(crate) Vec<(String, Vec<String>)>);

    impl<'de> Deserialize<'de> for OrderedMap {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct OrderedVisitor;

            impl<'de> Visitor<'de> for OrderedVisitor {
                type Value = OrderedMap;

                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a mapping from kind names to lists of field names")
                }

                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(entry) = map.next_entry::<String, Vec<String>>()? {
                        entries.push(entry);
                    }
                    Ok(OrderedMap(entries))
                }
            }

            deserializer.deserialize_map(OrderedVisitor)
        }
    }
}

/// Normalizes a field name for matching: ASCII lower case, `-` as `_`.
pub(crate) fn normalize_key(key: &str) -> String {
    let bytes = key.bytes().map(normalize_byte).collect();
    String::from_utf8(bytes).expect("ASCII changes keep UTF-8 valid")
}

fn normalize_byte(byte: u8) -> u8 {
    match byte {
        b'-' => b'_',
        other => other.to_ascii_lowercase(),
    }
}

/// The compiled table of sensitive field names.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    /// Normalized key to kind.
    kinds_by_key: HashMap<String, KindId>,
    /// The maximum number of dotted segments in a key, so lookups try only
    /// suffixes that could match.
    max_segments: usize,
}

impl KeyTable {
    pub(crate) fn insert(&mut self, key: &str, kind: KindId) {
        let key = normalize_key(key);
        self.max_segments = self.max_segments.max(key.split('.').count());
        self.kinds_by_key.insert(key, kind);
    }

    /// Returns the kind of a field, matching a listed key against the
    /// field's whole dotted name or against its last segments.
    pub(crate) fn kind_of(&self, field: &str) -> Option<KindId> {
        if self.kinds_by_key.is_empty() {
            return None;
        }

        // Called for every attribute of every record, so short names are
        // normalized on the stack.
        let mut buffer = [0u8; 128];
        let owned;
        let field = if field.len() <= buffer.len() {
            let normalized = &mut buffer[..field.len()];
            for (out, byte) in normalized.iter_mut().zip(field.bytes()) {
                *out = normalize_byte(byte);
            }
            // Only ASCII bytes were changed, so the bytes are still UTF-8.
            std::str::from_utf8(normalized).expect("ASCII changes keep UTF-8 valid")
        } else {
            owned = normalize_key(field);
            owned.as_str()
        };

        // Try the longest dotted suffix first, so `http.request.header.cookie`
        // wins over a shorter key that is its last segment.
        let mut start = 0;
        loop {
            let suffix = &field[start..];
            let short_enough =
                suffix.bytes().filter(|&byte| byte == b'.').count() < self.max_segments;
            if short_enough && let Some(&kind) = self.kinds_by_key.get(suffix) {
                return Some(kind);
            }
            start += suffix.find('.')? + 1;
        }
    }

    /// Returns `(kind, pattern)` pairs, one per kind: each pattern finds a
    /// listed key followed by `=` or, when the key is quoted, by `:`, and
    /// captures the value in group 1 (double-quoted), 2 (single-quoted) or 3
    /// (bare).
    pub(crate) fn text_patterns(&self) -> Vec<(KindId, String)> {
        let mut keys_by_kind: Vec<(KindId, Vec<&str>)> = Vec::new();
        for (key, &kind) in &self.kinds_by_key {
            match keys_by_kind
                .iter_mut()
                .find(|(existing, _)| *existing == kind)
            {
                Some((_, keys)) => keys.push(key),
                None => keys_by_kind.push((kind, vec![key])),
            }
        }
        keys_by_kind.sort_by_key(|(kind, _)| kind.index());

        keys_by_kind
            .into_iter()
            .map(|(kind, mut keys)| {
                // Longer keys first, so `email_address` is not cut to `email`.
                keys.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
                let alternatives: Vec<String> = keys.iter().map(|key| key_pattern(key)).collect();
                let pattern = format!(
                    r#"(?i)\b(?:{})(?:=|["']\s*[:=]\s*)(?:"((?:[^"\\]|\\.)+)"|'([^']+)'|([^\s"',;&)}}\]]+))"#,
                    alternatives.join("|")
                );
                (kind, pattern)
            })
            .collect()
    }
}

/// Returns `key` as a regex: literal, with `.` escaped and `_` also
/// matching `-`. The caller adds the word boundary in front.
fn key_pattern(key: &str) -> String {
    let mut pattern = String::new();
    for character in key.chars() {
        match character {
            '_' => pattern.push_str("[_-]"),
            '.' => pattern.push_str(r"\."),
            other => pattern.push(other),
        }
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> KeyTable {
        let mut table = KeyTable::default();
        table.insert("email", KindId(0));
        table.insert("http.request.header.cookie", KindId(1));
        table.insert("cookie", KindId(2));
        table.insert("enduser.id", KindId(3));
        table
    }

    #[test]
    fn key_matches_last_segment() {
        let table = table();
        assert_eq!(table.kind_of("email"), Some(KindId(0)));
        assert_eq!(table.kind_of("customer.contact.email"), Some(KindId(0)));
        assert_eq!(table.kind_of("E-Mail"), None, "e-mail normalizes to e_mail");
        assert_eq!(table.kind_of("EMAIL"), Some(KindId(0)));
    }

    #[test]
    fn longest_dotted_key_wins() {
        let table = table();
        assert_eq!(table.kind_of("http.request.header.cookie"), Some(KindId(1)));
        assert_eq!(table.kind_of("request.cookie"), Some(KindId(2)));
    }

    #[test]
    fn dotted_key_needs_whole_segments() {
        let table = table();
        assert_eq!(table.kind_of("enduser.id"), Some(KindId(3)));
        assert_eq!(table.kind_of("app.enduser.id"), Some(KindId(3)));
        assert_eq!(table.kind_of("id"), None);
        assert_eq!(table.kind_of("xenduser.id"), None);
        assert_eq!(table.kind_of("emails"), None);
    }

    #[test]
    fn builtin_key_list_parses() {
        let list = parse(BUILTIN_KEYS).unwrap();
        assert!(list.keys.iter().any(|(kind, _)| kind == "EMAIL"));
        assert!(list.kinds.iter().any(|kind| kind.name == "SECRET"));
    }

    #[test]
    fn builtin_keys_name_builtin_kinds() {
        let engine = crate::detect::Engine::builtin(&Default::default()).unwrap();
        let list = parse(BUILTIN_KEYS).unwrap();
        for (kind, keys) in &list.keys {
            assert!(
                engine.kind_names().any(|(_, name)| name == kind),
                "keys.yaml names the unknown kind {kind}"
            );
            for key in keys {
                assert!(
                    engine.sensitive_key_kind(key).is_some(),
                    "{key} is not matched"
                );
            }
        }
    }

    #[test]
    fn text_pattern_shape() {
        let mut table = KeyTable::default();
        table.insert("user_email", KindId(4));
        let patterns = table.text_patterns();
        assert_eq!(patterns.len(), 1);
        assert!(
            patterns[0].1.contains(r"user[_-]email"),
            "{}",
            patterns[0].1
        );
    }
}
