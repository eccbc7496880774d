//! Creating and upgrading the schema (`schema.sql`), versioned with `PRAGMA user_version`, and the
//! per-connection settings every connection gets.

use rusqlite::{Connection, TransactionBehavior};

use super::error::{StoreError, StoreResult};

/// The schema version this binary writes and understands.
pub const SCHEMA_VERSION: i64 = 9;

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

/// Version 4: share links, and counted views (with a count per version).
const TO_4: &str = "
    ALTER TABLE versions ADD COLUMN view_count INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE share_links (
        id             INTEGER PRIMARY KEY,
        artifact_id    INTEGER NOT NULL UNIQUE REFERENCES artifacts (id),
        token_hash     BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
        token_seed     BLOB    NOT NULL CHECK (length(token_seed) = 16),
        key_id         BLOB    NOT NULL CHECK (length(key_id) = 8),
        enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        read_comments  INTEGER NOT NULL CHECK (read_comments IN (0, 1)),
        write_comments INTEGER NOT NULL CHECK (write_comments IN (0, 1)),
        created_by     INTEGER NOT NULL REFERENCES users (id),
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );

    -- Counted views: a person opening a version in the review page, or anyone opening a share link.
    -- Loads by the same viewer within 30 minutes count once. `viewer` is a SHA-256: of the user id for
    -- a person, of the link and the visitor's address and browser for an anonymous visitor (no
    -- address is stored).
    CREATE TABLE views (
        id          INTEGER PRIMARY KEY,
        artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
        version_id  INTEGER NOT NULL REFERENCES versions (id),
        viewer      BLOB    NOT NULL CHECK (length(viewer) = 32),
        user_id     INTEGER          REFERENCES users (id),
        via_link    INTEGER NOT NULL CHECK (via_link IN (0, 1)),
        viewed_at   INTEGER NOT NULL
    );
    CREATE INDEX views_by_viewer ON views (version_id, viewer, viewed_at);
    CREATE INDEX views_by_artifact ON views (artifact_id, viewed_at);
    CREATE INDEX views_by_user ON views (user_id, artifact_id, viewed_at) WHERE user_id IS NOT NULL;
    CREATE TRIGGER views_counted AFTER INSERT ON views
    BEGIN
        UPDATE versions SET view_count = view_count + 1 WHERE id = NEW.version_id;
    END;
";

