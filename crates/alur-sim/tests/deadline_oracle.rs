//! Differential test of the service deadlines: every deadline the engine records, in a simulated
//! month of every Kepri office and in hand-built cases at the edges of the working day, equals
//! the one an oracle written here from the rule alone gives, to the nanosecond.
//!
//! The oracle calls none of the engine's or `alur-calendar`'s deadline code: it reads the national
//! holiday list from its CSV, writes the Perpres 21/2023 hours (regular and Ramadan) and the Kepri
//! Ramadan ranges down as data, and walks working windows day by day. The rule it implements:
//!
//! - working time is the time inside the day's windows (none on weekends, holidays and cuti
//!   bersama); the Kepri offices keep the Ramadan hours on the Ramadan days;
//! - `n menit` / `n jam`: the earliest instant at which that much working time has passed since
//!   the start (a start outside working hours counts from the next window);
//! - `n hari kerja`: close of business of working day `n`, working day 1 being the day of the
//!   start when it is a working day and the start comes before its close of business, else the
//!   next working day;
//! - the service deadline: the completion time counted from the moment the clock started (the
//!   submission, or the first entry into the service's `clock_starts` step), then moved by the
//!   working time of each interval the applicant held the file *after* the clock started, taken
//!   in order, each only if it began before the deadline as moved so far;
//! - a step's deadline: its SLA counted from entering the step, none in an applicant step.

use std::collections::BTreeSet;
use std::sync::Arc;

use alur_calendar::SlaDuration;
use alur_core::audit::AuditEntry;
use alur_core::engine::{Actor, Command, EventKind, Payload};
use alur_core::model::{ClockStart, ServiceDefinition};
use alur_core::store::Store;
use alur_core::{Config, Engine, ManualClock, MemoryStore, Scheduler};
use jiff::Timestamp;
use jiff::civil::{Date, Weekday, date};

const NS_S: i64 = 1_000_000_000;
const NS_MIN: i64 = 60 * NS_S;
const NS_H: i64 = 60 * NS_MIN;
const NS_DAY: i64 = 24 * NS_H;
/// WIB, UTC+7, every Kepri office.
const OFFSET: i64 = 7 * NS_H;

/// The rule's data, written down independently of the configuration loader.
struct Oracle {
    holidays: BTreeSet<Date>,
    ramadan: Vec<(Date, Date)>,
}

fn hm(h: i64, m: i64) -> i64 {
    h * NS_H + m * NS_MIN
}

impl Oracle {
    fn kepri() -> Self {
        let csv = include_str!("../../alur-calendar/data/holidays_id.csv");
        let holidays = csv
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').next().unwrap().parse::<Date>().unwrap())
            .collect();
        Self {
            holidays,
            // examples/config/kepri/alur.toml, [calendar] ramadan (1446–1448 H).
            ramadan: vec![
                (date(2025, 3, 1), date(2025, 3, 30)),
                (date(2026, 2, 19), date(2026, 3, 20)),
                (date(2027, 2, 8), date(2027, 3, 9)),
            ],
        }
    }

    /// Working windows of a local date, ns since local midnight.
    fn windows(&self, d: Date) -> Vec<(i64, i64)> {
        if self.holidays.contains(&d) {
            return Vec::new();
        }
        let ramadan = self.ramadan.iter().any(|&(a, b)| a <= d && d <= b);
        match (d.weekday(), ramadan) {
            (Weekday::Saturday | Weekday::Sunday, _) => Vec::new(),
            (Weekday::Friday, false) => vec![(hm(7, 30), hm(11, 30)), (hm(13, 0), hm(16, 30))],
            (_, false) => vec![(hm(7, 30), hm(12, 0)), (hm(13, 0), hm(16, 0))],
            (Weekday::Friday, true) => vec![(hm(8, 0), hm(11, 30)), (hm(12, 30), hm(15, 30))],
            (_, true) => vec![(hm(8, 0), hm(12, 0)), (hm(12, 30), hm(15, 0))],
        }
    }

