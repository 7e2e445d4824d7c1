//! The single writer: one connection, one task, group commit.
//!
//! Every write reaches this task through a channel. Transitions waiting in the channel when the
//! writer turns to it form a batch (up to `max_batch`): one `BEGIN IMMEDIATE` transaction, one
//! `COMMIT` (one fsync with `synchronous=FULL`), then every caller gets its own answer.
//!
//! A transition is one row inserted into the `alur_transition` view, whose trigger writes
//! everything (see [`crate::codec::TRANSITION_SQL`]). When a row fails a check (version
//! conflict, duplicate idempotency key, fired timer gone, chain break), SQLite aborts that
//! statement and backs out all it did; the transaction stays open for the rest of the batch, so
//! no savepoint is needed. A batch is sent as multi-row inserts of 16, 8, 4, 2 or 1 rows; when
//! one fails, its rows (and the rest of the batch) are sent again one statement per transition,
//! which tells which transition failed: that caller gets its own typed error, the others commit.
//! Any other error (I/O, disk full, busy) rolls the whole transaction back and fails every
//! transition of the batch, none of which was acknowledged. A batch in which nothing succeeded
//! is rolled back, not committed.
//!
//! Round trips (sqlx calls, each one hop to sqlx's worker thread and back): a lone transition is
//! one (`BEGIN IMMEDIATE; INSERT …; COMMIT`); a batch of n is one per chunk (as many as n has
//! binary digits set, at most 16 rows each), plus, when a transition fails a check, one to send
//! its chunk again statement by statement and one per further failure. Every script text
//! depends only on its shape, so each is prepared once and cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alur_core::store::{StoreError, StoreErrorKind};
use futures_util::StreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Either, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::Poke;
use crate::codec::{Param, TRANSITION_ROW, TRANSITION_SQL, TRANSITION_STATEMENTS, bind_all};
use crate::error::{is_statement_local, map};

/// Chunk sizes a batch is cut into (largest first).
const CHUNKS: [usize; 5] = [16, 8, 4, 2, 1];

