//! File contents, stored once per distinct SHA-256, and the files of each version pointing at them.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{StoreError, StoreResult};
use super::staging::PART_BYTES;

/// A file to attach to a version; its content is stored already (`staging`).
pub struct NewFile<'a> {
    pub path: &'a str,
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

/// Attaches `files` to the version. Their contents were stored (each distinct one once) and
/// claimed ahead of this write (`staging`), so it only inserts rows.
pub fn attach(conn: &Connection, version_id: i64, files: &[NewFile<'_>]) -> StoreResult<()> {
    let mut find = conn.prepare_cached("SELECT id FROM blobs WHERE sha256 = ?1")?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO version_files (version_id, path, blob_id, content_type) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for file in files {
        let blob_id: i64 = find
            .query_row([&file.sha256[..]], |r| r.get(0))
            .optional()?
            .ok_or_else(|| {
                StoreError::Task(format!(
                    "the content of {} was not stored ahead of its version",
                    file.path
                ))
            })?;
        insert.execute(params![version_id, file.path, blob_id, file.content_type])?;
    }
    Ok(())
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

/// Whether any version of the artifact (deleted ones too: their comments stay) has a file at `path`.
pub fn in_any_version(conn: &Connection, artifact_id: i64, path: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM version_files f JOIN versions v ON v.id = f.version_id
              WHERE v.artifact_id = ?1 AND f.path = ?2 LIMIT 1",
        )?
        .query_row(params![artifact_id, path], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether the version has a file at `path`.
pub fn exists(conn: &Connection, version_id: i64, path: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM version_files WHERE version_id = ?1 AND path = ?2")?
        .query_row(params![version_id, path], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether version `number` of the artifact and version `version_id` hold the same bytes at
/// `path` (false when either lacks it).
pub fn same_file(
    conn: &Connection,
    artifact_id: i64,
    number: i64,
    version_id: i64,
    path: &str,
) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce((SELECT f.blob_id FROM version_files f JOIN versions v ON v.id = f.version_id
                               WHERE v.artifact_id = ?1 AND v.number = ?2 AND f.path = ?4)
                           = (SELECT blob_id FROM version_files WHERE version_id = ?3 AND path = ?4), 0)",
        )?
        .query_row(params![artifact_id, number, version_id, path], |r| r.get(0))?)
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
    let found = conn
        .prepare_cached("SELECT size, content FROM blobs WHERE sha256 = ?1")?
        .query_row([sha256], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .optional()?;
    match found {
        Some((size, content)) => whole(conn, sha256, size, content),
        None => Ok(None),
    }
}

/// `len` bytes from `offset` of the content with this SHA-256 (of `size` bytes), read without
/// loading the rest (SQLite's incremental blob reading, in the part that holds them); `None` when
/// the content is gone. A slice never spans two parts: `len` is cut at the part's end.
pub fn slice(
    conn: &Connection,
    sha256: &[u8],
    size: u64,
    offset: u64,
    len: u64,
) -> StoreResult<Option<Vec<u8>>> {
    let Some((row, inline)) = conn
        .prepare_cached("SELECT id, length(content) FROM blobs WHERE sha256 = ?1")?
        .query_row([sha256], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .optional()?
    else {
        return Ok(None);
    };
    let (table, column, row, start, available) = if u64::try_from(inline) == Ok(size) {
        ("blobs", "content", row, offset, size.saturating_sub(offset))
    } else {
        let part = PART_BYTES as u64;
        let Some(row) = conn
            .prepare_cached("SELECT id FROM blob_parts WHERE sha256 = ?1 AND seq = ?2")?
            .query_row(
                params![sha256, i64::try_from(offset / part).unwrap_or(i64::MAX)],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
        else {
            return Ok(None);
        };
        let start = offset % part;
        ("blob_parts", "data", row, start, part - start)
    };
    let blob = conn.blob_open(rusqlite::MAIN_DB, table, column, row, true)?;
    let wanted = len
        .min(available)
        .min((blob.len() as u64).saturating_sub(start));
    let mut bytes = vec![0; usize::try_from(wanted).unwrap_or(0)];
    blob.read_at_exact(&mut bytes, usize::try_from(start).unwrap_or(usize::MAX))?;
    Ok(Some(bytes))
}

/// One file with its bytes.
pub fn read(
    conn: &Connection,
    version_id: i64,
    path: &str,
) -> StoreResult<Option<(VersionFile, Vec<u8>)>> {
    let found = conn
        .prepare_cached(
            "SELECT f.path, f.content_type, b.size, b.sha256, b.content
               FROM version_files f JOIN blobs b ON b.id = f.blob_id
              WHERE f.version_id = ?1 AND f.path = ?2",
        )?
        .query_row(params![version_id, path], |r| {
            Ok((VersionFile::from_row(r)?, r.get::<_, Vec<u8>>(4)?))
        })
        .optional()?;
    let Some((file, content)) = found else {
        return Ok(None);
    };
    Ok(whole(conn, &file.sha256, file.size, content)?.map(|bytes| (file, bytes)))
}

/// The bytes of a content whose `blobs` row holds `size` and `content`: `content` itself, or,
/// when the content is stored in parts (see `staging`), the parts put together. `None` when the
/// parts are not all there: the content was removed between the two reads (only a content no
/// version uses is ever removed).
fn whole(
    conn: &Connection,
    sha256: &[u8],
    size: i64,
    content: Vec<u8>,
) -> StoreResult<Option<Vec<u8>>> {
    if i64::try_from(content.len()) == Ok(size) {
        return Ok(Some(content));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut parts =
        conn.prepare_cached("SELECT data FROM blob_parts WHERE sha256 = ?1 ORDER BY seq")?;
    let mut rows = parts.query([sha256])?;
    while let Some(row) = rows.next()? {
        bytes.extend_from_slice(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
    }
    Ok((i64::try_from(bytes.len()) == Ok(size)).then_some(bytes))
}
