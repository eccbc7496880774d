-- Artifact Review: the whole schema.
--
-- Applied by `store::schema` to a new database file inside one transaction, which then sets
-- `PRAGMA user_version` to the schema version compiled into the binary. A file whose user_version
-- is newer than the binary's is refused at start-up.
--
-- Conventions: every timestamp is INTEGER milliseconds since the Unix epoch in a column ending in
-- `_at`; soft deletion sets `deleted_at` / `revoked_at` and keeps the row; secrets (API keys,
-- session and grant tokens, invite tokens) are stored only as their SHA-256 digest.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,            -- trimmed and lower-cased by the application
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    password_hash TEXT    NOT NULL,                   -- argon2id PHC string
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

CREATE TABLE agents (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role       TEXT             CHECK (role IS NULL OR length(role) BETWEEN 1 AND 100),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX agents_by_user ON agents (user_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    agent_id     INTEGER          REFERENCES agents (id),   -- NULL: the key acts as the user
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       TEXT    NOT NULL CHECK (length(prefix) = 8),
    key_hash     BLOB    NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    scopes       TEXT    NOT NULL DEFAULT 'editor',         -- space-separated
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    revoked_by   INTEGER          REFERENCES users (id),
    -- Rotation: the key that replaced this one (this one then expires after the chosen overlap).
    replaced_by  INTEGER          REFERENCES api_keys (id),
    -- Why it was revoked when it was not a person's choice: 'leaked' (found in text this server
    -- stored), 'member_removed'; with where, for the owner's notice (never the key itself).
    revoked_reason TEXT,
    revoked_where  TEXT
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);
CREATE INDEX api_keys_by_agent ON api_keys (agent_id) WHERE agent_id IS NOT NULL;

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER,
    ip         TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE invites (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    INTEGER          REFERENCES users (id),
    revoked_at INTEGER,
    email      TEXT                                      -- who it is for (trimmed, lower-cased);
                                                         -- NULL: a generic link, which never
                                                         -- claims pending access grants
);

