//! The storage contract. Every store (in-memory, SQLite, PostgreSQL) passes the conformance
//! suite in `alur-testkit`, one case per `# Behavior` bullet below.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::AuditEntry;
use crate::engine::{Case, Payload, Status};
use crate::letter::Letter;
use crate::model::ServiceDefinition;

/// What a store can do beyond the required operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Data survives a process restart.
    pub durable: bool,
    /// Several processes may share it safely (leases on timers and outbox rows).
    pub shared: bool,
    /// The tenant Merkle log and checkpoints (`unsequenced`, `append_log`, `log_leaves`,
    /// `put_checkpoint`, `checkpoints`) are implemented.
    pub tenant_log: bool,
    /// Letters (numbering in the approving transition, [`Store::letter`] and the other letter
    /// methods) are implemented. The engine numbers no letter on a store without them.
    pub letters: bool,
}

/// One leaf of a tenant's append-only log: an audit entry, by its chain hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLeaf {
    /// Position in the tenant log, contiguous from 0.
    pub index: u64,
    /// Case of the entry.
    pub case_id: String,
    /// Sequence of the entry in its case chain.
    pub seq: u64,
    /// Hex chain hash of the entry (the Merkle leaf data is these 32 bytes).
    pub hash: String,
}

/// A page of the tenant log's leaves as an audit reads them: the case ids packed in one string
/// and the hashes decoded ([`crate::tlog::parse_hash`]), so that a long log is read without two
/// allocations per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafPage {
    /// The leaves' case ids, one after another.
    pub names: String,
    /// The leaves, in the order read.
    pub leaves: Vec<PackedLeaf>,
}

/// One leaf of a [`LeafPage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedLeaf {
    /// Position in the tenant log.
    pub index: u64,
    /// Where its case id ends in [`LeafPage::names`] (it starts where the previous one ends).
    pub name_end: usize,
    /// Sequence of the entry in its case chain.
    pub seq: u64,
    /// The stated hash; `None` when the stored text is not 64 hex digits.
    pub hash: Option<crate::audit::Hash>,
}

impl LeafPage {
    /// Pack leaves.
    pub fn of(leaves: &[LogLeaf]) -> Self {
        let mut page = Self {
            names: String::with_capacity(leaves.iter().map(|l| l.case_id.len()).sum()),
            leaves: Vec::with_capacity(leaves.len()),
        };
        for l in leaves {
            page.push(l.index, &l.case_id, l.seq, &l.hash);
        }
        page
    }

    /// Add a leaf, its hash as stored (hex).
    pub fn push(&mut self, index: u64, case_id: &str, seq: u64, hash_hex: &str) {
        self.names.push_str(case_id);
        self.leaves.push(PackedLeaf {
            index,
            name_end: self.names.len(),
            seq,
            hash: crate::tlog::parse_hash(hash_hex),
        });
    }

    /// The case id of the page's leaf at `i` (in the order read).
    pub fn case_id(&self, i: usize) -> Option<&str> {
        let end = self.leaves.get(i)?.name_end;
        let start = i.checked_sub(1).map_or(0, |p| self.leaves[p].name_end);
        self.names.get(start..end)
    }
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// The signed note (C2SP tlog-checkpoint).
    pub note: String,
}

/// Kind of storage failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// The case's version is not the expected one, or the case already exists.
    Conflict,
    /// The idempotency key was already recorded.
    DuplicateKey,
    /// Something needed is missing.
    NotFound,
    /// The database cannot be reached or is busy; retrying may help.
    Unavailable,
    /// Stored data is inconsistent.
    Corrupt,
    /// Anything else.
    Other,
}

/// A storage failure. The store has rolled back: nothing of the failed call is visible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage {kind:?}: {message}")]
pub struct StoreError {
    /// Kind.
    pub kind: StoreErrorKind,
    /// Detail (never personal data).
    pub message: String,
}

impl StoreError {
    /// Construct.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    /// Whether retrying may help.
    pub fn is_temporary(&self) -> bool {
        self.kind == StoreErrorKind::Unavailable
    }
}

