//! Figures per unit, service and period, rolled up by region code prefix.
//!
//! The stores stream fact rows into a [`Builder`]; it keeps one exact, mergeable accumulator per
//! (unit, service) it saw (counts, sums, and every lead-time sample), and rolls them up into the
//! rows asked for by merging accumulators: a parent's percentiles come from its descendants'
//! samples, never from their percentiles.

use std::collections::{BTreeMap, HashMap};

use alur_core::region::{Region, RegionIndex, UnitLevel, code_within};
use jiff::Timestamp;
use serde::Serialize;

use crate::KpiError;
use crate::facts::{KpiContext, Outcome};
use crate::period::Period;
use crate::skm::{Grade, Ikm, SkmTally};

/// How the report's rows are chosen below the unit asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// The unit alone.
    Total,
    /// The unit and its children (the next level down).
    Children,
    /// The unit and its descendants at one level (kabupaten and kota are one level, as are
    /// kelurahan, desa and desa adat).
    Level(UnitLevel),
    /// The unit and every region below it, each rolled up.
    All,
}

impl std::str::FromStr for Grouping {
    type Err = KpiError;

    /// `children` (or `anak`), `all` (`semua`), `total`, or a level: `kabupaten`, `kota`,
    /// `kecamatan`, `kelurahan`, `desa`, … ([`UnitLevel::parse`]).
    fn from_str(s: &str) -> Result<Self, KpiError> {
        Ok(match s.trim() {
            "" | "children" | "anak" => Self::Children,
            "all" | "semua" => Self::All,
            "total" => Self::Total,
            l => Self::Level(UnitLevel::parse(l).ok_or_else(|| {
                KpiError::Invalid(format!(
                    "rows `{l}`: use children, kabupaten, kota, kecamatan, kelurahan, desa, all or total"
                ))
            })?),
        })
    }
}

/// What to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Tenant id.
    pub tenant: String,
    /// Region code prefix (`21`, `21.71`); empty for the whole country (nasional).
    pub unit: String,
    /// Period.
    pub period: Period,
    /// Rows.
    pub by: Grouping,
    /// One row per service under each unit as well.
    pub per_service: bool,
    /// Only this service.
    pub service: Option<String>,
    /// Backlog measured at this instant when it is before the period's end (e.g. now).
    pub as_of: Option<Timestamp>,
    /// Also the monthly trend of the period's year (for the dashboard).
    pub trend: bool,
}

impl Query {
    /// A report of `unit` for `period` with its children as rows.
    pub fn new(tenant: &str, unit: &str, period: Period) -> Self {
        Self {
            tenant: tenant.to_owned(),
            unit: normalize_unit(unit),
            period,
            by: Grouping::Children,
            per_service: false,
            service: None,
            as_of: None,
            trend: false,
        }
    }
}

/// `nasional` (any case) and `""` name the whole country.
pub fn normalize_unit(unit: &str) -> String {
    let u = unit.trim();
    if u.eq_ignore_ascii_case("nasional") {
        String::new()
    } else {
        u.to_owned()
    }
}

/// One case row as a store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseRef<'a> {
    /// Unit code.
    pub unit: &'a str,
    /// Service id.
    pub service: &'a str,
    /// Submission (Unix seconds).
    pub submitted: i64,
    /// Closing (Unix seconds).
    pub closed: Option<i64>,
    /// Outcome.
    pub outcome: Option<Outcome>,
    /// Deemed approval.
    pub deemed: bool,
    /// Closed by the deadline.
    pub on_time: Option<bool>,
    /// Working minutes to close.
    pub lead_min: Option<u32>,
    /// Returns to the applicant.
    pub returns: u32,
    /// First service-deadline breach.
    pub breached_at: Option<i64>,
    /// First step-deadline breach.
    pub step_breached_at: Option<i64>,
    /// First escalation.
    pub escalated_at: Option<i64>,
    /// Complaint tier.
    pub tier: Option<&'a str>,
    /// Complaint answered within its tier's time.
    pub tier_on_time: Option<bool>,
}

