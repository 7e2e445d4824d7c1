//! One hot case: 32 tasks × 200 transitions, half through the engine (`Command::Comment`),
//! half raw `Transition`s carrying an outbox row. Every acknowledged success must be in the audit log
//! (and the outbox) exactly once, the chain contiguous and valid, every failure a typed Conflict.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use alur_core::ErrorKind;
use alur_core::engine::{Actor, Command, Payload};
use alur_core::store::{Store, StoreErrorKind};
use common::{Schema, TENANT, entry, outbox, transition};

const TASKS: usize = 32;
const PER_TASK: usize = 200;
/// Attempts of a raw transition (the engine retries a comment up to 8 times itself).
const RAW_ATTEMPTS: usize = 8;

enum Outcome {
    Engine { seq: u64, text: String },
    Raw { seq: u64, name: String },
    Conflict,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_case() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema
        .store_with(alur_postgres::PostgresOptions {
            max_connections: 16,
            ..schema.options()
        })
        .await;
    let (engine, clock) = alur_testkit::engine(store.clone()).await;
    let engine = Arc::new(engine);
    let case = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let id = case.id.clone();
    let started = Instant::now();

    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let engine = engine.clone();
        let store = store.clone();
        let id = id.clone();
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(PER_TASK);
            for j in 0..PER_TASK {
                if j % 2 == 0 {
                    let text = format!("e-{i}-{j}");
                    let cmd = Command::Comment {
                        actor: Actor::Officer("baloi-operator".into()),
                        payload: Payload {
                            text: Some(text.clone()),
                            ..Payload::default()
                        },
                    };
                    match engine.execute(&id, cmd, None).await {
                        Ok(c) => out.push(Outcome::Engine {
                            seq: c.version,
                            text,
                        }),
                        Err(e) => {
                            assert_eq!(
                                e.kind(),
                                ErrorKind::Conflict,
                                "untyped engine failure: {e}"
                            );
                            out.push(Outcome::Conflict);
                        }
                    }
                } else {
                    let name = format!("raw-{i}-{j}");
                    let mut done = None;
                    for _ in 0..RAW_ATTEMPTS {
                        let cur = store.case(TENANT, &id).await.unwrap().unwrap();
                        let (head_seq, head) =
                            store.chain_head(TENANT, &id).await.unwrap().unwrap();
                        if head_seq != cur.version {
                            continue; // read between two commits
                        }
                        let seq = cur.version + 1;
                        let at = clock_now(&clock);
                        let mut next = cur.clone();
                        next.version = seq;
                        next.updated_at = at;
                        let mut t = transition(
                            next,
                            cur.version,
                            vec![entry(&id, seq, &head, &name, at, None)],
                        );
                        t.outbox = vec![outbox(&id, seq, &format!("{id}:{seq}:{name}"), at)];
                        match store.commit(t).await {
                            Ok(()) => {
                                done = Some(seq);
                                break;
                            }
                            Err(e) => assert_eq!(
                                e.kind,
                                StoreErrorKind::Conflict,
                                "untyped store failure: {e}"
                            ),
                        }
                    }
                    out.push(match done {
                        Some(seq) => Outcome::Raw { seq, name },
                        None => Outcome::Conflict,
                    });
                }
            }
            out
        }));
    }
    let mut engine_ok = BTreeMap::new();
    let mut raw_ok = BTreeMap::new();
    let mut conflicts = 0;
    for t in tasks {
        for o in t.await.unwrap() {
            match o {
                Outcome::Engine { seq, text } => assert!(
                    engine_ok.insert(seq, text).is_none(),
                    "seq acknowledged twice"
                ),
                Outcome::Raw { seq, name } => {
                    assert!(raw_ok.insert(seq, name).is_none(), "seq acknowledged twice")
                }
                Outcome::Conflict => conflicts += 1,
            }
        }
    }
    let elapsed = started.elapsed();

    let final_case = store.case(TENANT, &id).await.unwrap().unwrap();
    let entries = store.entries(TENANT, &id).await.unwrap();
    let successes = engine_ok.len() + raw_ok.len();
    eprintln!(
        "hot case: {} attempts in {elapsed:.1?}: {} engine + {} raw commits, {conflicts} typed conflicts",
        TASKS * PER_TASK,
        engine_ok.len(),
        raw_ok.len()
    );
    assert_eq!(successes + conflicts, TASKS * PER_TASK);
    assert_eq!(
        final_case.version,
        entries.len() as u64,
        "version = number of audit entries"
    );
    assert_eq!(
        final_case.version,
        1 + successes as u64,
        "every success is one entry, nothing else"
    );
    alur_core::audit::verify_chain(&entries).unwrap(); // seq contiguous from 1, links, hashes
    assert!(!engine_ok.is_empty() && !raw_ok.is_empty());

    // Each acknowledged success is in the log exactly once, at the sequence it was given.
    let mut seen_text = BTreeMap::new();
    for e in &entries[1..] {
        if e.actor.id.starts_with("raw-") {
            assert_eq!(
                raw_ok.get(&e.seq),
                Some(&e.actor.id),
                "raw entry {} not acknowledged",
                e.seq
            );
        } else {
            let p = store
                .payload(TENANT, &id, e.seq)
                .await
                .unwrap()
                .expect("comment payload");
            let text = p.text.expect("comment text");
            assert_eq!(
                engine_ok.get(&e.seq),
                Some(&text),
                "engine entry {} not acknowledged",
                e.seq
            );
            *seen_text.entry(text).or_insert(0) += 1;
        }
    }
    assert_eq!(seen_text.len(), engine_ok.len());
    assert!(
        seen_text.values().all(|n| *n == 1),
        "a comment is in the log twice"
    );

    // Each raw success left exactly one outbox row; nothing from failed attempts.
    let ob = store.pending_outbox(TENANT, 1_000_000).await.unwrap();
    let raw_rows: Vec<_> = ob.iter().filter(|m| m.template == "test.note").collect();
    assert_eq!(raw_rows.len(), raw_ok.len());
    for (seq, name) in &raw_ok {
        let want = format!("{id}:{seq}:{name}");
        assert_eq!(
            raw_rows
                .iter()
                .filter(|m| m.id == want && m.seq == *seq)
                .count(),
            1,
            "{want}"
        );
    }
}

fn clock_now(clock: &alur_core::ManualClock) -> jiff::Timestamp {
    use alur_core::Clock;
    clock.now()
}
