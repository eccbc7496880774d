//! Continuous replication with Litestream (issue 16), against the real binary, the real Litestream
//! 0.5 and a real S3-compatible server (moto), all installed by `scripts/install-ops-deps`
//! (`make test` runs it):
//! - under comment-write load, the server (and with it Litestream) is SIGKILLed; a server started
//!   with the same replica in an empty folder restores the database and serves it: intact, and
//!   holding every comment acknowledged more than the RPO bound before the kill (the loss within
//!   it is printed: it is the documented RPO);
//! - a point-in-time restore to before a deletion brings the deleted artifact back;
//! - a key revoked while Litestream replicates and checkpoints is refused on the next request.
//!
//! Both a file replica and an S3 bucket are tested. The tests run one at a time: the crash test
//! measures what a loaded machine loses, and two loads at once would measure each other.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::load::{comment_body, http, CommentWriters};
use common::*;
use serde_json::json;

/// Litestream's sync interval (to the replica) and monitor interval (WAL to its local files) in
/// these tests, as in the sample configurations of docs/.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);
const MONITOR_INTERVAL: Duration = Duration::from_millis(250);
/// A comment acknowledged this long before the crash must be in the replica: a commit waits at
/// most a monitor interval to be read from the WAL and a sync interval to be uploaded (the RPO),
/// plus what a loaded two-core machine takes to do both (the margin).
const RPO_BOUND: Duration = Duration::from_millis(1250 + 750);
/// Writers posting comments during the crash test.
const WRITERS: usize = 16;

/// The tests of this file, one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/litestream/.venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-ops-deps (make test does)",
        path.display()
    );
    path
}

/// Where the replica lives.
enum Replica {
    File(PathBuf),
    S3 { endpoint: String, bucket: String },
}

impl Replica {
    /// The `replica:` block of a Litestream configuration.
    fn yaml(&self) -> String {
        let sync = format!("{}ms", SYNC_INTERVAL.as_millis());
        match self {
            Replica::File(dir) => format!(
                "    replica:\n      url: file://{}\n      sync-interval: {sync}\n",
                dir.display()
            ),
            Replica::S3 { endpoint, bucket } => format!(
                "    replica:\n      type: s3\n      bucket: {bucket}\n      path: review\n      endpoint: {endpoint}\n      region: us-east-1\n      force-path-style: true\n      access-key-id: test\n      secret-access-key: test\n      sync-interval: {sync}\n"
            ),
        }
    }
}

