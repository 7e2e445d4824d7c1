//! The OpenAPI 3.1 document, generated from [`OPERATIONS`], the table of the JSON API's routes
//! (the router's tests check that every operation listed is served).

use serde_json::{Map, Value, json};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// In the query string.
    Query,
    /// A request header.
    Header,
}

/// A query or header parameter (path parameters are read from the path's `{name}`s).
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// Where.
    pub location: In,
    /// Whether it must be given.
    pub required: bool,
    /// What it is.
    pub description: &'static str,
}

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// `get` or `post`.
    pub method: &'static str,
    /// Path template with `{name}` parameters.
    pub path: &'static str,
    /// Operation id.
    pub id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Needs an authenticated officer.
    pub officer: bool,
    /// Query and header parameters.
    pub params: &'static [Param],
    /// Name of the request body's schema in `components.schemas`, if any.
    pub body: Option<&'static str>,
    /// Status codes and what they mean.
    pub responses: &'static [(u16, &'static str)],
}

const IDEMPOTENCY_KEY: Param = Param {
    name: "Idempotency-Key",
    location: In::Header,
    required: false,
    description: "Same key and body replays the first response; the key with a different body is 422",
};

const KPI_PARAMS: &[Param] = &[
    Param {
        name: "unit",
        location: In::Query,
        required: false,
        description: "Region code (21, 21.71, 21.71.10) or `nasional`; default: the tenant's region",
    },
    Param {
        name: "period",
        location: In::Query,
        required: false,
        description: "Month (2026-03), quarter (2026-Q1) or year (2026); default: the current month",
    },
    Param {
        name: "by",
        location: In::Query,
        required: false,
        description: "Rows: children (default), kabupaten, kota, kecamatan, kelurahan, desa, all, total",
    },
    Param {
        name: "service",
        location: In::Query,
        required: false,
        description: "Only this service",
    },
    Param {
        name: "per_service",
        location: In::Query,
        required: false,
        description: "`true`: one row per service under each region as well",
    },
    Param {
        name: "format",
        location: In::Query,
        required: false,
        description: "`json` (default) or `csv` (the API only)",
    },
    Param {
        name: "lang",
        location: In::Query,
        required: false,
        description: "CSV headers: `id` (default) or `en`",
    },
];

const JURISDICTION: Param = Param {
    name: "jurisdiction_id",
    location: In::Query,
    required: false,
    description: "A unit code (prefix): only what it offers or holds",
};

