//! An upload's contents stored ahead of the version that will use them, one file per write, so
//! the writer never holds a transaction for a whole archive (a 245 MB ZIP made every other write
//! wait 1.9 s). Until its version is published the upload *claims* each content it needs, so that
//! another upload that fails meanwhile does not remove it; an upload that fails or is abandoned
//! releases its claims, and a content that nothing claims and no version uses is removed then.
//! Claims live in memory, touched only by write jobs (one thread); after a crash, whatever no
//! version uses is removed when the server starts (`remove_unused`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::StoreResult;

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
    let mut stmt = conn.prepare_cached("SELECT 1 FROM blobs WHERE sha256 = ?1")?;
    for sha256 in hashes {
        if stmt
            .query_row([&sha256[..]], |_| Ok(()))
            .optional()?
            .is_some()
        {
            claims.add(*sha256, upload);
        } else {
            missing.push(*sha256);
        }
    }
    Ok(missing)
}

/// Stores one content (unless another upload just did) and claims it for `upload`.
pub fn stage(
    conn: &Connection,
    claims: &Claims,
    upload: u64,
    sha256: Sha256,
    bytes: &[u8],
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO blobs (sha256, size, content) VALUES (?1, ?2, ?3) ON CONFLICT (sha256) DO NOTHING",
    )?
    .execute(params![&sha256[..], bytes.len() as i64, bytes])?;
    claims.add(sha256, upload);
    Ok(())
}

/// Gives up `upload`'s claims on `hashes`, removing each content that no one else claims and no
/// version uses; returns how many were removed.
pub fn release(
    conn: &Connection,
    claims: &Claims,
    upload: u64,
    hashes: &[Sha256],
) -> StoreResult<usize> {
    let mut removed = 0;
    let mut stmt = conn.prepare_cached(
        "DELETE FROM blobs WHERE sha256 = ?1
            AND NOT EXISTS (SELECT 1 FROM version_files f WHERE f.blob_id = blobs.id)",
    )?;
    for sha256 in hashes {
        if !claims.drop_claim(sha256, upload) {
            removed += stmt.execute([&sha256[..]])?;
        }
    }
    Ok(removed)
}

/// Removes every content no version uses (what uploads interrupted by a crash left). Only when no
/// upload is in progress: when the server starts.
pub fn remove_unused(conn: &Connection) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM version_files f WHERE f.blob_id = blobs.id)",
        [],
    )?)
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

    #[test]
    fn a_failed_upload_removes_what_it_stored_unless_another_claims_it() -> StoreResult<()> {
        let conn = db();
        let claims = Claims::default();
        let (a, b) = (claims.new_upload(), claims.new_upload());
        let (x, y) = ([1u8; 32], [2u8; 32]);
        assert_eq!(claim(&conn, &claims, a, &[x, y])?, vec![x, y]);
        stage(&conn, &claims, a, x, b"x")?;
        stage(&conn, &claims, a, y, b"y")?;
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
        stage(&conn, &claims, a, x, b"x")?;
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