/// Per-step time as a store reads it (summed over the period's months).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRef<'a> {
    /// Unit code.
    pub unit: &'a str,
    /// Service id.
    pub service: &'a str,
    /// Step id.
    pub step: &'a str,
    /// Role that moved the case on.
    pub role: &'a str,
    /// Visits finished.
    pub visits: u64,
    /// Working minutes spent.
    pub minutes: u64,
}

/// Figures of one (unit, service) already summed by a database (PostgreSQL aggregates in SQL
/// and hands over the lead-time samples and the backlog's submission instants as arrays).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partial {
    /// Received in the period.
    pub received: u64,
    /// Completed in the period.
    pub completed: u64,
    /// Refused in the period.
    pub rejected: u64,
    /// Withdrawn in the period.
    pub withdrawn: u64,
    /// Deemed approvals in the period.
    pub deemed: u64,
    /// Decisions by the deadline.
    pub on_time: u64,
    /// Decisions with a known deadline.
    pub with_deadline: u64,
    /// Lead times of the decisions, working minutes.
    pub lead: Vec<u32>,
    /// Returns of cases closed in the period.
    pub returns: u64,
    /// Cases closed in the period returned at least once.
    pub reworked: u64,
    /// Service-deadline breaches in the period.
    pub breached: u64,
    /// Step-deadline breaches in the period.
    pub step_breached: u64,
    /// Escalations in the period.
    pub escalated: u64,
    /// Submission instants (Unix seconds) of the cases open at the backlog instant.
    pub backlog_submitted: Vec<i64>,
    /// Complaints by tier (`-` unclassified): received, answered, in time.
    pub complaints: Vec<(String, u64, u64, u64)>,
}

/// One month of the trend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrendPoint {
    /// `yyyymm`.
    pub month: i64,
    /// Received.
    pub received: u64,
    /// Decided (completed or refused).
    pub decided: u64,
    /// Decided by the deadline.
    pub on_time: u64,
    /// Decisions whose deadline is known.
    pub with_deadline: u64,
}

#[derive(Debug, Clone, Default)]
struct TierAcc {
    received: u64,
    answered: u64,
    in_time: u64,
}

/// An exact, mergeable accumulator.
#[derive(Debug, Clone, Default)]
struct Acc {
    received: u64,
    completed: u64,
    rejected: u64,
    withdrawn: u64,
    deemed: u64,
    on_time: u64,
    with_deadline: u64,
    lead: Vec<u32>,
    returns: u64,
    reworked: u64,
    breached: u64,
    step_breached: u64,
    escalated: u64,
    backlog: u64,
    backlog_age_sum: u64,
    backlog_age_max: u32,
    complaints: BTreeMap<String, TierAcc>,
    steps: BTreeMap<(String, String), (u64, u64)>,
    roles: BTreeMap<String, (u64, u64)>,
    skm: SkmTally,
}

impl Acc {
    fn merge(&mut self, o: &Acc) {
        self.received += o.received;
        self.completed += o.completed;
        self.rejected += o.rejected;
        self.withdrawn += o.withdrawn;
        self.deemed += o.deemed;
        self.on_time += o.on_time;
        self.with_deadline += o.with_deadline;
        self.lead.extend_from_slice(&o.lead);
        self.returns += o.returns;
        self.reworked += o.reworked;
        self.breached += o.breached;
        self.step_breached += o.step_breached;
        self.escalated += o.escalated;
        self.backlog += o.backlog;
        self.backlog_age_sum += o.backlog_age_sum;
        self.backlog_age_max = self.backlog_age_max.max(o.backlog_age_max);
        for (k, v) in &o.complaints {
            let t = self.complaints.entry(k.clone()).or_default();
            t.received += v.received;
            t.answered += v.answered;
            t.in_time += v.in_time;
        }
        for (k, v) in &o.steps {
            let s = self.steps.entry(k.clone()).or_default();
            s.0 += v.0;
            s.1 += v.1;
        }
        for (k, v) in &o.roles {
            let s = self.roles.entry(k.clone()).or_default();
            s.0 += v.0;
            s.1 += v.1;
        }
        self.skm.merge(&o.skm);
    }
}

