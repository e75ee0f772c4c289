//! Allow lists: values and patterns that are never redacted, such as a
//! shared service address or a no-reply mailbox that every log line names.
//!
//! The allow list is consulted only for values a detector already found, so
//! an empty list costs nothing and a long one costs a hash lookup per hit,
//! plus one regex set search per hit when patterns are configured.

use std::collections::HashSet;

use regex::RegexSet;

/// Values and patterns never to redact.
#[derive(Debug, Default)]
pub(crate) struct AllowList {
    /// Values as written, and ASCII-lower-cased, so `NoReply@Example.com`
    /// is allowed by `noreply@example.com`.
    values: HashSet<String>,
    /// Patterns searched in each found value. An unanchored pattern allows
    /// any value it matches a part of, so configurations anchor with `^...$`.
    patterns: Option<RegexSet>,
}

impl AllowList {
    pub(crate) fn new(values: &[String], patterns: &[String]) -> Result<AllowList, regex::Error> {
        let values = values
            .iter()
            .flat_map(|value| [value.clone(), value.to_ascii_lowercase()])
            .collect();
        let patterns = match patterns.is_empty() {
            true => None,
            false => Some(RegexSet::new(patterns)?),
        };
        Ok(AllowList { values, patterns })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty() && self.patterns.is_none()
    }

    /// Reports whether `value` is allowed to pass unredacted.
    pub(crate) fn allows(&self, value: &str) -> bool {
        if self.values.contains(value) {
            return true;
        }
        if value.bytes().any(|byte| byte.is_ascii_uppercase())
            && self.values.contains(&value.to_ascii_lowercase())
        {
            return true;
        }
        self.patterns
            .as_ref()
            .is_some_and(|patterns| patterns.is_match(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_allowed_ignoring_case() {
        let allow = AllowList::new(&["noreply@example.com".to_string()], &[]).unwrap();
        assert!(allow.allows("noreply@example.com"));
        assert!(allow.allows("NoReply@Example.com"));
        assert!(!allow.allows("reply@example.com"));
    }

    #[test]
    fn pattern_allows_whole_value() {
        let allow = AllowList::new(&[], &[r"^10\.0\.0\.\d+$".to_string()]).unwrap();
        assert!(allow.allows("10.0.0.7"));
        assert!(!allow.allows("10.0.1.7"));
    }

    #[test]
    fn empty_list_allows_nothing() {
        let allow = AllowList::new(&[], &[]).unwrap();
        assert!(allow.is_empty());
        assert!(!allow.allows("127.0.0.1"));
    }

    #[test]
    fn bad_pattern_rejected() {
        assert!(AllowList::new(&[], &["(".to_string()]).is_err());
    }
}
