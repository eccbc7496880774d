//! The audit trail: who did what, through which key or session, from where, when. Append-only
//! (the schema's triggers refuse UPDATE and DELETE).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::comments::Author;
use super::error::{StoreError, StoreResult};

/// Who is acting, as the audit trail records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCtx {
    pub user_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub key_id: Option<i64>,
    pub session_id: Option<i64>,
    pub ip: Option<String>,
}

/// One recorded event, with the names of who acted.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub created_at: i64,
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    pub key_prefix: Option<String>,
    pub session_id: Option<i64>,
    pub ip: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub detail: Option<String>,
    /// The artifact the event belongs to, if any: its id, its name now, and whether it was deleted.
    pub artifact: Option<(i64, String, bool)>,
    /// What people call the object now, where its id alone says nothing to them: an account's
    /// name and address, a key's name and prefix, an agent's name, a reviewer's address, whose
    /// password-reset link.
    pub object_name: Option<String>,
}

impl Event {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
        Ok(Event {
            id: r.get(0)?,
            created_at: r.get(1)?,
            user_id: r.get(2)?,
            user_name: r.get(3)?,
            agent_id: r.get(4)?,
            agent_name: r.get(5)?,
            key_id: r.get(6)?,
            key_name: r.get(7)?,
            key_prefix: r.get(8)?,
            session_id: r.get(9)?,
            ip: r.get(10)?,
            action: r.get(11)?,
            object_type: r.get(12)?,
            object_id: r.get(13)?,
            detail: r.get(14)?,
            artifact: match r.get::<_, Option<i64>>(15)? {
                Some(id) => Some((id, r.get(16)?, r.get(17)?)),
                None => None,
            },
            object_name: r.get(18)?,
        })
    }
}

