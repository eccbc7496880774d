//! An artifact's live event stream (Server-Sent Events): it opens with `ready`, carries every
//! comment, reply, resolution and version change with its author, resumes after `Last-Event-ID`
//! without losing or repeating anything, ends when its caller loses the right to it, and is capped
//! so idle streams cannot take the server's connections.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// One message of the stream.
#[derive(Debug, Clone)]
struct Message {
    id: Option<String>,
    data: Value,
}

/// A raw HTTP/1.1 connection reading a text/event-stream answer.
struct Stream {
    status: u16,
    reader: BufReader<TcpStream>,
    /// The current chunk's bytes not yet read.
    chunk_left: usize,
    ended: bool,
}

impl Stream {
    fn open(server: &Server, path: &str, auth: &Auth, extra: &[(&str, &str)]) -> Stream {
        let mut tcp = server.connect();
        tcp.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("a read timeout");
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n",
            server.host()
        );
        match auth {
            Auth::Key(k) => request.push_str(&format!("X-API-Key: {k}\r\n")),
            Auth::Cookie(c) => request.push_str(&format!("Cookie: ar_session={c}\r\n")),
            Auth::Bearer(k) => request.push_str(&format!("Authorization: Bearer {k}\r\n")),
            Auth::None => {}
        }
        for (name, value) in extra {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).expect("request sent");
        let mut reader = BufReader::new(tcp);
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let mut chunked = false;
        loop {
            line.clear();
            reader.read_line(&mut line).expect("a header line");
            if line.trim().is_empty() {
                break;
            }
            if line
                .to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
            {
                chunked = true;
            }
        }
        assert!(
            chunked || status != 200,
            "an event stream is sent in chunks"
        );
        Stream {
            status,
            reader,
            chunk_left: 0,
            ended: status != 200,
        }
    }

    /// The next line of the body (without its newline), None at the end of the stream.
    fn line(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            if self.ended {
                return None;
            }
            if self.chunk_left == 0 {
                let mut size = String::new();
                if self.reader.read_line(&mut size).ok()? == 0 {
                    self.ended = true;
                    return None;
                }
                let size = usize::from_str_radix(size.trim(), 16).ok()?;
                if size == 0 {
                    self.ended = true;
                    return None;
                }
                self.chunk_left = size;
            }
            let mut byte = [0u8; 1];
            self.reader.read_exact(&mut byte).ok()?;
            self.chunk_left -= 1;
            if self.chunk_left == 0 {
                let mut crlf = [0u8; 2];
                self.reader.read_exact(&mut crlf).ok()?;
            }
            if byte[0] == b'\n' {
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            out.push(byte[0]);
        }
    }

    /// The next message with data (skipping keep-alive comments), None at the end of the stream.
    fn next(&mut self) -> Option<Message> {
        let mut id = None;
        let mut data = String::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                if !data.is_empty() {
                    let data = serde_json::from_str(&data).expect("JSON data");
                    return Some(Message { id, data });
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }

    /// The next message, which must be there.
    fn expect(&mut self) -> Message {
        self.next()
            .expect("another message before the stream ended")
    }

    /// Reads to the end of the stream (the server closed it), returning what came before.
    fn rest(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.next() {
            out.push(m);
        }
        out
    }
}

struct World {
    server: Server,
    ada: Auth,
    ada_cookie: String,
    claude: Auth,
    claude_key_id: String,
    share: String,
}

fn world() -> World {
    let server = Server::start();
    let ada_cookie = server.setup_owner();
    let ada = Auth::Cookie(ada_cookie.clone());
    let agent = server.create_agent(&ada, "Claude", Some("coding"));
    let (claude_key_id, key) = server.create_key(
        &ada_cookie,
        json!({"name": "Claude Code", "agentId": agent}),
    );
    let claude = Auth::Key(key);
    let created = server.upload(
        &claude,
        json!({"name": "Report", "fileName": "index.html", "content": "<p>Revenue grew</p>"}),
    );
    let share = created["shareToken"].as_str().expect("token").to_string();
    World {
        server,
        ada,
        ada_cookie,
        claude,
        claude_key_id,
        share,
    }
}

