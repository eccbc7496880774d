//! Who is calling: an API key (`X-API-Key` or `Authorization: Bearer`) or a browser session cookie,
//! resolved to a `Caller`, and the cross-site request check for cookie-authenticated changes.

use std::net::IpAddr;
use std::sync::Arc;

use warp::http::{header, Method};

use crate::clock::now_ms;
use crate::http::error::{ApiError, AuthHint};
use crate::http::request::Request;
use crate::keys;
use crate::scopes::Scope;
use crate::secrets::sha256;
use crate::session_cookie::{self, Presented};
use crate::state::AppState;
use crate::store::audit::AuditCtx;
use crate::store::keys::KeyRecord;
use crate::store::users::User;

/// The agent a key acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRef {
    pub id: i64,
    pub name: String,
    pub role: Option<String>,
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    Session { session_id: i64, expires_at: i64 },
    Key(Arc<KeyRecord>),
}

/// An authenticated caller: always a user; an agent too when a key acts as one. The user and the
/// key are shared with the identity cache, not copied per request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Arc<User>,
    pub agent: Option<AgentRef>,
    pub via: Via,
    pub ip: IpAddr,
}

impl Caller {
    /// The audit trail's view of this caller.
    pub fn audit(&self) -> AuditCtx {
        let (key_id, session_id) = match &self.via {
            Via::Session { session_id, .. } => (None, Some(*session_id)),
            Via::Key(key) => (Some(key.id), None),
        };
        AuditCtx {
            user_id: Some(self.user.id),
            agent_id: self.agent.as_ref().map(|a| a.id),
            key_id,
            session_id,
            ip: Some(self.ip.to_string()),
        }
    }

    pub fn session_id(&self) -> Option<i64> {
        match &self.via {
            Via::Session { session_id, .. } => Some(*session_id),
            Via::Key(_) => None,
        }
    }

    /// When the credential this caller came with stops working by itself (a key's expiry, a
    /// session's end), in ms; None for a key that never expires. What stays open on it (an event
    /// stream, a wait) is checked again then.
    pub fn credential_expires_at(&self) -> Option<i64> {
        match &self.via {
            Via::Session { expires_at, .. } => Some(*expires_at),
            Via::Key(key) => key.expires_at,
        }
    }

    pub fn key(&self) -> Option<&KeyRecord> {
        match &self.via {
            Via::Key(key) => Some(key),
            Via::Session { .. } => None,
        }
    }

    /// Refuses keys acting as an agent: some things only the person (or a key acting as them) may do.
    pub fn require_user_identity(&self) -> Result<(), ApiError> {
        match &self.agent {
            None => Ok(()),
            Some(agent) => Err(ApiError::forbidden(
                "agent_not_allowed",
                format!(
                    "this key acts as the agent \"{}\"; managing agents needs a session or a key that acts as you",
                    agent.name
                ),
            )),
        }
    }

