//! Share links and view statistics, as the hosted Agent API has them: the owner makes, shows,
//! changes and turns off an artifact's link (reviewers 403, strangers 404); anyone with the link
//! sees the latest version sandboxed, the comments when the link shows them, and a signed-in
//! person comments and replies when it takes comments; a link turned off stops at once. Views are
//! counted once per viewer and half hour, never per file.

mod common;

use common::*;
use serde_json::{json, Value};

struct Owned {
    server: Server,
    share: String,
    ada: Auth,
    ada_cookie: String,
}

fn site() -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "index.html".to_string(),
        b"<!doctype html><title>Site</title><link rel=stylesheet href=css/site.css><p>Hello from the shared site.</p>".to_vec(),
    )];
    for i in 0..5 {
        files.push((
            format!("css/part{i}.css"),
            format!("p{{margin:{i}px}}").into_bytes(),
        ));
    }
    files.push(("css/site.css".to_string(), b"p{color:teal}".to_vec()));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    common::zips::zip_of(&refs).expect("zip")
}

fn owned() -> Owned {
    let server = Server::start();
    let ada_cookie = server.setup_owner();
    let (_, key) = server.create_key(&ada_cookie, json!({"name": "ada"}));
    let ada = Auth::Key(key);
    let created = server.upload(
        &ada,
        json!({"name": "Site", "fileName": "site.zip", "content": b64(&site())}),
    );
    let share = created["shareToken"].as_str().expect("token").to_string();
    Owned {
        server,
        share,
        ada,
        ada_cookie,
    }
}

impl Owned {
    fn link_path(&self) -> String {
        format!("/api/v1/artifacts/{}/sharelink", self.share)
    }

    /// Makes the link with `capabilities`; returns its token (the last segment of `shareUrl`).
    fn make_link(&self, capabilities: Value) -> String {
        self.server.share_link(&self.ada, &self.share, capabilities)
    }

    fn patch_link(&self, body: Value) -> Value {
        let resp = self.server.patch(&self.link_path(), &self.ada, &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.json()
    }
}

fn token_of(link: &Value) -> String {
    let url = link["shareUrl"].as_str().expect("shareUrl");
    url.rsplit('/').next().expect("token").to_string()
}

#[test]
fn the_owner_makes_shows_changes_and_turns_off_the_link_and_no_one_else_can() -> TestResult {
    let o = owned();
    let path = o.link_path();
    let none = o.server.get(&path, &o.ada);
    assert_eq!(none.status, 404, "no link yet");
    assert_eq!(none.error_code(), "not_found");

    // A reviewer may not; a stranger cannot even see the artifact.
    let bob = Auth::Cookie(
        o.server
            .add_user("bob@example.com", "Bob", "bob password 12"),
    );
    let carol = Auth::Cookie(
        o.server
            .add_user("carol@example.com", "Carol", "carol password 12"),
    );
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{}/access", o.share),
        &o.ada,
        &json!({"email": "bob@example.com"}),
    );
    assert_eq!(resp.status, 201);
    let resp = o.server.post(&path, &bob, &json!({}));
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.error_code(), "owner_only");
    assert_eq!(o.server.post(&path, &carol, &json!({})).status, 404);
    assert_eq!(o.server.get(&path, &bob).status, 403);
    assert_eq!(o.server.get(&path, &carol).status, 404);

    // POST with an empty body: an enabled, view-only link.
    let resp = o.server.request("POST", &path, &o.ada, None, &[]);
    assert_eq!(resp.status, 201, "{}", resp.text());
    let link = resp.json();
    assert_eq!(link["enabled"], true);
    assert_eq!(
        link["capabilities"],
        json!({"readComments": false, "writeComments": false})
    );
    let url = link["shareUrl"].as_str().ok_or("shareUrl")?;
    assert!(url.starts_with(&o.server.url("/share/")), "{url}");
    let token = token_of(&link);
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    // The link is stored as the token's digest, never the token.
    let db = o.server.open_db();
    let stored: Vec<u8> = db.query_row("SELECT token_hash FROM share_links", [], |r| r.get(0))?;
    assert_eq!(stored, sha256(token.as_bytes()));

    // A second POST answers the same link.
    let again = o.server.post(&path, &o.ada, &json!({}));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["shareUrl"], link["shareUrl"]);
    assert_eq!(
        o.server.get(&path, &o.ada).json()["shareUrl"],
        link["shareUrl"]
    );

    // PATCH changes only what it names.
    let changed = o.patch_link(json!({"capabilities": {"readComments": true}}));
    assert_eq!(
        changed["capabilities"],
        json!({"readComments": true, "writeComments": false})
    );
    assert_eq!(changed["enabled"], true);
    let resp = o.server.patch(&path, &o.ada, &json!({}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "nothing_to_change");
    let resp = o.server.patch(&path, &o.ada, &json!({"enabled": "yes"}));
    assert_eq!(resp.status, 400);
    assert_eq!(
        o.server
            .patch(&path, &bob, &json!({"enabled": false}))
            .status,
        403
    );

    // DELETE turns it off; GET still shows it; PATCH turns it on again.
    let resp = o.server.delete(&path, &o.ada);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["enabled"], false);
    let shown = o.server.get(&path, &o.ada).json();
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["shareUrl"], link["shareUrl"]);
    assert_eq!(o.patch_link(json!({"enabled": true}))["enabled"], true);

    // Every change is in the activity trail, without the address.
    let events = o
        .server
        .get(
            "/api/v1/activity?limit=10",
            &Auth::Cookie(o.ada_cookie.clone()),
        )
        .json();
    let actions: Vec<String> = actions(&events)
        .into_iter()
        .filter(|a| a.starts_with("access.link"))
        .collect();
    assert_eq!(
        actions,
        [
            "access.link_updated",
            "access.link_disabled",
            "access.link_updated",
            "access.link_created"
        ]
    );
    assert!(!events.to_string().contains(&token));

    // Without an artifact there is no link: DELETE and PATCH of a missing link are 404.
    let other = o.server.upload(
        &o.ada,
        json!({"name": "Other", "fileName": "o.html", "content": "<p>o</p>"}),
    );
    let other_path = format!(
        "/api/v1/artifacts/{}/sharelink",
        other["shareToken"].as_str().ok_or("token")?
    );
    assert_eq!(o.server.delete(&other_path, &o.ada).status, 404);
    assert_eq!(
        o.server
            .patch(&other_path, &o.ada, &json!({"enabled": true}))
            .status,
        404
    );
    Ok(())
}

