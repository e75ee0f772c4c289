//! Personal names. A name here is two to four capitalized words (`Ana
//! Lima`, `Maria Helena Ramos`, `Rolf-Peter O'Neill`), with lower-case
//! particles such as `van` or `de` between them (`Kevin van den Corput`)
//! and single-letter initials (`John F. Kennedy`). Words are Unicode: a
//! capitalized word starts with an upper-case letter and has a lower-case
//! one.
//!
//! Four checks use that shape:
//! - [`check_field`]: the value of a key that names a person (`full_name=`,
//!   `holder='…'`), whatever its shape. A bare value takes in the name
//!   words that follow it.
//! - [`check_name_key`]: the value after a bare `name=`, taken only when it
//!   is shaped like a name, because `name` is as often a service or a host.
//! - [`check_sql_column`]: a quoted value in an SQL name column.
//! - [`check_given_name`]: free text, where a known given name must start
//!   the words (`for Terry Simpson account …`).
//!
//! NOTE: the shape alone cannot tell `name=Apache Kafka` from a person, so
//! the `name=` and SQL `name` column checks take such values.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::char::decompose_canonical;

use super::{secret, sql};

/// Given names from the 1990 US Census, made by `scripts/given-names.py`.
const GIVEN_NAMES_FILE: &str = include_str!("../../../detectors/given_names.txt");

static GIVEN_NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    GIVEN_NAMES_FILE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Maximum bytes of a folded given name. The longest name in the list has
/// 11 letters.
const MAX_GIVEN_NAME_BYTES: usize = 16;

const MIN_NAME_WORDS: usize = 2;
const MAX_NAME_WORDS: usize = 4;

/// Lower-case words that join the parts of a name.
const PARTICLES: &[&str] = &[
    "van", "von", "de", "da", "di", "du", "do", "del", "della", "der", "den", "dos", "das", "la",
    "le", "ter", "ten", "bin", "ibn", "al", "el", "y",
];

/// Capitalized words that follow a given name in logs but are no surname:
/// calendar words (`Sun Dec 04`) and words of log messages (`Grace
/// Period`). Compared ASCII case insensitively.
const NOT_SURNAMES: &[&str] = &[
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "service",
    "server",
    "manager",
    "data",
    "center",
    "period",
    "error",
    "exception",
    "request",
    "response",
    "client",
    "handler",
    "controller",
    "factory",
    "thread",
    "pool",
    "queue",
    "cache",
    "store",
    "node",
    "cluster",
    "job",
    "task",
    "worker",
    "engine",
    "event",
    "message",
    "status",
    "update",
    "config",
    "api",
    "app",
    "web",
    "user",
    "account",
    "system",
    "process",
    "session",
    "version",
    "release",
    "build",
    "test",
];

/// Column names of SQL name columns, compared ASCII case insensitively.
/// `name` alone is left out because it is checked by shape.
const NAME_COLUMNS: &[&str] = &[
    "full_name",
    "fullname",
    "first_name",
    "firstname",
    "last_name",
    "lastname",
    "given_name",
    "family_name",
    "surname",
    "middle_name",
    "display_name",
    "holder",
    "holder_name",
    "card_holder",
    "cardholder",
    "cardholder_name",
    "account_holder",
    "account_holder_name",
    "customer_name",
    "contact_name",
    "person_name",
    "patient_name",
    "employee_name",
    "beneficiary_name",
];

/// Checks the value of a key that names a person. A quoted value is taken
/// whole, and a bare value is extended over the name words after it, so
/// `full_name=Ana Lima age=4` gives `Ana Lima`. Placeholders such as `null`
/// are rejected.
pub(super) fn check_field(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    secret::check_value(text.as_bytes(), start, end)?;
    if is_quoted(text, start) {
        // A doubled quote inside an SQL string (`'O''Brien'`) ended the
        // key rule's value early. The SQL column rule takes the whole value.
        return (!text[end..].starts_with("''")).then_some((start, end));
    }
    let run = read_run(text, start);
    Some((start, end.max(run.end)))
}

