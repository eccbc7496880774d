//! Accounts and sessions: first-run setup and its token, signing in and out, the cookie, sign-in
//! throttling, cross-site refusal, account changes, and the team (invites, disabling).

mod common;

use std::io::{Read, Write};

use common::*;
use serde_json::json;

#[test]
fn setup_needs_the_logged_token_and_works_once() -> TestResult {
    let server = Server::start();
    let token = server
        .setup_token
        .clone()
        .ok_or("a new server logs a setup link")?;
    assert!(server
        .log()
        .contains(&format!("{}/setup#token=", server.url(""))));
    assert_eq!(
        server.get("/api/v1/setup", &Auth::None).json(),
        json!({"needed": true})
    );

    let owner = json!({"email": "ada@example.com", "name": "Ada", "password": OWNER_PASSWORD});
    let mut wrong = owner.clone();
    wrong["token"] = json!("not-the-token");
    let resp = server.post("/api/v1/setup", &Auth::None, &wrong);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "invalid_setup_token");
    let mut missing = owner.clone();
    missing.as_object_mut().ok_or("object")?.remove("token");
    assert_eq!(
        server.post("/api/v1/setup", &Auth::None, &missing).status,
        400
    );
    assert_eq!(
        server
            .open_db()
            .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?,
        0
    );

    let mut right = owner.clone();
    right["token"] = json!(token);
    let resp = server.post("/api/v1/setup", &Auth::None, &right);
    assert_eq!(resp.status, 201);
    assert_eq!(resp.json()["user"]["role"], "admin");
    assert!(session_cookie(&resp).is_some());

    let mut again = right.clone();
    again["email"] = json!("mallory@example.com");
    let resp = server.post("/api/v1/setup", &Auth::None, &again);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "setup_closed");
    assert_eq!(
        server.get("/api/v1/setup", &Auth::None).json(),
        json!({"needed": false})
    );
    Ok(())
}

#[test]
fn setup_is_closed_when_the_cli_made_an_account_first() -> TestResult {
    let server = Server::start();
    let token = server.setup_token.clone().ok_or("setup link")?;
    let out = server.cli(
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        "ops password 1\n",
    );
    assert!(out.status.success());
    let resp = server.post(
        "/api/v1/setup",
        &Auth::None,
        &json!({"token": token, "email": "mallory@example.com", "name": "M", "password": "whatever123"}),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "setup_closed");
    Ok(())
}

#[test]
fn a_restarted_server_with_an_account_logs_no_setup_link() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    let (dir, db) = server.stop();
    let again = Server::start_on(dir, db, &[]);
    assert!(again.setup_token.is_none());
    assert!(!again.log().contains("setup#token="));
    Ok(())
}

#[test]
fn the_session_cookie_is_http_only_strict_and_its_secret_is_stored_hashed() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "ADA@example.com ", "password": OWNER_PASSWORD}),
    );
    assert_eq!(resp.status, 200);
    let set_cookie = resp.header("set-cookie").ok_or("no cookie")?;
    assert!(set_cookie.contains("HttpOnly"));
    assert!(set_cookie.contains("SameSite=Strict"));
    assert!(set_cookie.contains("Path=/"));
    assert!(!set_cookie.contains("Secure"), "plain http base URL");
    let cookie = session_cookie(&resp).ok_or("cookie value")?;
    assert!(cookie.len() >= 43);
    let bytes = database_bytes(&server.db);
    assert!(
        !contains(&bytes, cookie.as_bytes()),
        "session secret stored in clear"
    );
    let stored: Vec<u8> = server.open_db().query_row(
        "SELECT token_hash FROM sessions ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        stored,
        artifact_review::secrets::sha256(cookie.as_bytes()).to_vec()
    );

    let who = server.get("/api/v1/session", &Auth::Cookie(cookie.clone()));
    assert_eq!(who.status, 200);
    assert_eq!(who.json()["user"]["email"], "ada@example.com");
    let me = server
        .get("/api/v1/me", &Auth::Cookie(cookie.clone()))
        .json();
    assert_eq!(me["authenticatedBy"], "session");
    assert!(me.get("key").is_none());
    Ok(())
}

