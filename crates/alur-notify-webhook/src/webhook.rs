//! The webhook channel.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alur_notify::{Channel, DeliveryError, Notification};
use async_trait::async_trait;

use crate::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::{SetupError, http};

/// Header carrying the notification id (receivers drop duplicates by it).
pub const ID_HEADER: &str = "x-alur-id";

/// Settings of a [`WebhookChannel`]. `Debug` hides the secret.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Endpoint (http or https).
    pub url: String,
    /// Signing key.
    pub secret: Vec<u8>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    /// `url`, the key from the environment variable `secret_var`, 10 s timeout, 3 s to connect.
    ///
    /// # Errors
    /// [`SetupError::MissingEnv`] when the variable is unset or empty.
    pub fn from_env(url: impl Into<String>, secret_var: &str) -> Result<Self, SetupError> {
        let secret = std::env::var(secret_var)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SetupError::MissingEnv(secret_var.to_owned()))?;
        Ok(Self::new(url, secret.into_bytes()))
    }

    /// `url` and `secret`, 10 s timeout, 3 s to connect.
    pub fn new(url: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            url: url.into(),
            secret,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// Posts each [`Notification`] as JSON, signed: headers [`ID_HEADER`], [`TIMESTAMP_HEADER`]
/// (Unix seconds) and [`SIGNATURE_HEADER`] (`v1=` hex HMAC-SHA256 of `<timestamp>.<body>`).
pub struct WebhookChannel {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl WebhookChannel {
    /// Build the channel.
    ///
    /// # Errors
    /// A bad URL, or an HTTP client that cannot be built.
    pub fn new(config: WebhookConfig) -> Result<Self, SetupError> {
        Ok(Self {
            client: http::client(config.timeout, config.connect_timeout)?,
            url: http::url(&config.url)?,
            secret: config.secret,
        })
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(n)
            .map_err(|e| DeliveryError::permanent(format!("webhook: body: {e}")))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = sign(&self.secret, now, &body);
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header(ID_HEADER, n.id.as_str())
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| http::failure("webhook", &e))?;
        http::outcome("webhook", response.status())
    }
}