/// Nearest-rank percentile (`p` in 0–1) of sorted samples.
pub fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    Some(sorted[rank - 1])
}

/// [`percentile`] of samples in any order, found by selection (reorders them).
fn percentile_of_unsorted(samples: &mut [u32], p: f64) -> Option<u32> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.len();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    Some(*samples.select_nth_unstable(rank - 1).1)
}

fn hours(minutes: f64) -> f64 {
    (minutes / 60.0 * 100.0).round() / 100.0
}

fn pct(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| (a as f64 * 10_000.0 / b as f64).round() / 100.0)
}

/// The figures of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Applications received in the period.
    pub received: u64,
    /// Completed (granted) in the period, deemed approvals included.
    pub completed: u64,
    /// Decisions (completed or refused) by the deadline.
    pub on_time: u64,
    /// `on_time` as a share of decisions whose deadline is known, in percent.
    pub on_time_pct: Option<f64>,
    /// Decisions (completed or refused) made before the service clock started ("diputus sebelum
    /// berkas lengkap", e.g. refused at the operator's completeness check): they have no service
    /// deadline, so they are neither on time nor late and are left out of `on_time_pct`.
    pub decided_before_clock: u64,
    /// Median lead time of decisions, working hours (applicant's time excluded).
    pub lead_median_h: Option<f64>,
    /// 90th percentile lead time, working hours.
    pub lead_p90_h: Option<f64>,
    /// Refused.
    pub refused: u64,
    /// Withdrawn by the applicant.
    pub withdrawn: u64,
    /// Completed by deemed approval (fiktif positif).
    pub deemed_approved: u64,
    /// Returns to the applicant (rework) of cases closed in the period.
    pub returned: u64,
    /// Cases closed in the period that were returned at least once.
    pub reworked: u64,
    /// Cases whose service deadline passed in the period.
    pub breached: u64,
    /// Cases whose step deadline first passed in the period.
    pub step_breached: u64,
    /// Cases first escalated to a supervisor in the period.
    pub escalated: u64,
    /// Open cases at the end of the period (or at `as_of`).
    pub backlog: u64,
    /// Mean age of the backlog, working hours.
    pub backlog_age_mean_h: Option<f64>,
    /// Oldest open case, working hours.
    pub backlog_age_max_h: Option<f64>,
    /// Complaints received.
    pub complaints: u64,
    /// Complaints answered (closed with a decision) in the period.
    pub complaints_answered: u64,
    /// Of those, within their tier's response time.
    pub complaints_in_time: u64,
    /// Satisfaction index, 25–100.
    pub ikm: Option<f64>,
    /// Its grade.
    pub grade: Option<Grade>,
    /// Survey respondents.
    pub respondents: u64,
}

/// Time spent in one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepFigure {
    /// Service id.
    pub service: String,
    /// Step id.
    pub step: String,
    /// Step name, when the configuration has it.
    pub name: String,
    /// Visits finished.
    pub visits: u64,
    /// Mean working hours per visit.
    pub mean_h: f64,
}

/// Time spent per role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleFigure {
    /// Role id (`pemohon`: the applicant; `sistem`: the system).
    pub role: String,
    /// Steps finished.
    pub visits: u64,
    /// Mean working hours per step.
    pub mean_h: f64,
}

/// Complaints of one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierFigure {
    /// Tier id (`-` when not classified).
    pub tier: String,
    /// Received.
    pub received: u64,
    /// Answered.
    pub answered: u64,
    /// Answered within the tier's time.
    pub in_time: u64,
}

