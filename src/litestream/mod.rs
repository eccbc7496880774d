//! Litestream beside the server (`serve --litestream CONFIG`): continuous replication of the
//! database to a file, SFTP or S3-compatible replica by the `litestream` binary, restored from on a
//! new machine before the server opens the database, and run as a supervised child so one command
//! still starts everything. While it runs the server checkpoints nothing (`store::Checkpoints`):
//! Litestream holds a read transaction between its own checkpoints and must be the only process
//! that moves the WAL into the database file.

pub mod restore;
pub mod supervisor;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::store::{schema, Checkpoints, Store};

pub use restore::Restored;
pub use supervisor::Supervisor;

/// Where Litestream is and what it is told: its binary, its configuration file, and the database
/// (absolute, as Litestream's configuration names it).
#[derive(Debug, Clone)]
pub struct Litestream {
    pub bin: PathBuf,
    pub config: PathBuf,
    pub db: PathBuf,
    /// The database as the configuration spells it (set by `check_config`).
    listed: PathBuf,
}

impl Litestream {
    /// Describes Litestream replicating `db` as `config` says; `db` is made absolute (it need not
    /// exist yet: a restore makes it).
    pub fn new(bin: &Path, config: &Path, db: &Path) -> Result<Litestream, String> {
        let db = absolute(db)
            .map_err(|e| format!("cannot tell where the database {} is: {e}", db.display()))?;
        Ok(Litestream {
            bin: bin.to_path_buf(),
            config: config.to_path_buf(),
            listed: db.clone(),
            db,
        })
    }

    /// Before the server opens the database: checks that `config` replicates `db` and restores a
    /// missing database from the replica (the newest copy, or the state at `restore_at`).
    pub fn prepare(
        bin: &Path,
        config: &Path,
        db: &Path,
        restore_at: Option<&str>,
    ) -> Result<Litestream, String> {
        let mut litestream = Litestream::new(bin, config, db)?;
        litestream.check_version()?;
        litestream.check_config()?;
        match litestream.restore_if_missing(restore_at)? {
            Restored::Present => {}
            // Also what a mistyped replica address looks like (Litestream makes the folder of a
            // file replica that is not there): said loudly, since a new machine expects a copy.
            Restored::NoReplica => log::warn!(
                "no database at {} and no copy in the replica that {} names: starting a new, empty one (with a new setup link). If a copy was expected there (a new machine), stop the server and check the replica's url or path in that file",
                litestream.db.display(),
                litestream.config.display()
            ),
            Restored::Copy => log::info!(
                "restored {} from its replica ({})",
                litestream.db.display(),
                restore_at.map_or("the newest copy".to_string(), |at| format!(
                    "the state at {at}"
                ))
            ),
        }
        Ok(litestream)
    }

    /// `litestream SUBCOMMAND -config CONFIG`, ready for more arguments, ended by the kernel if
    /// the server dies first (see `child`).
    fn command(&self, subcommand: &str) -> Command {
        let mut command = self.child();
        command.arg(subcommand).arg("-config").arg(&self.config);
        command
    }

    /// Litestream as a child that does not outlive the server: run through `setpriv --pdeathsig
    /// KILL` where it exists, so that a server killed (or stopped by a signal before it handles
    /// them, as during a restore) takes it along. A restore left running would write the database
    /// later, under a server started meanwhile.
    fn child(&self) -> Command {
        if Path::new(SETPRIV).exists() {
            let mut command = Command::new(SETPRIV);
            command.args(["--pdeathsig", "KILL", "--"]).arg(&self.bin);
            command
        } else {
            log::warn!("{SETPRIV} is missing: Litestream will outlive this server if it is killed");
            Command::new(&self.bin)
        }
    }
}

/// util-linux's `setpriv` (Debian: essential), which sets the parent-death signal and runs the
/// command, so that no `unsafe` pre-exec hook is needed here.
const SETPRIV: &str = "/usr/bin/setpriv";

/// Says what leaving checkpoints to Litestream means when the server does not run it, and notices
/// a database that Litestream has replicated (it leaves its `_litestream_seq` table) while the
/// server would checkpoint it itself: a warning, not a switch, since a Litestream that is gone would
/// leave the WAL growing for ever.
pub fn warn_about_checkpoints(store: &Store, checkpoints: Checkpoints, supervised: bool) {
    let replicated = store
        .read_blocking(schema::replicated_by_litestream)
        .unwrap_or(false);
    match checkpoints {
        Checkpoints::Elsewhere if !supervised => log::info!(
            "checkpoints are left to a Litestream running beside the server (--checkpoints litestream); without one the WAL grows without bound"
        ),
        Checkpoints::Here if replicated => log::warn!(
            "Litestream has replicated this database: if it runs beside the server, start the server with --checkpoints litestream (or let it run Litestream with --litestream), or the server's checkpoints will make Litestream take full snapshots"
        ),
        _ => {}
    }
}

/// What to do about a failure that Litestream reports in words that do not say it (`said`: its
/// error output or a line of its log); None for the others.
fn advice(said: &str) -> Option<&'static str> {
    // The AWS SDK inside Litestream 0.5 cannot apply a CA bundle from the environment to the
    // HTTP client Litestream gives it, whatever the bundle holds.
    said.contains("custom RootCAs").then_some(
        "Litestream's S3 client refuses the AWS_CA_BUNDLE environment variable beside a custom endpoint: start the server without it (the system's certificate store still applies)",
    )
}

/// `path` made absolute with its folder resolved (symbolic links and `..` gone), as Litestream
/// compares paths; the file itself need not exist.
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let path = std::path::absolute(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let folder = path.parent().unwrap_or(Path::new("/")).canonicalize()?;
    Ok(folder.join(name))
}
