//! What each account stores: the distinct contents (each counted once however many files, versions
//! or artifacts use it) of every version of every artifact it owns, deleted versions included (a
//! deleted version can be restored, and its files stay stored; a deleted artifact cannot, and
//! lets go of its files: `artifacts::drop_files`). Computed from the tables; nothing is kept up
//! to date on the side.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::error::StoreResult;
use super::staging::Sha256;

/// Distinct stored bytes of the account `user_id`.
pub fn usage(conn: &Connection, user_id: i64) -> StoreResult<u64> {
    let bytes: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.id IN (
                 SELECT f.blob_id FROM artifacts a
                 JOIN versions v ON v.artifact_id = a.id
                 JOIN version_files f ON f.version_id = v.id
                 WHERE a.owner_id = ?1)",
        )?
        .query_row([user_id], |r| r.get(0))?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}

/// Distinct stored bytes of every account that stores anything.
pub fn usage_by_account(conn: &Connection) -> StoreResult<HashMap<i64, u64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT owner_id, sum(size) FROM (
             SELECT DISTINCT a.owner_id, b.id, b.size FROM artifacts a
             JOIN versions v ON v.artifact_id = a.id
             JOIN version_files f ON f.version_id = v.id
             JOIN blobs b ON b.id = f.blob_id)
         GROUP BY owner_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Of `contents` (distinct hashes with their sizes), the bytes the account `user_id` does not
/// store yet: what storing them would add to its usage.
pub fn added(conn: &Connection, user_id: i64, contents: &[(Sha256, u64)]) -> StoreResult<u64> {
    let mut held = conn.prepare_cached(
        "SELECT 1 FROM blobs b
         JOIN version_files f ON f.blob_id = b.id
         JOIN versions v ON v.id = f.version_id
         JOIN artifacts a ON a.id = v.artifact_id
         WHERE b.sha256 = ?1 AND a.owner_id = ?2
         LIMIT 1",
    )?;
    let mut added = 0;
    for (sha256, size) in contents {
        if !held.exists(params![&sha256[..], user_id])? {
            added += size;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = crate::store::schema::in_memory();
        conn.execute_batch(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1), ('b@example.com', 'B', 'x', 'member', 1, 1);
             INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at, deleted_at)
                 VALUES ('token-a-1-token', 1, 'A1', 1, 1, NULL), ('token-a-2-token', 1, 'A2', 1, 1, 5),
                        ('token-b-1-token', 2, 'B1', 1, 1, NULL);
             INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                 VALUES (1, 1, 'zip', 1, 'index.html', 1, 1), (1, 2, 'zip', 1, 'index.html', 1, 1),
                        (2, 1, 'html', 1, 'index.html', 1, 1), (3, 1, 'html', 1, 'index.html', 1, 2);
             ",
        )
        .expect("rows");
        for (b, size) in [(1u8, 100i64), (2, 20), (3, 3), (4, 4000)] {
            conn.execute(
                "INSERT INTO blobs (id, sha256, size, content) VALUES (?1, ?2, ?3, x'')",
                params![b, &hash(b)[..], size],
            )
            .expect("blob");
        }
        conn.execute_batch(
            "-- A's first version holds 1 and 2, its second 1 again (under two names), its deleted
             -- artifact 3; B holds 1 too.
             INSERT INTO version_files (version_id, path, blob_id, content_type) VALUES
                 (1, 'index.html', 1, 'text/html'), (1, 'a.css', 2, 'text/css'),
                 (2, 'index.html', 1, 'text/html'), (2, 'copy.html', 1, 'text/html'),
                 (3, 'index.html', 3, 'text/html'), (4, 'index.html', 1, 'text/html');",
        )
        .expect("files");
        conn
    }

    fn hash(b: u8) -> Sha256 {
        let mut h = [0u8; 32];
        h[0] = b;
        h
    }

    #[test]
    fn each_content_counts_once_per_account_deleted_artifacts_included() -> StoreResult<()> {
        let conn = db();
        assert_eq!(usage(&conn, 1)?, 123);
        assert_eq!(usage(&conn, 2)?, 100);
        let all = usage_by_account(&conn)?;
        assert_eq!(all.get(&1), Some(&123));
        assert_eq!(all.get(&2), Some(&100));
        // Unstored content (4) is not held; B does not hold 2 yet, A does.
        let upload = [(hash(1), 100), (hash(2), 20), (hash(4), 4000)];
        assert_eq!(added(&conn, 1, &upload)?, 4000);
        assert_eq!(added(&conn, 2, &upload)?, 4020);
        Ok(())
    }
}
