//! `alur serve`: the service desk over HTTP, with the timer scheduler and (when a checkpoint key
//! is set) the checkpoint publisher in the same process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alur_core::store::Store;
use alur_core::{Engine, Pseudonymizer, Scheduler, SystemClock};

/// Options of `alur serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Configuration directory.
    #[arg(long, default_value = "examples/config/kepri")]
    config: PathBuf,
    /// Database URL (default: the embedded SQLite file in the working directory).
    #[arg(long, default_value = "sqlite://alur.db")]
    db: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The address citizens open (e.g. https://layanan.kepriprov.go.id): the base of every link
    /// the desk hands out (tracking links, receipts, the letters' QR codes). Default: `[server]
    /// public_url` of the configuration, else the listen address (with a warning).
    #[arg(long)]
    public_url: Option<String>,
    /// File holding the tenant's pseudonym key (64 hex characters), used when
    /// ALUR_PSEUDONYM_KEY is not set; created with a random key on first start.
    #[arg(long, default_value = "alur-pseudonym.key")]
    pseudonym_key_file: PathBuf,
    /// Directory for uploaded documents (created on the first upload).
    #[arg(long, default_value = "alur-dokumen")]
    uploads: PathBuf,
    /// Largest uploaded document, in KiB.
    #[arg(long, default_value_t = 2048)]
    max_upload_kib: usize,
    /// Most documents in one submission.
    #[arg(long, default_value_t = 10)]
    max_upload_files: usize,
    /// Reverse proxies in front of alur, comma-separated IP addresses: their requests are
    /// rate-limited by the client address they put in X-Forwarded-For.
    #[arg(long, value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Performance figures (/api/v1/kpi, /kinerja) readable without signing in.
    #[arg(long)]
    public_kpi: bool,
    /// Officer accounts for signing in on the pages (`alur account add`); used when the file
    /// exists.
    #[arg(long, default_value = "accounts.toml")]
    accounts: PathBuf,
    /// Officer API tokens, `officer=token` separated by commas (also ALUR_OFFICER_TOKENS).
    #[arg(long)]
    officer_tokens: Option<String>,
}

/// The tenant's pseudonym key for a command run beside the server: ALUR_PSEUDONYM_KEY, or the
/// key file `alur serve` created (never a new one).
pub(crate) fn existing_pseudonymizer() -> Result<Pseudonymizer, String> {
    pseudonymizer(Path::new("alur-pseudonym.key"), false).map(|(p, _)| p)
}

