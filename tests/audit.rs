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
    // Named as people know it now: the key by its name and prefix, the agent by its name.
    assert_eq!(
        created["object"],
        json!({"type": "key", "id": key_id, "name": format!("claude (ar_live_{}…)", &key[8..16])})
    );
    assert_eq!(
        events["events"][5]["object"]["name"], "Claude 2",
        "{}",
        events["events"][5]
    );
    assert_eq!(
        events["events"][7]["object"]["name"],
        "Ada (ada@example.com)"
    );
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

/// Rows and bytes of the audit trail.
fn audit_size(server: &Server) -> Result<(i64, i64), rusqlite::Error> {
    server.open_db().query_row(
        "SELECT count(*), coalesce(sum(length(coalesce(object_id, '')) + length(coalesce(detail, ''))
                + length(coalesce(ip, ''))), 0) FROM audit_events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

#[test]
fn strangers_cannot_grow_the_audit_trail_faster_than_a_small_fixed_rate() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    let before = audit_size(&server)?;
    // A megabyte typed as the email is refused at the edge, naming the limit.
    let huge = "e".repeat(1_000_000);
    for _ in 0..30 {
        let resp = server.post(
            "/api/v1/session",
            &Auth::None,
            &json!({"email": huge, "password": "whatever"}),
        );
        assert_eq!(resp.status, 400);
        assert_eq!(resp.json()["field"], "email");
        assert!(resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("254"));
    }
    assert_eq!(audit_size(&server)?, before, "nothing recorded for them");
    // A hundred sign-ins for accounts that do not exist, each with a new name.
    for i in 0..100 {
        let resp = server.post(
            "/api/v1/session",
            &Auth::None,
            &json!({"email": format!("stranger-{i}-{}@example.com", "x".repeat(200)), "password": "guess"}),
        );
        assert_eq!(resp.status, 401, "{}", resp.text());
    }
    let after = audit_size(&server)?;
    assert!(
        after.0 - before.0 <= 1,
        "{} rows for 100 strangers: they are summarised at most once a minute",
        after.0 - before.0
    );
    assert!(after.1 - before.1 < 400, "{} bytes", after.1 - before.1);
    let detail: String = server.open_db().query_row(
        "SELECT detail FROM audit_events WHERE action = 'session.failed' AND user_id IS NULL",
        [],
        |r| r.get(0),
    )?;
    let detail: Value = serde_json::from_str(&detail)?;
    assert_eq!(detail["reason"], "no such account");
    assert_eq!(
        detail["attempts"], 1,
        "the first, at once; the rest wait for the next summary"
    );
    assert_eq!(detail["addresses"], json!(["127.0.0.1"]));
    assert!(!contains(&database_bytes(&server.db), b"stranger-"));
    Ok(())
}

/// A `session.failed` row: user, object type, object id, detail.
type FailedRow = (Option<i64>, Option<String>, Option<String>, String);

#[test]
fn a_password_typed_into_the_email_field_is_never_stored() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let typed = "Tr0ub4dor&3 typed in the wrong field";
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": typed, "password": typed}),
    );
    assert_eq!(resp.status, 401);
    // And a wrong password for a real account is recorded on that account, without the email or
    // password typed.
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": " ADA@example.com", "password": "Tr0ub4dor&4"}),
    );
    assert_eq!(resp.status, 401);
    let failed: Vec<FailedRow> = server
        .open_db()
        .prepare(
            "SELECT user_id, object_type, object_id, detail FROM audit_events
              WHERE action = 'session.failed' ORDER BY id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, None);
    assert_eq!(failed[0].1, None, "no object: the typed name is not kept");
    assert_eq!(failed[1].0, Some(1));
    assert_eq!(
        (failed[1].1.as_deref(), failed[1].2.as_deref()),
        (Some("user"), Some("1"))
    );
    for bytes in [&b"Tr0ub4dor"[..], b"wrong field"] {
        assert!(!contains(&database_bytes(&server.db), bytes));
    }
    // The account's owner sees the attempt in their activity.
    let events = server.get("/api/v1/activity", &Auth::Cookie(cookie)).json();
    assert_eq!(events["events"][0]["action"], "session.failed");
    assert_eq!(events["events"][0]["detail"]["reason"], "wrong password");
    Ok(())
}

#[test]
fn admins_see_the_whole_teams_activity_and_members_only_their_own() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let bob = Auth::Cookie(server.add_user("bob@example.com", "Bob", "bob password 1"));
    let resp = server.post("/api/v1/agents", &bob, &json!({"name": "Bob's helper"}));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let names = |events: &serde_json::Value| -> Vec<String> {
        events["events"]
            .as_array()
            .map(|es| {
                es.iter()
                    .filter_map(|e| e["detail"]["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mine = server.get("/api/v1/activity", &ada).json();
    assert!(
        !names(&mine).contains(&"Bob's helper".to_string()),
        "{mine}"
    );
    let team = server.get("/api/v1/activity?scope=team", &ada);
    assert_eq!(team.status, 200, "{}", team.text());
    let team = team.json();
    assert!(names(&team).contains(&"Bob's helper".to_string()), "{team}");
    let by_bob = team["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["action"] == "agent.created"))
        .ok_or("Bob's event")?;
    assert_eq!(by_bob["actor"]["name"], "Bob");
    let refused = server.get("/api/v1/activity?scope=team", &bob);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "admin_required");
    assert_eq!(server.get("/api/v1/activity?scope=mine", &bob).status, 200);
    let bad = server.get("/api/v1/activity?scope=all", &ada);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_code(), "invalid_query");
    Ok(())
}

#[test]
fn an_event_of_an_artifact_names_it_and_a_version_by_its_number() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let k = Auth::Key(key);
    let made = server.upload(
        &k,
        json!({"name": "Release notes", "fileName": "notes.md", "content": "# v1"}),
    );
    let share = made["shareToken"].as_str().ok_or("share")?.to_string();
    let v2 = server.post(
        &format!("/api/v1/artifacts/{share}/versions"),
        &k,
        &json!({"content": "# v2"}),
    );
    assert_eq!(v2.status, 201, "{}", v2.text());
    let gone = server.delete(&format!("/api/v1/artifacts/{share}/versions/1"), &k);
    assert_eq!(gone.status, 200, "{}", gone.text());
    let events = server
        .get("/api/v1/activity", &Auth::Cookie(cookie.clone()))
        .json();
    let deleted = events["events"]
        .as_array()
        .ok_or("events")?
        .iter()
        .find(|e| e["action"] == "version.deleted")
        .ok_or("the version's deletion")?
        .clone();
    assert_eq!(deleted["artifact"]["name"], "Release notes");
    assert_eq!(deleted["artifact"]["id"], made["id"]);
    assert_eq!(deleted["artifact"]["deleted"], false);
    assert_eq!(deleted["detail"]["number"], 1);
    // A key's own events name no artifact.
    let key_made = events["events"]
        .as_array()
        .ok_or("events")?
        .iter()
        .find(|e| e["action"] == "key.created")
        .ok_or("the key's creation")?
        .clone();
    assert!(key_made.get("artifact").is_none(), "{key_made}");
    // Deleted since: still named, and said to be deleted.
    assert_eq!(
        server
            .delete(&format!("/api/v1/artifacts/{share}"), &k)
            .status,
        200
    );
    let events = server.get("/api/v1/activity", &Auth::Cookie(cookie)).json();
    let first = &events["events"][0];
    assert_eq!(first["action"], "artifact.deleted");
    assert_eq!(first["artifact"]["name"], "Release notes");
    assert_eq!(first["artifact"]["deleted"], true);
    Ok(())
}
