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

#[test]
fn calendar_due_prints_the_worked_examples() {
    let (ok, out, err) = alur(&[
        "calendar",
        "due",
        "--unit",
        "21.71.10.1001",
        "--from",
        "2026-03-17T09:00:00+07:00",
        "--sla",
        "3 hari kerja",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("2026-03-26T16:00:00+07:00\ncalendar version: 1@"),
        "{out}"
    );
    let (ok, out, _) = alur(&[
        "calendar",
        "due",
        "--unit",
        "21.71.10.1001",
        "--from",
        "2025-12-24T09:00:00+07:00",
        "--sla",
        "3 working days",
    ]);
    assert!(ok);
    assert!(out.starts_with("2025-12-30T16:00:00+07:00"), "{out}");
    // Jayapura computes in WIT: 09:00 WIB is 11:00 WIT; 90 working minutes span the lunch break.
    let (ok, out, _) = alur(&[
        "calendar",
        "due",
        "--unit",
        "91.71",
        "--from",
        "2026-03-17T09:00:00+07:00",
        "--sla",
        "90 menit",
    ]);
    assert!(ok);
    assert!(out.starts_with("2026-03-17T13:30:00+09:00"), "{out}");
    let (ok, out, _) = alur(&[
        "calendar",
        "due",
        "--unit",
        "21.71",
        "--from",
        "2026-03-17T09:00:00+07:00",
        "--sla",
        "30 hari",
        "--config",
        "examples/config/kepri",
    ]);
    assert!(ok);
    assert!(out.starts_with("2026-04-16T23:59:59+07:00"), "{out}");
    let (ok, _, err) = alur(&[
        "calendar",
        "due",
        "--unit",
        "21.71",
        "--from",
        "2026-03-17",
        "--sla",
        "3 minggu",
    ]);
    assert!(!ok);
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn calendar_show_names_the_holidays() {
    let (ok, out, err) = alur(&["calendar", "show", "2026", "--unit", "21.71"]);
    assert!(ok, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn the_kepri_calendar_names_its_ramadan_hours_and_counts_on_them() {
    for (year, line) in [
        (
            "2025",
            "Jam kerja Ramadan: Sabtu, 1 Maret 2025 s.d. Minggu, 30 Maret 2025",
        ),
        (
            "2026",
            "Jam kerja Ramadan: Kamis, 19 Februari 2026 s.d. Jumat, 20 Maret 2026",
        ),
        (
            "2027",
            "Jam kerja Ramadan: Senin, 8 Februari 2027 s.d. Selasa, 9 Maret 2027",
        ),
    ] {
        let (ok, out, err) = alur(&[
            "calendar",
            "show",
            year,
            "--unit",
            "21.71",
            "--config",
            "examples/config/kepri",
        ]);
        assert!(ok, "{err}");
        assert!(out.contains(line), "{out}");
    }
    // Five working hours from 09:00 on a Ramadan Tuesday: 09:00–12:00 and 12:30–14:30.
    let (ok, out, err) = alur(&[
        "calendar",
        "due",
        "--unit",
        "21.71.10.1001",
        "--from",
        "2026-03-17T09:00:00+07:00",
        "--sla",
        "5 jam",
        "--config",
        "examples/config/kepri",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("2026-03-17T14:30:00+07:00"), "{out}");
}
