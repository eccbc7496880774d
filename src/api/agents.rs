//! Agents: `GET/POST /api/v1/agents`, `PATCH/DELETE /api/v1/agents/{id}`. Allowed with a session or
//! a key that acts as the user; a key acting as an agent cannot manage agents.

use serde::Deserialize;
use serde_json::json;
use warp::reply::Response;

use super::views::AgentView;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids;
use crate::http::reply;
use crate::http::request::{self, Request};
use crate::state::AppState;
use crate::store::agents;
use crate::store::audit::{self, AuditEvent};
use crate::store::StoreError;
use crate::text;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAgent {
    name: String,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateAgent {
    #[serde(default)]
    name: Option<String>,
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "request::present")]
    role: Option<Option<String>>,
}

async fn caller(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let caller = auth::session_or_key(state, req).await?;
    caller.require_user_identity()?;
    Ok(caller)
}

/// Store errors of agent writes: a taken name is a 409 naming the agent that has it
/// (`agentId`); a missing agent a 404.
fn agent_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate {
            code,
            message,
            existing_id,
        } => ApiError::Taken {
            code,
            message,
            id_field: "agentId",
            id: ids::wire(existing_id),
        },
        other => not_found_as("agent")(other),
    }
}

fn role(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) => Ok(Some(text::label("role", r, text::NAME_MAX)?)),
    }
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = caller(&state, &req).await?;
    let user_id = caller.user.id;
    let list = state
        .store
        .read(move |conn| agents::list(conn, user_id))
        .await?;
    let agents: Vec<AgentView> = list.iter().map(AgentView::from).collect();
    Ok(reply::ok(&json!({ "agents": agents })))
}

pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = caller(&state, &req).await?;
    let body: CreateAgent = req.json().await?;
    let name = text::label("name", &body.name, text::NAME_MAX)?;
    let role = role(body.role.as_deref())?;
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let agent = state
        .store
        .write(move |conn| {
            agents::create(conn, user_id, &name, role.as_deref(), &ctx, None, now_ms())
        })
        .await
        .map_err(agent_error)?;
    Ok(reply::created(&AgentView::from(&agent)))
}

pub async fn update(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = caller(&state, &req).await?;
    let id = ids::path_id(req.param("id"), "agent")?;
    let body: UpdateAgent = req.json().await?;
    if body.name.is_none() && body.role.is_none() {
        return Err(ApiError::bad_request(
            "nothing_to_change",
            "give name, role (null clears it), or both",
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(|n| text::label("name", n, text::NAME_MAX))
        .transpose()?;
    let new_role = match &body.role {
        None => None,
        Some(r) => Some(role(r.as_deref())?),
    };
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let agent = state
        .store
        .write(move |conn| {
            let now = now_ms();
            let before = agents::get(conn, user_id, id)?;
            let agent = agents::update(
                conn,
                user_id,
                id,
                name.as_deref(),
                new_role.as_ref().map(|r| r.as_deref()),
                now,
            )?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::AgentUpdated {
                    agent_id: id,
                    before: (&before.name, before.role.as_deref()),
                    after: (&agent.name, agent.role.as_deref()),
                },
                now,
            )?;
            Ok(agent)
        })
        .await
        .map_err(agent_error)?;
    Ok(reply::ok(&AgentView::from(&agent)))
}

pub async fn delete(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = caller(&state, &req).await?;
    let id = ids::path_id(req.param("id"), "agent")?;
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let (agent, revoked, deleted_at) = state
        .store
        .write(move |conn| {
            let now = now_ms();
            let (agent, revoked) = agents::delete(conn, user_id, id, now)?;
            for key_id in &revoked {
                audit::record(
                    conn,
                    &ctx,
                    &AuditEvent::AgentKeyRevoked {
                        key_id: *key_id,
                        agent_id: id,
                    },
                    now,
                )?;
            }
            audit::record(
                conn,
                &ctx,
                &AuditEvent::AgentDeleted {
                    agent_id: id,
                    name: &agent.name,
                    revoked_keys: &revoked,
                },
                now,
            )?;
            Ok((agent, revoked, now))
        })
        .await
        .map_err(not_found_as("agent"))?;
    Ok(reply::ok(&json!({
        "id": ids::wire(agent.id),
        "name": agent.name,
        "deletedAt": deleted_at,
        "revokedKeys": revoked.iter().map(|k| ids::wire(*k)).collect::<Vec<_>>(),
    })))
}
