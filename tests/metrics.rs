//! `GET /metrics` (issue 16): off unless `--metrics-addr` is given, then on its own listener only,
//! in the Prometheus text format, with what the server did counted.

mod common;

use std::io::{Read, Write};

use common::*;
use serde_json::json;

#[test]
fn without_metrics_addr_nothing_serves_metrics() {
    let server = Server::start();
    assert!(!server.log().contains("metrics at"));
    let resp = server.get("/metrics", &Auth::None);
    assert_eq!(resp.status, 404, "not on the API's port");
    assert_eq!(resp.error_code(), "not_found");
}

#[test]
fn the_debug_log_names_each_requests_route_and_status_never_its_tokens() -> TestResult {
    let server = Server::start_at_log_level("debug");
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "logged"}));
    let auth = Auth::Key(key.clone());
    let made = server.upload(
        &auth,
        json!({"name": "Doc", "fileName": "d.html", "content": "<p>Hi</p>"}),
    );
    let share = made["shareToken"].as_str().ok_or("token")?.to_string();
    // A quote is placed by parsing the page (html5ever), whose own debug lines would hold it.
    let quoted = server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &auth,
        &json!({"content": "Hello?", "quote": "Hi"}),
    );
    assert_eq!(quoted.status, 201, "{}", quoted.text());
    let link = server.share_link(&auth, &share, json!({}));
    assert_eq!(
        server
            .get(&format!("/api/v1/share/{link}"), &Auth::None)
            .status,
        200
    );
    assert_eq!(server.get("/api/v1/nothing-here", &auth).status, 404);
    // The log is read by another thread, a moment behind the answers.
    for line in [
        "GET /api/v1/share/{linkToken} from 127.0.0.1: 200 in",
        "POST /api/v1/artifacts from 127.0.0.1: 201 in",
        "GET unmatched from 127.0.0.1: 404 in",
    ] {
        assert!(
            server.wait_for_log(line, 1) >= 1,
            "{line}: {}",
            server.log()
        );
    }
    let log = server.log();
    assert!(
        !log.contains("html5ever") && !log.contains("hyper"),
        "the libraries stay at warn: {log}"
    );
    for secret in [&link, &share, &key, &cookie] {
        assert!(!log.contains(secret.as_str()), "a token in the log");
    }
    Ok(())
}

