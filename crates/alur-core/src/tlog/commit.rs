//! Auditing a tenant in commit order, for stores that can read their entries that way
//! ([`Store::audits_in_commit_order`]).
//!
//! The tenant log holds every entry once, at contiguous indexes from 0, in commit order (the
//! integrator appends the unsequenced entries in the order they were committed, and the stores
//! refuse any other append). So reading the entries in commit order, leaf `i` must name the `i`-th
//! entry read: the leaves are checked by walking beside the entries, with no lookup; the entries
//! after the last leaf are the unsequenced ones. Each case's chain is followed through a map from
//! the case to its last sequence and hash.
//!
//! Reading in commit order is reading the store's table in the order it was written: no index
//! lookup per entry and no page visited twice, where reading case by case jumps between the
//! scattered rows of the cases open at the same time.
//!
//! A long log is read in spans (ranges of log indexes, with the commit positions of their
//! entries) on all cores. Each span checks what it can on its own: the hashes, the chains of the
//! cases it meets after their first entry in the span, and its leaves. The first entry of each
//! case in a span (its link to the spans before) is checked at the join, in span order, against
//! the cases' state after the spans before; so the failure reported is the one a single reading
//! reports: the first bad entry in commit order.
//!
//! The order of reports: a bad entry (its chain) first, then a bad leaf (the lowest index), then
//! a checkpoint the log does not match, then (strict) unsequenced entries or a log not covered
//! by a checkpoint.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use alur_merkle::{CompactRange, Hash, leaf_hash};

use super::{AuditFailure, AuditSummary, GENESIS_HASH, Job, LogCheck, parse_hash, run_jobs};
use crate::audit::{EntryColumns, chain_digest, parse_chain_hash};
use crate::store::{Store, StoreError, StoreErrorKind};

/// An audit entry as read in commit order, with the hash its content gives.
#[derive(Debug, Clone, Copy)]
pub struct CommitEntry<'a> {
    /// The store's commit position: strictly increasing in commit order.
    pub pos: i64,
    /// Case id.
    pub case_id: &'a str,
    /// Sequence in the case's chain.
    pub seq: u64,
    /// Stated previous hash ([`parse_chain_hash`]; `None` when the stored text is not one).
    pub prev_hash: Option<Hash>,
    /// Stated hash ([`parse_chain_hash`]; `None` when the stored text is not one).
    pub hash: Option<Hash>,
    /// [`chain_digest`] of the entry's canonical bytes.
    pub digest: Hash,
}

/// An entry as read, before its content is hashed.
#[derive(Debug, Clone, Copy)]
struct Read<'a> {
    pos: i64,
    case_id: &'a str,
    seq: u64,
    prev_hash: Option<Hash>,
    hash: Option<Hash>,
}

/// A log leaf as read in index order.
#[derive(Debug, Clone, Copy)]
pub struct CommitLeaf<'a> {
    /// Index in the tenant log.
    pub index: u64,
    /// The commit position of the entry it names.
    pub entry_pos: i64,
    /// The case it names.
    pub case_id: &'a str,
    /// The sequence it names.
    pub seq: u64,
    /// Its hash, as stored (hex).
    pub hash: &'a str,
}

/// What a span covers: the leaves `first_leaf..end_leaf` and the entries whose commit positions
/// are after `after_pos` and up to `until_pos` (`None`: from the first, to the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanBounds {
    /// Entries after this commit position (`None`: from the first).
    pub after_pos: Option<i64>,
    /// Entries up to this commit position, included (`None`: to the last; the span then also
    /// holds the unsequenced entries).
    pub until_pos: Option<i64>,
    /// The first leaf.
    pub first_leaf: u64,
    /// One past the last leaf.
    pub end_leaf: u64,
}

/// Case ids up to this long are map keys without an allocation.
const INLINE: usize = 30;

/// A case id as a key of the map of heads: inline when short (as the engine's ids are), so that
/// a lookup reads one slot of the table and not also a string elsewhere in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CaseKey {
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

