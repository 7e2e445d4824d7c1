//! Load on the service desk over loopback HTTP, SQLite (`synchronous=FULL`, group commit: the
//! `alur serve` default) on this machine.
//!
//! The server runs on its own multi-threaded runtime; the load generator is a closed loop of
//! keep-alive HTTP/1.1 connections on one other thread (a minimal client: one write, one
//! read per request, so the generator's own cost stays small). Phases, each for a fixed time:
//!
//! 1. baseline: `GET /health` — the HTTP stack with no work behind it;
//! 2. submissions: `POST /api/v1/cases` (each with its own `Idempotency-Key` and applicant);
//! 3. case-status reads: `GET /api/v1/track/{code}` over the codes phase 2 handed out.
//!
//! 4. an officer's inbox: `GET /api/v1/inbox` (the operator of the unit every case is at).
//!
//! Before the phases the database is filled with `ALUR_BENCH_PREFILL` open cases (default
//! 1,000,000: copies of one real engine case made with plain SQL, each with its inbox row), and
//! the reads pick among all of them. A sampler reads the process's resident memory (`VmRSS`)
//! every 50 ms while the server serves; the bench prints the largest value next to the
//! process's size just before the server started (the baseline: runtime, the filled database
//! closed).
//!
//! It prints requests/s, latency p50/p99/max and the ratio to the baseline for each phase.
//! Sizes: `ALUR_BENCH_SECONDS` (per phase, default 10), `ALUR_BENCH_CONNECTIONS` (reads,
//! default 32), `ALUR_BENCH_SUBMIT_CONNECTIONS` (default 32), `ALUR_BENCH_SERVER_THREADS`
//! (default 2), `ALUR_BENCH_PREFILL`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive connection speaking just enough HTTP/1.1.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    async fn request(&mut self, head_and_body: &[u8]) -> std::io::Result<Answer> {
        self.stream.write_all(head_and_body).await?;
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let (head_end, length) = loop {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).map_err(std::io::Error::other)?;
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .ok_or_else(|| std::io::Error::other("no content-length"))?;
                break (end + 4, length);
            }
        };
        while self.buf.len() < head_end + length {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "short body",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let status = std::str::from_utf8(&self.buf[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Answer {
            status,
            body: self.buf[head_end..head_end + length].to_vec(),
        })
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n").into_bytes()
}

fn get_as(path: &str, token: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .into_bytes()
}

/// This process's resident memory, KiB (`VmRSS`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Copy the one case in the database `n` times (ids `<id>-0000000`…), each with its inbox
/// row, with plain SQL on a connection of its own that is closed afterwards.
async fn prefill(path: &std::path::Path, n: u64) -> String {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
        .connect()
        .await
        .expect("connect");
    let original: String = sqlx::query_scalar("SELECT id FROM cases")
        .fetch_one(&mut conn)
        .await
        .expect("one case");
    let started = Instant::now();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
         INSERT INTO cases (tenant, id, version, service, definition_version, unit, status, is_open,
                            pending_unit, pending_roles, assignee, submitted_at, updated_at, due_at, body)
         SELECT c.tenant, printf('%s-%07d', c.id, n.i), c.version, c.service, c.definition_version,
                c.unit, c.status, c.is_open, c.pending_unit, c.pending_roles, c.assignee,
                c.submitted_at, c.updated_at, c.due_at,
                replace(c.body, '\"' || c.id || '\"', '\"' || printf('%s-%07d', c.id, n.i) || '\"')
         FROM cases c, n WHERE c.id = ?1",
    )
    .bind(&original)
    .bind(i64::try_from(n).expect("size"))
    .execute(&mut conn)
    .await
    .expect("prefill");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM case_pending")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    conn.close().await.expect("close");
    println!(
        "prefilled {rows} cases ({pending} inbox rows) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    original
}

fn submission(n: u64) -> Vec<u8> {
    let body = serde_json::json!({
        "service": "batam-domisili",
        "unit": "21.71.10.1001",
        "nik": format!("21711045129{:05}", n % 100_000),
        "fields": {"nama": format!("Pemohon {n}"), "alamat": "Jl. Uji No. 1", "keperluan": "Uji beban"},
    })
    .to_string();
    format!(
        "POST /api/v1/cases HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n\
Idempotency-Key: bench-{n}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Phase {
    name: &'static str,
    requests: u64,
    seconds: f64,
    latencies_us: Vec<u32>,
    failures: u64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
    fn print(&self, baseline: Option<f64>) {
        println!(
            "{:<28} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  failed {}{}",
            self.name,
            self.rate(),
            self.pct(0.50),
            self.pct(0.99),
            self.pct(1.0),
            self.failures,
            baseline.map_or(String::new(), |b| format!(
                "  ({:.0} % of /health)",
                100.0 * self.rate() / b
            )),
        );
    }
}

/// Run `connections` closed loops for `seconds`; `make(n)` is the n-th request, `seen` gets
/// each successful answer.
async fn run<F, G>(
    name: &'static str,
    addr: SocketAddr,
    connections: u64,
    seconds: u64,
    make: F,
    seen: G,
) -> Phase
where
    F: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
    G: Fn(&Answer) -> bool + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let seen = Arc::new(seen);
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (make, seen, stop, counter) =
            (make.clone(), seen.clone(), stop.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut failures = 0u64;
            let mut conn = Conn::open(addr).await.expect("connect");
            while !stop.load(Ordering::Relaxed) {
                let req = make(counter.fetch_add(1, Ordering::Relaxed));
                let t = Instant::now();
                match conn.request(&req).await {
                    Ok(a) if seen(&a) => {
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    Ok(_) => failures += 1,
                    Err(_) => {
                        failures += 1;
                        conn = Conn::open(addr).await.expect("reconnect");
                    }
                }
            }
            (lat, failures)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.expect("load task");
        latencies_us.extend(l);
        failures += f;
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Phase {
        name,
        requests: latencies_us.len() as u64,
        seconds,
        latencies_us,
        failures,
    }
}

/// The engine over the SQLite file at `url` (FULL with group commit, as `alur serve` opens it).
async fn engine(url: &str) -> alur_core::Engine<alur_sqlite::SqliteStore> {
    let store = alur_sqlite::SqliteStore::open(url, alur_sqlite::SqliteOptions::default())
        .await
        .expect("sqlite");
    alur_core::Engine::new(
        alur_testkit::kepri(),
        store,
        Arc::new(alur_core::SystemClock),
        alur_testkit::pseudonymizer(),
    )
    .await
    .expect("engine")
}

fn main() {
    let seconds = env("ALUR_BENCH_SECONDS", 10);
    let read_conns = env("ALUR_BENCH_CONNECTIONS", 32);
    let submit_conns = env("ALUR_BENCH_SUBMIT_CONNECTIONS", 32);
    let server_threads = env("ALUR_BENCH_SERVER_THREADS", 2) as usize;

    let prefill_n = env("ALUR_BENCH_PREFILL", 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("alur.db");
    let url = format!("sqlite://{}", db_path.display());
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .expect("server runtime");
    // One real case through the engine, copied `prefill_n` times, before the server starts.
    let original = server.block_on(async {
        let engine = engine(&url).await;
        engine
            .submit(alur_testkit::domisili(1), None)
            .await
            .expect("submit");
        drop(engine);
        prefill(&db_path, prefill_n).await
    });
    let baseline_rss = rss_kib();
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (peak_rss.clone(), sampling.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let addr = server.block_on(async {
        let engine = engine(&url).await;
        let settings = alur_server::Settings {
            public_requests_per_minute: 0,
            upload_dir: dir.path().join("dokumen"),
            ..Default::default()
        };
        let auth = alur_server::TokenAuthenticator::new().with_token("bench", "baloi-operator");
        let state = alur_server::AppState::new(Arc::new(engine), Arc::new(auth), settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(alur_server::serve(
            listener,
            alur_server::router(state),
            std::future::pending(),
        ));
        addr
    });
    println!(
        "alur-server on {addr}: SQLite synchronous=FULL with group commit, {server_threads} server threads; \
{seconds} s per phase; load from one client thread"
    );

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async {
        let health = run(
            "GET /health (baseline)",
            addr,
            read_conns,
            seconds,
            |_| get("/health"),
            |a| a.status == 200,
        )
        .await;
        health.print(None);

        let codes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = codes.clone();
        let submit = run(
            "POST /api/v1/cases",
            addr,
            submit_conns,
            seconds,
            submission,
            move |a| {
                if a.status != 201 {
                    return false;
                }
                let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
                match v["tracking_code"].as_str() {
                    Some(c) => {
                        sink.lock().expect("codes").push(c.to_owned());
                        true
                    }
                    None => false,
                }
            },
        )
        .await;
        submit.print(Some(health.rate()));

        let codes: Arc<Vec<String>> = Arc::new(std::mem::take(&mut *codes.lock().expect("codes")));
        assert!(!codes.is_empty(), "no submission succeeded");
        let submitted = codes.len() as u64;
        let pick = codes.clone();
        let pseudonyms = alur_testkit::pseudonymizer();
        let track = run(
            "GET /api/v1/track/{code}",
            addr,
            read_conns,
            seconds,
            move |n| {
                // A fixed stride over every case (copies and submissions): no cache-friendly order.
                let i = n.wrapping_mul(2_654_435_761) % (prefill_n + submitted);
                let code = if i < prefill_n {
                    alur_server::tracking::code(&pseudonyms, &format!("{original}-{i:07}"))
                } else {
                    pick[(i - prefill_n) as usize].clone()
                };
                get(&format!("/api/v1/track/{code}"))
            },
            |a| a.status == 200,
        )
        .await;
        track.print(Some(health.rate()));

        let inbox = run(
            "GET /api/v1/inbox (officer)",
            addr,
            read_conns.min(8),
            seconds,
            |_| get_as("/api/v1/inbox?limit=50", "bench"),
            |a| a.status == 200,
        )
        .await;
        inbox.print(Some(health.rate()));
        println!(
            "cases in the database: {}; targets: status reads ≥ 2,000 req/s with p99 < 50 ms, submissions ≥ 500 req/s",
            prefill_n + 1 + submitted
        );
    });
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("sampler");
    println!(
        "resident memory: {:.0} MiB before the server started (baseline), at most {:.0} MiB while serving (target < 200 MB with 1M cases)",
        baseline_rss as f64 / 1024.0,
        peak_rss.load(Ordering::Relaxed) as f64 / 1024.0
    );
    drop(server);
}
