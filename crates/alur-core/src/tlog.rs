//! The tenant log: every audit entry of a tenant appended, by a background integrator, to an
//! append-only log with contiguous indexes from 0, hashed as an RFC 9162 Merkle tree (leaf data = the
//! entry's 32-byte chain hash). Signed checkpoints (C2SP tlog-checkpoint, Ed25519) are kept in the
//! store and exported outside it; an auditor with an export and a checkpoint verifies everything
//! offline with no server secret.

// An audit failure is reported once, at the end of a run; its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use alur_merkle::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier, parse_and_verify};
use alur_merkle::{CompactRange, Frontier, Hash, leaf_hash};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, CanonicalEntry};

mod commit;
pub(crate) use commit::unsupported as commit_order_unsupported;
pub use commit::{CommitEntry, CommitLeaf, SpanAudit, SpanBounds};

/// The previous hash of a case's first entry ([`crate::audit::GENESIS`] as bytes).
const GENESIS_HASH: Hash = [0; 32];
use crate::store::{LeafPage, LogLeaf, Store, StoreError, StoreErrorKind, StoredCheckpoint};

/// The checkpoint origin line of a tenant's log.
pub fn origin(tenant: &str) -> String {
    format!("alur/{tenant}")
}

/// Hex digit values (either case); 0xff for any other byte.
const HEX: [u8; 256] = crate::audit::hex_table(true);

/// Decode a 64-character hex hash (either case).
pub fn parse_hash(hex: &str) -> Option<Hash> {
    crate::audit::decode_hash(hex, &HEX)
}

/// The Merkle leaf hash of a log leaf.
pub fn leaf_of(hash_hex: &str) -> Option<Hash> {
    parse_hash(hash_hex).map(|h| leaf_hash(&h))
}

/// Appends unsequenced entries to the tenant log and signs checkpoints.
pub struct Integrator {
    tenant: String,
    frontier: Frontier,
    signer: Option<CheckpointSigner>,
}

fn corrupt(m: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, m)
}

impl Integrator {
    /// An integrator for `tenant`; without a signer it sequences but cannot sign.
    pub fn new(tenant: impl Into<String>, signer: Option<CheckpointSigner>) -> Self {
        Self {
            tenant: tenant.into(),
            frontier: Frontier::new(),
            signer,
        }
    }

    async fn catch_up<S: Store + ?Sized>(&mut self, store: &S) -> Result<u64, StoreError> {
        let size = store.log_size(&self.tenant).await?;
        if self.frontier.size() > size {
            return Err(corrupt(format!(
                "the tenant log shrank from {} to {size} leaves",
                self.frontier.size()
            )));
        }
        while self.frontier.size() < size {
            let start = self.frontier.size();
            let leaves = store
                .log_leaves(&self.tenant, start, (start + 10_000).min(size))
                .await?;
            if leaves.is_empty() {
                return Err(corrupt(format!(
                    "the tenant log has a gap at index {start}"
                )));
            }
            for l in leaves {
                if l.index != self.frontier.size() {
                    return Err(corrupt(format!(
                        "the tenant log has a gap at index {}",
                        self.frontier.size()
                    )));
                }
                let leaf = leaf_of(&l.hash)
                    .ok_or_else(|| corrupt(format!("leaf {} has a malformed hash", l.index)))?;
                self.frontier
                    .push(leaf)
                    .map_err(|e| corrupt(e.to_string()))?;
            }
        }
        Ok(size)
    }

    /// Append every unsequenced entry (in batches). Returns how many were appended.
    pub async fn integrate<S: Store + ?Sized>(
        &mut self,
        store: &S,
        batch: usize,
    ) -> Result<u64, StoreError> {
        let mut appended = 0;
        loop {
            let size = self.catch_up(store).await?;
            let leaves = store.unsequenced(&self.tenant, batch.max(1)).await?;
            if leaves.is_empty() {
                return Ok(appended);
            }
            match store.append_log(&self.tenant, size, &leaves).await {
                Ok(()) => {
                    for l in &leaves {
                        let leaf = leaf_of(&l.hash)
                            .ok_or_else(|| corrupt("an audit entry has a malformed hash"))?;
                        self.frontier
                            .push(leaf)
                            .map_err(|e| corrupt(e.to_string()))?;
                    }
                    appended += leaves.len() as u64;
                }
                // Another integrator appended first: catch up and continue.
                Err(e) if e.kind == StoreErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The current tree size and root.
    pub async fn head<S: Store + ?Sized>(&mut self, store: &S) -> Result<(u64, Hash), StoreError> {
        self.catch_up(store).await?;
        Ok((self.frontier.size(), self.frontier.root()))
    }

    /// Sign a checkpoint of the current tree head and keep it in the store.
    pub async fn checkpoint<S: Store + ?Sized>(
        &mut self,
        store: &S,
    ) -> Result<StoredCheckpoint, StoreError> {
        let (size, root) = self.head(store).await?;
        let Some(signer) = &self.signer else {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                "no checkpoint key configured",
            ));
        };
        let note = signer
            .sign(&Checkpoint::new(origin(&self.tenant), size, root))
            .map_err(|e| StoreError::new(StoreErrorKind::Other, e.to_string()))?;
        let c = StoredCheckpoint { size, note };
        store.put_checkpoint(&self.tenant, &c).await?;
        Ok(c)
    }
}

/// The first problem an audit found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{what}: tenant {tenant}{}: {detail}", location(.case_id, .seq, .index))]
pub struct AuditFailure {
    /// Kind of problem (`chain`, `log`, `checkpoint`).
    pub what: String,
    /// Tenant.
    pub tenant: String,
    /// Case, when an entry is at fault.
    pub case_id: Option<String>,
    /// Sequence, when an entry is at fault.
    pub seq: Option<u64>,
    /// Log index, when a leaf is at fault.
    pub index: Option<u64>,
    /// What differs.
    pub detail: String,
}

fn location(case: &Option<String>, seq: &Option<u64>, index: &Option<u64>) -> String {
    let mut s = String::new();
    if let Some(c) = case {
        s.push_str(&format!(", case {c}"));
    }
    if let Some(q) = seq {
        s.push_str(&format!(", entry {q}"));
    }
    if let Some(i) = index {
        s.push_str(&format!(", log index {i}"));
    }
    s
}

/// What a successful audit covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Entries verified.
    pub entries: u64,
    /// Case chains verified.
    pub cases: u64,
    /// Log leaves verified.
    pub leaves: u64,
    /// Signed checkpoints verified.
    pub checkpoints: u64,
    /// Entries not yet in the log (committed after the last integration).
    pub unsequenced: u64,
}

/// Verifies a tenant's chains, log and checkpoints, streaming entries case by case.
pub struct Auditor {
    tenant: String,
    summary: AuditSummary,
    /// The case being read: its id, last sequence and last hash.
    current: Option<(Arc<str>, u64, Hash)>,
    /// Every entry's hash, in feeding order (cases, then sequences), to check the log's leaves.
    hashes: Vec<Hash>,
    /// The cases fed, in order: where each one's id ends in `names` and its first entry in
    /// `hashes`.
    cases: Vec<(usize, usize)>,
    names: String,
}