/// Checks the value after a bare `name` key (`name=`, `name = '…'`), which
/// is taken only when it is shaped like a name. A key with a prefix
/// (`service.name`, `pod-name`) is rejected, because such keys name
/// things.
pub(super) fn check_name_key(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if !key_before_is_bare(text.as_bytes(), start, b"name") {
        return None;
    }
    if is_quoted(text, start) {
        return is_full_name(&text[start..end]).then_some((start, end));
    }
    let run = read_run(text, start);
    let shaped = (MIN_NAME_WORDS..=MAX_NAME_WORDS).contains(&run.name_words);
    (shaped && ends_cleanly(text, run.end)).then_some((start, run.end))
}

/// Checks a quoted SQL value whose column is a name column: a column of
/// [`NAME_COLUMNS`], or `name` when the value is shaped like a name.
pub(super) fn check_sql_column(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let haystack = text.as_bytes();
    // The pack rule matches the opening quote right before `start`.
    let quote = start.checked_sub(1)?;
    let column =
        sql::insert_column(haystack, quote).or_else(|| sql::assigned_column(haystack, quote))?;
    if NAME_COLUMNS
        .iter()
        .any(|name| sql::column_is(column, name.as_bytes()))
    {
        return secret::check_value(haystack, start, end);
    }
    let shaped = sql::column_is(column, b"name") && is_full_name(&text[start..end]);
    shaped.then_some((start, end))
}

/// Checks a known given name followed by more name words in free text. The
/// candidate starts at the given name; the hit covers the whole name.
pub(super) fn check_given_name(text: &str, start: usize, _end: usize) -> Option<(usize, usize)> {
    if text[..start]
        .chars()
        .next_back()
        .is_some_and(continues_identifier)
    {
        return None;
    }
    let first_end = word_end(text, start);
    if !is_given_name(&text[start..first_end]) {
        return None;
    }

    let run = read_run(text, start);
    let shaped = (MIN_NAME_WORDS..=MAX_NAME_WORDS).contains(&run.name_words);
    if !shaped || !ends_cleanly(text, run.end) {
        return None;
    }
    let second = next_name_word(text, first_end)?;
    if NOT_SURNAMES
        .iter()
        .any(|word| word.eq_ignore_ascii_case(second))
    {
        return None;
    }
    Some((start, run.end))
}

/// Reports whether all of `value` is a name: two to four name words with
/// particles and spaces between them.
pub(crate) fn is_full_name(value: &str) -> bool {
    let run = read_run(value, 0);
    run.end == value.len() && (MIN_NAME_WORDS..=MAX_NAME_WORDS).contains(&run.name_words)
}

/// Returns the end of a full name that starts at `start` in text, two to
/// four name words that end cleanly, or `None`. It lets the unquoted value
/// of a key such as `user.name=John Smith` take in the surname that the key
/// rule, which stops at a space, left out.
pub(crate) fn full_name_end(text: &str, start: usize) -> Option<usize> {
    let run = read_run(text, start);
    let shaped = (MIN_NAME_WORDS..=MAX_NAME_WORDS).contains(&run.name_words);
    (shaped && ends_cleanly(text, run.end)).then_some(run.end)
}