    /// Local ns since the epoch of the local midnight starting `d`.
    fn midnight(d: Date) -> i64 {
        let days = (d - date(1970, 1, 1)).get_days();
        i64::from(days) * NS_DAY
    }

    fn day_of(local: i64) -> Date {
        date(1970, 1, 1)
            .checked_add(jiff::Span::new().days(local.div_euclid(NS_DAY)))
            .unwrap()
    }

    /// Working ns in `[a, b)` (local ns).
    fn working_between(&self, a: i64, b: i64) -> i64 {
        let mut sum = 0;
        let mut d = Self::day_of(a);
        while Self::midnight(d) < b {
            let m = Self::midnight(d);
            for (s, e) in self.windows(d) {
                let (s, e) = (m + s, m + e);
                let (lo, hi) = (s.max(a), e.min(b));
                if lo < hi {
                    sum += hi - lo;
                }
            }
            d = d.tomorrow().unwrap();
        }
        sum
    }

    /// The earliest local instant at which `amount` working ns have passed since `t`.
    fn add_working(&self, t: i64, mut amount: i64) -> i64 {
        if amount == 0 {
            return t;
        }
        let mut d = Self::day_of(t);
        loop {
            let m = Self::midnight(d);
            for (s, e) in self.windows(d) {
                let s = (m + s).max(t);
                let e = m + e;
                if s >= e {
                    continue;
                }
                if amount <= e - s {
                    return s + amount;
                }
                amount -= e - s;
            }
            d = d.tomorrow().unwrap();
        }
    }

    fn close_of(&self, d: Date) -> Option<i64> {
        self.windows(d).last().map(|w| Self::midnight(d) + w.1)
    }

    fn next_working(&self, mut d: Date) -> Date {
        loop {
            d = d.tomorrow().unwrap();
            if !self.windows(d).is_empty() {
                return d;
            }
        }
    }

    fn due(&self, start: i64, sla: SlaDuration) -> i64 {
        match sla {
            SlaDuration::Minutes(m) => self.add_working(start, i64::from(m) * NS_MIN),
            SlaDuration::Hours(h) => self.add_working(start, i64::from(h) * NS_H),
            SlaDuration::WorkingDays(n) => {
                let today = Self::day_of(start);
                let mut d = match self.close_of(today) {
                    Some(close) if start < close => today,
                    _ => self.next_working(today),
                };
                for _ in 1..n {
                    d = self.next_working(d);
                }
                self.close_of(d).unwrap()
            }
            SlaDuration::CalendarDays(n) => {
                let d = Self::day_of(start)
                    .checked_add(jiff::Span::new().days(i64::from(n)))
                    .unwrap();
                Self::midnight(d) + NS_DAY - 1
            }
        }
    }

    /// The service deadline for a clock started at `start` with the applicant's intervals.
    fn service_due(&self, start: i64, sla: SlaDuration, pauses: &[(i64, i64)]) -> i64 {
        let mut due = self.due(start, sla);
        for &(a, b) in pauses {
            let a = a.max(start);
            if a < due {
                due = self.add_working(due, self.working_between(a, b));
            }
        }
        due
    }
}

fn local(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap() + OFFSET
}

fn utc(local: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(local - OFFSET)).unwrap()
}

/// What a case's chain covered, for the coverage counts.
#[derive(Default, Debug)]
struct Seen {
    deadlines: usize,
    step_deadlines: usize,
    pause_before_start: usize,
    pause_after_start: usize,
    pause_after_deadline: usize,
    several_returns: usize,
    ramadan: usize,
    holiday_crossed: usize,
    friday: usize,
    breaches: usize,
}

