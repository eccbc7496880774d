//! An artifact's share link, managed by its owner: `GET/POST/PATCH/DELETE
//! /api/v1/artifacts/{shareToken}/sharelink`. The link opens the latest version to anyone holding
//! its address (`/share/{linkToken}`, see `web::share`), with the comments shown (`readComments`)
//! and open to signed-in people (`writeComments`) if the owner says so. A reviewer gets 403, anyone
//! else who cannot see the artifact 404, as everywhere.

use serde::{Deserialize, Serialize};
use warp::reply::Response;

use super::artifacts::owned;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::{parse_json, Request, JSON_LIMIT};
use crate::link_key::LinkKey;
use crate::state::AppState;
use crate::store::artifacts::Artifact;
use crate::store::audit::{self, AuditEvent};
use crate::store::share_links::{self, Capabilities, NewLink, ShareLink};
use crate::store::{StoreError, Touches};

/// The link as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    /// The address to share; null when this server cannot derive it any more (its link key was
    /// replaced): `POST` then gives the link a new address.
    pub share_url: Option<String>,
    pub enabled: bool,
    pub capabilities: CapabilitiesView,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesView {
    pub read_comments: bool,
    pub write_comments: bool,
}

/// `capabilities` in a POST (on top of none) or a PATCH (on top of the link's): only what is named
/// changes.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CapabilitiesChange {
    read_comments: Option<bool>,
    write_comments: Option<bool>,
}

impl CapabilitiesChange {
    /// `current` with what this change names. Taking comments implies showing them, as the README
    /// says: writeComments alone turns readComments on too, and readComments false while the link
    /// takes comments (asked for now, or kept) is refused rather than stored and not honoured.
    fn applied_to(&self, current: Capabilities) -> Result<Capabilities, ApiError> {
        let write_comments = self.write_comments.unwrap_or(current.write_comments);
        if write_comments && self.read_comments == Some(false) {
            return Err(ApiError::invalid(
                "capabilities",
                "invalid_capabilities",
                "readComments cannot be false while the link takes comments (writeComments is true): \
                 taking comments implies showing them; to hide the comments, set writeComments to false too",
            ));
        }
        Ok(Capabilities::new(
            self.read_comments.unwrap_or(current.read_comments),
            write_comments,
        ))
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateLink {
    #[serde(default)]
    capabilities: Option<CapabilitiesChange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateLink {
    enabled: Option<bool>,
    capabilities: Option<CapabilitiesChange>,
}

/// The public address of a link token.
pub fn share_url(state: &AppState, token: &str) -> String {
    format!("{}/share/{token}", state.site.base_url)
}

impl LinkView {
    pub fn new(state: &AppState, link: &ShareLink) -> LinkView {
        let key: &LinkKey = &state.link_key;
        let share_url = (link.key_id == key.id())
            .then(|| share_url(state, key.token(&link.token_seed).expose()));
        LinkView {
            share_url,
            enabled: link.enabled,
            capabilities: CapabilitiesView {
                read_comments: link.capabilities.read_comments,
                write_comments: link.capabilities.write_comments,
            },
            created_at: link.created_at,
            updated_at: link.updated_at,
        }
    }
}

/// The artifact, if the caller owns it (reviewer 403, anyone else 404).
async fn owner_and_artifact(
    state: &AppState,
    req: &Request,
) -> Result<(Caller, Artifact), ApiError> {
    let caller = auth::session_or_key(state, req).await?;
    let artifact = owned(state, &caller, req.param("shareToken")).await?;
    Ok((caller, artifact))
}

fn no_link() -> ApiError {
    ApiError::NotFound(
        "this artifact has no share link; POST to this address to make one".to_string(),
    )
}

pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let (_, artifact) = owner_and_artifact(&state, &req).await?;
    let id = artifact.id;
    let link = state
        .store
        .read(move |conn| share_links::of_artifact(conn, id))
        .await?
        .ok_or_else(no_link)?;
    Ok(reply::ok(&LinkView::new(&state, &link)))
}

/// Makes the link (201, enabled, view-only unless `capabilities` say more), or answers the one
/// there is (200). A link whose address this server can no longer derive gets a new one.
pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let (caller, artifact) = owner_and_artifact(&state, &req).await?;
    let bytes = req.body_bytes(JSON_LIMIT).await?;
    let body: CreateLink = if bytes.iter().all(u8::is_ascii_whitespace) {
        CreateLink::default()
    } else {
        parse_json(&bytes)?
    };
    let capabilities = body
        .capabilities
        .unwrap_or_default()
        .applied_to(Capabilities::default())?;
    let (seed, token) = state.link_key.issue()?;
    let hash = token.digest();
    let key_id = state.link_key.id();
    let ctx = caller.audit();
    let (artifact_id, user_id) = (artifact.id, caller.user.id);
    let (link, created) = state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            let new = NewLink {
                token_hash: &hash,
                token_seed: &seed,
                key_id: &key_id,
                capabilities,
            };
            match share_links::of_artifact(conn, artifact_id)? {
                Some(link) if link.key_id == key_id => Ok((link, false)),
                Some(link) => {
                    share_links::reissue(conn, link.id, &new, now)?;
                    let event = AuditEvent::ShareLinkReissued {
                        artifact_id,
                        link_id: link.id,
                    };
                    audit::record(conn, &ctx, &event, now)?;
                    let link =
                        share_links::of_artifact(conn, artifact_id)?.ok_or(StoreError::NotFound)?;
                    Ok((link, false))
                }
                None => {
                    let link = share_links::insert(conn, artifact_id, &new, user_id, now)?;
                    let event = AuditEvent::ShareLinkCreated {
                        artifact_id,
                        link_id: link.id,
                        read_comments: capabilities.read_comments,
                        write_comments: capabilities.write_comments,
                    };
                    audit::record(conn, &ctx, &event, now)?;
                    Ok((link, true))
                }
            }
        })
        .await?;
    let view = LinkView::new(&state, &link);
    Ok(if created {
        reply::created(&view)
    } else {
        reply::ok(&view)
    })
}