#[test]
fn a_request_with_two_session_cookies_is_signed_out_and_both_are_cleared() -> TestResult {
    let server = Server::start();
    let ada = server.setup_owner();
    let mallory = server.add_user("mallory@example.com", "Mallory", "mallory's password");
    // Mallory's cookie, planted with a narrower path, comes first, as a browser would send it.
    let both = format!("ar_session={mallory}; ar_session={ada}");
    let resp = server.request(
        "POST",
        "/api/v1/keys",
        &Auth::None,
        Some(br#"{"name": "made while signed in as Ada"}"#),
        &[("Cookie", &both)],
    );
    assert_eq!(resp.status, 401, "{}", resp.text());
    assert_eq!(resp.error_code(), "invalid_session");
    let cleared: Vec<String> = resp
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    for path in ["/", "/api/v1", "/api/v1/keys"] {
        assert!(
            cleared.iter().any(|c| c.starts_with("ar_session=;")
                && c.contains(&format!("Path={path};"))
                && c.contains("Max-Age=0")),
            "{path}: {cleared:?}"
        );
    }
    for cookie in [&ada, &mallory] {
        let keys = server.get("/api/v1/keys?status=all", &Auth::Cookie(cookie.clone()));
        assert_eq!(keys.json()["keys"], json!([]), "no key landed anywhere");
    }
    // Reads are refused the same way, and one cookie alone still works.
    let resp = server.request("GET", "/api/v1/me", &Auth::None, None, &[("Cookie", &both)]);
    assert_eq!(resp.status, 401);
    assert_eq!(server.get("/api/v1/me", &Auth::Cookie(ada)).status, 200);
    Ok(())
}

#[test]
fn behind_https_the_session_cookie_is_host_prefixed_and_a_plain_one_is_ignored() -> TestResult {
    let server = Server::start_with(&["--base-url", "https://review.example.com"]);
    let token = server.setup_token.clone().ok_or("setup link")?;
    let resp = server.post(
        "/api/v1/setup",
        &Auth::None,
        &json!({"token": token, "email": "ada@example.com", "name": "Ada", "password": OWNER_PASSWORD}),
    );
    assert_eq!(resp.status, 201);
    let set_cookie = resp.header("set-cookie").ok_or("cookie")?;
    assert!(set_cookie.starts_with("__Host-ar_session="), "{set_cookie}");
    for attribute in ["; Path=/;", "; Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"));
    let value = set_cookie
        .strip_prefix("__Host-ar_session=")
        .and_then(|rest| rest.split(';').next())
        .ok_or("value")?;
    let host = format!("__Host-ar_session={value}");
    let resp = server.request(
        "GET",
        "/api/v1/session",
        &Auth::None,
        None,
        &[("Cookie", &host)],
    );
    assert_eq!(resp.status, 200);
    // The same secret under the plain name (what a plain-http page could plant) is not a session.
    let plain = format!("ar_session={value}");
    let resp = server.request(
        "GET",
        "/api/v1/session",
        &Auth::None,
        None,
        &[("Cookie", &plain)],
    );
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "missing_session");
    Ok(())
}

#[test]
fn signing_out_ends_the_session_for_good() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let resp = server.delete("/api/v1/session", &Auth::Cookie(cookie.clone()));
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("set-cookie")
        .ok_or("clearing cookie")?
        .contains("Max-Age=0"));
    let resp = server.get("/api/v1/me", &Auth::Cookie(cookie));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "invalid_session");
    Ok(())
}

