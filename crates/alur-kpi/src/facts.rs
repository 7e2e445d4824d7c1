//! From a case's audit entries to its facts: one row per case, finished step visits and survey
//! answers. Pure: the stores read entries and write what this returns.

use std::collections::{BTreeMap, BTreeSet};

use alur_calendar::{SlaDuration, WorkingCalendar};
use alur_core::calendars::Calendars;
use alur_core::model::{Category, StepKind};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::period::month_key;
use crate::skm;

/// What the facts need from the configuration: calendars, each service's SLA, its applicant
/// steps and complaint tiers.
#[derive(Debug, Clone)]
pub struct KpiContext {
    /// The tenant's calendars (working time per unit).
    pub calendars: Calendars,
    /// Services by id.
    pub services: BTreeMap<String, ServiceInfo>,
}

/// One service as the KPIs see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Indonesian name.
    pub name: String,
    /// Published completion time (the SLA).
    pub sla: SlaDuration,
    /// Whether this is a complaint service (category `pengaduan`).
    pub complaint: bool,
    /// Steps where the case waits for the applicant.
    pub applicant_steps: BTreeSet<String>,
    /// Step names by id.
    pub step_names: BTreeMap<String, String>,
    /// Complaint tiers: id, name, response time.
    pub tiers: Vec<(String, String, SlaDuration)>,
}

/// The field of a complaint that holds the tier the complaint officer assigned.
pub const TIER_FIELD: &str = "klasifikasi";

impl KpiContext {
    /// From a loaded configuration.
    pub fn from_config(config: &alur_core::Config) -> Self {
        let services = config
            .services
            .values()
            .map(|d| {
                (
                    d.id.clone(),
                    ServiceInfo {
                        name: d.name.clone(),
                        sla: d.completion_time,
                        complaint: d.category == Category::Pengaduan,
                        applicant_steps: d
                            .steps
                            .iter()
                            .filter(|s| matches!(s.kind, StepKind::Applicant))
                            .map(|s| s.id.clone())
                            .collect(),
                        step_names: d
                            .steps
                            .iter()
                            .map(|s| (s.id.clone(), s.name.clone()))
                            .collect(),
                        tiers: d
                            .complaint_tiers
                            .iter()
                            .map(|t| (t.id.clone(), t.name.clone(), t.response))
                            .collect(),
                    },
                )
            })
            .collect();
        Self {
            calendars: config.calendars.clone(),
            services,
        }
    }

    /// The zone periods and months are counted in (the tenant's default calendar's).
    pub fn time_zone(&self) -> &TimeZone {
        self.calendars.default_calendar().time_zone()
    }

    /// The calendar of a unit.
    pub fn calendar(&self, unit: &str) -> &WorkingCalendar {
        self.calendars.for_unit(unit)
    }

    /// The tier id a complaint officer's classification names (by id or name, any case,
    /// spaces or hyphens), if any.
    pub fn tier_of(&self, service: &str, value: &str) -> Option<String> {
        let norm = |s: &str| {
            s.trim()
                .to_lowercase()
                .replace(['-', '_'], " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let v = norm(value);
        let info = self.services.get(service)?;
        info.tiers
            .iter()
            .find(|(id, name, _)| norm(id) == v || norm(name) == v)
            .map(|(id, _, _)| id.clone())
    }
}

/// One audit entry as stored: the columns the facts need, JSON still as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// Sequence number in the case's chain.
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// `EventKind` as JSON.
    pub event: String,
    /// `ActorRecord` as JSON.
    pub actor: String,
    /// `Due` as JSON, when the entry set deadlines.
    pub due: Option<String>,
}

/// The lenient shape of an event: only what the facts read, unknown events and fields ignored
/// (so entries written by a newer engine still parse).
#[derive(Debug, Deserialize)]
struct Ev {
    event: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    unit: Option<serde_json::Value>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<serde_json::Value>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    vote_only: bool,
    #[serde(default)]
    escalated_to: Option<String>,
    #[serde(default)]
    scores: Option<Vec<u8>>,
}

#[derive(Debug, Deserialize)]
struct ActorJson {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DueJson {
    #[serde(default)]
    due_at: Option<Timestamp>,
}

/// Final outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Granted and done (also by deemed approval).
    Completed,
    /// Refused.
    Rejected,
    /// Withdrawn by the applicant.
    Withdrawn,
}

impl Outcome {
    /// Key as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Parse a stored key.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "completed" => Some(Self::Completed),
            "rejected" => Some(Self::Rejected),
            "withdrawn" => Some(Self::Withdrawn),
            _ => None,
        }
    }
}

