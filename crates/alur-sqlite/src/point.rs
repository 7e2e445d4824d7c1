//! Point reads (a case, its chain head; the short list of overdue cases) on the caller's thread.
//!
//! sqlx runs each SQLite statement on a worker thread of the connection and hands the request
//! and every row across threads; for a read by primary key that hand-off costs more than the read
//! (one B-tree descent over cached pages, a few microseconds). The engine reads a case before
//! every command, so these reads go through a small pool of plain read-only connections
//! (rusqlite over the same libsqlite3) and run where they are called.
//!
//! They never wait: the connections have no busy timeout, and a read that fails in any way (a
//! busy database, a rare moment in WAL mode, e.g. while another process recovers the WAL; an I/O
//! error) is answered through the sqlx read pool instead, which waits off the caller's thread and
//! types the error as every other read does.

use std::path::Path;

use rusqlite::OptionalExtension;

use crate::pool::{Pool, open_read_only};

/// A pool of read-only connections for point reads.
pub(crate) struct PointReader {
    pool: Pool,
}

pub(crate) const CASE_SQL: &str = "SELECT body FROM cases WHERE tenant = ?1 AND id = ?2";

pub(crate) const CASE_WITH_HEAD_SQL: &str = "SELECT c.body, h.seq, h.hash FROM cases c LEFT JOIN \
     (SELECT seq, hash FROM audit_entries WHERE tenant = ?1 AND case_id = ?2 \
      ORDER BY seq DESC LIMIT 1) h ON 1 \
     WHERE c.tenant = ?1 AND c.id = ?2";

pub(crate) const HEAD_SQL: &str = "SELECT seq, hash FROM audit_entries WHERE tenant = ?1 \
     AND case_id = ?2 ORDER BY seq DESC LIMIT 1";

fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = open_read_only(path)?;
    // Never sleep on the caller's thread: a busy database goes to the sqlx pool.
    conn.busy_timeout(std::time::Duration::ZERO)?;
    Ok(conn)
}

impl PointReader {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            pool: Pool::new(path, open),
        }
    }

    /// Run `sql` with two text parameters and map its one optional row; `None` when the read
    /// failed (ask the sqlx pool).
    pub(crate) fn one<T>(
        &self,
        sql: &'static str,
        a: &str,
        b: &str,
        row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Option<T>> {
        self.with(|conn| {
            conn.prepare_cached(sql)
                .and_then(|mut stmt| stmt.query_row([a, b], row).optional())
        })
    }

    /// Run `read` on a connection of the pool; `None` when it failed (ask the sqlx pool).
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        self.pool.with(|e| e, read).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
        r.get(0)
    }

    #[test]
    fn reads_a_row_or_none_and_keeps_its_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let w = rusqlite::Connection::open(&path).unwrap();
        w.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE cases (tenant TEXT, id TEXT, body TEXT, PRIMARY KEY (tenant, id));
             INSERT INTO cases VALUES ('t', 'a', '{\"x\":1}');",
        )
        .unwrap();
        let p = PointReader::new(&path);
        assert_eq!(
            p.one(CASE_SQL, "t", "a", body),
            Some(Some("{\"x\":1}".to_string()))
        );
        assert_eq!(p.one(CASE_SQL, "t", "b", body), Some(None));
        assert_eq!(p.pool.idle(), 1, "one connection, reused");
        // A later commit is seen by the kept connection.
        w.execute("UPDATE cases SET body = 'y' WHERE id = 'a'", [])
            .unwrap();
        assert_eq!(p.one(CASE_SQL, "t", "a", body), Some(Some("y".to_string())));
    }

    #[test]
    fn a_failed_read_asks_the_pool_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        // No database at all: the read-only open fails.
        let missing = PointReader::new(&dir.path().join("missing.db"));
        assert_eq!(missing.one(CASE_SQL, "t", "a", body), None);

        // A rollback-journal database locked by a writer: busy at once, not after a timeout.
        let path = dir.path().join("locked.db");
        let w = rusqlite::Connection::open(&path).unwrap();
        w.execute_batch(
            "CREATE TABLE cases (tenant TEXT, id TEXT, body TEXT, PRIMARY KEY (tenant, id));
             BEGIN EXCLUSIVE; INSERT INTO cases VALUES ('t', 'a', 'b');",
        )
        .unwrap();
        let p = PointReader::new(&path);
        let started = std::time::Instant::now();
        assert_eq!(p.one(CASE_SQL, "t", "a", body), None);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(p.pool.idle(), 0, "a failed connection is dropped");
        w.execute_batch("COMMIT").unwrap();
        assert_eq!(p.one(CASE_SQL, "t", "a", body), Some(Some("b".to_string())));
    }
}