impl Auditor {
    /// Start an audit of `tenant`.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            summary: AuditSummary::default(),
            current: None,
            hashes: Vec::new(),
            cases: Vec::new(),
            names: String::new(),
        }
    }

    fn fail(
        &self,
        what: &str,
        e: Option<&AuditEntry>,
        index: Option<u64>,
        detail: impl Into<String>,
    ) -> AuditFailure {
        AuditFailure {
            what: what.into(),
            tenant: self.tenant.clone(),
            case_id: e.map(|e| e.case_id.clone()),
            seq: e.map(|e| e.seq),
            index,
            detail: detail.into(),
        }
    }

    /// Feed the next entry; entries must come ordered by case id, then sequence.
    pub fn entry(&mut self, e: &AuditEntry) -> Result<(), AuditFailure> {
        if e.tenant != self.tenant {
            return Err(self.fail(
                "chain",
                Some(e),
                None,
                format!("entry belongs to tenant {}", e.tenant),
            ));
        }
        self.canonical_entry(&CanonicalEntry::of(e))
    }

    /// Feed a page of entries read with their canonical bytes (see
    /// [`Store::canonical_entries`]); stops at the first failure.
    pub fn canonical_entries(&mut self, page: &[CanonicalEntry]) -> Result<(), AuditFailure> {
        self.hashes.reserve(page.len());
        page.iter().try_for_each(|e| self.canonical_entry(e))
    }

    fn fail_at(&self, e: &CanonicalEntry, detail: impl Into<String>) -> AuditFailure {
        AuditFailure {
            what: "chain".into(),
            tenant: self.tenant.clone(),
            case_id: Some(e.case_id.to_string()),
            seq: Some(e.seq),
            index: None,
            detail: detail.into(),
        }
    }

    /// Feed the next entry as read with its canonical bytes (ordered by case id, then sequence).
    pub fn canonical_entry(&mut self, e: &CanonicalEntry) -> Result<(), AuditFailure> {
        let (expected_seq, prev_ok, same_case) = match &self.current {
            Some((case, seq, hash)) if Arc::ptr_eq(case, &e.case_id) || case == &e.case_id => {
                (seq + 1, e.prev_hash.as_ref() == Some(hash), true)
            }
            Some((case, _, _)) if **case > *e.case_id => {
                return Err(self.fail_at(e, "entries are out of order (reordered or inserted)"));
            }
            _ => (1, e.prev_hash == Some(GENESIS_HASH), false),
        };
        if e.seq != expected_seq {
            return Err(self.fail_at(e, format!("sequence {} where {expected_seq} was expected (an entry is missing, duplicated or moved)", e.seq)));
        }
        if !prev_ok {
            return Err(self.fail_at(
                e,
                "prev_hash does not match the previous entry (deleted, swapped or inserted entry)",
            ));
        }
        let computed = e.digest;
        if e.hash != Some(computed) {
            return Err(self.fail_at(
                e,
                "content does not match its hash (the entry was modified)",
            ));
        }
        // (An entry's hash covers its case and sequence, which the checks above make unique: two
        // entries with one hash would be a SHA-256 collision.)
        if same_case {
            if let Some((_, seq, hash)) = &mut self.current {
                *seq = e.seq;
                *hash = computed;
            }
        } else {
            self.summary.cases += 1;
            self.names.push_str(&e.case_id);
            self.cases.push((self.names.len(), self.hashes.len()));
            self.current = Some((Arc::clone(&e.case_id), e.seq, computed));
        }
        self.hashes.push(computed);
        self.summary.entries += 1;
        Ok(())
    }

    /// Room for `entries` hashes (appending parts to the first then copies without growing).
    fn with_room(mut self, entries: usize) -> Self {
        self.hashes.reserve(entries.min(1 << 26));
        self
    }

    /// The id of the case at `i` (in feeding order).
    fn case_name(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |p| self.cases[p].0);
        &self.names[start..self.cases[i].0]
    }

    /// The entries of the case at `i`: first index in `hashes` and count.
    fn case_span(&self, i: usize) -> (usize, usize) {
        let first = self.cases[i].1;
        let end = self.cases.get(i + 1).map_or(self.hashes.len(), |c| c.1);
        (first, end - first)
    }

    /// The case named `name` (cases are fed in order of their ids).
    fn find_case(&self, name: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.cases.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.case_name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The first case id fed, if any.
    fn first_case(&self) -> Option<&str> {
        (!self.cases.is_empty()).then(|| self.case_name(0))
    }

    /// Append an audit of the entries that follow this one's (the next part of a tenant read in
    /// parts, each fed in order from its own start).
    fn append(&mut self, next: Auditor) -> Result<(), AuditFailure> {
        let (last, first) = (self.current.as_ref(), next.first_case());
        if let (Some((last, _, _)), Some(first)) = (last, first)
            && **last >= *first
        {
            return Err(AuditFailure {
                what: "chain".into(),
                tenant: self.tenant.clone(),
                case_id: Some(first.to_owned()),
                seq: Some(1),
                index: None,
                detail: "entries are out of order (reordered or inserted)".into(),
            });
        }
        let (names, hashes) = (self.names.len(), self.hashes.len());
        self.names.push_str(&next.names);
        self.cases.extend(
            next.cases
                .iter()
                .map(|&(name_end, first)| (names + name_end, hashes + first)),
        );
        self.hashes.extend_from_slice(&next.hashes);
        if next.current.is_some() {
            self.current = next.current;
        }
        self.summary.entries += next.summary.entries;
        self.summary.cases += next.summary.cases;
        Ok(())
    }

    /// Check the log leaves (in index order) against the entries fed, and every checkpoint (and an
    /// optional external one) against the log's Merkle roots. Leaves must name fed entries. With
    /// `strict`, every entry must be in the log and the whole log under a signed checkpoint (an
    /// export); otherwise entries committed since the last integration are counted as unsequenced.
    pub fn finish(
        self,
        leaves: &[LogLeaf],
        checkpoints: &[StoredCheckpoint],
        verifier: Option<&CheckpointVerifier>,
        external: Option<&str>,
        strict: bool,
    ) -> Result<AuditSummary, AuditFailure> {
        let mut log = LogCheck::new(&self.tenant, checkpoints, verifier, external)?;
        log.leaves(leaves)?;
        self.join(log, strict)
    }

    /// Complete the audit with the log side checked separately ([`LogCheck`], e.g. on another
    /// thread while entries were fed): every leaf must name, by case and sequence, the entry its
    /// hash belongs to, and no entry may be named twice; with `strict`, every entry must be in the
    /// log and the whole log under a signed checkpoint.
    pub fn join(mut self, log: LogCheck, strict: bool) -> Result<AuditSummary, AuditFailure> {
        let log = log.end()?;
        // Each leaf is looked up by its label (case, sequence) and must carry that entry's hash,
        // each entry at most once: the same outcome as looking the leaf up by its hash and
        // comparing labels (entries' hashes are distinct). On a failure the lookup by hash is
        // replayed, for the same report.
        let mut used = vec![0u64; self.hashes.len().div_ceil(64)];
        let mut case: Option<(usize, &str)> = None;
        let mut start = 0;
        for (i, &(h, end, seq)) in log.labels.iter().enumerate() {
            let name = &log.names[start..end];
            start = end;
            let c = match case {
                Some((c, n)) if n == name => Some(c),
                _ => {
                    let found = self.find_case(name);
                    if let Some(c) = found {
                        case = Some((c, name));
                    }
                    found
                }
            };
            let entry = c.and_then(|c| {
                let (first, count) = self.case_span(c);
                let s = usize::try_from(seq).ok()?.checked_sub(1)?;
                (s < count).then_some(first + s)
            });
            let ok = entry.is_some_and(|x| {
                let (word, bit) = (x / 64, 1u64 << (x % 64));
                let fresh = used[word] & bit == 0;
                used[word] |= bit;
                fresh && self.hashes[x] == h
            });
            if !ok {
                return Err(self.leaf_failure(&log, i));
            }
        }
        let matched = log.labels.len() as u64;
        self.summary.leaves = log.size;
        self.summary.checkpoints = log.checkpoints;
        self.summary.unsequenced = self.summary.entries - matched;
        if strict {
            if self.summary.unsequenced > 0 {
                return Err(self.fail(
                    "log",
                    None,
                    None,
                    format!(
                        "{} entries are not in the log (inserted after the last integration?)",
                        self.summary.unsequenced
                    ),
                ));
            }
            if log.covered != log.size {
                return Err(self.fail(
                    "checkpoint",
                    None,
                    Some(log.covered),
                    format!(
                        "the log has {} leaves but the newest checkpoint covers {}",
                        log.size, log.covered
                    ),
                ));
            }
        }
        Ok(self.summary)
    }

    /// The report for the first bad leaf, `bad`: the leaves replayed up to it, each looked up by
    /// its hash among the entries not yet named.
    fn leaf_failure(&self, log: &LogChecked, bad: usize) -> AuditFailure {
        let mut by_hash: HashMap<Hash, (usize, u64)> = HashMap::with_capacity(self.hashes.len());
        for c in 0..self.cases.len() {
            let (first, count) = self.case_span(c);
            for s in 0..count {
                by_hash.insert(self.hashes[first + s], (c, s as u64 + 1));
            }
        }
        let mut start = 0;
        for (i, &(h, end, seq)) in log.labels.iter().enumerate().take(bad + 1) {
            let case_id = &log.names[start..end];
            start = end;
            let index = Some(i as u64);
            match by_hash.remove(&h) {
                Some((case, s)) if s == seq && self.case_name(case) == case_id => {}
                Some((case, s)) => {
                    let actual = self.case_name(case);
                    return self.fail("log", None, index, format!("leaf is labelled entry {seq} of case {case_id} but its hash is that of entry {s} of case {actual} (the leaf was relabelled)"));
                }
                None => {
                    return self.fail("log", None, index, format!("leaf names entry {seq} of case {case_id} but no such entry exists (deleted or modified, or the leaf repeats another)"));
                }
            }
        }
        self.fail(
            "log",
            None,
            Some(bad as u64),
            "leaf does not match its entry",
        )
    }
}

