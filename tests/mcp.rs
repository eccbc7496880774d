//! The MCP endpoint over HTTP, spoken by hand so every byte is checked: both protocol generations,
//! every tool, the whole loop (an agent publishes, a person comments, the agent's wait returns it,
//! the agent replies, resolves and publishes again, all shown as the agent), and hostile requests
//! that must each get a clear error, store nothing and leave no panic in the log. (The official
//! Python and TypeScript SDKs talk to the same endpoint in tests/mcp/.)

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

struct Agent {
    server: Server,
    /// Ada, signed in.
    ada: String,
    /// A key acting as Ada's agent Claude.
    key: String,
    key_id: String,
}

fn agent() -> Agent {
    let server = Server::start();
    let ada = server.setup_owner();
    let claude = server.create_agent(&Auth::Cookie(ada.clone()), "Claude", Some("coding"));
    let (key_id, key) = server.create_key(&ada, json!({"name": "Claude Code", "agentId": claude}));
    Agent {
        server,
        ada,
        key,
        key_id,
    }
}

/// A POST to /mcp with a key and extra headers.
fn post(server: &Server, key: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut all: Vec<(&str, &str)> = vec![("Accept", "application/json, text/event-stream")];
    all.extend_from_slice(headers);
    server.request(
        "POST",
        "/mcp",
        &Auth::Key(key.to_string()),
        Some(body.to_string().as_bytes()),
        &all,
    )
}

/// A `wait_for_feedback` call with `arguments`, run on its own thread; joins to the JSON-RPC answer.
fn waiting(server: &Server, key: &str, arguments: Value) -> std::thread::JoinHandle<Value> {
    let (url, key) = (server.url("/mcp"), key.to_string());
    std::thread::spawn(move || {
        let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
            "name": "wait_for_feedback", "arguments": arguments}});
        ureq::post(&url)
            .header("X-API-Key", &key)
            .header("MCP-Protocol-Version", "2025-06-18")
            .send_json(&body)
            .expect("the wait answers")
            .body_mut()
            .read_json()
            .expect("JSON")
    })
}

/// The refusal a tool call answered with (`isError`, its text block's JSON).
fn refusal_of(answer: &Value) -> Result<Value, Box<dyn std::error::Error>> {
    if answer["result"]["isError"] != true {
        return Err(format!("not a refusal: {answer}").into());
    }
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .ok_or("no text block")?;
    Ok(serde_json::from_str(text)?)
}

/// A legacy-generation request (after `initialize`, with its version header).
fn legacy(server: &Server, key: &str, method: &str, params: Value) -> Resp {
    post(
        server,
        key,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        &[("MCP-Protocol-Version", "2025-06-18")],
    )
}

/// A request of the stateless 2026-07-28 generation, with its `_meta` and mirrored headers.
fn modern(server: &Server, key: &str, method: &str, mut params: Value) -> Resp {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"}
    });
    let name = params["name"].as_str().unwrap_or_default().to_string();
    let mut headers = vec![
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
    ];
    if method == "tools/call" {
        headers.push(("Mcp-Name", name.as_str()));
    }
    post(
        server,
        key,
        &json!({"jsonrpc": "2.0", "id": "m-1", "method": method, "params": params}),
        &headers,
    )
}

/// Calls a tool (legacy generation) and returns its result object.
fn tool(server: &Server, key: &str, name: &str, arguments: Value) -> Value {
    let resp = legacy(
        server,
        key,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    );
    assert_eq!(resp.status, 200, "{name}: {}", resp.text());
    let body = resp.json();
    assert!(body.get("error").is_none(), "{name}: {body}");
    body["result"].clone()
}

/// Calls a tool that must succeed; returns its structured content.
fn ok(server: &Server, key: &str, name: &str, arguments: Value) -> Value {
    let result = tool(server, key, name, arguments);
    assert_eq!(result["isError"], false, "{name}: {result}");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap_or("null"))
        .expect("the text block is the same JSON");
    assert_eq!(
        text, result["structuredContent"],
        "{name}: text and structure agree"
    );
    result["structuredContent"].clone()
}

/// A Markdown plan the agent publishes; its share token.
fn published_plan(a: &Agent) -> Result<String, String> {
    let published = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Plan", "fileName": "plan.md", "content": "# Plan\n\nShip it."}),
    );
    Ok(published["shareToken"].as_str().ok_or("token")?.to_string())
}

/// The feedback on the artifact `token` after the cursor `after`, waited for up to 30 s.
fn waited(a: &Agent, token: &str, after: &Value) -> Value {
    ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"shareToken": token, "after": after, "timeoutSeconds": 30}),
    )
}

/// Calls a tool that must refuse; returns its `{error, code}`.
fn refused(server: &Server, key: &str, name: &str, arguments: Value) -> Value {
    let result = tool(server, key, name, arguments);
    assert_eq!(result["isError"], true, "{name}: {result}");
    assert!(result.get("structuredContent").is_none());
    serde_json::from_str(result["content"][0]["text"].as_str().unwrap_or("null"))
        .expect("the error as JSON")
}