#[test]
fn wrong_passwords_are_refused_alike_and_repeated_failures_are_slowed_down() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    for (email, password) in [
        ("ada@example.com", "a wrong password 3c9e"),
        ("nobody@example.com", OWNER_PASSWORD),
    ] {
        let resp = server.post(
            "/api/v1/session",
            &Auth::None,
            &json!({"email": email, "password": password}),
        );
        assert_eq!(resp.status, 401);
        assert_eq!(resp.error_code(), "invalid_credentials");
        assert!(session_cookie(&resp).is_none());
    }
    for _ in 0..9 {
        assert_eq!(
            server
                .post(
                    "/api/v1/session",
                    &Auth::None,
                    &json!({"email": "ada@example.com", "password": "guess"})
                )
                .status,
            401
        );
    }
    // Ten failures for this account from this address: now even the right password waits.
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "ada@example.com", "password": OWNER_PASSWORD}),
    );
    assert_eq!(resp.status, 429);
    assert_eq!(resp.error_code(), "too_many_requests");
    let retry: u64 = resp.header("retry-after").ok_or("Retry-After")?.parse()?;
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert!(session_cookie(&resp).is_none());
    // Failures are in the audit trail, without the password.
    let failed: i64 = server.open_db().query_row(
        "SELECT count(*) FROM audit_events WHERE action = 'session.failed'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        failed, 11,
        "ten on Ada's account, one for the unknown account"
    );
    assert!(!contains(
        &database_bytes(&server.db),
        b"a wrong password 3c9e"
    ));
    // The hint says to ask an admin for a new password: once it is set, the guesses made at the
    // old one no longer keep the owner out.
    let out = server.cli(
        &[
            "user",
            "set-password",
            "ada@example.com",
            "--password-stdin",
        ],
        "a brand new password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "ada@example.com", "password": "a brand new password"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    Ok(())
}

