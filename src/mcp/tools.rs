//! What each MCP tool does: it reads its arguments (refusing unknown or mistyped ones with a
//! message that says what to change) and calls the same service functions as the REST routes,
//! as the key's identity, so attribution, visibility (404 for what the caller cannot see) and
//! every limit are the API's.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use warp::http::HeaderMap;

use super::catalog::{
    fit_replies, COMMENTS_DEFAULT, COMMENTS_MAX, READ_DEFAULT_CHARS, READ_MAX_CHARS,
    RECENT_REPLIES, REPLIES_PAGE, RESULT_BUDGET, WAIT_DEFAULT_SECONDS, WAIT_MAX_SECONDS,
};
use super::feedback;
use crate::api::artifacts::{self as artifact_api, owned, visible};
use crate::api::carried;
use crate::api::comments::{self as comment_api, Place, Versions};
use crate::api::idempotency::{Fingerprint, Idempotency, MCP_METHOD};
use crate::api::upload::UploadForm;
use crate::api::versions as version_api;
use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::http::ids::IdValue;
use crate::ingest::{self, Upload, UploadContent};
use crate::state::AppState;
use crate::store::blobs;
use crate::store::comments::Status;
use crate::text;

/// Runs tool `name` (known to exist) with `arguments`; the structured result, or the API's refusal.
pub async fn call(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    name: &str,
    arguments: Value,
) -> Result<Box<RawValue>, ApiError> {
    match name {
        "whoami" => {
            let _: NoArgs = args(arguments)?;
            structured(&crate::api::me::view(caller))
        }
        "list_artifacts" => list_artifacts(state, caller, args(arguments)?).await,
        "get_artifact" => structured(&get_artifact(state, caller, args(arguments)?).await?),
        "read_file" => structured(&read_file(state, caller, args(arguments)?).await?),
        "publish_artifact" | "publish_version" | "add_comment" | "reply" => {
            // What creates runs once per clientRequestId: a call repeated after a lost answer
            // gets the first answer again (the REST routes' Idempotency-Key).
            let mut arguments = arguments;
            let id = match arguments
                .as_object_mut()
                .and_then(|o| o.remove("clientRequestId"))
            {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => Some(id),
                Some(other) => {
                    return Err(ApiError::invalid(
                        "clientRequestId",
                        "invalid_arguments",
                        format!("clientRequestId must be a string; got {other}"),
                    ))
                }
            };
            let once = Idempotency::keyed(id.as_deref(), "clientRequestId", MCP_METHOD, name)?
                .asking(|| Fingerprint::of_json(&arguments));
            let (work_state, work_caller, work_name) =
                (state.clone(), caller.clone(), name.to_string());
            once.run_json(state, caller, async move {
                creating(&work_state, &work_caller, &work_name, arguments).await
            })
            .await
        }
        "list_comments" => structured(&list_comments(state, caller, args(arguments)?).await?),
        "get_comment" => structured(&get_comment(state, caller, args(arguments)?).await?),
        "add_reviewer" => {
            let a: AddReviewerArgs = args(arguments)?;
            structured(
                &crate::api::access::add_reviewer(state, caller, &a.share_token, &a.email, None)
                    .await?,
            )
        }
        "resolve" => {
            let a: ResolveArgs = args(arguments)?;
            // Idempotent, as the tool says: a comment resolved already is left as it is, and the
            // note is not posted again (a client may retry the call).
            let note = match &a.note {
                Some(note) => Some(text::body("note", note, text::REPLY_MAX)?),
                None => None,
            };
            let noted = note.is_some();
            // One write: of calls made at the same moment, only the one that resolves posts.
            let (view, resolved_now) =
                comment_api::resolve_noting(state, caller, &a.comment_id, note).await?;
            let mut out = to_value(&view)?;
            if noted && !resolved_now {
                out["notice"] = json!(
                    "the comment was resolved already: it is left as it is, and the note was not posted (reply to add one)"
                );
            }
            structured(&out)
        }
        "reopen" => {
            let a: CommentArgs = args(arguments)?;
            structured(&comment_api::set_resolved(state, caller, &a.comment_id, false).await?)
        }
        "wait_for_feedback" => {
            let a: WaitArgs = args(arguments)?;
            let seconds = a.timeout_seconds.unwrap_or(WAIT_DEFAULT_SECONDS);
            out_of_range("timeoutSeconds", seconds, 1, WAIT_MAX_SECONDS)?;
            let found = feedback::wait(
                state,
                caller,
                headers,
                a.share_token.as_deref(),
                a.after.as_deref(),
                std::time::Duration::from_secs(seconds),
            )
            .await?;
            structured(&found)
        }
        other => Err(ApiError::Internal(format!(
            "the catalogue lists the tool {other:?} but nothing runs it"
        ))),
    }
}

