//! Whether the file at the database's path is still the one the server opened. An operator may
//! delete it, or put another file in its place (a restore copied over it), while the server runs:
//! the server's connections go on with the file they opened, and what they write is lost at the
//! next start. The health check reports it, and the writer refuses writes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The database file opened (device and inode), and where it was.
#[derive(Debug, Clone)]
pub struct OpenedFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl OpenedFile {
    /// The file at `path` now (call right after opening it).
    pub fn at(path: &Path) -> OpenedFile {
        OpenedFile {
            path: path.to_path_buf(),
            identity: identity(path),
        }
    }

    /// Ok while the file at the path is the one opened; else what happened, for the operator.
    pub fn check(&self) -> Result<(), String> {
        let Some(opened) = self.identity else {
            return Ok(());
        };
        match identity(&self.path) {
            Some(now) if now == opened => Ok(()),
            now => Err(format!(
                "the database file {} was {} while the server runs: what it writes now is lost \
                 when it restarts; stop it and put the database back (see Backups)",
                self.path.display(),
                if now.is_none() { "deleted" } else { "replaced" }
            )),
        }
    }
}

/// `OpenedFile::check` for the writer's every batch: at most every `every` while the file is in
/// place (it costs a `stat`), and at every batch once it is not (writes are refused then, and
/// resume as soon as the file is put back).
pub struct Recheck {
    file: OpenedFile,
    every: Duration,
    found_at: Option<Instant>,
}

impl Recheck {
    pub fn new(file: OpenedFile, every: Duration) -> Recheck {
        Recheck {
            file,
            every,
            found_at: None,
        }
    }

    /// Whether the file at the path is still the one opened.
    pub fn still_there(&mut self) -> bool {
        if self.found_at.is_some_and(|at| at.elapsed() < self.every) {
            return true;
        }
        let there = self.file.check().is_ok();
        self.found_at = there.then(Instant::now);
        there
    }
}
