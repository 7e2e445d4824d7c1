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

/// Why a NIK cannot be one Dukcapil issued (see [`Nik::parse_issued`]). The messages say what
/// to check, in Indonesian, and never repeat the digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NikError {
    /// Not 16 digits (the count of what was typed, spaces aside).
    #[error("NIK terdiri dari 16 angka; yang diisi {0} karakter")]
    Length(usize),
    /// Something other than a digit.
    #[error("NIK hanya berisi angka 0–9")]
    NotDigits,
    /// Digits 1–4 name no kabupaten/kota.
    #[error(
        "6 angka pertama NIK adalah kode wilayah, tetapi 4 angka pertamanya bukan kode kabupaten/kota; periksa kembali KTP-el"
    )]
    Regency,
    /// Digits 1–6 name no kecamatan.
    #[error(
        "6 angka pertama NIK harus kode kecamatan tempat NIK diterbitkan; kode itu tidak ada; periksa kembali KTP-el"
    )]
    District,
    /// Digits 7–12 are no date of birth (day + 40 for women).
    #[error(
        "angka ke-7 sampai ke-12 NIK adalah tanggal lahir (DDMMYY, tanggal + 40 untuk perempuan), tetapi bukan tanggal yang ada; periksa kembali KTP-el"
    )]
    BirthDate,
    /// Digits 13–16 are 0000.
    #[error("4 angka terakhir NIK adalah nomor urut dan tidak mungkin 0000")]
    Serial,
}

impl Nik {
    /// Parse a NIK and check it as Dukcapil writes it: 16 digits; digits 1–6 the kecamatan of
    /// registration (a kabupaten/kota and a kecamatan of the region data); digits 7–12 a date of
    /// birth `DDMMYY`, the day plus 40 for women, a real date in 19YY or 20YY (so 29 February
    /// only in a leap year); digits 13–16 a serial other than 0000. There is no checksum, so a
    /// NIK that passes can still belong to nobody; one that fails cannot be on a KTP-el.
    pub fn parse_issued(s: &str, regions: &crate::region::RegionIndex) -> Result<Self, NikError> {
        let count = s.chars().count();
        if count != 16 {
            return Err(NikError::Length(count));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NikError::NotDigits);
        }
        let b = s.as_bytes();
        let part = |i: usize, n: usize| &s[i..i + n];
        let regency = format!("{}.{}", part(0, 2), part(2, 2));
        if regions.get(&regency).is_none_or(|r| {
            !matches!(
                r.level,
                crate::region::UnitLevel::Kabupaten | crate::region::UnitLevel::Kota
            )
        }) {
            return Err(NikError::Regency);
        }
        let district = format!("{regency}.{}", part(4, 2));
        if regions
            .get(&district)
            .is_none_or(|r| r.level != crate::region::UnitLevel::Kecamatan)
        {
            return Err(NikError::District);
        }
        let num = |i: usize| i16::from(b[i] - b'0') * 10 + i16::from(b[i + 1] - b'0');
        let (day, month, year) = (num(6), num(8), num(10));
        let day = if day > 40 { day - 40 } else { day };
        let real = |century: i16| {
            i8::try_from(month)
                .ok()
                .zip(i8::try_from(day).ok())
                .is_some_and(|(m, d)| jiff::civil::Date::new(century + year, m, d).is_ok())
        };
        if !(real(1900) || real(2000)) {
            return Err(NikError::BirthDate);
        }
        if part(12, 4) == "0000" {
            return Err(NikError::Serial);
        }
        Ok(Self(s.to_owned()))
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

    fn regions() -> &'static crate::region::RegionIndex {
        crate::region::RegionIndex::embedded().expect("region data")
    }

    #[test]
    fn issued_niks_are_checked_as_dukcapil_writes_them() {
        let r = regions();
        // Batam Kota (21.71.10): a man born 1 January 1990, a woman born 5 December 1990.
        for ok in [
            "2171100101900001",
            "2171104512900001",
            // 29 February 2000 (a leap year), a woman; 31 December; Bunguran Timur, Natuna.
            "2171106902000123",
            "2171103112991234",
            "2103075506850009",
        ] {
            assert!(Nik::parse_issued(ok, r).is_ok(), "{ok}");
        }
        let bad = [
            ("0000000000000000", NikError::Regency),
            ("9999100101900001", NikError::Regency),
            ("2100100101900001", NikError::Regency), // 21.00 is no kabupaten/kota
            ("2171990101900001", NikError::District),
            ("2171100001900001", NikError::BirthDate), // day 0
            ("2171103201900001", NikError::BirthDate), // day 32
            ("2171104001900001", NikError::BirthDate), // day 40: neither a man's nor a woman's
            ("2171107201900001", NikError::BirthDate), // 72 − 40 = 32
            ("2171100113900001", NikError::BirthDate), // month 13
            ("2171100100900001", NikError::BirthDate), // month 0
            ("2171103102900001", NikError::BirthDate), // 31 February
            ("2171102902010001", NikError::BirthDate), // 29 February 1901 / 2001
            ("2171100101900000", NikError::Serial),
            ("217110010190000a", NikError::NotDigits),
            ("217110010190000١", NikError::NotDigits), // an Arabic-Indic digit
        ];
        for (nik, want) in bad {
            assert_eq!(Nik::parse_issued(nik, r).err(), Some(want), "{nik}");
        }
        // Every wrong digit count.
        for n in (0..40).filter(|&n| n != 16) {
            let s = "2".repeat(n);
            assert_eq!(Nik::parse_issued(&s, r).err(), Some(NikError::Length(n)));
        }
        // Messages say what to check and never repeat the digits.
        for e in [
            NikError::Length(15),
            NikError::NotDigits,
            NikError::Regency,
            NikError::District,
            NikError::BirthDate,
            NikError::Serial,
        ] {
            let m = e.to_string();
            assert!(m.contains("NIK") && !m.contains("2171"), "{m}");
        }
    }

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
