//! The fact tables on PostgreSQL, through the store's pool.
//!
//! `audit_entries.pos` is an identity assigned when a row is inserted, before its transaction
//! commits, so a row with a smaller `pos` can become visible after one with a larger. A refresh
//! therefore re-reads [`REREAD`] positions below the watermark and skips every case whose stored
//! `last_seq` already covers what it sees; a case whose late entry still slipped through is
//! caught whole by its next entry (every refresh re-derives a case from its full chain).
//!
//! Reports read the month summary (`kpi_summary`, see the `summary` module): the figures of
//! the period's months per (unit, service, complaint tier) with every lead-time sample as an
//! array, about 6,000 rows a month for a province, plus the backlog at the period's end from
//! two small index ranges (cases still open, cases closed later). A refresh marks the months
//! its rewritten cases change, in the same transaction as the case rows, and recomputes them
//! before it returns; while the summary is not up to date for a report's months (never built,
//! built in another zone, a month still marked) the report reads the case rows instead
//! ([`PgKpi::report_from_cases`]), which gives the same report.
//!
//! The case-row report sums in SQL per (unit, service, complaint tier) in one pass and hands
//! over lead-time samples and the backlog's submission instants as arrays. The pass is split
//! into disjoint slices aggregated at the same time on separate connections (PostgreSQL before
//! 16 cannot run `array_agg` in parallel workers).

use std::collections::{BTreeSet, HashMap};

use futures_util::TryStreamExt;
use jiff::tz::TimeZone;
use sqlx::{PgPool, Row};

use crate::KpiError;
use crate::facts::{KpiContext, RawEntry, TIER_FIELD, derive};
use crate::period::month_key;
use crate::refresh::{Batch, Progress, RefreshStats};
use crate::report::{Builder, Partial, Query, Report, StepRef, TrendPoint};
use crate::skm::SkmTally;
use crate::sqlite::{service_of, unit_range};
use crate::summary::{
    RECOMPUTE, SUM_COLUMNS, SumFact, dirty_months, month_bounds, next_month, zone_id,
};

/// The report's query, its period bounds, unit range, service and backlog instant.
type SliceParams<'a> = (&'a Query, i64, i64, &'a str, &'a str, &'a str, i64);

/// A summary group: unit, service, complaint tier.
type GroupKey = (String, String, Option<String>);

/// Positions below the watermark read again by each refresh.
pub const REREAD: i64 = 10_000;
const CHUNK: usize = 2_000;
const STREAM_ABOVE: usize = 20_000;
/// Disjoint slices of the report's scan, aggregated side by side on as many connections.
const SLICES: usize = 2;
/// Memory for the report's hash aggregates (per slice), so they never spill to disk.
const WORK_MEM: &str = "64MB";

