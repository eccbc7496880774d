//! The shape of the API itself: discovery, health, the OpenAPI description of every route, JSON
//! errors for unknown routes, wrong methods, oversized bodies, bad bytes and huge headers.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn discovery_names_the_api_its_auth_and_its_endpoints() -> TestResult {
    let server = Server::start();
    let resp = server.get("/api/v1", &Auth::None);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type").as_deref(),
        Some("application/json")
    );
    let d = resp.json();
    assert_eq!(d["name"], "Artifact Review Agent API");
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["authentication"]["keyPrefix"], "ar_live_");
    assert_eq!(d["links"]["openapi"], "/api/v1/openapi.json");
    let endpoints = d["endpoints"].as_array().ok_or("no endpoints")?;
    // Each says what it takes: a key, a person's session, either, or nothing.
    for (method, path, scope, auth) in [
        ("GET", "/api/v1/me", "reader", "key or session"),
        ("POST", "/api/v1/keys", "editor", "session"),
        (
            "POST",
            "/api/v1/comments/{id}/replies",
            "commenter",
            "key or session",
        ),
        ("POST", "/api/v1/session", "editor", "none"),
        ("POST", "/api/v1/key-requests", "editor", "none"),
    ] {
        assert!(
            endpoints
                .contains(&json!({"method": method, "path": path, "scope": scope, "auth": auth})),
            "{method} {path}: {:?}",
            endpoints
                .iter()
                .find(|e| e["path"] == path && e["method"] == method)
        );
    }
    let guide = server.get("/llms.txt", &Auth::None).text();
    assert!(
        guide.contains("- `POST /api/v1/keys` (a person's session only: keys are refused)"),
        "{guide}"
    );

    let health = server.get("/api/v1/health", &Auth::None);
    assert_eq!(health.status, 200);
    assert_eq!(
        health.json(),
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    Ok(())
}

fn described(openapi: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_route_the_server_answers_is_described_in_openapi_and_nothing_else() -> TestResult {
    let server = Server::start();
    let openapi = server.get("/api/v1/openapi.json", &Auth::None).json();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert_eq!(openapi["servers"][0]["url"], server.url(""));
    let served: BTreeSet<(String, String)> = server.get("/api/v1", &Auth::None).json()["endpoints"]
        .as_array()
        .ok_or("no endpoints")?
        .iter()
        .map(|e| {
            // Listed as documented: no router syntax (`{path..}`) leaks into discovery.
            let path = e["path"].as_str().unwrap_or_default().to_string();
            assert!(!path.contains(".."), "{path}");
            (e["method"].as_str().unwrap_or_default().to_string(), path)
        })
        .collect();
    let described = described(&openapi);
    let undescribed: Vec<_> = served.difference(&described).collect();
    let phantom: Vec<_> = described.difference(&served).collect();
    assert!(
        undescribed.is_empty(),
        "routes missing from openapi.json: {undescribed:?}"
    );
    assert!(
        phantom.is_empty(),
        "openapi.json describes routes the server lacks: {phantom:?}"
    );
    // Every operation names the scope a key needs, as the route table enforces it.
    for e in server.get("/api/v1", &Auth::None).json()["endpoints"]
        .as_array()
        .ok_or("no endpoints")?
    {
        let path = e["path"].as_str().unwrap_or_default();
        let method = e["method"].as_str().unwrap_or_default().to_lowercase();
        assert_eq!(
            openapi["paths"][path][&method]["x-required-scope"], e["scope"],
            "{method} {path}: the scope in openapi.json differs from the route table's"
        );
    }
    // Every $ref points at something that exists.
    let text = openapi.to_string();
    for part in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = part.split('"').next().unwrap_or_default();
        let mut node = &openapi["components"];
        for seg in target.split('/') {
            node = &node[seg];
        }
        assert!(!node.is_null(), "dangling $ref #/components/{target}");
    }
    Ok(())
}