/// A message to deliver, written in the transition's transaction (transactional outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Stable id receivers use to drop duplicates (`<case>:<seq>:<recipient kind>`).
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Case.
    pub case_id: String,
    /// Audit sequence number that caused it (orders messages per case).
    pub seq: u64,
    /// Template key (`case.received`, `case.returned`, …).
    pub template: String,
    /// Recipient: `applicant`, or `role:<role>@<unit>`.
    pub recipient: String,
    /// Created at.
    pub created_at: Timestamp,
}

/// An outbox message claimed for delivery (see [`Store::claim_outbox`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedMessage {
    /// The message.
    pub message: OutboxMessage,
    /// Failed delivery attempts so far.
    pub attempts: u32,
}

/// What became of one delivery attempt (see [`Store::settle_outbox`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxOutcome {
    /// Delivered: never claimed again.
    Delivered,
    /// Failed; claimable again from `at`. The attempt count grows by one.
    Retry {
        /// Earliest next attempt.
        at: Timestamp,
        /// Why it failed (never personal data).
        error: String,
    },
    /// Failed for good (permanent error, or attempts exhausted): parked as dead until retried by
    /// hand. The attempt count grows by one.
    Dead {
        /// Why it failed (never personal data).
        error: String,
    },
}

/// A message parked as dead (see [`Store::dead_outbox`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadMessage {
    /// The message.
    pub message: OutboxMessage,
    /// Failed delivery attempts.
    pub attempts: u32,
    /// The last error.
    pub last_error: String,
    /// When it was parked.
    pub dead_at: Timestamp,
}

/// A durable timer (reminder, breach) attached to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Stable id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Case.
    pub case_id: String,
    /// What it does (`reminder:50`, `breach`).
    pub kind: String,
    /// When it fires.
    pub fire_at: Timestamp,
}

/// Personal payload stored apart from the audit log, erasable at the end of its retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayload {
    /// Case.
    pub case_id: String,
    /// Audit sequence number.
    pub seq: u64,
    /// Hex keyed digest recorded in the audit entry.
    pub digest: String,
    /// The data.
    pub payload: Payload,
}

/// The first result of a command, kept under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Key given by the caller.
    pub key: String,
    /// Hex SHA-256 of the command.
    pub command_digest: String,
    /// Case state right after the command.
    pub result: Case,
}

/// Everything one transition writes, atomically.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Tenant.
    pub tenant: String,
    /// New case state.
    pub case: Case,
    /// Version the case must have now; 0 to create it.
    pub expected_version: u64,
    /// Audit entries (contiguous, continuing the case's chain).
    pub entries: Vec<AuditEntry>,
    /// Personal payloads.
    pub payloads: Vec<StoredPayload>,
    /// Messages.
    pub outbox: Vec<OutboxMessage>,
    /// Timers to set (replacing the case's existing timers when `replace_timers`).
    pub timers: Vec<Timer>,
    /// Drop the case's pending timers before setting `timers`.
    pub replace_timers: bool,
    /// Idempotency record.
    pub idempotency: Option<IdempotencyRecord>,
    /// A timer this transition consumes (fires); it must still exist, else `Conflict`.
    pub fired_timer: Option<String>,
    /// What it does to a letter: number it (with the approval), issue or revoke it.
    pub letter: Option<crate::letter::LetterOp>,
}

/// A refused command, recorded (invariant: every denial is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// Tenant.
    pub tenant: String,
    /// Case, if the command named one.
    pub case_id: Option<String>,
    /// Actor (officer id or pseudonym).
    pub actor: String,
    /// Command name.
    pub command: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// Search filters (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Service id.
    pub service: Option<String>,
    /// Unit code or prefix (`21.71` finds every Batam case).
    pub unit_prefix: Option<String>,
    /// Status.
    pub status: Option<Status>,
    /// Only open cases.
    pub open_only: bool,
    /// Submitted at or after.
    pub submitted_from: Option<Timestamp>,
    /// Submitted before.
    pub submitted_to: Option<Timestamp>,
    /// Maximum results (0 = 100).
    pub limit: usize,
}

