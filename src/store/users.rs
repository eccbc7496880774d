//! Accounts: people who sign in. Emails are unique (stored trimmed and lower-cased).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{StoreError, StoreResult};

/// An account as the rest of the product sees it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// An admin whose account is enabled: whose links (invites, password resets) still stand.
    pub fn is_enabled_admin(&self) -> bool {
        self.is_admin() && self.disabled_at.is_none()
    }
}

/// Columns of `users u` read by `User::from_row`, starting at `offset`.
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.name, u.role, u.created_at, u.updated_at, u.disabled_at"
    };
}
pub(crate) use user_columns;

impl User {
    /// Reads the 7 columns of `user_columns!()` starting at column `at`.
    pub(crate) fn from_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<User> {
        Ok(User {
            id: r.get(at)?,
            email: r.get(at + 1)?,
            name: r.get(at + 2)?,
            role: r.get(at + 3)?,
            created_at: r.get(at + 4)?,
            updated_at: r.get(at + 5)?,
            disabled_at: r.get(at + 6)?,
        })
    }
}

/// What it takes to make an account.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    /// Whether the email is known to be this person's (the operator made the account, or an
    /// invite made for that address was used): only then are access grants waiting for the
    /// address claimed. Anyone can type any address into a generic invite link.
    pub owns_email: bool,
}

/// Number of accounts (0 means first-run setup is still open).
pub fn count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM users")?
        .query_row([], |r| r.get(0))?)
}

/// Creates an account, applying the pending access grants for its email when it provably owns it
/// (`NewUser::owns_email`); `Conflict` when the email is taken.
pub fn insert(conn: &Connection, new: &NewUser<'_>, now: i64) -> StoreResult<User> {
    let exists: Option<i64> = conn
        .prepare_cached("SELECT id FROM users WHERE email = ?1")?
        .query_row([new.email], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::Conflict(format!(
            "an account with the email {} already exists",
            new.email
        )));
    }
    conn.prepare_cached(
        "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![
        new.email,
        new.name,
        new.password_hash,
        new.role,
        now
    ])?;
    let id = conn.last_insert_rowid();
    // Artifacts shared with this email before the account existed are theirs to review now.
    if new.owns_email {
        super::access::claim_pending(conn, id, new.email)?;
    }
    by_id(conn, id)
}

/// Creates an account (see `insert`) and records `user.created`, as done by the new person
/// themself from `ip`. `via` says how: "setup", "invite" (with its id) or "cli".
pub fn create(
    conn: &Connection,
    new: &NewUser<'_>,
    ip: Option<String>,
    via: &str,
    invite: Option<i64>,
    now: i64,
) -> StoreResult<User> {
    let user = insert(conn, new, now)?;
    let ctx = super::audit::AuditCtx {
        user_id: Some(user.id),
        ip,
        ..Default::default()
    };
    super::audit::record(
        conn,
        &ctx,
        &super::audit::AuditEvent::UserCreated {
            user_id: user.id,
            via,
            role: &user.role,
            invite_id: invite,
        },
        now,
    )?;
    Ok(user)
}

pub fn by_id(conn: &Connection, id: i64) -> StoreResult<User> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = ?1"
        ))?
        .query_row([id], |r| User::from_row_at(r, 0))?)
}

pub fn by_email(conn: &Connection, email: &str) -> StoreResult<Option<User>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.email = ?1"
        ))?
        .query_row([email], |r| User::from_row_at(r, 0))
        .optional()?)
}

/// The account and its password hash, for signing in.
pub fn credentials(conn: &Connection, email: &str) -> StoreResult<Option<(User, String)>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            ", u.password_hash FROM users u WHERE u.email = ?1"
        ))?
        .query_row([email], |r| Ok((User::from_row_at(r, 0)?, r.get(7)?)))
        .optional()?)
}

/// The password hash of one account.
pub fn password_hash(conn: &Connection, id: i64) -> StoreResult<String> {
    Ok(conn
        .prepare_cached("SELECT password_hash FROM users WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// Every account, oldest first.
pub fn list(conn: &Connection) -> StoreResult<Vec<User>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u ORDER BY u.id"
    ))?;
    let rows = stmt.query_map([], |r| User::from_row_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn rename(conn: &Connection, id: i64, name: &str, now: i64) -> StoreResult<User> {
    let n = conn
        .prepare_cached("UPDATE users SET name = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, name, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    by_id(conn, id)
}

pub fn set_password(conn: &Connection, id: i64, password_hash: &str, now: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, password_hash, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Disables (or re-enables) an account. Disabling also ends its sessions; its keys stop working
/// because authentication checks the account. Refused (`last_admin`) when no enabled admin would
/// be left.
pub fn set_disabled(conn: &Connection, id: i64, disabled: bool, now: i64) -> StoreResult<User> {
    let n = if disabled {
        conn.prepare_cached(
            "UPDATE users SET disabled_at = coalesce(disabled_at, ?2), updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![id, now])?
    } else {
        conn.prepare_cached("UPDATE users SET disabled_at = NULL, updated_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?
    };
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    if disabled {
        // Checked here, inside the write transaction, so two admins disabling each other at the
        // same moment cannot both succeed.
        if active_admins(conn)? == 0 {
            return Err(last_admin());
        }
        super::sessions::end_all_for_user(conn, id, now)?;
    }
    by_id(conn, id)
}

/// The refusal when a change would leave no enabled admin.
pub(super) fn last_admin() -> StoreError {
    StoreError::Refused {
        code: "last_admin",
        message: "this would leave no enabled admin on this server".into(),
    }
}

/// Number of enabled admins (the last one cannot be disabled).
pub fn active_admins(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")?
        .query_row([], |r| r.get(0))?)
}
