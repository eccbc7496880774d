//! The admin sub-commands: they work on the database file directly (the server may be running) and
//! print only the value asked for on stdout; errors go to stderr with a non-zero exit code.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::clock::{self, now_ms};
use crate::config::{AgentCommand, KeyCommand, UserCommand};
use crate::db_files::Companion;
use crate::keys;
use crate::link_key;
use crate::password;
use crate::scopes::Scope;
use crate::store::audit::AuditCtx;
use crate::store::keys::NewKeyRow;
use crate::store::users::{NewUser, User};
use crate::store::{agents, keys as key_store, members, users, Store, StoreError};
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

/// Writes one line of output.
fn line(out: &mut impl Write, text: &str) -> Result<(), CliError> {
    writeln!(out, "{text}").map_err(|e| CliError(e.to_string()))
}

/// A time for people and scripts: `MS (ISO 8601 UTC)`, or `-` when there is none.
fn when(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_string(), clock::ms_and_iso)
}

/// Reads a password (one line) from standard input, checks it and hashes it.
fn password_from_stdin() -> Result<String, CliError> {
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
    password::hash_blocking(&password).map_err(|e| CliError(e.to_string()))
}

pub fn user(store: &Store, command: UserCommand, out: &mut impl Write) -> Result<(), CliError> {
    match command {
        UserCommand::Create {
            email,
            name,
            password_stdin: _,
            admin,
        } => create_user(store, &email, &name, admin, out),
        UserCommand::List => list_users(store, out),
        UserCommand::SetPassword {
            email,
            password_stdin: _,
        } => set_password(store, &email, out),
        UserCommand::Disable { email } => disable_user(store, &email, out),
        UserCommand::Enable { email } => enable_user(store, &email, out),
    }
}

fn create_user(
    store: &Store,
    email: &str,
    name: &str,
    admin: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let email = text::email("--email", email)?;
    let name = text::label("--name", name, text::NAME_MAX)?;
    let hash = password_from_stdin()?;
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
    line(out, &user.id.to_string())
}

fn list_users(store: &Store, out: &mut impl Write) -> Result<(), CliError> {
    let list = store.read_blocking(users::list)?;
    line(out, "ID\tEMAIL\tNAME\tROLE\tSTATUS\tCREATED\tDISABLED")?;
    for u in list {
        let status = if u.disabled_at.is_some() {
            "disabled"
        } else {
            "active"
        };
        line(
            out,
            &format!(
                "{}\t{}\t{}\t{}\t{status}\t{}\t{}",
                u.id,
                u.email,
                u.name,
                u.role,
                when(Some(u.created_at)),
                when(u.disabled_at)
            ),
        )?;
    }
    Ok(())
}

fn set_password(store: &Store, email: &str, out: &mut impl Write) -> Result<(), CliError> {
    let user = find_user(store, email)?;
    let hash = password_from_stdin()?;
    let id = user.id;
    let ended = store.write_blocking(move |conn| {
        members::set_password(conn, &cli_ctx(id), id, &hash, now_ms())
    })?;
    let sessions = if ended == 1 { "session" } else { "sessions" };
    line(
        out,
        &format!("{id}\tpassword set\t{ended} {sessions} ended"),
    )
}

fn disable_user(store: &Store, email: &str, out: &mut impl Write) -> Result<(), CliError> {
    let user = find_user(store, email)?;
    let id = user.id;
    let removed = store.write_blocking(move |conn| {
        members::disable(conn, &cli_ctx(id), id, None, Some("cli"), now_ms())
    })?;
    let note = if removed.newly {
        "disabled"
    } else {
        "already disabled"
    };
    line(
        out,
        &format!(
            "{id}\t{note}\t{}\t{} keys revoked",
            when(removed.user.disabled_at),
            removed.revoked_keys.len()
        ),
    )
}

