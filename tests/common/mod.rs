//! The test harness: runs the real `artifact-review` binary on 127.0.0.1:0 with a temporary
//! database, reads the port and the setup link from its log, and talks to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const BIN: &str = env!("CARGO_BIN_EXE_artifact-review");

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Key(String),
    Bearer(String),
    Cookie(String),
}

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response ({}) is not JSON: {e}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The JSON error code, asserting the standard error shape.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "error body has no message: {body}"
        );
        body["code"]
            .as_str()
            .expect("error body has a code")
            .to_string()
    }
}

/// A running server with its own temporary database.
pub struct Server {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// The thread reading the log; joined once the server has exited, so that `log()` then has
    /// every line.
    reader: Option<std::thread::JoinHandle<()>>,
    pub setup_token: Option<String>,
    agent: ureq::Agent,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = dir.path().join("review.db");
        Server::start_on(dir, db, &[])
    }

    /// Starts with extra command-line arguments.
    pub fn start_with(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = dir.path().join("review.db");
        Server::start_on(dir, db, args)
    }

    /// Starts on an existing directory and database (a restart).
    pub fn start_on(dir: tempfile::TempDir, db: PathBuf, args: &[&str]) -> Server {
        Server::start_env(dir, db, args, &[])
    }

    /// Like `start_on`, without the environment variables named in `unset`.
    pub fn start_env(dir: tempfile::TempDir, db: PathBuf, args: &[&str], unset: &[&str]) -> Server {
        Server::start_logging(dir, db, args, unset, "info")
    }

    /// Starts with `RUST_LOG` set to `level`.
    pub fn start_at_log_level(level: &str) -> Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = dir.path().join("review.db");
        Server::start_logging(dir, db, &[], &[], level)
    }

    fn start_logging(
        dir: tempfile::TempDir,
        db: PathBuf,
        args: &[&str],
        unset: &[&str],
        level: &str,
    ) -> Server {
        let mut command = Command::new(BIN);
        for name in unset {
            command.env_remove(name);
        }
        let mut child = command
            .arg("--db")
            .arg(&db)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", level)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on http://") || line.contains("setup#token=") {
                    let _ = ready_tx.send(line.clone());
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let mut port = None;
        let mut setup_token = None;
        // The setup line, when there is one, comes just before the listening line.
        while let Ok(line) = ready_rx.recv_timeout(Duration::from_secs(30)) {
            if let Some(rest) = line.split("setup#token=").nth(1) {
                setup_token = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(rest) = line.split("listening on http://").nth(1) {
                port = rest
                    .split(':')
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok());
                break;
            }
        }
        let port = port.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("server did not start: {:?}", log.lock().expect("log lock"))
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Server {
            port,
            dir,
            db,
            child,
            log,
            reader: Some(reader),
            setup_token,
            agent,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        auth: &Auth,
        body: Option<&[u8]>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        builder = match auth {
            Auth::None => builder,
            Auth::Key(k) => builder.header("X-API-Key", k.as_str()),
            Auth::Bearer(k) => builder.header("Authorization", format!("Bearer {k}")),
            Auth::Cookie(c) => builder.header("Cookie", format!("ar_session={c}")),
        };
        if body.is_some()
            && !extra
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("Content-Type", "application/json");
        }
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(body.unwrap_or_default().to_vec())
            .expect("a well-formed request");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.request("GET", path, auth, None, &[])
    }

    pub fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.request("DELETE", path, auth, None, &[])
    }

    pub fn post(&self, path: &str, auth: &Auth, body: &Value) -> Resp {
        self.request("POST", path, auth, Some(body.to_string().as_bytes()), &[])
    }

    pub fn patch(&self, path: &str, auth: &Auth, body: &Value) -> Resp {
        self.request("PATCH", path, auth, Some(body.to_string().as_bytes()), &[])
    }

    pub fn put(&self, path: &str, auth: &Auth, body: &Value) -> Resp {
        self.request("PUT", path, auth, Some(body.to_string().as_bytes()), &[])
    }

    /// Finishes first-run setup as Ada (admin); returns her session cookie.
    pub fn setup_owner(&self) -> String {
        let token = self
            .setup_token
            .clone()
            .expect("a new server logs a setup token");
        let resp = self.post(
            "/api/v1/setup",
            &Auth::None,
            &serde_json::json!({"token": token, "email": "ada@example.com", "name": "Ada", "password": OWNER_PASSWORD}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        session_cookie(&resp).expect("setup sets a session cookie")
    }

    /// Signs in; returns the session cookie.
    pub fn sign_in(&self, email: &str, password: &str) -> String {
        let resp = self.post(
            "/api/v1/session",
            &Auth::None,
            &serde_json::json!({"email": email, "password": password}),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        session_cookie(&resp).expect("sign-in sets a session cookie")
    }

    /// Creates a key through the API; returns (id, full key).
    pub fn create_key(&self, cookie: &str, body: Value) -> (String, String) {
        let resp = self.post("/api/v1/keys", &Auth::Cookie(cookie.to_string()), &body);
        assert_eq!(resp.status, 201, "{}", resp.text());
        let v = resp.json();
        (
            v["id"].as_str().expect("key id").to_string(),
            v["key"].as_str().expect("full key").to_string(),
        )
    }

    /// Creates an agent through the API; returns its id.
    pub fn create_agent(&self, auth: &Auth, name: &str, role: Option<&str>) -> String {
        let resp = self.post(
            "/api/v1/agents",
            auth,
            &serde_json::json!({"name": name, "role": role}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()["id"].as_str().expect("agent id").to_string()
    }

    /// Runs an admin sub-command against this server's database.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        cli(&self.db, args, stdin)
    }

    /// Creates another account with the CLI (as an admin on the host would) and signs it in;
    /// returns its session cookie.
    pub fn add_user(&self, email: &str, name: &str, password: &str) -> String {
        let out = self.cli(
            &[
                "user",
                "create",
                "--email",
                email,
                "--name",
                name,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "user create {email}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.sign_in(email, password)
    }

    /// Opens the database read-only, as another process would.
    pub fn open_db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens")
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait_exit()
    }

    /// Waits for the process to exit by itself (after a stop signal sent otherwise); returns its
    /// exit status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let status = self.child.wait().expect("the server exits");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        status
    }

    /// Stops the server with SIGTERM and hands back its directory and database, for a restart.
    pub fn stop(mut self) -> (tempfile::TempDir, PathBuf) {
        self.terminate();
        let dir = std::mem::replace(
            &mut self.dir,
            tempfile::tempdir().expect("temporary directory"),
        );
        (dir, self.db.clone())
    }

    /// Kills the server at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A memory figure of the server from /proc (`VmRSS`: resident now, `VmHWM`: its peak), in KiB.
    pub fn memory_kib(&self, field: &str) -> Result<u64, Box<dyn std::error::Error>> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .ok_or_else(|| format!("no {field} line"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| format!("no {field} value"))?
            .parse()?)
    }

    /// Sends raw bytes and returns whatever the server answers before closing or `timeout`.
    pub fn raw(&self, bytes: &[u8], timeout: Duration) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(timeout)).expect("timeout");
        let _ = stream.write_all(bytes);
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const OWNER_PASSWORD: &str = "correct horse battery staple";

/// Runs an admin sub-command against a database file.
pub fn cli(db: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("the CLI finishes")
}

/// The value of the `ar_session` cookie a response sets.
pub fn session_cookie(resp: &Resp) -> Option<String> {
    resp.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("ar_session="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        .filter(|v| !v.is_empty())
}

/// Milliseconds since the epoch, as the server counts.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// The raw bytes of the database file and its WAL, for scanning.
pub fn database_bytes(db: &Path) -> Vec<u8> {
    let mut all = std::fs::read(db).unwrap_or_default();
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        all.extend(std::fs::read(PathBuf::from(p)).unwrap_or_default());
    }
    all
}

/// The `action` of each event of an activity page (`GET /api/v1/activity`), newest first.
pub fn actions(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["action"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// SHA-256 of `data`, as the server stores its secrets.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
pub mod load;
pub mod zips;

/// A multipart/form-data body: (field name, file name, bytes) parts. Returns (content type, body).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----artifact-review-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `len` bytes that do not compress (xorshift), the same for the same `seed` and different for
/// another (so that uploads made of them each store their own bytes).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Base64 (standard alphabet, padded), as `base64 -w0` writes it.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Row counts of the tables an upload writes to, to prove a refused upload left nothing behind.
pub fn upload_rows(server: &Server) -> [i64; 6] {
    let db = server.open_db();
    let count = |table: &str| -> i64 {
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count rows")
    };
    [
        count("artifacts"),
        count("versions"),
        count("version_files"),
        count("blobs"),
        count("audit_events"),
        count("blob_parts"),
    ]
}

impl Server {
    /// Uploads an artifact as JSON; asserts 201 and returns the answer.
    pub fn upload(&self, auth: &Auth, body: Value) -> Value {
        let resp = self.post("/api/v1/artifacts", auth, &body);
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()
    }

    /// Makes the share link of artifact `share` with `capabilities`; returns the link's token (the
    /// last segment of its `shareUrl`).
    pub fn share_link(&self, auth: &Auth, share: &str, capabilities: Value) -> String {
        let resp = self.post(
            &format!("/api/v1/artifacts/{share}/sharelink"),
            auth,
            &serde_json::json!({ "capabilities": capabilities }),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()["shareUrl"]
            .as_str()
            .and_then(|url| url.rsplit('/').next())
            .expect("the link's token")
            .to_string()
    }

    /// A viewing grant for version `number` of an artifact, as the review page gets one; returns
    /// the folder its files are served under, `/v/{grant}` (no trailing slash).
    pub fn view_grant(&self, auth: &Auth, share: &str, number: i64) -> String {
        let resp = self.request(
            "POST",
            &format!("/api/v1/artifacts/{share}/versions/{number}/view"),
            auth,
            None,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        let path = resp.json()["path"]
            .as_str()
            .expect("the grant's path")
            .to_string();
        path.trim_end_matches('/').to_string()
    }

    /// Uploads multipart parts to `path`.
    pub fn upload_multipart(
        &self,
        path: &str,
        auth: &Auth,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Resp {
        let (content_type, body) = multipart(parts);
        self.request(
            "POST",
            path,
            auth,
            Some(&body),
            &[("Content-Type", &content_type)],
        )
    }
}

/// A response read off a raw socket (see `Server::raw_bytes` and `parse_responses`).
#[derive(Debug, Clone)]
pub struct RawResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResp {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name` (case-insensitive).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl Server {
    /// Opens a plain TCP connection to the server.
    pub fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).expect("connect")
    }

    /// Sends raw bytes and returns every byte the server answers before it closes the connection
    /// (or resets it) or `timeout` passes without data.
    pub fn raw_bytes(&self, bytes: &[u8], timeout: Duration) -> Vec<u8> {
        let mut stream = self.connect();
        stream.set_read_timeout(Some(timeout)).expect("timeout");
        let _ = stream.write_all(bytes);
        let mut out = Vec::new();
        // Bytes read before an error (a reset, a timeout) are kept in `out`.
        let _ = stream.read_to_end(&mut out);
        out
    }

    /// Sends one raw request and parses the first answer, if there is a complete one.
    pub fn raw_request(&self, bytes: &[u8], timeout: Duration) -> Option<RawResp> {
        parse_responses(&self.raw_bytes(bytes, timeout))
            .into_iter()
            .next()
    }

    /// Sends a request's head and the first half of its body, lets `meanwhile` act, then sends the
    /// rest and returns the answer.
    pub fn interrupted(
        &self,
        path: &str,
        key: &str,
        body: &str,
        meanwhile: impl FnOnce(),
    ) -> RawResp {
        self.interrupted_as("POST", path, key, body, meanwhile)
    }

    /// `interrupted` with another method (PATCH, say).
    pub fn interrupted_as(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: &str,
        meanwhile: impl FnOnce(),
    ) -> RawResp {
        self.interrupted_with(method, path, &format!("X-API-Key: {key}"), body, meanwhile)
    }

    /// `interrupted_as` with its credentials as a header line of the caller's (a session cookie).
    pub fn interrupted_with(
        &self,
        method: &str,
        path: &str,
        credentials: &str,
        body: &str,
        meanwhile: impl FnOnce(),
    ) -> RawResp {
        use std::io::{Read, Write};
        let mut stream = self.connect();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("a timeout");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{credentials}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host(),
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).expect("the head");
        stream.write_all(first.as_bytes()).expect("half the body");
        // The server authenticates on the head, then reads the body as it comes.
        std::thread::sleep(std::time::Duration::from_millis(300));
        meanwhile();
        stream.write_all(rest.as_bytes()).expect("the rest");
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        while parse_responses(&answer).is_empty() {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        parse_responses(&answer)
            .into_iter()
            .next()
            .expect("an answer")
    }

    /// The `Host` header value this server answers to.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn find_subslice(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses every complete HTTP/1.x response in `bytes`, in order. Bodies are delimited by
/// `Content-Length` or chunked transfer coding; a response with neither takes the rest. An
/// incomplete trailing response is left out.
pub fn parse_responses(bytes: &[u8]) -> Vec<RawResp> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(head_end) = find_subslice(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let Some(status) = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
        else {
            break;
        };
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let after = &rest[head_end + 4..];
        let (body, consumed) = if find("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
        {
            let mut body = Vec::new();
            let mut pos = 0;
            let mut complete = false;
            while let Some(line_end) = find_subslice(&after[pos..], b"\r\n") {
                let size_text = String::from_utf8_lossy(&after[pos..pos + line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .unwrap_or(0);
                pos += line_end + 2;
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    if let Some(end) = find_subslice(&after[pos..], b"\r\n") {
                        pos += end + 2;
                        complete = true;
                    }
                    break;
                }
                if after.len() < pos + size + 2 {
                    break;
                }
                body.extend_from_slice(&after[pos..pos + size]);
                pos += size + 2;
            }
            if !complete {
                break;
            }
            (body, pos)
        } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if after.len() < len {
                break;
            }
            (after[..len].to_vec(), len)
        } else {
            (after.to_vec(), after.len())
        };
        out.push(RawResp {
            status,
            headers,
            body,
        });
        rest = &after[consumed..];
    }
    out
}

/// The tables a request can write to (every table but the append-only `audit_events`, where
/// refused sign-ins are recorded on purpose).
pub const CONTENT_TABLES: &[&str] = &[
    "users",
    "agents",
    "api_keys",
    "sessions",
    "invites",
    "artifacts",
    "blobs",
    "versions",
    "version_files",
    "comments",
    "replies",
    "access_grants",
    "view_grants",
    "share_links",
    "views",
    "key_requests",
    "password_resets",
];

/// Every row of every table in `CONTENT_TABLES`, rendered as text and sorted, so two snapshots
/// differ exactly when a row was added, removed or changed. Left out: `api_keys.last_used_at`
/// (written on use, about once a minute, by design) and blob contents (their SHA-256 and size
/// stand for them).
pub fn db_snapshot(db: &rusqlite::Connection) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for table in CONTENT_TABLES {
        let columns: Vec<String> = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("table columns");
        let select: Vec<String> = columns
            .iter()
            .filter(|c| !(*table == "api_keys" && *c == "last_used_at"))
            .map(|c| {
                if *table == "blobs" && c == "content" {
                    "length(content)".to_string()
                } else {
                    format!("\"{c}\"")
                }
            })
            .collect();
        let sql = format!("SELECT {} FROM {table}", select.join(", "));
        let mut stmt = db.prepare(&sql).expect("snapshot query");
        let width = select.len();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(width);
                for i in 0..width {
                    let cell = match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => "NULL".to_string(),
                        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                        rusqlite::types::ValueRef::Real(f) => f.to_string(),
                        rusqlite::types::ValueRef::Text(t) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        rusqlite::types::ValueRef::Blob(b) => {
                            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                        }
                    };
                    cells.push(cell);
                }
                Ok(cells.join("|"))
            })
            .expect("snapshot rows")
            .collect::<Result<Vec<_>, _>>()
            .expect("snapshot rows");
        rows.sort();
        out.insert((*table).to_string(), rows);
    }
    out
}

/// What changed between two snapshots, one line per table, or `None` when nothing did.
pub fn snapshot_diff(
    before: &std::collections::BTreeMap<String, Vec<String>>,
    after: &std::collections::BTreeMap<String, Vec<String>>,
) -> Option<String> {
    let mut lines = Vec::new();
    for (table, rows) in before {
        let empty = Vec::new();
        let later = after.get(table).unwrap_or(&empty);
        if rows != later {
            let added: Vec<&String> = later.iter().filter(|r| !rows.contains(r)).collect();
            let removed: Vec<&String> = rows.iter().filter(|r| !later.contains(r)).collect();
            lines.push(format!(
                "{table}: {} rows -> {} rows; added/changed {added:?}; removed/changed {removed:?}",
                rows.len(),
                later.len()
            ));
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Lines of a server log that show a panic or an ERROR.
pub fn alarming_log_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("panicked") || l.contains(" ERROR "))
        .map(str::to_string)
        .collect()
}

impl Server {
    /// Opens a TCP connection from another loopback address (all of 127.0.0.0/8 is this host),
    /// as a second client machine would.
    pub fn connect_from(&self, source: std::net::Ipv4Addr) -> TcpStream {
        let port = self.port;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a runtime to connect with");
        let stream = runtime
            .block_on(async move {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind((source, 0).into())?;
                socket.connect(([127, 0, 0, 1], port).into()).await
            })
            .and_then(|s| s.into_std())
            .unwrap_or_else(|e| panic!("connect from {source}: {e}"));
        stream.set_nonblocking(false).expect("a blocking socket");
        stream
    }

    /// One `GET path` with `Connection: close` on `stream`; the parsed answer, if any.
    pub fn raw_get_on(&self, mut stream: TcpStream, path: &str) -> Option<RawResp> {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.host()
        );
        let _ = stream.write_all(request.as_bytes());
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        parse_responses(&out).into_iter().next()
    }
}

/// How long a test waits before calling a connection "still open".
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(12);

/// How a stalled connection ended.
#[derive(Debug)]
pub struct Ended {
    pub after: Duration,
    /// Whatever the server wrote before closing (perhaps a 408), usually nothing.
    pub answer: Vec<u8>,
}

/// Reads until the server closes `stream` (EOF or a reset) or `GIVE_UP_AFTER` passes since
/// `started`; an error when the connection is still open then.
pub fn wait_for_close(stream: &mut TcpStream, started: Instant) -> Result<Ended, String> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = GIVE_UP_AFTER
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("still connected after {GIVE_UP_AFTER:?}"))?;
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => {
                return Ok(Ended {
                    after: started.elapsed(),
                    answer,
                })
            }
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                return Ok(Ended {
                    after: started.elapsed(),
                    answer,
                })
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("still connected after {GIVE_UP_AFTER:?}"))
            }
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

/// Whether the server still holds `stream` open (nothing to read, no EOF).
pub fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(stream.peek(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock);
    let _ = stream.set_nonblocking(false);
    open
}

impl Server {
    /// How many lines of the log so far contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits (up to 30 s) until at least `count` log lines contain `needle`: the log is read by
    /// another thread, a moment behind the answers. Returns how many there are then.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.log_count(needle);
            if seen >= count || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The metrics address the server logged.
pub fn metrics_url(server: &Server) -> String {
    let log = server.log();
    let at = log
        .split("metrics at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the server logs where the metrics are: {log}"));
    at.to_string()
}

pub fn scrape(url: &str) -> (u16, String, String) {
    let mut resp = load::http().get(url).call().expect("the metrics answer");
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let status = resp.status().as_u16();
    (
        status,
        kind,
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The value of the sample `line_start` (a metric name with its labels), if exposed.
pub fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}
