//! Comments: `GET/POST /api/v1/artifacts/{shareToken}/comments`, `PATCH/DELETE
//! /api/v1/comments/{id}`. Anyone who can see the artifact (its owner, reviewers, and their agents)
//! reads, comments and resolves; only the author edits a comment's text; the author or the
//! artifact's owner deletes it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use warp::reply::Response;

use super::artifacts::visible_by_id;
use super::idempotency::{self, Fingerprint, Idempotency, Pending};
use super::versions::{file_names, no_such_version, parse_number};
use super::views::IdentityView;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::{self, wire};
use crate::http::reply;
use crate::http::request::{self, parse_json, Request, JSON_LIMIT};
use crate::leaks::Scanned;
use crate::scopes;
use crate::state::AppState;
use crate::store::artifacts::{self, Artifact, Role};
use crate::store::audit::{self, AuditCtx, AuditEvent};
use crate::store::comments::{self, Author, Comment, NewComment, Scope, Status};
use crate::store::keys as key_store;
use crate::store::replies::{self, Reply};
use crate::store::versions::Version;
use crate::store::{blobs, share_links, versions, StoreError, Touches};
use crate::target::Target;
use crate::text;
use crate::{ingest, passage};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    pub id: String,
    pub content: String,
    pub author: IdentityView,
    pub resolved: bool,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<IdentityView>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its author last changed its text (null: never).
    pub edited_at: Option<i64>,
    pub version: String,
    pub target: Box<RawValue>,
    /// Written through the artifact's share link, by a person signed in on the link's page.
    pub via_share_link: bool,
    pub replies: Vec<ReplyView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyView {
    pub id: String,
    pub content: String,
    pub author: IdentityView,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its author last changed its text (null: never).
    pub edited_at: Option<i64>,
    /// Written through the artifact's share link, by a person signed in on the link's page.
    pub via_share_link: bool,
}

impl From<Reply> for ReplyView {
    fn from(r: Reply) -> Self {
        ReplyView {
            id: wire(r.id),
            content: r.content,
            author: IdentityView::from(&r.author),
            created_at: r.created_at,
            updated_at: r.updated_at,
            edited_at: r.edited_at,
            via_share_link: r.via_link,
        }
    }
}

impl CommentView {
    pub fn new(c: Comment, replies: Vec<ReplyView>) -> Result<CommentView, ApiError> {
        Ok(CommentView {
            id: wire(c.id),
            content: c.content,
            author: IdentityView::from(&c.author),
            resolved: c.resolved_at.is_some(),
            resolved_at: c.resolved_at,
            resolved_by: c.resolved_by.as_ref().map(IdentityView::from),
            created_at: c.created_at,
            updated_at: c.updated_at,
            edited_at: c.edited_at,
            version: format!("v{}", c.version_number),
            target: RawValue::from_string(c.target).map_err(|e| {
                ApiError::Internal(format!(
                    "stored target of comment {} is not JSON: {e}",
                    c.id
                ))
            })?,
            via_share_link: c.via_link,
            replies,
        })
    }
}

/// Comments as listings show them: the version they are of (`vN` or `all`), oldest first.
#[derive(Serialize)]
pub struct CommentList {
    /// The artifact listed (not part of the answer).
    #[serde(skip)]
    pub artifact_id: i64,
    pub version: String,
    pub comments: Vec<CommentView>,
    /// With `limit`: the cursor of the next page, null on the last.
    #[serde(rename = "nextCursor")]
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `vN` (or N) for one version, `all` for every version; default the latest.
    version: Option<String>,
    /// `open`, `resolved` or `all` (default).
    status: Option<String>,
    /// At most this many comments (1 to `PAGE_MAX`); default: all of them.
    limit: Option<String>,
    /// The `nextCursor` of the page before.
    cursor: Option<String>,
}

/// Most comments in one page of a listing.
pub const PAGE_MAX: u64 = 200;

/// One page of `comments` (oldest first): those after the comment `after` (0: from the start)
/// that `keep` takes, at most `limit`, and the cursor of the next page if there is one.
pub fn page_of(
    comments: Vec<CommentView>,
    after: i64,
    limit: u64,
    keep: impl Fn(&CommentView) -> bool,
) -> (Vec<CommentView>, Option<String>) {
    let mut chosen = Vec::new();
    let mut more = false;
    for comment in comments {
        if ids::parse(&comment.id).unwrap_or(0) <= after || !keep(&comment) {
            continue;
        }
        if chosen.len() as u64 == limit {
            more = true;
            break;
        }
        chosen.push(comment);
    }
    let next = if more {
        chosen.last().map(|c| c.id.clone())
    } else {
        None
    };
    (chosen, next)
}

