//! The artifact viewer. A signed-in reader opens `/a/{shareToken}/v/{number}/`; the server answers
//! with a redirect to `/v/{grant}/{path}`, where the grant is a random token (192 bits, stored
//! hashed) bound to that version, that reader and that session for 12 hours. Every file of the
//! version is served under the grant with no cookie needed, in a CSP sandbox without
//! `allow-same-origin`: uploaded pages run, load their own files, and can never act as the reader.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use crate::api::reply;
use crate::api::request::Request;
use crate::api::router::Router;
use crate::api::versions::{active_version, parse_number};
use crate::auth;
use crate::clock::{now_ms, HOUR_MS};
use crate::error::ApiError;
use crate::ingest;
use crate::secrets::{hex, random_token, sha256};
use crate::state::AppState;
use crate::store::{blobs, view_grants};

/// How long a viewing grant lasts.
pub const GRANT_HOURS: i64 = 12;

/// The sandbox every served file runs in.
pub const SANDBOX_CSP: &str = "sandbox allow-scripts allow-popups allow-forms";

/// Characters escaped when a stored path goes back into a URL.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub fn routes(r: &mut Router) {
    r.get("/a/{shareToken}", open_latest)
        .get("/a/{shareToken}/v/{number}/{path..}", open_version)
        .get("/v/{grant}/{path..}", serve);
}

/// Everything but RFC 3986's unreserved characters, for a path carried in a query parameter.
const QUERY_VALUE: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Sends a reader who is not signed in to the sign-in page, to come back here afterwards.
fn to_sign_in(req: &Request) -> Response {
    let next = utf8_percent_encode(&req.path, QUERY_VALUE).to_string();
    reply::see_other(&format!("/login?next={next}"))
}

async fn open_latest(state: AppState, req: Request) -> Result<Response, ApiError> {
    let Ok(caller) = auth::session_only(&state, &req).await else {
        return Ok(to_sign_in(&req));
    };
    let (artifact, _) = crate::api::artifacts::visible(&state, &caller, req.param(0)).await?;
    let latest = artifact
        .latest_version
        .ok_or_else(|| ApiError::not_found("version"))?;
    Ok(reply::see_other(&format!(
        "/a/{}/v/{latest}/",
        artifact.share_token
    )))
}

async fn open_version(state: AppState, req: Request) -> Result<Response, ApiError> {
    let Ok(caller) = auth::session_only(&state, &req).await else {
        return Ok(to_sign_in(&req));
    };
    let session_id = caller
        .session_id()
        .ok_or_else(|| ApiError::Internal("session_only returned a key caller".into()))?;
    let (artifact, _) = crate::api::artifacts::visible(&state, &caller, req.param(0)).await?;
    let number = parse_number(req.param(1))?;
    let version = active_version(&state, &artifact, number).await?;
    let path = match req.param(2) {
        "" => version.entry_point.clone(),
        // Stored paths never have dot segments or backslashes: such a path names no file, and
        // put into the redirect it would climb out of the grant (`/v/{grant}/../../...`).
        p if p.contains('\\') || p.split('/').any(|s| s == "." || s == "..") => {
            return Err(ApiError::not_found("file"))
        }
        p => p.to_string(),
    };
    let grant = random_token(24)?;
    let hash = grant.digest();
    let user_id = caller.user.id;
    let version_id = version.id;
    state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            view_grants::insert(
                conn,
                &hash,
                version_id,
                user_id,
                session_id,
                now,
                now + GRANT_HOURS * HOUR_MS,
            )
        })
        .await?;
    let encoded: Vec<String> = path
        .split('/')
        .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
        .collect();
    let mut response = reply::see_other(&format!("/v/{}/{}", grant.expose(), encoded.join("/")));
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

async fn serve(state: AppState, req: Request) -> Result<Response, ApiError> {
    let hash = sha256(req.param(0).as_bytes());
    let requested = req.param(1).to_string();
    let gone = || ApiError::not_found("file");
    let target = state
        .store
        .read(move |conn| view_grants::lookup(conn, &hash, now_ms()))
        .await?
        .ok_or_else(gone)?;
    let path = match requested.as_str() {
        "" => target.entry_point.clone(),
        p if p.ends_with('/') => format!("{p}index.html"),
        p => p.to_string(),
    };
    let version_id = target.version_id;
    let lookup = path.clone();
    let found = state
        .store
        .read(move |conn| {
            let file = blobs::read(conn, version_id, &lookup)?;
            if file.is_some() {
                return Ok(file);
            }
            // A folder named without its trailing slash: serve its index.
            blobs::read(conn, version_id, &format!("{lookup}/index.html"))
        })
        .await?
        .ok_or_else(gone)?;
    let (file, bytes) = found;
    let etag = format!("\"{}\"", hex(&file.sha256));
    let not_modified = req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let (content_type, body): (String, Vec<u8>) = if not_modified {
        (file.content_type.clone(), Vec::new())
    } else if ingest::is_markdown_path(&file.path) {
        let text = String::from_utf8_lossy(&bytes);
        let title = file
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&target.artifact_name);
        (
            "text/html; charset=utf-8".to_string(),
            ingest::render_markdown(&text, title).into_bytes(),
        )
    } else {
        (file.content_type.clone(), bytes)
    };
    let mut response = Response::new(body.into());
    *response.status_mut() = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let headers = response.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX_CSP),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}
