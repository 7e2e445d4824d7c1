//! The validated model of a regency's services: units, roles, officers, mandates and service
//! definitions. Built only by [`crate::config::load_dir`], which checks every rule first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alur_calendar::SlaDuration;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::region::UnitLevel;

/// A service category as published (administrasi, kependudukan, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// General administration (domicile, SKCK cover letter).
    Administrasi,
    /// Population records (birth, death, moving, marriage).
    Kependudukan,
    /// Education.
    Pendidikan,
    /// Health.
    Kesehatan,
    /// Social welfare.
    Sosial,
    /// Business and economy.
    Ekonomi,
    /// Land.
    Pertanahan,
    /// Complaints.
    Pengaduan,
}

impl Category {
    /// Indonesian label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Administrasi => "Administrasi",
            Self::Kependudukan => "Kependudukan",
            Self::Pendidikan => "Pendidikan",
            Self::Kesehatan => "Kesehatan",
            Self::Sosial => "Sosial",
            Self::Ekonomi => "Ekonomi",
            Self::Pertanahan => "Pertanahan",
            Self::Pengaduan => "Pengaduan",
        }
    }
}

/// A role officers hold at a unit (operator, kasi, lurah, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Identifier used in service definitions.
    pub id: String,
    /// Indonesian title ("Lurah").
    pub name: String,
    /// Unit levels at which this role exists.
    pub levels: Vec<UnitLevel>,
}

/// An officer's post: a role at a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Post {
    /// Role id.
    pub role: String,
    /// Unit code.
    pub unit: String,
}

/// An officer (civil servant or village official).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    /// Stable identifier (also the actor pseudonym in the audit log).
    pub id: String,
    /// Full name (printed on letters; personal data, never in a hashed audit entry).
    pub name: String,
    /// NIP (civil-servant number), if any.
    pub nip: Option<String>,
    /// The officer's NIK, kept to pseudonymise them as a person (the "not on your own case" rule).
    #[serde(skip)]
    pub nik: Option<crate::pseudonym::Nik>,
    /// Posts held.
    pub posts: Vec<Post>,
}

/// Kind of delegation mandate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateKind {
    /// Pelaksana harian: stands in for a temporarily absent official.
    Plh,
    /// Pelaksana tugas: fills a post that is vacant or whose holder is long absent.
    Plt,
}

impl MandateKind {
    /// "Plh." or "Plt.".
    pub fn title(self) -> &'static str {
        match self {
            Self::Plh => "Plh.",
            Self::Plt => "Plt.",
        }
    }
}

/// A dated delegation: `holder` acts in `role` at `unit` on behalf of `principal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// Identifier.
    pub id: String,
    /// Plh. or Plt.
    pub kind: MandateKind,
    /// The officer who acts.
    pub holder: String,
    /// The official acted for; `None` when the post is vacant.
    pub principal: Option<String>,
    /// The role exercised.
    pub role: String,
    /// The unit where it is exercised.
    pub unit: String,
    /// First day (local date, inclusive).
    pub from: Date,
    /// Last day (local date, inclusive).
    pub until: Date,
    /// The decree's reference number.
    pub reference: String,
}

/// A document the applicant must bring (persyaratan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// Identifier.
    pub id: String,
    /// Indonesian text.
    pub name: String,
    /// Condition id: required only when the applicant answered yes to it.
    pub only_if: Option<String>,
}

/// A yes/no question about the applicant that makes some requirements apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// Identifier.
    pub id: String,
    /// The question in Indonesian.
    pub question: String,
}

/// A form field the applicant or officer fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Identifier.
    pub id: String,
    /// Label in Indonesian.
    pub label: String,
    /// Whether an application must fill it (TOML `required`, default `true`).
    #[serde(default = "required_default", skip_serializing_if = "is_true")]
    pub required: bool,
    /// Longest value accepted, in characters (TOML `max_length`; `None`:
    /// [`Field::DEFAULT_MAX_LENGTH`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
}