#[test]
fn the_yaml_description_says_exactly_what_the_json_one_says() -> TestResult {
    let server = Server::start();
    let json_doc = server.get("/api/v1/openapi.json", &Auth::None).json();
    let yaml = server.get("/api/v1/openapi.yaml", &Auth::None);
    assert_eq!(yaml.status, 200);
    assert!(yaml
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/yaml"));
    // It reads as ordinary YAML to a person or a grep, not as JSON in disguise.
    assert!(
        yaml.text().starts_with("openapi: 3.1.0\n"),
        "{}",
        &yaml.text()[..80]
    );
    assert!(
        yaml.text().contains("\n  \"/api/v1/me\":\n    get:\n"),
        "paths read as YAML keys"
    );
    let from_yaml: Value = serde_norway::from_str(&yaml.text())?;
    assert_eq!(from_yaml, json_doc);
    Ok(())
}

#[test]
fn unknown_routes_and_wrong_methods_answer_json() -> TestResult {
    let server = Server::start();
    for path in ["/api/v1/nope", "/nope", "/api/v2/me", "/api/v1/keys/1/2"] {
        let resp = server.get(path, &Auth::None);
        assert_eq!(resp.status, 404, "{path}");
        assert_eq!(resp.error_code(), "not_found");
    }
    for (method, path) in [
        ("PUT", "/api/v1/keys"),
        ("POST", "/api/v1/me"),
        ("DELETE", "/api/v1/health"),
        ("PATCH", "/api/v1"),
    ] {
        let resp = server.request(method, path, &Auth::None, None, &[]);
        assert_eq!(resp.status, 405, "{method} {path}");
        assert_eq!(resp.error_code(), "method_not_allowed");
    }
    // A 405 says which methods the path takes, in the Allow header and in the message.
    let resp = server.request("PUT", "/api/v1/keys", &Auth::None, None, &[]);
    assert_eq!(resp.header("allow").as_deref(), Some("GET, HEAD, POST"));
    assert_eq!(
        resp.json()["error"],
        "method not allowed; this path takes GET, HEAD, POST"
    );
    let resp = server.request("GET", "/api/v1/keys/1/rotate", &Auth::None, None, &[]);
    assert_eq!(resp.header("allow").as_deref(), Some("POST"));
    Ok(())
}

#[test]
fn a_trailing_slash_leads_to_the_route_and_a_browser_gets_a_page_where_nothing_is() -> TestResult {
    let server = Server::start();
    let html = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    // A GET is sent to the address without the slash, its query kept.
    for (path, to) in [
        ("/api/v1/me/", "/api/v1/me"),
        ("/settings/", "/settings"),
        ("/a/AbCdEfGhIjKlMnOpQrStUv/", "/a/AbCdEfGhIjKlMnOpQrStUv"),
        ("/api/v1/artifacts//?limit=5", "/api/v1/artifacts?limit=5"),
    ] {
        let resp = server.request("GET", path, &Auth::None, None, &html);
        assert_eq!(resp.status, 308, "{path}");
        assert_eq!(resp.header("location").as_deref(), Some(to), "{path}");
    }
    // Any other method is told where it belongs (clients do not all follow a 308 with a body).
    let resp = server.request("POST", "/mcp/", &Auth::None, Some(b"{}"), &[]);
    assert_eq!(resp.status, 404);
    assert!(
        resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("send the request to /mcp"),
        "{}",
        resp.text()
    );
    // A browser at an address that names nothing gets a page with a way forward; an API client,
    // and anyone under /api or /mcp, JSON.
    let page = server.request("GET", "/setting", &Auth::None, None, &html);
    assert_eq!(page.status, 404);
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(page.text().contains("Nothing here"), "{}", page.text());
    assert!(page.text().contains("href=\"/\""), "{}", page.text());
    assert_eq!(
        server.get("/setting", &Auth::None).error_code(),
        "not_found"
    );
    let api = server.request("GET", "/api/v1/nope", &Auth::None, None, &html);
    assert_eq!(api.error_code(), "not_found");
    // A name that is escaped, not markup.
    let hostile = server.request("GET", "/%3Cscript%3Ex", &Auth::None, None, &html);
    assert!(!hostile.text().contains("<script>x"), "{}", hostile.text());
    Ok(())
}

#[test]
fn head_answers_wherever_get_does_with_the_headers_and_no_body() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let k = Auth::Key(key.clone());
    let created = server.upload(
        &k,
        json!({"name": "Page", "fileName": "index.html", "content": "<p>hello</p>"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    for (path, auth) in [
        ("/api/v1/health".to_string(), &Auth::None),
        ("/api/v1/openapi.json".to_string(), &Auth::None),
        ("/login".to_string(), &Auth::None),
        (format!("/api/v1/artifacts/{share}"), &k),
        (
            format!("/api/v1/artifacts/{share}/versions/1/files/index.html"),
            &k,
        ),
    ] {
        let get = server.get(&path, auth);
        assert_eq!(get.status, 200, "GET {path}: {}", get.text());
        let head = server.request("HEAD", &path, auth, None, &[]);
        assert_eq!(head.status, 200, "HEAD {path}");
        assert_eq!(head.header("content-type"), get.header("content-type"));
        assert!(head.body.is_empty());
        // On the wire: the headers, a Content-Length that is the GET's body length, and not a
        // byte more.
        let header = match auth {
            Auth::Key(key) => format!("X-API-Key: {key}\r\n"),
            _ => String::new(),
        };
        let raw = server.raw_bytes(
            format!(
                "HEAD {path} HTTP/1.1\r\nHost: {}\r\n{header}Connection: close\r\n\r\n",
                server.host()
            )
            .as_bytes(),
            std::time::Duration::from_secs(5),
        );
        let text = String::from_utf8_lossy(&raw).to_lowercase();
        assert!(text.starts_with("http/1.1 200"), "{text}");
        assert!(
            text.contains(&format!("content-length: {}\r\n", get.body.len())),
            "HEAD {path}: {text}"
        );
        assert!(
            text.ends_with("\r\n\r\n"),
            "HEAD {path} sent a body: {text}"
        );
    }
    // HEAD is as protected as GET.
    let head = server.request(
        "HEAD",
        &format!("/api/v1/artifacts/{share}"),
        &Auth::None,
        None,
        &[],
    );
    assert_eq!(head.status, 401);
    Ok(())
}

#[test]
fn oversized_bodies_are_refused_with_413_with_or_without_content_length() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let resp = server.request(
        "POST",
        "/api/v1/agents",
        &Auth::Cookie(cookie.clone()),
        Some(big.as_bytes()),
        &[],
    );
    assert_eq!(resp.status, 413);
    assert_eq!(resp.error_code(), "payload_too_large");
    assert_eq!(
        resp.json()["error"],
        format!(
            "the request body is 2 MiB ({} bytes), 1 MiB ({} bytes) over the limit for this route, 1 MiB (1048576 bytes)",
            big.len(),
            big.len() - 1_048_576
        )
    );
    // Just over: the excess says it, where both sizes round to 1 MiB.
    let just = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 40));
    let resp = server.request(
        "POST",
        "/api/v1/agents",
        &Auth::Cookie(cookie.clone()),
        Some(just.as_bytes()),
        &[],
    );
    assert_eq!(resp.status, 413);
    assert!(
        resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("{} bytes over the limit", just.len() - 1_048_576)),
        "{}",
        resp.text()
    );

    // Chunked, no Content-Length: the cap still holds while reading.
    let mut raw = format!(
        "POST /api/v1/agents HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: ar_session={cookie}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.port
    )
    .into_bytes();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..20 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let answer = server.raw(&raw, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"));
    assert!(
        answer.contains(
            "the request body is larger than the limit for this route, 1 MiB (1048576 bytes)"
        ),
        "{answer}"
    );
    let agents = server
        .get("/api/v1/agents", &Auth::Cookie(cookie.clone()))
        .json();
    assert_eq!(agents["agents"], json!([]), "nothing stored");

    // An upload announced over its limit, by a client waiting for `100 Continue`: refused on the
    // announced length, never asked for its 80 MB.
    let raw = format!(
        "POST /api/v1/artifacts HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: ar_session={cookie}\r\nContent-Type: application/json\r\nContent-Length: 80000000\r\nExpect: 100-continue\r\n\r\n",
        server.port
    );
    let answer = server.raw(raw.as_bytes(), GIVE_UP_AFTER);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(
        answer.contains(
            "the request body is 76.2 MiB (80000000 bytes), 4.2 MiB (4502528 bytes) over the limit for this route, 72 MiB"
        ),
        "{answer}"
    );
    Ok(())
}