/// moto's S3 server on a free loopback port, with one bucket; stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start() -> S3Server {
        let mut child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("Running on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto_server says where it listens");
        S3Server {
            child,
            endpoint: format!("http://{addr}"),
        }
    }

    /// A new bucket (moto checks no signature, so a plain PUT makes it).
    fn bucket(&self, name: &str) -> Replica {
        let status = http()
            .put(&format!("{}/{name}", self.endpoint))
            .send_empty()
            .expect("moto answers")
            .status();
        assert_eq!(status.as_u16(), 200, "bucket {name} made");
        Replica::S3 {
            endpoint: self.endpoint.clone(),
            bucket: name.to_string(),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder for a server's database and its Litestream configuration (the database's path in
/// it, the replica as given; intervals as in docs/).
struct Machine {
    dir: tempfile::TempDir,
    db: PathBuf,
    config: PathBuf,
}

impl Machine {
    fn new(replica: &Replica, extra: &str) -> Machine {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = dir.path().join("review.db");
        let config = dir.path().join("litestream.yml");
        let yaml = format!(
            "dbs:\n  - path: {}\n    monitor-interval: {}ms\n{extra}{}",
            db.display(),
            MONITOR_INTERVAL.as_millis(),
            replica.yaml()
        );
        std::fs::write(&config, yaml).expect("write the configuration");
        Machine { dir, db, config }
    }

    /// Starts the server with `--litestream`, plus `args`.
    fn serve(self, args: &[&str]) -> (Server, PathBuf) {
        let litestream = tool("litestream");
        let config = self.config.to_string_lossy().into_owned();
        let bin = litestream.to_string_lossy().into_owned();
        let mut all = vec!["--litestream", &config, "--litestream-bin", &bin];
        all.extend_from_slice(args);
        // The AWS SDK inside Litestream refuses a custom CA bundle from the environment together
        // with a plain-HTTP endpoint; the test's S3 server needs none.
        let server = Server::start_env(self.dir, self.db, &all, &["AWS_CA_BUNDLE"]);
        (server, self.config)
    }
}

/// Polls `check` until it holds (a guard against waiting forever, not a timing assertion).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// An owner, a key and an HTML artifact to comment on; returns (key id, key, share token).
fn seed(server: &Server) -> (String, String, String) {
    let cookie = server.setup_owner();
    let (key_id, key) = server.create_key(&cookie, json!({"name": "writers"}));
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Replicated", "fileName": "index.html", "content": "<p>Monthly revenue</p>"}),
    );
    let share = created["shareToken"]
        .as_str()
        .expect("share token")
        .to_string();
    (key_id, key, share)
}

fn crash_under_load_then_restore_on_a_new_machine(replica: Replica) -> TestResult {
    let (mut server, _) = Machine::new(&replica, "").serve(&[]);
    let (_, key, share) = seed(&server);
    let url = server.url(&format!("/api/v1/artifacts/{share}/comments"));
    let writers = CommentWriters::start(&url, &key, WRITERS, "");
    // Load long enough for several syncs and at least one Litestream checkpoint.
    eventually("comments are being acknowledged", || {
        writers.acknowledged() > 2_000
    });
    thread::sleep(Duration::from_secs(3));
    // The machine dies: the server gets SIGKILL, and the kernel kills its Litestream with it.
    server.kill();
    let killed = Instant::now();
    // Comment id -> (content, when it was acknowledged).
    let acked = writers.stop();

    // A new machine: an empty folder, the same replica. One command restores and serves.
    let (restored, _) = Machine::new(&replica, "").serve(&[]);
    assert!(
        restored.log().contains("restored"),
        "the server says it restored the database: {}",
        restored.log()
    );
    let db = restored.open_db();
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(integrity, "ok");
    let mut stmt = db.prepare("SELECT content FROM comments WHERE id = ?1")?;
    let rpo = SYNC_INTERVAL + MONITOR_INTERVAL;
    let (mut in_window, mut lost_in_window, mut oldest_lost) = (0, 0, Duration::ZERO);
    for (id, (content, at)) in acked.iter() {
        let age = killed.duration_since(*at);
        let stored: Option<String> = stmt.query_row([id.parse::<i64>()?], |r| r.get(0)).ok();
        if age > RPO_BOUND {
            assert_eq!(
                stored.as_ref(),
                Some(content),
                "comment {id} was acknowledged {age:?} before the kill, more than {RPO_BOUND:?}, and is missing"
            );
        }
        if age <= rpo {
            in_window += 1;
        }
        if stored.is_none() {
            if age <= rpo {
                lost_in_window += 1;
            }
            oldest_lost = oldest_lost.max(age);
        }
        if let Some(stored) = stored {
            assert_eq!(&stored, content);
        }
    }
    eprintln!(
        "RPO ({}): {} comments acknowledged, {in_window} in the last {rpo:?} (sync + monitor interval) before the kill, {lost_in_window} of them lost; the oldest lost was acknowledged {oldest_lost:?} before the kill",
        match replica {
            Replica::File(_) => "file replica",
            Replica::S3 { .. } => "S3 replica",
        },
        acked.len()
    );
    // The restored server serves it all, through the restored key.
    let listed = restored.get(
        &format!("/api/v1/artifacts/{share}/comments"),
        &Auth::Key(key.clone()),
    );
    assert_eq!(listed.status, 200, "{}", listed.text());
    let count: i64 = db.query_row(
        "SELECT count(*) FROM comments WHERE deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        listed.json()["comments"].as_array().map(|c| c.len() as i64),
        Some(count)
    );
    Ok(())
}

/// Now as RFC 3339 with milliseconds, as `--restore-at` takes it.
fn rfc3339_now() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}.{:03}", ms / 1000, ms % 1000),
            "+%Y-%m-%dT%H:%M:%S.%3NZ",
        ])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the replica's newest copy, restored into a scratch file, says `query` is non-zero.