/// Version 5: key rotation and why a key was revoked for its owner (a leak, a member removed),
/// agent key requests (device flow) and password-reset links.
const TO_5: &str = "
    ALTER TABLE api_keys ADD COLUMN replaced_by INTEGER REFERENCES api_keys (id);
    ALTER TABLE api_keys ADD COLUMN revoked_reason TEXT;
    ALTER TABLE api_keys ADD COLUMN revoked_where TEXT;
    CREATE TABLE key_requests (
        id              INTEGER PRIMARY KEY,
        user_code_hash  BLOB    NOT NULL UNIQUE CHECK (length(user_code_hash) = 32),
        poll_hash       BLOB    NOT NULL UNIQUE CHECK (length(poll_hash) = 32),
        agent_name      TEXT    NOT NULL CHECK (length(agent_name) BETWEEN 1 AND 100),
        role            TEXT             CHECK (role IS NULL OR length(role) BETWEEN 1 AND 100),
        scopes          TEXT    NOT NULL,
        expires_in_days INTEGER,
        client_ip       TEXT,
        user_agent      TEXT,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        last_polled_at  INTEGER,
        status          TEXT    NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'approved', 'denied', 'delivered')),
        decided_at      INTEGER,
        decided_by      INTEGER          REFERENCES users (id),
        agent_id        INTEGER          REFERENCES agents (id),   -- the identity chosen on approval
        key_id          INTEGER          REFERENCES api_keys (id)  -- the key delivered
    );
    CREATE INDEX key_requests_by_expiry ON key_requests (expires_at);

    -- One-time password-reset links an admin makes for a member (stored as SHA-256).
    CREATE TABLE password_resets (
        id         INTEGER PRIMARY KEY,
        token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
        user_id    INTEGER NOT NULL REFERENCES users (id),
        created_by INTEGER NOT NULL REFERENCES users (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE INDEX password_resets_by_user ON password_resets (user_id);
";

/// Version 6: large contents stored in parts (`blob_parts`), and a new comment counted by the
/// insert itself instead of a trigger. Existing contents stay whole in `blobs`.
const TO_6: &str = "
    DROP TRIGGER comments_counted_on_insert;
    CREATE TABLE blob_parts (
        id     INTEGER PRIMARY KEY,
        sha256 BLOB    NOT NULL CHECK (length(sha256) = 32),
        seq    INTEGER NOT NULL CHECK (seq >= 0),
        data   BLOB    NOT NULL,
        UNIQUE (sha256, seq)
    );
";

/// Version 7: answers kept for `Idempotency-Key` retries, and when a comment's or reply's text
/// was last edited (earlier edits are not known: `updated_at` also moves when a comment is
/// resolved).
const TO_7: &str = "
    ALTER TABLE comments ADD COLUMN edited_at INTEGER;
    ALTER TABLE replies ADD COLUMN edited_at INTEGER;
    CREATE TABLE idempotent_answers (
        user_id    INTEGER NOT NULL REFERENCES users (id),
        key        TEXT    NOT NULL,
        method     TEXT    NOT NULL,
        path       TEXT    NOT NULL,
        status     INTEGER NOT NULL,
        body       BLOB    NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotent_answers_by_age ON idempotent_answers (created_at);
";

/// Version 8: a kept answer knows what its request asked for, so that the same key sent with
/// another body is refused rather than answered with the first request's answer.
const TO_8: &str = "
    ALTER TABLE idempotent_answers ADD COLUMN fingerprint BLOB;
";

/// Version 9: comments and replies know whether they were written through the artifact's share
/// link, which lets its writers change only those through it. Earlier ones are marked when their
/// author could only have reached the artifact through its link: neither its owner nor ever
/// granted access to it (an agent never writes through a link). Viewing grants are found by
/// session and version, to keep a session's newest few.
const TO_9: &str = "
    CREATE INDEX view_grants_by_session ON view_grants (session_id, version_id, id);
    ALTER TABLE comments ADD COLUMN via_link INTEGER NOT NULL DEFAULT 0 CHECK (via_link IN (0, 1));
    ALTER TABLE replies ADD COLUMN via_link INTEGER NOT NULL DEFAULT 0 CHECK (via_link IN (0, 1));
    UPDATE comments SET via_link = 1
     WHERE author_agent IS NULL
       AND author_user <> (SELECT a.owner_id FROM artifacts a WHERE a.id = comments.artifact_id)
       AND NOT EXISTS (SELECT 1 FROM access_grants g
                        WHERE g.artifact_id = comments.artifact_id AND g.user_id = comments.author_user);
    UPDATE replies SET via_link = 1
     WHERE author_agent IS NULL
       AND EXISTS (SELECT 1 FROM comments c JOIN artifacts a ON a.id = c.artifact_id
                    WHERE c.id = replies.comment_id
                      AND a.owner_id <> replies.author_user
                      AND NOT EXISTS (SELECT 1 FROM access_grants g
                                       WHERE g.artifact_id = c.artifact_id AND g.user_id = replies.author_user));
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
    // fold(text): `text::folded`, for comparisons as people read (SQLite's lower() folds ASCII
    // only: "CAFÉ" did not find "Café").
    conn.create_scalar_function(
        "fold",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get_raw(0).as_str_or_null()?.map(crate::text::folded)),
    )?;
    Ok(())
}

/// Whether Litestream has replicated this database (it adds its `_litestream_seq` table).
pub fn replicated_by_litestream(conn: &Connection) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM sqlite_master WHERE name = '_litestream_seq'")?
        .query_row([], |r| r.get::<_, i64>(0))?
        > 0)
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

/// A database in memory with the whole schema, for unit tests of the store's SQL.
#[cfg(test)]
pub fn in_memory() -> Connection {
    let conn = Connection::open_in_memory().expect("an in-memory database");
    conn.execute_batch(SCHEMA_SQL).expect("the schema applies");
    conn
}

