//! Comments and replies: the product page example, the full lifecycle as a user key and as an agent
//! key with honest attribution, every permission rule from both sides, limits at the character,
//! and counts that stay right.

mod common;

use common::zips::zip_of;
use common::*;
use serde_json::{json, Value};

/// Ada owns an artifact; Bob reviews it; Eve is a stranger. Each has a key; Ada and Bob also have
/// an agent with its own key.
struct Cast {
    server: Server,
    share: String,
    ada: Auth,
    ada_cookie: String,
    claude: Auth,
    claude_id: String,
    bob: Auth,
    bob_bot: Auth,
    bob_bot_id: String,
    eve: Auth,
}

fn key_for(server: &Server, cookie: &str, body: Value) -> Auth {
    Auth::Key(server.create_key(cookie, body).1)
}

fn cast() -> Cast {
    let server = Server::start();
    let ada_cookie = server.setup_owner();
    let ada = key_for(&server, &ada_cookie, json!({"name": "ada"}));
    let claude_id =
        server.create_agent(&Auth::Cookie(ada_cookie.clone()), "Claude", Some("coding"));
    let claude = key_for(
        &server,
        &ada_cookie,
        json!({"name": "claude", "agentId": claude_id}),
    );
    let created = server.upload(&ada, json!({"name": "Dashboard", "fileName": "index.html", "content": "<h1>The Monthly revenue chart</h1>"}));
    let share = created["shareToken"].as_str().expect("token").to_string();
    let bob_cookie = server.add_user("bob@example.com", "Bob", "a long password");
    let resp = server.post(
        &format!("/api/v1/artifacts/{share}/access"),
        &ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let bob = key_for(&server, &bob_cookie, json!({"name": "bob"}));
    let bob_bot_id = server.create_agent(&Auth::Cookie(bob_cookie.clone()), "BobBot", None);
    let bob_bot = key_for(
        &server,
        &bob_cookie,
        json!({"name": "bobbot", "agentId": bob_bot_id}),
    );
    let eve_cookie = server.add_user("eve@example.com", "Eve", "a long password");
    let eve = key_for(&server, &eve_cookie, json!({"name": "eve"}));
    Cast {
        server,
        share,
        ada,
        ada_cookie,
        claude,
        claude_id,
        bob,
        bob_bot,
        bob_bot_id,
        eve,
    }
}

fn comment_body(content: &str) -> Value {
    json!({"content": content, "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue", "prefix": "The ", "suffix": " chart"}}})
}

impl Cast {
    fn comment(&self, auth: &Auth, content: &str) -> String {
        let resp = self.server.post(
            &format!("/api/v1/artifacts/{}/comments", self.share),
            auth,
            &comment_body(content),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()["id"].as_str().expect("id").to_string()
    }

    fn comments(&self, auth: &Auth) -> Value {
        let resp = self
            .server
            .get(&format!("/api/v1/artifacts/{}/comments", self.share), auth);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.json()
    }

    fn stats(&self) -> Value {
        let resp = self
            .server
            .get(&format!("/api/v1/artifacts/{}", self.share), &self.ada);
        assert_eq!(resp.status, 200, "{} {}", resp.text(), self.server.log());
        resp.json()["stats"].clone()
    }
}

#[test]
fn the_product_page_comment_works_as_written() -> TestResult {
    let c = cast();
    let body = br#"{"content": "This section needs a loading state",
           "target": {"source": "index.html",
                      "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue",
                                   "prefix": "The ", "suffix": " chart"}}}"#;
    let resp = c.server.request(
        "POST",
        &format!("/api/v1/artifacts/{}/comments", c.share),
        &c.claude,
        Some(body),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["status"], "created");
    let listed = c.comments(&c.ada);
    assert_eq!(listed["version"], "v1");
    let comment = &listed["comments"][0];
    assert_eq!(comment["content"], "This section needs a loading state");
    assert_eq!(
        comment["author"],
        json!({"kind": "agent", "id": c.claude_id, "name": "Claude", "role": "coding"})
    );
    assert_eq!(comment["resolved"], false);
    assert_eq!(
        comment["target"],
        json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue", "prefix": "The ", "suffix": " chart"}})
    );
    assert_eq!(comment["replies"], json!([]));
    Ok(())
}

