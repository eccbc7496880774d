//! `wait_for_feedback`: an agent waits, up to a timeout, until someone else comments or replies on
//! an artifact (or on any artifact it can see), and gets those threads. It listens to the same
//! announcements as the review page's live event stream (the writer's, after each commit) and
//! reads the audit trail, so nothing committed between two calls is missed when the agent passes
//! back the cursor it was given. A wait holds a connection, so it counts against the same caps as
//! the event streams (16 per account, 1,024 in all).

use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use tokio::sync::broadcast;
use warp::http::{HeaderMap, Method};

use super::catalog::{fit_replies, RECENT_REPLIES};
use crate::api::artifacts::visible;
use crate::api::comments::{self as comment_api, CommentView};
use crate::auth::{self, Caller};
use crate::clock::{instant_at, now_ms};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::feed::Change;
use crate::store::{artifacts, audit};

/// Feedback returned by one wait at most (the rest comes with the next call).
const BATCH: i64 = 50;

/// What a wait found.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub timed_out: bool,
    /// Pass it back as `after` to go on from here.
    pub cursor: String,
    pub feedback: Vec<Item>,
}

/// One thread that has news for the caller, as it is now: new (`comment`), reopened (`reopened`: a
/// fix was not accepted), with new replies (`reply`), or edited by someone else (`edited`), the
/// first that applies. A thread comes with its newest replies and the newest of its new and
/// edited ones.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub kind: &'static str,
    pub share_token: String,
    pub artifact_name: String,
    /// The first new reply, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<String>,
    /// Every new reply, oldest first.
    pub new_reply_ids: Vec<String>,
    /// Every reply edited by its author meanwhile (shown in `comment.replies`, however old).
    pub edited_reply_ids: Vec<String>,
    /// Replies of the thread left out of `comment.replies` (get_comment has them all).
    pub earlier_replies_omitted: usize,
    pub comment: CommentView,
}

/// Waits up to `timeout` for feedback after the event `after` (default: now). `headers` are the
/// request's: when keys or memberships change meanwhile, the key they carry is checked again, and
/// a wait whose key was revoked (or that may no longer see the artifact) ends with that refusal.
/// A server shutting down ends it early as a timeout, with the cursor to go on from.
pub async fn wait(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    share_token: Option<&str>,
    after: Option<&str>,
    timeout: Duration,
) -> Result<Found, ApiError> {
    let only = match share_token {
        Some(token) => Some(visible(state, caller, token).await?.0.id),
        None => None,
    };
    let after = match after.map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "after must be the cursor a previous wait_for_feedback returned",
            )
        })?),
    };
    let _slot = state
        .event_streams
        .take(caller.user.id, caller.key().map(|k| k.id))?;
    // Listen before reading, so a comment committed in between wakes us.
    let mut changes = state.store.changes();
    // A cursor beyond the newest event (from before a restore, or made up) would wait for events
    // that may never come under those numbers: it goes on from the newest, as the event stream does.
    let newest = state.store.read(audit::newest).await?;
    let mut cursor = after.map_or(newest, |after| after.min(newest));
    let deadline = tokio::time::Instant::now() + timeout;
    // A key that expires during the wait ends it then, as a revoked one does.
    let expiry = caller.credential_expires_at();
    let expires = async {
        match expiry {
            Some(at) => tokio::time::sleep_until(instant_at(at)).await,
            None => std::future::pending().await,
        }
    }
    .fuse();
    tokio::pin!(expires);
    let mut shutdown = state.shutdown.clone();
    loop {
        if expiry.is_some_and(|at| now_ms() >= at) {
            still_allowed(state, caller, headers, share_token).await?;
        }
        let (user_id, agent_id) = (caller.user.id, caller.agent.as_ref().map(|a| a.id));
        let from = cursor;
        let events = state
            .store
            .read(move |conn| audit::feedback_after(conn, user_id, agent_id, only, from, BATCH))
            .await?;
        if let Some(last) = events.last() {
            cursor = last.event_id;
            let feedback = items(state, caller, events).await?;
            if !feedback.is_empty() {
                return Ok(Found {
                    timed_out: false,
                    cursor: cursor.to_string(),
                    feedback,
                });
            }
            // Everything found was deleted meanwhile: wait on.
            continue;
        }
        let heard = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => None,
            _ = shutdown.changed() => None,
            _ = &mut expires => Some(Heard::Identities),
            heard = relevant(&mut changes, only) => Some(heard),
        };
        match heard {
            None => {
                return Ok(Found {
                    timed_out: true,
                    cursor: cursor.to_string(),
                    feedback: Vec::new(),
                })
            }
            // The artifact changed: perhaps its owner removed the caller's access, which ends a
            // wait on it as it ends an event stream.
            Some(Heard::Feedback) if share_token.is_some() => {
                still_allowed(state, caller, headers, share_token).await?
            }
            Some(Heard::Feedback) => {}
            Some(Heard::Identities) => still_allowed(state, caller, headers, share_token).await?,
        }
    }
}

/// What woke a wait.
enum Heard {
    /// An artifact that matters to it has new events (or the feed fell behind: look anyway).
    Feedback,
    /// Keys, sessions or memberships changed.
    Identities,
}

