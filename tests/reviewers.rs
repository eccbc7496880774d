//! Reviewers: the owner grants access by email (pending until the person signs up), lists and
//! revokes it; reviewers read, comment, reply and resolve but cannot manage the artifact; access
//! moves from added to viewed; revoking ends their viewing grants.

mod common;

use common::*;
use serde_json::{json, Value};

struct Shared {
    server: Server,
    share: String,
    ada: Auth,
    ada_cookie: String,
}

fn shared() -> Shared {
    let server = Server::start();
    let ada_cookie = server.setup_owner();
    let (_, key) = server.create_key(&ada_cookie, json!({"name": "ada"}));
    let ada = Auth::Key(key);
    let created = server.upload(
        &ada,
        json!({"name": "Spec", "fileName": "spec.md", "content": "# Spec\n\nThe plan."}),
    );
    let share = created["shareToken"].as_str().expect("token").to_string();
    Shared {
        server,
        share,
        ada,
        ada_cookie,
    }
}

impl Shared {
    fn grant(&self, email: &str) -> Value {
        let resp = self.server.post(
            &format!("/api/v1/artifacts/{}/access", self.share),
            &self.ada,
            &json!({"email": email, "role": "can-comment"}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()
    }

    fn access(&self) -> Value {
        self.server
            .get(
                &format!("/api/v1/artifacts/{}/access", self.share),
                &self.ada,
            )
            .json()
    }
}

fn signup(server: &Server, email: &str) -> String {
    server.add_user(email, "Reviewer", "reviewer password")
}

#[test]
fn a_reviewer_reads_comments_replies_and_resolves() -> TestResult {
    let s = shared();
    let bob = Auth::Cookie(signup(&s.server, "bob@example.com"));
    assert_eq!(
        s.server
            .get(&format!("/api/v1/artifacts/{}", s.share), &bob)
            .status,
        404,
        "not yet shared"
    );
    let grant = s.grant("Bob@Example.com");
    assert_eq!(grant["email"], "bob@example.com");
    assert_eq!(grant["status"], "added");
    assert_eq!(grant["name"], "Reviewer");

    // What only the owner may do is refused, and is no look at the artifact.
    for (method, path) in [
        ("DELETE", "sharelink"),
        ("GET", "access"),
        ("GET", "stats"),
        ("DELETE", "versions/1"),
    ] {
        let refused = s.server.request(
            method,
            &format!("/api/v1/artifacts/{}/{path}", s.share),
            &bob,
            None,
            &[],
        );
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(refused.error_code(), "owner_only");
    }
    assert_eq!(s.access()["access"][0]["status"], "added");
    assert_eq!(s.access()["access"][0]["firstViewedAt"], Value::Null);

    let shown = s
        .server
        .get(&format!("/api/v1/artifacts/{}", s.share), &bob);
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["role"], "reviewer");
    assert_eq!(
        s.access()["access"][0]["status"],
        "viewed",
        "opening it marks it viewed"
    );
    assert_eq!(
        s.server
            .get(
                &format!("/api/v1/artifacts/{}/versions/1/files/spec.md", s.share),
                &bob
            )
            .text(),
        "# Spec\n\nThe plan."
    );
    let resp = s.server.post(&format!("/api/v1/artifacts/{}/comments", s.share), &bob, &json!({
        "content": "Which plan?", "target": {"source": "spec.md", "selector": {"type": "TextQuoteSelector", "exact": "The plan."}}}));
    assert_eq!(resp.status, 201);
    let id = resp.json()["id"].as_str().ok_or("id")?.to_string();
    assert_eq!(
        s.server
            .post(
                &format!("/api/v1/comments/{id}/replies"),
                &s.ada,
                &json!({"content": "This one."})
            )
            .status,
        201
    );
    assert_eq!(
        s.server
            .post(
                &format!("/api/v1/comments/{id}/replies"),
                &bob,
                &json!({"content": "Thanks"})
            )
            .status,
        201
    );
    assert_eq!(
        s.server
            .patch(
                &format!("/api/v1/comments/{id}"),
                &bob,
                &json!({"resolved": true})
            )
            .status,
        200
    );
    let listed = s
        .server
        .get(&format!("/api/v1/artifacts/{}/comments", s.share), &s.ada)
        .json();
    assert_eq!(listed["comments"][0]["author"]["name"], "Reviewer");
    assert_eq!(listed["comments"][0]["resolvedBy"]["name"], "Reviewer");
    assert_eq!(
        listed["comments"][0]["replies"].as_array().map(Vec::len),
        Some(2)
    );
    Ok(())
}

#[test]
fn a_reviewer_cannot_publish_manage_access_or_delete() -> TestResult {
    let s = shared();
    let bob_cookie = signup(&s.server, "bob@example.com");
    s.grant("bob@example.com");
    let bob_agent = s
        .server
        .create_agent(&Auth::Cookie(bob_cookie.clone()), "BobBot", None);
    let (_, bot_key) = s
        .server
        .create_key(&bob_cookie, json!({"name": "bot", "agentId": bob_agent}));
    let before = upload_rows(&s.server);
    for who in [Auth::Cookie(bob_cookie), Auth::Key(bot_key)] {
        let base = format!("/api/v1/artifacts/{}", s.share);
        for resp in [
            s.server.post(
                &format!("{base}/versions"),
                &who,
                &json!({"fileName": "x.md", "content": "# hijack"}),
            ),
            s.server.patch(
                &format!("{base}/versions/1"),
                &who,
                &json!({"name": "renamed"}),
            ),
            s.server.delete(&format!("{base}/versions/1"), &who),
            s.server
                .post(&format!("{base}/versions/1/restore"), &who, &json!({})),
            s.server.patch(&base, &who, &json!({"name": "renamed"})),
            s.server.delete(&base, &who),
            s.server.get(&format!("{base}/access"), &who),
            s.server.post(
                &format!("{base}/access"),
                &who,
                &json!({"email": "friend@example.com"}),
            ),
            s.server.delete(&format!("{base}/access/1"), &who),
        ] {
            assert_eq!(resp.status, 403, "{}", resp.text());
            assert_eq!(resp.error_code(), "owner_only");
        }
        assert_eq!(s.server.get(&base, &who).status, 200, "but can read it");
    }
    assert_eq!(upload_rows(&s.server)[..4], before[..4], "nothing changed");
    assert_eq!(s.access()["access"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[test]
fn a_grant_for_an_email_without_an_account_waits_for_signup() -> TestResult {
    let s = shared();
    let grant = s.grant("carol@example.com");
    assert_eq!(grant["status"], "pending");
    assert_eq!(grant["name"], json!(null));
    // Carol joins through an invite link made for her address.
    let (token, _) = invite(&s, Some("carol@example.com"));
    let resp = s.server.post("/api/v1/invites/accept", &Auth::None, &json!({"token": token, "email": "carol@example.com", "name": "Carol", "password": "carol password"}));
    assert_eq!(resp.status, 201);
    let carol = Auth::Cookie(session_cookie(&resp).ok_or("cookie")?);
    assert_eq!(s.access()["access"][0]["status"], "added");
    let listed = s.server.get("/api/v1/artifacts", &carol).json();
    assert_eq!(listed["artifacts"][0]["name"], "Spec");
    assert_eq!(listed["artifacts"][0]["role"], "reviewer");
    // And through the command line.
    s.grant("dan@example.com");
    let dan = Auth::Cookie(signup(&s.server, "dan@example.com"));
    assert_eq!(
        s.server
            .get(&format!("/api/v1/artifacts/{}", s.share), &dan)
            .status,
        200
    );
    Ok(())
}

#[test]
fn grants_are_listed_refused_twice_and_revoked() -> TestResult {
    let s = shared();
    let bob = Auth::Cookie(signup(&s.server, "bob@example.com"));
    let grant = s.grant("bob@example.com");
    let resp = s.server.post(
        &format!("/api/v1/artifacts/{}/access", s.share),
        &s.ada,
        &json!({"email": "BOB@example.com", "role": "can-comment"}),
    );
    assert_eq!(resp.status, 409);
    assert_eq!(resp.error_code(), "already_granted");
    for (body, code) in [
        (
            json!({"email": "not an email", "role": "can-comment"}),
            "invalid_text",
        ),
        (
            json!({"email": "x@example.com", "role": "can-edit"}),
            "invalid_role",
        ),
        (
            json!({"email": "ada@example.com"}),
            "owner_already_has_access",
        ),
        (json!({"role": "can-comment"}), "required"),
    ] {
        let resp = s.server.post(
            &format!("/api/v1/artifacts/{}/access", s.share),
            &s.ada,
            &body,
        );
        assert_eq!(resp.status, 400, "{body}");
        assert_eq!(resp.error_code(), code, "{body}");
    }
    let id = grant["id"].as_str().ok_or("id")?;
    let resp = s.server.delete(
        &format!("/api/v1/artifacts/{}/access/{id}", s.share),
        &s.ada,
    );
    assert_eq!(resp.status, 200);
    assert!(resp.json()["revokedAt"].as_i64().is_some());
    assert_eq!(s.access()["access"], json!([]));
    assert_eq!(
        s.server
            .get(&format!("/api/v1/artifacts/{}", s.share), &bob)
            .status,
        404,
        "access is gone"
    );
    assert_eq!(
        s.server.get("/api/v1/artifacts", &bob).json()["artifacts"],
        json!([])
    );
    assert_eq!(
        s.server
            .delete(&format!("/api/v1/artifacts/{}/access/999", s.share), &s.ada)
            .status,
        404
    );
    // Revoking it again: there is no access to remove (as in the hosted API).
    let again = s.server.delete(
        &format!("/api/v1/artifacts/{}/access/{id}", s.share),
        &s.ada,
    );
    assert_eq!(again.status, 404);
    // Granting again after a revocation brings back the same record, as a fresh grant.
    let regranted = s.grant("bob@example.com");
    assert_eq!(regranted["id"], id);
    assert_eq!(regranted["status"], "added");
    assert_eq!(regranted["firstViewedAt"], Value::Null);
    let events = s
        .server
        .get(
            "/api/v1/activity?limit=3",
            &Auth::Cookie(s.ada_cookie.clone()),
        )
        .json();
    assert_eq!(
        actions(&events),
        ["access.granted", "access.revoked", "access.granted"]
    );
    Ok(())
}

#[test]
fn a_viewing_grant_stops_working_when_the_readers_access_is_gone() -> TestResult {
    let s = shared();
    let bob_cookie = signup(&s.server, "bob@example.com");
    let grant = s.grant("bob@example.com");
    let folder = s
        .server
        .view_grant(&Auth::Cookie(bob_cookie.clone()), &s.share, 1);
    let location = format!("{folder}/");
    let page = s.server.get(&location, &Auth::None);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<h1 id=\"spec\">Spec</h1>"));
    let id = grant["id"].as_str().ok_or("id")?;
    s.server.delete(
        &format!("/api/v1/artifacts/{}/access/{id}", s.share),
        &s.ada,
    );
    assert_eq!(s.server.get(&location, &Auth::None).status, 404);
    assert_eq!(
        s.server
            .get(&format!("/a/{}/v/1/", s.share), &Auth::Cookie(bob_cookie))
            .status,
        404
    );
    Ok(())
}

/// An invite link from Ada; `email` makes it an invite for that address. Returns (token, url).
fn invite(s: &Shared, email: Option<&str>) -> (String, String) {
    let body = match email {
        Some(e) => json!({"email": e}),
        None => json!({}),
    };
    let resp = s.server.post(
        "/api/v1/team/invites",
        &Auth::Cookie(s.ada_cookie.clone()),
        &body,
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let v = resp.json();
    assert_eq!(
        v["email"],
        email.map_or(Value::Null, |e| json!(e.to_lowercase()))
    );
    let url = v["url"].as_str().expect("url").to_string();
    let token = url
        .split("token=")
        .nth(1)
        .and_then(|t| t.split('&').next())
        .expect("token")
        .to_string();
    (token, url)
}

fn can_see(s: &Shared, cookie: &str) -> bool {
    s.server
        .get(
            &format!("/api/v1/artifacts/{}", s.share),
            &Auth::Cookie(cookie.to_string()),
        )
        .status
        == 200
}

#[test]
fn a_generic_invite_link_cannot_claim_what_was_shared_with_someone_else() -> TestResult {
    let s = shared();
    s.grant("carol@example.com");
    let (token, _) = invite(&s, None);
    // Mallory holds an ordinary invite link and types Carol's address.
    let resp = s.server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": token, "email": "carol@example.com", "name": "Carol?", "password": "mallory's password"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let mallory = session_cookie(&resp).ok_or("session")?;
    assert!(!can_see(&s, &mallory), "the pending grant stays Carol's");
    let listed = s
        .server
        .get("/api/v1/artifacts", &Auth::Cookie(mallory))
        .json();
    assert_eq!(listed["artifacts"], json!([]));
    let access = s.access();
    assert_eq!(access["access"][0]["email"], "carol@example.com");
    assert_eq!(access["access"][0]["status"], "pending");
    let claimed: Option<i64> = s.server.open_db().query_row(
        "SELECT user_id FROM access_grants WHERE email = 'carol@example.com'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(claimed, None);
    Ok(())
}

#[test]
fn an_invite_made_for_an_address_signs_up_only_that_address_and_claims_its_grants() -> TestResult {
    let s = shared();
    s.grant("dave@example.com");
    let (token, url) = invite(&s, Some("Dave@Example.com"));
    assert!(url.contains("&email=dave%40example.com"), "{url}");
    let listed = s
        .server
        .get("/api/v1/team/invites", &Auth::Cookie(s.ada_cookie.clone()))
        .json();
    assert_eq!(listed["invites"][0]["email"], "dave@example.com");
    // Someone else holding Dave's link cannot take another address with it.
    let resp = s.server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": token, "email": "eve@example.com", "name": "Eve", "password": "eve's password"}),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_code(), "invite_email_mismatch");
    // Dave signs up (the address may be left out: the invite knows it) and sees what was shared.
    let resp = s.server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": token, "name": "Dave", "password": "dave's password"}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["user"]["email"], "dave@example.com");
    let dave = session_cookie(&resp).ok_or("session")?;
    assert_eq!(s.access()["access"][0]["status"], "added");
    assert!(can_see(&s, &dave));
    // A generic link still needs an address.
    let (generic, _) = invite(&s, None);
    let resp = s.server.post(
        "/api/v1/invites/accept",
        &Auth::None,
        &json!({"token": generic, "name": "Nobody", "password": "a long password"}),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["field"], "email");
    Ok(())
}
