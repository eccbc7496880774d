//! Agent key requests, a device flow as in RFC 8628: an agent without a key asks for one
//! (`POST /api/v1/key-requests`, no key needed) and gets a short user code, the address where a
//! person approves it, and a poll token. A signed-in person opens the settings' *Connect an agent*
//! section, types the code, sees who asks (agent name and role, scope, expiry, the requesting
//! address and client) and approves, choosing or creating the agent the key acts as, or denies.
//! The agent polls (`POST /api/v1/key-requests/poll`) no faster than the interval and receives the
//! key exactly once. Requests expire after 10 minutes; a person's code guesses are throttled like
//! passwords; both codes are stored as SHA-256; the key is made at delivery, never stored in clear.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use warp::http::header;
use warp::reply::Response;

use super::session;
use super::views::KeyView;
use crate::auth::{self, Caller};
use crate::clock::{iso, now_ms, MINUTE_MS, SECOND_MS};
use crate::http::error::ApiError;
use crate::http::ids::{wire, IdValue};
use crate::http::reply;
use crate::http::request::Request;
use crate::keys;
use crate::scopes::{self, Scope};
use crate::secrets::{fill_random, random_token, sha256, RandomError};
use crate::state::AppState;
use crate::store::audit::{self, AuditCtx, AuditEvent};
use crate::store::key_requests::{self, KeyRequest, NewRequest};
use crate::store::keys::{self as key_store, NewKeyRow};
use crate::store::Touches;
use crate::store::{agents, StoreError};
use crate::text;
use crate::throttle::Subject;

/// What the person's side of the device flow is for, in its refusals (`auth::session_only`).
const ANSWER_REQUESTS: &str = "see, approve or deny an agent's key request";

