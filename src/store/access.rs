//! Reviewers: access to one artifact granted by its owner to an email address. A grant for an email
//! without an account is pending until that person signs up; then it applies to their account.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: i64,
    pub artifact_id: i64,
    pub email: String,
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub role: String,
    pub granted_by: i64,
    pub created_at: i64,
    pub viewed_at: Option<i64>,
    /// When the reviewer last had a view counted (see `views`), or their first look if later.
    pub last_viewed_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Grant {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
        Ok(Grant {
            id: r.get(0)?,
            artifact_id: r.get(1)?,
            email: r.get(2)?,
            user_id: r.get(3)?,
            user_name: r.get(4)?,
            role: r.get(5)?,
            granted_by: r.get(6)?,
            created_at: r.get(7)?,
            viewed_at: r.get(8)?,
            revoked_at: r.get(9)?,
            last_viewed_at: r.get(10)?,
        })
    }

    /// "pending" (no account yet), "added" (not opened yet) or "viewed".
    pub fn status(&self) -> &'static str {
        match (self.user_id, self.viewed_at) {
            (None, _) => "pending",
            (Some(_), None) => "added",
            (Some(_), Some(_)) => "viewed",
        }
    }
}

macro_rules! grant_select {
    () => {
        "SELECT g.id, g.artifact_id, g.email, g.user_id, u.name, g.role, g.granted_by, g.created_at,
                g.viewed_at, g.revoked_at,
                CASE WHEN g.viewed_at IS NULL THEN NULL ELSE max(g.viewed_at, coalesce(
                    (SELECT max(w.viewed_at) FROM views w
                      WHERE w.user_id = g.user_id AND w.artifact_id = g.artifact_id), 0)) END
           FROM access_grants g LEFT JOIN users u ON u.id = g.user_id "
    };
}

/// Grants `email` access; `Conflict` when an active grant for that email exists. Links the grant
/// to the account at once when the email has one. Granting again to an email whose grant was
/// revoked brings that grant back (the same id, its first view forgotten).
pub fn insert(
    conn: &Connection,
    artifact_id: i64,
    email: &str,
    role: &str,
    granted_by: i64,
    now: i64,
) -> StoreResult<Grant> {
    let existing: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM access_grants WHERE artifact_id = ?1 AND email = ?2 AND revoked_at IS NULL",
        )?
        .query_row(params![artifact_id, email], |r| r.get(0))
        .optional()?;
    if existing.is_some() {
        return Err(StoreError::Conflict(format!(
            "{email} already has access to this artifact"
        )));
    }
    let user_id: Option<i64> = conn
        .prepare_cached("SELECT id FROM users WHERE email = ?1")?
        .query_row([email], |r| r.get(0))
        .optional()?;
    let revoked: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM access_grants WHERE artifact_id = ?1 AND email = ?2
              ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![artifact_id, email], |r| r.get(0))
        .optional()?;
    if let Some(id) = revoked {
        conn.prepare_cached(
            "UPDATE access_grants
                SET user_id = ?2, role = ?3, granted_by = ?4, created_at = ?5, viewed_at = NULL,
                    revoked_at = NULL
              WHERE id = ?1",
        )?
        .execute(params![id, user_id, role, granted_by, now])?;
        return get(conn, artifact_id, id);
    }
    conn.prepare_cached(
        "INSERT INTO access_grants (artifact_id, email, user_id, role, granted_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![artifact_id, email, user_id, role, granted_by, now])?;
    get(conn, artifact_id, conn.last_insert_rowid())
}

/// Active grants of an artifact, oldest first.
pub fn list(conn: &Connection, artifact_id: i64) -> StoreResult<Vec<Grant>> {
    let mut stmt = conn.prepare_cached(concat!(
        grant_select!(),
        "WHERE g.artifact_id = ?1 AND g.revoked_at IS NULL ORDER BY g.id"
    ))?;
    let rows = stmt.query_map([artifact_id], Grant::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One grant of an artifact (revoked or not).
pub fn get(conn: &Connection, artifact_id: i64, id: i64) -> StoreResult<Grant> {
    Ok(conn
        .prepare_cached(concat!(
            grant_select!(),
            "WHERE g.id = ?1 AND g.artifact_id = ?2"
        ))?
        .query_row([id, artifact_id], Grant::from_row)?)
}

/// Revokes a grant; returns whether this call did.
pub fn revoke(conn: &Connection, id: i64, now: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE access_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![id, now])?
        == 1)
}

/// Applies pending grants for `email` to the new account `user_id`; returns how many.
pub fn claim_pending(conn: &Connection, user_id: i64, email: &str) -> StoreResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE access_grants SET user_id = ?1
              WHERE email = ?2 AND user_id IS NULL AND revoked_at IS NULL",
        )?
        .execute(params![user_id, email])?)
}
