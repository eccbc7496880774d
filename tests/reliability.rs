//! Reliability under load and crashes: an acknowledged write survives SIGKILL, the database stays
//! intact, and a mixed load of 64 connections never sees a 5xx or "database is locked".

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::load::{comment_body, http, Acknowledged, CommentWriters};
use common::*;
use serde_json::json;

const CONNECTIONS: usize = 64;

/// A pseudo-random number from the clock, for "a random moment" (no seeded RNG needed).
fn jitter(max: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) % max
}

#[test]
fn acknowledged_comments_survive_five_sigkills_and_the_database_stays_intact() -> TestResult {
    let mut server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "writers"}));
    let created = server.upload(&Auth::Key(key.clone()), json!({"name": "Crash test", "fileName": "index.html", "content": "<p>Monthly revenue</p>"}));
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    // Comment id -> (content, when), for every POST answered 201.
    let mut acknowledged = Acknowledged::new();

    for round in 0..5 {
        let url = server.url(&format!("/api/v1/artifacts/{share}/comments"));
        let writers = CommentWriters::start(&url, &key, CONNECTIONS, &format!("round {round}"));
        thread::sleep(Duration::from_millis(300 + jitter(1200)));
        server.kill();
        let acked = writers.stop();
        {
            let db = rusqlite::Connection::open(&server.db)?;
            let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            assert_eq!(integrity, "ok", "round {round}");
        }
        let (dir, db) = server.stop();
        server = Server::start_on(dir, db, &[]);
        let db = server.open_db();
        assert!(
            !acked.is_empty(),
            "round {round}: no write was acknowledged before the kill"
        );
        let mut stmt = db.prepare("SELECT content FROM comments WHERE id = ?1")?;
        for (id, (content, _)) in acked.iter() {
            let stored: String = stmt
                .query_row([id.parse::<i64>()?], |r| r.get(0))
                .map_err(|e| format!("round {round}: comment {id} acknowledged but lost: {e}"))?;
            assert_eq!(&stored, content);
        }
        acknowledged.extend(acked);
    }
    // The restarted server works, with its counters right.
    let stats = server
        .get(
            &format!("/api/v1/artifacts/{share}"),
            &Auth::Key(key.clone()),
        )
        .json()["stats"]
        .clone();
    let total: i64 = server.open_db().query_row(
        "SELECT count(*) FROM comments WHERE deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(stats["commentCount"], json!(total));
    assert!(total as usize >= acknowledged.len());
    Ok(())
}

#[test]
fn a_mixed_load_of_64_connections_for_10_seconds_never_fails_with_a_5xx_or_a_lock() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "load"}));
    let agent_id = server.create_agent(&Auth::Cookie(cookie.clone()), "Claude", None);
    let (_, agent_key) = server.create_key(&cookie, json!({"name": "agent", "agentId": agent_id}));
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Load", "fileName": "index.html", "content": "<p>Monthly revenue</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let first = server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &Auth::Key(key.clone()),
        &comment_body("seed"),
    );
    let comment = first.json()["id"].as_str().ok_or("id")?.to_string();

    let base = server.url("");
    let deadline = Instant::now() + Duration::from_secs(10);
    let statuses: Arc<Mutex<HashMap<u16, u64>>> = Arc::new(Mutex::new(HashMap::new()));
    let failures: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let (base, share, comment) = (base.clone(), share.clone(), comment.clone());
            let key = if w % 4 == 0 {
                agent_key.clone()
            } else {
                key.clone()
            };
            let (statuses, failures) = (statuses.clone(), failures.clone());
            thread::spawn(move || {
                let agent = http();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let result = match (w + n as usize) % 8 {
                        0 | 1 => agent
                            .post(&format!("{base}/api/v1/artifacts/{share}/comments"))
                            .header("X-API-Key", &key)
                            .send_json(comment_body(&format!("w{w} n{n}"))),
                        2 => agent
                            .post(&format!("{base}/api/v1/comments/{comment}/replies"))
                            .header("X-API-Key", &key)
                            .send_json(json!({"content": format!("reply w{w} n{n}")})),
                        3 => agent
                            .patch(&format!("{base}/api/v1/comments/{comment}"))
                            .header("X-API-Key", &key)
                            .send_json(json!({"resolved": n.is_multiple_of(2)})),
                        4 => agent
                            .get(&format!("{base}/api/v1/artifacts/{share}/comments"))
                            .header("X-API-Key", &key)
                            .call(),
                        5 => agent
                            .get(&format!("{base}/api/v1/artifacts"))
                            .header("X-API-Key", &key)
                            .call(),
                        6 => agent
                            .get(&format!("{base}/api/v1/artifacts/{share}"))
                            .header("X-API-Key", &key)
                            .call(),
                        _ => agent
                            .get(&format!("{base}/api/v1/me"))
                            .header("X-API-Key", &key)
                            .call(),
                    };
                    match result {
                        Ok(mut resp) => {
                            let status = resp.status().as_u16();
                            *statuses.lock().expect("lock").entry(status).or_default() += 1;
                            if status >= 500 || status == 401 {
                                let body = resp.body_mut().read_to_string().unwrap_or_default();
                                failures
                                    .lock()
                                    .expect("lock")
                                    .push(format!("{status}: {body}"));
                            }
                        }
                        Err(e) => failures
                            .lock()
                            .expect("lock")
                            .push(format!("transport: {e}")),
                    }
                }
            })
        })
        .collect();
    // Another process writes at the same time: the CLI creating keys.
    for i in 0..5 {
        let out = server.cli(
            &[
                "key",
                "create",
                "--user",
                "ada@example.com",
                "--name",
                &format!("cli {i}"),
            ],
            "",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for w in workers {
        let _ = w.join();
    }
    let failures = failures.lock().expect("lock");
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    let statuses = statuses.lock().expect("lock");
    let total: u64 = statuses.values().sum();
    assert!(total > 1_000, "the load ran: {statuses:?}");
    assert!(
        statuses.keys().all(|s| (200..300).contains(s)),
        "{statuses:?}"
    );
    let log = server.log();
    assert!(!log.to_lowercase().contains("database is locked"), "{log}");
    assert!(!log.contains("panicked"));
    let db = server.open_db();
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(integrity, "ok");
    Ok(())
}
