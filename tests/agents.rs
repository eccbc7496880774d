//! Agents: created, listed, renamed and deleted by the user (session or a key acting as the user);
//! deleting one revokes its keys and keeps what it did attributed to it.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn agents_are_managed_with_a_session() -> TestResult {
    let server = Server::start();
    let c = Auth::Cookie(server.setup_owner());
    let resp = server.post(
        "/api/v1/agents",
        &c,
        &json!({"name": "  Claude ", "role": "coding"}),
    );
    assert_eq!(resp.status, 201);
    let agent = resp.json();
    assert_eq!(agent["name"], "Claude");
    assert_eq!(agent["role"], "coding");
    let id = agent["id"].as_str().ok_or("id")?.to_string();
    server.create_agent(&c, "QA bot", None);

    let list = server.get("/api/v1/agents", &c).json();
    let names: Vec<&str> = list["agents"]
        .as_array()
        .ok_or("list")?
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["Claude", "QA bot"]);

    let resp = server.patch(
        &format!("/api/v1/agents/{id}"),
        &c,
        &json!({"name": "Claude Code"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["name"], "Claude Code");
    assert_eq!(resp.json()["role"], "coding", "role untouched when absent");
    let resp = server.patch(&format!("/api/v1/agents/{id}"), &c, &json!({"role": null}));
    assert_eq!(resp.json()["role"], json!(null), "null clears the role");
    let resp = server.patch(
        &format!("/api/v1/agents/{id}"),
        &c,
        &json!({"role": "review"}),
    );
    assert_eq!(resp.json()["role"], "review");
    let updated_at = resp.json()["updatedAt"].clone();
    for body in [json!({}), json!({"name": null})] {
        let resp = server.patch(&format!("/api/v1/agents/{id}"), &c, &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text());
        assert_eq!(resp.error_code(), "nothing_to_change");
    }
    let listed = server.get("/api/v1/agents", &c).json();
    let agent = listed["agents"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["id"] == id.as_str()))
        .ok_or("the agent is listed")?;
    assert_eq!(agent["name"], "Claude Code");
    assert_eq!(agent["role"], "review");
    assert_eq!(
        agent["updatedAt"], updated_at,
        "a refused change changes nothing"
    );
    Ok(())
}

#[test]
fn a_key_acting_as_the_user_can_manage_agents_but_an_agent_key_cannot() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, user_key) = server.create_key(&cookie, json!({"name": "me"}));
    let id = server.create_agent(&Auth::Key(user_key.clone()), "Claude", None);
    let (_, agent_key) = server.create_key(&cookie, json!({"name": "claude", "agentId": id}));
    let a = Auth::Key(agent_key);
    for resp in [
        server.get("/api/v1/agents", &a),
        server.post("/api/v1/agents", &a, &json!({"name": "sneaky"})),
        server.patch(
            &format!("/api/v1/agents/{id}"),
            &a,
            &json!({"name": "renamed"}),
        ),
        server.delete(&format!("/api/v1/agents/{id}"), &a),
    ] {
        assert_eq!(resp.status, 403, "{}", resp.text());
        assert_eq!(resp.error_code(), "agent_not_allowed");
    }
    let list = server.get("/api/v1/agents", &Auth::Key(user_key)).json();
    assert_eq!(list["agents"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["agents"][0]["name"], "Claude");
    Ok(())
}

