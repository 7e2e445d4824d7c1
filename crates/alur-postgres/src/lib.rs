//! PostgreSQL store for `alur`: a regency or province, several app instances, one database.
//!
//! ```no_run
//! # async fn demo() -> Result<(), alur_postgres::ConnectError> {
//! use alur_postgres::{PostgresOptions, PostgresStore};
//! let store = PostgresStore::connect("postgres://alur@db/alur", PostgresOptions::default()).await?;
//! # let _ = store; Ok(()) }
//! ```
//!
//! * **Start-up.** [`PostgresStore::connect`] retries a refused connection until
//!   [`PostgresOptions::connect_timeout`], then fails with [`ConnectError::Unavailable`]; it
//!   refuses a database migrated by a newer build ([`ConnectError::SchemaTooNew`]); it runs the
//!   embedded migrations under sqlx's advisory lock, so instances starting together migrate once.
//! * **One transition, one round trip.** [`Store::commit`] sends ONE statement (a data-modifying
//!   CTE, see `sql.rs`): the case write with its version check, then audit entries, payloads,
//!   outbox rows, timers, idempotency record and inbox rows, all `FROM` the case write, with
//!   arrays (`unnest`) for the variable parts. A single statement is its own transaction: when the
//!   version check matches no row (or the fired timer is gone) the statement raises, and
//!   PostgreSQL rolls everything back. Parts a transition does not use (timers, payloads, …) are
//!   left out of its statement; each variant is prepared once per connection, and the pool does
//!   not ping on acquire, so a commit costs one Bind/Execute/Sync exchange. Through the engine a
//!   transition costs three round trips: read the case, read the chain head ([`Store::head`],
//!   one index lookup), commit.
//! * **Timers.** [`Store::claim_due_timers`] uses `FOR UPDATE SKIP LOCKED` and a lease (owner,
//!   until); a timer under a live lease is never handed to another owner.
//! * **Audit.** `audit_entries` refuses UPDATE, DELETE and TRUNCATE with a trigger.
//! * **Tenant log.** `audit_entries.pos` (an identity, so the commit statement is unchanged)
//!   records commit order; [`Store::unsequenced`] anti-joins it with `tenant_log`.
//!   [`Store::append_log`] is one statement checking the log size and that every leaf names a
//!   stored entry with its hash; a racing integrator gets `Conflict` (the size check, or the
//!   primary key on `(tenant, idx)`) and writes nothing. `tenant_log` and `checkpoints` are
//!   append-only like `audit_entries`.
//! * **Errors.** Version mismatch, an existing case, a gone timer: `Conflict`; the idempotency
//!   key's unique constraint: `DuplicateKey`; connection, pool and statement timeouts,
//!   serialization failures and deadlocks: `Unavailable`; undecodable stored data: `Corrupt`.
//! * **Overdue scan.** [`PostgresStore::overdue`] reads a partial index of open cases' deadlines.
//! * **Instants** are stored as bigint nanoseconds since the epoch, so they round-trip exactly
//!   (an entry's `at` is hashed); `alur_ts(ns)` in SQL shows one as a `timestamptz`.
//!
//! Definitions: `alur_core::ServiceDefinition` is `Serialize` but not `Deserialize`, so the
//! stored JSON cannot be turned back into one. [`Store::definition`] therefore answers from the
//! content this process registered with [`Store::put_definition`] (every engine registers its
//! configuration at start), matched by the digest stored for that version.

mod error;
mod outbox;
mod sql;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Duration;

use alur_core::audit::AuditEntry;
use alur_core::engine::{Case, Payload, Status};
use alur_core::letter::{Letter, LetterOp, LetterStatus, SignerRecord};
use alur_core::model::ServiceDefinition;
use alur_core::store::{
    Capabilities, Denial, IdempotencyRecord, LogLeaf, OutboxMessage, SearchQuery, Store,
    StoreError, StoreErrorKind, StoredCheckpoint, Timer, Transition, group_by_case,
};
use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, PgConnection, PgPool, Postgres, QueryBuilder, Row};

pub use error::ConnectError;

/// The migrations embedded in this build.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connection and pool settings.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a call waits for a pooled connection before failing with `Unavailable`.
    pub acquire_timeout: Duration,
    /// How long [`PostgresStore::connect`] keeps trying to reach the server (a refused
    /// connection is retried with backoff until then).
    pub connect_timeout: Duration,
    /// Server-side `statement_timeout` for the store's sessions (`None`: the server's setting).
    /// A statement cancelled by it fails with `Unavailable`.
    pub statement_timeout: Option<Duration>,
    /// Schema holding the tables (created if missing; `None`: the server's `search_path`,
    /// normally `public`). Letters, digits and `_` only.
    pub schema: Option<String>,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
    /// Further session settings sent at connection start (`("lock_timeout", "5s")`, …).
    pub session_settings: Vec<(String, String)>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            schema: None,
            application_name: "alur".into(),
            session_settings: Vec::new(),
        }
    }
}

/// An open case past its deadline (see [`PostgresStore::overdue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// Case id.
    pub id: String,
    /// Service id.
    pub service: String,
    /// Unit code.
    pub unit: String,
    /// The deadline that passed.
    pub due_at: Timestamp,
}

