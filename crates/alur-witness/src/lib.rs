//! Checkpoint sinks for [`alur_core::witness::Publisher`]: copies of the signed checkpoints of a
//! tenant's audit log outside its database.
//!
//! - [`DirectorySink`]: `<dir>/<tenant>/checkpoint-<size>.txt` for every checkpoint and
//!   `<dir>/<tenant>/latest.txt`, each written to a temporary file, synced and renamed, so a crash
//!   never leaves a half-written note. A different note for a size already kept is refused: two
//!   signed trees of one size mean the log was forked or rewritten, which an operator must see.
//! - [`WebhookSink`]: a POST of the note (`text/plain`) with `X-Alur-Tenant`, `X-Alur-Tree-Size`
//!   and, when a secret is set, `X-Alur-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//!   "<t>.<body>">`; any 2xx is success. The checkpoint is itself signed (Ed25519): the HMAC only
//!   tells the receiver which deployment sent it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alur_core::store::StoredCheckpoint;
use alur_core::witness::{CheckpointSink, SinkError};
use async_trait::async_trait;
use hmac::{KeyInit, Mac};

/// Keeps every checkpoint as a file in a directory (ideally on another disk or a mounted share).
#[derive(Debug, Clone)]
pub struct DirectorySink {
    dir: PathBuf,
}

impl DirectorySink {
    /// A sink writing under `dir` (created when missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory a tenant's checkpoints go to.
    pub fn tenant_dir(&self, tenant: &str) -> PathBuf {
        self.dir.join(tenant)
    }
}

/// The file name of the checkpoint of `size` entries.
pub fn checkpoint_file_name(size: u64) -> String {
    format!("checkpoint-{size:012}.txt")
}

/// The tree size a note states (its second line).
fn note_size(note: &str) -> Option<u64> {
    note.lines().nth(1)?.trim().parse().ok()
}

fn write_synced(dir: &Path, name: &str, data: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    // The rename is durable once the directory is synced.
    std::fs::File::open(dir)?.sync_all()
}

fn keep(dir: &Path, tenant: &str, c: &StoredCheckpoint) -> Result<(), String> {
    if tenant.is_empty()
        || !tenant
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(format!(
            "tenant id `{tenant}` is not usable as a directory name"
        ));
    }
    let dir = dir.join(tenant);
    let io = |what: &str, e: std::io::Error| format!("{what} {}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", e))?;
    let name = checkpoint_file_name(c.size);
    match std::fs::read_to_string(dir.join(&name)) {
        Ok(existing) if existing == c.note => {}
        Ok(_) => {
            return Err(format!(
                "{} already holds a different signed checkpoint of size {}: the log may have been \
                 rewritten or forked; keep both files and run `alur audit verify`",
                dir.join(&name).display(),
                c.size
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_synced(&dir, &name, &c.note).map_err(|e| io("cannot write to", e))?;
        }
        Err(e) => return Err(io("cannot read", e)),
    }
    // latest.txt only moves forward.
    let latest = std::fs::read_to_string(dir.join("latest.txt"))
        .ok()
        .and_then(|n| note_size(&n));
    if latest.is_none_or(|l| l < c.size) {
        write_synced(&dir, "latest.txt", &c.note).map_err(|e| io("cannot write to", e))?;
    }
    Ok(())
}

#[async_trait]
impl CheckpointSink for DirectorySink {
    fn name(&self) -> String {
        format!("dir:{}", self.dir.display())
    }

    async fn publish(&self, tenant: &str, c: &StoredCheckpoint) -> Result<(), SinkError> {
        let (dir, tenant, c) = (self.dir.clone(), tenant.to_owned(), c.clone());
        tokio::task::spawn_blocking(move || keep(&dir, &tenant, &c))
            .await
            .map_err(|e| SinkError(format!("the writer task failed: {e}")))?
            .map_err(SinkError)
    }
}

/// Why a sink could not be set up.
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// POSTs every checkpoint to a URL.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    url: String,
    secret: Option<Vec<u8>>,
    client: reqwest::Client,
}

impl WebhookSink {
    /// A sink posting to `url` (http or https), with a 10 s timeout. `secret` signs each request.
    pub fn new(url: &str, secret: Option<Vec<u8>>) -> Result<Self, SetupError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SetupError(format!(
                "`{url}` is not an http:// or https:// URL"
            )));
        }
        #[cfg(feature = "rustls")]
        {
            // A provider installed by the host stays; otherwise ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SetupError(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            url: url.to_owned(),
            secret,
            client,
        })
    }
}

/// The `X-Alur-Signature` value for `body` sent at unix time `t`.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so the `else` branch is never taken; an empty tag would
    // only make the receiver refuse the request.
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret) else {
        return format!("t={t},v1=");
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

#[async_trait]
impl CheckpointSink for WebhookSink {
    fn name(&self) -> String {
        format!("webhook:{}", self.url)
    }

    async fn publish(&self, tenant: &str, c: &StoredCheckpoint) -> Result<(), SinkError> {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "text/plain; charset=utf-8")
            .header("x-alur-tenant", tenant)
            .header("x-alur-tree-size", c.size.to_string());
        if let Some(secret) = &self.secret {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            req = req.header("x-alur-signature", signature(secret, t, c.note.as_bytes()));
        }
        let resp = req
            .body(c.note.clone())
            .send()
            .await
            .map_err(|e| SinkError(format!("{}: {e}", self.url)))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(SinkError(format!(
                "{} answered {}",
                self.url,
                resp.status()
            )))
        }
    }
}
