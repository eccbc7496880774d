//! Viewing grants: a random path segment under `/v/` that serves one version's files to one reader
//! for 12 hours, without cookies. Stored as a SHA-256; valid only while the reader's session lives,
//! the reader still has access, and the version and artifact are not deleted.

use rusqlite::{params, Connection, OptionalExtension};

use super::error::StoreResult;

/// What a live grant opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantTarget {
    pub version_id: i64,
    pub entry_point: String,
    pub artifact_name: String,
}

pub fn insert(
    conn: &Connection,
    hash: &[u8; 32],
    version_id: i64,
    user_id: i64,
    session_id: i64,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    // Expired grants are useless; clearing them here keeps the table small without a timer.
    conn.prepare_cached("DELETE FROM view_grants WHERE expires_at < ?1")?
        .execute([now])?;
    conn.prepare_cached(
        "INSERT INTO view_grants (token_hash, version_id, user_id, session_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![&hash[..], version_id, user_id, session_id, now, expires_at])?;
    // Each load of the review page makes a grant: a session keeps its newest few per version (a
    // tab whose grant went renews it, as after sign-in), so reloading cannot grow the table.
    conn.prepare_cached(
        "DELETE FROM view_grants
          WHERE session_id = ?1 AND version_id = ?2
            AND id <= (SELECT id FROM view_grants WHERE session_id = ?1 AND version_id = ?2
                        ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    )?
    .execute(params![session_id, version_id, GRANTS_KEPT])?;
    Ok(())
}

/// Grants a session keeps per version: one per open tab, with room to spare.
pub const GRANTS_KEPT: i64 = 32;

/// The version a grant opens, if the grant is still good at `now`.
pub fn lookup(conn: &Connection, hash: &[u8; 32], now: i64) -> StoreResult<Option<GrantTarget>> {
    Ok(conn
        .prepare_cached(
            "SELECT v.id, v.entry_point, a.name
               FROM view_grants g
               JOIN versions v ON v.id = g.version_id
               JOIN artifacts a ON a.id = v.artifact_id
               JOIN sessions s ON s.id = g.session_id
               JOIN users u ON u.id = g.user_id
              WHERE g.token_hash = ?1
                AND g.expires_at > ?2
                AND v.deleted_at IS NULL
                AND a.deleted_at IS NULL
                AND s.ended_at IS NULL AND s.expires_at > ?2
                AND u.disabled_at IS NULL
                AND (a.owner_id = g.user_id OR EXISTS (
                       SELECT 1 FROM access_grants ag
                        WHERE ag.artifact_id = a.id AND ag.user_id = g.user_id AND ag.revoked_at IS NULL))",
        )?
        .query_row(params![&hash[..], now], |r| {
            Ok(GrantTarget {
                version_id: r.get(0)?,
                entry_point: r.get(1)?,
                artifact_name: r.get(2)?,
            })
        })
        .optional()?)
}
