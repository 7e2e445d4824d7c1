//! Outgoing letters (surat keluar): number formats, the letter record, and the store operations
//! a transition carries.
//!
//! A letter is **numbered** in the same transaction as the transition that completes its case
//! (an officer's final approval, or a deemed approval): the store takes the next number of the
//! letter's series (unit × series × year, the year in the unit's time zone) and writes the letter
//! row; a refused or rolled-back approval takes no number, and no number is taken twice.
//! It is **issued** by a later transition on the same case, once rendered and signed: the
//! [`crate::engine::EventKind::LetterIssued`] entry of the case's audit chain holds the number,
//! the digest of the verification token and the SHA-256 of the signed document, so the log
//! proves what was issued. A **revocation** is one more entry.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::model::{LetterSeries, MandateKind};

/// A parsed number format (see [`crate::model::LetterSettings::number_format`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    parts: Vec<Part>,
    width: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Classification,
    Sequence,
    Unit,
    Month,
    Year,
    Service,
}

/// The placeholder a [`NumberPattern`] holds for the sequence number.
pub const SEQUENCE_PLACEHOLDER: &str = "{nomor}";

impl NumberFormat {
    /// Parse a format; the error says what is wrong and what is allowed.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut width = None;
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                if rest[..open].contains('}') {
                    return Err("a `}` has no matching `{`".into());
                }
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(format!(
                    "`{{` at byte {} is never closed",
                    s.len() - rest.len() + open
                ));
            };
            let token = &rest[open + 1..open + close];
            let (name, arg) = match token.split_once(':') {
                Some((n, a)) => (n, Some(a)),
                None => (token, None),
            };
            let part = match (name, arg) {
                ("klasifikasi", None) => Part::Classification,
                ("unit", None) => Part::Unit,
                ("bulan", None) => Part::Month,
                ("tahun", None) => Part::Year,
                ("layanan", None) => Part::Service,
                ("nomor", a) => {
                    if width.is_some() {
                        return Err("`{nomor}` appears more than once".into());
                    }
                    let w = match a {
                        None => 1,
                        Some(a) => match a.parse::<u8>() {
                            Ok(w) if (1..=9).contains(&w) => w,
                            _ => {
                                return Err(format!(
                                    "`{{nomor:{a}}}`: the width must be a number from 1 to 9"
                                ));
                            }
                        },
                    };
                    width = Some(w);
                    Part::Sequence
                }
                _ => {
                    return Err(format!(
                        "unknown token `{{{token}}}`; use {{klasifikasi}}, {{nomor}} or {{nomor:N}}, {{unit}}, {{bulan}}, {{tahun}} or {{layanan}}"
                    ));
                }
            };
            parts.push(part);
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err("a `}` has no matching `{`".into());
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        let Some(width) = width else {
            return Err("the format must contain the sequence `{nomor}` (or `{nomor:4}`)".into());
        };
        Ok(Self { parts, width })
    }

    /// Everything but the sequence filled in: what the store completes with the number it takes.
    pub fn pattern(
        &self,
        classification: &str,
        unit: &str,
        service: &str,
        date: Date,
    ) -> NumberPattern {
        let mut text = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => text.push_str(t),
                Part::Classification => text.push_str(classification),
                Part::Sequence => text.push_str(SEQUENCE_PLACEHOLDER),
                Part::Unit => text.push_str(unit),
                Part::Month => text.push_str(roman_month(date.month())),
                Part::Year => text.push_str(&date.year().to_string()),
                Part::Service => text.push_str(service),
            }
        }
        NumberPattern {
            text,
            width: self.width,
        }
    }
}

/// A number with its sequence still to be filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberPattern {
    /// The number with [`SEQUENCE_PLACEHOLDER`] where the sequence goes.
    pub text: String,
    /// Zero-padding width of the sequence.
    pub width: u8,
}

impl NumberPattern {
    /// The number for sequence `seq`.
    pub fn fill(&self, seq: u64) -> String {
        let n = format!("{seq:0width$}", width = usize::from(self.width));
        self.text.replacen(SEQUENCE_PLACEHOLDER, &n, 1)
    }
}

/// The month (1–12) in Roman numerals, as Indonesian letter numbers write it.
pub fn roman_month(month: i8) -> &'static str {
    const ROMAN: [&str; 12] = [
        "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
    ];
    usize::try_from(month - 1)
        .ok()
        .and_then(|i| ROMAN.get(i))
        .copied()
        .unwrap_or("?")
}

/// The series key of a letter: what its sequence counts.
pub fn series_key(series: LetterSeries, classification: Option<&str>, service: &str) -> String {
    match series {
        LetterSeries::Classification => match classification {
            Some(c) => format!("klasifikasi:{c}"),
            None => format!("layanan:{service}"),
        },
        LetterSeries::Service => format!("layanan:{service}"),
        LetterSeries::Unit => "unit".into(),
    }
}

/// Where a letter is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterStatus {
    /// Numbered with the approval; not yet signed and issued.
    Numbered,
    /// Signed and issued.
    Issued,
    /// Revoked after issue.
    Revoked,
}

impl LetterStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numbered => "numbered",
            Self::Issued => "issued",
            Self::Revoked => "revoked",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "numbered" => Some(Self::Numbered),
            "issued" => Some(Self::Issued),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// Who signed, as they were on the day (name, NIP and position are kept with the letter, not
