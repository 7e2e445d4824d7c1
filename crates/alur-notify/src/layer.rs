//! Retry, timeout and rate limit as layers around any [`Channel`] (in the manner of tower).
//!
//! ```
//! use std::time::Duration;
//! use alur_notify::layer::{RateLimitLayer, RetryLayer, TimeoutLayer};
//! use alur_notify::{ChannelExt, NoopChannel};
//!
//! let channel = NoopChannel
//!     .with(TimeoutLayer::new(Duration::from_secs(10)))
//!     .with(RetryLayer::new(2, Duration::from_millis(200)))
//!     .with(RateLimitLayer::new(20.0, 5));
//! # let _ = channel;
//! ```
//!
//! The in-process [`Retry`] is for blips (a dropped connection); the dispatcher's durable
//! backoff, which survives restarts, is for longer outages.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::channel::{Channel, Notification};
use crate::error::DeliveryError;

/// Wraps a channel in another.
pub trait Layer<C> {
    /// The wrapped channel.
    type Channel: Channel;
    /// Wrap `inner`.
    fn layer(&self, inner: C) -> Self::Channel;
}

/// `channel.with(layer)`.
pub trait ChannelExt: Channel + Sized {
    /// Wrap this channel in `layer`.
    fn with<L: Layer<Self>>(self, layer: L) -> L::Channel {
        layer.layer(self)
    }
}

impl<C: Channel> ChannelExt for C {}

/// Fails an attempt that takes longer than a limit, as a temporary error.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// Attempts longer than `limit` fail.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<C: Channel> Layer<C> for TimeoutLayer {
    type Channel = Timeout<C>;
    fn layer(&self, inner: C) -> Timeout<C> {
        Timeout {
            inner,
            limit: self.limit,
        }
    }
}

/// See [`TimeoutLayer`].
#[derive(Debug)]
pub struct Timeout<C> {
    inner: C,
    limit: Duration,
}

#[async_trait]
impl<C: Channel> Channel for Timeout<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        match tokio::time::timeout(self.limit, self.inner.send(n)).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::temporary(format!(
                "{}: no answer within {} ms",
                self.inner.name(),
                self.limit.as_millis()
            ))),
        }
    }
}

/// Tries again, after a doubling delay, when an attempt fails temporarily.
#[derive(Debug, Clone, Copy)]
pub struct RetryLayer {
    retries: u32,
    delay: Duration,
}

impl RetryLayer {
    /// Up to `retries` more attempts, the first after `delay`, each further one after twice the
    /// previous delay.
    pub fn new(retries: u32, delay: Duration) -> Self {
        Self { retries, delay }
    }
}

impl<C: Channel> Layer<C> for RetryLayer {
    type Channel = Retry<C>;
    fn layer(&self, inner: C) -> Retry<C> {
        Retry {
            inner,
            retries: self.retries,
            delay: self.delay,
        }
    }
}

/// See [`RetryLayer`].
#[derive(Debug)]
pub struct Retry<C> {
    inner: C,
    retries: u32,
    delay: Duration,
}

#[async_trait]
impl<C: Channel> Channel for Retry<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let mut delay = self.delay;
        let mut left = self.retries;
        loop {
            match self.inner.send(n).await {
                Err(e) if e.is_temporary() && left > 0 => {
                    left -= 1;
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
                other => return other,
            }
        }
    }
}

/// At most `rate` notifications per second on average, in bursts of at most `burst` (a token
/// bucket shared by every caller of the channel). Callers wait for a token; none is refused.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitLayer {
    rate: f64,
    burst: u32,
}

impl RateLimitLayer {
    /// `rate` per second (a non-positive or non-finite rate means one per second), bursts of
    /// `burst` (at least 1).
    pub fn new(rate: f64, burst: u32) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        Self {
            rate,
            burst: burst.max(1),
        }
    }
}

impl<C: Channel> Layer<C> for RateLimitLayer {
    type Channel = RateLimit<C>;
    fn layer(&self, inner: C) -> RateLimit<C> {
        RateLimit {
            inner,
            rate: self.rate,
            burst: f64::from(self.burst),
            bucket: Mutex::new((f64::from(self.burst), Instant::now())),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Debug)]
pub struct RateLimit<C> {
    inner: C,
    rate: f64,
    burst: f64,
    /// Tokens and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl<C> RateLimit<C> {
    /// Take a token, or say how long to wait for one.
    async fn take(&self) -> Option<Duration> {
        let mut b = self.bucket.lock().await;
        let now = Instant::now();
        let refill = now.saturating_duration_since(b.1).as_secs_f64() * self.rate;
        b.0 = (b.0 + refill).min(self.burst);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - b.0) / self.rate))
        }
    }
}

#[async_trait]
impl<C: Channel> Channel for RateLimit<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        while let Some(wait) = self.take().await {
            tokio::time::sleep(wait).await;
        }
        self.inner.send(n).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    struct Flaky {
        calls: AtomicU32,
        fail_first: u32,
        permanent: bool,
        slow: Option<Duration>,
    }

    #[async_trait]
    impl Channel for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn send(&self, _n: &Notification) -> Result<(), DeliveryError> {
            let k = self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(d) = self.slow {
                tokio::time::sleep(d).await;
            }
            if k < self.fail_first {
                if self.permanent {
                    return Err(DeliveryError::permanent("no"));
                }
                return Err(DeliveryError::temporary("later"));
            }
            Ok(())
        }
    }

    fn flaky(fail_first: u32, permanent: bool, slow: Option<Duration>) -> Arc<Flaky> {
        Arc::new(Flaky {
            calls: AtomicU32::new(0),
            fail_first,
            permanent,
            slow,
        })
    }

    fn note() -> Notification {
        Notification {
            id: "c:1:applicant".into(),
            message_id: "c:1:applicant".into(),
            tenant: "t".into(),
            case_id: "c".into(),
            seq: 1,
            template: "case.received".into(),
            recipient: "applicant".into(),
            to: None,
            subject: String::new(),
            text: String::new(),
            html: None,
        }
    }

    #[tokio::test]
    async fn retry_retries_temporary_failures_only() {
        let inner = flaky(2, false, None);
        let c = inner
            .clone()
            .with(RetryLayer::new(3, Duration::from_millis(1)));
        c.send(&note()).await.unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);

        let inner = flaky(5, false, None);
        let c = inner
            .clone()
            .with(RetryLayer::new(2, Duration::from_millis(1)));
        assert!(c.send(&note()).await.unwrap_err().is_temporary());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3, "1 + 2 retries");

        let inner = flaky(1, true, None);
        let c = inner
            .clone()
            .with(RetryLayer::new(3, Duration::from_millis(1)));
        assert!(!c.send(&note()).await.unwrap_err().is_temporary());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1, "permanent: no retry");
    }

    #[tokio::test]
    async fn timeout_is_temporary() {
        let c = flaky(0, false, Some(Duration::from_millis(200)))
            .with(TimeoutLayer::new(Duration::from_millis(20)));
        let e = c.send(&note()).await.unwrap_err();
        assert!(e.is_temporary());
        assert!(e.message.contains("no answer"));
    }

    #[tokio::test]
    async fn rate_limit_spaces_calls() {
        let inner = flaky(0, false, None);
        let c = inner.clone().with(RateLimitLayer::new(50.0, 2));
        let start = Instant::now();
        for _ in 0..7 {
            c.send(&note()).await.unwrap();
        }
        // Two from the burst, five more at 50/s: at least ~100 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(90),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 7);
    }
}