#[test]
fn cookie_authenticated_changes_from_another_site_are_refused() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie.clone());
    let body = json!({"name": "made by evil.example"}).to_string();
    for headers in [
        vec![("Origin", "https://evil.example")],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![
            ("Sec-Fetch-Site", "same-site"),
            ("Origin", "http://sub.127.0.0.1"),
        ],
        vec![("Origin", "null")],
    ] {
        for path in ["/api/v1/keys", "/api/v1/agents"] {
            let resp = server.request("POST", path, &c, Some(body.as_bytes()), &headers);
            assert_eq!(resp.status, 403, "{path} {headers:?}");
            assert_eq!(resp.error_code(), "cross_site_request");
        }
    }
    let resp = server.request(
        "DELETE",
        "/api/v1/session",
        &c,
        None,
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(resp.status, 403);
    assert_eq!(
        server.get("/api/v1/keys?status=all", &c).json()["keys"],
        json!([])
    );
    assert_eq!(server.get("/api/v1/agents", &c).json()["agents"], json!([]));

    // The same request from our own page is fine, and so is a read from anywhere.
    let origin = server.url("");
    let resp = server.request(
        "POST",
        "/api/v1/agents",
        &c,
        Some(body.as_bytes()),
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(resp.status, 201);
    let resp = server.request(
        "GET",
        "/api/v1/agents",
        &c,
        None,
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(resp.status, 200);
    // A sign-in form posted from another site is refused too (login CSRF).
    let resp = server.request(
        "POST",
        "/api/v1/session",
        &Auth::None,
        Some(
            json!({"email": "ada@example.com", "password": OWNER_PASSWORD})
                .to_string()
                .as_bytes(),
        ),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(resp.status, 403);
    Ok(())
}

#[test]
fn duplicate_or_non_ascii_origin_headers_are_refused_not_judged_by_the_first() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let own = server.url("");
    let body = br#"{"name": "made by a confused check"}"#;
    let tricks: Vec<Vec<(&str, &str)>> = vec![
        vec![("Origin", own.as_str()), ("Origin", "https://evil.example")],
        vec![
            ("Sec-Fetch-Site", "same-origin"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        vec![("Origin", "https://evil.example\u{e9}")],
        vec![("Sec-Fetch-Site", "cross-site\u{e9}")],
    ];
    for headers in &tricks {
        // Header values are bytes: send the non-ASCII ones raw, as an attacker's client would.
        let mut raw = format!(
            "POST /api/v1/agents HTTP/1.1\r\nHost: {}\r\nCookie: ar_session={cookie}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            server.host(),
            body.len()
        )
        .into_bytes();
        for (name, value) in headers {
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(b": ");
            raw.extend_from_slice(&latin1(value));
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(body);
        let resp = server
            .raw_request(&raw, std::time::Duration::from_secs(10))
            .ok_or("an answer")?;
        assert_eq!(resp.status, 403, "{headers:?}: {}", resp.text());
        assert_eq!(
            resp.json().ok_or("json")?["code"],
            "cross_site_request",
            "{headers:?}"
        );
    }
    let c = Auth::Cookie(cookie);
    assert_eq!(server.get("/api/v1/agents", &c).json()["agents"], json!([]));
    Ok(())
}

/// A header value as the single bytes of its characters (Latin-1), so `\u{e9}` goes out as 0xE9.
fn latin1(value: &str) -> Vec<u8> {
    value.chars().map(|c| c as u32 as u8).collect()
}

#[test]
fn api_keys_are_not_subject_to_the_cross_site_check() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let resp = server.request(
        "POST",
        "/api/v1/agents",
        &Auth::Key(key),
        Some(br#"{"name": "bot"}"#),
        &[("Origin", "https://ci.example")],
    );
    assert_eq!(resp.status, 201);
    Ok(())
}

#[test]
fn renaming_and_changing_the_password_work_and_end_other_sessions() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let other = server.sign_in("ada@example.com", OWNER_PASSWORD);
    let c = Auth::Cookie(cookie.clone());
    let resp = server.patch("/api/v1/account", &c, &json!({"name": "Ada Lovelace"}));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["user"]["name"], "Ada Lovelace");

    let resp = server.put(
        "/api/v1/account/password",
        &c,
        &json!({"currentPassword": "wrong", "newPassword": "a new password"}),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "wrong_password");
    let resp = server.put(
        "/api/v1/account/password",
        &c,
        &json!({"currentPassword": OWNER_PASSWORD, "newPassword": "short"}),
    );
    assert_eq!(resp.status, 400);
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("at least 8"));
    // The same password again is not a change: refused, nothing ended.
    let resp = server.put(
        "/api/v1/account/password",
        &c,
        &json!({"currentPassword": OWNER_PASSWORD, "newPassword": OWNER_PASSWORD}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.error_code(), "same_password");
    assert_eq!(resp.json()["field"], "newPassword");
    assert_eq!(
        server
            .get("/api/v1/me", &Auth::Cookie(other.clone()))
            .status,
        200
    );
    assert!(!actions(&server.get("/api/v1/activity", &c).json())
        .contains(&"account.password_changed".to_string()));
    let resp = server.put(
        "/api/v1/account/password",
        &c,
        &json!({"currentPassword": OWNER_PASSWORD, "newPassword": "a new password"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["otherSessionsEnded"], 1);
    assert_eq!(server.get("/api/v1/me", &Auth::Cookie(other)).status, 401);
    assert_eq!(
        server.get("/api/v1/me", &c).status,
        200,
        "this session stays"
    );
    server.sign_in("ada@example.com", "a new password");
    assert!(actions(&server.get("/api/v1/activity", &c).json())
        .contains(&"account.password_changed".to_string()));
    Ok(())
}

#[test]
fn an_admin_invites_a_teammate_who_signs_up_once_and_can_be_disabled() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie.clone());
    let resp = server.post("/api/v1/team/invites", &c, &json!({}));
    assert_eq!(resp.status, 201);
    let invite = resp.json();
    let url = invite["url"].as_str().ok_or("url")?;
    assert!(url.starts_with(&format!("{}/invite#token=", server.url(""))));
    let token = url.split("token=").nth(1).ok_or("token")?.to_string();
    assert_eq!(invite["status"], "pending");
    assert!(
        !contains(&database_bytes(&server.db), token.as_bytes()),
        "invite token stored in clear"
    );
    let listed = server.get("/api/v1/team/invites", &c).json();
    assert!(
        listed["invites"][0].get("url").is_none(),
        "the link is shown only once"
    );

    let bob = json!({"token": token, "email": "bob@example.com", "name": "Bob", "password": "bob's password"});
    let resp = server.post("/api/v1/invites/accept", &Auth::None, &bob);
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["user"]["role"], "member");
    let bob_cookie = session_cookie(&resp).ok_or("bob's session")?;
    let mut again = bob.clone();
    again["email"] = json!("eve@example.com");
    let resp = server.post("/api/v1/invites/accept", &Auth::None, &again);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "invalid_invite");

    // Members cannot manage the team.
    let resp = server.get("/api/v1/team/members", &Auth::Cookie(bob_cookie.clone()));
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "admin_required");

    let (_, bob_key) = server.create_key(&bob_cookie, json!({"name": "bob's CI"}));
    let members = server.get("/api/v1/team/members", &c).json();
    let bob_id = members["members"][1]["id"]
        .as_str()
        .ok_or("bob id")?
        .to_string();
    let resp = server.patch(
        &format!("/api/v1/team/members/{bob_id}"),
        &c,
        &json!({"disabled": true}),
    );
    assert_eq!(resp.status, 200);
    assert!(resp.json()["disabledAt"].as_i64().is_some());
    // Bob's browser is told why it is signed out; after a re-enable the session stays ended.
    let resp = server.get("/api/v1/me", &Auth::Cookie(bob_cookie.clone()));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "account_disabled");
    assert!(resp.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("disabled by an administrator")));
    // Removing a member revokes their keys (see tests/team.rs).
    let resp = server.get("/api/v1/me", &Auth::Key(bob_key.clone()));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "revoked_key");
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "bob@example.com", "password": "bob's password"}),
    );
    assert_eq!(resp.status, 403);
    // Re-enabled, Bob signs in again, but his keys stay revoked; an admin cannot disable themself.
    server.patch(
        &format!("/api/v1/team/members/{bob_id}"),
        &c,
        &json!({"disabled": false}),
    );
    let resp = server.get("/api/v1/me", &Auth::Cookie(bob_cookie));
    assert_eq!(resp.error_code(), "invalid_session");
    server.sign_in("bob@example.com", "bob's password");
    assert_eq!(server.get("/api/v1/me", &Auth::Key(bob_key)).status, 401);
    let resp = server.patch("/api/v1/team/members/1", &c, &json!({"disabled": true}));
    assert_eq!(resp.status, 400);
    Ok(())
}

