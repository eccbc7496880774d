//! Building responses: JSON with a status, redirects, and the headers every API answer carries.

use serde::Serialize;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

/// A JSON response. Serialising our own response types cannot fail; if it ever did, the client
/// gets a 500 in the usual shape rather than a broken body.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    // Most answers are a few hundred bytes: one allocation instead of a run of doublings.
    let mut bytes = Vec::with_capacity(512);
    let (status, bytes) = match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => (status, bytes),
        Err(e) => {
            log::error!("serialising a response failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":"the server failed to encode its answer","code":"internal_error"}"#
                    .to_vec(),
            )
        }
    };
    json_bytes(status, bytes)
}

/// An answer of JSON already written (`bytes`), not to be cached.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(bytes.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 200 with a JSON body.
pub fn ok<T: Serialize + ?Sized>(body: &T) -> Response {
    json(StatusCode::OK, body)
}

/// 201 with a JSON body.
pub fn created<T: Serialize + ?Sized>(body: &T) -> Response {
    json(StatusCode::CREATED, body)
}

/// A 303 redirect to `location` (a path on this server).
pub fn see_other(location: &str) -> Response {
    let mut response = Response::new(Vec::new().into());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A 308 redirect to `location` (a path on this server): the same request belongs there.
pub fn permanent_redirect(location: &str) -> Response {
    let mut response = see_other(location);
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response
}

/// Adds a `Set-Cookie` header.
pub fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
