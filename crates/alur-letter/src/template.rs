//! Handlebars templates: the built-in layout and bodies, overrides from a configuration
//! directory, rendering and validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use alur_core::ServiceDefinition;
use handlebars::{Handlebars, RenderErrorReason};
use serde::Serialize;

use crate::view::{CONTACT_FIELDS, LetterView, Paper, indonesian_date};
use crate::{LetterError, qr};

/// The built-in page layout (letterhead, title and number, body, signature block with the QR
/// code, footer).
pub const BUILTIN_LAYOUT: &str = include_str!("../templates/layout.hbs");

/// The body for services without a template of their own: every field but the contact ones.
pub const BUILTIN_GENERIC_BODY: &str = include_str!("../templates/body/generic.hbs");

/// The partial `{{> berlaku}}`: the validity sentence, when the letter has an end date.
pub const BUILTIN_VALIDITY_PARTIAL: &str = include_str!("../templates/berlaku.hbs");

/// Built-in bodies by service id: the eleven example services of Kepulauan Riau.
pub const BUILTIN_BODIES: [(&str, &str); 11] = [
    (
        "batam-domisili",
        include_str!("../templates/body/batam-domisili.hbs"),
    ),
    (
        "batam-keterangan-usaha",
        include_str!("../templates/body/batam-keterangan-usaha.hbs"),
    ),
    (
        "batam-pengaduan",
        include_str!("../templates/body/batam-pengaduan.hbs"),
    ),
    (
        "batam-pengantar-skck",
        include_str!("../templates/body/batam-pengantar-skck.hbs"),
    ),
    (
        "batam-penghasilan-ortu",
        include_str!("../templates/body/batam-penghasilan-ortu.hbs"),
    ),
    (
        "batam-sktm-kesehatan",
        include_str!("../templates/body/batam-sktm-kesehatan.hbs"),
    ),
    (
        "batam-sktm",
        include_str!("../templates/body/batam-sktm.hbs"),
    ),
    (
        "bintan-sktm-desa",
        include_str!("../templates/body/bintan-sktm-desa.hbs"),
    ),
    (
        "karimun-keterangan-kematian",
        include_str!("../templates/body/karimun-keterangan-kematian.hbs"),
    ),
    (
        "natuna-keterangan-pindah",
        include_str!("../templates/body/natuna-keterangan-pindah.hbs"),
    ),
    (
        "tanjungpinang-pengantar-nikah",
        include_str!("../templates/body/tanjungpinang-pengantar-nikah.hbs"),
    ),
];

const LAYOUT: &str = "layout";
const GENERIC: &str = "body/generic";
const VALIDITY: &str = "berlaku";

fn body_name(service_id: &str) -> String {
    format!("body/{service_id}")
}

/// The letter templates: a layout, a body per service and a generic body, in a strict-mode
/// Handlebars registry (a variable that does not exist is an error, not an empty string) with
/// HTML escaping of every `{{value}}`.
#[derive(Debug, Clone)]
pub struct Templates {
    registry: Handlebars<'static>,
    /// Where each registered template came from, by registry name.
    origins: BTreeMap<String, Origin>,
}

#[derive(Debug, Clone)]
enum Origin {
    Builtin,
    File(PathBuf),
}

