//! Moving the WAL into the database file in the background. SQLite's automatic checkpoint runs
//! inside a commit, on the connection that commits: here that is the single writer, so every
//! thousand pages a write (and every write queued behind it) would wait for the copy and its
//! fsync. This thread, with its own connection, runs a PASSIVE checkpoint twenty times a second,
//! and at once, again and again, while it is making headway on a backlog or when the writer
//! nudges it: it copies (and syncs) what no reader still needs, never blocking a writer or a
//! reader. The writer restarts the WAL itself (`writer::maintain_wal`) once what is left to copy
//! is small, so the file stays small: a background checkpoint alone never catches up with a
//! steady stream of writes, and the WAL would grow without bound.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

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
            .spawn(move || run(&conn, &signal))?;
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
            Ok((frames, copied)) => progress = copied > 0 && copied < frames,
            Err(e) => {
                log::warn!("background checkpoint failed: {e}");
                progress = false;
            }
        }
    }
}
