//! The dispatcher over the in-memory store: backoff between attempts, dead after the configured
//! number, retry by hand, and several dispatchers sharing one store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alur_core::store::Store;
use alur_core::{Clock, ManualClock, MemoryStore};
use alur_notify::{
    Backoff, Channel, DeliveryError, Direct, Dispatcher, DispatcherConfig, Notification,
};
use async_trait::async_trait;

const TENANT: &str = "kepri";

struct Failing(AtomicU32);

#[async_trait]
impl Channel for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    async fn send(&self, _n: &Notification) -> Result<(), DeliveryError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(DeliveryError::temporary("receiver down"))
    }
}

#[tokio::test]
async fn backs_off_then_parks_as_dead_and_can_be_retried_by_hand() {
    let store = Arc::new(MemoryStore::new());
    let (engine, _) = alur_testkit::engine(store.clone()).await;
    engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(alur_testkit::ts("2026-03-17T03:00:00Z")));
    let channel = Arc::new(Failing(AtomicU32::new(0)));
    let mut config = DispatcherConfig::new(TENANT);
    config.max_attempts = 3;
    config.backoff = Backoff {
        base: Duration::from_secs(10),
        max: Duration::from_secs(60),
    };
    let d =
        Dispatcher::new(store.clone(), Direct(channel.clone()), config).with_clock(clock.clone());
    assert_eq!(d.run_once().await.unwrap(), 1);
    assert_eq!(d.run_once().await.unwrap(), 0, "waits for its retry time");
    clock.advance(jiff::SignedDuration::from_secs(4));
    assert_eq!(
        d.run_once().await.unwrap(),
        0,
        "backoff is at least half of 10 s"
    );
    clock.advance(jiff::SignedDuration::from_secs(7));
    assert_eq!(
        d.run_once().await.unwrap(),
        1,
        "second attempt after ≤ 10 s"
    );
    clock.advance(jiff::SignedDuration::from_secs(21));
    assert_eq!(d.run_once().await.unwrap(), 1, "third attempt after ≤ 20 s");
    assert_eq!(channel.0.load(Ordering::SeqCst), 3);
    let dead = store.dead_outbox(TENANT, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "dead after 3 attempts");
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].last_error.contains("receiver down"));
    clock.advance(jiff::SignedDuration::from_secs(3600));
    assert_eq!(d.run_once().await.unwrap(), 0, "dead is never claimed");
    let revived = store
        .retry_dead_outbox(TENANT, &[dead[0].message.id.clone()], clock.now())
        .await
        .unwrap();
    assert_eq!(revived, 1);
    assert_eq!(
        d.run_once().await.unwrap(),
        1,
        "claimed again after a retry by hand"
    );
}

#[derive(Default)]
struct Log(Mutex<Vec<(String, u64)>>);

#[async_trait]
impl Channel for Log {
    fn name(&self) -> &str {
        "log"
    }
    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..3))).await;
        self.0.lock().unwrap().push((n.case_id.clone(), n.seq));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_dispatchers_keep_case_order_and_deliver_once() {
    let store = Arc::new(MemoryStore::new());
    let (engine, _) = alur_testkit::engine(store.clone()).await;
    let mut expected = 0;
    for n in 0..30 {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
        engine
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "belum-lengkap"),
                None,
            )
            .await
            .unwrap();
        expected += 2;
    }
    let log = Arc::new(Log::default());
    let mut handles = Vec::new();
    for w in 0..4 {
        let mut config = DispatcherConfig::new(TENANT);
        config.owner = format!("w{w}");
        config.batch = 7;
        config.idle = Duration::from_millis(5);
        handles.push(Dispatcher::new(store.clone(), Direct(log.clone()), config).spawn());
    }
    for _ in 0..400 {
        if store.pending_outbox(TENANT, 1).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for h in handles {
        h.stop().await;
    }
    let got = log.0.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        expected,
        "each message delivered once (no lease expired)"
    );
    let mut per_case: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (case, seq) in got {
        per_case.entry(case).or_default().push(seq);
    }
    assert!(per_case.values().all(|s| s == &vec![1, 2]), "{per_case:?}");
}
