//! Officer accounts for small offices: a TOML file of argon2 password hashes, password sign-in
//! at `/masuk`, and sessions kept in memory behind the `alur_sesi` cookie.
//!
//! ```toml
//! [[account]]
//! officer = "baloi-lurah"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! ```
//!
//! A session id is 256 random bits; the server keeps only its SHA-256 digest, with the officer,
//! the session's CSRF token and the expiry. Failed sign-ins are rate-limited per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::Authenticator;
use crate::ratelimit::RateLimiter;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "alur_sesi";

/// Sessions kept at most; the oldest are dropped beyond it.
const MAX_SESSIONS: usize = 10_000;

/// Why an accounts file was refused, or a password could not be hashed.
#[derive(Debug)]
pub enum AccountsError {
    /// The file could not be read.
    Read(std::io::Error),
    /// The file is not valid TOML of the expected shape.
    Parse(String),
    /// An account's `password_hash` is not an argon2 PHC string.
    BadHash {
        /// The account.
        officer: String,
    },
    /// An officer has two accounts, or an empty id.
    BadOfficer {
        /// The officer id.
        officer: String,
    },
    /// Hashing failed (no randomness, or the password is unusable).
    Hash(String),
}

impl std::fmt::Display for AccountsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(e) => write!(f, "cannot read the accounts file: {e}"),
            Self::Parse(e) => write!(f, "invalid accounts file: {e}"),
            Self::BadHash { officer } => write!(
                f,
                "account `{officer}`: password_hash is not an argon2 PHC string"
            ),
            Self::BadOfficer { officer } => {
                write!(f, "account `{officer}`: empty or repeated officer id")
            }
            Self::Hash(e) => write!(f, "cannot hash the password: {e}"),
        }
    }
}

impl std::error::Error for AccountsError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default)]
    account: Vec<AccountEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    officer: String,
    password_hash: String,
}

/// Hash `password` with argon2id (default parameters, a random 128-bit salt) as a PHC string
/// for an accounts file's `password_hash`.
pub fn hash_password(password: &str) -> Result<String, AccountsError> {
    if password.is_empty() {
        return Err(AccountsError::Hash("the password is empty".into()));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountsError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountsError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash no password matches, verified for unknown officers so that a sign-in takes as long
/// whether or not the account exists.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut pw = [0u8; 32];
        let _ = getrandom::fill(&mut pw);
        hash_password(&alur_core::letter::base32(&pw)).unwrap_or_default()
    })
}

fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(alur_core::letter::base32(&bytes))
}

#[derive(Debug, Clone)]
struct Session {
    officer: String,
    csrf: String,
    expires: Instant,
}

/// A signed-in session: the cookie value to send and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The value of the `alur_sesi` cookie.
    pub id: String,
    /// The token forms of this session carry.
    pub csrf: String,
}

/// The officer and CSRF token of a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The officer.
    pub officer: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// Officer accounts from a file, with password sign-in and sessions in memory.
///
/// As an [`Authenticator`] it answers from the `alur_sesi` cookie; combine it with a
/// [`crate::TokenAuthenticator`] for API clients through [`crate::AppState::with_accounts`].
pub struct FileAuthenticator {
    accounts: HashMap<String, String>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    ttl: Duration,
    failures: RateLimiter,
}

impl std::fmt::Debug for FileAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileAuthenticator")
            .field("accounts", &self.accounts.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl FileAuthenticator {
    /// Accounts from the text of an accounts file (sessions last 8 hours; 10 failed sign-ins a
    /// minute per address).
    pub fn from_toml(text: &str) -> Result<Self, AccountsError> {
        let file: AccountsFile =
            toml::from_str(text).map_err(|e| AccountsError::Parse(e.to_string()))?;
        let mut accounts = HashMap::new();
        for a in file.account {
            let officer = a.officer.trim().to_owned();
            if officer.is_empty() || accounts.contains_key(&officer) {
                return Err(AccountsError::BadOfficer { officer });
            }
            let ok = PasswordHash::new(&a.password_hash)
                .is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"));
            if !ok {
                return Err(AccountsError::BadHash { officer });
            }
            accounts.insert(officer, a.password_hash);
        }
        Ok(Self {
            accounts,
            sessions: Mutex::new(HashMap::new()),
            ttl: Duration::from_secs(8 * 3600),
            failures: RateLimiter::new(10),
        })
    }

    /// Accounts from a file.
    pub fn load(path: &Path) -> Result<Self, AccountsError> {
        let text = std::fs::read_to_string(path).map_err(AccountsError::Read)?;
        Self::from_toml(&text)
    }

    /// How long a session lasts after sign-in.
    #[must_use]
    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Failed sign-ins allowed a minute per client address (0: unlimited).
    #[must_use]
    pub fn with_failed_logins_per_minute(mut self, n: u32) -> Self {
        self.failures = RateLimiter::new(n);
        self
    }

    /// The officers with an account.
    pub fn officers(&self) -> impl Iterator<Item = &str> {
        self.accounts.keys().map(String::as_str)
    }

    /// Whether `ip` may try to sign in now (it has failed sign-ins left).
    pub fn may_try(&self, ip: IpAddr) -> bool {
        self.failures.available(ip)
    }

    /// Sign in: a new session when the password matches; a failure counts against `ip`.
    pub async fn sign_in(&self, officer: &str, password: &str, ip: IpAddr) -> Option<NewSession> {
        let officer = officer.trim();
        let known = self.accounts.get(officer);
        let hash = known.cloned().unwrap_or_else(|| decoy_hash().to_owned());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        if !(ok && known.is_some()) {
            let _ = self.failures.check(ip);
            return None;
        }
        let id = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            digest(&id),
            Session {
                officer: officer.to_owned(),
                csrf: csrf.clone(),
                expires: now + self.ttl,
            },
        );
        Some(NewSession { id, csrf })
    }

    /// The live session the request's cookie names.
    pub fn session(&self, headers: &HeaderMap) -> Option<SessionInfo> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut sessions = self.lock();
        let key = digest(&id);
        match sessions.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(SessionInfo {
                officer: s.officer.clone(),
                csrf: s.csrf.clone(),
            }),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// End the session the request's cookie names.
    pub fn sign_out(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.lock().remove(&digest(&id));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        match self.sessions.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

#[async_trait]
impl Authenticator for FileAuthenticator {
    async fn officer(&self, headers: &HeaderMap) -> Option<String> {
        self.session(headers).map(|s| s.officer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hashes_verify_and_files_are_checked() {
        let h = hash_password("rahasia").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("rahasia", &h));
        assert!(!verify_password("salah", &h));
        let text = format!("[[account]]\nofficer = \"baloi-lurah\"\npassword_hash = \"{h}\"\n");
        let a = FileAuthenticator::from_toml(&text).expect("accounts");
        assert_eq!(a.officers().collect::<Vec<_>>(), ["baloi-lurah"]);
        let bad = "[[account]]\nofficer = \"x\"\npassword_hash = \"plain\"\n";
        assert!(matches!(
            FileAuthenticator::from_toml(bad),
            Err(AccountsError::BadHash { .. })
        ));
        let twice = format!("{text}{text}");
        assert!(matches!(
            FileAuthenticator::from_toml(&twice),
            Err(AccountsError::BadOfficer { .. })
        ));
        assert!(FileAuthenticator::from_toml("[[akun]]").is_err());
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; alur_sesi=xyz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
