//! The admin sub-commands: they work on the database file directly (the server may be running) and
//! print only the value asked for on stdout; errors go to stderr with a non-zero exit code.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::clock::now_ms;
use crate::config::{AgentCommand, KeyCommand, UserCommand};
use crate::keys;
use crate::password;
use crate::scopes::Scope;
use crate::store::audit::{self, AuditCtx, AuditEvent};
use crate::store::keys::NewKeyRow;
use crate::store::users::{NewUser, User};
use crate::store::{agents, keys as key_store, users, Store, StoreError};
use crate::text;

/// A failed command: the message for stderr.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(String);

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError(e.to_string())
    }
}

impl From<text::TextError> for CliError {
    fn from(e: text::TextError) -> Self {
        CliError(e.to_string())
    }
}

/// The audit context of a command-line action on behalf of `user_id`.
fn cli_ctx(user_id: i64) -> AuditCtx {
    AuditCtx {
        user_id: Some(user_id),
        ..AuditCtx::default()
    }
}

fn find_user(store: &Store, email: &str) -> Result<User, CliError> {
    let email = text::email("--user", email)?;
    let lookup = email.clone();
    store
        .read_blocking(move |conn| users::by_email(conn, &lookup))?
        .ok_or_else(|| CliError(format!("no account has the email {email}")))
}

pub fn user(store: &Store, command: UserCommand, out: &mut impl Write) -> Result<(), CliError> {
    let UserCommand::Create {
        email,
        name,
        password_stdin: _,
        admin,
    } = command;
    let email = text::email("--email", &email)?;
    let name = text::label("--name", &name, text::NAME_MAX)?;
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| {
            CliError(format!(
                "could not read the password from standard input: {e}"
            ))
        })?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    text::password("password", &password)?;
    let hash = password::hash_blocking(&password).map_err(|e| CliError(e.to_string()))?;
    let user = store.write_blocking(move |conn| {
        let now = now_ms();
        // The first account is always an admin.
        let role = if admin || users::count(conn)? == 0 {
            "admin"
        } else {
            "member"
        };
        users::create(
            conn,
            &NewUser {
                email: &email,
                name: &name,
                password_hash: &hash,
                role,
                // The operator of the host vouches for the address.
                owns_email: true,
            },
            None,
            "cli",
            None,
            now,
        )
    })?;
    writeln!(out, "{}", user.id).map_err(|e| CliError(e.to_string()))
}

pub fn agent(store: &Store, command: AgentCommand, out: &mut impl Write) -> Result<(), CliError> {
    let AgentCommand::Create { user, name, role } = command;
    let owner = find_user(store, &user)?;
    let name = text::label("--name", &name, text::NAME_MAX)?;
    let role = role
        .as_deref()
        .map(|r| text::label("--role", r, text::NAME_MAX))
        .transpose()?;
    let agent = store.write_blocking(move |conn| {
        let now = now_ms();
        let agent = agents::insert(conn, owner.id, &name, role.as_deref(), now)?;
        audit::record(
            conn,
            &cli_ctx(owner.id),
            &AuditEvent::AgentCreated {
                agent_id: agent.id,
                name: &agent.name,
                role: agent.role.as_deref(),
                via: Some("cli"),
            },
            now,
        )?;
        Ok(agent)
    })?;
    writeln!(out, "{}", agent.id).map_err(|e| CliError(e.to_string()))
}

pub fn key(store: &Store, command: KeyCommand, out: &mut impl Write) -> Result<(), CliError> {
    match command {
        KeyCommand::Create {
            user,
            name,
            agent,
            expires_in_days,
            scope,
        } => create_key(
            store,
            &user,
            &name,
            agent.as_deref(),
            expires_in_days,
            scope,
            out,
        ),
        KeyCommand::List { user, all } => list_keys(store, &user, all, out),
        KeyCommand::Revoke { key_id } => revoke_key(store, key_id, out),
        KeyCommand::Rotate { key_id, overlap } => rotate_key(store, key_id, overlap, out),
    }
}

fn create_key(
    store: &Store,
    email: &str,
    name: &str,
    agent: Option<&str>,
    expires_in_days: Option<u32>,
    scope: Scope,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let owner = find_user(store, email)?;
    let name = text::label("--name", name, text::NAME_MAX)?;
    let now = now_ms();
    let expires_at = expires_in_days
        .map(|d| keys::expires_after_days(i64::from(d), now))
        .transpose()
        .map_err(CliError)?;
    let agent_id = match agent {
        None => None,
        Some(wanted) => Some(resolve_agent(store, owner.id, wanted)?),
    };
    let new_key = keys::generate().map_err(|e| CliError(e.to_string()))?;
    let stored = new_key.stored.clone();
    store.write_blocking(move |conn| {
        key_store::create(
            conn,
            &NewKeyRow {
                user_id: owner.id,
                agent_id,
                name: &name,
                prefix: &stored.prefix,
                hash: &stored.hash,
                expires_at,
                scope,
            },
            &cli_ctx(owner.id),
            Some("cli"),
            now,
        )
    })?;
    writeln!(out, "{}", new_key.secret.expose()).map_err(|e| CliError(e.to_string()))
}

