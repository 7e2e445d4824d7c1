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
//! It prints requests/s, latency p50/p99/max and the ratio to the baseline for each phase.
//! Sizes: `ALUR_BENCH_SECONDS` (per phase, default 10), `ALUR_BENCH_CONNECTIONS` (reads,
//! default 32), `ALUR_BENCH_SUBMIT_CONNECTIONS` (default 32), `ALUR_BENCH_SERVER_THREADS`
//! (default 2).

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

fn main() {
    let seconds = env("ALUR_BENCH_SECONDS", 10);
    let read_conns = env("ALUR_BENCH_CONNECTIONS", 32);
    let submit_conns = env("ALUR_BENCH_SUBMIT_CONNECTIONS", 32);
    let server_threads = env("ALUR_BENCH_SERVER_THREADS", 2) as usize;

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("alur.db").display());
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .expect("server runtime");
    let addr = server.block_on(async {
        let store = alur_sqlite::SqliteStore::open(&url, alur_sqlite::SqliteOptions::default())
            .await
            .expect("sqlite");
        let engine = alur_core::Engine::new(
            alur_testkit::kepri(),
            store,
            Arc::new(alur_core::SystemClock),
            alur_testkit::pseudonymizer(),
        )
        .await
        .expect("engine");
        let settings = alur_server::Settings {
            public_requests_per_minute: 0,
            upload_dir: dir.path().join("dokumen"),
            ..Default::default()
        };
        let state = alur_server::AppState::new(
            Arc::new(engine),
            Arc::new(alur_server::NoAuthenticator),
            settings,
        );
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
        let pick = codes.clone();
        let track = run(
            "GET /api/v1/track/{code}",
            addr,
            read_conns,
            seconds,
            move |n| {
                // A fixed stride over the codes: every case is read, in no cache-friendly order.
                let i = (n.wrapping_mul(2_654_435_761)) as usize % pick.len();
                get(&format!("/api/v1/track/{}", pick[i]))
            },
            |a| a.status == 200,
        )
        .await;
        track.print(Some(health.rate()));
        println!(
            "cases in the database: {}; targets: status reads ≥ 2,000 req/s with p99 < 50 ms, submissions ≥ 500 req/s",
            codes.len()
        );
    });
    drop(server);
}
