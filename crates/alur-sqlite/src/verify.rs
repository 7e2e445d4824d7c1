//! The verification read path: an audit's spans (entries in commit order beside their leaves),
//! pages of audit entries in case order with the hash of their canonical bytes (a tenant audited
//! case by case), and pages of log leaves, read with plain synchronous SQLite connections on
//! blocking threads.
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
use alur_core::tlog::{CommitLeaf, SpanAudit};

use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;

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

/// A read-only connection for reading tables in their own order (an audit's spans): without the
/// memory map, each page is read once by a system call into SQLite's small cache, which on a
/// sequential read costs less than mapping (and later unmapping) the whole file, and keeps the
/// process's memory small (40 MB against 530 MB for a 500 MB database).
fn open_sequential_reader(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = open_read_only(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Read-only connections kept between the pages of an audit: opening one parses the schema and
/// maps the file anew, and an audit reads a page per part every 20,000 entries.
pub(crate) struct Readers(Pool);

impl Readers {
    pub(crate) fn new(path: &Path) -> Self {
        Self(Pool::new(path, open_reader))
    }

    /// Connections for reading in the tables' own order ([`audit_span`]).
    pub(crate) fn sequential(path: &Path) -> Self {
        Self(Pool::new(path, open_sequential_reader))
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

/// The columns of an entry read by one of the queries here, from column `o` on (in
/// [`entry_select`]'s order), and its stated hash.
fn entry_columns<'r>(
    tenant: &'r str,
    r: &'r rusqlite::Row<'_>,
    o: usize,
) -> Result<(EntryColumns<'r>, &'r str), StoreError> {
    let text = |i: usize| -> Result<&'r str, StoreError> {
        r.get_ref(o + i)
            .map_err(fail)?
            .as_str()
            .map_err(|e| corrupt("audit column", e))
    };
    let opt = |i: usize| -> Result<Option<&'r str>, StoreError> {
        r.get_ref(o + i)
            .map_err(fail)?
            .as_str_or_null()
            .map_err(|e| corrupt("audit column", e))
    };
    // JSON parts are hashed as the bytes they are (see `EntryColumns::event_json`).
    let bytes = |i: usize| -> Result<&'r [u8], StoreError> {
        r.get_ref(o + i)
            .map_err(fail)?
            .as_bytes()
            .map_err(|e| corrupt("audit column", e))
    };
    let opt_bytes = |i: usize| -> Result<Option<&'r [u8]>, StoreError> {
        r.get_ref(o + i)
            .map_err(fail)?
            .as_bytes_or_null()
            .map_err(|e| corrupt("audit column", e))
    };
    let int = |i: usize| -> Result<i64, StoreError> { r.get::<_, i64>(o + i).map_err(fail) };
    let cols = EntryColumns {
        tenant,
        case_id: text(0)?,
        seq: u64::try_from(int(1)?).map_err(|e| corrupt("audit sequence", e))?,
        service: text(2)?,
        definition_version: u32::try_from(int(3)?).map_err(|e| corrupt("definition version", e))?,
        calendar_version: opt(4)?,
        event_json: bytes(5)?,
        actor_json: bytes(6)?,
        legal_basis: opt(7)?,
        at: EntryTime::stored(text(8)?).map_err(|e| corrupt("audit time", e))?,
        due_json: opt_bytes(9)?,
        payload_digest: opt(10)?,
        prev_hash: text(11)?,
    };
    Ok((cols, text(12)?))
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
        let (cols, hash) = entry_columns(tenant, r, 0)?;
        canonical.clear();
        cols.canonical_into(&mut canonical);
        let case_id = match &case {
            Some(c) if **c == *cols.case_id => Arc::clone(c),
            _ => {
                let c: Arc<str> = Arc::from(cols.case_id);
                case = Some(Arc::clone(&c));
                c
            }
        };
        out.push(CanonicalEntry {
            case_id,
            seq: cols.seq,
            prev_hash: parse_chain_hash(cols.prev_hash),
            hash: parse_chain_hash(hash),
            digest: chain_digest(&canonical),
        });
    }
    Ok(())
}

