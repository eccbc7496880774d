//! `GET /api/v1/me`: who the caller is. Any valid key can read itself here.

use serde::Serialize;
use warp::reply::Response;

use super::ids::wire;
use super::reply;
use super::request::Request;
use super::views::IdentityView;
use crate::auth::{self, Caller, Via};
use crate::error::ApiError;
use crate::state::AppState;

/// Who the caller is: the identity they act as, the user behind it, and the key used, if any.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    identity: IdentityView,
    user: MeUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<MeKey>,
    authenticated_by: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeUser {
    id: String,
    name: String,
    email: String,
    role: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeKey {
    id: String,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    Ok(reply::ok(&view(&caller)))
}

/// The caller as `GET /api/v1/me` (and the MCP tool `whoami`) show it.
pub fn view(caller: &Caller) -> MeView {
    let identity = match &caller.agent {
        Some(agent) => IdentityView::agent(agent.id, &agent.name, agent.role.as_deref()),
        None => IdentityView::user(&caller.user),
    };
    let (key, authenticated_by) = match &caller.via {
        Via::Key(k) => (
            Some(MeKey {
                id: wire(k.id),
                name: k.name.clone(),
                prefix: k.prefix.clone(),
                scopes: k.scope_list(),
                expires_at: k.expires_at,
                last_used_at: k.last_used_at,
            }),
            "key",
        ),
        Via::Session { .. } => (None, "session"),
    };
    MeView {
        identity,
        user: MeUser {
            id: wire(caller.user.id),
            name: caller.user.name.clone(),
            email: caller.user.email.clone(),
            role: caller.user.role.clone(),
        },
        key,
        authenticated_by,
    }
}
