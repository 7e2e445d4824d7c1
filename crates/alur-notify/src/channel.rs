//! Channels and what they carry.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::DeliveryError;

/// The kind of an address, which picks the channel that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// E-mail (HTML and plain text).
    Email,
    /// SMS through a gateway (plain text, capped).
    Sms,
    /// WhatsApp through a gateway (plain text, capped).
    #[serde(rename = "whatsapp")]
    WhatsApp,
    /// A JSON webhook (a host system, the province).
    Webhook,
    /// The log (tracing), for development.
    Log,
}

impl ChannelKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::WhatsApp => "whatsapp",
            Self::Webhook => "webhook",
            Self::Log => "log",
        }
    }
}

/// Where one notification goes. `Debug` does not print the address (personal data).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    /// Kind.
    pub kind: ChannelKind,
    /// E-mail address, phone number (E.164 or local), or webhook endpoint name.
    pub to: String,
}

impl Address {
    /// Construct.
    pub fn new(kind: ChannelKind, to: impl Into<String>) -> Self {
        Self {
            kind,
            to: to.into(),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("kind", &self.kind)
            .field("to", &"<redacted>")
            .finish()
    }
}

/// One rendered notification to one address. Its `id` is stable across retries and restarts:
/// receivers drop duplicates by it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Delivery id: the outbox message id, with `#<n>` when the message went to several addresses.
    pub id: String,
    /// The outbox message id.
    pub message_id: String,
    /// Tenant.
    pub tenant: String,
    /// Case.
    pub case_id: String,
    /// Audit sequence number of the event (orders a case's notifications).
    pub seq: u64,
    /// Template key (`case.received`, …).
    pub template: String,
    /// Recipient as the engine named it (`applicant`, `role:<role>@<unit>`, `officer:<id>`).
    pub recipient: String,
    /// Address (`None` when delivered raw, without recipient resolution).
    pub to: Option<Address>,
    /// Subject line (plain text, one line).
    pub subject: String,
    /// Plain-text body (for SMS and WhatsApp: control characters stripped and capped).
    pub text: String,
    /// HTML body (values escaped), for e-mail.
    pub html: Option<String>,
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("template", &self.template)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// A way out for notifications.
///
/// # Behavior
/// - `Ok(())` only when the receiver accepted the notification.
/// - A failure that may pass on its own is [`DeliveryError::temporary`]; one that will not is
///   [`DeliveryError::permanent`].
/// - Never panics; never logs the address or the body.
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// Short name for logs and errors (`webhook`, `smtp`, …).
    fn name(&self) -> &str;

    /// Deliver one notification.
    async fn send(&self, n: &Notification) -> Result<(), DeliveryError>;
}

#[async_trait]
impl<C: Channel + ?Sized> Channel for Arc<C> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        (**self).send(n).await
    }
}

#[async_trait]
impl<C: Channel + ?Sized> Channel for Box<C> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        (**self).send(n).await
    }
}

/// Accepts everything and does nothing (benchmarks, tests, switched-off channels).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopChannel;

#[async_trait]
impl Channel for NoopChannel {
    fn name(&self) -> &str {
        "noop"
    }

    async fn send(&self, _n: &Notification) -> Result<(), DeliveryError> {
        Ok(())
    }
}

/// Writes each notification's id, template and recipient kind to the log (`tracing`, target
/// `alur_notify`); never the address or the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogChannel;

#[async_trait]
impl Channel for LogChannel {
    fn name(&self) -> &str {
        "log"
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        tracing::info!(
            target: "alur_notify",
            id = %n.id,
            template = %n.template,
            kind = n.to.as_ref().map_or("raw", |a| a.kind.as_str()),
            "notification"
        );
        Ok(())
    }
}
