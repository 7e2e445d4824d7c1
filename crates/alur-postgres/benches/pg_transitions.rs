//! PostgreSQL store benchmark (`cargo bench -p alur-postgres --bench pg_transitions`).
//!
//! 1. Transitions/s at 1, 4 and 16 concurrent callers, each on its own case. The raw baseline
//!    writes the same rows (case update, one audit entry, one outbox row) with the plainest
//!    code: one multi-statement simple query per transition (`BEGIN; UPDATE …; INSERT …;
//!    INSERT …; COMMIT`), literals inlined, no checks. The store runs `PostgresStore::commit` of
//!    the equivalent `Transition` (one statement: version check, inbox, timer and idempotency
//!    parts, error mapping). Both with the server's durable default and with
//!    `synchronous_commit=off` (statement cost without the WAL flush).
//! 2. The overdue scan over many open cases: p50/p99 of `PostgresStore::overdue` for several
//!    numbers overdue, in a large and a ten-times smaller tenant.
//!
//! Environment: `ALUR_TEST_POSTGRES_URL` (required), `ALUR_BENCH_SECS` (per measurement, default
//! 5), `ALUR_BENCH_CASES` (open cases of the large tenant, default 1000000).

#![allow(missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alur_core::audit::AuditEntry;
use alur_core::engine::{ActorRecord, Case, EventKind};
use alur_core::store::{OutboxMessage, Store, Transition};
use alur_postgres::{PostgresOptions, PostgresStore};
use jiff::{SignedDuration, Timestamp};
use sqlx::{Connection, Row};

const TENANT: &str = "kepri";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Some(url) = std::env::var("ALUR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("skipping: ALUR_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let schema = format!("alur_bench_{}", std::process::id());
    let result = rt.block_on(run(&url, &schema));
    rt.block_on(async {
        if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .execute(&mut c)
            .await;
        }
    });
    if let Err(e) = result {
        panic!("benchmark failed: {e}");
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run(url: &str, schema: &str) -> Result<(), BoxError> {
    let secs = env_num("ALUR_BENCH_SECS", 5);
    let n_open = env_num("ALUR_BENCH_CASES", 1_000_000);
    let store = PostgresStore::connect(
        url,
        PostgresOptions {
            schema: Some(schema.into()),
            max_connections: 16,
            ..PostgresOptions::default()
        },
    )
    .await?;
    print_server(&store).await?;
    println!(
        "client: {} CPUs, tokio 2 workers, pool 16 connections; per row {secs} alternating 1 s rounds of raw and store, median round",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let (engine, _) = alur_testkit::engine(store.clone()).await;
    let template = engine.submit(alur_testkit::domisili(1), None).await?;

    // A second pool on the same schema with synchronous_commit off: without a WAL flush per
    // commit, the figures show the cost of the statements themselves rather than of fsync.
    let async_store = PostgresStore::connect(
        url,
        PostgresOptions {
            schema: Some(schema.into()),
            max_connections: 16,
            session_settings: vec![("synchronous_commit".into(), "off".into())],
            ..PostgresOptions::default()
        },
    )
    .await?;
    println!(
        "\n## Transitions (case update + 1 audit entry + 1 outbox row), each caller on its own case\n"
    );
    println!(
        "| commit | callers | raw tx/s | raw p50 / p99 ms | store tx/s | store p50 / p99 ms | store/raw |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (label, s) in [
        ("durable (server default)", &store),
        ("synchronous_commit=off", &async_store),
    ] {
        for callers in [1usize, 4, 16] {
            // Alternate one-second rounds of raw and store (the machine is shared; drift and
            // neighbours hit both alike), then take the median round of each.
            let (mut raw, mut st) = (Round::default(), Round::default());
            for round in 0..secs.max(1) {
                let order = if round % 2 == 0 {
                    [Mode::Raw, Mode::Store]
                } else {
                    [Mode::Store, Mode::Raw]
                };
                for mode in order {
                    let r = measure(s, &template, callers, round, mode, label).await?;
                    match mode {
                        Mode::Raw => raw.add(r),
                        Mode::Store => st.add(r),
                    }
                }
            }
            let (raw, st) = (raw.figures(), st.figures());
            println!(
                "| {label} | {callers} | {:.0} | {:.2} / {:.2} | {:.0} | {:.2} / {:.2} | {:.0} % |",
                raw.rate,
                raw.p50,
                raw.p99,
                st.rate,
                st.p50,
                st.p99,
                100.0 * st.rate / raw.rate
            );
        }
    }
    async_store.close().await;

    overdue(&store, n_open).await?;
    store.close().await;
    Ok(())
}

async fn print_server(store: &PostgresStore) -> Result<(), BoxError> {
    let v: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(store.pool())
        .await?;
    println!("server: {v}");
    let rows = sqlx::query(
        "SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name IN
         ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_connections',
          'work_mem', 'full_page_writes', 'wal_sync_method', 'commit_delay', 'plan_cache_mode',
          'jit', 'random_page_cost', 'effective_cache_size') ORDER BY name",
    )
    .fetch_all(store.pool())
    .await?;
    let settings: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}={}{}",
                r.get::<String, _>(0),
                r.get::<String, _>(1),
                r.get::<String, _>(2)
            )
        })
        .collect();
    println!("settings: {}", settings.join(", "));
    println!("schema version: {}", alur_postgres::schema_version());
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Raw,
    Store,
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// Rounds of one mode: rate of each round, latencies of all.
#[derive(Default)]
struct Round {
    rates: Vec<f64>,
    lat: Vec<Duration>,
}

