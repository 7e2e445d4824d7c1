//! `alur audit …`: verify, export, prove, case history, checkpoints and keys.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use alur_core::audit::AuditEntry;
use alur_core::store::{LogLeaf, Store, StoredCheckpoint};
use alur_core::tlog::{self, AuditSummary, Auditor, Integrator, LogCheck};
use alur_merkle::checkpoint::{CheckpointSigner, CheckpointVerifier};
use jiff::Timestamp;

/// Load the checkpoint signing key: `ALUR_CHECKPOINT_KEY`, or a key file (never TOML).
pub fn load_signer(file: Option<&Path>) -> Result<CheckpointSigner, String> {
    load_signer_from("ALUR_CHECKPOINT_KEY", file)
}

/// Load the checkpoint signing key from the environment variable `var`, or a key file.
pub fn load_signer_from(var: &str, file: Option<&Path>) -> Result<CheckpointSigner, String> {
    let text = match (std::env::var(var), file) {
        (Ok(v), _) if !v.trim().is_empty() => v,
        (_, Some(p)) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the checkpoint key file {}: {e}", p.display()))?,
        _ => {
            return Err(format!(
                "no checkpoint key: set {var} or pass --key-file (create one with `alur audit keygen`)"
            ));
        }
    };
    CheckpointSigner::from_signer_key(text.trim())
        .map_err(|e| format!("invalid checkpoint key: {e}"))
}

/// Parse a verifier key given inline (`name+id+base64`) or as a file holding it.
pub fn load_verifier(arg: &str) -> Result<CheckpointVerifier, String> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).map_err(|e| format!("cannot read {arg}: {e}"))?
    } else {
        arg.to_owned()
    };
    text.trim()
        .parse()
        .map_err(|e| format!("invalid verifier key: {e}"))
}

/// Create a signing key; returns (signer key text, verifier key text).
pub fn keygen(name: &str) -> Result<(String, String), String> {
    let mut seed = [0u8; 32];
    let mut f =
        std::fs::File::open("/dev/urandom").map_err(|e| format!("no randomness source: {e}"))?;
    std::io::Read::read_exact(&mut f, &mut seed)
        .map_err(|e| format!("no randomness source: {e}"))?;
    let s = CheckpointSigner::from_seed(name, &seed).map_err(|e| e.to_string())?;
    Ok((s.to_signer_key().to_string(), s.verifier().to_string()))
}

/// Options of `alur audit publish` (each overrides the `[audit]` setting).
pub struct PublishOptions {
    /// Signing key file.
    pub key_file: Option<PathBuf>,
    /// Directory for copies.
    pub out: Option<PathBuf>,
    /// Webhook URL.
    pub webhook: Option<String>,
    /// Interval text.
    pub every: Option<String>,
    /// One round only.
    pub once: bool,
}

