//! An upload's contents stored ahead of the version that will use them, one file per write, so
//! the writer never holds a transaction for a whole archive (a 245 MB ZIP made every other write
//! wait 1.9 s). A file larger than `PART_BYTES` is stored in parts, one write each (`blob_parts`),
//! so not even one large file holds the writer for long: its `blobs` row comes with the last part,
//! and until then nothing can read or reuse the content. Until its version is published the upload
//! *claims* each content it needs, so that another upload that fails meanwhile does not remove it;
//! an upload that fails or is abandoned releases its claims, and a content (or the parts of one)
//! that nothing claims and no version uses is removed then. Two uploads storing the same large
//! content at once write each part once between them. Claims live in memory, touched only by write
//! jobs (one thread); after a crash, whatever no version uses is removed when the server starts
//! (`remove_unused`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::{StoreError, StoreResult};

/// A content hash.
pub type Sha256 = [u8; 32];

/// Who claims which contents.
#[derive(Debug, Default)]
pub struct Claims {
    next_upload: AtomicU64,
    held: Mutex<HashMap<Sha256, HashSet<u64>>>,
}

impl Claims {
    /// An id for a new upload's claims.
    pub fn new_upload(&self) -> u64 {
        self.next_upload.fetch_add(1, Ordering::Relaxed)
    }

    fn add(&self, sha256: Sha256, upload: u64) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(sha256)
            .or_default()
            .insert(upload);
    }

    /// Whether any upload claims `sha256`.
    fn holds(&self, sha256: &Sha256) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(sha256)
    }

    /// Drops `upload`'s claim on `sha256`; whether anyone else still claims it.
    fn drop_claim(&self, sha256: &Sha256, upload: u64) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let Some(uploads) = held.get_mut(sha256) else {
            return false;
        };
        uploads.remove(&upload);
        if uploads.is_empty() {
            held.remove(sha256);
            false
        } else {
            true
        }
    }

    /// Contents claimed now (for tests and the log).
    pub fn count(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Claims, for `upload`, each of `hashes` that is stored already; returns the ones that are not
/// (to be stored with `stage`).
pub fn claim(
    conn: &Connection,
    claims: &Claims,
    upload: u64,
    hashes: &[Sha256],
) -> StoreResult<Vec<Sha256>> {
    let mut missing = Vec::new();
    for sha256 in hashes {
        if stored(conn, sha256)? {
            claims.add(*sha256, upload);
        } else {
            missing.push(*sha256);
        }
    }
    Ok(missing)
}

/// The size of a part of a large content: a write of 1 MiB takes the writer a few milliseconds.
pub const PART_BYTES: usize = 1 << 20;

/// How many writes storing `size` bytes takes: one per part, one for a content that fits in one.
pub fn parts(size: usize) -> usize {
    size.div_ceil(PART_BYTES).max(1)
}

/// Where part `seq` of a content of `size` bytes lies in it (empty past its last part).
pub fn part_range(size: usize, seq: usize) -> std::ops::Range<usize> {
    let start = seq.saturating_mul(PART_BYTES).min(size);
    start..size.min(start + PART_BYTES)
}

/// Stores part `seq` of the content `bytes` (all of it when it fits in one part) for `upload`,
/// and claims it. Returns whether the content is now whole in `blobs`: after its last part, or
/// at once when another upload has stored it meanwhile (the remaining parts are then not needed).
pub fn stage(
    conn: &Connection,
    claims: &Claims,
    upload: u64,
    sha256: Sha256,
    bytes: &[u8],
    seq: usize,
) -> StoreResult<bool> {
    claims.add(sha256, upload);
    if stored(conn, &sha256)? {
        return Ok(true);
    }
    let count = parts(bytes.len());
    if count == 1 {
        insert_blob(conn, &sha256, bytes.len(), bytes)?;
        return Ok(true);
    }
    let part = bytes
        .get(part_range(bytes.len(), seq))
        .filter(|part| !part.is_empty())
        .ok_or_else(|| {
            StoreError::Task(format!(
                "part {seq} of a content in {count} parts was asked for"
            ))
        })?;
    conn.prepare_cached(
        "INSERT INTO blob_parts (sha256, seq, data) VALUES (?1, ?2, ?3)
             ON CONFLICT (sha256, seq) DO NOTHING",
    )?
    .execute(params![&sha256[..], seq as i64, part])?;
    if seq + 1 < count {
        return Ok(false);
    }
    // The last part: the parts were written in order, by this upload or another one storing the
    // same bytes, and none can have been removed while this upload claimed them.
    let written: i64 = conn
        .prepare_cached("SELECT count(*) FROM blob_parts WHERE sha256 = ?1")?
        .query_row([&sha256[..]], |r| r.get(0))?;
    if written != count as i64 {
        return Err(StoreError::Task(format!(
            "a content in {count} parts has {written} of them stored"
        )));
    }
    insert_blob(conn, &sha256, bytes.len(), &[])?;
    Ok(true)
}

/// Whether the content is whole in `blobs`.
fn stored(conn: &Connection, sha256: &Sha256) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM blobs WHERE sha256 = ?1")?
        .query_row([&sha256[..]], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The `blobs` row of a content of `size` bytes, holding `content` (the bytes, or nothing when
/// they are in parts).
fn insert_blob(conn: &Connection, sha256: &Sha256, size: usize, content: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO blobs (sha256, size, content) VALUES (?1, ?2, ?3) ON CONFLICT (sha256) DO NOTHING",
    )?
    .execute(params![&sha256[..], size as i64, content])?;
    Ok(())
}

/// What removing a content that no version uses took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removed {
    /// Its `blobs` row (and its parts, when it had some).
    Whole,
    /// Parts of it that were never finished into a `blobs` row.
    Unfinished,
    Nothing,
}

/// Removes the content `sha256` if no version uses it: whole, or the parts of it never finished.
/// Its claims are the caller's to have checked.
fn remove_unused_content(conn: &Connection, sha256: &Sha256) -> StoreResult<Removed> {
    let whole = conn
        .prepare_cached(
            "DELETE FROM blobs WHERE sha256 = ?1
                AND NOT EXISTS (SELECT 1 FROM version_files f WHERE f.blob_id = blobs.id)",
        )?
        .execute([&sha256[..]])?;
    let parts = conn
        .prepare_cached(
            "DELETE FROM blob_parts WHERE sha256 = ?1
                AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = ?1)",
        )?
        .execute([&sha256[..]])?;
    Ok(match (whole, parts) {
        (0, 0) => Removed::Nothing,
        (0, _) => Removed::Unfinished,
        _ => Removed::Whole,
    })
}