/// The log side of an audit: the leaves in index order, their Merkle roots against every signed
/// checkpoint (stored, and an optional external one). Fed page by page; independent of the
/// entries, so it can run beside [`Auditor`] and be joined with it ([`Auditor::join`]).
pub struct LogCheck {
    tenant: String,
    frontier: Frontier,
    wanted: Vec<Checkpoint>,
    next: usize,
    checkpoints: u64,
    /// Each leaf (by index): its hash, where its case id ends in `names`, its sequence.
    labels: Vec<(Hash, usize, u64)>,
    names: String,
}

/// What [`LogCheck::end`] hands to the join.
pub struct LogChecked {
    size: u64,
    covered: u64,
    checkpoints: u64,
    labels: Vec<(Hash, usize, u64)>,
    names: String,
}

impl LogCheck {
    /// Start: verify every checkpoint's signature and origin (a verifier key is needed when there
    /// is any checkpoint).
    pub fn new(
        tenant: &str,
        checkpoints: &[StoredCheckpoint],
        verifier: Option<&CheckpointVerifier>,
        external: Option<&str>,
    ) -> Result<Self, AuditFailure> {
        let fail = |detail: String| AuditFailure {
            what: "checkpoint".into(),
            tenant: tenant.to_owned(),
            case_id: None,
            seq: None,
            index: None,
            detail,
        };
        let origin = origin(tenant);
        let verify_note = |note: &str| -> Result<Checkpoint, AuditFailure> {
            let v = verifier.ok_or_else(|| {
                fail("a checkpoint needs the verifier key to be checked (--key)".into())
            })?;
            let c = parse_and_verify(note, v)
                .map_err(|e| fail(format!("signature or format invalid: {e}")))?;
            if c.origin != origin {
                return Err(fail(format!(
                    "checkpoint is for `{}`, not `{origin}`",
                    c.origin
                )));
            }
            Ok(c)
        };
        // Each stored checkpoint with the size stored beside it, then the external one.
        let notes: Vec<(&str, Option<u64>)> = checkpoints
            .iter()
            .map(|c| (c.note.as_str(), Some(c.size)))
            .chain(external.map(|n| (n, None)))
            .collect();
        let mut wanted = on_all_cores(&notes, |&(note, stored)| {
            let cp = verify_note(note)?;
            match stored {
                Some(size) if size != cp.size => Err(fail(format!(
                    "stored size {size} differs from the signed size {}",
                    cp.size
                ))),
                _ => Ok(cp),
            }
        })
        .map_err(|e| e.unwrap_or_else(|| fail("a checkpoint verification thread failed".into())))?;
        wanted.sort_by_key(|c| c.size);
        let mut this = Self {
            tenant: tenant.to_owned(),
            frontier: Frontier::new(),
            wanted,
            next: 0,
            checkpoints: 0,
            labels: Vec::new(),
            names: String::new(),
        };
        this.check_roots()?;
        Ok(this)
    }

    fn fail(&self, what: &str, index: Option<u64>, detail: impl Into<String>) -> AuditFailure {
        AuditFailure {
            what: what.into(),
            tenant: self.tenant.clone(),
            case_id: None,
            seq: None,
            index,
            detail: detail.into(),
        }
    }

    fn check_roots(&mut self) -> Result<(), AuditFailure> {
        while let Some(c) = self.wanted.get(self.next) {
            if c.size != self.frontier.size() {
                break;
            }
            if c.root != self.frontier.root() {
                return Err(self.fail("checkpoint", Some(c.size), format!("the log's first {} leaves do not hash to the signed root (the log was rewritten)", c.size)));
            }
            self.checkpoints += 1;
            self.next += 1;
        }
        Ok(())
    }

    /// Feed the next leaves, in index order.
    pub fn leaves(&mut self, page: &[LogLeaf]) -> Result<(), AuditFailure> {
        self.leaf_page(&LeafPage::of(page))
    }

    /// Feed the next leaves, packed ([`Store::log_leaf_page`]), in index order.
    pub fn leaf_page(&mut self, page: &LeafPage) -> Result<(), AuditFailure> {
        let base = self.names.len();
        self.names.push_str(&page.names);
        self.labels.reserve(page.leaves.len());
        for l in &page.leaves {
            let i = self.frontier.size();
            if l.index != i {
                return Err(self.fail(
                    "log",
                    Some(i),
                    format!(
                        "index {} where {i} was expected (a leaf is missing or moved)",
                        l.index
                    ),
                ));
            }
            let h = l
                .hash
                .ok_or_else(|| self.fail("log", Some(l.index), "malformed leaf hash"))?;
            self.frontier
                .push(leaf_hash(&h))
                .map_err(|e| self.fail("log", Some(l.index), e.to_string()))?;
            self.labels.push((h, base + l.name_end, l.seq));
            self.check_roots()?;
        }
        Ok(())
    }

    /// The sizes of the checkpoints not yet checked, in increasing order: an audit in commit
    /// order keeps its spans' Merkle ranges at these sizes ([`LogCheck::range`]).
    fn pending_sizes(&self) -> Vec<u64> {
        self.wanted[self.next.min(self.wanted.len())..]
            .iter()
            .map(|c| c.size)
            .collect()
    }

    /// Join the next leaves, hashed apart into `range` (their labels checked elsewhere: an
    /// audit in commit order checks them beside the entries), with `at` the same range cut at
    /// each checkpoint size inside it ([`LogCheck::pending_sizes`]), in increasing order.
    fn range(&mut self, range: &CompactRange, at: &[CompactRange]) -> Result<(), AuditFailure> {
        // The checkpoints inside the range, each with the range as it was at its size. (Two
        // checkpoints may have the same size: the cut stays for the next.)
        let mut inside = Vec::new();
        let mut j = 0;
        for (k, c) in self.wanted.iter().enumerate().skip(self.next) {
            if c.size > range.end() || c.size <= self.frontier.size() {
                break;
            }
            while at.get(j).is_some_and(|r| r.end() < c.size) {
                j += 1;
            }
            let Some(cut) = at.get(j).filter(|r| r.end() == c.size) else {
                return Err(self.fail(
                    "log",
                    Some(c.size),
                    "the tree at the checkpoint's size was not kept (an internal error)",
                ));
            };
            inside.push((k, cut));
        }
        // Each root is the tree so far extended with a cut: a few dozen node hashes, on all
        // cores when there are many.
        let before = &self.frontier;
        let roots = on_all_cores(&inside, |&(_, cut)| {
            let mut head = before.clone();
            head.extend(cut).map(|()| head.root())
        })
        .map_err(|e| {
            let detail = e.map_or("a thread computing roots failed".into(), |e| e.to_string());
            self.fail("log", Some(range.begin()), detail)
        })?;
        for (&(k, _), root) in inside.iter().zip(roots) {
            let c = &self.wanted[k];
            if c.root != root {
                return Err(self.fail("checkpoint", Some(c.size), format!("the log's first {} leaves do not hash to the signed root (the log was rewritten)", c.size)));
            }
            self.checkpoints += 1;
            self.next += 1;
        }
        self.frontier
            .extend(range)
            .map_err(|e| self.fail("log", Some(range.begin()), e.to_string()))?;
        self.check_roots()
    }