impl Field {
    /// Longest value of a field that does not say, in characters.
    pub const DEFAULT_MAX_LENGTH: u32 = 500;
    /// The longest `max_length` a service may set.
    pub const MAX_MAX_LENGTH: u32 = 10_000;

    /// Longest value accepted, in characters.
    pub fn max_chars(&self) -> usize {
        self.max_length.unwrap_or(Self::DEFAULT_MAX_LENGTH) as usize
    }
}

fn required_default() -> bool {
    true
}

// serde's `skip_serializing_if` passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

/// The fee (biaya/tarif).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    /// Amount in rupiah; 0 means free.
    pub amount: u64,
    /// Legal basis or note.
    pub note: Option<String>,
}

/// How long an issued product stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validity {
    /// A number of calendar days.
    Days(u32),
    /// A number of months.
    Months(u32),
    /// A number of years.
    Years(u32),
    /// No expiry.
    Unlimited,
}

impl Validity {
    /// Indonesian text.
    pub fn to_indonesian(self) -> String {
        match self {
            Self::Days(n) => format!("{n} hari"),
            Self::Months(n) => format!("{n} bulan"),
            Self::Years(n) => format!("{n} tahun"),
            Self::Unlimited => "tidak terbatas".into(),
        }
    }
}

/// The product of the service (produk pelayanan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Name of the output ("Surat Keterangan Domisili").
    pub name: String,
    /// Validity period.
    pub validity: Validity,
    /// Archive classification code used in the letter number (e.g. 470); not unique per service.
    pub classification: Option<String>,
}

/// A complaint channel (penanganan pengaduan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintChannel {
    /// Name ("LAPOR! (SP4N)").
    pub name: String,
    /// Address, number or URL.
    pub contact: String,
}

/// A complaint response tier (ringan ≤ 2 hari kerja, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintTier {
    /// Identifier.
    pub id: String,
    /// Indonesian name.
    pub name: String,
    /// Response time.
    pub response: SlaDuration,
}

/// The kind of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// One officer of the allowed roles acts.
    Task,
    /// Approvals: a sequential chain of roles, or M distinct roles of a set.
    Approval(ApprovalRule),
    /// The case waits for the applicant (returned for completion); the clock pauses.
    Applicant,
}

/// How an approval step completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalRule {
    /// Each role approves in this order.
    Chain(Vec<String>),
    /// `quorum` approvals by distinct officers holding distinct roles of `of`.
    Quorum {
        /// Approvals needed.
        quorum: u32,
        /// The role set.
        of: Vec<String>,
    },
}

/// Where a step is performed relative to the case's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepAt {
    /// At the case's own unit.
    Unit,
    /// Handed off to the ancestor at this level (desa → kecamatan for legalisation).
    Ancestor(UnitLevel),
}

/// Where an action leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// Another step (by index into [`ServiceDefinition::steps`]).
    Step(usize),
    /// A final outcome.
    Outcome(Outcome),
    /// For approval votes: stay until the rule is met, then go to the contained target.
    Vote(Box<Target>),
}

/// Final outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Granted and done.
    Completed,
    /// Refused with a reason.
    Rejected,
    /// Withdrawn by the applicant.
    Withdrawn,
}

impl Outcome {
    /// Key used in TOML and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }
    /// Indonesian label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Completed => "selesai",
            Self::Rejected => "ditolak",
            Self::Withdrawn => "dicabut pemohon",
        }
    }
}

/// An action available in a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Identifier within the step.
    pub id: String,
    /// Indonesian label for buttons.
    pub name: String,
    /// Where it leads.
    pub target: Target,
    /// Roles allowed (empty: the step's roles). Ignored in applicant steps.
    pub roles: Vec<String>,
    /// A written reason is required.
    pub reason_required: bool,
    /// Requirement ids that must be ticked (only those that apply to the case count).
    pub requires_checked: Vec<String>,
    /// Field ids that must be filled.
    pub requires_fields: Vec<String>,
}

