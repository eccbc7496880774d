//! `Idempotency-Key` on the routes that create (artifacts, versions, comments, replies): a client
//! that did not get its answer (a timeout, a dropped connection, a gateway's 502) sends the same
//! request again with the same key and gets the first answer again, with `Idempotent-Replayed:
//! true`, instead of a second artifact, version, comment or reply. Keys are the account's own
//! (an agent's key counts for its account), kept for 24 hours. The key names one request: sent
//! with another method or path it is refused (409 `idempotency_key_reused`), with another body
//! too (422 `idempotency_key_reused`: the body is compared as parsed, by its `Fingerprint`, so a
//! retry whose JSON is spaced or ordered otherwise, or whose multipart boundary is new, is the
//! same request), and while the first request still runs, a retry is refused too (409
//! `idempotency_key_in_progress`). Only successful answers are kept: a refused request created nothing, and is
//! simply run again. The MCP tools that create take the same as `clientRequestId`
//! (`Idempotency::keyed`, `run_json`). The write that does the work also marks the key done
//! (`mark_done`); the answer replaces the mark right after. A server that stops between the
//! two leaves the mark, and a retry is refused with 409 `idempotency_answer_lost` (the work was
//! done, its answer is gone) rather than doing the work twice.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::auth::Caller;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::idempotency::{self, Answer};
use crate::store::StoreResult;

/// The header, and the longest key taken (as the IETF draft's examples, a UUID fits many times).
const HEADER: &str = "idempotency-key";
const KEY_MAX: usize = 255;
/// What stands for the method of an MCP tool call, whose path is the tool's name.
pub const MCP_METHOD: &str = "MCP";

/// The requests that run now under a key, per account: a retry that arrives meanwhile waits.
#[derive(Debug, Default)]
pub struct Running(Mutex<HashSet<(i64, String)>>);

/// A key taken while its request runs; given back when dropped.
struct Taken {
    running: Arc<Running>,
    user_id: i64,
    key: String,
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut set = self.running.0.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&(self.user_id, std::mem::take(&mut self.key)));
    }
}

impl Running {
    fn take(self: &Arc<Self>, user_id: i64, key: &str, field: &str) -> Result<Taken, ApiError> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert((user_id, key.to_string())) {
            return Err(ApiError::Conflict {
                code: "idempotency_key_in_progress",
                message: format!(
                    "a request with this {field} is still running; retry once it has answered"
                ),
            });
        }
        Ok(Taken {
            running: self.clone(),
            user_id,
            key: key.to_string(),
        })
    }
}

tokio::task_local! {
    /// The keyed request whose work runs in this task, for its write to mark done.
    static PENDING: Pending;
}

/// A keyed request under way: the creating write marks it done (`mark`) in its own transaction.
#[derive(Debug, Clone)]
pub struct Pending {
    user_id: i64,
    key: String,
    method: String,
    path: String,
    fingerprint: Fingerprint,
}

impl Pending {
    /// The keyed request this task runs, if any: to be captured by a creating write's job.
    pub fn current() -> Option<Pending> {
        PENDING.try_with(Pending::clone).ok()
    }
}

/// Marks the keyed request of this task done, if any (`pending` as `Pending::current` found it),
/// inside the write that does it.
pub fn mark_done(
    pending: Option<&Pending>,
    conn: &rusqlite::Connection,
    now: i64,
) -> StoreResult<()> {
    match pending {
        Some(p) => idempotency::mark_done(
            conn,
            p.user_id,
            &p.key,
            (&p.method, &p.path, p.fingerprint.0),
            now,
        ),
        None => Ok(()),
    }
}

/// A request's key, if it sent one, with what it is a key for.
pub struct Idempotency(Option<Keyed>);

struct Keyed {
    key: String,
    /// How the key was given: `Idempotency-Key`, or an MCP tool's `clientRequestId`.
    field: &'static str,
    method: String,
    path: String,
    /// What the request asks for (`asking`); every keyed route gives it before `run`.
    fingerprint: Option<Fingerprint>,
}