/// A publisher with the checkpoint sinks: a directory and a webhook (signed with
/// ALUR_CHECKPOINT_WEBHOOK_SECRET when set).
pub fn with_sinks<S: alur_core::store::Store>(
    mut p: alur_core::witness::Publisher<S>,
    dir: Option<&Path>,
    webhook: Option<&str>,
) -> Result<alur_core::witness::Publisher<S>, String> {
    if let Some(d) = dir {
        p = p.sink(alur_witness::DirectorySink::new(d));
    }
    if let Some(url) = webhook {
        let secret = std::env::var("ALUR_CHECKPOINT_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(String::into_bytes);
        p = p.sink(alur_witness::WebhookSink::new(url, secret).map_err(|e| e.to_string())?);
    }
    Ok(p)
}

/// Publish checkpoints every interval until interrupted (or once).
pub async fn publish(
    store: Box<dyn Store>,
    config: &alur_core::Config,
    o: PublishOptions,
) -> Result<String, String> {
    use alur_core::witness::Publisher;
    let settings = &config.audit;
    let signer = load_signer_from(&settings.checkpoint_key_env, o.key_file.as_deref())?;
    let every = match &o.every {
        Some(text) => alur_core::config::clock_interval(text)?,
        None => settings.checkpoint_every,
    };
    let dir = o
        .out
        .or_else(|| settings.checkpoint_dir.as_ref().map(PathBuf::from));
    let webhook = o.webhook.or_else(|| settings.checkpoint_webhook.clone());
    if dir.is_none() && webhook.is_none() {
        return Err(
            "nowhere to publish: set [audit] checkpoint_dir or checkpoint_webhook, or pass --out or --webhook".into(),
        );
    }
    let tenant = config.tenant.id.clone();
    let mut p = with_sinks(
        Publisher::new(store, tenant.clone(), signer),
        dir.as_deref(),
        webhook.as_deref(),
    )?;
    let mut failures = 0usize;
    loop {
        let line = match p.round().await {
            Ok(r) => {
                failures += r.failed.len();
                let c = r.checkpoint.as_ref().map_or(0, |c| c.size);
                let mut line = format!(
                    "{}: {} entries appended; checkpoint of {c} entries{}",
                    jiff::Timestamp::now()
                        .round(jiff::Unit::Second)
                        .unwrap_or(jiff::Timestamp::now()),
                    r.appended,
                    if r.signed { " signed" } else { "" }
                );
                for s in &r.published {
                    line.push_str(&format!("; copied to {s}"));
                }
                for (s, e) in &r.failed {
                    line.push_str(&format!("; FAILED {s}: {e} (retried next round)"));
                }
                line
            }
            Err(e) => {
                failures += 1;
                format!("round failed: {e} (retried next round)")
            }
        };
        if o.once {
            return if failures == 0 { Ok(line) } else { Err(line) };
        }
        println!("{line}");
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(format!("stopped ({tenant})")),
        }
    }
}

/// Write a checkpoint outside the database, as the directory sink does:
/// `<dir>/<tenant>/checkpoint-<size>.txt` and `<dir>/<tenant>/latest.txt`.
pub async fn write_checkpoint(
    dir: &Path,
    tenant: &str,
    c: &StoredCheckpoint,
) -> Result<(), String> {
    use alur_core::witness::CheckpointSink;
    alur_witness::DirectorySink::new(dir)
        .publish(tenant, c)
        .await
        .map_err(|e| e.0)
}

/// Sequence new entries into the tenant log, sign a checkpoint, keep it and export it.
pub async fn checkpoint(
    store: &dyn Store,
    tenant: &str,
    key: Option<&Path>,
    out: Option<&Path>,
) -> Result<String, String> {
    let signer = load_signer(key)?;
    let mut integ = Integrator::new(tenant, Some(signer));
    let appended = integ
        .integrate(store, 10_000)
        .await
        .map_err(|e| e.to_string())?;
    let c = integ.checkpoint(store).await.map_err(|e| e.to_string())?;
    if let Some(dir) = out {
        write_checkpoint(dir, tenant, &c)
            .await
            .map_err(|e| format!("cannot write the checkpoint to {}: {e}", dir.display()))?;
    }
    Ok(format!(
        "{appended} entries appended; checkpoint of {} entries signed\n{}",
        c.size, c.note
    ))
}

fn summary_text(s: &AuditSummary) -> String {
    let mut t = format!(
        "OK: {} entries in {} case chains, {} log leaves, {} signed checkpoints verified",
        s.entries, s.cases, s.leaves, s.checkpoints
    );
    if s.unsequenced > 0 {
        t.push_str(&format!(
            "; {} newer entries not yet under a checkpoint",
            s.unsequenced
        ));
    }
    t
}

