//! The JSON shapes of users, agents, keys and identities, shared by every endpoint that shows them.
//! Field names follow the hosted product's API (camelCase, timestamps in ms ending in `At`, string
//! ids).

use serde::Serialize;

use crate::http::ids::{wire, wire_opt};
use crate::store::agents::Agent;
use crate::store::comments::Author;
use crate::store::keys::KeyRecord;
use crate::store::users::User;

/// Who acted: the user, or one of their agents.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IdentityView {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl IdentityView {
    pub fn user(user: &User) -> IdentityView {
        IdentityView {
            kind: "user",
            id: wire(user.id),
            name: user.name.clone(),
            role: None,
        }
    }

    pub fn agent(id: i64, name: &str, role: Option<&str>) -> IdentityView {
        IdentityView {
            kind: "agent",
            id: wire(id),
            name: name.to_string(),
            role: role.map(str::to_string),
        }
    }
}

impl From<&Author> for IdentityView {
    fn from(a: &Author) -> Self {
        match a.agent_id {
            Some(id) => IdentityView::agent(
                id,
                a.agent_name.as_deref().unwrap_or_default(),
                a.agent_role.as_deref(),
            ),
            None => IdentityView {
                kind: "user",
                id: wire(a.user_id),
                name: a.user_name.clone(),
                role: None,
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: wire(u.id),
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.clone(),
            created_at: u.created_at,
            disabled_at: u.disabled_at,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Agent> for AgentView {
    fn from(a: &Agent) -> Self {
        AgentView {
            id: wire(a.id),
            name: a.name.clone(),
            role: a.role.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// The 8 characters after `ar_live_`.
    pub prefix: String,
    pub identity: IdentityView,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    /// The key that replaced this one in a rotation (this one expires after the overlap).
    pub replaced_by: Option<String>,
    /// Why the server revoked it: `leaked` (found in text stored here, `revokedWhere` says where)
    /// or `member_removed`; null when a person revoked it.
    pub revoked_reason: Option<String>,
    pub revoked_where: Option<String>,
    pub status: &'static str,
}

impl KeyView {
    /// `owner` is the key's user (keys are only ever shown to their owner).
    pub fn new(key: &KeyRecord, owner: &User, now: i64) -> KeyView {
        let identity = match key.agent_id {
            Some(id) => IdentityView::agent(
                id,
                key.agent_name.as_deref().unwrap_or_default(),
                key.agent_role.as_deref(),
            ),
            None => IdentityView::user(owner),
        };
        KeyView {
            id: wire(key.id),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            identity,
            scopes: key.scope_list(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
            revoked_by: wire_opt(key.revoked_by),
            replaced_by: wire_opt(key.replaced_by),
            revoked_reason: key.revoked_reason.clone(),
            revoked_where: key.revoked_where.clone(),
            status: key.status(now),
        }
    }
}
