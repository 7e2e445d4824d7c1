//! Signed checkpoints: round trip, golden text, interoperability and tampering.

use alur_merkle::checkpoint::{
    Checkpoint, CheckpointError, CheckpointSigner, CheckpointVerifier, KeyError, key_id,
    parse_and_verify,
};
use alur_merkle::{Hash, leaf_hash, root};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

const NAME: &str = "alur.example/kab-bandung";

fn seed() -> [u8; 32] {
    core::array::from_fn(|i| i as u8 + 1)
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_seed(NAME, &seed()).unwrap()
}

fn sample_root() -> Hash {
    let leaves: Vec<Hash> = (0..10u8).map(|i| leaf_hash(&[i])).collect();
    root(&leaves)
}

fn sample() -> Checkpoint {
    Checkpoint::new(NAME, 10, sample_root())
}

/// Independently checked with Python's `cryptography` (Ed25519 from the same seed, key id as
/// SHA-256(name || 0x0A || 0x01 || public key)[:4]).
const GOLDEN_VKEY: &str =
    "alur.example/kab-bandung+a3464999+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk";
const GOLDEN_NOTE: &str = "alur.example/kab-bandung\n\
                           10\n\
                           SHVAy6B/ju52iClZVe47TAQAPoyi3pRCYjfNREkRCKc=\n\
                           \n\
                           \u{2014} alur.example/kab-bandung o0ZJmcqKZ8VZ/4cPhJ3WFUVWCBwvsPvN9qJdp+E16A1cGwly5N/rR8r5D/NBvj0DOV3m23yPrzex9PFBaOiPJQ2CHg8=\n";

#[test]
fn golden_note() {
    let signer = signer();
    assert_eq!(signer.verifier().to_string(), GOLDEN_VKEY);
    let note = signer.sign(&sample()).unwrap();
    assert_eq!(note, GOLDEN_NOTE);
    assert_eq!(
        parse_and_verify(GOLDEN_NOTE, &GOLDEN_VKEY.parse().unwrap()),
        Ok(sample())
    );
}

#[test]
fn round_trip_with_extensions() {
    let signer = signer();
    let verifier = signer.verifier();
    let mut checkpoint = Checkpoint::new(NAME, 0, alur_merkle::EMPTY_ROOT);
    assert_eq!(
        parse_and_verify(&signer.sign(&checkpoint).unwrap(), &verifier),
        Ok(checkpoint.clone())
    );
    checkpoint.size = u64::MAX;
    checkpoint.extensions = vec!["ekstensi satu".into(), "— two".into()];
    let note = signer.sign(&checkpoint).unwrap();
    assert_eq!(parse_and_verify(&note, &verifier), Ok(checkpoint.clone()));
    assert_eq!(
        Checkpoint::parse_body(&checkpoint.body().unwrap()),
        Ok(checkpoint)
    );
}

