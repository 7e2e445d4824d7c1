//! The `alur-testkit` outbox delivery checks against PostgreSQL (claims with SKIP LOCKED and
//! leases, outcomes, dead letters).

mod common;

use std::sync::{Arc, Mutex};

use common::Schema;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_conformance() {
    let url = require_pg!();
    let schemas: Arc<Mutex<Vec<Schema>>> = Arc::default();
    alur_testkit::run_outbox(|| {
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