    /// Refuses a key whose scope falls short of `needed` for `what` (a route's scope is checked on
    /// the way in; this is for a right that goes beyond the route's, such as an owner deleting
    /// someone else's comment). A session is never limited by a scope.
    pub fn require_scope(&self, needed: Scope, what: &str) -> Result<(), ApiError> {
        match self.key().map(|key| key.scope()) {
            Some(scope) if !scope.allows(needed) => Err(ApiError::forbidden(
                "insufficient_scope",
                format!("this key's scope is {scope}; {what} needs a key with the {needed} scope"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses non-admins.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "admin_required",
                "only an admin can do this",
            ))
        }
    }
}

/// A session or an API key.
pub async fn session_or_key(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    if let Some(presented) = presented_key(req)? {
        return by_key(state, req, presented).await;
    }
    match session_cookie::presented(&state.site, &req.headers) {
        Presented::One(token) => by_session(state, req, token).await,
        Presented::Several => Err(several_session_cookies()),
        Presented::None => Err(ApiError::unauthorized(
            "missing_key",
            format!(
                "authentication required: send an API key in the X-API-Key header or as Authorization: Bearer, or sign in{}",
                other_scheme(req)
            ),
        )),
    }
}

/// An API key only: the MCP endpoint, where a browser's session cookie never acts (so no page, not
/// even an uploaded artifact's, can drive it for the person signed in). No key: 401 `missing_key`.
pub async fn key_only(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    match presented_key(req)? {
        Some(presented) => by_key(state, req, presented).await,
        None => Err(ApiError::unauthorized(
            "missing_key",
            format!(
                "authentication required: send an API key in the X-API-Key header or as Authorization: Bearer (this endpoint takes keys only, never a browser session){}",
                other_scheme(req)
            ),
        )),
    }
}

/// A session only: what a signed-in person does (keys, account, team, activity, viewing grants,
/// commenting through a share link). `purpose` is what the route is for, as a phrase that follows
/// "API keys cannot" ("manage API keys"), so a refusal says what was refused: a valid key gets 403
/// `session_required`, an invalid one the usual 401, no credentials 401 `missing_session`.
pub async fn session_only(
    state: &AppState,
    req: &Request,
    purpose: &str,
) -> Result<Caller, ApiError> {
    // Keys are not taken here: a 401 says how to sign in, not how to send a key.
    session_only_as(state, req, purpose)
        .await
        .map_err(|e| e.with_hint(AuthHint::SignIn))
}

/// `session_only`, before its 401s are given the sign-in hint.
async fn session_only_as(
    state: &AppState,
    req: &Request,
    purpose: &str,
) -> Result<Caller, ApiError> {
    if let Some(presented) = presented_key(req)? {
        by_key(state, req, presented).await?;
        return Err(ApiError::forbidden(
            "session_required",
            format!(
                "API keys cannot {purpose}: this needs a signed-in person's browser session (sign in at /login)"
            ),
        ));
    }
    match session_cookie::presented(&state.site, &req.headers) {
        Presented::One(token) => by_session(state, req, token).await,
        Presented::Several => Err(several_session_cookies()),
        Presented::None => Err(ApiError::unauthorized(
            "missing_session",
            format!("sign in first: to {purpose} you need a browser session (sign in at /login)"),
        )),
    }
}

/// The person signed in, if any (for pages that only choose what to show): a session that works,
/// and no key beside it. A key, a missing or ended session: no one.
pub async fn signed_in(state: &AppState, req: &Request) -> Option<Caller> {
    session_only(state, req, "open this page").await.ok()
}

/// A request with more than one session cookie is signed out (one may have been planted by a
/// page on another port or subdomain); the server's answer clears them all.
fn several_session_cookies() -> ApiError {
    ApiError::unauthorized(
        "invalid_session",
        "the request carried more than one session cookie (another site may have planted one); they have been cleared: sign in again",
    )
}

/// The presented key, if the request carries one: an `X-API-Key` header or `Authorization: Bearer`
/// (`Authorization` with another scheme is not a key). More than one key is refused rather than
/// one of them picked: two `X-API-Key` headers, two Bearer ones (even with the same value), or
/// both kinds with different keys. The same key in both kinds is one key.
fn presented_key(req: &Request) -> Result<Option<&str>, ApiError> {
    let mut named: Option<&str> = None;
    for value in req.headers.get_all("x-api-key") {
        let key = value.to_str().map_err(|_| invalid_key_error())?.trim();
        if named.replace(key).is_some() {
            return Err(several_keys());
        }
    }
    let mut bearer: Option<&str> = None;
    for value in req.headers.get_all(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| invalid_key_error())?.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if value.starts_with(keys::KEY_PREFIX) {
            return Err(ApiError::unauthorized(
                "invalid_key",
                "the Authorization header carries a key without its scheme: send Authorization: Bearer ar_live_... (or the key alone as X-API-Key: ar_live_...)",
            ));
        }
        if scheme.eq_ignore_ascii_case("bearer") && bearer.replace(rest.trim()).is_some() {
            return Err(several_keys());
        }
    }
    match (named, bearer) {
        (Some(a), Some(b)) if a != b => Err(several_keys()),
        (named, bearer) => Ok(named.or(bearer)),
    }
}

