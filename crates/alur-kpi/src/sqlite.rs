//! The fact tables on SQLite: refreshed from `audit_entries` past the watermark and read for
//! reports, through plain synchronous connections of their own on the store's file.
//!
//! The store has one writer task; a refresh is a second writer, so it waits for the lock
//! (`busy_timeout`) and keeps its transactions short (a few thousand cases each). Reads use a
//! read-only connection (WAL: a consistent snapshot beside the writer).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::KpiError;
use crate::facts::{KpiContext, Outcome, RawEntry, TIER_FIELD, derive};
use crate::refresh::{Batch, Progress, RefreshStats};
use crate::report::{Builder, CaseRef, Query, Report, StepRef, TrendPoint};
use crate::skm::SkmTally;

/// Cases per write transaction.
const CHUNK: usize = 2_000;
/// Above this many touched cases, stream every entry once instead of reading case by case.
const STREAM_ABOVE: usize = 20_000;

fn db(e: rusqlite::Error) -> KpiError {
    KpiError::Database(e.to_string())
}

/// KPI facts in a SQLite store's file.
#[derive(Debug, Clone)]
pub struct SqliteKpi {
    path: PathBuf,
    busy_timeout: Duration,
}

impl SqliteKpi {
    /// The facts of the database at `path` (a store opened it once, so its migrations ran).
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            busy_timeout: Duration::from_secs(10),
        }
    }

    /// How long a write waits for the store's writer.
    pub fn with_busy_timeout(mut self, t: Duration) -> Self {
        self.busy_timeout = t;
        self
    }

    fn open(&self, write: bool) -> Result<Connection, KpiError> {
        let flags = if write {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| KpiError::Database(format!("cannot open {}: {e}", self.path.display())))?;
        conn.busy_timeout(self.busy_timeout).map_err(db)?;
        let has: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'kpi_cases'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if has.is_none() {
            return Err(KpiError::NotMigrated);
        }
        Ok(conn)
    }

    /// Bring the facts up to date: read the entries after the watermark, re-derive the cases
    /// they belong to, write them in short transactions, move the watermark.
    ///
    /// # Errors
    /// [`KpiError::NotMigrated`] when the KPI tables are missing; [`KpiError::Database`] when
    /// the database fails or stays locked past the busy timeout.
    pub fn refresh(&self, tenant: &str, ctx: &KpiContext) -> Result<RefreshStats, KpiError> {
        let read = self.open(false)?;
        let mut write = self.open(true)?;
        let watermark: i64 = read
            .query_row(
                "SELECT watermark FROM kpi_state WHERE tenant = ?1",
                [tenant],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?
            .unwrap_or(0);
        let high: i64 = read
            .query_row("SELECT coalesce(max(pos), 0) FROM audit_entries", [], |r| {
                r.get(0)
            })
            .map_err(db)?;
        let mut stats = RefreshStats {
            watermark,
            ..RefreshStats::default()
        };
        if high <= watermark {
            return Ok(stats);
        }
        // Cases with new entries, and the highest sequence number seen.
        let mut touched: HashMap<String, u64> = HashMap::new();
        {
            let mut st = read
                .prepare(
                    "SELECT case_id, max(seq) FROM audit_entries \
                     WHERE pos > ?1 AND pos <= ?2 AND tenant = ?3 GROUP BY case_id",
                )
                .map_err(db)?;
            let mut rows = st.query(params![watermark, high, tenant]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let id: String = r.get(0).map_err(db)?;
                if !id.starts_with('@') {
                    let seq: i64 = r.get(1).map_err(db)?;
                    touched.insert(id, u64::try_from(seq).unwrap_or(0));
                }
            }
        }
        let stream = touched.len() > STREAM_ABOVE;
        let mut progress: HashMap<String, Progress> = HashMap::new();
        if stream {
            let mut st = read
                .prepare(
                    "SELECT case_id, last_seq, steps_done, ratings_done, tier FROM kpi_cases \
                     WHERE tenant = ?1",
                )
                .map_err(db)?;
            let mut rows = st.query([tenant]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let id: String = r.get(0).map_err(db)?;
                if touched.contains_key(&id) {
                    progress.insert(id, progress_of(r, 1).map_err(db)?);
                }
            }
        }
        let mut batch = Batch::default();
        let process = |case_id: &str,
                       entries: &[RawEntry],
                       before: Option<&Progress>,
                       batch: &mut Batch,
                       read: &Connection|
         -> Result<(), KpiError> {
            let service = service_of(entries);
            let complaint = ctx
                .services
                .get(service.as_deref().unwrap_or(""))
                .is_some_and(|i| i.complaint);
            let tier_value = if complaint {
                tier_value(read, tenant, case_id)?.or_else(|| before.and_then(|p| p.tier.clone()))
            } else {
                None
            };
            if let Some(d) = derive(case_id, entries, tier_value.as_deref(), ctx) {
                batch.add(d, before);
            }
            Ok(())
        };
        if stream {
            let mut st = read
                .prepare(
                    "SELECT case_id, seq, at, event, actor, due FROM audit_entries \
                     WHERE tenant = ?1 ORDER BY case_id, seq",
                )
                .map_err(db)?;
            let mut rows = st.query([tenant]).map_err(db)?;
            let mut current: Option<String> = None;
            let mut entries: Vec<RawEntry> = Vec::new();
            let mut skip = true;
            loop {
                let row = rows.next().map_err(db)?;
                let id: Option<&str> = match row {
                    Some(r) => Some(r.get_ref(0).map_err(db)?.as_str().map_err(|e| {
                        KpiError::Database(format!("stored case id is not text: {e}"))
                    })?),
                    None => None,
                };
                if current.as_deref() != id {
                    if let Some(c) = current.take()
                        && !skip
                    {
                        stats.cases += 1;
                        process(&c, &entries, progress.get(&c), &mut batch, &read)?;
                        if batch.cases.len() >= CHUNK {
                            write_batch(&mut write, tenant, std::mem::take(&mut batch))?;
                        }
                    }
                    entries.clear();
                    if let Some(id) = id {
                        skip = match touched.get(id) {
                            Some(seq) => progress.get(id).is_some_and(|p| p.last_seq >= *seq),
                            None => true,
                        };
                        current = Some(id.to_owned());
                    }
                }
                let Some(r) = row else { break };
                if !skip {
                    stats.entries += 1;
                    entries.push(raw_entry(r, 1)?);
                }
            }
        } else {
            let mut ids: Vec<(String, u64)> = touched.into_iter().collect();
            ids.sort();
            let mut prog = read
                .prepare(
                    "SELECT case_id, last_seq, steps_done, ratings_done, tier FROM kpi_cases \
                     WHERE tenant = ?1 AND case_id = ?2",
                )
                .map_err(db)?;
            let mut ent = read
                .prepare(
                    "SELECT seq, at, event, actor, due FROM audit_entries \
                     WHERE tenant = ?1 AND case_id = ?2 ORDER BY seq",
                )
                .map_err(db)?;
            for (id, seq) in ids {
                let before = prog
                    .query_row(params![tenant, id], |r| progress_of(r, 1))
                    .optional()
                    .map_err(db)?;
                if before.as_ref().is_some_and(|p| p.last_seq >= seq) {
                    continue;
                }
                let mut entries = Vec::new();
                let mut rows = ent.query(params![tenant, id]).map_err(db)?;
                while let Some(r) = rows.next().map_err(db)? {
                    entries.push(raw_entry(r, 0)?);
                }
                stats.entries += entries.len() as u64;
                stats.cases += 1;
                process(&id, &entries, before.as_ref(), &mut batch, &read)?;
                if batch.cases.len() >= CHUNK {
                    write_batch(&mut write, tenant, std::mem::take(&mut batch))?;
                }
            }
        }
        write_batch(&mut write, tenant, batch)?;
        write
            .execute(
                "INSERT INTO kpi_state (tenant, watermark, refreshed_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (tenant) DO UPDATE SET watermark = excluded.watermark, \
                 refreshed_at = excluded.refreshed_at",
                params![tenant, high, jiff::Timestamp::now().to_string()],
            )
            .map_err(db)?;
        stats.watermark = high;
        Ok(stats)
    }

    /// The report a query asks for, from the fact tables.
    ///
    /// # Errors
    /// [`KpiError::NotMigrated`], [`KpiError::Database`], or [`KpiError::Invalid`] for a unit
    /// code that does not exist.
    pub fn report(&self, ctx: &KpiContext, query: &Query) -> Result<Report, KpiError> {
        let conn = self.open(false)?;
        let mut b = Builder::new(ctx, query)?;
        let q = b.query().clone();
        let (start, end) = b.bounds();
        let (lo, hi) = unit_range(&q.unit);
        let (m0, m1) = q.period.month_keys();
        {
            let mut st = conn
                .prepare(
                    "SELECT unit, service, submitted, closed, outcome, deemed, on_time, lead_min, \
                     returns, breached_at, step_breached_at, escalated_at, tier, tier_on_time \
                     FROM kpi_cases WHERE tenant = ?1 AND submitted < ?3 \
                     AND (closed IS NULL OR closed >= ?2) \
                     AND (unit = ?4 OR (unit > ?5 AND unit < ?6))",
                )
                .map_err(db)?;
            let mut rows = st
                .query(params![q.tenant, start, end, q.unit, lo, hi])
                .map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let text = |i: usize| -> Result<&str, KpiError> {
                    r.get_ref(i)
                        .map_err(db)?
                        .as_str()
                        .map_err(|e| KpiError::Database(e.to_string()))
                };
                let oi = |i: usize| -> Result<Option<i64>, KpiError> { r.get(i).map_err(db) };
                let ob =
                    |i: usize| -> Result<Option<bool>, KpiError> { Ok(oi(i)?.map(|v| v != 0)) };
                let outcome: Option<&str> = r
                    .get_ref(4)
                    .map_err(db)?
                    .as_str_or_null()
                    .map_err(|e| KpiError::Database(e.to_string()))?;
                let tier: Option<&str> = r
                    .get_ref(12)
                    .map_err(db)?
                    .as_str_or_null()
                    .map_err(|e| KpiError::Database(e.to_string()))?;
                let c = CaseRef {
                    unit: text(0)?,
                    service: text(1)?,
                    submitted: r.get(2).map_err(db)?,
                    closed: oi(3)?,
                    outcome: outcome.and_then(Outcome::parse),
                    deemed: r.get::<_, i64>(5).map_err(db)? != 0,
                    on_time: ob(6)?,
                    lead_min: oi(7)?.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
                    returns: u32::try_from(r.get::<_, i64>(8).map_err(db)?).unwrap_or(0),
                    breached_at: oi(9)?,
                    step_breached_at: oi(10)?,
                    escalated_at: oi(11)?,
                    tier,
                    tier_on_time: ob(13)?,
                };
                b.add_case(&c);
            }
        }
        {
            let mut st = conn
                .prepare(
                    "SELECT unit, service, step, role, sum(visits), sum(minutes) FROM kpi_steps \
                     WHERE tenant = ?1 AND month BETWEEN ?2 AND ?3 \
                     AND (unit = ?4 OR (unit > ?5 AND unit < ?6)) \
                     GROUP BY unit, service, step, role",
                )
                .map_err(db)?;
            let mut rows = st
                .query(params![q.tenant, m0, m1, q.unit, lo, hi])
                .map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let s = |i: usize| -> Result<String, KpiError> { r.get(i).map_err(db) };
                let (unit, service, step, role) = (s(0)?, s(1)?, s(2)?, s(3)?);
                b.add_step(&StepRef {
                    unit: &unit,
                    service: &service,
                    step: &step,
                    role: &role,
                    visits: u64::try_from(r.get::<_, i64>(4).map_err(db)?).unwrap_or(0),
                    minutes: u64::try_from(r.get::<_, i64>(5).map_err(db)?).unwrap_or(0),
                });
            }
        }
        {
            let mut st = conn
                .prepare(
                    "SELECT unit, service, sum(n), sum(u1), sum(u2), sum(u3), sum(u4), sum(u5), \
                     sum(u6), sum(u7), sum(u8), sum(u9) FROM kpi_skm \
                     WHERE tenant = ?1 AND month BETWEEN ?2 AND ?3 \
                     AND (unit = ?4 OR (unit > ?5 AND unit < ?6)) GROUP BY unit, service",
                )
                .map_err(db)?;
            let mut rows = st
                .query(params![q.tenant, m0, m1, q.unit, lo, hi])
                .map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let unit: String = r.get(0).map_err(db)?;
                let service: String = r.get(1).map_err(db)?;
                let mut t = SkmTally {
                    respondents: u64::try_from(r.get::<_, i64>(2).map_err(db)?).unwrap_or(0),
                    ..SkmTally::default()
                };
                for (i, s) in t.sums.iter_mut().enumerate() {
                    *s = u64::try_from(r.get::<_, i64>(3 + i).map_err(db)?).unwrap_or(0);
                }
                b.add_skm(&unit, &service, &t);
            }
        }
        if q.trend {
            let y = i64::from(q.period.year()) * 100;
            let svc = q.service.clone().unwrap_or_default();
            let mut st = conn
                .prepare(
                    "SELECT submitted_month, count(*) FROM kpi_cases \
                     WHERE tenant = ?1 AND submitted_month BETWEEN ?2 AND ?3 \
                     AND (unit = ?4 OR (unit > ?5 AND unit < ?6)) AND (?7 = '' OR service = ?7) \
                     GROUP BY submitted_month",
                )
                .map_err(db)?;
            let mut rows = st
                .query(params![q.tenant, y + 1, y + 12, q.unit, lo, hi, svc])
                .map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                b.add_trend(TrendPoint {
                    month: r.get(0).map_err(db)?,
                    received: u64::try_from(r.get::<_, i64>(1).map_err(db)?).unwrap_or(0),
                    ..TrendPoint::default()
                });
            }
            let mut st = conn
                .prepare(
                    "SELECT closed_month, count(*), coalesce(sum(on_time), 0), count(on_time) \
                     FROM kpi_cases WHERE tenant = ?1 AND closed_month BETWEEN ?2 AND ?3 \
                     AND outcome IN ('completed', 'rejected') \
                     AND (unit = ?4 OR (unit > ?5 AND unit < ?6)) AND (?7 = '' OR service = ?7) \
                     GROUP BY closed_month",
                )
                .map_err(db)?;
            let mut rows = st
                .query(params![q.tenant, y + 1, y + 12, q.unit, lo, hi, svc])
                .map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let n = |i: usize| -> Result<u64, KpiError> {
                    Ok(u64::try_from(r.get::<_, i64>(i).map_err(db)?).unwrap_or(0))
                };
                b.add_trend(TrendPoint {
                    month: r.get(0).map_err(db)?,
                    decided: n(1)?,
                    on_time: n(2)?,
                    with_deadline: n(3)?,
                    ..TrendPoint::default()
                });
            }
        }
        Ok(b.finish())
    }
}

