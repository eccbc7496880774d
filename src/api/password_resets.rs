//! Password-reset links: an admin makes a one-time link for a member
//! (`POST /api/v1/team/members/{id}/password-reset`, shown once, 24 hours), and the member sets a
//! new password with it (`POST /api/v1/password-resets/accept`), which ends every session of the
//! account and signs this browser in. The token is 192 random bits; only its SHA-256 is stored.
//! Guessing is throttled like invite links.

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;
use warp::reply::Response;

use super::session;
use super::team::admin;
use crate::auth;
use crate::clock::{now_ms, HOUR_MS};
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::{self, wire};
use crate::http::reply;
use crate::http::request::Request;
use crate::secrets::{random_token, sha256};
use crate::state::AppState;
use crate::store::password_resets;
use crate::store::users;
use crate::store::StoreError;
use crate::store::Touches;
use crate::text;
use crate::throttle::Subject;

/// How long a reset link works.
pub const RESET_HOURS: i64 = 24;
/// Random bytes in a reset token (192 bits).
const TOKEN_BYTES: usize = 24;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UseReset {
    token: String,
    password: String,
}

fn invalid_link(message: String) -> ApiError {
    ApiError::forbidden("invalid_reset_link", message)
}

pub async fn create(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = admin(&state, &req).await?;
    let id = ids::path_id(req.param("id"), "member")?;
    let token = random_token(TOKEN_BYTES)?;
    let hash = token.digest();
    let ctx = caller.audit();
    let created_by = caller.user.id;
    let (reset, member) = state
        .store
        .write_checked(Touches::Identities, move |conn| -> Result<_, ApiError> {
            let member = users::by_id(conn, id).map_err(not_found_as("member"))?;
            if member.disabled_at.is_some() {
                return Err(ApiError::conflict(
                    "member_disabled",
                    format!(
                        "{} is disabled: enable the account before making a password-reset link",
                        member.email
                    ),
                ));
            }
            let now = now_ms();
            let reset = password_resets::create(
                conn,
                &ctx,
                &member,
                created_by,
                &hash,
                now + RESET_HOURS * HOUR_MS,
                now,
            )?;
            Ok((reset, member))
        })
        .await?;
    // The link is shown once, here; the token travels in the fragment, which never reaches a log,
    // with the account's address, so that the page says whose password it sets.
    let fragment =
        serde_urlencoded::to_string([("token", token.expose()), ("email", member.email.as_str())])
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    let url = format!("{}/reset-password#{fragment}", state.site.base_url);
    Ok(reply::created(&json!({
        "id": wire(reset.id),
        "userId": wire(member.id),
        "email": member.email,
        "createdAt": reset.created_at,
        "expiresAt": reset.expires_at,
        "url": url,
    })))
}

pub async fn accept(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    auth::check_same_origin(&state, &req)?;
    let body: UseReset = req.json().await?;
    text::at_most("token", &body.token, text::TOKEN_MAX)?;
    text::password("password", &body.password)?;
    let attempt = state
        .login_throttle
        .reserve(Subject::ResetToken, req.client, Instant::now())
        .map_err(|r| session::refused(r, "password-reset attempts"))?;
    let hash = sha256(body.token.trim().as_bytes());
    let now = now_ms();
    let found = state
        .store
        .read(move |conn| password_resets::by_hash(conn, &hash))
        .await?;
    let reset = match found {
        Some(r) if r.usable(now) => {
            attempt.succeeded();
            r
        }
        _ => {
            attempt.failed();
            return Err(invalid_link(password_resets::invalid_link().to_string()));
        }
    };
    let password_hash = state.passwords.hash(body.password).await?;
    let ip = req.ip();
    let user = state
        .store
        .write(move |conn| {
            password_resets::use_link(conn, reset.id, &password_hash, Some(ip.clone()), now_ms())
        })
        .await
        .map_err(|e| match e {
            StoreError::Refused { message, .. } => invalid_link(message),
            other => other.into(),
        })?;
    session::start(&state, &req, user, reply::ok).await
}
