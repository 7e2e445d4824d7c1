//! Officers' pages, server-rendered in Indonesian: sign-in (`/masuk`, `/keluar`), the inbox
//! (`/petugas`) and a case with its actions (`/petugas/perkara/{id}`). Access is decided as in
//! the JSON API: another unit's case is 404. Every form carries a CSRF token.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use alur_core::publish::escape as e;
use alur_core::{Actor, Case, Command, Payload, Store};

use crate::accounts::SESSION_COOKIE;
use crate::forms::{self, ClientIp, Csrf, csrf_for, csrf_ok};
use crate::letters::{self, Issue};
use crate::pages::{csrf_refused, error_page, layout, local};
use crate::problem::Problem;
use crate::{AppState, api};

/// Not signed in: to the sign-in form when there is one, else a 401 page.
pub(crate) fn sign_in_first<S: Store>(state: &AppState<S>) -> Response {
    if state.accounts.is_some() {
        Redirect::to("/masuk").into_response()
    } else {
        error_page(&Problem::unauthenticated())
    }
}

fn with_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn login_form(csrf: &Csrf, message: Option<&str>) -> String {
    let mut b = String::new();
    if let Some(m) = message {
        let _ = write!(b, "<p class=\"card bad\" role=\"alert\">{}</p>", e(m));
    }
    let _ = write!(
        b,
        "<form class=\"card\" method=\"post\" action=\"/masuk\">{}\
<p><label for=\"petugas\">ID petugas</label><br><input id=\"petugas\" name=\"petugas\" required autocomplete=\"username\"></p>\
<p><label for=\"sandi\">Kata sandi</label><br><input id=\"sandi\" name=\"sandi\" type=\"password\" required autocomplete=\"current-password\"></p>\
<p><button type=\"submit\">Masuk</button></p></form>",
        csrf.input()
    );
    b
}

/// `GET /masuk`.
pub(crate) async fn login_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Response {
    if state.accounts.is_none() {
        return error_page(&Problem::not_found("password sign-in is not configured"));
    }
    let csrf = csrf_for(&state, &headers);
    let mut r = layout(StatusCode::OK, "Masuk petugas", &login_form(&csrf, None));
    csrf.apply(&mut r);
    r
}

/// `POST /masuk`.
pub(crate) async fn login<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(accounts) = state.accounts.clone() else {
        return error_page(&Problem::not_found("password sign-in is not configured"));
    };
    let Some(f) = forms::parse(&body) else {
        return error_page(&Problem::bad_request("the form could not be read"));
    };
    if !csrf_ok(&state, &headers, f.get("csrf").unwrap_or_default()) {
        return csrf_refused();
    }
    if !accounts.may_try(ip) {
        let mut p = Problem::too_many_requests(60);
        p.title = "Terlalu banyak percobaan masuk yang gagal; coba lagi nanti".into();
        let mut r = error_page(&p);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(60u32));
        return r;
    }
    let officer = f.get("petugas").unwrap_or_default();
    let password = f.get("sandi").unwrap_or_default();
    match accounts.sign_in(officer, password, ip).await {
        Some(session) => with_cookie(
            Redirect::to("/petugas").into_response(),
            &forms::set_cookie(&state, SESSION_COOKIE, &session.id),
        ),
        None => {
            let csrf = csrf_for(&state, &headers);
            let mut r = layout(
                StatusCode::UNAUTHORIZED,
                "Masuk petugas",
                &login_form(&csrf, Some("ID petugas atau kata sandi salah.")),
            );
            csrf.apply(&mut r);
            r
        }
    }
}

/// `POST /keluar`.
pub(crate) async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = forms::parse(&body).unwrap_or(forms::Fields(Vec::new()));
    if !csrf_ok(&state, &headers, f.get("csrf").unwrap_or_default()) {
        return csrf_refused();
    }
    if let Some(a) = &state.accounts {
        a.sign_out(&headers);
    }
    with_cookie(
        Redirect::to("/masuk").into_response(),
        &forms::clear_cookie(&state, SESSION_COOKIE),
    )
}

/// How a case stands against its deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sla {
    OnTime,
    StepLate,
    Breached,
}

