//! The detector pack format: kinds, regex rules and their options, as read
//! from YAML. This module only parses; it compiles nothing.

use serde::Deserialize;

use super::normalize::Normalizer;
use super::validate::Validator;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pack {
    pub(crate) kinds: Vec<KindSpec>,
    #[serde(default)]
    pub(crate) rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KindSpec {
    pub(crate) name: String,
    pub(crate) normalize: Normalizer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) pattern: String,
    /// Capture group indexes, tried in order; the first that took part in
    /// the match is the value. Empty means the whole match is the value.
    #[serde(default)]
    pub(crate) groups: Vec<usize>,
    #[serde(default)]
    pub(crate) validator: Option<Validator>,
    #[serde(default)]
    pub(crate) not_preceded_by: Vec<String>,
    /// Words (ASCII case insensitive) of which one must come shortly before
    /// the value on the same line; empty means no context is needed.
    #[serde(default)]
    pub(crate) context_before: Vec<String>,
    /// Bytes before the value searched for `context_before` words.
    #[serde(default)]
    pub(crate) context_window: Option<usize>,
}

/// Parses a pack, returning the parser's message (which carries the line and
/// column) on failure.
pub(crate) fn parse(yaml: &str) -> Result<Pack, String> {
    serde_saphyr::from_str(yaml).map_err(|error| error.to_string())
}

/// Returns the 1-based line of the first `id: <rule_id>` entry, so errors can
/// point into the pack file.
pub(crate) fn rule_line(yaml: &str, rule_id: &str) -> Option<usize> {
    yaml.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ").trim_start();
            match line.strip_prefix("id:") {
                Some(rest) => rest.trim().trim_matches(['"', '\'']) == rule_id,
                None => false,
            }
        })
        .map(|index| index + 1)
}