/// A step of the procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Identifier.
    pub id: String,
    /// Indonesian name.
    pub name: String,
    /// Kind.
    pub kind: StepKind,
    /// Roles that may act (task) or vote (approval); empty for applicant steps.
    pub roles: Vec<String>,
    /// Where it is performed.
    pub at: StepAt,
    /// Step SLA.
    pub sla: Option<SlaDuration>,
    /// Unit setting that switches this step on; `None` = always on.
    pub optional: Option<OptionalStep>,
    /// Actions.
    pub actions: Vec<Action>,
    /// The service clock pauses while the case is here.
    pub pauses_clock: bool,
}

/// A step that a unit switches on or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionalStep {
    /// Unit setting key.
    pub setting: String,
    /// Value when the unit does not say.
    pub default: bool,
    /// Step index to go to instead when the step is off.
    pub skip_to: usize,
}

/// A separation-of-duties rule: no person may act in more than one of these steps on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Separation {
    /// Step indexes.
    pub steps: Vec<usize>,
}

/// Where the service clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockStart {
    /// At submission.
    Submitted,
    /// When the case first enters this step (e.g. after the file is found complete).
    Step(usize),
}

/// A validated, versioned service definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDefinition {
    /// Identifier.
    pub id: String,
    /// Version: 1 for the first registered content, +1 for each changed content.
    pub version: u32,
    /// Hex SHA-256 of the canonical content (identifies the version across stores).
    pub digest: String,
    /// Indonesian name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// Unit level that runs it.
    pub runs_at: UnitLevel,
    /// Region prefixes where it is offered.
    pub regions: Vec<String>,
    /// Legal basis.
    pub legal_basis: Vec<String>,
    /// Only in person (e.g. pengantar nikah).
    pub in_person_only: bool,
    /// Published completion time.
    pub completion_time: SlaDuration,
    /// Where the clock starts.
    pub clock_starts: ClockStart,
    /// Fee.
    pub fee: Fee,
    /// Product.
    pub product: Product,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// Requirements.
    pub requirements: Vec<Requirement>,
    /// Fields.
    pub fields: Vec<Field>,
    /// Complaint channels.
    pub complaint_channels: Vec<ComplaintChannel>,
    /// Complaint tiers.
    pub complaint_tiers: Vec<ComplaintTier>,
    /// Steps; the first is where a submitted case starts.
    pub steps: Vec<Step>,
    /// Separation-of-duties rules (besides the built-in "not on your own case").
    pub separations: Vec<Separation>,
    /// Reminders at these percentages of each step's SLA.
    pub reminders: Vec<u8>,
    /// Supervisor role at the parent unit, notified when a deadline is breached.
    pub escalate_to: Option<String>,
    /// What happens when the service deadline passes.
    pub breach: BreachPolicy,
    /// Source file, for messages.
    pub source: String,
}

/// What happens when a case's service deadline passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "policy")]
pub enum BreachPolicy {
    /// Mark the case as breached (always done) and nothing else.
    Mark,
    /// Also notify the supervisor role at the parent unit.
    Escalate,
    /// Also give the case to an officer holding this role at the step's unit.
    Reassign {
        /// Role at the same unit.
        role: String,
    },
    /// Deemed approval (fiktif positif): the system completes the case and records the legal basis.
    DeemedApproval {
        /// Legal basis recorded with the decision.
        legal_basis: String,
    },
}

impl ServiceDefinition {
    /// Step index by id.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Requirements that apply given the applicant's yes-answers.
    pub fn applicable_requirements<'a>(
        &'a self,
        conditions: &'a BTreeSet<String>,
    ) -> impl Iterator<Item = &'a Requirement> + 'a {
        self.requirements
            .iter()
            .filter(move |r| r.only_if.as_ref().is_none_or(|c| conditions.contains(c)))
    }
}

