//! PostgreSQL-specific behaviour: migrations, the append-only audit table, timers and leases,
//! atomicity of failed commits, exact instants, the overdue scan.

mod common;

use std::collections::BTreeSet;

use alur_core::store::{IdempotencyRecord, Store, StoreErrorKind};
use alur_postgres::{ConnectError, PostgresStore};
use common::{Schema, TENANT, create_case, entry, outbox, template, timer, transition};
use jiff::{SignedDuration, Timestamp};

fn t0() -> Timestamp {
    alur_testkit::ts("2026-03-17T02:00:00Z")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_refuse_update_delete_and_truncate() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    let tpl = template(&store).await;
    let pool = store.pool();
    for sql in [
        "UPDATE audit_entries SET hash = 'x'",
        "UPDATE audit_entries SET hash = 'x' WHERE false",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
    ] {
        let err = match sqlx::query(sql).execute(pool).await {
            Ok(_) => panic!("`{sql}` succeeded on the audit table"),
            Err(e) => e,
        };
        let db = err.as_database_error().expect("a database error");
        assert_eq!(db.code().as_deref(), Some("AL100"), "{sql}");
        assert!(db.message().contains("append-only"), "{}", db.message());
    }
    let entries = store.entries(TENANT, &tpl.id).await.unwrap();
    assert_eq!(entries.len(), 1);
    alur_core::audit::verify_chain(&entries).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_startups_migrate_once_and_a_newer_schema_is_refused() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    // Four instances start together on an empty schema.
    let mut starts = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        let options = schema.options();
        starts.push(tokio::spawn(async move {
            PostgresStore::connect(&url, options).await
        }));
    }
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().expect("every instance starts"));
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(applied, alur_postgres::schema_version());

    // A newer build migrated this database: an older binary must refuse it.
    let newer = alur_postgres::schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'from the future', true, '\\x00', 0)",
    )
    .bind(newer)
    .execute(stores[0].pool())
    .await
    .unwrap();
    match PostgresStore::connect(&url, schema.options()).await {
        Err(ConnectError::SchemaTooNew { database, binary }) => {
            assert_eq!(database, newer);
            assert_eq!(binary, alur_postgres::schema_version());
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fired_timer_fires_once_and_failed_commits_write_nothing() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    let tpl = template(&store).await;
    let due = t0();
    let c = create_case(
        &store,
        &tpl,
        "c-1",
        due,
        vec![
            timer("c-1", "t-a", due),
            timer("c-1", "t-b", due + SignedDuration::from_hours(1)),
        ],
    )
    .await;
    let head = store.chain_head(TENANT, "c-1").await.unwrap().unwrap();
    assert_eq!(head.0, 1);

    // Fire t-a, with an outbox row and a new timer.
    let fire = |name: &str, seq: u64, prev: &str| {
        let mut next = c.clone();
        next.version = seq;
        let mut t = transition(
            next,
            seq - 1,
            vec![entry("c-1", seq, prev, name, due, None)],
        );
        t.fired_timer = Some(name.into());
        t.outbox = vec![outbox("c-1", seq, &format!("c-1:{seq}:{name}"), due)];
        t.timers = vec![timer("c-1", "t-c", due + SignedDuration::from_hours(2))];
        t
    };
    store.commit(fire("t-a", 2, &head.1)).await.unwrap();
    let head2 = store.chain_head(TENANT, "c-1").await.unwrap().unwrap();

    // Firing t-a again (at the right version) is a Conflict and writes nothing.
    let err = store.commit(fire("t-a", 3, &head2.1)).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict, "{err}");
    assert!(err.message.contains("timer"), "{err}");
    assert_eq!(store.case(TENANT, "c-1").await.unwrap().unwrap().version, 2);
    assert_eq!(store.entries(TENANT, "c-1").await.unwrap().len(), 2);
    assert_eq!(
        store.pending_outbox(TENANT, 100).await.unwrap().len(),
        2,
        "submit + first fire"
    );
    let ids: Vec<String> = store
        .timers(TENANT, "c-1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["t-b", "t-c"]);

    // A stale version is a Conflict with another message, and writes nothing either.
    let err = store.commit(fire("t-b", 2, &head2.1)).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict);
    assert!(err.message.contains("version"), "{err}");
    assert_eq!(store.timers(TENANT, "c-1").await.unwrap().len(), 2);

    // A duplicate idempotency key: DuplicateKey, and the new case is not there at all.
    let mut a = transition(common::bare_case(&tpl, "c-2", due), 0, vec![]);
    a.case.version = 1;
    a.entries = vec![entry("c-2", 1, alur_core::audit::GENESIS, "x", due, None)];
    a.idempotency = Some(IdempotencyRecord {
        key: "k".into(),
        command_digest: "d".into(),
        result: a.case.clone(),
    });
    store.commit(a.clone()).await.unwrap();
    let mut b = a.clone();
    b.case.id = "c-3".into();
    b.entries[0] = entry("c-3", 1, alur_core::audit::GENESIS, "x", due, None);
    b.outbox = vec![outbox("c-3", 1, "c-3:1:x", due)];
    b.timers = vec![timer("c-3", "t", due)];
    let err = store.commit(b).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::DuplicateKey, "{err}");
    assert!(store.case(TENANT, "c-3").await.unwrap().is_none());
    assert!(store.entries(TENANT, "c-3").await.unwrap().is_empty());
    assert!(store.timers(TENANT, "c-3").await.unwrap().is_empty());
    assert_eq!(store.pending_outbox(TENANT, 100).await.unwrap().len(), 2);
    // Creating an existing case: Conflict.
    let mut again = a.clone();
    again.idempotency = None;
    assert_eq!(
        store.commit(again).await.unwrap_err().kind,
        StoreErrorKind::Conflict
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_timers_and_leases() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    let tpl = template(&store).await;
    let now = t0();
    let c = create_case(
        &store,
        &tpl,
        "c-1",
        now,
        vec![timer("c-1", "a", now), timer("c-1", "b", now)],
    )
    .await;
    let later = now + SignedDuration::from_mins(10);

    // Owner x claims both; y sees none while the lease lives, both after it expires.
    let x = store
        .claim_due_timers(TENANT, now, "x", later, 10)
        .await
        .unwrap();
    assert_eq!(
        x.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(
        store
            .claim_due_timers(TENANT, now, "y", later, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due_timers(TENANT, now, "x", later, 10)
            .await
            .unwrap()
            .len(),
        2,
        "own lease"
    );
    let y = store
        .claim_due_timers(TENANT, later, "y", later + SignedDuration::from_mins(10), 1)
        .await
        .unwrap();
    assert_eq!(y.len(), 1, "limit respected");
    // Not yet due: not claimed.
    assert!(
        store
            .claim_due_timers(TENANT, now - SignedDuration::from_secs(1), "z", later, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // replace_timers drops a, b (leased or not) and sets b again (fresh, unleased) and d.
    let head = store.chain_head(TENANT, "c-1").await.unwrap().unwrap();
    let mut next = c.clone();
    next.version = 2;
    let mut t = transition(next, 1, vec![entry("c-1", 2, &head.1, "r", now, None)]);
    t.replace_timers = true;
    t.timers = vec![
        timer("c-1", "b", now),
        timer("c-1", "d", now + SignedDuration::from_secs(1)),
    ];
    store.commit(t).await.unwrap();
    let left: Vec<String> = store
        .timers(TENANT, "c-1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, ["b", "d"]);
    let z = store
        .claim_due_timers(TENANT, now, "z", later, 10)
        .await
        .unwrap();
    assert_eq!(
        z.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["b"],
        "the re-set timer has no lease"
    );

    // replace_timers together with fired_timer naming one of the replaced timers.
    let head = store.chain_head(TENANT, "c-1").await.unwrap().unwrap();
    let mut next = c.clone();
    next.version = 3;
    let mut t = transition(next, 2, vec![entry("c-1", 3, &head.1, "r", now, None)]);
    t.replace_timers = true;
    t.fired_timer = Some("b".into());
    t.timers = vec![timer("c-1", "b", later)];
    store.commit(t).await.unwrap();
    let left = store.timers(TENANT, "c-1").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id.as_str(), left[0].fire_at), ("b", later));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_from_two_pools_are_disjoint() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let a = schema.store().await;
    let b = schema.store().await;
    let tpl = template(&a).await;
    let now = t0();
    let mut all = BTreeSet::new();
    for i in 0..40 {
        let id = format!("c-{i:02}");
        let timers: Vec<_> = (0..10)
            .map(|k| {
                timer(
                    &id,
                    &format!("{id}-t{k}"),
                    now - SignedDuration::from_secs(k),
                )
            })
            .collect();
        all.extend(timers.iter().map(|t| (t.case_id.clone(), t.id.clone())));
        create_case(&a, &tpl, &id, now, timers).await;
    }
    let far = now + SignedDuration::from_hours(1);
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone(), a, b]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for round in 0.. {
                // A fresh owner per call: an owner gets its own leased timers back (a worker that
                // crashed and restarted under the same name resumes them), so it would loop here.
                let owner = format!("owner-{n}-{round}");
                let batch = store
                    .claim_due_timers(TENANT, now, &owner, far, 7)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|t| (t.case_id, t.id)));
            }
            got
        }));
    }
    let mut seen = BTreeSet::new();
    let mut owners_with_claims = 0;
    for t in tasks {
        let got = t.await.unwrap();
        owners_with_claims += usize::from(!got.is_empty());
        for k in got {
            assert!(
                seen.insert(k.clone()),
                "{k:?} claimed twice under a live lease"
            );
        }
    }
    assert_eq!(seen, all, "every due timer claimed exactly once");
    assert!(
        owners_with_claims >= 2,
        "claims were spread over several owners"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instants_round_trip_to_the_nanosecond() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    let tpl = template(&store).await;
    let at: Timestamp = "2026-03-17T02:00:00.123456789Z".parse().unwrap();
    let mut c = common::bare_case(&tpl, "c-ns", at);
    c.version = 1;
    let e = entry(
        "c-ns",
        1,
        alur_core::audit::GENESIS,
        "x",
        at,
        Some("Perpres 21/2023".into()),
    );
    let mut t = transition(c.clone(), 0, vec![e.clone()]);
    t.outbox = vec![outbox("c-ns", 1, "c-ns:1:applicant", at)];
    t.timers = vec![timer("c-ns", "t", at)];
    store.commit(t).await.unwrap();
    assert_eq!(store.case(TENANT, "c-ns").await.unwrap().unwrap(), c);
    let back = store.entries(TENANT, "c-ns").await.unwrap();
    assert_eq!(back, vec![e]);
    alur_core::audit::verify_chain(&back).unwrap();
    assert_eq!(store.timers(TENANT, "c-ns").await.unwrap()[0].fire_at, at);
    let ob = store.pending_outbox(TENANT, 10).await.unwrap();
    assert_eq!(ob.last().unwrap().created_at, at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_lists_open_cases_past_their_deadline() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema.store().await;
    let tpl = template(&store).await;
    let now = t0();
    for (i, hours, open) in [(1, -3, true), (2, -1, true), (3, 1, true), (4, -2, false)] {
        let id = format!("c-{i}");
        let mut c = common::bare_case(&tpl, &id, now);
        c.version = 1;
        c.due_at = Some(now + SignedDuration::from_hours(hours));
        if !open {
            c.status = alur_core::Status::Closed(alur_core::model::Outcome::Completed);
            c.pending = None;
        }
        let e = entry(&id, 1, alur_core::audit::GENESIS, "x", now, None);
        store.commit(transition(c, 0, vec![e])).await.unwrap();
    }
    let late = store.overdue(TENANT, now, 10).await.unwrap();
    assert_eq!(
        late.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["c-1", "c-2"]
    );
    assert_eq!(late[0].due_at, now - SignedDuration::from_hours(3));
    assert_eq!(store.overdue(TENANT, now, 1).await.unwrap().len(), 1);
    // Closing a case takes it off the list and out of the inbox.
    let inbox = store
        .inbox(TENANT, &[("operator".into(), "21.71.10.1001".into())], 10)
        .await
        .unwrap();
    assert!(inbox.iter().all(|c| c.status.is_open()));
    assert!(!inbox.iter().any(|c| c.id == "c-4"));
    assert!(inbox.iter().any(|c| c.id == "c-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_are_shared_between_instances_that_register_them() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let first = schema.store().await;
    let second = schema.store().await;
    let def = alur_testkit::kepri().services["batam-domisili"]
        .as_ref()
        .clone();
    assert_eq!(first.put_definition(TENANT, &def).await.unwrap(), 1);
    // The second instance has not registered the content: a clear error, not a wrong answer.
    let err = second.definition(TENANT, &def.id, 1).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Other);
    // Registering it (as every engine does at start) finds the same version.
    assert_eq!(second.put_definition(TENANT, &def).await.unwrap(), 1);
    assert_eq!(
        second
            .definition(TENANT, &def.id, 1)
            .await
            .unwrap()
            .unwrap(),
        {
            let mut d = def.clone();
            d.version = 1;
            d
        }
    );
    // Concurrent registrations of a changed definition agree on one new version.
    let mut changed = def.clone();
    changed.name.push_str(" (revisi)");
    changed.digest = alur_core::config::definition_digest(&changed);
    let (a, b) = tokio::join!(
        first.put_definition(TENANT, &changed),
        second.put_definition(TENANT, &changed)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (2, 2));
}
