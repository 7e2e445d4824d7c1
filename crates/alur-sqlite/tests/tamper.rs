//! Tamper suite on a real SQLite file: ≥ 1,000 audit entries over three tenants, integrated into
//! the tenant logs and signed, the newest checkpoint of each tenant exported to a file outside
//! the database. The append-only triggers are shown to refuse an administrator's UPDATE and
//! DELETE; then, as an attacker with raw access to the file, the triggers are dropped and every
//! mutation is applied to every entry and every log leaf in turn, `verify_store` (strict, with
//! the exported checkpoint) is run, and the mutated rows are put back from backup tables, so that
//! each trial tests exactly one mutation. Every mutation must be detected. A rewritten or
//! truncated tail (entries, leaves and checkpoints, re-signed by the honest checkpointer, as
//! happens when an attacker edits the database between two scheduled checkpoints) verifies
//! cleanly on its own and is caught only through the exported checkpoint.
//!
//! Each trial runs a full strict `verify_store` of the tenant (about 25 ms for 370 entries in a
//! debug build, where `alur-core`'s hashing is unoptimised), so by default every 13th entry and
//! every 13th leaf is tried (about 2,000 mutations, under a minute; 13 is prime to the fixture's
//! five-entry case pattern, so first, middle and last entries of chains are all hit).
//! `ALUR_TAMPER_STRIDE=1` tries every entry and every leaf: about 25,000 mutations, some ten
//! minutes in a debug build.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use alur_core::Engine;
use alur_core::audit::AuditEntry;
use alur_core::engine::{ActorRecord, Due, EventKind};
use alur_core::store::Store;
use alur_core::tlog::{Integrator, Reading, verify_store, verify_store_with};
use alur_merkle::checkpoint::{CheckpointSigner, CheckpointVerifier};
use alur_sqlite::{Durability, SqliteStore};
use serde::de::DeserializeOwned;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteRow, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row, SqliteConnection};

const TENANTS: [&str; 3] = ["kepri", "t2", "t3"];
/// Entries per tenant under the first checkpoint, then `TAIL` more under the second.
const ENTRIES_PER_TENANT: i64 = 340;
const TAIL: i64 = 30;

/// The audit entry columns (all but `pos`, the commit order, which no hash covers and which only
/// decides the order in which entries are appended to the log; after integration the log's own
/// order is what the Merkle tree and the checkpoints fix).
const COLUMNS: [&str; 14] = [
    "tenant",
    "case_id",
    "seq",
    "service",
    "definition_version",
    "calendar_version",
    "event",
    "actor",
    "legal_basis",
    "at",
    "due",
    "payload_digest",
    "prev_hash",
    "hash",
];

/// The audit tables and their triggers (the append-only guards and the chain check).
const AUDIT_TABLES: [&str; 3] = ["audit_entries", "log_leaves", "checkpoints"];

/// A value of a SQLite column.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Text(String),
}

/// One stored audit row, as the attacker reads it.
#[derive(Debug, Clone)]
struct RawEntry {
    pos: i64,
    case_id: String,
    seq: i64,
    cols: BTreeMap<&'static str, Val>,
}

fn raw_entry(r: &SqliteRow) -> RawEntry {
    let mut cols = BTreeMap::new();
    for c in COLUMNS {
        let v = match c {
            "seq" | "definition_version" => Val::Int(r.get(c)),
            _ => match r.get::<Option<String>, _>(c) {
                Some(s) => Val::Text(s),
                None => Val::Null,
            },
        };
        cols.insert(c, v);
    }
    RawEntry {
        pos: r.get("pos"),
        case_id: r.get("case_id"),
        seq: r.get("seq"),
        cols,
    }
}

/// `s` with the byte at `i` XOR `mask` (ASCII stays ASCII).
fn flip_at(s: &str, i: usize, mask: u8) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] ^= mask;
    String::from_utf8(b).expect("ASCII flip keeps UTF-8")
}

