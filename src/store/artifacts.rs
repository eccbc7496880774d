//! Artifacts: a named thing under review, owned by one user, addressed by an unguessable share
//! token, with numbered versions. Soft-deleted.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::comments::Author;
use super::error::{StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub id: i64,
    pub share_token: String,
    pub owner_id: i64,
    pub owner_name: String,
    pub created_agent: Option<i64>,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// When its newest event happened (upload, version, comment, reply, resolution, rename...;
    /// not changes of its reviewers, which are the owner's administration).
    pub activity_at: i64,
    /// That event's id: the order of activity, without ties.
    pub activity_event: i64,
    /// The highest active version number (None only while a create is half-way).
    pub latest_version: Option<i64>,
    /// That version, with who published it.
    pub latest: Option<LatestVersion>,
    pub comment_count: i64,
    pub unresolved_count: i64,
    /// Counted views of its active versions.
    pub view_count: i64,
}

/// The latest active version of an artifact, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestVersion {
    pub number: i64,
    pub name: Option<String>,
    pub file_type: String,
    pub created_at: i64,
    pub author: Author,
}

/// What one reader has seen of an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// When they last opened its review page.
    pub last_seen_at: Option<i64>,
    /// Whether someone else (another person, or any agent) did something since.
    pub unseen: bool,
}

/// How the caller relates to an artifact they can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Reviewer => "reviewer",
        }
    }
}

macro_rules! artifact_select {
    () => {
        "SELECT a.id, a.share_token, a.owner_id, u.name, a.created_agent, a.name, a.description,
                a.created_at, a.updated_at, a.deleted_at,
                coalesce(ae.created_at, a.created_at) AS activity_at, coalesce(ae.id, 0) AS activity_event,
                (SELECT coalesce(sum(v.comment_count), 0) FROM versions v
                  WHERE v.artifact_id = a.id AND v.deleted_at IS NULL),
                (SELECT coalesce(sum(v.unresolved_count), 0) FROM versions v
                  WHERE v.artifact_id = a.id AND v.deleted_at IS NULL),
                lv.number, lv.name, lv.file_type, lv.created_at,
                lv.created_user, lu.name, lv.created_agent, la.name, la.role,
                (SELECT coalesce(sum(v.view_count), 0) FROM versions v
                  WHERE v.artifact_id = a.id AND v.deleted_at IS NULL)
           FROM artifacts a
           JOIN users u ON u.id = a.owner_id
           LEFT JOIN versions lv ON lv.id =
                (SELECT v.id FROM versions v WHERE v.artifact_id = a.id AND v.deleted_at IS NULL
                  ORDER BY v.number DESC LIMIT 1)
           LEFT JOIN users lu ON lu.id = lv.created_user
           LEFT JOIN agents la ON la.id = lv.created_agent
           LEFT JOIN audit_events ae ON ae.id =
                (SELECT max(e.id) FROM audit_events e
                  WHERE e.artifact_id = a.id AND e.action NOT LIKE 'access.%') "
    };
}

impl Artifact {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Artifact> {
        let latest_version: Option<i64> = r.get(14)?;
        let latest = match latest_version {
            Some(number) => Some(LatestVersion {
                number,
                name: r.get(15)?,
                file_type: r.get(16)?,
                created_at: r.get(17)?,
                author: Author::from_row_at(r, 18)?,
            }),
            None => None,
        };
        Ok(Artifact {
            id: r.get(0)?,
            share_token: r.get(1)?,
            owner_id: r.get(2)?,
            owner_name: r.get(3)?,
            created_agent: r.get(4)?,
            name: r.get(5)?,
            description: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            deleted_at: r.get(9)?,
            activity_at: r.get(10)?,
            activity_event: r.get(11)?,
            comment_count: r.get(12)?,
            unresolved_count: r.get(13)?,
            view_count: r.get(23)?,
            latest_version,
            latest,
        })
    }
}

pub struct NewArtifact<'a> {
    pub share_token: &'a str,
    pub owner_id: i64,
    pub agent_id: Option<i64>,
    pub name: &'a str,
    pub description: &'a str,
}

