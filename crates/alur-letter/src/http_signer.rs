//! [`HttpSigner`]: an adapter for a signing service shaped like the national e-signature
//! service (BSrE TTE API).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::sign::{ClientSecret, Passphrase, SignError, Signed, Signer, hex};

/// Signs through an HTTP signing service shaped like BSrE's TTE API:
///
/// - `POST {base}/api/sign/pdf`, HTTP Basic authentication with the client id and secret,
///   `multipart/form-data` with `file` (the PDF), `nik` (the signer id), `passphrase` and
///   `tampilan=invisible` (no visible stamp: the letter carries its QR code already);
/// - `200` answers the signed PDF (the signature embedded, PAdES);
/// - `400`/`401`/`403` answer JSON like `{"error":"Passphrase anda salah","status_code":2031}`:
///   code 2031 or a message about the passphrase is [`SignError::WrongPassphrase`], anything else
///   [`SignError::Rejected`];
/// - `408`, `429`, `5xx`, timeouts and refused connections are [`SignError::Unavailable`]
///   (temporary).
///
/// No redirect is followed (the passphrase must not travel elsewhere) and no error message holds
/// the passphrase.
pub struct HttpSigner {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    client_id: String,
    client_secret: ClientSecret,
}

impl fmt::Debug for HttpSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSigner")
            .field("endpoint", &self.endpoint.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// The BSrE code for a wrong passphrase.
const WRONG_PASSPHRASE_CODE: i64 = 2031;

impl HttpSigner {
    /// The algorithm name in [`Signed::algorithm`].
    pub const ALGORITHM: &'static str = "pades-bsre";
    /// The path of the signing endpoint below the base URL.
    pub const SIGN_PATH: &'static str = "api/sign/pdf";
    /// The default time allowed for one signing.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A signer for the service at `base_url` (e.g. `https://tte.example.go.id`, with or without a
    /// path prefix) with the client credentials the service issued.
    pub fn new(
        base_url: &str,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
        timeout: Duration,
    ) -> Result<Self, SignError> {
        let base = reqwest::Url::parse(base_url.trim()).map_err(|e| SignError::Config {
            message: format!("signing service URL {base_url:?} does not parse ({e}); give an http(s) URL such as https://tte.example.go.id"),
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(SignError::Config {
                message: format!(
                    "signing service URL {base_url:?} is not http(s); give an https URL"
                ),
            });
        }
        let endpoint = reqwest::Url::parse(&format!(
            "{}/{}",
            base.as_str().trim_end_matches('/'),
            Self::SIGN_PATH
        ))
        .map_err(|e| SignError::Config {
            message: format!("signing service URL {base_url:?}: {e}"),
        })?;
        #[cfg(feature = "rustls")]
        {
            // A provider installed by the host stays; otherwise ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("alur-letter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SignError::Config {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            endpoint,
            client_id: client_id.into(),
            client_secret,
        })
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }
}

#[async_trait]
impl Signer for HttpSigner {
    async fn sign(
        &self,
        pdf: Vec<u8>,
        signer_id: &str,
        passphrase: &Passphrase,
    ) -> Result<Signed, SignError> {
        let parts = [
            Part {
                name: "file",
                file: Some(("surat.pdf", "application/pdf")),
                data: &pdf,
            },
            Part {
                name: "nik",
                file: None,
                data: signer_id.as_bytes(),
            },
            Part {
                name: "passphrase",
                file: None,
                data: passphrase.expose_secret().as_bytes(),
            },
            Part {
                name: "tampilan",
                file: None,
                data: b"invisible",
            },
        ];
        let (boundary, body) = multipart(&parts);
        let response = self
            .client
            .post(self.endpoint.clone())
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| transport(&e))?;
        match status {
            200 => {
                if bytes.starts_with(b"%PDF-") {
                    Ok(Signed {
                        pdf: bytes.to_vec(),
                        signature: None,
                        signer_id: signer_id.to_owned(),
                        algorithm: Self::ALGORITHM.to_owned(),
                    })
                } else {
                    Err(SignError::Rejected {
                        status,
                        code: None,
                        message: "the service answered 200 without a PDF; check the base URL"
                            .into(),
                    })
                }
            }
            408 | 429 | 500..=599 => Err(SignError::Unavailable {
                message: format!("http {status}"),
            }),
            _ => Err(refusal(status, &bytes, signer_id, passphrase)),
        }
    }
}