fn replica_says(config: &Path, db: &Path, query: &str) -> bool {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let out = scratch.path().join("probe.db");
    let ok = Command::new(tool("litestream"))
        .env_remove("AWS_CA_BUNDLE")
        .arg("restore")
        .arg("-config")
        .arg(config)
        .arg("-o")
        .arg(&out)
        .arg(db)
        .output()
        .is_ok_and(|o| o.status.success());
    ok && rusqlite::Connection::open(&out)
        .and_then(|c| c.query_row(query, [], |r| r.get::<_, i64>(0)))
        .is_ok_and(|n| n > 0)
}

fn point_in_time_restore_brings_a_deleted_artifact_back(replica: Replica) -> TestResult {
    let (mut server, config) = Machine::new(&replica, "").serve(&[]);
    let (_, key, share) = seed(&server);
    let db = server.db.clone();
    let live = format!(
        "SELECT count(*) FROM artifacts WHERE share_token = '{share}' AND deleted_at IS NULL"
    );
    eventually("the artifact reaches the replica", || {
        replica_says(&config, &db, &live)
    });
    // Point-in-time granularity is Litestream's sync: the deletion must be synced after `before`.
    let before = rfc3339_now();
    thread::sleep(SYNC_INTERVAL + MONITOR_INTERVAL);
    let deleted = server.delete(
        &format!("/api/v1/artifacts/{share}"),
        &Auth::Key(key.clone()),
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let gone = format!(
        "SELECT count(*) FROM artifacts WHERE share_token = '{share}' AND deleted_at IS NOT NULL"
    );
    eventually("the deletion reaches the replica", || {
        replica_says(&config, &db, &gone)
    });
    assert!(server.terminate().success());

    // The newest copy has it deleted; the state before the deletion has it back.
    let (newest, _) = Machine::new(&replica, "").serve(&[]);
    let missing = newest.get(
        &format!("/api/v1/artifacts/{share}"),
        &Auth::Key(key.clone()),
    );
    assert_eq!(missing.status, 404, "{}", missing.text());
    drop(newest);
    let (earlier, _) = Machine::new(&replica, "").serve(&["--restore-at", &before]);
    assert!(
        earlier.log().contains(&format!("the state at {before}")),
        "{}",
        earlier.log()
    );
    let back = earlier.get(
        &format!("/api/v1/artifacts/{share}"),
        &Auth::Key(key.clone()),
    );
    assert_eq!(back.status, 200, "{}", back.text());
    let deleted_at: Option<i64> = earlier.open_db().query_row(
        "SELECT deleted_at FROM artifacts WHERE share_token = ?1",
        [&share],
        |r| r.get(0),
    )?;
    assert_eq!(deleted_at, None, "the artifact is back, not deleted");
    // A restart with --restore-at on the database that now exists is refused: never rolled back.
    let (dir, db) = earlier.stop();
    let out = Command::new(BIN)
        .env_remove("AWS_CA_BUNDLE")
        .arg("--db")
        .arg(&db)
        .args(["--addr", "127.0.0.1:0", "--restore-at", &before])
        .arg("--litestream")
        .arg(dir.path().join("litestream.yml"))
        .arg("--litestream-bin")
        .arg(tool("litestream"))
        .output()?;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("missing database only"), "{said}");
    Ok(())
}

#[test]
fn a_file_replica_keeps_every_comment_acknowledged_before_the_rpo_through_a_sigkill() -> TestResult
{
    let _one = serial();
    let replica = tempfile::tempdir()?;
    crash_under_load_then_restore_on_a_new_machine(Replica::File(replica.path().join("r")))
}

