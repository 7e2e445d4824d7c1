//! Golden tests of the `alur` command's output.

use std::path::Path;
use std::process::Command;

fn alur(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alur"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("alur runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_lists_every_problem_with_location_and_hint() {
    let (ok, stdout, stderr) = alur(&["validate", "crates/alur-cli/tests/fixtures/broken"]);
    assert!(!ok, "a broken configuration must exit non-zero");
    assert!(stdout.is_empty());
    insta::assert_snapshot!(stderr);
}

#[test]
fn validate_accepts_the_kepri_example() {
    let (ok, stdout, stderr) = alur(&["validate", "examples/config/kepri"]);
    assert!(ok, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn services_prints_published_standards_markdown() {
    let (ok, stdout, stderr) = alur(&["services", "examples/config/kepri"]);
    assert!(ok, "{stderr}");
    for component in [
        "Persyaratan",
        "Prosedur",
        "Jangka Waktu",
        "Biaya/Tarif",
        "Produk Pelayanan",
        "Penanganan Pengaduan",
    ] {
        assert!(stdout.contains(component), "missing {component}");
    }
    insta::assert_snapshot!(stdout);
}

#[test]
fn services_prints_escaped_html() {
    let (ok, stdout, stderr) = alur(&["services", "examples/config/kepri", "--format", "html"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("<!doctype html>"));
    insta::assert_snapshot!(stdout);
}
