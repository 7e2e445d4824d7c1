//! `alur audit verify` over a large SQLite audit log against a raw read-and-hash loop over the
//! same table, in the same run.
//!
//! ```text
//! cargo bench -p alur-sqlite --bench audit_verify
//! ALUR_BENCH_ENTRIES=1000000   entries in the log (default 1,000,000)
//! ALUR_BENCH_ROUNDS=3          verification rounds (figures: the best round of each)
//! ALUR_BENCH_DIR=/path         where the database goes (default: a temporary directory)
//! ALUR_BENCH_REUSE=1           with ALUR_BENCH_DIR: keep a database of the right size from an
//!                              earlier run instead of writing it again (for profiling)
//! ALUR_BENCH_SHARE=0           skip the hashing-share measurement
//! ALUR_BENCH_CHECKPOINTS=20000 signed checkpoints whose signatures are verified one by one and
//!                              as an audit does (`LogCheck::new`: on all cores); 0 skips it
//! ALUR_BENCH_RAW=0             skip the raw baselines (to profile the verification alone)
//! ALUR_BENCH_OPEN=4096         cases open at once while the log is written (default 4,096):
//!                              their entries interleave in the table and in the log, as a
//!                              regency's do; 1 writes the cases one after another
//! ```
//!
//! The log is made of real engine entries (a domicile letter's submission, completeness check,
//! initials and signature, from a real engine run) copied to many cases with their chains re-hashed,
//! then sequenced into the tenant Merkle log and signed. Verification = [`verify_store`] in strict
//! mode with the verifier key: every chain, every leaf against its entry, the Merkle root against
//! every signed checkpoint. The raw baseline reads the same rows in the same order with one plain
//! synchronous SQLite query (rusqlite, one connection, one thread) and computes one SHA-256 per row over the columns' bytes: the least any verifier
//! must do.

use std::time::{Duration, Instant};

use alur_core::MemoryStore;
use alur_core::audit::{AuditEntry, GENESIS};
use alur_core::store::Store;
use alur_core::store::StoredCheckpoint;
use alur_core::tlog::{Integrator, LogCheck, origin, verify_store};
use alur_merkle::checkpoint::{Checkpoint, CheckpointSigner, parse_and_verify};
use alur_sqlite::{Durability, SqliteOptions, SqliteStore};
use alur_testkit::{act, domisili, engine};
use sha2::{Digest, Sha256};
use sqlx::Connection;

const TENANT: &str = "kepri";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One complete case's entries from a real engine run.
async fn template() -> Vec<AuditEntry> {
    let (e, _clock) = engine(MemoryStore::new()).await;
    let c = e.submit(domisili(1), None).await.unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
        .await
        .unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-lurah", "tandatangani"), None)
        .await
        .unwrap();
    assert!(!c.status.is_open());
    e.store().entries(TENANT, &c.id).await.unwrap()
}

