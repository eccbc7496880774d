//! `Idempotency-Key` on the creating routes: a retry of a request whose answer was lost gets the
//! first answer again (`Idempotent-Replayed: true`), never a second artifact, version, comment or
//! reply; the key names one request of one account, for 24 hours.

mod common;

use common::*;
use serde_json::{json, Value};

/// A JSON POST with an Idempotency-Key.
fn post_once(server: &Server, path: &str, auth: &Auth, key: &str, body: &Value) -> Resp {
    server.request(
        "POST",
        path,
        auth,
        Some(body.to_string().as_bytes()),
        &[("Idempotency-Key", key)],
    )
}

fn count(server: &Server, table: &str) -> i64 {
    server
        .open_db()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("a count")
}

#[test]
fn a_retried_creation_gets_the_first_answer_and_creates_nothing_more() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let ci = Auth::Key(key);
    let artifact =
        json!({"name": "Report", "fileName": "report.md", "content": "# Report\n\nShip it."});

    // An artifact, twice: one, and the same answer.
    let first = post_once(
        &server,
        "/api/v1/artifacts",
        &ci,
        "run-41-artifact",
        &artifact,
    );
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post_once(
        &server,
        "/api/v1/artifacts",
        &ci,
        "run-41-artifact",
        &artifact,
    );
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(count(&server, "artifacts"), 1);
    let share = first.json()["shareToken"]
        .as_str()
        .ok_or("token")?
        .to_string();

    // A version (multipart), a comment and a reply, each twice.
    let versions = format!("/api/v1/artifacts/{share}/versions");
    let (content_type, body) = multipart(&[("file", Some("v2.md"), b"# Report\n\nShipped.")]);
    let upload = |k: &str| {
        server.request(
            "POST",
            &versions,
            &ci,
            Some(&body),
            &[("Content-Type", &content_type), ("Idempotency-Key", k)],
        )
    };
    let v = upload("run-42-version");
    assert_eq!(v.status, 201, "{}", v.text());
    assert_eq!(upload("run-42-version").json(), v.json());
    assert_eq!(v.json()["number"], 2);
    assert_eq!(count(&server, "versions"), 2);

    let comments = format!("/api/v1/artifacts/{share}/comments");
    let comment = json!({"content": "Shipped when?", "quote": "Shipped."});
    let c = post_once(&server, &comments, &ci, "c-1", &comment);
    assert_eq!(c.status, 201, "{}", c.text());
    assert_eq!(
        post_once(&server, &comments, &ci, "c-1", &comment).json(),
        c.json()
    );
    assert_eq!(count(&server, "comments"), 1);
    let replies = format!(
        "/api/v1/comments/{}/replies",
        c.json()["id"].as_str().ok_or("id")?
    );
    let r = post_once(
        &server,
        &replies,
        &ci,
        "r-1",
        &json!({"content": "Monday."}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        post_once(
            &server,
            &replies,
            &ci,
            "r-1",
            &json!({"content": "Monday."})
        )
        .json(),
        r.json()
    );
    assert_eq!(count(&server, "replies"), 1);

    // The key names one request: another path with it is refused, nothing made.
    let reused = post_once(&server, &comments, &ci, "r-1", &comment);
    assert_eq!(reused.status, 409, "{}", reused.text());
    assert_eq!(reused.error_code(), "idempotency_key_reused");
    assert!(reused.text().contains(&replies), "{}", reused.text());
    assert_eq!(count(&server, "comments"), 1);

    // A refused request keeps nothing: corrected, the same key runs it.
    let empty = post_once(
        &server,
        &comments,
        &ci,
        "c-2",
        &json!({"content": "", "quote": "Shipped."}),
    );
    assert_eq!(empty.status, 400);
    let fixed = post_once(&server, &comments, &ci, "c-2", &comment);
    assert_eq!(fixed.status, 201, "{}", fixed.text());
    assert_eq!(fixed.header("idempotent-replayed"), None);
    assert_eq!(count(&server, "comments"), 2);

    // Keys are the account's own: another account's same key is another request.
    let bob = Auth::Cookie(server.add_user("bob@example.com", "Bob", "bob password 1"));
    let theirs = server.request(
        "POST",
        "/api/v1/artifacts",
        &bob,
        Some(artifact.to_string().as_bytes()),
        &[("Idempotency-Key", "run-41-artifact")],
    );
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    assert_ne!(theirs.json()["shareToken"], first.json()["shareToken"]);

    // A malformed key is refused, naming the header.
    let long = "k".repeat(256);
    let bad = post_once(&server, &comments, &ci, &long, &comment);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_code(), "invalid_idempotency_key");
    assert_eq!(bad.json()["field"], "Idempotency-Key");
    // So is a key that is not ASCII, or one sent twice: either would have been passed over, and
    // a retry would have created again.
    let Auth::Key(ci_key) = &ci else {
        return Err("a key".into());
    };
    let body = comment.to_string();
    for keys in [
        "Idempotency-Key: cl\u{e9}-1\r\n".to_string(),
        "Idempotency-Key: c-9\r\nIdempotency-Key: c-10\r\n".to_string(),
    ] {
        let raw = format!(
            "POST {comments} HTTP/1.1\r\nHost: {}\r\nX-API-Key: {ci_key}\r\nContent-Type: application/json\r\n{keys}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            server.host(),
            body.len()
        );
        let answer = server
            .raw_request(raw.as_bytes(), std::time::Duration::from_secs(10))
            .ok_or("an answer")?;
        assert_eq!(answer.status, 400, "{keys}");
        let error = answer.json().ok_or("JSON")?;
        assert_eq!(error["code"], "invalid_idempotency_key", "{error}");
    }
    assert_eq!(count(&server, "comments"), 2, "nothing more was made");
    Ok(())
}

