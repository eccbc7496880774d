//! What browsers load: the embedded pages (settings, artifacts home, review page), the sandboxed
//! artifact viewer with its injected bridge, and the HTML error pages a person sees instead of JSON.

mod assembly;
mod bridge;
mod error_page;
mod first_frame;
mod pages;
mod review;
mod share;
mod viewer;

/// `html` with the review bridge's tag as its first element, as every artifact document is served.
pub use bridge::inject as inject_bridge;

use bytes::Bytes;
use include_dir::{include_dir, Dir};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use crate::state::Routes;

/// The pages' files, embedded in the binary.
static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

pub fn routes(r: &mut Routes) {
    r.not_found_page(nothing_here);
    pages::routes(r);
    review::routes(r);
    viewer::routes(r);
    share::routes(r);
    bridge::routes(r);
}

/// What a browser is shown at an address of ours that names nothing (a mistyped link).
fn nothing_here(path: &str) -> Response {
    error_page::page(
        StatusCode::NOT_FOUND,
        "Nothing here",
        &format!("There is no page at \u{201c}{path}\u{201d} on this server. Check the link you followed, or start from your artifacts."),
        &[("/", "Your artifacts"), ("/settings", "Settings")],
    )
}

/// What a browser is shown when it asks this server for a page under a name it does not answer to
/// (`message` says which name and how to add one): a person never meets our JSON.
pub fn wrong_host_page(message: &str) -> Response {
    error_page::page(
        StatusCode::BAD_REQUEST,
        "This server does not answer at this address",
        message,
        &[],
    )
}

/// A document with the headers every one of ours carries: its type, its content security policy,
/// no type sniffing, no referrer, and how it may be cached. Callers add what is theirs.
fn document(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: HeaderValue,
    csp: &'static str,
    cache: &'static str,
) -> Response {
    let body: Bytes = body.into();
    with_document_headers(Response::new(body.into()), status, content_type, csp, cache)
}

/// `document`'s status and headers on an answer whose body is already made (a file sent a slice
/// at a time).
fn with_document_headers(
    mut response: Response,
    status: StatusCode,
    content_type: HeaderValue,
    csp: &'static str,
    cache: &'static str,
) -> Response {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
