//! What a share link's page reads and does, for anyone holding the link (no key, no account):
//! `GET /api/v1/share/{linkToken}` (the artifact's latest version and its files, what the link
//! allows, who is signed in), `GET …/comments` (with `readComments`), and, for a signed-in person
//! when the link has `writeComments`, `POST …/comments` and `POST …/comments/{id}/replies`, and
//! changing or deleting what they wrote (`PATCH`/`DELETE …/comments/{id}` and `…/replies/{id}`).
//! A link that does not exist, is turned off, or whose artifact is gone is the same 404.

use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use warp::http::header;
use warp::reply::Response;

use super::comments::{self, parse_target, CommentView, Gate};
use super::share_links::CapabilitiesView;
use super::versions::{file_views, FileView};
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::ids::{self, wire};
use crate::http::reply;
use crate::http::request::Request;
use crate::secrets::sha256;
use crate::state::AppState;
use crate::store::comments::{self as stored_comments, Scope, Status};
use crate::store::replies;
use crate::store::share_links::{self, Opened};
use crate::store::{artifacts, blobs};
use crate::view_counter::Viewer;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SharedArtifact {
    artifact: ArtifactSummary,
    version: VersionSummary,
    files: Vec<FileView>,
    capabilities: CapabilitiesView,
    /// The signed-in person, if any (they can comment when the link allows it).
    viewer: Option<ViewerView>,
    /// Where the version's files are served (the frame's base address).
    files_path: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactSummary {
    name: String,
    description: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionSummary {
    number: i64,
    name: Option<String>,
    file_type: String,
    entry_point: String,
    created_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ViewerView {
    id: String,
    name: String,
    /// The artifact's review page, when the person may open it (its owner or a reviewer): there
    /// they comment and resolve as themselves, whatever the link allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    review_path: Option<String>,
}

#[derive(Serialize)]
struct SharedComments {
    comments: Vec<CommentView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    content: String,
    /// `{"source": path}` for a whole file, with a `selector` for a passage, as in the REST API.
    target: Box<RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextOnly {
    content: String,
}

/// The enabled link named by the path's token, with its artifact's latest version.
pub async fn opened(state: &AppState, link_token: &str) -> Result<Option<Opened>, ApiError> {
    let hash = sha256(link_token.as_bytes());
    Ok(state
        .store
        .read(move |conn| share_links::open(conn, &hash))
        .await?)
}

/// Where an opened link's files are served. Its token is URL-safe as issued (a link opens only
/// for the exact token it was made with), so it goes into the path as it is.
pub fn files_path(link_token: &str) -> String {
    format!("/share/{link_token}/")
}

fn unavailable() -> ApiError {
    ApiError::NotFound(
        "this share link does not exist or is no longer available (its owner may have turned it off)"
            .to_string(),
    )
}

async fn link(state: &AppState, req: &Request) -> Result<Opened, ApiError> {
    opened(state, req.param("linkToken"))
        .await?
        .ok_or_else(unavailable)
}

/// What the link's page shows. Reading it is opening the version: a view is counted (see
/// `view_counter`: once per viewer and 30 minutes, at most one write).
pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let version_id = link.version_id;
    let files = state
        .store
        .read(move |conn| blobs::list(conn, version_id))
        .await?;
    // The signed-in person on the link's page, if any: a broken or expired session is no one.
    let person = auth::signed_in(&state, &req).await;
    let viewer = match &person {
        Some(caller) => Viewer::Person(caller.user.id),
        None => Viewer::Visitor {
            link_id: link.link_id,
            address: req.client,
            user_agent: req.header(header::USER_AGENT).unwrap_or_default(),
        },
    };
    state
        .views
        .count_link_view(
            &state.store,
            link.artifact_id,
            version_id,
            &viewer,
            now_ms(),
        )
        .await?;
    let viewer = match person {
        Some(c) => {
            let (artifact_id, user_id) = (link.artifact_id, c.user.id);
            let review_path = state
                .store
                .read(
                    move |conn| match artifacts::access_by_id(conn, artifact_id, user_id)? {
                        Some(_) => Ok(Some(artifacts::get(conn, artifact_id)?.share_token)),
                        None => Ok(None),
                    },
                )
                .await?
                .map(|token| format!("/a/{token}"));
            Some(ViewerView {
                id: wire(c.user.id),
                name: c.user.name.clone(),
                review_path,
            })
        }
        None => None,
    };
    Ok(reply::ok(&SharedArtifact {
        artifact: ArtifactSummary {
            name: link.artifact_name,
            description: link.description,
        },
        version: VersionSummary {
            number: link.version_number,
            name: link.version_name,
            file_type: link.file_type,
            entry_point: link.entry_point,
            created_at: link.version_created_at,
        },
        files: file_views(files),
        capabilities: CapabilitiesView {
            read_comments: link.capabilities.read_comments,
            write_comments: link.capabilities.write_comments,
        },
        viewer,
        files_path: files_path(req.param("linkToken")),
    }))
}

/// Whether the link shows comments (commenting through it implies reading them).
fn shows_comments(link: &Opened) -> Result<(), ApiError> {
    if link.capabilities.read_comments || link.capabilities.write_comments {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "comments_not_shared",
            "this share link shows the artifact only, not its comments",
        ))
    }
}

/// A signed-in person, on a link that takes comments.
async fn commenter(state: &AppState, req: &Request, link: &Opened) -> Result<Caller, ApiError> {
    if !link.capabilities.write_comments {
        return Err(ApiError::forbidden(
            "comments_closed",
            comments::COMMENTS_CLOSED,
        ));
    }
    auth::session_only(
        state,
        req,
        "comment or reply through a share link (it takes comments from a person signed in to this server, as themself)",
    )
    .await
}

pub async fn list_comments(state: AppState, req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    shows_comments(&link)?;
    let artifact_id = link.artifact_id;
    let (found, replies) = state
        .store
        .read(move |conn| {
            let scope = Scope::Artifact(artifact_id);
            Ok((
                stored_comments::list(conn, scope, Status::All)?,
                replies::list(conn, scope, Status::All)?,
            ))
        })
        .await?;
    Ok(reply::ok(&SharedComments {
        comments: comments::threads(found, replies)?,
    }))
}

pub async fn create_comment(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let caller = commenter(&state, &req, &link).await?;
    let body: NewComment = req.json().await?;
    let target = parse_target(&body.target)?;
    let raw = body.target.get().to_string();
    let id = comments::insert(
        &state,
        &caller,
        gate(&req),
        &body.content,
        raw,
        target,
        comments::OnVersion::Latest,
    )
    .await
    .map_err(closed_meanwhile)?;
    Ok(reply::created(
        &json!({ "id": wire(id), "status": "created" }),
    ))
}

/// The live comment `raw_id` of the link's artifact; 404 otherwise.
async fn link_comment(
    state: &AppState,
    link: &Opened,
    raw_id: &str,
) -> Result<stored_comments::Comment, ApiError> {
    let id = ids::path_id(raw_id, "comment")?;
    let artifact_id = link.artifact_id;
    state
        .store
        .read(move |conn| stored_comments::get(conn, id))
        .await?
        .filter(|c| c.artifact_id == artifact_id)
        .ok_or_else(|| ApiError::not_found("comment"))
}

/// The live reply `raw_id` on a comment of the link's artifact; 404 otherwise.
async fn link_reply(
    state: &AppState,
    link: &Opened,
    raw_id: &str,
) -> Result<replies::Reply, ApiError> {
    let id = ids::path_id(raw_id, "reply")?;
    let artifact_id = link.artifact_id;
    state
        .store
        .read(move |conn| replies::get(conn, id))
        .await?
        .filter(|r| r.artifact_id == artifact_id)
        .ok_or_else(|| ApiError::not_found("reply"))
}

/// Through a link, a person changes or deletes only what they wrote through it (moderating is
/// the owner's, on the review page; what a reviewer wrote there is theirs to change there while
/// they still have access, not through a link that outlives it).
fn own(
    caller: &Caller,
    author: &stored_comments::Author,
    via_link: bool,
    what: &str,
    change: &str,
) -> Result<(), ApiError> {
    if !author.is(caller.user.id, None) {
        return Err(ApiError::forbidden(
            "not_allowed",
            format!("through a share link only the {what}'s author can {change} it"),
        ));
    }
    if !via_link {
        return Err(ApiError::forbidden(
            "not_allowed",
            format!(
                "this {what} was not written through the share link, so it cannot be changed through it; change it on the artifact's review page, where you need access to the artifact"
            ),
        ));
    }
    Ok(())
}

/// The gate a change through this request's link passes (checked again inside the write).
fn gate(req: &Request) -> Gate {
    Gate::Link(sha256(req.param("linkToken").as_bytes()))
}

pub async fn update_comment(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let caller = commenter(&state, &req, &link).await?;
    let comment = link_comment(&state, &link, req.param("id")).await?;
    own(
        &caller,
        &comment.author,
        comment.via_link,
        "comment",
        "edit",
    )?;
    let body: TextOnly = req.json().await?;
    let changed = comments::edit(&state, &caller, gate(&req), comment, body.content)
        .await
        .map_err(closed_meanwhile)?;
    Ok(reply::ok(&changed))
}

pub async fn delete_comment(state: AppState, req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let caller = commenter(&state, &req, &link).await?;
    let comment = link_comment(&state, &link, req.param("id")).await?;
    own(
        &caller,
        &comment.author,
        comment.via_link,
        "comment",
        "delete",
    )?;
    let deleted_at = comments::remove(&state, &caller, Some(gate(&req)), &comment)
        .await
        .map_err(closed_meanwhile)?;
    Ok(reply::ok(
        &json!({ "id": wire(comment.id), "deletedAt": deleted_at }),
    ))
}

pub async fn update_reply(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let caller = commenter(&state, &req, &link).await?;
    let found = link_reply(&state, &link, req.param("id")).await?;
    own(&caller, &found.author, found.via_link, "reply", "edit")?;
    let body: TextOnly = req.json().await?;
    let changed = comments::edit_reply(&state, &caller, Some(gate(&req)), found, &body.content)
        .await
        .map_err(closed_meanwhile)?;
    Ok(reply::ok(&changed))
}

pub async fn delete_reply(state: AppState, req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let caller = commenter(&state, &req, &link).await?;
    let found = link_reply(&state, &link, req.param("id")).await?;
    own(&caller, &found.author, found.via_link, "reply", "delete")?;
    let deleted_at = comments::remove_reply(&state, &caller, Some(gate(&req)), &found)
        .await
        .map_err(closed_meanwhile)?;
    Ok(reply::ok(
        &json!({ "id": wire(found.id), "deletedAt": deleted_at }),
    ))
}

/// A write refused inside its transaction because the gate closed (the link was turned off or
/// lost `writeComments` meanwhile) reads as the link being unavailable, as before it.
fn closed_meanwhile(e: ApiError) -> ApiError {
    match e {
        ApiError::NotFound(_) => unavailable(),
        other => other,
    }
}

pub async fn create_reply(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let link = link(&state, &req).await?;
    let caller = commenter(&state, &req, &link).await?;
    let comment = link_comment(&state, &link, req.param("id")).await?;
    let body: TextOnly = req.json().await?;
    let id = comments::reply_on(&state, &caller, Some(gate(&req)), comment, &body.content).await?;
    Ok(reply::created(&json!({ "id": wire(id) })))
}
