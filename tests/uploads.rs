//! Hostile and oversized uploads against the live server: every refused archive gets a 400 that
//! names the problem, and the database is left exactly as it was. Size limits are tested at the
//! byte: 5 MB is accepted, 5 MB + 1 is refused, for HTML, Markdown and a file inside a ZIP.

mod common;

use std::io::{Cursor, Write};

use common::zips::{deflate_zeros, deflated, raw_deflated_zip, set_flags, zip_named, zip_of};
use common::*;
use serde_json::json;

const MB: usize = 1_048_576;

fn owner() -> (Server, Auth) {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    (server, Auth::Key(key))
}

/// Uploads `zip` as JSON (base64) and as multipart; both must be refused with `code`, mentioning
/// `mention`, leaving every table as it was.
fn refused(server: &Server, auth: &Auth, zip: &[u8], code: &str, mention: &str) {
    let before = upload_rows(server);
    let resp = server.post(
        "/api/v1/artifacts",
        auth,
        &json!({"name": "hostile", "fileName": "site.zip", "content": b64(zip)}),
    );
    assert_eq!(resp.status, 400, "{code}: {}", resp.text());
    assert_eq!(resp.error_code(), code);
    let message = resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains(mention),
        "{message:?} should mention {mention:?}"
    );
    let resp = server.upload_multipart(
        "/api/v1/artifacts",
        auth,
        &[("file", Some("site.zip"), zip), ("name", None, b"hostile")],
    );
    assert_eq!(resp.status, 400, "multipart {code}: {}", resp.text());
    assert_eq!(resp.error_code(), code);
    assert_eq!(upload_rows(server), before, "{code}: the database changed");
}

#[test]
fn a_zip_slip_entry_is_refused() -> TestResult {
    let (server, key) = owner();
    let zip = zip_named(&["index.html", "../../evil.html"])?;
    refused(&server, &key, &zip, "unsafe_path", "../../evil.html");
    Ok(())
}

