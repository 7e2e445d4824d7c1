//! Errors as `application/problem+json` (RFC 9457).

use alur_core::ErrorKind;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem detail: `type`, `title` (Indonesian, for people), `status` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Short machine name; the `type` member is `urn:alur:problem:<kind>`.
    pub kind: &'static str,
    /// Title for people (Indonesian).
    pub title: String,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Seconds to wait, sent as `Retry-After` (rate limits).
    pub retry_after: Option<u64>,
    /// What is wrong with each input of a refused application: `(field, message)`, the field
    /// named as the request names it (`nik`, `unit`, `fields.nama`), the message in Indonesian;
    /// the `errors` member.
    pub errors: Vec<(String, String)>,
}

impl Problem {
    /// A problem with a status, a kind, a title and a detail.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title: title.into(),
            detail: detail.into(),
            retry_after: None,
            errors: Vec::new(),
        }
    }

    /// 422: an application refused, with what is wrong with each input.
    pub fn invalid_application(errors: Vec<(String, String)>) -> Self {
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Isian belum lengkap atau tidak valid",
            errors
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; "),
        );
        p.errors = errors;
        p
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Permintaan tidak valid",
            detail,
        )
    }

    /// 401: an officer must sign in.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Silakan masuk sebagai petugas",
            "this endpoint needs an authenticated officer",
        )
    }

    /// 404 for a thing (case, service, code) that does not exist or is not visible.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Tidak ditemukan",
            detail,
        )
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no-route",
            "Halaman tidak ditemukan",
            format!("no route serves `{path}`"),
        )
    }

    /// 405 for a method the path does not serve.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Metode tidak didukung",
            "this path does not serve this HTTP method",
        )
    }

    /// 429 with the seconds to wait.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Terlalu banyak permintaan; coba lagi sebentar lagi",
            "too many requests from this address",
        );
        p.retry_after = Some(retry_after.max(1));
        p
    }

    /// 500 without internals.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Terjadi gangguan pada server",
            detail,
        )
    }

    /// The `type` member.
    pub fn type_uri(&self) -> String {
        format!("urn:alur:problem:{}", self.kind)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut b = serde_json::json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            b["errors"] = self
                .errors
                .iter()
                .map(|(f, m)| serde_json::json!({"field": f, "message": m}))
                .collect();
        }
        b
    }
}

impl From<alur_core::Error> for Problem {
    fn from(e: alur_core::Error) -> Self {
        let detail = e.message().to_owned();
        match e.kind() {
            ErrorKind::NotFound => Self::not_found(detail),
            ErrorKind::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Anda tidak berwenang melakukan tindakan ini",
                detail,
            ),
            ErrorKind::SeparationOfDuties => Self::new(
                StatusCode::FORBIDDEN,
                "separation-of-duties",
                "Pemisahan tugas: tindakan ini harus dilakukan petugas lain",
                detail,
            ),
            ErrorKind::InvalidTransition => Self::new(
                StatusCode::CONFLICT,
                "invalid-transition",
                "Tindakan tidak dapat dilakukan pada tahap ini",
                detail,
            ),
            ErrorKind::Conflict => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "Berkas telah berubah; muat ulang lalu coba lagi",
                detail,
            ),
            ErrorKind::InvalidInput => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Isian belum lengkap atau tidak valid",
                detail,
            ),
            ErrorKind::IdempotencyMismatch => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-mismatch",
                "Kunci idempotensi sudah dipakai untuk permintaan lain",
                detail,
            ),
            ErrorKind::Storage if e.is_temporary() => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Layanan sedang sibuk; coba lagi",
                detail,
            ),
            ErrorKind::InvalidConfig | ErrorKind::Storage => Self::internal(detail),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut r = (self.status, body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
