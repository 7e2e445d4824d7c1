//! The JSON API under `/api/v1`.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use alur_core::model::{ServiceDefinition, Step};
use alur_core::{Actor, Case, Command, Engine, Payload, Status, Store, Submission};

use crate::problem::Problem;
use crate::{AppState, tracking};

/// Most cases an inbox answers with.
const MAX_INBOX: usize = 500;

pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Problem> {
    body.map(|Json(b)| b).map_err(|e| {
        let mut p = Problem::bad_request(e.body_text());
        if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            p.status = e.status();
        }
        p
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| Problem::bad_request("Idempotency-Key must be printable ASCII"))?
                .trim();
            if k.is_empty() || k.len() > 200 {
                return Err(Problem::bad_request(
                    "Idempotency-Key must be 1–200 characters",
                ));
            }
            Ok(Some(k.to_owned()))
        }
    }
}

/// The signed-in officer, or 401.
pub(crate) async fn officer<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<String, Problem> {
    state
        .auth
        .officer(headers)
        .await
        .ok_or_else(Problem::unauthenticated)
}

/// Whether `officer` may see `case`: a post (held or by mandate) at the case's unit or an
/// ancestor of it, or a part already taken in the case.
pub fn may_see<S: Store>(engine: &Engine<S>, officer: &str, case: &Case) -> bool {
    let under = |unit: &str| {
        case.unit == unit
            || case
                .unit
                .strip_prefix(unit)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    engine.posts_now(officer).iter().any(|(_, u)| under(u))
        || case.participants.iter().any(|p| p.officer == officer)
}

/// A case the officer may see, or 404 (also when it exists elsewhere: existence is not leaked).
pub(crate) async fn visible_case<S: Store>(
    state: &AppState<S>,
    officer: &str,
    id: &str,
) -> Result<Case, Problem> {
    match state.engine.case(id).await? {
        Some(c) if may_see(&state.engine, officer, &c) => Ok(c),
        _ => Err(Problem::not_found(format!("no case `{id}` at your units"))),
    }
}

pub(crate) fn step_of<'a>(def: &'a ServiceDefinition, case: &Case) -> Option<&'a Step> {
    case.step()
        .and_then(|s| def.steps.iter().find(|x| x.id == s))
}

pub(crate) fn status_json(status: &Status) -> (&'static str, Option<&'static str>) {
    match status {
        Status::Open(_) => ("open", None),
        Status::Closed(o) => ("closed", Some(o.as_str())),
    }
}

pub(crate) async fn definition<S: Store>(
    engine: &Engine<S>,
    case: &Case,
) -> Result<ServiceDefinition, Problem> {
    engine
        .store()
        .definition(
            &engine.config().tenant.id,
            &case.service,
            case.definition_version,
        )
        .await
        .map_err(alur_core::Error::from)?
        .ok_or_else(|| Problem::internal("the case's service definition is missing"))
}

fn case_json(case: &Case, def: Option<&ServiceDefinition>) -> Value {
    let (state, outcome) = status_json(&case.status);
    json!({
        "id": case.id,
        "service": case.service,
        "service_name": def.map(|d| d.name.clone()),
        "unit": case.unit,
        "state": state,
        "outcome": outcome,
        "step": case.step(),
        "step_name": def.and_then(|d| step_of(d, case)).map(|s| s.name.clone()),
        "version": case.version,
        "submitted_at": case.submitted_at.to_string(),
        "due_at": case.due_at.map(|t| t.to_string()),
        "step_due_at": case.step_due_at.map(|t| t.to_string()),
        "paused": case.paused_since.is_some(),
        "breached": case.breached,
        "assignee": case.assignee,
        "checked": case.checked,
        "filled": case.filled,
        "letter": case.letter.map(|l| l.as_str()),
    })
}

/// `GET /api/v1/services`.
pub(crate) async fn services<S: Store>(State(state): State<AppState<S>>) -> Json<Value> {
    let config = state.engine.config();
    let list: Vec<Value> = config
        .services
        .values()
        .map(|d| service_json(d, config))
        .collect();
    Json(json!({ "services": list }))
}

