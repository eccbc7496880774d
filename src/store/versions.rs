//! Versions of an artifact: numbered from 1, only growing; soft-deleted and restorable, never the
//! last active one.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: i64,
    pub artifact_id: i64,
    pub number: i64,
    pub name: Option<String>,
    pub file_type: String,
    pub size: i64,
    pub entry_point: String,
    pub created_at: i64,
    pub created_user: i64,
    pub created_user_name: String,
    pub created_agent: Option<i64>,
    pub created_agent_name: Option<String>,
    pub created_agent_role: Option<String>,
    pub deleted_at: Option<i64>,
}

macro_rules! version_select {
    () => {
        "SELECT v.id, v.artifact_id, v.number, v.name, v.file_type, v.size, v.entry_point, v.created_at,
                v.created_user, u.name, v.created_agent, ag.name, ag.role, v.deleted_at
           FROM versions v JOIN users u ON u.id = v.created_user
           LEFT JOIN agents ag ON ag.id = v.created_agent "
    };
}

impl Version {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Version> {
        Ok(Version {
            id: r.get(0)?,
            artifact_id: r.get(1)?,
            number: r.get(2)?,
            name: r.get(3)?,
            file_type: r.get(4)?,
            size: r.get(5)?,
            entry_point: r.get(6)?,
            created_at: r.get(7)?,
            created_user: r.get(8)?,
            created_user_name: r.get(9)?,
            created_agent: r.get(10)?,
            created_agent_name: r.get(11)?,
            created_agent_role: r.get(12)?,
            deleted_at: r.get(13)?,
        })
    }
}

pub struct NewVersion<'a> {
    pub artifact_id: i64,
    pub number: i64,
    pub name: Option<&'a str>,
    pub file_type: &'a str,
    pub size: u64,
    pub entry_point: &'a str,
    pub user_id: i64,
    pub agent_id: Option<i64>,
}

pub fn insert(conn: &Connection, new: &NewVersion<'_>, now: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO versions (artifact_id, number, name, file_type, size, entry_point, created_at,
                               created_user, created_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        new.artifact_id,
        new.number,
        new.name,
        new.file_type,
        new.size as i64,
        new.entry_point,
        now,
        new.user_id,
        new.agent_id
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Active versions, ascending.
pub fn list_active(conn: &Connection, artifact_id: i64) -> StoreResult<Vec<Version>> {
    let mut stmt = conn.prepare_cached(concat!(
        version_select!(),
        "WHERE v.artifact_id = ?1 AND v.deleted_at IS NULL ORDER BY v.number"
    ))?;
    let rows = stmt.query_map([artifact_id], Version::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A version by number, deleted or not.
pub fn by_number(conn: &Connection, artifact_id: i64, number: i64) -> StoreResult<Option<Version>> {
    Ok(conn
        .prepare_cached(concat!(
            version_select!(),
            "WHERE v.artifact_id = ?1 AND v.number = ?2"
        ))?
        .query_row([artifact_id, number], Version::from_row)
        .optional()?)
}

/// An active version by number.
pub fn active(conn: &Connection, artifact_id: i64, number: i64) -> StoreResult<Option<Version>> {
    Ok(by_number(conn, artifact_id, number)?.filter(|v| v.deleted_at.is_none()))
}

/// The newest active version.
pub fn latest(conn: &Connection, artifact_id: i64) -> StoreResult<Option<Version>> {
    Ok(conn
        .prepare_cached(concat!(
            version_select!(),
            "WHERE v.artifact_id = ?1 AND v.deleted_at IS NULL ORDER BY v.number DESC LIMIT 1"
        ))?
        .query_row([artifact_id], Version::from_row)
        .optional()?)
}

/// The id and number of the newest active version (without the attribution joins of `latest`).
pub fn latest_id(conn: &Connection, artifact_id: i64) -> StoreResult<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, number FROM versions
              WHERE artifact_id = ?1 AND deleted_at IS NULL ORDER BY number DESC LIMIT 1",
        )?
        .query_row([artifact_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn rename(conn: &Connection, id: i64, name: Option<&str>) -> StoreResult<()> {
    conn.prepare_cached("UPDATE versions SET name = ?2 WHERE id = ?1")?
        .execute(params![id, name])?;
    Ok(())
}

/// Soft-deletes a version; refused (`last_active_version`) when it is the only active one. Returns
/// whether this call deleted it (false when it already was).
pub fn delete(conn: &Connection, version: &Version, now: i64) -> StoreResult<bool> {
    if version.deleted_at.is_some() {
        return Ok(false);
    }
    let active: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM versions WHERE artifact_id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([version.artifact_id], |r| r.get(0))?;
    if active <= 1 {
        return Err(StoreError::Refused {
            code: "last_active_version",
            message: format!(
                "version {} is the last active version; an artifact keeps at least one (publish another version first, or delete the artifact)",
                version.number
            ),
        });
    }
    conn.prepare_cached("UPDATE versions SET deleted_at = ?2 WHERE id = ?1")?
        .execute(params![version.id, now])?;
    Ok(true)
}

/// Restores a soft-deleted version; returns whether this call restored it.
pub fn restore(conn: &Connection, id: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE versions SET deleted_at = NULL WHERE id = ?1 AND deleted_at IS NOT NULL",
        )?
        .execute([id])?
        == 1)
}
