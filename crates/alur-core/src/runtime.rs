//! The engine runtime: loads definitions into a store, runs commands through [`crate::engine::decide`],
//! and commits each transition (case, audit entries, payloads, outbox, timers, idempotency) atomically.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, GENESIS};
use crate::calendars::Calendars;
use crate::engine::{self, Actor, ActorRecord, Case, Command, Context, Event, EventKind, Payload};
use crate::error::{Error, ErrorKind};
use crate::model::{Config, Outcome, Retention, ServiceDefinition, StepKind};
use crate::pseudonym::{PersonRef, Pseudonymizer};
use crate::region::{self, RegionIndex};
use crate::store::*;

/// A source of time (injectable for tests and simulations).
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock set by hand.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: Timestamp) -> Self {
        Self(std::sync::Mutex::new(t))
    }
    /// Set the time.
    pub fn set(&self, t: Timestamp) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }
    /// Move the time forward.
    pub fn advance(&self, d: jiff::SignedDuration) {
        if let Ok(mut g) = self.0.lock() {
            *g = g.saturating_add(d).unwrap_or(*g);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.lock().map(|g| *g).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// A numbered letter ready to be rendered and signed: everything the page shows that the engine
/// decides (see [`Engine::prepare_letter`]).
#[derive(Debug, Clone)]
pub struct LetterDraft {
    /// The letter as numbered.
    pub letter: crate::letter::Letter,
    /// The case.
    pub case: Case,
    /// The service definition the case is pinned to.
    pub definition: Arc<ServiceDefinition>,
    /// Who signs, as recorded on the letter.
    pub signer: crate::letter::SignerRecord,
    /// The signer's audit record (role, unit, mandate).
    pub signer_actor: ActorRecord,
    /// Date of issue in the unit's time zone.
    pub date: jiff::civil::Date,
    /// Last day of validity, when limited.
    pub valid_until: Option<jiff::civil::Date>,
    /// The applicant's form values (from the stored payloads, latest value of each field).
    pub fields: BTreeMap<String, String>,
    /// Where the QR code points: `<verify_url>/<token>`.
    pub verify_url: String,
}

/// One line of a case's timeline, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineItem {
    /// The audit entry.
    pub entry: AuditEntry,
    /// Its personal payload, if stored and not erased.
    pub payload: Option<Payload>,
}

/// A submission request.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Service id.
    pub service: String,
    /// Unit code.
    pub unit: String,
    /// Applicant pseudonym.
    pub applicant: PersonRef,
    /// Conditions answered yes.
    pub conditions: BTreeSet<String>,
    /// Form values.
    pub payload: Payload,
}

/// Result of recomputing the deadlines of the open cases ([`Engine::amend_calendars`],
/// [`Engine::recompute_deadlines`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecomputeReport {
    /// Open cases looked at.
    pub open: usize,
    /// Cases whose deadlines changed (each recorded in its audit chain, unless a dry run).
    pub changed: usize,
    /// The changes, in the order the cases were looked at.
    pub changes: Vec<DeadlineChange>,
}

/// One open case whose recorded deadlines differ from the ones the calendars in force and the
/// deadline rule give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineChange {
    /// Case id.
    pub case_id: String,
    /// Service deadline recorded before.
    pub due_before: Option<Timestamp>,
    /// Service deadline recomputed.
    pub due_after: Option<Timestamp>,
    /// Step deadline recorded before.
    pub step_due_before: Option<Timestamp>,
    /// Step deadline recomputed.
    pub step_due_after: Option<Timestamp>,
}

/// Result of erasing personal data at the end of its retention ([`Engine::erase_expired`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErasureReport {
    /// Cases last changed before this are past their retention.
    pub cutoff: Timestamp,
    /// Cases whose payloads were erased (or, for [`past_retention`], would be).
    pub cases: usize,
    /// Payloads erased (or that would be).
    pub payloads: usize,
    /// Cases left as they were, with why (changed since listed, or erased by another run).
    pub skipped: Vec<(String, String)>,
}

/// Cases listed per page by [`Engine::erase_expired`] and [`past_retention`].
const ERASE_PAGE: usize = 200;

fn no_retention() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "no retention period is configured: add a [retention] section with personal_data \
         (e.g. \"5 tahun\") and legal_basis to alur.toml",
    )
}

/// Cases last changed before the returned instant are past `retention` at `now`.
pub fn retention_cutoff(retention: &Retention, now: Timestamp) -> Result<Timestamp, Error> {
    retention.personal_data.before(now).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the retention period {} reaches before the earliest representable time",
                retention.personal_data
            ),
        )
    })
}

/// The next page of cases past `cutoff` after `*after` (see [`Store::erasable`]); `*after`
/// moves to its last case.
async fn next_erasable<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    cutoff: Timestamp,
    after: &mut Option<String>,
) -> Result<Vec<(String, Vec<u64>)>, Error> {
    let page = store
        .erasable(tenant, cutoff, after.as_deref(), ERASE_PAGE)
        .await?;
    if let Some((last, _)) = page.last() {
        *after = Some(last.clone());
    }
    Ok(page)
}

/// What [`Engine::erase_expired`] would erase at `now`, read only (no engine, no write): the
/// report's cases and payloads, nothing skipped.
pub async fn past_retention<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    retention: &Retention,
    now: Timestamp,
) -> Result<ErasureReport, Error> {
    let cutoff = retention_cutoff(retention, now)?;
    let mut report = ErasureReport {
        cutoff,
        ..ErasureReport::default()
    };
    let mut after: Option<String> = None;
    loop {
        let page = next_erasable(store, tenant, cutoff, &mut after).await?;
        if page.is_empty() {
            break;
        }
        report.cases += page.len();
        report.payloads += page.iter().map(|(_, seqs)| seqs.len()).sum::<usize>();
    }
    Ok(report)
}