#[test]
fn both_generations_serve_the_same_tools() -> TestResult {
    let a = agent();
    let init = post(
        &a.server,
        &a.key,
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        &[],
    );
    assert_eq!(init.status, 200, "{}", init.text());
    assert!(
        init.header("mcp-session-id").is_none(),
        "stateless: no session"
    );
    let result = &init.json()["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": false}})
    );
    assert_eq!(result["serverInfo"]["name"], "artifact-review");
    assert!(result["instructions"]
        .as_str()
        .unwrap_or_default()
        .contains("wait_for_feedback"));
    let old = post(
        &a.server,
        &a.key,
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        &[],
    );
    assert_eq!(
        old.json()["result"]["protocolVersion"],
        "2025-11-25",
        "offers its newest"
    );
    // A handshake without what it requires is refused, saying what is missing.
    for (params, missing) in [
        (json!({}), "protocolVersion, capabilities, clientInfo"),
        (
            json!({"protocolVersion": "2025-06-18", "capabilities": {}}),
            "clientInfo",
        ),
        (
            json!({"protocolVersion": "2025-06-18", "capabilities": [], "clientInfo": {"name": "t"}}),
            "capabilities, clientInfo",
        ),
    ] {
        let refused = post(
            &a.server,
            &a.key,
            &json!({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": params}),
            &[],
        );
        let body = refused.json();
        assert_eq!(body["id"], 9);
        assert_eq!(body["error"]["code"], -32602, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with(&format!("missing or wrong: {missing}"))),
            "{body}"
        );
    }
    let initialized = post(
        &a.server,
        &a.key,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[("MCP-Protocol-Version", "2025-06-18")],
    );
    assert_eq!(initialized.status, 202);
    assert!(initialized.body.is_empty());
    assert_eq!(
        legacy(&a.server, &a.key, "ping", json!({})).json()["result"],
        json!({})
    );

    let listed = legacy(&a.server, &a.key, "tools/list", json!({})).json();
    let tools = listed["result"]["tools"].as_array().ok_or("tools")?;
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "whoami",
            "list_artifacts",
            "get_artifact",
            "read_file",
            "publish_artifact",
            "publish_version",
            "add_reviewer",
            "list_comments",
            "get_comment",
            "add_comment",
            "reply",
            "resolve",
            "reopen",
            "wait_for_feedback"
        ]
    );
    for t in tools {
        let read_only = t["annotations"]["readOnlyHint"] == true;
        let name = t["name"].as_str().unwrap_or_default();
        let should = matches!(
            name,
            "whoami"
                | "list_artifacts"
                | "get_artifact"
                | "read_file"
                | "list_comments"
                | "get_comment"
                | "wait_for_feedback"
        );
        assert_eq!(read_only, should, "{name}'s readOnlyHint is the truth");
        assert_eq!(t["annotations"]["destructiveHint"], false, "{name}");
    }

    let discovered = modern(&a.server, &a.key, "server/discover", json!({}));
    assert_eq!(discovered.status, 200, "{}", discovered.text());
    let d = &discovered.json()["result"];
    assert_eq!(d["resultType"], "complete");
    assert_eq!(d["supportedVersions"][0], "2026-07-28");
    assert_eq!(
        d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "artifact-review"
    );
    assert!(d["ttlMs"].as_u64().is_some());
    let listed = modern(&a.server, &a.key, "tools/list", json!({})).json();
    assert_eq!(listed["result"]["resultType"], "complete");
    assert_eq!(listed["result"]["cacheScope"], "private");
    assert_eq!(listed["result"]["tools"].as_array().map(Vec::len), Some(14));
    let who = modern(
        &a.server,
        &a.key,
        "tools/call",
        json!({"name": "whoami", "arguments": {}}),
    );
    let who = who.json();
    assert_eq!(who["id"], "m-1");
    assert_eq!(who["result"]["resultType"], "complete");
    assert_eq!(
        who["result"]["structuredContent"]["identity"],
        json!({"kind": "agent", "id": who["result"]["structuredContent"]["identity"]["id"], "name": "Claude", "role": "coding"})
    );
    // What the stateless generation requires, refused with its own codes and statuses.
    let gone = modern(&a.server, &a.key, "ping", json!({}));
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"]["code"], -32601);
    let mut body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "whoami",
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let mismatch = post(
        &a.server,
        &a.key,
        &body,
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "list_artifacts"),
        ],
    );
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.json()["error"]["code"], -32020);
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2031-01-01");
    let unsupported = post(
        &a.server,
        &a.key,
        &body,
        &[("MCP-Protocol-Version", "2031-01-01")],
    );
    assert_eq!(unsupported.status, 400);
    let e = unsupported.json()["error"].clone();
    assert_eq!(e["code"], -32022);
    assert_eq!(e["data"]["requested"], "2031-01-01");
    assert_eq!(a.server.get("/mcp", &Auth::Key(a.key.clone())).status, 405);
    // A call without a tool's name says what is missing; an unknown long name is not echoed whole.
    let nameless = legacy(&a.server, &a.key, "tools/call", json!({"arguments": {}}));
    let message = nameless.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("tools/call needs params.name"),
        "{message}"
    );
    let long = legacy(
        &a.server,
        &a.key,
        "tools/call",
        json!({"name": "x".repeat(100_000), "arguments": {}}),
    );
    let message = long.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.starts_with("Unknown tool:") && message.len() < 300,
        "{} bytes",
        message.len()
    );
    // A method of the other generation is named as such, not listed as answered.
    let init = modern(&a.server, &a.key, "initialize", json!({}));
    assert_eq!(init.status, 404);
    let message = init.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("belongs to the 2025 protocol versions")
            && !message.contains("answers initialize"),
        "{message}"
    );
    Ok(())
}

#[test]
fn the_whole_loop_through_mcp_shows_everything_the_agent_did_as_the_agent() -> TestResult {
    let a = agent();
    let created = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Launch plan", "fileName": "plan.html",
               "content": "<h1>Launch plan</h1><p>We launch in March.</p><p>Support is staffed around the clock.</p>"}),
    );
    let share = created["shareToken"]
        .as_str()
        .ok_or("share token")?
        .to_string();
    assert!(created["shareUrl"]
        .as_str()
        .unwrap_or_default()
        .ends_with(&format!("/a/{share}")));

    // The agent waits; a person comments on a passage meanwhile.
    let url = a.server.url("/mcp");
    let key = a.key.clone();
    let waiting = std::thread::spawn(move || {
        let started = Instant::now();
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "wait_for_feedback", "arguments": {"shareToken": share, "timeoutSeconds": 30}}});
        let answer: Value = ureq::post(&url)
            .header("X-API-Key", &key)
            .header("MCP-Protocol-Version", "2025-11-25")
            .send_json(&body)
            .expect("the wait answers")
            .body_mut()
            .read_json()
            .expect("JSON");
        (answer, started.elapsed())
    });
    let share = created["shareToken"]
        .as_str()
        .ok_or("share token")?
        .to_string();
    // Let the wait start listening before the comment (it would find the comment either way).
    std::thread::sleep(Duration::from_millis(300));
    let commented_at = Instant::now();
    let person = a.server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &Auth::Cookie(a.ada.clone()),
        &json!({"content": "Which day in March?", "quote": "We launch in March."}),
    );
    assert_eq!(person.status, 201, "{}", person.text());
    let comment_id = person.json()["id"].as_str().ok_or("id")?.to_string();
    let (answer, _) = waiting.join().map_err(|_| "the waiting thread panicked")?;
    eprintln!(
        "wait_for_feedback returned {} ms after the person's comment was acknowledged",
        commented_at.elapsed().as_millis()
    );
    let found = &answer["result"]["structuredContent"];
    assert_eq!(found["timedOut"], false, "{answer}");
    let item = &found["feedback"][0];
    assert_eq!(item["kind"], "comment");
    assert_eq!(item["shareToken"], share);
    assert_eq!(item["comment"]["id"], comment_id);
    assert_eq!(item["comment"]["content"], "Which day in March?");
    assert_eq!(item["comment"]["author"]["kind"], "user");
    assert_eq!(
        item["comment"]["target"]["selector"][0]["exact"],
        "We launch in March."
    );

    let thread = ok(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": comment_id, "content": "The 12th; I will say so."}),
    );
    assert_eq!(thread["replies"][0]["author"]["name"], "Claude");
    assert_eq!(
        thread["replyId"], thread["replies"][0]["id"],
        "the answer names the reply made"
    );
    let resolved = ok(
        &a.server,
        &a.key,
        "resolve",
        json!({"commentId": comment_id, "note": "Fixed in v2: 'We launch on 12 March.'"}),
    );
    assert_eq!(resolved["resolved"], true);
    assert_eq!(resolved["resolvedBy"]["kind"], "agent");
    assert_eq!(resolved["replies"].as_array().map(Vec::len), Some(2));
    // A retried call (the tool is idempotent) changes nothing and does not post its note again.
    let retried = ok(
        &a.server,
        &a.key,
        "resolve",
        json!({"commentId": comment_id, "note": "Fixed in v2: 'We launch on 12 March.'"}),
    );
    assert_eq!(retried["resolvedAt"], resolved["resolvedAt"]);
    assert_eq!(retried["replies"].as_array().map(Vec::len), Some(2));
    assert!(
        retried["notice"]
            .as_str()
            .is_some_and(|n| n.contains("the note was not posted")),
        "{retried}"
    );
    assert!(resolved.get("notice").is_none(), "{resolved}");
    // A note over its limit, or blank, is refused as the note (the tool has no content).
    for (note, code) in [
        ("n".repeat(5001), "too_long"),
        ("   ".to_string(), "required"),
    ] {
        let bad = refused(
            &a.server,
            &a.key,
            "resolve",
            json!({"commentId": comment_id, "note": note}),
        );
        assert_eq!(bad["code"], code, "{bad}");
        assert_eq!(bad["field"], "note", "{bad}");
        assert!(
            bad["error"]
                .as_str()
                .is_some_and(|m| m.starts_with("note ")),
            "{bad}"
        );
    }
    let published = ok(
        &a.server,
        &a.key,
        "publish_version",
        json!({"shareToken": share, "fileName": "plan.html", "name": "launch date",
               "content": "<h1>Launch plan</h1><p>We launch on 12 March.</p>"}),
    );
    assert_eq!(published["number"], 2);
    // Nothing open any more; what the agent did is the agent's.
    let open = ok(
        &a.server,
        &a.key,
        "list_comments",
        json!({"shareToken": share}),
    );
    assert_eq!(open["comments"], json!([]));
    let all = a
        .server
        .get(
            &format!("/api/v1/artifacts/{share}/comments?version=all"),
            &Auth::Cookie(a.ada.clone()),
        )
        .json();
    let c = &all["comments"][0];
    assert_eq!(c["resolvedBy"]["name"], "Claude");
    for reply in c["replies"].as_array().ok_or("replies")? {
        assert_eq!(reply["author"]["kind"], "agent");
    }
    let versions = a
        .server
        .get(
            &format!("/api/v1/artifacts/{share}/versions"),
            &Auth::Cookie(a.ada.clone()),
        )
        .json();
    for v in versions["versions"].as_array().ok_or("versions")? {
        assert_eq!(v["createdBy"]["name"], "Claude", "{v}");
    }
    Ok(())
}

