//! Signers: the local Ed25519 signer, and the BSrE-style HTTP signer against a fake service on
//! 127.0.0.1 (no network).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alur_letter::{
    ClientSecret, HttpSigner, LocalEd25519Signer, Passphrase, SignError, Signer, verify_ed25519,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const NIK: &str = "2171014506800003";
const RIGHT: &str = "Benar#Sekali-42";
const WRONG: &str = "salah-tebak-99";
const CLIENT_SECRET: &str = "client-secret-xyz";

#[tokio::test]
async fn local_signer_signs_the_digest_and_verifies() {
    let signer = LocalEd25519Signer::from_seed(&[7; 32]);
    let signed = signer
        .sign(PDF.to_vec(), NIK, &Passphrase::new("apa saja"))
        .await
        .unwrap();
    assert_eq!(signed.pdf, PDF, "the PDF is unchanged");
    assert_eq!(signed.algorithm, LocalEd25519Signer::ALGORITHM);
    assert_eq!(signed.signer_id, NIK);
    let sig = signed.signature.clone().unwrap();
    assert_eq!(sig.len(), 64);
    signer.verify(PDF, &sig).unwrap();
    verify_ed25519(&signer.public_key(), PDF, &sig).unwrap();
    let mut tampered = PDF.to_vec();
    tampered[3] = b'X';
    assert!(matches!(
        signer.verify(&tampered, &sig),
        Err(SignError::BadSignature)
    ));
    let other = LocalEd25519Signer::from_seed(&[8; 32]);
    assert!(other.verify(PDF, &sig).is_err());
    assert!(
        !format!("{signed:?}").contains("PDF-1.7"),
        "Debug shows sizes, not bytes"
    );
}

#[tokio::test]
async fn local_signer_checks_its_passphrase_when_given_one() {
    let signer = LocalEd25519Signer::from_seed(&[7; 32]).with_passphrase(&Passphrase::new(RIGHT));
    let err = signer
        .sign(PDF.to_vec(), NIK, &Passphrase::new(WRONG))
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::WrongPassphrase { .. }), "{err:?}");
    assert!(!err.to_string().contains(WRONG));
    assert!(!format!("{signer:?}").contains(RIGHT));
    signer
        .sign(PDF.to_vec(), NIK, &Passphrase::new(RIGHT))
        .await
        .unwrap();
}

#[test]
fn local_keys_load_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("seed.bin");
    std::fs::write(&raw, [7u8; 32]).unwrap();
    let hex = dir.path().join("seed.hex");
    std::fs::write(&hex, format!("{}\n", "07".repeat(32))).unwrap();
    let a = LocalEd25519Signer::from_seed_file(&raw).unwrap();
    let b = LocalEd25519Signer::from_seed_file(&hex).unwrap();
    assert_eq!(a.public_key(), b.public_key());
    assert_eq!(
        a.public_key(),
        LocalEd25519Signer::from_seed(&[7; 32]).public_key()
    );

    let bad = dir.path().join("bad");
    std::fs::write(&bad, "not a key").unwrap();
    let err = LocalEd25519Signer::from_seed_file(&bad).unwrap_err();
    assert!(err.to_string().contains("64 hexadecimal"), "{err}");
    assert!(LocalEd25519Signer::from_seed_file(&dir.path().join("none")).is_err());
    // An unset variable (the test never sets one: the environment is shared between tests).
    let err = LocalEd25519Signer::from_env("ALUR_LETTER_TEST_UNSET_SEED").unwrap_err();
    assert!(
        err.to_string().contains("ALUR_LETTER_TEST_UNSET_SEED"),
        "{err}"
    );
}

#[test]
fn secrets_never_print() {
    let p = Passphrase::new(RIGHT);
    assert_eq!(format!("{p:?}"), "***");
    assert_eq!(format!("{p}"), "***");
    assert_eq!(p.expose_secret(), RIGHT);
    let s = ClientSecret::new(CLIENT_SECRET);
    assert_eq!(format!("{s:?}"), "***");
}

/// One request as the fake service saw it.
#[derive(Debug, Clone, Default)]
struct Seen {
    path: String,
    authorization: String,
    content_type: String,
    parts: Vec<(String, Option<String>, Vec<u8>)>,
}

/// A fake BSrE signing service: checks the passphrase, answers the "signed" PDF, or the JSON
/// errors the real service sends; `mode` = "ok", "busy" (503) or "slow" (never answers in time).
async fn fake_bsre(mode: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head_end, length) = loop {
                    let k = sock.read(&mut chunk).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let k = sock.read(&mut chunk).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let header = |name: &str| {
                    head.lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_owned())
                        .unwrap_or_default()
                };
                let content_type = header("content-type");
                let boundary = content_type
                    .split("boundary=")
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let request = Seen {
                    path: head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned(),
                    authorization: header("authorization"),
                    parts: parse_multipart(&buf[head_end..head_end + length], &boundary),
                    content_type,
                };
                seen.lock().unwrap().push(request.clone());
                let field = |name: &str| {
                    request
                        .parts
                        .iter()
                        .find(|p| p.0 == name)
                        .map(|p| p.2.clone())
                        .unwrap_or_default()
                };
                let (status, ctype, body): (&str, &str, Vec<u8>) = match mode {
                    "busy" => ("503 Service Unavailable", "text/plain", b"busy".to_vec()),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        return;
                    }
                    _ if field("passphrase") != RIGHT.as_bytes() => (
                        "400 Bad Request",
                        "application/json",
                        br#"{"error":"Passphrase anda salah","status_code":2031}"#.to_vec(),
                    ),
                    _ if field("nik") != NIK.as_bytes() => (
                        "400 Bad Request",
                        "application/json",
                        br#"{"error":"NIK tidak terdaftar","status_code":2021}"#.to_vec(),
                    ),
                    _ => {
                        let mut pdf = field("file");
                        pdf.extend_from_slice(b"% signed by fake BSrE\n");
                        ("200 OK", "application/pdf", pdf)
                    }
                };
                let mut response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                response.extend_from_slice(&body);
                let _ = sock.write_all(&response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (base, log)
}

