//! The detection engine: finds personal data in a string and reports byte
//! spans with their kind. It never changes text and never renders tokens;
//! that is the job of `redact` and `token`.
//!
//! Detectors come from a pack (YAML, see `detectors/builtin.yaml`) plus word
//! lists. All regex rules run as one combined scan, and all word lists as one
//! Aho-Corasick automaton, so a string costs two passes however many
//! detectors there are. Validators run only on candidates.
//!
//! # Overlaps
//!
//! Regex hits never overlap each other: the earliest candidate wins, and at
//! one position the rule listed first in the pack wins. Dictionary hits never
//! overlap each other either (leftmost-longest). Where a regex hit and a
//! dictionary hit overlap, the longer one is kept; on equal length the one
//! that starts first is kept, and on the same span the regex hit.
//!
//! # Tokens
//!
//! A value that already is a rendered token (see `token`) is never reported,
//! so redacting redacted text changes nothing.
//!
//! # Allocation
//!
//! [`Engine::find`] allocates nothing when a string holds no personal data,
//! beyond growing the caller's `Vec` and the per-thread caches that the regex
//! engine creates on first use in a thread.

mod allow;
mod context;
mod dictionary;
mod keys;
mod normalize;
mod pack;
mod pattern;
mod validate;
mod whole_value;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::PathBuf;

use allow::AllowList;
use dictionary::{DictionaryBuilder, DictionaryScanner};
use keys::KeyTable;
use normalize::Normalizer;
use pattern::{PatternScanner, Rule};

/// The built-in pack, compiled into the binary.
const BUILTIN_PACK: &str = include_str!("../../detectors/builtin.yaml");
const BUILTIN_PACK_NAME: &str = "detectors/builtin.yaml";
const BUILTIN_KEYS_NAME: &str = "detectors/keys.yaml";
const CUSTOM_PACK_NAME: &str = "detector pack";
/// The kind that name checks report and `full_name_kinds` turn into.
const PERSON_NAME: &str = "PERSON_NAME";

/// Identifies a kind of personal data (`EMAIL`, `IPV4`, …) within one engine.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct KindId(u16);

impl KindId {
    fn index(self) -> usize {
        usize::from(self.0)
    }

    /// Makes a kind id without an engine, for tests of code that only
    /// passes kinds along.
    #[cfg(test)]
    pub(crate) fn for_tests(index: u16) -> KindId {
        KindId(index)
    }
}

/// One detected value: a byte span of the input and its kind. Hits from
/// [`Engine::find`] are sorted by `start` and never overlap.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub kind: KindId,
    /// Whether a key rule (`key=value` text for a key of
    /// `detectors/keys.yaml`) found the hit, which is then classified like
    /// that key's value in JSON before [`Engine::find`] returns it.
    pub(crate) from_key: bool,
}

/// Options that change the pack at startup.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Kind names whose rules and word lists are left out.
    pub disabled_kinds: Vec<String>,
    /// Word lists to match as dictionary terms.
    pub dictionaries: Vec<DictionarySpec>,
    /// Field names whose whole value is tokenized, added to the built-in
    /// list in `detectors/keys.yaml`.
    pub sensitive_keys: Vec<SensitiveKeySpec>,
    /// Values never to redact, matched as found or ignoring ASCII case.
    pub allow_values: Vec<String>,
    /// Regex patterns (the `regex` crate's syntax); a found value that one
    /// of them matches is not redacted.
    pub allow_patterns: Vec<String>,
}

/// A field name whose whole value is personal data of `kind`. A kind not in
/// the pack is added, with values tokenized as found.
#[derive(Clone, Debug)]
pub struct SensitiveKeySpec {
    pub key: String,
    pub kind: String,
}

/// A word list file (UTF-8, one term a line, `#` starts a comment line) and
/// the kind its terms are reported as. A kind not in the pack is added, with
/// ASCII lower-case normalization.
#[derive(Clone, Debug)]
pub struct DictionarySpec {
    pub kind: String,
    pub path: PathBuf,
}

