//! Outbox delivery: claims with leases, outcomes, dead letters (migration 3).
//!
//! Every write is one script run by the writer task in its own `BEGIN IMMEDIATE` transaction:
//! a claim is one `UPDATE … RETURNING`, settling a whole batch is at most two `UPDATE`s fed by
//! JSON arrays, and a dispatcher settles one batch and claims the next in one script: a batch of
//! any size costs one round trip.

use std::sync::Arc;

use alur_core::store::{ClaimedMessage, DeadMessage, OutboxMessage, OutboxOutcome, StoreError};
use jiff::Timestamp;
use sqlx::sqlite::SqliteRow;

use crate::codec::{Param, parse_ts, ts};
use crate::error::{invalid, map};
use crate::{SqliteStore, get, limit_param, unsigned};

// The statements are macros so that combined scripts can be built with `concat!`.

/// Lease the oldest pending message of each case that is due and not under a live lease.
macro_rules! claim_sql {
    () => {
        "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE pos IN (\
SELECT o.pos FROM outbox o WHERE o.tenant = ? AND o.delivered_at IS NULL AND o.dead_at IS NULL \
AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) AND (o.lease_until IS NULL OR o.lease_until <= ?) \
AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant = o.tenant AND p.case_id = o.case_id AND p.pos < o.pos \
AND p.delivered_at IS NULL AND p.dead_at IS NULL) ORDER BY o.pos LIMIT ?) \
RETURNING pos, id, case_id, seq, template, recipient, created_at, attempts;
"
    };
}

/// Mark delivered: the ids as a JSON array of strings.
macro_rules! delivered_sql {
    () => {
        "UPDATE outbox SET delivered_at = ?, lease_owner = NULL, lease_until = NULL \
WHERE tenant = ? AND delivered_at IS NULL AND id IN (SELECT value FROM json_each(?));
"
    };
}

/// Record failures: a JSON array of `[id, error, retry_at or null]` (null parks the message as
/// dead). Rows are found through the `(tenant, id)` index; the values come from correlated
/// subqueries over the (small) array. An `UPDATE … FROM json_each(…)` is avoided: SQLite plans
/// it as a scan of every pending row.
macro_rules! failed_sql {
    () => {
        "UPDATE outbox SET attempts = attempts + 1, \
last_error = (SELECT f.value ->> 1 FROM json_each(?) AS f WHERE f.value ->> 0 = outbox.id), \
next_attempt_at = (SELECT f.value ->> 2 FROM json_each(?) AS f WHERE f.value ->> 0 = outbox.id), \
dead_at = CASE WHEN (SELECT f.value ->> 2 FROM json_each(?) AS f WHERE f.value ->> 0 = outbox.id) IS NULL THEN ? END, \
lease_owner = NULL, lease_until = NULL \
WHERE tenant = ? AND delivered_at IS NULL AND id IN (SELECT f.value ->> 0 FROM json_each(?) AS f);
"
    };
}

const CLAIM: &str = claim_sql!();
const DELIVERED: &str = delivered_sql!();
const FAILED: &str = failed_sql!();
const SETTLE: &str = concat!(delivered_sql!(), failed_sql!());
// Settling a batch and claiming the next in one transaction (the claim sees the settlement).
const DELIVERED_CLAIM: &str = concat!(delivered_sql!(), claim_sql!());
const FAILED_CLAIM: &str = concat!(failed_sql!(), claim_sql!());
const SETTLE_CLAIM: &str = concat!(delivered_sql!(), failed_sql!(), claim_sql!());

const RETRY_DEAD: &str = "\
UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = ?, last_error = NULL, \
lease_owner = NULL, lease_until = NULL \
WHERE tenant = ? AND dead_at IS NOT NULL AND delivered_at IS NULL AND id IN (SELECT value FROM json_each(?)) \
RETURNING id;
";

fn text(s: &str) -> Param {
    Param::Text(Arc::from(s))
}

fn message(tenant: &str, r: &SqliteRow, at: usize) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: get(r, at)?,
        tenant: tenant.to_owned(),
        case_id: get(r, at + 1)?,
        seq: unsigned(get(r, at + 2)?, "outbox sequence number")?,
        template: get(r, at + 3)?,
        recipient: get(r, at + 4)?,
        created_at: parse_ts(&get::<String>(r, at + 5)?)?,
    })
}

