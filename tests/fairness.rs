//! Connection fairness (issue 14, item 1), over raw sockets against the real binary: a request
//! body must keep arriving (a trickle is answered 408 and cut off, nothing is stored; an upload
//! that keeps sending may take longer than the body timeout), and one client address cannot take
//! the server's connections: beyond its share it gets an immediate 429 with `Retry-After` while
//! other addresses are served. Deadlines bound how long the test waits; nothing asserts speed.

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Closing sooner than this would mean an immediate close, not the body timeout.
const NOT_BEFORE: Duration = Duration::from_secs(1);

fn assert_healthy(server: &Server) {
    let resp = server.get("/api/v1/health", &Auth::None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let alarming = alarming_log_lines(&server.log());
    assert!(alarming.is_empty(), "{}", alarming.join("\n"));
}

/// Headers of a `POST path` announcing `length` body bytes.
fn post_head(server: &Server, path: &str, length: usize, extra: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n",
        server.host()
    )
    .into_bytes()
}

#[test]
fn a_request_body_that_trickles_is_answered_408_and_cut_off() -> TestResult {
    let server = Server::start_with(&["--body-timeout", "2"]);
    server.setup_owner();
    let db = server.open_db();
    let before = db_snapshot(&db);
    let audit_before: i64 = db.query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))?;

    // Headers and one byte of a sign-in, then nothing (no account needed to do this).
    let mut stream = server.connect();
    let started = Instant::now();
    stream.write_all(&post_head(&server, "/api/v1/session", 60, ""))?;
    stream.write_all(b"{")?;
    let ended = wait_for_close(&mut stream, started)?;
    eprintln!("a one-byte body: cut after {:?}", ended.after);
    assert!(ended.after > NOT_BEFORE, "cut after {:?}", ended.after);
    let answer = parse_responses(&ended.answer)
        .into_iter()
        .next()
        .ok_or("no answer before the close")?;
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert_eq!(answer.header("connection"), Some("close"));
    let body = answer.json().ok_or("a JSON error")?;
    assert_eq!(body["code"], "request_timeout");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("1 bytes")
            && message.contains("--body-timeout")
            && message.contains("2 s"),
        "the message says what arrived and the limit: {message}"
    );

    if let Some(diff) = snapshot_diff(&before, &db_snapshot(&db)) {
        panic!("a refused body changed the database:\n{diff}");
    }
    let audit_after: i64 = db.query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))?;
    assert_eq!(audit_after, audit_before, "no sign-in was attempted");
    assert_healthy(&server);
    Ok(())
}

/// A JSON upload of an HTML page of about `size` bytes.
fn upload_body(size: usize) -> Vec<u8> {
    let page = format!(
        "<!doctype html><p>{}</p>",
        "slow but steady ".repeat(size / 16)
    );
    json!({"name": "Steady", "fileName": "steady.html", "content": page})
        .to_string()
        .into_bytes()
}

#[test]
fn an_upload_may_take_longer_than_the_body_timeout_while_its_bytes_keep_arriving() -> TestResult {
    // 1 s for every body, plus 1 s per 16 KiB received.
    let server = Server::start_with(&["--body-timeout", "1", "--min-body-rate", "16KiB"]);
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let key_header = format!("X-API-Key: {key}\r\nConnection: close\r\n");

    // 96 KiB in 8 KiB pieces every 200 ms: about 2.4 s, well past the 1 s timeout, always ahead
    // of the pace (40 KiB/s against 16 KiB/s).
    let body = upload_body(96 * 1024);
    let mut stream = server.connect();
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let started = Instant::now();
    stream.write_all(&post_head(
        &server,
        "/api/v1/artifacts",
        body.len(),
        &key_header,
    ))?;
    for piece in body.chunks(8 * 1024) {
        std::thread::sleep(Duration::from_millis(200));
        stream.write_all(piece)?;
    }
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut out);
    let took = started.elapsed();
    let answer = parse_responses(&out)
        .into_iter()
        .next()
        .ok_or("no answer")?;
    eprintln!("a steady upload took {took:?}");
    assert!(
        took > Duration::from_secs(1),
        "it outlasted the body timeout"
    );
    assert_eq!(answer.status, 201, "{}", answer.text());
    let share = answer.json().ok_or("JSON")?["shareToken"]
        .as_str()
        .ok_or("a share token")?
        .to_string();
    let files = server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files"),
        &Auth::Key(key.clone()),
    );
    assert_eq!(files.json()["files"][0]["path"], "steady.html");

    // The same upload stalling half-way is cut off, and leaves nothing behind.
    let rows = upload_rows(&server);
    let mut stream = server.connect();
    let started = Instant::now();
    stream.write_all(&post_head(
        &server,
        "/api/v1/artifacts",
        body.len(),
        &key_header,
    ))?;
    stream.write_all(&body[..body.len() / 2])?;
    let ended = wait_for_close(&mut stream, started)?;
    let answer = parse_responses(&ended.answer)
        .into_iter()
        .next()
        .ok_or("no answer to the stalled upload")?;
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert_eq!(upload_rows(&server), rows, "nothing of it was stored");
    assert_healthy(&server);
    Ok(())
}

