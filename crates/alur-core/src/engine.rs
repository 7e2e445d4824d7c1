//! The pure engine: `decide(definition, case, command, now) -> events` and `apply(case, event)`.
//!
//! Nothing here does I/O or reads a clock: the same inputs always give the same events, so
//! replaying a case's events through [`apply`] rebuilds it exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::pseudonym::PersonRef;
use crate::region::RegionIndex;

/// Where a case is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "at")]
pub enum Status {
    /// Open, at this step id.
    Open(String),
    /// Closed with this outcome.
    Closed(Outcome),
}

impl Status {
    /// Whether the case is still open.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open(_))
    }
}

/// Who acted in a step (for separation of duties).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participation {
    /// Step id.
    pub step: String,
    /// Officer who acted.
    pub officer: String,
    /// Official on whose behalf, when delegated.
    pub principal: Option<String>,
}

/// An approval vote in the current step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Officer who voted.
    pub officer: String,
    /// Role voted in.
    pub role: String,
}

/// Who must act next, for inbox queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Unit where the step is performed.
    pub unit: String,
    /// Roles that may act now (empty: the applicant).
    pub roles: Vec<String>,
}

/// A case (one application by one applicant for one service at one unit).
///
/// Holds no personal data beyond the applicant's pseudonym: field values, reasons and comments
/// are stored apart under the digest recorded in the audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Case id.
    pub id: String,
    /// Tenant id.
    pub tenant: String,
    /// Service id.
    pub service: String,
    /// Definition version the case is pinned to.
    pub definition_version: u32,
    /// Unit code where it was submitted.
    pub unit: String,
    /// Applicant pseudonym.
    pub applicant: PersonRef,
    /// Conditions the applicant answered yes to.
    pub conditions: BTreeSet<String>,
    /// Status.
    pub status: Status,
    /// Number of events applied (= the last audit sequence number).
    pub version: u64,
    /// Requirements ticked as present and valid.
    pub checked: BTreeSet<String>,
    /// Fields filled (values kept apart).
    pub filled: BTreeSet<String>,
    /// Votes in the current approval step.
    pub votes: Vec<Vote>,
    /// Officer who claimed or was assigned the current step.
    pub assignee: Option<String>,
    /// Who acted where.
    pub participants: Vec<Participation>,
    /// Who must act next.
    pub pending: Option<Pending>,
    /// Submission time.
    pub submitted_at: Timestamp,
    /// When the current step was entered.
    pub step_entered_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Time the service clock started (`None` until the definition's start point).
    pub clock_started_at: Option<Timestamp>,
    /// Expected completion time (the service deadline), once the clock has started.
    pub due_at: Option<Timestamp>,
    /// Deadline of the current step, when it has an SLA and the clock runs.
    pub step_due_at: Option<Timestamp>,
    /// Since when the clock is paused (the case waits for the applicant).
    pub paused_since: Option<Timestamp>,
    /// Closed pause intervals (start, end); deadlines move by their working time.
    pub pauses: Vec<(Timestamp, Timestamp)>,
    /// Calendar version that computed the deadlines.
    pub calendar_version: Option<String>,
    /// The service deadline passed while the case was open.
    pub breached: bool,
    /// Completed by deemed approval (fiktif positif).
    pub deemed_approved: bool,
    /// Count of returns to the applicant (rework).
    pub returns: u32,
    /// The applicant answered the satisfaction survey.
    #[serde(default)]
    pub rated: bool,
    /// The letter's state once issued (numbering is the store's; see [`crate::letter`]).
    #[serde(default)]
    pub letter: Option<crate::letter::LetterStatus>,
}

impl Case {
    /// Current step id, if open.
    pub fn step(&self) -> Option<&str> {
        match &self.status {
            Status::Open(s) => Some(s),
            Status::Closed(_) => None,
        }
    }
}

/// Who issues a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Actor {
    /// An officer by id.
    Officer(String),
    /// The applicant (authenticated by the host, e.g. with a tracking code).
    Applicant(PersonRef),
    /// The system itself (timers).
    System,
}

/// Personal payload of a command: stored apart from the audit log, digested into it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Field values.
    pub fields: BTreeMap<String, String>,
    /// A written reason (rejection, return).
    pub reason: Option<String>,
    /// Free text (comments).
    pub text: Option<String>,
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: show only the shape.
        f.debug_struct("Payload")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("reason", &self.reason.as_ref().map(|_| "<redacted>"))
            .field("text", &self.text.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Payload {
    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.reason.is_none() && self.text.is_none()
    }
}

/// A command to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Submit a new case.
    Submit {
        /// New case id (chosen by the caller or the runtime).
        case_id: String,
        /// Service id.
        service: String,
        /// Unit code.
        unit: String,
        /// Applicant pseudonym.
        applicant: PersonRef,
        /// Conditions answered yes.
        conditions: BTreeSet<String>,
        /// Form values.
        payload: Payload,
    },
    /// Take an action of the current step.
    Act {
        /// Who.
        actor: Actor,
        /// Action id.
        action: String,
        /// The case version the actor saw.
        seen_version: u64,
        /// Requirements ticked with this action.
        checked: BTreeSet<String>,
        /// Fields and reason.
        payload: Payload,
    },
    /// Add a comment.
    Comment {
        /// Who.
        actor: Actor,
        /// The comment text in `payload.text`.
        payload: Payload,
    },
    /// Take the current step for oneself.
    Claim {
        /// Who.
        actor: Actor,
    },
    /// Give the current step to an officer.
    Assign {
        /// Who assigns.
        actor: Actor,
        /// Officer id who receives it.
        to: String,
    },
    /// The applicant withdraws the application.
    Withdraw {
        /// Must be the applicant.
        actor: Actor,
        /// Reason in `payload.reason` (optional).
        payload: Payload,
    },
    /// A timer fires (system only): `reminder:<step>:<percent>`, `step-breach:<step>` or `breach`.
    Fire {
        /// Timer kind.
        kind: String,
    },
    /// Recompute deadlines with the current calendar (system only, after an amendment).
    Recompute,
    /// The applicant rates the service (SKM, Permenpan-RB 14/2017) after completion.
    Rate {
        /// Must be the applicant.
        actor: Actor,
        /// The nine elements' answers, each 1 (tidak baik) to 4 (sangat baik).
        scores: Vec<u8>,
    },
    /// Record the issue of the completed case's letter, rendered and signed (see
    /// [`crate::Engine::issue_letter`], which prepares this command).
    IssueLetter {
        /// The signer.
        actor: Actor,
        /// The signer's record for the audit entry (role, unit, mandate).
        signer_actor: ActorRecord,
        /// The letter's number.
        number: String,
        /// What is issued.
        issuance: crate::letter::LetterIssuance,
        /// The signer's name, NIP and position (stored apart, under the entry's digest).
        payload: Payload,
    },
    /// Erase the personal payloads of a closed case at the end of their retention (system only,
    /// see [`crate::Engine::erase_expired`]): recorded in the case's chain, and the store
    /// deletes the payloads named in the same transaction.
    ErasePersonalData {
        /// The retention rule's legal basis, recorded with the decision.
        legal_basis: String,
        /// Sequence numbers of the entries whose payloads go.
        seqs: Vec<u64>,
        /// The retention cutoff: the case's last change must be before it.
        changed_before: Timestamp,
    },
    /// Revoke an issued letter (reason in `payload.reason`, required).
    RevokeLetter {
        /// Who revokes.
        actor: Actor,
        /// Their record (role, unit).
        revoker: ActorRecord,
        /// The letter's token.
        token: String,
        /// The letter's number.
        number: String,
        /// The reason.
        payload: Payload,
    },
}