/// A tenant's entries in a range of commit positions, in commit order (the table's own order:
/// `NOT INDEXED` keeps SQLite on the rowid range rather than the index that starts with the
/// tenant).
const SPAN_ENTRIES_SQL: &str = "SELECT pos, case_id, seq, service, definition_version, calendar_version, event, actor, \
     legal_basis, at, due, payload_digest, prev_hash, hash FROM audit_entries NOT INDEXED \
     WHERE pos > ?1 AND pos <= ?2 AND tenant = ?3 ORDER BY pos";

/// A range of a tenant's leaves, in index order.
const SPAN_LEAVES_SQL: &str = "SELECT idx, entry_pos, case_id, seq, hash FROM log_leaves \
     WHERE tenant = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx";

/// The row of a leaf.
const LEAF_ROWID_SQL: &str = "SELECT rowid FROM log_leaves WHERE tenant = ?1 AND idx = ?2";

/// The same leaves read in the table's order, between the rows of the first and the last: the
/// log is appended one leaf after another and never changed, so its rows are in index order
/// (from a row out of place on, [`audit_span`] reads by index). Reading by index costs a lookup
/// of the row for every leaf.
const SPAN_LEAF_ROWS_SQL: &str = "SELECT idx, entry_pos, case_id, seq, hash FROM log_leaves \
     NOT INDEXED WHERE rowid >= ?4 AND rowid <= ?5 AND tenant = ?1 AND idx >= ?2 AND idx < ?3 \
     ORDER BY rowid";

fn commit_leaf<'r>(r: &'r rusqlite::Row<'_>) -> Result<CommitLeaf<'r>, StoreError> {
    let text = |i: usize| -> Result<&'r str, StoreError> {
        r.get_ref(i)
            .map_err(fail)?
            .as_str()
            .map_err(|e| corrupt("log leaf column", e))
    };
    let int = |i: usize| -> Result<i64, StoreError> {
        r.get::<_, i64>(i)
            .map_err(|e| corrupt("log leaf column", e))
    };
    Ok(CommitLeaf {
        index: u64::try_from(int(0)?).map_err(|e| corrupt("log index", e))?,
        entry_pos: int(1)?,
        case_id: text(2)?,
        seq: u64::try_from(int(3)?).map_err(|e| corrupt("audit sequence number", e))?,
        hash: text(4)?,
    })
}