/// Refuses, before anything is written to it, an SQLite file that holds another program's tables
/// (schema version 0 with objects of its own): a mistyped `--db` must not turn it into ours.
/// SQLite's own tables and Litestream's (made when it starts on a new database) do not count.
pub fn refuse_foreign(conn: &Connection) -> StoreResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != 0 {
        return Ok(());
    }
    let objects: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master
          WHERE substr(name, 1, 7) <> 'sqlite_' AND substr(name, 1, 12) <> '_litestream_'",
        [],
        |r| r.get(0),
    )?;
    if objects > 0 {
        return Err(StoreError::ForeignDatabase { objects });
    }
    Ok(())
}

/// The schema version of the existing database at `path` when it is older than this binary's
/// (opening it with `Store::open` would upgrade it); `None` when it is current, newer, new or
/// missing. Reads only.
pub fn behind(path: &std::path::Path) -> StoreResult<Option<i64>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok((1..SCHEMA_VERSION).contains(&found).then_some(found))
}

/// Brings the file to `SCHEMA_VERSION`, or refuses a file written by a newer binary.
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
    // Each step takes the schema one version up, oldest first; later versions add theirs here.
    let steps: [(i64, &str); 8] = [
        (2, TO_2),
        (3, TO_3),
        (4, TO_4),
        (5, TO_5),
        (6, TO_6),
        (7, TO_7),
        (8, TO_8),
        (9, TO_9),
    ];
    if found >= 1 {
        for (to, sql) in steps.into_iter().filter(|(to, _)| found < *to) {
            tx.execute_batch(sql)?;
            log::info!(
                "upgraded the database schema from version {} to {to}",
                to - 1
            );
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_programs_database_is_refused_and_left_as_it_was() {
        let conn = Connection::open_in_memory().expect("a database");
        refuse_foreign(&conn).expect("an empty file is ours to make");
        conn.execute_batch("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);")
            .expect("Litestream's table");
        refuse_foreign(&conn).expect("Litestream's tables do not count");
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
            .expect("a table of another program");
        let refused = refuse_foreign(&conn).expect_err("a foreign database");
        assert!(matches!(
            refused,
            StoreError::ForeignDatabase { objects: 1 }
        ));
        assert!(refused.to_string().contains("check --db"));
    }

    /// The schema as version 1 shipped it.
    const SCHEMA_V1: &str = include_str!("../../tests/fixtures/schema-v1.sql");
    /// The schema as version 2 shipped it.
    const SCHEMA_V2: &str = include_str!("../../tests/fixtures/schema-v2.sql");
    /// The schema as version 3 shipped it.
    const SCHEMA_V3: &str = include_str!("../../tests/fixtures/schema-v3.sql");
    /// The schema as version 4 shipped it.
    const SCHEMA_V4: &str = include_str!("../../tests/fixtures/schema-v4.sql");
    /// The schema as version 5 shipped it.
    const SCHEMA_V5: &str = include_str!("../../tests/fixtures/schema-v5.sql");
    /// The schema as version 6 shipped it.
    const SCHEMA_V6: &str = include_str!("../../tests/fixtures/schema-v6.sql");
    /// The schema as version 7 shipped it.
    const SCHEMA_V7: &str = include_str!("../../tests/fixtures/schema-v7.sql");
    /// The schema as version 8 shipped it.
    const SCHEMA_V8: &str = include_str!("../../tests/fixtures/schema-v8.sql");

    #[test]
    fn a_version_8_database_is_upgraded_knowing_what_came_through_the_share_link() {
        // Alice owns the artifact; Bob was a reviewer (his grant since revoked); Carol never had
        // access, so what she wrote came through the link; Alice's agent wrote as itself.
        let (_dir, conn) = upgraded(
            SCHEMA_V8,
            "PRAGMA user_version = 8;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at) VALUES
                 ('alice@example.com', 'Alice', 'x', 'admin', 1, 1),
                 ('bob@example.com', 'Bob', 'x', 'member', 1, 1),
                 ('carol@example.com', 'Carol', 'x', 'member', 1, 1);
             INSERT INTO agents (user_id, name, role, created_at, updated_at) VALUES (1, 'Claude', 'agent', 1, 1);
             INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at)
                 VALUES ('abcdefghijklmnop', 1, 'Doc', 1, 1);
             INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                 VALUES (1, 1, 'html', 3, 'index.html', 1, 1);
             INSERT INTO access_grants (artifact_id, email, user_id, role, granted_by, created_at, revoked_at)
                 VALUES (1, 'bob@example.com', 2, 'can-comment', 1, 1, 2);
             INSERT INTO comments (artifact_id, version_id, author_user, author_agent, content, target, created_at, updated_at) VALUES
                 (1, 1, 1, NULL, 'by the owner', '{}', 1, 1),
                 (1, 1, 2, NULL, 'by a reviewer', '{}', 1, 1),
                 (1, 1, 3, NULL, 'through the link', '{}', 1, 1),
                 (1, 1, 1, 1, 'by the agent', '{}', 1, 1);
             INSERT INTO replies (comment_id, author_user, content, created_at, updated_at) VALUES
                 (1, 3, 'through the link', 1, 1),
                 (3, 2, 'by a reviewer', 1, 1),
                 (3, 1, 'by the owner', 1, 1);",
        );
        let marked = |table: &str| -> Vec<(String, bool)> {
            conn.prepare(&format!(
                "SELECT content, via_link FROM {table} ORDER BY id"
            ))
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
        };
        let expect = |rows: &[(&str, bool)]| -> Vec<(String, bool)> {
            rows.iter().map(|(c, v)| (c.to_string(), *v)).collect()
        };
        assert_eq!(
            marked("comments"),
            expect(&[
                ("by the owner", false),
                ("by a reviewer", false),
                ("through the link", true),
                ("by the agent", false),
            ])
        );
        assert_eq!(
            marked("replies"),
            expect(&[
                ("through the link", true),
                ("by a reviewer", false),
                ("by the owner", false),
            ])
        );
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        for table in ["comments", "replies"] {
            assert_eq!(columns(&conn, table), columns(&fresh, table), "{table}");
        }
    }

    #[test]
    fn a_version_7_database_is_upgraded_with_fingerprints_on_its_kept_answers() {
        let (_dir, conn) = upgraded(
            SCHEMA_V7,
            "PRAGMA user_version = 7;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
             INSERT INTO idempotent_answers (user_id, key, method, path, status, body, created_at)
                 VALUES (1, 'k', 'POST', '/api/v1/artifacts', 201, x'7b7d', 5);",
        );
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        assert_eq!(
            columns(&conn, "idempotent_answers"),
            columns(&fresh, "idempotent_answers")
        );
        // An answer kept before the upgrade has no fingerprint: its retries are not compared.
        let kept: (i64, Option<Vec<u8>>) = conn
            .query_row(
                "SELECT status, fingerprint FROM idempotent_answers WHERE key = 'k'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the kept answer");
        assert_eq!(kept, (201, None));
    }

    #[test]
    fn a_version_6_database_is_upgraded_with_idempotent_answers_and_edit_times() {
        let (_dir, conn) = upgraded(
            SCHEMA_V6,
            "PRAGMA user_version = 6;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);",
        );
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        for table in ["idempotent_answers", "comments", "replies"] {
            assert_eq!(columns(&conn, table), columns(&fresh, table), "{table}");
        }
        let users: i64 = conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .expect("users");
        assert_eq!(users, 1);
    }

    #[test]
    fn a_version_5_database_is_upgraded_with_blob_parts_and_comments_counted_by_their_insert() {
        let (_dir, conn) = upgraded(
            SCHEMA_V5,
            "PRAGMA user_version = 5;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
             INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at)
                 VALUES ('abcdefghijklmnop', 1, 'Doc', 1, 1);
             INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                 VALUES (1, 1, 'html', 3, 'index.html', 1, 1);
             INSERT INTO comments (artifact_id, version_id, author_user, content, target, created_at, updated_at)
                 VALUES (1, 1, 1, 'counted by the old trigger', '{}', 1, 1);
             INSERT INTO blobs (sha256, size, content) VALUES (zeroblob(32), 3, x'616263');",
        );
        let counts = |conn: &Connection| -> (i64, i64) {
            conn.query_row(
                "SELECT comment_count, unresolved_count FROM versions WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the version survives")
        };
        assert_eq!(counts(&conn), (1, 1), "the old count is kept");
        super::super::comments::insert(
            &conn,
            &super::super::comments::NewComment {
                artifact_id: 1,
                version_id: 1,
                user_id: 1,
                agent_id: None,
                content: "counted by the insert",
                target: "{}",
                via_link: false,
            },
            2,
        )
        .expect("a comment");
        assert_eq!(counts(&conn), (2, 2), "counted once, by the insert alone");
        conn.execute("UPDATE comments SET resolved_at = 3 WHERE id = 2", [])
            .expect("resolved");
        assert_eq!(counts(&conn), (2, 1), "the update trigger stays");
        let content: Vec<u8> = conn
            .query_row("SELECT content FROM blobs", [], |r| r.get(0))
            .expect("the content survives whole");
        assert_eq!(content, b"abc");
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        for table in ["blobs", "blob_parts", "comments", "versions"] {
            assert_eq!(columns(&conn, table), columns(&fresh, table), "{table}");
        }
        let triggers = |c: &Connection| -> Vec<String> {
            c.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                .expect("triggers")
                .query_map([], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        assert_eq!(triggers(&conn), triggers(&fresh));
    }

    #[test]
    fn a_version_4_database_is_upgraded_with_key_rotation_requests_and_resets() {
        let (_dir, conn) = upgraded(
            SCHEMA_V4,
            "PRAGMA user_version = 4;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
             INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at)
                 VALUES (1, 'ci', 'abcdefgh', zeroblob(32), 1);",
        );
        let (replaced, reason): (Option<i64>, Option<String>) = conn
            .query_row(
                "SELECT replaced_by, revoked_reason FROM api_keys WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the key survives");
        assert_eq!((replaced, reason), (None, None));
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        for table in ["api_keys", "key_requests", "password_resets"] {
            assert_eq!(columns(&conn, table), columns(&fresh, table), "{table}");
        }
    }

    /// The columns of `table`, in order.
    fn columns(c: &Connection, table: &str) -> Vec<String> {
        c.prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .expect("columns")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    #[test]
    fn a_version_3_database_is_upgraded_with_share_links_and_counted_views() {
        let (_dir, conn) = upgraded(
            SCHEMA_V3,
            "PRAGMA user_version = 3;
             INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1);
             INSERT INTO artifacts (share_token, owner_id, name, created_at, updated_at)
                 VALUES ('abcdefghijklmnop', 1, 'Doc', 1, 1);
             INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user)
                 VALUES (1, 1, 'html', 3, 'index.html', 1, 1);",
        );
        let views: i64 = conn
            .query_row("SELECT view_count FROM versions WHERE id = 1", [], |r| {
                r.get(0)
            })
            .expect("the version survives with no views");
        assert_eq!(views, 0);
        conn.execute(
            "INSERT INTO views (artifact_id, version_id, viewer, user_id, via_link, viewed_at)
             VALUES (1, 1, randomblob(32), 1, 0, 5)",
            [],
        )
        .expect("a view");
        let views: i64 = conn
            .query_row("SELECT view_count FROM versions WHERE id = 1", [], |r| {
                r.get(0)
            })
            .expect("counted");
        assert_eq!(views, 1, "the trigger counts it");
        check_version(&conn).expect("the health check's read agrees");
        let fresh = Connection::open_in_memory().expect("memory");
        fresh.execute_batch(SCHEMA_SQL).expect("fresh schema");
        for table in ["versions", "share_links", "views"] {
            assert_eq!(columns(&conn, table), columns(&fresh, table), "{table}");
        }
    }

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
