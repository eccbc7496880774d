//! Artifacts: `GET/POST /api/v1/artifacts`, `GET/PATCH/DELETE /api/v1/artifacts/{shareToken}`.
//! Uploads are attributed to the caller's identity (the user, or the agent a key acts as). An
//! artifact the caller may not see is a 404, so share tokens cannot be probed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::reply::Response;

use super::idempotency::Idempotency;
use super::publish;
use super::upload;
use super::views::IdentityView;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::ids::wire;
use crate::http::reply;
use crate::http::request::{self, Request};
use crate::leaks::{self, Scanned};
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::artifacts::{self, Artifact, NewArtifact, Order, Role};
use crate::store::audit::{self, AuditEvent};
use crate::store::keys as key_store;
use crate::store::versions::{self, Version};
use crate::text;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub share_token: String,
    pub share_url: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub latest_version: Option<i64>,
    /// The latest version, with who published it.
    pub latest: Option<LatestView>,
    /// Its newest activity (upload, version, comment, reply, resolution, rename...).
    pub activity_at: i64,
    pub stats: Stats,
    pub owner: Owner,
    pub role: &'static str,
    /// In listings: what the caller has seen of it.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub seen: Option<SeenView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestView {
    pub number: i64,
    pub name: Option<String>,
    pub file_type: String,
    pub created_at: i64,
    pub created_by: IdentityView,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenView {
    /// Someone else (another person, or any agent) did something since the caller last opened
    /// its review page (or the caller never opened it).
    pub unseen: bool,
    pub last_seen_at: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub comment_count: i64,
    pub unresolved_comment_count: i64,
    /// Counted views of its versions (see `GET …/stats`).
    pub total_views: i64,
}

#[derive(Serialize)]
pub struct Owner {
    pub id: String,
    pub name: String,
}

