//! Loading a configuration directory (TOML) into a validated [`Config`].
//!
//! Layout of a directory (one per regency or province):
//!
//! ```text
//! alur.toml          [tenant], [storage], [[unit]] settings and offerings
//! roles.toml         [[role]]
//! officers.toml      [[officer]], [[mandate]]
//! services/*.toml    one service definition per file
//! ```
//!
//! Every problem is collected, not just the first: each [`Diagnostic`] carries the file, line,
//! column, key path and a hint.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alur_calendar::SlaDuration;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::*;
use crate::region::{RegionIndex, UnitLevel, code_within};

/// One problem found in a configuration directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File path as given (relative to the directory's parent when possible).
    pub file: String,
    /// 1-based line (0 when the problem is about a whole file).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// Key path inside the file (`step[1].action[0].to`), empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// All problems found in a configuration directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the configuration:\n{}", .0.len(), render(.0))]
pub struct ConfigErrors(pub Vec<Diagnostic>);

fn render(d: &[Diagnostic]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

struct SourceFile {
    name: String,
    text: String,
    spans: HashMap<String, Range<usize>>,
}

impl SourceFile {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rfind('\n').map_or(offset, |i| offset - i - 1);
        let col_chars = self.text[offset - col..offset].chars().count() + 1;
        (line, col_chars)
    }

    /// Span of the key path, or of its nearest existing ancestor.
    fn span_of(&self, key: &str) -> Option<Range<usize>> {
        let mut k = key;
        loop {
            if let Some(s) = self.spans.get(k) {
                return Some(s.clone());
            }
            let cut = k.rfind(['.', '['])?;
            k = &k[..cut];
        }
    }

    /// The deepest key path whose span contains `span`.
    fn key_at(&self, span: &Range<usize>) -> String {
        self.spans
            .iter()
            .filter(|(_, s)| s.start <= span.start && span.end <= s.end.max(s.start + 1))
            .max_by_key(|(k, s)| (k.len(), usize::MAX - (s.end - s.start)))
            .map(|(k, _)| k.clone())
            .unwrap_or_default()
    }
}

