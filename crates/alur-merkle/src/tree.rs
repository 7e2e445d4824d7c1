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
        self.push_subtree(0, leaf)?;
        Ok(index)
    }

    /// Appends the root of a perfect subtree of `2^level` leaves; the size must be a multiple
    /// of `2^level` (checked by the callers).
    fn push_subtree(&mut self, level: u32, root: Hash) -> Result<(), MerkleError> {
        let new_size = self
            .size
            .checked_add(1u64 << level)
            .ok_or(MerkleError::TreeFull)?;
        // Each one bit of the old size from `level` up, until the first zero, is a perfect
        // subtree of the same height as the one being carried: merge them, like a binary
        // counter's carry.
        let mut carry = root;
        let mut bits = self.size >> level;
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
        Ok(())
    }

    /// Appends a range of leaves hashed apart ([`CompactRange`]), which must begin at this tree's size:
    /// the same tree as pushing its leaves one by one, for `O(log n)` node hashes.
    pub fn extend(&mut self, range: &CompactRange) -> Result<(), MerkleError> {
        if range.begin != self.size {
            return Err(MerkleError::RangeStart {
                size: self.size,
                begin: range.begin,
            });
        }
        let mut at = range.begin;
        for node in &range.nodes {
            let level = CompactRange::next_level(at, range.end);
            self.push_subtree(level, *node)?;
            at += 1u64 << level;
        }
        Ok(())
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

/// The leaves `[begin, end)` of a tree hashed on their own, as the roots of the fewest perfect
/// subtrees of the whole tree that cover them, left to right (a compact range). Appending a
/// leaf costs amortised `O(1)` node hashes, as [`Frontier::push`].
///
/// Ranges let the parts of a long log be hashed apart, in parallel, and joined with
/// [`Frontier::extend`]: the tree head of the first `n` leaves is that of a frontier over the
/// leaves before the range, extended with the range up to `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRange {
    begin: u64,
    end: u64,
    nodes: Vec<Hash>,
}

impl CompactRange {
    /// An empty range at `begin`.
    #[must_use]
    pub fn new(begin: u64) -> Self {
        Self {
            begin,
            end: begin,
            nodes: Vec::new(),
        }
    }

    /// The index of its first leaf.
    #[must_use]
    pub fn begin(&self) -> u64 {
        self.begin
    }

    /// One past the index of its last leaf.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The level (a subtree of `2^level` leaves) of the node that starts at `at` in a range
    /// ending at `end > at`: the largest subtree aligned at `at` that fits.
    fn next_level(at: u64, end: u64) -> u32 {
        // (`at == 0` has 64 trailing zeros: any subtree is aligned there.)
        (63 - (end - at).leading_zeros()).min(at.trailing_zeros())
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf: Hash) -> Result<u64, MerkleError> {
        let index = self.end;
        let new_end = index.checked_add(1).ok_or(MerkleError::TreeFull)?;
        // As in a frontier, with the carry stopping where the left sibling would start before
        // the range: that subtree is not the range's to hash.
        let mut carry = leaf;
        let mut level = 0u32;
        while level < 63 && (index >> level) & 1 == 1 {
            let sibling_start = ((index >> level) - 1) << level;
            if sibling_start < self.begin {
                break;
            }
            let Some(left) = self.nodes.pop() else {
                // Unreachable: the sibling lies inside the range, so it is on the stack.
                break;
            };
            carry = node_hash(&left, &carry);
            level += 1;
        }
        self.nodes.push(carry);
        self.end = new_end;
        Ok(index)
    }
}