#[test]
fn anyone_with_the_link_sees_the_latest_version_sandboxed_until_it_is_turned_off() -> TestResult {
    let o = owned();
    let token = o.make_link(json!({}));
    // The page, for a visitor with no account.
    let page = o.server.get(&format!("/share/{token}"), &Auth::None);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/assets/js/share/main.js"));
    assert!(page
        .header("content-security-policy")
        .unwrap_or_default()
        .contains("frame-src 'self'"));
    // The page comes with its frame started on the entry page, in the link's folder, and is asked
    // for again at every load (a link turned off stops at once).
    assert_eq!(page.header("cache-control").as_deref(), Some("no-cache"));
    let text = page.text();
    assert!(
        text.contains(&format!(
            "<meta name=\"artifact-frame\" content=\"/share/{token}/\" data-file=\"index.html\" data-version=\"1\">"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "<iframe id=\"artifact-frame\" src=\"/share/{token}/index.html\" "
        )),
        "{text}"
    );
    // An address naming one of the version's files (as the page keeps it) starts the frame on
    // that file (a stylesheet has no bridge: the page's script loads it); one naming no file of
    // it (or climbing out) starts it on the entry page.
    for (query, file) in [
        ("?file=css/site.css", "css/site.css"),
        ("?file=css%2Fsite.css", "css/site.css"),
        ("?file=nope.html", "index.html"),
        ("?file=../../v/x/index.html", "index.html"),
        ("?file=", "index.html"),
        ("?other=1", "index.html"),
    ] {
        let text = o
            .server
            .get(&format!("/share/{token}{query}"), &Auth::None)
            .text();
        assert!(
            text.contains(&format!("data-file=\"{file}\"")),
            "{query}: {text}"
        );
        assert_eq!(
            text.contains(&format!("src=\"/share/{token}/{file}\"")),
            file.ends_with(".html"),
            "{query}: {text}"
        );
    }
    // What the page reads.
    let shared = o.server.get(&format!("/api/v1/share/{token}"), &Auth::None);
    assert_eq!(shared.status, 200, "{}", shared.text());
    let shared = shared.json();
    assert_eq!(shared["artifact"]["name"], "Site");
    assert_eq!(shared["version"]["number"], 1);
    assert_eq!(shared["version"]["entryPoint"], "index.html");
    assert_eq!(shared["files"].as_array().ok_or("files")?.len(), 7);
    assert_eq!(shared["viewer"], Value::Null);
    assert_eq!(shared["filesPath"], format!("/share/{token}/"));
    // The files: sandboxed like the viewer's, the entry page with the bridge.
    let entry = o.server.get(&format!("/share/{token}/"), &Auth::None);
    assert_eq!(entry.status, 200);
    assert!(entry.text().contains("Hello from the shared site."));
    assert!(
        entry
            .text()
            .starts_with("<!doctype html><script src=\"/_ar/bridge.js?v="),
        "the bridge is the page's first element: {}",
        entry.text()
    );
    assert_eq!(
        entry.header("content-security-policy").as_deref(),
        Some("sandbox allow-scripts allow-popups allow-forms")
    );
    assert_eq!(entry.header("cache-control").as_deref(), Some("no-cache"));
    let css = o
        .server
        .get(&format!("/share/{token}/css/site.css"), &Auth::None);
    assert_eq!(css.text(), "p{color:teal}");
    let etag = css.header("etag").ok_or("etag")?;
    let revalidated = o.server.request(
        "GET",
        &format!("/share/{token}/css/site.css"),
        &Auth::None,
        None,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(revalidated.status, 304);
    assert_eq!(
        o.server
            .get(&format!("/share/{token}/nope.css"), &Auth::None)
            .status,
        404
    );
    // Comments are not shown on a view-only link.
    let resp = o
        .server
        .get(&format!("/api/v1/share/{token}/comments"), &Auth::None);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "comments_not_shared");

    // A new version is what the link shows from then on.
    let v2 = o.server.post(
        &format!("/api/v1/artifacts/{}/versions", o.share),
        &o.ada,
        &json!({"fileName": "v2.html", "content": "<p>Second version</p>"}),
    );
    assert_eq!(v2.status, 201, "{}", v2.text());
    assert_eq!(v2.json()["status"], "ready");
    assert!(o
        .server
        .get(&format!("/share/{token}/"), &Auth::None)
        .text()
        .contains("Second version"));
    assert_eq!(
        o.server
            .get(&format!("/api/v1/share/{token}"), &Auth::None)
            .json()["version"]["number"],
        2
    );

    // Turned off: the next load of the page, a file and the API all say so.
    assert_eq!(o.server.delete(&o.link_path(), &o.ada).status, 200);
    let gone = o.server.get(&format!("/share/{token}"), &Auth::None);
    assert_eq!(gone.status, 404);
    assert!(gone.text().contains("This link is no longer available"));
    let file = o.server.get(&format!("/share/{token}/"), &Auth::None);
    assert_eq!(file.status, 404);
    assert!(file
        .text()
        .contains("artifact-review-error\" content=\"link\""));
    assert!(!file.text().contains("Second version"));
    let api = o.server.get(&format!("/api/v1/share/{token}"), &Auth::None);
    assert_eq!(api.status, 404);
    assert!(api.text().contains("no longer available"));
    // A made-up token is the same.
    assert_eq!(
        o.server
            .get("/share/AAAAAAAAAAAAAAAAAAAAAAAA", &Auth::None)
            .status,
        404
    );
    // On again: it works again, at the same address.
    o.patch_link(json!({"enabled": true}));
    assert_eq!(
        o.server
            .get(&format!("/share/{token}/"), &Auth::None)
            .status,
        200
    );
    // Deleting the artifact ends it.
    assert_eq!(
        o.server
            .delete(&format!("/api/v1/artifacts/{}", o.share), &o.ada)
            .status,
        200
    );
    assert_eq!(
        o.server.get(&format!("/share/{token}"), &Auth::None).status,
        404
    );
    Ok(())
}

