//! Webhook signatures: `v1=` hex HMAC-SHA256 over `<timestamp>.<body>`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Header carrying the signature (`v1=<hex>`).
pub const SIGNATURE_HEADER: &str = "x-alur-signature";
/// Header carrying the Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-alur-timestamp";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `v1=<64 hex digits>`.
    #[error("malformed signature header")]
    Malformed,
    /// The timestamp is not a number or is too far from now (a replay, or a wrong clock).
    #[error("timestamp outside the accepted window")]
    Stale,
    /// The MAC does not match.
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // The key block of RFC 2104 (hashed when longer than the block, zero-padded), built here so
    // that construction is infallible.
    let mut block = [0u8; 64];
    if secret.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        block[..secret.len()].copy_from_slice(secret);
    }
    let mut m = <Hmac<Sha256> as KeyInit>::new(&block.into());
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signature header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex(&mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Check a received request: the timestamp header within `tolerance_secs` of `now` (Unix
/// seconds) and the signature header matching (compared in constant time).
///
/// # Errors
/// [`SignatureError`] saying which check failed.
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::Stale)?;
    if (now - ts).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    let given = signature_header
        .trim()
        .strip_prefix("v1=")
        .and_then(unhex)
        .filter(|b| b.len() == 32)
        .ok_or(SignatureError::Malformed)?;
    mac(secret, ts, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let s = sign(b"rahasia", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("v1=") && s.len() == 67);
        verify(
            b"rahasia",
            "1700000000",
            &s,
            b"{\"a\":1}",
            1_700_000_010,
            300,
        )
        .unwrap();
        assert_eq!(
            verify(
                b"rahasia",
                "1700000000",
                &s,
                b"{\"a\":2}",
                1_700_000_010,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"lain", "1700000000", &s, b"{\"a\":1}", 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"rahasia",
                "1700000000",
                &s,
                b"{\"a\":1}",
                1_700_009_999,
                300
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"rahasia", "1700000000", "v1=zz", b"", 1_700_000_000, 300),
            Err(SignatureError::Malformed)
        );
    }
}
