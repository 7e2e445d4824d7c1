//! Mapping sqlx and PostgreSQL errors onto [`StoreError`] kinds, and the start-up error type.

use alur_core::store::{StoreError, StoreErrorKind};

/// Why [`crate::PostgresStore::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The server could not be reached in time, or refused connections for now (starting up,
    /// shutting down, too many connections). Retrying later may help.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    /// The URL or the options are invalid.
    #[error("invalid PostgreSQL configuration: {0}")]
    Config(String),
    /// The database was migrated by a newer build of alur than this one. Upgrade this binary;
    /// an older binary must not write to a newer schema.
    #[error(
        "the database schema is at migration {database}, newer than this build of alur-postgres \
         (which knows migrations up to {binary}); upgrade alur before connecting it to this database"
    )]
    SchemaTooNew {
        /// Latest migration applied to the database.
        database: i64,
        /// Latest migration embedded in this binary.
        binary: i64,
    },
    /// A migration failed, or the database's migration history does not match this build.
    #[error("migrating the PostgreSQL schema failed: {0}")]
    Migration(String),
    /// The server refused otherwise (authentication, permissions, unknown database, …).
    #[error("PostgreSQL refused the connection: {0}")]
    Refused(String),
}

impl ConnectError {
    /// The storage error kind this corresponds to.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            Self::Unavailable(_) => StoreErrorKind::Unavailable,
            Self::SchemaTooNew { .. } | Self::Migration(_) => StoreErrorKind::Corrupt,
            Self::Config(_) | Self::Refused(_) => StoreErrorKind::Other,
        }
    }
}

impl From<ConnectError> for StoreError {
    fn from(e: ConnectError) -> Self {
        StoreError::new(e.kind(), e.to_string())
    }
}

/// Our own SQLSTATEs, raised by the schema's functions and triggers.
pub(crate) const VERSION_CONFLICT: &str = "AL001";
pub(crate) const TIMER_GONE: &str = "AL002";
/// The tenant log is not at the expected size (another integrator appended first), or a leaf
/// names no stored entry.
pub(crate) const LOG_CONFLICT: &str = "AL003";
/// A letter is not in the state the transition needs (not numbered, or not issued).
pub(crate) const LETTER_STATE: &str = "AL004";

/// Whether an error while connecting is worth another attempt before the deadline.
pub(crate) fn is_transient_connect(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // cannot_connect_now (starting up), too_many_connections, admin/crash shutdown
            matches!(&*code, "57P03" | "53300" | "57P01" | "57P02")
        }
        _ => false,
    }
}

/// Classify an error met while connecting.
pub(crate) fn connect_error(e: &sqlx::Error) -> ConnectError {
    match e {
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => {
            ConnectError::Config(e.to_string())
        }
        sqlx::Error::Database(db) if !is_transient_connect(e) => ConnectError::Refused(format!(
            "{}: {}",
            db.code().unwrap_or_default(),
            db.message()
        )),
        _ if is_transient_connect(e) => ConnectError::Unavailable(e.to_string()),
        sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => ConnectError::Unavailable(e.to_string()),
        _ => ConnectError::Refused(e.to_string()),
    }
}

/// Map any sqlx error met after start-up onto a [`StoreError`].
///
/// Messages carry the SQLSTATE and PostgreSQL's primary message only (never the DETAIL, which
/// can quote row values).
pub(crate) fn map(e: sqlx::Error) -> StoreError {
    use StoreErrorKind::*;
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = format!("{code}: {}", db.message());
            let kind = match code.as_str() {
                VERSION_CONFLICT | TIMER_GONE | LOG_CONFLICT | LETTER_STATE => Conflict,
                // unique_violation: the idempotency key is its own kind; anything else (case
                // already exists, audit sequence already taken, …) means another writer won.
                "23505" => match db.constraint() {
                    Some("idempotency_pkey") => DuplicateKey,
                    _ => Conflict,
                },
                // serialization_failure, deadlock_detected, lock_not_available, query_canceled
                // (statement_timeout), admin/crash shutdown, cannot_connect_now
                "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03" => Unavailable,
                // connection exceptions, insufficient resources (disk full, out of memory,
                // too many connections)
                c if c.starts_with("08") || c.starts_with("53") => Unavailable,
                // data_corrupted, index_corrupted
                "XX001" | "XX002" => Corrupt,
                _ => Other,
            };
            StoreError::new(kind, message)
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::new(Unavailable, e.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::new(Corrupt, e.to_string()),
        _ => StoreError::new(Other, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_and_pool_errors_are_unavailable() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(map(io).kind, StoreErrorKind::Unavailable);
        assert_eq!(
            map(sqlx::Error::PoolTimedOut).kind,
            StoreErrorKind::Unavailable
        );
        assert_eq!(
            map(sqlx::Error::ColumnNotFound("x".into())).kind,
            StoreErrorKind::Corrupt
        );
        assert_eq!(
            ConnectError::Unavailable("x".into()).kind(),
            StoreErrorKind::Unavailable
        );
    }
}
