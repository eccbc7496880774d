//! The signed-in person's own account: `PATCH /api/v1/account` (name),
//! `PUT /api/v1/account/password`, and their sessions: `GET /api/v1/account/sessions`,
//! `DELETE /api/v1/account/sessions/{id}` (one) and `DELETE /api/v1/account/sessions` (every
//! other).

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::reply::Response;

use super::session;
use super::views::UserView;
use crate::auth;
use crate::clock::now_ms;
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::{self, wire};
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::StoreError;
use crate::store::{password_resets, sessions, users};
use crate::text;
use crate::throttle::Subject;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateAccount {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChangePassword {
    current_password: String,
    new_password: String,
}

pub async fn update(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, "rename your account").await?;
    let body: UpdateAccount = req.json().await?;
    let name = text::label("name", &body.name, text::NAME_MAX)?;
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let before = caller.user.name.clone();
    let user = state
        .store
        .write(move |conn| {
            let now = now_ms();
            let user = users::rename(conn, user_id, &name, now)?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::AccountUpdated {
                    user_id,
                    before: &before,
                    after: &user.name,
                },
                now,
            )?;
            Ok(user)
        })
        .await?;
    Ok(reply::ok(&json!({ "user": UserView::from(&user) })))
}

pub async fn change_password(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(
        &state,
        &req,
        "change your password (on the server, `artifact-review user set-password` can)",
    )
    .await?;
    let body: ChangePassword = req.json().await?;
    text::at_most(
        "currentPassword",
        &body.current_password,
        text::PASSWORD_MAX,
    )?;
    text::password("newPassword", &body.new_password)?;
    let attempt = state
        .login_throttle
        .reserve(
            Subject::Account(&caller.user.email),
            req.client,
            Instant::now(),
        )
        .map_err(|r| session::refused(r, "password checks for this account"))?;
    let user_id = caller.user.id;
    let unchanged = body.new_password == body.current_password;
    let stored = state
        .store
        .read(move |conn| users::password_hash(conn, user_id))
        .await?;
    if !state
        .passwords
        .verify(body.current_password, Some(stored))
        .await
    {
        attempt.failed();
        return Err(ApiError::forbidden(
            "wrong_password",
            "the current password is wrong",
        ));
    }
    attempt.succeeded();
    if unchanged {
        return Err(ApiError::invalid(
            "newPassword",
            "same_password",
            "newPassword is the password you have now; choose a different one",
        ));
    }
    let hash = state.passwords.hash(body.new_password).await?;
    let ctx = caller.audit();
    let keep = caller.session_id().unwrap_or_default();
    let ended = state
        .store
        .write(move |conn| {
            let now = now_ms();
            users::set_password(conn, user_id, &hash, now)?;
            let ended = sessions::end_others(conn, user_id, keep, now)?;
            // A reset link made before would undo the change: it ends.
            password_resets::end_for_member(conn, user_id, now)?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::PasswordChanged {
                    user_id,
                    other_sessions_ended: ended,
                },
                now,
            )?;
            Ok(ended)
        })
        .await?;
    Ok(reply::ok(
        &json!({ "changed": true, "otherSessionsEnded": ended }),
    ))
}

/// A session as its owner sees it: where and when it signed in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    id: String,
    created_at: i64,
    expires_at: i64,
    ip: Option<String>,
    user_agent: Option<String>,
    /// The session this request came with.
    current: bool,
}

pub async fn sessions(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, "list your sessions").await?;
    let (user_id, current) = (caller.user.id, caller.session_id().unwrap_or_default());
    let live = state
        .store
        .read(move |conn| sessions::live(conn, user_id, now_ms()))
        .await?;
    let views: Vec<SessionView> = live
        .into_iter()
        .map(|s| SessionView {
            id: wire(s.id),
            created_at: s.created_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
            current: s.id == current,
        })
        .collect();
    Ok(reply::ok(&json!({ "sessions": views })))
}

/// Signs out one of the caller's other sessions (a browser left signed in elsewhere).
pub async fn end_session(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, "sign out a session").await?;
    let id = ids::path_id(req.param("id"), "session")?;
    if Some(id) == caller.session_id() {
        return Err(ApiError::bad_request(
            "current_session",
            "this is the session you are using: sign out instead (DELETE /api/v1/session, or the Sign out button)",
        ));
    }
    let (user_id, ctx) = (caller.user.id, caller.audit());
    state
        .store
        .write(move |conn| {
            let now = now_ms();
            if !sessions::end_own(conn, user_id, id, now)? {
                return Err(StoreError::NotFound);
            }
            audit::record(
                conn,
                &ctx,
                &AuditEvent::SessionEnded { session_id: id },
                now,
            )
        })
        .await
        .map_err(not_found_as("session"))?;
    Ok(reply::ok(&json!({ "id": wire(id), "ended": true })))
}

/// Signs out every session of the caller but the one this request came with.
pub async fn end_other_sessions(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, "sign out your other sessions").await?;
    let (user_id, ctx) = (caller.user.id, caller.audit());
    let keep = caller.session_id().unwrap_or_default();
    let ended = state
        .store
        .write(move |conn| {
            let now = now_ms();
            let others: Vec<i64> = sessions::live(conn, user_id, now)?
                .into_iter()
                .map(|s| s.id)
                .filter(|id| *id != keep)
                .collect();
            sessions::end_others(conn, user_id, keep, now)?;
            for &session_id in &others {
                audit::record(conn, &ctx, &AuditEvent::SessionEnded { session_id }, now)?;
            }
            Ok(others.len())
        })
        .await?;
    Ok(reply::ok(&json!({ "ended": ended })))
}
