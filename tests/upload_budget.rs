//! The memory budget for uploads (issue 14, item 2), against the real binary: sixteen 20 MB
//! uploads sent at once by one key. Each holds its request open (headers and the start of its
//! body) until the server has answered the ones it cannot admit: those get 429 with `Retry-After`
//! and a message naming the budget, the others then finish and are stored, the refused ones
//! succeed when retried, and the server's peak resident memory stays within the budget. Nothing
//! asserts speed: the deadlines only bound how long the test waits.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::zips::stored;
use common::*;
use serde_json::json;

const UPLOADS: usize = 16;
/// The default budget (`--memory-budget`), 400 MiB, admits 12 uploads: (400 - 96) / 24.
const ADMITTED: usize = 12;
const BUDGET_KIB: u64 = 400 * 1024;
const FILES: usize = 4;
const FILE_BYTES: usize = 5 * 1024 * 1024;

/// A stored (uncompressed) ZIP of an index page and four 5 MB files.
fn site(upload: usize) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("index.html", stored())?;
    w.write_all(format!("<h1>site {upload}</h1>").as_bytes())?;
    for file in 0..FILES {
        w.start_file(format!("data/{file}.bin"), stored())?;
        w.write_all(&noise((upload * FILES + file) as u64 + 1, FILE_BYTES))?;
    }
    Ok(w.finish()?.into_inner())
}

enum Outcome {
    /// Answered before its body was sent.
    Refused(usize, RawResp),
    /// Answered after all of it.
    Stored(usize, RawResp),
}

/// Sends the headers and the first 64 KiB of an upload, then waits: for an early answer, or for
/// `go`, when it sends the rest and reads the answer.
fn held_upload(
    server: &Server,
    key: &str,
    upload: usize,
    content_type: &str,
    body: &[u8],
    go: &AtomicBool,
) -> Result<Outcome, String> {
    let mut stream = server.connect();
    let head = format!(
        "POST /api/v1/artifacts HTTP/1.1\r\nHost: {}\r\nX-API-Key: {key}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.host(),
        body.len()
    );
    let start = 64 * 1024;
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body[..start]))
        .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) if !answer.is_empty() => {
                if !parse_responses(&answer).is_empty() {
                    break;
                }
            }
            Err(_) if go.load(Ordering::SeqCst) => {
                stream
                    .write_all(&body[start..])
                    .map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(120)))
                    .map_err(|e| e.to_string())?;
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
                let resp = parse_responses(&rest)
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("upload {upload}: no answer to the whole body"))?;
                return Ok(Outcome::Stored(upload, resp));
            }
            Err(_) => {}
        }
    }
    let resp = parse_responses(&answer)
        .into_iter()
        .next()
        .ok_or_else(|| format!("upload {upload}: closed without an answer"))?;
    Ok(Outcome::Refused(upload, resp))
}

#[test]
fn sixteen_parallel_uploads_stay_within_the_memory_budget_and_the_excess_succeeds_on_retry(
) -> TestResult {
    // Bodies held open for the whole test must not meet the body deadline.
    let server = Arc::new(Server::start_with(&["--body-timeout", "600"]));
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let bodies: Vec<(String, Vec<u8>)> = (0..UPLOADS)
        .map(|i| {
            let zip = site(i)?;
            let name = format!("site {i}");
            Ok(multipart(&[
                ("file", Some("site.zip"), &zip[..]),
                ("name", None, name.as_bytes()),
            ]))
        })
        .collect::<Result<_, zip::result::ZipError>>()?;
    let bodies = Arc::new(bodies);

    let go = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..UPLOADS)
        .map(|i| {
            let (server, key, bodies, go, tx) = (
                server.clone(),
                key.clone(),
                bodies.clone(),
                go.clone(),
                tx.clone(),
            );
            std::thread::spawn(move || {
                let (content_type, body) = &bodies[i];
                let _ = tx.send(held_upload(&server, &key, i, content_type, body, &go));
            })
        })
        .collect();
    drop(tx);

    // The uploads beyond the budget are answered while every body is still unsent.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut refused = Vec::new();
    while refused.len() < UPLOADS - ADMITTED {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left)?? {
            Outcome::Refused(i, resp) => refused.push((i, resp)),
            Outcome::Stored(i, resp) => {
                return Err(format!("upload {i} answered {} before `go`", resp.status).into())
            }
        }
    }
    go.store(true, Ordering::SeqCst);
    let mut stored_ok = Vec::new();
    for outcome in rx {
        match outcome? {
            Outcome::Stored(i, resp) => {
                assert_eq!(resp.status, 201, "upload {i}: {}", resp.text());
                stored_ok.push(i);
            }
            Outcome::Refused(i, resp) => {
                return Err(format!(
                    "upload {i}, admitted, answered {} early: {}",
                    resp.status,
                    resp.text()
                )
                .into())
            }
        }
    }
    for thread in threads {
        thread.join().map_err(|_| "an upload thread panicked")?;
    }
    assert_eq!(stored_ok.len(), ADMITTED, "admitted: {stored_ok:?}");
    for (i, resp) in &refused {
        assert_eq!(resp.status, 429, "upload {i}: {}", resp.text());
        assert!(
            resp.header("retry-after").is_some(),
            "upload {i} has no Retry-After"
        );
        let body = resp.json().ok_or("a JSON error")?;
        assert_eq!(body["code"], "too_many_requests");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("memory budget of 400 MiB") && message.contains("--memory-budget"),
            "{message}"
        );
    }

    // Retried, the refused uploads are stored too.
    for (i, _) in &refused {
        let (content_type, body) = &bodies[*i];
        let resp = server.request(
            "POST",
            "/api/v1/artifacts",
            &Auth::Key(key.clone()),
            Some(body),
            &[("Content-Type", content_type)],
        );
        assert_eq!(resp.status, 201, "retry of upload {i}: {}", resp.text());
    }

    let db = server.open_db();
    let artifacts: i64 = db.query_row("SELECT count(*) FROM artifacts", [], |r| r.get(0))?;
    let stored_bytes: i64 = db.query_row("SELECT sum(size) FROM blobs", [], |r| r.get(0))?;
    assert_eq!(artifacts, UPLOADS as i64);
    assert!(
        stored_bytes >= (UPLOADS * FILES * FILE_BYTES) as i64,
        "{stored_bytes} bytes stored"
    );
    let peak = server.memory_kib("VmHWM")?;
    eprintln!(
        "peak RSS with {UPLOADS} parallel uploads: {} MiB",
        peak / 1024
    );
    assert!(
        peak <= BUDGET_KIB,
        "peak RSS {} MiB is over the 400 MiB budget",
        peak / 1024
    );
    Ok(())
}
