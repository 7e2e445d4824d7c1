//! The chaos test: events keep arriving while the receiver fails 30 % of requests and the
//! dispatcher is killed (task aborted, store closed and reopened) and restarted 20 times.
//! Every event must be delivered at least once, with no duplicate left after the receiver's
//! de-duplication by id, and in order per case.
//!
//! 1,000 events by default; 10,000 with `ALUR_CHAOS_FULL=1`. On SQLite (a file in a temporary
//! directory, one dispatcher per incarnation) and, when `ALUR_TEST_POSTGRES_URL` is set, on
//! PostgreSQL with four dispatchers per incarnation sharing the outbox (`SKIP LOCKED`, leases).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alur_core::Store;
use alur_notify::{Backoff, Direct, Dispatcher, DispatcherConfig};
use alur_notify_webhook::{WebhookChannel, WebhookConfig};
use alur_sqlite::{Durability, SqliteOptions, SqliteStore};
use common::{Reply, Request, serve};
use futures_util::future::LocalBoxFuture;

const TENANT: &str = "kepri";
const RESTARTS: usize = 20;

type Shared = Arc<dyn Store>;
/// Opens the store again (a new pool or writer); not `Send`: sqlx's SQLite open is not.
type Opener = Arc<dyn Fn() -> LocalBoxFuture<'static, Shared>>;

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(
        path.to_str().unwrap(),
        SqliteOptions::with_durability(Durability::Normal),
    )
    .await
    .unwrap()
}

/// What the receiver accepted: (id, case, seq) in arrival order, and how many requests it failed.
#[derive(Default)]
struct Received {
    accepted: Vec<(String, String, u64)>,
    failed: usize,
}

/// Three messages per case: received (seq 1), returned (seq 2), rejected (seq 4).
async fn produce(store: Shared, cases: u32, expected: Arc<Mutex<BTreeSet<String>>>) {
    let (e, clock) = alur_testkit::engine(store).await;
    for n in 0..cases {
        clock.advance(jiff::SignedDuration::from_secs(1));
        let c = e.submit(alur_testkit::domisili(n), None).await.unwrap();
        let c = e
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "belum-lengkap"),
                None,
            )
            .await
            .unwrap();
        let resend = alur_core::Command::Act {
            actor: alur_core::Actor::Applicant(c.applicant.clone()),
            action: "kirim-ulang".into(),
            seen_version: c.version,
            checked: BTreeSet::new(),
            payload: alur_core::Payload::default(),
        };
        let c = e.execute(&c.id, resend, None).await.unwrap();
        let c = e
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "tolak"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(c.version, 4);
        let mut ex = expected.lock().unwrap();
        for seq in [1, 2, 4] {
            ex.insert(format!("{}:{seq}:applicant", c.id));
        }
    }
}

fn dispatcher_config(incarnation: usize) -> DispatcherConfig {
    let mut c = DispatcherConfig::new(TENANT);
    c.owner = format!("chaos-{incarnation}");
    c.batch = 100;
    c.lease = Duration::from_millis(1_000);
    c.idle = Duration::from_millis(20);
    c.max_attempts = 1_000;
    c.backoff = Backoff {
        base: Duration::from_millis(5),
        max: Duration::from_millis(50),
    };
    c.concurrency = 16;
    c
}