/// Check every deadline recorded in one case's chain against the oracle; returns the mismatches.
fn check_case(
    o: &Oracle,
    def: &ServiceDefinition,
    entries: &[AuditEntry],
    seen: &mut Seen,
) -> Vec<String> {
    let clock_step = match def.clock_starts {
        ClockStart::Submitted => None,
        ClockStart::Step(i) => Some(def.steps[i].id.clone()),
    };
    let pauses_in = |step: &str| def.steps.iter().any(|s| s.id == step && s.pauses_clock);
    let mut bad = Vec::new();
    let mut start: Option<i64> = None;
    let mut paused_since: Option<i64> = None;
    let mut pauses: Vec<(i64, i64)> = Vec::new();
    let mut current_due: Option<i64> = None;
    let mut returns = 0;
    for e in entries {
        let at = local(e.at);
        // Where the event takes the case: (next step, skipped steps), or closed.
        let moved: Option<(Option<&str>, &[String])> = match &e.event {
            EventKind::Submitted { to, skipped, .. } => Some((Some(to.as_str()), skipped)),
            EventKind::Acted {
                to,
                vote_only: false,
                skipped,
                ..
            } => Some((to.as_deref(), skipped)),
            EventKind::Withdrawn { .. } | EventKind::DeemedApproved { .. } => Some((None, &[])),
            _ => None,
        };
        if let EventKind::Breached { .. } | EventKind::DeemedApproved { .. } = &e.event {
            seen.breaches += 1;
            match current_due {
                Some(d) if at >= d => {}
                other => bad.push(format!(
                    "{} #{}: breach at {} before the deadline {:?}",
                    e.case_id,
                    e.seq,
                    e.at,
                    other.map(utc)
                )),
            }
        }
        let mut expected_step_due = None;
        if let Some((to, skipped)) = moved {
            if start.is_none() {
                let starts = match &clock_step {
                    None => matches!(e.event, EventKind::Submitted { .. }),
                    Some(c) => to == Some(c.as_str()) || skipped.iter().any(|s| s == c),
                };
                if starts {
                    start = Some(at);
                }
            }
            // The applicant's interval ends here (its end is this event) or begins here.
            let open_pause = paused_since.take().map(|p| (p, at));
            if let Some(to) = to {
                if pauses_in(to) {
                    paused_since = Some(at);
                    if !matches!(e.event, EventKind::Submitted { .. }) {
                        returns += 1;
                    }
                }
                let step = def.steps.iter().find(|s| s.id == to).unwrap();
                if !step.pauses_clock {
                    expected_step_due = step.sla.map(|sla| o.due(at, sla));
                }
            }
            if let Some(p) = open_pause {
                match start {
                    Some(s) if p.0 >= s => {
                        seen.pause_after_start += 1;
                        if current_due.is_some_and(|d| p.0 >= d) {
                            seen.pause_after_deadline += 1;
                        }
                    }
                    _ => seen.pause_before_start += 1,
                }
                pauses.push(p);
            }
        }
        let Some(due) = &e.due else { continue };
        let expected = start.map(|s| o.service_due(s, def.completion_time, &pauses));
        let got = due.due_at.map(local);
        seen.deadlines += usize::from(got.is_some());
        if got != expected {
            bad.push(format!(
                "{} #{} ({:?} at {}): service deadline {:?}, the rule gives {:?}",
                e.case_id,
                e.seq,
                e.event,
                e.at,
                due.due_at,
                expected.map(utc)
            ));
        }
        if moved.is_some() {
            let got = due.step_due_at.map(local);
            seen.step_deadlines += usize::from(got.is_some());
            if got != expected_step_due {
                bad.push(format!(
                    "{} #{}: step deadline {:?}, the rule gives {:?}",
                    e.case_id,
                    e.seq,
                    due.step_due_at,
                    expected_step_due.map(utc)
                ));
            }
        }
        if let (Some(s), Some(d)) = (start, expected) {
            let days: Vec<Date> = {
                let mut v = vec![Oracle::day_of(s)];
                while *v.last().unwrap() < Oracle::day_of(d) {
                    v.push(v.last().unwrap().tomorrow().unwrap());
                }
                v
            };
            seen.ramadan += usize::from(days.iter().any(|x| {
                o.ramadan.iter().any(|&(a, b)| a <= *x && *x <= b) && !o.windows(*x).is_empty()
            }));
            seen.holiday_crossed += usize::from(days.iter().any(|x| o.holidays.contains(x)));
            seen.friday += usize::from(days.iter().any(|x| x.weekday() == Weekday::Friday));
        }
        current_due = expected;
    }
    if returns >= 2 {
        seen.several_returns += 1;
    }
    bad
}