/// Name words read from some position.
struct Run {
    /// The end of the last name word, or the start when there is none.
    end: usize,
    /// Name words read, at most `MAX_NAME_WORDS + 1`: more than the maximum
    /// means a run of capitalized words, such as a title.
    name_words: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WordClass {
    Name,
    Particle,
    Other,
}

/// Reads name words and particles separated by spaces from `start`,
/// which must start a name word. A word right before `=` is a key and ends
/// the run, and so do particles that no name word follows.
fn read_run(text: &str, start: usize) -> Run {
    let mut run = Run {
        end: start,
        name_words: 0,
    };
    let mut at = start;
    let mut particles = 0;
    loop {
        let end = word_end(text, at);
        let class = classify(text, at, end);
        match class {
            WordClass::Name => {
                run.name_words += 1;
                run.end = end;
                particles = 0;
            }
            WordClass::Particle if run.name_words > 0 && particles < 2 => particles += 1,
            _ => break,
        }
        let spaces = text[end..].len() - text[end..].trim_start_matches(' ').len();
        if run.name_words > MAX_NAME_WORDS || spaces == 0 {
            break;
        }
        at = end + spaces;
    }
    run
}

/// Returns the end of the word at `start`: letters, with `'`, `’`, `-` and
/// SQL's doubled `''` allowed between letters, and a `.` after a single
/// capital letter (an initial).
fn word_end(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut letters = 0;
    let mut chars = text[start..].char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c.is_alphabetic() {
            letters += 1;
            end = start + offset + c.len_utf8();
            continue;
        }
        let joins = matches!(c, '\'' | '’' | '-')
            && letters > 0
            && chars.peek().is_some_and(|&(_, next)| next.is_alphabetic());
        if joins {
            continue;
        }
        // SQL writes the apostrophe of `O'Brien` as `O''Brien`.
        let doubled_quote = c == '\''
            && letters > 0
            && text[start + offset + 1..].starts_with('\'')
            && text[start + offset + 2..]
                .chars()
                .next()
                .is_some_and(char::is_alphabetic);
        if doubled_quote {
            chars.next();
            continue;
        }
        if c == '.' && letters == 1 && text[start..end].chars().all(char::is_uppercase) {
            end = start + offset + 1;
        }
        break;
    }
    end
}

fn classify(text: &str, start: usize, end: usize) -> WordClass {
    let word = &text[start..end];
    if word.is_empty() || text[end..].starts_with('=') {
        return WordClass::Other;
    }
    if PARTICLES.contains(&word) {
        return WordClass::Particle;
    }
    let mut chars = word.chars();
    let capitalized = chars.next().is_some_and(char::is_uppercase);
    let initial = word.len() == 2 && word.ends_with('.');
    match capitalized && (initial || word.chars().any(char::is_lowercase)) {
        true => WordClass::Name,
        false => WordClass::Other,
    }
}

/// Returns the name word after the first word, which ends at `first_end`,
/// skipping particles.
fn next_name_word(text: &str, first_end: usize) -> Option<&str> {
    let mut at = first_end;
    loop {
        let rest = text[at..].trim_start_matches(' ');
        if rest.len() == text[at..].len() {
            return None;
        }
        at = text.len() - rest.len();
        let end = word_end(text, at);
        match classify(text, at, end) {
            WordClass::Name => return Some(&text[at..end]),
            WordClass::Particle => at = end,
            WordClass::Other => return None,
        }
    }
}

/// Reports whether the text after a name ends it, rather than going on as
/// an identifier (`Smith2`, `Smith_x`, `Smith.com`, `Smith@host`).
fn ends_cleanly(text: &str, end: usize) -> bool {
    let mut rest = text[end..].chars();
    match rest.next() {
        None => true,
        Some('.') => !rest.next().is_some_and(char::is_alphanumeric),
        Some(c) => !(c.is_alphanumeric() || matches!(c, '_' | '@' | '/' | '\\' | '$' | '#')),
    }
}

/// Characters that, right before a word, make it part of an identifier or a
/// path rather than the start of a name.
fn continues_identifier(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '\\' | '@' | '$' | '#')
}

/// Reports whether the byte before the value at `start` is a quote that the
/// value is inside.
fn is_quoted(text: &str, start: usize) -> bool {
    matches!(
        text.as_bytes().get(start.wrapping_sub(1)),
        Some(b'"' | b'\'')
    )
}

