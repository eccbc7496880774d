//! The audit trail: who did what, through which key or session, from where, when. Append-only
//! (the schema's triggers refuse UPDATE and DELETE).

use rusqlite::{params, Connection, Row};

use super::error::StoreResult;

/// Who is acting, as the audit trail records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCtx {
    pub user_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub key_id: Option<i64>,
    pub session_id: Option<i64>,
    pub ip: Option<String>,
}

/// One recorded event, with the names of who acted.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub created_at: i64,
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    pub key_prefix: Option<String>,
    pub session_id: Option<i64>,
    pub ip: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub detail: Option<String>,
}

impl Event {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
        Ok(Event {
            id: r.get(0)?,
            created_at: r.get(1)?,
            user_id: r.get(2)?,
            user_name: r.get(3)?,
            agent_id: r.get(4)?,
            agent_name: r.get(5)?,
            key_id: r.get(6)?,
            key_name: r.get(7)?,
            key_prefix: r.get(8)?,
            session_id: r.get(9)?,
            ip: r.get(10)?,
            action: r.get(11)?,
            object_type: r.get(12)?,
            object_id: r.get(13)?,
            detail: r.get(14)?,
        })
    }
}

/// Appends an event. `detail` is a JSON object and must never hold a secret.
pub fn record(
    conn: &Connection,
    ctx: &AuditCtx,
    action: &str,
    object: (&str, &str),
    detail: &serde_json::Value,
    now: i64,
) -> StoreResult<()> {
    let detail = if detail.is_null() {
        None
    } else {
        Some(detail.to_string())
    };
    conn.prepare_cached(
        "INSERT INTO audit_events
           (created_at, user_id, agent_id, key_id, session_id, ip, action, object_type, object_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        now,
        ctx.user_id,
        ctx.agent_id,
        ctx.key_id,
        ctx.session_id,
        ctx.ip,
        action,
        object.0,
        object.1,
        detail
    ])?;
    Ok(())
}

/// The user's events, newest first, optionally only those made with one key, before event id
/// `before` (the cursor), at most `limit`.
pub fn list(
    conn: &Connection,
    user_id: i64,
    key_id: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.created_at, e.user_id, u.name, e.agent_id, a.name, e.key_id, k.name, k.prefix,
                e.session_id, e.ip, e.action, e.object_type, e.object_id, e.detail
           FROM audit_events e
           LEFT JOIN users u ON u.id = e.user_id
           LEFT JOIN agents a ON a.id = e.agent_id
           LEFT JOIN api_keys k ON k.id = e.key_id
          WHERE e.user_id = ?1
            AND (?2 IS NULL OR e.key_id = ?2)
            AND (?3 IS NULL OR e.id < ?3)
          ORDER BY e.id DESC
          LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![user_id, key_id, before, limit], Event::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
