//! First-run setup: `GET /api/v1/setup` says whether it is still open; `POST /api/v1/setup` with the
//! token from the start-up log creates the first account (an admin) and signs it in.

use serde::Deserialize;
use serde_json::json;
use std::time::Instant;
use warp::reply::Response;

use super::session;
use crate::auth;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::users::{self, NewUser};
use crate::store::Touches;
use crate::text;
use crate::throttle::Subject;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOwner {
    token: String,
    email: String,
    name: String,
    password: String,
}

pub async fn status(state: AppState, _: Request) -> Result<Response, ApiError> {
    let users = state.store.read(users::count).await?;
    Ok(reply::ok(
        &json!({ "needed": users == 0 && state.setup.is_open() }),
    ))
}

pub async fn create_owner(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    auth::check_same_origin(&state, &req)?;
    let body: CreateOwner = req.json().await?;
    text::at_most("token", &body.token, text::TOKEN_MAX)?;
    let closed = || {
        ApiError::forbidden(
            "setup_closed",
            "setup is already done: this server has an account; sign in instead",
        )
    };
    if !state.setup.is_open() || state.store.read(users::count).await? > 0 {
        return Err(closed());
    }
    let attempt = state
        .login_throttle
        .reserve(Subject::SetupToken, req.client, Instant::now())
        .map_err(|r| session::refused(r, "setup attempts"))?;
    if !state.setup.accepts(body.token.trim()) {
        attempt.failed();
        return Err(ApiError::forbidden(
            "invalid_setup_token",
            "the setup token is wrong; open the setup link printed in the server's log",
        ));
    }
    attempt.succeeded();
    let email = text::email("email", &body.email)?;
    let name = text::label("name", &body.name, text::NAME_MAX)?;
    text::password("password", &body.password)?;
    let password_hash = state.passwords.hash(body.password).await?;
    let ip = req.ip();
    let created = state
        .store
        .write_checked(Touches::Identities, move |conn| -> Result<_, ApiError> {
            if users::count(conn)? > 0 {
                return Err(closed());
            }
            let now = now_ms();
            users::create(
                conn,
                &NewUser {
                    email: &email,
                    name: &name,
                    password_hash: &password_hash,
                    role: "admin",
                    // The holder of the setup token runs this server.
                    owns_email: true,
                },
                Some(ip.clone()),
                "setup",
                None,
                now,
            )
            .map_err(ApiError::from)
        })
        .await;
    let user = created?;
    state.setup.close();
    log::info!("setup finished: the first account was created; the setup link no longer works");
    session::start(&state, &req, user, reply::created).await
}
