//! `alur outbox dead|retry` on a real SQLite file, and `alur validate` checking a regency's
//! notification templates.

use std::path::{Path, PathBuf};
use std::process::Command;

use alur_core::store::{OutboxOutcome, Store};
use alur_sqlite::{SqliteOptions, SqliteStore};

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

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("alur-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_messages_are_listed_and_retried_by_hand() {
    let dir = tmp("outbox-cli");
    let path = dir.join("o.db");
    let store = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
        .await
        .unwrap();
    let (e, clock) = alur_testkit::engine(store).await;
    e.submit(alur_testkit::domisili(1), None).await.unwrap();
    let now = alur_core::Clock::now(clock.as_ref());
    let store = e.into_store();
    let lease = now
        .checked_add(jiff::SignedDuration::from_secs(60))
        .unwrap();
    let claimed = store
        .claim_outbox("kepri", now, "test", lease, 10)
        .await
        .unwrap();
    let id = claimed[0].message.id.clone();
    store
        .settle_outbox(
            "kepri",
            now,
            &[(
                id.clone(),
                OutboxOutcome::Dead {
                    error: "550 mailbox unavailable".into(),
                },
            )],
        )
        .await
        .unwrap();
    store.close().await;

    let db = format!("sqlite://{}", path.display());
    let (ok, out, err) = alur(&["outbox", "dead", "--db", &db]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&id) && out.contains("550 mailbox unavailable"),
        "{out}"
    );
    let (ok, out, err) = alur(&["outbox", "retry", "--db", &db, &id]);
    assert!(ok, "{err}");
    assert!(out.starts_with("1 pesan dijadwalkan ulang"), "{out}");
    let (ok, out, _) = alur(&["outbox", "dead", "--db", &db]);
    assert!(ok && out.contains("tidak ada pesan gagal"), "{out}");
    let (ok, _, err) = alur(&["outbox", "retry", "--db", &db, "no-such-message"]);
    assert!(!ok && err.contains("alur outbox dead"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn validate_checks_the_regency_templates() {
    let dir = tmp("templates");
    let config = dir.join("kepri");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/config/kepri"),
        &config,
    );
    let templates = config.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    // A good override passes.
    std::fs::write(
        templates.join("case.received.text.hbs"),
        "Berkas {{nomor_kasus}} diterima, perkiraan selesai {{perkiraan_selesai}}.",
    )
    .unwrap();
    let (ok, out, err) = alur(&["validate", config.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    // A variable the event does not have fails at validation, not at send time.
    std::fs::write(
        templates.join("case.received.text.hbs"),
        "Berkas {{nomor_rekening}} diterima.",
    )
    .unwrap();
    let (ok, _, err) = alur(&["validate", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("case.received") && err.contains("nomor_rekening"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
