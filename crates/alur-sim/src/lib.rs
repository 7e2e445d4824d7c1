//! A deterministic simulation of a region's public services through the real engine and store.
//!
//! Citizens arrive at every office in proportion to its population (kabupaten/kota population from
//! Dukcapil, spread evenly over the offices of the same level in it — the data stops at
//! kabupaten/kota), on working days and within working hours; officers act after realistic delays;
//! some files are returned as incomplete and completed later by the applicant, some refused, some
//! sent back a step. Each office's officers take a limited number of files a day per role
//! ([`Options::officer_capacity`]); what is left waits for the next working day, so backlogs,
//! breaches and escalations come from load. After completion some applicants answer the
//! satisfaction survey (SKM, nine elements 1–4; [`Options::survey_rate`]), through the engine's
//! `Command::Rate`; a complaint's classification names one of its tiers. The scheduler fires
//! reminders, breaches and deemed approvals as simulated time passes. The same seed gives the
//! same database.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

use alur_core::engine::{Actor, Command, Payload};
use alur_core::model::{
    ApprovalRule, Officer, Outcome, Post, ServiceDefinition, StepAt, StepKind, Target,
};
use alur_core::region::{RegionIndex, UnitLevel};
use alur_core::store::Store;
use alur_core::{
    Config, Engine, ErrorKind, ManualClock, Nik, Pseudonymizer, Scheduler, Submission,
};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

/// Simulation settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// First day (local).
    pub from: Date,
    /// Last day (local, inclusive).
    pub to: Date,
    /// Seed: the same seed gives the same database.
    pub seed: u64,
    /// Applications per year across the whole tenant (spread by population).
    pub cases_per_year: u64,
    /// Share of files returned as incomplete at verification (0–1).
    pub return_rate: f64,
    /// Share of files refused.
    pub refuse_rate: f64,
    /// Files one officer handles per working day (each office has two per role, so a role's
    /// queue at a unit takes twice this); `None`: no limit. Work beyond it waits for the next
    /// working day, so backlogs and breaches come from load.
    pub officer_capacity: Option<u32>,
    /// Share of completed cases whose applicant answers the satisfaction survey (SKM).
    pub survey_rate: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            from: jiff::civil::date(2025, 1, 1),
            to: jiff::civil::date(2025, 12, 31),
            seed: 1,
            cases_per_year: 1_000_000,
            return_rate: 0.08,
            refuse_rate: 0.02,
            officer_capacity: Some(25),
            survey_rate: 0.3,
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Cases submitted.
    pub cases: u64,
    /// Transitions committed (submissions, actions, timer firings).
    pub transitions: u64,
    /// Cases completed.
    pub completed: u64,
    /// Cases refused.
    pub rejected: u64,
    /// Returns to the applicant.
    pub returned: u64,
    /// Timer firings (reminders, breaches, deemed approvals).
    pub timers_fired: u64,
    /// Commands the engine refused (should be 0: the simulation only does what is allowed).
    pub refused_commands: u64,
    /// Survey answers recorded.
    pub rated: u64,
    /// Pieces of work moved to the next working day because the officers were at capacity.
    pub deferred: u64,
}

/// A failure of the simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The engine or store failed.
    #[error("engine: {0}")]
    Engine(#[from] alur_core::Error),
    /// The options or configuration cannot be simulated.
    #[error("{0}")]
    Invalid(String),
}

/// SplitMix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
    /// Poisson-distributed count with mean `lambda` (Knuth for small means, normal approximation above).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            let u1 = self.f64().max(f64::MIN_POSITIVE);
            let u2 = self.f64();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (lambda + z * lambda.sqrt()).round().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.f64();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

/// An office offering a service, with its share of the tenant's applications.
#[derive(Debug, Clone)]
pub struct Offering {
    /// Unit code.
    pub unit: String,
    /// Service id.
    pub service: String,
    /// Expected applications per year.
    pub per_year: f64,
}