/// What a keyed request asked for: a SHA-256 of its body as parsed (JSON with its object keys in
/// order, whatever its spacing; an upload's fields and content), to tell a retry from another
/// request sent with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Of a JSON body and the query string it came with; a body that is not JSON counts as bytes.
    pub fn of_body(query: &str, body: &[u8]) -> Fingerprint {
        let mut hash = Asked::new("body");
        hash.field(query.as_bytes());
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => hash.json(&value),
            Err(_) => hash.field(body),
        }
        hash.done()
    }

    /// Of an MCP tool's arguments.
    pub fn of_json(value: &Value) -> Fingerprint {
        let mut hash = Asked::new("json");
        hash.json(value);
        hash.done()
    }
}

/// A fingerprint fed field by field, each tagged and length-prefixed so that no two inputs feed
/// the same bytes.
pub struct Asked(Sha256);

impl Asked {
    pub fn new(kind: &str) -> Asked {
        let mut fields = Asked(Sha256::new());
        fields.field(kind.as_bytes());
        fields
    }

    pub fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// A field that may be missing (told apart from an empty one).
    pub fn optional(&mut self, value: Option<&str>) {
        match value {
            None => self.0.update([0]),
            Some(v) => {
                self.0.update([1]);
                self.field(v.as_bytes());
            }
        }
    }

    /// A field of `len` bytes whose bytes follow, written in pieces (see `io::Write`).
    pub fn start_field(&mut self, len: u64) {
        self.0.update(len.to_le_bytes());
    }

    fn json(&mut self, value: &Value) {
        match value {
            Value::Null => self.0.update(b"n"),
            Value::Bool(b) => self.0.update(if *b { b"t" } else { b"f" }),
            Value::Number(n) => {
                self.0.update(b"#");
                self.field(n.to_string().as_bytes());
            }
            Value::String(s) => {
                self.0.update(b"s");
                self.field(s.as_bytes());
            }
            Value::Array(items) => {
                self.0.update(b"[");
                self.0.update((items.len() as u64).to_le_bytes());
                for item in items {
                    self.json(item);
                }
            }
            Value::Object(members) => {
                self.0.update(b"{");
                self.0.update((members.len() as u64).to_le_bytes());
                let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (name, member) in sorted {
                    self.field(name.as_bytes());
                    self.json(member);
                }
            }
        }
    }

    pub fn done(self) -> Fingerprint {
        Fingerprint(self.0.finalize().into())
    }
}

