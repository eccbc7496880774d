//! Agent key requests (issue 15, item 4), the device flow through the real binary: an agent asks
//! without a key, a signed-in person approves by the user code (the agent made for it), the agent
//! polls and gets its key exactly once; denial, expiry, polling too fast, replaying the poll token,
//! guessing codes and flooding requests are each refused clearly, and no code is stored in clear.

mod common;

use common::*;
use serde_json::{json, Value};

fn ask(server: &Server, body: Value) -> Value {
    let resp = server.request(
        "POST",
        "/api/v1/key-requests",
        &Auth::None,
        Some(body.to_string().as_bytes()),
        &[("User-Agent", "claude-code/2.1")],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json()
}

fn poll(server: &Server, token: &str) -> Resp {
    server.post(
        "/api/v1/key-requests/poll",
        &Auth::None,
        &json!({ "pollToken": token }),
    )
}

fn code_of(asked: &Value) -> String {
    asked["userCode"].as_str().expect("userCode").to_string()
}

fn token_of(asked: &Value) -> String {
    asked["pollToken"].as_str().expect("pollToken").to_string()
}

#[test]
fn an_agent_asks_a_person_approves_and_the_agent_gets_its_key_once() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let ada = Auth::Cookie(cookie.clone());
    let asked = ask(
        &server,
        json!({"agentName": "Claude", "role": "coding", "scopes": ["commenter"], "expiresInDays": 30}),
    );
    let code = code_of(&asked);
    let token = token_of(&asked);
    assert!(
        code.len() == 9 && code.as_bytes()[4] == b'-',
        "XXXX-XXXX: {code}"
    );
    assert_eq!(asked["verificationUri"], server.url("/settings#connect"));
    assert_eq!(asked["interval"], 5);
    assert_eq!(asked["expiresIn"], 600);
    // Neither code is stored in clear.
    let files = database_bytes(&server.db);
    assert!(!contains(&files, token.as_bytes()));
    assert!(!contains(&files, code.replace('-', "").as_bytes()));

    // The person sees who asks, typing the code however they like.
    let typed = code.to_lowercase().replace('-', "%20");
    let shown = server.get(&format!("/api/v1/key-requests/{typed}"), &ada);
    assert_eq!(shown.status, 200, "{}", shown.text());
    let shown = shown.json();
    assert_eq!(shown["agentName"], "Claude");
    assert_eq!(shown["role"], "coding");
    assert_eq!(shown["scopes"], json!(["commenter"]));
    assert_eq!(shown["expiresInDays"], 30);
    assert_eq!(shown["clientIp"], "127.0.0.1");
    assert_eq!(shown["userAgent"], "claude-code/2.1");
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["existingAgentId"], Value::Null);
    // Keys cannot decide; the person approves, and the agent is made for it.
    let (_, key) = server.create_key(&cookie, json!({"name": "mine"}));
    let by_key = server.post(
        &format!("/api/v1/key-requests/{code}/approve"),
        &Auth::Key(key),
        &json!({}),
    );
    assert_eq!(by_key.status, 403);
    let approved = server.post(
        &format!("/api/v1/key-requests/{code}/approve"),
        &ada,
        &json!({}),
    );
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert_eq!(approved.json()["status"], "approved");
    let again = server.post(
        &format!("/api/v1/key-requests/{code}/deny"),
        &ada,
        &json!({}),
    );
    assert_eq!(again.status, 409);
    assert_eq!(again.error_code(), "already_decided");

    // The agent's poll gets the key, acting as the agent, with the scope asked for.
    let got = poll(&server, &token);
    assert_eq!(got.status, 200, "{}", got.text());
    let got = got.json();
    let delivered = got["key"].as_str().ok_or("key")?.to_string();
    assert_eq!(got["identity"]["name"], "Claude");
    assert_eq!(got["identity"]["role"], "coding");
    assert_eq!(got["scopes"], json!(["commenter"]));
    assert!(got["expiresAt"].as_i64().is_some());
    let me = server.get("/api/v1/me", &Auth::Key(delivered.clone()));
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["identity"]["name"], "Claude");
    // Once: the poll token is spent.
    let replay = poll(&server, &token);
    assert_eq!(replay.status, 400);
    assert_eq!(replay.error_code(), "expired_token");
    assert!(!contains(&database_bytes(&server.db), delivered.as_bytes()));
    // The trail has each step.
    let trail = actions(&server.get("/api/v1/activity?limit=10", &ada).json());
    for step in ["key_request.approved", "agent.created", "key.created"] {
        assert!(trail.contains(&step.to_string()), "{step} in {trail:?}");
    }
    // A second request for the same agent name is approved onto the same agent.
    let second = ask(&server, json!({"agentName": "claude"}));
    let shown = server
        .get(&format!("/api/v1/key-requests/{}", code_of(&second)), &ada)
        .json();
    assert_eq!(shown["existingAgentId"], got["identity"]["id"]);
    Ok(())
}

