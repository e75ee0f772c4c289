//! Dictionary detectors: terms from word lists, found with one Aho-Corasick
//! automaton for all lists, ASCII case insensitively and on word boundaries.
//!
//! A word boundary here means the bytes on both sides of a term are not ASCII
//! letters, digits or `_`, and not part of a non-ASCII character, so `Ann`
//! is not found inside `Anne`, `Ann_x` or `Annß`.
//!
//! The scan goes word by word. A term that starts with a word byte can only
//! match where the text's whole word equals the term's leading word, its
//! bytes up to the first non-word byte. So each word is first looked up in a
//! filter of those leading words: a table of first bytes, a mask of word
//! lengths and a one-hash Bloom filter. Only a word that passes the filter
//! runs the automaton, anchored at the word's start. Log words rarely pass,
//! so the cost per word stays a hash and one probe of a bit table, however
//! many terms the lists contain. A walk through a 100,000-term automaton at
//! every word start would miss the CPU caches on most steps. Terms that
//! start with a non-word byte (`@ops`) are tried at every such byte.
//!
//! The scanner walks the automaton's states itself: most walks leave the
//! trie after a few bytes, and a full `AhoCorasick::find` call per candidate
//! cost more than that walk.

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
    /// Non-word bytes that some term starts with.
    symbol_first_bytes: [bool; 256],
    has_symbol_first_terms: bool,
    /// The leading words of the terms that start with a word byte.
    leading_words: LeadingWordFilter,
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

        let mut symbol_first_bytes = [false; 256];
        let mut leading_words = LeadingWordFilter::with_capacity(self.terms.len());
        for term in &self.terms {
            let term = term.as_bytes();
            if is_word_byte(term[0]) {
                leading_words.insert(term, 0, word_end(term, 0));
            } else {
                symbol_first_bytes[usize::from(term[0])] = true;
            }
        }
        Ok(Some(DictionaryScanner {
            automaton,
            start,
            kinds: self.kinds,
            has_symbol_first_terms: symbol_first_bytes.contains(&true),
            symbol_first_bytes,
            leading_words,
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
        match self.has_symbol_first_terms {
            true => self.find_at_every_edge(text.as_bytes(), hits),
            false => self.find_at_word_starts(text.as_bytes(), hits),
        }
    }

    /// Tries word starts only, found 64 bytes at a time from a bit mask of
    /// the word bytes, which costs no branch per byte.
    fn find_at_word_starts(&self, haystack: &[u8], hits: &mut Vec<Hit>) {
        let mut resume = 0;
        for (index, chunk) in haystack.chunks(64).enumerate() {
            let chunk_start = index * 64;
            let words = word_byte_mask(chunk);
            let word_before = chunk_start > 0 && is_word_byte(haystack[chunk_start - 1]);
            let mut starts = words & !((words << 1) | u64::from(word_before));

            while starts != 0 {
                let offset = starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let start = chunk_start + offset;
                if start < resume {
                    continue;
                }
                // Bits past a short last chunk are clear, so a word that
                // reaches the end of the text ends there.
                let end = match (!words) >> offset {
                    0 => word_end(haystack, start),
                    rest => start + rest.trailing_zeros() as usize,
                };
                if self.leading_words.may_contain(haystack, start, end)
                    && let Some(end) = self.push_term_at(haystack, start, hits)
                {
                    resume = end;
                }
            }
        }
    }

    /// Tries every non-word byte and every word start, for lists with terms
    /// that start with a non-word byte.
    fn find_at_every_edge(&self, haystack: &[u8], hits: &mut Vec<Hit>) {
        // Each turn starts on a non-word byte or on the first byte of a
        // word, and a hit ends on a word edge, which keeps that true.
        let mut at = 0;
        while at < haystack.len() {
            let byte = haystack[at];
            let (next, candidate) = match is_word_byte(byte) {
                true => {
                    let end = word_end(haystack, at);
                    (end, self.leading_words.may_contain(haystack, at, end))
                }
                false => (at + 1, self.symbol_first_bytes[usize::from(byte)]),
            };
            at = match candidate {
                true => self.push_term_at(haystack, at, hits).unwrap_or(next),
                false => next,
            };
        }
    }

    /// Pushes a hit for the longest term at `start` if it ends on a word
    /// edge, and returns its end.
    fn push_term_at(&self, haystack: &[u8], start: usize, hits: &mut Vec<Hit>) -> Option<usize> {
        let (pattern, end) = self.longest_term_at(haystack, start)?;
        if !is_word_edge(haystack, end) {
            return None;
        }
        hits.push(Hit {
            start,
            end,
            kind: self.kinds[pattern],
            from_key: false,
        });
        Some(end)
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
    WORD_BYTES[usize::from(byte)]
}

/// ASCII letters, digits, `_` and every byte of a non-ASCII character.
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let value = byte as u8;
        table[byte] = value.is_ascii_alphanumeric() || value == b'_' || value >= 0x80;
        byte += 1;
    }
    table
};