/// `(case id, sequence number)` rows in case order, grouped as [`Store::erasable`] returns them.
pub fn group_by_case(rows: impl IntoIterator<Item = (String, u64)>) -> Vec<(String, Vec<u64>)> {
    let mut out: Vec<(String, Vec<u64>)> = Vec::new();
    for (case_id, seq) in rows {
        match out.last_mut() {
            Some((c, seqs)) if *c == case_id => seqs.push(seq),
            _ => out.push((case_id, vec![seq])),
        }
    }
    out
}

/// The error of the tenant-log methods' default implementations.
fn no_tenant_log() -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        "this store has no tenant log (capabilities().tenant_log is false)",
    )
}

/// The error of the letter methods' default implementations.
fn no_letters() -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        "this store keeps no letters (capabilities().letters is false)",
    )
}

/// A store of cases, audit chains, payloads, outbox messages, timers and definitions.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// What this store offers.
    fn capabilities(&self) -> Capabilities;

    /// Register a definition's content and return its version.
    ///
    /// # Behavior
    /// - The first content of a service id gets version 1.
    /// - The same content (same digest) again returns the existing version and writes nothing.
    /// - Changed content gets the latest version + 1; earlier versions stay readable unchanged.
    async fn put_definition(
        &self,
        tenant: &str,
        def: &ServiceDefinition,
    ) -> Result<u32, StoreError>;

    /// A definition by id and version.
    ///
    /// # Behavior
    /// - Returns exactly what [`Store::put_definition`] stored for that version, `None` if absent.
    async fn definition(
        &self,
        tenant: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<ServiceDefinition>, StoreError>;

    /// Commit a transition atomically.
    ///
    /// # Behavior
    /// - `expected_version == 0` creates the case; if it exists: `Conflict`.
    /// - Otherwise the stored case must have `expected_version`, else `Conflict` and nothing written.
    /// - An idempotency key already recorded for the tenant: `DuplicateKey` and nothing written.
    /// - `fired_timer` names a timer that no longer exists: `Conflict` and nothing written (a
    ///   timer fires at most once).
    /// - `replace_timers` drops the case's pending timers before inserting `timers`.
    /// - An entry recording [`crate::engine::EventKind::PersonalDataErased`] (with a legal basis) deletes the
    ///   case's payloads of the sequence numbers it names, in the same transaction: an erasure
    ///   is never recorded without being done, nor done through a transition without its record.
    /// - On success the case, entries, payloads, outbox messages, timers and idempotency record
    ///   are all visible; on any error none is.
    async fn commit(&self, t: Transition) -> Result<(), StoreError>;

    /// A case by id.
    ///
    /// # Behavior
    /// - Returns the last committed state, `None` for an unknown id.
    async fn case(&self, tenant: &str, case_id: &str) -> Result<Option<Case>, StoreError>;

    /// A case and the head of its chain, read together: one round trip where the store can, and
    /// then a consistent pair (the engine checks the head's sequence against the case's version
    /// either way).
    ///
    /// # Behavior
    /// - `None` for an unknown id; otherwise the last committed state and what
    ///   [`Store::head`] returns for it.
    async fn case_with_head(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<(Case, Option<(u64, String)>)>, StoreError> {
        let Some(case) = self.case(tenant, case_id).await? else {
            return Ok(None);
        };
        let head = self.head(tenant, case_id).await?;
        Ok(Some((case, head)))
    }

    /// A case's audit entries in sequence order.
    ///
    /// # Behavior
    /// - Entries come back exactly as committed, ordered by `seq` from 1.
    async fn entries(&self, tenant: &str, case_id: &str) -> Result<Vec<AuditEntry>, StoreError>;

    /// The last entry of a case's chain: its sequence number and hash (the next entry links to it).
    ///
    /// # Behavior
    /// - Returns the highest-`seq` entry's (seq, hash), `None` for an unknown case.
    async fn head(&self, tenant: &str, case_id: &str) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .entries(tenant, case_id)
            .await?
            .last()
            .map(|e| (e.seq, e.hash.clone())))
    }

    /// The personal payload of one entry.
    ///
    /// # Behavior
    /// - `None` when the entry had none (or it was erased).
    async fn payload(
        &self,
        tenant: &str,
        case_id: &str,
        seq: u64,
    ) -> Result<Option<Payload>, StoreError>;

    /// Closed cases past their retention: those last changed before `changed_before` that
    /// still hold personal payloads, each with the sequence numbers of its payloads.
    ///
    /// # Behavior
    /// - Only closed cases with `updated_at < changed_before` and at least one payload.
    /// - Ordered by case id, only ids after `after`, at most `limit` cases (0 = 100).
    /// - Each case's sequence numbers ascending.
    async fn erasable(
        &self,
        tenant: &str,
        changed_before: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u64>)>, StoreError> {
        let _ = (tenant, changed_before, after, limit);
        Err(StoreError::new(
            StoreErrorKind::Other,
            "this store cannot list payloads past their retention",
        ))
    }

    /// An idempotency record by key.
    ///
    /// # Behavior
    /// - Returns the record committed with the key, `None` if unknown.
    async fn idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Open cases waiting on any of these (role, unit) posts, oldest deadline first.
    ///
    /// # Behavior
    /// - Only open cases whose pending unit and one of its pending roles match a post.
    /// - Ordered by `due_at` (cases without one last), then submission time, then id.
    /// - At most `limit` cases.
    async fn inbox(
        &self,
        tenant: &str,
        posts: &[(String, String)],
        limit: usize,
    ) -> Result<Vec<Case>, StoreError>;

    /// Search cases.
    ///
    /// # Behavior
    /// - Applies every filter given; newest submission first; at most `limit` (0 = 100).
    async fn search(&self, tenant: &str, q: &SearchQuery) -> Result<Vec<Case>, StoreError>;

    /// Record a refused command.
    ///
    /// # Behavior
    /// - Appends; denials are listed in the order recorded.
    async fn record_denial(&self, d: Denial) -> Result<(), StoreError>;

    /// Recorded denials of a tenant.
    async fn denials(&self, tenant: &str) -> Result<Vec<Denial>, StoreError>;

    /// Outbox messages not yet delivered, oldest first.
    async fn pending_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Timers of a case, by fire time.
    ///
    /// # Behavior
    /// - Lists the case's pending timers ordered by `fire_at`, then id.
    async fn timers(&self, tenant: &str, case_id: &str) -> Result<Vec<Timer>, StoreError>;

    /// Claim up to `limit` timers due at `now` (fire_at ≤ now) for `owner` until `lease_until`.
    ///
    /// # Behavior
    /// - Returns due timers (oldest `fire_at` first) that are unclaimed or whose lease expired,
    ///   and records the lease; a timer under another owner's live lease is not returned.
    /// - Two concurrent callers never receive the same timer while its lease lives.
    /// - A claimed timer is removed only by a commit naming it in `fired_timer`, or by
    ///   `replace_timers` of its case.
    async fn claim_due_timers(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Timer>, StoreError>;

    /// Audit entries not yet in the tenant log, in commit order (their `index` is unset: 0).
    ///
    /// # Behavior
    /// - Returns at most `limit` entries that no log leaf names, oldest commit first.
    async fn unsequenced(&self, tenant: &str, limit: usize) -> Result<Vec<LogLeaf>, StoreError> {
        let _ = (tenant, limit);
        Err(no_tenant_log())
    }

    /// Append leaves to the tenant log at indexes `expected_size ..`.
    ///
    /// # Behavior
    /// - The log's size must be `expected_size`, else `Conflict` and nothing written (another
    ///   integrator appended first).
    /// - Leaves get indexes `expected_size + i`, in the order given; the log never changes after.
    async fn append_log(
        &self,
        tenant: &str,
        expected_size: u64,
        leaves: &[LogLeaf],
    ) -> Result<(), StoreError> {
        let _ = (tenant, expected_size, leaves);
        Err(no_tenant_log())
    }

    /// Leaves with `start <= index < end`, in index order.
    ///
    /// # Behavior
    /// - Returns exactly the appended leaves in that range; the log's size is the first missing index.
    async fn log_leaves(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        let _ = (tenant, start, end);
        Err(no_tenant_log())
    }

    /// [`Store::log_leaves`] packed for an audit ([`LeafPage`]).
    ///
    /// # Behavior
    /// - The same leaves as `log_leaves` over the same range, in index order.
    async fn log_leaf_page(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<LeafPage, StoreError> {
        Ok(LeafPage::of(&self.log_leaves(tenant, start, end).await?))
    }

    /// The number of leaves in the tenant log.
    async fn log_size(&self, tenant: &str) -> Result<u64, StoreError> {
        let _ = tenant;
        Err(no_tenant_log())
    }

    /// Keep a signed checkpoint.
    ///
    /// # Behavior
    /// - Appends; checkpoints are listed by size, and a size is stored once (a repeat is ignored).
    async fn put_checkpoint(
        &self,
        tenant: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        let _ = (tenant, checkpoint);
        Err(no_tenant_log())
    }

    /// The tenant's checkpoints, smallest size first.
    async fn checkpoints(&self, tenant: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let _ = tenant;
        Err(no_tenant_log())
    }

    /// Append entries to a chain that belongs to no case: the tenant's configuration chain
    /// ([`crate::config_log::CONFIG_CHAIN`]), recording definitions, calendars and grants.
    ///
    /// # Behavior
    /// - `entries` must pass [`crate::config_log::check_run`] (one reserved chain of `tenant`,
    ///   contiguous, linked, correctly hashed), else `Other` and nothing written.
    /// - The first entry must continue the stored chain (`seq` one past its last entry and
    ///   `prev_hash` that entry's hash, or seq 1 after [`crate::audit::GENESIS`]), else `Conflict`
    ///   and nothing written (a concurrent appender won).
    /// - All or nothing; the entries then reach the tenant log like case entries.
    async fn append_chain(&self, tenant: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let _ = (tenant, entries);
        Err(no_tenant_log())
    }

    /// Like [`Store::all_entries`], each entry with the digest of the canonical bytes its hash
    /// covers (for verification). A store may build the bytes from its stored text without
    /// decoding.
    ///
    /// # Behavior
    /// - The same entries, in the same order, as `all_entries`; `digest` equals
    ///   [`crate::audit::chain_digest`] of [`AuditEntry::canonical`] of the entry as decoded,
    ///   unless the stored JSON text of an entry differs from its canonical encoding (then the
    ///   entry fails its hash).
    async fn canonical_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<crate::audit::CanonicalEntry>, StoreError> {
        Ok(self
            .all_entries(tenant, after, limit)
            .await?
            .iter()
            .map(crate::audit::CanonicalEntry::of)
            .collect())
    }

    /// Whether [`Store::audit_span`] and [`Store::leaf_positions`] are implemented: the store
    /// reads a tenant's entries in commit order, and [`crate::tlog::verify_store`] audits it that
    /// way (see [`crate::tlog::SpanAudit`]) instead of case by case.
    fn audits_in_commit_order(&self) -> bool {
        false
    }

    /// The commit positions of the entries the leaves at `indexes` name (`None` for a leaf that
    /// does not exist), in the order asked.
    async fn leaf_positions(
        &self,
        tenant: &str,
        indexes: &[u64],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let _ = (tenant, indexes);
        Err(crate::tlog::commit_order_unsupported())
    }

    /// Feed `span` what it covers ([`SpanAudit::bounds`](crate::tlog::SpanAudit::bounds)): the
    /// tenant's entries with commit positions in its range, in commit order, each with its columns
    /// as stored and the next of the span's leaves (in index order) while any is left
    /// ([`SpanAudit::entry_columns`](crate::tlog::SpanAudit::entry_columns)), then the leaves left
    /// ([`SpanAudit::leaf_only`](crate::tlog::SpanAudit::leaf_only)); stop feeding entries when it
    /// says so. Hand the span back.
    ///
    /// # Behavior
    /// - Reads one consistent snapshot; the leaves read are those with `first_leaf <= index <
    ///   end_leaf`, whatever their contents (the span checks them).
    /// - A value that cannot be read as its column's type is an error of kind
    ///   [`StoreErrorKind::Corrupt`].
    async fn audit_span(
        &self,
        tenant: &str,
        span: crate::tlog::SpanAudit,
    ) -> Result<crate::tlog::SpanAudit, StoreError> {
        let _ = (tenant, span);
        Err(crate::tlog::commit_order_unsupported())
    }

    /// Every audit entry of the tenant, ordered by case id and sequence (for verification and export).
    async fn all_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let _ = (tenant, after, limit);
        Err(no_tenant_log())
    }
    /// Claim up to `limit` outbox messages for delivery by `owner` until `lease_until`.
    ///
    /// # Behavior
    /// - Returns messages that are not delivered, not dead, due (no retry time or one at or before
    ///   `now`) and not under a live lease (of any owner), oldest first; records the lease.
    /// - Only the oldest message of a case that is neither delivered nor dead can be claimed: a
    ///   later message of the case waits (per-case order), also while the older one is leased
    ///   or waits for its retry time. Dead messages do not hold later ones back.
    /// - Two concurrent callers never receive the same message while its lease lives.
    /// - A message whose lease expired without being settled can be claimed again.
    async fn claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let _ = (tenant, now, owner, lease_until, limit);
        Err(StoreError::new(
            StoreErrorKind::Other,
            "this store has no outbox delivery (claim_outbox is not implemented)",
        ))
    }

    /// Record the outcome of delivery attempts, all in one transaction.
    ///
    /// # Behavior
    /// - `Delivered` marks the message delivered at `now` and releases its lease; it is never
    ///   claimed again and the next message of its case becomes claimable.
    /// - `Retry` adds one to the attempt count, keeps the error and releases the lease; the
    ///   message is claimable again from `at`, and still holds later messages of its case back.
    /// - `Dead` adds one to the attempt count, keeps the error and parks the message as dead at
    ///   `now`: listed by [`Store::dead_outbox`], never claimed until [`Store::retry_dead_outbox`].
    /// - A failure outcome for a message already delivered changes nothing; unknown ids are
    ///   ignored.
    async fn settle_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
    ) -> Result<(), StoreError> {
        let _ = (tenant, now, outcomes);
        Err(StoreError::new(
            StoreErrorKind::Other,
            "this store has no outbox delivery (settle_outbox is not implemented)",
        ))
    }

    /// [`Store::settle_outbox`] then [`Store::claim_outbox`], for a dispatcher that settles one
    /// batch as it claims the next. A store may do both in one round trip.
    ///
    /// # Behavior
    /// - The outcomes are recorded as by `settle_outbox` and a batch is claimed as by
    ///   `claim_outbox`; a message being settled is never in the batch returned.
    /// - A store doing both in one statement may still see the settled messages as pending
    ///   while claiming: the next message of a case just delivered then waits for a later claim.
    async fn settle_and_claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        self.settle_outbox(tenant, now, outcomes).await?;
        self.claim_outbox(tenant, now, owner, lease_until, limit)
            .await
    }

    /// Messages parked as dead, oldest message first.
    ///
    /// # Behavior
    /// - Lists at most `limit` dead messages with their attempt count, last error and time
    ///   parked.
    async fn dead_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<DeadMessage>, StoreError> {
        let _ = (tenant, limit);
        Err(StoreError::new(
            StoreErrorKind::Other,
            "this store has no outbox delivery (dead_outbox is not implemented)",
        ))
    }

    /// Retry dead messages by hand: they become claimable at `now` with a fresh attempt count.
    ///
    /// # Behavior
    /// - Each named dead message is revived (attempts 0, due at `now`); the number revived is
    ///   returned. Ids that are not dead (unknown, pending or delivered) are ignored.
    async fn retry_dead_outbox(
        &self,
        tenant: &str,
        ids: &[String],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let _ = (tenant, ids, now);
        Err(StoreError::new(
            StoreErrorKind::Other,
            "this store has no outbox delivery (retry_dead_outbox is not implemented)",
        ))
    }
    /// The letter with verification token `token`.
    async fn letter(&self, tenant: &str, token: &str) -> Result<Option<Letter>, StoreError> {
        let _ = (tenant, token);
        Err(no_letters())
    }

    /// The letter of a case (a case has at most one).
    async fn letter_for_case(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<Letter>, StoreError> {
        let _ = (tenant, case_id);
        Err(no_letters())
    }

    /// The letter issued as the document with this SHA-256 (hex).
    async fn letter_by_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<Letter>, StoreError> {
        let _ = (tenant, sha256);
        Err(no_letters())
    }

    /// The letters of a unit numbered in a year (the outgoing-letter register), by series and
    /// sequence.
    async fn letters(
        &self,
        tenant: &str,
        unit: &str,
        year: i16,
    ) -> Result<Vec<Letter>, StoreError> {
        let _ = (tenant, unit, year);
        Err(no_letters())
    }

    /// Keep a document by its SHA-256 (content-addressed: storing it twice is harmless). Done
    /// before the issuing transition that refers to it.
    async fn put_letter_document(
        &self,
        tenant: &str,
        sha256: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let _ = (tenant, sha256, media_type, bytes);
        Err(no_letters())
    }

    /// A stored document: (media type, bytes).
    async fn letter_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let _ = (tenant, sha256);
        Err(no_letters())
    }

    /// Count one verification look-up of a letter; returns the new count (0 if unknown).
    async fn record_letter_scan(&self, tenant: &str, token: &str) -> Result<u64, StoreError> {
        let _ = (tenant, token);
        Err(no_letters())
    }
}

