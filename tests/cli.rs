//! The command line: admin sub-commands on the database file (also while the server runs), the
//! backup, refusing a database from a newer version, and a clean shutdown on SIGTERM.

mod common;

use common::*;
use serde_json::json;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// What a server logs, line by line.
type LogLines = std::io::Lines<std::io::BufReader<std::process::ChildStderr>>;

/// The server started on `db` and `addr` with `RUST_LOG=level`, and what it logs.
fn server_logging(
    db: &std::path::Path,
    addr: &str,
    level: &str,
) -> Result<(std::process::Child, LogLines), Box<dyn std::error::Error>> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(["--addr", addr])
        .env("RUST_LOG", level)
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("stderr is piped")?;
    Ok((child, std::io::BufReader::new(stderr).lines()))
}

#[test]
fn a_headless_host_can_be_set_up_entirely_from_the_command_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("review.db");
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops",
            "--password-stdin",
            "--create",
        ],
        "ops password 1\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1", "prints only the user id");

    let out = cli(
        &db,
        &[
            "agent",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "Claude",
            "--role",
            "coding",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1");

    let out = cli(
        &db,
        &[
            "key",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "claude key",
            "--agent",
            "Claude",
            "--expires-in-days",
            "30",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out);
    assert!(
        key.starts_with("ar_live_") && key.len() == 40,
        "prints only the key: {key:?}"
    );

    let out = cli(&db, &["key", "list", "--user", "ops@example.com"], "");
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ID\tNAME\tKEY\tIDENTITY\tSTATUS\tCREATED\tEXPIRES\tLAST USED"
    );
    let line = lines[1];
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[0], "1");
    assert_eq!(fields[1], "claude key");
    assert_eq!(fields[2], format!("ar_live_{}…", &key[8..16]));
    assert_eq!(fields[3], "agent:Claude");
    assert_eq!(fields[4], "active");
    assert_ms_and_iso(fields[5]);
    assert_ms_and_iso(fields[6]);
    assert_eq!(fields[7], "-", "never used");
    assert!(!line.contains(&key[8..]));

    // The server started later finds it all, and the key works.
    let server = Server::start_on(dir, db, &[]);
    assert!(
        server.setup_token.is_none(),
        "an account exists: no setup link"
    );
    let me = server.get("/api/v1/me", &Auth::Key(key.clone())).json();
    assert_eq!(
        me["identity"],
        json!({"kind": "agent", "id": "1", "name": "Claude", "role": "coding"})
    );
    assert_eq!(me["user"]["email"], "ops@example.com");
    assert!(me["key"]["expiresAt"].as_i64().is_some());
    let cookie = server.sign_in("ops@example.com", "ops password 1");
    let admin = server
        .get("/api/v1/team/members", &Auth::Cookie(cookie))
        .json();
    assert_eq!(
        admin["members"][0]["role"], "admin",
        "the first account is an admin"
    );
    Ok(())
}

#[test]
fn an_admin_command_does_not_upgrade_the_schema_under_a_running_older_server() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("old.db");
    let conn = rusqlite::Connection::open(&db)?;
    conn.execute_batch(include_str!("fixtures/schema-v5.sql"))?;
    conn.pragma_update(None, "user_version", 5)?;
    drop(conn);
    let version = || -> rusqlite::Result<i64> {
        rusqlite::Connection::open(&db)?.query_row("PRAGMA user_version", [], |r| r.get(0))
    };
    // An older server running on it holds the server lock; this test holds it as that server would.
    let lock = std::fs::File::create(dir.path().join("old.db.server-lock"))?;
    lock.lock()?;
    let out = cli(&db, &["user", "list"], "");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("is at schema version 5")
            && err.contains("a server of an older version is running on it"),
        "{err}"
    );
    assert_eq!(version()?, 5, "left as it was");
    // With that server stopped, the command upgrades the database and runs.
    drop(lock);
    let out = cli(&db, &["user", "list"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(version()? > 5);
    Ok(())
}

#[test]
fn commands_work_while_the_server_is_running() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let out = server.cli(
        &[
            "key",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "from cli",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out);
    assert_eq!(
        server.get("/api/v1/me", &Auth::Key(key.clone())).status,
        200
    );
    let listed = server
        .get("/api/v1/keys", &Auth::Cookie(cookie.clone()))
        .json();
    assert_eq!(listed["keys"][0]["name"], "from cli");
    let id = listed["keys"][0]["id"].as_str().ok_or("id")?.to_string();
    let out = server.cli(&["key", "revoke", &id], "");
    assert!(out.status.success());
    assert!(stdout(&out).starts_with(&format!("{id}\trevoked\t")));
    assert_ms_and_iso(stdout(&out).split('\t').nth(2).ok_or("when")?);
    assert_eq!(server.get("/api/v1/me", &Auth::Key(key)).status, 401);
    let out = server.cli(&["key", "revoke", &id], "");
    assert!(out.status.success(), "revoking twice is harmless");
    assert!(stdout(&out).contains("already revoked"));
    let events = server.get("/api/v1/activity", &Auth::Cookie(cookie)).json();
    assert_eq!(events["events"][0]["action"], "key.revoked");
    assert_eq!(events["events"][0]["detail"]["via"], "cli");
    Ok(())
}

#[test]
fn mistakes_go_to_stderr_with_a_failing_exit_code() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![
                "user",
                "create",
                "--email",
                "ada@example.com",
                "--name",
                "Ada 2",
                "--password-stdin",
            ],
            "long enough pw\n",
            "already exists",
        ),
        (
            vec![
                "user",
                "create",
                "--email",
                "x@example.com",
                "--name",
                "X",
                "--password-stdin",
            ],
            "short\n",
            "at least 8",
        ),
        (
            vec![
                "user",
                "create",
                "--email",
                "not-an-email",
                "--name",
                "X",
                "--password-stdin",
            ],
            "long enough pw\n",
            "email",
        ),
        (
            vec![
                "agent",
                "create",
                "--user",
                "nobody@example.com",
                "--name",
                "A",
            ],
            "",
            "no account",
        ),
        (
            vec![
                "key",
                "create",
                "--user",
                "ada@example.com",
                "--name",
                "k",
                "--agent",
                "Ghost",
            ],
            "",
            "no agent named",
        ),
        (
            vec![
                "key",
                "create",
                "--user",
                "ada@example.com",
                "--name",
                "k",
                "--expires-in-days",
                "0",
            ],
            "",
            "--expires-in-days must be a whole number of days",
        ),
        (
            vec!["key", "create", "--user", "ada@example.com", "--name", ""],
            "",
            "must not be empty",
        ),
        (vec!["key", "revoke", "999"], "", "no key has the id 999"),
    ];
    for (args, stdin, expected) in cases {
        let out = server.cli(&args, stdin);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(stdout(&out), "", "{args:?} printed to stdout");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = server.cli(&["key", "revoke", "abc"], "");
    assert!(!out.status.success());
    Ok(())
}