impl ArtifactView {
    pub fn new(state: &AppState, a: &Artifact, role: Role) -> ArtifactView {
        ArtifactView {
            id: wire(a.id),
            name: a.name.clone(),
            description: a.description.clone(),
            share_token: a.share_token.clone(),
            share_url: share_url(state, &a.share_token),
            created_at: a.created_at,
            updated_at: a.updated_at,
            latest_version: a.latest_version,
            latest: a.latest.as_ref().map(|l| LatestView {
                number: l.number,
                name: l.name.clone(),
                file_type: l.file_type.clone(),
                created_at: l.created_at,
                created_by: IdentityView::from(&l.author),
            }),
            activity_at: a.activity_at,
            stats: Stats {
                comment_count: a.comment_count,
                unresolved_comment_count: a.unresolved_count,
                total_views: a.view_count,
            },
            owner: Owner {
                id: wire(a.owner_id),
                name: a.owner_name.clone(),
            },
            role: role.as_str(),
            seen: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    pub id: String,
    pub number: i64,
    pub name: Option<String>,
    pub file_type: String,
    pub size: i64,
    pub entry_point: String,
    pub created_at: i64,
    pub created_by: IdentityView,
    pub is_latest: bool,
    /// Where a signed-in reader opens this version in the browser.
    pub view_url: String,
}

impl VersionView {
    pub fn new(
        state: &AppState,
        share_token: &str,
        v: &Version,
        latest: Option<i64>,
    ) -> VersionView {
        VersionView {
            id: wire(v.id),
            number: v.number,
            name: v.name.clone(),
            file_type: v.file_type.clone(),
            size: v.size,
            entry_point: v.entry_point.clone(),
            created_at: v.created_at,
            created_by: version_author(v),
            is_latest: latest == Some(v.number),
            view_url: format!("{}/a/{share_token}/v/{}/", state.site.base_url, v.number),
        }
    }
}

fn version_author(v: &Version) -> IdentityView {
    match v.created_agent {
        Some(agent_id) => IdentityView::agent(
            agent_id,
            v.created_agent_name.as_deref().unwrap_or_default(),
            v.created_agent_role.as_deref(),
        ),
        None => IdentityView {
            kind: "user",
            id: wire(v.created_user),
            name: v.created_user_name.clone(),
            role: None,
        },
    }
}

/// The public link of an artifact.
pub fn share_url(state: &AppState, share_token: &str) -> String {
    format!("{}/a/{share_token}", state.site.base_url)
}

/// The artifact if the caller may see it; 404 otherwise. A reviewer's first look marks their
/// grant as viewed.
pub async fn visible(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
) -> Result<(Artifact, Role), ApiError> {
    let found = look_up(state, caller, share_token).await?;
    seen(state, caller.user.id, found).await
}

/// The artifact if the caller may see it, with whether this is their first look; 404 otherwise.
async fn look_up(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
) -> Result<artifacts::Visible, ApiError> {
    let token = share_token.to_string();
    let user_id = caller.user.id;
    state
        .store
        .read(move |conn| artifacts::visible(conn, &token, user_id))
        .await?
        .ok_or_else(|| ApiError::not_found("artifact"))
}

/// Like `visible`, by artifact id (for comments and replies addressed by their own id).
pub async fn visible_by_id(
    state: &AppState,
    caller: &Caller,
    artifact_id: i64,
    what: &str,
) -> Result<(Artifact, Role), ApiError> {
    let user_id = caller.user.id;
    let found = state
        .store
        .read(move |conn| artifacts::visible_by_id(conn, artifact_id, user_id))
        .await?
        .ok_or_else(|| ApiError::not_found(what))?;
    seen(state, user_id, found).await
}

/// An artifact the caller owns, for what only its owner may do: a reviewer is refused
/// (`owner_only`) without this counting as their first look at it.
pub async fn owned(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
) -> Result<Artifact, ApiError> {
    let found = look_up(state, caller, share_token).await?;
    require_owner(found.role)?;
    Ok(found.artifact)
}

/// Records a reviewer's first look (their access moves from "added" to "viewed").
async fn seen(
    state: &AppState,
    user_id: i64,
    found: artifacts::Visible,
) -> Result<(Artifact, Role), ApiError> {
    if found.first_view {
        let artifact_id = found.artifact.id;
        state
            .store
            .write_content(move |conn| artifacts::mark_viewed(conn, artifact_id, user_id, now_ms()))
            .await?;
    }
    Ok((found.artifact, found.role))
}

/// Refuses reviewers: only the owner manages versions, access and deletion.
fn require_owner(role: Role) -> Result<(), ApiError> {
    match role {
        Role::Owner => Ok(()),
        Role::Reviewer => Err(ApiError::forbidden(
            "owner_only",
            "only the artifact's owner can do this; reviewers can read, comment and reply",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    /// `created` (default: newest first) or `activity` (newest activity first).
    sort: Option<String>,
    /// Only names containing this text (ASCII letters in any case).
    q: Option<String>,
}

fn bad_cursor() -> ApiError {
    ApiError::invalid(
        "cursor",
        "invalid_cursor",
        "cursor must be the nextCursor of a previous page of the same sort",
    )
}

/// Where a page starts: the cursor of the previous page, which says what its last item was.
fn parse_order(sort: Option<&str>, cursor: Option<&str>) -> Result<Order, ApiError> {
    let cursor = cursor.filter(|c| !c.is_empty());
    match sort {
        None | Some("") | Some("created") => Ok(Order::Created {
            before: cursor
                .map(|c| crate::http::ids::parse(c).ok_or_else(bad_cursor))
                .transpose()?,
        }),
        Some("activity") => Ok(Order::Activity {
            before: cursor
                .map(|c| {
                    let (at, id) = c.split_once('.').ok_or_else(bad_cursor)?;
                    let at = at.parse::<i64>().map_err(|_| bad_cursor())?;
                    let id = crate::http::ids::parse(id).ok_or_else(bad_cursor)?;
                    Ok::<_, ApiError>((at, id))
                })
                .transpose()?,
        }),
        Some(other) => Err(ApiError::invalid(
            "sort",
            "invalid_sort",
            format!("sort must be created or activity; got {other:?}"),
        )),
    }
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let query: ListQuery = req.query()?;
    let page = list_page(
        &state,
        &caller,
        query.sort.as_deref(),
        query.cursor.as_deref(),
        query.q.as_deref(),
        query.limit.as_deref(),
    )
    .await?;
    Ok(reply::ok(&page))
}

/// One page of the artifacts a caller can see.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactPage {
    pub artifacts: Vec<ArtifactView>,
    pub next_cursor: Option<String>,
}

/// The artifacts the caller owns or reviews: `sort` created (default) or activity, from the
/// `cursor` of a previous page, names containing `q`, at most `limit` (default 50).
pub async fn list_page(
    state: &AppState,
    caller: &Caller,
    sort: Option<&str>,
    cursor: Option<&str>,
    q: Option<&str>,
    limit: Option<&str>,
) -> Result<ArtifactPage, ApiError> {
    let limit = super::activity::parse_limit(limit)?;
    let order = parse_order(sort, cursor)?;
    let filter = match q.map(str::trim) {
        None | Some("") => None,
        Some(q) => Some(text::label("q", q, text::ARTIFACT_NAME_MAX)?),
    };
    let user_id = caller.user.id;
    let rows = state
        .store
        .read(move |conn| {
            artifacts::list_visible(conn, user_id, order, filter.as_deref(), limit + 1)
        })
        .await?;
    let more = rows.len() as i64 > limit;
    let page = &rows[..rows.len().min(limit as usize)];
    let next_cursor = match (more, page.last()) {
        (true, Some((last, _, _))) => Some(match order {
            Order::Created { .. } => wire(last.id),
            Order::Activity { .. } => format!("{}.{}", last.activity_event, wire(last.id)),
        }),
        _ => None,
    };
    let artifacts = page
        .iter()
        .map(|(a, role, seen)| ArtifactView {
            seen: Some(SeenView {
                unseen: seen.unseen,
                last_seen_at: seen.last_seen_at,
            }),
            ..ArtifactView::new(state, a, *role)
        })
        .collect();
    Ok(ArtifactPage {
        artifacts,
        next_cursor,
    })
}

pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let once = Idempotency::of(&req)?;
    let (form, once) = upload::read_once(&state, &mut req, once).await?;
    let (work_state, work_caller) = (state.clone(), caller.clone());
    once.run(&state, &caller, async move {
        Ok(reply::created(
            &create_from(&work_state, &work_caller, form).await?,
        ))
    })
    .await
}

/// What creating an artifact answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedArtifact {
    pub id: String,
    pub share_token: String,
    pub share_url: String,
    pub latest_version_id: String,
    pub version: i64,
    pub file_type: &'static str,
    pub entry_point: String,
    /// The newest event before the publication: `?after=` it on the artifact's event stream
    /// hears everything from the publication on (comments made right after it included).
    pub last_event_id: String,
}

/// Creates an artifact (and its first version) from an upload, as the caller's identity.
pub async fn create_from(
    state: &AppState,
    caller: &Caller,
    form: upload::UploadForm,
) -> Result<CreatedArtifact, ApiError> {
    let name = text::label(
        "name",
        form.name.as_deref().ok_or_else(|| {
            ApiError::invalid(
                "name",
                "required",
                "name is required: the artifact's name, 1 to 200 characters",
            )
        })?,
        text::ARTIFACT_NAME_MAX,
    )?;
    let description = text::optional_body(
        "description",
        form.description.as_deref().unwrap_or_default(),
        text::DESCRIPTION_MAX,
    )?;
    // A key of this server pasted into the name or description is masked and revoked.
    let (name, description) = (Scanned::of(&name), Scanned::of(&description));
    let told: Vec<[u8; 32]> = [&name.digests, &description.digests]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let (name, description) = (name.text, description.text);
    let version_name = version_name("versionName", form.version_name.as_deref())?;
    let prepared = Arc::new(upload::prepare(form.upload).await?);
    let user_id = caller.user.id;
    let ready = publish::ready(state, user_id, prepared.clone())
        .await?
        .also_revoke(&told, "the name or description");
    let shown_name = name.clone();
    let share_token = random_token(16)?.expose().to_string();
    let agent_id = caller.agent.as_ref().map(|a| a.id);
    let ctx = caller.audit();
    let token = share_token.clone();
    let (artifact_id, version_id, entry_point, file_type, last_event_id) = ready
        .publish(state, &shown_name, move |conn| {
            let now = now_ms();
            let last_event_id = audit::newest(conn)?;
            let artifact_id = artifacts::insert(
                conn,
                &NewArtifact {
                    share_token: &token,
                    owner_id: user_id,
                    agent_id,
                    name: &name,
                    description: &description,
                },
                now,
            )?;
            let (version_id, _) = publish::version(
                conn,
                artifact_id,
                version_name.as_deref(),
                &prepared,
                &ctx,
                now,
            )?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::ArtifactCreated {
                    artifact_id,
                    name: &name,
                    share_token: &token,
                },
                now,
            )?;
            Ok((
                artifact_id,
                version_id,
                prepared.entry_point.clone(),
                prepared.file_type.as_str(),
                last_event_id,
            ))
        })
        .await?;
    drop(form.reservation);
    Ok(CreatedArtifact {
        id: wire(artifact_id),
        share_url: share_url(state, &share_token),
        share_token,
        latest_version_id: wire(version_id),
        version: 1,
        file_type,
        entry_point,
        last_event_id: last_event_id.to_string(),
    })
}

/// A version name, sent as `field`: absent or blank means none; otherwise at most 100 characters.
pub fn version_name(field: &'static str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => Ok(Some(text::label(field, n, text::VERSION_NAME_MAX)?)),
    }
}

pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    Ok(reply::ok(
        &detail(&state, &caller, req.param("shareToken")).await?,
    ))
}

/// An artifact with its active versions, ascending.
#[derive(Serialize)]
pub struct ArtifactDetail {
    #[serde(flatten)]
    pub artifact: ArtifactView,
    pub versions: Vec<VersionView>,
}

/// The artifact with this share token and its versions, if the caller may see it; 404 otherwise.
pub async fn detail(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
) -> Result<ArtifactDetail, ApiError> {
    let (artifact, role) = visible(state, caller, share_token).await?;
    let id = artifact.id;
    let list = state
        .store
        .read(move |conn| versions::list_active(conn, id))
        .await?;
    let versions = list
        .iter()
        .map(|v| VersionView::new(state, &artifact.share_token, v, artifact.latest_version))
        .collect();
    Ok(ArtifactDetail {
        artifact: ArtifactView::new(state, &artifact, role),
        versions,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateArtifact {
    /// Absent: unchanged; null: refused (an artifact always has a name).
    #[serde(default, deserialize_with = "request::present")]
    name: Option<Option<String>>,
    /// Absent: unchanged; null or "": cleared.
    #[serde(default, deserialize_with = "request::present")]
    description: Option<Option<String>>,
}

pub async fn update(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let body: UpdateArtifact = req.json().await?;
    if body.name.is_none() && body.description.is_none() {
        return Err(ApiError::bad_request(
            "nothing_to_change",
            "give name, description (\"\" or null clears it), or both",
        ));
    }
    if body.name == Some(None) {
        return Err(ApiError::invalid(
            "name",
            "required",
            format!(
                "name cannot be cleared: an artifact always has a name (1 to {} characters); leave name out to keep it",
                text::ARTIFACT_NAME_MAX
            ),
        ));
    }
    // A key of this server pasted into the name or description is masked and revoked.
    let name = body
        .name
        .flatten()
        .as_deref()
        .map(|n| text::label("name", n, text::ARTIFACT_NAME_MAX))
        .transpose()?
        .map(|n| Scanned::of(&n));
    let description = body
        .description
        .map(|d| d.unwrap_or_default())
        .as_deref()
        .map(|d| text::optional_body("description", d, text::DESCRIPTION_MAX))
        .transpose()?
        .map(|d| Scanned::of(&d));
    let digests: Vec<[u8; 32]> = name
        .iter()
        .chain(description.iter())
        .flat_map(|s| s.digests.iter().copied())
        .collect();
    let name = name.map(|s| s.text);
    let description = description.map(|s| s.text);
    let ctx = caller.audit();
    let id = artifact.id;
    let updated = state
        .store
        .write_touching(leaks::touches(&digests), move |conn| {
            let now = now_ms();
            let updated =
                artifacts::update(conn, id, name.as_deref(), description.as_deref(), now)?;
            if !digests.is_empty() {
                let place = format!(
                    "the name or description of the artifact \u{201c}{}\u{201d}",
                    updated.name
                );
                key_store::revoke_leaked(conn, &digests, &place, now)?;
            }
            audit::record(
                conn,
                &ctx,
                &AuditEvent::ArtifactUpdated {
                    artifact_id: id,
                    name: name.as_deref(),
                    description: description.as_deref(),
                },
                now,
            )?;
            Ok(updated)
        })
        .await?;
    Ok(reply::ok(&ArtifactView::new(&state, &updated, Role::Owner)))
}

pub async fn delete(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let ctx = caller.audit();
    let id = artifact.id;
    // The deletion and the removal of its bytes run as a task of their own, so that a client
    // hanging up after the write cannot leave the bytes on disk until the next start.
    let store = state.store.clone();
    let deletion = tokio::spawn(async move {
        let (deleted_at, contents) = store
            .write_content(move |conn| {
                let now = now_ms();
                artifacts::delete(conn, id, now)?;
                // It cannot be restored: its files stop counting in the owner's storage at once.
                let contents = artifacts::drop_files(conn, id)?;
                audit::record(
                    conn,
                    &ctx,
                    &AuditEvent::ArtifactDeleted { artifact_id: id },
                    now,
                )?;
                Ok((now, contents))
            })
            .await?;
        // Their bytes leave the disk afterwards, one content per write (what a crash leaves
        // behind, the next start removes); the answer does not wait for them.
        tokio::spawn(async move {
            match store.remove_if_unused(contents).await {
                Ok(0) => {}
                Ok(n) => log::debug!("removed {n} stored contents of a deleted artifact"),
                Err(e) => log::warn!("could not remove a deleted artifact's stored contents: {e}"),
            }
        });
        Ok::<_, ApiError>(deleted_at)
    });
    let deleted_at = deletion
        .await
        .map_err(|e| ApiError::Internal(format!("deleting an artifact failed: {e}")))??;
    Ok(reply::ok(
        &json!({ "id": wire(id), "deletedAt": deleted_at }),
    ))
}
