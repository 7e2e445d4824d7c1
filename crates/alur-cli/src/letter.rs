//! `alur letter`: issue, verify, register, render and revoke outgoing letters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alur_core::store::Store as _;
use alur_core::{Config, Engine, SystemClock};
use alur_letter::issue::{IssueOptions, Verdict};
use alur_letter::{ChromiumRenderer, LocalEd25519Signer, Passphrase, Templates};
use clap::{Subcommand, ValueEnum};

use crate::stores::{self, AnyStore};

/// Output of `alur letter issue`.
#[derive(Clone, Copy, ValueEnum)]
pub enum DocFormat {
    /// Print to PDF with headless Chromium (the default).
    Pdf,
    /// Keep the HTML page (no browser needed).
    Html,
}

/// How `alur letter issue` signs a PDF.
#[derive(Clone, Copy, ValueEnum)]
pub enum SignWith {
    /// Not signed (the audit log still proves the document).
    None,
    /// A local Ed25519 key (32-byte seed as 64 hex characters in ALUR_LETTER_KEY): demonstrations.
    Local,
    /// A BSrE-style e-signature service at --tte-url (client id/secret in ALUR_TTE_CLIENT_ID and
    /// ALUR_TTE_CLIENT_SECRET, the signer's passphrase in ALUR_TTE_PASSPHRASE).
    Tte,
}

