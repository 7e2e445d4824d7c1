//! The scheduler: a tokio task the host starts (no external cron) that claims due timers with a
//! lease and fires each through the engine. Several schedulers may share one store: the lease keeps
//! them apart, and the commit that consumes a timer (`fired_timer`) makes each fire at most once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::error::{Error, ErrorKind};
use crate::runtime::Engine;
use crate::store::{Store, Timer};

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tick {
    /// Timers claimed.
    pub claimed: usize,
    /// Timers fired (each one transition in its case's audit chain).
    pub fired: usize,
    /// Timers another scheduler fired first, or that no longer applied.
    pub skipped: usize,
    /// Timers left claimed for a later tick because an earlier timer of their case was still
    /// pending under another scheduler's claim (a case's timers fire in time order).
    pub deferred: usize,
}

/// Fires due timers of one engine.
pub struct Scheduler<S: Store> {
    engine: Arc<Engine<S>>,
    owner: String,
    lease: jiff::SignedDuration,
    batch: usize,
    concurrency: usize,
}

impl<S: Store> Scheduler<S> {
    /// A scheduler named `owner` (unique per process, e.g. host name and pid).
    pub fn new(engine: Arc<Engine<S>>, owner: impl Into<String>) -> Self {
        Self {
            engine,
            owner: owner.into(),
            lease: jiff::SignedDuration::from_secs(60),
            batch: 100,
            concurrency: 32,
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

    /// How many cases' timers fire at the same time within a tick (default 32). Timers of one
    /// case always fire one after the other, oldest first.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Claim and fire the timers due now: each case's timers oldest first, different cases at
    /// the same time (their commits can share a group commit).
    ///
    /// # Errors
    /// The first failure other than a conflict or a timer that no longer applies; the other
    /// cases' timers still fire, and the failed case's remaining timers stay claimed until the
    /// lease ends (then another tick retries them).
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
        // Group by case, keeping the claimed (oldest first) order within each case.
        let mut cases: Vec<Vec<Timer>> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::new();
        for t in timers {
            match slot.get(&t.case_id) {
                Some(&i) => cases[i].push(t),
                None => {
                    slot.insert(t.case_id.clone(), cases.len());
                    cases.push(vec![t]);
                }
            }
        }
        let mut first_error: Option<Error> = None;
        let mut waiting = cases.into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < self.concurrency {
                let Some(case_timers) = waiting.next() else {
                    break;
                };
                let engine = self.engine.clone();
                running.spawn(async move {
                    let mut done = Tick::default();
                    // Claims split a case's timers between schedulers: one whose earlier timer
                    // is still pending (claimed by another) waits for a later tick.
                    if let Some(first) = case_timers.first() {
                        match engine.store().timers(&first.tenant, &first.case_id).await {
                            Ok(pending)
                                if pending
                                    .iter()
                                    .any(|p| (p.fire_at, &p.id) < (first.fire_at, &first.id)) =>
                            {
                                done.deferred = case_timers.len();
                                return (done, None);
                            }
                            Ok(_) => {}
                            Err(e) => return (done, Some(Error::from(e))),
                        }
                    }
                    for t in &case_timers {
                        match engine.fire(t).await {
                            Ok(_) => done.fired += 1,
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    ErrorKind::Conflict | ErrorKind::InvalidTransition
                                ) =>
                            {
                                done.skipped += 1
                            }
                            Err(e) => return (done, Some(e)),
                        }
                    }
                    (done, None)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (done, error) = joined.unwrap_or_else(|e| {
                (
                    Tick::default(),
                    Some(Error::new(
                        ErrorKind::Storage,
                        format!("a timer task failed: {e}"),
                    )),
                )
            });
            tick.fired += done.fired;
            tick.skipped += done.skipped;
            tick.deferred += done.deferred;
            if first_error.is_none() {
                first_error = error;
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(tick),
        }
    }

    /// Tick until no due timer is left (for catching up after downtime and for tests).
    pub async fn drain(&self) -> Result<Tick, Error> {
        let mut total = Tick::default();
        loop {
            let t = self.tick().await?;
            total.claimed += t.claimed;
            total.fired += t.fired;
            total.skipped += t.skipped;
            total.deferred += t.deferred;
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
