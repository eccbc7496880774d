//! Creating and upgrading the schema (`schema.sql`), versioned with `PRAGMA user_version`, and the
//! per-connection settings every connection gets.

use rusqlite::{Connection, TransactionBehavior};

use super::error::{StoreError, StoreResult};

/// The schema version this binary writes and understands.
pub const SCHEMA_VERSION: i64 = 3;

const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// Version 2: audit events know their artifact (the artifact's event stream and its newest
/// activity), and people when they last opened each artifact. Existing events are linked to
/// their artifact through the object they name; the append-only trigger is lifted for that one
/// update and put back.
const TO_2: &str = "
    ALTER TABLE audit_events ADD COLUMN artifact_id INTEGER REFERENCES artifacts (id);
    DROP TRIGGER audit_events_no_update;
    UPDATE audit_events SET artifact_id = CASE object_type
        WHEN 'artifact' THEN (SELECT a.id FROM artifacts a WHERE a.id = CAST(audit_events.object_id AS INTEGER))
        WHEN 'version' THEN (SELECT v.artifact_id FROM versions v WHERE v.id = CAST(audit_events.object_id AS INTEGER))
        WHEN 'comment' THEN (SELECT c.artifact_id FROM comments c WHERE c.id = CAST(audit_events.object_id AS INTEGER))
        WHEN 'reply' THEN (SELECT c.artifact_id FROM replies r JOIN comments c ON c.id = r.comment_id
                            WHERE r.id = CAST(audit_events.object_id AS INTEGER))
        WHEN 'access' THEN (SELECT g.artifact_id FROM access_grants g WHERE g.id = CAST(audit_events.object_id AS INTEGER))
        END
     WHERE object_type IN ('artifact', 'version', 'comment', 'reply', 'access');
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN
        SELECT RAISE(ABORT, 'audit events are append-only');
    END;
    CREATE INDEX audit_by_artifact ON audit_events (artifact_id, id) WHERE artifact_id IS NOT NULL;
    CREATE TABLE artifact_reads (
        user_id     INTEGER NOT NULL REFERENCES users (id),
        artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
        seen_at     INTEGER NOT NULL,
        seen_event  INTEGER NOT NULL,
        PRIMARY KEY (user_id, artifact_id)
    ) WITHOUT ROWID;
";

/// Version 3: an invite can be for one email address; only such an invite lets the new account
/// claim the access grants waiting for that address. Existing invites stay generic links.
const TO_3: &str = "
    ALTER TABLE invites ADD COLUMN email TEXT;
";

/// Settings for every connection: WAL (set once per file, harmless to repeat), foreign keys, a busy
/// timeout so a concurrent writer (the CLI while the server runs) waits instead of failing.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// Reads the schema version from the file and checks it is the one this binary writes (a cheap
/// read that reaches the database, for the health check).
pub fn check_version(conn: &Connection) -> StoreResult<()> {
    let found: i64 = conn
        .prepare_cached("PRAGMA user_version")?
        .query_row([], |r| r.get(0))?;
    if found == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(StoreError::Task(format!(
            "the database is at schema version {found}, not {SCHEMA_VERSION}"
        )))
    }
}

/// Brings the file to `SCHEMA_VERSION`, or refuses a file written by a newer binary.
/// A database in memory with the whole schema, for unit tests of the store's SQL.
#[cfg(test)]
pub fn in_memory() -> Connection {
    let conn = Connection::open_in_memory().expect("an in-memory database");
    conn.execute_batch(SCHEMA_SQL).expect("the schema applies");
    conn
}

pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == 0 {
        tx.execute_batch(SCHEMA_SQL)?;
        log::info!("created database schema version {SCHEMA_VERSION}");
    }
    if (1..2).contains(&found) {
        tx.execute_batch(TO_2)?;
        log::info!("upgraded the database schema from version {found} to 2");
    }
    if (1..3).contains(&found) {
        tx.execute_batch(TO_3)?;
        log::info!("upgraded the database schema from version {found} to 3");
    }
    // Later versions add `if (1..N).contains(&found) { ... }` steps here, oldest first.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as version 1 shipped it.
    const SCHEMA_V1: &str = include_str!("../../tests/fixtures/schema-v1.sql");
    /// The schema as version 2 shipped it.
    const SCHEMA_V2: &str = include_str!("../../tests/fixtures/schema-v2.sql");

    /// A database made with an older `schema` holding `rows` (which set its `user_version`), then
    /// brought up to date by `migrate`.
    fn upgraded(schema: &str, rows: &str) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(schema).expect("old schema");
            conn.execute_batch(rows).expect("old rows");
        }
        let mut conn = Connection::open(&path).expect("reopen");
        migrate(&mut conn).expect("upgrade");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        (dir, conn)
    }

    #[test]
    fn a_version_2_database_is_upgraded_with_its_invites_kept_as_generic_links() {
        let (_dir, conn) = upgraded(
            SCHEMA_V2,
            "PRAGMA user_version = 2;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
             INSERT INTO invites (token_hash, role, created_by, created_at, expires_at)
                 VALUES (zeroblob(32), 'member', 1, 10, 20);",
        );
        let email: Option<String> = conn
            .query_row("SELECT email FROM invites WHERE id = 1", [], |r| r.get(0))
            .expect("the invite survives");
        assert_eq!(email, None, "an old invite is a generic link");
        conn.execute(
            "INSERT INTO invites (token_hash, role, created_by, created_at, expires_at, email)
             VALUES (randomblob(32), 'member', 1, 30, 40, 'carol@example.com')",
            [],
        )
        .expect("new invites name their email");
        check_version(&conn).expect("the health check's read agrees");
        // A fresh database and an upgraded one have the same invites table.
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        let columns = |c: &Connection| -> Vec<String> {
            c.prepare("SELECT name FROM pragma_table_info('invites') ORDER BY cid")
                .expect("columns")
                .query_map([], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        assert_eq!(columns(&conn), columns(&fresh));
    }

    #[test]
    fn a_version_1_database_is_upgraded_with_its_events_linked_to_their_artifacts() {
        let (_dir, conn) = upgraded(
            SCHEMA_V1,
            "PRAGMA user_version = 1;
                 INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                     VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
                 INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at)
                     VALUES ('token-token-token', 1, 'Report', 10, 20);
                 INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                     VALUES (1, 1, 'html', 1, 'index.html', 10, 1);
                 INSERT INTO comments (artifact_id, version_id, author_user, content, target, created_at, updated_at)
                     VALUES (1, 1, 1, 'Looks good', '{}', 30, 30);
                 INSERT INTO replies (comment_id, author_user, content, created_at, updated_at)
                     VALUES (1, 1, 'Thanks', 40, 40);
                 INSERT INTO audit_events (created_at, user_id, action, object_type, object_id)
                     VALUES (10, 1, 'artifact.created', 'artifact', '1'),
                            (10, 1, 'version.created', 'version', '1'),
                            (30, 1, 'comment.created', 'comment', '1'),
                            (40, 1, 'reply.created', 'reply', '1'),
                            (50, 1, 'key.created', 'key', '7');",
        );
        let linked: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT action, artifact_id FROM audit_events ORDER BY id")
            .expect("query")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            linked,
            vec![
                ("artifact.created".to_string(), Some(1)),
                ("version.created".to_string(), Some(1)),
                ("comment.created".to_string(), Some(1)),
                ("reply.created".to_string(), Some(1)),
                ("key.created".to_string(), None),
            ]
        );
        assert!(
            conn.execute("UPDATE audit_events SET action = 'x'", [])
                .is_err(),
            "the audit trail is append-only again"
        );
    }
}