/// Every operation served: the JSON API, and the forms of the HTML pages (those answer
/// `text/html`; their bodies are `application/x-www-form-urlencoded`).
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: "/health",
        id: "health",
        summary: "Liveness",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "Alive")],
    },
    Operation {
        method: "get",
        path: "/ready",
        id: "ready",
        summary: "Readiness: the store answers",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "Ready"), (503, "The store does not answer")],
    },
    Operation {
        method: "get",
        path: "/metrics",
        id: "metrics",
        summary: "Prometheus metrics (text format)",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "Metrics")],
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        id: "openapi",
        summary: "This document",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "OpenAPI 3.1 document")],
    },
    Operation {
        method: "get",
        path: "/api/v1/services",
        id: "listServices",
        summary: "The service catalogue with each service's published standard",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "Services")],
    },
    Operation {
        method: "post",
        path: "/api/v1/cases",
        id: "submitCase",
        summary: "Submit an application; answers with the case, its short tracking code (`short_code`, e.g. K7PQ-2MVH-9CWX), the full code and the tracking and receipt links",
        officer: false,
        params: &[IDEMPOTENCY_KEY],
        body: Some("Submission"),
        responses: &[
            (201, "Submitted (or the first response replayed)"),
            (400, "Malformed body or missing Idempotency-Key"),
            (404, "Unknown service"),
            (409, "Conflict"),
            (
                422,
                "Invalid input (`errors` lists each input: nik, unit, fields.<id>), or the key was used with another body",
            ),
            (429, "Rate limited"),
        ],
    },
    Operation {
        method: "get",
        path: "/api/v1/track/{code}",
        id: "trackCase",
        summary: "Track a case by its short code (any case, dashes optional) or its full tracking code (no sign-in)",
        officer: false,
        params: &[],
        body: None,
        responses: &[
            (200, "The case's progress"),
            (404, "No such code"),
            (
                429,
                "Rate limited (also after 20 unknown codes an hour from one address)",
            ),
        ],
    },
    Operation {
        method: "get",
        path: "/api/v1/inbox",
        id: "inbox",
        summary: "The signed-in officer's inbox, earliest deadline first",
        officer: true,
        params: &[Param {
            name: "limit",
            location: In::Query,
            required: false,
            description: "Most cases (1–500, default 100)",
        }],
        body: None,
        responses: &[(200, "Cases"), (400, "Bad limit"), (401, "Not signed in")],
    },
    Operation {
        method: "get",
        path: "/api/v1/cases/{id}",
        id: "getCase",
        summary: "A case with the actions the officer may take",
        officer: true,
        params: &[],
        body: None,
        responses: &[
            (200, "The case"),
            (401, "Not signed in"),
            (404, "No such case at the officer's units"),
        ],
    },
    Operation {
        method: "get",
        path: "/api/v1/cases/{id}/timeline",
        id: "getTimeline",
        summary: "A case's audit timeline",
        officer: true,
        params: &[],
        body: None,
        responses: &[
            (200, "Timeline"),
            (401, "Not signed in"),
            (404, "No such case at the officer's units"),
        ],
    },
    Operation {
        method: "post",
        path: "/api/v1/cases/{id}/actions",
        id: "actOnCase",
        summary: "Take an action of the case's current step",
        officer: true,
        params: &[IDEMPOTENCY_KEY],
        body: Some("Action"),
        responses: &[
            (200, "The case after the action"),
            (400, "Malformed body"),
            (401, "Not signed in"),
            (403, "Not allowed (role, mandate, separation of duties)"),
            (
                404,
                "No such case at the officer's units, or no such action",
            ),
            (
                409,
                "The case changed since `seen_version`, or the action is not possible now",
            ),
            (422, "Invalid input (reason, requirements, fields)"),
        ],
    },
    Operation {
        method: "get",
        path: "/api/v1/letters/{token}/verify",
        id: "verifyLetter",
        summary: "Verify a letter by the token its QR code carries",
        officer: false,
        params: &[],
        body: None,
        responses: &[
            (200, "The verdict (`unknown` for a token no letter has)"),
            (429, "Rate limited"),
        ],
    },
    Operation {
        method: "get",
        path: "/api/v1/kpi",
        id: "kpiReport",
        summary: "Performance figures of a region and the regions below it for a period (KPIs, IKM)",
        officer: true,
        params: KPI_PARAMS,
        body: None,
        responses: &[
            (200, "The report (JSON, or CSV with `format=csv`)"),
            (400, "Unknown region, bad period or bad parameter"),
            (401, "Not signed in (unless the figures are public)"),
            (404, "This service desk serves no performance figures"),
        ],
    },
    Operation {
        method: "get",
        path: "/kinerja",
        id: "kpiDashboard",
        summary: "The performance dashboard page (HTML, inline SVG charts, no scripts)",
        officer: true,
        params: KPI_PARAMS,
        body: None,
        responses: &[
            (200, "The dashboard"),
            (303, "To the sign-in form"),
            (400, "Unknown region, bad period or bad parameter"),
            (401, "Not signed in (unless the figures are public)"),
            (404, "This service desk serves no performance figures"),
        ],
    },
    Operation {
        method: "get",
        path: "/masuk",
        id: "signInForm",
        summary: "Officers' sign-in form (HTML; with a FileAuthenticator)",
        officer: false,
        params: &[],
        body: None,
        responses: &[
            (200, "The form"),
            (404, "Password sign-in is not configured"),
        ],
    },
    Operation {
        method: "post",
        path: "/masuk",
        id: "signIn",
        summary: "Sign in: sets the `alur_sesi` session cookie and redirects to `/petugas`",
        officer: false,
        params: &[],
        body: Some("SignInForm"),
        responses: &[
            (303, "Signed in"),
            (400, "Unreadable form"),
            (401, "Wrong officer id or password"),
            (403, "Missing or wrong CSRF token"),
            (404, "Password sign-in is not configured"),
            (429, "Too many failed sign-ins from this address"),
        ],
    },
    Operation {
        method: "post",
        path: "/keluar",
        id: "signOut",
        summary: "Sign out: ends the session and redirects to `/masuk`",
        officer: false,
        params: &[],
        body: Some("CsrfForm"),
        responses: &[(303, "Signed out"), (403, "Missing or wrong CSRF token")],
    },
    Operation {
        method: "get",
        path: "/petugas",
        id: "inboxPage",
        summary: "The officer's inbox page (HTML), earliest deadline first, with SLA states",
        officer: true,
        params: &[],
        body: None,
        responses: &[
            (200, "The inbox"),
            (303, "To the sign-in form"),
            (401, "Not signed in"),
        ],
    },
    Operation {
        method: "get",
        path: "/petugas/perkara/{id}",
        id: "casePage",
        summary: "A case page (HTML): checklist, fields, timeline and one form per allowed action",
        officer: true,
        params: &[],
        body: None,
        responses: &[
            (200, "The case"),
            (303, "To the sign-in form"),
            (401, "Not signed in"),
            (404, "No such case at the officer's units"),
        ],
    },
    Operation {
        method: "post",
        path: "/petugas/perkara/{id}/aksi",
        id: "actOnCasePage",
        summary: "Take an action from the case page; redirects back to it with a message",
        officer: true,
        params: &[],
        body: Some("ActionForm"),
        responses: &[
            (303, "Back to the case page (or to the sign-in form)"),
            (400, "Unreadable form"),
            (401, "Not signed in"),
            (403, "Missing or wrong CSRF token"),
            (404, "No such case at the officer's units"),
        ],
    },
    Operation {
        method: "get",
        path: "/layanan/{id}/ajukan",
        id: "submissionForm",
        summary: "The citizen's submission form (HTML) with the requirement checklist",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "The form"), (404, "No such service online")],
    },
    Operation {
        method: "post",
        path: "/layanan/{id}/ajukan",
        id: "submitForm",
        summary: "Submit from the form; redirects to the receipt `/lacak/{code}/tanda-terima`",
        officer: false,
        params: &[],
        body: Some("SubmissionForm"),
        responses: &[
            (303, "Submitted: to the receipt"),
            (400, "Unreadable form"),
            (403, "Missing or wrong CSRF token"),
            (404, "No such service online"),
            (409, "Conflict"),
            (
                422,
                "Invalid input: the form again, what was typed kept, each problem beside its input",
            ),
            (429, "Rate limited"),
        ],
    },
    Operation {
        method: "get",
        path: "/open311/v2/services.json",
        id: "open311Services",
        summary: "Open311 GeoReport v2 service list",
        officer: false,
        params: &[JURISDICTION],
        body: None,
        responses: &[(200, "Services"), (400, "Invalid query")],
    },
    Operation {
        method: "get",
        path: "/open311/v2/services/{code}.json",
        id: "open311Service",
        summary: "Open311 service definition: the service's fields as attributes",
        officer: false,
        params: &[],
        body: None,
        responses: &[(200, "Service definition"), (404, "No such service")],
    },
    Operation {
        method: "get",
        path: "/open311/v2/requests.json",
        id: "open311Requests",
        summary: "Open311 requests as the public may see them (no personal data)",
        officer: false,
        params: &[
            Param {
                name: "service_request_id",
                location: In::Query,
                required: false,
                description: "Comma-separated tracking codes",
            },
            Param {
                name: "service_code",
                location: In::Query,
                required: false,
                description: "Service id",
            },
            Param {
                name: "status",
                location: In::Query,
                required: false,
                description: "open or closed",
            },
            Param {
                name: "start_date",
                location: In::Query,
                required: false,
                description: "Submitted at or after (w3c datetime)",
            },
            Param {
                name: "end_date",
                location: In::Query,
                required: false,
                description: "Submitted before (w3c datetime)",
            },
            JURISDICTION,
        ],
        body: None,
        responses: &[(200, "Requests"), (400, "Invalid query")],
    },
    Operation {
        method: "post",
        path: "/open311/v2/requests.json",
        id: "open311CreateRequest",
        summary: "Open311 request creation: submits a case; answers with its tracking code",
        officer: false,
        params: &[],
        body: Some("Open311Request"),
        responses: &[
            (
                200,
                "Created: `[{\"service_request_id\": <tracking code>}]`",
            ),
            (400, "Missing or invalid input"),
            (404, "Unknown service"),
            (409, "Conflict"),
            (422, "Invalid input"),
            (429, "Rate limited"),
        ],
    },
];

