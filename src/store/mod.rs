//! The store: every SQL statement of the product lives under this module. It knows nothing about
//! HTTP. Reads run on a pool of read-only connections; writes go to the single writer thread. Both
//! are offered as async methods (for the server, run off the async workers) and blocking ones (for
//! the CLI).

pub mod access;
pub mod agents;
pub mod artifacts;
pub mod audit;
pub mod blobs;
pub mod changes;
mod checkpoint;
pub mod comments;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod invites;
pub mod key_requests;
pub mod keys;
pub mod members;
mod opened_file;
pub mod password_resets;
pub mod quota;
pub mod reads;
pub mod replies;
pub mod schema;
pub mod sessions;
pub mod share_links;
pub mod staging;
mod stamp;
pub mod users;
pub mod versions;
pub mod view_grants;
pub mod views;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use changes::{ChangeWatch, Epoch};
use checkpoint::Checkpointer;
pub use error::{StoreError, StoreResult};
use feed::Feed;
use opened_file::{OpenedFile, Recheck};
use staging::{Claims, Sha256};
use stamp::Stamp;
use writer::Writer;
pub use writer::{Touches, WriterStats};

type Pool = r2d2::Pool<SqliteConnectionManager>;

/// Read connections kept open.
const READERS: u32 = 8;
/// WAL frames not yet copied into the database file past which an upload waits to store its next
/// file (4 MB).
const STAGE_BACKLOG: u32 = 1024;
/// The longest an upload waits for that (a long read can hold the checkpoint back).
const STAGE_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a handler waits for the writer to account for a commit before reading the database.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(5);
/// How often the writer looks whether the database file was deleted or replaced under it.
const REPLACED_CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// What `Store::health` found: each check passed, or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub database: Result<(), String>,
    pub writer: Result<(), String>,
    /// Room on the disk that holds the database: with next to none, every write fails.
    pub disk: Result<(), String>,
}

impl Health {
    pub fn ok(&self) -> bool {
        self.database.is_ok() && self.writer.is_ok() && self.disk.is_ok()
    }
}

/// Free space under which the disk counts as full for the health check: a write of a few pages
/// (a comment) still fits, hardly anything more.
pub const DISK_FLOOR: u64 = 1024 * 1024;

/// Whether the file system holding `db` has at least `DISK_FLOOR` bytes free for this process.
fn disk_room(db: &Path) -> Result<(), String> {
    let folder = match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let stats = rustix::fs::statvfs(folder)
        .map_err(|e| format!("cannot tell the free space on {}: {e}", folder.display()))?;
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    if free < DISK_FLOOR {
        return Err(format!(
            "the disk holding the database is full ({free} bytes free): writes fail until space is freed"
        ));
    }
    Ok(())
}

/// Who copies the WAL into the database file and starts it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checkpoints {
    /// This process: the background checkpointer, the writer restarting the WAL, a TRUNCATE
    /// checkpoint on close (the server on its own).
    #[default]
    Here,
    /// Another process, and nothing in this one: Litestream, which must be the only one to
    /// checkpoint while it replicates (a checkpoint it did not make can make it miss WAL frames
    /// and start a full snapshot), or the running server while an admin command writes. SQLite's
    /// automatic checkpoint is off too.
    Elsewhere,
}

/// A cheap, cloneable handle to one database file.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    /// The database file opened, to tell when the one at `path` is another.
    file: OpenedFile,
    readers: Pool,
    /// When the pool last answered a read.
    read_answered: Arc<Stamp>,
    writer: Writer,
    watch: Arc<ChangeWatch>,
    feed: Arc<Feed>,
    checkpointer: Option<Arc<Checkpointer>>,
    claims: Arc<Claims>,
}

impl Store {
    /// Opens (creating if missing) the database at `path` and brings its schema up to date; this
    /// process checkpoints it.
    pub fn open(path: &Path) -> StoreResult<Store> {
        Store::open_with(path, Checkpoints::Here)
    }

