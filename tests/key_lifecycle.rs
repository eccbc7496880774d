//! Keys over time (issue 15, items 1–3): rotation with an overlap (both keys work during it, only
//! the new one after), scopes enforced on every route of the table (reader, commenter, editor) and
//! on the MCP tools, and keys pasted into text this server stores revoked at once and masked.

mod common;

use common::*;
use serde_json::{json, Value};

struct Owner {
    server: Server,
    cookie: String,
    session: Auth,
    key: String,
    share: String,
}

fn owner() -> Owner {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Plan", "fileName": "plan.html", "content": "<p>Monthly revenue grew.</p>"}),
    );
    let share = created["shareToken"].as_str().expect("token").to_string();
    Owner {
        session: Auth::Cookie(cookie.clone()),
        server,
        cookie,
        key,
        share,
    }
}

impl Owner {
    /// A new key with `body`; returns (id, key, the answer).
    fn key_with(&self, body: Value) -> (String, String, Value) {
        let resp = self.server.post("/api/v1/keys", &self.session, &body);
        assert_eq!(resp.status, 201, "{}", resp.text());
        let v = resp.json();
        (
            v["id"].as_str().expect("id").to_string(),
            v["key"].as_str().expect("key").to_string(),
            v,
        )
    }

    fn me(&self, key: &str) -> Resp {
        self.server.get("/api/v1/me", &Auth::Key(key.to_string()))
    }

    fn keys(&self) -> Vec<Value> {
        self.server
            .get("/api/v1/keys?status=all", &self.session)
            .json()["keys"]
            .as_array()
            .expect("keys")
            .clone()
    }

    fn key_view(&self, id: &str) -> Value {
        self.keys()
            .into_iter()
            .find(|k| k["id"] == id)
            .expect("the key is listed")
    }
}