/// One change worth recording, with the object it concerns. Each variant knows its action code
/// (`comment.created`...), its object, the artifact it belongs to (if any, which makes it part of
/// that artifact's event stream and moves its activity time), and its detail (never a secret).
#[derive(Debug, Clone, PartialEq)]
pub enum AuditEvent<'a> {
    UserCreated {
        user_id: i64,
        via: &'a str,
        role: &'a str,
        invite_id: Option<i64>,
    },
    /// A member removed: signed out everywhere, keys revoked (`revoked_keys`), past work kept.
    UserDisabled {
        user_id: i64,
        email: &'a str,
        revoked_keys: &'a [i64],
        /// Unused password-reset links ended: the member's own, and those they made.
        ended_reset_links: &'a [i64],
        /// The share links they made, turned off (each also `access.link_disabled`).
        disabled_share_links: &'a [i64],
        via: Option<&'a str>,
    },
    UserEnabled {
        user_id: i64,
        email: &'a str,
        via: Option<&'a str>,
    },
    /// An admin made a member an admin, or an admin a member.
    UserRoleChanged {
        user_id: i64,
        email: &'a str,
        before: &'a str,
        after: &'a str,
        /// Unused password-reset links they made, ended as they stopped being an admin.
        ended_reset_links: &'a [i64],
    },
    /// A key revoked because its owner was removed from the team.
    MemberKeyRevoked {
        key_id: i64,
        user_id: i64,
    },
    /// An admin made a one-time password-reset link for a member (never the link itself).
    PasswordResetCreated {
        reset_id: i64,
        user_id: i64,
        email: &'a str,
        expires_at: i64,
    },
    /// A member set a new password through a reset link; their sessions ended.
    PasswordResetUsed {
        reset_id: i64,
        user_id: i64,
        sessions_ended: usize,
    },
    /// A password set from the command line; the account's sessions ended.
    PasswordSet {
        user_id: i64,
        sessions_ended: usize,
        via: &'a str,
    },
    AccountUpdated {
        user_id: i64,
        before: &'a str,
        after: &'a str,
    },
    PasswordChanged {
        user_id: i64,
        other_sessions_ended: usize,
    },
    SessionCreated {
        session_id: i64,
    },
    SessionEnded {
        session_id: i64,
    },
    /// A wrong password for an existing account (never the text that was typed).
    SessionFailed {
        user_id: i64,
    },
    /// Failed sign-ins for accounts that do not exist, coalesced: how many, from which addresses
    /// (at most `failed_sign_ins::ADDRESSES_KEPT`; `more_addresses` says whether there were others), between
    /// when. What was typed as the account name is never kept.
    SessionFailedUnknown {
        attempts: u64,
        addresses: &'a [String],
        more_addresses: bool,
        first_at: i64,
        last_at: i64,
    },
    InviteCreated {
        invite_id: i64,
        role: &'a str,
        /// Who it is for; `None` for a generic link.
        email: Option<&'a str>,
    },
    InviteRevoked {
        invite_id: i64,
    },
    AgentCreated {
        agent_id: i64,
        name: &'a str,
        role: Option<&'a str>,
        via: Option<&'a str>,
    },
    AgentUpdated {
        agent_id: i64,
        before: (&'a str, Option<&'a str>),
        after: (&'a str, Option<&'a str>),
    },
    AgentDeleted {
        agent_id: i64,
        name: &'a str,
        revoked_keys: &'a [i64],
    },
    KeyCreated {
        key_id: i64,
        name: &'a str,
        prefix: &'a str,
        agent_id: Option<i64>,
        expires_at: Option<i64>,
        scope: &'a str,
        via: Option<&'a str>,
    },
    /// A key replaced by a new one, which keeps its name, identity and scope; the old one expires
    /// at `replaced_expires_at`.
    KeyRotated {
        key_id: i64,
        name: &'a str,
        prefix: &'a str,
        replaced_key_id: i64,
        replaced_prefix: &'a str,
        replaced_expires_at: i64,
    },
    /// A key found in text this server was asked to store, revoked at once; `place` says where
    /// (never the key).
    KeyLeaked {
        key_id: i64,
        name: &'a str,
        prefix: &'a str,
        place: &'a str,
    },
    /// An agent asked for a key (no one is signed in: the address is the only actor).
    KeyRequested {
        request_id: i64,
        agent_name: &'a str,
        scope: &'a str,
    },
    KeyRequestApproved {
        request_id: i64,
        agent_id: i64,
    },
    KeyRequestDenied {
        request_id: i64,
    },
    KeyRevoked {
        key_id: i64,
        name: &'a str,
        prefix: &'a str,
        via: Option<&'a str>,
    },
    /// A key revoked because the agent it acts as was deleted.
    AgentKeyRevoked {
        key_id: i64,
        agent_id: i64,
    },
    ArtifactCreated {
        artifact_id: i64,
        name: &'a str,
        share_token: &'a str,
    },
    ArtifactUpdated {
        artifact_id: i64,
        name: Option<&'a str>,
        description: Option<&'a str>,
    },
    ArtifactDeleted {
        artifact_id: i64,
    },
    VersionCreated {
        artifact_id: i64,
        version_id: i64,
        number: i64,
        file_type: &'a str,
        files: usize,
        size: u64,
    },
    VersionRenamed {
        artifact_id: i64,
        version_id: i64,
        number: i64,
        before: Option<&'a str>,
        after: Option<&'a str>,
    },
    VersionDeleted {
        artifact_id: i64,
        version_id: i64,
        number: i64,
    },
    VersionRestored {
        artifact_id: i64,
        version_id: i64,
        number: i64,
    },
    CommentCreated {
        artifact_id: i64,
        comment_id: i64,
        version: i64,
        source: &'a str,
    },
    CommentUpdated {
        artifact_id: i64,
        comment_id: i64,
        version: i64,
    },
    CommentResolved {
        artifact_id: i64,
        comment_id: i64,
        version: i64,
    },
    CommentUnresolved {
        artifact_id: i64,
        comment_id: i64,
        version: i64,
    },
    CommentDeleted {
        artifact_id: i64,
        comment_id: i64,
        version: i64,
    },
    ReplyCreated {
        artifact_id: i64,
        reply_id: i64,
        comment_id: i64,
    },
    ReplyUpdated {
        artifact_id: i64,
        reply_id: i64,
        comment_id: i64,
    },
    ReplyDeleted {
        artifact_id: i64,
        reply_id: i64,
        comment_id: i64,
    },
    AccessGranted {
        artifact_id: i64,
        grant_id: i64,
        email: &'a str,
        role: &'a str,
        status: &'a str,
    },
    AccessRevoked {
        artifact_id: i64,
        grant_id: i64,
        email: &'a str,
    },
    /// The artifact's share link was made, changed or turned off. `capabilities` as the API
    /// names them (`readComments`, `writeComments`); the address is never recorded.
    ShareLinkCreated {
        artifact_id: i64,
        link_id: i64,
        read_comments: bool,
        write_comments: bool,
    },
    ShareLinkUpdated {
        artifact_id: i64,
        link_id: i64,
        enabled: bool,
        read_comments: bool,
        write_comments: bool,
    },
    ShareLinkDisabled {
        artifact_id: i64,
        link_id: i64,
    },
    /// The link was given a new address; the old one stopped working.
    ShareLinkReissued {
        artifact_id: i64,
        link_id: i64,
    },
}