#[test]
fn a_revoked_invite_link_no_longer_works() -> TestResult {
    let server = Server::start();
    let c = Auth::Cookie(server.setup_owner());
    let invite = server
        .post("/api/v1/team/invites", &c, &json!({"role": "admin"}))
        .json();
    assert_eq!(invite["role"], "admin");
    let token = invite["url"]
        .as_str()
        .ok_or("url")?
        .split("token=")
        .nth(1)
        .ok_or("token")?
        .to_string();
    let id = invite["id"].as_str().ok_or("id")?;
    // Before anything is typed, its page can ask whether the link still works.
    let check = |token: &str| {
        server.post(
            "/api/v1/invites/check",
            &Auth::None,
            &json!({"token": token}),
        )
    };
    let fresh = check(&token);
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert_eq!(fresh.json(), json!({"valid": true, "email": null}));
    let resp = server.delete(&format!("/api/v1/team/invites/{id}"), &c);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["status"], "revoked");
    let revoked = check(&token);
    assert_eq!(revoked.status, 403);
    assert_eq!(revoked.error_code(), "invalid_invite");
    let members: i64 = server
        .open_db()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    assert_eq!(members, 1, "checking made no account");
    let resp = server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": token, "email": "x@example.com", "name": "X", "password": "password123"}),
    );
    assert_eq!(resp.status, 403);
    let resp = server.post("/api/v1/team/invites", &c, &json!({"role": "owner"}));
    assert_eq!(resp.status, 400);
    Ok(())
}

/// Makes an admin through an admin invite; returns (their id, their session cookie).
fn invite_admin(
    server: &Server,
    admin: &Auth,
    email: &str,
    name: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let invite = server
        .post("/api/v1/team/invites", admin, &json!({"role": "admin"}))
        .json();
    let token = invite["url"]
        .as_str()
        .ok_or("url")?
        .split("token=")
        .nth(1)
        .ok_or("token")?
        .split('&')
        .next()
        .ok_or("token")?
        .to_string();
    let resp = server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": token, "email": email, "name": name, "password": "an admin's password"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let id = resp.json()["user"]["id"].as_str().ok_or("id")?.to_string();
    Ok((id, session_cookie(&resp).ok_or("cookie")?))
}