/// A page cursor (`nextCursor` of the page before); none or empty: from the start.
pub fn parse_cursor(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None | Some("") => Ok(0),
        Some(c) => ids::parse(c).ok_or_else(|| {
            ApiError::invalid(
                "cursor",
                "invalid_cursor",
                "cursor must be the nextCursor of a previous page",
            )
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateComment {
    content: String,
    /// Where the comment is: a file, and usually a passage by its selector(s).
    #[serde(default)]
    target: Option<Box<RawValue>>,
    /// Or the passage as plain text, which the server finds in the file (see `passage`).
    #[serde(default)]
    quote: Option<String>,
    /// With `quote`: words standing close to the occurrence meant, when the quote repeats.
    #[serde(default)]
    near: Option<String>,
    /// With `quote`: the file (default: the latest version's entry point).
    #[serde(default)]
    source: Option<String>,
    /// With `quote`: the passage may be text the page's own scripts write (see `Place::Quote`).
    #[serde(default)]
    scripted: bool,
    /// The version commented on ("v3" or 3); only the latest is allowed. Default: the latest.
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// `POST …/comments?version=vN`: the same choice as the body's `version`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateQuery {
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateComment {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    resolved: Option<bool>,
}

/// Which versions a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    Latest,
    One(i64),
    All,
}

pub fn parse_versions(raw: Option<&str>) -> Result<Versions, ApiError> {
    match raw {
        None | Some("") => Ok(Versions::Latest),
        Some("all") => Ok(Versions::All),
        Some(raw) => parse_number(raw).map(Versions::One).map_err(|_| {
            ApiError::invalid(
                "version",
                "invalid_version",
                format!("version must be a version number (3 or v3) or \"all\"; got {raw:?}"),
            )
        }),
    }
}

pub fn parse_status(raw: Option<&str>) -> Result<Status, ApiError> {
    match raw {
        None | Some("") | Some("all") => Ok(Status::All),
        Some("open") => Ok(Status::Open),
        Some("resolved") => Ok(Status::Resolved),
        Some(other) => Err(ApiError::invalid(
            "status",
            "invalid_status",
            format!("status must be open, resolved or all; got {other:?}"),
        )),
    }
}

/// What one read of a listing finds.
struct Listing {
    artifact_id: i64,
    first_view: Option<i64>,
    label: String,
    comments: Vec<Comment>,
    replies: Vec<Reply>,
}

pub async fn list(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let query: ListQuery = req.query()?;
    let wanted = parse_versions(query.version.as_deref())?;
    let status = parse_status(query.status.as_deref())?;
    let after = parse_cursor(query.cursor.as_deref())?;
    let limit = match query.limit.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<u64>()
                .ok()
                .filter(|n| (1..=PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "limit",
                        "invalid_query",
                        format!("limit must be a whole number from 1 to {PAGE_MAX}; got {raw:?}"),
                    )
                })?,
        ),
    };
    let mut listing = listing(&state, &caller, req.param("shareToken"), wanted, status).await?;
    if limit.is_some() || after > 0 {
        let (page, next) = page_of(listing.comments, after, limit.unwrap_or(u64::MAX), |_| true);
        listing.comments = page;
        listing.next_cursor = next;
    }
    // A typed body (not json!) so each target's raw JSON is written back byte for byte.
    Ok(reply::ok(&listing))
}

/// The comments of an artifact the caller can see, with their replies, oldest first: of one
/// version, the latest, or all, by state. One read, one query per table.
pub async fn listing(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
    wanted: Versions,
    status: Status,
) -> Result<CommentList, ApiError> {
    let token = share_token.to_string();
    let user_id = caller.user.id;
    // One read for the artifact, the version, its comments and their replies: one query per table.
    let listing = state
        .store
        .read(move |conn| {
            let Some(visible) = artifacts::visible(conn, &token, user_id)? else {
                return Ok(Err(ApiError::not_found("artifact")));
            };
            let artifact_id = visible.artifact.id;
            let (scope, label) = match (wanted, visible.artifact.latest_version) {
                (Versions::All, _) => (Scope::Artifact(artifact_id), "all".to_string()),
                (Versions::One(n), _) | (Versions::Latest, Some(n)) => {
                    let Some(version) = versions::active(conn, artifact_id, n)? else {
                        let active = versions::list_active(conn, artifact_id)?;
                        return Ok(Err(no_such_version(n, &active)));
                    };
                    (Scope::Version(version.id), format!("v{n}"))
                }
                (Versions::Latest, None) => return Ok(Err(ApiError::not_found("version"))),
            };
            Ok(Ok(Listing {
                artifact_id,
                first_view: visible.first_view.then_some(artifact_id),
                label,
                comments: comments::list(conn, scope, status)?,
                replies: replies::list(conn, scope, status)?,
            }))
        })
        .await??;
    if let Some(artifact_id) = listing.first_view {
        state
            .store
            .write_content(move |conn| artifacts::mark_viewed(conn, artifact_id, user_id, now_ms()))
            .await?;
    }
    Ok(CommentList {
        artifact_id: listing.artifact_id,
        version: listing.label,
        comments: threads(listing.comments, listing.replies)?,
        next_cursor: None,
    })
}

/// Comments with their replies, in the order given.
pub fn threads(comments: Vec<Comment>, replies: Vec<Reply>) -> Result<Vec<CommentView>, ApiError> {
    let mut by_comment: HashMap<i64, Vec<ReplyView>> = HashMap::new();
    for r in replies {
        by_comment
            .entry(r.comment_id)
            .or_default()
            .push(ReplyView::from(r));
    }
    comments
        .into_iter()
        .map(|c| {
            let replies = by_comment.remove(&c.id).unwrap_or_default();
            CommentView::new(c, replies)
        })
        .collect()
}

pub async fn create(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let once = Idempotency::of(&req)?;
    let query: CreateQuery = req.query()?;
    let bytes = req.body_bytes(JSON_LIMIT).await?;
    let body: CreateComment = parse_json(&bytes)?;
    let once = once.asking(|| Fingerprint::of_body(&req.query, &bytes));
    let (work_state, work_caller) = (state.clone(), caller.clone());
    let share_token = req.param("shareToken").to_string();
    once.run(&state, &caller, async move {
        create_once(&work_state, &work_caller, &share_token, query, body).await
    })
    .await
}

/// A comment as `create` makes it, once per Idempotency-Key.
async fn create_once(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
    query: CreateQuery,
    body: CreateComment,
) -> Result<Response, ApiError> {
    let wanted = requested_version(&query, body.version.as_ref())?;
    let place = match (body.target, body.quote) {
        (Some(target), None) if body.near.is_none() && body.source.is_none() && !body.scripted => {
            Place::Target(target)
        }
        (None, Some(quote)) => Place::Quote {
            quote,
            near: body.near,
            source: body.source,
            scripted: body.scripted,
        },
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid_target",
                "a comment needs target ({\"source\", \"selector\"}; {\"source\"} alone for the whole file) or quote (the passage's text, with near, source and scripted if needed); neither was given",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_target",
                "give either target ({\"source\", \"selector\"}) or quote (the passage's text, with near, source and scripted if needed), not both",
            ))
        }
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "invalid_target",
                "near, source and scripted go with quote, not with target (a target names its file in target.source)",
            ))
        }
    };
    let id = add(state, caller, share_token, &body.content, place, wanted).await?;
    Ok(reply::created(
        &json!({ "id": wire(id), "status": "created" }),
    ))
}