fn lifecycle(c: &Cast, author: &Auth, expected_author: Value) -> TestResult {
    let id = c.comment(author, "  First thought  ");
    let listed = c.comments(author);
    let mine = listed["comments"]
        .as_array()
        .ok_or("comments")?
        .iter()
        .find(|x| x["id"] == json!(id))
        .ok_or("mine")?
        .clone();
    assert_eq!(mine["content"], "First thought", "stored trimmed");
    assert_eq!(mine["author"], expected_author);
    assert_eq!(mine["editedAt"], Value::Null, "never edited");

    let resp = c.server.patch(
        &format!("/api/v1/comments/{id}"),
        author,
        &json!({"content": "Second thought"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["content"], "Second thought");
    assert!(resp.json()["updatedAt"].as_i64() >= resp.json()["createdAt"].as_i64());
    let edited_at = resp.json()["editedAt"]
        .as_i64()
        .ok_or("editedAt once edited")?;

    let resp = c.server.post(
        &format!("/api/v1/comments/{id}/replies"),
        author,
        &json!({"content": "a reply"}),
    );
    assert_eq!(resp.status, 201);
    let reply_id = resp.json()["id"].as_str().ok_or("reply id")?.to_string();
    let resp = c.server.post(
        &format!("/api/v1/comments/{id}/replies"),
        &c.bob,
        &json!({"content": "Bob agrees"}),
    );
    assert_eq!(resp.status, 201);
    let resp = c.server.patch(
        &format!("/api/v1/replies/{reply_id}"),
        author,
        &json!({"content": "an edited reply"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["author"], expected_author);
    assert!(
        resp.json()["editedAt"].as_i64().is_some(),
        "an edited reply says so"
    );

    let resp = c.server.patch(
        &format!("/api/v1/comments/{id}"),
        author,
        &json!({"resolved": true}),
    );
    assert_eq!(resp.status, 200);
    let resolved = resp.json();
    assert_eq!(resolved["resolved"], true);
    assert!(resolved["resolvedAt"].as_i64().is_some());
    assert_eq!(resolved["resolvedBy"], expected_author);
    assert_eq!(
        resolved["editedAt"].as_i64(),
        Some(edited_at),
        "resolving is no edit of its text"
    );
    let replies: Vec<(&str, &str)> = resolved["replies"]
        .as_array()
        .ok_or("replies")?
        .iter()
        .map(|r| {
            (
                r["content"].as_str().unwrap_or(""),
                r["author"]["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        replies,
        [
            (
                "an edited reply",
                expected_author["name"].as_str().unwrap_or("")
            ),
            ("Bob agrees", "Bob")
        ],
        "oldest first"
    );

    assert_eq!(
        c.server
            .delete(&format!("/api/v1/replies/{reply_id}"), author)
            .status,
        200
    );
    let listed = c.comments(author);
    let mine = listed["comments"]
        .as_array()
        .ok_or("comments")?
        .iter()
        .find(|x| x["id"] == json!(id))
        .ok_or("mine")?
        .clone();
    assert_eq!(mine["replies"].as_array().map(Vec::len), Some(1));

    assert_eq!(
        c.server
            .delete(&format!("/api/v1/comments/{id}"), author)
            .status,
        200
    );
    let listed = c.comments(author);
    assert!(
        listed["comments"]
            .as_array()
            .ok_or("comments")?
            .iter()
            .all(|x| x["id"] != json!(id)),
        "deleted comments are left out"
    );
    assert_eq!(
        c.server
            .post(
                &format!("/api/v1/comments/{id}/replies"),
                author,
                &json!({"content": "late"})
            )
            .status,
        404
    );
    Ok(())
}

#[test]
fn the_full_lifecycle_as_a_user_key() -> TestResult {
    let c = cast();
    lifecycle(
        &c,
        &c.ada,
        json!({"kind": "user", "id": "1", "name": "Ada"}),
    )
}

#[test]
fn the_full_lifecycle_as_an_agent_key() -> TestResult {
    let c = cast();
    lifecycle(
        &c,
        &c.claude,
        json!({"kind": "agent", "id": c.claude_id, "name": "Claude", "role": "coding"}),
    )
}

#[test]
fn the_full_lifecycle_as_a_reviewers_agent() -> TestResult {
    let c = cast();
    lifecycle(
        &c,
        &c.bob_bot,
        json!({"kind": "agent", "id": c.bob_bot_id, "name": "BobBot"}),
    )
}

#[test]
fn strangers_cannot_read_comment_reply_resolve_or_delete() -> TestResult {
    let c = cast();
    let id = c.comment(&c.ada, "owner's note");
    let reply = c
        .server
        .post(
            &format!("/api/v1/comments/{id}/replies"),
            &c.ada,
            &json!({"content": "r"}),
        )
        .json()["id"]
        .as_str()
        .ok_or("reply")?
        .to_string();
    for resp in [
        c.server
            .get(&format!("/api/v1/artifacts/{}/comments", c.share), &c.eve),
        c.server.post(
            &format!("/api/v1/artifacts/{}/comments", c.share),
            &c.eve,
            &comment_body("spam"),
        ),
        c.server.patch(
            &format!("/api/v1/comments/{id}"),
            &c.eve,
            &json!({"resolved": true}),
        ),
        c.server.patch(
            &format!("/api/v1/comments/{id}"),
            &c.eve,
            &json!({"content": "edited"}),
        ),
        c.server.delete(&format!("/api/v1/comments/{id}"), &c.eve),
        c.server.post(
            &format!("/api/v1/comments/{id}/replies"),
            &c.eve,
            &json!({"content": "spam"}),
        ),
        c.server.patch(
            &format!("/api/v1/replies/{reply}"),
            &c.eve,
            &json!({"content": "x"}),
        ),
        c.server.delete(&format!("/api/v1/replies/{reply}"), &c.eve),
    ] {
        assert_eq!(resp.status, 404, "{}", resp.text());
    }
    let listed = c.comments(&c.ada);
    assert_eq!(listed["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["comments"][0]["resolved"], false);
    assert_eq!(listed["comments"][0]["content"], "owner's note");
    assert_eq!(
        listed["comments"][0]["replies"].as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[test]
fn only_the_author_edits_text_but_anyone_with_access_resolves() -> TestResult {
    let c = cast();
    let by_ada = c.comment(&c.ada, "by Ada");
    let by_claude = c.comment(&c.claude, "by Claude");
    let by_bob = c.comment(&c.bob, "by Bob");
    // Text: the author only, as the same identity.
    for (id, other) in [
        (&by_ada, &c.claude),
        (&by_ada, &c.bob),
        (&by_claude, &c.ada),
        (&by_bob, &c.ada),
        (&by_bob, &c.bob_bot),
    ] {
        let resp = c.server.patch(
            &format!("/api/v1/comments/{id}"),
            other,
            &json!({"content": "put words in their mouth"}),
        );
        assert_eq!(resp.status, 403, "{}", resp.text());
        assert_eq!(resp.error_code(), "not_author");
    }
    // Resolving: owner, reviewer, and their agents.
    for (id, who) in [
        (&by_ada, &c.bob),
        (&by_claude, &c.bob_bot),
        (&by_bob, &c.ada),
        (&by_bob, &c.claude),
    ] {
        let resp = c.server.patch(
            &format!("/api/v1/comments/{id}"),
            who,
            &json!({"resolved": true}),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        let resp = c.server.patch(
            &format!("/api/v1/comments/{id}"),
            who,
            &json!({"resolved": false}),
        );
        assert_eq!(resp.json()["resolved"], false);
    }
    let texts: Vec<String> = c.comments(&c.ada)["comments"]
        .as_array()
        .ok_or("c")?
        .iter()
        .filter_map(|x| x["content"].as_str().map(String::from))
        .collect();
    assert_eq!(texts, ["by Ada", "by Claude", "by Bob"]);
    Ok(())
}

#[test]
fn deleting_is_for_the_author_or_the_artifact_owner() -> TestResult {
    let c = cast();
    let by_ada = c.comment(&c.ada, "by Ada");
    let by_bob = c.comment(&c.bob, "by Bob");
    let by_bob_bot = c.comment(&c.bob_bot, "by BobBot");
    // A reviewer (and their agent) cannot delete others' comments.
    for (id, who) in [
        (&by_ada, &c.bob),
        (&by_ada, &c.bob_bot),
        (&by_bob, &c.bob_bot),
        (&by_bob_bot, &c.bob),
    ] {
        let resp = c.server.delete(&format!("/api/v1/comments/{id}"), who);
        assert_eq!(resp.status, 403, "{}", resp.text());
        assert_eq!(resp.error_code(), "not_allowed");
    }
    // The author can; the owner (and the owner's agent, acting as the owner) can.
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/comments/{by_bob_bot}"), &c.bob_bot)
            .status,
        200
    );
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/comments/{by_bob}"), &c.claude)
            .status,
        200
    );
    let reply = c
        .server
        .post(
            &format!("/api/v1/comments/{by_ada}/replies"),
            &c.bob,
            &json!({"content": "r"}),
        )
        .json()["id"]
        .as_str()
        .ok_or("r")?
        .to_string();
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/replies/{reply}"), &c.bob_bot)
            .status,
        403
    );
    assert_eq!(
        c.server
            .patch(
                &format!("/api/v1/replies/{reply}"),
                &c.ada,
                &json!({"content": "x"})
            )
            .status,
        403
    );
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/replies/{reply}"), &c.ada)
            .status,
        200,
        "the owner moderates"
    );
    assert_eq!(
        c.comments(&c.ada)["comments"].as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[test]
fn moderating_others_needs_an_editor_key_a_commenter_key_deletes_only_its_own() -> TestResult {
    let c = cast();
    let by_bob = c.comment(&c.bob, "by Bob");
    let reply = c
        .server
        .post(
            &format!("/api/v1/comments/{by_bob}/replies"),
            &c.bob,
            &json!({"content": "Bob's reply"}),
        )
        .json()["id"]
        .as_str()
        .ok_or("reply id")?
        .to_string();
    // The owner's commenter keys, as the owner and as the owner's agent.
    let as_ada = key_for(
        &c.server,
        &c.ada_cookie,
        json!({"name": "ada commenter", "scopes": ["commenter"]}),
    );
    let as_claude = key_for(
        &c.server,
        &c.ada_cookie,
        json!({"name": "claude commenter", "agentId": c.claude_id, "scopes": ["commenter"]}),
    );
    for who in [&as_ada, &as_claude] {
        for (path, what) in [
            (format!("/api/v1/replies/{reply}"), "reply"),
            (format!("/api/v1/comments/{by_bob}"), "comment"),
        ] {
            let resp = c.server.delete(&path, who);
            assert_eq!(resp.status, 403, "{}", resp.text());
            assert_eq!(resp.error_code(), "insufficient_scope");
            assert!(
                resp.text().contains(&format!(
                    "this key's scope is commenter; deleting someone else's {what} needs a key with the editor scope"
                )),
                "{}",
                resp.text()
            );
        }
    }
    // Nothing was deleted.
    let listed = c.comments(&c.ada);
    let thread = listed["comments"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["id"] == by_bob.as_str()))
        .ok_or("Bob's comment is still listed")?;
    assert_eq!(thread["replies"][0]["content"], "Bob's reply");
    // A commenter key deletes what it wrote itself.
    let own = c.comment(&as_claude, "by Claude, commenter");
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/comments/{own}"), &as_claude)
            .status,
        200
    );
    // The owner's editor key (and the owner's session) still moderate.
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/replies/{reply}"), &c.ada)
            .status,
        200
    );
    assert_eq!(
        c.server
            .delete(
                &format!("/api/v1/comments/{by_bob}"),
                &Auth::Cookie(c.ada_cookie.clone())
            )
            .status,
        200
    );
    assert_eq!(
        c.comments(&c.ada)["comments"].as_array().map(Vec::len),
        Some(0)
    );
    Ok(())
}

#[test]
fn limits_hold_at_the_character_for_ascii_two_and_four_byte_text() -> TestResult {
    let c = cast();
    let parent = c.comment(&c.ada, "parent");
    for ch in ["a", "é", "😀"] {
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{}/comments", c.share),
            &c.ada,
            &comment_body(&ch.repeat(10_000)),
        );
        assert_eq!(resp.status, 201, "10,000 × {ch}");
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{}/comments", c.share),
            &c.ada,
            &comment_body(&ch.repeat(10_001)),
        );
        assert_eq!(resp.status, 400, "10,001 × {ch}");
        assert_eq!(resp.error_code(), "too_long");
        assert_eq!(
            resp.json()["error"],
            "content is 10001 characters long; the limit is 10000 characters"
        );
        let resp = c.server.post(
            &format!("/api/v1/comments/{parent}/replies"),
            &c.ada,
            &json!({"content": ch.repeat(5_000)}),
        );
        assert_eq!(resp.status, 201, "5,000 × {ch}");
        let resp = c.server.post(
            &format!("/api/v1/comments/{parent}/replies"),
            &c.ada,
            &json!({"content": ch.repeat(5_001)}),
        );
        assert_eq!(resp.status, 400);
        assert_eq!(
            resp.json()["error"],
            "content is 5001 characters long; the limit is 5000 characters"
        );
    }
    for bad in ["", "   \n\t ", "nul \u{0} inside"] {
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{}/comments", c.share),
            &c.ada,
            &comment_body(bad),
        );
        assert_eq!(resp.status, 400, "{bad:?}");
        let resp = c.server.post(
            &format!("/api/v1/comments/{parent}/replies"),
            &c.ada,
            &json!({"content": bad}),
        );
        assert_eq!(resp.status, 400, "{bad:?}");
    }
    let resp = c.server.patch(
        &format!("/api/v1/comments/{parent}"),
        &c.ada,
        &json!({"content": "x".repeat(10_001)}),
    );
    assert_eq!(resp.status, 400);
    // The schema holds the same limits, whatever writes to the file.
    let db = rusqlite::Connection::open(&c.server.db)?;
    let too_long = "x".repeat(10_001);
    let insert = db.execute(
        "INSERT INTO comments (artifact_id, version_id, author_user, content, target, created_at, updated_at) VALUES (1, 1, 1, ?1, '{}', 0, 0)",
        [&too_long],
    );
    assert!(
        insert.is_err(),
        "the CHECK constraint refuses 10,001 characters"
    );
    let insert = db.execute(
        "INSERT INTO replies (comment_id, author_user, content, created_at, updated_at) VALUES (1, 1, ?1, 0, 0)",
        ["y".repeat(5_001)],
    );
    assert!(insert.is_err());
    Ok(())
}

#[test]
fn comments_go_on_the_latest_version_and_on_one_of_its_files() -> TestResult {
    let c = cast();
    let v1 = c.comment(&c.ada, "on v1");
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "page.html", "content": "<p>v2</p>"}),
    );
    assert_eq!(resp.status, 201);
    let resp = c.server.post(&format!("/api/v1/artifacts/{}/comments", c.share), &c.ada, &json!({
        "content": "old", "version": "v1",
        "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly"}}}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "not_latest_version");
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/comments", c.share),
        &c.ada,
        &comment_body("index.html is not in v2"),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "unknown_source");
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("page.html"));
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/comments", c.share),
        &c.ada,
        &json!({
        "content": "on v2", "version": 2,
        "target": {"source": "page.html", "selector": {"type": "CssSelector", "value": "p"}}}),
    );
    assert_eq!(resp.status, 201);
    let latest = c.comments(&c.ada);
    assert_eq!(latest["version"], "v2");
    assert_eq!(latest["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        latest["comments"][0]["target"]["selector"],
        json!({"type": "CssSelector", "value": "p"})
    );
    let old = c
        .server
        .get(
            &format!("/api/v1/artifacts/{}/comments?version=v1", c.share),
            &c.ada,
        )
        .json();
    assert_eq!(old["version"], "v1");
    assert_eq!(
        old["comments"][0]["id"],
        json!(v1),
        "comments stay with their version"
    );
    let missing = c.server.get(
        &format!("/api/v1/artifacts/{}/comments?version=v9", c.share),
        &c.ada,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["error"],
        "version v9 not found: this artifact's versions are v1, v2",
        "it names the versions there are"
    );
    assert_eq!(
        c.server
            .get(
                &format!("/api/v1/artifacts/{}/comments?version=x", c.share),
                &c.ada
            )
            .status,
        400
    );
    // Replies on an older version's thread are still fine.
    assert_eq!(
        c.server
            .post(
                &format!("/api/v1/comments/{v1}/replies"),
                &c.bob,
                &json!({"content": "late reply"})
            )
            .status,
        201
    );
    Ok(())
}

