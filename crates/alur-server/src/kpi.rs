//! Performance figures over HTTP: `GET /api/v1/kpi` (JSON or CSV) and the dashboard page
//! `GET /kinerja`, read through a [`KpiSource`] the host provides ([`SqliteKpiSource`],
//! [`PgKpiSource`], or its own).
//!
//! The figures are aggregates (counts, lead times, the satisfaction index) with no personal
//! data. By default any signed-in officer may read them for any region; with
//! [`Settings::public_kpi`](crate::Settings::public_kpi) they are public, as performance
//! reports of public services usually are.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as QueryParams, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::Mutex;

use alur_core::Store;
use alur_core::publish::escape as e;
use alur_kpi::{Format, KpiContext, KpiError, Language, Period, PgKpi, Query, Report, SqliteKpi};

use crate::pages::error_page;
use crate::problem::Problem;
use crate::{AppState, api};

/// Where the service desk reads performance reports from.
///
/// # Behavior
/// - `report` answers `query` from facts no older than the source's refresh interval.
/// - An unknown unit or an impossible period is [`KpiError::Invalid`]; the database's failures
///   are [`KpiError::Database`] or [`KpiError::NotMigrated`].
#[async_trait]
pub trait KpiSource: Send + Sync + 'static {
    /// The report for `query`.
    async fn report(&self, query: Query) -> Result<Arc<Report>, KpiError>;
}

/// Reports computed recently, keyed by the query without its `as_of` instant.
struct Cache {
    ttl: Duration,
    last_refresh: Option<Instant>,
    entries: Vec<(Query, Instant, Arc<Report>)>,
}

const CACHE_ENTRIES: usize = 32;

impl Cache {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last_refresh: None,
            entries: Vec::new(),
        }
    }

    fn key(q: &Query) -> Query {
        Query {
            as_of: None,
            ..q.clone()
        }
    }

    fn get(&mut self, q: &Query) -> Option<Arc<Report>> {
        let ttl = self.ttl;
        self.entries.retain(|(_, at, _)| at.elapsed() < ttl);
        let key = Self::key(q);
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, r)| r.clone())
    }

    fn put(&mut self, q: &Query, r: Arc<Report>) {
        if self.entries.len() >= CACHE_ENTRIES {
            self.entries.remove(0);
        }
        self.entries.push((Self::key(q), Instant::now(), r));
    }

    /// Whether the facts should be brought up to date before the next report.
    fn refresh_due(&self) -> bool {
        self.last_refresh.is_none_or(|t| t.elapsed() >= self.ttl)
    }
}

/// The report for `query`: a recent equal one, or `compute(refresh)` (refreshing the facts
/// first when the interval has passed). One computation at a time: a report reads every fact
/// row of its period, and a second equal request waits for the first one's answer instead of
/// repeating it.
async fn cached<F, Fut>(
    cache: &Mutex<Cache>,
    query: Query,
    compute: F,
) -> Result<Arc<Report>, KpiError>
where
    F: FnOnce(Query, bool) -> Fut,
    Fut: std::future::Future<Output = Result<Report, KpiError>>,
{
    let mut cache = cache.lock().await;
    if let Some(r) = cache.get(&query) {
        return Ok(r);
    }
    let refresh = cache.refresh_due();
    let report = Arc::new(compute(query.clone(), refresh).await?);
    if refresh {
        cache.last_refresh = Some(Instant::now());
    }
    cache.put(&query, report.clone());
    Ok(report)
}

/// Reports from an SQLite store's fact tables ([`SqliteKpi`]), refreshed from the audit log at
/// most once per interval; equal queries within the interval share one computation.
pub struct SqliteKpiSource {
    kpi: Arc<SqliteKpi>,
    ctx: Arc<KpiContext>,
    cache: Mutex<Cache>,
}

impl SqliteKpiSource {
    /// A source over `kpi` (e.g. `SqliteKpi::new(store.path())`) for the configuration's
    /// calendars and services; facts and reports are at most `interval` old.
    pub fn new(kpi: SqliteKpi, config: &alur_core::Config, interval: Duration) -> Self {
        Self {
            kpi: Arc::new(kpi),
            ctx: Arc::new(KpiContext::from_config(config)),
            cache: Mutex::new(Cache::new(interval)),
        }
    }
}

