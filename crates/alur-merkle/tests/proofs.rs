//! Differential tests against a naive reference written straight from the RFC 9162 definitions,
//! bit-flip mutation tests, and proofs over very large (virtual) trees.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::ops::Range;

use alur_merkle::{
    FromFn, GenerateError, Hash, HashSource, MerkleError, MissingLeaf, consistency_proof,
    consistency_proof_len, consistency_proof_ranges, inclusion_proof, inclusion_proof_len,
    inclusion_proof_ranges, leaf_hash, node_hash, root, root_from_inclusion_proof, subtree_root,
    tree_root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const MAX: usize = 256;

/// The RFC 9162 §2.1 definitions, written naively over data entries `D[n]` (not leaf hashes),
/// with SHA-256 called directly. Ranges are absolute indexes into `D`; `MTH` is memoised only
/// to keep the test fast.
struct Reference {
    entries: Vec<Vec<u8>>,
    memo: RefCell<HashMap<(usize, usize), Hash>>,
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The largest power of two smaller than n (n > 1), by counting.
fn k_of(n: usize) -> usize {
    assert!(n > 1);
    let mut k: usize = 1;
    while k.checked_mul(2).is_some_and(|d| d < n) {
        k *= 2;
    }
    k
}

impl Reference {
    fn new(n: usize) -> Self {
        let entries = (0..n)
            .map(|i| {
                if i == 0 {
                    Vec::new()
                } else {
                    format!("entry {i}").into_bytes()
                }
            })
            .collect();
        Self {
            entries,
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// MTH(D[lo:hi]).
    fn mth(&self, lo: usize, hi: usize) -> Hash {
        if let Some(h) = self.memo.borrow().get(&(lo, hi)) {
            return *h;
        }
        let n = hi - lo;
        let h = match n {
            0 => sha256(&[]),
            1 => sha256(&[&[0x00], &self.entries[lo]]),
            _ => {
                let k = k_of(n);
                sha256(&[&[0x01], &self.mth(lo, lo + k), &self.mth(lo + k, hi)])
            }
        };
        self.memo.borrow_mut().insert((lo, hi), h);
        h
    }

    /// PATH(m, D[lo:hi]) as the ranges whose MTH are the elements, `m` relative to `lo`.
    fn path(&self, m: usize, lo: usize, hi: usize) -> Vec<Range<usize>> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(lo + k..hi);
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(lo..lo + k);
            p
        }
    }

    /// SUBPROOF(m, D[lo:hi], b), `m` relative to `lo`.
    fn subproof(&self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<Range<usize>> {
        let n = hi - lo;
        if m == n {
            return if b {
                Vec::new()
            } else {
                std::iter::once(lo..hi).collect()
            };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(lo + k..hi);
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(lo..lo + k);
            p
        }
    }

    /// PROOF(m, D[n]).
    fn proof(&self, m: usize, n: usize) -> Vec<Range<usize>> {
        self.subproof(m, 0, n, true)
    }

    fn hashes(&self, ranges: &[Range<usize>]) -> Vec<Hash> {
        ranges.iter().map(|r| self.mth(r.start, r.end)).collect()
    }
}

/// Leaf hashes of the reference entries plus every perfect subtree root, so that the library
/// reads stored interior nodes (the `HashSource::subtree` path) instead of recomputing.
struct Cached {
    leaves: Vec<Hash>,
    levels: Vec<Vec<Hash>>,
    subtree_reads: RefCell<u64>,
}

impl Cached {
    fn new(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves.clone()];
        while levels.last().unwrap().len() > 1 {
            let below = levels.last().unwrap();
            levels.push(
                below
                    .chunks_exact(2)
                    .map(|c| node_hash(&c[0], &c[1]))
                    .collect(),
            );
        }
        Self {
            leaves,
            levels,
            subtree_reads: RefCell::new(0),
        }
    }
}

impl HashSource for Cached {
    type Error = MissingLeaf;

    fn leaf(&self, index: u64) -> Result<Hash, MissingLeaf> {
        self.leaves.leaf(index)
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Option<Hash>, MissingLeaf> {
        *self.subtree_reads.borrow_mut() += 1;
        Ok(self
            .levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied())
    }
}

fn to_u64(ranges: &[Range<usize>]) -> Vec<Range<u64>> {
    ranges
        .iter()
        .map(|r| r.start as u64..r.end as u64)
        .collect()
}

#[test]
fn hashing_matches_the_definitions() {
    assert_eq!(alur_merkle::EMPTY_ROOT, sha256(&[]));
    assert_eq!(root(&[]), sha256(&[]));
    assert_eq!(leaf_hash(b"abc"), sha256(&[&[0], b"abc"]));
    let (l, r) = ([1u8; 32], [2u8; 32]);
    assert_eq!(node_hash(&l, &r), sha256(&[&[1], &l, &r]));
    // RFC 6962 / transparency-dev empty-leaf hash.
    assert_eq!(
        leaf_hash(b""),
        <[u8; 32]>::try_from(
            (0..32)
                .map(|i| u8::from_str_radix(
                    &"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
                        [2 * i..2 * i + 2],
                    16
                )
                .unwrap())
                .collect::<Vec<_>>()
        )
        .unwrap()
    );
}

#[test]
fn roots_and_inclusion_proofs_match_the_reference_up_to_256() {
    let reference = Reference::new(MAX);
    let leaves: Vec<Hash> = reference.entries.iter().map(|e| leaf_hash(e)).collect();
    let cached = Cached::new(leaves.clone());
    let mut checked = 0;
    for n in 1..=MAX {
        let want_root = reference.mth(0, n);
        assert_eq!(root(&leaves[..n]), want_root, "root({n})");
        assert_eq!(tree_root(&leaves[..n], n as u64).unwrap(), want_root);
        assert_eq!(tree_root(&cached, n as u64).unwrap(), want_root);
        for (m, leaf) in leaves.iter().enumerate().take(n) {
            let want = reference.path(m, 0, n);
            assert_eq!(
                inclusion_proof_ranges(m as u64, n as u64).unwrap(),
                to_u64(&want),
                "ranges {m} in {n}"
            );
            assert_eq!(inclusion_proof_len(m as u64, n as u64).unwrap(), want.len());
            let want = reference.hashes(&want);
            let got = inclusion_proof(&cached, m as u64, n as u64).unwrap();
            assert_eq!(got, want, "PATH({m}, D[{n}])");
            verify_inclusion(leaf, m as u64, n as u64, &got, &want_root).unwrap();
            checked += 1;
        }
    }
    assert!(*cached.subtree_reads.borrow() > 0);
    println!("inclusion proofs checked against the reference: {checked}");
    assert_eq!(checked, MAX * (MAX + 1) / 2);
}

#[test]
fn consistency_proofs_match_the_reference_up_to_256() {
    let reference = Reference::new(MAX);
    let leaves: Vec<Hash> = reference.entries.iter().map(|e| leaf_hash(e)).collect();
    let cached = Cached::new(leaves);
    let roots: Vec<Hash> = (0..=MAX).map(|n| reference.mth(0, n)).collect();
    let mut checked = 0;
    for n in 1..=MAX {
        for m in 1..=n {
            let want = reference.proof(m, n);
            assert_eq!(
                consistency_proof_ranges(m as u64, n as u64).unwrap(),
                to_u64(&want),
                "ranges {m}->{n}"
            );
            assert_eq!(
                consistency_proof_len(m as u64, n as u64).unwrap(),
                want.len()
            );
            let want = reference.hashes(&want);
            let got = consistency_proof(&cached, m as u64, n as u64).unwrap();
            assert_eq!(got, want, "PROOF({m}, D[{n}])");
            verify_consistency(m as u64, n as u64, &got, &roots[m], &roots[n]).unwrap();
            checked += 1;
        }
    }
    println!("consistency proofs checked against the reference: {checked}");
    assert_eq!(checked, MAX * (MAX + 1) / 2);
}

/// The same proofs computed from the leaves alone (no stored interior nodes), on smaller trees
/// to keep the debug-mode test quick.
#[test]
fn proofs_from_leaves_only_match_the_reference_up_to_64() {
    let reference = Reference::new(64);
    let leaves: Vec<Hash> = reference.entries.iter().map(|e| leaf_hash(e)).collect();
    let from_fn = FromFn(|i: u64| Ok::<_, Infallible>(leaves[i as usize]));
    for n in 1..=64usize {
        for m in 0..n {
            let want = reference.hashes(&reference.path(m, 0, n));
            assert_eq!(
                inclusion_proof(leaves.as_slice(), m as u64, n as u64).unwrap(),
                want
            );
            assert_eq!(inclusion_proof(&from_fn, m as u64, n as u64).unwrap(), want);
        }
        for m in 1..=n {
            let want = reference.hashes(&reference.proof(m, n));
            assert_eq!(
                consistency_proof(&leaves, m as u64, n as u64).unwrap(),
                want
            );
        }
    }
}

#[test]
fn invalid_requests_are_refused() {
    let leaves: Vec<Hash> = (0..8u8).map(|i| leaf_hash(&[i])).collect();
    let r = root(&leaves);
    assert!(matches!(
        inclusion_proof(&leaves, 8, 8),
        Err(GenerateError::Merkle(MerkleError::IndexOutOfRange {
            index: 8,
            size: 8
        }))
    ));
    assert!(matches!(
        inclusion_proof(&leaves, 0, 0),
        Err(GenerateError::Merkle(MerkleError::IndexOutOfRange { .. }))
    ));
    for (m, n) in [(0, 0), (0, 1), (0, 8)] {
        assert!(matches!(
            consistency_proof(&leaves, m, n),
            Err(GenerateError::Merkle(MerkleError::EmptyOldTree))
        ));
        assert_eq!(
            verify_consistency(m, n, &[], &r, &r),
            Err(MerkleError::EmptyOldTree)
        );
        assert_eq!(
            consistency_proof_ranges(m, n),
            Err(MerkleError::EmptyOldTree)
        );
    }
    assert_eq!(
        verify_consistency(
            0,
            0,
            &[],
            &alur_merkle::EMPTY_ROOT,
            &alur_merkle::EMPTY_ROOT
        ),
        Err(MerkleError::EmptyOldTree)
    );
    assert!(matches!(
        consistency_proof(&leaves, 5, 4),
        Err(GenerateError::Merkle(MerkleError::SizeDecreased {
            size1: 5,
            size2: 4
        }))
    ));
    // The source is shorter than the requested tree.
    assert!(matches!(
        inclusion_proof(&leaves, 0, 9),
        Err(GenerateError::Source(MissingLeaf { index: 8 }))
    ));
    // Wrong proof lengths.
    let proof = inclusion_proof(&leaves, 3, 8).unwrap();
    assert_eq!(
        verify_inclusion(&leaves[3], 3, 8, &proof[..2], &r),
        Err(MerkleError::ProofLength {
            expected: 3,
            actual: 2
        })
    );
    let mut longer = proof.clone();
    longer.push([0; 32]);
    assert_eq!(
        verify_inclusion(&leaves[3], 3, 8, &longer, &r),
        Err(MerkleError::ProofLength {
            expected: 3,
            actual: 4
        })
    );
    assert_eq!(
        verify_consistency(8, 8, &[r], &r, &r),
        Err(MerkleError::ProofLength {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(
        verify_consistency(8, 8, &[], &r, &leaves[0]),
        Err(MerkleError::NewRootMismatch)
    );
    verify_consistency(8, 8, &[], &r, &r).unwrap();
    // Hashes of the wrong length.
    assert_eq!(
        alur_merkle::verify_inclusion_bytes(&[0u8; 31], 0, 1, &[] as &[&[u8]], &[0u8; 32]),
        Err(MerkleError::HashLength { actual: 31 })
    );
    assert_eq!(
        alur_merkle::verify_consistency_bytes(
            1,
            2,
            &[[0u8; 33].as_slice()],
            &[0u8; 32],
            &[0u8; 32]
        ),
        Err(MerkleError::HashLength { actual: 33 })
    );
    assert_eq!(
        alur_merkle::hash_from_slice(&[]),
        Err(MerkleError::HashLength { actual: 0 })
    );
    // Ranges that are not tree nodes.
    #[allow(clippy::reversed_empty_ranges)]
    let not_nodes = [0..0, 1..3, 2..5, 4..3];
    for range in not_nodes {
        assert!(
            matches!(
                subtree_root(&leaves, range.clone()),
                Err(GenerateError::Merkle(MerkleError::NotATreeNode { .. }))
            ),
            "{range:?}"
        );
    }
    assert_eq!(subtree_root(&leaves, 4..7).unwrap(), root(&leaves[4..7]));
    assert_eq!(subtree_root(&leaves, 0..8).unwrap(), r);
    assert_eq!(
        root_from_inclusion_proof(&leaves[3], 3, 8, &proof).unwrap(),
        r
    );
}

/// The direction of each proof element relative to the path (true = left sibling), from the
/// reference. Together with the length, this is everything the verifier derives from the
/// index and sizes, so a mutation of them that keeps it is indistinguishable. Only ranges are
/// computed, so any size works.
fn inclusion_shape(reference: &Reference, index: u64, size: u64) -> Option<Vec<bool>> {
    if index >= size {
        return None;
    }
    let ranges = reference.path(index as usize, 0, size as usize);
    Some(ranges.iter().map(|r| r.start < index as usize).collect())
}

fn consistency_shape(reference: &Reference, size1: u64, size2: u64) -> Option<(bool, Vec<bool>)> {
    if size1 == 0 || size1 > size2 {
        return None;
    }
    let ranges = reference.proof(size1 as usize, size2 as usize);
    Some((
        size1.is_power_of_two(),
        ranges.iter().map(|r| r.start < size1 as usize).collect(),
    ))
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut h = *hash;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

#[test]
fn every_bit_flip_of_an_inclusion_proof_is_rejected() {
    let reference = Reference::new(MAX);
    let leaves: Vec<Hash> = reference.entries.iter().map(|e| leaf_hash(e)).collect();
    let cached = Cached::new(leaves.clone());
    let cases = [
        (0, 1),
        (0, 2),
        (1, 2),
        (2, 3),
        (3, 7),
        (5, 8),
        (8, 9),
        (6, 13),
        (31, 32),
        (32, 33),
        (100, 255),
        (255, 256),
    ];
    let (mut rejected, mut size_aliases) = (0u64, 0u64);
    for (i, n) in cases {
        let (index, size) = (i as u64, n as u64);
        let r = reference.mth(0, n);
        let proof = inclusion_proof(&cached, index, size).unwrap();
        let leaf = leaves[i];
        verify_inclusion(&leaf, index, size, &proof, &r).unwrap();
        for k in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                p[k] = flip(&p[k], bit);
                assert!(verify_inclusion(&leaf, index, size, &p, &r).is_err());
                rejected += 1;
            }
        }
        for bit in 0..256 {
            assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&r, bit)).is_err());
            assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &r).is_err());
            rejected += 2;
        }
        let shape = inclusion_shape(&reference, index, size);
        for bit in 0..64 {
            let other = index ^ (1 << bit);
            assert!(
                verify_inclusion(&leaf, other, size, &proof, &r).is_err(),
                "index {index}->{other} in {size}"
            );
            rejected += 1;
            let other = size ^ (1 << bit);
            let result = verify_inclusion(&leaf, index, other, &proof, &r);
            // A size whose proof has the same shape cannot be told apart by the proof alone;
            // the signed checkpoint binds the size to the root.
            if inclusion_shape(&reference, index, other).is_some_and(|s| Some(s) == shape) {
                assert_eq!(result, Ok(()));
                size_aliases += 1;
            } else {
                assert!(result.is_err(), "size {size}->{other} for {index}");
                rejected += 1;
            }
        }
    }
    println!(
        "inclusion mutations rejected: {rejected}; size aliases (same shape, accepted): {size_aliases}"
    );
}