pub(crate) fn service_json(d: &ServiceDefinition, config: &alur_core::Config) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "category": d.category.label(),
        "runs_at": d.runs_at.title(),
        "regions": d.regions,
        "in_person_only": d.in_person_only,
        "legal_basis": d.legal_basis,
        "completion_time": d.completion_time.to_string(),
        "fee": {"amount": d.fee.amount, "note": d.fee.note},
        "product": {
            "name": d.product.name,
            "validity": d.product.validity.to_indonesian(),
        },
        "conditions": d.conditions.iter().map(|c| json!({"id": c.id, "question": c.question})).collect::<Vec<_>>(),
        "requirements": d.requirements.iter().map(|r| json!({"id": r.id, "name": r.name, "only_if": r.only_if})).collect::<Vec<_>>(),
        "fields": d.fields.iter().map(|f| json!({"id": f.id, "label": f.label})).collect::<Vec<_>>(),
        "steps": d.steps.iter().map(|s| json!({"id": s.id, "name": s.name, "sla": s.sla.map(|x| x.to_string())})).collect::<Vec<_>>(),
        "complaint_channels": d.complaint_channels.iter().map(|c| json!({"name": c.name, "contact": c.contact})).collect::<Vec<_>>(),
        "units": config.units.keys().filter(|u| config.offers(u, d)).collect::<Vec<_>>(),
    })
}

/// The body of `POST /api/v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitBody {
    service: String,
    unit: String,
    nik: String,
    #[serde(default)]
    conditions: BTreeSet<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

impl SubmitBody {
    /// The submission, when every input passes [`crate::validate::application`]; else a 422
    /// listing each input's problem.
    pub(crate) fn submission<S: Store>(self, engine: &Engine<S>) -> Result<Submission, Problem> {
        let def = engine
            .service(&self.service)
            .ok_or_else(|| Problem::not_found(format!("unknown service `{}`", self.service)))?;
        let (nik, errors) =
            crate::validate::application(engine.config(), def, &self.nik, &self.unit, &self.fields);
        let nik = match nik {
            Some(n) if errors.is_empty() => n,
            _ => return Err(Problem::invalid_application(errors)),
        };
        let fields = self
            .fields
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Ok(Submission {
            service: self.service,
            unit: self.unit,
            applicant: engine.pseudonymizer().person(&nik),
            conditions: self.conditions,
            payload: Payload {
                fields,
                ..Payload::default()
            },
        })
    }
}

