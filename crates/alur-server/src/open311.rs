//! Open311 GeoReport v2 under `/open311/v2/`, mapped onto the same services and cases.
//!
//! - `services.json`: every service offered online (`type` is `batch`: an officer works it).
//! - `services/{code}.json`: the service's fields as attributes.
//! - `GET requests.json`: cases as the public may see them: no personal data, no form values.
//!   A case is listed under its public reference; a tracking code given as `service_request_id`
//!   finds its case under that code. Tracking codes are never listed, as they open the
//!   tracking page.
//! - `POST requests.json`: `service_code`, `jurisdiction_id` or `address_id` (the unit code),
//!   `attribute[<field>]` and the `nik` extension; answers `[{"service_request_id": <tracking
//!   code>}]`.
//!
//! Errors are Open311's `[{"code": <status>, "description": "…"}]`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use alur_core::model::ServiceDefinition;
use alur_core::store::SearchQuery;
use alur_core::{Case, Payload, Status, Store, Submission};

use crate::forms;
use crate::problem::Problem;
use crate::{AppState, api, tracking};

/// Most requests a list answers with.
const MAX_REQUESTS: usize = 1000;

fn error(status: StatusCode, description: impl Into<String>) -> Response {
    (
        status,
        Json(json!([{"code": status.as_u16(), "description": description.into()}])),
    )
        .into_response()
}

fn from_problem(p: &Problem) -> Response {
    error(p.status, format!("{}: {}", p.title, p.detail))
}

fn offered<S: Store>(state: &AppState<S>, d: &ServiceDefinition, unit: Option<&str>) -> bool {
    let config = state.engine.config();
    !d.in_person_only && unit.is_none_or(|u| config.offers(u, d))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Jurisdiction {
    jurisdiction_id: Option<String>,
}

/// `GET /open311/v2/services.json`.
pub(crate) async fn services<S: Store>(
    State(state): State<AppState<S>>,
    query: Result<Query<Jurisdiction>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid query");
    };
    let unit = q.jurisdiction_id.as_deref().filter(|u| !u.is_empty());
    let list: Vec<Value> = state
        .engine
        .config()
        .services
        .values()
        .filter(|d| offered(&state, d, unit))
        .map(|d| {
            json!({
                "service_code": d.id,
                "service_name": d.name,
                "description": format!(
                    "{}; waktu penyelesaian {}; biaya {}",
                    d.product.name,
                    d.completion_time,
                    if d.fee.amount == 0 { "gratis".to_owned() } else { format!("Rp{}", alur_core::publish::rupiah(d.fee.amount)) }
                ),
                "metadata": false,
                "type": "batch",
                "keywords": format!("{},{}", d.category.label(), d.product.name),
                "group": d.category.label(),
            })
        })
        .collect();
    Json(list).into_response()
}

/// `GET /open311/v2/services/{code}.json`.
pub(crate) async fn service<S: Store>(
    State(state): State<AppState<S>>,
    Path(file): Path<String>,
) -> Response {
    let Some(code) = file.strip_suffix(".json") else {
        return error(StatusCode::NOT_FOUND, "only the JSON format is served");
    };
    let Some(d) = state.engine.service(code).filter(|d| !d.in_person_only) else {
        return error(StatusCode::NOT_FOUND, format!("no service `{code}`"));
    };
    let attributes: Vec<Value> = d
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "variable": true,
                "code": f.id,
                "datatype": "string",
                "required": false,
                "datatype_description": "",
                "order": i + 1,
                "description": f.label,
            })
        })
        .collect();
    Json(json!({"service_code": d.id, "attributes": attributes})).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct RequestsQuery {
    service_request_id: Option<String>,
    service_code: Option<String>,
    status: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    jurisdiction_id: Option<String>,
}

fn timestamp(s: Option<&str>, name: &str) -> Result<Option<jiff::Timestamp>, String> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            format!("{name} must be a w3c datetime with an offset, e.g. 2026-01-31T00:00:00+07:00")
        }),
    }
}

fn request_json<S: Store>(state: &AppState<S>, c: &Case, id: String) -> Value {
    let def = state.engine.service(&c.service);
    let (status, notes) = match &c.status {
        Status::Open(_) => (
            "open",
            def.as_ref()
                .and_then(|d| api::step_of(d, c))
                .map(|s| s.name.clone()),
        ),
        Status::Closed(o) => ("closed", Some(o.label().to_owned())),
    };
    json!({
        "service_request_id": id,
        "status": status,
        "status_notes": notes,
        "service_name": def.as_ref().map(|d| d.name.clone()),
        "service_code": c.service,
        "agency_responsible": c.unit,
        "address_id": c.unit,
        "requested_datetime": c.submitted_at.to_string(),
        "updated_datetime": c.updated_at.to_string(),
        "expected_datetime": c.due_at.map(|t| t.to_string()),
    })
}

