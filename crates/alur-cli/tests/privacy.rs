//! Privacy: no NIK (the 16-digit national id) in anything `alur` logs, prints or exports.
//!
//! A NIK enters `alur` in two places: applicants (hosts pseudonymise them with
//! `Pseudonymizer::person`) and officers (`nik = "…"` in `officers.toml`). Neither may come out
//! again, in clear, anywhere an operator or auditor sees text:
//!
//! - `alur_binary_prints_and_writes_no_nik`: the real `alur` binary, every command (validate and
//!   services on the example configuration, which holds officer NIKs, and on broken copies
//!   where a NIK is mistyped; calendar; simulate into a SQLite file; audit keygen, checkpoint,
//!   verify from the database and from an export, a tampered export, prove, case). Its
//!   stdout and stderr (run with `RUST_LOG=trace` and `RUST_BACKTRACE=1`; the binary installs no
//!   logger, so these two streams are all it emits) and every file it writes (database, WAL,
//!   export, checkpoints) are scanned.
//! - `engine_flows_log_no_nik`: in-process engine runs over SQLite (the kepri fixtures with
//!   applicants of known NIKs, a denial, a full simulation with timers, returns and refusals),
//!   the tenant log integrated, signed, verified and proved, under a global `tracing`
//!   subscriber and a global `log` logger that capture every event and span field at TRACE
//!   (the libraries below `alur`, sqlx in particular, log through both); plus what a host
//!   typically logs: `Debug` and `Display` of the configuration, cases, entries, the audit
//!   summaries, descriptions and errors.
//!
//! "NIK-shaped" is `\b\d{16}\b` (a 16-digit token; a run inside a hex digest is not one), and
//! also any run of exactly 16 digits inside a word that is not hex when it is a plausible NIK
//! (a kecamatan code of the embedded Kemendagri data, then a day of birth — plus 40 for women —
//! and a month). In database files (the SQLite file, its WAL) a 16-digit token counts only when
//! it is a plausible NIK: their pages keep the bytes of freed cells, so the digits of two
//! unrelated values (a case id, the rest of an older one) can end up side by side. The
//! simulator's applicants have plausible NIKs, so a leak of theirs is still found.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use alur_core::region::RegionIndex;

// ---------------------------------------------------------------------------------------------
// Finding NIK-shaped strings.

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A plausible NIK: kecamatan code, day of birth (women + 40), month.
fn plausible_nik(d: &str) -> bool {
    let Ok(regions) = RegionIndex::embedded() else {
        return false;
    };
    let num = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let code = format!("{}.{}.{}", &d[0..2], &d[2..4], &d[4..6]);
    let (day, month) = (num(6..8), num(8..10));
    regions.get(&code).is_some()
        && ((1..=31).contains(&day) || (41..=71).contains(&day))
        && (1..=12).contains(&month)
}

/// What is scanned: text `alur` prints or exports, or the bytes of a database file.
#[derive(Clone, Copy, PartialEq)]
enum Scan {
    Text,
    Database,
}

/// Every NIK-shaped string in `text`, with where it was found.
fn nik_shaped(text: &str, scan: Scan) -> Vec<String> {
    let b = text.as_bytes();
    let mut hits = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_word(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
        let word = &text[start..i];
        let context = || {
            let (mut s, mut e) = (start.saturating_sub(60), (i + 60).min(text.len()));
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            while !text.is_char_boundary(e) {
                e += 1;
            }
            text[s..e].replace('\n', "⏎")
        };
        if word.len() == 16 && word.bytes().all(|c| c.is_ascii_digit()) {
            if plausible_nik(word) {
                hits.push(format!("{word} (a plausible NIK) in …{}…", context()));
            } else if scan == Scan::Text {
                hits.push(format!("{word} (16 digits) in …{}…", context()));
            }
            continue;
        }
        if word.bytes().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        // Runs of exactly 16 digits glued to letters ("NIK2171…"): only plausible NIKs count.
        let wb = word.as_bytes();
        let mut j = 0;
        while j < wb.len() {
            let run = wb[j..].iter().take_while(|c| c.is_ascii_digit()).count();
            // In a database file, columns lie side by side ("…Z" of a time, then a digest): a
            // run inside hex digests glued together (a hex stretch of 64 or 128 characters) is
            // part of them. A NIK glued to a digest makes the stretch 80 long and still counts.
            let in_digests = run == 16 && scan == Scan::Database && {
                let hex = |c: &u8| c.is_ascii_hexdigit();
                let left = wb[..j].iter().rev().take_while(|c| hex(c)).count();
                let right = wb[j + run..].iter().take_while(|c| hex(c)).count();
                (left + run + right) % 64 == 0
            };
            if run == 16 && !in_digests && plausible_nik(&word[j..j + 16]) {
                hits.push(format!(
                    "{} (a plausible NIK inside a word) in …{}…",
                    &word[j..j + 16],
                    context()
                ));
            }
            j += run.max(1);
        }
    }
    hits
}