impl CaseKey {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline(len, bytes) => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            Self::Heap(s) => s.as_bytes(),
        }
    }

    fn of(case_id: &str) -> Self {
        let b = case_id.as_bytes();
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..b.len()].copy_from_slice(b);
                Self::Inline(len, bytes)
            }
            _ => Self::Heap(case_id.into()),
        }
    }
}

/// The last entry met of a case.
#[derive(Debug, Clone, Copy)]
struct Head {
    seq: u64,
    hash: Hash,
}

/// The last entry met of each case, in the order the cases were first met, with an index from
/// the case id to its place. A case's entries lie close together in commit order, so the cases
/// an audit meets are mostly those it met last, whose slots are at the end of `slots`, in cache;
/// only the index (8 bytes a case, at most half full) is read at random, one word a lookup. A
/// map holding the slots themselves (72 bytes a case) outgrows the processor's caches at a few
/// hundred thousand cases and then waits on memory at nearly every entry.
#[derive(Debug)]
struct Heads {
    /// Open addressing with linear probing: 0 is free, otherwise the top [`TAG_BITS`] bits of
    /// the id's hash over one more than the slot's place.
    index: Vec<u64>,
    slots: Vec<(CaseKey, Head)>,
    /// The place of the case last met with each value of 15 bits of its id's hash (bits 32 and
    /// up: `index` is placed by the lowest): the cases met lately, found without reading `index`
    /// (128 KiB, which stays in cache).
    recent: Box<[u32]>,
    hasher: hashbrown::DefaultHashBuilder,
}

const RECENT: usize = 1 << 15;

const TAG_BITS: u32 = 24;
const PLACE_BITS: u32 = 64 - TAG_BITS;
const PLACE_MASK: u64 = (1 << PLACE_BITS) - 1;

