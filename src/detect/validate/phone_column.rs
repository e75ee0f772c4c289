//! Quoted national phone numbers in SQL inserts: the value's position in
//! its `VALUES (…)` tuple picks a column of the insert's column list, and
//! that column must be named like a phone column (`phone`, `mobile_no`).

use super::phone;
use super::sql;

/// Words that, at the start of a column name or after `_`, mark a phone
/// column.
const PHONE_WORDS: &[&[u8]] = &[b"phone", b"tel", b"mobile", b"cell", b"fax", b"msisdn"];

pub(super) fn check(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    phone::check_national(haystack, start, end)?;
    // The pack rule matches the opening quote right before `start`.
    let quote = start.checked_sub(1)?;
    let column = sql::insert_column(haystack, quote)?;
    is_phone_column(column).then_some((start, end))
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
                .any(|word| sql::starts_with_ignore_case(&name[at..], word))
    })
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
