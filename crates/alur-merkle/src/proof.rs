//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4).

use core::ops::Range;

use crate::tree::split_point;
use crate::{
    EMPTY_ROOT, GenerateError, Hash, MerkleError, MissingLeaf, hash_from_slice, node_hash,
};

/// Where proof generation reads the log's leaf hashes from.
///
/// Implemented for `[Hash]` and `Vec<Hash>` (index = position), and for closures through
/// [`FromFn`]. A store implements it over its leaf table; if it also keeps interior nodes it can
/// override [`subtree`](Self::subtree) so that proofs cost `O(log n)` reads instead of reading
/// the leaves under every sibling.
pub trait HashSource {
    /// The error of the backing store.
    type Error;

    /// The leaf hash at `index`. Only called with `index < size` of the tree being proved.
    fn leaf(&self, index: u64) -> Result<Hash, Self::Error>;

    /// The stored root of the perfect subtree of height `level` (`2^level` leaves) starting at
    /// leaf `index << level`, or `None` if it is not stored and must be computed from the
    /// leaves. Only called with `1 <= level <= 63`. The default stores nothing.
    fn subtree(&self, level: u32, index: u64) -> Result<Option<Hash>, Self::Error> {
        let _ = (level, index);
        Ok(None)
    }
}

impl HashSource for [Hash] {
    type Error = MissingLeaf;

    fn leaf(&self, index: u64) -> Result<Hash, MissingLeaf> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .copied()
            .ok_or(MissingLeaf { index })
    }
}

impl HashSource for Vec<Hash> {
    type Error = MissingLeaf;

    fn leaf(&self, index: u64) -> Result<Hash, MissingLeaf> {
        self.as_slice().leaf(index)
    }
}

/// A [`HashSource`] reading leaf hashes from a closure `Fn(u64) -> Result<Hash, E>`.
///
/// For an infallible closure use `FromFn(|i| Ok::<_, core::convert::Infallible>(leaf(i)))`.
#[derive(Debug, Clone, Copy)]
pub struct FromFn<F>(pub F);

impl<F, E> HashSource for FromFn<F>
where
    F: Fn(u64) -> Result<Hash, E>,
{
    type Error = E;

    fn leaf(&self, index: u64) -> Result<Hash, E> {
        (self.0)(index)
    }
}

/// The root of the perfect subtree of height `level` starting at leaf `index << level`.
/// Requires `level <= 63` and the subtree to lie inside `u64` leaf indexes.
fn perfect<S: HashSource + ?Sized>(source: &S, level: u32, index: u64) -> Result<Hash, S::Error> {
    if level == 0 {
        return source.leaf(index);
    }
    if let Some(stored) = source.subtree(level, index)? {
        return Ok(stored);
    }
    let left = perfect(source, level - 1, index << 1)?;
    let right = perfect(source, level - 1, (index << 1) | 1)?;
    Ok(node_hash(&left, &right))
}

/// Whether `range` is a node of the RFC 9162 tree of some size: non-empty, and starting at a
/// multiple of the smallest power of two that is not smaller than its length.
fn is_tree_node(range: &Range<u64>) -> bool {
    let Some(len) = range.end.checked_sub(range.start).filter(|&len| len > 0) else {
        return false;
    };
    match len.checked_next_power_of_two() {
        Some(span) => range.start.is_multiple_of(span),
        // len > 2^63: only [0, len) fits.
        None => range.start == 0,
    }
}

/// `MTH(D[start:end])` for a range that is a node of the tree (see [`subtree_root`]).
fn node_root<S: HashSource + ?Sized>(source: &S, range: &Range<u64>) -> Result<Hash, S::Error> {
    let len = range.end - range.start;
    // The node splits into perfect subtrees, one per set bit of its length, largest first;
    // MTH combines them right to left. Walk from the smallest (rightmost) upwards so that no
    // intermediate storage is needed.
    let mut acc: Option<Hash> = None;
    for level in 0..u64::BITS {
        if (len >> level) & 1 == 0 {
            continue;
        }
        // Leaves of the larger pieces (to the left of this one).
        let above = len
            .checked_shr(level + 1)
            .map_or(0, |high| high << (level + 1));
        let start = range.start + above;
        let piece = perfect(source, level, start >> level)?;
        acc = Some(match acc {
            None => piece,
            Some(right) => node_hash(&piece, &right),
        });
    }
    Ok(acc.unwrap_or(EMPTY_ROOT))
}

