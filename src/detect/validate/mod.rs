//! Validators: checks that run on one candidate span after the combined scan
//! found it. A validator receives the whole haystack, so it can look at the bytes
//! around the span, and it may shrink the span (an IBAN candidate that ran
//! into the next word). Validators never allocate.
//!
//! NOTE: a validator that reads neighboring bytes can decide differently
//! once a neighbor is redacted: in `2001:db8::1.148-72-1234` the SSN is
//! taken, and on a second pass the address before it is taken too.

mod aadhaar;
mod aba;
mod basic_auth;
mod bsn;
mod codice_fiscale;
mod cpf;
mod dni;
mod email;
mod iban;
mod imei;
mod ip;
mod itin;
mod luhn;
mod mac;
mod nhs;
mod nir;
mod person_name;
mod personnummer;
mod phone;
mod phone_column;
mod resident_id_cn;
mod secret;
mod sin;
mod sql;
mod ssn;
mod steuer_id;

pub(crate) use person_name::{full_name_end, is_full_name};

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
    /// An IPv4 address inside a host name, dotted or dashed, octets
    /// zero-padded or not.
    Ipv4InHostName,
    /// Parses with `std::net::Ipv6Addr` and rejects code paths like `a::b`.
    Ipv6,
    /// One separator throughout, not part of a longer hex run.
    Mac,
    /// E-mail address, without a file name extension taken for its
    /// top-level domain.
    Email,
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
    /// IMEI: 15 digits with a Luhn check digit.
    Imei,
    /// US ITIN: area 9xx and the IRS group ranges.
    UsItin,
    /// ABA routing number: 3-7-1 weighted checksum and Federal Reserve prefix.
    AbaRouting,
    /// UK NHS number: mod 11 check digit and allocated ranges.
    UkNhs,
    /// Dutch BSN: the 11-proof.
    NlBsn,
    /// Spanish DNI: 8 digits and the mod 23 check letter.
    EsDni,
    /// Spanish NIE: X, Y or Z, 7 digits and the mod 23 check letter.
    EsNie,
    /// Italian codice fiscale: layout, birth date and check character.
    ItCodiceFiscale,
    /// French NIR: sex, month, department and the mod 97 key.
    FrNir,
    /// German Steuer-IdNr: ISO 7064 MOD 11,10 and the digit-repetition rule.
    DeTaxId,
    /// Brazilian CPF: two mod 11 check digits.
    BrCpf,
    /// Canadian SIN: Luhn and the province digit.
    CaSin,
    /// Indian Aadhaar: Verhoeff check digit, first digit 2 to 9.
    InAadhaar,
    /// Chinese resident identity number: ISO 7064 MOD 11-2 and birth date.
    CnResidentId,
    /// Swedish personnummer or samordningsnummer: date and Luhn.
    SePersonnummer,
    /// Value of a key that names a person; a bare value takes in the name
    /// words after it.
    PersonNameField,
    /// Value after a bare `name` key, shaped like a personal name.
    PersonNameKey,
    /// Quoted value in an SQL name column.
    PersonNameSqlColumn,
    /// Known given name followed by more name words.
    PersonNameGiven,
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
            Validator::Ipv4InHostName => ip::check_v4_in_host_name(haystack, start, end),
            Validator::Ipv6 => ip::check_v6(text, start, end),
            Validator::Mac => mac::check(haystack, start, end),
            Validator::Email => email::check(haystack, start, end),
            Validator::Phone => phone::check(haystack, start, end),
            Validator::PhoneInternational => phone::check_international(haystack, start, end),
            Validator::PhoneNorthAmerican => phone::check_north_american(haystack, start, end),
            Validator::PhoneNational => phone::check_national(haystack, start, end),
            Validator::PhoneSqlColumn => phone_column::check(haystack, start, end),
            Validator::BasicAuth => basic_auth::check(haystack, start, end),
            Validator::Bearer => secret::check_bearer(haystack, start, end),
            Validator::Secret => secret::check_value(haystack, start, end),
            Validator::Imei => imei::check(haystack, start, end),
            Validator::UsItin => itin::check(haystack, start, end),
            Validator::AbaRouting => aba::check(haystack, start, end),
            Validator::UkNhs => nhs::check(haystack, start, end),
            Validator::NlBsn => bsn::check(haystack, start, end),
            Validator::EsDni => dni::check_dni(haystack, start, end),
            Validator::EsNie => dni::check_nie(haystack, start, end),
            Validator::ItCodiceFiscale => codice_fiscale::check(haystack, start, end),
            Validator::FrNir => nir::check(haystack, start, end),
            Validator::DeTaxId => steuer_id::check(haystack, start, end),
            Validator::BrCpf => cpf::check(haystack, start, end),
            Validator::CaSin => sin::check(haystack, start, end),
            Validator::InAadhaar => aadhaar::check(haystack, start, end),
            Validator::CnResidentId => resident_id_cn::check(haystack, start, end),
            Validator::SePersonnummer => personnummer::check(haystack, start, end),
            Validator::PersonNameField => person_name::check_field(text, start, end),
            Validator::PersonNameKey => person_name::check_name_key(text, start, end),
            Validator::PersonNameSqlColumn => person_name::check_sql_column(text, start, end),
            Validator::PersonNameGiven => person_name::check_given_name(text, start, end),
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

