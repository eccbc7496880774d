//! Reviewers of an artifact, managed by its owner: `GET/POST /api/v1/artifacts/{shareToken}/access`,
//! `DELETE /api/v1/artifacts/{shareToken}/access/{id}`. A grant for an email without an account is
//! pending and applies when that person signs up.

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::reply::Response;

use super::artifacts::owned;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::{self, wire};
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::access::{self, Grant};
use crate::store::audit::{self, AuditEvent};
use crate::store::StoreError;
use crate::text;

/// The one reviewer role.
pub const CAN_COMMENT: &str = "can-comment";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    id: String,
    email: String,
    name: Option<String>,
    role: String,
    status: &'static str,
    created_at: i64,
    /// When they first opened it (kept as `viewedAt` too, its earlier name here).
    viewed_at: Option<i64>,
    first_viewed_at: Option<i64>,
    last_viewed_at: Option<i64>,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        GrantView {
            id: wire(g.id),
            email: g.email.clone(),
            name: g.user_name.clone(),
            role: g.role.clone(),
            status: g.status(),
            created_at: g.created_at,
            viewed_at: g.viewed_at,
            first_viewed_at: g.viewed_at,
            last_viewed_at: g.last_viewed_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantAccess {
    email: String,
    #[serde(default)]
    role: Option<String>,
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let id = artifact.id;
    let grants = state.store.read(move |conn| access::list(conn, id)).await?;
    let views: Vec<GrantView> = grants.iter().map(GrantView::from).collect();
    Ok(reply::ok(&json!({ "access": views })))
}

pub async fn grant(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let body: GrantAccess = req.json().await?;
    let grant = add_reviewer(
        &state,
        &caller,
        req.param("shareToken"),
        &body.email,
        body.role.as_deref(),
    )
    .await?;
    Ok(reply::created(&grant))
}

/// Makes the person with `email` a reviewer (`role`, default can-comment) of the artifact the
/// caller owns: at once for an account with that address, pending until one signs up otherwise.
pub async fn add_reviewer(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
    email: &str,
    role: Option<&str>,
) -> Result<GrantView, ApiError> {
    let artifact = owned(state, caller, share_token).await?;
    let email = text::email("email", email)?;
    let role = role.unwrap_or(CAN_COMMENT);
    if role != CAN_COMMENT {
        return Err(ApiError::invalid(
            "role",
            "invalid_role",
            format!("role must be \"{CAN_COMMENT}\"; got {role:?}"),
        ));
    }
    if email == caller.user.email {
        return Err(ApiError::bad_request(
            "owner_already_has_access",
            "you own this artifact; grant access to someone else",
        ));
    }
    let ctx = caller.audit();
    let artifact_id = artifact.id;
    let granted_by = caller.user.id;
    let grant = state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            crate::store::artifacts::still_owned(conn, artifact_id, granted_by)?;
            let grant = access::insert(conn, artifact_id, &email, CAN_COMMENT, granted_by, now)?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::AccessGranted {
                    artifact_id,
                    grant_id: grant.id,
                    email: &email,
                    role: CAN_COMMENT,
                    status: grant.status(),
                },
                now,
            )?;
            Ok(grant)
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::conflict("already_granted", m),
            other => other.into(),
        })?;
    Ok(GrantView::from(&grant))
}

pub async fn revoke(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let id = ids::path_id(req.param("id"), "access grant")?;
    let ctx = caller.audit();
    let artifact_id = artifact.id;
    let owner = caller.user.id;
    let revoked_at = state
        .store
        .write_content(move |conn| {
            crate::store::artifacts::still_owned(conn, artifact_id, owner)?;
            let grant = access::get(conn, artifact_id, id)?;
            let now = now_ms();
            // Revoking a revoked grant is a 404, as in the hosted API: there is no access to remove.
            if !access::revoke(conn, id, now)? {
                return Err(StoreError::NotFound);
            }
            audit::record(
                conn,
                &ctx,
                &AuditEvent::AccessRevoked {
                    artifact_id,
                    grant_id: id,
                    email: &grant.email,
                },
                now,
            )?;
            Ok(now)
        })
        .await
        .map_err(not_found_as("access grant"))?;
    Ok(reply::ok(
        &json!({ "id": wire(id), "revokedAt": revoked_at }),
    ))
}