/// looked up later, so a later transfer or promotion does not change an issued letter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerRecord {
    /// Officer id.
    pub officer: String,
    /// Full name.
    pub name: String,
    /// NIP (civil-servant number), when the officer has one.
    pub nip: Option<String>,
    /// Position signed in, e.g. "Lurah Taman Baloi".
    pub position: String,
    /// `Plh.` or `Plt.` when signing on someone's behalf.
    pub mandate_kind: Option<MandateKind>,
    /// Mandate reference (the letter of assignment), when delegated.
    pub mandate_ref: Option<String>,
}

impl SignerRecord {
    /// The signature block's title: "Plh. Lurah Taman Baloi" or "Lurah Taman Baloi".
    pub fn title(&self) -> String {
        match self.mandate_kind {
            Some(k) => format!("{} {}", k.title(), self.position),
            None => self.position.clone(),
        }
    }
}

/// A letter as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// Tenant.
    pub tenant: String,
    /// Verification token (unguessable, ≥ 128 bits; the QR code carries it).
    pub token: String,
    /// Case.
    pub case_id: String,
    /// Issuing unit.
    pub unit: String,
    /// Service.
    pub service: String,
    /// Series key (see [`series_key`]).
    pub series: String,
    /// Year of the sequence (in the unit's time zone).
    pub year: i16,
    /// Sequence number within unit × series × year, from 1, without gaps.
    pub seq: u64,
    /// The formatted number.
    pub number: String,
    /// Status.
    pub status: LetterStatus,
    /// When it was numbered (the approval).
    pub numbered_at: Timestamp,
    /// When it was issued.
    pub issued_at: Option<Timestamp>,
    /// Last day of validity, when limited.
    pub valid_until: Option<Date>,
    /// SHA-256 (hex) of the issued document.
    pub document_sha256: Option<String>,
    /// Media type of the issued document.
    pub media_type: Option<String>,
    /// The signer.
    pub signer: Option<SignerRecord>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// How often the verification was looked up.
    pub scans: u64,
}

/// Number a letter (with the approving transition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterNumbering {
    /// Verification token.
    pub token: String,
    /// Issuing unit.
    pub unit: String,
    /// Service.
    pub service: String,
    /// Series key.
    pub series: String,
    /// Year of the sequence.
    pub year: i16,
    /// The number to fill in.
    pub pattern: NumberPattern,
    /// The approval's time.
    pub at: Timestamp,
}

/// Issue a numbered letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterIssuance {
    /// Verification token.
    pub token: String,
    /// When.
    pub at: Timestamp,
    /// SHA-256 (hex) of the signed document (stored beforehand with
    /// [`crate::Store::put_letter_document`]).
    pub document_sha256: String,
    /// Its media type.
    pub media_type: String,
    /// The signer.
    pub signer: SignerRecord,
    /// Last day of validity.
    pub valid_until: Option<Date>,
}

/// What a transition does to a letter, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LetterOp {
    /// Take the next number and record the letter.
    Number(LetterNumbering),
    /// Mark it issued with its document and signer.
    Issue(LetterIssuance),
    /// Mark it revoked.
    Revoke {
        /// Verification token.
        token: String,
        /// When.
        at: Timestamp,
    },
}

/// The applicant's form values of a case, from the stored payloads of its entries (`entries`, in
/// order: a later value of a field replaces an earlier one). The signer data of letter entries
/// is not form data and is left out; erased payloads are simply absent.
pub async fn form_fields<S: crate::Store + ?Sized>(
    store: &S,
    tenant: &str,
    entries: &[crate::audit::AuditEntry],
) -> Result<std::collections::BTreeMap<String, String>, crate::store::StoreError> {
    use crate::engine::EventKind;
    let mut fields = std::collections::BTreeMap::new();
    for e in entries {
        if e.payload_digest.is_none()
            || matches!(
                e.event,
                EventKind::LetterIssued { .. } | EventKind::LetterRevoked { .. }
            )
        {
            continue;
        }
        if let Some(p) = store.payload(tenant, &e.case_id, e.seq).await? {
            fields.extend(p.fields);
        }
    }
    Ok(fields)
}

/// Lowercase RFC 4648 base32 without padding (the token alphabet: no `0`/`1`/`8`/`9`, no case
/// to get wrong when typed from paper).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Whether `s` has the shape of a verification token (32 base32 characters).
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// SHA-256 of a token, hex: what the audit entry holds (the token itself is a bearer secret
/// printed on the letter).
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::config::hex(&Sha256::digest(token.as_bytes()))
}

/// SHA-256 of a document, hex.
pub fn document_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::config::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let f = NumberFormat::parse("{klasifikasi}/{nomor:4}/{unit}/{bulan}/{tahun}").unwrap();
        let p = f.pattern(
            "470",
            "21.71.01.1001",
            "batam-domisili",
            jiff::civil::date(2026, 3, 9),
        );
        assert_eq!(p.fill(7), "470/0007/21.71.01.1001/III/2026");
        assert_eq!(p.fill(12345), "470/12345/21.71.01.1001/III/2026");
        let f = NumberFormat::parse("{layanan}-{nomor}").unwrap();
        let p = f.pattern("x", "u", "sktm", jiff::civil::date(2026, 12, 31));
        assert_eq!(p.fill(3), "sktm-3");
        for bad in [
            "{nomor}{nomor}",
            "{tahun}",
            "{nomer}",
            "{nomor:0}",
            "{nomor:10}",
            "{nomor",
            "a}{nomor}",
        ] {
            assert!(NumberFormat::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(roman_month(12), "XII");
        assert_eq!(roman_month(4), "IV");
    }

    #[test]
    fn tokens() {
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        let t = base32(&[0xff; 20]);
        assert_eq!(t.len(), 32);
        assert!(looks_like_token(&t));
        assert!(!looks_like_token("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    }
}