#[test]
fn every_bit_flip_of_a_consistency_proof_is_rejected() {
    let reference = Reference::new(MAX);
    let leaves: Vec<Hash> = reference.entries.iter().map(|e| leaf_hash(e)).collect();
    let cached = Cached::new(leaves);
    let cases = [
        (1, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 6),
        (3, 7),
        (5, 8),
        (7, 13),
        (32, 33),
        (33, 64),
        (100, 255),
        (255, 256),
    ];
    let (mut rejected, mut size_aliases) = (0u64, 0u64);
    for (m, n) in cases {
        let (size1, size2) = (m as u64, n as u64);
        let (r1, r2) = (reference.mth(0, m), reference.mth(0, n));
        let proof = consistency_proof(&cached, size1, size2).unwrap();
        verify_consistency(size1, size2, &proof, &r1, &r2).unwrap();
        for k in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                p[k] = flip(&p[k], bit);
                assert!(verify_consistency(size1, size2, &p, &r1, &r2).is_err());
                rejected += 1;
            }
        }
        for bit in 0..256 {
            assert!(verify_consistency(size1, size2, &proof, &flip(&r1, bit), &r2).is_err());
            assert!(verify_consistency(size1, size2, &proof, &r1, &flip(&r2, bit)).is_err());
            rejected += 2;
        }
        let shape = consistency_shape(&reference, size1, size2);
        for bit in 0..64 {
            for (a, b) in [(size1 ^ (1 << bit), size2), (size1, size2 ^ (1 << bit))] {
                let result = verify_consistency(a, b, &proof, &r1, &r2);
                if consistency_shape(&reference, a, b).is_some_and(|s| Some(s) == shape) {
                    assert_eq!(result, Ok(()));
                    size_aliases += 1;
                } else {
                    assert!(result.is_err(), "{size1}->{size2} mutated to {a}->{b}");
                    rejected += 1;
                }
            }
        }
    }
    println!(
        "consistency mutations rejected: {rejected}; size aliases (same shape, accepted): {size_aliases}"
    );
}