/// Where a new comment goes.
pub enum Place {
    /// A target as the API takes it (stored and returned exactly as given).
    Target(Box<RawValue>),
    /// A passage quoted as plain text in `source` (default: the entry point), found by the server.
    /// `scripted`: it may be text that the HTML page's own scripts write, which is not in the file;
    /// when the server does not find it there, it is kept as given (a `TextQuoteSelector` alone)
    /// and the review page looks for it once the page has run.
    Quote {
        quote: String,
        near: Option<String>,
        source: Option<String>,
        scripted: bool,
    },
    /// A whole file (default: the entry point).
    File { source: Option<String> },
}

/// Comments on the latest version of an artifact the caller can see, as their identity; `wanted`
/// names the version the caller believes is the latest. Returns the new comment's id.
///
/// A passage or file placed by the server (`Quote`, `File`) is placed on the latest version of the
/// moment. When a new version is published between that and the write, and the caller named no
/// version, the comment goes on the new one as placed if the file is the same bytes there, else it
/// is placed again on it (a few times at most), rather than refused for a version the caller never
/// named.
pub async fn add(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
    content: &str,
    place: Place,
    wanted: Option<i64>,
) -> Result<i64, ApiError> {
    let mut attempt = 1;
    loop {
        let (raw_target, target, on) = placed(state, caller, share_token, &place, wanted).await?;
        let added = insert(
            state,
            caller,
            Gate::Account(share_token.to_string()),
            content,
            raw_target,
            target,
            on,
        )
        .await;
        match added {
            Err(e)
                if matches!(on, OnVersion::Placed(_))
                    && attempt < PLACING_ATTEMPTS
                    && matches!(e.code(), "not_latest_version" | "unknown_version") =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// How many times a comment placed by the server is placed before the version it was placed on
/// is reported as no longer the latest (each time, a new version was published meanwhile).
const PLACING_ATTEMPTS: u32 = 5;

/// The target a comment goes in as the API stores it (its JSON and its parsed form), and the
/// version its write must find the latest: the one named (`wanted`), or for a passage or file the
/// server placed without one, the version it was placed on.
async fn placed(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
    place: &Place,
    wanted: Option<i64>,
) -> Result<(String, Target, OnVersion), ApiError> {
    let source = match place {
        Place::Target(raw) => {
            let on = wanted.map_or(OnVersion::Latest, OnVersion::Named);
            return Ok((raw.get().to_string(), parse_target(raw)?, on));
        }
        Place::Quote { source, .. } | Place::File { source } => source.clone(),
    };
    let (version, source) = latest_file(state, caller, share_token, source).await?;
    if let Some(w) = wanted.filter(|w| *w != version.number) {
        return Err(refuse_version(state, version.artifact_id, w, version.number).await?);
    }
    let raw = match place {
        Place::Quote {
            quote,
            near,
            scripted,
            ..
        } => {
            target_of_quote(
                state,
                &version,
                &source,
                quote.clone(),
                near.clone(),
                *scripted,
            )
            .await?
        }
        _ => json!({ "source": source }).to_string(),
    };
    let target =
        parse_target(&RawValue::from_string(raw.clone()).map_err(|e| {
            ApiError::Internal(format!("a target the server built is not JSON: {e}"))
        })?)?;
    let on = match wanted {
        Some(_) => OnVersion::Named(version.number),
        None => OnVersion::Placed(version.number),
    };
    Ok((raw, target, on))
}

/// Why a share link refuses a comment or reply: it does not take them (any more).
pub const COMMENTS_CLOSED: &str =
    "this share link does not take comments; ask the artifact's owner to allow them";

/// How a commenter reaches an artifact: as someone who can see it (by its share token), or
/// through its share link (by the link token's SHA-256), which must still allow comments.
#[derive(Debug, Clone)]
pub enum Gate {
    Account(String),
    Link([u8; 32]),
}

impl Gate {
    /// The artifact behind the gate, checked inside a write; `NotFound` when it is closed.
    fn artifact_id(
        &self,
        conn: &rusqlite::Connection,
        user_id: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        match self {
            Gate::Account(token) => {
                let access =
                    artifacts::access(conn, token, user_id)?.ok_or(StoreError::NotFound)?;
                if access.first_view {
                    artifacts::mark_viewed(conn, access.artifact_id, user_id, now)?;
                }
                Ok(access.artifact_id)
            }
            Gate::Link(hash) => {
                let link = share_links::open(conn, hash)?.ok_or(StoreError::NotFound)?;
                if !link.capabilities.write_comments {
                    return Err(StoreError::Forbidden {
                        code: "comments_closed",
                        message: COMMENTS_CLOSED.into(),
                    });
                }
                Ok(link.artifact_id)
            }
        }
    }
}

/// Which version a new comment goes on, as its writer checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnVersion {
    /// The latest, whichever it is when the comment is written.
    Latest,
    /// This one, which the caller named: refused if it is no longer the latest.
    Named(i64),
    /// The server placed the passage on this one: a newer latest whose file (the target's source)
    /// holds the same bytes takes the comment as placed; any other is refused as for `Named`.
    Placed(i64),
}

/// Adds a comment with a checked target to the latest version behind `gate`, as the caller, on the
/// version `on` says. Returns the new comment's id.
pub async fn insert(
    state: &AppState,
    caller: &Caller,
    gate: Gate,
    content: &str,
    raw_target: String,
    target: Target,
    on: OnVersion,
) -> Result<i64, ApiError> {
    let scanned = Scanned::of(&text::body("content", content, text::COMMENT_MAX)?);
    let touches = scanned.touches();
    let Scanned {
        text: content,
        digests,
    } = scanned;
    let user_id = caller.user.id;
    let agent_id = caller.agent.as_ref().map(|a| a.id);
    let ctx = caller.audit();
    let pending = Pending::current();
    let via_link = matches!(gate, Gate::Link(_));
    // Everything is checked inside the one write: who may see the artifact, which version is the
    // latest (a version published meanwhile makes the requested one old), which files it has.
    let id = state
        .store
        .write_checked(touches, move |conn| -> Result<i64, ApiError> {
            let now = now_ms();
            let artifact_id = gate
                .artifact_id(conn, user_id, now)
                .map_err(not_found_as("artifact"))?;
            let (version_id, number) = versions::latest_id(conn, artifact_id)?
                .ok_or_else(|| ApiError::NotFound("artifact not found".into()))?;
            match on {
                OnVersion::Latest => {}
                OnVersion::Named(wanted) | OnVersion::Placed(wanted) if wanted == number => {}
                OnVersion::Placed(placed)
                    if blobs::same_file(conn, artifact_id, placed, version_id, &target.source)? => {
                }
                OnVersion::Named(wanted) | OnVersion::Placed(wanted) => {
                    let found = versions::by_number(conn, artifact_id, wanted)?;
                    return Err(wrong_version(wanted, number, found.as_ref()));
                }
            }
            if !blobs::exists(conn, version_id, &target.source)? {
                let files = blobs::list(conn, version_id)?;
                return Err(ApiError::invalid(
                    "target.source",
                    "unknown_source",
                    format!(
                        "target.source {:?} is not a file of version {}; its files are: {}",
                        target.source,
                        number,
                        file_names(&files)
                    ),
                ));
            }
            let id = comments::insert(
                conn,
                &NewComment {
                    artifact_id,
                    version_id,
                    user_id,
                    agent_id,
                    content: &content,
                    target: &raw_target,
                    via_link,
                },
                now,
            )?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::CommentCreated {
                    artifact_id,
                    comment_id: id,
                    version: number,
                    source: &target.source,
                },
                now,
            )?;
            revoke_found(conn, &digests, artifact_id, &format!("comment {id}"), now)?;
            idempotency::mark_done(pending.as_ref(), conn, now)?;
            Ok(id)
        })
        .await?;
    Ok(id)
}

/// Revokes the keys whose digests were found in the text of `what` (a comment or a reply) on an
/// artifact, inside the write that stores the text masked.
fn revoke_found(
    conn: &rusqlite::Connection,
    digests: &[[u8; 32]],
    artifact_id: i64,
    what: &str,
    now: i64,
) -> Result<(), StoreError> {
    if digests.is_empty() {
        return Ok(());
    }
    let name = artifacts::get(conn, artifact_id)?.name;
    let place = format!("{what} on the artifact \u{201c}{name}\u{201d}");
    key_store::revoke_leaked(conn, digests, &place, now)?;
    Ok(())
}

/// The latest version of an artifact the caller can see, and the file named (default: its entry
/// point).
async fn latest_file(
    state: &AppState,
    caller: &Caller,
    share_token: &str,
    source: Option<String>,
) -> Result<(Version, String), ApiError> {
    let (artifact, _) = super::artifacts::visible(state, caller, share_token).await?;
    let number = artifact
        .latest_version
        .ok_or_else(|| ApiError::not_found("version"))?;
    let version = super::versions::active_version(state, &artifact, number).await?;
    let source = match source.as_deref().map(str::trim) {
        None | Some("") => version.entry_point.clone(),
        Some(s) => s.to_string(),
    };
    Ok((version, source))
}

/// The target JSON of a passage quoted in plain text: its `TextQuoteSelector` (with context that
/// makes it unique) and `TextPositionSelector`, found in the file's text as the review page sees it.
/// A `scripted` quote that an HTML file's text lacks gets its `TextQuoteSelector` alone.
async fn target_of_quote(
    state: &AppState,
    version: &Version,
    source: &str,
    quote: String,
    near: Option<String>,
    scripted: bool,
) -> Result<String, ApiError> {
    let version_id = version.id;
    let lookup = source.to_string();
    let found = state
        .store
        .read(move |conn| match blobs::read(conn, version_id, &lookup)? {
            Some(file) => Ok(Ok(file)),
            None => Ok(Err(blobs::list(conn, version_id)?)),
        })
        .await?;
    let (file, bytes) = found.map_err(|files| {
        ApiError::invalid(
            "source",
            "unknown_source",
            format!(
                "source {source:?} is not a file of version {}; its files are: {}",
                version.number,
                file_names(&files)
            ),
        )
    })?;
    let markdown = ingest::is_markdown_path(&file.path);
    if !ingest::is_document(&file.path, &file.content_type) {
        return Err(ApiError::bad_request(
            "not_a_document",
            format!(
                "{source:?} is {}, not an HTML or Markdown document: passages can only be quoted in those; leave out quote to comment on the whole file",
                file.content_type
            ),
        ));
    }
    let source = source.to_string();
    let html = document_html(state, &file, bytes).await?;
    let (looked_for, in_file) = (quote.clone(), source.clone());
    // On a bulk thread: a 5 MB document's text takes a while to build, and quotes are placed a
    // few at a time however many are asked for, below the threads that answer requests.
    let placed = crate::bulk::run(move || {
        match passage::locate(&passage::text_of_html(&html), &quote, near.as_deref(), &source) {
            Ok(found) => Ok(json!({
                "source": source,
                "selector": [
                    {"type": "TextQuoteSelector", "exact": found.exact, "prefix": found.prefix, "suffix": found.suffix},
                    {"type": "TextPositionSelector", "start": found.start, "end": found.end},
                ],
            })),
            // A Markdown document runs no scripts: what its text lacks is not there.
            Err(passage::NotPlaced::Missing { .. }) if scripted && !markdown => Ok(json!({
                "source": source,
                "selector": [{"type": "TextQuoteSelector", "exact": quote.trim()}],
            })),
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("placing a quote failed: {e}")))?;
    match placed {
        Ok(target) => Ok(target.to_string()),
        Err(missing @ passage::NotPlaced::Missing { .. }) => {
            // Perhaps it is in another page of the site: say which, before anything else.
            let found = documents_with(state, version, &in_file, &looked_for).await?;
            let message = match found.first() {
                Some(first) => format!(
                    "the quote is not in the text of {in_file}, but it is in {}: pass \"source\": {first:?}",
                    found.join(", ")
                ),
                // A Markdown document runs no scripts: the HTML page's advice does not fit it.
                None if markdown => format!(
                    "the quote is not in the text of {in_file}: copy it exactly as it reads in the rendered document (its words, without Markdown's marks such as **, _, # or [](links))"
                ),
                None => missing.to_string(),
            };
            Err(ApiError::bad_request("quote_not_placed", message))
        }
        Err(long @ passage::NotPlaced::TooLong { .. }) => {
            Err(ApiError::invalid("quote", "too_long", long.to_string()))
        }
        Err(long @ passage::NotPlaced::NearTooLong { .. }) => {
            Err(ApiError::invalid("near", "too_long", long.to_string()))
        }
        Err(other) => Err(ApiError::bad_request("quote_not_placed", other.to_string())),
    }
}

/// A document's HTML as the review page's frame shows it: Markdown rendered (once per content,
/// kept: `rendered_markdown`), an HTML page as it is.
pub(crate) async fn document_html(
    state: &AppState,
    file: &blobs::VersionFile,
    bytes: Vec<u8>,
) -> Result<String, ApiError> {
    if !ingest::is_markdown_path(&file.path) {
        // As the browser reads it: a page in windows-1252 or Shift_JIS too.
        return Ok(ingest::decode_text(&bytes, true).0.into_owned());
    }
    let sha256: [u8; 32] = file.sha256.as_slice().try_into().map_err(|_| {
        ApiError::Internal(format!("the stored hash of {} is not 32 bytes", file.path))
    })?;
    let title = file.path.rsplit('/').next().unwrap_or(&file.path);
    let doc = state
        .rendered
        .get(sha256, title, || async move { Ok(bytes) })
        .await?;
    Ok(String::from_utf8_lossy(&doc).into_owned())
}

/// The version's other documents (HTML or Markdown) whose text holds `quote`, at most five, in
/// path order: for a quote not found in the file it was looked for in.
async fn documents_with(
    state: &AppState,
    version: &Version,
    skip: &str,
    quote: &str,
) -> Result<Vec<String>, ApiError> {
    const AT_MOST: usize = 5;
    let version_id = version.id;
    let files = state
        .store
        .read(move |conn| blobs::list(conn, version_id))
        .await?;
    let mut found = Vec::new();
    for file in files {
        if file.path == skip || !ingest::is_document(&file.path, &file.content_type) {
            continue;
        }
        let sha256 = file.sha256.clone();
        let Some(bytes) = state
            .store
            .read(move |conn| blobs::content(conn, &sha256))
            .await?
        else {
            continue;
        };
        let html = document_html(state, &file, bytes).await?;
        let quote = quote.to_string();
        let holds = crate::bulk::run(move || {
            !matches!(
                passage::locate(&passage::text_of_html(&html), &quote, None, ""),
                Err(passage::NotPlaced::Missing { .. })
            )
        })
        .await
        .map_err(|e| ApiError::Internal(format!("looking for a quote failed: {e}")))?;
        if holds {
            found.push(file.path);
            if found.len() == AT_MOST {
                break;
            }
        }
    }
    Ok(found)
}

/// The version a new comment names, by the query or the body (which must agree), if any.
fn requested_version(
    query: &CreateQuery,
    body: Option<&serde_json::Value>,
) -> Result<Option<i64>, ApiError> {
    let invalid = |got: &dyn std::fmt::Display| {
        ApiError::invalid(
            "version",
            "invalid_version",
            format!("version must be a version number such as \"v2\"; got {got}"),
        )
    };
    let from_query = match query.version.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(parse_number(raw).map_err(|e| e.for_field("version"))?),
    };
    let from_body = match body {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(parse_number(s).map_err(|e| e.for_field("version"))?)
        }
        Some(serde_json::Value::Number(n)) => {
            Some(n.as_i64().filter(|n| *n >= 1).ok_or_else(|| invalid(n))?)
        }
        Some(other) => return Err(invalid(other)),
    };
    match (from_query, from_body) {
        (Some(q), Some(b)) if q != b => Err(ApiError::invalid(
            "version",
            "invalid_version",
            format!("the query names version {q} and the body version {b}; name one"),
        )),
        (q, b) => Ok(q.or(b)),
    }
}

