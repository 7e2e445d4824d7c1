//! The incremental tree head agrees with the batch one.

use alur_merkle::{EMPTY_ROOT, Frontier, Hash, MerkleError, leaf_hash, root};

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
