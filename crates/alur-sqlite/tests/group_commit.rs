//! Group commit: concurrent transitions share transactions, and a transition that fails a check
//! fails alone (its own typed error, nothing written) while the others of its batch commit.

mod common;

use std::sync::Arc;

use alur_core::Case;
use alur_core::engine::EventKind;
use alur_core::store::{IdempotencyRecord, Store, StoreErrorKind, Transition};
use alur_sqlite::{Durability, SqliteStore};

const TENANT: &str = "kepri";

/// The next transition of `case` (one comment entry), optionally with an idempotency key.
async fn next(store: &SqliteStore, case: &Case, key: Option<String>) -> Transition {
    let head = store.last_entry(TENANT, &case.id).await.unwrap().unwrap();
    let mut c = case.clone();
    c.version += 1;
    let mut entry = head.clone();
    entry.seq = c.version;
    entry.event = EventKind::Commented;
    entry.payload_digest = None;
    entry.prev_hash = head.hash.clone();
    entry.hash = entry.compute_hash();
    Transition {
        tenant: TENANT.into(),
        case: c.clone(),
        expected_version: case.version,
        entries: vec![entry],
        payloads: vec![],
        outbox: vec![],
        timers: vec![],
        replace_timers: false,
        idempotency: key.map(|k| IdempotencyRecord {
            key: k,
            command_digest: "d".into(),
            result: c,
        }),
        fired_timer: None,
        letter: None,
    }
}

async fn mixed(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = alur_testkit::engine(common::fresh(dir.path(), durability).await).await;
    let mut cases = Vec::new();
    for n in 0..16 {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
        // Record a key per case that later transitions collide with.
        let t = next(engine.store(), &c, Some(format!("base-{n}"))).await;
        engine.store().commit(t.clone()).await.unwrap();
        cases.push(t.case);
    }
    let engine = Arc::new(engine);
    // The writer updates its counters right after answering the callers: let the set-up's
    // last commit be counted before taking the baseline.
    let mut before = engine.store().writer_stats();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let now = engine.store().writer_stats();
        if now.transitions == before.transitions && now.batches == before.batches {
            break;
        }
        before = now;
    }
    for round in 0..20 {
        let mut tasks = Vec::new();
        for (i, case) in cases.iter().cloned().enumerate() {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let s = engine.store();
                let kind = (i + round) % 4;
                let mut t = next(s, &case, Some(format!("k-{round}-{i}"))).await;
                match kind {
                    // A stale expected version.
                    1 => t.expected_version -= 1,
                    // A key already used.
                    2 => t.idempotency.as_mut().unwrap().key = format!("base-{i}"),
                    // A fired timer that does not exist.
                    3 => t.fired_timer = Some("no-such-timer".into()),
                    _ => {}
                }
                let r = s.commit(t.clone()).await;
                (case, t, kind, r)
            }));
        }
        let mut updated = Vec::new();
        for task in tasks {
            let (case, t, kind, r) = task.await.unwrap();
            let expect_ok = kind == 0;
            let s = engine.store();
            let stored = s.case(TENANT, &case.id).await.unwrap().unwrap();
            if expect_ok {
                r.unwrap();
                assert_eq!(stored, t.case);
                updated.push(t.case);
            } else {
                let e = r.expect_err(&format!("kind {kind} of round {round} should fail"));
                assert!(
                    matches!(
                        e.kind,
                        StoreErrorKind::Conflict | StoreErrorKind::DuplicateKey
                    ),
                    "{e:?}"
                );
                assert_eq!(stored, case, "a failed transition writes nothing");
                let entries = s.entries(TENANT, &case.id).await.unwrap();
                assert_eq!(entries.len() as u64, case.version);
                updated.push(case);
            }
        }
        cases = updated;
    }
    for c in &cases {
        let entries = engine.store().entries(TENANT, &c.id).await.unwrap();
        assert_eq!(entries.len() as u64, c.version);
        alur_core::audit::verify_chain(&entries).unwrap();
    }
    // The writer updates its counters right after answering the callers: let it finish.
    let mut after = engine.store().writer_stats();
    for _ in 0..100 {
        if after.transitions - before.transitions >= 16 * 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = engine.store().writer_stats();
    }
    let transitions = after.transitions - before.transitions;
    let batches = after.batches - before.batches;
    assert_eq!(transitions, 16 * 20);
    assert!(
        batches < transitions,
        "concurrent transitions shared transactions ({batches} for {transitions})"
    );
    eprintln!(
        "{durability:?}: {transitions} transitions in {batches} transactions, {} committed",
        after.committed - before.committed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_stay_alone_in_a_group_commit_normal() {
    mixed(Durability::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_stay_alone_in_a_group_commit_full() {
    mixed(Durability::Full).await;
}