/// An agent of the user by exact name, or by id.
fn resolve_agent(store: &Store, user_id: i64, wanted: &str) -> Result<i64, CliError> {
    let name = wanted.to_string();
    let by_name = store.read_blocking(move |conn| agents::by_name(conn, user_id, &name))?;
    match by_name.as_slice() {
        [one] => return Ok(one.id),
        [] => {}
        several => {
            let ids: Vec<String> = several.iter().map(|a| a.id.to_string()).collect();
            return Err(CliError(format!(
                "several agents are named {wanted:?} (ids {}); pass the id instead",
                ids.join(", ")
            )));
        }
    }
    if let Ok(id) = wanted.parse::<i64>() {
        if let Ok(agent) = store.read_blocking(move |conn| agents::get(conn, user_id, id)) {
            return Ok(agent.id);
        }
    }
    Err(CliError(format!(
        "this user has no agent named {wanted:?}; create it with `artifact-review agent create`"
    )))
}

fn list_keys(store: &Store, email: &str, all: bool, out: &mut impl Write) -> Result<(), CliError> {
    let owner = find_user(store, email)?;
    let owner_id = owner.id;
    let list = store.read_blocking(move |conn| key_store::list(conn, owner_id, all))?;
    let now = now_ms();
    let opt = |v: Option<i64>| v.map_or("-".to_string(), |t| t.to_string());
    for k in list {
        let identity = match &k.agent_name {
            Some(agent) => format!("agent:{agent}"),
            None => "you".to_string(),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            k.id,
            k.name,
            keys::display(&k.prefix),
            identity,
            k.status(now),
            k.created_at,
            opt(k.expires_at),
            opt(k.last_used_at)
        )
        .map_err(|e| CliError(e.to_string()))?;
    }
    Ok(())
}

fn revoke_key(store: &Store, key_id: i64, out: &mut impl Write) -> Result<(), CliError> {
    let (record, newly) = store
        .write_blocking(move |conn| {
            let key = key_store::get_any(conn, key_id)?;
            key_store::revoke_recorded(
                conn,
                key_id,
                None,
                &cli_ctx(key.user_id),
                Some("cli"),
                now_ms(),
            )
        })
        .map_err(|e| match e {
            StoreError::NotFound => CliError(format!("no key has the id {key_id}")),
            other => other.into(),
        })?;
    let when = record.revoked_at.unwrap_or_default();
    let note = if newly { "revoked" } else { "already revoked" };
    writeln!(out, "{}\t{note}\t{when}", record.id).map_err(|e| CliError(e.to_string()))
}

fn rotate_key(
    store: &Store,
    key_id: i64,
    overlap: keys::Overlap,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let new_key = keys::generate().map_err(|e| CliError(e.to_string()))?;
    let stored = new_key.stored.clone();
    let now = now_ms();
    let outcome = store
        .write_blocking(move |conn| {
            let old = key_store::get_any(conn, key_id)?;
            key_store::rotate(
                conn,
                old.user_id,
                key_id,
                &NewKeyRow {
                    user_id: old.user_id,
                    agent_id: old.agent_id,
                    name: &old.name,
                    prefix: &stored.prefix,
                    hash: &stored.hash,
                    expires_at: keys::replacement_expiry(old.created_at, old.expires_at, now),
                    scope: old.scope(),
                },
                now + overlap.ms(),
                &cli_ctx(old.user_id),
                now,
            )
        })
        .map_err(|e| match e {
            StoreError::NotFound => CliError(format!("no key has the id {key_id}")),
            other => other.into(),
        })?;
    match outcome {
        Ok((_, fresh)) => {
            eprintln!(
                "key {key_id} keeps working until {} and then expires; its replacement is key {}",
                crate::clock::iso(now + overlap.ms()),
                fresh.id
            );
            writeln!(out, "{}", new_key.secret.expose()).map_err(|e| CliError(e.to_string()))
        }
        Err(key_store::NotRotatable::Revoked) => Err(CliError(format!(
            "key {key_id} is revoked and cannot be rotated; create a new key"
        ))),
        Err(key_store::NotRotatable::Expired) => Err(CliError(format!(
            "key {key_id} has expired and cannot be rotated; create a new key"
        ))),
        Err(key_store::NotRotatable::Replaced(by)) => Err(CliError(format!(
            "key {key_id} was already rotated: key {by} replaced it"
        ))),
    }
}

pub fn backup(store: &Store, dest: &Path, out: &mut impl Write) -> Result<(), CliError> {
    let file_name = dest
        .file_name()
        .ok_or_else(|| CliError(format!("{} is not a file path", dest.display())))?;
    let partial = dest.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    let _ = std::fs::remove_file(&partial);
    store.backup_to(&partial)?;
    std::fs::rename(&partial, dest)
        .map_err(|e| CliError(format!("could not move the backup into place: {e}")))?;
    writeln!(out, "{}", dest.display()).map_err(|e| CliError(e.to_string()))
}