/// Creates the artifact row (its first version is added by `versions::insert`).
pub fn insert(conn: &Connection, new: &NewArtifact<'_>, now: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO artifacts (share_token, owner_id, created_agent, name, description, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        new.share_token,
        new.owner_id,
        new.agent_id,
        new.name,
        new.description,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Artifact> {
    Ok(conn
        .prepare_cached(concat!(artifact_select!(), "WHERE a.id = ?1"))?
        .query_row([id], Artifact::from_row)?)
}

/// What a caller who may see an artifact gets: the artifact, their role, and whether this is a
/// reviewer's first look (their grant is not yet marked viewed).
#[derive(Debug, Clone)]
pub struct Visible {
    pub artifact: Artifact,
    pub role: Role,
    pub first_view: bool,
}

/// The artifact with this share token if `user_id` may see it. Anyone else gets `None`, exactly as
/// if it did not exist.
pub fn visible(conn: &Connection, share_token: &str, user_id: i64) -> StoreResult<Option<Visible>> {
    let found = conn
        .prepare_cached(concat!(
            artifact_select!(),
            "WHERE a.share_token = ?1 AND a.deleted_at IS NULL"
        ))?
        .query_row([share_token], Artifact::from_row)
        .optional()?;
    match found {
        Some(artifact) => with_role(conn, artifact, user_id),
        None => Ok(None),
    }
}

/// Like `visible`, by artifact id.
pub fn visible_by_id(conn: &Connection, id: i64, user_id: i64) -> StoreResult<Option<Visible>> {
    let found = conn
        .prepare_cached(concat!(
            artifact_select!(),
            "WHERE a.id = ?1 AND a.deleted_at IS NULL"
        ))?
        .query_row([id], Artifact::from_row)
        .optional()?;
    match found {
        Some(artifact) => with_role(conn, artifact, user_id),
        None => Ok(None),
    }
}

fn with_role(conn: &Connection, artifact: Artifact, user_id: i64) -> StoreResult<Option<Visible>> {
    if artifact.owner_id == user_id {
        return Ok(Some(Visible {
            artifact,
            role: Role::Owner,
            first_view: false,
        }));
    }
    let grant: Option<Option<i64>> = conn
        .prepare_cached(
            "SELECT viewed_at FROM access_grants
              WHERE artifact_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        )?
        .query_row([artifact.id, user_id], |r| r.get(0))
        .optional()?;
    Ok(grant.map(|viewed_at| Visible {
        artifact,
        role: Role::Reviewer,
        first_view: viewed_at.is_none(),
    }))
}

/// How a listing is ordered, and where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest created first; the page starts below this id.
    Created { before: Option<i64> },
    /// Newest activity first; the page starts below this (newest event id, artifact id).
    Activity { before: Option<(i64, i64)> },
}

/// Artifacts the user owns or reviews, in `order`, whose name contains `name_filter` (ignoring
/// ASCII case), at most `limit`, each with the user's role and what they have seen of it.
pub fn list_visible(
    conn: &Connection,
    user_id: i64,
    order: Order,
    name_filter: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<(Artifact, Role, Seen)>> {
    let (by_activity, before_id, before_event) = match order {
        Order::Created { before } => (false, before, None),
        Order::Activity { before } => (true, before.map(|b| b.1), before.map(|b| b.0)),
    };
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT l.*, r.seen_at,
                EXISTS (SELECT 1 FROM audit_events e
                         WHERE e.artifact_id = l.id AND e.id > coalesce(r.seen_event, 0)
                           AND e.action NOT LIKE 'access.%'
                           AND NOT (e.user_id = ?1 AND e.agent_id IS NULL))
           FROM (",
        artifact_select!(),
        "WHERE a.deleted_at IS NULL
                   AND (a.owner_id = ?1 OR a.id IN
                        (SELECT g.artifact_id FROM access_grants g
                          WHERE g.user_id = ?1 AND g.revoked_at IS NULL))
                   AND (?5 IS NULL OR instr(fold(a.name), fold(?5)) > 0)) l
           LEFT JOIN artifact_reads r ON r.user_id = ?1 AND r.artifact_id = l.id
          WHERE (?2 = 0 AND (?3 IS NULL OR l.id < ?3))
             OR (?2 = 1 AND (?4 IS NULL OR l.activity_event < ?4 OR (l.activity_event = ?4 AND l.id < ?3)))
          ORDER BY CASE WHEN ?2 = 1 THEN l.activity_event END DESC, l.id DESC
          LIMIT ?6"
    ))?;
    let rows = stmt.query_map(
        params![
            user_id,
            by_activity,
            before_id,
            before_event,
            name_filter,
            limit
        ],
        |r| {
            let artifact = Artifact::from_row(r)?;
            let seen = Seen {
                last_seen_at: r.get(24)?,
                unseen: r.get(25)?,
            };
            Ok((artifact, seen))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (artifact, seen) = row?;
        let role = if artifact.owner_id == user_id {
            Role::Owner
        } else {
            Role::Reviewer
        };
        out.push((artifact, role, seen));
    }
    Ok(out)
}

