//! The single writer: one thread owns the only writing connection of this process and runs write
//! jobs in batches. Each batch is one `BEGIN IMMEDIATE` transaction; each job inside it runs under
//! its own savepoint, so a job that fails is rolled back alone. Results are delivered only after the
//! batch has committed, so a caller never sees a write acknowledged that is not in the database.
//!
//! Why: SQLite admits one writer at a time. Many threads each opening their own write transaction
//! queue inside SQLite's busy handler, which sleeps in steps of up to 100 ms; one thread taking jobs
//! from a queue never waits on a lock it holds itself, and group commit turns many small writes into
//! one commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;

use super::error::{StoreError, StoreResult};

/// Most jobs in one transaction.
const MAX_BATCH: usize = 256;

type Deliver = Box<dyn FnOnce(StoreResult<()>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;

enum Message {
    Write(Job),
    /// Checkpoint the WAL into the main file, close the connection and stop; then answer.
    Close(tokio::sync::oneshot::Sender<()>),
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Message>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn start(conn: Connection) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel::<Message>();
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queue))?;
        Ok(Writer { jobs })
    }

    /// Queues `f` and returns a receiver for its result, delivered after commit.
    pub fn submit<T, F>(&self, f: F) -> StoreResult<tokio::sync::oneshot::Receiver<StoreResult<T>>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Task("a database write job panicked".into())));
            match outcome {
                Ok(value) => (
                    true,
                    Box::new(move |committed: StoreResult<()>| {
                        let _ = tx.send(committed.map(|()| value));
                    }) as Deliver,
                ),
                Err(e) => (
                    false,
                    Box::new(move |_committed: StoreResult<()>| {
                        let _ = tx.send(Err(e));
                    }) as Deliver,
                ),
            }
        });
        self.jobs
            .send(Message::Write(job))
            .map_err(|_| StoreError::WriterGone)?;
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

fn run(conn: Connection, queue: mpsc::Receiver<Message>) {
    let mut closing = None;
    while let Ok(first) = queue.recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Write(job) => batch.push(job),
                Message::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            run_batch(&conn, batch);
        }
        if closing.is_some() {
            break;
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        log::warn!("checkpointing the database on close failed: {e}");
    }
    drop(conn);
    log::debug!("database writer stopped");
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Dropping the jobs drops their result senders: each caller wakes up with an error.
        log::error!("starting a write transaction failed: {e}");
        return;
    }
    let mut deliveries = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            log::error!("starting a write savepoint failed: {e}");
            continue;
        }
        let (ok, deliver) = job(conn);
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            log::error!("ending a write savepoint failed: {e}");
        }
        deliveries.push(deliver);
    }
    let committed = conn.execute_batch("COMMIT").map_err(|e| {
        log::error!("committing a write batch failed: {e}");
        let _ = conn.execute_batch("ROLLBACK");
        e.to_string()
    });
    for deliver in deliveries {
        deliver(match &committed {
            Ok(()) => Ok(()),
            Err(msg) => Err(StoreError::Task(format!("commit failed: {msg}"))),
        });
    }
}