#[test]
fn two_admins_disabling_each_other_at_once_leave_one_enabled_admin() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let (bob_id, bob) = invite_admin(&server, &ada, "bob@example.com", "Bob")?;
    let bob = Auth::Cookie(bob);
    // Hold the write lock from another process so both requests are checked and queued before
    // either commits: the rule has to hold inside the write, not in the handler.
    let other = rusqlite::Connection::open(&server.db)?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    let statuses: Vec<(u16, String)> = std::thread::scope(|scope| {
        let (sent_tx, sent) = std::sync::mpsc::channel();
        let disable = |who: &Auth, id: String| {
            let sent_tx = sent_tx.clone();
            let Auth::Cookie(cookie) = who.clone() else {
                panic!("admins use their sessions")
            };
            let host = server.host();
            let mut stream = server.connect();
            scope.spawn(move || {
                let body = br#"{"disabled": true}"#;
                let head = format!(
                    "PATCH /api/v1/team/members/{id} HTTP/1.1\r\nHost: {host}\r\nCookie: ar_session={cookie}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).expect("send");
                stream.write_all(body).expect("send");
                sent_tx.send(()).expect("main thread waits");
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
                let resp = parse_responses(&answer).into_iter().next().expect("an answer");
                (resp.status, resp.text())
            })
        };
        let a = disable(&ada, bob_id.clone());
        let b = disable(&bob, "1".to_string());
        sent.recv().expect("one request sent");
        sent.recv().expect("both requests sent");
        // Both requests are checked (reads still work) and queue behind the lock. Health waits
        // its 2 s deadline for the blocked writer meanwhile: time enough for both to get there.
        server.get("/api/v1/health", &Auth::None);
        other.execute_batch("COMMIT").expect("release the lock");
        vec![
            a.join().expect("ada's request"),
            b.join().expect("bob's request"),
        ]
    });
    let succeeded = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(succeeded, 1, "{statuses:?}");
    let refused = statuses
        .iter()
        .find(|(s, _)| *s != 200)
        .ok_or("one refusal")?;
    assert!(
        refused.0 == 409 && refused.1.contains("last_admin") || refused.0 == 401,
        "{statuses:?}"
    );
    let enabled: i64 = server.open_db().query_row(
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(enabled, 1);
    Ok(())
}

#[test]
fn a_401_hint_fits_the_route_a_key_where_keys_work_signing_in_where_they_do_not() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Page", "fileName": "index.html", "content": "<p>Hello</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("shareToken")?;
    let link = server.share_link(&Auth::Key(key), share, json!({"writeComments": true}));
    let hint_of = |resp: &Resp, code: &str| -> String {
        assert_eq!(resp.status, 401, "{}", resp.text());
        assert_eq!(resp.error_code(), code);
        let challenge = resp.header("www-authenticate").unwrap_or_default();
        let hint = resp.json()["hint"].as_str().unwrap_or_default().to_string();
        // Every 401 carries a challenge, and it names what the hint says to send.
        if hint.contains("X-API-Key") {
            assert!(challenge.starts_with("ApiKey "), "{challenge}");
        } else {
            assert_eq!(
                challenge,
                r#"Session realm="Artifact Review", sign-in="/login""#
            );
        }
        hint
    };

    // Where keys are accepted, the hint says how to send one.
    let hint = hint_of(&server.get("/api/v1/me", &Auth::None), "missing_key");
    assert!(hint.contains("X-API-Key"), "{hint}");

    // Where only a session is, it says how to sign in, whatever was wrong.
    let comment = json!({"content": "x", "target": {"source": "index.html"}});
    for (resp, code) in [
        (
            server.post(
                &format!("/api/v1/share/{link}/comments"),
                &Auth::None,
                &comment,
            ),
            "missing_session",
        ),
        (
            server.get("/api/v1/activity", &Auth::None),
            "missing_session",
        ),
        (
            server.get("/api/v1/keys", &Auth::Key("ar_live_wrong".into())),
            "invalid_key",
        ),
    ] {
        let hint = hint_of(&resp, code);
        assert!(hint.contains("sign in at /login"), "{hint}");
        assert!(
            !hint.contains("X-API-Key"),
            "keys are not taken here: {hint}"
        );
    }

    // A wrong password at sign-in: how to get in, not how to send a key.
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "ada@example.com", "password": "not the password"}),
    );
    let hint = hint_of(&resp, "invalid_credentials");
    assert!(hint.contains("password-reset link"), "{hint}");
    assert!(!hint.contains("X-API-Key"), "{hint}");
    assert!(session_cookie(&resp).is_none(), "no session was made");
    let comments: i64 = server
        .open_db()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get(0))?;
    assert_eq!(comments, 0, "nothing was stored");
    Ok(())
}