#[test]
fn selectors_are_checked_and_returned_exactly_as_given() -> TestResult {
    let c = cast();
    let position = json!({"source": "index.html", "selector": {"type": "TextPositionSelector", "start": 4, "end": 19}});
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/comments", c.share),
        &c.ada,
        &json!({"content": "p", "target": position}),
    );
    assert_eq!(resp.status, 201);
    // The raw bytes come back as sent, spacing and key order included.
    let raw = r#"{"content":"raw","target":{ "selector" : {"exact":"Monthly","type":"TextQuoteSelector"}, "source":"index.html" }}"#;
    let resp = c.server.request(
        "POST",
        &format!("/api/v1/artifacts/{}/comments", c.share),
        &c.ada,
        Some(raw.as_bytes()),
        &[],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let text = c
        .server
        .get(&format!("/api/v1/artifacts/{}/comments", c.share), &c.ada)
        .text();
    assert!(text.contains(r#""target":{ "selector" : {"exact":"Monthly","type":"TextQuoteSelector"}, "source":"index.html" }"#), "{text}");
    for (target, mention) in [
        (
            json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": ""}}),
            "must not be empty",
        ),
        (
            json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "x".repeat(2001)}}),
            "2001",
        ),
        (
            json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "x", "prefix": "p".repeat(501)}}),
            "500",
        ),
        (
            json!({"source": "index.html", "selector": {"type": "RangeSelector"}}),
            "unknown variant",
        ),
        (
            json!({"source": "index.html", "selector": {"type": "TextPositionSelector", "start": 5, "end": 1}}),
            "must not be after",
        ),
        (
            json!({"source": "index.html", "selector": []}),
            "empty list",
        ),
        (
            json!({"source": "index.html", "selector": [
                {"type": "TextQuoteSelector", "exact": "Monthly"},
                {"type": "TextQuoteSelector", "exact": "revenue"}]}),
            "more than one TextQuoteSelector",
        ),
        (
            json!({"source": "index.html", "selector": [
                {"type": "TextQuoteSelector", "exact": "Monthly"},
                {"type": "TextPositionSelector", "start": 9, "end": 2}]}),
            "must not be after",
        ),
        (json!("index.html"), "target"),
    ] {
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{}/comments", c.share),
            &c.ada,
            &json!({"content": "x", "target": target}),
        );
        assert_eq!(resp.status, 400, "{target}");
        assert_eq!(resp.error_code(), "invalid_target");
        assert!(
            resp.json()["error"]
                .as_str()
                .unwrap_or_default()
                .contains(mention),
            "{}",
            resp.text()
        );
    }
    // A target the parser refuses names the field at fault, as a path into the body.
    for (target, field) in [
        (
            json!({"selector": {"type": "CssSelector", "value": "p"}}),
            "target.source",
        ),
        (json!({"source": 5}), "target.source"),
        (
            json!({"source": "index.html", "anchor": 1}),
            "target.anchor",
        ),
    ] {
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{}/comments", c.share),
            &c.ada,
            &json!({"content": "x", "target": target}),
        );
        assert_eq!(resp.error_code(), "invalid_target", "{target}");
        assert_eq!(resp.json()["field"], field, "{}", resp.text());
    }
    Ok(())
}