/// Forwards every method to the store behind a smart pointer.
macro_rules! forward_store {
    ($doc:literal, $($wrapper:tt)*) => {
        #[doc = $doc]
        #[async_trait]
        impl<T: Store + ?Sized> Store for $($wrapper)* {
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    async fn put_definition(
        &self,
        tenant: &str,
        def: &ServiceDefinition,
    ) -> Result<u32, StoreError> {
        (**self).put_definition(tenant, def).await
    }

    async fn definition(
        &self,
        tenant: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<ServiceDefinition>, StoreError> {
        (**self).definition(tenant, id, version).await
    }

    async fn commit(&self, t: Transition) -> Result<(), StoreError> {
        (**self).commit(t).await
    }

    async fn case(&self, tenant: &str, case_id: &str) -> Result<Option<Case>, StoreError> {
        (**self).case(tenant, case_id).await
    }

    async fn entries(&self, tenant: &str, case_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        (**self).entries(tenant, case_id).await
    }

    async fn head(&self, tenant: &str, case_id: &str) -> Result<Option<(u64, String)>, StoreError> {
        (**self).head(tenant, case_id).await
    }

    async fn case_with_head(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<(Case, Option<(u64, String)>)>, StoreError> {
        (**self).case_with_head(tenant, case_id).await
    }

    async fn payload(
        &self,
        tenant: &str,
        case_id: &str,
        seq: u64,
    ) -> Result<Option<Payload>, StoreError> {
        (**self).payload(tenant, case_id, seq).await
    }

    async fn erasable(
        &self,
        tenant: &str,
        changed_before: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u64>)>, StoreError> {
        (**self).erasable(tenant, changed_before, after, limit).await
    }

    async fn idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        (**self).idempotency(tenant, key).await
    }

    async fn inbox(
        &self,
        tenant: &str,
        posts: &[(String, String)],
        limit: usize,
    ) -> Result<Vec<Case>, StoreError> {
        (**self).inbox(tenant, posts, limit).await
    }

    async fn search(&self, tenant: &str, q: &SearchQuery) -> Result<Vec<Case>, StoreError> {
        (**self).search(tenant, q).await
    }

    async fn record_denial(&self, d: Denial) -> Result<(), StoreError> {
        (**self).record_denial(d).await
    }

    async fn denials(&self, tenant: &str) -> Result<Vec<Denial>, StoreError> {
        (**self).denials(tenant).await
    }

    async fn pending_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        (**self).pending_outbox(tenant, limit).await
    }

    async fn timers(&self, tenant: &str, case_id: &str) -> Result<Vec<Timer>, StoreError> {
        (**self).timers(tenant, case_id).await
    }

    async fn claim_due_timers(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Timer>, StoreError> {
        (**self)
            .claim_due_timers(tenant, now, owner, lease_until, limit)
            .await
    }

    async fn unsequenced(&self, tenant: &str, limit: usize) -> Result<Vec<LogLeaf>, StoreError> {
        (**self).unsequenced(tenant, limit).await
    }

    async fn append_log(
        &self,
        tenant: &str,
        expected_size: u64,
        leaves: &[LogLeaf],
    ) -> Result<(), StoreError> {
        (**self).append_log(tenant, expected_size, leaves).await
    }

    async fn log_leaves(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        (**self).log_leaves(tenant, start, end).await
    }

    async fn log_leaf_page(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<LeafPage, StoreError> {
        (**self).log_leaf_page(tenant, start, end).await
    }

    async fn log_size(&self, tenant: &str) -> Result<u64, StoreError> {
        (**self).log_size(tenant).await
    }

    async fn put_checkpoint(
        &self,
        tenant: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        (**self).put_checkpoint(tenant, checkpoint).await
    }

    async fn checkpoints(&self, tenant: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
        (**self).checkpoints(tenant).await
    }

    async fn append_chain(&self, tenant: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
        (**self).append_chain(tenant, entries).await
    }

    async fn canonical_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<crate::audit::CanonicalEntry>, StoreError> {
        (**self).canonical_entries(tenant, after, limit).await
    }

    fn audits_in_commit_order(&self) -> bool {
        (**self).audits_in_commit_order()
    }

    async fn leaf_positions(
        &self,
        tenant: &str,
        indexes: &[u64],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        (**self).leaf_positions(tenant, indexes).await
    }

    async fn audit_span(
        &self,
        tenant: &str,
        span: crate::tlog::SpanAudit,
    ) -> Result<crate::tlog::SpanAudit, StoreError> {
        (**self).audit_span(tenant, span).await
    }

    async fn all_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        (**self).all_entries(tenant, after, limit).await
    }

    async fn claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        (**self)
            .claim_outbox(tenant, now, owner, lease_until, limit)
            .await
    }

    async fn settle_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
    ) -> Result<(), StoreError> {
        (**self).settle_outbox(tenant, now, outcomes).await
    }

    async fn dead_outbox(&self, tenant: &str, limit: usize) -> Result<Vec<DeadMessage>, StoreError> {
        (**self).dead_outbox(tenant, limit).await
    }

    async fn settle_and_claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        (**self)
            .settle_and_claim_outbox(tenant, now, outcomes, owner, lease_until, limit)
            .await
    }

    async fn retry_dead_outbox(
        &self,
        tenant: &str,
        ids: &[String],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        (**self).retry_dead_outbox(tenant, ids, now).await
    }
    async fn letter(&self, tenant: &str, token: &str) -> Result<Option<Letter>, StoreError> {
        (**self).letter(tenant, token).await
    }

    async fn letter_for_case(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<Letter>, StoreError> {
        (**self).letter_for_case(tenant, case_id).await
    }

    async fn letter_by_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<Letter>, StoreError> {
        (**self).letter_by_document(tenant, sha256).await
    }

    async fn letters(&self, tenant: &str, unit: &str, year: i16) -> Result<Vec<Letter>, StoreError> {
        (**self).letters(tenant, unit, year).await
    }

    async fn put_letter_document(
        &self,
        tenant: &str,
        sha256: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        (**self).put_letter_document(tenant, sha256, media_type, bytes).await
    }

    async fn letter_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        (**self).letter_document(tenant, sha256).await
    }

    async fn record_letter_scan(&self, tenant: &str, token: &str) -> Result<u64, StoreError> {
        (**self).record_letter_scan(tenant, token).await
    }
        }
    };
}

forward_store!(
    "A boxed store is a store (for choosing the backend at run time).",
    Box<T>
);
forward_store!(
    "A shared store is a store (several engines, e.g. one per tenant, over one database).",
    std::sync::Arc<T>
);
