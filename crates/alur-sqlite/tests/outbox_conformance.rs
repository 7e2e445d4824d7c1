//! The `alur-testkit` outbox delivery checks (claims, leases, outcomes, dead letters).

mod common;

use alur_sqlite::Durability;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_conformance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path();
    alur_testkit::run_outbox(|| common::fresh(path, Durability::Normal)).await;
}