#[test]
fn counts_stay_right_through_edits_resolves_and_deletions() -> TestResult {
    let c = cast();
    let a = c.comment(&c.ada, "a");
    let b = c.comment(&c.bob, "b");
    let d = c.comment(&c.claude, "d");
    assert_eq!(
        c.stats(),
        json!({"commentCount": 3, "unresolvedCommentCount": 3, "totalViews": 0})
    );
    c.server.patch(
        &format!("/api/v1/comments/{a}"),
        &c.bob,
        &json!({"resolved": true}),
    );
    assert_eq!(
        c.stats(),
        json!({"commentCount": 3, "unresolvedCommentCount": 2, "totalViews": 0})
    );
    c.server.patch(
        &format!("/api/v1/comments/{a}"),
        &c.ada,
        &json!({"content": "a2"}),
    );
    c.server.post(
        &format!("/api/v1/comments/{b}/replies"),
        &c.ada,
        &json!({"content": "replies do not count"}),
    );
    assert_eq!(
        c.stats(),
        json!({"commentCount": 3, "unresolvedCommentCount": 2, "totalViews": 0})
    );
    c.server.delete(&format!("/api/v1/comments/{d}"), &c.ada);
    assert_eq!(
        c.stats(),
        json!({"commentCount": 2, "unresolvedCommentCount": 1, "totalViews": 0})
    );
    c.server.patch(
        &format!("/api/v1/comments/{a}"),
        &c.ada,
        &json!({"resolved": false}),
    );
    assert_eq!(
        c.stats(),
        json!({"commentCount": 2, "unresolvedCommentCount": 2, "totalViews": 0})
    );
    // Comments on a deleted version stop counting, and count again once it is restored.
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "index.html", "content": "<h1>The Monthly revenue chart</h1>"}),
    );
    assert_eq!(resp.status, 201);
    let on_v2 = c.comment(&c.bob, "on v2");
    assert_eq!(
        c.stats(),
        json!({"commentCount": 3, "unresolvedCommentCount": 3, "totalViews": 0})
    );
    assert_eq!(
        c.server
            .delete(&format!("/api/v1/artifacts/{}/versions/1", c.share), &c.ada)
            .status,
        200
    );
    assert_eq!(
        c.stats(),
        json!({"commentCount": 1, "unresolvedCommentCount": 1, "totalViews": 0})
    );
    c.server.patch(
        &format!("/api/v1/comments/{on_v2}"),
        &c.ada,
        &json!({"resolved": true}),
    );
    assert_eq!(
        c.stats(),
        json!({"commentCount": 1, "unresolvedCommentCount": 0, "totalViews": 0})
    );
    assert_eq!(
        c.server
            .post(
                &format!("/api/v1/artifacts/{}/versions/1/restore", c.share),
                &c.ada,
                &json!({})
            )
            .status,
        200
    );
    assert_eq!(
        c.stats(),
        json!({"commentCount": 3, "unresolvedCommentCount": 2, "totalViews": 0})
    );
    let listed = c.server.get("/api/v1/artifacts", &c.bob).json();
    assert_eq!(
        listed["artifacts"][0]["stats"],
        json!({"commentCount": 3, "unresolvedCommentCount": 2, "totalViews": 0})
    );
    assert_eq!(listed["artifacts"][0]["role"], "reviewer");
    Ok(())
}

#[test]
fn revoking_the_key_or_deleting_the_agent_changes_nothing_that_was_written() -> TestResult {
    let c = cast();
    let id = c.comment(&c.claude, "written by Claude");
    c.server.post(
        &format!("/api/v1/comments/{id}/replies"),
        &c.claude,
        &json!({"content": "Claude again"}),
    );
    let before = c.comments(&c.ada);
    let keys = c
        .server
        .get("/api/v1/keys", &Auth::Cookie(c.ada_cookie.clone()))
        .json();
    let claude_key = keys["keys"]
        .as_array()
        .ok_or("keys")?
        .iter()
        .find(|k| k["name"] == "claude")
        .ok_or("key")?["id"]
        .as_str()
        .ok_or("id")?
        .to_string();
    c.server.delete(
        &format!("/api/v1/keys/{claude_key}"),
        &Auth::Cookie(c.ada_cookie.clone()),
    );
    assert_eq!(c.comments(&c.ada), before);
    c.server.delete(
        &format!("/api/v1/agents/{}", c.claude_id),
        &Auth::Cookie(c.ada_cookie.clone()),
    );
    assert_eq!(c.comments(&c.ada), before);
    assert_eq!(before["comments"][0]["author"]["name"], "Claude");
    assert_eq!(
        before["comments"][0]["replies"][0]["author"]["kind"],
        "agent"
    );
    Ok(())
}

#[test]
fn comment_and_reply_changes_are_in_the_audit_trail_under_the_acting_agent() -> TestResult {
    let c = cast();
    let id = c.comment(&c.claude, "x");
    c.server.patch(
        &format!("/api/v1/comments/{id}"),
        &c.claude,
        &json!({"resolved": true}),
    );
    let reply = c
        .server
        .post(
            &format!("/api/v1/comments/{id}/replies"),
            &c.claude,
            &json!({"content": "r"}),
        )
        .json()["id"]
        .as_str()
        .ok_or("r")?
        .to_string();
    c.server
        .delete(&format!("/api/v1/replies/{reply}"), &c.claude);
    c.server
        .delete(&format!("/api/v1/comments/{id}"), &c.claude);
    let events = c
        .server
        .get(
            "/api/v1/activity?limit=5",
            &Auth::Cookie(c.ada_cookie.clone()),
        )
        .json();
    let actions: Vec<&str> = events["events"]
        .as_array()
        .ok_or("events")?
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "comment.deleted",
            "reply.deleted",
            "reply.created",
            "comment.resolved",
            "comment.created"
        ]
    );
    for e in events["events"].as_array().ok_or("events")? {
        assert_eq!(e["actor"]["kind"], "agent");
        assert_eq!(e["actor"]["name"], "Claude");
        assert_eq!(e["key"]["name"], "claude");
    }
    Ok(())
}

