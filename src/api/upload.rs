//! Reading an upload from the request: a JSON body (`content` as text, or base64 for a ZIP) or
//! `multipart/form-data` with a `file` part. Each upload first reserves its share of the memory
//! budget (or gets a 429); its content is then spooled as it streams in (parsed a block at a time
//! on the blocking pool, never held whole in memory), and checked by `ingest` on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Deserialize;
use warp::http::header;

use super::idempotency::{Asked, Fingerprint, Idempotency};
use super::upload_json::{JsonSplit, SplitError};
use crate::bulk;
use crate::http::error::ApiError;
use crate::http::request::{parse_json, LimitedBody, Request};
use crate::ingest::{self, IngestError, Prepared, SpoolWriter, Upload, UploadContent};
use crate::memory_budget::{Reservation, Work};
use crate::state::AppState;

/// Transport limit for upload bodies: a 50 MB ZIP in base64 (69,905,068 bytes) plus JSON or
/// multipart framing.
pub const UPLOAD_BODY_LIMIT: u64 = 72 * 1024 * 1024;
/// Body bytes gathered before they are handed to the blocking pool to parse and spool.
const BLOCK: usize = 1024 * 1024;
/// Largest form field other than `file` and `content`.
const FIELD_MAX: usize = 64 * 1024;

