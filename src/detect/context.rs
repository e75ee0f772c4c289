//! Context words for rules whose values look like any other number: a rule
//! with `context_before` confirms a candidate only when one of its words
//! ends shortly before the value, on the same line, as in `bsn=…`,
//! `"routing": "…"` or `Aadhaar No: …`. The check runs only on candidates
//! that the rule's pattern and validator have already accepted.

/// Default number of bytes before a value searched for a context word.
pub(crate) const DEFAULT_WINDOW: usize = 32;

/// Largest window a pack may set, which keeps the check cheap.
pub(crate) const MAX_WINDOW: usize = 256;

/// A run of this many digits between the word and the value is another
/// number, so the word belongs to that number instead.
const INTERVENING_NUMBER_DIGITS: usize = 3;

pub(crate) struct ContextBefore {
    /// Words in ASCII lower case.
    words: Vec<Vec<u8>>,
    /// Whether a byte, in ASCII lower case, starts one of the words, so the
    /// scan compares words only where one could start.
    starts_word: [bool; 256],
    window: usize,
}

impl ContextBefore {
    /// Builds the check, or returns a message naming what is invalid.
    pub(crate) fn new(words: &[String], window: usize) -> Result<ContextBefore, String> {
        if !(1..=MAX_WINDOW).contains(&window) {
            return Err(format!(
                "context_window {window} is out of range; use 1 to {MAX_WINDOW}"
            ));
        }
        if let Some(word) = words
            .iter()
            .find(|word| word.is_empty() || word.len() > window)
        {
            return Err(format!(
                "context word {word:?} must be 1 to {window} bytes long (the context window)"
            ));
        }
        let words: Vec<Vec<u8>> = words
            .iter()
            .map(|word| word.to_ascii_lowercase().into_bytes())
            .collect();
        let mut starts_word = [false; 256];
        for word in &words {
            starts_word[usize::from(word[0])] = true;
        }
        Ok(ContextBefore {
            words,
            starts_word,
            window,
        })
    }

    /// Reports whether a context word lies within the window before
    /// `value_start`, on the same line, as a whole word, with no other
    /// number between it and the value.
    pub(crate) fn is_met(&self, haystack: &[u8], value_start: usize) -> bool {
        let window_start = value_start.saturating_sub(self.window);
        let line_start = match memchr::memrchr(b'\n', &haystack[window_start..value_start]) {
            Some(newline) => window_start + newline + 1,
            None => window_start,
        };
        let region = &haystack[line_start..value_start];
        for (offset, &byte) in region.iter().enumerate() {
            if !self.starts_word[usize::from(byte.to_ascii_lowercase())] {
                continue;
            }
            let rest = &region[offset..];
            for word in &self.words {
                let Some(text) = rest.get(..word.len()) else {
                    continue;
                };
                let word_start = line_start + offset;
                let word_end = word_start + word.len();
                if text.eq_ignore_ascii_case(word)
                    && is_whole_word(haystack, word_start, word_end)
                    && !has_number(&haystack[word_end..value_start])
                {
                    return true;
                }
            }
        }
        false
    }
}

/// Reports whether `haystack[start..end]` is a word of its own: no ASCII
/// letter directly before or after it, except at a camelCase edge. So
/// `customerBsn` and `bsnNumber` count, but `processing` does not contain
/// `sin`. Digits, `_`, `-` and punctuation all end a word.
fn is_whole_word(haystack: &[u8], start: usize, end: usize) -> bool {
    let starts_word = match start.checked_sub(1).map(|index| haystack[index]) {
        Some(before) if before.is_ascii_alphabetic() => {
            before.is_ascii_lowercase() && haystack[start].is_ascii_uppercase()
        }
        _ => true,
    };
    let ends_word = match haystack.get(end) {
        Some(after) if after.is_ascii_alphabetic() => {
            haystack[end - 1].is_ascii_lowercase() && after.is_ascii_uppercase()
        }
        _ => true,
    };
    starts_word && ends_word
}

fn has_number(gap: &[u8]) -> bool {
    let mut run = 0;
    for byte in gap {
        if byte.is_ascii_digit() {
            run += 1;
            if run == INTERVENING_NUMBER_DIGITS {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{ContextBefore, DEFAULT_WINDOW};

    fn context(words: &[&str]) -> ContextBefore {
        let words: Vec<String> = words.iter().map(|word| word.to_string()).collect();
        ContextBefore::new(&words, DEFAULT_WINDOW).unwrap()
    }

    /// Checks a value that starts at the last `123` of `text`.
    fn met(context: &ContextBefore, text: &str) -> bool {
        let value_start = text.rfind("123").unwrap();
        context.is_met(text.as_bytes(), value_start)
    }

    #[test]
    fn context_key_forms_met() {
        let bsn = context(&["bsn", "burgerservicenummer"]);
        let texts = [
            "bsn=123",
            "BSN: 123",
            "{\"bsn\": \"123",
            "customer_bsn=123",
            "customerBsn=123",
            "bsnNumber=123",
            "Burgerservicenummer van klant: 123",
            "bsn-nr 123",
        ];
        for text in texts {
            assert!(met(&bsn, text), "expected context in {text:?}");
        }
    }

    #[test]
    fn context_word_inside_word_not_met() {
        let sin = context(&["sin"]);
        let texts = ["processing 123", "SINGLE 123", "basin=123", "cousin 123"];
        for text in texts {
            assert!(!met(&sin, text), "expected no context in {text:?}");
        }
    }

    #[test]
    fn context_outside_window_not_met() {
        let sin = context(&["sin"]);
        let far = format!("sin {} 123", "x".repeat(DEFAULT_WINDOW));
        assert!(!met(&sin, &far));
        assert!(!met(&sin, "sin\n123"));
    }

    #[test]
    fn context_other_number_between_not_met() {
        let sin = context(&["sin"]);
        assert!(!met(&sin, "sin=999888777 id=123"));
        assert!(met(&sin, "sin #2: 123"));
    }

    #[test]
    fn context_rejects_bad_settings() {
        assert!(ContextBefore::new(&[String::new()], DEFAULT_WINDOW).is_err());
        assert!(ContextBefore::new(&["sin".to_string()], 0).is_err());
        assert!(ContextBefore::new(&["sin".to_string()], 100_000).is_err());
    }
}
