//! The letter checks of `alur-testkit` on the in-memory store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters() {
    alur_testkit::run_letters(|| async { alur_core::MemoryStore::new() }).await;
}