#[async_trait]
impl KpiSource for SqliteKpiSource {
    async fn report(&self, query: Query) -> Result<Arc<Report>, KpiError> {
        cached(&self.cache, query, |q, refresh| {
            let (kpi, ctx) = (self.kpi.clone(), self.ctx.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    if refresh {
                        kpi.refresh(&q.tenant, &ctx)?;
                    }
                    kpi.report(&ctx, &q)
                })
                .await
                .map_err(|e| KpiError::Database(format!("the report task failed: {e}")))?
            }
        })
        .await
    }
}

/// Reports from a PostgreSQL store's fact tables ([`PgKpi`]), refreshed at most once per
/// interval; equal queries within the interval share one computation.
pub struct PgKpiSource {
    kpi: PgKpi,
    ctx: KpiContext,
    cache: Mutex<Cache>,
}

impl PgKpiSource {
    /// A source over `kpi` (e.g. `PgKpi::new(store.pool().clone())`); facts and reports are
    /// at most `interval` old.
    pub fn new(kpi: PgKpi, config: &alur_core::Config, interval: Duration) -> Self {
        Self {
            kpi,
            ctx: KpiContext::from_config(config),
            cache: Mutex::new(Cache::new(interval)),
        }
    }
}

#[async_trait]
impl KpiSource for PgKpiSource {
    async fn report(&self, query: Query) -> Result<Arc<Report>, KpiError> {
        cached(&self.cache, query, |q, refresh| async move {
            if refresh {
                self.kpi.refresh(&q.tenant, &self.ctx).await?;
            }
            self.kpi.report(&self.ctx, &q).await
        })
        .await
    }
}

impl From<KpiError> for Problem {
    fn from(err: KpiError) -> Self {
        match err {
            KpiError::Invalid(d) => Problem::bad_request(d),
            KpiError::NotMigrated => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Data kinerja belum tersedia",
                KpiError::NotMigrated.to_string(),
            ),
            other => Problem::internal(other.to_string()),
        }
    }
}

/// Query parameters of both endpoints.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct KpiParams {
    /// Region code or `nasional`; default: the tenant's region.
    unit: Option<String>,
    /// `2026-03`, `2026-Q1` or `2026`; default: the current month.
    period: Option<String>,
    /// Rows: children, kabupaten, kota, kecamatan, kelurahan, desa, all, total.
    by: Option<String>,
    /// Only this service.
    service: Option<String>,
    /// One row per service under each region as well.
    per_service: Option<bool>,
    /// `json` (default) or `csv` (API only).
    format: Option<String>,
    /// `id` (default) or `en` (CSV headers).
    lang: Option<String>,
}

fn current_month<S: Store>(state: &AppState<S>) -> String {
    let now = state.engine.clock().now();
    let tz = state
        .engine
        .calendars()
        .for_unit(&state.engine.config().tenant.region)
        .time_zone()
        .clone();
    tz.to_datetime(now).strftime("%Y-%m").to_string()
}

/// The query the parameters ask for (defaults filled in), and the period text used.
fn build_query<S: Store>(
    state: &AppState<S>,
    p: &KpiParams,
    trend: bool,
) -> Result<Query, Problem> {
    let config = state.engine.config();
    let unit = p
        .unit
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(&config.tenant.region)
        .to_owned();
    let period_text = p
        .period
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(|| current_month(state), str::to_owned);
    let period: Period = period_text
        .parse()
        .map_err(|e: KpiError| Problem::bad_request(format!("period: {e}")))?;
    let mut q = Query::new(&config.tenant.id, &unit, period);
    if let Some(by) = p.by.as_deref() {
        q.by = by
            .parse()
            .map_err(|e: KpiError| Problem::bad_request(format!("by: {e}")))?;
    }
    q.service = p.service.clone().filter(|s| !s.is_empty());
    q.per_service = p.per_service.unwrap_or(false);
    q.as_of = Some(state.engine.clock().now());
    q.trend = trend;
    Ok(q)
}

