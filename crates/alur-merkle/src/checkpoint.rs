//! Signed tree heads: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes, Ed25519.
//!
//! ```text
//! example.org/regency/3201
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//!
//! — example.org/regency/3201 Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
//! ```
//!
//! The body is the origin, the tree size in decimal, the base64 root and optional extension
//! lines, each ended by a newline. A blank line separates it from the signature lines
//! `— <key name> <base64(key id || signature)>` (the dash is U+2014). The key id is the first
//! four bytes of `SHA-256(key name || 0x0A || 0x01 || public key)`.
//!
//! Keys are exchanged in the note verifier-key form `<name>+<hex id>+<base64(0x01 || public
//! key)>` ([`CheckpointVerifier`]'s `Display` and `FromStr`) and the signer-key form
//! `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`
//! ([`CheckpointSigner::from_signer_key`]).
//!
//! [`parse_and_verify`] checks the signature but not the origin: the caller must compare
//! [`Checkpoint::origin`] with the log it expects (by convention the key name).

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::Hash;

/// Signature type byte of Ed25519 note signatures.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// The most signature lines [`parse_and_verify`] accepts in one note.
pub const MAX_SIGNATURES: usize = 100;

/// The start of a signature line: U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Why a key could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key names must be non-empty and contain no spaces, control characters or `+`.
    #[error("invalid key name")]
    InvalidName,
    /// The key string does not have the `<name>+<hex id>+<base64 key>` shape.
    #[error("malformed key string")]
    Malformed,
    /// The key data does not start with the Ed25519 signature type `0x01`.
    #[error("unsupported signature type {0:#04x}")]
    UnsupportedType(u8),
    /// The key id in the string is not the id of the key.
    #[error("key id {stated:08x} does not match the key (expected {actual:08x})")]
    KeyIdMismatch {
        /// The id written in the key string.
        stated: u32,
        /// The id computed from the name and key.
        actual: u32,
    },
    /// The bytes are not a usable Ed25519 public key (invalid or small-order point).
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
}

/// Why a checkpoint could not be signed, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note contains an ASCII control character other than newline.
    #[error("the note contains a control character")]
    ControlCharacter,
    /// The note does not end with a newline, or has no blank line before the signatures.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A signature line is malformed.
    #[error("malformed signature line {line}")]
    MalformedSignature {
        /// The 1-based number of the signature line.
        line: usize,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("the note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// The trusted key signed the note more than once.
    #[error("the note has more than one signature by the trusted key")]
    DuplicateSignature,
    /// No signature line is by the trusted key (same name and key id).
    #[error("the note is not signed by the trusted key")]
    UnknownKey,
    /// The trusted key's signature does not verify over the note body.
    #[error("the signature by the trusted key does not verify")]
    BadSignature,
    /// The checkpoint body is malformed.
    #[error("malformed checkpoint body: {0}")]
    MalformedBody(&'static str),
}

/// The key id of an Ed25519 note key: `SHA-256(name || 0x0A || 0x01 || public key)[..4]`, big
/// endian.
#[must_use]
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_SIGNATURE_TYPE]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest[..4]);
    u32::from_be_bytes(id)
}

fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

fn check_key_name(name: &str) -> Result<(), KeyError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(KeyError::InvalidName)
    }
}

/// Splits `<name>+<8 hex digits>+<base64 0x01 || 32 bytes>` and checks its shape.
fn split_key_string(s: &str) -> Result<(&str, u32, Zeroizing<Vec<u8>>), KeyError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed);
    };
    check_key_name(name)?;
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Malformed);
    }
    let stated = u32::from_str_radix(hex, 16).map_err(|_| KeyError::Malformed)?;
    let data = Zeroizing::new(BASE64.decode(b64).map_err(|_| KeyError::Malformed)?);
    match data.first() {
        Some(&ED25519_SIGNATURE_TYPE) => {}
        Some(&other) => return Err(KeyError::UnsupportedType(other)),
        None => return Err(KeyError::Malformed),
    }
    if data.len() != 33 {
        return Err(KeyError::Malformed);
    }
    Ok((name, stated, data))
}

