//! API keys end to end: creation, shown once, both headers, every 401 code, revocation through the
//! API and the CLI, expiry, last-used throttling, and what the database keeps.

mod common;

use common::*;
use serde_json::json;

fn owner() -> (Server, String) {
    let server = Server::start();
    let cookie = server.setup_owner();
    (server, cookie)
}

#[test]
fn a_new_key_is_shown_once_and_works_with_both_headers() -> TestResult {
    let (server, cookie) = owner();
    let resp = server.post(
        "/api/v1/keys",
        &Auth::Cookie(cookie.clone()),
        &json!({"name": "Claude Code"}),
    );
    assert_eq!(resp.status, 201);
    let created = resp.json();
    let key = created["key"].as_str().ok_or("no key")?.to_string();
    assert!(key.starts_with("ar_live_") && key.len() == 40, "{key}");
    assert_eq!(created["prefix"], json!(&key[8..16]));
    assert_eq!(created["name"], "Claude Code");
    assert_eq!(
        created["identity"],
        json!({"kind": "user", "id": "1", "name": "Ada"})
    );
    assert_eq!(created["scopes"], json!(["editor"]));
    assert_eq!(created["expiresAt"], json!(null));
    assert_eq!(created["status"], "active");

    for auth in [Auth::Key(key.clone()), Auth::Bearer(key.clone())] {
        let me = server.get("/api/v1/me", &auth);
        assert_eq!(me.status, 200, "{}", me.text());
        let me = me.json();
        assert_eq!(me["identity"]["kind"], "user");
        assert_eq!(me["user"]["email"], "ada@example.com");
        assert_eq!(me["key"]["prefix"], json!(&key[8..16]));
        assert_eq!(me["key"]["name"], "Claude Code");
    }

    // The list never shows the secret again.
    let list = server.get("/api/v1/keys", &Auth::Cookie(cookie));
    assert_eq!(list.status, 200);
    assert!(!list.text().contains(&key));
    assert!(list.json()["keys"][0].get("key").is_none());
    Ok(())
}