#[test]
fn an_s3_replica_keeps_every_comment_acknowledged_before_the_rpo_through_a_sigkill() -> TestResult {
    let _one = serial();
    let s3 = S3Server::start();
    crash_under_load_then_restore_on_a_new_machine(s3.bucket("crash"))
}

#[test]
fn a_point_in_time_restore_from_a_file_replica_brings_a_deleted_artifact_back() -> TestResult {
    let _one = serial();
    let replica = tempfile::tempdir()?;
    point_in_time_restore_brings_a_deleted_artifact_back(Replica::File(replica.path().join("r")))
}

#[test]
fn a_point_in_time_restore_from_s3_brings_a_deleted_artifact_back() -> TestResult {
    let _one = serial();
    let s3 = S3Server::start();
    point_in_time_restore_brings_a_deleted_artifact_back(s3.bucket("pit"))
}

#[test]
fn a_key_revoked_while_litestream_replicates_and_checkpoints_is_refused_on_the_next_request(
) -> TestResult {
    let _one = serial();
    let replica = tempfile::tempdir()?;
    // Litestream checkpoints after every sync with new frames: its read lock, checkpoints and
    // `_litestream_seq` commits all happen while the identity cache is in use.
    let (server, _) = Machine::new(
        &Replica::File(replica.path().join("r")),
        "    min-checkpoint-page-count: 1\n    checkpoint-interval: 1s\n",
    )
    .serve(&["--metrics-addr", "127.0.0.1:0"]);
    let (_, _, share) = seed(&server);
    let cookie = server.sign_in("ada@example.com", OWNER_PASSWORD);
    let litestream_seq = || -> i64 {
        server
            .open_db()
            .query_row(
                "SELECT coalesce(max(seq), 0) FROM _litestream_seq",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0)
    };
    for round in 0..4 {
        let (key_id, key) = server.create_key(&cookie, json!({"name": format!("round {round}")}));
        let auth = Auth::Key(key.clone());
        for _ in 0..3 {
            assert_eq!(server.get("/api/v1/me", &auth).status, 200);
        }
        // Litestream checkpoints (and commits to its own table) in between.
        let seen = litestream_seq();
        server.post(
            &format!("/api/v1/artifacts/{share}/comments"),
            &auth,
            &comment_body(&format!("round {round}")),
        );
        eventually("Litestream checkpoints", || litestream_seq() > seen);
        assert_eq!(
            server.get("/api/v1/me", &auth).status,
            200,
            "a Litestream checkpoint does not end a valid key"
        );
        // Revoked by another process (the CLI) on even rounds, through the API on odd ones.
        if round % 2 == 0 {
            let out = server.cli(&["key", "revoke", &key_id], "");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            let resp = server.delete(
                &format!("/api/v1/keys/{key_id}"),
                &Auth::Cookie(cookie.clone()),
            );
            assert_eq!(resp.status, 200);
        }
        let refused = server.get("/api/v1/me", &auth);
        assert_eq!(refused.status, 401, "round {round}: {}", refused.text());
        assert_eq!(refused.error_code(), "revoked_key");
        let revoked_at: Option<i64> = server.open_db().query_row(
            "SELECT revoked_at FROM api_keys WHERE id = ?1",
            [key_id.parse::<i64>()?],
            |r| r.get(0),
        )?;
        assert!(revoked_at.is_some());
    }
    assert!(!server.log().contains("panicked"));
    // The metrics know Litestream runs and when it last uploaded to the replica.
    let (_, _, text) = scrape(&metrics_url(&server));
    assert_eq!(
        sample(&text, "artifact_review_litestream_running"),
        Some(1.0),
        "{text}"
    );
    let last = sample(
        &text,
        "artifact_review_replication_last_success_timestamp_seconds",
    )
    .ok_or("a last successful replication")?;
    assert!(
        last * 1000.0 > (now_ms() - 600_000) as f64,
        "recent: {last}"
    );
    assert!(sample(&text, "artifact_review_replication_uploads_total").is_some_and(|n| n >= 1.0));
    assert_eq!(
        sample(&text, "artifact_review_litestream_restarts_total"),
        Some(0.0)
    );
    Ok(())
}

