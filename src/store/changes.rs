//! Knowing, without running a query, that the database has not changed in a way that matters to a
//! cached identity. Authentication looks up a key or a session on every request; caching the answer
//! is only safe if a key revoked through the API, or through the CLI in another process, is refused
//! on the very next request.
//!
//! How: every commit to a WAL database, by any process, rewrites the WAL-index header at the start
//! of the `-shm` file (its change counter `iChange` goes up; the header is stored twice so readers
//! can tell a consistent copy). Reading those 96 bytes with one `pread` tells whether anything was
//! committed since the writer last looked. The writer thread, which alone writes in this process,
//! keeps a generation number: it bumps it when it commits a change that could affect identities,
//! and when `PRAGMA data_version` on its connection shows that another process committed. A cached
//! value is trusted only while the header is the one the writer last saw and the generation is the
//! one it was cached under. Anything unexpected (no `-shm` file, a header being rewritten, another
//! WAL-index format) simply means "not sure", and the caller reads the database.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use tokio::sync::Notify;

use crate::db_files::Companion;

/// The WAL-index format this code understands (SQLite's WALINDEX_MAX_VERSION since 3.7.0).
const WALINDEX_VERSION: u32 = 3_007_000;
/// One copy of the WAL-index header.
const HEADER_LEN: usize = 48;
/// Where, after the two header copies, the checkpoint's progress (`nBackfill`) is kept.
const BACKFILL_AT: usize = 2 * HEADER_LEN;
/// Where the header keeps the number of frames in the WAL (`mxFrame`).
const FRAMES_AT: usize = 16;

/// A token saying "nothing that matters has changed since"; equal tokens mean the cached value is
/// still good.
pub type Epoch = u64;

/// Shared by the writer thread (which advances it) and request handlers (which read it).
#[derive(Debug)]
pub struct ChangeWatch {
    shm: Option<File>,
    /// Fingerprint of the WAL-index header as the writer last accounted for it; 0 = none yet.
    seen: AtomicU64,
    generation: AtomicU64,
    /// Woken after every `catch_up`, for handlers that found the header moved and wait for the
    /// writer to account for it rather than read the database.
    settled: Notify,
}

impl ChangeWatch {
    /// Watches the database at `db_path` (its `-shm` file must exist: open a WAL connection first).
    pub fn open(db_path: &Path) -> ChangeWatch {
        let shm = File::open(Companion::Shm.of(db_path)).ok();
        if shm.is_none() {
            log::warn!("no WAL-index file next to the database: identities will not be cached");
        }
        ChangeWatch {
            shm,
            seen: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            settled: Notify::new(),
        }
    }

    /// The current epoch, or `None` when this process cannot vouch that nothing changed since the
    /// writer last looked (the caller then reads the database, and may ask the writer to look).
    pub fn epoch(&self) -> Option<Epoch> {
        let current = self.fingerprint()?;
        if current == self.seen.load(Ordering::SeqCst) {
            Some(self.generation.load(Ordering::SeqCst))
        } else {
            None
        }
    }

    /// Whether an epoch can ever be vouched for (there is a WAL-index file to watch).
    pub fn watching(&self) -> bool {
        self.shm.is_some()
    }

    /// Resolves at the next `catch_up` after this call. Create it *before* checking `epoch()`, so
    /// that a catch-up in between is not missed (see `tokio::sync::Notify::notified`).
    pub fn settled(&self) -> tokio::sync::futures::Notified<'_> {
        self.settled.notified()
    }

    /// Called by the writer, holding no transaction, after its commits (or when asked): accounts
    /// for the header as it is now. `changed_identities` says whether the writer's own commit may
    /// have changed a key, session, agent or account; `data_version` tracks other processes.
    /// Returns whether another process committed since the last look (an admin command may have
    /// revoked a key or disabled an account).
    pub(super) fn catch_up(
        &self,
        conn: &Connection,
        tracker: &mut ForeignTracker,
        changed_identities: bool,
    ) -> bool {
        let before = tracker.data_version(conn);
        let fingerprint = self.fingerprint();
        let after = tracker.data_version(conn);
        // Another process committed since we last looked, or while we read the header: whatever it
        // did is now behind the new generation.
        let foreign =
            before.is_none() || after.is_none() || before != tracker.last || after != before;
        tracker.last = after;
        if foreign || changed_identities {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        self.seen.store(fingerprint.unwrap_or(0), Ordering::SeqCst);
        self.settled.notify_waiters();
        foreign
    }

    /// How many frames the WAL holds and how many of them a checkpoint has copied into the
    /// database file already, from the WAL-index (one `pread`, no lock: an estimate that may be a
    /// moment old), if it can be read.
    pub fn wal_progress(&self) -> Option<(u32, u32)> {
        let shm = self.shm.as_ref()?;
        let mut index = [0u8; BACKFILL_AT + 4];
        shm.read_exact_at(&mut index, 0).ok()?;
        let (first, rest) = index.split_at(HEADER_LEN);
        if first != &rest[..HEADER_LEN] || first[12] != 1 {
            return None;
        }
        let u32_at = |at: usize| {
            u32::from_ne_bytes([index[at], index[at + 1], index[at + 2], index[at + 3]])
        };
        Some((u32_at(FRAMES_AT), u32_at(BACKFILL_AT)))
    }

    /// A 64-bit fingerprint of the WAL-index header, if a consistent copy could be read.
    fn fingerprint(&self) -> Option<u64> {
        let shm = self.shm.as_ref()?;
        let mut header = [0u8; 2 * HEADER_LEN];
        shm.read_exact_at(&mut header, 0).ok()?;
        let (first, second) = header.split_at(HEADER_LEN);
        let version = u32::from_ne_bytes([first[0], first[1], first[2], first[3]]);
        let initialised = first[12] == 1;
        if first != second || !initialised || version != WALINDEX_VERSION {
            return None;
        }
        // FNV-1a: enough to tell two headers apart; never 0 for a real header in practice.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in first {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Some(hash.max(1))
    }
}

