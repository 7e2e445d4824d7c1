//! The citizen's submission form: `/layanan/{id}/ajukan`, `multipart/form-data` with one file
//! input per requirement (`dokumen[<requirement id>]`).
//!
//! Every part is read and checked (size, type by content, known requirement, count) before
//! anything is stored: a refused submission leaves no case and no document behind.

use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use alur_core::publish::escape as e;
use alur_core::{Payload, Store, Submission};

use crate::blobs::{self, Attachment};
use crate::forms::{self, csrf_for, csrf_ok};
use crate::pages::{error_page, layout};
use crate::problem::Problem;
use crate::{AppState, api, tracking};

/// `GET /layanan/{id}/ajukan`.
pub(crate) async fn form<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(d) = state.engine.service(&id) else {
        return error_page(&Problem::not_found(format!("no service `{id}`")));
    };
    if d.in_person_only {
        return error_page(&Problem::new(
            StatusCode::NOT_FOUND,
            "in-person-only",
            "Layanan ini hanya dapat diajukan langsung di loket",
            "this service is not offered online",
        ));
    }
    render_form(&state, &headers, d, &Typed::default(), &[], StatusCode::OK)
}

/// What the applicant typed, to show the form again after a refusal.
#[derive(Debug, Default)]
pub(crate) struct Typed {
    unit: String,
    nik: String,
    conditions: Vec<String>,
    fields: std::collections::BTreeMap<String, String>,
    had_files: bool,
}

/// A typed value as the form shows it again: control characters (NUL among them) dropped, so
/// nothing the desk refused is echoed.
fn shown(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).collect()
}

/// The message for `input` among `errors`, as a paragraph tied to the input, and the
/// attributes that mark the input invalid.
fn message_for(errors: &[(String, String)], input: &str, id: &str) -> (String, String) {
    let msgs: Vec<&str> = errors
        .iter()
        .filter(|(k, _)| k == input)
        .map(|(_, m)| m.as_str())
        .collect();
    if msgs.is_empty() {
        return (String::new(), String::new());
    }
    (
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-galat\""),
        format!(
            "<br><span id=\"{id}-galat\" class=\"galat\">{}</span>",
            e(&msgs.join(" "))
        ),
    )
}

/// The application form, with `typed` filled in and each input's problem beside it.
pub(crate) fn render_form<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    d: &alur_core::model::ServiceDefinition,
    typed: &Typed,
    errors: &[(String, String)],
    status: StatusCode,
) -> Response {
    let config = state.engine.config();
    let csrf = csrf_for(state, headers);
    let mut b = String::new();
    if !errors.is_empty() {
        let _ = write!(
            b,
            "<div class=\"card bad\" role=\"alert\"><p><strong>Permohonan belum dapat diajukan.</strong> \
Perbaiki isian yang ditandai di bawah, lalu ajukan lagi.{}</p><ul>",
            if typed.had_files {
                " Dokumen yang tadi dipilih belum disimpan: pilih dan unggah kembali."
            } else {
                ""
            }
        );
        for (_, m) in errors {
            let _ = write!(b, "<li>{}</li>", e(m));
        }
        b.push_str("</ul></div>");
    }
    b.push_str("<h2>Persyaratan yang perlu dibawa</h2><ol>");
    for r in &d.requirements {
        match r
            .only_if
            .as_ref()
            .and_then(|c| d.conditions.iter().find(|x| &x.id == c))
        {
            Some(c) => {
                let _ = write!(
                    b,
                    "<li>{} <span class=\"muted\">(hanya jika: {})</span></li>",
                    e(&r.name),
                    e(&c.question)
                );
            }
            None => {
                let _ = write!(b, "<li>{}</li>", e(&r.name));
            }
        }
    }
    let (unit_attr, unit_msg) = message_for(errors, "unit", "unit");
    let _ = write!(
        b,
        "</ol><p class=\"muted\">Isian bertanda * wajib diisi. Dokumen dapat diunggah di bawah ini (tidak wajib); \
bawa dokumen asli saat diminta petugas.</p>\
<form class=\"card\" method=\"post\" action=\"/layanan/{}/ajukan\" enctype=\"multipart/form-data\" novalidate>{}\
<p><label for=\"unit\">Kantor tujuan *</label><br><select id=\"unit\" name=\"unit\" required{unit_attr}>",
        forms::url_encode(&d.id),
        csrf.input()
    );
    b.push_str(&office_options(config, d, typed.unit.trim()));
    let (nik_attr, nik_msg) = message_for(errors, "nik", "nik");
    let _ = write!(
        b,
        "</select>{unit_msg}</p><p><label for=\"nik\">NIK pemohon (16 angka, sesuai KTP-el) *</label><br>\
<input id=\"nik\" name=\"nik\" required inputmode=\"numeric\" maxlength=\"16\" autocomplete=\"off\" value=\"{}\"{nik_attr}>{nik_msg}</p>",
        e(&shown(&typed.nik))
    );
    if !d.conditions.is_empty() {
        b.push_str("<fieldset><legend>Keterangan pemohon</legend>");
        for c in &d.conditions {
            let _ = write!(
                b,
                "<label><input type=\"checkbox\" name=\"kondisi\" value=\"{}\"{}> {}</label><br>",
                e(&c.id),
                if typed.conditions.contains(&c.id) {
                    " checked"
                } else {
                    ""
                },
                e(&c.question)
            );
        }
        b.push_str("</fieldset>");
    }
    for f in &d.fields {
        let input_id = format!("field-{}", f.id);
        let (attr, msg) = message_for(errors, &format!("fields.{}", f.id), &input_id);
        let _ = write!(
            b,
            "<p><label for=\"{}\">{}{}</label><br><input id=\"{}\" name=\"field[{}]\" maxlength=\"{}\" value=\"{}\"{}{attr}>{msg}</p>",
            e(&input_id),
            e(&f.label),
            if f.required { " *" } else { "" },
            e(&input_id),
            e(&f.id),
            f.max_chars(),
            e(&shown(typed.fields.get(&f.id).map_or("", String::as_str))),
            if f.required { " required" } else { "" },
        );
    }
    b.push_str(&upload_inputs(state, d.requirements.iter()));
    b.push_str("<p><button type=\"submit\">Ajukan permohonan</button></p></form>");
    let mut r = layout(status, &format!("Ajukan: {}", d.name), &b);
    csrf.apply(&mut r);
    r
}

