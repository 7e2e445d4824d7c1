//! `alur-sqlite`: the SQLite [`Store`] for the embedded, single-office deployment.
//!
//! ```no_run
//! # async fn demo() -> Result<(), alur_sqlite::OpenError> {
//! use alur_sqlite::{Durability, SqliteOptions, SqliteStore};
//! let store = SqliteStore::open("alur.db", SqliteOptions::default()).await?;
//! assert_eq!(store.durability(), Durability::Full);
//! # Ok(()) }
//! ```
//!
//! Design, in short:
//! - **One writer connection, one writer task, group commit.** Every write goes through a
//!   channel to it; transitions that queue up while it works share one `BEGIN IMMEDIATE`
//!   transaction (never a deferred one) and one `COMMIT` (one fsync with [`Durability::Full`]),
//!   each keeping its own outcome. Reads use a small pool of read-only connections (WAL readers
//!   never block the writer nor each other); the reads by key the engine makes before every
//!   command (a case, its chain head) run on the caller's thread through plain connections
//!   instead (the `point` module), falling back to the pool when they fail. WAL checkpoints run
//!   on a thread of their own (the `checkpoint` module).
//! - **One round trip per transition, one statement.** A transition is one row inserted into the
//!   `alur_transition` view; its `INSTEAD OF` trigger (migration 1) writes the case guarded by
//!   the expected version, the idempotency record, the timers, the audit entries, the payloads
//!   and the outbox rows, and aborts the statement (SQLite backs out all it did) on a failed
//!   check. A lone transition is one sqlx call (`BEGIN IMMEDIATE; INSERT …; COMMIT`); a group
//!   commit of up to 16 is one call too (a multi-row insert). See the `writer` module.
//! - **Checks in the database.** The version check, the fired-timer check and the continuity of
//!   each audit chain are asserted by SQL inside the transaction; the audit table refuses
//!   `UPDATE` and `DELETE` by trigger.
//! - **Pragmas asserted at start-up**: `journal_mode=WAL`, `synchronous` per profile,
//!   `foreign_keys=ON`, `busy_timeout`; embedded migrations run at start-up, and a database
//!   migrated by a newer `alur` is refused with [`OpenError::NewerDatabase`].

mod checkpoint;
mod codec;
mod error;
mod letters;
mod outbox;
mod point;
mod pool;
mod verify;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alur_core::audit::AuditEntry;
use alur_core::engine::{ActorRecord, Case, EventKind, Payload};
use alur_core::model::ServiceDefinition;
use alur_core::store::*;
use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Row};
use tokio::sync::{mpsc, oneshot};

pub use error::OpenError;

use codec::{Param, parse_ts, ts};
use error::{corrupt, invalid, map};
use writer::{Job, Writer};

/// The embedded migrations (`crates/alur-sqlite/migrations`). Never edit a released one.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How hard a commit is made durable before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: a commit survives a crash of the process; after a power loss or an
    /// operating-system crash the last commits may be lost (the database stays consistent).
    Normal,
    /// `synchronous=FULL`: a commit is on disk (fsync) before it is acknowledged. Concurrent
    /// transitions share one transaction and one fsync (group commit).
    #[default]
    Full,
}

/// Options of [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability profile.
    pub durability: Durability,
    /// How long a connection waits for a lock held by another process before `Unavailable`.
    pub busy_timeout: Duration,
    /// Read-only connections in the read pool.
    pub readers: u32,
    /// Most transitions committed together in one group commit.
    pub max_batch: usize,
    /// Page cache of each connection, in MiB (`PRAGMA cache_size`; SQLite's default is 2). Pages
    /// that miss it are read from the OS with a system call each.
    pub cache_mib: u32,
    /// Cap on the database size, in pages (`PRAGMA max_page_count`); `None` for SQLite's default.
    /// A write that would grow the file beyond it fails with `Unavailable` (disk full).
    pub max_page_count: Option<u32>,
    /// Checkpoints (copying committed pages from the WAL into the database file) run on a
    /// thread of their own, at most once per this interval while commits come in, instead of
    /// inside the writer's commits; `None`: SQLite's own checkpoint in the writer every 1,000
    /// pages. See the `checkpoint` module.
    pub checkpoint_interval: Option<Duration>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            readers: 4,
            max_batch: 64,
            cache_mib: 16,
            max_page_count: None,
            checkpoint_interval: Some(Duration::from_millis(100)),
        }
    }
}

impl SqliteOptions {
    /// Default options with this durability.
    pub fn with_durability(durability: Durability) -> Self {
        Self {
            durability,
            ..Self::default()
        }
    }
}

/// An open case past its deadline (see [`SqliteStore::overdue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// Case id.
    pub case_id: String,
    /// Its deadline.
    pub due_at: Timestamp,
}

