//! The transparency-dev/merkle proof verification vectors (see testdata/README.md).

use std::fs;
use std::path::{Path, PathBuf};

use alur_merkle::{MerkleError, verify_consistency_bytes, verify_inclusion_bytes};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

/// Numbers of vector files in the pinned copy; a change must be deliberate.
const INCLUSION_VECTORS: usize = 98;
const CONSISTENCY_VECTORS: usize = 98;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Inclusion {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Consistency {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    #[serde(rename = "wantErr")]
    want_err: bool,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
}

fn b64(s: &str) -> Vec<u8> {
    BASE64.decode(s).unwrap()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(testdata())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// Checks one outcome against `want_err`.
fn check(name: &str, desc: &str, want_err: bool, result: Result<(), MerkleError>) {
    assert_eq!(result.is_err(), want_err, "{name} ({desc}): got {result:?}");
}

#[test]
fn inclusion_vectors() {
    let mut files = Vec::new();
    json_files(&testdata().join("inclusion"), &mut files);
    let (mut accepted, mut rejected) = (0, 0);
    for path in &files {
        let name = relative(path);
        let v: Inclusion = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let result = verify_inclusion_bytes(
            &b64(&v.leaf_hash),
            v.leaf_idx,
            v.tree_size,
            &proof,
            &b64(&v.root),
        );
        check(&name, &v.desc, v.want_err, result.clone());
        if result.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    println!(
        "inclusion vectors checked: {} ({accepted} accepted, {rejected} rejected)",
        files.len()
    );
    assert_eq!(files.len(), INCLUSION_VECTORS);
    assert_eq!(accepted, 6);
}

#[test]
fn consistency_vectors() {
    let mut files = Vec::new();
    json_files(&testdata().join("consistency"), &mut files);
    let (mut accepted, mut rejected) = (0, 0);
    for path in &files {
        let name = relative(path);
        let v: Consistency = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let result =
            verify_consistency_bytes(v.size1, v.size2, &proof, &b64(&v.root1), &b64(&v.root2));
        check(&name, &v.desc, v.want_err, result.clone());
        if result.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    println!(
        "consistency vectors checked: {} ({accepted} accepted, {rejected} rejected)",
        files.len()
    );
    assert_eq!(files.len(), CONSISTENCY_VECTORS);
    assert_eq!(accepted, 6);
}

/// Every vector that upstream rejects because a size is 0 is rejected by this crate for that
/// reason, whatever the hashes say.
#[test]
fn consistency_from_size_zero_is_always_refused() {
    let mut files = Vec::new();
    json_files(&testdata().join("consistency"), &mut files);
    let mut from_zero = 0;
    for path in &files {
        let v: Consistency = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        if v.size1 != 0 {
            continue;
        }
        from_zero += 1;
        assert!(v.want_err, "{}", relative(path));
        let z = [0u8; 32];
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let proof: Vec<[u8; 32]> = proof
            .iter()
            .map(|p| p.as_slice().try_into().unwrap_or(z))
            .collect();
        assert_eq!(
            alur_merkle::verify_consistency(0, v.size2, &proof, &z, &z),
            Err(MerkleError::EmptyOldTree),
            "{}",
            relative(path)
        );
    }
    // 7 in additional/, plus 1/size1-sub-@1 and 3/size1-XOR-@2.
    assert_eq!(from_zero, 9);
}