async fn check_store<S: Store>(
    store: &S,
    config: &Config,
    o: &Oracle,
) -> (usize, Seen, Vec<String>) {
    let mut seen = Seen::default();
    let mut bad = Vec::new();
    let cases = alur_testkit::all_cases(store, &config.tenant.id).await;
    for c in &cases {
        let def = store
            .definition(&config.tenant.id, &c.service, c.definition_version)
            .await
            .unwrap()
            .unwrap();
        let entries = store.entries(&config.tenant.id, &c.id).await.unwrap();
        bad.extend(check_case(o, &def, &entries, &mut seen));
        // The armed breach timer fires at the deadline the case holds.
        if c.status.is_open() && c.paused_since.is_none() && !c.breached {
            let timers = store.timers(&config.tenant.id, &c.id).await.unwrap();
            let breach = timers
                .iter()
                .find(|t| t.kind == "breach")
                .map(|t| t.fire_at);
            if breach != c.due_at {
                bad.push(format!(
                    "{}: breach timer at {breach:?}, deadline {:?}",
                    c.id, c.due_at
                ));
            }
        }
    }
    (cases.len(), seen, bad)
}

#[tokio::test]
async fn every_recorded_deadline_of_a_simulated_month_equals_the_rule() {
    let config = alur_testkit::kepri();
    let o = Oracle::kepri();
    // March 2025: Ramadan hours all month, Isra Mikraj falls before it, Nyepi (28–29 March) and
    // Idulfitri with its cuti bersama (31 March–7 April) close the offices at its end. Many
    // returns, before and after the clock starts, several per case.
    let opts = alur_sim::Options {
        from: date(2025, 3, 3),
        to: date(2025, 3, 28),
        seed: 7,
        cases_per_year: 60_000,
        return_rate: 0.3,
        refuse_rate: 0.03,
        officer_capacity: Some(6),
        survey_rate: 0.0,
    };
    let (report, store) = alur_sim::run(config.clone(), MemoryStore::new(), &opts, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.refused_commands, 0);
    let (cases, seen, bad) = check_store(&store, &config, &o).await;
    assert!(
        bad.is_empty(),
        "{} of the recorded deadlines differ from the rule, e.g.:\n{}",
        bad.len(),
        bad.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
    );
    // The month covers the shapes the rule distinguishes (a test that cannot fail is no test).
    eprintln!(
        "{cases} cases, {} transitions: {seen:?}",
        report.transitions
    );
    assert!(cases > 300, "{cases} cases");
    assert!(seen.deadlines > 1_000, "{seen:?}");
    assert!(seen.step_deadlines > 1_000, "{seen:?}");
    assert!(seen.pause_before_start >= 30, "{seen:?}");
    assert!(seen.pause_after_start >= 10, "{seen:?}");
    assert!(seen.several_returns >= 5, "{seen:?}");
    assert!(seen.ramadan > 500, "{seen:?}");
    assert!(seen.holiday_crossed >= 20, "{seen:?}");
    assert!(seen.friday >= 100, "{seen:?}");
    assert!(seen.breaches >= 5, "{seen:?}");
}

fn wib(s: &str) -> Timestamp {
    format!("{s}+07:00").parse().unwrap()
}

/// An engine over the Kepri example with a manual clock and a scheduler.
struct Desk {
    engine: Arc<Engine<MemoryStore>>,
    clock: Arc<ManualClock>,
    scheduler: Scheduler<MemoryStore>,
}

