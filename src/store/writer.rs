//! The single writer: one thread owns the only writing connection of this process and runs write
//! jobs in batches. Each batch is one `BEGIN IMMEDIATE` transaction. A job that fails must leave
//! nothing behind: most fail in their checks, before they change a row, and then there is nothing
//! to undo; a job that fails after changing rows has the transaction rolled back and the batch run
//! again with each job under its own savepoint (jobs are `Fn`, so they can run twice), which rolls
//! back the failed one alone. Savepoints are not the default because they cost: each copies every
//! page its job touches into the statement journal, a fifth of the writer's time per comment.
//! Results are delivered only after the batch has committed, so a caller never sees a write
//! acknowledged that is not in the database.
//!
//! Why: SQLite admits one writer at a time. Many threads each opening their own write transaction
//! queue inside SQLite's busy handler, which sleeps in steps of up to 100 ms; one thread taking jobs
//! from a queue never waits on a lock it holds itself, and group commit turns many small writes into
//! one commit.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::audit;
use super::changes::{ChangeWatch, ForeignTracker};
use super::checkpoint::Checkpointer;
use super::error::{StoreError, StoreResult};
use super::feed::{self, Feed};
use super::opened_file::Recheck;
use super::stamp::Stamp;
use crate::histogram::Histogram;

/// What the writer reports: to the metrics, and to the health check (how long it has been busy).
#[derive(Debug)]
pub struct WriterStats {
    /// Writes submitted and not yet run (content jobs included while they wait their turn).
    queued: AtomicU64,
    /// Time per transaction, commit included.
    pub commits: Histogram,
    busy: Busy,
}

impl WriterStats {
    /// Writes waiting for the writer now.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

/// Most jobs in one transaction.
const MAX_BATCH: usize = 256;
/// How often an idle writer looks whether another process committed (an admin command revoking a
/// key), so that open event streams and feedback waits hear of it within about this long.
const IDLE_LOOK: std::time::Duration = std::time::Duration::from_secs(1);
/// Frames in the WAL from which the writer restarts it (SQLite's automatic checkpoint, which
/// this replaces, ran at 1,000; 4,000 pages are 16 MB).
const RESTART_FROM: u32 = 4000;
/// Frames not yet copied by the background checkpointer that the writer copies itself to restart
/// the WAL (2 MB: a millisecond or two); with more left it nudges the background one instead and
/// looks again after its next batch, so it never stalls on a large copy.
const RESTART_RESIDUE: u32 = 512;
/// Frames past which the writer copies whatever is left (256 MB): the bound on the WAL.
const RESTART_ANYWAY: u32 = 65536;

/// A queued write: runs on the writer's connection (again, when its batch is run a second time),
/// then hands the outcome of its last run to whoever waits for it.
trait WriteJob: Send {
    /// Runs the job's writes; whether they succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Whether it may change who a key or session is.
    fn touches(&self) -> Touches;
    /// Sends the outcome of the last run, given how the transaction ended.
    fn deliver(self: Box<Self>, ended: StoreResult<()>);
}

type Job = Box<dyn WriteJob>;

/// A job as submitted: the closure, the outcome of its last run, and where to send it.
struct Submitted<F, T, E> {
    f: F,
    touches: Touches,
    outcome: Option<Result<T, E>>,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> WriteJob for Submitted<F, T, E>
where
    F: Fn(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let f = &self.f;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
            Err(StoreError::Task("a database write job panicked".into()).into())
        });
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn touches(&self) -> Touches {
        self.touches
    }

    fn deliver(self: Box<Self>, ended: StoreResult<()>) {
        let answer = match (self.outcome, ended) {
            (Some(Err(refused)), _) => Err(refused),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e.into()),
            (None, Ok(())) => Err(StoreError::Task("the write did not run".into()).into()),
        };
        let _ = self.reply.send(answer);
    }
}

/// Whether a write may change who a key or session is (keys, sessions, agents, accounts). Only
/// such writes end the epoch under which identities are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touches {
    Identities,
    ContentOnly,
}