/// Changes the name and/or description.
pub fn update(
    conn: &Connection,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
    now: i64,
) -> StoreResult<Artifact> {
    let n = conn
        .prepare_cached(
            "UPDATE artifacts SET name = coalesce(?2, name), description = coalesce(?3, description),
                    updated_at = ?4
              WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .execute(params![id, name, description, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    get(conn, id)
}

/// Soft-deletes the artifact; its files stop being served at once.
pub fn delete(conn: &Connection, id: i64, now: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE artifacts SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1 AND deleted_at IS NULL")?
        .execute(params![id, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Lets go of the files of every version of a deleted artifact (it cannot be restored): they stop
/// counting in its owner's storage. Returns the contents they used, for `Store::remove_if_unused`
/// (other versions, of this account or another, may use them too).
pub fn drop_files(conn: &Connection, id: i64) -> StoreResult<Vec<super::staging::Sha256>> {
    let hashes = conn
        .prepare_cached(
            "SELECT DISTINCT b.sha256 FROM versions v
               JOIN version_files f ON f.version_id = v.id
               JOIN blobs b ON b.id = f.blob_id
              WHERE v.artifact_id = ?1",
        )?
        .query_map([id], |r| r.get::<_, Vec<u8>>(0))?
        .map(|hash| {
            let hash = hash?;
            hash.as_slice().try_into().map_err(|_| {
                StoreError::Task(format!("a stored content hash has {} bytes", hash.len()))
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    conn.prepare_cached(
        "DELETE FROM version_files WHERE version_id IN (SELECT id FROM versions WHERE artifact_id = ?1)",
    )?
    .execute([id])?;
    Ok(hashes)
}

/// Takes the next version number (numbers only grow; a deleted number is never reused).
pub fn take_version_number(conn: &Connection, id: i64, now: i64) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE artifacts SET next_version = next_version + 1, updated_at = ?2
              WHERE id = ?1 AND deleted_at IS NULL
          RETURNING next_version - 1",
        )?
        .query_row(params![id, now], |r| r.get(0))?)
}

/// What a write needs to know about a caller's access to an artifact, in one indexed lookup
/// (without the listing's counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub artifact_id: i64,
    pub role: Role,
    pub first_view: bool,
}

/// Whether the artifact of this share token was deleted (its row stays, with `deleted_at`).
pub fn was_deleted(conn: &Connection, share_token: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM artifacts WHERE share_token = ?1 AND deleted_at IS NOT NULL)",
        )?
        .query_row([share_token], |r| r.get(0))?)
}

/// The caller's access to the live artifact with this share token, if any.
pub fn access(conn: &Connection, share_token: &str, user_id: i64) -> StoreResult<Option<Access>> {
    let row: Option<(i64, i64, Option<i64>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT a.id, a.owner_id, g.id, g.viewed_at
               FROM artifacts a
               LEFT JOIN access_grants g
                      ON g.artifact_id = a.id AND g.user_id = ?2 AND g.revoked_at IS NULL
              WHERE a.share_token = ?1 AND a.deleted_at IS NULL",
        )?
        .query_row(params![share_token, user_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    Ok(row.and_then(|(artifact_id, owner, grant, viewed_at)| {
        Access::of(artifact_id, owner, grant, viewed_at, user_id)
    }))
}

/// The caller's access to the live artifact `artifact_id`, if any: checked inside a write on
/// something of the artifact (a reply, an edit, a version's name), so that one which raced the
/// artifact's deletion or the caller's removal stores nothing.
pub fn access_by_id(
    conn: &Connection,
    artifact_id: i64,
    user_id: i64,
) -> StoreResult<Option<Access>> {
    let row: Option<(i64, Option<i64>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT a.owner_id, g.id, g.viewed_at
               FROM artifacts a
               LEFT JOIN access_grants g
                      ON g.artifact_id = a.id AND g.user_id = ?2 AND g.revoked_at IS NULL
              WHERE a.id = ?1 AND a.deleted_at IS NULL",
        )?
        .query_row(params![artifact_id, user_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    Ok(row.and_then(|(owner, grant, viewed_at)| {
        Access::of(artifact_id, owner, grant, viewed_at, user_id)
    }))
}

/// `NotFound` unless `user_id` owns the live artifact `artifact_id`: checked inside an owner's
/// write (a version renamed, deleted or restored, a reviewer added or removed).
pub fn still_owned(conn: &Connection, artifact_id: i64, user_id: i64) -> StoreResult<()> {
    match access_by_id(conn, artifact_id, user_id)? {
        Some(Access {
            role: Role::Owner, ..
        }) => Ok(()),
        _ => Err(StoreError::NotFound),
    }
}

impl Access {
    /// From the artifact's owner and the caller's grant, if any; None when the caller is neither.
    fn of(
        artifact_id: i64,
        owner: i64,
        grant: Option<i64>,
        viewed_at: Option<i64>,
        user_id: i64,
    ) -> Option<Access> {
        if owner == user_id {
            return Some(Access {
                artifact_id,
                role: Role::Owner,
                first_view: false,
            });
        }
        grant.map(|_| Access {
            artifact_id,
            role: Role::Reviewer,
            first_view: viewed_at.is_none(),
        })
    }
}

/// Records that a reviewer opened the artifact (their grant moves from "added" to "viewed").
pub fn mark_viewed(conn: &Connection, artifact_id: i64, user_id: i64, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE access_grants SET viewed_at = ?3
          WHERE artifact_id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND viewed_at IS NULL",
    )?
    .execute(params![artifact_id, user_id, now])?;
    Ok(())
}
