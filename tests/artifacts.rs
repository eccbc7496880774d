//! Artifacts and versions over the real server: uploads as JSON and multipart, attribution, listing,
//! reading, renaming, deleting; versions published, renamed, deleted (never the last), restored;
//! files listed and read raw; identical files stored once.

mod common;

use common::zips::zip_of;
use common::*;
use serde_json::{json, Value};

struct Owner {
    server: Server,
    cookie: String,
    key: String,
}

fn owner() -> Owner {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    Owner {
        server,
        cookie,
        key,
    }
}

fn token(created: &Value) -> String {
    created["shareToken"]
        .as_str()
        .expect("shareToken")
        .to_string()
}

#[test]
fn the_product_page_upload_works_as_written() -> TestResult {
    let o = owner();
    let resp = o.server.request(
        "POST",
        "/api/v1/artifacts",
        &Auth::Key(o.key.clone()),
        Some(br#"{"name": "Dashboard Prototype", "fileName": "dashboard.html", "content": "<html>...</html>"}"#),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let created = resp.json();
    let share = token(&created);
    assert!(share.len() >= 12);
    assert!(share
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        created["shareUrl"],
        json!(o.server.url(&format!("/a/{share}")))
    );
    assert_eq!(created["version"], 1);
    assert!(created["id"].as_str().is_some());
    assert!(created["latestVersionId"].as_str().is_some());

    let shown = o
        .server
        .get(
            &format!("/api/v1/artifacts/{share}"),
            &Auth::Key(o.key.clone()),
        )
        .json();
    assert_eq!(shown["name"], "Dashboard Prototype");
    assert_eq!(shown["latestVersion"], 1);
    assert_eq!(shown["versions"][0]["fileType"], "html");
    assert_eq!(shown["versions"][0]["entryPoint"], "dashboard.html");
    assert_eq!(shown["versions"][0]["size"], 16);
    assert_eq!(shown["versions"][0]["isLatest"], true);
    assert_eq!(
        shown["versions"][0]["createdBy"],
        json!({"kind": "user", "id": "1", "name": "Ada"})
    );
    let raw = o.server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files/dashboard.html"),
        &Auth::Key(o.key.clone()),
    );
    assert_eq!(raw.status, 200);
    assert_eq!(raw.text(), "<html>...</html>");
    assert_eq!(
        raw.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        raw.header("content-security-policy").as_deref(),
        Some("sandbox")
    );
    // A page on the server's own origin is saved, not shown (it could pass for a sign-in page).
    assert_eq!(
        raw.header("content-disposition").as_deref(),
        Some("attachment; filename=\"dashboard.html\"; filename*=UTF-8''dashboard.html")
    );
    assert_eq!(
        raw.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    // As its source text (the review page's "Raw file" link for a page).
    let path = format!("/api/v1/artifacts/{share}/versions/1/files/dashboard.html");
    let source = o
        .server
        .get(&format!("{path}?as=text"), &Auth::Key(o.key.clone()));
    assert_eq!(source.status, 200, "{}", source.text());
    assert_eq!(source.text(), "<html>...</html>");
    assert_eq!(
        source.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        source.header("content-security-policy").as_deref(),
        Some("sandbox")
    );
    assert_eq!(source.header("content-disposition"), None, "shown, as text");
    // Asked again with the tag it gave: 304 without the bytes, for the file and its source alike.
    let page_tag = raw.header("etag").ok_or("an ETag")?;
    let text_tag = source.header("etag").ok_or("an ETag for the text")?;
    assert_ne!(page_tag, text_tag, "two representations, two tags");
    for (url, tag) in [
        (path.clone(), &page_tag),
        (format!("{path}?as=text"), &text_tag),
    ] {
        let again = o.server.request(
            "GET",
            &url,
            &Auth::Key(o.key.clone()),
            None,
            &[("If-None-Match", tag.as_str())],
        );
        assert_eq!(again.status, 304, "{url}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag").as_deref(), Some(tag.as_str()));
        assert_eq!(
            again.header("content-security-policy").as_deref(),
            Some("sandbox")
        );
    }
    let other = o.server.request(
        "GET",
        &path,
        &Auth::Key(o.key.clone()),
        None,
        &[("If-None-Match", text_tag.as_str())],
    );
    assert_eq!(other.status, 200, "the source's tag is not the page's");
    assert_eq!(other.text(), "<html>...</html>");
    let bad = o
        .server
        .get(&format!("{path}?as=html"), &Auth::Key(o.key.clone()));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_code(), "invalid_query");
    // Bytes that are not text are not shown as such; a page in a legacy encoding is.
    const LATIN1: &[u8] = b"<meta charset=\"iso-8859-1\"><p>Gr\xfc\xdfe</p>";
    let zip = zip_of(&[
        ("index.html", b"<p>A pixel</p>".as_slice()),
        (
            "pixel.png",
            &[0x89, b'P', b'N', b'G', 0xff, 0xfe, 0x00, 0x01],
        ),
        ("legacy.html", LATIN1),
    ])?;
    let made = o.server.upload_multipart(
        "/api/v1/artifacts",
        &Auth::Key(o.key.clone()),
        &[("file", Some("pixel.zip"), &zip), ("name", None, b"Pixel")],
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    let image = made["shareToken"].as_str().ok_or("share token")?;
    let refused = o.server.get(
        &format!("/api/v1/artifacts/{image}/versions/1/files/pixel.png?as=text"),
        &Auth::Key(o.key.clone()),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.error_code(), "not_text");
    // Not claimed to be UTF-8, as a page or as text: the browser follows its <meta charset>.
    let legacy = format!("/api/v1/artifacts/{image}/versions/1/files/legacy.html");
    let page = o.server.get(&legacy, &Auth::Key(o.key.clone()));
    assert_eq!(page.status, 200);
    assert_eq!(page.body, LATIN1);
    assert_eq!(page.header("content-type").as_deref(), Some("text/html"));
    let source = o
        .server
        .get(&format!("{legacy}?as=text"), &Auth::Key(o.key.clone()));
    assert_eq!(source.status, 200, "{}", source.text());
    assert_eq!(source.body, LATIN1);
    assert_eq!(source.header("content-type").as_deref(), Some("text/plain"));
    // Its text is read as the browser reads it: a quote of it is found.
    let quoted = o.server.post(
        &format!("/api/v1/artifacts/{image}/comments"),
        &Auth::Key(o.key.clone()),
        &json!({"content": "Which greeting?", "quote": "Grüße", "source": "legacy.html"}),
    );
    assert_eq!(quoted.status, 201, "{}", quoted.text());
    let listed = o.server.get(
        &format!("/api/v1/artifacts/{image}/comments"),
        &Auth::Key(o.key.clone()),
    );
    let target = listed.json()["comments"][0]["target"].to_string();
    assert!(target.contains("\"exact\":\"Grüße\""), "{target}");
    Ok(())
}

#[test]
fn an_upload_through_an_agent_key_is_attributed_to_the_agent() -> TestResult {
    let o = owner();
    let agent = o
        .server
        .create_agent(&Auth::Cookie(o.cookie.clone()), "Claude", Some("coding"));
    let (_, agent_key) = o
        .server
        .create_key(&o.cookie, json!({"name": "claude", "agentId": agent}));
    let created = o.server.upload(
        &Auth::Key(agent_key.clone()),
        json!({"name": "Report", "fileType": "markdown", "content": "# Findings\n\nAll good."}),
    );
    let share = token(&created);
    let versions = o
        .server
        .get(
            &format!("/api/v1/artifacts/{share}/versions"),
            &Auth::Cookie(o.cookie.clone()),
        )
        .json();
    assert_eq!(
        versions["versions"][0]["createdBy"],
        json!({"kind": "agent", "id": agent, "name": "Claude", "role": "coding"})
    );
    assert_eq!(versions["versions"][0]["entryPoint"], "README.md");
    // The artifact belongs to the agent's user.
    let listed = o
        .server
        .get("/api/v1/artifacts", &Auth::Cookie(o.cookie.clone()))
        .json();
    assert_eq!(
        listed["artifacts"][0]["owner"],
        json!({"id": "1", "name": "Ada"})
    );
    assert_eq!(listed["artifacts"][0]["role"], "owner");
    // Deleting the agent later changes nothing in the attribution.
    o.server.delete(
        &format!("/api/v1/agents/{agent}"),
        &Auth::Cookie(o.cookie.clone()),
    );
    let versions = o
        .server
        .get(
            &format!("/api/v1/artifacts/{share}/versions"),
            &Auth::Cookie(o.cookie),
        )
        .json();
    assert_eq!(versions["versions"][0]["createdBy"]["name"], "Claude");
    assert_eq!(versions["versions"][0]["createdBy"]["kind"], "agent");
    Ok(())
}

#[test]
fn a_zip_site_uploads_as_multipart_like_curl_f() -> TestResult {
    let o = owner();
    let site = zip_of(&[
        (
            "my-site/index.html",
            b"<link rel=stylesheet href=style.css><h1>Hi</h1>",
        ),
        ("my-site/style.css", b"h1 { color: red }"),
        (
            "my-site/img/logo.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        ),
    ])?;
    let resp = o.server.upload_multipart(
        "/api/v1/artifacts",
        &Auth::Key(o.key.clone()),
        &[
            ("file", Some("site.zip"), &site),
            ("name", None, b"My site"),
            ("description", None, b"a small site"),
        ],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let created = resp.json();
    assert_eq!(created["fileType"], "zip");
    assert_eq!(created["entryPoint"], "index.html");
    let share = token(&created);
    let files = o
        .server
        .get(
            &format!("/api/v1/artifacts/{share}/versions/1/files"),
            &Auth::Key(o.key.clone()),
        )
        .json();
    assert_eq!(files["entryPoint"], "index.html");
    let paths: Vec<&str> = files["files"]
        .as_array()
        .ok_or("files")?
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        ["img/logo.svg", "index.html", "style.css"],
        "the common folder is stripped"
    );
    let css = &files["files"][2];
    assert_eq!(css["contentType"], "text/css; charset=utf-8");
    assert_eq!(css["size"], 17);
    assert_eq!(
        css["sha256"],
        json!(artifact_review::secrets::hex(
            &artifact_review::secrets::sha256(b"h1 { color: red }")
        ))
    );
    let raw = o.server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files/img/logo.svg"),
        &Auth::Key(o.key.clone()),
    );
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.header("content-type").as_deref(),
        Some("image/svg+xml; charset=utf-8")
    );
    let shown = o
        .server
        .get(&format!("/api/v1/artifacts/{share}"), &Auth::Key(o.key))
        .json();
    assert_eq!(shown["description"], "a small site");
    Ok(())
}

