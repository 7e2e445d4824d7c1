//! The tenant's configuration chain: who may do what, under which definitions and calendars.
//!
//! Case chains record what officers did; this chain records the rules they did it under. Each
//! tenant has one chain with the reserved id [`CONFIG_CHAIN`], hashed exactly like a case chain
//! and sequenced into the same tenant Merkle log, so a back-dated grant or a silently changed
//! definition is as visible to an auditor as a changed case entry.
//!
//! The chain is its own state: folding its entries gives the configuration last recorded
//! ([`ConfigState::from_entries`]); comparing that with the configuration an engine starts with
//! (or a calendar amendment puts in force) gives the entries to append ([`ConfigState::diff`]).
//! Recording is therefore idempotent, safe to repeat after a crash, and safe when several
//! processes start at once (the store refuses an entry that does not continue the chain).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, GENESIS};
use crate::engine::{ActorRecord, EventKind};
use crate::model::{Config, MandateKind};

/// The reserved chain id (and service id) of configuration entries. Case ids never start with `@`.
pub const CONFIG_CHAIN: &str = "@config";

/// Whether `id` is reserved for chains that belong to no case.
pub fn is_reserved_id(id: &str) -> bool {
    id.starts_with('@')
}

/// What a grant gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// A post held (role at a unit).
    Post,
    /// A Plh. mandate (stands in for a temporarily absent official).
    Plh,
    /// A Plt. mandate (fills a vacant post).
    Plt,
}

impl From<MandateKind> for GrantKind {
    fn from(k: MandateKind) -> Self {
        match k {
            MandateKind::Plh => Self::Plh,
            MandateKind::Plt => Self::Plt,
        }
    }
}

/// A post or mandate as recorded. Field order is part of the canonical audit encoding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// Officer id (the actor pseudonym in case entries; never a name or NIK).
    pub officer: String,
    /// Post or mandate.
    pub kind: GrantKind,
    /// Role.
    pub role: String,
    /// Unit code.
    pub unit: String,
    /// Official acted for (mandates with a principal).
    pub principal: Option<String>,
    /// First day (mandates; local date, inclusive).
    pub from: Option<Date>,
    /// Last day (mandates; local date, inclusive).
    pub until: Option<Date>,
    /// Decree reference (mandates).
    pub reference: Option<String>,
}

/// Every post and mandate of a configuration.
pub fn grants(config: &Config) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for o in config.officers.values() {
        for p in &o.posts {
            out.insert(Grant {
                officer: o.id.clone(),
                kind: GrantKind::Post,
                role: p.role.clone(),
                unit: p.unit.clone(),
                principal: None,
                from: None,
                until: None,
                reference: None,
            });
        }
    }
    for m in &config.mandates {
        out.insert(Grant {
            officer: m.holder.clone(),
            kind: m.kind.into(),
            role: m.role.clone(),
            unit: m.unit.clone(),
            principal: m.principal.clone(),
            from: Some(m.from),
            until: Some(m.until),
            reference: Some(m.reference.clone()),
        });
    }
    out
}

/// A configuration as the chain records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigState {
    /// Service id → (version, digest) in use.
    pub definitions: BTreeMap<String, (u32, String)>,
    /// Calendar in force: `None` for the tenant default, else the override's unit → version label.
    pub calendars: BTreeMap<Option<String>, String>,
    /// Posts and mandates.
    pub grants: BTreeSet<Grant>,
}

impl ConfigState {
    /// The state the chain's entries leave (entries that are not configuration are ignored).
    pub fn from_entries(entries: &[AuditEntry]) -> Self {
        let mut s = Self::default();
        for e in entries {
            match &e.event {
                EventKind::DefinitionRegistered {
                    service,
                    version,
                    digest,
                } => {
                    s.definitions
                        .insert(service.clone(), (*version, digest.clone()));
                }
                EventKind::CalendarInForce { unit, calendar, .. } => {
                    s.calendars.insert(unit.clone(), calendar.clone());
                }
                EventKind::GrantAdded { grant } => {
                    s.grants.insert(grant.clone());
                }
                EventKind::GrantRevoked { grant } => {
                    s.grants.remove(grant);
                }
                _ => {}
            }
        }
        s
    }

    /// The events that take this state to `desired`: definitions first, then calendars,
    /// revocations, grants; each group in key order (deterministic).
    pub fn diff(&self, desired: &ConfigState) -> Vec<EventKind> {
        let mut out = Vec::new();
        for (service, (version, digest)) in &desired.definitions {
            if self.definitions.get(service) != Some(&(*version, digest.clone())) {
                out.push(EventKind::DefinitionRegistered {
                    service: service.clone(),
                    version: *version,
                    digest: digest.clone(),
                });
            }
        }
        for (unit, calendar) in &desired.calendars {
            let previous = self.calendars.get(unit);
            if previous != Some(calendar) {
                out.push(EventKind::CalendarInForce {
                    unit: unit.clone(),
                    previous: previous.cloned(),
                    calendar: calendar.clone(),
                });
            }
        }
        for g in self.grants.difference(&desired.grants) {
            out.push(EventKind::GrantRevoked { grant: g.clone() });
        }
        for g in desired.grants.difference(&self.grants) {
            out.push(EventKind::GrantAdded { grant: g.clone() });
        }
        out
    }
}