impl Sla {
    pub(crate) fn of(c: &Case, now: jiff::Timestamp) -> Self {
        if c.breached || c.due_at.is_some_and(|d| d < now) {
            Self::Breached
        } else if c.step_due_at.is_some_and(|d| d < now) {
            Self::StepLate
        } else {
            Self::OnTime
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::OnTime => "sla-ok",
            Self::StepLate => "sla-late",
            Self::Breached => "sla-breached",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::OnTime => "● Tepat waktu",
            Self::StepLate => "▲ Tahap terlambat",
            Self::Breached => "■ Melewati batas waktu layanan",
        }
    }
}

const SLA_CSS: &str = "<style>.sla-ok{background:#e6f4ea}.sla-late{background:#fef7e0}.sla-breached{background:#fce8e6}</style>";

fn logout_form(csrf: &Csrf) -> String {
    format!(
        "<form method=\"post\" action=\"/keluar\">{}<button type=\"submit\">Keluar</button></form>",
        csrf.input()
    )
}

/// `GET /petugas`: the inbox, earliest deadline first.
pub(crate) async fn inbox<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Response {
    let Some(officer) = state.auth.officer(&headers).await else {
        return sign_in_first(&state);
    };
    let mut cases = match state.engine.inbox(&officer, 500).await {
        Ok(c) => c,
        Err(err) => return error_page(&Problem::from(err)),
    };
    cases.sort_by_key(|c| (c.due_at.is_none(), c.due_at, c.submitted_at));
    let now = state.engine.clock().now();
    let calendars = state.engine.calendars();
    let csrf = csrf_for(&state, &headers);
    let mut b = format!(
        "{SLA_CSS}<p>Petugas: <strong>{}</strong>{}</p>{}\
<p class=\"muted\">Keterangan: ● Tepat waktu (hijau) · ▲ Tahap terlambat: batas waktu tahap terlewati (kuning) · \
■ Melewati batas waktu layanan (merah).</p>",
        e(&officer),
        if state.kpi.is_some() {
            " · <a href=\"/kinerja\">Kinerja pelayanan</a>"
        } else {
            ""
        },
        logout_form(&csrf)
    );
    if cases.is_empty() {
        b.push_str("<p>Tidak ada berkas yang menunggu.</p>");
    } else {
        b.push_str("<table><tr><th>Batas waktu</th><th>Layanan</th><th>Tahap</th><th>Status waktu</th></tr>");
        for c in &cases {
            let def = state.engine.service(&c.service);
            let name = def.as_ref().map_or(c.service.as_str(), |d| d.name.as_str());
            let step = def
                .as_ref()
                .and_then(|d| api::step_of(d, c))
                .map_or("-", |s| s.name.as_str());
            let due = c
                .due_at
                .map_or("-".to_owned(), |t| local(&c.unit, t, &calendars));
            let sla = Sla::of(c, now);
            let _ = write!(
                b,
                "<tr class=\"{}\"><td>{}</td><td><a href=\"/petugas/perkara/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                sla.class(),
                e(&due),
                forms::url_encode(&c.id),
                e(name),
                e(step),
                e(sla.text()),
            );
        }
        b.push_str("</table>");
    }
    let mut r = layout(StatusCode::OK, "Kotak masuk petugas", &b);
    csrf.apply(&mut r);
    r
}

#[derive(Debug, Deserialize)]
pub(crate) struct Flash {
    pesan: Option<String>,
    galat: Option<String>,
}

/// The texts a redirect may show: fixed, so a link cannot put words on the page.
fn flash_text(kind: &str) -> &'static str {
    match kind {
        "ok" => "Tindakan berhasil disimpan.",
        "terbit" => "Tindakan berhasil disimpan dan surat telah diterbitkan.",
        "surat-gagal" => {
            "Tindakan berhasil disimpan, tetapi surat belum dapat diterbitkan. \
Surat tetap bernomor; coba terbitkan lagi atau hubungi admin."
        }
        "forbidden" => "Anda tidak berwenang melakukan tindakan ini.",
        "separation-of-duties" => "Pemisahan tugas: tindakan ini harus dilakukan petugas lain.",
        "invalid-transition" => "Tindakan tidak dapat dilakukan pada tahap ini.",
        "conflict" => "Berkas telah berubah sejak halaman dibuka; periksa lalu coba lagi.",
        "invalid-input" => {
            "Isian belum lengkap atau tidak valid (alasan, persyaratan, atau data wajib)."
        }
        "not-found" => "Tindakan tidak ditemukan.",
        _ => "Tindakan gagal.",
    }
}