/// A write for the writer task.
pub(crate) enum Job {
    /// A transition (encoded by [`crate::codec::encode_transition`]).
    Commit {
        params: Vec<Param>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A script that runs alone in its own transaction: `sql` holds the statements between
    /// `BEGIN IMMEDIATE` and `COMMIT`; the rows of every statement come back.
    Script {
        sql: &'static str,
        params: Vec<Param>,
        reply: oneshot::Sender<Result<Vec<SqliteRow>, StoreError>>,
    },
}

impl Job {
    fn fail(self, e: StoreError) {
        match self {
            Job::Commit { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Job::Script { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// A script failed at statement `index` (0-based) with `error`.
struct ScriptError {
    index: usize,
    error: sqlx::Error,
}

/// Run a multi-statement script in one round trip; rows of every statement, or where it failed.
async fn run_script(
    conn: &mut SqliteConnection,
    sql: Arc<str>,
    params: &[Param],
) -> Result<Vec<SqliteRow>, ScriptError> {
    let q = bind_all(sqlx::query(AssertSqlSafe(sql)), params);
    let mut stream = conn.fetch_many(q);
    let mut index = 0;
    let mut rows = Vec::new();
    let mut failed = None;
    while let Some(step) = stream.next().await {
        match step {
            Ok(Either::Left(_done)) => index += 1,
            Ok(Either::Right(row)) => rows.push(row),
            Err(error) => {
                // The worker stops at the first error; drain defensively all the same.
                if failed.is_none() {
                    failed = Some(ScriptError { index, error });
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

/// Roll the transaction back after a failure. `false` if the connection is no longer trustworthy
/// (the rollback itself failed while a transaction may still be open).
async fn rollback(conn: &mut SqliteConnection) -> bool {
    match sqlx::query("ROLLBACK").execute(&mut *conn).await {
        Ok(_) => true,
        // SQLite already rolled back by itself (it does after some I/O and disk-full errors).
        Err(sqlx::Error::Database(db)) if db.message().contains("no transaction is active") => true,
        Err(_) => false,
    }
}

/// How the transitions of a chunk are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Form {
    /// One multi-row `INSERT` for the whole chunk: one result message, but a failed check aborts
    /// all of its rows, without saying which.
    Rows,
    /// One `INSERT` per transition: a failed check names its transition.
    Statements,
}

/// Cached script texts by shape.
#[derive(Default)]
struct Scripts {
    chunks: HashMap<(Form, usize, bool, bool), Arc<str>>,
    solo: HashMap<&'static str, Arc<str>>,
}

impl Scripts {
    /// `size` transitions in `form`, preceded by `BEGIN IMMEDIATE` and followed by `COMMIT` as
    /// asked.
    fn chunk(&mut self, form: Form, size: usize, begin: bool, commit: bool) -> Arc<str> {
        self.chunks
            .entry((form, size, begin, commit))
            .or_insert_with(|| {
                let mut s = String::new();
                if begin {
                    s.push_str("BEGIN IMMEDIATE;\n");
                }
                match form {
                    Form::Statements => {
                        for _ in 0..size {
                            s.push_str(TRANSITION_SQL);
                        }
                    }
                    Form::Rows => {
                        s.push_str("INSERT INTO alur_transition VALUES ");
                        s.push_str(&vec![TRANSITION_ROW; size].join(", "));
                        s.push_str(";\n");
                    }
                }
                if commit {
                    s.push_str("COMMIT;\n");
                }
                s.into()
            })
            .clone()
    }

    fn solo(&mut self, sql: &'static str) -> Arc<str> {
        self.solo
            .entry(sql)
            .or_insert_with(|| format!("BEGIN IMMEDIATE;\n{sql}COMMIT;\n").into())
            .clone()
    }
}

/// Where in a chunk script a statement index falls.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    Begin,
    /// Transition `k` of the chunk (with [`Form::Rows`], the whole chunk is transition 0).
    Transition(usize),
    Commit,
}

fn place(index: usize, statements: usize, begin: bool) -> Place {
    let i = match (begin, index) {
        (true, 0) => return Place::Begin,
        (true, i) => i - 1,
        (false, i) => i,
    };
    let k = i / TRANSITION_STATEMENTS;
    if k < statements {
        Place::Transition(k)
    } else {
        Place::Commit
    }
}

fn chunk_size(remaining: usize) -> usize {
    CHUNKS
        .iter()
        .copied()
        .find(|&c| c <= remaining)
        .unwrap_or(1)
}

/// The writer task's state.
pub(crate) struct Writer {
    conn: Option<SqliteConnection>,
    connect: SqliteConnectOptions,
    scripts: Scripts,
    max_batch: usize,
    stats: Arc<Stats>,
    /// Tells the checkpoint thread about commits (none: SQLite checkpoints in this connection).
    checkpoint: Option<Poke>,
}

/// Counters of the writer (see [`crate::WriterStats`]).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) batches: AtomicU64,
    pub(crate) transitions: AtomicU64,
    pub(crate) committed: AtomicU64,
}

impl Writer {
    pub(crate) fn new(
        conn: SqliteConnection,
        connect: SqliteConnectOptions,
        max_batch: usize,
        stats: Arc<Stats>,
        checkpoint: Option<Poke>,
    ) -> Self {
        Self {
            conn: Some(conn),
            connect,
            scripts: Scripts::default(),
            max_batch: max_batch.max(1),
            stats,
            checkpoint,
        }
    }

    /// Serve jobs until every sender is gone, then close the connection.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut carry: Option<Job> = None;
        let mut last_batch = 0;
        loop {
            let job = match carry.take() {
                Some(j) => j,
                None => match rx.recv().await {
                    Some(j) => j,
                    None => break,
                },
            };
            if self.conn.is_none() {
                // The previous connection was dropped after a failed rollback: open a new one.
                self.conn = self.connect.connect().await.ok();
            }
            let Some(conn) = self.conn.as_mut() else {
                job.fail(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "the database cannot be opened for writing",
                ));
                continue;
            };
            let healthy = match job {
                Job::Commit { params, reply } => {
                    let mut batch = vec![(params, reply)];
                    if last_batch > 1 || !rx.is_empty() {
                        // Callers are busy: let those that are ready run first, so that their
                        // transitions join this batch (a lone caller never waits for this).
                        tokio::task::yield_now().await;
                    }
                    while batch.len() < self.max_batch {
                        match rx.try_recv() {
                            Ok(Job::Commit { params, reply }) => batch.push((params, reply)),
                            Ok(other) => {
                                carry = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let n = batch.len() as u64;
                    last_batch = batch.len();
                    let (healthy, committed) = commit_batch(conn, &mut self.scripts, batch).await;
                    self.stats.batches.fetch_add(1, Ordering::Relaxed);
                    self.stats.transitions.fetch_add(n, Ordering::Relaxed);
                    self.stats.committed.fetch_add(committed, Ordering::Relaxed);
                    if committed > 0
                        && let Some(p) = &self.checkpoint
                    {
                        p.poke();
                    }
                    healthy
                }
                Job::Script { sql, params, reply } => {
                    let script = self.scripts.solo(sql);
                    match run_script(conn, script, &params).await {
                        Ok(rows) => {
                            let _ = reply.send(Ok(rows));
                            if let Some(p) = &self.checkpoint {
                                p.poke();
                            }
                            true
                        }
                        Err(e) => {
                            let _ = reply.send(Err(map(&e.error)));
                            rollback(conn).await
                        }
                    }
                }
            };
            if !healthy && let Some(c) = self.conn.take() {
                // Closing rolls back whatever may still be open.
                let _ = c.close().await;
            }
        }
        if let Some(c) = self.conn.take() {
            let _ = c.close().await;
        }
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// Commit a batch of transitions in one transaction. Returns whether the connection is healthy,
/// and how many transitions were committed.
async fn commit_batch(
    conn: &mut SqliteConnection,
    scripts: &mut Scripts,
    batch: Vec<(Vec<Param>, Reply)>,
) -> (bool, u64) {
    let n = batch.len();
    // `None`: applied (or not yet run); `Some(e)`: failed alone.
    let mut outcome: Vec<Option<StoreError>> = vec![None; n];
    let mut next = 0;
    let mut in_tx = false;
    let mut fatal: Option<StoreError> = None;
    let mut healthy = true;

    // After a failed multi-row chunk, its transitions (and, as failures tend to come together,
    // the rest of the batch) are sent one statement each.
    let mut form = Form::Rows;
    while fatal.is_none() && (next < n || in_tx) {
        let remaining = n - next;
        if remaining == 0 {
            // The last transitions failed alone: commit the others, or roll back if none is left.
            if outcome.iter().all(Option::is_some) {
                healthy = rollback(conn).await;
                in_tx = false;
            } else {
                match sqlx::query("COMMIT").execute(&mut *conn).await {
                    Ok(_) => in_tx = false,
                    Err(e) => fatal = Some(map(&e)),
                }
            }
            continue;
        }
        let size = chunk_size(remaining);
        let begin = !in_tx;
        let commit = size == remaining;
        // A lone transition is the same either way; keep one cached text for it.
        let form_now = if size == 1 { Form::Statements } else { form };
        let script = scripts.chunk(form_now, size, begin, commit);
        let params: Vec<Param> = batch[next..next + size]
            .iter()
            .flat_map(|(p, _)| p.iter().cloned())
            .collect();
        let statements = match form_now {
            Form::Rows => 1,
            Form::Statements => size,
        };
        match run_script(conn, script, &params).await {
            Ok(_) => {
                next += size;
                in_tx = !commit;
            }
            Err(ScriptError { index, error }) => match place(index, statements, begin) {
                Place::Transition(_) if is_statement_local(&error) && form_now == Form::Rows => {
                    // Some row failed a check and SQLite backed the whole insert out; the
                    // transaction is open. Send the chunk again, one statement per transition.
                    in_tx = true;
                    form = Form::Statements;
                }
                Place::Transition(k) if is_statement_local(&error) => {
                    // SQLite backed out that statement alone; the transaction is still open.
                    outcome[next + k] = Some(map(&error));
                    next += k + 1;
                    in_tx = true;
                }
                _ => fatal = Some(map(&error)),
            },
        }
    }

    if let Some(e) = fatal {
        healthy = rollback(conn).await;
        for o in outcome.iter_mut().filter(|o| o.is_none()) {
            *o = Some(e.clone());
        }
    }
    let committed = outcome.iter().filter(|o| o.is_none()).count() as u64;
    for ((_, reply), o) in batch.into_iter().zip(outcome) {
        let _ = reply.send(match o {
            None => Ok(()),
            Some(e) => Err(e),
        });
    }
    (healthy, committed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_places() {
        // BEGIN, two transitions, COMMIT.
        assert_eq!(place(0, 2, true), Place::Begin);
        assert_eq!(place(1, 2, true), Place::Transition(0));
        assert_eq!(place(2, 2, true), Place::Transition(1));
        assert_eq!(place(3, 2, true), Place::Commit);
        // Without BEGIN.
        assert_eq!(place(0, 1, false), Place::Transition(0));
        assert_eq!(place(1, 1, false), Place::Commit);
    }

    #[test]
    fn script_shapes() {
        let mut s = Scripts::default();
        let rows = s.chunk(Form::Rows, 3, true, true);
        assert_eq!(rows.matches(";\n").count(), 3, "{rows}");
        assert_eq!(
            rows.matches('?').count(),
            3 * crate::codec::TRANSITION_PARAMS
        );
        let statements = s.chunk(Form::Statements, 3, false, false);
        assert_eq!(statements.matches(";\n").count(), 3);
        assert!(!statements.contains("BEGIN") && !statements.contains("COMMIT"));
    }

    #[test]
    fn chunking() {
        assert_eq!(chunk_size(64), 16);
        assert_eq!(chunk_size(15), 8);
        assert_eq!(chunk_size(3), 2);
        assert_eq!(chunk_size(1), 1);
    }
}