/// Why a new comment cannot go on version `given` when `latest` is the latest: an older version
/// (`found` active) is 400 `not_latest_version`; one the artifact does not have, never made or
/// deleted, is 400 `unknown_version`.
fn wrong_version(given: i64, latest: i64, found: Option<&Version>) -> ApiError {
    let refusal = match found {
        Some(v) if v.deleted_at.is_none() => ApiError::bad_request(
            "not_latest_version",
            format!(
                "comments can only be made on the latest version (v{latest}); v{given} is an older one"
            ),
        ),
        Some(_) => ApiError::bad_request(
            "unknown_version",
            format!("version v{given} was deleted; new comments go on the latest version, v{latest}"),
        ),
        None => ApiError::bad_request(
            "unknown_version",
            format!(
                "version v{given} does not exist; new comments go on the latest version, v{latest}"
            ),
        ),
    };
    refusal.for_field("version")
}

/// `wrong_version` for a caller outside the write: looks the version up first.
async fn refuse_version(
    state: &AppState,
    artifact_id: i64,
    given: i64,
    latest: i64,
) -> Result<ApiError, ApiError> {
    let found = state
        .store
        .read(move |conn| versions::by_number(conn, artifact_id, given))
        .await?;
    Ok(wrong_version(given, latest, found.as_ref()))
}