/// How long a request waits for a person.
pub const REQUEST_TTL_MS: i64 = 10 * MINUTE_MS;
/// The slowest an agent is asked to poll, in seconds.
pub const POLL_INTERVAL_SECS: i64 = 5;
/// Requests waiting at once from one address, and from everyone.
pub const PENDING_PER_ADDRESS: i64 = 5;
pub const PENDING_MAX: i64 = 1_000;
/// User codes: 8 letters without vowels or look-alikes (RFC 8628 §6.1), shown as XXXX-XXXX.
const CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const CODE_LEN: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewKeyRequest {
    agent_name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    expires_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Issued {
    user_code: String,
    verification_uri: String,
    poll_token: String,
    expires_in: i64,
    expires_at: i64,
    interval: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Poll {
    poll_token: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Approve {
    /// The agent the key acts as; absent: the agent of the requested name (made if there is none).
    #[serde(default)]
    agent_id: Option<IdValue>,
}

/// A request as the person deciding sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestView {
    id: String,
    agent_name: String,
    role: Option<String>,
    scopes: Vec<String>,
    expires_in_days: Option<i64>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    expires_at: i64,
    status: String,
    /// An agent of the person's with the requested name, if there is one (approving uses it).
    existing_agent_id: Option<String>,
    /// Else an agent of the person's whose name the requested one only looks like (a Cyrillic
    /// "С" for a Latin "C"): approving as a new agent is refused, the person chooses or denies.
    look_alike_agent_id: Option<String>,
}

#[derive(Serialize)]
struct Delivered {
    #[serde(flatten)]
    view: KeyView,
    /// The full key: delivered here once and never again.
    key: String,
}

/// A new user code (`XXXX-XXXX`) from the OS random source, without modulo bias.
fn user_code() -> Result<String, RandomError> {
    let mut code = String::with_capacity(CODE_LEN + 1);
    let mut buf = [0u8; 32];
    while code.len() < CODE_LEN + 1 {
        fill_random(&mut buf)?;
        for b in buf {
            // 240 = 12 × 20: bytes above it would favour the first letters.
            if b < 240 && code.len() < CODE_LEN + 1 {
                if code.len() == 4 {
                    code.push('-');
                }
                code.push(CODE_ALPHABET[usize::from(b % 20)] as char);
            }
        }
    }
    Ok(code)
}

/// A typed code as stored: upper case, without the dash or spaces.
fn code_digest(typed: &str) -> [u8; 32] {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    sha256(normal.as_bytes())
}

fn too_many(message: String) -> ApiError {
    ApiError::TooManyRequests {
        message,
        retry_after_secs: 60,
    }
}

/// `POST /api/v1/key-requests`: an agent asks for a key. No key or session needed.
pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let body: NewKeyRequest = req.json().await?;
    let agent_name = text::label("agentName", &body.agent_name, text::NAME_MAX)?;
    let role = body
        .role
        .as_deref()
        .map(|r| text::label("role", r, text::NAME_MAX))
        .transpose()?;
    let scope = scopes::requested(body.scopes.as_deref())
        .map_err(|m| ApiError::invalid("scopes", "invalid_scopes", m))?;
    if let Some(days) = body.expires_in_days {
        keys::expires_after_days(days, 0)
            .map_err(|m| ApiError::invalid("expiresInDays", "invalid_expiration", m))?;
    }
    let code = user_code()?;
    let poll = random_token(32)?;
    let (code_hash, poll_hash) = (code_digest(&code), poll.digest());
    let client_ip = req.ip();
    let user_agent = req
        .header(header::USER_AGENT)
        .map(|ua| ua.chars().take(200).collect::<String>());
    let now = now_ms();
    let expires_at = now + REQUEST_TTL_MS;
    let ctx = AuditCtx {
        ip: Some(client_ip.clone()),
        ..AuditCtx::default()
    };
    let created = state
        .store
        .write_content(move |conn| {
            let (here, all) = key_requests::pending_counts(conn, &client_ip, now)?;
            if here >= PENDING_PER_ADDRESS || all >= PENDING_MAX {
                return Ok(Err((here, all)));
            }
            let request = key_requests::insert(
                conn,
                &NewRequest {
                    user_code_hash: &code_hash,
                    poll_hash: &poll_hash,
                    agent_name: &agent_name,
                    role: role.as_deref(),
                    scopes: scope.as_str(),
                    expires_in_days: body.expires_in_days,
                    client_ip: &client_ip,
                    user_agent: user_agent.as_deref(),
                },
                now,
                expires_at,
            )?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::KeyRequested {
                    request_id: request.id,
                    agent_name: &request.agent_name,
                    scope: scope.as_str(),
                },
                now,
            )?;
            Ok(Ok(request))
        })
        .await?;
    if let Err((here, _)) = created {
        return Err(too_many(if here >= PENDING_PER_ADDRESS {
            format!("{here} key requests from this address are already waiting (at most {PENDING_PER_ADDRESS}); finish or let one expire (10 minutes) first")
        } else {
            format!("too many key requests are waiting on this server (at most {PENDING_MAX}); try again in a minute")
        }));
    }
    Ok(reply::created(&Issued {
        user_code: code,
        verification_uri: format!("{}/settings#connect", state.site.base_url),
        poll_token: poll.expose().to_string(),
        expires_in: REQUEST_TTL_MS / SECOND_MS,
        expires_at,
        interval: POLL_INTERVAL_SECS,
    }))
}

/// A refusal to a poll, in RFC 8628's words (`authorization_pending`, `slow_down`,
/// `access_denied`, `expired_token`).
fn not_yet(code: &'static str, message: String) -> ApiError {
    ApiError::BadRequest { code, message }
}

