//! What every channel of the desk (the form, `POST /api/v1/cases`, Open311) checks of an
//! application before the engine sees it, with a message per input that says what to fix.

use std::collections::BTreeMap;

use alur_core::model::ServiceDefinition;
use alur_core::region::RegionIndex;
use alur_core::{Config, Nik};

/// Control characters other than line breaks and tabs (NUL among them) are refused.
fn has_control(v: &str) -> bool {
    v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// The problems of an application: `(input, message)`, inputs named as the JSON API names them
/// (`nik`, `unit`, `fields.<id>`), messages in Indonesian. Empty when it may go to the engine.
pub(crate) fn application(
    config: &Config,
    def: &ServiceDefinition,
    nik: &str,
    unit: &str,
    fields: &BTreeMap<String, String>,
) -> (Option<Nik>, Vec<(String, String)>) {
    let mut errors = Vec::new();
    let parsed = match RegionIndex::embedded() {
        Ok(regions) => match Nik::parse_issued(nik.trim(), regions) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(("nik".to_owned(), format!("{}.", capitalise(&e.to_string()))));
                None
            }
        },
        Err(_) => {
            errors.push((
                "nik".to_owned(),
                "Data wilayah untuk memeriksa NIK tidak tersedia; hubungi pengelola layanan."
                    .into(),
            ));
            None
        }
    };
    let unit = unit.trim();
    if unit.is_empty() {
        errors.push(("unit".into(), "Pilih kantor tujuan.".into()));
    } else if !config.offers(unit, def) {
        errors.push((
            "unit".into(),
            "Kantor ini tidak melayani layanan ini secara daring; pilih kantor dari daftar.".into(),
        ));
    }
    for f in &def.fields {
        let key = format!("fields.{}", f.id);
        match fields.get(&f.id).map(|v| v.trim()) {
            None | Some("") if f.required => {
                errors.push((key, format!("“{}” wajib diisi.", f.label)));
            }
            Some(v) if v.chars().count() > f.max_chars() => errors.push((
                key,
                format!(
                    "“{}” paling panjang {} karakter; yang diisi {}.",
                    f.label,
                    f.max_chars(),
                    v.chars().count()
                ),
            )),
            Some(v) if has_control(v) => errors.push((
                key,
                format!(
                    "“{}” berisi karakter kendali yang tidak dapat disimpan; ketik ulang isiannya.",
                    f.label
                ),
            )),
            _ => {}
        }
    }
    for k in fields.keys() {
        if !def.fields.iter().any(|f| &f.id == k) {
            errors.push((
                format!("fields.{k}"),
                "Isian ini tidak dikenal oleh layanan ini.".into(),
            ));
        }
    }
    (parsed, errors)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
