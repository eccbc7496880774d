//! Reading an upload from the request: a JSON body (`content` as text, or base64 for a ZIP) or
//! `multipart/form-data` with a `file` part. The bytes are then checked by `ingest` on a blocking
//! thread.

use bytes::Bytes;
use serde::Deserialize;
use warp::http::header;

use super::request::{parse_json, Request};
use crate::error::ApiError;
use crate::ingest::{self, IngestError, Prepared, Upload, UploadContent};

/// Transport limit for upload bodies: a 50 MB ZIP in base64 (69,905,068 bytes) plus JSON or
/// multipart framing.
pub const UPLOAD_BODY_LIMIT: u64 = 72 * 1024 * 1024;

/// An upload with the fields that travel with it.
pub struct UploadForm {
    /// `name`: the artifact's name when creating an artifact; the version's name on a new version.
    pub name: Option<String>,
    pub description: Option<String>,
    pub version_name: Option<String>,
    pub upload: Upload,
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
    content: String,
    #[serde(default)]
    version_name: Option<String>,
    #[serde(default)]
    entry_point: Option<String>,
    /// The hosted API's organisation; this server has none, so it is accepted and ignored.
    #[serde(default, rename = "organizationId")]
    _organization_id: Option<serde_json::Value>,
}

/// Reads the body as JSON or multipart, by its Content-Type.
pub async fn read(req: &mut Request) -> Result<UploadForm, ApiError> {
    let content_type = req
        .header(header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_string();
    let body = req.body_bytes(UPLOAD_BODY_LIMIT).await?;
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        multipart(&content_type, body).await
    } else {
        let parsed: JsonUpload = parse_json(&body)?;
        drop(body);
        Ok(UploadForm {
            name: parsed.name,
            description: parsed.description,
            version_name: parsed.version_name,
            upload: Upload {
                file_type: parsed.file_type,
                file_name: parsed.file_name,
                content: UploadContent::Text(parsed.content),
                entry_point: parsed.entry_point,
            },
        })
    }
}

async fn multipart(content_type: &str, body: Bytes) -> Result<UploadForm, ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_multipart", detail);
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| bad(format!("invalid multipart/form-data Content-Type: {e}")))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut out = UploadForm {
        name: None,
        description: None,
        version_name: None,
        upload: Upload {
            file_type: None,
            file_name: None,
            content: UploadContent::Bytes(Vec::new()),
            entry_point: None,
        },
    };
    let mut content = None;
    let mut part_file_name = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("invalid multipart/form-data body: {e}")))?
    {
        let field_name = field.name().unwrap_or_default().to_string();
        if field_name == "file" {
            part_file_name = field.file_name().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| bad(format!("could not read the file part: {e}")))?;
            content = Some(UploadContent::Bytes(bytes.to_vec()));
            continue;
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|e| bad(format!("could not read the field {field_name:?}: {e}")))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| bad(format!("the form field {field_name:?} is not valid UTF-8")))?;
        match field_name.as_str() {
            "name" => out.name = Some(text),
            "description" => out.description = Some(text),
            "versionName" => out.version_name = Some(text),
            "fileType" => out.upload.file_type = Some(text),
            "fileName" => out.upload.file_name = Some(text),
            // The hosted API's organisation: no such thing here, accepted and ignored.
            "organizationId" => {}
            "entryPoint" => out.upload.entry_point = Some(text),
            "content" => content = Some(UploadContent::Text(text)),
            other => {
                return Err(bad(format!(
                    "unknown form field {other:?}; the fields are file, name, description, versionName, fileType, fileName, entryPoint"
                )))
            }
        }
    }
    out.upload.content = content.ok_or_else(|| {
        bad("the form has no `file` part: send the file as -F file=@path".to_string())
    })?;
    if out.upload.file_name.is_none() {
        out.upload.file_name = part_file_name;
    }
    Ok(out)
}

/// Checks and fingerprints the upload on a blocking thread.
pub async fn prepare(upload: Upload) -> Result<Prepared, ApiError> {
    tokio::task::spawn_blocking(move || ingest::prepare(upload))
        .await
        .map_err(|e| ApiError::Internal(format!("upload check failed: {e}")))?
        .map_err(refused)
}

/// An ingest refusal as a 400.
pub fn refused(e: IngestError) -> ApiError {
    ApiError::bad_request(e.code(), e.to_string())
}