/// `(lo, hi)` such that a code strictly between them lies below `unit` (codes are digits and
/// dots, and `.` + 1 is `/`). For the whole country every code is.
pub(crate) fn unit_range(unit: &str) -> (String, String) {
    if unit.is_empty() {
        (String::new(), "\u{10FFFF}".into())
    } else {
        (format!("{unit}."), format!("{unit}/"))
    }
}

fn progress_of(r: &rusqlite::Row<'_>, from: usize) -> rusqlite::Result<Progress> {
    let n = |i: usize| -> rusqlite::Result<u64> {
        Ok(u64::try_from(r.get::<_, i64>(from + i)?).unwrap_or(0))
    };
    Ok(Progress {
        last_seq: n(0)?,
        steps_done: n(1)?,
        ratings_done: n(2)?,
        tier: r.get(from + 3)?,
    })
}

fn raw_entry(r: &rusqlite::Row<'_>, from: usize) -> Result<RawEntry, KpiError> {
    let at: String = r.get(from + 1).map_err(db)?;
    Ok(RawEntry {
        seq: u64::try_from(r.get::<_, i64>(from).map_err(db)?).unwrap_or(0),
        at: at
            .parse()
            .map_err(|e| KpiError::Database(format!("stored entry time `{at}`: {e}")))?,
        event: r.get(from + 2).map_err(db)?,
        actor: r.get(from + 3).map_err(db)?,
        due: r.get(from + 4).map_err(db)?,
    })
}