#[test]
fn backup_writes_a_consistent_copy_of_the_live_database() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    for i in 0..20 {
        server.create_key(&cookie, json!({"name": format!("k{i}")}));
    }
    let dest = server.dir.path().join("backup.db");
    let out = server.cli(&["backup", dest.to_str().ok_or("path")?], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let copy = rusqlite::Connection::open(&dest)?;
    let integrity: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(integrity, "ok");
    let keys: i64 = copy.query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0))?;
    assert_eq!(keys, 20);
    let version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, artifact_review::store::schema::SCHEMA_VERSION);
    // The share-link key goes with it, byte for byte and private, and both paths are printed.
    let key_of = |db: &std::path::Path| {
        let mut name = db.as_os_str().to_owned();
        name.push(".link-key");
        std::path::PathBuf::from(name)
    };
    let key_copy = key_of(&dest);
    assert_eq!(
        std::fs::read(&key_copy)?,
        std::fs::read(key_of(&server.db))?
    );
    assert_eq!(std::fs::read(&key_copy)?.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_copy)?.permissions().mode() & 0o777,
            0o600
        );
    }
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [dest.display().to_string(), key_copy.display().to_string()]
    );
    Ok(())
}

#[test]
fn a_database_from_a_newer_version_is_refused_with_a_clear_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&db)?;
        conn.execute_batch("CREATE TABLE t (x); PRAGMA user_version = 99;")?;
    }
    let out = cli(&db, &["key", "list", "--user", "a@example.com"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));
    assert!(stderr(&out).contains("99"));
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["--addr", "127.0.0.1:0"])
        .output()?;
    assert!(!out.status.success(), "the server refuses to start");
    assert!(stderr(&out).contains("newer"));
    Ok(())
}

#[test]
fn sigterm_stops_the_server_cleanly() -> TestResult {
    let mut server = Server::start();
    let cookie = server.setup_owner();
    server.create_key(&cookie, json!({"name": "k"}));
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let log = server.log();
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    let wal = std::fs::metadata(server.db.with_extension("db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(
        wal, 0,
        "the WAL was checkpointed into the database on shutdown"
    );
    let conn = rusqlite::Connection::open(&server.db)?;
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(integrity, "ok");
    Ok(())
}

#[test]
fn the_environment_configures_the_database() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("env.db");
    let out = std::process::Command::new(BIN)
        .env("ARTIFACT_REVIEW_DB", &db)
        .args(["key", "list", "--user", "x@example.com", "--create"])
        .output()?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no account"));
    assert!(
        db.exists(),
        "the database was created where the environment said"
    );
    Ok(())
}

