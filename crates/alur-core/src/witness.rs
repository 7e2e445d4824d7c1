//! Publishing signed checkpoints outside the database.
//!
//! A checkpoint kept only in the database proves little against whoever controls the database:
//! they could rewrite the log and sign nothing, or delete the checkpoints. A [`Publisher`] (a
//! tokio task the host starts, like the [`crate::Scheduler`]) integrates new audit entries into
//! the tenant log, signs a checkpoint whenever the log grew, and hands the newest checkpoint to
//! every configured [`CheckpointSink`]: a directory on another disk, a webhook at the inspectorate
//! (Inspektorat), an archive. An auditor later checks the database against any copy.
//!
//! A sink that fails is retried on the next round with the newest checkpoint; because Ed25519
//! signatures are deterministic and a store keeps one checkpoint per size, a repeated round (after
//! a crash, or from a second process) publishes identical notes. Sinks must therefore accept the
//! same checkpoint twice.

use std::time::Duration;

use alur_merkle::checkpoint::CheckpointSigner;
use async_trait::async_trait;

use crate::store::{Store, StoreError, StoredCheckpoint};
use crate::tlog::Integrator;

/// Why a sink did not take a checkpoint (it is offered again on the next round).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Somewhere checkpoints are copied to, outside the database.
#[async_trait]
pub trait CheckpointSink: Send + Sync {
    /// A short name for reports (`dir:/srv/alur/checkpoints`, `webhook:https://…`).
    fn name(&self) -> String;

    /// Keep `checkpoint` of `tenant`'s log.
    ///
    /// # Behavior
    /// - Returns only once the checkpoint is durably kept (written and synced, or acknowledged).
    /// - Accepts the same checkpoint again without harm; never loses an older one it kept.
    async fn publish(&self, tenant: &str, checkpoint: &StoredCheckpoint) -> Result<(), SinkError>;
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Entries appended to the log.
    pub appended: u64,
    /// The newest checkpoint after the round.
    pub checkpoint: Option<StoredCheckpoint>,
    /// Whether this round signed it.
    pub signed: bool,
    /// Sinks that took it in this round.
    pub published: Vec<String>,
    /// Sinks that failed, with why.
    pub failed: Vec<(String, String)>,
}

/// Integrates, signs and publishes the checkpoints of one tenant.
pub struct Publisher<S: Store> {
    store: S,
    tenant: String,
    integrator: Integrator,
    sinks: Vec<(Box<dyn CheckpointSink>, Option<u64>)>,
}

impl<S: Store> Publisher<S> {
    /// A publisher for `tenant` signing with `signer`.
    pub fn new(store: S, tenant: impl Into<String>, signer: CheckpointSigner) -> Self {
        let tenant = tenant.into();
        Self {
            store,
            integrator: Integrator::new(tenant.clone(), Some(signer)),
            tenant,
            sinks: Vec::new(),
        }
    }

    /// Add a sink.
    pub fn sink(mut self, sink: impl CheckpointSink + 'static) -> Self {
        self.sinks.push((Box::new(sink), None));
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// One round: append unsequenced entries to the log, sign a checkpoint if the log grew past
    /// the newest stored one (or none exists), and offer the newest checkpoint to every sink that
    /// has not taken it. Store errors end the round; sink errors are reported and retried later.
    pub async fn round(&mut self) -> Result<Round, StoreError> {
        let mut round = Round {
            appended: self.integrator.integrate(&self.store, 10_000).await?,
            ..Round::default()
        };
        let (size, _) = self.integrator.head(&self.store).await?;
        let newest = self.store.checkpoints(&self.tenant).await?.pop();
        let newest = match newest {
            Some(c) if c.size >= size => c,
            _ => {
                round.signed = true;
                self.integrator.checkpoint(&self.store).await?
            }
        };
        for (sink, taken) in &mut self.sinks {
            if *taken == Some(newest.size) {
                continue;
            }
            match sink.publish(&self.tenant, &newest).await {
                Ok(()) => {
                    *taken = Some(newest.size);
                    round.published.push(sink.name());
                }
                Err(e) => round.failed.push((sink.name(), e.0)),
            }
        }
        round.checkpoint = Some(newest);
        Ok(round)
    }

    /// Run rounds every `every` on the tokio runtime until the task is aborted; `report` sees
    /// each round's outcome (log it; a failed round is retried on the next).
    pub fn spawn(
        mut self,
        every: Duration,
        mut report: impl FnMut(&Result<Round, StoreError>) + Send + 'static,
    ) -> tokio::task::JoinHandle<()>
    where
        S: 'static,
    {
        tokio::spawn(async move {
            loop {
                let r = self.round().await;
                report(&r);
                tokio::time::sleep(every).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::MemoryStore;

    #[derive(Clone, Default)]
    struct Recorder {
        seen: Arc<Mutex<Vec<u64>>>,
        fail: Arc<Mutex<bool>>,
    }

    #[async_trait]
    impl CheckpointSink for Recorder {
        fn name(&self) -> String {
            "recorder".into()
        }
        async fn publish(&self, _: &str, c: &StoredCheckpoint) -> Result<(), SinkError> {
            if *self.fail.lock().unwrap() {
                return Err(SinkError("down".into()));
            }
            self.seen.lock().unwrap().push(c.size);
            Ok(())
        }
    }

    fn signer() -> CheckpointSigner {
        CheckpointSigner::from_seed("alur-test", &[7; 32]).unwrap()
    }

    #[tokio::test]
    async fn rounds_sign_when_the_log_grows_and_retry_failed_sinks() {
        let rec = Recorder::default();
        let mut p = Publisher::new(MemoryStore::new(), "kepri", signer()).sink(rec.clone());
        // An empty log gets a checkpoint of size 0, once.
        let r = p.round().await.unwrap();
        assert!(r.signed);
        assert_eq!(r.checkpoint.as_ref().unwrap().size, 0);
        let r = p.round().await.unwrap();
        assert!(!r.signed && r.published.is_empty());
        assert_eq!(*rec.seen.lock().unwrap(), vec![0]);

        // Entries arrive (the configuration chain of a started engine); the sink is down.
        let store = p.store();
        let mut desired = crate::config_log::ConfigState::default();
        desired.calendars.insert(None, "1@ab".into());
        desired.definitions.insert("x".into(), (1, "cd".into()));
        let entries = crate::config_log::chain_entries(
            "kepri",
            None,
            crate::config_log::ConfigState::default().diff(&desired),
            "2026-03-02T01:00:00Z".parse().unwrap(),
        );
        store.append_chain("kepri", &entries).await.unwrap();
        *rec.fail.lock().unwrap() = true;
        let r = p.round().await.unwrap();
        assert!(r.signed);
        assert_eq!(r.appended, 2);
        assert_eq!(r.failed.len(), 1);
        // Back up: the newest checkpoint goes out on the next round, without re-signing.
        *rec.fail.lock().unwrap() = false;
        let r = p.round().await.unwrap();
        assert!(!r.signed);
        assert_eq!(r.published, vec!["recorder".to_owned()]);
        assert_eq!(*rec.seen.lock().unwrap(), vec![0, 2]);
        assert_eq!(p.store().checkpoints("kepri").await.unwrap().len(), 2);
    }
}