fn webhook(url: &str) -> WebhookChannel {
    let mut c = WebhookConfig::new(url, b"chaos".to_vec());
    // Well under the lease, so a delivery never outlives its claim.
    c.timeout = Duration::from_millis(400);
    WebhookChannel::new(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chaos.db");
    drop(open(&path).await); // create and migrate once
    let opener: Opener = Arc::new(move || {
        let path = path.clone();
        Box::pin(async move { Arc::new(open(&path).await) as Shared })
    });
    chaos(opener, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_postgres_four_dispatchers() {
    let Some(url) = std::env::var("ALUR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("skipping: ALUR_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("alur_chaos_{}", std::process::id());
    let options = alur_postgres::PostgresOptions {
        schema: Some(schema.clone()),
        max_connections: 8,
        ..alur_postgres::PostgresOptions::default()
    };
    let first = alur_postgres::PostgresStore::connect(&url, options.clone())
        .await
        .unwrap();
    let u = url.clone();
    let opener: Opener = Arc::new(move || {
        let (u, o) = (u.clone(), options.clone());
        Box::pin(async move {
            Arc::new(alur_postgres::PostgresStore::connect(&u, o).await.unwrap()) as Shared
        })
    });
    chaos(opener, 4).await;
    let drop_schema = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop_schema))
        .execute(first.pool())
        .await
        .unwrap();
    first.close().await;
}

fn spawn_dispatchers(
    store: &Shared,
    url: &str,
    n: usize,
    first_owner: usize,
) -> Vec<alur_notify::DispatcherHandle> {
    (0..n)
        .map(|k| {
            Dispatcher::new(
                store.clone(),
                Direct(webhook(url)),
                dispatcher_config(first_owner + k),
            )
            .spawn()
        })
        .collect()
}

/// Run the chaos scenario with `dispatchers` dispatchers per incarnation.
async fn chaos(opener: Opener, dispatchers: usize) {
    let full = std::env::var("ALUR_CHAOS_FULL").is_ok_and(|v| v == "1");
    let events: u32 = if full { 10_000 } else { 1_000 };
    let cases = events.div_ceil(3);
    let received: Arc<Mutex<Received>> = Arc::default();
    let r = received.clone();
    let url = serve(Arc::new(move |req: &Request| {
        if fastrand::u32(0..100) < 30 {
            r.lock().unwrap().failed += 1;
            return Reply::status(503);
        }
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        r.lock().unwrap().accepted.push((
            v["id"].as_str().unwrap().to_owned(),
            v["case_id"].as_str().unwrap().to_owned(),
            v["seq"].as_u64().unwrap(),
        ));
        // A little latency, so that kills often land with deliveries in flight (accepted here,
        // not yet settled in the store): those are delivered again, and dropped here by id.
        Reply {
            status: 200,
            delay: Some(Duration::from_millis(fastrand::u64(0..8))),
        }
    }))
    .await;

    let expected: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let producer = produce(opener().await, cases, expected.clone());

    // Kill and restart the dispatcher 20 times while events arrive (in this task, beside the
    // producer: the engine's futures are not `Send` for every lifetime, so it is not spawned).
    let started = Instant::now();
    let restarts = async {
        for i in 0..RESTARTS {
            let store = opener().await;
            let handles = spawn_dispatchers(&store, &url, dispatchers, i * 10);
            let run = if full { 400..1_500 } else { 50..400 };
            tokio::time::sleep(Duration::from_millis(fastrand::u64(run))).await;
            for h in handles {
                h.abort().await;
            }
            // The store is dropped (its connections closed) and opened again next time.
            drop(store);
        }
    };
    tokio::join!(producer, restarts);

    // A last incarnation drains what is left.
    let store = opener().await;
    let handles = spawn_dispatchers(&store, &url, dispatchers, RESTARTS * 10);
    let deadline = Instant::now() + Duration::from_secs(if full { 600 } else { 180 });
    loop {
        if store.pending_outbox(TENANT, 1).await.unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "outbox not drained in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for h in handles {
        h.stop().await;
    }
    assert!(
        store.dead_outbox(TENANT, 10).await.unwrap().is_empty(),
        "nothing dead"
    );

    let expected = expected.lock().unwrap().clone();
    let received = received.lock().unwrap();
    assert_eq!(expected.len() as u32, cases * 3);
    // De-duplicate by id, keeping first arrivals.
    let mut seen = BTreeSet::new();
    let mut first_arrivals: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (id, case, seq) in &received.accepted {
        if seen.insert(id.clone()) {
            first_arrivals.entry(case.clone()).or_default().push(*seq);
        }
    }
    assert_eq!(seen, expected, "every event delivered, nothing else");
    for (case, seqs) in &first_arrivals {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "case {case} out of order: {seqs:?}"
        );
        assert_eq!(seqs, &vec![1, 2, 4]);
    }
    eprintln!(
        "chaos ({dispatchers} dispatcher(s) per incarnation): {} events, {} requests accepted ({} duplicates dropped), {} failed by the receiver, {} restarts, {:.1?}",
        expected.len(),
        received.accepted.len(),
        received.accepted.len() - seen.len(),
        received.failed,
        RESTARTS,
        started.elapsed()
    );
    assert!(received.failed > 0);
}