#[test]
fn every_authentication_failure_is_a_401_with_its_code_and_challenge() -> TestResult {
    let (server, cookie) = owner();
    let (id, key) = server.create_key(&cookie, json!({"name": "soon revoked"}));

    let check = |auth: Auth, code: &str| {
        let resp = server.get("/api/v1/me", &auth);
        assert_eq!(resp.status, 401, "{auth:?}: {}", resp.text());
        assert_eq!(resp.error_code(), code, "{auth:?}");
        assert_eq!(
            resp.header("www-authenticate").as_deref(),
            Some(r#"ApiKey realm="Artifact Review", header="X-API-Key""#)
        );
    };
    check(Auth::None, "missing_key");
    check(Auth::Key("nope".into()), "invalid_key");
    check(
        Auth::Key(key.replace("ar_live_", "ar_test_")),
        "invalid_key",
    );
    check(Auth::Key(key[..39].to_string()), "invalid_key");
    // Right shape, wrong checksum.
    let mut bad = key.clone().into_bytes();
    bad[20] = if bad[20] == b'A' { b'B' } else { b'A' };
    check(Auth::Key(String::from_utf8(bad)?), "invalid_key");
    // Right shape and checksum, but never issued.
    let body = "Zz".repeat(13);
    let unknown = format!(
        "ar_live_{body}{}",
        artifact_review::keys::checksum(body.as_bytes())
    );
    check(Auth::Key(unknown.clone()), "invalid_key");
    check(Auth::Bearer(unknown), "invalid_key");

    let revoke = server.delete(&format!("/api/v1/keys/{id}"), &Auth::Cookie(cookie));
    assert_eq!(revoke.status, 200);
    check(Auth::Key(key.clone()), "revoked_key");
    check(Auth::Bearer(key), "revoked_key");
    Ok(())
}

#[test]
fn error_messages_never_repeat_the_presented_key() -> TestResult {
    let (server, cookie) = owner();
    let (id, key) = server.create_key(&cookie, json!({"name": "x"}));
    server.delete(&format!("/api/v1/keys/{id}"), &Auth::Cookie(cookie));
    let mut typo = key.clone();
    typo.push('x');
    for presented in [
        key.as_str(),
        typo.as_str(),
        "ar_live_secretsecretsecretsecretsecretse",
    ] {
        let resp = server.get("/api/v1/me", &Auth::Key(presented.to_string()));
        assert_eq!(resp.status, 401);
        assert!(!resp.text().contains(&presented[8..]), "{}", resp.text());
    }
    Ok(())
}

#[test]
fn a_revoked_key_is_refused_on_the_very_next_request_and_revoking_again_is_harmless() -> TestResult
{
    let (server, cookie) = owner();
    let (id, key) = server.create_key(&cookie, json!({"name": "CI"}));
    assert_eq!(
        server.get("/api/v1/me", &Auth::Key(key.clone())).status,
        200
    );

    let first = server.delete(&format!("/api/v1/keys/{id}"), &Auth::Cookie(cookie.clone()));
    assert_eq!(first.status, 200);
    let revoked_at = first.json()["revokedAt"].as_i64().ok_or("no revokedAt")?;
    assert_eq!(server.get("/api/v1/me", &Auth::Key(key)).status, 401);

    let again = server.delete(&format!("/api/v1/keys/{id}"), &Auth::Cookie(cookie.clone()));
    assert_eq!(again.status, 200);
    assert_eq!(
        again.json()["revokedAt"],
        json!(revoked_at),
        "the first revocation time is kept"
    );

    // Soft delete: hidden by default, listed with ?status=all, with who and when.
    let active = server
        .get("/api/v1/keys", &Auth::Cookie(cookie.clone()))
        .json();
    assert_eq!(active["keys"], json!([]));
    let all = server
        .get("/api/v1/keys?status=all", &Auth::Cookie(cookie))
        .json();
    assert_eq!(all["keys"][0]["status"], "revoked");
    assert_eq!(all["keys"][0]["revokedAt"], json!(revoked_at));
    assert_eq!(all["keys"][0]["revokedBy"], "1");
    let row: (Option<i64>, Option<i64>) = server.open_db().query_row(
        "SELECT revoked_at, revoked_by FROM api_keys WHERE id = ?1",
        [id.parse::<i64>()?],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!(row, (Some(revoked_at), Some(1)));
    Ok(())
}

#[test]
fn a_key_revoked_with_the_cli_while_the_server_runs_is_refused_next() -> TestResult {
    let (server, cookie) = owner();
    let (id, key) = server.create_key(&cookie, json!({"name": "CI"}));
    assert_eq!(
        server.get("/api/v1/me", &Auth::Key(key.clone())).status,
        200
    );
    let out = server.cli(&["key", "revoke", &id], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp = server.get("/api/v1/me", &Auth::Key(key));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "revoked_key");
    Ok(())
}

#[test]
fn a_key_that_expired_a_moment_ago_is_refused() -> TestResult {
    let (server, cookie) = owner();
    let expires_at = now_ms() + 1_000;
    let (_, key) = server.create_key(&cookie, json!({"name": "short", "expiresAt": expires_at}));
    while now_ms() <= expires_at + 50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let resp = server.get("/api/v1/me", &Auth::Key(key));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "expired_key");
    let list = server.get("/api/v1/keys", &Auth::Cookie(cookie)).json();
    assert_eq!(
        list["keys"][0]["status"], "expired",
        "expired keys stay in the default list"
    );
    Ok(())
}

#[test]
fn expiration_in_days_is_recorded_and_past_expirations_are_refused() -> TestResult {
    let (server, cookie) = owner();
    let before = now_ms();
    let resp = server.post(
        "/api/v1/keys",
        &Auth::Cookie(cookie.clone()),
        &json!({"name": "CI", "expiresInDays": 30}),
    );
    assert_eq!(resp.status, 201);
    let at = resp.json()["expiresAt"].as_i64().ok_or("no expiresAt")?;
    let day = 86_400_000;
    assert!(at >= before + 30 * day && at <= now_ms() + 30 * day);

    for body in [
        json!({"name": "x", "expiresAt": now_ms() - 1000}),
        json!({"name": "x", "expiresInDays": 0}),
        json!({"name": "x", "expiresInDays": -3}),
        json!({"name": "x", "expiresInDays": 100000}),
        json!({"name": "x", "expiresInDays": 7, "expiresAt": now_ms() + day}),
    ] {
        let resp = server.post("/api/v1/keys", &Auth::Cookie(cookie.clone()), &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text());
        assert_eq!(resp.error_code(), "invalid_expiration");
    }
    Ok(())
}

#[test]
fn last_used_is_set_on_first_use_and_not_rewritten_within_a_minute() -> TestResult {
    let (server, cookie) = owner();
    let (id, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let listed = |cookie: &str| {
        server
            .get("/api/v1/keys", &Auth::Cookie(cookie.to_string()))
            .json()
    };
    assert_eq!(listed(&cookie)["keys"][0]["lastUsedAt"], json!(null));

    let before = now_ms();
    let me = server.get("/api/v1/me", &Auth::Key(key.clone())).json();
    let first = listed(&cookie)["keys"][0]["lastUsedAt"]
        .as_i64()
        .ok_or("lastUsedAt not set")?;
    assert!(first >= before && first <= now_ms());
    assert_eq!(me["key"]["lastUsedAt"], json!(first));

    for _ in 0..5 {
        assert_eq!(
            server.get("/api/v1/me", &Auth::Key(key.clone())).status,
            200
        );
    }
    assert_eq!(
        listed(&cookie)["keys"][0]["lastUsedAt"],
        json!(first),
        "throttled: not rewritten"
    );
    let stored: Option<i64> = server.open_db().query_row(
        "SELECT last_used_at FROM api_keys WHERE id = ?1",
        [id.parse::<i64>()?],
        |r| r.get(0),
    )?;
    assert_eq!(stored, Some(first));
    Ok(())
}

#[test]
fn the_database_holds_only_the_hash_and_the_eight_character_prefix() -> TestResult {
    let (server, cookie) = owner();
    let agent = server.create_agent(&Auth::Cookie(cookie.clone()), "Claude", Some("coding"));
    let mut keys = Vec::new();
    for i in 0..5 {
        let body = if i % 2 == 0 {
            json!({"name": format!("key {i}")})
        } else {
            json!({"name": format!("key {i}"), "agentId": agent})
        };
        keys.push(server.create_key(&cookie, body).1);
    }
    let out = server.cli(
        &[
            "key",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "cli key",
        ],
        "",
    );
    assert!(out.status.success());
    keys.push(String::from_utf8(out.stdout)?.trim().to_string());
    for key in &keys {
        assert_eq!(
            server.get("/api/v1/me", &Auth::Key(key.clone())).status,
            200
        );
    }

    let bytes = database_bytes(&server.db);
    for key in &keys {
        assert!(
            !contains(&bytes, key.as_bytes()),
            "full key found in the database files"
        );
        assert!(
            !contains(&bytes, &key.as_bytes()[8..]),
            "key body found in the database files"
        );
    }
    let db = server.open_db();
    let mut stmt = db.prepare("SELECT prefix, key_hash FROM api_keys ORDER BY id")?;
    let rows: Vec<(String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), keys.len());
    for ((prefix, hash), key) in rows.iter().zip(&keys) {
        assert_eq!(prefix, &key[8..16]);
        assert_eq!(
            hash.as_slice(),
            &artifact_review::secrets::sha256(key.as_bytes())[..]
        );
    }
    assert!(
        !server.log().contains(&keys[0][8..]),
        "a key reached the log"
    );
    Ok(())
}

#[test]
fn key_management_needs_a_session_not_a_key() -> TestResult {
    let (server, cookie) = owner();
    let (id, key) = server.create_key(&cookie, json!({"name": "CI"}));
    for resp in [
        server.get("/api/v1/keys", &Auth::Key(key.clone())),
        server.post(
            "/api/v1/keys",
            &Auth::Key(key.clone()),
            &json!({"name": "escalate"}),
        ),
        server.delete(&format!("/api/v1/keys/{id}"), &Auth::Bearer(key.clone())),
    ] {
        assert_eq!(resp.status, 403, "{}", resp.text());
        assert_eq!(resp.error_code(), "session_required");
    }
    // Nothing was created or revoked.
    let all = server
        .get("/api/v1/keys?status=all", &Auth::Cookie(cookie))
        .json();
    assert_eq!(all["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(all["keys"][0]["status"], "active");
    // Without any credential it is a 401.
    let resp = server.get("/api/v1/keys", &Auth::None);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "missing_session");
    Ok(())
}

#[test]
fn a_key_on_a_session_only_route_is_told_what_that_route_is_for() -> TestResult {
    let (server, cookie) = owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let key = Auth::Key(key);
    let created = server.upload(
        &key,
        json!({"name": "Page", "fileName": "index.html", "content": "<p>Hello there</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("shareToken")?;
    let link = server.share_link(&key, share, json!({"writeComments": true}));
    let count = |table: &str| -> i64 {
        server
            .open_db()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap_or(-1)
    };
    let before = (
        count("view_grants"),
        count("comments"),
        count("audit_events"),
    );
    let comment = json!({"content": "x", "target": {"source": "index.html"}});
    for (resp, purpose) in [
        (
            server.request(
                "POST",
                &format!("/api/v1/artifacts/{share}/versions/1/view"),
                &key,
                None,
                &[],
            ),
            "API keys cannot open a version for viewing",
        ),
        (
            server.get("/api/v1/activity", &key),
            "API keys cannot read the activity trail",
        ),
        (
            server.post(&format!("/api/v1/share/{link}/comments"), &key, &comment),
            "API keys cannot comment or reply through a share link",
        ),
        (
            server.get("/api/v1/keys", &key),
            "API keys cannot manage API keys",
        ),
    ] {
        assert_eq!(resp.status, 403, "{}", resp.text());
        assert_eq!(resp.error_code(), "session_required");
        let message = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.starts_with(purpose),
            "says what the route is for: {message}"
        );
        assert!(
            message.contains("signed-in person's browser session") && message.contains("/login"),
            "says what it needs: {message}"
        );
        assert!(
            !message.contains("your team"),
            "not about the team: {message}"
        );
    }
    assert_eq!(
        (
            count("view_grants"),
            count("comments"),
            count("audit_events")
        ),
        before,
        "nothing was stored"
    );
    Ok(())
}

#[test]
fn a_key_sent_as_authorization_without_its_scheme_is_told_how() -> TestResult {
    let (server, cookie) = owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let resp = server.request(
        "GET",
        "/api/v1/me",
        &Auth::None,
        None,
        &[("Authorization", &key)],
    );
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "invalid_key");
    assert!(
        resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("send Authorization: Bearer ar_live_"),
        "{}",
        resp.text()
    );
    // Another scheme is not a key: the request has none.
    let basic = server.request(
        "GET",
        "/api/v1/me",
        &Auth::None,
        None,
        &[("Authorization", "Basic YTpi")],
    );
    assert_eq!(basic.error_code(), "missing_key");
    assert!(
        basic.json()["error"]
            .as_str()
            .is_some_and(|m| m.contains("the scheme \"Basic\" was sent; only Bearer carries a key")),
        "{}",
        basic.text()
    );
    Ok(())
}

#[test]
fn a_request_presenting_more_than_one_key_is_refused_not_resolved() -> TestResult {
    let (server, cookie) = owner();
    let (_, first) = server.create_key(&cookie, json!({"name": "first"}));
    let (second_id, second) = server.create_key(&cookie, json!({"name": "second"}));
    let bearer = |k: &str| format!("Bearer {k}");
    let upload = json!({"name": "x", "fileName": "a.html", "content": "<p>a</p>"});
    let body = upload.to_string();
    let several: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "two X-API-Key headers",
            vec![("X-API-Key", first.clone()), ("X-API-Key", second.clone())],
        ),
        (
            "the same X-API-Key header twice",
            vec![("X-API-Key", second.clone()), ("X-API-Key", second.clone())],
        ),
        (
            "X-API-Key and a different Bearer key",
            vec![
                ("X-API-Key", first.clone()),
                ("Authorization", bearer(&second)),
            ],
        ),
        (
            "two Authorization: Bearer headers",
            vec![
                ("Authorization", bearer(&second)),
                ("Authorization", bearer(&first)),
            ],
        ),
    ];
    for (what, headers) in &several {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for (method, path, body) in [
            ("GET", "/api/v1/me", None),
            ("POST", "/api/v1/artifacts", Some(body.as_bytes())),
        ] {
            let resp = server.request(method, path, &Auth::None, body, &headers);
            assert_eq!(resp.status, 401, "{what}: {}", resp.text());
            assert_eq!(resp.error_code(), "invalid_key", "{what}");
            assert!(resp.header("www-authenticate").is_some());
            let text = resp.text();
            assert!(
                text.contains("more than one API key") && text.contains("send one key"),
                "{what}: {text}"
            );
            assert!(
                !text.contains(&first[8..]) && !text.contains(&second[8..]),
                "no key is repeated: {text}"
            );
        }
    }
    // Nothing was stored, and neither key counted as used.
    let listed = server
        .get("/api/v1/artifacts", &Auth::Cookie(cookie.clone()))
        .json();
    assert_eq!(listed["artifacts"].as_array().map(Vec::len), Some(0));
    let keys = server
        .get("/api/v1/keys", &Auth::Cookie(cookie.clone()))
        .json();
    for key in keys["keys"].as_array().ok_or("keys")? {
        assert_eq!(key["lastUsedAt"], json!(null), "{key}");
    }
    // One key is one key: the same in both headers, or beside another Authorization scheme.
    for headers in [
        vec![
            ("X-API-Key", second.clone()),
            ("Authorization", bearer(&second)),
        ],
        vec![
            ("X-API-Key", second.clone()),
            ("Authorization", "Basic dTpw".to_string()),
        ],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let resp = server.request("GET", "/api/v1/me", &Auth::None, None, &headers);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.json()["key"]["id"], json!(second_id));
    }
    Ok(())
}

