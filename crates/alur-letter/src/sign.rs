//! Signing: the [`Signer`] contract, the secret types, and [`LocalEd25519Signer`].

use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Debug` and `Display` print `***`; the text is wiped from memory when dropped. It is
        /// neither `Clone` nor serialisable, so it cannot be copied into a log or a store by
        /// accident.
        pub struct $name(String);

        impl $name {
            /// Wrap a secret.
            pub fn new(secret: impl Into<String>) -> Self {
                Self(secret.into())
            }

            /// The secret itself, for the one place that must send it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Whether it is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }
    };
}

secret_type!(
    /// The signing official's personal passphrase (for BSrE: the passphrase of their
    /// certificate). Typed by the official for each signing, never delegated, never stored.
    Passphrase
);

secret_type!(
    /// A client secret for a signing service.
    ClientSecret
);

/// A signed letter.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The PDF: with an embedded signature (a signing service), or unchanged (a detached
    /// signature).
    pub pdf: Vec<u8>,
    /// The detached signature, when the signature is not inside the PDF.
    pub signature: Option<Vec<u8>>,
    /// Who signed (NIK or NIP of the official).
    pub signer_id: String,
    /// How: [`LocalEd25519Signer::ALGORITHM`] or [`crate::HttpSigner::ALGORITHM`].
    pub algorithm: String,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("pdf_bytes", &self.pdf.len())
            .field("signature_bytes", &self.signature.as_ref().map(Vec::len))
            .field("signer_id", &self.signer_id)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// A signing failure. No variant carries the passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The passphrase does not open the signer's certificate or key.
    #[error(
        "the passphrase for signer {signer_id} was rejected; the official must type their own passphrase again (it is never stored)"
    )]
    WrongPassphrase {
        /// The signer.
        signer_id: String,
    },
    /// The signing service refused the request for another reason (unknown signer, expired or
    /// revoked certificate, bad client credentials, a document it cannot sign).
    #[error("the signing service refused to sign (http {status}{}): {message}", code_text(*code))]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The service's own error code, when it sent one.
        code: Option<i64>,
        /// The service's message (the passphrase, should it echo it, masked).
        message: String,
    },
    /// The signing service could not be reached or failed (timeout, refused connection, 5xx):
    /// trying again later may work.
    #[error("the signing service is unavailable ({message}); try again later")]
    Unavailable {
        /// What happened.
        message: String,
    },
    /// A local signing key could not be loaded.
    #[error("signing key {source_name}: {message}")]
    Key {
        /// The file or environment variable.
        source_name: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The signer is misconfigured (e.g. a base URL that does not parse).
    #[error("signer configuration: {message}")]
    Config {
        /// What is wrong and what to do.
        message: String,
    },
    /// A detached signature does not match the document.
    #[error("the signature does not match the document or the key")]
    BadSignature,
}

impl SignError {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

fn code_text(code: Option<i64>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}

/// Signs a letter's PDF on behalf of an official.
///
/// # Behavior
///
/// - `signer_id` is the official's NIK (BSrE) or NIP; `passphrase` is theirs, typed for this
///   signing. An implementation never stores, logs or returns the passphrase, including in error
///   messages.
/// - A wrong passphrase is [`SignError::WrongPassphrase`]; an outage is a temporary
///   [`SignError::Unavailable`].
/// - The returned [`Signed::pdf`] is the document to issue and hash.
#[async_trait]
pub trait Signer: Send + Sync {
    /// Sign `pdf` as `signer_id`.
    async fn sign(
        &self,
        pdf: Vec<u8>,
        signer_id: &str,
        passphrase: &Passphrase,
    ) -> Result<Signed, SignError>;
}

/// A local Ed25519 key for demonstrations and tests: signs the SHA-256 of the PDF and returns
/// the signature detached, the PDF unchanged. Not a certified electronic signature.
///
/// The key is a 32-byte seed: a file of exactly 32 bytes, or 64 hexadecimal characters in a
/// file or an environment variable. When a passphrase is set with
/// [`LocalEd25519Signer::with_passphrase`], signing checks it, so a demonstration shows the
/// wrong-passphrase path; otherwise any passphrase is accepted.
pub struct LocalEd25519Signer {
    key: SigningKey,
    passphrase_sha256: Option<[u8; 32]>,
}

impl fmt::Debug for LocalEd25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEd25519Signer")
            .field("public_key", &hex(&self.public_key()))
            .field("checks_passphrase", &self.passphrase_sha256.is_some())
            .finish()
    }
}

impl LocalEd25519Signer {
    /// The algorithm name in [`Signed::algorithm`].
    pub const ALGORITHM: &'static str = "ed25519-sha256";

    /// A signer with this seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
            passphrase_sha256: None,
        }
    }

    /// The seed in a file: 32 raw bytes, or 64 hexadecimal characters.
    pub fn from_seed_file(path: &Path) -> Result<Self, SignError> {
        let source_name = path.display().to_string();
        let mut bytes = std::fs::read(path).map_err(|e| SignError::Key {
            source_name: source_name.clone(),
            message: format!("cannot read it ({e})"),
        })?;
        let result = if bytes.len() == 32 {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&bytes);
            let s = Self::from_seed(&seed);
            seed.zeroize();
            Ok(s)
        } else {
            match std::str::from_utf8(&bytes) {
                Ok(text) => Self::from_hex(text, &source_name),
                Err(_) => Err(SignError::Key {
                    source_name,
                    message: "expected 32 bytes or 64 hexadecimal characters".into(),
                }),
            }
        };
        bytes.zeroize();
        result
    }

    /// The seed as 64 hexadecimal characters in the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self, SignError> {
        let mut text = std::env::var(var).map_err(|_| SignError::Key {
            source_name: var.to_owned(),
            message: "the environment variable is not set (or not UTF-8); set it to a 32-byte seed as 64 hexadecimal characters".into(),
        })?;
        let result = Self::from_hex(&text, var);
        text.zeroize();
        result
    }

    fn from_hex(text: &str, source_name: &str) -> Result<Self, SignError> {
        let mut seed = [0u8; 32];
        let ok = decode_hex(text.trim(), &mut seed);
        let result = if ok {
            Ok(Self::from_seed(&seed))
        } else {
            Err(SignError::Key {
                source_name: source_name.to_owned(),
                message: "expected 32 bytes or 64 hexadecimal characters".into(),
            })
        };
        seed.zeroize();
        result
    }

    /// Require this passphrase when signing (for demonstrations of the wrong-passphrase path).
    pub fn with_passphrase(mut self, passphrase: &Passphrase) -> Self {
        self.passphrase_sha256 = Some(Sha256::digest(passphrase.expose_secret().as_bytes()).into());
        self
    }

    /// The public key (32 bytes), for verifiers.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Check a detached signature made by this key.
    pub fn verify(&self, pdf: &[u8], signature: &[u8]) -> Result<(), SignError> {
        verify_ed25519(&self.public_key(), pdf, signature)
    }
}

/// Check a detached [`LocalEd25519Signer`] signature of `pdf` against a public key.
pub fn verify_ed25519(
    public_key: &[u8; 32],
    pdf: &[u8],
    signature: &[u8],
) -> Result<(), SignError> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SignError::BadSignature)?;
    let sig = Signature::from_slice(signature).map_err(|_| SignError::BadSignature)?;
    key.verify(&Sha256::digest(pdf), &sig)
        .map_err(|_| SignError::BadSignature)
}

#[async_trait]
impl Signer for LocalEd25519Signer {
    async fn sign(
        &self,
        pdf: Vec<u8>,
        signer_id: &str,
        passphrase: &Passphrase,
    ) -> Result<Signed, SignError> {
        if let Some(expected) = &self.passphrase_sha256 {
            let given: [u8; 32] = Sha256::digest(passphrase.expose_secret().as_bytes()).into();
            // Compare digests without an early exit.
            let diff = given
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff != 0 {
                return Err(SignError::WrongPassphrase {
                    signer_id: signer_id.to_owned(),
                });
            }
        }
        let signature = self.key.sign(&Sha256::digest(&pdf)).to_bytes().to_vec();
        Ok(Signed {
            pdf,
            signature: Some(signature),
            signer_id: signer_id.to_owned(),
            algorithm: Self::ALGORITHM.to_owned(),
        })
    }
}

fn decode_hex(text: &str, out: &mut [u8; 32]) -> bool {
    let b = text.as_bytes();
    if b.len() != 64 {
        return false;
    }
    for (i, pair) in b.chunks(2).enumerate() {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return false;
        };
        out[i] = (hi << 4) | lo;
    }
    true
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
