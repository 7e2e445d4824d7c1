//! The dispatcher: claims outbox batches with a lease, delivers, settles.

use std::sync::Arc;
use std::time::Duration;

use alur_core::store::{ClaimedMessage, OutboxOutcome, Store, StoreError};
use alur_core::{Clock, SystemClock};
use async_trait::async_trait;
use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::channel::{Channel, Notification};
use crate::error::{DeliveryError, DeliveryErrorKind};

/// Delivers one claimed outbox message (resolving, rendering and routing it, or not).
///
/// # Behavior
/// - `Ok(())` only when every address of the message accepted it.
/// - A temporary error leaves the message for a later attempt, a permanent one parks it as dead.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Deliver `m`.
    async fn deliver(&self, m: &ClaimedMessage) -> Result<(), DeliveryError>;
}

#[async_trait]
impl<D: Deliver + ?Sized> Deliver for Arc<D> {
    async fn deliver(&self, m: &ClaimedMessage) -> Result<(), DeliveryError> {
        (**self).deliver(m).await
    }
}

/// Hands each message to a channel as it is, without recipient resolution or templates: the
/// notification's subject and text are the template key, `to` is `None`. For a host that does
/// its own rendering behind a webhook, and for measuring the outbox itself.
#[derive(Debug, Clone)]
pub struct Direct<C>(pub C);

#[async_trait]
impl<C: Channel> Deliver for Direct<C> {
    async fn deliver(&self, m: &ClaimedMessage) -> Result<(), DeliveryError> {
        let msg = &m.message;
        let n = Notification {
            id: msg.id.clone(),
            message_id: msg.id.clone(),
            tenant: msg.tenant.clone(),
            case_id: msg.case_id.clone(),
            seq: msg.seq,
            template: msg.template.clone(),
            recipient: msg.recipient.clone(),
            to: None,
            subject: msg.template.clone(),
            text: msg.template.clone(),
            html: None,
        };
        self.0.send(&n).await
    }
}

/// Exponential backoff with jitter between durable attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60 * 60),
        }
    }
}

impl Backoff {
    /// Delay after the `failures`-th failure (1 for the first): `base · 2^(failures-1)`, capped
    /// at `max`, then a random point in its upper half (so that receivers that come back are not
    /// hit by every message at once).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Settings of a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Tenant whose outbox is drained.
    pub tenant: String,
    /// Lease owner (unique per dispatcher; a random default).
    pub owner: String,
    /// Messages claimed per batch.
    pub batch: usize,
    /// How long a claim lasts. A batch must be delivered within it, or its messages may be
    /// claimed (and delivered) again by another dispatcher: bound channel time with a timeout
    /// layer well under it.
    pub lease: Duration,
    /// Sleep when the outbox has nothing to claim (and after a store error).
    pub idle: Duration,
    /// Failed attempts after which a message is parked as dead.
    pub max_attempts: u32,
    /// Delay between attempts.
    pub backoff: Backoff,
    /// Deliveries of one batch in flight at once.
    pub concurrency: usize,
}

impl DispatcherConfig {
    /// Defaults for `tenant`: batches of 100, 60 s leases, 1 s idle sleep, dead after 10
    /// attempts, backoff from 5 s to 1 h, 16 deliveries at once.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            owner: format!(
                "dispatcher-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ),
            batch: 100,
            lease: Duration::from_secs(60),
            idle: Duration::from_secs(1),
            max_attempts: 10,
            backoff: Backoff::default(),
            concurrency: 16,
        }
    }
}

/// Drains a tenant's outbox. Several dispatchers (in one process or many) may share a store
/// whose claims are leased; each message is then delivered at least once, in order per case.
pub struct Dispatcher<S, D> {
    store: S,
    deliver: D,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

impl<S: Store, D: Deliver> Dispatcher<S, D> {
    /// A dispatcher on the system clock.
    pub fn new(store: S, deliver: D, config: DispatcherConfig) -> Self {
        Self {
            store,
            deliver,
            clock: Arc::new(SystemClock),
            config,
        }
    }

    /// Use another clock (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The settings.
    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// Claim one batch, deliver it, settle every outcome in one store call. Returns how many
    /// messages were claimed (0: nothing to do now).
    ///
    /// # Errors
    /// A store failure while claiming or settling (the leases then expire and the messages are
    /// claimed again).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut pending = Vec::new();
        let n = self.step(&mut pending).await?;
        self.flush(&mut pending).await?;
        Ok(n)
    }