fn db(e: sqlx::Error) -> KpiError {
    KpiError::Database(e.to_string())
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn ts(ns: i64) -> Result<jiff::Timestamp, KpiError> {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map_err(|e| KpiError::Database(format!("stored instant {ns}: {e}")))
}

/// KPI facts in a PostgreSQL store's database.
#[derive(Debug, Clone)]
pub struct PgKpi {
    pool: PgPool,
}

impl PgKpi {
    /// On the store's pool (`PostgresStore::pool`); the store's migrations created the tables.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The fact tables exist; returns whether the month summary (migration 6) does too.
    async fn check(&self) -> Result<bool, KpiError> {
        let (has, summary): (bool, bool) = sqlx::query_as(
            "SELECT to_regclass('kpi_cases') IS NOT NULL, to_regclass('kpi_summary') IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        if has {
            Ok(summary)
        } else {
            Err(KpiError::NotMigrated)
        }
    }

    /// Bring the facts up to date (see the module docs).
    ///
    /// # Errors
    /// [`KpiError::NotMigrated`] or [`KpiError::Database`].
    pub async fn refresh(&self, tenant: &str, ctx: &KpiContext) -> Result<RefreshStats, KpiError> {
        let summary = self.check().await?;
        let stats = self.refresh_facts(tenant, ctx, summary).await?;
        if summary {
            self.summarize(tenant, ctx, false).await?;
        }
        Ok(stats)
    }

    async fn refresh_facts(
        &self,
        tenant: &str,
        ctx: &KpiContext,
        summary: bool,
    ) -> Result<RefreshStats, KpiError> {
        let tz = ctx.time_zone();
        let summary = summary.then_some(tz);
        let watermark: i64 =
            sqlx::query_scalar("SELECT watermark FROM kpi_state WHERE tenant = $1")
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .unwrap_or(0);
        let high: i64 =
            sqlx::query_scalar("SELECT coalesce(max(pos), 0) FROM audit_entries WHERE tenant = $1")
                .bind(tenant)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        let mut stats = RefreshStats {
            watermark,
            ..RefreshStats::default()
        };
        if high <= watermark {
            return Ok(stats);
        }
        let from = if watermark > 0 {
            (watermark - REREAD).max(0)
        } else {
            0
        };
        let rows = sqlx::query(
            "SELECT case_id, max(seq) FROM audit_entries WHERE tenant = $1 AND pos > $2 \
             AND pos <= $3 GROUP BY case_id",
        )
        .bind(tenant)
        .bind(from)
        .bind(high)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut touched: HashMap<String, u64> = HashMap::new();
        for r in rows {
            let id: String = r.try_get(0).map_err(db)?;
            if !id.starts_with('@') {
                touched.insert(id, u(r.try_get(1).map_err(db)?));
            }
        }
        // Progress of the touched cases.
        let ids: Vec<String> = touched.keys().cloned().collect();
        let mut progress: HashMap<String, Progress> = HashMap::new();
        for chunk in ids.chunks(10_000) {
            let rows = sqlx::query(
                "SELECT case_id, last_seq, steps_done, ratings_done, tier FROM kpi_cases \
                 WHERE tenant = $1 AND case_id = ANY($2)",
            )
            .bind(tenant)
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            for r in rows {
                progress.insert(
                    r.try_get(0).map_err(db)?,
                    Progress {
                        last_seq: u(r.try_get(1).map_err(db)?),
                        steps_done: u(r.try_get(2).map_err(db)?),
                        ratings_done: u(r.try_get(3).map_err(db)?),
                        tier: r.try_get(4).map_err(db)?,
                    },
                );
            }
        }
        touched.retain(|id, seq| progress.get(id).is_none_or(|p| p.last_seq < *seq));
        let complaint_services: Vec<&str> = ctx
            .services
            .iter()
            .filter(|(_, i)| i.complaint)
            .map(|(k, _)| k.as_str())
            .collect();
        let mut batch = Batch::default();
        let entry_sql = "SELECT case_id, seq, at_ns, event::text, actor::text, due::text \
                         FROM audit_entries WHERE tenant = $1";
        let mut groups: Vec<(String, Vec<RawEntry>)> = Vec::new();
        let flush_groups = |groups: &mut Vec<(String, Vec<RawEntry>)>,
                            batch: &mut Batch,
                            tiers: &HashMap<String, String>| {
            for (id, entries) in groups.drain(..) {
                let service = service_of(&entries).unwrap_or_default();
                let tier = if complaint_services.contains(&service.as_str()) {
                    tiers
                        .get(&id)
                        .cloned()
                        .or_else(|| progress.get(&id).and_then(|p| p.tier.clone()))
                } else {
                    None
                };
                if let Some(d) = derive(&id, &entries, tier.as_deref(), ctx) {
                    batch.add(d, progress.get(&id));
                }
            }
        };
        let tiers = self.tiers(tenant, &complaint_services).await?;
        if touched.len() > STREAM_ABOVE {
            let sql = format!("{entry_sql} ORDER BY case_id, seq");
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(tenant)
                .fetch(&self.pool);
            let mut current: Option<(String, Vec<RawEntry>)> = None;
            while let Some(r) = rows.try_next().await.map_err(db)? {
                let id: &str = r.try_get(0).map_err(db)?;
                if current.as_ref().is_none_or(|c| c.0 != id) {
                    if let Some(c) = current.take() {
                        groups.push(c);
                        if groups.len() >= CHUNK {
                            flush_groups(&mut groups, &mut batch, &tiers);
                            self.write(tenant, std::mem::take(&mut batch), summary)
                                .await?;
                        }
                    }
                    if touched.contains_key(id) {
                        stats.cases += 1;
                        current = Some((id.to_owned(), Vec::new()));
                    }
                }
                if let Some(c) = current.as_mut() {
                    stats.entries += 1;
                    c.1.push(raw(&r)?);
                }
            }
            if let Some(c) = current.take() {
                groups.push(c);
            }
        } else {
            let mut ids: Vec<String> = touched.into_keys().collect();
            ids.sort();
            for chunk in ids.chunks(CHUNK) {
                let sql = format!("{entry_sql} AND case_id = ANY($2) ORDER BY case_id, seq");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(tenant)
                    .bind(chunk)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                for r in &rows {
                    let id: &str = r.try_get(0).map_err(db)?;
                    if groups.last().is_none_or(|g| g.0 != id) {
                        stats.cases += 1;
                        groups.push((id.to_owned(), Vec::new()));
                    }
                    if let Some(g) = groups.last_mut() {
                        stats.entries += 1;
                        g.1.push(raw(r)?);
                    }
                }
                flush_groups(&mut groups, &mut batch, &tiers);
                self.write(tenant, std::mem::take(&mut batch), summary)
                    .await?;
            }
        }
        flush_groups(&mut groups, &mut batch, &tiers);
        self.write(tenant, batch, summary).await?;
        sqlx::query(
            "INSERT INTO kpi_state (tenant, watermark, refreshed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant) DO UPDATE SET watermark = excluded.watermark, \
             refreshed_at = excluded.refreshed_at",
        )
        .bind(tenant)
        .bind(high)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        stats.watermark = high;
        Ok(stats)
    }

    /// The complaint classification of every complaint case that has one (latest entry wins).
    async fn tiers(
        &self,
        tenant: &str,
        services: &[&str],
    ) -> Result<HashMap<String, String>, KpiError> {
        if services.is_empty() {
            return Ok(HashMap::new());
        }
        let services: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
        let rows = sqlx::query(
            "SELECT DISTINCT ON (p.case_id) p.case_id, p.body -> 'fields' ->> $3 \
             FROM payloads p JOIN cases c ON c.tenant = p.tenant AND c.id = p.case_id \
             WHERE p.tenant = $1 AND c.service = ANY($2) AND p.body -> 'fields' ->> $3 IS NOT NULL \
             ORDER BY p.case_id, p.seq DESC",
        )
        .bind(tenant)
        .bind(&services)
        .bind(TIER_FIELD)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
            .collect()
    }

    /// Write a batch in one transaction; with the summary's zone, also mark the months whose
    /// summary rows the rewritten cases change (their rows before are read and locked first, so
    /// a concurrent refresh of the same case compares against what this one wrote).
    async fn write(
        &self,
        tenant: &str,
        batch: Batch,
        summary: Option<&TimeZone>,
    ) -> Result<(), KpiError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        let dirty = match summary {
            Some(tz) => {
                let ids: Vec<&str> = batch.cases.iter().map(|c| c.0.case_id.as_str()).collect();
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT case_id, {SUM_COLUMNS} FROM kpi_cases WHERE tenant = $1 \
                     AND case_id = ANY($2) FOR UPDATE"
                )))
                .bind(tenant)
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                let mut old: HashMap<String, SumFact> = HashMap::with_capacity(rows.len());
                for r in &rows {
                    old.insert(r.try_get(0).map_err(db)?, sum_fact(r, 1)?);
                }
                dirty_months(
                    &old,
                    batch
                        .cases
                        .iter()
                        .map(|c| (c.0.case_id.as_str(), SumFact::of(&c.0))),
                    tz,
                )
            }
            None => BTreeSet::new(),
        };
        if !dirty.is_empty() {
            let months: Vec<i64> = dirty.into_iter().collect();
            sqlx::query(
                "INSERT INTO kpi_summary_dirty (tenant, month, version) \
                 SELECT $1, m, 1 FROM unnest($2::int8[]) AS m \
                 ON CONFLICT (tenant, month) DO UPDATE SET version = kpi_summary_dirty.version + 1",
            )
            .bind(tenant)
            .bind(&months)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let n = batch.cases.len();
        let mut c: [Vec<Option<i64>>; 17] = Default::default();
        let mut t: [Vec<Option<String>>; 5] = Default::default();
        for (f, steps, ratings) in &batch.cases {
            t[0].push(Some(f.case_id.clone()));
            t[1].push(Some(f.unit.clone()));
            t[2].push(Some(f.service.clone()));
            t[3].push(f.outcome.map(|o| o.as_str().to_owned()));
            t[4].push(f.tier.clone());
            let i = |v: u64| Some(i64::try_from(v).unwrap_or(i64::MAX));
            for (k, v) in [
                Some(f.submitted),
                Some(f.submitted_month),
                f.closed,
                f.closed_month,
                Some(i64::from(f.deemed)),
                f.due,
                f.on_time.map(i64::from),
                f.lead_min.map(i64::from),
                Some(i64::from(f.paused_min)),
                Some(i64::from(f.returns)),
                f.breached_at,
                f.step_breached_at,
                f.escalated_at,
                f.tier_on_time.map(i64::from),
                i(f.last_seq),
                i(*steps),
                i(*ratings),
            ]
            .into_iter()
            .enumerate()
            {
                c[k].push(v);
            }
        }
        debug_assert!(c.iter().all(|v| v.len() == n));
        sqlx::query(
            "INSERT INTO kpi_cases (tenant, case_id, unit, service, outcome, tier, submitted, \
             submitted_month, closed, closed_month, deemed, due, on_time, lead_min, paused_min, \
             returns, breached_at, step_breached_at, escalated_at, tier_on_time, last_seq, \
             steps_done, ratings_done) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], \
             $13::int8[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], \
             $19::int8[], $20::int8[], $21::int8[], $22::int8[], $23::int8[]) \
             ON CONFLICT (tenant, case_id) DO UPDATE SET unit = excluded.unit, \
             service = excluded.service, outcome = excluded.outcome, tier = excluded.tier, \
             submitted = excluded.submitted, submitted_month = excluded.submitted_month, \
             closed = excluded.closed, closed_month = excluded.closed_month, \
             deemed = excluded.deemed, due = excluded.due, on_time = excluded.on_time, \
             lead_min = excluded.lead_min, paused_min = excluded.paused_min, \
             returns = excluded.returns, breached_at = excluded.breached_at, \
             step_breached_at = excluded.step_breached_at, escalated_at = excluded.escalated_at, \
             tier_on_time = excluded.tier_on_time, last_seq = excluded.last_seq, \
             steps_done = excluded.steps_done, ratings_done = excluded.ratings_done",
        )
        .bind(tenant)
        .bind(&t[0])
        .bind(&t[1])
        .bind(&t[2])
        .bind(&t[3])
        .bind(&t[4])
        .bind(&c[0])
        .bind(&c[1])
        .bind(&c[2])
        .bind(&c[3])
        .bind(&c[4])
        .bind(&c[5])
        .bind(&c[6])
        .bind(&c[7])
        .bind(&c[8])
        .bind(&c[9])
        .bind(&c[10])
        .bind(&c[11])
        .bind(&c[12])
        .bind(&c[13])
        .bind(&c[14])
        .bind(&c[15])
        .bind(&c[16])
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if !batch.steps.is_empty() {
            let mut s: [Vec<String>; 4] = Default::default();
            let mut n: [Vec<i64>; 3] = Default::default();
            for ((unit, service, month, step, role), (v, m)) in &batch.steps {
                s[0].push(unit.clone());
                s[1].push(service.clone());
                s[2].push(step.clone());
                s[3].push(role.clone());
                n[0].push(*month);
                n[1].push(i64::try_from(*v).unwrap_or(i64::MAX));
                n[2].push(i64::try_from(*m).unwrap_or(i64::MAX));
            }
            sqlx::query(
                "INSERT INTO kpi_steps (tenant, unit, service, step, role, month, visits, minutes) \
                 SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::int8[], $7::int8[], $8::int8[]) \
                 ON CONFLICT (tenant, month, unit, service, step, role) DO UPDATE SET \
                 visits = kpi_steps.visits + excluded.visits, \
                 minutes = kpi_steps.minutes + excluded.minutes",
            )
            .bind(tenant)
            .bind(&s[0])
            .bind(&s[1])
            .bind(&s[2])
            .bind(&s[3])
            .bind(&n[0])
            .bind(&n[1])
            .bind(&n[2])
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        if !batch.skm.is_empty() {
            let mut s: [Vec<String>; 2] = Default::default();
            let mut n: [Vec<i64>; 11] = Default::default();
            for ((unit, service, month), t) in &batch.skm {
                s[0].push(unit.clone());
                s[1].push(service.clone());
                n[0].push(*month);
                n[1].push(i64::try_from(t.respondents).unwrap_or(i64::MAX));
                for (k, v) in t.sums.iter().enumerate() {
                    n[2 + k].push(i64::try_from(*v).unwrap_or(i64::MAX));
                }
            }
            let mut q = sqlx::query(
                "INSERT INTO kpi_skm (tenant, unit, service, month, n, u1, u2, u3, u4, u5, u6, \
                 u7, u8, u9) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int8[], \
                 $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], \
                 $11::int8[], $12::int8[], $13::int8[], $14::int8[]) \
                 ON CONFLICT (tenant, month, unit, service) DO UPDATE SET \
                 n = kpi_skm.n + excluded.n, u1 = kpi_skm.u1 + excluded.u1, \
                 u2 = kpi_skm.u2 + excluded.u2, u3 = kpi_skm.u3 + excluded.u3, \
                 u4 = kpi_skm.u4 + excluded.u4, u5 = kpi_skm.u5 + excluded.u5, \
                 u6 = kpi_skm.u6 + excluded.u6, u7 = kpi_skm.u7 + excluded.u7, \
                 u8 = kpi_skm.u8 + excluded.u8, u9 = kpi_skm.u9 + excluded.u9",
            )
            .bind(tenant)
            .bind(&s[0])
            .bind(&s[1]);
            for v in &n {
                q = q.bind(v);
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// Bring the month summary up to date: recompute the months marked by refreshes, or every
    /// month when the summary was never built for this tenant or was cut in another zone.
    /// [`PgKpi::refresh`] does this itself; returns the months recomputed.
    ///
    /// # Errors
    /// [`KpiError::NotMigrated`] or [`KpiError::Database`].
    pub async fn update_summary(&self, tenant: &str, ctx: &KpiContext) -> Result<u64, KpiError> {
        if !self.check().await? {
            return Err(KpiError::NotMigrated);
        }
        self.summarize(tenant, ctx, false).await
    }

    /// Rebuild the month summary from every case row (for facts written other than by
    /// [`PgKpi::refresh`], e.g. loaded in bulk); returns the months computed.
    ///
    /// # Errors
    /// [`KpiError::NotMigrated`] or [`KpiError::Database`].
    pub async fn rebuild_summary(&self, tenant: &str, ctx: &KpiContext) -> Result<u64, KpiError> {
        if !self.check().await? {
            return Err(KpiError::NotMigrated);
        }
        self.summarize(tenant, ctx, true).await
    }

    async fn summarize(
        &self,
        tenant: &str,
        ctx: &KpiContext,
        force: bool,
    ) -> Result<u64, KpiError> {
        let tz = ctx.time_zone();
        let zone = zone_id(tz);
        let mut tx = self.pool.begin().await.map_err(db)?;
        // One summariser per tenant at a time; refreshes keep marking meanwhile.
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('alur-kpi-summary:' || $1, 0)), \
             set_config('jit', 'off', true), set_config('work_mem', $2, true)",
        )
        .bind(tenant)
        .bind(WORK_MEM)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let built: Option<String> =
            sqlx::query_scalar("SELECT zone FROM kpi_summary_state WHERE tenant = $1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let marks: Vec<(i64, i64)> =
            sqlx::query_as("SELECT month, version FROM kpi_summary_dirty WHERE tenant = $1")
                .bind(tenant)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        let full = force || built.as_deref() != Some(zone.as_str());
        if !full && marks.is_empty() {
            return Ok(0);
        }
        let months: Vec<i64> = if full {
            sqlx::query("DELETE FROM kpi_summary WHERE tenant = $1")
                .bind(tenant)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let (first, last): (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT min(least(submitted, closed, breached_at, step_breached_at, escalated_at)), \
                 max(greatest(submitted, closed, breached_at, step_breached_at, escalated_at)) \
                 FROM kpi_cases WHERE tenant = $1",
            )
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let mut months = Vec::new();
            if let (Some(a), Some(b)) = (first, last) {
                let key = |s: i64| ts(s.saturating_mul(1_000_000_000)).map(|t| month_key(t, tz));
                let (mut m, last) = (key(a)?, key(b)?);
                while m <= last {
                    months.push(m);
                    m = next_month(m);
                }
            }
            months
        } else {
            marks.iter().map(|m| m.0).collect()
        };
        for &m in &months {
            if !full {
                sqlx::query("DELETE FROM kpi_summary WHERE tenant = $1 AND month = $2")
                    .bind(tenant)
                    .bind(m)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            let (a, b) = month_bounds(m, tz)?;
            sqlx::query(RECOMPUTE)
                .bind(tenant)
                .bind(a)
                .bind(b)
                .bind(m)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        // Only the marks seen: a refresh that marked a month again meanwhile is recomputed next.
        let (seen, versions): (Vec<i64>, Vec<i64>) = marks.into_iter().unzip();
        sqlx::query(
            "DELETE FROM kpi_summary_dirty WHERE tenant = $1 AND (month, version) IN \
             (SELECT * FROM unnest($2::int8[], $3::int8[]))",
        )
        .bind(tenant)
        .bind(&seen)
        .bind(&versions)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if full {
            sqlx::query(
                "INSERT INTO kpi_summary_state (tenant, zone, built_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant) DO UPDATE SET zone = excluded.zone, \
                 built_at = excluded.built_at",
            )
            .bind(tenant)
            .bind(&zone)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(months.len() as u64)
    }

    /// The report from the month summary, or `None` when the summary is not up to date for the
    /// months the report reads (never built, built in another zone, or a month still marked).
    /// One read-only snapshot: the summary, the backlog, step time, survey answers and trend.
    async fn report_from_summary(
        &self,
        ctx: &KpiContext,
        query: &Query,
    ) -> Result<Option<Report>, KpiError> {
        let mut b = Builder::new(ctx, query)?;
        let q = b.query().clone();
        let tz = ctx.time_zone();
        let at = b.backlog_at();
        let (lo, hi) = unit_range(&q.unit);
        let (m0, m1) = q.period.month_keys();
        let y = i64::from(q.period.year()) * 100;
        let (c0, c1) = if q.trend {
            (m0.min(y + 1), m1.max(y + 12))
        } else {
            (m0, m1)
        };
        let svc = q.service.clone().unwrap_or_default();
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let (zone, marked, last_closed): (Option<String>, bool, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT zone FROM kpi_summary_state WHERE tenant = $1), \
             EXISTS (SELECT 1 FROM kpi_summary_dirty WHERE tenant = $1 AND month BETWEEN $2 AND $3), \
             (SELECT max(closed_month) FROM kpi_cases WHERE tenant = $1), \
             set_config('jit', 'off', true), set_config('work_mem', $4, true)",
        )
        .bind(&q.tenant)
        .bind(c0)
        .bind(c1)
        .bind(WORK_MEM)
        .fetch_one(&mut *tx)
        .await
        .map(|(z, m, l, _, _): (Option<String>, bool, Option<i64>, String, String)| (z, m, l))
        .map_err(db)?;
        if marked || zone.as_deref() != Some(zone_id(tz).as_str()) {
            return Ok(None);
        }
        let complaint: BTreeSet<&str> = ctx
            .services
            .iter()
            .filter(|(_, i)| i.complaint)
            .map(|(k, _)| k.as_str())
            .collect();
        let unit_filter = "(unit = $4 OR (unit > $5 AND unit < $6)) AND ($7 = '' OR service = $7)";
        // The rows of the period's months whose cases the row-level filter keeps (see
        // `summary`), added up per (unit, service, tier) here.
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT unit, service, tier, received, closed, completed, rejected, withdrawn, deemed, \
             on_time, with_deadline, returns, reworked, breached, step_breached, escalated, \
             tier_in_time, lead FROM kpi_summary WHERE tenant = $1 AND month BETWEEN $2 AND $3 \
             AND lo >= $2 AND hi <= $3 AND {unit_filter}"
        )))
        .bind(&q.tenant)
        .bind(m0)
        .bind(m1)
        .bind(&q.unit)
        .bind(&lo)
        .bind(&hi)
        .bind(&svc)
        .fetch(&mut *tx);
        // Rows of one group arrive apart (one per month); adding them up here is cheaper than
        // concatenating their arrays in SQL.
        let mut groups: HashMap<GroupKey, (Partial, u64, u64)> = HashMap::new();
        while let Some(r) = rows.try_next().await.map_err(db)? {
            let n = |i: usize| -> Result<u64, KpiError> { Ok(u(r.try_get(i).map_err(db)?)) };
            let key = (
                r.try_get(0).map_err(db)?,
                r.try_get(1).map_err(db)?,
                r.try_get(2).map_err(db)?,
            );
            let (p, closed, in_time) = groups.entry(key).or_default();
            p.received += n(3)?;
            *closed += n(4)?;
            p.completed += n(5)?;
            p.rejected += n(6)?;
            p.withdrawn += n(7)?;
            p.deemed += n(8)?;
            p.on_time += n(9)?;
            p.with_deadline += n(10)?;
            p.returns += n(11)?;
            p.reworked += n(12)?;
            p.breached += n(13)?;
            p.step_breached += n(14)?;
            p.escalated += n(15)?;
            *in_time += n(16)?;
            let lead: Vec<i64> = r.try_get(17).map_err(db)?;
            p.lead.extend(
                lead.into_iter()
                    .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
            );
        }
        drop(rows);
        for ((unit, service, tier), (mut p, closed, in_time)) in groups {
            // As in the row-level report: a complaint tier is listed when a complaint of it was
            // received or closed in the period.
            if complaint.contains(service.as_str()) && (p.received > 0 || closed > 0) {
                let t = tier.unwrap_or_else(|| "-".to_owned());
                p.complaints = vec![(t, p.received, p.completed + p.rejected, in_time)];
            }
            b.add_partial(&unit, &service, p);
        }
        // Backlog at `at`: the cases still open (a small partial index) and those closed at or
        // after it, both submitted before it; the latter by closing month, each month a short
        // range of the (closing month, submitted) index.
        let mut closing_months = Vec::new();
        let mut m = month_key(ts(at.saturating_mul(1_000_000_000))?, tz);
        while last_closed.is_some_and(|l| m <= l) {
            closing_months.push(m);
            m = next_month(m);
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT unit, service, array_agg(submitted) FROM ( \
             SELECT unit, service, submitted FROM kpi_cases WHERE tenant = $1 AND closed IS NULL \
             AND submitted < $2 \
             UNION ALL \
             SELECT unit, service, submitted FROM kpi_cases WHERE tenant = $1 \
             AND closed_month = ANY($3) AND submitted < $2 AND closed >= $2) AS o \
             WHERE {unit_filter} GROUP BY unit, service"
        )))
        .bind(&q.tenant)
        .bind(at)
        .bind(&closing_months)
        .bind(&q.unit)
        .bind(&lo)
        .bind(&hi)
        .bind(&svc)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in rows {
            let unit: String = r.try_get(0).map_err(db)?;
            let service: String = r.try_get(1).map_err(db)?;
            let p = Partial {
                backlog_submitted: r.try_get(2).map_err(db)?,
                ..Partial::default()
            };
            b.add_partial(&unit, &service, p);
        }
        steps_and_skm(&mut tx, &mut b, (m0, m1), (&lo, &hi)).await?;
        if q.trend {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT month, sum(received)::int8, sum(completed + rejected)::int8, \
                 sum(on_time)::int8, sum(with_deadline)::int8 FROM kpi_summary \
                 WHERE tenant = $1 AND month BETWEEN $2 AND $3 AND {unit_filter} GROUP BY month"
            )))
            .bind(&q.tenant)
            .bind(y + 1)
            .bind(y + 12)
            .bind(&q.unit)
            .bind(&lo)
            .bind(&hi)
            .bind(&svc)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for r in rows {
                let month: i64 = r.try_get(0).map_err(db)?;
                let n = |i: usize| -> Result<u64, KpiError> { Ok(u(r.try_get(i).map_err(db)?)) };
                // The months the row-level trend lists: with a case received or decided.
                if n(1)? > 0 {
                    b.add_trend(TrendPoint {
                        month,
                        received: n(1)?,
                        ..TrendPoint::default()
                    });
                }
                if n(2)? > 0 {
                    b.add_trend(TrendPoint {
                        month,
                        decided: n(2)?,
                        on_time: n(3)?,
                        with_deadline: n(4)?,
                        ..TrendPoint::default()
                    });
                }
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(Some(b.finish()))
    }

    /// One slice of the report's aggregate, on a connection of its own: serial, with JIT off
    /// (compiling costs more than it saves here) and hash aggregation in memory.
    async fn report_slice(
        &self,
        sql: String,
        (q, start, end, lo, hi, svc, at): SliceParams<'_>,
    ) -> Result<Vec<sqlx::postgres::PgRow>, KpiError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "SELECT set_config('jit', 'off', true), set_config('work_mem', $1, true), \
             set_config('max_parallel_workers_per_gather', '0', true), \
             set_config('enable_sort', 'off', true)",
        )
        .bind(WORK_MEM)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&q.tenant)
            .bind(start)
            .bind(end)
            .bind(&q.unit)
            .bind(lo)
            .bind(hi)
            .bind(svc)
            .bind(at)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(rows)
    }

    /// The report a query asks for: from the month summary when it is up to date for the
    /// months the report needs (it is after every refresh), else from the case rows
    /// ([`PgKpi::report_from_cases`]). Both give the same report.
    ///
    /// # Errors
    /// [`KpiError::NotMigrated`], [`KpiError::Database`], or [`KpiError::Invalid`] for a unit
    /// code that does not exist.
    pub async fn report(&self, ctx: &KpiContext, query: &Query) -> Result<Report, KpiError> {
        if self.check().await?
            && let Some(r) = self.report_from_summary(ctx, query).await?
        {
            return Ok(r);
        }
        self.rows_report(ctx, query).await
    }

    /// The report read from the case rows alone (every case of the period summed in SQL), never
    /// from the month summary: the reference the summary is checked against.
    ///
    /// # Errors
    /// As [`PgKpi::report`].
    pub async fn report_from_cases(
        &self,
        ctx: &KpiContext,
        query: &Query,
    ) -> Result<Report, KpiError> {
        self.check().await?;
        self.rows_report(ctx, query).await
    }

    async fn rows_report(&self, ctx: &KpiContext, query: &Query) -> Result<Report, KpiError> {
        let mut b = Builder::new(ctx, query)?;
        let q = b.query().clone();
        let (start, end) = b.bounds();
        let at = b.backlog_at();
        let (lo, hi) = unit_range(&q.unit);
        let (m0, m1) = q.period.month_keys();
        let svc = q.service.clone().unwrap_or_default();
        let complaint_services: Vec<String> = ctx
            .services
            .iter()
            .filter(|(_, i)| i.complaint)
            .map(|(k, _)| k.clone())
            .collect();
        let scope = "tenant = $1 AND (unit = $4 OR (unit > $5 AND unit < $6)) \
                     AND ($7 = '' OR service = $7) AND submitted < $3 \
                     AND (closed IS NULL OR closed >= $2)";
        let inp = |c: &str| format!("({c} >= $2 AND {c} < $3)");
        let decided = "outcome IN ('completed', 'rejected')";
        // One pass: rows are grouped by complaint tier as well, so the tier counts of complaint
        // services ride along with the figures (other services' groups are simply added up).
        // The scan is split into SLICES disjoint slices by submission second, each a complete
        // aggregate run on a connection of its own at the same time: `array_agg` has no partial
        // form before PostgreSQL 16, so the server cannot parallelise one such aggregate.
        // Slices of one (unit, service) are added together (`add_partial` is additive).
        // The inner projection (kept apart by `OFFSET 0`) tests the period once per row; the
        // aggregates then test booleans. Outcome `o`: 1 completed, 2 refused, 3 withdrawn.
        let child = |slice: &str| {
            format!(
                "SELECT unit, service, tier, \
                 count(*) FILTER (WHERE s), \
                 count(*) FILTER (WHERE c AND o = 1), \
                 count(*) FILTER (WHERE c AND o = 2), \
                 count(*) FILTER (WHERE c AND o = 3), \
                 count(*) FILTER (WHERE c AND deemed <> 0), \
                 count(*) FILTER (WHERE d AND on_time = 1), \
                 count(*) FILTER (WHERE d AND on_time IS NOT NULL), \
                 array_agg(lead_min) FILTER (WHERE d AND lead_min IS NOT NULL), \
                 coalesce(sum(returns) FILTER (WHERE c), 0)::int8, \
                 count(*) FILTER (WHERE c AND returns > 0), \
                 count(*) FILTER (WHERE {br}), \
                 count(*) FILTER (WHERE {sbr}), \
                 count(*) FILTER (WHERE {esc}), \
                 array_agg(submitted) FILTER (WHERE submitted < $8 AND (closed IS NULL OR closed >= $8)), \
                 count(*) FILTER (WHERE s OR c), \
                 count(*) FILTER (WHERE d AND tier_on_time = 1) \
                 FROM (SELECT unit, service, tier, {sub} AS s, coalesce({cl}, false) AS c, \
                 coalesce({cl} AND {decided}, false) AS d, \
                 CASE outcome WHEN 'completed' THEN 1 WHEN 'rejected' THEN 2 \
                 WHEN 'withdrawn' THEN 3 ELSE 0 END AS o, \
                 deemed, on_time, lead_min, returns, breached_at, step_breached_at, \
                 escalated_at, submitted, closed, tier_on_time \
                 FROM kpi_cases WHERE {scope} AND {slice} OFFSET 0) AS f GROUP BY 1, 2, 3",
                sub = inp("submitted"),
                cl = inp("closed"),
                br = inp("breached_at"),
                sbr = inp("step_breached_at"),
                esc = inp("escalated_at"),
            )
        };
        let k = SLICES;
        let mut slices: Vec<String> = (0..k - 1)
            .map(|i| format!("submitted % {k} = {i}"))
            .collect();
        let rest: Vec<String> = (0..k - 1).map(|i| i.to_string()).collect();
        slices.push(if rest.is_empty() {
            "true".to_owned()
        } else {
            format!("submitted % {k} NOT IN ({})", rest.join(", "))
        });
        let params = (&q, start, end, lo.as_str(), hi.as_str(), svc.as_str(), at);
        let parts = futures_util::future::try_join_all(
            slices.iter().map(|s| self.report_slice(child(s), params)),
        )
        .await?;
        for r in parts.into_iter().flatten() {
            let unit: String = r.try_get(0).map_err(db)?;
            let service: String = r.try_get(1).map_err(db)?;
            let tier: Option<String> = r.try_get(2).map_err(db)?;
            let n = |i: usize| -> Result<u64, KpiError> { Ok(u(r.try_get(i).map_err(db)?)) };
            let lead: Option<Vec<i64>> = r.try_get(10).map_err(db)?;
            let complaints = if complaint_services.contains(&service) && n(17)? > 0 {
                let t = tier.unwrap_or_else(|| "-".to_owned());
                // Answered: completed or refused in the period.
                vec![(t, n(3)?, n(4)? + n(5)?, n(18)?)]
            } else {
                Vec::new()
            };
            let p = Partial {
                received: n(3)?,
                completed: n(4)?,
                rejected: n(5)?,
                withdrawn: n(6)?,
                deemed: n(7)?,
                on_time: n(8)?,
                with_deadline: n(9)?,
                lead: lead
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
                    .collect(),
                returns: n(11)?,
                reworked: n(12)?,
                breached: n(13)?,
                step_breached: n(14)?,
                escalated: n(15)?,
                backlog_submitted: r
                    .try_get::<Option<Vec<i64>>, _>(16)
                    .map_err(db)?
                    .unwrap_or_default(),
                complaints,
            };
            b.add_partial(&unit, &service, p);
        }
        let mut conn = self.pool.acquire().await.map_err(db)?;
        steps_and_skm(&mut conn, &mut b, (m0, m1), (&lo, &hi)).await?;
        if q.trend {
            let y = i64::from(q.period.year()) * 100;
            let rows = sqlx::query(
                "SELECT submitted_month, count(*) FROM kpi_cases WHERE tenant = $1 \
                 AND submitted_month BETWEEN $2 AND $3 AND (unit = $4 OR (unit > $5 AND unit < $6)) \
                 AND ($7 = '' OR service = $7) GROUP BY submitted_month",
            )
            .bind(&q.tenant)
            .bind(y + 1)
            .bind(y + 12)
            .bind(&q.unit)
            .bind(&lo)
            .bind(&hi)
            .bind(&svc)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            for r in rows {
                b.add_trend(TrendPoint {
                    month: r.try_get(0).map_err(db)?,
                    received: u(r.try_get(1).map_err(db)?),
                    ..TrendPoint::default()
                });
            }
            let rows = sqlx::query(
                "SELECT closed_month, count(*), coalesce(sum(on_time), 0)::int8, count(on_time) \
                 FROM kpi_cases WHERE tenant = $1 AND closed_month BETWEEN $2 AND $3 \
                 AND outcome IN ('completed', 'rejected') \
                 AND (unit = $4 OR (unit > $5 AND unit < $6)) AND ($7 = '' OR service = $7) \
                 GROUP BY closed_month",
            )
            .bind(&q.tenant)
            .bind(y + 1)
            .bind(y + 12)
            .bind(&q.unit)
            .bind(&lo)
            .bind(&hi)
            .bind(&svc)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            for r in rows {
                b.add_trend(TrendPoint {
                    month: r.try_get(0).map_err(db)?,
                    decided: u(r.try_get(1).map_err(db)?),
                    on_time: u(r.try_get(2).map_err(db)?),
                    with_deadline: u(r.try_get(3).map_err(db)?),
                    ..TrendPoint::default()
                });
            }
        }
        Ok(b.finish())
    }
}

