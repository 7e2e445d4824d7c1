//! `alur kpi`: bring the KPI fact tables up to date, then print the performance report of a
//! region for a period (table, CSV, JSON or an HTML dashboard).

use std::path::PathBuf;

use alur_kpi::{Format, KpiContext, Language, Period, PgKpi, Query, SqliteKpi};

/// Arguments of `alur kpi`.
#[derive(Debug, clap::Args)]
pub struct KpiArgs {
    /// Database URL (sqlite://FILE or postgres://…).
    #[arg(long)]
    pub db: String,
    /// Configuration directory (calendars, service standards, complaint tiers).
    #[arg(long, default_value = "examples/config/kepri")]
    pub config: PathBuf,
    /// Tenant id (default: the configuration's).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Region code (21, 21.71, 21.71.10) or `nasional`.
    #[arg(long)]
    pub unit: String,
    /// Month (2026-03), quarter (2026-Q1) or year (2026).
    #[arg(long)]
    pub period: String,
    /// Rows: children (default), kabupaten, kota, kecamatan, kelurahan, desa, all, total.
    #[arg(long)]
    pub by: Option<String>,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// One row per service under each region as well.
    #[arg(long)]
    pub per_service: bool,
    /// Output: table, csv, json or html.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Column headers: id (Bahasa Indonesia) or en.
    #[arg(long, default_value = "id")]
    pub lang: String,
    /// Report from the facts as they are, without reading new audit entries first.
    #[arg(long)]
    pub no_refresh: bool,
}

/// Run `alur kpi`.
pub async fn run(args: KpiArgs) -> Result<String, String> {
    let config = alur_core::load_dir(&args.config).map_err(|e| e.to_string())?;
    let ctx = KpiContext::from_config(&config);
    let tenant = args.tenant.unwrap_or_else(|| config.tenant.id.clone());
    let period: Period = args.period.parse().map_err(|e| format!("--period: {e}"))?;
    let format = match args.format.as_str() {
        "table" | "tabel" => Format::Table,
        "csv" => Format::Csv,
        "json" => Format::Json,
        "html" => Format::Html,
        f => return Err(format!("--format `{f}`: use table, csv, json or html")),
    };
    let lang = match args.lang.as_str() {
        "id" => Language::Indonesian,
        "en" => Language::English,
        l => return Err(format!("--lang `{l}`: use id or en")),
    };
    let mut query = Query::new(&tenant, &args.unit, period);
    if let Some(by) = &args.by {
        query.by = by.parse().map_err(|e| format!("--by: {e}"))?;
    }
    query.service = args.service;
    query.per_service = args.per_service;
    query.as_of = Some(jiff::Timestamp::now());
    query.trend = format == Format::Html;
    let db = args.db;
    let report = if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let store =
            alur_postgres::PostgresStore::connect(&db, alur_postgres::PostgresOptions::default())
                .await
                .map_err(|e| format!("cannot open the PostgreSQL database: {e}"))?;
        let kpi = PgKpi::new(store.pool().clone());
        if !args.no_refresh {
            kpi.refresh(&tenant, &ctx)
                .await
                .map_err(|e| e.to_string())?;
        }
        kpi.report(&ctx, &query).await.map_err(|e| e.to_string())?
    } else if db.starts_with("sqlite:") || db.ends_with(".db") || db.ends_with(".sqlite") {
        // Opening the store runs its migrations (the KPI tables among them).
        let store = alur_sqlite::SqliteStore::open(&db, alur_sqlite::SqliteOptions::default())
            .await
            .map_err(|e| format!("cannot open the SQLite database: {e}"))?;
        let kpi = SqliteKpi::new(store.path());
        let refresh = !args.no_refresh;
        let report = tokio::task::spawn_blocking(move || {
            if refresh {
                kpi.refresh(&tenant, &ctx)?;
            }
            kpi.report(&ctx, &query)
        })
        .await
        .map_err(|e| format!("the report task failed: {e}"))?
        .map_err(|e| e.to_string())?;
        store.close().await;
        report
    } else {
        return Err(format!(
            "unsupported database URL `{db}` for KPIs; use sqlite://alur.db or postgres://user@host/db"
        ));
    };
    Ok(alur_kpi::render(&report, format, lang))
}