/// Every `{name}` of a path template, wherever it stands in its segment (`{code}.json`).
fn path_params(path: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        names.push(&rest[open + 1..open + len]);
        rest = &rest[open + len + 1..];
    }
    names
}

fn schemas() -> Value {
    json!({
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details (application/problem+json)",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "description": "A refused application: what is wrong with each input, in Indonesian",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string", "description": "nik, unit or fields.<field id>"},
                            "message": {"type": "string"}
                        },
                        "required": ["field", "message"]
                    }
                }
            },
            "required": ["type", "title", "status"]
        },
        "Submission": {
            "type": "object",
            "properties": {
                "service": {"type": "string", "description": "Service id"},
                "unit": {"type": "string", "description": "Unit code, e.g. 21.71.10.1001"},
                "nik": {"type": "string", "description": "The applicant's 16-digit NIK (stored only as a keyed pseudonym)"},
                "conditions": {"type": "array", "items": {"type": "string"}},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "required": ["service", "unit", "nik"]
        },
        "Open311Request": {
            "type": "object",
            "description": "`attribute[<field id>]` for each field of the service",
            "properties": {
                "service_code": {"type": "string"},
                "jurisdiction_id": {"type": "string", "description": "Unit code (or address_id)"},
                "address_id": {"type": "string", "description": "Unit code"},
                "nik": {"type": "string", "description": "Extension: the applicant's 16-digit NIK"}
            },
            "required": ["service_code", "nik"]
        },
        "SignInForm": {
            "type": "object",
            "properties": {
                "csrf": {"type": "string"},
                "petugas": {"type": "string", "description": "Officer id"},
                "sandi": {"type": "string", "description": "Password"}
            },
            "required": ["csrf", "petugas", "sandi"]
        },
        "CsrfForm": {
            "type": "object",
            "properties": {"csrf": {"type": "string"}},
            "required": ["csrf"]
        },
        "ActionForm": {
            "type": "object",
            "description": "Repeated `checked` for ticked requirements; `field[<id>]` for fields",
            "properties": {
                "csrf": {"type": "string"},
                "action": {"type": "string"},
                "seen_version": {"type": "integer", "minimum": 0},
                "checked": {"type": "string"},
                "reason": {"type": "string"}
            },
            "required": ["csrf", "action", "seen_version"]
        },
        "SubmissionForm": {
            "type": "object",
            "description": "Repeated `kondisi` for conditions that apply; `field[<id>]` for fields",
            "properties": {
                "csrf": {"type": "string"},
                "unit": {"type": "string"},
                "nik": {"type": "string"},
                "kondisi": {"type": "string"}
            },
            "required": ["csrf", "unit", "nik"]
        },
        "Action": {
            "type": "object",
            "properties": {
                "action": {"type": "string"},
                "seen_version": {"type": "integer", "minimum": 0},
                "checked": {"type": "array", "items": {"type": "string"}},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "reason": {"type": "string"}
            },
            "required": ["action", "seen_version"]
        }
    })
}

