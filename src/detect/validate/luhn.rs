//! Payment card numbers: the Luhn (mod 10) check plus issuer prefix and
//! length rules, so that epoch-millisecond timestamps and long numeric ids
//! that happen to pass Luhn (one in ten does) are still rejected.

use super::{byte_before, continues_with, preceded_by_number};

const MAX_DIGITS: usize = 19;

pub(super) fn check_card(haystack: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let mut digits = [0u8; MAX_DIGITS];
    let count = collect_grouped_digits(&haystack[start..end], &mut digits)?;
    let digits = &digits[..count];

    // A sign, a decimal point or an identifier dash before the number, as in
    // HDFS block ids `blk_-1608999687919862906`, marks something else.
    if matches!(byte_before(haystack, start), Some(b'-' | b'+' | b'.')) {
        return None;
    }
    if continues_with(haystack, end, b'.') {
        return None;
    }
    // A grouped number that runs on with the same separator is longer than
    // a card, so this candidate is only a piece of it.
    let separator = haystack[start..end]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_digit());
    if let Some(separator) = separator
        && (preceded_by_number(haystack, start, separator)
            || continues_with(haystack, end, separator))
    {
        return None;
    }

    if !issuer_accepts(digits) || !luhn_checksum_ok(digits) {
        return None;
    }
    Some((start, end))
}

/// Copies the digits of a card candidate into `out`, checking the grouping:
/// one separator kind throughout, and the groups cards are printed in. An
/// ungrouped run passes. Otherwise the first group is 4 digits, followed by
/// groups of 4 and a last group of 1 to 4 (4-4-4-4, 4-4-4-4-3), or by one
/// group of 6 and a last group of 4 or 5 (Diners 4-6-4, American Express
/// 4-6-5). Other groupings, such as the HDFS timestamp
/// `240717 225925 1454`, are not cards.
fn collect_grouped_digits(candidate: &[u8], out: &mut [u8; MAX_DIGITS]) -> Option<usize> {
    let mut count = 0;
    let mut separator = None;
    let mut groups = [0usize; MAX_DIGITS];
    let mut group_count = 1;
    for &byte in candidate {
        if byte.is_ascii_digit() {
            if count == MAX_DIGITS {
                return None;
            }
            out[count] = byte - b'0';
            count += 1;
            groups[group_count - 1] += 1;
            continue;
        }
        match separator {
            None => separator = Some(byte),
            Some(previous) if previous != byte => return None,
            Some(_) => {}
        }
        if group_count == MAX_DIGITS {
            return None;
        }
        group_count += 1;
    }

    let groups = &groups[..group_count];
    let grouping_ok = match groups {
        [_] => true,
        [4, middle @ .., last] if middle.iter().all(|&len| len == 4) => (1..=4).contains(last),
        [4, 6, 4 | 5] => true,
        _ => false,
    };
    (grouping_ok && (13..=MAX_DIGITS).contains(&count)).then_some(count)
}

/// Checks the issuer identification number and the lengths that issuer uses.
/// The ranges are the published ones of the major networks: Visa,
/// Mastercard, American Express, Discover, UnionPay, JCB, Diners Club,
/// Maestro and Mir.
fn issuer_accepts(digits: &[u8]) -> bool {
    let prefix = |n: usize| {
        digits[..n]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    let len = digits.len();
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));

    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = (p2 == 34 || p2 == 37) && len == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&len);
    let unionpay = p2 == 62 && (16..=19).contains(&len);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&len);
    let diners =
        ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&len);
    let maestro = matches!(
        p4,
        5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
    ) && (13..=19).contains(&len);
    let mir = (2200..=2204).contains(&p4) && (16..=19).contains(&len);

    visa || mastercard || amex || discover || unionpay || jcb || diners || maestro || mir
}

/// Runs the Luhn check over decimal digit values (0 to 9, not ASCII).
pub(crate) fn luhn_checksum_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (index, &digit) in digits.iter().rev().enumerate() {
        let mut value = u32::from(digit);
        if index % 2 == 1 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(text: &str) -> bool {
        check_card(text.as_bytes(), 0, text.len()).is_some()
    }

    #[test]
    fn luhn_known_numbers() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
        assert!(luhn_checksum_ok(&digits("4111111111111111")));
        assert!(luhn_checksum_ok(&digits("79927398713")));
        assert!(!luhn_checksum_ok(&digits("4111111111111112")));
    }

    #[test]
    fn card_accepts_networks() {
        let cards = [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5500005555555559",
            "2223000048400011",
            "378282246310005",
            "3782-822463-10005",
            "6011111111111117",
            "3530111333300000",
            "36227206271667",
            "4222222222222",
        ];
        for number in cards {
            assert!(card(number), "expected card: {number}");
        }
    }

    #[test]
    fn card_rejects_look_alikes() {
        let rejects = [
            // Epoch milliseconds, even when they pass Luhn.
            "1700000000000",
            "1700000000006",
            // 16 digits that fail Luhn.
            "4111111111111112",
            "2475918238700104",
            // Luhn-valid but no issuer starts with 9 or 1.
            "9111111111111115",
            "1234567812345670",
            // Mixed separators and odd grouping.
            "4111-1111 1111-1111",
            "41 111111 11111111",
            // Visa length 15 does not exist.
            "411111111111116",
        ];
        for number in rejects {
            assert!(!card(number), "expected no card: {number}");
        }
    }

    #[test]
    fn card_rejects_negative_block_id() {
        let text = b"blk_-6011111111111117 ok";
        assert_eq!(check_card(text, 5, 21), None);
    }

    #[test]
    fn card_rejects_longer_grouped_run() {
        let text = b"4111 1111 1111 1111 2222";
        assert_eq!(check_card(text, 0, 19), None);
    }
}