#[test]
fn a_comment_can_be_on_a_whole_file_or_on_a_passage_described_by_several_selectors() -> TestResult {
    let c = cast();
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let whole = c.server.post(
        &url,
        &c.bob,
        &json!({"content": "The colours are hard to read", "target": {"source": "index.html"}}),
    );
    assert_eq!(whole.status, 201, "{}", whole.text());
    let both = json!({"source": "index.html", "selector": [
        {"type": "TextQuoteSelector", "exact": "Monthly revenue", "prefix": "The ", "suffix": " chart"},
        {"type": "TextPositionSelector", "start": 4, "end": 19}]});
    let passage = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Say which month", "target": both}),
    );
    assert_eq!(passage.status, 201, "{}", passage.text());
    let missing = c.server.post(
        &url,
        &c.bob,
        &json!({"content": "x", "target": {"source": "nope.html"}}),
    );
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error_code(), "unknown_source");
    let listed = c.comments(&c.ada);
    let targets: Vec<&Value> = listed["comments"]
        .as_array()
        .ok_or("comments")?
        .iter()
        .map(|c| &c["target"])
        .collect();
    assert_eq!(
        targets,
        [&json!({"source": "index.html"}), &both],
        "stored as given"
    );
    Ok(())
}

#[test]
fn every_versions_comments_can_be_listed_and_filtered_by_state() -> TestResult {
    let c = cast();
    let first = c.comment(&c.ada, "first on v1");
    let second = c.comment(&c.bob, "second on v1");
    let resolved = c.server.patch(
        &format!("/api/v1/comments/{second}"),
        &c.ada,
        &json!({"resolved": true}),
    );
    assert_eq!(resolved.status, 200);
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "index.html", "content": "<h1>The Monthly revenue chart, fixed</h1>"}),
    );
    assert_eq!(resp.status, 201);
    let third = c.comment(&c.claude, "on v2");
    let reply = c.server.post(
        &format!("/api/v1/comments/{first}/replies"),
        &c.claude,
        &json!({"content": "a reply on v1's thread"}),
    );
    assert_eq!(reply.status, 201, "replies work on older versions' threads");
    let list = |query: &str| -> Vec<(String, String, bool, usize)> {
        let resp = c.server.get(
            &format!("/api/v1/artifacts/{}/comments{query}", c.share),
            &c.bob,
        );
        assert_eq!(resp.status, 200, "{query}: {}", resp.text());
        resp.json()["comments"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|x| {
                        (
                            x["id"].as_str().unwrap_or_default().to_string(),
                            x["version"].as_str().unwrap_or_default().to_string(),
                            x["resolved"].as_bool().unwrap_or_default(),
                            x["replies"].as_array().map_or(0, Vec::len),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = c
        .server
        .get(
            &format!("/api/v1/artifacts/{}/comments?version=all", c.share),
            &c.bob,
        )
        .json();
    assert_eq!(all["version"], "all");
    assert_eq!(
        list("?version=all"),
        [
            (first.clone(), "v1".to_string(), false, 1),
            (second.clone(), "v1".to_string(), true, 0),
            (third.clone(), "v2".to_string(), false, 0),
        ]
    );
    assert_eq!(
        list("?version=all&status=open"),
        [
            (first.clone(), "v1".to_string(), false, 1),
            (third.clone(), "v2".to_string(), false, 0),
        ]
    );
    assert_eq!(
        list("?version=all&status=resolved"),
        [(second.clone(), "v1".to_string(), true, 0)]
    );
    assert_eq!(
        list("?status=open"),
        [(third.clone(), "v2".to_string(), false, 0)]
    );
    assert_eq!(list("?version=v1&status=all").len(), 2);
    // A deleted version's comments leave the listing with it.
    let deleted = c
        .server
        .delete(&format!("/api/v1/artifacts/{}/versions/1", c.share), &c.ada);
    assert_eq!(deleted.status, 200);
    assert_eq!(list("?version=all"), [(third, "v2".to_string(), false, 0)]);
    for bad in ["?status=closed", "?version=latest", "?version=all&status="] {
        let resp = c.server.get(
            &format!("/api/v1/artifacts/{}/comments{bad}", c.share),
            &c.bob,
        );
        if bad.ends_with("status=") {
            assert_eq!(resp.status, 200, "an empty status is the default");
        } else {
            assert_eq!(resp.status, 400, "{bad}");
        }
    }
    Ok(())
}

#[test]
fn a_new_comment_naming_an_old_version_in_the_query_is_refused_not_moved() -> TestResult {
    let c = cast();
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "index.html", "content": "<h1>The Monthly revenue chart</h1>"}),
    );
    assert_eq!(resp.status, 201);
    let before = c.comments(&c.ada)["comments"]
        .as_array()
        .map_or(0, Vec::len);
    let old = c.server.post(
        &format!("/api/v1/artifacts/{}/comments?version=v1", c.share),
        &c.bob,
        &comment_body("meant for v1"),
    );
    assert_eq!(old.status, 400);
    assert_eq!(old.error_code(), "not_latest_version");
    assert!(old.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("v2"));
    let mixed = c.server.post(
        &format!("/api/v1/artifacts/{}/comments?version=2", c.share),
        &c.bob,
        &json!({"content": "x", "version": "v1", "target": {"source": "index.html"}}),
    );
    assert_eq!(mixed.status, 400);
    assert_eq!(mixed.error_code(), "invalid_version");
    let after = c.comments(&c.ada)["comments"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(before, after, "nothing was posted on the latest instead");
    let latest = c.server.post(
        &format!("/api/v1/artifacts/{}/comments?version=v2", c.share),
        &c.bob,
        &comment_body("on the latest"),
    );
    assert_eq!(latest.status, 201, "{}", latest.text());
    Ok(())
}

#[test]
fn a_passage_quoted_in_plain_text_is_found_and_stored_with_its_selectors() -> TestResult {
    let c = cast();
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let resp = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Say which month", "quote": "Monthly   revenue"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let listed = c.comments(&c.ada);
    let target = &listed["comments"][0]["target"];
    assert_eq!(
        target,
        &json!({"source": "index.html", "selector": [
            {"type": "TextQuoteSelector", "exact": "Monthly revenue", "prefix": "The ", "suffix": " chart"},
            {"type": "TextPositionSelector", "start": 4, "end": 19}]}),
        "the whitespace of the document, its context, code-point positions"
    );
    // A Markdown file is searched as it is rendered: its markup is not part of its text.
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "notes.md", "content": "# Plan\n\nShip **fast**. Then ship *again*.\n\nShip fast."}),
    );
    assert_eq!(resp.status, 201);
    let repeated = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "quote": "Ship fast"}),
    );
    assert_eq!(repeated.status, 400);
    assert_eq!(repeated.error_code(), "quote_not_placed");
    assert!(repeated.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("2 times"));
    let picked = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Which ship?", "quote": "Ship fast", "near": "again", "source": "notes.md"}),
    );
    assert_eq!(picked.status, 201, "{}", picked.text());
    // A `near` that is not in the document is named as such; one too long, or a quote too long,
    // is refused as that field's length.
    let nowhere = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "quote": "Ship fast", "near": "zebra", "source": "notes.md"}),
    );
    assert_eq!(nowhere.status, 400);
    assert_eq!(nowhere.error_code(), "quote_not_placed");
    assert!(
        nowhere.json()["error"]
            .as_str()
            .is_some_and(|m| m.contains("`near` is not in its text")),
        "{}",
        nowhere.text()
    );
    for (field, body) in [
        (
            "near",
            json!({"content": "x", "quote": "Ship fast", "near": "w ".repeat(1_500), "source": "notes.md"}),
        ),
        (
            "quote",
            json!({"content": "x", "quote": "w ".repeat(1_500), "source": "notes.md"}),
        ),
    ] {
        let long = c.server.post(&url, &c.claude, &body);
        assert_eq!(long.status, 400, "{}", long.text());
        assert_eq!(long.error_code(), "too_long");
        assert_eq!(long.json()["field"], field);
    }
    let missing = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "quote": "**fast**"}),
    );
    assert_eq!(missing.status, 400);
    let said = missing.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(said.contains("not in the text"), "{said}");
    assert!(
        said.contains("without Markdown's marks") && !said.contains("scripted"),
        "a Markdown document gets Markdown's advice: {said}"
    );
    let both = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "quote": "Plan", "target": {"source": "notes.md"}}),
    );
    assert_eq!(both.status, 400);
    assert_eq!(both.error_code(), "invalid_target");
    let listed = c.comments(&c.ada);
    let comments = listed["comments"].as_array().ok_or("comments")?;
    assert_eq!(
        comments.len(),
        1,
        "only the one placed passage on v2: {listed}"
    );
    let selector = &comments[0]["target"]["selector"][0];
    assert_eq!(selector["exact"], "Ship fast");
    assert!(
        selector["prefix"]
            .as_str()
            .unwrap_or_default()
            .ends_with("again.\n"),
        "the second one: {selector}"
    );
    Ok(())
}

