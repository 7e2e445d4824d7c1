//! Tracking codes: how an applicant follows a case without signing in.
//!
//! A code is `<base32 of the case id>.<base32 of a 128-bit tag>`, the tag being the tenant's
//! keyed digest (HMAC-SHA-256 through the [`Pseudonymizer`]) of the case id under a label of its
//! own. Nothing is stored: a code is checked by recomputing its tag, so codes can be neither
//! enumerated (the tag is unguessable) nor forged (the key never leaves the server).

use alur_core::Pseudonymizer;
use alur_core::letter::base32;

const LABEL: &[u8] = b"alur/tracking-code/v1\0";
const TAG_BYTES: usize = 16;

fn tag(p: &Pseudonymizer, case_id: &str) -> [u8; TAG_BYTES] {
    let mut msg = Vec::with_capacity(LABEL.len() + case_id.len());
    msg.extend_from_slice(LABEL);
    msg.extend_from_slice(case_id.as_bytes());
    let d = p.digest(&msg);
    let mut out = [0u8; TAG_BYTES];
    out.copy_from_slice(&d[..TAG_BYTES]);
    out
}

/// A case's public reference (the Open311 request lists): stable, unguessable and not a
/// tracking code, so a published list opens no tracking page.
pub fn public_ref(p: &Pseudonymizer, case_id: &str) -> String {
    let mut msg = Vec::with_capacity(32 + case_id.len());
    msg.extend_from_slice(b"alur/public-reference/v1\0");
    msg.extend_from_slice(case_id.as_bytes());
    format!("r{}", base32(&p.digest(&msg)[..15]))
}

/// The tracking code of a case.
pub fn code(p: &Pseudonymizer, case_id: &str) -> String {
    format!(
        "{}.{}",
        base32(case_id.as_bytes()),
        base32(&tag(p, case_id))
    )
}

/// The case id a code names: a short code ([`short_case_id`]) or a full code whose tag is
/// genuine.
pub fn case_id(p: &Pseudonymizer, code: &str) -> Option<String> {
    if !code.contains('.') {
        return short_case_id(p, code);
    }
    let (id, t) = code.trim().split_once('.')?;
    if id.len() > 260 {
        return None;
    }
    let id = String::from_utf8(decode_base32(id)?).ok()?;
    let given = decode_base32(t)?;
    let expected = tag(p, &id);
    if given.len() != TAG_BYTES {
        return None;
    }
    // Constant time: the comparison must not tell how much of a guessed tag was right.
    let diff = given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (diff == 0).then_some(id)
}

// ---- short codes ---------------------------------------------------------------------------
//
// A short code is what a person reads off a receipt and types or says on the phone: twelve
// symbols, `K7PQ-2MVH-9CWX`, from an alphabet of 29 that leaves out 0, 1, I, L, O, U and Z (read
// as one another or as other letters). Eleven symbols carry a 52-bit random number `s`; the
// twelfth is a check symbol that catches every single wrong symbol and every swap of two
// neighbours. Nothing is stored: the case submitted with the code gets the id `w` + the 13 hex
// digits of `P(s)`, where `P` is a keyed permutation of 52-bit numbers (a four-round Feistel
// network over the tenant's keyed digest), so the code gives the case id and the case id gives
// its code back, but only with the tenant's key: a case id in an audit export or an officer's
// page says nothing about its code. How many guesses the public rate limit allows and the
// chance of a hit: docs/CONFIG.md, "Tracking codes".

/// The symbols of short codes, in value order.
pub const SHORT_ALPHABET: &[u8; 29] = b"23456789ABCDEFGHJKMNPQRSTVWXY";
/// Bits of the random number a short code carries.
pub const SHORT_BITS: u32 = 52;
/// Symbols of a short code: 11 for the number, 1 check symbol.
pub const SHORT_LEN: usize = 12;
const SHORT_DATA: usize = SHORT_LEN - 1;
const SHORT_LABEL: &[u8] = b"alur/short-code/v1\0";
const HALF: u32 = SHORT_BITS / 2;
const HALF_MASK: u64 = (1 << HALF) - 1;
/// Case ids of short codes: this prefix and 13 hex digits.
const SHORT_ID_PREFIX: char = 'w';

fn feistel_round(p: &Pseudonymizer, round: u8, half: u64) -> u64 {
    let mut msg = Vec::with_capacity(SHORT_LABEL.len() + 9);
    msg.extend_from_slice(SHORT_LABEL);
    msg.push(round);
    msg.extend_from_slice(&half.to_be_bytes());
    let d = p.digest(&msg);
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) & HALF_MASK
}

/// The keyed permutation of 52-bit numbers between a short code's number and its case id.
fn permute(p: &Pseudonymizer, v: u64) -> u64 {
    let (mut l, mut r) = ((v >> HALF) & HALF_MASK, v & HALF_MASK);
    for round in 0..4 {
        (l, r) = (r, l ^ feistel_round(p, round, r));
    }
    (l << HALF) | r
}

