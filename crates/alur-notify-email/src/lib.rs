//! `alur-notify-email`: the e-mail channel for `alur-notify`, over SMTP with `lettre`.
//!
//! ```toml
//! host = "smtp.example.invalid"
//! port = 587
//! security = "starttls"          # "none", "starttls" or "tls"
//! username = "layanan@example.invalid"
//! password_env = "ALUR_SMTP_PASSWORD"   # the password comes from this environment variable
//! from = "Layanan Kelurahan <layanan@example.invalid>"
//! timeout_secs = 15
//! ```
//!
//! Each notification is one message to its address: plain text and, when rendered, HTML
//! (`multipart/alternative`), with the notification id in `X-Alur-Id` and a `Message-ID`
//! derived from it, so that receivers (and mail clients) can drop duplicates. A `5xx` answer is
//! permanent; `4xx`, timeouts and connection failures are temporary.

use std::time::Duration;

use alur_notify::{Channel, ChannelKind, DeliveryError, Notification};
use async_trait::async_trait;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (a relay on the same host or network only).
    None,
    /// `STARTTLS` required (usually port 587).
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// SMTP settings, from the deployer's configuration. The password is never in it: it is read
/// from the environment variable named by `password_env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Port (25, 465, 587, …).
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// User name for `AUTH`, if the server requires it.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the password (required with `username`).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Sender (`Name <address>` or an address).
    pub from: String,
    /// Name sent in `EHLO` (default `localhost`).
    #[serde(default)]
    pub hello_name: Option<String>,
    /// Timeout of each SMTP command and of a whole delivery, in seconds (default 15).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// Setting the channel up failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// The sender address does not parse.
    #[error("invalid sender `{0}`; write `Name <address>` or an address")]
    From(String),
    /// A username without a password variable, or a variable that is not set.
    #[error("{0}")]
    Credentials(String),
    /// TLS was asked for but this build has no TLS (feature `rustls`), or the host is invalid.
    #[error("tls: {0}")]
    Tls(String),
}

/// The notification id as a header.
#[derive(Debug, Clone)]
struct AlurId(String);

impl Header for AlurId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Alur-Id")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Sends notifications with an [`ChannelKind::Email`] address over SMTP.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel").finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// Build the channel (no connection is made until the first send).
    ///
    /// # Errors
    /// [`EmailError`] for a bad sender, missing credentials or unavailable TLS.
    pub fn new(config: &SmtpConfig) -> Result<Self, EmailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| EmailError::From(config.from.clone()))?;
        let mut builder = match config.security {
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            #[cfg(feature = "rustls")]
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| EmailError::Tls(e.to_string()))?
            }
            #[cfg(feature = "rustls")]
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| EmailError::Tls(e.to_string()))?,
            #[cfg(not(feature = "rustls"))]
            Security::StartTls | Security::Tls => {
                return Err(EmailError::Tls(
                    "this build has no TLS; enable the `rustls` feature".into(),
                ));
            }
        };
        let timeout = Duration::from_secs(config.timeout_secs.unwrap_or(15).max(1));
        builder = builder.port(config.port).timeout(Some(timeout));
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        match (&config.username, &config.password_env) {
            (Some(user), Some(var)) => {
                let password = std::env::var(var)
                    .ok()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        EmailError::Credentials(format!(
                            "environment variable {var} (the SMTP password) is not set; export it"
                        ))
                    })?;
                builder = builder.credentials(Credentials::new(user.clone(), password));
            }
            (Some(_), None) => {
                return Err(EmailError::Credentials(
                    "username given without password_env; name the variable holding the password"
                        .into(),
                ));
            }
            (None, _) => {}
        }
        Ok(Self {
            transport: builder.build(),
            from,
            timeout,
        })
    }

    fn message(&self, n: &Notification, to: Mailbox) -> Result<Message, DeliveryError> {
        let digest = Sha256::digest(n.id.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(n.subject.clone())
            .message_id(Some(format!("<{hex}@alur.invalid>")))
            .header(AlurId(n.id.clone()));
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(n.text.clone());
        let built = match &n.html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
            None => builder.singlepart(text),
        };
        built.map_err(|e| DeliveryError::permanent(format!("email: cannot build message: {e}")))
    }
}

fn failure(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
    if e.is_permanent() {
        DeliveryError::permanent(format!("smtp: rejected {code}"))
    } else if e.is_transient() {
        DeliveryError::temporary(format!("smtp: deferred {code}"))
    } else if e.is_timeout() {
        DeliveryError::temporary("smtp: timed out")
    } else if e.is_tls() {
        DeliveryError::temporary("smtp: tls failure")
    } else {
        DeliveryError::temporary("smtp: connection failure")
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &str {
        "smtp"
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let to = match &n.to {
            Some(a) if a.kind == ChannelKind::Email => {
                a.to.parse::<Mailbox>()
                    .map_err(|_| DeliveryError::permanent("smtp: invalid recipient address"))?
            }
            _ => return Err(DeliveryError::permanent("smtp: not an e-mail address")),
        };
        let message = self.message(n, to)?;
        // lettre's timeout covers commands, not the server's greeting: bound the whole exchange.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(r) => r.map(|_| ()).map_err(|e| failure(&e)),
            Err(_) => Err(DeliveryError::temporary("smtp: timed out")),
        }
    }
}