#[derive(Subcommand)]
pub enum LetterCmd {
    /// Render, print, sign and issue the numbered letter of a completed case.
    Issue {
        /// Configuration directory (templates in <config>/letters override the built-in ones).
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL.
        #[arg(long, default_value = "sqlite://alur.db")]
        db: String,
        /// Case id.
        #[arg(long)]
        case: String,
        /// Officer who signs (the one who approved the case).
        #[arg(long)]
        officer: String,
        /// Document format.
        #[arg(long, value_enum, default_value = "pdf")]
        format: DocFormat,
        /// Signature on the PDF.
        #[arg(long, value_enum, default_value = "none")]
        sign: SignWith,
        /// Base URL of the e-signature service (with --sign tte).
        #[arg(long)]
        tte_url: Option<String>,
        /// Signer id sent to the e-signature service (NIK); default: the officer's NIP.
        #[arg(long)]
        signer_id: Option<String>,
        /// Also write the issued document to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a letter by its verification token or its file (or both, with --file).
    Verify {
        /// Verification token (from the QR code) or the path of a letter file.
        what: String,
        /// The letter file, when a token is given too.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Configuration directory.
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL.
        #[arg(long, default_value = "sqlite://alur.db")]
        db: String,
        /// Checkpoint public key (verifier key text or a file holding it), to check the
        /// checkpoint's signature.
        #[arg(long)]
        key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The outgoing-letter register (buku agenda surat keluar) of a unit and year, as CSV.
    Register {
        /// Configuration directory.
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL.
        #[arg(long, default_value = "sqlite://alur.db")]
        db: String,
        /// Unit code.
        #[arg(long)]
        unit: String,
        /// Year.
        #[arg(long)]
        year: i16,
    },
    /// Write an issued letter: the stored document for .pdf (byte for byte what was issued),
    /// the page rendered again from the record for .html.
    Render {
        /// Configuration directory.
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL.
        #[arg(long, default_value = "sqlite://alur.db")]
        db: String,
        /// Verification token.
        #[arg(long)]
        token: String,
        /// Output file (.pdf or .html).
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke an issued letter.
    Revoke {
        /// Configuration directory.
        #[arg(long, default_value = "examples/config/kepri")]
        config: PathBuf,
        /// Database URL.
        #[arg(long, default_value = "sqlite://alur.db")]
        db: String,
        /// Verification token.
        #[arg(long)]
        token: String,
        /// Officer who revokes.
        #[arg(long)]
        officer: String,
        /// Reason (recorded apart from the audit log, under its digest).
        #[arg(long)]
        reason: String,
    },
}

fn load_config(dir: &Path) -> Result<Config, String> {
    alur_core::load_dir(dir)
        .map_err(|e| format!("{e}\nrun `alur validate {}` for details", dir.display()))
}

/// Bytes from hex text (`None` when it is not hex).
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn templates(config_dir: &Path) -> Result<Templates, String> {
    Templates::load(config_dir).map_err(|e| e.to_string())
}

/// Today in the unit's time zone.
fn today(config: &Config, unit: &str) -> jiff::civil::Date {
    config
        .calendars
        .for_unit(unit)
        .time_zone()
        .to_datetime(jiff::Timestamp::now())
        .date()
}

async fn open(db: &str) -> Result<AnyStore, String> {
    stores::open(db).await
}

pub async fn run(cmd: LetterCmd) -> Result<String, String> {
    match cmd {
        LetterCmd::Issue {
            config,
            db,
            case,
            officer,
            format,
            sign,
            tte_url,
            signer_id,
            out,
        } => {
            let cfg = load_config(&config)?;
            let templates = templates(&config)?;
            let paper = cfg.letters.paper;
            let nip = cfg.officers.get(&officer).and_then(|o| o.nip.clone());
            let store = open(&db).await?;
            let engine = Engine::new(
                cfg,
                store,
                Arc::new(SystemClock),
                crate::serve::existing_pseudonymizer()?,
            )
            .await
            .map_err(|e| e.to_string())?;
            let renderer = ChromiumRenderer::from_env();
            let local;
            let tte;
            let passphrase;
            let id = signer_id.or(nip).unwrap_or_else(|| officer.clone());
            let signer: Option<(&dyn alur_letter::Signer, &str, &Passphrase)> = match (sign, format)
            {
                (SignWith::None, _) => None,
                (_, DocFormat::Html) => {
                    return Err("--sign needs --format pdf (an HTML page is not signed)".into());
                }
                (SignWith::Local, DocFormat::Pdf) => {
                    local = LocalEd25519Signer::from_env("ALUR_LETTER_KEY")
                        .map_err(|e| format!("ALUR_LETTER_KEY: {e}"))?;
                    passphrase = Passphrase::new(String::new());
                    Some((&local, id.as_str(), &passphrase))
                }
                (SignWith::Tte, DocFormat::Pdf) => {
                    let url = tte_url.ok_or("--sign tte needs --tte-url")?;
                    let var = |n: &str| {
                        std::env::var(n).map_err(|_| format!("set {n} for the e-signature service"))
                    };
                    tte = alur_letter::HttpSigner::new(
                        &url,
                        &var("ALUR_TTE_CLIENT_ID")?,
                        alur_letter::ClientSecret::new(var("ALUR_TTE_CLIENT_SECRET")?),
                        std::time::Duration::from_secs(60),
                    )
                    .map_err(|e| e.to_string())?;
                    passphrase = Passphrase::new(var("ALUR_TTE_PASSPHRASE")?);
                    Some((&tte, id.as_str(), &passphrase))
                }
            };
            let opts = IssueOptions {
                templates: &templates,
                paper,
                renderer: match format {
                    DocFormat::Pdf => Some(&renderer),
                    DocFormat::Html => None,
                },
                signer,
                logo: alur_letter::issue::logo_data_uri(&config).map_err(|e| e.to_string())?,
            };
            let issued = alur_letter::issue::issue(&engine, &case, &officer, &opts)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(out) = &out {
                std::fs::write(out, &issued.document)
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                if let Some(sig) = &issued.signature {
                    let p = out.with_extension("sig");
                    std::fs::write(&p, sig).map_err(|e| format!("{}: {e}", p.display()))?;
                }
            }
            let l = &issued.letter;
            Ok(format!(
                "surat diterbitkan / letter issued\n  nomor   {}\n  token   {}\n  sha-256 {}\n  berkas  {} ({} bytes){}\n",
                l.number,
                l.token,
                l.document_sha256.as_deref().unwrap_or("-"),
                issued.media_type,
                issued.document.len(),
                out.map(|p| format!("\n  ditulis {}", p.display()))
                    .unwrap_or_default()
            ))
        }
        LetterCmd::Verify {
            what,
            file,
            config,
            db,
            key,
            json,
        } => {
            let cfg = load_config(&config)?;
            let store = open(&db).await?;
            let path = Path::new(&what);
            let (token, document) = if path.is_file() {
                let bytes = std::fs::read(path).map_err(|e| format!("{what}: {e}"))?;
                (None, Some(bytes))
            } else {
                if !alur_core::letter::looks_like_token(what.trim()) {
                    return Err(format!(
                        "`{what}` is neither a file nor a verification token (32 characters a–z, 2–7)"
                    ));
                }
                let doc = match &file {
                    Some(f) => Some(std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?),
                    None => None,
                };
                (Some(what.trim().to_owned()), doc)
            };
            let verifier = match &key {
                Some(k) => Some(crate::audit::load_verifier(k)?),
                None => None,
            };
            let today = today(&cfg, &cfg.tenant.region);
            let v = alur_letter::issue::verify(
                &*store,
                &cfg,
                token.as_deref(),
                document.as_deref(),
                verifier.as_ref(),
                today,
            )
            .await
            .map_err(|e| e.to_string())?;
            let text = if json {
                serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n"
            } else {
                alur_letter::issue::verification_text(&v, today)
            };
            if v.verdict == Verdict::Valid {
                Ok(text)
            } else {
                Err(text.trim_end().to_owned())
            }
        }
        LetterCmd::Register {
            config,
            db,
            unit,
            year,
        } => {
            let cfg = load_config(&config)?;
            let store = open(&db).await?;
            let letters = store
                .letters(&cfg.tenant.id, &unit, year)
                .await
                .map_err(|e| e.to_string())?;
            let tz = cfg.calendars.for_unit(&unit).time_zone().clone();
            let mut out =
                String::from("nomor,tanggal,layanan,pemohon,penandatangan,token,status,perkara\n");
            for l in &letters {
                let applicant = match store.case(&cfg.tenant.id, &l.case_id).await {
                    Ok(Some(c)) => c.applicant.0,
                    _ => String::new(),
                };
                let date = tz
                    .to_datetime(l.issued_at.unwrap_or(l.numbered_at))
                    .date()
                    .to_string();
                let service = cfg
                    .services
                    .get(&l.service)
                    .map_or_else(|| l.service.clone(), |s| s.name.clone());
                let signer = l.signer.as_ref().map(|s| s.title()).unwrap_or_default();
                let fields = [
                    l.number.as_str(),
                    &date,
                    &service,
                    &applicant,
                    &signer,
                    &l.token,
                    l.status.as_str(),
                    &l.case_id,
                ];
                let row: Vec<String> = fields.iter().map(|f| csv(f)).collect();
                out.push_str(&row.join(","));
                out.push('\n');
            }
            Ok(out)
        }
        LetterCmd::Render {
            config,
            db,
            token,
            out,
        } => {
            let cfg = load_config(&config)?;
            let store = open(&db).await?;
            let letter = store
                .letter(&cfg.tenant.id, &token)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no letter has this token")?;
            let ext = out
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let bytes = match ext.as_str() {
                "pdf" | "html" | "htm" => {
                    let stored = match &letter.document_sha256 {
                        Some(sha) => store
                            .letter_document(&cfg.tenant.id, sha)
                            .await
                            .map_err(|e| e.to_string())?,
                        None => None,
                    };
                    match stored {
                        Some((media, bytes)) if (ext == "pdf") == (media == "application/pdf") => {
                            bytes
                        }
                        _ if ext == "pdf" => {
                            return Err(format!(
                                "letter {} was not issued as a PDF; write --out FILE.html",
                                letter.number
                            ));
                        }
                        _ => alur_letter::issue::render_again(
                            &*store,
                            &cfg,
                            &letter,
                            &templates(&config)?,
                            cfg.letters.paper,
                            alur_letter::issue::logo_data_uri(&config)
                                .map_err(|e| e.to_string())?,
                        )
                        .await?
                        .into_bytes(),
                    }
                }
                _ => return Err("--out must end in .pdf or .html".into()),
            };
            std::fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            Ok(format!(
                "{} ditulis / written: surat {} ({} bytes)\n",
                out.display(),
                letter.number,
                bytes.len()
            ))
        }
        LetterCmd::Revoke {
            config,
            db,
            token,
            officer,
            reason,
        } => {
            let cfg = load_config(&config)?;
            let store = open(&db).await?;
            let engine = Engine::new(
                cfg,
                store,
                Arc::new(SystemClock),
                crate::serve::existing_pseudonymizer()?,
            )
            .await
            .map_err(|e| e.to_string())?;
            let l = engine
                .revoke_letter(&token, &officer, &reason)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("surat {} dicabut / revoked\n", l.number))
        }
    }
}

/// A CSV field (RFC 4180 quoting).
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