impl Heads {
    fn with_capacity(n: usize) -> Self {
        Self {
            index: vec![0; (n.max(8) * 2).next_power_of_two()],
            slots: Vec::with_capacity(n),
            recent: vec![u32::MAX; RECENT].into_boxed_slice(),
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// The case with these id bytes (`hash`: theirs): `Ok` with its place in `slots`, or `Err`
    /// with the free word of `index` where it goes.
    fn find(&self, hash: u64, id: &[u8]) -> Result<usize, usize> {
        let mask = self.index.len() - 1;
        let tag = hash >> PLACE_BITS;
        let mut at = (hash as usize) & mask;
        loop {
            let word = self.index.get(at).copied().unwrap_or(0);
            if word == 0 {
                return Err(at);
            }
            if word >> PLACE_BITS == tag {
                let place = ((word & PLACE_MASK) - 1) as usize;
                if self
                    .slots
                    .get(place)
                    .is_some_and(|(k, _)| k.as_bytes() == id)
                {
                    return Ok(place);
                }
            }
            at = (at + 1) & mask;
        }
    }

    fn get(&self, case_id: &str) -> Option<&Head> {
        let id = case_id.as_bytes();
        let place = self.find(self.hasher.hash_one(id), id).ok()?;
        self.slots.get(place).map(|(_, h)| h)
    }

    /// Look `case_id` up: its head to update, or (not met) its id's hash, for [`Heads::set`].
    fn entry(&mut self, case_id: &str) -> Result<&mut Head, u64> {
        let id = case_id.as_bytes();
        let hash = self.hasher.hash_one(id);
        let r = recent_slot(hash);
        let seen = self.recent.get(r).map_or(usize::MAX, |&p| p as usize);
        let met = self
            .slots
            .get(seen)
            .is_some_and(|(k, _)| k.as_bytes() == id);
        let place = if met {
            seen
        } else {
            let place = self.find(hash, id).map_err(|_| hash)?;
            self.remember(r, place);
            place
        };
        self.slots.get_mut(place).map(|(_, h)| h).ok_or(hash)
    }

    /// Note `place` as the case met last with this slot of `recent`.
    fn remember(&mut self, slot: usize, place: usize) {
        if let (Some(p), Ok(v)) = (self.recent.get_mut(slot), u32::try_from(place)) {
            *p = v;
        }
    }

    /// Set the head of the case with `key` (`hash`: its id's): added when not met, replaced
    /// when met.
    fn set(&mut self, hash: u64, key: CaseKey, head: Head) {
        match self.find(hash, key.as_bytes()) {
            Ok(place) => {
                if let Some(slot) = self.slots.get_mut(place) {
                    slot.1 = head;
                }
            }
            Err(at) => {
                self.remember(recent_slot(hash), self.slots.len());
                self.slots.push((key, head));
                if let Some(w) = self.index.get_mut(at) {
                    *w = index_word(hash, self.slots.len() - 1);
                }
                if self.slots.len() * 2 > self.index.len() {
                    self.grow();
                }
            }
        }
    }

    /// Twice the words, every case placed anew.
    fn grow(&mut self) {
        let size = self.index.len() * 2;
        let mask = size - 1;
        let mut index = vec![0u64; size];
        for (place, (k, _)) in self.slots.iter().enumerate() {
            let hash = self.hasher.hash_one(k.as_bytes());
            let mut at = (hash as usize) & mask;
            while index.get(at).is_some_and(|&w| w != 0) {
                at = (at + 1) & mask;
            }
            if let Some(w) = index.get_mut(at) {
                *w = index_word(hash, place);
            }
        }
        self.index = index;
    }

    /// Every case of `later` (met after these) with its head there.
    fn absorb(&mut self, later: Heads) {
        for (k, h) in later.slots {
            let hash = self.hasher.hash_one(k.as_bytes());
            self.set(hash, k, h);
        }
    }
}

/// The word of `index` for the case at `place` in `slots` whose id has `hash`.
fn index_word(hash: u64, place: usize) -> u64 {
    (hash >> PLACE_BITS << PLACE_BITS) | ((place as u64 + 1) & PLACE_MASK)
}

/// The slot of `recent` for an id's hash.
fn recent_slot(hash: u64) -> usize {
    (hash >> 32) as usize % RECENT
}

/// A case's first entry in a span after the first: checked at the join.
#[derive(Debug, Clone, Copy)]
struct Link {
    pos: i64,
    /// Where the case id ends in [`SpanAudit::link_names`].
    name_end: usize,
    seq: u64,
    prev_hash: Option<Hash>,
}

/// Shared by the spans of one audit.
#[derive(Debug, Default)]
struct Shared {
    /// Entries checked (progress).
    fed: AtomicU64,
    /// The lowest span that met a bad entry: the spans after it stop.
    first_failed: AtomicUsize,
}

/// One span of an audit in commit order. A store feeds it ([`Store::audit_span`]): each entry in
/// commit order with the leaf at the same place ([`SpanAudit::entry`]), then any leaves left
/// ([`SpanAudit::leaf_only`]).
#[derive(Debug)]
pub struct SpanAudit {
    tenant: String,
    bounds: SpanBounds,
    span: usize,
    shared: Arc<Shared>,
    /// Every case met in this span: its last entry.
    heads: Heads,
    /// The first entry of each case met, in commit order (spans after the first).
    links: Vec<Link>,
    link_names: String,
    entries: u64,
    unfed: u64,
    /// The first bad entry: its commit position and the report.
    chain_failure: Option<(i64, AuditFailure)>,
    /// The next leaf expected.
    next_leaf: u64,
    leaf_failure: Option<AuditFailure>,
    unsequenced: u64,
    /// The span's leaves hashed into their part of the Merkle tree (joined in span order to the
    /// log side's tree: each span hashes its own leaves' nodes).
    merkle: CompactRange,
    /// The sizes of the checkpoints to check (all spans'), in increasing order.
    checkpoint_sizes: Arc<[u64]>,
    /// The next of those sizes this span may reach.
    next_checkpoint: usize,
    /// `merkle` as it was at each checkpoint size inside the span.
    at_checkpoints: Vec<CompactRange>,
    canonical: Vec<u8>,
}

impl SpanAudit {
    /// What the span covers.
    pub fn bounds(&self) -> SpanBounds {
        self.bounds
    }

    fn last(&self) -> bool {
        self.bounds.until_pos.is_none()
    }

    fn leaf_fail(&mut self, index: u64, detail: String) {
        if self.leaf_failure.is_none() {
            self.leaf_failure = Some(AuditFailure {
                what: "log".into(),
                tenant: self.tenant.clone(),
                case_id: None,
                seq: None,
                index: Some(index),
                detail,
            });
        }
    }

    /// Feed the next entry with its columns as stored: its canonical bytes are built and hashed
    /// here. See [`SpanAudit::entry`].
    pub fn entry_columns(
        &mut self,
        pos: i64,
        columns: &EntryColumns<'_>,
        hash: &str,
        leaf: Option<&CommitLeaf<'_>>,
    ) -> bool {
        let read = Read {
            pos,
            case_id: columns.case_id,
            seq: columns.seq,
            prev_hash: parse_chain_hash(columns.prev_hash),
            hash: parse_chain_hash(hash),
        };
        let digest = |canonical: &mut Vec<u8>| {
            canonical.clear();
            columns.canonical_into(canonical);
            chain_digest(canonical)
        };
        self.step(&read, Some(hash), digest, leaf)
    }

    /// Feed the next entry in commit order, with the next leaf of the span if any is left.
    /// Returns whether to go on: `false` after a bad entry (the span's report is complete) or
    /// when a span before this one met a bad entry (this one's report will not be needed).
    pub fn entry(&mut self, e: &CommitEntry<'_>, leaf: Option<&CommitLeaf<'_>>) -> bool {
        let read = Read {
            pos: e.pos,
            case_id: e.case_id,
            seq: e.seq,
            prev_hash: e.prev_hash,
            hash: e.hash,
        };
        self.step(&read, None, |_| e.digest, leaf)
    }

    /// One entry: `stated` is its hash as stored (text), if known (a leaf stating the same text
    /// states the entry's hash, with no decoding); `digest` hashes its content.
    fn step(
        &mut self,
        read: &Read<'_>,
        stated: Option<&str>,
        digest: impl FnOnce(&mut Vec<u8>) -> Hash,
        leaf: Option<&CommitLeaf<'_>>,
    ) -> bool {
        let digest = match self.check(read, digest) {
            Ok(d) => d,
            Err(f) => {
                self.chain_failure = Some((read.pos, f));
                self.shared
                    .first_failed
                    .fetch_min(self.span, Ordering::Relaxed);
                return false;
            }
        };
        let e = CommitEntry {
            pos: read.pos,
            case_id: read.case_id,
            seq: read.seq,
            prev_hash: read.prev_hash,
            hash: read.hash,
            digest,
        };
        match leaf {
            Some(l) => self.leaf(l, Some(&e), stated),
            None if self.last() => self.unsequenced += 1,
            None => self.leaf_fail(
                self.bounds.end_leaf,
                format!(
                    "entry {} of case {} is not in the log, yet entries committed after it are (an entry was inserted, or a leaf deleted)",
                    e.seq, e.case_id
                ),
            ),
        }
        self.entries += 1;
        self.unfed += 1;
        if self.unfed == 4096 {
            self.shared.fed.fetch_add(self.unfed, Ordering::Relaxed);
            self.unfed = 0;
            if self.shared.first_failed.load(Ordering::Relaxed) < self.span {
                return false;
            }
        }
        true
    }

    /// The chain checks of one entry, with one lookup of its case (found or not). The case is
    /// looked up and its link checked before the entry's bytes are built and hashed: the
    /// processor fetches the case's slot from memory meanwhile. Returns the entry's digest.
    fn check(
        &mut self,
        e: &Read<'_>,
        digest: impl FnOnce(&mut Vec<u8>) -> Hash,
    ) -> Result<Hash, AuditFailure> {
        let fail = |detail: String| chain_failure(&self.tenant, e.case_id, e.seq, detail);
        match self.heads.entry(e.case_id) {
            Ok(head) => {
                link(Some(head), e.seq, e.prev_hash).map_err(fail)?;
                let d = digest(&mut self.canonical);
                if e.hash != Some(d) {
                    return Err(fail(MODIFIED.into()));
                }
                *head = Head {
                    seq: e.seq,
                    hash: d,
                };
                Ok(d)
            }
            Err(hash) => {
                if self.bounds.after_pos.is_none() {
                    link(None, e.seq, e.prev_hash).map_err(fail)?;
                } else {
                    // Its link to the spans before is checked at the join; a bad link found
                    // there at this position is reported before a bad hash.
                    self.link_names.push_str(e.case_id);
                    self.links.push(Link {
                        pos: e.pos,
                        name_end: self.link_names.len(),
                        seq: e.seq,
                        prev_hash: e.prev_hash,
                    });
                }
                let d = digest(&mut self.canonical);
                if e.hash != Some(d) {
                    return Err(fail(MODIFIED.into()));
                }
                self.heads.set(
                    hash,
                    CaseKey::of(e.case_id),
                    Head {
                        seq: e.seq,
                        hash: d,
                    },
                );
                Ok(d)
            }
        }
    }

    /// A leaf of the span left after its entries ran out.
    pub fn leaf_only(&mut self, leaf: &CommitLeaf<'_>) {
        self.leaf(leaf, None, None);
    }

    /// A leaf, and the entry at its place (which passed its checks) with its hash as stored.
    fn leaf(&mut self, l: &CommitLeaf<'_>, entry: Option<&CommitEntry<'_>>, stated: Option<&str>) {
        let expected = self.next_leaf;
        self.next_leaf += 1;
        if l.index != expected {
            self.leaf_fail(
                expected,
                format!(
                    "index {} where {expected} was expected (a leaf is missing or moved)",
                    l.index
                ),
            );
            self.next_leaf = l.index.saturating_add(1);
        }
        // The entry's stated hash is its digest (checked): the same text is the same hash.
        let same = entry.is_some() && stated == Some(l.hash);
        let Some(h) = (match (same, entry) {
            (true, Some(e)) => Some(e.digest),
            _ => parse_hash(l.hash),
        }) else {
            self.leaf_fail(l.index, "malformed leaf hash".into());
            return;
        };
        if let Err(e) = self.merkle.push(leaf_hash(&h)) {
            self.leaf_fail(l.index, e.to_string());
            return;
        }
        while let Some(&size) = self.checkpoint_sizes.get(self.next_checkpoint) {
            if size > self.merkle.end() {
                break;
            }
            // (Sizes repeat when two checkpoints sign the same tree: one copy serves both.)
            if size == self.merkle.end()
                && self.at_checkpoints.last().map(CompactRange::end) != Some(size)
            {
                self.at_checkpoints.push(self.merkle.clone());
            }
            self.next_checkpoint += 1;
        }
        if self.leaf_failure.is_some() {
            return;
        }
        match entry {
            None => self.leaf_fail(
                l.index,
                format!(
                    "leaf names entry {} of case {} but no entry is left in commit order for it (deleted, or the leaf repeats another)",
                    l.seq, l.case_id
                ),
            ),
            Some(e) if e.case_id != l.case_id || e.seq != l.seq => self.leaf_fail(
                l.index,
                format!(
                    "leaf names entry {} of case {} but the entry at its place in commit order is entry {} of case {} (an entry was deleted, inserted or moved, or the leaf relabelled)",
                    l.seq, l.case_id, e.seq, e.case_id
                ),
            ),
            Some(e) if e.digest != h => self.leaf_fail(
                l.index,
                format!(
                    "leaf's hash is not that of entry {} of case {} (the leaf was modified)",
                    e.seq, e.case_id
                ),
            ),
            Some(e) if e.pos != l.entry_pos => self.leaf_fail(
                l.index,
                format!(
                    "leaf points at commit position {} but its entry is at {} (the leaf or the entry was moved)",
                    l.entry_pos, e.pos
                ),
            ),
            Some(_) => {}
        }
    }

    /// The span's entries and leaves are all fed.
    fn end(&mut self) {
        self.shared.fed.fetch_add(self.unfed, Ordering::Relaxed);
        self.unfed = 0;
        if self.chain_failure.is_none() && self.next_leaf < self.bounds.end_leaf {
            self.leaf_fail(
                self.next_leaf,
                format!("the log has no leaf {} (a leaf is missing)", self.next_leaf),
            );
        }
    }
}

fn chain_failure(tenant: &str, case_id: &str, seq: u64, detail: String) -> AuditFailure {
    AuditFailure {
        what: "chain".into(),
        tenant: tenant.to_owned(),
        case_id: Some(case_id.to_owned()),
        seq: Some(seq),
        index: None,
        detail,
    }
}

const MODIFIED: &str = "content does not match its hash (the entry was modified)";

/// Whether an entry with `seq` and stated `prev` continues its case's chain, whose last entry so
/// far is `head` (`None`: the case has none).
fn link(head: Option<&Head>, seq: u64, prev: Option<Hash>) -> Result<(), String> {
    let (expected, prev_ok) = match head {
        Some(h) => (h.seq + 1, prev == Some(h.hash)),
        None => (1, prev == Some(GENESIS_HASH)),
    };
    if seq != expected {
        return Err(format!(
            "sequence {seq} where {expected} was expected (an entry is missing, duplicated or moved)"
        ));
    }
    if !prev_ok {
        return Err(
            "prev_hash does not match the previous entry (deleted, swapped or inserted entry)"
                .into(),
        );
    }
    Ok(())
}

/// How to read `tenant`'s log of `size` leaves in commit order: `parts` spans of equal ranges of
/// leaves when each holds at least `min_leaves`, cut at the commit positions of the leaves'
/// entries (one span when the log is small, or when the positions read are missing or out of
/// order: a damaged log is checked whole). One read of positions serves both this and the
/// choice of reading: `None` when reading in commit order does not pay, because the tenant's
/// entries are under a quarter of the commit positions they span (reading in commit order visits
/// every entry in the range, the other tenants' too: a small tenant in a large shared database is
/// read case by case, through its own index) or its log is empty.
pub(super) async fn plan<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    size: u64,
    parts: usize,
    min_leaves: u64,
) -> Result<Option<Vec<SpanBounds>>, StoreError> {
    let Some(last) = size.checked_sub(1) else {
        return Ok(None);
    };
    let parts = parts as u64;
    let parts = if parts >= 2 && size >= parts * min_leaves.max(1) {
        parts
    } else {
        1
    };
    // The first leaf, the last leaf of each span but the last, and the last leaf.
    let cuts: Vec<u64> = (1..parts).map(|j| size * j / parts - 1).collect();
    let mut asked = Vec::with_capacity(cuts.len() + 2);
    asked.push(0);
    asked.extend_from_slice(&cuts);
    asked.push(last);
    let positions = store.leaf_positions(tenant, &asked).await?;
    if let (Some(Some(first)), Some(Some(last))) = (positions.first(), positions.last())
        && last >= first
    {
        let width = u64::try_from(last - first)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if size.saturating_mul(4) < width {
            return Ok(None);
        }
    }
    // (Ends missing or out of order: a damaged log, which the commit-order reading reports.)
    let one = vec![SpanBounds {
        after_pos: None,
        until_pos: None,
        first_leaf: 0,
        end_leaf: size,
    }];
    let inner = positions.get(1..positions.len().saturating_sub(1));
    let Some(Some(at)) = inner.map(|p| p.iter().copied().collect::<Option<Vec<i64>>>()) else {
        return Ok(Some(one));
    };
    if positions.len() != asked.len() || at.windows(2).any(|w| w[0] >= w[1]) {
        return Ok(Some(one));
    }
    let mut out = Vec::with_capacity(cuts.len() + 1);
    for j in 0..=cuts.len() {
        out.push(SpanBounds {
            after_pos: j.checked_sub(1).map(|p| at[p]),
            until_pos: at.get(j).copied(),
            first_leaf: j.checked_sub(1).map_or(0, |p| cuts[p] + 1),
            end_leaf: cuts.get(j).map_or(size, |c| c + 1),
        });
    }
    Ok(Some(out))
}

/// [`super::verify_store`] on a store that reads in commit order, in the spans [`plan`] gave.
pub(super) async fn verify<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    log: LogCheck,
    strict: bool,
    mut progress: impl FnMut(u64),
    bounds: Vec<SpanBounds>,
) -> Result<Result<AuditSummary, AuditFailure>, StoreError> {
    let shared = Arc::new(Shared {
        fed: AtomicU64::new(0),
        first_failed: AtomicUsize::new(usize::MAX),
    });
    let checkpoint_sizes: Arc<[u64]> = log.pending_sizes().into();
    let mut jobs: Vec<Job<'_, (usize, Result<SpanAudit, StoreError>)>> =
        Vec::with_capacity(bounds.len());
    let count = bounds.len();
    for (i, b) in bounds.into_iter().enumerate() {
        let span = SpanAudit {
            tenant: tenant.to_owned(),
            bounds: b,
            span: i,
            shared: Arc::clone(&shared),
            // Room for a case per four entries (the map then rarely grows).
            heads: Heads::with_capacity(
                usize::try_from((b.end_leaf - b.first_leaf) / 4)
                    .unwrap_or(0)
                    .min(1 << 20),
            ),
            links: Vec::new(),
            link_names: String::new(),
            entries: 0,
            unfed: 0,
            chain_failure: None,
            next_leaf: b.first_leaf,
            leaf_failure: None,
            unsequenced: 0,
            merkle: CompactRange::new(b.first_leaf),
            next_checkpoint: checkpoint_sizes.partition_point(|&s| s <= b.first_leaf),
            checkpoint_sizes: Arc::clone(&checkpoint_sizes),
            at_checkpoints: Vec::new(),
            canonical: Vec::new(),
        };
        jobs.push(Box::pin(async move {
            (i, store.audit_span(tenant, span).await)
        }));
    }
    let mut done: Vec<Option<SpanAudit>> = (0..count).map(|_| None).collect();
    run_jobs(jobs, &shared.fed, &mut progress, |(i, s)| {
        let mut s = s?;
        // Whatever the store fed, the span ends here.
        s.end();
        done[i] = Some(s);
        Ok(())
    })
    .await?;
    let spans: Vec<SpanAudit> = done
        .into_iter()
        .map(|s| s.ok_or_else(super::state_lost))
        .collect::<Result<_, _>>()?;
    Ok(join(tenant, spans, log, strict))
}

