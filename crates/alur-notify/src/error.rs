//! Error types.

use alur_core::store::StoreError;

/// Whether a failed delivery may succeed when tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryErrorKind {
    /// Try again later (timeouts, 5xx, a receiver that is down, a store that is busy).
    Temporary,
    /// Trying again will not help (4xx, a bad address, no channel for the address): the message
    /// is parked as dead at once.
    Permanent,
}

/// A failed delivery. The message never holds personal data (addresses are not included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} delivery failure: {message}", match kind { DeliveryErrorKind::Temporary => "temporary", DeliveryErrorKind::Permanent => "permanent" })]
pub struct DeliveryError {
    /// Kind.
    pub kind: DeliveryErrorKind,
    /// Detail.
    pub message: String,
}

impl DeliveryError {
    /// A failure worth retrying.
    pub fn temporary(message: impl Into<String>) -> Self {
        Self {
            kind: DeliveryErrorKind::Temporary,
            message: message.into(),
        }
    }

    /// A failure not worth retrying.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: DeliveryErrorKind::Permanent,
            message: message.into(),
        }
    }

    /// Whether retrying may help.
    pub fn is_temporary(&self) -> bool {
        self.kind == DeliveryErrorKind::Temporary
    }
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        // A store that cannot answer now may answer later; anything else about the data is
        // still worth a retry (the case may be written by a concurrent transition), so both are
        // temporary and the attempt limit bounds them.
        Self::temporary(format!("store: {e}"))
    }
}

/// Setting up notifications failed (templates, directory files).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A template does not parse or does not render with its event's variables.
    #[error("template `{name}`: {message}")]
    Template {
        /// Template name (`case.received.text`) or file.
        name: String,
        /// What is wrong, with a hint.
        message: String,
    },
    /// A directory file cannot be read or parsed.
    #[error("directory `{path}`: {message}")]
    Directory {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
