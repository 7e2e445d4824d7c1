//! The `alur-testkit` letter checks on SQLite: numbering inside the approving transaction
//! (gap-free under concurrent group commits), the year in the unit's time zone, issue and revocation.

mod common;

use alur_sqlite::Durability;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path();
    alur_testkit::run_letters(|| common::fresh(path, Durability::Full)).await;
}