/// `POST /api/v1/key-requests/poll`: the agent asks whether its request was decided; once approved,
/// the answer carries the key, exactly once.
pub async fn poll(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let body: Poll = req.json().await?;
    text::at_most("pollToken", &body.poll_token, text::TOKEN_MAX)?;
    let hash = sha256(body.poll_token.trim().as_bytes());
    let now = now_ms();
    let found = state
        .store
        .read(move |conn| key_requests::by_poll_token(conn, &hash))
        .await?
        .ok_or_else(|| {
            not_yet(
                "invalid_poll_token",
                "no key request has this poll token; ask for a key again (POST /api/v1/key-requests)"
                    .to_string(),
            )
        })?;
    if found.status == "delivered" {
        return Err(not_yet(
            "expired_token",
            "this request's key was already delivered: a poll token gets its key once".to_string(),
        ));
    }
    // An approved request waits for its agent to collect the key for as long again from the
    // approval (an approval at the last minute still reaches a polling agent), not for ever.
    if let (true, Some(approved_at)) = (found.status == "approved", found.decided_at) {
        let until = found.expires_at.max(approved_at + REQUEST_TTL_MS);
        if now >= until {
            return Err(not_yet(
                "expired_token",
                format!(
                    "this key request was approved at {} but its key was not collected by {} \
                     (10 minutes after the approval); ask again",
                    iso(approved_at),
                    iso(until)
                ),
            ));
        }
    }
    if found.expired(now) && found.status != "approved" {
        return Err(not_yet(
            "expired_token",
            format!(
                "this key request expired at {} (requests wait 10 minutes); ask again",
                iso(found.expires_at)
            ),
        ));
    }
    let id = found.id;
    let too_soon = found
        .last_polled_at
        .is_some_and(|at| now - at < POLL_INTERVAL_SECS * SECOND_MS);
    state
        .store
        .write_content(move |conn| key_requests::polled(conn, id, now))
        .await?;
    if too_soon {
        return Err(not_yet(
            "slow_down",
            format!("poll at most every {POLL_INTERVAL_SECS} seconds"),
        ));
    }
    match found.status.as_str() {
        "pending" => Err(not_yet(
            "authorization_pending",
            format!(
                "waiting for a person to approve the request (until {}); poll again in {POLL_INTERVAL_SECS} seconds",
                iso(found.expires_at)
            ),
        )),
        "denied" => Err(not_yet(
            "access_denied",
            "a person denied this key request, or it was withdrawn before its key was collected \
             (the person who approved it was removed, or its agent deleted); ask again"
                .to_string(),
        )),
        _ => deliver(&state, &req, found, now).await,
    }
}

