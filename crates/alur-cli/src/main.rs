//! The `alur` command.

mod audit;
mod kpi;
mod letter;
mod serve;
mod stores;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "alur",
    version,
    about = "Layanan publik digital untuk kelurahan, desa dan kecamatan / digital public services for Indonesian local offices"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum PublishFormat {
    Markdown,
    Html,
}

#[derive(Subcommand)]
enum CalendarCmd {
    /// Print the due time of an SLA started at a moment, in the unit's time zone.
    Due {
        /// Unit code (Kemendagri), e.g. 21.71.10.1001.
        #[arg(long)]
        unit: String,
        /// Start, RFC 3339 with offset, e.g. 2026-03-17T09:00:00+07:00.
        #[arg(long)]
        from: String,
        /// Duration: "3 hari kerja", "90 menit", "2 jam", "30 hari", "3 working days".
        #[arg(long)]
        sla: String,
        /// Configuration directory whose [calendar] applies (default: national calendar).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Recompute the deadlines of every open case with the calendars of the configuration and
    /// this build's deadline rule (after a calendar amendment, or to set right deadlines an older
    /// build computed wrongly); each change is recorded in the case's audit chain.
    Recompute {
        /// Configuration directory (alur.toml, roles.toml, officers.toml, services/).
        #[arg(long)]
        config: PathBuf,
        /// Database URL (default: [storage] url of the configuration, else sqlite://alur.db).
        #[arg(long)]
        db: Option<String>,
    },
    /// Print the working-day calendar of a year, holidays named.
    Show {
        /// Year, e.g. 2026.
        year: i16,
        /// Unit code whose calendar to show.
        #[arg(long, default_value = "21")]
        unit: String,
        /// Configuration directory whose [calendar] applies (default: national calendar).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OutboxCmd {
    /// List messages parked as dead (attempts exhausted or a permanent error), oldest first.
    Dead {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Tenant id.
        #[arg(long, default_value = "kepri")]
        tenant: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Make dead messages deliverable again (a fresh attempt count, due now).
    Retry {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Tenant id.
        #[arg(long, default_value = "kepri")]
        tenant: String,
        /// Message ids (as listed by `alur outbox dead`).
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// The database a command acts on: `--db`, else the configuration's `[storage] url`, else the
/// default file.
fn db_url(db: Option<String>, config: &alur_core::Config) -> String {
    db.or_else(|| config.storage_url.clone())
        .unwrap_or_else(|| "sqlite://alur.db".into())
}

/// An engine on the system clock and the tenant's existing pseudonym key, for a command that
/// writes on record (retention erase, calendar recompute).
async fn writing_engine(
    config: alur_core::Config,
    store: stores::AnyStore,
) -> Result<alur_core::Engine<stores::AnyStore>, String> {
    alur_core::Engine::new(
        config,
        store,
        std::sync::Arc::new(alur_core::SystemClock),
        serve::existing_pseudonymizer()?,
    )
    .await
    .map_err(|e| e.to_string())
}

async fn retention_cmd(cmd: RetentionCmd) -> Result<String, String> {
    match cmd {
        RetentionCmd::Erase {
            config,
            db,
            dry_run,
        } => {
            let config = alur_core::load_dir(&config).map_err(|e| e.to_string())?;
            let Some(retention) = config.retention.clone() else {
                return Err(
                    "tidak ada masa retensi: tambahkan bagian [retention] (personal_data, legal_basis) di alur.toml / no [retention] section in alur.toml"
                        .into(),
                );
            };
            let store = stores::open(&db_url(db, &config)).await?;
            let r = if dry_run {
                // Read only: no engine (which records configuration changes) and no write.
                alur_core::past_retention(
                    &store,
                    &config.tenant.id,
                    &retention,
                    jiff::Timestamp::now(),
                )
                .await
                .map_err(|e| e.to_string())?
            } else {
                let engine = writing_engine(config, store).await?;
                engine.erase_expired().await.map_err(|e| e.to_string())?
            };
            let mut out = format!(
                "Masa retensi data pribadi: {} setelah perubahan terakhir kasus yang telah selesai (sebelum {}).\nDasar hukum: {}\n",
                retention.personal_data, r.cutoff, retention.legal_basis
            );
            if dry_run {
                out.push_str(&format!(
                    "Uji (tanpa perubahan): {} kasus, {} isian data pribadi akan dihapus.",
                    r.cases, r.payloads
                ));
            } else {
                out.push_str(&format!(
                    "Dihapus: {} kasus, {} isian data pribadi; setiap penghapusan tercatat di rantai audit kasusnya.",
                    r.cases, r.payloads
                ));
            }
            for (case, why) in &r.skipped {
                out.push_str(&format!("\nDilewati {case}: {why}"));
            }
            Ok(out)
        }
    }
}

async fn outbox_cmd(cmd: OutboxCmd) -> Result<String, String> {
    match cmd {
        OutboxCmd::Dead { db, tenant, limit } => {
            let store = stores::open(&db).await?;
            let dead = store
                .dead_outbox(&tenant, limit)
                .await
                .map_err(|e| e.to_string())?;
            if dead.is_empty() {
                return Ok("tidak ada pesan gagal / no dead messages".into());
            }
            let mut out = format!(
                "{} pesan gagal / dead message(s):\n{:<40} {:<16} {:<24} {:>8}  {:<20} {}\n",
                dead.len(),
                "id",
                "template",
                "recipient",
                "attempts",
                "dead_at",
                "last_error"
            );
            for d in &dead {
                out.push_str(&format!(
                    "{:<40} {:<16} {:<24} {:>8}  {:<20} {}\n",
                    d.message.id,
                    d.message.template,
                    d.message.recipient,
                    d.attempts,
                    d.dead_at.round(jiff::Unit::Second).unwrap_or(d.dead_at),
                    d.last_error
                ));
            }
            out.push_str("retry with: alur outbox retry --db URL ID...");
            Ok(out)
        }
        OutboxCmd::Retry { db, tenant, ids } => {
            let store = stores::open(&db).await?;
            let n = store
                .retry_dead_outbox(&tenant, &ids, jiff::Timestamp::now())
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!(
                    "none of the {} id(s) is a dead message of tenant {tenant}; list them with `alur outbox dead`",
                    ids.len()
                ));
            }
            Ok(format!(
                "{n} pesan dijadwalkan ulang / message(s) scheduled for delivery again"
            ))
        }
    }
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check every hash chain, the tenant Merkle log and its signed checkpoints.
    Verify {
        /// Database URL (sqlite://FILE or postgres://…).
        #[arg(long, conflicts_with = "export")]
        db: Option<String>,
        /// An export directory (verified offline, no database).
        #[arg(long)]
        export: Option<PathBuf>,
        /// Tenant id.
        #[arg(long, default_value = "kepri")]
        tenant: String,
        /// A checkpoint kept outside the database (e.g. the province's copy).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The tenant's verifier key (`name+id+base64`, or a file holding it), from a trusted source.
        #[arg(long)]
        key: Option<String>,
    },
    /// Export entries, the log and checkpoints (JSON Lines) for offline verification.
    Export {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Tenant id.
        #[arg(long, default_value = "kepri")]
        tenant: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Inclusion proofs of a case's entries under the latest checkpoint.
    Prove {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Tenant id.
        #[arg(long, default_value = "kepri")]
        tenant: String,
        /// Case id.
        #[arg(long)]
        case: String,
    },
    /// A case's history for people (Indonesian), with who acted for whom.
    Case {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Configuration directory (names of officers, roles and steps).
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Case id.
        #[arg(long)]
        case: String,
    },
    /// Whose personal data an officer (or applicant pseudonym) acted on in a period, for a
    /// breach notice (UU PDP 27/2022): the cases, their data subjects and the acts.
    Actor {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Configuration directory (tenant, time zone, names of officers, roles and steps).
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Officer id or applicant pseudonym (`p:…`).
        #[arg(long)]
        actor: String,
        /// From: a date (in the tenant's time zone) or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// To: a date (included) or an RFC 3339 time (excluded).
        #[arg(long)]
        to: String,
    },
    /// Append new entries to the tenant log, sign a checkpoint, keep it and export it.
    Checkpoint {
        /// Database URL.
        #[arg(long)]
        db: String,
        /// Tenant id.
        #[arg(long, default_value = "kepri")]
        tenant: String,
        /// Signing key file (or set ALUR_CHECKPOINT_KEY).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Directory to export the checkpoint to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Publish signed checkpoints on a schedule: append new entries to the tenant log, sign a
    /// checkpoint whenever it grew, and copy it to the directory and webhook of `[audit]`.
    Publish {
        /// Configuration directory (tenant and `[audit]` settings).
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL (default: `[storage] url`, else sqlite://alur.db).
        #[arg(long)]
        db: Option<String>,
        /// Signing key file (or the environment variable named by `[audit] checkpoint_key_env`).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Directory for the copies (overrides `[audit] checkpoint_dir`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// URL that receives each checkpoint (overrides `[audit] checkpoint_webhook`); the
        /// request is signed when ALUR_CHECKPOINT_WEBHOOK_SECRET is set.
        #[arg(long)]
        webhook: Option<String>,
        /// Interval, e.g. "10 menit" or "1 jam" (overrides `[audit] checkpoint_every`).
        #[arg(long)]
        every: Option<String>,
        /// One round, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Create a checkpoint signing key (written to FILE) and print its verifier key.
    Keygen {
        /// Key name, e.g. the tenant's domain.
        #[arg(long, default_value = "alur-kepri")]
        name: String,
        /// File for the private key (created with mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RetentionCmd {
    /// Erase the personal data of closed cases past the `[retention]` period; each erasure is
    /// recorded in the case's audit chain with the legal basis, and the log still verifies.
    Erase {
        /// Configuration directory (tenant and `[retention]`); required, since a run records
        /// the configuration it starts with in the database.
        #[arg(long)]
        config: PathBuf,
        /// Database URL (default: `[storage] url`, else sqlite://alur.db).
        #[arg(long)]
        db: Option<String>,
        /// Only count what would be erased; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Add an account (password from ALUR_PASSWORD or standard input; stored as an argon2id hash).
    Add(serve::AccountAddArgs),
}

#[derive(Subcommand)]
enum Cmd {
    /// Simulate a region's offices through the real engine and store (deterministic by seed).
    Simulate {
        /// Configuration directory.
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL (sqlite://FILE, postgres://…, memory:).
        #[arg(long, default_value = "sqlite://alur.db")]
        db: String,
        /// First day (YYYY-MM-DD).
        #[arg(long, default_value = "2026-03-02")]
        from: String,
        /// Last day (YYYY-MM-DD).
        #[arg(long, default_value = "2026-03-06")]
        to: String,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Applications per year across the tenant.
        #[arg(long, default_value_t = 1_000_000)]
        cases_per_year: u64,
    },
    /// Tamper-evident audit log: verify, export, prove, case history, checkpoints.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// Personal data at the end of its retention (UU PDP 27/2022): erase it, on record.
    Retention {
        #[command(subcommand)]
        command: RetentionCmd,
    },
    /// Notification outbox: messages parked as dead, and retrying them by hand.
    Outbox {
        #[command(subcommand)]
        command: OutboxCmd,
    },
    /// Working-day calendar: due times and the yearly calendar.
    Calendar {
        #[command(subcommand)]
        command: CalendarCmd,
    },
    /// Check a configuration directory and list every problem (file:line:column, key, hint).
    Validate {
        /// Configuration directory (alur.toml, roles.toml, officers.toml, services/).
        dir: PathBuf,
    },
    /// Performance of every office: figures per region and period, satisfaction index, roll-up.
    Kpi(kpi::KpiArgs),
    /// The service desk: HTTP API, public pages, letter verification (until Ctrl-C).
    Serve(serve::ServeArgs),
    /// Officer accounts for signing in to `alur serve`.
    Account {
        #[command(subcommand)]
        command: AccountCmd,
    },
    /// Outgoing letters: issue, verify (token or file), register, render, revoke.
    Letter {
        #[command(subcommand)]
        command: letter::LetterCmd,
    },
    /// Print each service's published standard (Permenpan-RB 15/2014) in Indonesian.
    Services {
        /// Configuration directory.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: PublishFormat,
    },
}

fn calendars_for(
    config: Option<&PathBuf>,
    unit: &str,
) -> Result<alur_core::calendars::Calendars, String> {
    let Ok(regions) = alur_core::region::RegionIndex::embedded() else {
        return Err("embedded region data is damaged; reinstall alur".into());
    };
    if regions.get(unit).is_none() {
        return Err(format!(
            "unit code `{unit}` does not exist in the Kemendagri data; use a dotted code such as 21.71.10.1001"
        ));
    }
    match config {
        Some(dir) => alur_core::load_dir(dir)
            .map(|c| c.calendars)
            .map_err(|e| e.to_string()),
        None => {
            let c =
                alur_calendar::CalendarConfig::in_zone(alur_core::region::default_time_zone(unit));
            alur_core::calendars::Calendars::new(1, c, Vec::new()).map_err(|e| e.to_string())
        }
    }
}

/// `alur calendar recompute`: every changed deadline of the open cases, on record.
async fn recompute_deadlines(config: PathBuf, db: Option<String>) -> Result<String, String> {
    let config = alur_core::load_dir(&config).map_err(|e| e.to_string())?;
    let zone = config
        .calendars
        .for_unit(&config.tenant.region)
        .time_zone()
        .clone();
    let store = stores::open(&db_url(db, &config)).await?;
    let engine = writing_engine(config, store).await?;
    let r = engine
        .recompute_deadlines(false)
        .await
        .map_err(|e| e.to_string())?;
    let local = |t: Option<jiff::Timestamp>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| {
                t.to_zoned_datetime(zone.clone())
                    .strftime("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            },
        )
    };
    let mut out = format!(
        "Batas waktu dihitung ulang: {} kasus terbuka diperiksa, {} berubah; setiap perubahan tercatat di rantai audit kasusnya (deadline_recomputed).\n",
        r.open, r.changed
    );
    for c in &r.changes {
        out.push_str(&format!(
            "{}  batas layanan {} → {}  batas tahap {} → {}\n",
            c.case_id,
            local(c.due_before),
            local(c.due_after),
            local(c.step_due_before),
            local(c.step_due_after)
        ));
    }
    Ok(out)
}

fn calendar(cmd: CalendarCmd) -> Result<String, String> {
    match cmd {
        CalendarCmd::Recompute { config, db } => {
            runtime()?.block_on(recompute_deadlines(config, db))
        }
        CalendarCmd::Due {
            unit,
            from,
            sla,
            config,
        } => {
            let cals = calendars_for(config.as_ref(), &unit)?;
            let cal = cals.for_unit(&unit);
            let start: jiff::Timestamp = from
                .parse()
                .map_err(|e| format!("--from `{from}` is not an RFC 3339 time with offset ({e}); write e.g. 2026-03-17T09:00:00+07:00"))?;
            let sla: alur_calendar::SlaDuration = sla.parse().map_err(|e| format!("--sla: {e}"))?;
            let due = cal.due(start, sla).map_err(|e| e.to_string())?;
            let local = due.to_zoned_datetime(cal.time_zone().clone());
            Ok(format!(
                "{}\ncalendar version: {}\n",
                local.strftime("%Y-%m-%dT%H:%M:%S%:z"),
                cal.version()
            ))
        }
        CalendarCmd::Show { year, unit, config } => {
            let cals = calendars_for(config.as_ref(), &unit)?;
            let overview = cals
                .for_unit(&unit)
                .show_year(year)
                .map_err(|e| e.to_string())?;
            Ok(overview.to_string())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn report(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(out) => {
            println!("{}", out.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn audit_cmd(cmd: AuditCmd) -> Result<String, String> {
    match cmd {
        AuditCmd::Verify {
            db,
            export,
            tenant,
            checkpoint,
            key,
        } => match (db, export) {
            (_, Some(dir)) => audit::verify_export(&dir, key.as_deref(), checkpoint.as_deref()),
            (Some(db), None) => {
                let store = stores::open(&db).await?;
                audit::verify_db(
                    store.as_ref(),
                    &tenant,
                    key.as_deref(),
                    checkpoint.as_deref(),
                )
                .await
            }
            (None, None) => Err("give --db URL or --export DIR".into()),
        },
        AuditCmd::Export { db, tenant, out } => {
            let store = stores::open(&db).await?;
            audit::export(store.as_ref(), &tenant, &out).await
        }
        AuditCmd::Prove { db, tenant, case } => {
            let store = stores::open(&db).await?;
            audit::prove(store.as_ref(), &tenant, &case).await
        }
        AuditCmd::Case { db, config, case } => {
            let config = alur_core::load_dir(&config).map_err(|e| e.to_string())?;
            let store = stores::open(&db).await?;
            audit::case(store.as_ref(), &config, &case).await
        }
        AuditCmd::Actor {
            db,
            config,
            actor,
            from,
            to,
        } => {
            let config = alur_core::load_dir(&config).map_err(|e| e.to_string())?;
            let from = audit::instant(&from, &config, false)?;
            let to = audit::instant(&to, &config, true)?;
            if from >= to {
                return Err(format!("--from ({from}) must come before --to ({to})"));
            }
            let store = stores::open(&db).await?;
            audit::actor(store.as_ref(), &config, &actor, from, to).await
        }
        AuditCmd::Checkpoint {
            db,
            tenant,
            key_file,
            out,
        } => {
            let store = stores::open(&db).await?;
            audit::checkpoint(store.as_ref(), &tenant, key_file.as_deref(), out.as_deref()).await
        }
        AuditCmd::Publish {
            config,
            db,
            key_file,
            out,
            webhook,
            every,
            once,
        } => {
            let config = alur_core::load_dir(&config).map_err(|e| e.to_string())?;
            let store = stores::open(&db_url(db, &config)).await?;
            audit::publish(
                store,
                &config,
                audit::PublishOptions {
                    key_file,
                    out,
                    webhook,
                    every,
                    once,
                },
            )
            .await
        }
        AuditCmd::Keygen { name, out } => {
            let (secret, public) = audit::keygen(&name)?;
            write_secret(&out, &secret)?;
            Ok(format!(
                "private key written to {} (keep it secret; point ALUR_CHECKPOINT_KEY or --key-file at it)\nverifier key (give this to auditors): {public}",
                out.display()
            ))
        }
    }
}

fn write_secret(path: &std::path::Path, secret: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        format!(
            "cannot create {}: {e} (it must not exist yet)",
            path.display()
        )
    })?;
    f.write_all(secret.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn simulate(
    config: PathBuf,
    db: String,
    from: String,
    to: String,
    seed: u64,
    cases_per_year: u64,
) -> Result<String, String> {
    let config = alur_core::load_dir(&config).map_err(|e| e.to_string())?;
    let date = |s: &str, flag: &str| {
        s.parse::<jiff::civil::Date>()
            .map_err(|e| format!("--{flag} `{s}` is not a date (YYYY-MM-DD): {e}"))
    };
    let opts = alur_sim::Options {
        from: date(&from, "from")?,
        to: date(&to, "to")?,
        seed,
        cases_per_year,
        ..alur_sim::Options::default()
    };
    // Synthetic data: the NORMAL profile (a crash may lose the last commits, never consistency).
    use alur_core::store::Store as _;
    let store = stores::open_with(&db, alur_sqlite::Durability::Normal).await?;
    let existing = store
        .search(
            &config.tenant.id,
            &alur_core::store::SearchQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    if !existing.is_empty() {
        return Err(format!(
            "{db} already holds cases of tenant {}; simulate into a new database (remove the file or pass --db sqlite://other.db)",
            config.tenant.id
        ));
    }
    let started = std::time::Instant::now();
    let (r, _) = alur_sim::run(config, store, &opts, |day, total, r| {
        let width = 30;
        let done = (day * width / total.max(1)) as usize;
        eprint!(
            "\r[{}{}] hari {day}/{total}  perkara {}  transisi {}",
            "#".repeat(done),
            ".".repeat(width as usize - done),
            r.cases,
            r.transitions
        );
    })
    .await
    .map_err(|e| e.to_string())?;
    eprintln!();
    let secs = started.elapsed().as_secs_f64();
    Ok(format!(
        "simulated {from}..{to} (seed {seed}) into {db}\ncases: {}  transitions: {}  completed: {}  refused: {}  returned to applicant: {}  timers fired: {}  survey answers: {}  deferred (officers at capacity): {}\nelapsed: {secs:.1} s  rate: {:.0} transitions/s",
        r.cases,
        r.transitions,
        r.completed,
        r.rejected,
        r.returned,
        r.timers_fired,
        r.rated,
        r.deferred,
        r.transitions as f64 / secs.max(1e-9)
    ))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Audit { command } => match runtime() {
            Ok(rt) => report(rt.block_on(audit_cmd(command))),
            Err(e) => report(Err(e)),
        },
        Cmd::Retention { command } => match runtime() {
            Ok(rt) => report(rt.block_on(retention_cmd(command))),
            Err(e) => report(Err(e)),
        },
        Cmd::Outbox { command } => match runtime() {
            Ok(rt) => report(rt.block_on(outbox_cmd(command))),
            Err(e) => report(Err(e)),
        },
        Cmd::Simulate {
            config,
            db,
            from,
            to,
            seed,
            cases_per_year,
        } => match runtime() {
            Ok(rt) => report(rt.block_on(simulate(config, db, from, to, seed, cases_per_year))),
            Err(e) => report(Err(e)),
        },
        Cmd::Calendar { command } => match calendar(command) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Cmd::Validate { dir } => match alur_core::load_dir(&dir) {
            Ok(config) => {
                // Notification templates: the defaults, overridden by `<dir>/templates/*.hbs`,
                // each rendered in strict mode with its event's variables.
                let templates = dir.join("templates");
                let checked = if templates.is_dir() {
                    alur_notify::Templates::load_dir(&templates).map(|_| ())
                } else {
                    alur_notify::Templates::defaults().validate()
                };
                // Letter templates: the built-in ones, overridden by `<dir>/letters/*.hbs`, each
                // rendered in strict mode with a sample letter of its service.
                let letters = alur_letter::Templates::load(&dir)
                    .map_err(|e| vec![e.to_string()])
                    .and_then(|t| {
                        t.validate(config.services.values().map(|s| &**s))
                            .map_err(|v| v.iter().map(ToString::to_string).collect())
                    });
                let checked = match (checked, letters) {
                    (Ok(()), Ok(())) => Ok(()),
                    (a, b) => Err(a
                        .err()
                        .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
                        .unwrap_or_default()
                        .into_iter()
                        .chain(b.err().unwrap_or_default())
                        .collect::<Vec<String>>()),
                };
                if let Err(errors) = checked {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    eprintln!(
                        "{} masalah ditemukan / {} problem(s) found",
                        errors.len(),
                        errors.len()
                    );
                    return ExitCode::FAILURE;
                }
                println!(
                    "{}: konfigurasi valid / configuration is valid ({} layanan)",
                    dir.display(),
                    config.services.len()
                );
                for s in config.services.values() {
                    println!(
                        "  {:<30} {:<13} {:<10} {:>2} tahap  {:<14} {}",
                        s.id,
                        s.category.label(),
                        s.runs_at.as_str(),
                        s.steps.len(),
                        s.completion_time.to_string(),
                        s.name
                    );
                }
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for d in &errors.0 {
                    eprintln!("error: {d}");
                }
                eprintln!(
                    "{} masalah ditemukan / {} problem(s) found",
                    errors.0.len(),
                    errors.0.len()
                );
                ExitCode::FAILURE
            }
        },
        Cmd::Account {
            command: AccountCmd::Add(args),
        } => report(serve::account_add(args)),
        Cmd::Serve(args) => match runtime() {
            Ok(rt) => report(rt.block_on(serve::run(args))),
            Err(e) => report(Err(e)),
        },
        Cmd::Letter { command } => match runtime() {
            Ok(rt) => report(rt.block_on(letter::run(command))),
            Err(e) => report(Err(e)),
        },
        Cmd::Kpi(args) => match runtime() {
            Ok(rt) => report(rt.block_on(kpi::run(args))),
            Err(e) => report(Err(e)),
        },
        Cmd::Services { dir, format } => match alur_core::load_dir(&dir) {
            Ok(config) => {
                let f = match format {
                    PublishFormat::Markdown => alur_core::publish::Format::Markdown,
                    PublishFormat::Html => alur_core::publish::Format::Html,
                };
                print!("{}", alur_core::publish::render(&config, f));
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for d in &errors.0 {
                    eprintln!("error: {d}");
                }
                eprintln!("run `alur validate {}` for details", dir.display());
                ExitCode::FAILURE
            }
        },
    }
}