impl Round {
    fn add(&mut self, (rate, lat): (f64, Vec<Duration>)) {
        self.rates.push(rate);
        self.lat.extend(lat);
    }

    fn figures(mut self) -> Figures {
        self.rates.sort_by(f64::total_cmp);
        self.lat.sort();
        let pct = |p: f64| {
            self.lat
                .get(((self.lat.len() as f64 * p) as usize).min(self.lat.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Figures {
            rate: self.rates.get(self.rates.len() / 2).copied().unwrap_or(0.0),
            p50: pct(0.50),
            p99: pct(0.99),
        }
    }
}

fn comment_entry(case_id: &str, seq: u64, prev: &str, at: Timestamp) -> AuditEntry {
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
            id: "bench".into(),
            ..ActorRecord::default()
        },
        legal_basis: None,
        at,
        due: None,
        payload_digest: None,
        prev_hash: prev.into(),
        hash: String::new(),
    };
    e.hash = e.compute_hash();
    e
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "NULL".into(), q)
}

/// The plainest SQL for one transition: what the store's statement writes, inlined.
fn raw_sql(
    c: &Case,
    prev_version: u64,
    e: &AuditEntry,
    m: &OutboxMessage,
) -> Result<String, BoxError> {
    let ns = |t: Timestamp| t.as_nanosecond();
    Ok(format!(
        "BEGIN;
UPDATE cases SET version = {v}, updated_ns = {upd}, body = {body}::jsonb
 WHERE tenant = {t} AND id = {id} AND version = {prev};
INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version, calendar_version, event,
 actor, legal_basis, at_ns, due, payload_digest, prev_hash, hash)
 VALUES ({t}, {id}, {seq}, {svc}, {dv}, {cv}, {ev}::jsonb, {ac}::jsonb, {lb}, {at}, NULL, {pd}, {ph}, {h});
INSERT INTO outbox (tenant, id, case_id, seq, template, recipient, created_ns)
 VALUES ({t}, {mid}, {id}, {seq}, {tpl}, {rcp}, {at});
COMMIT;",
        v = c.version,
        upd = ns(c.updated_at),
        body = q(&serde_json::to_string(c)?),
        t = q(TENANT),
        id = q(&c.id),
        prev = prev_version,
        seq = e.seq,
        svc = q(&e.service),
        dv = e.definition_version,
        cv = opt(&e.calendar_version),
        ev = q(&serde_json::to_string(&e.event)?),
        ac = q(&serde_json::to_string(&e.actor)?),
        lb = opt(&e.legal_basis),
        at = ns(e.at),
        pd = opt(&e.payload_digest),
        ph = q(&e.prev_hash),
        h = q(&e.hash),
        mid = q(&m.id),
        tpl = q(&m.template),
        rcp = q(&m.recipient),
    ))
}

