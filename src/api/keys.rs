//! API key management, a signed-in person's act: `GET/POST /api/v1/keys`,
//! `DELETE /api/v1/keys/{id}`. A request made with a key gets 403 here.

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::reply::Response;

use super::views::KeyView;
use crate::auth;
use crate::clock::now_ms;
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::{self, IdValue};
use crate::http::reply;
use crate::http::request::{parse_json, Request, JSON_LIMIT};
use crate::keys::{self, Overlap};
use crate::scopes;
use crate::state::AppState;
use crate::store::keys::{self as key_store, NewKeyRow, NotRotatable};
use crate::store::{agents, StoreError};
use crate::text;

/// What the key routes are for, in their refusals (`auth::session_only`).
const MANAGE_KEYS: &str =
    "manage API keys (a person does that on the settings page, /settings#keys, or with `artifact-review key` on the server)";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateKey {
    name: String,
    #[serde(default)]
    agent_id: Option<IdValue>,
    #[serde(default)]
    expires_in_days: Option<i64>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    view: KeyView,
    /// The full key: shown here once and never again.
    key: String,
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, MANAGE_KEYS).await?;
    let query: ListQuery = req.query()?;
    let include_revoked = match query.status.as_deref() {
        None | Some("active") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("status must be \"active\" (active and expired keys) or \"all\" (also revoked); got {other:?}"),
            ))
        }
    };
    let user_id = caller.user.id;
    let records = state
        .store
        .read(move |conn| key_store::list(conn, user_id, include_revoked))
        .await?;
    let now = now_ms();
    let keys: Vec<KeyView> = records
        .iter()
        .map(|k| KeyView::new(k, &caller.user, now))
        .collect();
    Ok(reply::ok(&json!({ "keys": keys })))
}

pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, MANAGE_KEYS).await?;
    let body: CreateKey = req.json().await?;
    let name = text::label("name", &body.name, text::NAME_MAX)?;
    let now = now_ms();
    let expires_at = match (body.expires_in_days, body.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "expiresAt",
                "invalid_expiration",
                "give expiresInDays or expiresAt, not both",
            ))
        }
        (Some(days), None) => Some(
            keys::expires_after_days(days, now)
                .map_err(|m| ApiError::invalid("expiresInDays", "invalid_expiration", m))?,
        ),
        (None, Some(at)) => Some(
            keys::check_expires_at(at, now)
                .map_err(|m| ApiError::invalid("expiresAt", "invalid_expiration", m))?,
        ),
        (None, None) => None,
    };
    let scope = scopes::requested(body.scopes.as_deref())
        .map_err(|m| ApiError::invalid("scopes", "invalid_scopes", m))?;
    let agent_id = match &body.agent_id {
        None => None,
        Some(raw) => Some(raw.parse().ok_or_else(|| unknown_agent(raw))?),
    };
    let new_key = keys::generate()?;
    let stored = new_key.stored.clone();
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let record = state
        .store
        .write(move |conn| {
            if let Some(agent_id) = agent_id {
                agents::get(conn, user_id, agent_id)?;
            }
            key_store::create(
                conn,
                &NewKeyRow {
                    user_id,
                    agent_id,
                    name: &name,
                    prefix: &stored.prefix,
                    hash: &stored.hash,
                    expires_at,
                    scope,
                },
                &ctx,
                None,
                now,
            )
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                unknown_agent(body.agent_id.as_ref().unwrap_or(&IdValue::Number(0)))
            }
            other => other.into(),
        })?;
    Ok(reply::created(&Created {
        view: KeyView::new(&record, &caller.user, now),
        key: new_key.secret.expose().to_string(),
    }))
}

pub async fn revoke(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, MANAGE_KEYS).await?;
    let id = ids::path_id(req.param("id"), "key")?;
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let record = state
        .store
        .write(move |conn| {
            key_store::get(conn, user_id, id)?;
            let (record, _) =
                key_store::revoke_recorded(conn, id, Some(user_id), &ctx, None, now_ms())?;
            Ok(record)
        })
        .await
        .map_err(not_found_as("key"))?;
    Ok(reply::ok(&json!({
        "id": ids::wire(record.id),
        "revokedAt": record.revoked_at,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateKey {
    /// How long the old key keeps working: none, 1h, 1d (default), 7d.
    #[serde(default)]
    overlap: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rotated {
    #[serde(flatten)]
    view: KeyView,
    /// The full new key: shown here once and never again.
    key: String,
    /// The key it replaces, now expiring at the end of the overlap.
    replaces: KeyView,
}

/// `POST /api/v1/keys/{id}/rotate`: a new key with the same name, identity and scope, shown once;
/// the old one keeps working for the chosen overlap and then expires.
pub async fn rotate(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_only(&state, &req, MANAGE_KEYS).await?;
    let id = ids::path_id(req.param("id"), "key")?;
    let bytes = req.body_bytes(JSON_LIMIT).await?;
    let body: RotateKey = if bytes.iter().all(u8::is_ascii_whitespace) {
        RotateKey::default()
    } else {
        parse_json(&bytes)?
    };
    let overlap = match body.overlap.as_deref() {
        None => Overlap::Day,
        Some(text) => Overlap::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "overlap",
                "invalid_overlap",
                format!("overlap must be {}; got {text:?}", Overlap::NAMES),
            )
        })?,
    };
    let new_key = keys::generate()?;
    let stored = new_key.stored.clone();
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let now = now_ms();
    let outcome = state
        .store
        .write(move |conn| {
            let old = key_store::get(conn, user_id, id)?;
            key_store::rotate(
                conn,
                user_id,
                id,
                &NewKeyRow::replacing(&old, &stored, now),
                now + overlap.ms(),
                &ctx,
                now,
            )
        })
        .await
        .map_err(not_found_as("key"))?;
    let (old, fresh) = outcome.map_err(|why| match why {
        NotRotatable::Revoked => ApiError::conflict(
            "key_revoked",
            "this key is revoked: a revoked key cannot be rotated; create a new key instead",
        ),
        NotRotatable::Expired => ApiError::conflict(
            "key_expired",
            "this key has expired: an expired key cannot be rotated; create a new key instead",
        ),
        NotRotatable::Replaced(by) => ApiError::conflict(
            "already_rotated",
            format!("this key was already rotated: key {by} replaced it; rotate that one instead"),
        ),
    })?;
    Ok(reply::created(&Rotated {
        view: KeyView::new(&fresh, &caller.user, now),
        key: new_key.secret.expose().to_string(),
        replaces: KeyView::new(&old, &caller.user, now),
    }))
}

fn unknown_agent(raw: &IdValue) -> ApiError {
    let shown = match raw {
        IdValue::Text(s) => format!("{s:?}"),
        IdValue::Number(n) => n.to_string(),
    };
    ApiError::invalid(
        "agentId",
        "unknown_agent",
        format!("agentId {shown} is not one of your agents; create the agent first, or leave agentId out to act as you"),
    )
}