/// Returns a mask with bit `i` set when `chunk[i]` is a word byte, for a
/// chunk of at most 64 bytes.
fn word_byte_mask(chunk: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut block = [0; 64];
        let full: &[u8; 64] = match chunk.try_into() {
            Ok(full) => full,
            Err(_) => {
                // Zero bytes are not word bytes, so the padding adds no bits.
                block[..chunk.len()].copy_from_slice(chunk);
                &block
            }
        };
        sse2::word_byte_mask(full)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut mask = 0;
        for (index, &byte) in chunk.iter().enumerate() {
            mask |= u64::from(is_word_byte(byte)) << index;
        }
        mask
    }
}

/// Word byte classification 16 bytes at a time. SSE2 is part of every
/// x86_64 CPU, so the intrinsics need no runtime check.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };

    pub(super) fn word_byte_mask(chunk: &[u8; 64]) -> u64 {
        let mut mask = 0;
        for (index, block) in chunk.chunks_exact(16).enumerate() {
            // SAFETY: `block` is 16 readable bytes, and the unaligned load
            // has no alignment requirement. SSE2 is always present on
            // x86_64.
            let bits = unsafe { block_mask(_mm_loadu_si128(block.as_ptr().cast())) };
            mask |= u64::from(bits) << (16 * index);
        }
        mask
    }

    /// Returns bit `i` set when byte `i` is an ASCII letter or digit, `_`, or
    /// 0x80 and above.
    ///
    /// The range checks shift each range to start at -128, so one signed
    /// comparison per range shows whether a byte falls inside it.
    unsafe fn block_mask(bytes: __m128i) -> u16 {
        // SAFETY: SSE2 intrinsics on values already in registers.
        unsafe {
            let digit = _mm_cmplt_epi8(
                _mm_add_epi8(bytes, _mm_set1_epi8(0x50)),
                _mm_set1_epi8(-128 + 10),
            );
            let lower = _mm_or_si128(bytes, _mm_set1_epi8(0x20));
            let letter = _mm_cmplt_epi8(
                _mm_add_epi8(lower, _mm_set1_epi8(0x1f)),
                _mm_set1_epi8(-128 + 26),
            );
            let underscore = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'_' as i8));
            let ascii_word = _mm_or_si128(_mm_or_si128(digit, letter), underscore);
            let non_ascii = bytes;
            (_mm_movemask_epi8(ascii_word) | _mm_movemask_epi8(non_ascii)) as u16
        }
    }
}

/// Returns the end of the run of word bytes that starts at `start`.
fn word_end(haystack: &[u8], start: usize) -> usize {
    haystack[start..]
        .iter()
        .position(|&byte| !is_word_byte(byte))
        .map_or(haystack.len(), |length| start + length)
}

