//! SMS and WhatsApp through an HTTP gateway with a configurable request.

use std::time::Duration;

use alur_notify::{Channel, DeliveryError, Notification};
use async_trait::async_trait;
use handlebars::Handlebars;
use serde::Deserialize;

use crate::{SetupError, http};

/// How values are escaped in the body template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    /// Inside JSON strings: `"text": "{{text}}"` (quotes, backslashes, controls escaped).
    Json,
    /// `application/x-www-form-urlencoded` values: `to={{to}}&msg={{text}}`.
    Form,
}

/// A gateway's request, from the deployer's configuration (TOML):
///
/// ```toml
/// name = "sms"
/// url = "https://gateway.example.invalid/api/send"
/// encoding = "json"
/// content_type = "application/json"
/// body = '{"to": "{{to}}", "message": "{{text}}", "ref": "{{id}}"}'
/// headers = { Authorization = "Bearer ${SMS_GATEWAY_TOKEN}" }
/// timeout_secs = 10
/// ```
///
/// Variables: `to` (the number), `text` (plain text, capped for the channel), `subject`, `id`
/// (the notification id; pass it on if the gateway de-duplicates). `${NAME}` in a header value
/// is replaced by the environment variable `NAME` when the channel is built (secrets never sit
/// in files). `Debug` hides header values.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Channel name for logs (`sms`, `whatsapp`).
    pub name: String,
    /// Endpoint; `{{to}}` and `{{id}}` may appear and are URL-encoded.
    pub url: String,
    /// Escaping of the body's values.
    pub encoding: BodyEncoding,
    /// Content type of the body.
    pub content_type: String,
    /// Body template.
    pub body: String,
    /// Extra headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Whole-request timeout in seconds (default 10).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("encoding", &self.encoding)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Sends the plain text of each notification to its phone number through the gateway.
pub struct GatewayChannel {
    name: String,
    client: reqwest::Client,
    /// `body` with the configured escaping; `url` with URL-component escaping.
    body: Handlebars<'static>,
    url: Handlebars<'static>,
    content_type: String,
    headers: reqwest::header::HeaderMap,
}

impl std::fmt::Debug for GatewayChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayChannel")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

fn form_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Replace `${NAME}` with the environment variable `NAME`.
fn expand_env(value: &str) -> Result<String, SetupError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| SetupError::Header(format!("unclosed ${{ in `{value}`")))?;
        let var = &after[..end];
        let v = std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SetupError::MissingEnv(var.to_owned()))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn registry(
    name: &str,
    source: &str,
    escape: fn(&str) -> String,
) -> Result<Handlebars<'static>, SetupError> {
    let mut r = Handlebars::new();
    r.set_strict_mode(true);
    r.register_escape_fn(escape);
    r.register_template_string(name, source)
        .map_err(|e| SetupError::Template {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
    let probe = serde_json::json!({"to": "+620", "text": "t", "subject": "s", "id": "i"});
    r.render(name, &probe).map_err(|e| SetupError::Template {
        name: name.to_owned(),
        message: format!("{e}; variables: to, text, subject, id"),
    })?;
    Ok(r)
}

impl GatewayChannel {
    /// Build the channel: parse the templates (strictly: an unknown variable fails here), read
    /// header secrets from the environment.
    ///
    /// # Errors
    /// [`SetupError`] naming the template, header or variable.
    pub fn new(config: GatewayConfig) -> Result<Self, SetupError> {
        let body = registry(
            "body",
            &config.body,
            match config.encoding {
                BodyEncoding::Json => json_escape,
                BodyEncoding::Form => form_escape,
            },
        )?;
        let url = registry("url", &config.url, form_escape)?;
        let probe = serde_json::json!({"to": "+620", "text": "t", "subject": "s", "id": "i"});
        if let Ok(u) = url.render("url", &probe) {
            http::url(&u)?;
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| SetupError::Header(k.clone()))?;
            let mut value = reqwest::header::HeaderValue::from_str(&expand_env(v)?)
                .map_err(|_| SetupError::Header(k.clone()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let timeout = Duration::from_secs(config.timeout_secs.unwrap_or(10).max(1));
        Ok(Self {
            name: config.name,
            client: http::client(timeout, Duration::from_secs(3).min(timeout))?,
            body,
            url,
            content_type: config.content_type,
            headers,
        })
    }
}

#[async_trait]
impl Channel for GatewayChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let Some(to) = n.to.as_ref() else {
            return Err(DeliveryError::permanent(format!(
                "{}: notification has no phone number",
                self.name
            )));
        };
        let data = serde_json::json!({
            "to": to.to,
            "text": n.text,
            "subject": n.subject,
            "id": n.id,
        });
        let body = self
            .body
            .render("body", &data)
            .map_err(|e| DeliveryError::permanent(format!("{}: body: {e}", self.name)))?;
        let url = self
            .url
            .render("url", &data)
            .map_err(|e| DeliveryError::permanent(format!("{}: url: {e}", self.name)))?;
        let response = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header("content-type", self.content_type.as_str())
            .body(body)
            .send()
            .await
            .map_err(|e| http::failure(&self.name, &e))?;
        http::outcome(&self.name, response.status())
    }
}
