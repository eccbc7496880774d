//! Secrets never land in the clear: after a session that uses every kind of secret the product has
//! (passwords right and wrong, API keys for a user, an agent and from the CLI, session cookies,
//! invite links, viewing grants, share links), neither the server's log nor the database files
//! contain any.

mod common;

use common::*;
use serde_json::json;

#[test]
fn no_key_password_or_session_secret_reaches_the_log_or_the_database() -> TestResult {
    let mut server = Server::start();
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, value: &str| secrets.push((what.to_string(), value.to_string()));

    let owner_cookie = server.setup_owner();
    keep("owner password", OWNER_PASSWORD);
    keep("setup session", &owner_cookie);
    let c = Auth::Cookie(owner_cookie.clone());
    let wrong = "a wrong password 7f3a";
    // Each step must reach the server and do what it says: a step that failed would never have
    // carried its secret there, and "not found" would pass without testing anything.
    let resp = server.post(
        "/api/v1/session",
        &Auth::None,
        &json!({"email": "ada@example.com", "password": wrong}),
    );
    assert_eq!(
        resp.status,
        401,
        "the wrong password was checked: {}",
        resp.text()
    );
    assert_eq!(resp.error_code(), "invalid_credentials");
    keep("wrong password", wrong);
    let second = server.sign_in("ada@example.com", OWNER_PASSWORD);
    keep("sign-in session", &second);

    let agent = server.create_agent(&c, "Claude", Some("coding"));
    let (_, user_key) = server.create_key(&owner_cookie, json!({"name": "mine"}));
    let (agent_key_id, agent_key) =
        server.create_key(&owner_cookie, json!({"name": "claude", "agentId": agent}));
    keep("user key", &user_key);
    keep("agent key", &agent_key);
    let out = server.cli(
        &[
            "key",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "cli",
        ],
        "",
    );
    assert!(out.status.success(), "key create");
    let cli_key = String::from_utf8(out.stdout)?.trim().to_string();
    assert!(cli_key.starts_with("ar_live_"), "{cli_key}");
    keep("cli key", &cli_key);
    let cli_password = "cli-made password 91";
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
        &format!("{cli_password}\n"),
    );
    assert!(out.status.success(), "user create");
    server.sign_in("ops@example.com", cli_password);
    keep("cli password", cli_password);

    let resp = server.post("/api/v1/team/invites", &c, &json!({}));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let invite = resp.json();
    let invite_token = invite["url"]
        .as_str()
        .ok_or("url")?
        .split("token=")
        .nth(1)
        .ok_or("token")?
        .to_string();
    keep("invite token", &invite_token);
    let bob_password = "bob's own password";
    let resp = server.post("/api/v1/invites/accept", &Auth::None, &json!({"token": invite_token, "email": "bob@example.com", "name": "Bob", "password": bob_password}));
    assert_eq!(resp.status, 201, "{}", resp.text());
    keep("invited password", bob_password);
    let bob_cookie = session_cookie(&resp).ok_or("bob session")?;
    keep("invited session", &bob_cookie);
    let new_password = "a brand new password";
    let resp = server.put(
        "/api/v1/account/password",
        &Auth::Cookie(bob_cookie.clone()),
        &json!({"currentPassword": bob_password, "newPassword": new_password}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["changed"], true);
    server.sign_in("bob@example.com", new_password);
    keep("changed password", new_password);

    for key in [&user_key, &agent_key, &cli_key] {
        assert_eq!(
            server.get("/api/v1/me", &Auth::Key(key.clone())).status,
            200
        );
        assert_eq!(
            server.get("/api/v1/me", &Auth::Bearer(key.clone())).status,
            200
        );
    }
    let created = server.upload(
        &Auth::Key(agent_key.clone()),
        json!({"name": "Doc", "fileName": "index.html", "content": "<p>Monthly revenue</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let resp = server.post(&format!("/api/v1/artifacts/{share}/comments"), &Auth::Key(agent_key.clone()), &json!({
        "content": "fine", "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly"}}}));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let comments = server
        .get(&format!("/api/v1/artifacts/{share}/comments"), &c)
        .json();
    assert_eq!(comments["comments"][0]["content"], "fine");
    let folder = server.view_grant(&c, &share, 1);
    let location = format!("{folder}/index.html");
    let grant = location.split('/').nth(2).ok_or("grant token")?.to_string();
    keep("viewing grant", &grant);
    assert_eq!(server.get(&location, &Auth::None).status, 200);
    // A share link: made, shown again, used by a visitor, turned off and on.
    let link_path = format!("/api/v1/artifacts/{share}/sharelink");
    let resp = server.post(
        &link_path,
        &c,
        &json!({"capabilities": {"readComments": true}}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let link_url = resp.json()["shareUrl"]
        .as_str()
        .ok_or("shareUrl")?
        .to_string();
    let link_token = link_url.rsplit('/').next().ok_or("link token")?.to_string();
    keep("share link token", &link_token);
    assert_eq!(
        server.get(&link_path, &c).json()["shareUrl"],
        link_url.as_str()
    );
    assert_eq!(
        server
            .get(&format!("/share/{link_token}"), &Auth::None)
            .status,
        200
    );
    let shared = server.get(&format!("/api/v1/share/{link_token}"), &Auth::None);
    assert_eq!(shared.status, 200);
    assert_eq!(
        server
            .get(&format!("/api/v1/share/{link_token}/comments"), &Auth::None)
            .json()["comments"][0]["content"],
        "fine"
    );
    assert_eq!(server.delete(&link_path, &c).status, 200);
    assert_eq!(
        server
            .get(&format!("/share/{link_token}/"), &Auth::None)
            .status,
        404
    );
    assert_eq!(
        server
            .patch(&link_path, &c, &json!({"enabled": true}))
            .status,
        200
    );
    // Failures that echo nothing back.
    assert_eq!(
        server
            .get("/api/v1/me", &Auth::Key(format!("{user_key}x")))
            .status,
        401
    );
    assert_eq!(
        server
            .delete(&format!("/api/v1/keys/{agent_key_id}"), &c)
            .status,
        200
    );
    let resp = server.get("/api/v1/me", &Auth::Key(agent_key.clone()));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error_code(), "revoked_key");
    assert_eq!(
        server
            .delete("/api/v1/session", &Auth::Cookie(second.clone()))
            .status,
        200
    );

    let scan = |when: &str, server: &Server| {
        let log = server.log();
        let files = database_bytes(&server.db);
        for (what, value) in &secrets {
            assert!(
                !log.contains(value.as_str()),
                "{when}: the {what} is in the log"
            );
            assert!(
                !contains(&files, value.as_bytes()),
                "{when}: the {what} is in the database files"
            );
        }
    };
    scan("while running", &server);
    server.terminate();
    scan("after shutdown", &server);
    Ok(())
}