/// Resolves when an artifact that matters to this wait (or, with `only` None, any) has new events,
/// or when identities changed.
async fn relevant(changes: &mut broadcast::Receiver<Change>, only: Option<i64>) -> Heard {
    loop {
        match changes.recv().await {
            Ok(Change::Artifact(id)) if only.is_none_or(|o| o == id) => return Heard::Feedback,
            Ok(Change::Identities) => return Heard::Identities,
            Ok(Change::Artifact(_)) => continue,
            Err(broadcast::error::RecvError::Lagged(_)) => return Heard::Feedback,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// The key of the waiting request is still valid, for the same account, and (for a wait on one
/// artifact) may still see it; otherwise the refusal the API would give now.
async fn still_allowed(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    share_token: Option<&str>,
) -> Result<(), ApiError> {
    let probe = Request::probe(Method::POST, headers.clone(), caller.ip);
    let now = auth::key_only(state, &probe).await?;
    if now.user.id != caller.user.id {
        return Err(ApiError::unauthorized(
            "revoked_key",
            "the key this wait was made with no longer stands for the same account",
        ));
    }
    if let Some(token) = share_token {
        match visible(state, &now, token).await {
            Ok(_) => {}
            // Said as the event stream says it: deleted, or no longer shown to this caller (who
            // could see it when the wait began, so its deletion is no secret to them).
            Err(ApiError::NotFound(_)) => {
                let token = token.to_string();
                let deleted = state
                    .store
                    .read(move |conn| artifacts::was_deleted(conn, &token))
                    .await?;
                return Err(if deleted {
                    ApiError::forbidden("artifact_deleted", "its owner deleted this artifact")
                } else {
                    ApiError::forbidden(
                        "access_removed",
                        "you can no longer see this artifact: its owner removed your access",
                    )
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// What happened to one thread in a batch of events: its kinds of news, in order, and its new
/// replies.
struct News {
    comment_id: String,
    artifact_id: i64,
    kinds: Vec<&'static str>,
    new_replies: Vec<String>,
    edited_replies: Vec<String>,
}

/// The threads the events are about, one item each in the order of their first event, as the
/// caller sees them now (deleted ones left out).
async fn items(
    state: &AppState,
    caller: &Caller,
    events: Vec<audit::Feedback>,
) -> Result<Vec<Item>, ApiError> {
    let mut threads: Vec<News> = Vec::new();
    for event in events {
        let detail: serde_json::Value = event
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let on_reply = event.action.starts_with("reply.");
        let comment_id = if on_reply {
            match detail["commentId"].as_str() {
                Some(id) => id.to_string(),
                None => continue,
            }
        } else {
            event.object_id.clone()
        };
        let kind = match event.action.as_str() {
            "comment.created" => "comment",
            "reply.created" => "reply",
            "comment.unresolved" => "reopened",
            _ => "edited",
        };
        let at = match threads.iter().position(|t| t.comment_id == comment_id) {
            Some(at) => at,
            None => {
                threads.push(News {
                    comment_id,
                    artifact_id: event.artifact_id,
                    kinds: Vec::new(),
                    new_replies: Vec::new(),
                    edited_replies: Vec::new(),
                });
                threads.len() - 1
            }
        };
        let thread = &mut threads[at];
        thread.kinds.push(kind);
        let replies = match event.action.as_str() {
            "reply.created" => &mut thread.new_replies,
            "reply.updated" => &mut thread.edited_replies,
            _ => continue,
        };
        if !replies.contains(&event.object_id) {
            replies.push(event.object_id.clone());
        }
    }
    let mut out = Vec::new();
    for News {
        comment_id,
        artifact_id,
        kinds,
        new_replies,
        edited_replies,
    } in threads
    {
        let mut comment = match comment_api::thread(state, caller, &comment_id).await {
            Ok(c) => c,
            Err(ApiError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        // Replies deleted meanwhile are not news.
        let live = |ids: Vec<String>| -> Vec<String> {
            ids.into_iter()
                .filter(|id| comment.replies.iter().any(|r| &r.id == id))
                .collect()
        };
        let new_reply_ids = live(new_replies);
        let edited_reply_ids: Vec<String> = live(edited_replies)
            .into_iter()
            .filter(|id| !new_reply_ids.contains(id))
            .collect();
        // A reopening comes before a reply: "not fixed" is the news, the reply says why. A thread
        // whose only news was a reply deleted meanwhile has none.
        let Some(kind) = ["comment", "reopened", "reply", "edited"]
            .into_iter()
            .find(|k| kinds.contains(k) && (*k != "reply" || !new_reply_ids.is_empty()))
        else {
            continue;
        };
        // Shown: the newest replies, and the newest of the new and of the edited ones (a burst of
        // replies between two waits would otherwise make a result no client can read; their ids
        // are all listed, and get_comment reads them).
        let total = comment.replies.len();
        let recent_from = total.saturating_sub(RECENT_REPLIES);
        let newest = |ids: &[String]| -> Vec<String> {
            ids[ids.len().saturating_sub(RECENT_REPLIES)..].to_vec()
        };
        let (shown_new, shown_edited) = (newest(&new_reply_ids), newest(&edited_reply_ids));
        let mut index = 0;
        comment.replies.retain(|r| {
            let keep =
                index >= recent_from || shown_new.contains(&r.id) || shown_edited.contains(&r.id);
            index += 1;
            keep
        });
        // Long replies: fewer of them, the newest kept, so that the item fits a result.
        fit_replies(&mut comment);
        let earlier_replies_omitted = total - comment.replies.len();
        let artifact = state
            .store
            .read(move |conn| crate::store::artifacts::get(conn, artifact_id))
            .await?;
        out.push(Item {
            kind,
            share_token: artifact.share_token,
            artifact_name: artifact.name,
            reply_id: new_reply_ids.first().cloned(),
            new_reply_ids,
            edited_reply_ids,
            earlier_replies_omitted,
            comment,
        });
    }
    Ok(out)
}
