//! Start-up (migrations, pragmas, refusal of a newer database), durability across reopen, and
//! the audit table's own defences (append-only triggers, chain continuity).

mod common;

use alur_core::store::{Store, StoreErrorKind, Transition};
use alur_sqlite::{Durability, OpenError, SqliteOptions, SqliteStore};
use sqlx::Connection;

const TENANT: &str = "kepri";

#[tokio::test]
async fn audit_entries_refuse_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let (engine, _) = alur_testkit::engine(common::open(&path, Durability::Full).await).await;
    let c = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let mut conn = common::raw(&path).await;
    for sql in [
        "UPDATE audit_entries SET hash = 'forged'",
        "UPDATE audit_entries SET at = at",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_entries WHERE seq = 1",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(
            err.to_string().contains("audit entries are append-only"),
            "{sql}: {err}"
        );
    }
    conn.close().await.unwrap();
    let entries = engine.store().entries(TENANT, &c.id).await.unwrap();
    assert_eq!(entries.len(), 1);
    alur_core::audit::verify_chain(&entries).unwrap();
}

#[tokio::test]
async fn an_entry_that_does_not_continue_the_chain_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let (engine, _) = alur_testkit::engine(common::open(&path, Durability::Full).await).await;
    let c = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let head = engine
        .store()
        .last_entry(TENANT, &c.id)
        .await
        .unwrap()
        .unwrap();
    for (seq, prev) in [(2, "0".repeat(64)), (3, head.hash.clone())] {
        let mut entry = head.clone();
        entry.seq = seq;
        entry.prev_hash = prev;
        entry.hash = entry.compute_hash();
        let mut next = c.clone();
        next.version = seq;
        let t = Transition {
            tenant: TENANT.into(),
            case: next,
            expected_version: c.version,
            entries: vec![entry],
            payloads: vec![],
            outbox: vec![],
            timers: vec![],
            replace_timers: false,
            idempotency: None,
            fired_timer: None,
            letter: None,
        };
        let err = engine.store().commit(t).await.unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Other, "{err}");
        assert_eq!(
            engine.store().case(TENANT, &c.id).await.unwrap().unwrap(),
            c
        );
        assert_eq!(
            engine.store().entries(TENANT, &c.id).await.unwrap().len(),
            1
        );
    }
}

#[tokio::test]
async fn a_database_from_a_newer_alur_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    common::open(&path, Durability::Normal).await.close().await;
    let mut conn = common::raw(&path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let err = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OpenError::NewerDatabase { found: 9999, known } if known < 9999),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade alur"), "{err}");
}

#[tokio::test]
async fn in_memory_databases_are_refused() {
    for url in ["sqlite::memory:", ":memory:", "sqlite://x.db?mode=memory"] {
        let err = SqliteStore::open(url, SqliteOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, OpenError::Options(_)), "{url}: {err:?}");
    }
}

#[tokio::test]
async fn everything_survives_a_reopen_in_either_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let (engine, _) = alur_testkit::engine(common::open(&path, Durability::Normal).await).await;
    let c = engine
        .submit(alur_testkit::domisili(1), Some("key-1"))
        .await
        .unwrap();
    let c = engine
        .execute(
            &c.id,
            alur_testkit::act(&c, "baloi-operator", "lengkap"),
            None,
        )
        .await
        .unwrap();
    let denied = engine
        .execute(
            &c.id,
            alur_testkit::act(&c, "tamanbaloi-operator", "lengkap"),
            None,
        )
        .await;
    assert!(denied.is_err());
    let store = engine.into_store();
    let entries = store.entries(TENANT, &c.id).await.unwrap();
    let outbox = store.pending_outbox(TENANT, 100).await.unwrap();
    let defs: Vec<_> = alur_testkit::kepri()
        .services
        .values()
        .map(|d| d.id.clone())
        .collect();
    store.close().await;

    let store = common::open(&path, Durability::Full).await;
    assert_eq!(store.durability(), Durability::Full);
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    assert_eq!(store.case(TENANT, &c.id).await.unwrap().unwrap(), c);
    assert_eq!(store.entries(TENANT, &c.id).await.unwrap(), entries);
    assert_eq!(store.pending_outbox(TENANT, 100).await.unwrap(), outbox);
    assert_eq!(
        store
            .idempotency(TENANT, "key-1")
            .await
            .unwrap()
            .unwrap()
            .result
            .id,
        c.id
    );
    assert!(store.payload(TENANT, &c.id, 1).await.unwrap().is_some());
    assert_eq!(store.denials(TENANT).await.unwrap().len(), 1);
    let config = alur_testkit::kepri();
    for id in defs {
        let stored = store.definition(TENANT, &id, 1).await.unwrap().unwrap();
        let mut expected = config.services[&id].as_ref().clone();
        expected.version = 1;
        assert_eq!(stored, expected, "{id}");
    }
    // The engine starts again over the reopened store and continues the case.
    let (engine, _) = alur_testkit::engine(store).await;
    let again = engine.case(&c.id).await.unwrap().unwrap();
    assert_eq!(again, c);
}

