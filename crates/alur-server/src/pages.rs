//! Pages for citizens, server-rendered in Indonesian: no JavaScript, readable on a phone, every
//! value escaped ([`e`]) and a Content-Security-Policy that forbids scripts.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use alur_core::model::StepKind;
use alur_core::publish::{escape as e, rupiah};
use alur_core::{Actor, Command, Payload, Store};

use crate::forms::{self, csrf_for, csrf_ok};
use crate::problem::Problem;
use crate::{AppState, api, apply, letters};

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;line-height:1.5;color:#1a1a1a}\
header{border-bottom:3px solid #0b5394;margin-bottom:1rem}header a{color:#0b5394;text-decoration:none;font-weight:bold}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}\
.card{border:1px solid #ccc;border-radius:.5rem;padding:.8rem;margin:.6rem 0}.muted{color:#555}\
.ok{background:#e6f4ea;border-color:#34a853}.bad{background:#fce8e6;border-color:#d93025}\
input,button,select,textarea{font-size:1rem;padding:.5rem;max-width:100%;box-sizing:border-box}\
fieldset{min-width:0}ol,ul{padding-left:1.3rem}\
header p{display:flex;justify-content:space-between;flex-wrap:wrap;gap:.5rem}\
.code{font-family:ui-monospace,monospace;font-size:min(1.6rem,6.5vw);letter-spacing:.08em;font-weight:bold;white-space:nowrap}\
td{overflow-wrap:anywhere}\
.wrap{overflow-wrap:anywhere}.galat{color:#a50e0e;font-weight:bold}\
[aria-invalid=true]{border:2px solid #d93025}\
@media print{header,.noprint{display:none}body{max-width:none}}";

pub(crate) fn layout(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"id\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{CSS}</style></head><body>\
<header><p><a href=\"/\">Layanan Publik</a><a href=\"/masuk\">Masuk petugas</a></p></header><main>\n<h1>{}</h1>\n{body}</main></body></html>\n",
        e(title),
        e(title)
    );
    html_response(status, html)
}

/// An HTML document with the pages' security headers (no scripts, no framing).
pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// An error as a page.
pub(crate) fn error_page(p: &Problem) -> Response {
    layout(
        p.status,
        &p.title,
        &format!(
            "<p class=\"muted\">{}</p><p><a href=\"/\">Kembali ke daftar layanan</a></p>",
            e(&p.detail)
        ),
    )
}

pub(crate) fn local(
    unit: &str,
    t: jiff::Timestamp,
    calendars: &alur_core::calendars::Calendars,
) -> String {
    calendars
        .for_unit(unit)
        .time_zone()
        .to_datetime(t)
        .strftime("%d-%m-%Y %H:%M")
        .to_string()
}

fn fee(f: &alur_core::model::Fee) -> String {
    if f.amount == 0 {
        "Gratis".into()
    } else {
        format!("Rp{}", rupiah(f.amount))
    }
}

/// `GET /`: the catalogue and the tracking form.
pub(crate) async fn catalogue<S: Store>(State(state): State<AppState<S>>) -> Response {
    let config = state.engine.config();
    let mut b = format!("<p class=\"muted\">{}</p>", e(&config.tenant.name));
    b.push_str(&track_box("", None));
    b.push_str("<h2>Daftar layanan</h2>");
    for d in config.services.values() {
        let _ = write!(
            b,
            "<div class=\"card\"><h3><a href=\"/layanan/{}\">{}</a></h3><p>{} · waktu penyelesaian {} · biaya {}</p></div>",
            e(&d.id),
            e(&d.name),
            e(d.category.label()),
            e(&d.completion_time.to_string()),
            e(&fee(&d.fee)),
        );
    }
    layout(StatusCode::OK, "Layanan Publik", &b)
}

/// `GET /layanan/{id}`: a service's published standard.
pub(crate) async fn service<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
) -> Response {
    let Some(d) = state.engine.service(&id) else {
        return error_page(&Problem::not_found(format!("no service `{id}`")));
    };
    let mut b = String::new();
    let _ = write!(b, "<h2>Persyaratan</h2><ol>");
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
    b.push_str("</ol><h2>Prosedur</h2><ol>");
    for s in &d.steps {
        let sla = s
            .sla
            .map(|x| format!(" — paling lama {x}"))
            .unwrap_or_default();
        let _ = write!(b, "<li>{}{}</li>", e(&s.name), e(&sla));
    }
    let _ = write!(
        b,
        "</ol><table><tr><th>Waktu penyelesaian</th><td>{}</td></tr><tr><th>Biaya</th><td>{}</td></tr>\
<tr><th>Produk</th><td>{} (berlaku {})</td></tr>",
        e(&d.completion_time.to_string()),
        e(&fee(&d.fee)),
        e(&d.product.name),
        e(&d.product.validity.to_indonesian()),
    );
    if !d.legal_basis.is_empty() {
        let _ = write!(
            b,
            "<tr><th>Dasar hukum</th><td>{}</td></tr>",
            e(&d.legal_basis.join("; "))
        );
    }
    b.push_str("</table>");
    if !d.complaint_channels.is_empty() {
        b.push_str("<h2>Pengaduan</h2><ul>");
        for c in &d.complaint_channels {
            let _ = write!(b, "<li>{}: {}</li>", e(&c.name), e(&c.contact));
        }
        b.push_str("</ul>");
    }
    if d.in_person_only {
        b.push_str("<p class=\"card\">Layanan ini hanya dapat diajukan langsung di loket.</p>");
    } else {
        let _ = write!(
            b,
            "<p class=\"card\"><a href=\"/layanan/{}/ajukan\">Ajukan permohonan secara daring</a></p>",
            e(&d.id)
        );
    }
    layout(StatusCode::OK, &d.name, &b)
}

/// The "Lacak permohonan" box: the short code from the receipt or the tracking link, with what
/// was typed and why it was refused when it was.
fn track_box(value: &str, error: Option<&str>) -> String {
    let (invalid, message) = match error {
        Some(m) => (
            " aria-invalid=\"true\" aria-describedby=\"kode-galat\"",
            format!(
                "<br><span id=\"kode-galat\" class=\"bad\" role=\"alert\">{}</span>",
                e(m)
            ),
        ),
        None => ("", String::new()),
    };
    format!(
        "<form class=\"card\" action=\"/lacak\" method=\"get\"><h2><label for=\"kode\">Lacak permohonan</label></h2>\
<p class=\"muted\">Ketik kode pelacakan dari tanda terima (12 huruf dan angka, misalnya K7PQ-2MVH-9CWX) \
atau tempel tautan pelacakannya.</p>\
<input id=\"kode\" name=\"kode\" required autocomplete=\"off\" autocapitalize=\"characters\" \
spellcheck=\"false\" size=\"30\" value=\"{}\"{invalid}> <button type=\"submit\">Lacak</button>{message}</form>",
        e(value)
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct TrackForm {
    kode: String,
}

/// What the tracking box was given: the path segment of a tracking link, a full code, or a short
/// code (checked, so a typo is told apart from an unknown code).
fn typed_code(input: &str) -> Result<String, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Kode pelacakan belum diisi.".into());
    }
    // A pasted link: the segment after /lacak/.
    let t = match t.find("/lacak/") {
        Some(i) => t[i + 7..].split(['/', '?', '#']).next().unwrap_or_default(),
        None => t,
    };
    if t.contains('.') {
        let code: String = t
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        return Ok(code);
    }
    let v = crate::tracking::parse_short(t).map_err(|err| err.indonesian())?;
    Ok(v.iter()
        .enumerate()
        .flat_map(|(i, &x)| {
            let sep = (i > 0 && i % 4 == 0).then_some('-');
            sep.into_iter().chain(std::iter::once(char::from(
                crate::tracking::SHORT_ALPHABET[usize::from(x)],
            )))
        })
        .collect())
}

/// `GET /lacak?kode=…`: the home page's box, to the tracking page; a code that cannot be one is
/// answered with the box again, what was typed kept, and what to fix.
pub(crate) async fn track_form(query: Result<Query<TrackForm>, QueryRejection>) -> Response {
    let typed = query.map(|Query(f)| f.kode).unwrap_or_default();
    match typed_code(&typed) {
        Ok(code) => Redirect::to(&format!("/lacak/{code}")).into_response(),
        Err(message) => layout(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Kode pelacakan belum benar",
            &track_box(&typed, Some(&message)),
        ),
    }
}

/// "Kelurahan Baloi Permai — Kecamatan Batam Kota": an office and the unit above it.
pub(crate) fn office_name(code: &str) -> String {
    let Ok(index) = alur_core::region::RegionIndex::embedded() else {
        return code.to_owned();
    };
    let Some(r) = index.get(code) else {
        return code.to_owned();
    };
    match r.parent.as_deref().and_then(|p| index.get(p)) {
        Some(parent) if parent.level != alur_core::region::UnitLevel::Provinsi => {
            format!("{} — {}", r.display_name(), parent.display_name())
        }
        _ => r.display_name(),
    }
}

/// A local time as people read it: "Selasa, 17 Maret 2026 pukul 09.00 WIB".
pub(crate) fn local_long(
    unit: &str,
    t: jiff::Timestamp,
    calendars: &alur_core::calendars::Calendars,
) -> String {
    let cal = calendars.for_unit(unit);
    let dt = cal.time_zone().to_datetime(t);
    let zone = match cal.utc_offset().seconds() / 3600 {
        7 => "WIB",
        8 => "WITA",
        9 => "WIT",
        _ => "",
    };
    format!(
        "{} pukul {:02}.{:02} {zone}",
        alur_calendar::format_date_id(dt.date()),
        dt.hour(),
        dt.minute()
    )
    .trim_end()
    .to_owned()
}

/// The applicant's short code and link, as the receipt and the tracking page show them.
fn code_block<S: Store>(state: &AppState<S>, case_id: &str) -> String {
    let h = api::handover(state, case_id);
    let url = h["tracking_url"].as_str().unwrap_or_default();
    match h["short_code"].as_str() {
        Some(short) => format!(
            "<div class=\"card ok\"><p>Kode pelacakan:<br><span class=\"code\">{}</span></p>\
<p class=\"wrap\">Tautan pelacakan: <a href=\"{}\">{}</a></p></div>",
            e(short),
            e(url),
            e(url)
        ),
        None => format!(
            "<div class=\"card ok\"><p class=\"wrap\">Tautan pelacakan: <a href=\"{}\">{}</a></p></div>",
            e(url),
            e(url)
        ),
    }
}

/// `GET /lacak/{code}/tanda-terima`: the receipt of a submission (tanda terima), to print or
/// keep: the codes, the service, the office, when it was received, when it is expected to be
/// done, and the documents handed in.
pub(crate) async fn receipt<S: Store>(
    State(state): State<AppState<S>>,
    Path(code): Path<String>,
) -> Response {
    let p = match api::progress(&state, &code).await {
        Ok(p) => p,
        Err(problem) => return error_page(&problem),
    };
    let c = &p.case;
    let calendars = state.engine.calendars();
    let cal = calendars.for_unit(&c.unit);
    let expected = match c.due_at {
        Some(d) => local_long(&c.unit, d, &calendars),
        None => match cal.due(c.submitted_at, p.def.completion_time) {
            Ok(d) => format!(
                "{} ({} sejak berkas dinyatakan lengkap; tanggal ini berlaku bila berkas lengkap pada hari pengajuan)",
                local_long(&c.unit, d, &calendars),
                p.def.completion_time
            ),
            Err(_) => format!("{} sejak berkas dinyatakan lengkap", p.def.completion_time),
        },
    };
    let mut b = String::from(
        "<p class=\"muted\">Permohonan Anda telah diterima. Simpan atau cetak tanda terima ini; \
kode pelacakan dipakai untuk melihat perkembangan permohonan dan menjawab permintaan petugas.</p>",
    );
    b.push_str(&code_block(&state, &c.id));
    let _ = write!(
        b,
        "<table><tr><th>Layanan</th><td>{}</td></tr><tr><th>Kantor</th><td>{}</td></tr>\
<tr><th>Diterima</th><td>{}</td></tr><tr><th>Perkiraan selesai</th><td>{}</td></tr>\
<tr><th>Biaya</th><td>{}</td></tr></table>",
        e(&p.def.name),
        e(&office_name(&c.unit)),
        e(&local_long(&c.unit, c.submitted_at, &calendars)),
        e(&expected),
        e(&fee(&p.def.fee)),
    );
    let uploaded: Vec<String> = state
        .blobs
        .attachments(&c.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.requirement)
        .collect();
    let requirements: Vec<_> = p.def.applicable_requirements(&c.conditions).collect();
    b.push_str("<h2>Persyaratan</h2><table><tr><th>Persyaratan</th><th>Keterangan</th></tr>");
    for r in &requirements {
        let state_text = if uploaded.iter().any(|u| u == &r.id) {
            "diunggah bersama permohonan"
        } else {
            "dibawa ke kantor bila diminta petugas"
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td></tr>",
            e(&r.name),
            e(state_text)
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<p class=\"noprint\"><a href=\"/lacak/{}\">Lihat status permohonan</a> · \
cetak halaman ini dengan menu cetak peramban (Ctrl+P)</p>",
        forms::url_encode(&code)
    );
    layout(StatusCode::OK, "Tanda terima permohonan", &b)
}

#[derive(Debug, Deserialize)]
pub(crate) struct TrackFlash {
    pesan: Option<String>,
    galat: Option<String>,
}

/// The texts a redirect to the tracking page may show: fixed, so a link cannot put words on it.
fn track_flash(f: &TrackFlash) -> Option<(&'static str, &'static str)> {
    match f.pesan.as_deref() {
        Some("ok") => return Some(("ok", "Berkas Anda telah dikirim kembali kepada petugas.")),
        Some("survei") => {
            return Some((
                "ok",
                "Terima kasih. Jawaban survei Anda tercatat dan hanya dihitung bersama jawaban lain \
untuk indeks kepuasan kantor ini.",
            ));
        }
        _ => {}
    }
    let text = match f.galat.as_deref()? {
        "survei" => {
            "Jawab kesembilan pertanyaan survei, masing-masing satu pilihan, lalu kirim lagi."
        }
        "invalid-input" => "Isian belum lengkap atau tidak valid; periksa lalu kirim lagi.",
        "conflict" => "Berkas telah berubah sejak halaman dibuka; periksa lalu coba lagi.",
        "invalid-transition" | "not-found" => "Tindakan tidak dapat dilakukan pada tahap ini.",
        _ => "Tindakan gagal.",
    };
    Some(("bad", text))
}

/// `GET /lacak/{code}`: a case's progress for the applicant.
pub(crate) async fn track<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    flash: Result<Query<TrackFlash>, QueryRejection>,
) -> Response {
    let p = match api::progress(&state, &code).await {
        Ok(p) => p,
        Err(problem) => return error_page(&problem),
    };
    let calendars = state.engine.calendars();
    let c = &p.case;
    let when = |t| local(&c.unit, t, &calendars);
    let status = match &c.status {
        alur_core::Status::Open(_) => format!(
            "Sedang diproses: {}",
            api::step_of(&p.def, c).map_or("-", |s| s.name.as_str())
        ),
        alur_core::Status::Closed(o) => format!("Selesai: {}", o.label()),
    };
    let expected = match (c.status.is_open(), c.paused_since, c.due_at) {
        (false, _, _) => "-".to_owned(),
        (true, Some(_), _) => "waktu layanan berhenti sementara (menunggu pemohon)".to_owned(),
        (true, None, Some(d)) => when(d),
        (true, None, None) => "belum dihitung".to_owned(),
    };
    let mut b = String::new();
    if let Ok(Query(f)) = &flash
        && let Some((class, text)) = track_flash(f)
    {
        let role = if class == "ok" { "status" } else { "alert" };
        let _ = write!(
            b,
            "<p class=\"card {class}\" role=\"{role}\">{}</p>",
            e(text)
        );
    }
    b.push_str(&code_block(&state, &c.id));
    let _ = write!(
        b,
        "<table><tr><th>Layanan</th><td>{}</td></tr><tr><th>Kantor</th><td>{}</td></tr>\
<tr><th>Status</th><td>{}</td></tr>\
<tr><th>Diajukan</th><td>{}</td></tr><tr><th>Perkiraan selesai</th><td>{}</td></tr></table>\
<p><a href=\"/lacak/{}/tanda-terima\">Tanda terima</a></p>",
        e(&p.def.name),
        e(&office_name(&c.unit)),
        e(&status),
        e(&when(c.submitted_at)),
        e(&expected),
        forms::url_encode(&code),
    );
    if let Some(l) = letters::issued_letter(&state, &c.id).await {
        let _ = write!(
            b,
            "<p class=\"card ok\">Surat Anda telah terbit (nomor {}): \
<a href=\"/surat/{}\">lihat dan cetak surat</a></p>",
            e(&l.number),
            forms::url_encode(&l.token),
        );
    }
    let mut csrf = None;
    if c.status == alur_core::Status::Closed(alur_core::model::Outcome::Completed) {
        if c.rated {
            b.push_str(
                "<p class=\"muted\">Survei kepuasan untuk permohonan ini sudah diisi. Terima kasih.</p>",
            );
        } else {
            let token = csrf_for(&state, &headers);
            b.push_str(&survey_form(&code, &token.input()));
            csrf = Some(token);
        }
    }
    if let Some(step) = api::step_of(&p.def, c).filter(|s| s.kind == StepKind::Applicant)
        && c.status.is_open()
    {
        let token = csrf_for(&state, &headers);
        let _ = write!(
            b,
            "<h2>{}</h2><p class=\"card bad\">Berkas Anda dikembalikan oleh petugas. \
Lengkapi berkas sesuai alasan pada riwayat di bawah, lalu kirim kembali.</p>",
            e(&step.name)
        );
        for a in &step.actions {
            let _ = write!(
                b,
                "<form class=\"card\" method=\"post\" action=\"/lacak/{}/aksi\" enctype=\"multipart/form-data\">{}\
<input type=\"hidden\" name=\"action\" value=\"{}\"><input type=\"hidden\" name=\"seen_version\" value=\"{}\">",
                forms::url_encode(&code),
                token.input(),
                e(&a.id),
                c.version,
            );
            for f in &p.def.fields {
                let required = a.requires_fields.contains(&f.id);
                let _ = write!(
                    b,
                    "<p><label>{}<br><input name=\"field[{}]\" value=\"{}\" size=\"40\"{}></label></p>",
                    e(&f.label),
                    e(&f.id),
                    e(p.fields.get(&f.id).map_or("", String::as_str)),
                    if required { " required" } else { "" },
                );
            }
            b.push_str(&crate::apply::upload_inputs(
                &state,
                p.def.applicable_requirements(&c.conditions),
            ));
            if a.reason_required {
                b.push_str(
                    "<p><label>Keterangan (wajib)<br><textarea name=\"reason\" required rows=\"3\" cols=\"40\"></textarea></label></p>",
                );
            }
            let _ = write!(b, "<button type=\"submit\">{}</button></form>", e(&a.name));
        }
        csrf = Some(token);
    }
    if !p.fields.is_empty() {
        b.push_str("<h2>Data permohonan</h2><table>");
        for f in &p.def.fields {
            if let Some(v) = p.fields.get(&f.id) {
                let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", e(&f.label), e(v));
            }
        }
        b.push_str("</table>");
    }
    // Which requirements have a document (names only: the documents are for officers).
    if let Ok(docs) = state.blobs.attachments(&c.id).await
        && !docs.is_empty()
    {
        b.push_str("<h2>Dokumen yang telah diunggah</h2><ul>");
        for d in &docs {
            let name = p
                .def
                .requirements
                .iter()
                .find(|r| r.id == d.requirement)
                .map_or(d.requirement.as_str(), |r| r.name.as_str());
            let _ = write!(b, "<li>{}</li>", e(name));
        }
        b.push_str("</ul>");
    }
    b.push_str("<h2>Riwayat</h2><ol>");
    for (at, text, reason) in &p.timeline {
        let _ = write!(
            b,
            "<li><span class=\"muted\">{}</span> {}",
            e(&when(*at)),
            e(text)
        );
        if let Some(r) = reason {
            let _ = write!(b, "<br>Alasan: {}", e(r));
        }
        b.push_str("</li>");
    }
    b.push_str(
        "</ol><p class=\"muted\">Simpan kode pelacakan Anda; jangan bagikan kepada orang lain.</p>",
    );
    let mut r = layout(StatusCode::OK, "Status permohonan", &b);
    if let Some(t) = csrf {
        t.apply(&mut r);
    }
    r
}

/// The nine elements of the satisfaction survey (SKM, Permenpan-RB 14/2017): the question and
/// its four answers, scored 1 to 4, as the regulation's questionnaire words them.
pub(crate) const SURVEY: [(&str, [&str; 4]); 9] = [
    (
        "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan dengan jenis pelayanannya?",
        ["Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"],
    ),
    (
        "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di kantor ini?",
        ["Tidak mudah", "Kurang mudah", "Mudah", "Sangat mudah"],
    ),
    (
        "Bagaimana pendapat Saudara tentang kecepatan waktu dalam memberikan pelayanan?",
        ["Tidak cepat", "Kurang cepat", "Cepat", "Sangat cepat"],
    ),
    (
        "Bagaimana pendapat Saudara tentang kewajaran biaya/tarif dalam pelayanan?",
        ["Sangat mahal", "Cukup mahal", "Murah", "Gratis"],
    ),
    (
        "Bagaimana pendapat Saudara tentang kesesuaian produk pelayanan antara yang tercantum dalam standar pelayanan dengan hasil yang diberikan?",
        ["Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"],
    ),
    (
        "Bagaimana pendapat Saudara tentang kompetensi/kemampuan petugas dalam pelayanan?",
        [
            "Tidak kompeten",
            "Kurang kompeten",
            "Kompeten",
            "Sangat kompeten",
        ],
    ),
    (
        "Bagaimana pendapat Saudara tentang perilaku petugas dalam pelayanan terkait kesopanan dan keramahan?",
        [
            "Tidak sopan dan ramah",
            "Kurang sopan dan ramah",
            "Sopan dan ramah",
            "Sangat sopan dan ramah",
        ],
    ),
    (
        "Bagaimana pendapat Saudara tentang penanganan pengaduan pengguna layanan?",
        [
            "Tidak ada",
            "Ada tetapi tidak berfungsi",
            "Berfungsi kurang maksimal",
            "Dikelola dengan baik",
        ],
    ),
    (
        "Bagaimana pendapat Saudara tentang kualitas sarana dan prasarana?",
        ["Buruk", "Cukup", "Baik", "Sangat baik"],
    ),
];

/// The survey as a form: nine groups of four radio buttons.
fn survey_form(code: &str, csrf_input: &str) -> String {
    let mut b = format!(
        "<form class=\"card\" method=\"post\" action=\"/lacak/{}/survei\">{csrf_input}\
<h2>Survei kepuasan masyarakat</h2><p class=\"muted\">Permohonan Anda telah selesai. Bantu kantor \
ini memperbaiki pelayanannya: jawab sembilan pertanyaan berikut (sekali untuk setiap permohonan). \
Jawaban hanya dihitung bersama jawaban lain, tanpa nama.</p>",
        forms::url_encode(code)
    );
    for (i, (question, answers)) in SURVEY.iter().enumerate() {
        let _ = write!(b, "<fieldset><legend>{}. {}</legend>", i + 1, e(question));
        for (score, answer) in answers.iter().enumerate() {
            let _ = write!(
                b,
                "<label><input type=\"radio\" name=\"u{}\" value=\"{}\" required> {}</label><br>",
                i + 1,
                score + 1,
                e(answer)
            );
        }
        b.push_str("</fieldset>");
    }
    b.push_str("<p><button type=\"submit\">Kirim jawaban survei</button></p></form>");
    b
}

/// `POST /lacak/{code}/survei`: the applicant's answers to the survey, once per completed case,
/// then back to the tracking page (303).
pub(crate) async fn survey<S: Store>(
    State(state): State<AppState<S>>,
    Path(code): Path<String>,
    req: Request,
) -> Response {
    let (posted, p) = match applicant_form(&state, &code, req).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let f = posted.fields;
    let back = format!("/lacak/{}", forms::url_encode(code.trim()));
    let scores: Option<Vec<u8>> = (1..=SURVEY.len())
        .map(|i| {
            f.get(&format!("u{i}"))
                .and_then(|v| v.trim().parse::<u8>().ok())
                .filter(|v| (1..=4).contains(v))
        })
        .collect();
    let Some(scores) = scores else {
        return Redirect::to(&format!("{back}?galat=survei")).into_response();
    };
    let command = Command::Rate {
        actor: Actor::Applicant(p.case.applicant.clone()),
        scores,
    };
    match state.engine.execute(&p.case.id, command, None).await {
        Ok(_) => {
            state.metrics.transition("rate");
            Redirect::to(&format!("{back}?pesan=survei")).into_response()
        }
        Err(err) => refused_to_tracking(&back, err),
    }
}

/// A citizen's form posted on a tracked case: read (documents up to the upload limit), its
/// CSRF token checked, the case found by its code; else the page to answer with.
async fn applicant_form<S: Store>(
    state: &AppState<S>,
    code: &str,
    req: Request,
) -> Result<(apply::Posted, api::Progress), Response> {
    let headers = req.headers().clone();
    let posted = apply::read_form(req, state.settings.max_upload_bytes)
        .await
        .map_err(|problem| error_page(&problem))?;
    if !csrf_ok(
        state,
        &headers,
        posted.fields.get("csrf").unwrap_or_default(),
    ) {
        return Err(csrf_refused());
    }
    let p = api::progress(state, code)
        .await
        .map_err(|problem| error_page(&problem))?;
    Ok((posted, p))
}

/// An applicant's command the engine refused: back to the tracking page with the refusal's kind
/// (an error page when the fault is the server's).
fn refused_to_tracking(back: &str, err: alur_core::Error) -> Response {
    let problem = Problem::from(err);
    if problem.status.is_server_error() {
        return error_page(&problem);
    }
    Redirect::to(&format!("{back}?galat={}", problem.kind)).into_response()
}

/// The page that answers a form whose security token is missing or expired.
pub(crate) fn csrf_refused() -> Response {
    error_page(&Problem::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "Formulir tidak sah",
        "the form's security token is missing or expired; reload the page and try again",
    ))
}

/// `POST /lacak/{code}/aksi`: the applicant acts on a case waiting for them (e.g. sends a
/// completed file back), then back to the tracking page (303).
pub(crate) async fn applicant_act<S: Store>(
    State(state): State<AppState<S>>,
    Path(code): Path<String>,
    req: Request,
) -> Response {
    let (posted, p) = match applicant_form(&state, &code, req).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let f = posted.fields;
    let Some(seen_version) = f.get("seen_version").and_then(|v| v.parse().ok()) else {
        return error_page(&Problem::bad_request("seen_version is missing"));
    };
    // Every document checked before anything is stored or done.
    let uploads = match apply::check_uploads(&state, &p.def, posted.files) {
        Ok(u) => u,
        Err(problem) => return error_page(&problem),
    };
    let back = format!("/lacak/{}", forms::url_encode(code.trim()));
    // Only the service's own form fields: the applicant cannot set officers' values.
    let fields = f
        .indexed("field")
        .filter(|(k, v)| !v.trim().is_empty() && p.def.fields.iter().any(|x| x.id == *k))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect();
    let command = Command::Act {
        actor: Actor::Applicant(p.case.applicant.clone()),
        action: f.get("action").unwrap_or_default().to_owned(),
        seen_version,
        checked: Default::default(),
        payload: Payload {
            fields,
            reason: f
                .get("reason")
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            text: None,
        },
    };
    let attachments = match apply::store_uploads(&state, uploads).await {
        Ok(a) => a,
        Err(problem) => return error_page(&problem),
    };
    match state.engine.execute(&p.case.id, command, None).await {
        Ok(_) => {
            state.metrics.transition("act");
            if !attachments.is_empty()
                && let Err(err) = state.blobs.attach(&p.case.id, attachments).await
            {
                return error_page(&Problem::internal(format!(
                    "the action was done but the documents could not be recorded: {err}"
                )));
            }
            Redirect::to(&format!("{back}?pesan=ok")).into_response()
        }
        Err(err) => refused_to_tracking(&back, err),
    }
}

/// `GET /verifikasi/{token}`: where a letter's QR code points.
pub(crate) async fn verify<S: Store>(
    State(state): State<AppState<S>>,
    Path(token): Path<String>,
) -> Response {
    let v = match api::verification(&state, &token).await {
        Ok(v) => v,
        Err(problem) => return error_page(&problem),
    };
    let class = if v.verdict.is_valid() { "ok" } else { "bad" };
    let mut b = format!(
        "<p class=\"card {class}\"><strong>{}</strong></p>",
        e(v.verdict.text())
    );
    if let Some(l) = &v.letter {
        let calendars = state.engine.calendars();
        b.push_str("<table>");
        let mut row = |k: &str, val: &str| {
            let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", e(k), e(val));
        };
        row("Nomor surat", &l.number);
        row("Layanan", v.service_name.as_deref().unwrap_or(&l.service));
        row(
            "Diterbitkan oleh",
            v.unit_name.as_deref().unwrap_or(&l.unit),
        );
        if let Some(t) = l.issued_at {
            row("Tanggal terbit", &local(&l.unit, t, &calendars));
        }
        if let Some(s) = &l.signer {
            row("Ditandatangani", &format!("{}, {}", s.name, s.title()));
        }
        row(
            "Berlaku sampai",
            &l.valid_until.map_or("tidak terbatas".into(), |d| {
                d.strftime("%d-%m-%Y").to_string()
            }),
        );
        if let Some(t) = l.revoked_at {
            row("Dicabut", &local(&l.unit, t, &calendars));
        }
        match (&v.log, &v.log_note) {
            (Some(p), _) => {
                let mut text = if p.included {
                    format!("tercatat (catatan #{} dari {})", p.index, p.size)
                } else {
                    "TIDAK TERCATAT".to_owned()
                };
                match p.signature_ok {
                    Some(true) => text.push_str("; tanda tangan checkpoint sah"),
                    Some(false) => text.push_str("; TANDA TANGAN CHECKPOINT TIDAK SAH"),
                    None => {}
                }
                row("Log audit", &text);
            }
            (None, Some(_)) => row("Log audit", "belum masuk checkpoint bertanda tangan"),
            (None, None) => {}
        }
        b.push_str("</table>");
    }
    let status = if v.letter.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    layout(status, "Verifikasi surat", &b)
}