enum Message {
    /// A job, what it touches, and the bytes of content it writes.
    Write(Job, Touches, u64),
    /// Account for commits made by other processes (a request saw an unexplained change).
    Sync,
    /// Checkpoint the WAL into the main file, close the connection and stop; then answer.
    Close(tokio::sync::oneshot::Sender<()>),
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Message>,
    sync_pending: Arc<AtomicBool>,
    stats: Arc<WriterStats>,
}

/// Since when the writer has been running the transaction in hand, if it is running one, and
/// when it last ended one.
#[derive(Debug)]
pub struct Busy {
    /// Empty while the writer waits for work.
    since: Stamp,
    ended: Stamp,
}

impl Busy {
    fn new() -> Busy {
        let epoch = Instant::now();
        Busy {
            since: Stamp::new(epoch),
            ended: Stamp::new(epoch),
        }
    }

    fn start(&self) {
        self.since.set();
    }

    fn stop(&self) {
        self.ended.set();
        self.since.clear();
    }
}

impl Writer {
    /// Starts the writer thread on `conn`, keeping `watch` up to date with its commits and
    /// announcing committed artifact events on `feed`.
    pub fn start(
        conn: Connection,
        watch: Arc<ChangeWatch>,
        feed: Arc<Feed>,
        checkpointer: Option<Arc<Checkpointer>>,
        file: Recheck,
    ) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel::<Message>();
        let sync_pending = Arc::new(AtomicBool::new(false));
        let pending = sync_pending.clone();
        let stats = Arc::new(WriterStats {
            queued: AtomicU64::new(0),
            commits: Histogram::default(),
            busy: Busy::new(),
        });
        let counting = stats.clone();
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                run(
                    conn,
                    queue,
                    Surroundings {
                        watch: &watch,
                        feed: &feed,
                        checkpointer: checkpointer.as_deref(),
                    },
                    &pending,
                    &counting,
                    file,
                )
            })?;
        Ok(Writer {
            jobs,
            sync_pending,
            stats,
        })
    }

    /// The writer's queue and commit times.
    pub fn stats(&self) -> Arc<WriterStats> {
        self.stats.clone()
    }

    /// How long the writer has been running its current transaction; `None` when it is idle.
    pub fn running_for(&self) -> Option<Duration> {
        self.stats.busy.since.ago()
    }

    /// How long ago the writer ended its last transaction; `None` before the first.
    pub fn ended_ago(&self) -> Option<Duration> {
        self.stats.busy.ended.ago()
    }

    /// Writes submitted and not yet run.
    pub fn queued(&self) -> u64 {
        self.stats.queued()
    }

    /// Asks the writer to account for other processes' commits (once, however many ask).
    pub fn request_sync(&self) {
        if !self.sync_pending.swap(true, Ordering::SeqCst) {
            let _ = self.jobs.send(Message::Sync);
        }
    }

    /// Queues `f`, which writes about `bytes` of content, and returns a receiver for its result,
    /// delivered after commit. `f` may run twice (see the module's notes): it must not consume
    /// what it captures, and whatever it does besides writing rows must be safe to repeat.
    pub fn submit<T, E, F>(
        &self,
        touches: Touches,
        bytes: u64,
        f: F,
    ) -> StoreResult<tokio::sync::oneshot::Receiver<Result<T, E>>>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(Submitted {
            f,
            touches,
            outcome: None,
            reply,
        });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.jobs
            .send(Message::Write(job, touches, bytes))
            .map_err(|_| {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                StoreError::WriterGone
            })?;
        Ok(rx)
    }

    /// Finishes queued writes, checkpoints the WAL and closes the connection.
    pub async fn close(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.jobs.send(Message::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// What the writer tells of its commits, and looks after besides its connection.
struct Surroundings<'a> {
    watch: &'a ChangeWatch,
    feed: &'a Feed,
    checkpointer: Option<&'a Checkpointer>,
}

fn run(
    conn: Connection,
    queue: mpsc::Receiver<Message>,
    around: Surroundings<'_>,
    sync_pending: &AtomicBool,
    stats: &WriterStats,
    mut file: Recheck,
) {
    let Surroundings {
        watch,
        feed,
        checkpointer,
    } = around;
    let busy = &stats.busy;
    let mut tracker = ForeignTracker::default();
    watch.catch_up(&conn, &mut tracker, true);
    // Accounts for the header and tells listeners when another process committed: open event
    // streams and feedback waits then check their key again.
    let look = |tracker: &mut ForeignTracker, identities: bool| {
        if watch.catch_up(&conn, tracker, identities) || identities {
            feed.announce(Vec::new(), true);
        }
    };
    let mut closing = None;
    // Jobs that write content (an upload's files, `bytes` > 0) wait here: each runs alone, in its
    // own transaction, one between two batches of everything else, so a write queued behind
    // uploads waits for at most one file, however many uploads are storing theirs.
    let mut heavy: VecDeque<(Job, Touches)> = VecDeque::new();
    // Runs a batch in one transaction, accounts for it, announces its events and looks after the
    // WAL; shown as busy until its COMMIT (or its failure) and timed for the metrics.
    let mut timed_commit = |batch: Vec<Job>, identities: bool, tracker: &mut ForeignTracker| {
        // Into a file that is no longer the database's, a write would be lost: none is made.
        if !file.still_there() {
            for job in batch {
                job.deliver(Err(StoreError::FileReplaced));
            }
            return;
        }
        busy.start();
        let began = Instant::now();
        // Account for the commit before waking anyone: the answers trigger the next requests,
        // which should find the identity cache's epoch already settled, and a health check sent
        // on an answer should find the writer out of its transaction (looking in before the
        // writer marked it ended, it took the writer for busy and missed a write lock another
        // process took meanwhile).
        let mut foreign = false;
        let committed = || {
            foreign = watch.catch_up(&conn, tracker, identities);
            busy.stop();
        };
        if let Some(announced) = run_batch(&conn, batch, committed) {
            feed.announce(announced, identities || foreign);
        }
        if let Some(checkpointer) = checkpointer {
            maintain_wal(&conn, watch, checkpointer);
        }
        stats.commits.record(began.elapsed());
        busy.stop();
    };
    loop {
        // Block only when nothing at all is waiting; idle, look now and then whether another
        // process (an admin command) committed, which nothing else would notice meanwhile.
        let first = if heavy.is_empty() {
            match queue.recv_timeout(IDLE_LOOK) {
                Ok(message) => Some(message),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if watch.epoch().is_none() {
                        look(&mut tracker, false);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            queue.try_recv().ok()
        };
        let mut batch = Vec::new();
        let mut identities = false;
        let mut sync = false;
        let mut next = first;
        while let Some(message) = next.take() {
            // A content job counts as queued until it runs.
            if matches!(message, Message::Write(_, _, 0)) {
                stats.queued.fetch_sub(1, Ordering::Relaxed);
            }
            match message {
                Message::Write(job, touches, bytes) if bytes > 0 => heavy.push_back((job, touches)),
                Message::Write(job, touches, _) => {
                    identities |= touches == Touches::Identities;
                    batch.push(job);
                }
                Message::Sync => sync = true,
                Message::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if sync {
            sync_pending.store(false, Ordering::SeqCst);
        }
        if !batch.is_empty() {
            timed_commit(batch, identities, &mut tracker);
        } else if sync {
            look(&mut tracker, identities);
        }
        // One content job, then the others' writes again (all of them when closing).
        while let Some((job, touches)) = heavy.pop_front() {
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            timed_commit(vec![job], touches == Touches::Identities, &mut tracker);
            if closing.is_none() {
                break;
            }
        }
        if closing.is_some() {
            break;
        }
    }
    // Another process (Litestream) checkpoints: a TRUNCATE here would wait for its read lock.
    if checkpointer.is_some() {
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            log::warn!("checkpointing the database on close failed: {e}");
        }
    }
    drop(conn);
    log::debug!("database writer stopped");
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Runs the jobs in one transaction; `committed` runs right after COMMIT, before the results are
/// delivered. Returns the artifacts whose events were committed, or None when nothing was.
fn run_batch(
    conn: &Connection,
    mut batch: Vec<Job>,
    committed_hook: impl FnOnce(),
) -> Option<Vec<i64>> {
    let fail = |batch: Vec<Job>, what: &str, e: rusqlite::Error| {
        if matches!(StoreError::of_condition(&e), Some(StoreError::Busy)) {
            // Another process's doing, and each request says so: not the writer's failure.
            log::warn!("{what} waited too long for another process's lock: {e}");
        } else {
            log::error!("{what} failed: {e}");
        }
        let _ = exec(conn, "ROLLBACK");
        for job in batch {
            job.deliver(Err(batch_failed(what, &e)));
        }
        None
    };
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        return fail(batch, "starting a write transaction", e);
    }
    let noted = match run_jobs(conn, &mut batch, false) {
        Ok(Some(noted)) => noted,
        // A job failed after changing rows: the transaction holds part of its writes. Alone, it
        // is undone by rolling back; among others, the batch runs again, each job under its own
        // savepoint.
        Ok(None) => {
            if let Err(e) = exec(conn, "ROLLBACK") {
                return fail(batch, "rolling back a write batch", e);
            }
            if batch.len() == 1 {
                // Nothing was committed; the job's own refusal is its answer.
                for job in batch {
                    job.deliver(Ok(()));
                }
                return None;
            }
            if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
                return fail(batch, "starting a write transaction", e);
            }
            match run_jobs(conn, &mut batch, true) {
                Ok(noted) => noted.unwrap_or_default(),
                Err(e) => return fail(batch, "a write savepoint", e),
            }
        }
        Err(e) => return fail(batch, "a write savepoint", e),
    };
    let committed = exec(conn, "COMMIT");
    if let Err(e) = &committed {
        log::error!("committing a write batch failed: {e}");
        let _ = exec(conn, "ROLLBACK");
    }
    committed_hook();
    let announced = committed.is_ok().then_some(noted);
    for job in batch {
        job.deliver(match &committed {
            Ok(()) => Ok(()),
            Err(e) => Err(batch_failed("commit", e)),
        });
    }
    announced
}

/// What each job of a batch is told when `what` (starting it, a savepoint, its commit) failed: a
/// full disk or a lock held too long by another process as such, anything else as the writer's
/// own failure.
fn batch_failed(what: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::of_condition(e).unwrap_or_else(|| StoreError::Task(format!("{what} failed: {e}")))
}

/// Runs each job of a batch inside its transaction, under a savepoint of its own when `savepoints`
/// says so. Returns the artifacts whose events the successful jobs noted; None when, without
/// savepoints, a job failed after changing rows (SQLite undoes a failed statement itself, so a job
/// that fails before any of its statements changed a row leaves nothing behind).
fn run_jobs(
    conn: &Connection,
    batch: &mut [Job],
    savepoints: bool,
) -> rusqlite::Result<Option<Vec<i64>>> {
    let mut noted = Vec::new();
    // Who was found able to act holds until a write that may change it (see `audit::still_acting`).
    audit::forget_acting();
    for job in batch.iter_mut() {
        if savepoints {
            exec(conn, "SAVEPOINT job")?;
        }
        feed::take_noted();
        let changes = conn.total_changes();
        let ok = job.run(conn);
        // What was found before it still held while it ran; after it, perhaps no longer.
        if job.touches() == Touches::Identities {
            audit::forget_acting();
        }
        let job_noted = feed::take_noted();
        if ok {
            noted.extend(job_noted);
        }
        if savepoints {
            if !ok {
                exec(conn, "ROLLBACK TO job")?;
            }
            exec(conn, "RELEASE job")?;
        } else if !ok && conn.total_changes() != changes {
            return Ok(None);
        }
    }
    Ok(Some(noted))
}

/// Keeps the WAL small without making writes wait for large copies: once it holds
/// `RESTART_FROM` frames, the writer checkpoints it (so the next transaction starts it over) when
/// the background checkpointer has left little to copy, and otherwise nudges that one. Runs after
/// a batch's answers were delivered. Without a readable WAL-index, SQLite's automatic checkpoint
/// does the job (`Store::open` leaves it on then).
fn maintain_wal(conn: &Connection, watch: &ChangeWatch, checkpointer: &Checkpointer) {
    let Some((frames, copied)) = watch.wal_progress() else {
        return;
    };
    if frames < RESTART_FROM {
        return;
    }
    if frames.saturating_sub(copied) <= RESTART_RESIDUE || frames >= RESTART_ANYWAY {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            log::warn!("checkpointing the WAL failed: {e}");
        }
    } else {
        checkpointer.nudge();
    }
}

/// Runs a transaction-control statement through the statement cache (they run several times per
/// batch; parsing them each time showed up in profiles).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