#[test]
fn metrics_count_requests_by_route_and_status_and_report_the_store() -> TestResult {
    let server = Server::start_with(&["--metrics-addr", "127.0.0.1:0"]);
    let url = metrics_url(&server);
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"));
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "metrics"}));
    let auth = Auth::Key(key.clone());
    for _ in 0..3 {
        assert_eq!(server.get("/api/v1/me", &auth).status, 200);
    }
    // The key with its last character changed (to one it is not already).
    let (head, last) = key.split_at(key.len() - 1);
    let wrong = Auth::Key(format!("{head}{}", if last == "x" { "y" } else { "x" }));
    assert_eq!(server.get("/api/v1/me", &wrong).status, 401);
    let page = "<p>Monthly revenue</p>".repeat(100);
    let created = server.upload(
        &auth,
        json!({"name": "Counted", "fileName": "index.html", "content": page}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    let comment = server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &auth,
        &json!({"content": "counted", "target": {"source": "index.html"}}),
    );
    assert_eq!(comment.status, 201, "{}", comment.text());
    assert_eq!(server.get("/no/such/route", &auth).status, 404);
    // An MCP notification is answered 202, counted as such.
    let notified = server.request(
        "POST",
        "/mcp",
        &auth,
        Some(br#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#),
        &[
            ("MCP-Protocol-Version", "2025-06-18"),
            ("Accept", "application/json, text/event-stream"),
        ],
    );
    assert_eq!(notified.status, 202, "{}", notified.text());

    let (status, kind, text) = scrape(&url);
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let requests = |method: &str, route: &str, status: u16| {
        sample(
            &text,
            &format!(
                "artifact_review_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("GET", "/api/v1/me", 200), Some(3.0), "{text}");
    assert!(
        text.contains(&format!(
            "artifact_review_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert_eq!(requests("GET", "/api/v1/me", 401), Some(1.0));
    assert_eq!(requests("POST", "/api/v1/artifacts", 201), Some(1.0));
    assert_eq!(
        requests("POST", "/api/v1/artifacts/{shareToken}/comments", 201),
        Some(1.0)
    );
    assert_eq!(requests("", "unmatched", 404), Some(1.0));
    assert_eq!(requests("POST", "/mcp", 202), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "artifact_review_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/me\"}"
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            "artifact_review_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",le=\"+Inf\"}"
        ),
        Some(4.0)
    );
    assert!(
        sample(&text, "artifact_review_upload_bytes_total").is_some_and(|b| b >= page.len() as f64),
        "upload bytes: {text}"
    );
    assert!(sample(
        &text,
        "artifact_review_writer_commit_duration_seconds_count"
    )
    .is_some_and(|n| n >= 2.0));
    assert_eq!(
        sample(&text, "artifact_review_writer_queue_depth"),
        Some(0.0)
    );
    assert!(sample(&text, "artifact_review_identity_cache_hits_total").is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "artifact_review_identity_cache_hit_ratio")
        .is_some_and(|r| r > 0.0 && r <= 1.0));
    assert!(sample(&text, "artifact_review_open_connections").is_some());
    assert_eq!(sample(&text, "artifact_review_event_streams"), Some(0.0));
    let db_size = std::fs::metadata(&server.db)?.len() as f64;
    assert_eq!(
        sample(&text, "artifact_review_database_size_bytes"),
        Some(db_size)
    );
    assert!(sample(&text, "artifact_review_wal_size_bytes").is_some());
    assert!(
        !text.contains("litestream"),
        "no replication metrics without Litestream"
    );
    // Nothing secret is exposed: no key, no share token.
    assert!(!text.contains(&key) && !text.contains(share));

    let (status, _, _) = scrape(&url.replace("/metrics", "/api/v1/me"));
    assert_eq!(status, 404, "only /metrics is served there");
    Ok(())
}

#[test]
fn refusals_before_routing_are_counted() -> TestResult {
    let server = Server::start_with(&[
        "--metrics-addr",
        "127.0.0.1:0",
        "--max-connections-per-address",
        "1",
    ]);
    let url = metrics_url(&server);
    // Each client its own loopback address, so that no slot still held by the one before counts.
    let ask = |from: [u8; 4], request: &[u8]| {
        let mut stream = server.connect_from(from.into());
        stream
            .set_read_timeout(Some(GIVE_UP_AFTER))
            .expect("timeout");
        stream.write_all(request).expect("send");
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        parse_responses(&out).into_iter().next().map(|r| r.status)
    };
    // Another host's name (DNS rebinding) and oversized headers never reach the route table.
    let other_host = b"GET /api/v1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(ask([127, 0, 0, 2], other_host), Some(400));
    let big = format!(
        "GET /api/v1 HTTP/1.1\r\nHost: {}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        server.host(),
        "a".repeat(40_000)
    );
    assert_eq!(ask([127, 0, 0, 3], big.as_bytes()), Some(431));
    // A second connection from an address while its first is open.
    let held = server.connect_from([127, 0, 0, 4].into());
    let refused = server
        .raw_get_on(server.connect_from([127, 0, 0, 4].into()), "/api/v1/health")
        .ok_or("an answer over the address's share")?;
    assert_eq!(refused.status, 429);
    drop(held);

    let (status, _, text) = scrape(&url);
    assert_eq!(status, 200);
    let unmatched = |status: u16| {
        sample(
            &text,
            &format!(
                "artifact_review_http_requests_total{{method=\"\",route=\"unmatched\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(unmatched(400), Some(1.0), "{text}");
    assert_eq!(unmatched(431), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "artifact_review_refused_connections_total{cap=\"address\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "artifact_review_refused_connections_total{cap=\"server\"}"
        ),
        Some(0.0)
    );
    Ok(())
}

#[test]
fn metrics_on_every_interface_are_served_with_a_warning() {
    let server = Server::start_with(&["--metrics-addr", "0.0.0.0:0"]);
    assert!(
        server
            .log()
            .contains("the metrics (no authentication) are served on every interface"),
        "{}",
        server.log()
    );
}