/// One row: a region (and a service, or all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Region code (empty: nasional).
    pub code: String,
    /// Region name.
    pub name: String,
    /// Level (`provinsi`, `kota`, …, `nasional`).
    pub level: String,
    /// Service id, or `None` for all services.
    pub service: Option<String>,
    /// The figures.
    pub figures: Figures,
    /// Time per step, slowest first.
    pub steps: Vec<StepFigure>,
    /// Time per role.
    pub roles: Vec<RoleFigure>,
    /// Complaints by tier.
    pub complaint_tiers: Vec<TierFigure>,
    /// The satisfaction index in detail.
    pub skm: Option<Ikm>,
}

/// A unit's backlog, for the "largest backlogs" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Unit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Open cases.
    pub backlog: u64,
}

/// A finished report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Region asked for (empty: nasional).
    pub unit: String,
    /// Its name.
    pub unit_name: String,
    /// Period (`2026-03`).
    pub period: String,
    /// Indonesian name of the period.
    pub period_label: String,
    /// Start of the period.
    pub from: Timestamp,
    /// End of the period (exclusive).
    pub to: Timestamp,
    /// When the backlog was measured.
    pub backlog_at: Timestamp,
    /// Rows: the unit first, then the others by code (and service).
    pub rows: Vec<Row>,
    /// Monthly trend of the year, when asked for.
    pub trend: Vec<TrendPoint>,
    /// The ten units with the largest backlogs.
    pub largest_backlogs: Vec<Backlog>,
    /// The ten slowest steps (mean time), over the whole region.
    pub slowest_steps: Vec<StepFigure>,
}

/// Collects fact rows and rolls them up.
#[derive(Debug)]
pub struct Builder<'a> {
    ctx: &'a KpiContext,
    query: Query,
    regions: &'a RegionIndex,
    start: i64,
    end: i64,
    from: Timestamp,
    to: Timestamp,
    backlog_at: Timestamp,
    /// Unit → service → figures. hashbrown's `entry_ref` looks a row's unit and service up by
    /// `&str` and allocates their keys only when they are new.
    leaves: hashbrown::HashMap<String, hashbrown::HashMap<String, Acc>>,
    trend: BTreeMap<i64, TrendPoint>,
}

impl<'a> Builder<'a> {
    /// A builder for `query`.
    ///
    /// # Errors
    /// [`KpiError::Invalid`] for a unit code not in the Kemendagri data or a period that cannot
    /// be placed in the tenant's zone; [`KpiError::Regions`] when the embedded data is damaged.
    pub fn new(ctx: &'a KpiContext, query: &Query) -> Result<Self, KpiError> {
        let regions = RegionIndex::embedded().map_err(|e| KpiError::Regions(e.to_string()))?;
        let mut query = query.clone();
        query.unit = normalize_unit(&query.unit);
        if !query.unit.is_empty() && regions.get(&query.unit).is_none() {
            return Err(KpiError::Invalid(format!(
                "unit code `{}` does not exist in the Kemendagri data; use a code such as 21 or 21.71.10",
                query.unit
            )));
        }
        let (from, to) = query.period.bounds(ctx.time_zone())?;
        let backlog_at = query.as_of.map_or(to, |a| a.clamp(from, to));
        Ok(Self {
            ctx,
            regions,
            start: from.as_second(),
            end: to.as_second(),
            from,
            to,
            backlog_at,
            query,
            leaves: hashbrown::HashMap::new(),
            trend: BTreeMap::new(),
        })
    }

    /// The query (unit normalised).
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// `[start, end)` of the period, Unix seconds.
    pub fn bounds(&self) -> (i64, i64) {
        (self.start, self.end)
    }

    fn wanted(&self, unit: &str, service: &str) -> bool {
        (self.query.unit.is_empty() || code_within(unit, &self.query.unit))
            && self.query.service.as_deref().is_none_or(|s| s == service)
    }

