//! The month summary of the case facts on PostgreSQL (`kpi_summary`, migration 6).
//!
//! Each case contributes its figures to the rows of the months its instants fall in: received
//! to the month it was submitted, the closing figures (outcome, deadline kept, lead time,
//! returns, complaint answered in time) to the month it closed, and each breach and escalation
//! to the month it happened in. A contribution also carries `lo` and `hi`, so that a report of
//! months `[a, b]` counts it exactly when the row-level report would: the row-level report
//! counts a case's instant in the period only when the case was submitted before the period
//! ends and not closed before it starts, which for an instant in month `m` is
//! `a <= lo && hi <= b` with `lo = min(m, month closed)` and `hi = max(m, month submitted)`.
//!
//! A refresh compares every rewritten case's contributions before and after and marks the
//! months where they differ; those months are then recomputed from `kpi_cases`
//! ([`RECOMPUTE`]). A case completed in April that was submitted in March changes April only:
//! its March contribution (received, not closed before March) is the same as before.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::KpiError;
use crate::facts::CaseFact;
use crate::period::{Period, month_key};

/// The zone a summary's months are cut in, as stored in `kpi_summary_state`.
pub(crate) fn zone_id(tz: &TimeZone) -> String {
    tz.iana_name()
        .map_or_else(|| format!("{tz:?}"), str::to_owned)
}

/// `[start, end)` of the month `yyyymm`, Unix seconds.
pub(crate) fn month_bounds(month: i64, tz: &TimeZone) -> Result<(i64, i64), KpiError> {
    let bad = || KpiError::Invalid(format!("month {month} is out of range"));
    let year = i16::try_from(month / 100).map_err(|_| bad())?;
    let m = i8::try_from(month % 100).map_err(|_| bad())?;
    if !(1..=12).contains(&m) {
        return Err(bad());
    }
    let (a, b) = Period::Month { year, month: m }.bounds(tz)?;
    Ok((a.as_second(), b.as_second()))
}

/// The month after `yyyymm`.
pub(crate) fn next_month(month: i64) -> i64 {
    if month % 100 >= 12 {
        (month / 100 + 1) * 100 + 1
    } else {
        month + 1
    }
}

/// What of a case row the summary reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SumFact {
    pub unit: String,
    pub service: String,
    pub tier: Option<String>,
    pub submitted: i64,
    pub submitted_month: i64,
    pub closed: Option<i64>,
    pub closed_month: Option<i64>,
    pub outcome: Option<String>,
    pub deemed: i64,
    pub on_time: Option<i64>,
    pub lead_min: Option<i64>,
    pub returns: i64,
    pub breached_at: Option<i64>,
    pub step_breached_at: Option<i64>,
    pub escalated_at: Option<i64>,
    pub tier_on_time: Option<i64>,
}

/// The columns [`SumFact`] is read from, in order (after `case_id`).
pub(crate) const SUM_COLUMNS: &str = "unit, service, tier, submitted, submitted_month, closed, \
     closed_month, outcome, deemed, on_time, lead_min, returns, breached_at, step_breached_at, \
     escalated_at, tier_on_time";

impl SumFact {
    pub(crate) fn of(f: &CaseFact) -> Self {
        Self {
            unit: f.unit.clone(),
            service: f.service.clone(),
            tier: f.tier.clone(),
            submitted: f.submitted,
            submitted_month: f.submitted_month,
            closed: f.closed,
            closed_month: f.closed_month,
            outcome: f.outcome.map(|o| o.as_str().to_owned()),
            deemed: i64::from(f.deemed),
            on_time: f.on_time.map(i64::from),
            lead_min: f.lead_min.map(i64::from),
            returns: i64::from(f.returns),
            breached_at: f.breached_at,
            step_breached_at: f.step_breached_at,
            escalated_at: f.escalated_at,
            tier_on_time: f.tier_on_time.map(i64::from),
        }
    }

