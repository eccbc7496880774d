//! `POST /api/v1/artifacts/{shareToken}/versions/{number}/view`: a viewing grant for the review
//! page's frame. The grant is a random path segment (192 bits, stored hashed) under which every
//! file of that version is served for 12 hours to this reader, in this session only, without
//! cookies (see `web::viewer`). A signed-in person's act: a key gets 403. Asking for a grant is
//! opening the version, so it also counts a view (see `view_counter`).

use serde_json::json;
use warp::reply::Response;

use super::artifacts::visible;
use super::versions::{active_version, parse_number};
use crate::auth;
use crate::clock::{now_ms, HOUR_MS};
use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::Request;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::view_grants;
use crate::store::views::{self, View};
use crate::view_counter::Viewer;

/// How long a viewing grant lasts.
pub const GRANT_HOURS: i64 = 12;

pub async fn create(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req).await?;
    let session_id = caller
        .session_id()
        .ok_or_else(|| ApiError::Internal("session_only returned a key caller".into()))?;
    let (artifact, _) = visible(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    let version = active_version(&state, &artifact, number).await?;
    let grant = random_token(24)?;
    let hash = grant.digest();
    let user_id = caller.user.id;
    let version_id = version.id;
    // Opening a version is a view (counted once per 30 minutes), recorded in the same write.
    let view = View {
        artifact_id: artifact.id,
        version_id,
        viewer: Viewer::Person(user_id).digest(),
        user_id: Some(user_id),
        via_link: false,
    };
    let expires_at = state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            let expires_at = now + GRANT_HOURS * HOUR_MS;
            view_grants::insert(
                conn, &hash, version_id, user_id, session_id, now, expires_at,
            )?;
            views::record(conn, &view, now)?;
            Ok(expires_at)
        })
        .await?;
    Ok(reply::created(&json!({
        "path": format!("/v/{}/", grant.expose()),
        "entryPoint": version.entry_point,
        "expiresAt": expires_at,
    })))
}