#[test]
fn huge_headers_get_a_json_431() -> TestResult {
    let server = Server::start();
    let huge = "a".repeat(40 * 1024);
    let resp = server.request(
        "GET",
        "/api/v1/health",
        &Auth::None,
        None,
        &[("X-Filler", &huge)],
    );
    assert_eq!(resp.status, 431);
    assert_eq!(resp.error_code(), "headers_too_large");
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("32768"));
    Ok(())
}

#[test]
fn non_utf8_and_malformed_bodies_are_400s_not_500s() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let c = Auth::Cookie(cookie);
    let bodies: Vec<&[u8]> = vec![
        b"\xff\xfe\xfd",
        b"{\"name\": \"\xc3\x28\"}",
        b"{\"name\": \"a\\ud800\"}",
        b"{\"name\": \"a\"}}",
        b"{{{{",
        b"null",
        b"\"just a string\"",
        b"{\"name\": null}",
        b"{\"name\": [\"a\"]}",
        b"{\"name\": {\"a\": 1}}",
        b"{\"name\": true}",
    ];
    for body in bodies {
        for path in [
            "/api/v1/agents",
            "/api/v1/keys",
            "/api/v1/session",
            "/api/v1/setup",
        ] {
            let resp = server.request("POST", path, &c, Some(body), &[]);
            assert!(
                (400..500).contains(&resp.status),
                "{path} {:?}: {}",
                String::from_utf8_lossy(body),
                resp.status
            );
            resp.error_code();
        }
    }
    Ok(())
}

