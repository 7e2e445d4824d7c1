//! Pseudonyms for people: a NIK never leaves this module in clear.
//!
//! A NIK (16 digits: region, birth date, serial) is brute-forceable under a plain hash
//! (about 5×10^12 candidates), so pseudonyms are HMAC-SHA-256 under a per-tenant secret key.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A validated NIK. `Debug` and `Display` never print the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Nik(String);

impl Nik {
    /// Parse a NIK: exactly 16 ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        looks_like_nik(s).then(|| Self(s.to_owned()))
    }
}

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nik(<redacted>)")
    }
}

/// Whether a string has the shape of a NIK (16 ASCII digits).
pub fn looks_like_nik(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A person's pseudonym (hex HMAC-SHA-256 of their NIK under the tenant key), or an opaque id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PersonRef(pub String);

impl fmt::Display for PersonRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns NIKs into pseudonyms under one tenant's secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymizer(<key redacted>)")
    }
}

/// Why a pseudonym key could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    /// Too short to be a secret.
    #[error(
        "the pseudonym key must be at least 32 bytes; generate one with `head -c 32 /dev/urandom | base64`"
    )]
    TooShort,
}

impl Pseudonymizer {
    /// A pseudonymizer with this secret key (at least 32 bytes).
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        let key = key.into();
        if key.len() < 32 {
            return Err(KeyError::TooShort);
        }
        Ok(Self { key })
    }

    /// The pseudonym of a person by NIK.
    pub fn person(&self, nik: &Nik) -> PersonRef {
        PersonRef(format!(
            "p:{}",
            crate::config::hex(&self.mac(nik.0.as_bytes()))
        ))
    }

    /// A keyed digest of arbitrary personal data (for audit payload digests).
    pub fn digest(&self, data: &[u8]) -> [u8; 32] {
        self.mac(data)
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        // `new_from_slice` accepts any key length for HMAC; the fallback is unreachable.
        let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        m.update(data);
        m.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_never_show_the_nik() {
        let nik = Nik::parse("2171104512900001").unwrap();
        let a = Pseudonymizer::new([1u8; 32]).unwrap();
        let b = Pseudonymizer::new([2u8; 32]).unwrap();
        assert_ne!(a.person(&nik), b.person(&nik));
        assert_eq!(a.person(&nik), a.person(&nik));
        assert!(!format!("{nik:?}{:?}", a.person(&nik)).contains("2171104512900001"));
        assert!(Pseudonymizer::new([0u8; 8]).is_err());
        assert!(Nik::parse("123").is_none());
        assert!(Nik::parse("217110451290000x").is_none());
    }
}
