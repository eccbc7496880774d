//! Signing in and out of the browser UI: `POST/GET/DELETE /api/v1/session`. The cookie carries a
//! random token; the database keeps its SHA-256.

use std::net::IpAddr;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::reply::Response;

use super::views::UserView;
use crate::auth::{self, Via};
use crate::clock::{now_ms, DAY_MS};
use crate::http::error::{ApiError, AuthHint};
use crate::http::reply;
use crate::http::request::Request;
use crate::secrets::random_token;
use crate::session_cookie;
use crate::state::AppState;
use crate::store::audit::{self, AuditCtx, AuditEvent};
use crate::store::sessions::{self, NewSession};
use crate::store::users::{self, User};
use crate::text;
use crate::throttle::{
    Attempt, Refusal, Subject, PAIR_LIMIT, SUBJECT_LIMIT, VERIFYING_PER_ADDRESS,
};

/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    password: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    user: UserView,
    session: SessionInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionInfo {
    id: String,
    expires_at: i64,
}

/// One sign-in attempt at the account `email` from `client`, or the throttle's 429. Guesses at a
/// password set again since (an admin's reset, on the Team page or with `user set-password`: the
/// account's `updated_at` moves with it) no longer count: the new one may be tried.
async fn reserve_sign_in(
    state: &AppState,
    email: &str,
    client: IpAddr,
) -> Result<Attempt, ApiError> {
    let subject = Subject::Account(email);
    let what = "sign-in attempts for this account";
    let refusal = match state
        .login_throttle
        .reserve(subject, client, Instant::now())
    {
        Ok(attempt) => return Ok(attempt),
        Err(refusal) => refusal,
    };
    let lookup = email.to_string();
    let changed_at = state
        .store
        .read(move |conn| users::credentials(conn, &lookup))
        .await?
        .map(|(user, _)| user.updated_at);
    let since = changed_at.and_then(|at| {
        let ago = u64::try_from(now_ms().saturating_sub(at)).ok()?;
        Instant::now().checked_sub(std::time::Duration::from_millis(ago))
    });
    match since {
        Some(since) if since.elapsed() < crate::throttle::WINDOW => {
            state.login_throttle.forgive_before(subject, since);
            state
                .login_throttle
                .reserve(subject, client, Instant::now())
                .map_err(|r| refused(r, what))
        }
        _ => Err(refused(refusal, what)),
    }
}

pub async fn sign_in(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    auth::check_same_origin(&state, &req)?;
    let body: SignIn = req.json().await?;
    // Bounded before anything else happens: what a stranger types is never stored, and no
    // account has a longer email or password.
    let email = text::sign_in_email("email", &body.email)?;
    text::at_most("password", &body.password, text::PASSWORD_MAX)?;
    let attempt = reserve_sign_in(&state, &email, req.client).await?;
    let found = state
        .store
        .read(move |conn| users::credentials(conn, &email))
        .await?;
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matched = state.passwords.verify(body.password, stored).await;
    let user = match (user, matched) {
        (Some(user), true) => {
            attempt.succeeded();
            user
        }
        (user, _) => {
            attempt.failed();
            match user {
                Some(user) => {
                    state
                        .failed_sign_ins
                        .wrong_password(&state.store, user.id, req.client)
                        .await?
                }
                None => {
                    state
                        .failed_sign_ins
                        .unknown_account(&state.store, req.client)
                        .await?
                }
            }
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "the email or password is wrong",
            )
            .with_hint(AuthHint::Credentials));
        }
    };
    if user.disabled_at.is_some() {
        return Err(ApiError::forbidden(
            "account_disabled",
            "this account is disabled; ask an admin of this server",
        ));
    }
    start(&state, &req, user, reply::ok).await
}

pub async fn current(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(
        &state,
        &req,
        "read a browser session (GET /api/v1/me says who a key is)",
    )
    .await?;
    let Via::Session {
        session_id,
        expires_at,
    } = caller.via
    else {
        return Err(ApiError::Internal(
            "session_only returned a key caller".into(),
        ));
    };
    Ok(reply::ok(&SessionView {
        user: UserView::from(&*caller.user),
        session: SessionInfo {
            id: crate::http::ids::wire(session_id),
            expires_at,
        },
    }))
}

pub async fn sign_out(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, "sign out (a key is revoked instead)").await?;
    let session_id = caller.session_id().unwrap_or_default();
    let ctx = caller.audit();
    state
        .store
        .write(move |conn| {
            let now = now_ms();
            sessions::end(conn, session_id, now)?;
            audit::record(conn, &ctx, &AuditEvent::SessionEnded { session_id }, now)
        })
        .await?;
    Ok(reply::with_cookie(
        reply::ok(&json!({ "signedOut": true })),
        &session_cookie::clear(&state.site),
    ))
}

/// The 429 for an attempt the throttle refused; `what` names what was tried ("sign-in attempts
/// for this account").
pub fn refused(refusal: Refusal, what: &str) -> ApiError {
    let secs = refusal.wait().as_secs().max(1);
    let message = match refusal {
        Refusal::FromThisAddress { .. } => {
            format!("too many failed {what} from this address (the limit is {PAIR_LIMIT} in 15 minutes); try again in {secs} seconds")
        }
        Refusal::ForThisSubject { .. } => {
            format!("too many failed {what} (the limit is {SUBJECT_LIMIT} in 15 minutes from all addresses); try again in {secs} seconds")
        }
        Refusal::Busy => format!(
            "{VERIFYING_PER_ADDRESS} password checks from this address are already running; try again in a second"
        ),
        Refusal::Full => "too many failed sign-ins on this server right now; try again in a second".to_string(),
    };
    ApiError::TooManyRequests {
        message,
        retry_after_secs: secs,
    }
}

/// Creates a session for `user`, records `session.created`, and answers with `respond(view)` plus
/// the cookie.
pub async fn start(
    state: &AppState,
    req: &Request,
    user: User,
    respond: fn(&serde_json::Value) -> Response,
) -> Result<Response, ApiError> {
    let token = random_token(32)?;
    let hash = token.digest();
    let ip = req.ip();
    let user_agent = req
        .header(warp::http::header::USER_AGENT)
        .map(|s| s.chars().take(300).collect::<String>());
    let user_id = user.id;
    let (session_id, expires_at) = state
        .store
        .write(move |conn| {
            let now = now_ms();
            let expires_at = now + SESSION_DAYS * DAY_MS;
            let session_id = sessions::insert(
                conn,
                &NewSession {
                    hash: &hash,
                    user_id,
                    expires_at,
                    ip: Some(&ip),
                    user_agent: user_agent.as_deref(),
                },
                now,
            )?;
            let ctx = AuditCtx {
                user_id: Some(user_id),
                session_id: Some(session_id),
                ip: Some(ip.clone()),
                ..AuditCtx::default()
            };
            audit::record(conn, &ctx, &AuditEvent::SessionCreated { session_id }, now)?;
            Ok((session_id, expires_at))
        })
        .await?;
    let view = serde_json::to_value(SessionView {
        user: UserView::from(&user),
        session: SessionInfo {
            id: crate::http::ids::wire(session_id),
            expires_at,
        },
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let cookie = session_cookie::set(&state.site, token.expose(), SESSION_DAYS * DAY_MS / 1000);
    Ok(reply::with_cookie(respond(&view), &cookie))
}