#[test]
fn a_person_sees_their_sessions_and_signs_out_the_others_one_or_all() -> TestResult {
    let server = Server::start();
    let here = server.setup_owner();
    let laptop = server.sign_in("ada@example.com", OWNER_PASSWORD);
    let phone = server.sign_in("ada@example.com", OWNER_PASSWORD);
    let me = Auth::Cookie(here.clone());
    let listed = server.get("/api/v1/account/sessions", &me).json();
    let sessions = listed["sessions"].as_array().ok_or("sessions")?;
    assert_eq!(sessions.len(), 3, "{listed}");
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        current,
        [false, false, true],
        "newest first; this one marked"
    );
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    // Nothing of a session's secret is shown.
    for cookie in [&here, &laptop, &phone] {
        assert!(!listed.to_string().contains(cookie.as_str()));
    }

    // One other session signed out: it stops working at once; the others go on.
    let phone_id = sessions[0]["id"].as_str().ok_or("id")?.to_string();
    let ended = server.delete(&format!("/api/v1/account/sessions/{phone_id}"), &me);
    assert_eq!(ended.status, 200, "{}", ended.text());
    assert_eq!(
        server
            .get("/api/v1/me", &Auth::Cookie(phone.clone()))
            .status,
        401
    );
    assert_eq!(
        server
            .get("/api/v1/me", &Auth::Cookie(laptop.clone()))
            .status,
        200
    );
    // Not this one (sign out is for that), not one already ended, not someone else's.
    let this_id = sessions[2]["id"].as_str().ok_or("id")?.to_string();
    let refused = server.delete(&format!("/api/v1/account/sessions/{this_id}"), &me);
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "current_session");
    let again = server.delete(&format!("/api/v1/account/sessions/{phone_id}"), &me);
    assert_eq!(again.status, 404);
    let bob = server.add_user("bob@example.com", "Bob", "bob password 12");
    let bobs = server.delete(
        &format!("/api/v1/account/sessions/{this_id}"),
        &Auth::Cookie(bob),
    );
    assert_eq!(
        bobs.status, 404,
        "another person's session is none of theirs"
    );
    assert_eq!(server.get("/api/v1/me", &me).status, 200);
    // A key cannot manage sessions.
    let (_, key) = server.create_key(&here, json!({"name": "k"}));
    assert_eq!(
        server
            .get("/api/v1/account/sessions", &Auth::Key(key))
            .status,
        403
    );

    // Every other session at once.
    let all = server.delete("/api/v1/account/sessions", &me);
    assert_eq!(all.status, 200, "{}", all.text());
    assert_eq!(all.json()["ended"], 1);
    assert_eq!(server.get("/api/v1/me", &Auth::Cookie(laptop)).status, 401);
    assert_eq!(server.get("/api/v1/me", &me).status, 200);
    let left = server.get("/api/v1/account/sessions", &me).json();
    assert_eq!(left["sessions"].as_array().map(Vec::len), Some(1));
    let activity = server.get("/api/v1/activity", &me).json();
    let ended_events = activity["events"]
        .as_array()
        .ok_or("events")?
        .iter()
        .filter(|e| e["action"] == "session.ended")
        .count();
    assert_eq!(ended_events, 2, "each signed out session is in the trail");
    Ok(())
}
