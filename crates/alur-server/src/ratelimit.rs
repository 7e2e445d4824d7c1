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
    /// Tokens a bucket holds (the burst); 0: no limit.
    capacity: u32,
    /// Seconds for a whole bucket to refill.
    period_secs: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` requests a minute per address, with a burst of the same size; 0 turns the
    /// limit off.
    pub fn new(per_minute: u32) -> Self {
        Self::per_period(per_minute, 60)
    }

    /// `per_hour` a hour per address, with a burst of the same size; 0 turns the limit off.
    pub fn per_hour(per_hour: u32) -> Self {
        Self::per_period(per_hour, 3600)
    }

    fn per_period(capacity: u32, period_secs: u32) -> Self {
        Self {
            capacity,
            period_secs,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` has a token left, without taking it.
    pub fn available(&self, ip: IpAddr) -> bool {
        if self.capacity == 0 {
            return true;
        }
        let capacity = f64::from(self.capacity);
        let per_second = capacity / f64::from(self.period_secs);
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
        if self.capacity == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.capacity);
        let per_second = capacity / f64::from(self.period_secs);
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
            // The wait is at most one period by construction.
            Err(if wait.is_finite() && wait > 0.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

/// The client's address as the service desk sees it, put in the request's extensions by
/// [`client_address`] for the rate limits and the sign-in throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub IpAddr);

/// The client of a request: the connection's peer, or, when the peer is one of
/// `trusted_proxies`, the right-most `X-Forwarded-For` entry that is not itself a trusted
/// proxy (entries further left are the client's own claims and are not believed).
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpAddr],
) -> IpAddr {
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let Some(peer) = peer else {
        return unspecified;
    };
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded_for else {
        return peer;
    };
    for entry in list.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if trusted_proxies.contains(&ip) => continue,
            Ok(ip) => return ip,
            // A malformed entry: the chain cannot be followed further; the proxy is the client.
            Err(_) => return peer,
        }
    }
    peer
}

/// The outermost middleware: resolve the client's address once ([`client_ip`] with the
/// settings' trusted proxies) from axum's `ConnectInfo` (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`, as [`crate::serve`] does; without it
/// every client shares one bucket).
pub(crate) async fn client_address<S: Store>(
    State(state): State<AppState<S>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = client_ip(peer, forwarded, &state.settings.trusted_proxies);
    req.extensions_mut().insert(ClientAddr(ip));
    next.run(req).await
}

/// Whether a path looks a case up by its tracking code (the pages and the API).
fn is_tracking_lookup(path: &str) -> bool {
    path.starts_with("/lacak/") || path.starts_with("/api/v1/track/")
}

/// The middleware of the public endpoints: a token bucket per client address, and for tracking
/// look-ups a second, much smaller bucket that only a code naming no case drains (a mistyped
/// short code fails its check symbol before any look-up and costs nothing): guessing codes is
/// bounded by it, not by the general limit (docs/CONFIG.md, "Tracking codes").
pub(crate) async fn limit<S: Store>(
    State(state): State<AppState<S>>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
    let lookup = is_tracking_lookup(req.uri().path());
    if lookup && !state.misses.available(ip) {
        return Problem::too_many_requests(60).into_response();
    }
    match state.limiter.check(ip) {
        Ok(()) => {
            let response = next.run(req).await;
            if lookup && response.status() == axum::http::StatusCode::NOT_FOUND {
                let _ = state.misses.check(ip);
            }
            response
        }
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
        // An hourly bucket: the burst, then a wait of up to an hour's share.
        let h = RateLimiter::per_hour(3);
        for _ in 0..3 {
            assert!(h.check(a).is_ok());
        }
        assert!(!h.available(a));
        let wait = h.check(a).expect_err("limited");
        assert!((1..=1200).contains(&wait), "{wait}");
        assert!(h.available(b));
    }

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_forwarded_address() {
        let proxy: IpAddr = "10.0.0.9".parse().expect("ip");
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        let trusted = [proxy];
        // No proxy configured: the peer, whatever the header claims.
        assert_eq!(client_ip(Some(client), Some("1.2.3.4"), &[]), client);
        assert_eq!(client_ip(Some(proxy), Some("203.0.113.7"), &[]), proxy);
        // Through the trusted proxy: the address it appended, not what the client wrote.
        assert_eq!(
            client_ip(Some(proxy), Some("203.0.113.7"), &trusted),
            client
        );
        assert_eq!(
            client_ip(Some(proxy), Some("6.6.6.6, 203.0.113.7"), &trusted),
            client
        );
        assert_eq!(
            client_ip(Some(proxy), Some("203.0.113.7, 10.0.0.9"), &trusted),
            client
        );
        // A direct client cannot claim another address.
        assert_eq!(client_ip(Some(client), Some("6.6.6.6"), &trusted), client);
        // A proxy without the header, or a garbled one, stands for the client.
        assert_eq!(client_ip(Some(proxy), None, &trusted), proxy);
        assert_eq!(client_ip(Some(proxy), Some("x, y"), &trusted), proxy);
        assert_eq!(
            client_ip(None, None, &trusted),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }
}