/// `GET /open311/v2/requests.json`.
pub(crate) async fn requests<S: Store>(
    State(state): State<AppState<S>>,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid query");
    };
    let engine = &state.engine;
    if let Some(ids) = q.service_request_id.as_deref().filter(|s| !s.is_empty()) {
        let mut out = Vec::new();
        for code in ids.split(',').map(str::trim).take(100) {
            let Some(id) = tracking::case_id(engine.pseudonymizer(), code) else {
                continue;
            };
            match engine.case(&id).await {
                Ok(Some(c)) => out.push(request_json(&state, &c, code.to_owned())),
                Ok(None) => {}
                Err(e) => return from_problem(&Problem::from(e)),
            }
        }
        return Json(out).into_response();
    }
    let open_only = match q.status.as_deref() {
        None | Some("") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(_) => return error(StatusCode::BAD_REQUEST, "status must be open or closed"),
    };
    let from = match timestamp(q.start_date.as_deref(), "start_date") {
        Ok(t) => t,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let to = match timestamp(q.end_date.as_deref(), "end_date") {
        Ok(t) => t,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let search = SearchQuery {
        service: q.service_code.filter(|s| !s.is_empty()),
        unit_prefix: q.jurisdiction_id.filter(|s| !s.is_empty()),
        open_only: open_only == Some(true),
        submitted_from: from,
        submitted_to: to,
        limit: MAX_REQUESTS,
        ..SearchQuery::default()
    };
    let cases = match engine.search(&search).await {
        Ok(c) => c,
        Err(e) => return from_problem(&Problem::from(e)),
    };
    let list: Vec<Value> = cases
        .iter()
        .filter(|c| open_only != Some(false) || !c.status.is_open())
        .map(|c| {
            request_json(
                &state,
                c,
                tracking::public_ref(engine.pseudonymizer(), &c.id),
            )
        })
        .collect();
    Json(list).into_response()
}

/// `POST /open311/v2/requests.json`.
pub(crate) async fn create<S: Store>(State(state): State<AppState<S>>, body: Bytes) -> Response {
    let Some(f) = forms::parse(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body must be form-encoded");
    };
    let Some(service) = f.get("service_code").filter(|s| !s.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "service_code is required");
    };
    let Some(unit) = f
        .get("jurisdiction_id")
        .or_else(|| f.get("address_id"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "jurisdiction_id or address_id (the unit code) is required",
        );
    };
    let Some(def) = state.engine.service(service) else {
        return error(StatusCode::NOT_FOUND, "unknown service_code");
    };
    if def.in_person_only {
        return error(
            StatusCode::BAD_REQUEST,
            "this service is only offered in person",
        );
    }
    let fields: std::collections::BTreeMap<String, String> = f
        .indexed("attribute")
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect();
    let (nik, errors) = crate::validate::application(
        state.engine.config(),
        def,
        f.get("nik").unwrap_or_default(),
        unit,
        &fields,
    );
    let Some(nik) = nik.filter(|_| errors.is_empty()) else {
        // Open311 errors: one {code, description} per input, the input named as Open311 names it.
        let list: Vec<serde_json::Value> = errors
            .iter()
            .map(|(k, m)| {
                let name = k.strip_prefix("fields.").map_or_else(
                    || k.replace("unit", "jurisdiction_id"),
                    |a| format!("attribute[{a}]"),
                );
                json!({"code": 400, "description": format!("{name}: {m}")})
            })
            .collect();
        return (StatusCode::BAD_REQUEST, Json(list)).into_response();
    };
    let submission = Submission {
        service: service.to_owned(),
        unit: unit.to_owned(),
        applicant: state.engine.pseudonymizer().person(&nik),
        conditions: Default::default(),
        payload: Payload {
            fields: fields.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
            ..Payload::default()
        },
    };
    match api::submit_case(&state, submission, None).await {
        Ok(case) => {
            let code = tracking::code(state.engine.pseudonymizer(), &case.id);
            Json(json!([{
                "service_request_id": code,
                "service_notice": "Simpan kode ini untuk melacak permohonan di /lacak/<kode>",
                "account_id": null,
            }]))
            .into_response()
        }
        Err(p) => from_problem(&p),
    }
}