impl AuditEvent<'_> {
    /// Whether it records content or its sharing (artifacts, versions, comments, replies, access
    /// and share links), which a key or session may make only while it may act: a request that
    /// outlives its key's revocation (a slow upload) stores nothing. Events about accounts, keys
    /// and sessions are not checked: they are short, and many of them end the very key or session
    /// that asks (signing out, a key revoking itself).
    fn is_about_content(&self) -> bool {
        use AuditEvent::*;
        matches!(
            self,
            ArtifactCreated { .. }
                | ArtifactUpdated { .. }
                | ArtifactDeleted { .. }
                | VersionCreated { .. }
                | VersionRenamed { .. }
                | VersionDeleted { .. }
                | VersionRestored { .. }
                | CommentCreated { .. }
                | CommentUpdated { .. }
                | CommentResolved { .. }
                | CommentUnresolved { .. }
                | CommentDeleted { .. }
                | ReplyCreated { .. }
                | ReplyUpdated { .. }
                | ReplyDeleted { .. }
                | AccessGranted { .. }
                | AccessRevoked { .. }
                | ShareLinkCreated { .. }
                | ShareLinkUpdated { .. }
                | ShareLinkDisabled { .. }
                | ShareLinkReissued { .. }
        )
    }

    /// The stable action code stored and shown in the activity trail.
    pub fn action(&self) -> &'static str {
        use AuditEvent::*;
        match self {
            UserCreated { .. } => "user.created",
            UserDisabled { .. } => "user.disabled",
            UserEnabled { .. } => "user.enabled",
            UserRoleChanged { .. } => "user.role_changed",
            PasswordResetCreated { .. } => "password_reset.created",
            PasswordResetUsed { .. } => "password_reset.used",
            PasswordSet { .. } => "account.password_set",
            AccountUpdated { .. } => "account.updated",
            PasswordChanged { .. } => "account.password_changed",
            SessionCreated { .. } => "session.created",
            SessionEnded { .. } => "session.ended",
            SessionFailed { .. } | SessionFailedUnknown { .. } => "session.failed",
            InviteCreated { .. } => "invite.created",
            InviteRevoked { .. } => "invite.revoked",
            AgentCreated { .. } => "agent.created",
            AgentUpdated { .. } => "agent.updated",
            AgentDeleted { .. } => "agent.deleted",
            KeyCreated { .. } => "key.created",
            KeyRotated { .. } => "key.rotated",
            KeyLeaked { .. } => "key.leaked",
            KeyRequested { .. } => "key_request.created",
            KeyRequestApproved { .. } => "key_request.approved",
            KeyRequestDenied { .. } => "key_request.denied",
            KeyRevoked { .. } | AgentKeyRevoked { .. } | MemberKeyRevoked { .. } => "key.revoked",
            ArtifactCreated { .. } => "artifact.created",
            ArtifactUpdated { .. } => "artifact.updated",
            ArtifactDeleted { .. } => "artifact.deleted",
            VersionCreated { .. } => "version.created",
            VersionRenamed { .. } => "version.renamed",
            VersionDeleted { .. } => "version.deleted",
            VersionRestored { .. } => "version.restored",
            CommentCreated { .. } => "comment.created",
            CommentUpdated { .. } => "comment.updated",
            CommentResolved { .. } => "comment.resolved",
            CommentUnresolved { .. } => "comment.unresolved",
            CommentDeleted { .. } => "comment.deleted",
            ReplyCreated { .. } => "reply.created",
            ReplyUpdated { .. } => "reply.updated",
            ReplyDeleted { .. } => "reply.deleted",
            AccessGranted { .. } => "access.granted",
            AccessRevoked { .. } => "access.revoked",
            ShareLinkCreated { .. } => "access.link_created",
            ShareLinkUpdated { .. } => "access.link_updated",
            ShareLinkDisabled { .. } => "access.link_disabled",
            ShareLinkReissued { .. } => "access.link_reissued",
        }
    }

    /// The kind and id of the object the event is about, if it is about one.
    fn object(&self) -> Option<(&'static str, String)> {
        use AuditEvent::*;
        Some(match self {
            UserCreated { user_id, .. }
            | UserDisabled { user_id, .. }
            | UserEnabled { user_id, .. }
            | UserRoleChanged { user_id, .. }
            | AccountUpdated { user_id, .. }
            | PasswordChanged { user_id, .. }
            | PasswordSet { user_id, .. } => ("user", user_id.to_string()),
            PasswordResetCreated { reset_id, .. } | PasswordResetUsed { reset_id, .. } => {
                ("password_reset", reset_id.to_string())
            }
            SessionCreated { session_id } | SessionEnded { session_id } => {
                ("session", session_id.to_string())
            }
            SessionFailed { user_id } => ("user", user_id.to_string()),
            SessionFailedUnknown { .. } => return None,
            InviteCreated { invite_id, .. } | InviteRevoked { invite_id } => {
                ("invite", invite_id.to_string())
            }
            AgentCreated { agent_id, .. }
            | AgentUpdated { agent_id, .. }
            | AgentDeleted { agent_id, .. } => ("agent", agent_id.to_string()),
            KeyCreated { key_id, .. }
            | KeyRotated { key_id, .. }
            | KeyLeaked { key_id, .. }
            | KeyRevoked { key_id, .. }
            | AgentKeyRevoked { key_id, .. }
            | MemberKeyRevoked { key_id, .. } => ("key", key_id.to_string()),
            KeyRequested { request_id, .. }
            | KeyRequestApproved { request_id, .. }
            | KeyRequestDenied { request_id } => ("key_request", request_id.to_string()),
            ArtifactCreated { artifact_id, .. }
            | ArtifactUpdated { artifact_id, .. }
            | ArtifactDeleted { artifact_id } => ("artifact", artifact_id.to_string()),
            VersionCreated { version_id, .. }
            | VersionRenamed { version_id, .. }
            | VersionDeleted { version_id, .. }
            | VersionRestored { version_id, .. } => ("version", version_id.to_string()),
            CommentCreated { comment_id, .. }
            | CommentUpdated { comment_id, .. }
            | CommentResolved { comment_id, .. }
            | CommentUnresolved { comment_id, .. }
            | CommentDeleted { comment_id, .. } => ("comment", comment_id.to_string()),
            ReplyCreated { reply_id, .. }
            | ReplyUpdated { reply_id, .. }
            | ReplyDeleted { reply_id, .. } => ("reply", reply_id.to_string()),
            AccessGranted { grant_id, .. } | AccessRevoked { grant_id, .. } => {
                ("access", grant_id.to_string())
            }
            ShareLinkCreated { link_id, .. }
            | ShareLinkUpdated { link_id, .. }
            | ShareLinkDisabled { link_id, .. }
            | ShareLinkReissued { link_id, .. } => ("share_link", link_id.to_string()),
        })
    }

    /// The artifact the event belongs to, if any.
    pub fn artifact_id(&self) -> Option<i64> {
        use AuditEvent::*;
        match self {
            ArtifactCreated { artifact_id, .. }
            | ArtifactUpdated { artifact_id, .. }
            | ArtifactDeleted { artifact_id }
            | VersionCreated { artifact_id, .. }
            | VersionRenamed { artifact_id, .. }
            | VersionDeleted { artifact_id, .. }
            | VersionRestored { artifact_id, .. }
            | CommentCreated { artifact_id, .. }
            | CommentUpdated { artifact_id, .. }
            | CommentResolved { artifact_id, .. }
            | CommentUnresolved { artifact_id, .. }
            | CommentDeleted { artifact_id, .. }
            | ReplyCreated { artifact_id, .. }
            | ReplyUpdated { artifact_id, .. }
            | ReplyDeleted { artifact_id, .. }
            | AccessGranted { artifact_id, .. }
            | AccessRevoked { artifact_id, .. }
            | ShareLinkCreated { artifact_id, .. }
            | ShareLinkUpdated { artifact_id, .. }
            | ShareLinkDisabled { artifact_id, .. }
            | ShareLinkReissued { artifact_id, .. } => Some(*artifact_id),
            _ => None,
        }
    }

    /// What else is worth keeping about the event (a JSON object), if anything.
    fn detail(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        use AuditEvent::*;
        let id = |v: i64| v.to_string();
        let value = match self {
            UserCreated {
                via,
                role,
                invite_id,
                ..
            } => {
                json!({ "via": via, "role": role, "inviteId": invite_id.map(id) })
            }
            UserDisabled {
                email,
                revoked_keys,
                ended_reset_links,
                disabled_share_links,
                via,
                ..
            } => json!({
                "email": email,
                "revokedKeys": revoked_keys.iter().map(|k| id(*k)).collect::<Vec<_>>(),
                "endedResetLinks": ended_reset_links.iter().map(|r| id(*r)).collect::<Vec<_>>(),
                "disabledShareLinks": disabled_share_links.iter().map(|l| id(*l)).collect::<Vec<_>>(),
                "via": via,
            }),
            UserEnabled { email, via, .. } => json!({ "email": email, "via": via }),
            UserRoleChanged {
                email,
                before,
                after,
                ended_reset_links,
                ..
            } => json!({
                "email": email,
                "before": { "role": before },
                "after": { "role": after },
                "endedResetLinks": ended_reset_links.iter().map(|r| id(*r)).collect::<Vec<_>>(),
            }),
            MemberKeyRevoked { user_id, .. } => {
                json!({ "reason": "member removed", "userId": id(*user_id) })
            }
            PasswordResetCreated {
                user_id,
                email,
                expires_at,
                ..
            } => json!({ "userId": id(*user_id), "email": email, "expiresAt": expires_at }),
            PasswordResetUsed {
                user_id,
                sessions_ended,
                ..
            } => json!({ "userId": id(*user_id), "sessionsEnded": sessions_ended }),
            PasswordSet {
                sessions_ended,
                via,
                ..
            } => json!({ "sessionsEnded": sessions_ended, "via": via }),
            AccountUpdated { before, after, .. } => {
                json!({ "before": { "name": before }, "after": { "name": after } })
            }
            PasswordChanged {
                other_sessions_ended,
                ..
            } => {
                json!({ "otherSessionsEnded": other_sessions_ended })
            }
            SessionFailed { .. } => json!({ "reason": "wrong password" }),
            SessionFailedUnknown {
                attempts,
                addresses,
                more_addresses,
                first_at,
                last_at,
            } => json!({
                "reason": "no such account",
                "attempts": attempts,
                "addresses": addresses,
                "moreAddresses": more_addresses,
                "firstAt": first_at,
                "lastAt": last_at,
            }),
            InviteCreated { role, email, .. } => match email {
                Some(email) => json!({ "role": role, "email": email }),
                None => json!({ "role": role }),
            },
            AgentCreated {
                name, role, via, ..
            } => match via {
                Some(via) => json!({ "name": name, "role": role, "via": via }),
                None => json!({ "name": name, "role": role }),
            },
            AgentUpdated { before, after, .. } => json!({
                "before": { "name": before.0, "role": before.1 },
                "after": { "name": after.0, "role": after.1 },
            }),
            AgentDeleted {
                name, revoked_keys, ..
            } => json!({
                "name": name,
                "revokedKeys": revoked_keys.iter().map(|k| id(*k)).collect::<Vec<_>>(),
            }),
            KeyCreated {
                name,
                prefix,
                agent_id,
                expires_at,
                scope,
                via,
                ..
            } => json!({
                "name": name,
                "prefix": prefix,
                "agentId": agent_id.map(id),
                "expiresAt": expires_at,
                "scope": scope,
                "via": via,
            }),
            KeyRotated {
                name,
                prefix,
                replaced_key_id,
                replaced_prefix,
                replaced_expires_at,
                ..
            } => json!({
                "name": name,
                "prefix": prefix,
                "replacedKeyId": id(*replaced_key_id),
                "replacedPrefix": replaced_prefix,
                "replacedExpiresAt": replaced_expires_at,
            }),
            KeyLeaked {
                name,
                prefix,
                place,
                ..
            } => json!({ "name": name, "prefix": prefix, "reason": "leaked", "foundIn": place }),
            KeyRequested {
                agent_name, scope, ..
            } => json!({ "agentName": agent_name, "scope": scope }),
            KeyRequestApproved { agent_id, .. } => json!({ "agentId": id(*agent_id) }),
            KeyRequestDenied { .. } => json!({ "decision": "denied" }),
            KeyRevoked {
                name, prefix, via, ..
            } => {
                json!({ "name": name, "prefix": prefix, "via": via })
            }
            AgentKeyRevoked { agent_id, .. } => {
                json!({ "reason": "agent deleted", "agentId": id(*agent_id) })
            }
            ArtifactCreated {
                name, share_token, ..
            } => {
                json!({ "name": name, "shareToken": share_token })
            }
            ArtifactUpdated {
                name, description, ..
            } => {
                json!({ "name": name, "description": description })
            }
            VersionCreated {
                artifact_id,
                number,
                file_type,
                files,
                size,
                ..
            } => json!({
                "artifactId": id(*artifact_id),
                "number": number,
                "fileType": file_type,
                "files": files,
                "size": size,
            }),
            VersionRenamed {
                number,
                before,
                after,
                ..
            } => {
                json!({ "number": number, "before": before, "after": after })
            }
            VersionDeleted {
                artifact_id,
                number,
                ..
            }
            | VersionRestored {
                artifact_id,
                number,
                ..
            } => {
                json!({ "artifactId": id(*artifact_id), "number": number })
            }
            CommentCreated {
                artifact_id,
                version,
                source,
                ..
            } => {
                json!({ "artifactId": id(*artifact_id), "version": version, "source": source })
            }
            CommentUpdated { version, .. }
            | CommentResolved { version, .. }
            | CommentUnresolved { version, .. }
            | CommentDeleted { version, .. } => json!({ "version": version }),
            ReplyCreated { comment_id, .. }
            | ReplyUpdated { comment_id, .. }
            | ReplyDeleted { comment_id, .. } => json!({ "commentId": id(*comment_id) }),
            AccessGranted {
                artifact_id,
                email,
                role,
                status,
                ..
            } => json!({
                "artifactId": id(*artifact_id),
                "email": email,
                "role": role,
                "status": status,
            }),
            AccessRevoked {
                artifact_id, email, ..
            } => {
                json!({ "artifactId": id(*artifact_id), "email": email })
            }
            ShareLinkCreated {
                read_comments,
                write_comments,
                ..
            } => json!({
                "enabled": true,
                "capabilities": { "readComments": read_comments, "writeComments": write_comments },
            }),
            ShareLinkUpdated {
                enabled,
                read_comments,
                write_comments,
                ..
            } => json!({
                "enabled": enabled,
                "capabilities": { "readComments": read_comments, "writeComments": write_comments },
            }),
            ShareLinkDisabled { .. } => json!({ "enabled": false }),
            SessionCreated { .. }
            | SessionEnded { .. }
            | InviteRevoked { .. }
            | ShareLinkReissued { .. }
            | ArtifactDeleted { .. } => return None,
        };
        Some(value)
    }
}