impl World {
    fn events(&self, auth: &Auth) -> Stream {
        Stream::open(
            &self.server,
            &format!("/api/v1/artifacts/{}/events", self.share),
            auth,
            &[],
        )
    }

    fn comment(&self, auth: &Auth, content: &str) -> String {
        let resp = self.server.post(
            &format!("/api/v1/artifacts/{}/comments", self.share),
            auth,
            &json!({"content": content, "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Revenue"}}}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()["id"].as_str().expect("id").to_string()
    }
}

#[test]
fn a_stream_opens_with_ready_and_carries_each_change_with_its_author() -> TestResult {
    let w = world();
    let mut stream = w.events(&w.ada);
    assert_eq!(stream.status, 200);
    let ready = stream.expect();
    assert_eq!(ready.data["type"], "ready");
    assert_eq!(ready.data["lastEventId"].as_str(), ready.id.as_deref());

    let comment = w.comment(&w.ada, "Which quarter?");
    let m = stream.expect();
    assert_eq!(m.data["type"], "comment.created");
    assert_eq!(m.data["commentId"], comment);
    assert_eq!(m.data["version"], "v1");
    assert_eq!(m.data["source"], "index.html");
    assert_eq!(m.data["actor"]["kind"], "user");
    assert_eq!(m.data["actor"]["name"], "Ada");
    assert!(
        m.data.get("content").is_none(),
        "events name things, nothing more"
    );

    let reply = w.server.post(
        &format!("/api/v1/comments/{comment}/replies"),
        &w.claude,
        &json!({"content": "Q3, fixed in the next version"}),
    );
    assert_eq!(reply.status, 201);
    let m = stream.expect();
    assert_eq!(m.data["type"], "reply.created");
    assert_eq!(m.data["replyId"], reply.json()["id"]);
    assert_eq!(m.data["commentId"], comment);
    assert_eq!(
        m.data["actor"],
        json!({"kind": "agent", "id": m.data["actor"]["id"], "name": "Claude", "role": "coding"})
    );

    let resolved = w.server.patch(
        &format!("/api/v1/comments/{comment}"),
        &w.claude,
        &json!({"resolved": true}),
    );
    assert_eq!(resolved.status, 200);
    let m = stream.expect();
    assert_eq!(m.data["type"], "comment.resolved");
    assert_eq!(m.data["commentId"], comment);

    let version = w.server.post(
        &format!("/api/v1/artifacts/{}/versions", w.share),
        &w.claude,
        &json!({"fileName": "index.html", "content": "<p>Revenue grew in Q3</p>"}),
    );
    assert_eq!(version.status, 201);
    let m = stream.expect();
    assert_eq!(m.data["type"], "version.created");
    assert_eq!(m.data["version"], "v2");

    // Reviewer changes are the owner's business: they are not in the stream.
    let granted = w.server.post(
        &format!("/api/v1/artifacts/{}/access", w.share),
        &w.ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(granted.status, 201);
    let renamed = w.server.patch(
        &format!("/api/v1/artifacts/{}", w.share),
        &w.ada,
        &json!({"name": "Q3 report"}),
    );
    assert_eq!(renamed.status, 200);
    let m = stream.expect();
    assert_eq!(m.data["type"], "artifact.updated", "{:?}", m.data);
    assert_eq!(m.data["name"], "Q3 report");
    let (ready_id, last_id): (i64, i64) = (
        ready.id.as_deref().ok_or("ready's id")?.parse()?,
        m.id.as_deref().ok_or("an id")?.parse()?,
    );
    assert!(ready_id < last_id, "ids grow");
    Ok(())
}

#[test]
fn a_client_that_reconnects_gets_what_it_missed_once_and_in_order() -> TestResult {
    let w = world();
    let mut stream = w.events(&w.claude);
    let ready = stream.expect();
    let first = w.comment(&w.ada, "one");
    let seen = stream.expect();
    assert_eq!(seen.data["commentId"], first);
    let last_seen = seen.id.clone().ok_or("an id")?;
    drop(stream);

    let second = w.comment(&w.ada, "two");
    let third = w.comment(&w.claude, "three");
    let mut resumed = Stream::open(
        &w.server,
        &format!("/api/v1/artifacts/{}/events", w.share),
        &w.claude,
        &[("Last-Event-ID", &last_seen)],
    );
    assert_eq!(resumed.expect().data["type"], "ready");
    let a = resumed.expect();
    let b = resumed.expect();
    assert_eq!(
        (a.data["commentId"].clone(), b.data["commentId"].clone()),
        (json!(second), json!(third))
    );
    let (a_id, b_id): (i64, i64) = (
        a.id.as_deref().ok_or("id")?.parse()?,
        b.id.as_deref().ok_or("id")?.parse()?,
    );
    assert!(last_seen.parse::<i64>()? < a_id && a_id < b_id);
    assert!(ready.id.as_deref().ok_or("id")?.parse::<i64>()? < a_id);

    // `?after=` does the same for clients that cannot send the header.
    let mut after = Stream::open(
        &w.server,
        &format!("/api/v1/artifacts/{}/events?after={last_seen}", w.share),
        &w.claude,
        &[],
    );
    assert_eq!(after.expect().data["type"], "ready");
    assert_eq!(after.expect().data["commentId"], second);

    let bad = w.server.get(
        &format!("/api/v1/artifacts/{}/events?after=yesterday", w.share),
        &w.claude,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_code(), "invalid_event_id");
    assert_eq!(bad.json()["field"], "after");
    Ok(())
}

#[test]
fn a_publication_answers_the_event_to_listen_after_to_hear_all_that_follows() -> TestResult {
    let w = world();
    let published = w.server.post(
        &format!("/api/v1/artifacts/{}/versions", w.share),
        &w.ada,
        &json!({"content": "<h1>Monthly revenue, again</h1>"}),
    );
    assert_eq!(published.status, 201, "{}", published.text());
    let after = published.json()["lastEventId"]
        .as_str()
        .ok_or("lastEventId")?
        .to_string();
    // A comment made at once, before any stream is open, is heard from that id on.
    let soon = w.comment(&w.claude, "on the new version");
    let mut stream = Stream::open(
        &w.server,
        &format!("/api/v1/artifacts/{}/events?after={after}", w.share),
        &w.ada,
        &[],
    );
    assert_eq!(stream.expect().data["type"], "ready");
    let version = stream.expect();
    assert_eq!(
        version.data["type"], "version.created",
        "{:?}",
        version.data
    );
    assert_eq!(version.data["version"], "v2");
    let comment = stream.expect();
    assert_eq!(comment.data["type"], "comment.created");
    assert_eq!(comment.data["commentId"], soon);
    // A new artifact's answer says the same.
    let made = w.server.upload(
        &w.ada,
        json!({"name": "Other", "fileName": "o.html", "content": "<p>o</p>"}),
    );
    let id: i64 = made["lastEventId"].as_str().ok_or("lastEventId")?.parse()?;
    assert!(id >= after.parse::<i64>()?, "{made}");
    Ok(())
}

#[test]
fn a_stream_ends_when_its_key_is_revoked_or_its_reader_loses_access() -> TestResult {
    let w = world();
    let mut stream = w.events(&w.claude);
    assert_eq!(stream.expect().data["type"], "ready");
    let revoked = w.server.delete(
        &format!("/api/v1/keys/{}", w.claude_key_id),
        &Auth::Cookie(w.ada_cookie.clone()),
    );
    assert_eq!(revoked.status, 200);
    w.comment(&w.ada, "after the revocation");
    let after = stream.rest();
    assert_eq!(
        after.iter().map(|m| m.data.clone()).collect::<Vec<_>>(),
        vec![json!({"type": "end", "code": "revoked_key"})],
        "nothing reaches a revoked key but why its stream ends"
    );
    let again = w.events(&w.claude);
    assert_eq!(again.status, 401);

    // A reviewer whose access is removed.
    let bob_cookie = w
        .server
        .add_user("bob@example.com", "Bob", "bob password 1");
    let grant = w.server.post(
        &format!("/api/v1/artifacts/{}/access", w.share),
        &w.ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(grant.status, 201);
    let bob = Auth::Cookie(bob_cookie);
    let mut bobs = w.events(&bob);
    assert_eq!(bobs.expect().data["type"], "ready");
    let id = grant.json()["id"].as_str().ok_or("grant id")?.to_string();
    let removed = w.server.delete(
        &format!("/api/v1/artifacts/{}/access/{id}", w.share),
        &w.ada,
    );
    assert_eq!(removed.status, 200);
    w.comment(&w.ada, "after Bob's access was removed");
    let rest: Vec<Value> = bobs.rest().into_iter().map(|m| m.data).collect();
    assert_eq!(
        rest,
        vec![json!({"type": "end", "code": "access_removed"})],
        "nothing reaches Bob any more"
    );
    assert_eq!(w.events(&bob).status, 404);
    Ok(())
}

#[test]
fn a_stream_ends_when_its_key_is_revoked_from_the_command_line_with_nothing_else_happening(
) -> TestResult {
    let w = world();
    let mut stream = w.events(&w.claude);
    assert_eq!(stream.expect().data["type"], "ready");
    // Another process revokes the key; no request reaches the server meanwhile.
    let out = w.server.cli(&["key", "revoke", &w.claude_key_id], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after: Vec<Value> = stream.rest().into_iter().map(|m| m.data).collect();
    assert_eq!(after, vec![json!({"type": "end", "code": "revoked_key"})]);
    assert!(
        stream.ended,
        "the server ended the stream (not a read timeout)"
    );
    Ok(())
}

#[test]
fn a_stream_ends_when_its_key_expires_with_nothing_else_happening() -> TestResult {
    let w = world();
    let expires_at = now_ms() + 1_500;
    let (_, key) = w.server.create_key(
        &w.ada_cookie,
        json!({"name": "short-lived", "expiresAt": expires_at}),
    );
    let short = Auth::Key(key);
    let mut stream = w.events(&short);
    assert_eq!(stream.expect().data["type"], "ready");
    // No request, no revocation: the key's expiry alone ends the stream.
    let end = stream.expect();
    assert_eq!(end.data, json!({"type": "end", "code": "expired_key"}));
    assert!(now_ms() >= expires_at);
    w.comment(&w.ada, "after the expiry");
    assert!(stream.rest().is_empty());
    assert!(stream.ended);
    assert_eq!(w.events(&short).status, 401);
    Ok(())
}

#[test]
fn a_deleted_artifact_says_so_and_ends_the_stream() -> TestResult {
    let w = world();
    let mut stream = w.events(&w.ada);
    assert_eq!(stream.expect().data["type"], "ready");
    let deleted = w
        .server
        .delete(&format!("/api/v1/artifacts/{}", w.share), &w.ada);
    assert_eq!(deleted.status, 200);
    let rest = stream.rest();
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert_eq!(rest[0].data["type"], "artifact.deleted");
    assert_eq!(
        rest[1].data,
        json!({"type": "end", "code": "artifact_deleted"})
    );
    Ok(())
}

#[test]
fn open_streams_are_capped_per_account_with_a_fast_429() -> TestResult {
    let w = world();
    let mut open: Vec<Stream> = (0..16)
        .map(|_| {
            let mut s = w.events(&w.ada);
            assert_eq!(s.status, 200);
            assert_eq!(s.expect().data["type"], "ready");
            s
        })
        .collect();
    let refused = w
        .server
        .get(&format!("/api/v1/artifacts/{}/events", w.share), &w.ada);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.error_code(), "too_many_requests");
    let wait_secs: u64 = refused
        .header("retry-after")
        .ok_or("Retry-After")?
        .parse()?;
    assert_eq!(
        refused.json()["retryAfterSeconds"],
        wait_secs,
        "said in the body too"
    );
    // An agent's wait_for_feedback is refused alike, as a tool error that says how long to wait.
    let wait = w.server.request(
        "POST",
        "/mcp",
        &w.claude,
        Some(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "wait_for_feedback", "arguments": {"timeoutSeconds": 1}}})
            .to_string()
            .as_bytes(),
        ),
        &[
            ("MCP-Protocol-Version", "2025-06-18"),
            ("Accept", "application/json, text/event-stream"),
        ],
    );
    let result = &wait.json()["result"];
    assert_eq!(result["isError"], true, "{result}");
    let refusal: Value =
        serde_json::from_str(result["content"][0]["text"].as_str().ok_or("text")?)?;
    assert_eq!(refusal["code"], "too_many_requests");
    assert_eq!(refusal["retryAfterSeconds"], wait_secs, "{refusal}");
    assert!(refused.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("16"));
    // Ada's agents count against her account too; another account is not affected.
    assert_eq!(w.events(&w.claude).status, 429);
    let bob = Auth::Cookie(
        w.server
            .add_user("bob@example.com", "Bob", "bob password 1"),
    );
    let granted = w.server.post(
        &format!("/api/v1/artifacts/{}/access", w.share),
        &w.ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(granted.status, 201);
    let mut bobs = w.events(&bob);
    assert_eq!(bobs.status, 200);
    assert_eq!(bobs.expect().data["type"], "ready");
    // A closed stream frees its place.
    open.pop();
    let mut freed = None;
    for _ in 0..200 {
        let s = w.events(&w.ada);
        if s.status == 200 {
            freed = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let mut freed = freed.ok_or("the closed stream's place was never given back")?;
    assert_eq!(freed.expect().data["type"], "ready");
    Ok(())
}

#[test]
fn one_key_takes_at_most_half_of_its_accounts_streams() -> TestResult {
    let w = world();
    let open: Vec<Stream> = (0..8)
        .map(|_| {
            let mut s = w.events(&w.claude);
            assert_eq!(s.status, 200);
            assert_eq!(s.expect().data["type"], "ready");
            s
        })
        .collect();
    let refused = w
        .server
        .get(&format!("/api/v1/artifacts/{}/events", w.share), &w.claude);
    assert_eq!(refused.status, 429);
    assert!(
        refused.text().contains("the limit is 8 per key"),
        "{}",
        refused.text()
    );
    // The account's other clients still get theirs.
    let (_, other_key) = w.server.create_key(&w.ada_cookie, json!({"name": "CI"}));
    let mut other = w.events(&Auth::Key(other_key));
    assert_eq!(other.status, 200);
    assert_eq!(other.expect().data["type"], "ready");
    let ada = w.events(&w.ada);
    assert_eq!(ada.status, 200);
    drop(open);
    Ok(())
}

#[test]
fn strangers_and_missing_credentials_get_the_usual_answers() -> TestResult {
    let w = world();
    let eve = Auth::Cookie(
        w.server
            .add_user("eve@example.com", "Eve", "eve password 1"),
    );
    assert_eq!(w.events(&eve).status, 404);
    assert_eq!(w.events(&Auth::None).status, 401);
    Ok(())
}

#[test]
fn open_streams_do_not_hold_up_a_shutdown() -> TestResult {
    let mut w = world();
    let mut streams: Vec<Stream> = (0..3).map(|_| w.events(&w.ada)).collect();
    for s in &mut streams {
        assert_eq!(s.expect().data["type"], "ready");
    }
    let status = w.server.terminate();
    assert!(status.success(), "{status:?}");
    for s in &mut streams {
        assert!(s.rest().is_empty(), "each stream simply ends");
    }
    let log = w.server.log();
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains("still open after"),
        "no connection waited for the grace period: {log}"
    );
    Ok(())
}
