//! Context words for rules whose values look like any other number: a rule
//! with `context_before` confirms a candidate only when one of its words
//! ends shortly before the value, on the same line, as in `bsn=…`,
//! `"routing": "…"` or `Aadhaar No: …`. The check runs only on candidates
//! that the rule's pattern and validator have already accepted.
//!
//! A value scanned apart from its record (a JSON string, an OTLP attribute
//! value) comes with a lead: the text that stands before it in the record,
//! such as the JSON document up to the value or the attribute's key. The
//! window reaches back into the lead as if the two were one line joined by
//! a space, so `"nhs": "401 023 2137"` and the attribute `nhs` count as
//! context. A value that is not at the start of its text never reads the
//! lead past a newline in the text.

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
    /// number between it and the value. When the window reaches past the
    /// start of `haystack`, it goes on into the end of `lead`.
    pub(crate) fn is_met(&self, lead: &[u8], haystack: &[u8], value_start: usize) -> bool {
        let before = &haystack[..value_start];
        let reaches_lead = before.len() + 1 < self.window
            && !lead.is_empty()
            && memchr::memchr(b'\n', before).is_none();
        if !reaches_lead {
            return self.is_met_in(haystack, value_start);
        }

        // Copy the end of the lead, a space, the text before the value and
        // the value's first byte into one buffer, so that words and their
        // boundaries are read the same way as in one text. One lead byte
        // more than the window is copied for the check of a word's start.
        let lead_wanted = self.window - before.len() - 1;
        let lead_tail = &lead[lead.len().saturating_sub(lead_wanted + 1)..];
        let value_byte = &haystack[value_start..haystack.len().min(value_start + 1)];
        let mut joined = [0u8; MAX_WINDOW + 2];
        let mut len = 0;
        for part in [lead_tail, b" ", before, value_byte] {
            joined[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        self.is_met_in(&joined[..len], len - value_byte.len())
    }

    fn is_met_in(&self, haystack: &[u8], value_start: usize) -> bool {
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
        context.is_met(b"", text.as_bytes(), value_start)
    }

    /// Checks a value that starts at the last `123` of `text`, which
    /// stands after `lead`.
    fn met_after(context: &ContextBefore, lead: &str, text: &str) -> bool {
        let value_start = text.rfind("123").unwrap();
        context.is_met(lead.as_bytes(), text.as_bytes(), value_start)
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
    fn context_in_lead_met() {
        let bsn = context(&["bsn"]);
        assert!(met_after(&bsn, "{\"bsn\": \"", "123"));
        assert!(met_after(&bsn, "customer.bsn", "123"));
        assert!(met_after(&bsn, "bsn", "nr 123"));
        assert!(met_after(&bsn, "{\"type\":\"bsn\",\"number\":\"", "123"));
    }

    #[test]
    fn context_in_lead_not_met() {
        let bsn = context(&["bsn"]);
        assert!(!met_after(&bsn, "basin", "123"), "word inside a word");
        assert!(!met_after(&bsn, "bsn", "id\n123"), "newline in the text");
        assert!(
            !met_after(&bsn, "bsn\n", "123"),
            "newline at the lead's end"
        );
        assert!(
            !met_after(&bsn, "bsn=999888777 id=", "123"),
            "number between"
        );
        let far = format!("bsn {}", "x".repeat(DEFAULT_WINDOW));
        assert!(!met_after(&bsn, &far, "123"), "outside the window");
        let text = format!("{} 123", "x".repeat(DEFAULT_WINDOW));
        assert!(!met_after(&bsn, "bsn", &text), "text fills the window");
    }

    #[test]
    fn context_lead_cut_inside_word_not_met() {
        // The window starts at `bsn`, but the byte before it is a letter.
        let bsn = context(&["bsn"]);
        let lead = format!("xbsn{}", " ".repeat(DEFAULT_WINDOW - 4));
        assert!(!met_after(&bsn, &lead, "123"));
        let lead = format!(" bsn{}", " ".repeat(DEFAULT_WINDOW - 4));
        assert!(met_after(&bsn, &lead, "123"));
    }

    #[test]
    fn context_rejects_bad_settings() {
        assert!(ContextBefore::new(&[String::new()], DEFAULT_WINDOW).is_err());
        assert!(ContextBefore::new(&["sin".to_string()], 0).is_err());
        assert!(ContextBefore::new(&["sin".to_string()], 100_000).is_err());
    }
}
