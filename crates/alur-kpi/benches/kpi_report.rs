//! The province-wide KPI report over a year of facts, against a raw baseline in the same run.
//!
//! `cargo bench -p alur-kpi --bench kpi_report` — `ALUR_BENCH_CASES` (default 1,000,000 case
//! rows spread over every Kepri village and kecamatan, services of the example configuration,
//! submitted through 2026), `ALUR_BENCH_ROUNDS` (5); `ALUR_BENCH_POSTGRES_URL` or
//! `ALUR_TEST_POSTGRES_URL` adds PostgreSQL (a schema of its own, dropped after);
//! `ALUR_BENCH_SIM_CASES_PER_YEAR` (50,000) sizes the simulated week whose audit log is refreshed
//! into facts (the refresh rate). `ALUR_BENCH_SKIP_SQLITE=1` skips the simulated week and the
//! SQLite report; `ALUR_BENCH_PG_CASES_PATH=1` also times PostgreSQL's case-row report
//! (`PgKpi::report_from_cases`, the path used before the month summary).
//!
//! Report: `SqliteKpi::report` / `PgKpi::report` for unit 21 with every region below it as a
//! rolled-up row (`Grouping::All`), for March 2026 and for the whole year. Raw baseline: one plain
//! `SELECT unit, service, count(*), sum(…) … GROUP BY unit, service` over the same rows (the
//! period filter, no roll-up, no percentiles), read to the end. On PostgreSQL the rows are loaded
//! directly into `kpi_cases`, so the month summary is built once after loading
//! (`PgKpi::rebuild_summary`, timed); `PgKpi::report` then reads it.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use alur_core::region::{RegionIndex, code_within};
use alur_kpi::{Grouping, KpiContext, Period, PgKpi, Query, SqliteKpi};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Fact {
    id: String,
    unit: String,
    service: String,
    submitted: i64,
    sm: i64,
    closed: Option<i64>,
    cm: Option<i64>,
    outcome: Option<&'static str>,
    on_time: Option<i64>,
    lead: Option<i64>,
    returns: i64,
    breached: Option<i64>,
    tier: Option<String>,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn facts(n: u64, ctx: &KpiContext) -> Vec<Fact> {
    let regions = RegionIndex::embedded().unwrap();
    let mut units = Vec::new();
    let mut stack = vec!["21".to_owned()];
    while let Some(c) = stack.pop() {
        stack.extend(regions.children(&c).iter().cloned());
        if c.split('.').count() >= 3 {
            units.push(c);
        }
    }
    units.sort();
    let services: Vec<&String> = ctx.services.keys().collect();
    let tz = ctx.time_zone().clone();
    let (y0, y1) = Period::Year { year: 2026 }.bounds(&tz).unwrap();
    let (y0, y1) = (y0.as_second(), y1.as_second());
    let month = |t: i64| alur_kpi::period::month_key(jiff::Timestamp::from_second(t).unwrap(), &tz);
    let mut rng = Rng(42);
    (0..n)
        .map(|i| {
            let unit = units[rng.below(units.len() as u64) as usize].clone();
            let service = services[rng.below(services.len() as u64) as usize].clone();
            let submitted = y0 + rng.below((y1 - y0) as u64) as i64;
            let open = rng.f() < 0.03;
            let closed = (!open)
                .then(|| submitted + 600 + (-(1.0 - rng.f()).ln() * 172_800.0) as i64)
                .filter(|c| *c < y1);
            let r = rng.f();
            let outcome = closed.map(|_| {
                if r < 0.88 {
                    "completed"
                } else if r < 0.98 {
                    "rejected"
                } else {
                    "withdrawn"
                }
            });
            let decided = matches!(outcome, Some("completed" | "rejected"));
            let complaint = ctx.services.get(&service).is_some_and(|s| s.complaint);
            Fact {
                id: format!("b{i:08}"),
                sm: month(submitted),
                cm: closed.map(month),
                on_time: decided.then(|| i64::from(rng.f() < 0.92)),
                lead: decided.then(|| rng.below(3_000) as i64),
                returns: i64::from(rng.f() < 0.08),
                breached: (rng.f() < 0.05).then_some(submitted + 400_000),
                tier: complaint.then(|| ["ringan", "normatif"][rng.below(2) as usize].to_owned()),
                unit,
                service: service.clone(),
                submitted,
                closed,
                outcome,
            }
        })
        .collect()
}

fn load_sqlite(path: &std::path::Path, facts: &[Fact], ctx: &KpiContext) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO kpi_cases (tenant, case_id, unit, service, submitted, submitted_month, \
                 closed, closed_month, outcome, deemed, due, on_time, lead_min, paused_min, returns, \
                 breached_at, step_breached_at, escalated_at, tier, tier_on_time, last_seq, \
                 steps_done, ratings_done) VALUES ('kepri', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, NULL, \
                 ?9, ?10, 0, ?11, ?12, NULL, NULL, ?13, ?9, 6, 4, 0)",
            )
            .unwrap();
        for f in facts {
            st.execute(rusqlite::params![
                f.id,
                f.unit,
                f.service,
                f.submitted,
                f.sm,
                f.closed,
                f.cm,
                f.outcome,
                f.on_time,
                f.lead,
                f.returns,
                f.breached,
                f.tier
            ])
            .unwrap();
        }
        let mut units: Vec<(&str, &str)> = facts
            .iter()
            .map(|f| (f.unit.as_str(), f.service.as_str()))
            .collect();
        units.sort_unstable();
        units.dedup();
        let mut st = tx
            .prepare("INSERT INTO kpi_steps VALUES ('kepri', ?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .unwrap();
        let mut sk = tx
            .prepare(
                "INSERT INTO kpi_skm VALUES ('kepri', ?1, ?2, ?3, 30, 100, 95, 90, 110, 96, 98, \
                 104, 88, 92)",
            )
            .unwrap();
        for (u, s) in &units {
            let steps: Vec<String> = ctx
                .services
                .get(*s)
                .map(|i| i.step_names.keys().cloned().collect())
                .unwrap_or_default();
            for m in 1..=12 {
                for step in &steps {
                    st.execute(rusqlite::params![
                        u,
                        s,
                        202_600 + m,
                        step,
                        "operator",
                        20,
                        1_800
                    ])
                    .unwrap();
                }
                sk.execute(rusqlite::params![u, s, 202_600 + m]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("ANALYZE").unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

fn raw_sqlite(path: &std::path::Path, start: i64, end: i64) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut st = conn
        .prepare(
            "SELECT unit, service, count(*), sum(lead_min), sum(on_time), sum(returns) \
             FROM kpi_cases WHERE tenant = 'kepri' AND submitted < ?2 \
             AND (closed IS NULL OR closed >= ?1) GROUP BY unit, service",
        )
        .unwrap();
    let mut rows = st.query(rusqlite::params![start, end]).unwrap();
    let mut n = 0u64;
    while let Some(r) = rows.next().unwrap() {
        n += r.get::<_, i64>(2).unwrap() as u64;
    }
    n
}

#[allow(clippy::too_many_lines)]
fn sqlite_part(
    config: &alur_core::Config,
    ctx: &KpiContext,
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    facts: &[Fact],
    rounds: usize,
    generated: Duration,
) {
    // 1. Refresh rate: a simulated week's audit log into facts.
    let sim_path = dir.join("sim.db");
    let per_year = env("ALUR_BENCH_SIM_CASES_PER_YEAR", 50_000);
    let (sim, entries) = rt.block_on(async {
        let store = alur_sqlite::SqliteStore::open(
            sim_path.to_str().unwrap(),
            alur_sqlite::SqliteOptions::with_durability(alur_sqlite::Durability::Normal),
        )
        .await
        .unwrap();
        let opts = alur_sim::Options {
            from: jiff::civil::date(2026, 3, 2),
            to: jiff::civil::date(2026, 3, 6),
            seed: 1,
            cases_per_year: per_year,
            ..alur_sim::Options::default()
        };
        let (r, store) = alur_sim::run(config.clone(), store, &opts, |_, _, _| {})
            .await
            .unwrap();
        let path = store.path().to_path_buf();
        store.close().await;
        let conn = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM audit_entries", [], |r| r.get(0))
            .unwrap();
        (r, n)
    });
    let kpi = SqliteKpi::new(&sim_path);
    let t = Instant::now();
    let stats = kpi.refresh("kepri", ctx).unwrap();
    let full = t.elapsed();
    let t = Instant::now();
    let again = kpi.refresh("kepri", ctx).unwrap();
    let noop = t.elapsed();
    println!(
        "refresh (SQLite): {} cases, {} entries ({entries} in the table) in {:.3} s = {:.0} entries/s; \
         nothing new: {:.1} ms ({} cases)",
        stats.cases,
        stats.entries,
        full.as_secs_f64(),
        stats.entries as f64 / full.as_secs_f64(),
        noop.as_secs_f64() * 1e3,
        again.cases
    );
    println!(
        "  (simulated {} cases, {} transitions, {} survey answers, {} deferred at capacity)",
        sim.cases, sim.transitions, sim.rated, sim.deferred
    );

    // 2. The report over a year of facts.
    let path = dir.join("kpi.db");
    rt.block_on(async {
        let s = alur_sqlite::SqliteStore::open(path.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        s.close().await;
    });
    let t = Instant::now();
    load_sqlite(&path, facts, ctx);
    println!(
        "loaded {} case rows in {:.1} s",
        facts.len(),
        (t.elapsed() + generated).as_secs_f64()
    );
    let kpi = SqliteKpi::new(&path);
    let tz = ctx.time_zone().clone();
    for period in ["2026-03", "2026"] {
        let p: Period = period.parse().unwrap();
        let mut q = Query::new("kepri", "21", p);
        q.by = Grouping::All;
        let (s, e) = p.bounds(&tz).unwrap();
        let mut rep = Vec::new();
        let mut raw = Vec::new();
        let mut rows = 0;
        let mut report = None;
        for _ in 0..rounds {
            let t = Instant::now();
            let r = kpi.report(ctx, &q).unwrap();
            rep.push(t.elapsed());
            rows = r.rows.len();
            report = Some(r);
            let t = Instant::now();
            std::hint::black_box(raw_sqlite(&path, s.as_second(), e.as_second()));
            raw.push(t.elapsed());
        }
        let (a, b) = (median(rep), median(raw));
        let r = report.unwrap();
        let want = facts
            .iter()
            .filter(|f| {
                code_within(&f.unit, "21")
                    && f.submitted >= s.as_second()
                    && f.submitted < e.as_second()
            })
            .count() as u64;
        assert_eq!(r.rows[0].figures.received, want);
        println!(
            "SQLite {period}: report {rows} rows {:.3} s | raw GROUP BY {:.3} s | report/raw {:.2}",
            a.as_secs_f64(),
            b.as_secs_f64(),
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}

fn main() {
    let cases = env("ALUR_BENCH_CASES", 1_000_000);
    let rounds = env("ALUR_BENCH_ROUNDS", 5) as usize;
    let config = alur_testkit::kepri();
    let ctx = KpiContext::from_config(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let skip_sqlite = env("ALUR_BENCH_SKIP_SQLITE", 0) == 1;
    let pg_cases_path = env("ALUR_BENCH_PG_CASES_PATH", 0) == 1;
    let tz = ctx.time_zone().clone();
    let t = Instant::now();
    let facts = facts(cases, &ctx);
    let generated = t.elapsed();
    if !skip_sqlite {
        sqlite_part(&config, &ctx, &rt, dir.path(), &facts, rounds, generated);
    }
    println!("peak RSS so far: {:.0} MiB", peak_rss_mib());

    // 3. PostgreSQL.
    let url = std::env::var("ALUR_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ALUR_TEST_POSTGRES_URL"))
        .ok()
        .filter(|u| !u.trim().is_empty());
    let Some(url) = url else {
        println!("PostgreSQL: skipped (set ALUR_BENCH_POSTGRES_URL or ALUR_TEST_POSTGRES_URL)");
        return;
    };
    rt.block_on(async {
        let schema = format!("alur_kpi_bench_{}", std::process::id());
        let store = alur_postgres::PostgresStore::connect(
            &url,
            alur_postgres::PostgresOptions {
                schema: Some(schema.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let pool = store.pool().clone();
        let t = Instant::now();
        for chunk in facts.chunks(20_000) {
            let col = |f: &dyn Fn(&Fact) -> Option<i64>| chunk.iter().map(f).collect::<Vec<_>>();
            let txt = |f: &dyn Fn(&Fact) -> Option<String>| chunk.iter().map(f).collect::<Vec<_>>();
            sqlx::query(
                "INSERT INTO kpi_cases (tenant, case_id, unit, service, outcome, tier, submitted, \
                 submitted_month, closed, closed_month, on_time, lead_min, returns, breached_at, \
                 tier_on_time, deemed, paused_min, last_seq, steps_done, ratings_done) \
                 SELECT 'kepri', a, b, c, d, e, f, g, h, i, j, k, l, m, j, 0, 0, 6, 4, 0 \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], \
                 $12::int8[], $13::int8[]) AS t(a, b, c, d, e, f, g, h, i, j, k, l, m)",
            )
            .bind(txt(&|f| Some(f.id.clone())))
            .bind(txt(&|f| Some(f.unit.clone())))
            .bind(txt(&|f| Some(f.service.clone())))
            .bind(txt(&|f| f.outcome.map(str::to_owned)))
            .bind(txt(&|f| f.tier.clone()))
            .bind(col(&|f| Some(f.submitted)))
            .bind(col(&|f| Some(f.sm)))
            .bind(col(&|f| f.closed))
            .bind(col(&|f| f.cm))
            .bind(col(&|f| f.on_time))
            .bind(col(&|f| f.lead))
            .bind(col(&|f| Some(f.returns)))
            .bind(col(&|f| f.breached))
            .execute(&pool)
            .await
            .unwrap();
        }
        // As autovacuum leaves a table after a bulk load (so the visibility map lets the
        // backlog's partial index be read without the table).
        sqlx::query("VACUUM ANALYZE kpi_cases")
            .execute(&pool)
            .await
            .unwrap();
        println!("PostgreSQL: loaded in {:.1} s", t.elapsed().as_secs_f64());
        let kpi = PgKpi::new(pool.clone());
        let t = Instant::now();
        let months = kpi.rebuild_summary("kepri", &ctx).await.unwrap();
        let (summary_rows, samples): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), sum(cardinality(lead))::int8 FROM kpi_summary",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        println!(
            "PostgreSQL: month summary built in {:.1} s ({months} months, {summary_rows} rows, \
             {} lead-time samples)",
            t.elapsed().as_secs_f64(),
            samples.unwrap_or(0)
        );
        sqlx::query("VACUUM ANALYZE kpi_summary")
            .execute(&pool)
            .await
            .unwrap();
        for period in ["2026-03", "2026"] {
            let p: Period = period.parse().unwrap();
            let mut q = Query::new("kepri", "21", p);
            q.by = Grouping::All;
            let (s, e) = p.bounds(&tz).unwrap();
            let mut rep = Vec::new();
            let mut raw = Vec::new();
            let mut by_cases = Vec::new();
            let mut rows = 0;
            let want = facts
                .iter()
                .filter(|f| {
                    code_within(&f.unit, "21")
                        && f.submitted >= s.as_second()
                        && f.submitted < e.as_second()
                })
                .count() as u64;
            for _ in 0..rounds {
                let t = Instant::now();
                let r = kpi.report(&ctx, &q).await.unwrap();
                rep.push(t.elapsed());
                rows = r.rows.len();
                assert_eq!(r.rows[0].figures.received, want);
                if pg_cases_path {
                    let t = Instant::now();
                    let c = kpi.report_from_cases(&ctx, &q).await.unwrap();
                    by_cases.push(t.elapsed());
                    assert_eq!(c, r);
                }
                let t = Instant::now();
                let n: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT unit, service, count(*), sum(lead_min)::int8 FROM kpi_cases \
                     WHERE tenant = 'kepri' AND submitted < $2 AND (closed IS NULL OR closed >= $1) \
                     GROUP BY unit, service",
                )
                .bind(s.as_second())
                .bind(e.as_second())
                .fetch_all(&pool)
                .await
                .unwrap();
                std::hint::black_box(n);
                raw.push(t.elapsed());
            }
            let (a, b) = (median(rep), median(raw));
            println!(
                "PostgreSQL {period}: report {rows} rows {:.3} s | raw GROUP BY {:.3} s | report/raw {:.2}",
                a.as_secs_f64(),
                b.as_secs_f64(),
                a.as_secs_f64() / b.as_secs_f64()
            );
            if pg_cases_path {
                println!(
                    "  PostgreSQL {period} from the case rows: {:.3} s (same report)",
                    median(by_cases).as_secs_f64()
                );
            }
        }
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await;
        store.close().await;
    });
    println!("peak RSS: {:.0} MiB", peak_rss_mib());
}