#[test]
fn a_host_header_that_is_not_ours_is_refused_before_routing() -> TestResult {
    let server = Server::start();
    for host in [
        "attacker.example",
        "attacker.example:80",
        "127.0.0.1.nip.io",
    ] {
        let resp = server.request(
            "GET",
            "/api/v1/health",
            &Auth::None,
            None,
            &[("Host", host)],
        );
        assert_eq!(resp.status, 400, "{host}");
        assert_eq!(resp.error_code(), "host_not_allowed");
        // A browser asking for a page under that name is shown a page saying so, not JSON.
        let page = server.request(
            "GET",
            "/",
            &Auth::None,
            None,
            &[
                ("Host", host),
                ("Accept", "text/html,application/xhtml+xml"),
            ],
        );
        assert_eq!(page.status, 400, "{host}");
        assert!(
            page.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{host}: {:?}",
            page.header("content-type")
        );
        let text = page.text();
        assert!(
            text.contains("This server does not answer at this address"),
            "{text}"
        );
        assert!(text.contains("--base-url"), "{text}");
        // The API stays JSON, whatever the client accepts.
        let api = server.request(
            "GET",
            "/api/v1/health",
            &Auth::None,
            None,
            &[("Host", host), ("Accept", "text/html")],
        );
        assert_eq!(api.error_code(), "host_not_allowed");
    }
    for host in [
        format!("localhost:{}", server.port),
        format!("127.0.0.1:{}", server.port),
        "localhost".to_string(),
    ] {
        let resp = server.request(
            "GET",
            "/api/v1/health",
            &Auth::None,
            None,
            &[("Host", &host)],
        );
        assert_eq!(resp.status, 200, "{host}");
    }
    // HTTP/1.1 requires a Host; HTTP/1.0 does not (no browser sends a request without one, so
    // it cannot be a rebinding page's).
    let bare = |version: &str| {
        server
            .raw_request(
                format!("GET /api/v1/health {version}\r\nConnection: close\r\n\r\n").as_bytes(),
                GIVE_UP_AFTER,
            )
            .map(|r| r.status)
    };
    assert_eq!(bare("HTTP/1.1"), Some(400));
    assert_eq!(bare("HTTP/1.0"), Some(200));
    // The refusal says the header is missing, not that --base-url would help.
    let missing = server
        .raw_request(
            b"GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n",
            GIVE_UP_AFTER,
        )
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .unwrap_or_default();
    assert!(
        missing.contains("the request has no Host header"),
        "{missing}"
    );
    assert!(!missing.contains("--base-url"), "{missing}");
    let foreign = server
        .raw_request(
            b"GET http://attacker.example/api/v1/health HTTP/1.0\r\n\r\n",
            GIVE_UP_AFTER,
        )
        .map(|r| r.status);
    assert_eq!(
        foreign,
        Some(400),
        "an HTTP/1.0 absolute-form target is still checked"
    );
    Ok(())
}