#[tokio::test]
async fn overdue_lists_open_cases_past_their_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) =
        alur_testkit::engine(common::fresh(dir.path(), Durability::Normal).await).await;
    let mut with_deadline = Vec::new();
    for n in 0..3 {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
        // Cases get a deadline once the clock starts (the file found complete).
        let c = engine
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "lengkap"),
                None,
            )
            .await
            .unwrap();
        if c.due_at.is_some() {
            with_deadline.push(c);
        }
        clock.advance(jiff::SignedDuration::from_mins(1));
    }
    let s = engine.store();
    let far = alur_testkit::ts("2030-01-01T00:00:00Z");
    let overdue = s.overdue(TENANT, far, 10).await.unwrap();
    assert_eq!(overdue.len(), with_deadline.len());
    assert!(overdue.windows(2).all(|w| w[0].due_at <= w[1].due_at));
    assert!(
        s.overdue(TENANT, alur_testkit::ts("2000-01-01T00:00:00Z"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.overdue(TENANT, far, 1).await.unwrap().len() <= 1);
    // A long list goes through the read pool instead of the caller's thread: same answer.
    let long = s.overdue(TENANT, far, 1_000_000).await.unwrap();
    assert_eq!(long, overdue);
    assert_eq!(
        long.iter().map(|o| o.case_id.as_str()).collect::<Vec<_>>(),
        with_deadline
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn indexed_columns_follow_every_change_of_the_case() {
    use alur_core::store::SearchQuery;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) =
        alur_testkit::engine(common::fresh(dir.path(), Durability::Normal).await).await;
    let c = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let s = engine.store();
    let post = |unit: &str| vec![("operator".to_owned(), unit.to_owned())];
    assert_eq!(s.inbox(TENANT, &post(&c.unit), 10).await.unwrap().len(), 1);
    // A transition that moves the case to another unit, sets a deadline and another service.
    let mut next = c.clone();
    next.version += 1;
    next.unit = "21.71.10.1002".into();
    next.service = "batam-sktm".into();
    next.due_at = Some(alur_testkit::ts("2026-03-18T00:00:00Z"));
    if let Some(p) = next.pending.as_mut() {
        p.unit = next.unit.clone();
    }
    let t = Transition {
        tenant: TENANT.into(),
        case: next.clone(),
        expected_version: c.version,
        entries: vec![],
        payloads: vec![],
        outbox: vec![],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    };
    s.commit(t).await.unwrap();
    assert_eq!(s.case(TENANT, &c.id).await.unwrap().unwrap(), next);
    let by_unit = |p: &str| SearchQuery {
        unit_prefix: Some(p.into()),
        ..SearchQuery::default()
    };
    assert!(
        s.search(TENANT, &by_unit("21.71.10.1001"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.search(TENANT, &by_unit("21.71.10.1002"))
            .await
            .unwrap()
            .len(),
        1
    );
    let by_service = SearchQuery {
        service: Some("batam-sktm".into()),
        ..SearchQuery::default()
    };
    assert_eq!(s.search(TENANT, &by_service).await.unwrap().len(), 1);
    assert!(
        s.inbox(TENANT, &post("21.71.10.1001"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.inbox(TENANT, &post("21.71.10.1002"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let overdue = s
        .overdue(TENANT, alur_testkit::ts("2026-03-19T00:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].due_at, alur_testkit::ts("2026-03-18T00:00:00Z"));
    // Closing it takes it out of the inbox and the overdue scan.
    let mut closed = next.clone();
    closed.version += 1;
    closed.status = alur_core::Status::Closed(alur_core::model::Outcome::Withdrawn);
    closed.pending = None;
    let t = Transition {
        tenant: TENANT.into(),
        case: closed,
        expected_version: next.version,
        entries: vec![],
        payloads: vec![],
        outbox: vec![],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    };
    s.commit(t).await.unwrap();
    assert!(
        s.inbox(TENANT, &post("21.71.10.1002"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.overdue(TENANT, alur_testkit::ts("2026-03-19T00:00:00Z"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let open = SearchQuery {
        open_only: true,
        ..SearchQuery::default()
    };
    assert!(s.search(TENANT, &open).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_transition_with_several_entries_payloads_messages_and_timers() {
    use alur_core::engine::{EventKind, Payload};
    use alur_core::store::{OutboxMessage, StoredPayload, Timer};
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = alur_testkit::engine(common::fresh(dir.path(), Durability::Full).await).await;
    let c = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let s = engine.store();
    let mut prev = s.last_entry(TENANT, &c.id).await.unwrap().unwrap();
    let mut entries = Vec::new();
    let mut payloads = Vec::new();
    let mut outbox = Vec::new();
    for k in 1..=3u64 {
        let mut e = prev.clone();
        e.seq = c.version + k;
        e.event = EventKind::Commented;
        e.at = alur_testkit::ts("2026-03-17T02:00:00.123456789Z");
        e.payload_digest = (k != 2).then(|| format!("{k:02}").repeat(32));
        e.prev_hash = prev.hash.clone();
        e.hash = e.compute_hash();
        if let Some(d) = &e.payload_digest {
            payloads.push(StoredPayload {
                case_id: c.id.clone(),
                seq: e.seq,
                digest: d.clone(),
                payload: Payload {
                    text: Some(format!("catatan {k}")),
                    ..Payload::default()
                },
            });
        }
        if k != 1 {
            outbox.push(OutboxMessage {
                id: format!("{}:{}:applicant", c.id, e.seq),
                tenant: TENANT.into(),
                case_id: c.id.clone(),
                seq: e.seq,
                template: "case.commented".into(),
                recipient: "applicant".into(),
                created_at: e.at,
            });
        }
        entries.push(e.clone());
        prev = e;
    }
    let timers: Vec<Timer> = ["t-a", "t-b"]
        .iter()
        .map(|id| Timer {
            id: (*id).into(),
            tenant: TENANT.into(),
            case_id: c.id.clone(),
            kind: "breach".into(),
            fire_at: alur_testkit::ts("2026-03-20T00:00:00Z"),
        })
        .collect();
    let mut next = c.clone();
    next.version += 3;
    let t = Transition {
        tenant: TENANT.into(),
        case: next.clone(),
        expected_version: c.version,
        entries: entries.clone(),
        payloads: payloads.clone(),
        outbox: outbox.clone(),
        timers: timers.clone(),
        replace_timers: true,
        idempotency: None,
        fired_timer: None,
        letter: None,
    };
    s.commit(t).await.unwrap();
    let stored = s.entries(TENANT, &c.id).await.unwrap();
    assert_eq!(stored[1..], entries[..]);
    alur_core::audit::verify_chain(&stored).unwrap();
    for p in &payloads {
        assert_eq!(
            s.payload(TENANT, &c.id, p.seq).await.unwrap().unwrap(),
            p.payload
        );
    }
    assert!(
        s.payload(TENANT, &c.id, c.version + 2)
            .await
            .unwrap()
            .is_none()
    );
    let pending: Vec<_> = s
        .pending_outbox(TENANT, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.template == "case.commented")
        .collect();
    assert_eq!(pending, outbox);
    assert_eq!(s.timers(TENANT, &c.id).await.unwrap(), timers);
    assert_eq!(s.case(TENANT, &c.id).await.unwrap().unwrap(), next);
}
