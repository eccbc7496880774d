//! Agent key requests (a device flow, as in RFC 8628): asked for by an agent without a key,
//! approved or denied by a signed-in person who types the user code, delivered once to the agent
//! that polls with its poll token. Both codes are stored as SHA-256 only; the key itself is made
//! at delivery (see `api::key_requests`), so it is never stored in clear.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub id: i64,
    pub agent_name: String,
    pub role: Option<String>,
    pub scopes: String,
    pub expires_in_days: Option<i64>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_polled_at: Option<i64>,
    /// `pending`, `approved`, `denied` or `delivered`.
    pub status: String,
    pub decided_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub agent_id: Option<i64>,
    pub key_id: Option<i64>,
}

impl KeyRequest {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<KeyRequest> {
        Ok(KeyRequest {
            id: r.get(0)?,
            agent_name: r.get(1)?,
            role: r.get(2)?,
            scopes: r.get(3)?,
            expires_in_days: r.get(4)?,
            client_ip: r.get(5)?,
            user_agent: r.get(6)?,
            created_at: r.get(7)?,
            expires_at: r.get(8)?,
            last_polled_at: r.get(9)?,
            status: r.get(10)?,
            decided_at: r.get(11)?,
            decided_by: r.get(12)?,
            agent_id: r.get(13)?,
            key_id: r.get(14)?,
        })
    }

    /// Whether it can no longer be approved or delivered at `now`.
    pub fn expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

const SELECT: &str = "SELECT id, agent_name, role, scopes, expires_in_days, client_ip, user_agent,
                             created_at, expires_at, last_polled_at, status, decided_at, decided_by,
                             agent_id, key_id
                        FROM key_requests ";

pub struct NewRequest<'a> {
    pub user_code_hash: &'a [u8; 32],
    pub poll_hash: &'a [u8; 32],
    pub agent_name: &'a str,
    pub role: Option<&'a str>,
    pub scopes: &'a str,
    pub expires_in_days: Option<i64>,
    pub client_ip: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Requests still waiting (not decided, not expired) from one address, and from everyone.
pub fn pending_counts(conn: &Connection, client_ip: &str, now: i64) -> StoreResult<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE client_ip = ?1), count(*)
               FROM key_requests WHERE status = 'pending' AND expires_at > ?2",
        )?
        .query_row(params![client_ip, now], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Records a request; requests that ended a day ago or more are cleared first (their outcome is
/// in the audit trail).
pub fn insert(
    conn: &Connection,
    new: &NewRequest<'_>,
    now: i64,
    expires_at: i64,
) -> StoreResult<KeyRequest> {
    conn.prepare_cached(
        "DELETE FROM key_requests WHERE expires_at < ?1 AND key_id IS NULL AND agent_id IS NULL",
    )?
    .execute([now - crate::clock::DAY_MS])?;
    conn.prepare_cached(
        "INSERT INTO key_requests (user_code_hash, poll_hash, agent_name, role, scopes,
                                   expires_in_days, client_ip, user_agent, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        &new.user_code_hash[..],
        &new.poll_hash[..],
        new.agent_name,
        new.role,
        new.scopes,
        new.expires_in_days,
        new.client_ip,
        new.user_agent,
        now,
        expires_at
    ])?;
    get(conn, conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<KeyRequest> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], KeyRequest::from_row)?)
}

/// The request with this user code's digest.
pub fn by_user_code(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<KeyRequest>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE user_code_hash = ?1"))?
        .query_row([&hash[..]], KeyRequest::from_row)
        .optional()?)
}

/// The request with this poll token's digest.
pub fn by_poll_token(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<KeyRequest>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE poll_hash = ?1"))?
        .query_row([&hash[..]], KeyRequest::from_row)
        .optional()?)
}

/// Records a poll.
pub fn polled(conn: &Connection, id: i64, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE key_requests SET last_polled_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Approves (with the identity the key will act as) or denies a pending request; false when it
/// was no longer pending.
pub fn decide(
    conn: &Connection,
    id: i64,
    approved: bool,
    by: i64,
    agent_id: Option<i64>,
    now: i64,
) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE key_requests SET status = ?2, decided_at = ?3, decided_by = ?4, agent_id = ?5
              WHERE id = ?1 AND status = 'pending' AND expires_at > ?3",
        )?
        .execute(params![
            id,
            if approved { "approved" } else { "denied" },
            now,
            by,
            agent_id
        ])?
        == 1)
}

/// Whose approvals to withdraw: a member's (removed from the server) or those for an agent
/// (deleted), while their keys are not collected yet.
#[derive(Debug, Clone, Copy)]
pub enum Withdrawn {
    ApprovedBy(i64),
    ForAgent(i64),
}

/// Turns approved requests whose key was not collected yet into denied ones: the key they would
/// make would outlive what the approval stood on. Returns how many.
pub fn withdraw(conn: &Connection, which: Withdrawn) -> StoreResult<usize> {
    let (sql, id) = match which {
        Withdrawn::ApprovedBy(user_id) => (
            "UPDATE key_requests SET status = 'denied' WHERE status = 'approved' AND decided_by = ?1",
            user_id,
        ),
        Withdrawn::ForAgent(agent_id) => (
            "UPDATE key_requests SET status = 'denied' WHERE status = 'approved' AND agent_id = ?1",
            agent_id,
        ),
    };
    Ok(conn.prepare_cached(sql)?.execute(params![id])?)
}

/// Marks an approved request as delivered with its key; false when it was not waiting for that.
pub fn delivered(conn: &Connection, id: i64, key_id: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE key_requests SET status = 'delivered', key_id = ?2
              WHERE id = ?1 AND status = 'approved'",
        )?
        .execute(params![id, key_id])?
        == 1)
}
