//! Quoted national phone numbers in SQL inserts: the value's position in
//! its `VALUES (…)` tuple picks a column of the insert's column list, and
//! that column must be named like a phone column (`phone`, `mobile_no`).

use super::phone;

/// How far back from the value the `VALUES` keyword is looked for, so that
/// a long multi-row insert costs at most this much per candidate.
/// NOTE: values further than this from `VALUES` are not taken.
const MAX_LOOKBACK: usize = 4096;

/// Words that, at the start of a column name or after `_`, mark a phone
/// column.
const PHONE_WORDS: &[&[u8]] = &[b"phone", b"tel", b"mobile", b"cell", b"fax", b"msisdn"];

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    phone::check_national(haystack, start, end)?;
    // The pack rule matches the opening quote right before `start`.
    let quote = start.checked_sub(1)?;
    let before = &haystack[quote.saturating_sub(MAX_LOOKBACK)..quote];
    let values_at = rfind_keyword(before, b"values")?;
    let index = position_in_tuple(&before[values_at + b"values".len()..])?;
    let column = column_name(&before[..values_at], index)?;
    is_phone_column(column).then_some((start, end))
}

/// Returns the index of the value that starts at the end of `tuples` (the
/// text between `VALUES` and the value), counting commas at the top level
/// of the current tuple and skipping quoted strings.
fn position_in_tuple(tuples: &[u8]) -> Option<usize> {
    let mut index = 0;
    let mut depth = 0usize;
    let mut quoted = false;
    for &byte in tuples {
        if quoted {
            // A doubled quote ('') closes and reopens, which leaves it open.
            quoted = byte != b'\'';
            continue;
        }
        match byte {
            b'\'' => quoted = true,
            b'(' => {
                depth += 1;
                if depth == 1 {
                    index = 0;
                }
            }
            b')' => depth = depth.checked_sub(1)?,
            b',' if depth == 1 => index += 1,
            _ => {}
        }
    }
    (!quoted && depth == 1).then_some(index)
}

/// Returns column `index` of the bracketed column list that ends `head`.
fn column_name(head: &[u8], index: usize) -> Option<&[u8]> {
    let head = head.trim_ascii_end();
    let close = head.len().checked_sub(1)?;
    if head[close] != b')' {
        return None;
    }
    let open = head[..close].iter().rposition(|&b| b == b'(')?;
    head[open + 1..close].split(|&b| b == b',').nth(index)
}

fn is_phone_column(column: &[u8]) -> bool {
    // Quoting such as "phone", `phone` or [phone] needs no stripping,
    // because a word may start after any byte that is not a letter.
    let name = column.trim_ascii();
    (0..name.len()).any(|at| {
        let word_start = at == 0 || !name[at - 1].is_ascii_alphabetic();
        word_start
            && PHONE_WORDS
                .iter()
                .any(|word| starts_with_ignore_case(&name[at..], word))
    })
}

/// Finds the last `keyword` in `text` that occurs as a word, ASCII case
/// insensitively.
fn rfind_keyword(text: &[u8], keyword: &[u8]) -> Option<usize> {
    let last = text.len().checked_sub(keyword.len())?;
    (0..=last).rev().find(|&at| {
        let word_before = at > 0 && text[at - 1].is_ascii_alphanumeric();
        let word_after = text
            .get(at + keyword.len())
            .is_some_and(|b| b.is_ascii_alphanumeric());
        !word_before && !word_after && starts_with_ignore_case(&text[at..], keyword)
    })
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the first quoted `value` in `sql`.
    fn accepts(sql: &str, value: &str) -> bool {
        let start = sql.find(&format!("'{value}'")).unwrap() + 1;
        check(sql.as_bytes(), start, start + value.len()).is_some()
    }

    #[test]
    fn column_matches_position() {
        let sql = "INSERT INTO users (name, email, phone, ssn) VALUES ('A', 'a@b.io', '020 7946 0958', '1')";
        assert!(accepts(sql, "020 7946 0958"));
        let other = "INSERT INTO t (name, ref) VALUES ('A', '020 7946 0958')";
        assert!(!accepts(other, "020 7946 0958"));
    }

    #[test]
    fn column_skips_quoted_commas() {
        let sql = "insert into t (note, \"mobile_no\") values ('a, b; it''s', '06 11 63 90 36')";
        assert!(accepts(sql, "06 11 63 90 36"));
    }

    #[test]
    fn column_in_second_row() {
        let sql = "INSERT INTO t (tel, id) VALUES ('0121 614 1366', 1), ('0121 614 1367', 2)";
        assert!(accepts(sql, "0121 614 1367"));
        let swapped = "INSERT INTO t (id, tel) VALUES ('0121 614 1366', 1)";
        assert!(!accepts(swapped, "0121 614 1366"));
    }

    #[test]
    fn column_words() {
        for name in ["phone", " `Telephone`", "contact_cell", "FAX"] {
            assert!(is_phone_column(name.as_bytes()), "{name}");
        }
        for name in ["hotel", "cancel_reason", "id"] {
            assert!(!is_phone_column(name.as_bytes()), "{name}");
        }
    }
}