/// What to add to a `missing_key` message when the request has an Authorization header of
/// another scheme (Basic, say): it is not read here, and is passed over without a word otherwise
/// (a proxy in front may use it for itself, so it is never refused).
fn other_scheme(req: &Request) -> String {
    req.header(header::AUTHORIZATION)
        .map(|v| v.trim().split(' ').next().unwrap_or_default())
        .filter(|scheme| !scheme.is_empty() && !scheme.eq_ignore_ascii_case("bearer"))
        .map(|scheme| {
            let shown: String = scheme.chars().take(20).collect();
            format!(" (an Authorization header with the scheme {shown:?} was sent; only Bearer carries a key here)")
        })
        .unwrap_or_default()
}

/// A request that presents more than one API key: which one acts cannot be chosen for the client.
fn several_keys() -> ApiError {
    ApiError::unauthorized(
        "invalid_key",
        "the request carried more than one API key (several X-API-Key or Authorization: Bearer headers, or different keys in the two); send one key, in one header",
    )
}

fn invalid_key_error() -> ApiError {
    ApiError::unauthorized("invalid_key", "the API key is not valid")
}

async fn by_key(state: &AppState, req: &Request, presented: &str) -> Result<Caller, ApiError> {
    let hash = keys::hash(presented).map_err(|e| {
        ApiError::unauthorized("invalid_key", format!("the API key is not valid: {e}"))
    })?;
    // The epoch is taken before any read, so a cached answer is never older than it claims.
    let epoch = state.store.epoch().await;
    let cached = state.identities.key(&hash, epoch);
    let found = match cached {
        Some(hit) => hit,
        None => {
            let read = state
                .store
                .read(move |conn| crate::store::keys::lookup(conn, &hash))
                .await?
                .map(Arc::new)
                .ok_or_else(|| {
                    ApiError::unauthorized("invalid_key", "the API key is not valid: no such key")
                })?;
            if let Some(e) = epoch {
                state.identities.put_key(hash, e, &read);
            }
            read
        }
    };
    let now = now_ms();
    let mut key = found.key.clone();
    if let Some(at) = key.revoked_at {
        // Why, when no person chose it (where a leaked key was found is for its owner's keys page,
        // not for whoever presents the key).
        let why = match key.revoked_reason.as_deref() {
            Some("leaked") => " because it was found in text stored on this server (a comment, a reply, an upload or a name): a key written where others can read it is revoked at once. Its owner's keys page says where; keep the new key out of what you write",
            Some("member_removed") => " because its owner was removed from the team",
            _ => "",
        };
        return Err(ApiError::unauthorized(
            "revoked_key",
            format!(
                "this API key was revoked at {} ({at} ms since the epoch){why}; create a new one",
                crate::clock::iso(at)
            ),
        ));
    }
    if let Some(at) = key.expires_at.filter(|at| *at <= now) {
        return Err(ApiError::unauthorized(
            "expired_key",
            format!(
                "this API key expired at {} ({at} ms since the epoch); create a new one",
                crate::clock::iso(at)
            ),
        ));
    }
    if found.user.disabled_at.is_some() {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "the account this key belongs to is disabled",
        ));
    }
    if found.agent_deleted_at.is_some() {
        // Deleting an agent revokes its keys in the same transaction; this is belt and braces.
        return Err(ApiError::unauthorized(
            "revoked_key",
            "this key's agent was deleted",
        ));
    }
    let scope = Scope::of_stored(&key.scopes);
    if !scope.allows(req.scope) {
        return Err(ApiError::forbidden(
            "insufficient_scope",
            format!(
                "this key's scope is {scope}; {} {} needs a key with the {} scope{}",
                req.method,
                req.path,
                req.scope,
                if req.scope == Scope::Editor {
                    ""
                } else {
                    " (or editor)"
                }
            ),
        ));
    }
    if state.key_usage.should_record(key.id, key.last_used_at, now) {
        let id = key.id;
        state
            .store
            .write_content(move |conn| crate::store::keys::touch(conn, id, now))
            .await?;
        state.identities.forget(&hash);
        Arc::make_mut(&mut key).last_used_at = Some(now);
    }
    let agent = key.agent_id.map(|id| AgentRef {
        id,
        name: key.agent_name.clone().unwrap_or_default(),
        role: key.agent_role.clone(),
    });
    Ok(Caller {
        user: found.user.clone(),
        agent,
        via: Via::Key(key),
        ip: req.client,
    })
}

