//! PostgreSQL: the same fixed simulation on PostgreSQL and SQLite gives the same report (the
//! PostgreSQL path sums in SQL, the SQLite path row by row). Skips, saying why, when
//! `ALUR_TEST_POSTGRES_URL` is not set.

use alur_kpi::{Grouping, KpiContext, PgKpi, Query, SqliteKpi};

fn options() -> alur_sim::Options {
    alur_sim::Options {
        from: jiff::civil::date(2026, 3, 2),
        to: jiff::civil::date(2026, 3, 6),
        seed: 5,
        cases_per_year: 5_000,
        ..alur_sim::Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_sqlite_agree() {
    let url = match std::env::var("ALUR_TEST_POSTGRES_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            eprintln!("skipping: ALUR_TEST_POSTGRES_URL is not set");
            return;
        }
    };
    let config = alur_testkit::kepri();
    let ctx = KpiContext::from_config(&config);
    let schema = format!("alur_kpi_t_{}", std::process::id());
    let pg = alur_postgres::PostgresStore::connect(
        &url,
        alur_postgres::PostgresOptions {
            schema: Some(schema.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (r, pg) = alur_sim::run(config.clone(), pg, &options(), |_, _, _| {})
        .await
        .unwrap();
    let kpi = PgKpi::new(pg.pool().clone());
    let stats = kpi.refresh("kepri", &ctx).await.unwrap();
    assert_eq!(stats.cases, r.cases);
    assert_eq!(kpi.refresh("kepri", &ctx).await.unwrap().cases, 0);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let lite = alur_sqlite::SqliteStore::open(
        path.to_str().unwrap(),
        alur_sqlite::SqliteOptions::with_durability(alur_sqlite::Durability::Normal),
    )
    .await
    .unwrap();
    let (r2, lite) = alur_sim::run(config, lite, &options(), |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(r, r2);
    let skpi = SqliteKpi::new(lite.path());
    skpi.refresh("kepri", &ctx).unwrap();

    for (unit, by) in [("21", Grouping::All), ("21.71", Grouping::Children)] {
        let mut q = Query::new("kepri", unit, "2026-03".parse().unwrap());
        q.by = by;
        q.per_service = true;
        q.trend = true;
        let a = kpi.report(&ctx, &q).await.unwrap();
        let b = skpi.report(&ctx, &q).unwrap();
        assert_eq!(a, b);
    }
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(pg.pool())
        .await;
    pg.close().await;
    lite.close().await;
}
