//! API keys: only the SHA-256 of a key and its 8-character display prefix are ever stored.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::{self, AuditCtx, AuditEvent};
use super::error::StoreResult;
use super::users::{user_columns, User};
use crate::keys::{self, StoredForm};
use crate::scopes::Scope;

/// A key as listed to its owner (never with its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: i64,
    pub user_id: i64,
    pub agent_id: Option<i64>,
    /// The agent's name, kept after the agent is deleted so the list still says who it acted as.
    pub agent_name: Option<String>,
    pub agent_role: Option<String>,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<i64>,
    /// The key that replaced this one in a rotation (this one expires after the overlap).
    pub replaced_by: Option<i64>,
    /// Why the server revoked it, when no person chose to: `leaked`, `member_removed`.
    pub revoked_reason: Option<String>,
    /// Where a leaked key was found (never the key itself).
    pub revoked_where: Option<String>,
}

impl KeyRecord {
    pub fn scope(&self) -> Scope {
        Scope::of_stored(&self.scopes)
    }

    pub fn scope_list(&self) -> Vec<String> {
        self.scopes.split_whitespace().map(str::to_string).collect()
    }

    /// "active", "expired" or "revoked" at `now`.
    pub fn status(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

macro_rules! key_columns {
    () => {
        "k.id, k.user_id, k.agent_id, a.name, a.role, k.name, k.prefix, k.scopes, k.created_at,
         k.expires_at, k.last_used_at, k.revoked_at, k.revoked_by, k.replaced_by,
         k.revoked_reason, k.revoked_where"
    };
}

/// Number of columns in `key_columns!()`.
const KEY_COLUMN_COUNT: usize = 16;

impl KeyRecord {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
        Ok(KeyRecord {
            id: r.get(0)?,
            user_id: r.get(1)?,
            agent_id: r.get(2)?,
            agent_name: r.get(3)?,
            agent_role: r.get(4)?,
            name: r.get(5)?,
            prefix: r.get(6)?,
            scopes: r.get(7)?,
            created_at: r.get(8)?,
            expires_at: r.get(9)?,
            last_used_at: r.get(10)?,
            revoked_at: r.get(11)?,
            revoked_by: r.get(12)?,
            replaced_by: r.get(13)?,
            revoked_reason: r.get(14)?,
            revoked_where: r.get(15)?,
        })
    }
}

/// Everything authentication needs about a presented key, in one query. Shared (`Arc`) so a
/// cached answer is handed to each request without copying its strings.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key: Arc<KeyRecord>,
    pub user: Arc<User>,
    pub agent_deleted_at: Option<i64>,
}

pub struct NewKeyRow<'a> {
    pub user_id: i64,
    pub agent_id: Option<i64>,
    pub name: &'a str,
    pub prefix: &'a str,
    pub hash: &'a [u8; 32],
    pub expires_at: Option<i64>,
    pub scope: Scope,
}

impl<'a> NewKeyRow<'a> {
    /// The row of the key that replaces `old` in a rotation: the same owner, agent, name and scope,
    /// the same lifetime counted from `now`, and the new key's stored form.
    pub fn replacing(old: &'a KeyRecord, stored: &'a StoredForm, now: i64) -> NewKeyRow<'a> {
        NewKeyRow {
            user_id: old.user_id,
            agent_id: old.agent_id,
            name: &old.name,
            prefix: &stored.prefix,
            hash: &stored.hash,
            expires_at: keys::replacement_expiry(old.created_at, old.expires_at, now),
            scope: old.scope(),
        }
    }
}

pub fn insert(conn: &Connection, new: &NewKeyRow<'_>, now: i64) -> StoreResult<KeyRecord> {
    conn.prepare_cached(
        "INSERT INTO api_keys (user_id, agent_id, name, prefix, key_hash, scopes, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        new.user_id,
        new.agent_id,
        new.name,
        new.prefix,
        &new.hash[..],
        new.scope.as_str(),
        now,
        new.expires_at
    ])?;
    get(conn, new.user_id, conn.last_insert_rowid())
}

