//! Moving the WAL into the database file in the background. SQLite's automatic checkpoint runs
//! inside a commit, on the connection that commits: here that is the single writer, so every
//! thousand pages a write (and every write queued behind it) would wait for the copy and its
//! fsync. This thread, with its own connection, runs a PASSIVE checkpoint twenty times a second,
//! and at once, again and again, while it is making headway on a backlog or when the writer
//! nudges it: it copies (and syncs) what no reader still needs, never blocking a writer or a
//! reader. The writer restarts the WAL itself (`writer::maintain_wal`) once what is left to copy
//! is small, so the file stays small: a background checkpoint alone never catches up with a
//! steady stream of writes, and the WAL would grow without bound.
//!
//! The thread runs at the bulk threads' lower CPU priority: when uploads and comments share a busy
//! machine, the copy of the uploads' megabytes waits for the requests rather than the other way
//! round (four uploads and 64 connections of comments on two cores, eight paired runs: comment
//! p99 38-53 ms instead of 41-90, 7-29% more comments written). Uploads already wait for the copy
//! to keep up (see `Store::stage`), so they slow down instead; the WAL stays bounded as before.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use crate::priority;

/// How often the WAL is copied into the database file.
const INTERVAL: Duration = Duration::from_millis(50);

/// The background checkpointer; `stop` ends it (also when dropped).
pub struct Checkpointer {
    /// (stopped, nudged), and the condition that wakes the thread.
    stop: Arc<(Mutex<(bool, bool)>, Condvar)>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let conn = Connection::open(path).map_err(std::io::Error::other)?;
        super::schema::configure(&conn).map_err(std::io::Error::other)?;
        let stop = Arc::new((Mutex::new((false, false)), Condvar::new()));
        let signal = stop.clone();
        let thread = thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                priority::lower_this_thread("the background checkpointer");
                run(&conn, &signal)
            })?;
        Ok(Checkpointer {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Has the thread run a checkpoint now rather than at its next tick.
    pub fn nudge(&self) {
        let (flags, wake) = &*self.stop;
        flags.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        wake.notify_all();
    }

    /// Stops the thread and waits for it.
    pub fn stop(&self) {
        let (flags, wake) = &*self.stop;
        flags.lock().unwrap_or_else(|p| p.into_inner()).0 = true;
        wake.notify_all();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(conn: &Connection, stop: &(Mutex<(bool, bool)>, Condvar)) {
    let (flags, wake) = stop;
    let mut progress = false;
    // Failures are said once, then once a minute with how many there were (a full disk makes
    // every pass fail, and uploads nudge the checkpointer hundreds of times a second).
    let mut failing = FailureLog::default();
    loop {
        {
            let mut state = flags.lock().unwrap_or_else(|p| p.into_inner());
            // Straight on while the last pass made headway on a backlog; else wait for the tick
            // or a nudge.
            if !progress && !state.0 && !state.1 {
                state = wake
                    .wait_timeout(state, INTERVAL)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            if state.0 {
                break;
            }
            state.1 = false;
        }
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            // (frames in the WAL, frames copied): more to copy, and this pass copied something.
            Ok((frames, copied)) => {
                if let Some(line) = failing.ended() {
                    log::info!("{line}");
                }
                progress = copied > 0 && copied < frames;
            }
            Err(e) => {
                if let Some(line) = failing.failed(&e, std::time::Instant::now()) {
                    log::warn!("{line}");
                }
                progress = false;
            }
        }
    }
}

/// How often a failure that goes on is said again.
const FAILURE_REPEAT: Duration = Duration::from_secs(60);

/// The checkpointer's failures, as the log says them: the first at once, then a count a minute.
#[derive(Default)]
struct FailureLog {
    /// When a failure was last said, and how many came since.
    said: Option<(std::time::Instant, u64)>,
}

impl FailureLog {
    /// What to log of a failure at `now`, if anything.
    fn failed(&mut self, e: &rusqlite::Error, now: std::time::Instant) -> Option<String> {
        match &mut self.said {
            Some((at, since)) if now.duration_since(*at) < FAILURE_REPEAT => {
                *since += 1;
                None
            }
            Some((at, since)) => {
                let line = format!(
                    "background checkpoint failed {} more times in the last {}s: {e}",
                    *since + 1,
                    FAILURE_REPEAT.as_secs()
                );
                *at = now;
                *since = 0;
                Some(line)
            }
            None => {
                self.said = Some((now, 0));
                Some(format!("background checkpoint failed: {e}"))
            }
        }
    }

    /// What to log once a pass works again, if passes had failed.
    fn ended(&mut self) -> Option<String> {
        self.said.take().map(|(_, since)| {
            format!("background checkpoints work again ({since} more failed before)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_that_goes_on_is_logged_once_then_once_a_minute() {
        let mut log = FailureLog::default();
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let start = std::time::Instant::now();
        assert!(log.failed(&full, start).is_some(), "the first is said");
        for i in 1..=300 {
            let at = start + Duration::from_millis(i * 3);
            assert_eq!(log.failed(&full, at), None, "not every pass");
        }
        let again = log
            .failed(&full, start + FAILURE_REPEAT)
            .expect("a minute on, a count");
        assert!(again.contains("failed 301 more times"), "{again}");
        assert!(log.ended().is_some_and(|l| l.contains("work again")));
        assert_eq!(log.ended(), None);
    }

    /// The niceness of each of this process's threads called `name`.
    fn niceness_of(name: &str) -> Vec<i32> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task")
            .expect("list threads")
            .flatten()
        {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // After "pid (comm) ", the fields from the third on; the nineteenth is the niceness.
            let rest = stat
                .rsplit_once(") ")
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            if let Some(nice) = rest.split_whitespace().nth(16).and_then(|n| n.parse().ok()) {
                found.push(nice);
            }
        }
        found
    }

    #[test]
    fn the_checkpointer_runs_at_the_background_priority() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.db");
        Connection::open(&path)
            .and_then(|c| c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);"))
            .expect("a WAL database");
        let checkpointer = Checkpointer::start(&path).expect("start");
        // The thread lowers itself first thing; other tests' checkpointers may be about too.
        let mut seen = Vec::new();
        for _ in 0..500 {
            seen = niceness_of("sqlite-checkpoi");
            if seen.contains(&priority::BACKGROUND_NICE) {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        checkpointer.stop();
        assert!(
            seen.contains(&priority::BACKGROUND_NICE),
            "checkpointer threads' niceness: {seen:?}"
        );
    }
}
