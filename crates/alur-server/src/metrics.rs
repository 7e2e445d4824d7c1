//! Counters for `/metrics` (Prometheus text format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use alur_core::Store;
use alur_core::store::SearchQuery;

use crate::AppState;

/// Most rows read for the gauges on each scrape (open cases, outbox depth).
pub const GAUGE_CAP: usize = 10_000;

/// Counters kept in memory by the router.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    transitions: Mutex<BTreeMap<&'static str, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Metrics {
    /// Count a request answered on `route` (the route template, or `unmatched`).
    pub fn request(&self, route: &str, status: u16) {
        *lock(&self.requests)
            .entry((route.to_owned(), status))
            .or_default() += 1;
    }

    /// Count a transition committed through the server (`submit`, `act`).
    pub fn transition(&self, command: &'static str) {
        *lock(&self.transitions).entry(command).or_default() += 1;
    }

    /// Requests counted on `route` with `status`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        lock(&self.requests)
            .get(&(route.to_owned(), status))
            .copied()
            .unwrap_or(0)
    }

    /// The counters, in the text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP alur_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE alur_http_requests_total counter\n");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "alur_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        out.push_str(
            "# HELP alur_transitions_total Case transitions committed through this server, by command.\n",
        );
        out.push_str("# TYPE alur_transitions_total counter\n");
        for (command, n) in lock(&self.transitions).iter() {
            let _ = writeln!(out, "alur_transitions_total{{command=\"{command}\"}} {n}");
        }
        out
    }
}

/// Escape a label value.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The counting middleware.
pub(crate) async fn count<S: Store>(
    State(state): State<AppState<S>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    state.metrics.request(&route, response.status().as_u16());
    response
}

/// The whole `/metrics` page: the counters and the gauges read from the store (each capped at
/// [`GAUGE_CAP`] rows so a scrape stays cheap; a gauge at the cap means "at least").
pub(crate) async fn render<S: Store>(state: &AppState<S>) -> String {
    let mut out = state.metrics.render();
    let engine = &state.engine;
    let q = SearchQuery {
        open_only: true,
        limit: GAUGE_CAP,
        ..SearchQuery::default()
    };
    if let Ok(open) = engine.search(&q).await {
        let now = engine.clock().now();
        let (mut on_time, mut step_late, mut breached) = (0u64, 0u64, 0u64);
        for c in &open {
            if c.breached || c.due_at.is_some_and(|d| d < now) {
                breached += 1;
            } else if c.step_due_at.is_some_and(|d| d < now) {
                step_late += 1;
            } else {
                on_time += 1;
            }
        }
        out.push_str("# HELP alur_open_cases Open cases by SLA state (capped).\n");
        out.push_str("# TYPE alur_open_cases gauge\n");
        let _ = writeln!(out, "alur_open_cases{{sla=\"on_time\"}} {on_time}");
        let _ = writeln!(out, "alur_open_cases{{sla=\"step_late\"}} {step_late}");
        let _ = writeln!(out, "alur_open_cases{{sla=\"breached\"}} {breached}");
    }
    if let Ok(pending) = engine
        .store()
        .pending_outbox(&engine.config().tenant.id, GAUGE_CAP)
        .await
    {
        out.push_str("# HELP alur_outbox_pending Outbox messages not yet delivered (capped).\n");
        out.push_str("# TYPE alur_outbox_pending gauge\n");
        let _ = writeln!(out, "alur_outbox_pending {}", pending.len());
    }
    out
}
