//! Tree heads: over a slice, and incrementally.

use crate::{EMPTY_ROOT, Hash, MerkleError, node_hash};

/// The largest power of two strictly smaller than `n`; `n` must be at least 2.
pub(crate) fn split_point(n: u64) -> u64 {
    // n >= 2, so n - 1 >= 1 and has at most 63 leading zeros.
    1u64 << (63 - (n.saturating_sub(1) | 1).leading_zeros())
}

/// The tree head `MTH(D[n])` (RFC 9162 §2.1.1) of the given leaf hashes.
///
/// The empty tree's root is [`EMPTY_ROOT`]. Runs in `O(n)` hashes and `O(log n)` stack.
#[must_use]
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        _ => mth(leaves),
    }
}

fn mth(leaves: &[Hash]) -> Hash {
    if let [only] = leaves {
        return *only;
    }
    let k = split_point(leaves.len() as u64) as usize;
    match leaves.split_at_checked(k) {
        Some((left, right)) if !left.is_empty() && !right.is_empty() => {
            node_hash(&mth(left), &mth(right))
        }
        // Unreachable for a non-empty slice (0 < k < len); the empty slice is handled by `root`.
        _ => EMPTY_ROOT,
    }
}

/// An append-only Merkle tree that keeps only its right frontier: the roots of the perfect
/// subtrees covering `[0, size)`, one per set bit of `size`, largest (leftmost) first.
///
/// Memory is `O(log n)` (at most 64 hashes), an append costs amortised `O(1)` node hashes and
/// [`root`](Self::root) costs `O(log n)` node hashes, so the audit log can follow millions of
/// entries without holding them. The nodes can be persisted ([`nodes`](Self::nodes)) and restored
/// ([`from_parts`](Self::from_parts)) so that an integrator resumes where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a frontier from its size and nodes (as returned by [`nodes`](Self::nodes)).
    ///
    /// Fails if the number of nodes is not the number of set bits of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(MerkleError::FrontierShape {
                size,
                expected,
                actual: nodes.len(),
            });
        }
        Ok(Self { size, nodes })
    }

    /// The number of leaves appended so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees covering `[0, size)`, largest (leftmost) first.
    #[must_use]
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf: Hash) -> Result<u64, MerkleError> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(MerkleError::TreeFull)?;
        // Each trailing one bit of the old size is a perfect subtree of the same height as the
        // one being carried: merge them, like a binary counter's carry.
        let mut carry = leaf;
        let mut bits = index;
        while bits & 1 == 1 {
            let Some(left) = self.nodes.pop() else {
                // Unreachable: the constructor guarantees one node per set bit.
                break;
            };
            carry = node_hash(&left, &carry);
            bits >>= 1;
        }
        self.nodes.push(carry);
        self.size = new_size;
        Ok(index)
    }

    /// The current tree head `MTH(D[size])`.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return EMPTY_ROOT;
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