    /// Finish the log side: no checkpoint may cover more leaves than the log has.
    pub fn end(self) -> Result<LogChecked, AuditFailure> {
        if let Some(c) = self.wanted.get(self.next) {
            return Err(self.fail(
                "checkpoint",
                Some(c.size),
                format!(
                    "a checkpoint covers {} leaves but the log has only {} (the log was truncated)",
                    c.size,
                    self.frontier.size()
                ),
            ));
        }
        Ok(LogChecked {
            size: self.frontier.size(),
            covered: self.wanted.last().map_or(0, |c| c.size),
            checkpoints: self.checkpoints,
            labels: self.labels,
            names: self.names,
        })
    }
}

/// `f` over `items` in order, on all cores when there are many (checkpoints every ten minutes
/// in office hours are about 12,000 a year, and a signature takes about 50 µs to verify): the
/// results in order, or the error of the first item that failed (`None`: a thread panicked).
fn on_all_cores<I: Sync, T: Send, E: Send>(
    items: &[I],
    f: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, Option<E>> {
    const AT_LEAST: usize = 256;
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(items.len() / AT_LEAST)
        .max(1);
    if threads == 1 {
        return items.iter().map(&f).collect::<Result<_, _>>().map_err(Some);
    }
    let f = &f;
    let run = move |chunk: &[I]| chunk.iter().map(f).collect::<Result<Vec<T>, E>>();
    let done: Vec<_> = std::thread::scope(|s| {
        // A chunk whose thread cannot be started (no resources) runs here instead.
        let running: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || run(chunk))
                    .map_err(|_| chunk)
            })
            .collect();
        // Every thread is joined, so a panic in one is not raised again by the scope.
        running
            .into_iter()
            .map(|t| match t {
                Ok(t) => t.join().map_err(|_| ()),
                Err(chunk) => Ok(run(chunk)),
            })
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for d in done {
        // The chunks are in order: the first error met is the first item's that failed.
        out.extend(d.map_err(|_| None)?.map_err(Some)?);
    }
    Ok(out)
}

/// One range of case ids of an audit read in parts: read page by page and hashed on its own.
struct Part {
    auditor: Auditor,
    /// Where the next page starts (after this case and sequence; from the start when `None`).
    after: Option<(String, u64)>,
    /// The part's last case id (the next part starts after it); `None`: to the end.
    until: Option<String>,
    /// More pages to read.
    reading: bool,
    failure: Option<AuditFailure>,
}

impl Auditor {
    /// Feed a page, up to (not including) the first entry of a case after `until`; tells whether
    /// it got there.
    fn feed_until(
        &mut self,
        page: &[CanonicalEntry],
        until: Option<&str>,
    ) -> Result<bool, AuditFailure> {
        self.hashes.reserve(page.len());
        for e in page {
            if until.is_some_and(|u| *e.case_id > *u) {
                return Ok(true);
            }
            self.canonical_entry(e)?;
        }
        Ok(false)
    }
}

/// Case ids that cut the tenant's entries into about `parts` equal ranges, from a sample of the
/// log's leaves (only the speed depends on them).
async fn split_points<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    size: u64,
    parts: usize,
) -> Result<Vec<String>, StoreError> {
    const SAMPLES: u64 = 7;
    let mut names = Vec::new();
    for k in 1..=SAMPLES {
        let i = size / (SAMPLES + 1) * k;
        if let Some(l) = store.log_leaves(tenant, i, i + 1).await?.into_iter().next() {
            names.push(l.case_id);
        }
    }
    names.sort_unstable();
    let mut bounds: Vec<String> = Vec::new();
    for j in 1..parts {
        if let Some(b) = names.get(names.len() * j / parts)
            && bounds.last().is_none_or(|l| l < b)
        {
            bounds.push(b.clone());
        }
    }
    Ok(bounds)
}

/// One of the concurrent jobs of an audit, ending with a `T`.
type Job<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Run an audit's jobs together (none waits for another's page) until every one has ended or
/// `ended` refuses one with a store error; `progress` is told each new count in `fed`.
async fn run_jobs<'a, T>(
    jobs: Vec<Job<'a, T>>,
    fed: &std::sync::atomic::AtomicU64,
    progress: &mut impl FnMut(u64),
    mut ended: impl FnMut(T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut jobs: Vec<Option<Job<'a, T>>> = jobs.into_iter().map(Some).collect();
    let mut reported = 0u64;
    let mut error: Option<StoreError> = None;
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut jobs {
            let Some(job) = slot else { continue };
            match job.as_mut().poll(cx) {
                std::task::Poll::Pending => pending = true,
                std::task::Poll::Ready(done) => {
                    *slot = None;
                    if let Err(e) = ended(done) {
                        error.get_or_insert(e);
                    }
                }
            }
        }
        let now = fed.load(std::sync::atomic::Ordering::Relaxed);
        if now != reported {
            reported = now;
            progress(now);
        }
        if pending && error.is_none() {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    error.map_or(Ok(()), Err)
}

/// What a job of an audit ended with.
enum Done {
    Part(usize, Result<Part, StoreError>),
    LogRead(Result<(), StoreError>),
    Log(Result<(LogCheck, Option<AuditFailure>), StoreError>),
}

fn state_lost() -> StoreError {
    StoreError::new(StoreErrorKind::Other, "audit: a task's state was lost")
}

/// Run `work` on `state` on a blocking thread, and hand the state back with its result.
async fn on_blocking<T: Send + 'static, R: Send + 'static>(
    mut state: T,
    work: impl FnOnce(&mut T) -> R + Send + 'static,
) -> Result<(T, R), StoreError> {
    tokio::task::spawn_blocking(move || {
        let r = work(&mut state);
        (state, r)
    })
    .await
    .map_err(|e| StoreError::new(StoreErrorKind::Other, format!("audit task: {e}")))
}

/// Read and check one part page by page until its range ends, it fails, or a part before it
/// failed (`first_failed`: the lowest failing part so far). Each page is hashed by the reader
/// and fed on a blocking thread; `fed` counts the entries checked.
async fn run_part<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    index: usize,
    mut part: Part,
    page_size: usize,
    fed: &std::sync::atomic::AtomicU64,
    first_failed: &std::sync::atomic::AtomicUsize,
) -> Result<Part, StoreError> {
    use std::sync::atomic::Ordering;
    while part.reading && first_failed.load(Ordering::Relaxed) > index {
        let after = part.after.as_ref().map(|(c, s)| (c.as_str(), *s));
        let page = store.canonical_entries(tenant, after, page_size).await?;
        let Some(last) = page.last() else {
            break;
        };
        if part.until.as_deref().is_some_and(|u| *last.case_id > *u) {
            part.reading = false;
        }
        part.after = Some((last.case_id.to_string(), last.seq));
        let before = part.auditor.summary.entries;
        let (fed_part, r) = on_blocking(part, move |p| {
            p.auditor.feed_until(&page, p.until.as_deref())
        })
        .await?;
        part = fed_part;
        fed.fetch_add(part.auditor.summary.entries - before, Ordering::Relaxed);
        match r {
            Ok(true) => part.reading = false,
            Ok(false) => {}
            Err(f) => {
                part.failure = Some(f);
                part.reading = false;
                first_failed.fetch_min(index, Ordering::Relaxed);
            }
        }
    }
    Ok(part)
}

