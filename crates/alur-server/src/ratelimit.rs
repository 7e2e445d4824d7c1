//! A per-address token bucket for the public endpoints (submission, tracking, verification).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use alur_core::Store;

use crate::AppState;
use crate::problem::Problem;

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

/// In-memory token buckets by client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` requests a minute per address, with a burst of the same size; 0 turns the
    /// limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` has a token left, without taking it.
    pub fn available(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let buckets = match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        buckets.get(&ip).is_none_or(|(tokens, at)| {
            *tokens + Instant::now().duration_since(*at).as_secs_f64() * per_second >= 1.0
        })
    }

    /// Take one request's token for `ip`; `Err(seconds to wait)` when none is left.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if buckets.len() >= MAX_BUCKETS {
            // Drop the buckets that have refilled: they carry no state worth keeping.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / per_second).ceil();
            // The wait is at most 60 s by construction.
            Err(if wait.is_finite() && wait > 0.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

/// The middleware: the client's address comes from axum's `ConnectInfo` (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`, as [`crate::serve`] does); without it
/// every client shares one bucket.
pub(crate) async fn limit<S: Store>(
    State(state): State<AppState<S>>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    match state.limiter.check(ip) {
        Ok(()) => next.run(req).await,
        Err(wait) => Problem::too_many_requests(wait).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_address() {
        let l = RateLimiter::new(2);
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert!(l.check(a).is_ok());
        assert!(l.check(a).is_ok());
        let wait = l.check(a).expect_err("third request is limited");
        assert!((1..=60).contains(&wait));
        assert!(l.check(b).is_ok());
        assert!(RateLimiter::new(0).check(a).is_ok());
    }
}
