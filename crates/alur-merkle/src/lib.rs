//! RFC 9162 Merkle tree hashing and proofs, and signed tree heads (checkpoints).
//!
//! This is the pure core of the tamper-evident audit log: no I/O, no clock, no randomness.
//!
//! * [`leaf_hash`] / [`node_hash`]: the RFC 9162 §2.1.1 hashes (SHA-256, leaf prefix `0x00`,
//!   node prefix `0x01`).
//! * [`root`]: the tree head `MTH(D[n])` of a slice of leaf hashes; [`Frontier`]: the same root
//!   computed incrementally in `O(log n)` memory while leaves are appended; [`CompactRange`]: a range
//!   of leaves hashed apart (in parallel with others) and joined to a frontier.
//! * [`inclusion_proof`] / [`consistency_proof`]: proof generation from any [`HashSource`] (a
//!   slice, a closure via [`FromFn`], or a store); [`verify_inclusion`] /
//!   [`verify_consistency`]: verification per RFC 9162 §2.1.3.2 and §2.1.4.2.
//! * [`checkpoint`]: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes, signed with
//!   Ed25519.
//!
//! Every fallible function returns a typed error; library code never panics on any input.
//!
//! ```
//! use alur_merkle::{Frontier, consistency_proof, inclusion_proof, leaf_hash, root};
//! use alur_merkle::{verify_consistency, verify_inclusion};
//!
//! let leaves: Vec<_> = (0..7u8).map(|i| leaf_hash(&[i])).collect();
//! let mut frontier = Frontier::new();
//! for leaf in &leaves {
//!     frontier.push(*leaf)?;
//! }
//! let head = frontier.root();
//! assert_eq!(head, root(&leaves));
//!
//! let proof = inclusion_proof(&leaves, 3, 7)?;
//! verify_inclusion(&leaves[3], 3, 7, &proof, &head)?;
//!
//! let old_head = root(&leaves[..4]);
//! let proof = consistency_proof(&leaves, 4, 7)?;
//! verify_consistency(4, 7, &proof, &old_head, &head)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod hash;
mod proof;
mod tree;

pub mod checkpoint;

pub use error::{GenerateError, MerkleError, MissingLeaf};
pub use hash::{
    EMPTY_ROOT, HASH_LEN, Hash, LEAF_PREFIX, NODE_PREFIX, hash_from_slice, leaf_hash, node_hash,
};
pub use proof::{
    FromFn, HashSource, consistency_proof, consistency_proof_len, consistency_proof_ranges,
    inclusion_proof, inclusion_proof_len, inclusion_proof_ranges, root_from_inclusion_proof,
    subtree_root, tree_root, verify_consistency, verify_consistency_bytes, verify_inclusion,
    verify_inclusion_bytes,
};
pub use tree::{CompactRange, Frontier, root};
