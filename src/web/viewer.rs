//! The artifact viewer: every file of a version is served under `/v/{grant}/{path}`, where the
//! grant is a random token (192 bits, stored hashed) bound to that version, that reader and that
//! session for 12 hours, handed to the review page by `POST …/versions/{n}/view`. No cookie is
//! needed, and everything runs in a CSP sandbox without `allow-same-origin`: uploaded pages run
//! and load their own files, and can never act as the reader. Every HTML document gets the bridge
//! (see `bridge`) as its first element.

use bytes::Bytes;
use unicode_normalization::UnicodeNormalization;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::bridge;
use super::error_page::{self, FrameError};
use crate::clock::now_ms;
use crate::file_body;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::ingest;
use crate::secrets::{hex, sha256};
use crate::state::AppState;
use crate::state::Routes;
use crate::store::blobs;
use crate::store::view_grants::{self, GrantTarget};

/// The sandbox every served file runs in. (No `frame-ancestors`: a sandboxed page's origin is
/// opaque and matches no source, so it would stop a ZIP site from framing its own pages.)
pub const SANDBOX_CSP: &str = "sandbox allow-scripts allow-popups allow-forms";

pub fn routes(r: &mut Routes) {
    r.get("/v/{grant}/{path..}", serve);
}

async fn serve(state: AppState, req: Request) -> Result<Response, ApiError> {
    let hash = sha256(req.param("grant").as_bytes());
    let requested = req.param("path").to_string();
    let target = state
        .store
        .read(move |conn| view_grants::lookup(conn, &hash, now_ms()))
        .await?;
    let Some(target) = target else {
        return Ok(error_page::in_frame(FrameError::Grant, &requested));
    };
    version_file(&state, &req, target, &requested, "private").await
}

/// Answers `requested` (a path in the version, "" for its entry point, "dir/" for its index) from
/// the version `target` opens, sandboxed, with the bridge in every document; `cache` is the
/// answer's Cache-Control.
pub(super) async fn version_file(
    state: &AppState,
    req: &Request,
    target: GrantTarget,
    requested: &str,
    cache: &'static str,
) -> Result<Response, ApiError> {
    req.refuse_as_our_code()?;
    let path = match requested {
        "" => target.entry_point.clone(),
        p if p.ends_with('/') => format!("{p}index.html"),
        p => p.to_string(),
    };
    let version_id = target.version_id;
    let lookup = path.clone();
    let found = state
        .store
        .read(move |conn| {
            let file = blobs::describe(conn, version_id, &lookup)?;
            if file.is_some() {
                return Ok(file);
            }
            // Names are stored composed (NFC): a link written decomposed finds them too.
            let composed: String = lookup.nfc().collect();
            if composed != lookup {
                if let Some(file) = blobs::describe(conn, version_id, &composed)? {
                    return Ok(Some(file));
                }
            }
            // A folder named without its trailing slash: serve its index.
            blobs::describe(conn, version_id, &format!("{lookup}/index.html"))
        })
        .await?;
    let Some(file) = found else {
        return Ok(error_page::in_frame(FrameError::Missing, &path));
    };
    let markdown = ingest::is_markdown_path(&file.path);
    let html = ingest::is_document(&file.path, &file.content_type);
    // A document carries the bridge, so its tag changes with the bridge's version (and a
    // Markdown document's with how Markdown is rendered).
    let etag = if markdown {
        format!(
            "\"{}-{}-md{}\"",
            hex(&file.sha256),
            bridge::version(),
            ingest::RENDERING
        )
    } else if html {
        format!("\"{}-{}\"", hex(&file.sha256), bridge::version())
    } else {
        format!("\"{}\"", hex(&file.sha256))
    };
    let not_modified = req.holds(&etag);
    let size = u64::try_from(file.size).unwrap_or(0);
    // Another file than a document, if large, is sent a slice at a time as the client reads it.
    let (content_type, response) = if not_modified {
        (
            file.content_type.clone(),
            Response::new(Bytes::new().into()),
        )
    } else if markdown {
        let title = file
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&target.artifact_name)
            .to_string();
        let sha256: [u8; 32] = file.sha256.as_slice().try_into().map_err(|_| {
            ApiError::Internal(format!("the stored hash of {} is not 32 bytes", file.path))
        })?;
        let doc = state
            .rendered
            .get(sha256, &title, || content(state, sha256))
            .await?;
        (
            "text/html; charset=utf-8".to_string(),
            Response::new(doc.into()),
        )
    } else if !html && file_body::sliced(size) {
        let body = file_body::response(state.store.clone(), file.sha256.clone(), size);
        (file.content_type.clone(), body)
    } else {
        let sha256 = file.sha256.clone();
        let bytes = content(state, sha256).await?;
        let body = if html { bridge::inject(&bytes) } else { bytes };
        (
            file.content_type.clone(),
            Response::new(Bytes::from(body).into()),
        )
    };
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response =
        super::with_document_headers(response, status, content_type, SANDBOX_CSP, cache);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

/// The stored bytes of a file described a moment ago.
async fn content(
    state: &AppState,
    sha256: impl AsRef<[u8]> + Send + 'static,
) -> Result<Vec<u8>, ApiError> {
    state
        .store
        .read(move |conn| blobs::content(conn, sha256.as_ref()))
        .await?
        .ok_or_else(|| ApiError::Internal("a described file has no stored content".into()))
}