fn attempts(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// The parameters of the claim statement.
fn claim_params(
    p: &mut Vec<Param>,
    tenant: &str,
    now: &Param,
    owner: &str,
    lease_until: Timestamp,
    limit: usize,
) -> Result<(), StoreError> {
    p.extend([
        text(owner),
        text(&ts(lease_until)?),
        text(tenant),
        now.clone(),
        now.clone(),
        Param::Int(limit_param(limit)),
    ]);
    Ok(())
}

/// Which settling statements `outcomes` need, with their parameters pushed onto `p`:
/// (delivered?, failed?).
fn settle_params(
    p: &mut Vec<Param>,
    tenant: &str,
    now: &Param,
    outcomes: &[(String, OutboxOutcome)],
) -> Result<(bool, bool), StoreError> {
    let mut delivered = Vec::new();
    let mut failed = Vec::new();
    for (id, o) in outcomes {
        match o {
            OutboxOutcome::Delivered => delivered.push(id.as_str()),
            OutboxOutcome::Retry { at, error } => {
                failed.push((id.as_str(), error.as_str(), Some(ts(*at)?)));
            }
            OutboxOutcome::Dead { error } => failed.push((id.as_str(), error.as_str(), None)),
        }
    }
    if !delivered.is_empty() {
        p.extend([
            now.clone(),
            text(tenant),
            Param::Text(to_json(&delivered)?.into()),
        ]);
    }
    if !failed.is_empty() {
        let json = Param::Text(to_json(&failed)?.into());
        p.extend([
            json.clone(),
            json.clone(),
            json.clone(),
            now.clone(),
            text(tenant),
            json,
        ]);
    }
    Ok((!delivered.is_empty(), !failed.is_empty()))
}

fn claimed(tenant: &str, rows: &[SqliteRow]) -> Result<Vec<ClaimedMessage>, StoreError> {
    let mut out = rows
        .iter()
        .map(|r| {
            Ok((
                get::<i64>(r, 0)?,
                ClaimedMessage {
                    message: message(tenant, r, 1)?,
                    attempts: attempts(get(r, 7)?),
                },
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING gives no order guarantee.
    out.sort_by_key(|(pos, _)| *pos);
    Ok(out.into_iter().map(|(_, c)| c).collect())
}

impl SqliteStore {
    pub(crate) async fn outbox_claim(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut params = Vec::new();
        claim_params(
            &mut params,
            tenant,
            &text(&ts(now)?),
            owner,
            lease_until,
            limit,
        )?;
        let rows = self.script(CLAIM, params).await?;
        claimed(tenant, &rows)
    }

    pub(crate) async fn outbox_settle(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
    ) -> Result<(), StoreError> {
        let mut params = Vec::new();
        let sql = match settle_params(&mut params, tenant, &text(&ts(now)?), outcomes)? {
            (false, false) => return Ok(()),
            (true, false) => DELIVERED,
            (false, true) => FAILED,
            (true, true) => SETTLE,
        };
        self.script(sql, params).await.map(|_| ())
    }

    /// Settle and claim in one transaction, one round trip.
    pub(crate) async fn outbox_settle_and_claim(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        if limit == 0 {
            self.outbox_settle(tenant, now, outcomes).await?;
            return Ok(Vec::new());
        }
        let now = text(&ts(now)?);
        let mut params = Vec::new();
        let sql = match settle_params(&mut params, tenant, &now, outcomes)? {
            (false, false) => CLAIM,
            (true, false) => DELIVERED_CLAIM,
            (false, true) => FAILED_CLAIM,
            (true, true) => SETTLE_CLAIM,
        };
        claim_params(&mut params, tenant, &now, owner, lease_until, limit)?;
        let rows = self.script(sql, params).await?;
        claimed(tenant, &rows)
    }

    pub(crate) async fn outbox_dead(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<DeadMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, seq, template, recipient, created_at, attempts, last_error, dead_at \
             FROM outbox WHERE tenant = ? AND dead_at IS NOT NULL ORDER BY pos LIMIT ?",
        )
        .bind(tenant)
        .bind(limit_param(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| {
                Ok(DeadMessage {
                    message: message(tenant, r, 0)?,
                    attempts: attempts(get(r, 6)?),
                    last_error: get::<Option<String>>(r, 7)?.unwrap_or_default(),
                    dead_at: parse_ts(&get::<String>(r, 8)?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn outbox_retry_dead(
        &self,
        tenant: &str,
        ids: &[String],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let params = vec![
            text(&ts(now)?),
            text(tenant),
            Param::Text(to_json(ids)?.into()),
        ];
        let rows = self.script(RETRY_DEAD, params).await?;
        Ok(rows.len() as u64)
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| invalid(format!("outbox arguments do not serialize: {e}")))
}
