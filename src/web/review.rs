//! The review page: `/a/{shareToken}` (the latest version), `/a/{shareToken}/v/{number}` and
//! `/a/{shareToken}/v/{number}/{path}` (a file of a version) all serve the same page, whose script
//! reads the address. Before it is served: a reader who is not signed in is sent to sign in and
//! back; an artifact they cannot see, or a version that is gone, gets an HTML page saying so with
//! a way forward. Opening the page records that the reader has seen the artifact as it is now,
//! and makes the viewing grant its frame starts under (counted as a view), in one write.

use percent_encoding::{utf8_percent_encode, AsciiSet};
use warp::http::StatusCode;
use warp::reply::Response;

use super::error_page;
use super::first_frame::{self, FirstFrame};
use super::pages::serve_with;
use crate::api::artifacts::visible;
use crate::api::versions::{active_version, parse_number};
use crate::api::view_grants::{open_version, Seen};
use crate::auth;
use crate::clock::now_ms;
use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::state::Routes;
use crate::store::reads;

/// Our pages' policy, plus frames from this server (the artifact, under its viewing grant).
pub const REVIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(super) fn routes(r: &mut Routes) {
    r.get("/a/{shareToken}", open)
        .get("/a/{shareToken}/v/{number}/{path..}", open);
}

/// Everything but RFC 3986's unreserved characters, for a path carried in a query parameter.
pub(super) const QUERY_VALUE: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Sends a reader who is not signed in to the sign-in page, to come back here afterwards.
fn to_sign_in(req: &Request) -> Response {
    let next = utf8_percent_encode(&req.path, QUERY_VALUE).to_string();
    reply::see_other(&format!("/login?next={next}"))
}

async fn open(state: AppState, req: Request) -> Result<Response, ApiError> {
    let Some(caller) = auth::signed_in(&state, &req).await else {
        return Ok(to_sign_in(&req));
    };
    let artifact = match visible(&state, &caller, req.param("shareToken")).await {
        Ok((artifact, _)) => artifact,
        Err(ApiError::NotFound(_)) => return Ok(error_page::page(
            StatusCode::NOT_FOUND,
            "Artifact not found",
            "There is no artifact at this address, or it is not shared with you. Ask its owner \
                 to add you as a reviewer, or check the link.",
            &[("/", "Your artifacts")],
        )),
        Err(other) => return Err(other),
    };
    let version = if req.param("number").is_empty() {
        match artifact.latest_version {
            Some(number) => active_version(&state, &artifact, number).await.ok(),
            None => None,
        }
    } else {
        let latest = format!("/a/{}", artifact.share_token);
        let gone = |message: String| {
            error_page::page(
                StatusCode::NOT_FOUND,
                "Version not found",
                &message,
                &[(&latest, "The latest version"), ("/", "Your artifacts")],
            )
        };
        let Ok(number) = parse_number(req.param("number")) else {
            return Ok(gone(format!(
                "\u{201c}{}\u{201d} is not a version number.",
                req.param("number")
            )));
        };
        let Ok(version) = active_version(&state, &artifact, number).await else {
            return Ok(gone(format!(
                "Version {number} of \u{201c}{}\u{201d} does not exist or was deleted.",
                artifact.name
            )));
        };
        // Stored paths never have dot segments or backslashes: such a path names no file, and
        // after the grant in the frame's address it would climb out of it (`/v/{grant}/../..`).
        let path = req.param("path");
        if path.contains('\\') || path.split('/').any(|s| s == "." || s == "..") {
            let version = format!("/a/{}/v/{number}", artifact.share_token);
            return Ok(error_page::page(
                StatusCode::NOT_FOUND,
                "No such file",
                "This address names no file of the artifact.",
                &[(&version, "This version"), ("/", "Your artifacts")],
            ));
        }
        Some(version)
    };
    let Some(version) = version else {
        // No version to show (the script says so): the page alone, and what the reader has seen.
        let (user_id, artifact_id) = (caller.user.id, artifact.id);
        state
            .store
            .write_content(move |conn| reads::mark_seen(conn, user_id, artifact_id, None, now_ms()))
            .await?;
        return serve_with("review.html", REVIEW_CSP);
    };
    // The frame's first address comes with the page, so the artifact loads while the page's
    // scripts do (instead of after they have asked for the file list and a grant).
    let grant = open_version(&state, &caller, &artifact, &version, Seen::Yes).await?;
    let file = match req.param("path") {
        "" => version.entry_point.as_str(),
        path => path,
    };
    first_frame::page(&FirstFrame {
        page: "review.html",
        folder: &grant.path,
        expires_at: Some(grant.expires_at),
        version: version.number,
        file,
        // The grant is the reader's own, for 12 hours: no cache may keep it.
        cache: "no-store",
    })
}