/// `MTH(D[start:end])` of a range that is a node of the tree: non-empty and starting at a
/// multiple of the smallest power of two not smaller than its length (every element of
/// [`inclusion_proof_ranges`] and [`consistency_proof_ranges`] is).
pub fn subtree_root<S: HashSource + ?Sized>(
    source: &S,
    range: Range<u64>,
) -> Result<Hash, GenerateError<S::Error>> {
    if !is_tree_node(&range) {
        return Err(MerkleError::NotATreeNode {
            start: range.start,
            end: range.end,
        }
        .into());
    }
    node_root(source, &range).map_err(GenerateError::Source)
}

/// The tree head `MTH(D[size])` of the first `size` leaves of `source`.
pub fn tree_root<S: HashSource + ?Sized>(source: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    node_root(source, &(0..size))
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    // Below the level where the paths to `index` and to the last leaf meet, every ancestor of
    // `index` has a sibling; above it, only the ancestors that are right children do.
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    Ok((inner + border) as usize)
}

/// The number of hashes in the consistency proof from `size1` to `size2` leaves.
pub fn consistency_proof_len(size1: u64, size2: u64) -> Result<usize, MerkleError> {
    check_consistency_sizes(size1, size2)?;
    if size1 == size2 {
        return Ok(0);
    }
    // The proof is the inclusion proof of the last old leaf in the new tree, minus the levels
    // that lie inside the old tree's last perfect subtree, plus that subtree's root itself
    // unless it is the whole old tree (size1 a power of two).
    let last = size1 - 1;
    let inner = u64::BITS - (last ^ (size2 - 1)).leading_zeros();
    let border = last.checked_shr(inner).unwrap_or(0).count_ones();
    let shared = size1.trailing_zeros();
    let seed = u32::from(!size1.is_power_of_two());
    Ok((seed + inner.saturating_sub(shared) + border) as usize)
}

fn check_consistency_sizes(size1: u64, size2: u64) -> Result<(), MerkleError> {
    if size1 == 0 {
        return Err(MerkleError::EmptyOldTree);
    }
    if size1 > size2 {
        return Err(MerkleError::SizeDecreased { size1, size2 });
    }
    Ok(())
}