/// A [`Store`] on PostgreSQL (sqlx pool). Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Definition content by digest, as registered by this process.
    definitions: Arc<RwLock<HashMap<String, ServiceDefinition>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// Latest migration version embedded in this build.
pub fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl PostgresStore {
    /// Connect, check the schema version, run pending migrations, and open the pool.
    ///
    /// # Errors
    /// [`ConnectError::Unavailable`] when no connection could be made within
    /// `options.connect_timeout`; [`ConnectError::SchemaTooNew`] when the database was migrated
    /// by a newer build; others for bad configuration, refused credentials or failed migrations.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, ConnectError> {
        let connect_options = Self::connect_options(url, &options)?;
        let deadline = tokio::time::Instant::now() + options.connect_timeout;

        let mut conn = first_connection(&connect_options, deadline).await?;
        let migrated = migrate(&mut conn, options.schema.as_deref()).await;
        // A fresh session per start-up: closing it also drops any advisory lock left behind.
        let _ = conn.close().await;
        migrated?;

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            // A ping per acquire would double the round trips of a commit; a dead connection
            // fails its statement with `Unavailable` instead and is discarded by the pool.
            .test_before_acquire(false)
            .connect_with(connect_options);
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let pool = match tokio::time::timeout(remaining.max(Duration::from_secs(1)), pool).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => return Err(error::connect_error(&e)),
            Err(_) => {
                return Err(ConnectError::Unavailable(format!(
                    "no pooled connection within {:?}",
                    options.connect_timeout
                )));
            }
        };
        Ok(Self {
            pool,
            definitions: Arc::default(),
        })
    }

    fn connect_options(
        url: &str,
        options: &PostgresOptions,
    ) -> Result<PgConnectOptions, ConnectError> {
        let mut co: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| ConnectError::Config(e.to_string()))?;
        co = co.application_name(&options.application_name);
        let mut settings: Vec<(&str, String)> = Vec::new();
        if let Some(schema) = &options.schema {
            if !valid_identifier(schema) {
                return Err(ConnectError::Config(format!(
                    "schema name `{schema}` must be 1–63 ASCII letters, digits or `_`, not starting with a digit"
                )));
            }
            settings.push(("search_path", schema.clone()));
        }
        if let Some(t) = options.statement_timeout {
            settings.push(("statement_timeout", format!("{}ms", t.as_millis().max(1))));
        }
        for (name, value) in &options.session_settings {
            let plain = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            };
            if !plain(name) || value.contains('\0') {
                return Err(ConnectError::Config(format!(
                    "invalid session setting `{name}`"
                )));
            }
            settings.push((name.as_str(), value.clone()));
        }
        if !settings.is_empty() {
            co = co.options(settings);
        }
        Ok(co)
    }

    /// The connection pool (for host queries and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Close the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Open cases whose deadline is before `now`, oldest deadline first, at most `limit`.
    ///
    /// Served by the partial index `cases_overdue` (open cases with a deadline only), so it costs
    /// in proportion to the cases returned, not to the cases open.
    pub async fn overdue(
        &self,
        tenant: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Overdue>, StoreError> {
        let rows = sqlx::query(sql::OVERDUE)
            .bind(tenant)
            .bind(ns(now)?)
            .bind(as_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| {
                Ok(Overdue {
                    id: r.try_get(0).map_err(error::map)?,
                    service: r.try_get(1).map_err(error::map)?,
                    unit: r.try_get(2).map_err(error::map)?,
                    due_at: ts(r.try_get(3).map_err(error::map)?)?,
                })
            })
            .collect()
    }

    /// The last audit entry's sequence number and hash of a case (what the next entry chains
    /// to), without reading the chain (also [`Store::head`]).
    pub async fn chain_head(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let row = sqlx::query(sql::CHAIN_HEAD)
            .bind(tenant)
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        row.map(|r| {
            let seq: i64 = r.try_get(0).map_err(error::map)?;
            Ok((to_u64(seq)?, r.try_get(1).map_err(error::map)?))
        })
        .transpose()
    }

    fn remember(&self, def: &ServiceDefinition) {
        if let Ok(mut g) = self.definitions.write() {
            g.entry(def.digest.clone()).or_insert_with(|| def.clone());
        }
    }

    fn recall(&self, digest: &str) -> Option<ServiceDefinition> {
        self.definitions
            .read()
            .ok()
            .and_then(|g| g.get(digest).cloned())
    }
}

/// Connect once, retrying transient failures (refused, starting up) until `deadline`.
async fn first_connection(
    co: &PgConnectOptions,
    deadline: tokio::time::Instant,
) -> Result<PgConnection, ConnectError> {
    let mut backoff = Duration::from_millis(50);
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let last = match tokio::time::timeout(remaining, PgConnection::connect_with(co)).await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) if error::is_transient_connect(&e) => e.to_string(),
            Ok(Err(e)) => return Err(error::connect_error(&e)),
            Err(_) => "connection attempt timed out".to_owned(),
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return Err(ConnectError::Unavailable(format!(
                "could not connect to {}:{} before the connect timeout; last error: {last}",
                co.get_host(),
                co.get_port()
            )));
        }
        tokio::time::sleep(backoff.min(remaining)).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Create the schema if asked, refuse a newer database, run pending migrations.
