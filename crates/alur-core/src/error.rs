//! The crate's public error: one type with a [`ErrorKind`] callers can match.

use crate::engine::{Refusal, RefusalKind};
use crate::store::{StoreError, StoreErrorKind};

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The case changed since the caller saw it, or a concurrent duplicate won.
    Conflict,
    /// Case, service, step, action or officer not found.
    NotFound,
    /// The actor may not do this (role, unit, mandate).
    Forbidden,
    /// Separation of duties forbids it.
    SeparationOfDuties,
    /// Not possible in the case's state.
    InvalidTransition,
    /// Input missing or malformed (reason, requirements, fields).
    InvalidInput,
    /// The idempotency key was used with a different command.
    IdempotencyMismatch,
    /// Configuration problem.
    InvalidConfig,
    /// The store failed.
    Storage,
}

/// An error from the engine runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    temporary: bool,
}

impl Error {
    /// Construct.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            temporary: false,
        }
    }
    /// The kind, for matching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// Whether retrying the same call may succeed.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }
    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        let kind = match r.kind {
            RefusalKind::NotFound => ErrorKind::NotFound,
            RefusalKind::Forbidden => ErrorKind::Forbidden,
            RefusalKind::SeparationOfDuties => ErrorKind::SeparationOfDuties,
            RefusalKind::InvalidTransition => ErrorKind::InvalidTransition,
            RefusalKind::Conflict => ErrorKind::Conflict,
            RefusalKind::Invalid => ErrorKind::InvalidInput,
        };
        Self::new(kind, r.message)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let temporary = e.is_temporary();
        let kind = match e.kind {
            StoreErrorKind::Conflict | StoreErrorKind::DuplicateKey => ErrorKind::Conflict,
            StoreErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Storage,
        };
        Self {
            kind,
            message: e.to_string(),
            temporary,
        }
    }
}