/// Removes the content `sha256` when no version uses it and no upload claims it (an upload that
/// found it stored will use it); returns whether it did.
pub fn remove_if_unused(conn: &Connection, claims: &Claims, sha256: &Sha256) -> StoreResult<bool> {
    if claims.holds(sha256) {
        return Ok(false);
    }
    Ok(remove_unused_content(conn, sha256)? == Removed::Whole)
}

/// Gives up `upload`'s claims on `hashes`, removing each content that no one else claims and no
/// version uses, whole or in parts not all written yet; returns how many were removed.
pub fn release(
    conn: &Connection,
    claims: &Claims,
    upload: u64,
    hashes: &[Sha256],
) -> StoreResult<usize> {
    let mut removed = 0;
    for sha256 in hashes {
        if !claims.drop_claim(sha256, upload)
            && remove_unused_content(conn, sha256)? != Removed::Nothing
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes every content no version uses, and the parts of contents never finished (what uploads
/// interrupted by a crash left). Only when no upload is in progress: when the server starts.
/// Returns how many contents were removed.
pub fn remove_unused(conn: &Connection) -> StoreResult<usize> {
    let whole = conn.execute(
        "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM version_files f WHERE f.blob_id = blobs.id)",
        [],
    )?;
    let unfinished: i64 = conn.query_row(
        "SELECT count(DISTINCT sha256) FROM blob_parts p
          WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = p.sha256)",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "DELETE FROM blob_parts
          WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = blob_parts.sha256)",
        [],
    )?;
    Ok(whole + usize::try_from(unfinished).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        crate::store::schema::in_memory()
    }

    fn blobs(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .expect("count")
    }

    fn parts_stored(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM blob_parts", [], |r| r.get(0))
            .expect("count")
    }

    /// Two and a half parts of bytes that differ from part to part, and their hash.
    fn large() -> (Vec<u8>, Sha256) {
        use sha2::Digest;
        let bytes: Vec<u8> = (0..PART_BYTES * 5 / 2)
            .map(|i| (i % 251) as u8 ^ (i / PART_BYTES) as u8)
            .collect();
        let sha256 = sha2::Sha256::digest(&bytes).into();
        (bytes, sha256)
    }

    #[test]
    fn a_large_content_is_stored_in_parts_and_can_be_read_or_reused_only_once_whole(
    ) -> StoreResult<()> {
        let conn = db();
        let claims = Claims::default();
        let (a, b) = (claims.new_upload(), claims.new_upload());
        let (bytes, x) = large();
        assert_eq!(parts(bytes.len()), 3);
        assert_eq!(
            (parts(0), parts(1), parts(PART_BYTES), parts(PART_BYTES + 1)),
            (1, 1, 1, 2)
        );
        assert_eq!(part_range(bytes.len(), 2), 2 * PART_BYTES..bytes.len());
        assert!(
            part_range(bytes.len(), 3).is_empty(),
            "nothing past the last part"
        );
        assert!(!stage(&conn, &claims, a, x, &bytes, 0)?);
        assert!(!stage(&conn, &claims, a, x, &bytes, 1)?);
        assert_eq!((blobs(&conn), parts_stored(&conn)), (0, 2));
        assert_eq!(
            super::super::blobs::content(&conn, &x)?,
            None,
            "not readable yet"
        );
        assert_eq!(claim(&conn, &claims, b, &[x])?, vec![x], "not reusable yet");
        assert!(
            stage(&conn, &claims, a, x, &bytes, 2)?,
            "whole after the last part"
        );
        assert_eq!((blobs(&conn), parts_stored(&conn)), (1, 3));
        let (size, content): (i64, Vec<u8>) =
            conn.query_row("SELECT size, content FROM blobs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        assert_eq!(
            (size, content.len()),
            (bytes.len() as i64, 0),
            "the bytes are in the parts"
        );
        assert_eq!(
            super::super::blobs::content(&conn, &x)?.as_deref(),
            Some(&bytes[..])
        );
        assert_eq!(claim(&conn, &claims, b, &[x])?, Vec::<Sha256>::new());
        Ok(())
    }

    #[test]
    fn two_uploads_storing_the_same_large_content_write_each_part_once() -> StoreResult<()> {
        let conn = db();
        let claims = Claims::default();
        let (a, b, c) = (
            claims.new_upload(),
            claims.new_upload(),
            claims.new_upload(),
        );
        let (bytes, x) = large();
        for seq in 0..2 {
            assert!(!stage(&conn, &claims, a, x, &bytes, seq)?);
            assert!(!stage(&conn, &claims, b, x, &bytes, seq)?);
        }
        assert!(stage(&conn, &claims, a, x, &bytes, 2)?);
        assert!(stage(&conn, &claims, b, x, &bytes, 2)?);
        assert!(
            stage(&conn, &claims, c, x, &bytes, 0)?,
            "a third upload finds it whole at its first part"
        );
        assert_eq!((blobs(&conn), parts_stored(&conn)), (1, 3));
        assert_eq!(
            super::super::blobs::content(&conn, &x)?.as_deref(),
            Some(&bytes[..])
        );
        Ok(())
    }

    #[test]
    fn the_parts_of_an_unfinished_content_go_with_the_last_claim_or_at_the_next_start(
    ) -> StoreResult<()> {
        let conn = db();
        let claims = Claims::default();
        let (a, b) = (claims.new_upload(), claims.new_upload());
        let (bytes, x) = large();
        stage(&conn, &claims, a, x, &bytes, 0)?;
        stage(&conn, &claims, a, x, &bytes, 1)?;
        stage(&conn, &claims, b, x, &bytes, 0)?;
        assert_eq!(release(&conn, &claims, a, &[x])?, 0, "b still claims them");
        assert_eq!(parts_stored(&conn), 2);
        assert_eq!(release(&conn, &claims, b, &[x])?, 1);
        assert_eq!(
            (blobs(&conn), parts_stored(&conn), claims.count()),
            (0, 0, 0)
        );
        // An upload a crash interrupted leaves parts and no claim.
        stage(&conn, &claims, a, x, &bytes, 0)?;
        let whole = [9u8; 32];
        stage(&conn, &claims, a, whole, b"whole", 0)?;
        assert_eq!(
            remove_unused(&conn)?,
            2,
            "the unused content and the unfinished one"
        );
        assert_eq!((blobs(&conn), parts_stored(&conn)), (0, 0));
        Ok(())
    }

    #[test]
    fn a_failed_upload_removes_what_it_stored_unless_another_claims_it() -> StoreResult<()> {
        let conn = db();
        let claims = Claims::default();
        let (a, b) = (claims.new_upload(), claims.new_upload());
        let (x, y) = ([1u8; 32], [2u8; 32]);
        assert_eq!(claim(&conn, &claims, a, &[x, y])?, vec![x, y]);
        stage(&conn, &claims, a, x, b"x", 0)?;
        stage(&conn, &claims, a, y, b"y", 0)?;
        // Upload b needs x too: it finds it stored and claims it.
        assert_eq!(claim(&conn, &claims, b, &[x])?, Vec::<Sha256>::new());
        assert_eq!(
            release(&conn, &claims, a, &[x, y])?,
            1,
            "y goes, x stays for b"
        );
        assert_eq!(blobs(&conn), 1);
        assert_eq!(release(&conn, &claims, b, &[x])?, 1, "then x goes too");
        assert_eq!(blobs(&conn), 0);
        assert_eq!(claims.count(), 0);
        Ok(())
    }

    #[test]
    fn a_content_a_version_uses_is_never_removed() -> StoreResult<()> {
        let conn = db();
        conn.execute_batch(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
             INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at)
                 VALUES ('token-token-token', 1, 'A', 1, 1);
             INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                 VALUES (1, 1, 'html', 1, 'index.html', 1, 1);",
        )?;
        let claims = Claims::default();
        let a = claims.new_upload();
        let x = [3u8; 32];
        claim(&conn, &claims, a, &[x])?;
        stage(&conn, &claims, a, x, b"x", 0)?;
        conn.execute(
            "INSERT INTO version_files (version_id, path, blob_id, content_type) VALUES (1, 'index.html', 1, 'text/html')",
            [],
        )?;
        assert_eq!(release(&conn, &claims, a, &[x])?, 0);
        conn.execute(
            "INSERT INTO blobs (sha256, size, content) VALUES (?1, 1, x'00')",
            [&[4u8; 32][..]],
        )?;
        assert_eq!(remove_unused(&conn)?, 1, "only the unused one");
        assert_eq!(blobs(&conn), 1);
        Ok(())
    }
}
