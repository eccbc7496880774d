//! `litestream replicate` as a supervised child of the server: started once the database is open,
//! started again (after 1 s, doubling up to a minute) if it ever exits on its own, told to stop
//! (SIGTERM: it makes a last sync) after the server has closed the database, and killed by the
//! kernel if the server dies first (`setpriv --pdeathsig`), so that a restarted server never finds a
//! second Litestream replicating to the same place. Its log lines go to the server's log; its debug
//! lines are read for one thing, each file it uploads to the replica, which is the "last
//! successful replication" of the metrics.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::Litestream;
use crate::clock;

/// The first wait before starting Litestream again, and the longest.
const RESTART_FIRST: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(60);
/// How long Litestream gets for its last sync when told to stop (its own `shutdown-sync-timeout`
/// is 30 s by default), before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(40);

/// What the supervisor knows about replication, for the metrics.
#[derive(Debug, Default)]
pub struct ReplicationStatus {
    /// Whether a Litestream process is running now.
    pub running: AtomicBool,
    /// When Litestream last reported a file uploaded to the replica (ms since the epoch; 0: never).
    pub last_upload_ms: AtomicI64,
    /// Files uploaded to the replica.
    pub uploads: AtomicU64,
    /// Error lines Litestream logged (failed syncs, unreachable replica...).
    pub errors: AtomicU64,
    /// Times Litestream exited on its own and was started again.
    pub restarts: AtomicU64,
}

