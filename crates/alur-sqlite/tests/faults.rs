//! Faults in the middle of a transition give a typed error and leave nothing partial behind:
//! - a full database (`PRAGMA max_page_count`, SQLITE_FULL), sequential and in a group commit;
//! - a real I/O error: a child process whose file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored)
//!   makes the WAL write fail with EFBIG (SQLITE_IOERR) mid-run;
//! - a database reopened read-only.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use alur_core::engine::{EventKind, Payload};
use alur_core::store::{
    OutboxMessage, Store, StoreError, StoreErrorKind, StoredPayload, Transition,
};
use alur_sqlite::{Durability, SqliteOptions, SqliteStore};
use sqlx::{ConnectOptions, Connection};

const TENANT: &str = "kepri";

/// Commit one transition with a `size`-byte payload and an outbox message on `case_id`.
async fn big(
    store: &SqliteStore,
    case_id: &str,
    marker: &str,
    size: usize,
) -> Result<u64, StoreError> {
    let case = store.case(TENANT, case_id).await?.expect("case");
    let head = store.last_entry(TENANT, case_id).await?.expect("head");
    let seq = case.version + 1;
    let now = jiff::Timestamp::now();
    let mut next = case.clone();
    next.version = seq;
    next.updated_at = now;
    let mut entry = head.clone();
    entry.seq = seq;
    entry.event = EventKind::Commented;
    entry.actor.id = marker.to_owned();
    entry.at = now;
    entry.payload_digest = Some("ab".repeat(32));
    entry.prev_hash = head.hash.clone();
    entry.hash = entry.compute_hash();
    let t = Transition {
        tenant: TENANT.into(),
        case: next,
        expected_version: case.version,
        entries: vec![entry],
        payloads: vec![StoredPayload {
            case_id: case_id.to_owned(),
            seq,
            digest: "ab".repeat(32),
            payload: Payload {
                text: Some("x".repeat(size)),
                ..Payload::default()
            },
        }],
        outbox: vec![OutboxMessage {
            id: format!("{case_id}:{seq}:fault"),
            tenant: TENANT.into(),
            case_id: case_id.to_owned(),
            seq,
            template: "fault.test".into(),
            recipient: marker.to_owned(),
            created_at: now,
        }],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    };
    store.commit(t).await.map(|()| seq)
}

/// The case holds exactly the acknowledged transitions: nothing partial of any failed one.
async fn assert_whole(store: &SqliteStore, case_id: &str, acked: &[u64]) {
    let case = store.case(TENANT, case_id).await.unwrap().unwrap();
    let entries = store.entries(TENANT, case_id).await.unwrap();
    assert_eq!(
        case.version,
        1 + acked.len() as u64,
        "{case_id}: version counts acknowledged commits only"
    );
    assert_eq!(
        entries.len() as u64,
        case.version,
        "{case_id}: no audit row without its state change"
    );
    alur_core::audit::verify_chain(&entries).unwrap();
    let outbox: Vec<u64> = store
        .pending_outbox(TENANT, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.case_id == case_id && m.template == "fault.test")
        .map(|m| m.seq)
        .collect();
    assert_eq!(
        outbox, acked,
        "{case_id}: outbox rows of acknowledged commits only"
    );
    for &seq in acked {
        assert!(store.payload(TENANT, case_id, seq).await.unwrap().is_some());
    }
    assert!(
        store
            .payload(TENANT, case_id, case.version + 1)
            .await
            .unwrap()
            .is_none()
    );
}

/// A database with `n` submitted cases; returns their ids.
async fn setup(path: &Path, n: u32) -> Vec<String> {
    let (engine, _) = alur_testkit::engine(common::open(path, Durability::Full).await).await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            engine
                .submit(alur_testkit::domisili(i), None)
                .await
                .unwrap()
                .id,
        );
    }
    engine.into_store().close().await;
    ids
}

async fn page_count(path: &Path) -> u32 {
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    pages as u32
}

fn is_full(e: &StoreError) -> bool {
    e.kind == StoreErrorKind::Unavailable && e.message.contains("full")
}