#[test]
fn comments_are_shown_with_read_and_taken_from_signed_in_people_with_write() -> TestResult {
    let o = owned();
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{}/comments", o.share),
        &o.ada,
        &json!({"content": "Owner's note", "target": {"source": "index.html"}}),
    );
    assert_eq!(resp.status, 201);
    let owner_comment = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let token = o.make_link(json!({"readComments": true}));
    let listed = o
        .server
        .get(&format!("/api/v1/share/{token}/comments"), &Auth::None);
    assert_eq!(listed.status, 200);
    let comments = listed.json()["comments"].clone();
    assert_eq!(comments.as_array().ok_or("comments")?.len(), 1);
    assert_eq!(comments[0]["content"], "Owner's note");

    // Read-only: no one comments through it, signed in or not.
    let carol_cookie = o
        .server
        .add_user("carol@example.com", "Carol", "carol password 12");
    let carol = Auth::Cookie(carol_cookie.clone());
    let body = json!({"content": "From Carol", "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "shared site"}}});
    let resp = o
        .server
        .post(&format!("/api/v1/share/{token}/comments"), &carol, &body);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "comments_closed");

    // With writeComments: a visitor who is not signed in is told to sign in; Carol (any account,
    // not a reviewer) comments and replies, as herself.
    o.patch_link(json!({"capabilities": {"writeComments": true}}));
    let resp = o.server.post(
        &format!("/api/v1/share/{token}/comments"),
        &Auth::None,
        &body,
    );
    assert_eq!(resp.status, 401);
    assert!(
        resp.json()["hint"].as_str().is_some(),
        "a 401 says how to authenticate"
    );
    let shared = o
        .server
        .get(&format!("/api/v1/share/{token}"), &carol)
        .json();
    assert_eq!(shared["viewer"]["name"], "Carol");
    let resp = o
        .server
        .post(&format!("/api/v1/share/{token}/comments"), &carol, &body);
    assert_eq!(resp.status, 201, "{}", resp.text());
    let carol_comment = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let resp = o.server.post(
        &format!("/api/v1/share/{token}/comments/{owner_comment}/replies"),
        &carol,
        &json!({"content": "Agreed"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    // Stored as hers, on the latest version, and the owner sees them as usual.
    let all = o
        .server
        .get(&format!("/api/v1/artifacts/{}/comments", o.share), &o.ada)
        .json();
    let found = all["comments"]
        .as_array()
        .ok_or("comments")?
        .iter()
        .find(|c| c["id"] == carol_comment.as_str())
        .ok_or("Carol's comment")?;
    assert_eq!(found["author"]["name"], "Carol");
    assert_eq!(found["version"], "v1");
    assert_eq!(found["target"]["selector"]["exact"], "shared site");
    let owners = all["comments"]
        .as_array()
        .ok_or("comments")?
        .iter()
        .find(|c| c["id"] == owner_comment.as_str())
        .ok_or("owner's comment")?;
    assert_eq!(owners["replies"][0]["author"]["name"], "Carol");
    // Carol gained no access to the artifact itself.
    assert_eq!(
        o.server
            .get(&format!("/api/v1/artifacts/{}", o.share), &carol)
            .status,
        404
    );
    // Bad input is refused and nothing stored; a foreign page cannot post as her.
    let before = o
        .server
        .open_db()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get::<_, i64>(0))?;
    for (bad, code) in [
        (
            json!({"content": "x", "target": {"source": "missing.html"}}),
            "unknown_source",
        ),
        (
            json!({"content": "", "target": {"source": "index.html"}}),
            "required",
        ),
        (
            json!({"content": "x", "target": "index.html"}),
            "invalid_target",
        ),
    ] {
        let resp = o
            .server
            .post(&format!("/api/v1/share/{token}/comments"), &carol, &bad);
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text());
        assert_eq!(resp.error_code(), code, "{bad}");
    }
    let resp = o.server.request(
        "POST",
        &format!("/api/v1/share/{token}/comments"),
        &carol,
        Some(body.to_string().as_bytes()),
        &[("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(
        resp.status, 403,
        "an artifact's script (opaque origin) cannot act as her"
    );
    let after = o
        .server
        .open_db()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get::<_, i64>(0))?;
    assert_eq!(before, after);
    // A reply to a comment of another artifact is not found through this link.
    let other = o.server.upload(
        &o.ada,
        json!({"name": "Other", "fileName": "o.html", "content": "<p>o</p>"}),
    );
    let resp = o.server.post(
        &format!(
            "/api/v1/artifacts/{}/comments",
            other["shareToken"].as_str().ok_or("t")?
        ),
        &o.ada,
        &json!({"content": "elsewhere", "target": {"source": "o.html"}}),
    );
    let elsewhere = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let resp = o.server.post(
        &format!("/api/v1/share/{token}/comments/{elsewhere}/replies"),
        &carol,
        &json!({"content": "sneaky"}),
    );
    assert_eq!(resp.status, 404);
    // Turned off between loads: commenting stops too.
    o.server.delete(&o.link_path(), &o.ada);
    let resp = o
        .server
        .post(&format!("/api/v1/share/{token}/comments"), &carol, &body);
    assert_eq!(resp.status, 404);
    let _ = carol_cookie;
    Ok(())
}

#[test]
fn views_count_once_per_viewer_and_half_hour_never_per_file() -> TestResult {
    let o = owned();
    let token = o.make_link(json!({}));
    let stats_path = format!("/api/v1/artifacts/{}/stats", o.share);
    let stats = o.server.get(&stats_path, &o.ada).json();
    assert_eq!(stats["stats"]["totalViews"], 0);
    assert_eq!(stats["stats"]["lastViewedAt"], Value::Null);

    // The owner opens the review page twice: one view.
    o.server
        .view_grant(&Auth::Cookie(o.ada_cookie.clone()), &o.share, 1);
    o.server
        .view_grant(&Auth::Cookie(o.ada_cookie.clone()), &o.share, 1);
    // A visitor opens the link's page three times and loads every file: one view.
    let visitor = |agent: &str| {
        o.server.request(
            "GET",
            &format!("/api/v1/share/{token}"),
            &Auth::None,
            None,
            &[("User-Agent", agent)],
        )
    };
    let writes_before = o
        .server
        .open_db()
        .query_row("SELECT count(*) FROM views", [], |r| r.get::<_, i64>(0))?;
    for _ in 0..3 {
        assert_eq!(visitor("Browser A").status, 200);
        for path in [
            "",
            "css/site.css",
            "css/part0.css",
            "css/part1.css",
            "css/part4.css",
        ] {
            assert_eq!(
                o.server
                    .get(&format!("/share/{token}/{path}"), &Auth::None)
                    .status,
                200
            );
        }
    }
    let writes_after = o
        .server
        .open_db()
        .query_row("SELECT count(*) FROM views", [], |r| r.get::<_, i64>(0))?;
    assert_eq!(
        writes_after - writes_before,
        1,
        "one view for three loads of six files"
    );
    // Another browser is another viewer; a signed-in person through the link is the same viewer as
    // in the review page.
    assert_eq!(visitor("Browser B").status, 200);
    let bob_cookie = o
        .server
        .add_user("bob@example.com", "Bob", "bob password 12");
    assert_eq!(
        o.server
            .get(&format!("/api/v1/share/{token}"), &Auth::Cookie(bob_cookie))
            .status,
        200
    );

    let stats = o.server.get(&stats_path, &o.ada).json();
    assert_eq!(stats["artifact"]["shareToken"], o.share.as_str());
    assert_eq!(stats["artifact"]["name"], "Site");
    assert_eq!(stats["stats"]["totalViews"], 4);
    assert_eq!(stats["stats"]["uniqueViewers"], 4);
    assert_eq!(stats["stats"]["commentCount"], 0);
    assert_eq!(stats["stats"]["lastViewedBy"], "Bob");
    assert!(stats["stats"]["lastViewedAt"].as_i64().is_some());
    assert_eq!(
        stats["versions"],
        json!([{"number": 1, "commentCount": 0, "viewCount": 4}])
    );
    // The list carries the total too.
    let listed = o.server.get("/api/v1/artifacts", &o.ada).json();
    assert_eq!(listed["artifacts"][0]["stats"]["totalViews"], 4, "{listed}");
    // What a visitor is stored as: a digest, not their address or browser.
    let db = o.server.open_db();
    let anonymous: i64 = db.query_row(
        "SELECT count(*) FROM views WHERE user_id IS NULL AND via_link = 1 AND length(viewer) = 32",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(anonymous, 2);
    assert!(!contains(&database_bytes(&o.server.db), b"Browser A"));

    // Owner only.
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{}/access", o.share),
        &o.ada,
        &json!({"email": "bob@example.com"}),
    );
    assert_eq!(resp.status, 201);
    let bob = Auth::Cookie(o.server.sign_in("bob@example.com", "bob password 12"));
    assert_eq!(o.server.get(&stats_path, &bob).status, 403);
    // A reviewer's grant shows when they first and last opened it.
    o.server.view_grant(&bob, &o.share, 1);
    let access = o
        .server
        .get(&format!("/api/v1/artifacts/{}/access", o.share), &o.ada)
        .json();
    let grant = &access["access"][0];
    assert_eq!(grant["status"], "viewed");
    let first = grant["firstViewedAt"].as_i64().ok_or("firstViewedAt")?;
    let last = grant["lastViewedAt"].as_i64().ok_or("lastViewedAt")?;
    assert!(last >= first, "{first} {last}");
    Ok(())
}

#[test]
fn a_link_whose_key_was_lost_keeps_working_and_can_be_given_a_new_address() -> TestResult {
    let o = owned();
    let token = o.make_link(json!({}));
    let Owned {
        server, share, ada, ..
    } = o;
    let (dir, db) = server.stop();
    let key_file = {
        let mut name = db.as_os_str().to_owned();
        name.push(".link-key");
        std::path::PathBuf::from(name)
    };
    assert_eq!(std::fs::read(&key_file)?.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file)?.permissions().mode() & 0o777,
            0o600
        );
    }
    std::fs::remove_file(&key_file)?;
    let server = Server::start_on(dir, db, &[]);
    assert!(
        server
            .log()
            .contains("1 share links were made with another share-link key"),
        "the operator is told: {}",
        server.log()
    );
    let path = format!("/api/v1/artifacts/{share}/sharelink");
    let shown = server.get(&path, &ada).json();
    assert_eq!(
        shown["shareUrl"],
        Value::Null,
        "the address cannot be derived any more"
    );
    assert_eq!(
        server.get(&format!("/share/{token}/"), &Auth::None).status,
        200,
        "yet it works"
    );
    let resp = server.post(&path, &ada, &json!({}));
    assert_eq!(resp.status, 200);
    let fresh = token_of(&resp.json());
    assert_ne!(fresh, token);
    assert_eq!(
        server.get(&format!("/share/{fresh}/"), &Auth::None).status,
        200
    );
    assert_eq!(
        server.get(&format!("/share/{token}/"), &Auth::None).status,
        404
    );
    Ok(())
}

