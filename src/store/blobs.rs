//! File contents, stored once per distinct SHA-256, and the files of each version pointing at them.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{StoreError, StoreResult};

/// A file to attach to a version; its bytes are read through the callback only when its content
/// is not stored yet.
pub struct NewFile<'a> {
    pub path: &'a str,
    pub size: u64,
    pub sha256: [u8; 32],
    pub content_type: &'a str,
}

/// A file of a version as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFile {
    pub path: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: Vec<u8>,
}

impl VersionFile {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<VersionFile> {
        Ok(VersionFile {
            path: r.get(0)?,
            content_type: r.get(1)?,
            size: r.get(2)?,
            sha256: r.get(3)?,
        })
    }
}

/// Attaches `files` to the version, storing each distinct content once. `read(i)` supplies the
/// bytes of `files[i]`; it is called only for contents not already in the database. Returns how
/// many new contents were stored.
pub fn attach(
    conn: &Connection,
    version_id: i64,
    files: &[NewFile<'_>],
    read: &mut dyn FnMut(usize) -> Result<Vec<u8>, String>,
) -> StoreResult<usize> {
    let mut stored = 0;
    for (i, file) in files.iter().enumerate() {
        let existing: Option<i64> = conn
            .prepare_cached("SELECT id FROM blobs WHERE sha256 = ?1")?
            .query_row([&file.sha256[..]], |r| r.get(0))
            .optional()?;
        let blob_id = match existing {
            Some(id) => id,
            None => {
                let bytes = read(i).map_err(StoreError::Task)?;
                conn.prepare_cached(
                    "INSERT INTO blobs (sha256, size, content) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![&file.sha256[..], bytes.len() as i64, bytes])?;
                stored += 1;
                conn.last_insert_rowid()
            }
        };
        conn.prepare_cached(
            "INSERT INTO version_files (version_id, path, blob_id, content_type) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![version_id, file.path, blob_id, file.content_type])?;
    }
    Ok(stored)
}

/// The files of a version, by path.
pub fn list(conn: &Connection, version_id: i64) -> StoreResult<Vec<VersionFile>> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.path, f.content_type, b.size, b.sha256
           FROM version_files f JOIN blobs b ON b.id = f.blob_id
          WHERE f.version_id = ?1 ORDER BY f.path",
    )?;
    let rows = stmt.query_map([version_id], VersionFile::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether the version has a file at `path`.
pub fn exists(conn: &Connection, version_id: i64, path: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM version_files WHERE version_id = ?1 AND path = ?2")?
        .query_row(params![version_id, path], |_| Ok(()))
        .optional()?
        .is_some())
}

/// A file of a version, without its bytes.
pub fn describe(
    conn: &Connection,
    version_id: i64,
    path: &str,
) -> StoreResult<Option<VersionFile>> {
    Ok(conn
        .prepare_cached(
            "SELECT f.path, f.content_type, b.size, b.sha256
               FROM version_files f JOIN blobs b ON b.id = f.blob_id
              WHERE f.version_id = ?1 AND f.path = ?2",
        )?
        .query_row(params![version_id, path], VersionFile::from_row)
        .optional()?)
}

/// The stored bytes with this SHA-256, if any.
pub fn content(conn: &Connection, sha256: &[u8]) -> StoreResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT content FROM blobs WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?)
}

/// One file with its bytes.
pub fn read(
    conn: &Connection,
    version_id: i64,
    path: &str,
) -> StoreResult<Option<(VersionFile, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT f.path, f.content_type, b.size, b.sha256, b.content
               FROM version_files f JOIN blobs b ON b.id = f.blob_id
              WHERE f.version_id = ?1 AND f.path = ?2",
        )?
        .query_row(params![version_id, path], |r| {
            Ok((VersionFile::from_row(r)?, r.get(4)?))
        })
        .optional()?)
}