#[test]
fn a_zip_in_json_is_base64() -> TestResult {
    let o = owner();
    let site = zip_of(&[
        ("docs/README.md", b"# Read me"),
        ("docs/guide.md", b"# Guide"),
    ])?;
    let created = o.server.upload(
        &Auth::Key(o.key.clone()),
        json!({"name": "Docs", "fileName": "docs.zip", "content": b64(&site)}),
    );
    assert_eq!(
        created["entryPoint"], "README.md",
        "a ZIP of Markdown is a valid artifact"
    );
    let resp = o.server.post(
        "/api/v1/artifacts",
        &Auth::Key(o.key),
        &json!({"name": "Bad", "fileType": "zip", "content": "not base64!"}),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "invalid_base64");
    Ok(())
}

#[test]
fn listing_shows_my_artifacts_newest_first_a_page_at_a_time() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    for i in 0..5 {
        o.server.upload(
            &k,
            json!({"name": format!("a{i}"), "fileName": "x.html", "content": "<p>x</p>"}),
        );
    }
    let first = o.server.get("/api/v1/artifacts?limit=2", &k).json();
    let names = |v: &Value| -> Vec<String> {
        v["artifacts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&first), ["a4", "a3"]);
    let cursor = first["nextCursor"].as_str().ok_or("cursor")?;
    let second = o
        .server
        .get(&format!("/api/v1/artifacts?limit=2&cursor={cursor}"), &k)
        .json();
    assert_eq!(names(&second), ["a2", "a1"]);
    let cursor = second["nextCursor"].as_str().ok_or("cursor")?;
    let third = o
        .server
        .get(&format!("/api/v1/artifacts?limit=2&cursor={cursor}"), &k)
        .json();
    assert_eq!(names(&third), ["a0"]);
    assert_eq!(third["nextCursor"], json!(null));
    let item = &first["artifacts"][0];
    assert_eq!(
        item["stats"],
        json!({"commentCount": 0, "unresolvedCommentCount": 0, "totalViews": 0})
    );
    assert_eq!(item["latestVersion"], 1);
    assert!(item["shareUrl"]
        .as_str()
        .unwrap_or_default()
        .ends_with(item["shareToken"].as_str().unwrap_or("?")));
    assert_eq!(o.server.get("/api/v1/artifacts?limit=0", &k).status, 400);
    assert_eq!(o.server.get("/api/v1/artifacts?cursor=x", &k).status, 400);
    Ok(())
}

#[test]
fn strangers_get_404_for_everything_about_an_artifact() -> TestResult {
    let o = owner();
    let share = token(&o.server.upload(
        &Auth::Key(o.key.clone()),
        json!({"name": "Private", "fileName": "p.html", "content": "<p>secret</p>"}),
    ));
    let eve = Auth::Cookie(
        o.server
            .add_user("eve@example.com", "Eve", "eve password 1"),
    );
    let base = format!("/api/v1/artifacts/{share}");
    for resp in [
        o.server.get(&base, &eve),
        o.server.patch(&base, &eve, &json!({"name": "mine"})),
        o.server.delete(&base, &eve),
        o.server.get(&format!("{base}/versions"), &eve),
        o.server.post(
            &format!("{base}/versions"),
            &eve,
            &json!({"fileName": "x.html", "content": "<p>x</p>"}),
        ),
        o.server.get(&format!("{base}/versions/1/files"), &eve),
        o.server
            .get(&format!("{base}/versions/1/files/p.html"), &eve),
        o.server.delete(&format!("{base}/versions/1"), &eve),
        o.server.get("/api/v1/artifacts/doesnotexist12", &eve),
    ] {
        assert_eq!(resp.status, 404, "{}", resp.text());
        assert_eq!(resp.error_code(), "not_found");
    }
    assert_eq!(
        o.server.get("/api/v1/artifacts", &eve).json()["artifacts"],
        json!([])
    );
    assert_eq!(
        o.server.get(&base, &Auth::Key(o.key)).json()["name"],
        "Private",
        "unchanged"
    );
    Ok(())
}

#[test]
fn an_artifact_can_be_renamed_described_and_deleted_by_its_owner() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let share = token(&o.server.upload(
        &k,
        json!({"name": "Draft", "fileName": "d.html", "content": "<p>d</p>"}),
    ));
    let base = format!("/api/v1/artifacts/{share}");
    let resp = o.server.patch(
        &base,
        &k,
        &json!({"name": "Final", "description": "the final draft"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["name"], "Final");
    assert_eq!(resp.json()["description"], "the final draft");
    for (body, code) in [
        (json!({"name": ""}), "required"),
        (json!({"name": "x".repeat(201)}), "too_long"),
        (json!({"description": "x".repeat(501)}), "too_long"),
        (json!({"owner": "me"}), "invalid_request"),
        (json!({}), "nothing_to_change"),
        // null would clear the name, which an artifact cannot be without.
        (json!({"name": null}), "required"),
    ] {
        let resp = o.server.patch(&base, &k, &body);
        assert_eq!(resp.status, 400, "{body}");
        assert_eq!(resp.error_code(), code);
        if body.get("name").is_some() {
            assert_eq!(resp.json()["field"], "name", "{body}: {}", resp.text());
        }
    }
    // A refused change changes nothing: the artifact is as it was and no update was recorded.
    let shown = o.server.get(&base, &k).json();
    assert_eq!(shown["name"], "Final");
    assert_eq!(shown["updatedAt"], resp.json()["updatedAt"]);
    let updates: i64 = o.server.open_db().query_row(
        "SELECT count(*) FROM audit_events WHERE action = 'artifact.updated'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(updates, 1, "only the one real change is in the audit trail");
    // null clears the description, as "" does, also beside another change.
    let resp = o.server.patch(
        &base,
        &k,
        &json!({"name": "Final again", "description": null}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["description"], "");
    assert_eq!(o.server.get(&base, &k).json()["name"], "Final again");
    let resp = o.server.delete(&base, &k);
    assert_eq!(resp.status, 200);
    assert!(resp.json()["deletedAt"].as_i64().is_some());
    assert_eq!(o.server.get(&base, &k).status, 404);
    assert_eq!(
        o.server.get("/api/v1/artifacts", &k).json()["artifacts"],
        json!([])
    );
    let deleted_at: Option<i64> =
        o.server
            .open_db()
            .query_row("SELECT deleted_at FROM artifacts", [], |r| r.get(0))?;
    assert!(deleted_at.is_some(), "soft delete keeps the row");
    Ok(())
}

#[test]
fn a_new_version_keeps_its_documents_type_and_name_unless_told_otherwise() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let share = token(&o.server.upload(
        &k,
        json!({"name": "Report", "fileName": "report.md", "content": "# Report\n\nv1"}),
    ));
    let base = format!("/api/v1/artifacts/{share}/versions");
    let entry = |resp: Resp| -> Result<String, String> {
        assert_eq!(resp.status, 201, "{}", resp.text());
        Ok(resp.json()["entryPoint"]
            .as_str()
            .ok_or("entryPoint")?
            .to_string())
    };
    // Neither type nor name: Markdown, still report.md.
    let v2 = o
        .server
        .post(&base, &k, &json!({"content": "# Report\n\nv2"}));
    assert_eq!(entry(v2)?, "report.md");
    // A multipart file of its own name (a CI job's v3.md): still report.md.
    let v3 = o.server.upload_multipart(
        &base,
        &k,
        &[("file", Some("v3.md"), b"# Report\n\nv3".as_slice())],
    );
    assert_eq!(entry(v3)?, "report.md");
    // Named on purpose: renamed.
    let v4 = o.server.upload_multipart(
        &base,
        &k,
        &[
            ("file", Some("v4.md"), b"# Report\n\nv4".as_slice()),
            ("fileName", None, b"summary.md".as_slice()),
        ],
    );
    assert_eq!(entry(v4)?, "summary.md");
    // A multipart file whose own name says no type (piped to curl as `file=@-`, or notes.txt):
    // the latest's type and name.
    for own in ["-", "notes.txt"] {
        let piped = o.server.upload_multipart(
            &base,
            &k,
            &[("file", Some(own), b"# Report\n\npiped".as_slice())],
        );
        assert_eq!(entry(piped)?, "summary.md", "{own}");
    }
    // Another type is another document.
    let v5 = o.server.post(
        &base,
        &k,
        &json!({"fileName": "report.html", "content": "<p>v5</p>"}),
    );
    assert_eq!(entry(v5)?, "report.html");
    let files: Vec<String> = o.server.get(&format!("{base}/3/files"), &k).json()["files"]
        .as_array()
        .ok_or("files")?
        .iter()
        .filter_map(|f| f["path"].as_str().map(str::to_string))
        .collect();
    assert_eq!(files, vec!["report.md"]);
    Ok(())
}

#[test]
fn versions_are_published_listed_renamed_deleted_and_restored() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let share = token(&o.server.upload(&k, json!({"name": "Page", "fileName": "index.html", "content": "<p>v1</p>", "versionName": "first"})));
    let base = format!("/api/v1/artifacts/{share}/versions");
    let resp = o.server.post(
        &base,
        &k,
        &json!({"fileName": "index.html", "content": "<p>v2</p>", "name": "second"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["number"], 2);
    let list = o.server.get(&base, &k).json();
    let summary: Vec<(i64, Value, bool)> = list["versions"]
        .as_array()
        .ok_or("versions")?
        .iter()
        .map(|v| {
            (
                v["number"].as_i64().unwrap_or(0),
                v["name"].clone(),
                v["isLatest"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![(1, json!("first"), false), (2, json!("second"), true)]
    );

    let resp = o
        .server
        .patch(&format!("{base}/1"), &k, &json!({"name": "the first"}));
    assert_eq!(resp.status, 200);
    assert_eq!(
        o.server.get(&base, &k).json()["versions"][0]["name"],
        "the first"
    );
    assert_eq!(
        o.server
            .patch(&format!("{base}/1"), &k, &json!({"name": null}))
            .status,
        200
    );
    assert_eq!(
        o.server.get(&base, &k).json()["versions"][0]["name"],
        json!(null)
    );
    let resp = o
        .server
        .patch(&format!("{base}/1"), &k, &json!({"name": "n".repeat(101)}));
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.json()["error"],
        "name is 101 characters long; the limit is 100 characters"
    );
    assert_eq!(resp.json()["field"], "name", "the field this route takes");
    assert_eq!(
        o.server.patch(&format!("{base}/1"), &k, &json!({})).status,
        400,
        "name must be given"
    );
    assert_eq!(
        o.server
            .patch(&format!("{base}/1"), &k, &json!({"name": "n".repeat(100)}))
            .status,
        200
    );

    // Delete v2: v1 is the latest again; the raw file of v2 is gone.
    assert_eq!(o.server.delete(&format!("{base}/2"), &k).status, 200);
    let list = o.server.get(&base, &k).json();
    assert_eq!(list["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["versions"][0]["isLatest"], true);
    assert_eq!(
        o.server
            .get(&format!("{base}/2/files/index.html"), &k)
            .status,
        404
    );
    // v1 is now the last active version.
    let resp = o.server.delete(&format!("{base}/1"), &k);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "last_active_version");
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("last active version"));
    // Numbers only grow: the next version is 3, not 2.
    let resp = o.server.post(
        &base,
        &k,
        &json!({"fileName": "index.html", "content": "<p>v3</p>"}),
    );
    assert_eq!(resp.json()["number"], 3);
    // Restore v2: back in the list, between 1 and 3.
    assert_eq!(
        o.server
            .post(&format!("{base}/2/restore"), &k, &json!({}))
            .status,
        200
    );
    let numbers: Vec<i64> = o.server.get(&base, &k).json()["versions"]
        .as_array()
        .ok_or("v")?
        .iter()
        .filter_map(|v| v["number"].as_i64())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(
        o.server
            .get(&format!("{base}/2/files/index.html"), &k)
            .text(),
        "<p>v2</p>"
    );
    Ok(())
}

#[test]
fn bad_version_numbers_are_4xx_never_5xx() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let share = token(&o.server.upload(
        &k,
        json!({"name": "Page", "fileName": "index.html", "content": "<p>v1</p>"}),
    ));
    for n in ["0", "-1", "abc", "1.5", "99999999999999999999", "v", "%00"] {
        for resp in [
            o.server
                .get(&format!("/api/v1/artifacts/{share}/versions/{n}/files"), &k),
            o.server
                .delete(&format!("/api/v1/artifacts/{share}/versions/{n}"), &k),
            o.server.patch(
                &format!("/api/v1/artifacts/{share}/versions/{n}"),
                &k,
                &json!({"name": "x"}),
            ),
            o.server.post(
                &format!("/api/v1/artifacts/{share}/versions/{n}/restore"),
                &k,
                &json!({}),
            ),
        ] {
            assert_eq!(resp.status, 400, "{n}: {}", resp.text());
            assert_eq!(resp.error_code(), "invalid_version");
        }
    }
    for resp in [
        o.server
            .get(&format!("/api/v1/artifacts/{share}/versions/999/files"), &k),
        o.server
            .delete(&format!("/api/v1/artifacts/{share}/versions/999"), &k),
        o.server.post(
            &format!("/api/v1/artifacts/{share}/versions/999/restore"),
            &k,
            &json!({}),
        ),
    ] {
        assert_eq!(resp.status, 404);
    }
    let files = o
        .server
        .get(&format!("/api/v1/artifacts/{share}/versions/999/files"), &k);
    assert_eq!(
        files.json()["error"],
        "version v999 not found: this artifact's versions are v1",
        "it names the versions there are"
    );
    assert_eq!(
        o.server
            .get(&format!("/api/v1/artifacts/{share}/versions/v1/files"), &k)
            .status,
        200
    );
    Ok(())
}

#[test]
fn identical_files_across_versions_are_stored_once() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let logo = vec![7u8; 200_000];
    let v1 = zip_of(&[
        ("index.html", b"<img src=logo.png> v1"),
        ("logo.png", &logo),
    ])?;
    let v2 = zip_of(&[
        ("index.html", b"<img src=logo.png> v2"),
        ("logo.png", &logo),
    ])?;
    let share = token(&o.server.upload(
        &k,
        json!({"name": "Site", "fileName": "s.zip", "content": b64(&v1)}),
    ));
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{share}/versions"),
        &k,
        &json!({"fileName": "s.zip", "content": b64(&v2)}),
    );
    assert_eq!(resp.status, 201);
    let db = o.server.open_db();
    let logo_sha = artifact_review::secrets::sha256(&logo);
    let copies: i64 = db.query_row(
        "SELECT count(*) FROM blobs WHERE sha256 = ?1",
        [&logo_sha[..]],
        |r| r.get(0),
    )?;
    assert_eq!(copies, 1, "the shared asset is stored once");
    let blobs: i64 = db.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))?;
    assert_eq!(blobs, 3, "two index pages and one logo");
    let links: i64 = db.query_row("SELECT count(*) FROM version_files", [], |r| r.get(0))?;
    assert_eq!(links, 4);
    for n in [1, 2] {
        let raw = o.server.get(
            &format!("/api/v1/artifacts/{share}/versions/{n}/files/logo.png"),
            &k,
        );
        assert_eq!(raw.body, logo);
        assert_eq!(raw.header("content-type").as_deref(), Some("image/png"));
    }
    Ok(())
}

#[test]
fn only_the_owner_publishes_versions() -> TestResult {
    let o = owner();
    let share = token(&o.server.upload(
        &Auth::Key(o.key.clone()),
        json!({"name": "Mine", "fileName": "m.html", "content": "<p>m</p>"}),
    ));
    let bob = o
        .server
        .add_user("bob@example.com", "Bob", "bob password 1");
    let resp = o.server.post(
        &format!("/api/v1/artifacts/{share}/versions"),
        &Auth::Cookie(bob),
        &json!({"fileName": "m.html", "content": "<p>hijack</p>"}),
    );
    assert_eq!(resp.status, 404, "a stranger cannot even see it");
    assert_eq!(upload_rows(&o.server)[1], 1);
    Ok(())
}

#[test]
fn upload_fields_are_validated_and_nothing_is_stored_on_refusal() -> TestResult {
    let o = owner();
    let k = Auth::Key(o.key.clone());
    let before = upload_rows(&o.server);
    let cases = [
        (
            json!({"fileName": "a.html", "content": "<p>x</p>"}),
            "required",
        ),
        (
            json!({"name": "", "fileName": "a.html", "content": "<p>x</p>"}),
            "required",
        ),
        (
            json!({"name": "x".repeat(201), "fileName": "a.html", "content": "<p>x</p>"}),
            "too_long",
        ),
        (
            json!({"name": "ok", "description": "d".repeat(501), "fileName": "a.html", "content": "<p>x</p>"}),
            "too_long",
        ),
        (
            json!({"name": "ok", "versionName": "v".repeat(101), "fileName": "a.html", "content": "<p>x</p>"}),
            "too_long",
        ),
        (
            json!({"name": "ok", "content": "<p>x</p>"}),
            "unsupported_file_type",
        ),
        (
            json!({"name": "ok", "fileName": "a.pdf", "content": "%PDF"}),
            "unsupported_file_type",
        ),
        (
            json!({"name": "ok", "fileType": "exe", "content": "MZ"}),
            "unsupported_file_type",
        ),
        (
            json!({"name": "ok", "fileName": "a.html", "content": ""}),
            "empty_file",
        ),
        (
            json!({"name": "ok", "fileName": "a.html", "content": "   \n "}),
            "empty_file",
        ),
        (json!({"name": "ok", "fileName": "a.html"}), "required"),
        (
            json!({"name": "ok", "fileName": "a.html", "content": 5}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let resp = o.server.post("/api/v1/artifacts", &k, &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text());
        assert_eq!(resp.error_code(), code, "{body}");
    }
    let resp = o
        .server
        .upload_multipart("/api/v1/artifacts", &k, &[("name", None, b"no file")]);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "invalid_multipart");
    let resp = o.server.request(
        "POST",
        "/api/v1/artifacts",
        &k,
        Some(b"--x\r\n"),
        &[("Content-Type", "multipart/form-data; boundary=x")],
    );
    assert_eq!(resp.status, 400);
    assert_eq!(upload_rows(&o.server), before, "nothing was stored");
    Ok(())
}

/// A server with an owner, a key of theirs, and a Markdown artifact `plan.md` made with it:
/// (server, key, shareToken).
fn agent_plan(content: &str) -> Result<(Server, String, String), String> {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "agent"}));
    let made = server.upload(
        &Auth::Key(key.clone()),
        json!({"name": "Plan", "fileName": "plan.md", "content": content}),
    );
    let share = made["shareToken"].as_str().ok_or("shareToken")?.to_string();
    Ok((server, key, share))
}

