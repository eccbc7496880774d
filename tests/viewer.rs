//! The artifact viewer over HTTP: a signed-in reader is redirected to a viewing grant, every file is
//! served under it without cookies and with the sandbox headers, Markdown is rendered, and the
//! grant dies with the session, the version or the artifact.

mod common;

use common::zips::zip_of;
use common::*;
use serde_json::json;

struct Site {
    server: Server,
    cookie: String,
    key: String,
    share: String,
}

fn site() -> Site {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let zip = zip_of(&[
        (
            "site/index.html",
            b"<link rel=stylesheet href=css/site.css><script src=app.js></script><h1>Hello</h1>"
                .as_slice(),
        ),
        ("site/css/site.css", b"h1 { color: rgb(0, 128, 0) }"),
        ("site/app.js", b"document.title = 'ran'"),
        ("site/docs/README.md", b"# Guide\n\nSome *text*."),
        ("site/docs/index.html", b"<p>docs index</p>"),
    ])
    .expect("a test archive");
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Site", "fileName": "site.zip", "content": b64(&zip)}),
    );
    let share = created["shareToken"].as_str().expect("token").to_string();
    Site {
        server,
        cookie,
        key,
        share,
    }
}

/// Opens version `n` and returns the grant path it redirects to.
fn open(s: &Site, cookie: &str, n: u32, path: &str) -> String {
    let resp = s.server.get(
        &format!("/a/{}/v/{n}/{path}", s.share),
        &Auth::Cookie(cookie.to_string()),
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    resp.header("location").expect("a redirect")
}

#[test]
fn a_signed_in_reader_is_sent_to_a_grant_that_serves_every_file_without_cookies() -> TestResult {
    let s = site();
    let location = open(&s, &s.cookie, 1, "");
    let grant = location
        .strip_prefix("/v/")
        .and_then(|r| r.strip_suffix("/index.html"))
        .ok_or("grant path")?
        .to_string();
    assert!(grant.len() >= 22, "at least 128 bits: {grant}");
    assert!(
        !contains(&database_bytes(&s.server.db), grant.as_bytes()),
        "the grant is stored hashed"
    );

    let page = s.server.get(&location, &Auth::None);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<h1>Hello</h1>"));
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.header("content-security-policy").as_deref(),
        Some("sandbox allow-scripts allow-popups allow-forms")
    );
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(page.header("cache-control").as_deref(), Some("private"));
    assert_eq!(
        page.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(page.header("set-cookie").is_none());

    let css = s
        .server
        .get(&format!("/v/{grant}/css/site.css"), &Auth::None);
    assert_eq!(css.status, 200);
    assert_eq!(
        css.header("content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(
        css.header("content-security-policy").as_deref(),
        Some("sandbox allow-scripts allow-popups allow-forms")
    );
    let js = s.server.get(&format!("/v/{grant}/app.js"), &Auth::None);
    assert_eq!(
        js.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        s.server.get(&format!("/v/{grant}/"), &Auth::None).text(),
        page.text(),
        "the root is the entry point"
    );
    assert_eq!(
        s.server
            .get(&format!("/v/{grant}/docs/"), &Auth::None)
            .text(),
        "<p>docs index</p>"
    );
    assert_eq!(
        s.server
            .get(&format!("/v/{grant}/docs"), &Auth::None)
            .text(),
        "<p>docs index</p>"
    );
    assert_eq!(
        s.server
            .get(&format!("/v/{grant}/missing.png"), &Auth::None)
            .status,
        404
    );

    // Caching: the ETag is the content hash.
    let etag = css.header("etag").ok_or("etag")?;
    let again = s.server.request(
        "GET",
        &format!("/v/{grant}/css/site.css"),
        &Auth::None,
        None,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    Ok(())
}

#[test]
fn markdown_is_rendered_for_viewing_and_raw_through_the_api() -> TestResult {
    let s = site();
    let location = open(&s, &s.cookie, 1, "docs/README.md");
    assert!(location.ends_with("/docs/README.md"));
    let page = s.server.get(&location, &Auth::None);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("<h1>Guide</h1>"), "{}", page.text());
    assert!(page.text().contains("<em>text</em>"));
    assert!(page
        .text()
        .to_ascii_lowercase()
        .starts_with("<!doctype html>"));
    let raw = s.server.get(
        &format!(
            "/api/v1/artifacts/{}/versions/1/files/docs/README.md",
            s.share
        ),
        &Auth::Key(s.key.clone()),
    );
    assert_eq!(raw.text(), "# Guide\n\nSome *text*.");
    Ok(())
}

#[test]
fn the_share_link_opens_the_latest_version() -> TestResult {
    let s = site();
    let resp = s.server.post(
        &format!("/api/v1/artifacts/{}/versions", s.share),
        &Auth::Key(s.key.clone()),
        &json!({"fileName": "index.html", "content": "<p>v2</p>"}),
    );
    assert_eq!(resp.status, 201);
    let resp = s
        .server
        .get(&format!("/a/{}", s.share), &Auth::Cookie(s.cookie.clone()));
    assert_eq!(resp.status, 303);
    assert_eq!(
        resp.header("location"),
        Some(format!("/a/{}/v/2/", s.share))
    );
    let location = open(&s, &s.cookie, 2, "");
    assert_eq!(s.server.get(&location, &Auth::None).text(), "<p>v2</p>");
    Ok(())
}

#[test]
fn readers_without_a_session_are_sent_to_sign_in_and_strangers_get_404() -> TestResult {
    let s = site();
    let path = format!("/a/{}/v/1/", s.share);
    for auth in [Auth::None, Auth::Key(s.key.clone())] {
        let resp = s.server.get(&path, &auth);
        assert_eq!(resp.status, 303);
        let location = resp.header("location").ok_or("location")?;
        assert!(location.starts_with("/login?next="), "{location}");
        assert!(location.contains(&s.share));
    }
    let eve = s
        .server
        .add_user("eve@example.com", "Eve", "eve password 1");
    let resp = s.server.get(&path, &Auth::Cookie(eve.clone()));
    assert_eq!(resp.status, 404);
    assert_eq!(
        s.server
            .get(&format!("/a/{}", s.share), &Auth::Cookie(eve))
            .status,
        404
    );
    Ok(())
}

#[test]
fn a_grant_stops_working_after_sign_out() -> TestResult {
    let s = site();
    let session = s.server.sign_in("ada@example.com", OWNER_PASSWORD);
    let location = open(&s, &session, 1, "");
    assert_eq!(s.server.get(&location, &Auth::None).status, 200);
    assert_eq!(
        s.server
            .delete("/api/v1/session", &Auth::Cookie(session))
            .status,
        200
    );
    assert_eq!(s.server.get(&location, &Auth::None).status, 404);
    // Grants from other sessions are untouched.
    let other = open(&s, &s.cookie, 1, "");
    assert_eq!(s.server.get(&other, &Auth::None).status, 200);
    Ok(())
}

#[test]
fn a_grant_stops_working_when_its_version_or_artifact_is_deleted() -> TestResult {
    let s = site();
    let k = Auth::Key(s.key.clone());
    s.server.post(
        &format!("/api/v1/artifacts/{}/versions", s.share),
        &k,
        &json!({"fileName": "index.html", "content": "<p>v2</p>"}),
    );
    let v1 = open(&s, &s.cookie, 1, "");
    let v2 = open(&s, &s.cookie, 2, "");
    assert_eq!(
        s.server
            .delete(&format!("/api/v1/artifacts/{}/versions/1", s.share), &k)
            .status,
        200
    );
    assert_eq!(s.server.get(&v1, &Auth::None).status, 404);
    assert_eq!(s.server.get(&v2, &Auth::None).status, 200);
    assert_eq!(
        s.server
            .delete(&format!("/api/v1/artifacts/{}", s.share), &k)
            .status,
        200
    );
    assert_eq!(s.server.get(&v2, &Auth::None).status, 404);
    assert_eq!(
        s.server
            .get("/v/not-a-real-grant-token-at-all/index.html", &Auth::None)
            .status,
        404
    );
    Ok(())
}

#[test]
fn a_path_with_encoded_dot_segments_cannot_climb_out_of_the_grant() -> TestResult {
    let s = site();
    // Decoded, these are `../../v/elsewhere/page.html`: put into the redirect after the grant,
    // the browser would resolve them to another grant's files.
    for path in [
        "..%2f..%2fv%2felsewhere%2fpage.html",
        "%2e%2e%2F%2e%2e%2Fv%2Felsewhere%2Fpage.html",
        "docs%2f..%2f..%2f..%2fsettings",
        "..%5c..%5cv%5celsewhere",
    ] {
        let resp = s.server.get(
            &format!("/a/{}/v/1/{path}", s.share),
            &Auth::Cookie(s.cookie.clone()),
        );
        assert_eq!(resp.status, 404, "{path}: {:?}", resp.header("location"));
        assert_eq!(resp.error_code(), "not_found");
    }
    // Ordinary paths still open.
    assert!(open(&s, &s.cookie, 1, "docs/README.md").ends_with("/docs/README.md"));
    Ok(())
}