/// Whether `path` is one of the HTML pages.
fn is_page(path: &str) -> bool {
    ["/masuk", "/keluar", "/petugas", "/layanan"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// The media type of an operation's request body.
fn body_type(path: &str) -> &'static str {
    if is_page(path) || path.starts_with("/open311/") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    }
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let mut params: Vec<Value> = path_params(op.path)
            .into_iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(op.params.iter().map(|p| {
            json!({
                "name": p.name,
                "in": match p.location { In::Query => "query", In::Header => "header" },
                "required": p.required,
                "description": p.description,
                "schema": {"type": "string"},
            })
        }));
        let mut responses = Map::new();
        for (code, description) in op.responses {
            let content = if is_page(op.path) {
                json!({"text/html": {"schema": {"type": "string"}}})
            } else if op.path.starts_with("/open311/") {
                json!({"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}})
            } else if *code >= 400 {
                json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}})
            } else if op.path == "/metrics" {
                json!({"text/plain": {"schema": {"type": "string"}}})
            } else {
                json!({"application/json": {"schema": {"type": "object"}}})
            };
            responses.insert(
                code.to_string(),
                json!({"description": description, "content": content}),
            );
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "parameters": params,
            "responses": responses,
        });
        if let Some(schema) = op.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {body_type(op.path): {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            });
        }
        if op.officer {
            operation["security"] = json!([{"officer": []}]);
        }
        let item = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "alur service desk",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Applications to regional public services: catalogue, submission, tracking, officers' work and letter verification. Errors are application/problem+json (RFC 9457)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "officer": {"type": "http", "scheme": "bearer", "description": "Decided by the host's Authenticator"}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_in_the_document_once() {
        let doc = document();
        let mut seen = std::collections::BTreeSet::new();
        for op in OPERATIONS {
            assert!(
                seen.insert((op.method, op.path)),
                "{} {} twice",
                op.method,
                op.path
            );
            let o = &doc["paths"][op.path][op.method];
            assert_eq!(o["operationId"], op.id);
            for name in path_params(op.path) {
                let params = o["parameters"].as_array().expect("parameters");
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path")
                );
            }
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn path_parameters_are_found_inside_segments() {
        assert_eq!(path_params("/open311/v2/services/{code}.json"), ["code"]);
        assert_eq!(path_params("/api/v1/cases/{id}/actions"), ["id"]);
        assert_eq!(path_params("/a/{x}-{y}/b/{z}"), ["x", "y", "z"]);
        assert!(path_params("/health").is_empty());
    }
}
