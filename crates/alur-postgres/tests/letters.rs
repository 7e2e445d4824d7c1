//! The `alur-testkit` letter checks on PostgreSQL: numbering inside the approving statement
//! (concurrent approvals queue on the series counter row), the year in the unit's time zone,
//! issue and revocation.

mod common;

use std::sync::{Arc, Mutex};

use common::Schema;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters() {
    let url = require_pg!();
    let schemas: Arc<Mutex<Vec<Schema>>> = Arc::default();
    alur_testkit::run_letters(|| {
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
