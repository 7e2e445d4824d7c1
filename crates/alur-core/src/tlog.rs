//! The tenant log: every audit entry of a tenant appended, by a background integrator, to an
//! append-only log with contiguous indexes from 0, hashed as an RFC 9162 Merkle tree (leaf data = the
//! entry's 32-byte chain hash). Signed checkpoints (C2SP tlog-checkpoint, Ed25519) are kept in the
//! store and exported outside it; an auditor with an export and a checkpoint verifies everything
//! offline with no server secret.

// An audit failure is reported once, at the end of a run; its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use alur_merkle::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier, parse_and_verify};
use alur_merkle::{Frontier, Hash, leaf_hash};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, CanonicalEntry, GENESIS};
use crate::store::{LogLeaf, Store, StoreError, StoreErrorKind, StoredCheckpoint};

/// The checkpoint origin line of a tenant's log.
pub fn origin(tenant: &str) -> String {
    format!("alur/{tenant}")
}

/// Decode a 64-character hex hash.
pub fn parse_hash(hex: &str) -> Option<Hash> {
    if hex.len() != 64 {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
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
    current: Option<(String, u64, String)>,
    /// Every entry fed, by hash: (index into `case_ids`, seq), to check the log's leaves.
    entry_hashes: HashMap<Hash, (u32, u64)>,
    case_ids: Vec<String>,
}

impl Auditor {
    /// Start an audit of `tenant`.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            summary: AuditSummary::default(),
            current: None,
            entry_hashes: HashMap::new(),
            case_ids: Vec::new(),
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
        page.iter().try_for_each(|e| self.canonical_entry(e))
    }

    fn fail_at(&self, e: &CanonicalEntry, detail: impl Into<String>) -> AuditFailure {
        AuditFailure {
            what: "chain".into(),
            tenant: self.tenant.clone(),
            case_id: Some(e.case_id.clone()),
            seq: Some(e.seq),
            index: None,
            detail: detail.into(),
        }
    }

    /// Feed the next entry as read with its canonical bytes (ordered by case id, then sequence).
    pub fn canonical_entry(&mut self, e: &CanonicalEntry) -> Result<(), AuditFailure> {
        let (expected_seq, prev_ok, same_case) = match &self.current {
            Some((case, seq, hash)) if case == &e.case_id => (seq + 1, e.prev_hash == *hash, true),
            Some((case, _, _)) if case.as_str() > e.case_id.as_str() => {
                return Err(self.fail_at(e, "entries are out of order (reordered or inserted)"));
            }
            _ => {
                self.summary.cases += 1;
                self.case_ids.push(e.case_id.clone());
                (1, e.prev_hash == GENESIS, false)
            }
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
        let computed = e.compute_hash();
        if computed != e.hash {
            return Err(self.fail_at(
                e,
                "content does not match its hash (the entry was modified)",
            ));
        }
        let h = parse_hash(&computed).ok_or_else(|| self.fail_at(e, "malformed hash"))?;
        let case_index = u32::try_from(self.case_ids.len().saturating_sub(1)).unwrap_or(u32::MAX);
        if self.entry_hashes.insert(h, (case_index, e.seq)).is_some() {
            return Err(self.fail_at(e, "the same entry appears twice"));
        }
        match &mut self.current {
            Some((_, seq, hash)) if same_case => {
                *seq = e.seq;
                *hash = computed;
            }
            current => *current = Some((e.case_id.clone(), e.seq, computed)),
        }
        self.summary.entries += 1;
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
    /// hash belongs to; with `strict`, every entry must be in the log and the whole log under a
    /// signed checkpoint.
    pub fn join(mut self, log: LogCheck, strict: bool) -> Result<AuditSummary, AuditFailure> {
        let log = log.end()?;
        for (h, case_id, seq, index) in &log.labels {
            match self.entry_hashes.remove(h) {
                Some((case, s))
                    if s == *seq
                        && self.case_ids.get(case as usize).map(String::as_str)
                            == Some(case_id.as_str()) => {}
                Some((case, s)) => {
                    let actual = self
                        .case_ids
                        .get(case as usize)
                        .cloned()
                        .unwrap_or_default();
                    return Err(self.fail("log", None, Some(*index), format!("leaf is labelled entry {seq} of case {case_id} but its hash is that of entry {s} of case {actual} (the leaf was relabelled)")));
                }
                None => {
                    return Err(self.fail("log", None, Some(*index), format!("leaf names entry {seq} of case {case_id} but no such entry exists (deleted or modified, or the leaf repeats another)")));
                }
            }
        }
        self.summary.leaves = log.size;
        self.summary.checkpoints = log.checkpoints;
        self.summary.unsequenced = self.entry_hashes.len() as u64;
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
    labels: Vec<(Hash, String, u64, u64)>,
}

/// What [`LogCheck::end`] hands to the join.
pub struct LogChecked {
    size: u64,
    covered: u64,
    checkpoints: u64,
    labels: Vec<(Hash, String, u64, u64)>,
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
        let mut wanted = Vec::new();
        for c in checkpoints {
            let cp = verify_note(&c.note)?;
            if cp.size != c.size {
                return Err(fail(format!(
                    "stored size {} differs from the signed size {}",
                    c.size, cp.size
                )));
            }
            wanted.push(cp);
        }
        if let Some(note) = external {
            wanted.push(verify_note(note)?);
        }
        wanted.sort_by_key(|c| c.size);
        let mut this = Self {
            tenant: tenant.to_owned(),
            frontier: Frontier::new(),
            wanted,
            next: 0,
            checkpoints: 0,
            labels: Vec::new(),
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
        self.labels.reserve(page.len());
        for l in page {
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
            let h = parse_hash(&l.hash)
                .ok_or_else(|| self.fail("log", Some(l.index), "malformed leaf hash"))?;
            self.frontier
                .push(leaf_hash(&h))
                .map_err(|e| self.fail("log", Some(l.index), e.to_string()))?;
            self.labels.push((h, l.case_id.clone(), l.seq, l.index));
            self.check_roots()?;
        }
        Ok(())
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
        })
    }
}

/// Verify a whole tenant from a store: every chain, the log, the stored checkpoints and optionally
/// an external checkpoint. `progress` is called with the number of entries checked so far.
pub async fn verify_store<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    verifier: Option<&CheckpointVerifier>,
    external: Option<&str>,
    strict: bool,
    mut progress: impl FnMut(u64),
) -> Result<Result<AuditSummary, AuditFailure>, StoreError> {
    // Three streams share the two cores: entry pages are read (in the database) while the
    // previous page is hashed (on a blocking thread), and the log's leaves and checkpoints are
    // checked on another blocking thread as they arrive.
    const PAGE: usize = 20_000;
    let checkpoints = store.checkpoints(tenant).await?;
    let log = match LogCheck::new(tenant, &checkpoints, verifier, external) {
        Ok(l) => l,
        Err(f) => return Ok(Err(f)),
    };
    let size = store.log_size(tenant).await?;
    let mut log_job: Option<tokio::task::JoinHandle<(LogCheck, Result<(), AuditFailure>)>> = None;
    let mut log = Some(log);
    let mut leaves_from = 0u64;
    let join_err = |e: tokio::task::JoinError| {
        StoreError::new(StoreErrorKind::Other, format!("audit task: {e}"))
    };
    let mut auditor = Auditor::new(tenant);
    let mut page = store.canonical_entries(tenant, None, PAGE).await?;
    loop {
        // Hand the next page of leaves to the log side when it is free.
        if leaves_from < size {
            let free = match log_job.take() {
                Some(job) if job.is_finished() => {
                    let (l, r) = job.await.map_err(join_err)?;
                    if let Err(f) = r {
                        return Ok(Err(f));
                    }
                    Some(l)
                }
                Some(job) => {
                    log_job = Some(job);
                    None
                }
                None => log.take(),
            };
            if let Some(mut l) = free {
                let end = (leaves_from + PAGE as u64).min(size);
                let leaves = store.log_leaves(tenant, leaves_from, end).await?;
                leaves_from = end;
                log_job = Some(tokio::task::spawn_blocking(move || {
                    let r = l.leaves(&leaves);
                    (l, r)
                }));
            }
        }
        if page.is_empty() {
            if leaves_from >= size {
                break;
            }
            // Entries are done: wait for the log side and feed it the rest.
            if let Some(job) = log_job.take() {
                let (l, r) = job.await.map_err(join_err)?;
                if let Err(f) = r {
                    return Ok(Err(f));
                }
                log = Some(l);
            }
            continue;
        }
        let after = page.last().map(|e| (e.case_id.clone(), e.seq));
        let hashing = tokio::task::spawn_blocking(move || {
            let r = auditor.canonical_entries(&page);
            (auditor, r)
        });
        let next = store
            .canonical_entries(tenant, after.as_ref().map(|(c, s)| (c.as_str(), *s)), PAGE)
            .await;
        let (a, r) = hashing.await.map_err(join_err)?;
        auditor = a;
        if let Err(f) = r {
            return Ok(Err(f));
        }
        progress(auditor.summary.entries);
        page = next?;
    }
    let log = match log_job {
        Some(job) => {
            let (l, r) = job.await.map_err(join_err)?;
            if let Err(f) = r {
                return Ok(Err(f));
            }
            l
        }
        None => match log {
            Some(l) => l,
            None => {
                return Err(StoreError::new(
                    StoreErrorKind::Other,
                    "audit: log side lost",
                ));
            }
        },
    };
    Ok(auditor.join(log, strict))
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
