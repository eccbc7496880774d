//! The review page and the artifacts home over HTTP: who gets the page, who is sent to sign in,
//! what a person sees instead of JSON when an artifact or a version cannot be shown, and what the
//! artifacts listing tells the home page (latest version and who published it, newest activity,
//! "new since you last looked", filtering and paging by activity).

mod common;

use common::*;
use serde_json::{json, Value};

struct Review {
    server: Server,
    /// Ada, the owner, signed in.
    ada: Auth,
    /// Ada's key acting as her agent Claude.
    claude: Auth,
    share: String,
}

fn review() -> Review {
    let server = Server::start();
    let cookie = server.setup_owner();
    let ada = Auth::Cookie(cookie.clone());
    let agent = server.create_agent(&ada, "Claude", Some("coding"));
    let (_, key) = server.create_key(&cookie, json!({"name": "Claude Code", "agentId": agent}));
    let claude = Auth::Key(key);
    let created = server.upload(
        &claude,
        json!({"name": "Quarterly report", "fileName": "report.html", "content": "<h1>Revenue grew</h1>"}),
    );
    let share = created["shareToken"].as_str().expect("token").to_string();
    Review {
        server,
        ada,
        claude,
        share,
    }
}

fn listing(r: &Review, auth: &Auth, query: &str) -> Value {
    let resp = r.server.get(&format!("/api/v1/artifacts{query}"), auth);
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

fn first(list: &Value) -> &Value {
    &list["artifacts"][0]
}

#[test]
fn the_review_page_is_served_to_readers_of_every_version_and_file() -> TestResult {
    let r = review();
    for path in [
        format!("/a/{}", r.share),
        format!("/a/{}/v/1", r.share),
        format!("/a/{}/v/v1/", r.share),
        format!("/a/{}/v/1/report.html", r.share),
    ] {
        let page = r.server.get(&path, &r.ada);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        assert_eq!(
            page.header("content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        let csp = page.header("content-security-policy").ok_or("csp")?;
        assert!(csp.contains("frame-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(
            page.text().contains("/assets/js/review/"),
            "the review page's script"
        );
    }
    Ok(())
}

/// The value of attribute `name` in the first tag of `page` that starts with `tag`.
fn attribute(page: &str, tag: &str, name: &str) -> Option<String> {
    let start = page.find(tag)?;
    let tag = &page[start..start + page[start..].find('>')?];
    let from = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[from..from + tag[from..].find('"')?].to_string())
}

/// The grant, `data-file` and `data-version` of the page's `<meta name="artifact-frame">`.
fn first_frame(page: &str) -> Option<(String, String, String)> {
    let meta = "<meta name=\"artifact-frame\" ";
    Some((
        attribute(page, meta, "content")?,
        attribute(page, meta, "data-file")?,
        attribute(page, meta, "data-version")?,
    ))
}

#[test]
fn the_review_page_comes_with_its_frame_started_under_a_grant_of_its_own() -> TestResult {
    let r = review();
    let v2 = json!({"fileName": "report.html", "content": "<h1>Revenue grew twice</h1>"});
    let resp = r.server.post(
        &format!("/api/v1/artifacts/{}/versions", r.share),
        &r.claude,
        &v2,
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let grants = |db: &rusqlite::Connection| -> rusqlite::Result<i64> {
        db.query_row("SELECT count(*) FROM view_grants", [], |row| row.get(0))
    };
    let before = grants(&r.server.open_db())?;
    for (path, file, version, says) in [
        (format!("/a/{}", r.share), "report.html", "2", Some("twice")),
        (
            format!("/a/{}/v/1", r.share),
            "report.html",
            "1",
            Some("Revenue grew</h1>"),
        ),
        (
            format!("/a/{}/v/1/report.html", r.share),
            "report.html",
            "1",
            Some("Revenue grew</h1>"),
        ),
        (
            format!("/a/{}/v/2/no%20such.html", r.share),
            "no such.html",
            "2",
            None,
        ),
    ] {
        let page = r.server.get(&path, &r.ada);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        // The page holds a capability now: no cache may keep it.
        assert_eq!(
            page.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        let text = page.text();
        let (grant, data_file, data_version) = first_frame(&text).ok_or("the frame's meta")?;
        assert_eq!(
            (data_file.as_str(), data_version.as_str()),
            (file, version),
            "{path}"
        );
        assert!(grant.starts_with("/v/") && grant.ends_with('/'), "{grant}");
        // The frame is started on the file by the page itself.
        let src = attribute(&text, "<iframe id=\"artifact-frame\" ", "src").ok_or("src")?;
        assert_eq!(
            src,
            format!("{grant}{}", file.replace(' ', "%20")),
            "{path}"
        );
        // The address serves the file without cookies, as the sandboxed frame asks for it.
        let framed = r.server.get(&src, &Auth::None);
        match says {
            Some(text) => {
                assert_eq!(framed.status, 200, "{src}");
                assert!(framed.text().contains(text), "{src}: {}", framed.text());
            }
            None => assert_eq!(framed.status, 404, "{src}: a file the version lacks"),
        }
    }
    let db = r.server.open_db();
    assert_eq!(grants(&db)? - before, 4, "one grant per page served");
    let (user, artifact): (i64, i64) = db.query_row(
        "SELECT g.user_id, v.artifact_id FROM view_grants g JOIN versions v ON v.id = g.version_id
          ORDER BY g.id DESC LIMIT 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let seen: i64 = db.query_row(
        "SELECT count(*) FROM artifact_reads WHERE user_id = ?1 AND artifact_id = ?2",
        [user, artifact],
        |row| row.get(0),
    )?;
    assert_eq!(seen, 1, "opening the page is still seeing the artifact");
    // A file without a bridge is left for the script to start (it tells such files by their
    // load), under the page's grant.
    let zip = zips::zip_of(&[("index.html", b"<p>Site</p>"), ("css/site.css", b"p {}")])?;
    let site = r.server.upload(
        &r.claude,
        json!({"name": "Site", "fileName": "site.zip", "content": b64(&zip)}),
    );
    let css = format!(
        "/a/{}/v/1/css/site.css",
        site["shareToken"].as_str().ok_or("token")?
    );
    let text = r.server.get(&css, &r.ada).text();
    let (grant, data_file, _) = first_frame(&text).ok_or("the frame's meta")?;
    assert_eq!(data_file, "css/site.css");
    assert_eq!(
        attribute(&text, "<iframe id=\"artifact-frame\" ", "src"),
        None
    );
    let framed = r.server.get(&format!("{grant}css/site.css"), &Auth::None);
    assert_eq!((framed.status, framed.text().as_str()), (200, "p {}"));
    // A version that is gone gets its page saying so, and no grant.
    let gone = r.server.get(&format!("/a/{}/v/3", r.share), &r.ada);
    assert_eq!(gone.status, 404);
    assert!(first_frame(&gone.text()).is_none());
    assert_eq!(grants(&r.server.open_db())? - before, 5);
    Ok(())
}

#[test]
fn readers_without_a_session_are_sent_to_sign_in_and_back() -> TestResult {
    let r = review();
    let path = format!("/a/{}/v/1/report.html", r.share);
    for auth in [Auth::None, r.claude.clone()] {
        let resp = r.server.get(&path, &auth);
        assert_eq!(resp.status, 303);
        let location = resp.header("location").ok_or("location")?;
        assert_eq!(
            location,
            format!("/login?next=%2Fa%2F{}%2Fv%2F1%2Freport.html", r.share)
        );
    }
    Ok(())
}

#[test]
fn what_cannot_be_shown_is_an_html_page_with_a_way_forward() -> TestResult {
    let r = review();
    let eve = r
        .server
        .add_user("eve@example.com", "Eve", "eve password 1");
    for path in [
        format!("/a/{}", r.share),
        "/a/no-such-artifact-token".to_string(),
    ] {
        let page = r.server.get(&path, &Auth::Cookie(eve.clone()));
        assert_eq!(page.status, 404, "{path}");
        assert_eq!(
            page.header("content-type").as_deref(),
            Some("text/html; charset=utf-8"),
            "a person sees a page, not JSON"
        );
        let text = page.text();
        assert!(text.contains("Artifact not found"), "{text}");
        assert!(text.contains("href=\"/\""), "a way home: {text}");
        assert!(!text.contains("Quarterly"), "nothing of the artifact leaks");
    }
    for (path, says) in [
        (format!("/a/{}/v/7", r.share), "Version 7"),
        (format!("/a/{}/v/seven/", r.share), "not a version number"),
    ] {
        let page = r.server.get(&path, &r.ada);
        assert_eq!(page.status, 404, "{path}");
        let text = page.text();
        assert!(text.contains("Version not found"), "{text}");
        assert!(text.contains(says), "{text}");
        assert!(
            text.contains(&format!("href=\"/a/{}\"", r.share)),
            "a link to the latest version: {text}"
        );
    }
    Ok(())
}

#[test]
fn the_home_page_needs_a_session() -> TestResult {
    let r = review();
    let home = r.server.get("/", &r.ada);
    assert_eq!(home.status, 200);
    assert_eq!(
        home.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let out = r.server.get("/", &Auth::None);
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location").as_deref(), Some("/login"));
    Ok(())
}

#[test]
fn the_listing_shows_the_latest_version_its_publisher_and_what_is_new_to_the_caller() -> TestResult
{
    let r = review();
    let list = listing(&r, &r.ada, "");
    let a = first(&list);
    assert_eq!(a["latest"]["number"], 1);
    assert_eq!(a["latest"]["fileType"], "html");
    assert_eq!(
        a["latest"]["createdBy"],
        json!({"kind": "agent", "id": a["latest"]["createdBy"]["id"], "name": "Claude", "role": "coding"})
    );
    assert_eq!(a["unseen"], true, "Claude uploaded it; Ada has not looked");
    assert_eq!(a["lastSeenAt"], Value::Null);
    let uploaded_at = a["activityAt"].as_i64().ok_or("activityAt")?;
    assert!(uploaded_at > 0);

    // Opening the review page is looking.
    assert_eq!(r.server.get(&format!("/a/{}", r.share), &r.ada).status, 200);
    let a = first(&listing(&r, &r.ada, "")).clone();
    assert_eq!(a["unseen"], false);
    assert!(a["lastSeenAt"].as_i64().ok_or("lastSeenAt")? >= uploaded_at);

    // Ada's own comment is not news to her, and moves the activity.
    let target = json!({"source": "report.html"});
    let resp = r.server.post(
        &format!("/api/v1/artifacts/{}/comments", r.share),
        &r.ada,
        &json!({"content": "Which quarter?", "target": target}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let a = first(&listing(&r, &r.ada, "")).clone();
    assert_eq!(a["unseen"], false, "her own comment");
    assert!(a["activityAt"].as_i64().ok_or("activityAt")? >= uploaded_at);

    // Her agent's reply is.
    let comment = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let reply = r.server.post(
        &format!("/api/v1/comments/{comment}/replies"),
        &r.claude,
        &json!({"content": "Q3"}),
    );
    assert_eq!(reply.status, 201);
    assert_eq!(first(&listing(&r, &r.ada, ""))["unseen"], true);
    Ok(())
}

#[test]
fn a_reviewers_listing_is_about_what_they_have_seen() -> TestResult {
    let r = review();
    let resp = r.server.post(
        &format!("/api/v1/artifacts/{}/access", r.share),
        &r.ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(resp.status, 201);
    let bob = Auth::Cookie(
        r.server
            .add_user("bob@example.com", "Bob", "bob password 1"),
    );
    let a = first(&listing(&r, &bob, "")).clone();
    assert_eq!(a["role"], "reviewer");
    assert_eq!(a["unseen"], true, "shared with him, never opened");
    assert_eq!(r.server.get(&format!("/a/{}", r.share), &bob).status, 200);
    assert_eq!(first(&listing(&r, &bob, ""))["unseen"], false);
    assert_eq!(
        first(&listing(&r, &r.ada, ""))["unseen"],
        true,
        "Bob looking changes nothing for Ada"
    );
    Ok(())
}

#[test]
fn the_listing_filters_by_name_and_pages_by_newest_activity() -> TestResult {
    let r = review();
    let mut shares = vec![r.share.clone()];
    for name in ["Design notes", "Release checklist", "design REVIEW"] {
        let created = r.server.upload(
            &r.claude,
            json!({"name": name, "fileName": "x.md", "content": "# x"}),
        );
        shares.push(created["shareToken"].as_str().ok_or("token")?.to_string());
    }
    // Activity on the oldest makes it the newest by activity, not by creation.
    let resp = r.server.post(
        &format!("/api/v1/artifacts/{}/comments", shares[0]),
        &r.claude,
        &json!({"content": "Updated the numbers", "target": {"source": "report.html"}}),
    );
    assert_eq!(resp.status, 201);
    let names = |list: &Value| -> Vec<String> {
        list["artifacts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let by_creation = listing(&r, &r.ada, "");
    assert_eq!(names(&by_creation)[0], "design REVIEW");
    let page1 = listing(&r, &r.ada, "?sort=activity&limit=2");
    assert_eq!(
        names(&page1),
        ["Quarterly report", "design REVIEW"],
        "newest activity first"
    );
    let cursor = page1["nextCursor"].as_str().ok_or("a next page")?;
    let page2 = listing(
        &r,
        &r.ada,
        &format!("?sort=activity&limit=2&cursor={cursor}"),
    );
    assert_eq!(names(&page2), ["Release checklist", "Design notes"]);
    assert_eq!(page2["nextCursor"], Value::Null);

    let found = listing(&r, &r.ada, "?sort=activity&q=design");
    assert_eq!(names(&found), ["design REVIEW", "Design notes"]);
    assert_eq!(
        names(&listing(&r, &r.ada, "?q=nothing%20like%20it")).len(),
        0
    );
    // Case as people read it, beyond ASCII, and accents however they are encoded.
    let created = r.server.upload(
        &r.claude,
        json!({"name": "Café Отчёт Ärger report", "fileName": "x.md", "content": "# x"}),
    );
    assert!(created["shareToken"].is_string(), "{created}");
    for q in [
        "CAF%C3%89",
        "%D0%BE%D1%82%D1%87%D1%91%D1%82",
        "%D0%9E%D0%A2%D0%A7%D0%81%D0%A2",
        "%C3%A4rger",
        "cafe%CC%81",
    ] {
        assert_eq!(
            names(&listing(&r, &r.ada, &format!("?q={q}"))),
            ["Café Отчёт Ärger report"],
            "{q}"
        );
    }

    for bad in ["?sort=size", "?sort=activity&cursor=12", "?cursor=x.y"] {
        let resp = r.server.get(&format!("/api/v1/artifacts{bad}"), &r.ada);
        assert_eq!(resp.status, 400, "{bad}");
    }
    Ok(())
}