fn key_string(name: &str, id: u32, key: &[u8; 32]) -> Zeroizing<String> {
    let mut data = Zeroizing::new([0u8; 33]);
    data[0] = ED25519_SIGNATURE_TYPE;
    data[1..].copy_from_slice(key);
    let mut out = Zeroizing::new(format!("{name}+{id:08x}+"));
    BASE64.encode_string(data.as_slice(), &mut out);
    out
}

/// A tree head in the C2SP `tlog-checkpoint` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `example.org/regency/3201`; non-empty, one line.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The tree head `MTH(D[size])`.
    pub root: Hash,
    /// Optional opaque extension lines (each non-empty, without newline). Not recommended.
    pub extensions: Vec<String>,
}

/// ASCII control characters other than newline are not allowed anywhere in a note.
fn is_forbidden(c: char) -> bool {
    c < ' ' && c != '\n'
}

/// A body line: non-empty, no newline, no control character.
fn check_line(line: &str, what: &'static str) -> Result<(), CheckpointError> {
    if line.is_empty() || line.chars().any(|c| c < ' ') {
        return Err(CheckpointError::MalformedBody(what));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    #[must_use]
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note body (the signed text), ending with a newline.
    ///
    /// Fails if the origin or an extension line is empty or contains a control character.
    pub fn body(&self) -> Result<String, CheckpointError> {
        check_line(&self.origin, "origin line")?;
        for extension in &self.extensions {
            check_line(extension, "extension line")?;
        }
        let mut body = format!("{}\n{}\n", self.origin, self.size);
        BASE64.encode_string(self.root, &mut body);
        body.push('\n');
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        Ok(body)
    }

    /// Parses a checkpoint body (the signed text, ending with a newline), strictly: canonical
    /// decimal size, canonical base64 32-byte root, non-empty lines.
    ///
    /// This does not verify anything; use [`parse_and_verify`] on a signed note.
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        if body.chars().any(is_forbidden) {
            return Err(CheckpointError::ControlCharacter);
        }
        let text = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::MalformedBody(
                "does not end with a newline",
            ))?;
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::MalformedBody("fewer than three lines"));
        };
        check_line(origin, "origin line")?;
        let size_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        if !size_ok {
            return Err(CheckpointError::MalformedBody(
                "tree size is not canonical decimal",
            ));
        }
        let size = size
            .parse::<u64>()
            .map_err(|_| CheckpointError::MalformedBody("tree size out of range"))?;
        let root_bytes = BASE64
            .decode(root)
            .map_err(|_| CheckpointError::MalformedBody("root hash is not base64"))?;
        let root_hash = Hash::try_from(root_bytes.as_slice())
            .map_err(|_| CheckpointError::MalformedBody("root hash is not 32 bytes"))?;
        let mut extensions = Vec::new();
        for line in lines {
            check_line(line, "empty extension line")?;
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root: root_hash,
            extensions,
        })
    }
}

/// Signs checkpoints with an Ed25519 key under a key name. The secret is wiped on drop and
/// never shown by `Debug`.
#[derive(Clone)]
pub struct CheckpointSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A signer from a key name and a 32-byte Ed25519 secret key (seed).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses the signer-key form `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`; the id
    /// must be the id of the derived public key.
    pub fn from_signer_key(s: &str) -> Result<Self, KeyError> {
        let rest = s
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(KeyError::Malformed)?;
        let (name, stated, data) = split_key_string(rest)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&data[1..]);
        let signer = Self::from_seed(name, &seed)?;
        if signer.id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                actual: signer.id,
            });
        }
        Ok(signer)
    }

    /// The signer-key form `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`. This contains
    /// the secret: store it like one.
    #[must_use]
    pub fn to_signer_key(&self) -> Zeroizing<String> {
        let body = key_string(&self.name, self.id, self.key.as_bytes());
        Zeroizing::new(format!("{SIGNER_KEY_PREFIX}{}", body.as_str()))
    }

    /// The key name written in signature lines.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> CheckpointVerifier {
        CheckpointVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `checkpoint` and returns the complete signed note text.
    ///
    /// Fails only if the checkpoint's origin or extension lines are invalid (see
    /// [`Checkpoint::body`]).
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, CheckpointError> {
        let mut note = checkpoint.body()?;
        let signature = self.key.sign(note.as_bytes());
        let mut blob = [0u8; 4 + 64];
        blob[..4].copy_from_slice(&self.id.to_be_bytes());
        blob[4..].copy_from_slice(&signature.to_bytes());
        note.push('\n');
        note.push_str(SIGNATURE_PREFIX);
        note.push_str(&self.name);
        note.push(' ');
        BASE64.encode_string(blob, &mut note);
        note.push('\n');
        Ok(note)
    }
}

