//! Message templates: handlebars, strict, Indonesian defaults, overridable from files.

use std::collections::BTreeMap;
use std::path::Path;

use handlebars::Handlebars;
use serde_json::{Map, Value};

use crate::error::NotifyError;
use crate::text::plain_text;

/// The events with a template, and the variables each may use besides the common ones
/// (`nomor_kasus`, `layanan`, `unit`, `waktu`).
pub const EVENTS: &[(&str, &[&str])] = &[
    ("case.received", &["perkiraan_selesai"]),
    ("case.returned", &["kekurangan", "alasan"]),
    ("case.completed", &["nomor_surat", "tautan_verifikasi"]),
    (
        "case.deemed_approved",
        &["nomor_surat", "tautan_verifikasi"],
    ),
    ("case.rejected", &["alasan"]),
    ("officer.reminder", &["langkah", "batas_waktu"]),
    ("supervisor.breach", &["langkah", "batas_waktu"]),
    ("officer.reassigned", &["langkah", "batas_waktu"]),
    ("complaint.received", &["perkiraan_selesai"]),
    ("complaint.answered", &["jawaban"]),
];

const COMMON: &[&str] = &["nomor_kasus", "layanan", "unit", "waktu"];

/// Indonesian defaults: (event, subject, plain text). The HTML default is the plain text in
/// paragraphs (values escaped by the HTML renderer).
const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "case.received",
        "Permohonan {{layanan}} diterima ({{nomor_kasus}})",
        "Permohonan {{layanan}} Anda di {{unit}} telah kami terima pada {{waktu}} dengan nomor {{nomor_kasus}}.\nPerkiraan selesai: {{perkiraan_selesai}}.\nSimpan nomor ini untuk menanyakan perkembangan permohonan Anda.",
    ),
    (
        "case.returned",
        "Berkas {{layanan}} belum lengkap ({{nomor_kasus}})",
        "Berkas permohonan {{layanan}} Anda ({{nomor_kasus}}) belum lengkap.\n{{#if kekurangan}}Yang perlu dilengkapi:\n{{#each kekurangan}}- {{this}}\n{{/each}}{{/if}}Catatan petugas: {{alasan}}\nSilakan lengkapi dan kirim kembali berkas Anda.",
    ),
    (
        "case.completed",
        "{{layanan}} selesai ({{nomor_kasus}})",
        "Permohonan {{layanan}} Anda ({{nomor_kasus}}) telah selesai dan surat siap diambil di {{unit}}.\nNomor surat: {{nomor_surat}}\nKeaslian surat dapat diperiksa di {{tautan_verifikasi}}",
    ),
    (
        "case.deemed_approved",
        "Permohonan {{layanan}} dianggap dikabulkan ({{nomor_kasus}})",
        "Permohonan {{layanan}} Anda ({{nomor_kasus}}) tidak diputuskan dalam batas waktu dan dianggap dikabulkan secara hukum.\nNomor surat: {{nomor_surat}}\nKeaslian dapat diperiksa di {{tautan_verifikasi}}",
    ),
    (
        "case.rejected",
        "Permohonan {{layanan}} ditolak ({{nomor_kasus}})",
        "Permohonan {{layanan}} Anda ({{nomor_kasus}}) di {{unit}} ditolak.\nAlasan: {{alasan}}\nAnda dapat menyampaikan pengaduan melalui kanal pengaduan yang tercantum dalam standar pelayanan.",
    ),
    (
        "officer.reminder",
        "Pengingat: {{layanan}} {{nomor_kasus}} menunggu tindakan",
        "Berkas {{layanan}} nomor {{nomor_kasus}} di {{unit}} menunggu tindakan Anda pada tahap \"{{langkah}}\".\nBatas waktu: {{batas_waktu}}.",
    ),
    (
        "supervisor.breach",
        "Batas waktu terlampaui: {{layanan}} {{nomor_kasus}}",
        "Berkas {{layanan}} nomor {{nomor_kasus}} di {{unit}} melewati batas waktu ({{batas_waktu}}) pada tahap \"{{langkah}}\".\nMohon tindak lanjut sesuai kewenangan Anda.",
    ),
    (
        "officer.reassigned",
        "Berkas dialihkan kepada Anda: {{layanan}} {{nomor_kasus}}",
        "Berkas {{layanan}} nomor {{nomor_kasus}} di {{unit}} dialihkan kepada Anda pada tahap \"{{langkah}}\".\nBatas waktu: {{batas_waktu}}.",
    ),
    (
        "complaint.received",
        "Pengaduan diterima ({{nomor_kasus}})",
        "Pengaduan Anda tentang {{layanan}} di {{unit}} telah kami terima pada {{waktu}} dengan nomor {{nomor_kasus}}.\nPerkiraan tanggapan: {{perkiraan_selesai}}.",
    ),
    (
        "complaint.answered",
        "Pengaduan telah ditanggapi ({{nomor_kasus}})",
        "Pengaduan Anda nomor {{nomor_kasus}} tentang {{layanan}} telah ditanggapi:\n{{jawaban}}",
    ),
];