impl Command {
    /// The command's actor (the applicant for submissions).
    pub fn actor(&self) -> Actor {
        match self {
            Self::Submit { applicant, .. } => Actor::Applicant(applicant.clone()),
            Self::Act { actor, .. }
            | Self::Comment { actor, .. }
            | Self::Claim { actor }
            | Self::Assign { actor, .. }
            | Self::Withdraw { actor, .. }
            | Self::Rate { actor, .. }
            | Self::IssueLetter { actor, .. }
            | Self::RevokeLetter { actor, .. } => actor.clone(),
            Self::Fire { .. } | Self::Recompute | Self::ErasePersonalData { .. } => Actor::System,
        }
    }

    /// The personal payload carried, if any.
    pub fn payload(&self) -> Option<&Payload> {
        match self {
            Self::Submit { payload, .. }
            | Self::Act { payload, .. }
            | Self::Comment { payload, .. }
            | Self::Withdraw { payload, .. }
            | Self::IssueLetter { payload, .. }
            | Self::RevokeLetter { payload, .. } => Some(payload),
            Self::Claim { .. }
            | Self::Assign { .. }
            | Self::Fire { .. }
            | Self::Recompute
            | Self::Rate { .. }
            | Self::ErasePersonalData { .. } => None,
        }
    }
}

/// The actor as recorded: pseudonym, role and unit, and delegation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActorRecord {
    /// `officer`, `applicant` or `system`.
    pub kind: String,
    /// Officer id or applicant pseudonym; empty for the system.
    pub id: String,
    /// Role acted in.
    pub role: Option<String>,
    /// Unit acted at.
    pub unit: Option<String>,
    /// Official acted for, when delegated.
    pub on_behalf_of: Option<String>,
    /// `plh` or `plt` when delegated.
    pub mandate_kind: Option<MandateKind>,
    /// Mandate reference number when delegated.
    pub mandate_ref: Option<String>,
}

/// What happened (one event = one audit entry = one case version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum EventKind {
    /// A case was submitted.
    Submitted {
        /// Service id.
        service: String,
        /// Definition version pinned.
        definition_version: u32,
        /// Unit code.
        unit: String,
        /// Applicant pseudonym.
        applicant: PersonRef,
        /// Conditions answered yes.
        conditions: BTreeSet<String>,
        /// Fields filled.
        filled: BTreeSet<String>,
        /// First step (after skipping optional steps switched off).
        to: String,
        /// Optional steps skipped.
        skipped: Vec<String>,
    },
    /// An action moved the case (or recorded a vote that did not yet complete the step).
    Acted {
        /// Action id.
        action: String,
        /// Step acted in.
        from: String,
        /// Next step id, or `None` when the case closed.
        to: Option<String>,
        /// Outcome when it closed.
        outcome: Option<Outcome>,
        /// Whether this was an approval vote that left the case in the step.
        vote_only: bool,
        /// Requirements ticked.
        checked: BTreeSet<String>,
        /// Fields filled.
        filled: BTreeSet<String>,
        /// Optional steps skipped on the way.
        skipped: Vec<String>,
    },
    /// A comment was added.
    Commented,
    /// An officer claimed the step.
    Claimed,
    /// An officer was assigned the step.
    Assigned {
        /// Officer id.
        to: String,
    },
    /// The applicant withdrew.
    Withdrawn {
        /// Step it was in.
        from: String,
    },
    /// A reminder went to the officers holding the step.
    Reminded {
        /// Step.
        step: String,
        /// Percentage of the step SLA elapsed.
        percent: u8,
    },
    /// The step's SLA passed.
    StepBreached {
        /// Step.
        step: String,
        /// Supervisor notified (`role@unit`).
        escalated_to: Option<String>,
    },
    /// The service deadline passed.
    Breached {
        /// Step the case was in.
        step: String,
        /// Supervisor notified (`role@unit`).
        escalated_to: Option<String>,
        /// Officer the case was reassigned to.
        reassigned_to: Option<String>,
    },
    /// Deemed approval (fiktif positif): completed by the system at the deadline.
    DeemedApproved {
        /// Step the case was in.
        from: String,
        /// Legal basis recorded with the decision.
        legal_basis: String,
    },
    /// Deadlines recomputed after a calendar amendment.
    DeadlineRecomputed,
    /// Configuration (the tenant's `@config` chain): a service definition version came into use.
    DefinitionRegistered {
        /// Service id.
        service: String,
        /// Version number.
        version: u32,
        /// Content digest of the definition.
        digest: String,
    },
    /// Configuration: a working calendar came into force, for the tenant or a unit override.
    CalendarInForce {
        /// Unit code of an override; `None` for the tenant's default calendar.
        unit: Option<String>,
        /// Calendar version before (`number@digest`), if one was recorded.
        previous: Option<String>,
        /// Calendar version now in force.
        calendar: String,
    },
    /// Configuration: a post or a Plh./Plt. mandate was granted to an officer.
    GrantAdded {
        /// The grant.
        grant: crate::config_log::Grant,
    },
    /// Configuration: a post or mandate is no longer in the configuration.
    GrantRevoked {
        /// The grant.
        grant: crate::config_log::Grant,
    },
    /// The applicant rated the service (SKM): nine answers, 1–4.
    Rated {
        /// The answers, element U1 to U9.
        scores: Vec<u8>,
    },
    /// The case's letter was signed and issued.
    LetterIssued {
        /// Its number.
        number: String,
        /// SHA-256 of its verification token (the token is a bearer secret on the letter).
        token_sha256: String,
        /// SHA-256 of the signed document.
        document_sha256: String,
        /// Media type of the document.
        media_type: String,
        /// Last day of validity, when limited.
        valid_until: Option<jiff::civil::Date>,
    },
    /// The case's letter was revoked.
    LetterRevoked {
        /// Its number.
        number: String,
        /// SHA-256 of its verification token.
        token_sha256: String,
    },
    /// The personal payloads of these entries were erased at the end of their retention (the
    /// entries keep their digests, so the chain and the log still verify). A store deletes the
    /// payloads named in the transaction that records this.
    PersonalDataErased {
        /// Sequence numbers of the entries whose payloads were erased, ascending.
        seqs: Vec<u64>,
        /// The retention rule's legal basis.
        legal_basis: String,
    },
}

