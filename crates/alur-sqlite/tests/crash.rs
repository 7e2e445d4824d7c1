//! Crash safety: a child process commits transitions and prints an acknowledgement after each;
//! the parent kills it with SIGKILL at random moments (120 times by default), restarts it, and
//! checks after every kill that no acknowledged transition is missing, no audit chain has a gap,
//! `PRAGMA integrity_check` is `ok`, and every acknowledged outbox row is still pending.
//!
//! The child is this test binary re-invoked on the `crash_child` test with `ALUR_CRASH_DB` set.
//! `ALUR_CRASH_KILLS` changes the number of kills.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use alur_core::engine::EventKind;
use alur_core::store::{OutboxMessage, Store, StoreErrorKind, Timer, Transition};
use alur_sqlite::{Durability, SqliteStore};

const TENANT: &str = "kepri";
const CASES: usize = 6;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Append one transition to `case_id`: an audit entry marked `marker`, an outbox message, and
/// every fifth time a replaced timer. `Ok(Some(seq))` once committed.
async fn append(
    store: &SqliteStore,
    case_id: &str,
    marker: &str,
    n: u64,
) -> Result<Option<u64>, String> {
    let case = store
        .case(TENANT, case_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no case")?;
    let head = store
        .last_entry(TENANT, case_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no head")?;
    let seq = case.version + 1;
    let now = jiff::Timestamp::now();
    let mut next = case.clone();
    next.version = seq;
    next.updated_at = now;
    let mut entry = head.clone();
    entry.seq = seq;
    entry.event = EventKind::Commented;
    entry.actor.kind = "officer".into();
    entry.actor.id = marker.to_owned();
    entry.at = now;
    entry.payload_digest = None;
    entry.prev_hash = head.hash.clone();
    entry.hash = entry.compute_hash();
    let replace = n.is_multiple_of(5);
    let t = Transition {
        tenant: TENANT.into(),
        case: next,
        expected_version: case.version,
        entries: vec![entry],
        payloads: vec![],
        outbox: vec![OutboxMessage {
            id: format!("{case_id}:{seq}:crash"),
            tenant: TENANT.into(),
            case_id: case_id.to_owned(),
            seq,
            template: "crash.test".into(),
            recipient: marker.to_owned(),
            created_at: now,
        }],
        timers: if replace {
            vec![Timer {
                id: format!("{case_id}:{seq}:timer"),
                tenant: TENANT.into(),
                case_id: case_id.to_owned(),
                kind: "breach".into(),
                fire_at: now,
            }]
        } else {
            vec![]
        },
        replace_timers: replace,
        idempotency: None,
        fired_timer: None,
        letter: None,
    };
    match store.commit(t).await {
        Ok(()) => Ok(Some(seq)),
        Err(e) if e.kind == StoreErrorKind::Conflict => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// One line on stdout, after the commit it reports (a closed pipe is ignored: we are being killed).
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The child: commit forever on every case concurrently, acknowledging each commit on stdout.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var("ALUR_CRASH_DB") else {
        return; // an ordinary test run: nothing to do
    };
    let durability = match std::env::var("ALUR_CRASH_PROFILE").as_deref() {
        Ok("normal") => Durability::Normal,
        _ => Durability::Full,
    };
    let run = std::env::var("ALUR_CRASH_RUN").unwrap_or_default();
    let cases: Vec<String> = std::env::var("ALUR_CRASH_CASES")
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    runtime().block_on(async move {
        let store = Arc::new(common::open(std::path::Path::new(&path), durability).await);
        say("ready");
        let mut tasks = Vec::new();
        for (i, case_id) in cases.into_iter().enumerate() {
            let store = store.clone();
            let run = run.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    let marker = format!("r{run}-c{i}-n{n}");
                    match append(&store, &case_id, &marker, n).await {
                        Ok(Some(seq)) => say(&format!("ack {case_id} {seq} {marker}")),
                        Ok(None) => {}
                        Err(e) => say(&format!("err {e}")),
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// A small xorshift generator (the seed is printed so that a failing run can be repeated).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Everything acknowledged so far is there, whole.
async fn verify(path: &std::path::Path, acked: &BTreeMap<(String, u64), String>, cases: &[String]) {
    let store = common::open(path, Durability::Normal).await;
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let outbox: BTreeSet<String> = store
        .pending_outbox(TENANT, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    for case_id in cases {
        let case = store.case(TENANT, case_id).await.unwrap().unwrap();
        let entries = store.entries(TENANT, case_id).await.unwrap();
        assert_eq!(
            entries.len() as u64,
            case.version,
            "{case_id}: one entry per version"
        );
        alur_core::audit::verify_chain(&entries).unwrap();
        for ((c, seq), marker) in acked.range((case_id.clone(), 0)..=(case_id.clone(), u64::MAX)) {
            let e = entries
                .get((*seq - 1) as usize)
                .unwrap_or_else(|| panic!("acknowledged {c} #{seq} is missing"));
            assert_eq!(
                &e.actor.id, marker,
                "{c} #{seq} is not the acknowledged transition"
            );
            assert!(
                outbox.contains(&format!("{c}:{seq}:crash")),
                "outbox row of {c} #{seq} lost"
            );
        }
    }
    store.close().await;
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    if std::env::var("ALUR_CRASH_DB").is_ok() {
        return; // inside a child
    }
    let kills: usize = std::env::var("ALUR_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(120);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("crash test seed {seed}, {kills} kills");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = common::db_path(dir.path());
    let rt = runtime();
    let cases: Vec<String> = rt.block_on(async {
        let (engine, _) = alur_testkit::engine(common::open(&path, Durability::Full).await).await;
        let mut ids = Vec::new();
        for n in 0..CASES as u32 {
            ids.push(
                engine
                    .submit(alur_testkit::domisili(n), None)
                    .await
                    .unwrap()
                    .id,
            );
        }
        engine.into_store().close().await;
        ids
    });
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut acked: BTreeMap<(String, u64), String> = BTreeMap::new();
    let mut killed_with_acks = 0;
    for k in 0..kills {
        let profile = if k % 2 == 0 { "normal" } else { "full" };
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("ALUR_CRASH_DB", &path)
            .env("ALUR_CRASH_PROFILE", profile)
            .env("ALUR_CRASH_RUN", k.to_string())
            .env("ALUR_CRASH_CASES", cases.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until the child is writing, then let it run for a random while.
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    // libtest prints "test crash_child ... " before our first line.
                    let ready = line.ends_with("ready");
                    lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(e) => panic!("child did not start: {e:?}"),
            }
        }
        std::thread::sleep(Duration::from_micros(2_000 + rng.next() % 60_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let mut acks = 0;
        for line in &lines {
            let mut parts = line.split_whitespace();
            match parts.next() {
                Some("ack") => {
                    let case = parts.next().unwrap().to_owned();
                    let seq: u64 = parts.next().unwrap().parse().unwrap();
                    let marker = parts.next().unwrap().to_owned();
                    assert!(
                        acked.insert((case, seq), marker).is_none(),
                        "seq acknowledged twice"
                    );
                    acks += 1;
                }
                Some("err") => panic!("child saw an error: {line}"),
                _ => {}
            }
        }
        if acks > 0 {
            killed_with_acks += 1;
        }
        rt.block_on(verify(&path, &acked, &cases));
    }
    eprintln!(
        "{kills} kills ({killed_with_acks} after acknowledged commits), {} acknowledged transitions, all present; {:.1} s",
        acked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(acked.len() >= kills, "the child barely wrote anything");
}
