//! Before the server opens the database: checking that the Litestream configuration replicates this
//! database, and restoring it from the replica when it is missing (a new machine), the newest copy
//! or the state at a given time.

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use super::Litestream;

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
    /// Refuses a configuration that Litestream cannot read or that does not name the database (it
    /// would replicate something else, and the server would run without a copy).
    /// The path is compared with symbolic links resolved; Litestream is then given it as its
    /// configuration spells it.
    pub fn check_config(&mut self) -> Result<(), String> {
        let output = self.run(self.command("databases"), "read the configuration")?;
        let listed = String::from_utf8_lossy(&output.stdout);
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

    /// Runs a Litestream command to completion; its error output becomes the error.
    fn run(&self, mut command: std::process::Command, what: &str) -> Result<Output, String> {
        let output = command.output().map_err(|e| {
            format!(
                "cannot run {} to {what}: {e} (install Litestream 0.5, or name it with --litestream-bin)",
                self.bin.display()
            )
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = if said.trim().is_empty() {
                String::from_utf8_lossy(&output.stdout)
            } else {
                said
            };
            Err(format!(
                "Litestream could not {what} ({}): {}",
                output.status,
                said.trim()
            ))
        }
    }
}