impl Desk {
    async fn new(at: Timestamp) -> Self {
        let (engine, clock) = alur_testkit::engine(MemoryStore::new()).await;
        clock.set(at);
        let engine = Arc::new(engine);
        let scheduler = Scheduler::new(engine.clone(), "oracle");
        Self {
            engine,
            clock,
            scheduler,
        }
    }

    /// Applicant 1 submits `service` at `unit` at `at`, every field filled.
    async fn submit(&self, service: &str, unit: &str, at: Timestamp) -> alur_core::Case {
        self.clock.set(at);
        let def = self.engine.service(service).unwrap().clone();
        let mut s = alur_testkit::domisili(1);
        s.service = service.into();
        s.unit = unit.into();
        s.payload.fields = def
            .fields
            .iter()
            .map(|f| (f.id.clone(), "uji".to_owned()))
            .collect();
        self.engine.submit(s, None).await.unwrap()
    }

    /// `who` (an officer id, or `pemohon` for the applicant) takes `action` at `at`, ticking
    /// every requirement that applies.
    async fn act(&self, case: &str, who: &str, action: &str, at: Timestamp) -> alur_core::Case {
        self.clock.set(at);
        let c = self.engine.case(case).await.unwrap().unwrap();
        let actor = if who == "pemohon" {
            Actor::Applicant(c.applicant.clone())
        } else {
            Actor::Officer(who.into())
        };
        let def = self.engine.service(&c.service).unwrap().clone();
        let checked = def
            .requirements
            .iter()
            .filter(|r| r.only_if.as_ref().is_none_or(|x| c.conditions.contains(x)))
            .map(|r| r.id.clone())
            .collect();
        let cmd = Command::Act {
            actor,
            action: action.into(),
            seen_version: c.version,
            checked,
            payload: Payload {
                reason: Some("uji".into()),
                ..Payload::default()
            },
        };
        match self.engine.execute(case, cmd, None).await {
            Ok(c) => c,
            Err(e) => panic!("{who} {action} at {at}: {e}"),
        }
    }

    /// Run the scheduler at `at`; whether the case is then breached.
    async fn breached_at(&self, case: &str, at: Timestamp) -> bool {
        self.clock.set(at);
        self.scheduler.drain().await.unwrap();
        self.engine.case(case).await.unwrap().unwrap().breached
    }

    async fn check(&self, o: &Oracle, case: &str) -> Seen {
        let c = self.engine.case(case).await.unwrap().unwrap();
        let def = self.engine.service(&c.service).unwrap().clone();
        let entries = self.engine.store().entries("kepri", case).await.unwrap();
        let mut seen = Seen::default();
        assert_eq!(
            check_case(o, &def, &entries, &mut seen),
            Vec::<String>::new()
        );
        seen
    }
}

