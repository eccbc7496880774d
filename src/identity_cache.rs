//! Remembering who an API key or a session token belongs to, so authentication does not read the
//! database on every request. An entry is used only under the epoch it was read in
//! (`store::changes`): any change that could affect an identity, in this process or another,
//! ends the epoch and with it every entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::changes::Epoch;
use crate::store::keys::KeyAuth;
use crate::store::sessions::SessionAuth;

/// Entries kept at most; past that the cache starts over (cheap, and rare).
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone)]
enum Identity {
    Key(Arc<KeyAuth>),
    Session(Arc<SessionAuth>),
}

#[derive(Debug, Default)]
pub struct IdentityCache {
    entries: RwLock<HashMap<[u8; 32], (Epoch, Identity)>>,
    /// Lookups answered from the cache, and the others (for the metrics).
    hits: AtomicU64,
    misses: AtomicU64,
}

impl IdentityCache {
    /// The key with this hash, if it was cached under `epoch` (none without an epoch).
    pub fn key(&self, hash: &[u8; 32], epoch: Option<Epoch>) -> Option<Arc<KeyAuth>> {
        let found = match self.get(hash, epoch) {
            Some(Identity::Key(k)) => Some(k),
            _ => None,
        };
        self.count(found.is_some());
        found
    }

    /// The session with this token hash, if it was cached under `epoch` (none without an epoch).
    pub fn session(&self, hash: &[u8; 32], epoch: Option<Epoch>) -> Option<Arc<SessionAuth>> {
        let found = match self.get(hash, epoch) {
            Some(Identity::Session(s)) => Some(s),
            _ => None,
        };
        self.count(found.is_some());
        found
    }

    /// (lookups answered from the cache, lookups that were not).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers a key read from the database under `epoch` (taken before the read).
    pub fn put_key(&self, hash: [u8; 32], epoch: Epoch, key: &Arc<KeyAuth>) {
        self.put(hash, epoch, Identity::Key(key.clone()));
    }

    /// Remembers a session read from the database under `epoch` (taken before the read).
    pub fn put_session(&self, hash: [u8; 32], epoch: Epoch, session: &Arc<SessionAuth>) {
        self.put(hash, epoch, Identity::Session(session.clone()));
    }

    /// Drops one entry (its row changed in a way the epoch does not track, e.g. a key's last use).
    pub fn forget(&self, hash: &[u8; 32]) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }

    fn get(&self, hash: &[u8; 32], epoch: Option<Epoch>) -> Option<Identity> {
        let epoch = epoch?;
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        match entries.get(hash) {
            Some((cached, identity)) if *cached == epoch => Some(identity.clone()),
            _ => None,
        }
    }

    fn put(&self, hash: [u8; 32], epoch: Epoch, identity: Identity) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (epoch, identity));
    }
}
