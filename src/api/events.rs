//! `GET /api/v1/artifacts/{shareToken}/events`: an artifact's changes as Server-Sent Events, for
//! the review page (and any client) to follow comments, replies, resolutions and versions live.
//!
//! The stream opens with `{"type": "ready", "lastEventId": ...}`, then sends one message per
//! change, each with its event id (the audit trail's), so a client that reconnects with
//! `Last-Event-ID` (browsers do this by themselves) or `?after=` misses nothing; one that missed
//! more than `REPLAY_MAX` events is told to `reset` (reload everything). The database is the
//! source of truth: the writer announces which artifacts got events, and each stream then reads
//! its new events.
//!
//! Idle streams must not take the server's connections: each holds a place counted by
//! `event_streams` (whose caps are answered with a fast 429 and `Retry-After`); each stream ends
//! after `LIFETIME` (the client reconnects where it left off), when the server shuts down, and
//! when its caller is no longer allowed (signed out, key revoked or expired, access removed),
//! which is checked every `HEARTBEAT`, when identities change, and the moment the caller's key or
//! session expires; such a stream's last message is `{"type": "end", "code": ...}`.

use std::convert::Infallible;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use warp::http::{HeaderMap, HeaderValue, Method};
use warp::reply::Response;
use warp::sse::Event;
use warp::Reply;

use super::artifacts::visible;
use super::views::IdentityView;
use crate::auth::{self, Caller};
use crate::clock::{instant_at, now_ms};
use crate::event_streams::Slot;
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::state::AppState;
use crate::store::audit::{self, ArtifactEvent};
use crate::store::feed::Change;
use crate::store::{artifacts, reads};

/// A stream ends after this; the client reconnects with `Last-Event-ID`.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How often an idle stream sends a keep-alive comment and re-checks its caller.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// Events replayed to a client that reconnects; beyond this it is told to reset.
pub const REPLAY_MAX: i64 = 500;
/// What browsers wait before reconnecting.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    /// Resume after this event id (like `Last-Event-ID`, which wins when both are given).
    after: Option<String>,
}

/// One message of the stream.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    at: i64,
    actor: IdentityView,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl Message {
    fn from_event(e: &ArtifactEvent) -> Message {
        let detail: serde_json::Value = e
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let number = |key: &str| {
            detail
                .get(key)
                .and_then(|v| v.as_i64())
                .map(|n| format!("v{n}"))
        };
        let object = e.object_id.clone();
        let (comment_id, reply_id, version) = match e.action.split('.').next() {
            Some("comment") => (object, None, number("version")),
            Some("reply") => (text("commentId"), object, None),
            Some("version") => (None, None, number("number")),
            _ => (None, None, None),
        };
        Message {
            kind: e.action.clone(),
            at: e.created_at,
            actor: IdentityView::from(&e.actor),
            comment_id,
            reply_id,
            version,
            source: text("source"),
            name: (e.action == "artifact.updated")
                .then(|| text("name"))
                .flatten(),
        }
    }
}

fn event_id(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_event_id",
                format!("an event id is a whole number from 0 (the id of the last event you saw); got {raw:?}"),
            )
        })
}