async fn may_read<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Result<(), Problem> {
    if state.settings.public_kpi {
        return Ok(());
    }
    api::officer(state, headers).await.map(|_| ())
}

fn source<S: Store>(state: &AppState<S>) -> Result<Arc<dyn KpiSource>, Problem> {
    state.kpi.clone().ok_or_else(|| {
        Problem::not_found(
            "this service desk has no performance figures: the host enables them with AppState::with_kpi (alur serve does)",
        )
    })
}

/// `GET /api/v1/kpi`: the report as JSON (`alur kpi --format json`) or CSV.
pub(crate) async fn api_report<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    params: Result<QueryParams<KpiParams>, QueryRejection>,
) -> Result<Response, Problem> {
    may_read(&state, &headers).await?;
    let QueryParams(p) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
    let (format, media) = match p.format.as_deref().unwrap_or("json") {
        "json" => (Format::Json, "application/json"),
        "csv" => (Format::Csv, "text/csv; charset=utf-8"),
        f => {
            return Err(Problem::bad_request(format!(
                "format `{f}`: use json or csv"
            )));
        }
    };
    let lang = match p.lang.as_deref().unwrap_or("id") {
        "id" => Language::Indonesian,
        "en" => Language::English,
        l => return Err(Problem::bad_request(format!("lang `{l}`: use id or en"))),
    };
    let query = build_query(&state, &p, false)?;
    let report = source(&state)?.report(query).await?;
    let mut r = (StatusCode::OK, alur_kpi::render(&report, format, lang)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(r)
}

/// `GET /kinerja`: the dashboard (the `alur kpi --format html` page) with a form to choose
/// the region, the period and the rows.
pub(crate) async fn dashboard<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    params: Result<QueryParams<KpiParams>, QueryRejection>,
) -> Response {
    if may_read(&state, &headers).await.is_err() {
        return crate::officer::sign_in_first(&state);
    }
    let p = match params {
        Ok(QueryParams(p)) => p,
        Err(err) => return error_page(&Problem::bad_request(err.body_text())),
    };
    let query = match build_query(&state, &p, true) {
        Ok(q) => q,
        Err(p) => return error_page(&p),
    };
    let source = match source(&state) {
        Ok(s) => s,
        Err(p) => return error_page(&p),
    };
    let form = format!(
        "<form method=\"get\" action=\"/kinerja\" style=\"margin:0 0 12px\">\
<label>Wilayah (kode) <input name=\"unit\" value=\"{unit}\" size=\"12\"></label> \
<label>Periode <input name=\"period\" value=\"{period}\" size=\"8\" placeholder=\"2026-03\"></label> \
<label>Baris <select name=\"by\">{options}</select></label> \
<button type=\"submit\">Tampilkan</button> <a href=\"/petugas\">Kotak masuk</a></form>\n",
        unit = e(if query.unit.is_empty() {
            "nasional"
        } else {
            &query.unit
        }),
        period = e(&query.period.to_string()),
        options = [
            ("children", "anak wilayah"),
            ("kabupaten", "kabupaten/kota"),
            ("kecamatan", "kecamatan"),
            ("kelurahan", "kelurahan/desa"),
            ("all", "semua"),
            ("total", "total"),
        ]
        .iter()
        .map(|(v, label)| {
            let selected = if p.by.as_deref() == Some(*v) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{v}\"{selected}>{label}</option>")
        })
        .collect::<String>(),
    );
    let report = match source.report(query).await {
        Ok(r) => r,
        Err(err) => return error_page(&Problem::from(err)),
    };
    let page = alur_kpi::render(&report, Format::Html, Language::Indonesian);
    let page = match page.find("<body>") {
        Some(i) => {
            let at = i + "<body>".len();
            format!("{}\n{form}{}", &page[..at], &page[at..])
        }
        None => page,
    };
    crate::pages::html_response(StatusCode::OK, page)
}
