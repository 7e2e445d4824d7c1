//! The storage conformance suite (`alur-testkit`) against PostgreSQL.

mod common;

use std::sync::{Arc, Mutex};

use common::Schema;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let url = require_pg!();
    let schemas: Arc<Mutex<Vec<Schema>>> = Arc::default();
    alur_testkit::run_all(|| {
        let schemas = schemas.clone();
        let url = url.clone();
        async move {
            let schema = Schema::new(&url);
            let store = schema.store().await;
            if let Ok(mut g) = schemas.lock() {
                g.push(schema);
            }
            store
        }
    })
    .await;
}

/// The tenant log over entries made by the engine: integrated, signed, verified; then two
/// integrators racing on new entries still produce one contiguous log covering every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_log_integrates_and_verifies() {
    use alur_core::store::Store;
    use alur_core::tlog::{Integrator, prove_case, verify_store};
    use alur_merkle::checkpoint::CheckpointSigner;

    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = Arc::new(schema.store().await);
    assert!(store.capabilities().tenant_log);
    let (engine, _) = alur_testkit::engine(store.clone()).await;
    let mut cases = Vec::new();
    for n in 0..10 {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .expect("submit");
        let c = engine
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "lengkap"),
                None,
            )
            .await
            .expect("act");
        cases.push(c);
    }
    let signer = CheckpointSigner::from_seed("t", &[1; 32]).expect("signer");
    let verifier = signer.verifier();
    let mut integrator = Integrator::new("kepri", Some(signer.clone()));
    let appended = integrator.integrate(&*store, 7).await.expect("integrate");
    assert!(appended >= 20, "appended {appended}");
    assert!(
        store
            .unsequenced("kepri", 100)
            .await
            .expect("unsequenced")
            .is_empty()
    );
    let cp = integrator.checkpoint(&*store).await.expect("checkpoint");
    assert_eq!(cp.size, appended);
    // A repeated checkpoint size is ignored.
    store.put_checkpoint("kepri", &cp).await.expect("repeat");
    assert_eq!(store.checkpoints("kepri").await.expect("list").len(), 1);

    let summary = verify_store(&*store, "kepri", Some(&verifier), None, true, |_| {})
        .await
        .expect("store")
        .expect("audit");
    assert_eq!(summary.entries, appended);
    assert_eq!(summary.leaves, appended);
    assert_eq!(summary.unsequenced, 0);
    let proofs = prove_case(&*store, "kepri", &cases[0].id, cp.size)
        .await
        .expect("proofs");
    assert!(!proofs.is_empty());

    // A stale expected size is a conflict and writes nothing.
    let err = store
        .append_log(
            "kepri",
            0,
            &store.log_leaves("kepri", 0, 1).await.expect("leaves"),
        )
        .await
        .expect_err("stale size");
    assert_eq!(err.kind, alur_core::store::StoreErrorKind::Conflict);
    assert_eq!(store.log_size("kepri").await.expect("size"), appended);

    // Keyset pagination of all_entries.
    let all = store.all_entries("kepri", None, 1000).await.expect("all");
    let first = store.all_entries("kepri", None, 5).await.expect("page");
    let last = first.last().expect("page");
    let rest = store
        .all_entries("kepri", Some((last.case_id.as_str(), last.seq)), 1000)
        .await
        .expect("rest");
    assert_eq!([first, rest].concat(), all);

    // More entries, two integrators racing with small batches.
    for c in &cases {
        engine
            .execute(&c.id, alur_testkit::act(c, "baloi-kasi", "setujui"), None)
            .await
            .ok();
    }
    for n in 100..130 {
        engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .expect("submit");
    }
    let racers = (0..2).map(|_| {
        let store = store.clone();
        let signer = signer.clone();
        tokio::spawn(async move {
            let mut i = Integrator::new("kepri", Some(signer));
            i.integrate(&*store, 3).await.expect("racing integrate")
        })
    });
    let mut total = 0;
    for r in racers.collect::<Vec<_>>() {
        total += r.await.expect("join");
    }
    let size = store.log_size("kepri").await.expect("size");
    assert_eq!(size, appended + total);
    let leaves = store.log_leaves("kepri", 0, size).await.expect("leaves");
    assert!(leaves.iter().enumerate().all(|(i, l)| l.index == i as u64));
    integrator.checkpoint(&*store).await.expect("checkpoint");
    let summary = verify_store(&*store, "kepri", Some(&verifier), None, true, |_| {})
        .await
        .expect("store")
        .expect("audit after race");
    assert_eq!(summary.entries, size);
    assert_eq!(summary.checkpoints, 2);
}
