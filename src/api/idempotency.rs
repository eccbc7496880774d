//! `Idempotency-Key` on the routes that create (artifacts, versions, comments, replies): a client
//! that did not get its answer (a timeout, a dropped connection, a gateway's 502) sends the same
//! request again with the same key and gets the first answer again, with `Idempotent-Replayed:
//! true`, instead of a second artifact, version, comment or reply. Keys are the account's own
//! (an agent's key counts for its account), kept for 24 hours. The key names one request: sent
//! with another method or path it is refused (409 `idempotency_key_reused`), and while the first
//! request still runs, a retry is refused too (409 `idempotency_key_in_progress`). Only successful answers are kept: a refused request created nothing, and is
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
    fn take(self: &Arc<Self>, user_id: i64, key: &str) -> Result<Taken, ApiError> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert((user_id, key.to_string())) {
            return Err(ApiError::Conflict {
                code: "idempotency_key_in_progress",
                message: "a request with this Idempotency-Key is still running; retry once it has answered".into(),
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
        Some(p) => idempotency::mark_done(conn, p.user_id, &p.key, &p.method, &p.path, now),
        None => Ok(()),
    }
}

/// A request's key, if it sent one, with what it is a key for.
pub struct Idempotency(Option<Keyed>);

struct Keyed {
    key: String,
    method: String,
    path: String,
}

impl Idempotency {
    /// The key of `req` (None when it sent none); a malformed one is refused.
    pub fn of(req: &Request) -> Result<Idempotency, ApiError> {
        Idempotency::keyed(
            req.header(HEADER),
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
        let key = match raw.map(str::trim) {
            None => return Ok(Idempotency(None)),
            Some(k)
                if (1..=KEY_MAX).contains(&k.len())
                    && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
            {
                k.to_string()
            }
            Some(k) => {
                return Err(ApiError::invalid(
                    field,
                    "invalid_idempotency_key",
                    format!(
                        "{field} must be 1 to {KEY_MAX} visible ASCII characters (a UUID, say); got {} bytes",
                        k.len()
                    ),
                ))
            }
        };
        // Nothing is copied for the requests (nearly all) that send no key.
        Ok(Idempotency(Some(Keyed {
            key,
            method: method.to_string(),
            path: path.to_string(),
        })))
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
        let Some(Keyed { key, method, path }) = self.0 else {
            return work.await;
        };
        let user_id = caller.user.id;
        let taken = state.idempotency.take(user_id, &key)?;
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
                        "this Idempotency-Key was used for {} {} in the last 24 hours; use a new key for another request",
                        answer.method, answer.path
                    ),
                });
            }
            if answer.status == idempotency::DONE_UNANSWERED {
                return Err(ApiError::Conflict {
                    code: "idempotency_answer_lost",
                    message: format!(
                        "the request sent with this Idempotency-Key ({method} {path}) was carried out, but the server stopped before its answer was kept; look for what it made (list the artifact's comments, or your artifacts) instead of sending it again, or send it with a new key to make another"
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