/// Longest string value put into a template (longer values are cut before rendering).
const MAX_VALUE_CHARS: usize = 4_000;

/// A part of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The subject line.
    Subject,
    /// The plain-text body.
    Text,
    /// The HTML body.
    Html,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Text => "text",
            Self::Html => "html",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "subject" => Some(Self::Subject),
            "text" => Some(Self::Text),
            "html" => Some(Self::Html),
            _ => None,
        }
    }
}

/// Length caps of rendered text, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// Subject lines.
    pub subject: usize,
    /// Plain-text bodies (e-mail, webhook).
    pub text: usize,
    /// SMS.
    pub sms: usize,
    /// WhatsApp.
    pub whatsapp: usize,
}

impl Default for TextLimits {
    fn default() -> Self {
        Self {
            subject: 200,
            text: 20_000,
            sms: 480,
            whatsapp: 4_096,
        }
    }
}

/// A rendered message.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line of plain text.
    pub subject: String,
    /// Plain text without control characters (line feeds kept), capped at [`TextLimits::text`].
    pub text: String,
    /// HTML with every value escaped.
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered").finish_non_exhaustive()
    }
}

/// The templates of a tenant.
#[derive(Debug, Clone)]
pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    limits: TextLimits,
}

fn name(event: &str, part: Part) -> String {
    format!("{event}.{}", part.as_str())
}

fn default_html(subject: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"id\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n<body><p>{}</p></body></html>\n",
        text.replace('\n', "<br>\n")
    )
}

impl Templates {
    /// The Indonesian defaults for every event in [`EVENTS`].
    pub fn defaults() -> Self {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        html.set_prevent_indent(true);
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.set_prevent_indent(true);
        text.register_escape_fn(handlebars::no_escape);
        let mut t = Self {
            html,
            text,
            limits: TextLimits::default(),
        };
        for (event, subject, body) in DEFAULTS {
            // The defaults are tested to parse; a failure here would be a bug in this file, and
            // the event is then left without a template (rendering it fails with an error).
            let _ = t.set(event, Part::Subject, subject);
            let _ = t.set(event, Part::Text, body);
            let _ = t.set(event, Part::Html, &default_html(subject, body));
        }
        t
    }

