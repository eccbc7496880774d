//! `POST /api/v1/artifacts/{shareToken}/versions/{number}/view`: a viewing grant for the review
//! page's frame. The grant is a random path segment (192 bits, stored hashed) under which every
//! file of that version is served for 12 hours to this reader, in this session only, without
//! cookies (see `web::viewer`). A signed-in person's act: a key gets 403. Asking for a grant is
//! opening the version, so it also counts a view (see `view_counter`).

use serde_json::json;
use warp::reply::Response;

use super::artifacts::visible;
use super::versions::{active_version, parse_number};
use crate::auth::{self, Caller};
use crate::clock::{now_ms, HOUR_MS};
use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::Request;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::artifacts::Artifact;
use crate::store::reads;
use crate::store::versions::Version;
use crate::store::view_grants;
use crate::store::views::{self, View};
use crate::view_counter::Viewer;

/// How long a viewing grant lasts.
pub const GRANT_HOURS: i64 = 12;

pub async fn create(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(
        &state,
        &req,
        "open a version for viewing (a viewing grant is a signed-in reader's; with a key, read its files through GET …/versions/{n}/files/{path})",
    )
    .await?;
    let (artifact, _) = visible(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    let version = active_version(&state, &artifact, number).await?;
    let grant = open_version(&state, &caller, &artifact, &version, Seen::No).await?;
    Ok(reply::created(&json!({
        "path": grant.path,
        "entryPoint": version.entry_point,
        "expiresAt": grant.expires_at,
    })))
}

/// A viewing grant: the folder its version's files are served under, and until when.
pub struct Grant {
    /// `/v/{grant}/`: a capability for 12 hours, never to be logged or cached.
    pub path: String,
    pub expires_at: i64,
}

/// Whether opening a version also records that the reader has seen the artifact as it is now.
pub enum Seen {
    Yes,
    No,
}

/// Opens `version` of `artifact` for a signed-in `caller`: a new viewing grant, counted as a view,
/// and with `Seen::Yes` the reader's mark of what they have seen, all in one write.
pub async fn open_version(
    state: &AppState,
    caller: &Caller,
    artifact: &Artifact,
    version: &Version,
    seen: Seen,
) -> Result<Grant, ApiError> {
    let session_id = caller
        .session_id()
        .ok_or_else(|| ApiError::Internal("a viewing grant for a key caller".into()))?;
    let grant = random_token(24)?;
    let hash = grant.digest();
    let user_id = caller.user.id;
    let (artifact_id, version_id) = (artifact.id, version.id);
    // Opening a version is a view (counted once per 30 minutes), recorded in the same write.
    let view = View {
        artifact_id,
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
            if let Seen::Yes = seen {
                reads::mark_seen(conn, user_id, artifact_id, None, now)?;
            }
            Ok(expires_at)
        })
        .await?;
    Ok(Grant {
        path: format!("/v/{}/", grant.expose()),
        expires_at,
    })
}