#[test]
fn retries_sent_at_once_create_one_comment() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "agent"}));
    let agent = Auth::Key(key);
    let created = server.upload(
        &agent,
        json!({"name": "Page", "fileName": "index.html", "content": "<p>Hello there</p>"}),
    );
    let path = format!(
        "/api/v1/artifacts/{}/comments",
        created["shareToken"].as_str().ok_or("token")?
    );
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let r = post_once(
                        &server,
                        &path,
                        &agent,
                        "same-retry",
                        &json!({"content": "Hello?", "quote": "Hello there"}),
                    );
                    (
                        r.status,
                        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a thread"))
            .collect()
    });
    assert_eq!(count(&server, "comments"), 1, "{answers:?}");
    let ids: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| &b["id"])
        .collect();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]), "{answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == 201 || (*status == 409 && body["code"] == "idempotency_key_in_progress"),
            "{answers:?}"
        );
    }
    Ok(())
}

#[test]
fn work_done_whose_answer_was_lost_is_not_done_again_on_retry() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let ci = Auth::Key(key);
    // The server stops after a creating write and before its answer is kept: here, keeping any
    // answer fails (the server logs it and answers anyway), which leaves the database as a kill
    // between the two writes would.
    rusqlite::Connection::open(&server.db)?.execute_batch(
        "CREATE TRIGGER answers_lost BEFORE INSERT ON idempotent_answers WHEN NEW.status <> 0
         BEGIN SELECT RAISE(ABORT, 'the server stopped'); END;",
    )?;
    let artifact =
        json!({"name": "Report", "fileName": "report.md", "content": "# Report\n\nShip it."});
    let first = post_once(&server, "/api/v1/artifacts", &ci, "a-1", &artifact);
    assert_eq!(first.status, 201, "{}", first.text());
    let share = first.json()["shareToken"]
        .as_str()
        .ok_or("token")?
        .to_string();
    let comments = format!("/api/v1/artifacts/{share}/comments");
    let comment = json!({"content": "Shipped when?", "quote": "Ship it."});
    let c = post_once(&server, &comments, &ci, "c-1", &comment);
    assert_eq!(c.status, 201, "{}", c.text());
    let replies = format!(
        "/api/v1/comments/{}/replies",
        c.json()["id"].as_str().ok_or("id")?
    );
    let reply = json!({"content": "Monday."});
    assert_eq!(post_once(&server, &replies, &ci, "r-1", &reply).status, 201);
    let versions = format!("/api/v1/artifacts/{share}/versions");
    let version = json!({"content": "# Report\n\nShipped."});
    assert_eq!(
        post_once(&server, &versions, &ci, "v-1", &version).status,
        201
    );

    // Each retry learns that its work was done; none is done twice.
    for (path, key, body) in [
        ("/api/v1/artifacts", "a-1", &artifact),
        (comments.as_str(), "c-1", &comment),
        (replies.as_str(), "r-1", &reply),
        (versions.as_str(), "v-1", &version),
    ] {
        let again = post_once(&server, path, &ci, key, body);
        assert_eq!(again.status, 409, "{path}: {}", again.text());
        assert_eq!(again.error_code(), "idempotency_answer_lost");
        assert!(
            again.text().contains(&format!("POST {path}")),
            "{}",
            again.text()
        );
    }
    assert_eq!(count(&server, "artifacts"), 1);
    assert_eq!(count(&server, "comments"), 1);
    assert_eq!(count(&server, "replies"), 1);
    assert_eq!(count(&server, "versions"), 2);

    // A key whose request was refused is not marked: corrected, it runs.
    let refused = post_once(
        &server,
        &comments,
        &ci,
        "c-2",
        &json!({"content": "", "quote": "Shipped."}),
    );
    assert_eq!(refused.status, 400);
    let fixed = post_once(
        &server,
        &comments,
        &ci,
        "c-2",
        &json!({"content": "ok", "quote": "Shipped."}),
    );
    assert_eq!(fixed.status, 201, "{}", fixed.text());
    assert_eq!(count(&server, "comments"), 2);
    Ok(())
}