    /// Settle `pending` (the outcomes of the previous batch) and claim the next batch in one
    /// store call, deliver it, and leave its outcomes in `pending`. Returns how many messages
    /// were claimed.
    async fn step(&self, pending: &mut Vec<(String, OutboxOutcome)>) -> Result<usize, StoreError> {
        let c = &self.config;
        let now = self.clock.now();
        let lease_until = after(now, c.lease);
        let claimed = if pending.is_empty() {
            self.store
                .claim_outbox(&c.tenant, now, &c.owner, lease_until, c.batch)
                .await?
        } else {
            let claimed = self
                .store
                .settle_and_claim_outbox(&c.tenant, now, pending, &c.owner, lease_until, c.batch)
                .await?;
            pending.clear();
            claimed
        };
        if claimed.is_empty() {
            return Ok(0);
        }
        // A plain loop, not a closure: a closure here makes the future not `Send` for every
        // lifetime (rust-lang/rust#64552), which `tokio::spawn` needs.
        let mut attempts = Vec::with_capacity(claimed.len());
        for m in &claimed {
            attempts.push(self.attempt(m));
        }
        *pending = futures_util::stream::iter(attempts)
            .buffer_unordered(c.concurrency.max(1))
            .collect()
            .await;
        Ok(claimed.len())
    }

    /// Settle outcomes still held.
    async fn flush(&self, pending: &mut Vec<(String, OutboxOutcome)>) -> Result<(), StoreError> {
        if !pending.is_empty() {
            self.store
                .settle_outbox(&self.config.tenant, self.clock.now(), pending)
                .await?;
            pending.clear();
        }
        Ok(())
    }

    async fn attempt(&self, m: &ClaimedMessage) -> (String, OutboxOutcome) {
        let result = self.deliver.deliver(m).await;
        (m.message.id.clone(), self.outcome(m, result))
    }

    fn outcome(&self, m: &ClaimedMessage, result: Result<(), DeliveryError>) -> OutboxOutcome {
        match result {
            Ok(()) => OutboxOutcome::Delivered,
            Err(e) => {
                let failures = m.attempts.saturating_add(1);
                let error = e.message.clone();
                if e.kind == DeliveryErrorKind::Permanent || failures >= self.config.max_attempts {
                    tracing::warn!(
                        target: "alur_notify",
                        id = %m.message.id,
                        attempts = failures,
                        error = %e,
                        "notification parked as dead"
                    );
                    OutboxOutcome::Dead { error }
                } else {
                    let at = after(self.clock.now(), self.config.backoff.delay(failures));
                    OutboxOutcome::Retry { at, error }
                }
            }
        }
    }

    /// Run batches until nothing is claimable now, settling each batch as the next is claimed.
    /// Returns the number of messages claimed.
    ///
    /// # Errors
    /// The first store failure (outcomes not yet settled are then lost: their leases expire and
    /// the messages are delivered again).
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut pending = Vec::new();
        let mut total = 0;
        loop {
            let n = self.step(&mut pending).await?;
            if n == 0 {
                self.flush(&mut pending).await?;
                return Ok(total);
            }
            total += n;
        }
    }

    /// Run until `stop` turns true (or its sender is dropped): batches back to back while there
    /// is work (each settled as the next is claimed), an idle sleep when there is none or the
    /// store fails.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut pending = Vec::new();
        loop {
            if *stop.borrow() {
                if let Err(e) = self.flush(&mut pending).await {
                    tracing::warn!(target: "alur_notify", error = %e, "settling on stop failed");
                }
                return;
            }
            let pause = match self.step(&mut pending).await {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(target: "alur_notify", error = %e, "outbox dispatch failed");
                    true
                }
            };
            if pause {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.idle) => {}
                    changed = stop.changed() => {
                        if changed.is_err() {
                            let _ = self.flush(&mut pending).await;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Run on a tokio task.
    pub fn spawn(self) -> DispatcherHandle
    where
        S: 'static,
    {
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move { self.run(rx).await });
        DispatcherHandle { stop: tx, task }
    }
}

/// A running dispatcher task.
#[derive(Debug)]
pub struct DispatcherHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DispatcherHandle {
    /// Finish the current batch, then stop.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stop at once, wherever it is (deliveries in flight are lost; their leases expire and the
    /// messages are delivered again).
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d4 = b.delay(4);
            assert!(d4 >= Duration::from_secs(4) && d4 <= Duration::from_secs(8));
            let d40 = b.delay(40);
            assert!(d40 >= Duration::from_secs(30) && d40 <= Duration::from_secs(60));
        }
    }
}