/// The bytes of a field begun with `start_field`, copied in as they are read.
impl std::io::Write for Asked {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Idempotency {
    /// The key of `req` (None when it sent none); a malformed one is refused.
    pub fn of(req: &Request) -> Result<Idempotency, ApiError> {
        let mut sent = req.headers.get_all(HEADER).iter();
        let Some(first) = sent.next() else {
            return Ok(Idempotency(None));
        };
        // Two keys, or one that is not ASCII, would otherwise pass as the first or as none: a
        // retry would then create again.
        let given = sent.count() + 1;
        if given > 1 {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "invalid_idempotency_key",
                format!("Idempotency-Key was sent {given} times; send it once"),
            ));
        }
        let Ok(key) = first.to_str() else {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key must be 1 to {KEY_MAX} visible ASCII characters (a UUID, say); it holds other bytes"
                ),
            ));
        };
        // A header's value is read without the spaces around it (HTTP's rule).
        Idempotency::keyed(
            Some(key.trim()),
            "Idempotency-Key",
            req.method.as_str(),
            &req.path,
        )
    }

    /// A key given some other way (an MCP tool's `clientRequestId`, named `field`), for the
    /// request named `method` and `path`; a malformed one is refused.
    pub fn keyed(
        raw: Option<&str>,
        field: &'static str,
        method: &str,
        path: &str,
    ) -> Result<Idempotency, ApiError> {
        // Compared as given: a JSON string " id-1 " is not "id-1" (a header comes trimmed).
        let key = match raw {
            None => return Ok(Idempotency(None)),
            Some(k) => {
                let inner_spaces_only = !k.starts_with(' ') && !k.ends_with(' ');
                if (1..=KEY_MAX).contains(&k.len())
                    && inner_spaces_only
                    && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                {
                    k.to_string()
                } else {
                    return Err(ApiError::invalid(
                        field,
                        "invalid_idempotency_key",
                        format!(
                            "{field} must be 1 to {KEY_MAX} visible ASCII characters, with spaces only between them (a UUID, say); got {} bytes{}",
                            k.len(),
                            if inner_spaces_only { "" } else { " starting or ending with a space" }
                        ),
                    ));
                }
            }
        };
        // Nothing is copied for the requests (nearly all) that send no key.
        Ok(Idempotency(Some(Keyed {
            key,
            field,
            method: method.to_string(),
            path: path.to_string(),
            fingerprint: None,
        })))
    }

    /// Whether the request sent a key (and so needs its `Fingerprint`).
    pub fn is_keyed(&self) -> bool {
        self.0.is_some()
    }

    /// Says what the request asks for; `what` runs only when it sent a key.
    pub fn asking(mut self, what: impl FnOnce() -> Fingerprint) -> Idempotency {
        if let Some(keyed) = self.0.as_mut() {
            keyed.fingerprint = Some(what());
        }
        self
    }

    /// `run` for work that answers JSON (an MCP tool's result).
    pub async fn run_json(
        self,
        state: &AppState,
        caller: &Caller,
        work: impl Future<Output = Result<Box<RawValue>, ApiError>> + Send + 'static,
    ) -> Result<Box<RawValue>, ApiError> {
        let response = self
            .run(state, caller, async {
                let value = work.await?;
                Ok(crate::http::reply::json_bytes(
                    StatusCode::OK,
                    value.get().as_bytes().to_vec(),
                ))
            })
            .await?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiError::Internal(format!("reading a kept answer failed: {e}")))?
            .to_bytes();
        String::from_utf8(bytes.to_vec())
            .ok()
            .and_then(|text| RawValue::from_string(text).ok())
            .ok_or_else(|| ApiError::Internal("a kept answer is not JSON".into()))
    }

    /// Runs `work` once per key: a retry gets the kept answer instead. Keyed work runs as a task
    /// of its own, with the keeping of its answer: a client that hangs up mid-request cannot
    /// cancel it between its commit and its answer being kept (the retry would do it again); the
    /// retry waits its turn (409 `idempotency_key_in_progress`) and then gets the answer.
    pub async fn run(
        self,
        state: &AppState,
        caller: &Caller,
        work: impl Future<Output = Result<Response, ApiError>> + Send + 'static,
    ) -> Result<Response, ApiError> {
        let Some(Keyed {
            key,
            field,
            method,
            path,
            fingerprint,
        }) = self.0
        else {
            return work.await;
        };
        let fingerprint = fingerprint.ok_or_else(|| {
            ApiError::Internal(format!(
                "{method} {path} ran a keyed request without its fingerprint"
            ))
        })?;
        let user_id = caller.user.id;
        let taken = state.idempotency.take(user_id, &key, field)?;
        let lookup = key.clone();
        let kept = state
            .store
            .read(move |conn| idempotency::get(conn, user_id, &lookup, now_ms()))
            .await?;
        if let Some(answer) = kept {
            if answer.method != method || answer.path != path {
                return Err(ApiError::Conflict {
                    code: "idempotency_key_reused",
                    message: format!(
                        "this {field} was used for {} in the last 24 hours; use a new {} for another request",
                        if answer.method == MCP_METHOD {
                            format!("the MCP tool {}", answer.path)
                        } else {
                            format!("{} {}", answer.method, answer.path)
                        },
                        if field == "Idempotency-Key" { "key" } else { field }
                    ),
                });
            }
            if answer.fingerprint.is_some_and(|kept| kept != fingerprint.0) {
                let message = if method == MCP_METHOD {
                    format!("this {field} was used in the last 24 hours for a call of {path} with other arguments; a retry must send the same arguments, and another call needs a new {field}")
                } else {
                    format!("this {field} was used in the last 24 hours for a {method} {path} with another body; a retry must send the same body, and another request needs a new key")
                };
                return Err(ApiError::Unprocessable {
                    code: "idempotency_key_reused",
                    message,
                });
            }
            if answer.status == idempotency::DONE_UNANSWERED {
                return Err(ApiError::Conflict {
                    code: "idempotency_answer_lost",
                    message: format!(
                        "the request sent with this {field} ({method} {path}) was carried out, but its answer could not be kept (the server stopped, or failed to store it); look for what it made (list the artifact's comments, or your artifacts) instead of sending it again, or send it with a new key to make another"
                    ),
                });
            }
            return Ok(replay(answer));
        }
        let pending = Pending {
            user_id,
            key,
            method,
            path,
            fingerprint,
        };
        let state = state.clone();
        let task = tokio::spawn(async move {
            let _taken = taken;
            let response = PENDING.scope(pending.clone(), work).await?;
            keep(&state, pending, response).await
        });
        task.await
            .map_err(|e| ApiError::Internal(format!("the work of a keyed request failed: {e}")))?
    }
}