    fn acc(&mut self, unit: &str, service: &str) -> &mut Acc {
        self.leaves
            .entry_ref(unit)
            .or_default()
            .entry_ref(service)
            .or_default()
    }

    /// Add one case (rows outside the unit, service or period are ignored).
    pub fn add_case(&mut self, c: &CaseRef<'_>) {
        if !self.wanted(c.unit, c.service) {
            return;
        }
        let (s, e) = (self.start, self.end);
        let within = |t: Option<i64>| t.is_some_and(|t| t >= s && t < e);
        let at = self.backlog_at.as_second();
        let received = within(Some(c.submitted));
        let closed_in = within(c.closed);
        let open_at_end = c.submitted < at && c.closed.is_none_or(|x| x >= at);
        let breached = within(c.breached_at);
        let step_breached = within(c.step_breached_at);
        let escalated = within(c.escalated_at);
        if !(received || closed_in || open_at_end || breached || step_breached || escalated) {
            return;
        }
        let complaint = self
            .ctx
            .services
            .get(c.service)
            .is_some_and(|i| i.complaint);
        let age = if open_at_end {
            let cal = self.ctx.calendar(c.unit);
            Timestamp::from_second(c.submitted)
                .ok()
                .and_then(|t| cal.working_minutes_between(t, self.backlog_at).ok())
                .map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX))
        } else {
            0
        };
        let a = self.acc(c.unit, c.service);
        if received {
            a.received += 1;
        }
        if closed_in {
            match c.outcome {
                Some(Outcome::Completed) => a.completed += 1,
                Some(Outcome::Rejected) => a.rejected += 1,
                Some(Outcome::Withdrawn) => a.withdrawn += 1,
                None => {}
            }
            if c.deemed {
                a.deemed += 1;
            }
            if matches!(c.outcome, Some(Outcome::Completed | Outcome::Rejected)) {
                if let Some(l) = c.lead_min {
                    a.lead.push(l);
                }
                if let Some(t) = c.on_time {
                    a.with_deadline += 1;
                    a.on_time += u64::from(t);
                }
            }
            a.returns += u64::from(c.returns);
            a.reworked += u64::from(c.returns > 0);
        }
        a.breached += u64::from(breached);
        a.step_breached += u64::from(step_breached);
        a.escalated += u64::from(escalated);
        if open_at_end {
            a.backlog += 1;
            a.backlog_age_sum += u64::from(age);
            a.backlog_age_max = a.backlog_age_max.max(age);
        }
        if complaint && (received || closed_in) {
            let t = a
                .complaints
                .entry(c.tier.unwrap_or("-").to_owned())
                .or_default();
            t.received += u64::from(received);
            if closed_in && matches!(c.outcome, Some(Outcome::Completed | Outcome::Rejected)) {
                t.answered += 1;
                t.in_time += u64::from(c.tier_on_time == Some(true));
            }
        }
    }

    /// Backlog instant (Unix seconds).
    pub fn backlog_at(&self) -> i64 {
        self.backlog_at.as_second()
    }

    /// Add figures a database summed for one (unit, service).
    pub fn add_partial(&mut self, unit: &str, service: &str, p: Partial) {
        if !self.wanted(unit, service) {
            return;
        }
        let cal = self.ctx.calendar(unit);
        let at = self.backlog_at;
        let ages: Vec<u32> = p
            .backlog_submitted
            .iter()
            .map(|&s| {
                Timestamp::from_second(s)
                    .ok()
                    .and_then(|t| cal.working_minutes_between(t, at).ok())
                    .map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX))
            })
            .collect();
        let a = self.acc(unit, service);
        a.received += p.received;
        a.completed += p.completed;
        a.rejected += p.rejected;
        a.withdrawn += p.withdrawn;
        a.deemed += p.deemed;
        a.on_time += p.on_time;
        a.with_deadline += p.with_deadline;
        a.lead.extend_from_slice(&p.lead);
        a.returns += p.returns;
        a.reworked += p.reworked;
        a.breached += p.breached;
        a.step_breached += p.step_breached;
        a.escalated += p.escalated;
        a.backlog += ages.len() as u64;
        a.backlog_age_sum += ages.iter().map(|&x| u64::from(x)).sum::<u64>();
        a.backlog_age_max = a
            .backlog_age_max
            .max(ages.iter().copied().max().unwrap_or(0));
        for (tier, r, ans, it) in p.complaints {
            let t = a.complaints.entry(tier).or_default();
            t.received += r;
            t.answered += ans;
            t.in_time += it;
        }
    }

    /// Add step time (already limited to the period's months by the store).
    pub fn add_step(&mut self, r: &StepRef<'_>) {
        if !self.wanted(r.unit, r.service) {
            return;
        }
        let a = self.acc(r.unit, r.service);
        let s = a
            .steps
            .entry((r.service.to_owned(), r.step.to_owned()))
            .or_default();
        s.0 += r.visits;
        s.1 += r.minutes;
        let s = a.roles.entry(r.role.to_owned()).or_default();
        s.0 += r.visits;
        s.1 += r.minutes;
    }

    /// Add survey answers (already limited to the period's months by the store).
    pub fn add_skm(&mut self, unit: &str, service: &str, tally: &SkmTally) {
        if !self.wanted(unit, service) {
            return;
        }
        self.acc(unit, service).skm.merge(tally);
    }

    /// Add one month of the trend (already limited to the unit and service by the store).
    pub fn add_trend(&mut self, p: TrendPoint) {
        let t = self.trend.entry(p.month).or_insert(TrendPoint {
            month: p.month,
            ..TrendPoint::default()
        });
        t.received += p.received;
        t.decided += p.decided;
        t.on_time += p.on_time;
        t.with_deadline += p.with_deadline;
    }

    fn name_of(&self, code: &str) -> (String, String) {
        if code.is_empty() {
            return ("Nasional".into(), "nasional".into());
        }
        match self.regions.get(code) {
            Some(r) => (r.display_name(), r.level.as_str().to_owned()),
            None => (code.to_owned(), String::new()),
        }
    }

    /// Region codes of the rows (the unit first).
    fn targets(&self) -> Vec<String> {
        let unit = &self.query.unit;
        let top: Vec<String> = if unit.is_empty() {
            (11..=99)
                .map(|i| format!("{i:02}"))
                .filter(|c| self.regions.get(c).is_some())
                .collect()
        } else {
            self.regions.children(unit).to_vec()
        };
        let mut all: Vec<String> = Vec::new();
        let mut stack: Vec<String> = top.clone();
        let want_all = matches!(self.query.by, Grouping::All | Grouping::Level(_));
        if want_all {
            while let Some(c) = stack.pop() {
                stack.extend(self.regions.children(&c).iter().cloned());
                all.push(c);
            }
        }
        let mut out = match self.query.by {
            Grouping::Total => Vec::new(),
            Grouping::Children => top,
            Grouping::All => all,
            Grouping::Level(l) => all
                .into_iter()
                .filter(|c| {
                    self.regions
                        .get(c)
                        .is_some_and(|r| r.level.depth() == l.depth())
                })
                .collect(),
        };
        out.sort();
        out.insert(0, unit.clone());
        out
    }

    /// Roll up and finish.
    pub fn finish(self) -> Report {
        let targets = self.targets();
        let depth_of = |c: &str| {
            if c.is_empty() {
                0
            } else {
                c.split('.').count()
            }
        };
        let target_depths: Vec<usize> = {
            let mut d: Vec<usize> = targets.iter().map(|c| depth_of(c)).collect();
            d.sort_unstable();
            d.dedup();
            d
        };
        let index: HashMap<&str, usize> = targets
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        // rows[i]: (all services, per service)
        let mut rows: Vec<(Acc, BTreeMap<String, Acc>)> =
            (0..targets.len()).map(|_| Default::default()).collect();
        let mut by_leaf: BTreeMap<&str, u64> = BTreeMap::new();
        let mut leaves: Vec<(&String, &hashbrown::HashMap<String, Acc>)> =
            self.leaves.iter().collect();
        leaves.sort_by(|a, b| a.0.cmp(b.0));
        for (unit, services) in leaves {
            let mut services: Vec<(&String, &Acc)> = services.iter().collect();
            services.sort_by(|a, b| a.0.cmp(b.0));
            *by_leaf.entry(unit.as_str()).or_default() +=
                services.iter().map(|(_, a)| a.backlog).sum::<u64>();
            for &d in &target_depths {
                let prefix = prefix_at(unit, d);
                let Some(prefix) = prefix else { continue };
                let Some(&i) = index.get(prefix) else {
                    continue;
                };
                for (service, acc) in &services {
                    rows[i].0.merge(acc);
                    if self.query.per_service {
                        rows[i].1.entry((*service).clone()).or_default().merge(acc);
                    }
                }
            }
        }
        let mut out_rows = Vec::new();
        let mut slowest = Vec::new();
        for (i, (code, (total, per_service))) in targets.iter().zip(rows).enumerate() {
            let (name, level) = self.name_of(code);
            let row = self.row(code, &name, &level, None, total);
            if i == 0 {
                slowest = row.steps.iter().take(10).cloned().collect();
            }
            out_rows.push(row);
            for (service, acc) in per_service {
                out_rows.push(self.row(code, &name, &level, Some(service), acc));
            }
        }
        let mut largest: Vec<Backlog> = by_leaf
            .into_iter()
            .filter(|(_, b)| *b > 0)
            .map(|(c, b)| Backlog {
                code: c.to_owned(),
                name: self.name_of(c).0,
                backlog: b,
            })
            .collect();
        largest.sort_by(|a, b| b.backlog.cmp(&a.backlog).then(a.code.cmp(&b.code)));
        largest.truncate(10);
        let (name, _) = self.name_of(&self.query.unit);
        Report {
            unit: self.query.unit.clone(),
            unit_name: name,
            period: self.query.period.to_string(),
            period_label: self.query.period.label(),
            from: self.from,
            to: self.to,
            backlog_at: self.backlog_at,
            rows: out_rows,
            trend: self.trend.values().copied().collect(),
            largest_backlogs: largest,
            slowest_steps: slowest,
        }
    }

    fn row(&self, code: &str, name: &str, level: &str, service: Option<String>, mut a: Acc) -> Row {
        // Two ranks by selection, not a full sort (the same nearest-rank samples).
        let median = percentile_of_unsorted(&mut a.lead, 0.5);
        let p90 = percentile_of_unsorted(&mut a.lead, 0.9);
        let ikm = a.skm.index();
        let step_name = |service: &str, step: &str| {
            self.ctx
                .services
                .get(service)
                .and_then(|i| i.step_names.get(step))
                .cloned()
                .unwrap_or_else(|| step.to_owned())
        };
        let mut steps: Vec<StepFigure> = a
            .steps
            .iter()
            .filter(|(_, v)| v.0 > 0)
            .map(|((svc, step), (n, m))| StepFigure {
                service: svc.clone(),
                step: step.clone(),
                name: step_name(svc, step),
                visits: *n,
                mean_h: hours(*m as f64 / *n as f64),
            })
            .collect();
        steps.sort_by(|x, y| {
            y.mean_h
                .total_cmp(&x.mean_h)
                .then_with(|| (&x.service, &x.step).cmp(&(&y.service, &y.step)))
        });
        let roles = a
            .roles
            .iter()
            .filter(|(_, v)| v.0 > 0)
            .map(|(r, (n, m))| RoleFigure {
                role: r.clone(),
                visits: *n,
                mean_h: hours(*m as f64 / *n as f64),
            })
            .collect();
        let complaint_tiers: Vec<TierFigure> = a
            .complaints
            .iter()
            .map(|(t, v)| TierFigure {
                tier: t.clone(),
                received: v.received,
                answered: v.answered,
                in_time: v.in_time,
            })
            .collect();
        let figures = Figures {
            received: a.received,
            completed: a.completed,
            on_time: a.on_time,
            on_time_pct: pct(a.on_time, a.with_deadline),
            decided_before_clock: (a.completed + a.rejected).saturating_sub(a.with_deadline),
            lead_median_h: median.map(|m| hours(f64::from(m))),
            lead_p90_h: p90.map(|m| hours(f64::from(m))),
            refused: a.rejected,
            withdrawn: a.withdrawn,
            deemed_approved: a.deemed,
            returned: a.returns,
            reworked: a.reworked,
            breached: a.breached,
            step_breached: a.step_breached,
            escalated: a.escalated,
            backlog: a.backlog,
            backlog_age_mean_h: (a.backlog > 0)
                .then(|| hours(a.backlog_age_sum as f64 / a.backlog as f64)),
            backlog_age_max_h: (a.backlog > 0).then(|| hours(f64::from(a.backlog_age_max))),
            complaints: complaint_tiers.iter().map(|t| t.received).sum(),
            complaints_answered: complaint_tiers.iter().map(|t| t.answered).sum(),
            complaints_in_time: complaint_tiers.iter().map(|t| t.in_time).sum(),
            ikm: ikm.map(|i| (i.converted * 100.0).round() / 100.0),
            grade: ikm.map(|i| i.grade),
            respondents: a.skm.respondents,
        };
        Row {
            code: code.to_owned(),
            name: name.to_owned(),
            level: level.to_owned(),
            service,
            figures,
            steps,
            roles,
            complaint_tiers,
            skm: ikm,
        }
    }
}

