//! The e-mail channel against a real (minimal) SMTP server on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alur_notify::{Address, Channel, ChannelKind, Notification};
use alur_notify_email::{EmailChannel, Security, SmtpConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the server answers at each stage.
#[derive(Clone, Copy)]
struct Behaviour {
    rcpt: &'static str,
    data_end: &'static str,
    silent: bool,
}

const OK: Behaviour = Behaviour {
    rcpt: "250 2.1.5 ok",
    data_end: "250 2.0.0 queued",
    silent: false,
};

#[derive(Default, Clone, Debug)]
struct Session {
    auth: Option<String>,
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

fn b64decode(s: &str) -> Vec<u8> {
    let table = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = table(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

async fn smtp_server(behaviour: Behaviour) -> (u16, Arc<Mutex<Vec<Session>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions: Arc<Mutex<Vec<Session>>> = Arc::default();
    let out = sessions.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                if behaviour.silent {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let mut s = Session::default();
                let _ = w.write_all(b"220 test.invalid ESMTP\r\n").await;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_owned();
                    let upper = cmd.to_ascii_uppercase();
                    let reply: String = if upper.starts_with("EHLO") {
                        "250-test.invalid\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME".into()
                    } else if upper.starts_with("AUTH PLAIN") {
                        let b = cmd.split_whitespace().nth(2).unwrap_or_default();
                        s.auth = Some(String::from_utf8_lossy(&b64decode(b)).into_owned());
                        "235 2.7.0 ok".into()
                    } else if upper.starts_with("MAIL FROM") {
                        s.mail_from = cmd.clone();
                        "250 2.1.0 ok".into()
                    } else if upper.starts_with("RCPT TO") {
                        s.rcpt_to.push(cmd.clone());
                        behaviour.rcpt.into()
                    } else if upper == "DATA" {
                        let _ = w.write_all(b"354 go ahead\r\n").await;
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        s.data = data;
                        sessions.lock().unwrap().push(s.clone());
                        behaviour.data_end.into()
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else if upper == "RSET" || upper == "NOOP" {
                        "250 ok".into()
                    } else {
                        "502 unknown".into()
                    };
                    if w.write_all(format!("{reply}\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, out)
}

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: Some("layanan".into()),
        // `set_var` is unsafe and unsafe code is forbidden: use a variable cargo sets.
        password_env: Some("CARGO_PKG_NAME".into()),
        from: "Layanan Kelurahan Baloi Permai <layanan@baloi.example.invalid>".into(),
        hello_name: Some("alur.test.invalid".into()),
        timeout_secs: Some(1),
    }
}

fn note() -> Notification {
    Notification {
        id: "c-1:1:applicant".into(),
        message_id: "c-1:1:applicant".into(),
        tenant: "kepri".into(),
        case_id: "c-1".into(),
        seq: 1,
        template: "case.received".into(),
        recipient: "applicant".into(),
        to: Some(Address::new(ChannelKind::Email, "warga@example.invalid")),
        subject: "Permohonan Surat Keterangan Domisili diterima".into(),
        text: "Permohonan Anda telah kami terima.".into(),
        html: Some("<p>Permohonan &lt;Anda&gt; telah kami terima.</p>".into()),
    }
}

#[tokio::test]
async fn delivers_over_smtp_with_auth_and_both_bodies() {
    let (port, sessions) = smtp_server(OK).await;
    let ch = EmailChannel::new(&config(port)).unwrap();
    ch.send(&note()).await.unwrap();
    let got = sessions.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(
        s.auth.as_deref(),
        Some("\0layanan\0alur-notify-email"),
        "AUTH PLAIN with the password from the environment"
    );
    assert!(
        s.mail_from.contains("<layanan@baloi.example.invalid>"),
        "{}",
        s.mail_from
    );
    assert_eq!(s.rcpt_to.len(), 1);
    assert!(s.rcpt_to[0].contains("<warga@example.invalid>"));
    assert!(s.data.contains("X-Alur-Id: c-1:1:applicant"), "{}", s.data);
    assert!(s.data.contains("Message-ID: <"));
    assert!(
        s.data
            .contains("Subject: Permohonan Surat Keterangan Domisili diterima")
    );
    assert!(s.data.contains("multipart/alternative"));
    assert!(s.data.contains("Content-Type: text/plain"));
    assert!(s.data.contains("Content-Type: text/html"));
    assert!(s.data.contains("Permohonan &lt;Anda&gt;"));
}

#[tokio::test]
async fn rejections_deferrals_and_timeouts_map_to_retry_or_not() {
    let (port, _) = smtp_server(Behaviour {
        rcpt: "550 5.1.1 no such user",
        ..OK
    })
    .await;
    let e = EmailChannel::new(&config(port))
        .unwrap()
        .send(&note())
        .await
        .unwrap_err();
    assert!(!e.is_temporary(), "5xx is permanent: {e}");

    let (port, _) = smtp_server(Behaviour {
        data_end: "451 4.3.0 try again later",
        ..OK
    })
    .await;
    let e = EmailChannel::new(&config(port))
        .unwrap()
        .send(&note())
        .await
        .unwrap_err();
    assert!(e.is_temporary(), "4xx is temporary: {e}");

    let (port, _) = smtp_server(Behaviour { silent: true, ..OK }).await;
    let start = Instant::now();
    let e = EmailChannel::new(&config(port))
        .unwrap()
        .send(&note())
        .await
        .unwrap_err();
    assert!(e.is_temporary(), "a silent server times out: {e}");
    assert!(start.elapsed() < Duration::from_secs(10));

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = EmailChannel::new(&config(closed))
        .unwrap()
        .send(&note())
        .await
        .unwrap_err();
    assert!(e.is_temporary(), "nobody listening: {e}");

    // Not an e-mail address: permanent, nothing sent.
    let mut n = note();
    n.to = Some(Address::new(ChannelKind::Sms, "+62812"));
    let (port, sessions) = smtp_server(OK).await;
    let e = EmailChannel::new(&config(port))
        .unwrap()
        .send(&n)
        .await
        .unwrap_err();
    assert!(!e.is_temporary());
    assert!(sessions.lock().unwrap().is_empty());
}

#[test]
fn configuration_from_toml_and_missing_secrets() {
    let c: SmtpConfig = toml::from_str(
        r#"
host = "smtp.example.invalid"
port = 587
security = "starttls"
username = "layanan"
password_env = "ALUR_TEST_NO_SUCH_PASSWORD_VARIABLE"
from = "Layanan <layanan@example.invalid>"
"#,
    )
    .unwrap();
    assert_eq!(c.security, Security::StartTls);
    let e = EmailChannel::new(&c).unwrap_err();
    assert!(
        e.to_string()
            .contains("ALUR_TEST_NO_SUCH_PASSWORD_VARIABLE"),
        "{e}"
    );
    assert!(
        toml::from_str::<SmtpConfig>(
            "host = \"h\"\nport = 1\nsecurity = \"none\"\nfrom = \"a@b\"\npassword = \"x\"\n"
        )
        .is_err(),
        "no password key in files"
    );
}
