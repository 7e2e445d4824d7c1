//! Many concurrent writers on ONE case: versions, audit sequences and outbox rows stay exact.
//!
//! 32 tasks × 200 raw transitions (each with an audit entry and an outbox message) race on one
//! case in both durability profiles; then 32 tasks × 10 comments through the engine.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use alur_core::engine::{Actor, Command, EventKind, Payload};
use alur_core::store::{OutboxMessage, Store, StoreErrorKind, Transition};
use alur_sqlite::{Durability, SqliteStore};

const TENANT: &str = "kepri";
const TASKS: usize = 32;
const ATTEMPTS: usize = 200;

/// One attempt: read the case and its chain head, append one entry and one outbox message.
/// `Ok(Some(seq))` when committed, `Ok(None)` on a typed conflict.
async fn attempt(store: &SqliteStore, case_id: &str, marker: &str) -> Result<Option<u64>, String> {
    let case = store
        .case(TENANT, case_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no case")?;
    let head = store
        .last_entry(TENANT, case_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no head")?;
    let seq = case.version + 1;
    let now = jiff::Timestamp::now();
    let mut next = case.clone();
    next.version = seq;
    next.updated_at = now;
    // Clone the head so that fields added to entries later need no change here.
    let mut entry = head.clone();
    entry.seq = seq;
    entry.event = EventKind::Commented;
    entry.actor.kind = "officer".into();
    entry.actor.id = marker.to_owned();
    entry.at = now;
    entry.payload_digest = None;
    entry.prev_hash = head.hash.clone();
    entry.hash = entry.compute_hash();
    let t = Transition {
        tenant: TENANT.into(),
        case: next,
        expected_version: case.version,
        entries: vec![entry],
        payloads: vec![],
        outbox: vec![OutboxMessage {
            id: format!("{case_id}:{seq}:hot"),
            tenant: TENANT.into(),
            case_id: case_id.to_owned(),
            seq,
            template: "hot.test".into(),
            recipient: marker.to_owned(),
            created_at: now,
        }],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    };
    match store.commit(t).await {
        Ok(()) => Ok(Some(seq)),
        Err(e) if e.kind == StoreErrorKind::Conflict => Ok(None),
        Err(e) => Err(format!("untyped or unexpected error: {e}")),
    }
}

async fn raw_transitions(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh(dir.path(), durability).await;
    let (engine, _) = alur_testkit::engine(store).await;
    let case = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let engine = Arc::new(engine);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let engine = engine.clone();
        let id = case.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut conflicts = 0;
            for i in 0..ATTEMPTS {
                let marker = format!("t{t}-{i}");
                match attempt(engine.store(), &id, &marker).await {
                    Ok(Some(seq)) => acked.push((seq, marker)),
                    Ok(None) => conflicts += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (acked, conflicts)
        }));
    }
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut conflicts = 0;
    for task in tasks {
        let (a, c) = task.await.unwrap();
        conflicts += c;
        for (seq, marker) in a {
            assert!(
                acked.insert(seq, marker).is_none(),
                "two acknowledged commits got seq {seq}"
            );
        }
    }
    let elapsed = started.elapsed();
    let store = engine.store();
    let final_case = store.case(TENANT, &case.id).await.unwrap().unwrap();
    let entries = store.entries(TENANT, &case.id).await.unwrap();
    assert_eq!(acked.len() + conflicts, TASKS * ATTEMPTS);
    assert_eq!(
        final_case.version,
        1 + acked.len() as u64,
        "every success and only successes"
    );
    assert_eq!(entries.len() as u64, final_case.version);
    alur_core::audit::verify_chain(&entries).unwrap();
    // Every acknowledged success is in the audit log exactly once, under its own sequence.
    let mut markers = BTreeSet::new();
    for e in &entries[1..] {
        assert!(
            markers.insert(e.actor.id.clone()),
            "marker {} twice",
            e.actor.id
        );
        assert_eq!(
            acked.get(&e.seq),
            Some(&e.actor.id),
            "entry {} was not acknowledged",
            e.seq
        );
    }
    assert_eq!(markers.len(), acked.len());
    // … and in the outbox exactly once.
    let outbox: Vec<_> = store
        .pending_outbox(TENANT, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.template == "hot.test")
        .collect();
    assert_eq!(outbox.len(), acked.len());
    let by_seq: BTreeMap<u64, String> = outbox
        .iter()
        .map(|m| (m.seq, m.recipient.clone()))
        .collect();
    assert_eq!(
        by_seq, acked,
        "outbox rows match acknowledged commits one to one"
    );
    assert!(
        outbox.windows(2).all(|w| w[0].seq < w[1].seq),
        "outbox in order per case"
    );
    eprintln!(
        "hot case {durability:?}: {} commits, {conflicts} typed conflicts, {:.0} attempts/s",
        acked.len(),
        (TASKS * ATTEMPTS) as f64 / elapsed.as_secs_f64()
    );
}

async fn engine_comments(durability: Durability) {
    const COMMENTS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh(dir.path(), durability).await;
    let (engine, _) = alur_testkit::engine(store).await;
    let case = engine
        .submit(alur_testkit::domisili(2), None)
        .await
        .unwrap();
    let engine = Arc::new(engine);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let engine = engine.clone();
        let id = case.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for i in 0..COMMENTS {
                let cmd = Command::Comment {
                    actor: Actor::Officer("baloi-operator".into()),
                    payload: Payload {
                        text: Some(format!("catatan {t}-{i}")),
                        ..Payload::default()
                    },
                };
                match engine.execute(&id, cmd, None).await {
                    Ok(_) => ok += 1,
                    Err(e) => assert_eq!(e.kind(), alur_core::ErrorKind::Conflict, "{e}"),
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await.unwrap();
    }
    let store = engine.store();
    let final_case = store.case(TENANT, &case.id).await.unwrap().unwrap();
    let entries = store.entries(TENANT, &case.id).await.unwrap();
    assert_eq!(final_case.version, 1 + ok);
    assert_eq!(entries.len() as u64, final_case.version);
    alur_core::audit::verify_chain(&entries).unwrap();
    let comments = entries
        .iter()
        .filter(|e| matches!(e.event, EventKind::Commented))
        .count();
    assert_eq!(comments as u64, ok);
    // Each comment's payload is stored under its entry.
    for e in entries
        .iter()
        .filter(|e| matches!(e.event, EventKind::Commented))
    {
        assert!(
            store
                .payload(TENANT, &case.id, e.seq)
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_case_raw_normal() {
    raw_transitions(Durability::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_case_raw_full() {
    raw_transitions(Durability::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_case_engine_normal() {
    engine_comments(Durability::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_case_engine_full() {
    engine_comments(Durability::Full).await;
}
