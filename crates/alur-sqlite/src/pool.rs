//! Plain synchronous connections on the store's file (rusqlite over the same libsqlite3), kept
//! between reads: the point reads on the caller's thread ([`crate::point`]) and the audit's
//! pages on blocking threads ([`crate::verify`]) each hold one such pool, opened their own way.
//! Opening a connection parses the schema (and, for the audit, maps the file), which costs more
//! than many reads.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::OpenFlags;

/// Most idle connections kept.
const KEEP: usize = 8;

/// How a pool opens a connection.
pub(crate) type Open = fn(&Path) -> rusqlite::Result<rusqlite::Connection>;

/// Connections kept between reads.
pub(crate) struct Pool {
    path: PathBuf,
    open: Open,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// A read-only connection on `path`, for one thread at a time.
pub(crate) fn open_read_only(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

impl Pool {
    pub(crate) fn new(path: &Path, open: Open) -> Self {
        Self {
            path: path.to_path_buf(),
            open,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Run `read` on a kept connection or a new one (`opening` turns a failure to open one into
    /// `read`'s error). The connection is kept again only when `read` succeeded: an error may
    /// leave it in any state.
    pub(crate) fn with<T, E>(
        &self,
        opening: impl FnOnce(rusqlite::Error) -> E,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let taken = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match taken {
            Some(c) => c,
            None => (self.open)(&self.path).map_err(opening)?,
        };
        let value = read(&conn)?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < KEEP
        {
            idle.push(conn);
        }
        Ok(value)
    }

    /// Idle connections kept (for tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |v| v.len())
    }
}