async fn measure(
    store: &PostgresStore,
    template: &Case,
    callers: usize,
    round: u64,
    mode: Mode,
    label: &str,
) -> Result<(f64, Vec<Duration>), BoxError> {
    let tag = format!(
        "{}-{}-{round}",
        if mode == Mode::Raw { "raw" } else { "st" },
        label.len()
    );
    let mut ready = Vec::new();
    for k in 0..callers {
        let store = store.clone();
        let mut case = template.clone();
        case.id = format!("{tag}-{callers}-{k}");
        case.version = 1;
        let first = comment_entry(&case.id, 1, alur_core::audit::GENESIS, case.submitted_at);
        let prev = first.hash.clone();
        store
            .commit(Transition {
                tenant: TENANT.into(),
                case: case.clone(),
                expected_version: 0,
                entries: vec![first],
                payloads: vec![],
                outbox: vec![],
                timers: vec![],
                replace_timers: false,
                idempotency: None,
                fired_timer: None,
                letter: None,
            })
            .await?;
        ready.push((store, case, prev));
    }
    let began = Instant::now();
    let deadline = began + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for (store, mut case, mut prev) in ready {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let expected = case.version;
                case.version += 1;
                case.updated_at = Timestamp::now();
                let e = comment_entry(&case.id, case.version, &prev, case.updated_at);
                let m = OutboxMessage {
                    id: format!("{}:{}:bench", case.id, case.version),
                    tenant: TENANT.into(),
                    case_id: case.id.clone(),
                    seq: case.version,
                    template: "bench.note".into(),
                    recipient: "applicant".into(),
                    created_at: case.updated_at,
                };
                prev = e.hash.clone();
                match mode {
                    Mode::Raw => {
                        let sql = raw_sql(&case, expected, &e, &m)?;
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(store.pool())
                            .await?;
                    }
                    Mode::Store => {
                        store
                            .commit(Transition {
                                tenant: TENANT.into(),
                                case: case.clone(),
                                expected_version: expected,
                                entries: vec![e],
                                payloads: vec![],
                                outbox: vec![m],
                                timers: vec![],
                                replace_timers: false,
                                idempotency: None,
                                fired_timer: None,
                                letter: None,
                            })
                            .await?;
                    }
                }
                lat.push(started.elapsed());
            }
            Ok::<_, BoxError>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = began.elapsed().as_secs_f64().max(1.0);
    Ok((all.len() as f64 / elapsed, all))
}

