//! The storage quota (issue 14, item 5), through the real binary started with a 1 MiB quota: an
//! upload that would take an account over it is refused with the usage, the quota and the
//! upload's size, before anything is written; contents the account stores already cost nothing
//! again; each account has its own quota; admins see what each member stores.

mod common;

use common::zips::zip_of;
use common::*;
use serde_json::json;

const QUOTA: u64 = 1024 * 1024;

/// `len` bytes of an HTML page no other call makes.
fn page(tag: &str, len: usize) -> String {
    let head = format!("<h1>{tag}</h1>");
    format!("{head}{}", "x".repeat(len - head.len()))
}

#[test]
fn an_upload_over_the_quota_is_refused_with_the_figures_and_stores_nothing() -> TestResult {
    let server = Server::start_with(&["--storage-quota", "1MiB"]);
    let cookie = server.setup_owner();
    let owner = Auth::Cookie(cookie.clone());
    let agent = server.create_agent(&owner, "Claude", Some("coding"));
    let (_, key) = server.create_key(&cookie, json!({"name": "agent key", "agentId": agent}));
    let agent_key = Auth::Key(key);

    let first = page("first", 600_000);
    let created = server.upload(
        &owner,
        json!({"name": "First", "fileName": "first.html", "content": first}),
    );
    let share = created["shareToken"].as_str().ok_or("share token")?;

    // Through the owner's agent it is the same account: 600,000 + 600,000 bytes > 1 MiB.
    let before = upload_rows(&server);
    let resp = server.post(
        "/api/v1/artifacts",
        &agent_key,
        &json!({"name": "Second", "fileName": "second.html", "content": page("second", 600_000)}),
    );
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.error_code(), "quota_exceeded");
    let message = resp.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for figure in [
        "stores 585.9 KiB (600000 bytes)",
        "the account stores 585.9 KiB (600000 bytes)",
        "the quota is 1 MiB (1048576 bytes)",
        "--storage-quota",
    ] {
        assert!(message.contains(figure), "{figure:?} in {message}");
    }
    assert_eq!(upload_rows(&server), before, "nothing written");

    // A new version made of content the account stores already adds nothing: accepted.
    let same = server.post(
        &format!("/api/v1/artifacts/{share}/versions"),
        &agent_key,
        &json!({"fileName": "first.html", "content": first}),
    );
    assert_eq!(same.status, 201, "{}", same.text());

    // A ZIP is counted by what it adds: the stored page again, plus 400,000 new bytes, fits.
    let extra = page("extra", 400_000);
    let zip = zip_of(&[
        ("index.html", first.as_bytes()),
        ("extra.html", extra.as_bytes()),
    ])?;
    let resp = server.upload_multipart(
        "/api/v1/artifacts",
        &agent_key,
        &[("file", Some("site.zip"), &zip), ("name", None, b"Site")],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());

    // Another account has its own quota.
    let member = Auth::Cookie(server.add_user("max@example.com", "Max", "member password 1"));
    server.upload(
        &member,
        json!({"name": "Max's", "fileName": "max.html", "content": page("max", 700_000)}),
    );

    // Admins see what each member stores, and the quota.
    let team = server.get("/api/v1/team/members", &owner);
    assert_eq!(team.status, 200, "{}", team.text());
    let team = team.json();
    assert_eq!(team["storageQuota"], QUOTA);
    let stored = |email: &str| {
        team["members"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["email"] == email))
            .map(|m| m["storedBytes"].clone())
    };
    assert_eq!(stored("ada@example.com"), Some(json!(1_000_000)));
    assert_eq!(stored("max@example.com"), Some(json!(700_000)));
    // ... and a member does not.
    assert_eq!(server.get("/api/v1/team/members", &member).status, 403);
    Ok(())
}

#[test]
fn a_deleted_artifacts_files_stop_counting_and_leave_the_disk_unless_another_version_uses_them(
) -> TestResult {
    let server = Server::start_with(&["--storage-quota", "1MiB"]);
    let owner = Auth::Cookie(server.setup_owner());
    let usage = || -> Result<i64, Box<dyn std::error::Error>> {
        let team = server.get("/api/v1/team/members", &owner).json();
        team["members"][0]["storedBytes"]
            .as_i64()
            .ok_or_else(|| "storedBytes".into())
    };
    let blobs = || -> rusqlite::Result<i64> {
        server
            .open_db()
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
    };
    let shared = page("shared", 600_000);
    let first = server.upload(
        &owner,
        json!({"name": "First", "fileName": "first.html", "content": shared}),
    );
    let second = server.upload(
        &owner,
        json!({"name": "Second", "fileName": "second.html", "content": shared}),
    );
    assert_eq!(usage()?, 600_000);
    let refused = server.post(
        "/api/v1/artifacts",
        &owner,
        &json!({"name": "Big", "fileName": "big.html", "content": page("big", 900_000)}),
    );
    assert_eq!(refused.error_code(), "quota_exceeded");

    // The other artifact still uses the content: it stays, and counts.
    let token = |a: &serde_json::Value| a["shareToken"].as_str().unwrap_or_default().to_string();
    let resp = server.delete(&format!("/api/v1/artifacts/{}", token(&first)), &owner);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(usage()?, 600_000);
    assert_eq!(blobs()?, 1);
    let resp = server.get(
        &format!(
            "/api/v1/artifacts/{}/versions/1/files/second.html",
            token(&second)
        ),
        &owner,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 600_000);

    // The last artifact using it deleted: nothing counts, and the bytes leave the disk.
    let resp = server.delete(&format!("/api/v1/artifacts/{}", token(&second)), &owner);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(usage()?, 0);
    let mut left = blobs()?;
    for _ in 0..200 {
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
        left = blobs()?;
    }
    assert_eq!(left, 0, "the deleted artifacts' content was removed");
    let accepted = server.post(
        "/api/v1/artifacts",
        &owner,
        &json!({"name": "Big", "fileName": "big.html", "content": page("big", 900_000)}),
    );
    assert_eq!(accepted.status, 201, "{}", accepted.text());
    Ok(())
}
