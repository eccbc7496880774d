//! Team administration: roles (never zero enabled admins), removing a member (keys revoked with the
//! reason `member_removed`, sessions ended, past work kept) and bringing them back, and one-time
//! password-reset links (24 hours, used once, throttled, ending the member's other sessions).

mod common;

use common::*;
use serde_json::{json, Value};

const BOB_PASSWORD: &str = "bob password 1";

/// Ada (admin) and Bob (member): (server, Ada's session, Bob's session, Bob's id).
fn team() -> (Server, Auth, String, String) {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let bob = server.add_user("bob@example.com", "Bob", BOB_PASSWORD);
    let id = server.get("/api/v1/team/members", &ada).json()["members"][1]["id"]
        .as_str()
        .expect("bob's id")
        .to_string();
    (server, ada, bob, id)
}

fn member(server: &Server, ada: &Auth, id: &str, body: Value) -> Resp {
    server.patch(&format!("/api/v1/team/members/{id}"), ada, &body)
}

fn role_of(server: &Server, id: &str) -> String {
    server
        .open_db()
        .query_row("SELECT role FROM users WHERE id = ?1", [id], |r| r.get(0))
        .expect("the user exists")
}

/// The newest audit event with this action: (actor user id, object id, detail).
fn last_event(server: &Server, action: &str) -> (Option<i64>, String, Value) {
    server
        .open_db()
        .query_row(
            "SELECT user_id, object_id, detail FROM audit_events WHERE action = ?1 ORDER BY id DESC LIMIT 1",
            [action],
            |r| {
                let detail: Option<String> = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    detail.map_or(Value::Null, |d| serde_json::from_str(&d).expect("JSON detail")),
                ))
            },
        )
        .unwrap_or_else(|e| panic!("no {action} event: {e}"))
}

