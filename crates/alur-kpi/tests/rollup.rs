//! Roll-up against a brute-force computation on random facts: every row of every grouping equals
//! the figures computed directly from the cases under its code, units without cases included,
//! over periods that span the 2025 amendment of the national calendar (18 August 2025 added).

use std::sync::OnceLock;

use alur_core::region::code_within;
use alur_kpi::{Grouping, KpiContext, Query, SqliteKpi};
use proptest::prelude::*;

/// Kepri units: villages with cases, and kecamatan/kabupaten that may have none.
const UNITS: [&str; 8] = [
    "21.71.10.1001",
    "21.71.10.1002",
    "21.71.01.1001",
    "21.72.01.1001",
    "21.01.01.2001",
    "21.02.01.1001",
    "21.71.10",
    "21.03.01.2001",
];
const SERVICES: [&str; 3] = ["batam-domisili", "batam-pengaduan", "bintan-sktm-desa"];
const PERIODS: [&str; 5] = ["2025-08", "2025-Q3", "2025", "2025-09", "2026-03"];

#[derive(Debug, Clone)]
struct Fact {
    unit: usize,
    service: usize,
    submitted: i64,
    closed: Option<i64>,
    outcome: Option<&'static str>,
    on_time: Option<bool>,
    lead: Option<u32>,
    returns: u32,
    breached_at: Option<i64>,
    tier: Option<&'static str>,
}

// 2025-07-01 .. 2026-04-01 (Unix seconds).
const T0: i64 = 1_751_302_800;
const T1: i64 = 1_775_000_000;

fn fact() -> impl Strategy<Value = Fact> {
    (
        0..UNITS.len() - 2,
        0..SERVICES.len(),
        T0..T1,
        proptest::option::of(0i64..3_000_000),
        0..4usize,
        proptest::option::of(any::<bool>()),
        0u32..5_000,
        0u32..3,
        proptest::option::of(0i64..2_000_000),
        proptest::option::of(prop_oneof![Just("ringan"), Just("normatif")]),
    )
        .prop_map(|(u, s, sub, dur, o, ot, lead, ret, br, tier)| {
            let closed = dur.map(|d| sub + d);
            let outcome = closed.map(|_| ["completed", "rejected", "withdrawn", "completed"][o]);
            let decided = matches!(outcome, Some("completed" | "rejected"));
            Fact {
                unit: u,
                service: s,
                submitted: sub,
                closed,
                outcome,
                on_time: ot.filter(|_| decided),
                lead: decided.then_some(lead),
                returns: ret,
                // A deadline passes only while the case is open.
                breached_at: br
                    .map(|b| sub + b)
                    .filter(|b| closed.is_none_or(|c| *b < c)),
                tier: tier.filter(|_| s == 1),
            }
        })
}

struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kpi.db");
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let s = alur_sqlite::SqliteStore::open(
                path.to_str().unwrap(),
                alur_sqlite::SqliteOptions::default(),
            )
            .await
            .unwrap();
            s.close().await;
        });
        Db { _dir: dir, path }
    })
}

fn ctx() -> &'static KpiContext {
    static CTX: OnceLock<KpiContext> = OnceLock::new();
    CTX.get_or_init(|| KpiContext::from_config(&alur_testkit::kepri()))
}

