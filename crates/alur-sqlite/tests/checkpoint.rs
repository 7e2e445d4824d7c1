//! WAL checkpoints on their own thread: committed pages reach the database file while the writer
//! keeps writing, without the writer's own checkpoint (set to 8,000 pages) having run.

mod common;

use std::time::Duration;

use alur_core::store::Store;
use alur_sqlite::{Durability, SqliteOptions, SqliteStore};

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

async fn checkpoints_reach_the_database_file(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let options = SqliteOptions {
        checkpoint_interval: Some(Duration::from_millis(20)),
        ..SqliteOptions::with_durability(durability)
    };
    let store = SqliteStore::open(path.to_str().unwrap(), options)
        .await
        .unwrap();
    let (engine, _) = alur_testkit::engine(store).await;
    // Let the set-up's writes be checkpointed, then measure from there.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_file = size(&path);
    let before = engine.store().writer_stats();
    let mut ids = Vec::new();
    for n in 0..120 {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
        ids.push(c.id);
    }
    // Wait for the thread to copy the new pages (it runs at most every 20 ms after commits).
    let mut after = engine.store().writer_stats();
    for _ in 0..250 {
        if after.checkpoints > before.checkpoints && size(&path) > before_file {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = engine.store().writer_stats();
    }
    let wal = path.with_extension("db-wal");
    let wal_pages = size(&wal) / 4096;
    eprintln!(
        "{durability:?}: {} checkpoints, database file {} → {} bytes, WAL {} pages",
        after.checkpoints - before.checkpoints,
        before_file,
        size(&path),
        wal_pages
    );
    assert!(after.checkpoints > before.checkpoints, "the thread ran");
    assert_eq!(after.checkpoint_failures, 0);
    assert!(
        size(&path) > before_file,
        "committed pages were copied into the database file"
    );
    assert!(
        wal_pages < 8_000,
        "the writer's own checkpoint (8,000 pages) did not do it"
    );
    // Everything committed reads back, and the file is sound.
    for id in &ids {
        assert!(engine.store().case("kepri", id).await.unwrap().is_some());
    }
    let store = engine.into_store();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    store.close().await;
    let reopened = common::open(&path, durability).await;
    for id in &ids {
        assert!(reopened.case("kepri", id).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_reach_the_database_file_normal() {
    checkpoints_reach_the_database_file(Durability::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_reach_the_database_file_full() {
    checkpoints_reach_the_database_file(Durability::Full).await;
}

#[tokio::test]
async fn without_the_thread_nothing_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let options = SqliteOptions {
        checkpoint_interval: None,
        ..SqliteOptions::with_durability(Durability::Normal)
    };
    let store = SqliteStore::open(path.to_str().unwrap(), options)
        .await
        .unwrap();
    let (engine, _) = alur_testkit::engine(store).await;
    for n in 0..10 {
        engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(engine.store().writer_stats().checkpoints, 0);
    engine.into_store().close().await;
}