/// Reports whether `key` (ASCII case insensitive) comes right before the
/// value at `start`, followed by `=` and optional spaces and quote, with no
/// prefix glued to it.
fn key_before_is_bare(haystack: &[u8], start: usize, key: &[u8]) -> bool {
    let mut before = &haystack[..start];
    if let [rest @ .., b'"' | b'\''] = before {
        before = rest;
    }
    let Some(before) = before.trim_ascii_end().strip_suffix(b"=") else {
        return false;
    };
    let before = before.trim_ascii_end();
    let Some(key_start) = before.len().checked_sub(key.len()) else {
        return false;
    };
    if !before[key_start..].eq_ignore_ascii_case(key) {
        return false;
    }
    !before[..key_start]
        .last()
        .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Looks `word` up in the given names, ignoring case and accents, so
/// `René` and `STÉPHANIE` are found as `rene` and `stephanie`.
fn is_given_name(word: &str) -> bool {
    let mut folded = [0u8; MAX_GIVEN_NAME_BYTES];
    let mut len = 0;
    let mut foldable = true;
    for c in word.chars() {
        decompose_canonical(c, |part| {
            if is_combining_mark(part) {
                return;
            }
            if !part.is_ascii_alphabetic() || len == folded.len() {
                foldable = false;
                return;
            }
            folded[len] = part.to_ascii_lowercase() as u8;
            len += 1;
        });
        if !foldable {
            return false;
        }
    }
    // Only ASCII letters were written, so the bytes are UTF-8.
    std::str::from_utf8(&folded[..len]).is_ok_and(|folded| GIVEN_NAMES.contains(folded))
}

/// Reports whether `c` is a combining diacritical mark (U+0300 to U+036F),
/// which canonical decomposition splits off accented Latin letters.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `check` on the value that starts at `value` in `text` and
    /// returns what it accepted.
    fn accepted(
        check: fn(&str, usize, usize) -> Option<(usize, usize)>,
        text: &str,
        value: &str,
    ) -> Option<String> {
        let start = text.find(value).unwrap();
        let (start, end) = check(text, start, start + value.len())?;
        Some(text[start..end].to_owned())
    }

    #[test]
    fn given_name_list_loads() {
        assert!(GIVEN_NAMES.len() > 4000, "{} names", GIVEN_NAMES.len());
        assert!(GIVEN_NAMES.contains("terry"));
        assert!(!GIVEN_NAMES.contains("will"), "excluded words stay out");
    }

    #[test]
    fn given_name_folds_case_and_accents() {
        for word in ["Terry", "STÉPHANIE", "René", "Élise"] {
            assert!(is_given_name(word), "{word}");
        }
        for word in [
            "Pleśniak",
            "Łukasz",
            "Apache",
            "Kubernetesdeploymentcontroller",
        ] {
            assert!(!is_given_name(word), "{word}");
        }
    }

    #[test]
    fn free_text_names() {
        let cases = [
            (
                "SEPA mandate rejected for Terry Simpson account PL48",
                "Terry Simpson",
            ),
            (
                "refund for Kevin van den Corput, ok",
                "Kevin van den Corput",
            ),
            ("signed by Maria Helena Ramos.", "Maria Helena Ramos"),
            ("(c) Adam Belay", "Adam Belay"),
            ("Stéphanie Marchand logged in", "Stéphanie Marchand"),
            ("John F. Kennedy airport", "John F. Kennedy"),
        ];
        for (text, name) in cases {
            let first = name.split(' ').next().unwrap();
            assert_eq!(
                accepted(check_given_name, text, first).as_deref(),
                Some(name),
                "{text}"
            );
        }
    }

    #[test]
    fn free_text_look_alikes() {
        let cases = [
            ("[Sun Dec 04 04:47:44 2005]", "Sun"),
            ("Apache Kafka started", "Apache"),
            ("class PaymentService failed", "PaymentService"),
            ("Terry Service restarted", "Terry"),
            ("Grace Period Expired For Account Number", "Grace"),
            ("host terry simpson", "terry"),
            ("io.Terry Simpson", "Terry"),
            ("Terry Simpson2 x", "Terry"),
            ("Terry INFO started", "Terry"),
            ("Terry alone", "Terry"),
        ];
        for (text, word) in cases {
            assert_eq!(accepted(check_given_name, text, word), None, "{text}");
        }
    }

    #[test]
    fn name_key_takes_name_shapes() {
        let cases = [
            ("export row: name=Caroline Breton ssn=4", "Caroline Breton"),
            ("name=Inaya van Oostendorp ssn=2", "Inaya van Oostendorp"),
            ("name=Vitor Gabriel Oliveira", "Vitor Gabriel Oliveira"),
            ("set name='Conor Fisher', x=1", "Conor Fisher"),
            ("NAME = 'Fabian Bzdęga'", "Fabian Bzdęga"),
            ("name=Rolf-Peter O'Neill logged in", "Rolf-Peter O'Neill"),
        ];
        for (text, name) in cases {
            let first = name.split(' ').next().unwrap();
            let value = match text.contains('\'') && !name.contains('\'') {
                true => name,
                false => first,
            };
            assert_eq!(
                accepted(check_name_key, text, value).as_deref(),
                Some(name),
                "{text}"
            );
        }
    }

    #[test]
    fn name_key_rejects_other_values() {
        let cases = [
            ("name=worker-1", "worker-1"),
            ("name=PaymentService", "PaymentService"),
            ("name=checkout level=info", "checkout"),
            ("service.name=Payment Service", "Payment"),
            ("pod-name=Api Gateway", "Api"),
            ("name=Ana Lima_2", "Ana"),
            ("name=One Two Three Four Five", "One"),
            ("name='Conor Fisher 2'", "Conor Fisher 2"),
        ];
        for (text, value) in cases {
            assert_eq!(accepted(check_name_key, text, value), None, "{text}");
        }
    }

    #[test]
    fn field_value_extends_bare_names() {
        let cases = [
            ("full_name=Ana Lima age=4", "Ana", "Ana Lima"),
            ("first_name=ana x", "ana", "ana"),
            ("holder='Conor Fisher'", "Conor Fisher", "Conor Fisher"),
            ("surname=Jaén", "Jaén", "Jaén"),
        ];
        for (text, captured, expected) in cases {
            assert_eq!(
                accepted(check_field, text, captured).as_deref(),
                Some(expected),
                "{text}"
            );
        }
        assert_eq!(accepted(check_field, "full_name=null", "null"), None);
    }

    #[test]
    fn sql_doubled_quote_inside_name() {
        let update = "update t set holder='Siân O''Brien' where x=1";
        assert_eq!(accepted(check_field, update, "Siân O"), None);
        assert_eq!(
            accepted(check_sql_column, update, "Siân O''Brien").as_deref(),
            Some("Siân O''Brien")
        );
        let named = "update t set name='Siân O''Brien' where x=1";
        assert!(accepted(check_sql_column, named, "Siân O''Brien").is_some());
    }

    #[test]
    fn sql_name_columns() {
        let insert = "INSERT INTO customers (name, email, holder) VALUES ('Inaya van Oostendorp', 'a@b.io', 'Li Wei')";
        assert!(accepted(check_sql_column, insert, "Inaya van Oostendorp").is_some());
        assert!(accepted(check_sql_column, insert, "Li Wei").is_some());

        let update = "update payment_methods set card_number='1', holder='Conor Fisher' where x=1";
        assert!(accepted(check_sql_column, update, "Conor Fisher").is_some());

        let product = "INSERT INTO products (name, sku) VALUES ('Widget', 'Ab Cd')";
        assert_eq!(accepted(check_sql_column, product, "Widget"), None);
        assert_eq!(accepted(check_sql_column, product, "Ab Cd"), None);
    }

    #[test]
    fn full_name_shape() {
        for value in [
            "Maks Pleśniak",
            "Kevin van den Corput",
            "Łukasz Żak",
            "Maks  Pleśniak",
        ] {
            assert!(is_full_name(value), "{value}");
        }
        for value in [
            "jdoe",
            "Maks",
            "maks pleśniak",
            " Maks Pleśniak",
            "A B C D E F",
        ] {
            assert!(!is_full_name(value), "{value}");
        }
    }
}