/// The facts of one case (a `kpi_cases` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFact {
    /// Case id.
    pub case_id: String,
    /// Unit code.
    pub unit: String,
    /// Service id.
    pub service: String,
    /// Submission (Unix seconds).
    pub submitted: i64,
    /// Month of submission (`yyyymm`, tenant zone).
    pub submitted_month: i64,
    /// Closing (Unix seconds), `None` while open.
    pub closed: Option<i64>,
    /// Month of closing.
    pub closed_month: Option<i64>,
    /// Outcome once closed.
    pub outcome: Option<Outcome>,
    /// Completed by deemed approval.
    pub deemed: bool,
    /// The service deadline the engine last recorded (`None` when the clock never started).
    pub due: Option<i64>,
    /// Closed by the deadline (decisions only; `None` while open, when withdrawn, or unknown).
    pub on_time: Option<bool>,
    /// Working minutes from submission to closing, the applicant's time excluded.
    pub lead_min: Option<u32>,
    /// Working minutes the applicant held the case.
    pub paused_min: u32,
    /// Returns to the applicant.
    pub returns: u32,
    /// First breach of the service deadline.
    pub breached_at: Option<i64>,
    /// First breach of a step deadline.
    pub step_breached_at: Option<i64>,
    /// First escalation to a supervisor.
    pub escalated_at: Option<i64>,
    /// Complaint tier id.
    pub tier: Option<String>,
    /// Complaint answered within its tier's response time.
    pub tier_on_time: Option<bool>,
    /// Last audit sequence number read.
    pub last_seq: u64,
}

/// A finished stay of a case in a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepVisit {
    /// Step id.
    pub step: String,
    /// Role that moved the case on (`pemohon` for the applicant, `sistem` for the system).
    pub role: String,
    /// Month the case left the step (`yyyymm`).
    pub month: i64,
    /// Working minutes spent.
    pub minutes: u32,
}

/// One survey answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// Month answered (`yyyymm`).
    pub month: i64,
    /// The nine scores.
    pub scores: [u8; 9],
}

/// Everything derived from one case's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The case row.
    pub fact: CaseFact,
    /// Finished step visits, in order.
    pub visits: Vec<StepVisit>,
    /// Valid survey answers, in order.
    pub ratings: Vec<Rating>,
}

fn minutes(cal: &WorkingCalendar, a: Timestamp, b: Timestamp) -> u32 {
    cal.working_minutes_between(a, b)
        .map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX))
}