/// Write `n` entries (cases of the template's length) with one sqlx transaction per 20,000 rows,
/// `open` cases at a time: the first entry of each, then the second of each, and so on, so that
/// the entries of a case lie apart in the table and in the log, as when many cases run at once.
async fn fill(store: &SqliteStore, path: &str, n: usize, open: usize) {
    let t = template().await;
    let mut conn = sqlx::SqliteConnection::connect_with(
        &path.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap(),
    )
    .await
    .unwrap();
    let open = open.max(1);
    let mut written = 0;
    let mut cases = 0usize;
    let started = Instant::now();
    // The next entry to write of each open case: (case id, step, previous hash).
    let mut wave: Vec<(String, usize, String)> = Vec::new();
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    let mut batch = 0;
    while written < n {
        if wave.is_empty() {
            wave = (0..open)
                .map(|_| {
                    cases += 1;
                    (format!("bench-{cases:08}"), 0, GENESIS.to_owned())
                })
                .collect();
        }
        for (id, step, prev) in &mut wave {
            if written == n {
                break;
            }
            let mut e = t[*step].clone();
            e.case_id = id.clone();
            e.prev_hash = std::mem::take(prev);
            e.hash = e.compute_hash();
            *prev = e.hash.clone();
            *step += 1;
            sqlx::query(
                "INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version, \
                 calendar_version, event, actor, legal_basis, at, due, payload_digest, \
                 prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&e.tenant)
            .bind(&e.case_id)
            .bind(e.seq as i64)
            .bind(&e.service)
            .bind(i64::from(e.definition_version))
            .bind(&e.calendar_version)
            .bind(serde_json::to_string(&e.event).unwrap())
            .bind(serde_json::to_string(&e.actor).unwrap())
            .bind(&e.legal_basis)
            .bind(format!("{:.9}", e.at))
            .bind(e.due.as_ref().map(|d| serde_json::to_string(d).unwrap()))
            .bind(&e.payload_digest)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *tx)
            .await
            .unwrap();
            written += 1;
            batch += 1;
            if batch == 20_000 {
                tx.commit().await.unwrap();
                tx = sqlx::Connection::begin(&mut conn).await.unwrap();
                batch = 0;
            }
        }
        wave.retain(|(_, step, _)| *step < t.len());
    }
    tx.commit().await.unwrap();
    eprintln!(
        "wrote {written} entries ({cases} cases) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut integ = Integrator::new(TENANT, Some(signer()));
    integ.integrate(store, 50_000).await.unwrap();
    integ.checkpoint(store).await.unwrap();
    eprintln!(
        "sequenced and signed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// CPU seconds used by this process so far (user + system, from /proc; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last ')'): utime and stime are the
    // 12th and 13th, in clock ticks (100 a second on Linux).
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks as f64 / 100.0
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_seed("alur-bench", &[5; 32]).unwrap()
}

/// The baseline: the same rows in the same order (commit order, the table's own), one SHA-256 per
/// row over its columns' bytes, read with a plain synchronous SQLite connection (the fastest
/// reader there is). `by_case`: in case order instead (through the index, as a verifier reading
/// case by case does), for comparison.
fn raw(path: &str, by_case: bool) -> (usize, Duration) {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let started = Instant::now();
    let mut stmt = conn
        .prepare(if by_case {
            "SELECT case_id, seq, service, definition_version, calendar_version, event, actor, \
                 legal_basis, at, due, payload_digest, prev_hash, hash FROM audit_entries \
                 WHERE tenant = ? ORDER BY case_id, seq"
        } else {
            "SELECT case_id, seq, service, definition_version, calendar_version, event, actor, \
                 legal_basis, at, due, payload_digest, prev_hash, hash FROM audit_entries \
                 NOT INDEXED WHERE tenant = ? ORDER BY pos"
        })
        .unwrap();
    let mut rows = stmt.query([TENANT]).unwrap();
    let mut n = 0usize;
    let mut acc = 0u8;
    while let Some(r) = rows.next().unwrap() {
        let mut h = Sha256::new();
        for i in 0..13 {
            match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Integer(v) => h.update(v.to_le_bytes()),
                rusqlite::types::ValueRef::Text(t) => h.update(t),
                _ => {}
            }
        }
        acc ^= h.finalize()[0];
        n += 1;
    }
    std::hint::black_box(acc);
    (n, started.elapsed())
}

/// Verifying `n` checkpoints' signatures one by one (the baseline) and as an audit does before
/// reading the log ([`LogCheck::new`]); best of three each.
fn checkpoint_signatures(n: u64) -> (Duration, Duration) {
    let signer = signer();
    let verifier = signer.verifier();
    let checkpoints: Vec<StoredCheckpoint> = (1..=n)
        .map(|size| StoredCheckpoint {
            size,
            note: signer
                .sign(&Checkpoint::new(origin(TENANT), size, [size as u8; 32]))
                .unwrap(),
        })
        .collect();
    let (mut one_by_one, mut audit) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let started = Instant::now();
        for c in &checkpoints {
            parse_and_verify(&c.note, &verifier).unwrap();
        }
        one_by_one = one_by_one.min(started.elapsed());
        let started = Instant::now();
        assert!(LogCheck::new(TENANT, &checkpoints, Some(&verifier), None).is_ok());
        audit = audit.min(started.elapsed());
    }
    (one_by_one, audit)
}