/// What the writer has done since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions run for transitions (each one `COMMIT`, so one fsync with [`Durability::Full`]).
    pub batches: u64,
    /// Transitions received.
    pub transitions: u64,
    /// Transitions committed (the others failed with an error).
    pub committed: u64,
    /// Checkpoints run by the checkpoint thread.
    pub checkpoints: u64,
    /// Of which failed (the pages stay in the WAL; a later checkpoint copies them).
    pub checkpoint_failures: u64,
}

/// The SQLite [`Store`]. Cheap to share behind an `Arc`; dropping it stops the writer.
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    writer_task: tokio::task::JoinHandle<()>,
    readers: SqlitePool,
    path: PathBuf,
    durability: Durability,
    stats: Arc<writer::Stats>,
    checkpointer: Option<checkpoint::Checkpointer>,
    checkpoints: Arc<checkpoint::Counters>,
    points: point::PointReader,
    audits: Arc<verify::Readers>,
    /// The same for an audit's spans, which read tables in their own order.
    spans: Arc<verify::Readers>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

fn connect_options(url_or_path: &str) -> Result<SqliteConnectOptions, OpenError> {
    if url_or_path.contains(":memory:") || url_or_path.contains("mode=memory") {
        return Err(OpenError::Options(
            "an in-memory database cannot use WAL; give a file path".into(),
        ));
    }
    if url_or_path.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url_or_path).map_err(|e| OpenError::Options(e.to_string()))
    } else if url_or_path.is_empty() {
        Err(OpenError::Options("empty database path".into()))
    } else {
        Ok(SqliteConnectOptions::new().filename(url_or_path))
    }
}

async fn pragma_text(conn: &mut SqliteConnection, sql: &'static str) -> Result<String, OpenError> {
    let row = sqlx::query(sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| map(&e))?;
    // Numeric pragmas come back as integers, journal_mode as text.
    if let Ok(v) = row.try_get::<i64, _>(0) {
        return Ok(v.to_string());
    }
    row.try_get::<String, _>(0)
        .map_err(|e| OpenError::Store(map(&e)))
}

async fn assert_pragma(
    conn: &mut SqliteConnection,
    pragma: &'static str,
    sql: &'static str,
    expected: String,
) -> Result<(), OpenError> {
    let actual = pragma_text(conn, sql).await?;
    if actual.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(OpenError::Pragma {
            pragma,
            expected,
            actual,
        })
    }
}

fn highest_known_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

async fn migrate(conn: &mut SqliteConnection) -> Result<(), OpenError> {
    let known = highest_known_migration();
    let has_table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| map(&e))?;
    if has_table.is_some() {
        let found: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| map(&e))?;
        if let Some(found) = found.filter(|&f| f > known) {
            return Err(OpenError::NewerDatabase { found, known });
        }
    }
    MIGRATOR.run(&mut *conn).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(found) => {
            OpenError::NewerDatabase { found, known }
        }
        other => OpenError::Migrate(other.to_string()),
    })
}