    /// The defaults, overridden by the files of `dir` named `<event>.<part>.hbs` (for example
    /// `case.received.text.hbs`, `case.rejected.html.hbs`), then [validated](Self::validate).
    ///
    /// # Errors
    /// Every problem: unreadable files, names that are not an event and part, templates that do
    /// not parse or do not render with their event's variables.
    pub fn load_dir(dir: &Path) -> Result<Self, Vec<NotifyError>> {
        let mut t = Self::defaults();
        let mut errors = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                return Err(vec![NotifyError::Template {
                    name: dir.display().to_string(),
                    message: format!("cannot read the template directory: {e}"),
                }]);
            }
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let file = path.display().to_string();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".hbs"))
            else {
                continue;
            };
            let parsed = stem
                .rsplit_once('.')
                .and_then(|(event, part)| Some((event, Part::parse(part)?)))
                .filter(|(event, _)| EVENTS.iter().any(|(e, _)| e == event));
            let Some((event, part)) = parsed else {
                errors.push(NotifyError::Template {
                    name: file,
                    message: format!(
                        "not an event template; name files <event>.<subject|text|html>.hbs with an event among {}",
                        EVENTS.iter().map(|(e, _)| *e).collect::<Vec<_>>().join(", ")
                    ),
                });
                continue;
            };
            match std::fs::read_to_string(&path) {
                Ok(source) => {
                    if let Err(e) = t.set(event, part, &source) {
                        errors.push(NotifyError::Template {
                            name: file,
                            message: e.to_string(),
                        });
                    }
                }
                Err(e) => errors.push(NotifyError::Template {
                    name: file,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        if let Err(mut v) = t.validate() {
            errors.append(&mut v);
        }
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    /// Set one template from the deployer's source.
    ///
    /// # Errors
    /// [`NotifyError::Template`] when it does not parse.
    pub fn set(&mut self, event: &str, part: Part, source: &str) -> Result<(), NotifyError> {
        let n = name(event, part);
        let err = |e: handlebars::TemplateError| NotifyError::Template {
            name: n.clone(),
            message: e.to_string(),
        };
        match part {
            Part::Html => self.html.register_template_string(&n, source).map_err(err),
            Part::Subject | Part::Text => {
                self.text.register_template_string(&n, source).map_err(err)
            }
        }
    }

    /// Set the length caps.
    pub fn with_limits(mut self, limits: TextLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The length caps.
    pub fn limits(&self) -> TextLimits {
        self.limits
    }

    /// Render every template with exactly its event's variables (strict mode): a template that
    /// uses a variable its event does not have fails here, at validation, not at send time.
    ///
    /// # Errors
    /// One [`NotifyError::Template`] per failing template.
    pub fn validate(&self) -> Result<(), Vec<NotifyError>> {
        let mut errors = Vec::new();
        for (event, vars) in EVENTS {
            let sample = sample_context(vars);
            for part in [Part::Subject, Part::Text, Part::Html] {
                if let Err(e) = self.render_part(event, part, &sample) {
                    let hint = format!(
                        "; variables of {event}: {}",
                        COMMON
                            .iter()
                            .chain(vars.iter())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    errors.push(NotifyError::Template {
                        name: name(event, part),
                        message: format!("{e}{hint}"),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn render_part(&self, event: &str, part: Part, ctx: &Value) -> Result<String, NotifyError> {
        let n = name(event, part);
        let registry = if part == Part::Html {
            &self.html
        } else {
            &self.text
        };
        if !registry.has_template(&n) {
            return Err(NotifyError::Template {
                name: n,
                message: "no such template".into(),
            });
        }
        registry.render(&n, ctx).map_err(|e| NotifyError::Template {
            name: n.clone(),
            message: e.to_string(),
        })
    }

    /// Render an event's message. String values longer than 4,000 characters are cut first.
    ///
    /// # Errors
    /// [`NotifyError::Template`] for an unknown event or a variable missing from `ctx`.
    pub fn render(&self, event: &str, ctx: &Value) -> Result<Rendered, NotifyError> {
        let ctx = cap_values(ctx);
        let subject = self.render_part(event, Part::Subject, &ctx)?;
        let text = self.render_part(event, Part::Text, &ctx)?;
        let html = self.render_part(event, Part::Html, &ctx)?;
        Ok(Rendered {
            subject: plain_text(&subject.replace(['\n', '\r'], " "), self.limits.subject),
            text: plain_text(&text, self.limits.text),
            html,
        })
    }
}

/// Every string in `v`, cut to [`MAX_VALUE_CHARS`].
fn cap_values(v: &Value) -> Value {
    match v {
        Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
            Value::String(s.chars().take(MAX_VALUE_CHARS).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(cap_values).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), cap_values(v)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// A context with exactly the common variables and `vars`.
fn sample_context(vars: &[&str]) -> Value {
    let mut m = BTreeMap::new();
    for v in COMMON.iter().chain(vars.iter()) {
        let value = if *v == "kekurangan" {
            Value::Array(vec![Value::String("Fotokopi KTP-el".into())])
        } else {
            Value::String(format!("<{v}>"))
        };
        m.insert((*v).to_owned(), value);
    }
    Value::Object(m.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(value: &str) -> Value {
        let mut m = Map::new();
        for (_, vars) in EVENTS {
            for v in COMMON.iter().chain(vars.iter()) {
                let val = if *v == "kekurangan" {
                    Value::Array(vec![Value::String(value.into())])
                } else {
                    Value::String(value.into())
                };
                m.insert((*v).to_owned(), val);
            }
        }
        Value::Object(m)
    }

    #[test]
    fn defaults_cover_every_event_and_validate() {
        let t = Templates::defaults();
        t.validate().unwrap();
        for (event, _) in EVENTS {
            let r = t.render(event, &ctx("nilai")).unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty() && r.html.contains("<p>"));
        }
    }

    #[test]
    fn hostile_values_are_escaped_in_html_and_capped_in_text() {
        let t = Templates::defaults();
        let hostile = "<script>alert('x')</script> \"q\" {{nomor_kasus}} \u{0}\u{7}\u{1b}[2J";
        for (event, _) in EVENTS {
            let r = t.render(event, &ctx(hostile)).unwrap();
            assert!(!r.html.contains("<script>"), "{event}: {}", r.html);
            assert!(r.html.contains("&lt;script&gt;"));
            assert!(!r.html.contains("'x'") && !r.html.contains("\"q\""));
            assert!(
                r.text.contains("{{nomor_kasus}}"),
                "values are never templates"
            );
            assert!(!r.text.chars().any(|c| c.is_control() && c != '\n'));
            assert!(!r.subject.chars().any(char::is_control));
            let sms = plain_text(&r.text, t.limits().sms);
            assert!(sms.chars().count() <= t.limits().sms);
        }
        let big = "A".repeat(1 << 20);
        let r = t.render("case.rejected", &ctx(&big)).unwrap();
        assert!(r.text.chars().count() <= t.limits().text);
        assert!(r.html.len() < 64 * 1024, "values are cut before rendering");
        assert!(plain_text(&r.text, 480).chars().count() <= 480);
    }

    #[test]
    fn strict_mode_catches_unknown_variables() {
        let mut t = Templates::defaults();
        t.set(
            "case.received",
            Part::Text,
            "Selesai {{perkiraan_selesaii}}",
        )
        .unwrap();
        let errs = t.validate().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].to_string().contains("case.received.text"),
            "{}",
            errs[0]
        );
        // A variable of another event is not available either.
        let mut t = Templates::defaults();
        t.set("case.received", Part::Text, "{{alasan}}").unwrap();
        assert!(t.validate().is_err());
        assert!(t.set("case.received", Part::Text, "{{#if}").is_err());
    }

    #[test]
    fn overrides_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("case.received.text.hbs"),
            "Kabupaten Bintan: {{nomor_kasus}} diterima.",
        )
        .unwrap();
        let t = Templates::load_dir(dir.path()).unwrap();
        let r = t.render("case.received", &ctx("X-1")).unwrap();
        assert_eq!(r.text, "Kabupaten Bintan: X-1 diterima.");
        std::fs::write(dir.path().join("case.recieved.text.hbs"), "typo").unwrap();
        std::fs::write(dir.path().join("case.rejected.html.hbs"), "{{jawaban}}").unwrap();
        let errs = Templates::load_dir(dir.path()).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
