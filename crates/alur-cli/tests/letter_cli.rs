//! `alur letter` end to end on a real SQLite file: cases approved through the engine, then the
//! CLI issues their letters (HTML, and a signed PDF when Chromium is there), a checkpoint is
//! signed, and verification by token and by file tells a valid letter from a modified file, a
//! guessed token and a revoked letter; the register lists them.

mod common;

use common::{alur, checkpoint, keygen, tmp};
use std::path::Path;

use alur_testkit::{act, engine, to_signature};

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{name}` in:\n{out}"))
}

fn chromium() -> bool {
    let present =
        Path::new("/usr/bin/chromium").exists() || std::env::var_os("ALUR_CHROMIUM").is_some();
    if !present && std::env::var_os("ALUR_REQUIRE_CHROMIUM").is_some() {
        panic!("ALUR_REQUIRE_CHROMIUM is set but Chromium is missing");
    }
    present
}

#[test]
fn letters_are_issued_verified_registered_and_revoked() {
    let dir = tmp("letter-cli");
    let p = |n: &str| dir.join(n).display().to_string();
    let db = format!("sqlite://{}", p("l.db"));
    // Two domicile cases approved through the engine: by the lurah, and by the Plh. lurah.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        let store = alur_sqlite::SqliteStore::open(&db, alur_sqlite::SqliteOptions::default())
            .await
            .unwrap();
        let (e, _clock) = engine(store).await;
        let a = to_signature(&e, 1).await;
        e.execute(&a.id, act(&a, "baloi-lurah", "tandatangani"), None)
            .await
            .unwrap();
        let b = to_signature(&e, 2).await;
        e.execute(&b.id, act(&b, "baloi-sekel", "tandatangani"), None)
            .await
            .unwrap();
        e.into_store().close().await;
        (a.id, b.id)
    });
    let vkey = keygen(&dir, &p("key"));

    // Only the approving officer signs.
    let (ok, _, err) = alur(
        &dir,
        &[
            "letter",
            "issue",
            "--db",
            &db,
            "--case",
            &a,
            "--officer",
            "baloi-sekel",
            "--format",
            "html",
        ],
    );
    assert!(!ok && err.contains("approved"), "{err}");
    let (ok, out, err) = alur(
        &dir,
        &[
            "letter",
            "issue",
            "--db",
            &db,
            "--case",
            &a,
            "--officer",
            "baloi-lurah",
            "--format",
            "html",
            "--out",
            &p("a.html"),
        ],
    );
    assert!(ok, "{err}");
    let token = field(&out, "token").to_owned();
    assert_eq!(field(&out, "nomor"), "470/0001/21.71.10.1001/III/2026");
    let html = std::fs::read_to_string(p("a.html")).unwrap();
    assert!(
        html.contains("470/0001/21.71.10.1001/III/2026") && html.contains("<svg"),
        "number and QR code on the page"
    );
    assert!(html.contains("Ahmad Fauzi"), "the signer's name");
    assert!(
        html.contains("data:image/svg+xml;base64,"),
        "the configured emblem, embedded"
    );
    // Issued once only.
    let (ok, _, err) = alur(
        &dir,
        &[
            "letter",
            "issue",
            "--db",
            &db,
            "--case",
            &a,
            "--officer",
            "baloi-lurah",
            "--format",
            "html",
        ],
    );
    assert!(!ok && err.contains("already issued"), "{err}");

    // Before a checkpoint the letter is valid but not yet provable under one.
    let (ok, out, err) = alur(&dir, &["letter", "verify", &token, "--db", &db]);
    assert!(ok, "{err}");
    assert!(
        out.contains("SAH") && out.contains("belum masuk") || out.contains("belum ada checkpoint"),
        "{out}"
    );
    checkpoint(&dir, &db, &p("key"), &p("cps"));
    let (ok, out, err) = alur(
        &dir,
        &["letter", "verify", &token, "--db", &db, "--key", &vkey],
    );
    assert!(ok, "{err}");
    assert!(out.contains("SAH"), "{out}");
    assert!(
        out.contains("tercatat / included") && out.contains("checkpoint signature valid"),
        "{out}"
    );
    assert!(
        out.contains("Lurah Baloi Permai") && out.contains("NIP 197811202003121001"),
        "{out}"
    );
    // By the file itself, and the file against its token.
    let (ok, out, err) = alur(&dir, &["letter", "verify", &p("a.html"), "--db", &db]);
    assert!(ok && out.contains("cocok"), "{out}{err}");
    let mut bytes = std::fs::read(p("a.html")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(p("a-changed.html"), &bytes).unwrap();
    let (ok, _, err) = alur(
        &dir,
        &["letter", "verify", &p("a-changed.html"), "--db", &db],
    );
    assert!(!ok && err.contains("TIDAK DIKENAL"), "{err}");
    let (ok, _, err) = alur(
        &dir,
        &[
            "letter",
            "verify",
            &token,
            "--file",
            &p("a-changed.html"),
            "--db",
            &db,
        ],
    );
    assert!(!ok && err.contains("TIDAK COCOK"), "{err}");
    // A guessed token.
    let (ok, _, err) = alur(
        &dir,
        &[
            "letter",
            "verify",
            "abcdefghijklmnopqrstuvwxyz234567",
            "--db",
            &db,
        ],
    );
    assert!(!ok && err.contains("TIDAK DIKENAL"), "{err}");

    // The Plh.'s letter, as a signed PDF when the browser is there.
    let pdf = chromium();
    let format = if pdf { "pdf" } else { "html" };
    let out_b = p(&format!("b.{format}"));
    let mut args = vec![
        "letter",
        "issue",
        "--db",
        &db,
        "--case",
        &b,
        "--officer",
        "baloi-sekel",
        "--format",
        format,
        "--out",
        &out_b,
    ];
    if pdf {
        args.extend(["--sign", "local"]);
    }
    let (ok, out, err) = alur(&dir, &args);
    assert!(ok, "{err}");
    let token_b = field(&out, "token").to_owned();
    if pdf {
        let doc = std::fs::read(&out_b).unwrap();
        assert!(doc.starts_with(b"%PDF"));
        assert!(
            Path::new(&p("b.sig")).exists(),
            "detached signature written"
        );
        let (ok, out, err) = alur(
            &dir,
            &[
                "letter",
                "render",
                "--db",
                &db,
                "--token",
                &token_b,
                "--out",
                &p("b-again.pdf"),
            ],
        );
        assert!(ok, "{err}{out}");
        assert_eq!(
            std::fs::read(p("b-again.pdf")).unwrap(),
            doc,
            "the stored document, byte for byte"
        );
        let mut changed = doc.clone();
        let at = changed.len() / 3;
        changed[at] ^= 0x20;
        std::fs::write(p("b-changed.pdf"), &changed).unwrap();
        let (ok, _, err) = alur(
            &dir,
            &["letter", "verify", &p("b-changed.pdf"), "--db", &db],
        );
        assert!(
            !ok && err.contains("TIDAK DIKENAL"),
            "a changed PDF byte: {err}"
        );
    }
    let (ok, out, err) = alur(&dir, &["letter", "verify", &out_b, "--db", &db]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Plh. Lurah Baloi Permai"), "{out}");

    // The register of the unit's year.
    let (ok, out, err) = alur(
        &dir,
        &[
            "letter",
            "register",
            "--db",
            &db,
            "--unit",
            "21.71.10.1001",
            "--year",
            "2026",
        ],
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "nomor,tanggal,layanan,pemohon,penandatangan,token,status,perkara"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("470/0001/")
            && lines[1].contains(&token)
            && lines[1].contains(",issued,")
    );
    assert!(lines[2].starts_with("470/0002/") && lines[2].contains("Plh. Lurah Baloi Permai"));

    // Revoked: the verdict says so and fails.
    let (ok, _, err) = alur(
        &dir,
        &[
            "letter",
            "revoke",
            "--db",
            &db,
            "--token",
            &token,
            "--officer",
            "tamanbaloi-lurah",
            "--reason",
            "x",
        ],
    );
    assert!(!ok, "another kelurahan's lurah may not revoke: {err}");
    let (ok, _, err) = alur(
        &dir,
        &[
            "letter",
            "revoke",
            "--db",
            &db,
            "--token",
            &token,
            "--officer",
            "baloi-lurah",
            "--reason",
            "alamat keliru",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = alur(&dir, &["letter", "verify", &token, "--db", &db]);
    assert!(!ok && err.contains("DICABUT"), "{err}");
    // Every look-up is counted; JSON for machines.
    let (ok, out, err) = alur(&dir, &["letter", "verify", &token_b, "--db", &db, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["letter"]["scans"], 2, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