/// The engine runtime over a store.
pub struct Engine<S: Store> {
    config: Arc<Config>,
    store: S,
    clock: Arc<dyn Clock>,
    pseudonymizer: Pseudonymizer,
    officer_persons: BTreeMap<String, PersonRef>,
    regions: &'static RegionIndex,
    calendars: RwLock<Arc<Calendars>>,
    definitions: RwLock<HashMap<(String, u32), Arc<ServiceDefinition>>>,
    current: HashMap<String, Arc<ServiceDefinition>>,
    next_id: std::sync::atomic::AtomicU64,
    id_prefix: String,
    grants: BTreeSet<crate::config_log::Grant>,
    number_format: crate::letter::NumberFormat,
}

const MAX_RETRIES: usize = 8;

impl<S: Store> Engine<S> {
    /// Start an engine: registers every definition of `config` with the store (a changed
    /// definition becomes a new version; running cases keep theirs).
    pub async fn new(
        config: Config,
        store: S,
        clock: Arc<dyn Clock>,
        pseudonymizer: Pseudonymizer,
    ) -> Result<Self, Error> {
        let regions = RegionIndex::embedded()
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, e.to_string()))?;
        let mut current = HashMap::new();
        let mut definitions = HashMap::new();
        for def in config.services.values() {
            let version = store.put_definition(&config.tenant.id, def).await?;
            let mut d = (**def).clone();
            d.version = version;
            let d = Arc::new(d);
            definitions.insert((d.id.clone(), version), d.clone());
            current.insert(d.id.clone(), d);
        }
        let officer_persons = config
            .officers
            .values()
            .filter_map(|o| {
                o.nik
                    .as_ref()
                    .map(|n| (o.id.clone(), pseudonymizer.person(n)))
            })
            .collect();
        let id_prefix = format!("{:x}", clock.now().as_millisecond());
        let calendars = RwLock::new(Arc::new(config.calendars.clone()));
        let grants = crate::config_log::grants(&config);
        let number_format = crate::letter::NumberFormat::parse(&config.letters.number_format)
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!("[letters] number_format: {e}"),
                )
            })?;
        let engine = Self {
            config: Arc::new(config),
            store,
            clock,
            pseudonymizer,
            officer_persons,
            regions,
            calendars,
            definitions: RwLock::new(definitions),
            current,
            next_id: std::sync::atomic::AtomicU64::new(1),
            id_prefix,
            grants,
            number_format,
        };
        engine.record_configuration().await?;
        Ok(engine)
    }

    /// The configuration in use, as the `@config` chain records it.
    pub fn configuration_state(&self) -> crate::config_log::ConfigState {
        crate::config_log::ConfigState {
            definitions: self
                .current
                .values()
                .map(|d| (d.id.clone(), (d.version, d.digest.clone())))
                .collect(),
            calendars: self.calendars().labels().into_iter().collect(),
            grants: self.grants.clone(),
        }
    }

    /// Record in the tenant's configuration chain ([`crate::config_log::CONFIG_CHAIN`]) every
    /// difference between the configuration in use and the one last recorded: definition versions,
    /// calendars in force, posts and mandates granted or revoked. Runs at start-up and after a
    /// calendar amendment; a repeat records nothing. Returns the number of entries appended (0
    /// when the store has no tenant log).
    pub async fn record_configuration(&self) -> Result<usize, Error> {
        use crate::config_log::{CONFIG_CHAIN, ConfigState, chain_entries};
        if !self.store.capabilities().tenant_log {
            return Ok(0);
        }
        let tenant = &self.config.tenant.id;
        let desired = self.configuration_state();
        for _ in 0..MAX_RETRIES {
            let recorded = self.store.entries(tenant, CONFIG_CHAIN).await?;
            let events = ConfigState::from_entries(&recorded).diff(&desired);
            if events.is_empty() {
                return Ok(0);
            }
            let head = recorded.last().map(|e| (e.seq, e.hash.clone()));
            let entries = chain_entries(tenant, head, events, self.clock.now());
            match self.store.append_chain(tenant, &entries).await {
                Ok(()) => return Ok(entries.len()),
                Err(e)
                    if matches!(
                        e.kind,
                        StoreErrorKind::Conflict | StoreErrorKind::DuplicateKey
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            "the configuration chain kept moving; try again",
        ))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stop the engine and hand back its store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The pseudonymizer (to turn an applicant's NIK into a [`PersonRef`]).
    pub fn pseudonymizer(&self) -> &Pseudonymizer {
        &self.pseudonymizer
    }

    /// The current definition of a service.
    pub fn service(&self, id: &str) -> Option<&Arc<ServiceDefinition>> {
        self.current.get(id)
    }

    /// The calendars in force.
    pub fn calendars(&self) -> Arc<Calendars> {
        match self.calendars.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn definition(&self, id: &str, version: u32) -> Result<Arc<ServiceDefinition>, Error> {
        if let Ok(g) = self.definitions.read()
            && let Some(d) = g.get(&(id.to_owned(), version))
        {
            return Ok(d.clone());
        }
        let d = self
            .store
            .definition(&self.config.tenant.id, id, version)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("definition {id} v{version} is not in the store"),
                )
            })?;
        let d = Arc::new(d);
        if let Ok(mut g) = self.definitions.write() {
            g.insert((id.to_owned(), version), d.clone());
        }
        Ok(d)
    }

    fn context<'a>(&'a self, calendars: &'a Calendars) -> Context<'a> {
        Context {
            config: &self.config,
            regions: self.regions,
            officer_persons: &self.officer_persons,
            calendars,
        }
    }

    fn new_case_id(&self) -> String {
        let n = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}-{n:06}", self.id_prefix)
    }

    /// Submit a new case. With an idempotency key, a repeat returns the first result.
    pub async fn submit(
        &self,
        s: Submission,
        idempotency_key: Option<&str>,
    ) -> Result<Case, Error> {
        let case_id = self.new_case_id();
        self.submit_as(&case_id, s, idempotency_key).await
    }

    /// Submit a new case under an id the caller chose (unique within the tenant, e.g. from the
    /// host's own numbering); a taken id is a `Conflict`.
    pub async fn submit_as(
        &self,
        case_id: &str,
        s: Submission,
        idempotency_key: Option<&str>,
    ) -> Result<Case, Error> {
        if case_id.is_empty() || case_id.len() > 128 || case_id.chars().any(char::is_control) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a case id is 1–128 printable characters",
            ));
        }
        if crate::config_log::is_reserved_id(case_id) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "case ids must not start with `@` (reserved for the configuration chain)",
            ));
        }
        let cmd = Command::Submit {
            case_id: case_id.to_owned(),
            service: s.service,
            unit: s.unit,
            applicant: s.applicant,
            conditions: s.conditions,
            payload: s.payload,
        };
        self.run(case_id, cmd, idempotency_key, None).await
    }

    /// Run a command against a case. With an idempotency key, a repeat of the same command
    /// returns the first result; the key with a different command is an `IdempotencyMismatch`.
    pub async fn execute(
        &self,
        case_id: &str,
        command: Command,
        idempotency_key: Option<&str>,
    ) -> Result<Case, Error> {
        match command {
            Command::Submit { .. } => Err(Error::new(
                ErrorKind::InvalidInput,
                "use Engine::submit for submissions",
            )),
            Command::Fire { .. } | Command::Recompute | Command::ErasePersonalData { .. } => {
                Err(Error::new(
                    ErrorKind::Forbidden,
                    "timer, recompute and erasure commands are issued by the engine itself",
                ))
            }
            Command::IssueLetter { .. } | Command::RevokeLetter { .. } => Err(Error::new(
                ErrorKind::InvalidInput,
                "use Engine::issue_letter and Engine::revoke_letter for letters",
            )),
            command => self.run(case_id, command, idempotency_key, None).await,
        }
    }

    /// Fire a claimed timer: one transition that consumes the timer (at most once).
    pub async fn fire(&self, timer: &Timer) -> Result<Case, Error> {
        let cmd = Command::Fire {
            kind: timer.kind.clone(),
        };
        self.run(&timer.case_id, cmd, None, Some(&timer.id)).await
    }

    /// Put amended calendars in force and recompute the deadlines of every open case; each change
    /// is recorded in the case's audit chain with the new calendar version.
    pub async fn amend_calendars(&self, calendars: Calendars) -> Result<RecomputeReport, Error> {
        match self.calendars.write() {
            Ok(mut g) => *g = Arc::new(calendars),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(calendars),
        }
        self.record_configuration().await?;
        self.recompute_deadlines(false).await
    }

    /// Recompute the deadlines of every open case with the calendars in force and the deadline
    /// rule of this build, and record each one that differs from what the case holds as a
    /// `deadline_recomputed` entry in its audit chain (its timers follow). A database written by
    /// an older build with a wrong deadline rule is set right this way, with every change on
    /// record; a second run finds nothing.
    ///
    /// With `dry_run`, nothing is written: the report lists what a run would change.
    pub async fn recompute_deadlines(&self, dry_run: bool) -> Result<RecomputeReport, Error> {
        let mut report = RecomputeReport::default();
        let mut cursor: Option<Timestamp> = None;
        let mut seen = BTreeSet::new();
        loop {
            let q = SearchQuery {
                open_only: true,
                submitted_to: cursor.map(|c| {
                    c.checked_add(jiff::SignedDuration::from_nanos(1))
                        .unwrap_or(c)
                }),
                limit: 500,
                ..SearchQuery::default()
            };
            let page = self.store.search(&self.config.tenant.id, &q).await?;
            if page.is_empty() {
                break;
            }
            let last = page.last().map(|c| c.submitted_at);
            let mut progressed = false;
            for c in page {
                if !seen.insert(c.id.clone()) {
                    continue;
                }
                progressed = true;
                report.open += 1;
                let Some(change) = self.deadline_change(&c).await? else {
                    continue;
                };
                if !dry_run {
                    match self.run(&c.id, Command::Recompute, None, None).await {
                        Ok(_) => {}
                        // Changed or closed since it was read: nothing to record.
                        Err(e) if e.kind() == ErrorKind::InvalidTransition => continue,
                        Err(e) => return Err(e),
                    }
                }
                report.changed += 1;
                report.changes.push(change);
            }
            if !progressed {
                break;
            }
            cursor = last;
        }
        Ok(report)
    }

    /// The deadlines `case` would get from a recomputation now, when they differ from its own.
    async fn deadline_change(&self, case: &Case) -> Result<Option<DeadlineChange>, Error> {
        let def = self
            .definition(&case.service, case.definition_version)
            .await?;
        let calendars = self.calendars();
        let now = self.clock.now();
        let events = match engine::decide(
            &self.context(&calendars),
            &def,
            Some(case),
            &Command::Recompute,
            now,
        ) {
            Ok(ev) => ev,
            Err(r) if r.kind == engine::RefusalKind::InvalidTransition => return Ok(None),
            Err(r) => return Err(r.into()),
        };
        Ok(events
            .into_iter()
            .find_map(|e| e.due)
            .map(|due| DeadlineChange {
                case_id: case.id.clone(),
                due_before: case.due_at,
                due_after: due.due_at,
                step_due_before: case.step_due_at,
                step_due_after: due.step_due_at,
            }))
    }

    /// Erase the personal payloads of every closed case whose last change is older than the
    /// `[retention]` period (UU PDP 27/2022: personal data is erased at the end of its
    /// retention). Each case's erasure is one transition: an entry in its chain, by the
    /// system, with the retention rule's legal basis and the entries whose payloads go; the
    /// store deletes those payloads in the same transaction, and the entries keep their
    /// digests, so every chain and the tenant log still verify. ([`past_retention`] counts
    /// the same cases without an engine and without writing.)
    ///
    /// A case that changed since it was listed, or that another run erased first, is skipped
    /// and reported; any other error stops the run (what was erased stays erased and recorded).
    pub async fn erase_expired(&self) -> Result<ErasureReport, Error> {
        let retention = self.config.retention.as_ref().ok_or_else(no_retention)?;
        let cutoff = retention_cutoff(retention, self.clock.now())?;
        let tenant = &self.config.tenant.id;
        let mut report = ErasureReport {
            cutoff,
            ..ErasureReport::default()
        };
        let mut after: Option<String> = None;
        loop {
            let page = next_erasable(&self.store, tenant, cutoff, &mut after).await?;
            if page.is_empty() {
                break;
            }
            for (case_id, seqs) in page {
                let n = seqs.len();
                let cmd = Command::ErasePersonalData {
                    legal_basis: retention.legal_basis.clone(),
                    seqs,
                    changed_before: cutoff,
                };
                match self.run(&case_id, cmd, None, None).await {
                    Ok(_) => {
                        report.cases += 1;
                        report.payloads += n;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::InvalidTransition | ErrorKind::Conflict
                        ) =>
                    {
                        report.skipped.push((case_id, e.message().to_owned()));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(report)
    }

    fn command_digest(command: &Command) -> String {
        // The case id of a submission is chosen per call; leave it out so retries match.
        let mut c = command.clone();
        if let Command::Submit { case_id, .. } = &mut c {
            case_id.clear();
        }
        crate::config::hex(&Sha256::digest(serde_json::to_vec(&c).unwrap_or_default()))
    }

    async fn check_idempotency(&self, key: &str, digest: &str) -> Result<Option<Case>, Error> {
        match self.store.idempotency(&self.config.tenant.id, key).await? {
            Some(r) if r.command_digest == digest => Ok(Some(r.result)),
            Some(_) => Err(Error::new(
                ErrorKind::IdempotencyMismatch,
                format!("idempotency key `{key}` was already used with a different command"),
            )),
            None => Ok(None),
        }
    }

    async fn run(
        &self,
        case_id: &str,
        command: Command,
        idempotency_key: Option<&str>,
        fired_timer: Option<&str>,
    ) -> Result<Case, Error> {
        let tenant = self.config.tenant.id.clone();
        let digest = Self::command_digest(&command);
        if let Some(key) = idempotency_key
            && let Some(first) = self.check_idempotency(key, &digest).await?
        {
            return Ok(first);
        }
        let system = matches!(
            command,
            Command::Fire { .. } | Command::Recompute | Command::ErasePersonalData { .. }
        );
        let retryable = !matches!(command, Command::Act { .. } | Command::Submit { .. })
            && fired_timer.is_none();
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The case and its chain head in one read (a submission needs neither).
            let (case, head) = match &command {
                Command::Submit { .. } => (self.store.case(&tenant, case_id).await?, None),
                _ => match self.store.case_with_head(&tenant, case_id).await? {
                    Some((c, head)) => (Some(c), head),
                    None => (None, None),
                },
            };
            let def = match (&command, &case) {
                (Command::Submit { service, .. }, _) => {
                    self.current.get(service).cloned().ok_or_else(|| {
                        Error::new(ErrorKind::NotFound, format!("unknown service `{service}`"))
                    })?
                }
                (_, Some(c)) => self.definition(&c.service, c.definition_version).await?,
                (_, None) => {
                    let e = Error::new(ErrorKind::NotFound, format!("case `{case_id}` not found"));
                    self.deny(Some(case_id), &command, e.message()).await;
                    return Err(e);
                }
            };
            let now = self.clock.now();
            let calendars = self.calendars();
            let events = match engine::decide(
                &self.context(&calendars),
                &def,
                case.as_ref(),
                &command,
                now,
            ) {
                Ok(ev) => ev,
                Err(refusal) => {
                    if !system {
                        self.deny(Some(case_id), &command, &refusal.message).await;
                    }
                    return Err(refusal.into());
                }
            };
            let expected = case.as_ref().map_or(0, |c| c.version);
            let mut t = self
                .transition(
                    &def,
                    &calendars,
                    case,
                    head,
                    case_id,
                    &events,
                    command.payload(),
                    idempotency_key,
                    &digest,
                )
                .await?;
            t.fired_timer = fired_timer.map(str::to_owned);
            t.expected_version = expected;
            t.letter = self.letter_op(&def, &calendars, &command, &events, &t.case);
            let result = t.case.clone();
            match self.store.commit(t).await {
                Ok(()) => return Ok(result),
                Err(e) if e.kind == StoreErrorKind::DuplicateKey => {
                    // A concurrent duplicate committed first: return its result.
                    if let Some(key) = idempotency_key
                        && let Some(first) = self.check_idempotency(key, &digest).await?
                    {
                        return Ok(first);
                    }
                    return Err(e.into());
                }
                Err(e)
                    if e.kind == StoreErrorKind::Conflict && retryable && attempt < MAX_RETRIES =>
                {
                    continue;
                }
                Err(e) if e.kind == StoreErrorKind::Conflict => {
                    if let Some(key) = idempotency_key
                        && let Some(first) = self.check_idempotency(key, &digest).await?
                    {
                        return Ok(first);
                    }
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("case `{case_id}` changed concurrently; reload it and try again"),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn deny(&self, case_id: Option<&str>, command: &Command, reason: &str) {
        let actor = match command.actor() {
            Actor::Officer(o) => o,
            Actor::Applicant(p) => p.0,
            Actor::System => "system".into(),
        };
        let name = match command {
            Command::Submit { .. } => "submit",
            Command::Act { .. } => "act",
            Command::Comment { .. } => "comment",
            Command::Claim { .. } => "claim",
            Command::Assign { .. } => "assign",
            Command::Withdraw { .. } => "withdraw",
            Command::Fire { .. } => "fire",
            Command::Recompute => "recompute",
            Command::Rate { .. } => "rate",
            Command::IssueLetter { .. } => "issue-letter",
            Command::RevokeLetter { .. } => "revoke-letter",
            Command::ErasePersonalData { .. } => "erase-personal-data",
        };
        // Recording a denial must not turn the refusal into a different error.
        let _ = self
            .store
            .record_denial(Denial {
                tenant: self.config.tenant.id.clone(),
                case_id: case_id.map(str::to_owned),
                actor,
                command: name.into(),
                reason: reason.to_owned(),
                at: self.clock.now(),
            })
            .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        def: &ServiceDefinition,
        calendars: &Calendars,
        case: Option<Case>,
        head: Option<(u64, String)>,
        case_id: &str,
        events: &[Event],
        payload: Option<&Payload>,
        idempotency_key: Option<&str>,
        digest: &str,
    ) -> Result<Transition, Error> {
        let tenant = self.config.tenant.id.clone();
        let mut prev = match &case {
            Some(c) => match head {
                Some((seq, hash)) if seq == c.version => hash,
                Some((seq, _)) => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "case `{case_id}` is at version {} but its chain at entry {seq}; reload it",
                            c.version
                        ),
                    ));
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Storage,
                        format!("case `{case_id}` has no audit entries"),
                    ));
                }
            },
            None => GENESIS.to_owned(),
        };
        let before = case.clone();
        let mut case = case;
        let mut entries = Vec::with_capacity(events.len());
        let mut payloads = Vec::new();
        let mut outbox = Vec::new();
        for ev in events {
            let next = engine::apply(def, self.regions, case.take(), case_id, &tenant, ev)?;
            let payload_digest = match payload {
                Some(p) if ev.has_payload => {
                    let bytes = serde_json::to_vec(p).unwrap_or_default();
                    let d = crate::config::hex(&self.pseudonymizer.digest(&bytes));
                    payloads.push(StoredPayload {
                        case_id: case_id.to_owned(),
                        seq: next.version,
                        digest: d.clone(),
                        payload: p.clone(),
                    });
                    Some(d)
                }
                _ => None,
            };
            let legal_basis = match &ev.kind {
                EventKind::DeemedApproved { legal_basis, .. }
                | EventKind::PersonalDataErased { legal_basis, .. } => Some(legal_basis.clone()),
                _ => None,
            };
            let mut entry = AuditEntry {
                tenant: tenant.clone(),
                case_id: case_id.to_owned(),
                seq: next.version,
                service: def.id.clone(),
                definition_version: def.version,
                calendar_version: ev.due.as_ref().map(|d| d.calendar.clone()),
                event: ev.kind.clone(),
                actor: ev.actor.clone(),
                legal_basis,
                at: ev.at,
                due: ev.due.clone(),
                payload_digest,
                prev_hash: prev,
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            prev = entry.hash.clone();
            for (template, recipient) in notifications(def, &next, &ev.kind) {
                outbox.push(OutboxMessage {
                    id: format!("{case_id}:{}:{recipient}", next.version),
                    tenant: tenant.clone(),
                    case_id: case_id.to_owned(),
                    seq: next.version,
                    template: template.into(),
                    recipient,
                    created_at: ev.at,
                });
            }
            entries.push(entry);
            case = Some(next);
        }
        let case = case.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidTransition,
                "the command produced no event",
            )
        })?;
        // Timers follow the deadlines: replaced whenever the step, the clock or a deadline changes.
        let moved = before.as_ref().is_none_or(|b| {
            b.status != case.status
                || b.step_entered_at != case.step_entered_at
                || b.due_at != case.due_at
                || b.step_due_at != case.step_due_at
                || b.paused_since != case.paused_since
        });
        let timers = if moved {
            timers_for(def, &case, calendars.for_unit(&case.unit))
        } else {
            Vec::new()
        };
        let idempotency = idempotency_key.map(|k| IdempotencyRecord {
            key: k.to_owned(),
            command_digest: digest.to_owned(),
            result: case.clone(),
        });
        Ok(Transition {
            tenant,
            case,
            expected_version: 0,
            entries,
            payloads,
            outbox,
            timers,
            replace_timers: moved,
            idempotency,
            fired_timer: None,
            letter: None,
        })
    }

    /// A case by id.
    pub async fn case(&self, case_id: &str) -> Result<Option<Case>, Error> {
        Ok(self.store.case(&self.config.tenant.id, case_id).await?)
    }

    /// A case's timeline: its audit entries with their personal payloads.
    pub async fn timeline(&self, case_id: &str) -> Result<Vec<TimelineItem>, Error> {
        let tenant = &self.config.tenant.id;
        let entries = self.store.entries(tenant, case_id).await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let payload = if e.payload_digest.is_some() {
                self.store.payload(tenant, case_id, e.seq).await?
            } else {
                None
            };
            out.push(TimelineItem { entry: e, payload });
        }
        Ok(out)
    }

    /// The (role, unit) posts an officer holds now, directly or by a mandate valid today.
    pub fn posts_now(&self, officer: &str) -> Vec<(String, String)> {
        let now = self.clock.now();
        let calendars = self.calendars();
        let mut posts: Vec<(String, String)> = Vec::new();
        if let Some(o) = self.config.officers.get(officer) {
            posts.extend(o.posts.iter().map(|p| (p.role.clone(), p.unit.clone())));
        }
        for m in &self.config.mandates {
            let today = calendars
                .for_unit(&m.unit)
                .time_zone()
                .to_datetime(now)
                .date();
            if m.holder == officer && m.from <= today && today <= m.until {
                posts.push((m.role.clone(), m.unit.clone()));
            }
        }
        posts.sort();
        posts.dedup();
        posts
    }

    /// What an officer may act on now, oldest deadline first (separation of duties applied).
    pub async fn inbox(&self, officer: &str, limit: usize) -> Result<Vec<Case>, Error> {
        let posts = self.posts_now(officer);
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let candidates = self
            .store
            .inbox(
                &self.config.tenant.id,
                &posts,
                limit.saturating_mul(2).max(limit + 16),
            )
            .await?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for c in candidates {
            let def = self.definition(&c.service, c.definition_version).await?;
            if self.allowed_actions(&def, &c, officer, now).is_empty() {
                continue;
            }
            out.push(c);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Action ids `officer` may take on `case` now (authorisation only; inputs are checked on acting).
    pub fn allowed_actions(
        &self,
        def: &ServiceDefinition,
        case: &Case,
        officer: &str,
        now: Timestamp,
    ) -> Vec<String> {
        let Some(step) = case
            .step()
            .and_then(|s| def.steps.iter().find(|x| x.id == s))
        else {
            return Vec::new();
        };
        let calendars = self.calendars();
        let ctx = self.context(&calendars);
        step.actions
            .iter()
            .filter(|a| {
                let probe = Command::Act {
                    actor: Actor::Officer(officer.to_owned()),
                    action: a.id.clone(),
                    seen_version: case.version,
                    checked: a.requires_checked.iter().cloned().collect(),
                    payload: Payload {
                        fields: a
                            .requires_fields
                            .iter()
                            .map(|f| (f.clone(), "x".into()))
                            .collect(),
                        reason: Some("x".into()),
                        text: None,
                    },
                };
                engine::decide(&ctx, def, Some(case), &probe, now).is_ok()
            })
            .map(|a| a.id.clone())
            .collect()
    }

    /// Search cases.
    pub async fn search(&self, q: &SearchQuery) -> Result<Vec<Case>, Error> {
        Ok(self.store.search(&self.config.tenant.id, q).await?)
    }
}

/// Timers for a case's current state: reminders at the configured percentages of the step SLA,
/// the step breach, and the service breach. None while the clock is paused or the case is closed.
pub fn timers_for(
    def: &ServiceDefinition,
    case: &Case,
    cal: &alur_calendar::WorkingCalendar,
) -> Vec<Timer> {
    let mut out = Vec::new();
    let Some(step) = case.step() else { return out };
    if case.paused_since.is_some() {
        return out;
    }
    let timer = |kind: String, fire_at: Timestamp| Timer {
        id: format!("{}:{}:{kind}", case.id, case.version),
        tenant: case.tenant.clone(),
        case_id: case.id.clone(),
        kind,
        fire_at,
    };
    if let Some(due) = case.step_due_at {
        if let Ok(total) = cal.working_time_between(case.step_entered_at, due) {
            for pct in &def.reminders {
                let part = total.mul_f64(f64::from(*pct) / 100.0);
                if let Ok(at) = cal.add_working_time(case.step_entered_at, part) {
                    out.push(timer(format!("reminder:{step}:{pct}"), at));
                }
            }
        }
        out.push(timer(format!("step-breach:{step}"), due));
    }
    if let Some(due) = case.due_at
        && !case.breached
    {
        out.push(timer("breach".into(), due));
    }
    out.sort_by(|a, b| (a.fire_at, &a.id).cmp(&(b.fire_at, &b.id)));
    out
}

/// The notifications an event causes: (template, recipient).
fn notifications(
    def: &ServiceDefinition,
    case: &Case,
    kind: &EventKind,
) -> Vec<(&'static str, String)> {
    let officers = |case: &Case| -> Vec<String> {
        case.pending
            .as_ref()
            .map(|p| {
                p.roles
                    .iter()
                    .map(|r| format!("role:{r}@{}", p.unit))
                    .collect()
            })
            .unwrap_or_default()
    };
    match kind {
        EventKind::Submitted { .. } => vec![("case.received", "applicant".into())],
        EventKind::Acted {
            vote_only: false,
            to: Some(to),
            ..
        } => {
            if def
                .steps
                .iter()
                .any(|s| &s.id == to && matches!(s.kind, StepKind::Applicant))
            {
                vec![("case.returned", "applicant".into())]
            } else {
                Vec::new()
            }
        }
        EventKind::Acted {
            outcome: Some(Outcome::Completed),
            ..
        } => vec![("case.completed", "applicant".into())],
        EventKind::Acted {
            outcome: Some(Outcome::Rejected),
            ..
        } => vec![("case.rejected", "applicant".into())],
        EventKind::DeemedApproved { .. } => vec![("case.deemed_approved", "applicant".into())],
        EventKind::Reminded { .. } => officers(case)
            .into_iter()
            .map(|r| ("officer.reminder", r))
            .collect(),
        EventKind::StepBreached { escalated_to, .. } | EventKind::Breached { escalated_to, .. } => {
            let mut v: Vec<(&'static str, String)> = escalated_to
                .iter()
                .map(|s| ("supervisor.breach", format!("role:{s}")))
                .collect();
            if let EventKind::Breached {
                reassigned_to: Some(o),
                ..
            } = kind
            {
                v.push(("officer.reassigned", format!("officer:{o}")));
            }
            v
        }
        _ => Vec::new(),
    }
}

/// Letters: numbering with the approval, issue after signing, revocation.
impl<S: Store> Engine<S> {
    /// The verification token of a case's letter: 160 bits from the tenant's keyed hash, so it
    /// cannot be guessed without the key and the same database is rebuilt from the same seed.
    fn letter_token(&self, case_id: &str) -> String {
        let label = format!("alur/letter-token\0{}\0{case_id}", self.config.tenant.id);
        let d = self.pseudonymizer.digest(label.as_bytes());
        crate::letter::base32(&d[..20])
    }

    /// What `command` (with its `events`) does to a letter, if anything.
    fn letter_op(
        &self,
        def: &ServiceDefinition,
        calendars: &Calendars,
        command: &Command,
        events: &[Event],
        case: &Case,
    ) -> Option<crate::letter::LetterOp> {
        use crate::letter::{LetterNumbering, LetterOp};
        let at = events.first()?.at;
        match command {
            Command::IssueLetter { issuance, .. } => {
                let mut i = issuance.clone();
                i.at = at;
                return Some(LetterOp::Issue(i));
            }
            Command::RevokeLetter { token, .. } => {
                return Some(LetterOp::Revoke {
                    token: token.clone(),
                    at,
                });
            }
            _ => {}
        }
        if !self.store.capabilities().letters {
            return None;
        }
        let completing = events.iter().find(|e| e.kind.completes_case())?;
        // A service whose product has no archive classification issues no letter (a complaint's
        // answer, say).
        let classification = def.product.classification.as_deref()?;
        let date = calendars
            .for_unit(&case.unit)
            .time_zone()
            .to_datetime(completing.at)
            .date();
        Some(LetterOp::Number(LetterNumbering {
            token: self.letter_token(&case.id),
            unit: case.unit.clone(),
            service: def.id.clone(),
            series: crate::letter::series_key(
                self.config.letters.series,
                Some(classification),
                &def.id,
            ),
            year: date.year(),
            pattern: self
                .number_format
                .pattern(classification, &case.unit, &def.id, date),
            at: completing.at,
        }))
    }

    /// The letter of a case, if it was numbered.
    pub async fn letter_for_case(
        &self,
        case_id: &str,
    ) -> Result<Option<crate::letter::Letter>, Error> {
        Ok(self
            .store
            .letter_for_case(&self.config.tenant.id, case_id)
            .await?)
    }

    /// A letter by its verification token.
    pub async fn letter(&self, token: &str) -> Result<Option<crate::letter::Letter>, Error> {
        Ok(self.store.letter(&self.config.tenant.id, token).await?)
    }

    /// Who may sign the case's letter, and how: the officer who approved it (directly or as
    /// Plh./Plt.); after a deemed approval, any officer holding the final step's role at the unit.
    fn signer_for(
        &self,
        case: &Case,
        def: &ServiceDefinition,
        entries: &[AuditEntry],
        officer: &str,
    ) -> Result<(crate::letter::SignerRecord, ActorRecord), Error> {
        let completing = entries.iter().rev().find(|e| e.event.completes_case());
        let Some(completing) = completing else {
            return Err(Error::new(
                ErrorKind::InvalidTransition,
                format!(
                    "case `{}` was not completed: there is no letter to sign",
                    case.id
                ),
            ));
        };
        let actor = if completing.actor.kind == "officer" {
            if completing.actor.id != officer {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    format!(
                        "the letter is signed by the officer who approved it ({}), not by {officer}",
                        completing.actor.id
                    ),
                ));
            }
            completing.actor.clone()
        } else {
            let step_id = match &completing.event {
                EventKind::DeemedApproved { from, .. } => from.as_str(),
                _ => "",
            };
            let roles: Vec<&str> = def
                .steps
                .iter()
                .find(|s| s.id == step_id)
                .map(|s| s.roles.iter().map(String::as_str).collect())
                .unwrap_or_default();
            let now = self.clock.now();
            let today = self
                .calendars()
                .for_unit(&case.unit)
                .time_zone()
                .to_datetime(now)
                .date();
            let direct = self.config.officers.get(officer).and_then(|o| {
                o.posts
                    .iter()
                    .find(|p| {
                        roles.contains(&p.role.as_str()) && region::code_within(&case.unit, &p.unit)
                    })
                    .map(|p| ActorRecord {
                        kind: "officer".into(),
                        id: officer.to_owned(),
                        role: Some(p.role.clone()),
                        unit: Some(p.unit.clone()),
                        ..ActorRecord::default()
                    })
            });
            let delegated = || {
                self.config.mandates.iter().find_map(|m| {
                    (m.holder == officer
                        && roles.contains(&m.role.as_str())
                        && region::code_within(&case.unit, &m.unit)
                        && m.from <= today
                        && today <= m.until)
                        .then(|| ActorRecord {
                            kind: "officer".into(),
                            id: officer.to_owned(),
                            role: Some(m.role.clone()),
                            unit: Some(m.unit.clone()),
                            on_behalf_of: m.principal.clone(),
                            mandate_kind: Some(m.kind),
                            mandate_ref: Some(m.reference.clone()),
                        })
                })
            };
            match direct.or_else(delegated) {
                Some(a) => a,
                None => {
                    return Err(Error::new(
                        ErrorKind::Forbidden,
                        format!(
                            "{officer} holds none of the roles of step `{step_id}` at unit {}",
                            case.unit
                        ),
                    ));
                }
            }
        };
        let Some(o) = self.config.officers.get(officer) else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("officer `{officer}` is not in the configuration"),
            ));
        };
        let role_name = actor
            .role
            .as_deref()
            .map(|r| {
                self.config
                    .roles
                    .get(r)
                    .map_or_else(|| r.to_owned(), |x| x.name.clone())
            })
            .unwrap_or_default();
        let unit = actor.unit.clone().unwrap_or_else(|| case.unit.clone());
        let unit_name = self
            .regions
            .get(&unit)
            .map_or_else(|| unit.clone(), |r| r.name.clone());
        let signer = crate::letter::SignerRecord {
            officer: officer.to_owned(),
            name: o.name.clone(),
            nip: o.nip.clone(),
            position: format!("{role_name} {unit_name}"),
            mandate_kind: actor.mandate_kind,
            mandate_ref: actor.mandate_ref.clone(),
        };
        Ok((signer, actor))
    }

    /// Everything needed to render and sign the case's numbered letter, for `officer` to sign.
    pub async fn prepare_letter(&self, case_id: &str, officer: &str) -> Result<LetterDraft, Error> {
        let tenant = &self.config.tenant.id;
        let Some(letter) = self.store.letter_for_case(tenant, case_id).await? else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("case `{case_id}` has no numbered letter"),
            ));
        };
        if letter.status != crate::letter::LetterStatus::Numbered {
            return Err(Error::new(
                ErrorKind::InvalidTransition,
                format!("letter {} was already issued", letter.number),
            ));
        }
        let Some(case) = self.store.case(tenant, case_id).await? else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("case `{case_id}` not found"),
            ));
        };
        let def = self
            .definition(&case.service, case.definition_version)
            .await?;
        let entries = self.store.entries(tenant, case_id).await?;
        let (signer, signer_actor) = self.signer_for(&case, &def, &entries, officer)?;
        let date = self
            .calendars()
            .for_unit(&case.unit)
            .time_zone()
            .to_datetime(self.clock.now())
            .date();
        let valid_until = match def.product.validity {
            crate::model::Validity::Days(n) => {
                date.checked_add(jiff::Span::new().days(i64::from(n))).ok()
            }
            crate::model::Validity::Months(n) => date
                .checked_add(jiff::Span::new().months(i64::from(n)))
                .ok(),
            crate::model::Validity::Years(n) => {
                date.checked_add(jiff::Span::new().years(i64::from(n))).ok()
            }
            crate::model::Validity::Unlimited => None,
        };
        let fields = crate::letter::form_fields(&self.store, tenant, &entries).await?;
        let verify_url = format!("{}/{}", self.config.letters.verify_url, letter.token);
        Ok(LetterDraft {
            letter,
            case,
            definition: def,
            signer,
            signer_actor,
            date,
            valid_until,
            fields,
            verify_url,
        })
    }

    /// Issue a prepared letter as `document` (the signed PDF, or the HTML): the document is
    /// stored by its SHA-256 and the case's chain gets the `letter_issued` entry that proves it.
    pub async fn issue_letter(
        &self,
        draft: &LetterDraft,
        document: &[u8],
        media_type: &str,
    ) -> Result<crate::letter::Letter, Error> {
        let tenant = &self.config.tenant.id;
        let sha = crate::letter::document_digest(document);
        self.store
            .put_letter_document(tenant, &sha, media_type, document)
            .await?;
        let mut fields = BTreeMap::new();
        fields.insert("penandatangan_nama".to_owned(), draft.signer.name.clone());
        if let Some(nip) = &draft.signer.nip {
            fields.insert("penandatangan_nip".to_owned(), nip.clone());
        }
        fields.insert("penandatangan_jabatan".to_owned(), draft.signer.title());
        let cmd = Command::IssueLetter {
            actor: Actor::Officer(draft.signer.officer.clone()),
            signer_actor: draft.signer_actor.clone(),
            number: draft.letter.number.clone(),
            issuance: crate::letter::LetterIssuance {
                token: draft.letter.token.clone(),
                at: self.clock.now(),
                document_sha256: sha,
                media_type: media_type.to_owned(),
                signer: draft.signer.clone(),
                valid_until: draft.valid_until,
            },
            payload: Payload {
                fields,
                reason: None,
                text: None,
            },
        };
        self.run(&draft.case.id, cmd, None, None).await?;
        self.store
            .letter(tenant, &draft.letter.token)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Storage, "the issued letter is not in the store"))
    }

    /// Revoke an issued letter, with a reason. The officer must hold the role of the step that
    /// approved it at the issuing unit (or be the signer).
    pub async fn revoke_letter(
        &self,
        token: &str,
        officer: &str,
        reason: &str,
    ) -> Result<crate::letter::Letter, Error> {
        let tenant = &self.config.tenant.id;
        let Some(letter) = self.store.letter(tenant, token).await? else {
            return Err(Error::new(ErrorKind::NotFound, "no letter has this token"));
        };
        let Some(case) = self.store.case(tenant, &letter.case_id).await? else {
            return Err(Error::new(ErrorKind::NotFound, "the letter's case is gone"));
        };
        let def = self
            .definition(&case.service, case.definition_version)
            .await?;
        let last_task_roles: Vec<String> = def
            .steps
            .iter()
            .rev()
            .find(|s| !s.roles.is_empty())
            .map(|s| s.roles.clone())
            .unwrap_or_default();
        let post = self
            .posts_now(officer)
            .into_iter()
            .find(|(r, u)| last_task_roles.contains(r) && region::code_within(&case.unit, u));
        let is_signer = letter.signer.as_ref().is_some_and(|s| s.officer == officer);
        let (role, unit) = match post {
            Some(p) => (Some(p.0), Some(p.1)),
            None if is_signer => (None, Some(case.unit.clone())),
            None => {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    format!("{officer} may not revoke letters of unit {}", case.unit),
                ));
            }
        };
        let cmd = Command::RevokeLetter {
            actor: Actor::Officer(officer.to_owned()),
            revoker: ActorRecord {
                kind: "officer".into(),
                id: officer.to_owned(),
                role,
                unit,
                ..ActorRecord::default()
            },
            token: token.to_owned(),
            number: letter.number.clone(),
            payload: Payload {
                fields: BTreeMap::new(),
                reason: Some(reason.to_owned()),
                text: None,
            },
        };
        self.run(&letter.case_id, cmd, None, None).await?;
        self.store
            .letter(tenant, token)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Storage, "the revoked letter is not in the store"))
    }
}