/// An upload with the fields that travel with it.
pub struct UploadForm {
    /// `name`: the artifact's name when creating an artifact; the version's name on a new version.
    pub name: Option<String>,
    pub description: Option<String>,
    pub version_name: Option<String>,
    pub upload: Upload,
    /// Whether the file's name was given as `fileName` (not taken from an uploaded file's own
    /// name): a new version keeps its document's name unless told otherwise.
    pub file_named: bool,
    /// Its share of the memory budget, held until it is stored (`None` when the request holds
    /// one for all its work: an MCP message).
    pub reservation: Option<Reservation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonUpload {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    file_type: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    /// `""` in the skeleton: the string itself was spooled (`upload_json`).
    content: String,
    #[serde(default)]
    version_name: Option<String>,
    #[serde(default)]
    entry_point: Option<String>,
    /// The hosted API's organisation; this server has none, so it is accepted and ignored.
    #[serde(default, rename = "organizationId")]
    _organization_id: Option<serde_json::Value>,
}

/// Reads the upload like `read`, and tells `once` what it asks for when the request sent an
/// `Idempotency-Key` (its fields and content, so a retry in another multipart framing is the same).
pub async fn read_once(
    state: &AppState,
    req: &mut Request,
    once: Idempotency,
) -> Result<(UploadForm, Idempotency), ApiError> {
    let form = read(state, req).await?;
    if !once.is_keyed() {
        return Ok((form, once));
    }
    let fingerprint = form.fingerprint().await?;
    Ok((form, once.asking(|| fingerprint)))
}

impl UploadForm {
    /// Its fields and content, hashed (a spooled content is read back on a blocking thread).
    async fn fingerprint(&self) -> Result<Fingerprint, ApiError> {
        let mut fields = Asked::new("upload");
        for value in [
            &self.name,
            &self.description,
            &self.version_name,
            &self.upload.file_type,
            &self.upload.file_name,
            &self.upload.entry_point,
        ] {
            fields.optional(value.as_deref());
        }
        fields.field(&[u8::from(self.file_named)]);
        match &self.upload.content {
            UploadContent::Text(text) => fields.field(text.as_bytes()),
            UploadContent::Bytes(bytes) => fields.field(bytes),
            UploadContent::Spooled { content, .. } => {
                let content = content.clone();
                return bulk::run(move || {
                    fields.start_field(content.len());
                    std::io::copy(&mut content.reader(), &mut fields).map_err(|e| {
                        ApiError::Internal(format!("reading a spooled upload back failed: {e}"))
                    })?;
                    Ok(fields.done())
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
        }
        Ok(fields.done())
    }
}

/// Reserves memory for the upload, then reads the body as JSON or multipart, by its Content-Type.
pub async fn read(state: &AppState, req: &mut Request) -> Result<UploadForm, ApiError> {
    let reservation = match state.memory.reserve(Work::Upload).await {
        Ok(reservation) => reservation,
        Err(busy) => return Err(req.refuse_after_body(UPLOAD_BODY_LIMIT, busy).await),
    };
    let content_type = req
        .header(header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_string();
    let body = req
        .body_stream(UPLOAD_BODY_LIMIT)
        .await?
        .counting(state.uploads.clone());
    let dir = state.spool_dir.clone();
    let (fields, upload) = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        multipart(&content_type, body, dir).await?
    } else {
        json(body, dir).await?
    };
    Ok(UploadForm {
        name: fields.name,
        description: fields.description,
        version_name: fields.version_name,
        upload,
        file_named: fields.file_named,
        reservation: Some(reservation),
    })
}

/// The fields that are not the upload itself.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    description: Option<String>,
    version_name: Option<String>,
    /// `fileName` was given (see `UploadForm::file_named`).
    file_named: bool,
}

/// Something the body is fed to a block at a time, on the blocking pool (parsing and writing to
/// disk never run on the async workers).
struct Fed<T> {
    inner: Option<T>,
    pending: Vec<u8>,
    step: fn(&mut T, &[u8]) -> Result<(), ApiError>,
}

impl<T: Send + 'static> Fed<T> {
    fn new(inner: T, step: fn(&mut T, &[u8]) -> Result<(), ApiError>) -> Fed<T> {
        Fed {
            inner: Some(inner),
            pending: Vec::new(),
            step,
        }
    }

    async fn push(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= BLOCK {
            self.run().await?;
        }
        Ok(())
    }

    /// Feeds what is pending and hands the thing back.
    async fn finish(mut self) -> Result<T, ApiError> {
        self.run().await?;
        self.inner
            .take()
            .ok_or_else(|| ApiError::Internal("an upload's parser was lost".into()))
    }

    async fn run(&mut self) -> Result<(), ApiError> {
        let mut inner = self
            .inner
            .take()
            .ok_or_else(|| ApiError::Internal("an upload's parser was lost".into()))?;
        let block = std::mem::take(&mut self.pending);
        let step = self.step;
        let (inner, result) = bulk::run(move || {
            let result = step(&mut inner, &block);
            (inner, result)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("reading an upload failed: {e}")))?;
        self.inner = Some(inner);
        result
    }
}

fn split_error(e: SplitError) -> ApiError {
    match e {
        SplitError::Invalid(_) => ApiError::bad_request("invalid_json", e.to_string()),
        SplitError::FieldsTooLarge => ApiError::bad_request("fields_too_large", e.to_string()),
        SplitError::Spool(e) => spool_failed(e),
    }
}

async fn json(mut body: LimitedBody, dir: PathBuf) -> Result<(Fields, Upload), ApiError> {
    let mut split = Fed::new(JsonSplit::new(&dir), |s, block| {
        s.feed(block).map_err(split_error)
    });
    while let Some(chunk) = body.next().await {
        split.push(&chunk?).await?;
    }
    let split = split.finish().await?;
    let (skeleton, content) = split.finish().map_err(split_error)?;
    let parsed: JsonUpload = parse_json(&skeleton)?;
    let content = match content {
        Some(spooled) => UploadContent::Spooled {
            content: spooled,
            text: true,
        },
        None => UploadContent::Text(parsed.content),
    };
    Ok((
        Fields {
            name: parsed.name,
            description: parsed.description,
            version_name: parsed.version_name,
            file_named: parsed.file_name.is_some(),
        },
        Upload {
            file_type: parsed.file_type,
            file_name: parsed.file_name,
            content,
            entry_point: parsed.entry_point,
        },
    ))
}

fn spool_step(spool: &mut SpoolWriter, block: &[u8]) -> Result<(), ApiError> {
    spool.write(block).map_err(spool_failed)
}

/// An upload that could not be spooled: a full disk is said as such (507), anything else (a
/// folder made read-only, its permissions) needs the operator too (503, logged).
fn spool_failed(e: std::io::Error) -> ApiError {
    if e.kind() == std::io::ErrorKind::StorageFull {
        ApiError::InsufficientStorage
    } else {
        spool_refused(&e.to_string())
    }
}

fn spool_refused(detail: &str) -> ApiError {
    ApiError::Unavailable(format!(
        "the server cannot keep uploads while it checks them: writing its spool, beside the database, failed ({detail}); nothing was stored, and its operator must make that folder writable"
    ))
}

async fn multipart(
    content_type: &str,
    body: LimitedBody,
    dir: PathBuf,
) -> Result<(Fields, Upload), ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_multipart", detail);
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| bad(format!("invalid multipart/form-data Content-Type: {e}")))?;
    // multer sees only that the stream failed; the body's own answer (413, 408) is kept here.
    let failure: Arc<Mutex<Option<ApiError>>> = Arc::default();
    let seen = failure.clone();
    let stream = futures_util::stream::unfold(body, move |mut body| {
        let seen = seen.clone();
        async move {
            match body.next().await? {
                Ok(chunk) => Some((Ok::<Bytes, std::io::Error>(chunk), body)),
                Err(e) => {
                    let message = e.to_string();
                    *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Some((Err(std::io::Error::other(message)), body))
                }
            }
        }
    });
    let body_failure = || taken(&failure);
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields = Fields::default();
    let mut upload = Upload {
        file_type: None,
        file_name: None,
        content: UploadContent::Bytes(Vec::new()),
        entry_point: None,
    };
    let mut content = None;
    let mut part_file_name = None;
    let mut given: Vec<String> = Vec::new();
    loop {
        let next = form.next_field().await;
        let field = match next {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return Err(body_failure()
                    .unwrap_or_else(|| bad(format!("invalid multipart/form-data body: {e}"))))
            }
        };
        let field_name = field.name().unwrap_or_default().to_string();
        once(&mut given, &field_name)?;
        if field_name == "file" || field_name == "content" {
            if field_name == "file" {
                part_file_name = field.file_name().map(str::to_string);
            }
            let spooled = spool_field(field, &dir, &failure).await.map_err(|e| {
                e.unwrap_or_else(|detail| {
                    bad(format!("could not read the field {field_name:?}: {detail}"))
                })
            })?;
            content = Some(UploadContent::Spooled {
                content: spooled,
                text: field_name == "content",
            });
            continue;
        }
        let text = small_field(field, &field_name, &failure).await?;
        match field_name.as_str() {
            "name" => fields.name = Some(text),
            "description" => fields.description = Some(text),
            "versionName" => fields.version_name = Some(text),
            "fileType" => upload.file_type = Some(text),
            "fileName" => upload.file_name = Some(text),
            // The hosted API's organisation: no such thing here, accepted and ignored.
            "organizationId" => {}
            "entryPoint" => upload.entry_point = Some(text),
            other => {
                return Err(bad(format!(
                    "unknown form field {other:?}; the fields are file (or content, the text itself), name, description, versionName, fileType, fileName, entryPoint"
                )))
            }
        }
    }
    upload.content = content.ok_or_else(|| {
        bad("the form has no `file` part: send the file as -F file=@path".to_string())
    })?;
    fields.file_named = upload.file_name.is_some();
    if upload.file_name.is_none() {
        upload.file_name = part_file_name;
    }
    Ok((fields, upload))
}