async fn migrate(conn: &mut PgConnection, schema: Option<&str>) -> Result<(), ConnectError> {
    let fail = |e: sqlx::Error| match error::connect_error(&e) {
        ConnectError::Refused(m) => ConnectError::Migration(m),
        other => other,
    };
    // Migrations may legitimately run longer than the store's statement timeout.
    conn.execute("SET statement_timeout = 0")
        .await
        .map_err(fail)?;
    if let Some(schema) = schema {
        // Validated as a plain identifier in `connect_options`, so quoting is enough.
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        match conn.execute(sqlx::AssertSqlSafe(create)).await {
            Ok(_) => {}
            // Another instance created it at the same moment.
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("42P06" | "23505")) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let binary = schema_version();
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(fail)?;
    if exists {
        let applied: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
        if let Some(database) = applied
            && database > binary
        {
            return Err(ConnectError::SchemaTooNew { database, binary });
        }
    }
    // `run_direct` rather than `run`: `run` takes `impl Acquire`, whose higher-ranked bound
    // makes this future non-`Send` (sqlx's own comment on `run_direct`).
    MIGRATOR
        .run_direct(None, &mut *conn, false)
        .await
        .map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(database) => {
                ConnectError::SchemaTooNew { database, binary }
            }
            sqlx::migrate::MigrateError::Execute(e) => fail(e),
            other => ConnectError::Migration(other.to_string()),
        })
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

// ---------------------------------------------------------------------------------------------
// Conversions

fn other(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Other, message)
}

fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, message)
}

/// Nanoseconds since the epoch (covers 1677–2262).
fn ns(t: Timestamp) -> Result<i64, StoreError> {
    i64::try_from(t.as_nanosecond()).map_err(|_| {
        other(format!(
            "instant {t} is outside 1677–2262 and cannot be stored"
        ))
    })
}

fn ts(ns: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_nanosecond(i128::from(ns))
        .map_err(|e| corrupt(format!("stored instant {ns} is invalid: {e}")))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| other(format!("{v} is too large to store")))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(format!("stored number {v} is negative")))
}

fn to_i32(v: u32) -> Result<i32, StoreError> {
    i32::try_from(v).map_err(|_| other(format!("{v} is too large to store")))
}

fn to_u32(v: i32) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(format!("stored number {v} is negative")))
}

/// A position bound: values past `i64::MAX` mean "everything".
fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn as_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| other(format!("cannot encode {what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("stored {what} does not decode: {e}")))
}

fn get<'r, T>(row: &'r PgRow, i: usize) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(i).map_err(error::map)
}

/// `(is_open, step or outcome)`.
fn status_columns(s: &Status) -> (bool, String) {
    match s {
        Status::Open(step) => (true, step.clone()),
        Status::Closed(outcome) => (false, outcome.as_str().to_owned()),
    }
}

/// The bound values of one transition statement.
struct Bound {
    expected: i64,
    version: i64,
    definition_version: i32,
    is_open: bool,
    status: String,
    submitted_ns: i64,
    due_ns: Option<i64>,
    updated_ns: i64,
    body: String,
    pending_unit: Option<String>,
    pending_roles: Vec<String>,
    e_seq: Vec<i64>,
    e_service: Vec<String>,
    e_dv: Vec<i32>,
    e_cv: Vec<Option<String>>,
    e_event: Vec<String>,
    e_actor: Vec<String>,
    e_lb: Vec<Option<String>>,
    e_at: Vec<i64>,
    e_pd: Vec<Option<String>>,
    e_prev: Vec<String>,
    e_hash: Vec<String>,
    e_due: Vec<Option<String>>,
    p_seq: Vec<i64>,
    p_digest: Vec<String>,
    p_body: Vec<String>,
    o_id: Vec<String>,
    o_seq: Vec<i64>,
    o_template: Vec<String>,
    o_recipient: Vec<String>,
    o_created: Vec<i64>,
    t_id: Vec<String>,
    t_kind: Vec<String>,
    t_fire: Vec<i64>,
    idem_key: Option<String>,
    idem_digest: Option<String>,
    idem_result: Option<String>,
}