/// Join the spans in order (each one's links against the cases' heads after the spans before),
/// then their parts of the Merkle tree on the log side, in the order of reports.
fn join(
    tenant: &str,
    spans: Vec<SpanAudit>,
    mut log: LogCheck,
    strict: bool,
) -> Result<AuditSummary, AuditFailure> {
    let mut heads = Heads::with_capacity(0);
    let mut summary = AuditSummary::default();
    let mut leaf_failure = None;
    let mut trees = Vec::with_capacity(spans.len());
    let last = spans.len().saturating_sub(1);
    for (j, span) in spans.into_iter().enumerate() {
        let until = span
            .chain_failure
            .as_ref()
            .map_or(i64::MAX, |(pos, _)| *pos);
        let mut start = 0;
        for l in &span.links {
            let name = &span.link_names[start..l.name_end];
            start = l.name_end;
            if l.pos > until {
                break;
            }
            let head = heads.get(name);
            if let Err(detail) = link(head, l.seq, l.prev_hash) {
                return Err(chain_failure(tenant, name, l.seq, detail));
            }
            // Every case a span after the first meets has a link: those not met before are new.
            if head.is_none() {
                summary.cases += 1;
            }
        }
        if let Some((_, f)) = span.chain_failure {
            return Err(f);
        }
        summary.entries += span.entries;
        summary.unsequenced += span.unsequenced;
        if j == 0 {
            summary.cases = span.heads.len() as u64;
            heads = span.heads;
        } else if j < last {
            // (The last span's heads are needed by no span after it.)
            heads.absorb(span.heads);
        }
        if leaf_failure.is_none() {
            leaf_failure = span.leaf_failure;
        }
        trees.push((span.merkle, span.at_checkpoints));
    }
    if let Some(f) = leaf_failure {
        return Err(f);
    }
    // Every span has all its leaves: their parts of the tree follow one another.
    for (range, at) in &trees {
        log.range(range, at)?;
    }
    let log = log.end()?;
    summary.leaves = log.size;
    summary.checkpoints = log.checkpoints;
    let fail = |what: &str, index: Option<u64>, detail: String| AuditFailure {
        what: what.into(),
        tenant: tenant.to_owned(),
        case_id: None,
        seq: None,
        index,
        detail,
    };
    if strict {
        if summary.unsequenced > 0 {
            return Err(fail(
                "log",
                None,
                format!(
                    "{} entries are not in the log (inserted after the last integration?)",
                    summary.unsequenced
                ),
            ));
        }
        if log.covered != log.size {
            return Err(fail(
                "checkpoint",
                Some(log.covered),
                format!(
                    "the log has {} leaves but the newest checkpoint covers {}",
                    log.size, log.covered
                ),
            ));
        }
    }
    Ok(summary)
}