#[test]
fn a_server_on_a_database_in_a_missing_folder_says_the_folder_is_missing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("no").join("such");
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(folder.join("review.db"))
        .args(["--addr", "127.0.0.1:0"])
        .output()?;
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains(&format!(
            "the folder {} for the database does not exist",
            folder.display()
        )),
        "{said}"
    );
    assert!(!dir.path().join("no").exists(), "nothing was made");
    // An admin command making the database says the same; a file where the folder should be is
    // said as such.
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(folder.join("review.db"))
        .args([
            "user",
            "create",
            "--create",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::null())
        .output()?;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("for the database does not exist"),
        "{}",
        stderr(&out)
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder")?;
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(file.join("review.db"))
        .args(["--addr", "127.0.0.1:0"])
        .output()?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a folder"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn a_second_server_on_a_database_already_served_is_refused_and_the_first_goes_on() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let second = std::process::Command::new(BIN)
        .args([
            "--db",
            &server.db.to_string_lossy(),
            "--addr",
            "127.0.0.1:0",
        ])
        .output()?;
    assert!(!second.status.success(), "a second server started");
    assert!(
        stderr(&second).contains("another server is already running on"),
        "{}",
        stderr(&second)
    );
    // Nor through a symbolic link to the same file, nor a path through a linked folder.
    let link_dir = tempfile::tempdir()?;
    let link = link_dir.path().join("link.db");
    std::os::unix::fs::symlink(&server.db, &link)?;
    let folder = link_dir.path().join("folder");
    std::os::unix::fs::symlink(server.db.parent().ok_or("db folder")?, &folder)?;
    let through_folder = folder.join(server.db.file_name().ok_or("db name")?);
    for other in [&link, &through_folder] {
        let second = std::process::Command::new(BIN)
            .args(["--db", &other.to_string_lossy(), "--addr", "127.0.0.1:0"])
            .output()?;
        assert!(
            !second.status.success(),
            "a second server started on {other:?}"
        );
        assert!(
            stderr(&second).contains("another server is already running on"),
            "{}",
            stderr(&second)
        );
    }
    assert!(
        !link_dir.path().join("link.db.link-key").exists(),
        "no share-link key made beside the link"
    );
    // The first one was not disturbed.
    server.create_key(&cookie, json!({"name": "still served"}));
    // Once it has stopped, a server starts on the database again and finds what it stored.
    let (dir, db) = server.stop();
    let again = Server::start_on(dir, db, &[]);
    let names = again.cli(&["key", "list", "--user", "ada@example.com"], "");
    assert!(
        stdout(&names).contains("still served"),
        "{} {}",
        stdout(&names),
        stderr(&names)
    );
    Ok(())
}

#[test]
fn backup_finishes_while_the_server_goes_on_writing() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let ci = Auth::Key(key);
    // About 16 MB of pages: copied in steps, a pass takes longer than the writes leave between them.
    let mut share = String::new();
    for n in 0..4u64 {
        let text: String = (0..400_000u64)
            .map(|i| format!("{:x}", (i * 7919 + n) % 4096))
            .collect();
        let created = server.upload(
            &ci,
            json!({"name": format!("Big {n}"), "fileName": "big.html", "content": format!("<p>{text}</p>")}),
        );
        share = created["shareToken"].as_str().ok_or("token")?.to_string();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let comments = format!("/api/v1/artifacts/{share}/comments");
    let dest = server.dir.path().join("copy.db");
    let (out, written) = std::thread::scope(|scope| -> Result<_, std::io::Error> {
        let writer = scope.spawn(|| {
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let resp = server.post(
                    &comments,
                    &ci,
                    &json!({"content": format!("comment {n}"), "target": {"source": "big.html"}}),
                );
                assert_eq!(resp.status, 201, "{}", resp.text());
                n += 1;
            }
            n
        });
        // A watchdog: a backup that starts over at every write never ends.
        let out = std::process::Command::new("timeout")
            .arg("30")
            .arg(BIN)
            .arg("--db")
            .arg(&server.db)
            .arg("backup")
            .arg(&dest)
            .output();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.join().unwrap_or(0);
        Ok((out?, written))
    })?;
    assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
    assert!(written > 0, "the server wrote meanwhile");
    let copy = rusqlite::Connection::open(&dest)?;
    let integrity: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(integrity, "ok");
    Ok(())
}