impl Bound {
    fn new(t: &Transition) -> Result<Self, StoreError> {
        let c = &t.case;
        let mismatch = |what: &str| {
            other(format!(
                "transition of case {} (tenant {}) carries {what} of another case or tenant",
                c.id, t.tenant
            ))
        };
        if c.tenant != t.tenant {
            return Err(mismatch("a case"));
        }
        if t.entries
            .iter()
            .any(|e| e.tenant != t.tenant || e.case_id != c.id)
        {
            return Err(mismatch("an audit entry"));
        }
        if t.payloads.iter().any(|p| p.case_id != c.id) {
            return Err(mismatch("a payload"));
        }
        if t.outbox
            .iter()
            .any(|m| m.tenant != t.tenant || m.case_id != c.id)
        {
            return Err(mismatch("an outbox message"));
        }
        if t.timers
            .iter()
            .any(|x| x.tenant != t.tenant || x.case_id != c.id)
        {
            return Err(mismatch("a timer"));
        }
        let (is_open, status) = status_columns(&c.status);
        let (pending_unit, pending_roles) = match &c.pending {
            Some(p) if is_open && !p.roles.is_empty() => {
                let mut roles = p.roles.clone();
                roles.sort();
                roles.dedup();
                (Some(p.unit.clone()), roles)
            }
            _ => (None, Vec::new()),
        };
        let n = t.entries.len();
        let mut b = Self {
            expected: to_i64(t.expected_version)?,
            version: to_i64(c.version)?,
            definition_version: to_i32(c.definition_version)?,
            is_open,
            status,
            submitted_ns: ns(c.submitted_at)?,
            due_ns: c.due_at.map(ns).transpose()?,
            updated_ns: ns(c.updated_at)?,
            body: to_json(c, "case")?,
            pending_unit,
            pending_roles,
            e_seq: Vec::with_capacity(n),
            e_service: Vec::with_capacity(n),
            e_dv: Vec::with_capacity(n),
            e_cv: Vec::with_capacity(n),
            e_event: Vec::with_capacity(n),
            e_actor: Vec::with_capacity(n),
            e_lb: Vec::with_capacity(n),
            e_at: Vec::with_capacity(n),
            e_pd: Vec::with_capacity(n),
            e_prev: Vec::with_capacity(n),
            e_hash: Vec::with_capacity(n),
            e_due: Vec::with_capacity(n),
            p_seq: Vec::new(),
            p_digest: Vec::new(),
            p_body: Vec::new(),
            o_id: Vec::new(),
            o_seq: Vec::new(),
            o_template: Vec::new(),
            o_recipient: Vec::new(),
            o_created: Vec::new(),
            t_id: Vec::new(),
            t_kind: Vec::new(),
            t_fire: Vec::new(),
            idem_key: None,
            idem_digest: None,
            idem_result: None,
        };
        for e in &t.entries {
            b.e_seq.push(to_i64(e.seq)?);
            b.e_service.push(e.service.clone());
            b.e_dv.push(to_i32(e.definition_version)?);
            b.e_cv.push(e.calendar_version.clone());
            b.e_event.push(to_json(&e.event, "audit event")?);
            b.e_actor.push(to_json(&e.actor, "audit actor")?);
            b.e_lb.push(e.legal_basis.clone());
            b.e_at.push(ns(e.at)?);
            b.e_pd.push(e.payload_digest.clone());
            b.e_prev.push(e.prev_hash.clone());
            b.e_hash.push(e.hash.clone());
            b.e_due.push(
                e.due
                    .as_ref()
                    .map(|d| to_json(d, "audit due"))
                    .transpose()?,
            );
        }
        for p in &t.payloads {
            b.p_seq.push(to_i64(p.seq)?);
            b.p_digest.push(p.digest.clone());
            b.p_body.push(to_json(&p.payload, "payload")?);
        }
        for m in &t.outbox {
            b.o_id.push(m.id.clone());
            b.o_seq.push(to_i64(m.seq)?);
            b.o_template.push(m.template.clone());
            b.o_recipient.push(m.recipient.clone());
            b.o_created.push(ns(m.created_at)?);
        }
        // One row per timer id (the last one given wins), as ON CONFLICT needs.
        let mut timers: Vec<&Timer> = Vec::with_capacity(t.timers.len());
        for x in t.timers.iter().rev() {
            if !timers.iter().any(|y| y.id == x.id) {
                timers.push(x);
            }
        }
        for x in timers.into_iter().rev() {
            b.t_id.push(x.id.clone());
            b.t_kind.push(x.kind.clone());
            b.t_fire.push(ns(x.fire_at)?);
        }
        if let Some(i) = &t.idempotency {
            b.idem_key = Some(i.key.clone());
            b.idem_digest = Some(i.command_digest.clone());
            b.idem_result = Some(to_json(&i.result, "idempotency result")?);
        }
        Ok(b)
    }
}

/// The transition statement for `parts`, assembled once per variant (at most 256).
fn statement(parts: sql::Parts) -> Arc<str> {
    static CACHE: LazyLock<Mutex<HashMap<sql::Parts, Arc<str>>>> = LazyLock::new(Mutex::default);
    if let Ok(mut g) = CACHE.lock() {
        return g
            .entry(parts)
            .or_insert_with(|| Arc::from(sql::transition(parts)))
            .clone();
    }
    Arc::from(sql::transition(parts))
}

/// Parameter 44: the letter operation, instants in nanoseconds.
fn letter_json(op: &LetterOp) -> Result<String, StoreError> {
    let v = match op {
        LetterOp::Number(n) => serde_json::json!({
            "token": n.token,
            "unit": n.unit,
            "service": n.service,
            "series": n.series,
            "year": n.year,
            "pattern_text": n.pattern.text,
            "width": n.pattern.width,
            "at_ns": ns(n.at)?,
        }),
        LetterOp::Issue(i) => serde_json::json!({
            "token": i.token,
            "at_ns": ns(i.at)?,
            "document_sha256": i.document_sha256,
            "media_type": i.media_type,
            "signer": i.signer,
            "valid_until": i.valid_until.map(|d| d.to_string()),
        }),
        LetterOp::Revoke { token, at } => serde_json::json!({
            "token": token,
            "at_ns": ns(*at)?,
        }),
    };
    serde_json::to_string(&v).map_err(|e| other(format!("letter does not serialize: {e}")))
}