/// The last byte of `s` accepted by `pick`, flipped with the first mask of `masks` whose result
/// `keep` accepts.
fn flip_last(
    s: &str,
    pick: impl Fn(u8) -> bool,
    masks: &[u8],
    keep: impl Fn(u8) -> bool,
) -> String {
    for (i, &b) in s.as_bytes().iter().enumerate().rev() {
        if !pick(b) {
            continue;
        }
        for &m in masks {
            if keep(b ^ m) {
                return flip_at(s, i, m);
            }
        }
    }
    panic!("no byte to flip in {s:?}");
}

fn flip_hex(s: &str) -> String {
    flip_last(
        s,
        |b| b.is_ascii_hexdigit(),
        &[1, 2],
        |b| b.is_ascii_hexdigit(),
    )
}

fn flip_alnum(s: &str) -> String {
    flip_last(
        s,
        |b| b.is_ascii_alphanumeric(),
        &[1],
        |b| b.is_ascii_graphic() && b != b'"' && b != b'\\',
    )
}

/// Flip one byte inside a string of the JSON document `s` (key or value) so that it still
/// decodes as a `T`, to a different value: the row stays readable and the change is for the
/// hash to catch. When no such byte exists, any flip (the store then refuses the row).
fn flip_json<T: DeserializeOwned + PartialEq>(s: &str) -> String {
    let original: T = serde_json::from_str(s).expect("stored JSON decodes");
    let mut in_string = false;
    let mut escaped = false;
    let mut candidates = Vec::new();
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            } else if b.is_ascii_alphanumeric() {
                candidates.push(i);
            }
        } else if b == b'"' {
            in_string = true;
        }
    }
    for &i in candidates.iter().rev() {
        let m = flip_at(s, i, 1);
        if serde_json::from_str::<T>(&m).is_ok_and(|v| v != original) {
            return m;
        }
    }
    flip_at(s, *candidates.last().expect("a string in the JSON"), 1)
}

/// The value `col` of `e` changed by one byte (a NULL gets a plausible value instead).
fn mutated(e: &RawEntry, col: &str, some_due: &str) -> Val {
    let v = &e.cols[col];
    let text = || match v {
        Val::Text(s) => s.clone(),
        other => panic!("{col} is {other:?}"),
    };
    match col {
        // Bit 8: `seq ^ 1` would mostly collide with the neighbour (caught by UNIQUE, not by
        // the audit) or break `seq >= 1`.
        "seq" => match v {
            Val::Int(n) => Val::Int(n ^ 256),
            other => panic!("seq is {other:?}"),
        },
        "definition_version" => match v {
            Val::Int(n) => Val::Int(n ^ 1),
            other => panic!("definition_version is {other:?}"),
        },
        // Bit 6, so that a changed id does not land on a neighbouring case or tenant.
        "tenant" | "case_id" => Val::Text(flip_last(
            &text(),
            |_| true,
            &[64, 32],
            |b| b.is_ascii_graphic(),
        )),
        "service" => Val::Text(flip_alnum(&text())),
        // The last fractional digit: still a valid instant, one nanosecond off.
        "at" => Val::Text(flip_last(
            &text(),
            |b| b.is_ascii_digit(),
            &[1],
            |b| b.is_ascii_digit(),
        )),
        "prev_hash" | "hash" => Val::Text(flip_hex(&text())),
        "payload_digest" => match v {
            Val::Null => Val::Text("0".repeat(64)),
            Val::Text(s) if s.is_empty() => Val::Text("0".into()),
            Val::Text(s) => Val::Text(flip_hex(s)),
            Val::Int(_) => unreachable!(),
        },
        "calendar_version" | "legal_basis" => match v {
            Val::Null => Val::Text("x".into()),
            Val::Text(s) if !s.bytes().any(|b| b.is_ascii_alphanumeric()) => {
                Val::Text(format!("{s}x"))
            }
            Val::Text(s) => Val::Text(flip_alnum(s)),
            Val::Int(_) => unreachable!(),
        },
        "event" => Val::Text(flip_json::<EventKind>(&text())),
        "actor" => Val::Text(flip_json::<ActorRecord>(&text())),
        // An entry that set no deadline gets one (copied from another entry).
        "due" => match v {
            Val::Null => Val::Text(some_due.to_owned()),
            Val::Text(s) => Val::Text(flip_json::<Due>(s)),
            Val::Int(_) => unreachable!(),
        },
        other => panic!("unknown column {other}"),
    }
}

