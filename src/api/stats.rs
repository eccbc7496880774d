//! `GET /api/v1/artifacts/{shareToken}/stats`: how often the artifact was viewed and commented on,
//! in all and per version (owner only). A view is a person opening a version in the review page or
//! anyone opening its share link; loads by the same viewer within 30 minutes count once.

use serde::Serialize;
use warp::reply::Response;

use super::artifacts::owned;
use crate::auth;
use crate::http::error::ApiError;
use crate::http::ids::wire;
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::views;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatsAnswer {
    artifact: ArtifactRef,
    stats: Totals,
    versions: Vec<VersionStats>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactRef {
    id: String,
    name: String,
    share_token: String,
    created_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    total_views: i64,
    unique_viewers: i64,
    comment_count: i64,
    unresolved_comment_count: i64,
    last_viewed_at: Option<i64>,
    /// The name of the person behind the last view; null for an anonymous share-link visitor.
    last_viewed_by: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionStats {
    number: i64,
    comment_count: i64,
    view_count: i64,
}

pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let id = artifact.id;
    let (seen, per_version) = state
        .store
        .read(move |conn| Ok((views::of_artifact(conn, id)?, views::per_version(conn, id)?)))
        .await?;
    Ok(reply::ok(&StatsAnswer {
        artifact: ArtifactRef {
            id: wire(artifact.id),
            name: artifact.name.clone(),
            share_token: artifact.share_token.clone(),
            created_at: artifact.created_at,
        },
        stats: Totals {
            total_views: seen.total,
            unique_viewers: seen.unique_viewers,
            comment_count: artifact.comment_count,
            unresolved_comment_count: artifact.unresolved_count,
            last_viewed_at: seen.last_viewed_at,
            last_viewed_by: seen.last_viewed_by,
        },
        versions: per_version
            .into_iter()
            .map(|(number, comment_count, view_count)| VersionStats {
                number,
                comment_count,
                view_count,
            })
            .collect(),
    }))
}