/// Arguments into their type; a refusal names the argument at fault.
fn args<T: DeserializeOwned>(arguments: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        ApiError::bad_request(
            "invalid_arguments",
            format!(
                "invalid arguments: {at}{}; see the tool's inputSchema",
                crate::http::request::in_plain_words(&e.inner().to_string())
            ),
        )
    })
}

/// A tool's result, serialised once: it travels as `structuredContent` and, as text, in `content`.
fn structured<T: serde::Serialize>(value: &T) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| ApiError::Internal(format!("serialising a result: {e}")))
}

/// A publication's result with its `lastEventId` (the newest event before it was written, taken
/// in its write) as the `cursor`: passed to `wait_for_feedback` as `after`, it hears of every
/// comment made after the publication, however soon (the publication's own events are the
/// caller's, which a wait never reports).
async fn published<T: serde::Serialize>(
    publish: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<Box<RawValue>, ApiError> {
    let mut out = to_value(&publish.await?)?;
    if let Some(fields) = out.as_object_mut() {
        if let Some(cursor) = fields.remove("lastEventId") {
            fields.insert("cursor".into(), cursor);
        }
    }
    structured(&out)
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::Internal(format!("serialising a result: {e}")))
}

fn out_of_range(field: &str, got: u64, min: u64, max: u64) -> Result<(), ApiError> {
    if (min..=max).contains(&got) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "invalid_arguments",
        format!("{field} must be from {min} to {max}; got {got}"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListArtifactsArgs {
    q: Option<String>,
    sort: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
}

async fn list_artifacts(
    state: &AppState,
    caller: &Caller,
    a: ListArtifactsArgs,
) -> Result<Box<RawValue>, ApiError> {
    let limit = a.limit.map(|l| l.to_string());
    let page = artifact_api::list_page(
        state,
        caller,
        Some(a.sort.as_deref().unwrap_or("activity")),
        a.cursor.as_deref(),
        a.q.as_deref(),
        limit.as_deref(),
    )
    .await?;
    structured(&page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ArtifactArgs {
    share_token: String,
    /// 3, "3" or "v3", as listings say it.
    version: Option<Value>,
}

/// The version asked for, or the latest.
fn version_of(
    artifact: &crate::store::artifacts::Artifact,
    wanted: Option<Value>,
) -> Result<i64, ApiError> {
    match wanted {
        None | Some(Value::Null) => artifact
            .latest_version
            .ok_or_else(|| ApiError::not_found("version")),
        Some(Value::Number(n)) => version_api::parse_number(&n.to_string()),
        Some(Value::String(s)) => version_api::parse_number(s.trim()),
        Some(other) => Err(ApiError::bad_request(
            "invalid_version",
            format!("version must be a version number (3, \"3\" or \"v3\"); got {other}"),
        )),
    }
}

async fn get_artifact(
    state: &AppState,
    caller: &Caller,
    a: ArtifactArgs,
) -> Result<Value, ApiError> {
    let detail = artifact_api::detail(state, caller, &a.share_token).await?;
    let (artifact, _) = visible(state, caller, &a.share_token).await?;
    let number = version_of(&artifact, a.version)?;
    let files = version_api::files_of(state, &artifact, number).await?;
    Ok(json!({
        "artifact": to_value(&detail.artifact)?,
        "versions": to_value(&detail.versions)?,
        "version": number,
        "entryPoint": files.entry_point,
        "files": to_value(&files.files)?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReadArgs {
    share_token: String,
    /// 3, "3" or "v3", as listings say it.
    version: Option<Value>,
    path: Option<String>,
    offset: Option<u64>,
    max_chars: Option<u64>,
}

/// Content types that are text whatever their subtype.
fn is_textual(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("xml")
        || content_type.contains("javascript")
        || content_type.contains("yaml")
}

async fn read_file(state: &AppState, caller: &Caller, a: ReadArgs) -> Result<Value, ApiError> {
    let max = a.max_chars.unwrap_or(READ_DEFAULT_CHARS);
    out_of_range("maxChars", max, 1, READ_MAX_CHARS)?;
    let (artifact, _) = visible(state, caller, &a.share_token).await?;
    let number = version_of(&artifact, a.version)?;
    let path = match a.path.as_deref().map(str::trim) {
        None | Some("") => {
            version_api::files_of(state, &artifact, number)
                .await?
                .entry_point
        }
        Some(p) => p.to_string(),
    };
    let (file, bytes) = version_api::file_bytes(state, &artifact, number, &path).await?;
    let base = json!({
        "path": file.path, "version": number, "contentType": file.content_type, "size": file.size,
    });
    // Text in a legacy encoding (windows-1252, Shift_JIS) is read as the browser reads it, and
    // says which encoding that was.
    let text = if is_textual(&file.content_type) {
        let html = file.content_type.starts_with("text/html");
        let (text, encoding) = ingest::decode_text(&bytes, html);
        Some((text.into_owned(), encoding))
    } else {
        None
    };
    let Some((text, encoding)) = text else {
        let mut out = base;
        out["binary"] = json!(true);
        out["text"] = Value::Null;
        out["note"] = json!(format!(
            "{} is {} ({} bytes), not text: it is not returned here. A person sees it on the review page, {}/a/{}/v/{number}/{}",
            file.path, file.content_type, file.size, state.site.base_url, artifact.share_token, file.path
        ));
        return Ok(out);
    };
    let offset = a.offset.unwrap_or(0) as usize;
    let total = text.chars().count();
    let part: String = text.chars().skip(offset).take(max as usize).collect();
    let end = (offset + part.chars().count()).min(total);
    let mut out = base;
    out["binary"] = json!(false);
    out["text"] = json!(part);
    out["offset"] = json!(offset);
    out["totalChars"] = json!(total);
    out["truncated"] = json!(end < total);
    out["nextOffset"] = if end < total { json!(end) } else { Value::Null };
    out["encoding"] = json!(encoding);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PublishArgs {
    /// Taken out before the arguments are read (`clientRequestId`); named here so that a refused
    /// unknown argument lists it among the ones the tool takes.
    #[serde(rename = "clientRequestId", default)]
    _client_request_id: Option<serde::de::IgnoredAny>,
    name: String,
    description: Option<String>,
    version_name: Option<String>,
    content: String,
    file_type: Option<String>,
    file_name: Option<String>,
    entry_point: Option<String>,
}

async fn publish_artifact(
    state: &AppState,
    caller: &Caller,
    a: PublishArgs,
) -> Result<Box<RawValue>, ApiError> {
    let form = UploadForm {
        name: Some(a.name),
        description: a.description,
        version_name: a.version_name,
        file_named: a.file_name.is_some(),
        upload: Upload {
            file_type: a.file_type,
            file_name: a.file_name,
            content: UploadContent::Text(a.content),
            entry_point: a.entry_point,
        },
        // The message's reservation (`handle`) covers it.
        reservation: None,
    };
    published(artifact_api::create_from(state, caller, form)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PublishVersionArgs {
    /// Taken out before the arguments are read (`clientRequestId`); named here so that a refused
    /// unknown argument lists it among the ones the tool takes.
    #[serde(rename = "clientRequestId", default)]
    _client_request_id: Option<serde::de::IgnoredAny>,
    share_token: String,
    name: Option<String>,
    content: String,
    file_type: Option<String>,
    file_name: Option<String>,
    entry_point: Option<String>,
}

async fn publish_version(
    state: &AppState,
    caller: &Caller,
    a: PublishVersionArgs,
) -> Result<Box<RawValue>, ApiError> {
    let artifact = owned(state, caller, &a.share_token).await?;
    let form = UploadForm {
        name: a.name,
        description: None,
        version_name: None,
        file_named: a.file_name.is_some(),
        upload: Upload {
            file_type: a.file_type,
            file_name: a.file_name,
            content: UploadContent::Text(a.content),
            entry_point: a.entry_point,
        },
        // The message's reservation (`handle`) covers it.
        reservation: None,
    };
    published(version_api::publish(state, caller, &artifact, form)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListCommentsArgs {
    share_token: String,
    status: Option<String>,
    version: Option<Value>,
    source: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
}

/// The tools that create something, once their `clientRequestId` is taken out.
async fn creating(
    state: &AppState,
    caller: &Caller,
    name: &str,
    arguments: Value,
) -> Result<Box<RawValue>, ApiError> {
    match name {
        "publish_artifact" => publish_artifact(state, caller, args(arguments)?).await,
        "publish_version" => publish_version(state, caller, args(arguments)?).await,
        "add_comment" => add_comment(state, caller, args(arguments)?).await,
        _ => {
            let a: ReplyArgs = args(arguments)?;
            let id = comment_api::reply_to(state, caller, &a.comment_id, &a.content).await?;
            // The thread as it is now, and which reply is the caller's new one (others may have
            // replied at the same moment).
            let mut out = to_value(&comment_api::thread(state, caller, &a.comment_id).await?)?;
            out["replyId"] = json!(crate::http::ids::wire(id));
            structured(&out)
        }
    }
}

async fn list_comments(
    state: &AppState,
    caller: &Caller,
    a: ListCommentsArgs,
) -> Result<Value, ApiError> {
    let limit = a.limit.unwrap_or(COMMENTS_DEFAULT);
    out_of_range("limit", limit, 1, COMMENTS_MAX)?;
    let versions = match &a.version {
        None => Versions::All,
        Some(Value::Number(n)) => comment_api::parse_versions(Some(&n.to_string()))?,
        Some(Value::String(s)) => comment_api::parse_versions(Some(s))?,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_arguments",
                format!("version must be a version number or \"all\"; got {other}"),
            ))
        }
    };
    let status = match a.status.as_deref() {
        None => Status::Open,
        raw => comment_api::parse_status(raw)?,
    };
    let after = comment_api::parse_cursor(a.cursor.as_deref())?;
    let listing = comment_api::listing(state, caller, &a.share_token, versions, status).await?;
    if let Some(source) = a.source.clone() {
        // A file the artifact never had is a mistake to say, not an empty list.
        let artifact_id = listing.artifact_id;
        let lookup = source.clone();
        let known = state
            .store
            .read(move |conn| blobs::in_any_version(conn, artifact_id, &lookup))
            .await?;
        if !known {
            return Err(ApiError::invalid(
                "source",
                "unknown_source",
                format!("source {source:?} is not a file of any version of this artifact; leave it out for every file"),
            ));
        }
    }
    let (chosen, next) = comment_api::page_of(listing.comments, after, limit, |comment| {
        a.source.as_ref().is_none_or(|source| {
            let on: Value = serde_json::from_str(comment.target.get()).unwrap_or_default();
            on["source"].as_str() == Some(source.as_str())
        })
    });
    // Each thread with its newest replies; as many threads as the result's budget holds.
    let standing = carried::in_latest(state, listing.artifact_id, &chosen).await?;
    let mut threads = Vec::new();
    let mut size = 0;
    let mut last_shown = None;
    let chosen_count = chosen.len();
    for (mut comment, in_latest) in chosen.into_iter().zip(standing) {
        let id = comment.id.clone();
        let mut omitted = comment.replies.len().saturating_sub(RECENT_REPLIES);
        comment.replies.drain(..omitted);
        // Long replies: fewer of them, so that one thread fits a result too.
        omitted += fit_replies(&mut comment);
        let mut thread = to_value(&comment)?;
        thread["inLatest"] = to_value(&in_latest)?;
        thread["earlierRepliesOmitted"] = json!(omitted);
        let length = thread.to_string().len();
        if !threads.is_empty() && size + length > RESULT_BUDGET {
            break;
        }
        size += length;
        threads.push(thread);
        last_shown = Some(id);
    }
    // Stopped before the page's end: the next page starts after the last thread shown.
    let next = if threads.len() < chosen_count {
        last_shown
    } else {
        next
    };
    Ok(json!({
        "version": listing.version,
        "comments": threads,
        "nextCursor": next,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddReviewerArgs {
    share_token: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GetCommentArgs {
    #[serde(deserialize_with = "id_text")]
    comment_id: String,
    replies_cursor: Option<String>,
}

/// One thread with a page of its replies (after `repliesCursor`), as many as `REPLIES_PAGE` and
/// the result's budget hold.
async fn get_comment(
    state: &AppState,
    caller: &Caller,
    a: GetCommentArgs,
) -> Result<Value, ApiError> {
    let after = match a.replies_cursor.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(raw) => crate::http::ids::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "repliesCursor",
                "invalid_cursor",
                "repliesCursor must be the nextRepliesCursor of a previous get_comment",
            )
        })?,
    };
    let mut thread = comment_api::thread(state, caller, &a.comment_id).await?;
    let replies = std::mem::take(&mut thread.replies);
    let mut size = serde_json::to_string(&thread).map_or(0, |t| t.len());
    let mut more = false;
    for reply in replies {
        if crate::http::ids::parse(&reply.id).unwrap_or(0) <= after {
            continue;
        }
        let length = serde_json::to_string(&reply).map_or(0, |r| r.len());
        let page = &thread.replies;
        if page.len() == REPLIES_PAGE || (!page.is_empty() && size + length > RESULT_BUDGET) {
            more = true;
            break;
        }
        size += length;
        thread.replies.push(reply);
    }
    let next = if more {
        thread.replies.last().map(|r| r.id.clone())
    } else {
        None
    };
    let mut out = to_value(&thread)?;
    out["nextRepliesCursor"] = json!(next);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddCommentArgs {
    /// Taken out before the arguments are read (`clientRequestId`); named here so that a refused
    /// unknown argument lists it among the ones the tool takes.
    #[serde(rename = "clientRequestId", default)]
    _client_request_id: Option<serde::de::IgnoredAny>,
    share_token: String,
    content: String,
    quote: Option<String>,
    near: Option<String>,
    source: Option<String>,
    #[serde(default)]
    scripted: bool,
}

async fn add_comment(
    state: &AppState,
    caller: &Caller,
    a: AddCommentArgs,
) -> Result<Box<RawValue>, ApiError> {
    let place = match a.quote {
        Some(quote) => Place::Quote {
            quote,
            near: a.near,
            source: a.source,
            scripted: a.scripted,
        },
        None if a.near.is_some() || a.scripted => {
            return Err(ApiError::bad_request(
                "invalid_arguments",
                "near and scripted only help find a quote: give quote too, or leave them out to comment on the whole file",
            ))
        }
        None => Place::File { source: a.source },
    };
    let id = comment_api::add(state, caller, &a.share_token, &a.content, place, None).await?;
    structured(&comment_api::thread(state, caller, &crate::http::ids::wire(id)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReplyArgs {
    /// Taken out before the arguments are read (`clientRequestId`); named here so that a refused
    /// unknown argument lists it among the ones the tool takes.
    #[serde(rename = "clientRequestId", default)]
    _client_request_id: Option<serde::de::IgnoredAny>,
    #[serde(deserialize_with = "id_text")]
    comment_id: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ResolveArgs {
    #[serde(deserialize_with = "id_text")]
    comment_id: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CommentArgs {
    #[serde(deserialize_with = "id_text")]
    comment_id: String,
}

/// An id as the tools give it (a string such as "12"), also taken as the number it looks like:
/// models often send it so.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match IdValue::deserialize(d)? {
        IdValue::Text(text) => text,
        IdValue::Number(n) => n.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WaitArgs {
    share_token: Option<String>,
    timeout_seconds: Option<u64>,
    after: Option<String>,
}