impl EventKind {
    /// Whether this event completes its case (an officer's final approval or a deemed
    /// approval): the event a letter is numbered with.
    pub fn completes_case(&self) -> bool {
        matches!(
            self,
            Self::Acted {
                outcome: Some(Outcome::Completed),
                vote_only: false,
                ..
            } | Self::DeemedApproved { .. }
        )
    }

    /// Whether this records a configuration change (an entry of the `@config` chain) rather
    /// than an event of a case.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::DefinitionRegistered { .. }
                | Self::CalendarInForce { .. }
                | Self::GrantAdded { .. }
                | Self::GrantRevoked { .. }
        )
    }
}

/// Deadlines computed with an event (recorded so replay needs no calendar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// Calendar version (`number@digest`).
    pub calendar: String,
    /// Service deadline.
    pub due_at: Option<Timestamp>,
    /// Current step's deadline.
    pub step_due_at: Option<Timestamp>,
}

/// An event with who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What.
    pub kind: EventKind,
    /// Who.
    pub actor: ActorRecord,
    /// When (UTC).
    pub at: Timestamp,
    /// Whether a personal payload was stored with it.
    pub has_payload: bool,
    /// Deadlines set by this event, if it changed them.
    pub due: Option<Due>,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Case, service, step, action or officer not found.
    NotFound,
    /// The actor may not do this.
    Forbidden,
    /// Separation of duties forbids it.
    SeparationOfDuties,
    /// Not possible in the case's state.
    InvalidTransition,
    /// The case changed since the actor saw it.
    Conflict,
    /// Required input missing or malformed.
    Invalid,
}

/// A typed refusal with an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct Refusal {
    /// Category.
    pub kind: RefusalKind,
    /// Why, in English.
    pub message: String,
}

fn refuse(kind: RefusalKind, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
    }
}

/// What the engine needs to know besides the definition and case.
pub struct Context<'a> {
    /// The tenant configuration (officers, mandates, units).
    pub config: &'a Config,
    /// The region index.
    pub regions: &'a RegionIndex,
    /// Officer id → person pseudonym, for "nobody acts on their own case".
    pub officer_persons: &'a BTreeMap<String, PersonRef>,
    /// Working calendars (deadlines; local dates decide mandate validity).
    pub calendars: &'a crate::calendars::Calendars,
}

/// How an officer is entitled to act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement<'a> {
    /// Role.
    pub role: &'a str,
    /// Unit.
    pub unit: &'a str,
    /// Mandate used, when delegated.
    pub mandate: Option<&'a Mandate>,
}

/// The unit where `step` of a case at `case_unit` is performed.
pub fn step_unit<'a>(regions: &'a RegionIndex, case_unit: &'a str, step: &Step) -> Option<&'a str> {
    match step.at {
        StepAt::Unit => Some(case_unit),
        StepAt::Ancestor(level) => regions
            .ancestor_at(case_unit, level)
            .map(|r| r.code.as_str()),
    }
}

/// Whether `officer` may act in `role` at `unit` at time `now`: directly, or by a mandate valid
/// on that local date.
pub fn entitlement<'a>(
    ctx: &Context<'a>,
    officer: &str,
    role: &'a str,
    unit: &'a str,
    now: Timestamp,
) -> Option<Entitlement<'a>> {
    let o = ctx.config.officers.get(officer)?;
    if o.posts.iter().any(|p| p.role == role && p.unit == unit) {
        return Some(Entitlement {
            role,
            unit,
            mandate: None,
        });
    }
    let mut candidates = ctx
        .config
        .mandates
        .iter()
        .filter(|m| m.holder == officer && m.role == role && m.unit == unit)
        .peekable();
    candidates.peek()?;
    // Mandates run by local dates of the unit.
    let today = ctx
        .calendars
        .for_unit(unit)
        .time_zone()
        .to_datetime(now)
        .date();
    candidates
        .find(|m| m.from <= today && today <= m.until)
        .map(|m| Entitlement {
            role,
            unit,
            mandate: Some(m),
        })
}

fn record_for(officer: &str, e: &Entitlement) -> ActorRecord {
    ActorRecord {
        kind: "officer".into(),
        id: officer.to_owned(),
        role: Some(e.role.to_owned()),
        unit: Some(e.unit.to_owned()),
        on_behalf_of: e.mandate.as_ref().and_then(|m| m.principal.clone()),
        mandate_kind: e.mandate.as_ref().map(|m| m.kind),
        mandate_ref: e.mandate.as_ref().map(|m| m.reference.clone()),
    }
}

fn applicant_record(p: &PersonRef) -> ActorRecord {
    ActorRecord {
        kind: "applicant".into(),
        id: p.0.clone(),
        ..ActorRecord::default()
    }
}

/// Roles allowed to take `action` in `step` now, given the votes so far.
fn allowed_roles<'s>(
    step: &'s Step,
    action: &'s Action,
    case: &'s Case,
) -> impl Iterator<Item = &'s str> + Clone + 's {
    let base = if action.roles.is_empty() {
        &step.roles
    } else {
        &action.roles
    };
    let next_in_chain = match (&step.kind, &action.target) {
        (StepKind::Approval(ApprovalRule::Chain(chain)), Target::Vote(_)) => {
            Some(chain.get(case.votes.len()).map(String::as_str))
        }
        _ => None,
    };
    let quorum = matches!(
        (&step.kind, &action.target),
        (
            StepKind::Approval(ApprovalRule::Quorum { .. }),
            Target::Vote(_)
        )
    );
    base.iter()
        .map(String::as_str)
        .filter(move |r| match next_in_chain {
            // Only the next role in the chain votes.
            Some(next) => next == Some(*r),
            // Each role of a quorum votes once.
            None if quorum => !case.votes.iter().any(|v| v.role == *r),
            None => true,
        })
}