/// Step time and survey answers of the report's months (both additive by month).
async fn steps_and_skm(
    conn: &mut sqlx::PgConnection,
    b: &mut Builder<'_>,
    (m0, m1): (i64, i64),
    (lo, hi): (&str, &str),
) -> Result<(), KpiError> {
    let q = b.query().clone();
    let rows = sqlx::query(
        "SELECT unit, service, step, role, sum(visits)::int8, sum(minutes)::int8 FROM kpi_steps \
             WHERE tenant = $1 AND month BETWEEN $2 AND $3 \
             AND (unit = $4 OR (unit > $5 AND unit < $6)) GROUP BY unit, service, step, role",
    )
    .bind(&q.tenant)
    .bind(m0)
    .bind(m1)
    .bind(&q.unit)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for r in rows {
        let s = |i: usize| -> Result<String, KpiError> { r.try_get(i).map_err(db) };
        let (unit, service, step, role) = (s(0)?, s(1)?, s(2)?, s(3)?);
        b.add_step(&StepRef {
            unit: &unit,
            service: &service,
            step: &step,
            role: &role,
            visits: u(r.try_get(4).map_err(db)?),
            minutes: u(r.try_get(5).map_err(db)?),
        });
    }
    let rows = sqlx::query(
        "SELECT unit, service, sum(n)::int8, sum(u1)::int8, sum(u2)::int8, sum(u3)::int8, \
             sum(u4)::int8, sum(u5)::int8, sum(u6)::int8, sum(u7)::int8, sum(u8)::int8, \
             sum(u9)::int8 FROM kpi_skm WHERE tenant = $1 AND month BETWEEN $2 AND $3 \
             AND (unit = $4 OR (unit > $5 AND unit < $6)) GROUP BY unit, service",
    )
    .bind(&q.tenant)
    .bind(m0)
    .bind(m1)
    .bind(&q.unit)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for r in rows {
        let unit: String = r.try_get(0).map_err(db)?;
        let service: String = r.try_get(1).map_err(db)?;
        let mut t = SkmTally {
            respondents: u(r.try_get(2).map_err(db)?),
            ..SkmTally::default()
        };
        for (i, s) in t.sums.iter_mut().enumerate() {
            *s = u(r.try_get(3 + i).map_err(db)?);
        }
        b.add_skm(&unit, &service, &t);
    }
    Ok(())
}

