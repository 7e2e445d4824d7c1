//! `alur-notify-webhook`: HTTP channels for `alur-notify`.
//!
//! - [`WebhookChannel`]: each notification as a JSON `POST`, signed with HMAC-SHA256 over the
//!   timestamp and the body ([`sign`], [`verify`]); 2xx is delivered, 4xx permanent (except 408
//!   and 429), 5xx, timeouts and connection failures are retried.
//! - [`GatewayChannel`]: SMS and WhatsApp through an HTTP gateway whose request (URL, headers,
//!   body) is a template in the deployer's configuration, since Indonesian gateways differ.
//!
//! Secrets (the signing key, gateway tokens) come from the environment, never from files.

mod gateway;
mod http;
mod signature;
mod webhook;

pub use gateway::{BodyEncoding, GatewayChannel, GatewayConfig};
pub use signature::{SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, sign, verify};
pub use webhook::{ID_HEADER, WebhookChannel, WebhookConfig};

/// Setting a channel up failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// A required environment variable is missing or empty.
    #[error("environment variable {0} is not set; export it (secrets are never read from files)")]
    MissingEnv(String),
    /// The URL does not parse or is not http(s).
    #[error("invalid url `{url}`: {message}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        message: String,
    },
    /// A template does not parse.
    #[error("gateway template `{name}`: {message}")]
    Template {
        /// Which one.
        name: String,
        /// Why.
        message: String,
    },
    /// A header name or value is invalid.
    #[error("invalid header `{0}`")]
    Header(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
}