#[test]
fn discovery_errors_and_uploads_have_the_hosted_apis_shape() -> TestResult {
    let server = Server::start();
    let index = server.get("/api/v1", &Auth::None).json();
    assert_eq!(index["documentation"], server.url("/api/v1/openapi.json"));
    assert_eq!(index["health"], server.url("/api/v1/health"));
    assert_eq!(index["authentication"]["header"], "X-API-Key");
    assert_eq!(index["authentication"]["prefix"], "ar_live_");
    let resp = server.get("/api/v1/me", &Auth::None);
    assert_eq!(resp.status, 401);
    let hint = resp.json()["hint"].as_str().ok_or("hint")?.to_string();
    assert!(hint.contains("X-API-Key"), "{hint}");
    let resp = server.get("/api/v1/me", &Auth::Key("ar_live_wrong".into()));
    assert_eq!(resp.status, 401);
    assert!(resp.json()["hint"].is_string());

    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "ci"}));
    let created = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Notes", "fileType": "markdown", "content": "# Notes", "organizationId": "org_123"}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    let files = server
        .get(
            &format!("/api/v1/artifacts/{share}/versions/1/files"),
            &Auth::Key(key),
        )
        .json();
    assert_eq!(files["entryPoint"], "README.md");
    assert_eq!(files["files"][0]["path"], "README.md");
    Ok(())
}

