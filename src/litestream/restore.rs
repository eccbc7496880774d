//! Before the server opens the database: checking that the Litestream configuration replicates this
//! database, and restoring it from the replica when it is missing (a new machine), the newest copy
//! or the state at a given time.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::Litestream;

/// How often a Litestream command that takes its time is looked at.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// When the log first says that a Litestream command is still running; then twice as long each
/// time, up to `SAY_AT_MOST_EVERY`.
const FIRST_SAY_AFTER: Duration = Duration::from_secs(5);
const SAY_AT_MOST_EVERY: Duration = Duration::from_secs(60);

/// What `restore_if_missing` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// The database was there; nothing was restored.
    Present,
    /// The replica holds no copy yet: the server starts an empty database.
    NoReplica,
    /// The newest copy, or the state at the time asked for, was restored.
    Copy,
}

impl Litestream {
    /// Refuses a Litestream other than 0.5, which the server runs with 0.5's commands, flags and
    /// configuration: 0.3 fails on them and is restarted forever, replicating nothing while the
    /// server leaves the checkpoints to it. A version it cannot read is let through, with a word.
    /// (Run directly, not as `child`: a binary that is not there is then said as such.)
    pub fn check_version(&self) -> Result<(), String> {
        let output = self.run(
            {
                let mut command = Command::new(&self.bin);
                command.arg("version");
                command
            },
            "tell its version",
        )?;
        let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let mut parts = said.trim_start_matches('v').split('.');
        let number = |part: Option<&str>| part.and_then(|p| p.parse::<u32>().ok());
        match (number(parts.next()), number(parts.next())) {
            (Some(0), Some(5)) => Ok(()),
            (Some(_), Some(_)) => Err(format!(
                "Litestream 0.5 is needed (the server runs it with 0.5's commands and configuration); {} is {said}",
                self.bin.display()
            )),
            _ => {
                log::warn!(
                    "could not tell which Litestream {} is (it said {said:?}); the server needs 0.5",
                    self.bin.display()
                );
                Ok(())
            }
        }
    }

    /// Refuses a configuration that Litestream cannot read or that does not name the database (it
    /// would replicate something else, and the server would run without a copy).
    /// The path is compared with symbolic links resolved; Litestream is then given it as its
    /// configuration spells it.
    pub fn check_config(&mut self) -> Result<(), String> {
        let output = self.run(self.command("databases"), "read the configuration")?;
        let listed = String::from_utf8_lossy(&output.stdout);
        // Litestream prints a header line even for an empty list: nothing at all is another
        // program, not a configuration without this database.
        if listed.trim().is_empty() {
            return Err(format!(
                "{} printed nothing for `databases -config {}`; is it Litestream 0.5? (--litestream-bin)",
                self.bin.display(),
                self.config.display()
            ));
        }
        let spelt = listed
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .map(std::path::PathBuf::from)
            .find(|path| path == &self.db || super::absolute(path).is_ok_and(|p| p == self.db));
        if let Some(spelt) = spelt {
            self.listed = spelt;
            Ok(())
        } else {
            Err(format!(
                "the Litestream configuration {} does not replicate the database {} (its `dbs` list: {})",
                self.config.display(),
                self.db.display(),
                listed.lines().skip(1).collect::<Vec<_>>().join("; ")
            ))
        }
    }

    /// When the database file is missing, restores it from the replica: the newest copy, or the
    /// state at `at` (RFC 3339, e.g. `2026-12-06T08:00:00Z`). A time given for a database that
    /// exists is refused, so a restart with the same flags never rolls the database back.
    pub fn restore_if_missing(&self, at: Option<&str>) -> Result<Restored, String> {
        if self.db.exists() {
            return match at {
                None => Ok(Restored::Present),
                Some(_) => Err(format!(
                    "--restore-at restores into a missing database only, and {} exists; move it (with its -wal and -shm files) aside first",
                    self.db.display()
                )),
            };
        }
        log::info!(
            "no database at {}: restoring {} from the replica that {} names",
            self.db.display(),
            at.map_or("the newest copy".to_string(), |at| format!(
                "the state at {at}"
            )),
            self.config.display()
        );
        let mut command = self.command("restore");
        command.args(["-integrity-check", "quick"]);
        match at {
            Some(at) => {
                command.arg("-timestamp").arg(at);
            }
            None => {
                command.arg("-if-replica-exists");
            }
        }
        command.arg(&self.listed);
        self.run(command, "restore the database from its replica")?;
        if !self.db.exists() {
            return Ok(Restored::NoReplica);
        }
        // The database holds password hashes and key hashes: its owner's alone, as the server
        // makes it (SQLite gives the -wal and -shm files the same mode).
        std::fs::set_permissions(&self.db, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot make {} private: {e}", self.db.display()))?;
        Ok(Restored::Copy)
    }

    /// Runs a Litestream command to completion; its error output becomes the error, with what to
    /// do when Litestream's words do not say it.
    fn run(&self, mut command: Command, what: &str) -> Result<Output, String> {
        let cannot_run = |e: std::io::Error| {
            format!(
                "cannot run {} to {what}: {e} (install Litestream 0.5, or name it with --litestream-bin)",
                self.bin.display()
            )
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(cannot_run)?;
        let output = self.wait_out_loud(child, what).map_err(cannot_run)?;
        if output.status.success() {
            return Ok(output);
        }
        let said = String::from_utf8_lossy(&output.stderr);
        let said = if said.trim().is_empty() {
            String::from_utf8_lossy(&output.stdout)
        } else {
            said
        };
        let said = said.trim();
        Err(match super::advice(said) {
            Some(advice) => format!(
                "Litestream could not {what} ({}): {said}. {advice}",
                output.status
            ),
            None => format!("Litestream could not {what} ({}): {said}", output.status),
        })
    }

    /// Waits for `child` and collects its output. Litestream says nothing while it retries a
    /// replica it cannot reach (about 4 minutes for a refused S3 connection), so the log says that
    /// the server still waits, and for what: first after `FIRST_SAY_AFTER`, then less and less often.
    fn wait_out_loud(&self, mut child: Child, what: &str) -> std::io::Result<Output> {
        let stdout = read_on_a_thread(child.stdout.take());
        let stderr = read_on_a_thread(child.stderr.take());
        let began = Instant::now();
        let mut interval = FIRST_SAY_AFTER;
        let mut say_after = interval;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            thread::sleep(POLL_EVERY);
            let waited = began.elapsed();
            if waited >= say_after {
                log::warn!(
                    "still waiting for Litestream to {what}, {} s so far: it retries a replica it cannot reach for about 4 minutes before it gives up; check the replica's address and credentials in {}",
                    waited.as_secs(),
                    self.config.display()
                );
                interval = (interval * 2).min(SAY_AT_MOST_EVERY);
                say_after = waited + interval;
            }
        };
        let joined = |reader: Option<thread::JoinHandle<Vec<u8>>>| {
            reader.and_then(|r| r.join().ok()).unwrap_or_default()
        };
        Ok(Output {
            status,
            stdout: joined(stdout),
            stderr: joined(stderr),
        })
    }
}

/// Reads all of `stream` on a thread of its own, so a child with much to say never blocks on a
/// full pipe while it is waited for.
fn read_on_a_thread<R: Read + Send + 'static>(
    stream: Option<R>,
) -> Option<thread::JoinHandle<Vec<u8>>> {
    stream.map(|mut stream| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            bytes
        })
    })
}