#[test]
fn a_version_published_while_the_latest_is_deleted_follows_the_version_before_it() -> TestResult {
    let (server, key, share) = agent_plan("# Plan\n\nv1")?;
    let agent = Auth::Key(key.clone());
    let versions = format!("/api/v1/artifacts/{share}/versions");
    let second = server.post(&versions, &agent, &json!({"content": "# Plan\n\nv2"}));
    assert_eq!(second.status, 201, "{}", second.text());
    // A third version is on its way (no fileName: it follows the latest) when v2 is deleted.
    let body = json!({"content": format!("# Plan\n\n{}", "v3 ".repeat(50_000))}).to_string();
    let answer = server.interrupted(&versions, &key, &body, || {
        let gone = server.delete(&format!("{versions}/2"), &agent);
        assert_eq!(gone.status, 200, "{}", gone.text());
    });
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let published = answer.json().ok_or("JSON")?;
    assert_eq!(published["number"], 3);
    assert_eq!(published["entryPoint"], "plan.md", "as v1 named it");
    let listed = server.get(&versions, &agent).json();
    let numbers: Vec<i64> = listed["versions"]
        .as_array()
        .ok_or("versions")?
        .iter()
        .filter_map(|v| v["number"].as_i64())
        .collect();
    assert_eq!(numbers.len(), 2, "{listed}");
    assert!(numbers.contains(&1) && numbers.contains(&3), "{listed}");
    Ok(())
}

#[test]
fn a_file_a_version_does_not_have_is_a_404_naming_the_files_it_has() -> TestResult {
    let (server, key, share) = agent_plan("# Plan")?;
    let agent = Auth::Key(key);
    let missing = server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files/plan.html"),
        &agent,
    );
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["error"]
            .as_str()
            .is_some_and(|m| m.contains("has no file \"plan.html\"; its files are: plan.md")),
        "{}",
        missing.text()
    );
    Ok(())
}