#[test]
fn a_listing_can_be_read_in_pages() -> TestResult {
    let c = cast();
    let ids: Vec<String> = (0..3)
        .map(|i| c.comment(&c.ada, &format!("Point {i}")))
        .collect();
    let all = c.comments(&c.ada);
    assert_eq!(all["comments"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        all["nextCursor"],
        Value::Null,
        "unpaged: everything, no cursor"
    );
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let first = c.server.get(&format!("{url}?limit=2"), &c.ada).json();
    let got: Vec<&Value> = first["comments"]
        .as_array()
        .ok_or("page")?
        .iter()
        .map(|x| &x["id"])
        .collect();
    assert_eq!(got, vec![&json!(ids[0]), &json!(ids[1])]);
    let cursor = first["nextCursor"].as_str().ok_or("a next page")?;
    let second = c
        .server
        .get(&format!("{url}?limit=2&cursor={cursor}"), &c.ada)
        .json();
    assert_eq!(second["comments"][0]["id"], json!(ids[2]));
    assert_eq!(second["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["nextCursor"], Value::Null);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=zz", "cursor"),
    ] {
        let refused = c.server.get(&format!("{url}?{query}"), &c.ada);
        assert_eq!(refused.status, 400, "{query}");
        assert_eq!(refused.json()["field"], field, "{query}");
    }
    Ok(())
}

#[test]
fn a_quote_not_in_the_entry_page_but_in_another_page_of_the_site_says_which() -> TestResult {
    let c = cast();
    let zip = zip_of(&[
        (
            "index.html",
            b"<h1>Home</h1><a href=b.html>B</a>".as_slice(),
        ),
        (
            "b.html",
            b"<h1>Page B</h1><p>Refunds take five days.</p>".as_slice(),
        ),
        ("notes.md", b"# Notes\n\nRefunds take five days.".as_slice()),
        (
            "style.css",
            b"h1 { color: red } /* Refunds take five days. */".as_slice(),
        ),
    ])?;
    let resp = c.server.upload_multipart(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &[("file", Some("site.zip"), &zip)],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let refused = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Five working days?", "quote": "Refunds take five days."}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.error_code(), "quote_not_placed");
    assert_eq!(
        refused.json()["error"],
        "the quote is not in the text of index.html, but it is in b.html, notes.md: pass \"source\": \"b.html\""
    );
    // Followed, it is placed there.
    let placed = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Five working days?", "quote": "Refunds take five days.", "source": "b.html"}),
    );
    assert_eq!(placed.status, 201, "{}", placed.text());
    // Nowhere at all: the usual advice.
    let nowhere = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "quote": "Not anywhere"}),
    );
    assert_eq!(nowhere.status, 400);
    assert!(
        nowhere.text().contains("copy it exactly"),
        "{}",
        nowhere.text()
    );
    Ok(())
}

#[test]
fn a_quote_that_the_pages_own_scripts_write_is_kept_as_given_when_scripted() -> TestResult {
    let c = cast();
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "app.html", "content": "<h1>Orders</h1><p id=total></p>\
            <script>document.getElementById('total').textContent = 'Total due: 42 EUR';</script>"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    // Not in the file: refused, with the way out.
    let refused = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Which currency?", "quote": "Total due: 42 EUR"}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.error_code(), "quote_not_placed");
    assert!(refused.text().contains("scripted"), "{}", refused.text());
    // Scripted: kept as given, a TextQuoteSelector alone, for the review page to find.
    let kept = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Which currency?", "quote": "  Total due: 42 EUR ", "scripted": true}),
    );
    assert_eq!(kept.status, 201, "{}", kept.text());
    // Scripted but in the file after all: placed like any quote, with context and position.
    let placed = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "Rename?", "quote": "Orders", "scripted": true}),
    );
    assert_eq!(placed.status, 201, "{}", placed.text());
    let listed = c.comments(&c.ada);
    let targets: Vec<&Value> = listed["comments"]
        .as_array()
        .ok_or("comments")?
        .iter()
        .map(|comment| &comment["target"])
        .collect();
    assert_eq!(
        targets,
        vec![
            &json!({"source": "app.html", "selector": [
                {"type": "TextQuoteSelector", "exact": "Total due: 42 EUR"}]}),
            &json!({"source": "app.html", "selector": [
                {"type": "TextQuoteSelector", "exact": "Orders", "prefix": "", "suffix": ""},
                {"type": "TextPositionSelector", "start": 0, "end": 6}]}),
        ]
    );
    // A Markdown document runs no scripts: what its text lacks is refused all the same.
    let resp = c.server.post(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &json!({"fileName": "notes.md", "content": "# Notes\n\nNothing else."}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let markdown = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "quote": "Total due", "scripted": true}),
    );
    assert_eq!(markdown.status, 400, "{}", markdown.text());
    assert_eq!(markdown.error_code(), "quote_not_placed");
    // Scripted qualifies a quote only.
    let alone = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "x", "target": {"source": "notes.md"}, "scripted": true}),
    );
    assert_eq!(alone.status, 400, "{}", alone.text());
    assert_eq!(alone.error_code(), "invalid_target");
    Ok(())
}

fn stored_comments(server: &Server) -> i64 {
    server
        .open_db()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get(0))
        .expect("count comments")
}

