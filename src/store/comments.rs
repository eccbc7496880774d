//! Comments: feedback anchored to a passage of one file of one version, written by a user or by an
//! agent acting for them. Soft-deleted; deleting a comment hides its replies.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{StoreError, StoreResult};

/// Who wrote something: the user, and the agent when a key acted as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub user_id: i64,
    pub user_name: String,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub agent_role: Option<String>,
}

impl Author {
    /// Reads the 5 columns `user id, user name, agent id, agent name, agent role` from `at`.
    pub(crate) fn from_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Author> {
        Ok(Author {
            user_id: r.get(at)?,
            user_name: r.get(at + 1)?,
            agent_id: r.get(at + 2)?,
            agent_name: r.get(at + 3)?,
            agent_role: r.get(at + 4)?,
        })
    }

    /// Whether `user_id` acting as `agent_id` is this author (the same person, as the same agent or
    /// as themself).
    pub fn is(&self, user_id: i64, agent_id: Option<i64>) -> bool {
        self.user_id == user_id && self.agent_id == agent_id
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub artifact_id: i64,
    pub version_id: i64,
    pub version_number: i64,
    pub author: Author,
    pub content: String,
    /// The target JSON exactly as the client sent it.
    pub target: String,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<Author>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its author last changed its text, if ever.
    pub edited_at: Option<i64>,
    /// Written through the artifact's share link (by a person signed in, on the link's page).
    pub via_link: bool,
}

macro_rules! comment_select {
    () => {
        "SELECT c.id, c.artifact_id, c.version_id, v.number, c.content, c.target, c.resolved_at,
                c.created_at, c.updated_at,
                c.author_user, au.name, c.author_agent, aa.name, aa.role,
                c.resolved_user, ru.name, c.resolved_agent, ra.name, ra.role, c.edited_at, c.via_link
           FROM comments c
           JOIN versions v ON v.id = c.version_id
           JOIN users au ON au.id = c.author_user
           LEFT JOIN agents aa ON aa.id = c.author_agent
           LEFT JOIN users ru ON ru.id = c.resolved_user
           LEFT JOIN agents ra ON ra.id = c.resolved_agent "
    };
}

impl Comment {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Comment> {
        let resolved_user: Option<i64> = r.get(14)?;
        Ok(Comment {
            id: r.get(0)?,
            artifact_id: r.get(1)?,
            version_id: r.get(2)?,
            version_number: r.get(3)?,
            content: r.get(4)?,
            target: r.get(5)?,
            resolved_at: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            author: Author::from_row_at(r, 9)?,
            resolved_by: match resolved_user {
                Some(_) => Some(Author::from_row_at(r, 14)?),
                None => None,
            },
            edited_at: r.get(19)?,
            via_link: r.get(20)?,
        })
    }
}

pub struct NewComment<'a> {
    pub artifact_id: i64,
    pub version_id: i64,
    pub user_id: i64,
    pub agent_id: Option<i64>,
    pub content: &'a str,
    pub target: &'a str,
    /// Written through the artifact's share link.
    pub via_link: bool,
}

/// Stores a new comment and counts it on its version; returns its id.
pub fn insert(conn: &Connection, new: &NewComment<'_>, now: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO comments (artifact_id, version_id, author_user, author_agent, content, target, created_at, updated_at, via_link)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
    )?
    .execute(params![
        new.artifact_id,
        new.version_id,
        new.user_id,
        new.agent_id,
        new.content,
        new.target,
        now,
        new.via_link
    ])?;
    let id = conn.last_insert_rowid();
    // A new comment is live and open. Counted here rather than by a trigger: with one, SQLite
    // keeps a statement journal for every insert (see schema.sql).
    conn.prepare_cached(
        "UPDATE versions SET comment_count = comment_count + 1, unresolved_count = unresolved_count + 1
          WHERE id = ?1",
    )?
    .execute([new.version_id])?;
    Ok(id)
}

/// Which comments a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One version's.
    Version(i64),
    /// Those of every active version of an artifact.
    Artifact(i64),
}

/// Which comments by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    All,
    Open,
    Resolved,
}

impl Status {
    /// The SQL parameter: NULL for all, else whether resolved.
    pub(crate) fn resolved(self) -> Option<bool> {
        match self {
            Status::All => None,
            Status::Open => Some(false),
            Status::Resolved => Some(true),
        }
    }
}

/// The SQL condition choosing the comments `c` of a scope (?1, ?2) and status (?3), shared by the
/// comment and reply listings so both cover exactly the same threads.
macro_rules! scope_condition {
    () => {
        "c.deleted_at IS NULL
         AND c.version_id IN (SELECT sv.id FROM versions sv
                               WHERE (sv.id = ?1 OR sv.artifact_id = ?2) AND sv.deleted_at IS NULL)
         AND (?3 IS NULL OR (c.resolved_at IS NOT NULL) = ?3) "
    };
}
pub(crate) use scope_condition;

