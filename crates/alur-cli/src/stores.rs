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
    Ok(open_with_kpi(url, durability).await?.0)
}

/// The KPI reader of an opened store's database (none for the in-memory store).
pub enum KpiDb {
    /// The SQLite file's fact tables.
    Sqlite(alur_kpi::SqliteKpi),
    /// The PostgreSQL database's fact tables, through the store's pool.
    Postgres(alur_kpi::PgKpi),
    /// No fact tables.
    None,
}

/// Open a store and the KPI reader of the same database.
pub async fn open_with_kpi(
    url: &str,
    durability: alur_sqlite::Durability,
) -> Result<(AnyStore, KpiDb), String> {
    if url == "memory:" {
        return Ok((Box::new(alur_core::MemoryStore::new()), KpiDb::None));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s =
            alur_postgres::PostgresStore::connect(url, alur_postgres::PostgresOptions::default())
                .await
                .map_err(|e| format!("cannot open the PostgreSQL database: {e}"))?;
        let kpi = KpiDb::Postgres(alur_kpi::PgKpi::new(s.pool().clone()));
        return Ok((Box::new(s), kpi));
    }
    if url.starts_with("sqlite:") || url.ends_with(".db") || url.ends_with(".sqlite") {
        let s = alur_sqlite::SqliteStore::open(
            url,
            alur_sqlite::SqliteOptions::with_durability(durability),
        )
        .await
        .map_err(|e| format!("cannot open the SQLite database: {e}"))?;
        let kpi = KpiDb::Sqlite(alur_kpi::SqliteKpi::new(s.path()));
        return Ok((Box::new(s), kpi));
    }
    Err(format!(
        "unsupported database URL `{url}`; use sqlite://alur.db (embedded, the default), postgres://user@host/db, or memory:"
    ))
}
