//! Share links: at most one per artifact, opening its latest version to anyone holding the address.
//! The token itself is never stored (see `share_links` in schema.sql): only its SHA-256, for lookup,
//! and the seed it is derived from with the server's link key.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::StoreResult;

/// What a link lets its visitors do besides seeing the latest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub read_comments: bool,
    pub write_comments: bool,
}

impl Capabilities {
    /// Taking comments implies showing them: `read_comments` is true whenever `write_comments`
    /// is (also for a link stored before this rule, as it is read back).
    pub fn new(read_comments: bool, write_comments: bool) -> Capabilities {
        Capabilities {
            read_comments: read_comments || write_comments,
            write_comments,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    pub id: i64,
    pub artifact_id: i64,
    pub token_seed: [u8; 16],
    pub key_id: [u8; 8],
    pub enabled: bool,
    pub capabilities: Capabilities,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ShareLink {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<ShareLink> {
        Ok(ShareLink {
            id: r.get(0)?,
            artifact_id: r.get(1)?,
            token_seed: r.get(2)?,
            key_id: r.get(3)?,
            enabled: r.get(4)?,
            capabilities: Capabilities::new(r.get(5)?, r.get(6)?),
            created_by: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
        })
    }
}

const SELECT: &str =
    "SELECT l.id, l.artifact_id, l.token_seed, l.key_id, l.enabled, l.read_comments,
                             l.write_comments, l.created_by, l.created_at, l.updated_at
                        FROM share_links l ";

/// The link of an artifact, enabled or not.
pub fn of_artifact(conn: &Connection, artifact_id: i64) -> StoreResult<Option<ShareLink>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE l.artifact_id = ?1"))?
        .query_row([artifact_id], ShareLink::from_row)
        .optional()?)
}

/// The token a new link is reached by, and what it is made from.
pub struct NewLink<'a> {
    pub token_hash: &'a [u8; 32],
    pub token_seed: &'a [u8; 16],
    pub key_id: &'a [u8; 8],
    pub capabilities: Capabilities,
}

/// Creates the artifact's link (enabled); the caller has checked that it has none.
pub fn insert(
    conn: &Connection,
    artifact_id: i64,
    new: &NewLink<'_>,
    created_by: i64,
    now: i64,
) -> StoreResult<ShareLink> {
    conn.prepare_cached(
        "INSERT INTO share_links (artifact_id, token_hash, token_seed, key_id, enabled, read_comments,
                                  write_comments, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        artifact_id,
        &new.token_hash[..],
        &new.token_seed[..],
        &new.key_id[..],
        new.capabilities.read_comments,
        new.capabilities.write_comments,
        created_by,
        now
    ])?;
    of_artifact(conn, artifact_id)?.ok_or(super::StoreError::NotFound)
}

/// Sets whether the link works and what it allows.
pub fn update(
    conn: &Connection,
    id: i64,
    enabled: bool,
    capabilities: Capabilities,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE share_links SET enabled = ?2, read_comments = ?3, write_comments = ?4, updated_at = ?5
          WHERE id = ?1",
    )?
    .execute(params![
        id,
        enabled,
        capabilities.read_comments,
        capabilities.write_comments,
        now
    ])?;
    Ok(())
}

/// Turns off every enabled link `user_id` made (their account is disabled); returns each one's
/// (link id, artifact id). The owner can turn one on again, at the same address.
pub fn disable_made_by(conn: &Connection, user_id: i64, now: i64) -> StoreResult<Vec<(i64, i64)>> {
    let mut statement = conn.prepare_cached(
        "UPDATE share_links SET enabled = 0, updated_at = ?2
          WHERE created_by = ?1 AND enabled = 1
         RETURNING id, artifact_id",
    )?;
    let rows = statement.query_map(params![user_id, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What an enabled link opens: its artifact's latest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub link_id: i64,
    pub capabilities: Capabilities,
    pub artifact_id: i64,
    pub artifact_name: String,
    pub description: String,
    pub share_token: String,
    pub version_id: i64,
    pub version_number: i64,
    pub version_name: Option<String>,
    pub file_type: String,
    pub entry_point: String,
    pub version_created_at: i64,
}

/// The artifact and latest version behind an enabled link, by the token's SHA-256; None when no
/// link has that token, it is disabled, or its artifact is deleted or has no version.
pub fn open(conn: &Connection, token_hash: &[u8; 32]) -> StoreResult<Option<Opened>> {
    Ok(conn
        .prepare_cached(
            "SELECT l.id, l.read_comments, l.write_comments, a.id, a.name, a.description,
                    a.share_token, v.id, v.number, v.name, v.file_type, v.entry_point, v.created_at
               FROM share_links l
               JOIN artifacts a ON a.id = l.artifact_id
               JOIN versions v ON v.id =
                    (SELECT lv.id FROM versions lv WHERE lv.artifact_id = a.id AND lv.deleted_at IS NULL
                      ORDER BY lv.number DESC LIMIT 1)
              WHERE l.token_hash = ?1 AND l.enabled = 1 AND a.deleted_at IS NULL",
        )?
        .query_row([&token_hash[..]], |r| {
            Ok(Opened {
                link_id: r.get(0)?,
                capabilities: Capabilities::new(r.get(1)?, r.get(2)?),
                artifact_id: r.get(3)?,
                artifact_name: r.get(4)?,
                description: r.get(5)?,
                share_token: r.get(6)?,
                version_id: r.get(7)?,
                version_number: r.get(8)?,
                version_name: r.get(9)?,
                file_type: r.get(10)?,
                entry_point: r.get(11)?,
                version_created_at: r.get(12)?,
            })
        })
        .optional()?)
}

/// Gives the link a new token (its old address stops working), keeping what it allows.
pub fn reissue(conn: &Connection, id: i64, new: &NewLink<'_>, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE share_links SET token_hash = ?2, token_seed = ?3, key_id = ?4, updated_at = ?5
          WHERE id = ?1",
    )?
    .execute(params![
        id,
        &new.token_hash[..],
        &new.token_seed[..],
        &new.key_id[..],
        now
    ])?;
    Ok(())
}

/// How many enabled links of live artifacts were made with another share-link key than `key_id`
/// (their addresses come from that key, so they no longer work).
pub fn made_with_another_key(conn: &Connection, key_id: &[u8; 8]) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM share_links l JOIN artifacts a ON a.id = l.artifact_id
              WHERE l.enabled = 1 AND a.deleted_at IS NULL AND l.key_id <> ?1",
        )?
        .query_row([&key_id[..]], |r| r.get(0))?)
}
