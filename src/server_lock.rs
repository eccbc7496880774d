//! One server per database: a second `serve` on a database already served would clean up the
//! stored contents of the first one's uploads in progress (they belong to no version yet) and
//! break them. The server holds an exclusive lock on `<db>.server-lock` while it runs (released by
//! the kernel however the process ends); the admin commands and Litestream do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::db_files::Companion;

/// The lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
    path: std::path::PathBuf,
}

impl ServerLock {
    /// Takes the lock for `db`, or says why not: another server holds it, or the file cannot be
    /// made.
    pub fn take(db: &Path) -> Result<ServerLock, String> {
        let path = Companion::ServerLock.of(db);
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        // Private like the database's own files.
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(|e| {
            crate::db_files::folder_problem(db)
                .unwrap_or_else(|| format!("cannot open the lock file {}: {e}", path.display()))
        })?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(format!(
                "another server is already running on {} (it holds {}); stop it first, or give \
                 this one another --db",
                db.display(),
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    /// Gives the lock back and removes its file: for a server that stops before it served (its
    /// database was refused), so that nothing of it is left beside a file that is not its own.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a server runs on `db` now (holds its lock). Takes the lock for a moment when none
/// does; makes no file.
pub fn held_elsewhere(db: &Path) -> bool {
    OpenOptions::new()
        .write(true)
        .open(Companion::ServerLock.of(db))
        .is_ok_and(|file| matches!(file.try_lock(), Err(TryLockError::WouldBlock)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_database_is_refused_until_the_first_is_dropped() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let db = dir.path().join("a.db");
        let first = ServerLock::take(&db)?;
        let refused = ServerLock::take(&db).expect_err("a second lock");
        assert!(
            refused.contains("another server is already running"),
            "{refused}"
        );
        assert!(held_elsewhere(&db));
        ServerLock::take(&dir.path().join("b.db"))?;
        drop(first);
        assert!(!held_elsewhere(&db), "and looking did not take it");
        ServerLock::take(&db)?;
        assert!(!held_elsewhere(&dir.path().join("never-served.db")));
        assert!(!dir.path().join("never-served.db.server-lock").exists());
        Ok(())
    }
}
