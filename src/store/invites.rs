//! Invite links for teammates: one-time, expiring after 7 days, stored as a SHA-256 of the token;
//! each is for one email address, or a generic link (which never claims pending access grants).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub role: String,
    pub created_by: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Who it is for; `None`: a generic link.
    pub email: Option<String>,
}

impl Invite {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Invite> {
        Ok(Invite {
            id: r.get(0)?,
            role: r.get(1)?,
            created_by: r.get(2)?,
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
            used_at: r.get(5)?,
            used_by: r.get(6)?,
            revoked_at: r.get(7)?,
            email: r.get(8)?,
        })
    }

    /// "pending", "used", "revoked" or "expired" at `now`.
    pub fn status(&self, now: i64) -> &'static str {
        if self.used_at.is_some() {
            "used"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "pending"
        }
    }
}

/// What it takes to make an invite.
pub struct NewInvite<'a> {
    pub hash: &'a [u8; 32],
    pub role: &'a str,
    /// Who it is for (normalised), or `None` for a generic link.
    pub email: Option<&'a str>,
    pub created_by: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &Connection, new: &NewInvite<'_>, now: i64) -> StoreResult<Invite> {
    conn.prepare_cached(
        "INSERT INTO invites (token_hash, role, created_by, created_at, expires_at, email)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        &new.hash[..],
        new.role,
        new.created_by,
        now,
        new.expires_at,
        new.email
    ])?;
    get(conn, conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Invite> {
    Ok(conn
        .prepare_cached(
            "SELECT id, role, created_by, created_at, expires_at, used_at, used_by, revoked_at, email
             FROM invites WHERE id = ?1",
        )?
        .query_row([id], Invite::from_row)?)
}

/// Newest first.
pub fn list(conn: &Connection) -> StoreResult<Vec<Invite>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, role, created_by, created_at, expires_at, used_at, used_by, revoked_at, email
         FROM invites ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([], Invite::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn by_hash(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<Invite>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, role, created_by, created_at, expires_at, used_at, used_by, revoked_at, email
             FROM invites WHERE token_hash = ?1",
        )?
        .query_row([&hash[..]], Invite::from_row)
        .optional()?)
}

pub fn mark_used(conn: &Connection, id: i64, user_id: i64, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE invites SET used_at = ?2, used_by = ?3 WHERE id = ?1")?
        .execute(params![id, now, user_id])?;
    Ok(())
}

/// Returns whether this call revoked it.
pub fn revoke(conn: &Connection, id: i64, now: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE invites SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL AND used_at IS NULL",
        )?
        .execute(params![id, now])?
        == 1)
}

/// Revokes the pending links `admin` made (they lost the right to invite: disabled, or made a
/// member). Returns their ids.
pub fn revoke_made_by(conn: &Connection, admin: i64, now: i64) -> StoreResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE invites SET revoked_at = ?2
          WHERE created_by = ?1 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?2
         RETURNING id",
    )?;
    let ids = stmt.query_map(params![admin, now], |r| r.get(0))?;
    Ok(ids.collect::<Result<Vec<i64>, _>>()?)
}
