//! The HTTP client and the mapping of answers to delivery outcomes.

use std::time::Duration;

use alur_notify::DeliveryError;

use crate::SetupError;

/// A client with timeouts, no redirects (a webhook answers itself) and TLS through rustls.
pub(crate) fn client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, SetupError> {
    #[cfg(feature = "rustls")]
    {
        // A provider installed by the host stays; otherwise ring. Either way one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("alur-notify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// Parse an http(s) URL.
pub(crate) fn url(s: &str) -> Result<reqwest::Url, SetupError> {
    let u = reqwest::Url::parse(s).map_err(|e| SetupError::Url {
        url: s.to_owned(),
        message: e.to_string(),
    })?;
    if matches!(u.scheme(), "http" | "https") {
        Ok(u)
    } else {
        Err(SetupError::Url {
            url: s.to_owned(),
            message: "only http and https are supported".into(),
        })
    }
}

/// 2xx delivered; 408, 429 and 5xx temporary; any other status permanent.
pub(crate) fn outcome(name: &str, status: reqwest::StatusCode) -> Result<(), DeliveryError> {
    let code = status.as_u16();
    match code {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(DeliveryError::temporary(format!("{name}: http {code}"))),
        _ => Err(DeliveryError::permanent(format!("{name}: http {code}"))),
    }
}

/// Transport failures (timeouts, refused connections, resets) are temporary; a request that
/// cannot even be built is permanent.
pub(crate) fn failure(name: &str, e: &reqwest::Error) -> DeliveryError {
    if e.is_builder() {
        return DeliveryError::permanent(format!("{name}: invalid request"));
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    // The error text may hold the URL; keep the message to the kind.
    DeliveryError::temporary(format!("{name}: {what}"))
}