/// Creates a key and records `key.created` (with its name and display prefix, never the key).
/// `via` says where it came from when not the API (the command line).
pub fn create(
    conn: &Connection,
    new: &NewKeyRow<'_>,
    ctx: &AuditCtx,
    via: Option<&str>,
    now: i64,
) -> StoreResult<KeyRecord> {
    let record = insert(conn, new, now)?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::KeyCreated {
            key_id: record.id,
            name: &record.name,
            prefix: &record.prefix,
            agent_id: record.agent_id,
            expires_at: record.expires_at,
            scope: new.scope.as_str(),
            via,
        },
        now,
    )?;
    Ok(record)
}

/// Why a key cannot be rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRotatable {
    Revoked,
    Expired,
    /// Already rotated: the key that replaced it.
    Replaced(i64),
}

/// Rotates the user's key `old_id`: a new key (`new`, which the caller gives the old one's name,
/// identity and scope) replaces it, and the old one now expires at `old_expires_at` (the end of
/// the overlap, or sooner if it expired sooner anyway). Records `key.rotated`.
pub fn rotate(
    conn: &Connection,
    user_id: i64,
    old_id: i64,
    new: &NewKeyRow<'_>,
    old_expires_at: i64,
    ctx: &AuditCtx,
    now: i64,
) -> StoreResult<Result<(KeyRecord, KeyRecord), NotRotatable>> {
    let old = get(conn, user_id, old_id)?;
    if old.revoked_at.is_some() {
        return Ok(Err(NotRotatable::Revoked));
    }
    if let Some(by) = old.replaced_by {
        return Ok(Err(NotRotatable::Replaced(by)));
    }
    if old.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(NotRotatable::Expired));
    }
    let fresh = insert(conn, new, now)?;
    let ends = old
        .expires_at
        .map_or(old_expires_at, |at| at.min(old_expires_at));
    conn.prepare_cached("UPDATE api_keys SET replaced_by = ?2, expires_at = ?3 WHERE id = ?1")?
        .execute(params![old_id, fresh.id, ends])?;
    let old = get(conn, user_id, old_id)?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::KeyRotated {
            key_id: fresh.id,
            name: &fresh.name,
            prefix: &fresh.prefix,
            replaced_key_id: old.id,
            replaced_prefix: &old.prefix,
            replaced_expires_at: ends,
        },
        now,
    )?;
    Ok(Ok((old, fresh)))
}

/// Revokes a key and records `key.revoked` the first time; see `revoke`.
pub fn revoke_recorded(
    conn: &Connection,
    id: i64,
    by: Option<i64>,
    ctx: &AuditCtx,
    via: Option<&str>,
    now: i64,
) -> StoreResult<(KeyRecord, bool)> {
    let (record, newly) = revoke(conn, id, by, now)?;
    if newly {
        audit::record(
            conn,
            ctx,
            &AuditEvent::KeyRevoked {
                key_id: id,
                name: &record.name,
                prefix: &record.prefix,
                via,
            },
            now,
        )?;
    }
    Ok((record, newly))
}

/// Revokes every active key among `digests` as leaked (found in text this server was asked to
/// store, at `place`), and records `key.leaked` in each key owner's trail. Returns the keys revoked.
pub fn revoke_leaked(
    conn: &Connection,
    digests: &[[u8; 32]],
    place: &str,
    now: i64,
) -> StoreResult<Vec<KeyRecord>> {
    let mut revoked = Vec::new();
    for digest in digests {
        let id: Option<i64> = conn
            .prepare_cached("SELECT id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL")?
            .query_row([&digest[..]], |r| r.get(0))
            .optional()?;
        let Some(id) = id else { continue };
        conn.prepare_cached(
            "UPDATE api_keys SET revoked_at = ?2, revoked_by = NULL, revoked_reason = 'leaked',
                                 revoked_where = ?3
              WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![id, now, place])?;
        let key = get_any(conn, id)?;
        let owner = AuditCtx {
            user_id: Some(key.user_id),
            ..AuditCtx::default()
        };
        audit::record(
            conn,
            &owner,
            &AuditEvent::KeyLeaked {
                key_id: id,
                name: &key.name,
                prefix: &key.prefix,
                place,
            },
            now,
        )?;
        revoked.push(key);
    }
    Ok(revoked)
}

