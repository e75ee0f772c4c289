//! Dictionary detectors: terms from word lists, found with one Aho-Corasick
//! automaton for all lists, ASCII case insensitively and on word boundaries.
//!
//! A word boundary here means the bytes on both sides of a term are not ASCII
//! letters, digits or `_`, and not part of a non-ASCII character, so `Ann`
//! is not found inside `Anne`, `Ann_x` or `Annß`.
//!
//! The automaton runs anchored, only at positions where a term may start (a
//! word start whose byte begins some term), because an unanchored scan over
//! a 100,000-term automaton follows failure links on every byte and ran at
//! about a third of the speed on the loghub samples. The scanner walks the
//! automaton's states itself: most word starts leave the trie after one or
//! two bytes, and a full `AhoCorasick::find` call per word start cost more
//! than that walk.

use std::path::Path;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};

use super::{BuildError, Hit, KindId};

pub(crate) struct DictionaryScanner {
    automaton: NFA,
    /// The automaton's anchored start state.
    start: StateID,
    /// The kind of each term, indexed by the automaton's pattern id.
    kinds: Vec<KindId>,
    /// Bytes that some term starts with, in both ASCII cases.
    first_bytes: [bool; 256],
}

/// Word lists collected before the automaton is built.
#[derive(Default)]
pub(crate) struct DictionaryBuilder {
    terms: Vec<String>,
    kinds: Vec<KindId>,
}

impl DictionaryBuilder {
    /// Reads one word list: one term a line, surrounding whitespace trimmed;
    /// blank lines and lines starting with `#` are skipped.
    pub(crate) fn add_file(&mut self, path: &Path, kind: KindId) -> Result<(), BuildError> {
        let text = std::fs::read_to_string(path).map_err(|source| BuildError::DictionaryRead {
            path: path.to_path_buf(),
            source,
        })?;
        for line in text.lines() {
            let term = line.trim();
            if term.is_empty() || term.starts_with('#') {
                continue;
            }
            self.terms.push(term.to_owned());
            self.kinds.push(kind);
        }
        Ok(())
    }

    pub(crate) fn build(self) -> Result<Option<DictionaryScanner>, BuildError> {
        if self.terms.is_empty() {
            return Ok(None);
        }
        // NOTE: the contiguous NFA memory for 100,000 terms is not measured
        // here; a full DFA over that many terms would take far more.
        let automaton = NFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .prefilter(false)
            .build(&self.terms)
            .map_err(|source| BuildError::Dictionary {
                message: source.to_string(),
            })?;
        let start =
            automaton
                .start_state(Anchored::Yes)
                .map_err(|source| BuildError::Dictionary {
                    message: source.to_string(),
                })?;

        let mut first_bytes = [false; 256];
        for term in &self.terms {
            let first = term.as_bytes()[0];
            first_bytes[usize::from(first.to_ascii_lowercase())] = true;
            first_bytes[usize::from(first.to_ascii_uppercase())] = true;
        }
        Ok(Some(DictionaryScanner {
            automaton,
            start,
            kinds: self.kinds,
            first_bytes,
        }))
    }
}

impl DictionaryScanner {
    /// Appends hits for terms found on word boundaries in `text`, in order.
    ///
    /// NOTE: at each start only the longest term is tried, so when it ends
    /// inside a word a shorter term at the same start is missed (terms
    /// `ann` and `ann le` in the text `ann lee`).
    pub(crate) fn find(&self, text: &str, hits: &mut Vec<Hit>) {
        let haystack = text.as_bytes();
        let mut at = 0;
        while at < haystack.len() {
            let byte = haystack[at];
            let word_start = !is_word_byte(byte) || at == 0 || !is_word_byte(haystack[at - 1]);
            if word_start
                && self.first_bytes[usize::from(byte)]
                && let Some((pattern, end)) = self.longest_term_at(haystack, at)
                && is_word_edge(haystack, end)
            {
                hits.push(Hit {
                    start: at,
                    end,
                    kind: self.kinds[pattern],
                    from_key: false,
                });
                at = end;
                continue;
            }

            // Skip the rest of a word, since no term starts inside one.
            at += 1;
            if is_word_byte(byte) {
                while at < haystack.len() && is_word_byte(haystack[at]) {
                    at += 1;
                }
            }
        }
    }
}

impl DictionaryScanner {
    /// Returns the pattern index and end of the longest term that starts at
    /// `start`, walking the automaton until it dies or the text ends.
    fn longest_term_at(&self, haystack: &[u8], start: usize) -> Option<(usize, usize)> {
        let automaton = &self.automaton;
        let mut state = self.start;
        let mut longest = None;
        for (offset, &byte) in haystack[start..].iter().enumerate() {
            state = automaton.next_state(Anchored::Yes, state, byte);
            if !automaton.is_special(state) {
                continue;
            }
            if automaton.is_dead(state) {
                break;
            }
            if automaton.is_match(state) {
                let end = start + offset + 1;
                let pattern = automaton.match_pattern(state, 0);
                // Match states also carry terms that end here but start later
                // (copied along failure links); only those starting at
                // `start` count in an anchored walk.
                if end - automaton.pattern_len(pattern) == start {
                    longest = Some((pattern.as_usize(), end));
                }
            }
        }
        longest
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// Reports whether offset `index` does not split a word, that is, whether at
/// most one of the bytes around it is a word byte.
fn is_word_edge(haystack: &[u8], index: usize) -> bool {
    let before = index.checked_sub(1).map(|i| haystack[i]);
    let after = haystack.get(index).copied();
    !(before.is_some_and(is_word_byte) && after.is_some_and(is_word_byte))
}