/// `GET /petugas/perkara/{id}`.
pub(crate) async fn case_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    flash: Result<Query<Flash>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(officer) = state.auth.officer(&headers).await else {
        return sign_in_first(&state);
    };
    let case = match api::visible_case(&state, &officer, &id).await {
        Ok(c) => c,
        Err(p) => return error_page(&p),
    };
    let def = match api::definition(&state.engine, &case).await {
        Ok(d) => d,
        Err(p) => return error_page(&p),
    };
    let timeline = match state.engine.timeline(&case.id).await {
        Ok(t) => t,
        Err(err) => return error_page(&Problem::from(err)),
    };
    let now = state.engine.clock().now();
    let calendars = state.engine.calendars();
    let when = |t| local(&case.unit, t, &calendars);
    let csrf = csrf_for(&state, &headers);
    let mut b = String::from(SLA_CSS);
    if let Ok(Query(f)) = flash {
        if let Some(k @ ("ok" | "terbit")) = f.pesan.as_deref() {
            let _ = write!(
                b,
                "<p class=\"card ok\" role=\"status\">{}</p>",
                e(flash_text(k))
            );
        } else if f.pesan.as_deref() == Some("surat-gagal") {
            let _ = write!(
                b,
                "<p class=\"card bad\" role=\"alert\">{}</p>",
                e(flash_text("surat-gagal"))
            );
        } else if let Some(k) = f.galat {
            let _ = write!(
                b,
                "<p class=\"card bad\" role=\"alert\">{}</p>",
                e(flash_text(&k))
            );
        }
    }
    let sla = Sla::of(&case, now);
    let status = match &case.status {
        alur_core::Status::Open(_) => format!(
            "Tahap: {}",
            api::step_of(&def, &case).map_or("-", |s| s.name.as_str())
        ),
        alur_core::Status::Closed(o) => format!("Selesai: {}", o.label()),
    };
    let _ = write!(
        b,
        "<p><a href=\"/petugas\">← Kotak masuk</a></p><table>\
<tr><th>Layanan</th><td>{}</td></tr><tr><th>Nomor berkas</th><td>{}</td></tr><tr><th>Status</th><td>{}</td></tr>\
<tr><th>Diajukan</th><td>{}</td></tr><tr><th>Batas waktu</th><td>{}</td></tr>\
<tr class=\"{}\"><th>Status waktu</th><td>{}</td></tr></table>",
        e(&def.name),
        e(&case.id),
        e(&status),
        e(&when(case.submitted_at)),
        e(&case.due_at.map_or("-".to_owned(), when)),
        sla.class(),
        e(sla.text()),
    );
    let applicable: Vec<_> = def.applicable_requirements(&case.conditions).collect();
    b.push_str("<h2>Persyaratan</h2><ul>");
    for r in &applicable {
        let mark = if case.checked.contains(&r.id) {
            "☑ sudah diperiksa"
        } else {
            "☐ belum diperiksa"
        };
        let _ = write!(b, "<li>{} — {}</li>", e(&r.name), e(mark));
    }
    b.push_str("</ul>");
    let documents = match state.blobs.attachments(&case.id).await {
        Ok(d) => d,
        Err(err) => {
            return error_page(&Problem::internal(format!(
                "the case's documents could not be read: {err}"
            )));
        }
    };
    if !documents.is_empty() {
        b.push_str("<h2>Dokumen unggahan</h2><ul>");
        for d in &documents {
            let name = def
                .requirements
                .iter()
                .find(|r| r.id == d.requirement)
                .map_or(d.requirement.as_str(), |r| r.name.as_str());
            let _ = write!(
                b,
                "<li>{}: <a href=\"/petugas/perkara/{}/dokumen/{}\">unduh</a> \
<span class=\"muted\">({}, {})</span></li>",
                e(name),
                forms::url_encode(&case.id),
                e(&d.blob.id),
                e(&d.blob.media_type),
                e(&crate::apply::size_text(
                    usize::try_from(d.blob.size).unwrap_or(usize::MAX)
                )),
            );
        }
        b.push_str("</ul>");
    }
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for item in &timeline {
        if let Some(p) = &item.payload {
            fields.extend(p.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    if !fields.is_empty() {
        b.push_str("<h2>Data permohonan</h2><table>");
        for (k, v) in &fields {
            let label = def
                .fields
                .iter()
                .find(|f| &f.id == k)
                .map_or(k.as_str(), |f| f.label.as_str());
            let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", e(label), e(v));
        }
        b.push_str("</table>");
    }
    let allowed: BTreeSet<String> = state
        .engine
        .allowed_actions(&def, &case, &officer, now)
        .into_iter()
        .collect();
    match state.engine.letter_for_case(&case.id).await {
        Ok(Some(l)) if l.status == alur_core::letter::LetterStatus::Numbered => {
            let _ = write!(
                b,
                "<h2>Surat</h2><p>Nomor surat {}: belum diterbitkan.</p>\
<form class=\"card\" method=\"post\" action=\"/petugas/perkara/{}/terbitkan\">{}\
<button type=\"submit\">Terbitkan surat</button></form>",
                e(&l.number),
                forms::url_encode(&case.id),
                csrf.input(),
            );
        }
        Ok(Some(l)) if l.document_sha256.is_some() => {
            let _ = write!(
                b,
                "<h2>Surat</h2><p>Nomor surat {}: <a href=\"/surat/{}\">lihat dan cetak surat</a> · \
<a href=\"/verifikasi/{}\">verifikasi</a></p>",
                e(&l.number),
                forms::url_encode(&l.token),
                forms::url_encode(&l.token),
            );
        }
        _ => {}
    }
    b.push_str("<h2>Tindakan</h2>");
    let actions: Vec<_> = api::step_of(&def, &case)
        .map(|s| {
            s.actions
                .iter()
                .filter(|a| allowed.contains(&a.id))
                .collect()
        })
        .unwrap_or_default();
    if actions.is_empty() {
        b.push_str("<p class=\"muted\">Tidak ada tindakan yang dapat Anda lakukan saat ini.</p>");
    }
    for a in actions {
        let _ = write!(
            b,
            "<form class=\"card\" method=\"post\" action=\"/petugas/perkara/{}/aksi\">{}\
<input type=\"hidden\" name=\"action\" value=\"{}\"><input type=\"hidden\" name=\"seen_version\" value=\"{}\">",
            forms::url_encode(&case.id),
            csrf.input(),
            e(&a.id),
            case.version,
        );
        if !a.requires_checked.is_empty() {
            b.push_str("<fieldset><legend>Persyaratan yang sudah diperiksa</legend>");
            for r in applicable
                .iter()
                .filter(|r| a.requires_checked.contains(&r.id))
            {
                let _ = write!(
                    b,
                    "<label><input type=\"checkbox\" name=\"checked\" value=\"{}\"{}> {}</label><br>",
                    e(&r.id),
                    if case.checked.contains(&r.id) {
                        " checked"
                    } else {
                        ""
                    },
                    e(&r.name)
                );
            }
            b.push_str("</fieldset>");
        }
        for f in &a.requires_fields {
            let label = def
                .fields
                .iter()
                .find(|x| &x.id == f)
                .map_or(f.as_str(), |x| x.label.as_str());
            let _ = write!(
                b,
                "<p><label>{}<br><input name=\"field[{}]\" value=\"{}\" required></label></p>",
                e(label),
                e(f),
                e(fields.get(f).map_or("", String::as_str)),
            );
        }
        if a.reason_required {
            b.push_str(
                "<p><label>Alasan (wajib)<br><textarea name=\"reason\" required rows=\"3\" cols=\"40\"></textarea></label></p>",
            );
        }
        let _ = write!(b, "<button type=\"submit\">{}</button></form>", e(&a.name));
    }
    b.push_str("<h2>Riwayat</h2><ol>");
    for item in &timeline {
        let _ = write!(
            b,
            "<li><span class=\"muted\">{}</span> {}",
            e(&when(item.entry.at)),
            e(&alur_core::audit::describe(
                &item.entry,
                state.engine.config()
            ))
        );
        if let Some(r) = item.payload.as_ref().and_then(|p| p.reason.as_ref()) {
            let _ = write!(b, "<br>Alasan: {}", e(r));
        }
        b.push_str("</li>");
    }
    b.push_str("</ol>");
    b.push_str(&logout_form(&csrf));
    let mut r = layout(StatusCode::OK, &def.name, &b);
    csrf.apply(&mut r);
    r
}

/// `GET /petugas/perkara/{id}/dokumen/{sha}`: a document uploaded with the case, as an
/// attachment; 404 unless the officer may see the case and the document is the case's.
pub(crate) async fn document<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    let Some(officer) = state.auth.officer(&headers).await else {
        return sign_in_first(&state);
    };
    let case = match api::visible_case(&state, &officer, &id).await {
        Ok(c) => c,
        Err(p) => return error_page(&p),
    };
    let missing = || error_page(&Problem::not_found("no such document of this case"));
    let documents = match state.blobs.attachments(&case.id).await {
        Ok(d) => d,
        Err(err) => return error_page(&Problem::internal(err.to_string())),
    };
    let Some(doc) = documents.into_iter().find(|d| d.blob.id == sha) else {
        return missing();
    };
    let bytes = match state.blobs.get(&doc.blob.id).await {
        Ok(Some(b)) => b,
        Ok(None) => return missing(),
        Err(err) => return error_page(&Problem::internal(err.to_string())),
    };
    let ext = match doc.blob.media_type.as_str() {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        _ => "bin",
    };
    let file: String = doc
        .requirement
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&doc.blob.media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// `POST /petugas/perkara/{id}/aksi`: act, then back to the case page (303) with a message.
pub(crate) async fn act<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(officer) = state.auth.officer(&headers).await else {
        return sign_in_first(&state);
    };
    let Some(f) = forms::parse(&body) else {
        return error_page(&Problem::bad_request("the form could not be read"));
    };
    if !csrf_ok(&state, &headers, f.get("csrf").unwrap_or_default()) {
        return csrf_refused();
    }
    let case = match api::visible_case(&state, &officer, &id).await {
        Ok(c) => c,
        Err(p) => return error_page(&p),
    };
    let Some(seen_version) = f.get("seen_version").and_then(|v| v.parse().ok()) else {
        return error_page(&Problem::bad_request("seen_version is missing"));
    };
    let command = Command::Act {
        actor: Actor::Officer(officer.clone()),
        action: f.get("action").unwrap_or_default().to_owned(),
        seen_version,
        checked: f.all("checked").map(str::to_owned).collect(),
        payload: Payload {
            fields: f
                .indexed("field")
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
                .collect(),
            reason: f
                .get("reason")
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            text: None,
        },
    };
    let back = format!("/petugas/perkara/{}", forms::url_encode(&case.id));
    match state.engine.execute(&case.id, command, None).await {
        Ok(_) => {
            state.metrics.transition("act");
            let kind = match letters::issue_for_case(&state, &case.id, &officer).await {
                Issue::Nothing => "ok",
                Issue::Issued => "terbit",
                Issue::Failed => "surat-gagal",
            };
            Redirect::to(&format!("{back}?pesan={kind}")).into_response()
        }
        Err(err) => {
            let p = Problem::from(err);
            if p.status.is_server_error() {
                return error_page(&p);
            }
            Redirect::to(&format!("{back}?galat={}", p.kind)).into_response()
        }
    }
}

/// `POST /petugas/perkara/{id}/terbitkan`: issue a numbered letter again after a failure.
pub(crate) async fn issue_letter<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(officer) = state.auth.officer(&headers).await else {
        return sign_in_first(&state);
    };
    let f = forms::parse(&body).unwrap_or(forms::Fields(Vec::new()));
    if !csrf_ok(&state, &headers, f.get("csrf").unwrap_or_default()) {
        return csrf_refused();
    }
    let case = match api::visible_case(&state, &officer, &id).await {
        Ok(c) => c,
        Err(p) => return error_page(&p),
    };
    let back = format!("/petugas/perkara/{}", forms::url_encode(&case.id));
    let kind = match letters::issue_for_case(&state, &case.id, &officer).await {
        Issue::Issued => "pesan=terbit",
        Issue::Nothing => "galat=invalid-transition",
        Issue::Failed => "pesan=surat-gagal",
    };
    Redirect::to(&format!("{back}?{kind}")).into_response()
}
