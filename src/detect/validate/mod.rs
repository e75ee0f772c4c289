//! Validators: checks that run on one candidate span after the combined scan
//! found it. A validator sees the whole haystack, so it can look at the bytes
//! around the span, and it may shrink the span (an IBAN candidate that ran
//! into the next word). Validators never allocate.
//!
//! NOTE: a validator that reads neighboring bytes can decide differently
//! once a neighbor is redacted: in `2001:db8::1.148-72-1234` the SSN is
//! taken, and on a second pass the address before it is taken too.

mod basic_auth;
mod iban;
mod ip;
mod luhn;
mod mac;
mod phone;
mod phone_column;
mod secret;
mod ssn;

use serde::Deserialize;

/// A validator named by a pack rule's `validator` field.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Validator {
    /// Payment card: Luhn check, issuer prefix and length, grouping.
    Luhn,
    /// ISO 13616 IBAN: per-country length and mod-97 check.
    Iban,
    /// US social security number area, group and serial rules.
    UsSsn,
    /// A dotted quad that is not part of a longer dotted number.
    Ipv4,
    /// Parses with `std::net::Ipv6Addr` and rejects code paths like `a::b`.
    Ipv6,
    /// One separator throughout, not part of a longer hex run.
    Mac,
    /// 7 to 15 digits, not glued to a preceding word; international
    /// numbers must fit their country's numbering plan.
    Phone,
    /// `+` or `00` number whose length fits its country calling code.
    PhoneInternational,
    /// North American number with consistent separators.
    PhoneNorthAmerican,
    /// National number with 9 to 12 digits and one kind of separator.
    PhoneNational,
    /// National number in the phone column of an SQL insert.
    PhoneSqlColumn,
    /// Base64 that decodes to `user:password`.
    BasicAuth,
    /// Bearer token that is not a JWT (the JWT rule reports those).
    Bearer,
    /// Secret value that is not a placeholder such as `null` or `***`.
    Secret,
}

impl Validator {
    /// Checks the candidate `text[start..end]`, returning the value span to
    /// tokenize, or `None` when the candidate is not of this kind.
    pub(crate) fn check(self, text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
        let haystack = text.as_bytes();
        match self {
            Validator::Luhn => luhn::check_card(haystack, start, end),
            Validator::Iban => iban::check(haystack, start, end),
            Validator::UsSsn => ssn::check(haystack, start, end),
            Validator::Ipv4 => ip::check_v4(haystack, start, end),
            Validator::Ipv6 => ip::check_v6(text, start, end),
            Validator::Mac => mac::check(haystack, start, end),
            Validator::Phone => phone::check(haystack, start, end),
            Validator::PhoneInternational => phone::check_international(haystack, start, end),
            Validator::PhoneNorthAmerican => phone::check_north_american(haystack, start, end),
            Validator::PhoneNational => phone::check_national(haystack, start, end),
            Validator::PhoneSqlColumn => phone_column::check(haystack, start, end),
            Validator::BasicAuth => basic_auth::check(haystack, start, end),
            Validator::Bearer => secret::check_bearer(haystack, start, end),
            Validator::Secret => secret::check_value(haystack, start, end),
        }
    }
}

fn byte_before(haystack: &[u8], start: usize) -> Option<u8> {
    start.checked_sub(1).map(|index| haystack[index])
}

fn byte_at(haystack: &[u8], index: usize) -> Option<u8> {
    haystack.get(index).copied()
}

/// Reports whether `haystack[index]` is `separator` followed by a digit,
/// which means a number continues past a candidate's end.
fn continues_with(haystack: &[u8], index: usize, separator: u8) -> bool {
    byte_at(haystack, index) == Some(separator)
        && byte_at(haystack, index + 1).is_some_and(|b| b.is_ascii_digit())
}

/// Reports whether the bytes before `start` are a digit and then `separator`,
/// which means a number started before a candidate.
fn preceded_by_number(haystack: &[u8], start: usize, separator: u8) -> bool {
    start >= 2 && haystack[start - 1] == separator && haystack[start - 2].is_ascii_digit()
}