#[test]
fn a_configured_base_url_host_is_accepted_and_used_for_links() -> TestResult {
    let server = Server::start_with(&["--base-url", "https://review.example.com/"]);
    let resp = server.request(
        "GET",
        "/api/v1",
        &Auth::None,
        None,
        &[("Host", "review.example.com")],
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["baseUrl"], "https://review.example.com");
    // The scheme's default port written out is the same host; another port is not.
    for (host, status) in [
        ("review.example.com:443", 200),
        ("review.example.com:8443", 400),
    ] {
        let resp = server.request("GET", "/api/v1", &Auth::None, None, &[("Host", host)]);
        assert_eq!(resp.status, status, "{host}: {}", resp.text());
    }
    // A base URL the server cannot build links from is refused at the start, saying why.
    for bad in [
        "nonsense",
        "https://review.example.com/reviews",
        "ftp://review.example.com",
    ] {
        let out = std::process::Command::new(BIN)
            .args(["--db", "unused.db", "--base-url", bad])
            .current_dir(server.dir.path())
            .output()?;
        assert!(!out.status.success(), "{bad} was taken");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not a public address such as"),
            "{stderr}"
        );
        assert!(
            !server.dir.path().join("unused.db").exists(),
            "nothing was made"
        );
    }
    Ok(())
}

#[test]
fn health_reads_the_database_and_hears_from_the_writer_or_says_what_failed() -> TestResult {
    let server = Server::start();
    server.setup_owner();
    assert_eq!(server.get("/api/v1/health", &Auth::None).status, 200);
    // Another process takes the write lock (as a stuck backup or CLI would): the writer cannot
    // commit, and health says so within its deadline instead of answering "ok".
    let other = rusqlite::Connection::open(&server.db)?;
    other.busy_timeout(std::time::Duration::from_secs(10))?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    let resp = server.get("/api/v1/health", &Auth::None);
    assert_eq!(resp.status, 503, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["code"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok", "reads still work: {body}");
    assert_eq!(body["checks"]["disk"], "ok", "the disk has room: {body}");
    assert!(
        body["checks"]["writer"]
            .as_str()
            .is_some_and(|w| w.contains("did not answer within")),
        "{body}"
    );
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    other.execute_batch("COMMIT")?;
    let resp = server.get("/api/v1/health", &Auth::None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        alarming_log_lines(&server.log()).is_empty(),
        "{}",
        server.log()
    );
    Ok(())
}

#[test]
fn health_says_so_when_the_database_file_is_deleted_or_replaced_under_the_server() -> TestResult {
    let server = Server::start();
    let owner = Auth::Cookie(server.setup_owner());
    let moved = server.dir.path().join("moved-away.db");
    std::fs::rename(&server.db, &moved)?;
    // Writes are refused (the writer looks at most every 100 ms), rather than made into a file
    // that the next start will not see.
    let write = |name: &str| server.post("/api/v1/agents", &owner, &json!({ "name": name }));
    let mut refused = write("during 0");
    for i in 1..200 {
        if refused.status == 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        refused = write(&format!("during {i}"));
    }
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.error_code(), "unavailable");
    assert!(
        refused.text().contains("deleted or replaced"),
        "{}",
        refused.text()
    );
    let resp = server.get("/api/v1/health", &Auth::None);
    assert_eq!(resp.status, 503, "{}", resp.text());
    let body = resp.json();
    let database = body["checks"]["database"].as_str().unwrap_or_default();
    assert!(
        database.contains("was deleted while the server runs"),
        "{body}"
    );
    // Another file put in its place is not the one the server has open either.
    std::fs::copy(&moved, &server.db)?;
    let body = server.get("/api/v1/health", &Auth::None).json();
    assert!(
        body["checks"]["database"]
            .as_str()
            .unwrap_or_default()
            .contains("was replaced while the server runs"),
        "{body}"
    );
    // The very file back in its place: healthy again, and writes are made again at once (while
    // the file is away, the writer looks at every batch).
    std::fs::rename(&moved, &server.db)?;
    assert_eq!(server.get("/api/v1/health", &Auth::None).status, 200);
    let made = write("after");
    assert_eq!(made.status, 201, "{}", made.text());
    Ok(())
}