#[test]
fn the_sample_configurations_in_docs_are_read_by_litestream() -> TestResult {
    for (file, kind) in [("litestream-file.yml", "file"), ("litestream-s3.yml", "s3")] {
        let config = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(file);
        let out = Command::new(tool("litestream"))
            .env_remove("AWS_CA_BUNDLE")
            .arg("databases")
            .arg("-config")
            .arg(&config)
            .output()?;
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            listed.contains("/var/lib/artifact-review/artifact-review.db") && listed.contains(kind),
            "{file}: {listed}"
        );
    }
    Ok(())
}

#[test]
fn a_configuration_that_does_not_replicate_the_database_is_refused_before_serving() -> TestResult {
    let replica = tempfile::tempdir()?;
    let machine = Machine::new(&Replica::File(replica.path().join("r")), "");
    let other = machine.dir.path().join("other.db");
    let out = Command::new(BIN)
        .env_remove("AWS_CA_BUNDLE")
        .arg("--db")
        .arg(&other)
        .args(["--addr", "127.0.0.1:0", "--litestream"])
        .arg(&machine.config)
        .arg("--litestream-bin")
        .arg(tool("litestream"))
        .output()?;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("does not replicate the database"), "{said}");
    assert!(!other.exists(), "nothing was created");
    Ok(())
}

#[test]
fn a_litestream_that_dies_is_started_again_and_replication_goes_on() -> TestResult {
    let _one = serial();
    let replica = tempfile::tempdir()?;
    let replica = Replica::File(replica.path().join("r"));
    let (mut server, config) = Machine::new(&replica, "").serve(&["--metrics-addr", "127.0.0.1:0"]);
    let (_, key, share) = seed(&server);
    let started = |server: &Server| -> Vec<u32> {
        server
            .log()
            .lines()
            .filter_map(|l| l.split("Litestream started (pid ").nth(1))
            .filter_map(|rest| rest.split(')').next()?.parse().ok())
            .collect()
    };
    let first = started(&server)[0];
    let out = Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()?;
    assert!(out.success());
    assert_eq!(
        server.wait_for_log("Litestream started (pid", 2),
        2,
        "started again: {}",
        server.log()
    );
    assert!(server.log().contains("Litestream exited on its own"));
    let second = *started(&server).last().ok_or("a second start")?;
    assert_ne!(second, first);
    // Replication goes on: a comment made now reaches the replica.
    let made = server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &Auth::Key(key),
        &comment_body("after the restart"),
    );
    assert_eq!(made.status, 201);
    let db = server.db.clone();
    eventually("the comment reaches the replica", || {
        replica_says(
            &config,
            &db,
            "SELECT count(*) FROM comments WHERE content = 'after the restart'",
        )
    });
    let (_, _, text) = scrape(&metrics_url(&server));
    assert_eq!(
        sample(&text, "artifact_review_litestream_restarts_total"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "artifact_review_litestream_running"),
        Some(1.0)
    );
    // Stopping the server stops the Litestream it started (its last sync first).
    assert!(server.terminate().success());
    assert!(
        server.log().contains("Litestream stopped"),
        "{}",
        server.log()
    );
    let alive = Command::new("kill")
        .args(["-0", &second.to_string()])
        .status()?;
    assert!(!alive.success(), "Litestream {second} outlived the server");
    Ok(())
}

#[test]
fn a_killed_server_takes_its_litestream_with_it() -> TestResult {
    let _one = serial();
    let replica = tempfile::tempdir()?;
    let (mut server, _) = Machine::new(&Replica::File(replica.path().join("r")), "").serve(&[]);
    let pid: u32 = server
        .log()
        .split("Litestream started (pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next()?.parse().ok())
        .ok_or("Litestream's pid in the log")?;
    server.kill();
    // The kernel delivers the parent-death signal at once; reaping may take a moment.
    eventually("Litestream is gone", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z")
    });
    Ok(())
}

