//! The artifact viewer over HTTP: the review page gets a viewing grant for a signed-in reader,
//! every file is served under it without cookies and with the sandbox headers, every HTML document
//! (Markdown rendered too) starts with the review bridge, and the grant dies with the session, the
//! version or the artifact, after which the frame gets an HTML page saying so.

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

/// A grant for version `n` (as the review page gets one) and the address of `path` under it.
fn open(s: &Site, cookie: &str, n: i64, path: &str) -> String {
    let folder = s
        .server
        .view_grant(&Auth::Cookie(cookie.to_string()), &s.share, n);
    format!("{folder}/{path}")
}

/// The tag every served HTML document starts with (after its doctype).
fn bridge_tag(s: &Site) -> String {
    let page = s
        .server
        .get(&open(s, &s.cookie, 1, "docs/index.html"), &Auth::None);
    let text = page.text();
    let end = text.find("</script>").expect("a bridge tag") + "</script>".len();
    text[..end].to_string()
}

const SANDBOX: &str = "sandbox allow-scripts allow-popups allow-forms";

#[test]
fn a_signed_in_reader_gets_a_grant_that_serves_every_file_without_cookies() -> TestResult {
    let s = site();
    let location = open(&s, &s.cookie, 1, "index.html");
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
        Some(SANDBOX)
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
        Some(SANDBOX)
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
    let tag = bridge_tag(&s);
    assert_eq!(
        s.server
            .get(&format!("/v/{grant}/docs/"), &Auth::None)
            .text(),
        format!("{tag}<p>docs index</p>")
    );
    assert_eq!(
        s.server
            .get(&format!("/v/{grant}/docs"), &Auth::None)
            .text(),
        format!("{tag}<p>docs index</p>")
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
fn reloading_the_review_page_cannot_grow_the_grants_a_session_keeps() -> TestResult {
    let s = site();
    let folders: Vec<String> = (0..40)
        .map(|_| {
            s.server
                .view_grant(&Auth::Cookie(s.cookie.clone()), &s.share, 1)
        })
        .collect();
    let kept: i64 = s
        .server
        .open_db()
        .query_row("SELECT count(*) FROM view_grants", [], |r| r.get(0))?;
    assert_eq!(kept, 32, "the session's newest 32 for this version");
    // The newest work; the oldest ended (a tab holding one renews it, as after a sign-in).
    for folder in &folders[8..] {
        let page = s.server.get(&format!("{folder}/index.html"), &Auth::None);
        assert_eq!(page.status, 200, "{folder}");
    }
    let oldest = s
        .server
        .get(&format!("{}/index.html", folders[0]), &Auth::None);
    assert_ne!(oldest.status, 200);
    assert!(!oldest.text().contains("<h1>Hello</h1>"));
    Ok(())
}

#[test]
fn an_artifacts_files_are_not_loaded_as_code_into_this_servers_own_pages() -> TestResult {
    let s = site();
    let script = open(&s, &s.cookie, 1, "app.js");
    let api_file = format!("/api/v1/artifacts/{}/versions/1/files/app.js", s.share);
    let fetch = |path: &str, auth: &Auth, site: &str, dest: &str| {
        s.server.request(
            "GET",
            path,
            auth,
            None,
            &[("Sec-Fetch-Site", site), ("Sec-Fetch-Dest", dest)],
        )
    };
    let reader = Auth::Cookie(s.cookie.clone());
    // Markup injected into one of our pages (same origin) cannot run an uploaded script there,
    // through a viewing grant or through the API with the reader's session; nor its styles.
    for (path, auth) in [(&script, &Auth::None), (&api_file, &reader)] {
        for dest in ["script", "worker", "style"] {
            let resp = fetch(path, auth, "same-origin", dest);
            assert_eq!(resp.status, 403, "{path} as a {dest}: {}", resp.text());
            assert_eq!(resp.error_code(), "not_for_this_origin");
            assert!(!resp.text().contains("document.title"));
        }
    }
    // The artifact's own pages run in an opaque origin: their scripts come cross-site, and load.
    let own = fetch(&script, &Auth::None, "cross-site", "script");
    assert_eq!(own.status, 200);
    assert_eq!(own.text(), "document.title = 'ran'");
    // The review page frames the artifact (same origin, an iframe); a file opened in a tab, or
    // read by a script of ours (fetch), is served too.
    for (site, dest) in [
        ("same-origin", "iframe"),
        ("none", "document"),
        ("same-origin", "empty"),
    ] {
        assert_eq!(
            fetch(&script, &Auth::None, site, dest).status,
            200,
            "{site} {dest}"
        );
    }
    assert_eq!(
        fetch(&api_file, &reader, "same-origin", "empty").status,
        200
    );
    Ok(())
}

#[test]
fn markdown_is_rendered_for_viewing_and_raw_through_the_api() -> TestResult {
    let s = site();
    let location = open(&s, &s.cookie, 1, "docs/README.md");
    let page = s.server.get(&location, &Auth::None);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.text().contains("<h1 id=\"guide\">Guide</h1>"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("<em>text</em>"));
    assert!(
        page.text()
            .starts_with(&format!("<!DOCTYPE html>{}", bridge_tag(&s))),
        "the rendered document starts with the bridge: {}",
        page.text()
    );
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

/// Uploads a Markdown artifact of `text` named `name`; returns the address of its document under a
/// fresh grant.
fn markdown_artifact(s: &Site, name: &str, text: &str) -> String {
    let created = s.server.upload(
        &Auth::Key(s.key.clone()),
        json!({"name": name, "fileName": name, "content": text}),
    );
    let share = created["shareToken"].as_str().expect("token");
    let folder = s
        .server
        .view_grant(&Auth::Cookie(s.cookie.clone()), share, 1);
    format!("{folder}/{name}")
}

const RENDERED: &str = "rendered Markdown";

#[test]
fn markdown_is_rendered_once_per_content_however_many_views() -> TestResult {
    let s = site();
    let readme = open(&s, &s.cookie, 1, "docs/README.md");
    let first = s.server.get(&readme, &Auth::None);
    assert_eq!(first.status, 200);
    assert_eq!(
        s.server.wait_for_log(RENDERED, 1),
        1,
        "the first view renders"
    );

    // Later views, under this grant and a new one, and of the same file in another artifact.
    let tag = bridge_tag(&s);
    for location in [readme.clone(), open(&s, &s.cookie, 1, "docs/README.md")] {
        let again = s.server.get(&location, &Auth::None);
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body, "the same document");
        assert!(again.text().starts_with(&format!("<!DOCTYPE html>{tag}")));
    }
    let copy = markdown_artifact(
        &s,
        "README.md",
        "# Guide

Some *text*.",
    );
    assert_eq!(s.server.get(&copy, &Auth::None).body, first.body);

    // Eight first views of a new document at once render it once.
    let fresh = markdown_artifact(
        &s,
        "notes.md",
        "# Notes

- one
- two
",
    );
    let port = s.server.port;
    let views: Vec<_> = (0..8)
        .map(|_| {
            let path = fresh.clone();
            std::thread::spawn(move || -> Result<Vec<u8>, String> {
                let resp = ureq::get(&format!("http://127.0.0.1:{port}{path}"))
                    .call()
                    .map_err(|e| e.to_string())?;
                resp.into_body().read_to_vec().map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for view in views {
        bodies.push(view.join().map_err(|_| "a viewer thread panicked")??);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one document for all"
    );
    assert!(String::from_utf8_lossy(&bodies[0]).contains("<li>two</li>"));

    // A fence: one more document's first view; its log line comes after anything the views
    // above logged, so once it is there the count is final.
    let fence = markdown_artifact(
        &s, "fence.md", "# Fence
",
    );
    assert_eq!(s.server.get(&fence, &Auth::None).status, 200);
    assert_eq!(
        s.server.wait_for_log(RENDERED, 3),
        3,
        "README once, notes once, the fence once:\n{}",
        s.server.log()
    );
    Ok(())
}

#[test]
fn a_pathological_markdown_document_is_shown_in_part_with_a_note_and_rendered_once() -> TestResult {
    let s = site();
    // 5 MB of `[` (inside the upload limit) once took 768 MiB to render, on every view.
    let brackets = "[".repeat(5 * 1024 * 1024);
    let location = markdown_artifact(&s, "brackets.md", &brackets);
    let page = s.server.get(&location, &Auth::None);
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.starts_with(&format!("<!DOCTYPE html>{}", bridge_tag(&s))));
    assert!(
        text.contains("This document is shown only in part."),
        "a clear note"
    );
    assert!(
        text.len() < 1024 * 1024,
        "a bounded document: {} bytes",
        text.len()
    );
    assert_eq!(s.server.wait_for_log(RENDERED, 1), 1);
    assert!(s.server.log().contains("shown in part"));
    let again = s.server.get(&location, &Auth::None);
    assert_eq!(again.body, page.body);
    let fence = markdown_artifact(
        &s, "fence.md", "# Fence
",
    );
    assert_eq!(s.server.get(&fence, &Auth::None).status, 200);
    assert_eq!(
        s.server.wait_for_log(RENDERED, 2),
        2,
        "the second view did not render"
    );
    Ok(())
}

#[test]
fn a_grant_stops_working_after_sign_out() -> TestResult {
    let s = site();
    let session = s.server.sign_in("ada@example.com", OWNER_PASSWORD);
    let location = open(&s, &session, 1, "");
    let key_asks = s.server.request(
        "POST",
        &format!("/api/v1/artifacts/{}/versions/1/view", s.share),
        &Auth::Key(s.key.clone()),
        None,
        &[],
    );
    assert_eq!(key_asks.status, 403, "grants are for people in a browser");
    assert_eq!(key_asks.error_code(), "session_required");
    assert_eq!(s.server.get(&location, &Auth::None).status, 200);
    assert_eq!(
        s.server
            .delete("/api/v1/session", &Auth::Cookie(session))
            .status,
        200
    );
    let dead = s.server.get(&location, &Auth::None);
    assert_eq!(dead.status, 404);
    assert_eq!(
        dead.header("content-type").as_deref(),
        Some("text/html; charset=utf-8"),
        "a person sees a page, not JSON"
    );
    assert!(dead
        .text()
        .contains("<meta name=\"artifact-review-error\" content=\"grant\">"));
    assert!(
        dead.text().contains("/_ar/bridge.js"),
        "the frame learns why"
    );
    assert_eq!(
        dead.header("content-security-policy").as_deref(),
        Some(SANDBOX)
    );
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
fn every_html_document_starts_with_the_bridge_and_nothing_else_is_touched() -> TestResult {
    let s = site();
    let k = Auth::Key(s.key.clone());
    // A hostile page: its own CSP forbids every script, and its <base> points elsewhere; both
    // come after the bridge, so neither applies to it.
    let hostile = "\u{feff}<!-- generated -->\n<!DOCTYPE html>\n<html><head>\
        <meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">\
        <base href=\"https://elsewhere.example/\"></head><body><p>Quarterly numbers</p></body></html>";
    let resp = s.server.post(
        &format!("/api/v1/artifacts/{}/versions", s.share),
        &k,
        &json!({"fileName": "index.html", "content": hostile}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let tag = bridge_tag(&s);
    assert!(
        tag.starts_with("<script src=\"/_ar/bridge.js?v=") && tag.ends_with("\"></script>"),
        "{tag}"
    );
    let page = s.server.get(&open(&s, &s.cookie, 2, ""), &Auth::None);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.text(),
        hostile.replacen("<!DOCTYPE html>", &format!("<!DOCTYPE html>{tag}"), 1),
        "the tag comes right after the doctype, before the page's own CSP and base"
    );
    assert_eq!(page.text().matches("/_ar/bridge.js").count(), 1);
    // Everything else is served byte for byte, and the API's raw files are never changed.
    let css = s
        .server
        .get(&open(&s, &s.cookie, 1, "css/site.css"), &Auth::None);
    assert_eq!(css.text(), "h1 { color: rgb(0, 128, 0) }");
    let raw = s.server.get(
        &format!("/api/v1/artifacts/{}/versions/2/files/index.html", s.share),
        &k,
    );
    assert_eq!(raw.text(), hostile);
    // The document's ETag changes with the bridge, and still answers 304.
    let etag = page.header("etag").ok_or("etag")?;
    assert!(
        etag.contains('-'),
        "content hash and bridge version: {etag}"
    );
    let again = s.server.request(
        "GET",
        &open(&s, &s.cookie, 2, ""),
        &Auth::None,
        None,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    Ok(())
}

#[test]
fn the_bridge_is_public_cacheable_script_that_keeps_its_matcher_private() -> TestResult {
    let s = site();
    let tag = bridge_tag(&s);
    let src = tag
        .strip_prefix("<script src=\"")
        .and_then(|t| t.strip_suffix("\"></script>"))
        .ok_or("src")?;
    let script = s.server.get(src, &Auth::None);
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        script.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        script.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let text = script.text();
    assert!(
        text.starts_with("(() => {\n'use strict';\n"),
        "one function scope"
    );
    assert!(text.contains("function search("), "the vendored matcher");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("export ")),
        "a classic script"
    );
    Ok(())
}

#[test]
fn a_missing_file_under_a_good_grant_is_a_page_saying_so() -> TestResult {
    let s = site();
    let missing = s.server.get(
        &open(&s, &s.cookie, 1, "no/such%3Cpage%3E.html"),
        &Auth::None,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let text = missing.text();
    assert!(text.contains("<meta name=\"artifact-review-error\" content=\"missing\">"));
    assert!(text.contains("no/such&lt;page&gt;.html"), "escaped: {text}");
    assert!(!text.contains("<page>"));
    Ok(())
}

#[test]
fn a_path_with_encoded_dot_segments_cannot_climb_out_of_the_grant() -> TestResult {
    let s = site();
    // Decoded, these are `../../v/elsewhere/page.html`: put after the grant in the frame's
    // address, the browser would resolve them to another grant's files. The review page refuses
    // them before its script could, and the grant's files never have such names.
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
        assert!(resp.text().contains("No such file"), "{}", resp.text());
        let under_grant = s.server.get(&open(&s, &s.cookie, 1, path), &Auth::None);
        assert_eq!(under_grant.status, 404, "{path}");
    }
    // Ordinary paths still open.
    let ordinary = s.server.get(
        &format!("/a/{}/v/1/docs/README.md", s.share),
        &Auth::Cookie(s.cookie.clone()),
    );
    assert_eq!(ordinary.status, 200);
    Ok(())
}
