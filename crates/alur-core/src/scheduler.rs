//! The scheduler: a tokio task the host starts (no external cron) that claims due timers with a
//! lease and fires each through the engine. Several schedulers may share one store: the lease keeps
//! them apart, and the commit that consumes a timer (`fired_timer`) makes each fire at most once.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::runtime::Engine;
use crate::store::Store;

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tick {
    /// Timers claimed.
    pub claimed: usize,
    /// Timers fired (each one transition in its case's audit chain).
    pub fired: usize,
    /// Timers another scheduler fired first, or that no longer applied.
    pub skipped: usize,
}

/// Fires due timers of one engine.
pub struct Scheduler<S: Store> {
    engine: Arc<Engine<S>>,
    owner: String,
    lease: jiff::SignedDuration,
    batch: usize,
}

impl<S: Store> Scheduler<S> {
    /// A scheduler named `owner` (unique per process, e.g. host name and pid).
    pub fn new(engine: Arc<Engine<S>>, owner: impl Into<String>) -> Self {
        Self {
            engine,
            owner: owner.into(),
            lease: jiff::SignedDuration::from_secs(60),
            batch: 100,
        }
    }

    /// How long a claim protects a timer from other schedulers (default 60 s).
    pub fn lease(mut self, lease: jiff::SignedDuration) -> Self {
        self.lease = lease;
        self
    }

    /// How many timers one tick claims at most (default 100).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Claim and fire the timers due now, oldest first.
    pub async fn tick(&self) -> Result<Tick, Error> {
        let now = self.engine.clock().now();
        let until = now.checked_add(self.lease).unwrap_or(now);
        let tenant = self.engine.config().tenant.id.clone();
        let timers = self
            .engine
            .store()
            .claim_due_timers(&tenant, now, &self.owner, until, self.batch)
            .await?;
        let mut tick = Tick {
            claimed: timers.len(),
            ..Tick::default()
        };
        for t in &timers {
            match self.engine.fire(t).await {
                Ok(_) => tick.fired += 1,
                Err(e)
                    if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::InvalidTransition) =>
                {
                    tick.skipped += 1
                }
                Err(e) => return Err(e),
            }
        }
        Ok(tick)
    }

    /// Tick until no due timer is left (for catching up after downtime and for tests).
    pub async fn drain(&self) -> Result<Tick, Error> {
        let mut total = Tick::default();
        loop {
            let t = self.tick().await?;
            total.claimed += t.claimed;
            total.fired += t.fired;
            total.skipped += t.skipped;
            if t.claimed < self.batch || t.fired == 0 {
                return Ok(total);
            }
        }
    }

    /// Run forever on the tokio runtime, ticking every `every`. Errors are retried on the next tick.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()>
    where
        S: 'static,
    {
        tokio::spawn(async move {
            loop {
                let _ = self.drain().await;
                tokio::time::sleep(every).await;
            }
        })
    }
}