#[test]
fn a_key_can_act_as_an_agent_and_me_says_so() -> TestResult {
    let (server, cookie) = owner();
    let agent = server.create_agent(&Auth::Cookie(cookie.clone()), "Claude", Some("coding"));
    let resp = server.post(
        "/api/v1/keys",
        &Auth::Cookie(cookie.clone()),
        &json!({"name": "Claude key", "agentId": agent}),
    );
    assert_eq!(resp.status, 201);
    let created = resp.json();
    assert_eq!(
        created["identity"],
        json!({"kind": "agent", "id": agent, "name": "Claude", "role": "coding"})
    );
    let me = server
        .get(
            "/api/v1/me",
            &Auth::Key(created["key"].as_str().ok_or("key")?.into()),
        )
        .json();
    assert_eq!(
        me["identity"],
        json!({"kind": "agent", "id": agent, "name": "Claude", "role": "coding"})
    );
    assert_eq!(me["user"]["name"], "Ada");
    Ok(())
}

#[test]
fn keys_of_other_users_cannot_be_seen_or_revoked() -> TestResult {
    let (server, cookie) = owner();
    let (ada_key_id, ada_key) = server.create_key(&cookie, json!({"name": "Ada's"}));
    let bob = server.add_user("bob@example.com", "Bob", "bob password 123");
    let bobs = server
        .get("/api/v1/keys?status=all", &Auth::Cookie(bob.clone()))
        .json();
    assert_eq!(bobs["keys"], json!([]));
    let resp = server.delete(&format!("/api/v1/keys/{ada_key_id}"), &Auth::Cookie(bob));
    assert_eq!(resp.status, 404);
    assert_eq!(server.get("/api/v1/me", &Auth::Key(ada_key)).status, 200);
    Ok(())
}

