//! Moving the WAL into the database file in the background. SQLite's automatic checkpoint runs
//! inside a commit, on the connection that commits: here that is the single writer, so every
//! thousand pages a write (and every write queued behind it) would wait for the copy and its
//! fsync. This thread, with its own connection, runs a PASSIVE checkpoint twenty times a second:
//! it copies (and syncs) what no reader still needs, never blocking a writer or a reader. When the
//! writer's automatic checkpoint then comes due, there is little or nothing left for it to copy,
//! and it restarts the WAL so the file stays small. (The automatic checkpoint stays on for that:
//! a background checkpoint alone never catches up with a steady stream of writes, and the WAL
//! would grow without bound.)

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

/// How often the WAL is copied into the database file.
const INTERVAL: Duration = Duration::from_millis(50);

/// The background checkpointer; `stop` ends it (also when dropped).
pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let conn = Connection::open(path).map_err(std::io::Error::other)?;
        super::schema::configure(&conn).map_err(std::io::Error::other)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &signal))?;
        Ok(Checkpointer {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(&self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
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

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let (flag, wake) = stop;
    let mut stopped = flag.lock().unwrap_or_else(|p| p.into_inner());
    while !*stopped {
        let (guard, _) = wake
            .wait_timeout(stopped, INTERVAL)
            .unwrap_or_else(|p| p.into_inner());
        stopped = guard;
        if *stopped {
            break;
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            log::warn!("background checkpoint failed: {e}");
        }
    }
}
