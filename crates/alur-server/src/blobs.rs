//! Uploaded documents: a content-addressed [`BlobStore`] and the index of which documents belong
//! to which case.
//!
//! The engine accepts only the fields a service declares, so the references to a case's
//! documents are not part of its payload: the blob store keeps them in an index of its own,
//! keyed by case id ([`BlobStore::attach`], [`BlobStore::attachments`]).
//!
//! Types are decided by the content's leading bytes ([`sniff`]), never by the client's declared
//! type or the file's name.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// The SHA-256 of the content, lowercase hex.
    pub id: String,
    /// Size in bytes.
    pub size: u64,
    /// The media type (as sniffed from the content).
    pub media_type: String,
}

/// A document uploaded for one requirement of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The requirement's id.
    pub requirement: String,
    /// The document.
    pub blob: BlobRef,
}

/// Where uploaded documents are kept.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Store `bytes` (idempotent: the same content is one blob).
    async fn put(&self, bytes: Vec<u8>, media_type: &str) -> io::Result<BlobRef>;
    /// A blob's content, `None` when there is none with this id.
    async fn get(&self, id: &str) -> io::Result<Option<Vec<u8>>>;
    /// Record documents as a case's (a requirement's earlier document is replaced).
    async fn attach(&self, case_id: &str, documents: Vec<Attachment>) -> io::Result<()>;
    /// A case's documents, by requirement.
    async fn attachments(&self, case_id: &str) -> io::Result<Vec<Attachment>>;
}

/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The media type the content's leading bytes show: PDF, JPEG or PNG; `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

fn is_sha256_hex(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn merge(list: &mut Vec<Attachment>, documents: Vec<Attachment>) {
    for d in documents {
        list.retain(|a| a.requirement != d.requirement);
        list.push(d);
    }
    list.sort_by(|a, b| a.requirement.cmp(&b.requirement));
}

/// Blobs in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    index: Mutex<BTreeMap<String, Vec<Attachment>>>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many blobs are stored.
    pub fn len(&self) -> usize {
        self.blobs.lock().map_or(0, |b| b.len())
    }

    /// Whether no blob is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned() -> io::Error {
    io::Error::other("blob store lock poisoned")
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, bytes: Vec<u8>, media_type: &str) -> io::Result<BlobRef> {
        let r = BlobRef {
            id: sha256_hex(&bytes),
            size: bytes.len() as u64,
            media_type: media_type.to_owned(),
        };
        self.blobs
            .lock()
            .map_err(|_| poisoned())?
            .insert(r.id.clone(), bytes);
        Ok(r)
    }

    async fn get(&self, id: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.blobs.lock().map_err(|_| poisoned())?.get(id).cloned())
    }

    async fn attach(&self, case_id: &str, documents: Vec<Attachment>) -> io::Result<()> {
        let mut index = self.index.lock().map_err(|_| poisoned())?;
        merge(index.entry(case_id.to_owned()).or_default(), documents);
        Ok(())
    }

    async fn attachments(&self, case_id: &str) -> io::Result<Vec<Attachment>> {
        Ok(self
            .index
            .lock()
            .map_err(|_| poisoned())?
            .get(case_id)
            .cloned()
            .unwrap_or_default())
    }
}

/// Blobs as files under a directory: `<dir>/<aa>/<sha256>` (`aa` the hash's first two
/// characters), each case's documents in `<dir>/perkara/<sha256 of the case id>.json`. Every
/// file is written to a temporary name, synced and renamed, so a crash never leaves a partial
/// file under a final name. The directory is created on the first write.
#[derive(Debug)]
pub struct FsBlobStore {
    dir: PathBuf,
    // Serialises read-modify-write of the case index files.
    index_lock: tokio::sync::Mutex<()>,
}

impl FsBlobStore {
    /// A store under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            index_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn blob_path(&self, id: &str) -> PathBuf {
        self.dir.join(&id[..2]).join(id)
    }

    fn index_path(&self, case_id: &str) -> PathBuf {
        self.dir
            .join("perkara")
            .join(format!("{}.json", sha256_hex(case_id.as_bytes())))
    }
}

/// Write `bytes` to `path` through a synced temporary file in the same directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| io::Error::other("a blob path has a parent"))?;
    std::fs::create_dir_all(parent)?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(
        ".{name}.{}.tmp",
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, bytes: Vec<u8>, media_type: &str) -> io::Result<BlobRef> {
        let r = BlobRef {
            id: sha256_hex(&bytes),
            size: bytes.len() as u64,
            media_type: media_type.to_owned(),
        };
        let path = self.blob_path(&r.id);
        blocking(move || {
            if path.is_file() {
                return Ok(());
            }
            write_atomically(&path, &bytes)
        })
        .await?;
        Ok(r)
    }

    async fn get(&self, id: &str) -> io::Result<Option<Vec<u8>>> {
        if !is_sha256_hex(id) {
            return Ok(None);
        }
        let path = self.blob_path(id);
        blocking(move || match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn attach(&self, case_id: &str, documents: Vec<Attachment>) -> io::Result<()> {
        let _guard = self.index_lock.lock().await;
        let mut list = self.attachments(case_id).await?;
        merge(&mut list, documents);
        let path = self.index_path(case_id);
        let bytes = serde_json::to_vec_pretty(&list).map_err(io::Error::other)?;
        blocking(move || write_atomically(&path, &bytes)).await
    }

    async fn attachments(&self, case_id: &str) -> io::Result<Vec<Attachment>> {
        let path = self.index_path(case_id);
        blocking(move || match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(io::Error::other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_sniffed_from_content() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"<html>%PDF-"), None);
        assert_eq!(sniff(b""), None);
    }

    #[tokio::test]
    async fn files_are_content_addressed_and_indexed() {
        let dir = tempfile::tempdir().expect("dir");
        let s = FsBlobStore::new(dir.path().join("dokumen"));
        let r = s
            .put(b"%PDF-1.4 x".to_vec(), "application/pdf")
            .await
            .expect("put");
        assert_eq!(r.id, sha256_hex(b"%PDF-1.4 x"));
        assert_eq!(r.size, 10);
        let path = dir.path().join("dokumen").join(&r.id[..2]).join(&r.id);
        assert_eq!(std::fs::read(path).expect("file"), b"%PDF-1.4 x");
        assert_eq!(
            s.get(&r.id).await.expect("get").as_deref(),
            Some(&b"%PDF-1.4 x"[..])
        );
        assert_eq!(s.get("../etc/passwd").await.expect("get"), None);
        // No temporary file is left behind.
        let leftovers = std::fs::read_dir(dir.path().join("dokumen").join(&r.id[..2]))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1);
        let a = Attachment {
            requirement: "ktp".into(),
            blob: r.clone(),
        };
        s.attach("c-1", vec![a.clone()]).await.expect("attach");
        s.attach("c-1", vec![a.clone()]).await.expect("attach");
        assert_eq!(s.attachments("c-1").await.expect("list"), vec![a]);
        assert!(s.attachments("c-2").await.expect("list").is_empty());
    }
}
