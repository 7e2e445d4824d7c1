//! The citizen's submission form: `/layanan/{id}/ajukan` (document uploads are not part of this
//! form yet: the applicant brings the documents of the checklist to the office).

use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use alur_core::publish::escape as e;
use alur_core::{Nik, Payload, Store, Submission};

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
    let config = state.engine.config();
    let csrf = csrf_for(&state, &headers);
    let mut b = String::from("<h2>Persyaratan yang perlu dibawa</h2><ol>");
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
    let _ = write!(
        b,
        "</ol><p class=\"muted\">Unggah dokumen belum tersedia: bawa dokumen persyaratan asli saat diminta petugas.</p>\
<form class=\"card\" method=\"post\" action=\"/layanan/{}/ajukan\">{}\
<p><label for=\"unit\">Kantor tujuan</label><br><select id=\"unit\" name=\"unit\" required>",
        forms::url_encode(&d.id),
        csrf.input()
    );
    for u in config.units.keys().filter(|u| config.offers(u, d)) {
        let _ = write!(b, "<option value=\"{}\">{}</option>", e(u), e(u));
    }
    b.push_str(
        "</select></p><p><label for=\"nik\">NIK pemohon (16 angka)</label><br>\
<input id=\"nik\" name=\"nik\" required inputmode=\"numeric\" pattern=\"[0-9]{16}\" maxlength=\"16\" autocomplete=\"off\"></p>",
    );
    if !d.conditions.is_empty() {
        b.push_str("<fieldset><legend>Keterangan pemohon</legend>");
        for c in &d.conditions {
            let _ = write!(
                b,
                "<label><input type=\"checkbox\" name=\"kondisi\" value=\"{}\"> {}</label><br>",
                e(&c.id),
                e(&c.question)
            );
        }
        b.push_str("</fieldset>");
    }
    for f in &d.fields {
        let _ = write!(
            b,
            "<p><label>{}<br><input name=\"field[{}]\" size=\"40\"></label></p>",
            e(&f.label),
            e(&f.id)
        );
    }
    b.push_str("<p><button type=\"submit\">Ajukan permohonan</button></p></form>");
    let mut r = layout(StatusCode::OK, &format!("Ajukan: {}", d.name), &b);
    csrf.apply(&mut r);
    r
}

/// `POST /layanan/{id}/ajukan`: submit, then to the tracking page (303).
pub(crate) async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(f) = forms::parse(&body) else {
        return error_page(&Problem::bad_request("the form could not be read"));
    };
    if !csrf_ok(&state, &headers, f.get("csrf").unwrap_or_default()) {
        return error_page(&Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Formulir tidak sah",
            "the form's security token is missing or expired; reload the page and try again",
        ));
    }
    match state.engine.service(&id) {
        Some(d) if !d.in_person_only => {}
        _ => return error_page(&Problem::not_found(format!("no service `{id}` online"))),
    }
    let Some(nik) = Nik::parse(f.get("nik").unwrap_or_default().trim()) else {
        return error_page(&Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "NIK tidak valid",
            "the NIK must be 16 digits",
        ));
    };
    let submission = Submission {
        service: id,
        unit: f.get("unit").unwrap_or_default().trim().to_owned(),
        applicant: state.engine.pseudonymizer().person(&nik),
        conditions: f.all("kondisi").map(str::to_owned).collect(),
        payload: Payload {
            fields: f
                .indexed("field")
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
                .collect(),
            ..Payload::default()
        },
    };
    match api::submit_case(&state, submission, None).await {
        Ok(case) => {
            let code = tracking::code(state.engine.pseudonymizer(), &case.id);
            Redirect::to(&format!("/lacak/{code}")).into_response()
        }
        Err(p) => error_page(&p),
    }
}
