//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use alur_sqlite::{Durability, SqliteOptions, SqliteStore};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A new database path inside `dir`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(format!("alur-{}.db", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Open a store at `path`.
pub async fn open(path: &Path, durability: Durability) -> SqliteStore {
    SqliteStore::open(
        path.to_str().expect("utf-8 path"),
        SqliteOptions::with_durability(durability),
    )
    .await
    .expect("store opens")
}

/// A fresh store in `dir`.
pub async fn fresh(dir: &Path, durability: Durability) -> SqliteStore {
    open(&db_path(dir), durability).await
}

/// A plain sqlx connection to the file at `path` (for changes the store would not make).
pub async fn raw(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .expect("raw connection")
}