async fn disk_full(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let cases = setup(&path, 9).await;
    let pages = page_count(&path).await;
    let options = SqliteOptions {
        max_page_count: Some(pages + 40),
        ..SqliteOptions::with_durability(durability)
    };
    let store = Arc::new(
        SqliteStore::open(path.to_str().unwrap(), options)
            .await
            .unwrap(),
    );

    // Sequential: commit until the database is full.
    let mut acked = Vec::new();
    let mut full = None;
    for n in 0..1000 {
        match big(&store, &cases[0], &format!("s{n}"), 16_000).await {
            Ok(seq) => acked.push(seq),
            Err(e) => {
                full = Some(e);
                break;
            }
        }
    }
    let e = full.expect("the database filled up");
    assert!(is_full(&e), "typed disk-full error, got {e:?}");
    assert!(!acked.is_empty(), "some commits fit before the cap");
    assert_whole(&store, &cases[0], &acked).await;
    // Still full: the next attempt fails the same way, and writes nothing.
    assert!(is_full(
        &big(&store, &cases[0], "again", 16_000).await.unwrap_err()
    ));
    assert_whole(&store, &cases[0], &acked).await;

    // Concurrent (one group commit): each caller gets a success or a typed error, never half.
    let mut tasks = Vec::new();
    for case_id in cases[1..].iter().cloned() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = big(&store, &case_id, "c", 3_000).await;
            (case_id, r)
        }));
    }
    let mut results = BTreeMap::new();
    for t in tasks {
        let (case_id, r) = t.await.unwrap();
        if let Err(e) = &r {
            assert!(is_full(e), "typed error, got {e:?}");
        }
        results.insert(case_id, r.ok());
    }
    for (case_id, seq) in &results {
        assert_whole(&store, case_id, &seq.iter().copied().collect::<Vec<_>>()).await;
    }
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    drop(store);

    // Without the cap the same database takes writes again.
    let store = common::open(&path, durability).await;
    let seq = big(&store, &cases[0], "after", 16_000).await.unwrap();
    acked.push(seq);
    assert_whole(&store, &cases[0], &acked).await;
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_normal() {
    disk_full(Durability::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_full() {
    disk_full(Durability::Full).await;
}

/// Child of [`io_error_mid_run`]: commit big transitions until writes fail, then a few more.
#[test]
fn io_error_child() {
    let Ok(path) = std::env::var("ALUR_FAULT_DB") else {
        return;
    };
    let case_id = std::env::var("ALUR_FAULT_CASE").unwrap();
    let durability = match std::env::var("ALUR_FAULT_PROFILE").as_deref() {
        Ok("normal") => Durability::Normal,
        _ => Durability::Full,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = common::open(Path::new(&path), durability).await;
        let mut errors = 0;
        for n in 0..2000 {
            match big(&store, &case_id, &format!("io{n}"), 16_000).await {
                Ok(seq) => println!("\nack {seq}"),
                Err(e) => {
                    println!("\nerr {:?} {}", e.kind, e.message);
                    errors += 1;
                    if errors == 3 {
                        break;
                    }
                }
            }
        }
    });
}

#[test]
fn io_error_mid_run() {
    if std::env::var("ALUR_FAULT_DB").is_ok() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for profile in ["normal", "full"] {
        let dir = tempfile::tempdir().unwrap();
        let path = common::db_path(dir.path());
        let case_id = rt.block_on(setup(&path, 1)).remove(0);
        let db_size = std::fs::metadata(&path).unwrap().len();
        // 2048 blocks: 1 MiB (512-byte blocks, POSIX sh) or 2 MiB (1024-byte blocks): more than
        // the database file, less than the write-ahead log the child is about to grow.
        assert!(db_size < 1 << 20, "database {db_size} bytes");
        let exe = std::env::current_exe().unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"trap '' XFSZ; ulimit -f 2048 && exec "$0" "$@""#)
            .arg(&exe)
            .args([
                "--exact",
                "io_error_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ALUR_FAULT_DB", &path)
            .env("ALUR_FAULT_CASE", &case_id)
            .env("ALUR_FAULT_PROFILE", profile)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "child failed: {:?}", out.status);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut acked = Vec::new();
        let mut errors = Vec::new();
        for line in stdout.lines() {
            if let Some(seq) = line.strip_prefix("ack ") {
                acked.push(seq.parse::<u64>().unwrap());
            } else if let Some(e) = line.strip_prefix("err ") {
                errors.push(e.to_owned());
            }
        }
        assert!(
            !acked.is_empty(),
            "{profile}: some commits fit under the limit"
        );
        assert_eq!(
            errors.len(),
            3,
            "{profile}: the file-size limit was hit: {stdout}"
        );
        for e in &errors {
            assert!(
                e.starts_with("Unavailable"),
                "{profile}: typed I/O error, got {e}"
            );
        }
        eprintln!("{profile}: {} commits, then: {}", acked.len(), errors[0]);
        rt.block_on(async {
            let store = common::open(&path, Durability::Full).await;
            assert_eq!(store.integrity_check().await.unwrap(), "ok");
            assert_whole(&store, &case_id, &acked).await;
            store.close().await;
        });
    }
}

#[tokio::test]
async fn read_only_database_refuses_writes_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let cases = setup(&path, 1).await;
    let url = format!("sqlite://{}?mode=ro", path.display());
    match SqliteStore::open(&url, SqliteOptions::default()).await {
        Ok(store) => {
            let err = big(&store, &cases[0], "ro", 100).await.unwrap_err();
            assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err:?}");
            assert!(err.message.contains("readonly"), "{err:?}");
            assert_whole(&store, &cases[0], &[]).await;
            store.close().await;
        }
        Err(e) => panic!("a read-only database should open for reading: {e}"),
    }
    let store = common::open(&path, Durability::Full).await;
    assert_whole(&store, &cases[0], &[]).await;
}
