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

    /// `litestream SUBCOMMAND -config CONFIG`, ready for more arguments.
    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(&self.bin);
        command.arg(subcommand).arg("-config").arg(&self.config);
        command
    }
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