async fn overdue(store: &PostgresStore, n_open: u64) -> Result<(), BoxError> {
    let pool = store.pool();
    let base: Timestamp = "2026-01-01T00:00:00Z".parse()?;
    let base_ns = i64::try_from(base.as_nanosecond())?;
    let small = (n_open / 10).max(1);
    println!("\n## Overdue scan\n");
    let started = Instant::now();
    // Bulk loading outlasts the store's statement timeout: a session of its own without one.
    let mut bulk = pool.acquire().await?.detach();
    sqlx::raw_sql("SET statement_timeout = 0")
        .execute(&mut bulk)
        .await?;
    // Open cases due one second apart from `base` (so `now = base + k s + ½ s` has exactly k
    // overdue), plus closed cases long past due that the partial index leaves out.
    for (tenant, open, closed) in [("big", n_open, n_open / 10), ("small", small, small / 10)] {
        sqlx::query(
            "INSERT INTO cases (tenant, id, version, service, definition_version, unit, is_open, status,
                                submitted_ns, due_ns, updated_ns, body)
             SELECT $1, 'o-' || g, 1, 'batam-domisili', 1, '21.71.10.1001', true, 'verifikasi',
                    $2 - 86400000000000, $2 + g * 1000000000, $2, '{}'::jsonb
             FROM generate_series(1, $3) g",
        )
        .bind(tenant)
        .bind(base_ns)
        .bind(i64::try_from(open)?)
        .execute(&mut bulk)
        .await?;
        sqlx::query(
            "INSERT INTO cases (tenant, id, version, service, definition_version, unit, is_open, status,
                                submitted_ns, due_ns, updated_ns, body)
             SELECT $1, 'x-' || g, 3, 'batam-domisili', 1, '21.71.10.1001', false, 'completed',
                    $2 - 86400000000000, $2 - g * 1000000000, $2, '{}'::jsonb
             FROM generate_series(1, $3) g",
        )
        .bind(tenant)
        .bind(base_ns)
        .bind(i64::try_from(closed)?)
        .execute(&mut bulk)
        .await?;
    }
    sqlx::raw_sql("VACUUM ANALYZE cases")
        .execute(&mut bulk)
        .await?;
    bulk.close().await?;
    println!(
        "loaded {n_open} open + {} closed cases (tenant big) and {small} open + {} closed (tenant small) in {:.1?}",
        n_open / 10,
        small / 10,
        started.elapsed()
    );
    let k_at = |k: i64| base + SignedDuration::from_secs(k) + SignedDuration::from_millis(500);
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
         SELECT id, service, unit, due_ns FROM cases
         WHERE tenant = $1 AND is_open AND due_ns IS NOT NULL AND due_ns < $2
         ORDER BY due_ns, id LIMIT $3",
    )
    .bind("big")
    .bind(i64::try_from(
        k_at(i64::try_from(n_open / 1000)?.max(1)).as_nanosecond(),
    )?)
    .bind(100_000i64)
    .fetch_all(pool)
    .await?;
    println!("plan at 0.1 % overdue:\n    {}", plan.join("\n    "));
    println!("\n| tenant | open | overdue | client p50 / p99 ms | server p50 / p99 ms | rows |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut ks: Vec<u64> = vec![10, 100, n_open / 1000, 10_000];
    ks.retain(|k| *k >= 1 && *k <= n_open);
    ks.sort_unstable();
    ks.dedup();
    let tenants = [("big", n_open), ("small", small)];
    for k in ks {
        let now = k_at(i64::try_from(k)?);
        let now_ns = i64::try_from(now.as_nanosecond())?;
        // Both tenants measured in alternation, so neighbours' load hits them alike.
        let mut client: HashMap<&str, Vec<Duration>> = HashMap::new();
        let mut server: HashMap<&str, Vec<f64>> = HashMap::new();
        let mut rows: HashMap<&str, usize> = HashMap::new();
        for i in 0..320 {
            for (tenant, open) in tenants {
                if k > open {
                    continue;
                }
                let t = Instant::now();
                let got = store.overdue(tenant, now, 100_000).await?;
                if i >= 20 {
                    client.entry(tenant).or_default().push(t.elapsed());
                }
                rows.insert(tenant, got.len());
                // The same query timed by the server (no network, no client scheduling).
                if i % 2 == 0 {
                    let plan: Vec<String> = sqlx::query_scalar(
                        "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON)
                         SELECT id, service, unit, due_ns FROM cases
                         WHERE tenant = $1 AND is_open AND due_ns IS NOT NULL AND due_ns < $2
                         ORDER BY due_ns, id LIMIT $3",
                    )
                    .bind(tenant)
                    .bind(now_ns)
                    .bind(100_000i64)
                    .fetch_all(pool)
                    .await?;
                    let ms = plan
                        .iter()
                        .find_map(|l| l.trim().strip_prefix("Execution Time: "))
                        .and_then(|v| v.trim_end_matches(" ms").parse::<f64>().ok())
                        .unwrap_or(f64::NAN);
                    server.entry(tenant).or_default().push(ms);
                }
            }
        }
        for (tenant, open) in tenants {
            let (Some(lat), Some(srv)) = (client.get_mut(tenant), server.get_mut(tenant)) else {
                continue;
            };
            lat.sort();
            srv.sort_by(f64::total_cmp);
            let ms = |p: f64| {
                lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0
            };
            let sp = |p: f64| srv[((srv.len() as f64 * p) as usize).min(srv.len() - 1)];
            println!(
                "| {tenant} | {open} | {k} ({:.3} %) | {:.3} / {:.3} | {:.3} / {:.3} | {} |",
                100.0 * k as f64 / open as f64,
                ms(0.5),
                ms(0.99),
                sp(0.5),
                sp(0.99),
                rows.get(tenant).copied().unwrap_or(0)
            );
        }
    }
    // A timer worker pages through them: the first 100 at 0.1 % overdue.
    let now = k_at(i64::try_from((n_open / 1000).max(1))?);
    let mut lat = Vec::new();
    for i in 0..520 {
        let t = Instant::now();
        let got = store.overdue("big", now, 100).await?;
        if i >= 20 {
            lat.push(t.elapsed());
        }
        if got.len() != 100.min(usize::try_from((n_open / 1000).max(1))?) {
            return Err("overdue page has the wrong size".into());
        }
    }
    lat.sort();
    let ms =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "\npaged (limit 100) at 0.1 % overdue of {n_open} open: client p50 {:.3} ms, p99 {:.3} ms",
        ms(0.5),
        ms(0.99)
    );
    Ok(())
}