#[test]
fn bad_key_requests_get_a_4xx_that_names_the_problem() -> TestResult {
    let (server, cookie) = owner();
    let c = Auth::Cookie(cookie.clone());
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"{\"name\": \"\"}".to_vec(), "required", "name"),
        (
            format!("{{\"name\": \"{}\"}}", "x".repeat(101)).into_bytes(),
            "too_long",
            "101",
        ),
        (b"{\"name\": 5}".to_vec(), "invalid_request", "string"),
        (
            b"{\"name\": \"ok\", \"agentId\": \"999\"}".to_vec(),
            "unknown_agent",
            "999",
        ),
        (
            b"{\"name\": \"ok\", \"agentId\": \"abc\"}".to_vec(),
            "unknown_agent",
            "abc",
        ),
        (
            b"{\"name\": \"ok\", \"agentId\": []}".to_vec(),
            "invalid_request",
            "agentId",
        ),
        (
            b"{\"name\": \"ok\", \"expiresInDays\": 1e400}".to_vec(),
            "invalid_json",
            "number",
        ),
        (
            b"{\"name\": \"ok\", \"expiresInDays\": 99999999999999999999}".to_vec(),
            "invalid_request",
            "expected a whole number",
        ),
        (
            b"{\"name\": \"ok\", \"scopes\": [\"admin\"]}".to_vec(),
            "invalid_scopes",
            "editor",
        ),
        (
            b"{\"name\": \"ok\", \"nmae\": 1}".to_vec(),
            "invalid_request",
            "nmae",
        ),
        (b"{\"name\": \"ok\"".to_vec(), "invalid_json", "JSON"),
        (b"{\"name\": \"\xff\xfe\"}".to_vec(), "invalid_json", "JSON"),
        (b"".to_vec(), "missing_body", "JSON"),
        (b"[]".to_vec(), "invalid_request", "object"),
    ];
    for (body, code, mention) in cases {
        let resp = server.request("POST", "/api/v1/keys", &c, Some(&body), &[]);
        assert_eq!(
            resp.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(&body),
            resp.text()
        );
        assert_eq!(
            resp.error_code(),
            code,
            "{}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            resp.json()["error"]
                .as_str()
                .unwrap_or_default()
                .contains(mention),
            "{} should mention {mention}",
            resp.text()
        );
    }
    assert_eq!(
        server.get("/api/v1/keys?status=all", &c).json()["keys"],
        json!([]),
        "nothing was stored"
    );
    let resp = server.get("/api/v1/keys?status=bogus", &c);
    assert_eq!(resp.status, 400);
    for id in ["abc", "0", "-1", "99999999999999999999999"] {
        let resp = server.delete(&format!("/api/v1/keys/{id}"), &c);
        assert_eq!(resp.status, 404, "{id}");
    }
    Ok(())
}