fn enable_user(store: &Store, email: &str, out: &mut impl Write) -> Result<(), CliError> {
    let user = find_user(store, email)?;
    let id = user.id;
    let (_, newly) = store.write_blocking(move |conn| {
        members::enable(conn, &cli_ctx(id), id, Some("cli"), now_ms())
    })?;
    line(
        out,
        &format!(
            "{id}\t{}",
            if newly { "enabled" } else { "already enabled" }
        ),
    )
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
        let ctx = cli_ctx(owner.id);
        agents::create(
            conn,
            owner.id,
            &name,
            role.as_deref(),
            &ctx,
            Some("cli"),
            now_ms(),
        )
    })?;
    line(out, &agent.id.to_string())
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
    if owner.disabled_at.is_some() {
        return Err(CliError(format!(
            "{} is disabled: a key for it would not work; enable the account first (user enable)",
            owner.email
        )));
    }
    let name = text::label("--name", name, text::NAME_MAX)?;
    let now = now_ms();
    let expires_at = expires_in_days
        .map(|d| keys::expires_after_days(i64::from(d), now))
        .transpose()
        // Said with the flag's name (the API's field name is expiresInDays).
        .map_err(|m| CliError(m.replace("expiresInDays", "--expires-in-days")))?;
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
    line(
        out,
        "ID\tNAME\tKEY\tIDENTITY\tSTATUS\tCREATED\tEXPIRES\tLAST USED",
    )?;
    for k in list {
        let identity = match &k.agent_name {
            Some(agent) => format!("agent:{agent}"),
            None => "you".to_string(),
        };
        // A rotated key still working until its overlap ends says so, and which key replaced it.
        let status = match (k.status(now), k.replaced_by) {
            ("active", Some(by)) => format!("rotated:{by}"),
            (status, _) => status.to_string(),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            k.id,
            k.name,
            keys::display(&k.prefix),
            identity,
            status,
            when(Some(k.created_at)),
            when(k.expires_at),
            when(k.last_used_at)
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
    let note = if newly { "revoked" } else { "already revoked" };
    line(
        out,
        &format!("{}\t{note}\t{}", record.id, when(record.revoked_at)),
    )
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
                &NewKeyRow::replacing(&old, &stored, now),
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
            if overlap.ms() == 0 {
                eprintln!(
                    "key {key_id} stopped working now (no overlap); its replacement is key {}",
                    fresh.id
                );
            } else {
                eprintln!(
                    "key {key_id} keeps working until {} and then expires; its replacement is key {}",
                    crate::clock::iso(now + overlap.ms()),
                    fresh.id
                );
            }
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

/// Refuses a backup destination that is the live database or one of the files that go with it
/// (its WAL, WAL-index, journal, share-link key), or whose own share-link key would be: replacing
/// one of them under a running server loses what it writes afterwards, or breaks it.
fn refuse_live_files(db: &Path, dest: &Path) -> Result<(), CliError> {
    // Named as a file that goes with a database (another backup's share-link key, say): writing
    // there would destroy it, whoever's it is.
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    if let Some(suffix) = Companion::ALL
        .map(Companion::suffix)
        .into_iter()
        .find(|suffix| name.ends_with(suffix))
    {
        return Err(CliError(format!(
            "not writing the backup to {}: a name ending in {suffix} is that of a file that goes with a database; give another file",
            dest.display()
        )));
    }
    // An existing file that is not a database (an earlier backup is one, and is replaced).
    if let Ok(mut file) = std::fs::File::open(dest) {
        let mut head = [0u8; 16];
        let is_database = std::io::Read::read_exact(&mut file, &mut head).is_ok()
            && &head == b"SQLite format 3\0";
        if !is_database && dest.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
            return Err(CliError(format!(
                "not writing the backup to {}: it is a file that is not an SQLite database, which the backup would replace; give another file",
                dest.display()
            )));
        }
    }
    let taken: Vec<PathBuf> = std::iter::once(db.to_path_buf())
        .chain(Companion::ALL.map(|file| file.of(db)))
        .collect();
    let dest_key = Companion::LinkKey.of(dest);
    for (candidate, what) in [(dest, "it"), (dest_key.as_path(), "its share-link key")] {
        if let Some(file) = taken.iter().find(|f| same_place(f, candidate)) {
            let which = if file.as_path() == db {
                "the database being backed up".to_string()
            } else {
                format!("{}, which belongs with the database", file.display())
            };
            return Err(CliError(format!(
                "not writing the backup to {}: {what} would replace {which}; give another file",
                dest.display()
            )));
        }
    }
    Ok(())
}

/// Refuses to replace a database that a server runs on (it would go on writing to the replaced
/// file: what it acknowledges is lost), or one that is not an Artifact Review database (another
/// program's, or one that cannot be read).
fn refuse_in_use(dest: &Path) -> Result<(), CliError> {
    if crate::server_lock::held_elsewhere(dest) {
        return Err(CliError(format!(
            "not writing the backup to {}: a server is running on it (it holds {}), and would lose what it writes; stop that server first, or give another file",
            dest.display(),
            Companion::ServerLock.of(dest).display()
        )));
    }
    let exists = dest.metadata().is_ok_and(|m| m.is_file() && m.len() > 0);
    if exists {
        crate::store::refuse_to_replace(dest).map_err(|e| {
            CliError(format!(
                "not writing the backup to {}: only an earlier backup (an Artifact Review database) is replaced, and {}; give another file",
                dest.display(),
                match e {
                    StoreError::ForeignDatabase { objects } => format!(
                        "this is the SQLite database of something else ({objects} tables or other objects of its own)"
                    ),
                    other => format!("this one cannot be read ({other})"),
                }
            ))
        })?;
    }
    Ok(())
}

/// Whether two paths name the same place, following symbolic links and `.`/`..` (a path that does
/// not exist yet is compared by its folder and name).
fn same_place(a: &Path, b: &Path) -> bool {
    let resolved = |p: &Path| -> Option<PathBuf> {
        if let Ok(found) = std::fs::canonicalize(p) {
            return Some(found);
        }
        let parent = match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(parent).ok()?.join(p.file_name()?))
    };
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

pub fn backup(store: &Store, dest: &Path, out: &mut impl Write) -> Result<(), CliError> {
    let file_name = dest
        .file_name()
        .ok_or_else(|| CliError(format!("{} is not a file path", dest.display())))?;
    if dest.is_dir() {
        return Err(CliError(format!(
            "{} is a directory; give the backup's file name, such as {}",
            dest.display(),
            dest.join("artifact-review-backup.db").display()
        )));
    }
    refuse_live_files(store.path(), dest)?;
    refuse_in_use(dest)?;
    let partial = dest.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    // What a half-written copy leaves (this one's, on a full disk, or a killed one's before it)
    // would only keep the disk full.
    let remove_partial = || {
        for leftover in
            std::iter::once(partial.clone()).chain(Companion::ALL.map(|c| c.of(&partial)))
        {
            let _ = std::fs::remove_file(leftover);
        }
    };
    remove_partial();
    if let Err(e) = store.backup_to(&partial) {
        remove_partial();
        return Err(CliError(format!(
            "could not write the backup {}: {e}",
            dest.display()
        )));
    }
    // Only a copy that reads back goes into place.
    match crate::store::check_copy(&partial) {
        Ok(None) => {}
        Ok(Some(wrong)) => {
            remove_partial();
            return Err(CliError(format!(
                "the backup did not read back, {wrong}; {} was left as it was",
                dest.display()
            )));
        }
        Err(e) => {
            remove_partial();
            return Err(CliError(format!(
                "the backup did not read back ({e}); {} was left as it was",
                dest.display()
            )));
        }
    }
    // The replaced file's write-ahead log and index belong to it: left beside the copy, the next
    // open would replay the old file's last writes onto it (a corrupt or stale backup). Admin
    // commands leave a WAL behind, and so does a server on the earlier backup that was killed.
    for stale in [Companion::Wal, Companion::Shm, Companion::Journal].map(|c| c.of(dest)) {
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                remove_partial();
                return Err(CliError(format!(
                    "could not remove {}, which belongs to the file the backup replaces: {e}; {} was left as it was",
                    stale.display(),
                    dest.display()
                )));
            }
        }
    }
    std::fs::rename(&partial, dest)
        .map_err(|e| CliError(format!("could not move the backup into place: {e}")))?;
    writeln!(out, "{}", dest.display()).map_err(|e| CliError(e.to_string()))?;
    // The share-link key goes with the database: a server started on the copy shows the same
    // link addresses. There is none until the server has started once.
    let key = link_key::copy_beside(store.path(), dest).map_err(|e| {
        CliError(format!(
            "could not copy the share-link key beside {}: {e}",
            dest.display()
        ))
    })?;
    if let Some(key) = key {
        writeln!(out, "{}", key.display()).map_err(|e| CliError(e.to_string()))?;
    }
    Ok(())
}
