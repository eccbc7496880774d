//! Browser sessions: the cookie carries a random token; only its SHA-256 is stored.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::StoreResult;
use super::users::{user_columns, User};

/// A live session and its account (shared, like `KeyAuth`).
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub session_id: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub user: Arc<User>,
}

pub struct NewSession<'a> {
    pub hash: &'a [u8; 32],
    pub user_id: i64,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub fn insert(conn: &Connection, new: &NewSession<'_>, now: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        &new.hash[..],
        new.user_id,
        now,
        new.expires_at,
        new.ip,
        new.user_agent
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn lookup(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<SessionAuth>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT s.id, s.expires_at, s.ended_at, ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1"
        ))?
        .query_row([&hash[..]], |r| {
            Ok(SessionAuth {
                session_id: r.get(0)?,
                expires_at: r.get(1)?,
                ended_at: r.get(2)?,
                user: Arc::new(User::from_row_at(r, 3)?),
            })
        })
        .optional()?)
}

/// Ends one session (sign out).
pub fn end(conn: &Connection, session_id: i64, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL")?
        .execute(params![session_id, now])?;
    Ok(())
}

/// Ends every session of a user except `keep` (password change, disabling).
pub fn end_others(conn: &Connection, user_id: i64, keep: i64, now: i64) -> StoreResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE sessions SET ended_at = ?3 WHERE user_id = ?1 AND id != ?2 AND ended_at IS NULL",
        )?
        .execute(params![user_id, keep, now])?)
}

/// Ends every session of a user.
pub fn end_all_for_user(conn: &Connection, user_id: i64, now: i64) -> StoreResult<usize> {
    end_others(conn, user_id, 0, now)
}

/// A session that still works, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The user's sessions that still work at `now`, newest first.
pub fn live(conn: &Connection, user_id: i64, now: i64) -> StoreResult<Vec<LiveSession>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, created_at, expires_at, ip, user_agent FROM sessions
          WHERE user_id = ?1 AND ended_at IS NULL AND expires_at > ?2
          ORDER BY id DESC",
    )?;
    let rows = stmt.query_map(params![user_id, now], |r| {
        Ok(LiveSession {
            id: r.get(0)?,
            created_at: r.get(1)?,
            expires_at: r.get(2)?,
            ip: r.get(3)?,
            user_agent: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ends the user's session `session_id` if it still works; whether it did.
pub fn end_own(conn: &Connection, user_id: i64, session_id: i64, now: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE sessions SET ended_at = ?3
              WHERE id = ?2 AND user_id = ?1 AND ended_at IS NULL AND expires_at > ?3",
        )?
        .execute(params![user_id, session_id, now])?
        == 1)
}