/// An error building an [`Engine`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid {pack}: {message}")]
    Pack { pack: &'static str, message: String },

    #[error(
        "{pack}, line {line}: rule {rule:?} uses kind {kind:?}, which the pack's kinds list does not define"
    )]
    UnknownRuleKind {
        pack: &'static str,
        line: usize,
        rule: String,
        kind: String,
    },

    #[error("{pack}, line {line}: rule {rule:?} has an invalid pattern: {source}")]
    Pattern {
        pack: &'static str,
        line: usize,
        rule: String,
        #[source]
        source: Box<regex_automata::meta::BuildError>,
    },

    #[error(
        "{pack}, line {line}: rule {rule:?} names capture group {group}, but its pattern has {available} groups"
    )]
    Group {
        pack: &'static str,
        line: usize,
        rule: String,
        group: usize,
        available: usize,
    },

    #[error("{pack}, line {line}: rule {rule:?} has invalid context settings: {message}")]
    Context {
        pack: &'static str,
        line: usize,
        rule: String,
        message: String,
    },

    #[error("{pack}: kind {kind:?} is defined twice")]
    DuplicateKind { pack: &'static str, kind: String },

    #[error("{pack}: rule id {rule:?} is used twice")]
    DuplicateRule { pack: &'static str, rule: String },

    #[error(
        "invalid kind name {kind:?}: use upper-case ASCII letters, digits and `_`, starting with a letter"
    )]
    KindName { kind: String },

    #[error("disabled kind {kind:?} is not defined; known kinds: {known}")]
    UnknownDisabledKind { kind: String, known: String },

    #[error("failed to read word list {path}")]
    DictionaryRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to build the dictionary automaton: {message}")]
    Dictionary { message: String },

    #[error("combined pattern scan failed to build: {source}")]
    Combined {
        #[source]
        source: Box<regex_automata::meta::BuildError>,
    },

    #[error("invalid allow pattern: {source}")]
    AllowPattern { source: regex::Error },

    #[error("too many kinds: at most {max} are supported")]
    TooManyKinds { max: usize },
}

struct KindInfo {
    name: String,
    normalizer: Normalizer,
}

/// The compiled detectors. Immutable after it is built, and shared across
/// threads by reference.
pub struct Engine {
    kinds: Vec<KindInfo>,
    patterns: Option<PatternScanner>,
    dictionary: Option<DictionaryScanner>,
    keys: KeyTable,
    /// Kinds of sensitive keys whose values shaped like a personal name
    /// are reported as `person_name` (`full_name_kinds` in keys.yaml).
    full_name_kinds: Vec<KindId>,
    person_name: Option<KindId>,
    allow: AllowList,
    /// Kinds of a credential after `Bearer ` and `Basic ` in a sensitive
    /// field; `None` when the pack lacks the kind or it is disabled.
    bearer_kind: Option<KindId>,
    basic_auth_kind: Option<KindId>,
    /// The one detected kind that a credential after a scheme keeps over
    /// the scheme's kind.
    jwt_kind: Option<KindId>,
}

impl Engine {
    /// Builds the engine from the built-in pack.
    pub fn builtin(options: &EngineOptions) -> Result<Engine, BuildError> {
        Engine::build(BUILTIN_PACK, BUILTIN_PACK_NAME, options)
    }

    /// Builds the engine from a pack in the format of
    /// `detectors/builtin.yaml`.
    pub fn from_pack_yaml(yaml: &str, options: &EngineOptions) -> Result<Engine, BuildError> {
        Engine::build(yaml, CUSTOM_PACK_NAME, options)
    }

