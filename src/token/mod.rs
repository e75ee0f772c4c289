//! Keyed tokens: a found value is replaced by a token that shows the kind,
//! names the key, and carries a MAC of the value, so equal values get equal
//! tokens (logs stay joinable) and the value cannot be read back without the
//! key. This module never detects anything and never stores values.
//!
//! # Token format
//!
//! ```text
//! <KIND>_<keyid>_<mac>        e.g.  EMAIL_k1_mfrggzdfmztwq2lk
//! ```
//!
//! - `KIND`: the kind name, upper-case ASCII letters, digits and `_`,
//!   starting with a letter (`EMAIL`, `US_SSN`).
//! - `keyid`: the key id, 1 to 8 lower-case ASCII letters or digits.
//! - `mac`: the first 80 bits of HMAC-SHA256(key, normalized value), in
//!   lower-case RFC 4648 base32 without padding: exactly 16 characters of
//!   `a-z` and `2-7`.
//!
//! The whole token is one word for log search backends, because it holds
//! only letters, digits and `_` (the Elasticsearch standard analyzer keeps
//! `_` inside a word). Upper case marks the kind and lower case the rest, so
//! the token parses from the right even though kinds contain `_`.
//!
//! The MAC input is the normalized value alone, not the kind, so one value
//! found under two kinds (an e-mail address that is also a user name) gets
//! the same MAC and still joins across kinds.
//!
//! # Keys
//!
//! A key is text: the secret bytes in hex (lower or upper case), optionally
//! followed by whitespace. `hush keygen` writes 32 random bytes as 64 hex
//! digits and a newline; keys shorter than 16 bytes are rejected.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use data_encoding::{Encoding, Specification};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Bytes of secret that [`Key::generate`] creates.
const GENERATED_KEY_BYTES: usize = 32;
/// Minimum secret length accepted from a file or text.
const MIN_KEY_BYTES: usize = 16;
/// Maximum key id length.
const MAX_KEY_ID_LEN: usize = 8;
/// MAC bytes kept in a token: 10 bytes are 80 bits and 16 base32 characters.
const MAC_BYTES: usize = 10;
const MAC_CHARS: usize = 16;

/// Entries in each thread's MAC cache. Log lines repeat the same few
/// addresses and users, so a small cache catches most of them.
const MAC_CACHE_ENTRIES: usize = 256;
/// Longest normalized value the MAC cache stores; longer values are always
/// hashed.
const MAC_CACHE_MAX_VALUE: usize = 46;

/// Source of [`Tokenizer`] ids, so one thread's MAC cache never returns a MAC
/// made with another key. Id 0 marks an empty cache entry.
static NEXT_TOKENIZER_ID: AtomicU64 = AtomicU64::new(1);

/// One remembered MAC: the tokenizer that made it, the normalized value and
/// its encoded MAC.
#[derive(Clone, Copy)]
struct CachedMac {
    tokenizer: u64,
    value_len: u8,
    value: [u8; MAC_CACHE_MAX_VALUE],
    mac: [u8; MAC_CHARS],
}

const EMPTY_MAC: CachedMac = CachedMac {
    tokenizer: 0,
    value_len: 0,
    value: [0; MAC_CACHE_MAX_VALUE],
    mac: [0; MAC_CHARS],
};

thread_local! {
    /// Direct-mapped cache of recent MACs, indexed by a hash of the value.
    ///
    /// NOTE: it keeps up to 256 recent normalized values per thread in
    /// memory, in the clear, until they are overwritten or the thread ends.
    static MAC_CACHE: RefCell<Box<[CachedMac; MAC_CACHE_ENTRIES]>> =
        RefCell::new(Box::new([EMPTY_MAC; MAC_CACHE_ENTRIES]));
}

static BASE32_LOWER: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
    spec.encoding()
        .expect("a 32-symbol alphabet without padding is a valid base32 specification")
});

/// An error loading a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("failed to read key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "invalid key: expected hex digits (as written by `hush keygen`), found a non-hex character at offset {offset}"
    )]
    NotHex { offset: usize },

    #[error("invalid key: hex text has an odd number of digits ({digits})")]
    OddLength { digits: usize },

    #[error(
        "key too short: {bytes} bytes, at least {min} are required; create one with `hush keygen`"
    )]
    TooShort { bytes: usize, min: usize },

    #[error("invalid key id {id:?}: use 1 to 8 lower-case ASCII letters or digits")]
    InvalidId { id: String },
}

/// A secret key and its id. `Debug` and `Display` print the id only.
#[derive(Clone)]
pub struct Key {
    id: String,
    secret: Vec<u8>,
}

impl Key {
    /// Creates a key of 32 bytes from the operating system's random source.
    ///
    /// # Panics
    ///
    /// Panics if `id` is not 1 to 8 lower-case ASCII letters or digits, or if
    /// the operating system's random source fails.
    pub fn generate(id: &str) -> Key {
        if let Err(error) = check_key_id(id) {
            panic!("{error}");
        }
        let mut secret = vec![0u8; GENERATED_KEY_BYTES];
        getrandom::fill(&mut secret).expect("the operating system's random source failed");
        Key {
            id: id.to_owned(),
            secret,
        }
    }

