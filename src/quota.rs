//! The storage quota (`--storage-quota`, 2 GiB): the distinct bytes each account may store
//! (`store::quota` says what counts). An upload is checked once its files are known and before
//! anything of it is written; one that would take its account over is refused with the usage,
//! the quota and the upload's size. Uploads of one account in progress at the same time count
//! against it together: each holds what it adds until its version is written, and the check and
//! the write that publishes a version take turns per account, so two parallel uploads cannot
//! both fit in the same room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::http::error::ApiError;
use crate::limits::ByteSize;
use crate::store::quota;
use crate::store::staging::Sha256;
use crate::store::Store;

#[derive(Debug)]
pub struct Quotas {
    quota: u64,
    accounts: Mutex<HashMap<i64, Arc<Account>>>,
}

#[derive(Debug, Default)]
struct Account {
    /// Bytes that admitted uploads will add when published.
    pending: Mutex<u64>,
    /// Held while checking an upload, and while publishing one.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// An upload within its account's quota; what it adds is counted until it is dropped.
#[derive(Debug)]
pub struct Admitted {
    account: Arc<Account>,
    bytes: u64,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut pending = self
            .account
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *pending = pending.saturating_sub(self.bytes);
    }
}

impl Admitted {
    /// The account's turn to publish: hold it across the write, and drop `self` before it.
    pub async fn turn(&self) -> OwnedMutexGuard<()> {
        self.account.turn.clone().lock_owned().await
    }
}

impl Quotas {
    pub fn new(quota: u64) -> Quotas {
        Quotas {
            quota,
            accounts: Mutex::default(),
        }
    }

    /// Distinct bytes each account may store.
    pub fn quota(&self) -> u64 {
        self.quota
    }

    fn account(&self, user_id: i64) -> Arc<Account> {
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(user_id)
            .or_default()
            .clone()
    }

    /// Admits an upload of `contents` (distinct hashes and sizes) for the account `user_id`, or
    /// refuses it (403 `quota_exceeded`) when the account's usage, what its other uploads in
    /// progress add and what this one adds would pass the quota.
    pub async fn admit(
        &self,
        store: &Store,
        user_id: i64,
        contents: Vec<(Sha256, u64)>,
    ) -> Result<Admitted, ApiError> {
        let account = self.account(user_id);
        let _turn = account.turn.clone().lock_owned().await;
        let size: u64 = contents.iter().map(|(_, size)| size).sum();
        let (usage, adds) = store
            .read(move |conn| {
                Ok((
                    quota::usage(conn, user_id)?,
                    quota::added(conn, user_id, &contents)?,
                ))
            })
            .await?;
        let mut pending = account.pending.lock().unwrap_or_else(|p| p.into_inner());
        let total = usage + *pending + adds;
        if adds > 0 && total > self.quota {
            let in_progress = if *pending > 0 {
                format!(
                    ", and its other uploads in progress add {}",
                    ByteSize(*pending).exact()
                )
            } else {
                String::new()
            };
            return Err(ApiError::Forbidden {
                code: "quota_exceeded",
                message: format!(
                    "this upload would take the account over its storage quota: the upload stores {}, \
                     of which {} the account does not store yet; the account stores {}{in_progress}; \
                     the quota is {} (--storage-quota). Deleting artifacts frees what no other version \
                     uses (deleted versions keep their files and still count); the server's operator \
                     can raise the quota with --storage-quota",
                    ByteSize(size).exact(),
                    ByteSize(adds).exact(),
                    ByteSize(usage).exact(),
                    ByteSize(self.quota).exact(),
                ),
            });
        }
        *pending += adds;
        drop(pending);
        Ok(Admitted {
            account: account.clone(),
            bytes: adds,
        })
    }
}