/// Authorise an officer for an action; checks roles, unit, delegation and separation of duties.
fn authorize_officer<'a>(
    ctx: &Context<'a>,
    def: &'a ServiceDefinition,
    case: &'a Case,
    step_idx: usize,
    action: &'a Action,
    officer: &str,
    now: Timestamp,
) -> Result<Entitlement<'a>, Refusal> {
    let step = &def.steps[step_idx];
    let Some(o) = ctx.config.officers.get(officer) else {
        return Err(refuse(
            RefusalKind::Forbidden,
            format!("unknown officer `{officer}`"),
        ));
    };
    let unit = step_unit(ctx.regions, &case.unit, step).ok_or_else(|| {
        refuse(
            RefusalKind::InvalidTransition,
            "the step's unit cannot be found in the region data",
        )
    })?;
    let mut roles = allowed_roles(step, action, case);
    let Some(ent) = roles
        .clone()
        .find_map(|r| entitlement(ctx, officer, r, unit, now))
    else {
        let list: Vec<&str> = roles.by_ref().collect();
        if list.is_empty() {
            return Err(refuse(
                RefusalKind::Forbidden,
                format!("no role may take `{}` now", action.id),
            ));
        }
        return Err(refuse(
            RefusalKind::Forbidden,
            format!(
                "officer `{officer}` holds none of the roles [{}] at unit {unit}, directly or by a mandate valid today",
                list.join(", ")
            ),
        ));
    };
    check_separation(ctx, def, case, step_idx, officer, o, &ent)?;
    if matches!(action.target, Target::Vote(_)) && case.votes.iter().any(|v| v.officer == officer) {
        return Err(refuse(
            RefusalKind::SeparationOfDuties,
            format!("officer `{officer}` has already approved in this step"),
        ));
    }
    Ok(ent)
}

