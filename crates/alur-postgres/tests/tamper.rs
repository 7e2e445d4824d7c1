//! Tamper suite on a real PostgreSQL database: ≥ 1,000 audit entries over three tenants,
//! integrated into the tenant logs and signed; then, as a database administrator (triggers
//! disabled), every mutation is applied, `verify_store` run, and the state restored from a
//! backup copy. Every mutation must be detected; rewriting the tail (entries, leaves and
//! checkpoints, as an attacker without the signing key can) only through the external
//! checkpoint.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use alur_core::Engine;
use alur_core::audit::AuditEntry;
use alur_core::store::Store;
use alur_core::tlog::{Integrator, verify_store};
use alur_merkle::checkpoint::{CheckpointSigner, CheckpointVerifier};
use alur_postgres::PostgresStore;
use common::Schema;
use sqlx::{Connection, PgConnection};

const TENANTS: [&str; 3] = ["kepri", "t2", "t3"];
const ENTRIES_PER_TENANT: i64 = 350;

/// The audit entry columns (all but `pos`, the commit order, which no hash covers and which
/// only decides the order in which entries are appended to the log).
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
    "at_ns",
    "due",
    "payload_digest",
    "prev_hash",
    "hash",
];

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// SQL changing one byte (or, for a NULL, setting a value) of `col`.
fn mutate_column(col: &str) -> String {
    let flip_text =
        |c: &str| format!("overlay({c} placing chr(ascii(right({c}, 1)) # 1) from length({c}))");
    let flip_json = |c: &str| {
        format!(
            "CASE WHEN {c}::text ~ ': \"[^\"~]' THEN regexp_replace({c}::text, ': \"[^\"~]', ': \"~')::jsonb \
             ELSE regexp_replace({c}::text, '\"[^\"~]', '\"~')::jsonb END"
        )
    };
    match col {
        "seq" => "seq = seq # 256".into(),
        "definition_version" | "at_ns" => format!("{col} = {col} # 1"),
        // Bit 6, so a changed id does not land on a neighbouring case's id.
        "tenant" | "case_id" => format!(
            "{col} = overlay({col} placing chr(ascii(right({col}, 1)) # 64) from length({col}))"
        ),
        "service" | "prev_hash" | "hash" => format!("{col} = {}", flip_text(col)),
        "calendar_version" | "legal_basis" | "payload_digest" => format!(
            "{col} = CASE WHEN {col} IS NULL OR {col} = '' THEN 'x' ELSE {} END",
            flip_text(col)
        ),
        "event" | "actor" => format!("{col} = {}", flip_json(col)),
        "due" => format!(
            "due = CASE WHEN due IS NULL THEN 'null'::jsonb ELSE {} END",
            flip_json("due")
        ),
        other => panic!("unknown column {other}"),
    }
}

#[derive(Default)]
struct Tally {
    tried: u64,
    by_audit: u64,
    refused: u64,
    kinds: BTreeMap<String, u64>,
}

struct Ctx {
    store: Arc<PostgresStore>,
    dba: PgConnection,
    verifier: CheckpointVerifier,
    external: BTreeMap<String, String>,
    tally: Tally,
}

