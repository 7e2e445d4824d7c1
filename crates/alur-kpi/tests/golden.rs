//! Golden CSV and JSON of a small fixed simulation: the real engine on a SQLite store, seed 3,
//! one week of Kepri, facts refreshed from the audit log, reported by kabupaten/kota.

use alur_kpi::{Format, Grouping, KpiContext, Language, Query, SqliteKpi, render};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_json_of_a_fixed_simulation() {
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
    let opts = alur_sim::Options {
        from: jiff::civil::date(2026, 3, 2),
        to: jiff::civil::date(2026, 3, 13),
        seed: 3,
        cases_per_year: 6_000,
        ..alur_sim::Options::default()
    };
    let (r, store) = alur_sim::run(config, store, &opts, |_, _, _| {})
        .await
        .unwrap();
    assert!(r.cases > 50, "{r:?}");
    assert!(r.rated > 0, "{r:?}");
    let kpi = SqliteKpi::new(store.path());
    let stats = kpi.refresh("kepri", &ctx).unwrap();
    assert!(stats.cases as u64 >= r.cases);
    // A second refresh reads nothing new and changes nothing.
    let again = kpi.refresh("kepri", &ctx).unwrap();
    assert_eq!(again.cases, 0);

    let mut q = Query::new("kepri", "21", "2026-03".parse().unwrap());
    q.by = Grouping::Level(alur_core::region::UnitLevel::Kota);
    let report = kpi.report(&ctx, &q).unwrap();
    let total = &report.rows[0].figures;
    assert_eq!(total.received, r.cases);
    insta::assert_snapshot!(
        "kepri_week_csv",
        render(&report, Format::Csv, Language::Indonesian)
    );
    insta::assert_snapshot!(
        "kepri_week_csv_en",
        render(&report, Format::Csv, Language::English)
    );
    q.per_service = true;
    q.unit = "21.71".into();
    q.by = Grouping::Total;
    let report = kpi.report(&ctx, &q).unwrap();
    insta::assert_snapshot!(
        "batam_week_json",
        render(&report, Format::Json, Language::Indonesian)
    );
    // The dashboard renders without any script.
    let mut q = Query::new("kepri", "21", "2026-03".parse().unwrap());
    q.trend = true;
    let html = render(
        &kpi.report(&ctx, &q).unwrap(),
        Format::Html,
        Language::Indonesian,
    );
    assert!(html.contains("<svg") && !html.contains("<script"));
    store.close().await;
}