pub async fn stream(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = auth::session_or_key(&state, &req).await?;
    let query: EventsQuery = req.query()?;
    let resume = match req.header("last-event-id") {
        Some(raw) if !raw.trim().is_empty() => Some(event_id(raw)?),
        _ => match query.after.as_deref() {
            Some(raw) if !raw.trim().is_empty() => {
                Some(event_id(raw).map_err(|e| e.for_field("after"))?)
            }
            _ => None,
        },
    };
    let (artifact, _) = visible(&state, &caller, req.param("shareToken")).await?;
    let slot = state
        .event_streams
        .take(caller.user.id, caller.key().map(|k| k.id))?;
    let artifact_id = artifact.id;
    // Listen before reading, so nothing committed in between is missed.
    let feed = state.store.changes();
    let newest = state
        .store
        .read(move |conn| audit::newest_for_artifact(conn, artifact_id))
        .await?;
    let (tx, mut rx) = mpsc::channel::<Result<Event, Infallible>>(32);
    let follower = Follower {
        state: state.clone(),
        caller,
        headers: req.headers.clone(),
        artifact_id,
        share_token: artifact.share_token.clone(),
        cursor: resume.unwrap_or(newest).min(newest),
        tx,
        _slot: slot,
    };
    tokio::spawn(follower.run(feed, resume.is_some(), newest));
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut response = warp::sse::reply(body).into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One open stream: what it follows and where it is.
struct Follower {
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    artifact_id: i64,
    share_token: String,
    /// The last event sent.
    cursor: i64,
    tx: mpsc::Sender<Result<Event, Infallible>>,
    _slot: Slot,
}

/// Why a stream stopped.
enum End {
    /// The client went away, the stream's time is up, or the server is stopping.
    Closed,
    /// The caller may no longer see the artifact; the code says why (the API's refusal code:
    /// `revoked_key`, `expired_key`, `session_expired`..., or `access_removed`,
    /// `artifact_deleted`), sent in a last `end` event.
    Refused(String),
}

impl Follower {
    async fn run(mut self, mut feed: broadcast::Receiver<Change>, resuming: bool, newest: i64) {
        let mut shutdown = self.state.shutdown.clone();
        let ready = async {
            self.send(
                Event::default()
                    .retry(RETRY)
                    .id(self.cursor.to_string())
                    .data(format!(
                        "{{\"type\":\"ready\",\"lastEventId\":\"{}\"}}",
                        self.cursor
                    )),
            )
            .await?;
            if resuming && self.cursor < newest {
                self.catch_up().await?;
            }
            Ok::<(), End>(())
        };
        let mut outcome = ready.await;
        if outcome.is_ok() {
            let deadline = tokio::time::sleep(LIFETIME);
            tokio::pin!(deadline);
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            heartbeat.tick().await;
            // The caller's key or session is checked again the moment it expires.
            let expiry = tokio::time::sleep_until(self.expiry());
            tokio::pin!(expiry);
            outcome = loop {
                let step = tokio::select! {
                    _ = &mut deadline => Err(End::Closed),
                    _ = &mut expiry => {
                        let checked = self.check_caller().await;
                        expiry.as_mut().reset(self.expiry());
                        checked
                    }
                    _ = shutdown.changed() => Err(End::Closed),
                    _ = self.tx.closed() => Err(End::Closed),
                    heard = feed.recv() => match heard {
                        Ok(Change::Artifact(id)) if id == self.artifact_id => self.catch_up().await,
                        Ok(Change::Artifact(_)) => Ok(()),
                        Ok(Change::Identities) => self.check_caller().await,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            match self.check_caller().await {
                                Ok(()) => self.catch_up().await,
                                Err(end) => Err(end),
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => Err(End::Closed),
                    },
                    _ = heartbeat.tick() => self.keep_alive().await,
                };
                if let Err(end) = step {
                    break Err(end);
                }
            };
        }
        if let Err(End::Refused(code)) = outcome {
            // Said before closing, so that a client does not reconnect to learn it.
            let end = serde_json::json!({ "type": "end", "code": code }).to_string();
            let _ = self.send(Event::default().data(end)).await;
            return;
        }
        // What an open review page was shown, its reader has seen.
        if self.caller.session_id().is_some() && self.cursor > 0 {
            let (user_id, artifact_id, cursor) =
                (self.caller.user.id, self.artifact_id, self.cursor);
            if let Err(e) = self
                .state
                .store
                .write_content(move |conn| {
                    reads::mark_seen(conn, user_id, artifact_id, Some(cursor), now_ms())
                })
                .await
            {
                log::warn!("could not record what an event stream showed: {e}");
            }
        }
    }

    async fn send(&self, event: Event) -> Result<(), End> {
        self.tx.send(Ok(event)).await.map_err(|_| End::Closed)
    }

    /// Sends every event after the cursor (or `reset` when there are too many).
    async fn catch_up(&mut self) -> Result<(), End> {
        let (artifact_id, after) = (self.artifact_id, self.cursor);
        let events = self
            .state
            .store
            .read(move |conn| audit::for_artifact(conn, artifact_id, after, REPLAY_MAX + 1))
            .await
            .map_err(|e| {
                log::warn!("an event stream could not read its events: {e}");
                End::Closed
            })?;
        if events.len() as i64 > REPLAY_MAX {
            let newest = self
                .state
                .store
                .read(move |conn| audit::newest_for_artifact(conn, artifact_id))
                .await
                .map_err(|_| End::Closed)?;
            self.cursor = newest;
            return self
                .send(
                    Event::default()
                        .id(newest.to_string())
                        .data("{\"type\":\"reset\"}"),
                )
                .await;
        }
        for e in &events {
            if e.action == "access.revoked" {
                // Someone lost access: perhaps this stream's caller.
                self.check_caller().await?;
                self.cursor = e.id;
                continue;
            }
            if e.action.starts_with("access.") {
                self.cursor = e.id;
                continue;
            }
            let data = serde_json::to_string(&Message::from_event(e)).map_err(|_| End::Closed)?;
            self.send(Event::default().id(e.id.to_string()).data(data))
                .await?;
            self.cursor = e.id;
            if e.action == "artifact.deleted" {
                return Err(End::Refused("artifact_deleted".into()));
            }
        }
        Ok(())
    }

    /// A keep-alive comment (which also finds clients that went away), after checking the caller.
    async fn keep_alive(&mut self) -> Result<(), End> {
        self.check_caller().await?;
        self.send(Event::default().comment("")).await
    }

    /// Checks that the caller is still signed in (or their key still valid) and may still see the
    /// artifact; the stream ends otherwise.
    async fn check_caller(&mut self) -> Result<(), End> {
        let probe = Request::probe(Method::GET, self.headers.clone(), self.caller.ip);
        let now = match auth::session_or_key(&self.state, &probe).await {
            Ok(now) if now.user.id == self.caller.user.id => now,
            Ok(_) => return Err(End::Refused("revoked_key".into())),
            Err(refusal) => return Err(End::Refused(refusal.code().to_string())),
        };
        let (token, user_id) = (self.share_token.clone(), now.user.id);
        let access = self
            .state
            .store
            .read(move |conn| artifacts::access(conn, &token, user_id))
            .await;
        // A session may have been extended meanwhile: its new end is the next check.
        self.caller = now;
        match access {
            Ok(Some(_)) => Ok(()),
            _ => Err(End::Refused("access_removed".into())),
        }
    }

    /// When the caller's key or session expires (far away when it never does).
    fn expiry(&self) -> tokio::time::Instant {
        instant_at(self.caller.credential_expires_at().unwrap_or(i64::MAX))
    }
}