#[test]
fn backup_refuses_to_overwrite_the_live_database_or_the_files_that_go_with_it() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    server.create_key(&cookie, json!({"name": "before"}));
    let db = server.db.clone();
    let named = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    let link_key = std::fs::read(named(".link-key"))?;
    let dotted = server
        .dir
        .path()
        .join(".")
        .join(db.file_name().ok_or("name")?);
    for dest in [
        db.clone(),
        dotted,
        named("-wal"),
        named("-shm"),
        named(".link-key"),
    ] {
        let out = server.cli(&["backup", &dest.to_string_lossy()], "");
        assert!(
            !out.status.success(),
            "backup to {} was accepted",
            dest.display()
        );
        assert!(
            stderr(&out).contains("not writing the backup to")
                && stderr(&out).contains("give another file"),
            "{}",
            stderr(&out)
        );
    }
    // Nor another backup's files (its share-link key), nor a file that is not a database.
    let monday = server.dir.path().join("monday.db");
    let out = server.cli(&["backup", &monday.to_string_lossy()], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let monday_key = std::fs::read(server.dir.path().join("monday.db.link-key"))?;
    let notes = server.dir.path().join("notes.txt");
    std::fs::write(&notes, "not a database")?;
    for dest in [
        server.dir.path().join("monday.db.link-key"),
        server.dir.path().join("monday.db-wal"),
        notes.clone(),
    ] {
        let out = server.cli(&["backup", &dest.to_string_lossy()], "");
        assert!(
            !out.status.success(),
            "backup to {} was accepted",
            dest.display()
        );
        assert!(
            stderr(&out).contains("give another file"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read(server.dir.path().join("monday.db.link-key"))?,
        monday_key
    );
    assert_eq!(std::fs::read_to_string(&notes)?, "not a database");
    // --create has nothing to create for a backup: not one of its flags.
    let out = server.cli(&["backup", "--create", &monday.to_string_lossy()], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unexpected argument '--create'"),
        "{}",
        stderr(&out)
    );
    let help = server.cli(&["backup", "--help"], "");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("\n      --create"));
    // Nor is a missing database one to make.
    let out = common::cli(
        std::path::Path::new("/nonexistent/x.db"),
        &["backup", &monday.to_string_lossy()],
        "",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no database at /nonexistent/x.db; nothing to back up"),
        "{}",
        stderr(&out)
    );
    // An earlier backup is replaced.
    let out = server.cli(&["backup", &monday.to_string_lossy()], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = server.cli(&["backup", &server.dir.path().to_string_lossy()], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    // The live files are untouched, and the server still writes where it reads.
    assert_eq!(std::fs::read(named(".link-key"))?, link_key);
    server.create_key(&cookie, json!({"name": "after"}));
    let keys: i64 =
        rusqlite::Connection::open(&db)?
            .query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0))?;
    assert_eq!(keys, 2);
    // A backup beside it is fine.
    let out = server.cli(
        &[
            "backup",
            &server.dir.path().join("copy.db").to_string_lossy(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    Ok(())
}

#[test]
fn backup_over_an_earlier_one_leaves_none_of_its_log_and_never_replaces_a_served_or_foreign_database(
) -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    server.create_key(&cookie, json!({"name": "before"}));
    let dir = server.dir.path();
    let nightly = dir.join("nightly.db");
    let nightly_s = nightly.to_string_lossy().to_string();
    let out = server.cli(&["backup", &nightly_s], "");
    assert!(out.status.success(), "{}", stderr(&out));
    // Someone tries the backup with an admin command: its writes stay in the backup's WAL.
    let out = cli(
        &nightly,
        &[
            "user",
            "create",
            "--email",
            "tried@example.com",
            "--name",
            "Tried",
            "--password-stdin",
        ],
        "a long password 1",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let wal = dir.join("nightly.db-wal");
    assert!(wal.metadata().is_ok_and(|m| m.len() > 0), "a WAL was left");
    // The next night's backup replaces it whole: the old log is not replayed onto it.
    server.create_key(&cookie, json!({"name": "late"}));
    let out = server.cli(&["backup", &nightly_s], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!wal.exists(), "the replaced file's WAL is gone");
    let copy = rusqlite::Connection::open(&nightly)?;
    let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    let keys: Vec<String> = copy
        .prepare("SELECT name FROM api_keys ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(keys, ["before", "late"]);
    let tried: i64 = copy.query_row(
        "SELECT count(*) FROM users WHERE email = 'tried@example.com'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(tried, 0, "the copy is the live database's, nothing else");
    drop(copy);

    // A server running on the earlier backup would go on writing to the replaced file: refused.
    let spare = tempfile::tempdir()?;
    let served = spare.path().join("served.db");
    std::fs::copy(&nightly, &served)?;
    let other = Server::start_on(spare, served.clone(), &[]);
    let inode = |p: &std::path::Path| {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("the file"))
    };
    let before = inode(&served);
    let out = server.cli(&["backup", &served.to_string_lossy()], "");
    assert!(!out.status.success(), "a served database was replaced");
    assert!(
        stderr(&out).contains("a server is running on it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(inode(&served), before, "not replaced");
    assert_eq!(other.get("/api/v1/health", &Auth::None).status, 200);
    drop(other);

    // Nor another program's database.
    let theirs = dir.join("theirs.db");
    rusqlite::Connection::open(&theirs)?
        .execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');")?;
    let out = server.cli(&["backup", &theirs.to_string_lossy()], "");
    assert!(
        !out.status.success(),
        "another program's database was replaced"
    );
    assert!(
        stderr(&out).contains("the SQLite database of something else"),
        "{}",
        stderr(&out)
    );
    let kept: String =
        rusqlite::Connection::open(&theirs)?
            .query_row("SELECT body FROM notes", [], |r| r.get(0))?;
    assert_eq!(kept, "keep me");
    Ok(())
}

#[test]
fn the_database_its_wal_and_backups_are_readable_by_their_owner_only() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    server.setup_owner();
    let mode = |path: &std::path::Path| -> Result<u32, std::io::Error> {
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
    };
    let with_suffix = |suffix: &str| {
        let mut p = server.db.as_os_str().to_owned();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    assert_eq!(mode(&server.db)?, 0o600, "the database");
    assert_eq!(mode(&with_suffix("-wal"))?, 0o600, "its WAL");
    assert_eq!(mode(&with_suffix("-shm"))?, 0o600, "its shared memory");
    assert_eq!(
        mode(&with_suffix(".server-lock"))?,
        0o600,
        "the server's lock"
    );
    let backup = server.dir.path().join("copy.db");
    let out = server.cli(&["backup", &backup.to_string_lossy()], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&backup)?, 0o600, "the backup");
    // A database the CLI creates is private too.
    let fresh = server.dir.path().join("fresh.db");
    let out = cli(
        &fresh,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--password-stdin",
            "--create",
        ],
        "a long password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&fresh)?, 0o600, "a database made by the CLI");
    Ok(())
}

/// A time as the CLI prints it: milliseconds, then the same instant in ISO 8601 UTC.
fn assert_ms_and_iso(field: &str) {
    let (ms, iso) = field
        .split_once(' ')
        .unwrap_or_else(|| panic!("not `MS (ISO)`: {field:?}"));
    let ms: i64 = ms.parse().unwrap_or_else(|_| panic!("not ms: {field:?}"));
    let iso = iso
        .strip_prefix('(')
        .and_then(|i| i.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no (ISO): {field:?}"));
    assert_eq!(iso, artifact_review::clock::iso(ms));
    assert!(iso.ends_with('Z') && iso.len() == 24, "{iso}");
    assert!((ms - now_ms()).abs() < 3_650 * 86_400_000, "{field}");
}

#[test]
fn admin_commands_refuse_a_database_that_does_not_exist_unless_told_to_create_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("typo.db");
    let commands: Vec<Vec<&str>> = vec![
        vec!["user", "list"],
        vec![
            "user",
            "create",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--password-stdin",
        ],
        vec!["user", "disable", "a@example.com"],
        vec!["user", "enable", "a@example.com"],
        vec!["user", "set-password", "a@example.com", "--password-stdin"],
        vec!["agent", "create", "--user", "a@example.com", "--name", "A"],
        vec!["key", "create", "--user", "a@example.com", "--name", "k"],
        vec!["key", "list", "--user", "a@example.com"],
        vec!["key", "revoke", "1"],
        vec!["backup", "/nonexistent/backup.db"],
    ];
    for args in &commands {
        // A backup has nothing to copy; the others could make the database.
        let remedy = if args[0] == "backup" {
            "nothing to back up (is --db the server's?)"
        } else {
            "start the server once there or pass --create"
        };
        let expected = format!("error: no database at {}; {remedy}", db.display());
        // Nothing on stdin: the refusal comes before any reading (and a write to a process that
        // already exited would fail).
        let out = cli(&db, args, "");
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr(&out).trim(), expected, "{args:?}");
        assert_eq!(stdout(&out), "");
        assert!(!db.exists(), "{args:?} made a database");
    }
    let out = cli(&db, &["user", "list", "--create"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "ID\tEMAIL\tNAME\tROLE\tSTATUS\tCREATED\tDISABLED"
    );
    assert!(db.exists());
    // The server still makes its database.
    let fresh = dir.path().join("served.db");
    let server = Server::start_on(tempfile::tempdir()?, fresh.clone(), &[]);
    assert!(server.setup_token.is_some());
    assert!(fresh.exists());
    Ok(())
}

#[test]
fn accounts_are_listed_given_a_password_disabled_and_enabled_from_the_command_line() -> TestResult {
    let server = Server::start();
    let ada = server.setup_owner();
    let bob = server.add_user("bob@example.com", "Bob", "bob password 1");
    let (_, bob_key) = server.create_key(&bob, json!({"name": "bob's CI"}));

    let out = server.cli(&["user", "list"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows[0],
        ["ID", "EMAIL", "NAME", "ROLE", "STATUS", "CREATED", "DISABLED"]
    );
    assert_eq!(
        rows[1][..5],
        ["1", "ada@example.com", "Ada", "admin", "active"]
    );
    assert_eq!(
        rows[2][..5],
        ["2", "bob@example.com", "Bob", "member", "active"]
    );
    assert_ms_and_iso(rows[2][5]);
    assert_eq!(rows[2][6], "-");

    // A new password: every session of the account ends.
    let out = server.cli(
        &[
            "user",
            "set-password",
            "BOB@example.com",
            "--password-stdin",
        ],
        "bob's new password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "2\tpassword set\t1 session ended");
    assert_eq!(server.get("/api/v1/me", &Auth::Cookie(bob)).status, 401);
    server.sign_in("bob@example.com", "bob's new password");
    let out = server.cli(
        &[
            "user",
            "set-password",
            "bob@example.com",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at least 8"), "{}", stderr(&out));

    // Disabled: keys revoked, sessions ended, the last admin kept.
    let out = server.cli(&["user", "disable", "bob@example.com"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[..2], ["2", "disabled"]);
    assert_ms_and_iso(fields[2]);
    assert_eq!(fields[3], "1 keys revoked");
    let resp = server.get("/api/v1/me", &Auth::Key(bob_key.clone()));
    assert_eq!(resp.error_code(), "revoked_key");
    let reason: String = server.open_db().query_row(
        "SELECT revoked_reason FROM api_keys WHERE user_id = 2",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(reason, "member_removed");
    let out = server.cli(&["user", "list"], "");
    let text = stdout(&out);
    let bob_row: Vec<&str> = text.lines().nth(2).ok_or("bob")?.split('\t').collect();
    assert_eq!(bob_row[4], "disabled");
    assert_ms_and_iso(bob_row[6]);
    let out = server.cli(&["user", "disable", "bob@example.com"], "");
    assert!(stdout(&out).starts_with("2\talready disabled\t"));
    // No key is made for a disabled account (it would spring to life when enabled).
    let out = server.cli(
        &["key", "create", "--user", "bob@example.com", "--name", "k"],
        "",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("bob@example.com is disabled"),
        "{}",
        stderr(&out)
    );
    let out = server.cli(&["user", "disable", "ada@example.com"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no enabled admin"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        server.get("/api/v1/me", &Auth::Cookie(ada.clone())).status,
        200
    );

    let out = server.cli(&["user", "enable", "bob@example.com"], "");
    assert!(out.status.success());
    assert_eq!(stdout(&out), "2\tenabled");
    server.sign_in("bob@example.com", "bob's new password");
    assert_eq!(server.get("/api/v1/me", &Auth::Key(bob_key)).status, 401);
    let out = server.cli(&["user", "enable", "nobody@example.com"], "");
    assert!(stderr(&out).contains("no account has the email nobody@example.com"));

    // Each step is in the trail, marked as done from the command line.
    let actions: Vec<(String, Option<String>)> = server
        .open_db()
        .prepare("SELECT action, json_extract(detail, '$.via') FROM audit_events WHERE user_id = 2 AND action IN ('account.password_set', 'user.disabled', 'user.enabled', 'key.revoked') ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let via = |a: &str, v: Option<&str>| (a.to_string(), v.map(str::to_string));
    assert_eq!(
        actions,
        vec![
            via("account.password_set", Some("cli")),
            via("key.revoked", None),
            via("user.disabled", Some("cli")),
            via("user.enabled", Some("cli")),
        ]
    );
    Ok(())
}

#[test]
fn help_shows_server_flags_only_on_serve_and_describes_every_flag() -> TestResult {
    let help = |args: &[&str]| -> Result<String, Box<dyn std::error::Error>> {
        let out = std::process::Command::new(BIN)
            .args(args)
            .arg("--help")
            .output()?;
        assert!(out.status.success(), "{args:?}");
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let server_flags = [
        "--addr",
        "--base-url",
        "--trusted-proxy",
        "--max-connections-per-address",
        "--body-timeout",
        "--min-body-rate",
        "--send-timeout",
        "--memory-budget",
        "--storage-quota",
        "--litestream",
        "--litestream-bin",
        "--restore-at",
        "--checkpoints",
        "--metrics-addr",
    ];
    let admin: &[&[&str]] = &[
        &["user"],
        &["user", "create"],
        &["user", "list"],
        &["user", "set-password"],
        &["user", "disable"],
        &["user", "enable"],
        &["agent", "create"],
        &["key", "create"],
        &["key", "list"],
        &["key", "revoke"],
        &["backup"],
    ];
    for args in admin {
        let text = help(args)?;
        for flag in server_flags {
            assert!(!text.contains(flag), "{args:?} lists {flag}:\n{text}");
        }
        assert!(
            text.contains("--db") && text.contains("--create"),
            "{args:?}"
        );
    }
    for args in [&[][..], &["serve"][..]] {
        let text = help(args)?;
        for flag in server_flags {
            assert!(text.contains(flag), "{args:?} lacks {flag}");
        }
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("--create")),
            "{args:?} offers --create"
        );
    }
    // Every flag and argument has a description: no option line ends at its value name.
    for args in admin.iter().copied().chain([&[][..], &["serve"][..]]) {
        let text = help(args)?;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            let trimmed = line.trim_start();
            let is_item =
                (trimmed.starts_with('-') || trimmed.starts_with('<')) && line.starts_with("  ");
            if !is_item {
                continue;
            }
            let described = trimmed.contains("  ")
                || lines
                    .peek()
                    .is_some_and(|next| next.starts_with("          "));
            assert!(described, "{args:?}: undescribed {trimmed:?}");
        }
    }
    let out = cli(
        std::path::Path::new("/tmp/none.db"),
        &["--addr", "127.0.0.1:1", "key", "list", "--user", "a@b.c"],
        "",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--addr is a server option"),
        "{}",
        stderr(&out)
    );
    Ok(())
}

#[test]
fn an_agent_name_taken_in_another_case_is_refused_with_the_agents_id() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    let create = |name: &str| {
        server.cli(
            &[
                "agent",
                "create",
                "--user",
                "ada@example.com",
                "--name",
                name,
            ],
            "",
        )
    };
    let out = create("Claude");
    assert!(out.status.success());
    let id = stdout(&out);
    let out = create("CLAUDE");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("(id {id})")),
        "{}",
        stderr(&out)
    );
    // `--agent` finds it in any case.
    let out = server.cli(
        &[
            "key",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "k",
            "--agent",
            "claude",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    Ok(())
}

#[test]
fn a_server_on_every_interface_without_a_base_url_links_to_loopback_and_says_what_to_set(
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut child, mut lines) =
        server_logging(&dir.path().join("review.db"), "0.0.0.0:0", "info")?;
    let mut log = Vec::new();
    let port = loop {
        let Some(line) = lines.next().transpose()? else {
            let _ = child.kill();
            return Err(format!("the server stopped: {log:?}").into());
        };
        log.push(line.clone());
        if let Some(rest) = line.split("listening on http://0.0.0.0:").nth(1) {
            break rest.trim().parse::<u16>()?;
        }
    };
    let log = log.join("\n");
    let result = (|| -> TestResult {
        assert!(
            log.contains(&format!("http://127.0.0.1:{port}/setup#token=")),
            "the setup link opens in a browser on this machine: {log}"
        );
        assert!(
            log.contains("without --base-url") && log.contains("--base-url http://review.lan:"),
            "{log}"
        );
        let discovery: serde_json::Value = ureq::get(&format!("http://127.0.0.1:{port}/api/v1"))
            .call()?
            .body_mut()
            .read_json()?;
        assert!(
            discovery
                .to_string()
                .contains(&format!("http://127.0.0.1:{port}/api/v1/health")),
            "{discovery}"
        );
        assert!(!discovery.to_string().contains("0.0.0.0"), "{discovery}");
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

#[test]
fn limits_that_would_switch_themselves_off_are_refused_at_the_start_saying_the_least() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("review.db");
    for (flag, value, says) in [
        ("--min-body-rate", "0", "such as 1KiB"),
        ("--min-body-rate", "0KiB", "such as 1KiB"),
        ("--memory-budget", "100MiB", "the least is 160 MiB"),
        ("--max-connections-per-address", "0", "at least 1"),
        ("--storage-quota", "0", "would refuse every upload"),
    ] {
        let out = std::process::Command::new(BIN)
            .arg("--db")
            .arg(&db)
            .args(["--addr", "127.0.0.1:0", flag, value])
            .output()?;
        assert!(!out.status.success(), "{flag} {value} was taken");
        let text = stderr(&out);
        assert!(
            text.contains(flag) && text.contains(says),
            "{flag} {value}: {text}"
        );
        assert!(!db.exists(), "nothing is created before the flags are read");
    }
    // The least accepted budget starts.
    let server = Server::start_with(&["--memory-budget", "160MiB", "--min-body-rate", "1"]);
    assert_eq!(server.get("/api/v1/health", &Auth::None).status, 200);
    Ok(())
}

#[test]
fn admin_commands_do_not_read_the_servers_environment_and_the_server_still_does() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    // A service's environment with a server setting this version refuses (or a typo in one):
    // the admin commands, which do not use it, still run.
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(&server.db)
        .env("ARTIFACT_REVIEW_MEMORY_BUDGET", "10MiB")
        .env("ARTIFACT_REVIEW_ADDR", "not an address")
        .args(["key", "list", "--user", "ada@example.com"])
        .output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    // The server itself reads them, and refuses the bad one.
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(server.dir.path().join("other.db"))
        .env("ARTIFACT_REVIEW_MEMORY_BUDGET", "10MiB")
        .output()?;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--memory-budget"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn a_port_in_use_is_said_before_any_database_is_made() -> TestResult {
    let server = Server::start();
    let db = server.dir.path().join("second.db");
    let out = std::process::Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["--addr", &format!("127.0.0.1:{}", server.port)])
        .output()?;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("cannot listen on 127.0.0.1:{}", server.port)),
        "{}",
        stderr(&out)
    );
    assert!(
        !db.exists(),
        "a database was created for a server that cannot start"
    );
    let made: Vec<_> = std::fs::read_dir(server.dir.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("second"))
        .collect();
    assert!(made.is_empty(), "{made:?}");
    // The first server goes on.
    assert_eq!(server.get("/api/v1/health", &Auth::None).status, 200);
    Ok(())
}

#[test]
fn another_programs_sqlite_file_given_as_the_database_is_refused_and_left_untouched() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let other = dir.path().join("notes.db");
    {
        let conn = rusqlite::Connection::open(&other)?;
        conn.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('keep me');",
        )?;
    }
    let before = std::fs::read(&other)?;
    let listed = cli(&other, &["user", "list"], "");
    let served = std::process::Command::new(BIN)
        .args(["--db", &other.to_string_lossy(), "--addr", "127.0.0.1:0"])
        .output()?;
    for out in [&listed, &served] {
        assert!(!out.status.success());
        assert!(
            stderr(out).contains("the SQLite database of something else"),
            "{}",
            stderr(out)
        );
    }
    assert_eq!(std::fs::read(&other)?, before, "the file was changed");
    let conn = rusqlite::Connection::open(&other)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_eq!(mode, "delete");
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    assert_eq!(tables, 1);
    Ok(())
}

#[test]
fn with_the_log_at_warn_the_setup_link_and_the_address_are_still_printed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut child, mut lines) =
        server_logging(&dir.path().join("review.db"), "127.0.0.1:0", "warn")?;
    let mut log = Vec::new();
    let found = loop {
        let Some(line) = lines.next().transpose()? else {
            break false;
        };
        log.push(line);
        let all = log.join("\n");
        if all.contains("listening on http://127.0.0.1:") && all.contains("/setup#token=") {
            break true;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "{log:?}");
    assert!(
        !log.iter().any(|l| l.contains(" INFO ")),
        "nothing else at info: {log:?}"
    );
    Ok(())
}

/// A sign-in request whose `length`-byte body is still to come, its handler already running (the
/// server has answered `100 Continue`): it holds the shutdown's grace period.
fn waiting_for_its_body(server: &Server, length: usize) -> std::io::Result<std::net::TcpStream> {
    use std::io::{Read, Write};
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", server.port))?;
    slow.write_all(
        format!("POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    slow.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut heard = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&heard).contains("100 Continue") {
        let n = slow.read(&mut buf)?;
        assert!(
            n > 0,
            "the server closed: {}",
            String::from_utf8_lossy(&heard)
        );
        heard.extend_from_slice(&buf[..n]);
    }
    Ok(slow)
}

/// Sends SIGTERM to the server `times` times at once and waits until it says it is stopping.
fn stop_signal(server: &Server, times: usize) -> TestResult {
    let pid = server.pid().to_string();
    let sent = std::process::Command::new("kill")
        .arg("-TERM")
        .args(std::iter::repeat_n(&pid, times))
        .status()?;
    assert!(sent.success());
    for _ in 0..400 {
        if server.log().contains("shutting down") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(server.log().contains("shutting down"), "{}", server.log());
    Ok(())
}

#[test]
fn one_stop_sent_twice_at_once_still_lets_open_requests_finish() -> TestResult {
    use std::io::{Read, Write};
    let mut server = Server::start();
    // As coreutils' `timeout` stops a server: SIGTERM to it, then to its process group, so the
    // server hears two at once. A request whose body is still coming must still be answered.
    let mut slow = waiting_for_its_body(&server, 2)?;
    stop_signal(&server, 2)?;
    // The rest of the body: the request is answered (a 400 for its empty object), not cut off.
    slow.write_all(b"{}")?;
    let mut answer = Vec::new();
    slow.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("HTTP/1.1 400"), "{answer}");
    let status = server.wait_exit();
    let log = server.log();
    assert!(status.success(), "{status:?}: {log}");
    assert!(!log.contains("a second stop signal"), "{log}");
    Ok(())
}

#[test]
fn a_second_sigterm_while_requests_finish_stops_the_server_at_once() -> TestResult {
    use std::io::Write;
    let mut server = Server::start();
    let mut slow = waiting_for_its_body(&server, 100)?;
    slow.write_all(b"{")?;
    stop_signal(&server, 1)?;
    // A second signal within 100 ms of the first is the same stop sent to the process group.
    std::thread::sleep(std::time::Duration::from_millis(150));
    let status = server.terminate();
    assert!(!status.success(), "{status:?}");
    let log = server.log();
    assert!(log.contains("a second stop signal: stopping now"), "{log}");
    assert!(
        !log.contains("still open after"),
        "it did not wait out the grace period: {log}"
    );
    drop(slow);
    Ok(())
}

#[test]
fn a_backup_that_cannot_be_written_says_which_and_leaves_nothing_behind() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    // Stopped, its WAL copied into the database and emptied: opening it again writes little.
    let (_dir, db) = server.stop();
    let size = std::fs::metadata(&db)?.len();
    assert!(
        size > 128 * 1024,
        "the database ({size} bytes) is larger than the limit below"
    );
    let out_dir = tempfile::tempdir()?;
    let dest = out_dir.path().join("copy.db");
    // Files of this process may not grow past 64 KiB: writing the copy fails part way, as on a
    // disk that fills up.
    let script = format!(
        "trap '' XFSZ; ulimit -f 128; exec '{BIN}' --db '{}' backup '{}'",
        db.display(),
        dest.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()?;
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!("could not write the backup {}", dest.display())),
        "{}",
        stderr(&out)
    );
    let left: Vec<_> = std::fs::read_dir(out_dir.path())?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    assert!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}

#[test]
fn a_database_with_two_names_is_refused_by_the_server_and_the_commands() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("review.db");
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "--email",
            "ada@example.com",
            "--name",
            "Ada",
            "--password-stdin",
            "--create",
        ],
        "a long password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A snapshot by hard links (cp -al) gives the file a second name.
    let snapshot = dir.path().join("snapshot.db");
    std::fs::hard_link(&db, &snapshot)?;
    for path in [&db, &snapshot] {
        let out = cli(path, &["user", "list"], "");
        assert!(!out.status.success(), "{}", path.display());
        assert!(
            stderr(&out).contains("2 names (hard links"),
            "{}",
            stderr(&out)
        );
        let served = std::process::Command::new("timeout")
            .arg("20")
            .arg(BIN)
            .arg("--db")
            .arg(path)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .output()?;
        assert!(
            !served.status.success(),
            "the server started on {}",
            path.display()
        );
        assert!(
            stderr(&served).contains("hard links"),
            "{}",
            stderr(&served)
        );
    }
    // A copy is fine.
    std::fs::remove_file(&snapshot)?;
    let out = cli(&db, &["user", "list"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    Ok(())
}

#[test]
fn a_folder_as_the_database_and_a_zero_timeout_are_refused_in_plain_words() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("data.db");
    std::fs::create_dir(&folder)?;
    for args in [vec!["user", "list"], vec!["serve", "--addr", "127.0.0.1:0"]] {
        let out = cli(&folder, &args, "");
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("is a folder; give the database file's path"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // A refused database leaves nothing of the server beside it (its lock file).
    let notes = dir.path().join("notes.db");
    std::fs::write(&notes, "not a database, but someone's notes")?;
    let out = cli(&notes, &["serve", "--addr", "127.0.0.1:0"], "");
    assert!(!out.status.success());
    assert!(
        !dir.path().join("notes.db.server-lock").exists(),
        "the lock file was left: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&notes)?,
        "not a database, but someone's notes"
    );
    let out = cli(
        &dir.path().join("ar.db"),
        &["serve", "--body-timeout", "0"],
        "",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("0 seconds leaves no time at all"),
        "{}",
        stderr(&out)
    );
    Ok(())
}