/// Refuses a form field given before in this form (`given`, the names so far), or the upload given
/// both as a `file` part and as a `content` field: which of two values was meant cannot be known,
/// so neither is taken. Unknown names are refused by the caller, so `given` stays short.
fn once(given: &mut Vec<String>, field_name: &str) -> Result<(), ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_multipart", detail);
    if given.iter().any(|g| g == field_name) {
        return Err(bad(format!(
            "the form field {field_name:?} is given more than once; send each field once (one file per upload)"
        )));
    }
    let upload = ["file", "content"];
    if upload.contains(&field_name) && given.iter().any(|g| upload.contains(&g.as_str())) {
        return Err(bad(
            "the form has both a `file` part and a `content` field; send the upload once, as one of them"
                .to_string(),
        ));
    }
    given.push(field_name.to_string());
    Ok(())
}

/// What reading the body failed with, if that is why multer failed.
fn taken(failure: &Mutex<Option<ApiError>>) -> Option<ApiError> {
    failure.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// A `file` or `content` part, spooled as it arrives. The error is the body's own answer when
/// reading the body failed, else what multer said.
async fn spool_field(
    mut field: multer::Field<'_>,
    dir: &Path,
    failure: &Mutex<Option<ApiError>>,
) -> Result<ingest::Spooled, Result<ApiError, String>> {
    let mut spool = Fed::new(SpoolWriter::new(dir), spool_step);
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => spool.push(&chunk).await.map_err(Ok)?,
            Ok(None) => break,
            Err(e) => return Err(taken(failure).ok_or_else(|| e.to_string())),
        }
    }
    spool
        .finish()
        .await
        .map_err(Ok)?
        .finish()
        .map_err(|e| Ok(spool_failed(e)))
}

/// A short text field (at most `FIELD_MAX` bytes, UTF-8).
async fn small_field(
    mut field: multer::Field<'_>,
    field_name: &str,
    failure: &Mutex<Option<ApiError>>,
) -> Result<String, ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_multipart", detail);
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > FIELD_MAX {
                    return Err(bad(format!(
                        "the form field {field_name:?} is over {FIELD_MAX} bytes; it is a short text"
                    )));
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(taken(failure).unwrap_or_else(|| {
                    bad(format!("could not read the field {field_name:?}: {e}"))
                }))
            }
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| bad(format!("the form field {field_name:?} is not valid UTF-8")))
}

/// Checks and fingerprints the upload on a bulk thread (`bulk`).
pub async fn prepare(upload: Upload) -> Result<Prepared, ApiError> {
    bulk::run(move || ingest::prepare(upload))
        .await
        .map_err(|e| ApiError::Internal(format!("upload check failed: {e}")))?
        .map_err(refused)
}

/// An ingest refusal as a 400 (a spool that failed is the server's fault).
pub fn refused(e: IngestError) -> ApiError {
    match e {
        IngestError::Spool { full: true, .. } => ApiError::InsufficientStorage,
        IngestError::Spool { detail, .. } => spool_refused(&detail),
        other => match other.field() {
            Some(field) => ApiError::invalid(field, other.code(), other.to_string()),
            None => ApiError::bad_request(other.code(), other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::StatusCode;

    #[test]
    fn a_spool_the_disk_refuses_is_the_operators_to_fix_not_a_500() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(
            spool_failed(full).status(),
            StatusCode::INSUFFICIENT_STORAGE
        );
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let refusal = spool_failed(denied);
        assert_eq!(refusal.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            refusal.to_string().contains("nothing was stored"),
            "{refusal}"
        );
        // The same from the checks of a spooled upload (a ZIP's files).
        let spooled = |kind: std::io::ErrorKind| IngestError::Spool {
            detail: std::io::Error::from(kind).to_string(),
            full: kind == std::io::ErrorKind::StorageFull,
        };
        assert_eq!(
            refused(spooled(std::io::ErrorKind::StorageFull)).status(),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(
            refused(spooled(std::io::ErrorKind::ReadOnlyFilesystem)).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