/// Every (unit, service) offering of the configuration with its expected yearly volume.
pub fn offerings(config: &Config, cases_per_year: u64) -> Result<Vec<Offering>, SimError> {
    let regions = RegionIndex::embedded().map_err(|e| SimError::Invalid(e.to_string()))?;
    // Units offering something (the offices the desk lists), with their services.
    let mut per_unit: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for def in config.services.values() {
        for r in config.offices(def) {
            per_unit
                .entry(r.code.clone())
                .or_default()
                .push(def.id.clone());
        }
    }
    // Population of each unit: its kabupaten/kota's, spread evenly over that level's offices in it.
    let mut weight: BTreeMap<String, f64> = BTreeMap::new();
    for unit in per_unit.keys() {
        let Some(r) = regions.get(unit) else { continue };
        let kabkota = regions
            .ancestor_at(unit, UnitLevel::Kota)
            .or_else(|| regions.ancestor_at(unit, UnitLevel::Kabupaten));
        let (pop, siblings) = match kabkota {
            Some(k) => (
                regions.population(&k.code).map_or(0, |p| p.total) as f64,
                regions.descendants_at(&k.code, r.level).len().max(1) as f64,
            ),
            None => (0.0, 1.0),
        };
        weight.insert(unit.clone(), pop / siblings);
    }
    let total: f64 = weight.values().sum();
    if total <= 0.0 {
        return Err(SimError::Invalid(
            "no office with population data offers a service".into(),
        ));
    }
    let mut out = Vec::new();
    for (unit, services) in per_unit {
        let share = weight.get(&unit).copied().unwrap_or(0.0) / total;
        let n = services.len() as f64;
        for s in services {
            out.push(Offering {
                unit: unit.clone(),
                service: s,
                per_year: cases_per_year as f64 * share / n,
            });
        }
    }
    Ok(out)
}

