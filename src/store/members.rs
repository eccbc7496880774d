//! Team administration, shared by the API (admins) and the command line: removing a member
//! (disabling the account ends its sessions and revokes its keys with the reason
//! `member_removed`; what it did keeps its attribution), enabling it again, changing a role and
//! setting a password, each with its audit events. At least one enabled admin always remains
//! (`last_admin`, checked inside the write transaction).

use rusqlite::{params, Connection};

use super::audit::{self, AuditCtx, AuditEvent};
use super::error::StoreResult;
use super::users::{self, User};
use super::{invites, key_requests, keys, password_resets, sessions, share_links};

/// The roles an account can have.
pub const ROLES: [&str; 2] = ["admin", "member"];

/// What disabling did.
#[derive(Debug, Clone)]
pub struct Removed {
    pub user: User,
    /// Whether this call disabled the account (false when it already was).
    pub newly: bool,
    pub revoked_keys: Vec<i64>,
}

/// Disables the account: sessions ended, keys revoked (`by` the admin; None from the command
/// line), approved key requests not collected yet withdrawn, the links it made ended or turned
/// off, `user.disabled` and one `key.revoked` per key recorded. Repeating it changes nothing.
pub fn disable(
    conn: &Connection,
    ctx: &AuditCtx,
    id: i64,
    by: Option<i64>,
    via: Option<&str>,
    now: i64,
) -> StoreResult<Removed> {
    let before = users::by_id(conn, id)?;
    let user = users::set_disabled(conn, id, true, now)?;
    if before.disabled_at.is_some() {
        return Ok(Removed {
            user,
            newly: false,
            revoked_keys: Vec::new(),
        });
    }
    let revoked_keys = keys::revoke_for_member(conn, id, by, now)?;
    key_requests::withdraw(conn, key_requests::Withdrawn::ApprovedBy(id))?;
    // No link outlives the account: reset links for it, and what it made as an admin.
    let mut ended_reset_links = password_resets::end_for_member(conn, id, now)?;
    ended_reset_links.extend(withdraw_admin_links(conn, ctx, id, now)?);
    // Nor do the share links it made: turned off, each in its artifact's trail.
    let links = share_links::disable_made_by(conn, id, now)?;
    for (link_id, artifact_id) in &links {
        audit::record(
            conn,
            ctx,
            &AuditEvent::ShareLinkDisabled {
                artifact_id: *artifact_id,
                link_id: *link_id,
            },
            now,
        )?;
    }
    let disabled_share_links: Vec<i64> = links.iter().map(|(link, _)| *link).collect();
    for key_id in &revoked_keys {
        audit::record(
            conn,
            ctx,
            &AuditEvent::MemberKeyRevoked {
                key_id: *key_id,
                user_id: id,
            },
            now,
        )?;
    }
    audit::record(
        conn,
        ctx,
        &AuditEvent::UserDisabled {
            user_id: id,
            email: &user.email,
            revoked_keys: &revoked_keys,
            ended_reset_links: &ended_reset_links,
            disabled_share_links: &disabled_share_links,
            via,
        },
        now,
    )?;
    Ok(Removed {
        user,
        newly: true,
        revoked_keys,
    })
}

/// Enables the account again; its revoked keys stay revoked. Returns the account and whether this
/// call enabled it.
pub fn enable(
    conn: &Connection,
    ctx: &AuditCtx,
    id: i64,
    via: Option<&str>,
    now: i64,
) -> StoreResult<(User, bool)> {
    let before = users::by_id(conn, id)?;
    let user = users::set_disabled(conn, id, false, now)?;
    let newly = before.disabled_at.is_some();
    if newly {
        audit::record(
            conn,
            ctx,
            &AuditEvent::UserEnabled {
                user_id: id,
                email: &user.email,
                via,
            },
            now,
        )?;
    }
    Ok((user, newly))
}

/// Makes the account an admin or a member; refused (`last_admin`) when no enabled admin would be
/// left. Recorded only when the role changes.
pub fn set_role(
    conn: &Connection,
    ctx: &AuditCtx,
    id: i64,
    role: &str,
    now: i64,
) -> StoreResult<User> {
    let before = users::by_id(conn, id)?;
    if before.role == role {
        return Ok(before);
    }
    conn.prepare_cached("UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, role, now])?;
    if users::active_admins(conn)? == 0 {
        return Err(users::last_admin());
    }
    let user = users::by_id(conn, id)?;
    let ended_reset_links = if user.is_admin() {
        Vec::new()
    } else {
        withdraw_admin_links(conn, ctx, id, now)?
    };
    audit::record(
        conn,
        ctx,
        &AuditEvent::UserRoleChanged {
            user_id: id,
            email: &user.email,
            before: &before.role,
            after: &user.role,
            ended_reset_links: &ended_reset_links,
        },
        now,
    )?;
    Ok(user)
}

/// What `admin` made as an admin stops working when they are no longer one (disabled, or made a
/// member): their pending invites are revoked (`invite.revoked` each) and their unused
/// password-reset links ended. Returns the ids of the reset links.
fn withdraw_admin_links(
    conn: &Connection,
    ctx: &AuditCtx,
    admin: i64,
    now: i64,
) -> StoreResult<Vec<i64>> {
    for invite_id in invites::revoke_made_by(conn, admin, now)? {
        audit::record(conn, ctx, &AuditEvent::InviteRevoked { invite_id }, now)?;
    }
    password_resets::end_made_by(conn, admin, now)
}

/// Sets the password (an argon2id hash) from the command line and ends every session of the
/// account; returns how many ended.
pub fn set_password(
    conn: &Connection,
    ctx: &AuditCtx,
    id: i64,
    password_hash: &str,
    now: i64,
) -> StoreResult<usize> {
    users::set_password(conn, id, password_hash, now)?;
    let ended = sessions::end_all_for_user(conn, id, now)?;
    password_resets::end_for_member(conn, id, now)?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::PasswordSet {
            user_id: id,
            sessions_ended: ended,
            via: "cli",
        },
        now,
    )?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_are_the_schemas() {
        let schema = include_str!("../../schema.sql");
        assert!(schema.contains("role IN ('admin', 'member')"));
        assert_eq!(ROLES, ["admin", "member"]);
    }
}
