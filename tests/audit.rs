//! The audit trail: every change to sessions, keys and agents is recorded with who, through which
//! key or session, from where and when; `GET /api/v1/activity` reads it, filtered by key.

mod common;

use common::*;
use serde_json::{json, Value};

fn actions(events: &Value) -> Vec<String> {
    events["events"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e["action"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn changes_to_sessions_keys_and_agents_are_recorded() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie.clone());
    let agent = server.create_agent(&c, "Claude", None);
    let (key_id, key) = server.create_key(&cookie, json!({"name": "claude", "agentId": agent}));
    server.delete(&format!("/api/v1/keys/{key_id}"), &c);
    server.patch(
        &format!("/api/v1/agents/{agent}"),
        &c,
        &json!({"name": "Claude 2"}),
    );
    server.delete(&format!("/api/v1/agents/{agent}"), &c);
    server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "ada@example.com", "password": "nope"}),
    );
    let _ = key;

    let events = server.get("/api/v1/activity", &c).json();
    assert_eq!(
        actions(&events),
        [
            "session.failed",
            "agent.deleted",
            "agent.updated",
            "key.revoked",
            "key.created",
            "agent.created",
            "session.created",
            "user.created"
        ],
        "newest first"
    );
    let created = &events["events"][4];
    assert_eq!(
        created["actor"],
        json!({"kind": "user", "id": "1", "name": "Ada"})
    );
    assert_eq!(created["ip"], "127.0.0.1");
    assert!(created["sessionId"].as_str().is_some());
    assert_eq!(created["object"], json!({"type": "key", "id": key_id}));
    assert_eq!(created["detail"]["name"], "claude");
    assert!(created["createdAt"].as_i64().is_some());
    assert!(!server
        .get("/api/v1/activity", &c)
        .text()
        .contains(&key[8..]));
    Ok(())
}

#[test]
fn activity_can_be_filtered_to_what_one_key_did() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie.clone());
    let (k1, key1) = server.create_key(&cookie, json!({"name": "one"}));
    let (k2, key2) = server.create_key(&cookie, json!({"name": "two"}));
    let a1 = server.create_agent(&Auth::Key(key1.clone()), "made by one", None);
    server.create_agent(&Auth::Key(key2), "made by two", None);
    server.patch(
        &format!("/api/v1/agents/{a1}"),
        &Auth::Bearer(key1),
        &json!({"role": "qa"}),
    );

    let one = server
        .get(&format!("/api/v1/activity?keyId={k1}"), &c)
        .json();
    assert_eq!(actions(&one), ["agent.updated", "agent.created"]);
    for e in one["events"].as_array().ok_or("events")? {
        assert_eq!(e["key"]["id"], json!(k1));
        assert_eq!(e["key"]["name"], "one");
        assert_eq!(e["sessionId"], json!(null));
    }
    let two = server
        .get(&format!("/api/v1/activity?keyId={k2}"), &c)
        .json();
    assert_eq!(actions(&two), ["agent.created"]);
    assert_eq!(server.get("/api/v1/activity?keyId=abc", &c).status, 400);
    Ok(())
}

#[test]
fn activity_pages_with_a_cursor() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie);
    for i in 0..7 {
        server.create_agent(&c, &format!("agent {i}"), None);
    }
    let first = server.get("/api/v1/activity?limit=3", &c).json();
    assert_eq!(first["events"].as_array().map(Vec::len), Some(3));
    let cursor = first["nextCursor"].as_str().ok_or("cursor")?.to_string();
    let second = server
        .get(&format!("/api/v1/activity?limit=3&cursor={cursor}"), &c)
        .json();
    let first_ids: Vec<&Value> = first["events"]
        .as_array()
        .ok_or("e")?
        .iter()
        .map(|e| &e["id"])
        .collect();
    let second_ids: Vec<&Value> = second["events"]
        .as_array()
        .ok_or("e")?
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert!(first_ids.iter().all(|id| !second_ids.contains(id)));
    let all = server.get("/api/v1/activity?limit=200", &c).json();
    assert_eq!(all["nextCursor"], json!(null));
    assert_eq!(all["events"].as_array().map(Vec::len), Some(9));
    for bad in ["limit=0", "limit=201", "limit=x", "cursor=zz"] {
        assert_eq!(
            server.get(&format!("/api/v1/activity?{bad}"), &c).status,
            400,
            "{bad}"
        );
    }
    Ok(())
}

#[test]
fn audit_events_cannot_be_changed_or_deleted() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    let db = rusqlite::Connection::open(&server.db)?;
    let update = db.execute("UPDATE audit_events SET action = 'nothing'", []);
    assert!(update.is_err());
    let delete = db.execute("DELETE FROM audit_events", []);
    assert!(delete.is_err());
    let count: i64 = db.query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))?;
    assert_eq!(count, 2);
    Ok(())
}
