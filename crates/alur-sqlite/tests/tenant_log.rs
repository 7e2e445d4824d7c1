//! The tenant Merkle log: integration in commit order, size checks, append-only storage, signed
//! checkpoints, and a full audit of a store by `alur_core::tlog::verify_store`.

mod common;

use std::sync::Arc;

use alur_core::store::{LogLeaf, Store, StoreErrorKind, StoredCheckpoint};
use alur_core::tlog::{Integrator, verify_store};
use alur_merkle::checkpoint::CheckpointSigner;
use alur_sqlite::Durability;
use sqlx::{ConnectOptions, Connection};

const TENANT: &str = "kepri";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrate_checkpoint_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let (engine, clock) = alur_testkit::engine(common::open(&path, Durability::Full).await).await;
    let signer = CheckpointSigner::from_seed("alur-test", &[9u8; 32]).unwrap();
    let verifier = signer.verifier();
    let mut integrator = Integrator::new(TENANT, Some(signer));
    let s = engine.store();
    for n in 0..30 {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
        clock.advance(jiff::SignedDuration::from_mins(2));
        engine
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "lengkap"),
                None,
            )
            .await
            .unwrap();
        if n % 10 == 9 {
            integrator.integrate(s, 7).await.unwrap();
            integrator.checkpoint(s).await.unwrap();
        }
    }
    // Entries after the last integration are reported as unsequenced, in commit order.
    let c = engine
        .submit(alur_testkit::domisili(99), None)
        .await
        .unwrap();
    let pending = s.unsequenced(TENANT, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].case_id.as_str(), pending[0].seq),
        (c.id.as_str(), 1)
    );

    let size = s.log_size(TENANT).await.unwrap();
    let leaves = s.log_leaves(TENANT, 0, size).await.unwrap();
    assert_eq!(leaves.len() as u64, size);
    assert!(leaves.iter().enumerate().all(|(i, l)| l.index == i as u64));
    assert_eq!(
        s.log_leaves(TENANT, 5, 8).await.unwrap(),
        leaves[5..8].to_vec()
    );
    let checkpoints = s.checkpoints(TENANT).await.unwrap();
    assert_eq!(checkpoints.len(), 3);
    assert!(checkpoints.windows(2).all(|w| w[0].size < w[1].size));
    // A checkpoint of a size already kept is ignored.
    s.put_checkpoint(
        TENANT,
        &StoredCheckpoint {
            size: checkpoints[0].size,
            note: "other".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(s.checkpoints(TENANT).await.unwrap(), checkpoints);

    // Every entry in pages, ordered by case and sequence.
    let mut all = Vec::new();
    let mut after: Option<(String, u64)> = None;
    loop {
        let page = s
            .all_entries(TENANT, after.as_ref().map(|(c, q)| (c.as_str(), *q)), 7)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| (e.case_id.clone(), e.seq));
        all.extend(page);
    }
    assert_eq!(all.len() as u64, size + 1);
    assert!(
        all.windows(2)
            .all(|w| (&w[0].case_id, w[0].seq) < (&w[1].case_id, w[1].seq))
    );

    let summary = verify_store(s, TENANT, Some(&verifier), None, false, |_| {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.entries, size + 1);
    assert_eq!(summary.leaves, size);
    assert_eq!(summary.checkpoints, 3);
    assert_eq!(summary.unsequenced, 1);
}

#[tokio::test]
async fn appends_are_checked_and_the_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let (engine, _) = alur_testkit::engine(common::open(&path, Durability::Full).await).await;
    let s = engine.store();
    // The engine's configuration entries (the `@config` chain) came first: sequence them.
    let base = Integrator::new(TENANT, None)
        .integrate(s, 1000)
        .await
        .unwrap();
    assert!(base > 0);
    for n in 0..3 {
        engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
    }
    let next = s.unsequenced(TENANT, 10).await.unwrap();
    assert_eq!(next.len(), 3);
    // Wrong size, skipped entry, forged hash: Conflict, nothing written.
    let err = s.append_log(TENANT, base + 1, &next).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict);
    let err = s.append_log(TENANT, base, &next[1..]).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict);
    let mut forged = next.clone();
    forged[2].hash = "00".repeat(32);
    assert_eq!(
        s.append_log(TENANT, base, &forged).await.unwrap_err().kind,
        StoreErrorKind::Conflict
    );
    assert_eq!(s.log_size(TENANT).await.unwrap(), base);
    // The right leaves, in two appends.
    s.append_log(TENANT, base, &next[..2]).await.unwrap();
    assert_eq!(
        s.append_log(TENANT, base, &next[2..])
            .await
            .unwrap_err()
            .kind,
        StoreErrorKind::Conflict
    );
    s.append_log(TENANT, base + 2, &next[2..]).await.unwrap();
    let leaves = s.log_leaves(TENANT, base, base + 10).await.unwrap();
    let expected: Vec<LogLeaf> = next
        .iter()
        .enumerate()
        .map(|(i, l)| LogLeaf {
            index: base + i as u64,
            ..l.clone()
        })
        .collect();
    assert_eq!(leaves, expected);
    assert!(s.unsequenced(TENANT, 10).await.unwrap().is_empty());

    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    for sql in [
        "UPDATE log_leaves SET hash = 'x'",
        "DELETE FROM log_leaves",
        "UPDATE checkpoints SET note = 'x'",
        "DELETE FROM checkpoints",
    ] {
        if let Err(e) = sqlx::query(sql).execute(&mut conn).await {
            assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        } else {
            // No checkpoint rows yet: the statement touched nothing.
            assert!(sql.contains("checkpoints"), "{sql} succeeded");
        }
    }
    conn.close().await.unwrap();
    assert_eq!(
        s.log_leaves(TENANT, base, base + 10).await.unwrap(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_integrators_build_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) =
        alur_testkit::engine(common::fresh(dir.path(), Durability::Normal).await).await;
    let engine = Arc::new(engine);
    let mut tasks = Vec::new();
    for w in 0..3 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut integrator = Integrator::new(TENANT, None);
            for n in 0..15 {
                engine
                    .submit(alur_testkit::domisili(w * 100 + n), None)
                    .await
                    .unwrap();
                integrator.integrate(engine.store(), 3).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = engine.store();
    Integrator::new(TENANT, None)
        .integrate(s, 100)
        .await
        .unwrap();
    let size = s.log_size(TENANT).await.unwrap();
    let config = s
        .entries(TENANT, alur_core::config_log::CONFIG_CHAIN)
        .await
        .unwrap()
        .len() as u64;
    assert_eq!(size, 45 + config);
    let leaves = s.log_leaves(TENANT, 0, size).await.unwrap();
    let mut keys: Vec<_> = leaves.iter().map(|l| (l.case_id.clone(), l.seq)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len() as u64, size, "each entry once");
    let summary = verify_store(s, TENANT, None, None, false, |_| {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.leaves, size);
}

/// The audit reads the log's rows in the table's order while they come in index order. Leaves
/// put back out of place (deleted and inserted again unchanged, by hand, triggers dropped) are
/// read by index from there: the audit still passes, in one span or several; a leaf really
/// missing is reported at its index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaves_out_of_table_order_are_read_by_index() {
    use alur_core::tlog::{Reading, verify_store_with};
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let (engine, _) = alur_testkit::engine(common::open(&path, Durability::Full).await).await;
    let s = engine.store();
    for n in 0..20 {
        alur_testkit::submit_checked(&engine, n).await;
    }
    Integrator::new(TENANT, None)
        .integrate(s, 1000)
        .await
        .unwrap();
    let size = s.log_size(TENANT).await.unwrap();
    assert!(size > 40, "{size}");
    let audit = |spans: usize| async move {
        let reading = Reading {
            page: 4,
            parts: 1,
            spans,
        };
        verify_store_with(s, TENANT, None, None, false, |_| {}, reading)
            .await
            .unwrap()
    };
    let sound = audit(1).await.unwrap();
    assert_eq!(sound.leaves, size);
    let mut raw = common::raw(&path).await;
    let run = |sql: &'static str| sqlx::query(sql);
    run("DROP TRIGGER log_leaves_no_delete")
        .execute(&mut raw)
        .await
        .unwrap();
    run("CREATE TABLE kept AS SELECT * FROM log_leaves WHERE idx IN (3, 4, 17, 30)")
        .execute(&mut raw)
        .await
        .unwrap();
    run("DELETE FROM log_leaves WHERE idx IN (3, 4, 17, 30)")
        .execute(&mut raw)
        .await
        .unwrap();
    run("INSERT INTO log_leaves SELECT * FROM kept ORDER BY idx DESC")
        .execute(&mut raw)
        .await
        .unwrap();
    for spans in 1..=4 {
        assert_eq!(audit(spans).await, Ok(sound), "{spans} spans");
    }
    run("DELETE FROM log_leaves WHERE idx = 17")
        .execute(&mut raw)
        .await
        .unwrap();
    for spans in 1..=4 {
        let f = audit(spans).await.unwrap_err();
        assert_eq!(
            (f.what.as_str(), f.index),
            ("log", Some(17)),
            "{spans} spans: {f}"
        );
    }
}

/// Two tenants in one database: a small one whose entries are scattered among a large one's is
/// audited case by case (reading in commit order would read the other tenant's entries too),
/// the large one in commit order; both verify, and a modified entry of the small one is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_tenant_among_a_large_one_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let store = Arc::new(common::open(&path, Durability::Normal).await);
    let (small, _) = alur_testkit::tenant_engine("kecil", Arc::clone(&store)).await;
    let (large, _) = alur_testkit::tenant_engine(TENANT, Arc::clone(&store)).await;
    for n in 0..200 {
        let e = if n % 100 == 0 { &small } else { &large };
        e.submit(alur_testkit::domisili(n), None).await.unwrap();
    }
    for tenant in ["kecil", TENANT] {
        Integrator::new(tenant, None)
            .integrate(&*store, 1000)
            .await
            .unwrap();
    }
    // The small tenant's entries are under a quarter of the positions they span; the large
    // one's are not.
    let share = |tenant: &'static str| {
        let store = Arc::clone(&store);
        async move {
            let size = store.log_size(tenant).await.unwrap();
            let ends = store.leaf_positions(tenant, &[0, size - 1]).await.unwrap();
            let (first, last) = (ends[0].unwrap(), ends[1].unwrap());
            size as f64 / (last - first + 1) as f64
        }
    };
    assert!(share("kecil").await < 0.25);
    assert!(share(TENANT).await >= 0.25);
    for tenant in ["kecil", TENANT] {
        let s = verify_store(&*store, tenant, None, None, false, |_| {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.entries, s.leaves, "{tenant}");
        assert_eq!(s.unsequenced, 0, "{tenant}");
    }
    let mut raw = common::raw(&path).await;
    for sql in [
        "DROP TRIGGER audit_entries_no_update",
        "UPDATE audit_entries SET legal_basis = 'x' WHERE tenant = 'kecil' AND case_id NOT LIKE '@%'",
    ] {
        sqlx::query(sql).execute(&mut raw).await.unwrap();
    }
    let f = verify_store(&*store, "kecil", None, None, false, |_| {})
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(f.what, "chain", "{f}");
}