/// Parses and checks the target, naming the field at fault.
pub fn parse_target(raw: &RawValue) -> Result<Target, ApiError> {
    if !raw.get().starts_with('{') {
        return Err(ApiError::bad_request(
            "invalid_target",
            "invalid request: target must be an object: {\"source\": ..., \"selector\": {...}}",
        ));
    }
    let target: Target = request::parse_locating(raw.get().as_bytes()).map_err(|(at, error)| {
        let at = match at {
            Some(path) => format!("target.{path}"),
            None => "target".to_string(),
        };
        let message = format!("invalid request: {at}: {error}");
        match request::field_at_fault(&error, Some(at)) {
            Some(field) => ApiError::invalid(field, "invalid_target", message),
            None => ApiError::bad_request("invalid_target", message),
        }
    })?;
    target
        .check()
        .map_err(|e| ApiError::invalid(e.field, "invalid_target", e.message))?;
    Ok(target)
}

/// The live comment with this id and its artifact, if the caller may see them; 404 otherwise.
async fn find(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<(Comment, Artifact, Role), ApiError> {
    let id = ids::path_id(raw_id, "comment")?;
    let comment = state
        .store
        .read(move |conn| comments::get(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("comment"))?;
    let (artifact, role) = visible_by_id(state, caller, comment.artifact_id, "comment").await?;
    Ok((comment, artifact, role))
}

fn not_author(what: &str) -> ApiError {
    ApiError::forbidden(
        "not_author",
        format!("only the author of this {what} can change its text (the same person, acting as the same agent or as themself)"),
    )
}

/// One comment with its replies, by its id (as events name it), for whoever may see its artifact.
pub async fn show(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    Ok(reply::ok(&thread(&state, &caller, req.param("id")).await?))
}

pub async fn update(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (comment, _, _) = find(&state, &caller, req.param("id")).await?;
    let body: UpdateComment = req.json().await?;
    Ok(reply::ok(
        &change(&state, &caller, None, comment, body).await?,
    ))
}

/// Changes the text of `comment` (its author only), once `gate` (checked inside the write) still
/// lets the caller in; returns it with its replies.
pub async fn edit(
    state: &AppState,
    caller: &Caller,
    gate: Gate,
    comment: Comment,
    content: String,
) -> Result<CommentView, ApiError> {
    let body = UpdateComment {
        content: Some(content),
        resolved: None,
    };
    change(state, caller, Some(gate), comment, body).await
}

/// The comment `raw_id` with its replies, if the caller may see it; 404 otherwise.
pub async fn thread(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<CommentView, ApiError> {
    let (comment, _, _) = find(state, caller, raw_id).await?;
    let id = comment.id;
    let replies = state
        .store
        .read(move |conn| replies::list_for_comment(conn, id))
        .await?;
    CommentView::new(comment, replies.into_iter().map(ReplyView::from).collect())
}

/// Resolves or reopens the comment `raw_id` as the caller; returns it with its replies.
pub async fn set_resolved(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    resolved: bool,
) -> Result<CommentView, ApiError> {
    let (comment, _, _) = find(state, caller, raw_id).await?;
    let change_of = UpdateComment {
        content: None,
        resolved: Some(resolved),
    };
    change(state, caller, None, comment, change_of).await
}

/// Stores a reply to comment `comment_id` (on `artifact_id`) as the caller, inside a write: the
/// text, the keys found in it revoked, and its event. `via_link`: written through the artifact's
/// share link. Returns the reply's id.
#[allow(clippy::too_many_arguments)]
fn write_reply(
    conn: &rusqlite::Connection,
    ctx: &AuditCtx,
    comment_id: i64,
    artifact_id: i64,
    user_id: i64,
    agent_id: Option<i64>,
    content: &Scanned,
    via_link: bool,
    now: i64,
) -> Result<i64, StoreError> {
    let id = replies::insert(
        conn,
        comment_id,
        user_id,
        agent_id,
        &content.text,
        via_link,
        now,
    )?;
    let place = format!("reply {id} to comment {comment_id}");
    revoke_found(conn, &content.digests, artifact_id, &place, now)?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::ReplyCreated {
            artifact_id,
            reply_id: id,
            comment_id,
        },
        now,
    )?;
    Ok(id)
}

/// Resolves or reopens `comment` as the caller, inside a write, with its event when that changed
/// anything; returns whether it did.
#[allow(clippy::too_many_arguments)]
fn write_resolution(
    conn: &rusqlite::Connection,
    ctx: &AuditCtx,
    comment_id: i64,
    artifact_id: i64,
    version: i64,
    resolved: bool,
    user_id: i64,
    agent_id: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    if !comments::set_resolved(conn, comment_id, resolved, user_id, agent_id, now)? {
        return Ok(false);
    }
    let event = if resolved {
        AuditEvent::CommentResolved {
            artifact_id,
            comment_id,
            version,
        }
    } else {
        AuditEvent::CommentUnresolved {
            artifact_id,
            comment_id,
            version,
        }
    };
    audit::record(conn, ctx, &event, now)?;
    Ok(true)
}

/// Resolves the comment `raw_id` as the caller, with `note` (checked text) posted as a reply in the
/// same write, but only by the call that resolves it: a comment resolved already, by an earlier
/// call or one at the same moment, is left as it is and gets no note. Returns the comment with
/// its replies, and whether this call resolved it.
pub async fn resolve_noting(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    note: Option<String>,
) -> Result<(CommentView, bool), ApiError> {
    let (comment, _, _) = find(state, caller, raw_id).await?;
    let note = note.map(|n| Scanned::of(&n));
    let touches = note.as_ref().map_or(Touches::ContentOnly, Scanned::touches);
    let user_id = caller.user.id;
    let agent_id = caller.agent.as_ref().map(|a| a.id);
    let ctx = caller.audit();
    let (id, artifact_id, version) = (comment.id, comment.artifact_id, comment.version_number);
    let (updated, thread, resolved_now) = state
        .store
        .write_touching(touches, move |conn| {
            let now = now_ms();
            let current = comments::get(conn, id)?.ok_or(StoreError::NotFound)?;
            gate_open(conn, None, user_id, artifact_id, now)?;
            let resolved_now = current.resolved_at.is_none();
            if resolved_now {
                if let Some(note) = &note {
                    write_reply(
                        conn,
                        &ctx,
                        id,
                        artifact_id,
                        user_id,
                        agent_id,
                        note,
                        false,
                        now,
                    )?;
                }
                write_resolution(
                    conn,
                    &ctx,
                    id,
                    artifact_id,
                    version,
                    true,
                    user_id,
                    agent_id,
                    now,
                )?;
            }
            let updated = comments::get(conn, id)?.ok_or(StoreError::NotFound)?;
            Ok((updated, replies::list_for_comment(conn, id)?, resolved_now))
        })
        .await
        .map_err(not_found_as("comment"))?;
    let replies = thread.into_iter().map(ReplyView::from).collect();
    Ok((CommentView::new(updated, replies)?, resolved_now))
}

/// Changes a comment's text (its author only) and/or its state, once `gate` (when given, checked
/// inside the write) still lets the caller in.
async fn change(
    state: &AppState,
    caller: &Caller,
    gate: Option<Gate>,
    comment: Comment,
    body: UpdateComment,
) -> Result<CommentView, ApiError> {
    if body.content.is_none() && body.resolved.is_none() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "give content, resolved, or both",
        ));
    }
    let agent_id = caller.agent.as_ref().map(|a| a.id);
    let content = match &body.content {
        Some(c) => {
            if !comment.author.is(caller.user.id, agent_id) {
                return Err(not_author("comment"));
            }
            Some(Scanned::of(&text::body("content", c, text::COMMENT_MAX)?))
        }
        None => None,
    };
    let touches = content
        .as_ref()
        .map_or(Touches::ContentOnly, Scanned::touches);
    let user_id = caller.user.id;
    let ctx = caller.audit();
    let (id, artifact_id, version) = (comment.id, comment.artifact_id, comment.version_number);
    let (updated, thread) = state
        .store
        .write_touching(touches, move |conn| {
            let now = now_ms();
            gate_open(conn, gate.as_ref(), user_id, artifact_id, now)?;
            if let Some(content) = &content {
                // The same text again changes nothing: not marked edited, no event. A key found
                // in it is revoked all the same.
                let changed = comments::set_content(conn, id, &content.text, now)?;
                revoke_found(
                    conn,
                    &content.digests,
                    artifact_id,
                    &format!("comment {id}"),
                    now,
                )?;
                if changed {
                    audit::record(
                        conn,
                        &ctx,
                        &AuditEvent::CommentUpdated {
                            artifact_id,
                            comment_id: id,
                            version,
                        },
                        now,
                    )?;
                }
            }
            if let Some(resolved) = body.resolved {
                write_resolution(
                    conn,
                    &ctx,
                    id,
                    artifact_id,
                    version,
                    resolved,
                    user_id,
                    agent_id,
                    now,
                )?;
            }
            let updated = comments::get(conn, id)?.ok_or(StoreError::NotFound)?;
            Ok((updated, replies::list_for_comment(conn, id)?))
        })
        .await
        .map_err(not_found_as("comment"))?;
    let replies = thread.into_iter().map(ReplyView::from).collect();
    CommentView::new(updated, replies)
}

