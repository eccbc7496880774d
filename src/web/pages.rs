//! The app's pages, embedded in the binary from `assets/`: one HTML shell served at `/` (the
//! artifacts home), `/settings`, `/login`, `/setup`, `/invite` and `/reset-password` (the script shows the right
//! screen), and its CSS and JS under `/assets/`. Every page carries a CSP that allows only this
//! server's own scripts and styles and forbids framing. Whether someone is signed in is decided
//! here, before the page loads: the home and the settings send strangers to sign in, the sign-in
//! page sends signed-in people home.

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::ASSETS;
use crate::auth;
use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::Request;
use crate::state::AppState;
use crate::state::Routes;

/// The policy for our own pages.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(super) fn routes(r: &mut Routes) {
    r.get("/", home)
        .get("/settings", settings)
        .get("/login", login)
        .get("/setup", app_shell)
        .get("/invite", app_shell)
        .get("/invite/{rest..}", app_shell)
        .get("/reset-password", app_shell)
        .get("/favicon.ico", favicon)
        .get("/assets/{path..}", asset);
}

async fn home(state: AppState, req: Request) -> Result<Response, ApiError> {
    if auth::signed_in(&state, &req).await.is_none() {
        return Ok(reply::see_other("/login"));
    }
    serve("index.html")
}

async fn settings(state: AppState, req: Request) -> Result<Response, ApiError> {
    if auth::signed_in(&state, &req).await.is_none() {
        return Ok(reply::see_other("/login"));
    }
    serve("index.html")
}

async fn login(state: AppState, req: Request) -> Result<Response, ApiError> {
    if auth::signed_in(&state, &req).await.is_some() {
        return Ok(reply::see_other("/"));
    }
    serve("index.html")
}

async fn app_shell(_: AppState, _: Request) -> Result<Response, ApiError> {
    serve("index.html")
}

/// Browsers ask for `/favicon.ico` on every page, artifact pages included.
async fn favicon(_: AppState, _: Request) -> Result<Response, ApiError> {
    serve("favicon.svg")
}

async fn asset(_: AppState, req: Request) -> Result<Response, ApiError> {
    serve(req.param("path"))
}

fn serve(path: &str) -> Result<Response, ApiError> {
    serve_with(path, PAGE_CSP)
}

/// An embedded file with the headers of our pages and the given policy.
pub(super) fn serve_with(path: &str, csp: &'static str) -> Result<Response, ApiError> {
    Ok(respond(path, embedded(path)?, csp, "no-cache"))
}

/// The bytes of an embedded file (a page put together).
pub(super) fn embedded(path: &str) -> Result<bytes::Bytes, ApiError> {
    ASSETS
        .get_file(path)
        .filter(|_| !path.is_empty() && !path.contains(".."))
        .map(|file| super::assembly::contents(path, file))
        .ok_or_else(|| ApiError::not_found("page"))
}

/// `body` served as the file at `path`, with the headers of our pages.
pub(super) fn respond(
    path: &str,
    body: bytes::Bytes,
    csp: &'static str,
    cache: &'static str,
) -> Response {
    let mut response = super::document(
        StatusCode::OK,
        body,
        HeaderValue::from_static(content_type(path)),
        csp,
        cache,
    );
    response
        .headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