/// The user's keys, newest first; revoked ones only when asked.
pub fn list(conn: &Connection, user_id: i64, include_revoked: bool) -> StoreResult<Vec<KeyRecord>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id
         WHERE k.user_id = ?1 AND (?2 OR k.revoked_at IS NULL)
         ORDER BY k.id DESC"
    ))?;
    let rows = stmt.query_map(params![user_id, include_revoked], KeyRecord::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One of the user's keys.
pub fn get(conn: &Connection, user_id: i64, id: i64) -> StoreResult<KeyRecord> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id
             WHERE k.id = ?1 AND k.user_id = ?2"
        ))?
        .query_row([id, user_id], KeyRecord::from_row)?)
}

/// Any key by id (the CLI's `key revoke KEY_ID`).
pub fn get_any(conn: &Connection, id: i64) -> StoreResult<KeyRecord> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id WHERE k.id = ?1"
        ))?
        .query_row([id], KeyRecord::from_row)?)
}

/// The key with this hash, with its user, for authentication.
pub fn lookup(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<KeyAuth>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            key_columns!(),
            ", a.deleted_at, ",
            user_columns!(),
            " FROM api_keys k JOIN users u ON u.id = k.user_id
              LEFT JOIN agents a ON a.id = k.agent_id
             WHERE k.key_hash = ?1"
        ))?
        .query_row([&hash[..]], |r| {
            Ok(KeyAuth {
                key: Arc::new(KeyRecord::from_row(r)?),
                agent_deleted_at: r.get(KEY_COLUMN_COUNT)?,
                user: Arc::new(User::from_row_at(r, KEY_COLUMN_COUNT + 1)?),
            })
        })
        .optional()?)
}

/// Revokes a key (soft delete, recording who and when; `by` is None from the command line). Returns the key and whether this call
/// revoked it (false when it already was: repeating a revocation is harmless and keeps the first
/// time and author).
pub fn revoke(
    conn: &Connection,
    id: i64,
    by: Option<i64>,
    now: i64,
) -> StoreResult<(KeyRecord, bool)> {
    let changed = conn
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![id, now, by])?;
    let key = get_any(conn, id)?;
    Ok((key, changed == 1))
}

/// Revokes every active key acting as this agent; returns their ids.
pub fn revoke_for_agent(
    conn: &Connection,
    agent_id: i64,
    by: i64,
    now: i64,
) -> StoreResult<Vec<i64>> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM api_keys WHERE agent_id = ?1 AND revoked_at IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([agent_id], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    conn.prepare_cached(
        "UPDATE api_keys SET revoked_at = ?2, revoked_by = ?3 WHERE agent_id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![agent_id, now, by])?;
    Ok(ids)
}

/// Records a use of the key. Callers throttle this to about once a minute per key.
pub fn touch(conn: &Connection, id: i64, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Active keys that act as this agent (for the delete confirmation).
pub fn active_for_agent(conn: &Connection, agent_id: i64) -> StoreResult<Vec<KeyRecord>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id
         WHERE k.agent_id = ?1 AND k.revoked_at IS NULL ORDER BY k.id"
    ))?;
    let rows = stmt.query_map([agent_id], KeyRecord::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes every active key of a member who is being removed (their account disabled), with the
/// reason `member_removed`; `by` is the admin (None from the command line). Returns their ids.
pub fn revoke_for_member(
    conn: &Connection,
    user_id: i64,
    by: Option<i64>,
    now: i64,
) -> StoreResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE api_keys SET revoked_at = ?2, revoked_by = ?3, revoked_reason = 'member_removed'
          WHERE user_id = ?1 AND revoked_at IS NULL
          RETURNING id",
    )?;
    let rows = stmt.query_map(params![user_id, now, by], |r| r.get(0))?;
    let mut ids: Vec<i64> = rows.collect::<Result<_, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}