#[test]
fn deleting_an_agent_revokes_its_keys_and_keeps_its_attribution() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie.clone());
    let id = server.create_agent(&c, "Claude", Some("coding"));
    let (k1, key1) = server.create_key(&cookie, json!({"name": "claude 1", "agentId": id}));
    let (k2, key2) = server.create_key(&cookie, json!({"name": "claude 2", "agentId": id}));
    let (_, mine) = server.create_key(&cookie, json!({"name": "mine"}));
    assert_eq!(
        server.get("/api/v1/me", &Auth::Key(key1.clone())).status,
        200
    );

    let resp = server.delete(&format!("/api/v1/agents/{id}"), &c);
    assert_eq!(resp.status, 200);
    let mut revoked: Vec<String> = resp.json()["revokedKeys"]
        .as_array()
        .ok_or("list")?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    revoked.sort();
    assert_eq!(revoked, vec![k1.clone(), k2]);
    for key in [key1, key2] {
        let resp = server.get("/api/v1/me", &Auth::Key(key));
        assert_eq!(resp.status, 401);
        assert_eq!(resp.error_code(), "revoked_key");
    }
    assert_eq!(
        server.get("/api/v1/me", &Auth::Key(mine)).status,
        200,
        "other keys live on"
    );
    assert_eq!(server.get("/api/v1/agents", &c).json()["agents"], json!([]));
    // The revoked keys still say who they acted as.
    let all = server.get("/api/v1/keys?status=all", &c).json();
    let k1_view = all["keys"]
        .as_array()
        .ok_or("keys")?
        .iter()
        .find(|k| k["id"] == json!(k1))
        .ok_or("k1")?
        .clone();
    assert_eq!(
        k1_view["identity"],
        json!({"kind": "agent", "id": id, "name": "Claude", "role": "coding"})
    );
    assert_eq!(k1_view["status"], "revoked");
    // Deleted agents cannot be used for new keys, renamed, or deleted again.
    let resp = server.post("/api/v1/keys", &c, &json!({"name": "x", "agentId": id}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "unknown_agent");
    assert_eq!(
        server
            .patch(
                &format!("/api/v1/agents/{id}"),
                &c,
                &json!({"name": "zombie"})
            )
            .status,
        404
    );
    assert_eq!(
        server.delete(&format!("/api/v1/agents/{id}"), &c).status,
        404
    );
    Ok(())
}