/// Add simulated officers so every office has someone in every role its services need
/// (`sim-<unit>-<role>-<n>`; two per role so quorums and separation of duties can be met).
pub fn staff(config: &mut Config, offerings: &[Offering]) -> Result<(), SimError> {
    let regions = RegionIndex::embedded().map_err(|e| SimError::Invalid(e.to_string()))?;
    let mut posts: BTreeSet<(String, String)> = BTreeSet::new();
    for o in offerings {
        let Some(def) = config.services.get(&o.service) else {
            continue;
        };
        for step in &def.steps {
            let unit = match step.at {
                StepAt::Unit => Some(o.unit.clone()),
                StepAt::Ancestor(l) => regions.ancestor_at(&o.unit, l).map(|r| r.code.clone()),
            };
            if let Some(u) = unit {
                for r in &step.roles {
                    posts.insert((u.clone(), r.clone()));
                }
            }
        }
    }
    for (unit, role) in posts {
        for n in 0..2 {
            let id = format!("sim-{unit}-{role}-{n}");
            config.officers.insert(
                id.clone(),
                Officer {
                    id,
                    name: format!("Petugas {role} {unit} #{n}"),
                    nip: None,
                    nik: None,
                    posts: vec![Post {
                        role: role.clone(),
                        unit: unit.clone(),
                    }],
                },
            );
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    /// A citizen arrives.
    Arrive { offering: usize, n: u64 },
    /// Someone acts on a case.
    Work { case: String },
    /// The applicant answers the satisfaction survey.
    Rate { case: String, late: bool },
}

/// Run the simulation. `progress(done_days, total_days, report)` is called after each day.
pub async fn run<S: Store>(
    mut config: Config,
    store: S,
    opts: &Options,
    mut progress: impl FnMut(u64, u64, &Report),
) -> Result<(Report, S), SimError> {
    if opts.to < opts.from {
        return Err(SimError::Invalid("--to is before --from".into()));
    }
    let offerings = offerings(&config, opts.cases_per_year)?;
    staff(&mut config, &offerings)?;
    let cal = config.calendars.for_unit(&config.tenant.region).clone();
    let tz = cal.time_zone().clone();
    let start = tz
        .to_timestamp(opts.from.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| SimError::Invalid(e.to_string()))?;
    let clock = Arc::new(ManualClock::new(start));
    let key: Vec<u8> = (0..32)
        .map(|i| (opts.seed.rotate_left(i) & 0xff) as u8 ^ 0x5a)
        .collect();
    let pseudo = Pseudonymizer::new(key).map_err(|e| SimError::Invalid(e.to_string()))?;
    let engine = Arc::new(Engine::new(config, store, clock.clone(), pseudo).await?);
    let scheduler = Scheduler::new(engine.clone(), "sim").batch(1000);
    let mut rng = Rng::new(opts.seed);
    let mut report = Report::default();
    let mut queue: BinaryHeap<Reverse<(Timestamp, u64, Task)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let total_days = (opts.to - opts.from).get_days().max(0) as u64 + 1;
    let mut day = opts.from;
    let mut day_no = 0u64;
    let mut applicants: BTreeMap<String, u64> = BTreeMap::new();
    let mut next_timer_check = start;
    // Work taken per (unit, role) queue today.
    let mut load: BTreeMap<String, u32> = BTreeMap::new();
    let queue_capacity = opts.officer_capacity.map(|c| c.saturating_mul(2));
    let id_prefix = format!("sim{}", opts.seed);
    loop {
        load.clear();
        // Arrivals of the day, at random moments within its working windows.
        if cal.is_working_day(day).unwrap_or(false) {
            let windows = cal
                .working_windows(day)
                .map_err(|e| SimError::Invalid(e.to_string()))?
                .to_vec();
            let minutes: i64 = windows
                .iter()
                .map(|w| (w.end - w.start).get_minutes())
                .sum();
            let working_days_per_year = 245.0;
            for (i, o) in offerings.iter().enumerate() {
                let n = rng.poisson(o.per_year / working_days_per_year);
                for _ in 0..n {
                    let mut m = rng.below(minutes.max(1) as u64) as i64;
                    let mut at = None;
                    for w in &windows {
                        let len = (w.end - w.start).get_minutes();
                        if m < len {
                            let t = day.to_datetime(w.start) + SignedDuration::from_mins(m);
                            at = tz.to_timestamp(t).ok();
                            break;
                        }
                        m -= len;
                    }
                    if let Some(at) = at {
                        seq += 1;
                        queue.push(Reverse((
                            at,
                            seq,
                            Task::Arrive {
                                offering: i,
                                n: seq,
                            },
                        )));
                    }
                }
            }
        }
        let end_of_day = tz
            .to_timestamp(
                day.tomorrow()
                    .unwrap_or(day)
                    .to_datetime(jiff::civil::Time::midnight()),
            )
            .map_err(|e| SimError::Invalid(e.to_string()))?;
        // Tasks are taken a simulated minute at a time: decisions (and every random draw) are made in
        // task order, the commands of one minute run concurrently (different cases, so group commit
        // and parallel reads apply), results are handled in task order again. The same seed gives the
        // same data.
        while let Some(Reverse((first, _, _))) = queue.peek() {
            if *first >= end_of_day {
                break;
            }
            let bucket_end = first
                .checked_add(SignedDuration::from_mins(1))
                .unwrap_or(*first)
                .min(end_of_day);
            let mut batch: Vec<(Timestamp, Task)> = Vec::new();
            while let Some(Reverse((at, _, _))) = queue.peek() {
                if *at >= bucket_end {
                    break;
                }
                let Some(Reverse((at, _, task))) = queue.pop() else {
                    break;
                };
                batch.push((at, task));
            }
            let Some(&(at, _)) = batch.first() else { break };
            // Timers due before this minute fire first (checked every simulated five minutes).
            if at >= next_timer_check {
                clock.set(at);
                let t = scheduler.drain().await?;
                report.timers_fired += t.fired as u64;
                report.transitions += t.fired as u64;
                next_timer_check = at.checked_add(SignedDuration::from_mins(5)).unwrap_or(at);
            }
            clock.set(at);
            // Read the cases that someone works on (concurrently).
            let mut reads = tokio::task::JoinSet::new();
            for (i, (_, task)) in batch.iter().enumerate() {
                if let Task::Work { case } | Task::Rate { case, .. } = task {
                    let (engine, case) = (engine.clone(), case.clone());
                    reads.spawn(async move { (i, engine.case(&case).await) });
                }
            }
            let mut cases: BTreeMap<usize, alur_core::Case> = BTreeMap::new();
            while let Some(r) = reads.join_next().await {
                let (i, c) =
                    r.map_err(|e| SimError::Invalid(format!("simulation task failed: {e}")))?;
                if let Some(c) = c? {
                    cases.insert(i, c);
                }
            }
            // Decide what everyone does, in task order.
            #[allow(clippy::large_enum_variant)] // a handful per simulated minute
            enum Planned {
                Submit(String, Submission),
                Act(
                    String,
                    Command,
                    f64,
                    alur_core::Case,
                    Arc<ServiceDefinition>,
                ),
                Rate(String, Command),
            }
            let mut planned: Vec<(usize, Planned)> = Vec::new();
            for (i, (_, task)) in batch.iter().enumerate() {
                match task {
                    Task::Arrive { offering, n } => {
                        let o = &offerings[*offering];
                        let Some(def) = engine.service(&o.service).cloned() else {
                            continue;
                        };
                        let Some(nik) = sim_nik(&o.unit, *n) else {
                            continue;
                        };
                        let applicant = engine.pseudonymizer().person(&nik);
                        let conditions = def
                            .conditions
                            .iter()
                            .filter(|_| rng.f64() < 0.2)
                            .map(|c| c.id.clone())
                            .collect();
                        let payload = Payload {
                            fields: def
                                .fields
                                .iter()
                                .map(|f| (f.id.clone(), field_value(&def, &f.id, *n)))
                                .collect(),
                            ..Payload::default()
                        };
                        let id = format!("{id_prefix}-{n:08}");
                        applicants.insert(id.clone(), *n);
                        planned.push((
                            i,
                            Planned::Submit(
                                id,
                                Submission {
                                    service: o.service.clone(),
                                    unit: o.unit.clone(),
                                    applicant,
                                    conditions,
                                    payload,
                                },
                            ),
                        ));
                    }
                    Task::Work { case } => {
                        let Some(c) = cases.remove(&i) else { continue };
                        let Some(step_id) = c.step().map(str::to_owned) else {
                            continue;
                        };
                        let Some(def) = engine.service(&c.service).cloned() else {
                            continue;
                        };
                        let Some(step) = def.steps.iter().find(|s| s.id == step_id) else {
                            continue;
                        };
                        let (cmd, next_delay) = choose(
                            &def,
                            &c,
                            step,
                            &mut rng,
                            opts,
                            engine.pseudonymizer(),
                            applicants.get(case).copied().unwrap_or(0),
                        );
                        // A role's queue at a unit takes so many files a day; the rest waits.
                        if let (
                            Some(cap),
                            Command::Act {
                                actor: Actor::Officer(id),
                                ..
                            },
                        ) = (queue_capacity, &cmd)
                        {
                            let post = id.rsplit_once('-').map_or(id.as_str(), |(p, _)| p);
                            let taken = load.entry(post.to_owned()).or_default();
                            if *taken >= cap {
                                report.deferred += 1;
                                let wait = 1.0 + rng.below(120) as f64;
                                seq += 1;
                                queue.push(Reverse((
                                    after(&cal, end_of_day, wait),
                                    seq,
                                    Task::Work { case: case.clone() },
                                )));
                                continue;
                            }
                            *taken += 1;
                        }
                        planned.push((i, Planned::Act(case.clone(), cmd, next_delay, c, def)));
                    }
                    Task::Rate { case, late } => {
                        let n = applicants.get(case).copied().unwrap_or(0);
                        let Some(c) = cases.remove(&i) else { continue };
                        let actor = applicant_actor(&c.unit, n, engine.pseudonymizer());
                        // Mostly 3s and 4s; a late file draws lower scores.
                        let scores = (0..9)
                            .map(|_| {
                                let r = rng.f64();
                                let base: u8 = if *late { 2 } else { 3 };
                                if r < 0.15 {
                                    base.saturating_sub(1).max(1)
                                } else if r < 0.65 {
                                    base
                                } else {
                                    (base + 1).min(4)
                                }
                            })
                            .collect();
                        planned.push((
                            i,
                            Planned::Rate(case.clone(), Command::Rate { actor, scores }),
                        ));
                    }
                }
            }
            // Run the minute's commands concurrently.
            let mut runs = tokio::task::JoinSet::new();
            for (k, (_, p)) in planned.iter().enumerate() {
                let engine = engine.clone();
                match p {
                    Planned::Submit(id, s) => {
                        let (id, s) = (id.clone(), s.clone());
                        runs.spawn(async move { (k, engine.submit_as(&id, s, None).await) });
                    }
                    Planned::Act(case, cmd, ..) | Planned::Rate(case, cmd) => {
                        let (case, cmd) = (case.clone(), cmd.clone());
                        runs.spawn(async move { (k, engine.execute(&case, cmd, None).await) });
                    }
                }
            }
            let mut results: Vec<Option<Result<alur_core::Case, alur_core::Error>>> =
                (0..planned.len()).map(|_| None).collect();
            while let Some(r) = runs.join_next().await {
                let (k, res) =
                    r.map_err(|e| SimError::Invalid(format!("simulation task failed: {e}")))?;
                results[k] = Some(res);
            }
            // Handle the outcomes in task order.
            for ((i, p), res) in planned.into_iter().zip(results) {
                let at = batch[i].0;
                let Some(res) = res else { continue };
                match (p, res) {
                    (Planned::Submit(..), Ok(case)) => {
                        report.cases += 1;
                        report.transitions += 1;
                        let delay = officer_delay(&mut rng);
                        seq += 1;
                        queue.push(Reverse((
                            after(&cal, at, delay),
                            seq,
                            Task::Work { case: case.id },
                        )));
                    }
                    (Planned::Act(case, _, next_delay, before, def), Ok(after_case)) => {
                        report.transitions += 1;
                        match &after_case.status {
                            alur_core::Status::Closed(Outcome::Completed) => {
                                report.completed += 1;
                                if rng.f64() < opts.survey_rate {
                                    let wait = 5.0 + rng.below(60 * 7) as f64;
                                    seq += 1;
                                    queue.push(Reverse((
                                        after(&cal, at, wait),
                                        seq,
                                        Task::Rate {
                                            case,
                                            late: after_case.breached,
                                        },
                                    )));
                                }
                            }
                            alur_core::Status::Closed(Outcome::Rejected) => report.rejected += 1,
                            alur_core::Status::Closed(_) => {}
                            alur_core::Status::Open(s) => {
                                if def
                                    .steps
                                    .iter()
                                    .any(|x| &x.id == s && matches!(x.kind, StepKind::Applicant))
                                    && after_case.returns > before.returns
                                {
                                    report.returned += 1;
                                }
                                seq += 1;
                                queue.push(Reverse((
                                    after(&cal, at, next_delay),
                                    seq,
                                    Task::Work { case },
                                )));
                            }
                        }
                    }
                    (Planned::Rate(..), Ok(_)) => {
                        report.transitions += 1;
                        report.rated += 1;
                    }
                    (Planned::Act(case, ..), Err(e)) if e.kind() == ErrorKind::Conflict => {
                        seq += 1;
                        queue.push(Reverse((after(&cal, at, 5.0), seq, Task::Work { case })));
                    }
                    (_, Err(_)) => report.refused_commands += 1,
                }
            }
        }
        day_no += 1;
        progress(day_no, total_days, &report);
        if day >= opts.to {
            break;
        }
        day = day
            .tomorrow()
            .map_err(|e| SimError::Invalid(e.to_string()))?;
    }
    drop(scheduler);
    let engine =
        Arc::try_unwrap(engine).map_err(|_| SimError::Invalid("engine still shared".into()))?;
    Ok((report, engine.into_store()))
}

/// Minutes of working time an officer takes to pick up a file (exponential, mean 45 min).
fn officer_delay(rng: &mut Rng) -> f64 {
    rng.exp(45.0).min(60.0 * 7.5 * 5.0)
}

fn after(cal: &alur_calendar::WorkingCalendar, t: Timestamp, minutes: f64) -> Timestamp {
    let d = std::time::Duration::from_secs_f64((minutes * 60.0).max(1.0));
    cal.add_working_time(t, d)
        .unwrap_or_else(|_| t.checked_add(SignedDuration::from_hours(24)).unwrap_or(t))
}

/// The applicant of simulated case `n` at `unit`, as an actor.
fn applicant_actor(unit: &str, n: u64, pseudo: &Pseudonymizer) -> Actor {
    match sim_nik(unit, n) {
        Some(nik) => Actor::Applicant(pseudo.person(&nik)),
        None => Actor::System,
    }
}

/// The NIK of the applicant of simulated case `n` at `unit`, shaped like a real one: the
/// unit's kecamatan code, a date of birth (day + 40 for women, month, two-digit year) and a
/// four-digit serial. Distinct for every `n` below 672 million, so a run never gives two
/// applicants one NIK.
fn sim_nik(unit: &str, n: u64) -> Option<Nik> {
    Nik::parse(&sim_nik_digits(unit, n))
}

fn sim_nik_digits(unit: &str, n: u64) -> String {
    let code: String = unit.chars().filter(char::is_ascii_digit).take(6).collect();
    let serial = n % 10_000;
    let rest = n / 10_000;
    let year = rest % 100;
    let rest = rest / 100;
    let month = rest % 12 + 1;
    let rest = rest / 12;
    let day = rest % 28 + 1 + if (rest / 28) % 2 == 1 { 40 } else { 0 };
    format!("{code:0<6}{day:02}{month:02}{year:02}{serial:04}")
}

/// A field's simulated value: a complaint's classification names one of its tiers (the same
/// for a case every time), anything else a placeholder.
fn field_value(def: &ServiceDefinition, field: &str, case_n: u64) -> String {
    if field == "klasifikasi" && !def.complaint_tiers.is_empty() {
        let i = usize::try_from(case_n % def.complaint_tiers.len() as u64).unwrap_or(0);
        return def.complaint_tiers[i].id.clone();
    }
    format!("nilai {field}")
}

/// Pick the next command for a case in `step`, and the delay before whoever acts next.
fn choose(
    def: &ServiceDefinition,
    case: &alur_core::Case,
    step: &alur_core::model::Step,
    rng: &mut Rng,
    opts: &Options,
    pseudo: &Pseudonymizer,
    applicant_n: u64,
) -> (Command, f64) {
    let idx = def.step_index(&step.id).unwrap_or(0);
    let is_applicant = matches!(step.kind, StepKind::Applicant);
    let leads_to = |a: &alur_core::model::Action| -> (Option<usize>, Option<Outcome>) {
        match &a.target {
            Target::Step(i) => (Some(*i), None),
            Target::Outcome(o) => (None, Some(*o)),
            Target::Vote(t) => match t.as_ref() {
                Target::Step(i) => (Some(*i), None),
                Target::Outcome(o) => (None, Some(*o)),
                Target::Vote(_) => (None, None),
            },
        }
    };
    let forward: Vec<&alur_core::model::Action> = step
        .actions
        .iter()
        .filter(|a| match leads_to(a) {
            (Some(i), _) => i > idx && !matches!(def.steps[i].kind, StepKind::Applicant),
            (_, Some(Outcome::Completed)) => true,
            _ => false,
        })
        .collect();
    let returns: Vec<_> = step.actions.iter().filter(|a| matches!(leads_to(a), (Some(i), _) if matches!(def.steps[i].kind, StepKind::Applicant))).collect();
    let rejects: Vec<_> = step
        .actions
        .iter()
        .filter(|a| matches!(leads_to(a), (_, Some(Outcome::Rejected))))
        .collect();
    let r = rng.f64();
    let action = if is_applicant {
        step.actions.first()
    } else if r < opts.return_rate && !returns.is_empty() {
        returns.first().copied()
    } else if r < opts.return_rate + opts.refuse_rate && !rejects.is_empty() {
        rejects.first().copied()
    } else {
        forward.first().copied().or(step.actions.first())
    };
    let Some(action) = action else {
        return (
            Command::Claim {
                actor: Actor::System,
            },
            60.0,
        );
    };
    let actor = if is_applicant {
        applicant_actor(&case.unit, applicant_n, pseudo)
    } else {
        let role = match (&step.kind, &action.target) {
            (StepKind::Approval(ApprovalRule::Chain(chain)), Target::Vote(_)) => {
                chain.get(case.votes.len()).cloned()
            }
            (StepKind::Approval(ApprovalRule::Quorum { of, .. }), Target::Vote(_)) => of
                .iter()
                .find(|r| !case.votes.iter().any(|v| &v.role == *r))
                .cloned(),
            _ => (if action.roles.is_empty() {
                &step.roles
            } else {
                &action.roles
            })
            .first()
            .cloned(),
        }
        .unwrap_or_default();
        let unit = match step.at {
            StepAt::Unit => case.unit.clone(),
            StepAt::Ancestor(l) => RegionIndex::embedded()
                .ok()
                .and_then(|r| r.ancestor_at(&case.unit, l))
                .map_or_else(String::new, |r| r.code.clone()),
        };
        // Alternate the two officers of a role so separation-of-duties rules hold.
        let n = (case.participants.len() + case.votes.len()) % 2;
        Actor::Officer(format!("sim-{unit}-{role}-{n}"))
    };
    let next_delay = if is_applicant
        || !matches!(leads_to(action), (Some(i), _) if matches!(def.steps[i].kind, StepKind::Applicant))
    {
        officer_delay(rng)
    } else {
        // The applicant brings the missing documents one to three working days later.
        60.0 * 7.5 * (1.0 + rng.below(3) as f64)
    };
    let cmd = Command::Act {
        actor,
        action: action.id.clone(),
        seen_version: case.version,
        checked: def.requirements.iter().map(|r| r.id.clone()).collect(),
        payload: Payload {
            fields: def
                .fields
                .iter()
                .map(|f| (f.id.clone(), field_value(def, &f.id, applicant_n)))
                .collect(),
            reason: action
                .reason_required
                .then(|| "Berkas belum memenuhi persyaratan".to_owned()),
            text: None,
        },
    };
    (cmd, next_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_niks_are_shaped_like_real_ones_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        let step = 6_719u64; // walks every field of the date through its range
        for i in 0..100_000u64 {
            let n = i * step;
            let d = sim_nik_digits("21.71.01.1007", n);
            assert_eq!(d.len(), 16, "{d}");
            assert!(d.starts_with("217101"), "{d}");
            let day: u32 = d[6..8].parse().unwrap();
            let month: u32 = d[8..10].parse().unwrap();
            assert!(
                (1..=28).contains(&day) || (41..=68).contains(&day),
                "day {day} in {d}"
            );
            assert!((1..=12).contains(&month), "month {month} in {d}");
            assert!(seen.insert(d), "n {n} repeats a NIK");
            assert!(sim_nik("21.71.01.1007", n).is_some());
        }
        assert_ne!(
            sim_nik_digits("21.71.01.1007", 671_999_999),
            sim_nik_digits("21.71.01.1007", 0)
        );
    }
}