fn check_separation(
    ctx: &Context<'_>,
    def: &ServiceDefinition,
    case: &Case,
    step_idx: usize,
    officer: &str,
    o: &Officer,
    ent: &Entitlement,
) -> Result<(), Refusal> {
    let principal = ent.mandate.as_ref().and_then(|m| m.principal.as_deref());
    // Nobody acts on a case where they (or the official they act for) are the applicant.
    for who in std::iter::once(officer).chain(principal) {
        if ctx.officer_persons.get(who) == Some(&case.applicant) {
            return Err(refuse(
                RefusalKind::SeparationOfDuties,
                format!("officer `{who}` is the applicant of this case"),
            ));
        }
    }
    let _ = o;
    let me = [Some(officer), principal];
    let step_id = &def.steps[step_idx].id;
    for rule in &def.separations {
        if !rule.steps.contains(&step_idx) {
            continue;
        }
        for p in &case.participants {
            if &p.step == step_id {
                continue;
            }
            let in_rule = rule.steps.iter().any(|&s| def.steps[s].id == p.step);
            let them = [Some(p.officer.as_str()), p.principal.as_deref()];
            if in_rule && me.iter().flatten().any(|m| them.contains(&Some(*m))) {
                return Err(refuse(
                    RefusalKind::SeparationOfDuties,
                    format!(
                        "separation of duties: the same person acted in step `{}` and may not act in `{step_id}`",
                        p.step
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Follow optional steps that the unit switches off, from `idx`. Returns the step to enter and
/// the skipped ids. A cycle of switched-off steps is refused.
fn resolve_step(
    def: &ServiceDefinition,
    config: &Config,
    unit: &str,
    mut idx: usize,
) -> Result<(usize, Vec<String>), Refusal> {
    let mut skipped = Vec::new();
    for _ in 0..=def.steps.len() {
        let s = &def.steps[idx];
        match &s.optional {
            Some(o) if !config.unit_setting(unit, &o.setting, o.default) => {
                skipped.push(s.id.clone());
                idx = o.skip_to;
            }
            _ => return Ok((idx, skipped)),
        }
    }
    Err(refuse(
        RefusalKind::InvalidTransition,
        "optional steps switched off form a cycle",
    ))
}

/// Decide what a command does to a case. `case` is `None` only for [`Command::Submit`].
pub fn decide(
    ctx: &Context<'_>,
    def: &ServiceDefinition,
    case: Option<&Case>,
    command: &Command,
    now: Timestamp,
) -> Result<Vec<Event>, Refusal> {
    let has_payload = command.payload().is_some_and(|p| !p.is_empty());
    match (command, case) {
        (
            Command::Submit {
                service,
                unit,
                applicant,
                conditions,
                payload,
                ..
            },
            None,
        ) => {
            if service != &def.id {
                return Err(refuse(
                    RefusalKind::Invalid,
                    "the command's service does not match the definition",
                ));
            }
            if !ctx.config.offers(unit, def) {
                return Err(refuse(
                    RefusalKind::NotFound,
                    format!("unit {unit} does not offer service `{}`", def.id),
                ));
            }
            for c in conditions {
                if !def.conditions.iter().any(|d| &d.id == c) {
                    return Err(refuse(
                        RefusalKind::Invalid,
                        format!("unknown condition `{c}`"),
                    ));
                }
            }
            for f in payload.fields.keys() {
                if !def.fields.iter().any(|d| &d.id == f) {
                    return Err(refuse(RefusalKind::Invalid, format!("unknown field `{f}`")));
                }
            }
            let (first, skipped) = resolve_step(def, ctx.config, unit, 0)?;
            let due = schedule(ctx, def, None, unit, now, &def.steps[first].id, &skipped);
            Ok(vec![Event {
                kind: EventKind::Submitted {
                    service: def.id.clone(),
                    definition_version: def.version,
                    unit: unit.clone(),
                    applicant: applicant.clone(),
                    conditions: conditions.clone(),
                    filled: payload.fields.keys().cloned().collect(),
                    to: def.steps[first].id.clone(),
                    skipped,
                },
                actor: applicant_record(applicant),
                at: now,
                has_payload,
                due,
            }])
        }
        (Command::Submit { .. }, Some(_)) => Err(refuse(
            RefusalKind::Conflict,
            "a case with this id already exists",
        )),
        (_, None) => Err(refuse(RefusalKind::NotFound, "case not found")),
        (_, Some(case)) if case.service != def.id || case.definition_version != def.version => {
            Err(refuse(
                RefusalKind::Invalid,
                "the definition given is not the one the case is pinned to",
            ))
        }
        (Command::Rate { actor, scores }, Some(case)) => {
            let Actor::Applicant(p) = actor else {
                return Err(refuse(
                    RefusalKind::Forbidden,
                    "only the applicant rates the service",
                ));
            };
            if p != &case.applicant {
                return Err(refuse(
                    RefusalKind::Forbidden,
                    "only the applicant rates the service",
                ));
            }
            if case.status != Status::Closed(Outcome::Completed) {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "the service can be rated once the case is completed",
                ));
            }
            if case.rated {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "the case was already rated",
                ));
            }
            if scores.len() != 9 || scores.iter().any(|s| !(1..=4).contains(s)) {
                return Err(refuse(
                    RefusalKind::Invalid,
                    "a rating is nine answers (elements U1–U9), each 1 to 4",
                ));
            }
            Ok(vec![Event {
                kind: EventKind::Rated {
                    scores: scores.clone(),
                },
                actor: applicant_record(p),
                at: now,
                has_payload: false,
                due: None,
            }])
        }
        (
            Command::IssueLetter {
                signer_actor,
                number,
                issuance,
                ..
            },
            Some(case),
        ) => {
            if case.status != Status::Closed(Outcome::Completed) {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "a letter is issued only for a completed case",
                ));
            }
            if case.letter.is_some() {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "the case's letter was already issued",
                ));
            }
            Ok(vec![Event {
                kind: EventKind::LetterIssued {
                    number: number.clone(),
                    token_sha256: crate::letter::token_digest(&issuance.token),
                    document_sha256: issuance.document_sha256.clone(),
                    media_type: issuance.media_type.clone(),
                    valid_until: issuance.valid_until,
                },
                actor: signer_actor.clone(),
                at: now,
                has_payload,
                due: None,
            }])
        }
        (
            Command::RevokeLetter {
                revoker,
                token,
                number,
                payload,
                ..
            },
            Some(case),
        ) => {
            if case.letter != Some(crate::letter::LetterStatus::Issued) {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "only an issued letter can be revoked",
                ));
            }
            if payload
                .reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
            {
                return Err(refuse(RefusalKind::Invalid, "a revocation needs a reason"));
            }
            Ok(vec![Event {
                kind: EventKind::LetterRevoked {
                    number: number.clone(),
                    token_sha256: crate::letter::token_digest(token),
                },
                actor: revoker.clone(),
                at: now,
                has_payload,
                due: None,
            }])
        }
        (
            Command::ErasePersonalData {
                legal_basis,
                seqs,
                changed_before,
            },
            Some(case),
        ) => {
            if case.status.is_open() {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "personal data is erased only from closed cases",
                ));
            }
            if case.updated_at >= *changed_before {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    format!(
                        "the retention period has not ended: the case last changed at {}",
                        case.updated_at
                    ),
                ));
            }
            if legal_basis.trim().is_empty() {
                return Err(refuse(
                    RefusalKind::Invalid,
                    "an erasure needs the retention rule's legal basis",
                ));
            }
            if seqs.is_empty()
                || seqs.windows(2).any(|w| w[0] >= w[1])
                || seqs.iter().any(|&s| s == 0 || s > case.version)
            {
                return Err(refuse(
                    RefusalKind::Invalid,
                    "an erasure names entries of the case, ascending, at least one",
                ));
            }
            Ok(vec![Event {
                kind: EventKind::PersonalDataErased {
                    seqs: seqs.clone(),
                    legal_basis: legal_basis.clone(),
                },
                actor: system_record(),
                at: now,
                has_payload: false,
                due: None,
            }])
        }
        (command, Some(case)) => {
            let Status::Open(step_id) = &case.status else {
                return Err(refuse(RefusalKind::InvalidTransition, "the case is closed"));
            };
            let step_idx = def.step_index(step_id).ok_or_else(|| {
                refuse(
                    RefusalKind::InvalidTransition,
                    format!("step `{step_id}` is not in the definition"),
                )
            })?;
            let step = &def.steps[step_idx];
            decide_open(ctx, def, case, step_idx, step, command, now, has_payload)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn decide_open(
    ctx: &Context<'_>,
    def: &ServiceDefinition,
    case: &Case,
    step_idx: usize,
    step: &Step,
    command: &Command,
    now: Timestamp,
    has_payload: bool,
) -> Result<Vec<Event>, Refusal> {
    let event = |kind, actor| {
        Ok(vec![Event {
            kind,
            actor,
            at: now,
            has_payload,
            due: None,
        }])
    };
    match command {
        Command::Act {
            actor,
            action,
            seen_version,
            checked,
            payload,
        } => {
            if *seen_version != case.version {
                return Err(refuse(
                    RefusalKind::Conflict,
                    format!(
                        "the case changed since you saw it (version {} now, {seen_version} seen); reload it",
                        case.version
                    ),
                ));
            }
            let a = step
                .actions
                .iter()
                .find(|a| &a.id == action)
                .ok_or_else(|| {
                    refuse(
                        RefusalKind::NotFound,
                        format!("step `{}` has no action `{action}`", step.id),
                    )
                })?;
            let record = match (actor, &step.kind) {
                (Actor::Applicant(p), StepKind::Applicant) if p == &case.applicant => {
                    applicant_record(p)
                }
                (_, StepKind::Applicant) => {
                    return Err(refuse(
                        RefusalKind::Forbidden,
                        "the case is waiting for the applicant; only the applicant can act now",
                    ));
                }
                (Actor::Officer(o), _) => {
                    if let Some(assignee) = &case.assignee
                        && assignee != o
                    {
                        // Anyone entitled may still act; the assignment is a hint, not a lock,
                        // except that it is recorded. Entitlement is checked below.
                    }
                    let ent = authorize_officer(ctx, def, case, step_idx, a, o, now)?;
                    record_for(o, &ent)
                }
                (Actor::Applicant(_), _) => {
                    return Err(refuse(
                        RefusalKind::Forbidden,
                        "only officers act in this step",
                    ));
                }
                (Actor::System, _) => {
                    return Err(refuse(
                        RefusalKind::Forbidden,
                        "the system cannot take officer actions",
                    ));
                }
            };
            for c in checked {
                if !def.requirements.iter().any(|r| &r.id == c) {
                    return Err(refuse(
                        RefusalKind::Invalid,
                        format!("unknown requirement `{c}`"),
                    ));
                }
            }
            for f in payload.fields.keys() {
                if !def.fields.iter().any(|d| &d.id == f) {
                    return Err(refuse(RefusalKind::Invalid, format!("unknown field `{f}`")));
                }
            }
            if a.reason_required
                && payload
                    .reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
            {
                return Err(refuse(
                    RefusalKind::Invalid,
                    format!("action `{}` requires a written reason", a.id),
                ));
            }
            let applies = |id: &str| {
                def.requirements.iter().any(|r| {
                    r.id == id
                        && r.only_if
                            .as_ref()
                            .is_none_or(|c| case.conditions.contains(c))
                })
            };
            let unchecked =
                |r: &&str| applies(r) && !case.checked.contains(*r) && !checked.contains(*r);
            if a.requires_checked
                .iter()
                .map(String::as_str)
                .any(|r| unchecked(&r))
            {
                let missing: Vec<&str> = a
                    .requires_checked
                    .iter()
                    .map(String::as_str)
                    .filter(unchecked)
                    .collect();
                return Err(refuse(
                    RefusalKind::Invalid,
                    format!("requirements not yet checked: {}", missing.join(", ")),
                ));
            }
            let unfilled = |f: &&str| !case.filled.contains(*f) && !payload.fields.contains_key(*f);
            if a.requires_fields
                .iter()
                .map(String::as_str)
                .any(|f| unfilled(&f))
            {
                let missing: Vec<&str> = a
                    .requires_fields
                    .iter()
                    .map(String::as_str)
                    .filter(unfilled)
                    .collect();
                return Err(refuse(
                    RefusalKind::Invalid,
                    format!("fields not filled: {}", missing.join(", ")),
                ));
            }
            let (target, vote_only) = match &a.target {
                Target::Vote(inner) => {
                    let needed = match &step.kind {
                        StepKind::Approval(ApprovalRule::Chain(c)) => c.len(),
                        StepKind::Approval(ApprovalRule::Quorum { quorum, .. }) => *quorum as usize,
                        _ => 1,
                    };
                    (inner.as_ref(), case.votes.len() + 1 < needed)
                }
                t => (t, false),
            };
            let (to, outcome, skipped) = if vote_only {
                (Some(step.id.clone()), None, Vec::new())
            } else {
                match target {
                    Target::Step(i) => {
                        let (i, skipped) = resolve_step(def, ctx.config, &case.unit, *i)?;
                        (Some(def.steps[i].id.clone()), None, skipped)
                    }
                    Target::Outcome(o) => (None, Some(*o), Vec::new()),
                    Target::Vote(_) => {
                        return Err(refuse(RefusalKind::InvalidTransition, "nested vote target"));
                    }
                }
            };
            let due = match (&to, vote_only) {
                (Some(next), false) => {
                    schedule(ctx, def, Some(case), &case.unit, now, next, &skipped)
                }
                _ => None,
            };
            Ok(vec![Event {
                kind: EventKind::Acted {
                    action: a.id.clone(),
                    from: step.id.clone(),
                    to,
                    outcome,
                    vote_only,
                    checked: checked.difference(&case.checked).cloned().collect(),
                    filled: payload
                        .fields
                        .keys()
                        .filter(|k| !case.filled.contains(*k))
                        .cloned()
                        .collect(),
                    skipped,
                },
                actor: record,
                at: now,
                has_payload,
                due,
            }])
        }
        Command::Comment { actor, payload } => {
            if payload.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                return Err(refuse(RefusalKind::Invalid, "a comment needs text"));
            }
            let record = match actor {
                Actor::Applicant(p) if p == &case.applicant => applicant_record(p),
                Actor::Officer(o) => {
                    record_for(o, &any_entitlement(ctx, def, case, step_idx, o, now)?)
                }
                _ => {
                    return Err(refuse(
                        RefusalKind::Forbidden,
                        "only the applicant or an officer handling the case may comment",
                    ));
                }
            };
            event(EventKind::Commented, record)
        }
        Command::Claim { actor } => {
            let Actor::Officer(o) = actor else {
                return Err(refuse(RefusalKind::Forbidden, "only officers claim steps"));
            };
            if matches!(step.kind, StepKind::Applicant) {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "the case is waiting for the applicant",
                ));
            }
            if case.assignee.as_deref() == Some(o) {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "you already hold this step",
                ));
            }
            let ent = any_entitlement(ctx, def, case, step_idx, o, now)?;
            event(EventKind::Claimed, record_for(o, &ent))
        }
        Command::Assign { actor, to } => {
            let Actor::Officer(o) = actor else {
                return Err(refuse(RefusalKind::Forbidden, "only officers assign steps"));
            };
            if matches!(step.kind, StepKind::Applicant) {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "the case is waiting for the applicant",
                ));
            }
            let ent = any_entitlement(ctx, def, case, step_idx, o, now)?;
            any_entitlement(ctx, def, case, step_idx, to, now)
                .map_err(|r| refuse(r.kind, format!("cannot assign to `{to}`: {}", r.message)))?;
            event(EventKind::Assigned { to: to.clone() }, record_for(o, &ent))
        }
        Command::Withdraw { actor, .. } => match actor {
            Actor::Applicant(p) if p == &case.applicant => event(
                EventKind::Withdrawn {
                    from: step.id.clone(),
                },
                applicant_record(p),
            ),
            _ => Err(refuse(
                RefusalKind::Forbidden,
                "only the applicant can withdraw an application",
            )),
        },
        Command::Submit { .. } => Err(refuse(
            RefusalKind::Conflict,
            "a case with this id already exists",
        )),
        Command::Fire { kind } => fire(ctx, def, case, step, kind, now),
        Command::Recompute => {
            let due = recompute(ctx, def, case);
            if case.calendar_version.as_deref() == Some(due.calendar.as_str())
                && case.due_at == due.due_at
                && case.step_due_at == due.step_due_at
            {
                return Err(refuse(
                    RefusalKind::InvalidTransition,
                    "deadlines are already current",
                ));
            }
            Ok(vec![Event {
                kind: EventKind::DeadlineRecomputed,
                actor: system_record(),
                at: now,
                has_payload: false,
                due: Some(due),
            }])
        }
        Command::Rate { .. }
        | Command::IssueLetter { .. }
        | Command::RevokeLetter { .. }
        | Command::ErasePersonalData { .. } => Err(refuse(
            RefusalKind::InvalidTransition,
            "the case is still open: ratings and letters come after completion",
        )),
    }
}