    fn build(
        yaml: &str,
        pack_name: &'static str,
        options: &EngineOptions,
    ) -> Result<Engine, BuildError> {
        let pack = pack::parse(yaml).map_err(|message| BuildError::Pack {
            pack: pack_name,
            message,
        })?;

        let mut kinds: Vec<KindInfo> = Vec::new();
        for spec in pack.kinds {
            check_kind_name(&spec.name)?;
            if kinds.iter().any(|kind| kind.name == spec.name) {
                return Err(BuildError::DuplicateKind {
                    pack: pack_name,
                    kind: spec.name,
                });
            }
            kinds.push(KindInfo {
                name: spec.name,
                normalizer: spec.normalize,
            });
        }
        for dictionary in &options.dictionaries {
            check_kind_name(&dictionary.kind)?;
            if !kinds.iter().any(|kind| kind.name == dictionary.kind) {
                kinds.push(KindInfo {
                    name: dictionary.kind.clone(),
                    normalizer: Normalizer::Lowercase,
                });
            }
        }
        let key_list = keys::parse(keys::BUILTIN_KEYS).map_err(|message| BuildError::Pack {
            pack: BUILTIN_KEYS_NAME,
            message,
        })?;
        for spec in &key_list.kinds {
            check_kind_name(&spec.name)?;
            if !kinds.iter().any(|kind| kind.name == spec.name) {
                kinds.push(KindInfo {
                    name: spec.name.clone(),
                    normalizer: spec.normalize,
                });
            }
        }
        for spec in &options.sensitive_keys {
            check_kind_name(&spec.kind)?;
            if !kinds.iter().any(|kind| kind.name == spec.kind) {
                kinds.push(KindInfo {
                    name: spec.kind.clone(),
                    normalizer: Normalizer::None,
                });
            }
        }
        if kinds.len() > usize::from(u16::MAX) {
            return Err(BuildError::TooManyKinds {
                max: usize::from(u16::MAX),
            });
        }
        for disabled in &options.disabled_kinds {
            if !kinds.iter().any(|kind| &kind.name == disabled) {
                let known = kinds
                    .iter()
                    .map(|kind| kind.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(BuildError::UnknownDisabledKind {
                    kind: disabled.clone(),
                    known,
                });
            }
        }
        let kind_id = |name: &str| {
            kinds
                .iter()
                .position(|kind| kind.name == name)
                .map(|index| KindId(index as u16))
        };
        let is_disabled = |name: &str| {
            options
                .disabled_kinds
                .iter()
                .any(|disabled| disabled == name)
        };

        let mut rules = Vec::new();
        let mut patterns = Vec::new();
        for spec in &pack.rules {
            let line = pack::rule_line(yaml, &spec.id).unwrap_or(0);
            if pack
                .rules
                .iter()
                .filter(|other| other.id == spec.id)
                .count()
                > 1
            {
                return Err(BuildError::DuplicateRule {
                    pack: pack_name,
                    rule: spec.id.clone(),
                });
            }
            let Some(kind) = kind_id(&spec.kind) else {
                return Err(BuildError::UnknownRuleKind {
                    pack: pack_name,
                    line,
                    rule: spec.id.clone(),
                    kind: spec.kind.clone(),
                });
            };
            let regex =
                pattern::compile_rule(&spec.pattern).map_err(|source| BuildError::Pattern {
                    pack: pack_name,
                    line,
                    rule: spec.id.clone(),
                    source,
                })?;
            let available = regex
                .group_info()
                .group_len(regex_automata::PatternID::ZERO)
                - 1;
            if let Some(&group) = spec
                .groups
                .iter()
                .find(|&&group| group == 0 || group > available)
            {
                return Err(BuildError::Group {
                    pack: pack_name,
                    line,
                    rule: spec.id.clone(),
                    group,
                    available,
                });
            }
            if available > pattern::MAX_GROUPS {
                return Err(BuildError::Group {
                    pack: pack_name,
                    line,
                    rule: spec.id.clone(),
                    group: available,
                    available: pattern::MAX_GROUPS,
                });
            }
            let context_before = build_context(spec).map_err(|message| BuildError::Context {
                pack: pack_name,
                line,
                rule: spec.id.clone(),
                message,
            })?;
            if is_disabled(&spec.kind) {
                continue;
            }
            rules.push(Rule {
                id: spec.id.clone(),
                kind,
                regex,
                groups: spec.groups.clone(),
                validator: spec.validator,
                not_preceded_by: spec
                    .not_preceded_by
                    .iter()
                    .map(|text| text.as_bytes().to_vec())
                    .collect(),
                context_before,
                from_key: false,
            });
            patterns.push(spec.pattern.as_str());
        }
        let mut keys = KeyTable::default();
        let listed_keys = key_list
            .keys
            .iter()
            .flat_map(|(kind, keys)| keys.iter().map(move |key| (kind.as_str(), key.as_str())));
        let configured_keys = options
            .sensitive_keys
            .iter()
            .map(|spec| (spec.kind.as_str(), spec.key.as_str()));
        // A custom pack may leave out kinds the built-in key list names; such
        // keys are skipped. Configured keys always have a kind, added above.
        for (kind_name, key) in listed_keys.chain(configured_keys) {
            let Some(kind) = kind_id(kind_name) else {
                continue;
            };
            if !is_disabled(kind_name) {
                keys.insert(key, kind);
            }
        }
        let person_name = kind_id(PERSON_NAME).filter(|_| !is_disabled(PERSON_NAME));
        let full_name_kinds = match person_name {
            Some(_) => key_list
                .full_name_kinds
                .iter()
                .filter_map(|name| kind_id(name))
                .collect(),
            None => Vec::new(),
        };

        let key_patterns = keys.text_patterns();
        for (kind, pattern) in &key_patterns {
            let id = format!("keyed-{}", kinds[kind.index()].name.to_ascii_lowercase());
            // A bare name value stops at the first space, so the name check
            // takes in the name words after it.
            let validator = match Some(*kind) == person_name {
                true => validate::Validator::PersonNameField,
                false => validate::Validator::Secret,
            };
            let regex = pattern::compile_rule(pattern).map_err(|source| BuildError::Pattern {
                pack: BUILTIN_KEYS_NAME,
                line: 0,
                rule: id.clone(),
                source,
            })?;
            rules.push(Rule {
                id,
                kind: *kind,
                regex,
                groups: vec![1, 2, 3],
                validator: Some(validator),
                not_preceded_by: Vec::new(),
                context_before: None,
                from_key: true,
            });
            patterns.push(pattern.as_str());
        }

        let patterns = match rules.is_empty() {
            true => None,
            false => Some(
                PatternScanner::new(rules, &patterns)
                    .map_err(|source| BuildError::Combined { source })?,
            ),
        };

        let mut dictionary = DictionaryBuilder::default();
        for spec in &options.dictionaries {
            if is_disabled(&spec.kind) {
                continue;
            }
            let kind = kind_id(&spec.kind).expect("dictionary kinds were added above");
            dictionary.add_file(&spec.path, kind)?;
        }
        let dictionary = dictionary.build()?;

        let allow = AllowList::new(&options.allow_values, &options.allow_patterns)
            .map_err(|source| BuildError::AllowPattern { source })?;

        let enabled_kind = |name: &str| kind_id(name).filter(|_| !is_disabled(name));
        let bearer_kind = enabled_kind("BEARER_TOKEN");
        let basic_auth_kind = enabled_kind("BASIC_AUTH");
        let jwt_kind = enabled_kind("JWT");

        Ok(Engine {
            kinds,
            patterns,
            dictionary,
            keys,
            full_name_kinds,
            person_name,
            allow,
            bearer_kind,
            basic_auth_kind,
            jwt_kind,
        })
    }

    /// Finds personal data in `text`, replacing the contents of `hits` with
    /// the hits sorted by start offset, without overlaps.
    pub fn find(&self, text: &str, hits: &mut Vec<Hit>) {
        self.find_after("", text, hits);
    }

    /// Finds personal data in `text` like [`Engine::find`], for a value
    /// taken out of a record: `lead` is the text before it there, such as a JSON document up to the value or an attribute's
    /// key. Only context words (`context_before` in the pack) read the lead,
    /// as if it and `text` were one line joined by a space, so
    /// `"routing_number": "021000021"` counts as a keyed routing number.
    /// Hits are offsets into `text`.
    pub fn find_after(&self, lead: &str, text: &str, hits: &mut Vec<Hit>) {
        hits.clear();
        if let Some(patterns) = &self.patterns {
            patterns.find(lead, text, hits);
            if hits.iter().any(|hit| hit.from_key) {
                self.classify_key_hits(text, hits);
            }
        }
        if let Some(dictionary) = &self.dictionary {
            let regex_hits = hits.len();
            dictionary.find(text, hits);
            if regex_hits > 0 && hits.len() > regex_hits {
                resolve_overlaps(hits);
            }
        }
        if !self.allow.is_empty() && !hits.is_empty() {
            hits.retain(|hit| !self.allow.allows(&text[hit.start..hit.end]));
        }
    }

    /// Reports whether the allow list lets `value` pass unredacted.
    pub fn is_allowed(&self, value: &str) -> bool {
        !self.allow.is_empty() && self.allow.allows(value)
    }

    /// Returns the name of a kind, such as `EMAIL`.
    ///
    /// # Panics
    ///
    /// Panics if `kind` comes from another engine with more kinds.
    pub fn kind_name(&self, kind: KindId) -> &str {
        &self.kinds[kind.index()].name
    }

    /// Returns every kind with its name, in pack order, dictionary-only kinds
    /// last. Disabled kinds are listed too.
    pub fn kind_names(&self) -> impl Iterator<Item = (KindId, &str)> {
        self.kinds
            .iter()
            .enumerate()
            .map(|(index, kind)| (KindId(index as u16), kind.name.as_str()))
    }

    /// Returns the position of `kind` in [`Engine::kind_names`].
    pub(crate) fn kind_index(&self, kind: KindId) -> usize {
        kind.index()
    }

    /// Returns the rule ids of the regex rules in use, in pack order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.patterns
            .iter()
            .flat_map(|patterns| patterns.rules().iter().map(|rule| rule.id.as_str()))
    }