const LETTER_COLUMNS: &str = "tenant, token, case_id, unit, service, series, year, seq, number, \
status, numbered_ns, issued_ns, valid_until::text, document_sha256, media_type, signer::text, \
revoked_ns, scans";

fn letter_from_row(r: &PgRow) -> Result<Letter, StoreError> {
    let status: String = get(r, 9)?;
    let signer: Option<String> = get(r, 15)?;
    let valid_until: Option<String> = get(r, 12)?;
    let year: i32 = get(r, 6)?;
    Ok(Letter {
        tenant: get(r, 0)?,
        token: get(r, 1)?,
        case_id: get(r, 2)?,
        unit: get(r, 3)?,
        service: get(r, 4)?,
        series: get(r, 5)?,
        year: i16::try_from(year).map_err(|_| corrupt(format!("letter year {year}")))?,
        seq: to_u64(get(r, 7)?)?,
        number: get(r, 8)?,
        status: LetterStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("letter status `{status}`")))?,
        numbered_at: ts(get(r, 10)?)?,
        issued_at: get::<Option<i64>>(r, 11)?.map(ts).transpose()?,
        valid_until: valid_until
            .map(|d| d.parse::<jiff::civil::Date>())
            .transpose()
            .map_err(|e| corrupt(format!("letter validity: {e}")))?,
        document_sha256: get(r, 13)?,
        media_type: get(r, 14)?,
        signer: signer
            .map(|s| serde_json::from_str::<SignerRecord>(&s))
            .transpose()
            .map_err(|e| corrupt(format!("letter signer: {e}")))?,
        revoked_at: get::<Option<i64>>(r, 16)?.map(ts).transpose()?,
        scans: to_u64(get(r, 17)?)?,
    })
}

impl PostgresStore {
    async fn letter_where(
        &self,
        condition: &str,
        tenant: &str,
        value: &str,
    ) -> Result<Option<Letter>, StoreError> {
        let sql = format!("SELECT {LETTER_COLUMNS} FROM letters WHERE tenant = $1 AND {condition}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        row.as_ref().map(letter_from_row).transpose()
    }
}

/// An audit entry from the columns of [`sql::ENTRIES`].
fn entry_from_row(tenant: &str, case_id: &str, r: &PgRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        tenant: tenant.to_owned(),
        case_id: case_id.to_owned(),
        seq: to_u64(get(r, 0)?)?,
        service: get(r, 1)?,
        definition_version: to_u32(get(r, 2)?)?,
        calendar_version: get(r, 3)?,
        event: from_json(get(r, 4)?, "audit event")?,
        actor: from_json(get(r, 5)?, "audit actor")?,
        legal_basis: get(r, 6)?,
        at: ts(get(r, 7)?)?,
        due: get::<Option<&str>>(r, 11)?
            .map(|d| from_json(d, "audit due"))
            .transpose()?,
        payload_digest: get(r, 8)?,
        prev_hash: get(r, 9)?,
        hash: get(r, 10)?,
    })
}

fn leaf_from_row(r: &PgRow) -> Result<LogLeaf, StoreError> {
    Ok(LogLeaf {
        index: to_u64(get(r, 0)?)?,
        case_id: get(r, 1)?,
        seq: to_u64(get(r, 2)?)?,
        hash: get(r, 3)?,
    })
}

fn timer_from_row(tenant: &str, r: &PgRow) -> Result<Timer, StoreError> {
    Ok(Timer {
        tenant: tenant.to_owned(),
        case_id: get(r, 0)?,
        id: get(r, 1)?,
        kind: get(r, 2)?,
        fire_at: ts(get(r, 3)?)?,
    })
}