#[test]
fn a_client_that_hangs_up_does_not_make_its_retry_create_again() -> TestResult {
    use std::io::Write;
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let ci = Auth::Key(key.clone());
    let created = server.upload(
        &ci,
        json!({"name": "Report", "fileName": "report.md", "content": "# Report\n\nShip it."}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let path = format!("/api/v1/artifacts/{share}/comments");
    let comment = json!({"content": "Shipped when?", "quote": "Ship it."}).to_string();

    // Another process holds the write lock, so the comment waits in the writer's queue...
    let holder = rusqlite::Connection::open(&server.db)?;
    holder.execute_batch("BEGIN IMMEDIATE")?;
    // ...while its client sends it and hangs up without waiting for the answer.
    let mut client = std::net::TcpStream::connect(("127.0.0.1", server.port))?;
    client.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nX-API-Key: {key}\r\nIdempotency-Key: hang-up-1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{comment}",
            server.host(),
            comment.len()
        )
        .as_bytes(),
    )?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(client);
    std::thread::sleep(std::time::Duration::from_millis(300));
    holder.execute_batch("ROLLBACK")?;

    // The retry waits for the first to finish, then gets its answer; one comment in all.
    let body = json!({"content": "Shipped when?", "quote": "Ship it."});
    let mut retry = post_once(&server, &path, &ci, "hang-up-1", &body);
    for _ in 0..100 {
        if retry.status != 409 {
            break;
        }
        assert_eq!(retry.error_code(), "idempotency_key_in_progress");
        std::thread::sleep(std::time::Duration::from_millis(50));
        retry = post_once(&server, &path, &ci, "hang-up-1", &body);
    }
    assert_eq!(retry.status, 201, "{}", retry.text());
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(count(&server, "comments"), 1);
    Ok(())
}