/// The offices offering a service as `<option>`s by name, grouped under the unit above them
/// (the kecamatan of a kelurahan or desa, the kabupaten/kota of a kecamatan), `selected` chosen.
pub(crate) fn office_options(
    config: &alur_core::Config,
    d: &alur_core::model::ServiceDefinition,
    selected: &str,
) -> String {
    let index = alur_core::region::RegionIndex::embedded().ok();
    let mut b = String::from("<option value=\"\">— pilih kantor —</option>");
    let mut group: Option<&str> = None;
    for r in config.offices(d) {
        let parent = r.parent.as_deref().unwrap_or_default();
        if group != Some(parent) {
            if group.is_some() {
                b.push_str("</optgroup>");
            }
            let label = index.and_then(|i| i.get(parent)).map_or_else(
                || parent.to_owned(),
                alur_core::region::Region::display_name,
            );
            let _ = write!(b, "<optgroup label=\"{}\">", e(&label));
            group = Some(parent);
        }
        let _ = write!(
            b,
            "<option value=\"{}\"{}>{}</option>",
            e(&r.code),
            if r.code == selected { " selected" } else { "" },
            e(&r.display_name())
        );
    }
    if group.is_some() {
        b.push_str("</optgroup>");
    }
    b
}

/// The file inputs of a form, one per requirement, with the limits stated.
pub(crate) fn upload_inputs<'a, S: Store>(
    state: &AppState<S>,
    requirements: impl Iterator<Item = &'a alur_core::model::Requirement>,
) -> String {
    let settings = &state.settings;
    let accept = settings.upload_types.join(",");
    let mut inputs = String::new();
    for r in requirements {
        let _ = write!(
            inputs,
            "<p><label>{}<br><input type=\"file\" name=\"dokumen[{}]\" accept=\"{}\"></label></p>",
            e(&r.name),
            e(&r.id),
            e(&accept),
        );
    }
    if inputs.is_empty() {
        return inputs;
    }
    format!(
        "<fieldset><legend>Unggah dokumen persyaratan</legend>\
<p class=\"muted\">Jenis berkas: {}; paling besar {} per berkas; paling banyak {} berkas.</p>{inputs}</fieldset>",
        e(&type_names(&settings.upload_types)),
        e(&size_text(settings.max_upload_bytes)),
        settings.max_upload_files,
    )
}

