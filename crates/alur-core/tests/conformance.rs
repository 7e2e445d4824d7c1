//! The in-memory store passes the same conformance suite as every durable store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conformance() {
    alur_testkit::run_all(|| async { alur_core::MemoryStore::new() }).await;
}