/// The writer's memory of `PRAGMA data_version` on its own connection, which changes only when
/// another connection (another process: our readers never write) commits.
#[derive(Debug, Default)]
pub struct ForeignTracker {
    last: Option<i64>,
}

impl ForeignTracker {
    fn data_version(&self, conn: &Connection) -> Option<i64> {
        conn.prepare_cached("PRAGMA data_version")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection, Connection, ChangeWatch) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .expect("schema");
        let other = Connection::open(&path).expect("open another connection");
        let watch = ChangeWatch::open(&path);
        (dir, writer, other, watch)
    }

    #[test]
    fn an_unaccounted_commit_by_anyone_ends_the_epoch() {
        let (_dir, writer, other, watch) = db();
        let mut tracker = ForeignTracker::default();
        assert_eq!(watch.epoch(), None, "nothing accounted for yet");
        watch.catch_up(&writer, &mut tracker, false);
        let first = watch.epoch().expect("accounted for");
        assert_eq!(watch.epoch(), Some(first), "stable while nothing happens");

        other
            .execute("INSERT INTO t VALUES (1)", [])
            .expect("a foreign commit");
        assert_eq!(watch.epoch(), None, "a commit elsewhere is seen at once");
        watch.catch_up(&writer, &mut tracker, false);
        let second = watch.epoch().expect("accounted for again");
        assert_ne!(second, first, "a foreign commit moves to a new generation");
    }

    #[test]
    fn the_writers_own_content_commits_keep_the_epoch() {
        let (_dir, writer, _other, watch) = db();
        let mut tracker = ForeignTracker::default();
        watch.catch_up(&writer, &mut tracker, false);
        let epoch = watch.epoch().expect("accounted for");
        writer
            .execute("INSERT INTO t VALUES (2)", [])
            .expect("own commit");
        assert_eq!(watch.epoch(), None, "until the writer accounts for it");
        watch.catch_up(&writer, &mut tracker, false);
        assert_eq!(
            watch.epoch(),
            Some(epoch),
            "own content writes do not invalidate"
        );
        writer
            .execute("INSERT INTO t VALUES (3)", [])
            .expect("own identity change");
        watch.catch_up(&writer, &mut tracker, true);
        assert_ne!(watch.epoch(), Some(epoch), "own identity changes do");
    }

    #[tokio::test]
    async fn a_waiter_is_woken_by_the_next_catch_up() {
        let (_dir, writer, _other, watch) = db();
        let mut tracker = ForeignTracker::default();
        watch.catch_up(&writer, &mut tracker, false);
        let epoch = watch.epoch().expect("accounted for");
        writer
            .execute("INSERT INTO t VALUES (4)", [])
            .expect("own commit");
        assert_eq!(watch.epoch(), None);
        let settled = watch.settled();
        tokio::pin!(settled);
        settled.as_mut().enable();
        watch.catch_up(&writer, &mut tracker, false);
        // A guard against hanging forever, not a timing assertion: the wake-up already happened.
        tokio::time::timeout(std::time::Duration::from_secs(30), settled)
            .await
            .expect("catch_up wakes those waiting");
        assert_eq!(watch.epoch(), Some(epoch));
    }

    #[test]
    fn the_wal_progress_is_read_from_the_index() {
        let (_dir, writer, other, watch) = db();
        writer
            .execute("INSERT INTO t VALUES (5)", [])
            .expect("a commit");
        let (frames, copied) = watch.wal_progress().expect("readable");
        assert!(
            frames > 0 && copied < frames,
            "{frames} frames, {copied} copied"
        );
        other
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("checkpoint");
        let (frames, copied) = watch.wal_progress().expect("readable");
        assert_eq!(copied, frames, "all copied");
    }

    #[test]
    fn without_a_wal_index_nothing_is_vouched_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let watch = ChangeWatch::open(&dir.path().join("missing.db"));
        assert_eq!(watch.epoch(), None);
        assert!(!watch.watching(), "so handlers do not wait for it either");
    }
}
