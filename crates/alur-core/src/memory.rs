//! The in-memory store: complete, fast, **not durable**. For tests, demos and the quickstart.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::audit::AuditEntry;
use crate::engine::{Case, EventKind, Payload};
use crate::letter::{Letter, LetterOp, LetterStatus};
use crate::model::ServiceDefinition;
use crate::region::code_within;
use crate::store::*;

#[derive(Default)]
struct Tenant {
    definitions: HashMap<String, Vec<ServiceDefinition>>,
    cases: BTreeMap<String, Case>,
    entries: HashMap<String, Vec<AuditEntry>>,
    payloads: HashMap<(String, u64), Payload>,
    idempotency: HashMap<String, IdempotencyRecord>,
    outbox: Vec<OutboxMessage>,
    timers: HashMap<String, Vec<Timer>>,
    leases: HashMap<String, (String, jiff::Timestamp)>,
    denials: Vec<Denial>,
    /// Entries in commit order, with whether they are in the log.
    commit_order: Vec<(String, u64, String)>,
    sequenced: usize,
    log: Vec<LogLeaf>,
    checkpoints: Vec<StoredCheckpoint>,
    /// Delivery state of outbox messages, by id (absent: pending, never attempted).
    delivery: HashMap<String, Delivery>,
    /// Letters by token.
    letters: BTreeMap<String, Letter>,
    /// Last sequence number by (unit, series, year).
    letter_counters: HashMap<(String, String, i16), u64>,
    /// Documents by SHA-256: (media type, bytes).
    documents: HashMap<String, (String, Vec<u8>)>,
}

/// Delivery state of one outbox message.
#[derive(Default, Clone)]
struct Delivery {
    delivered: bool,
    dead_at: Option<jiff::Timestamp>,
    attempts: u32,
    next_attempt: Option<jiff::Timestamp>,
    last_error: String,
    lease_until: Option<jiff::Timestamp>,
}