#[test]
fn a_configuration_naming_the_database_through_a_symbolic_link_restores_and_replicates_it(
) -> TestResult {
    let _one = serial();
    let replica_dir = tempfile::tempdir()?;
    let replica = Replica::File(replica_dir.path().join("r"));
    let (mut first, config) = Machine::new(&replica, "").serve(&[]);
    let (_, key, share) = seed(&first);
    let db = first.db.clone();
    let live = format!("SELECT count(*) FROM artifacts WHERE share_token = '{share}'");
    eventually("the artifact reaches the replica", || {
        replica_says(&config, &db, &live)
    });
    assert!(first.terminate().success());

    // The new machine's configuration names /…/link/review.db; the server is given the real path.
    let new = tempfile::tempdir()?;
    let real = new.path().join("real");
    std::fs::create_dir(&real)?;
    let link = new.path().join("link");
    std::os::unix::fs::symlink(&real, &link)?;
    let config = new.path().join("litestream.yml");
    std::fs::write(
        &config,
        format!(
            "dbs:\n  - path: {}\n    monitor-interval: {}ms\n{}",
            link.join("review.db").display(),
            MONITOR_INTERVAL.as_millis(),
            replica.yaml()
        ),
    )?;
    let config = config.to_string_lossy().into_owned();
    let bin = tool("litestream").to_string_lossy().into_owned();
    let server = Server::start_env(
        new,
        real.join("review.db"),
        &["--litestream", &config, "--litestream-bin", &bin],
        &["AWS_CA_BUNDLE"],
    );
    assert!(server.log().contains("restored"), "{}", server.log());
    let found = server.get(&format!("/api/v1/artifacts/{share}"), &Auth::Key(key));
    assert_eq!(found.status, 200, "{}", found.text());
    // What the server and its Litestream made there (the database, Litestream's copies of its
    // pages) is its owner's alone, whatever the umask it was started with.
    eventually("Litestream has written its local copies", || {
        std::fs::read_dir(&real).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with("-litestream")))
        })
    });
    let mut open_to_others = Vec::new();
    let mut folders = vec![real.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                folders.push(entry.path());
            }
            if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0 {
                open_to_others.push(entry.path());
            }
        }
    }
    assert_eq!(open_to_others, Vec::<PathBuf>::new());
    Ok(())
}

/// The server started with `--litestream` and a missing database, its log read line by line.
fn restoring(
    machine: &Machine,
    env: &[(&str, &Path)],
) -> std::io::Result<(Child, std::sync::mpsc::Receiver<String>)> {
    let mut command = Command::new(BIN);
    command.env_remove("AWS_CA_BUNDLE").env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .arg("--db")
        .arg(&machine.db)
        .args(["--addr", "127.0.0.1:0", "--litestream"])
        .arg(&machine.config)
        .arg("--litestream-bin")
        .arg(tool("litestream"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((child, rx))
}

/// The live `litestream restore` processes (not zombies) whose command line names `path`.
fn restores_naming(path: &Path) -> Vec<u32> {
    let wanted = path.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let args: Vec<String> = String::from_utf8_lossy(&cmdline)
                .split('\0')
                .map(str::to_string)
                .collect();
            args.iter().any(|arg| arg == "restore")
                && args.contains(&wanted)
                && stat
                    .rsplit(')')
                    .next()
                    .and_then(|s| s.split_whitespace().next())
                    != Some("Z")
        })
        .collect()
}

/// The lines `log` gives until one contains `wanted` (that one included); fails after a minute.
fn lines_until(log: &std::sync::mpsc::Receiver<String>, wanted: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        match log.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let found = line.contains(wanted);
                lines.push(line);
                if found {
                    return lines;
                }
            }
            Err(e) => panic!("no line with {wanted:?} ({e}); the log said: {lines:#?}"),
        }
    }
}

