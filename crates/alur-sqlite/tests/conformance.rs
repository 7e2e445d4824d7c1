//! The `alur-testkit` conformance suite, in both durability profiles.

mod common;

use alur_sqlite::Durability;

async fn run(durability: Durability) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path();
    alur_testkit::run_all(|| common::fresh(path, durability)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_normal() {
    run(Durability::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_full() {
    run(Durability::Full).await;
}
