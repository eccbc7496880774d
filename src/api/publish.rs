//! Publishing a checked upload as a version: it is checked against its account's storage quota
//! before anything is written (`quota`), its contents are stored, one file per write
//! (`store::staging`: decompressed and verified on the blocking pool, never inside the writer's
//! transaction), then one short write takes the version number, inserts the version and its file
//! rows, and records the event. An upload that fails or is abandoned on the way gives up what it
//! stored (`Staged` does that when dropped) and what it held of the quota.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::Connection;

use super::idempotency::{self, Pending};
use super::upload;
use crate::bulk;
use crate::http::error::ApiError;
use crate::ingest::Prepared;
use crate::leaks;
use crate::quota::Admitted;
use crate::state::AppState;
use crate::store::artifacts;
use crate::store::audit::{self, AuditCtx, AuditEvent};
use crate::store::blobs::{self, NewFile};
use crate::store::keys as key_store;
use crate::store::staging::Sha256;
use crate::store::versions::{self, NewVersion};
use crate::store::{Store, StoreError, StoreResult};

/// An upload within its account's quota, its contents stored: ready to be published.
pub struct Ready {
    admitted: Admitted,
    /// Held for its `Drop`: the contents' claims go when the version is written (or not).
    _staged: Staged,
    /// Keys of this server found in the upload's new text files (digest, where), and in what else
    /// is published with it: revoked in the write that publishes it. The files stay as uploaded.
    leaked: Vec<([u8; 32], String)>,
}

/// Checks `prepared` against the quota of the account `owner_id` (the artifact's owner), then
/// stores its contents.
pub async fn ready(
    state: &AppState,
    owner_id: i64,
    prepared: Arc<Prepared>,
) -> Result<Ready, ApiError> {
    let mut distinct = HashSet::new();
    let contents: Vec<(Sha256, u64)> = prepared
        .files
        .iter()
        .filter(|f| distinct.insert(f.sha256))
        .map(|f| (f.sha256, f.size))
        .collect();
    let hashes = contents.iter().map(|(h, _)| *h).collect();
    let admitted = state.quotas.admit(&state.store, owner_id, contents).await?;
    let (staged, leaked) = stage(state, prepared, hashes).await?;
    Ok(Ready {
        admitted,
        _staged: staged,
        leaked,
    })
}

impl Ready {
    /// Keys found in something published with the upload (`what`: the artifact's name or
    /// description), to revoke with it.
    pub fn also_revoke(mut self, digests: &[[u8; 32]], what: &str) -> Ready {
        self.leaked
            .extend(digests.iter().map(|d| (*d, what.to_string())));
        self
    }

    /// Runs the write that publishes the version (`version` inside it) of the artifact named
    /// `artifact_name`, in turn with the quota checks of the same account, revoking in it the keys
    /// found in the upload; then lets go of what the upload held.
    pub async fn publish<T, F>(
        self,
        state: &AppState,
        artifact_name: &str,
        write: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let turn = self.admitted.turn().await;
        let leaked: Vec<([u8; 32], String)> = self
            .leaked
            .iter()
            .map(|(d, what)| {
                (
                    *d,
                    format!("{what} of the artifact \u{201c}{artifact_name}\u{201d}"),
                )
            })
            .collect();
        let digests: Vec<[u8; 32]> = leaked.iter().map(|(d, _)| *d).collect();
        let pending = Pending::current();
        let written = state
            .store
            .write_touching(leaks::touches(&digests), move |conn| {
                let written = write(conn)?;
                let now = crate::clock::now_ms();
                for (digest, place) in &leaked {
                    key_store::revoke_leaked(conn, std::slice::from_ref(digest), place, now)?;
                }
                idempotency::mark_done(pending.as_ref(), conn, now)?;
                Ok(written)
            })
            .await;
        // Once the version counts in the account's usage, its share of the pending bytes goes.
        drop(self);
        drop(turn);
        Ok(written?)
    }
}

/// An upload's contents, stored and claimed until its version is written.
pub struct Staged {
    store: Store,
    upload: u64,
    hashes: Vec<Sha256>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        self.store
            .release(self.upload, std::mem::take(&mut self.hashes));
    }
}

/// Stores each of `hashes` (the distinct contents of `prepared`) that is not stored yet, one write
/// each, and claims the rest.
async fn stage(
    state: &AppState,
    prepared: Arc<Prepared>,
    hashes: Vec<Sha256>,
) -> Result<(Staged, Vec<([u8; 32], String)>), ApiError> {
    let upload = state.store.new_upload();
    // From here on, whatever happens (an error, the client leaving), what was claimed is released.
    let staged = Staged {
        store: state.store.clone(),
        upload,
        hashes: hashes.clone(),
    };
    let missing = state.store.claim(upload, hashes).await?;
    let mut leaked = Vec::new();
    for sha256 in missing {
        let Some(index) = prepared.files.iter().position(|f| f.sha256 == sha256) else {
            continue;
        };
        let source = prepared.clone();
        // Text files are scanned for keys of this server where they are read (a stored identical
        // file was scanned when it first came).
        let (bytes, found) = bulk::run(move || {
            let bytes = source.contents(index)?;
            let found = if leaks::scannable(source.files[index].content_type) {
                leaks::digests([String::from_utf8_lossy(&bytes).as_ref()])
            } else {
                Vec::new()
            };
            Ok((bytes, found))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("reading an uploaded file failed: {e}")))?
        .map_err(upload::refused)?;
        let path = &prepared.files[index].path;
        leaked.extend(
            found
                .into_iter()
                .map(|d| (d, format!("the uploaded file {path}"))),
        );
        state.store.stage(upload, sha256, bytes).await?;
    }
    Ok((staged, leaked))
}

/// Publishes the next version of an artifact inside the caller's write, its contents staged
/// already: takes the next number, inserts the version and its files, and records
/// `version.created` for the acting identity in `ctx`. Returns (version id, number).
pub fn version(
    conn: &Connection,
    artifact_id: i64,
    name: Option<&str>,
    prepared: &Prepared,
    ctx: &AuditCtx,
    now: i64,
) -> Result<(i64, i64), StoreError> {
    let user_id = ctx
        .user_id
        .ok_or_else(|| StoreError::Task("a version needs an acting user".into()))?;
    let number = artifacts::take_version_number(conn, artifact_id, now)?;
    let version_id = versions::insert(
        conn,
        &NewVersion {
            artifact_id,
            number,
            name,
            file_type: prepared.file_type.as_str(),
            size: prepared.upload_size,
            entry_point: &prepared.entry_point,
            user_id,
            agent_id: ctx.agent_id,
        },
        now,
    )?;
    let files: Vec<NewFile<'_>> = prepared
        .files
        .iter()
        .map(|f| NewFile {
            path: &f.path,
            sha256: f.sha256,
            content_type: f.content_type,
        })
        .collect();
    blobs::attach(conn, version_id, &files)?;
    audit::record(
        conn,
        ctx,
        &AuditEvent::VersionCreated {
            artifact_id,
            version_id,
            number,
            file_type: prepared.file_type.as_str(),
            files: prepared.files.len(),
            size: prepared.upload_size,
        },
        now,
    )?;
    Ok((version_id, number))
}
