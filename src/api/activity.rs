//! `GET /api/v1/activity`: the caller's audit trail (or, for admins, everyone's), newest first,
//! optionally only what one key did.

use serde::{Deserialize, Serialize};
use warp::reply::Response;

use super::views::IdentityView;
use crate::auth;
use crate::http::error::ApiError;
use crate::http::ids::{self, wire, wire_opt};
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::audit::{self, Event, Whose};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ActivityQuery {
    key_id: Option<String>,
    /// `mine` (the default) or `team` (everyone's, for admins).
    scope: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventView {
    id: String,
    created_at: i64,
    action: String,
    actor: Option<IdentityView>,
    key: Option<EventKey>,
    session_id: Option<String>,
    ip: Option<String>,
    object: EventObject,
    detail: serde_json::Value,
    /// The artifact the event belongs to, if any, as it is now (so an activity trail names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact: Option<EventArtifact>,
}

#[derive(Serialize)]
struct EventArtifact {
    id: String,
    name: String,
    deleted: bool,
}

#[derive(Serialize)]
struct EventKey {
    id: String,
    name: Option<String>,
    prefix: Option<String>,
}

#[derive(Serialize)]
struct EventObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    /// What people call it now (an account, a key, an agent, a reviewer's address), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        let actor = match (e.agent_id, e.user_id) {
            (Some(agent_id), _) => Some(IdentityView::agent(
                agent_id,
                e.agent_name.as_deref().unwrap_or_default(),
                None,
            )),
            (None, Some(user_id)) => Some(IdentityView {
                kind: "user",
                id: wire(user_id),
                name: e.user_name.clone().unwrap_or_default(),
                role: None,
            }),
            (None, None) => None,
        };
        EventView {
            id: wire(e.id),
            created_at: e.created_at,
            action: e.action,
            actor,
            key: e.key_id.map(|id| EventKey {
                id: wire(id),
                name: e.key_name,
                prefix: e.key_prefix,
            }),
            session_id: wire_opt(e.session_id),
            ip: e.ip,
            object: EventObject {
                kind: e.object_type,
                id: e.object_id,
                name: e.object_name,
            },
            detail: e
                .detail
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(serde_json::Value::Null),
            artifact: e.artifact.map(|(id, name, deleted)| EventArtifact {
                id: wire(id),
                name,
                deleted,
            }),
        }
    }
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, "read the activity trail").await?;
    let query: ActivityQuery = req.query()?;
    let key_id = match query.key_id.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(ids::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "keyId",
                "invalid_query",
                format!("keyId must be a key id; got {raw:?}"),
            )
        })?),
    };
    let limit = parse_limit(query.limit.as_deref())?;
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(ids::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "cursor",
                "invalid_cursor",
                "cursor must be the nextCursor of a previous page",
            )
        })?),
    };
    let whose = match query.scope.as_deref() {
        None | Some("") | Some("mine") => Whose::User(caller.user.id),
        Some("team") if caller.user.is_admin() => Whose::Everyone,
        Some("team") => {
            return Err(ApiError::forbidden(
                "admin_required",
                "only admins see the whole team's activity (scope=team); yours is scope=mine",
            ))
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("scope must be mine or team; got {other:?}"),
            ))
        }
    };
    let events = state
        .store
        .read(move |conn| audit::list(conn, whose, key_id, before, limit + 1))
        .await?;
    let more = events.len() as i64 > limit;
    let events: Vec<EventView> = events
        .into_iter()
        .take(limit as usize)
        .map(EventView::from)
        .collect();
    let next_cursor = if more {
        events.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(reply::ok(
        &serde_json::json!({ "events": events, "nextCursor": next_cursor }),
    ))
}

/// A page size from the query: 1..=200, default 50.
pub fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    "invalid_query",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}; got {raw:?}"),
                )
            }),
    }
}
