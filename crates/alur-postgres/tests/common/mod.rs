//! Shared test helpers: a fresh schema per store, dropped when the guard goes away.
#![allow(dead_code, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alur_core::audit::AuditEntry;
use alur_core::engine::{ActorRecord, Case, EventKind};
use alur_core::store::{OutboxMessage, Timer, Transition};
use alur_postgres::{PostgresOptions, PostgresStore};
use sqlx::Connection;

pub const TENANT: &str = "kepri";

/// The test database URL, or `None` (and a note) when it is not configured.
pub fn url() -> Option<String> {
    match std::env::var("ALUR_TEST_POSTGRES_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            eprintln!("skipping: ALUR_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Return from the test when no database is configured.
#[macro_export]
macro_rules! require_pg {
    () => {
        match common::url() {
            Some(u) => u,
            None => return,
        }
    };
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A uniquely named schema, dropped (CASCADE) on drop.
pub struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    pub fn new(url: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self {
            url: url.to_owned(),
            name: format!("alur_t_{}_{:x}_{n}", std::process::id(), nanos % (1 << 40)),
        }
    }

    /// An existing schema (in a child process), not dropped by this guard.
    pub fn options(&self) -> PostgresOptions {
        PostgresOptions {
            schema: Some(self.name.clone()),
            max_connections: 8,
            ..PostgresOptions::default()
        }
    }

    pub async fn store(&self) -> PostgresStore {
        self.store_with(self.options()).await
    }

    pub async fn store_with(&self, options: PostgresOptions) -> PostgresStore {
        match PostgresStore::connect(&self.url, options).await {
            Ok(s) => s,
            Err(e) => panic!("cannot open the test store: {e}"),
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        // Drop runs inside a runtime (or during a panic): use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                    let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

/// A real case submitted through the engine, to clone for raw transitions (robust to new
/// `Case` fields).
pub async fn template(store: &PostgresStore) -> Case {
    let (engine, _) = alur_testkit::engine(store.clone()).await;
    match engine.submit(alur_testkit::domisili(1), None).await {
        Ok(c) => c,
        Err(e) => panic!("submitting the template case: {e}"),
    }
}

/// A copy of `template` under another id, at version 0, submitted at `at`.
pub fn bare_case(template: &Case, id: &str, at: jiff::Timestamp) -> Case {
    let mut c = template.clone();
    c.id = id.into();
    c.version = 0;
    c.submitted_at = at;
    c.step_entered_at = at;
    c.updated_at = at;
    c
}

/// A system comment entry continuing a chain.
pub fn entry(
    case_id: &str,
    seq: u64,
    prev_hash: &str,
    actor: &str,
    at: jiff::Timestamp,
    legal_basis: Option<String>,
) -> AuditEntry {
    let mut e = AuditEntry {
        tenant: TENANT.into(),
        case_id: case_id.into(),
        seq,
        service: "batam-domisili".into(),
        definition_version: 1,
        calendar_version: None,
        event: EventKind::Commented,
        actor: ActorRecord {
            kind: "system".into(),
            id: actor.into(),
            ..ActorRecord::default()
        },
        legal_basis,
        at,
        due: None,
        payload_digest: None,
        prev_hash: prev_hash.into(),
        hash: String::new(),
    };
    e.hash = e.compute_hash();
    e
}

/// A transition with no side rows.
pub fn transition(case: Case, expected_version: u64, entries: Vec<AuditEntry>) -> Transition {
    Transition {
        tenant: TENANT.into(),
        case,
        expected_version,
        entries,
        payloads: vec![],
        outbox: vec![],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    }
}

pub fn outbox(case_id: &str, seq: u64, id: &str, at: jiff::Timestamp) -> OutboxMessage {
    OutboxMessage {
        id: id.into(),
        tenant: TENANT.into(),
        case_id: case_id.into(),
        seq,
        template: "test.note".into(),
        recipient: "applicant".into(),
        created_at: at,
    }
}

pub fn timer(case_id: &str, id: &str, fire_at: jiff::Timestamp) -> Timer {
    Timer {
        id: id.into(),
        tenant: TENANT.into(),
        case_id: case_id.into(),
        kind: "test".into(),
        fire_at,
    }
}

/// Create a bare case (version 1, one entry) with these timers.
pub async fn create_case(
    store: &PostgresStore,
    template: &Case,
    id: &str,
    at: jiff::Timestamp,
    timers: Vec<Timer>,
) -> Case {
    use alur_core::store::Store;
    let mut c = bare_case(template, id, at);
    c.version = 1;
    let e = entry(id, 1, alur_core::audit::GENESIS, "creator", at, None);
    let mut t = transition(c.clone(), 0, vec![e]);
    t.timers = timers;
    if let Err(e) = store.commit(t).await {
        panic!("creating {id}: {e}");
    }
    c
}

pub const SHORT: Duration = Duration::from_secs(2);