    /// Reads a key file holding the key as text (see the module docs).
    pub fn from_file(path: &Path, id: &str) -> Result<Key, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Key::from_text(&text, id)
    }

    /// Parses a key from text in the key file format, for example from an
    /// environment variable. Surrounding whitespace is ignored.
    pub fn from_text(text: &str, id: &str) -> Result<Key, KeyError> {
        check_key_id(id)?;
        let hex = text.trim();
        if let Some(offset) = hex.bytes().position(|b| !b.is_ascii_hexdigit()) {
            return Err(KeyError::NotHex { offset });
        }
        if !hex.len().is_multiple_of(2) {
            return Err(KeyError::OddLength { digits: hex.len() });
        }
        let secret = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.as_bytes())
            .map_err(|error| KeyError::NotHex {
                offset: error.position,
            })?;
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                bytes: secret.len(),
                min: MIN_KEY_BYTES,
            });
        }
        Ok(Key {
            id: id.to_owned(),
            secret,
        })
    }

    /// Renders the key as key file text: lower-case hex and a newline.
    pub fn to_text(&self) -> String {
        let mut text = data_encoding::HEXLOWER.encode(&self.secret);
        text.push('\n');
        text
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {} (secret redacted)", self.id)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // NOTE: best effort only. Without volatile writes the compiler may
        // drop this store, and copies made by `Clone` or by the MAC state
        // are not cleared here.
        self.secret.fill(0);
        std::hint::black_box(&self.secret);
    }
}

fn check_key_id(id: &str) -> Result<(), KeyError> {
    let valid = (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(KeyError::InvalidId { id: id.to_owned() })
    }
}

/// Renders tokens with one key.
pub struct Tokenizer {
    /// Process-unique id that tags this tokenizer's entries in the MAC cache.
    id: u64,
    key_id: String,
    /// The MAC state after absorbing the key, cloned for every token so the
    /// key schedule runs once.
    keyed: Hmac<Sha256>,
}

impl Tokenizer {
    pub fn new(key: Key) -> Tokenizer {
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.secret)
            .expect("HMAC accepts keys of any length");
        Tokenizer {
            id: NEXT_TOKENIZER_ID.fetch_add(1, Ordering::Relaxed),
            key_id: key.id.clone(),
            keyed,
        }
    }

    /// Appends the token for `normalized_value` found as `kind` to `out`.
    /// The caller normalizes (see `Engine::normalize`), so that spellings of
    /// one identity share a token.
    pub fn push_token(&self, kind: &str, normalized_value: &str, out: &mut String) {
        let encoded = self.cached_mac(normalized_value.as_bytes());
        out.reserve(kind.len() + self.key_id.len() + MAC_CHARS + 2);
        out.push_str(kind);
        out.push('_');
        out.push_str(&self.key_id);
        out.push('_');
        out.push_str(std::str::from_utf8(&encoded).expect("base32 output is ASCII"));
    }

    /// Returns the encoded MAC of `value`, from this thread's cache when it
    /// was computed recently.
    fn cached_mac(&self, value: &[u8]) -> [u8; MAC_CHARS] {
        if value.len() > MAC_CACHE_MAX_VALUE {
            return self.compute_mac(value);
        }
        MAC_CACHE.with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return self.compute_mac(value);
            };
            let entry = &mut cache[cache_index(value)];
            if entry.tokenizer == self.id && &entry.value[..usize::from(entry.value_len)] == value {
                return entry.mac;
            }
            let mac = self.compute_mac(value);
            entry.tokenizer = self.id;
            entry.value_len = value.len() as u8;
            entry.value[..value.len()].copy_from_slice(value);
            entry.mac = mac;
            mac
        })
    }

    fn compute_mac(&self, value: &[u8]) -> [u8; MAC_CHARS] {
        let mut mac = self.keyed.clone();
        mac.update(value);
        let digest = mac.finalize().into_bytes();

        let mut encoded = [0u8; MAC_CHARS];
        BASE32_LOWER.encode_mut(&digest[..MAC_BYTES], &mut encoded);
        encoded
    }

    /// Reports whether `text` is exactly one token in the format above, under
    /// any key.
    pub fn is_token(text: &str) -> bool {
        token_prefix_len(text) == Some(text.len())
    }
}

/// Returns the MAC cache slot for `value`: FNV-1a, folded to the cache size.
/// The hash only spreads values over slots; a slot is used only after the
/// stored value compares equal.
fn cache_index(value: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in value {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((hash >> 32) ^ hash) as usize % MAC_CACHE_ENTRIES
}

/// Returns the length of the token that `text` starts with, if it starts
/// with one. Text may follow the token, even without a separator, because
/// two hits next to each other become two tokens next to each other, and a
/// hit that ends in `=` or `.` can be followed by a word.
///
/// NOTE: a secret that merely starts with a token's shape
/// (`DB_prod_mysecretpassword123`) is therefore taken for a token and
/// passes as it is. Requiring a word boundary after tokens would break
/// idempotence for the glued cases above.
pub(crate) fn token_prefix_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();

    // The kind and its `_`: upper case, digits and `_`, ending in `_`.
    let kind_len = bytes
        .iter()
        .position(|&b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))?;
    if kind_len < 2 || !bytes[0].is_ascii_uppercase() || bytes[kind_len - 1] != b'_' {
        return None;
    }

    let rest = &bytes[kind_len..];
    let key_id_len = rest
        .iter()
        .position(|&b| !(b.is_ascii_lowercase() || b.is_ascii_digit()))?;
    if !(1..=MAX_KEY_ID_LEN).contains(&key_id_len) || rest[key_id_len] != b'_' {
        return None;
    }

    let mac = rest.get(key_id_len + 1..key_id_len + 1 + MAC_CHARS)?;
    if !mac
        .iter()
        .all(|&b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    {
        return None;
    }
    Some(kind_len + key_id_len + 1 + MAC_CHARS)
}

#[cfg(test)]
mod tests;