/// Read the log's leaves `0..size`, `page` at a time, and hand them to [`check_log`] (which may
/// stop taking them at a failure).
async fn read_log<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    size: u64,
    page: u64,
    pages: tokio::sync::mpsc::Sender<LeafPage>,
) -> Result<(), StoreError> {
    let mut from = 0u64;
    while from < size {
        let end = (from + page).min(size);
        // A short page is a gap: the next page's first index, or the end of the log side,
        // reports it.
        let leaves = store.log_leaf_page(tenant, from, end).await?;
        from = end;
        if pages.send(leaves).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Check the pages [`read_log`] reads, while it reads the next, until the end or a failure.
async fn check_log(
    mut log: LogCheck,
    mut pages: tokio::sync::mpsc::Receiver<LeafPage>,
) -> Result<(LogCheck, Option<AuditFailure>), StoreError> {
    while let Some(leaves) = pages.recv().await {
        let (checked, r) = on_blocking(log, move |l| l.leaf_page(&leaves)).await?;
        log = checked;
        if let Err(f) = r {
            return Ok((log, Some(f)));
        }
    }
    Ok((log, None))
}

/// Verify a whole tenant from a store: every chain, the log, the stored checkpoints and optionally
/// an external checkpoint. `progress` is called with the number of entries checked so far.
///
/// A store that reads its entries in commit order ([`Store::audits_in_commit_order`]) is audited
/// that way, in spans of the log (one per core), when the tenant's entries are at least a quarter
/// of the commit positions they span; the first bad entry in commit order is the one reported
/// (see [`SpanAudit`]).
///
/// Otherwise the tenant is read case by case: a large tenant in parts (ranges of case ids, two
/// per core), each part page by page with the next page read while the previous one is hashed,
/// and the log's leaves are checked beside them. Every part is checked in full from its first case
/// (sequences, links, hashes); the parts are then joined in order of case id (the first bad entry
/// in case order is the one reported), and the leaves against the entries.
///
/// Either way a failing entry is reported before a failing leaf or checkpoint.
pub async fn verify_store<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    verifier: Option<&CheckpointVerifier>,
    external: Option<&str>,
    strict: bool,
    progress: impl FnMut(u64),
) -> Result<Result<AuditSummary, AuditFailure>, StoreError> {
    let reading = Reading::for_this_machine();
    verify_store_with(store, tenant, verifier, external, strict, progress, reading).await
}

/// How [`verify_store`] reads a store; [`Reading::for_this_machine`] is what it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Read case by case: entries per page. Read in commit order: the fewest leaves in a span.
    pub page: usize,
    /// Read case by case: at most this many parts (a tenant with fewer than four pages of leaves
    /// is read in one part).
    pub parts: usize,
    /// Read in commit order ([`Store::audits_in_commit_order`]): at most this many spans.
    pub spans: usize,
}

impl Reading {
    /// Pages of 20,000 entries; two parts per core (while one part's page waits on its read,
    /// another's keeps the core busy: on two cores, 1.87 cores used against 1.72 with one part
    /// each); one span per core (a span reads and hashes without waiting, and the log side
    /// takes a thread of its own).
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            page: 20_000,
            parts: (2 * cores).min(8),
            spans: cores.min(8),
        }
    }
}

/// [`verify_store`], read as `reading` says (tests and benchmarks use it to read a small log in
/// several parts or spans).
pub async fn verify_store_with<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    verifier: Option<&CheckpointVerifier>,
    external: Option<&str>,
    strict: bool,
    mut progress: impl FnMut(u64),
    reading: Reading,
) -> Result<Result<AuditSummary, AuditFailure>, StoreError> {
    let page_size = reading.page.max(1);
    let checkpoints = store.checkpoints(tenant).await?;
    // Verifying every signature is CPU work: off the async threads.
    let (_, log) = on_blocking(
        (
            tenant.to_owned(),
            checkpoints,
            verifier.cloned(),
            external.map(str::to_owned),
        ),
        |(tenant, checkpoints, verifier, external)| {
            LogCheck::new(tenant, checkpoints, verifier.as_ref(), external.as_deref())
        },
    )
    .await?;
    let log = match log {
        Ok(l) => l,
        Err(f) => return Ok(Err(f)),
    };
    let size = store.log_size(tenant).await?;
    if store.audits_in_commit_order()
        && let Some(spans) =
            commit::plan(store, tenant, size, reading.spans, page_size as u64).await?
    {
        return commit::verify(store, tenant, log, strict, progress, spans).await;
    }
    let bounds = if reading.parts > 1 && size >= 4 * page_size as u64 {
        split_points(store, tenant, size, reading.parts).await?
    } else {
        Vec::new()
    };
    // The parts are appended to the first at the end: it holds room for all the hashes.
    let expected = usize::try_from(size).unwrap_or(0);
    let parts: Vec<Part> = (0..=bounds.len())
        .map(|j| Part {
            auditor: Auditor::new(tenant).with_room(if j == 0 {
                expected
            } else {
                expected / (bounds.len() + 1)
            }),
            after: j.checked_sub(1).map(|p| (bounds[p].clone(), u64::MAX)),
            until: bounds.get(j).cloned(),
            reading: true,
            failure: None,
        })
        .collect();
    let count = parts.len();
    let leaves_page = (page_size * count) as u64;
    // Every part and the log side run as jobs of their own (no job waits for another's page),
    // so that both cores stay busy until the last page.
    let fed = std::sync::atomic::AtomicU64::new(0);
    let first_failed = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let mut jobs: Vec<Job<'_, Done>> = Vec::with_capacity(count + 2);
    for (i, part) in parts.into_iter().enumerate() {
        let (fed, first_failed) = (&fed, &first_failed);
        jobs.push(Box::pin(async move {
            Done::Part(
                i,
                run_part(store, tenant, i, part, page_size, fed, first_failed).await,
            )
        }));
    }
    // The log side reads the next page of leaves while it checks one.
    let (pages, received) = tokio::sync::mpsc::channel(1);
    jobs.push(Box::pin(async move {
        Done::LogRead(read_log(store, tenant, size, leaves_page, pages).await)
    }));
    jobs.push(Box::pin(async move {
        Done::Log(check_log(log, received).await)
    }));
    let mut parts: Vec<Option<Part>> = (0..count).map(|_| None).collect();
    let mut log: Option<LogCheck> = None;
    let mut log_failure: Option<AuditFailure> = None;
    run_jobs(jobs, &fed, &mut progress, |done| {
        match done {
            Done::Part(i, p) => parts[i] = Some(p?),
            Done::Log(l) => (log, log_failure) = l.map(|(l, f)| (Some(l), f))?,
            Done::LogRead(r) => r?,
        }
        Ok(())
    })
    .await?;
    let lost = state_lost;
    let mut auditor: Option<Auditor> = None;
    for p in parts {
        let p = p.ok_or_else(lost)?;
        if let Some(f) = p.failure {
            return Ok(Err(f));
        }
        let a = p.auditor;
        match &mut auditor {
            None => auditor = Some(a),
            Some(first) => {
                if let Err(f) = first.append(a) {
                    return Ok(Err(f));
                }
            }
        }
    }
    if let Some(f) = log_failure {
        return Ok(Err(f));
    }
    let auditor = auditor.ok_or_else(lost)?;
    Ok(auditor.join(log.ok_or_else(lost)?, strict))
}