async fn by_session(state: &AppState, req: &Request, token: String) -> Result<Caller, ApiError> {
    let hash = sha256(token.as_bytes());
    let epoch = state.store.epoch().await;
    let found = match state.identities.session(&hash, epoch) {
        Some(hit) => Some(hit),
        None => {
            let read = state
                .store
                .read(move |conn| crate::store::sessions::lookup(conn, &hash))
                .await?
                .map(Arc::new);
            if let (Some(e), Some(session)) = (epoch, &read) {
                state.identities.put_session(hash, e, session);
            }
            read
        }
    };
    let now = now_ms();
    let session = match found {
        // Disabling an account ends its sessions; its owner is told why rather than "ended".
        Some(s) if s.user.disabled_at.is_some() => {
            return Err(ApiError::unauthorized(
                "account_disabled",
                "this account was disabled by an administrator of this server: it is signed out and cannot sign in until they enable it again",
            ))
        }
        Some(s) if s.ended_at.is_none() && s.expires_at > now => s,
        _ => {
            return Err(ApiError::unauthorized(
                "invalid_session",
                "your session has ended; sign in again",
            ))
        }
    };
    check_same_origin(state, req)?;
    Ok(Caller {
        user: session.user.clone(),
        agent: None,
        via: Via::Session {
            session_id: session.session_id,
            expires_at: session.expires_at,
        },
        ip: req.client,
    })
}

/// Refuses a state-changing request that a browser sent from another site. Browsers label such
/// requests with `Sec-Fetch-Site` and `Origin`; clients that send neither are not browsers acting
/// for a victim, and are let through.
pub fn check_same_origin(state: &AppState, req: &Request) -> Result<(), ApiError> {
    if matches!(req.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refused = || {
        ApiError::forbidden(
            "cross_site_request",
            "refused a cross-site request: changes made with a session cookie must come from this server's own pages",
        )
    };
    if let Some(site) = single_ascii(req, "sec-fetch-site").map_err(|_| refused())? {
        if !matches!(site, "same-origin" | "none") {
            return Err(refused());
        }
    }
    if !origin_is_own(state, req) {
        return Err(refused());
    }
    Ok(())
}

/// Whether the request's `Origin`, if it has one, is this server's own (the base URL's origin or
/// the one the `Host` names). Two `Origin` headers, or one that is not visible ASCII, are not.
pub fn origin_is_own(state: &AppState, req: &Request) -> bool {
    match single_ascii(req, header::ORIGIN.as_str()) {
        Ok(None) => true,
        Err(()) => false,
        Ok(Some(origin)) => {
            let own_host = req
                .header(header::HOST)
                .map(|h| h.to_ascii_lowercase())
                .unwrap_or_default();
            let origin = origin.to_ascii_lowercase();
            origin == state.site.origin.to_ascii_lowercase()
                || origin == format!("http://{own_host}")
                || origin == format!("https://{own_host}")
        }
    }
}

/// The one value of header `name`, if present. Two values, or one that is not visible ASCII,
/// cannot be judged: the caller refuses the request rather than look at only one of them.
fn single_ascii<'a>(req: &'a Request, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = req.headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(()),
        (Some(value), None) => value.to_str().map(Some).map_err(|_| ()),
    }
}
