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

/// The case id a code names, when its tag is genuine.
pub fn case_id(p: &Pseudonymizer, code: &str) -> Option<String> {
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
