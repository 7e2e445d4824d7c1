//! Who is asking: the [`Authenticator`] a host implements (its single sign-on), and two small
//! ones bundled here.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{HeaderMap, HeaderName, header};
use sha2::{Digest, Sha256};

/// Turns a request's headers into the officer id it speaks for.
///
/// # Behavior
/// - Returns `Some(officer id)` for a request of an authenticated officer (an id of the
///   configuration's `[[officer]]` list; an unknown id is treated as an officer without posts).
/// - Returns `None` for an anonymous request (applicants never sign in: they use tracking codes).
/// - Must not fail the request: an invalid credential is `None`.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The officer the request speaks for, if any.
    async fn officer(&self, headers: &HeaderMap) -> Option<String>;
}

/// Nobody is an officer: only the public endpoints work.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuthenticator;

#[async_trait]
impl Authenticator for NoAuthenticator {
    async fn officer(&self, _headers: &HeaderMap) -> Option<String> {
        None
    }
}

/// Static API tokens: `Authorization: Bearer <token>` maps to an officer. Tokens are kept only as
/// SHA-256 digests, so the lookup neither keeps the secrets in memory nor compares them byte by
/// byte.
#[derive(Clone, Default)]
pub struct TokenAuthenticator {
    tokens: HashMap<[u8; 32], String>,
}

impl std::fmt::Debug for TokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthenticator")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl TokenAuthenticator {
    /// No tokens yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept `token` for `officer`.
    #[must_use]
    pub fn with_token(mut self, token: &str, officer: impl Into<String>) -> Self {
        self.tokens
            .insert(Sha256::digest(token.as_bytes()).into(), officer.into());
        self
    }
}

#[async_trait]
impl Authenticator for TokenAuthenticator {
    async fn officer(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        self.tokens.get(&digest).cloned()
    }
}

/// A header set by an authenticating reverse proxy (e.g. `X-Remote-User` after the regency's
/// SSO). Only safe when the proxy strips the header from clients' requests and nothing else can
/// reach the server.
#[derive(Debug, Clone)]
pub struct TrustedHeaderAuthenticator {
    header: HeaderName,
}

impl TrustedHeaderAuthenticator {
    /// Trust `header` (e.g. `x-remote-user`).
    pub fn new(header: HeaderName) -> Self {
        Self { header }
    }
}

#[async_trait]
impl Authenticator for TrustedHeaderAuthenticator {
    async fn officer(&self, headers: &HeaderMap) -> Option<String> {
        let v = headers.get(&self.header)?.to_str().ok()?.trim();
        (!v.is_empty() && v.len() <= 128).then(|| v.to_owned())
    }
}

/// Several authenticators asked in turn: the first that recognises the request wins (e.g. the
/// session cookie of a [`crate::FileAuthenticator`], then API tokens).
#[derive(Clone, Default)]
pub struct ChainAuthenticator {
    links: Vec<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for ChainAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainAuthenticator")
            .field("links", &self.links.len())
            .finish()
    }
}

impl ChainAuthenticator {
    /// No authenticator yet (nobody is recognised).
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask `auth` after the ones already chained.
    #[must_use]
    pub fn or(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.links.push(auth);
        self
    }
}

#[async_trait]
impl Authenticator for ChainAuthenticator {
    async fn officer(&self, headers: &HeaderMap) -> Option<String> {
        for a in &self.links {
            if let Some(o) = a.officer(headers).await {
                return Some(o);
            }
        }
        None
    }
}