#[test]
fn the_same_key_with_another_body_is_refused_and_a_reformatted_retry_is_not() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let ci = Auth::Key(key);
    let made = post_once(
        &server,
        "/api/v1/artifacts",
        &ci,
        "a-1",
        &json!({"name": "Report", "fileName": "report.md", "content": "# Report\n\nShip it."}),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let share = made.json()["shareToken"]
        .as_str()
        .ok_or("token")?
        .to_string();
    // Another artifact under the same key: 422, and nothing made.
    let other = post_once(
        &server,
        "/api/v1/artifacts",
        &ci,
        "a-1",
        &json!({"name": "Another report", "fileName": "report.md", "content": "# Report\n\nShip it."}),
    );
    assert_eq!(other.status, 422, "{}", other.text());
    assert_eq!(other.error_code(), "idempotency_key_reused");
    assert!(
        other.text().contains("another body") && other.text().contains("Idempotency-Key"),
        "{}",
        other.text()
    );
    assert_eq!(count(&server, "artifacts"), 1);

    // A comment, retried with its JSON spaced and ordered otherwise: the same request.
    let comments = format!("/api/v1/artifacts/{share}/comments");
    let first = post_once(
        &server,
        &comments,
        &ci,
        "c-1",
        &json!({"content": "Ship when?", "target": {"source": "report.md"}}),
    );
    assert_eq!(first.status, 201, "{}", first.text());
    let reformatted = server.request(
        "POST",
        &comments,
        &ci,
        Some(
            br#"{ "target" : { "source" : "report.md" },
                   "content" : "Ship when?" }"#,
        ),
        &[("Idempotency-Key", "c-1")],
    );
    assert_eq!(reformatted.status, 201, "{}", reformatted.text());
    assert_eq!(
        reformatted.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(reformatted.json(), first.json());
    // Another comment under the same key: refused; the first stands as it was written.
    let changed = post_once(
        &server,
        &comments,
        &ci,
        "c-1",
        &json!({"content": "Ship on Friday?", "target": {"source": "report.md"}}),
    );
    assert_eq!(changed.status, 422, "{}", changed.text());
    assert_eq!(changed.error_code(), "idempotency_key_reused");
    // The query string is part of the request too.
    let elsewhere = server.request(
        "POST",
        &format!("{comments}?version=1"),
        &ci,
        Some(
            json!({"content": "Ship when?", "target": {"source": "report.md"}})
                .to_string()
                .as_bytes(),
        ),
        &[("Idempotency-Key", "c-1")],
    );
    assert_eq!(elsewhere.status, 422, "{}", elsewhere.text());
    let stored: Vec<String> = server
        .open_db()
        .prepare("SELECT content FROM comments")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(stored, ["Ship when?"]);

    // A reply, the same way.
    let comment_id = first.json()["id"].as_str().ok_or("id")?.to_string();
    let replies = format!("/api/v1/comments/{comment_id}/replies");
    let reply = post_once(
        &server,
        &replies,
        &ci,
        "r-1",
        &json!({"content": "Monday."}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let again = post_once(
        &server,
        &replies,
        &ci,
        "r-1",
        &json!({"content": "Monday."}),
    );
    assert_eq!(again.json(), reply.json());
    let changed = post_once(
        &server,
        &replies,
        &ci,
        "r-1",
        &json!({"content": "Tuesday."}),
    );
    assert_eq!(changed.status, 422, "{}", changed.text());
    assert_eq!(count(&server, "replies"), 1);

    // A version: retried in another multipart framing (a new boundary) it is the same upload;
    // another file under the same key is refused.
    let versions = format!("/api/v1/artifacts/{share}/versions");
    let upload = |boundary: &str, content: &[u8]| {
        let mut body = Vec::new();
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v2.md\"\r\nContent-Type: text/markdown\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        server.request(
            "POST",
            &versions,
            &ci,
            Some(&body),
            &[
                (
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                ),
                ("Idempotency-Key", "v-2"),
            ],
        )
    };
    let v2 = upload("curl-boundary-1", b"# Report\n\nShipped.");
    assert_eq!(v2.status, 201, "{}", v2.text());
    let retried = upload("curl-boundary-2", b"# Report\n\nShipped.");
    assert_eq!(retried.status, 201, "{}", retried.text());
    assert_eq!(
        retried.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(retried.json(), v2.json());
    let other = upload("curl-boundary-3", b"# Report\n\nShipped on Monday.");
    assert_eq!(other.status, 422, "{}", other.text());
    assert_eq!(count(&server, "versions"), 2);
    Ok(())
}