impl SqliteStore {
    /// Open (creating if missing) the database at a path or `sqlite:` URL, run the embedded
    /// migrations, and assert the pragmas.
    ///
    /// # Errors
    /// [`OpenError::NewerDatabase`] when a newer `alur` migrated the database;
    /// [`OpenError::Pragma`] when a pragma does not read back as required; others as named.
    pub async fn open(url_or_path: &str, options: SqliteOptions) -> Result<Self, OpenError> {
        let cache_kib = i64::from(options.cache_mib.max(1)) * 1024;
        let base = connect_options(url_or_path)?
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true)
            .pragma("cache_size", format!("-{cache_kib}"));
        let path = base.get_filename().to_path_buf();
        let synchronous = match options.durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        };
        let mut writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .statement_cache_capacity(64)
            .pragma("temp_store", "memory");
        if let Some(pages) = options.max_page_count {
            writer_options = writer_options.pragma("max_page_count", pages.to_string());
        }
        if options.checkpoint_interval.is_some() {
            // The checkpoint thread does the copying; the writer's own checkpoint stays as the
            // backstop that lets the WAL file start over.
            writer_options = writer_options.pragma(
                "wal_autocheckpoint",
                (1000 * checkpoint::BACKSTOP_FACTOR).to_string(),
            );
        }
        let mut conn = writer_options.connect().await.map_err(|e| map(&e))?;

        let busy_ms = options.busy_timeout.as_millis().to_string();
        assert_pragma(
            &mut conn,
            "journal_mode",
            "PRAGMA journal_mode",
            "wal".into(),
        )
        .await?;
        let sync_value = match options.durability {
            Durability::Normal => "1",
            Durability::Full => "2",
        };
        assert_pragma(
            &mut conn,
            "synchronous",
            "PRAGMA synchronous",
            sync_value.into(),
        )
        .await?;
        assert_pragma(&mut conn, "foreign_keys", "PRAGMA foreign_keys", "1".into()).await?;
        assert_pragma(
            &mut conn,
            "busy_timeout",
            "PRAGMA busy_timeout",
            busy_ms.clone(),
        )
        .await?;
        migrate(&mut conn).await?;

        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .min_connections(0)
            .acquire_timeout(options.busy_timeout + Duration::from_secs(1))
            .connect_with(base.read_only(true).statement_cache_capacity(64))
            .await
            .map_err(|e| map(&e))?;
        {
            let mut r = readers.acquire().await.map_err(|e| map(&e))?;
            assert_pragma(
                &mut r,
                "journal_mode (reader)",
                "PRAGMA journal_mode",
                "wal".into(),
            )
            .await?;
            assert_pragma(
                &mut r,
                "busy_timeout (reader)",
                "PRAGMA busy_timeout",
                busy_ms,
            )
            .await?;
        }

        let checkpoints = Arc::new(checkpoint::Counters::default());
        let (checkpointer, poke) = match options.checkpoint_interval {
            Some(interval) => {
                let (c, p) = checkpoint::Checkpointer::start(
                    &path,
                    options.durability,
                    options.busy_timeout,
                    interval,
                    checkpoints.clone(),
                )?;
                (Some(c), Some(p))
            }
            None => (None, None),
        };
        let (tx, rx) = mpsc::channel(4096);
        let stats = Arc::new(writer::Stats::default());
        let writer = Writer::new(conn, writer_options, options.max_batch, stats.clone(), poke);
        let writer_task = tokio::spawn(writer.run(rx));
        Ok(Self {
            writer: tx,
            writer_task,
            readers,
            points: point::PointReader::new(&path),
            audits: Arc::new(verify::Readers::new(&path)),
            spans: Arc::new(verify::Readers::sequential(&path)),
            path,
            durability: options.durability,
            stats,
            checkpointer,
            checkpoints,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability profile.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Group-commit counters: `transitions / batches` is the mean batch size.
    pub fn writer_stats(&self) -> WriterStats {
        use std::sync::atomic::Ordering::Relaxed;
        WriterStats {
            batches: self.stats.batches.load(Relaxed),
            transitions: self.stats.transitions.load(Relaxed),
            committed: self.stats.committed.load(Relaxed),
            checkpoints: self.checkpoints.runs.load(Relaxed),
            checkpoint_failures: self.checkpoints.failures.load(Relaxed),
        }
    }

    /// The SQLite library version in use.
    pub async fn sqlite_version(&self) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&self.readers)
            .await
            .map_err(|e| map(&e))
    }

    /// The writer connection's settings as SQLite reports them: `journal_mode`, `synchronous`
    /// (1 = NORMAL, 2 = FULL), `foreign_keys`, `busy_timeout` (ms), `page_size`, `max_page_count`.
    pub async fn pragmas(&self) -> Result<Vec<(&'static str, String)>, StoreError> {
        let rows = self.script(PRAGMAS, Vec::new()).await?;
        let names = [
            "journal_mode",
            "synchronous",
            "foreign_keys",
            "busy_timeout",
            "page_size",
            "max_page_count",
        ];
        names
            .into_iter()
            .zip(rows.iter())
            .map(|(name, row)| {
                let value = match row.try_get::<i64, _>(0) {
                    Ok(v) => v.to_string(),
                    Err(_) => get::<String>(row, 0)?,
                };
                Ok((name, value))
            })
            .collect()
    }

    /// `PRAGMA integrity_check`: `"ok"` when the file is sound, else SQLite's findings.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        Ok(rows.join("\n"))
    }

    /// Open cases whose deadline is before `now`, most overdue first (an index range scan over
    /// open cases with a deadline only).
    pub async fn overdue(
        &self,
        tenant: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Overdue>, StoreError> {
        // A short list is read on the caller's thread (an index range scan over cached pages,
        // well under a millisecond for a thousand rows), like the reads by key.
        if limit <= POINT_OVERDUE_LIMIT {
            let now_text = ts(now)?;
            let read = self.points.with(|conn| {
                let mut stmt = conn.prepare_cached(OVERDUE_SQL)?;
                let rows = stmt.query_map(
                    rusqlite::params![tenant, now_text, limit_param(limit)],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            });
            if let Some(pairs) = read {
                return overdue_list(pairs);
            }
        }
        // One row holding them all (a JSON array): rows cross sqlx's worker channel one by one,
        // which costs more than the scan itself when there are hundreds.
        let json: Option<String> = sqlx::query_scalar(concat!(
            "SELECT json_group_array(json_array(id, due_at)) FROM (",
            overdue_select!(),
            ")"
        ))
        .bind(tenant)
        .bind(ts(now)?)
        .bind(limit_param(limit))
        .fetch_one(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        let pairs: Vec<(String, String)> = match json {
            Some(j) => serde_json::from_str(&j).map_err(|e| corrupt("overdue list", e))?,
            None => Vec::new(),
        };
        overdue_list(pairs)
    }

    /// The last audit entry of a case (its chain head), without reading the whole chain.
    pub async fn last_entry(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{ENTRY_COLUMNS} WHERE tenant = ? AND case_id = ? ORDER BY seq DESC LIMIT 1"
        )))
        .bind(tenant)
        .bind(case_id)
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        row.map(|r| entry_from_row(tenant, case_id, &r)).transpose()
    }

    /// Stop the writer after the writes already queued, and close every connection.
    pub async fn close(self) {
        let Self {
            writer,
            writer_task,
            readers,
            checkpointer,
            ..
        } = self;
        drop(writer);
        // The writer task holds the checkpoint thread's sender: once it ends, the thread runs a
        // last checkpoint and stops.
        let _ = writer_task.await;
        if let Some(c) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || c.join()).await;
        }
        readers.close().await;
    }

    /// A read by `(tenant, case id)` of at most one row: on the caller's thread (the `point`
    /// module), or through the read pool when that fails. `row` maps the point read's row to
    /// the same tuple the pool decodes.
    async fn by_key<T>(
        &self,
        sql: &'static str,
        tenant: &str,
        case_id: &str,
        row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
    {
        if let Some(found) = self.points.one(sql, tenant, case_id, row) {
            return Ok(found);
        }
        sqlx::query_as(sql)
            .bind(tenant)
            .bind(case_id)
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| map(&e))
    }

    async fn send<T>(
        &self,
        job: Job,
        rx: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let stopped = || StoreError::new(StoreErrorKind::Unavailable, "the writer has stopped");
        self.writer.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    async fn script(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Script { sql, params, reply }, rx).await
    }
}