fn system_record() -> ActorRecord {
    ActorRecord {
        kind: "system".into(),
        ..ActorRecord::default()
    }
}

/// The service deadline for a clock started at `start`, with the applicant's `pauses` (closed
/// intervals in time order, an open one ending now):
///
/// 1. the completion time counted from `start` (the calendar's convention for working days);
/// 2. moved by the working time of each pause *since* `start`: the applicant's time before the
///    clock started is no part of the service time, so a pause, or the part of one, before
///    `start` counts nothing;
/// 3. only by pauses that begin before the deadline as moved so far: a file handed back after its
///    deadline had passed stays late (a breach is never undone by returning the file), so a
///    recorded breach is never followed by a later deadline except through an explicit
///    recomputation entry.
///
/// `docs/ARCHITECTURE.md` states this rule; `tests/deadline_oracle.rs` recomputes it independently.
fn service_due(
    cal: &alur_calendar::WorkingCalendar,
    def: &ServiceDefinition,
    start: Timestamp,
    pauses: &[(Timestamp, Timestamp)],
) -> Option<Timestamp> {
    let mut due = cal.due(start, def.completion_time).ok()?;
    for &(a, b) in pauses {
        let a = a.max(start);
        if a >= due {
            continue;
        }
        let paused = cal.working_time_between(a, b).ok()?;
        due = cal.add_working_time(due, paused).ok()?;
    }
    Some(due)
}