#[test]
fn a_replica_that_cannot_be_reached_is_waited_for_out_loud_and_nothing_is_served() -> TestResult {
    // An S3 endpoint nobody listens on: Litestream retries for minutes and says nothing meanwhile.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let machine = Machine::new(
        &Replica::S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: "nowhere".into(),
        },
        "",
    );
    let (mut child, log) = restoring(&machine, &[])?;
    let lines = lines_until(&log, "still waiting for Litestream to restore the database");
    let restores = restores_naming(&machine.config);
    assert_eq!(restores.len(), 1, "the restore runs: {restores:?}");
    let _ = child.kill();
    let _ = child.wait();
    // The restore goes with the server: left running, it would write the database later, under
    // a server started meanwhile.
    eventually("the killed server's restore is gone", || {
        restores_naming(&machine.config).is_empty()
    });
    let said = lines.join("\n");
    assert!(
        said.contains("restoring the newest copy from the replica"),
        "{said}"
    );
    assert!(
        said.contains("check the replica's address and credentials"),
        "{said}"
    );
    assert!(
        !said.contains("listening"),
        "nothing is served meanwhile: {said}"
    );
    assert!(!machine.db.exists(), "no database is made meanwhile");
    Ok(())
}

#[test]
fn a_ca_bundle_in_the_environment_stops_the_restore_with_what_to_do() -> TestResult {
    let machine = Machine::new(
        &Replica::S3 {
            endpoint: "http://127.0.0.1:9".into(),
            bucket: "any".into(),
        },
        "",
    );
    // Whatever the bundle holds: Litestream's S3 client cannot take one from the environment.
    let bundle = machine.dir.path().join("ca.pem");
    std::fs::write(&bundle, "")?;
    let (mut child, log) = restoring(&machine, &[("AWS_CA_BUNDLE", &bundle)])?;
    let status = child.wait()?;
    let said: Vec<String> = log.iter().collect();
    let said = said.join("\n");
    assert!(!status.success(), "{said}");
    assert!(
        said.contains("Litestream could not restore the database"),
        "{said}"
    );
    assert!(said.contains("start the server without it"), "{said}");
    assert!(!machine.db.exists());
    Ok(())
}

#[test]
fn a_litestream_other_than_0_5_and_a_restore_time_that_is_not_one_are_refused_before_anything_runs(
) -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    // A Litestream 0.3 as its binary answers: 0.5's flags fail on it.
    let old = dir.path().join("litestream");
    std::fs::write(
        &old,
        "#!/bin/sh\nif [ \"$1\" = version ]; then echo v0.3.13; exit 0; fi\necho \"flag provided but not defined: -log-level\" >&2; exit 1\n",
    )?;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755))?;
    let config = dir.path().join("litestream.yml");
    std::fs::write(&config, "dbs: []\n")?;
    let db = dir.path().join("ar.db");
    let run = |extra: &[&str]| {
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .arg("--db")
            .arg(&db)
            .args(["--addr", "127.0.0.1:0", "--litestream"])
            .arg(&config)
            .arg("--litestream-bin")
            .arg(&old)
            .args(extra)
            .env("RUST_LOG", "warn");
        command.output().expect("the server runs")
    };
    let out = run(&[]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("Litestream 0.5 is needed") && said.contains("v0.3.13"),
        "{said}"
    );
    assert!(!db.exists(), "no database was made");
    for (at, words) in [
        ("yesterday", "is not a time in RFC 3339 form"),
        ("2999-01-01T00:00:00Z", "is in the future"),
    ] {
        let out = run(&["--restore-at", at]);
        assert!(!out.status.success());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(words), "{at}: {said}");
    }
    // Another program as --litestream-bin (it prints nothing): said as such, not blamed on the
    // configuration.
    let silent = dir.path().join("silent");
    std::fs::write(
        &silent,
        "#!/bin/sh
exit 0
",
    )?;
    std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755))?;
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--db")
        .arg(&db)
        .args(["--addr", "127.0.0.1:0", "--litestream"])
        .arg(&config)
        .arg("--litestream-bin")
        .arg(&silent)
        .env("RUST_LOG", "warn")
        .output()?;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("is it Litestream 0.5?"), "{said}");
    assert!(!said.contains("does not replicate"), "{said}");
    assert!(!db.exists(), "no database was made");
    Ok(())
}