#[test]
fn agents_of_other_users_are_invisible() -> TestResult {
    let server = Server::start();
    let c = Auth::Cookie(server.setup_owner());
    let id = server.create_agent(&c, "Claude", None);
    let bob = server.add_user("bob@example.com", "Bob", "bob password 1");
    let b = Auth::Cookie(bob.clone());
    assert_eq!(server.get("/api/v1/agents", &b).json()["agents"], json!([]));
    assert_eq!(
        server
            .patch(
                &format!("/api/v1/agents/{id}"),
                &b,
                &json!({"name": "mine now"})
            )
            .status,
        404
    );
    assert_eq!(
        server.delete(&format!("/api/v1/agents/{id}"), &b).status,
        404
    );
    let resp = server.post("/api/v1/keys", &b, &json!({"name": "steal", "agentId": id}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "unknown_agent");
    Ok(())
}

#[test]
fn agent_names_are_validated() -> TestResult {
    let server = Server::start();
    let c = Auth::Cookie(server.setup_owner());
    for (body, code, field) in [
        (json!({"name": ""}), "required", "name"),
        (json!({"name": "   "}), "required", "name"),
        (json!({"name": "x".repeat(101)}), "too_long", "name"),
        (json!({"name": "a\u{0}b"}), "invalid_text", "name"),
        (json!({"name": "line\nbreak"}), "invalid_text", "name"),
        (json!({"name": "\u{200B}"}), "invalid_text", "name"),
        (
            json!({"name": "ok", "role": "r".repeat(101)}),
            "too_long",
            "role",
        ),
        // Missing (required, as an empty one is), of the wrong type, or unknown: the field is named.
        (json!({}), "required", "name"),
        (json!({"name": 5}), "invalid_request", "name"),
        (
            json!({"name": "ok", "rolle": "x"}),
            "invalid_request",
            "rolle",
        ),
    ] {
        let resp = server.post("/api/v1/agents", &c, &body);
        assert_eq!(resp.status, 400, "{body}");
        assert_eq!(resp.error_code(), code, "{body}");
        assert_eq!(resp.json()["field"], field, "{body}: {}", resp.text());
    }
    let resp = server.post("/api/v1/agents", &c, &json!({"name": "é".repeat(100)}));
    assert_eq!(resp.status, 201, "100 two-byte characters fit");
    let resp = server.post(
        "/api/v1/agents",
        &c,
        &json!({"name": "<img src=x onerror=alert(1)>"}),
    );
    assert_eq!(resp.status, 201);
    assert_eq!(
        resp.json()["name"],
        "<img src=x onerror=alert(1)>",
        "stored verbatim"
    );
    assert_eq!(
        server.get("/api/v1/agents", &c).json()["agents"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    Ok(())
}

#[test]
fn agent_names_are_unique_per_account_ignoring_case_and_accent_encoding_with_full_unicode_folding(
) -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let claude = server.create_agent(&ada, "Claude", Some("coding"));
    let strasse = server.create_agent(&ada, "Straße", None);
    let kelvin = server.create_agent(&ada, "\u{212A}elvin", None); // KELVIN SIGN
    let jose = server.create_agent(&ada, "Jos\u{e9}", None); // é composed
    for (name, holder) in [
        ("claude", &claude),
        ("CLAUDE", &claude),
        ("STRASSE", &strasse),
        ("strasse", &strasse),
        ("kelvin", &kelvin),
        // The same letters with the accent decomposed (as macOS file names and some keyboards
        // give them) are the same name to a reader.
        ("Jose\u{301}", &jose),
        ("JOSE\u{301}", &jose),
    ] {
        let resp = server.post("/api/v1/agents", &ada, &json!({ "name": name }));
        assert_eq!(resp.status, 409, "{name}: {}", resp.text());
        assert_eq!(resp.error_code(), "agent_name_taken");
        let body = resp.json();
        assert_eq!(body["agentId"], holder.as_str(), "{name}");
        assert!(
            body["error"]
                .as_str()
                .ok_or("message")?
                .contains(&format!("id {holder}")),
            "{body}"
        );
    }
    // Renaming into another agent's name is refused the same way; changing one's own case is not.
    let qa = server.create_agent(&ada, "QA", None);
    let resp = server.patch(
        &format!("/api/v1/agents/{qa}"),
        &ada,
        &json!({"name": "cLaUdE"}),
    );
    assert_eq!(resp.status, 409);
    assert_eq!(resp.json()["agentId"], claude.as_str());
    let resp = server.patch(
        &format!("/api/v1/agents/{claude}"),
        &ada,
        &json!({"name": "CLAUDE"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    // A deleted agent's name is free again, and another account has its own names.
    assert_eq!(
        server.delete(&format!("/api/v1/agents/{qa}"), &ada).status,
        200
    );
    server.create_agent(&ada, "qa", None);
    let bob = Auth::Cookie(server.add_user("bob@example.com", "Bob", "bob password 1"));
    server.create_agent(&bob, "Claude", None);
    let mine: i64 = server.open_db().query_row(
        "SELECT count(*) FROM agents WHERE user_id = 1 AND deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(mine, 5, "nothing was stored by the refused requests");
    Ok(())
}

#[test]
fn agent_names_that_only_look_alike_are_refused_also_when_a_key_request_would_make_one(
) -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let ada = Auth::Cookie(cookie);
    let claude = server.create_agent(&ada, "Claude", Some("coding"));
    for name in [
        "\u{421}laude",   // a Cyrillic capital Es for the C
        "CIaude",         // a capital I for the l
        "Cl\u{430}ude",   // a Cyrillic small a
        "\u{1D402}laude", // a mathematical bold C
    ] {
        let resp = server.post("/api/v1/agents", &ada, &json!({ "name": name }));
        assert_eq!(resp.status, 409, "{name:?}: {}", resp.text());
        assert_eq!(resp.error_code(), "agent_name_taken");
        let body = resp.json();
        assert_eq!(body["agentId"], claude.as_str());
        let message = body["error"].as_str().ok_or("message")?;
        assert!(
            message.contains("looks the same as the name of your agent \"Claude\""),
            "{message}"
        );
    }
    // A name that reads differently is another agent.
    server.create_agent(&ada, "Claudia", None);

    // An agent asking for a key under a look-alike name is not made a new agent by the approval:
    // the approver is told, nothing is stored, and approving it as the real Claude works.
    let asked = server.request(
        "POST",
        "/api/v1/key-requests",
        &Auth::None,
        Some(
            json!({ "agentName": "\u{421}laude" })
                .to_string()
                .as_bytes(),
        ),
        &[],
    );
    assert_eq!(asked.status, 201, "{}", asked.text());
    let code = asked.json()["userCode"]
        .as_str()
        .ok_or("userCode")?
        .to_string();
    let approve =
        |body: Value| server.post(&format!("/api/v1/key-requests/{code}/approve"), &ada, &body);
    let refused = approve(json!({}));
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.error_code(), "agent_name_taken");
    let agents: i64 = server.open_db().query_row(
        "SELECT count(*) FROM agents WHERE deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(agents, 2, "no agent was made");
    let shown = server
        .get(&format!("/api/v1/key-requests/{code}"), &ada)
        .json();
    assert_eq!(
        shown["status"], "pending",
        "the request can still be decided"
    );
    assert_eq!(shown["existingAgentId"], Value::Null);
    assert_eq!(
        shown["lookAlikeAgentId"],
        claude.as_str(),
        "the approver is told which agent the name looks like"
    );
    let approved = approve(json!({ "agentId": claude }));
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert_eq!(approved.json()["status"], "approved");
    Ok(())
}

#[test]
fn duplicate_names_from_before_the_rule_stay_and_can_still_be_edited() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    let first = server.create_agent(&ada, "Claude", None);
    {
        // As an older version of the server allowed.
        let db = rusqlite::Connection::open(&server.db)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute(
            "INSERT INTO agents (user_id, name, created_at, updated_at) VALUES (1, 'claude', 0, 0)",
            [],
        )?;
    }
    let list = server.get("/api/v1/agents", &ada).json();
    assert_eq!(list["agents"].as_array().ok_or("agents")?.len(), 2);
    let second = list["agents"][1]["id"].as_str().ok_or("id")?.to_string();
    let resp = server.patch(
        &format!("/api/v1/agents/{second}"),
        &ada,
        &json!({"role": "qa"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = server.patch(
        &format!("/api/v1/agents/{second}"),
        &ada,
        &json!({"name": "claude", "role": "review"}),
    );
    assert_eq!(
        resp.status,
        200,
        "keeping its own name is allowed: {}",
        resp.text()
    );
    // The command line cannot tell them apart by name and asks for the id.
    let out = server.cli(
        &[
            "key",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "k",
            "--agent",
            "CLAUDE",
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("ids {first}, {second}")), "{err}");
    Ok(())
}

#[test]
fn an_agent_name_with_an_invisible_character_is_refused_as_a_look_alike() -> TestResult {
    let server = Server::start();
    let ada = Auth::Cookie(server.setup_owner());
    server.create_agent(&ada, "Claude", None);
    for name in ["Claude\u{200b}", "Cla\u{2060}ude", "\u{feff}Claude"] {
        let resp = server.post("/api/v1/agents", &ada, &json!({ "name": name }));
        assert_eq!(resp.status, 400, "{name:?}: {}", resp.text());
        assert_eq!(resp.json()["field"], "name");
        assert!(
            resp.json()["error"]
                .as_str()
                .is_some_and(|m| m.contains("invisible characters")),
            "{}",
            resp.text()
        );
    }
    // An agent asking for a key under such a name is refused the same way, before anyone is asked
    // to approve a name that reads like another.
    let asked = server.post(
        "/api/v1/key-requests",
        &Auth::None,
        &json!({"agentName": "Claude\u{200b}", "scopes": ["commenter"]}),
    );
    assert_eq!(asked.status, 400, "{}", asked.text());
    let agents: i64 = server
        .open_db()
        .query_row("SELECT count(*) FROM agents", [], |r| r.get(0))?;
    assert_eq!(agents, 1, "nothing stored");
    let requests: i64 =
        server
            .open_db()
            .query_row("SELECT count(*) FROM key_requests", [], |r| r.get(0))?;
    assert_eq!(requests, 0);
    Ok(())
}
