//! Outbox delivery: claims with `FOR UPDATE SKIP LOCKED` and leases, outcomes, dead letters
//! (migration 3). Each call is one statement.

use alur_core::store::{ClaimedMessage, DeadMessage, OutboxMessage, OutboxOutcome, StoreError};
use jiff::Timestamp;
use sqlx::postgres::PgRow;

use crate::{PostgresStore, as_limit, error, get, ns, to_u64, ts};

/// Lease the oldest pending message of each case that is due and not under a live lease.
const CLAIM: &str = "\
WITH c AS (
    SELECT o.tenant, o.id FROM outbox o
     WHERE o.tenant = $1 AND o.delivered_ns IS NULL AND o.dead_ns IS NULL
       AND (o.next_attempt_ns IS NULL OR o.next_attempt_ns <= $2)
       AND (o.lease_until_ns IS NULL OR o.lease_until_ns <= $2)
       AND NOT EXISTS (
           SELECT 1 FROM outbox p
            WHERE p.tenant = o.tenant AND p.case_id = o.case_id AND p.pos < o.pos
              AND p.delivered_ns IS NULL AND p.dead_ns IS NULL)
     ORDER BY o.pos
     LIMIT $5
     FOR UPDATE OF o SKIP LOCKED)
UPDATE outbox SET lease_owner = $3, lease_until_ns = $4
  FROM c
 WHERE outbox.tenant = c.tenant AND outbox.id = c.id
RETURNING outbox.pos, outbox.id, outbox.case_id, outbox.seq, outbox.template, outbox.recipient,
          outbox.created_ns, outbox.attempts";

/// Delivered ids ($3), failures as parallel arrays ($4 ids, $5 errors, $6 retry times, NULL
/// parks the message as dead).
const SETTLE: &str = "\
WITH d AS (
    UPDATE outbox SET delivered_ns = $2, lease_owner = NULL, lease_until_ns = NULL
     WHERE tenant = $1 AND id = ANY($3::text[]) AND delivered_ns IS NULL
    RETURNING 1),
f AS (
    UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.err, next_attempt_ns = f.next,
           dead_ns = CASE WHEN f.next IS NULL THEN $2 END, lease_owner = NULL, lease_until_ns = NULL
      FROM unnest($4::text[], $5::text[], $6::bigint[]) AS f(id, err, next)
     WHERE o.tenant = $1 AND o.id = f.id AND o.delivered_ns IS NULL
    RETURNING 1)
SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM f)";

const DEAD: &str = "\
SELECT id, case_id, seq, template, recipient, created_ns, attempts, last_error, dead_ns
  FROM outbox WHERE tenant = $1 AND dead_ns IS NOT NULL ORDER BY pos LIMIT $2";

const RETRY_DEAD: &str = "\
UPDATE outbox SET dead_ns = NULL, attempts = 0, next_attempt_ns = $3, last_error = NULL,
       lease_owner = NULL, lease_until_ns = NULL
 WHERE tenant = $1 AND id = ANY($2::text[]) AND dead_ns IS NOT NULL AND delivered_ns IS NULL";

fn message(tenant: &str, r: &PgRow, at: usize) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: get(r, at)?,
        tenant: tenant.to_owned(),
        case_id: get(r, at + 1)?,
        seq: to_u64(get(r, at + 2)?)?,
        template: get(r, at + 3)?,
        recipient: get(r, at + 4)?,
        created_at: ts(get(r, at + 5)?)?,
    })
}

/// Outcomes as the parallel arrays the statements take.
struct Columns<'a> {
    delivered: Vec<&'a str>,
    ids: Vec<&'a str>,
    errors: Vec<&'a str>,
    next: Vec<Option<i64>>,
}

fn columns(outcomes: &[(String, OutboxOutcome)]) -> Result<Columns<'_>, StoreError> {
    let mut c = Columns {
        delivered: Vec::new(),
        ids: Vec::new(),
        errors: Vec::new(),
        next: Vec::new(),
    };
    for (id, o) in outcomes {
        match o {
            OutboxOutcome::Delivered => c.delivered.push(id),
            OutboxOutcome::Retry { at, error } => {
                c.ids.push(id);
                c.errors.push(error);
                c.next.push(Some(ns(*at)?));
            }
            OutboxOutcome::Dead { error } => {
                c.ids.push(id);
                c.errors.push(error);
                c.next.push(None);
            }
        }
    }
    Ok(c)
}

fn claimed(tenant: &str, rows: &[PgRow]) -> Result<Vec<ClaimedMessage>, StoreError> {
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

fn attempts(v: i32) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(0)
}

impl PostgresStore {
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
        let rows = sqlx::query(CLAIM)
            .bind(tenant)
            .bind(ns(now)?)
            .bind(owner)
            .bind(ns(lease_until)?)
            .bind(as_limit(limit))
            .fetch_all(self.pool())
            .await
            .map_err(error::map)?;
        claimed(tenant, &rows)
    }

    /// `SETTLE` then `CLAIM` in one transaction (one commit). Not one statement: parts of one
    /// statement share a snapshot, and a settling `UPDATE` there can wait on a row a concurrent
    /// claim locked while that claim's own statement waits in turn — chains of lock waits that
    /// stalled four dispatchers in the chaos test. Here a claim never waits (`SKIP LOCKED`), so a
    /// settle waits at most for one claim to commit.
    pub(crate) async fn outbox_settle_and_claim(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let Columns {
            delivered,
            ids,
            errors,
            next,
        } = columns(outcomes)?;
        let mut tx = self.pool().begin().await.map_err(error::map)?;
        sqlx::query(SETTLE)
            .bind(tenant)
            .bind(ns(now)?)
            .bind(&delivered)
            .bind(&ids)
            .bind(&errors)
            .bind(&next)
            .execute(&mut *tx)
            .await
            .map_err(error::map)?;
        let rows = sqlx::query(CLAIM)
            .bind(tenant)
            .bind(ns(now)?)
            .bind(owner)
            .bind(ns(lease_until)?)
            .bind(as_limit(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(error::map)?;
        tx.commit().await.map_err(error::map)?;
        claimed(tenant, &rows)
    }

    pub(crate) async fn outbox_settle(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let Columns {
            delivered,
            ids,
            errors,
            next,
        } = columns(outcomes)?;
        sqlx::query(SETTLE)
            .bind(tenant)
            .bind(ns(now)?)
            .bind(&delivered)
            .bind(&ids)
            .bind(&errors)
            .bind(&next)
            .execute(self.pool())
            .await
            .map_err(error::map)?;
        Ok(())
    }

    pub(crate) async fn outbox_dead(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<DeadMessage>, StoreError> {
        let rows = sqlx::query(DEAD)
            .bind(tenant)
            .bind(as_limit(limit))
            .fetch_all(self.pool())
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| {
                Ok(DeadMessage {
                    message: message(tenant, r, 0)?,
                    attempts: attempts(get(r, 6)?),
                    last_error: get::<Option<String>>(r, 7)?.unwrap_or_default(),
                    dead_at: ts(get(r, 8)?)?,
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
        let done = sqlx::query(RETRY_DEAD)
            .bind(tenant)
            .bind(ids)
            .bind(ns(now)?)
            .execute(self.pool())
            .await
            .map_err(error::map)?;
        Ok(done.rows_affected())
    }
}
