//! Redacts the literals of a SQL statement (`db.query.text` in OTLP spans)
//! and keeps its shape: every string and number literal becomes a token,
//! and the text between literals (keywords, identifiers, comments) goes
//! through the detectors like any other text.
//!
//! The scanner recognizes only what it needs to find literal boundaries:
//! single-quoted strings (with `''` and backslash escapes), numbers that
//! do not continue an identifier, and the comment forms `--` and `/* */`,
//! whose quotes do not open a string. It never parses the statement.
//! NOTE: dollar-quoted PostgreSQL strings (`$$...$$`) are not recognized as
//! literals, so their content is only redacted where a detector finds
//! something. An unterminated string runs to the end of the text and is
//! replaced whole, which errs toward hiding more.

use std::ops::Range;

use super::Redactor;

/// A literal found by [`find_literals`]: the byte range of its value, not
/// including the quotes of a string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    value: Range<usize>,
}

impl Redactor {
    /// Redacts a SQL statement, returning `None` when nothing changed.
    pub(crate) fn redact_sql(&self, statement: &str) -> Option<String> {
        let literals = find_literals(statement);
        if literals.is_empty() {
            let redacted = self.redact_text("", statement);
            return match redacted {
                std::borrow::Cow::Borrowed(_) => None,
                std::borrow::Cow::Owned(text) => Some(text),
            };
        }

        let mut out = String::with_capacity(statement.len() + literals.len() * 32);
        let mut copied = 0;
        for literal in &literals {
            out.push_str(&self.redact_text("", &statement[copied..literal.value.start]));
            self.push_literal_token(&statement[literal.value.clone()], &mut out);
            copied = literal.value.end;
        }
        out.push_str(&self.redact_text("", &statement[copied..]));
        Some(out)
    }

    fn push_literal_token(&self, value: &str, out: &mut String) {
        if value.is_empty() || self.keeps_whole_value(value) {
            out.push_str(value);
            return;
        }
        match self.sql_literal_kind {
            Some(kind) => self.push_whole_value_token(kind, value, out),
            // Without the kind, the detectors still get to see the value.
            None => out.push_str(&self.redact_text("", value)),
        }
    }
}

/// Finds the string and number literals of `statement`, in order.
fn find_literals(statement: &str) -> Vec<Literal> {
    let bytes = statement.as_bytes();
    let mut literals = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\'' => {
                let end = string_end(bytes, index + 1);
                literals.push(Literal {
                    value: index + 1..end,
                });
                // Step over the closing quote, if there is one.
                index = (end + 1).min(bytes.len());
            }
            b'-' if bytes.get(index + 1) == Some(&b'-') => {
                index = memchr::memchr(b'\n', &bytes[index..]).map_or(bytes.len(), |at| index + at);
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index = memchr::memmem::find(&bytes[index + 2..], b"*/")
                    .map_or(bytes.len(), |at| index + 2 + at + 2);
            }
            // A quoted identifier: its digits are not numbers.
            b'"' | b'`' => {
                let quote = bytes[index];
                index = memchr::memchr(quote, &bytes[index + 1..])
                    .map_or(bytes.len(), |at| index + 1 + at + 1);
            }
            b'0'..=b'9' if !continues_word(bytes, index) => {
                let end = number_end(bytes, index);
                literals.push(Literal { value: index..end });
                index = end;
            }
            _ => index += 1,
        }
    }
    literals
}

/// Returns the offset of the quote that closes a string whose content
/// starts at `start`, or the length of `bytes` when it is unterminated.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut index = start;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'\'' if bytes.get(index + 1) == Some(&b'\'') => index += 2,
            b'\'' => return index,
            _ => index += 1,
        }
    }
    bytes.len()
}

/// Reports whether the digit at `index` belongs to a word that started
/// before it (`table1`, `$1`, `x2y`), and so is no number literal.
fn continues_word(bytes: &[u8], index: usize) -> bool {
    index > 0 && {
        let before = bytes[index - 1];
        before.is_ascii_alphanumeric() || matches!(before, b'_' | b'$' | b'@' | b':' | b'.')
    }
}

/// Returns the end of a number starting at `start`: digits, one decimal
/// point, an exponent, or a hexadecimal `0x` form.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut index = start;
    if bytes[start] == b'0' && matches!(bytes.get(start + 1), Some(b'x' | b'X')) {
        index += 2;
        while index < bytes.len() && bytes[index].is_ascii_hexdigit() {
            index += 1;
        }
        return index;
    }
    while index < bytes.len() && (bytes[index].is_ascii_digit() || bytes[index] == b'.') {
        index += 1;
    }
    if matches!(bytes.get(index), Some(b'e' | b'E'))
        && bytes
            .get(index + 1)
            .is_some_and(|next| next.is_ascii_digit() || matches!(next, b'+' | b'-'))
    {
        index += 2;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal_values(statement: &str) -> Vec<&str> {
        find_literals(statement)
            .into_iter()
            .map(|literal| &statement[literal.value])
            .collect()
    }

    #[test]
    fn strings_and_numbers_found() {
        let statement = "SELECT * FROM users WHERE email = 'a@b.example' AND age > 42 LIMIT 10";
        assert_eq!(literal_values(statement), ["a@b.example", "42", "10"]);
    }

    #[test]
    fn escaped_quotes_stay_inside() {
        assert_eq!(literal_values("x = 'it''s'"), ["it''s"]);
        assert_eq!(literal_values(r"x = 'it\'s' AND y = 1"), [r"it\'s", "1"]);
    }

    #[test]
    fn identifiers_and_placeholders_skipped() {
        let statement = r#"SELECT t1.c2, "col3" FROM table4 WHERE a = $1 AND b = :p2 AND c = ?"#;
        assert!(
            literal_values(statement).is_empty(),
            "{:?}",
            literal_values(statement)
        );
    }

    #[test]
    fn comments_do_not_open_strings() {
        let statement = "SELECT 1 -- it's a comment\nFROM t /* don't */ WHERE x = 'v'";
        assert_eq!(literal_values(statement), ["1", "v"]);
    }

    #[test]
    fn number_forms() {
        assert_eq!(
            literal_values("VALUES (3.25, 1e10, 0x1F, 7E-3)"),
            ["3.25", "1e10", "0x1F", "7E-3"]
        );
    }

    #[test]
    fn unterminated_string_runs_to_end() {
        assert_eq!(literal_values("x = 'open and 5"), ["open and 5"]);
    }

    #[test]
    fn multibyte_text_kept_on_char_boundaries() {
        assert_eq!(literal_values("x = 'zoë' AND é = 2"), ["zoë", "2"]);
    }
}
