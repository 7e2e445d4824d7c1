//! The verification read path: pages of audit entries with the hash of their canonical bytes,
//! read with a plain synchronous SQLite connection on a blocking thread.
//!
//! sqlx hands every row from its worker thread to the async caller (several microseconds a row);
//! an auditor reading millions of entries wants the rows at the speed SQLite produces them. This
//! path only reads (a read-only connection on the same file, under WAL's snapshot isolation) and
//! builds each entry's canonical bytes from the stored text without decoding its JSON parts
//! ([`alur_core::audit::EntryColumns`]), in one reused buffer, and hashes them while they are in
//! cache (the auditor compares that hash with the stated one).

use std::path::Path;
use std::sync::Arc;

use alur_core::audit::{CanonicalEntry, EntryColumns, EntryTime, chain_digest, parse_chain_hash};
use alur_core::store::{LeafPage, LogLeaf, StoreError, StoreErrorKind};

use crate::pool::{Pool, open_read_only};

fn fail(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        format!("reading audit entries: {e}"),
    )
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("stored {what} is malformed: {e}"),
    )
}

/// A read-only connection on the store's file (WAL: it reads a consistent snapshot).
fn open_reader(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = open_read_only(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Read the database file's pages in place rather than copied by a system call each (pages
    // still in the WAL are read as usual). An audit reads the whole file once.
    conn.execute_batch("PRAGMA mmap_size = 4294967296")?;
    Ok(conn)
}

/// Read-only connections kept between the pages of an audit: opening one parses the schema and
/// maps the file anew, and an audit reads a page per part every 20,000 entries.
pub(crate) struct Readers(Pool);

impl Readers {
    pub(crate) fn new(path: &Path) -> Self {
        Self(Pool::new(path, open_reader))
    }

    fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.0.with(fail, read)
    }
}

/// `read` on a blocking thread.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| StoreError::new(StoreErrorKind::Other, format!("reader task: {e}")))?
}

/// The columns read, in [`read_entries`]' order.
macro_rules! entry_select {
    ($where:literal) => {
        concat!(
            "SELECT case_id, seq, service, definition_version, calendar_version, event, actor, \
             legal_basis, at, due, payload_digest, prev_hash, hash FROM audit_entries WHERE ",
            $where
        )
    };
}

/// From the start.
const FIRST_SQL: &str = entry_select!("tenant = ?1 ORDER BY case_id, seq LIMIT ?2");
/// The rest of a case.
const REST_OF_CASE_SQL: &str =
    entry_select!("tenant = ?1 AND case_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4");
/// The cases after one. (Split from the rest of the case, rather than one `(case_id, seq) > (?,
/// ?)`, because SQLite seeks on the case id alone and then tests the row value on every row.)
const NEXT_CASES_SQL: &str =
    entry_select!("tenant = ?1 AND case_id > ?2 ORDER BY case_id, seq LIMIT ?3");

/// Up to `limit` entries of `tenant` after `(case_id, seq)` (from the start when `None`).
pub(crate) fn canonical_page(
    readers: &Readers,
    tenant: &str,
    after: Option<(&str, u64)>,
    limit: usize,
) -> Result<Vec<CanonicalEntry>, StoreError> {
    readers.with(|conn| page_on(conn, tenant, after, limit))
}