/// Per-unit settings and service offering.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitConfig {
    /// Unit code.
    pub code: String,
    /// Services this unit offers, when it restricts them.
    pub services: Option<Vec<String>>,
    /// Settings (e.g. `sekdes_check = true`).
    pub settings: BTreeMap<String, bool>,
}

/// The tenant (a regency, city or province running `alur`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Region code covered (e.g. `21`).
    pub region: String,
}

/// Where and how often signed checkpoints of the tenant log are published (`[audit]`). The
/// signing key is never configured here: it comes from a file or the environment variable named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Interval between checkpoints (default 10 minutes).
    pub checkpoint_every: std::time::Duration,
    /// Directory that receives every checkpoint and `latest.txt`.
    pub checkpoint_dir: Option<String>,
    /// URL that receives every checkpoint as a POST.
    pub checkpoint_webhook: Option<String>,
    /// Environment variable that holds the signing key (default `ALUR_CHECKPOINT_KEY`).
    pub checkpoint_key_env: String,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            checkpoint_every: std::time::Duration::from_secs(600),
            checkpoint_dir: None,
            checkpoint_webhook: None,
            checkpoint_key_env: "ALUR_CHECKPOINT_KEY".into(),
        }
    }
}

/// How long personal data is kept after a case's last act (`[retention]`, following the
/// archive retention schedule, JRA) and the legal basis each erasure records (UU PDP 27/2022:
/// personal data is erased at the end of its retention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// The period after a closed case's last change.
    pub personal_data: RetentionPeriod,
    /// Recorded in each erasure's audit entry.
    pub legal_basis: String,
}

/// A retention period in calendar years, months or days (`"5 tahun"`, `"18 bulan"`,
/// `"90 hari"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPeriod {
    /// Calendar years.
    Years(u16),
    /// Calendar months.
    Months(u16),
    /// Calendar days.
    Days(u16),
}

impl RetentionPeriod {
    /// The instant this period before `now` (calendar arithmetic in UTC); `None` when that
    /// falls before the earliest representable time.
    pub fn before(self, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let span = match self {
            Self::Years(n) => jiff::Span::new().try_years(n).ok()?,
            Self::Months(n) => jiff::Span::new().try_months(n).ok()?,
            Self::Days(n) => jiff::Span::new().try_days(n).ok()?,
        };
        let utc = jiff::tz::TimeZone::UTC;
        let earlier = utc.to_datetime(now).checked_sub(span).ok()?;
        utc.to_timestamp(earlier).ok()
    }
}

impl std::fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Years(n) => write!(f, "{n} tahun"),
            Self::Months(n) => write!(f, "{n} bulan"),
            Self::Days(n) => write!(f, "{n} hari"),
        }
    }
}

impl std::str::FromStr for RetentionPeriod {
    type Err = String;

    /// `"<n> tahun|bulan|hari"` (or `years|months|days`), n at least 1.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("`{text}` is not a number and a unit"));
        };
        let n: u16 = n
            .parse()
            .map_err(|_| format!("`{n}` is not a whole number up to 65535"))?;
        if n == 0 {
            return Err("the period must be longer than zero".into());
        }
        let (period, max) = match unit.to_lowercase().as_str() {
            "tahun" | "year" | "years" => (Self::Years(n), 100),
            "bulan" | "month" | "months" => (Self::Months(n), 1200),
            "hari" | "day" | "days" => (Self::Days(n), 36_500),
            other => return Err(format!("unknown unit `{other}`")),
        };
        if n > max {
            return Err(format!(
                "`{text}` is longer than a retention schedule runs (at most 100 tahun, 1200 bulan or 36500 hari)"
            ));
        }
        Ok(period)
    }
}

/// What a letter series counts separately (`[letters] series`): every series restarts at 1 each
/// year at every unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterSeries {
    /// One sequence per archive classification code (`klasifikasi`); services without one count
    /// under their service id.
    Classification,
    /// One sequence per service.
    Service,
    /// One sequence for all letters of the unit.
    Unit,
}