fn unpermute(p: &Pseudonymizer, v: u64) -> u64 {
    let (mut l, mut r) = ((v >> HALF) & HALF_MASK, v & HALF_MASK);
    for round in (0..4).rev() {
        (l, r) = (r ^ feistel_round(p, round, l), l);
    }
    (l << HALF) | r
}

/// The check symbol's value for eleven symbol values: the one that makes
/// `sum((i + 1) * v[i]) mod 29` zero over all twelve. 29 is prime and the weights 1–12 differ,
/// so a wrong symbol or two neighbours swapped always change the sum.
pub fn check_value(data: &[u8]) -> u8 {
    let sum: u32 = data
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u32 + 1) * u32::from(v))
        .sum();
    // Solve sum + 12 c = 0 (mod 29); 12 * 17 = 204 = 7 * 29 + 1, so 1/12 = 17.
    let c = (29 - sum % 29) % 29 * 17 % 29;
    c as u8
}

/// A fresh case id for a submission that will be tracked by a short code.
pub fn new_short_case_id(p: &Pseudonymizer) -> Option<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).ok()?;
    let s = u64::from_be_bytes(b) & ((1 << SHORT_BITS) - 1);
    Some(format!("{SHORT_ID_PREFIX}{:013x}", permute(p, s)))
}

/// A case's short code (`K7PQ-2MVH-9CWX`), when its id was made by [`new_short_case_id`].
pub fn short_code(p: &Pseudonymizer, case_id: &str) -> Option<String> {
    let hex = case_id.strip_prefix(SHORT_ID_PREFIX)?;
    if hex.len() != 13 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut s = unpermute(p, u64::from_str_radix(hex, 16).ok()?);
    let mut v = [0u8; SHORT_LEN];
    for slot in v[..SHORT_DATA].iter_mut().rev() {
        *slot = (s % 29) as u8;
        s /= 29;
    }
    v[SHORT_DATA] = check_value(&v[..SHORT_DATA]);
    let mut out = String::with_capacity(SHORT_LEN + 2);
    for (i, &x) in v.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(SHORT_ALPHABET[usize::from(x)]));
    }
    Some(out)
}

/// Why a typed short code is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShortCodeError {
    /// Not twelve symbols (spaces and dashes aside).
    Length(usize),
    /// A character that no code has (0, 1, I, L, O, U, Z or punctuation).
    Symbol(char),
    /// The check symbol does not match: a symbol was mistyped or two were swapped.
    Check,
}

impl ShortCodeError {
    /// What to tell the person who typed it, in Indonesian.
    pub fn indonesian(&self) -> String {
        match self {
            Self::Length(n) => format!(
                "Kode pelacakan terdiri dari 12 huruf dan angka (tanda hubung boleh diabaikan); yang diketik {n}."
            ),
            Self::Symbol(c) => format!(
                "Karakter “{c}” tidak dipakai dalam kode pelacakan (kode tidak memakai 0, 1, I, L, O, U dan Z); periksa kembali tanda terima Anda."
            ),
            Self::Check => "Kode pelacakan tidak cocok: mungkin ada huruf yang salah ketik atau tertukar; periksa kembali tanda terima Anda.".into(),
        }
    }
}

/// The symbol values of a typed short code: spaces and dashes dropped, any case.
pub fn parse_short(code: &str) -> Result<[u8; SHORT_LEN], ShortCodeError> {
    let symbols: Vec<char> = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if symbols.len() != SHORT_LEN {
        return Err(ShortCodeError::Length(symbols.len()));
    }
    let mut v = [0u8; SHORT_LEN];
    for (slot, c) in v.iter_mut().zip(&symbols) {
        let up = c.to_ascii_uppercase();
        let pos = u8::try_from(up)
            .ok()
            .and_then(|b| SHORT_ALPHABET.iter().position(|&a| a == b))
            .ok_or(ShortCodeError::Symbol(*c))?;
        *slot = pos as u8;
    }
    if check_value(&v[..SHORT_DATA]) != v[SHORT_DATA] {
        return Err(ShortCodeError::Check);
    }
    Ok(v)
}

/// The case id a short code names (whether such a case exists is the store's to say).
pub fn short_case_id(p: &Pseudonymizer, code: &str) -> Option<String> {
    let v = parse_short(code).ok()?;
    let s = v[..SHORT_DATA]
        .iter()
        .fold(0u64, |acc, &x| acc * 29 + u64::from(x));
    if s >> SHORT_BITS != 0 {
        return None;
    }
    Some(format!("{SHORT_ID_PREFIX}{:013x}", permute(p, s)))
}

