//! `SqliteStore` against the plainest code writing the same rows, in both durability profiles,
//! plus the overdue scan over many open cases.
//!
//! ```text
//! cargo bench -p alur-sqlite --bench sqlite_transitions
//! ALUR_BENCH_TRANSITIONS=20000  transitions per NORMAL phase (FULL phases use a quarter)
//! ALUR_BENCH_CASES=1000000      open cases for the overdue scan (0.1 % overdue)
//! ALUR_BENCH_ROUNDS=15          interleaved rounds (ratios: median of per-round ratios)
//! ALUR_BENCH_DIR=/path          where the databases go (default: a temporary directory)
//! ```
//!
//! One transition = the case row updated (version + 1), one audit entry, its payload and one
//! outbox message: the rows a typical engine step writes. The raw baseline writes exactly those
//! rows into a database with the same schema, one multi-statement sqlx query per transition
//! (`BEGIN IMMEDIATE; UPDATE; INSERT; INSERT; INSERT; COMMIT`), no checks, no engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alur_core::audit::{AuditEntry, GENESIS};
use alur_core::engine::{EventKind, Payload};
use alur_core::store::{OutboxMessage, Store, StoredPayload, Transition};
use alur_core::{Case, MemoryStore};
use alur_sqlite::{Durability, SqliteOptions, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

const TENANT: &str = "kepri";
const CALLERS: usize = 16;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One case's state as the benchmark keeps it in memory.
#[derive(Clone)]
struct Track {
    case: Case,
    head: AuditEntry,
}

impl Track {
    /// The next transition: one entry (a comment with a payload), its payload, one message.
    fn next(&mut self) -> Transition {
        let seq = self.case.version + 1;
        let now = jiff::Timestamp::now();
        let mut case = self.case.clone();
        case.version = seq;
        case.updated_at = now;
        let mut entry = self.head.clone();
        entry.seq = seq;
        entry.event = EventKind::Commented;
        entry.at = now;
        entry.payload_digest = Some("5e".repeat(32));
        entry.prev_hash = self.head.hash.clone();
        entry.hash = entry.compute_hash();
        let t = Transition {
            tenant: TENANT.into(),
            case: case.clone(),
            expected_version: self.case.version,
            entries: vec![entry.clone()],
            payloads: vec![StoredPayload {
                case_id: case.id.clone(),
                seq,
                digest: "5e".repeat(32),
                payload: Payload {
                    text: Some(
                        "Berkas sudah diperiksa; mohon dilanjutkan ke kasi pelayanan.".repeat(3),
                    ),
                    ..Payload::default()
                },
            }],
            outbox: vec![OutboxMessage {
                id: format!("{}:{seq}:applicant", case.id),
                tenant: TENANT.into(),
                case_id: case.id.clone(),
                seq,
                template: "case.commented".into(),
                recipient: "applicant".into(),
                created_at: now,
            }],
            timers: vec![],
            replace_timers: false,
            idempotency: None,
            fired_timer: None,
            letter: None,
        };
        self.case = case;
        self.head = entry;
        t
    }
}

/// `n` fresh cases cloned from one engine submission.
async fn tracks(n: usize) -> Vec<Track> {
    let (engine, _) = alur_testkit::engine(MemoryStore::new()).await;
    let c = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .expect("submit");
    let entry = engine
        .store()
        .entries(TENANT, &c.id)
        .await
        .expect("entries")
        .remove(0);
    (0..n)
        .map(|i| {
            let mut case = c.clone();
            case.id = format!("bench-{i:06}");
            let mut head = entry.clone();
            head.case_id = case.id.clone();
            head.prev_hash = GENESIS.into();
            head.hash = head.compute_hash();
            Track { case, head }
        })
        .collect()
}

/// Create the cases in a database (through the store).
async fn seed(store: &SqliteStore, tracks: &[Track]) {
    for t in tracks {
        store
            .commit(Transition {
                tenant: TENANT.into(),
                case: t.case.clone(),
                expected_version: 0,
                entries: vec![t.head.clone()],
                payloads: vec![],
                outbox: vec![],
                timers: vec![],
                replace_timers: false,
                idempotency: None,
                fired_timer: None,
                letter: None,
            })
            .await
            .expect("seed");
    }
}

fn ts(t: jiff::Timestamp) -> String {
    format!("{t:.9}")
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serializes")
}

const RAW: &str = "BEGIN IMMEDIATE;
UPDATE cases SET version = ?, status = ?, pending_unit = ?, pending_roles = ?, assignee = ?, updated_at = ?, body = ? WHERE tenant = ? AND id = ? AND version = ?;
INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version, calendar_version, event, actor, legal_basis, at, due, payload_digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
INSERT INTO payloads (tenant, case_id, seq, digest, payload) VALUES (?, ?, ?, ?, ?);
INSERT INTO outbox (tenant, case_id, id, seq, template, recipient, created_at) VALUES (?, ?, ?, ?, ?, ?, ?);
COMMIT;";

/// The raw baseline: the same rows, one multi-statement query per transition.
async fn raw_write(conn: &mut sqlx::SqliteConnection, t: &Transition) {
    let c = &t.case;
    let e = &t.entries[0];
    let p = &t.payloads[0];
    let m = &t.outbox[0];
    let status = match &c.status {
        alur_core::Status::Open(s) => format!("open:{s}"),
        alur_core::Status::Closed(o) => format!("closed:{}", o.as_str()),
    };
    sqlx::query(RAW)
        .bind(c.version as i64)
        .bind(status)
        .bind(c.pending.as_ref().map(|p| p.unit.clone()))
        .bind(c.pending.as_ref().map(|p| json(&p.roles)))
        .bind(c.assignee.clone())
        .bind(ts(c.updated_at))
        .bind(json(c))
        .bind(TENANT)
        .bind(&c.id)
        .bind(t.expected_version as i64)
        .bind(TENANT)
        .bind(&c.id)
        .bind(e.seq as i64)
        .bind(&e.service)
        .bind(i64::from(e.definition_version))
        .bind(e.calendar_version.clone())
        .bind(json(&e.event))
        .bind(json(&e.actor))
        .bind(e.legal_basis.clone())
        .bind(ts(e.at))
        .bind(e.due.as_ref().map(json))
        .bind(e.payload_digest.clone())
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .bind(TENANT)
        .bind(&c.id)
        .bind(p.seq as i64)
        .bind(&p.digest)
        .bind(json(&p.payload))
        .bind(TENANT)
        .bind(&c.id)
        .bind(&m.id)
        .bind(m.seq as i64)
        .bind(&m.template)
        .bind(&m.recipient)
        .bind(ts(m.created_at))
        .execute(&mut *conn)
        .await
        .expect("raw transition");
}

/// CPU time used by this process so far (all threads, user + system), from `/proc/self/stat`.
fn cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name: state is field 3, utime 14, stime 15.
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            Some(rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ = 100 on Linux
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Rates of one metric over the rounds.
#[derive(Default)]
struct Rates(Vec<f64>);

/// Median of the per-round ratios `a[i] / b[i]` (both measured in the same round, so under the
/// same load: the robust figure on a shared machine).
fn ratio(a: &Rates, b: &Rates) -> f64 {
    let mut r: Vec<f64> = a.0.iter().zip(&b.0).map(|(x, y)| x / y).collect();
    r.sort_by(f64::total_cmp);
    r.get(r.len() / 2).copied().unwrap_or(0.0)
}

impl Rates {
    fn best(&self) -> f64 {
        self.0.iter().copied().fold(0.0, f64::max)
    }
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
}

#[derive(Default)]
struct Figures {
    raw: Rates,
    sequential: Rates,
    concurrent: Rates,
    batch: f64,
    /// CPU time per transition (µs, all threads), summed over the rounds.
    cpu_raw: Duration,
    cpu_sequential: Duration,
    cpu_concurrent: Duration,
    per_metric: usize,
}

/// Commit `list` from `CALLERS` concurrent tasks; transitions per second.
async fn concurrent(store: &Arc<SqliteStore>, per_caller: Vec<Vec<Transition>>) -> f64 {
    let n: usize = per_caller.iter().map(Vec::len).sum();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for list in per_caller {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for t in list {
                store.commit(t).await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("caller");
    }
    rate(n, started.elapsed())
}

/// Raw baseline, store sequential and store with 16 callers, interleaved over `rounds` short
/// rounds (the machine is shared: the best round of each is the least disturbed one).
async fn profile(
    dir: &std::path::Path,
    durability: Durability,
    n: usize,
    rounds: usize,
) -> Figures {
    let name = format!("{durability:?}").to_lowercase();
    let cases = 256;
    let per_round = (n / rounds).max(CALLERS);
    let options = SqliteOptions::with_durability(durability);

    // Raw baseline database: same schema (created by the store), then a plain connection.
    let raw_path = dir.join(format!("raw-{name}.db"));
    let mut raw_tracks = tracks(cases).await;
    {
        let s = SqliteStore::open(raw_path.to_str().expect("utf-8"), options.clone())
            .await
            .expect("open");
        seed(&s, &raw_tracks).await;
        s.close().await;
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(&raw_path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        })
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("raw connection");

    let path = dir.join(format!("store-{name}.db"));
    let mut store_tracks = tracks(cases).await;
    let store = Arc::new(
        SqliteStore::open(path.to_str().expect("utf-8"), options)
            .await
            .expect("open"),
    );
    seed(&store, &store_tracks).await;
    let pragmas = store.pragmas().await.expect("pragmas");
    println!(
        "  {name}: {}",
        pragmas
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );

    let mut f = Figures::default();
    for _ in 0..rounds {
        // Each phase runs as a task on the runtime, as an application's callers do.
        let transitions: Vec<Transition> = (0..per_round)
            .map(|i| raw_tracks[i % cases].next())
            .collect();
        let (started, c0) = (Instant::now(), cpu());
        conn = tokio::spawn(async move {
            for t in &transitions {
                raw_write(&mut conn, t).await;
            }
            conn
        })
        .await
        .expect("raw task");
        f.raw.0.push(rate(per_round, started.elapsed()));
        f.cpu_raw += cpu() - c0;

        let transitions: Vec<Transition> = (0..per_round)
            .map(|i| store_tracks[i % cases].next())
            .collect();
        let (started, c0) = (Instant::now(), cpu());
        let s = store.clone();
        tokio::spawn(async move {
            for t in transitions {
                s.commit(t).await.expect("commit");
            }
        })
        .await
        .expect("store task");
        f.sequential.0.push(rate(per_round, started.elapsed()));
        f.cpu_sequential += cpu() - c0;

        // Callers own disjoint cases (no conflicts): caller k takes cases k, k + 16, …
        let mut per_caller: Vec<Vec<Transition>> = vec![Vec::new(); CALLERS];
        for i in 0..per_round {
            let case = i % cases;
            per_caller[case % CALLERS].push(store_tracks[case].next());
        }
        let (before, c0) = (store.writer_stats(), cpu());
        f.concurrent.0.push(concurrent(&store, per_caller).await);
        f.cpu_concurrent += cpu() - c0;
        f.per_metric += per_round;
        let after = store.writer_stats();
        f.batch = (after.transitions - before.transitions) as f64
            / (after.batches - before.batches).max(1) as f64;
    }
    conn.close().await.expect("close");
    assert_eq!(store.integrity_check().await.expect("check"), "ok");
    if let Ok(s) = Arc::try_unwrap(store) {
        s.close().await;
    }
    f
}

/// Populate `n` open cases (0.1 % overdue) with plain SQL, then time `SqliteStore::overdue`.
async fn overdue_scan(dir: &std::path::Path, n: usize) {
    let path = dir.join("overdue.db");
    SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default())
        .await
        .expect("open")
        .close()
        .await;
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", "-200000")
        .connect()
        .await
        .expect("connect");
    let now = jiff::Timestamp::now().as_second();
    let started = Instant::now();
    // Case i is due `i` seconds from now plus a day, except every 1000th, due in the past.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
         INSERT INTO cases (tenant, id, version, service, definition_version, unit, status, is_open,
                            pending_unit, pending_roles, assignee, submitted_at, updated_at, due_at, body)
         SELECT 'kepri', printf('c%08d', i), 1, 'batam-domisili', 1, '21.71.10.1001', 'open:verifikasi', 1,
                NULL, NULL, NULL,
                strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ?2 - 86400 * 3, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ?2 - 86400 * 3, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%S.000000000Z',
                         CASE WHEN i % 1000 = 0 THEN ?2 - 3600 - i ELSE ?2 + 86400 + i END, 'unixepoch'),
                '{}'
         FROM n",
    )
    .bind(n as i64)
    .bind(now)
    .execute(&mut conn)
    .await
    .expect("populate");
    conn.close().await.expect("close");
    println!(
        "  populated {n} open cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let store = SqliteStore::open(path.to_str().expect("utf-8"), SqliteOptions::default())
        .await
        .expect("open");
    let now = jiff::Timestamp::now();
    let expected = n.div_ceil(1000);
    for limit in [100, expected] {
        // Warm up, then time.
        for _ in 0..50 {
            store.overdue(TENANT, now, limit).await.expect("overdue");
        }
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..2000 {
            let started = Instant::now();
            found = store
                .overdue(TENANT, now, limit)
                .await
                .expect("overdue")
                .len();
            times.push(started.elapsed());
        }
        times.sort();
        let p = |q: f64| {
            times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3
        };
        println!(
            "  overdue(limit {limit}): {found} cases, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms {}",
            p(0.5),
            p(0.99),
            p(1.0),
            if p(0.99) < 2.0 {
                "(target < 2 ms: met)"
            } else {
                "(target < 2 ms: MISSED)"
            }
        );
    }
    store.close().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = std::env::var("ALUR_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let n = env("ALUR_BENCH_TRANSITIONS", 20_000);
    let cases = env("ALUR_BENCH_CASES", 1_000_000);
    rt.block_on(async {
        let probe = SqliteStore::open(dir.join("probe.db").to_str().expect("utf-8"), SqliteOptions::default())
            .await
            .expect("open");
        println!("SQLite {} (bundled via sqlx 0.9), {} cores", probe.sqlite_version().await.expect("version"),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        probe.close().await;
        println!("transitions (case update + audit entry + payload + outbox row):");
        let rounds = env("ALUR_BENCH_ROUNDS", 15);
        let normal = profile(&dir, Durability::Normal, n, rounds).await;
        let full = profile(&dir, Durability::Full, (n / 4).max(CALLERS * rounds), rounds).await;
        println!(
            "  {rounds} interleaved rounds (raw, store sequential, store {CALLERS} callers); rates: median [best]; ratios: median of the per-round ratios"
        );
        for (name, f) in [("NORMAL", &normal), ("FULL", &full)] {
            println!(
                "  {name:6} raw {:>5.0}/s [{:>5.0}] | store sequential {:>5.0}/s [{:>5.0}] = {:>5.1} % of raw | store {CALLERS} callers {:>5.0}/s [{:>5.0}] = {:>5.1} % of raw (mean batch {:.1})",
                f.raw.median(),
                f.raw.best(),
                f.sequential.median(),
                f.sequential.best(),
                100.0 * ratio(&f.sequential, &f.raw),
                f.concurrent.median(),
                f.concurrent.best(),
                100.0 * ratio(&f.concurrent, &f.raw),
                f.batch
            );
        }
        for (name, f) in [("NORMAL", &normal), ("FULL", &full)] {
            let us = |d: Duration| d.as_secs_f64() * 1e6 / f.per_metric.max(1) as f64;
            println!(
                "  {name:6} CPU per transition (all threads): raw {:.0} µs | store sequential {:.0} µs | store {CALLERS} callers {:.0} µs",
                us(f.cpu_raw),
                us(f.cpu_sequential),
                us(f.cpu_concurrent)
            );
        }
        println!(
            "  group commit FULL with {CALLERS} callers ÷ single-commit FULL rate: {:.2}× (target ≥ 3×)",
            ratio(&full.concurrent, &full.sequential)
        );
        println!("overdue scan:");
        overdue_scan(&dir, cases).await;
    });
}