/// What hashing adds to a transition: the engine's submissions on SQLite (NORMAL), each one
/// transition with one audit entry, against the time to hash one entry.
async fn hashing_share(dir: &std::path::Path) -> (f64, f64) {
    let path = dir.join("hash-share.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let store = SqliteStore::open(
        path.to_str().unwrap(),
        SqliteOptions::with_durability(Durability::Normal),
    )
    .await
    .unwrap();
    let (e, _clock) = engine(store).await;
    let n = 3_000u32;
    let started = Instant::now();
    let mut entries = Vec::new();
    for i in 0..n {
        let c = e.submit(domisili(i), None).await.unwrap();
        if i < 200 {
            entries.extend(e.store().entries(TENANT, &c.id).await.unwrap());
        }
    }
    let per_transition = started.elapsed().as_secs_f64() / f64::from(n);
    let reps = 50;
    let started = Instant::now();
    let mut acc = 0usize;
    for _ in 0..reps {
        for x in &entries {
            acc += x.compute_hash().len();
        }
    }
    std::hint::black_box(acc);
    let per_hash = started.elapsed().as_secs_f64() / (reps * entries.len()) as f64;
    e.into_store().close().await;
    (per_transition, per_hash)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let n = env("ALUR_BENCH_ENTRIES", 1_000_000);
        let rounds = env("ALUR_BENCH_ROUNDS", 3).max(1);
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::env::var("ALUR_BENCH_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| tmp.path().to_owned());
        let open = env("ALUR_BENCH_OPEN", 4096);
        let path = dir.join(format!("audit-verify-open{open}.db"));
        let reuse = std::env::var("ALUR_BENCH_REUSE").is_ok_and(|v| v == "1")
            && std::env::var("ALUR_BENCH_DIR").is_ok()
            && path.exists();
        if !reuse {
            let _ = std::fs::remove_file(&path);
        }
        let path = path.to_str().unwrap().to_owned();
        let store = SqliteStore::open(&path, SqliteOptions::with_durability(Durability::Normal))
            .await
            .unwrap();
        if !reuse || store.log_size(TENANT).await.unwrap() != n as u64 {
            assert!(!reuse, "ALUR_BENCH_REUSE: the kept database has another size");
            fill(&store, &path, n, open).await;
        }
        let verifier = signer().verifier();
        let with_raw = env("ALUR_BENCH_RAW", 1) != 0;
        let mut best_verify = Duration::MAX;
        let mut best_raw = Duration::MAX;
        for round in 1..=rounds {
            let raw_line = if with_raw {
                let p = path.clone();
                let cpu = cpu_seconds();
                let (rows, raw_t) = tokio::task::spawn_blocking(move || raw(&p, false))
                    .await
                    .unwrap();
                let raw_cpu = cpu_seconds() - cpu;
                assert_eq!(rows, n);
                let p = path.clone();
                let (_, by_case_t) = tokio::task::spawn_blocking(move || raw(&p, true))
                    .await
                    .unwrap();
                best_raw = best_raw.min(raw_t);
                format!(
                    ", raw read-and-hash {:.2} s ({:.0} rows/s, {:.2} µs CPU/row; in case order {:.0} rows/s)",
                    raw_t.as_secs_f64(),
                    n as f64 / raw_t.as_secs_f64(),
                    raw_cpu * 1e6 / n as f64,
                    n as f64 / by_case_t.as_secs_f64(),
                )
            } else {
                String::new()
            };
            let cpu = cpu_seconds();
            let started = Instant::now();
            let summary = verify_store(&store, TENANT, Some(&verifier), None, true, |_| {})
                .await
                .unwrap()
                .unwrap();
            let verify_t = started.elapsed();
            let verify_cpu = cpu_seconds() - cpu;
            assert_eq!(summary.entries as usize, n);
            assert_eq!(summary.leaves as usize, n);
            eprintln!(
                "round {round}: verify {:.2} s ({:.0} entries/s, {:.2} µs CPU/entry){raw_line}",
                verify_t.as_secs_f64(),
                n as f64 / verify_t.as_secs_f64(),
                verify_cpu * 1e6 / n as f64,
            );
            best_verify = best_verify.min(verify_t);
        }
        let v = n as f64 / best_verify.as_secs_f64();
        if with_raw {
            let r = n as f64 / best_raw.as_secs_f64();
            println!(
                "audit verify, {n} entries ({open} cases open at a time): {v:.0} entries/s; raw read-and-hash {r:.0} rows/s; ratio {:.0} %",
                100.0 * v / r
            );
        } else {
            println!(
                "audit verify, {n} entries ({open} cases open at a time): {v:.0} entries/s (raw baselines skipped)"
            );
        }
        store.close().await;
        let count = env("ALUR_BENCH_CHECKPOINTS", 20_000);
        if count > 0 {
            let (one_by_one, audit) = checkpoint_signatures(count as u64);
            println!(
                "{count} checkpoint signatures: one by one {:.2} s ({:.1} µs each); as an audit verifies them {:.2} s ({:.2}×)",
                one_by_one.as_secs_f64(),
                one_by_one.as_secs_f64() * 1e6 / count as f64,
                audit.as_secs_f64(),
                one_by_one.as_secs_f64() / audit.as_secs_f64()
            );
        }
        if env("ALUR_BENCH_SHARE", 1) == 0 {
            return;
        }
        let (transition, hash) = hashing_share(&dir).await;
        println!(
            "hashing one entry: {:.2} µs; one transition (engine submit, SQLite NORMAL): {:.1} µs; hashing share {:.2} %",
            hash * 1e6,
            transition * 1e6,
            100.0 * hash / transition
        );
    });
}