/// `sim7-00021349`'s shape: returned to the applicant before the clock started (7 March),
/// resubmitted on 10 March, the clock started that afternoon; the next transition must not add
/// the applicant's 7–10 March wait to the deadline, the breach fires at the rule's deadline, and
/// a file handed back to the applicant after the breach does not move the deadline.
#[tokio::test]
async fn time_before_the_clock_started_is_not_added_to_the_deadline() {
    let o = Oracle::kepri();
    let d = Desk::new(wib("2025-03-07T09:02:00")).await;
    let c = d
        .submit(
            "batam-penghasilan-ortu",
            "21.71.10.1001",
            wib("2025-03-07T09:02:00"),
        )
        .await;
    assert_eq!(c.due_at, None, "the clock starts when the file is complete");
    d.act(
        &c.id,
        "baloi-operator",
        "belum-lengkap",
        wib("2025-03-07T10:11:00"),
    )
    .await;
    d.act(&c.id, "pemohon", "kirim-ulang", wib("2025-03-10T13:40:00"))
        .await;
    let started = wib("2025-03-10T14:14:00");
    let c2 = d.act(&c.id, "baloi-operator", "lengkap", started).await;
    // 1 working day from Monday 14:14 in Ramadan: close of business the same day, 15:00.
    let due = wib("2025-03-10T15:00:00");
    assert_eq!(c2.due_at, Some(due));
    assert_eq!(
        local(due),
        o.due(local(started), "1 hari kerja".parse().unwrap())
    );
    // The Kasi initials: the deadline stays (before the fix it moved by the 7–10 March wait,
    // to 12 March).
    let c3 = d
        .act(&c.id, "baloi-kasi", "paraf", wib("2025-03-10T14:30:00"))
        .await;
    assert_eq!(c3.due_at, Some(due));
    // The breach fires at the deadline, not a nanosecond earlier.
    let just_before = due
        .checked_sub(jiff::SignedDuration::from_nanos(1))
        .unwrap();
    assert!(!d.breached_at(&c.id, just_before).await);
    assert!(d.breached_at(&c.id, due).await);
    let entries = d.engine.store().entries("kepri", &c.id).await.unwrap();
    let breach = entries
        .iter()
        .find(|e| matches!(e.event, EventKind::Breached { .. }))
        .unwrap();
    assert_eq!(breach.at, due);
    // Sent back down to the operator, who returns the file to the applicant after the breach:
    // the applicant's time then does not move the deadline.
    d.act(
        &c.id,
        "baloi-lurah",
        "kembalikan",
        wib("2025-03-11T08:10:00"),
    )
    .await;
    d.act(
        &c.id,
        "baloi-kasi",
        "kembalikan",
        wib("2025-03-11T08:20:00"),
    )
    .await;
    d.act(
        &c.id,
        "baloi-operator",
        "belum-lengkap",
        wib("2025-03-11T08:30:00"),
    )
    .await;
    let c5 = d
        .act(&c.id, "pemohon", "kirim-ulang", wib("2025-03-12T09:00:00"))
        .await;
    assert_eq!(c5.due_at, Some(due));
    let seen = d.check(&o, &c.id).await;
    assert_eq!(
        (
            seen.pause_before_start,
            seen.pause_after_start,
            seen.pause_after_deadline
        ),
        (1, 1, 1)
    );
}

/// Deemed approval (Natuna's move letter, 5 working days from the Kasi's check) fires at the
/// rule's deadline: a return before the clock started adds nothing, a return after it adds the
/// applicant's working time, and Nyepi, Idulfitri's cuti bersama and the Ramadan hours lie in
/// between.
#[tokio::test]
async fn deemed_approval_fires_at_the_rules_deadline() {
    let o = Oracle::kepri();
    let unit = "21.03.07";
    // Monday 16 March 2026, a second before the Ramadan opening (08:00).
    let d = Desk::new(wib("2026-03-16T07:59:59")).await;
    let c = d
        .submit("natuna-keterangan-pindah", unit, wib("2026-03-16T07:59:59"))
        .await;
    d.act(
        &c.id,
        "bunguran-operator",
        "belum-lengkap",
        wib("2026-03-16T08:30:00"),
    )
    .await;
    d.act(&c.id, "pemohon", "kirim-ulang", wib("2026-03-17T10:00:00"))
        .await;
    let started = wib("2026-03-17T10:30:00");
    let c1 = d.act(&c.id, "bunguran-operator", "lengkap", started).await;
    // Working days: Tue 17 (1); Nyepi 18–19, cuti bersama 20, 23, 24; 25 (2), 26 (3), 27 (4),
    // Mon 30 March (5), close of business 16:00 (Ramadan is over).
    assert_eq!(c1.due_at, Some(wib("2026-03-30T16:00:00")));
    // Returned by the Kasi on Wednesday 25 at 09:00, back on Thursday 26 at 09:00: 6 h on the
    // 25th (09:00–12:00, 13:00–16:00) and 1.5 h on the 26th, one working day of 7.5 h.
    d.act(
        &c.id,
        "bunguran-kasipel",
        "belum-lengkap",
        wib("2026-03-25T09:00:00"),
    )
    .await;
    d.act(&c.id, "pemohon", "kirim-ulang", wib("2026-03-26T09:00:00"))
        .await;
    d.act(
        &c.id,
        "bunguran-operator",
        "lengkap",
        wib("2026-03-26T09:30:00"),
    )
    .await;
    let c2 = d
        .act(
            &c.id,
            "bunguran-kasipel",
            "ajukan",
            wib("2026-03-26T10:00:00"),
        )
        .await;
    let due = wib("2026-03-31T16:00:00");
    assert_eq!(c2.due_at, Some(due));
    let just_before = due
        .checked_sub(jiff::SignedDuration::from_nanos(1))
        .unwrap();
    assert!(!d.breached_at(&c.id, just_before).await);
    assert!(d.breached_at(&c.id, due).await);
    let closed = d.engine.case(&c.id).await.unwrap().unwrap();
    assert!(closed.deemed_approved);
    let entries = d.engine.store().entries("kepri", &c.id).await.unwrap();
    let deemed = entries
        .iter()
        .find(|e| matches!(e.event, EventKind::DeemedApproved { .. }))
        .unwrap();
    assert_eq!(deemed.at, due);
    let seen = d.check(&o, &c.id).await;
    assert_eq!((seen.pause_before_start, seen.pause_after_start), (1, 1));
}

