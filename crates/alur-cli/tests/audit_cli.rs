//! The auditor's commands end to end on a real SQLite file: simulate, sign a checkpoint, verify
//! from the database and from an export on "another machine", prove, read a case; a modified
//! export and a rewritten log fail with the first bad entry named.

mod common;

use common::{alur, checkpoint, keygen, tmp};

#[test]
fn audit_commands_round_trip_and_catch_tampering() {
    let dir = tmp("audit-cli");
    let p = |n: &str| dir.join(n).display().to_string();
    let db = format!("sqlite://{}", p("a.db"));
    let vkey = keygen(&dir, &p("key"));
    let (ok, out, err) = alur(
        &dir,
        &[
            "simulate",
            "--db",
            &db,
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-03",
            "--cases-per-year",
            "20000",
            "--seed",
            "3",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("cases:"), "{out}");
    let out = checkpoint(&dir, &db, &p("key"), &p("cps"));
    assert!(out.contains("checkpoint of"), "{out}");
    let latest = p("cps/kepri/latest.txt");
    // The scheduled publisher, one round: it copies the newest checkpoint to its directory.
    let (ok, out, err) = alur(
        &dir,
        &[
            "audit",
            "publish",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/config/kepri"),
            "--db",
            &db,
            "--key-file",
            &p("key"),
            "--out",
            &p("published"),
            "--once",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("copied to dir:"), "{out}");
    assert_eq!(
        std::fs::read_to_string(p("published/kepri/latest.txt")).unwrap(),
        std::fs::read_to_string(&latest).unwrap(),
        "nothing new since the last checkpoint: the same note is published"
    );
    let (ok, out, err) = alur(
        &dir,
        &[
            "audit",
            "verify",
            "--db",
            &db,
            "--key",
            &vkey,
            "--checkpoint",
            &latest,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("OK:"), "{out}");
    let (ok, _, err) = alur(
        &dir,
        &["audit", "export", "--db", &db, "--out", &p("export")],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = alur(
        &dir,
        &[
            "audit",
            "verify",
            "--export",
            &p("export"),
            "--key",
            &vkey,
            "--checkpoint",
            &latest,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("OK:"), "{out}");
    // A case: its history and its inclusion proofs.
    let entries = std::fs::read_to_string(p("export/entries.jsonl")).unwrap();
    let first: serde_json::Value = entries
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| !v["case_id"].as_str().unwrap().starts_with('@'))
        .unwrap();
    let case = first["case_id"].as_str().unwrap().to_owned();
    // The configuration chain is in the export and readable like a case.
    assert!(entries.contains("\"case_id\":\"@config\""));
    let (ok, out, err) = alur(&dir, &["audit", "case", "--db", &db, "--case", "@config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("definisi layanan batam-domisili versi 1 mulai berlaku")
            && out.contains("mandat Plh. lurah")
            && out.contains("kalender kerja versi 1@"),
        "{out}"
    );
    // Whose data an officer acted on during one day (WIB), counted here from the export.
    let values: Vec<serde_json::Value> = entries
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let officer = values
        .iter()
        .find(|v| v["actor"]["kind"] == "officer")
        .and_then(|v| v["actor"]["id"].as_str())
        .unwrap()
        .to_owned();
    let (start, end) = ("2026-03-01T17:00:00Z", "2026-03-02T17:00:00Z");
    let at = |v: &serde_json::Value| {
        v["at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let acts: Vec<&serde_json::Value> = values
        .iter()
        .filter(|v| v["actor"]["id"] == officer.as_str())
        .filter(|v| at(v) >= start.parse().unwrap() && at(v) < end.parse().unwrap())
        .collect();
    let touched: std::collections::BTreeSet<&str> = acts
        .iter()
        .map(|v| v["case_id"].as_str().unwrap())
        .collect();
    assert!(!acts.is_empty());
    let (ok, out, err) = alur(
        &dir,
        &[
            "audit",
            "actor",
            "--db",
            &db,
            "--actor",
            &officer,
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-02",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "Tindakan {officer} dari {start} sampai sebelum {end}: {} tindakan pada {} permohonan",
            acts.len(),
            touched.len()
        )),
        "{out}"
    );
    for c in &touched {
        assert!(out.contains(&format!("\n{c} · ")), "{c} missing: {out}");
    }
    let (ok, _, err) = alur(
        &dir,
        &[
            "audit",
            "actor",
            "--db",
            &db,
            "--actor",
            &officer,
            "--from",
            "2026-03-03",
            "--to",
            "2026-03-02",
        ],
    );
    assert!(!ok && err.contains("must come before"), "{err}");
    let (ok, _, err) = alur(
        &dir,
        &[
            "audit",
            "actor",
            "--db",
            &db,
            "--actor",
            &officer,
            "--from",
            "2026-03-02T08:00:00",
            "--to",
            "2026-03-02",
        ],
    );
    assert!(!ok && err.contains("no offset"), "{err}");
    let (ok, out, err) = alur(&dir, &["audit", "prove", "--db", &db, "--case", &case]);
    assert!(ok, "{err}");
    assert!(out.contains("\"proof\""), "{out}");
    let (ok, out, err) = alur(&dir, &["audit", "case", "--db", &db, "--case", &case]);
    assert!(ok, "{err}");
    assert!(out.contains("Pemohon: mengajukan permohonan"), "{out}");
    // One changed character in the export is found and named.
    let tampered: String = entries
        .lines()
        .map(|l| {
            if l.contains(&format!("\"case_id\":\"{case}\",\"seq\":1,")) {
                l.replacen("\"seq\":1,", "\"seq\":2,", 1)
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert_ne!(tampered, entries);
    std::fs::write(p("export/entries.jsonl"), tampered).unwrap();
    let (ok, _, err) = alur(
        &dir,
        &["audit", "verify", "--export", &p("export"), "--key", &vkey],
    );
    assert!(!ok);
    assert!(err.contains("FAILED") && err.contains(&case), "{err}");
    // A log rewritten without the key: the signed checkpoint no longer matches.
    std::fs::write(p("export/entries.jsonl"), &entries).unwrap();
    let log = std::fs::read_to_string(p("export/log.jsonl")).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.swap(0, 1);
    let swapped: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["index"] = serde_json::json!(i);
            v.to_string()
        })
        .collect();
    std::fs::write(p("export/log.jsonl"), swapped.join("\n")).unwrap();
    let (ok, _, err) = alur(
        &dir,
        &["audit", "verify", "--export", &p("export"), "--key", &vkey],
    );
    assert!(!ok);
    assert!(err.contains("checkpoint"), "{err}");
    // Without the verifier key an export cannot be trusted.
    let (ok, _, err) = alur(&dir, &["audit", "verify", "--export", &p("export")]);
    assert!(!ok && err.contains("--key"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