/// An in-memory [`Store`]. Not durable: everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    tenants: Mutex<HashMap<String, Tenant>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            durable: false,
            shared: false,
            tenant_log: true,
            letters: true,
        }
    }

    async fn put_definition(
        &self,
        tenant: &str,
        def: &ServiceDefinition,
    ) -> Result<u32, StoreError> {
        let mut g = self.tenants.lock().await;
        let versions = g
            .entry(tenant.to_owned())
            .or_default()
            .definitions
            .entry(def.id.clone())
            .or_default();
        if let Some(v) = versions.iter().find(|v| v.digest == def.digest) {
            return Ok(v.version);
        }
        let version = versions.last().map_or(1, |v| v.version + 1);
        let mut stored = def.clone();
        stored.version = version;
        versions.push(stored);
        Ok(version)
    }

    async fn definition(
        &self,
        tenant: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<ServiceDefinition>, StoreError> {
        let g = self.tenants.lock().await;
        Ok(g.get(tenant)
            .and_then(|t| t.definitions.get(id))
            .and_then(|v| v.iter().find(|d| d.version == version))
            .cloned())
    }

    async fn letter(&self, tenant: &str, token: &str) -> Result<Option<Letter>, StoreError> {
        let g = self.tenants.lock().await;
        Ok(g.get(tenant).and_then(|t| t.letters.get(token)).cloned())
    }

    async fn letter_for_case(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<Letter>, StoreError> {
        let g = self.tenants.lock().await;
        Ok(g.get(tenant)
            .and_then(|t| t.letters.values().find(|l| l.case_id == case_id))
            .cloned())
    }

    async fn letter_by_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<Letter>, StoreError> {
        let g = self.tenants.lock().await;
        Ok(g.get(tenant)
            .and_then(|t| {
                t.letters
                    .values()
                    .find(|l| l.document_sha256.as_deref() == Some(sha256))
            })
            .cloned())
    }

    async fn letters(
        &self,
        tenant: &str,
        unit: &str,
        year: i16,
    ) -> Result<Vec<Letter>, StoreError> {
        let g = self.tenants.lock().await;
        let mut out: Vec<Letter> = g
            .get(tenant)
            .map(|t| {
                t.letters
                    .values()
                    .filter(|l| l.unit == unit && l.year == year)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| (&a.series, a.seq).cmp(&(&b.series, b.seq)));
        Ok(out)
    }

    async fn put_letter_document(
        &self,
        tenant: &str,
        sha256: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let mut g = self.tenants.lock().await;
        g.entry(tenant.to_owned())
            .or_default()
            .documents
            .entry(sha256.to_owned())
            .or_insert_with(|| (media_type.to_owned(), bytes.to_vec()));
        Ok(())
    }

    async fn letter_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let g = self.tenants.lock().await;
        Ok(g.get(tenant).and_then(|t| t.documents.get(sha256)).cloned())
    }

    async fn record_letter_scan(&self, tenant: &str, token: &str) -> Result<u64, StoreError> {
        let mut g = self.tenants.lock().await;
        Ok(g.get_mut(tenant)
            .and_then(|t| t.letters.get_mut(token))
            .map_or(0, |l| {
                l.scans += 1;
                l.scans
            }))
    }

    async fn commit(&self, t: Transition) -> Result<(), StoreError> {
        let mut g = self.tenants.lock().await;
        let ten = g.entry(t.tenant.clone()).or_default();
        let current = ten.cases.get(&t.case.id).map(|c| c.version);
        match (t.expected_version, current) {
            (0, Some(_)) => {
                return Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    "case already exists",
                ));
            }
            (0, None) => {}
            (v, Some(c)) if v == c => {}
            (v, c) => {
                return Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    format!("case version is {}, expected {v}", c.unwrap_or(0)),
                ));
            }
        }
        if let Some(i) = &t.idempotency
            && ten.idempotency.contains_key(&i.key)
        {
            return Err(StoreError::new(
                StoreErrorKind::DuplicateKey,
                "idempotency key already used",
            ));
        }
        if let Some(timer) = &t.fired_timer
            && !ten
                .timers
                .get(&t.case.id)
                .is_some_and(|v| v.iter().any(|x| &x.id == timer))
        {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("timer {timer} already fired or was replaced"),
            ));
        }
        let letter_refused = match &t.letter {
            Some(LetterOp::Number(n)) => (ten.letters.contains_key(&n.token)
                || ten.letters.values().any(|l| l.case_id == t.case.id))
            .then_some("the case already has a letter"),
            Some(LetterOp::Issue(i)) => (!(ten
                .letters
                .get(&i.token)
                .is_some_and(|l| l.case_id == t.case.id && l.status == LetterStatus::Numbered)
                && ten.documents.contains_key(&i.document_sha256)))
            .then_some("the letter is not numbered (or its document was not stored)"),
            Some(LetterOp::Revoke { token, .. }) => (!ten
                .letters
                .get(token)
                .is_some_and(|l| l.case_id == t.case.id && l.status == LetterStatus::Issued))
            .then_some("the letter is not issued"),
            None => None,
        };
        if let Some(why) = letter_refused {
            return Err(StoreError::new(StoreErrorKind::Conflict, why));
        }
        // All checks passed: apply everything (no await points, so this is atomic).
        let id = t.case.id.clone();
        match t.letter {
            Some(LetterOp::Number(n)) => {
                let counter = ten
                    .letter_counters
                    .entry((n.unit.clone(), n.series.clone(), n.year))
                    .or_default();
                *counter += 1;
                let seq = *counter;
                ten.letters.insert(
                    n.token.clone(),
                    Letter {
                        tenant: t.tenant.clone(),
                        token: n.token,
                        case_id: id.clone(),
                        unit: n.unit,
                        service: n.service,
                        series: n.series,
                        year: n.year,
                        seq,
                        number: n.pattern.fill(seq),
                        status: LetterStatus::Numbered,
                        numbered_at: n.at,
                        issued_at: None,
                        valid_until: None,
                        document_sha256: None,
                        media_type: None,
                        signer: None,
                        revoked_at: None,
                        scans: 0,
                    },
                );
            }
            Some(LetterOp::Issue(i)) => {
                if let Some(l) = ten.letters.get_mut(&i.token) {
                    l.status = LetterStatus::Issued;
                    l.issued_at = Some(i.at);
                    l.valid_until = i.valid_until;
                    l.document_sha256 = Some(i.document_sha256);
                    l.media_type = Some(i.media_type);
                    l.signer = Some(i.signer);
                }
            }
            Some(LetterOp::Revoke { token, at }) => {
                if let Some(l) = ten.letters.get_mut(&token) {
                    l.status = LetterStatus::Revoked;
                    l.revoked_at = Some(at);
                }
            }
            None => {}
        }
        if let Some(timer) = &t.fired_timer
            && let Some(v) = ten.timers.get_mut(&id)
        {
            v.retain(|x| &x.id != timer);
            ten.leases.remove(timer);
        }
        for e in &t.entries {
            ten.commit_order
                .push((e.case_id.clone(), e.seq, e.hash.clone()));
        }
        for p in t.payloads {
            ten.payloads.insert((p.case_id, p.seq), p.payload);
        }
        // An erasure's entry deletes the payloads it names (as the SQL stores' triggers do).
        for e in &t.entries {
            if let (EventKind::PersonalDataErased { seqs, .. }, Some(_)) =
                (&e.event, &e.legal_basis)
            {
                for seq in seqs {
                    ten.payloads.remove(&(e.case_id.clone(), *seq));
                }
            }
        }
        ten.entries.entry(id.clone()).or_default().extend(t.entries);
        ten.outbox.extend(t.outbox);
        let timers = ten.timers.entry(id.clone()).or_default();
        if t.replace_timers {
            for old in timers.drain(..) {
                ten.leases.remove(&old.id);
            }
        }
        timers.extend(t.timers);
        timers.sort_by(|a, b| (a.fire_at, &a.id).cmp(&(b.fire_at, &b.id)));
        if let Some(i) = t.idempotency {
            ten.idempotency.insert(i.key.clone(), i);
        }
        ten.cases.insert(id, t.case);
        Ok(())
    }

    async fn case(&self, tenant: &str, case_id: &str) -> Result<Option<Case>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .and_then(|t| t.cases.get(case_id))
            .cloned())
    }

    async fn entries(&self, tenant: &str, case_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .and_then(|t| t.entries.get(case_id))
            .cloned()
            .unwrap_or_default())
    }

    async fn payload(
        &self,
        tenant: &str,
        case_id: &str,
        seq: u64,
    ) -> Result<Option<Payload>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .and_then(|t| t.payloads.get(&(case_id.to_owned(), seq)))
            .cloned())
    }

    async fn erasable(
        &self,
        tenant: &str,
        changed_before: jiff::Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u64>)>, StoreError> {
        let guard = self.tenants.lock().await;
        let Some(ten) = guard.get(tenant) else {
            return Ok(Vec::new());
        };
        let mut held: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for (case_id, seq) in ten.payloads.keys() {
            let past = ten.cases.get(case_id).is_some_and(|c| {
                !c.status.is_open()
                    && c.updated_at < changed_before
                    && after.is_none_or(|a| case_id.as_str() > a)
            });
            if past {
                held.entry(case_id).or_default().push(*seq);
            }
        }
        Ok(held
            .into_iter()
            .take(if limit == 0 { 100 } else { limit })
            .map(|(c, mut seqs)| {
                seqs.sort_unstable();
                (c.to_owned(), seqs)
            })
            .collect())
    }

    async fn idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .and_then(|t| t.idempotency.get(key))
            .cloned())
    }

    async fn inbox(
        &self,
        tenant: &str,
        posts: &[(String, String)],
        limit: usize,
    ) -> Result<Vec<Case>, StoreError> {
        let g = self.tenants.lock().await;
        let Some(t) = g.get(tenant) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Case> = t
            .cases
            .values()
            .filter(|c| {
                c.pending.as_ref().is_some_and(|p| {
                    posts
                        .iter()
                        .any(|(role, unit)| unit == &p.unit && p.roles.iter().any(|r| r == role))
                })
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (a.due_at.is_none(), a.due_at, a.submitted_at, &a.id).cmp(&(
                b.due_at.is_none(),
                b.due_at,
                b.submitted_at,
                &b.id,
            ))
        });
        out.truncate(limit);
        Ok(out)
    }

    async fn search(&self, tenant: &str, q: &SearchQuery) -> Result<Vec<Case>, StoreError> {
        let g = self.tenants.lock().await;
        let Some(t) = g.get(tenant) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Case> = t
            .cases
            .values()
            .filter(|c| q.service.as_ref().is_none_or(|s| &c.service == s))
            .filter(|c| {
                q.unit_prefix
                    .as_ref()
                    .is_none_or(|p| code_within(&c.unit, p))
            })
            .filter(|c| q.status.as_ref().is_none_or(|s| &c.status == s))
            .filter(|c| !q.open_only || c.status.is_open())
            .filter(|c| q.submitted_from.is_none_or(|f| c.submitted_at >= f))
            .filter(|c| q.submitted_to.is_none_or(|f| c.submitted_at < f))
            .cloned()
            .collect();
        out.sort_by(|a, b| (b.submitted_at, &b.id).cmp(&(a.submitted_at, &a.id)));
        out.truncate(if q.limit == 0 { 100 } else { q.limit });
        Ok(out)
    }

    async fn record_denial(&self, d: Denial) -> Result<(), StoreError> {
        self.tenants
            .lock()
            .await
            .entry(d.tenant.clone())
            .or_default()
            .denials
            .push(d);
        Ok(())
    }

    async fn denials(&self, tenant: &str) -> Result<Vec<Denial>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .map(|t| t.denials.clone())
            .unwrap_or_default())
    }

    async fn pending_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .map(|t| {
                t.outbox
                    .iter()
                    .filter(|m| !t.delivery.get(&m.id).is_some_and(|d| d.delivered))
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn timers(&self, tenant: &str, case_id: &str) -> Result<Vec<Timer>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .and_then(|t| t.timers.get(case_id))
            .cloned()
            .unwrap_or_default())
    }

    async fn claim_due_timers(
        &self,
        tenant: &str,
        now: jiff::Timestamp,
        owner: &str,
        lease_until: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<Timer>, StoreError> {
        let mut g = self.tenants.lock().await;
        let Some(t) = g.get_mut(tenant) else {
            return Ok(Vec::new());
        };
        let mut due: Vec<Timer> = t
            .timers
            .values()
            .flatten()
            .filter(|x| x.fire_at <= now)
            .filter(|x| {
                t.leases
                    .get(&x.id)
                    .is_none_or(|(o, until)| o == owner || *until <= now)
            })
            .cloned()
            .collect();
        due.sort_by(|a, b| (a.fire_at, &a.id).cmp(&(b.fire_at, &b.id)));
        due.truncate(limit);
        for x in &due {
            t.leases
                .insert(x.id.clone(), (owner.to_owned(), lease_until));
        }
        Ok(due)
    }

    async fn unsequenced(&self, tenant: &str, limit: usize) -> Result<Vec<LogLeaf>, StoreError> {
        let g = self.tenants.lock().await;
        let Some(t) = g.get(tenant) else {
            return Ok(Vec::new());
        };
        Ok(t.commit_order[t.sequenced..]
            .iter()
            .take(limit)
            .map(|(case_id, seq, hash)| LogLeaf {
                index: 0,
                case_id: case_id.clone(),
                seq: *seq,
                hash: hash.clone(),
            })
            .collect())
    }

    async fn append_log(
        &self,
        tenant: &str,
        expected_size: u64,
        leaves: &[LogLeaf],
    ) -> Result<(), StoreError> {
        let mut g = self.tenants.lock().await;
        let t = g.entry(tenant.to_owned()).or_default();
        if t.log.len() as u64 != expected_size {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("log size is {}, expected {expected_size}", t.log.len()),
            ));
        }
        // Leaves must be the next unsequenced entries, in commit order.
        for (i, l) in leaves.iter().enumerate() {
            match t.commit_order.get(t.sequenced + i) {
                Some((c, s, h)) if c == &l.case_id && *s == l.seq && h == &l.hash => {}
                _ => {
                    return Err(StoreError::new(
                        StoreErrorKind::Conflict,
                        "leaves are not the next unsequenced entries",
                    ));
                }
            }
        }
        for (i, l) in leaves.iter().enumerate() {
            t.log.push(LogLeaf {
                index: expected_size + i as u64,
                ..l.clone()
            });
        }
        t.sequenced += leaves.len();
        Ok(())
    }

    async fn log_leaves(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        let g = self.tenants.lock().await;
        let Some(t) = g.get(tenant) else {
            return Ok(Vec::new());
        };
        let end = (end as usize).min(t.log.len());
        let start = (start as usize).min(end);
        Ok(t.log[start..end].to_vec())
    }

    async fn log_size(&self, tenant: &str) -> Result<u64, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .map_or(0, |t| t.log.len() as u64))
    }

    async fn put_checkpoint(
        &self,
        tenant: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        let mut g = self.tenants.lock().await;
        let t = g.entry(tenant.to_owned()).or_default();
        if !t.checkpoints.iter().any(|c| c.size == checkpoint.size) {
            t.checkpoints.push(checkpoint.clone());
            t.checkpoints.sort_by_key(|c| c.size);
        }
        Ok(())
    }

    async fn checkpoints(&self, tenant: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .await
            .get(tenant)
            .map(|t| t.checkpoints.clone())
            .unwrap_or_default())
    }

    async fn append_chain(&self, tenant: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
        crate::config_log::check_run(tenant, entries)
            .map_err(|m| StoreError::new(StoreErrorKind::Other, m))?;
        let mut g = self.tenants.lock().await;
        let t = g.entry(tenant.to_owned()).or_default();
        let first = &entries[0];
        let chain = t.entries.entry(first.case_id.clone()).or_default();
        let (seq, hash) = chain
            .last()
            .map_or((0, crate::audit::GENESIS), |e| (e.seq, e.hash.as_str()));
        if first.seq != seq + 1 || first.prev_hash != hash {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("the chain `{}` has moved on", first.case_id),
            ));
        }
        for e in entries {
            t.commit_order
                .push((e.case_id.clone(), e.seq, e.hash.clone()));
        }
        chain.extend(entries.iter().cloned());
        Ok(())
    }

    async fn all_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let g = self.tenants.lock().await;
        let Some(t) = g.get(tenant) else {
            return Ok(Vec::new());
        };
        let mut ids: Vec<&String> = t.entries.keys().collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            for e in &t.entries[id] {
                if after.is_some_and(|(c, s)| (e.case_id.as_str(), e.seq) <= (c, s)) {
                    continue;
                }
                out.push(e.clone());
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    async fn claim_outbox(
        &self,
        tenant: &str,
        now: jiff::Timestamp,
        owner: &str,
        lease_until: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let _ = owner;
        let mut g = self.tenants.lock().await;
        let Some(t) = g.get_mut(tenant) else {
            return Ok(Vec::new());
        };
        let mut blocked = std::collections::HashSet::new();
        let mut out = Vec::new();
        for m in &t.outbox {
            if out.len() >= limit {
                break;
            }
            let d = t.delivery.get(&m.id).cloned().unwrap_or_default();
            if d.delivered || d.dead_at.is_some() {
                continue;
            }
            // The oldest open message of its case; any later one waits.
            if !blocked.insert(m.case_id.clone()) {
                continue;
            }
            let due = d.next_attempt.is_none_or(|at| at <= now);
            let free = d.lease_until.is_none_or(|until| until <= now);
            if due && free {
                out.push(ClaimedMessage {
                    message: m.clone(),
                    attempts: d.attempts,
                });
            }
        }
        for c in &out {
            t.delivery
                .entry(c.message.id.clone())
                .or_default()
                .lease_until = Some(lease_until);
        }
        Ok(out)
    }

    async fn settle_outbox(
        &self,
        tenant: &str,
        now: jiff::Timestamp,
        outcomes: &[(String, OutboxOutcome)],
    ) -> Result<(), StoreError> {
        let mut g = self.tenants.lock().await;
        let Some(t) = g.get_mut(tenant) else {
            return Ok(());
        };
        for (id, outcome) in outcomes {
            if !t.outbox.iter().any(|m| &m.id == id) {
                continue;
            }
            let d = t.delivery.entry(id.clone()).or_default();
            if d.delivered {
                continue;
            }
            d.lease_until = None;
            match outcome {
                OutboxOutcome::Delivered => d.delivered = true,
                OutboxOutcome::Retry { at, error } => {
                    d.attempts = d.attempts.saturating_add(1);
                    d.next_attempt = Some(*at);
                    d.last_error.clone_from(error);
                }
                OutboxOutcome::Dead { error } => {
                    d.attempts = d.attempts.saturating_add(1);
                    d.dead_at = Some(now);
                    d.last_error.clone_from(error);
                }
            }
        }
        Ok(())
    }

    async fn dead_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<DeadMessage>, StoreError> {
        let g = self.tenants.lock().await;
        let Some(t) = g.get(tenant) else {
            return Ok(Vec::new());
        };
        Ok(t.outbox
            .iter()
            .filter_map(|m| {
                let d = t.delivery.get(&m.id)?;
                Some(DeadMessage {
                    message: m.clone(),
                    attempts: d.attempts,
                    last_error: d.last_error.clone(),
                    dead_at: d.dead_at?,
                })
            })
            .take(limit)
            .collect())
    }

    async fn retry_dead_outbox(
        &self,
        tenant: &str,
        ids: &[String],
        now: jiff::Timestamp,
    ) -> Result<u64, StoreError> {
        let mut g = self.tenants.lock().await;
        let Some(t) = g.get_mut(tenant) else {
            return Ok(0);
        };
        let mut revived = 0;
        for id in ids {
            if let Some(d) = t.delivery.get_mut(id)
                && d.dead_at.is_some()
                && !d.delivered
            {
                d.dead_at = None;
                d.attempts = 0;
                d.next_attempt = Some(now);
                d.lease_until = None;
                revived += 1;
            }
        }
        Ok(revived)
    }
}
