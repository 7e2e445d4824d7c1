//! `alur calendar recompute` end to end on a real SQLite file: a fortnight simulated with a
//! calendar that did not know the Ramadan hours leaves open cases whose deadlines are wrong under
//! the example's calendar; the command moves each of them with an entry in its chain, a second
//! run finds nothing, no earlier entry changes, and the log still verifies.

mod common;

use common::{alur, copy_dir, count_before, tmp, verify_against_a_new_checkpoint};
use std::path::Path;

#[test]
fn recompute_moves_wrong_open_deadlines_on_record() {
    let dir = tmp("recompute-cli");
    let p = |n: &str| dir.join(n).display().to_string();
    let db = format!("sqlite://{}", p("r.db"));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/config/kepri");
    // The configuration of an office that had not yet added Ramadan to its calendar.
    let old = dir.join("old");
    copy_dir(&example, &old);
    let main = old.join("alur.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    let start = text
        .find("[calendar]")
        .expect("the example has a [calendar]");
    let end = start + text[start..].find("\n]\n").expect("ramadan list ends") + 3;
    std::fs::write(&main, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let old = old.display().to_string();
    let example = example.display().to_string();

    // A Ramadan fortnight, its last day's cases still open.
    let (ok, _, err) = alur(
        &dir,
        &[
            "simulate",
            "--config",
            &old,
            "--db",
            &db,
            "--from",
            "2026-03-09",
            "--to",
            "2026-03-12",
            "--cases-per-year",
            "20000",
            "--seed",
            "3",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = alur(
        &dir,
        &["audit", "export", "--db", &db, "--out", &p("before")],
    );
    assert!(ok, "{err}");
    let before = std::fs::read_to_string(p("before/entries.jsonl")).unwrap();

    let (ok, out, err) = alur(
        &dir,
        &["calendar", "recompute", "--config", &example, "--db", &db],
    );
    assert!(ok, "{err}");
    let open = count_before(&out, " kasus terbuka");
    let changed = count_before(&out, " berubah");
    assert!(open > 0 && changed > 0 && changed <= open, "{out}");
    // Each moved deadline is listed in the office's zone.
    assert_eq!(out.matches("batas layanan").count(), changed, "{out}");
    assert!(out.contains("WIB"), "{out}");

    let (ok, _, err) = alur(
        &dir,
        &["audit", "export", "--db", &db, "--out", &p("after")],
    );
    assert!(ok, "{err}");
    let after = std::fs::read_to_string(p("after/entries.jsonl")).unwrap();
    for line in before.lines() {
        assert!(after.contains(line), "an entry changed: {line}");
    }
    let recorded = after
        .lines()
        .filter(|l| l.contains("\"deadline_recomputed\""))
        .count();
    assert_eq!(recorded, changed);

    // Nothing is left to move.
    let (ok, out, err) = alur(
        &dir,
        &["calendar", "recompute", "--config", &example, "--db", &db],
    );
    assert!(ok, "{err}");
    assert_eq!(count_before(&out, " berubah"), 0, "{out}");

    verify_against_a_new_checkpoint(&dir, &db);
    let _ = std::fs::remove_dir_all(&dir);
}