/// Maximum digits that [`collect_digits`] copies: the longest numeric id
/// here (a Chinese resident id) has 18.
const MAX_ID_DIGITS: usize = 18;

/// Decimal digit values (0 to 9, not ASCII) of a numeric id candidate.
struct Digits {
    values: [u8; MAX_ID_DIGITS],
    len: usize,
}

impl Digits {
    fn as_slice(&self) -> &[u8] {
        &self.values[..self.len]
    }

    /// Returns the number formed by the digits in `range`.
    fn number(&self, range: std::ops::Range<usize>) -> u64 {
        self.as_slice()[range]
            .iter()
            .fold(0, |acc, &digit| acc * 10 + u64::from(digit))
    }
}

/// Collects the digits of an id written bare or in groups joined by one
/// separator (space, `-` or `.`) throughout. Returns `None` for mixed
/// separators, any other byte, or more than [`MAX_ID_DIGITS`] digits.
fn collect_digits(candidate: &[u8]) -> Option<Digits> {
    let mut digits = Digits {
        values: [0; MAX_ID_DIGITS],
        len: 0,
    };
    let mut separator = None;
    for &byte in candidate {
        if byte.is_ascii_digit() {
            if digits.len == MAX_ID_DIGITS {
                return None;
            }
            digits.values[digits.len] = byte - b'0';
            digits.len += 1;
            continue;
        }
        if !matches!(byte, b' ' | b'-' | b'.') {
            return None;
        }
        match separator {
            None => separator = Some(byte),
            Some(previous) if previous != byte => return None,
            Some(_) => {}
        }
    }
    Some(digits)
}

/// Reports whether the id candidate `haystack[start..end]` is only a piece
/// of something longer: a number with a sign or decimal point, an
/// identifier such as `blk_-123` or `ab-123`, or digit groups that continue
/// before or after it with `-`, `.`, or a space when the candidate itself is
/// grouped with spaces. A bare id may stand next to another number after a
/// space, as in a list.
fn is_part_of_longer_number(haystack: &[u8], start: usize, end: usize) -> bool {
    match byte_before(haystack, start) {
        Some(b'.' | b'+') => return true,
        Some(b'-') => {
            let joined = start >= 2 && {
                let before = haystack[start - 2];
                before.is_ascii_alphanumeric() || before == b'_'
            };
            if joined {
                return true;
            }
        }
        _ => {}
    }
    let spaced = haystack[start..end].contains(&b' ');
    [b' ', b'-', b'.']
        .into_iter()
        .filter(|&separator| separator != b' ' || spaced)
        .any(|separator| {
            preceded_by_number(haystack, start, separator)
                || continues_with(haystack, end, separator)
        })
}

/// Reports whether `year`-`month`-`day` is a date of the proleptic
/// Gregorian calendar.
fn is_valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}
