//! Mapping sqlx and SQLite errors to [`StoreError`] kinds, and the start-up error type.

use alur_core::store::{StoreError, StoreErrorKind};

/// Why [`crate::SqliteStore::open`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The database was migrated by a newer `alur` than this binary knows.
    #[error(
        "database was created by a newer alur (migration {found}); upgrade alur (this build knows migrations up to {known})"
    )]
    NewerDatabase {
        /// Highest migration applied to the database.
        found: i64,
        /// Highest migration embedded in this binary.
        known: i64,
    },
    /// A pragma did not take the required value when read back.
    #[error("pragma {pragma} is {actual}, required {expected}")]
    Pragma {
        /// Pragma name.
        pragma: &'static str,
        /// Required value.
        expected: String,
        /// Value read back.
        actual: String,
    },
    /// Migrating the schema failed (a modified migration, a failed statement, …).
    #[error("migrating the database failed: {0}")]
    Migrate(String),
    /// The options are not usable (an in-memory database, a malformed URL, …).
    #[error("invalid options: {0}")]
    Options(String),
    /// Opening or querying the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Store(s) => s,
            OpenError::NewerDatabase { .. }
            | OpenError::Migrate(_)
            | OpenError::Pragma { .. }
            | OpenError::Options(_) => StoreError::new(StoreErrorKind::Other, e.to_string()),
        }
    }
}

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_PERM: i32 = 3;
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_NOMEM: i32 = 7;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_PROTOCOL: i32 = 15;
const SQLITE_CONSTRAINT: i32 = 19;
const SQLITE_NOTADB: i32 = 26;

/// The extended SQLite result code of a database error, if it is one.
pub(crate) fn sqlite_code(e: &sqlx::Error) -> Option<i32> {
    match e {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse().ok()),
        _ => None,
    }
}

/// Whether the error aborted only the failing statement of a transition (a constraint or one of
/// our checks), leaving the enclosing transaction usable for a `ROLLBACK TO`.
pub(crate) fn is_statement_local(e: &sqlx::Error) -> bool {
    sqlite_code(e).is_some_and(|c| c & 0xff == SQLITE_CONSTRAINT)
}

/// Map an error to a [`StoreError`]. Messages carry SQLite's text (table and column names, never
/// values), so no personal data leaks through them.
pub(crate) fn map(e: &sqlx::Error) -> StoreError {
    use StoreErrorKind::*;
    match e {
        sqlx::Error::Database(db) => {
            let msg = db.message();
            let code = sqlite_code(e).unwrap_or(0);
            let kind = match code & 0xff {
                SQLITE_CONSTRAINT => return constraint(msg),
                SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
                | SQLITE_READONLY | SQLITE_PROTOCOL | SQLITE_NOMEM | SQLITE_PERM => Unavailable,
                SQLITE_CORRUPT | SQLITE_NOTADB => Corrupt,
                _ => Other,
            };
            StoreError::new(kind, format!("sqlite error {code}: {msg}"))
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => StoreError::new(Unavailable, e.to_string()),
        sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::RowNotFound => StoreError::new(Corrupt, e.to_string()),
        _ => StoreError::new(Other, e.to_string()),
    }
}

fn constraint(msg: &str) -> StoreError {
    use StoreErrorKind::*;
    let (kind, text) = if msg.contains("alur: version conflict") {
        (
            Conflict,
            "the case's version is not the expected one (or the case does not exist)",
        )
    } else if msg.contains("alur: timer already fired or replaced") {
        (Conflict, "the fired timer no longer exists")
    } else if msg.contains("alur: tenant log size conflict") {
        (Conflict, "the tenant log does not have the expected size")
    } else if msg.contains("alur: leaves are not the next unsequenced entries")
        || msg.contains("UNIQUE constraint failed: log_leaves.")
    {
        (Conflict, "leaves are not the next unsequenced entries")
    } else if msg.contains("alur: letter not numbered or document missing") {
        (
            Conflict,
            "the letter is not numbered (or was issued already), or its document was not stored",
        )
    } else if msg.contains("alur: letter not issued") {
        (
            Conflict,
            "the letter is not issued (or was revoked already)",
        )
    } else if msg.contains("UNIQUE constraint failed: letters.") {
        (Conflict, "the case already has a letter")
    } else if msg.contains("UNIQUE constraint failed: cases.") {
        (Conflict, "the case already exists")
    } else if msg.contains("UNIQUE constraint failed: idempotency.") {
        (DuplicateKey, "idempotency key already used")
    } else if msg.contains("UNIQUE constraint failed: audit_entries.")
        || msg.contains("UNIQUE constraint failed: payloads.")
        || msg.contains("UNIQUE constraint failed: outbox.")
    {
        (
            Conflict,
            "an audit sequence number of the case is already taken",
        )
    } else {
        (Other, msg)
    };
    StoreError::new(kind, text)
}

/// A stored value that does not parse.
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("stored {what} does not parse: {e}"),
    )
}

/// An input the store refuses before touching the database.
pub(crate) fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Other, msg)
}