/// Decode lowercase (or uppercase) RFC 4648 base32 without padding; `None` on any other input
/// or non-zero trailing bits (so every byte string has exactly one code).
pub fn decode_base32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for b in s.bytes() {
        let v = match b.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits >= 5 || buffer != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Pseudonymizer {
        Pseudonymizer::new([7u8; 32]).expect("key")
    }

    #[test]
    fn base32_round_trips() {
        for data in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"abcde",
            b"19cf-000001",
        ] {
            assert_eq!(decode_base32(&base32(data)).as_deref(), Some(data));
        }
        assert_eq!(decode_base32("a1"), None);
        // Non-zero trailing bits are not a canonical encoding.
        assert_eq!(decode_base32("ab"), None);
    }

    #[test]
    fn short_codes_round_trip_through_their_case_ids() {
        let p = key();
        for _ in 0..2_000 {
            let id = new_short_case_id(&p).expect("random");
            let code = short_code(&p, &id).expect("a short id");
            assert_eq!(code.len(), SHORT_LEN + 2, "{code}");
            assert_eq!(short_case_id(&p, &code).as_deref(), Some(id.as_str()));
            assert_eq!(case_id(&p, &code).as_deref(), Some(id.as_str()));
            // Typed loosely: lowercase, spaces for dashes, no separators.
            let loose = code.to_lowercase().replace('-', " ");
            assert_eq!(short_case_id(&p, &loose).as_deref(), Some(id.as_str()));
            assert_eq!(
                short_case_id(&p, &code.replace('-', "")).as_deref(),
                Some(id.as_str())
            );
            // Another key reads another case id from the same code.
            let q = Pseudonymizer::new([8u8; 32]).expect("key");
            assert_ne!(short_case_id(&q, &code).as_deref(), Some(id.as_str()));
        }
        // Ids made otherwise have no short code.
        assert_eq!(short_code(&p, "19cf-000001"), None);
        assert_eq!(short_code(&p, "wxyz"), None);
    }

    #[test]
    fn the_check_symbol_catches_every_typo_and_every_swap_of_neighbours() {
        let p = key();
        let mut tried = 0;
        for _ in 0..200 {
            let code = short_code(&p, &new_short_case_id(&p).expect("random")).expect("code");
            let plain: Vec<u8> = code.bytes().filter(|&b| b != b'-').collect();
            for i in 0..SHORT_LEN {
                for &other in SHORT_ALPHABET.iter().filter(|&&a| a != plain[i]) {
                    let mut typo = plain.clone();
                    typo[i] = other;
                    let typo = String::from_utf8(typo).expect("ascii");
                    assert_eq!(parse_short(&typo), Err(ShortCodeError::Check), "{typo}");
                    tried += 1;
                }
                if i + 1 < SHORT_LEN && plain[i] != plain[i + 1] {
                    let mut swapped = plain.clone();
                    swapped.swap(i, i + 1);
                    let swapped = String::from_utf8(swapped).expect("ascii");
                    assert_eq!(
                        parse_short(&swapped),
                        Err(ShortCodeError::Check),
                        "{swapped}"
                    );
                    tried += 1;
                }
            }
        }
        assert!(tried > 60_000);
    }

    #[test]
    fn typed_codes_are_refused_with_the_reason() {
        assert_eq!(parse_short("K7PQ-2MVH"), Err(ShortCodeError::Length(8)));
        assert_eq!(
            parse_short("K7PQ-2MVH-9CW0"),
            Err(ShortCodeError::Symbol('0'))
        );
        assert_eq!(
            parse_short("K7PQ-2MVH-9CWI"),
            Err(ShortCodeError::Symbol('I'))
        );
        for e in [
            ShortCodeError::Length(3),
            ShortCodeError::Symbol('O'),
            ShortCodeError::Check,
        ] {
            assert!(e.indonesian().to_lowercase().contains("kode"), "{e:?}");
        }
        // The permutation is one: distinct numbers, distinct ids.
        let p = key();
        let ids: std::collections::BTreeSet<u64> = (0..5_000u64).map(|s| permute(&p, s)).collect();
        assert_eq!(ids.len(), 5_000);
        for s in [0, 1, (1 << SHORT_BITS) - 1, 123_456_789] {
            assert_eq!(unpermute(&p, permute(&p, s)), s);
            assert!(permute(&p, s) < 1 << SHORT_BITS);
        }
    }

    #[test]
    fn codes_verify_and_resist_tampering() {
        let p = key();
        let c = code(&p, "19cf-000001");
        assert_eq!(case_id(&p, &c).as_deref(), Some("19cf-000001"));
        // Another case's id with this tag, a flipped tag character, another key: all refused.
        let (_, t) = c.split_once('.').expect("dot");
        let other = format!("{}.{t}", base32(b"19cf-000002"));
        assert_eq!(case_id(&p, &other), None);
        let mut flipped = c.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            case_id(&p, &String::from_utf8(flipped).expect("ascii")),
            None
        );
        let q = Pseudonymizer::new([8u8; 32]).expect("key");
        assert_eq!(case_id(&q, &c), None);
        assert_eq!(case_id(&p, "19cf-000001"), None);
    }
}