#[test]
fn a_zip_name_that_reads_otherwise_than_it_is_is_refused() -> TestResult {
    let (server, key) = owner();
    // "evil\u{202e}lmth.js" shows as "eviljs.html"; "ind\u{200b}ex.html" beside "index.html".
    let zip = zip_named(&["index.html", "evil\u{202e}lmth.js"])?;
    refused(
        &server,
        &key,
        &zip,
        "unsafe_path",
        "bidirectional control character",
    );
    let zip = zip_named(&["index.html", "ind\u{200b}ex.html"])?;
    refused(&server, &key, &zip, "unsafe_path", "invisible character");
    // Joiners that shape emoji stay.
    let zip = zip_named(&["index.html", "team-\u{1F469}\u{200D}\u{1F4BB}.html"])?;
    let resp = server.post(
        "/api/v1/artifacts",
        &key,
        &json!({"name": "emoji", "fileName": "site.zip", "content": b64(&zip)}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    Ok(())
}

#[test]
fn an_absolute_path_entry_is_refused() -> TestResult {
    let (server, key) = owner();
    let zip = zip_named(&["index.html", "/etc/passwd"])?;
    refused(&server, &key, &zip, "unsafe_path", "/etc/passwd");
    let zip = zip_named(&["index.html", "C:\\windows\\evil.html"])?;
    refused(&server, &key, &zip, "unsafe_path", "drive letter");
    Ok(())
}

#[test]
fn a_symlink_entry_is_refused() -> TestResult {
    let (server, key) = owner();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("index.html", deflated())?;
    w.write_all(b"<p>hi</p>")?;
    w.add_symlink("secrets.html", "/etc/shadow", deflated())?;
    let zip = w.finish()?.into_inner();
    refused(&server, &key, &zip, "symlink_not_allowed", "secrets.html");
    Ok(())
}

#[test]
fn duplicate_and_encrypted_entries_are_refused() -> TestResult {
    let (server, key) = owner();
    let zip = zip_named(&["index.html", "A.html", "a.html"])?;
    refused(&server, &key, &zip, "duplicate_path", "a.html");
    let mut zip = zip_named(&["index.html", "secret.html"])?;
    set_flags(&mut zip, "secret.html", 1);
    refused(&server, &key, &zip, "encrypted_entry", "secret.html");
    Ok(())
}

#[test]
fn forbidden_files_among_good_ones_are_all_listed() -> TestResult {
    let (server, key) = owner();
    let zip = zip_named(&[
        "index.html",
        "style.css",
        "bin/tool.exe",
        "docs/spec.docx",
        "clip.MP4",
    ])?;
    refused(&server, &key, &zip, "forbidden_file_type", "bin/tool.exe");
    let resp = server.post(
        "/api/v1/artifacts",
        &key,
        &json!({"name": "x", "fileName": "s.zip", "content": b64(&zip)}),
    );
    let message = resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for path in ["bin/tool.exe", "docs/spec.docx", "clip.MP4"] {
        assert!(message.contains(path), "{message}");
    }
    Ok(())
}

#[test]
fn five_hundred_files_are_accepted_and_501_refused() -> TestResult {
    let (server, key) = owner();
    let mut names: Vec<String> = (0..499).map(|i| format!("assets/f{i:03}.txt")).collect();
    names.push("index.html".into());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let created = server.upload(
        &key,
        json!({"name": "500", "fileName": "s.zip", "content": b64(&zip_named(&refs)?)}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    let files = server
        .get(&format!("/api/v1/artifacts/{share}/versions/1/files"), &key)
        .json();
    assert_eq!(files["files"].as_array().map(Vec::len), Some(500));
    names.push("one-too-many.txt".into());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    refused(&server, &key, &zip_named(&refs)?, "too_many_files", "501");
    Ok(())
}

#[test]
fn a_gigabyte_of_zeros_is_stopped_while_reading() -> TestResult {
    let (server, key) = owner();
    let gib: u64 = 1 << 30;
    let stream = deflate_zeros(gib);
    assert!(stream.len() < 5 * MB, "the bomb compresses to a few MB");
    // Declared honestly: refused from the directory, before any decompression.
    let honest = raw_deflated_zip("index.html", &stream, u32::MAX, 0);
    refused(&server, &key, &honest, "file_too_large", "5242880");
    // Lying about its size: stopped once decompression passes what it declared.
    let lying = raw_deflated_zip("index.html", &stream, 1000, 0);
    refused(
        &server,
        &key,
        &lying,
        "extracted_too_large",
        "decompression bomb",
    );
    // The server is fine afterwards.
    assert_eq!(server.get("/api/v1/health", &Auth::None).status, 200);
    Ok(())
}

#[test]
fn truncated_and_non_zip_bytes_are_refused() -> TestResult {
    let (server, key) = owner();
    let good = zip_named(&["index.html", "a.css"])?;
    refused(&server, &key, &good[..good.len() / 2], "invalid_zip", "ZIP");
    refused(
        &server,
        &key,
        b"this is not a zip file at all",
        "invalid_zip",
        "PK",
    );
    refused(
        &server,
        &key,
        &zip_named(&["style.css", "app.js"])?,
        "no_entry_point",
        "no HTML or Markdown",
    );
    Ok(())
}

#[test]
fn an_archive_over_50_mb_is_refused() -> TestResult {
    let (server, key) = owner();
    let before = upload_rows(&server);
    // 50 MB + 1 byte of archive, as multipart (no base64 inflation).
    let mut big = vec![0u8; 50 * MB + 1];
    big[..2].copy_from_slice(b"PK");
    let resp = server.upload_multipart(
        "/api/v1/artifacts",
        &key,
        &[("file", Some("big.zip"), &big), ("name", None, b"big")],
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.error_code(), "archive_too_large");
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("52428801"));
    assert_eq!(upload_rows(&server), before);
    Ok(())
}

#[test]
fn bodies_over_the_upload_transport_limit_get_413() -> TestResult {
    let (server, key) = owner();
    let before = upload_rows(&server);
    let huge = vec![b'a'; 73 * MB];
    let resp = server.request("POST", "/api/v1/artifacts", &key, Some(&huge), &[]);
    assert_eq!(resp.status, 413);
    assert_eq!(resp.error_code(), "payload_too_large");
    assert_eq!(upload_rows(&server), before);
    Ok(())
}

#[test]
fn a_file_over_one_mib_is_stored_in_parts_once_and_served_whole() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let key = Auth::Key(key);
    // 2.5 MiB whose parts all differ, so a part out of order or missing changes the bytes.
    let data: Vec<u8> = (0..MB * 5 / 2)
        .map(|i| (i % 251) as u8 ^ (i / MB) as u8)
        .collect();
    let site = zip_of(&[("index.html", b"<p>hi</p>"), ("data.bin", &data)])?;
    let mut shares = Vec::new();
    for name in ["first", "same bytes again"] {
        let created = server.upload(
            &key,
            json!({"name": name, "fileName": "s.zip", "content": b64(&site)}),
        );
        shares.push(created["shareToken"].as_str().ok_or("token")?.to_string());
    }
    let db = server.open_db();
    let (size, inline, parts): (i64, i64, i64) = db.query_row(
        "SELECT b.size, length(b.content), (SELECT count(*) FROM blob_parts p WHERE p.sha256 = b.sha256)
           FROM blobs b WHERE b.size > 1048576",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    assert_eq!(
        (size, inline, parts),
        (data.len() as i64, 0, 3),
        "three parts, stored once"
    );
    let all_parts: i64 = db.query_row("SELECT count(*) FROM blob_parts", [], |r| r.get(0))?;
    assert_eq!(all_parts, 3, "the second upload reused them");
    let small: Vec<u8> =
        db.query_row("SELECT content FROM blobs WHERE size = 9", [], |r| r.get(0))?;
    assert_eq!(small, b"<p>hi</p>", "a small file stays in its row");
    for share in &shares {
        let api = server.get(
            &format!("/api/v1/artifacts/{share}/versions/1/files/data.bin"),
            &key,
        );
        assert_eq!(api.status, 200);
        assert!(api.body == data, "the API serves the bytes as uploaded");
        let folder = server.view_grant(&Auth::Cookie(cookie.clone()), share, 1);
        let viewed = server.get(&format!("{folder}/data.bin"), &Auth::None);
        assert_eq!(viewed.status, 200);
        assert!(
            viewed.body == data,
            "the viewer serves the bytes as uploaded"
        );
    }
    Ok(())
}

#[test]
fn what_a_crash_left_of_an_unfinished_upload_is_removed_when_the_server_starts() -> TestResult {
    let server = Server::start();
    let cookie = server.setup_owner();
    let (_, key) = server.create_key(&cookie, json!({"name": "CI"}));
    let key = Auth::Key(key);
    let data: Vec<u8> = (0..MB * 3 / 2).map(|i| (i % 253) as u8).collect();
    let site = zip_of(&[("index.html", b"<p>hi</p>"), ("data.bin", &data)])?;
    let created = server.upload(
        &key,
        json!({"name": "kept", "fileName": "s.zip", "content": b64(&site)}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?.to_string();
    let (dir, db) = server.stop();
    {
        // As a crash leaves them: two parts of a content whose last part never came, and a whole
        // content stored for a version that was never published.
        let conn = rusqlite::Connection::open(&db)?;
        conn.execute_batch(
            "INSERT INTO blob_parts (sha256, seq, data) VALUES (zeroblob(32), 0, x'01'), (zeroblob(32), 1, x'02');
             INSERT INTO blobs (sha256, size, content) VALUES (randomblob(32), 3, x'010203');",
        )?;
    }
    let server = Server::start_on(dir, db, &[]);
    let conn = server.open_db();
    let (blobs, parts): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM blobs), (SELECT count(*) FROM blob_parts)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!(
        (blobs, parts),
        (2, 2),
        "the published version's two contents and two parts are left"
    );
    let served = server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files/data.bin"),
        &key,
    );
    assert!(served.body == data, "the published content is whole");
    Ok(())
}

fn html_of(size: usize) -> String {
    let mut s = String::from("<p>");
    s.push_str(&"x".repeat(size - 7));
    s.push_str("</p>");
    assert_eq!(s.len(), size);
    s
}

#[test]
fn exactly_5_mb_is_accepted_and_one_byte_more_refused_for_html_markdown_and_zip_files() -> TestResult
{
    let (server, key) = owner();
    let limit = 5 * MB;
    for (file_name, file_type) in [("page.html", "HTML"), ("notes.md", "Markdown")] {
        let resp = server.post(
            "/api/v1/artifacts",
            &key,
            &json!({"name": "at limit", "fileName": file_name, "content": html_of(limit)}),
        );
        assert_eq!(
            resp.status,
            201,
            "{file_name} at exactly 5 MB: {}",
            resp.text()
        );
        let before = upload_rows(&server);
        let resp = server.post(
            "/api/v1/artifacts",
            &key,
            &json!({"name": "over", "fileName": file_name, "content": html_of(limit + 1)}),
        );
        assert_eq!(resp.status, 400);
        assert_eq!(resp.error_code(), "file_too_large");
        assert_eq!(
            resp.json()["error"],
            json!(format!(
                "{file_type} file is 5242881 bytes; the limit is 5242880 bytes (5 MB)"
            ))
        );
        assert_eq!(upload_rows(&server), before);
    }
    let at_limit = zip_of(&[
        ("index.html", b"<p>hi</p>"),
        ("data.bin", &vec![1u8; limit]),
    ])?;
    let created = server.upload(
        &key,
        json!({"name": "zip at limit", "fileName": "s.zip", "content": b64(&at_limit)}),
    );
    let share = created["shareToken"].as_str().ok_or("token")?;
    let raw = server.get(
        &format!("/api/v1/artifacts/{share}/versions/1/files/data.bin"),
        &key,
    );
    assert_eq!(raw.body.len(), limit);
    let over = zip_of(&[
        ("index.html", b"<p>hi</p>"),
        ("data.bin", &vec![1u8; limit + 1]),
    ])?;
    refused(
        &server,
        &key,
        &over,
        "file_too_large",
        "data.bin (5242881 bytes)",
    );
    Ok(())
}

#[test]
fn zip_names_that_change_meaning_or_collide_on_other_systems_are_refused() -> TestResult {
    let (server, key) = owner();
    // Windows drops a trailing dot or space, and reads ':' as a stream: each of these is an .exe.
    for name in ["tool.exe.", "tool.exe ", "tool.exe::$DATA"] {
        let zip = zip_named(&["index.html", name])?;
        refused(&server, &key, &zip, "unsafe_path", name.trim_end());
    }
    // Names that are one file once Unicode-normalised (NFC, as names are stored) and case-folded.
    for (a, b, mention) in [
        (
            "caf\u{e9}.html",
            "cafe\u{301}.html",
            "caf\u{e9}.html (twice)",
        ),
        ("\u{c4}.html", "\u{e4}.html", "\u{e4}.html"),
        ("\u{212a}.html", "k.html", "k.html"),
    ] {
        let zip = zip_named(&["index.html", a, b])?;
        refused(&server, &key, &zip, "duplicate_path", mention);
    }
    // A forbidden extension is judged after folding: the long s folds to s.
    let zip = zip_named(&["index.html", "run.\u{17f}h"])?;
    refused(&server, &key, &zip, "forbidden_file_type", "run.");
    // Ordinary accented and dotted names still work.
    let zip = zip_named(&["index.html", "caf\u{e9}.html", ".well-known/a b.txt"])?;
    let resp = server.post(
        "/api/v1/artifacts",
        &key,
        &json!({"name": "fine", "fileName": "site.zip", "content": b64(&zip)}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    Ok(())
}

#[test]
fn a_blank_file_name_is_called_blank_not_missing() -> TestResult {
    let (server, key) = owner();
    let before = upload_rows(&server);
    let blank = [
        server.post(
            "/api/v1/artifacts",
            &key,
            &json!({"name": "x", "fileName": "", "content": "<p>hi</p>"}),
        ),
        server.post(
            "/api/v1/artifacts",
            &key,
            &json!({"name": "x", "fileName": "   ", "content": "<p>hi</p>"}),
        ),
        server.upload_multipart(
            "/api/v1/artifacts",
            &key,
            &[
                ("file", Some("page"), b"<p>hi</p>"),
                ("name", None, b"x"),
                ("fileName", None, b""),
            ],
        ),
    ];
    for resp in blank {
        assert_eq!(resp.status, 400, "{}", resp.text());
        assert_eq!(resp.error_code(), "unsupported_file_type");
        let message = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("fileName is blank"), "{message}");
        assert!(
            !message.contains("neither"),
            "a fileName was given: {message}"
        );
    }
    let resp = server.post(
        "/api/v1/artifacts",
        &key,
        &json!({"name": "x", "content": "<p>hi</p>"}),
    );
    assert_eq!(resp.status, 400);
    assert!(resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("neither fileType nor fileName was given"));
    assert_eq!(upload_rows(&server), before, "nothing was stored");
    Ok(())
}

#[test]
fn a_multipart_field_given_twice_is_refused_and_nothing_is_stored() -> TestResult {
    let (server, key) = owner();
    let created = server.upload_multipart(
        "/api/v1/artifacts",
        &key,
        &[("file", Some("a.html"), b"<p>a</p>"), ("name", None, b"x")],
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let share = created.json()["shareToken"]
        .as_str()
        .ok_or("shareToken")?
        .to_string();
    let versions = format!("/api/v1/artifacts/{share}/versions");
    let before = upload_rows(&server);
    type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);
    let cases: [(&str, Vec<Part>, &str); 5] = [
        (
            "/api/v1/artifacts",
            vec![
                ("file", Some("a.html"), b"<p>a</p>"),
                ("file", Some("b.md"), b"# b"),
                ("name", None, b"x"),
            ],
            "\"file\" is given more than once",
        ),
        (
            "/api/v1/artifacts",
            vec![
                ("name", None, b"x"),
                ("file", Some("a.html"), b"<p>a</p>"),
                ("name", None, b"y"),
            ],
            "\"name\" is given more than once",
        ),
        (
            "/api/v1/artifacts",
            vec![
                ("file", Some("a.html"), b"<p>a</p>"),
                ("content", None, b"<p>b</p>"),
                ("name", None, b"x"),
            ],
            "both a `file` part and a `content` field",
        ),
        (
            &versions,
            vec![
                ("file", Some("a.html"), b"<p>a</p>"),
                ("file", Some("b.html"), b"<p>b</p>"),
            ],
            "\"file\" is given more than once",
        ),
        (
            &versions,
            vec![
                ("fileType", None, b"html"),
                ("file", Some("a"), b"<p>a</p>"),
                ("fileType", None, b"markdown"),
            ],
            "\"fileType\" is given more than once",
        ),
    ];
    for (path, parts, says) in cases {
        let resp = server.upload_multipart(path, &key, &parts);
        assert_eq!(resp.status, 400, "{path} {says}: {}", resp.text());
        assert_eq!(resp.error_code(), "invalid_multipart");
        let message = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(says), "{message}");
    }
    assert_eq!(upload_rows(&server), before, "nothing was stored");
    let artifacts = server.get("/api/v1/artifacts", &key).json();
    assert_eq!(artifacts["artifacts"].as_array().map(Vec::len), Some(1));
    assert_eq!(artifacts["artifacts"][0]["name"], "x");
    assert_eq!(artifacts["artifacts"][0]["latestVersion"], 1);
    Ok(())
}

#[test]
fn a_zip_sent_as_a_document_and_an_entry_point_for_a_document_are_refused_not_published_as_given(
) -> TestResult {
    let (server, key) = owner();
    let page = server.upload(
        &key,
        json!({"name": "Page", "fileName": "index.html", "content": "<p>v1</p>"}),
    );
    let versions = format!(
        "/api/v1/artifacts/{}/versions",
        page["shareToken"].as_str().ok_or("token")?
    );
    let zip = zip_named(&["index.html", "about.html"])?;
    let before = upload_rows(&server);
    // The latest version is HTML, so a version without fileType is HTML too: a base64 ZIP would
    // have been a page of base64 text.
    let sent = server.post(&versions, &key, &json!({"content": b64(&zip)}));
    assert_eq!(sent.status, 400, "{}", sent.text());
    assert_eq!(sent.error_code(), "unsupported_file_type");
    assert!(
        sent.json()["error"]
            .as_str()
            .is_some_and(|m| m.contains("looks like a ZIP") && m.contains("fileType \"zip\"")),
        "{}",
        sent.text()
    );
    // The same ZIP as a multipart file named like the page.
    let sent = server.upload_multipart(&versions, &key, &[("file", Some("index.html"), &zip)]);
    assert_eq!(sent.status, 400, "{}", sent.text());
    assert_eq!(sent.error_code(), "unsupported_file_type");
    // entryPoint names a page of a ZIP; a single document is its own.
    let sent = server.post(
        "/api/v1/artifacts",
        &key,
        &json!({"name": "Doc", "fileName": "doc.html", "content": "<p>x</p>", "entryPoint": "other.html"}),
    );
    assert_eq!(sent.status, 400, "{}", sent.text());
    assert_eq!(sent.error_code(), "invalid_entry_point");
    assert_eq!(upload_rows(&server), before, "nothing was stored");
    // Said as a ZIP, it is one.
    let site = server.post(
        &versions,
        &key,
        &json!({"content": b64(&zip), "fileType": "zip"}),
    );
    assert_eq!(site.status, 201, "{}", site.text());
    Ok(())
}

#[test]
fn a_documents_file_name_that_reads_otherwise_than_it_is_is_refused_naming_the_field() -> TestResult
{
    let (server, auth) = owner();
    let before = upload_rows(&server);
    for name in [
        "report\u{202e}lmth.md",
        "a\u{200b}.html",
        "C:\\docs\\in\u{2066}dex.html",
    ] {
        let resp = server.post(
            "/api/v1/artifacts",
            &auth,
            &json!({"name": "spoof", "fileName": name, "content": "# x"}),
        );
        assert_eq!(resp.status, 400, "{name:?}: {}", resp.text());
        assert_eq!(resp.error_code(), "invalid_file_name");
        assert_eq!(resp.json()["field"], "fileName");
        let message = resp.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The name is quoted back with the character escaped, so the message reads as it is.
        assert!(
            !message
                .chars()
                .any(|c| matches!(c, '\u{202e}' | '\u{200b}' | '\u{2066}')),
            "{message:?}"
        );
        assert!(message.contains("\\u{"), "{message:?}");
        let multipart = server.upload_multipart(
            "/api/v1/artifacts",
            &auth,
            &[("name", None, b"spoof"), ("file", Some(name), b"# x")],
        );
        assert_eq!(multipart.status, 400, "{name:?}: {}", multipart.text());
        assert_eq!(multipart.error_code(), "invalid_file_name");
    }
    assert_eq!(upload_rows(&server), before, "nothing stored");
    // A new version's file name too.
    let made = server.upload(
        &auth,
        json!({"name": "Doc", "fileName": "doc.md", "content": "# x"}),
    );
    let share = made["shareToken"].as_str().ok_or("share")?;
    let resp = server.post(
        &format!("/api/v1/artifacts/{share}/versions"),
        &auth,
        &json!({"fileName": "doc\u{202e}lmth.md", "content": "# y"}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.json()["field"], "fileName");
    Ok(())
}

#[test]
fn upload_refusals_about_one_field_name_it() -> TestResult {
    let (server, auth) = owner();
    for (body, code, field) in [
        (
            json!({"name": "a", "fileType": "pdf", "content": "x"}),
            "unsupported_file_type",
            "fileType",
        ),
        (
            json!({"name": "a", "fileName": "a.txt", "content": "x"}),
            "unsupported_file_type",
            "fileType",
        ),
        (
            json!({"name": "a", "fileType": "html", "entryPoint": "b.html", "content": "x"}),
            "invalid_entry_point",
            "entryPoint",
        ),
        (
            json!({"name": "a", "fileType": "zip", "content": "not base64!"}),
            "invalid_base64",
            "content",
        ),
    ] {
        let resp = server.post("/api/v1/artifacts", &auth, &body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text());
        assert_eq!(resp.error_code(), code, "{body}");
        assert_eq!(resp.json()["field"], field, "{body}: {}", resp.text());
    }
    // The query of a listing, likewise.
    for (query, field) in [
        ("limit=0", "limit"),
        ("cursor=zz", "cursor"),
        ("sort=name", "sort"),
    ] {
        let resp = server.get(&format!("/api/v1/artifacts?{query}"), &auth);
        assert_eq!(resp.status, 400, "{query}: {}", resp.text());
        assert_eq!(resp.json()["field"], field, "{query}: {}", resp.text());
    }
    Ok(())
}

#[test]
fn a_json_body_that_begins_with_a_byte_order_mark_is_read() -> TestResult {
    let (server, auth) = owner();
    // As Windows PowerShell 5 writes a file it then sends: a UTF-8 byte-order mark first.
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(
        br#"{"name": "From PowerShell", "fileName": "r.html", "content": "<p>hi</p>"}"#,
    );
    let resp = server.request("POST", "/api/v1/artifacts", &auth, Some(&body), &[]);
    assert_eq!(resp.status, 201, "{}", resp.text());
    let share = resp.json()["shareToken"]
        .as_str()
        .ok_or("share")?
        .to_string();
    let stored = server.get(&format!("/api/v1/artifacts/{share}"), &auth);
    assert_eq!(
        stored.json()["name"],
        "From PowerShell",
        "{}",
        stored.text()
    );
    let mut comment = b"\xEF\xBB\xBF".to_vec();
    comment.extend_from_slice(br#"{"content": "Looks fine", "target": {"source": "r.html"}}"#);
    let resp = server.request(
        "POST",
        &format!("/api/v1/artifacts/{share}/comments"),
        &auth,
        Some(&comment),
        &[],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["status"], "created", "{}", resp.text());
    let listed = server.get(&format!("/api/v1/artifacts/{share}/comments"), &auth);
    assert_eq!(listed.json()["comments"][0]["content"], "Looks fine");
    Ok(())
}