#[test]
fn denied_unknown_too_fast_and_expired_requests_are_refused_in_rfc_8628_terms() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    // Pending, then polled too fast.
    let asked = ask(&server, json!({"agentName": "Cursor"}));
    let token = token_of(&asked);
    let first = poll(&server, &token);
    assert_eq!(first.status, 400);
    assert_eq!(first.error_code(), "authorization_pending");
    let fast = poll(&server, &token);
    assert_eq!(fast.error_code(), "slow_down");
    // Denied.
    let denied = server.post(
        &format!("/api/v1/key-requests/{}/deny", code_of(&asked)),
        &ada,
        &json!({}),
    );
    assert_eq!(denied.status, 200);
    assert_eq!(denied.json()["status"], "denied");
    let other = ask(&server, json!({"agentName": "Codex"}));
    let refused = poll(&server, &token_of(&other));
    assert_eq!(refused.error_code(), "authorization_pending");
    // (The denied one is polled after its interval by asking again with a fresh request's
    // neighbour: its state is what the person chose.)
    let db = server.open_db();
    let status: String = db.query_row(
        "SELECT status FROM key_requests WHERE agent_name = 'Cursor'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(status, "denied");
    // An unknown token.
    let unknown = poll(&server, "not-a-poll-token");
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error_code(), "invalid_poll_token");
    // Expired: the request's time is up (set in the database, as ten minutes passing would).
    drop(db);
    let rw = rusqlite::Connection::open(&server.db)?;
    rw.busy_timeout(std::time::Duration::from_secs(5))?;
    rw.execute(
        "UPDATE key_requests SET expires_at = 1, last_polled_at = NULL WHERE agent_name = 'Codex'",
        [],
    )?;
    drop(rw);
    let expired = poll(&server, &token_of(&other));
    assert_eq!(expired.error_code(), "expired_token", "{}", expired.text());
    let late = server.post(
        &format!("/api/v1/key-requests/{}/approve", code_of(&other)),
        &ada,
        &json!({}),
    );
    assert_eq!(late.status, 404, "{}", late.text());
    // Bad requests.
    for (body, code) in [
        (json!({}), "required"),
        (json!({"agentName": ""}), "required"),
        (
            json!({"agentName": "x", "scopes": ["owner"]}),
            "invalid_scopes",
        ),
        (
            json!({"agentName": "x", "expiresInDays": 0}),
            "invalid_expiration",
        ),
    ] {
        let resp = server.post("/api/v1/key-requests", &Auth::None, &body);
        assert_eq!(resp.status, 400, "{body}");
        assert_eq!(resp.error_code(), code, "{body}: {}", resp.text());
    }
    Ok(())
}

#[test]
fn codes_cannot_be_guessed_and_strangers_cannot_pile_up_requests() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let asked = ask(&server, json!({"agentName": "Claude"}));
    let real = code_of(&asked);
    let mut refused_at = None;
    for i in 0..12 {
        let guess = format!("BCDF-{:04}", i).replace('0', "G");
        let resp = server.get(&format!("/api/v1/key-requests/{guess}"), &ada);
        if resp.status == 429 {
            refused_at = Some(i);
            assert!(resp.header("retry-after").is_some());
            break;
        }
        assert_eq!(resp.status, 404, "{}", resp.text());
    }
    assert_eq!(refused_at, Some(10), "ten wrong codes, then a wait");
    // Even the right code waits now: guessing cannot be made to pay.
    assert_eq!(
        server
            .get(&format!("/api/v1/key-requests/{real}"), &ada)
            .status,
        429
    );
    // At most five requests wait from one address.
    for _ in 0..4 {
        ask(&server, json!({"agentName": "Bot"}));
    }
    let sixth = server.post(
        "/api/v1/key-requests",
        &Auth::None,
        &json!({"agentName": "Bot"}),
    );
    assert_eq!(sixth.status, 429);
    assert!(sixth.text().contains("at most 5"), "{}", sixth.text());
    let db = server.open_db();
    let rows: i64 = db.query_row("SELECT count(*) FROM key_requests", [], |r| r.get(0))?;
    assert_eq!(rows, 5);
    Ok(())
}