fn sum_fact(r: &sqlx::postgres::PgRow, from: usize) -> Result<SumFact, KpiError> {
    let i = |k: usize| -> Result<i64, KpiError> { r.try_get(from + k).map_err(db) };
    let o = |k: usize| -> Result<Option<i64>, KpiError> { r.try_get(from + k).map_err(db) };
    Ok(SumFact {
        unit: r.try_get(from).map_err(db)?,
        service: r.try_get(from + 1).map_err(db)?,
        tier: r.try_get(from + 2).map_err(db)?,
        submitted: i(3)?,
        submitted_month: i(4)?,
        closed: o(5)?,
        closed_month: o(6)?,
        outcome: r.try_get(from + 7).map_err(db)?,
        deemed: i(8)?,
        on_time: o(9)?,
        lead_min: o(10)?,
        returns: i(11)?,
        breached_at: o(12)?,
        step_breached_at: o(13)?,
        escalated_at: o(14)?,
        tier_on_time: o(15)?,
    })
}

fn raw(r: &sqlx::postgres::PgRow) -> Result<RawEntry, KpiError> {
    Ok(RawEntry {
        seq: u(r.try_get(1).map_err(db)?),
        at: ts(r.try_get(2).map_err(db)?)?,
        event: r.try_get(3).map_err(db)?,
        actor: r.try_get(4).map_err(db)?,
        due: r.try_get(5).map_err(db)?,
    })
}