/// Whether the caller may delete a `what` (comment or reply) by `author` on an artifact where
/// they have `role`: its author may; the artifact's owner may delete anyone's, with a session or
/// an editor key (moderating goes beyond the commenter scope).
fn may_delete(caller: &Caller, author: &Author, role: Role, what: &str) -> Result<(), ApiError> {
    let agent_id = caller.agent.as_ref().map(|a| a.id);
    if author.is(caller.user.id, agent_id) {
        return Ok(());
    }
    if role != Role::Owner {
        return Err(ApiError::forbidden(
            "not_allowed",
            format!("only the {what}'s author or the artifact's owner can delete it"),
        ));
    }
    caller.require_scope(
        scopes::Scope::Editor,
        &format!("deleting someone else's {what}"),
    )
}

pub async fn delete(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (comment, _, role) = find(&state, &caller, req.param("id")).await?;
    may_delete(&caller, &comment.author, role, "comment")?;
    let deleted_at = remove(&state, &caller, None, &comment).await?;
    Ok(reply::ok(
        &json!({ "id": wire(comment.id), "deletedAt": deleted_at }),
    ))
}

/// Whether the gate, when there is one, still lets `user_id` in to `artifact_id` (inside a write).
fn gate_open(
    conn: &rusqlite::Connection,
    gate: Option<&Gate>,
    user_id: i64,
    artifact_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    match gate {
        Some(gate) if gate.artifact_id(conn, user_id, now)? != artifact_id => {
            Err(StoreError::NotFound)
        }
        Some(_) => Ok(()),
        // Found outside the write: the artifact may have been deleted since, or the caller's
        // access removed.
        None => artifacts::access_by_id(conn, artifact_id, user_id)?
            .map(|_| ())
            .ok_or(StoreError::NotFound),
    }
}