/// Appends an event done by `ctx`, at `now`.
pub fn record(
    conn: &Connection,
    ctx: &AuditCtx,
    event: &AuditEvent<'_>,
    now: i64,
) -> StoreResult<()> {
    if event.is_about_content() {
        still_acting(conn, ctx, now)?;
    }
    let (object_type, object_id) = event.object().unzip();
    let detail = event.detail().map(|d| d.to_string());
    conn.prepare_cached(
        "INSERT INTO audit_events
           (created_at, user_id, agent_id, key_id, session_id, ip, action, object_type, object_id, detail, artifact_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        now,
        ctx.user_id,
        ctx.agent_id,
        ctx.key_id,
        ctx.session_id,
        ctx.ip,
        event.action(),
        object_type,
        object_id,
        detail,
        event.artifact_id(),
    ])?;
    if let Some(artifact_id) = event.artifact_id() {
        super::feed::note(artifact_id);
    }
    Ok(())
}

thread_local! {
    /// On the writer's thread: the keys and sessions found able to act in its current transaction
    /// (with when they expire), since the last write that may have changed who can act. A batch
    /// of one key's comments looks the key up once. Only this process writes inside the
    /// transaction, and its writes that change keys, sessions, agents or accounts are submitted as
    /// such (`Touches::Identities`): the writer forgets after each of them, and at each start.
    static ACTING: std::cell::RefCell<Vec<(Acting, Option<i64>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Who a write is made with: a key or a session, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acting {
    Key(i64),
    Session(i64),
}

/// Forgets who was found able to act (the writer calls it when a transaction starts, and after
/// each write that may change identities).
pub fn forget_acting() {
    ACTING.with(|known| known.borrow_mut().clear());
}

/// Refuses an event done with a key or session that may no longer act: revoked, expired or ended
/// while its request was under way (an upload takes minutes; a key is revocable at once), its
/// agent deleted or its account disabled. Checked inside the write that records the event, so
/// nothing the request wrote is kept; events done by no one (the server, an admin command) pass.
fn still_acting(conn: &Connection, ctx: &AuditCtx, now: i64) -> StoreResult<()> {
    let who = match (ctx.key_id, ctx.session_id) {
        (Some(key), _) => Acting::Key(key),
        (None, Some(session)) => Acting::Session(session),
        (None, None) => return Ok(()),
    };
    let known = ACTING.with(|known| {
        known
            .borrow()
            .iter()
            .any(|(w, expires)| *w == who && expires.is_none_or(|at| at > now))
    });
    if known {
        return Ok(());
    }
    let gone = |code: &'static str, why: &str| {
        Err(StoreError::NoLongerActing {
            code,
            message: format!("{why} while this request was under way; nothing was stored"),
        })
    };
    let expires = match who {
        Acting::Key(key_id) => {
            let found = conn
                .prepare_cached(
                    "SELECT k.revoked_at, k.expires_at, u.disabled_at, a.deleted_at
                       FROM api_keys k
                       JOIN users u ON u.id = k.user_id
                       LEFT JOIN agents a ON a.id = k.agent_id
                      WHERE k.id = ?1",
                )?
                .query_row([key_id], |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()?;
            match found {
                None => return gone("invalid_key", "this API key was deleted"),
                Some((Some(_), ..)) => return gone("revoked_key", "this API key was revoked"),
                Some((_, Some(at), ..)) if at <= now => {
                    return gone("expired_key", "this API key expired")
                }
                Some((_, _, Some(_), _)) => {
                    return gone(
                        "account_disabled",
                        "the account this key belongs to was disabled",
                    )
                }
                Some((.., Some(_))) => return gone("revoked_key", "this key's agent was deleted"),
                Some((_, expires, ..)) => expires,
            }
        }
        Acting::Session(session_id) => {
            let found = conn
                .prepare_cached(
                    "SELECT s.ended_at, s.expires_at, u.disabled_at
                       FROM sessions s JOIN users u ON u.id = s.user_id
                      WHERE s.id = ?1",
                )?
                .query_row([session_id], |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .optional()?;
            match found {
                Some((_, _, Some(_))) => {
                    return gone("account_disabled", "this account was disabled")
                }
                Some((None, expires, None)) if expires > now => Some(expires),
                _ => return gone("invalid_session", "your session ended"),
            }
        }
    };
    ACTING.with(|known| known.borrow_mut().push((who, expires)));
    Ok(())
}

/// The events of `whose`, newest first, optionally only those made with one key, before event id
/// `before` (the cursor), at most `limit`. Each form of the query walks one index from the cursor
/// back (`audit_by_key` or `audit_by_user`): a filter written as `(?2 IS NULL OR e.key_id = ?2)`
/// would have scanned every newer event of the user for a key's few.
pub fn list(
    conn: &Connection,
    whose: Whose,
    key_id: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<Event>> {
    let (sql, user_id) = match whose {
        Whose::User(id) => (list_sql(key_id.is_some()), id),
        Whose::Everyone => (team_sql(key_id.is_some()), 0),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let before = before.unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![user_id, key_id, before, limit], Event::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whose events a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// What one account (or its agents, through its keys and sessions) did.
    User(i64),
    /// Everyone's: the whole server's trail, for admins.
    Everyone,
}

/// The events of `audit_events e` where `$filter` holds, newest first from the cursor.
macro_rules! events_where {
    ($filter:literal) => {
        concat!(
            "SELECT e.id, e.created_at, e.user_id, u.name, e.agent_id, a.name, e.key_id, k.name, k.prefix,
                    e.session_id, e.ip, e.action, e.object_type, e.object_id, e.detail,
                    ar.id, ar.name, ar.deleted_at IS NOT NULL,
                    CASE e.object_type
                      WHEN 'user' THEN (SELECT ou.name || ' (' || ou.email || ')' FROM users ou
                                         WHERE ou.id = CAST(e.object_id AS INTEGER))
                      WHEN 'key' THEN (SELECT ok.name || ' (ar_live_' || ok.prefix || '…)' FROM api_keys ok
                                        WHERE ok.id = CAST(e.object_id AS INTEGER))
                      WHEN 'agent' THEN (SELECT oa.name FROM agents oa
                                          WHERE oa.id = CAST(e.object_id AS INTEGER))
                      WHEN 'access' THEN (SELECT og.email FROM access_grants og
                                           WHERE og.id = CAST(e.object_id AS INTEGER))
                      WHEN 'password_reset' THEN (SELECT pu.name || ' (' || pu.email || ')'
                                                    FROM password_resets pr JOIN users pu ON pu.id = pr.user_id
                                                   WHERE pr.id = CAST(e.object_id AS INTEGER))
                    END
               FROM audit_events e
               LEFT JOIN users u ON u.id = e.user_id
               LEFT JOIN agents a ON a.id = e.agent_id
               LEFT JOIN api_keys k ON k.id = e.key_id
               LEFT JOIN artifacts ar ON ar.id = e.artifact_id
              WHERE ",
            $filter,
            " AND e.id < ?3
              ORDER BY e.id DESC
              LIMIT ?4"
        )
    };
}

/// `list`'s query for everyone: ?2 the key (when `by_key`), ?3 the cursor, ?4 the limit (?1 is not
/// used).
fn team_sql(by_key: bool) -> &'static str {
    if by_key {
        events_where!("e.key_id = ?2")
    } else {
        events_where!("1")
    }
}

/// `list`'s query: ?1 the user, ?2 the key (when `by_key`), ?3 the cursor, ?4 the limit.
fn list_sql(by_key: bool) -> &'static str {
    if by_key {
        events_where!("e.key_id = ?2 AND e.user_id = ?1")
    } else {
        events_where!("e.user_id = ?1")
    }
}

/// One event of an artifact's stream, with who did it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactEvent {
    pub id: i64,
    pub created_at: i64,
    pub action: String,
    pub object_id: Option<String>,
    pub detail: Option<String>,
    pub actor: Author,
}

/// The events of an artifact after event `after`, oldest first, at most `limit`. (Its access
/// changes are among them: a stream does not show them, but learns from them that someone lost
/// access.)
pub fn for_artifact(
    conn: &Connection,
    artifact_id: i64,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<ArtifactEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.created_at, e.action, e.object_id, e.detail,
                coalesce(e.user_id, 0), coalesce(u.name, ''), e.agent_id, a.name, a.role
           FROM audit_events e
           LEFT JOIN users u ON u.id = e.user_id
           LEFT JOIN agents a ON a.id = e.agent_id
          WHERE e.artifact_id = ?1 AND e.id > ?2
          ORDER BY e.id
          LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![artifact_id, after, limit], |r| {
        Ok(ArtifactEvent {
            id: r.get(0)?,
            created_at: r.get(1)?,
            action: r.get(2)?,
            object_id: r.get(3)?,
            detail: r.get(4)?,
            actor: Author::from_row_at(r, 5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The id of the newest event of an artifact (0 when it has none).
pub fn newest_for_artifact(conn: &Connection, artifact_id: i64) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM audit_events WHERE artifact_id = ?1")?
        .query_row([artifact_id], |r| r.get(0))?)
}

/// The id of the newest event of all (0 when there is none).
pub fn newest(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM audit_events")?
        .query_row([], |r| r.get(0))?)
}

/// A comment or a reply someone made: its event, and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub event_id: i64,
    pub artifact_id: i64,
    /// `comment.created` or `reply.created`.
    pub action: String,
    /// The comment's id, or the reply's.
    pub object_id: String,
    pub detail: Option<String>,
}

/// New feedback: comments and replies made after event `after`, on the artifact `only` (or any
/// live artifact `user_id` owns or reviews), by anyone but `user_id` acting as `agent_id` (the
/// one waiting: a person sees their agents' comments, an agent sees its person's), oldest first,
/// at most `limit`.
pub fn feedback_after(
    conn: &Connection,
    user_id: i64,
    agent_id: Option<i64>,
    only: Option<i64>,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<Feedback>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.artifact_id, e.action, e.object_id, e.detail
           FROM audit_events e
          WHERE e.id > ?4
            AND e.action IN ('comment.created', 'reply.created', 'comment.unresolved',
                             'comment.updated', 'reply.updated')
            AND NOT (e.user_id = ?1 AND e.agent_id IS ?2)
            AND (CASE WHEN ?3 IS NULL
                      THEN e.artifact_id IN (SELECT a.id FROM artifacts a
                                               WHERE a.owner_id = ?1 AND a.deleted_at IS NULL
                                             UNION
                                             SELECT g.artifact_id FROM access_grants g
                                               JOIN artifacts ga ON ga.id = g.artifact_id
                                              WHERE g.user_id = ?1 AND g.revoked_at IS NULL
                                                AND ga.deleted_at IS NULL)
                      ELSE e.artifact_id = ?3 END)
          ORDER BY e.id
          LIMIT ?5",
    )?;
    let rows = stmt.query_map(params![user_id, agent_id, only, after, limit], |r| {
        Ok(Feedback {
            event_id: r.get(0)?,
            artifact_id: r.get(1)?,
            action: r.get(2)?,
            object_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            detail: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings' Activity page names each action in words; one it does not know shows as its
    /// bare code. Every code `action` can return must have its words there.
    #[test]
    fn the_activity_page_has_words_for_every_action() {
        let page = include_str!("../../assets/js/activity.js");
        let source = include_str!("audit.rs");
        let body = &source[source.find("pub fn action(&self)").expect("action()")..];
        let body = &body[..body.find("\n    }\n").expect("the end of action()")];
        let codes: Vec<&str> = body
            .split("=> \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(codes.len() >= 40, "found only {codes:?}");
        let missing: Vec<&&str> = codes
            .iter()
            .filter(|code| !page.contains(&format!("'{code}': ")))
            .collect();
        assert!(
            missing.is_empty(),
            "no words on the Activity page for {missing:?}"
        );
    }

    #[test]
    fn the_activity_listing_walks_one_index_back_from_its_cursor() -> StoreResult<()> {
        let conn = crate::store::schema::in_memory();
        let plan = |by_key: bool| -> StoreResult<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", list_sql(by_key)))?;
            let rows = stmt.query_map(params![1, 1, i64::MAX, 50], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?.join("; "))
        };
        let by_key = plan(true)?;
        assert!(
            by_key.contains("SEARCH e USING INDEX audit_by_key (key_id=? AND id<?)"),
            "{by_key}"
        );
        let by_user = plan(false)?;
        assert!(
            by_user.contains("SEARCH e USING INDEX audit_by_user (user_id=? AND id<?)"),
            "{by_user}"
        );
        Ok(())
    }
}