#[test]
fn a_comment_without_target_or_quote_is_told_it_needs_one_of_them() -> TestResult {
    let c = cast();
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let neither = c.server.post(&url, &c.ada, &json!({"content": "x"}));
    assert_eq!(neither.status, 400, "{}", neither.text());
    assert_eq!(neither.error_code(), "invalid_target");
    let message = neither.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("needs target")
            && message.contains("quote")
            && message.contains("neither was given"),
        "says one of them is needed: {message}"
    );
    assert!(
        !message.contains("not both"),
        "nothing was given twice: {message}"
    );
    let both = c.server.post(
        &url,
        &c.ada,
        &json!({"content": "x", "quote": "Monthly", "target": {"source": "index.html"}}),
    );
    assert_eq!(both.status, 400);
    assert_eq!(both.error_code(), "invalid_target");
    assert!(both.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("not both"));
    let stray = c.server.post(
        &url,
        &c.ada,
        &json!({"content": "x", "near": "chart", "target": {"source": "index.html"}}),
    );
    assert_eq!(stray.status, 400);
    assert_eq!(stray.error_code(), "invalid_target");
    assert!(stray.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("go with quote"));
    assert_eq!(stored_comments(&c.server), 0, "nothing was stored");
    Ok(())
}

#[test]
fn a_new_comment_naming_a_version_that_does_not_exist_is_told_so_not_that_it_is_old() -> TestResult
{
    let c = cast();
    for _ in 0..2 {
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{}/versions", c.share),
            &c.ada,
            &json!({"fileName": "index.html", "content": "<h1>The Monthly revenue chart</h1>"}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let resp = c
        .server
        .delete(&format!("/api/v1/artifacts/{}/versions/2", c.share), &c.ada);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let target = json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly"}});
    let refused = |path: &str, body: Value| -> (String, String) {
        let resp = c.server.post(path, &c.bob, &body);
        assert_eq!(resp.status, 400, "{}", resp.text());
        let message = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (resp.error_code(), message)
    };
    // Never made: by a target (checked inside the write), by a quote or a whole file (checked
    // before the passage is looked for), in the body or the query.
    for (path, body) in [
        (
            url.clone(),
            json!({"content": "x", "version": "v99", "target": target}),
        ),
        (
            url.clone(),
            json!({"content": "x", "version": 99, "quote": "Monthly"}),
        ),
        (
            format!("{url}?version=v99"),
            json!({"content": "x", "target": target}),
        ),
    ] {
        let (code, message) = refused(&path, body);
        assert_eq!(code, "unknown_version", "{message}");
        assert!(
            message.contains("v99 does not exist") && message.contains("v3"),
            "names the missing version and the latest: {message}"
        );
        assert!(!message.contains("not it"), "{message}");
    }
    // Deleted: said so.
    let (code, message) = refused(
        &url,
        json!({"content": "x", "version": "v2", "target": target}),
    );
    assert_eq!(code, "unknown_version");
    assert!(
        message.contains("v2 was deleted") && message.contains("v3"),
        "{message}"
    );
    // An older version that exists is still refused as not the latest.
    let (code, message) = refused(
        &url,
        json!({"content": "x", "version": "v1", "quote": "Monthly"}),
    );
    assert_eq!(code, "not_latest_version");
    assert!(message.contains("latest version (v3)"), "{message}");
    assert_eq!(stored_comments(&c.server), 0, "nothing was stored");
    let latest = c.server.post(
        &url,
        &c.bob,
        &json!({"content": "on v3", "version": "v3", "target": target}),
    );
    assert_eq!(latest.status, 201, "{}", latest.text());
    Ok(())
}

#[test]
fn a_quote_the_review_page_could_never_highlight_is_refused_and_nothing_is_stored() -> TestResult {
    let c = cast();
    let page = b"<h1>Form</h1><p>Tell us more.</p><textarea>Type your answer here</textarea>\
                 <svg><text>Revenue axis</text></svg>";
    let resp = c.server.upload_multipart(
        &format!("/api/v1/artifacts/{}/versions", c.share),
        &c.ada,
        &[("file", Some("form.html"), page.as_slice())],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let url = format!("/api/v1/artifacts/{}/comments", c.share);
    let before = c.server.get(&url, &c.ada).json()["comments"]
        .as_array()
        .map(Vec::len);
    for (quote, element) in [
        ("Type your answer here", "textarea"),
        ("Revenue axis", "svg"),
    ] {
        let refused = c.server.post(
            &url,
            &c.claude,
            &json!({"content": "Placeholder?", "quote": quote}),
        );
        assert_eq!(refused.status, 400, "{}", refused.text());
        assert_eq!(refused.error_code(), "quote_not_placed");
        let message = refused.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(&format!("<{element}>")) && message.contains("whole file"),
            "{message}"
        );
    }
    let after = c.server.get(&url, &c.ada).json()["comments"]
        .as_array()
        .map(Vec::len);
    assert_eq!(after, before, "nothing stored");
    // Text the page shows outside the field is quoted as usual.
    let placed = c.server.post(
        &url,
        &c.claude,
        &json!({"content": "More about what?", "quote": "Tell us more."}),
    );
    assert_eq!(placed.status, 201, "{}", placed.text());
    Ok(())
}

#[test]
fn the_same_text_again_is_no_edit_no_event_and_no_new_time() -> TestResult {
    let c = cast();
    let id = c.comment(&c.ada, "Check the totals");
    let reply = c.server.post(
        &format!("/api/v1/comments/{id}/replies"),
        &c.ada,
        &json!({"content": "Done"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let reply_id = reply.json()["id"].as_str().ok_or("reply id")?.to_string();
    let events_before = c.server.open_db().query_row(
        "SELECT count(*) FROM audit_events WHERE action IN ('comment.updated', 'reply.updated')",
        [],
        |r| r.get::<_, i64>(0),
    )?;
    // The same text, even with other surrounding spaces (stored trimmed): nothing changes.
    let same = c.server.patch(
        &format!("/api/v1/comments/{id}"),
        &c.ada,
        &json!({"content": "  Check the totals\n"}),
    );
    assert_eq!(same.status, 200, "{}", same.text());
    assert_eq!(same.json()["editedAt"], Value::Null, "not marked edited");
    let same_reply = c.server.patch(
        &format!("/api/v1/replies/{reply_id}"),
        &c.ada,
        &json!({"content": "Done"}),
    );
    assert_eq!(same_reply.status, 200, "{}", same_reply.text());
    assert_eq!(same_reply.json()["editedAt"], Value::Null);
    let db = c.server.open_db();
    let (edited, updated, created): (Option<i64>, i64, i64) = db.query_row(
        "SELECT edited_at, updated_at, created_at FROM comments WHERE id = (SELECT max(id) FROM comments)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    assert_eq!(
        (edited, updated),
        (None, created),
        "the stored row is untouched"
    );
    let events_after = db.query_row(
        "SELECT count(*) FROM audit_events WHERE action IN ('comment.updated', 'reply.updated')",
        [],
        |r| r.get::<_, i64>(0),
    )?;
    assert_eq!(events_after, events_before, "no event for nothing");
    // Other text is an edit, as before.
    let changed = c.server.patch(
        &format!("/api/v1/comments/{id}"),
        &c.ada,
        &json!({"content": "Check the totals twice"}),
    );
    assert!(changed.json()["editedAt"].as_i64().is_some());
    // A comment or reply that is gone is still a 404, same text or not.
    let gone = c
        .server
        .delete(&format!("/api/v1/replies/{reply_id}"), &c.ada);
    assert_eq!(gone.status, 200, "{}", gone.text());
    let again = c.server.patch(
        &format!("/api/v1/replies/{reply_id}"),
        &c.ada,
        &json!({"content": "Done"}),
    );
    assert_eq!(again.status, 404, "{}", again.text());
    Ok(())
}

#[test]
fn a_reply_edit_or_resolve_under_way_when_the_artifact_is_deleted_stores_nothing() -> TestResult {
    let c = cast();
    let Auth::Key(ada_key) = &c.ada else {
        return Err("ada's key".into());
    };
    let long = "x".repeat(4_000);
    // Each request finds what it acts on before its body comes; the artifact is deleted meanwhile.
    // (Spaces pad a short body, so that half of it is sent before the deletion.)
    let padded = format!("{{\"resolved\": true{}}}", " ".repeat(4_000));
    let reply = |_: &str, id: &str| format!("/api/v1/comments/{id}/replies");
    let comment = |_: &str, id: &str| format!("/api/v1/comments/{id}");
    let version = |share: &str, _: &str| format!("/api/v1/artifacts/{share}/versions/1");
    // The request: its method, its path (from the artifact's share token and the comment's id),
    // its body.
    type Case<'a> = (&'a str, &'a dyn Fn(&str, &str) -> String, String);
    let cases: [Case; 4] = [
        ("POST", &reply, json!({ "content": long }).to_string()),
        ("PATCH", &comment, json!({ "content": long }).to_string()),
        ("PATCH", &comment, padded),
        (
            "PATCH",
            &version,
            json!({ "name": "n".repeat(90) }).to_string(),
        ),
    ];
    for (method, path_of, body) in cases {
        let made = c.server.upload(
            &c.ada,
            json!({"name": "Doomed", "fileName": "index.html", "content": "<p>The Monthly revenue chart</p>"}),
        );
        let share = made["shareToken"].as_str().ok_or("share")?.to_string();
        let resp = c.server.post(
            &format!("/api/v1/artifacts/{share}/comments"),
            &c.ada,
            &json!({"content": "Check", "target": {"source": "index.html"}}),
        );
        let id = resp.json()["id"].as_str().ok_or("id")?.to_string();
        let path = path_of(&share, &id);
        let answer = c.server.interrupted_as(method, &path, ada_key, &body, || {
            let gone = c
                .server
                .delete(&format!("/api/v1/artifacts/{share}"), &c.ada);
            assert_eq!(gone.status, 200, "{}", gone.text());
        });
        assert_eq!(
            answer.status,
            404,
            "{method} {path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let after: i64 = c.server.open_db().query_row(
            "SELECT count(*) FROM audit_events WHERE id > (SELECT max(id) FROM audit_events WHERE action = 'artifact.deleted')",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(
            after, 0,
            "{method} {path}: nothing recorded after the deletion"
        );
    }
    let (replies, touched, renamed): (i64, i64, i64) = c.server.open_db().query_row(
        "SELECT (SELECT count(*) FROM replies),
                (SELECT count(*) FROM comments WHERE edited_at IS NOT NULL OR resolved_at IS NOT NULL),
                (SELECT count(*) FROM versions WHERE name IS NOT NULL)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    assert_eq!((replies, touched, renamed), (0, 0, 0), "nothing stored");
    Ok(())
}

#[test]
fn a_quote_placed_while_new_versions_are_published_goes_on_the_latest_never_refused() -> TestResult
{
    let c = cast();
    // A long page makes each placing take a while, so publications land in between: a CI job
    // publishing the same page again and again (each a new version, the page's bytes the same).
    let page = format!(
        "<h1>Report</h1>{}<p>The Monthly revenue chart grew.</p>",
        "<p>Nothing to see in this paragraph of filler text.</p>".repeat(4_000)
    );
    let made = c.server.upload(
        &c.ada,
        json!({"name": "Racing", "fileName": "index.html", "content": page}),
    );
    let share = made["shareToken"].as_str().ok_or("share")?.to_string();
    let Auth::Key(key) = c.claude.clone() else {
        return Err("claude's key".into());
    };
    let base = c.server.url("");
    let publisher = {
        let (base, share, key, page) = (base.clone(), share.clone(), key.clone(), page.clone());
        std::thread::spawn(move || {
            for _ in 0..12 {
                let resp = ureq::post(&format!("{base}/api/v1/artifacts/{share}/versions"))
                    .header("X-API-Key", &key)
                    .send_json(json!({ "content": page }));
                assert!(resp.is_ok(), "{resp:?}");
            }
        })
    };
    let commenters: Vec<_> = (0..4)
        .map(|t| {
            let (base, share, key) = (base.clone(), share.clone(), key.clone());
            std::thread::spawn(move || {
                let mut refused = Vec::new();
                for i in 0..12 {
                    let resp = ureq::post(&format!("{base}/api/v1/artifacts/{share}/comments"))
                        .config()
                        .http_status_as_error(false)
                        .build()
                        .header("X-API-Key", &key)
                        .send_json(json!({"content": format!("{t}.{i}"), "quote": "Monthly revenue chart"}))
                        .expect("an answer");
                    if resp.status() != 201 {
                        refused.push(resp.into_body().read_to_string().unwrap_or_default());
                    }
                }
                refused
            })
        })
        .collect();
    let mut refused = Vec::new();
    for t in commenters {
        refused.extend(t.join().map_err(|_| "a commenter panicked")?);
    }
    publisher.join().map_err(|_| "the publisher panicked")?;
    assert!(refused.is_empty(), "{} refused: {refused:?}", refused.len());
    // Every comment is stored, on the version that was the latest when it was written.
    let db = c.server.open_db();
    let (stored, versions): (i64, i64) = db.query_row(
        "SELECT count(*), count(DISTINCT c.version_id) FROM comments c JOIN artifacts a ON a.id = c.artifact_id WHERE a.share_token = ?1",
        [&share],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!(stored, 48);
    assert!(
        versions > 1,
        "the comments went on several versions: {versions}"
    );
    Ok(())
}

#[test]
fn one_comment_is_read_by_its_id_with_its_replies_by_whoever_may_see_it() -> TestResult {
    let c = cast();
    let id = c.comment(&c.ada, "Check the totals");
    let reply = c.server.post(
        &format!("/api/v1/comments/{id}/replies"),
        &c.bob,
        &json!({"content": "Checked"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    for reader in [&c.ada, &c.bob, &c.claude] {
        let got = c.server.get(&format!("/api/v1/comments/{id}"), reader);
        assert_eq!(got.status, 200, "{}", got.text());
        let thread = got.json();
        assert_eq!(thread["id"], json!(id));
        assert_eq!(thread["content"], "Check the totals");
        assert_eq!(thread["replies"][0]["content"], "Checked");
        assert_eq!(thread["version"], "v1");
    }
    // Someone who cannot see the artifact learns nothing, not even that it exists.
    let stranger = c.server.get(&format!("/api/v1/comments/{id}"), &c.eve);
    assert_eq!(stranger.status, 404);
    let deleted = c.server.delete(&format!("/api/v1/comments/{id}"), &c.ada);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(
        c.server
            .get(&format!("/api/v1/comments/{id}"), &c.ada)
            .status,
        404
    );
    assert_eq!(
        c.server.get("/api/v1/comments/not-an-id", &c.ada).status,
        404
    );
    Ok(())
}