/// Deadlines after entering `next` (None when nothing changes).
fn schedule(
    ctx: &Context<'_>,
    def: &ServiceDefinition,
    case: Option<&Case>,
    unit: &str,
    now: Timestamp,
    next: &str,
    skipped: &[String],
) -> Option<Due> {
    let (cal, label) = ctx.calendars.for_unit_labelled(unit);
    let step = def.steps.iter().find(|s| s.id == next)?;
    let clock_step = match def.clock_starts {
        ClockStart::Submitted => None,
        ClockStart::Step(i) => Some(def.steps[i].id.as_str()),
    };
    let started_at = case.and_then(|c| c.clock_started_at);
    let starts_now = started_at.is_none()
        && match clock_step {
            None => case.is_none(),
            Some(s) => s == next || skipped.iter().any(|x| x == s),
        };
    let mut pauses: Vec<(Timestamp, Timestamp)> =
        case.map(|c| c.pauses.clone()).unwrap_or_default();
    if let Some(p) = case.and_then(|c| c.paused_since) {
        pauses.push((p, now));
    }
    let due_at = if starts_now {
        service_due(cal, def, now, &[])
    } else {
        started_at.and_then(|s| service_due(cal, def, s, &pauses))
    };
    let step_due_at = if step.pauses_clock {
        None
    } else {
        step.sla.and_then(|sla| cal.due(now, sla).ok())
    };
    Some(Due {
        calendar: label.to_owned(),
        due_at,
        step_due_at,
    })
}

/// Deadlines of an open case recomputed from scratch with the current calendar. A pause still
/// running counts nothing yet, as when it began: the deadline moves by it when the applicant
/// hands the file back (the transition that ends the pause computes it).
fn recompute(ctx: &Context<'_>, def: &ServiceDefinition, case: &Case) -> Due {
    let (cal, label) = ctx.calendars.for_unit_labelled(&case.unit);
    let due_at = case
        .clock_started_at
        .and_then(|s| service_due(cal, def, s, &case.pauses));
    let step = case
        .step()
        .and_then(|s| def.steps.iter().find(|x| x.id == s));
    let step_due_at = match step {
        Some(st) if !st.pauses_clock => st
            .sla
            .and_then(|sla| cal.due(case.step_entered_at, sla).ok()),
        _ => None,
    };
    Due {
        calendar: label.to_owned(),
        due_at,
        step_due_at,
    }
}

/// A timer firing: reminders, step breaches, the service breach and its policy.
fn fire(
    ctx: &Context<'_>,
    def: &ServiceDefinition,
    case: &Case,
    step: &Step,
    kind: &str,
    now: Timestamp,
) -> Result<Vec<Event>, Refusal> {
    let ev = |kind| {
        Ok(vec![Event {
            kind,
            actor: system_record(),
            at: now,
            has_payload: false,
            due: None,
        }])
    };
    let stale = || {
        refuse(
            RefusalKind::InvalidTransition,
            format!("timer `{kind}` no longer applies"),
        )
    };
    let parent_supervisor = || {
        let role = def.escalate_to.as_ref()?;
        let unit = step_unit(ctx.regions, &case.unit, step)?;
        let parent = ctx.regions.get(unit)?.parent.clone()?;
        Some(format!("{role}@{parent}"))
    };
    let mut parts = kind.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("reminder"), Some(s), Some(pct)) if s == step.id && !step.pauses_clock => {
            let percent = pct.parse::<u8>().map_err(|_| stale())?;
            ev(EventKind::Reminded {
                step: step.id.clone(),
                percent,
            })
        }
        (Some("step-breach"), Some(s), None) if s == step.id && !step.pauses_clock => {
            ev(EventKind::StepBreached {
                step: step.id.clone(),
                escalated_to: parent_supervisor(),
            })
        }
        (Some("breach"), None, None) if !step.pauses_clock && !case.breached => match &def.breach {
            BreachPolicy::DeemedApproval { legal_basis } => ev(EventKind::DeemedApproved {
                from: step.id.clone(),
                legal_basis: legal_basis.clone(),
            }),
            BreachPolicy::Reassign { role } => {
                let unit = step_unit(ctx.regions, &case.unit, step).unwrap_or_default();
                let to = ctx
                    .config
                    .officers
                    .values()
                    .find(|o| {
                        Some(&o.id) != case.assignee.as_ref()
                            && entitlement(ctx, &o.id, role, unit, now).is_some()
                    })
                    .map(|o| o.id.clone());
                ev(EventKind::Breached {
                    step: step.id.clone(),
                    escalated_to: parent_supervisor(),
                    reassigned_to: to,
                })
            }
            BreachPolicy::Escalate => ev(EventKind::Breached {
                step: step.id.clone(),
                escalated_to: parent_supervisor(),
                reassigned_to: None,
            }),
            BreachPolicy::Mark => ev(EventKind::Breached {
                step: step.id.clone(),
                escalated_to: None,
                reassigned_to: None,
            }),
        },
        _ => Err(stale()),
    }
}

/// An entitlement to any action of the current step (for claim, assign, comment).
fn any_entitlement<'a>(
    ctx: &Context<'a>,
    def: &'a ServiceDefinition,
    case: &'a Case,
    step_idx: usize,
    officer: &str,
    now: Timestamp,
) -> Result<Entitlement<'a>, Refusal> {
    let step = &def.steps[step_idx];
    let mut last = refuse(
        RefusalKind::Forbidden,
        format!("officer `{officer}` may not act in step `{}`", step.id),
    );
    for a in &step.actions {
        match authorize_officer(ctx, def, case, step_idx, a, officer, now) {
            Ok(e) => return Ok(e),
            Err(r) => last = r,
        }
    }
    Err(last)
}

/// Who may act next on a case at `step_id` (for inbox indexing).
pub fn pending_for(
    def: &ServiceDefinition,
    regions: &RegionIndex,
    case_unit: &str,
    step_id: &str,
    votes: &[Vote],
) -> Option<Pending> {
    let step = def.steps.iter().find(|s| s.id == step_id)?;
    let unit = step_unit(regions, case_unit, step)?;
    let roles = match &step.kind {
        StepKind::Applicant => Vec::new(),
        StepKind::Approval(ApprovalRule::Chain(chain)) => {
            // The next approver, plus any role with a non-vote action (return/reject).
            let mut r: Vec<String> = chain.get(votes.len()).cloned().into_iter().collect();
            for a in &step.actions {
                if !matches!(a.target, Target::Vote(_)) {
                    for role in if a.roles.is_empty() {
                        &step.roles
                    } else {
                        &a.roles
                    } {
                        if !r.contains(role) {
                            r.push(role.clone());
                        }
                    }
                }
            }
            r
        }
        _ => step.roles.clone(),
    };
    Some(Pending {
        unit: unit.to_owned(),
        roles,
    })
}