/// Verify from the database.
pub async fn verify_db(
    store: &dyn Store,
    tenant: &str,
    key: Option<&str>,
    checkpoint: Option<&Path>,
) -> Result<String, String> {
    let verifier = key.map(load_verifier).transpose()?;
    let external = checkpoint
        .map(std::fs::read_to_string)
        .transpose()
        .map_err(|e| format!("cannot read the checkpoint: {e}"))?;
    if external.is_some() && verifier.is_none() {
        return Err("--checkpoint needs --key (the verifier key, from a trusted source)".into());
    }
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let result = tlog::verify_store(
        store,
        tenant,
        verifier.as_ref(),
        external.as_deref(),
        false,
        |n| {
            if last.elapsed().as_millis() > 500 {
                eprint!("\r{n} entries checked");
                last = std::time::Instant::now();
            }
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    eprint!("\r");
    match result {
        Ok(s) => {
            let secs = started.elapsed().as_secs_f64();
            Ok(format!(
                "{} ({:.0} entries/s)",
                summary_text(&s),
                s.entries as f64 / secs.max(1e-9)
            ))
        }
        Err(f) => Err(format!("FAILED: {f}")),
    }
}

/// Leaves read (and, verifying an export, leaves fed) at a time.
const EXPORT_PAGE: u64 = 50_000;

/// Entries read at a time by an export: decoded, an entry takes a few kilobytes.
const EXPORT_ENTRIES: usize = 5_000;

/// Export entries, log and checkpoints as JSON Lines and text files.
pub async fn export(store: &dyn Store, tenant: &str, out: &Path) -> Result<String, String> {
    std::fs::create_dir_all(out.join("checkpoints"))
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let io = |e: std::io::Error| format!("cannot write the export: {e}");
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(out.join("entries.jsonl")).map_err(io)?);
    let mut after: Option<(String, u64)> = None;
    let mut n = 0u64;
    loop {
        let page = store
            .all_entries(
                tenant,
                after.as_ref().map(|(c, s)| (c.as_str(), *s)),
                EXPORT_ENTRIES,
            )
            .await
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            serde_json::to_writer(&mut w, e).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(io)?;
            n += 1;
        }
        after = page.last().map(|e| (e.case_id.clone(), e.seq));
    }
    w.flush().map_err(io)?;
    // The leaves a page at a time: an export of a long log never holds it whole.
    let size = store.log_size(tenant).await.map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("log.jsonl")).map_err(io)?);
    let mut start = 0;
    while start < size {
        let end = size.min(start + EXPORT_PAGE);
        let leaves = store
            .log_leaves(tenant, start, end)
            .await
            .map_err(|e| e.to_string())?;
        if leaves.len() as u64 != end - start {
            return Err(format!(
                "the log of tenant {tenant} has {size} leaves but {} were read at {start}..{end}",
                leaves.len()
            ));
        }
        for l in &leaves {
            serde_json::to_writer(&mut w, l).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(io)?;
        }
        start = end;
    }
    w.flush().map_err(io)?;
    let cps = store.checkpoints(tenant).await.map_err(|e| e.to_string())?;
    for c in &cps {
        let name = alur_witness::checkpoint_file_name(c.size);
        std::fs::write(out.join("checkpoints").join(name), &c.note).map_err(io)?;
    }
    std::fs::write(out.join("TENANT"), tenant).map_err(io)?;
    Ok(format!(
        "exported {n} entries, {size} log leaves and {} checkpoints of tenant {tenant} to {}",
        cps.len(),
        out.display()
    ))
}

/// Visit the values of a JSON Lines file one at a time (blank lines skipped); an error names
/// the file and line.
fn each_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    mut visit: impl FnMut(T) -> Result<(), String>,
) -> Result<(), String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        visit(
            serde_json::from_str(&line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?,
        )?;
    }
    Ok(())
}

/// Verify an export with no database (strict: everything must be under a signed checkpoint).
pub fn verify_export(
    dir: &Path,
    key: Option<&str>,
    checkpoint: Option<&Path>,
) -> Result<String, String> {
    let verifier = key.map(load_verifier).transpose()?;
    let tenant = std::fs::read_to_string(dir.join("TENANT"))
        .map_err(|e| format!("not an alur export ({}): {e}", dir.display()))?;
    let mut checkpoints = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .map_err(|e| format!("cannot read the checkpoints: {e}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("checkpoint-"))
        })
        .collect();
    files.sort();
    for p in files {
        let note =
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let size = note
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(u64::MAX);
        checkpoints.push(StoredCheckpoint { size, note });
    }
    if verifier.is_none() {
        return Err(
            "verifying an export needs --key (the tenant's verifier key, from a trusted source)"
                .into(),
        );
    }
    let external = checkpoint
        .map(std::fs::read_to_string)
        .transpose()
        .map_err(|e| format!("cannot read the checkpoint: {e}"))?;
    // Entries and leaves are read as they are checked: the audit keeps a hash per entry and a
    // label per leaf, not the export.
    let tenant = tenant.trim();
    let mut a = Auditor::new(tenant);
    each_jsonl(&dir.join("entries.jsonl"), |e: AuditEntry| {
        a.entry(&e).map_err(|f| format!("FAILED: {f}"))
    })?;
    let failed = |f: tlog::AuditFailure| format!("FAILED: {f}");
    let mut log = LogCheck::new(tenant, &checkpoints, verifier.as_ref(), external.as_deref())
        .map_err(failed)?;
    let mut page: Vec<LogLeaf> = Vec::new();
    each_jsonl(&dir.join("log.jsonl"), |l: LogLeaf| {
        page.push(l);
        if page.len() as u64 == EXPORT_PAGE {
            log.leaves(&page).map_err(failed)?;
            page.clear();
        }
        Ok(())
    })?;
    log.leaves(&page).map_err(failed)?;
    a.join(log, true).map(|s| summary_text(&s)).map_err(failed)
}