/// The service a case's first entry names.
pub(crate) fn service_of(entries: &[RawEntry]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct S {
        service: Option<String>,
    }
    entries
        .first()
        .and_then(|e| serde_json::from_str::<S>(&e.event).ok())
        .and_then(|s| s.service)
}

fn tier_value(conn: &Connection, tenant: &str, case_id: &str) -> Result<Option<String>, KpiError> {
    let path = format!("$.fields.{TIER_FIELD}");
    conn.prepare(
        "SELECT json_extract(payload, ?3) FROM payloads WHERE tenant = ?1 AND case_id = ?2 \
         AND json_extract(payload, ?3) IS NOT NULL ORDER BY seq DESC LIMIT 1",
    )
    .map_err(db)?
    .query_row(params![tenant, case_id, path], |r| r.get(0))
    .optional()
    .map_err(db)
}

fn opt_bool(b: Option<bool>) -> Option<i64> {
    b.map(i64::from)
}

fn write_batch(conn: &mut Connection, tenant: &str, batch: Batch) -> Result<(), KpiError> {
    if batch.is_empty() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    {
        let mut st = tx
            .prepare(
                "INSERT OR REPLACE INTO kpi_cases (tenant, case_id, unit, service, submitted, \
                 submitted_month, closed, closed_month, outcome, deemed, due, on_time, lead_min, \
                 paused_min, returns, breached_at, step_breached_at, escalated_at, tier, \
                 tier_on_time, last_seq, steps_done, ratings_done) VALUES (?1, ?2, ?3, ?4, ?5, \
                 ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            )
            .map_err(db)?;
        for (f, steps, ratings) in &batch.cases {
            st.execute(params![
                tenant,
                f.case_id,
                f.unit,
                f.service,
                f.submitted,
                f.submitted_month,
                f.closed,
                f.closed_month,
                f.outcome.map(Outcome::as_str),
                i64::from(f.deemed),
                f.due,
                opt_bool(f.on_time),
                f.lead_min.map(i64::from),
                i64::from(f.paused_min),
                i64::from(f.returns),
                f.breached_at,
                f.step_breached_at,
                f.escalated_at,
                f.tier,
                opt_bool(f.tier_on_time),
                i64::try_from(f.last_seq).unwrap_or(i64::MAX),
                i64::try_from(*steps).unwrap_or(i64::MAX),
                i64::try_from(*ratings).unwrap_or(i64::MAX),
            ])
            .map_err(db)?;
        }
        let mut st = tx
            .prepare(
                "INSERT INTO kpi_steps (tenant, unit, service, month, step, role, visits, minutes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (tenant, month, unit, service, step, role) DO UPDATE SET \
                 visits = visits + excluded.visits, minutes = minutes + excluded.minutes",
            )
            .map_err(db)?;
        for ((unit, service, month, step, role), (v, m)) in &batch.steps {
            st.execute(params![
                tenant,
                unit,
                service,
                month,
                step,
                role,
                i64::try_from(*v).unwrap_or(i64::MAX),
                i64::try_from(*m).unwrap_or(i64::MAX)
            ])
            .map_err(db)?;
        }
        let mut st = tx
            .prepare(
                "INSERT INTO kpi_skm (tenant, unit, service, month, n, u1, u2, u3, u4, u5, u6, \
                 u7, u8, u9) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                 ON CONFLICT (tenant, month, unit, service) DO UPDATE SET n = n + excluded.n, \
                 u1 = u1 + excluded.u1, u2 = u2 + excluded.u2, u3 = u3 + excluded.u3, \
                 u4 = u4 + excluded.u4, u5 = u5 + excluded.u5, u6 = u6 + excluded.u6, \
                 u7 = u7 + excluded.u7, u8 = u8 + excluded.u8, u9 = u9 + excluded.u9",
            )
            .map_err(db)?;
        for ((unit, service, month), t) in &batch.skm {
            let s: Vec<i64> = t
                .sums
                .iter()
                .map(|v| i64::try_from(*v).unwrap_or(i64::MAX))
                .collect();
            st.execute(params![
                tenant,
                unit,
                service,
                month,
                i64::try_from(t.respondents).unwrap_or(i64::MAX),
                s[0],
                s[1],
                s[2],
                s[3],
                s[4],
                s[5],
                s[6],
                s[7],
                s[8]
            ])
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}
