//! `alur retention erase` end to end on a real SQLite file: a simulated fortnight's closed cases
//! are past a 30-day retention; a dry run counts them and changes nothing, the run erases their
//! personal data with an entry in each case's chain, a second run finds nothing, and the whole
//! log still verifies against a signed checkpoint.

mod common;

use common::{alur, copy_dir, count_before, tmp, verify_against_a_new_checkpoint};
use std::path::{Path, PathBuf};

#[test]
fn retention_erases_on_record_and_the_log_still_verifies() {
    let dir = tmp("retention-cli");
    let p = |n: &str| dir.join(n).display().to_string();
    let db = format!("sqlite://{}", p("r.db"));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/config/kepri");
    let config: PathBuf = dir.join("config");
    copy_dir(&example, &config);
    let main = config.join("alur.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    assert!(text.contains("personal_data = \"5 tahun\""));
    std::fs::write(
        &main,
        text.replace("personal_data = \"5 tahun\"", "personal_data = \"30 hari\""),
    )
    .unwrap();
    let config = config.display().to_string();

    let (ok, _, err) = alur(
        &dir,
        &[
            "simulate",
            "--db",
            &db,
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-13",
            "--cases-per-year",
            "5000",
            "--seed",
            "5",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = alur(
        &dir,
        &["audit", "export", "--db", &db, "--out", &p("before")],
    );
    assert!(ok, "{err}");
    let entries_before = std::fs::read_to_string(p("before/entries.jsonl")).unwrap();

    let (ok, out, err) = alur(
        &dir,
        &[
            "retention",
            "erase",
            "--config",
            &config,
            "--db",
            &db,
            "--dry-run",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Masa retensi data pribadi: 30 hari"), "{out}");
    let would = count_before(&out, " kasus,");
    assert!(would > 0, "closed simulated cases are past 30 days: {out}");
    let (ok, _, err) = alur(&dir, &["audit", "export", "--db", &db, "--out", &p("dry")]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(p("dry/entries.jsonl")).unwrap(),
        entries_before,
        "a dry run changes nothing"
    );

    let (ok, out, err) = alur(
        &dir,
        &["retention", "erase", "--config", &config, "--db", &db],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Dihapus:"), "{out}");
    assert_eq!(count_before(&out, " kasus,"), would, "{out}");
    let payloads = count_before(&out, " isian");
    assert!(payloads >= would, "{out}");
    assert!(!out.contains("Dilewati"), "{out}");

    // Every erasure is an entry of its case's chain, after the entries that were there.
    let (ok, _, err) = alur(
        &dir,
        &["audit", "export", "--db", &db, "--out", &p("after")],
    );
    assert!(ok, "{err}");
    let entries_after = std::fs::read_to_string(p("after/entries.jsonl")).unwrap();
    let erasures: Vec<&str> = entries_after
        .lines()
        .filter(|l| l.contains("\"personal_data_erased\""))
        .collect();
    assert_eq!(erasures.len(), would);
    assert!(erasures.iter().all(|l| l.contains("UU 27/2022")));
    for line in entries_before.lines() {
        assert!(entries_after.contains(line), "an entry changed: {line}");
    }

    let (ok, out, err) = alur(
        &dir,
        &["retention", "erase", "--config", &config, "--db", &db],
    );
    assert!(ok, "{err}");
    assert_eq!(count_before(&out, " kasus,"), 0, "nothing left: {out}");

    // The log, with the erasures, verifies against a signed checkpoint.
    verify_against_a_new_checkpoint(&dir, &db);

    // Without a [retention] section the command says what to add.
    let plain = dir.join("plain");
    copy_dir(&example, &plain);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            !l.starts_with("[retention]")
                && !l.starts_with("personal_data")
                && !l.starts_with("legal_basis")
        })
        .collect();
    std::fs::write(plain.join("alur.toml"), kept.join("\n")).unwrap();
    let plain = plain.display().to_string();
    let (ok, _, err) = alur(
        &dir,
        &["retention", "erase", "--config", &plain, "--db", &db],
    );
    assert!(!ok);
    assert!(err.contains("[retention]"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