    /// Every contribution: (anchor month, kind, what it adds). Equal contributions add the same
    /// to the same summary row.
    fn contributions(&self, tz: &TimeZone) -> BTreeSet<Contribution> {
        let mut out = BTreeSet::new();
        let lo = |m: i64| match self.closed_month {
            Some(c) if c < m => c,
            _ => m,
        };
        let hi = |m: i64| self.submitted_month.max(m);
        let base = |kind: u8, m: i64, lo: i64, hi: i64| Contribution {
            month: m,
            kind,
            unit: self.unit.clone(),
            service: self.service.clone(),
            tier: self.tier.clone(),
            lo,
            hi,
            outcome: None,
            values: Vec::new(),
        };
        let m = self.submitted_month;
        out.insert(base(0, m, lo(m), m));
        if let Some(m) = self.closed_month {
            let mut c = base(1, m, m, hi(m));
            c.outcome.clone_from(&self.outcome);
            c.values = vec![
                Some(self.deemed),
                self.on_time,
                self.lead_min,
                Some(self.returns),
                self.tier_on_time,
            ];
            out.insert(c);
        }
        for (kind, at) in [
            (2, self.breached_at),
            (3, self.step_breached_at),
            (4, self.escalated_at),
        ] {
            if let Some(t) = at.and_then(|s| Timestamp::from_second(s).ok()) {
                let m = month_key(t, tz);
                out.insert(base(kind, m, lo(m), hi(m)));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Contribution {
    month: i64,
    kind: u8,
    unit: String,
    service: String,
    tier: Option<String>,
    lo: i64,
    hi: i64,
    outcome: Option<String>,
    values: Vec<Option<i64>>,
}

/// The months whose summary rows change when the cases `new` replace `old` (by case id).
pub(crate) fn dirty_months<'a>(
    old: &HashMap<String, SumFact>,
    new: impl IntoIterator<Item = (&'a str, SumFact)>,
    tz: &TimeZone,
) -> BTreeSet<i64> {
    let mut months = BTreeSet::new();
    for (id, n) in new {
        let before = old.get(id);
        if before == Some(&n) {
            continue;
        }
        let b = before.map(|o| o.contributions(tz)).unwrap_or_default();
        let a = n.contributions(tz);
        months.extend(b.symmetric_difference(&a).map(|c| c.month));
    }
    months
}

/// Recompute one month's summary rows: `$1` tenant, `$2`/`$3` the month's bounds (Unix
/// seconds), `$4` the month (`yyyymm`). The closing figures follow the row-level report's
/// definitions (a decision is completed or refused).
pub(crate) const RECOMPUTE: &str = "\
INSERT INTO kpi_summary (tenant, month, unit, service, tier, lo, hi, received, closed, completed, \
 rejected, withdrawn, deemed, on_time, with_deadline, returns, reworked, breached, step_breached, \
 escalated, tier_in_time, lead) \
SELECT $1, $4, unit, service, tier, lo, hi, sum(r), sum(c), sum(c1), sum(c2), sum(c3), sum(dm), \
 sum(ot), sum(wd), sum(rt)::int8, sum(rw), sum(b1), sum(b2), sum(b3), sum(ti), \
 coalesce(array_agg(lead) FILTER (WHERE lead IS NOT NULL), '{}') \
FROM ( \
 SELECT unit, service, tier, \
  CASE WHEN closed IS NULL OR closed >= $2 THEN $4 ELSE closed_month END AS lo, $4 AS hi, \
  1 AS r, 0 AS c, 0 AS c1, 0 AS c2, 0 AS c3, 0 AS dm, 0 AS ot, 0 AS wd, 0::int8 AS rt, 0 AS rw, \
  0 AS b1, 0 AS b2, 0 AS b3, 0 AS ti, NULL::int8 AS lead \
 FROM kpi_cases WHERE tenant = $1 AND submitted >= $2 AND submitted < $3 \
 UNION ALL \
 SELECT unit, service, tier, $4, CASE WHEN submitted < $3 THEN $4 ELSE submitted_month END, \
  0, 1, (outcome = 'completed')::int, (outcome = 'rejected')::int, \
  (outcome = 'withdrawn')::int, (deemed <> 0)::int, \
  CASE WHEN d AND on_time = 1 THEN 1 ELSE 0 END, \
  CASE WHEN d AND on_time IS NOT NULL THEN 1 ELSE 0 END, returns, (returns > 0)::int, 0, 0, 0, \
  CASE WHEN d AND tier_on_time = 1 THEN 1 ELSE 0 END, CASE WHEN d THEN lead_min END \
 FROM (SELECT *, coalesce(outcome IN ('completed', 'rejected'), false) AS d FROM kpi_cases \
       WHERE tenant = $1 AND closed_month = $4 AND closed >= $2 AND closed < $3) AS k \
 UNION ALL \
 SELECT unit, service, tier, \
  CASE WHEN closed IS NULL OR closed >= $2 THEN $4 ELSE closed_month END, \
  CASE WHEN submitted < $3 THEN $4 ELSE submitted_month END, \
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, NULL \
 FROM kpi_cases WHERE tenant = $1 AND breached_at >= $2 AND breached_at < $3 \
 UNION ALL \
 SELECT unit, service, tier, \
  CASE WHEN closed IS NULL OR closed >= $2 THEN $4 ELSE closed_month END, \
  CASE WHEN submitted < $3 THEN $4 ELSE submitted_month END, \
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, NULL \
 FROM kpi_cases WHERE tenant = $1 AND step_breached_at >= $2 AND step_breached_at < $3 \
 UNION ALL \
 SELECT unit, service, tier, \
  CASE WHEN closed IS NULL OR closed >= $2 THEN $4 ELSE closed_month END, \
  CASE WHEN submitted < $3 THEN $4 ELSE submitted_month END, \
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, NULL \
 FROM kpi_cases WHERE tenant = $1 AND escalated_at >= $2 AND escalated_at < $3 \
) AS x GROUP BY unit, service, tier, lo, hi";

#[cfg(test)]
mod tests {
    use super::*;

    fn fact() -> SumFact {
        SumFact {
            unit: "21.71.10.1001".into(),
            service: "s".into(),
            tier: None,
            submitted: 1_774_000_000,
            submitted_month: 202_603,
            closed: None,
            closed_month: None,
            outcome: None,
            deemed: 0,
            on_time: None,
            lead_min: None,
            returns: 0,
            breached_at: None,
            step_breached_at: None,
            escalated_at: None,
            tier_on_time: None,
        }
    }

    #[test]
    fn completing_later_marks_the_closing_month_only() {
        let tz = TimeZone::get("Asia/Jakarta").unwrap();
        let open = fact();
        let mut done = open.clone();
        done.closed = Some(1_775_500_000);
        done.closed_month = Some(202_604);
        done.outcome = Some("completed".into());
        done.lead_min = Some(300);
        let old: HashMap<String, SumFact> = [("c".to_owned(), open.clone())].into();
        assert_eq!(
            dirty_months(&old, [("c", done.clone())], &tz),
            BTreeSet::from([202_604])
        );
        assert!(dirty_months(&old, [("c", open.clone())], &tz).is_empty());
        // A new case marks its own months; a complaint classified later changes its rows.
        assert_eq!(
            dirty_months(&HashMap::new(), [("c", done.clone())], &tz),
            BTreeSet::from([202_603, 202_604])
        );
        let mut tiered = done.clone();
        tiered.tier = Some("ringan".into());
        let old: HashMap<String, SumFact> = [("c".to_owned(), done)].into();
        assert_eq!(
            dirty_months(&old, [("c", tiered)], &tz),
            BTreeSet::from([202_603, 202_604])
        );
        assert_eq!(next_month(202_612), 202_701);
        assert_eq!(next_month(202_603), 202_604);
    }
}