/// An uploaded document, read and checked, not yet stored.
pub(crate) struct Upload {
    requirement: String,
    bytes: Vec<u8>,
    media_type: &'static str,
}

/// A submitted form: its fields and, from a multipart form, its document parts.
pub(crate) struct Posted {
    pub fields: forms::Fields,
    pub files: Vec<(String, Result<Vec<u8>, ()>)>,
}

/// `1.5 MiB`, `300 KiB`, `512 bita`.
pub(crate) fn size_text(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && (n * 10).is_multiple_of(MIB) {
        let tenths = n * 10 / MIB;
        if tenths.is_multiple_of(10) {
            format!("{} MiB", tenths / 10)
        } else {
            format!("{},{} MiB", tenths / 10, tenths % 10)
        }
    } else if n >= 1024 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bita")
    }
}

fn type_names(types: &[String]) -> String {
    types
        .iter()
        .map(|t| match t.as_str() {
            "application/pdf" => "PDF",
            "image/jpeg" => "JPEG",
            "image/png" => "PNG",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn refused(status: StatusCode, kind: &'static str, title: String) -> Problem {
    Problem::new(
        status,
        kind,
        title,
        "Permohonan tidak diajukan dan tidak ada berkas yang disimpan; perbaiki lalu ajukan lagi.",
    )
}

/// Read a form body: `multipart/form-data` (with documents) or urlencoded. A document part is
/// read only up to `max_file` bytes; a larger one is marked `Err`.
pub(crate) async fn read_form(req: Request, max_file: usize) -> Result<Posted, Problem> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("multipart/form-data"));
    let unreadable = || Problem::bad_request("the form could not be read");
    if !multipart {
        let body = Bytes::from_request(req, &())
            .await
            .map_err(|_| unreadable())?;
        let fields = forms::parse(&body).ok_or_else(unreadable)?;
        return Ok(Posted {
            fields,
            files: Vec::new(),
        });
    }
    let mut m = Multipart::from_request(req, &())
        .await
        .map_err(|_| unreadable())?;
    let mut fields = Vec::new();
    let mut files = Vec::new();
    let too_large = || {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload-too-large",
            "Ukuran kiriman melebihi batas".into(),
        )
    };
    loop {
        let next = m.next_field().await.map_err(|err| {
            if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                unreadable()
            }
        })?;
        let Some(mut field) = next else { break };
        let name = field.name().unwrap_or_default().to_owned();
        let requirement = name
            .strip_prefix("dokumen[")
            .and_then(|r| r.strip_suffix(']'))
            .map(str::to_owned);
        let mut bytes = Vec::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(c)) => {
                    if !over && (requirement.is_none() || bytes.len() + c.len() <= max_file) {
                        bytes.extend_from_slice(&c);
                    } else {
                        // Keep reading to the part's end, keeping nothing more.
                        over = true;
                        bytes.clear();
                    }
                }
                Ok(None) => break,
                Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err(unreadable()),
            }
        }
        match requirement {
            Some(r) if over => files.push((r, Err(()))),
            // An empty file input sends an empty part: no document.
            Some(_) if bytes.is_empty() => {}
            Some(r) => files.push((r, Ok(bytes))),
            None => fields.push((name, String::from_utf8(bytes).map_err(|_| unreadable())?)),
        }
    }
    Ok(Posted {
        fields: forms::Fields(fields),
        files,
    })
}

/// Check every document against the service's requirements and the limits; nothing is stored.
pub(crate) fn check_uploads<S: Store>(
    state: &AppState<S>,
    def: &alur_core::model::ServiceDefinition,
    files: Vec<(String, Result<Vec<u8>, ()>)>,
) -> Result<Vec<Upload>, Problem> {
    let settings = &state.settings;
    if files.len() > settings.max_upload_files {
        return Err(refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload-too-many",
            format!(
                "Terlalu banyak berkas: paling banyak {} berkas per permohonan",
                settings.max_upload_files
            ),
        ));
    }
    let mut out: Vec<Upload> = Vec::with_capacity(files.len());
    for (id, content) in files {
        let Some(r) = def.requirements.iter().find(|r| r.id == id) else {
            return Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload-unknown-requirement",
                format!("Berkas untuk persyaratan yang tidak dikenal: {id}"),
            ));
        };
        if out.iter().any(|u| u.requirement == id) {
            return Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload-duplicate",
                format!("Lebih dari satu berkas untuk persyaratan “{}”", r.name),
            ));
        }
        let Ok(bytes) = content else {
            return Err(refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload-too-large",
                format!(
                    "Berkas untuk persyaratan “{}” terlalu besar: paling besar {}",
                    r.name,
                    size_text(settings.max_upload_bytes)
                ),
            ));
        };
        let Some(media_type) =
            blobs::sniff(&bytes).filter(|t| settings.upload_types.iter().any(|a| a == t))
        else {
            return Err(refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "upload-type",
                format!(
                    "Jenis berkas untuk persyaratan “{}” tidak diizinkan: hanya {}",
                    r.name,
                    type_names(&settings.upload_types)
                ),
            ));
        };
        out.push(Upload {
            requirement: id,
            bytes,
            media_type,
        });
    }
    Ok(out)
}

