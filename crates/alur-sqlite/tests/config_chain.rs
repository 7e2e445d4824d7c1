//! The configuration chain across restarts on a real SQLite file: a changed configuration is
//! recorded as grants revoked and added, an unchanged one records nothing, and the chain survives
//! reopening and verifies.

mod common;

use std::sync::Arc;

use alur_core::config_log::{CONFIG_CHAIN, ConfigState, GrantKind};
use alur_core::engine::EventKind;
use alur_core::store::Store;
use alur_core::{Engine, ManualClock};
use alur_sqlite::Durability;
use alur_testkit::{kepri, pseudonymizer, ts};

#[tokio::test]
async fn restarts_record_exactly_the_configuration_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let clock = Arc::new(ManualClock::new(ts("2026-03-02T01:00:00Z")));

    // First start: everything is new.
    let store = common::open(&path, Durability::Full).await;
    let e = Engine::new(kepri(), store, clock.clone(), pseudonymizer())
        .await
        .unwrap();
    let first = e.store().entries("kepri", CONFIG_CHAIN).await.unwrap();
    assert!(!first.is_empty());
    e.into_store().close().await;

    // Same configuration again: nothing recorded.
    let store = common::open(&path, Durability::Full).await;
    let e = Engine::new(kepri(), store, clock.clone(), pseudonymizer())
        .await
        .unwrap();
    assert_eq!(
        e.store().entries("kepri", CONFIG_CHAIN).await.unwrap(),
        first
    );
    e.into_store().close().await;

    // An officer loses a post and a mandate is withdrawn from the configuration.
    let mut changed = kepri();
    let officer = changed
        .officers
        .values_mut()
        .find(|o| !o.posts.is_empty())
        .unwrap();
    let lost = officer.posts.remove(0);
    let lost_officer = officer.id.clone();
    let mandate = changed.mandates.remove(0);
    clock.set(ts("2026-03-20T01:00:00Z"));
    let store = common::open(&path, Durability::Full).await;
    let e = Engine::new(changed, store, clock.clone(), pseudonymizer())
        .await
        .unwrap();
    let all = e.store().entries("kepri", CONFIG_CHAIN).await.unwrap();
    let new = &all[first.len()..];
    assert_eq!(new.len(), 2, "{new:#?}");
    assert!(new.iter().all(|x| x.at == ts("2026-03-20T01:00:00Z")));
    assert!(new.iter().any(|x| matches!(&x.event,
        EventKind::GrantRevoked { grant }
            if grant.kind == GrantKind::Post && grant.officer == lost_officer
                && grant.role == lost.role && grant.unit == lost.unit)));
    assert!(new.iter().any(|x| matches!(&x.event,
        EventKind::GrantRevoked { grant }
            if grant.kind != GrantKind::Post && grant.reference.as_deref() == Some(mandate.reference.as_str())
                && x.legal_basis.as_deref() == Some(mandate.reference.as_str()))));
    alur_core::audit::verify_chain(&all).unwrap();
    assert_eq!(ConfigState::from_entries(&all), e.configuration_state());

    // The entries reach the tenant log and its Merkle tree verifies.
    let store = e.into_store();
    let mut integrator = alur_core::tlog::Integrator::new("kepri", None);
    integrator.integrate(&store, 1000).await.unwrap();
    let report = alur_core::tlog::verify_store(&store, "kepri", None, None, false, |_| {})
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    let leaves = store.log_leaves("kepri", 0, u64::MAX).await.unwrap();
    assert_eq!(
        leaves.iter().filter(|l| l.case_id == CONFIG_CHAIN).count(),
        all.len()
    );
    store.close().await;
}