/// The leaf ranges whose roots form the inclusion proof of leaf `index` in a tree of `size`
/// leaves (RFC 9162 `PATH`), in proof order (from the leaf up).
///
/// A store that fetches asynchronously can load exactly these subtrees, then assemble the proof
/// with [`subtree_root`] over what it loaded.
pub fn inclusion_proof_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, MerkleError> {
    let mut ranges = Vec::with_capacity(inclusion_proof_len(index, size)?);
    let (mut lo, mut hi) = (0, size);
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            ranges.push(mid..hi);
            hi = mid;
        } else {
            ranges.push(lo..mid);
            lo = mid;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose roots form the consistency proof from `size1` to `size2` leaves
/// (RFC 9162 `PROOF`/`SUBPROOF`), in proof order. Empty when the sizes are equal; refused from
/// size 0 and when `size1 > size2`.
pub fn consistency_proof_ranges(size1: u64, size2: u64) -> Result<Vec<Range<u64>>, MerkleError> {
    let mut ranges = Vec::with_capacity(consistency_proof_len(size1, size2)?);
    // Invariant: lo < size1 <= hi; `whole` is SUBPROOF's flag b (the range is a prefix whose
    // root the verifier already knows).
    let (mut lo, mut hi, mut whole) = (0, size2, true);
    while size1 != hi {
        let mid = lo + split_point(hi - lo);
        if size1 <= mid {
            ranges.push(mid..hi);
            hi = mid;
        } else {
            ranges.push(lo..mid);
            lo = mid;
            whole = false;
        }
    }
    if !whole {
        ranges.push(lo..hi);
    }
    ranges.reverse();
    Ok(ranges)
}

fn hashes_of<S: HashSource + ?Sized>(
    source: &S,
    ranges: Vec<Range<u64>>,
) -> Result<Vec<Hash>, GenerateError<S::Error>> {
    ranges
        .iter()
        .map(|range| node_root(source, range).map_err(GenerateError::Source))
        .collect()
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves of `source`.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, GenerateError<S::Error>> {
    hashes_of(source, inclusion_proof_ranges(index, size)?)
}

/// The consistency proof from the tree of the first `size1` leaves of `source` to the tree of
/// its first `size2` leaves. Refused from size 0 (even `0 -> 0`) and when `size1 > size2`.
pub fn consistency_proof<S: HashSource + ?Sized>(
    source: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, GenerateError<S::Error>> {
    hashes_of(source, consistency_proof_ranges(size1, size2)?)
}

/// Right-shifts both node indexes once.
fn up(first: &mut u64, second: &mut u64) {
    *first >>= 1;
    *second >>= 1;
}

/// The root that an inclusion proof of `leaf` at `index` in a tree of `size` leaves leads to
/// (RFC 9162 §2.1.3.2 without the final comparison).
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, MerkleError> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(MerkleError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(MerkleError::ProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    up(&mut f, &mut s);
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        up(&mut f, &mut s);
    }
    if s != 0 {
        return Err(MerkleError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf` is the leaf hash at `index` in the tree of `size` leaves with head
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if root_from_inclusion_proof(leaf, index, size, proof)? == *root {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

/// Verifies that the tree of `size2` leaves with head `root2` extends the tree of `size1`
/// leaves with head `root1` (RFC 9162 §2.1.4.2).
///
/// Refused from size 0 (even `0 -> 0`: an empty tree is consistent with anything, so such a
/// "proof" would only hide a caller bug). Equal sizes need an empty proof and equal roots.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), MerkleError> {
    let expected = consistency_proof_len(size1, size2)?;
    if proof.len() != expected {
        return Err(MerkleError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if size1 == size2 {
        return if root1 == root2 {
            Ok(())
        } else {
            Err(MerkleError::NewRootMismatch)
        };
    }
    // 1. A power-of-two old tree is itself the first node of the path: its root seeds the walk.
    let (seed, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => {
                return Err(MerkleError::ProofLength {
                    expected,
                    actual: proof.len(),
                });
            }
        }
    };
    // 2. Walk from the last old leaf's node that is the root of the old tree's last perfect
    //    subtree.
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        up(&mut f, &mut s);
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if s == 0 {
            return Err(MerkleError::ProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    up(&mut f, &mut s);
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        up(&mut f, &mut s);
    }
    if s != 0 {
        return Err(MerkleError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if fr != *root1 {
        return Err(MerkleError::OldRootMismatch);
    }
    if sr != *root2 {
        return Err(MerkleError::NewRootMismatch);
    }
    Ok(())
}

fn proof_from_bytes<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>, MerkleError> {
    proof.iter().map(|p| hash_from_slice(p.as_ref())).collect()
}

/// [`verify_inclusion`] over wire bytes: every hash must be exactly 32 bytes.
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    leaf: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), MerkleError> {
    let leaf = hash_from_slice(leaf)?;
    let root = hash_from_slice(root)?;
    let proof = proof_from_bytes(proof)?;
    verify_inclusion(&leaf, index, size, &proof, &root)
}

/// [`verify_consistency`] over wire bytes: every hash must be exactly 32 bytes, even where the
/// sizes make a hash irrelevant.
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), MerkleError> {
    // Equal non-zero sizes need no hashing: the proof must be empty and the roots identical
    // (as RFC 9162 §2.1.4.2 and the reference implementation decide, whatever the roots' length).
    if size1 == size2 && size1 > 0 {
        if !proof.is_empty() {
            return Err(MerkleError::ProofLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        };
    }
    let root1 = hash_from_slice(root1)?;
    let root2 = hash_from_slice(root2)?;
    let proof = proof_from_bytes(proof)?;
    verify_consistency(size1, size2, &proof, &root1, &root2)
}