/// Store checked documents.
pub(crate) async fn store_uploads<S: Store>(
    state: &AppState<S>,
    uploads: Vec<Upload>,
) -> Result<Vec<Attachment>, Problem> {
    let mut out = Vec::with_capacity(uploads.len());
    for u in uploads {
        let blob = state
            .blobs
            .put(u.bytes, u.media_type)
            .await
            .map_err(|err| Problem::internal(format!("a document could not be stored: {err}")))?;
        out.push(Attachment {
            requirement: u.requirement,
            blob,
        });
    }
    Ok(out)
}

/// `POST /layanan/{id}/ajukan`: check the form and every document, store the documents, submit,
/// then to the receipt (303).
pub(crate) async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let posted = match read_form(req, state.settings.max_upload_bytes).await {
        Ok(p) => p,
        Err(p) => return error_page(&p),
    };
    let f = posted.fields;
    if !csrf_ok(&state, &headers, f.get("csrf").unwrap_or_default()) {
        return crate::pages::csrf_refused();
    }
    let def = match state.engine.service(&id) {
        Some(d) if !d.in_person_only => d,
        _ => return error_page(&Problem::not_found(format!("no service `{id}` online"))),
    };
    let typed = Typed {
        unit: f.get("unit").unwrap_or_default().to_owned(),
        nik: f.get("nik").unwrap_or_default().to_owned(),
        conditions: f.all("kondisi").map(str::to_owned).collect(),
        fields: f
            .indexed("field")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        had_files: !posted.files.is_empty(),
    };
    let (nik, errors) = crate::validate::application(
        state.engine.config(),
        def,
        &typed.nik,
        &typed.unit,
        &typed.fields,
    );
    // The form again, what was typed kept, each problem beside its input; nothing stored.
    let Some(nik) = nik.filter(|_| errors.is_empty()) else {
        return render_form(
            &state,
            &headers,
            def,
            &typed,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let uploads = match check_uploads(&state, def, posted.files) {
        Ok(u) => u,
        Err(p) => return error_page(&p),
    };
    let submission = Submission {
        service: id,
        unit: typed.unit.trim().to_owned(),
        applicant: state.engine.pseudonymizer().person(&nik),
        conditions: typed.conditions.iter().cloned().collect(),
        payload: Payload {
            fields: typed
                .fields
                .iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k.clone(), v.trim().to_owned()))
                .collect(),
            ..Payload::default()
        },
    };
    // The documents first: a case never names a document that is not stored.
    let attachments = match store_uploads(&state, uploads).await {
        Ok(a) => a,
        Err(p) => return error_page(&p),
    };
    match api::submit_case(&state, submission, None).await {
        Ok(case) => {
            if !attachments.is_empty()
                && let Err(err) = state.blobs.attach(&case.id, attachments).await
            {
                return error_page(&Problem::internal(format!(
                    "the case {} was submitted but its documents could not be recorded: {err}",
                    case.id
                )));
            }
            let p = state.engine.pseudonymizer();
            let code =
                tracking::short_code(p, &case.id).unwrap_or_else(|| tracking::code(p, &case.id));
            Redirect::to(&format!("/lacak/{code}/tanda-terima")).into_response()
        }
        Err(p) => error_page(&p),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(super::size_text(2 * 1024 * 1024), "2 MiB");
        assert_eq!(super::size_text(1536 * 1024), "1,5 MiB");
        assert_eq!(super::size_text(64 * 1024), "64 KiB");
        assert_eq!(super::size_text(1000 * 1024), "1000 KiB");
        assert_eq!(super::size_text(512), "512 bita");
    }
}