/// The pseudonym key: ALUR_PSEUDONYM_KEY, else the key file (created with a random key when
/// `create`; otherwise its absence is an error).
pub(crate) fn pseudonymizer(file: &Path, create: bool) -> Result<(Pseudonymizer, String), String> {
    let (hex, from) = match std::env::var("ALUR_PSEUDONYM_KEY") {
        Ok(k) if !k.trim().is_empty() => (k.trim().to_owned(), "ALUR_PSEUDONYM_KEY".to_owned()),
        _ if file.is_file() => (
            std::fs::read_to_string(file)
                .map_err(|e| format!("{}: {e}", file.display()))?
                .trim()
                .to_owned(),
            file.display().to_string(),
        ),
        _ if !create => {
            return Err(format!(
                "no pseudonym key: set ALUR_PSEUDONYM_KEY (64 hex characters) or run where {} is (the file `alur serve` created)",
                file.display()
            ));
        }
        _ => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| format!("no random source: {e}"))?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_private(file, &hex)?;
            (hex, format!("{} (baru / new)", file.display()))
        }
    };
    let bytes = crate::letter::decode_hex(&hex)
        .filter(|b| b.len() == 32)
        .ok_or_else(|| format!("the pseudonym key in {from} must be 64 hex characters"))?;
    let p = Pseudonymizer::new(bytes).map_err(|e| e.to_string())?;
    Ok((p, from))
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Run the server until Ctrl-C.
pub async fn run(a: ServeArgs) -> Result<String, String> {
    let mut config = alur_core::load_dir(&a.config).map_err(|e| {
        format!(
            "{e}\nrun `alur validate {}` for details",
            a.config.display()
        )
    })?;
    if let Some(url) = &a.public_url {
        let url =
            alur_core::config::check_public_url(url).map_err(|e| format!("--public-url: {e}"))?;
        config.set_public_url(&url);
    }
    let (pseudo, key_from) = pseudonymizer(&a.pseudonym_key_file, true)?;
    let (store, kpi_db) =
        crate::stores::open_with_kpi(&a.db, alur_sqlite::Durability::Full).await?;
    let store: Arc<dyn Store> = Arc::from(store);
    // Performance figures are refreshed from the audit log at most once a minute.
    let kpi: Option<Arc<dyn alur_server::KpiSource>> = match kpi_db {
        crate::stores::KpiDb::Sqlite(k) => Some(Arc::new(alur_server::SqliteKpiSource::new(
            k,
            &config,
            Duration::from_secs(60),
        ))),
        crate::stores::KpiDb::Postgres(k) => Some(Arc::new(alur_server::PgKpiSource::new(
            k,
            &config,
            Duration::from_secs(60),
        ))),
        crate::stores::KpiDb::None => None,
    };
    let tenant = config.tenant.id.clone();
    let audit = config.audit.clone();
    let engine = Arc::new(
        Engine::new(config, store.clone(), Arc::new(SystemClock), pseudo)
            .await
            .map_err(|e| e.to_string())?,
    );
    // Timers (reminders, escalations, deemed approvals) fire from this process.
    let scheduler = Scheduler::new(engine.clone(), format!("serve-{}", std::process::id()))
        .spawn(Duration::from_secs(5));
    // Checkpoints are signed and copied out when a key is configured.
    let signer = crate::audit::load_signer_from(&audit.checkpoint_key_env, None).ok();
    let verifier = signer.as_ref().map(|s| s.verifier());
    let publisher = match signer {
        Some(signer) if audit.checkpoint_dir.is_some() || audit.checkpoint_webhook.is_some() => {
            let p = crate::audit::with_sinks(
                alur_core::witness::Publisher::new(store.clone(), tenant.clone(), signer),
                audit.checkpoint_dir.as_deref().map(Path::new),
                audit.checkpoint_webhook.as_deref(),
            )?;
            Some(p.spawn(audit.checkpoint_every, |r| {
                if let Err(e) = r {
                    eprintln!("checkpoint round failed: {e} (retried next round)");
                }
            }))
        }
        _ => None,
    };
    let tokens = a
        .officer_tokens
        .clone()
        .or_else(|| std::env::var("ALUR_OFFICER_TOKENS").ok());
    let auth: Arc<dyn alur_server::Authenticator> = match &tokens {
        Some(list) if !list.trim().is_empty() => {
            let mut t = alur_server::TokenAuthenticator::new();
            for pair in list.split(',') {
                let (officer, token) = pair.split_once('=').ok_or_else(|| {
                    "officer tokens are `officer=token` pairs separated by commas".to_owned()
                })?;
                t = t.with_token(token.trim(), officer.trim());
            }
            Arc::new(t)
        }
        _ => Arc::new(alur_server::NoAuthenticator),
    };
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", a.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = match engine.config().public_url.clone() {
        Some(u) => u,
        None => {
            eprintln!(
                "peringatan / warning: tanpa --public-url (atau [server] public_url), tautan pelacakan dan kode QR surat menunjuk ke http://{addr}, yang hanya terbuka di komputer ini / without --public-url (or [server] public_url) tracking links and the letters' QR codes point at http://{addr}"
            );
            format!("http://{addr}")
        }
    };
    let settings = alur_server::Settings {
        public_url,
        // Letter templates and the emblem from <config>/letters; PDF when Chromium is there.
        letter_config_dir: Some(a.config.clone()),
        letter_pdf: alur_letter::ChromiumRenderer::from_env().is_available(),
        upload_dir: a.uploads.clone(),
        max_upload_bytes: a.max_upload_kib.saturating_mul(1024),
        max_upload_files: a.max_upload_files,
        public_kpi: a.public_kpi,
        trusted_proxies: a.trusted_proxy.clone(),
        checkpoint_verifier: verifier,
        ..Default::default()
    };
    let mut state = alur_server::AppState::new(engine, auth, settings);
    if let Some(kpi) = kpi {
        state = state.with_kpi(kpi);
    }
    let accounts = if a.accounts.is_file() {
        let f = alur_server::FileAuthenticator::load(&a.accounts)
            .map_err(|e| format!("{}: {e}", a.accounts.display()))?;
        let n = f.officers().count();
        state = state.with_accounts(Arc::new(f));
        format!("{n} akun petugas / officer accounts")
    } else {
        "tanpa akun petugas / no officer accounts (alur account add)".to_owned()
    };
    println!(
        "alur melayani / serving {} (tenant {tenant}, {accounts}, {}, kunci pseudonim / pseudonym key: {key_from})",
        a.db,
        if publisher.is_some() {
            "checkpoint diterbitkan / checkpoints published"
        } else {
            "tanpa checkpoint / no checkpoint key"
        },
    );
    println!("buka / open: http://{addr}/");
    alur_server::serve(listener, alur_server::router(state), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())?;
    scheduler.abort();
    if let Some(p) = publisher {
        p.abort();
    }
    Ok("berhenti / stopped".into())
}