#[test]
fn the_full_key_never_reaches_the_log() -> TestResult {
    let (server, cookie) = owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    server.get("/api/v1/me", &Auth::Key(key.clone()));
    server.get("/api/v1/me", &Auth::Key(format!("{key}x")));
    let log = server.log();
    assert!(!log.contains(&key[8..]), "{log}");
    assert!(!log.contains(&cookie), "the session secret reached the log");
    assert!(!log.contains(OWNER_PASSWORD));
    Ok(())
}

#[test]
fn a_cached_key_is_refused_right_after_any_other_process_revokes_it() -> TestResult {
    let (server, cookie) = owner();
    for round in 0..10 {
        let (id, key) = server.create_key(&cookie, json!({"name": format!("round {round}")}));
        for _ in 0..3 {
            assert_eq!(
                server.get("/api/v1/me", &Auth::Key(key.clone())).status,
                200
            );
        }
        if round % 2 == 0 {
            let out = server.cli(&["key", "revoke", &id], "");
            assert!(out.status.success());
        } else {
            // Any other writer, not only our CLI: a plain SQLite connection.
            let db = rusqlite::Connection::open(&server.db)?;
            db.busy_timeout(std::time::Duration::from_secs(5))?;
            db.execute(
                "UPDATE api_keys SET revoked_at = 1 WHERE id = ?1",
                [id.parse::<i64>()?],
            )?;
        }
        let resp = server.get("/api/v1/me", &Auth::Key(key));
        assert_eq!(
            resp.status, 401,
            "round {round}: a revoked key was accepted"
        );
        assert_eq!(resp.error_code(), "revoked_key");
    }
    Ok(())
}