/// Derive a case's facts from its entries (in sequence order). `tier_value` is the complaint
/// classification the officer entered, when the case is a complaint and it is known.
///
/// Returns `None` when the entries do not start with a submission (a configuration chain, or a
/// case whose first entries are not there yet).
pub fn derive(
    case_id: &str,
    entries: &[RawEntry],
    tier_value: Option<&str>,
    ctx: &KpiContext,
) -> Option<Derived> {
    let first = entries.first()?;
    let ev0: Ev = serde_json::from_str(&first.event).ok()?;
    if ev0.event != "submitted" {
        return None;
    }
    let service = ev0.service.clone().unwrap_or_default();
    let unit = match &ev0.unit {
        Some(serde_json::Value::String(u)) => u.clone(),
        _ => return None,
    };
    let info = ctx.services.get(&service);
    let cal = ctx.calendar(&unit);
    let tz = ctx.time_zone();
    let submitted = first.at;

    let mut parsed: Vec<(Ev, ActorJson)> = Vec::with_capacity(entries.len());
    for e in entries {
        let Ok(ev) = serde_json::from_str::<Ev>(&e.event) else {
            continue;
        };
        let actor = serde_json::from_str::<ActorJson>(&e.actor).unwrap_or(ActorJson {
            kind: String::new(),
            role: None,
        });
        parsed.push((ev, actor));
    }
    // Applicant steps: from the definition, and any step the applicant moved a case out of.
    let mut applicant_steps: BTreeSet<&str> = info
        .map(|i| i.applicant_steps.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for (ev, actor) in &parsed {
        if ev.event == "acted"
            && actor.kind == "applicant"
            && let Some(f) = &ev.from
        {
            applicant_steps.insert(f.as_str());
        }
    }

    let mut fact = CaseFact {
        case_id: case_id.to_owned(),
        unit: unit.clone(),
        service: service.clone(),
        submitted: submitted.as_second(),
        submitted_month: month_key(submitted, tz),
        closed: None,
        closed_month: None,
        outcome: None,
        deemed: false,
        due: None,
        on_time: None,
        lead_min: None,
        paused_min: 0,
        returns: 0,
        breached_at: None,
        step_breached_at: None,
        escalated_at: None,
        tier: None,
        tier_on_time: None,
        last_seq: entries.last().map_or(0, |e| e.seq),
    };
    let mut visits = Vec::new();
    let mut ratings = Vec::new();
    let mut current: Option<(String, Timestamp)> = None;
    let mut due: Option<Timestamp> = None;
    let mut closed: Option<Timestamp> = None;
    let mut paused = 0u32;

    let leave = |current: &mut Option<(String, Timestamp)>,
                 at: Timestamp,
                 role: String,
                 paused: &mut u32,
                 visits: &mut Vec<StepVisit>| {
        if let Some((step, since)) = current.take() {
            let m = minutes(cal, since, at);
            if applicant_steps.contains(step.as_str()) {
                *paused = paused.saturating_add(m);
            }
            visits.push(StepVisit {
                step,
                role,
                month: month_key(at, tz),
                minutes: m,
            });
        }
    };
    let role_of = |a: &ActorJson| -> String {
        match (a.kind.as_str(), &a.role) {
            (_, Some(r)) => r.clone(),
            ("applicant", None) => "pemohon".into(),
            ("system", None) | ("", None) => "sistem".into(),
            (k, None) => k.to_owned(),
        }
    };

    for (e, (ev, actor)) in entries.iter().zip(&parsed) {
        let at = e.at;
        if let Some(d) = e
            .due
            .as_deref()
            .and_then(|d| serde_json::from_str::<DueJson>(d).ok())
            .and_then(|d| d.due_at)
        {
            due = Some(d);
        }
        match ev.event.as_str() {
            "submitted" => {
                if let Some(serde_json::Value::String(to)) = &ev.to {
                    current = Some((to.clone(), at));
                }
            }
            "acted" if !ev.vote_only && closed.is_none() => {
                leave(&mut current, at, role_of(actor), &mut paused, &mut visits);
                match &ev.to {
                    Some(serde_json::Value::String(to)) => {
                        if applicant_steps.contains(to.as_str()) {
                            fact.returns += 1;
                        }
                        current = Some((to.clone(), at));
                    }
                    _ => {
                        if let Some(o) = ev.outcome.as_deref().and_then(Outcome::parse) {
                            fact.outcome = Some(o);
                            closed = Some(at);
                        }
                    }
                }
            }
            "withdrawn" if closed.is_none() => {
                leave(&mut current, at, "pemohon".into(), &mut paused, &mut visits);
                fact.outcome = Some(Outcome::Withdrawn);
                closed = Some(at);
            }
            "deemed_approved" if closed.is_none() => {
                leave(&mut current, at, "sistem".into(), &mut paused, &mut visits);
                fact.outcome = Some(Outcome::Completed);
                fact.deemed = true;
                closed = Some(at);
            }
            "breached" => {
                fact.breached_at.get_or_insert(at.as_second());
                if ev.escalated_to.is_some() {
                    fact.escalated_at.get_or_insert(at.as_second());
                }
            }
            "step_breached" => {
                fact.step_breached_at.get_or_insert(at.as_second());
                if ev.escalated_to.is_some() {
                    fact.escalated_at.get_or_insert(at.as_second());
                }
            }
            "rated" => {
                if let Some(Ok(scores)) = ev.scores.as_deref().map(skm::validate) {
                    ratings.push(Rating {
                        month: month_key(at, tz),
                        scores,
                    });
                }
            }
            _ => {}
        }
    }
    fact.paused_min = paused;

    // The deadline is the one the engine recorded, never one computed here: a case decided
    // before its service clock started (refused at the completeness check) has none, and is
    // counted apart ("diputus sebelum berkas lengkap"), neither on time nor late.
    fact.due = due.map(Timestamp::as_second);
    if let Some(c) = closed {
        fact.closed = Some(c.as_second());
        fact.closed_month = Some(month_key(c, tz));
        fact.lead_min = Some(minutes(cal, submitted, c).saturating_sub(paused));
        if matches!(fact.outcome, Some(Outcome::Completed | Outcome::Rejected)) {
            fact.on_time = due.map(|d| !fact.deemed && c <= d);
        }
    }
    if let (Some(i), Some(v)) = (info.filter(|i| i.complaint), tier_value)
        && let Some(tier) = ctx.tier_of(&service, v)
    {
        let response = i.tiers.iter().find(|t| t.0 == tier).map(|t| t.2);
        if let (Some(c), Some(r)) = (closed, response)
            && matches!(fact.outcome, Some(Outcome::Completed | Outcome::Rejected))
        {
            fact.tier_on_time = cal
                .due(submitted, r)
                .and_then(|d| cal.add_working_minutes(d, u64::from(paused)))
                .ok()
                .map(|d| c <= d);
        }
        fact.tier = Some(tier);
    }
    Some(Derived {
        fact,
        visits,
        ratings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> KpiContext {
        KpiContext::from_config(&alur_testkit::kepri())
    }

    fn e(seq: u64, at: &str, event: &str, actor: &str, due: Option<&str>) -> RawEntry {
        RawEntry {
            seq,
            at: at.parse().unwrap(),
            event: event.into(),
            actor: actor.into(),
            due: due.map(Into::into),
        }
    }

    #[test]
    fn a_returned_and_rated_case() {
        let ctx = ctx();
        let off = r#"{"kind":"officer","id":"x","role":"operator","unit":"21.71.10.1001"}"#;
        let app = r#"{"kind":"applicant","id":"p"}"#;
        let entries = [
            e(
                1,
                "2026-03-02T02:00:00Z",
                r#"{"event":"submitted","service":"batam-domisili","definition_version":1,"unit":"21.71.10.1001","applicant":"p","conditions":[],"filled":[],"to":"verifikasi","skipped":[]}"#,
                app,
                Some(r#"{"calendar":"1@x","due_at":"2026-03-04T09:00:00Z","step_due_at":null}"#),
            ),
            e(
                2,
                "2026-03-02T03:00:00Z",
                r#"{"event":"acted","action":"kembalikan","from":"verifikasi","to":"lengkapi","outcome":null,"vote_only":false,"checked":[],"filled":[],"skipped":[]}"#,
                off,
                None,
            ),
            e(
                3,
                "2026-03-03T02:00:00Z",
                r#"{"event":"acted","action":"kirim","from":"lengkapi","to":"verifikasi","outcome":null,"vote_only":false,"checked":[],"filled":[],"skipped":[]}"#,
                app,
                Some(r#"{"calendar":"1@x","due_at":"2026-03-05T09:00:00Z","step_due_at":null}"#),
            ),
            e(
                4,
                "2026-03-03T04:00:00Z",
                r#"{"event":"acted","action":"selesai","from":"verifikasi","to":null,"outcome":"completed","vote_only":false,"checked":[],"filled":[],"skipped":[]}"#,
                off,
                None,
            ),
            e(
                5,
                "2026-03-04T04:00:00Z",
                r#"{"event":"rated","scores":[4,4,3,4,4,3,4,4,3]}"#,
                app,
                None,
            ),
            e(
                6,
                "2026-03-04T05:00:00Z",
                r#"{"event":"rated","scores":[4,4,9,4,4,3,4,4,3]}"#,
                app,
                None,
            ),
        ];
        let d = derive("c1", &entries, None, &ctx).unwrap();
        assert_eq!(d.fact.outcome, Some(Outcome::Completed));
        assert_eq!(d.fact.returns, 1);
        assert_eq!(d.visits.len(), 3);
        assert_eq!(d.visits[1].role, "pemohon");
        // 09:00→15:00 local on Monday less the Friday-style break: the applicant's time.
        assert!(d.fact.paused_min > 0);
        let closed = "2026-03-03T04:00:00Z".parse::<Timestamp>().unwrap();
        assert_eq!(d.fact.closed, Some(closed.as_second()));
        // The last recorded deadline counts.
        assert_eq!(
            d.fact.due,
            Some(
                "2026-03-05T09:00:00Z"
                    .parse::<Timestamp>()
                    .unwrap()
                    .as_second()
            )
        );
        assert_eq!(d.fact.on_time, Some(true));
        // One valid answer, one refused (a 9).
        assert_eq!(d.ratings.len(), 1);
        assert_eq!(d.ratings[0].month, 202_603);
        let lead = d.fact.lead_min.unwrap();
        let cal = ctx.calendar("21.71.10.1001");
        let all = minutes(cal, "2026-03-02T02:00:00Z".parse().unwrap(), closed);
        assert_eq!(lead, all - d.fact.paused_min);
    }

    #[test]
    fn configuration_chains_and_garbage_are_not_cases() {
        let ctx = ctx();
        let cfg = e(
            1,
            "2026-03-02T02:00:00Z",
            r#"{"event":"definition_registered","service":"s","version":1,"digest":"d"}"#,
            r#"{"kind":"system","id":""}"#,
            None,
        );
        assert!(derive("@config", &[cfg], None, &ctx).is_none());
        let junk = e(1, "2026-03-02T02:00:00Z", "not json", "{}", None);
        assert!(derive("x", &[junk], None, &ctx).is_none());
        assert!(derive("x", &[], None, &ctx).is_none());
    }

    #[test]
    fn tiers_match_by_id_or_name() {
        let ctx = ctx();
        assert_eq!(
            ctx.tier_of("batam-pengaduan", "Tanpa Pemeriksaan")
                .as_deref(),
            Some("tanpa-pemeriksaan")
        );
        assert_eq!(
            ctx.tier_of("batam-pengaduan", "Pengaduan ringan")
                .as_deref(),
            Some("ringan")
        );
        assert_eq!(ctx.tier_of("batam-pengaduan", "nilai klasifikasi"), None);
    }
}