/// Turns the link on or off and changes what it allows; only what the body names changes.
pub async fn update(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let (caller, artifact) = owner_and_artifact(&state, &req).await?;
    let body: UpdateLink = req.json().await?;
    if body.enabled.is_none() && body.capabilities.is_none() {
        return Err(ApiError::bad_request(
            "nothing_to_change",
            "give enabled (true or false) and/or capabilities ({\"readComments\": bool, \"writeComments\": bool})",
        ));
    }
    let change = body.capabilities.unwrap_or_default();
    let enabled = body.enabled;
    changed(&state, &caller, &artifact, move |link| {
        Ok((
            enabled.unwrap_or(link.enabled),
            change.applied_to(link.capabilities)?,
        ))
    })
    .await
}

/// Turns the link off: its address stops working at once; the link stays, to be turned on again.
pub async fn disable(state: AppState, req: Request) -> Result<Response, ApiError> {
    let (caller, artifact) = owner_and_artifact(&state, &req).await?;
    changed(&state, &caller, &artifact, |link| {
        Ok((false, link.capabilities))
    })
    .await
}

/// Applies `f` (the link → its new `enabled` and capabilities, or a refusal) in one write,
/// recording what changed; answers the link.
async fn changed(
    state: &AppState,
    caller: &Caller,
    artifact: &Artifact,
    f: impl Fn(&ShareLink) -> Result<(bool, Capabilities), ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let ctx = caller.audit();
    let artifact_id = artifact.id;
    let link = state
        .store
        .write_checked(Touches::ContentOnly, move |conn| -> Result<_, ApiError> {
            let Some(link) = share_links::of_artifact(conn, artifact_id)? else {
                return Ok(None);
            };
            let (enabled, capabilities) = f(&link)?;
            if (enabled, capabilities) == (link.enabled, link.capabilities) {
                return Ok(Some(link));
            }
            let now = now_ms();
            share_links::update(conn, link.id, enabled, capabilities, now)?;
            let event = if enabled || capabilities != link.capabilities {
                AuditEvent::ShareLinkUpdated {
                    artifact_id,
                    link_id: link.id,
                    enabled,
                    read_comments: capabilities.read_comments,
                    write_comments: capabilities.write_comments,
                }
            } else {
                AuditEvent::ShareLinkDisabled {
                    artifact_id,
                    link_id: link.id,
                }
            };
            audit::record(conn, &ctx, &event, now)?;
            Ok(share_links::of_artifact(conn, artifact_id)?)
        })
        .await?
        .ok_or_else(no_link)?;
    Ok(reply::ok(&LinkView::new(state, &link)))
}