/// A virtual tree of up to 2^64 - 1 identical leaves: every perfect subtree of height `l` has
/// the same root, so proofs for huge sizes can be generated and checked.
struct Uniform {
    levels: Vec<Hash>,
}

impl Uniform {
    fn new() -> Self {
        let mut levels = vec![leaf_hash(b"same")];
        for _ in 0..64 {
            let below = *levels.last().unwrap();
            levels.push(node_hash(&below, &below));
        }
        Self { levels }
    }
}

impl HashSource for Uniform {
    type Error = Infallible;

    fn leaf(&self, _: u64) -> Result<Hash, Infallible> {
        Ok(self.levels[0])
    }

    fn subtree(&self, level: u32, _: u64) -> Result<Option<Hash>, Infallible> {
        Ok(Some(self.levels[level as usize]))
    }
}

#[test]
fn extreme_sizes() {
    let tree = Uniform::new();
    let leaf = tree.levels[0];
    for size in [
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) + 1,
        (1 << 63) - 1,
    ] {
        let r = tree_root(&tree, size).unwrap();
        for index in [0, 1, size / 2, size - 2, size - 1] {
            let proof = inclusion_proof(&tree, index, size).unwrap();
            assert_eq!(proof.len(), inclusion_proof_len(index, size).unwrap());
            verify_inclusion(&leaf, index, size, &proof, &r).unwrap();
        }
        for size1 in [1, 2, 3, size / 2, size - 1, size] {
            let proof = consistency_proof(&tree, size1, size).unwrap();
            verify_consistency(size1, size, &proof, &tree_root(&tree, size1).unwrap(), &r).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_large_proofs_verify(size in 1u64.., a in any::<u64>(), b in any::<u64>()) {
        let tree = Uniform::new();
        let leaf = tree.levels[0];
        let r = tree_root(&tree, size).unwrap();
        let index = a % size;
        let proof = inclusion_proof(&tree, index, size).unwrap();
        prop_assert_eq!(proof.len(), inclusion_proof_len(index, size).unwrap());
        prop_assert_eq!(root_from_inclusion_proof(&leaf, index, size, &proof), Ok(r));
        let size1 = b % size + 1;
        let proof = consistency_proof(&tree, size1, size).unwrap();
        prop_assert_eq!(proof.len(), consistency_proof_len(size1, size).unwrap());
        prop_assert_eq!(verify_consistency(size1, size, &proof, &tree_root(&tree, size1).unwrap(), &r), Ok(()));
    }

    #[test]
    fn random_small_trees_match_the_reference(n in 1usize..=200, a in any::<usize>(), b in any::<usize>()) {
        let reference = Reference::new(n);
        let leaves: Vec<Hash> = reference.entries.iter().map(|e| leaf_hash(e)).collect();
        let m = a % n;
        prop_assert_eq!(inclusion_proof(&leaves, m as u64, n as u64).unwrap(), reference.hashes(&reference.path(m, 0, n)));
        let m = b % n + 1;
        prop_assert_eq!(consistency_proof(&leaves, m as u64, n as u64).unwrap(), reference.hashes(&reference.proof(m, n)));
    }
}
