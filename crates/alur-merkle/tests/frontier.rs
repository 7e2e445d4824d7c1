//! The incremental tree head agrees with the batch one.

use alur_merkle::{CompactRange, EMPTY_ROOT, Frontier, Hash, MerkleError, leaf_hash, root};

#[test]
fn frontier_matches_root_for_every_prefix_up_to_1000() {
    let leaves: Vec<Hash> = (0..1000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), EMPTY_ROOT);
    assert_eq!(frontier.root(), root(&[]));
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(frontier.push(*leaf), Ok(i as u64));
        let size = i + 1;
        assert_eq!(frontier.size(), size as u64);
        assert_eq!(frontier.nodes().len(), size.count_ones() as usize);
        assert_eq!(frontier.root(), root(&leaves[..size]), "prefix {size}");
    }
    println!("frontier prefixes checked: {}", leaves.len());
}

#[test]
fn frontier_resumes_from_its_parts() {
    let leaves: Vec<Hash> = (0..300u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let mut full = Frontier::new();
    for leaf in &leaves {
        full.push(*leaf).unwrap();
    }
    for cut in [0usize, 1, 2, 3, 7, 8, 100, 255, 256, 299] {
        let mut first = Frontier::new();
        for leaf in &leaves[..cut] {
            first.push(*leaf).unwrap();
        }
        let mut resumed = Frontier::from_parts(first.size(), first.nodes().to_vec()).unwrap();
        assert_eq!(resumed, first);
        for leaf in &leaves[cut..] {
            resumed.push(*leaf).unwrap();
        }
        assert_eq!(resumed, full, "cut at {cut}");
    }
}

#[test]
fn frontier_refuses_bad_parts_and_overflow() {
    assert_eq!(
        Frontier::from_parts(3, vec![[0; 32]]),
        Err(MerkleError::FrontierShape {
            size: 3,
            expected: 2,
            actual: 1
        })
    );
    assert!(Frontier::from_parts(0, vec![[0; 32]]).is_err());
    let mut full = Frontier::from_parts(u64::MAX, vec![[7; 32]; 64]).unwrap();
    let before = full.clone();
    assert_eq!(full.push([1; 32]), Err(MerkleError::TreeFull));
    assert_eq!(full, before);
    // The largest tree still has a root.
    assert_ne!(full.root(), EMPTY_ROOT);
}

/// A frontier over the leaves before a compact range, extended with it, is the frontier over
/// all of them: every range in a tree of 70 leaves, and every prefix of each range.
#[test]
fn compact_ranges_join_to_the_same_tree() {
    let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut joins = 0;
    for begin in 0..leaves.len() {
        let mut before = Frontier::new();
        for leaf in &leaves[..begin] {
            before.push(*leaf).unwrap();
        }
        let mut range = CompactRange::new(begin as u64);
        let mut whole = before.clone();
        // The empty range joins to the same tree.
        let mut joined = before.clone();
        joined.extend(&range).unwrap();
        assert_eq!(joined, whole);
        for (i, leaf) in leaves.iter().enumerate().skip(begin) {
            assert_eq!(range.push(*leaf), Ok(i as u64));
            whole.push(*leaf).unwrap();
            assert_eq!((range.begin(), range.end()), (begin as u64, i as u64 + 1));
            let mut joined = before.clone();
            joined.extend(&range).unwrap();
            assert_eq!(joined, whole, "range {begin}..{}", i + 1);
            assert_eq!(joined.root(), root(&leaves[..=i]));
            joins += 1;
        }
    }
    // Ranges far into a large tree, across several levels of alignment.
    for begin in [(1u64 << 40) - 3, 1 << 40, (1 << 40) + 5] {
        let mut range = CompactRange::new(begin);
        let mut manual = Vec::new();
        for leaf in &leaves[..40] {
            range.push(*leaf).unwrap();
            manual.push(*leaf);
        }
        assert_eq!(range.end(), begin + 40);
        // Joined to a frontier of the right size, the range adds its 40 leaves.
        let mut f =
            Frontier::from_parts(begin, vec![[9; 32]; begin.count_ones() as usize]).unwrap();
        f.extend(&range).unwrap();
        assert_eq!(f.size(), begin + 40);
        let mut g =
            Frontier::from_parts(begin, vec![[9; 32]; begin.count_ones() as usize]).unwrap();
        for leaf in &manual {
            g.push(*leaf).unwrap();
        }
        assert_eq!(f, g);
    }
    println!("compact range joins checked: {joins}");
}

#[test]
fn a_compact_range_extends_only_the_tree_it_follows() {
    let mut range = CompactRange::new(5);
    range.push(leaf_hash(b"x")).unwrap();
    let mut short = Frontier::new();
    short.push(leaf_hash(b"a")).unwrap();
    let before = short.clone();
    assert_eq!(
        short.extend(&range),
        Err(MerkleError::RangeStart { size: 1, begin: 5 })
    );
    assert_eq!(short, before);
    let mut full = CompactRange::new(u64::MAX);
    assert_eq!(full.push([1; 32]), Err(MerkleError::TreeFull));
}
