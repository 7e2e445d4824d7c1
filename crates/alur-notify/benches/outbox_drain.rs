//! Outbox drain to a no-op channel, batches of 100, next to a raw SQL baseline in the same run.
//!
//! ```text
//! cargo bench -p alur-notify --bench outbox_drain
//! ALUR_BENCH_MESSAGES=200000          messages per phase
//! ALUR_BENCH_POSTGRES_URL=postgres://…  also run PostgreSQL (4 dispatchers); else
//!                                      ALUR_TEST_POSTGRES_URL; skipped when neither is set
//! ```
//!
//! Messages are written straight into the outbox table (three per case, interleaved, as
//! transitions of many cases would leave them). The dispatcher phase runs
//! `Dispatcher::drain` with `Direct(NoopChannel)`: claim (lease, oldest pending message per
//! case), deliver to nothing, settle all outcomes in one call. The raw baseline is the plainest
//! loop over the same table with the same batch size: claim the 100 oldest undelivered rows
//! (no per-case rule, no lease check beyond the row lock) and mark them delivered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alur_notify::{Direct, Dispatcher, DispatcherConfig, NoopChannel};
use alur_sqlite::{Durability, SqliteOptions, SqliteStore};
use sqlx::{Connection, Executor};

const TENANT: &str = "bench";
const BATCH: usize = 100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(owner: &str) -> DispatcherConfig {
    let mut c = DispatcherConfig::new(TENANT);
    c.owner = owner.to_owned();
    c.batch = BATCH;
    c.concurrency = BATCH;
    c.lease = Duration::from_secs(300);
    c
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

// ---------------------------------------------------------------- SQLite

const SQLITE_FILL: &str = "\
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
INSERT INTO outbox (tenant, id, case_id, seq, template, recipient, created_at)
SELECT 'bench', 'c' || (i % ?2) || ':' || (i / ?2 + 1) || ':applicant', 'c' || (i % ?2), i / ?2 + 1,
       'case.received', 'applicant', '2026-03-17T02:00:00.000000000Z' FROM n";

async fn sqlite_fill(path: &str, n: usize) {
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("connect");
    sqlx::query(SQLITE_FILL)
        .bind(n as i64)
        .bind(n.div_ceil(3) as i64)
        .execute(&mut c)
        .await
        .expect("fill");
    c.close().await.expect("close");
}

async fn sqlite_store(dir: &std::path::Path, name: &str, n: usize) -> (SqliteStore, String) {
    let path = dir.join(name).display().to_string();
    let store = SqliteStore::open(&path, SqliteOptions::with_durability(Durability::Normal))
        .await
        .expect("open");
    sqlite_fill(&path, n).await;
    (store, path)
}

async fn sqlite_dispatcher(dir: &std::path::Path, n: usize) -> Duration {
    let (store, _) = sqlite_store(dir, "dispatcher.db", n).await;
    let d = Dispatcher::new(store, Direct(NoopChannel), config("bench"));
    let start = Instant::now();
    let claimed = d.drain().await.expect("drain");
    let took = start.elapsed();
    assert_eq!(claimed, n, "every message claimed once");
    took
}

async fn sqlite_raw(dir: &std::path::Path, n: usize) -> Duration {
    let (store, path) = sqlite_store(dir, "raw.db", n).await;
    store.close().await;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("connect");
    c.execute("PRAGMA synchronous = NORMAL")
        .await
        .expect("pragma");
    let claim = "BEGIN IMMEDIATE; UPDATE outbox SET lease_owner = 'raw', lease_until = '9999' \
        WHERE pos IN (SELECT pos FROM outbox WHERE tenant = 'bench' AND delivered_at IS NULL \
        AND lease_owner IS NULL ORDER BY pos LIMIT 100) RETURNING id; COMMIT;";
    let mark = "BEGIN IMMEDIATE; UPDATE outbox SET delivered_at = ?, lease_owner = NULL \
        WHERE tenant = 'bench' AND id IN (SELECT value FROM json_each(?)); COMMIT;";
    let start = Instant::now();
    let mut total = 0;
    loop {
        let ids: Vec<String> = sqlx::query_scalar(claim)
            .fetch_all(&mut c)
            .await
            .expect("claim");
        if ids.is_empty() {
            break;
        }
        total += ids.len();
        let json = serde_json::to_string(&ids).expect("json");
        sqlx::query(mark)
            .bind("2026-03-17T02:00:01.000000000Z")
            .bind(json)
            .execute(&mut c)
            .await
            .expect("mark");
    }
    let took = start.elapsed();
    assert_eq!(total, n);
    took
}

// ---------------------------------------------------------------- PostgreSQL

const PG_FILL: &str = "\
INSERT INTO outbox (tenant, id, case_id, seq, template, recipient, created_ns)
SELECT 'bench', 'c' || (i % $2) || ':' || (i / $2 + 1) || ':applicant', 'c' || (i % $2), i / $2 + 1,
       'case.received', 'applicant', 0 FROM generate_series(0, $1 - 1) AS i";

async fn pg_store(url: &str, schema: &str, n: usize) -> alur_postgres::PostgresStore {
    let options = alur_postgres::PostgresOptions {
        schema: Some(schema.to_owned()),
        max_connections: 16,
        ..alur_postgres::PostgresOptions::default()
    };
    let store = alur_postgres::PostgresStore::connect(url, options)
        .await
        .expect("connect");
    sqlx::query(PG_FILL)
        .bind(n as i64)
        .bind(n.div_ceil(3) as i64)
        .execute(store.pool())
        .await
        .expect("fill");
    sqlx::query("VACUUM ANALYZE outbox")
        .execute(store.pool())
        .await
        .expect("analyze");
    store
}

async fn pg_drop(url: &str, schema: &str) {
    if let Ok(mut c) = sqlx::PgConnection::connect(url).await {
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await;
        let _ = c.close().await;
    }
}

async fn pg_dispatchers(url: &str, n: usize, workers: usize) -> Duration {
    let schema = format!("alur_bench_outbox_{}", std::process::id());
    pg_drop(url, &schema).await;
    let store = Arc::new(pg_store(url, &schema, n).await);
    let start = Instant::now();
    let mut total = 0;
    // Drain until nothing is left (a dispatcher may stop early while others hold the last
    // leases of some cases).
    while total < n {
        let mut tasks = Vec::new();
        for w in 0..workers {
            let d = Dispatcher::new(store.clone(), Direct(NoopChannel), config(&format!("w{w}")));
            tasks.push(tokio::spawn(async move { d.drain().await.expect("drain") }));
        }
        for t in tasks {
            total += t.await.expect("join");
        }
    }
    let took = start.elapsed();
    assert_eq!(total, n, "every message claimed once");
    store.close().await;
    pg_drop(url, &schema).await;
    took
}

async fn pg_raw(url: &str, n: usize, workers: usize) -> Duration {
    let schema = format!("alur_bench_outbox_raw_{}", std::process::id());
    pg_drop(url, &schema).await;
    let store = pg_store(url, &schema, n).await;
    let pool = store.pool().clone();
    let claim = "UPDATE outbox SET lease_owner = $1, lease_until_ns = 9223372036854775807 \
        WHERE (tenant, id) IN (SELECT tenant, id FROM outbox WHERE tenant = 'bench' \
        AND delivered_ns IS NULL AND lease_owner IS NULL ORDER BY pos LIMIT 100 \
        FOR UPDATE SKIP LOCKED) RETURNING id";
    let mark = "UPDATE outbox SET delivered_ns = 1, lease_owner = NULL \
        WHERE tenant = 'bench' AND id = ANY($1::text[])";
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            loop {
                let ids: Vec<String> = sqlx::query_scalar(claim)
                    .bind(format!("raw{w}"))
                    .fetch_all(&pool)
                    .await
                    .expect("claim");
                if ids.is_empty() {
                    return total;
                }
                total += ids.len();
                sqlx::query(mark)
                    .bind(&ids)
                    .execute(&pool)
                    .await
                    .expect("mark");
            }
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("join");
    }
    let took = start.elapsed();
    assert_eq!(total, n);
    store.close().await;
    pg_drop(url, &schema).await;
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env("ALUR_BENCH_MESSAGES", 200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    println!("outbox drain, {n} messages, batches of {BATCH}, no-op channel");

    let raw = sqlite_raw(dir.path(), n).await;
    let ours = sqlite_dispatcher(dir.path(), n).await;
    println!(
        "sqlite (synchronous=NORMAL, 1 dispatcher): dispatcher {:>9.0} msg/s | raw claim+mark {:>9.0} msg/s | ratio {:.2}",
        rate(n, ours),
        rate(n, raw),
        raw.as_secs_f64() / ours.as_secs_f64()
    );

    let url = std::env::var("ALUR_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ALUR_TEST_POSTGRES_URL"))
        .ok()
        .filter(|u| !u.trim().is_empty());
    match url {
        None => {
            println!("postgresql: skipped (set ALUR_BENCH_POSTGRES_URL or ALUR_TEST_POSTGRES_URL)")
        }
        Some(url) => {
            let raw = pg_raw(&url, n, 4).await;
            let ours = pg_dispatchers(&url, n, 4).await;
            println!(
                "postgresql (4 dispatchers):                dispatcher {:>9.0} msg/s | raw claim+mark {:>9.0} msg/s | ratio {:.2}",
                rate(n, ours),
                rate(n, raw),
                raw.as_secs_f64() / ours.as_secs_f64()
            );
        }
    }
}
