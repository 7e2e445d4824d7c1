//! `alur-server`: the service desk over an [`alur_core::Engine`] as an axum [`Router`] a host
//! can mount or serve on its own.
//!
//! Fixed paths others rely on:
//!
//! | path | what |
//! |---|---|
//! | `GET /health` | liveness, `{"status":"ok"}` |
//! | `GET /ready` | readiness: the store answers |
//! | `GET /metrics` | Prometheus text: requests by route and status, transitions, open cases by SLA state, outbox depth |
//! | `GET /openapi.json` | OpenAPI 3.1 document of the JSON API ([`openapi::OPERATIONS`]) |
//! | `/api/v1/…` | the JSON API (services, cases, tracking, inbox, actions, timeline, letter verification) |
//! | `GET /`, `/layanan/{id}`, `/layanan/{id}/ajukan`, `/lacak/{code}`, `/verifikasi/{token}` | pages for citizens, in Indonesian |
//! | `GET /lacak/{code}/tanda-terima` | the printable receipt of a submission (short code, link, office, times, documents) |
//! | `POST /lacak/{code}/survei` | the satisfaction survey (SKM, nine elements), once per completed case |
//! | `POST /lacak/{code}/aksi` | the applicant's action on a returned file (e.g. `kirim-ulang`) |
//! | `GET /surat/{token}` | an issued letter's document, for printing |
//! | `GET /petugas/perkara/{id}/dokumen/{sha256}` | a document uploaded with a case, for its unit's officers |
//! | `GET /api/v1/kpi`, `GET /kinerja` | performance figures as JSON or CSV, and the dashboard page ([`KpiSource`]) |
//! | `/masuk`, `/keluar`, `/petugas`, `/petugas/perkara/{id}` | officers' sign-in and pages (with [`FileAuthenticator`]) |
//! | `/open311/v2/…` | Open311 GeoReport v2: `services.json`, `services/{code}.json`, `requests.json` |
//!
//! Every error of the API is `application/problem+json` (RFC 9457); pages answer errors with an
//! HTML page when the client asks for HTML. Officers are recognised by the host's
//! [`Authenticator`]; applicants never sign in: a submission answers with a [`tracking`] code.
//!
//! ```no_run
//! # async fn run(engine: alur_core::Engine<alur_core::MemoryStore>) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use alur_server::{AppState, NoAuthenticator, Settings};
//! let state = AppState::new(Arc::new(engine), Arc::new(NoAuthenticator), Settings::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! alur_server::serve(listener, alur_server::router(state), std::future::pending()).await
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use alur_core::{Engine, Store};

pub mod accounts;
mod api;
mod apply;
pub mod auth;
pub mod blobs;
mod forms;
pub mod kpi;
mod letters;
pub mod metrics;
mod officer;
mod open311;
pub mod openapi;
mod pages;
pub mod problem;
pub mod ratelimit;
pub mod tracking;
mod validate;

pub use accounts::{FileAuthenticator, hash_password};
pub use api::may_see;
pub use auth::{
    Authenticator, ChainAuthenticator, NoAuthenticator, TokenAuthenticator,
    TrustedHeaderAuthenticator,
};
pub use blobs::{Attachment, BlobRef, BlobStore, FsBlobStore, MemoryBlobStore};
pub use kpi::{KpiSource, PgKpiSource, SqliteKpiSource};
pub use metrics::Metrics;
pub use problem::Problem;
pub use ratelimit::RateLimiter;