/// Submissions and returns at the edges of the day and the week: the last nanosecond before
/// midnight, midnight, the instant of closing, the Friday prayer break, a Saturday, a holiday.
#[tokio::test]
async fn deadlines_at_the_edges_of_the_day_equal_the_rule() {
    let o = Oracle::kepri();
    let edges = [
        "2026-04-06T23:59:59.999999999", // Monday night
        "2026-04-07T00:00:00",           // Tuesday midnight
        "2026-04-07T16:00:00",           // the instant of closing
        "2026-04-07T15:59:59",           // a second before it
        "2026-04-10T11:30:00",           // Friday prayer break begins
        "2026-04-10T12:59:59",           // in the break
        "2026-04-10T16:30:00",           // Friday closing
        "2026-04-11T10:00:00",           // Saturday
        "2026-04-03T09:00:00",           // Good Friday (holiday)
        "2026-03-19T10:00:00",           // Nyepi, in Ramadan
        "2026-03-17T15:00:00",           // Ramadan closing (Tuesday)
        "2026-03-13T15:30:00",           // Ramadan Friday closing
    ];
    let mut checked = 0;
    for (i, edge) in edges.iter().enumerate() {
        let d = Desk::new(wib(edge)).await;
        // Counted from submission (the Bintan desa letter, 2 working days) …
        let a = d
            .submit("bintan-sktm-desa", "21.01.04.2002", wib(edge))
            .await;
        // … and from the file being complete, with a return before and after the start.
        let b = d.submit("batam-domisili", "21.71.10.1001", wib(edge)).await;
        // Each act a while after the one before; the applicant comes back at the next edge of
        // the list when that is later (so returns end on the edges too).
        let mut t = wib(edge);
        let mut later = |h: i64| {
            t = t.checked_add(jiff::SignedDuration::from_hours(h)).unwrap();
            t
        };
        d.act(&b.id, "baloi-operator", "belum-lengkap", later(1))
            .await;
        let back = wib(edges[(i + 1) % edges.len()]).max(later(1));
        d.act(&b.id, "pemohon", "kirim-ulang", back).await;
        let mut t = back;
        let mut later = |h: i64| {
            t = t.checked_add(jiff::SignedDuration::from_hours(h)).unwrap();
            t
        };
        d.act(&b.id, "baloi-operator", "lengkap", later(30)).await;
        d.act(&b.id, "baloi-kasi", "kembalikan", later(1)).await;
        d.act(&b.id, "baloi-operator", "belum-lengkap", later(1))
            .await;
        d.act(&b.id, "pemohon", "kirim-ulang", later(18)).await;
        d.act(&b.id, "baloi-operator", "lengkap", later(1)).await;
        for case in [&a.id, &b.id] {
            d.check(&o, case).await;
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * edges.len());
}