    /// Normalizes a found value so that spellings of one identity are equal:
    /// e-mail lower case, cards digits only, phones `+` and digits, IBAN
    /// upper case without spaces, IP addresses as `std::net` renders them,
    /// personal names in lower case with single spaces.
    pub fn normalize<'a>(&self, kind: KindId, value: &'a str) -> Cow<'a, str> {
        self.kinds[kind.index()].normalizer.apply(value)
    }

    /// Returns the kind of a field whose whole value is personal data, such
    /// as `user.email` or `password`, or `None` for an ordinary field.
    /// Matching ignores ASCII case and treats `-` like `_`; a listed key
    /// matches the field's whole dotted name or its last segments.
    pub fn sensitive_key_kind(&self, field: &str) -> Option<KindId> {
        self.keys.kind_of(field)
    }

    /// Returns the kind to report the whole value of a sensitive field of
    /// `kind` as: PERSON_NAME when `kind` is one of `full_name_kinds` in
    /// `detectors/keys.yaml` and the value is shaped like a personal name
    /// (`"user": {"name": "Ana Lima"}`), otherwise `kind`.
    pub fn key_value_kind(&self, kind: KindId, value: &str) -> KindId {
        match self.person_name {
            Some(person_name)
                if self.full_name_kinds.contains(&kind) && validate::is_full_name(value) =>
            {
                person_name
            }
            _ => kind,
        }
    }
}