/// Map a 4xx (or another unexpected status) and its JSON body to an error.
fn refusal(status: u16, body: &[u8], signer_id: &str, passphrase: &Passphrase) -> SignError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: Option<String>,
        message: Option<String>,
        status_code: Option<i64>,
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.status_code);
    let message = parsed
        .as_ref()
        .and_then(|b| b.error.clone().or_else(|| b.message.clone()))
        .unwrap_or_default();
    if code == Some(WRONG_PASSPHRASE_CODE) || message.to_lowercase().contains("passphrase") {
        return SignError::WrongPassphrase {
            signer_id: signer_id.to_owned(),
        };
    }
    let message = if message.trim().is_empty() {
        match status {
            401 => "unauthorised: check the signing service's client id and secret".to_owned(),
            _ => "no reason given".to_owned(),
        }
    } else {
        mask(&message, passphrase)
    };
    SignError::Rejected {
        status,
        code,
        message,
    }
}

/// A service message, shortened, with the passphrase masked should the service echo it.
fn mask(message: &str, passphrase: &Passphrase) -> String {
    let mut m: String = message.chars().take(300).collect();
    let p = passphrase.expose_secret();
    if !p.is_empty() {
        m = m.replace(p, "***");
    }
    m
}

/// Transport failures are temporary, except a request that cannot be built. The message keeps
/// to the kind (reqwest's text may hold the URL).
fn transport(e: &reqwest::Error) -> SignError {
    if e.is_builder() {
        return SignError::Config {
            message: "the signing request cannot be built; check the base URL".into(),
        };
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    SignError::Unavailable {
        message: what.into(),
    }
}

struct Part<'a> {
    name: &'a str,
    /// File name and media type, for a file part.
    file: Option<(&'a str, &'a str)>,
    data: &'a [u8],
}

/// A `multipart/form-data` body (RFC 7578) and its boundary: a boundary derived from the content
/// and checked not to occur in any part.
fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let mut seed = Sha256::new();
    for p in parts {
        seed.update(p.data);
    }
    let seed = seed.finalize();
    let mut n = 0u32;
    let boundary = loop {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(n.to_be_bytes());
        let candidate = format!("alur-{}", &hex(&h.finalize())[..32]);
        let needle = candidate.as_bytes();
        if !parts
            .iter()
            .any(|p| p.data.windows(needle.len()).any(|w| w == needle))
        {
            break candidate;
        }
        n += 1;
    };
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"\r\n");
        match p.file {
            Some((filename, media_type)) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n",
                        p.name
                    )
                    .as_bytes(),
                );
            }
            None => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    p.name
                )
                .as_bytes(),
            ),
        }
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    (boundary, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_avoids_content() {
        let parts = [Part {
            name: "x",
            file: None,
            data: b"hello",
        }];
        let (b, body) = multipart(&parts);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(text.ends_with(&format!("--{b}--\r\n")));
        assert!(text.contains("name=\"x\"\r\n\r\nhello\r\n"));
    }

    #[test]
    fn refusal_mapping() {
        let p = Passphrase::new("rahasia-123");
        let e = refusal(
            400,
            br#"{"error":"Passphrase anda salah","status_code":2031}"#,
            "3171",
            &p,
        );
        assert!(matches!(e, SignError::WrongPassphrase { .. }));
        let e = refusal(
            400,
            br#"{"error":"user rahasia-123 tidak terdaftar","status_code":2021}"#,
            "3171",
            &p,
        );
        let text = e.to_string();
        assert!(matches!(
            e,
            SignError::Rejected {
                code: Some(2021),
                ..
            }
        ));
        assert!(!text.contains("rahasia-123"), "{text}");
        let e = refusal(401, b"", "3171", &p);
        assert!(e.to_string().contains("client id and secret"));
    }
}
