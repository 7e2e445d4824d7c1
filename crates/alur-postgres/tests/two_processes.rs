//! Two engine processes against one database: each claims due timers with leases
//! (`FOR UPDATE SKIP LOCKED`) and fires them by committing a transition naming `fired_timer`.
//! Every timer must fire exactly once: one audit entry and one outbox row per timer.
//!
//! The test binary runs itself twice as the workers (the `worker` test, selected with
//! `--exact worker` and told what to do through environment variables).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alur_core::store::{Store, StoreErrorKind};
use common::{Schema, TENANT, create_case, entry, outbox, template, timer, transition};
use jiff::{SignedDuration, Timestamp};

const CASES: usize = 250;
const TIMERS_PER_CASE: usize = 4;
const ENV_SCHEMA: &str = "ALUR_PG_WORKER_SCHEMA";
const ENV_NAME: &str = "ALUR_PG_WORKER_NAME";
const ENV_START: &str = "ALUR_PG_WORKER_START_MS";

fn t0() -> Timestamp {
    alur_testkit::ts("2026-03-17T02:00:00Z")
}

fn wall_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fire_each_timer_once() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    let tpl = template(&store).await;
    for i in 0..CASES {
        let id = format!("c-{i:03}");
        let timers = (0..TIMERS_PER_CASE)
            .map(|k| timer(&id, &format!("{id}-t{k}"), t0()))
            .collect();
        create_case(&store, &tpl, &id, t0(), timers).await;
    }
    // The template case was submitted through the engine, which set its SLA timers too.
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM timers")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let total = usize::try_from(total).unwrap();
    assert!(total >= CASES * TIMERS_PER_CASE);

    // Both workers start claiming at the same wall-clock instant.
    let start = wall_ms() + 1500;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["p1", "p2"]
        .into_iter()
        .map(|name| {
            Command::new(&exe)
                .args(["worker", "--exact", "--nocapture", "--test-threads=1"])
                .env("ALUR_TEST_POSTGRES_URL", &url)
                .env(ENV_SCHEMA, &schema.name)
                .env(ENV_NAME, name)
                .env(ENV_START, start.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let mut fired = Vec::new();
    let mut retries = 0;
    for out in &outputs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "worker failed:\n{stdout}");
        let line = stdout
            .lines()
            .find_map(|l| l.find("ALUR_WORKER ").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("no result line in:\n{stdout}"));
        eprintln!("{line}");
        let field = |k: &str| -> usize {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{k} missing in {line}"))
        };
        assert_eq!(
            field("gone="),
            0,
            "a leased timer was fired by someone else"
        );
        fired.push(field("fired="));
        retries += field("retries=");
    }
    assert_eq!(
        fired.iter().sum::<usize>(),
        total,
        "every timer fired once in total"
    );
    assert!(
        fired.iter().all(|n| *n > 0),
        "both processes fired timers: {fired:?}"
    );

    // The database agrees: one audit entry and one outbox row per timer, no timer left.
    let pool = store.pool();
    let per_timer: Vec<(String, i64)> = sqlx::query_as(
        "SELECT legal_basis, count(*) FROM audit_entries WHERE legal_basis LIKE 'timer:%' GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(per_timer.len(), total);
    assert!(
        per_timer.iter().all(|(_, n)| *n == 1),
        "a timer fired twice"
    );
    let per_outbox: Vec<(String, i64)> = sqlx::query_as(
        "SELECT recipient, count(*) FROM outbox WHERE template = 'timer.fired' GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(per_outbox.len(), total);
    assert!(per_outbox.iter().all(|(_, n)| *n == 1));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM timers")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    for i in 0..CASES {
        let id = format!("c-{i:03}");
        let entries = store.entries(TENANT, &id).await.unwrap();
        assert_eq!(entries.len(), 1 + TIMERS_PER_CASE);
        alur_core::audit::verify_chain(&entries).unwrap();
    }
    assert!(
        retries > 0,
        "the processes never raced on one case; the test lost its point"
    );
}

/// The worker process body; a no-op unless started by the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker() {
    let (Ok(schema), Ok(name), Ok(start), Ok(url)) = (
        std::env::var(ENV_SCHEMA),
        std::env::var(ENV_NAME),
        std::env::var(ENV_START),
        std::env::var("ALUR_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    let options = alur_postgres::PostgresOptions {
        schema: Some(schema),
        max_connections: 4,
        ..Default::default()
    };
    let store = alur_postgres::PostgresStore::connect(&url, options)
        .await
        .unwrap();
    let start: u128 = start.parse().unwrap();
    if let Some(wait) = start.checked_sub(wall_ms()) {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    let owner = format!("{name}-{}", std::process::id());
    let now = t0() + SignedDuration::from_hours(1);
    let began = Instant::now();
    let (mut fired, mut retries, mut gone, mut empty) = (0usize, 0usize, 0usize, 0usize);
    while empty < 5 {
        let batch = store
            // Small batches: the two processes hold timers of the same case at once, so their
            // fires race on the case version (and retry), while leases keep each timer theirs.
            .claim_due_timers(TENANT, now, &owner, now + SignedDuration::from_mins(5), 2)
            .await
            .unwrap();
        if batch.is_empty() {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        }
        empty = 0;
        for t in batch {
            loop {
                let case = store.case(TENANT, &t.case_id).await.unwrap().unwrap();
                let (head_seq, head) = store.chain_head(TENANT, &t.case_id).await.unwrap().unwrap();
                if head_seq != case.version {
                    continue;
                }
                let seq = case.version + 1;
                let mut next = case.clone();
                next.version = seq;
                let e = entry(
                    &t.case_id,
                    seq,
                    &head,
                    &owner,
                    now,
                    Some(format!("timer:{}", t.id)),
                );
                let mut tr = transition(next, case.version, vec![e]);
                let mut m = outbox(&t.case_id, seq, &format!("{}:{seq}:timer", t.case_id), now);
                m.template = "timer.fired".into();
                m.recipient = format!("timer:{}", t.id);
                tr.outbox = vec![m];
                tr.fired_timer = Some(t.id.clone());
                match store.commit(tr).await {
                    Ok(()) => {
                        fired += 1;
                        break;
                    }
                    Err(e) if e.kind == StoreErrorKind::Conflict => {
                        // Another timer of the same case fired meanwhile (the other process):
                        // retry while our timer is still there; if it is gone, someone else
                        // fired a timer we held a live lease on.
                        if store
                            .timers(TENANT, &t.case_id)
                            .await
                            .unwrap()
                            .iter()
                            .any(|x| x.id == t.id)
                        {
                            retries += 1;
                        } else {
                            gone += 1;
                            break;
                        }
                    }
                    Err(e) => panic!("fire {}: {e}", t.id),
                }
            }
        }
    }
    println!(
        "ALUR_WORKER {name} fired={fired} retries={retries} gone={gone} in {:.0?}",
        began.elapsed()
    );
}