/// Inclusion proofs of a case's entries under the latest stored checkpoint.
pub async fn prove(store: &dyn Store, tenant: &str, case_id: &str) -> Result<String, String> {
    let cps = store.checkpoints(tenant).await.map_err(|e| e.to_string())?;
    let Some(latest) = cps.last() else {
        return Err("no checkpoint yet: run `alur audit checkpoint` first".into());
    };
    let proofs = tlog::prove_case(store, tenant, case_id, latest.size)
        .await
        .map_err(|e| e.to_string())?;
    if proofs.is_empty() {
        return Err(format!(
            "case {case_id} has no entry under the latest checkpoint ({} entries)",
            latest.size
        ));
    }
    let mut out = String::new();
    for p in &proofs {
        out.push_str(&serde_json::to_string(p).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    out.push_str(&latest.note);
    Ok(out)
}

/// An instant from `--from`/`--to`: an RFC 3339 time, or a date in the tenant's time zone (its
/// start; with `end`, the start of the next day, so that the date is included).
pub fn instant(text: &str, config: &alur_core::Config, end: bool) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    if text.contains(['T', 't', ' ', ':']) {
        return Err(format!(
            "`{text}` has a time but no offset: write it as 2026-03-02T08:00:00+07:00, or give a date"
        ));
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        format!("`{text}` is neither a date (2026-03-02) nor a time with offset (2026-03-02T08:00:00+07:00)")
    })?;
    let date = if end {
        date.tomorrow().map_err(|e| e.to_string())?
    } else {
        date
    };
    let tz = config.calendars.default_calendar().time_zone();
    tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| e.to_string())
}