#[test]
fn key_strings_round_trip() {
    let signer = signer();
    let verifier = signer.verifier();
    let vkey = verifier.to_string();
    assert_eq!(vkey.parse::<CheckpointVerifier>(), Ok(verifier.clone()));
    assert_eq!(verifier.key_id(), key_id(NAME, &verifier.public_key()));
    let skey = signer.to_signer_key();
    assert!(skey.starts_with(&format!("PRIVATE+KEY+{NAME}+{:08x}+", signer.key_id())));
    let again = CheckpointSigner::from_signer_key(&skey).unwrap();
    assert_eq!(again.verifier(), verifier);
    assert_eq!(again.sign(&sample()), signer.sign(&sample()));

    // The id must be the key's.
    let wrong_id = vkey.replacen(&format!("{:08x}", verifier.key_id()), "00000000", 1);
    assert!(matches!(
        wrong_id.parse::<CheckpointVerifier>(),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    let wrong_id = skey.replacen(&format!("{:08x}", signer.key_id()), "00000000", 1);
    assert!(matches!(
        CheckpointSigner::from_signer_key(&wrong_id),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    for bad in [
        "",
        "name",
        "name+0000000+AQ==",
        "name+0000000g+AQ==",
        "+00000000+AQ==",
        "na me+00000000+AQ==",
        "name+00000000+!!",
        "name+00000000+AQ==",
    ] {
        assert!(bad.parse::<CheckpointVerifier>().is_err(), "{bad:?}");
    }
    // Type byte other than Ed25519.
    let mut data = vec![0x04];
    data.extend_from_slice(&verifier.public_key());
    let other_type = format!("{NAME}+{:08x}+{}", verifier.key_id(), BASE64.encode(&data));
    assert_eq!(
        other_type.parse::<CheckpointVerifier>(),
        Err(KeyError::UnsupportedType(4))
    );
    assert!(CheckpointSigner::from_signer_key(&vkey).is_err());
    for name in ["", "a b", "a+b", "a\u{a0}b", "a\nb"] {
        assert_eq!(
            CheckpointSigner::from_seed(name, &seed()).unwrap_err(),
            KeyError::InvalidName
        );
        assert_eq!(
            CheckpointVerifier::new(name, &verifier.public_key()).unwrap_err(),
            KeyError::InvalidName
        );
    }
    // The identity point is a weak (small-order) key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        CheckpointVerifier::new("x", &identity),
        Err(KeyError::InvalidPublicKey)
    );
}

#[test]
fn the_go_checksum_database_verifier_key_and_a_real_signed_tree_head() {
    // Published by the Go project; the id is SHA-256("sum.golang.org\n\x01" || key)[:4].
    let vkey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
    let verifier: CheckpointVerifier = vkey.parse().unwrap();
    assert_eq!(verifier.key_id(), 0x033de0ae);
    assert_eq!(verifier.to_string(), vkey);
    // A tree head signed by sum.golang.org (a signed note in the checkpoint format).
    let note = "go.sum database tree\n65664258\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n\n\
                \u{2014} sum.golang.org Az3grligJmgX7KGyGPKybykNTh3VgsbLvUuvOwrM5zLVlulmFp2wdvbxOw74/gcNxURShXEpb7RXcs3+BYflYN+w0gQ=\n";
    let checkpoint = parse_and_verify(note, &verifier).unwrap();
    assert_eq!(checkpoint.origin, "go.sum database tree");
    assert_eq!(checkpoint.size, 65664258);
    assert!(checkpoint.extensions.is_empty());
    assert_eq!(
        parse_and_verify(&note.replace("65664258", "65664259"), &verifier),
        Err(CheckpointError::BadSignature)
    );
}

/// A note over an arbitrary body, signed with the test key exactly as the signer would.
fn sign_raw(body: &str) -> String {
    use ed25519_dalek::{Signer as _, SigningKey};
    let key = SigningKey::from_bytes(&seed());
    let mut blob = key_id(NAME, key.verifying_key().as_bytes())
        .to_be_bytes()
        .to_vec();
    blob.extend_from_slice(&key.sign(body.as_bytes()).to_bytes());
    format!("{body}\n\u{2014} {NAME} {}\n", BASE64.encode(&blob))
}

/// Replaces the signature blob of the (single-signature) note.
fn with_blob(note: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let (head, b64) = note.trim_end().rsplit_once(' ').unwrap();
    let mut blob = BASE64.decode(b64).unwrap();
    edit(&mut blob);
    format!("{head} {}\n", BASE64.encode(&blob))
}

#[test]
fn every_tampering_is_rejected() {
    let signer = signer();
    let verifier = signer.verifier();
    let note = signer.sign(&sample()).unwrap();
    parse_and_verify(&note, &verifier).unwrap();
    let root_b64 = BASE64.encode(sample_root());
    let mut other_root = sample_root();
    other_root[31] ^= 1;

    let bad_signature = [
        // Size, root, origin: the body changes, the signature no longer verifies.
        note.replacen("\n10\n", "\n11\n", 1),
        note.replacen(&root_b64, &BASE64.encode(other_root), 1),
        note.replacen(NAME, "alur.example/kab-bandun", 1),
        note.replacen(NAME, "alur.example/kab-bandungg", 1),
        format!("x{note}"),
        note.replacen("\n\n", "\nextension\n\n", 1),
    ];
    for tampered in &bad_signature {
        assert_eq!(
            parse_and_verify(tampered, &verifier),
            Err(CheckpointError::BadSignature),
            "{tampered}"
        );
    }
    // Every signature byte (past the key id), one bit at a time in each byte.
    for byte in 4..68 {
        for bit in [0, 7] {
            let tampered = with_blob(&note, |b| b[byte] ^= 1 << bit);
            assert_eq!(
                parse_and_verify(&tampered, &verifier),
                Err(CheckpointError::BadSignature),
                "byte {byte}"
            );
        }
    }
    // The key id or key name: no longer the trusted key's signature.
    for byte in 0..4 {
        let tampered = with_blob(&note, |b| b[byte] ^= 0x80);
        assert_eq!(
            parse_and_verify(&tampered, &verifier),
            Err(CheckpointError::UnknownKey)
        );
    }
    let renamed = note.replacen(
        &format!("\u{2014} {NAME} "),
        "\u{2014} alur.example/kab-bogor ",
        1,
    );
    assert_eq!(
        parse_and_verify(&renamed, &verifier),
        Err(CheckpointError::UnknownKey)
    );
    // A signature that is too short or too long for Ed25519 from the trusted key.
    let short = with_blob(&note, |b| {
        b.pop();
    });
    assert_eq!(
        parse_and_verify(&short, &verifier),
        Err(CheckpointError::BadSignature)
    );
    let long = with_blob(&note, |b| b.push(0));
    assert_eq!(
        parse_and_verify(&long, &verifier),
        Err(CheckpointError::BadSignature)
    );
    // Another key entirely.
    let stranger = CheckpointSigner::from_seed(NAME, &[9; 32]).unwrap();
    assert_eq!(
        parse_and_verify(&note, &stranger.verifier()),
        Err(CheckpointError::UnknownKey)
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let signer = signer();
    let verifier = signer.verifier();
    let note = signer.sign(&sample()).unwrap();
    let sig_line = note.rsplit_once("\n\n").unwrap().1;
    let body = sample().body().unwrap();

    let cases: Vec<(String, &str)> = vec![
        (note.trim_end().to_owned(), "no final newline"),
        (note.replace("\n\n", "\n"), "no blank line"),
        (format!("{body}\n"), "no signatures"),
        (note.replace('\n', "\r\n"), "CRLF"),
        (
            note.replacen('\u{2014}', "-", 1),
            "hyphen instead of em dash",
        ),
        (note.replacen("\u{2014} ", "\u{2014}  ", 1), "double space"),
        (
            note.replacen(&format!(" {NAME} "), &format!(" {NAME}+x "), 1),
            "plus in key name",
        ),
        (
            format!("{note}\u{2014} other AAAA\n"),
            "signature too short",
        ),
        (format!("{note}\u{2014} other AAAAAA==\n"), "key id only"),
        (format!("{note}\u{2014} other !!!!\n"), "not base64"),
        (format!("{note}\n"), "trailing blank line"),
        (format!("{note}junk\n"), "junk line"),
    ];
    for (text, what) in &cases {
        assert!(parse_and_verify(text, &verifier).is_err(), "{what}");
    }
    assert_eq!(
        parse_and_verify(&note.replace('\n', "\r\n"), &verifier),
        Err(CheckpointError::ControlCharacter)
    );

    // Unknown signatures are ignored, before or after the trusted one.
    let stranger = CheckpointSigner::from_seed("witness.example", &[3; 32]).unwrap();
    let other_line = stranger
        .sign(&sample())
        .unwrap()
        .rsplit_once("\n\n")
        .unwrap()
        .1
        .to_owned();
    let cosigned = format!("{note}{other_line}");
    assert_eq!(parse_and_verify(&cosigned, &verifier), Ok(sample()));
    let cosigned = format!("{body}\n{other_line}{sig_line}");
    assert_eq!(parse_and_verify(&cosigned, &verifier), Ok(sample()));
    // ... but only up to a limit, and the trusted key signs once.
    let crowded = format!("{note}{}", other_line.repeat(100));
    assert_eq!(
        parse_and_verify(&crowded, &verifier),
        Err(CheckpointError::TooManySignatures)
    );
    assert_eq!(
        parse_and_verify(&format!("{note}{sig_line}"), &verifier),
        Err(CheckpointError::DuplicateSignature)
    );

    // Bodies that are validly signed but are not checkpoints.
    for (body, what) in [
        ("origin\n12\n", "two lines"),
        (
            "origin\n012\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n",
            "leading zero",
        ),
        (
            "origin\n+12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n",
            "plus sign",
        ),
        (
            "origin\n18446744073709551616\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n",
            "overflow",
        ),
        ("origin\n12\nAAAA\n", "short root"),
        (
            "origin\n12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsh=\n",
            "non-canonical base64",
        ),
        (
            "origin\n12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg\n",
            "unpadded base64",
        ),
        (
            "\n12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n",
            "empty origin",
        ),
        (
            "origin\n12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n\nx\n",
            "empty extension",
        ),
    ] {
        assert!(Checkpoint::parse_body(body).is_err(), "{what}");
        assert!(
            matches!(
                parse_and_verify(&sign_raw(body), &verifier),
                Err(CheckpointError::MalformedBody(_))
            ),
            "{what}"
        );
    }
    assert!(
        Checkpoint::parse_body("origin\n12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=").is_err()
    );
    let raw = sign_raw("origin\n12\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\next\n");
    assert_eq!(
        parse_and_verify(&raw, &verifier).map(|c| (c.size, c.extensions)),
        Ok((12, vec!["ext".to_owned()]))
    );
    assert_eq!(
        Checkpoint::parse_body("origin\n0\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n")
            .map(|c| c.size),
        Ok(0)
    );

    // Checkpoints that cannot be written as a note.
    for origin in ["", "two\nlines", "tab\there"] {
        let checkpoint = Checkpoint::new(origin, 1, [0; 32]);
        assert!(signer.sign(&checkpoint).is_err(), "{origin:?}");
    }
    let mut checkpoint = sample();
    checkpoint.extensions = vec![String::new()];
    assert!(signer.sign(&checkpoint).is_err());
}

#[test]
fn debug_never_shows_the_secret() {
    let signer = signer();
    let debug = format!("{signer:?} {:#?}", signer);
    let seed = seed();
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let secret_key = signer.to_signer_key();
    let secret_b64 = secret_key.rsplit_once('+').unwrap().1;
    assert!(!debug.contains(&hex), "{debug}");
    assert!(!debug.contains(secret_b64), "{debug}");
    assert!(!debug.contains(&format!("{:?}", seed)), "{debug}");
    assert!(!debug.contains(&format!("{:?}", &seed[..8])), "{debug}");
    assert!(debug.contains(NAME));
}