#[test]
fn an_admin_changes_a_members_role_and_the_last_admin_cannot_step_down() -> TestResult {
    let (server, ada, bob, bob_id) = team();
    // Ada is the only admin: she cannot make herself a member.
    let resp = member(&server, &ada, "1", json!({"role": "member"}));
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(resp.error_code(), "last_admin");
    assert_eq!(role_of(&server, "1"), "admin");

    let resp = member(&server, &ada, &bob_id, json!({"role": "admin"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["role"], "admin");
    assert_eq!(role_of(&server, &bob_id), "admin");
    let (actor, object, detail) = last_event(&server, "user.role_changed");
    assert_eq!((actor, object.as_str()), (Some(1), bob_id.as_str()));
    assert_eq!(
        detail,
        json!({"email": "bob@example.com", "before": {"role": "member"}, "after": {"role": "admin"}, "endedResetLinks": []})
    );
    // Bob, now an admin, sees the team; Ada may now step down, and then Bob may not.
    let bob = Auth::Cookie(bob);
    assert_eq!(server.get("/api/v1/team/members", &bob).status, 200);
    let resp = member(&server, &ada, "1", json!({"role": "member"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(server.get("/api/v1/team/members", &ada).status, 403);
    let resp = member(&server, &bob, &bob_id, json!({"role": "member"}));
    assert_eq!(resp.status, 409);
    assert_eq!(resp.error_code(), "last_admin");
    assert_eq!(role_of(&server, &bob_id), "admin");
    // A disabled admin does not count: disabling the only other enabled admin is refused too.
    let resp = member(&server, &bob, "1", json!({"role": "admin"}));
    assert_eq!(resp.status, 200);
    let resp = member(
        &server,
        &bob,
        "1",
        json!({"disabled": true, "role": "member"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = member(&server, &bob, &bob_id, json!({"role": "member"}));
    assert_eq!(resp.error_code(), "last_admin");
    Ok(())
}

#[test]
fn a_role_change_asks_for_a_known_role_and_something_to_change() -> TestResult {
    let (server, ada, bob, bob_id) = team();
    let resp = member(&server, &ada, &bob_id, json!({"role": "owner"}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "invalid_role");
    assert_eq!(resp.json()["field"], "role");
    let resp = member(&server, &ada, &bob_id, json!({}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "nothing_to_change");
    let resp = member(&server, &ada, &bob_id, json!({"role": "admin", "rank": 1}));
    assert_eq!(resp.status, 400);
    let resp = member(&server, &Auth::Cookie(bob), "1", json!({"role": "member"}));
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "admin_required");
    let resp = member(&server, &ada, "99", json!({"role": "admin"}));
    assert_eq!(resp.status, 404);
    assert_eq!(role_of(&server, &bob_id), "member");
    Ok(())
}

#[test]
fn removing_a_member_revokes_their_keys_ends_their_sessions_and_keeps_their_work() -> TestResult {
    let (server, ada, bob, bob_id) = team();
    let bob_auth = Auth::Cookie(bob.clone());
    let agent = server.create_agent(&bob_auth, "Bob's bot", None);
    let (own_id, own_key) = server.create_key(&bob, json!({"name": "bob's CI"}));
    let (bot_id, bot_key) = server.create_key(&bob, json!({"name": "bot", "agentId": agent}));
    let (revoked_id, _) = server.create_key(&bob, json!({"name": "old"}));
    assert_eq!(
        server
            .delete(&format!("/api/v1/keys/{revoked_id}"), &bob_auth)
            .status,
        200
    );
    let artifact = server.upload(
        &Auth::Key(bot_key.clone()),
        json!({"name": "Bob's page", "fileName": "index.html", "content": "<p>hello there</p>"}),
    );
    let share = artifact["shareToken"].as_str().ok_or("share token")?;
    let resp = server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &Auth::Key(own_key.clone()),
        &json!({"content": "by bob", "target": {"source": "index.html"}}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = server.post(
        &format!("/api/v1/artifacts/{share}/access"),
        &Auth::Key(own_key.clone()),
        &json!({"email": "ada@example.com", "role": "can-comment"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let link = server.share_link(
        &Auth::Key(own_key.clone()),
        share,
        json!({"readComments": true, "writeComments": true}),
    );
    let shared = format!("/share/{link}");
    assert_eq!(server.get(&shared, &Auth::None).status, 200);

    let resp = member(&server, &ada, &bob_id, json!({"disabled": true}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert!(body["disabledAt"].as_i64().is_some());
    assert_eq!(body["revokedKeys"], json!([own_id, bot_id]));

    for key in [&own_key, &bot_key] {
        let resp = server.get("/api/v1/me", &Auth::Key(key.clone()));
        assert_eq!(resp.status, 401);
        assert_eq!(resp.error_code(), "revoked_key");
    }
    assert_eq!(server.get("/api/v1/me", &bob_auth).status, 401);
    let db = server.open_db();
    let reasons: Vec<(i64, Option<String>, Option<i64>)> = db
        .prepare("SELECT id, revoked_reason, revoked_by FROM api_keys ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let id = |s: &str| s.parse::<i64>().expect("numeric id");
    assert_eq!(
        reasons,
        vec![
            (id(&own_id), Some("member_removed".into()), Some(1)),
            (id(&bot_id), Some("member_removed".into()), Some(1)),
            (id(&revoked_id), None, Some(id(&bob_id))),
        ],
        "the key Bob had revoked himself keeps its own story"
    );
    let open_sessions: i64 = db.query_row(
        "SELECT count(*) FROM sessions WHERE user_id = ?1 AND ended_at IS NULL",
        [&bob_id],
        |r| r.get(0),
    )?;
    assert_eq!(open_sessions, 0);
    let (actor, object, detail) = last_event(&server, "user.disabled");
    assert_eq!((actor, object.as_str()), (Some(1), bob_id.as_str()));
    assert_eq!(detail["revokedKeys"], json!([own_id, bot_id]));
    // The share link Bob made is off, in its artifact's trail too; its address opens nothing.
    let (link_id, link_enabled): (i64, bool) =
        db.query_row("SELECT id, enabled FROM share_links", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    assert!(!link_enabled);
    assert_eq!(detail["disabledShareLinks"], json!([link_id.to_string()]));
    let (actor, object, _) = last_event(&server, "access.link_disabled");
    assert_eq!((actor, object), (Some(1), link_id.to_string()));
    assert_eq!(server.get(&shared, &Auth::None).status, 404);
    let key_events: i64 = db.query_row(
        "SELECT count(*) FROM audit_events WHERE action = 'key.revoked' AND detail LIKE '%member removed%'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(key_events, 2);

    // What Bob and his agent did is still theirs.
    let comments = server
        .get(&format!("/api/v1/artifacts/{share}/comments"), &ada)
        .json();
    assert_eq!(comments["comments"][0]["author"]["name"], "Bob");
    let versions = server
        .get(&format!("/api/v1/artifacts/{share}/versions"), &ada)
        .json();
    assert_eq!(versions["versions"][0]["createdBy"]["name"], "Bob's bot");

    // Removing twice changes nothing; enabling brings the person back, not the keys.
    let resp = member(&server, &ada, &bob_id, json!({"disabled": true}));
    assert_eq!(resp.json()["revokedKeys"], json!([]));
    let resp = member(&server, &ada, &bob_id, json!({"disabled": false}));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["disabledAt"], Value::Null);
    let bob_again = Auth::Cookie(server.sign_in("bob@example.com", BOB_PASSWORD));
    assert_eq!(server.get("/api/v1/me", &Auth::Key(own_key)).status, 401);
    // The link stays off until its owner turns it on again, at the same address.
    assert_eq!(server.get(&shared, &Auth::None).status, 404);
    let resp = server.patch(
        &format!("/api/v1/artifacts/{share}/sharelink"),
        &bob_again,
        &json!({"enabled": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(server.get(&shared, &Auth::None).status, 200);
    let disabled_events: i64 = server.open_db().query_row(
        "SELECT count(*) FROM audit_events WHERE action = 'user.disabled'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(disabled_events, 1);
    let (_, object, _) = last_event(&server, "user.enabled");
    assert_eq!(object, bob_id);
    Ok(())
}

/// Makes a reset link for `id` as Ada; returns (token, answer).
fn reset_link(server: &Server, ada: &Auth, id: &str) -> (String, Value) {
    let resp = server.post(
        &format!("/api/v1/team/members/{id}/password-reset"),
        ada,
        &json!({}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let body = resp.json();
    let url = body["url"].as_str().expect("url").to_string();
    let token = url
        .split("#token=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the token is in the fragment")
        .to_string();
    (token, body)
}

fn use_reset(server: &Server, token: &str, password: &str) -> Resp {
    server.post(
        "/api/v1/password-resets/accept",
        &Auth::None,
        &json!({"token": token, "password": password}),
    )
}

#[test]
fn a_password_reset_link_works_once_and_ends_the_members_other_sessions() -> TestResult {
    let (server, ada, bob, bob_id) = team();
    let other_bob = server.sign_in("bob@example.com", BOB_PASSWORD);
    let (token, body) = reset_link(&server, &ada, &bob_id);
    assert!(body["url"]
        .as_str()
        .ok_or("url")?
        .starts_with(&server.url("/reset-password#token=")));
    assert!(
        body["url"]
            .as_str()
            .ok_or("url")?
            .ends_with("&email=bob%40example.com"),
        "the page is told whose password it sets: {body}"
    );
    assert_eq!(token.len(), 32, "192 random bits, base64url");
    assert_eq!(body["userId"], bob_id.as_str());
    assert_eq!(body["email"], "bob@example.com");
    let created = body["createdAt"].as_i64().ok_or("createdAt")?;
    assert_eq!(
        body["expiresAt"].as_i64().ok_or("expiresAt")? - created,
        24 * 3600 * 1000
    );
    // Only the token's SHA-256 is stored.
    let stored: Vec<u8> =
        server
            .open_db()
            .query_row("SELECT token_hash FROM password_resets", [], |r| r.get(0))?;
    assert_eq!(stored, sha256(token.as_bytes()));
    let (actor, _, detail) = last_event(&server, "password_reset.created");
    assert_eq!(actor, Some(1));
    assert_eq!(detail["email"], "bob@example.com");
    assert!(!server
        .open_db()
        .query_row(
            "SELECT group_concat(coalesce(detail, ''), ' ') FROM audit_events",
            [],
            |r| r.get::<_, String>(0)
        )?
        .contains(&token));

    let resp = use_reset(&server, &token, "short");
    assert_eq!(resp.status, 400, "the password rules apply");
    let resp = use_reset(&server, &token, "a new password for bob");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["user"]["email"], "bob@example.com");
    let fresh = session_cookie(&resp).ok_or("the member is signed in")?;
    assert_eq!(server.get("/api/v1/me", &Auth::Cookie(fresh)).status, 200);
    for old in [bob, other_bob] {
        assert_eq!(server.get("/api/v1/me", &Auth::Cookie(old)).status, 401);
    }
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "bob@example.com", "password": BOB_PASSWORD}),
    );
    assert_eq!(resp.status, 401, "the old password no longer works");
    server.sign_in("bob@example.com", "a new password for bob");
    let (actor, _, detail) = last_event(&server, "password_reset.used");
    assert_eq!(actor, Some(bob_id.parse()?));
    assert_eq!(detail["sessionsEnded"], 2);

    // Once only.
    let resp = use_reset(&server, &token, "yet another password");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "invalid_reset_link");
    server.sign_in("bob@example.com", "a new password for bob");
    Ok(())
}

#[test]
fn a_newer_link_replaces_the_older_and_expired_links_are_refused() -> TestResult {
    let (server, ada, _, bob_id) = team();
    let (first, _) = reset_link(&server, &ada, &bob_id);
    let (second, _) = reset_link(&server, &ada, &bob_id);
    let resp = use_reset(&server, &first, "a new password for bob");
    assert_eq!(resp.error_code(), "invalid_reset_link");
    // Expired: moved into the past in the file, as a day going by would.
    {
        let db = rusqlite::Connection::open(&server.db)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute("UPDATE password_resets SET expires_at = created_at - 1", [])?;
    }
    let resp = use_reset(&server, &second, "a new password for bob");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "invalid_reset_link");
    server.sign_in("bob@example.com", BOB_PASSWORD);
    Ok(())
}

#[test]
fn reset_links_are_for_admins_to_make_for_enabled_members() -> TestResult {
    let (server, ada, bob, bob_id) = team();
    let path = format!("/api/v1/team/members/{bob_id}/password-reset");
    let resp = server.post(
        "/api/v1/team/members/1/password-reset",
        &Auth::Cookie(bob.clone()),
        &json!({}),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "admin_required");
    let (_, key) = server.create_key(
        match &ada {
            Auth::Cookie(c) => c,
            _ => unreachable!("Ada signs in with a cookie"),
        },
        json!({"name": "k"}),
    );
    let resp = server.post(&path, &Auth::Key(key), &json!({}));
    assert_eq!(resp.status, 403, "a key cannot make reset links");
    let resp = server.post("/api/v1/team/members/99/password-reset", &ada, &json!({}));
    assert_eq!(resp.status, 404);
    member(&server, &ada, &bob_id, json!({"disabled": true}));
    let resp = server.post(&path, &ada, &json!({}));
    assert_eq!(resp.status, 409);
    assert_eq!(resp.error_code(), "member_disabled");
    let links: i64 =
        server
            .open_db()
            .query_row("SELECT count(*) FROM password_resets", [], |r| r.get(0))?;
    assert_eq!(links, 0);
    Ok(())
}

#[test]
fn a_link_made_before_the_member_was_removed_no_longer_works() -> TestResult {
    let (server, ada, _, bob_id) = team();
    let (token, _) = reset_link(&server, &ada, &bob_id);
    member(&server, &ada, &bob_id, json!({"disabled": true}));
    let resp = use_reset(&server, &token, "a new password for bob");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "invalid_reset_link");
    Ok(())
}

#[test]
fn guessing_reset_tokens_is_throttled() -> TestResult {
    let (server, ada, _, bob_id) = team();
    let (token, _) = reset_link(&server, &ada, &bob_id);
    let mut codes = Vec::new();
    for i in 0..11 {
        let resp = use_reset(
            &server,
            &format!("guess-{i}-AAAAAAAAAAAAAAAAAAAAAAAA"),
            "a new password",
        );
        codes.push(resp.status);
    }
    assert_eq!(&codes[..10], &[403; 10]);
    assert_eq!(codes[10], 429, "the eleventh guess from one address waits");
    let resp = use_reset(&server, &token, "a new password for bob");
    assert_eq!(resp.status, 429, "even the right token waits its turn");
    assert!(resp.header("retry-after").is_some());
    Ok(())
}

#[test]
fn a_reset_from_another_site_is_refused() -> TestResult {
    let (server, ada, _, bob_id) = team();
    let (token, _) = reset_link(&server, &ada, &bob_id);
    let resp = server.request(
        "POST",
        "/api/v1/password-resets/accept",
        &Auth::None,
        Some(
            json!({"token": token, "password": "a new password"})
                .to_string()
                .as_bytes(),
        ),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "cross_site_request");
    assert_eq!(use_reset(&server, &token, "a new password").status, 200);
    Ok(())
}

/// The token in an invite's link.
fn invite_token(invite: &Value) -> String {
    invite["url"]
        .as_str()
        .and_then(|u| u.split("token=").nth(1))
        .expect("the token is in the link")
        .to_string()
}

fn accept_invite(server: &Server, token: &str, email: &str) -> Resp {
    server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": token, "email": email, "name": "Newcomer", "password": "a newcomer's password"}),
    )
}

#[test]
fn links_an_admin_made_stop_working_once_they_are_a_member_again_or_disabled() -> TestResult {
    let (server, ada, bob, bob_id) = team();
    server.add_user("carol@example.com", "Carol", "carol password 1");
    let carol_id = server.get("/api/v1/team/members", &ada).json()["members"][2]["id"]
        .as_str()
        .ok_or("carol's id")?
        .to_string();
    let bob = Auth::Cookie(bob);
    // Bob, an admin for a while, makes an admin invite and a reset link for Carol.
    assert_eq!(
        member(&server, &ada, &bob_id, json!({"role": "admin"})).status,
        200
    );
    let invite = server.post("/api/v1/team/invites", &bob, &json!({"role": "admin"}));
    assert_eq!(invite.status, 201, "{}", invite.text());
    let invite = invite.json();
    let (reset, _) = reset_link(&server, &bob, &carol_id);
    assert_eq!(
        member(&server, &ada, &bob_id, json!({"role": "member"})).status,
        200
    );
    let refused = accept_invite(&server, &invite_token(&invite), "eve@example.com");
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.error_code(), "invalid_invite");
    let refused = use_reset(&server, &reset, "carol's new password");
    assert_eq!(refused.error_code(), "invalid_reset_link");
    let listed = server.get("/api/v1/team/invites", &ada).json();
    assert_eq!(listed["invites"][0]["status"], "revoked");
    let (_, object, _) = last_event(&server, "invite.revoked");
    assert_eq!(object, invite["id"].as_str().ok_or("invite id")?);
    let (_, _, detail) = last_event(&server, "user.role_changed");
    assert_eq!(detail["endedResetLinks"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        server.open_db().query_row(
            "SELECT count(*) FROM users WHERE email = 'eve@example.com'",
            [],
            |r| r.get::<_, i64>(0)
        )?,
        0
    );

    // Admin again, then disabled: the same.
    assert_eq!(
        member(&server, &ada, &bob_id, json!({"role": "admin"})).status,
        200
    );
    let bob = Auth::Cookie(server.sign_in("bob@example.com", BOB_PASSWORD));
    let invite = server
        .post("/api/v1/team/invites", &bob, &json!({"role": "member"}))
        .json();
    let (reset, _) = reset_link(&server, &bob, &carol_id);
    assert_eq!(
        member(&server, &ada, &bob_id, json!({"disabled": true})).status,
        200
    );
    assert_eq!(
        member(&server, &ada, &bob_id, json!({"disabled": false})).status,
        200
    );
    let refused = accept_invite(&server, &invite_token(&invite), "mallory@example.com");
    assert_eq!(refused.error_code(), "invalid_invite");
    assert_eq!(
        use_reset(&server, &reset, "carol's new password").error_code(),
        "invalid_reset_link"
    );
    // What Ada made still works.
    let invite = server
        .post("/api/v1/team/invites", &ada, &json!({"role": "member"}))
        .json();
    assert_eq!(
        accept_invite(&server, &invite_token(&invite), "dan@example.com").status,
        201
    );
    Ok(())
}

#[test]
fn a_reset_link_ends_when_its_member_is_disabled_or_changes_their_own_password() -> TestResult {
    let (server, ada, _, bob_id) = team();
    let (token, _) = reset_link(&server, &ada, &bob_id);
    member(&server, &ada, &bob_id, json!({"disabled": true}));
    member(&server, &ada, &bob_id, json!({"disabled": false}));
    let refused = use_reset(&server, &token, "a new password for bob");
    assert_eq!(
        refused.error_code(),
        "invalid_reset_link",
        "{}",
        refused.text()
    );
    let (_, _, detail) = last_event(&server, "user.disabled");
    assert_eq!(detail["endedResetLinks"].as_array().map(Vec::len), Some(1));

    let bob = Auth::Cookie(server.sign_in("bob@example.com", BOB_PASSWORD));
    let (token, _) = reset_link(&server, &ada, &bob_id);
    let changed = server.put(
        "/api/v1/account/password",
        &bob,
        &json!({"currentPassword": BOB_PASSWORD, "newPassword": "bob's own new password"}),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let refused = use_reset(&server, &token, "a new password for bob");
    assert_eq!(refused.error_code(), "invalid_reset_link");
    server.sign_in("bob@example.com", "bob's own new password");
    Ok(())
}

#[test]
fn an_invite_for_an_address_that_has_an_account_is_refused() -> TestResult {
    let (server, ada, _, _) = team();
    let resp = server.post(
        "/api/v1/team/invites",
        &ada,
        &json!({"email": "BOB@example.com"}),
    );
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(resp.error_code(), "email_taken");
    assert!(resp.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("bob@example.com already has an account")));
    let listed = server.get("/api/v1/team/invites", &ada).json();
    assert_eq!(listed["invites"].as_array().map(Vec::len), Some(0));
    Ok(())
}