#[test]
fn a_cached_key_is_refused_right_after_its_agent_is_deleted_or_its_account_disabled() -> TestResult
{
    let (server, cookie) = owner();
    let c = Auth::Cookie(cookie.clone());
    let agent = server.create_agent(&c, "Claude", None);
    let (_, agent_key) = server.create_key(&cookie, json!({"name": "claude", "agentId": agent}));
    for _ in 0..3 {
        assert_eq!(
            server
                .get("/api/v1/me", &Auth::Key(agent_key.clone()))
                .status,
            200
        );
    }
    server.delete(&format!("/api/v1/agents/{agent}"), &c);
    assert_eq!(server.get("/api/v1/me", &Auth::Key(agent_key)).status, 401);

    let bob = server.add_user("bob@example.com", "Bob", "bob password 1");
    let (_, bob_key) = server.create_key(&bob, json!({"name": "bob"}));
    for _ in 0..3 {
        assert_eq!(
            server.get("/api/v1/me", &Auth::Key(bob_key.clone())).status,
            200
        );
        assert_eq!(
            server.get("/api/v1/me", &Auth::Cookie(bob.clone())).status,
            200
        );
    }
    server.patch("/api/v1/team/members/2", &c, &json!({"disabled": true}));
    assert_eq!(server.get("/api/v1/me", &Auth::Key(bob_key)).status, 401);
    assert_eq!(server.get("/api/v1/me", &Auth::Cookie(bob)).status, 401);
    Ok(())
}