/// Reports whether offset `index` does not split a word, that is, whether at
/// most one of the bytes around it is a word byte.
fn is_word_edge(haystack: &[u8], index: usize) -> bool {
    let before = index.checked_sub(1).map(|i| haystack[i]);
    let after = haystack.get(index).copied();
    !(before.is_some_and(is_word_byte) && after.is_some_and(is_word_byte))
}

/// A set of words with false positives but no false negatives: a lookup may
/// report a word it does not contain, never miss one it contains. Words
/// compare ASCII case insensitively.
struct LeadingWordFilter {
    /// First bytes of the words, in both ASCII cases.
    first_bytes: [bool; 256],
    /// Bit `n` is set when some word is `n` bytes long; bit 63 means 63
    /// bytes or more.
    lengths: u64,
    /// The Bloom filter's bits, indexed by the top `index_bits` bits of a
    /// word's hash.
    bits: Vec<u64>,
    index_bits: u32,
}

impl LeadingWordFilter {
    /// Sizes the bit table at 16 bits or more per word, so about one word in
    /// 16 that is not in the set gets through (fewer, since words repeat).
    fn with_capacity(words: usize) -> LeadingWordFilter {
        let index_bits = (words.max(1) * 16)
            .next_power_of_two()
            .trailing_zeros()
            .max(12);
        LeadingWordFilter {
            first_bytes: [false; 256],
            lengths: 0,
            bits: vec![0; 1 << (index_bits - 6)],
            index_bits,
        }
    }

    fn insert(&mut self, haystack: &[u8], start: usize, end: usize) {
        let first = haystack[start];
        self.first_bytes[usize::from(first.to_ascii_lowercase())] = true;
        self.first_bytes[usize::from(first.to_ascii_uppercase())] = true;
        self.lengths |= length_bit(end - start);
        let index = self.bit_index(haystack, start, end);
        self.bits[index / 64] |= 1 << (index % 64);
    }

    /// Reports whether the word `haystack[start..end]` may be in the set.
    fn may_contain(&self, haystack: &[u8], start: usize, end: usize) -> bool {
        if !self.first_bytes[usize::from(haystack[start])]
            || self.lengths & length_bit(end - start) == 0
        {
            return false;
        }
        let index = self.bit_index(haystack, start, end);
        self.bits[index / 64] & (1 << (index % 64)) != 0
    }

    fn bit_index(&self, haystack: &[u8], start: usize, end: usize) -> usize {
        (word_hash(haystack, start, end) >> (64 - self.index_bits)) as usize
    }
}

fn length_bit(length: usize) -> u64 {
    1 << length.min(63)
}

/// Hashes a word from its length and its first and last eight bytes, each
/// byte ORed with 0x20 so that ASCII upper and lower case hash alike. Other
/// bytes that differ only in that bit hash alike too, which lets more
/// words through the filter but never stops one that is in it.
fn word_hash(haystack: &[u8], start: usize, end: usize) -> u64 {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let length = end - start;
    let head = load_up_to_8(haystack, start, length.min(8)) | (FOLD >> (8 * (8 - length.min(8))));
    let tail = match length > 8 {
        true => load_up_to_8(haystack, end - 8, 8) | FOLD,
        false => 0,
    };

    // Multiply-xorshift mixing, so the top bits depend on every input bit.
    let mut hash = head.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ tail.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        ^ length as u64;
    hash ^= hash >> 32;
    hash = hash.wrapping_mul(0xd6e8_feb8_6659_fd93);
    hash ^ (hash >> 29)
}

