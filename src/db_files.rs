//! The files that go with a database file `X`: SQLite's `X-wal`, `X-shm` and `X-journal`, and the
//! server's own `X.link-key` and `X.server-lock`. Named here once, for whoever opens, measures or
//! protects them.

use std::path::{Path, PathBuf};

/// Why no database can be made at `db`: its folder is missing, or is not a folder.
pub fn folder_problem(db: &Path) -> Option<String> {
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty())?;
    if folder.is_dir() {
        return None;
    }
    Some(if folder.exists() {
        format!(
            "{} is not a folder, so no database can be made in it; give another --db",
            folder.display()
        )
    } else {
        format!(
            "the folder {} for the database does not exist; create it, or give another --db",
            folder.display()
        )
    })
}

/// A file that goes with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Companion {
    /// SQLite's write-ahead log.
    Wal,
    /// SQLite's WAL-index, read by the identity cache.
    Shm,
    /// SQLite's rollback journal (while a connection is not in WAL mode).
    Journal,
    /// The share-link signing key (`link_key`).
    LinkKey,
    /// The lock a running server holds (`server_lock`).
    ServerLock,
}

impl Companion {
    pub const ALL: [Companion; 5] = [
        Companion::Wal,
        Companion::Shm,
        Companion::Journal,
        Companion::LinkKey,
        Companion::ServerLock,
    ];

    /// What its name adds to the database's.
    pub fn suffix(self) -> &'static str {
        match self {
            Companion::Wal => "-wal",
            Companion::Shm => "-shm",
            Companion::Journal => "-journal",
            Companion::LinkKey => ".link-key",
            Companion::ServerLock => ".server-lock",
        }
    }

    /// Where this file of the database `db` is.
    pub fn of(self, db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(self.suffix());
        PathBuf::from(name)
    }
}

/// The database file a path names, through any symbolic links (of the file or of its folders), so
/// that two paths to one file get the same companion files: above all the server lock, which keeps
/// a second server off the file. A file that does not exist yet is found through its folder.
pub fn real_path(db: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(db) {
        return real;
    }
    let (Some(dir), Some(name)) = (db.parent(), db.file_name()) else {
        return db.to_path_buf();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(dir)
        .map(|dir| dir.join(name))
        .unwrap_or_else(|_| db.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_reached_through_a_link_is_the_file_it_links_to() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let real = dir.path().join("real.db");
        std::fs::write(&real, b"")?;
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link)?;
        let real = std::fs::canonicalize(&real)?;
        assert_eq!(real_path(&link), real);
        assert_eq!(
            Companion::ServerLock.of(&real_path(&link)),
            Companion::ServerLock.of(&real)
        );
        // Not made yet: found through its folder, itself reached through a link.
        let folder_link = dir.path().join("folder");
        std::os::unix::fs::symlink(dir.path(), &folder_link)?;
        assert_eq!(
            real_path(&folder_link.join("new.db")),
            std::fs::canonicalize(dir.path())?.join("new.db")
        );
        Ok(())
    }

    #[test]
    fn each_file_is_the_database_path_with_its_suffix() {
        let db = Path::new("/srv/review/review.db");
        let names: Vec<PathBuf> = Companion::ALL.iter().map(|c| c.of(db)).collect();
        assert_eq!(
            names,
            [
                "/srv/review/review.db-wal",
                "/srv/review/review.db-shm",
                "/srv/review/review.db-journal",
                "/srv/review/review.db.link-key",
                "/srv/review/review.db.server-lock",
            ]
            .map(PathBuf::from)
        );
    }
}