/// Hash `events` into entries continuing the configuration chain after `head` (`(seq, hash)` of
/// its last entry; `None` for an empty chain).
pub fn chain_entries(
    tenant: &str,
    head: Option<(u64, String)>,
    events: Vec<EventKind>,
    at: Timestamp,
) -> Vec<AuditEntry> {
    let (mut seq, mut prev) = head.unwrap_or_else(|| (0, GENESIS.to_owned()));
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let calendar_version = match &event {
            EventKind::CalendarInForce { calendar, .. } => Some(calendar.clone()),
            _ => None,
        };
        let legal_basis = match &event {
            EventKind::GrantAdded { grant } | EventKind::GrantRevoked { grant } => {
                grant.reference.clone()
            }
            _ => None,
        };
        let mut e = AuditEntry {
            tenant: tenant.to_owned(),
            case_id: CONFIG_CHAIN.to_owned(),
            seq,
            service: CONFIG_CHAIN.to_owned(),
            definition_version: 0,
            calendar_version,
            event,
            actor: ActorRecord {
                kind: "system".into(),
                id: "config".into(),
                ..ActorRecord::default()
            },
            legal_basis,
            at,
            due: None,
            payload_digest: None,
            prev_hash: prev,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        prev = e.hash.clone();
        out.push(e);
    }
    out
}

/// Check that `entries` are one well-formed run of a reserved chain (for stores, before writing):
/// non-empty, one tenant, one reserved chain id, contiguous `seq`, each `prev_hash` the previous
/// entry's hash, and every hash correct.
pub fn check_run(tenant: &str, entries: &[AuditEntry]) -> Result<(), String> {
    let first = entries.first().ok_or("no entries to append")?;
    if !is_reserved_id(&first.case_id) {
        return Err(format!(
            "`{}` is a case id; only chains whose id starts with `@` take entries without a case",
            first.case_id
        ));
    }
    for (i, e) in entries.iter().enumerate() {
        if e.tenant != tenant || e.case_id != first.case_id {
            return Err(format!("entry {i} belongs to another tenant or chain"));
        }
        if e.hash != e.compute_hash() {
            return Err(format!("entry {} has a wrong hash", e.seq));
        }
        if i > 0 {
            let p = &entries[i - 1];
            if e.seq != p.seq + 1 || e.prev_hash != p.hash {
                return Err(format!("entry {} does not follow entry {}", e.seq, p.seq));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(officer: &str) -> Grant {
        Grant {
            officer: officer.into(),
            kind: GrantKind::Post,
            role: "lurah".into(),
            unit: "21.71.10.1001".into(),
            principal: None,
            from: None,
            until: None,
            reference: None,
        }
    }

    fn at() -> Timestamp {
        "2026-03-02T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn diff_then_fold_reaches_the_desired_state() {
        let mut desired = ConfigState::default();
        desired
            .definitions
            .insert("domisili".into(), (1, "ab".into()));
        desired.calendars.insert(None, "1@cd".into());
        desired.grants.insert(grant("a"));
        let first = chain_entries("kepri", None, ConfigState::default().diff(&desired), at());
        assert_eq!(first.len(), 3);
        assert!(check_run("kepri", &first).is_ok());
        assert_eq!(ConfigState::from_entries(&first), desired);
        assert!(ConfigState::from_entries(&first).diff(&desired).is_empty());

        // Officer a leaves, b arrives, the definition changes.
        let mut next = desired.clone();
        next.grants = [grant("b")].into();
        next.definitions.insert("domisili".into(), (2, "ef".into()));
        let state = ConfigState::from_entries(&first);
        let events = state.diff(&next);
        assert!(matches!(
            events[0],
            EventKind::DefinitionRegistered { version: 2, .. }
        ));
        assert!(matches!(&events[1], EventKind::GrantRevoked { grant } if grant.officer == "a"));
        assert!(matches!(&events[2], EventKind::GrantAdded { grant } if grant.officer == "b"));
        let head = first.last().map(|e| (e.seq, e.hash.clone()));
        let second = chain_entries("kepri", head, events, at());
        assert_eq!(second[0].seq, 4);
        assert_eq!(second[0].prev_hash, first[2].hash);
        let all: Vec<_> = first.iter().chain(&second).cloned().collect();
        assert!(crate::audit::verify_chain(&all).is_ok());
        assert_eq!(ConfigState::from_entries(&all), next);
    }

    #[test]
    fn runs_must_be_reserved_and_linked() {
        let desired = ConfigState {
            grants: [grant("a"), grant("b")].into(),
            ..ConfigState::default()
        };
        let run = chain_entries("kepri", None, ConfigState::default().diff(&desired), at());
        assert!(check_run("other", &run).is_err());
        assert!(
            check_run("kepri", &run[1..]).is_ok(),
            "a run may start mid-chain"
        );
        let mut broken = run.clone();
        broken[1].prev_hash = GENESIS.into();
        assert!(check_run("kepri", &broken).is_err());
        let mut case = run;
        for e in &mut case {
            e.case_id = "c-1".into();
            e.hash = e.compute_hash();
        }
        assert!(check_run("kepri", &case).unwrap_err().contains("case id"));
        assert!(check_run("kepri", &[]).is_err());
    }
}