/// The supervised Litestream; `stop` ends it.
pub struct Supervisor {
    shared: Arc<Shared>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

struct Shared {
    litestream: Litestream,
    status: Arc<ReplicationStatus>,
    stopping: AtomicBool,
    /// The running child, and whether it was told to stop. Signals are sent and the child is
    /// reaped under this lock, so a signal never reaches a process that reused its id.
    child: Mutex<Option<(Child, bool)>>,
    /// Wakes the wait between restarts when stopping.
    wake: (Mutex<()>, Condvar),
}

impl Supervisor {
    /// Starts `litestream replicate` for `litestream`'s configuration, from a thread of its own
    /// that lives until `stop` (the kernel's parent-death signal follows the thread that started
    /// the child).
    pub fn start(litestream: Litestream) -> std::io::Result<Supervisor> {
        let shared = Arc::new(Shared {
            litestream,
            status: Arc::new(ReplicationStatus::default()),
            stopping: AtomicBool::new(false),
            child: Mutex::new(None),
            wake: (Mutex::new(()), Condvar::new()),
        });
        let running = shared.clone();
        let thread = thread::Builder::new()
            .name("litestream".into())
            .spawn(move || supervise(&running))?;
        Ok(Supervisor {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// What is known about replication.
    pub fn status(&self) -> Arc<ReplicationStatus> {
        self.shared.status.clone()
    }

    /// Tells Litestream to stop (it syncs what is left first) and waits for it, killing it after
    /// `STOP_GRACE`. Call after the database is closed.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.1.notify_all();
        let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let asked = Instant::now();
        let mut killed = false;
        // Until the supervising thread has seen its child exit (a child started meanwhile is
        // told too).
        while !thread.is_finished() {
            if asked.elapsed() < STOP_GRACE {
                signal(&self.shared, rustix::process::Signal::TERM);
            } else if !killed {
                log::warn!("Litestream did not stop within {STOP_GRACE:?}; killing it");
                signal(&self.shared, rustix::process::Signal::KILL);
                killed = true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = thread.join();
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to the running child; SIGTERM only once per child (Litestream's last sync
/// starts at the first).
fn signal(shared: &Shared, signal: rustix::process::Signal) {
    let mut child = shared.child.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((child, told)) = child.as_mut() {
        if signal == rustix::process::Signal::TERM && *told {
            return;
        }
        *told = true;
        let _ = rustix::process::kill_process(rustix::process::Pid::from_child(child), signal);
    }
}

fn supervise(shared: &Shared) {
    let mut wait = RESTART_FIRST;
    while !shared.stopping.load(Ordering::SeqCst) {
        let started = Instant::now();
        match spawn(&shared.litestream) {
            Ok(child) => {
                let status = run(shared, child);
                if shared.stopping.load(Ordering::SeqCst) {
                    log::info!("Litestream stopped ({status})");
                    break;
                }
                log::error!(
                    "Litestream exited on its own ({status}); replication is paused, starting it again in {wait:?}"
                );
            }
            Err(e) => log::error!(
                "cannot start {}: {e}; replication is paused, trying again in {wait:?}",
                shared.litestream.bin.display()
            ),
        }
        shared.status.restarts.fetch_add(1, Ordering::Relaxed);
        let (lock, wake) = &shared.wake;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _ = wake
            .wait_timeout_while(guard, wait, |_| !shared.stopping.load(Ordering::SeqCst))
            .unwrap_or_else(|p| p.into_inner());
        // A Litestream that ran for a while before it failed gets the short wait again.
        wait = if started.elapsed() > RESTART_MAX {
            RESTART_FIRST
        } else {
            (wait * 2).min(RESTART_MAX)
        };
    }
}

/// `litestream replicate -config CONFIG -log-level debug`, ended by the kernel if the server dies
/// first.
fn spawn(litestream: &Litestream) -> std::io::Result<Child> {
    litestream
        .command("replicate")
        .args(["-log-level", "debug"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// How often the supervising thread looks whether its child has exited.
const REAP_EVERY: Duration = Duration::from_millis(50);

/// Follows `child` until it exits, passing its log on; returns how it exited.
fn run(shared: &Shared, mut child: Child) -> String {
    shared.status.running.store(true, Ordering::SeqCst);
    log::info!(
        "Litestream started (pid {}) replicating {} as {} says",
        child.id(),
        shared.litestream.db.display(),
        shared.litestream.config.display()
    );
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let status = shared.status.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                pass_on(&line, &status);
            }
        })
    })
    .collect();
    *shared.child.lock().unwrap_or_else(|p| p.into_inner()) = Some((child, false));
    let exit = loop {
        {
            let mut held = shared.child.lock().unwrap_or_else(|p| p.into_inner());
            let outcome = match held.as_mut() {
                Some((child, _)) => child.try_wait(),
                None => Err(std::io::Error::other("the child was lost")),
            };
            match outcome {
                Ok(None) => {}
                Ok(Some(status)) => {
                    *held = None;
                    break status.to_string();
                }
                Err(e) => {
                    *held = None;
                    break format!("cannot wait for it: {e}");
                }
            }
        }
        thread::sleep(REAP_EVERY);
    };
    for reader in readers {
        let _ = reader.join();
    }
    shared.status.running.store(false, Ordering::SeqCst);
    exit
}

/// One line of Litestream's log (text or JSON format): an upload is counted, debug lines are
/// dropped, the rest goes to the server's log at its level, without Litestream's own timestamp.
fn pass_on(line: &str, status: &ReplicationStatus) {
    if line.contains("ltx file uploaded") {
        status
            .last_upload_ms
            .store(clock::now_ms(), Ordering::Relaxed);
        status.uploads.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let level = |name: &str| {
        line.contains(&format!("level={name}")) || line.contains(&format!("\"level\":\"{name}\""))
    };
    let text = match line.split_once(' ') {
        Some((stamp, rest)) if stamp.starts_with("time=") => rest,
        _ => line,
    };
    if level("DEBUG") {
        log::trace!(target: "litestream", "{text}");
    } else if level("ERROR") || text.starts_with("Error: ") {
        // The second form: what Litestream prints when it gives up and exits.
        status.errors.fetch_add(1, Ordering::Relaxed);
        log::error!(target: "litestream", "{text}");
        if let Some(advice) = super::advice(text) {
            log::error!(target: "litestream", "{advice}");
        }
    } else if level("WARN") {
        log::warn!(target: "litestream", "{text}");
    } else {
        log::info!(target: "litestream", "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_counted_and_levels_kept() {
        let status = ReplicationStatus::default();
        pass_on(
            r#"time=2026-12-06T07:05:37.4Z level=DEBUG msg="ltx file uploaded" level=0 minTXID=0000000000000002"#,
            &status,
        );
        pass_on(
            r#"{"time":"2026-12-06T07:05:37.4Z","level":"DEBUG","msg":"ltx file uploaded"}"#,
            &status,
        );
        assert_eq!(status.uploads.load(Ordering::Relaxed), 2);
        assert!(status.last_upload_ms.load(Ordering::Relaxed) > 0);
        pass_on(
            r#"time=2026-12-06T07:05:37.4Z level=ERROR msg="monitor error" error="s3: no such host""#,
            &status,
        );
        pass_on(
            r#"time=2026-12-06T07:05:37.4Z level=INFO msg="initialized db""#,
            &status,
        );
        assert_eq!(status.errors.load(Ordering::Relaxed), 1);
        // What Litestream prints when it gives up and exits is an error too.
        pass_on(
            r#"Error: cannot open store: initialize replica client for "/srv/review.db": s3: cannot load aws config: unable to add custom RootCAs HTTPClient, has no WithTransportOptions, *http.Client"#,
            &status,
        );
        assert_eq!(status.errors.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_failure_litestream_words_obscurely_comes_with_what_to_do() {
        let advice = super::super::advice(
            "Error: get v0.3.x time bounds: s3: cannot load aws config: unable to add custom RootCAs HTTPClient, has no WithTransportOptions, *http.Client",
        )
        .expect("advice for the CA bundle");
        assert!(advice.contains("AWS_CA_BUNDLE"), "{advice}");
        assert_eq!(super::super::advice("Error: s3: no such host"), None);
    }
}
