//! The on-time figure counts decisions against the deadline the engine recorded, and only
//! those: for a kelurahan, a kecamatan and the province, the report equals a count made here from
//! the recorded deadlines of a simulated fortnight, and the decisions made before the service
//! clock started are their own figure.

use alur_core::engine::EventKind;
use alur_core::model::Outcome;
use alur_core::store::Store;
use alur_kpi::{Grouping, KpiContext, Query, SqliteKpi};
use jiff::Timestamp;

#[derive(Debug, Default, PartialEq, Eq)]
struct Count {
    decided: u64,
    on_time: u64,
    with_deadline: u64,
    before_clock: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_time_counts_only_recorded_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let store = alur_sqlite::SqliteStore::open(
        path.to_str().unwrap(),
        alur_sqlite::SqliteOptions::with_durability(alur_sqlite::Durability::Normal),
    )
    .await
    .unwrap();
    let config = alur_testkit::kepri();
    let ctx = KpiContext::from_config(&config);
    // Many refusals at the completeness check (before the clock starts) and a tight capacity,
    // so decisions fall on both sides of their deadlines.
    let opts = alur_sim::Options {
        from: jiff::civil::date(2026, 3, 2),
        to: jiff::civil::date(2026, 3, 13),
        seed: 11,
        cases_per_year: 20_000,
        return_rate: 0.15,
        refuse_rate: 0.15,
        officer_capacity: Some(4),
        survey_rate: 0.0,
    };
    let (r, store) = alur_sim::run(config.clone(), store, &opts, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(r.refused_commands, 0);

    // The count, from the audit log alone.
    let tz = jiff::tz::TimeZone::get("Asia/Jakarta").unwrap();
    let in_march = |t: Timestamp| {
        let d = t.to_zoned_datetime(tz.clone()).date();
        d.year() == 2026 && d.month() == 3
    };
    let cases = alur_testkit::all_cases(&store, "kepri").await;
    assert_eq!(cases.len() as u64, r.cases);
    let mut counts: Vec<(&str, Count)> = ["21.71.10.1001", "21.71.10", "21"]
        .into_iter()
        .map(|u| (u, Count::default()))
        .collect();
    for c in &cases {
        let entries = store.entries("kepri", &c.id).await.unwrap();
        let mut due: Option<Timestamp> = None;
        let mut decision: Option<(Timestamp, bool)> = None;
        for e in &entries {
            if let Some(d) = e.due.as_ref().and_then(|d| d.due_at) {
                due = Some(d);
            }
            match &e.event {
                EventKind::Acted {
                    outcome: Some(Outcome::Completed | Outcome::Rejected),
                    vote_only: false,
                    ..
                } => decision = Some((e.at, false)),
                EventKind::DeemedApproved { .. } => decision = Some((e.at, true)),
                _ => {}
            }
        }
        let Some((at, deemed)) = decision else {
            continue;
        };
        if !in_march(at) {
            continue;
        }
        for (unit, n) in &mut counts {
            if c.unit == *unit || c.unit.starts_with(&format!("{unit}.")) {
                n.decided += 1;
                match due {
                    Some(d) => {
                        n.with_deadline += 1;
                        n.on_time += u64::from(!deemed && at <= d);
                    }
                    None => n.before_clock += 1,
                }
            }
        }
    }

    let kpi = SqliteKpi::new(store.path());
    kpi.refresh("kepri", &ctx).unwrap();
    for (unit, n) in &counts {
        let mut q = Query::new("kepri", unit, "2026-03".parse().unwrap());
        q.by = Grouping::Total;
        let report = kpi.report(&ctx, &q).unwrap();
        let f = &report.rows[0].figures;
        let got = Count {
            decided: f.completed + f.refused,
            on_time: f.on_time,
            with_deadline: f.completed + f.refused - f.decided_before_clock,
            before_clock: f.decided_before_clock,
        };
        assert_eq!(&got, n, "{unit}");
        let pct = (n.with_deadline > 0)
            .then(|| (n.on_time as f64 * 10_000.0 / n.with_deadline as f64).round() / 100.0);
        assert_eq!(f.on_time_pct, pct, "{unit}");
        eprintln!("{unit}: {n:?}");
    }
    // The fortnight has both kinds of decision, on time and late, at every level.
    for (unit, n) in &counts {
        assert!(n.before_clock > 0, "{unit}: {n:?}");
        assert!(
            n.on_time > 0 && n.on_time < n.with_deadline,
            "{unit}: {n:?}"
        );
    }
    store.close().await;
}
