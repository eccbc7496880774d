//! Versions of an artifact: list, publish (owner), rename, soft-delete (never the last active one),
//! restore; and their files: the list, and each file's raw bytes.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use super::artifacts::{self, owned, visible, VersionView};
use super::idempotency::Idempotency;
use super::publish;
use super::upload;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::file_body;
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::wire;
use crate::http::reply;
use crate::http::request::Request;
use crate::ingest;
use crate::secrets::hex;
use crate::state::AppState;
use crate::store::artifacts::Artifact;
use crate::store::audit::{self, AuditEvent};
use crate::store::versions::{self, Version};
use crate::store::{blobs, StoreError};

/// A version number from the path: `3` or `v3`. Anything else is a 400 naming what was given.
pub fn parse_number(raw: &str) -> Result<i64, ApiError> {
    raw.strip_prefix('v')
        .unwrap_or(raw)
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_version",
                format!("version numbers are whole numbers from 1 (as 3 or v3); got {raw:?}"),
            )
        })
}

/// The active version `number` of `artifact`, or 404.
pub async fn active_version(
    state: &AppState,
    artifact: &Artifact,
    number: i64,
) -> Result<Version, ApiError> {
    let id = artifact.id;
    state
        .store
        .read(move |conn| {
            Ok(match versions::active(conn, id, number)? {
                Some(version) => Ok(version),
                None => Err(no_such_version(number, &versions::list_active(conn, id)?)),
            })
        })
        .await?
}

/// 404 for a version an artifact does not have (never made, or deleted), naming those it has.
pub fn no_such_version(number: i64, active: &[Version]) -> ApiError {
    let have: Vec<String> = active.iter().map(|v| format!("v{}", v.number)).collect();
    ApiError::NotFound(format!(
        "version v{number} not found: this artifact's versions are {}",
        have.join(", ")
    ))
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (artifact, _) = visible(&state, &caller, req.param("shareToken")).await?;
    let id = artifact.id;
    let list = state
        .store
        .read(move |conn| versions::list_active(conn, id))
        .await?;
    let views: Vec<VersionView> = list
        .iter()
        .map(|v| VersionView::new(&state, &artifact.share_token, v, artifact.latest_version))
        .collect();
    Ok(reply::ok(&json!({ "versions": views })))
}

pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let once = Idempotency::of(&req)?;
    let (form, once) = upload::read_once(&state, &mut req, once).await?;
    let (work_state, work_caller) = (state.clone(), caller.clone());
    once.run(&state, &caller, async move {
        Ok(reply::created(
            &publish(&work_state, &work_caller, &artifact, form).await?,
        ))
    })
    .await
}

/// What publishing a version answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedVersion {
    pub version_id: String,
    pub number: i64,
    /// The file a viewer opens first (for a single document: its name).
    pub entry_point: String,
    pub view_url: String,
    /// Always `ready`: a version is stored whole before the answer (the hosted API also knows
    /// `processing`).
    pub status: &'static str,
    /// The newest event before the publication: `?after=` it on the artifact's event stream
    /// hears everything from the publication on (comments made right after it included).
    pub last_event_id: String,
}

/// What a new version takes from the latest when the upload does not say: with neither a type nor
/// a name (or a multipart file whose own name has no known extension), the latest's type (and a
/// single document's name); a single document of the same type,
/// not named with `fileName` (a multipart file's own name, say `v2.html`), keeps the document's
/// name, so that comments on it go on finding it.
fn carry_over(upload: &mut ingest::Upload, named: bool, latest: &Version) {
    let single = matches!(latest.file_type.as_str(), "html" | "markdown");
    let type_given = upload
        .file_type
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty());
    let own_type = ingest::detect_type(upload.file_type.as_deref(), upload.file_name.as_deref());
    // A multipart file's own name that says no type (`-` when piped to curl, `notes.txt`) is
    // no reason to refuse what the latest's type says.
    let says_no_type = !named && own_type.is_err();
    if !type_given && (upload.file_name.is_none() || says_no_type) {
        upload.file_type = Some(latest.file_type.clone());
        if single {
            upload.file_name = Some(latest.entry_point.clone());
        }
        return;
    }
    let same_type = own_type.is_ok_and(|kind| kind.as_str() == latest.file_type);
    if single && !named && same_type {
        upload.file_name = Some(latest.entry_point.clone());
    }
}