/// For a store that does not read its entries in commit order.
pub(crate) fn unsupported() -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        "this store does not read its audit entries in commit order",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(seq: u64, tag: u8) -> Head {
        Head {
            seq,
            hash: [tag; 32],
        }
    }

    /// The index of heads against a plain map: cases met in many interleaved orders, long and
    /// short ids, past the recent cases' table and through several growths, merged as the join
    /// merges spans.
    #[test]
    fn heads_find_every_case_met_and_only_those() {
        let id = |i: u64| {
            if i.is_multiple_of(7) {
                format!("case-with-a-long-identifier-beyond-thirty-bytes-{i}")
            } else {
                format!("c{i}")
            }
        };
        let mut model = std::collections::HashMap::new();
        let mut heads = Heads::with_capacity(0);
        // A stride coprime to the count visits every case in a scattered order, four times.
        let cases = 50_021u64;
        for round in 0..4u64 {
            for k in 0..cases {
                let i = (k * 7919 + round * 13) % cases;
                let name = id(i);
                let seq = model.get(&name).map_or(1, |(s, _)| s + 1);
                let tag = (i % 251) as u8;
                match heads.entry(&name) {
                    Ok(h) => {
                        assert_eq!(model.get(&name).map(|&(s, _)| s), Some(h.seq), "{name}");
                        *h = head(seq, tag);
                    }
                    Err(hash) => {
                        assert!(!model.contains_key(&name), "{name} was met");
                        heads.set(hash, CaseKey::of(&name), head(seq, tag));
                    }
                }
                model.insert(name, (seq, tag));
            }
        }
        assert_eq!(heads.len(), model.len());
        for (name, &(seq, tag)) in &model {
            let h = heads.get(name).map(|h| (h.seq, h.hash[0]));
            assert_eq!(h, Some((seq, tag)), "{name}");
        }
        for absent in [
            "",
            "c",
            "c50021",
            "d1",
            "case-with-a-long-identifier-beyond-thirty-bytes-1",
        ] {
            assert!(heads.get(absent).is_none(), "{absent}");
        }
        // A later span's heads replace these for its cases and add its new ones.
        let mut later = Heads::with_capacity(4);
        for (name, seq) in [("c1", 99), ("new-case", 1)] {
            let place = heads.entry(name).err();
            let Err(hash) = later.entry(name) else {
                panic!("{name} is not in the later span yet")
            };
            later.set(hash, CaseKey::of(name), head(seq, 7));
            assert_eq!(place.is_none(), name == "c1");
        }
        heads.absorb(later);
        assert_eq!(heads.get("c1").map(|h| h.seq), Some(99));
        assert_eq!(heads.get("new-case").map(|h| h.seq), Some(1));
        assert_eq!(
            heads.get("c2").map(|h| h.seq),
            model.get("c2").map(|&(s, _)| s)
        );
        assert_eq!(heads.len(), model.len() + 1);
    }
}