#[derive(Default)]
struct Tally {
    tried: u64,
    by_audit: u64,
    refused: u64,
    kinds: BTreeMap<String, u64>,
    failures: BTreeMap<String, u64>,
    verify_time: std::time::Duration,
    sql_time: std::time::Duration,
}

struct Ctx {
    store: Arc<SqliteStore>,
    attacker: SqliteConnection,
    signer: CheckpointSigner,
    verifier: CheckpointVerifier,
    external: BTreeMap<String, String>,
    tally: Tally,
}

impl Ctx {
    /// Run statements as the attacker; they must succeed.
    async fn sql(&mut self, sql: &str, params: &[Val]) {
        let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
        for p in params {
            q = match p {
                Val::Null => q.bind(None::<String>),
                Val::Int(n) => q.bind(*n),
                Val::Text(s) => q.bind(s.clone()),
            };
        }
        let t0 = Instant::now();
        if let Err(e) = q.execute(&mut self.attacker).await {
            panic!("attacker statement failed: {e}\n{sql}\n{params:?}");
        }
        self.tally.sql_time += t0.elapsed();
    }

    async fn verify(
        &self,
        tenant: &str,
        external: bool,
    ) -> Result<Result<alur_core::tlog::AuditSummary, alur_core::tlog::AuditFailure>, String> {
        // Read in one, two or three spans in turn (the store reads in commit order): the
        // spans' joins must catch what one reading catches.
        let reading = Reading {
            page: 16,
            parts: 1,
            spans: 1 + (self.tally.tried % 3) as usize,
        };
        verify_store_with(
            &*self.store,
            tenant,
            Some(&self.verifier),
            external.then(|| self.external[tenant].as_str()),
            true,
            |_| {},
            reading,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// Verify `tenant` (strict, with the exported checkpoint) and require a detection.
    async fn expect_detected(&mut self, tenant: &str, kind: &str, what: &str) {
        self.tally.tried += 1;
        *self.tally.kinds.entry(kind.to_owned()).or_default() += 1;
        let t0 = Instant::now();
        let r = self.verify(tenant, true).await;
        self.tally.verify_time += t0.elapsed();
        match r {
            Ok(Ok(s)) => panic!("{kind} not detected ({what}): {s:?}"),
            Ok(Err(f)) => {
                self.tally.by_audit += 1;
                *self.tally.failures.entry(f.what).or_default() += 1;
            }
            // The store refuses to decode the row (e.g. a value no longer parses).
            Err(_) => self.tally.refused += 1,
        }
    }

    /// Put back the audit rows of one case (by key and by original position).
    async fn restore_case(&mut self, tenant: &str, case_id: &str) {
        let p = [
            Val::Text(tenant.into()),
            Val::Text(case_id.into()),
            Val::Text(tenant.into()),
            Val::Text(case_id.into()),
        ];
        self.sql(
            "DELETE FROM audit_entries WHERE (tenant = ?1 AND case_id = ?2)
               OR pos IN (SELECT pos FROM bk_entries WHERE tenant = ?3 AND case_id = ?4)",
            &p,
        )
        .await;
        self.sql(
            "INSERT INTO audit_entries SELECT * FROM bk_entries WHERE tenant = ?1 AND case_id = ?2",
            &p[..2],
        )
        .await;
    }

    /// Put back a tenant's entries from commit position `pos` on, its leaves from index `idx`
    /// on, and all its checkpoints.
    async fn restore_tail(&mut self, tenant: &str, pos: i64, idx: i64) {
        let t = Val::Text(tenant.into());
        let (p, i) = (Val::Int(pos), Val::Int(idx));
        self.sql(
            "DELETE FROM audit_entries WHERE tenant = ? AND pos >= ?",
            &[t.clone(), p.clone()],
        )
        .await;
        self.sql(
            "INSERT INTO audit_entries SELECT * FROM bk_entries WHERE tenant = ? AND pos >= ?",
            &[t.clone(), p],
        )
        .await;
        self.sql(
            "DELETE FROM log_leaves WHERE tenant = ? AND idx >= ?",
            &[t.clone(), i.clone()],
        )
        .await;
        self.sql(
            "INSERT INTO log_leaves SELECT * FROM bk_leaves WHERE tenant = ? AND idx >= ?",
            &[t.clone(), i],
        )
        .await;
        self.sql(
            "DELETE FROM checkpoints WHERE tenant = ?",
            std::slice::from_ref(&t),
        )
        .await;
        self.sql(
            "INSERT INTO checkpoints SELECT * FROM bk_checkpoints WHERE tenant = ?",
            &[t],
        )
        .await;
    }

    /// The honest checkpointer signs whatever the database now holds.
    async fn resign(&mut self, tenant: &str) {
        Integrator::new(tenant, Some(self.signer.clone()))
            .checkpoint(&*self.store)
            .await
            .expect("checkpoint");
    }

    /// A tail change that the database alone cannot show: it verifies without the exported
    /// checkpoint, and must be detected with it.
    async fn expect_only_external_detects(&mut self, tenant: &str, kind: &str, what: &str) {
        match self.verify(tenant, false).await {
            Ok(Ok(_)) => {}
            other => {
                panic!("{kind} ({what}) should verify without the external checkpoint: {other:?}")
            }
        }
        self.expect_detected(tenant, kind, what).await;
    }
}

async fn count(conn: &mut SqliteConnection, tenant: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE tenant = ?")
        .bind(tenant)
        .fetch_one(conn)
        .await
        .expect("count")
}

/// Submit cases (two thirds of them also acted on) until `tenant` has `until` entries.
async fn fill(
    engine: &Engine<Arc<SqliteStore>>,
    conn: &mut SqliteConnection,
    tenant: &str,
    mut n: u32,
    until: i64,
) {
    while count(conn, tenant).await < until {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .expect("submit");
        if !n.is_multiple_of(3) {
            engine
                .execute(
                    &c.id,
                    alur_testkit::act(&c, "baloi-operator", "lengkap"),
                    None,
                )
                .await
                .expect("act");
        }
        n += 1;
    }
}

async fn attacker_connection(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(false)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .expect("raw connection")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_detected() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::db_path(dir.path());
    let store = Arc::new(common::open(&path, Durability::Normal).await);
    let mut attacker = attacker_connection(&path).await;
    let signer = CheckpointSigner::from_seed("alur-tamper", &[7; 32]).expect("signer");
    let verifier = signer.verifier();

    // Entries through the engine, integrated twice per tenant (two signed checkpoints); the newest
    // checkpoint is exported to a file outside the database, as `alur audit checkpoint --out` does.
    let mut engines = Vec::new();
    for tenant in TENANTS {
        engines.push(alur_testkit::tenant_engine(tenant, store.clone()).await.0);
    }
    let mut external = BTreeMap::new();
    for (tenant, engine) in TENANTS.iter().zip(&engines) {
        let mut integrator = Integrator::new(*tenant, Some(signer.clone()));
        fill(engine, &mut attacker, tenant, 0, ENTRIES_PER_TENANT).await;
        integrator.integrate(&*store, 100).await.expect("integrate");
        integrator.checkpoint(&*store).await.expect("checkpoint");
        let base = count(&mut attacker, tenant).await;
        fill(engine, &mut attacker, tenant, 10_000, base + TAIL).await;
        integrator.integrate(&*store, 100).await.expect("integrate");
        let newest = integrator.checkpoint(&*store).await.expect("checkpoint");
        let out = dir.path().join("export").join(tenant);
        std::fs::create_dir_all(&out).expect("export dir");
        std::fs::write(out.join("latest.txt"), &newest.note).expect("export checkpoint");
        external.insert(
            (*tenant).to_owned(),
            std::fs::read_to_string(out.join("latest.txt")).expect("read checkpoint"),
        );
        let s = verify_store(
            &*store,
            tenant,
            Some(&verifier),
            Some(&external[*tenant]),
            true,
            |_| {},
        )
        .await
        .expect("store")
        .expect("pristine audit");
        assert_eq!(s.unsequenced, 0);
        assert_eq!(s.checkpoints, 3, "two stored and the exported one");
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries")
        .fetch_one(&mut attacker)
        .await
        .expect("count");
    assert!(total >= 1000, "only {total} entries");
    let built = started.elapsed();

    // Defence in depth: the triggers refuse an administrator's edits and a broken chain.
    for sql in [
        "UPDATE audit_entries SET service = service || 'x' WHERE pos = (SELECT min(pos) FROM audit_entries)",
        "DELETE FROM audit_entries WHERE pos = (SELECT max(pos) FROM audit_entries)",
        "UPDATE log_leaves SET hash = hash WHERE idx = 0",
        "DELETE FROM log_leaves WHERE idx = 0",
        "UPDATE checkpoints SET note = note",
        "DELETE FROM checkpoints",
    ] {
        let e = sqlx::query(sql)
            .execute(&mut attacker)
            .await
            .expect_err(sql)
            .to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    let e = sqlx::query(
        "INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version,
             calendar_version, event, actor, legal_basis, at, due, payload_digest, prev_hash, hash)
         SELECT tenant, case_id, seq + 1000, service, definition_version, calendar_version, event,
                actor, legal_basis, at, due, payload_digest, prev_hash, hash
         FROM audit_entries WHERE pos = (SELECT min(pos) FROM audit_entries)",
    )
    .execute(&mut attacker)
    .await
    .expect_err("forged insert")
    .to_string();
    assert!(e.contains("does not continue its case chain"), "{e}");

    // The attacker: triggers dropped (their text kept, to put them back at the end), a backup
    // of the audit tables to restore from after each mutation.
    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'
           AND tbl_name IN ('audit_entries', 'log_leaves', 'checkpoints') ORDER BY name",
    )
    .fetch_all(&mut attacker)
    .await
    .expect("triggers");
    for t in [
        "audit_entries_no_update",
        "audit_entries_no_delete",
        "audit_entries_chain",
        "log_leaves_no_update",
        "log_leaves_no_delete",
        "checkpoints_no_update",
        "checkpoints_no_delete",
    ] {
        assert!(
            triggers.iter().any(|(n, _)| n == t),
            "{t} missing: {triggers:?}"
        );
    }
    for (name, _) in &triggers {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TRIGGER \"{name}\"")))
            .execute(&mut attacker)
            .await
            .expect("drop trigger");
    }
    sqlx::raw_sql(
        "CREATE TABLE bk_entries AS SELECT * FROM audit_entries;
         CREATE TABLE bk_leaves AS SELECT * FROM log_leaves;
         CREATE TABLE bk_checkpoints AS SELECT * FROM checkpoints;
         CREATE INDEX bk_entries_case ON bk_entries (tenant, case_id);
         CREATE INDEX bk_entries_pos ON bk_entries (tenant, pos);
         CREATE INDEX bk_leaves_idx ON bk_leaves (tenant, idx);",
    )
    .execute(&mut attacker)
    .await
    .expect("backup");
    let some_due: String = sqlx::query_scalar(
        "SELECT due FROM audit_entries WHERE due IS NOT NULL ORDER BY pos LIMIT 1",
    )
    .fetch_one(&mut attacker)
    .await
    .expect("an entry with deadlines");
    let mut ctx = Ctx {
        store: store.clone(),
        attacker,
        signer,
        verifier,
        external,
        tally: Tally::default(),
    };

    let stride: usize = std::env::var("ALUR_TAMPER_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13)
        .max(1);
    let mut sampled_entries = 0u64;
    let mut sampled_leaves = 0u64;
    let tampering = Instant::now();
    for tenant in TENANTS {
        let rows: Vec<RawEntry> =
            sqlx::query("SELECT * FROM audit_entries WHERE tenant = ? ORDER BY case_id, seq")
                .bind(tenant)
                .fetch_all(&mut ctx.attacker)
                .await
                .expect("rows")
                .iter()
                .map(raw_entry)
                .collect();
        let mut last_of_case: HashMap<String, i64> = HashMap::new();
        for r in &rows {
            last_of_case.insert(r.case_id.clone(), r.seq);
        }
        let entries: BTreeMap<(String, u64), AuditEntry> = ctx
            .store
            .all_entries(tenant, None, 1_000_000)
            .await
            .expect("entries")
            .into_iter()
            .map(|e| ((e.case_id.clone(), e.seq), e))
            .collect();
        assert_eq!(entries.len(), rows.len());

        for r in rows.iter().step_by(stride) {
            sampled_entries += 1;
            let what = format!("{tenant}/{}#{}", r.case_id, r.seq);
            let at = Val::Int(r.pos);
            for col in COLUMNS {
                let v = mutated(r, col, &some_due);
                assert_ne!(v, r.cols[col], "{col} of {what} unchanged");
                ctx.sql(
                    &format!("UPDATE audit_entries SET {col} = ? WHERE pos = ?"),
                    &[v, at.clone()],
                )
                .await;
                ctx.expect_detected(tenant, &format!("modify {col}"), &what)
                    .await;
                ctx.restore_case(tenant, &r.case_id).await;
            }

            ctx.sql(
                "DELETE FROM audit_entries WHERE pos = ?",
                std::slice::from_ref(&at),
            )
            .await;
            ctx.expect_detected(tenant, "delete", &what).await;
            ctx.restore_case(tenant, &r.case_id).await;

            let last = last_of_case[&r.case_id];
            if r.seq < last {
                let p = [
                    Val::Text(tenant.into()),
                    Val::Text(r.case_id.clone()),
                    Val::Int(r.seq),
                ];
                ctx.sql(
                    "UPDATE audit_entries SET seq = seq + 1000000
                      WHERE tenant = ?1 AND case_id = ?2 AND seq IN (?3, ?3 + 1)",
                    &p,
                )
                .await;
                ctx.sql(
                    "UPDATE audit_entries SET seq = CASE seq WHEN ?3 + 1000000 THEN ?3 + 1 ELSE ?3 END
                      WHERE tenant = ?1 AND case_id = ?2 AND seq IN (?3 + 1000000, ?3 + 1000001)",
                    &p,
                )
                .await;
                ctx.expect_detected(tenant, "swap with next", &what).await;
                ctx.restore_case(tenant, &r.case_id).await;
            }

            // A forged entry with a correct chain hash (no key is needed for that), appended to
            // the case: content copied from this entry, linked to the case's last entry.
            let tail = &entries[&(r.case_id.clone(), u64::try_from(last).expect("seq"))];
            let mut f = entries[&(r.case_id.clone(), u64::try_from(r.seq).expect("seq"))].clone();
            f.seq = tail.seq + 1;
            f.prev_hash = tail.hash.clone();
            f.hash = f.compute_hash();
            ctx.sql(
                "INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version,
                     calendar_version, event, actor, legal_basis, at, due, payload_digest,
                     prev_hash, hash)
                 SELECT tenant, case_id, ?, service, definition_version, calendar_version, event,
                        actor, legal_basis, at, due, payload_digest, ?, ?
                 FROM audit_entries WHERE pos = ?",
                &[
                    Val::Int(i64::try_from(f.seq).expect("seq")),
                    Val::Text(f.prev_hash.clone()),
                    Val::Text(f.hash.clone()),
                    at.clone(),
                ],
            )
            .await;
            ctx.expect_detected(tenant, "insert forged", &what).await;
            ctx.restore_case(tenant, &r.case_id).await;
        }

        // The log: leaves (modified, deleted, swapped), a truncated log, and tails truncated or
        // rewritten consistently and re-signed.
        let leaves = ctx
            .store
            .log_leaves(tenant, 0, u64::MAX >> 2)
            .await
            .expect("leaves");
        let size = i64::try_from(leaves.len()).expect("size");
        let pos_of: HashMap<(String, i64), i64> = rows
            .iter()
            .map(|r| ((r.case_id.clone(), r.seq), r.pos))
            .collect();
        let t = Val::Text(tenant.into());
        for leaf in leaves.iter().step_by(stride) {
            sampled_leaves += 1;
            let i = i64::try_from(leaf.index).expect("index");
            let iv = Val::Int(i);
            let what = format!("{tenant} leaf {i}");
            let pos = pos_of[&(leaf.case_id.clone(), i64::try_from(leaf.seq).expect("seq"))];

            ctx.sql(
                "UPDATE log_leaves SET hash = ? WHERE tenant = ? AND idx = ?",
                &[Val::Text(flip_hex(&leaf.hash)), t.clone(), iv.clone()],
            )
            .await;
            ctx.expect_detected(tenant, "modify leaf", &what).await;
            ctx.restore_tail(tenant, i64::MAX, i).await;

            ctx.sql(
                "DELETE FROM log_leaves WHERE tenant = ? AND idx = ?",
                &[t.clone(), iv.clone()],
            )
            .await;
            ctx.expect_detected(tenant, "delete leaf", &what).await;
            ctx.restore_tail(tenant, i64::MAX, i).await;

            if i + 1 < size {
                ctx.sql(
                    "UPDATE log_leaves SET idx = idx + 1000000 WHERE tenant = ?1 AND idx IN (?2, ?2 + 1)",
                    &[t.clone(), iv.clone()],
                )
                .await;
                ctx.sql(
                    "UPDATE log_leaves SET idx = CASE idx WHEN ?2 + 1000000 THEN ?2 + 1 ELSE ?2 END
                      WHERE tenant = ?1 AND idx IN (?2 + 1000000, ?2 + 1000001)",
                    &[t.clone(), iv.clone()],
                )
                .await;
                ctx.expect_detected(tenant, "swap leaves", &what).await;
                ctx.restore_tail(tenant, i64::MAX, i).await;
            }

            ctx.sql(
                "DELETE FROM log_leaves WHERE tenant = ? AND idx >= ?",
                &[t.clone(), iv.clone()],
            )
            .await;
            ctx.expect_detected(tenant, "truncate log", &what).await;
            ctx.restore_tail(tenant, i64::MAX, i).await;

            // Truncate the tail: the entries from this one on (in commit order), their leaves and
            // the checkpoints over them; the checkpointer then signs the shortened log.
            for (sql, v) in [
                (
                    "DELETE FROM audit_entries WHERE tenant = ? AND pos >= ?",
                    Val::Int(pos),
                ),
                (
                    "DELETE FROM log_leaves WHERE tenant = ? AND idx >= ?",
                    iv.clone(),
                ),
                (
                    "DELETE FROM checkpoints WHERE tenant = ? AND size > ?",
                    iv.clone(),
                ),
            ] {
                ctx.sql(sql, &[t.clone(), v]).await;
            }
            ctx.resign(tenant).await;
            ctx.expect_only_external_detects(tenant, "truncate tail (re-signed)", &what)
                .await;
            ctx.restore_tail(tenant, pos, i).await;

            // Rewrite the tail: change this entry, recompute its hash and every later hash of
            // its chain, rebuild their leaves, drop the checkpoints that no longer match; the
            // checkpointer then signs the rewritten log.
            let mut prev: Option<String> = None;
            for seq in leaf.seq.. {
                let Some(e) = entries.get(&(leaf.case_id.clone(), seq)) else {
                    break;
                };
                let mut e = e.clone();
                if let Some(p) = prev {
                    e.prev_hash = p;
                } else {
                    e.legal_basis = Some(format!("{} (diubah)", e.legal_basis.unwrap_or_default()));
                }
                e.hash = e.compute_hash();
                let qseq = i64::try_from(seq).expect("seq");
                ctx.sql(
                    "UPDATE audit_entries SET legal_basis = ?, prev_hash = ?, hash = ? WHERE pos = ?",
                    &[
                        e.legal_basis.clone().map_or(Val::Null, Val::Text),
                        Val::Text(e.prev_hash.clone()),
                        Val::Text(e.hash.clone()),
                        Val::Int(pos_of[&(leaf.case_id.clone(), qseq)]),
                    ],
                )
                .await;
                ctx.sql(
                    "UPDATE log_leaves SET hash = ? WHERE tenant = ? AND case_id = ? AND seq = ?",
                    &[
                        Val::Text(e.hash.clone()),
                        t.clone(),
                        Val::Text(leaf.case_id.clone()),
                        Val::Int(qseq),
                    ],
                )
                .await;
                prev = Some(e.hash);
            }
            ctx.sql(
                "DELETE FROM checkpoints WHERE tenant = ? AND size > ?",
                &[t.clone(), iv.clone()],
            )
            .await;
            ctx.resign(tenant).await;
            ctx.expect_only_external_detects(tenant, "rewrite tail (re-signed)", &what)
                .await;
            ctx.restore_tail(tenant, pos, i).await;
        }
    }
    let tamper_time = tampering.elapsed();

    // Restored: every audit table equals its backup, the triggers are back, every tenant
    // verifies, and the administrator's edits are refused again.
    for (table, backup) in [
        ("audit_entries", "bk_entries"),
        ("log_leaves", "bk_leaves"),
        ("checkpoints", "bk_checkpoints"),
    ] {
        let diff: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT (SELECT count(*) FROM (SELECT * FROM {table} EXCEPT SELECT * FROM {backup}))
                  + (SELECT count(*) FROM (SELECT * FROM {backup} EXCEPT SELECT * FROM {table}))"
        )))
        .fetch_one(&mut ctx.attacker)
        .await
        .expect("diff");
        assert_eq!(diff, 0, "{table} differs from its backup after restoring");
    }
    for (_, sql) in &triggers {
        sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&mut ctx.attacker)
            .await
            .expect("recreate trigger");
    }
    for tenant in TENANTS {
        let s = ctx.verify(tenant, true).await.expect("store");
        assert!(s.is_ok(), "restored audit of {tenant}: {s:?}");
    }
    for table in AUDIT_TABLES {
        let r = sqlx::raw_sql(AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut ctx.attacker)
            .await;
        assert!(r.is_err(), "{table} accepted a DELETE");
    }
    ctx.attacker.close().await.expect("close");

    let t = &ctx.tally;
    assert_eq!(t.tried, t.by_audit + t.refused);
    eprintln!(
        "tamper (sqlite): {total} entries over {} tenants (built in {:.1?}); \
         {sampled_entries} entries and {sampled_leaves} leaves tried (stride {stride}); \
         {} mutations tried, all detected ({} by the audit, {} refused by the store as \
         undecodable) in {:.1?}; {:.1?} total",
        TENANTS.len(),
        built,
        t.tried,
        t.by_audit,
        t.refused,
        tamper_time,
        started.elapsed()
    );
    eprintln!(
        "  time in verify: {:.1?}, in attacker SQL: {:.1?}",
        t.verify_time, t.sql_time
    );
    for (k, n) in &t.kinds {
        eprintln!("  {k}: {n}");
    }
    for (k, n) in &t.failures {
        eprintln!("  detected as {k}: {n}");
    }
}
