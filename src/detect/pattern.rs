//! Regex detectors: one combined scan over all rule patterns, then each
//! candidate is confirmed by its own rule (capture group, context, validator)
//! on the candidate span only.
//!
//! The combined regex uses leftmost-first semantics, so a candidate is the
//! earliest position where any rule matches, and at one position the rule
//! listed first in the pack wins. When that rule rejects its candidate, every
//! other rule gets an anchored try at the same position before the scan moves
//! one character on. Confirmed hits never overlap because the scan resumes at
//! the end of the last value.

use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::util::syntax;
use std::cell::RefCell;

use regex_automata::{Anchored, Input, MatchKind, PatternSet, meta};

use super::context::ContextBefore;
use super::validate::Validator;
use super::{Hit, KindId};

/// Maximum capture groups per rule pattern, so slot buffers can live on the
/// stack.
pub(crate) const MAX_GROUPS: usize = 15;
const MAX_SLOTS: usize = 2 * (MAX_GROUPS + 1);

/// The combined regex runs without literal prefilters: the literals the
/// rules share (`-`, `.`, `:`, digits) occur on nearly every log line, and
/// with them regex-automata 0.4 picks strategies that ran at less than half
/// the speed of the plain lazy DFA on the loghub samples.
///
/// Lazy DFA cache per thread for the combined regex. Larger than the
/// regex-automata default (2 MiB) because the union of all rules has many
/// states, and a cache that fills up makes the meta regex fall back to a
/// much slower engine.
const COMBINED_CACHE_BYTES: usize = 8 << 20;

pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) kind: KindId,
    pub(crate) regex: meta::Regex,
    pub(crate) groups: Vec<usize>,
    pub(crate) validator: Option<Validator>,
    pub(crate) not_preceded_by: Vec<Vec<u8>>,
    pub(crate) context_before: Option<ContextBefore>,
    /// Whether the rule finds the value of a sensitive key in text; see
    /// [`Hit::from_key`].
    pub(crate) from_key: bool,
}

pub(crate) struct PatternScanner {
    combined: meta::Regex,
    /// The same patterns with `MatchKind::All`, asked only after a rejected
    /// candidate: one anchored overlapping search reports every rule that
    /// matches at that position, so only those rules are confirmed.
    starting_here: meta::Regex,
    rules: Vec<Rule>,
}

thread_local! {
    /// Scratch set for `starting_here`, kept per thread so that a rejected
    /// candidate does not allocate.
    static MATCHING_RULES: RefCell<PatternSet> = RefCell::new(PatternSet::new(0));
}

/// Syntax shared by all patterns: ASCII classes and ASCII `\b` keep every
/// rule inside the lazy DFA, and byte mode lets classes like `[^\s"]` match
/// any non-ASCII byte.
fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

pub(crate) fn compile_rule(pattern: &str) -> Result<meta::Regex, Box<meta::BuildError>> {
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(false);
    meta::Regex::builder()
        .syntax(syntax_config())
        .configure(config)
        .build(pattern)
        .map_err(Box::new)
}

