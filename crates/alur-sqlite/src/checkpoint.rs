//! Checkpoints off the writer's path.
//!
//! In WAL mode every commit appends the pages it changed to the `-wal` file; a checkpoint copies
//! them back into the database file (and, with `synchronous` NORMAL or FULL, syncs it). SQLite
//! runs that checkpoint inside the commit that crosses `wal_autocheckpoint` pages, on the writing
//! connection: the single writer then stops writing while it copies. Under a steady stream of
//! transitions that was about a fifth of the writer's time.
//!
//! Here a thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` shortly after
//! commits (at most once per interval, so a hot page changed by many commits is copied once).
//! A passive checkpoint never blocks the writer nor the readers; it copies what no reader still
//! needs. The writer keeps SQLite's own checkpoint as a backstop at a higher threshold
//! ([`BACKSTOP_FACTOR`] × the usual 1,000 pages): the writer's checkpoint is the one that lets the
//! next commit start the WAL file over, and it has little left to copy by then. A checkpoint
//! that fails (a full disk, say) loses nothing: the pages stay in the WAL, where readers find
//! them, and the next checkpoint tries again.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use alur_core::store::{StoreError, StoreErrorKind};
use rusqlite::OpenFlags;

use crate::Durability;

/// The writer's own checkpoint threshold, as a multiple of SQLite's default (1,000 pages).
pub(crate) const BACKSTOP_FACTOR: u32 = 8;

/// Counters of the checkpoint thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) runs: AtomicU64,
    pub(crate) failures: AtomicU64,
}

/// The running checkpoint thread; dropping the last [`Poke`] stops it.
pub(crate) struct Checkpointer {
    handle: Option<JoinHandle<()>>,
}

/// Tells the checkpoint thread that something was committed.
#[derive(Clone)]
pub(crate) struct Poke(SyncSender<()>);

impl Poke {
    /// Never blocks: a poke already waiting stands for this one too.
    pub(crate) fn poke(&self) {
        let _ = self.0.try_send(());
    }
}

impl Checkpointer {
    /// Open the checkpoint connection on `path` and start the thread.
    pub(crate) fn start(
        path: &Path,
        durability: Durability,
        busy_timeout: Duration,
        interval: Duration,
        counters: Arc<Counters>,
    ) -> Result<(Self, Poke), StoreError> {
        let fail = |e: &dyn std::fmt::Display| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("cannot start the checkpoint connection: {e}"),
            )
        };
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| fail(&e))?;
        conn.busy_timeout(busy_timeout).map_err(|e| fail(&e))?;
        // The checkpoint syncs the database file as the profile asks (both profiles sync it).
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous = {sync}"))
            .map_err(|e| fail(&e))?;
        let (tx, rx) = sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("alur-sqlite-checkpoint".into())
            .spawn(move || run(conn, rx, interval, &counters))
            .map_err(|e| fail(&e))?;
        Ok((
            Self {
                handle: Some(handle),
            },
            Poke(tx),
        ))
    }

    /// Wait for the thread to finish (after every [`Poke`] is dropped).
    pub(crate) fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(conn: rusqlite::Connection, rx: Receiver<()>, interval: Duration, counters: &Counters) {
    let mut last: Option<Instant> = None;
    // Wait for a commit; then let `interval` pass since the last checkpoint, so the pages of
    // the commits in between are copied once.
    while rx.recv().is_ok() {
        let wait = last.map_or(Duration::ZERO, |l| interval.saturating_sub(l.elapsed()));
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let stopping = matches!(rx.try_recv(), Err(TryRecvError::Disconnected));
        last = Some(Instant::now());
        let ok = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
            .is_ok();
        counters.runs.fetch_add(1, Ordering::Relaxed);
        if !ok {
            counters.failures.fetch_add(1, Ordering::Relaxed);
        }
        if stopping {
            break;
        }
    }
}