/// Paper size of printed letters (`[letters] paper`), set in the letter page's `@page` rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Paper {
    /// ISO A4, 210 × 297 mm.
    #[default]
    A4,
    /// Folio (F4), 215 × 330 mm, still common in Indonesian offices.
    F4,
}

impl Paper {
    /// Width and height in millimetres.
    pub fn size_mm(self) -> (u32, u32) {
        match self {
            Self::A4 => (210, 297),
            Self::F4 => (215, 330),
        }
    }

    /// The CSS `size` value: "210mm 297mm".
    pub fn css_size(self) -> String {
        let (w, h) = self.size_mm();
        format!("{w}mm {h}mm")
    }

    /// "A4" or "F4".
    pub fn name(self) -> &'static str {
        match self {
            Self::A4 => "A4",
            Self::F4 => "F4",
        }
    }
}

impl std::fmt::Display for Paper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Paper {
    type Err = String;

    /// "a4" or "f4" ("folio"), any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a4" => Ok(Self::A4),
            "f4" | "folio" => Ok(Self::F4),
            other => Err(format!("unknown paper size {other:?}: use a4 or f4")),
        }
    }
}

/// How outgoing letters are numbered and verified (`[letters]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterSettings {
    /// Number format with the tokens `{klasifikasi}`, `{nomor}` or `{nomor:N}` (the sequence,
    /// zero-padded to N digits; exactly once), `{unit}` (unit code), `{bulan}` (month in Roman
    /// numerals), `{tahun}` (year) and `{layanan}` (service id).
    pub number_format: String,
    /// What a sequence counts.
    pub series: LetterSeries,
    /// Base URL of the public verification page; the QR code holds `<verify_url>/<token>`.
    pub verify_url: String,
    /// Paper size.
    pub paper: Paper,
}

impl Default for LetterSettings {
    fn default() -> Self {
        Self {
            number_format: "{klasifikasi}/{nomor:4}/{unit}/{bulan}/{tahun}".into(),
            series: LetterSeries::Classification,
            verify_url: "http://127.0.0.1:8080/verifikasi".into(),
            paper: Paper::A4,
        }
    }
}

/// A whole validated configuration directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The tenant.
    pub tenant: Tenant,
    /// Storage URL from `[storage]`, if given.
    pub storage_url: Option<String>,
    /// Checkpoint publishing from `[audit]`.
    pub audit: AuditSettings,
    /// Letter numbering and verification (`[letters]`).
    pub letters: LetterSettings,
    /// Erasure of personal data at the end of its retention (`[retention]`); `None`: kept.
    pub retention: Option<Retention>,
    /// Roles by id.
    pub roles: BTreeMap<String, Role>,
    /// Officers by id.
    pub officers: BTreeMap<String, Officer>,
    /// Mandates.
    pub mandates: Vec<Mandate>,
    /// Units with explicit settings, by code.
    pub units: BTreeMap<String, UnitConfig>,
    /// Service definitions by id (the version loaded from the files).
    pub services: BTreeMap<String, Arc<ServiceDefinition>>,
    /// Working calendars (`[calendar]` and unit overrides).
    pub calendars: crate::calendars::Calendars,
    /// The desk's public address from `[server] public_url` (no trailing slash), the base of
    /// every link handed out; `None`: the listen address (`alur serve --public-url` overrides).
    pub public_url: Option<String>,
}

impl Config {
    /// Use `url` as the public address: the base of tracking links and, unless `[letters]
    /// verify_url` names another, of the letters' QR codes (`<url>/verifikasi/<token>`).
    pub fn set_public_url(&mut self, url: &str) {
        let url = url.trim_end_matches('/').to_owned();
        let derived = |base: &Option<String>| base.as_ref().map(|b| format!("{b}/verifikasi"));
        if self.letters.verify_url == LetterSettings::default().verify_url
            || Some(&self.letters.verify_url) == derived(&self.public_url).as_ref()
        {
            self.letters.verify_url = format!("{url}/verifikasi");
        }
        self.public_url = Some(url);
    }