fn page_on(
    conn: &rusqlite::Connection,
    tenant: &str,
    after: Option<(&str, u64)>,
    limit: usize,
) -> Result<Vec<CanonicalEntry>, StoreError> {
    let mut out = Vec::with_capacity(limit.min(100_000));
    let limit_sql = |got: usize| i64::try_from(limit - got).unwrap_or(i64::MAX);
    match after {
        None => {
            let mut stmt = conn.prepare_cached(FIRST_SQL).map_err(fail)?;
            let rows = stmt
                .query(rusqlite::params![tenant, limit_sql(0)])
                .map_err(fail)?;
            read_entries(tenant, rows, &mut out)?;
        }
        Some((case, seq)) => {
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            let mut stmt = conn.prepare_cached(REST_OF_CASE_SQL).map_err(fail)?;
            let rows = stmt
                .query(rusqlite::params![tenant, case, seq, limit_sql(0)])
                .map_err(fail)?;
            read_entries(tenant, rows, &mut out)?;
            if out.len() < limit {
                let mut stmt = conn.prepare_cached(NEXT_CASES_SQL).map_err(fail)?;
                let rows = stmt
                    .query(rusqlite::params![tenant, case, limit_sql(out.len())])
                    .map_err(fail)?;
                read_entries(tenant, rows, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// Read the rows of one of the queries above into `out`, each with the hash of its canonical
/// bytes.
fn read_entries(
    tenant: &str,
    mut rows: rusqlite::Rows<'_>,
    out: &mut Vec<CanonicalEntry>,
) -> Result<(), StoreError> {
    // The entries of a case share one copy of its id.
    let mut case: Option<Arc<str>> = out.last().map(|e| Arc::clone(&e.case_id));
    // Each entry's canonical bytes are built in this buffer and hashed at once.
    let mut canonical = Vec::new();
    while let Some(r) = rows.next().map_err(fail)? {
        let text = |i: usize| -> Result<&str, StoreError> {
            r.get_ref(i)
                .map_err(fail)?
                .as_str()
                .map_err(|e| corrupt("audit column", e))
        };
        let opt = |i: usize| -> Result<Option<&str>, StoreError> {
            r.get_ref(i)
                .map_err(fail)?
                .as_str_or_null()
                .map_err(|e| corrupt("audit column", e))
        };
        // JSON parts are hashed as the bytes they are (see `EntryColumns::event_json`).
        let bytes = |i: usize| -> Result<&[u8], StoreError> {
            r.get_ref(i)
                .map_err(fail)?
                .as_bytes()
                .map_err(|e| corrupt("audit column", e))
        };
        let opt_bytes = |i: usize| -> Result<Option<&[u8]>, StoreError> {
            r.get_ref(i)
                .map_err(fail)?
                .as_bytes_or_null()
                .map_err(|e| corrupt("audit column", e))
        };
        let int = |i: usize| -> Result<i64, StoreError> { r.get::<_, i64>(i).map_err(fail) };
        let case_id = text(0)?;
        let seq = u64::try_from(int(1)?).map_err(|e| corrupt("audit sequence", e))?;
        let at = EntryTime::stored(text(8)?).map_err(|e| corrupt("audit time", e))?;
        let prev_hash = text(11)?;
        let cols = EntryColumns {
            tenant,
            case_id,
            seq,
            service: text(2)?,
            definition_version: u32::try_from(int(3)?)
                .map_err(|e| corrupt("definition version", e))?,
            calendar_version: opt(4)?,
            event_json: bytes(5)?,
            actor_json: bytes(6)?,
            legal_basis: opt(7)?,
            at,
            due_json: opt_bytes(9)?,
            payload_digest: opt(10)?,
            prev_hash,
        };
        canonical.clear();
        cols.canonical_into(&mut canonical);
        let case_id = match &case {
            Some(c) if **c == *case_id => Arc::clone(c),
            _ => {
                let c: Arc<str> = Arc::from(case_id);
                case = Some(Arc::clone(&c));
                c
            }
        };
        out.push(CanonicalEntry {
            case_id,
            seq,
            prev_hash: parse_chain_hash(prev_hash),
            hash: parse_chain_hash(text(12)?),
            digest: chain_digest(&canonical),
        });
    }
    Ok(())
}

/// [`canonical_page`] on a blocking thread.
pub(crate) async fn canonical_page_async(
    readers: Arc<Readers>,
    tenant: &str,
    after: Option<(&str, u64)>,
    limit: usize,
) -> Result<Vec<CanonicalEntry>, StoreError> {
    let tenant = tenant.to_owned();
    let after = after.map(|(c, s)| (c.to_owned(), s));
    blocking(move || {
        canonical_page(
            &readers,
            &tenant,
            after.as_ref().map(|(c, s)| (c.as_str(), *s)),
            limit,
        )
    })
    .await
}

/// Visit the log leaves with `start <= idx < end`, in index order: index, case id, sequence,
/// hash (hex, as stored).
fn read_leaves(
    readers: &Readers,
    tenant: &str,
    start: i64,
    end: i64,
    mut visit: impl FnMut(u64, &str, u64, &str) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    readers.with(|conn| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT idx, case_id, seq, hash FROM log_leaves \
                 WHERE tenant = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            )
            .map_err(fail)?;
        let mut rows = stmt
            .query(rusqlite::params![tenant, start, end])
            .map_err(fail)?;
        while let Some(r) = rows.next().map_err(fail)? {
            let unsigned = |i: usize, what: &str| -> Result<u64, StoreError> {
                u64::try_from(r.get::<_, i64>(i).map_err(fail)?).map_err(|e| corrupt(what, e))
            };
            let text = |i: usize| -> Result<&str, StoreError> {
                r.get_ref(i)
                    .map_err(fail)?
                    .as_str()
                    .map_err(|e| corrupt("log leaf column", e))
            };
            visit(
                unsigned(0, "log index")?,
                text(1)?,
                unsigned(2, "audit sequence number")?,
                text(3)?,
            )?;
        }
        Ok(())
    })
}

/// Log leaves with `start <= idx < end`, in index order.
pub(crate) fn leaves(
    readers: &Readers,
    tenant: &str,
    start: i64,
    end: i64,
) -> Result<Vec<LogLeaf>, StoreError> {
    let wanted = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
    let mut out = Vec::with_capacity(wanted.min(1_000_000));
    read_leaves(readers, tenant, start, end, |index, case_id, seq, hash| {
        out.push(LogLeaf {
            index,
            case_id: case_id.to_owned(),
            seq,
            hash: hash.to_owned(),
        });
        Ok(())
    })?;
    Ok(out)
}

/// The same leaves packed for an audit.
pub(crate) fn leaf_page(
    readers: &Readers,
    tenant: &str,
    start: i64,
    end: i64,
) -> Result<LeafPage, StoreError> {
    let wanted = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
    let mut page = LeafPage {
        names: String::with_capacity(wanted.min(1_000_000) * 16),
        leaves: Vec::with_capacity(wanted.min(1_000_000)),
    };
    read_leaves(readers, tenant, start, end, |index, case_id, seq, hash| {
        page.push(index, case_id, seq, hash);
        Ok(())
    })?;
    Ok(page)
}

/// [`leaf_page`] on a blocking thread.
pub(crate) async fn leaf_page_async(
    readers: Arc<Readers>,
    tenant: &str,
    start: i64,
    end: i64,
) -> Result<LeafPage, StoreError> {
    let tenant = tenant.to_owned();
    blocking(move || leaf_page(&readers, &tenant, start, end)).await
}

/// [`leaves`] on a blocking thread.
pub(crate) async fn leaves_async(
    readers: Arc<Readers>,
    tenant: &str,
    start: i64,
    end: i64,
) -> Result<Vec<LogLeaf>, StoreError> {
    let tenant = tenant.to_owned();
    blocking(move || leaves(&readers, &tenant, start, end)).await
}