/// Whose personal data an actor touched in `[from, to)` (UU PDP 27/2022: a breach is notified
/// within 3×24 hours): every case the actor acted on, with its data subject (the applicant's
/// pseudonym) and the acts, in Indonesian. Reads every entry of the tenant once, in case order.
pub async fn actor(
    store: &dyn Store,
    config: &alur_core::Config,
    actor: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<String, String> {
    actor_paged(store, config, actor, from, to, EXPORT_ENTRIES).await
}

/// [`actor`], reading `page` entries at a time.
async fn actor_paged(
    store: &dyn Store,
    config: &alur_core::Config,
    actor: &str,
    from: Timestamp,
    to: Timestamp,
    page: usize,
) -> Result<String, String> {
    use alur_core::engine::EventKind;
    struct Case {
        id: String,
        head: String,
        acts: Vec<String>,
    }
    let tenant = &config.tenant.id;
    let mut cases: Vec<Case> = Vec::new();
    let mut subjects = std::collections::BTreeSet::new();
    let mut current: Option<Case> = None;
    let mut subject: Option<String> = None;
    let mut after: Option<(String, u64)> = None;
    let mut flush = |c: Option<Case>, subject: &Option<String>, cases: &mut Vec<Case>| {
        if let Some(c) = c.filter(|c| !c.acts.is_empty()) {
            if let Some(s) = subject {
                subjects.insert(s.clone());
            }
            cases.push(c);
        }
    };
    loop {
        let entries = store
            .all_entries(tenant, after.as_ref().map(|(c, s)| (c.as_str(), *s)), page)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = entries.last() else {
            break;
        };
        after = Some((last.case_id.clone(), last.seq));
        for e in &entries {
            if e.case_id.starts_with('@') {
                continue;
            }
            if current.as_ref().is_none_or(|c| c.id != e.case_id) {
                flush(current.take(), &subject, &mut cases);
                subject = None;
                current = Some(Case {
                    id: e.case_id.clone(),
                    head: format!("{} · {}", e.case_id, e.service),
                    acts: Vec::new(),
                });
            }
            let Some(c) = current.as_mut() else {
                continue;
            };
            if let EventKind::Submitted {
                unit, applicant, ..
            } = &e.event
            {
                subject = Some(applicant.0.clone());
                c.head = format!(
                    "{} · {} · unit {unit} · pemohon {}",
                    e.case_id, e.service, applicant.0
                );
            }
            if e.actor.id == actor && from <= e.at && e.at < to {
                c.acts.push(alur_core::audit::describe(e, config));
            }
        }
    }
    flush(current.take(), &subject, &mut cases);
    let acts: usize = cases.iter().map(|c| c.acts.len()).sum();
    let mut out = format!(
        "Tindakan {actor} dari {from} sampai sebelum {to}: {acts} tindakan pada {} permohonan, {} pemohon (subjek data).\n",
        cases.len(),
        subjects.len()
    );
    for c in &cases {
        out.push('\n');
        out.push_str(&c.head);
        out.push('\n');
        for a in &c.acts {
            out.push_str("  ");
            out.push_str(a);
            out.push('\n');
        }
    }
    out.push_str(
        "\nCatatan: log audit mencatat tindakan; membuka data tanpa bertindak tidak tercatat di sini.",
    );
    Ok(out)
}

/// A case's history for people, in Indonesian.
pub async fn case(
    store: &dyn Store,
    config: &alur_core::Config,
    case_id: &str,
) -> Result<String, String> {
    let entries = store
        .entries(&config.tenant.id, case_id)
        .await
        .map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Err(format!(
            "perkara {case_id} tidak ditemukan / case {case_id} not found"
        ));
    }
    let chain = match alur_core::audit::verify_chain(&entries) {
        Ok(()) => "rantai hash utuh (hash chain intact)".to_owned(),
        Err(e) => format!("RANTAI RUSAK (chain broken): {e}"),
    };
    let mut out = format!(
        "Riwayat perkara {case_id} ({} catatan; {chain})\n",
        entries.len()
    );
    for e in &entries {
        out.push_str(&alur_core::audit::describe(e, config));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use alur_core::MemoryStore;
    use alur_testkit::{act, domisili, engine, ts};

    /// The same report whatever the page size: a case whose entries straddle pages is one case
    /// with all its acts, and its data subject is counted once.
    #[tokio::test]
    async fn actor_report_does_not_depend_on_pages() {
        let (e, clock) = engine(MemoryStore::new()).await;
        let mut subjects = Vec::new();
        for n in 0..3 {
            let c = e.submit(domisili(40 + n), None).await.unwrap();
            let c = e
                .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
                .await
                .unwrap();
            let c = e
                .execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
                .await
                .unwrap();
            subjects.push(c.applicant.0.clone());
            clock.advance(jiff::SignedDuration::from_mins(10));
        }
        let config = e.config().clone();
        let store = e.store();
        let (from, to) = (ts("2026-03-17T00:00:00Z"), ts("2026-03-18T00:00:00Z"));
        let whole = super::actor_paged(store, &config, "baloi-kasi", from, to, 5_000)
            .await
            .unwrap();
        assert!(
            whole.starts_with(
                "Tindakan baloi-kasi dari 2026-03-17T00:00:00Z sampai sebelum 2026-03-18T00:00:00Z: 3 tindakan pada 3 permohonan, 3 pemohon"
            ),
            "{whole}"
        );
        for s in &subjects {
            assert_eq!(whole.matches(s.as_str()).count(), 1, "{whole}");
        }
        for page in [1, 2, 3, 5] {
            let paged = super::actor_paged(store, &config, "baloi-kasi", from, to, page)
                .await
                .unwrap();
            assert_eq!(paged, whole, "page of {page}");
        }
        let none = super::actor_paged(
            store,
            &config,
            "baloi-kasi",
            to,
            ts("2026-03-19T00:00:00Z"),
            2,
        )
        .await
        .unwrap();
        assert!(
            none.contains(": 0 tindakan pada 0 permohonan, 0 pemohon"),
            "{none}"
        );
    }
}