-- Every change, append-only: the triggers below refuse UPDATE and DELETE.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    user_id     INTEGER REFERENCES users (id),    -- the acting user (NULL for an unknown caller)
    agent_id    INTEGER REFERENCES agents (id),   -- set when a key acted as an agent
    key_id      INTEGER REFERENCES api_keys (id), -- the key used, if any
    session_id  INTEGER REFERENCES sessions (id), -- the browser session used, if any
    ip          TEXT,
    action      TEXT    NOT NULL,                 -- e.g. key.created, comment.resolved
    object_type TEXT,
    object_id   TEXT,
    detail      TEXT,                             -- JSON object, never a secret
    artifact_id INTEGER REFERENCES artifacts (id) -- the artifact the event belongs to, if any
);
CREATE INDEX audit_by_user ON audit_events (user_id, id);
CREATE INDEX audit_by_key ON audit_events (key_id, id) WHERE key_id IS NOT NULL;
-- An artifact's events in order: its live event stream, resumable from any event id.
CREATE INDEX audit_by_artifact ON audit_events (artifact_id, id) WHERE artifact_id IS NOT NULL;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TABLE artifacts (
    id             INTEGER PRIMARY KEY,
    share_token    TEXT    NOT NULL UNIQUE CHECK (length(share_token) >= 12),
    owner_id       INTEGER NOT NULL REFERENCES users (id),
    created_agent  INTEGER          REFERENCES agents (id),
    name           TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description    TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    next_version   INTEGER NOT NULL DEFAULT 1,     -- version numbers only grow, never reused
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX artifacts_by_owner ON artifacts (owner_id, id);

-- File contents, stored once per distinct SHA-256. A content larger than 1 MiB has an empty
-- `content` here and its bytes in `blob_parts`.
CREATE TABLE blobs (
    id      INTEGER PRIMARY KEY,
    sha256  BLOB    NOT NULL UNIQUE CHECK (length(sha256) = 32),
    size    INTEGER NOT NULL CHECK (size >= 0),
    content BLOB    NOT NULL
);

-- The bytes of a large content in parts of 1 MiB, in order: each part is written by a transaction of
-- its own, so that storing a large file never holds the database's one writer for long. The
-- content's `blobs` row is added with its last part: a content is in `blobs` only once it is whole.
CREATE TABLE blob_parts (
    id     INTEGER PRIMARY KEY,
    sha256 BLOB    NOT NULL CHECK (length(sha256) = 32),
    seq    INTEGER NOT NULL CHECK (seq >= 0),
    data   BLOB    NOT NULL,
    UNIQUE (sha256, seq)
);

CREATE TABLE versions (
    id           INTEGER PRIMARY KEY,
    artifact_id  INTEGER NOT NULL REFERENCES artifacts (id),
    number       INTEGER NOT NULL CHECK (number >= 1),
    name         TEXT             CHECK (name IS NULL OR length(name) <= 100),
    file_type    TEXT    NOT NULL CHECK (file_type IN ('html', 'markdown', 'zip')),
    size         INTEGER NOT NULL CHECK (size >= 0),
    entry_point  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_user INTEGER NOT NULL REFERENCES users (id),
    created_agent INTEGER         REFERENCES agents (id),
    deleted_at   INTEGER,
    -- Live comments on this version, and how many of them are unresolved; kept by the writes to
    -- `comments` (below) so artifact listings never count rows.
    comment_count    INTEGER NOT NULL DEFAULT 0,
    unresolved_count INTEGER NOT NULL DEFAULT 0,
    -- Counted views of this version (see `views`), kept by the trigger on `views`.
    view_count       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (artifact_id, number)
);

CREATE TABLE version_files (
    version_id   INTEGER NOT NULL REFERENCES versions (id),
    path         TEXT    NOT NULL,
    blob_id      INTEGER NOT NULL REFERENCES blobs (id),
    content_type TEXT    NOT NULL,
    PRIMARY KEY (version_id, path)
) WITHOUT ROWID;
CREATE INDEX version_files_by_blob ON version_files (blob_id);

CREATE TABLE comments (
    id            INTEGER PRIMARY KEY,
    artifact_id   INTEGER NOT NULL REFERENCES artifacts (id),
    version_id    INTEGER NOT NULL REFERENCES versions (id),
    author_user   INTEGER NOT NULL REFERENCES users (id),
    author_agent  INTEGER          REFERENCES agents (id),
    content       TEXT    NOT NULL CHECK (length(content) BETWEEN 1 AND 10000 AND instr(content, char(0)) = 0),
    target        TEXT    NOT NULL,              -- the target JSON exactly as given
    resolved_at   INTEGER,
    resolved_user INTEGER          REFERENCES users (id),
    resolved_agent INTEGER         REFERENCES agents (id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER,
    edited_at     INTEGER,                       -- its text last changed by its author
    via_link      INTEGER NOT NULL DEFAULT 0 CHECK (via_link IN (0, 1)) -- written through the artifact's share link
);
CREATE INDEX comments_by_version ON comments (version_id, id);

-- Comments are never deleted from the table (soft delete), so inserts and updates keep the counts:
-- `comments::insert` counts a new comment in the same write (a trigger on INSERT made every comment
-- insert keep a statement journal, 5% of the instructions of a comment), and this trigger keeps the
-- counts when a comment is resolved, reopened or deleted.
CREATE TRIGGER comments_counted_on_update AFTER UPDATE OF deleted_at, resolved_at ON comments
BEGIN
    UPDATE versions
       SET comment_count = comment_count - (OLD.deleted_at IS NULL) + (NEW.deleted_at IS NULL),
           unresolved_count = unresolved_count
               - (OLD.deleted_at IS NULL AND OLD.resolved_at IS NULL)
               + (NEW.deleted_at IS NULL AND NEW.resolved_at IS NULL)
     WHERE id = NEW.version_id;
END;

CREATE TABLE replies (
    id           INTEGER PRIMARY KEY,
    comment_id   INTEGER NOT NULL REFERENCES comments (id),
    author_user  INTEGER NOT NULL REFERENCES users (id),
    author_agent INTEGER          REFERENCES agents (id),
    content      TEXT    NOT NULL CHECK (length(content) BETWEEN 1 AND 5000 AND instr(content, char(0)) = 0),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    edited_at    INTEGER,                        -- its text last changed by its author
    via_link     INTEGER NOT NULL DEFAULT 0 CHECK (via_link IN (0, 1)) -- written through the artifact's share link
);
CREATE INDEX replies_by_comment ON replies (comment_id, id);

-- Reviewers. A grant for an email without an account is pending (user_id NULL) until that person
-- signs up.
CREATE TABLE access_grants (
    id          INTEGER PRIMARY KEY,
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    email       TEXT    NOT NULL,
    user_id     INTEGER          REFERENCES users (id),
    role        TEXT    NOT NULL CHECK (role IN ('can-comment')),
    granted_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    viewed_at   INTEGER,
    revoked_at  INTEGER
);
CREATE UNIQUE INDEX access_grants_active ON access_grants (artifact_id, email) WHERE revoked_at IS NULL;
CREATE INDEX access_grants_by_user ON access_grants (user_id) WHERE revoked_at IS NULL;
CREATE INDEX access_grants_by_email ON access_grants (email) WHERE user_id IS NULL AND revoked_at IS NULL;

-- Viewing grants: the path segment under /v/ that serves one version's files to one reader.
CREATE TABLE view_grants (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    version_id INTEGER NOT NULL REFERENCES versions (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX view_grants_by_expiry ON view_grants (expires_at);
CREATE INDEX view_grants_by_session ON view_grants (session_id, version_id, id);

-- When each person last opened an artifact's review page, and the newest of its events then: what
-- others did after that is "new" on the artifacts page.
CREATE TABLE artifact_reads (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    seen_at     INTEGER NOT NULL,
    seen_event  INTEGER NOT NULL,
    PRIMARY KEY (user_id, artifact_id)
) WITHOUT ROWID;

-- The public share link of an artifact (at most one): anyone holding its address sees the latest
-- version. The token is never stored: it is derived from `token_seed` with the server's link key
-- (the `.secret` file beside the database), and looked up by its SHA-256. `key_id` names the key
-- that derived it, so a server with another key knows it cannot show the address again.
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

-- Agent key requests (a device flow, RFC 8628): an agent without a key asks; a signed-in person
-- approves or denies by the user code; the agent polls with its poll token and gets the key once.
-- The key is made at that poll, so it is never stored in clear; the codes are stored as SHA-256.
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

-- The answer to a creating request sent with an `Idempotency-Key`, replayed to a retry of it (same
-- account, same key) for 24 hours, then removed. Only successful answers are kept: a refused
-- request created nothing, and its retry is simply run again. From the write that does the work
-- until its answer replaces it, the row is a mark (status 0, no body): a retry after a stop in
-- between learns that the work was done.
CREATE TABLE idempotent_answers (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    key        TEXT    NOT NULL,
    method     TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    fingerprint BLOB,                            -- SHA-256 of what the request asked for (its body, as parsed); NULL before version 8
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotent_answers_by_age ON idempotent_answers (created_at);