/// Makes the key of an approved request and marks it delivered, in one write.
async fn deliver(
    state: &AppState,
    req: &Request,
    found: KeyRequest,
    now: i64,
) -> Result<Response, ApiError> {
    let user_id = found
        .decided_by
        .ok_or_else(|| ApiError::Internal("an approved key request names no approver".into()))?;
    let new_key = keys::generate()?;
    let stored = new_key.stored.clone();
    let ip = req.ip();
    // The key's lifetime counts from the approval, as the approver was told.
    let approved_at = found.decided_at.unwrap_or(now);
    let expires_at = found
        .expires_in_days
        .map(|d| keys::expires_after_days(d, approved_at))
        .transpose()
        .map_err(|m| ApiError::Internal(format!("a stored request has a bad expiry: {m}")))?;
    let scope = Scope::of_stored(&found.scopes);
    let (record, user) = state
        .store
        .write_checked(Touches::Identities, move |conn| -> Result<_, ApiError> {
            let user = crate::store::users::by_id(conn, user_id)?;
            // What the approval stood on must still stand when the key is made: an approver
            // removed meanwhile (disabling revoked their keys; this one would be made after),
            // or an agent deleted meanwhile (its keys are revoked), makes no key.
            if user.disabled_at.is_some() {
                return Err(not_yet(
                    "access_denied",
                    "the person who approved this request was removed from this server since, so it gives no key; ask again".to_string(),
                ));
            }
            if let Some(agent_id) = found.agent_id {
                match agents::get(conn, user_id, agent_id) {
                    Ok(_) => {}
                    Err(StoreError::NotFound) => {
                        return Err(not_yet(
                            "access_denied",
                            format!(
                                "the agent {:?} this request was approved for was deleted since, so it gives no key; ask again",
                                found.agent_name
                            ),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let record = key_store::create(
                conn,
                &NewKeyRow {
                    user_id,
                    agent_id: found.agent_id,
                    name: &found.agent_name,
                    prefix: &stored.prefix,
                    hash: &stored.hash,
                    expires_at,
                    scope,
                },
                &AuditCtx {
                    user_id: Some(user_id),
                    agent_id: found.agent_id,
                    ip: Some(ip.clone()),
                    ..AuditCtx::default()
                },
                Some("key-request"),
                now,
            )?;
            if !key_requests::delivered(conn, found.id, record.id)? {
                // Two polls raced: the other one delivered; this key must not exist.
                return Err(ApiError::bad_request(
                    "expired_token",
                    "this request's key was already delivered",
                ));
            }
            Ok((record, user))
        })
        .await?;
    Ok(reply::ok(&Delivered {
        view: KeyView::new(&record, &user, now),
        key: new_key.secret.expose().to_string(),
    }))
}

/// The answer for a code that names no request this person may see.
fn no_such_code() -> ApiError {
    ApiError::NotFound(
        "no key request has this code, or it expired (requests wait 10 minutes); check the code the agent shows"
            .to_string(),
    )
}

/// The request with the code in the path, for a signed-in person, with their guesses throttled.
async fn by_code(state: &AppState, req: &Request, caller: &Caller) -> Result<KeyRequest, ApiError> {
    let typed = req.param("userCode");
    text::at_most("code", typed, text::TOKEN_MAX)?;
    let attempt = state
        .login_throttle
        .reserve(
            Subject::KeyRequestCode(caller.user.id),
            req.client,
            Instant::now(),
        )
        .map_err(|r| session::refused(r, "key request codes"))?;
    let hash = code_digest(typed);
    let found = state
        .store
        .read(move |conn| key_requests::by_user_code(conn, &hash))
        .await?;
    match found {
        // A decided request is its decider's: another person who types its code learns nothing
        // of it (who asked, from where), as if there were none.
        Some(request)
            if request.status != "pending"
                && request.decided_by.is_some_and(|by| by != caller.user.id) =>
        {
            attempt.failed();
            Err(no_such_code())
        }
        Some(request) if !request.expired(now_ms()) || request.status != "pending" => {
            attempt.succeeded();
            Ok(request)
        }
        _ => {
            attempt.failed();
            Err(no_such_code())
        }
    }
}

async fn view(state: &AppState, caller: &Caller, r: KeyRequest) -> Result<RequestView, ApiError> {
    let user_id = caller.user.id;
    let name = r.agent_name.clone();
    let (existing, look_alike) = state
        .store
        .read(move |conn| {
            Ok(match agents::find_by_name(conn, user_id, &name)? {
                Some(agent) => (Some(agent), None),
                None => (None, agents::find_look_alike(conn, user_id, &name)?),
            })
        })
        .await?;
    Ok(RequestView {
        id: wire(r.id),
        scopes: Scope::of_stored(&r.scopes)
            .as_str()
            .split(' ')
            .map(str::to_string)
            .collect(),
        agent_name: r.agent_name,
        role: r.role,
        expires_in_days: r.expires_in_days,
        client_ip: r.client_ip,
        user_agent: r.user_agent,
        created_at: r.created_at,
        expires_at: r.expires_at,
        status: r.status,
        existing_agent_id: existing.map(|a| wire(a.id)),
        look_alike_agent_id: look_alike.map(|a| wire(a.id)),
    })
}

/// `GET /api/v1/key-requests/{userCode}` (session): who asks, for what.
pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, ANSWER_REQUESTS).await?;
    let found = by_code(&state, &req, &caller).await?;
    Ok(reply::ok(&view(&state, &caller, found).await?))
}

/// `POST /api/v1/key-requests/{userCode}/approve` (session): the key will act as the agent chosen,
/// or the agent of the requested name (made now if the person has none).
pub async fn approve(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, ANSWER_REQUESTS).await?;
    let found = by_code(&state, &req, &caller).await?;
    let bytes = req.body_bytes(crate::http::request::JSON_LIMIT).await?;
    let body: Approve = if bytes.iter().all(u8::is_ascii_whitespace) {
        Approve::default()
    } else {
        crate::http::request::parse_json(&bytes)?
    };
    let chosen = match &body.agent_id {
        None => None,
        Some(raw) => Some(raw.parse().ok_or_else(|| {
            ApiError::invalid(
                "agentId",
                "unknown_agent",
                "agentId is not one of your agents",
            )
        })?),
    };
    decide(&state, &caller, found, Some(chosen)).await
}

/// `POST /api/v1/key-requests/{userCode}/deny` (session).
pub async fn deny(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, ANSWER_REQUESTS).await?;
    let found = by_code(&state, &req, &caller).await?;
    decide(&state, &caller, found, None).await
}

/// Approves (`Some(agent)`, `Some(None)` meaning the agent of the requested name) or denies
/// (`None`) a pending request; answers it as it now is.
async fn decide(
    state: &AppState,
    caller: &Caller,
    found: KeyRequest,
    approve: Option<Option<i64>>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    if found.status != "pending" || found.expired(now) {
        return Err(ApiError::conflict(
            "already_decided",
            format!(
                "this key request is {} and cannot be decided again",
                if found.expired(now) && found.status == "pending" {
                    "expired"
                } else {
                    found.status.as_str()
                }
            ),
        ));
    }
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let id = found.id;
    let (name, role) = (found.agent_name.clone(), found.role.clone());
    let decided = state
        .store
        .write(move |conn| {
            let agent_id = match approve {
                None => None,
                Some(Some(agent_id)) => Some(agents::get(conn, user_id, agent_id)?.id),
                Some(None) => match agents::find_by_name(conn, user_id, &name)? {
                    Some(agent) => Some(agent.id),
                    None => {
                        let role = role.as_deref();
                        let via = Some("key-request");
                        Some(agents::create(conn, user_id, &name, role, &ctx, via, now)?.id)
                    }
                },
            };
            if !key_requests::decide(conn, id, approve.is_some(), user_id, agent_id, now)? {
                return Ok(None);
            }
            let event = match agent_id {
                Some(agent_id) => AuditEvent::KeyRequestApproved {
                    request_id: id,
                    agent_id,
                },
                None => AuditEvent::KeyRequestDenied { request_id: id },
            };
            audit::record(conn, &ctx, &event, now)?;
            Ok(Some(key_requests::get(conn, id)?))
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::invalid(
                "agentId",
                "unknown_agent",
                "agentId is not one of your agents",
            ),
            other => other.into(),
        })?
        .ok_or_else(|| {
            ApiError::conflict(
                "already_decided",
                "this key request was decided or expired meanwhile",
            )
        })?;
    Ok(reply::ok(&view(state, caller, decided).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_two_groups_of_four_unambiguous_letters() {
        for _ in 0..200 {
            let code = user_code().expect("code");
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(&code[4..5], "-");
            assert!(code
                .chars()
                .filter(|c| *c != '-')
                .all(|c| CODE_ALPHABET.contains(&(c as u8))));
        }
    }

    #[test]
    fn a_code_is_found_however_it_is_typed() {
        assert_eq!(code_digest("BCDF-GHJK"), code_digest("bcdfghjk"));
        assert_eq!(code_digest(" bcdf ghjk "), code_digest("BCDFGHJK"));
        assert_ne!(code_digest("BCDF-GHJK"), code_digest("BCDF-GHJL"));
    }
}