impl Origin {
    fn describe(&self, name: &str) -> String {
        match self {
            Self::Builtin => format!("built-in letter template {name}"),
            Self::File(p) => p.display().to_string(),
        }
    }
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Result<Self, LetterError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        let mut t = Self {
            registry,
            origins: BTreeMap::new(),
        };
        t.register(LAYOUT, BUILTIN_LAYOUT, Origin::Builtin)?;
        t.register(VALIDITY, BUILTIN_VALIDITY_PARTIAL, Origin::Builtin)?;
        t.register(GENERIC, BUILTIN_GENERIC_BODY, Origin::Builtin)?;
        for (id, text) in BUILTIN_BODIES {
            t.register(&body_name(id), text, Origin::Builtin)?;
        }
        Ok(t)
    }

    /// The built-in templates with a configuration's overrides: `<config_dir>/letters/layout.hbs`
    /// replaces the layout, `<config_dir>/letters/generic.hbs` the generic body, and
    /// `<config_dir>/letters/<service-id>.hbs` the body of that service (or gives one to a
    /// service without a built-in body). Without a `letters` directory this is
    /// [`Templates::builtin`]. Files not ending in `.hbs` are ignored.
    ///
    /// A template that does not parse is an error naming the file, line and column.
    pub fn load(config_dir: &Path) -> Result<Self, LetterError> {
        let mut t = Self::builtin()?;
        let dir = config_dir.join("letters");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(t),
            Err(source) => return Err(LetterError::Io { path: dir, source }),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LetterError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("hbs") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| LetterError::Io {
                path: path.clone(),
                source,
            })?;
            let name = if stem == LAYOUT {
                LAYOUT.to_owned()
            } else {
                body_name(&stem)
            };
            t.register(&name, &text, Origin::File(path))?;
        }
        Ok(t)
    }

    /// Register (or replace) one template under `name`.
    fn register(&mut self, name: &str, text: &str, origin: Origin) -> Result<(), LetterError> {
        self.registry
            .register_template_string(name, text)
            .map_err(|e| {
                let (line, column) = e.pos().unzip();
                LetterError::TemplateSyntax {
                    origin: origin.describe(name),
                    line,
                    column,
                    message: e.reason().to_string(),
                }
            })?;
        self.origins.insert(name.to_owned(), origin);
        Ok(())
    }

    /// Whether `service_id` has a body of its own (built-in or overridden); others get the
    /// generic body.
    pub fn has_body(&self, service_id: &str) -> bool {
        self.registry.has_template(&body_name(service_id))
    }

    /// Service ids with a body of their own.
    pub fn service_ids(&self) -> Vec<String> {
        self.origins
            .keys()
            .filter_map(|n| n.strip_prefix("body/"))
            .filter(|id| *id != "generic")
            .map(str::to_owned)
            .collect()
    }

    /// The letter as a complete HTML page for `paper`: the service's body (or the generic one)
    /// inside the layout, the QR code of `view.verify_url` inline.
    pub fn render_html(&self, view: &LetterView, paper: Paper) -> Result<String, LetterError> {
        let mut ctx = Context::new(view, paper)?;
        let body = if self.has_body(&view.service_id) {
            body_name(&view.service_id)
        } else {
            GENERIC.to_owned()
        };
        ctx.body = self.render_one(&body, &ctx)?;
        self.render_one(LAYOUT, &ctx)
    }

    fn render_one(&self, name: &str, ctx: &Context<'_>) -> Result<String, LetterError> {
        self.registry.render(name, ctx).map_err(|e| {
            // An error inside a partial names the partial.
            let at = e.template_name.clone().unwrap_or_else(|| name.to_owned());
            let origin = self
                .origins
                .get(&at)
                .map_or_else(|| at.clone(), |o| o.describe(&at));
            let message = match e.reason() {
                RenderErrorReason::MissingVariable(Some(path)) => {
                    format!("{{{{{path}}}}} does not exist")
                }
                RenderErrorReason::MissingVariable(None) => "a value does not exist".to_owned(),
                other => other.to_string(),
            };
            LetterError::Render {
                origin,
                line: e.line_no,
                column: e.column_no,
                message,
            }
        })
    }

    /// Render every template with a sample view in strict mode, so a wrong variable or a field a
    /// service does not declare is found before a citizen's letter fails: for each service its
    /// body (or the generic one) inside the layout, on both paper sizes; and every overriding file
    /// must name one of `services`. Returns every problem found.
    pub fn validate<'a>(
        &self,
        services: impl IntoIterator<Item = &'a ServiceDefinition>,
    ) -> Result<(), Vec<LetterError>> {
        let services: Vec<&ServiceDefinition> = services.into_iter().collect();
        let mut problems = Vec::new();
        let known: BTreeSet<&str> = services.iter().map(|s| s.id.as_str()).collect();
        for (name, origin) in &self.origins {
            if let (Some(id), Origin::File(path)) = (name.strip_prefix("body/"), origin)
                && id != "generic"
                && !known.contains(id)
            {
                problems.push(LetterError::UnknownService {
                    path: path.clone(),
                    service_id: id.to_owned(),
                });
            }
        }
        for service in &services {
            let view = LetterView::sample_for(service);
            for paper in [Paper::A4, Paper::F4] {
                if let Err(e) = self.render_html(&view, paper) {
                    problems.push(e);
                    break;
                }
            }
        }
        // The generic body, for services added later.
        let view = LetterView::sample(
            "layanan-lain",
            "Surat Keterangan",
            &["nama", "alamat", "keperluan"],
        );
        if let Err(e) = self.render_html(&view, Paper::A4) {
            problems.push(e);
        }
        // A layout error shows once, not once per service.
        let mut seen = BTreeSet::new();
        problems.retain(|p| seen.insert(p.to_string()));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// What templates see: the view's fields at the top level, and these computed values.
#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    view: &'a LetterView,
    /// "3 Maret 2026".
    date_text: String,
    /// "2 September 2026", or null.
    valid_until_text: Option<String>,
    /// Lines above the signature (see `SignerSnapshot::signature_lines`).
    signature_lines: Vec<String>,
    /// How the text names the signer.
    signer_title: String,
    /// The QR code (inline SVG; rendered with `{{{qr_svg}}}`).
    qr_svg: String,
    /// Paper name and CSS size.
    paper: PaperContext,
    /// Label and value of every non-contact field, for the generic body.
    field_rows: Vec<FieldRow>,
    /// The rendered body (HTML; `{{{body}}}` in the layout; empty while the body renders).
    body: String,
}

#[derive(Serialize)]
struct PaperContext {
    name: &'static str,
    size: String,
}

#[derive(Serialize)]
struct FieldRow {
    label: String,
    value: String,
}

impl<'a> Context<'a> {
    fn new(view: &'a LetterView, paper: Paper) -> Result<Self, LetterError> {
        let field_rows = view
            .fields
            .iter()
            .filter(|(id, _)| !CONTACT_FIELDS.contains(&id.as_str()))
            .map(|(id, value)| FieldRow {
                label: view
                    .field_labels
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| humanise(id)),
                value: value.clone(),
            })
            .collect();
        Ok(Self {
            view,
            date_text: indonesian_date(view.date),
            valid_until_text: view.valid_until.map(indonesian_date),
            signature_lines: view.signer.signature_lines(),
            signer_title: view.signer.title(),
            qr_svg: qr::qr_svg(&view.verify_url)?,
            paper: PaperContext {
                name: paper.name(),
                size: paper.css_size(),
            },
            field_rows,
            body: String::new(),
        })
    }
}

/// "nama-usaha" → "Nama usaha".
fn humanise(id: &str) -> String {
    let s = id.replace(['-', '_'], " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}