#[test]
fn a_rotated_key_keeps_working_for_the_overlap_beside_its_replacement() -> TestResult {
    let o = owner();
    let agent = o.server.create_agent(&o.session, "Claude", Some("coding"));
    let (id, old, _) = o.key_with(
        json!({"name": "claude", "agentId": agent, "scopes": ["commenter"], "expiresInDays": 30}),
    );
    let before = o.key_view(&id);
    let resp = o.server.post(
        &format!("/api/v1/keys/{id}/rotate"),
        &o.session,
        &json!({"overlap": "1h"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let rotated = resp.json();
    let new = rotated["key"].as_str().ok_or("new key")?.to_string();
    let new_id = rotated["id"].as_str().ok_or("new id")?.to_string();
    // Same name, identity and scope; a fresh lifetime as long as the old one's.
    assert_eq!(rotated["name"], "claude");
    assert_eq!(rotated["identity"]["name"], "Claude");
    assert_eq!(rotated["scopes"], json!(["commenter"]));
    let lifetime = before["expiresAt"].as_i64().ok_or("expiry")?
        - before["createdAt"].as_i64().ok_or("created")?;
    let fresh_lifetime = rotated["expiresAt"].as_i64().ok_or("expiry")?
        - rotated["createdAt"].as_i64().ok_or("created")?;
    assert!(
        (fresh_lifetime - lifetime).abs() < 5_000,
        "{lifetime} vs {fresh_lifetime}"
    );
    // The old one now ends with the overlap and says what replaced it.
    let replaced = &rotated["replaces"];
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(replaced["replacedBy"], new_id.as_str());
    let ends = replaced["expiresAt"].as_i64().ok_or("old expiry")?;
    let hour = 3_600_000;
    assert!(
        (ends - now_ms() - hour).abs() < 60_000,
        "ends in an hour: {ends}"
    );
    assert_eq!(o.key_view(&id)["replacedBy"], new_id.as_str());
    // During the overlap both work, as the same identity.
    for key in [&old, &new] {
        let me = o.me(key);
        assert_eq!(me.status, 200, "{}", me.text());
        assert_eq!(me.json()["identity"]["name"], "Claude");
    }
    // A key is rotated once; a revoked or unknown one not at all.
    let again = o
        .server
        .post(&format!("/api/v1/keys/{id}/rotate"), &o.session, &json!({}));
    assert_eq!(again.status, 409);
    assert_eq!(again.error_code(), "already_rotated");
    assert!(again.text().contains(&new_id));
    let bad = o.server.post(
        &format!("/api/v1/keys/{new_id}/rotate"),
        &o.session,
        &json!({"overlap": "2d"}),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("none, 1h, 1d"), "{}", bad.text());
    assert_eq!(
        o.server
            .post("/api/v1/keys/999/rotate", &o.session, &json!({}))
            .status,
        404
    );
    // Keys cannot rotate keys.
    let by_key = o.server.post(
        &format!("/api/v1/keys/{new_id}/rotate"),
        &Auth::Key(o.key.clone()),
        &json!({}),
    );
    assert_eq!(by_key.status, 403);

    // With no overlap, the old key stops at once and only the new one works: the state every
    // rotation reaches when its overlap ends.
    let resp = o.server.post(
        &format!("/api/v1/keys/{new_id}/rotate"),
        &o.session,
        &json!({"overlap": "none"}),
    );
    assert_eq!(resp.status, 201);
    let newest = resp.json()["key"].as_str().ok_or("key")?.to_string();
    let refused = o.me(&new);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "expired_key");
    assert!(
        refused.text().contains("Z ("),
        "an ISO 8601 time: {}",
        refused.text()
    );
    assert_eq!(o.me(&newest).status, 200);
    // Stored: the chain, and the trail.
    let db = o.server.open_db();
    let chain: i64 = db.query_row(
        "SELECT count(*) FROM api_keys WHERE replaced_by IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(chain, 2);
    let trail = o
        .server
        .get("/api/v1/activity?limit=5", &Auth::Cookie(o.cookie.clone()))
        .json();
    assert_eq!(actions(&trail)[..2], ["key.rotated", "key.rotated"]);
    assert!(!trail.to_string().contains(&newest));
    Ok(())
}

#[test]
fn the_command_line_rotates_a_key_too() -> TestResult {
    let o = owner();
    let (id, old, _) = o.key_with(json!({"name": "cron"}));
    let out = o.server.cli(&["key", "rotate", &id, "--overlap", "7d"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = String::from_utf8(out.stdout)?.trim().to_string();
    assert!(new.starts_with("ar_live_"), "{new}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("keeps working until"));
    assert_eq!(o.me(&new).status, 200);
    assert_eq!(o.me(&old).status, 200, "during the 7-day overlap");
    // The list says it was rotated, and by which key; the API keeps SPEC's "active".
    let listed = o
        .server
        .cli(&["key", "list", "--user", "ada@example.com"], "");
    let listed = String::from_utf8(listed.stdout)?;
    let line = listed
        .lines()
        .find(|l| l.starts_with(&format!("{id}\t")))
        .ok_or("the old key's line")?;
    assert!(line.contains("\trotated:"), "{listed}");
    let keys = o.server.get("/api/v1/keys", &o.session).json();
    let listed_old = keys["keys"]
        .as_array()
        .ok_or("keys")?
        .iter()
        .find(|k| k["id"] == id.as_str())
        .ok_or("the old key")?
        .clone();
    assert_eq!(listed_old["status"], "active");
    assert!(listed_old["replacedBy"].is_string(), "{listed_old}");
    let out = o.server.cli(&["key", "rotate", &id], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already rotated"));
    // Without an overlap, the old key stopped working, and the command says so.
    let (other, other_key, _) = o.key_with(json!({"name": "nightly"}));
    let out = o
        .server
        .cli(&["key", "rotate", &other, "--overlap", "none"], "");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stopped working now"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(o.me(&other_key).status, 401);
    Ok(())
}

#[test]
fn a_reader_key_is_refused_on_every_route_that_changes_anything() -> TestResult {
    let o = owner();
    let (_, reader, created) = o.key_with(json!({"name": "dashboard", "scopes": ["reader"]}));
    assert_eq!(created["scopes"], json!(["reader"]));
    let endpoints = o.server.get("/api/v1", &Auth::None).json()["endpoints"]
        .as_array()
        .ok_or("endpoints")?
        .clone();
    let link = o.server.post(
        &format!("/api/v1/artifacts/{}/sharelink", o.share),
        &o.session,
        &json!({"capabilities": {"writeComments": true}}),
    );
    assert_eq!(link.status, 201);
    let link_token = link.json()["shareUrl"]
        .as_str()
        .ok_or("shareUrl")?
        .rsplit('/')
        .next()
        .ok_or("token")?
        .to_string();
    let db = o.server.open_db();
    let before = db_snapshot(&db);
    let mut checked = 0;
    for route in &endpoints {
        let method = route["method"].as_str().ok_or("method")?;
        let path = route["path"].as_str().ok_or("path")?;
        let scope = route["scope"]
            .as_str()
            .ok_or("every route names its scope")?;
        assert_eq!(
            scope == "reader",
            method == "GET" || path == "/mcp",
            "{method} {path} needs {scope}"
        );
        if method == "GET" || path == "/mcp" {
            continue;
        }
        let concrete = path
            .replace("{shareToken}", &o.share)
            .replace("{number}", "1")
            .replace("{id}", "1")
            .replace("{linkToken}", &link_token)
            .replace("{path..}", "plan.html")
            .replace("{rest..}", "x");
        let resp = o.server.request(
            method,
            &concrete,
            &Auth::Key(reader.clone()),
            Some(br#"{"name":"x","content":"x","email":"x@example.com","password":"pw123456","token":"t"}"#),
            &[],
        );
        // Routes anyone may call without a key (sign-in, setup, invites) ignore it; every other
        // change is refused for want of scope.
        if resp.status == 403 {
            let code = resp.error_code();
            assert_eq!(
                code,
                "insufficient_scope",
                "{method} {path}: {}",
                resp.text()
            );
            assert!(
                resp.text()
                    .contains(&format!("needs a key with the {scope} scope")),
                "{}",
                resp.text()
            );
            checked += 1;
        } else {
            assert!(
                [
                    "/api/v1/setup",
                    "/api/v1/session",
                    "/api/v1/invites/check",
                    "/api/v1/invites/accept",
                    "/api/v1/password-resets/accept",
                    "/api/v1/key-requests",
                    "/api/v1/key-requests/poll"
                ]
                .contains(&path),
                "{method} {path} answered {} to a reader key: {}",
                resp.status,
                resp.text()
            );
        }
    }
    assert!(checked >= 25, "only {checked} routes were checked");
    let after = db_snapshot(&db);
    assert_eq!(
        snapshot_diff(&before, &after),
        None,
        "a reader key changed nothing"
    );
    // It reads everything its identity can see.
    for path in [
        "/api/v1/me".to_string(),
        "/api/v1/artifacts".to_string(),
        format!("/api/v1/artifacts/{}/comments", o.share),
        format!("/api/v1/artifacts/{}/versions/1/files/plan.html", o.share),
    ] {
        assert_eq!(
            o.server.get(&path, &Auth::Key(reader.clone())).status,
            200,
            "{path}"
        );
    }
    Ok(())
}

#[test]
fn a_commenter_key_comments_replies_and_resolves_but_cannot_publish_or_manage() -> TestResult {
    let o = owner();
    let (_, commenter, _) = o.key_with(json!({"name": "reviewer bot", "scopes": ["commenter"]}));
    let k = Auth::Key(commenter.clone());
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{}/comments", o.share),
        &k,
        &json!({"content": "Which month?", "quote": "Monthly revenue"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let comment = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let resp = o.server.post(
        &format!("/api/v1/comments/{comment}/replies"),
        &k,
        &json!({"content": "March"}),
    );
    assert_eq!(resp.status, 201);
    let resp = o.server.patch(
        &format!("/api/v1/comments/{comment}"),
        &k,
        &json!({"resolved": true}),
    );
    assert_eq!(resp.status, 200);
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/artifacts".to_string(),
            json!({"name": "x", "fileName": "x.html", "content": "x"}),
        ),
        (
            "POST",
            format!("/api/v1/artifacts/{}/versions", o.share),
            json!({"fileName": "x.html", "content": "x"}),
        ),
        (
            "PATCH",
            format!("/api/v1/artifacts/{}", o.share),
            json!({"name": "renamed"}),
        ),
        (
            "DELETE",
            format!("/api/v1/artifacts/{}", o.share),
            json!({}),
        ),
        (
            "POST",
            format!("/api/v1/artifacts/{}/access", o.share),
            json!({"email": "x@example.com"}),
        ),
    ] {
        let resp = o
            .server
            .request(method, &path, &k, Some(body.to_string().as_bytes()), &[]);
        assert_eq!(resp.status, 403, "{method} {path}");
        assert_eq!(resp.error_code(), "insufficient_scope");
        assert!(
            resp.text().contains("this key's scope is commenter"),
            "{}",
            resp.text()
        );
        assert!(
            resp.text().contains("needs a key with the editor scope"),
            "{}",
            resp.text()
        );
    }
    // The artifact is untouched.
    let listed = o
        .server
        .get("/api/v1/artifacts", &Auth::Key(o.key.clone()))
        .json();
    assert_eq!(listed["artifacts"][0]["name"], "Plan");
    assert_eq!(listed["artifacts"][0]["latestVersion"], 1);
    // Over MCP: it sees and calls the comment tools, never the publishing ones.
    let list = o.server.request(
        "POST",
        "/mcp",
        &k,
        Some(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
                .to_string()
                .as_bytes(),
        ),
        &[
            ("MCP-Protocol-Version", "2025-06-18"),
            ("Accept", "application/json, text/event-stream"),
        ],
    );
    let names: Vec<String> = list.json()["result"]["tools"]
        .as_array()
        .ok_or_else(|| format!("tools: {}", list.text()))?
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    assert!(names.contains(&"add_comment".to_string()));
    assert!(
        !names.contains(&"publish_artifact".to_string()),
        "{names:?}"
    );
    let call = o.server.request(
        "POST",
        "/mcp",
        &k,
        Some(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "publish_artifact", "arguments": {"name": "x", "content": "<p>x</p>"}}})
            .to_string()
            .as_bytes(),
        ),
        &[("MCP-Protocol-Version", "2025-06-18"), ("Accept", "application/json, text/event-stream")],
    );
    let result = &call.json()["result"];
    assert_eq!(result["isError"], true);
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("insufficient_scope"));
    // A scope that does not exist is refused when the key is made.
    let resp = o.server.post(
        "/api/v1/keys",
        &o.session,
        &json!({"name": "x", "scopes": ["admin"]}),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "invalid_scopes");
    Ok(())
}

/// Posts text carrying a key somewhere the server stores it.
type Poster<'a> = Box<dyn Fn(&str) -> Resp + 'a>;

#[test]
fn a_key_pasted_into_a_comment_is_revoked_at_once_and_stored_masked() -> TestResult {
    let o = owner();
    let agent = o.server.create_agent(&o.session, "Claude", Some("coding"));
    let (agent_key_id, agent_key, _) = o.key_with(json!({"name": "claude", "agentId": agent}));
    assert_eq!(o.me(&agent_key).status, 200);
    // Someone pastes it into a comment.
    let text = format!("the agent's key is {agent_key}, use it");
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{}/comments", o.share),
        &Auth::Key(o.key.clone()),
        &json!({"content": text, "target": {"source": "plan.html"}}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    // The very next request with it is refused.
    let refused = o.me(&agent_key);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "revoked_key");
    // It says why, and not where (the keys page tells its owner).
    let why = refused.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.contains("because it was found in text stored on this server"),
        "{why}"
    );
    assert!(!why.contains("comment 1"), "{why}");
    // Stored and shown masked, its display prefix kept.
    let shown = o
        .server
        .get(
            &format!("/api/v1/artifacts/{}/comments", o.share),
            &Auth::Key(o.key.clone()),
        )
        .json();
    let content = shown["comments"][0]["content"]
        .as_str()
        .ok_or("content")?
        .to_string();
    assert_eq!(
        content,
        format!(
            "the agent's key is {}{}, use it",
            &agent_key[..16],
            "*".repeat(24)
        )
    );
    assert!(!contains(
        &database_bytes(&o.server.db),
        agent_key.as_bytes()
    ));
    // The owner's keys page says where it was found; the trail too.
    let view = o.key_view(&agent_key_id);
    assert_eq!(view["status"], "revoked");
    assert_eq!(view["revokedReason"], "leaked");
    let place = view["revokedWhere"].as_str().ok_or("where")?;
    assert!(
        place.starts_with("comment ") && place.contains("“Plan”"),
        "{place}"
    );
    let trail = o
        .server
        .get("/api/v1/activity?limit=5", &Auth::Cookie(o.cookie.clone()))
        .json();
    assert!(actions(&trail).contains(&"key.leaked".to_string()));
    // The key that posted it is untouched.
    assert_eq!(o.me(&o.key).status, 200);

    // Replies, edits and artifact names are scanned too.
    let comment = shown["comments"][0]["id"].as_str().ok_or("id")?.to_string();
    let spots: Vec<(&str, Poster<'_>)> = vec![
        (
            "reply",
            Box::new(|key: &str| {
                o.server.post(
                    &format!("/api/v1/comments/{comment}/replies"),
                    &Auth::Key(o.key.clone()),
                    &json!({"content": format!("key: {key}")}),
                )
            }),
        ),
        (
            "comment edit",
            Box::new(|key: &str| {
                o.server.patch(
                    &format!("/api/v1/comments/{comment}"),
                    &Auth::Key(o.key.clone()),
                    &json!({"content": format!("now {key}")}),
                )
            }),
        ),
        (
            "artifact description",
            Box::new(|key: &str| {
                o.server.patch(
                    &format!("/api/v1/artifacts/{}", o.share),
                    &Auth::Key(o.key.clone()),
                    &json!({"description": format!("token {key}")}),
                )
            }),
        ),
    ];
    for (what, post) in spots {
        let (_, key, _) = o.key_with(json!({"name": what}));
        assert_eq!(o.me(&key).status, 200);
        let resp = post(&key);
        assert!(
            resp.status == 200 || resp.status == 201,
            "{what}: {}",
            resp.text()
        );
        assert!(!resp.text().contains(&key), "{what} answers masked");
        assert_eq!(o.me(&key).status, 401, "{what}: the key is revoked");
        assert!(
            !contains(&database_bytes(&o.server.db), key.as_bytes()),
            "{what} stored masked"
        );
    }
    // A string of the right shape whose checksum fails is only text.
    let mut fake = o.key.clone();
    let last = fake.pop().ok_or("char")?;
    fake.push(if last == 'A' { 'B' } else { 'A' });
    let resp = o.server.post(
        &format!("/api/v1/comments/{comment}/replies"),
        &Auth::Key(o.key.clone()),
        &json!({"content": format!("not a key: {fake}")}),
    );
    assert_eq!(resp.status, 201);
    let thread = o
        .server
        .get(
            &format!("/api/v1/artifacts/{}/comments", o.share),
            &Auth::Key(o.key.clone()),
        )
        .json();
    assert!(thread.to_string().contains(&fake));
    Ok(())
}

#[test]
fn a_key_in_an_uploaded_text_file_or_a_new_artifacts_name_is_revoked_and_the_file_kept(
) -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let (_, in_file, _) = o.key_with(json!({"name": "in a file"}));
    let (_, in_name, _) = o.key_with(json!({"name": "in a name"}));
    let (_, in_image, _) = o.key_with(json!({"name": "in an image"}));
    let config = format!("API_KEY={in_file}\n");
    let zip = common::zips::zip_of(&[
        ("index.html", b"<p>Site</p>".as_slice()),
        ("config.env.txt", config.as_bytes()),
        ("logo.png", in_image.as_bytes()),
    ])?;
    let created = o.server.upload(
        &k,
        json!({"name": format!("Site {in_name}"), "fileName": "site.zip", "content": b64(&zip)}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    assert_eq!(
        o.me(&in_file).status,
        401,
        "the key in a text file is revoked"
    );
    assert_eq!(o.me(&in_name).status, 401, "the key in the name is revoked");
    assert_eq!(
        o.me(&in_image).status,
        200,
        "binary files are not read as text"
    );
    // The file is kept as uploaded; the name is stored masked.
    let file = o.server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files/config.env.txt"),
        &k,
    );
    assert_eq!(file.text(), config);
    let shown = o
        .server
        .get(&format!("/api/v1/artifacts/{share}"), &k)
        .json();
    let name = shown["name"].as_str().ok_or("name")?;
    assert!(
        !name.contains(&in_name) && name.ends_with("************************"),
        "{name}"
    );
    let places: Vec<String> = o
        .keys()
        .iter()
        .filter(|k| k["revokedReason"] == "leaked")
        .filter_map(|k| k["revokedWhere"].as_str().map(str::to_string))
        .collect();
    assert!(
        places
            .iter()
            .any(|p| p.starts_with("the uploaded file config.env.txt of the artifact")),
        "{places:?}"
    );
    assert!(
        places
            .iter()
            .any(|p| p.starts_with("the name or description")),
        "{places:?}"
    );
    Ok(())
}