/// Verifies checkpoints signed by one trusted Ed25519 key.
///
/// `Display` and `FromStr` use the verifier-key form `<name>+<hex id>+<base64(0x01 || key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckpointVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for CheckpointVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CheckpointVerifier")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl CheckpointVerifier {
    /// A verifier from a key name and a 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, public_key),
            key,
        })
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The 32-byte Ed25519 public key.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl fmt::Display for CheckpointVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&key_string(&self.name, self.id, self.key.as_bytes()))
    }
}

impl FromStr for CheckpointVerifier {
    type Err = KeyError;

    /// Parses `<name>+<hex id>+<base64(0x01 || public key)>`; the id must match the key.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (name, stated, data) = split_key_string(s)?;
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(&data[1..]);
        let verifier = Self::new(name, &public_key)?;
        if verifier.id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                actual: verifier.id,
            });
        }
        Ok(verifier)
    }
}

/// Parses a signed checkpoint note and verifies it against `verifier`.
///
/// Signatures by other keys (a different name or key id) are ignored, as the signed-note
/// specification requires; at least one signature must be by `verifier`, and every signature
/// by it must verify (strict Ed25519 verification). The body is parsed only once verified.
/// The origin is not checked against anything: compare it with the log you expect.
pub fn parse_and_verify(
    text: &str,
    verifier: &CheckpointVerifier,
) -> Result<Checkpoint, CheckpointError> {
    if text.chars().any(is_forbidden) {
        return Err(CheckpointError::ControlCharacter);
    }
    let text = text
        .strip_suffix('\n')
        .ok_or(CheckpointError::MalformedNote(
            "does not end with a newline",
        ))?;
    // The body is separated from the signatures by the last blank line; it keeps its final
    // newline. What follows is one or more signature lines, none of them empty.
    let (body, signatures) = text
        .rsplit_once("\n\n")
        .ok_or(CheckpointError::MalformedNote(
            "no blank line before the signatures",
        ))?;
    let body = format!("{body}\n");
    if signatures.is_empty() {
        return Err(CheckpointError::MalformedNote("no signatures"));
    }

    let mut verified = false;
    for (number, line) in signatures.split('\n').enumerate() {
        let line_number = number + 1;
        if line_number > MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures);
        }
        let malformed = || CheckpointError::MalformedSignature { line: line_number };
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(malformed)?;
        let (name, b64) = rest.split_once(' ').ok_or_else(malformed)?;
        if !is_valid_key_name(name) {
            return Err(malformed());
        }
        let blob = BASE64.decode(b64).map_err(|_| malformed())?;
        let Some((id, signature)) = blob.split_first_chunk::<4>() else {
            return Err(malformed());
        };
        if signature.is_empty() {
            return Err(malformed());
        }
        if name != verifier.name || u32::from_be_bytes(*id) != verifier.id {
            continue;
        }
        if verified {
            return Err(CheckpointError::DuplicateSignature);
        }
        let signature =
            <&[u8; 64]>::try_from(signature).map_err(|_| CheckpointError::BadSignature)?;
        verifier
            .key
            .verify_strict(body.as_bytes(), &Signature::from_bytes(signature))
            .map_err(|_| CheckpointError::BadSignature)?;
        verified = true;
    }
    if !verified {
        return Err(CheckpointError::UnknownKey);
    }
    Checkpoint::parse_body(&body)
}
