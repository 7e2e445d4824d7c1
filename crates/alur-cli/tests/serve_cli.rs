//! `alur serve` as a user starts it: a fresh SQLite file and pseudonym key are created, the URL
//! is printed, and the service desk answers over real HTTP until the process is stopped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    (status_of(&body), body)
}

/// The status code of a raw HTTP answer.
fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn post_json(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nIdempotency-Key: serve-cli-1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    (status_of(&answer), answer)
}

#[test]
fn serve_starts_on_a_fresh_directory_and_answers() {
    let dir = std::env::temp_dir().join(format!("alur-serve-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("alur.db").display());
    let key = dir.join("pseudonym.key");
    let accounts = dir.join("accounts.toml");
    let add = |password: &str| {
        Command::new(env!("CARGO_BIN_EXE_alur"))
            .args(["account", "add", "--officer", "baloi-lurah", "--file"])
            .arg(&accounts)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("ALUR_PASSWORD", password)
            .output()
            .expect("alur account add runs")
    };
    assert!(
        !add("pendek").status.success(),
        "a short password is refused"
    );
    let out = add("kata-sandi-lurah-2026");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&accounts).unwrap();
    assert!(text.contains("$argon2id$") && !text.contains("kata-sandi-lurah-2026"));
    assert!(
        !add("kata-sandi-lurah-2026").status.success(),
        "one account per officer"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_alur"))
        .args([
            "serve",
            "--db",
            &db,
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://layanan.example.go.id/",
            "--pseudonym-key-file",
        ])
        .arg(&key)
        .arg("--accounts")
        .arg(&accounts)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env_remove("ALUR_PSEUDONYM_KEY")
        .env_remove("ALUR_CHECKPOINT_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("alur serve starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("buka / open: http://") {
            break url.trim_end_matches('/').to_owned();
        }
    };
    let result = std::panic::catch_unwind(|| {
        let (status, body) = get(&addr, "/health");
        assert_eq!(status, 200, "{body}");
        let (status, body) = get(&addr, "/api/v1/services");
        assert_eq!(status, 200);
        assert!(body.contains("batam-domisili"), "{body}");
        let (status, body) = get(&addr, "/");
        assert_eq!(status, 200);
        assert!(body.contains("Surat Keterangan Domisili"));
        let (status, body) = get(&addr, "/verifikasi/abcdefghijklmnopqrstuvwxyz234567");
        assert_eq!(status, 404);
        assert!(body.contains("TIDAK DIKENAL"), "{body}");
        let (status, body) = get(&addr, "/masuk");
        assert_eq!(status, 200);
        assert!(body.contains("<form"), "the sign-in form: {body}");
        let (status, body) = get(&addr, "/openapi.json");
        assert_eq!(status, 200);
        assert!(body.contains("\"openapi\""));
        // The public address is the base of the links handed out, and https brings HSTS.
        let (_, page) = get(&addr, "/");
        assert!(
            page.to_ascii_lowercase()
                .contains("strict-transport-security: max-age=31536000"),
            "{page}"
        );
        let (status, answer) = post_json(
            &addr,
            "/api/v1/cases",
            r#"{"service":"batam-domisili","unit":"21.71.10.1001","nik":"2171104512900001","fields":{"nama":"Rina","alamat":"Jl. Uji","keperluan":"Uji"}}"#,
        );
        assert_eq!(status, 201, "{answer}");
        assert!(
            answer.contains("\"tracking_url\":\"https://layanan.example.go.id/lacak/"),
            "{answer}"
        );
        assert!(
            answer.contains("\"receipt_url\":\"https://layanan.example.go.id/lacak/"),
            "{answer}"
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    let hex = std::fs::read_to_string(&key).expect("a pseudonym key was created");
    assert_eq!(hex.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is private");
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
