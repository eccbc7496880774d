//! A share link's public page, `/share/{linkToken}`: the artifact's latest version for anyone
//! holding the link, without an account, with the comments when the link shows them. The page is
//! ours (`share.html`); the artifact runs in its frame from `/share/{linkToken}/{path}`, sandboxed
//! exactly like the review page's viewer (`viewer::version_file`), so its scripts can never read
//! the visitor's session or act as them. A link turned off answers a page saying so at the next
//! load: nothing here is cached without asking the server again. (The view is counted when the
//! page's script reads the link, `GET /api/v1/share/{linkToken}`: that request carries the
//! visitor's session even when they arrived from another site, which the page's own may not.)

use std::collections::HashMap;

use warp::http::StatusCode;
use warp::reply::Response;

use super::error_page::{self, FrameError};
use super::first_frame::{self, FirstFrame};
use super::viewer::version_file;
use crate::api::share::{files_path, opened};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::state::AppState;
use crate::state::Routes;
use crate::store::blobs;
use crate::store::view_grants::GrantTarget;

pub(super) fn routes(r: &mut Routes) {
    r.get("/share/{linkToken}", page)
        .get("/share/{linkToken}/{path..}", file);
}

fn unavailable() -> Response {
    error_page::page(
        StatusCode::NOT_FOUND,
        "This link is no longer available",
        "The link you followed does not exist, or the artifact's owner turned it off or deleted \
         the artifact. Ask them for a new link.",
        &[("/", "Artifact Review")],
    )
}

async fn page(state: AppState, req: Request) -> Result<Response, ApiError> {
    let token = req.param("linkToken");
    let Some(link) = opened(&state, token).await? else {
        return Ok(unavailable());
    };
    // The page comes with its frame started, so the artifact loads while the page's scripts do:
    // on the file the address names (`?file=dir/page.html`, as the page keeps it when the reader
    // moves on) when the version has it, else on the entry page.
    let named = req
        .query::<HashMap<String, String>>()
        .ok()
        .and_then(|mut query| query.remove("file"));
    let file = match named {
        Some(path) => {
            let version_id = link.version_id;
            let probe = path.clone();
            let known = state
                .store
                .read(move |conn| blobs::exists(conn, version_id, &probe))
                .await?;
            if known {
                path
            } else {
                link.entry_point.clone()
            }
        }
        None => link.entry_point.clone(),
    };
    let folder = files_path(token);
    first_frame::page(&FirstFrame {
        page: "share.html",
        folder: &folder,
        expires_at: None,
        version: link.version_number,
        file: &file,
        // Asked again at every load, so a link turned off stops at once.
        cache: "no-cache",
    })
}

async fn file(state: AppState, req: Request) -> Result<Response, ApiError> {
    let requested = req.param("path");
    let Some(link) = opened(&state, req.param("linkToken")).await? else {
        return Ok(error_page::in_frame(FrameError::Link, requested));
    };
    let target = GrantTarget {
        version_id: link.version_id,
        entry_point: link.entry_point,
        artifact_name: link.artifact_name,
    };
    // Revalidated on every load (its tag makes that cheap), so a link turned off stops at once.
    version_file(&state, &req, target, requested, "no-cache").await
}
