//! HTML to PDF: the [`PdfRenderer`] contract and [`ChromiumRenderer`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;

use crate::{LetterError, Paper};

/// Prints a letter's HTML page to PDF.
///
/// # Behavior
///
/// - The result starts with `%PDF-`.
/// - The page size is the HTML's `@page` size ([`crate::Templates::render_html`] sets it from
///   the paper); a page without an `@page` rule is printed on `paper`.
/// - The page loads nothing from the network: logo and QR code are inline.
#[async_trait]
pub trait PdfRenderer: Send + Sync {
    /// The PDF of `html`.
    async fn render(&self, html: &str, paper: Paper) -> Result<Vec<u8>, LetterError>;
}

/// Prints with headless Chromium (Debian's `chromium` package): one browser process per letter,
/// on a private temporary directory (page, profile, output) removed afterwards.
///
/// The command is `chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer
/// --print-to-pdf=<out> file://<page>` plus flags that keep a fresh profile quiet. A process
/// still running at the timeout is killed.
#[derive(Debug, Clone)]
pub struct ChromiumRenderer {
    path: PathBuf,
    timeout: Duration,
}

impl ChromiumRenderer {
    /// Where Debian installs the browser.
    pub const DEFAULT_PATH: &'static str = "/usr/bin/chromium";
    /// The environment variable that overrides the path.
    pub const PATH_ENV: &'static str = "ALUR_CHROMIUM";
    /// The default time allowed for one letter.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A renderer running the browser at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The browser named by `ALUR_CHROMIUM`, or [`Self::DEFAULT_PATH`].
    pub fn from_env() -> Self {
        match std::env::var_os(Self::PATH_ENV) {
            Some(p) if !p.is_empty() => Self::new(p),
            _ => Self::new(Self::DEFAULT_PATH),
        }
    }

    /// The same renderer with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The browser's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the browser is there (a file at the path).
    pub fn is_available(&self) -> bool {
        self.path.is_file()
    }

    fn missing(&self) -> LetterError {
        LetterError::ChromiumMissing {
            path: self.path.clone(),
        }
    }
}

impl Default for ChromiumRenderer {
    fn default() -> Self {
        Self::from_env()
    }
}

#[async_trait]
impl PdfRenderer for ChromiumRenderer {
    async fn render(&self, html: &str, paper: Paper) -> Result<Vec<u8>, LetterError> {
        if !self.is_available() {
            return Err(self.missing());
        }
        let dir = tempfile::Builder::new()
            .prefix("alur-letter-")
            .tempdir()
            .map_err(|source| LetterError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let page = dir.path().join("letter.html");
        let out = dir.path().join("letter.pdf");
        let log = dir.path().join("chromium.log");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LetterError::Io { path, source }
        };
        let html = if html.contains("@page") {
            html.to_owned()
        } else {
            format!(
                "<style>@page {{ size: {}; }}</style>\n{html}",
                paper.css_size()
            )
        };
        tokio::fs::write(&page, html).await.map_err(io(&page))?;
        // Chromium's stderr goes to a file: a pipe could be held open by its helper processes
        // after the browser exits, and the log is only read when printing fails.
        let stderr = std::fs::File::create(&log).map_err(io(&log))?;

        let mut cmd = tokio::process::Command::new(&self.path);
        cmd.arg("--headless")
            .arg("--no-sandbox")
            .arg("--disable-gpu")
            .arg("--disable-dev-shm-usage")
            .arg("--no-first-run")
            .arg("--no-default-browser-check")
            .arg("--disable-extensions")
            .arg("--disable-background-networking")
            .arg("--no-pdf-header-footer")
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(format!("--print-to-pdf={}", out.display()))
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.missing()
            } else {
                LetterError::ChromiumFailed {
                    status: "not started".into(),
                    detail: e.to_string(),
                }
            }
        })?;
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return Err(LetterError::ChromiumFailed {
                    status: "unknown".into(),
                    detail: e.to_string(),
                });
            }
            Err(_) => {
                // Kill and reap; the error is the timeout whatever the kill says.
                let _ = child.kill().await;
                return Err(LetterError::ChromiumTimeout {
                    timeout: self.timeout,
                });
            }
        };
        let pdf: Vec<u8> = tokio::fs::read(&out).await.unwrap_or_default();
        if status.success() && pdf.starts_with(b"%PDF-") {
            return Ok(pdf);
        }
        let detail = if !status.success() || pdf.is_empty() {
            log_tail(&std::fs::read_to_string(&log).unwrap_or_default())
        } else {
            "the output is not a PDF".to_owned()
        };
        Err(LetterError::ChromiumFailed {
            status: status.to_string(),
            detail,
        })
    }
}

/// The last meaningful lines of Chromium's stderr: D-Bus complaints (no session bus in a
/// container) are noise on every run.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("dbus") && !l.contains("D-Bus"))
        .collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        "no output was written and nothing was logged".to_owned()
    } else {
        tail
    }
}