#[test]
fn an_approval_is_withdrawn_when_its_approver_is_removed_or_its_agent_deleted_before_the_key_is_collected(
) -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let bob = Auth::Cookie(server.add_user("bob@example.com", "Bob", "bob password 12"));
    let bob_id = server.get("/api/v1/me", &bob).json()["user"]["id"]
        .as_str()
        .ok_or("bob's id")?
        .to_string();
    let approve = |auth: &Auth, asked: &Value| {
        let resp = server.post(
            &format!("/api/v1/key-requests/{}/approve", code_of(asked)),
            auth,
            &json!({}),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
    };
    let keys_named = |name: &str| -> rusqlite::Result<i64> {
        server.open_db().query_row(
            "SELECT count(*) FROM api_keys k JOIN agents a ON a.id = k.agent_id WHERE a.name = ?1",
            [name],
            |r| r.get(0),
        )
    };

    // Bob approves, then is removed before the agent collects the key: no key, then or after
    // he is enabled again (his keys were revoked; this one would have been made after).
    let sleeper = ask(
        &server,
        json!({"agentName": "Sleeper", "scopes": ["editor"]}),
    );
    approve(&bob, &sleeper);
    let resp = server.patch(
        &format!("/api/v1/team/members/{bob_id}"),
        &ada,
        &json!({"disabled": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = poll(&server, &token_of(&sleeper));
    assert_eq!(got.status, 400, "{}", got.text());
    assert_eq!(got.error_code(), "access_denied");
    server.patch(
        &format!("/api/v1/team/members/{bob_id}"),
        &ada,
        &json!({"disabled": false}),
    );
    // Withdrawn for good: stored as denied, so a later poll is refused whoever is enabled.
    let status: String = server.open_db().query_row(
        "SELECT status FROM key_requests WHERE agent_name = 'Sleeper'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(status, "denied");
    assert_eq!(keys_named("Sleeper")?, 0);

    // Ada approves, then deletes the agent made for it before the key is collected: no key.
    let r3 = ask(&server, json!({"agentName": "R3"}));
    approve(&ada, &r3);
    let agents = server.get("/api/v1/agents", &ada).json();
    let agent = agents["agents"]
        .as_array()
        .ok_or("agents")?
        .iter()
        .find(|a| a["name"] == "R3")
        .ok_or("R3")?["id"]
        .as_str()
        .ok_or("id")?
        .to_string();
    assert_eq!(
        server
            .delete(&format!("/api/v1/agents/{agent}"), &ada)
            .status,
        200
    );
    let got = poll(&server, &token_of(&r3));
    assert_eq!(got.error_code(), "access_denied", "{}", got.text());
    assert_eq!(keys_named("R3")?, 0);

    // An approval by someone who stays, for an agent that stays, still gives its key.
    let kept = ask(&server, json!({"agentName": "Kept"}));
    approve(&ada, &kept);
    assert_eq!(poll(&server, &token_of(&kept)).status, 200);
    assert_eq!(keys_named("Kept")?, 1);
    Ok(())
}

#[test]
fn an_approved_key_waits_ten_minutes_from_the_approval_and_lives_from_the_approval() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let approve = |asked: &Value| {
        let resp = server.post(
            &format!("/api/v1/key-requests/{}/approve", code_of(asked)),
            &ada,
            &json!({}),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
    };
    // Approved an hour ago (the request itself long expired), never collected: refused.
    let late = ask(&server, json!({"agentName": "Late", "expiresInDays": 30}));
    approve(&late);
    let hour = 3_600_000_i64;
    writable(&server)?.execute(
        "UPDATE key_requests SET created_at = created_at - ?1, expires_at = expires_at - ?1,
                decided_at = decided_at - ?1 WHERE agent_name = 'Late'",
        [hour],
    )?;
    let refused = poll(&server, &token_of(&late));
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.error_code(), "expired_token");
    assert!(refused.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("not collected")));
    let keys: i64 = server
        .open_db()
        .query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0))?;
    assert_eq!(keys, 0, "no key was made");

    // Approved 9 minutes ago, its request expired a minute ago: still collected, and the key's
    // 30 days count from the approval.
    let ok = ask(&server, json!({"agentName": "Prompt", "expiresInDays": 30}));
    approve(&ok);
    let nine_minutes = 9 * 60_000_i64;
    writable(&server)?.execute(
        "UPDATE key_requests SET expires_at = ?2, decided_at = decided_at - ?1 WHERE agent_name = 'Prompt'",
        rusqlite::params![nine_minutes, 1_i64],
    )?;
    let approved_at: i64 = server.open_db().query_row(
        "SELECT decided_at FROM key_requests WHERE agent_name = 'Prompt'",
        [],
        |r| r.get(0),
    )?;
    let got = poll(&server, &token_of(&ok));
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        got.json()["expiresAt"].as_i64(),
        Some(approved_at + 30 * 86_400_000)
    );
    Ok(())
}

/// A connection that may write, as the clock moving on would (the server notices other writers).
fn writable(server: &Server) -> rusqlite::Result<rusqlite::Connection> {
    let rw = rusqlite::Connection::open(&server.db)?;
    rw.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(rw)
}

#[test]
fn a_decided_request_is_shown_to_its_decider_only() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let bob = Auth::Cookie(server.add_user("bob@example.com", "Bob", "bob password 1"));
    let asked = ask(&server, json!({"agentName": "Claude"}));
    let path = format!("/api/v1/key-requests/{}", code_of(&asked));
    // Pending, anyone signed in who has the code may answer it.
    assert_eq!(server.get(&path, &bob).status, 200);
    let resp = server.post(&format!("{path}/approve"), &ada, &json!({}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let shown = server.get(&path, &ada);
    assert_eq!(shown.json()["status"], "approved");
    let hidden = server.get(&path, &bob);
    assert_eq!(hidden.status, 404, "{}", hidden.text());
    assert!(!hidden.text().contains("127.0.0.1"));
    let resp = server.post(&format!("{path}/deny"), &bob, &json!({}));
    assert_eq!(resp.status, 404);
    Ok(())
}