/// Publishes the next version of an artifact the caller owns (checked by the caller of this).
pub async fn publish(
    state: &AppState,
    caller: &Caller,
    artifact: &Artifact,
    form: upload::UploadForm,
) -> Result<PublishedVersion, ApiError> {
    if form.description.is_some() {
        return Err(ApiError::invalid(
            "description",
            "invalid_request",
            "description belongs to the artifact (PATCH /api/v1/artifacts/{shareToken}), not to a version",
        ));
    }
    let name = match (form.name.as_deref(), form.version_name.as_deref()) {
        (Some(a), Some(b)) if a.trim() != b.trim() => {
            return Err(ApiError::invalid(
                "versionName",
                "invalid_request",
                "give the version's name as name or versionName, not both",
            ))
        }
        (_, Some(b)) => artifacts::version_name("versionName", Some(b))?,
        (a, None) => artifacts::version_name("name", a)?,
    };
    let mut upload = form.upload;
    // The latest version now, once the body has arrived: the one the request began with may have
    // been deleted while it uploaded.
    let id = artifact.id;
    let latest = state
        .store
        .read(move |conn| match versions::latest_id(conn, id)? {
            Some((_, number)) => versions::active(conn, id, number),
            None => Ok(None),
        })
        .await?;
    if let Some(latest) = latest {
        carry_over(&mut upload, form.file_named, &latest);
    }
    let prepared = Arc::new(upload::prepare(upload).await?);
    let entry_point = prepared.entry_point.clone();
    let ready = publish::ready(state, artifact.owner_id, prepared.clone()).await?;
    let ctx = caller.audit();
    let artifact_id = artifact.id;
    let ((version_id, number), last_event_id) = ready
        .publish(state, &artifact.name, move |conn| {
            let now = now_ms();
            let last_event_id = audit::newest(conn)?;
            let published =
                publish::version(conn, artifact_id, name.as_deref(), &prepared, &ctx, now)?;
            Ok((published, last_event_id))
        })
        .await?;
    drop(form.reservation);
    Ok(PublishedVersion {
        version_id: wire(version_id),
        number,
        entry_point,
        status: "ready",
        last_event_id: last_event_id.to_string(),
        view_url: format!(
            "{}/a/{}/v/{number}/",
            state.site.base_url, artifact.share_token
        ),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    #[serde(deserialize_with = "nullable")]
    name: Option<String>,
}

/// `name` must be present; null clears it.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

pub async fn rename(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    let version = active_version(&state, &artifact, number).await?;
    let body: Rename = req.json().await?;
    let name = artifacts::version_name("name", body.name.as_deref())?;
    let ctx = caller.audit();
    let stored = name.clone();
    let owner = caller.user.id;
    state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            crate::store::artifacts::still_owned(conn, version.artifact_id, owner)?;
            versions::rename(conn, version.id, stored.as_deref())?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::VersionRenamed {
                    artifact_id: version.artifact_id,
                    version_id: version.id,
                    number: version.number,
                    before: version.name.as_deref(),
                    after: stored.as_deref(),
                },
                now,
            )
        })
        .await?;
    Ok(reply::ok(&json!({ "number": number, "name": name })))
}

pub async fn delete(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    let artifact_id = artifact.id;
    let ctx = caller.audit();
    let owner = caller.user.id;
    let deleted_at = state
        .store
        .write_content(move |conn| {
            crate::store::artifacts::still_owned(conn, artifact_id, owner)?;
            let version =
                versions::by_number(conn, artifact_id, number)?.ok_or(StoreError::NotFound)?;
            let now = now_ms();
            if versions::delete(conn, &version, now)? {
                audit::record(
                    conn,
                    &ctx,
                    &AuditEvent::VersionDeleted {
                        artifact_id,
                        version_id: version.id,
                        number,
                    },
                    now,
                )?;
                Ok(now)
            } else {
                Ok(version.deleted_at.unwrap_or(now))
            }
        })
        .await
        .map_err(not_found_as(format!("version {number}")))?;
    Ok(reply::ok(
        &json!({ "number": number, "deletedAt": deleted_at }),
    ))
}

