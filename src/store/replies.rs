//! Replies: the thread under a comment, oldest first. Soft-deleted.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::comments::{scope_condition, Author, Scope, Status};
use super::error::{StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: i64,
    pub comment_id: i64,
    pub artifact_id: i64,
    pub author: Author,
    pub content: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its author last changed its text, if ever.
    pub edited_at: Option<i64>,
    /// Written through the artifact's share link (by a person signed in, on the link's page).
    pub via_link: bool,
}

macro_rules! reply_select {
    () => {
        "SELECT r.id, r.comment_id, c.artifact_id, r.content, r.created_at, r.updated_at,
                r.author_user, au.name, r.author_agent, aa.name, aa.role, r.edited_at, r.via_link
           FROM replies r
           JOIN comments c ON c.id = r.comment_id
           JOIN versions v ON v.id = c.version_id
           JOIN users au ON au.id = r.author_user
           LEFT JOIN agents aa ON aa.id = r.author_agent "
    };
}

impl Reply {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Reply> {
        Ok(Reply {
            id: r.get(0)?,
            comment_id: r.get(1)?,
            artifact_id: r.get(2)?,
            content: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
            author: Author::from_row_at(r, 6)?,
            edited_at: r.get(11)?,
            via_link: r.get(12)?,
        })
    }
}

/// Stores a reply by `user_id` (as `agent_id`), written through the artifact's share link when
/// `via_link`; returns its id.
pub fn insert(
    conn: &Connection,
    comment_id: i64,
    user_id: i64,
    agent_id: Option<i64>,
    content: &str,
    via_link: bool,
    now: i64,
) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO replies (comment_id, author_user, author_agent, content, created_at, updated_at, via_link)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
    )?
    .execute(params![comment_id, user_id, agent_id, content, now, via_link])?;
    Ok(conn.last_insert_rowid())
}

/// The live replies to the live comments of a scope and status, in one query, oldest first.
pub fn list(conn: &Connection, scope: Scope, status: Status) -> StoreResult<Vec<Reply>> {
    let mut stmt = conn.prepare_cached(concat!(
        reply_select!(),
        "WHERE r.deleted_at IS NULL AND ",
        scope_condition!(),
        "ORDER BY r.id"
    ))?;
    let (version, artifact) = scope.params();
    let rows = stmt.query_map(
        params![version, artifact, status.resolved()],
        Reply::from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A live reply under a live comment on a live version.
pub fn get(conn: &Connection, id: i64) -> StoreResult<Option<Reply>> {
    Ok(conn
        .prepare_cached(concat!(
            reply_select!(),
            "WHERE r.id = ?1 AND r.deleted_at IS NULL AND c.deleted_at IS NULL AND v.deleted_at IS NULL"
        ))?
        .query_row([id], Reply::from_row)
        .optional()?)
}

/// Sets a reply's text; returns whether it changed (the same text again leaves it as it was, not
/// marked edited).
pub fn set_content(conn: &Connection, id: i64, content: &str, now: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE replies SET content = ?2, updated_at = ?3, edited_at = ?3 WHERE id = ?1 AND deleted_at IS NULL AND content <> ?2",
        )?
        .execute(params![id, content, now])?;
    if n == 0
        && !conn
            .prepare_cached("SELECT 1 FROM replies WHERE id = ?1 AND deleted_at IS NULL")?
            .exists([id])?
    {
        return Err(StoreError::NotFound);
    }
    Ok(n > 0)
}

pub fn delete(conn: &Connection, id: i64, now: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE replies SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL")?
        .execute(params![id, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The live replies to one comment, oldest first.
pub fn list_for_comment(conn: &Connection, comment_id: i64) -> StoreResult<Vec<Reply>> {
    let mut stmt = conn.prepare_cached(concat!(
        reply_select!(),
        "WHERE r.comment_id = ?1 AND r.deleted_at IS NULL ORDER BY r.id"
    ))?;
    let rows = stmt.query_map([comment_id], Reply::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
