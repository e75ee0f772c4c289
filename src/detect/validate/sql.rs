//! The column of a quoted value in an SQL statement: the matching name of
//! the column list in `INSERT … (a, b) VALUES ('x', 'y')`, or the name
//! before `=` in `SET a = 'x'` and `WHERE a = 'x'`. Both look only
//! backwards from the value and never parse the whole statement.

/// How far back from the value the `VALUES` keyword is looked for, so that
/// a long multi-row insert costs at most this much per candidate.
/// NOTE: values further than this from `VALUES` are not taken.
const MAX_LOOKBACK: usize = 4096;

/// Returns the column that the quoted value opening at `quote` fills in an
/// `INSERT … VALUES` statement: the value's position in its tuple picks a
/// name of the column list before `VALUES`.
pub(super) fn insert_column(haystack: &[u8], quote: usize) -> Option<&[u8]> {
    let before = &haystack[quote.saturating_sub(MAX_LOOKBACK)..quote];
    let values_at = rfind_keyword(before, b"values")?;
    let index = position_in_tuple(&before[values_at + b"values".len()..])?;
    column_name(&before[..values_at], index)
}

/// Returns the column assigned or compared in `column = 'value'`, where
/// `quote` is the opening quote of the value.
pub(super) fn assigned_column(haystack: &[u8], quote: usize) -> Option<&[u8]> {
    let before = haystack[..quote].trim_ascii_end();
    let before = before.strip_suffix(b"=")?.trim_ascii_end();
    let name_start = before
        .iter()
        .rposition(|&b| !is_column_byte(b))
        .map_or(0, |at| at + 1);
    let name = &before[name_start..];
    (!name.is_empty()).then_some(name)
}

/// Reports whether `column` (possibly quoted as `"a"`, `` `a` `` or `[a]`)
/// is `name`, ignoring ASCII case.
pub(super) fn column_is(column: &[u8], name: &[u8]) -> bool {
    let trimmed = column.trim_ascii();
    let unquoted = match trimmed {
        [b'"' | b'`' | b'[', inner @ .., b'"' | b'`' | b']'] => inner,
        other => other,
    };
    unquoted.eq_ignore_ascii_case(name)
}

/// Bytes of a column name, quoted or not, as written before `=`.
fn is_column_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'"' | b'`' | b'[' | b']')
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

pub(super) fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the column of the first quoted `value` in `sql`.
    fn column_of<'a>(sql: &'a str, value: &str) -> Option<&'a str> {
        let quote = sql.find(&format!("'{value}'")).unwrap();
        let column = insert_column(sql.as_bytes(), quote)
            .or_else(|| assigned_column(sql.as_bytes(), quote))?;
        Some(std::str::from_utf8(column).unwrap().trim())
    }

    #[test]
    fn insert_column_by_position() {
        let sql = "INSERT INTO users (name, email) VALUES ('A', 'a@b.io')";
        assert_eq!(column_of(sql, "A"), Some("name"));
        assert_eq!(column_of(sql, "a@b.io"), Some("email"));
    }

    #[test]
    fn insert_column_skips_quoted_commas() {
        let sql = "insert into t (note, \"holder\") values ('a, b; it''s', 'Ana Lima')";
        assert_eq!(column_of(sql, "Ana Lima"), Some("\"holder\""));
    }

    #[test]
    fn insert_column_in_second_row() {
        let sql = "INSERT INTO t (tel, id) VALUES ('1', 1), ('2', 2)";
        assert_eq!(column_of(sql, "2"), Some("tel"));
    }

    #[test]
    fn assigned_column_before_equals() {
        let sql = "update t set card='1', holder = 'Ana Lima' where `name`='Bo Li'";
        assert_eq!(column_of(sql, "Ana Lima"), Some("holder"));
        assert_eq!(column_of(sql, "Bo Li"), Some("`name`"));
        assert_eq!(column_of("note 'Ana Lima'", "Ana Lima"), None);
    }

    #[test]
    fn column_is_ignores_quoting_and_case() {
        assert!(column_is(b" `Holder`", b"holder"));
        assert!(column_is(b"[NAME]", b"name"));
        assert!(!column_is(b"holder_id", b"holder"));
    }
}