pub async fn restore(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let artifact = owned(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    let artifact_id = artifact.id;
    let ctx = caller.audit();
    let owner = caller.user.id;
    state
        .store
        .write_content(move |conn| {
            crate::store::artifacts::still_owned(conn, artifact_id, owner)?;
            let version =
                versions::by_number(conn, artifact_id, number)?.ok_or(StoreError::NotFound)?;
            if versions::restore(conn, version.id)? {
                audit::record(
                    conn,
                    &ctx,
                    &AuditEvent::VersionRestored {
                        artifact_id,
                        version_id: version.id,
                        number,
                    },
                    now_ms(),
                )?;
            }
            Ok(())
        })
        .await
        .map_err(not_found_as(format!("version {number}")))?;
    Ok(reply::ok(&json!({ "number": number, "restored": true })))
}

pub async fn files(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (artifact, _) = visible(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    Ok(reply::ok(&files_of(&state, &artifact, number).await?))
}

/// One file of a version, as listings show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    pub path: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: String,
}

/// The files of a version and its entry point.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    pub files: Vec<FileView>,
    pub entry_point: String,
}

/// The files of active version `number` of an artifact the caller can see.
pub async fn files_of(
    state: &AppState,
    artifact: &Artifact,
    number: i64,
) -> Result<FileList, ApiError> {
    let version = active_version(state, artifact, number).await?;
    let version_id = version.id;
    let list = state
        .store
        .read(move |conn| blobs::list(conn, version_id))
        .await?;
    Ok(FileList {
        files: file_views(list),
        entry_point: version.entry_point,
    })
}

/// Stored files as the API shows them.
pub fn file_views(list: Vec<blobs::VersionFile>) -> Vec<FileView> {
    list.into_iter()
        .map(|f| FileView {
            sha256: hex(&f.sha256),
            path: f.path,
            size: f.size,
            content_type: f.content_type,
        })
        .collect()
}

/// The bytes of one file of active version `number`; 404 naming the path when there is none.
pub async fn file_bytes(
    state: &AppState,
    artifact: &Artifact,
    number: i64,
    path: &str,
) -> Result<(blobs::VersionFile, Vec<u8>), ApiError> {
    let version = active_version(state, artifact, number).await?;
    let version_id = version.id;
    let lookup = path.to_string();
    match state
        .store
        .read(move |conn| blobs::read(conn, version_id, &lookup))
        .await?
    {
        Some(found) => Ok(found),
        None => Err(no_such_file(state, version_id, number, path).await),
    }
}

/// 404 for a path a version does not have, naming (the first 20 of) the files it has.
async fn no_such_file(state: &AppState, version_id: i64, number: i64, path: &str) -> ApiError {
    let files = match state
        .store
        .read(move |conn| blobs::list(conn, version_id))
        .await
    {
        Ok(files) => files,
        Err(e) => return e.into(),
    };
    ApiError::NotFound(format!(
        "version {number} has no file {path:?}; its files are: {}",
        file_names(&files)
    ))
}

/// A version's files for a message saying which it has: the first 20 paths, then "…".
pub fn file_names(files: &[blobs::VersionFile]) -> String {
    let names: Vec<&str> = files.iter().take(20).map(|f| f.path.as_str()).collect();
    format!(
        "{}{}",
        names.join(", "),
        if files.len() > 20 { ", …" } else { "" }
    )
}

/// Whether a browser shows a file of this type as a document of its own (with links and styles):
/// HTML, XHTML, SVG and XML.
fn renders_as_page(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "image/svg+xml" | "text/xml" | "application/xml"
    )
}

/// `Content-Disposition: attachment` naming `name` (RFC 6266: an ASCII fallback, and the name
/// itself percent-encoded as UTF-8).
fn attachment(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// `?as=text`: a text file shown as plain text (an HTML page's source, not the page).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuery {
    #[serde(rename = "as")]
    shown_as: Option<String>,
}

