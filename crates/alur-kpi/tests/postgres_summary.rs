//! PostgreSQL: the report read from the month summary equals the report read from the case rows
//! (`PgKpi::report_from_cases`), for months, quarters and the year, on a simulation refreshed in
//! two steps across a month's end (the second refresh completes cases the first saw open) and
//! on random case rows with irregular instants. Skips, saying why, when
//! `ALUR_TEST_POSTGRES_URL` is not set.

use alur_kpi::{Grouping, KpiContext, PgKpi, Query};
use sqlx::PgPool;

fn url() -> Option<String> {
    match std::env::var("ALUR_TEST_POSTGRES_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            eprintln!("skipping: ALUR_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

async fn store(url: &str, schema: &str) -> alur_postgres::PostgresStore {
    alur_postgres::PostgresStore::connect(
        url,
        alur_postgres::PostgresOptions {
            schema: Some(schema.to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// Unit, rows, per service, only this service, backlog instant.
type Shape<'a> = (
    &'a str,
    Grouping,
    bool,
    Option<&'a str>,
    Option<jiff::Timestamp>,
);

/// Every report shape over `periods`: the summary and the case rows agree.
async fn agree(kpi: &PgKpi, ctx: &KpiContext, tenant: &str, periods: &[&str]) -> usize {
    let mut checked = 0;
    for period in periods {
        let p: alur_kpi::Period = period.parse().unwrap();
        let (from, to) = p.bounds(ctx.time_zone()).unwrap();
        let mid = jiff::Timestamp::from_second((from.as_second() + to.as_second()) / 2).unwrap();
        let shapes: [Shape<'_>; 5] = [
            ("21", Grouping::All, true, None, None),
            ("21.71", Grouping::Children, true, None, None),
            ("nasional", Grouping::Children, false, None, Some(mid)),
            ("21", Grouping::Total, true, Some("batam-pengaduan"), None),
            (
                "21.71.10",
                Grouping::Level(alur_core::region::UnitLevel::Kelurahan),
                true,
                None,
                Some(mid),
            ),
        ];
        for (unit, by, per_service, service, as_of) in shapes {
            let mut q = Query::new(tenant, unit, p);
            q.by = by;
            q.per_service = per_service;
            q.service = service.map(str::to_owned);
            q.as_of = as_of;
            q.trend = true;
            let a = kpi.report(ctx, &q).await.unwrap();
            let b = kpi.report_from_cases(ctx, &q).await.unwrap();
            assert_eq!(a, b, "{period} {unit} {by:?} {service:?} {as_of:?}");
            checked += 1;
        }
    }
    checked
}

/// The summary is built and nothing is marked, so `report` read it.
async fn summary_current(pool: &PgPool, tenant: &str) {
    let (built, marked, rows): (bool, i64, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM kpi_summary_state WHERE tenant = $1), \
         (SELECT count(*) FROM kpi_summary_dirty WHERE tenant = $1), \
         (SELECT count(*) FROM kpi_summary WHERE tenant = $1)",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(built);
    assert_eq!(marked, 0);
    assert!(rows > 0);
}

/// The summary rows, lead samples sorted (their order within a row is not fixed).
async fn summary_rows(pool: &PgPool, tenant: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT concat_ws('|', month, unit, service, tier, lo, hi, received, closed, completed, \
         rejected, withdrawn, deemed, on_time, with_deadline, returns, reworked, breached, \
         step_breached, escalated, tier_in_time, \
         (SELECT array_agg(v ORDER BY v) FROM unnest(lead) AS v)::text) \
         FROM kpi_summary WHERE tenant = $1 ORDER BY 1",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_equals_case_rows_across_two_refreshes() {
    let Some(url) = url() else { return };
    let config = alur_testkit::kepri();
    let ctx = KpiContext::from_config(&config);
    let pid = std::process::id();
    let (src_schema, schema) = (format!("alur_kpi_ss_{pid}"), format!("alur_kpi_sd_{pid}"));
    // The whole simulation in one schema, from 23 March to 8 April.
    let src = store(&url, &src_schema).await;
    let opts = alur_sim::Options {
        from: jiff::civil::date(2026, 3, 23),
        to: jiff::civil::date(2026, 4, 8),
        seed: 11,
        cases_per_year: 8_000,
        ..alur_sim::Options::default()
    };
    let (sim, src) = alur_sim::run(config.clone(), src, &opts, |_, _, _| {})
        .await
        .unwrap();
    assert!(sim.cases > 100, "{sim:?}");
    // Its audit log copied into a second schema in two steps: up to the end of March, then the
    // rest, with a refresh after each.
    let dst = store(&url, &schema).await;
    let pool = dst.pool().clone();
    let kpi = PgKpi::new(pool.clone());
    let april = "2026-04"
        .parse::<alur_kpi::Period>()
        .unwrap()
        .bounds(ctx.time_zone())
        .unwrap()
        .0
        .as_nanosecond() as i64;
    let copy = |cond: String| {
        let (pool, src_schema) = (pool.clone(), src_schema.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            for sql in [
                format!(
                    "INSERT INTO payloads SELECT p.* FROM {src_schema}.payloads p \
                     JOIN {src_schema}.audit_entries e USING (tenant, case_id, seq) WHERE {cond}"
                ),
                format!(
                    "INSERT INTO audit_entries OVERRIDING SYSTEM VALUE SELECT e.* \
                     FROM {src_schema}.audit_entries e WHERE {cond} ORDER BY e.pos"
                ),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(april)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO cases SELECT * FROM {src_schema}.cases"
    )))
    .execute(&pool)
    .await
    .unwrap();
    copy("e.at_ns < $1".to_owned()).await;
    let first = kpi.refresh("kepri", &ctx).await.unwrap();
    assert!(first.cases > 0);
    summary_current(&pool, "kepri").await;
    let open_in_march: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM kpi_cases WHERE tenant = 'kepri' AND closed IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(open_in_march > 0);
    let periods = ["2026-03", "2026-04", "2026-Q1", "2026-Q2", "2026"];
    agree(&kpi, &ctx, "kepri", &periods).await;

    // Second: April's entries of the cases submitted in March alone, so April's rows change
    // only by what happened to those cases (closings, breaches, escalations).
    let march_case = "e.case_id IN (SELECT case_id FROM audit_entries WHERE seq = 1)";
    copy(format!("e.at_ns >= $1 AND {march_case}")).await;
    let second = kpi.refresh("kepri", &ctx).await.unwrap();
    assert!(second.cases > 0);
    summary_current(&pool, "kepri").await;
    let completed_later: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM kpi_cases WHERE tenant = 'kepri' AND submitted_month = 202603 \
         AND closed_month = 202604",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(completed_later > 0);
    agree(&kpi, &ctx, "kepri", &periods).await;
    let incremental = summary_rows(&pool, "kepri").await;
    kpi.rebuild_summary("kepri", &ctx).await.unwrap();
    assert_eq!(incremental, summary_rows(&pool, "kepri").await);

    // Third: the cases submitted in April. Their entries keep their positions, below the
    // watermark; the refresh reads a margin below it again, more than this log holds.
    let entries: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {src_schema}.audit_entries"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(entries < alur_kpi::postgres::REREAD, "{entries}");
    copy(format!("e.at_ns >= $1 AND NOT {march_case}")).await;
    let third = kpi.refresh("kepri", &ctx).await.unwrap();
    assert!(third.cases > 0);
    summary_current(&pool, "kepri").await;
    agree(&kpi, &ctx, "kepri", &periods).await;

    // What the refreshes maintained equals a summary built from scratch.
    let incremental = summary_rows(&pool, "kepri").await;
    assert!(kpi.rebuild_summary("kepri", &ctx).await.unwrap() >= 2);
    assert_eq!(incremental, summary_rows(&pool, "kepri").await);
    assert_eq!(kpi.update_summary("kepri", &ctx).await.unwrap(), 0);

    // While a month is marked, reports of it read the case rows (and still agree).
    sqlx::query("INSERT INTO kpi_summary_dirty VALUES ('kepri', 202604, 1)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM kpi_summary WHERE tenant = 'kepri' AND month = 202604")
        .execute(&pool)
        .await
        .unwrap();
    agree(&kpi, &ctx, "kepri", &["2026-04"]).await;
    assert_eq!(kpi.update_summary("kepri", &ctx).await.unwrap(), 1);
    assert_eq!(incremental, summary_rows(&pool, "kepri").await);

    for (s, st) in [(&schema, dst), (&src_schema, src)] {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {s} CASCADE")))
            .execute(st.pool())
            .await;
        st.close().await;
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_equals_case_rows_on_random_cases() {
    let Some(url) = url() else { return };
    let ctx = KpiContext::from_config(&alur_testkit::kepri());
    let tz = ctx.time_zone().clone();
    let schema = format!("alur_kpi_sr_{}", std::process::id());
    let st = store(&url, &schema).await;
    let pool = st.pool().clone();
    let kpi = PgKpi::new(pool.clone());
    const UNITS: [&str; 6] = [
        "21.71.10.1001",
        "21.71.10.1002",
        "21.71.01.1001",
        "21.72.01.1001",
        "21.01.01.2001",
        "21.71.10",
    ];
    let services: Vec<&String> = ctx.services.keys().collect();
    // 2025-11-01 .. 2026-08-01, Jakarta.
    let (t0, t1) = (1_761_930_000_i64, 1_785_517_200_i64);
    let month = |t: i64| alur_kpi::period::month_key(jiff::Timestamp::from_second(t).unwrap(), &tz);
    let mut rng = Rng(7);
    let mut cols: [Vec<Option<i64>>; 10] = Default::default();
    let mut text: [Vec<Option<String>>; 5] = Default::default();
    for i in 0..4_000 {
        let service = services[rng.below(services.len() as u64) as usize];
        let complaint = ctx.services[service].complaint;
        let submitted = t0 + rng.below((t1 - t0) as u64) as i64;
        // Mostly a few days; some months; a few closed "before" they were submitted.
        let closed = (!rng.chance(15)).then(|| {
            if rng.chance(2) {
                submitted - rng.below(3_000_000) as i64
            } else if rng.chance(10) {
                submitted + rng.below(12_000_000) as i64
            } else {
                submitted + rng.below(900_000) as i64
            }
        });
        let outcome = closed.map(|_| ["completed", "rejected", "withdrawn"][rng.below(3) as usize]);
        let decided = matches!(outcome, Some("completed" | "rejected"));
        // Breaches and escalations anywhere around the case, after its closing too.
        let around = |rng: &mut Rng, p: u64| {
            rng.chance(p)
                .then(|| submitted - 500_000 + rng.below(5_000_000) as i64)
        };
        let breached = around(&mut rng, 20);
        let step_breached = around(&mut rng, 15);
        let escalated = around(&mut rng, 10);
        let tier = (complaint && !rng.chance(20))
            .then(|| ["ringan", "normatif"][rng.below(2) as usize].to_owned());
        let on_time = decided
            .then(|| rng.below(2) as i64)
            .filter(|_| !rng.chance(10));
        text[0].push(Some(format!("r{i}")));
        text[1].push(Some(
            UNITS[rng.below(UNITS.len() as u64) as usize].to_owned(),
        ));
        text[2].push(Some(service.clone()));
        text[3].push(outcome.map(str::to_owned));
        text[4].push(tier);
        for (k, v) in [
            Some(submitted),
            Some(month(submitted)),
            closed,
            closed.map(month),
            on_time,
            decided.then(|| rng.below(5_000) as i64),
            Some(rng.below(3) as i64),
            breached,
            step_breached,
            escalated,
        ]
        .into_iter()
        .enumerate()
        {
            cols[k].push(v);
        }
    }
    sqlx::query(
        "INSERT INTO kpi_cases (tenant, case_id, unit, service, outcome, tier, submitted, \
         submitted_month, closed, closed_month, on_time, lead_min, returns, breached_at, \
         step_breached_at, escalated_at, tier_on_time, deemed, paused_min, last_seq, steps_done, \
         ratings_done) \
         SELECT 'r', a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, j, coalesce(d = 'completed' AND j = 0, false)::int, \
         0, 1, 0, 0 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], \
         $13::int8[], $14::int8[], $15::int8[]) AS t(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o)",
    )
    .bind(&text[0])
    .bind(&text[1])
    .bind(&text[2])
    .bind(&text[3])
    .bind(&text[4])
    .bind(&cols[0])
    .bind(&cols[1])
    .bind(&cols[2])
    .bind(&cols[3])
    .bind(&cols[4])
    .bind(&cols[5])
    .bind(&cols[6])
    .bind(&cols[7])
    .bind(&cols[8])
    .bind(&cols[9])
    .execute(&pool)
    .await
    .unwrap();
    assert!(kpi.rebuild_summary("r", &ctx).await.unwrap() >= 9);
    summary_current(&pool, "r").await;
    let n = agree(
        &kpi,
        &ctx,
        "r",
        &[
            "2025-11", "2026-01", "2026-03", "2026-07", "2026-Q1", "2026-Q2", "2026", "2025",
        ],
    )
    .await;
    assert_eq!(n, 40);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await;
    st.close().await;
}