/// An inclusion proof of one entry under a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryProof {
    /// Case.
    pub case_id: String,
    /// Sequence.
    pub seq: u64,
    /// Log index.
    pub index: u64,
    /// Tree size of the checkpoint.
    pub size: u64,
    /// Hex sibling hashes.
    pub proof: Vec<String>,
}

/// Inclusion proofs of every sequenced entry of a case against the tree of `size` leaves.
pub async fn prove_case<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    case_id: &str,
    size: u64,
) -> Result<Vec<EntryProof>, StoreError> {
    let leaves = store.log_leaves(tenant, 0, size).await?;
    let hashes: Vec<Hash> = leaves
        .iter()
        .map(|l| leaf_of(&l.hash).ok_or_else(|| corrupt("malformed leaf")))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for l in leaves.iter().filter(|l| l.case_id == case_id) {
        let proof = alur_merkle::inclusion_proof(hashes.as_slice(), l.index, size)
            .map_err(|e| corrupt(e.to_string()))?;
        out.push(EntryProof {
            case_id: l.case_id.clone(),
            seq: l.seq,
            index: l.index,
            size,
            proof: proof.iter().map(|h| crate::config::hex(h)).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS;
    use crate::engine::{ActorRecord, EventKind};

    /// A store of audit entries, log leaves and checkpoints only (what an audit reads).
    #[derive(Clone, Default)]
    struct AuditOnly {
        /// In commit order.
        entries: Vec<AuditEntry>,
        /// Each entry's commit position.
        positions: Vec<i64>,
        leaves: Vec<LogLeaf>,
        /// The commit position each leaf names.
        leaf_positions: Vec<i64>,
        checkpoints: Vec<StoredCheckpoint>,
        /// Audited in commit order (as SQLite is), or case by case.
        commit_order: bool,
        /// Spans read so far.
        spans_read: Arc<std::sync::atomic::AtomicUsize>,
    }

    fn unsupported<T>() -> Result<T, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Other,
            "not in this test store",
        ))
    }

    #[async_trait::async_trait]
    impl Store for AuditOnly {
        fn capabilities(&self) -> crate::store::Capabilities {
            crate::store::Capabilities::default()
        }
        async fn commit(&self, _: crate::store::Transition) -> Result<(), StoreError> {
            unsupported()
        }
        async fn case(&self, _: &str, _: &str) -> Result<Option<crate::Case>, StoreError> {
            unsupported()
        }
        async fn entries(&self, _: &str, _: &str) -> Result<Vec<AuditEntry>, StoreError> {
            unsupported()
        }
        async fn search(
            &self,
            _: &str,
            _: &crate::store::SearchQuery,
        ) -> Result<Vec<crate::Case>, StoreError> {
            unsupported()
        }
        async fn record_denial(&self, _: crate::store::Denial) -> Result<(), StoreError> {
            unsupported()
        }
        async fn denials(&self, _: &str) -> Result<Vec<crate::store::Denial>, StoreError> {
            unsupported()
        }
        async fn timers(&self, _: &str, _: &str) -> Result<Vec<crate::store::Timer>, StoreError> {
            unsupported()
        }
        async fn put_definition(
            &self,
            _: &str,
            _: &crate::model::ServiceDefinition,
        ) -> Result<u32, StoreError> {
            unsupported()
        }
        async fn definition(
            &self,
            _: &str,
            _: &str,
            _: u32,
        ) -> Result<Option<crate::model::ServiceDefinition>, StoreError> {
            unsupported()
        }
        async fn payload(
            &self,
            _: &str,
            _: &str,
            _: u64,
        ) -> Result<Option<crate::engine::Payload>, StoreError> {
            unsupported()
        }
        async fn idempotency(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Option<crate::store::IdempotencyRecord>, StoreError> {
            unsupported()
        }
        async fn inbox(
            &self,
            _: &str,
            _: &[(String, String)],
            _: usize,
        ) -> Result<Vec<crate::Case>, StoreError> {
            unsupported()
        }
        async fn pending_outbox(
            &self,
            _: &str,
            _: usize,
        ) -> Result<Vec<crate::store::OutboxMessage>, StoreError> {
            unsupported()
        }
        async fn claim_due_timers(
            &self,
            _: &str,
            _: jiff::Timestamp,
            _: &str,
            _: jiff::Timestamp,
            _: usize,
        ) -> Result<Vec<crate::store::Timer>, StoreError> {
            unsupported()
        }
        async fn log_leaves(
            &self,
            _: &str,
            start: u64,
            end: u64,
        ) -> Result<Vec<LogLeaf>, StoreError> {
            Ok(self
                .leaves
                .iter()
                .filter(|l| l.index >= start && l.index < end)
                .cloned()
                .collect())
        }
        async fn log_size(&self, _: &str) -> Result<u64, StoreError> {
            Ok(self.leaves.iter().map(|l| l.index + 1).max().unwrap_or(0))
        }
        async fn checkpoints(&self, _: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
            Ok(self.checkpoints.clone())
        }
        fn audits_in_commit_order(&self) -> bool {
            self.commit_order
        }
        async fn leaf_positions(
            &self,
            _: &str,
            indexes: &[u64],
        ) -> Result<Vec<Option<i64>>, StoreError> {
            Ok(indexes
                .iter()
                .map(|&i| {
                    let at = self.leaves.iter().position(|l| l.index == i)?;
                    self.leaf_positions.get(at).copied()
                })
                .collect())
        }
        async fn audit_span(&self, _: &str, mut span: SpanAudit) -> Result<SpanAudit, StoreError> {
            self.spans_read
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let b = span.bounds();
            fn commit_leaf<'a>((l, &entry_pos): (&'a LogLeaf, &i64)) -> CommitLeaf<'a> {
                CommitLeaf {
                    index: l.index,
                    entry_pos,
                    case_id: &l.case_id,
                    seq: l.seq,
                    hash: &l.hash,
                }
            }
            let mut leaves = self
                .leaves
                .iter()
                .zip(&self.leaf_positions)
                .filter(|(l, _)| l.index >= b.first_leaf && l.index < b.end_leaf);
            let in_span =
                |p: i64| b.after_pos.is_none_or(|a| p > a) && b.until_pos.is_none_or(|u| p <= u);
            for (e, &pos) in self.entries.iter().zip(&self.positions) {
                if !in_span(pos) {
                    continue;
                }
                let c = CanonicalEntry::of(e);
                let leaf = leaves.next().map(commit_leaf);
                let entry = CommitEntry {
                    pos,
                    case_id: &e.case_id,
                    seq: e.seq,
                    prev_hash: c.prev_hash,
                    hash: c.hash,
                    digest: c.digest,
                };
                if !span.entry(&entry, leaf.as_ref()) {
                    return Ok(span);
                }
            }
            for l in leaves {
                span.leaf_only(&commit_leaf(l));
            }
            Ok(span)
        }
        async fn all_entries(
            &self,
            _: &str,
            after: Option<(&str, u64)>,
            limit: usize,
        ) -> Result<Vec<AuditEntry>, StoreError> {
            let mut all = self.entries.clone();
            all.sort_by(|a, b| (&a.case_id, a.seq).cmp(&(&b.case_id, b.seq)));
            Ok(all
                .into_iter()
                .filter(|e| after.is_none_or(|(c, s)| (e.case_id.as_str(), e.seq) > (c, s)))
                .take(limit)
                .collect())
        }
    }

    fn signer() -> CheckpointSigner {
        CheckpointSigner::from_seed("alur-test", &[7; 32]).unwrap()
    }

    /// A checkpoint of the test tenant's log at `size` with `root`, signed by [`signer`].
    fn checkpoint(size: u64, root: Hash) -> StoredCheckpoint {
        StoredCheckpoint {
            size,
            note: signer()
                .sign(&Checkpoint::new(origin("kepri"), size, root))
                .unwrap(),
        }
    }

    /// The same store, read case by case.
    fn by_case(s: &AuditOnly) -> AuditOnly {
        AuditOnly {
            commit_order: false,
            ..s.clone()
        }
    }

    /// `cases` cases of four entries, all in the log (cases interleaved in commit order), under
    /// one signed checkpoint.
    fn store(cases: usize) -> AuditOnly {
        let mut s = AuditOnly::default();
        let mut prev = vec![GENESIS.to_owned(); cases];
        for seq in 1..=4u64 {
            for (c, prev) in prev.iter_mut().enumerate() {
                let mut e = AuditEntry {
                    tenant: "kepri".into(),
                    case_id: format!("c-{c:04}"),
                    seq,
                    service: "batam-domisili".into(),
                    definition_version: 1,
                    calendar_version: None,
                    event: EventKind::Commented,
                    actor: ActorRecord {
                        kind: "system".into(),
                        id: "alur".into(),
                        ..ActorRecord::default()
                    },
                    legal_basis: None,
                    at: "2026-03-17T02:00:00Z".parse().unwrap(),
                    due: None,
                    payload_digest: None,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev.clone_from(&e.hash);
                s.leaves.push(LogLeaf {
                    index: s.leaves.len() as u64,
                    case_id: e.case_id.clone(),
                    seq,
                    hash: e.hash.clone(),
                });
                // Positions with gaps, as a table shared by tenants has.
                let pos = 3 * s.entries.len() as i64 + 5;
                s.positions.push(pos);
                s.leaf_positions.push(pos);
                s.entries.push(e);
            }
        }
        let mut f = Frontier::new();
        for l in &s.leaves {
            f.push(leaf_of(&l.hash).unwrap()).unwrap();
        }
        s.checkpoints.push(checkpoint(f.size(), f.root()));
        s
    }

    async fn verify(s: &AuditOnly, parts: usize) -> Result<AuditSummary, AuditFailure> {
        let v = signer().verifier();
        let reading = Reading {
            page: 7,
            parts,
            spans: parts,
        };
        verify_store_with(s, "kepri", Some(&v), None, true, |_| {}, reading)
            .await
            .unwrap()
    }

    /// Read in parts, an audit reports exactly what it reports read in one: on a sound store and
    /// after each kind of tampering, wherever it falls (first, boundary and last cases).
    type Tamper = fn(&mut AuditOnly, usize);

    /// Seven kinds of tampering, each at an entry or leaf index.
    const TAMPERS: [(&str, Tamper); 7] = [
        ("content", |s, i| {
            s.entries[i].legal_basis = Some("x".into())
        }),
        ("stated hash", |s, i| s.entries[i].hash = GENESIS.into()),
        ("link", |s, i| s.entries[i].prev_hash = "1".repeat(64)),
        ("deleted entry", |s, i| {
            s.entries.remove(i);
            s.positions.remove(i);
        }),
        ("sequence", |s, i| s.entries[i].seq += 10),
        ("leaf label", |s, i| s.leaves[i].seq ^= 3),
        ("leaf hash", |s, i| {
            s.leaves[i].hash = s.leaves[(i + 1) % 120].hash.clone()
        }),
    ];

    /// Where the tampering falls: first, boundary and last cases (case by case) and spans
    /// (commit order).
    const AT: [usize; 14] = [0, 1, 29, 30, 31, 59, 60, 61, 64, 88, 89, 90, 91, 119];

    /// Each kind of tampering at each place: read in one part (or span), it is detected, and read
    /// in 2, 3 and 4 the report is the same.
    async fn tampering_reads_as_one_reading(sound: &AuditOnly, unit: &str) {
        for (what, tamper) in TAMPERS {
            for i in AT {
                let mut s = sound.clone();
                tamper(&mut s, i);
                let one = verify(&s, 1).await;
                assert!(one.is_err(), "{what} at {i} not detected");
                for n in [2, 3, 4] {
                    assert_eq!(verify(&s, n).await, one, "{what} at {i}, {n} {unit}");
                }
            }
        }
    }

    #[tokio::test]
    async fn parts_report_what_one_reading_reports() {
        let sound = store(30);
        let one = verify(&sound, 1).await.unwrap();
        assert_eq!(one.entries, 120);
        assert_eq!(one.cases, 30);
        for parts in [2, 3, 4] {
            assert_eq!(verify(&sound, parts).await, Ok(one));
        }
        tampering_reads_as_one_reading(&sound, "parts").await;
    }

    /// Read in commit order, an audit covers what a reading case by case covers, and read in
    /// spans it reports exactly what one span reports: the first bad entry in commit order.
    #[tokio::test]
    async fn spans_report_what_one_span_reports() {
        let sound = AuditOnly {
            commit_order: true,
            ..store(30)
        };
        let one = verify(&sound, 1).await.unwrap();
        assert_eq!(Ok(one), verify(&by_case(&sound), 1).await);
        for spans in [2, 3, 4] {
            let cut = commit::plan(&sound, "kepri", 120, spans, 7)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(cut.len(), spans);
            assert_eq!(verify(&sound, spans).await, Ok(one));
        }
        tampering_reads_as_one_reading(&sound, "spans").await;
        // Two bad entries: the one committed first is reported, wherever the spans fall.
        let mut s = sound.clone();
        s.entries[100].legal_basis = Some("x".into());
        s.entries[10].legal_basis = Some("x".into());
        for spans in [1, 2, 3, 4] {
            let f = verify(&s, spans).await.unwrap_err();
            assert_eq!(
                (f.case_id.as_deref(), f.seq),
                (Some("c-0010"), Some(1)),
                "{f}"
            );
        }
    }

    /// Checkpoints at sizes inside spans, at their boundaries and twice at one size: each span
    /// hashes its own part of the tree, and the tree at every checkpoint size is checked the
    /// same as read case by case; a checkpoint signed over another tree is reported at its
    /// size, however the log is cut.
    #[tokio::test]
    async fn checkpoints_inside_spans() {
        let mut sound = AuditOnly {
            commit_order: true,
            ..store(30)
        };
        let hashes: Vec<Hash> = sound
            .leaves
            .iter()
            .map(|l| leaf_of(&l.hash).unwrap())
            .collect();
        let sizes = [1u64, 7, 29, 30, 31, 45, 45, 60, 89, 90, 119];
        for &size in &sizes {
            let root = alur_merkle::root(&hashes[..size as usize]);
            sound.checkpoints.push(checkpoint(size, root));
        }
        let one = verify(&sound, 1).await.unwrap();
        assert_eq!(one.checkpoints, sizes.len() as u64 + 1);
        assert_eq!(verify(&by_case(&sound), 1).await, Ok(one));
        for spans in [2, 3, 4] {
            assert_eq!(verify(&sound, spans).await, Ok(one), "{spans} spans");
        }
        for (k, &size) in sizes.iter().enumerate() {
            let mut forged = sound.clone();
            // The tree of the same size with its last leaf replaced.
            let mut other = hashes[..size as usize].to_vec();
            other[size as usize - 1] = leaf_hash(b"forged");
            forged.checkpoints[k + 1] = checkpoint(size, alur_merkle::root(&other));
            let expected = verify(&by_case(&forged), 1).await;
            let f = expected.clone().unwrap_err();
            assert_eq!(
                (f.what.as_str(), f.index),
                ("checkpoint", Some(size)),
                "{f}"
            );
            for spans in [1, 2, 3, 4] {
                assert_eq!(
                    verify(&forged, spans).await,
                    expected,
                    "size {size}, {spans} spans"
                );
            }
        }
    }

    /// Many checkpoints are verified on all cores, with the same result as one by one: all
    /// checked against the tree, and of several bad ones the first in order reported.
    #[test]
    fn many_checkpoints_are_verified_in_order() {
        let hashes: Vec<Hash> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let leaves: Vec<LogLeaf> = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| LogLeaf {
                index: i as u64,
                case_id: format!("c-{i}"),
                seq: 1,
                hash: crate::config::hex(h),
            })
            .collect();
        let mut f = Frontier::new();
        let mut checkpoints = Vec::new();
        for l in &leaves {
            f.push(leaf_of(&l.hash).unwrap()).unwrap();
            checkpoints.push(checkpoint(f.size(), f.root()));
        }
        let v = signer().verifier();
        let mut log = LogCheck::new("kepri", &checkpoints, Some(&v), None).unwrap();
        log.leaves(&leaves).unwrap();
        assert_eq!(log.end().map(|l| l.checkpoints).ok(), Some(600));
        // A forged signature at 450, stored sizes that differ at 300 and 500: 300 is reported.
        let mut bad = checkpoints.clone();
        let other = CheckpointSigner::from_seed("alur-test", &[8; 32]).unwrap();
        bad[449].note = other
            .sign(&Checkpoint::new(origin("kepri"), 450, [0; 32]))
            .unwrap();
        bad[299].size += 1;
        bad[499].size += 1;
        let f = LogCheck::new("kepri", &bad, Some(&v), None).err().unwrap();
        assert_eq!(f.detail, "stored size 301 differs from the signed size 300");
        bad[299].size -= 1;
        let f = LogCheck::new("kepri", &bad, Some(&v), None).err().unwrap();
        assert!(f.detail.starts_with("signature or format invalid"), "{f}");
        // A root that does not match is caught when the leaves reach it.
        let mut forged = checkpoints.clone();
        forged[420] = checkpoint(421, [1; 32]);
        let mut log = LogCheck::new("kepri", &forged, Some(&v), None).unwrap();
        let f = log.leaves(&leaves).unwrap_err();
        assert_eq!((f.what.as_str(), f.index), ("checkpoint", Some(421)));
    }

    /// A checkpoint at every size of an 800-leaf log: read in one span, their roots are
    /// computed on all cores; in one or two spans and case by case, the same report, and of two
    /// forged checkpoints the smaller is reported.
    #[tokio::test]
    async fn a_checkpoint_at_every_size() {
        let mut sound = AuditOnly {
            commit_order: true,
            ..store(200)
        };
        let mut f = Frontier::new();
        for l in &sound.leaves.clone() {
            f.push(leaf_of(&l.hash).unwrap()).unwrap();
            sound.checkpoints.push(checkpoint(f.size(), f.root()));
        }
        let one = verify(&sound, 1).await.unwrap();
        assert_eq!((one.leaves, one.checkpoints), (800, 801));
        assert_eq!(verify(&sound, 2).await, Ok(one));
        assert_eq!(verify(&by_case(&sound), 1).await, Ok(one));
        let mut forged = sound.clone();
        for size in [700u64, 333] {
            forged.checkpoints[size as usize] = checkpoint(size, [3; 32]);
        }
        let expected = verify(&by_case(&forged), 1).await;
        let f = expected.clone().unwrap_err();
        assert_eq!((f.what.as_str(), f.index), ("checkpoint", Some(333)), "{f}");
        for spans in [1, 2] {
            assert_eq!(verify(&forged, spans).await, expected, "{spans} spans");
        }
    }

    #[test]
    fn work_on_all_cores_keeps_order_and_the_first_error() {
        let items: Vec<u32> = (0..2000).collect();
        let doubled = on_all_cores(&items, |&i| Ok::<_, u32>(2 * i)).unwrap();
        assert_eq!(doubled, items.iter().map(|i| 2 * i).collect::<Vec<_>>());
        let first_bad = on_all_cores(&items, |&i| {
            if i == 1500 || i == 1999 || i == 700 {
                Err(i)
            } else {
                Ok(i)
            }
        });
        assert_eq!(first_bad, Err(Some(700)));
        let few = on_all_cores(&items[..3], |&i| if i == 1 { Err(i) } else { Ok(i) });
        assert_eq!(few, Err(Some(1)));
    }

    /// A tenant whose entries are a small share of the commit positions they span (other
    /// tenants' entries between them) is read case by case: the same report, without reading
    /// the other tenants' entries.
    #[tokio::test]
    async fn a_sparse_tenant_is_read_case_by_case() {
        use std::sync::atomic::Ordering::Relaxed;
        let mut s = AuditOnly {
            commit_order: true,
            ..store(30)
        };
        let summary = verify(&s, 2).await.unwrap();
        assert_eq!(s.spans_read.load(Relaxed), 2);
        for p in s.positions.iter_mut().chain(s.leaf_positions.iter_mut()) {
            *p *= 10;
        }
        assert_eq!(verify(&s, 2).await, Ok(summary));
        assert_eq!(s.spans_read.load(Relaxed), 2, "read case by case");
        s.entries[40].legal_basis = Some("x".into());
        let f = verify(&s, 2).await.unwrap_err();
        assert_eq!(f.what, "chain");
    }

    /// In commit order: a leaf that names another entry than the one at its place, a moved
    /// entry, and entries after the log (unsequenced: counted, or refused when strict).
    #[tokio::test]
    async fn commit_order_reports() {
        let sound = AuditOnly {
            commit_order: true,
            ..store(3)
        };
        let v = signer().verifier();
        let reading = Reading {
            page: 1,
            parts: 1,
            spans: 2,
        };
        let run = |s: AuditOnly, strict: bool| {
            let v = v.clone();
            async move {
                verify_store_with(&s, "kepri", Some(&v), None, strict, |_| {}, reading)
                    .await
                    .unwrap()
            }
        };
        let mut s = sound.clone();
        s.leaves[4].case_id = "c-0002".into();
        let f = run(s, true).await.unwrap_err();
        assert_eq!(f.index, Some(4));
        assert!(
            f.detail
                .contains("the entry at its place in commit order is entry 2 of case c-0001"),
            "{f}"
        );
        let mut s = sound.clone();
        s.positions[7] += 1;
        let f = run(s, true).await.unwrap_err();
        assert_eq!(f.index, Some(7));
        assert!(f.detail.contains("commit position"), "{f}");
        // Two more entries of case 0, committed after the last integration.
        let mut s = sound.clone();
        for _ in 0..2 {
            let last = s.entries.iter().rfind(|e| e.case_id == "c-0000").unwrap();
            let mut e = AuditEntry {
                seq: last.seq + 1,
                prev_hash: last.hash.clone(),
                ..last.clone()
            };
            e.hash = e.compute_hash();
            s.positions.push(s.positions.last().unwrap() + 1);
            s.entries.push(e);
        }
        let summary = run(s.clone(), false).await.unwrap();
        assert_eq!(
            (summary.entries, summary.unsequenced, summary.leaves),
            (14, 2, 12)
        );
        let f = run(s, true).await.unwrap_err();
        assert!(f.detail.contains("2 entries are not in the log"), "{f}");
    }

    /// The join reports a relabelled leaf and a repeated leaf as the lookup by hash does.
    #[test]
    fn join_reports_bad_leaves() {
        let s = store(3);
        let mut a = Auditor::new("kepri");
        let mut entries = s.entries.clone();
        entries.sort_by(|a, b| (&a.case_id, a.seq).cmp(&(&b.case_id, b.seq)));
        for e in &entries {
            a.entry(e).unwrap();
        }
        let mut leaves = s.leaves.clone();
        leaves[4].case_id = "c-0002".into();
        let f = a.finish(&leaves, &[], None, None, false).unwrap_err();
        assert_eq!(f.index, Some(4));
        assert!(f.detail.contains("the leaf was relabelled"), "{f}");
        let mut a = Auditor::new("kepri");
        for e in &entries {
            a.entry(e).unwrap();
        }
        let mut leaves = s.leaves.clone();
        leaves[5] = LogLeaf {
            index: 5,
            ..leaves[2].clone()
        };
        let f = a.finish(&leaves, &[], None, None, false).unwrap_err();
        assert_eq!(f.index, Some(5));
        assert!(f.detail.contains("no such entry exists"), "{f}");
    }
}