impl Ctx {
    async fn sql(&mut self, sql: String) {
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut self.dba)
            .await
        {
            panic!("dba statement failed: {e}\n{sql}");
        }
    }

    /// Verify `tenant` (strict, with the external checkpoint) and require a detection.
    async fn expect_detected(&mut self, tenant: &str, kind: &str, what: &str) {
        self.tally.tried += 1;
        *self.tally.kinds.entry(kind.to_owned()).or_default() += 1;
        let external = self.external[tenant].clone();
        match verify_store(
            &*self.store,
            tenant,
            Some(&self.verifier),
            Some(&external),
            true,
            |_| {},
        )
        .await
        {
            Ok(Ok(s)) => panic!("{kind} not detected ({what}): {s:?}"),
            Ok(Err(_)) => self.tally.by_audit += 1,
            // The store refuses to decode the row (e.g. a JSON field no longer parses).
            Err(_) => self.tally.refused += 1,
        }
    }

    /// Put back the audit rows of a case (by key and by original position).
    async fn restore_case(&mut self, tenant: &str, case_id: &str) {
        let (t, c) = (q(tenant), q(case_id));
        self.sql(format!(
            "DELETE FROM audit_entries WHERE (tenant = {t} AND case_id = {c}) \
               OR pos IN (SELECT pos FROM bk_entries WHERE tenant = {t} AND case_id = {c});
             INSERT INTO audit_entries OVERRIDING SYSTEM VALUE
               SELECT * FROM bk_entries WHERE tenant = {t} AND case_id = {c};"
        ))
        .await;
    }

    async fn restore_tenant(&mut self, tenant: &str) {
        let t = q(tenant);
        self.sql(format!(
            "DELETE FROM audit_entries WHERE tenant = {t};
             INSERT INTO audit_entries OVERRIDING SYSTEM VALUE SELECT * FROM bk_entries WHERE tenant = {t};
             DELETE FROM tenant_log WHERE tenant = {t};
             INSERT INTO tenant_log SELECT * FROM bk_log WHERE tenant = {t};
             DELETE FROM checkpoints WHERE tenant = {t};
             INSERT INTO checkpoints SELECT * FROM bk_checkpoints WHERE tenant = {t};"
        ))
        .await;
    }
}

