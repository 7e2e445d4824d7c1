//! Performance of every office, from kelurahan to province: key figures per unit, service and
//! period, the SKM satisfaction index (IKM), roll-up by region code, and reports as a table,
//! CSV, JSON or a self-contained HTML dashboard.
//!
//! ```text
//! audit_entries ──refresh (entries after the watermark)──▶ kpi_cases / kpi_steps / kpi_skm
//!                                                             │ report(query)
//!                                                             ▼
//!                      Builder: one exact accumulator per (unit, service) ─ roll-up ─▶ Report
//! ```
//!
//! * **Facts** ([`facts`]): a case's audit entries give one row (unit, service, submitted and
//!   closed instants, outcome, the deadline the engine recorded, working-hour lead time with the
//!   applicant's time excluded, returns, breaches, escalations, complaint tier), its finished
//!   step visits (time per step and role) and its survey answers.
//! * **Refresh** ([`SqliteKpi::refresh`], [`PgKpi::refresh`]): only entries after the stored
//!   watermark are read; the cases they belong to are derived again from their whole chains
//!   (a few entries each) and written in short transactions. Step time and survey answers are
//!   additive tables; each case row remembers how many of its visits and answers were added, so
//!   nothing is counted twice. Every row can be rebuilt from the audit log.
//! * **Report** ([`report`]): rows are rolled up by code prefix (kelurahan/desa → kecamatan →
//!   kabupaten/kota → provinsi → nasional) by merging exact accumulators; percentiles of a parent
//!   come from all its cases' lead times.
//!
//! What each figure counts is documented on its field of [`report::Figures`].

pub mod facts;
pub mod period;
pub mod postgres;
pub mod refresh;
pub mod render;
pub mod report;
pub mod skm;
pub mod sqlite;
mod summary;

pub use facts::{KpiContext, ServiceInfo};
pub use period::Period;
pub use postgres::PgKpi;
pub use refresh::RefreshStats;
pub use render::{Format, Language, render};
pub use report::{Figures, Grouping, Query, Report, Row};
pub use skm::{Grade, Ikm, SkmTally};
pub use sqlite::SqliteKpi;

/// A failure of the KPI crate.
#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    /// The database has no KPI tables.
    #[error(
        "the database has no KPI tables; open it once with this version of alur (it runs the migrations), then retry"
    )]
    NotMigrated,
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// A request that cannot be answered (unknown unit, bad period).
    #[error("{0}")]
    Invalid(String),
    /// The embedded region data is damaged.
    #[error("embedded region data: {0}")]
    Regions(String),
}