/// The ancestor code of `code` with `depth` parts (`""` at depth 0), if `code` is that deep.
pub fn prefix_at(code: &str, depth: usize) -> Option<&str> {
    if depth == 0 {
        return Some("");
    }
    let mut seen = 0;
    for (i, b) in code.bytes().enumerate() {
        if b == b'.' {
            seen += 1;
            if seen == depth {
                return Some(&code[..i]);
            }
        }
    }
    (seen + 1 == depth).then_some(code)
}

/// Regions below `code` at the depth of `level` (helper for callers listing units).
pub fn regions_at<'r>(regions: &'r RegionIndex, code: &str, level: UnitLevel) -> Vec<&'r Region> {
    let mut out = Vec::new();
    let mut stack: Vec<&str> = regions.children(code).iter().map(String::as_str).collect();
    while let Some(c) = stack.pop() {
        if let Some(r) = regions.get(c)
            && r.level.depth() == level.depth()
        {
            out.push(r);
            continue;
        }
        stack.extend(regions.children(c).iter().map(String::as_str));
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(prefix_at("21.71.10.1001", 0), Some(""));
        assert_eq!(prefix_at("21.71.10.1001", 1), Some("21"));
        assert_eq!(prefix_at("21.71.10.1001", 2), Some("21.71"));
        assert_eq!(prefix_at("21.71.10.1001", 4), Some("21.71.10.1001"));
        assert_eq!(prefix_at("21.71", 3), None);
    }

    #[test]
    fn nearest_rank() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 0.5), Some(5));
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
        let mut shuffled = [7, 3, 10, 1, 9, 2, 8, 4, 6, 5];
        for p in [0.0, 0.1, 0.5, 0.9, 0.95, 1.0] {
            assert_eq!(percentile_of_unsorted(&mut shuffled, p), percentile(&v, p));
        }
        assert_eq!(percentile_of_unsorted(&mut [], 0.5), None);
    }
}
