//! Opening a store by URL: `sqlite://FILE` (or a path ending in .db), `postgres://…`, `memory:`.

use alur_core::store::Store;

/// A store chosen at run time.
pub type AnyStore = Box<dyn Store>;

/// Open the store a URL names, running its migrations (SQLite: `synchronous=FULL` with group commit).
pub async fn open(url: &str) -> Result<AnyStore, String> {
    open_with(url, alur_sqlite::Durability::Full).await
}

/// Open with an explicit SQLite durability profile (ignored for other databases).
pub async fn open_with(url: &str, durability: alur_sqlite::Durability) -> Result<AnyStore, String> {
    if url == "memory:" {
        return Ok(Box::new(alur_core::MemoryStore::new()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s =
            alur_postgres::PostgresStore::connect(url, alur_postgres::PostgresOptions::default())
                .await
                .map_err(|e| format!("cannot open the PostgreSQL database: {e}"))?;
        return Ok(Box::new(s));
    }
    if url.starts_with("sqlite:") || url.ends_with(".db") || url.ends_with(".sqlite") {
        let s = alur_sqlite::SqliteStore::open(
            url,
            alur_sqlite::SqliteOptions::with_durability(durability),
        )
        .await
        .map_err(|e| format!("cannot open the SQLite database: {e}"))?;
        return Ok(Box::new(s));
    }
    Err(format!(
        "unsupported database URL `{url}`; use sqlite://alur.db (embedded, the default), postgres://user@host/db, or memory:"
    ))
}