fn load(facts: &[Fact]) {
    let mut conn = rusqlite::Connection::open(&db().path).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute("DELETE FROM kpi_cases", []).unwrap();
    for (i, f) in facts.iter().enumerate() {
        tx.execute(
            "INSERT INTO kpi_cases (tenant, case_id, unit, service, submitted, submitted_month, \
             closed, closed_month, outcome, deemed, due, on_time, lead_min, paused_min, returns, \
             breached_at, step_breached_at, escalated_at, tier, tier_on_time, last_seq, \
             steps_done, ratings_done) VALUES ('t', ?1, ?2, ?3, ?4, 0, ?5, NULL, ?6, 0, NULL, \
             ?7, ?8, 0, ?9, ?10, NULL, NULL, ?11, NULL, 1, 0, 0)",
            rusqlite::params![
                format!("c{i}"),
                UNITS[f.unit],
                SERVICES[f.service],
                f.submitted,
                f.closed,
                f.outcome,
                f.on_time.map(i64::from),
                f.lead.map(i64::from),
                f.returns,
                f.breached_at,
                f.tier,
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn nearest_rank(mut v: Vec<u32>, p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let k = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some((f64::from(v[k - 1]) / 60.0 * 100.0).round() / 100.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_row_equals_the_brute_force(
        facts in proptest::collection::vec(fact(), 0..160),
        period in 0..PERIODS.len(),
        by in 0..4usize,
        unit in prop_oneof![Just("21"), Just("21.71"), Just("21.71.10"), Just("nasional")],
    ) {
        load(&facts);
        let period: alur_kpi::Period = PERIODS[period].parse().unwrap();
        let mut q = Query::new("t", unit, period);
        q.by = [Grouping::Children, Grouping::All, Grouping::Total,
                Grouping::Level(alur_core::region::UnitLevel::Kecamatan)][by];
        let kpi = SqliteKpi::new(&db().path);
        let report = kpi.report(ctx(), &q).unwrap();
        let (s, e) = period.bounds(ctx().time_zone()).unwrap();
        let (s, e) = (s.as_second(), e.as_second());
        let inp = |t: Option<i64>| t.is_some_and(|t| t >= s && t < e);
        prop_assert!(!report.rows.is_empty());
        for row in &report.rows {
            let mine: Vec<&Fact> = facts
                .iter()
                .filter(|f| row.code.is_empty() || code_within(UNITS[f.unit], &row.code))
                .collect();
            let closed: Vec<&&Fact> = mine.iter().filter(|f| inp(f.closed)).collect();
            let decided: Vec<&&&Fact> = closed
                .iter()
                .filter(|f| matches!(f.outcome, Some("completed" | "rejected")))
                .collect();
            let fig = &row.figures;
            prop_assert_eq!(fig.received, mine.iter().filter(|f| inp(Some(f.submitted))).count() as u64, "{}", row.code);
            prop_assert_eq!(fig.completed, closed.iter().filter(|f| f.outcome == Some("completed")).count() as u64);
            prop_assert_eq!(fig.refused, closed.iter().filter(|f| f.outcome == Some("rejected")).count() as u64);
            prop_assert_eq!(fig.withdrawn, closed.iter().filter(|f| f.outcome == Some("withdrawn")).count() as u64);
            prop_assert_eq!(fig.on_time, decided.iter().filter(|f| f.on_time == Some(true)).count() as u64);
            let leads: Vec<u32> = decided.iter().filter_map(|f| f.lead).collect();
            prop_assert_eq!(fig.lead_median_h, nearest_rank(leads.clone(), 0.5));
            prop_assert_eq!(fig.lead_p90_h, nearest_rank(leads, 0.9));
            prop_assert_eq!(fig.returned, closed.iter().map(|f| u64::from(f.returns)).sum::<u64>());
            prop_assert_eq!(fig.breached, mine.iter().filter(|f| inp(f.breached_at)).count() as u64);
            prop_assert_eq!(
                fig.backlog,
                mine.iter().filter(|f| f.submitted < e && f.closed.is_none_or(|c| c >= e)).count() as u64
            );
            let complaints = mine
                .iter()
                .filter(|f| SERVICES[f.service] == "batam-pengaduan" && inp(Some(f.submitted)))
                .count() as u64;
            prop_assert_eq!(fig.complaints, complaints);
        }
        // The unit's own row is the sum of its children's where they partition it.
        if q.by == Grouping::Children {
            let total = &report.rows[0].figures;
            let kids: u64 = report.rows[1..].iter().map(|r| r.figures.received).sum();
            let direct = facts.iter().filter(|f| {
                let u = UNITS[f.unit];
                report.rows[0].code == u
            }).count();
            if direct == 0 {
                prop_assert_eq!(total.received, kids);
            }
        }
    }
}