#[async_trait]
impl Store for PostgresStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            durable: true,
            shared: true,
            tenant_log: true,
            letters: true,
        }
    }

    async fn letter(&self, tenant: &str, token: &str) -> Result<Option<Letter>, StoreError> {
        self.letter_where("token = $2", tenant, token).await
    }

    async fn letter_for_case(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<Letter>, StoreError> {
        self.letter_where("case_id = $2", tenant, case_id).await
    }

    async fn letter_by_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<Letter>, StoreError> {
        self.letter_where("document_sha256 = $2", tenant, sha256)
            .await
    }

    async fn letters(
        &self,
        tenant: &str,
        unit: &str,
        year: i16,
    ) -> Result<Vec<Letter>, StoreError> {
        let sql = format!(
            "SELECT {LETTER_COLUMNS} FROM letters WHERE tenant = $1 AND unit = $2 AND year = $3 ORDER BY series, seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(unit)
            .bind(i32::from(year))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter().map(letter_from_row).collect()
    }

    async fn put_letter_document(
        &self,
        tenant: &str,
        sha256: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO letter_documents (tenant, sha256, media_type, bytes) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, sha256) DO NOTHING",
        )
        .bind(tenant)
        .bind(sha256)
        .bind(media_type)
        .bind(bytes)
        .execute(&self.pool)
        .await
        .map_err(error::map)?;
        Ok(())
    }

    async fn letter_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT media_type, bytes FROM letter_documents WHERE tenant = $1 AND sha256 = $2",
        )
        .bind(tenant)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(error::map)?;
        row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?))).transpose()
    }

    async fn record_letter_scan(&self, tenant: &str, token: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "UPDATE letters SET scans = scans + 1 WHERE tenant = $1 AND token = $2 RETURNING scans",
        )
        .bind(tenant)
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .map_err(error::map)?;
        match row {
            Some(r) => to_u64(get(&r, 0)?),
            None => Ok(0),
        }
    }

    async fn put_definition(
        &self,
        tenant: &str,
        def: &ServiceDefinition,
    ) -> Result<u32, StoreError> {
        let body = to_json(def, "definition")?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = sqlx::query_scalar::<_, i32>(sql::PUT_DEFINITION)
                .bind(tenant)
                .bind(&def.id)
                .bind(&def.digest)
                .bind(&body)
                .fetch_one(&self.pool)
                .await
                .map_err(error::map);
            match r {
                Ok(version) => {
                    self.remember(def);
                    return to_u32(version);
                }
                // Another instance registered a version of this service at the same moment.
                Err(e) if e.kind == StoreErrorKind::Conflict && attempt < 5 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn definition(
        &self,
        tenant: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<ServiceDefinition>, StoreError> {
        let digest: Option<String> = sqlx::query_scalar(sql::DEFINITION_DIGEST)
            .bind(tenant)
            .bind(id)
            .bind(to_i32(version)?)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        let Some(digest) = digest else {
            return Ok(None);
        };
        match self.recall(&digest) {
            Some(mut def) => {
                def.version = version;
                Ok(Some(def))
            }
            None => Err(other(format!(
                "definition {id} v{version} is stored (digest {digest}) but its content was not \
                 registered by this process, and alur-core cannot yet decode a stored definition"
            ))),
        }
    }

    async fn commit(&self, t: Transition) -> Result<(), StoreError> {
        let b = Bound::new(&t)?;
        let parts = sql::Parts {
            create: t.expected_version == 0,
            fired: t.fired_timer.is_some(),
            replace: t.replace_timers,
            timers: !b.t_id.is_empty(),
            entries: !b.e_seq.is_empty(),
            payloads: !b.p_seq.is_empty(),
            outbox: !b.o_id.is_empty(),
            idempotency: b.idem_key.is_some(),
            letter: match &t.letter {
                None => 0,
                Some(LetterOp::Number(_)) => 1,
                Some(LetterOp::Issue(_)) => 2,
                Some(LetterOp::Revoke { .. }) => 3,
            },
        };
        let letter = t.letter.as_ref().map(letter_json).transpose()?;
        let sql = statement(parts);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&t.tenant) // 1
            .bind(&t.case.id)
            .bind(b.expected)
            .bind(b.version)
            .bind(&t.case.service) // 5
            .bind(b.definition_version)
            .bind(&t.case.unit)
            .bind(b.is_open)
            .bind(b.status)
            .bind(b.submitted_ns) // 10
            .bind(b.due_ns)
            .bind(b.updated_ns)
            .bind(b.body)
            .bind(b.pending_unit)
            .bind(b.pending_roles) // 15
            .bind(b.e_seq)
            .bind(b.e_service)
            .bind(b.e_dv)
            .bind(b.e_cv)
            .bind(b.e_event) // 20
            .bind(b.e_actor)
            .bind(b.e_lb)
            .bind(b.e_at)
            .bind(b.e_pd)
            .bind(b.e_prev) // 25
            .bind(b.e_hash)
            .bind(b.p_seq)
            .bind(b.p_digest)
            .bind(b.p_body)
            .bind(b.o_id) // 30
            .bind(b.o_seq)
            .bind(b.o_template)
            .bind(b.o_recipient)
            .bind(b.o_created)
            .bind(b.t_id) // 35
            .bind(b.t_kind)
            .bind(b.t_fire)
            .bind(t.replace_timers)
            .bind(&t.fired_timer)
            .bind(b.idem_key) // 40
            .bind(b.idem_digest)
            .bind(b.idem_result)
            .bind(b.e_due)
            .bind(letter)
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    async fn case(&self, tenant: &str, case_id: &str) -> Result<Option<Case>, StoreError> {
        let body: Option<String> = sqlx::query_scalar(sql::CASE)
            .bind(tenant)
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        body.map(|b| from_json(&b, "case")).transpose()
    }

    async fn case_with_head(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<(Case, Option<(u64, String)>)>, StoreError> {
        let row: Option<(String, Option<i64>, Option<String>)> =
            sqlx::query_as(sql::CASE_WITH_HEAD)
                .bind(tenant)
                .bind(case_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(error::map)?;
        let Some((body, seq, hash)) = row else {
            return Ok(None);
        };
        let head = match (seq, hash) {
            (Some(seq), Some(hash)) => Some((to_u64(seq)?, hash)),
            _ => None,
        };
        Ok(Some((from_json(&body, "case")?, head)))
    }

    async fn entries(&self, tenant: &str, case_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(sql::ENTRIES)
            .bind(tenant)
            .bind(case_id)
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| entry_from_row(tenant, case_id, r))
            .collect()
    }

    async fn head(&self, tenant: &str, case_id: &str) -> Result<Option<(u64, String)>, StoreError> {
        self.chain_head(tenant, case_id).await
    }

    async fn payload(
        &self,
        tenant: &str,
        case_id: &str,
        seq: u64,
    ) -> Result<Option<Payload>, StoreError> {
        let body: Option<String> = sqlx::query_scalar(sql::PAYLOAD)
            .bind(tenant)
            .bind(case_id)
            .bind(to_i64(seq)?)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        body.map(|b| from_json(&b, "payload")).transpose()
    }

    async fn erasable(
        &self,
        tenant: &str,
        changed_before: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u64>)>, StoreError> {
        let limit = i64::try_from(if limit == 0 { 100 } else { limit }).unwrap_or(i64::MAX);
        let rows: Vec<(String, i64)> = sqlx::query_as(sql::ERASABLE)
            .bind(tenant)
            .bind(after.unwrap_or(""))
            .bind(ns(changed_before)?)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        let rows = rows
            .into_iter()
            .map(|(case_id, seq)| {
                u64::try_from(seq)
                    .map(|s| (case_id, s))
                    .map_err(|e| corrupt(format!("payload sequence number {seq}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(group_by_case(rows))
    }

    async fn idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(sql::IDEMPOTENCY)
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                key: key.to_owned(),
                command_digest: get(&r, 0)?,
                result: from_json(get(&r, 1)?, "idempotency result")?,
            })
        })
        .transpose()
    }

    async fn inbox(
        &self,
        tenant: &str,
        posts: &[(String, String)],
        limit: usize,
    ) -> Result<Vec<Case>, StoreError> {
        if posts.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (roles, units): (Vec<String>, Vec<String>) = posts.iter().cloned().unzip();
        let bodies: Vec<String> = sqlx::query_scalar(sql::INBOX)
            .bind(tenant)
            .bind(roles)
            .bind(units)
            .bind(as_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        bodies.iter().map(|b| from_json(b, "case")).collect()
    }

    async fn search(&self, tenant: &str, q: &SearchQuery) -> Result<Vec<Case>, StoreError> {
        let limit = if q.limit == 0 { 100 } else { q.limit };
        let mut qb = QueryBuilder::<Postgres>::new("SELECT body::text FROM cases WHERE tenant = ");
        qb.push_bind(tenant.to_owned());
        if let Some(service) = &q.service {
            qb.push(" AND service = ").push_bind(service.clone());
        }
        if let Some(prefix) = &q.unit_prefix {
            // The unit itself, or below it: `prefix.` ≤ unit < `prefix/` ('/' follows '.').
            qb.push(" AND (unit = ")
                .push_bind(prefix.clone())
                .push(" OR (unit >= ")
                .push_bind(format!("{prefix}."))
                .push(" AND unit < ")
                .push_bind(format!("{prefix}/"))
                .push("))");
        }
        if let Some(status) = &q.status {
            let (open, s) = status_columns(status);
            qb.push(" AND is_open = ")
                .push_bind(open)
                .push(" AND status = ")
                .push_bind(s);
        }
        if q.open_only {
            qb.push(" AND is_open");
        }
        if let Some(from) = q.submitted_from {
            qb.push(" AND submitted_ns >= ").push_bind(ns(from)?);
        }
        if let Some(to) = q.submitted_to {
            qb.push(" AND submitted_ns < ").push_bind(ns(to)?);
        }
        qb.push(" ORDER BY submitted_ns DESC, id DESC LIMIT ")
            .push_bind(as_limit(limit));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(error::map)?;
        rows.iter()
            .map(|r| from_json(get::<&str>(r, 0)?, "case"))
            .collect()
    }

    async fn record_denial(&self, d: Denial) -> Result<(), StoreError> {
        sqlx::query(sql::RECORD_DENIAL)
            .bind(&d.tenant)
            .bind(&d.case_id)
            .bind(&d.actor)
            .bind(&d.command)
            .bind(&d.reason)
            .bind(ns(d.at)?)
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    async fn denials(&self, tenant: &str) -> Result<Vec<Denial>, StoreError> {
        let rows = sqlx::query(sql::DENIALS)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| {
                Ok(Denial {
                    tenant: tenant.to_owned(),
                    case_id: get(r, 0)?,
                    actor: get(r, 1)?,
                    command: get(r, 2)?,
                    reason: get(r, 3)?,
                    at: ts(get(r, 4)?)?,
                })
            })
            .collect()
    }

    async fn pending_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(sql::PENDING_OUTBOX)
            .bind(tenant)
            .bind(as_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: get(r, 0)?,
                    tenant: tenant.to_owned(),
                    case_id: get(r, 1)?,
                    seq: to_u64(get(r, 2)?)?,
                    template: get(r, 3)?,
                    recipient: get(r, 4)?,
                    created_at: ts(get(r, 5)?)?,
                })
            })
            .collect()
    }

    async fn timers(&self, tenant: &str, case_id: &str) -> Result<Vec<Timer>, StoreError> {
        let rows = sqlx::query(sql::TIMERS)
            .bind(tenant)
            .bind(case_id)
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter().map(|r| timer_from_row(tenant, r)).collect()
    }

    async fn claim_due_timers(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Timer>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sql::CLAIM_TIMERS)
            .bind(tenant)
            .bind(ns(now)?)
            .bind(owner)
            .bind(ns(lease_until)?)
            .bind(as_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        let mut timers = rows
            .iter()
            .map(|r| timer_from_row(tenant, r))
            .collect::<Result<Vec<_>, _>>()?;
        timers.sort_by(|a, b| (a.fire_at, &a.id).cmp(&(b.fire_at, &b.id)));
        Ok(timers)
    }

    async fn unsequenced(&self, tenant: &str, limit: usize) -> Result<Vec<LogLeaf>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sql::UNSEQUENCED)
            .bind(tenant)
            .bind(as_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| {
                Ok(LogLeaf {
                    index: 0,
                    case_id: get(r, 0)?,
                    seq: to_u64(get(r, 1)?)?,
                    hash: get(r, 2)?,
                })
            })
            .collect()
    }

    async fn append_log(
        &self,
        tenant: &str,
        expected_size: u64,
        leaves: &[LogLeaf],
    ) -> Result<(), StoreError> {
        let expected = to_i64(expected_size)?;
        if leaves.is_empty() {
            let size = self.log_size(tenant).await?;
            if size != expected_size {
                return Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    format!("log size is {size}, expected {expected_size}"),
                ));
            }
            return Ok(());
        }
        let case_ids: Vec<&str> = leaves.iter().map(|l| l.case_id.as_str()).collect();
        let seqs = leaves
            .iter()
            .map(|l| to_i64(l.seq))
            .collect::<Result<Vec<_>, _>>()?;
        let hashes: Vec<&str> = leaves.iter().map(|l| l.hash.as_str()).collect();
        sqlx::query(sql::APPEND_LOG)
            .bind(tenant)
            .bind(expected)
            .bind(case_ids)
            .bind(seqs)
            .bind(hashes)
            .bind(as_limit(leaves.len()))
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    async fn log_leaves(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sql::LOG_LEAVES)
            .bind(tenant)
            .bind(clamp_i64(start))
            .bind(clamp_i64(end))
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter().map(leaf_from_row).collect()
    }

    async fn log_size(&self, tenant: &str) -> Result<u64, StoreError> {
        let size: i64 = sqlx::query_scalar(sql::LOG_SIZE)
            .bind(tenant)
            .fetch_one(&self.pool)
            .await
            .map_err(error::map)?;
        to_u64(size)
    }

    async fn append_chain(&self, tenant: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
        alur_core::config_log::check_run(tenant, entries)
            .map_err(|m| StoreError::new(StoreErrorKind::Other, m))?;
        let first = &entries[0];
        let rows = entries
            .iter()
            .map(|e| {
                Ok(serde_json::json!({
                    "seq": to_i64(e.seq)?,
                    "service": e.service,
                    "dv": e.definition_version,
                    "cv": e.calendar_version,
                    "ev": e.event,
                    "ac": e.actor,
                    "lb": e.legal_basis,
                    "at": ns(e.at)?,
                    "due": e.due,
                    "pd": e.payload_digest,
                    "ph": e.prev_hash,
                    "h": e.hash,
                }))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let inserted: i64 = sqlx::query_scalar(sql::APPEND_CHAIN)
            .bind(tenant)
            .bind(&first.case_id)
            .bind(serde_json::Value::Array(rows).to_string())
            .bind(to_i64(first.seq.saturating_sub(1))?)
            .bind(&first.prev_hash)
            .fetch_one(&self.pool)
            .await
            .map_err(error::map)?;
        if inserted == 0 {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("the chain `{}` has moved on", first.case_id),
            ));
        }
        Ok(())
    }

    async fn put_checkpoint(
        &self,
        tenant: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::PUT_CHECKPOINT)
            .bind(tenant)
            .bind(to_i64(checkpoint.size)?)
            .bind(&checkpoint.note)
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    async fn checkpoints(&self, tenant: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(sql::CHECKPOINTS)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(error::map)?;
        rows.iter()
            .map(|r| {
                Ok(StoredCheckpoint {
                    size: to_u64(get(r, 0)?)?,
                    note: get(r, 1)?,
                })
            })
            .collect()
    }

    async fn all_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = match after {
            None => sqlx::query(sql::ALL_ENTRIES_FIRST)
                .bind(tenant)
                .bind(as_limit(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(error::map)?,
            Some((case_id, seq)) => sqlx::query(sql::ALL_ENTRIES_AFTER)
                .bind(tenant)
                .bind(case_id)
                .bind(clamp_i64(seq))
                .bind(as_limit(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(error::map)?,
        };
        rows.iter()
            .map(|r| entry_from_row(tenant, get::<&str>(r, 12)?, r))
            .collect()
    }

    async fn claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<alur_core::store::ClaimedMessage>, StoreError> {
        self.outbox_claim(tenant, now, owner, lease_until, limit)
            .await
    }

    async fn settle_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, alur_core::store::OutboxOutcome)],
    ) -> Result<(), StoreError> {
        self.outbox_settle(tenant, now, outcomes).await
    }

    async fn dead_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<alur_core::store::DeadMessage>, StoreError> {
        self.outbox_dead(tenant, limit).await
    }

    async fn settle_and_claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, alur_core::store::OutboxOutcome)],
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<alur_core::store::ClaimedMessage>, StoreError> {
        self.outbox_settle_and_claim(tenant, now, outcomes, owner, lease_until, limit)
            .await
    }

    async fn retry_dead_outbox(
        &self,
        tenant: &str,
        ids: &[String],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.outbox_retry_dead(tenant, ids, now).await
    }
}
