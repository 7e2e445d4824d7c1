//! The outbox delivery checks of `alur-testkit` on the in-memory store.

#[tokio::test]
async fn outbox_conformance() {
    alur_testkit::run_outbox(|| async { alur_core::MemoryStore::new() }).await;
}
