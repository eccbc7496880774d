//! `GET /api/v1/me`: who the caller is. Any valid key can read itself here.

use serde::Serialize;
use warp::reply::Response;

use crate::auth::{self, Caller, Via};
use crate::http::error::ApiError;
use crate::http::ids::WireId;
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;

/// Who the caller is: the identity they act as, the user behind it, and the key used, if any.
/// Borrowed from the caller (every `GET /api/v1/me` builds one), so nothing is copied to answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeView<'a> {
    identity: MeIdentity<'a>,
    user: MeUser<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<MeKey<'a>>,
    authenticated_by: &'static str,
}

/// The identity as `IdentityView` shows it elsewhere (same fields), borrowed.
#[derive(Serialize)]
struct MeIdentity<'a> {
    kind: &'static str,
    id: WireId,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeUser<'a> {
    id: WireId,
    name: &'a str,
    email: &'a str,
    role: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeKey<'a> {
    id: WireId,
    name: &'a str,
    prefix: &'a str,
    scopes: Scopes<'a>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

/// A key's stored scopes (space-separated) as a JSON array of names.
struct Scopes<'a>(&'a str);

impl Serialize for Scopes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.split_whitespace())
    }
}

pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    Ok(reply::ok(&view(&caller)))
}

/// The caller as `GET /api/v1/me` (and the MCP tool `whoami`) show it.
pub fn view(caller: &Caller) -> MeView<'_> {
    let identity = match &caller.agent {
        Some(agent) => MeIdentity {
            kind: "agent",
            id: WireId(agent.id),
            name: &agent.name,
            role: agent.role.as_deref(),
        },
        None => MeIdentity {
            kind: "user",
            id: WireId(caller.user.id),
            name: &caller.user.name,
            role: None,
        },
    };
    let (key, authenticated_by) = match &caller.via {
        Via::Key(k) => (
            Some(MeKey {
                id: WireId(k.id),
                name: &k.name,
                prefix: &k.prefix,
                scopes: Scopes(&k.scopes),
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
            id: WireId(caller.user.id),
            name: &caller.user.name,
            email: &caller.user.email,
            role: &caller.user.role,
        },
        key,
        authenticated_by,
    }
}