pub async fn file(state: AppState, req: Request) -> Result<Response, ApiError> {
    req.refuse_as_our_code()?;
    let caller = auth::session_or_key(&state, &req).await?;
    let query: FileQuery = req.query()?;
    let as_text = match query.shown_as.as_deref() {
        None | Some("") => false,
        Some("text") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "as",
                "invalid_query",
                format!("as must be text (the file as plain text); got {other:?}"),
            ))
        }
    };
    let (artifact, _) = visible(&state, &caller, req.param("shareToken")).await?;
    let number = parse_number(req.param("number"))?;
    let path = req.param("path");
    let version = active_version(&state, &artifact, number).await?;
    let version_id = version.id;
    let lookup = path.to_string();
    let file = state
        .store
        .read(move |conn| blobs::describe(conn, version_id, &lookup))
        .await?;
    let Some(file) = file else {
        return Err(no_such_file(&state, version_id, number, path).await);
    };
    // The source as text is another representation of the same bytes: another tag.
    let etag = format!(
        "\"{}{}\"",
        hex(&file.sha256),
        if as_text { ".text" } else { "" }
    );
    if req.holds(&etag) {
        let mut response = Response::new(Vec::new().into());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        file_headers(response.headers_mut(), &file, &etag, as_text, None);
        return Ok(response);
    }
    let size = u64::try_from(file.size).unwrap_or(0);
    if !as_text && file_body::sliced(size) {
        let mut response = file_body::response(state.store.clone(), file.sha256.clone(), size);
        file_headers(
            response.headers_mut(),
            &file,
            &etag,
            false,
            Some(&file.content_type),
        );
        return Ok(response);
    }
    let sha256 = file.sha256.clone();
    let bytes = state
        .store
        .read(move |conn| blobs::content(conn, &sha256))
        .await?
        .ok_or_else(|| ApiError::Internal(format!("{} has no stored content", file.path)))?;
    let content_type = if as_text {
        if std::str::from_utf8(&bytes).is_ok() {
            "text/plain; charset=utf-8"
        } else if ingest::is_text(&file.path) {
            // Text in a legacy encoding: the browser guesses which.
            "text/plain"
        } else {
            return Err(ApiError::bad_request(
                "not_text",
                format!(
                    "{} is not text ({}); open it without as=text",
                    file.path, file.content_type
                ),
            ));
        }
    } else {
        file.content_type.as_str()
    };
    let mut response = Response::new(bytes.into());
    *response.status_mut() = StatusCode::OK;
    file_headers(
        response.headers_mut(),
        &file,
        &etag,
        as_text,
        Some(content_type),
    );
    Ok(response)
}

/// The headers of a raw file's answer, shown `as_text` or not (`content_type` None: a 304, which
/// has no body to type).
fn file_headers(
    headers: &mut HeaderMap,
    file: &blobs::VersionFile,
    etag: &str,
    as_text: bool,
    content_type: Option<&str>,
) {
    if let Some(ct) = content_type.and_then(|ct| HeaderValue::from_str(ct).ok()) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    // Raw files come from this server's own origin: never let a browser run them here, nor show
    // a document that could pass for one of the server's own pages (a fake sign-in, say): those
    // are saved rather than shown (`?as=text` shows their source). Scripts read the bytes alike.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if !as_text && renders_as_page(&file.content_type) {
        let name = file.path.rsplit('/').next().unwrap_or(&file.path);
        if let Ok(value) = HeaderValue::from_str(&attachment(name)) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_a_browser_would_show_as_pages_are_named_for_saving() {
        for page in [
            "text/html; charset=utf-8",
            "TEXT/HTML",
            "image/svg+xml",
            "application/xhtml+xml",
        ] {
            assert!(renders_as_page(page), "{page}");
        }
        for other in [
            "text/plain; charset=utf-8",
            "image/png",
            "text/css",
            "application/json",
        ] {
            assert!(!renders_as_page(other), "{other}");
        }
        assert_eq!(
            attachment("plan.html"),
            "attachment; filename=\"plan.html\"; filename*=UTF-8''plan.html"
        );
        assert_eq!(
            attachment("résumé \"v2\".html"),
            "attachment; filename=\"r_sum___v2_.html\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.html"
        );
    }
}
