//! The team on this server (admins only): members, their roles and their removal (disabling, which
//! ends their sessions and revokes their keys), one-time invite links (7 days), and accepting an
//! invite, which creates an account and signs it in.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Instant;
use warp::reply::Response;

use super::session;
use super::views::UserView;
use crate::auth::{self, Caller};
use crate::clock::{now_ms, DAY_MS};
use crate::http::error::{not_found_as, ApiError};
use crate::http::ids::{self, wire};
use crate::http::reply;
use crate::http::request::Request;
use crate::secrets::{random_token, sha256};
use crate::state::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::invites::{self, Invite, NewInvite};
use crate::store::members;
use crate::store::quota;
use crate::store::users::{self, NewUser};
use crate::store::StoreError;
use crate::store::Touches;
use crate::text;
use crate::throttle::Subject;

/// How long an invite link works.
pub const INVITE_DAYS: i64 = 7;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMember {
    #[serde(default, deserialize_with = "not_null")]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    role: Option<String>,
}

/// An optional field that, when present, must hold a value (`null` is a type error, not "absent").
fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateInvite {
    #[serde(default)]
    role: Option<String>,
    /// Who the invite is for; without it, a generic link that never claims pending grants.
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptInvite {
    token: String,
    /// Required for a generic link; for an invite made for an address, that address (or absent).
    #[serde(default)]
    email: Option<String>,
    name: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInvite {
    token: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InviteView {
    id: String,
    role: String,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    used_by: Option<String>,
    revoked_at: Option<i64>,
    email: Option<String>,
    status: &'static str,
}

impl InviteView {
    fn new(i: &Invite, now: i64) -> InviteView {
        InviteView {
            id: wire(i.id),
            role: i.role.clone(),
            created_by: wire(i.created_by),
            created_at: i.created_at,
            expires_at: i.expires_at,
            used_at: i.used_at,
            used_by: ids::wire_opt(i.used_by),
            revoked_at: i.revoked_at,
            email: i.email.clone(),
            status: i.status(now),
        }
    }
}

/// A role as the API names it ("admin" or "member").
fn parse_role(raw: &str) -> Result<&'static str, ApiError> {
    members::ROLES
        .into_iter()
        .find(|r| *r == raw)
        .ok_or_else(|| {
            ApiError::invalid(
                "role",
                "invalid_role",
                format!("role must be \"member\" or \"admin\"; got {raw:?}"),
            )
        })
}

pub(super) async fn admin(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let caller = auth::session_only(
        state,
        req,
        "manage the team (an admin does that on the Team page, or with `artifact-review user` on the server)",
    )
    .await?;
    caller.require_admin()?;
    Ok(caller)
}

/// A member as admins see them: with what their account stores (`quota`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberView {
    #[serde(flatten)]
    user: UserView,
    stored_bytes: u64,
}

pub async fn members(state: AppState, req: Request) -> Result<Response, ApiError> {
    admin(&state, &req).await?;
    let (list, usage) = state
        .store
        .read(|conn| Ok((users::list(conn)?, quota::usage_by_account(conn)?)))
        .await?;
    let members: Vec<MemberView> = list
        .iter()
        .map(|u| MemberView {
            user: UserView::from(u),
            stored_bytes: usage.get(&u.id).copied().unwrap_or(0),
        })
        .collect();
    Ok(reply::ok(
        &json!({ "members": members, "storageQuota": state.quotas.quota() }),
    ))
}

/// `PATCH /api/v1/team/members/{id}` `{disabled?, role?}`: removes a member (disabled: signed
/// out everywhere, keys revoked, past work kept) or brings them back, and/or changes their role.
/// Never leaves the server without an enabled admin (409 `last_admin`).
pub async fn update_member(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = admin(&state, &req).await?;
    let id = ids::path_id(req.param("id"), "member")?;
    let body: UpdateMember = req.json().await?;
    let role = body.role.as_deref().map(parse_role).transpose()?;
    if role.is_none() && body.disabled.is_none() {
        return Err(ApiError::bad_request(
            "nothing_to_change",
            "give disabled (true or false), role (\"admin\" or \"member\"), or both",
        ));
    }
    if id == caller.user.id && body.disabled == Some(true) {
        return Err(ApiError::bad_request(
            "cannot_disable_self",
            "you cannot disable your own account",
        ));
    }
    let ctx = caller.audit();
    let by = caller.user.id;
    let (user, revoked) = state
        .store
        .write(move |conn| {
            let now = now_ms();
            let mut user = users::by_id(conn, id)?;
            if let Some(role) = role {
                user = members::set_role(conn, &ctx, id, role, now)?;
            }
            let mut revoked = Vec::new();
            match body.disabled {
                Some(true) => {
                    let removed = members::disable(conn, &ctx, id, Some(by), None, now)?;
                    user = removed.user;
                    revoked = removed.revoked_keys;
                }
                Some(false) => user = members::enable(conn, &ctx, id, None, now)?.0,
                None => {}
            }
            Ok((user, revoked))
        })
        .await
        .map_err(|e| match e {
            StoreError::Refused { code, message } => ApiError::conflict(code, message),
            other => not_found_as("member")(other),
        })?;
    let mut view = serde_json::to_value(UserView::from(&user))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    view["revokedKeys"] = json!(revoked.iter().map(|k| wire(*k)).collect::<Vec<_>>());
    Ok(reply::ok(&view))
}

pub async fn invites(state: AppState, req: Request) -> Result<Response, ApiError> {
    admin(&state, &req).await?;
    let list = state.store.read(invites::list).await?;
    let now = now_ms();
    let views: Vec<InviteView> = list.iter().map(|i| InviteView::new(i, now)).collect();
    Ok(reply::ok(&json!({ "invites": views })))
}

pub async fn create_invite(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    let caller = admin(&state, &req).await?;
    let body: CreateInvite = if req.header(warp::http::header::CONTENT_LENGTH) == Some("0") {
        CreateInvite::default()
    } else {
        req.json().await?
    };
    let role = body.role.as_deref().map_or(Ok("member"), parse_role)?;
    let email = body
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| text::email("email", e))
        .transpose()?;
    let token = random_token(32)?;
    let hash = token.digest();
    let ctx = caller.audit();
    let created_by = caller.user.id;
    let for_email = email.clone();
    let invite = state
        .store
        .write_checked(Touches::Identities, move |conn| -> Result<_, ApiError> {
            let now = now_ms();
            // A link for an address that has an account could never be used.
            if let Some(email) = for_email.as_deref() {
                if let Some(user) = users::by_email(conn, email)? {
                    return Err(ApiError::conflict(
                        "email_taken",
                        format!(
                            "{email} already has an account ({}{}); an invite is for someone new",
                            user.name,
                            if user.disabled_at.is_some() {
                                ", disabled: enable it on the Team page instead"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            }
            let invite = invites::insert(
                conn,
                &NewInvite {
                    hash: &hash,
                    role,
                    email: for_email.as_deref(),
                    created_by,
                    expires_at: now + INVITE_DAYS * DAY_MS,
                },
                now,
            )?;
            audit::record(
                conn,
                &ctx,
                &AuditEvent::InviteCreated {
                    invite_id: invite.id,
                    role,
                    email: for_email.as_deref(),
                },
                now,
            )?;
            Ok(invite)
        })
        .await?;
    let mut view = serde_json::to_value(InviteView::new(&invite, now_ms()))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // The link is shown once, here; the server keeps only its digest. The address rides along
    // in the fragment so the sign-up form can show it.
    let mut fragment = vec![("token", token.expose().to_string())];
    fragment.extend(email.map(|e| ("email", e)));
    let fragment =
        serde_urlencoded::to_string(&fragment).map_err(|e| ApiError::Internal(e.to_string()))?;
    view["url"] = json!(format!("{}/invite#{fragment}", state.site.base_url));
    Ok(reply::created(&view))
}

pub async fn revoke_invite(state: AppState, req: Request) -> Result<Response, ApiError> {
    let caller = admin(&state, &req).await?;
    let id = ids::path_id(req.param("id"), "invite")?;
    let ctx = caller.audit();
    let invite = state
        .store
        .write(move |conn| {
            invites::get(conn, id)?;
            let now = now_ms();
            if invites::revoke(conn, id, now)? {
                audit::record(
                    conn,
                    &ctx,
                    &AuditEvent::InviteRevoked { invite_id: id },
                    now,
                )?;
            }
            invites::get(conn, id)
        })
        .await
        .map_err(not_found_as("invite"))?;
    Ok(reply::ok(&InviteView::new(&invite, now_ms())))
}

/// Whether an invite link can still be used, before its page asks for a name and a password:
/// `{"valid": true, "email"}` (the address it was made for, or null), else the refusal that
/// accepting it would get. Throttled as accepting is.
pub async fn check_invite(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    auth::check_same_origin(&state, &req)?;
    let body: CheckInvite = req.json().await?;
    text::at_most("token", &body.token, text::TOKEN_MAX)?;
    let invite = pending_invite(&state, &req, &body.token).await?;
    Ok(reply::ok(
        &serde_json::json!({ "valid": true, "email": invite.email }),
    ))
}

/// The invite behind `token` if it can still be used (one attempt of the invite throttle), else
/// 403 `invalid_invite`.
async fn pending_invite(
    state: &AppState,
    req: &Request,
    token: &str,
) -> Result<invites::Invite, ApiError> {
    let attempt = state
        .login_throttle
        .reserve(Subject::InviteToken, req.client, Instant::now())
        .map_err(|r| session::refused(r, "invite attempts"))?;
    let hash = sha256(token.trim().as_bytes());
    let now = now_ms();
    let invite = state
        .store
        .read(move |conn| invites::by_hash(conn, &hash))
        .await?;
    match invite {
        Some(i) if i.status(now) == "pending" => {
            attempt.succeeded();
            Ok(i)
        }
        _ => {
            attempt.failed();
            Err(ApiError::forbidden(
                "invalid_invite",
                "this invite link is not valid: it may have been used, revoked, or expired (links last 7 days); ask an admin for a new one",
            ))
        }
    }
}

pub async fn accept_invite(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    auth::check_same_origin(&state, &req)?;
    let body: AcceptInvite = req.json().await?;
    text::at_most("token", &body.token, text::TOKEN_MAX)?;
    let typed_email = body
        .email
        .as_deref()
        .map(|e| text::email("email", e))
        .transpose()?;
    let name = text::label("name", &body.name, text::NAME_MAX)?;
    text::password("password", &body.password)?;
    let invite = pending_invite(&state, &req, &body.token).await?;
    // An invite made for an address creates that address's account and no other; a generic link
    // takes the address typed, which proves nothing about who owns it.
    let email = match (&invite.email, typed_email) {
        (Some(bound), Some(typed)) if *bound != typed => {
            return Err(ApiError::invalid(
                "email",
                "invite_email_mismatch",
                "this invite was made for another email address; ask the admin who sent it for one made for yours",
            ))
        }
        (Some(bound), _) => bound.clone(),
        (None, Some(typed)) => typed,
        (None, None) => return Err(crate::text::TextError::Empty { field: "email" }.into()),
    };
    let password_hash = state.passwords.hash(body.password).await?;
    let ip = req.ip();
    let user = state
        .store
        .write_checked(Touches::Identities, move |conn| -> Result<_, ApiError> {
            let now = now_ms();
            // Re-checked inside the transaction: two people racing for one link get one account.
            let current = invites::get(conn, invite.id)?;
            // Its maker must still be an enabled admin (their removal revokes their links;
            // checked again here).
            let maker = users::by_id(conn, current.created_by)?;
            if !maker.is_enabled_admin() {
                return Err(ApiError::forbidden(
                    "invalid_invite",
                    "this invite link was withdrawn: the admin who made it can no longer invite; ask an admin for a new one",
                ));
            }
            if current.status(now) != "pending" {
                return Err(ApiError::forbidden(
                    "invalid_invite",
                    "this invite link has just been used",
                ));
            }
            let user = users::create(
                conn,
                &NewUser {
                    email: &email,
                    name: &name,
                    password_hash: &password_hash,
                    role: &current.role,
                    owns_email: current.email.as_deref() == Some(email.as_str()),
                },
                Some(ip.clone()),
                "invite",
                Some(current.id),
                now,
            )
            .map_err(|e| match e {
                StoreError::Conflict(m) => ApiError::conflict("email_taken", m),
                other => other.into(),
            })?;
            invites::mark_used(conn, current.id, user.id, now)?;
            Ok(user)
        })
        .await?;
    session::start(&state, &req, user, reply::created).await
}