#[test]
fn every_tool_does_what_it_says() -> TestResult {
    let a = agent();
    let created = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Notes", "fileName": "notes.md",
               "content": "# Notes\n\nAsia: total 4%. Then Europe: total 4%.\n"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let listed = ok(
        &a.server,
        &a.key,
        "list_artifacts",
        json!({"q": "not", "limit": 5}),
    );
    assert_eq!(listed["artifacts"][0]["shareToken"], share);
    let got = ok(
        &a.server,
        &a.key,
        "get_artifact",
        json!({"shareToken": share}),
    );
    assert_eq!(got["version"], 1);
    assert_eq!(got["entryPoint"], "notes.md");
    assert_eq!(got["files"][0]["path"], "notes.md");
    assert_eq!(got["versions"][0]["createdBy"]["kind"], "agent");
    let text = ok(
        &a.server,
        &a.key,
        "read_file",
        json!({"shareToken": share, "maxChars": 7}),
    );
    assert_eq!(text["text"], "# Notes");
    assert_eq!(text["truncated"], true);
    assert_eq!(text["nextOffset"], 7);
    let rest = ok(
        &a.server,
        &a.key,
        "read_file",
        json!({"shareToken": share, "offset": 7}),
    );
    assert_eq!(rest["truncated"], false);
    assert_eq!(rest["nextOffset"], Value::Null);
    // A version as listings say it ("v1"), as text or as a number, names the same version.
    for version in [json!("v1"), json!("1"), json!(1)] {
        let got = ok(
            &a.server,
            &a.key,
            "get_artifact",
            json!({"shareToken": share, "version": version}),
        );
        assert_eq!(got["version"], 1, "{version}");
        let text = ok(
            &a.server,
            &a.key,
            "read_file",
            json!({"shareToken": share, "version": version, "maxChars": 7}),
        );
        assert_eq!(text["text"], "# Notes", "{version}");
    }
    let wrong = refused(
        &a.server,
        &a.key,
        "get_artifact",
        json!({"shareToken": share, "version": "v0"}),
    );
    assert_eq!(wrong["code"], "invalid_version", "{wrong}");

    let repeated = refused(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": share, "content": "x", "quote": "total 4%"}),
    );
    assert_eq!(repeated["code"], "quote_not_placed");
    let placed = ok(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": share, "content": "Source?", "quote": "total 4%", "near": "Europe"}),
    );
    assert_eq!(placed["author"]["name"], "Claude");
    assert!(placed["target"]["selector"][0]["prefix"]
        .as_str()
        .unwrap_or_default()
        .ends_with("Europe: "));
    let whole = ok(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": share, "content": "Add a summary"}),
    );
    assert_eq!(whole["target"], json!({"source": "notes.md"}));
    // Text that a page's own scripts write is not in the file: scripted keeps the quote as given.
    let app = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "App", "fileName": "app.html",
               "content": "<p id=t></p><script>document.getElementById('t').textContent = 'Ready to ship';</script>"}),
    );
    let app_share = app["shareToken"].as_str().ok_or("token")?.to_string();
    let unseen = refused(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": app_share, "content": "Really?", "quote": "Ready to ship"}),
    );
    assert_eq!(unseen["code"], "quote_not_placed");
    let kept = ok(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": app_share, "content": "Really?", "quote": "Ready to ship", "scripted": true}),
    );
    assert_eq!(
        kept["target"],
        json!({"source": "app.html", "selector": [{"type": "TextQuoteSelector", "exact": "Ready to ship"}]})
    );
    let without_quote = refused(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": app_share, "content": "x", "scripted": true}),
    );
    assert_eq!(without_quote["code"], "invalid_arguments");
    let comments = ok(
        &a.server,
        &a.key,
        "list_comments",
        json!({"shareToken": share, "limit": 1}),
    );
    assert_eq!(comments["comments"].as_array().map(Vec::len), Some(1));
    let next = comments["nextCursor"].as_str().ok_or("a second page")?;
    let page2 = ok(
        &a.server,
        &a.key,
        "list_comments",
        json!({"shareToken": share, "limit": 1, "cursor": next}),
    );
    assert_eq!(page2["comments"][0]["id"], whole["id"]);
    // A file the artifact never had is said to be unknown, not answered with an empty list.
    let nowhere = refused(
        &a.server,
        &a.key,
        "list_comments",
        json!({"shareToken": share, "source": "nope.html"}),
    );
    assert_eq!(nowhere["code"], "unknown_source", "{nowhere}");
    assert_eq!(nowhere["field"], "source");
    let id = placed["id"].as_str().ok_or("id")?;
    ok(&a.server, &a.key, "resolve", json!({"commentId": id}));
    let again = ok(&a.server, &a.key, "resolve", json!({"commentId": id}));
    assert_eq!(again["resolved"], true, "idempotent");
    let reopened = ok(&a.server, &a.key, "reopen", json!({"commentId": id}));
    assert_eq!(reopened["resolved"], false);
    let resolved_only = ok(
        &a.server,
        &a.key,
        "list_comments",
        json!({"shareToken": share, "status": "resolved"}),
    );
    assert_eq!(resolved_only["comments"], json!([]));

    // A binary file is described, not returned.
    let zip = common::zips::zip_of(&[
        ("index.html", b"<p>Hi</p>".as_slice()),
        ("logo.png", b"\x89PNG\r\n\x1a\n....".as_slice()),
        (
            "sjis.html",
            b"<html><head><meta charset=\"Shift_JIS\"></head><p>\x93\xfa\x96\x7b\x82\xcc\x8e\xf1\x93\x73</p>".as_slice(),
        ),
    ])?;
    let site = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Site", "fileName": "site.zip", "content": b64(&zip)}),
    );
    let image = ok(
        &a.server,
        &a.key,
        "read_file",
        json!({"shareToken": site["shareToken"], "path": "logo.png"}),
    );
    assert_eq!(image["binary"], true);
    assert_eq!(image["text"], Value::Null);
    assert!(image["note"]
        .as_str()
        .unwrap_or_default()
        .contains("not text"));
    // A page in an older encoding is text, read as the browser reads it, and says which.
    let sjis = ok(
        &a.server,
        &a.key,
        "read_file",
        json!({"shareToken": site["shareToken"], "path": "sjis.html"}),
    );
    assert_eq!(sjis["binary"], false);
    assert_eq!(sjis["encoding"], "Shift_JIS");
    assert!(
        sjis["text"]
            .as_str()
            .unwrap_or_default()
            .contains("日本の首都"),
        "{sjis}"
    );

    // Waiting with nothing new times out with a cursor; the agent's own comments never wake it.
    let waited = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"shareToken": share, "timeoutSeconds": 1}),
    );
    assert_eq!(waited["timedOut"], true);
    assert!(waited["cursor"]
        .as_str()
        .is_some_and(|c| c.parse::<i64>().is_ok()));
    // From a cursor before the person's own activity: a person's comment is found at once.
    let person = a.server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &Auth::Cookie(a.ada.clone()),
        &json!({"content": "Looks good", "target": {"source": "notes.md"}}),
    );
    assert_eq!(person.status, 201);
    let found = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"after": waited["cursor"], "timeoutSeconds": 5}),
    );
    assert_eq!(found["timedOut"], false);
    let kinds: Vec<&str> = found["feedback"]
        .as_array()
        .ok_or("feedback")?
        .iter()
        .map(|f| f["comment"]["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["Looks good"], "not the agent's own comments");
    Ok(())
}

#[test]
fn hostile_requests_get_clear_errors_store_nothing_and_panic_nothing() -> TestResult {
    let a = agent();
    let created = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Private", "fileName": "p.html", "content": "<p>Secret plan</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let eve_cookie = a
        .server
        .add_user("eve@example.com", "Eve", "eve password 1");
    let (_, eve_key) = a.server.create_key(&eve_cookie, json!({"name": "eve"}));
    ok(&a.server, &eve_key, "whoami", json!({}));
    let db = a.server.open_db();
    let before = db_snapshot(&db);

    let whoami =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}});
    // Credentials: no key, a wrong key, a browser session: the API's 401, never an OAuth challenge,
    // its refusal carried in a JSON-RPC error (SDKs that read only those show why).
    for auth in [
        Auth::None,
        Auth::Key("ar_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
        Auth::Cookie(a.ada.clone()),
    ] {
        let resp = a.server.request(
            "POST",
            "/mcp",
            &auth,
            Some(whoami.to_string().as_bytes()),
            &[],
        );
        assert_eq!(resp.status, 401, "{auth:?}");
        let answer = resp.json();
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["error"]["code"], -32000, "{answer}");
        let refusal = &answer["error"]["data"];
        assert!(refusal["code"].as_str().is_some(), "{answer}");
        assert!(refusal["hint"].as_str().is_some(), "{answer}");
        assert_eq!(answer["error"]["message"], refusal["error"], "{answer}");
        let challenge = resp.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("ApiKey"), "{challenge}");
        assert!(!challenge.contains("resource_metadata"));
    }
    // Another account's key cannot see the artifact: the same 404 as REST, as a tool error.
    for (name, args) in [
        ("get_artifact", json!({"shareToken": share})),
        ("read_file", json!({"shareToken": share})),
        ("list_comments", json!({"shareToken": share})),
        (
            "add_comment",
            json!({"shareToken": share, "content": "x", "quote": "Secret"}),
        ),
        (
            "publish_version",
            json!({"shareToken": share, "fileName": "p.html", "content": "<p>x</p>"}),
        ),
        (
            "wait_for_feedback",
            json!({"shareToken": share, "timeoutSeconds": 1}),
        ),
    ] {
        let e = refused(&a.server, &eve_key, name, args);
        assert_eq!(e["code"], "not_found", "{name}: {e}");
    }
    // Bad arguments: tool errors that say what to change.
    for (name, args, says) in [
        ("whoami", json!({"extra": 1}), "unknown field `extra`"),
        (
            "publish_artifact",
            json!({"name": 5, "content": "x"}),
            "name",
        ),
        (
            "add_comment",
            json!({"shareToken": share, "content": "x".repeat(10_001)}),
            "10000",
        ),
        (
            "read_file",
            json!({"shareToken": share, "maxChars": 0}),
            "maxChars",
        ),
        (
            "wait_for_feedback",
            json!({"timeoutSeconds": 121}),
            "timeoutSeconds",
        ),
        (
            "add_comment",
            json!({"shareToken": share, "content": "x", "near": "y"}),
            "near",
        ),
    ] {
        let e = refused(&a.server, &a.key, name, args);
        assert!(
            e["error"].as_str().unwrap_or_default().contains(says),
            "{name}: {e}"
        );
    }
    // Protocol errors.
    let raw = |body: &[u8], headers: &[(&str, &str)]| {
        a.server.request(
            "POST",
            "/mcp",
            &Auth::Key(a.key.clone()),
            Some(body),
            headers,
        )
    };
    for (body, status, code) in [
        (&b"{not json"[..], 400, -32700),
        (br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, 400, -32600),
        (br#"{"jsonrpc":"2.0","id":1}"#, 400, -32600),
        (br#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#, 400, -32600),
        (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop_everything"}}"#, 200, -32602),
        (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":[1]}}"#, 200, -32602),
        (br#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#, 200, -32601),
    ] {
        let resp = raw(body, &[]);
        assert_eq!(resp.status, status, "{}", String::from_utf8_lossy(body));
        assert_eq!(resp.json()["error"]["code"], code, "{}", resp.text());
    }
    // A refused request whose id can be read is answered with that id (null only otherwise).
    let resp = raw(br#"{"jsonrpc":"1.0","id":5,"method":"tools/list"}"#, &[]);
    assert_eq!(resp.json()["error"]["code"], -32600);
    assert_eq!(resp.json()["id"], 5, "{}", resp.text());
    let resp = raw(br#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#, &[]);
    assert_eq!(resp.json()["id"], Value::Null, "{}", resp.text());
    let foreign = raw(
        whoami.to_string().as_bytes(),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(foreign.status, 403);
    let answer = foreign.json();
    assert!(
        answer.get("id").is_some_and(Value::is_null),
        "JSON-RPC's null id: {answer}"
    );
    assert!(foreign.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Origin"));
    let artifact_page = raw(whoami.to_string().as_bytes(), &[("Origin", "null")]);
    assert_eq!(
        artifact_page.status, 403,
        "a sandboxed artifact cannot drive it"
    );
    let own = raw(
        whoami.to_string().as_bytes(),
        &[("Origin", &a.server.url(""))],
    );
    assert_eq!(own.status, 200);
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"publish_artifact\",\"arguments\":{{\"name\":\"x\",\"content\":\"{}\"}}}}}}",
        "a".repeat(73 * 1024 * 1024)
    );
    let too_big = raw(huge.as_bytes(), &[]);
    assert_eq!(too_big.status, 413);
    assert_eq!(
        too_big.json()["error"]["data"]["code"],
        "payload_too_large",
        "{}",
        too_big.text()
    );
    let oversized_page = refused(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Big", "fileName": "big.html", "content": "a".repeat(5 * 1024 * 1024 + 1)}),
    );
    assert!(
        oversized_page["error"]
            .as_str()
            .unwrap_or_default()
            .contains("5242880"),
        "{oversized_page}"
    );

    let after = db_snapshot(&db);
    assert_eq!(snapshot_diff(&before, &after), None, "nothing was stored");

    // A key revoked between two calls is refused on the next one.
    ok(&a.server, &a.key, "whoami", json!({}));
    let revoked = a.server.delete(
        &format!("/api/v1/keys/{}", a.key_id),
        &Auth::Cookie(a.ada.clone()),
    );
    assert_eq!(revoked.status, 200);
    let next = post(&a.server, &a.key, &whoami, &[]);
    assert_eq!(next.status, 401);
    assert_eq!(next.json()["error"]["data"]["code"], "revoked_key");
    assert_eq!(alarming_log_lines(&a.server.log()), Vec::<String>::new());
    Ok(())
}

#[test]
fn a_wait_ends_when_its_key_is_revoked_and_a_wait_on_everything_hears_any_artifact() -> TestResult {
    let a = agent();
    let first = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "One", "fileName": "one.md", "content": "# One\n\nFirst."}),
    );
    let second = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Two", "fileName": "two.md", "content": "# Two\n\nSecond."}),
    );
    let second_token = second["shareToken"].as_str().ok_or("token")?.to_string();
    let start = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"timeoutSeconds": 1}),
    );
    assert_eq!(start["timedOut"], true);
    let cursor = start["cursor"].as_str().ok_or("cursor")?.to_string();

    // A wait on every artifact, from the cursor: a comment on the second one wakes it.
    let person = a.server.post(
        &format!("/api/v1/artifacts/{second_token}/comments"),
        &Auth::Cookie(a.ada.clone()),
        &json!({"content": "Say more", "quote": "Second."}),
    );
    assert_eq!(person.status, 201, "{}", person.text());
    let any = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"after": cursor, "timeoutSeconds": 30}),
    );
    assert_eq!(any["timedOut"], false);
    assert_eq!(any["feedback"][0]["shareToken"], second_token);
    assert_eq!(any["feedback"][0]["artifactName"], "Two");
    // Its own reply is not feedback to itself.
    let comment_id = any["feedback"][0]["comment"]["id"].as_str().ok_or("id")?;
    ok(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": comment_id, "content": "Will do"}),
    );
    let quiet = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"after": any["cursor"], "timeoutSeconds": 1}),
    );
    assert_eq!(quiet["timedOut"], true, "{quiet}");

    // A long wait on the first artifact; the key is revoked meanwhile: the wait ends with that.
    let first_token = first["shareToken"].as_str().ok_or("token")?.to_string();
    let waiting = waiting(
        &a.server,
        &a.key,
        json!({"shareToken": first_token, "timeoutSeconds": 120}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let revoked = a.server.delete(
        &format!("/api/v1/keys/{}", a.key_id),
        &Auth::Cookie(a.ada.clone()),
    );
    assert_eq!(revoked.status, 200);
    let answer = waiting.join().map_err(|_| "the waiting thread panicked")?;
    assert_eq!(refusal_of(&answer)?["code"], "revoked_key", "{answer}");
    Ok(())
}

#[test]
fn a_wait_on_an_artifact_ends_when_the_caller_can_no_longer_see_it() -> TestResult {
    let a = agent();
    let token = published_plan(&a)?;
    let ada = Auth::Cookie(a.ada.clone());
    // Bob reviews Ada's plan, and his key waits on it.
    let bob = a
        .server
        .add_user("bob@example.com", "Bob", "bob password 1");
    let grant = a.server.post(
        &format!("/api/v1/artifacts/{token}/access"),
        &ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(grant.status, 201, "{}", grant.text());
    let grant_id = grant.json()["id"].as_str().ok_or("grant id")?.to_string();
    let (_, bobs_key) = a.server.create_key(&bob, json!({"name": "bob's agent"}));
    let bobs_wait = waiting(
        &a.server,
        &bobs_key,
        json!({"shareToken": token, "timeoutSeconds": 120}),
    );
    std::thread::sleep(Duration::from_millis(300));
    // Ada removes his access: the wait ends with that, as his event stream would.
    let removed = a.server.delete(
        &format!("/api/v1/artifacts/{token}/access/{grant_id}"),
        &ada,
    );
    assert_eq!(removed.status, 200);
    let answer = bobs_wait
        .join()
        .map_err(|_| "the waiting thread panicked")?;
    assert_eq!(refusal_of(&answer)?["code"], "access_removed", "{answer}");
    // And a new wait on it is refused from the start.
    let again = refused(
        &a.server,
        &bobs_key,
        "wait_for_feedback",
        json!({"shareToken": token, "timeoutSeconds": 1}),
    );
    assert_eq!(again["code"], "not_found", "{again}");
    // A wait on an artifact its owner deletes ends saying so, as the event stream does.
    let doomed = published_plan(&a)?;
    let owners_wait = waiting(
        &a.server,
        &a.key,
        json!({"shareToken": doomed, "timeoutSeconds": 120}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let deleted = a
        .server
        .delete(&format!("/api/v1/artifacts/{doomed}"), &ada);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let answer = owners_wait
        .join()
        .map_err(|_| "the waiting thread panicked")?;
    assert_eq!(refusal_of(&answer)?["code"], "artifact_deleted", "{answer}");
    Ok(())
}

#[test]
fn a_wait_gives_one_item_per_thread_with_its_new_replies_and_hears_reopening_and_edits(
) -> TestResult {
    let a = agent();
    let token = published_plan(&a)?;
    let ada = Auth::Cookie(a.ada.clone());
    let start = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"timeoutSeconds": 1}),
    );
    // A person comments and replies 15 times: one thread, not 16 copies of it.
    let made = a.server.post(
        &format!("/api/v1/artifacts/{token}/comments"),
        &ada,
        &json!({"content": "Ship when?", "quote": "Ship it."}),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let comment_id = made.json()["id"].as_str().ok_or("id")?.to_string();
    let reply = |text: String| -> Result<String, String> {
        let r = a.server.post(
            &format!("/api/v1/comments/{comment_id}/replies"),
            &ada,
            &json!({ "content": text }),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        Ok(r.json()["id"].as_str().ok_or("reply id")?.to_string())
    };
    let mut first = Vec::new();
    for i in 0..15 {
        first.push(reply(format!("More thoughts, part {i}"))?);
    }
    let got = waited(&a, &token, &start["cursor"]);
    let items = got["feedback"].as_array().ok_or("feedback")?;
    assert_eq!(items.len(), 1, "{got}");
    assert_eq!(items[0]["kind"], "comment");
    assert_eq!(items[0]["newReplyIds"], json!(first));
    assert_eq!(items[0]["replyId"], json!(first[0]));
    // Every new reply named; the newest ten shown (get_comment reads the others).
    assert_eq!(items[0]["earlierRepliesOmitted"], 5);
    assert_eq!(
        items[0]["comment"]["replies"].as_array().map(Vec::len),
        Some(10)
    );

    // The agent resolves it; the person reopens it and edits the comment: heard, as "reopened".
    ok(
        &a.server,
        &a.key,
        "resolve",
        json!({"commentId": comment_id}),
    );
    for change in [
        json!({"resolved": false}),
        json!({"content": "Ship when, exactly?"}),
    ] {
        let r = a
            .server
            .patch(&format!("/api/v1/comments/{comment_id}"), &ada, &change);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let got = waited(&a, &token, &got["cursor"]);
    assert_eq!(got["feedback"].as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got["feedback"][0]["kind"], "reopened");
    assert_eq!(
        got["feedback"][0]["comment"]["content"],
        "Ship when, exactly?"
    );
    assert_eq!(got["feedback"][0]["newReplyIds"], json!([]));

    // 12 more replies to a long thread: the newest ten of them, not every earlier one; every new
    // one named.
    let mut later = Vec::new();
    for i in 0..12 {
        later.push(reply(format!("Later, part {i}"))?);
    }
    let got = waited(&a, &token, &got["cursor"]);
    let item = &got["feedback"][0];
    assert_eq!(item["kind"], "reply");
    assert_eq!(item["newReplyIds"], json!(later));
    let shown: Vec<&str> = item["comment"]["replies"]
        .as_array()
        .ok_or("replies")?
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        shown,
        later[2..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(item["earlierRepliesOmitted"], 17, "{item}");
    assert_eq!(item["editedReplyIds"], json!([]));

    // The person edits their oldest reply, long out of the newest ten: the item shows it and
    // names it, so the agent sees what changed.
    let oldest = &first[0];
    let r = a.server.patch(
        &format!("/api/v1/replies/{oldest}"),
        &ada,
        &json!({"content": "More thoughts, part 0 (corrected)"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = waited(&a, &token, &got["cursor"]);
    let item = &got["feedback"][0];
    assert_eq!(item["kind"], "edited", "{got}");
    assert_eq!(item["editedReplyIds"], json!([oldest]));
    assert_eq!(item["newReplyIds"], json!([]));
    let replies = item["comment"]["replies"].as_array().ok_or("replies")?;
    assert_eq!(replies[0]["id"], json!(oldest), "{item}");
    assert_eq!(replies[0]["content"], "More thoughts, part 0 (corrected)");
    assert_eq!(replies.len(), 11, "the newest ten and the edited one");
    assert_eq!(item["earlierRepliesOmitted"], 16);

    // Ids are strings; the number one looks like is taken as well.
    let numeric: u64 = comment_id.parse()?;
    let replied = ok(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": numeric, "content": "Noted."}),
    );
    assert_eq!(replied["id"], json!(comment_id));
    let refused = refused(&a.server, &a.key, "reopen", json!({"commentId": true}));
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("a string such as")),
        "{refused}"
    );
    Ok(())
}

#[test]
fn an_agent_adds_the_reviewers_who_may_open_the_share_url() -> TestResult {
    let a = agent();
    let token = published_plan(&a)?;
    let bob_cookie = a
        .server
        .add_user("bob@example.com", "Bob", "bob password 12");
    let (_, bob_key) = a.server.create_key(&bob_cookie, json!({"name": "bob"}));
    let bob = Auth::Key(bob_key.clone());
    let artifact = format!("/api/v1/artifacts/{token}");
    assert_eq!(a.server.get(&artifact, &bob).status, 404, "not his yet");

    let added = ok(
        &a.server,
        &a.key,
        "add_reviewer",
        json!({"shareToken": token, "email": "Bob@Example.com"}),
    );
    assert_eq!(added["email"], "bob@example.com");
    assert_eq!(added["name"], "Bob");
    assert_eq!(added["status"], "added");
    assert_eq!(
        a.server.get(&artifact, &bob).status,
        200,
        "he may review it now"
    );
    let again = refused(
        &a.server,
        &a.key,
        "add_reviewer",
        json!({"shareToken": token, "email": "bob@example.com"}),
    );
    assert_eq!(again["code"], "already_granted");
    let pending = ok(
        &a.server,
        &a.key,
        "add_reviewer",
        json!({"shareToken": token, "email": "carol@example.com"}),
    );
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["name"], Value::Null);
    // Shown to the owner as any grant, made by the agent.
    let access = a
        .server
        .get(&format!("{artifact}/access"), &Auth::Cookie(a.ada.clone()))
        .json();
    let emails: Vec<&str> = access["access"]
        .as_array()
        .ok_or("access")?
        .iter()
        .filter_map(|g| g["email"].as_str())
        .collect();
    assert_eq!(emails, ["bob@example.com", "carol@example.com"]);
    // Only the owner adds reviewers (a reviewer cannot), and with the editor scope.
    let refusal = refused(
        &a.server,
        &bob_key,
        "add_reviewer",
        json!({"shareToken": token, "email": "eve@example.com"}),
    );
    assert_eq!(refusal["code"], "owner_only", "{refusal}");
    let (_, commenter) = a.server.create_key(
        &a.ada,
        json!({"name": "commenter", "scopes": ["commenter"]}),
    );
    let listed = legacy(&a.server, &commenter, "tools/list", json!({})).json();
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .ok_or("tools")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(!names.contains(&"add_reviewer"), "{names:?}");
    Ok(())
}

#[test]
fn a_thread_of_the_longest_comment_and_replies_still_fits_one_result() -> TestResult {
    let a = agent();
    let token = published_plan(&a)?;
    let ada = Auth::Cookie(a.ada.clone());
    let start = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"timeoutSeconds": 1}),
    );
    // Quotes and line breaks take two characters each in JSON.
    let made = a.server.post(
        &format!("/api/v1/artifacts/{token}/comments"),
        &ada,
        &json!({"content": "\"\n".repeat(5_000), "target": {"source": "plan.md"}}),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().ok_or("id")?.to_string();
    let mut replies = Vec::new();
    for _ in 0..12 {
        let r = a.server.post(
            &format!("/api/v1/comments/{id}/replies"),
            &ada,
            &json!({"content": "\"\n".repeat(2_500)}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        replies.push(r.json()["id"].as_str().ok_or("reply id")?.to_string());
    }
    let listed = ok(
        &a.server,
        &a.key,
        "list_comments",
        json!({"shareToken": token}),
    );
    let thread = &listed["comments"][0];
    let shown = thread["replies"].as_array().ok_or("replies")?.len();
    assert!(
        listed.to_string().len() <= 41_000,
        "{} characters",
        listed.to_string().len()
    );
    assert!(shown < 10, "fewer replies when they are long: {shown}");
    assert_eq!(thread["earlierRepliesOmitted"], json!(12 - shown));
    // The newest are the ones shown.
    assert_eq!(
        thread["replies"][shown - 1]["id"],
        json!(replies.last().ok_or("a reply")?)
    );
    let got = waited(&a, &token, &start["cursor"]);
    let item = &got["feedback"][0];
    assert!(
        item.to_string().len() <= 41_000,
        "{} characters",
        item.to_string().len()
    );
    assert_eq!(item["newReplyIds"], json!(replies), "every new reply named");
    Ok(())
}

#[test]
fn list_comments_says_where_each_comment_stands_in_the_latest_version() -> TestResult {
    let a = agent();
    let v1 = "<h1>Plan</h1><p>Alpha text here.</p><p>Beta text here.</p>";
    let v2 = "<h1>Plan</h1><p>Alpha was rewritten.</p><p>Beta text here.</p>";
    let published = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Plan", "fileName": "plan.html", "content": v1}),
    );
    let token = published["shareToken"].as_str().ok_or("token")?.to_string();
    let ada = Auth::Cookie(a.ada.clone());
    let comment = |body: Value| -> Result<String, String> {
        let made = a
            .server
            .post(&format!("/api/v1/artifacts/{token}/comments"), &ada, &body);
        assert_eq!(made.status, 201, "{}", made.text());
        Ok(made.json()["id"].as_str().ok_or("id")?.to_string())
    };
    let alpha = comment(json!({"content": "Alpha?", "quote": "Alpha text here."}))?;
    let beta = comment(json!({"content": "Beta?", "quote": "Beta text here."}))?;
    let whole = comment(json!({"content": "Overall?", "target": {"source": "plan.html"}}))?;
    let at = json!({"content": "Positions only", "target": {"source": "plan.html",
        "selector": {"type": "TextPositionSelector", "start": 4, "end": 9}}});
    let positions = comment(at)?;
    let scripted =
        comment(json!({"content": "Script?", "quote": "Written by a script", "scripted": true}))?;
    let standing = |ids: &[&String]| -> Result<Vec<String>, String> {
        let listed = ok(
            &a.server,
            &a.key,
            "list_comments",
            json!({"shareToken": token}),
        );
        let comments = listed["comments"].as_array().ok_or("comments")?;
        ids.iter()
            .map(|id| {
                comments
                    .iter()
                    .find(|c| c["id"] == id.as_str())
                    .and_then(|c| c["inLatest"].as_str())
                    .map(str::to_string)
                    .ok_or_else(|| format!("{id} in {listed}"))
            })
            .collect()
    };
    assert_eq!(
        standing(&[&alpha, &beta, &whole, &positions])?,
        ["madeOnIt"; 4]
    );

    // v2 rewrites the first paragraph.
    ok(
        &a.server,
        &a.key,
        "publish_version",
        json!({"shareToken": token, "content": v2}),
    );
    let on_v2 = comment(json!({"content": "Beta again?", "quote": "Beta text"}))?;
    assert_eq!(
        standing(&[&alpha, &beta, &whole, &positions, &on_v2, &scripted])?,
        [
            "notFound",
            "found",
            "fileChanged",
            "unknown",
            "madeOnIt",
            "unknown"
        ]
    );
    // v3 is v2 again: v2's comment stands where it was.
    ok(
        &a.server,
        &a.key,
        "publish_version",
        json!({"shareToken": token, "content": v2}),
    );
    assert_eq!(standing(&[&alpha, &on_v2])?, ["notFound", "fileUnchanged"]);
    // v4 is another file: every earlier comment's file is gone.
    ok(
        &a.server,
        &a.key,
        "publish_version",
        json!({"shareToken": token, "fileName": "other.html", "content": v2}),
    );
    assert_eq!(standing(&[&alpha, &beta, &on_v2])?, ["fileRemoved"; 3]);
    Ok(())
}

#[test]
fn long_threads_come_in_results_an_agent_can_read_and_get_comment_pages_through_their_replies(
) -> TestResult {
    let a = agent();
    let token = published_plan(&a)?;
    let ada = Auth::Cookie(a.ada.clone());
    // Eight threads, each with 15 replies of 2,000 characters: some 250,000 characters in all.
    let mut threads = Vec::new();
    for t in 0..8 {
        let made = a.server.post(
            &format!("/api/v1/artifacts/{token}/comments"),
            &ada,
            &json!({"content": format!("Thread {t}"), "target": {"source": "plan.md"}}),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        let id = made.json()["id"].as_str().ok_or("id")?.to_string();
        let mut replies = Vec::new();
        for r in 0..15 {
            let resp = a.server.post(
                &format!("/api/v1/comments/{id}/replies"),
                &ada,
                &json!({ "content": format!("Reply {r}: {}", "long words ".repeat(180)) }),
            );
            assert_eq!(resp.status, 201, "{}", resp.text());
            replies.push(resp.json()["id"].as_str().ok_or("reply id")?.to_string());
        }
        threads.push((id, replies));
    }

    // list_comments pages stay within the budget, each thread with its newest ten replies; the
    // pages together hold every thread once, in order.
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let mut args = json!({"shareToken": token});
        if let Some(c) = cursor.as_str() {
            args["cursor"] = json!(c);
        }
        let page = ok(&a.server, &a.key, "list_comments", args);
        pages += 1;
        assert!(
            page.to_string().len() < 50_000,
            "a page of {} characters",
            page.to_string().len()
        );
        for thread in page["comments"].as_array().ok_or("comments")? {
            let (id, replies) = threads
                .iter()
                .find(|(id, _)| thread["id"] == id.as_str())
                .ok_or("a thread of ours")?;
            seen.push(id.clone());
            assert_eq!(thread["earlierRepliesOmitted"], 5);
            let shown: Vec<&str> = thread["replies"]
                .as_array()
                .ok_or("replies")?
                .iter()
                .filter_map(|r| r["id"].as_str())
                .collect();
            assert_eq!(
                shown,
                replies[5..].iter().map(String::as_str).collect::<Vec<_>>()
            );
        }
        cursor = page["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(
        seen,
        threads.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()
    );
    assert!(pages > 1, "the threads did not fit in one result");

    // get_comment reads a thread's replies page by page, all of them, in order.
    let (id, replies) = &threads[0];
    let mut read = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let mut args = json!({"commentId": id});
        if let Some(c) = cursor.as_str() {
            args["repliesCursor"] = json!(c);
        }
        let page = ok(&a.server, &a.key, "get_comment", args);
        assert_eq!(page["content"], "Thread 0");
        assert!(page.to_string().len() < 50_000);
        read.extend(
            page["replies"]
                .as_array()
                .ok_or("replies")?
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string)),
        );
        cursor = page["nextRepliesCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(&read, replies);
    let bad = refused(
        &a.server,
        &a.key,
        "get_comment",
        json!({"commentId": id, "repliesCursor": "x"}),
    );
    assert_eq!(bad["code"], "invalid_cursor");
    Ok(())
}

#[test]
fn a_wait_from_a_publications_cursor_misses_nothing_and_a_deleted_reply_or_a_reopening_read_right(
) -> TestResult {
    let a = agent();
    let ada = Auth::Cookie(a.ada.clone());
    let published = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Plan", "fileName": "plan.md", "content": "# Plan\n\nShip it."}),
    );
    let token = published["shareToken"].as_str().ok_or("token")?.to_string();
    // A person comments before the agent starts waiting: the publication's cursor hears it.
    let made = a.server.post(
        &format!("/api/v1/artifacts/{token}/comments"),
        &ada,
        &json!({"content": "Ship when?", "quote": "Ship it."}),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let comment_id = made.json()["id"].as_str().ok_or("id")?.to_string();
    let got = waited(&a, &token, &published["cursor"]);
    assert_eq!(got["feedback"].as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got["feedback"][0]["kind"], "comment");
    assert_eq!(got["feedback"][0]["comment"]["id"], comment_id.as_str());
    // Without the cursor, a wait starts from now and would not have heard it.
    let blind = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"shareToken": token, "timeoutSeconds": 1}),
    );
    assert_eq!(blind["feedback"], json!([]), "{blind}");

    // A reply deleted before the wait looked is no news: not an "edited" thread.
    let reply = a.server.post(
        &format!("/api/v1/comments/{comment_id}/replies"),
        &ada,
        &json!({"content": "Never mind"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let reply_id = reply.json()["id"].as_str().ok_or("reply id")?.to_string();
    let gone = a
        .server
        .delete(&format!("/api/v1/replies/{reply_id}"), &ada);
    assert_eq!(gone.status, 200, "{}", gone.text());
    let quiet = ok(
        &a.server,
        &a.key,
        "wait_for_feedback",
        json!({"shareToken": token, "after": got["cursor"], "timeoutSeconds": 1}),
    );
    assert_eq!(quiet["timedOut"], true, "{quiet}");
    assert_eq!(quiet["feedback"], json!([]), "{quiet}");

    // The agent resolves it with a new version; the person reopens it and says why: "reopened",
    // with the reply among the new ones.
    let version = ok(
        &a.server,
        &a.key,
        "publish_version",
        json!({"shareToken": token, "content": "# Plan\n\nShip it on Monday."}),
    );
    ok(
        &a.server,
        &a.key,
        "resolve",
        json!({"commentId": comment_id}),
    );
    let reopened = a.server.patch(
        &format!("/api/v1/comments/{comment_id}"),
        &ada,
        &json!({"resolved": false}),
    );
    assert_eq!(reopened.status, 200, "{}", reopened.text());
    let why = a.server.post(
        &format!("/api/v1/comments/{comment_id}/replies"),
        &ada,
        &json!({"content": "Which Monday?"}),
    );
    assert_eq!(why.status, 201, "{}", why.text());
    let got = waited(&a, &token, &version["cursor"]);
    assert_eq!(got["feedback"].as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got["feedback"][0]["kind"], "reopened", "{got}");
    assert_eq!(
        got["feedback"][0]["newReplyIds"],
        json!([why.json()["id"]]),
        "{got}"
    );
    Ok(())
}

#[test]
fn creating_tools_called_again_with_their_client_request_id_create_nothing_more() -> TestResult {
    let a = agent();
    let count = |table: &str| -> i64 {
        a.server
            .open_db()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("a count")
    };
    let publish = json!({"name": "Plan", "fileName": "plan.md", "content": "# Plan\n\nShip it.", "clientRequestId": "p-1"});
    let first = ok(&a.server, &a.key, "publish_artifact", publish.clone());
    assert_eq!(ok(&a.server, &a.key, "publish_artifact", publish), first);
    assert_eq!(count("artifacts"), 1);
    let token = first["shareToken"].as_str().ok_or("token")?;
    let comment = json!({"shareToken": token, "content": "Ship when?", "quote": "Ship it.", "clientRequestId": "c-1"});
    let made = ok(&a.server, &a.key, "add_comment", comment.clone());
    assert_eq!(
        ok(&a.server, &a.key, "add_comment", comment)["id"],
        made["id"]
    );
    assert_eq!(count("comments"), 1);
    let reply = json!({"commentId": made["id"], "content": "Monday.", "clientRequestId": "r-1"});
    ok(&a.server, &a.key, "reply", reply.clone());
    ok(&a.server, &a.key, "reply", reply);
    assert_eq!(count("replies"), 1);
    // The id names one call: with another tool it is refused, and it must be a string.
    let reused = refused(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": made["id"], "content": "again", "clientRequestId": "c-1"}),
    );
    assert_eq!(reused["code"], "idempotency_key_reused", "{reused}");
    let wrong = refused(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": made["id"], "content": "x", "clientRequestId": 7}),
    );
    assert_eq!(wrong["field"], "clientRequestId", "{wrong}");
    assert_eq!(count("replies"), 1);
    // A JSON value is compared as it is: spaces around it are not trimmed away, they are refused.
    let spaced = refused(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": made["id"], "content": "Monday.", "clientRequestId": " r-1 "}),
    );
    assert_eq!(spaced["code"], "invalid_idempotency_key", "{spaced}");
    assert_eq!(count("replies"), 1);
    // An unknown argument is told with every argument the tool takes, clientRequestId included,
    // and a wrong type in JSON's words.
    let unknown = refused(
        &a.server,
        &a.key,
        "reply",
        json!({"commentId": made["id"], "content": "x", "version": 2}),
    );
    let message = unknown["error"].as_str().ok_or("message")?;
    assert!(message.contains("`clientRequestId`"), "{message}");
    let typed = refused(&a.server, &a.key, "list_artifacts", json!({"limit": -1}));
    let message = typed["error"].as_str().ok_or("message")?;
    assert!(
        message.contains("expected a whole number, 0 or more") && !message.contains("u64"),
        "{message}"
    );
    // The same id with other arguments is another call: refused, and the first comment stands.
    let other = refused(
        &a.server,
        &a.key,
        "add_comment",
        json!({"shareToken": token, "content": "Ship on Friday?", "quote": "Ship it.", "clientRequestId": "c-1"}),
    );
    assert_eq!(other["code"], "idempotency_key_reused", "{other}");
    assert!(
        other["error"]
            .as_str()
            .is_some_and(|m| m.contains("clientRequestId") && m.contains("other arguments")),
        "{other}"
    );
    assert_eq!(count("comments"), 1);
    let content: String = a
        .server
        .open_db()
        .query_row("SELECT content FROM comments", [], |r| r.get(0))
        .expect("the comment");
    assert_eq!(content, "Ship when?");
    Ok(())
}

#[test]
fn a_wait_ends_when_its_key_expires_and_tells_nothing_after() -> TestResult {
    let a = agent();
    let token = published_plan(&a)?;
    let expires_at = now_ms() + 1_500;
    let (_, short) = a.server.create_key(
        &a.ada,
        json!({"name": "short-lived", "expiresAt": expires_at}),
    );
    let waiting = waiting(
        &a.server,
        &short,
        json!({"shareToken": token, "timeoutSeconds": 120}),
    );
    // Nothing happens until the key expires: the wait ends then, with that refusal, not at its
    // timeout.
    let answer = waiting.join().map_err(|_| "the waiting thread panicked")?;
    assert!(now_ms() >= expires_at);
    assert_eq!(refusal_of(&answer)?["code"], "expired_key", "{answer}");
    Ok(())
}

#[test]
fn a_wait_hears_of_a_key_revoked_from_the_command_line_and_a_cursor_from_the_future_is_not_deaf(
) -> TestResult {
    let a = agent();
    let published = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "One", "fileName": "one.md", "content": "# One\n\nFirst."}),
    );
    let token = published["shareToken"].as_str().ok_or("token")?.to_string();
    // A cursor beyond every event goes on from the newest: a comment made during the wait is heard.
    let person = a.ada.clone();
    let future = waiting(
        &a.server,
        &a.key,
        json!({"after": "1000000", "timeoutSeconds": 30}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let made = a.server.post(
        &format!("/api/v1/artifacts/{token}/comments"),
        &Auth::Cookie(person),
        &json!({"content": "Heard from the future?", "quote": "First."}),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let answer = future.join().map_err(|_| "the waiting thread panicked")?;
    let heard = &answer["result"]["structuredContent"];
    assert_eq!(heard["timedOut"], false, "{answer}");
    assert_eq!(
        heard["feedback"][0]["comment"]["content"],
        "Heard from the future?"
    );
    let cursor: i64 = heard["cursor"].as_str().ok_or("cursor")?.parse()?;
    assert!(
        cursor < 1_000_000,
        "the cursor came back from the newest event: {cursor}"
    );

    // A wait open while an admin revokes its key from the command line (another process, with no
    // request to the server meanwhile) ends with that, not at its timeout.
    let long = waiting(
        &a.server,
        &a.key,
        json!({"shareToken": token, "timeoutSeconds": 120}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = a.server.cli(&["key", "revoke", &a.key_id], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = long.join().map_err(|_| "the waiting thread panicked")?;
    assert_eq!(refusal_of(&answer)?["code"], "revoked_key", "{answer}");
    Ok(())
}

#[test]
fn resolve_calls_made_at_the_same_moment_post_their_note_once() -> TestResult {
    let a = agent();
    let created = ok(
        &a.server,
        &a.key,
        "publish_artifact",
        json!({"name": "Plan", "fileName": "plan.html", "content": "<p>We launch in March.</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("share")?.to_string();
    for round in 0..4 {
        let comment = a.server.post(
            &format!("/api/v1/artifacts/{share}/comments"),
            &Auth::Cookie(a.ada.clone()),
            &json!({"content": format!("Which day? ({round})"), "quote": "We launch in March."}),
        );
        assert_eq!(comment.status, 201, "{}", comment.text());
        let id = comment.json()["id"].as_str().ok_or("id")?.to_string();
        // Eight retries of one call, all at once (a client whose first answer was slow).
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (url, key, id, barrier) =
                    (a.server.url("/mcp"), a.key.clone(), id.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                        "name": "resolve", "arguments": {"commentId": id, "note": "Fixed: the 12th."}}});
                    barrier.wait();
                    let answer: Value = ureq::post(&url)
                        .header("X-API-Key", &key)
                        .header("MCP-Protocol-Version", "2025-11-25")
                        .send_json(&body)
                        .expect("resolve answers")
                        .body_mut()
                        .read_json()
                        .expect("JSON");
                    answer["result"]["structuredContent"].clone()
                })
            })
            .collect();
        let answers: Vec<Value> = calls
            .into_iter()
            .map(|c| c.join().map_err(|_| "a call panicked"))
            .collect::<Result<_, _>>()?;
        let noticed = answers.iter().filter(|a| a.get("notice").is_some()).count();
        assert_eq!(
            noticed, 7,
            "all but the one that resolved say the note was not posted"
        );
        assert!(answers.iter().all(|a| a["resolved"] == true));
        let notes: i64 = a.server.open_db().query_row(
            "SELECT count(*) FROM replies WHERE comment_id = ?1",
            [id.parse::<i64>()?],
            |r| r.get(0),
        )?;
        assert_eq!(notes, 1, "round {round}: one note");
    }
    Ok(())
}