/// The NIKs written in the example configuration (officers).
fn officer_niks() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("examples/config/kepri/officers.toml"))
        .expect("officers.toml");
    let niks: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nik = \""))
        .map(|v| v.trim_end_matches('"').to_owned())
        .collect();
    assert!(
        !niks.is_empty(),
        "the example configuration has officer NIKs"
    );
    niks
}

/// The NIK of `alur_testkit::applicant(n)`.
fn applicant_nik(n: u32) -> String {
    format!("21711045129{n:05}")
}

fn assert_no_nik(what: &str, text: &str, known: &[String], scan: Scan) {
    for nik in known {
        assert!(!text.contains(nik.as_str()), "{what}: NIK {nik} appears");
    }
    let hits = nik_shaped(text, scan);
    assert!(
        hits.is_empty(),
        "{what}: {} NIK-shaped string(s):\n{}",
        hits.len(),
        hits.join("\n")
    );
}

#[test]
fn the_scanner_finds_niks_and_ignores_digests() {
    let nik = applicant_nik(7);
    assert!(plausible_nik(&nik));
    assert!(plausible_nik("2171105203900001"));
    assert!(!plausible_nik("9999999999999999"));
    for text in [
        format!("nik={nik}"),
        format!("\"{nik}\""),
        format!("invalid type: integer `{nik}`, expected a string"),
        format!("{nik}.5"),
        format!("NIK{nik}"),
        "1234567890123456".to_owned(),
    ] {
        assert_eq!(nik_shaped(&text, Scan::Text).len(), 1, "{text}");
    }
    // In a database file only a plausible NIK counts; the digits of two values side by side
    // (a freed cell's leftovers) do not.
    assert_eq!(
        nik_shaped(&format!("x\u{1}{nik}\u{2}"), Scan::Database).len(),
        1
    );
    assert!(nik_shaped("sim5-0000103203647047\u{9}V", Scan::Database).is_empty());
    let digest = format!(
        "c3fdc{}c2597f87952f9420975195fbdfc1f7068dea6658238",
        "9403040306585954"
    );
    assert_eq!(digest.len(), 64);
    assert!(nik_shaped(&format!("00:00Z{digest}\u{1}"), Scan::Database).is_empty());
    assert!(nik_shaped(&format!("00:00Z{digest}{digest}\u{1}"), Scan::Database).is_empty());
    assert_eq!(
        nik_shaped(&format!("00:00Z{digest}{nik}\u{1}"), Scan::Database).len(),
        1
    );
    assert_eq!(nik_shaped(&format!("00:00Z{digest}"), Scan::Text).len(), 1);
    assert_eq!(
        nik_shaped("sim5-0000103203647047\u{9}V", Scan::Text).len(),
        1
    );
    for text in [
        "p:2171104512900007ab4f00000000000000000000000000000000000000000000".to_owned(),
        "12345678901234567".to_owned(),
        "199003122015032001".to_owned(),
        "2026-03-17T02:00:00.000000000Z".to_owned(),
        format!("{nik}0"),
        format!("x{nik}0"),
    ] {
        assert!(nik_shaped(&text, Scan::Text).is_empty(), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The binary.

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("alur-privacy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

struct Runs {
    dir: PathBuf,
    transcript: String,
    count: usize,
    last: String,
}

impl Runs {
    /// Run `alur`, keep its stdout and stderr in the transcript; returns success and stdout.
    fn alur(&mut self, args: &[&str]) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_alur"))
            .args(args)
            .current_dir(repo())
            .env_remove("ALUR_CHECKPOINT_KEY")
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1")
            .env("TMPDIR", &self.dir)
            .output()
            .expect("alur runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let _ = write!(
            self.transcript,
            "$ alur {}\n{stdout}\n{stderr}\n",
            args.join(" ")
        );
        self.count += 1;
        self.last = format!("alur {}: {stdout}{stderr}", args.join(" "));
        (out.status.success(), stdout)
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A copy of the example configuration with `officers.toml` edited by `edit`.
fn broken_copy(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> String {
    let to = dir.join(name);
    let from = repo().join("examples/config/kepri");
    let mut files = Vec::new();
    files_under(&from, &mut files);
    for f in files {
        let rel = f.strip_prefix(&from).expect("under");
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("dir");
        std::fs::copy(&f, &dest).expect("copy");
    }
    let off = to.join("officers.toml");
    let text = std::fs::read_to_string(&off).expect("officers");
    std::fs::write(&off, edit(&text)).expect("write");
    to.display().to_string()
}

#[test]
fn alur_binary_prints_and_writes_no_nik() {
    let dir = tmp("cli");
    let mut runs = Runs {
        dir: dir.clone(),
        transcript: String::new(),
        count: 0,
        last: String::new(),
    };
    let niks = officer_niks();
    let p = |n: &str| dir.join(n).display().to_string();
    let db = format!("sqlite://{}", p("a.db"));

    // The configuration holds officer NIKs; nothing shows them.
    let (ok, _) = runs.alur(&["validate", "examples/config/kepri"]);
    assert!(ok, "{}", runs.last);
    let (ok, _) = runs.alur(&["services", "examples/config/kepri"]);
    assert!(ok, "{}", runs.last);
    let (ok, _) = runs.alur(&["services", "examples/config/kepri", "--format", "html"]);
    assert!(ok, "{}", runs.last);
    // A NIK mistyped in officers.toml: the messages name the problem, not the number.
    let first = niks[0].clone();
    let quoted = format!("nik = \"{first}\"");
    let broken = [
        broken_copy(&dir, "unquoted", |t| {
            t.replacen(&quoted, &format!("nik = {first}"), 1)
        }),
        broken_copy(&dir, "float", |t| {
            t.replacen(&quoted, &format!("nik = {first}.5"), 1)
        }),
        broken_copy(&dir, "array", |t| {
            t.replacen(&quoted, &format!("nik = [{first}]"), 1)
        }),
        broken_copy(&dir, "wrong-key", |t| {
            t.replacen(&quoted, &format!("{quoted}\nnomor_ktp = {first}"), 1)
        }),
        broken_copy(&dir, "nik-as-key", |t| {
            t.replacen(&quoted, &format!("{quoted}\n{first} = \"x\""), 1)
        }),
        broken_copy(&dir, "nik-as-role", |t| {
            t.replacen("role = \"operator\"", &format!("role = \"{first}\""), 1)
        }),
        broken_copy(&dir, "nik-as-unit", |t| {
            t.replacen(
                "unit = \"21.71.10.1001\"",
                &format!("unit = \"{first}\""),
                1,
            )
        }),
        broken_copy(&dir, "short", |t| {
            t.replacen(&quoted, &format!("nik = \"{}\"", &first[..15]), 1)
        }),
    ];
    for b in &broken {
        let (ok, _) = runs.alur(&["validate", b]);
        assert!(!ok, "{b} should not validate: {}", runs.last);
        let (ok, _) = runs.alur(&["services", b]);
        assert!(!ok, "{}", runs.last);
    }
    let (ok, _) = runs.alur(&[
        "calendar",
        "due",
        "--unit",
        "21.71.10.1001",
        "--from",
        "2026-03-17T09:00:00+07:00",
        "--sla",
        "3 hari kerja",
        "--config",
        "examples/config/kepri",
    ]);
    assert!(ok, "{}", runs.last);
    let (ok, _) = runs.alur(&["calendar", "show", "2026", "--unit", "21.71"]);
    assert!(ok, "{}", runs.last);

    // A short run on SQLite and every auditor's command.
    let (ok, out) = runs.alur(&["audit", "keygen", "--name", "alur-test", "--out", &p("key")]);
    assert!(ok, "{}", runs.last);
    let vkey = out
        .lines()
        .find_map(|l| l.split("verifier key (give this to auditors): ").nth(1))
        .expect("verifier key")
        .trim()
        .to_owned();
    let (ok, _) = runs.alur(&[
        "simulate",
        "--db",
        &db,
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--cases-per-year",
        "30000",
        "--seed",
        "5",
    ]);
    assert!(ok, "{}", runs.last);
    let (ok, _) = runs.alur(&[
        "audit",
        "checkpoint",
        "--db",
        &db,
        "--key-file",
        &p("key"),
        "--out",
        &p("cps"),
    ]);
    assert!(ok, "{}", runs.last);
    // The exported checkpoint (`cps/latest.txt` or `cps/<tenant>/latest.txt`).
    let mut exported = Vec::new();
    files_under(&dir.join("cps"), &mut exported);
    let latest = exported
        .iter()
        .find(|f| f.file_name().is_some_and(|n| n == "latest.txt"))
        .expect("an exported checkpoint")
        .display()
        .to_string();
    let (ok, _) = runs.alur(&[
        "audit",
        "verify",
        "--db",
        &db,
        "--key",
        &vkey,
        "--checkpoint",
        &latest,
    ]);
    assert!(ok, "{}", runs.last);
    let (ok, _) = runs.alur(&["audit", "export", "--db", &db, "--out", &p("export")]);
    assert!(ok, "{}", runs.last);
    let (ok, _) = runs.alur(&[
        "audit",
        "verify",
        "--export",
        &p("export"),
        "--key",
        &vkey,
        "--checkpoint",
        &latest,
    ]);
    assert!(ok, "{}", runs.last);
    let entries = std::fs::read_to_string(p("export/entries.jsonl")).expect("export");
    let mut cases: Vec<String> = entries
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some(v["case_id"].as_str()?.to_owned())
        })
        .collect();
    cases.dedup();
    assert!(cases.len() > 10, "{} cases", cases.len());
    for case in cases.iter().step_by(cases.len() / 8) {
        let (ok, _) = runs.alur(&["audit", "case", "--db", &db, "--case", case]);
        assert!(ok, "{}", runs.last);
        let (ok, _) = runs.alur(&["audit", "prove", "--db", &db, "--case", case]);
        assert!(ok, "{}", runs.last);
    }
    let (ok, _) = runs.alur(&["audit", "case", "--db", &db, "--case", "@config"]);
    assert!(ok, "{}", runs.last);
    // Failures print too: a tampered export, an unknown case.
    std::fs::write(
        p("export/entries.jsonl"),
        entries.replacen("\"seq\":1,", "\"seq\":2,", 1),
    )
    .expect("tamper");
    let (ok, _) = runs.alur(&["audit", "verify", "--export", &p("export"), "--key", &vkey]);
    assert!(!ok, "{}", runs.last);
    let (ok, _) = runs.alur(&["audit", "prove", "--db", &db, "--case", "no-such-case"]);
    assert!(!ok, "{}", runs.last);

    assert_no_nik("alur's output", &runs.transcript, &niks, Scan::Text);
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    // The broken configurations are this test's input (they hold a NIK by construction).
    files.retain(|f| !broken.iter().any(|b| f.starts_with(b)));
    let mut bytes = 0;
    for f in &files {
        let data = std::fs::read(f).expect("read");
        bytes += data.len();
        let name = f.to_string_lossy();
        let scan = if data.starts_with(b"SQLite format 3\0")
            || name.ends_with("-wal")
            || name.ends_with("-journal")
        {
            Scan::Database
        } else {
            Scan::Text
        };
        assert_no_nik(
            &f.display().to_string(),
            &String::from_utf8_lossy(&data),
            &niks,
            scan,
        );
    }
    eprintln!(
        "privacy: {} alur runs ({} bytes of output) and {} files written ({bytes} bytes) \
         scanned; no NIK-shaped string",
        runs.count,
        runs.transcript.len(),
        files.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// In process: every tracing event and span, every log record.

static CAPTURED: Mutex<String> = Mutex::new(String::new());
static RECORDS: AtomicUsize = AtomicUsize::new(0);

fn capture(line: &str) {
    RECORDS.fetch_add(1, Ordering::Relaxed);
    let mut c = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
    c.push_str(line);
    c.push('\n');
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

/// A subscriber that keeps every event and span (with their fields) at every level.
struct Everything {
    next: AtomicUsize,
}

impl tracing::Subscriber for Everything {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut f = Fields(format!(
            "span {} {}",
            span.metadata().target(),
            span.metadata().name()
        ));
        span.record(&mut f);
        capture(&f.0);
        let id = self.next.fetch_add(1, Ordering::Relaxed) as u64 + 1;
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut f = Fields("record".into());
        values.record(&mut f);
        capture(&f.0);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let m = event.metadata();
        let mut f = Fields(format!("{} {}", m.level(), m.target()));
        event.record(&mut f);
        capture(&f.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        capture(&format!(
            "log {} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(Everything {
            next: AtomicUsize::new(0),
        })
        .expect("the only tracing subscriber");
        log::set_logger(&LOGGER).expect("the only logger");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_flows_log_no_nik() {
    use alur_core::store::Store as _;
    use alur_core::tlog::{Integrator, prove_case, verify_store};
    use alur_sqlite::{Durability, SqliteOptions, SqliteStore};

    install_capture();
    let dir = tmp("engine");
    let open = |name: &str| {
        let path = dir.join(name).display().to_string();
        async move {
            SqliteStore::open(&path, SqliteOptions::with_durability(Durability::Normal))
                .await
                .expect("store")
        }
    };
    // What a host would log: Debug and Display of what the library hands back.
    let mut host = String::new();
    let signer = alur_merkle::checkpoint::CheckpointSigner::from_seed("alur-privacy", &[3; 32])
        .expect("key");
    let verifier = signer.verifier();

    // Applicants of known NIKs through the kepri fixtures.
    let (engine, clock) = alur_testkit::engine(open("fixtures.db").await).await;
    let _ = writeln!(host, "{:?}", engine.config());
    let mut known = officer_niks();
    for n in 0..40 {
        known.push(applicant_nik(n));
        let sub = alur_testkit::domisili(n);
        let _ = writeln!(host, "{sub:?}");
        let c = engine.submit(sub, None).await.expect("submit");
        let _ = writeln!(host, "{c:?}");
        clock.advance(jiff::SignedDuration::from_mins(7));
        if n % 4 != 0 {
            let c = engine
                .execute(
                    &c.id,
                    alur_testkit::act(&c, "baloi-operator", "lengkap"),
                    None,
                )
                .await
                .expect("act");
            let _ = writeln!(host, "{c:?}");
        }
        if n % 5 == 0 {
            // Someone not entitled: refused, and the denial recorded.
            let e = engine
                .execute(&c.id, alur_testkit::act(&c, "baloi-kasi", "lengkap"), None)
                .await
                .expect_err("the kasi does not verify files");
            let _ = writeln!(host, "{e} {e:?}");
        }
    }
    let store = engine.store();
    let _ = writeln!(host, "{:?}", store.denials("kepri").await.expect("denials"));
    let mut integrator = Integrator::new("kepri", Some(signer.clone()));
    integrator.integrate(store, 50).await.expect("integrate");
    let cp = integrator.checkpoint(store).await.expect("checkpoint");
    let _ = writeln!(host, "{cp:?}");
    let summary = verify_store(
        store,
        "kepri",
        Some(&verifier),
        Some(&cp.note),
        true,
        |_| {},
    )
    .await
    .expect("store")
    .expect("audit");
    let _ = writeln!(host, "{summary:?}");
    let entries = store
        .all_entries("kepri", None, 100_000)
        .await
        .expect("all");
    for e in &entries {
        let _ = writeln!(
            host,
            "{e:?} {}",
            alur_core::audit::describe(e, engine.config())
        );
    }
    for e in entries.iter().filter(|e| e.seq == 1).take(10) {
        let proofs = prove_case(store, "kepri", &e.case_id, cp.size)
            .await
            .expect("prove");
        let _ = writeln!(host, "{proofs:?}");
        let _ = writeln!(
            host,
            "{:?}",
            store
                .payload("kepri", &e.case_id, 1)
                .await
                .expect("payload")
        );
    }

    // A whole simulation: scheduler, timers, returns, refusals, completions.
    let config = alur_testkit::kepri();
    let opts = alur_sim::Options {
        from: jiff::civil::date(2026, 3, 2),
        to: jiff::civil::date(2026, 3, 3),
        seed: 11,
        cases_per_year: 20_000,
        ..alur_sim::Options::default()
    };
    let (report, sim_store) = alur_sim::run(config, open("sim.db").await, &opts, |_, _, _| {})
        .await
        .expect("simulation");
    let _ = writeln!(host, "{report:?}");
    let sim_store = Arc::new(sim_store);
    let mut integrator = Integrator::new("kepri", Some(signer));
    integrator
        .integrate(&*sim_store, 500)
        .await
        .expect("integrate");
    let cp = integrator
        .checkpoint(&*sim_store)
        .await
        .expect("checkpoint");
    let summary = verify_store(&*sim_store, "kepri", Some(&verifier), None, true, |_| {})
        .await
        .expect("store")
        .expect("audit");
    let _ = writeln!(host, "{summary:?} {cp:?}");
    assert!(summary.entries > 50, "{summary:?}");

    let captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let records = RECORDS.load(Ordering::Relaxed);
    assert!(
        records > 100 && captured.contains("sqlx::query"),
        "the capture saw {records} records; it should see the database statements"
    );
    assert_no_nik("tracing and log output", &captured, &known, Scan::Text);
    assert_no_nik("what a host logs", &host, &known, Scan::Text);
    eprintln!(
        "privacy: {records} tracing/log records ({} bytes) and {} bytes of host-side Debug/Display \
         scanned; none of {} known NIKs and no NIK-shaped string",
        captured.len(),
        host.len(),
        known.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