/// Feed `span` its entries in commit order and its leaves (see `Store::audit_span`).
pub(crate) fn audit_span(
    readers: &Readers,
    tenant: &str,
    span: &mut SpanAudit,
) -> Result<(), StoreError> {
    let b = span.bounds();
    let index = |i: u64| i64::try_from(i).unwrap_or(i64::MAX);
    readers.with(|conn| {
        let rowid = |i: u64| -> Result<Option<i64>, StoreError> {
            let mut stmt = conn.prepare_cached(LEAF_ROWID_SQL).map_err(fail)?;
            let mut rows = stmt
                .query(rusqlite::params![tenant, index(i)])
                .map_err(fail)?;
            match rows.next().map_err(fail)? {
                Some(r) => r.get(0).map(Some).map_err(fail),
                None => Ok(None),
            }
        };
        let rows = match b.end_leaf.checked_sub(1) {
            Some(last) if last >= b.first_leaf => rowid(b.first_leaf)?.zip(rowid(last)?),
            _ => None,
        };
        let mut entries_stmt = conn.prepare_cached(SPAN_ENTRIES_SQL).map_err(fail)?;
        let mut rows_stmt = conn.prepare_cached(SPAN_LEAF_ROWS_SQL).map_err(fail)?;
        let mut index_stmt = conn.prepare_cached(SPAN_LEAVES_SQL).map_err(fail)?;
        let mut entries = entries_stmt
            .query(rusqlite::params![
                b.after_pos.unwrap_or(i64::MIN),
                b.until_pos.unwrap_or(i64::MAX),
                tenant
            ])
            .map_err(fail)?;
        // The leaves in the table's order while they come in index order; from the first one
        // out of place (a log rewritten by hand: the span reports it if it is really missing or
        // moved), by index, skipping those already read.
        let mut in_table_order = rows
            .map(|(first_row, last_row)| {
                rows_stmt.query(rusqlite::params![
                    tenant,
                    index(b.first_leaf),
                    index(b.end_leaf),
                    first_row,
                    last_row
                ])
            })
            .transpose()
            .map_err(fail)?;
        let mut by_index = index_stmt
            .query(rusqlite::params![
                tenant,
                index(b.first_leaf),
                index(b.end_leaf)
            ])
            .map_err(fail)?;
        let mut expected = b.first_leaf;
        let mut leaves_left = true;
        // Advance to the next leaf.
        macro_rules! next_leaf {
            () => {{
                if let Some(rows) = &mut in_table_order {
                    rows.advance().map_err(fail)?;
                    let misplaced = rows
                        .get()
                        .is_none_or(|l| l.get::<_, i64>(0).ok() != Some(index(expected)));
                    if misplaced && expected < b.end_leaf {
                        in_table_order = None;
                        loop {
                            by_index.advance().map_err(fail)?;
                            let before = by_index.get().is_some_and(|l| {
                                l.get::<_, i64>(0).is_ok_and(|i| i < index(expected))
                            });
                            if !before {
                                break;
                            }
                        }
                    }
                } else {
                    by_index.advance().map_err(fail)?;
                }
                let leaf = match &in_table_order {
                    Some(rows) => rows.get(),
                    None => by_index.get(),
                };
                leaves_left = leaf.is_some();
                if leaves_left {
                    expected += 1;
                }
                leaf.map(commit_leaf).transpose()?
            }};
        }
        while let Some(r) = entries.next().map_err(fail)? {
            let pos: i64 = r.get(0).map_err(fail)?;
            let (cols, hash) = entry_columns(tenant, r, 1)?;
            let leaf = if leaves_left { next_leaf!() } else { None };
            if !span.entry_columns(pos, &cols, hash, leaf.as_ref()) {
                return Ok(());
            }
        }
        while leaves_left {
            if let Some(l) = next_leaf!() {
                span.leaf_only(&l);
            }
        }
        Ok(())
    })
}

/// [`audit_span`] on a blocking thread.
pub(crate) async fn audit_span_async(
    readers: Arc<Readers>,
    tenant: &str,
    mut span: SpanAudit,
) -> Result<SpanAudit, StoreError> {
    let tenant = tenant.to_owned();
    blocking(move || audit_span(&readers, &tenant, &mut span).map(|()| span)).await
}

/// The commit positions of the entries of the leaves at `indexes`.
pub(crate) async fn leaf_positions_async(
    readers: Arc<Readers>,
    tenant: &str,
    indexes: &[u64],
) -> Result<Vec<Option<i64>>, StoreError> {
    let tenant = tenant.to_owned();
    let indexes = indexes.to_vec();
    blocking(move || {
        readers.with(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT entry_pos FROM log_leaves WHERE tenant = ?1 AND idx = ?2")
                .map_err(fail)?;
            indexes
                .iter()
                .map(|&i| {
                    let i = i64::try_from(i).unwrap_or(i64::MAX);
                    let mut rows = stmt.query(rusqlite::params![tenant, i]).map_err(fail)?;
                    match rows.next().map_err(fail)? {
                        Some(r) => r
                            .get::<_, i64>(0)
                            .map(Some)
                            .map_err(|e| corrupt("log leaf column", e)),
                        None => Ok(None),
                    }
                })
                .collect()
        })
    })
    .await
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
