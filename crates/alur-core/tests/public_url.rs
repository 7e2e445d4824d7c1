//! `[server] public_url`: the base of the links the desk hands out, the letters' QR codes
//! included unless `[letters] verify_url` names another address; a bad address is a located
//! configuration error.

use std::path::{Path, PathBuf};

fn example_with(name: &str, extra: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/config/kepri");
    let to = std::env::temp_dir().join(format!("alur-public-url-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&to);
    copy(&from, &to);
    let main = to.join("alur.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{text}\n{extra}\n")).unwrap();
    to
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn the_public_address_is_the_base_of_the_qr_codes() {
    let plain = alur_testkit::kepri();
    assert_eq!(plain.public_url, None);
    assert_eq!(plain.letters.verify_url, "http://127.0.0.1:8080/verifikasi");

    let dir = example_with(
        "set",
        "[server]\npublic_url = \"https://layanan.kepriprov.go.id/\"",
    );
    let c = alur_core::load_dir(&dir).unwrap();
    assert_eq!(
        c.public_url.as_deref(),
        Some("https://layanan.kepriprov.go.id")
    );
    assert_eq!(
        c.letters.verify_url,
        "https://layanan.kepriprov.go.id/verifikasi"
    );
    // `alur serve --public-url` replaces it, the QR codes following.
    let mut c = c;
    c.set_public_url("https://desk.example.go.id");
    assert_eq!(
        c.letters.verify_url,
        "https://desk.example.go.id/verifikasi"
    );

    // An explicit verify_url is kept whatever the public address.
    let dir = example_with(
        "explicit",
        "[server]\npublic_url = \"https://layanan.kepriprov.go.id\"\n[letters]\nverify_url = \"https://cek.kepriprov.go.id/surat\"",
    );
    let mut c = alur_core::load_dir(&dir).unwrap();
    assert_eq!(c.letters.verify_url, "https://cek.kepriprov.go.id/surat");
    c.set_public_url("https://desk.example.go.id");
    assert_eq!(c.letters.verify_url, "https://cek.kepriprov.go.id/surat");

    // A bad address is an error at its key.
    for bad in [
        "layanan.kepriprov.go.id",
        "https://",
        "https://x.go.id/?a=b",
    ] {
        let dir = example_with("bad", &format!("[server]\npublic_url = \"{bad}\""));
        let e = alur_core::load_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("server.public_url"), "{bad}: {e}");
    }
    for name in ["set", "explicit", "bad"] {
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("alur-public-url-{name}-{}", std::process::id())),
        );
    }
}