#[test]
fn a_link_that_takes_comments_shows_them_and_never_says_otherwise() -> TestResult {
    let o = owned();
    let path = o.link_path();
    let stored = |o: &Owned| -> (bool, bool) {
        o.server
            .open_db()
            .query_row(
                "SELECT read_comments, write_comments FROM share_links",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((false, false))
    };
    let events = |o: &Owned| -> i64 {
        o.server
            .open_db()
            .query_row(
                "SELECT count(*) FROM audit_events WHERE action LIKE 'access.link%'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(-1)
    };
    let both = json!({"readComments": true, "writeComments": true});

    // Made with both asked for in contradiction: refused, no link made.
    let resp = o.server.post(
        &path,
        &o.ada,
        &json!({"capabilities": {"readComments": false, "writeComments": true}}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.error_code(), "invalid_capabilities");
    assert_eq!(o.server.get(&path, &o.ada).status, 404, "no link was made");

    // writeComments alone implies readComments, stored and answered so.
    let resp = o.server.post(
        &path,
        &o.ada,
        &json!({"capabilities": {"writeComments": true}}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["capabilities"], both);
    assert_eq!(stored(&o), (true, true));
    let token = token_of(&resp.json());

    // The black-box case: readComments false beside writeComments true is refused, nothing changes.
    let before = events(&o);
    for body in [
        json!({"capabilities": {"readComments": false, "writeComments": true}}),
        json!({"capabilities": {"readComments": false}}),
    ] {
        let resp = o.server.patch(&path, &o.ada, &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text());
        assert_eq!(resp.error_code(), "invalid_capabilities");
        let message = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("implies showing them"), "{message}");
    }
    assert_eq!(stored(&o), (true, true));
    assert_eq!(events(&o), before, "nothing was recorded");

    // Turning both off together works; turning commenting on again brings reading with it.
    let off =
        o.patch_link(json!({"capabilities": {"readComments": false, "writeComments": false}}));
    assert_eq!(
        off["capabilities"],
        json!({"readComments": false, "writeComments": false})
    );
    let on = o.patch_link(json!({"capabilities": {"writeComments": true}}));
    assert_eq!(on["capabilities"], both);
    assert_eq!(stored(&o), (true, true));

    // A link stored before the rule (reading off, writing on) is answered as it behaves.
    let db = rusqlite::Connection::open(&o.server.db)?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    db.execute(
        "UPDATE share_links SET read_comments = 0, write_comments = 1",
        [],
    )?;
    drop(db);
    assert_eq!(o.server.get(&path, &o.ada).json()["capabilities"], both);
    let shared = o
        .server
        .get(&format!("/api/v1/share/{token}"), &Auth::None)
        .json();
    assert_eq!(shared["capabilities"], both);
    Ok(())
}

#[test]
fn through_a_link_a_person_changes_and_deletes_only_what_they_wrote_while_it_takes_comments(
) -> TestResult {
    let o = owned();
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{}/comments", o.share),
        &o.ada,
        &json!({"content": "Owner's note", "target": {"source": "index.html"}}),
    );
    let owner_comment = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let token = o.make_link(json!({"writeComments": true}));
    let carol = Auth::Cookie(
        o.server
            .add_user("carol@example.com", "Carol", "carol password 12"),
    );
    let dave = Auth::Cookie(
        o.server
            .add_user("dave@example.com", "Dave", "dave password 12"),
    );
    let post =
        |auth: &Auth, path: &str, body: Value| -> Result<String, Box<dyn std::error::Error>> {
            let resp = o
                .server
                .post(&format!("/api/v1/share/{token}{path}"), auth, &body);
            assert_eq!(resp.status, 201, "{}", resp.text());
            Ok(resp.json()["id"].as_str().ok_or("id")?.to_string())
        };
    let mine = post(
        &carol,
        "/comments",
        json!({"content": "Typo hre", "target": {"source": "index.html"}}),
    )?;
    let reply = post(
        &carol,
        &format!("/comments/{owner_comment}/replies"),
        json!({"content": "Agred"}),
    )?;
    let stored = |table: &str, id: &str| -> rusqlite::Result<(String, bool)> {
        o.server.open_db().query_row(
            &format!("SELECT content, deleted_at IS NOT NULL FROM {table} WHERE id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    };

    // Her own comment and reply: she fixes them, as herself, and the change is recorded.
    let resp = o.server.patch(
        &format!("/api/v1/share/{token}/comments/{mine}"),
        &carol,
        &json!({"content": "Typo here"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["content"], "Typo here");
    assert_eq!(stored("comments", &mine)?, ("Typo here".to_string(), false));
    let resp = o.server.patch(
        &format!("/api/v1/share/{token}/replies/{reply}"),
        &carol,
        &json!({"content": "Agreed"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["content"], "Agreed");
    assert_eq!(stored("replies", &reply)?, ("Agreed".to_string(), false));

    // Others' words are not hers to change or delete, not even through the link; nor is
    // resolving (a reviewer's act) or anything of another artifact.
    for (method, path, body) in [
        (
            "PATCH",
            format!("/comments/{owner_comment}"),
            Some(json!({"content": "mine now"})),
        ),
        ("DELETE", format!("/comments/{owner_comment}"), None),
    ] {
        let path = format!("/api/v1/share/{token}{path}");
        let body = body.map(|b| b.to_string());
        let resp = o.server.request(
            method,
            &path,
            &carol,
            body.as_deref().map(str::as_bytes),
            &[],
        );
        assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text());
    }
    for (method, path) in [
        ("PATCH", format!("/comments/{mine}")),
        ("DELETE", format!("/comments/{mine}")),
    ] {
        let path = format!("/api/v1/share/{token}{path}");
        let body = json!({"content": "Dave was here"}).to_string();
        let resp = o
            .server
            .request(method, &path, &dave, Some(body.as_bytes()), &[]);
        assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text());
    }
    let resp = o.server.patch(
        &format!("/api/v1/share/{token}/comments/{mine}"),
        &carol,
        &json!({"resolved": true}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        stored("comments", &owner_comment)?,
        ("Owner's note".to_string(), false)
    );
    assert_eq!(stored("comments", &mine)?, ("Typo here".to_string(), false));
    // An API key cannot act through a link (it takes a person's session).
    let resp = o
        .server
        .delete(&format!("/api/v1/share/{token}/comments/{mine}"), &o.ada);
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.error_code(), "session_required");

    // Deleting: her reply, then her comment.
    let resp = o
        .server
        .delete(&format!("/api/v1/share/{token}/replies/{reply}"), &carol);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(stored("replies", &reply)?.1);
    let owner_view = o
        .server
        .get(&format!("/api/v1/artifacts/{}/comments", o.share), &o.ada)
        .json();
    assert_eq!(
        owner_view["comments"][0]["replies"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let actions = actions(&o.server.get("/api/v1/activity", &carol).json());
    for action in ["comment.updated", "reply.updated", "reply.deleted"] {
        assert!(
            actions.contains(&action.to_string()),
            "{action}: {actions:?}"
        );
    }

    // Once the link no longer takes comments, nothing changes through it.
    o.patch_link(json!({"capabilities": {"writeComments": false, "readComments": true}}));
    let resp = o
        .server
        .delete(&format!("/api/v1/share/{token}/comments/{mine}"), &carol);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.error_code(), "comments_closed");
    o.patch_link(json!({"capabilities": {"writeComments": true}}));
    let resp = o
        .server
        .delete(&format!("/api/v1/share/{token}/comments/{mine}"), &carol);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(stored("comments", &mine)?.1);
    o.server.delete(&o.link_path(), &o.ada);
    let resp = o.server.patch(
        &format!("/api/v1/share/{token}/comments/{owner_comment}"),
        &carol,
        &json!({"content": "x"}),
    );
    assert_eq!(resp.status, 404);
    Ok(())
}

#[test]
fn a_removed_reviewer_cannot_change_through_the_link_what_they_wrote_as_a_reviewer() -> TestResult {
    let o = owned();
    let token = o.make_link(json!({"writeComments": true}));
    let bob = Auth::Cookie(
        o.server
            .add_user("bob@example.com", "Bob", "bob password 12"),
    );
    let grant = o.server.post(
        &format!("/api/v1/artifacts/{}/access", o.share),
        &o.ada,
        &json!({"email": "bob@example.com", "role": "can-comment"}),
    );
    assert_eq!(grant.status, 201, "{}", grant.text());
    let grant = grant.json()["id"].as_str().ok_or("grant id")?.to_string();
    let created = |path: String, body: Value| -> Result<String, Box<dyn std::error::Error>> {
        let resp = o.server.post(&path, &bob, &body);
        assert_eq!(resp.status, 201, "{path}: {}", resp.text());
        Ok(resp.json()["id"].as_str().ok_or("id")?.to_string())
    };
    let target = json!({"source": "index.html"});
    // As a reviewer, on the review page (the API as himself); then through the link.
    let as_reviewer = created(
        format!("/api/v1/artifacts/{}/comments", o.share),
        json!({"content": "As a reviewer", "target": target}),
    )?;
    let reply_as_reviewer = created(
        format!("/api/v1/comments/{as_reviewer}/replies"),
        json!({"content": "Reviewer's reply"}),
    )?;
    let via_link = created(
        format!("/api/v1/share/{token}/comments"),
        json!({"content": "Through the link", "target": target}),
    )?;
    let reply_via_link = created(
        format!("/api/v1/share/{token}/comments/{as_reviewer}/replies"),
        json!({"content": "Link reply"}),
    )?;

    // Everyone who reads the thread sees how each part came.
    let listing = o
        .server
        .get(&format!("/api/v1/artifacts/{}/comments", o.share), &o.ada)
        .json();
    let comment = |id: &str| -> Value {
        listing["comments"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["id"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(comment(&as_reviewer)["viaShareLink"], false);
    assert_eq!(comment(&via_link)["viaShareLink"], true);
    let replies = comment(&as_reviewer)["replies"].clone();
    assert_eq!(replies[0]["id"], reply_as_reviewer.as_str());
    assert_eq!(replies[0]["viaShareLink"], false);
    assert_eq!(replies[1]["id"], reply_via_link.as_str());
    assert_eq!(replies[1]["viaShareLink"], true);
    let shared = o
        .server
        .get(&format!("/api/v1/share/{token}/comments"), &Auth::None)
        .json();
    assert_eq!(shared["comments"][1]["viaShareLink"], true, "{shared}");

    // His access is removed: what he wrote as a reviewer is no longer his to change, through
    // the link either; what he wrote through the link still is.
    let removed = o.server.delete(
        &format!("/api/v1/artifacts/{}/access/{grant}", o.share),
        &o.ada,
    );
    assert_eq!(removed.status, 200, "{}", removed.text());
    let edit = json!({"content": "rewritten after removal"}).to_string();
    for (method, path) in [
        ("PATCH", format!("/comments/{as_reviewer}")),
        ("DELETE", format!("/comments/{as_reviewer}")),
        ("PATCH", format!("/replies/{reply_as_reviewer}")),
        ("DELETE", format!("/replies/{reply_as_reviewer}")),
    ] {
        let path = format!("/api/v1/share/{token}{path}");
        let resp = o
            .server
            .request(method, &path, &bob, Some(edit.as_bytes()), &[]);
        assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text());
        assert_eq!(resp.error_code(), "not_allowed");
        assert!(
            resp.text().contains("not written through the share link"),
            "{}",
            resp.text()
        );
    }
    let stored = |table: &str, id: &str| -> rusqlite::Result<(String, bool)> {
        o.server.open_db().query_row(
            &format!("SELECT content, deleted_at IS NOT NULL FROM {table} WHERE id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    };
    assert_eq!(
        stored("comments", &as_reviewer)?,
        ("As a reviewer".to_string(), false)
    );
    assert_eq!(
        stored("replies", &reply_as_reviewer)?,
        ("Reviewer's reply".to_string(), false)
    );
    let resp = o.server.patch(
        &format!("/api/v1/share/{token}/comments/{via_link}"),
        &bob,
        &json!({"content": "Through the link, fixed"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["viaShareLink"], true);
    let resp = o.server.patch(
        &format!("/api/v1/share/{token}/replies/{reply_via_link}"),
        &bob,
        &json!({"content": "Link reply, fixed"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = o.server.delete(
        &format!("/api/v1/share/{token}/replies/{reply_via_link}"),
        &bob,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(stored("replies", &reply_via_link)?.1);
    Ok(())
}

#[test]
fn a_comment_under_way_when_the_link_stops_taking_comments_is_refused_as_closed_not_gone(
) -> TestResult {
    let o = owned();
    let token = o.make_link(json!({"writeComments": true}));
    let carol = o
        .server
        .add_user("carol@example.com", "Carol", "carol password 12");
    let body =
        json!({"content": "x".repeat(4_000), "target": {"source": "index.html"}}).to_string();
    let before: i64 = o
        .server
        .open_db()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get(0))?;
    // Its link was checked when its head came; the owner closes comments while its body comes.
    let answer = o.server.interrupted_with(
        "POST",
        &format!("/api/v1/share/{token}/comments"),
        &format!("Cookie: ar_session={carol}"),
        &body,
        || {
            o.patch_link(json!({"capabilities": {"writeComments": false}}));
        },
    );
    let text = String::from_utf8_lossy(&answer.body).to_string();
    assert_eq!(answer.status, 403, "{text}");
    assert!(text.contains("\"code\":\"comments_closed\""), "{text}");
    let after: i64 = o
        .server
        .open_db()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get(0))?;
    assert_eq!(after, before, "nothing stored");
    Ok(())
}
