//! Dictionary detectors: terms from word lists, found with one Aho-Corasick
//! automaton for all lists, ASCII case insensitively and on word boundaries.
//!
//! A word boundary here means the bytes on both sides of a term are not ASCII
//! letters, digits or `_`, and not part of a non-ASCII character, so `Ann`
//! is not found inside `Anne`, `Ann_x` or `Annß`.

use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

use super::{BuildError, Hit, KindId};

pub(crate) struct DictionaryScanner {
    automaton: AhoCorasick,
    /// The kind of each term, indexed by the automaton's pattern id.
    kinds: Vec<KindId>,
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
        // The contiguous NFA keeps a 100,000-term list in a few tens of MB;
        // a full DFA over that many terms would take far more memory.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&self.terms)
            .map_err(|source| BuildError::Dictionary {
                message: source.to_string(),
            })?;
        Ok(Some(DictionaryScanner {
            automaton,
            kinds: self.kinds,
        }))
    }
}

impl DictionaryScanner {
    /// Appends hits for terms found on word boundaries in `text`, in order.
    pub(crate) fn find(&self, text: &str, hits: &mut Vec<Hit>) {
        let haystack = text.as_bytes();
        let mut at = 0;
        while at < haystack.len() {
            let input = Input::new(haystack).span(at..haystack.len());
            let Some(found) = self.automaton.find(input) else {
                break;
            };
            let (start, end) = (found.start(), found.end());
            if is_word_edge(haystack, start) && is_word_edge(haystack, end) {
                let kind = self.kinds[found.pattern().as_usize()];
                hits.push(Hit { start, end, kind });
                at = end;
            } else {
                // A shorter or later term may still sit on a boundary here.
                at = start + 1;
            }
        }
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