/// Submit through the engine, counting the transition (`key` is namespaced by the caller),
/// under a fresh id that a short tracking code names ([`tracking::new_short_case_id`]);
/// an id already taken (about one in a billion submissions a year) is drawn again.
pub(crate) async fn submit_case<S: Store>(
    state: &AppState<S>,
    submission: Submission,
    key: Option<&str>,
) -> Result<Case, Problem> {
    let mut tries = 0;
    loop {
        tries += 1;
        let id = tracking::new_short_case_id(state.engine.pseudonymizer())
            .ok_or_else(|| Problem::internal("the system has no random source"))?;
        match state.engine.submit_as(&id, submission.clone(), key).await {
            Ok(case) => {
                state.metrics.transition("submit");
                return Ok(case);
            }
            Err(e) if e.kind() == alur_core::ErrorKind::Conflict && tries < 3 => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The links and codes a submission hands the applicant (API answer and receipt).
pub(crate) fn handover<S: Store>(state: &AppState<S>, case_id: &str) -> serde_json::Value {
    let p = state.engine.pseudonymizer();
    let code = tracking::code(p, case_id);
    let short = tracking::short_code(p, case_id);
    let base = state.settings.public_url.trim_end_matches('/');
    let path = short.clone().unwrap_or_else(|| code.clone());
    json!({
        "tracking_code": code,
        "short_code": short,
        "tracking_url": format!("{base}/lacak/{path}"),
        "receipt_url": format!("{base}/lacak/{path}/tanda-terima"),
    })
}

/// `POST /api/v1/cases`.
pub(crate) async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Result<Json<SubmitBody>, JsonRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    if key.is_none() && state.settings.require_idempotency_key {
        return Err(Problem::bad_request(
            "an Idempotency-Key header is required for submissions",
        ));
    }
    let submission = json_body(body)?.submission(&state.engine)?;
    let key = key.map(|k| format!("api/v1/cases:{k}"));
    let case = submit_case(&state, submission, key.as_deref()).await?;
    let def = state.engine.service(&case.service).map(|d| &**d);
    let mut body = handover(&state, &case.id);
    body["case"] = case_json(&case, def);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// What the applicant sees of a case (shared by the JSON API and the tracking page).
pub(crate) struct Progress {
    pub case: Case,
    pub def: ServiceDefinition,
    pub timeline: Vec<(jiff::Timestamp, String, Option<String>)>,
    pub fields: BTreeMap<String, String>,
}

pub(crate) async fn progress<S: Store>(
    state: &AppState<S>,
    code: &str,
) -> Result<Progress, Problem> {
    let engine = &state.engine;
    let missing = || Problem::not_found("no case has this tracking code");
    let id = tracking::case_id(engine.pseudonymizer(), code).ok_or_else(missing)?;
    let case = engine.case(&id).await?.ok_or_else(missing)?;
    let def = definition(engine, &case).await?;
    let mut fields = BTreeMap::new();
    let mut timeline = Vec::new();
    for item in engine.timeline(&id).await? {
        let reason = item.payload.as_ref().and_then(|p| p.reason.clone());
        if let Some(p) = &item.payload {
            fields.extend(p.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        timeline.push((
            item.entry.at,
            alur_core::audit::describe(&item.entry, engine.config()),
            reason,
        ));
    }
    // Only the applicant's own form fields, not values officers added for internal use.
    fields.retain(|k, _| def.fields.iter().any(|f| &f.id == k));
    Ok(Progress {
        case,
        def,
        timeline,
        fields,
    })
}

/// `GET /api/v1/track/{code}`.
pub(crate) async fn track<S: Store>(
    State(state): State<AppState<S>>,
    Path(code): Path<String>,
) -> Result<Json<Value>, Problem> {
    let p = progress(&state, &code).await?;
    let mut body = case_json(&p.case, Some(&p.def));
    body["timeline"] = p
        .timeline
        .iter()
        .map(|(at, text, reason)| json!({"at": at.to_string(), "text": text, "reason": reason}))
        .collect();
    body["fields"] = json!(p.fields);
    body["short_code"] = json!(tracking::short_code(
        state.engine.pseudonymizer(),
        &p.case.id
    ));
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct InboxQuery {
    limit: Option<usize>,
}

/// `GET /api/v1/inbox`.
pub(crate) async fn inbox<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let officer = officer(&state, &headers).await?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_INBOX {
        return Err(Problem::bad_request(format!("limit must be 1–{MAX_INBOX}")));
    }
    let cases = state.engine.inbox(&officer, limit).await?;
    let list: Vec<Value> = cases
        .iter()
        .map(|c| case_json(c, state.engine.service(&c.service).map(|d| &**d)))
        .collect();
    Ok(Json(json!({ "officer": officer, "cases": list })))
}

/// `GET /api/v1/cases/{id}`.
pub(crate) async fn case<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let officer = officer(&state, &headers).await?;
    let case = visible_case(&state, &officer, &id).await?;
    let def = definition(&state.engine, &case).await?;
    let allowed = state
        .engine
        .allowed_actions(&def, &case, &officer, state.engine.clock().now());
    let mut body = case_json(&case, Some(&def));
    let actions: Vec<Value> = step_of(&def, &case)
        .map(|s| {
            s.actions
                .iter()
                .filter(|a| allowed.contains(&a.id))
                .map(|a| {
                    json!({
                        "id": a.id,
                        "name": a.name,
                        "reason_required": a.reason_required,
                        "requires_checked": a.requires_checked,
                        "requires_fields": a.requires_fields,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    body["allowed_actions"] = json!(actions);
    Ok(Json(body))
}

/// `GET /api/v1/cases/{id}/timeline`.
pub(crate) async fn timeline<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let officer = officer(&state, &headers).await?;
    let case = visible_case(&state, &officer, &id).await?;
    let items = state.engine.timeline(&case.id).await?;
    let list: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "seq": i.entry.seq,
                "at": i.entry.at.to_string(),
                "text": alur_core::audit::describe(&i.entry, state.engine.config()),
                "actor": i.entry.actor,
                "hash": i.entry.hash,
                "reason": i.payload.as_ref().and_then(|p| p.reason.clone()),
                "fields": i.payload.as_ref().map(|p| p.fields.clone()),
            })
        })
        .collect();
    Ok(Json(json!({ "case": case.id, "entries": list })))
}

/// The body of `POST /api/v1/cases/{id}/actions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActBody {
    action: String,
    seen_version: u64,
    #[serde(default)]
    checked: BTreeSet<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    reason: Option<String>,
}

/// `POST /api/v1/cases/{id}/actions`.
pub(crate) async fn act<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ActBody>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let officer = officer(&state, &headers).await?;
    let key = idempotency_key(&headers)?;
    let body = json_body(body)?;
    let case = visible_case(&state, &officer, &id).await?;
    let command = Command::Act {
        actor: Actor::Officer(officer.clone()),
        action: body.action,
        seen_version: body.seen_version,
        checked: body.checked,
        payload: Payload {
            fields: body.fields,
            reason: body.reason.filter(|r| !r.trim().is_empty()),
            text: None,
        },
    };
    let key = key.map(|k| format!("api/v1/actions:{officer}:{k}"));
    let after = state
        .engine
        .execute(&case.id, command, key.as_deref())
        .await?;
    state.metrics.transition("act");
    let def = definition(&state.engine, &after).await?;
    Ok(Json(case_json(&after, Some(&def))))
}

/// `GET /api/v1/letters/{token}/verify`.
pub(crate) async fn verify_letter<S: Store>(
    State(state): State<AppState<S>>,
    Path(token): Path<String>,
) -> Result<Json<Value>, Problem> {
    let v = verification(&state, &token).await?;
    let letter = v.letter.as_ref();
    Ok(Json(json!({
        "verdict": v.verdict,
        "valid": v.verdict.is_valid(),
        "text": v.verdict.text(),
        "number": letter.map(|l| l.number.clone()),
        "service": letter.map(|l| l.service.clone()),
        "service_name": v.service_name,
        "unit": letter.map(|l| l.unit.clone()),
        "unit_name": v.unit_name,
        "issued_at": letter.and_then(|l| l.issued_at).map(|t| t.to_string()),
        "valid_until": letter.and_then(|l| l.valid_until).map(|d| d.to_string()),
        "revoked_at": letter.and_then(|l| l.revoked_at).map(|t| t.to_string()),
        "signer": letter.and_then(|l| l.signer.as_ref()).map(|s| json!({"name": s.name, "title": s.title(), "nip": s.nip})),
        "in_log": v.log.as_ref().map(|p| p.included),
        "checkpoint_signature_ok": v.log.as_ref().and_then(|p| p.signature_ok),
        "log_note": v.log_note,
    })))
}

/// Check a letter (a look-up is counted on the letter).
pub(crate) async fn verification<S: Store>(
    state: &AppState<S>,
    token: &str,
) -> Result<alur_letter::issue::Verification, Problem> {
    let engine = &state.engine;
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(Problem::not_found("no letter has this token"));
    }
    let unit = engine
        .letter(token)
        .await?
        .map(|l| l.unit)
        .unwrap_or_default();
    let today = engine
        .calendars()
        .for_unit(&unit)
        .time_zone()
        .to_datetime(engine.clock().now())
        .date();
    alur_letter::issue::verify(
        engine.store(),
        engine.config(),
        Some(token),
        None,
        state.settings.checkpoint_verifier.as_ref(),
        today,
    )
    .await
    .map_err(|e| Problem::from(alur_core::Error::from(e)))
}