/// Builds a rule's context check; `None` when the rule lists no words.
fn build_context(spec: &pack::RuleSpec) -> Result<Option<context::ContextBefore>, String> {
    if spec.context_before.is_empty() {
        return match spec.context_window {
            Some(_) => Err("context_window is set but context_before lists no words".to_owned()),
            None => Ok(None),
        };
    }
    let window = spec.context_window.unwrap_or(context::DEFAULT_WINDOW);
    context::ContextBefore::new(&spec.context_before, window).map(Some)
}

fn check_kind_name(name: &str) -> Result<(), BuildError> {
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_uppercase())
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.ends_with('_');
    if valid {
        Ok(())
    } else {
        Err(BuildError::KindName {
            kind: name.to_owned(),
        })
    }
}

/// Merges regex hits with the dictionary hits appended after them, keeping
/// the longer of two overlapping hits. On equal length the earlier hit is
/// kept, and on the same span the regex hit.
fn resolve_overlaps(hits: &mut Vec<Hit>) {
    // The stable sort keeps a regex hit before a dictionary hit of the same
    // span. It may allocate, but only on strings that have hits.
    hits.sort_by_key(|hit| (hit.start, std::cmp::Reverse(hit.end)));

    let mut kept = 0;
    for index in 0..hits.len() {
        let hit = hits[index];
        if kept == 0 || hits[kept - 1].end <= hit.start {
            hits[kept] = hit;
            kept += 1;
            continue;
        }
        let last = hits[kept - 1];
        if hit.end - hit.start > last.end - last.start {
            hits[kept - 1] = hit;
        }
    }
    hits.truncate(kept);
}
