//! The open event streams (and MCP feedback waits), counted against their caps so that idle
//! streams cannot take the server's connections: at most `MAX_STREAMS` at once (a quarter of the
//! connection cap), `MAX_STREAMS_PER_USER` per account and `MAX_STREAMS_PER_KEY` per API key (so
//! one runaway client cannot lock its account's other agents out), beyond which the answer is a
//! fast 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::http::error::ApiError;

/// Open event streams at most, server-wide (the server holds 4,096 connections).
pub const MAX_STREAMS: usize = 1024;
/// Open event streams at most per account (tabs, agents waiting for feedback).
pub const MAX_STREAMS_PER_USER: usize = 16;
/// Open event streams at most per API key: half the account's.
pub const MAX_STREAMS_PER_KEY: usize = MAX_STREAMS_PER_USER / 2;

/// Counts open streams against the caps.
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    all: usize,
    per_user: HashMap<i64, usize>,
    per_key: HashMap<i64, usize>,
}

/// One open stream's place; given back when dropped.
pub struct Slot {
    slots: Arc<StreamSlots>,
    user_id: i64,
    key_id: Option<i64>,
}

impl StreamSlots {
    /// Streams (and feedback waits) open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).all
    }

    /// A place for one more stream (or long wait) of this account, through this API key if any; a
    /// 429 saying which cap when full.
    pub fn take(self: &Arc<Self>, user_id: i64, key_id: Option<i64>) -> Result<Slot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let by_key = key_id.map_or(0, |k| open.per_key.get(&k).copied().unwrap_or(0));
        if by_key >= MAX_STREAMS_PER_KEY {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "this API key already has {by_key} open event streams and feedback waits; the limit is {MAX_STREAMS_PER_KEY} per key ({MAX_STREAMS_PER_USER} per account): close one, or poll the comments instead"
                ),
                retry_after_secs: 30,
            });
        }
        let mine = open.per_user.get(&user_id).copied().unwrap_or(0);
        if mine >= MAX_STREAMS_PER_USER {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "this account already has {mine} open event streams and feedback waits; the limit is {MAX_STREAMS_PER_USER}: close one, or poll the comments instead"
                ),
                retry_after_secs: 30,
            });
        }
        if open.all >= MAX_STREAMS {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "the server has {MAX_STREAMS} open event streams and feedback waits, its limit; try again later or poll the comments instead"
                ),
                retry_after_secs: 30,
            });
        }
        open.all += 1;
        *open.per_user.entry(user_id).or_default() += 1;
        if let Some(k) = key_id {
            *open.per_key.entry(k).or_default() += 1;
        }
        Ok(Slot {
            slots: self.clone(),
            user_id,
            key_id,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        open.all = open.all.saturating_sub(1);
        release(&mut open.per_user, self.user_id);
        if let Some(k) = self.key_id {
            release(&mut open.per_key, k);
        }
    }
}

/// One place fewer under `id`, forgetting it at none.
fn release(counts: &mut HashMap<i64, usize>, id: i64) {
    if let Some(n) = counts.get_mut(&id) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(&id);
        }
    }
}