/// Open cases of tenant `?1` due before `?2`, most overdue first, at most `?3` (the partial
/// index `cases_open_due` answers it as a range scan).
macro_rules! overdue_select {
    () => {
        "SELECT id, due_at FROM cases WHERE tenant = ?1 AND is_open = 1 AND due_at IS NOT NULL \
         AND due_at < ?2 ORDER BY due_at, id LIMIT ?3"
    };
}
use overdue_select;

const OVERDUE_SQL: &str = overdue_select!();

/// Longest overdue list read on the caller's thread; longer ones go through the read pool.
const POINT_OVERDUE_LIMIT: usize = 2_000;

/// The overdue list from its (case id, due) text pairs.
fn overdue_list(pairs: Vec<(String, String)>) -> Result<Vec<Overdue>, StoreError> {
    let mut out = pairs
        .into_iter()
        .map(|(case_id, due)| {
            Ok(Overdue {
                case_id,
                due_at: parse_ts(&due)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort_by(|a, b| (a.due_at, &a.case_id).cmp(&(b.due_at, &b.case_id)));
    Ok(out)
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn get<T>(row: &SqliteRow, i: usize) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(i).map_err(|e| map(&e))
}

fn unsigned(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(what, format!("negative value {v}")))
}

fn case_from_json(json: &str) -> Result<Case, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt("case", e))
}

const LOG_APPEND: &str = "INSERT INTO alur_log_append VALUES (?, ?, ?);\n";

/// Entries of a reserved chain, in order; the chain trigger checks that the first continues the
/// stored chain and each the one before.
const APPEND_CHAIN: &str = "\
INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version, calendar_version, \
event, actor, legal_basis, at, due, payload_digest, prev_hash, hash) \
SELECT ?1, ?2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11 \
FROM json_each(?3) ORDER BY key;\n";

const PUT_CHECKPOINT: &str =
    "INSERT INTO checkpoints (tenant, size, note) VALUES (?, ?, ?) ON CONFLICT DO NOTHING;\n";

fn u64_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn leaf_from_row(r: &SqliteRow) -> Result<LogLeaf, StoreError> {
    Ok(LogLeaf {
        index: unsigned(get(r, 0)?, "log index")?,
        case_id: get(r, 1)?,
        seq: unsigned(get(r, 2)?, "audit sequence number")?,
        hash: get(r, 3)?,
    })
}

const ENTRY_COLUMNS: &str = "SELECT seq, service, definition_version, calendar_version, event, \
     actor, legal_basis, at, due, payload_digest, prev_hash, hash FROM audit_entries";

const ENTRY_COLUMNS_WITH_CASE: &str = "SELECT seq, service, definition_version, calendar_version, \
     event, actor, legal_basis, at, due, payload_digest, prev_hash, hash, case_id FROM audit_entries";

fn entry_from_row(tenant: &str, case_id: &str, r: &SqliteRow) -> Result<AuditEntry, StoreError> {
    let event: EventKind =
        serde_json::from_str(&get::<String>(r, 4)?).map_err(|e| corrupt("audit event", e))?;
    let actor: ActorRecord =
        serde_json::from_str(&get::<String>(r, 5)?).map_err(|e| corrupt("audit actor", e))?;
    Ok(AuditEntry {
        tenant: tenant.to_owned(),
        case_id: case_id.to_owned(),
        seq: unsigned(get(r, 0)?, "audit sequence number")?,
        service: get(r, 1)?,
        definition_version: u32::try_from(get::<i64>(r, 2)?)
            .map_err(|e| corrupt("definition version", e))?,
        calendar_version: get(r, 3)?,
        event,
        actor,
        legal_basis: get(r, 6)?,
        at: parse_ts(&get::<String>(r, 7)?)?,
        due: get::<Option<String>>(r, 8)?
            .map(|d| serde_json::from_str(&d).map_err(|e| corrupt("audit deadlines", e)))
            .transpose()?,
        payload_digest: get(r, 9)?,
        prev_hash: get(r, 10)?,
        hash: get(r, 11)?,
    })
}

const PUT_DEFINITION: &str = "\
INSERT INTO definitions (tenant, id, version, digest, body) SELECT ?, ?, coalesce((SELECT max(version) FROM definitions WHERE tenant = ? AND id = ?), 0) + 1, ?, ? WHERE NOT EXISTS (SELECT 1 FROM definitions WHERE tenant = ? AND id = ? AND digest = ?);
SELECT version FROM definitions WHERE tenant = ? AND id = ? AND digest = ?;
";

const PRAGMAS: &str = "\
PRAGMA journal_mode;
PRAGMA synchronous;
PRAGMA foreign_keys;
PRAGMA busy_timeout;
PRAGMA page_size;
PRAGMA max_page_count;
";

const RECORD_DENIAL: &str = "\
INSERT INTO denials (tenant, case_id, actor, command, reason, at) VALUES (?, ?, ?, ?, ?, ?);
";

const CLAIM_TIMERS: &str = "\
UPDATE timers SET lease_owner = ?, lease_until = ? WHERE rowid IN (SELECT rowid FROM timers WHERE tenant = ? AND fire_at <= ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until <= ?) ORDER BY fire_at, id LIMIT ?) RETURNING id, case_id, kind, fire_at;
";

fn text(s: &str) -> Param {
    Param::Text(Arc::from(s))
}

fn timer_from_row(tenant: &str, r: &SqliteRow) -> Result<Timer, StoreError> {
    Ok(Timer {
        id: get(r, 0)?,
        tenant: tenant.to_owned(),
        case_id: get(r, 1)?,
        kind: get(r, 2)?,
        fire_at: parse_ts(&get::<String>(r, 3)?)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            durable: true,
            shared: false,
            tenant_log: true,
            letters: true,
        }
    }

    async fn put_definition(
        &self,
        tenant: &str,
        def: &ServiceDefinition,
    ) -> Result<u32, StoreError> {
        let version_of = |v: i64| u32::try_from(v).map_err(|e| corrupt("definition version", e));
        // Already registered: answer from a reader without taking the write lock.
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM definitions WHERE tenant = ? AND id = ? AND digest = ?",
        )
        .bind(tenant)
        .bind(&def.id)
        .bind(&def.digest)
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        if let Some(v) = existing {
            return version_of(v);
        }
        let body = serde_json::to_string(def)
            .map_err(|e| invalid(format!("definition does not serialize: {e}")))?;
        let (t, id, digest) = (text(tenant), text(&def.id), text(&def.digest));
        let params = vec![
            t.clone(),
            id.clone(),
            t.clone(),
            id.clone(),
            digest.clone(),
            Param::Text(body.into()),
            t.clone(),
            id.clone(),
            digest.clone(),
            t,
            id,
            digest,
        ];
        let rows = self.script(PUT_DEFINITION, params).await?;
        let row = rows
            .first()
            .ok_or_else(|| corrupt("definition", "no version after insert"))?;
        version_of(get(row, 0)?)
    }

    async fn definition(
        &self,
        tenant: &str,
        id: &str,
        version: u32,
    ) -> Result<Option<ServiceDefinition>, StoreError> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM definitions WHERE tenant = ? AND id = ? AND version = ?",
        )
        .bind(tenant)
        .bind(id)
        .bind(i64::from(version))
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        body.map(|b| {
            let mut d: ServiceDefinition =
                serde_json::from_str(&b).map_err(|e| corrupt("definition", e))?;
            d.version = version;
            Ok(d)
        })
        .transpose()
    }

    async fn commit(&self, t: Transition) -> Result<(), StoreError> {
        let params = codec::encode_transition(&t)?;
        let (reply, rx) = oneshot::channel();
        self.send(Job::Commit { params, reply }, rx).await
    }

    async fn case(&self, tenant: &str, case_id: &str) -> Result<Option<Case>, StoreError> {
        let body: Option<(String,)> = self
            .by_key(point::CASE_SQL, tenant, case_id, |r| Ok((r.get(0)?,)))
            .await?;
        body.map(|(b,)| case_from_json(&b)).transpose()
    }

    async fn head(&self, tenant: &str, case_id: &str) -> Result<Option<(u64, String)>, StoreError> {
        let row: Option<(i64, String)> = self
            .by_key(point::HEAD_SQL, tenant, case_id, |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .await?;
        row.map(|(seq, hash)| Ok((unsigned(seq, "audit sequence number")?, hash)))
            .transpose()
    }

    async fn case_with_head(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<(Case, Option<(u64, String)>)>, StoreError> {
        // One statement, so one read transaction: the case and its head are from one snapshot.
        let row: Option<(String, Option<i64>, Option<String>)> = self
            .by_key(point::CASE_WITH_HEAD_SQL, tenant, case_id, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .await?;
        let Some((body, seq, hash)) = row else {
            return Ok(None);
        };
        let head = match (seq, hash) {
            (Some(seq), Some(hash)) => Some((unsigned(seq, "audit sequence number")?, hash)),
            _ => None,
        };
        Ok(Some((case_from_json(&body)?, head)))
    }

    async fn entries(&self, tenant: &str, case_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{ENTRY_COLUMNS} WHERE tenant = ? AND case_id = ? ORDER BY seq"
        )))
        .bind(tenant)
        .bind(case_id)
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| entry_from_row(tenant, case_id, r))
            .collect()
    }

    async fn payload(
        &self,
        tenant: &str,
        case_id: &str,
        seq: u64,
    ) -> Result<Option<Payload>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let json: Option<String> = sqlx::query_scalar(
            "SELECT payload FROM payloads WHERE tenant = ? AND case_id = ? AND seq = ?",
        )
        .bind(tenant)
        .bind(case_id)
        .bind(seq)
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| corrupt("payload", e)))
            .transpose()
    }

    /// One pass over the tenant's cases in id order (no index serves a job run this rarely;
    /// one on the closed cases' last change would cost every closing transition).
    async fn erasable(
        &self,
        tenant: &str,
        changed_before: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u64>)>, StoreError> {
        let limit = limit_param(if limit == 0 { 100 } else { limit });
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "WITH c AS (SELECT id FROM cases AS c \
                         WHERE tenant = ?1 AND id > ?2 AND is_open = 0 AND updated_at < ?3 \
                           AND EXISTS (SELECT 1 FROM payloads AS p \
                                        WHERE p.tenant = ?1 AND p.case_id = c.id) \
                         ORDER BY id LIMIT ?4) \
             SELECT p.case_id, p.seq FROM c JOIN payloads AS p \
                 ON p.tenant = ?1 AND p.case_id = c.id \
              ORDER BY p.case_id, p.seq",
        )
        .bind(tenant)
        .bind(after.unwrap_or(""))
        .bind(ts(changed_before)?)
        .bind(limit)
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        let rows = rows
            .into_iter()
            .map(|(case_id, seq)| {
                u64::try_from(seq)
                    .map(|seq| (case_id, seq))
                    .map_err(|e| corrupt("payload sequence number", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(group_by_case(rows))
    }

    async fn idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT command_digest, result FROM idempotency WHERE tenant = ? AND key = ?",
        )
        .bind(tenant)
        .bind(key)
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                key: key.to_owned(),
                command_digest: get(&r, 0)?,
                result: case_from_json(&get::<String>(&r, 1)?)?,
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
        let mut posts: Vec<&(String, String)> = posts.iter().collect();
        posts.sort();
        posts.dedup();
        if posts.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        if posts.len() > 400 {
            return Err(invalid("an inbox query takes at most 400 posts"));
        }
        // One ordered index range scan per post, each cut at `limit`; UNION drops a case that
        // two posts both see.
        let per_post = "SELECT * FROM (SELECT due_missing, due_at, submitted_at, case_id \
             FROM case_pending WHERE tenant = ? AND unit = ? AND role = ? \
             ORDER BY due_missing, due_at, submitted_at, case_id LIMIT ?)";
        let union = vec![per_post; posts.len()].join(" UNION ");
        let sql = format!(
            "SELECT c.body FROM ({union}) AS p JOIN cases AS c ON c.tenant = ? AND c.id = p.case_id \
             ORDER BY p.due_missing, p.due_at, p.submitted_at, p.case_id LIMIT ?"
        );
        let limit = limit_param(limit);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (role, unit) in posts {
            q = q
                .bind(tenant)
                .bind(unit.as_str())
                .bind(role.as_str())
                .bind(limit);
        }
        let rows = q
            .bind(tenant)
            .bind(limit)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| case_from_json(&get::<String>(r, 0)?))
            .collect()
    }

    async fn search(&self, tenant: &str, q: &SearchQuery) -> Result<Vec<Case>, StoreError> {
        let mut sql = String::from("SELECT body FROM cases WHERE tenant = ?");
        let mut params = vec![text(tenant)];
        if let Some(s) = &q.service {
            sql.push_str(" AND service = ?");
            params.push(text(s));
        }
        if let Some(p) = &q.unit_prefix {
            // `code_within`: the unit itself or a descendant (`<prefix>.` … as a range).
            sql.push_str(" AND (unit = ? OR (unit >= ? AND unit < ?))");
            params.extend([text(p), text(&format!("{p}.")), text(&format!("{p}/"))]);
        }
        if let Some(s) = &q.status {
            sql.push_str(" AND status = ?");
            params.push(text(&codec::status(s)));
        }
        if q.open_only {
            sql.push_str(" AND is_open = 1");
        }
        if let Some(f) = q.submitted_from {
            sql.push_str(" AND submitted_at >= ?");
            params.push(text(&ts(f)?));
        }
        if let Some(t) = q.submitted_to {
            sql.push_str(" AND submitted_at < ?");
            params.push(text(&ts(t)?));
        }
        sql.push_str(" ORDER BY submitted_at DESC, id DESC LIMIT ?");
        params.push(Param::Int(limit_param(if q.limit == 0 {
            100
        } else {
            q.limit
        })));
        let rows = codec::bind_all(sqlx::query(AssertSqlSafe(sql)), &params)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| case_from_json(&get::<String>(r, 0)?))
            .collect()
    }

    async fn record_denial(&self, d: Denial) -> Result<(), StoreError> {
        let params = vec![
            text(&d.tenant),
            d.case_id.as_deref().map_or(Param::Null, text),
            text(&d.actor),
            text(&d.command),
            text(&d.reason),
            text(&ts(d.at)?),
        ];
        self.script(RECORD_DENIAL, params).await.map(|_| ())
    }

    async fn denials(&self, tenant: &str) -> Result<Vec<Denial>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, actor, command, reason, at FROM denials WHERE tenant = ? ORDER BY pos",
        )
        .bind(tenant)
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| {
                Ok(Denial {
                    tenant: tenant.to_owned(),
                    case_id: get(r, 0)?,
                    actor: get(r, 1)?,
                    command: get(r, 2)?,
                    reason: get(r, 3)?,
                    at: parse_ts(&get::<String>(r, 4)?)?,
                })
            })
            .collect()
    }

    async fn pending_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, seq, template, recipient, created_at FROM outbox \
             WHERE tenant = ? AND delivered_at IS NULL ORDER BY pos LIMIT ?",
        )
        .bind(tenant)
        .bind(limit_param(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: get(r, 0)?,
                    tenant: tenant.to_owned(),
                    case_id: get(r, 1)?,
                    seq: unsigned(get(r, 2)?, "outbox sequence number")?,
                    template: get(r, 3)?,
                    recipient: get(r, 4)?,
                    created_at: parse_ts(&get::<String>(r, 5)?)?,
                })
            })
            .collect()
    }

    async fn timers(&self, tenant: &str, case_id: &str) -> Result<Vec<Timer>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, kind, fire_at FROM timers WHERE tenant = ? AND case_id = ? \
             ORDER BY fire_at, id",
        )
        .bind(tenant)
        .bind(case_id)
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
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
        let now = text(&ts(now)?);
        let owner = text(owner);
        let params = vec![
            owner.clone(),
            text(&ts(lease_until)?),
            text(tenant),
            now.clone(),
            owner,
            now,
            Param::Int(limit_param(limit)),
        ];
        let rows = self.script(CLAIM_TIMERS, params).await?;
        let mut timers = rows
            .iter()
            .map(|r| timer_from_row(tenant, r))
            .collect::<Result<Vec<_>, _>>()?;
        timers.sort_by(|a, b| (a.fire_at, &a.id).cmp(&(b.fire_at, &b.id)));
        Ok(timers)
    }

    async fn unsequenced(&self, tenant: &str, limit: usize) -> Result<Vec<LogLeaf>, StoreError> {
        let rows = sqlx::query(
            "SELECT 0, case_id, seq, hash FROM audit_entries WHERE tenant = ? AND pos > \
             coalesce((SELECT entry_pos FROM log_leaves WHERE tenant = ? ORDER BY idx DESC LIMIT 1), 0) \
             ORDER BY pos LIMIT ?",
        )
        .bind(tenant)
        .bind(tenant)
        .bind(limit_param(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        rows.iter().map(leaf_from_row).collect()
    }

    async fn append_log(
        &self,
        tenant: &str,
        expected_size: u64,
        leaves: &[LogLeaf],
    ) -> Result<(), StoreError> {
        if leaves.is_empty() {
            let size = self.log_size(tenant).await?;
            return if size == expected_size {
                Ok(())
            } else {
                Err(StoreError::new(
                    StoreErrorKind::Conflict,
                    format!("log size is {size}, expected {expected_size}"),
                ))
            };
        }
        let rows: Vec<(&str, u64, &str)> = leaves
            .iter()
            .map(|l| (l.case_id.as_str(), l.seq, l.hash.as_str()))
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| invalid(format!("leaves do not serialize: {e}")))?;
        let params = vec![
            text(tenant),
            Param::Int(u64_param(expected_size)),
            Param::Text(json.into()),
        ];
        self.script(LOG_APPEND, params).await.map(|_| ())
    }

    async fn log_leaves(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        // Read with the synchronous reader: an audit or a proof reads the whole log.
        verify::leaves_async(
            Arc::clone(&self.audits),
            tenant,
            u64_param(start),
            u64_param(end),
        )
        .await
    }

    async fn log_size(&self, tenant: &str) -> Result<u64, StoreError> {
        let size: i64 =
            sqlx::query_scalar("SELECT coalesce(max(idx) + 1, 0) FROM log_leaves WHERE tenant = ?")
                .bind(tenant)
                .fetch_one(&self.readers)
                .await
                .map_err(|e| map(&e))?;
        unsigned(size, "log size")
    }

    async fn put_checkpoint(
        &self,
        tenant: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        let params = vec![
            text(tenant),
            Param::Int(u64_param(checkpoint.size)),
            text(&checkpoint.note),
        ];
        self.script(PUT_CHECKPOINT, params).await.map(|_| ())
    }

    async fn checkpoints(&self, tenant: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query("SELECT size, note FROM checkpoints WHERE tenant = ? ORDER BY size")
            .bind(tenant)
            .fetch_all(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| {
                Ok(StoredCheckpoint {
                    size: unsigned(get(r, 0)?, "checkpoint size")?,
                    note: get(r, 1)?,
                })
            })
            .collect()
    }

    async fn append_chain(&self, tenant: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let params = codec::encode_chain(tenant, entries)?;
        match self.script(APPEND_CHAIN, params).await {
            Ok(_) => Ok(()),
            // Here (unlike in a case commit, which the version check guards) a chain that moved
            // on means a concurrent appender won.
            Err(e) if e.message.contains("does not continue its case chain") => Err(
                StoreError::new(StoreErrorKind::Conflict, "the chain has moved on"),
            ),
            Err(e) => Err(e),
        }
    }

    async fn log_leaf_page(
        &self,
        tenant: &str,
        start: u64,
        end: u64,
    ) -> Result<alur_core::store::LeafPage, StoreError> {
        verify::leaf_page_async(
            Arc::clone(&self.audits),
            tenant,
            u64_param(start),
            u64_param(end),
        )
        .await
    }

    fn audits_in_commit_order(&self) -> bool {
        true
    }

    async fn leaf_positions(
        &self,
        tenant: &str,
        indexes: &[u64],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        verify::leaf_positions_async(Arc::clone(&self.spans), tenant, indexes).await
    }

    async fn audit_span(
        &self,
        tenant: &str,
        span: alur_core::tlog::SpanAudit,
    ) -> Result<alur_core::tlog::SpanAudit, StoreError> {
        verify::audit_span_async(Arc::clone(&self.spans), tenant, span).await
    }

    async fn canonical_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<alur_core::audit::CanonicalEntry>, StoreError> {
        verify::canonical_page_async(Arc::clone(&self.audits), tenant, after, limit).await
    }

    async fn all_entries(
        &self,
        tenant: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (sql, case, seq) = match after {
            Some((c, s)) => (
                format!(
                    "{ENTRY_COLUMNS_WITH_CASE} WHERE tenant = ? AND (case_id, seq) > (?, ?) \
                     ORDER BY case_id, seq LIMIT ?"
                ),
                c,
                u64_param(s),
            ),
            None => (
                format!("{ENTRY_COLUMNS_WITH_CASE} WHERE tenant = ? ORDER BY case_id, seq LIMIT ?"),
                "",
                0,
            ),
        };
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(tenant);
        if after.is_some() {
            q = q.bind(case).bind(seq);
        }
        let rows = q
            .bind(limit_param(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        rows.iter()
            .map(|r| entry_from_row(tenant, &get::<String>(r, 12)?, r))
            .collect()
    }

    async fn claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        self.outbox_claim(tenant, now, owner, lease_until, limit)
            .await
    }

    async fn settle_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
    ) -> Result<(), StoreError> {
        self.outbox_settle(tenant, now, outcomes).await
    }

    async fn dead_outbox(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<DeadMessage>, StoreError> {
        self.outbox_dead(tenant, limit).await
    }

    async fn letter(
        &self,
        tenant: &str,
        token: &str,
    ) -> Result<Option<alur_core::letter::Letter>, StoreError> {
        self.letter_by_token(tenant, token).await
    }

    async fn letter_for_case(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<alur_core::letter::Letter>, StoreError> {
        self.letter_of_case(tenant, case_id).await
    }

    async fn letter_by_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<alur_core::letter::Letter>, StoreError> {
        self.letter_of_document(tenant, sha256).await
    }

    async fn letters(
        &self,
        tenant: &str,
        unit: &str,
        year: i16,
    ) -> Result<Vec<alur_core::letter::Letter>, StoreError> {
        self.letter_register(tenant, unit, year).await
    }

    async fn put_letter_document(
        &self,
        tenant: &str,
        sha256: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.store_document(tenant, sha256, media_type, bytes).await
    }

    async fn letter_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.document(tenant, sha256).await
    }

    async fn record_letter_scan(&self, tenant: &str, token: &str) -> Result<u64, StoreError> {
        self.scan(tenant, token).await
    }

    async fn settle_and_claim_outbox(
        &self,
        tenant: &str,
        now: Timestamp,
        outcomes: &[(String, OutboxOutcome)],
        owner: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
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
