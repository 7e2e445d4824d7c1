//! `alur-notify`: delivering the transactional outbox.
//!
//! Every notification is written to the outbox in the transition's transaction (see
//! `alur_core::store::OutboxMessage`). This crate takes it from there:
//!
//! - [`Dispatcher`]: a tokio task that claims batches with a lease
//!   ([`Store::claim_outbox`](alur_core::store::Store::claim_outbox)), delivers them, and settles
//!   the outcomes in one call: delivered, retried later with exponential backoff and jitter, or
//!   parked as dead after [`DispatcherConfig::max_attempts`] (listed and retried by hand through
//!   the store). Only the oldest open message of a case is ever claimed, so per-case order holds;
//!   every message carries its stable id, which receivers use to drop duplicates (delivery is at
//!   least once).
//! - [`Channel`]: where a rendered [`Notification`] goes (log, webhook, e-mail, SMS/WhatsApp
//!   gateways live in adapter crates). Retry, timeout and rate limit are [layers](layer) around
//!   any channel, not code inside each one.
//! - [`Templates`]: handlebars, with Indonesian defaults for every event, overridable per regency
//!   from files, strict (a missing variable is an error at validation, not at send time),
//!   HTML-escaped for mail and plain text without control characters, capped, for SMS and
//!   WhatsApp. Templates come only from the deployer's files, never from request data.
//! - [`Directory`]: addresses of officers by role and unit (the host implements it;
//!   [`TomlDirectory`] reads a file for the examples). The applicant's own contact comes from the
//!   submission.
//! - [`Notifier`]: the [`Deliver`] implementation that ties them together: loads the case,
//!   resolves recipients, renders, routes by channel kind.

mod channel;
mod directory;
mod dispatcher;
mod error;
pub mod layer;
mod notifier;
mod template;
mod text;

pub use channel::{Address, Channel, ChannelKind, LogChannel, NoopChannel, Notification};
pub use directory::{Directory, OfficerContact, TomlDirectory};
pub use dispatcher::{Backoff, Deliver, Direct, Dispatcher, DispatcherConfig, DispatcherHandle};
pub use error::{DeliveryError, DeliveryErrorKind, NotifyError};
pub use layer::{ChannelExt, Layer};
pub use notifier::{Notifier, NotifierSettings, applicant_addresses};
pub use template::{EVENTS, Part, Rendered, Templates, TextLimits};
pub use text::{format_time, plain_text};
