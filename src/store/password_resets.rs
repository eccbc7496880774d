//! One-time password-reset links an admin makes for a member: only the SHA-256 of the token is
//! stored; a link works once, until it expires, and a newer link for the same member replaces it.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::{self, AuditCtx, AuditEvent};
use super::error::{StoreError, StoreResult};
use super::sessions;
use super::users::{self, User};

/// A stored reset link (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub id: i64,
    pub user_id: i64,
    pub created_by: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl PasswordReset {
    /// Whether the link can still be used at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<PasswordReset> {
        Ok(PasswordReset {
            id: r.get(0)?,
            user_id: r.get(1)?,
            created_by: r.get(2)?,
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
            used_at: r.get(5)?,
        })
    }
}

macro_rules! reset_columns {
    () => {
        "id, user_id, created_by, created_at, expires_at, used_at"
    };
}

/// The refusal for a token that names no usable link.
pub fn invalid_link() -> StoreError {
    StoreError::Refused {
        code: "invalid_reset_link",
        message: "this password-reset link is not valid: it may have been used, replaced by a newer one, or expired (links last 24 hours); ask an admin for a new one".into(),
    }
}

/// Makes a link for `member` (an enabled account) by the admin in `ctx`, ending any earlier unused
/// link of theirs, and records `password_reset.created`.
pub fn create(
    conn: &Connection,
    ctx: &AuditCtx,
    member: &User,
    created_by: i64,
    hash: &[u8; 32],
    expires_at: i64,
    now: i64,
) -> StoreResult<PasswordReset> {
    conn.prepare_cached(
        "UPDATE password_resets SET expires_at = ?2
          WHERE user_id = ?1 AND used_at IS NULL AND expires_at > ?2",
    )?
    .execute(params![member.id, now])?;
    conn.prepare_cached(
        "INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![&hash[..], member.id, created_by, now, expires_at])?;
    let reset = get(conn, conn.last_insert_rowid())?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::PasswordResetCreated {
            reset_id: reset.id,
            user_id: member.id,
            email: &member.email,
            expires_at,
        },
        now,
    )?;
    Ok(reset)
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<PasswordReset> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            reset_columns!(),
            " FROM password_resets WHERE id = ?1"
        ))?
        .query_row([id], PasswordReset::from_row)?)
}

/// Ends the unused links for the member `user_id` (disabled, or their password changed since):
/// a link outlives neither. Returns their ids.
pub fn end_for_member(conn: &Connection, user_id: i64, now: i64) -> StoreResult<Vec<i64>> {
    end_where(conn, "user_id", user_id, now)
}

/// Ends the unused links `admin` made (they are no longer an enabled admin). Returns their ids.
pub fn end_made_by(conn: &Connection, admin: i64, now: i64) -> StoreResult<Vec<i64>> {
    end_where(conn, "created_by", admin, now)
}

fn end_where(conn: &Connection, column: &str, id: i64, now: i64) -> StoreResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE password_resets SET expires_at = ?2
          WHERE {column} = ?1 AND used_at IS NULL AND expires_at > ?2
         RETURNING id"
    ))?;
    let ids = stmt.query_map(params![id, now], |r| r.get(0))?;
    Ok(ids.collect::<Result<Vec<i64>, _>>()?)
}

/// The link with this token digest, if any.
pub fn by_hash(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<PasswordReset>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            reset_columns!(),
            " FROM password_resets WHERE token_hash = ?1"
        ))?
        .query_row([&hash[..]], PasswordReset::from_row)
        .optional()?)
}

/// Uses the link: re-checked inside the transaction (two tabs racing get one change), the
/// password set, every session of the account ended, `password_reset.used` recorded by the member
/// from `ip`. Refused (`invalid_reset_link`) when the link is used, replaced or expired, or the
/// account was disabled meanwhile.
pub fn use_link(
    conn: &Connection,
    id: i64,
    password_hash: &str,
    ip: Option<String>,
    now: i64,
) -> StoreResult<User> {
    let reset = get(conn, id)?;
    let user = users::by_id(conn, reset.user_id)?;
    // Its maker must still be an enabled admin (their removal ends their links; checked again).
    let maker = users::by_id(conn, reset.created_by)?;
    if !reset.usable(now) || user.disabled_at.is_some() || !maker.is_enabled_admin() {
        return Err(invalid_link());
    }
    conn.prepare_cached("UPDATE password_resets SET used_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    users::set_password(conn, user.id, password_hash, now)?;
    let ended = sessions::end_all_for_user(conn, user.id, now)?;
    let ctx = AuditCtx {
        user_id: Some(user.id),
        ip,
        ..AuditCtx::default()
    };
    audit::record(
        conn,
        &ctx,
        &AuditEvent::PasswordResetUsed {
            reset_id: id,
            user_id: user.id,
            sessions_ended: ended,
        },
        now,
    )?;
    Ok(user)
}
