//! Agents: named personas under one user. Soft-deleted; deleting one revokes its keys. A user's
//! active agents have distinct names, compared with full Unicode case folding (`Claude` and
//! `claude`, `Straße` and `STRASSE` are one name); checked inside the writer's transaction, so two
//! requests racing for a name get one agent. Duplicates made before the rule stay.

use rusqlite::{params, Connection, Row};

use super::audit::{self, AuditCtx, AuditEvent};
use super::error::{StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub role: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

macro_rules! agent_columns {
    () => {
        "a.id, a.user_id, a.name, a.role, a.created_at, a.updated_at, a.deleted_at"
    };
}

impl Agent {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Agent> {
        Ok(Agent {
            id: r.get(0)?,
            user_id: r.get(1)?,
            name: r.get(2)?,
            role: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
            deleted_at: r.get(6)?,
        })
    }
}

/// Whether two agent names are one name as people read them (full Unicode case folding, accents
/// composed or not: `text::folded`).
fn same_name(a: &str, b: &str) -> bool {
    crate::text::folded(a.trim()) == crate::text::folded(b.trim())
}

/// Refused (`agent_name_taken`, with the holder's id) when another active agent of the user,
/// not `except`, has this name ignoring case, or one drawn alike (`text::look_alike`: the
/// approver of a key request for "Сlaude" with a Cyrillic "С" must not take it for their Claude).
fn check_name_free(
    conn: &Connection,
    user_id: i64,
    name: &str,
    except: Option<i64>,
) -> StoreResult<()> {
    let taken = list(conn, user_id)?
        .into_iter()
        .find(|a| Some(a.id) != except && crate::text::look_alike(a.name.trim(), name.trim()));
    let Some(existing) = taken else {
        return Ok(());
    };
    let message = if same_name(&existing.name, name) {
        format!(
            "you already have an agent named {:?} (id {}); agent names are unique per account, ignoring case: use that agent, rename it, or choose another name",
            existing.name, existing.id
        )
    } else {
        format!(
            "{name:?} looks the same as the name of your agent {:?} (id {}) but is spelled with other characters (letters of another script, or look-alike signs); agent names that look alike are one name: use that agent, or choose a name that reads differently",
            existing.name, existing.id
        )
    };
    Err(StoreError::Duplicate {
        code: "agent_name_taken",
        message,
        existing_id: existing.id,
    })
}

/// Creates an agent; refused when the user has one of that name (see `check_name_free`).
pub fn insert(
    conn: &Connection,
    user_id: i64,
    name: &str,
    role: Option<&str>,
    now: i64,
) -> StoreResult<Agent> {
    check_name_free(conn, user_id, name, None)?;
    conn.prepare_cached(
        "INSERT INTO agents (user_id, name, role, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![user_id, name, role, now])?;
    get(conn, user_id, conn.last_insert_rowid())
}

/// The user's active agent with this name, compared as people read names (Unicode case folding:
/// "claude" is "Claude"), if any.
pub fn find_by_name(conn: &Connection, user_id: i64, name: &str) -> StoreResult<Option<Agent>> {
    Ok(list(conn, user_id)?
        .into_iter()
        .find(|a| same_name(&a.name, name)))
}

/// An active agent of the user whose name looks like `name` without being it (`text::look_alike`
/// but not `same_name`): the agent a key request under a look-alike name might pass for.
pub fn find_look_alike(conn: &Connection, user_id: i64, name: &str) -> StoreResult<Option<Agent>> {
    Ok(list(conn, user_id)?
        .into_iter()
        .find(|a| !same_name(&a.name, name) && crate::text::look_alike(a.name.trim(), name.trim())))
}

/// Creates an agent and records `agent.created` (`via`: where it came from when not the API).
pub fn create(
    conn: &Connection,
    user_id: i64,
    name: &str,
    role: Option<&str>,
    ctx: &AuditCtx,
    via: Option<&str>,
    now: i64,
) -> StoreResult<Agent> {
    let agent = insert(conn, user_id, name, role, now)?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::AgentCreated {
            agent_id: agent.id,
            name: &agent.name,
            role: agent.role.as_deref(),
            via,
        },
        now,
    )?;
    Ok(agent)
}

/// The user's active agents, oldest first.
pub fn list(conn: &Connection, user_id: i64) -> StoreResult<Vec<Agent>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        agent_columns!(),
        " FROM agents a WHERE a.user_id = ?1 AND a.deleted_at IS NULL ORDER BY a.id"
    ))?;
    let rows = stmt.query_map([user_id], Agent::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One active agent of this user; `NotFound` for anyone else's or a deleted one.
pub fn get(conn: &Connection, user_id: i64, id: i64) -> StoreResult<Agent> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents a WHERE a.id = ?1 AND a.user_id = ?2 AND a.deleted_at IS NULL"
        ))?
        .query_row([id, user_id], Agent::from_row)?)
}

/// The user's active agents with this name, ignoring case (for the CLI's `--agent NAME`; more
/// than one only when duplicates predate the rule).
pub fn by_name(conn: &Connection, user_id: i64, name: &str) -> StoreResult<Vec<Agent>> {
    Ok(list(conn, user_id)?
        .into_iter()
        .filter(|a| same_name(&a.name, name))
        .collect())
}

/// Renames and/or changes the role. `role: Some(None)` clears it. A new name must be free (see
/// `check_name_free`).
pub fn update(
    conn: &Connection,
    user_id: i64,
    id: i64,
    name: Option<&str>,
    role: Option<Option<&str>>,
    now: i64,
) -> StoreResult<Agent> {
    let current = get(conn, user_id, id)?;
    // Keeping its own name (even a duplicate from before the rule) is always allowed.
    if let Some(new) = name.filter(|n| *n != current.name) {
        check_name_free(conn, user_id, new, Some(id))?;
    }
    let name = name.unwrap_or(&current.name);
    let role = role.unwrap_or(current.role.as_deref());
    conn.prepare_cached("UPDATE agents SET name = ?2, role = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, name, role, now])?;
    get(conn, user_id, id)
}

/// Soft-deletes the agent, revokes its active keys and withdraws approved requests for it whose
/// key was not collected yet; returns the agent as it was and the ids of
/// the keys revoked.
pub fn delete(
    conn: &Connection,
    user_id: i64,
    id: i64,
    now: i64,
) -> StoreResult<(Agent, Vec<i64>)> {
    let agent = get(conn, user_id, id)?;
    let revoked = super::keys::revoke_for_agent(conn, id, user_id, now)?;
    super::key_requests::withdraw(conn, super::key_requests::Withdrawn::ForAgent(id))?;
    conn.prepare_cached("UPDATE agents SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok((agent, revoked))
}