fn index_spans(
    prefix: &str,
    value: &toml::de::DeValue<'_>,
    out: &mut HashMap<String, Range<usize>>,
) {
    match value {
        toml::de::DeValue::Table(t) => {
            for (k, v) in t.iter() {
                let key: &str = k.get_ref().as_ref();
                let path = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}.{key}")
                };
                // Point at the key for tables, at the value otherwise.
                let span = if matches!(v.get_ref(), toml::de::DeValue::Table(_)) {
                    k.span()
                } else {
                    v.span()
                };
                out.insert(path.clone(), span);
                index_spans(&path, v.get_ref(), out);
            }
        }
        toml::de::DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                out.insert(path.clone(), v.span());
                index_spans(&path, v.get_ref(), out);
            }
        }
        _ => {}
    }
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match p {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        P::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

/// Collects diagnostics while loading.
struct Ctx {
    files: Vec<SourceFile>,
    diags: Vec<Diagnostic>,
}

type FileId = usize;

impl Ctx {
    fn err(
        &mut self,
        file: FileId,
        key: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let f = &self.files[file];
        let (line, column) = f.span_of(key).map_or((0, 0), |s| f.line_col(s.start));
        self.diags.push(Diagnostic {
            file: f.name.clone(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    fn file_err(&mut self, name: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: name.to_owned(),
            line: 0,
            column: 0,
            key: String::new(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    /// Parse a file into `T`, reporting syntax errors, type errors and every unknown key.
    fn parse<T: serde::de::DeserializeOwned>(
        &mut self,
        name: String,
        text: String,
    ) -> Option<(FileId, T)> {
        let mut spans = HashMap::new();
        let (root, syntax) = toml::de::DeTable::parse_recoverable(&text);
        index_spans("", &toml::de::DeValue::Table(root.into_inner()), &mut spans);
        let id = self.files.len();
        self.files.push(SourceFile { name, text, spans });
        if !syntax.is_empty() {
            for e in syntax {
                let span = e.span().unwrap_or(0..0);
                let (line, column) = self.files[id].line_col(span.start);
                self.diags.push(Diagnostic {
                    file: self.files[id].name.clone(),
                    line,
                    column,
                    key: self.files[id].key_at(&span),
                    message: format!("TOML syntax error: {}", e.message().trim_end()),
                    hint: "fix the TOML syntax; see https://toml.io for the format".into(),
                });
            }
            return None;
        }
        let text = self.files[id].text.clone();
        let de = match toml::Deserializer::parse(&text) {
            Ok(de) => de,
            Err(e) => {
                self.file_err(
                    &self.files[id].name.clone(),
                    e.message().to_owned(),
                    "fix the TOML syntax",
                );
                return None;
            }
        };
        let mut unknown = Vec::new();
        let result: Result<T, _> =
            serde_ignored::deserialize(de, |p| unknown.push(ignored_path(&p)));
        for key in unknown {
            let parent = key
                .rsplit_once(['.'])
                .map_or("the top level", |(p, _)| p)
                .to_owned();
            self.err(
                id,
                &key,
                format!("unknown key `{}`", key.rsplit('.').next().unwrap_or(&key)),
                format!("remove it or check its spelling; see docs/CONFIG.md for the keys allowed in {parent}"),
            );
        }
        match result {
            Ok(v) => Some((id, v)),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let key = self.files[id].key_at(&span);
                let (line, column) = self.files[id].line_col(span.start);
                self.diags.push(Diagnostic {
                    file: self.files[id].name.clone(),
                    line,
                    column,
                    key,
                    message: e.message().trim_end().to_owned(),
                    hint: "check the value's type and the required keys; see docs/CONFIG.md".into(),
                });
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw (as written) configuration.

#[derive(Deserialize)]
struct RawMain {
    tenant: RawTenant,
    storage: Option<RawStorage>,
    audit: Option<RawAudit>,
    letters: Option<RawLetters>,
    server: Option<RawServer>,
    retention: Option<RawRetention>,
    calendar: Option<alur_calendar::CalendarConfig>,
    #[serde(default)]
    unit: Vec<RawUnit>,
}

#[derive(Deserialize)]
struct RawServer {
    public_url: Option<String>,
}

#[derive(Deserialize)]
struct RawTenant {
    id: String,
    name: String,
    region: String,
}

#[derive(Deserialize)]
struct RawStorage {
    url: String,
}

#[derive(Deserialize)]
struct RawAudit {
    checkpoint_every: Option<String>,
    checkpoint_dir: Option<String>,
    checkpoint_webhook: Option<String>,
    checkpoint_key_env: Option<String>,
}

#[derive(Deserialize)]
struct RawRetention {
    personal_data: Option<String>,
    legal_basis: Option<String>,
}

#[derive(Deserialize)]
struct RawLetters {
    number_format: Option<String>,
    series: Option<String>,
    verify_url: Option<String>,
    paper: Option<String>,
}

#[derive(Deserialize)]
struct RawUnit {
    code: String,
    services: Option<Vec<String>>,
    time_zone: Option<String>,
    hours: Option<alur_calendar::WorkingHours>,
    #[serde(default)]
    settings: BTreeMap<String, bool>,
}

#[derive(Deserialize)]
struct RawRoles {
    #[serde(default)]
    role: Vec<RawRole>,
}

#[derive(Deserialize)]
struct RawRole {
    id: String,
    name: String,
    levels: Vec<String>,
}

#[derive(Deserialize)]
struct RawOfficers {
    #[serde(default)]
    officer: Vec<RawOfficer>,
    #[serde(default)]
    mandate: Vec<RawMandate>,
}

#[derive(Deserialize)]
struct RawOfficer {
    id: String,
    name: String,
    nip: Option<String>,
    nik: Option<String>,
    #[serde(default)]
    posts: Vec<RawPost>,
}

#[derive(Deserialize)]
struct RawPost {
    role: String,
    unit: String,
}

#[derive(Deserialize)]
struct RawMandate {
    id: String,
    kind: String,
    holder: String,
    principal: Option<String>,
    role: String,
    unit: String,
    from: toml::value::Datetime,
    until: toml::value::Datetime,
    reference: String,
}

#[derive(Deserialize)]
struct RawService {
    id: String,
    name: String,
    category: String,
    runs_at: String,
    regions: Vec<String>,
    #[serde(default)]
    legal_basis: Vec<String>,
    #[serde(default)]
    in_person_only: bool,
    completion_time: String,
    clock_starts: Option<String>,
    fee: RawFee,
    product: RawProduct,
    #[serde(default)]
    condition: Vec<RawCondition>,
    #[serde(default)]
    requirement: Vec<RawRequirement>,
    #[serde(default)]
    field: Vec<RawField>,
    #[serde(default)]
    complaint_channel: Vec<RawChannel>,
    #[serde(default)]
    complaint_tier: Vec<RawTier>,
    #[serde(default)]
    step: Vec<RawStep>,
    #[serde(default)]
    separation: Vec<RawSeparation>,
    sla: Option<RawSla>,
}

#[derive(Deserialize)]
struct RawSla {
    reminders: Option<Vec<i64>>,
    escalate_to: Option<String>,
    on_breach: Option<String>,
    reassign_to: Option<String>,
    legal_basis: Option<String>,
}

#[derive(Deserialize)]
struct RawFee {
    amount: i64,
    note: Option<String>,
}

#[derive(Deserialize)]
struct RawProduct {
    name: String,
    validity: String,
    classification: Option<String>,
}

#[derive(Deserialize)]
struct RawCondition {
    id: String,
    question: String,
}

#[derive(Deserialize)]
struct RawRequirement {
    id: String,
    name: String,
    only_if: Option<String>,
}

#[derive(Deserialize)]
struct RawField {
    id: String,
    label: String,
    required: Option<bool>,
    max_length: Option<u32>,
}

#[derive(Deserialize)]
struct RawChannel {
    name: String,
    contact: String,
}

#[derive(Deserialize)]
struct RawTier {
    id: String,
    name: String,
    response: String,
}

#[derive(Deserialize)]
struct RawStep {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    roles: Vec<String>,
    chain: Option<Vec<String>>,
    quorum: Option<i64>,
    at: Option<String>,
    sla: Option<String>,
    optional: Option<String>,
    #[serde(default)]
    optional_default: bool,
    skip_to: Option<String>,
    #[serde(default)]
    pauses_clock: bool,
    #[serde(default)]
    action: Vec<RawAction>,
}

#[derive(Deserialize)]
struct RawAction {
    id: String,
    name: String,
    to: Option<String>,
    outcome: Option<String>,
    #[serde(default)]
    vote: bool,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    reason_required: bool,
    #[serde(default)]
    requires_checked: Vec<String>,
    #[serde(default)]
    requires_fields: Vec<String>,
}

#[derive(Deserialize)]
struct RawSeparation {
    steps: Vec<String>,
}

// ---------------------------------------------------------------------------------------------

/// The text of a configuration directory's files, as read (for loading from memory or fuzzing).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `alur.toml`: display name and text (`None` when it could not be read).
    pub main: (String, Option<String>),
    /// `roles.toml`.
    pub roles: (String, Option<String>),
    /// `officers.toml` (optional).
    pub officers: (String, Option<String>),
    /// `services/*.toml`, sorted by name.
    pub services: Vec<(String, String)>,
    /// Problems met while reading.
    pub read_errors: Vec<Diagnostic>,
}

/// Load and validate a configuration directory. Returns every problem found.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    let dir = dir.as_ref();
    let display = |p: &Path| p.display().to_string();
    let mut src = Sources::default();
    let mut read = |path: &Path, required: bool| -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                src.read_errors.push(Diagnostic {
                    file: display(path),
                    line: 0,
                    column: 0,
                    key: String::new(),
                    message: format!("cannot read file: {e}"),
                    hint: if required {
                        "a configuration directory needs alur.toml, roles.toml, officers.toml and services/*.toml".into()
                    } else {
                        "check the file's permissions".into()
                    },
                });
                None
            }
        }
    };
    let main_path = dir.join("alur.toml");
    let main = read(&main_path, true);
    let roles_path = dir.join("roles.toml");
    let roles = read(&roles_path, true);
    let off_path = dir.join("officers.toml");
    let officers = read(&off_path, false);
    let mut service_files: Vec<PathBuf> = Vec::new();
    let sdir = dir.join("services");
    let mut services = Vec::new();
    match std::fs::read_dir(&sdir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    service_files.push(p);
                }
            }
        }
        Err(e) => src_err(&mut services, &sdir, &e),
    }
    service_files.sort();
    let mut texts = Vec::new();
    for p in &service_files {
        if let Some(t) = read(p, true) {
            texts.push((display(p), t));
        }
    }
    src.main = (display(&main_path), main);
    src.roles = (display(&roles_path), roles);
    src.officers = (display(&off_path), officers);
    src.services = texts;
    src.read_errors.extend(services);
    load_sources(src)
}

/// Diagnostics with every NIK-shaped run of digits (exactly 16) masked: a value echoed by a
/// message (a type error quoting the value, an unknown reference) must not put a NIK in logs.
fn redact_niks(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    fn redact(s: &mut String) {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let (mut i, mut changed) = (0, false);
        while i < b.len() {
            let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if run == 16 {
                out.push_str("<16 digits redacted>");
                changed = true;
            } else if run > 0 {
                out.push_str(&s[i..i + run]);
            }
            if run > 0 {
                i += run;
                continue;
            }
            let ch = s[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
        if changed {
            *s = out;
        }
    }
    for d in &mut diags {
        redact(&mut d.key);
        redact(&mut d.message);
        redact(&mut d.hint);
    }
    diags
}

fn src_err(out: &mut Vec<Diagnostic>, dir: &Path, e: &std::io::Error) {
    out.push(Diagnostic {
        file: dir.display().to_string(),
        line: 0,
        column: 0,
        key: String::new(),
        message: format!("cannot read the services directory: {e}"),
        hint: "put one service definition per file in services/*.toml".into(),
    });
}

/// Load and validate configuration text already read into memory. Never panics on any input.
pub fn load_sources(src: Sources) -> Result<Config, ConfigErrors> {
    let mut ctx = Ctx {
        files: Vec::new(),
        diags: src.read_errors,
    };
    let regions = match RegionIndex::embedded() {
        Ok(r) => r,
        Err(e) => {
            ctx.file_err(
                "<embedded>",
                e.to_string(),
                "rebuild alur; the embedded region data is damaged",
            );
            return Err(ConfigErrors(redact_niks(ctx.diags)));
        }
    };
    let main = src.main.1.and_then(|t| ctx.parse::<RawMain>(src.main.0, t));
    let raw_roles = src
        .roles
        .1
        .and_then(|t| ctx.parse::<RawRoles>(src.roles.0, t));
    let raw_officers = src
        .officers
        .1
        .and_then(|t| ctx.parse::<RawOfficers>(src.officers.0, t));
    let mut raw_services = Vec::new();
    for (name, t) in src.services {
        if let Some(s) = ctx.parse::<RawService>(name, t) {
            raw_services.push(s);
        }
    }

    // Tenant.
    let tenant = main.as_ref().map(|(fid, m)| {
        let fid = *fid;
        if regions.get(&m.tenant.region).is_none() {
            ctx.err(
                fid,
                "tenant.region",
                format!("region code `{}` does not exist in the Kemendagri data", m.tenant.region),
                "use a dotted Kemendagri code such as `21` (Kepulauan Riau) or `21.71` (Kota Batam)",
            );
        }
        (fid, Tenant { id: m.tenant.id.clone(), name: m.tenant.name.clone(), region: m.tenant.region.clone() })
    });
    let tenant_region = tenant.as_ref().map(|(_, t)| t.region.clone());

    // Audit: checkpoint publishing.
    let mut audit = crate::model::AuditSettings::default();
    if let Some((fid, m)) = &main
        && let Some(a) = &m.audit
    {
        let fid = *fid;
        if let Some(every) = &a.checkpoint_every {
            match clock_interval(every) {
                Ok(d) => audit.checkpoint_every = d,
                Err(e) => ctx.err(
                    fid,
                    "audit.checkpoint_every",
                    e,
                    "write minutes or hours, e.g. \"10 menit\" or \"1 jam\"",
                ),
            }
        }
        if let Some(dir) = &a.checkpoint_dir {
            if dir.trim().is_empty() {
                ctx.err(
                    fid,
                    "audit.checkpoint_dir",
                    "the directory is empty",
                    "name a directory (relative to the working directory), or remove the key",
                );
            } else {
                audit.checkpoint_dir = Some(dir.clone());
            }
        }
        if let Some(url) = &a.checkpoint_webhook {
            if url.starts_with("http://") || url.starts_with("https://") {
                audit.checkpoint_webhook = Some(url.clone());
            } else {
                ctx.err(
                    fid,
                    "audit.checkpoint_webhook",
                    format!("`{url}` is not an http:// or https:// URL"),
                    "give the URL that receives each signed checkpoint as a POST",
                );
            }
        }
        if let Some(var) = &a.checkpoint_key_env {
            let valid = !var.is_empty()
                && var
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if valid {
                audit.checkpoint_key_env = var.clone();
            } else {
                ctx.err(
                    fid,
                    "audit.checkpoint_key_env",
                    format!("`{var}` is not an environment variable name"),
                    "name the variable that holds the key (e.g. ALUR_CHECKPOINT_KEY); the key itself never goes in TOML",
                );
            }
        }
    }

    // Retention of personal data.
    let mut retention = None;
    if let Some((fid, m)) = &main
        && let Some(r) = &m.retention
    {
        let fid = *fid;
        let period = match &r.personal_data {
            Some(text) => match text.parse::<crate::model::RetentionPeriod>() {
                Ok(p) => Some(p),
                Err(e) => {
                    ctx.err(
                        fid,
                        "retention.personal_data",
                        e,
                        "write years, months or days after a case's last act, e.g. \"5 tahun\"",
                    );
                    None
                }
            },
            None => {
                ctx.err(
                    fid,
                    "retention",
                    "[retention] has no personal_data period",
                    "add personal_data = \"5 tahun\" (the archive retention schedule's period), or remove the section to keep personal data",
                );
                None
            }
        };
        let basis = match r.legal_basis.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => Some(b.to_owned()),
            _ => {
                let key = if r.legal_basis.is_some() {
                    "retention.legal_basis"
                } else {
                    "retention"
                };
                ctx.err(
                    fid,
                    key,
                    "[retention] has no legal basis",
                    "add legal_basis naming the retention schedule (JRA) and UU 27/2022; every erasure records it",
                );
                None
            }
        };
        if let (Some(personal_data), Some(legal_basis)) = (period, basis) {
            retention = Some(crate::model::Retention {
                personal_data,
                legal_basis,
            });
        }
    }

    // Roles.
    let mut roles: BTreeMap<String, Role> = BTreeMap::new();
    if let Some((fid, raw)) = &raw_roles {
        for (i, r) in raw.role.iter().enumerate() {
            let key = format!("role[{i}]");
            check_id(&mut ctx, *fid, &format!("{key}.id"), &r.id);
            let mut levels = Vec::new();
            for (j, l) in r.levels.iter().enumerate() {
                match UnitLevel::parse(l) {
                    Some(l) => levels.push(l),
                    None => ctx.err(
                        *fid,
                        &format!("{key}.levels[{j}]"),
                        format!("unknown unit level `{l}`"),
                        "use one of provinsi, kabupaten, kota, kecamatan, kelurahan, desa, desa_adat",
                    ),
                }
            }
            if roles.contains_key(&r.id) {
                ctx.err(
                    *fid,
                    &format!("{key}.id"),
                    format!("duplicate role id `{}`", r.id),
                    "give every role its own id",
                );
            } else {
                roles.insert(
                    r.id.clone(),
                    Role {
                        id: r.id.clone(),
                        name: r.name.clone(),
                        levels,
                    },
                );
            }
        }
    }

    // Officers and mandates.
    let mut officers: BTreeMap<String, Officer> = BTreeMap::new();
    let mut mandates = Vec::new();
    if let Some((fid, raw)) = &raw_officers {
        let fid = *fid;
        for (i, o) in raw.officer.iter().enumerate() {
            let key = format!("officer[{i}]");
            check_id(&mut ctx, fid, &format!("{key}.id"), &o.id);
            let mut posts = Vec::new();
            for (j, p) in o.posts.iter().enumerate() {
                let pk = format!("{key}.posts[{j}]");
                check_role_at(
                    &mut ctx,
                    fid,
                    &pk,
                    &p.role,
                    &p.unit,
                    &roles,
                    regions,
                    tenant_region.as_deref(),
                );
                posts.push(Post {
                    role: p.role.clone(),
                    unit: p.unit.clone(),
                });
            }
            let nik = match &o.nik {
                Some(nik) => match crate::pseudonym::Nik::parse(nik) {
                    Some(n) => Some(n),
                    None => {
                        ctx.err(
                            fid,
                            &format!("{key}.nik"),
                            "a NIK has exactly 16 digits",
                            "copy the NIK from the officer's KTP",
                        );
                        None
                    }
                },
                None => None,
            };
            if officers.contains_key(&o.id) {
                ctx.err(
                    fid,
                    &format!("{key}.id"),
                    format!("duplicate officer id `{}`", o.id),
                    "give every officer their own id",
                );
            } else {
                officers.insert(
                    o.id.clone(),
                    Officer {
                        id: o.id.clone(),
                        name: o.name.clone(),
                        nip: o.nip.clone(),
                        nik,
                        posts,
                    },
                );
            }
        }
        let mut seen = BTreeSet::new();
        for (i, m) in raw.mandate.iter().enumerate() {
            let key = format!("mandate[{i}]");
            check_id(&mut ctx, fid, &format!("{key}.id"), &m.id);
            if !seen.insert(m.id.clone()) {
                ctx.err(
                    fid,
                    &format!("{key}.id"),
                    format!("duplicate mandate id `{}`", m.id),
                    "give every mandate its own id",
                );
            }
            let kind = match m.kind.as_str() {
                "plh" => Some(MandateKind::Plh),
                "plt" => Some(MandateKind::Plt),
                other => {
                    ctx.err(
                        fid,
                        &format!("{key}.kind"),
                        format!("unknown mandate kind `{other}`"),
                        "use `plh` (pelaksana harian) or `plt` (pelaksana tugas)",
                    );
                    None
                }
            };
            if !officers.contains_key(&m.holder) {
                ctx.err(
                    fid,
                    &format!("{key}.holder"),
                    format!("officer `{}` is not defined", m.holder),
                    "define the officer in [[officer]] first",
                );
            }
            if let Some(p) = &m.principal {
                if !officers.contains_key(p) {
                    ctx.err(
                        fid,
                        &format!("{key}.principal"),
                        format!("officer `{p}` is not defined"),
                        "define the officer in [[officer]] first",
                    );
                } else if p == &m.holder {
                    ctx.err(
                        fid,
                        &format!("{key}.principal"),
                        "an officer cannot act on their own behalf",
                        "name the absent official as principal",
                    );
                } else if !officers[p]
                    .posts
                    .iter()
                    .any(|x| x.role == m.role && x.unit == m.unit)
                {
                    ctx.err(
                        fid,
                        &format!("{key}.principal"),
                        format!(
                            "officer `{p}` does not hold role `{}` at {}",
                            m.role, m.unit
                        ),
                        "the principal must hold the delegated post",
                    );
                }
            } else if kind == Some(MandateKind::Plh) {
                ctx.err(
                    fid,
                    &format!("{key}.principal"),
                    "a Plh. mandate needs the absent official as `principal`",
                    "add principal = \"<officer id>\" or use kind = \"plt\" for a vacant post",
                );
            }
            check_role_at(
                &mut ctx,
                fid,
                &key,
                &m.role,
                &m.unit,
                &roles,
                regions,
                tenant_region.as_deref(),
            );
            let from = toml_date(&mut ctx, fid, &format!("{key}.from"), &m.from);
            let until = toml_date(&mut ctx, fid, &format!("{key}.until"), &m.until);
            if let (Some(f), Some(u)) = (from, until)
                && f > u
            {
                ctx.err(
                    fid,
                    &format!("{key}.until"),
                    format!("mandate ends ({u}) before it starts ({f})"),
                    "swap the dates or fix the typo",
                );
            }
            if m.reference.trim().is_empty() {
                ctx.err(
                    fid,
                    &format!("{key}.reference"),
                    "a mandate needs the reference number of its decree",
                    "copy the number from the surat perintah",
                );
            }
            if let (Some(kind), Some(from), Some(until)) = (kind, from, until) {
                mandates.push(Mandate {
                    id: m.id.clone(),
                    kind,
                    holder: m.holder.clone(),
                    principal: m.principal.clone(),
                    role: m.role.clone(),
                    unit: m.unit.clone(),
                    from,
                    until,
                    reference: m.reference.clone(),
                });
            }
        }
    }

    // Services.
    let mut services: BTreeMap<String, Arc<ServiceDefinition>> = BTreeMap::new();
    for (fid, raw) in &raw_services {
        if let Some(def) = build_service(
            &mut ctx,
            *fid,
            raw,
            &roles,
            regions,
            tenant_region.as_deref(),
        ) {
            if services.contains_key(&def.id) {
                ctx.err(
                    *fid,
                    "id",
                    format!("duplicate service id `{}`", def.id),
                    "every service needs its own id across all files",
                );
            } else {
                services.insert(def.id.clone(), Arc::new(def));
            }
        }
    }

    // Units.
    let mut units = BTreeMap::new();
    if let Some((fid, m)) = &main {
        for (i, u) in m.unit.iter().enumerate() {
            let key = format!("unit[{i}]");
            let Some(region) = regions.get(&u.code) else {
                ctx.err(*fid, &format!("{key}.code"), format!("unit code `{}` does not exist in the Kemendagri data", u.code), "use a dotted code such as 21.71.10.1001; see crates/alur-core/data/wilayah_indonesia.csv");
                continue;
            };
            if let Some(t) = tenant_region.as_deref()
                && !code_within(&u.code, t)
            {
                ctx.err(
                    *fid,
                    &format!("{key}.code"),
                    format!("unit {} is outside the tenant's region {t}", u.code),
                    "configure units of this regency or province only",
                );
            }
            if units.contains_key(&u.code) {
                ctx.err(
                    *fid,
                    &format!("{key}.code"),
                    format!("unit {} is configured twice", u.code),
                    "merge the two [[unit]] entries",
                );
                continue;
            }
            if let Some(list) = &u.services {
                for (j, s) in list.iter().enumerate() {
                    let sk = format!("{key}.services[{j}]");
                    match services.get(s) {
                        None => ctx.err(
                            *fid,
                            &sk,
                            format!("service `{s}` is not defined"),
                            "define it in services/*.toml or remove it",
                        ),
                        Some(def) if def.runs_at != region.level => ctx.err(
                            *fid,
                            &sk,
                            format!(
                                "service `{s}` runs at {} level but {} ({}) is a {}",
                                def.runs_at, u.code, region.name, region.level
                            ),
                            format!(
                                "offer it at a {} or change the service's runs_at",
                                def.runs_at
                            ),
                        ),
                        Some(def) if !def.regions.iter().any(|p| code_within(&u.code, p)) => ctx
                            .err(
                                *fid,
                                &sk,
                                format!("service `{s}` is not offered in the region of {}", u.code),
                                "add the region to the service's `regions`",
                            ),
                        Some(_) => {}
                    }
                }
            }
            for setting in u.settings.keys() {
                let used = services.values().any(|d| {
                    d.steps
                        .iter()
                        .any(|s| s.optional.as_ref().is_some_and(|o| &o.setting == setting))
                });
                if !used {
                    ctx.err(
                        *fid,
                        &format!("{key}.settings.{setting}"),
                        format!("setting `{setting}` is not used by any service"),
                        "check its spelling against the `optional` keys of the services' steps",
                    );
                }
            }
            units.insert(
                u.code.clone(),
                UnitConfig {
                    code: u.code.clone(),
                    services: u.services.clone(),
                    settings: u.settings.clone(),
                },
            );
        }
    }

    // Calendars: the tenant's, with unit overrides of time zone and hours.
    let mut calendars = None;
    if let Some((fid, m)) = &main {
        let overrides: Vec<crate::calendars::UnitCalendar> = m
            .unit
            .iter()
            .filter(|u| u.time_zone.is_some() || u.hours.is_some())
            .map(|u| crate::calendars::UnitCalendar {
                unit: u.code.clone(),
                time_zone: u.time_zone.clone(),
                hours: u.hours.clone(),
            })
            .collect();
        let mut cal = m.calendar.clone().unwrap_or_default();
        // Without an explicit zone, a tenant computes in its own region's zone (WIB, WITA or WIT).
        if !ctx.files[*fid].spans.contains_key("calendar.time_zone") {
            cal.time_zone = crate::region::default_time_zone(&m.tenant.region).to_owned();
        }
        match crate::calendars::Calendars::new(1, cal, overrides) {
            Ok(c) => calendars = Some(c),
            Err(e) => ctx.err(
                *fid,
                "calendar",
                format!("{e}"),
                "fix the [calendar] table or the unit's time_zone/hours; see docs/CONFIG.md",
            ),
        }
    }

    // Letters: numbering and verification.
    let mut letters = crate::model::LetterSettings::default();
    if let Some((fid, m)) = &main
        && let Some(l) = &m.letters
    {
        let fid = *fid;
        if let Some(f) = &l.number_format {
            match crate::letter::NumberFormat::parse(f) {
                Ok(_) => letters.number_format = f.clone(),
                Err(e) => ctx.err(
                    fid,
                    "letters.number_format",
                    e,
                    "e.g. \"{klasifikasi}/{nomor:4}/{unit}/{bulan}/{tahun}\"",
                ),
            }
        }
        if let Some(x) = &l.series {
            match x.as_str() {
                "klasifikasi" => letters.series = crate::model::LetterSeries::Classification,
                "layanan" => letters.series = crate::model::LetterSeries::Service,
                "unit" => letters.series = crate::model::LetterSeries::Unit,
                other => ctx.err(
                    fid,
                    "letters.series",
                    format!("unknown series `{other}`"),
                    "use \"klasifikasi\" (one sequence per classification code), \"layanan\" (per service) or \"unit\" (one per unit)",
                ),
            }
        }
        if let Some(url) = &l.verify_url {
            if url.starts_with("http://") || url.starts_with("https://") {
                letters.verify_url = url.trim_end_matches('/').to_owned();
            } else {
                ctx.err(
                    fid,
                    "letters.verify_url",
                    format!("`{url}` is not an http:// or https:// URL"),
                    "give the public address of the verification page; the QR code holds it followed by /<token>",
                );
            }
        }
        if let Some(p) = &l.paper {
            match p.to_ascii_uppercase().as_str() {
                "A4" => letters.paper = crate::model::Paper::A4,
                "F4" => letters.paper = crate::model::Paper::F4,
                other => ctx.err(
                    fid,
                    "letters.paper",
                    format!("unknown paper size `{other}`"),
                    "use \"A4\" or \"F4\"",
                ),
            }
        }
    }

    // The desk's public address.
    let mut public_url = None;
    if let Some((fid, m)) = &main
        && let Some(url) = m.server.as_ref().and_then(|s| s.public_url.as_ref())
    {
        match check_public_url(url) {
            Ok(u) => public_url = Some(u),
            Err(why) => ctx.err(
                *fid,
                "server.public_url",
                why,
                "give the address citizens open, e.g. public_url = \"https://layanan.kepriprov.go.id\"",
            ),
        }
    }

    if !ctx.diags.is_empty() {
        return Err(ConfigErrors(redact_niks(ctx.diags)));
    }
    let (Some((_, tenant)), Some((_, main)), Some(calendars)) = (tenant, main, calendars) else {
        return Err(ConfigErrors(redact_niks(ctx.diags)));
    };
    let mut config = Config {
        tenant,
        storage_url: main.storage.map(|s| s.url),
        audit,
        letters,
        retention,
        roles,
        officers,
        mandates,
        units,
        services,
        calendars,
        public_url: None,
    };
    if let Some(url) = public_url {
        config.set_public_url(&url);
    }
    Ok(config)
}

/// A public address as the desk hands it out: `http(s)://host[:port][/path]`, no query or
/// fragment, no trailing slash.
pub fn check_public_url(url: &str) -> Result<String, String> {
    let u = url.trim();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("`{u}` is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || u.contains(['?', '#', ' ']) {
        return Err(format!(
            "`{u}` is not a plain address (a host, an optional port and path; no query, fragment or space)"
        ));
    }
    Ok(u.trim_end_matches('/').to_owned())
}

fn check_id(ctx: &mut Ctx, fid: FileId, key: &str, id: &str) {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        ctx.err(
            fid,
            key,
            format!("invalid id `{id}`"),
            "use 1–64 lowercase letters, digits, `-` or `_`",
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn check_role_at(
    ctx: &mut Ctx,
    fid: FileId,
    key: &str,
    role: &str,
    unit: &str,
    roles: &BTreeMap<String, Role>,
    regions: &RegionIndex,
    tenant: Option<&str>,
) {
    let region = regions.get(unit);
    match region {
        None => ctx.err(
            fid,
            &format!("{key}.unit"),
            format!("unit code `{unit}` does not exist in the Kemendagri data"),
            "use a dotted code such as 21.71.10.1001",
        ),
        Some(_) if tenant.is_some_and(|t| !code_within(unit, t)) => ctx.err(
            fid,
            &format!("{key}.unit"),
            format!("unit {unit} is outside the tenant's region"),
            "post officers at units of this regency or province only",
        ),
        Some(_) => {}
    }
    match roles.get(role) {
        None => ctx.err(
            fid,
            &format!("{key}.role"),
            format!("role `{role}` is not defined"),
            format!(
                "define it in roles.toml; known roles: {}",
                roles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(r) => {
            if let Some(reg) = region
                && !r.levels.contains(&reg.level)
            {
                ctx.err(
                    fid,
                    &format!("{key}.role"),
                    format!(
                        "role `{role}` does not exist at a {} ({unit} {})",
                        reg.level, reg.name
                    ),
                    format!(
                        "role `{role}` exists at: {}",
                        r.levels
                            .iter()
                            .map(|l| l.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }
}

fn toml_date(
    ctx: &mut Ctx,
    fid: FileId,
    key: &str,
    d: &toml::value::Datetime,
) -> Option<jiff::civil::Date> {
    match (d.date, d.time) {
        (Some(date), None) => {
            jiff::civil::Date::new(date.year as i16, date.month as i8, date.day as i8).ok()
        }
        _ => {
            ctx.err(
                fid,
                key,
                "expected a date without a time",
                "write a local date such as 2026-03-01",
            );
            None
        }
    }
}

fn duration(ctx: &mut Ctx, fid: FileId, key: &str, s: &str) -> Option<SlaDuration> {
    match s.parse() {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.err(
                fid,
                key,
                format!("{e}"),
                "durations are working minutes/hours, working days or calendar days",
            );
            None
        }
    }
}

fn validity(ctx: &mut Ctx, fid: FileId, key: &str, s: &str) -> Option<Validity> {
    let lower = s.trim().to_lowercase();
    if matches!(lower.as_str(), "tidak terbatas" | "unlimited" | "selamanya") {
        return Some(Validity::Unlimited);
    }
    let mut parts = lower.split_whitespace();
    let n = parts
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=3650).contains(n));
    let unit = parts.collect::<Vec<_>>().join(" ");
    let v = match (n, unit.as_str()) {
        (Some(n), "hari" | "day" | "days") => Validity::Days(n),
        (Some(n), "bulan" | "month" | "months") => Validity::Months(n),
        (Some(n), "tahun" | "year" | "years") => Validity::Years(n),
        _ => {
            ctx.err(
                fid,
                key,
                format!("invalid validity period `{s}`"),
                "write e.g. \"6 bulan\", \"30 hari\", \"1 tahun\" or \"tidak terbatas\"",
            );
            return None;
        }
    };
    Some(v)
}

fn category(s: &str) -> Option<Category> {
    Some(match s {
        "administrasi" => Category::Administrasi,
        "kependudukan" => Category::Kependudukan,
        "pendidikan" => Category::Pendidikan,
        "kesehatan" => Category::Kesehatan,
        "sosial" => Category::Sosial,
        "ekonomi" => Category::Ekonomi,
        "pertanahan" => Category::Pertanahan,
        "pengaduan" => Category::Pengaduan,
        _ => return None,
    })
}

/// Check that a list of ids has no duplicates; returns the set.
fn unique_ids<'a>(
    ctx: &mut Ctx,
    fid: FileId,
    what: &str,
    table: &str,
    ids: impl Iterator<Item = &'a str>,
) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for (i, id) in ids.enumerate() {
        let key = format!("{table}[{i}].id");
        check_id(ctx, fid, &key, id);
        if !set.insert(id.to_owned()) {
            ctx.err(
                fid,
                &key,
                format!("duplicate {what} id `{id}`"),
                format!("every {what} in a service needs its own id"),
            );
        }
    }
    set
}

fn build_service(
    ctx: &mut Ctx,
    fid: FileId,
    raw: &RawService,
    roles: &BTreeMap<String, Role>,
    regions: &RegionIndex,
    tenant: Option<&str>,
) -> Option<ServiceDefinition> {
    let before = ctx.diags.len();
    check_id(ctx, fid, "id", &raw.id);
    let cat = category(&raw.category);
    if cat.is_none() {
        ctx.err(fid, "category", format!("unknown category `{}`", raw.category), "use one of administrasi, kependudukan, pendidikan, kesehatan, sosial, ekonomi, pertanahan, pengaduan");
    }
    let runs_at = UnitLevel::parse(&raw.runs_at);
    if runs_at.is_none() {
        ctx.err(
            fid,
            "runs_at",
            format!("unknown unit level `{}`", raw.runs_at),
            "use kelurahan, desa, kecamatan, kabupaten, kota or provinsi",
        );
    }
    if raw.regions.is_empty() {
        ctx.err(
            fid,
            "regions",
            "a service must say where it is offered",
            "list region codes, e.g. regions = [\"21.71\"]",
        );
    }
    for (i, r) in raw.regions.iter().enumerate() {
        let key = format!("regions[{i}]");
        match regions.get(r) {
            None => ctx.err(
                fid,
                &key,
                format!("region code `{r}` does not exist in the Kemendagri data"),
                "use a dotted code such as 21.71",
            ),
            Some(_) if tenant.is_some_and(|t| !code_within(r, t) && !code_within(t, r)) => ctx.err(
                fid,
                &key,
                format!("region {r} is outside the tenant's region"),
                "offer services in this regency or province only",
            ),
            Some(reg) => {
                if let Some(level) = runs_at
                    && reg.level.depth() > level.depth()
                {
                    ctx.err(
                        fid,
                        &key,
                        format!(
                            "region {r} is a {} but the service runs at {level} level",
                            reg.level
                        ),
                        "name the region that contains the offering units",
                    );
                } else if let Some(level) = runs_at
                    && regions.descendants_at(r, level).is_empty()
                    && reg.level != level
                {
                    ctx.err(
                        fid,
                        &key,
                        format!("region {r} ({}) has no {level}", reg.name),
                        if level == UnitLevel::Kelurahan {
                            "cities have kelurahan, kabupaten mostly have desa; check runs_at"
                        } else {
                            "check runs_at"
                        },
                    );
                }
            }
        }
    }
    let completion_time = duration(ctx, fid, "completion_time", &raw.completion_time);
    if raw.fee.amount < 0 {
        ctx.err(
            fid,
            "fee.amount",
            "a fee cannot be negative",
            "write 0 for a free service (tidak dipungut biaya)",
        );
    }
    let validity = validity(ctx, fid, "product.validity", &raw.product.validity);

    let cond_ids = unique_ids(
        ctx,
        fid,
        "condition",
        "condition",
        raw.condition.iter().map(|c| c.id.as_str()),
    );
    let req_ids = unique_ids(
        ctx,
        fid,
        "requirement",
        "requirement",
        raw.requirement.iter().map(|c| c.id.as_str()),
    );
    let field_ids = unique_ids(
        ctx,
        fid,
        "field",
        "field",
        raw.field.iter().map(|c| c.id.as_str()),
    );
    unique_ids(
        ctx,
        fid,
        "complaint tier",
        "complaint_tier",
        raw.complaint_tier.iter().map(|c| c.id.as_str()),
    );
    let step_ids = unique_ids(
        ctx,
        fid,
        "step",
        "step",
        raw.step.iter().map(|c| c.id.as_str()),
    );
    for (i, f) in raw.field.iter().enumerate() {
        if let Some(n) = f.max_length
            && !(1..=Field::MAX_MAX_LENGTH).contains(&n)
        {
            ctx.err(
                fid,
                &format!("field[{i}].max_length"),
                format!(
                    "max_length {n} is outside 1–{}",
                    Field::MAX_MAX_LENGTH
                ),
                "give the longest value accepted in characters, e.g. max_length = 200 (default 500)",
            );
        }
    }
    for (i, r) in raw.requirement.iter().enumerate() {
        if let Some(c) = &r.only_if
            && !cond_ids.contains(c)
        {
            ctx.err(
                fid,
                &format!("requirement[{i}].only_if"),
                format!("condition `{c}` is not defined"),
                "define it in a [[condition]] table of this service",
            );
        }
    }
    let tiers: Vec<ComplaintTier> = raw
        .complaint_tier
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let d = duration(
                ctx,
                fid,
                &format!("complaint_tier[{i}].response"),
                &t.response,
            )?;
            Some(ComplaintTier {
                id: t.id.clone(),
                name: t.name.clone(),
                response: d,
            })
        })
        .collect();
    if raw.complaint_channel.is_empty() {
        ctx.err(
            fid,
            "complaint_channel",
            "a published standard must name at least one complaint channel",
            "add [[complaint_channel]] with name and contact (e.g. LAPOR! SP4N)",
        );
    }
    if raw.step.is_empty() {
        ctx.err(
            fid,
            "step",
            "a service needs at least one step",
            "add [[step]] tables describing the procedure",
        );
    }
    let step_index = |id: &str| raw.step.iter().position(|s| s.id == id);
    let role_known = |ctx: &mut Ctx, key: &str, r: &str, level: Option<UnitLevel>| match roles
        .get(r)
    {
        None => ctx.err(
            fid,
            key,
            format!("role `{r}` is not defined"),
            format!(
                "define it in roles.toml; known roles: {}",
                roles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(role) => {
            if let Some(l) = level
                && !role.levels.contains(&l)
            {
                ctx.err(
                    fid,
                    key,
                    format!("role `{r}` does not exist at {l} level, where this step is performed"),
                    format!(
                        "role `{r}` exists at: {}",
                        role.levels
                            .iter()
                            .map(|l| l.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    };

    let mut steps = Vec::new();
    for (i, s) in raw.step.iter().enumerate() {
        let key = format!("step[{i}]");
        let at = match s.at.as_deref() {
            None | Some("unit") => StepAt::Unit,
            Some(l) => match UnitLevel::parse(l) {
                Some(level) if runs_at.is_some_and(|r| level.depth() < r.depth()) => {
                    StepAt::Ancestor(level)
                }
                _ => {
                    ctx.err(fid, &format!("{key}.at"), format!("`{l}` is not a level above where the service runs"), "use `unit` (default) or an ancestor level such as `kecamatan` for a hand-off");
                    StepAt::Unit
                }
            },
        };
        let level = match at {
            StepAt::Unit => runs_at,
            StepAt::Ancestor(l) => Some(l),
        };
        let sla = s
            .sla
            .as_ref()
            .and_then(|d| duration(ctx, fid, &format!("{key}.sla"), d));
        let kind = match s.kind.as_str() {
            "task" => {
                if s.roles.is_empty() {
                    ctx.err(
                        fid,
                        &format!("{key}.roles"),
                        "a task step needs the roles that may act",
                        "add roles = [\"operator\"]",
                    );
                }
                Some(StepKind::Task)
            }
            "applicant" => {
                if !s.roles.is_empty() {
                    ctx.err(
                        fid,
                        &format!("{key}.roles"),
                        "only the applicant acts in an applicant step",
                        "remove `roles` from this step",
                    );
                }
                Some(StepKind::Applicant)
            }
            "approval" => match (&s.chain, s.quorum) {
                (Some(chain), None) => {
                    if chain.is_empty() {
                        ctx.err(
                            fid,
                            &format!("{key}.chain"),
                            "an approval chain cannot be empty",
                            "list the roles that approve, in order",
                        );
                    }
                    if !s.roles.is_empty() {
                        ctx.err(
                            fid,
                            &format!("{key}.roles"),
                            "an approval chain takes its roles from `chain`",
                            "remove `roles`",
                        );
                    }
                    for (j, r) in chain.iter().enumerate() {
                        role_known(ctx, &format!("{key}.chain[{j}]"), r, level);
                    }
                    Some(StepKind::Approval(ApprovalRule::Chain(chain.clone())))
                }
                (None, Some(q)) => {
                    let distinct: BTreeSet<&String> = s.roles.iter().collect();
                    if q < 1 {
                        ctx.err(
                            fid,
                            &format!("{key}.quorum"),
                            "a quorum must be at least 1",
                            "set quorum = M for M-of-N approval",
                        );
                    } else if q as usize > distinct.len() {
                        ctx.err(
                            fid,
                            &format!("{key}.quorum"),
                            format!(
                                "quorum {q} is larger than the approver set ({} roles)",
                                distinct.len()
                            ),
                            "lower the quorum or add roles to the step's `roles`",
                        );
                    }
                    Some(StepKind::Approval(ApprovalRule::Quorum {
                        quorum: q.clamp(0, i64::from(u32::MAX)) as u32,
                        of: s.roles.clone(),
                    }))
                }
                _ => {
                    ctx.err(
                        fid,
                        &key,
                        "an approval step needs either `chain` or `quorum` (with `roles`)",
                        "write chain = [\"kasi\", \"lurah\"] or quorum = 2 with roles = [...]",
                    );
                    None
                }
            },
            other => {
                ctx.err(
                    fid,
                    &format!("{key}.kind"),
                    format!("unknown step kind `{other}`"),
                    "use `task`, `approval` or `applicant`",
                );
                None
            }
        };
        if s.kind != "approval" && (s.chain.is_some() || s.quorum.is_some()) {
            ctx.err(
                fid,
                &key,
                "`chain` and `quorum` belong to approval steps",
                "set kind = \"approval\" or remove them",
            );
        }
        for (j, r) in s.roles.iter().enumerate() {
            role_known(ctx, &format!("{key}.roles[{j}]"), r, level);
        }
        let optional = match (&s.optional, &s.skip_to) {
            (Some(setting), Some(to)) => match step_index(to) {
                Some(t) if t != i => Some(OptionalStep {
                    setting: setting.clone(),
                    default: s.optional_default,
                    skip_to: t,
                }),
                _ => {
                    ctx.err(
                        fid,
                        &format!("{key}.skip_to"),
                        format!("`{to}` is not another step of this service"),
                        format!(
                            "steps: {}",
                            step_ids.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                    None
                }
            },
            (Some(_), None) => {
                ctx.err(fid, &format!("{key}.optional"), "an optional step needs `skip_to`, the step to go to when a unit switches it off", "add skip_to = \"<step id>\"");
                None
            }
            (None, Some(_)) => {
                ctx.err(
                    fid,
                    &format!("{key}.skip_to"),
                    "`skip_to` only applies to optional steps",
                    "add optional = \"<unit setting>\" or remove skip_to",
                );
                None
            }
            (None, None) => None,
        };
        if i == 0 && optional.is_some() {
            ctx.err(
                fid,
                &format!("{key}.optional"),
                "the first step cannot be optional",
                "put a mandatory step first",
            );
        }
        let mut actions = Vec::new();
        let mut action_ids = BTreeSet::new();
        for (j, a) in s.action.iter().enumerate() {
            let ak = format!("{key}.action[{j}]");
            check_id(ctx, fid, &format!("{ak}.id"), &a.id);
            if !action_ids.insert(a.id.clone()) {
                ctx.err(
                    fid,
                    &format!("{ak}.id"),
                    format!("duplicate action id `{}` in step `{}`", a.id, s.id),
                    "give every action of a step its own id",
                );
            }
            let target = match (&a.to, &a.outcome) {
                (Some(to), None) => match step_index(to) {
                    Some(t) => Some(Target::Step(t)),
                    None => {
                        ctx.err(
                            fid,
                            &format!("{ak}.to"),
                            format!("step `{to}` is not defined"),
                            format!(
                                "steps: {}",
                                step_ids.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        );
                        None
                    }
                },
                (None, Some(o)) => match o.as_str() {
                    "completed" => Some(Target::Outcome(Outcome::Completed)),
                    "rejected" => Some(Target::Outcome(Outcome::Rejected)),
                    "withdrawn" => Some(Target::Outcome(Outcome::Withdrawn)),
                    other => {
                        ctx.err(
                            fid,
                            &format!("{ak}.outcome"),
                            format!("unknown outcome `{other}`"),
                            "use completed, rejected or withdrawn",
                        );
                        None
                    }
                },
                _ => {
                    ctx.err(
                        fid,
                        &ak,
                        "an action needs exactly one of `to` (a step) or `outcome`",
                        "write to = \"<step id>\" or outcome = \"completed\"",
                    );
                    None
                }
            };
            let target = match (a.vote, &kind) {
                (true, Some(StepKind::Approval(_))) => target.map(|t| Target::Vote(Box::new(t))),
                (true, _) => {
                    ctx.err(
                        fid,
                        &format!("{ak}.vote"),
                        "`vote` only applies in approval steps",
                        "remove it or make the step an approval",
                    );
                    target
                }
                (false, _) => target,
            };
            if matches!(kind, Some(StepKind::Applicant)) && !a.roles.is_empty() {
                ctx.err(
                    fid,
                    &format!("{ak}.roles"),
                    "only the applicant acts in an applicant step",
                    "remove `roles`",
                );
            }
            for (k, r) in a.roles.iter().enumerate() {
                role_known(ctx, &format!("{ak}.roles[{k}]"), r, level);
                if !s.roles.is_empty() && !s.roles.contains(r) {
                    ctx.err(
                        fid,
                        &format!("{ak}.roles[{k}]"),
                        format!("role `{r}` is not one of the step's roles"),
                        "an action can narrow the step's roles, not widen them",
                    );
                }
            }
            let mut requires_checked = Vec::new();
            for (k, r) in a.requires_checked.iter().enumerate() {
                if r == "*" {
                    requires_checked.extend(req_ids.iter().cloned());
                } else if req_ids.contains(r) {
                    requires_checked.push(r.clone());
                } else {
                    ctx.err(
                        fid,
                        &format!("{ak}.requires_checked[{k}]"),
                        format!("requirement `{r}` is not defined"),
                        format!(
                            "requirements: {} (or \"*\" for all that apply)",
                            req_ids.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
            for (k, f) in a.requires_fields.iter().enumerate() {
                if !field_ids.contains(f) {
                    ctx.err(
                        fid,
                        &format!("{ak}.requires_fields[{k}]"),
                        format!("field `{f}` is not defined"),
                        "define it in a [[field]] table of this service",
                    );
                }
            }
            if let Some(target) = target {
                actions.push(Action {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    target,
                    roles: a.roles.clone(),
                    reason_required: a.reason_required,
                    requires_checked,
                    requires_fields: a.requires_fields.clone(),
                });
            }
        }
        if let Some(StepKind::Approval(_)) = &kind
            && !actions.iter().any(|a| matches!(a.target, Target::Vote(_)))
        {
            ctx.err(
                fid,
                &format!("{key}.action"),
                format!("approval step `{}` has no action with vote = true", s.id),
                "mark the approving action with vote = true",
            );
        }
        if s.action.is_empty() {
            ctx.err(
                fid,
                &key,
                format!("step `{}` is not final and has no way out", s.id),
                "add at least one [[step.action]] leading to another step or an outcome",
            );
        }
        let pauses_clock = s.pauses_clock || matches!(kind, Some(StepKind::Applicant));
        if let Some(kind) = kind {
            steps.push(Step {
                id: s.id.clone(),
                name: s.name.clone(),
                kind,
                roles: match &s.chain {
                    Some(c) => c.clone(),
                    None => s.roles.clone(),
                },
                at,
                sla,
                optional,
                actions,
                pauses_clock,
            });
        }
    }

    // Reachability and a way out, on the graph (only when every step was built).
    if steps.len() == raw.step.len() && !steps.is_empty() {
        let succ = |s: &Step| -> Vec<usize> {
            let mut v: Vec<usize> = s
                .actions
                .iter()
                .filter_map(|a| match &a.target {
                    Target::Step(t) => Some(*t),
                    Target::Vote(t) => match t.as_ref() {
                        Target::Step(t) => Some(*t),
                        _ => None,
                    },
                    Target::Outcome(_) => None,
                })
                .collect();
            if let Some(o) = &s.optional {
                v.push(o.skip_to);
            }
            v
        };
        let mut seen = vec![false; steps.len()];
        let mut queue = VecDeque::from([0usize]);
        seen[0] = true;
        while let Some(i) = queue.pop_front() {
            for t in succ(&steps[i]) {
                if !seen[t] {
                    seen[t] = true;
                    queue.push_back(t);
                }
            }
        }
        for (i, s) in steps.iter().enumerate() {
            if !seen[i] {
                ctx.err(
                    fid,
                    &format!("step[{i}]"),
                    format!(
                        "step `{}` cannot be reached from the first step `{}`",
                        s.id, steps[0].id
                    ),
                    "add an action leading to it, or remove it",
                );
            }
        }
        // A step has a way out when some path from it reaches an outcome.
        let mut done: Vec<bool> = steps
            .iter()
            .map(|s| s.actions.iter().any(|a| matches!(&a.target, Target::Outcome(_)) || matches!(&a.target, Target::Vote(t) if matches!(t.as_ref(), Target::Outcome(_)))))
            .collect();
        loop {
            let mut changed = false;
            for i in 0..steps.len() {
                if !done[i] && succ(&steps[i]).iter().any(|&t| done[t]) {
                    done[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for (i, s) in steps.iter().enumerate() {
            if seen[i] && !done[i] && !s.actions.is_empty() {
                ctx.err(
                    fid,
                    &format!("step[{i}]"),
                    format!("no path from step `{}` ever reaches an outcome", s.id),
                    "make some action lead to outcome = \"completed\" or \"rejected\"",
                );
            }
        }
        if !steps.iter().any(|s| s.actions.iter().any(|a| matches!(&a.target, Target::Outcome(Outcome::Completed)) || matches!(&a.target, Target::Vote(t) if matches!(t.as_ref(), Target::Outcome(Outcome::Completed))))) {
            ctx.err(fid, "step", "no action completes the service", "add an action with outcome = \"completed\"");
        }
    }

    let clock_starts = match raw.clock_starts.as_deref() {
        None | Some("submitted") => ClockStart::Submitted,
        Some(s) => match step_index(s) {
            Some(i) => ClockStart::Step(i),
            None => {
                ctx.err(fid, "clock_starts", format!("`{s}` is neither `submitted` nor a step of this service"), "write clock_starts = \"submitted\" or the id of the step entered when the file is complete");
                ClockStart::Submitted
            }
        },
    };
    let mut separations = Vec::new();
    for (i, sep) in raw.separation.iter().enumerate() {
        let mut idx = Vec::new();
        for (j, s) in sep.steps.iter().enumerate() {
            match step_index(s) {
                Some(k) => idx.push(k),
                None => ctx.err(
                    fid,
                    &format!("separation[{i}].steps[{j}]"),
                    format!("step `{s}` is not defined"),
                    "name steps of this service",
                ),
            }
        }
        if sep.steps.len() < 2 {
            ctx.err(
                fid,
                &format!("separation[{i}].steps"),
                "a separation rule needs at least two steps",
                "list the steps one person may not both act in",
            );
        }
        separations.push(Separation { steps: idx });
    }

    let (reminders, escalate_to, breach) = build_sla(ctx, fid, raw.sla.as_ref(), roles, runs_at);

    if ctx.diags.len() > before {
        return None;
    }
    let mut def = ServiceDefinition {
        id: raw.id.clone(),
        version: 1,
        digest: String::new(),
        name: raw.name.clone(),
        category: cat?,
        runs_at: runs_at?,
        regions: raw.regions.clone(),
        legal_basis: raw.legal_basis.clone(),
        in_person_only: raw.in_person_only,
        completion_time: completion_time?,
        clock_starts,
        fee: Fee {
            amount: raw.fee.amount.max(0) as u64,
            note: raw.fee.note.clone(),
        },
        product: Product {
            name: raw.product.name.clone(),
            validity: validity?,
            classification: raw.product.classification.clone(),
        },
        conditions: raw
            .condition
            .iter()
            .map(|c| Condition {
                id: c.id.clone(),
                question: c.question.clone(),
            })
            .collect(),
        requirements: raw
            .requirement
            .iter()
            .map(|r| Requirement {
                id: r.id.clone(),
                name: r.name.clone(),
                only_if: r.only_if.clone(),
            })
            .collect(),
        fields: raw
            .field
            .iter()
            .map(|f| Field {
                id: f.id.clone(),
                label: f.label.clone(),
                required: f.required.unwrap_or(true),
                max_length: f.max_length,
            })
            .collect(),
        complaint_channels: raw
            .complaint_channel
            .iter()
            .map(|c| ComplaintChannel {
                name: c.name.clone(),
                contact: c.contact.clone(),
            })
            .collect(),
        complaint_tiers: tiers,
        steps,
        separations,
        reminders,
        escalate_to,
        breach,
        source: ctx.files[fid].name.clone(),
    };
    def.digest = definition_digest(&def);
    Some(def)
}

fn build_sla(
    ctx: &mut Ctx,
    fid: FileId,
    raw: Option<&RawSla>,
    roles: &BTreeMap<String, Role>,
    runs_at: Option<UnitLevel>,
) -> (Vec<u8>, Option<String>, BreachPolicy) {
    let Some(raw) = raw else {
        return (vec![50, 80], None, BreachPolicy::Mark);
    };
    let mut reminders = Vec::new();
    for (i, r) in raw
        .reminders
        .clone()
        .unwrap_or_else(|| vec![50, 80])
        .into_iter()
        .enumerate()
    {
        if (1..=99).contains(&r) {
            reminders.push(r as u8);
        } else {
            ctx.err(
                fid,
                &format!("sla.reminders[{i}]"),
                format!("reminder at {r}% of the SLA is out of range"),
                "give percentages between 1 and 99, e.g. reminders = [50, 80]",
            );
        }
    }
    reminders.sort_unstable();
    reminders.dedup();
    let role_at = |ctx: &mut Ctx, key: &str, r: &str, parent: bool| {
        match roles.get(r) {
            None => ctx.err(
                fid,
                key,
                format!("role `{r}` is not defined"),
                "define it in roles.toml",
            ),
            Some(role) if parent => {
                // The supervisor sits at a level above where the service runs.
                if let Some(level) = runs_at
                    && !role.levels.iter().any(|l| l.depth() < level.depth())
                {
                    ctx.err(fid, key, format!("role `{r}` does not exist above {level} level"), "name a supervisor role of the parent unit, e.g. camat for a kelurahan service");
                }
            }
            Some(role) => {
                if let Some(level) = runs_at
                    && !role.levels.contains(&level)
                {
                    ctx.err(
                        fid,
                        key,
                        format!("role `{r}` does not exist at {level} level"),
                        "name a role of the unit that runs the service",
                    );
                }
            }
        }
    };
    if let Some(r) = &raw.escalate_to {
        role_at(ctx, "sla.escalate_to", r, true);
    }
    let breach = match raw.on_breach.as_deref().unwrap_or("mark") {
        "mark" => BreachPolicy::Mark,
        "escalate" => {
            if raw.escalate_to.is_none() {
                ctx.err(
                    fid,
                    "sla.on_breach",
                    "on_breach = \"escalate\" needs `escalate_to`",
                    "add escalate_to = \"<supervisor role at the parent unit>\"",
                );
            }
            BreachPolicy::Escalate
        }
        "reassign" => match &raw.reassign_to {
            Some(r) => {
                role_at(ctx, "sla.reassign_to", r, false);
                BreachPolicy::Reassign { role: r.clone() }
            }
            None => {
                ctx.err(
                    fid,
                    "sla.on_breach",
                    "on_breach = \"reassign\" needs `reassign_to`",
                    "add reassign_to = \"<role at the same unit>\"",
                );
                BreachPolicy::Mark
            }
        },
        "deemed_approval" => match &raw.legal_basis {
            Some(l) if !l.trim().is_empty() => BreachPolicy::DeemedApproval {
                legal_basis: l.clone(),
            },
            _ => {
                ctx.err(
                    fid,
                    "sla.legal_basis",
                    "a deemed approval must record its legal basis",
                    "e.g. legal_basis = \"UU 30/2014 Pasal 53 sebagaimana diubah UU 6/2023\"",
                );
                BreachPolicy::Mark
            }
        },
        other => {
            ctx.err(
                fid,
                "sla.on_breach",
                format!("unknown breach policy `{other}`"),
                "use mark, escalate, reassign or deemed_approval",
            );
            BreachPolicy::Mark
        }
    };
    if raw.legal_basis.is_some() && !matches!(breach, BreachPolicy::DeemedApproval { .. }) {
        ctx.err(
            fid,
            "sla.legal_basis",
            "`legal_basis` applies only to on_breach = \"deemed_approval\"",
            "remove it or change the policy",
        );
    }
    (reminders, raw.escalate_to.clone(), breach)
}

/// Hex SHA-256 over the definition's content (not its version, digest or source path).
pub fn definition_digest(def: &ServiceDefinition) -> String {
    let mut d = def.clone();
    d.version = 0;
    d.digest = String::new();
    d.source = String::new();
    let json = serde_json::to_vec(&d).unwrap_or_default();
    hex(&Sha256::digest(&json))
}

/// A clock interval (`"10 menit"`, `"1 jam"`, `"1 hari"`), e.g. between checkpoints. Working days
/// are refused: such intervals follow the clock, not the office calendar.
pub fn clock_interval(text: &str) -> Result<std::time::Duration, String> {
    let secs = match text.parse::<SlaDuration>().map_err(|e| e.to_string())? {
        SlaDuration::Minutes(n) => u64::from(n) * 60,
        SlaDuration::Hours(n) => u64::from(n) * 3600,
        SlaDuration::CalendarDays(n) => u64::from(n) * 86_400,
        SlaDuration::WorkingDays(_) => {
            return Err(format!(
                "`{text}` is in working days; checkpoints follow the clock"
            ));
        }
    };
    if secs == 0 {
        return Err("the interval must be longer than zero".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    // A table rather than `format!` per byte: every audit entry's hash goes through here.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}