/// Deletes `comment` (whoever may: checked by the caller) once `gate` still lets the caller in;
/// returns when.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    gate: Option<Gate>,
    comment: &Comment,
) -> Result<i64, ApiError> {
    let ctx = caller.audit();
    let user_id = caller.user.id;
    let (id, artifact_id, version) = (comment.id, comment.artifact_id, comment.version_number);
    state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            gate_open(conn, gate.as_ref(), user_id, artifact_id, now)?;
            comments::delete(conn, id, now)?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::CommentDeleted {
                    artifact_id,
                    comment_id: id,
                    version,
                },
                now,
            )?;
            Ok(now)
        })
        .await
        .map_err(not_found_as("comment"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    content: String,
}

pub async fn create_reply(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (comment, _, _) = find(&state, &caller, req.param("id")).await?;
    let once = Idempotency::of(&req)?;
    let bytes = req.body_bytes(JSON_LIMIT).await?;
    let body: ReplyBody = parse_json(&bytes)?;
    let once = once.asking(|| Fingerprint::of_body(&req.query, &bytes));
    let (work_state, work_caller) = (state.clone(), caller.clone());
    once.run(&state, &caller, async move {
        let id = reply_on(&work_state, &work_caller, None, comment, &body.content).await?;
        Ok(reply::created(&json!({ "id": wire(id) })))
    })
    .await
}

/// Replies to the comment `raw_id` as the caller; returns the reply's id.
pub async fn reply_to(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    content: &str,
) -> Result<i64, ApiError> {
    let (comment, _, _) = find(state, caller, raw_id).await?;
    reply_on(state, caller, None, comment, content).await
}

/// Replies to `comment` as the caller, once `gate` (checked inside the write) still lets them in.
pub async fn reply_on(
    state: &AppState,
    caller: &Caller,
    gate: Option<Gate>,
    comment: Comment,
    content: &str,
) -> Result<i64, ApiError> {
    let content = Scanned::of(&text::body("content", content, text::REPLY_MAX)?);
    let touches = content.touches();
    let user_id = caller.user.id;
    let agent_id = caller.agent.as_ref().map(|a| a.id);
    let ctx = caller.audit();
    let (comment_id, artifact_id) = (comment.id, comment.artifact_id);
    let pending = Pending::current();
    let id = state
        .store
        .write_touching(touches, move |conn| {
            // The comment may have been deleted since it was read.
            comments::get(conn, comment_id)?.ok_or(StoreError::NotFound)?;
            let now = now_ms();
            gate_open(conn, gate.as_ref(), user_id, artifact_id, now)?;
            let id = write_reply(
                conn,
                &ctx,
                comment_id,
                artifact_id,
                user_id,
                agent_id,
                &content,
                matches!(gate, Some(Gate::Link(_))),
                now,
            )?;
            idempotency::mark_done(pending.as_ref(), conn, now)?;
            Ok(id)
        })
        .await
        .map_err(not_found_as("comment"))?;
    Ok(id)
}

/// The live reply with this id, if the caller may see its artifact; 404 otherwise.
async fn find_reply(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<(Reply, Role), ApiError> {
    let id = ids::path_id(raw_id, "reply")?;
    let found = state
        .store
        .read(move |conn| replies::get(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("reply"))?;
    let (_, role) = visible_by_id(state, caller, found.artifact_id, "reply").await?;
    Ok((found, role))
}

pub async fn update_reply(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (found, _) = find_reply(&state, &caller, req.param("id")).await?;
    let body: ReplyBody = req.json().await?;
    let updated = edit_reply(&state, &caller, None, found, &body.content).await?;
    Ok(reply::ok(&updated))
}

/// Changes the text of the reply `found` (its author only), once `gate` (when given, checked
/// inside the write) still lets the caller in.
pub async fn edit_reply(
    state: &AppState,
    caller: &Caller,
    gate: Option<Gate>,
    found: Reply,
    content: &str,
) -> Result<ReplyView, ApiError> {
    if !found
        .author
        .is(caller.user.id, caller.agent.as_ref().map(|a| a.id))
    {
        return Err(not_author("reply"));
    }
    let content = Scanned::of(&text::body("content", content, text::REPLY_MAX)?);
    let touches = content.touches();
    let ctx = caller.audit();
    let user_id = caller.user.id;
    let (id, artifact_id, comment_id) = (found.id, found.artifact_id, found.comment_id);
    let updated = state
        .store
        .write_touching(touches, move |conn| {
            let now = now_ms();
            gate_open(conn, gate.as_ref(), user_id, artifact_id, now)?;
            let changed = replies::set_content(conn, id, &content.text, now)?;
            let place = format!("reply {id} to comment {comment_id}");
            revoke_found(conn, &content.digests, artifact_id, &place, now)?;
            if changed {
                audit::record(
                    conn,
                    &ctx,
                    &AuditEvent::ReplyUpdated {
                        artifact_id,
                        reply_id: id,
                        comment_id,
                    },
                    now,
                )?;
            }
            replies::get(conn, id)?.ok_or(StoreError::NotFound)
        })
        .await
        .map_err(not_found_as("reply"))?;
    Ok(ReplyView::from(updated))
}

pub async fn delete_reply(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let (found, role) = find_reply(&state, &caller, req.param("id")).await?;
    may_delete(&caller, &found.author, role, "reply")?;
    let deleted_at = remove_reply(&state, &caller, None, &found).await?;
    Ok(reply::ok(
        &json!({ "id": wire(found.id), "deletedAt": deleted_at }),
    ))
}

/// Deletes the reply `found` (whoever may: checked by the caller) once `gate` still lets the
/// caller in; returns when.
pub async fn remove_reply(
    state: &AppState,
    caller: &Caller,
    gate: Option<Gate>,
    found: &Reply,
) -> Result<i64, ApiError> {
    let ctx = caller.audit();
    let user_id = caller.user.id;
    let (id, artifact_id, comment_id) = (found.id, found.artifact_id, found.comment_id);
    state
        .store
        .write_content(move |conn| {
            let now = now_ms();
            gate_open(conn, gate.as_ref(), user_id, artifact_id, now)?;
            replies::delete(conn, id, now)?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::ReplyDeleted {
                    artifact_id,
                    reply_id: id,
                    comment_id,
                },
                now,
            )?;
            Ok(now)
        })
        .await
        .map_err(not_found_as("reply"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(json: &str) -> String {
        let raw: Box<RawValue> = serde_json::from_str(json).expect("well-formed test JSON");
        match parse_target(&raw) {
            Err(
                ApiError::BadRequest { code, message } | ApiError::Invalid { code, message, .. },
            ) => {
                assert_eq!(code, "invalid_target");
                message
            }
            other => panic!("{json} was not refused as a bad target: {other:?}"),
        }
    }

    #[test]
    fn a_good_target_parses_and_a_bad_one_names_the_field_at_fault() {
        let target = parse_target(
            &serde_json::from_str::<Box<RawValue>>(
                r#"{"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "hi"}}"#,
            )
            .expect("well-formed test JSON"),
        )
        .expect("a good target");
        assert_eq!(target.source, "index.html");

        let wrong_type = refusal(r#"{"source": 5}"#);
        assert!(
            wrong_type.starts_with("invalid request: target.source: invalid type: integer `5`"),
            "{wrong_type}"
        );
        let unknown = refusal(r#"{"source": "a", "anchor": 1}"#);
        assert!(
            unknown.starts_with("invalid request: target.anchor: unknown field `anchor`"),
            "{unknown}"
        );
        let missing = refusal(r#"{"selector": {"type": "CssSelector", "value": "p"}}"#);
        assert!(
            missing.starts_with("invalid request: target: missing field `source`"),
            "{missing}"
        );
        let not_an_object = refusal("[1]");
        assert!(
            not_an_object.contains("target must be an object"),
            "{not_an_object}"
        );
    }
}