async fn fill(engine: &Engine<Arc<PostgresStore>>, store: &PostgresStore, tenant: &str, n0: u32) {
    let mut n = n0;
    loop {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE tenant = $1")
            .bind(tenant)
            .fetch_one(store.pool())
            .await
            .expect("count");
        if count >= ENTRIES_PER_TENANT {
            return;
        }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_detected() {
    let url = require_pg!();
    let started = Instant::now();
    let schema = Schema::new(&url);
    let store = Arc::new(schema.store().await);
    let signer = CheckpointSigner::from_seed("t", &[1; 32]).expect("signer");
    let verifier = signer.verifier();

    // Entries through the engine, integrated twice per tenant (two signed checkpoints).
    let mut engines = Vec::new();
    for tenant in TENANTS {
        engines.push(alur_testkit::tenant_engine(tenant, store.clone()).await.0);
    }
    let mut external = BTreeMap::new();
    for (tenant, engine) in TENANTS.iter().zip(&engines) {
        let mut integrator = Integrator::new(*tenant, Some(signer.clone()));
        fill(engine, &store, tenant, 0).await;
        integrator.integrate(&*store, 100).await.expect("integrate");
        integrator.checkpoint(&*store).await.expect("checkpoint");
    }
    // More entries after the first checkpoint (the tail an attacker will rewrite).
    for (tenant, engine) in TENANTS.iter().zip(&engines) {
        let mut integrator = Integrator::new(*tenant, Some(signer.clone()));
        let base: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE tenant = $1")
            .bind(*tenant)
            .fetch_one(store.pool())
            .await
            .expect("count");
        let mut n = 10_000;
        loop {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE tenant = $1")
                    .bind(*tenant)
                    .fetch_one(store.pool())
                    .await
                    .expect("count");
            if count >= base + 30 {
                break;
            }
            engine
                .submit(alur_testkit::domisili(n), None)
                .await
                .expect("submit");
            n += 1;
        }
        integrator.integrate(&*store, 100).await.expect("integrate");
        let newest = integrator.checkpoint(&*store).await.expect("checkpoint");
        // The external copy: the newest checkpoint, exported out of the database.
        external.insert((*tenant).to_owned(), newest.note);
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
        assert_eq!(s.checkpoints, 3);
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert!(total >= 1000, "only {total} entries");
    let built = started.elapsed();

    // The administrator: triggers off, a backup to restore from after each mutation.
    let mut dba = PgConnection::connect(&url).await.expect("dba");
    let mut ctx_sql = format!("SET search_path = \"{}\";", schema.name);
    ctx_sql.push_str(
        "ALTER TABLE audit_entries DISABLE TRIGGER USER;
         ALTER TABLE tenant_log DISABLE TRIGGER USER;
         ALTER TABLE checkpoints DISABLE TRIGGER USER;
         CREATE TABLE bk_entries AS SELECT * FROM audit_entries;
         CREATE TABLE bk_log AS SELECT * FROM tenant_log;
         CREATE TABLE bk_checkpoints AS SELECT * FROM checkpoints;",
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(ctx_sql))
        .execute(&mut dba)
        .await
        .expect("dba setup");
    let mut ctx = Ctx {
        store: store.clone(),
        dba,
        verifier: verifier.clone(),
        external,
        tally: Tally::default(),
    };

    // Sampling: every 17th entry and leaf by default (17 is prime to the fixture's case
    // pattern, so first, middle and last entries of chains are all hit), to stay near 90 s in a
    // debug build; ALUR_TAMPER_STRIDE=1 tries every entry and leaf (about 23,000 mutations).
    let stride: usize = std::env::var("ALUR_TAMPER_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(17)
        .max(1);
    let mut sampled_entries = 0u64;
    for tenant in TENANTS {
        let mut cases: BTreeMap<String, Vec<AuditEntry>> = BTreeMap::new();
        for e in store.all_entries(tenant, None, 100_000).await.expect("all") {
            cases.entry(e.case_id.clone()).or_default().push(e);
        }
        let all: Vec<AuditEntry> = cases.values().flatten().cloned().collect();
        for e in all.iter().step_by(stride) {
            sampled_entries += 1;
            let key = format!(
                "tenant = {} AND case_id = {} AND seq = {}",
                q(tenant),
                q(&e.case_id),
                e.seq
            );
            let what = format!("{tenant}/{}#{}", e.case_id, e.seq);
            for col in COLUMNS {
                ctx.sql(format!(
                    "UPDATE audit_entries SET {} WHERE {key}",
                    mutate_column(col)
                ))
                .await;
                ctx.expect_detected(tenant, &format!("modify {col}"), &what)
                    .await;
                ctx.restore_case(tenant, &e.case_id).await;
            }
            ctx.sql(format!("DELETE FROM audit_entries WHERE {key}"))
                .await;
            ctx.expect_detected(tenant, "delete", &what).await;
            ctx.restore_case(tenant, &e.case_id).await;

            let chain = &cases[&e.case_id];
            if chain.iter().any(|x| x.seq == e.seq + 1) {
                let (t, c, s) = (q(tenant), q(&e.case_id), e.seq);
                ctx.sql(format!(
                    "UPDATE audit_entries SET seq = seq + 1000000 WHERE tenant = {t} AND case_id = {c} AND seq IN ({s}, {s} + 1);
                     UPDATE audit_entries SET seq = CASE seq WHEN {s} + 1000000 THEN {s} + 1 ELSE {s} END
                       WHERE tenant = {t} AND case_id = {c} AND seq IN ({s} + 1000000, {s} + 1000001);"
                ))
                .await;
                ctx.expect_detected(tenant, "swap with next", &what).await;
                ctx.restore_case(tenant, &e.case_id).await;
            }

            // A forged entry with a correct chain hash (no key is needed for that), appended
            // to the case: content copied from `e`, linked to the case's last entry.
            let last = chain.last().expect("chain");
            let mut f = e.clone();
            f.seq = last.seq + 1;
            f.prev_hash = last.hash.clone();
            f.hash = f.compute_hash();
            ctx.sql(format!(
                "INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version,
                     calendar_version, event, actor, legal_basis, at_ns, due, payload_digest,
                     prev_hash, hash)
                 SELECT tenant, case_id, {}, service, definition_version, calendar_version, event,
                        actor, legal_basis, at_ns, due, payload_digest, {}, {}
                 FROM audit_entries WHERE {key}",
                f.seq,
                q(&f.prev_hash),
                q(&f.hash)
            ))
            .await;
            ctx.expect_detected(tenant, "insert forged", &what).await;
            ctx.restore_case(tenant, &e.case_id).await;
        }

        // The log itself: leaves (modified, deleted, swapped) and a truncated tail.
        let size = store.log_size(tenant).await.expect("size");
        let t = q(tenant);
        for i in (0..size).step_by(stride) {
            let what = format!("{tenant} leaf {i}");
            ctx.sql(format!(
                "UPDATE tenant_log SET hash = overlay(hash placing chr(ascii(right(hash, 1)) # 1) from 64) WHERE tenant = {t} AND idx = {i}"
            ))
            .await;
            ctx.expect_detected(tenant, "modify leaf", &what).await;
            ctx.restore_tenant(tenant).await;
            ctx.sql(format!(
                "DELETE FROM tenant_log WHERE tenant = {t} AND idx = {i}"
            ))
            .await;
            ctx.expect_detected(tenant, "delete leaf", &what).await;
            ctx.restore_tenant(tenant).await;
            if i + 1 < size {
                ctx.sql(format!(
                    "UPDATE tenant_log SET idx = idx + 1000000 WHERE tenant = {t} AND idx IN ({i}, {i} + 1);
                     UPDATE tenant_log SET idx = CASE idx WHEN {i} + 1000000 THEN {i} + 1 ELSE {i} END
                       WHERE tenant = {t} AND idx IN ({i} + 1000000, {i} + 1000001);"
                ))
                .await;
                ctx.expect_detected(tenant, "swap leaves", &what).await;
                ctx.restore_tenant(tenant).await;
            }
            ctx.sql(format!(
                "DELETE FROM tenant_log WHERE tenant = {t} AND idx >= {i}"
            ))
            .await;
            ctx.expect_detected(tenant, "truncate log tail", &what)
                .await;
            ctx.restore_tenant(tenant).await;
        }

        // Rewrite the tail: back to the first signed checkpoint, dropping the later entries,
        // leaves and checkpoints. Consistent in itself; only the external copy shows it.
        let first = store.checkpoints(tenant).await.expect("cps")[0].size;
        ctx.sql(format!(
            "DELETE FROM audit_entries a USING tenant_log l
               WHERE a.tenant = {t} AND l.tenant = {t} AND l.idx >= {first}
                 AND a.case_id = l.case_id AND a.seq = l.seq;
             DELETE FROM tenant_log WHERE tenant = {t} AND idx >= {first};
             DELETE FROM checkpoints WHERE tenant = {t} AND size > {first};"
        ))
        .await;
        let without = verify_store(&*store, tenant, Some(&verifier), None, true, |_| {})
            .await
            .expect("store");
        assert!(
            without.is_ok(),
            "rewrite should pass without the external checkpoint: {without:?}"
        );
        ctx.expect_detected(tenant, "rewrite tail (external checkpoint)", tenant)
            .await;
        ctx.restore_tenant(tenant).await;
    }

    // Restored: triggers back on, every tenant verifies, and the administrator's edit is refused.
    sqlx::raw_sql(
        "ALTER TABLE audit_entries ENABLE TRIGGER USER;
         ALTER TABLE tenant_log ENABLE TRIGGER USER;
         ALTER TABLE checkpoints ENABLE TRIGGER USER;",
    )
    .execute(&mut ctx.dba)
    .await
    .expect("enable");
    for tenant in TENANTS {
        verify_store(
            &*store,
            tenant,
            Some(&verifier),
            Some(&ctx.external[tenant]),
            true,
            |_| {},
        )
        .await
        .expect("store")
        .expect("restored audit");
    }
    for table in ["audit_entries", "tenant_log", "checkpoints"] {
        let r = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut ctx.dba)
            .await;
        assert!(r.is_err(), "{table} accepted a DELETE");
    }
    let _ = ctx.dba.close().await;

    let t = &ctx.tally;
    eprintln!(
        "tamper: {total} entries over {} tenants (built in {:.1?}); sampled {sampled_entries} entries (stride {stride}); \
         {} mutations tried, all detected ({} by the audit, {} refused by the store as undecodable); {:.1?} total",
        TENANTS.len(),
        built,
        t.tried,
        t.by_audit,
        t.refused,
        started.elapsed()
    );
    for (k, n) in &t.kinds {
        eprintln!("  {k}: {n}");
    }
}