#[test]
fn one_address_cannot_take_every_connection_with_slow_bodies() -> TestResult {
    let server = Server::start_with(&["--body-timeout", "5"]);
    // 300 connections from 127.0.0.1, each with the headers and one byte of a sign-in body. The
    // server accepts them in order: the first 256 (the default share of an address) are held
    // until their body times out, the others are answered at once.
    let opened_at = Instant::now();
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = server.connect();
        stream.write_all(&post_head(&server, "/api/v1/session", 60, ""))?;
        stream.write_all(b"{")?;
        held.push(stream);
    }
    let over: Vec<_> = held.split_off(256);
    for mut stream in over {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut out);
        let resp = parse_responses(&out)
            .into_iter()
            .next()
            .ok_or("a connection over the share got no complete answer")?;
        assert_eq!(resp.status, 429, "{}", resp.text());
        assert_eq!(resp.header("retry-after"), Some("1"));
        let body = resp.json().ok_or("JSON")?;
        assert_eq!(body["code"], "too_many_connections");
        assert!(body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-connections-per-address"));
    }
    // The refusals did not wait for a slot to free: all 256 were still held when they came
    // (checked while the check can tell: the bodies time out 5 s after they started).
    if opened_at.elapsed() < Duration::from_secs(4) {
        let open = held.iter().filter(|s| still_open(s)).count();
        assert_eq!(open, 256, "held connections closed early");
    } else {
        eprintln!(
            "opening took {:?}; not checking the held connections",
            opened_at.elapsed()
        );
    }

    // Meanwhile another address is served as usual.
    let health = server
        .raw_get_on(
            server.connect_from(Ipv4Addr::new(127, 0, 0, 2)),
            "/api/v1/health",
        )
        .ok_or("no answer from another address")?;
    assert_eq!(health.status, 200, "{}", health.text());

    // Once the held bodies time out, the address is served again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = server.raw_get_on(server.connect(), "/api/v1/health");
        if answer.as_ref().is_some_and(|a| a.status == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "127.0.0.1 was not served again: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_healthy(&server);
    Ok(())
}

#[test]
fn a_client_that_reads_nothing_of_its_downloads_is_cut_off() -> TestResult {
    use std::io::Read;
    let server = Server::start_with(&["--send-timeout", "1"]);
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let page = format!("<p>{}</p>", "x".repeat(4_900_000));
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Big", "fileName": "big.html", "content": page}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    // Twelve downloads of ~5 MB asked at once on one connection (about 59 MB, more than the
    // sockets' buffers hold), then nothing read for a while.
    let mut client = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, server.port))?;
    let get = format!(
        "GET /api/v1/artifacts/{share}/versions/1/files/big.html HTTP/1.1\r\nHost: {}\r\nX-API-Key: {key}\r\n\r\n",
        server.host()
    );
    client.write_all(get.repeat(12).as_bytes())?;
    std::thread::sleep(Duration::from_secs(4));
    // What was sent before the server gave up is there to read; then the connection ends.
    client.set_read_timeout(Some(GIVE_UP_AFTER))?;
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = loop {
        match client.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    assert!(ended, "the connection was closed");
    assert!(
        total < 12 * page.len(),
        "the server stopped sending: {total} bytes of {}",
        12 * page.len()
    );
    assert_healthy(&server);
    Ok(())
}

#[test]
fn large_files_are_sent_whole_a_slice_at_a_time_without_being_held_in_memory() -> TestResult {
    use std::io::Read;
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let ci = Auth::Key(key.clone());
    // Stored in parts of 1 MiB, the last one short; read back in slices that are not parts.
    let data = noise(1, 4 * 1024 * 1024 + 12_345);
    let zip = zips::zip_of(&[("index.html", b"<h1>Data</h1>"), ("data.bin", &data)])?;
    let made = server.upload_multipart(
        "/api/v1/artifacts",
        &ci,
        &[("name", None, b"Data"), ("file", Some("site.zip"), &zip)],
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let share = made.json()["shareToken"]
        .as_str()
        .ok_or("token")?
        .to_string();
    // Whole and exact, through the API and through the review frame's folder.
    let path = format!("/api/v1/artifacts/{share}/versions/1/files/data.bin");
    let grant = server.view_grant(&Auth::Cookie(cookie.clone()), &share, 1);
    for (url, auth) in [
        (path.clone(), &ci),
        (format!("{grant}/data.bin"), &Auth::None),
    ] {
        let got = server.get(&url, auth);
        assert_eq!(got.status, 200, "{url}");
        assert_eq!(
            got.header("content-length"),
            Some(data.len().to_string()),
            "{url}"
        );
        assert!(got.body == data, "{url}: the bytes differ");
    }
    // Forty downloads whose clients read their headers and then nothing: the server holds a
    // slice of each, not the file (whole, they were 40 × 4 MiB).
    let before = server.memory_kib("VmRSS")?;
    let mut stalled = Vec::new();
    for _ in 0..40 {
        // A small receive window, so that the kernel's buffers cannot take a whole file off the
        // server's hands.
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.set_recv_buffer_size(4096)?;
        socket.connect(&std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, server.port)).into())?;
        let mut client: std::net::TcpStream = socket.into();
        client.write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nX-API-Key: {key}\r\n\r\n",
                server.host()
            )
            .as_bytes(),
        )?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            client.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        stalled.push(client);
    }
    let grown_mib = server.memory_kib("VmRSS")?.saturating_sub(before) / 1024;
    eprintln!("40 stalled downloads: {grown_mib} MiB more resident");
    assert!(
        grown_mib < 64,
        "40 stalled downloads of a 4 MiB file took {grown_mib} MiB more"
    );
    drop(stalled);
    assert_healthy(&server);
    Ok(())
}