/// Options of `alur account add`.
#[derive(clap::Args)]
pub struct AccountAddArgs {
    /// Accounts file (created when missing).
    #[arg(long, default_value = "accounts.toml")]
    file: PathBuf,
    /// Officer id (as in officers.toml).
    #[arg(long)]
    officer: String,
    /// Configuration directory (the officer must be in it).
    #[arg(long, default_value = "examples/config/kepri")]
    config: PathBuf,
}

/// Add an officer account: the password from ALUR_PASSWORD or the first line of standard
/// input, stored only as an argon2id hash.
pub fn account_add(a: AccountAddArgs) -> Result<String, String> {
    let config = alur_core::load_dir(&a.config).map_err(|e| {
        format!(
            "{e}\nrun `alur validate {}` for details",
            a.config.display()
        )
    })?;
    if !config.officers.contains_key(&a.officer) {
        return Err(format!(
            "officer `{}` is not in {}/officers.toml",
            a.officer,
            a.config.display()
        ));
    }
    let existing = if a.file.is_file() {
        let f = alur_server::FileAuthenticator::load(&a.file)
            .map_err(|e| format!("{}: {e}", a.file.display()))?;
        if f.officers().any(|o| o == a.officer) {
            return Err(format!(
                "{} already has an account in {}; remove its [[account]] block first",
                a.officer,
                a.file.display()
            ));
        }
        std::fs::read_to_string(&a.file).map_err(|e| format!("{}: {e}", a.file.display()))?
    } else {
        String::new()
    };
    let password = match std::env::var("ALUR_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.chars().count() < 10 {
        return Err("the password must have at least 10 characters".into());
    }
    let hash = alur_server::hash_password(&password).map_err(|e| e.to_string())?;
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n[[account]]\nofficer = \"{}\"\npassword_hash = \"{hash}\"\n",
        a.officer
    ));
    // Check the result parses before replacing the file.
    alur_server::FileAuthenticator::from_toml(&text).map_err(|e| e.to_string())?;
    let tmp = a.file.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &text)?;
    std::fs::rename(&tmp, &a.file).map_err(|e| format!("{}: {e}", a.file.display()))?;
    Ok(format!(
        "akun {} ditambahkan ke {} / account added",
        a.officer,
        a.file.display()
    ))
}