/// Apply an event to a case (or create it from a `Submitted` event).
///
/// `def` is the definition the case is pinned to. Never fails on events that [`decide`] produced
/// for this case; a mismatched event yields a [`Refusal`].
pub fn apply(
    def: &ServiceDefinition,
    regions: &RegionIndex,
    case: Option<Case>,
    case_id: &str,
    tenant: &str,
    event: &Event,
) -> Result<Case, Refusal> {
    let clock_start_step = match def.clock_starts {
        ClockStart::Submitted => None,
        ClockStart::Step(i) => Some(def.steps[i].id.as_str()),
    };
    match (&event.kind, case) {
        (
            EventKind::Submitted {
                service,
                definition_version,
                unit,
                applicant,
                conditions,
                filled,
                to,
                ..
            },
            None,
        ) => {
            let skipped = match &event.kind {
                EventKind::Submitted { skipped, .. } => skipped.as_slice(),
                _ => &[],
            };
            let started = match clock_start_step {
                None => Some(event.at),
                Some(s) if s == to || skipped.iter().any(|x| x == s) => Some(event.at),
                Some(_) => None,
            };
            let pauses_now = def.steps.iter().any(|s| &s.id == to && s.pauses_clock);
            Ok(Case {
                id: case_id.to_owned(),
                tenant: tenant.to_owned(),
                service: service.clone(),
                definition_version: *definition_version,
                unit: unit.clone(),
                applicant: applicant.clone(),
                conditions: conditions.clone(),
                status: Status::Open(to.clone()),
                version: 1,
                checked: BTreeSet::new(),
                filled: filled.clone(),
                votes: Vec::new(),
                assignee: None,
                participants: Vec::new(),
                pending: pending_for(def, regions, unit, to, &[]),
                submitted_at: event.at,
                step_entered_at: event.at,
                updated_at: event.at,
                clock_started_at: started,
                due_at: event.due.as_ref().and_then(|d| d.due_at),
                step_due_at: event.due.as_ref().and_then(|d| d.step_due_at),
                paused_since: pauses_now.then_some(event.at),
                pauses: Vec::new(),
                calendar_version: event.due.as_ref().map(|d| d.calendar.clone()),
                breached: false,
                deemed_approved: false,
                returns: 0,
                rated: false,
                letter: None,
            })
        }
        (EventKind::Submitted { .. }, Some(_)) => {
            Err(refuse(RefusalKind::Conflict, "case already exists"))
        }
        (_, None) => Err(refuse(RefusalKind::NotFound, "case not found")),
        (kind, Some(mut case)) => {
            case.version += 1;
            case.updated_at = event.at;
            match kind {
                EventKind::Acted {
                    action,
                    from,
                    to,
                    outcome,
                    vote_only,
                    checked,
                    filled,
                    skipped,
                } => {
                    case.checked.extend(checked.iter().cloned());
                    case.filled.extend(filled.iter().cloned());
                    if event.actor.kind == "officer" {
                        case.participants.push(Participation {
                            step: from.clone(),
                            officer: event.actor.id.clone(),
                            principal: event.actor.on_behalf_of.clone(),
                        });
                    }
                    if *vote_only {
                        case.votes.push(Vote {
                            officer: event.actor.id.clone(),
                            role: event.actor.role.clone().unwrap_or_default(),
                        });
                        case.pending = pending_for(def, regions, &case.unit, from, &case.votes);
                    } else {
                        case.votes.clear();
                        case.assignee = None;
                        case.step_entered_at = event.at;
                        match (to, outcome) {
                            (Some(to), _) => {
                                if def
                                    .steps
                                    .iter()
                                    .any(|s| &s.id == to && matches!(s.kind, StepKind::Applicant))
                                {
                                    case.returns += 1;
                                }
                                if case.clock_started_at.is_none()
                                    && clock_start_step.is_some_and(|c| {
                                        c == to.as_str() || skipped.iter().any(|x| x == c)
                                    })
                                {
                                    case.clock_started_at = Some(event.at);
                                }
                                let pauses_now =
                                    def.steps.iter().any(|s| &s.id == to && s.pauses_clock);
                                match (case.paused_since, pauses_now) {
                                    (Some(p), false) => {
                                        case.pauses.push((p, event.at));
                                        case.paused_since = None;
                                    }
                                    (None, true) => case.paused_since = Some(event.at),
                                    _ => {}
                                }
                                case.status = Status::Open(to.clone());
                                case.pending = pending_for(def, regions, &case.unit, to, &[]);
                            }
                            (None, Some(o)) => {
                                case.status = Status::Closed(*o);
                                case.pending = None;
                                case.step_due_at = None;
                                if let Some(p) = case.paused_since.take() {
                                    case.pauses.push((p, event.at));
                                }
                            }
                            (None, None) => {
                                return Err(refuse(
                                    RefusalKind::Invalid,
                                    format!("event for `{action}` has neither step nor outcome"),
                                ));
                            }
                        }
                    }
                }
                EventKind::Commented => {}
                EventKind::Claimed => case.assignee = Some(event.actor.id.clone()),
                EventKind::Assigned { to } => case.assignee = Some(to.clone()),
                EventKind::Withdrawn { .. } => {
                    case.status = Status::Closed(Outcome::Withdrawn);
                    case.pending = None;
                    case.assignee = None;
                    case.votes.clear();
                    case.step_due_at = None;
                    if let Some(p) = case.paused_since.take() {
                        case.pauses.push((p, event.at));
                    }
                }
                EventKind::Reminded { .. }
                | EventKind::StepBreached { .. }
                | EventKind::DeadlineRecomputed
                | EventKind::PersonalDataErased { .. } => {}
                EventKind::Breached { reassigned_to, .. } => {
                    case.breached = true;
                    if let Some(o) = reassigned_to {
                        case.assignee = Some(o.clone());
                    }
                }
                EventKind::DeemedApproved { .. } => {
                    case.breached = true;
                    case.deemed_approved = true;
                    case.status = Status::Closed(Outcome::Completed);
                    case.pending = None;
                    case.assignee = None;
                    case.votes.clear();
                    case.step_due_at = None;
                }
                EventKind::Rated { .. } => case.rated = true,
                EventKind::LetterIssued { .. } => {
                    case.letter = Some(crate::letter::LetterStatus::Issued);
                }
                EventKind::LetterRevoked { .. } => {
                    case.letter = Some(crate::letter::LetterStatus::Revoked);
                }
                EventKind::Submitted { .. } => unreachable_submitted()?,
                EventKind::DefinitionRegistered { .. }
                | EventKind::CalendarInForce { .. }
                | EventKind::GrantAdded { .. }
                | EventKind::GrantRevoked { .. } => {
                    return Err(refuse(
                        RefusalKind::Invalid,
                        "configuration entries belong to the tenant's @config chain, not to a case",
                    ));
                }
            }
            if let Some(due) = &event.due {
                case.due_at = due.due_at;
                case.step_due_at = due.step_due_at;
                case.calendar_version = Some(due.calendar.clone());
            }
            Ok(case)
        }
    }
}

fn unreachable_submitted() -> Result<(), Refusal> {
    Err(refuse(RefusalKind::Conflict, "case already exists"))
}

/// Rebuild a case from its events.
pub fn replay<'a>(
    def: &ServiceDefinition,
    regions: &RegionIndex,
    case_id: &str,
    tenant: &str,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<Option<Case>, Refusal> {
    let mut case = None;
    for e in events {
        case = Some(apply(def, regions, case, case_id, tenant, e)?);
    }
    Ok(case)
}