impl PatternScanner {
    pub(crate) fn new(
        rules: Vec<Rule>,
        patterns: &[&str],
    ) -> Result<PatternScanner, Box<meta::BuildError>> {
        let config = meta::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .utf8_empty(false)
            .which_captures(regex_automata::nfa::thompson::WhichCaptures::Implicit)
            .hybrid_cache_capacity(COMBINED_CACHE_BYTES)
            .auto_prefilter(false);
        let combined = meta::Regex::builder()
            .syntax(syntax_config())
            .configure(config)
            .build_many(patterns)
            .map_err(Box::new)?;
        let starting_here = meta::Regex::builder()
            .syntax(syntax_config())
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::All)
                    .utf8_empty(false)
                    .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
                    .hybrid_cache_capacity(COMBINED_CACHE_BYTES)
                    .auto_prefilter(false),
            )
            .build_many(patterns)
            .map_err(Box::new)?;
        Ok(PatternScanner {
            combined,
            starting_here,
            rules,
        })
    }

    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Appends confirmed hits in `text` to `hits`, in order. `lead` is the
    /// text before `text` in its record, read only by context words.
    pub(crate) fn find(&self, lead: &str, text: &str, hits: &mut Vec<Hit>) {
        let haystack = text.as_bytes();
        let mut at = 0;
        while at < haystack.len() {
            let input = Input::new(haystack).span(at..haystack.len());
            let Some(candidate) = self.combined.find(input) else {
                break;
            };
            let start = candidate.start();
            let first = candidate.pattern().as_usize();

            let mut confirmed = self.confirm(first, lead, text, start, Some(candidate.end()));
            if confirmed.is_none() {
                confirmed = self.confirm_others_at(first, lead, text, start);
            }

            match confirmed {
                Some(hit) => {
                    at = hit.end;
                    hits.push(hit);
                }
                None => at = next_char_boundary(text, start),
            }
        }
    }

    /// Confirms, in pack order, the rules other than `rejected` that match
    /// at `start`.
    fn confirm_others_at(
        &self,
        rejected: usize,
        lead: &str,
        text: &str,
        start: usize,
    ) -> Option<Hit> {
        let input = Input::new(text.as_bytes())
            .span(start..text.len())
            .anchored(Anchored::Yes);
        MATCHING_RULES.with(|cell| {
            let mut matching = cell.borrow_mut();
            if matching.capacity() != self.rules.len() {
                *matching = PatternSet::new(self.rules.len());
            }
            matching.clear();
            self.starting_here
                .which_overlapping_matches(&input, &mut matching);
            matching
                .iter()
                .map(|pattern| pattern.as_usize())
                .filter(|&index| index != rejected)
                .find_map(|index| self.confirm(index, lead, text, start, None))
        })
    }

    /// Runs rule `index` anchored at `start` and applies its group, context
    /// and validator, returning the value as a hit. `match_end` is the end
    /// the combined scan already found for this rule, if it did.
    fn confirm(
        &self,
        index: usize,
        lead: &str,
        text: &str,
        start: usize,
        match_end: Option<usize>,
    ) -> Option<Hit> {
        let rule = &self.rules[index];
        let haystack = text.as_bytes();

        // Most candidates of a context rule (any 9-digit number) lack the
        // context. A value that is the whole match starts at `start`, so the
        // context can be checked before the re-search and the validator.
        if let Some(context) = &rule.context_before
            && rule.groups.is_empty()
            && !context.is_met(lead.as_bytes(), haystack, start)
        {
            return None;
        }

        let mut value = match match_end {
            Some(end) if rule.groups.is_empty() => (start, end),
            _ => Self::search_value(rule, haystack, start)?,
        };

        if let Some(validator) = rule.validator {
            value = validator.check(text, value.0, value.1)?;
        }
        let (value_start, value_end) = value;
        if value_start >= value_end
            || !text.is_char_boundary(value_start)
            || !text.is_char_boundary(value_end)
        {
            return None;
        }
        if let Some(context) = &rule.context_before
            && !context.is_met(lead.as_bytes(), haystack, value_start)
        {
            return None;
        }
        if rule
            .not_preceded_by
            .iter()
            .any(|prefix| ends_with_ignore_case(&haystack[..value_start], prefix))
        {
            return None;
        }
        // A value that contains a token is redacted output, perhaps with a
        // second token glued on or a stray byte before it (`+EMAIL_k1_…`).
        // Tokenizing it again would break idempotence.
        if contains_token(&text[value_start..value_end]) {
            return None;
        }
        Some(Hit {
            start: value_start,
            end: value_end,
            kind: rule.kind,
            from_key: rule.from_key,
        })
    }
}

impl PatternScanner {
    /// Runs one rule anchored at `start` and returns the span of its value:
    /// the first listed capture group that took part, or the whole match.
    fn search_value(rule: &Rule, haystack: &[u8], start: usize) -> Option<(usize, usize)> {
        let input = Input::new(haystack)
            .span(start..haystack.len())
            .anchored(Anchored::Yes);
        let slot_len = rule.regex.group_info().slot_len();
        let mut slots: [Option<NonMaxUsize>; MAX_SLOTS] = [None; MAX_SLOTS];
        let slots = &mut slots[..slot_len];
        rule.regex.search_slots(&input, slots)?;

        if rule.groups.is_empty() {
            return Some((slots[0]?.get(), slots[1]?.get()));
        }
        rule.groups.iter().find_map(|&group| {
            let value_start = slots.get(2 * group).copied().flatten()?;
            let value_end = slots.get(2 * group + 1).copied().flatten()?;
            Some((value_start.get(), value_end.get()))
        })
    }
}

/// Reports whether a rendered token starts at the beginning of `value` or
/// right after a byte that cannot be part of a word.
fn contains_token(value: &str) -> bool {
    let bytes = value.as_bytes();
    (0..bytes.len()).any(|at| {
        let word_start =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        word_start
            && bytes[at].is_ascii_uppercase()
            && crate::token::token_prefix_len(&value[at..]).is_some()
    })
}

fn ends_with_ignore_case(haystack: &[u8], suffix: &[u8]) -> bool {
    haystack.len() >= suffix.len()
        && haystack[haystack.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn next_char_boundary(text: &str, index: usize) -> usize {
    let mut next = index + 1;
    while next < text.len() && !text.is_char_boundary(next) {
        next += 1;
    }
    next
}