    /// A unit setting, falling back to `default`.
    pub fn unit_setting(&self, unit: &str, key: &str, default: bool) -> bool {
        self.units
            .get(unit)
            .and_then(|u| u.settings.get(key).copied())
            .unwrap_or(default)
    }

    /// Every office that offers `service`: the units of its level inside its `regions` and the
    /// tenant's region that [`Config::offers`] lets offer it, in code order.
    pub fn offices(&self, service: &ServiceDefinition) -> Vec<&'static crate::region::Region> {
        let Ok(index) = crate::region::RegionIndex::embedded() else {
            return Vec::new();
        };
        let mut out: Vec<&'static crate::region::Region> = Vec::new();
        for prefix in &service.regions {
            let candidates = match index.get(prefix) {
                Some(r) if r.level == service.runs_at => vec![r],
                Some(_) => index.descendants_at(prefix, service.runs_at),
                None => Vec::new(),
            };
            out.extend(candidates.into_iter().filter(|r| {
                crate::region::code_within(&r.code, &self.tenant.region)
                    && self.offers(&r.code, service)
            }));
        }
        out.sort_by(|a, b| a.code.cmp(&b.code));
        out.dedup_by(|a, b| a.code == b.code);
        out
    }

    /// Whether `unit` offers `service`: a unit of the service's level inside its `regions`, and
    /// listed for it when the unit's `[[unit]] services` restricts it.
    pub fn offers(&self, unit: &str, service: &ServiceDefinition) -> bool {
        let Ok(index) = crate::region::RegionIndex::embedded() else {
            return false;
        };
        let Some(region) = index.get(unit) else {
            return false;
        };
        if region.level != service.runs_at
            || !service
                .regions
                .iter()
                .any(|p| crate::region::code_within(unit, p))
        {
            return false;
        }
        match self.units.get(unit).and_then(|u| u.services.as_ref()) {
            Some(list) => list.iter().any(|s| s == &service.id),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RetentionPeriod;

    #[test]
    fn retention_periods_parse_print_and_count_back_on_the_calendar() {
        for (text, period, shown) in [
            ("5 tahun", RetentionPeriod::Years(5), "5 tahun"),
            ("18 Bulan", RetentionPeriod::Months(18), "18 bulan"),
            ("90 hari", RetentionPeriod::Days(90), "90 hari"),
            ("2 years", RetentionPeriod::Years(2), "2 tahun"),
            ("100 tahun", RetentionPeriod::Years(100), "100 tahun"),
            (" 1  month ", RetentionPeriod::Months(1), "1 bulan"),
        ] {
            assert_eq!(text.parse::<RetentionPeriod>(), Ok(period), "{text}");
            assert_eq!(period.to_string(), shown);
        }
        for bad in [
            "",
            "5",
            "tahun",
            "0 tahun",
            "-1 tahun",
            "5 windu",
            "5 tahun lagi",
            "70000 hari",
        ] {
            assert!(bad.parse::<RetentionPeriod>().is_err(), "{bad}");
        }
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let now = at("2031-03-31T10:00:00Z");
        assert_eq!(
            RetentionPeriod::Years(5).before(now),
            Some(at("2026-03-31T10:00:00Z"))
        );
        // Calendar months: 31 March less one month is the last day of February.
        assert_eq!(
            RetentionPeriod::Months(1).before(now),
            Some(at("2031-02-28T10:00:00Z"))
        );
        assert_eq!(
            RetentionPeriod::Days(31).before(now),
            Some(at("2031-02-28T10:00:00Z"))
        );
        assert_eq!(
            RetentionPeriod::Years(20_000).before(now),
            None,
            "before the earliest time"
        );
    }
}
