//! What can go wrong in the store, in terms the layers above can act on.

/// A store failure. `NotFound` and `Conflict` are the caller's business; the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// The change breaks a rule that can only be checked inside the transaction (the last active
    /// version, a comment on a version that just stopped being the latest). `code` is stable.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The write is not allowed, for a reason only the transaction sees (a share link that stopped
    /// taking comments while the request was under way). `code` is stable.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// A name that must be unique is taken (ignoring case); `existing_id` is the holder's id.
    #[error("{message}")]
    Duplicate {
        code: &'static str,
        message: String,
        existing_id: i64,
    },
    #[error("the database was written by a newer Artifact Review (schema version {found}); this binary knows schema version {supported} at most")]
    NewerSchema { found: i64, supported: i64 },
    #[error("this file is the SQLite database of something else: it holds {objects} {} but no Artifact Review schema, and it was left as it is (check --db)", if *objects == 1 { "table or other object" } else { "tables or other objects" })]
    ForeignDatabase { objects: i64 },
    /// The database file has other names (hard links): SQLite keeps the write-ahead log and its
    /// index by name, so two names of one file in use at once corrupt it.
    #[error("the database file has {links} names (hard links, as `cp -l` or `cp -al` snapshots make); SQLite keeps its write-ahead log by name, so two names of one file in use at once lose writes. Serve a copy made with `artifact-review backup` (or, while nothing runs, a `cp` of the file together with its -wal file, which holds the latest writes), and remove the other names")]
    HardLinked { links: u64 },
    /// The database path names a folder.
    #[error(
        "{path} is a folder; give the database file's path, such as {path}/artifact-review.db"
    )]
    Folder { path: String },
    /// The database file was deleted or replaced under the running server: the write was not made
    /// (it would be lost at the next start).
    #[error("the database file was deleted or replaced while the server runs")]
    FileReplaced,
    /// Another process held the database's write lock for longer than the busy timeout (an admin
    /// command, a backup, Litestream's checkpoint barrier): the write was not made; a retry may
    /// succeed.
    #[error("another process held the database's write lock for too long")]
    Busy,
    /// The key or session the write was asked with was revoked, expired or ended (or its agent
    /// deleted, or its account disabled) while the request was under way: the write was not made.
    /// `code` is the 401 code authentication gives for it.
    #[error("{message}")]
    NoLongerActing { code: &'static str, message: String },
    /// The disk holding the database is full: the write was not made.
    #[error("the disk holding the database is full")]
    DiskFull,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("database task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Random(#[from] crate::secrets::RandomError),
}

impl StoreError {
    /// The conditions of the machine rather than of the request that SQLite reports: a full disk,
    /// a lock another process held past the busy timeout. None for anything else.
    pub fn of_condition(e: &rusqlite::Error) -> Option<StoreError> {
        match e.sqlite_error_code()? {
            rusqlite::ErrorCode::DiskFull => Some(StoreError::DiskFull),
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                Some(StoreError::Busy)
            }
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let Some(condition) = StoreError::of_condition(&e) {
            return condition;
        }
        match &e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(msg.clone().unwrap_or_else(|| "constraint violated".into()))
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