impl Scope {
    /// The two SQL parameters of `scope_condition!` (an id that matches nothing is -1).
    pub(crate) fn params(self) -> (i64, i64) {
        match self {
            Scope::Version(id) => (id, -1),
            Scope::Artifact(id) => (-1, id),
        }
    }
}

/// The live comments of a scope, oldest first, in one query.
pub fn list(conn: &Connection, scope: Scope, status: Status) -> StoreResult<Vec<Comment>> {
    let mut stmt = conn.prepare_cached(concat!(
        comment_select!(),
        "WHERE ",
        scope_condition!(),
        "ORDER BY c.id"
    ))?;
    let (version, artifact) = scope.params();
    let rows = stmt.query_map(
        params![version, artifact, status.resolved()],
        Comment::from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A live comment on a live version.
pub fn get(conn: &Connection, id: i64) -> StoreResult<Option<Comment>> {
    Ok(conn
        .prepare_cached(concat!(
            comment_select!(),
            "WHERE c.id = ?1 AND c.deleted_at IS NULL AND v.deleted_at IS NULL"
        ))?
        .query_row([id], Comment::from_row)
        .optional()?)
}

/// Sets a comment's text; returns whether it changed (the same text again leaves it as it was,
/// not marked edited).
pub fn set_content(conn: &Connection, id: i64, content: &str, now: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("UPDATE comments SET content = ?2, updated_at = ?3, edited_at = ?3 WHERE id = ?1 AND deleted_at IS NULL AND content <> ?2")?
        .execute(params![id, content, now])?;
    if n == 0
        && !conn
            .prepare_cached("SELECT 1 FROM comments WHERE id = ?1 AND deleted_at IS NULL")?
            .exists([id])?
    {
        return Err(StoreError::NotFound);
    }
    Ok(n > 0)
}

/// Resolves (recording by whom) or reopens; returns whether anything changed.
pub fn set_resolved(
    conn: &Connection,
    id: i64,
    resolved: bool,
    user_id: i64,
    agent_id: Option<i64>,
    now: i64,
) -> StoreResult<bool> {
    let n = if resolved {
        conn.prepare_cached(
            "UPDATE comments SET resolved_at = ?2, resolved_user = ?3, resolved_agent = ?4, updated_at = ?2
              WHERE id = ?1 AND deleted_at IS NULL AND resolved_at IS NULL",
        )?
        .execute(params![id, now, user_id, agent_id])?
    } else {
        conn.prepare_cached(
            "UPDATE comments SET resolved_at = NULL, resolved_user = NULL, resolved_agent = NULL, updated_at = ?2
              WHERE id = ?1 AND deleted_at IS NULL AND resolved_at IS NOT NULL",
        )?
        .execute(params![id, now])?
    };
    Ok(n == 1)
}

pub fn delete(conn: &Connection, id: i64, now: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE comments SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL")?
        .execute(params![id, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rusqlite::trace::{TraceEvent, TraceEventCodes};

    use super::*;

    static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

    fn count(event: TraceEvent<'_>) {
        if let TraceEvent::Stmt(..) = event {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A version with `n` comments, each with two replies.
    fn version_with(conn: &Connection, n: usize) -> i64 {
        conn.execute_batch(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 0, 0);
             INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at)
                 VALUES ('token-token-token', 1, 'A', 0, 0);
             INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                 VALUES (1, 1, 'html', 1, 'index.html', 0, 1);",
        )
        .expect("fixture rows");
        for i in 0..n {
            let id = insert(
                conn,
                &NewComment {
                    artifact_id: 1,
                    version_id: 1,
                    user_id: 1,
                    agent_id: None,
                    content: &format!("comment {i}"),
                    target: "{}",
                    via_link: false,
                },
                0,
            )
            .expect("comment");
            for r in 0..2 {
                super::super::replies::insert(conn, id, 1, None, &format!("reply {r}"), false, 0)
                    .expect("reply");
            }
        }
        1
    }

    #[test]
    fn listing_a_thread_runs_one_statement_per_table_however_many_comments() {
        let mut statements = Vec::new();
        for n in [1, 300] {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut conn = Connection::open(dir.path().join("t.db")).expect("open");
            super::super::schema::migrate(&mut conn).expect("schema");
            let version = version_with(&conn, n);
            conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(count));
            STATEMENTS.store(0, Ordering::SeqCst);
            let scope = Scope::Version(version);
            let comments = list(&conn, scope, Status::All).expect("comments");
            let replies = super::super::replies::list(&conn, scope, Status::All).expect("replies");
            conn.trace_v2(TraceEventCodes::empty(), None);
            assert_eq!((comments.len(), replies.len()), (n, 2 * n));
            statements.push(STATEMENTS.load(Ordering::SeqCst));
        }
        assert_eq!(
            statements,
            vec![2, 2],
            "one query for comments, one for replies"
        );
    }
}
