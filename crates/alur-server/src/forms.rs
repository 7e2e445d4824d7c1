//! What every page form shares: CSRF tokens, cookies and the form body.
//!
//! A signed-in session's forms carry the session's own token. Without a session (the citizen's
//! submission form, the sign-in form, officers recognised by a header) the token is a random
//! value also set in the `alur_csrf` cookie (double submit): a cross-site form can send neither.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use alur_core::Store;
use alur_core::publish::escape as e;

use crate::AppState;
use crate::accounts::cookie;

/// The double-submit cookie.
pub(crate) const CSRF_COOKIE: &str = "alur_csrf";

/// A form's CSRF token, and the cookie to set when it is new.
pub(crate) struct Csrf {
    pub token: String,
    pub set_cookie: Option<String>,
}

impl Csrf {
    /// The hidden input carrying the token.
    pub fn input(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            e(&self.token)
        )
    }

    /// Set the cookie on a response when the token is new.
    pub fn apply(&self, r: &mut Response) {
        if let Some(c) = &self.set_cookie
            && let Ok(v) = HeaderValue::from_str(c)
        {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// `name=value` with the attributes every cookie of the desk has.
pub(crate) fn set_cookie<S: Store>(state: &AppState<S>, name: &str, value: &str) -> String {
    let secure = if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// A cookie's removal.
pub(crate) fn clear_cookie<S: Store>(state: &AppState<S>, name: &str) -> String {
    format!("{}; Max-Age=0", set_cookie(state, name, ""))
}

fn plausible(token: &str) -> bool {
    (40..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The token for a form rendered for this request.
pub(crate) fn csrf_for<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Csrf {
    if let Some(s) = state.accounts.as_ref().and_then(|a| a.session(headers)) {
        return Csrf {
            token: s.csrf,
            set_cookie: None,
        };
    }
    if let Some(t) = cookie(headers, CSRF_COOKIE).filter(|t| plausible(t)) {
        return Csrf {
            token: t,
            set_cookie: None,
        };
    }
    let mut bytes = [0u8; 32];
    // Without randomness the token stays empty and every POST is refused.
    let token = if getrandom::fill(&mut bytes).is_ok() {
        alur_core::letter::base32(&bytes)
    } else {
        String::new()
    };
    Csrf {
        set_cookie: Some(set_cookie(state, CSRF_COOKIE, &token)),
        token,
    }
}

/// Whether a posted form's token is the one this request may use.
pub(crate) fn csrf_ok<S: Store>(state: &AppState<S>, headers: &HeaderMap, given: &str) -> bool {
    let expected = match state.accounts.as_ref().and_then(|a| a.session(headers)) {
        Some(s) => s.csrf,
        None => match cookie(headers, CSRF_COOKIE) {
            Some(t) if plausible(&t) => t,
            _ => return false,
        },
    };
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A form body as its name/value pairs (repeated names kept).
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `prefix[key]` pairs as `(key, value)`.
    pub fn indexed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.iter().filter_map(move |(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
                .map(|key| (key, v.as_str()))
        })
    }
}

/// Parse an `application/x-www-form-urlencoded` body.
pub(crate) fn parse(body: &[u8]) -> Option<Fields> {
    serde_urlencoded_pairs(body).map(Fields)
}

fn serde_urlencoded_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode(k)?, decode(v)?));
    }
    Some(out)
}

fn decode(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let h = it.next()?;
                let l = it.next()?;
                let hex = |c: u8| (c as char).to_digit(16);
                bytes.push((hex(h)? * 16 + hex(l)?) as u8);
            }
            _ => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The client's address (unspecified when the server was not started with connect info).
pub(crate) struct ClientIp(pub IpAddr);

impl<St: Send + Sync> FromRequestParts<St> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<crate::ratelimit::ClientAddr>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0),
        ))
    }
}

/// Percent-encode a value for a URL's query or path segment.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        let f = parse(b"a=1&b=x+y%21&c%5Bnama%5D=Ani&b=2").expect("form");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("b").collect::<Vec<_>>(), ["x y!", "2"]);
        assert_eq!(f.indexed("c").collect::<Vec<_>>(), [("nama", "Ani")]);
        assert!(parse(b"a=%zz").is_none());
        assert_eq!(url_encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
