//! Errors of tree computation, proof generation and proof verification.

/// Why a Merkle computation, proof request or proof verification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index is not inside the tree (`index >= size`).
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from the empty tree was requested or offered (including `0 -> 0`);
    /// it would prove nothing, so it is always refused.
    #[error("a consistency proof from an empty tree proves nothing")]
    EmptyOldTree,
    /// The second tree is smaller than the first.
    #[error("tree size decreased from {size1} to {size2}")]
    SizeDecreased {
        /// The older (first) tree size.
        size1: u64,
        /// The newer (second) tree size.
        size2: u64,
    },
    /// The proof does not have the number of hashes that the sizes and index imply.
    #[error("proof has {actual} hashes, expected {expected}")]
    ProofLength {
        /// The number of hashes the proof must have.
        expected: usize,
        /// The number of hashes it has.
        actual: usize,
    },
    /// A hash given as bytes is not 32 bytes long.
    #[error("a hash must be 32 bytes, got {actual}")]
    HashLength {
        /// The length that was given.
        actual: usize,
    },
    /// The inclusion proof leads to a root other than the expected one.
    #[error("the inclusion proof does not lead to the expected root")]
    RootMismatch,
    /// The consistency proof does not reproduce the first (older) root.
    #[error("the consistency proof does not match the first root")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the second (newer) root.
    #[error("the consistency proof does not match the second root")]
    NewRootMismatch,
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree is full")]
    TreeFull,
    /// Frontier nodes do not match the tree size (one node per set bit of the size).
    #[error("a frontier of size {size} needs {expected} nodes, got {actual}")]
    FrontierShape {
        /// The tree size.
        size: u64,
        /// The number of nodes it needs.
        expected: usize,
        /// The number of nodes given.
        actual: usize,
    },
    /// A range of leaves was appended to a tree that does not end where the range begins.
    #[error("a range of leaves from {begin} cannot extend a tree of {size} leaves")]
    RangeStart {
        /// The tree size.
        size: u64,
        /// Where the range begins.
        begin: u64,
    },
    /// The range is not a node of the RFC 9162 tree: it must be non-empty and start at a
    /// multiple of the smallest power of two not smaller than its length.
    #[error("{start}..{end} is not a node of the tree")]
    NotATreeNode {
        /// Start of the range (inclusive).
        start: u64,
        /// End of the range (exclusive).
        end: u64,
    },
}

/// Why a proof or root could not be generated from a [`HashSource`](crate::HashSource).
#[derive(Debug, thiserror::Error)]
pub enum GenerateError<E> {
    /// The request itself is invalid (e.g. index out of range, consistency from size 0).
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// The hash source failed.
    #[error("hash source failed: {0}")]
    Source(#[source] E),
}

/// A slice or vector used as a [`HashSource`](crate::HashSource) does not hold the requested leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("leaf {index} is not in the source")]
pub struct MissingLeaf {
    /// The requested leaf index.
    pub index: u64,
}