    /// Like `open`, with `checkpoints` saying who checkpoints the WAL.
    pub fn open_with(path: &Path, checkpoints: Checkpoints) -> StoreResult<Store> {
        create_private(path)?;
        refuse_hard_links(path)?;
        let mut conn = Connection::open(path)?;
        schema::refuse_foreign(&conn)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        // Checkpoints happen in the background (see `checkpoint`); the writer restarts the WAL
        // when little is left to copy (`writer::maintain_wal`), reading its progress from the
        // WAL-index. Without one to read, SQLite's own automatic checkpoint stays on (at 4,000
        // pages). A reset WAL is cut back to 64 MB. When another process checkpoints, none of
        // this runs here.
        let watch = Arc::new(ChangeWatch::open(path));
        let autocheckpoint = if watch.watching() || checkpoints == Checkpoints::Elsewhere {
            0
        } else {
            4000
        };
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {autocheckpoint}; PRAGMA journal_size_limit = 67108864;"
        ))?;
        let checkpointer = match checkpoints {
            Checkpoints::Here => Some(Arc::new(
                Checkpointer::start(path).map_err(|e| StoreError::Task(e.to_string()))?,
            )),
            Checkpoints::Elsewhere => None,
        };
        let feed = Arc::new(Feed::default());
        let file = OpenedFile::at(path);
        let writer = Writer::start(
            conn,
            watch.clone(),
            feed.clone(),
            checkpointer.clone(),
            Recheck::new(file.clone(), REPLACED_CHECK_EVERY),
        )
        .map_err(|e| StoreError::Task(e.to_string()))?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                schema::configure(c)?;
                // Readers never write; a write slipping into a read path fails loudly.
                c.execute_batch("PRAGMA query_only = ON;")
            });
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .build(manager)?;
        Ok(Store {
            path: path.to_path_buf(),
            file,
            readers,
            read_answered: Arc::new(Stamp::new(std::time::Instant::now())),
            writer,
            watch,
            feed,
            checkpointer,
            claims: Arc::new(Claims::default()),
        })
    }

    /// Hears of every artifact with newly committed events, and of identity changes (see `feed`).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<feed::Change> {
        self.feed.subscribe()
    }

    /// The writer's queue and commit times, for the metrics.
    pub fn writer_stats(&self) -> Arc<WriterStats> {
        self.writer.stats()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a read connection, on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let answered = self.read_answered.clone();
        tokio::task::spawn_blocking(move || {
            let read = f(&*readers.get()?);
            if read.is_ok() {
                answered.set();
            }
            read
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` inside the writer's transaction; resolves after commit. For writes that may change
    /// an identity (keys, sessions, agents, accounts): cached identities are dropped. `f` may run
    /// a second time when another job of its batch fails after changing rows (see `writer`): it
    /// must only read and write through `conn`, or do what is safe to repeat.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_touching(Touches::Identities, f).await
    }

    /// Like `write`, for content only (artifacts, versions, comments, replies, access grants,
    /// viewing grants, audit events, a key's last use): cached identities stay valid.
    pub async fn write_content<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_touching(Touches::ContentOnly, f).await
    }

    /// Runs `f` inside the writer's transaction, dropping cached identities when `touches` says so.
    pub async fn write_touching<T, F>(&self, touches: Touches, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_sized(touches, 0, f).await
    }

    /// Like `write_touching`, for a job that refuses in its caller's own error type (the API's,
    /// with the status and code the client gets), so a refusal decided inside the transaction
    /// needs no detour through `StoreError`. Failures of the store itself arrive converted.
    pub async fn write_checked<T, E, F>(&self, touches: Touches, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.write_sized(touches, 0, f).await
    }

    async fn write_sized<T, E, F>(&self, touches: Touches, bytes: u64, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.writer
            .submit(touches, bytes, f)?
            .await
            .map_err(|_| StoreError::Task("the write was dropped before it ran".into()))?
    }

    /// A new upload's id for its claims (see `staging`).
    pub fn new_upload(&self) -> u64 {
        self.claims.new_upload()
    }

    /// Claims for `upload` each of `hashes` that is stored already; returns the ones that are not.
    pub async fn claim(&self, upload: u64, hashes: Vec<Sha256>) -> StoreResult<Vec<Sha256>> {
        let claims = self.claims.clone();
        self.write_content(move |conn| staging::claim(conn, &claims, upload, &hashes))
            .await
    }

    /// Stores one content of `upload`, in a write of its own or, when it is larger than a part
    /// (`staging::PART_BYTES`), in one write per part (the writer runs such writes one at a time
    /// between batches of all others, so no other write waits for more than one part). Each write
    /// waits until the background checkpointer has copied most of the WAL: an upload goes at the
    /// pace the database file takes it, and the writer never has a large copy to make before it
    /// can restart the WAL. (When another process checkpoints, the upload does not wait for it.)
    pub async fn stage(&self, upload: u64, sha256: Sha256, bytes: Vec<u8>) -> StoreResult<()> {
        let bytes = Arc::new(bytes);
        for seq in 0..staging::parts(bytes.len()) {
            self.wait_for_checkpoints().await;
            let claims = self.claims.clone();
            let part = bytes.clone();
            let size = staging::part_range(bytes.len(), seq).len();
            let whole = self
                .write_sized(Touches::ContentOnly, size as u64, move |conn| {
                    staging::stage(conn, &claims, upload, sha256, &part, seq)
                })
                .await?;
            if whole {
                break;
            }
        }
        Ok(())
    }

    /// Waits (at most `STAGE_WAIT_MAX`) while the WAL holds more than `STAGE_BACKLOG` frames the
    /// checkpointer of this process has not copied yet.
    async fn wait_for_checkpoints(&self) {
        let Some(checkpointer) = &self.checkpointer else {
            return;
        };
        let waited = std::time::Instant::now();
        while self
            .watch
            .wal_progress()
            .is_some_and(|(frames, copied)| frames.saturating_sub(copied) > STAGE_BACKLOG)
            && waited.elapsed() < STAGE_WAIT_MAX
        {
            checkpointer.nudge();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Gives up `upload`'s claims, removing what nothing else needs, without waiting for it (an
    /// upload that ends, however it ends, calls this as it goes).
    pub fn release(&self, upload: u64, hashes: Vec<Sha256>) {
        let claims = self.claims.clone();
        let submitted = self.writer.submit(Touches::ContentOnly, 0, move |conn| {
            staging::release(conn, &claims, upload, &hashes)
        });
        if let Err(e) = submitted {
            log::warn!("could not release an upload's claims: {e}");
        }
    }

    /// Removes, each in a write of its own (a large one is many parts), those of `hashes` that no
    /// version uses and no upload claims: what a deleted artifact's files held. Returns how many.
    pub async fn remove_if_unused(&self, hashes: Vec<Sha256>) -> StoreResult<usize> {
        let mut removed = 0;
        for sha256 in hashes {
            let claims = self.claims.clone();
            if self
                .write_content(move |conn| staging::remove_if_unused(conn, &claims, &sha256))
                .await?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes the contents no version uses (left by uploads a crash interrupted); for the server
    /// to call when it starts, before it takes any upload.
    pub async fn remove_unused_contents(&self) -> StoreResult<usize> {
        self.write_content(staging::remove_unused).await
    }

    /// The epoch under which cached identities are valid, or `None` when it cannot be vouched for.
    ///
    /// Every commit moves the WAL-index header a moment before the writer accounts for it, so
    /// under a stream of writes a handler often looks in that moment (measured: 6.5% of requests
    /// during the benchmark's POST load, each then reading its key from SQLite on the blocking
    /// pool). Such a handler waits for the writer's next catch-up instead (the writer is asked for
    /// one, and does one after every commit anyway), at most `SETTLE_WAIT`; only then, or when
    /// the header cannot be read at all, does it go without.
    pub async fn epoch(&self) -> Option<Epoch> {
        if let Some(epoch) = self.watch.epoch() {
            return Some(epoch);
        }
        if !self.watch.watching() {
            return None;
        }
        let settled = self.watch.settled();
        tokio::pin!(settled);
        settled.as_mut().enable();
        if let Some(epoch) = self.watch.epoch() {
            return Some(epoch);
        }
        self.writer.request_sync();
        // Elapsed or not, look again: a still-moving header just means no cached answer.
        let _ = tokio::time::timeout(SETTLE_WAIT, settled).await;
        self.watch.epoch()
    }

    /// Whether the database answers: a read through the pool, and the writer: while it is working
    /// on a transaction begun less than `deadline` ago, that is answer enough (a busy writer is
    /// not made busier, nor its queue waited for); otherwise (idle, or on one transaction for
    /// longer) an empty write transaction on it must be done within `deadline`, so a stuck writer
    /// shows. Nothing is written.
    pub async fn health(&self, deadline: std::time::Duration) -> Health {
        let within =
            |what: &'static str, outcome: Result<StoreResult<()>, tokio::time::error::Elapsed>| {
                match outcome {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("{what} failed: {e}")),
                    Err(_) => Err(format!(
                        "{what} did not answer within {} ms",
                        deadline.as_millis()
                    )),
                }
            };
        // The pool: a read it answered within the deadline, else one made now (a health check
        // under load then does not wait for a connection behind the requests' reads).
        let read = async {
            match self.read_answered.ago() {
                Some(answered) if answered < deadline => Ok(Ok(())),
                _ => tokio::time::timeout(deadline, self.read(schema::check_version)).await,
            }
        };
        // The writer is alive when it is inside a transaction that began within the deadline, or
        // between two, with writes waiting and the last transaction ended within it: a busy
        // writer is not sent a transaction of the health check's own, which would wait behind
        // every queued write (content writes included). An idle writer is, so that a write lock
        // held by another process shows.
        let write = async {
            let (running, ended) = (self.writer.running_for(), self.writer.ended_ago());
            if shows_alive(running, ended, self.writer.queued(), deadline) {
                return Ok(());
            }
            within(
                "the database writer",
                tokio::time::timeout(deadline, self.write_content(|_| Ok(()))).await,
            )
        };
        let (read, writer) = tokio::join!(read, write);
        Health {
            database: within("reading the database", read).and_then(|()| self.still_at_its_path()),
            writer,
            disk: disk_room(&self.path),
        }
    }

    /// Whether the file at the database's path is still the one this process has open: deleted or
    /// replaced underneath (by hand, or a copy written over it), reads and writes go on in the
    /// old file and everything written is lost at the next start.
    fn still_at_its_path(&self) -> Result<(), String> {
        self.file.check()
    }

    /// Blocking form of `read`, for the CLI.
    pub fn read_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        f(&*self.readers.get()?)
    }

    /// Blocking form of `write`, for the CLI.
    pub fn write_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer
            .submit(Touches::Identities, 0, f)?
            .blocking_recv()
            .map_err(|_| StoreError::Task("the write was dropped before it ran".into()))?
    }

    /// Finishes queued writes, checkpoints the WAL into the database file (when this process
    /// checkpoints) and closes the writer.
    pub async fn close(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
        self.writer.close().await;
    }

    /// Writes a consistent copy of the live database to `dest` (SQLite online backup).
    pub fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        let src = self.readers.get()?;
        create_private(dest)?;
        let mut out = Connection::open(dest)?;
        let backup = rusqlite::backup::Backup::new(&src, &mut out)?;
        // Every page in one step, inside one read transaction: copied in steps, the copy starts
        // over whenever the server writes between two, and under a steady trickle of comments a
        // large database never finished. The server's writes go on meanwhile (WAL).
        loop {
            match backup.step(-1)? {
                rusqlite::backup::StepResult::Done => return Ok(()),
                rusqlite::backup::StepResult::More => {}
                // The destination or source is locked for a moment: try again.
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    }
}

/// Refuses a database file a backup would replace unless it is an Artifact Review database (an
/// earlier backup) or an empty one: another program's database, or one that cannot be read, is
/// not ours to overwrite. Opened read-only: it is left as it is.
pub fn refuse_to_replace(path: &Path) -> StoreResult<()> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    schema::refuse_foreign(&conn)
}

/// Reads a written copy back: every page checks out (`quick_check`) and it holds this binary's
/// schema. Returns what is wrong otherwise.
pub fn check_copy(path: &Path) -> StoreResult<Option<String>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Ok(Some(format!("its pages do not check out ({check})")));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != schema::SCHEMA_VERSION {
        return Ok(Some(format!(
            "it holds schema version {version}, not {}",
            schema::SCHEMA_VERSION
        )));
    }
    Ok(None)
}

/// Refuses a database file that has other names: each name would get its own `-wal` and `-shm`,
/// and two processes using two names (a server on each, or a server and an admin command) would
/// write past each other.
fn refuse_hard_links(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        // A folder has several links too ("." and its subfolders' ".."), and is no database.
        Ok(found) if found.is_dir() => Err(StoreError::Folder {
            path: path.display().to_string(),
        }),
        Ok(found) if found.nlink() > 1 => Err(StoreError::HardLinked {
            links: found.nlink(),
        }),
        _ => Ok(()),
    }
}

/// Creates `path` as an empty file only its owner can read and write (0600), unless it exists.
/// SQLite gives the `-wal`, `-shm` and journal files it makes next to a database the database's own
/// permissions, so they are private too. An existing file keeps the permissions it has.
fn create_private(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Task(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Whether the writer shows by itself that it is taking work, so that the health check need not
/// send it a transaction: it is inside one begun less than `deadline` ago (`running`), or between
/// two with writes waiting (`queued`) and the last one ended less than `deadline` ago (`ended`).
fn shows_alive(
    running: Option<std::time::Duration>,
    ended: Option<std::time::Duration>,
    queued: u64,
    deadline: std::time::Duration,
) -> bool {
    match (running, ended) {
        (Some(running), _) => running < deadline,
        (None, Some(ended)) => ended < deadline && queued > 0,
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("t.db")).expect("open store");
        (dir, store)
    }

    fn content_write(conn: &Connection) -> StoreResult<()> {
        user_named(conn, &format!("u{}@example.com", rand::random::<u64>()))
    }

    fn user_named(conn: &Connection, email: &str) -> StoreResult<()> {
        conn.prepare_cached(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES (?1, 'U', 'x', 'member', 0, 0)",
        )?
        .execute([email])?;
        Ok(())
    }

    fn emails(store: &Store) -> Vec<String> {
        store
            .read_blocking(|conn| {
                let mut stmt = conn.prepare("SELECT email FROM users ORDER BY email")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .expect("read")
    }

    /// Holds the writer in a job until the returned sender is dropped, so that whatever is
    /// submitted meanwhile runs as one batch.
    fn hold_writer(store: &Store) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Mutex::new(held);
        drop(
            store
                .writer
                .submit(Touches::ContentOnly, 0, move |_conn| -> StoreResult<()> {
                    let _ = held.lock().map(|h| h.recv());
                    Ok(())
                })
                .expect("submit"),
        );
        release
    }

    /// Submits a job that inserts the user `email`, then fails when `fail` says so; counts its runs.
    fn counted(
        store: &Store,
        email: &'static str,
        fail: bool,
        runs: &Arc<std::sync::atomic::AtomicUsize>,
    ) -> tokio::sync::oneshot::Receiver<StoreResult<()>> {
        let runs = runs.clone();
        store
            .writer
            .submit(Touches::ContentOnly, 0, move |conn| {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                user_named(conn, email)?;
                if fail {
                    return Err(StoreError::Conflict(format!("{email} refused")));
                }
                Ok(())
            })
            .expect("submit")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_finds_the_disk_full_says_so_and_leaves_nothing_behind() {
        let (_dir, store) = store();
        // The writer's file may not grow (SQLite answers SQLITE_FULL, as on a full disk).
        store
            .write_content(|conn| {
                let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
                Ok(())
            })
            .await
            .expect("limited");
        let refused = store
            .write_content(move |conn| {
                conn.execute(
                    "INSERT INTO blobs (sha256, size, content) VALUES (?1, ?2, ?3)",
                    rusqlite::params![[7u8; 32].as_slice(), 1 << 20, vec![0u8; 1 << 20]],
                )?;
                Ok(())
            })
            .await;
        assert!(matches!(refused, Err(StoreError::DiskFull)), "{refused:?}");
        let answer = crate::http::error::ApiError::from(StoreError::DiskFull);
        assert_eq!(
            answer.status(),
            warp::http::StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(answer.code(), "storage_full");
        let stored: i64 = store
            .read_blocking(|conn| {
                Ok(conn.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))?)
            })
            .expect("read");
        assert_eq!(stored, 0);
        // The disk itself has room: the health check says so.
        assert!(store
            .health(std::time::Duration::from_secs(2))
            .await
            .disk
            .is_ok());
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_fails_after_writing_is_undone_alone_and_the_rest_of_its_batch_commits() {
        let (_dir, store) = store();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let release = hold_writer(&store);
        let a = counted(&store, "a@example.com", false, &runs);
        let b = counted(&store, "b@example.com", true, &runs);
        let c = counted(&store, "c@example.com", false, &runs);
        // Fails in its checks: the user exists already (after a), nothing of it is written.
        let dup = counted(&store, "a@example.com", false, &runs);
        drop(release);
        assert!(a.await.expect("answer").is_ok());
        let refused = b.await.expect("answer");
        assert!(
            matches!(&refused, Err(StoreError::Conflict(m)) if m == "b@example.com refused"),
            "{refused:?}"
        );
        assert!(c.await.expect("answer").is_ok());
        assert!(dup.await.expect("answer").is_err());
        assert_eq!(emails(&store), ["a@example.com", "c@example.com"]);
        // The batch ran without savepoints until b failed after its insert, then again with them.
        assert!(
            runs.load(std::sync::atomic::Ordering::SeqCst) > 4,
            "the batch was run a second time"
        );
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_that_fail_before_writing_never_make_their_batch_run_again() {
        let (_dir, store) = store();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let release = hold_writer(&store);
        let a = counted(&store, "a@example.com", false, &runs);
        let dup = counted(&store, "a@example.com", false, &runs);
        let c = counted(&store, "c@example.com", false, &runs);
        drop(release);
        assert!(a.await.expect("answer").is_ok());
        let refused = dup.await.expect("answer");
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("UNIQUE")),
            "{refused:?}"
        );
        assert!(c.await.expect("answer").is_ok());
        assert_eq!(emails(&store), ["a@example.com", "c@example.com"]);
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "each ran once"
        );
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_alone_that_fails_after_writing_leaves_nothing() {
        let (_dir, store) = store();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let refused = counted(&store, "b@example.com", true, &runs)
            .await
            .expect("answer");
        assert!(refused.is_err());
        assert!(emails(&store).is_empty());
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The writer goes on.
        counted(&store, "c@example.com", false, &runs)
            .await
            .expect("answer")
            .expect("written");
        assert_eq!(emails(&store), ["c@example.com"]);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_under_load_takes_recent_answers_and_never_queues_behind_them() {
        let (_dir, store) = store();
        let deadline = std::time::Duration::from_millis(1000);
        // Every read connection is taken (requests' reads in flight) and nothing has been read
        // yet: the health check's own read cannot get one in time.
        let taken: Vec<_> = (0..READERS)
            .map(|_| store.readers.get().expect("a connection"))
            .collect();
        let health = store.health(deadline).await;
        assert!(
            health
                .database
                .as_ref()
                .is_err_and(|e| e.contains("did not answer within 1000 ms")),
            "{:?}",
            health.database
        );
        drop(taken);
        // A read answered: for the deadline after it, the pool counts as answering even when all
        // its connections are busy.
        store.read(schema::check_version).await.expect("read");
        let taken: Vec<_> = (0..READERS)
            .map(|_| store.readers.get().expect("a connection"))
            .collect();
        assert_eq!(store.health(deadline).await.database, Ok(()));
        drop(taken);
        // The writer inside a transaction (begun within the deadline) with writes queued behind
        // it: alive, and the check does not wait for those writes.
        let release = hold_writer(&store);
        // Until the writer has taken the held job and begun its transaction.
        while store.writer.queued() > 0 || store.writer.running_for().is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let queued = store
            .writer
            .submit(Touches::ContentOnly, 0, content_write)
            .expect("submit");
        let health = store.health(deadline).await;
        assert_eq!(health.writer, Ok(()));
        assert_eq!(store.writer.queued(), 1, "the queued write has not run yet");
        drop(release);
        queued.await.expect("answer").expect("written");
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_answered_only_once_the_writer_is_out_of_its_transaction() {
        // A client that sends a health check on a write's answer, after another process took the
        // write lock, must find the writer idle (so the check sends its own transaction and the
        // lock shows), not still inside the answered one.
        let (_dir, store) = store();
        for _ in 0..200 {
            store
                .writer
                .submit(Touches::ContentOnly, 0, content_write)
                .expect("submit")
                .await
                .expect("answer")
                .expect("written");
            assert_eq!(store.writer.running_for(), None);
        }
        store.close().await;
    }

    #[test]
    fn the_writer_shows_it_is_alive_inside_a_recent_transaction_or_between_two_with_writes_waiting()
    {
        let deadline = std::time::Duration::from_secs(2);
        let ms = std::time::Duration::from_millis;
        // Inside a transaction: begun within the deadline, whatever waits; begun before, not.
        assert!(shows_alive(Some(ms(10)), Some(ms(5_000)), 0, deadline));
        assert!(shows_alive(Some(ms(1_999)), None, 3, deadline));
        assert!(!shows_alive(Some(ms(2_000)), Some(ms(1)), 3, deadline));
        // Between two: the last one ended within the deadline and writes are waiting.
        assert!(shows_alive(None, Some(ms(1)), 1, deadline));
        // Idle (nothing waits), or the last one ended too long ago, or none ever ran: the health
        // check sends a transaction of its own.
        assert!(!shows_alive(None, Some(ms(1)), 0, deadline));
        assert!(!shows_alive(None, Some(ms(2_000)), 5, deadline));
        assert!(!shows_alive(None, None, 5, deadline));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_another_process_checkpoints_this_one_never_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let store = Store::open_with(&path, Checkpoints::Elsewhere).expect("open store");
        // Enough writes for SQLite's automatic checkpoint (1,000 pages by default) and the
        // writer's WAL restart (4,000 frames) to have run, were they on.
        for _ in 0..100 {
            store
                .write_content(|conn| {
                    conn.execute(
                        "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                             VALUES (?1, 'U', ?2, 'member', 0, 0)",
                        rusqlite::params![
                            format!("u{}@example.com", rand::random::<u64>()),
                            "x".repeat(200_000)
                        ],
                    )?;
                    Ok(())
                })
                .await
                .expect("write");
        }
        let (frames, copied) = store.watch.wal_progress().expect("readable");
        assert!(frames > 4000, "{frames} frames");
        assert_eq!(copied, 0, "nothing was checkpointed");
        store.close().await;
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).map_or(0, |m| m.len());
        assert!(wal > 0, "closing did not truncate the WAL either");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn content_writes_keep_the_epoch_once_the_writer_has_accounted_for_them() {
        let (_dir, store) = store();
        let first = store
            .epoch()
            .await
            .expect("a fresh store vouches for its epoch");
        for _ in 0..20 {
            store.write_content(content_write).await.expect("write");
            assert_eq!(
                store.epoch().await,
                Some(first),
                "own content writes keep it"
            );
        }
        store.write(content_write).await.expect("identity write");
        let second = store.epoch().await.expect("vouched for again");
        assert_ne!(
            second, first,
            "a write touching identities starts a new epoch"
        );
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_that_sees_a_foreign_commit_waits_for_the_writer_and_gets_a_new_epoch() {
        let (dir, store) = store();
        let first = store.epoch().await.expect("vouched for");
        // Another process (the CLI) commits: the header moves and nobody in this process has
        // accounted for it. `epoch` asks the writer to look, waits for it, and comes back with a
        // new generation instead of `None` (which would make the handler read the database).
        let other = Connection::open(dir.path().join("t.db")).expect("second connection");
        content_write(&other).expect("foreign commit");
        assert_eq!(
            store.watch.epoch(),
            None,
            "the moved header is seen at once"
        );
        let after = store
            .epoch()
            .await
            .expect("the writer caught up while we waited");
        assert_ne!(after, first, "a foreign commit ends every cached identity");
        assert_eq!(
            store.epoch().await,
            Some(after),
            "and the new epoch is stable"
        );
        store.close().await;
    }
}