#[test]
fn revocation_is_seen_at_once_even_while_content_is_being_written() -> TestResult {
    let (server, cookie) = owner();
    let (_, writer_key) = server.create_key(&cookie, json!({"name": "writer"}));
    let created = server.upload(
        &Auth::Key(writer_key.clone()),
        json!({"name": "A", "fileName": "index.html", "content": "<p>Monthly revenue</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let (id, key) = server.create_key(&cookie, json!({"name": "victim"}));
    assert_eq!(
        server.get("/api/v1/me", &Auth::Key(key.clone())).status,
        200
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let url = server.url(&format!("/api/v1/artifacts/{share}/comments"));
            let k = writer_key.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let body = json!({"content": "busy", "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly"}}});
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = agent.post(&url).header("X-API-Key", &k).send_json(&body);
                }
            })
        })
        .collect();
    for _ in 0..20 {
        assert_eq!(
            server.get("/api/v1/me", &Auth::Key(key.clone())).status,
            200
        );
    }
    let out = server.cli(&["key", "revoke", &id], "");
    assert!(out.status.success());
    let resp = server.get("/api/v1/me", &Auth::Key(key));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    assert_eq!(resp.status, 401);
    Ok(())
}

#[test]
fn a_key_revoked_while_its_upload_or_comment_is_under_way_stores_nothing() -> TestResult {
    let (server, cookie) = owner();
    let ada = Auth::Cookie(cookie.clone());
    let (key_id, key) = server.create_key(&cookie, json!({"name": "uploader"}));
    let made = server.post(
        "/api/v1/artifacts",
        &Auth::Key(key.clone()),
        &json!({"name": "Plan", "fileName": "plan.html", "content": "<p>Ship it.</p>"}),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let share = made.json()["shareToken"]
        .as_str()
        .ok_or("shareToken")?
        .to_string();
    let upload = json!({
        "name": "Slow upload",
        "fileName": "slow.html",
        "content": format!("<p>{}</p>", "x".repeat(200_000)),
    })
    .to_string();
    let comment = json!({"content": "late words", "target": {"source": "plan.html"}}).to_string();

    // Revoked between the head and the end of the body: refused, and neither is stored.
    let revoke = || {
        let r = server.delete(&format!("/api/v1/keys/{key_id}"), &ada);
        assert_eq!(r.status, 200, "{}", r.text());
    };
    let answer = server.interrupted("/api/v1/artifacts", &key, &upload, revoke);
    assert_eq!(answer.status, 401);
    let body = answer.json().ok_or("JSON")?;
    assert_eq!(body["code"], "revoked_key", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("while this request was under way; nothing was stored")),
        "{body}"
    );
    // A second key of the same account, expiring while its comment is sent, fares the same.
    let (_, brief) = server.create_key(&cookie, json!({"name": "brief"}));
    let expire = || {
        // As another process would (the write is not the server's own).
        let db = rusqlite::Connection::open(&server.db).expect("the database");
        db.busy_timeout(std::time::Duration::from_secs(5))
            .expect("a busy timeout");
        db.execute(
            "UPDATE api_keys SET expires_at = 1 WHERE name = 'brief'",
            [],
        )
        .expect("the key expired");
    };
    let path = format!("/api/v1/artifacts/{share}/comments");
    let answer = server.interrupted(&path, &brief, &comment, expire);
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json().ok_or("JSON")?["code"], "expired_key");

    let db = server.open_db();
    let uploads: i64 = db.query_row(
        "SELECT count(*) FROM artifacts WHERE name = 'Slow upload'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(uploads, 0, "no artifact was made");
    let comments: i64 = db.query_row("SELECT count(*) FROM comments", [], |r| r.get(0))?;
    assert_eq!(comments, 0, "no comment was made");
    let events: i64 = db.query_row(
        "SELECT count(*) FROM audit_events WHERE action IN ('artifact.created', 'comment.created')",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        events, 1,
        "only the first artifact's creation is in the trail"
    );
    Ok(())
}

#[test]
fn a_wrong_key_waiting_for_100_continue_is_refused_without_being_asked_for_its_body() -> TestResult
{
    let (server, _) = owner();
    let head = format!(
        "POST /api/v1/artifacts HTTP/1.1\r\nHost: {}\r\nX-API-Key: ar_live_wrong\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\nExpect: 100-continue\r\n\r\n",
        server.host()
    );
    // Only the head is sent: the answer comes, and the connection closes, without a body.
    let answer = server.raw_bytes(head.as_bytes(), std::time::Duration::from_secs(10));
    let text = String::from_utf8_lossy(&answer);
    assert!(
        !text.contains("100 Continue"),
        "the body was asked for: {text}"
    );
    let parsed = parse_responses(&answer);
    assert_eq!(parsed.len(), 1, "{text}");
    assert_eq!(parsed[0].status, 401);
    assert_eq!(parsed[0].header("connection"), Some("close"));
    Ok(())
}