/// Settings of the service desk.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The public base URL (tracking links in responses), e.g. `https://layanan.batam.go.id`.
    pub public_url: String,
    /// Whether `POST /api/v1/cases` requires an `Idempotency-Key` header (400 without one).
    pub require_idempotency_key: bool,
    /// Requests a minute per client address on the public endpoints (submission, tracking,
    /// verification); 0 turns the limit off.
    pub public_requests_per_minute: u32,
    /// Tracking look-ups whose code names no case, an hour per client address (a burst of the
    /// same size); past them every look-up from the address answers 429 until the bucket
    /// refills. Bounds guessing of tracking codes (docs/CONFIG.md, "Tracking codes"); 0 turns
    /// it off.
    pub tracking_misses_per_hour: u32,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// A configuration directory whose `letters/` holds template overrides and the emblem
    /// (`Templates::load`, `logo_data_uri`); `None`: the built-in templates, no emblem.
    pub letter_config_dir: Option<std::path::PathBuf>,
    /// Print issued letters to PDF with headless Chromium (`ALUR_CHROMIUM` or
    /// `/usr/bin/chromium`); `false` issues the HTML page itself.
    pub letter_pdf: bool,
    /// Where the default [`FsBlobStore`] keeps uploaded documents (created on the first upload).
    pub upload_dir: std::path::PathBuf,
    /// Largest uploaded document, in bytes.
    pub max_upload_bytes: usize,
    /// Most documents in one submission.
    pub max_upload_files: usize,
    /// Media types accepted for uploads, decided by content ([`blobs::sniff`]): any of
    /// `application/pdf`, `image/jpeg`, `image/png`.
    pub upload_types: Vec<String>,
    /// The tenant's checkpoint verifier key: letter verification then also checks the
    /// signature of the checkpoint its inclusion proof leads to.
    pub checkpoint_verifier: Option<alur_merkle::checkpoint::CheckpointVerifier>,
    /// Reverse proxies in front of the service desk: a request from one of them is counted
    /// against the address it appended to `X-Forwarded-For` ([`ratelimit::client_ip`]);
    /// empty: the connection's peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whether the performance figures (`/api/v1/kpi`, `/kinerja`) are public; `false`: only
    /// signed-in officers read them.
    pub public_kpi: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            require_idempotency_key: true,
            public_requests_per_minute: 120,
            tracking_misses_per_hour: 20,
            max_body_bytes: 64 * 1024,
            letter_config_dir: None,
            letter_pdf: false,
            upload_dir: "alur-dokumen".into(),
            max_upload_bytes: 2 * 1024 * 1024,
            max_upload_files: 10,
            upload_types: vec![
                "application/pdf".into(),
                "image/jpeg".into(),
                "image/png".into(),
            ],
            checkpoint_verifier: None,
            public_kpi: false,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What the handlers share: the engine, the host's authenticator, settings and counters.
pub struct AppState<S: Store> {
    /// The engine.
    pub engine: Arc<Engine<S>>,
    /// Who is an officer.
    pub auth: Arc<dyn Authenticator>,
    /// Settings.
    pub settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    limiter: Arc<RateLimiter>,
    misses: Arc<RateLimiter>,
    accounts: Option<Arc<FileAuthenticator>>,
    letters: Arc<letters::LetterKit>,
    blobs: Arc<dyn BlobStore>,
    kpi: Option<Arc<dyn KpiSource>>,
}

impl<S: Store> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            auth: self.auth.clone(),
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
            limiter: self.limiter.clone(),
            misses: self.misses.clone(),
            accounts: self.accounts.clone(),
            letters: self.letters.clone(),
            blobs: self.blobs.clone(),
            kpi: self.kpi.clone(),
        }
    }
}

impl<S: Store> AppState<S> {
    /// State over an engine with an authenticator and settings.
    pub fn new(engine: Arc<Engine<S>>, auth: Arc<dyn Authenticator>, settings: Settings) -> Self {
        let limiter = Arc::new(RateLimiter::new(settings.public_requests_per_minute));
        let misses = Arc::new(RateLimiter::per_hour(settings.tracking_misses_per_hour));
        let letters = Arc::new(letters::LetterKit::new(&settings));
        let blobs = Arc::new(FsBlobStore::new(settings.upload_dir.clone()));
        Self {
            engine,
            auth,
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            limiter,
            misses,
            accounts: None,
            letters,
            blobs,
            kpi: None,
        }
    }

    /// Keep uploaded documents in `blobs` instead of the default [`FsBlobStore`].
    #[must_use]
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = blobs;
        self
    }

    /// Serve performance figures (`/api/v1/kpi`, `/kinerja`) from `kpi`.
    #[must_use]
    pub fn with_kpi(mut self, kpi: Arc<dyn KpiSource>) -> Self {
        self.kpi = Some(kpi);
        self
    }

    /// Add password sign-in (`/masuk`, `/keluar`) with `accounts`: its session cookie is asked
    /// first, then the authenticator given to [`AppState::new`] (e.g. API tokens).
    #[must_use]
    pub fn with_accounts(mut self, accounts: Arc<FileAuthenticator>) -> Self {
        self.auth = Arc::new(
            ChainAuthenticator::new()
                .or(accounts.clone())
                .or(self.auth.clone()),
        );
        self.accounts = Some(accounts);
        self
    }

    /// The request and transition counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// `Strict-Transport-Security` on every answer of a desk whose public address is https.