/// (name, filename, content) of each part.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(String, Option<String>, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for w in starts.windows(2) {
        let part = &body[w[0] + d.len() + 2..w[1] - 2];
        let Some(split) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..split]).to_string();
        let attr = |key: &str| {
            headers
                .split(';')
                .find_map(|s| s.trim().strip_prefix(&format!("{key}=\"")))
                .and_then(|s| s.split('"').next())
                .map(str::to_owned)
        };
        parts.push((
            attr("name").unwrap_or_default(),
            attr("filename"),
            part[split + 4..].to_vec(),
        ));
    }
    parts
}

fn signer(base: &str, timeout: Duration) -> HttpSigner {
    HttpSigner::new(
        base,
        "alur-client",
        ClientSecret::new(CLIENT_SECRET),
        timeout,
    )
    .unwrap()
}

#[tokio::test]
async fn http_signer_sends_the_bsre_form_and_returns_the_signed_pdf() {
    let (base, seen) = fake_bsre("ok").await;
    let s = signer(&format!("{base}/"), Duration::from_secs(10));
    let signed = s
        .sign(PDF.to_vec(), NIK, &Passphrase::new(RIGHT))
        .await
        .unwrap();
    assert!(signed.pdf.starts_with(PDF));
    assert!(signed.pdf.ends_with(b"% signed by fake BSrE\n"));
    assert_eq!(signed.signature, None, "the signature is inside the PDF");
    assert_eq!(signed.algorithm, HttpSigner::ALGORITHM);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/api/sign/pdf");
    assert!(r.content_type.starts_with("multipart/form-data; boundary="));
    // Basic base64("alur-client:client-secret-xyz").
    assert_eq!(
        r.authorization,
        "Basic YWx1ci1jbGllbnQ6Y2xpZW50LXNlY3JldC14eXo="
    );
    let names: Vec<&str> = r.parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["file", "nik", "passphrase", "tampilan"]);
    assert_eq!(r.parts[0].1.as_deref(), Some("surat.pdf"));
    assert_eq!(r.parts[0].2, PDF);
    assert_eq!(r.parts[1].2, NIK.as_bytes());
    assert_eq!(r.parts[2].2, RIGHT.as_bytes());
    assert_eq!(r.parts[3].2, b"invisible");
}

#[tokio::test]
async fn http_signer_reports_a_wrong_passphrase_without_revealing_it() {
    let (base, _) = fake_bsre("ok").await;
    let s = signer(&base, Duration::from_secs(10));
    let err = s
        .sign(PDF.to_vec(), NIK, &Passphrase::new(WRONG))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignError::WrongPassphrase { signer_id } if signer_id == NIK),
        "{err:?}"
    );
    assert!(!err.is_temporary());
    for text in [err.to_string(), format!("{err:?}"), format!("{s:?}")] {
        assert!(!text.contains(WRONG), "{text}");
        assert!(!text.contains(RIGHT), "{text}");
        assert!(!text.contains(CLIENT_SECRET), "{text}");
    }
}

#[tokio::test]
async fn http_signer_reports_other_refusals_with_the_service_code() {
    let (base, _) = fake_bsre("ok").await;
    let s = signer(&base, Duration::from_secs(10));
    let err = s
        .sign(PDF.to_vec(), "0000000000000000", &Passphrase::new(RIGHT))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SignError::Rejected {
                status: 400,
                code: Some(2021),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("NIK tidak terdaftar"), "{err}");
    assert!(!err.to_string().contains(RIGHT));
    assert!(!format!("{err:?}").contains(RIGHT));
}

#[tokio::test]
async fn http_signer_outages_are_temporary() {
    let (base, _) = fake_bsre("busy").await;
    let err = signer(&base, Duration::from_secs(10))
        .sign(PDF.to_vec(), NIK, &Passphrase::new(RIGHT))
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::Unavailable { .. }), "{err:?}");
    assert!(err.is_temporary());

    let (base, _) = fake_bsre("slow").await;
    let err = signer(&base, Duration::from_millis(300))
        .sign(PDF.to_vec(), NIK, &Passphrase::new(RIGHT))
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(!format!("{err:?}").contains(RIGHT));

    // Nobody listening.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let err = signer(&dead, Duration::from_secs(5))
        .sign(PDF.to_vec(), NIK, &Passphrase::new(RIGHT))
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
}

#[test]
fn http_signer_rejects_bad_urls() {
    for bad in ["not a url", "ftp://tte.example"] {
        let err = HttpSigner::new(
            bad,
            "id",
            ClientSecret::new(CLIENT_SECRET),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err, SignError::Config { .. }), "{err:?}");
        assert!(!err.to_string().contains(CLIENT_SECRET));
    }
    let s = HttpSigner::new(
        "https://tte.example/bsre",
        "id",
        ClientSecret::new(CLIENT_SECRET),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(s.endpoint(), "https://tte.example/bsre/api/sign/pdf");
}