/// Loads `length` (at most 8) bytes from `start` as a little-endian number,
/// the bytes past `length` zero.
fn load_up_to_8(haystack: &[u8], start: usize, length: usize) -> u64 {
    if let Some(chunk) = haystack.get(start..start + 8) {
        let value = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        return match length {
            8 => value,
            _ => value & ((1 << (8 * length)) - 1),
        };
    }
    let mut buffer = [0; 8];
    buffer[..length].copy_from_slice(&haystack[start..start + length]);
    u64::from_le_bytes(buffer)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    fn scanner(terms: &[String]) -> DictionaryScanner {
        let mut list = tempfile::NamedTempFile::new().expect("temporary word list");
        for term in terms {
            writeln!(list, "{term}").expect("writing the word list");
        }
        let mut builder = DictionaryBuilder::default();
        builder
            .add_file(list.path(), KindId(0))
            .expect("reading the word list");
        builder
            .build()
            .expect("building the automaton")
            .expect("the list is not empty")
    }

    fn spans(scanner: &DictionaryScanner, text: &str) -> Vec<(usize, usize)> {
        let mut hits = Vec::new();
        scanner.find(text, &mut hits);
        hits.iter().map(|hit| (hit.start, hit.end)).collect()
    }

    /// Scans without the filter: at each place a term may start, takes the
    /// longest term there when it ends on a word edge.
    fn reference_spans(terms: &[String], text: &str) -> Vec<(usize, usize)> {
        let haystack = text.as_bytes();
        let mut spans = Vec::new();
        let mut at = 0;
        while at < haystack.len() {
            let byte = haystack[at];
            let longest = terms
                .iter()
                .map(|term| term.as_bytes())
                .filter(|term| {
                    haystack.len() - at >= term.len()
                        && haystack[at..at + term.len()].eq_ignore_ascii_case(term)
                })
                .map(|term| at + term.len())
                .max();
            if let Some(end) = longest
                && is_word_edge(haystack, end)
            {
                spans.push((at, end));
                at = end;
                continue;
            }
            at = match is_word_byte(byte) {
                true => word_end(haystack, at),
                false => at + 1,
            };
        }
        spans
    }

    #[test]
    fn filter_passes_every_leading_word() {
        let terms: Vec<String> = [
            "Ann",
            "ann lee",
            "@ops-team",
            "Zoë",
            "averyveryverylongsurname",
            "o'brien",
            "x",
        ]
        .map(String::from)
        .to_vec();
        let scanner = scanner(&terms);
        let text = "ANN LEE met ann, @OPS-TEAM, zoë and AveryVeryVeryLongSurname; O'Brien x";

        let found: Vec<&str> = spans(&scanner, text)
            .into_iter()
            .map(|(start, end)| &text[start..end])
            .collect();

        assert_eq!(
            found,
            [
                "ANN LEE",
                "ann",
                "@OPS-TEAM",
                "zoë",
                "AveryVeryVeryLongSurname",
                "O'Brien",
                "x"
            ]
        );
    }

    #[test]
    fn filter_rejects_words_of_other_lengths() {
        let terms = vec!["Anna".to_string()];
        let scanner = scanner(&terms);

        assert!(spans(&scanner, "Ann Annas Annabel anna_ 4nna").is_empty());
    }

    #[test]
    fn words_across_64_byte_chunks() {
        let long_term = "b".repeat(70);
        let terms = vec![long_term.clone(), "ann lee".to_string()];
        let scanner = scanner(&terms);
        let text = format!(
            "{} Ann Lee {} {}x",
            "-".repeat(58),
            long_term.to_uppercase(),
            long_term
        );
        let ann = 59;
        let long = ann + "Ann Lee ".len();

        assert_eq!(spans(&scanner, &text), [(ann, ann + 7), (long, long + 70)]);
    }

    proptest! {
        #[test]
        fn scan_matches_unfiltered_reference(
            terms in prop::collection::vec("[abAB_é#' -]{1,12}", 1..20),
            text in "[abAB_é#' .-]{0,80}",
        ) {
            let terms: Vec<String> = terms
                .into_iter()
                .map(|term| term.trim().to_string())
                .filter(|term| !term.is_empty() && !term.starts_with('#'))
                .collect();
            prop_assume!(!terms.is_empty());
            let scanner = scanner(&terms);

            prop_assert_eq!(spans(&scanner, &text), reference_spans(&terms, &text));
        }
    }
}
