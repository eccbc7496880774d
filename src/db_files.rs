//! The files that go with a database file `X`: SQLite's `X-wal`, `X-shm` and `X-journal`, and the
//! server's own `X.link-key` and `X.server-lock`. Named here once, for whoever opens, measures or
//! protects them.

use std::path::{Path, PathBuf};

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

    fn suffix(self) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

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