async fn hsts<S: Store>(
    State(state): State<AppState<S>>,
    req: Request,
    next: middleware::Next,
) -> Response {
    let mut r = next.run(req).await;
    if state.settings.public_url.starts_with("https://") {
        r.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    r
}

/// The service desk's router (its state applied), to serve or to nest in a host's router.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let limit = state.settings.max_body_bytes;
    // Room for every document of a submission, their multipart framing and the fields.
    let upload_limit = state
        .settings
        .max_upload_bytes
        .saturating_add(4096)
        .saturating_mul(state.settings.max_upload_files.max(1))
        .saturating_add(limit);
    let public = Router::new()
        .route("/api/v1/cases", post(api::submit::<S>))
        .route("/api/v1/track/{code}", get(api::track::<S>))
        .route(
            "/api/v1/letters/{token}/verify",
            get(api::verify_letter::<S>),
        )
        .route("/lacak/{code}", get(pages::track::<S>))
        .route("/lacak/{code}/tanda-terima", get(pages::receipt::<S>))
        .route("/lacak/{code}/survei", post(pages::survey::<S>))
        .route(
            "/lacak/{code}/aksi",
            post(pages::applicant_act::<S>).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/surat/{token}", get(letters::document::<S>))
        .route(
            "/layanan/{id}/ajukan",
            post(apply::submit::<S>).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/open311/v2/requests.json", post(open311::create::<S>))
        .route("/verifikasi/{token}", get(pages::verify::<S>))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit::<S>,
        ));
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready::<S>))
        .route("/metrics", get(metrics_page::<S>))
        .route("/openapi.json", get(openapi_document))
        .route("/api/v1/services", get(api::services::<S>))
        .route("/api/v1/inbox", get(api::inbox::<S>))
        .route("/api/v1/cases/{id}", get(api::case::<S>))
        .route("/api/v1/cases/{id}/timeline", get(api::timeline::<S>))
        .route("/api/v1/cases/{id}/actions", post(api::act::<S>))
        .route("/api/v1/kpi", get(kpi::api_report::<S>))
        .route("/kinerja", get(kpi::dashboard::<S>))
        .route("/", get(pages::catalogue::<S>))
        .route("/layanan/{id}", get(pages::service::<S>))
        .route("/layanan/{id}/ajukan", get(apply::form::<S>))
        .route("/open311/v2/services.json", get(open311::services::<S>))
        .route("/open311/v2/services/{file}", get(open311::service::<S>))
        .route("/open311/v2/requests.json", get(open311::requests::<S>))
        .route("/lacak", get(pages::track_form))
        .route(
            "/masuk",
            get(officer::login_page::<S>).post(officer::login::<S>),
        )
        .route("/keluar", post(officer::logout::<S>))
        .route("/petugas", get(officer::inbox::<S>))
        .route("/petugas/perkara/{id}", get(officer::case_page::<S>))
        .route("/petugas/perkara/{id}/aksi", post(officer::act::<S>))
        .route(
            "/petugas/perkara/{id}/dokumen/{sha}",
            get(officer::document::<S>),
        )
        .route(
            "/petugas/perkara/{id}/terbitkan",
            post(officer::issue_letter::<S>),
        )
        .merge(public)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count::<S>,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::client_address::<S>,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), hsts::<S>))
        .with_state(state)
}

/// Serve `router` on `listener` until `shutdown` completes, with the clients' addresses
/// available to the rate limit.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn ready<S: Store>(State(state): State<AppState<S>>) -> Response {
    // A read of a reserved id that never exists: answers only when the store does.
    match state.engine.case("@ready").await {
        Ok(_) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Layanan belum siap",
            format!("the store does not answer: {e}"),
        )
        .into_response(),
    }
}

async fn metrics_page<S: Store>(State(state): State<AppState<S>>) -> Response {
    let body = metrics::render(&state).await;
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn openapi_document() -> impl IntoResponse {
    axum::Json(openapi::document())
}

fn wants_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

async fn no_route(req: Request) -> Response {
    if wants_html(&req) {
        return pages::error_page(&Problem::no_route(req.uri().path()));
    }
    Problem::no_route(req.uri().path()).into_response()
}

async fn method_not_allowed() -> Response {
    Problem::method_not_allowed().into_response()
}