/// Keeps a successful answer for its key's retries, and gives it back.
async fn keep(
    state: &AppState,
    Pending {
        user_id,
        key,
        method,
        path,
        fingerprint,
    }: Pending,
    response: Response,
) -> Result<Response, ApiError> {
    if !response.status().is_success() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| ApiError::Internal(format!("reading an answer to keep failed: {e}")))?
        .to_bytes();
    let answer = Answer {
        method,
        path,
        fingerprint: Some(fingerprint.0),
        status: parts.status.as_u16(),
        body: bytes.to_vec(),
    };
    // The work is done and committed: failing to keep its answer must not hide it.
    if let Err(e) = state
        .store
        .write(move |conn| idempotency::put(conn, user_id, &key, &answer, now_ms()))
        .await
    {
        log::warn!("an answer could not be kept for its Idempotency-Key: {e}");
    }
    Ok(Response::from_parts(parts, bytes.into()))
}

/// The kept answer, said to be one.
fn replay(answer: Answer) -> Response {
    let mut response = crate::http::reply::json_bytes(
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
        answer.body,
    );
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fingerprint_reads_json_as_parsed_and_tells_other_requests_apart() {
        let body = |text: &str| Fingerprint::of_body("", text.as_bytes());
        assert_eq!(
            body(r#"{"content":"Ship?","target":{"source":"a.md"}}"#),
            body("{ \"target\": {\"source\": \"a.md\"},\n  \"content\": \"Ship?\" }"),
            "spacing and key order do not count"
        );
        assert_ne!(
            body(r#"{"content":"Ship?"}"#),
            body(r#"{"content":"Ship!"}"#)
        );
        assert_ne!(
            Fingerprint::of_body("version=1", br#"{"content":"Ship?"}"#),
            body(r#"{"content":"Ship?"}"#),
            "the query string counts"
        );
        assert_ne!(body(r#"{"a":"bc"}"#), body(r#"{"ab":"c"}"#));
        assert_ne!(body(r#"[1,[2]]"#), body(r#"[[1],2]"#));
        assert_ne!(body(r#"{"a":null}"#), body(r#"{"a":""}"#));
        assert_eq!(
            Fingerprint::of_json(&json!({"b": 1, "a": [true]})),
            Fingerprint::of_json(&json!({"a": [true], "b": 1}))
        );
        let fields = |values: [Option<&str>; 2]| {
            let mut asked = Asked::new("upload");
            for v in values {
                asked.optional(v);
            }
            asked.done()
        };
        assert_ne!(fields([None, Some("")]), fields([Some(""), None]));
        assert_ne!(fields([Some("a"), None]), fields([None, Some("a")]));
    }
}
